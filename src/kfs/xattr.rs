// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: the `xattr_handler`s of a filesystem's namespaces
//! (`sb->s_xattr`), and `listxattr` of `inode_operations`.
//!
//! A filesystem implements [`Operations`] once and names the result,
//! [`Handlers::new`], in [`FileSystem::XATTRS`](super::FileSystem::XATTRS):
//! kfs then gives every superblock the handlers of the namespaces
//! [`Namespace`] lists, and every inode a `listxattr`. The VFS resolves a
//! name to its handler by prefix and has checked permissions before any
//! of these is called (`xattr_permission`: `trusted.` needs
//! CAP_SYS_ADMIN; `user.` is for regular files and directories only; an
//! immutable or append-only file takes no changes), and a change holds
//! the inode lock (`vfs_setxattr`, `vfs_removexattr`).
//!
//! C header: [`include/linux/xattr.h`](srctree/include/linux/xattr.h).

use core::{ffi::c_void, marker::PhantomData};
use kernel::{
    c_str,
    error::from_result,
    ffi::{c_char, c_int},
    prelude::*,
};

use super::{acl::AclType, lock::Locked, sys, FsData, Inode};

mod acl;

/// A namespace of extended attributes: the prefix of their names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Namespace {
    /// `user.`: any user's, under the file's permissions.
    User,
    /// `trusted.`: visible and changeable with CAP_SYS_ADMIN only.
    Trusted,
    /// `security.`: the security modules'.
    Security,
}

impl Namespace {
    /// Every namespace, in the order of the handler table.
    const ALL: [Namespace; 3] = [Self::User, Self::Trusted, Self::Security];

    /// The prefix of the names in this namespace, with its dot.
    pub(crate) const fn prefix(self) -> &'static CStr {
        match self {
            Self::User => c_str!("user."),
            Self::Trusted => c_str!("trusted."),
            Self::Security => c_str!("security."),
        }
    }
}

/// How a set must treat an existing attribute (`setxattr(2)`'s flags).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SetMode {
    /// Create the attribute or replace its value.
    Any,
    /// `XATTR_CREATE`: EEXIST if it exists.
    Create,
    /// `XATTR_REPLACE`: ENODATA if it does not exist (removal is always
    /// this).
    Replace,
    /// Both flags: EEXIST if it exists, ENODATA if it does not, as ext4
    /// has them.
    Both,
}

/// The extended attributes of a filesystem's inodes.
#[vtable]
pub(crate) trait Operations {
    /// The filesystem whose inodes these are.
    type FileSystem: FsData;

    /// Copies the value of attribute `name` of namespace `ns` into `value`
    /// and returns its length; with an empty `value`, only returns the
    /// length. ENODATA if there is no such attribute, ERANGE if `value` is
    /// too small.
    fn get(
        inode: &Inode<Self::FileSystem>,
        ns: Namespace,
        name: &[u8],
        value: &mut [u8],
    ) -> Result<usize>;

    /// Sets attribute `name` of namespace `ns` to `value`, or removes it
    /// when `value` is `None` (then `mode` is [`SetMode::Replace`]).
    fn set(
        inode: Locked<'_, Self::FileSystem>,
        ns: Namespace,
        name: &[u8],
        value: Option<&[u8]>,
        mode: SetMode,
    ) -> Result;

