// SPDX-License-Identifier: GPL-2.0

//! Mounting: reading and checking the on-disk superblock, and `statfs`.

use kernel::prelude::*;

use crate::{
    format::{self, FormatError, Geometry, Superblock},
    kfs::{self, sb_err, New, StatFs, SuperBlock},
    Rsfs,
};

/// The state of one mounted rsfs filesystem.
pub(crate) struct Info {
    /// Where each region of the disk lives.
    pub(crate) geo: Geometry,
    /// The on-disk superblock as read at mount time.
    pub(crate) disk: Superblock,
}

/// The errno for a superblock the format rejects: EINVAL for a disk that is
/// not rsfs or not one this module supports, EUCLEAN (EFSCORRUPTED) for a damaged one.
fn errno(e: FormatError) -> Error {
    match e {
        FormatError::BadMagic
        | FormatError::BadVersion
        | FormatError::UnknownFeature
        | FormatError::BadBlockSize => EINVAL,
        _ => kfs::efscorrupted(),
    }
}

/// Reads and checks the superblock of a filesystem being mounted.
pub(crate) fn fill_super(sb: &SuperBlock<Rsfs, New>) -> Result<Info> {
    sb.set_block_size(format::BLOCK_SIZE as u32)
        .inspect_err(|_| {
            sb_err!(
                sb,
                "device does not support {}-byte blocks",
                format::BLOCK_SIZE
            )
        })?;
    let bh = sb
        .bread(format::SUPERBLOCK_BLOCK)
        .inspect_err(|_| sb_err!(sb, "cannot read the superblock"))?;
    let disk = Superblock::validate(bh.data(), kfs::crc32c).map_err(|e| {
        sb_err!(sb, "superblock: {}", e.as_str());
        errno(e)
    })?;
    let device_blocks = sb.device_bytes() >> format::BLOCK_SHIFT;
    let geo = Geometry::from_superblock(&disk, device_blocks).map_err(|e| {
        sb_err!(
            sb,
            "superblock: {} ({} blocks, {} inodes, device has {} blocks)",
            e.as_str(),
            disk.blocks_count.get(),
            disk.inodes_count.get(),
            device_blocks
        );
        errno(e)
    })?;
    if disk.root_ino.get() != format::ROOT_INO {
        sb_err!(sb, "superblock: root inode is {}", disk.root_ino.get());
        return Err(kfs::efscorrupted());
    }
    sb.set_magic(format::MAGIC.into());
    sb.set_max_bytes(format::MAX_FILE_SIZE as i64);
    Ok(Info { geo, disk })
}

/// What `statfs(2)` reports: the counters of the superblock.
pub(crate) fn statfs(sb: &SuperBlock<Rsfs>) -> StatFs {
    let info = sb.info();
    let uuid = info.disk.uuid;
    StatFs {
        block_size: format::BLOCK_SIZE as u32,
        blocks: info.geo.blocks_count,
        free_blocks: info.disk.free_blocks.get(),
        inodes: info.geo.inodes_count,
        free_inodes: info.disk.free_inodes.get(),
        name_max: format::NAME_MAX as u32,
        fsid: [
            i32::from_le_bytes([uuid[0], uuid[1], uuid[2], uuid[3]]),
            i32::from_le_bytes([uuid[4], uuid[5], uuid[6], uuid[7]]),
        ],
    }
}
