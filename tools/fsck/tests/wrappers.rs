// SPDX-License-Identifier: GPL-2.0

//! The tools as a user runs them: through util-linux's `mkfs -t rsfs` and
//! `fsck -t rsfs`, which look for `mkfs.rsfs` and `fsck.rsfs` on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tool_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rsfs-wrappers-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Cargo builds both binaries for this test; give them their real names.
    let mkfs = PathBuf::from(env!("CARGO_BIN_EXE_fsck-rsfs"))
        .parent()
        .unwrap()
        .join("mkfs-rsfs");
    for (src, dst) in [
        (mkfs, "mkfs.rsfs"),
        (PathBuf::from(env!("CARGO_BIN_EXE_fsck-rsfs")), "fsck.rsfs"),
    ] {
        let _ = std::fs::remove_file(dir.join(dst));
        std::os::unix::fs::symlink(src, dir.join(dst)).unwrap();
    }
    dir
}

fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn have(cmd: &str) -> bool {
    ["/sbin", "/usr/sbin", "/bin", "/usr/bin"]
        .iter()
        .any(|d| Path::new(d).join(cmd).exists())
}

#[test]
fn util_linux_mkfs_and_fsck_find_the_tools() {
    assert!(
        have("mkfs") && have("fsck"),
        "util-linux mkfs and fsck are needed"
    );
    let dir = tool_dir("wrap");
    let img = dir.join("img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    // mkfs.rsfs is a build product of the mkfs crate; build it if needed.
    let st = Command::new("cargo")
        .args(["build", "--quiet", "-p", "mkfs-rsfs"])
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new("mkfs")
        .args(["-t", "rsfs", "-L", "wrapped"])
        .arg(&img)
        .env("PATH", path_with(&dir))
        .status()
        .unwrap();
    assert!(st.success(), "mkfs -t rsfs failed");
    let out = Command::new("fsck")
        .args(["-t", "rsfs", "-n"])
        .arg(&img)
        .env("PATH", path_with(&dir))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("clean"));
    std::fs::remove_dir_all(&dir).unwrap();
}
