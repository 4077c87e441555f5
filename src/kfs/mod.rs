// SPDX-License-Identifier: GPL-2.0

//! The safe abstraction layer between rsfs and the kernel's C API.
//!
//! Every `unsafe` block of rsfs lives in this module. Each type here wraps
//! one kernel object and states, under `# Invariants`, what it guarantees
//! about the object it points to; the filesystem logic outside this module
//! is written against these types only and contains no `unsafe`.
//!
//! The modules, from the top of the layers down (each uses only modules
//! below it; `scripts/kfs_layers.py` checks this):
//! - [`debugfs`]: [`Counters`], per-mount statistics.
//! - [`registration`]: [`Registration`] of a `file_system_type`.
//! - `mount`: mounting and unmounting (`fs_context_operations`,
//!   `fill_super`, `kill_sb`).
//! - [`file`]: the file operations trait and table, and `Opening`.
//! - [`address_space`], [`inode_ops`], [`iomap`], [`vm`]: the operations
//!   traits and tables of the page cache, of inodes, of direct I/O block
//!   mapping, and of shared file mappings (with `Mmap` and `Fault`).
//! - [`export`]: the `export_operations` table (file handles).
//! - [`xattr`]: extended attributes: the `xattr_handler`s, `listxattr`,
//!   and the trampolines of POSIX ACLs.
//! - [`acl`]: POSIX ACLs as stored bytes, and a new inode's ACLs.
//! - [`io`]: [`File`], the I/O requests and the VFS's generic I/O helpers.
//! - [`new_inode`]: inodes being made: `NewInode`, [`Owner`], [`Created`],
//!   [`InodeOps`] (the tables the filesystem picks for an inode).
//! - [`dir`]: [`RenameFlags`], [`RenameTarget`], [`DirEmitter`].
//! - [`copies`]: [`BlockCopy`], a block's bytes in a page of their own,
//!   written by [`write_copies`] or, without waiting, [`InFlight`].
//! - [`bio`]: [`BioBuilder`], block I/O of consecutive blocks.
//! - [`fs_type`]: [`FileSystem`], the trait of the superblock's operations,
//!   and their table.
//! - [`lock`]: an inode's locks, [`Locked`] (the token of the changes that
//!   need the inode lock) and [`Evicting`].
//! - [`writeback`]: [`WritebackControl`], [`AddressSpace`], [`FolioBatch`].
//! - [`inode`]: [`Inode`], a VFS inode with the filesystem's own data
//!   beside it, and [`InodeRef`], a counted reference to one.
//! - [`super_block`]: [`SuperBlock`], a mounted (or mounting) filesystem.
//! - [`attrs`], [`buffer`], [`folio`], `ops`, [`task`]: an inode's
//!   [`FileType`], [`Attrs`] and [`InodeParams`]; [`BufferHead`], a
//!   metadata block; [`LockedFolio`]; `Ops`, the type of every built
//!   table; the current task's `journal_info`.
//! - [`fs_data`]: [`FsData`], what a filesystem keeps beside the kernel's
//!   objects, all that the object types need of it.

use kernel::error::Error;

pub(crate) mod acl;
pub(crate) mod address_space;
pub(crate) mod attrs;
pub(crate) mod bio;
pub(crate) mod buffer;
pub(crate) mod copies;
pub(crate) mod debugfs;
pub(crate) mod dir;
pub(crate) mod export;
pub(crate) mod file;
pub(crate) mod folio;
pub(crate) mod fs_data;
pub(crate) mod fs_type;
pub(crate) mod inode;
pub(crate) mod inode_ops;
pub(crate) mod io;
pub(crate) mod ioctl;
pub(crate) mod iomap;
pub(crate) mod lock;
mod mount;
pub(crate) mod new_inode;
mod ops;
pub(crate) mod registration;
pub(crate) mod super_block;
mod sys;
pub(crate) mod task;
pub(crate) mod vm;
pub(crate) mod writeback;
pub(crate) mod xattr;

pub(crate) use address_space::WritePage;
pub(crate) use attrs::{Attrs, FileType, InodeParams, Timestamp};
pub(crate) use bio::BioBuilder;
pub(crate) use buffer::BufferHead;
pub(crate) use copies::{write_copies, BlockCopy, InFlight, WriteMode};
pub(crate) use debugfs::Counters;
pub(crate) use dir::{DirEmitter, RenameFlags, RenameTarget};

pub(crate) use folio::LockedFolio;
pub(crate) use fs_data::FsData;
pub(crate) use fs_type::FileSystem;
pub(crate) use inode::{Inode, InodeRef};
pub(crate) use io::{Fallocate, Fiemap, File};
pub(crate) use lock::{Evicting, Locked};
pub(crate) use new_inode::{Created, InodeOps, Lookup, Owner};
pub(crate) use registration::{FsTypeStorage, Registration};
pub(crate) use super_block::{New, ReadError, StatFs, SuperBlock};
pub(crate) use writeback::{
    cond_resched, with_plug, AddressSpace, ErrSeq, FolioBatch, Readahead, Tag, WritebackControl,
};

/// Standard CRC-32C of `data` (initial value and final XOR all ones), the
/// checksum the on-disk format uses. The kernel's `crc32c()` leaves both
/// inversions to the caller.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    // Callers checksum blocks and structures, far below 4 GiB.
    let len = data.len() as u32;
    // SAFETY: `data` is a valid slice for the duration of the call, and
    // `crc32c` only reads `len` bytes from its start.
    !unsafe { sys::crc32c(!0, data.as_ptr().cast(), len) }
}

