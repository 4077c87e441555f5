// SPDX-License-Identifier: GPL-2.0

//! The trampolines of POSIX ACLs in every `inode_operations` table of a
//! filesystem whose [`Operations`] store them: `get_inode_acl`, which
//! permission checks and `getxattr(2)` reach, and `set_acl`, which
//! `setxattr(2)`, `removexattr(2)` and `chmod(2)` (`posix_acl_chmod`)
//! reach.

use kernel::{error::from_result, ffi::c_int, prelude::*};

use super::{
    super::{
        acl::{self, AclType},
        FileType,
    },
    sys, Inode, Locked, Operations, Table,
};

impl<U: Operations> Table<U> {
    /// `inode_operations::get_inode_acl`: the stored ACL of `type`, or NULL
    /// for none. Not in RCU walk mode (ECHILD: the VFS asks again), since
    /// the filesystem may read the disk.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a referenced inode of ours.
    pub(super) unsafe extern "C" fn get_inode_acl(
        inode: *mut sys::inode,
        type_: c_int,
        rcu: bool,
    ) -> *mut sys::posix_acl {
        if rcu {
            return ECHILD.to_ptr();
        }
        let Some(ty) = AclType::from_raw(type_) else {
            return EINVAL.to_ptr();
        };
        // SAFETY: `inode` is a referenced inode of ours.
        let inode = unsafe { Inode::<U::FileSystem>::from_raw(inode) };
        match U::get_acl(inode, ty) {
            Ok(Some(bytes)) => acl::from_bytes(&bytes),
            Ok(None) => core::ptr::null_mut(),
            Err(e) => e.to_ptr(),
        }
    }

    /// `inode_operations::set_acl`: stores `acl` (NULL: removes it) and,
    /// for an access ACL, the mode that goes with it
    /// (`posix_acl_update_mode`, which drops an ACL the mode bits say
    /// whole), as one change; then the VFS's cache takes it. A default ACL
    /// on anything but a directory is EACCES, as on ext2 and ext4.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a positive dentry of ours whose inode it holds
    /// locked, and `acl` NULL or valid.
    pub(super) unsafe extern "C" fn set_acl(
        idmap: *mut sys::mnt_idmap,
        dentry: *mut sys::dentry,
        acl: *mut sys::posix_acl,
        type_: c_int,
    ) -> c_int {
        from_result(|| {
            let ty = AclType::from_raw(type_).ok_or(EINVAL)?;
            // SAFETY: `dentry` is a positive dentry of ours, so its inode is a
            // referenced inode of ours, which the VFS holds locked
            // (`vfs_set_acl`, `vfs_remove_acl`, `posix_acl_chmod` under
            // `notify_change`). (ksmbd calls `set_posix_acl` without the
            // lock, as it would for ext4; CONFIG_SMB_SERVER is off here.)
            let inode = unsafe { Inode::<U::FileSystem>::from_raw((*dentry).d_inode) };
            // SAFETY: As above: the lock is held for this call.
            let locked = unsafe { Locked::new(inode) };
            let raw = inode.as_raw();
            let mut acl = acl;
            let mut mode = None;
            if ty == AclType::Access && !acl.is_null() {
                // SAFETY: `raw` is valid and locked.
                let mut m = unsafe { (*raw).i_mode };
                // SAFETY: All pointers are valid; the helper may replace
                // `acl` with NULL, never with another ACL, so no reference
                // changes hands.
                kernel::error::to_result(unsafe {
                    sys::posix_acl_update_mode(idmap, raw, &mut m, &mut acl)
                })?;
                mode = Some(m);
            }
            // As ext4, whose symlinks have no ACL operations.
            if inode.file_type() == FileType::Symlink {
                return Err(super::super::eopnotsupp());
            }
            if ty == AclType::Default && inode.file_type() != FileType::Directory {
                return if acl.is_null() { Ok(0) } else { Err(EACCES) };
            }
            let bytes = if acl.is_null() {
                None
            } else {
                // SAFETY: `acl` is valid (safety requirement).
                Some(unsafe { acl::to_bytes(acl) }?)
            };
            if let Err(e) = U::set_acl(locked, ty, bytes.as_deref(), mode) {
                // The change may have been made before the failure (a
                // synchronous commit that failed): the next use reads it.
                // SAFETY: The inode is valid.
                unsafe { sys::forget_cached_acl(raw, type_) };
                return Err(e);
            }
            // SAFETY: The inode is valid; the cache takes its own reference
            // (none for NULL).
            unsafe { sys::set_cached_acl(raw, type_, acl) };
            Ok(0)
        })
    }
}
