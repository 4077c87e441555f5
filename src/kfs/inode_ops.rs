// SPDX-License-Identifier: GPL-2.0

//! Inode operations: the namespace of a directory, and the attributes,
//! extents and link target of any inode (`struct inode_operations`).
//!
//! A filesystem implements [`Operations`] once per kind of inode that
//! needs its own table (directories, regular files, symlinks, special
//! files), and gives [`Ops::new`] of it to each inode as it initialises it
//! ([`super::new_inode::NewInode::init`]). Every method is optional (`HAS_*`);
//! `setattr` is always there, so that a size change never bypasses the
//! filesystem.
//!
//! The VFS calls these with the locks that
//! `Documentation/filesystems/locking.rst` describes: the parent
//! directory's `i_rwsem` exclusively for changes to it, and shared for
//! `lookup`; the inode's own for `setattr` and `fileattr_set`.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use core::marker::PhantomData;
use kernel::{
    error::{from_result, to_result},
    prelude::*,
};

use super::{
    dir::{RenameFlags, RenameTarget},
    io::Fiemap,
    lock::Locked,
    new_inode::{Created, Owner},
    ops::if_has,
    sys, FileSystem, FsData, Inode, InodeRef,
};

mod attributes;
mod namespace;

/// The inode operations of one kind of inode of a filesystem.
#[vtable]
pub(crate) trait Operations {
    /// The filesystem whose inodes these are.
    type FileSystem: FileSystem;

    /// The `chattr(1)` flags (`FS_*_FL`) these inodes support; see
    /// [`Operations::flags`].
    const FLAGS: u32 = 0;

    /// Whether these inodes do direct I/O (through kfs's iomap helper, so
    /// with iomap's rules): `statx(2)` then reports its alignment
    /// (`STATX_DIOALIGN`): buffers to the device's DMA alignment, offsets
    /// and lengths to its logical block size, as ext4 reports them.
    const DIRECT_IO: bool = false;

