// SPDX-License-Identifier: GPL-2.0

//! The trampolines of an inode's attributes in an `inode_operations`
//! table: `getattr` (`stat(2)`, `statx(2)`), and `fileattr_get` and
//! `fileattr_set` (`lsattr(1)`, `chattr(1)`).

use kernel::error::from_result;

use super::{dentry_inode, sys, FileSystem, Locked, Operations, Table};

impl<U: Operations> Table<U> {
    /// `inode_operations::getattr`: what `generic_fillattr` reports, and
    /// the `chattr(1)` flags that `statx(2)` has attributes for, as ext2
    /// and ext4 report them: each of IMMUTABLE, APPEND and NODUMP that the
    /// filesystem supports goes into the mask, and into the attributes if
    /// the inode has it.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid `path` to a positive dentry of ours
    /// and a valid `stat` to fill.
    pub(super) unsafe extern "C" fn getattr(
        idmap: *mut sys::mnt_idmap,
        path: *const sys::path,
        stat: *mut sys::kstat,
        request_mask: u32,
        _query_flags: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int {
        // SAFETY: `path` is valid and its dentry positive and ours.
        let inode = unsafe { dentry_inode::<U::FileSystem>((*path).dentry) };
        // SAFETY: `stat` is valid (safety requirement) and `inode` is a
        // live inode; the VFS holds a reference through the path.
        unsafe { sys::generic_fillattr(idmap, request_mask, inode.as_raw(), stat) };
        let pairs = [
            (sys::FS_IMMUTABLE_FL, sys::STATX_ATTR_IMMUTABLE),
            (sys::FS_APPEND_FL, sys::STATX_ATTR_APPEND),
            (sys::FS_NODUMP_FL, sys::STATX_ATTR_NODUMP),
        ];
        let flags = U::flags(inode);
        let (mut mask, mut set) = (0u64, 0u64);
        for (fl, attr) in pairs {
            if U::FLAGS & fl != 0 {
                mask |= u64::from(attr);
                if flags & fl != 0 {
                    set |= u64::from(attr);
                }
            }
        }
        // SAFETY: `stat` is valid and `generic_fillattr` filled it; the
        // superblock's block device is open while the inode is in use.
        unsafe {
            (*stat).attributes |= set;
            (*stat).attributes_mask |= mask;
            if U::DIRECT_IO && request_mask & sys::STATX_DIOALIGN != 0 {
                let bdev = (*inode.super_block().as_raw()).s_bdev;
                sys::rsfs_bdev_dio_alignment(
                    bdev,
                    &mut (*stat).dio_mem_align,
                    &mut (*stat).dio_offset_align,
                );
                (*stat).result_mask |= sys::STATX_DIOALIGN;
            }
        }
        0
    }

    /// `inode_operations::fileattr_get`: `FS_IOC_GETFLAGS` (`lsattr`).
    ///
    /// # Safety
    ///
    /// Called by the VFS with a positive dentry of ours and a valid `fa`.
    pub(super) unsafe extern "C" fn fileattr_get(
        dentry: *mut sys::dentry,
        fa: *mut sys::fileattr,
    ) -> kernel::ffi::c_int {
        // SAFETY: The dentry is positive and its inode one of ours.
        let inode = unsafe { dentry_inode::<U::FileSystem>(dentry) };
        // SAFETY: `fa` is valid (safety requirement).
        unsafe { sys::fileattr_fill_flags(fa, U::flags(inode)) };
        0
    }

    /// `inode_operations::fileattr_set`: `FS_IOC_SETFLAGS` (`chattr`).
    /// The XFS-style attributes (`FS_IOC_FSSETXATTR`) are not supported.
    ///
    /// # Safety
    ///
    /// Called by the VFS with the inode of a positive dentry of ours
    /// locked, and a valid `fa` that `fileattr_set_prepare` checked.
    pub(super) unsafe extern "C" fn fileattr_set(
        _idmap: *mut sys::mnt_idmap,
        dentry: *mut sys::dentry,
        fa: *mut sys::fileattr,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: The dentry is positive and its inode one of ours.
            let inode = unsafe { dentry_inode::<U::FileSystem>(dentry) };
            if U::FileSystem::is_shut_down(inode.super_block()) {
                return Err(kernel::error::code::EIO);
            }
            // SAFETY: `fa` is valid (safety requirement). For
            // FS_IOC_FSSETXATTR the VFS has already turned the common
            // xflags into `flags`; what has no flag (an extent size, a
            // project id, the other xflags) is refused, as on ext2.
            let (fsx, flags) = unsafe { (sys::rsfs_fileattr_has_fsx(fa), (*fa).flags) };
            if fsx || flags & !U::FLAGS != 0 {
                return Err(crate::kfs::eopnotsupp());
            }
            // SAFETY: The VFS holds the inode locked for `fileattr_set`.
            U::set_flags(unsafe { Locked::new(inode) }, flags)?;
            Ok(0)
        })
    }
}