/// How the standard CRC-32C of a `len`-byte block changes when its byte at
/// `index` is XORed with `delta`: CRC-32C is linear, so the new checksum is
/// the old one XOR this, computed in O(log len) instead of over the block.
pub(crate) fn crc32c_delta(len: usize, index: usize, delta: u8) -> u32 {
    // SAFETY: `delta` is one valid byte for the duration of the call.
    let c = unsafe { sys::crc32c(0, (&delta as *const u8).cast(), 1) };
    // SAFETY: A pure function of its arguments.
    unsafe { sys::__crc32c_le_shift(c, len - index - 1) }
}

/// `EFSCORRUPTED` (`EUCLEAN`): the filesystem's metadata is damaged.
/// `kernel::error::code` in 6.12 does not declare it.
pub(crate) fn efscorrupted() -> Error {
    Error::from_errno(-(sys::EUCLEAN as i32))
}

/// `ENODATA`: no such extended attribute. `kernel::error::code` in 6.12
/// does not declare it.
pub(crate) fn enodata() -> Error {
    Error::from_errno(-(sys::ENODATA as i32))
}

/// `EOPNOTSUPP`: the operation is not supported (by the filesystem or its
/// device). `kernel::error::code` in 6.12 does not declare it.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(sys::EOPNOTSUPP as i32))
}

/// The `chattr(1)` flags, as `FS_IOC_GETFLAGS` gives them (`FS_*_FL`).
pub(crate) mod fs_flags {
    use super::sys;
    /// `chattr +S`: synchronous writes.
    pub(crate) const SYNC: u32 = sys::FS_SYNC_FL;
    /// `chattr +i`: immutable.
    pub(crate) const IMMUTABLE: u32 = sys::FS_IMMUTABLE_FL;
    /// `chattr +a`: append only.
    pub(crate) const APPEND: u32 = sys::FS_APPEND_FL;
    /// `chattr +d`: no dump.
    pub(crate) const NODUMP: u32 = sys::FS_NODUMP_FL;
    /// `chattr +A`: no access-time updates.
    pub(crate) const NOATIME: u32 = sys::FS_NOATIME_FL;
    /// `chattr +D`: synchronous changes to a directory's names.
    pub(crate) const DIRSYNC: u32 = sys::FS_DIRSYNC_FL;
}

/// `ESTALE`: a file handle names a file that no longer exists.
/// `kernel::error::code` in 6.12 does not declare it.
pub(crate) fn estale() -> Error {
    Error::from_errno(-(sys::ESTALE as i32))
}

/// The wall-clock time in seconds since the epoch.
pub(crate) fn now_seconds() -> u64 {
    // SAFETY: Reads the clock; no preconditions.
    unsafe { sys::ktime_get_real_seconds() as u64 }
}

/// `ENXIO`: no such position (`lseek(2)` SEEK_DATA/SEEK_HOLE past the
/// data).
pub(crate) fn enxio() -> Error {
    kernel::error::code::ENXIO
}

/// Whether an error message about on-disk damage may be printed now. The
/// whole module shares one rate limit, so a damaged disk cannot flood the
/// log.
pub(crate) fn err_ratelimit() -> bool {
    // SAFETY: `rsfs_err_ratelimit` only touches its own static state.
    unsafe { sys::rsfs_err_ratelimit() }
}

/// Prints a rate-limited error naming the device of a superblock.
macro_rules! sb_err {
    ($sb:expr, $($arg:tt)*) => {
        if $crate::kfs::err_ratelimit() {
            ::kernel::pr_err!("{}: {}\n", $sb.id(), ::core::format_args!($($arg)*));
        }
    };
}
pub(crate) use sb_err;

/// Shortens `v` to `len` elements (no-op if it is not longer). The kernel's
/// `KVec` in 6.12 has no `truncate`.
pub(crate) fn vec_truncate<T: Copy>(v: &mut kernel::alloc::KVec<T>, len: usize) {
    if len < v.len() {
        // SAFETY: `len` is below the current length, so the first `len`
        // elements are initialised; `T: Copy` has no destructor to run for
        // the elements cut off.
        unsafe { v.set_len(len) };
    }
}

/// Removes and returns the last element of `v`. The kernel's `Vec` in 6.12
/// has no `pop`.
pub(crate) fn vec_pop<T, A: kernel::alloc::Allocator>(
    v: &mut kernel::alloc::Vec<T, A>,
) -> Option<T> {
    let len = v.len().checked_sub(1)?;
    // SAFETY: Element `len` is initialised (it is below the length); the
    // length is lowered first, so the element is read out exactly once and
    // the vector no longer owns it.
    unsafe {
        v.set_len(len);
        Some(core::ptr::read(v.as_ptr().add(len)))
    }
}

/// A scope in which the current task's memory allocations do not recurse
/// into filesystem reclaim (`memalloc_nofs_save`): taken around work that
/// allocates while holding locks that writeback also takes, so that reclaim
/// cannot wait on writeback that waits on us.
///
/// # Invariants
///
/// `flags` is what `memalloc_nofs_save` returned on this task; the scope is
/// not sent to another task (`NoFs` is not `Send`).
pub(crate) struct NoFs {
    flags: u32,
    _task_bound: core::marker::PhantomData<*mut ()>,
}

impl NoFs {
    /// Enters the scope; it ends when the value is dropped.
    pub(crate) fn enter() -> Self {
        // SAFETY: `memalloc_nofs_save` only changes the current task's flags.
        let flags = unsafe { sys::rsfs_memalloc_nofs_save() };
        // INVARIANT: Saved on this task just now.
        Self {
            flags,
            _task_bound: core::marker::PhantomData,
        }
    }
}

impl Drop for NoFs {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `flags` came from
        // `memalloc_nofs_save` on this same task.
        unsafe { sys::rsfs_memalloc_nofs_restore(self.flags) };
    }
}
