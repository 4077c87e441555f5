// SPDX-License-Identifier: GPL-2.0

//! The trampolines that go around the page cache: `direct_IO`, and
//! `bmap`, which gives a block's place on the disk (FIBMAP, `swapon(2)`).

use super::{sys, Locked, Operations, Table};
use crate::kfs::{
    io::{IovIter, Kiocb},
    writeback::AddressSpace,
};

impl<U: Operations> Table<U> {
    /// `direct_IO`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid kiocb and iterator of a file of
    /// `U::FileSystem`, a write with the inode locked.
    pub(super) unsafe extern "C" fn direct_io(
        iocb: *mut sys::kiocb,
        iter: *mut sys::iov_iter,
    ) -> isize {
        // SAFETY: Both are valid and ours for the call, and the request's
        // file is an open file of `U::FileSystem` (what `Kiocb` requires),
        // as the caller guarantees.
        let (mut iocb, mut iter) = unsafe {
            (
                Kiocb::<U::FileSystem>::from_raw(iocb),
                IovIter::from_raw(iter),
            )
        };
        // SAFETY: A direct write comes from `generic_file_direct_write`,
        // which kfs reaches only through `generic_file_write_iter_locked`,
        // which holds the inode lock.
        let locked = iter
            .is_write()
            .then(|| unsafe { Locked::new(iocb.inode()) });
        match U::direct_io(&mut iocb, &mut iter, locked) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// `bmap`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with the mapping of a live file of `U::FileSystem`.
    pub(super) unsafe extern "C" fn bmap(
        mapping: *mut sys::address_space,
        block: sys::sector_t,
    ) -> sys::sector_t {
        // SAFETY: The mapping is that of a live file of ours, as the caller
        // guarantees.
        let mapping = unsafe { AddressSpace::<U::FileSystem>::from_raw(mapping) };
        U::bmap(mapping.host(), block)
    }
}
