// SPDX-License-Identifier: GPL-2.0

//! rsfs: a block-device filesystem whose regular-file data goes through the
//! kernel's page cache and is written back by rsfs's own Rust code.
//!
//! The crate has two layers. [`kfs`] wraps the kernel's C API in safe types
//! and holds every `unsafe` block of the module. The rest is the filesystem
//! itself, in safe Rust against `kfs`, one job per file, as in fs/ext2:
//!
//! - [`super_`]: mount, the superblock, `statfs`, `sync_fs`, unmount;
//! - [`inode`]: reading, writing and evicting inodes, truncate, symlinks;
//! - [`namei`]: the namespace operations;
//! - [`dir`]: directory blocks and `readdir`;
//! - [`dir_index`]: the in-memory index of a large directory's names;
//! - [`map`]: a file's block map (extents);
//! - [`file`]: regular files: their page cache (`address_space_operations`),
//!   shared mappings, direct I/O, fsync, fallocate;
//! - [`writeback`]: rsfs's own `write_cache_pages`, and `writepage`;
//! - [`alloc`]: the block and inode bitmaps;
//! - [`ioctl`]: the filesystem's own `ioctl(2)` commands (`FITRIM`);
//! - [`shutdown`]: `FS_IOC_SHUTDOWN`: the disk is left as a power cut
//!   would leave it, and every call that would change it fails;
//! - [`txn`]: handles and syncs: a sync never writes half an operation;
//! - [`xattr`]: extended attributes, in a block of each inode's own;
//! - [`format`]: the on-disk format, shared with the userspace tools.

use kernel::prelude::*;

mod alloc;
mod dir;
mod dir_index;
mod file;
#[allow(dead_code, unreachable_pub)]
mod format;
mod inode;
mod ioctl;
mod journal;
mod kfs;
mod map;
mod namei;
mod orphan;
mod shutdown;
#[path = "super.rs"]
mod super_;
mod txn;
mod writeback;
mod xattr;

module! {
    type: RsfsModule,
    name: "rsfs",
    author: "The rsfs developers",
    description: "rsfs: a block-device filesystem with a Rust page-cache data path",
    license: "GPL",
}

/// The filesystem type's static storage (see [`kfs::FsTypeStorage`]).
static FS_TYPE: kfs::FsTypeStorage = kfs::FsTypeStorage::new();

/// The loaded module: rsfs is registered for as long as it lives.
struct RsfsModule {
    _registration: kfs::Registration,
}

impl kernel::Module for RsfsModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let registration = kfs::Registration::new::<Rsfs>(&FS_TYPE, module)?;
        pr_info!(
            "filesystem type {} registered\n",
            <Rsfs as kfs::FileSystem>::NAME
        );
        Ok(Self {
            _registration: registration,
        })
    }
}

/// The rsfs filesystem type. Its operations are implemented where their
/// work is done: [`kfs::FileSystem`] (mount, the superblock) in [`super_`],
/// the inode and file operations of directories in [`namei`] and [`dir`],
/// of regular files (with their page cache, mappings and direct I/O) in
/// [`file`], and of symlinks in [`inode`].
pub(crate) struct Rsfs;
