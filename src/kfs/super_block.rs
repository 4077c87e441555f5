// SPDX-License-Identifier: GPL-2.0

//! Superblocks.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use core::marker::PhantomData;
use kernel::{
    prelude::*,
    str::CStr,
    types::{ForeignOwnable, Opaque},
};

use super::{buffer::BufferHead, sys, FsData};

/// Type state of a superblock that is still being filled: its per-mount
/// state (`s_fs_info`) is not set yet.
pub(crate) struct New;
/// Type state of a superblock whose per-mount state is set.
pub(crate) struct Ready;

/// What `statfs(2)` reports.
pub(crate) struct StatFs {
    /// Block size in bytes.
    pub(crate) block_size: u32,
    /// Size of the filesystem in blocks.
    pub(crate) blocks: u64,
    /// Free blocks.
    pub(crate) free_blocks: u64,
    /// Inodes.
    pub(crate) inodes: u64,
    /// Free inodes.
    pub(crate) free_inodes: u64,
    /// Longest file name.
    pub(crate) name_max: u32,
    /// Filesystem id.
    pub(crate) fsid: [i32; 2],
}

/// A superblock of filesystem `T`, in type state `S`.
///
/// # Invariants
///
/// The wrapped `super_block` belongs to filesystem type `T`, is alive for as
/// long as the reference to this object, and its block device is open. If
/// `S` is [`Ready`], `s_fs_info` holds a `Pin<KBox<T::Info>>` from
/// [`ForeignOwnable::into_foreign`].
#[repr(transparent)]
pub(crate) struct SuperBlock<T: FsData, S = Ready>(Opaque<sys::super_block>, PhantomData<(T, S)>);

impl<T: FsData, S> SuperBlock<T, S> {
    /// Wraps a raw superblock.
    ///
    /// # Safety
    ///
    /// `ptr` must satisfy the type invariants for the lifetime `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut sys::super_block) -> &'a Self {
        // SAFETY: `Self` is a transparent wrapper of `super_block`, and the
        // caller guarantees the invariants for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// The raw superblock.
    pub(super) fn as_raw(&self) -> *mut sys::super_block {
        self.0.get()
    }

    /// The name of the block device, such as `vdb`, for messages.
    pub(crate) fn id(&self) -> &CStr {
        // SAFETY: `s_id` is a NUL-terminated string that the VFS sets before
        // calling into the filesystem and never changes afterwards.
        unsafe { CStr::from_char_ptr((*self.as_raw()).s_id.as_ptr()) }
    }

    /// The magic number set by [`SuperBlock::set_magic`].
    pub(crate) fn magic(&self) -> u64 {
        // SAFETY: The superblock is valid by the type invariant.
        unsafe { (*self.as_raw()).s_magic as u64 }
    }

    /// `log2` of the block size.
    pub(crate) fn block_shift(&self) -> u32 {
        // SAFETY: The superblock is valid; the block size is set before any
        // I/O.
        unsafe { u32::from((*self.as_raw()).s_blocksize_bits) }
    }

