// SPDX-License-Identifier: GPL-2.0

//! iomap operations: how a file's blocks are mapped for the kernel's
//! iomap direct I/O (`struct iomap_ops`, fs/iomap/direct-io.c).
//!
//! A filesystem implements [`Operations`] for a type of its own and calls
//! [`direct_io`] with it from its `address_space_operations::direct_IO`.
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h).

use core::marker::PhantomData;
use kernel::prelude::*;

use super::{
    io::{IovIter, Kiocb},
    sys, FsData, Inode,
};

/// The mapping of file blocks that [`Operations::map_blocks`] reports.
pub(crate) enum BlockMapping {
    /// `len` blocks from disk block `block`; `new` if just allocated (the
    /// parts of them a write does not cover are zeroed).
    Mapped {
        /// First disk block.
        block: u64,
        /// Blocks.
        len: u64,
        /// Newly allocated.
        new: bool,
    },
    /// A hole of `len` blocks (reads as zeroes).
    Hole {
        /// Blocks.
        len: u64,
    },
    /// Do not do this directly: [`direct_io`] stops here with ENOTBLK, and
    /// what it did not do can be done with buffered I/O.
    Fallback,
}

/// How a filesystem maps its files' blocks for iomap.
#[vtable]
pub(crate) trait Operations {
    /// The filesystem whose files these are.
    type FileSystem: FsData;

    /// Maps up to `max` file blocks from `lblk`; `write` says the caller
    /// will write them (a hole may then be allocated).
    /// Required: iomap calls it for every range.
    fn map_blocks(
        inode: &Inode<Self::FileSystem>,
        lblk: u64,
        max: u64,
        write: bool,
    ) -> Result<BlockMapping>;
}

/// An `iomap_ops` table for the files of filesystem `T`.
pub(crate) type Ops<T> = super::ops::Ops<sys::iomap_ops, T>;

impl<T: FsData> Ops<T> {
    /// The table of `U`'s operations.
    pub(crate) const fn new<U: Operations<FileSystem = T>>() -> Self {
        // SAFETY: `Table::<U>::TABLE` is a promoted constant whose callbacks
        // expect the objects of `U::FileSystem`, which is `T`.
        unsafe { Self::from_table(&Table::<U>::TABLE) }
    }
}

/// Direct I/O of `iter` at the position of `iocb` through the kernel's
/// iomap (`iomap_dio_rw`), with the block mapping of `ops`. Returns the
/// bytes moved; ENOTBLK if [`BlockMapping::Fallback`] stopped it before any
/// byte moved.
///
/// The callers of `->direct_IO` (`generic_file_direct_write`,
/// `generic_file_read_iter`) advance `ki_pos` by what it returns, and
/// extend `i_size` from there, while `iomap_dio_rw` has already advanced it
/// itself: the position is put back, or an extending write would set the
/// size to twice its length past the start. The I/O is waited for even
/// when the request is asynchronous (`IOMAP_DIO_FORCE_WAIT`), since only
/// the caller updates `i_size`.
///
/// It does not sync an O_SYNC or O_DSYNC write: the caller's `write_iter`
/// must (`generic_write_sync`), once it has dropped its locks. Since the
/// I/O is waited for, `iomap_dio_rw` would otherwise sync before it
/// returns, inside `->direct_IO`: under the inode lock, and under any
/// hold the filesystem keeps over the write (rsfs's transaction handle,
/// which a sync waits for).
pub(crate) fn direct_io<T: FsData>(
    ops: Ops<T>,
    iocb: &mut Kiocb<'_, T>,
    iter: &mut IovIter<'_>,
) -> Result<usize> {
    // SAFETY: `iocb` is valid and ours for the call (type invariant): its
    // flags are hidden from `iomap_dio_rw` and put back below.
    let sync = unsafe {
        let sync = (*iocb.as_raw()).ki_flags & sys::RSFS_IOCB_SYNC_FLAGS;
        (*iocb.as_raw()).ki_flags &= !sync;
        sync
    };
    // SAFETY: `iocb` and `iter` are valid and ours for the call (type
    // invariants); `ops` is a static table for the files of `T`, and the
    // file of `iocb` is one of them (type invariant of `Kiocb`).
    let ret = unsafe {
        sys::iomap_dio_rw(
            iocb.as_raw(),
            iter.as_raw(),
            ops.as_raw(),
            core::ptr::null(),
            sys::RSFS_IOMAP_DIO_FORCE_WAIT,
            core::ptr::null_mut(),
            0,
        )
    };
    // SAFETY: As above; the I/O is done (`IOMAP_DIO_FORCE_WAIT`), and
    // nothing reads the flags any more until the caller syncs.
    unsafe { (*iocb.as_raw()).ki_flags |= sync };
    if ret < 0 {
        return Err(Error::from_errno(ret as i32));
    }
    // SAFETY: `iocb` is valid and ours (type invariant); see above for why
    // the position goes back.
    unsafe { (*iocb.as_raw()).ki_pos -= ret as sys::loff_t };
    Ok(ret as usize)
}

/// The C table of an [`Operations`] implementation, and its trampolines.
struct Table<U>(PhantomData<U>);

impl<U: Operations> Table<U> {
    const TABLE: sys::iomap_ops = sys::iomap_ops {
        iomap_begin: Some(Self::iomap_begin),
        iomap_end: None,
    };

    /// `iomap_begin`: describes the mapping at byte `pos`.
    ///
    /// # Safety
    ///
    /// Called by iomap with a live inode of `U::FileSystem` and an `iomap`
    /// that is ours to fill.
    unsafe extern "C" fn iomap_begin(
        inode: *mut sys::inode,
        pos: sys::loff_t,
        length: sys::loff_t,
        flags: kernel::ffi::c_uint,
        iomap: *mut sys::iomap,
        _srcmap: *mut sys::iomap,
    ) -> kernel::ffi::c_int {
        // SAFETY: A live inode of ours, as the caller guarantees.
        let i = unsafe { Inode::<U::FileSystem>::from_raw(inode) };
        let bs = 1u64 << i.super_block().block_shift();
        let lblk = pos as u64 / bs;
        let max = (pos as u64 + length as u64).div_ceil(bs) - lblk;
        let write = flags & sys::RSFS_IOMAP_WRITE != 0;
        let (kind, addr, len, new) = match U::map_blocks(i, lblk, max, write) {
            Ok(BlockMapping::Mapped { block, len, new }) => {
                (sys::RSFS_IOMAP_MAPPED, block * bs, len, new)
            }
            Ok(BlockMapping::Hole { len }) => {
                (sys::RSFS_IOMAP_HOLE, sys::RSFS_IOMAP_NULL_ADDR, len, false)
            }
            Ok(BlockMapping::Fallback) => return ENOTBLK.to_errno(),
            Err(e) => return e.to_errno(),
        };
        // SAFETY: `iomap` is ours to fill, and `inode` live, as the caller
        // guarantees.
        unsafe {
            (*iomap).type_ = kind;
            (*iomap).flags = if new { sys::RSFS_IOMAP_F_NEW } else { 0 };
            (*iomap).addr = addr;
            (*iomap).offset = (lblk * bs) as i64;
            (*iomap).length = len * bs;
            (*iomap).bdev = sys::rsfs_sb_bdev((*inode).i_sb);
        }
        0
    }
}
