// SPDX-License-Identifier: GPL-2.0

//! Inodes: reading them from the inode table.

use kernel::{prelude::*, types::ARef};

use crate::{
    format,
    kfs::{self, sb_err, DirOps, Inode, InodeParams, Lookup, SuperBlock, Timestamp},
    Rsfs,
};

/// `S_IFMT`, `S_IFDIR`: the file-type bits of a mode, as in `stat(2)`.
const S_IFMT: u16 = 0o170000;
const S_IFDIR: u16 = 0o040000;

fn timestamp(sec: u64, nsec: u32) -> Timestamp {
    Timestamp {
        sec: sec as i64,
        nsec: nsec.min(999_999_999),
    }
}

/// Returns inode `ino`, from the inode cache or read from disk.
pub(crate) fn iget(sb: &SuperBlock<Rsfs>, ino: u64) -> Result<ARef<Inode<Rsfs>>> {
    let new = match sb.iget(ino)? {
        Lookup::Cached(inode) => return Ok(inode),
        Lookup::New(new) => new,
    };
    let geo = &sb.info().geo;
    if ino == 0 || ino > geo.inodes_count {
        sb_err!(sb, "inode {} out of range", ino);
        return Err(kfs::efscorrupted());
    }
    let (block, offset) = geo.inode_location(new.ino());
    let bh = sb.bread(block)?;
    let raw = &bh.data()[offset..offset + format::INODE_SIZE];
    if !format::csum_ok(raw, kfs::crc32c) {
        sb_err!(sb, "inode {}: checksum mismatch", ino);
        return Err(kfs::efscorrupted());
    }
    let d = format::Inode::decode(raw);
    let mode = d.mode.get();
    if d.links.get() == 0 {
        sb_err!(sb, "inode {}: in use but has no links", ino);
        return Err(kfs::efscorrupted());
    }
    // Only directories exist until the namespace operations land.
    if mode & S_IFMT != S_IFDIR {
        sb_err!(
            sb,
            "inode {}: unsupported file type {:o}",
            ino,
            mode & S_IFMT
        );
        return Err(kfs::efscorrupted());
    }
    new.init(InodeParams {
        mode,
        nlink: d.links.get().into(),
        uid: d.uid.get(),
        gid: d.gid.get(),
        size: d.size.get().min(format::MAX_FILE_SIZE) as i64,
        sectors: d
            .blocks
            .get()
            .saturating_mul((format::BLOCK_SIZE / 512) as u64),
        atime: timestamp(d.atime.get(), d.atime_nsec.get()),
        mtime: timestamp(d.mtime.get(), d.mtime_nsec.get()),
        ctime: timestamp(d.ctime.get(), d.ctime_nsec.get()),
        dir_ops: DirOps::Libfs,
    })
}

/// The root directory.
pub(crate) fn root(sb: &SuperBlock<Rsfs>) -> Result<ARef<Inode<Rsfs>>> {
    iget(sb, format::ROOT_INO)
}
