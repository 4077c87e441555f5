// SPDX-License-Identifier: GPL-2.0

//! POSIX ACLs (`system.posix_acl_access`, `system.posix_acl_default`):
//! their types, their conversion to and from the bytes a filesystem
//! stores, and the ACLs of a new inode.
//!
//! A filesystem keeps an ACL as the value of its extended attribute in
//! the VFS's own format (`struct posix_acl_xattr_header` and its entries,
//! with ids of the initial user namespace), as btrfs does; kfs turns those
//! bytes into the kernel's `struct posix_acl` and back. The filesystem
//! reads and changes them in [`super::xattr::Operations::get_acl`] and
//! [`super::xattr::Operations::set_acl`].
//!
//! C header: [`include/linux/posix_acl.h`](srctree/include/linux/posix_acl.h).

use kernel::{c_str, error::to_result, ffi::c_int, prelude::*};

use super::{lock::Locked, sys, FsData, Inode};

/// Which of a file's two ACLs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum AclType {
    /// The access ACL, which permission checks use.
    Access,
    /// A directory's default ACL, which new files in it inherit.
    Default,
}

impl AclType {
    /// The `ACL_TYPE_*` value.
    pub(super) fn raw(self) -> c_int {
        match self {
            Self::Access => sys::RSFS_ACL_TYPE_ACCESS,
            Self::Default => sys::RSFS_ACL_TYPE_DEFAULT,
        }
    }

    /// The type of an `ACL_TYPE_*` value.
    pub(super) fn from_raw(raw: c_int) -> Option<Self> {
        match raw {
            sys::RSFS_ACL_TYPE_ACCESS => Some(Self::Access),
            sys::RSFS_ACL_TYPE_DEFAULT => Some(Self::Default),
            _ => None,
        }
    }

    /// The full name of the extended attribute that holds it.
    pub(crate) const fn name(self) -> &'static CStr {
        match self {
            Self::Access => c_str!("system.posix_acl_access"),
            Self::Default => c_str!("system.posix_acl_default"),
        }
    }
}

/// The stored bytes of a `struct posix_acl`.
///
/// # Safety
///
/// `acl` must be a valid ACL.
pub(super) unsafe fn to_bytes(acl: *const sys::posix_acl) -> Result<KVec<u8>> {
    // SAFETY: `acl` is valid (safety requirement).
    let size = unsafe { sys::rsfs_posix_acl_xattr_size((*acl).a_count as c_int) };
    let mut bytes = KVec::from_elem(0u8, size, GFP_KERNEL)?;
    // SAFETY: `bytes` holds `size` bytes, and `acl` is valid.
    let n = unsafe { sys::rsfs_posix_acl_to_xattr(acl, bytes.as_mut_ptr().cast(), size) };
    to_result(n)?;
    Ok(bytes)
}

/// A `struct posix_acl` (a reference the caller owns), or an error
/// pointer if `bytes` do not hold a valid ACL.
pub(super) fn from_bytes(bytes: &[u8]) -> *mut sys::posix_acl {
    // SAFETY: `bytes` is valid for its length; the helper copies what it
    // needs.
    unsafe { sys::rsfs_posix_acl_from_xattr(bytes.as_ptr().cast(), bytes.len()) }
}

/// The ACLs a new inode takes from its directory, as bytes to store.
#[derive(Default)]
pub(crate) struct NewAcls {
    /// Its access ACL, if the directory's default ACL gives it one that
    /// the mode bits cannot say.
    pub(crate) access: Option<KVec<u8>>,
    /// Its default ACL (directories only): the directory's own.
    pub(crate) default: Option<KVec<u8>>,
}

impl<T: FsData> Locked<'_, T> {
    /// Gives a new inode, not yet visible to anyone, the ACLs of its
    /// directory `dir` (`posix_acl_create`): its mode loses the bits that
    /// `dir`'s default ACL denies or, without one, the umask's. The
    /// filesystem stores the ACLs returned with the inode; the VFS keeps
    /// them cached.
    pub(crate) fn inherit_acls(&self, dir: &Inode<T>) -> Result<NewAcls> {
        let inode = self.as_raw();
        let mut default: *mut sys::posix_acl = core::ptr::null_mut();
        let mut access: *mut sys::posix_acl = core::ptr::null_mut();
        // SAFETY: Both inodes are valid; the new one is ours alone (safety
        // requirement of `Locked`, and it has no name yet), so its mode
        // may change in place, as ext2 changes it.
        to_result(unsafe {
            sys::posix_acl_create(
                dir.as_raw(),
                &mut (*inode).i_mode,
                &mut default,
                &mut access,
            )
        })?;
        let mut acls = NewAcls::default();
        let mut result = Ok(());
        for (ty, acl, slot) in [
            (AclType::Default, default, &mut acls.default),
            (AclType::Access, access, &mut acls.access),
        ] {
            if acl.is_null() {
                continue;
            }
            if result.is_ok() {
                // SAFETY: `acl` is a valid ACL that `posix_acl_create` gave
                // us a reference to.
                match unsafe { to_bytes(acl) } {
                    Ok(bytes) => *slot = Some(bytes),
                    Err(e) => result = Err(e),
                }
                // SAFETY: The inode is valid; the cache takes its own
                // reference.
                unsafe { sys::set_cached_acl(inode, ty.raw(), acl) };
            }
            // SAFETY: Drops the reference `posix_acl_create` gave us.
            unsafe { sys::rsfs_posix_acl_release(acl) };
        }
        result.map(|()| acls)
    }

    /// Sets the inode's permission bits (and set-user-ID, set-group-ID and
    /// sticky bits) from `mode`, as a change of an ACL does; its file type
    /// stays.
    pub(crate) fn set_mode(&self, mode: u16) {
        let inode = self.as_raw();
        let ftype = sys::S_IFMT as u16;
        // SAFETY: The inode lock is held (type invariant): `i_mode` changes
        // under it.
        unsafe { (*inode).i_mode = ((*inode).i_mode & ftype) | (mode & !ftype) };
    }
}
