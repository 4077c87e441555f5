// SPDX-License-Identifier: GPL-2.0

//! The question mkfs.rsfs asks before it overwrites a filesystem goes where
//! mke2fs's goes, to standard output, so that a caller who keeps only the
//! errors (fstests: `_scratch_mkfs >> $seqres.full`, leaving stderr in the
//! test's output) sees none on success.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mkfs-prompt");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(16 << 20).unwrap();
    path
}

/// Runs mkfs.rsfs on `image` with `answer` on standard input.
fn mkfs(image: &PathBuf, answer: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mkfs-rsfs"))
        .arg(image)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_question_and_a_yes_leave_stderr_empty() {
    let image = scratch("yes.img");
    assert!(mkfs(&image, "").status.success(), "first mkfs");
    let out = mkfs(&image, "y\n");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("contains an rsfs filesystem. Proceed anyway? (y,N)"),
        "stdout: {stdout}"
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_no_keeps_the_filesystem_and_says_so_on_stderr() {
    let image = scratch("no.img");
    assert!(mkfs(&image, "").status.success(), "first mkfs");
    let out = mkfs(&image, "n\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("left as it was"));
}
