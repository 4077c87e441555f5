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
//! - [`map`]: a file's block map (extents);
//! - [`file`]: regular files: their page cache (`address_space_operations`),
//!   shared mappings, direct I/O, fsync, fallocate;
//! - [`writeback`]: rsfs's own `write_cache_pages`, and `writepage`;
//! - [`alloc`]: the block and inode bitmaps;
//! - [`txn`]: handles and syncs: a sync never writes half an operation;
//! - [`format`]: the on-disk format, shared with the userspace tools.

use kernel::{c_str, prelude::*};

mod alloc;
mod dir;
mod file;
#[allow(dead_code, unreachable_pub)]
mod format;
mod inode;
mod journal;
mod kfs;
mod map;
mod namei;
mod orphan;
#[path = "super.rs"]
mod super_;
mod txn;
mod writeback;

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

/// The rsfs filesystem type. The page cache, mappings and direct I/O of its
/// regular files are implemented in [`file`] (`address_space`, `vm` and
/// `iomap` operations); each method of the rest hands over to the file that
/// does the work.
pub(crate) struct Rsfs;

#[vtable]
impl kfs::FileSystem for Rsfs {
    const NAME: &'static CStr = c_str!("rsfs");
    type Info = super_::Info;
    type InodeData = inode::InodeInfo;
    const FILE_AOPS: kfs::address_space::Ops<Self> = kfs::address_space::Ops::new::<Self>();
    const FILE_VM_OPS: kfs::vm::Ops<Self> = kfs::vm::Ops::new::<Self>();

    fn fill_super(sb: &kfs::SuperBlock<Self, kfs::New>) -> Result<Pin<KBox<Self::Info>>> {
        super_::fill_super(sb)
    }

    fn root(sb: &kfs::SuperBlock<Self>) -> Result<kfs::InodeRef<Self>> {
        let root = inode::root(sb)?;
        orphan::release_all(sb)?;
        Ok(root)
    }

    fn statfs(sb: &kfs::SuperBlock<Self>) -> Result<kfs::StatFs> {
        Ok(super_::statfs(sb))
    }

    fn write_inode(inode: &kfs::Inode<Self>, sync: bool) -> Result {
        inode::write_inode(inode, sync)
    }

    fn dirty_inode(inode: &kfs::Inode<Self>, datasync: bool) {
        inode::dirty_inode(inode, datasync)
    }

    fn evict_inode(inode: &kfs::Inode<Self>) {
        inode::evict(inode)
    }

    fn sync_fs(sb: &kfs::SuperBlock<Self>, wait: bool) -> Result {
        super_::sync_fs(sb, wait)
    }

    fn put_super(sb: &kfs::SuperBlock<Self>) {
        super_::put_super(sb)
    }

    fn remount(sb: &kfs::SuperBlock<Self>, read_only: bool) -> Result {
        super_::remount(sb, read_only)
    }

    fn inode_for_handle(
        sb: &kfs::SuperBlock<Self>,
        ino: u64,
        generation: u32,
    ) -> Result<kfs::InodeRef<Self>> {
        inode::iget_for_handle(sb, ino, generation)
    }

    fn parent(dir: &kfs::Inode<Self>) -> Result<kfs::InodeRef<Self>> {
        namei::parent(dir)
    }

    fn readdir(dir: &kfs::Inode<Self>, emitter: &mut kfs::DirEmitter) -> Result {
        dir::readdir(dir, emitter)
    }

    fn prepare_write(inode: &kfs::Inode<Self>, pos: u64) -> Result {
        file::prepare_write(inode, pos)
    }

    fn seek_data_hole(inode: &kfs::Inode<Self>, offset: u64, hole: bool) -> Result<u64> {
        file::seek_data_hole(inode, offset, hole)
    }

    fn fallocate(inode: &kfs::Inode<Self>, mode: kfs::Fallocate, offset: u64, len: u64) -> Result {
        file::fallocate(inode, mode, offset, len)
    }

    fn fsync(
        file: &kfs::File,
        inode: &kfs::Inode<Self>,
        start: i64,
        end: i64,
        datasync: bool,
    ) -> Result {
        file::fsync(file, inode, start, end, datasync)
    }
}
