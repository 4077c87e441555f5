// SPDX-License-Identifier: GPL-2.0

//! The inode table.

use anyhow::Result;
use rsfs_format::{csum_ok, csum_set, Geometry, Inode, INODE_SIZE};

use crate::image::{crc, Image};

/// One slot of the inode table.
pub struct Slot {
    /// The decoded inode.
    pub disk: Inode,
    /// Whether its checksum is right.
    pub csum_ok: bool,
    /// Whether the slot is blank: all zero (never used, or released by
    /// fsck), or the zero inode with its checksum (released by the kernel).
    pub zero: bool,
}

/// Blocks of the inode table read in one request (1 MiB).
const READ_RUN_BLOCKS: u64 = 256;

/// Reads every slot; index `i` is inode `i` (slot 0 is never used).
pub fn read_all(img: &Image, geo: &Geometry) -> Result<Vec<Slot>> {
    let mut slots = Vec::with_capacity((geo.inodes_count + 1) as usize);
    let mut released = [0u8; INODE_SIZE];
    csum_set(&mut released, crc);
    let mut b = 0;
    while b < geo.inode_table_blocks {
        let count = (geo.inode_table_blocks - b).min(READ_RUN_BLOCKS);
        let run = img.read_run(geo.inode_table_start + b, count)?;
        for raw in run.chunks_exact(INODE_SIZE) {
            // Most slots of a young filesystem are blank; their checksum
            // (of all zeroes) can never match, so it is not computed.
            let blank = raw.iter().all(|&x| x == 0);
            slots.push(Slot {
                disk: if blank {
                    Inode::default()
                } else {
                    Inode::decode(raw)
                },
                csum_ok: !blank && csum_ok(raw, crc),
                zero: blank || raw == released,
            });
        }
        b += count;
    }
    Ok(slots)
}

/// Writes inode `ino` (with a fresh checksum), or zeroes its slot.
pub fn write(img: &Image, geo: &Geometry, ino: u64, inode: Option<&Inode>) -> Result<()> {
    let (block, off) = geo.inode_location(ino);
    let mut b = img.read(block)?;
    let slot = &mut b[off..off + INODE_SIZE];
    slot.fill(0);
    if let Some(inode) = inode {
        inode.encode(slot);
        csum_set(slot, crc);
    }
    img.write(block, &b)
}

/// The file type bits of a mode.
pub fn file_type(mode: u16) -> u16 {
    mode & 0o170000
}

/// `S_IFDIR`, `S_IFREG`, `S_IFLNK`.
pub const S_IFDIR: u16 = 0o040000;
/// Regular file.
pub const S_IFREG: u16 = 0o100000;
/// Symbolic link.
pub const S_IFLNK: u16 = 0o120000;
/// Character device.
pub const S_IFCHR: u16 = 0o020000;
/// Block device.
pub const S_IFBLK: u16 = 0o060000;
/// Named pipe.
pub const S_IFIFO: u16 = 0o010000;
/// Unix domain socket.
pub const S_IFSOCK: u16 = 0o140000;

/// The `FT_*` value that a directory entry naming a file of type `ft` (the
/// `S_IFMT` bits of its mode) carries, or `None` if rsfs has no such type.
pub fn dirent_type(ft: u16) -> Option<u8> {
    use rsfs_format::{FT_BLKDEV, FT_CHRDEV, FT_DIR, FT_FIFO, FT_REG, FT_SOCK, FT_SYMLINK};
    Some(match ft {
        S_IFREG => FT_REG,
        S_IFDIR => FT_DIR,
        S_IFLNK => FT_SYMLINK,
        S_IFCHR => FT_CHRDEV,
        S_IFBLK => FT_BLKDEV,
        S_IFIFO => FT_FIFO,
        S_IFSOCK => FT_SOCK,
        _ => return None,
    })
}

/// Whether `ft` is a device, pipe or socket: a file with nothing on the
/// disk but its inode.
pub fn is_special(ft: u16) -> bool {
    matches!(ft, S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK)
}