    /// Enters a page fault that will dirty the filesystem: waits while it is
    /// frozen, and holds off a freeze until the guard is dropped
    /// (`sb_start_pagefault`).
    pub(crate) fn start_pagefault(&self) -> PagefaultGuard<'_, T, S> {
        // SAFETY: The superblock is valid (type invariant); this may sleep,
        // which a fault handler allows.
        unsafe { sys::rsfs_sb_start_pagefault(self.as_raw()) };
        // INVARIANT: Entered just now.
        PagefaultGuard(self)
    }

    /// Enters a change of the filesystem's own, which no VFS call holds off
    /// (a deleted file's release): waits while frozen, and holds off a
    /// freeze until the guard is dropped (`sb_start_intwrite`).
    pub(crate) fn start_intwrite(&self) -> IntWriteGuard<'_, T, S> {
        // SAFETY: The superblock is valid (type invariant); callers sleep.
        unsafe { sys::rsfs_sb_start_intwrite(self.as_raw()) };
        // INVARIANT: Entered just now.
        IntWriteGuard(self)
    }

    /// Whether the filesystem is frozen: `freeze_fs` has run, and nothing
    /// may be written until it thaws. (Not while a freeze is on its way:
    /// its own sync must write.)
    pub(crate) fn is_frozen(&self) -> bool {
        // SAFETY: The superblock is valid; `frozen` changes under
        // `s_umount`, which we may not hold: read once, as `READ_ONCE`.
        let frozen = unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!((*self.as_raw()).s_writers.frozen))
        };
        u32::from(frozen) == sys::RSFS_SB_FREEZE_COMPLETE
    }

    /// Holds off unmount, remount and freeze (`s_umount`, shared) until the
    /// guard is dropped, unless one of them holds it now: then `None`, at
    /// once. For work that runs outside any syscall on the filesystem
    /// (memory reclaim) and must not find the superblock torn down.
    pub(super) fn try_hold_off_umount(&self) -> Option<UmountGuard<'_, T, S>> {
        // SAFETY: The superblock is valid (type invariant); a trylock does
        // not sleep.
        if unsafe { sys::rsfs_sb_trylock_umount_shared(self.as_raw()) } {
            // INVARIANT: Taken just now.
            Some(UmountGuard(self))
        } else {
            None
        }
    }

    /// Flushes the device's volatile write cache (`blkdev_issue_flush`).
    pub(crate) fn flush_device(&self) -> Result {
        // SAFETY: The block device is open by the type invariant.
        kernel::error::to_result(unsafe { sys::blkdev_issue_flush((*self.as_raw()).s_bdev) })
    }

    /// Whether the block device itself is read-only (`blockdev --setro`, a
    /// write-protected disk), whatever the mount is.
    pub(crate) fn device_is_read_only(&self) -> bool {
        // SAFETY: The block device is open by the type invariant.
        unsafe { sys::rsfs_bdev_read_only((*self.as_raw()).s_bdev) }
    }

    /// The smallest run of blocks worth discarding: the device's discard
    /// granularity, in blocks (at least 1). `None` if the device cannot
    /// discard.
    pub(crate) fn discard_granularity(&self) -> Option<u64> {
        // SAFETY: The block device is open by the type invariant.
        let (max, granularity) = unsafe {
            let bdev = (*self.as_raw()).s_bdev;
            (
                sys::rsfs_bdev_max_discard_sectors(bdev),
                sys::rsfs_bdev_discard_granularity(bdev),
            )
        };
        (max != 0).then(|| (u64::from(granularity) >> self.block_shift()).max(1))
    }

    /// Discards `len` blocks from `block` (`blkdev_issue_discard`), and
    /// waits: the device may forget what they hold.
    pub(crate) fn discard(&self, block: u64, len: u64) -> Result {
        let shift = self.block_shift() - 9;
        // SAFETY: The superblock is valid and its block device open by the
        // type invariant; the call allocates with GFP_NOFS, so reclaim does
        // not come back into the filesystem.
        kernel::error::to_result(unsafe {
            sys::blkdev_issue_discard(
                (*self.as_raw()).s_bdev,
                block << shift,
                len << shift,
                sys::RSFS_GFP_NOFS,
            )
        })
    }

    /// Writes zeroes to `len` blocks from `block`, and waits (`blkdev_issue_zeroout`).
    pub(crate) fn zero_blocks(&self, block: u64, len: u64) -> Result {
        let shift = self.block_shift() - 9;
        // SAFETY: As for `discard`: the device is open, and GFP_NOFS keeps reclaim out.
        kernel::error::to_result(unsafe {
            sys::blkdev_issue_zeroout(
                (*self.as_raw()).s_bdev,
                block << shift,
                len << shift,
                sys::RSFS_GFP_NOFS,
                0,
            )
        })
    }

    /// Drops any cached buffers of the block device for blocks that are
    /// about to hold file data, so that a stale metadata buffer of a freed
    /// block can never be written over the data later.
    pub(crate) fn forget_block_buffers(&self, block: u64, len: u64) {
        // SAFETY: The block device is open by the type invariant.
        unsafe { sys::clean_bdev_aliases((*self.as_raw()).s_bdev, block, len) };
    }

    /// The size of the block device in bytes.
    pub(crate) fn device_bytes(&self) -> u64 {
        // SAFETY: The block device is open by the type invariant.
        unsafe { sys::rsfs_bdev_nr_bytes((*self.as_raw()).s_bdev) }
    }

    /// A block of the device that is about to be overwritten whole: its
    /// buffer, uptodate, without reading the disk. It holds zeroes if it
    /// was not cached, else its cached bytes: the caller overwrites every
    /// byte within one hold of the buffer lock, so that whoever copies the
    /// block meanwhile sees the old contents or the new, never zeroes.
    pub(crate) fn bnew(&self, block: u64) -> Result<BufferHead> {
        // SAFETY: The superblock and its block device are valid, and its
        // block size is set.
        let bh = unsafe { sys::rsfs_sb_getblk_zeroed(self.as_raw(), block) };
        // SAFETY: The helper returns null or an uptodate buffer with a
        // reference that is now ours.
        unsafe { BufferHead::from_raw(bh) }.ok_or(ENOMEM)
    }

    /// Whether the filesystem is mounted read-only.
    pub(crate) fn is_read_only(&self) -> bool {
        // SAFETY: The superblock is valid by the type invariant.
        unsafe { (*self.as_raw()).s_flags & sys::RSFS_SB_RDONLY != 0 }
    }

    /// Writes everything of the filesystem that is dirty and waits for it:
    /// file data, inodes, `sync_fs`, then the block device's buffers
    /// (`sync_filesystem`). The caller holds `s_umount`, as in `remount`.
    pub(crate) fn sync_filesystem(&self) -> Result {
        // SAFETY: The superblock is valid by the type invariant, and its
        // `s_umount` is held by the caller (the VFS, for `remount`).
        kernel::error::to_result(unsafe { sys::sync_filesystem(self.as_raw()) })
    }

    /// Drops the block device's cached pages and buffers that are clean
    /// and unused: at mount, so that every metadata block is read (and
    /// checked) afresh, and whatever changed the disk while it was not
    /// mounted is seen; at an unmount, so that nothing the filesystem
    /// changed in memory but did not write stays for the next reader.
    pub(crate) fn forget_cached_blocks(&self) {
        // SAFETY: The block device is open (type invariant);
        // `invalidate_bdev` leaves dirty, locked, mapped and referenced
        // pages alone, so it may run at any time.
        unsafe { sys::invalidate_bdev((*self.as_raw()).s_bdev) };
    }

    /// Panics the kernel, naming the device and `why` (`errors=panic`).
    pub(crate) fn panic(&self, why: &CStr) -> ! {
        // SAFETY: The superblock is valid by the type invariant, and `why`
        // a NUL-terminated string.
        unsafe { sys::rsfs_panic(self.as_raw(), why.as_char_ptr()) }
    }

    /// Writes all dirty buffers of the block device and waits for them.
    pub(crate) fn sync_device(&self) -> Result {
        // SAFETY: The block device is open by the type invariant.
        kernel::error::to_result(unsafe { sys::sync_blockdev((*self.as_raw()).s_bdev) })
    }

    /// Reads block `block` (in units of the block size) of the device,
    /// through the block device's page cache.
    ///
    /// A block whose last write failed is not read: the kernel dropped the
    /// buffer's new contents (`buffer_write_io_error`), so the copy on disk
    /// is older than what was last written, and the caller decides what
    /// that means ([`ReadError::WriteLost`]).
    pub(crate) fn bread(&self, block: u64) -> core::result::Result<BufferHead, ReadError> {
        let mut lost = false;
        // SAFETY: The superblock and its block device are valid by the type
        // invariant, and its block size is set.
        let bh = unsafe { sys::rsfs_sb_bread(self.as_raw(), block, &mut lost) };
        if lost {
            return Err(ReadError::WriteLost);
        }
        // SAFETY: `rsfs_sb_bread` returns null or an uptodate buffer with a
        // reference that is now ours.
        unsafe { BufferHead::from_raw(bh) }.ok_or(ReadError::Io)
    }
}