    /// Adds the name of every attribute of the inode to `names`, its
    /// ACLs' too ([`Names::add_acl`]).
    fn list(inode: &Inode<Self::FileSystem>, names: &mut Names<'_>) -> Result;

    /// The inode's stored ACL of type `ty`, as the bytes of its extended
    /// attribute ([`super::acl`]), if it has one. With this method and
    /// [`Operations::set_acl`], the filesystem has POSIX ACLs: its mounts
    /// get `SB_POSIXACL`, so the VFS leaves the umask of a new file to the
    /// filesystem, which must call
    /// [`Locked::inherit_acls`](super::Locked::inherit_acls) for every
    /// inode it creates.
    fn get_acl(_inode: &Inode<Self::FileSystem>, _ty: AclType) -> Result<Option<KVec<u8>>> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Stores the ACL of type `ty` (`None` removes it) and, if `mode` is
    /// given, sets the inode's new mode ([`Locked::set_mode`]), as one
    /// change of the inode.
    fn set_acl(
        _inode: Locked<'_, Self::FileSystem>,
        _ty: AclType,
        _acl: Option<&[u8]>,
        _mode: Option<u16>,
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The names `listxattr(2)` returns: each as its prefix, its name and a
/// NUL, into the caller's buffer or, when it has none, only counted.
pub(crate) struct Names<'a> {
    buf: Option<&'a mut [u8]>,
    len: usize,
    trusted: bool,
}

impl Names<'_> {
    /// Adds attribute `name` of namespace `ns`: ERANGE if the buffer is
    /// too small. The names of `trusted.` are listed only to a caller with
    /// CAP_SYS_ADMIN (as `xattr_handler::list` says for ext2 and ext4).
    pub(crate) fn add(&mut self, ns: Namespace, name: &[u8]) -> Result {
        if ns == Namespace::Trusted && !self.trusted {
            return Ok(());
        }
        let prefix = ns.prefix().as_bytes();
        let len = prefix.len() + name.len() + 1;
        if let Some(buf) = self.buf.as_deref_mut() {
            let to = buf.get_mut(self.len..self.len + len).ok_or(ERANGE)?;
            to[..prefix.len()].copy_from_slice(prefix);
            to[prefix.len()..len - 1].copy_from_slice(name);
            to[len - 1] = 0;
        }
        self.len += len;
        Ok(())
    }

    /// Adds the name of the inode's ACL of type `ty`.
    pub(crate) fn add_acl(&mut self, ty: AclType) -> Result {
        let name = ty.name().as_bytes_with_nul();
        if let Some(buf) = self.buf.as_deref_mut() {
            buf.get_mut(self.len..self.len + name.len())
                .ok_or(ERANGE)?
                .copy_from_slice(name);
        }
        self.len += name.len();
        Ok(())
    }
}

/// The `xattr_handler`s of a filesystem and its `listxattr`, built at
/// compile time from an [`Operations`] implementation.
///
/// # Invariants
///
/// `handlers` is a static, NULL-terminated array of static handlers whose
/// callbacks, and `listxattr`, expect the objects of filesystem `T`.
pub(crate) struct Handlers<T: FsData> {
    handlers: &'static [*const sys::xattr_handler; 4],
    pub(super) listxattr: ListXattr,
    pub(super) get_inode_acl: Option<GetInodeAcl>,
    pub(super) set_acl: Option<SetAcl>,
    _fs: PhantomData<T>,
}

/// The type of `inode_operations::listxattr`.
pub(super) type ListXattr = unsafe extern "C" fn(*mut sys::dentry, *mut c_char, usize) -> isize;
/// The type of `inode_operations::get_inode_acl`.
pub(super) type GetInodeAcl =
    unsafe extern "C" fn(*mut sys::inode, c_int, bool) -> *mut sys::posix_acl;
/// The type of `inode_operations::set_acl`.
pub(super) type SetAcl = unsafe extern "C" fn(
    *mut sys::mnt_idmap,
    *mut sys::dentry,
    *mut sys::posix_acl,
    c_int,
) -> c_int;

impl<T: FsData> Clone for Handlers<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: FsData> Copy for Handlers<T> {}

impl<T: FsData> Handlers<T> {
    /// The handlers of `U`.
    pub(crate) const fn new<U: Operations<FileSystem = T>>() -> Self {
        // INVARIANT: The tables of `Table::<U>` call `U`, whose filesystem
        // is `T`.
        let acls = U::HAS_GET_ACL && U::HAS_SET_ACL;
        Self {
            handlers: &Table::<U>::HANDLERS,
            listxattr: Table::<U>::listxattr,
            get_inode_acl: if acls {
                Some(Table::<U>::get_inode_acl)
            } else {
                None
            },
            set_acl: if acls {
                Some(Table::<U>::set_acl)
            } else {
                None
            },
            _fs: PhantomData,
        }
    }

    /// Whether the filesystem has POSIX ACLs (`SB_POSIXACL`).
    pub(super) fn posix_acls(self) -> bool {
        self.set_acl.is_some()
    }

    /// The value of `sb->s_xattr`.
    pub(super) fn as_raw(self) -> *const *const sys::xattr_handler {
        self.handlers.as_ptr()
    }
}

/// The C tables of an [`Operations`] implementation, and its trampolines.
struct Table<U>(PhantomData<U>);

impl<U: Operations> Table<U> {
    const fn handler(ns: Namespace) -> sys::xattr_handler {
        sys::xattr_handler {
            name: core::ptr::null(),
            prefix: ns.prefix().as_char_ptr(),
            flags: ns as c_int,
            list: None,
            get: Some(Self::get),
            set: Some(Self::set),
        }
    }

    const USER: sys::xattr_handler = Self::handler(Namespace::ALL[0]);
    const TRUSTED: sys::xattr_handler = Self::handler(Namespace::ALL[1]);
    const SECURITY: sys::xattr_handler = Self::handler(Namespace::ALL[2]);
    const HANDLERS: [*const sys::xattr_handler; 4] = [
        &Self::USER,
        &Self::TRUSTED,
        &Self::SECURITY,
        core::ptr::null(),
    ];

