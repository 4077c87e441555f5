// SPDX-License-Identifier: GPL-2.0

//! The superblock: is this rsfs, and is its layout sound.

use anyhow::Result;
use rsfs_format::{Geometry, Superblock, SUPERBLOCK_BLOCK};

use crate::image::{crc, Image};

/// Reads and checks the superblock. `Err` with a message means the
/// filesystem cannot be checked further.
pub fn read(img: &Image) -> Result<std::result::Result<(Superblock, Geometry), String>> {
    let block = img.read(SUPERBLOCK_BLOCK)?;
    let sb = match Superblock::validate(&block, crc) {
        Ok(sb) => sb,
        Err(e) => return Ok(Err(format!("superblock: {}", e.as_str()))),
    };
    match Geometry::from_superblock(&sb, img.device_blocks) {
        Ok(g) if sb.root_ino.get() == rsfs_format::ROOT_INO => Ok(Ok((sb, g))),
        Ok(_) => Ok(Err(format!(
            "superblock: root inode is {}",
            sb.root_ino.get()
        ))),
        Err(e) => Ok(Err(format!("superblock: {}", e.as_str()))),
    }
}

/// Writes the superblock with new free counters.
pub fn write_counters(img: &Image, free_blocks: u64, free_inodes: u64) -> Result<()> {
    let mut block = img.read(SUPERBLOCK_BLOCK)?;
    let mut sb = Superblock::decode(&block);
    sb.free_blocks = free_blocks.into();
    sb.free_inodes = free_inodes.into();
    sb.encode(&mut block);
    rsfs_format::csum_set(&mut block[..Superblock::SIZE], crc);
    img.write(SUPERBLOCK_BLOCK, &block)
}