impl<T: FsData> SuperBlock<T, New> {
    /// Sets the block size, which must be supported by the device.
    pub(crate) fn set_block_size(&self, size: u32) -> Result {
        // SAFETY: The superblock is being set up and its block device open.
        let got = unsafe { sys::sb_set_blocksize(self.as_raw(), size as i32) };
        if got as u32 != size {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Sets the filesystem's UUID, which the VFS reports
    /// (`FS_IOC_GETFSUUID`) and which overlayfs and NFS use to tell
    /// filesystems apart (`super_set_uuid`).
    pub(crate) fn set_uuid(&self, uuid: &[u8; 16]) {
        // SAFETY: The superblock is being set up; its fields are ours.
        unsafe {
            (*self.as_raw()).s_uuid.b = *uuid;
            (*self.as_raw()).s_uuid_len = uuid.len() as u8;
        }
    }

    /// Sets the magic number reported by `statfs(2)`.
    pub(crate) fn set_magic(&self, magic: u64) {
        // SAFETY: The superblock is being set up; its fields are ours.
        unsafe { (*self.as_raw()).s_magic = magic as _ };
    }

    /// Sets the largest file size.
    pub(crate) fn set_max_bytes(&self, max: i64) {
        // SAFETY: The superblock is being set up; its fields are ours.
        unsafe { (*self.as_raw()).s_maxbytes = max };
    }
}

impl<T: FsData> SuperBlock<T, Ready> {
    /// Writes everything of the filesystem that is dirty and waits for it,
    /// as `syncfs(2)` does: [`SuperBlock::sync_filesystem`], with
    /// `s_umount` taken shared. For calls on an open file (an `ioctl`),
    /// whose mount keeps the superblock alive; not for the superblock's
    /// own operations, whose callers hold `s_umount` already (it would wait
    /// for itself), nor for a superblock being set up.
    pub(crate) fn syncfs(&self) -> Result {
        // SAFETY: The superblock is valid by the type invariant; the
        // helper takes and drops its `s_umount` itself.
        kernel::error::to_result(unsafe { sys::rsfs_syncfs(self.as_raw()) })
    }

    /// The per-mount state that
    /// [`FileSystem::fill_super`](super::FileSystem::fill_super) returned.
    pub(crate) fn info(&self) -> Pin<&T::Info> {
        // SAFETY: By the type invariant `s_fs_info` holds a
        // `Pin<KBox<T::Info>>` that lives as long as the superblock, so as
        // long as `self`.
        unsafe { <Pin<KBox<T::Info>> as ForeignOwnable>::borrow((*self.as_raw()).s_fs_info) }
    }
}

/// Why [`SuperBlock::bread`] gave no buffer. Either is EIO to `?`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ReadError {
    /// The block's last write failed, so the disk holds an older copy than
    /// the one last written, which the kernel dropped; it was not read.
    WriteLost,
    /// The read failed, or there was no memory for the buffer.
    Io,
}

impl From<ReadError> for Error {
    fn from(_: ReadError) -> Error {
        EIO
    }
}

/// A page fault that holds off a freeze of the filesystem (see
/// [`SuperBlock::start_pagefault`]).
///
/// # Invariants
///
/// `sb_start_pagefault` was called on `0` on our behalf.
pub(crate) struct PagefaultGuard<'a, T: FsData, S>(&'a SuperBlock<T, S>);

impl<T: FsData, S> Drop for PagefaultGuard<'_, T, S> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the fault was entered.
        unsafe { sys::rsfs_sb_end_pagefault(self.0.as_raw()) };
    }
}

/// A change that holds off a freeze ([`SuperBlock::start_intwrite`]).
///
/// # Invariants
///
/// `sb_start_intwrite` was called on `0` on our behalf.
pub(crate) struct IntWriteGuard<'a, T: FsData, S>(&'a SuperBlock<T, S>);

impl<T: FsData, S> Drop for IntWriteGuard<'_, T, S> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the change was entered.
        unsafe { sys::rsfs_sb_end_intwrite(self.0.as_raw()) };
    }
}

/// `s_umount` held shared (see [`SuperBlock::try_hold_off_umount`]).
///
/// # Invariants
///
/// `0`'s `s_umount` is held shared on our behalf.
pub(super) struct UmountGuard<'a, T: FsData, S>(&'a SuperBlock<T, S>);

impl<T: FsData, S> Drop for UmountGuard<'_, T, S> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold it.
        unsafe { sys::rsfs_sb_unlock_umount_shared(self.0.as_raw()) };
    }
}
