// SPDX-License-Identifier: GPL-2.0

//! The trampolines that bring a file's folios in from the disk
//! (`read_folio`, `readahead`): off the write path, which stays in
//! [`super`].

use kernel::error::from_result;

use super::{folio_inode, sys, LockedFolio, Operations, Table};
use crate::kfs::writeback::{AddressSpace, Readahead};

impl<U: Operations> Table<U> {
    /// `read_folio`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a locked folio of a file of `U::FileSystem`.
    pub(super) unsafe extern "C" fn read_folio(
        _file: *mut sys::file,
        folio: *mut sys::folio,
    ) -> kernel::ffi::c_int {
        // SAFETY: The folio is valid, locked, and in a file of ours, as the
        // caller guarantees; its lock passes to `LockedFolio`.
        let (inode, folio) = unsafe { (folio_inode::<U>(folio), LockedFolio::from_locked(folio)) };
        from_result(|| {
            U::read_folio(inode, folio)?;
            Ok(0)
        })
    }

    /// `readahead`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid readahead control of a file of
    /// `U::FileSystem`.
    pub(super) unsafe extern "C" fn readahead(rac: *mut sys::readahead_control) {
        // SAFETY: `rac` is valid and exclusively ours for the call, and its
        // mapping is that of a live file of ours, as the caller guarantees.
        let (mapping, mut ra) = unsafe {
            (
                AddressSpace::<U::FileSystem>::from_raw(sys::rsfs_readahead_mapping(rac)),
                Readahead::from_raw(rac),
            )
        };
        U::readahead(mapping.host(), &mut ra);
    }
}
