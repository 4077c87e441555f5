// SPDX-License-Identifier: GPL-2.0

//! The trampolines of a freeze in the `super_operations` table:
//! `freeze_fs` and `unfreeze_fs` (`FIFREEZE`, `FITHAW`, `freeze_super`).

use kernel::error::from_result;

use super::{sys, FileSystem, SuperBlock, Tables};

impl<T: FileSystem> Tables<T> {
    /// `super_operations::freeze_fs`.
    ///
    /// # Safety
    ///
    /// `sb` must be a mounted superblock of this filesystem, being frozen
    /// (`freeze_super` holds `s_umount` and has stopped every writer).
    pub(super) unsafe extern "C" fn freeze_fs(sb: *mut sys::super_block) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: `sb` is a mounted superblock of `T`, as the caller
            // guarantees.
            T::freeze_fs(unsafe { SuperBlock::<T>::from_raw(sb) })?;
            Ok(0)
        })
    }

    /// `super_operations::unfreeze_fs`.
    ///
    /// # Safety
    ///
    /// `sb` must be a frozen, mounted superblock of this filesystem
    /// (`thaw_super` holds `s_umount`).
    pub(super) unsafe extern "C" fn unfreeze_fs(sb: *mut sys::super_block) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: As above.
            T::unfreeze_fs(unsafe { SuperBlock::<T>::from_raw(sb) })?;
            Ok(0)
        })
    }
}
