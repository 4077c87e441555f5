// SPDX-License-Identifier: GPL-2.0

//! What the fsck tests share: a fresh image made by mkfs.rsfs, read and
//! written block by block.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use rsfs_format::*;

/// Standard crc32c, as the format's checksums use it.
pub fn crc(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}

/// An image file made by mkfs.rsfs, removed when dropped.
pub struct Img {
    pub path: PathBuf,
    pub file: File,
    pub geo: Geometry,
}

impl Img {
    /// A fresh 8 MiB filesystem.
    pub fn new(name: &str) -> Img {
        let dir = std::env::temp_dir().join(format!("fsck-rsfs-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("img");
        File::create(&path).unwrap().set_len(8 << 20).unwrap();
        mkfs_rsfs::mkfs(
            &path,
            &mkfs_rsfs::Options {
                quiet: true,
                ..Default::default()
            },
        )
        .unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut sb = vec![0u8; BLOCK_SIZE];
        file.read_exact_at(&mut sb, 0).unwrap();
        let geo = Geometry::from_superblock(&Superblock::decode(&sb), 2048).unwrap();
        Img { path, file, geo }
    }

    /// Block `n`.
    pub fn read(&self, n: u64) -> Vec<u8> {
        let mut b = vec![0u8; BLOCK_SIZE];
        self.file
            .read_exact_at(&mut b, n * BLOCK_SIZE as u64)
            .unwrap();
        b
    }

    /// Overwrites block `n`.
    pub fn write(&self, n: u64, b: &[u8]) {
        self.file.write_all_at(b, n * BLOCK_SIZE as u64).unwrap();
    }
}

impl Drop for Img {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.path.parent().unwrap());
    }
}
