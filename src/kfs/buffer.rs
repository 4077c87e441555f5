// SPDX-License-Identifier: GPL-2.0

//! Buffer heads: metadata blocks read through the block device's page cache.
//!
//! C header: [`include/linux/buffer_head.h`](srctree/include/linux/buffer_head.h).

use core::ptr::NonNull;

use super::sys;

/// A block of the device, read and uptodate, with a reference held.
///
/// # Invariants
///
/// `self.0` points to a valid buffer head whose `b_data` holds `b_size`
/// uptodate bytes, and this object owns one reference to it.
pub(crate) struct BufferHead(NonNull<sys::buffer_head>);

// SAFETY: buffer heads are reference counted with atomics, and `brelse` may
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
        // INVARIANT: guaranteed by the caller.
        NonNull::new(bh).map(Self)
    }

    /// The contents of the block.
    pub(crate) fn data(&self) -> &[u8] {
        let bh = self.0.as_ptr();
        // SAFETY: by the type invariant `b_data` points to `b_size` uptodate
        // bytes, which stay mapped while we hold our reference.
        unsafe { core::slice::from_raw_parts((*bh).b_data.cast::<u8>(), (*bh).b_size) }
    }
}

impl Drop for BufferHead {
    fn drop(&mut self) {
        // SAFETY: we own one reference, given up here.
        unsafe { sys::rsfs_brelse(self.0.as_ptr()) };
    }
}
