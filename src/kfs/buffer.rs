// SPDX-License-Identifier: GPL-2.0

//! Buffer heads: metadata blocks read through the block device's page cache.
//!
//! C header: [`include/linux/buffer_head.h`](srctree/include/linux/buffer_head.h).

use core::ptr::NonNull;
use kernel::{error::to_result, prelude::*};

use super::sys;

/// A block of the device, uptodate, with a reference held.
///
/// Its bytes are reached through [`BufferHead::lock`], which takes the
/// buffer's own lock (`lock_buffer`), so that two users of the same block
/// never see each other's half-made changes.
///
/// # Invariants
///
/// `self.0` points to a valid buffer head whose `b_data` holds `b_size`
/// uptodate bytes, and this object owns one reference to it.
pub(crate) struct BufferHead(NonNull<sys::buffer_head>);

// SAFETY: Buffer heads are reference counted with atomics, and `brelse` may
// be called from any thread.
unsafe impl Send for BufferHead {}

impl BufferHead {
    /// Takes over a reference to a buffer head, if `bh` is not null.
    ///
    /// # Safety
    ///
    /// A non-null `bh` must be a valid, uptodate buffer head, and the caller
    /// gives up its reference to it.
    pub(super) unsafe fn from_raw(bh: *mut sys::buffer_head) -> Option<Self> {
        // INVARIANT: Guaranteed by the caller.
        NonNull::new(bh).map(Self)
    }

    /// Locks the buffer for reading or changing its bytes.
    pub(crate) fn lock(&self) -> BufferGuard<'_> {
        // SAFETY: The buffer is valid; `lock_buffer` may sleep, which every
        // caller (process context in a filesystem operation) allows.
        unsafe { sys::rsfs_lock_buffer(self.0.as_ptr()) };
        BufferGuard(self)
    }

    /// Whether the block's contents were checked since it was read from
    /// disk (see [`BufferHead::set_verified`]).
    pub(crate) fn is_verified(&self) -> bool {
        // SAFETY: The buffer is valid; the bit is atomic.
        unsafe { sys::rsfs_buffer_verified(self.0.as_ptr()) }
    }

    /// Records that the block's contents were checked. The mark lives as
    /// long as the cached buffer: a block read again from disk is checked
    /// again. Whoever changes a verified block keeps it valid.
    pub(crate) fn set_verified(&self) {
        // SAFETY: The buffer is valid; the bit is atomic.
        unsafe { sys::rsfs_set_buffer_verified(self.0.as_ptr()) };
    }

    /// The block number of the buffer on its device.
    pub(crate) fn block(&self) -> u64 {
        // SAFETY: The buffer is valid; `b_blocknr` does not change while a
        // reference is held.
        unsafe { (*self.0.as_ptr()).b_blocknr }
    }

    /// Another reference to the same buffer.
    pub(crate) fn clone_ref(&self) -> BufferHead {
        // SAFETY: The buffer is valid, and we hold a reference, so taking
        // another is allowed.
        unsafe { sys::rsfs_get_bh(self.0.as_ptr()) };
        // INVARIANT: The reference just taken is the new object's.
        BufferHead(self.0)
    }

    /// Sets the buffer's tracked bit, a mark for the filesystem's own use
    /// (a journal can mark "on the running transaction's list"), and says
    /// whether it was already set. Atomic: of two callers racing, one sees `false`.
    pub(crate) fn test_and_set_tracked(&self) -> bool {
        // SAFETY: The buffer is valid; the bit is atomic.
        unsafe { sys::rsfs_buffer_test_set_tracked(self.0.as_ptr()) }
    }

    /// Clears the tracked bit.
    pub(crate) fn clear_tracked(&self) {
        // SAFETY: The buffer is valid; the bit is atomic.
        unsafe { sys::rsfs_buffer_clear_tracked(self.0.as_ptr()) };
    }

    /// Marks the buffer dirty: the block device's writeback writes it.
    pub(crate) fn mark_dirty(&self) {
        // SAFETY: The buffer is valid and uptodate.
        unsafe { sys::mark_buffer_dirty(self.0.as_ptr()) };
    }

    /// Writes the buffer now, if dirty, and waits for the write.
    pub(crate) fn sync(&self) -> Result {
        // SAFETY: The buffer is valid and not locked by us (a guard borrows
        // `self`, and `sync` needs none).
        to_result(unsafe { sys::sync_dirty_buffer(self.0.as_ptr()) })
    }
}

impl Drop for BufferHead {
    fn drop(&mut self) {
        // SAFETY: We own one reference, given up here.
        unsafe { sys::rsfs_brelse(self.0.as_ptr()) };
    }
}

/// A locked buffer (`lock_buffer`); unlocked when dropped.
///
/// # Invariants
///
/// The caller of [`BufferHead::lock`] holds the buffer's lock for the
/// guard's lifetime.
pub(crate) struct BufferGuard<'a>(&'a BufferHead);

impl BufferGuard<'_> {
    /// The contents of the block.
    pub(crate) fn data(&self) -> &[u8] {
        let bh = self.0 .0.as_ptr();
        // SAFETY: `b_data` points to `b_size` uptodate bytes that stay
        // mapped while we hold our reference; the buffer lock keeps the
        // filesystem's other users from changing them under us.
        unsafe { core::slice::from_raw_parts((*bh).b_data.cast::<u8>(), (*bh).b_size) }
    }

    /// The contents of the block, to change. Mark the buffer dirty after.
    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        let bh = self.0 .0.as_ptr();
        // SAFETY: As in `data`; the lock makes this the only access.
        unsafe { core::slice::from_raw_parts_mut((*bh).b_data.cast::<u8>(), (*bh).b_size) }
    }
}

impl Drop for BufferGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: We hold the lock (type invariant).
        unsafe { sys::unlock_buffer(self.0 .0.as_ptr()) };
    }
}