    /// The namespace of one of our handlers.
    ///
    /// # Safety
    ///
    /// `handler` must be one of [`Self::HANDLERS`].
    unsafe fn namespace(handler: *const sys::xattr_handler) -> Namespace {
        // SAFETY: `handler` is one of ours, valid and static (safety
        // requirement), and its `flags` is the index of its namespace.
        Namespace::ALL[unsafe { (*handler).flags } as usize]
    }

    /// `xattr_handler::get`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with one of our handlers, a referenced inode of
    /// ours, a NUL-terminated name, and `buffer` valid for `size` bytes
    /// unless `size` is 0.
    unsafe extern "C" fn get(
        handler: *const sys::xattr_handler,
        _dentry: *mut sys::dentry,
        inode: *mut sys::inode,
        name: *const c_char,
        buffer: *mut c_void,
        size: usize,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The VFS passes one of our handlers.
            let ns = unsafe { Self::namespace(handler) };
            // SAFETY: `inode` is a referenced inode of ours.
            let inode = unsafe { Inode::<U::FileSystem>::from_raw(inode) };
            // SAFETY: `name` is NUL-terminated and outlives this call.
            let name = unsafe { CStr::from_char_ptr(name) }.as_bytes();
            let value: &mut [u8] = if size == 0 || buffer.is_null() {
                &mut []
            } else {
                // SAFETY: `buffer` is valid for `size` bytes, which nothing
                // else touches during the call.
                unsafe { core::slice::from_raw_parts_mut(buffer.cast(), size) }
            };
            let len = U::get(inode, ns, name, value)?;
            c_int::try_from(len).map_err(|_| ERANGE)
        })
    }

    /// `xattr_handler::set`: a NULL `value` removes the attribute.
    ///
    /// # Safety
    ///
    /// Called by the VFS with one of our handlers, a referenced inode of
    /// ours whose lock it holds, a NUL-terminated name, and `value` valid
    /// for `size` bytes unless it is NULL.
    unsafe extern "C" fn set(
        handler: *const sys::xattr_handler,
        _idmap: *mut sys::mnt_idmap,
        _dentry: *mut sys::dentry,
        inode: *mut sys::inode,
        name: *const c_char,
        value: *const c_void,
        size: usize,
        flags: c_int,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The VFS passes one of our handlers.
            let ns = unsafe { Self::namespace(handler) };
            // SAFETY: `inode` is a referenced inode of ours, and the VFS
            // holds its lock for the call (`vfs_setxattr`,
            // `vfs_removexattr`).
            let inode = unsafe { Locked::new(Inode::<U::FileSystem>::from_raw(inode)) };
            // SAFETY: `name` is NUL-terminated and outlives this call.
            let name = unsafe { CStr::from_char_ptr(name) }.as_bytes();
            let value = if value.is_null() {
                None
            } else if size == 0 {
                Some(&[][..])
            } else {
                // SAFETY: `value` is valid for `size` bytes for the call.
                Some(unsafe { core::slice::from_raw_parts(value.cast::<u8>(), size) })
            };
            let flags = flags as u32;
            let (create, replace) = (
                flags & sys::XATTR_CREATE != 0,
                flags & sys::XATTR_REPLACE != 0,
            );
            let mode = match (value.is_some(), create, replace) {
                (false, _, _) | (true, false, true) => SetMode::Replace,
                (true, true, true) => SetMode::Both,
                (true, true, false) => SetMode::Create,
                (true, false, false) => SetMode::Any,
            };
            U::set(inode, ns, name, value, mode)?;
            Ok(0)
        })
    }

    /// `inode_operations::listxattr`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a positive dentry of ours, and `buffer`
    /// valid for `size` bytes unless `size` is 0.
    unsafe extern "C" fn listxattr(
        dentry: *mut sys::dentry,
        buffer: *mut c_char,
        size: usize,
    ) -> isize {
        // SAFETY: `dentry` is a valid positive dentry of ours, so its
        // inode is a live, referenced inode of ours.
        let inode = unsafe { Inode::<U::FileSystem>::from_raw((*dentry).d_inode) };
        let buf: Option<&mut [u8]> = if size == 0 || buffer.is_null() {
            None
        } else {
            // SAFETY: `buffer` is valid for `size` bytes, which nothing else
            // touches during the call.
            Some(unsafe { core::slice::from_raw_parts_mut(buffer.cast(), size) })
        };
        let mut names = Names {
            buf,
            len: 0,
            // SAFETY: Asks about the current task only.
            trusted: unsafe { sys::rsfs_capable_sys_admin() },
        };
        match U::list(inode, &mut names) {
            Ok(()) => names.len as isize,
            Err(e) => e.to_errno() as isize,
        }
    }
}