    /// Looks `name` up in directory `dir`: its inode, or `None` for a
    /// negative entry.
    fn lookup(
        _dir: &Inode<Self::FileSystem>,
        _name: &[u8],
    ) -> Result<Option<InodeRef<Self::FileSystem>>> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Creates `name` in directory `dir`: a regular file, directory, device,
    /// pipe or socket as `mode` says (`rdev`: the device, encoded as on
    /// disk), or a symlink to `target`. Called for `create`, `mkdir`,
    /// `mknod` and `symlink`.
    fn create(
        _dir: Locked<'_, Self::FileSystem>,
        _name: &[u8],
        _mode: u16,
        _target: Option<&[u8]>,
        _rdev: u32,
        _owner: &Owner,
    ) -> Result<Created<Self::FileSystem>> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Creates a regular file of mode `mode` with no name, in `dir`
    /// (`open(2)` with `O_TMPFILE`). It is returned with one link, which
    /// the VFS drops at once: the file is freed on its last close unless
    /// `linkat(2)` names it first ([`Operations::link`] with a link count
    /// of 0).
    fn tmpfile(
        _dir: Locked<'_, Self::FileSystem>,
        _mode: u16,
        _owner: &Owner,
    ) -> Result<Created<Self::FileSystem>> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Adds the name `name` in `dir` for `inode` (`link(2)`).
    fn link(
        _inode: Locked<'_, Self::FileSystem>,
        _dir: Locked<'_, Self::FileSystem>,
        _name: &[u8],
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Removes the name `name` of `inode` from `dir`: `unlink(2)`, and
    /// `rmdir(2)` (the VFS has checked that `inode` is a directory).
    fn unlink(
        _dir: Locked<'_, Self::FileSystem>,
        _name: &[u8],
        _inode: Locked<'_, Self::FileSystem>,
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `rename(2)` and `renameat2(2)` of `old` from `old_name` in `old_dir`
    /// to `new_name` in `new_dir`, whose inode, if it exists, is `new`. Both
    /// directories are locked; `old` is locked unless it is a directory
    /// (`vfs_rename`).
    /// With [`RenameFlags::whiteout`], the old name is left holding a new
    /// whiteout, which the filesystem makes (as a device, with that owner)
    /// and hands back with [`Created::release`](super::Created::release).
    #[allow(clippy::too_many_arguments)]
    fn rename(
        _old_dir: Locked<'_, Self::FileSystem>,
        _old_name: &[u8],
        _old: &Inode<Self::FileSystem>,
        _new_dir: Locked<'_, Self::FileSystem>,
        _new_name: &[u8],
        _new: RenameTarget<'_, Self::FileSystem>,
        _flags: RenameFlags<'_>,
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Changes the size of a file (`truncate(2)`, `O_TRUNC`), under its
    /// lock.
    fn set_size(_inode: Locked<'_, Self::FileSystem>, _size: u64) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The inode's `chattr(1)` flags (`FS_IOC_GETFLAGS`, and `statx(2)`'s
    /// attributes).
    fn flags(_inode: &Inode<Self::FileSystem>) -> u32 {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Sets the inode's `chattr(1)` flags (`FS_IOC_SETFLAGS`), all of them
    /// within [`Operations::FLAGS`] (others get EOPNOTSUPP before this is
    /// called). Called with the inode locked, once the VFS has checked the
    /// caller may (CAP_LINUX_IMMUTABLE for IMMUTABLE and APPEND).
    fn set_flags(_inode: Locked<'_, Self::FileSystem>, _flags: u32) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `FS_IOC_FIEMAP`: reports, through `fiemap`, the extents that overlap
    /// bytes `start..start + len`. Called with the inode locked.
    fn fiemap(
        _inode: &Inode<Self::FileSystem>,
        _fiemap: &mut Fiemap<'_>,
        _start: u64,
        _len: u64,
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `FS_IOC_FIEMAP` with FIEMAP_FLAG_XATTR: reports, through `fiemap`,
    /// where the inode's extended attributes are on disk, as extents of
    /// their own space starting at 0, of which bytes `start..start + len`
    /// were asked for. Called with the inode locked, and only for a
    /// filesystem that also has [`Operations::fiemap`], whose trampoline
    /// takes both.
    fn fiemap_xattr(
        _inode: &Inode<Self::FileSystem>,
        _fiemap: &mut Fiemap<'_>,
        _start: u64,
        _len: u64,
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The target of a symlink, living as long as the inode's data.
    fn get_link(_inode: &Inode<Self::FileSystem>) -> Result<&[u8]> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// An `inode_operations` table for inodes of filesystem `T`, built at
/// compile time from an [`Operations`] implementation.
pub(crate) type Ops<T> = super::ops::Ops<sys::inode_operations, T>;

impl<T: FsData> Ops<T> {
    /// The table of `U`'s operations.
    pub(crate) const fn new<U: Operations<FileSystem = T>>() -> Self {
        // SAFETY: `Table::<U>::TABLE` is a promoted constant whose callbacks
        // expect the objects of `U::FileSystem`, which is `T`.
        unsafe { Self::from_table(&Table::<U>::TABLE) }
    }
}

/// The C table of an [`Operations`] implementation, and its trampolines.
struct Table<U>(PhantomData<U>);

impl<U: Operations> Table<U> {
    const TABLE: sys::inode_operations = sys::inode_operations {
        lookup: if_has(U::HAS_LOOKUP, Self::lookup),
        create: if_has(U::HAS_CREATE, Self::create),
        mkdir: if_has(U::HAS_CREATE, Self::mkdir),
        symlink: if_has(U::HAS_CREATE, Self::symlink),
        mknod: if_has(U::HAS_CREATE, Self::mknod),
        link: if_has(U::HAS_LINK, Self::link),
        unlink: if_has(U::HAS_UNLINK, Self::unlink),
        rmdir: if_has(U::HAS_UNLINK, Self::unlink),
        rename: if_has(U::HAS_RENAME, Self::rename),
        tmpfile: if_has(U::HAS_TMPFILE, Self::tmpfile),
        setattr: Some(Self::setattr),
        getattr: if_has(U::HAS_FLAGS, Self::getattr),
        fileattr_get: if_has(U::HAS_FLAGS, Self::fileattr_get),
        fileattr_set: if_has(U::HAS_SET_FLAGS, Self::fileattr_set),
        fiemap: if_has(U::HAS_FIEMAP, Self::fiemap),
        get_link: if_has(U::HAS_GET_LINK, Self::get_link),
        listxattr: match <U::FileSystem as FileSystem>::XATTRS {
            Some(h) => Some(h.listxattr),
            None => None,
        },
        get_inode_acl: match <U::FileSystem as FileSystem>::XATTRS {
            Some(h) => h.get_inode_acl,
            None => None,
        },
        set_acl: match <U::FileSystem as FileSystem>::XATTRS {
            Some(h) => h.set_acl,
            None => None,
        },
        // SAFETY: All-zero is a valid `inode_operations`: every field is an
        // optional function pointer.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// `inode_operations::setattr`: the VFS checks the change, the
    /// filesystem resizes the file if asked ([`Operations::set_size`]; EINVAL
    /// without it), then the new attributes are copied and written back.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    unsafe extern "C" fn setattr(
        idmap: *mut sys::mnt_idmap,
        dentry: *mut sys::dentry,
        attr: *mut sys::iattr,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: The VFS holds the inode locked; `dentry` is positive.
            let inode = unsafe { dentry_inode::<U::FileSystem>(dentry) };
            if U::FileSystem::is_shut_down(inode.super_block()) {
                return Err(EIO);
            }
            // SAFETY: All three pointers are valid per the VFS contract.
            to_result(unsafe { sys::setattr_prepare(idmap, dentry, attr) })?;
            // SAFETY: `attr` is valid.
            let (valid, size) = unsafe { ((*attr).ia_valid, (*attr).ia_size) };
            if valid & sys::RSFS_ATTR_SIZE != 0 && size as u64 != inode.size() {
                if !U::HAS_SET_SIZE {
                    return Err(EINVAL);
                }
                // SAFETY: The VFS holds the inode locked for `setattr`.
                U::set_size(unsafe { Locked::new(inode) }, size as u64)?;
            }
            // SAFETY: As above; `setattr_copy` copies the checked changes.
            unsafe { sys::setattr_copy(idmap, inode.as_raw(), attr) };
            inode.mark_dirty();
            let acls = <U::FileSystem as FileSystem>::XATTRS.is_some_and(|h| h.posix_acls());
            if valid & sys::RSFS_ATTR_MODE != 0 && acls {
                // SAFETY: As above; the access ACL follows the new mode
                // (through `set_acl`), as ext2's `setattr` has it follow.
                to_result(unsafe {
                    sys::posix_acl_chmod(idmap, dentry, (*inode.as_raw()).i_mode)
                })?;
            }
            Ok(0)
        })
    }

    /// `inode_operations::get_link`.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    unsafe extern "C" fn get_link(
        _dentry: *mut sys::dentry,
        inode: *mut sys::inode,
        _done: *mut sys::delayed_call,
    ) -> *const kernel::ffi::c_char {
        // SAFETY: The VFS passes an initialised symlink inode of ours, in
        // RCU mode too (with a NULL dentry): the target lives in the inode's
        // data, which is freed only after an RCU grace period.
        let inode = unsafe { Inode::<U::FileSystem>::from_raw(inode) };
        match U::get_link(inode) {
            Ok(target) => target.as_ptr().cast(),
            Err(e) => e.to_ptr(),
        }
    }

    /// `fiemap` of a regular file, under the inode lock as ext2 takes it:
    /// the range is checked and trimmed by `fiemap_prep` (which also writes
    /// the file back for FIEMAP_FLAG_SYNC, and refuses FIEMAP_FLAG_XATTR
    /// with EBADR unless there is an [`Operations::fiemap_xattr`]), then
    /// [`Operations::fiemap`] or [`Operations::fiemap_xattr`] reports the
    /// extents.
    ///
    /// # Safety
    ///
    /// Called by the VFS with one of our inodes, referenced, and a valid
    /// `fieinfo`.
    unsafe extern "C" fn fiemap(
        raw: *mut sys::inode,
        fieinfo: *mut sys::fiemap_extent_info,
        start: u64,
        len: u64,
    ) -> kernel::ffi::c_int {
        // SAFETY: `raw` is one of our initialised inodes (safety requirement).
        let inode = unsafe { Inode::<U::FileSystem>::from_raw(raw) };
        let mut len = len;
        // SAFETY: The inode is referenced; its lock keeps truncate and
        // writes out while the extents are reported.
        unsafe { sys::rsfs_inode_lock(raw) };
        let supported = if U::HAS_FIEMAP_XATTR {
            sys::FIEMAP_FLAG_XATTR
        } else {
            0
        };
        // SAFETY: Both pointers are valid (safety requirement).
        let r = kernel::error::to_result(unsafe {
            sys::fiemap_prep(raw, fieinfo, start, &mut len, supported)
        })
        .and_then(|()| {
            // Without `fiemap_xattr` the flag was refused above, and the
            // constant test leaves no call to the default that cannot build.
            let xattr = U::HAS_FIEMAP_XATTR
                // SAFETY: `fieinfo` is valid for this call (safety
                // requirement).
                && unsafe { (*fieinfo).fi_flags } & sys::FIEMAP_FLAG_XATTR != 0;
            // SAFETY: `fieinfo` is valid for this call, as the caller
            // guarantees, and `fiemap_prep` accepted it.
            let mut fiemap = unsafe { Fiemap::from_raw(fieinfo) };
            if xattr {
                U::fiemap_xattr(inode, &mut fiemap, start, len)
            } else {
                U::fiemap(inode, &mut fiemap, start, len)
            }
        });
        // SAFETY: Locked above.
        unsafe { sys::rsfs_inode_unlock(raw) };
        match r {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
}

/// The inode of a positive dentry.
///
/// # Safety
///
/// `dentry` must be a valid positive dentry of filesystem `T`, and stay so
/// for `'a`.
unsafe fn dentry_inode<'a, T: FsData>(dentry: *mut sys::dentry) -> &'a Inode<T> {
    // SAFETY: `dentry` is a valid positive dentry of `T`, as the caller
    // guarantees, so `d_inode` is a live, initialised inode of `T`.
    unsafe { Inode::from_raw((*dentry).d_inode) }
}
