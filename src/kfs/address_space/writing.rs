// SPDX-License-Identifier: GPL-2.0

//! The writeback trampolines of an `address_space_operations` table:
//! `writepage`, which reclaim calls with nothing but the folio's lock, so
//! the trampoline itself pins the inode and holds off unmount for the
//! call, and `writepages`, the filesystem's own loop over the dirty
//! folios (`write_cache_pages`' job).

use kernel::error::from_result;

use super::{folio_inode, sys, LockedFolio, Operations, Table, WritePage};
use crate::kfs::writeback::{AddressSpace, WritebackControl};

impl<U: Operations> Table<U> {
    /// `writepage`: one folio, from reclaim.
    ///
    /// Reclaim holds no reference to the inode. Once `U::writepage` has
    /// sent the folio to disk, an unlink and a close could evict the inode
    /// while `U::writepage` still uses it, so kfs holds a reference for the
    /// call. A counted inode would make a concurrent unmount find it busy,
    /// so unmount is held off first. If either cannot be had (an unmount
    /// or remount is under way, or the inode is being evicted), the folio
    /// is left dirty for that work, and `U::writepage` is not called.
    ///
    /// # Safety
    ///
    /// Called with a locked page of a file of `U::FileSystem` and a valid
    /// `wbc` that is ours for the call.
    pub(super) unsafe extern "C" fn writepage(
        page: *mut sys::page,
        wbc: *mut sys::writeback_control,
    ) -> kernel::ffi::c_int {
        // SAFETY: The page is valid and locked, and in a file of ours, so
        // its folio is too; the lock passes to `LockedFolio`. `wbc` is ours
        // for the call.
        let (folio, mut wbc) = unsafe {
            (
                LockedFolio::from_locked(sys::rsfs_folio_from_page(page)),
                WritebackControl::from_raw(wbc),
            )
        };
        // SAFETY: The folio is locked and in a file of ours. Its inode
        // lives at least while the folio stays locked (eviction locks every
        // folio of the file), and the superblock outlives it. `host` is used
        // only until the folio is given away, and its superblock while
        // `_umount` holds off the unmount that would free it.
        let host = unsafe { folio_inode::<U>(folio.as_raw()) };
        let Some(_umount) = host.super_block().try_hold_off_umount() else {
            folio.leave_dirty(&mut wbc);
            return 0;
        };
        let Some(inode) = host.grab() else {
            folio.leave_dirty(&mut wbc);
            return 0;
        };
        match U::writepage(&inode, folio, &mut wbc) {
            Ok(WritePage::Done) => 0,
            Ok(WritePage::Activate(folio)) => match inode.put_unless_last() {
                Ok(()) => {
                    // The folio stays locked for the caller: drop only the
                    // reference `LockedFolio` took.
                    let f = folio.into_raw();
                    // SAFETY: `into_raw` gave up one reference, ours to drop.
                    unsafe { sys::rsfs_folio_put(f) };
                    sys::RSFS_AOP_WRITEPAGE_ACTIVATE
                }
                // Ours is the last reference, and dropping it evicts the
                // inode, which locks each of its folios: unlock this one
                // (already redirtied) first.
                Err(inode) => {
                    drop(folio);
                    drop(inode);
                    0
                }
            },
            Err(e) => e.to_errno(),
        }
        // `inode` is dropped here, before `_umount`.
    }

    /// `writepages`.
    ///
    /// # Safety
    ///
    /// Called by `do_writepages` with the mapping of a live file of
    /// `U::FileSystem` and a valid `wbc` that is ours for the call.
    pub(super) unsafe extern "C" fn writepages(
        mapping: *mut sys::address_space,
        wbc: *mut sys::writeback_control,
    ) -> kernel::ffi::c_int {
        // SAFETY: Both are valid for the call, as the caller guarantees.
        let (mapping, mut wbc) = unsafe {
            (
                AddressSpace::<U::FileSystem>::from_raw(mapping),
                WritebackControl::from_raw(wbc),
            )
        };
        from_result(|| {
            U::writepages(mapping, &mut wbc)?;
            Ok(0)
        })
    }
}
