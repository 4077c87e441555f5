// SPDX-License-Identifier: GPL-2.0

//! The trampolines of the namespace entries of an `inode_operations`
//! table (`lookup`, `create`, `mkdir`, `symlink`, `mknod`, `tmpfile`,
//! `link`, `unlink`, `rmdir`, `rename`): each finds the names and inodes
//! in the dentries the VFS passes, calls the filesystem's
//! [`Operations`] method, and ties the result to the dentry.

use core::ptr::NonNull;
use kernel::{
    error::{from_result, to_result},
    prelude::*,
};

use super::{
    dentry_inode, sys, Inode, Locked, Operations, Owner, RenameFlags, RenameTarget, Table,
};

impl<U: Operations> Table<U> {
    /// `inode_operations::lookup`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with `dir` locked (shared) and `dentry` a negative
    /// dentry in it.
    pub(super) unsafe extern "C" fn lookup(
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
        _flags: kernel::ffi::c_uint,
    ) -> *mut sys::dentry {
        // SAFETY: `dir` is a live directory of ours, locked, and `dentry` in
        // it, so its name is stable, as the caller guarantees.
        let (d, name) = unsafe { (Inode::<U::FileSystem>::from_raw(dir), dentry_name(dentry)) };
        match U::lookup(d, name) {
            // SAFETY: `d_splice_alias` takes over the inode reference (or
            // NULL for a negative entry).
            Ok(inode) => unsafe {
                sys::d_splice_alias(
                    inode.map_or(core::ptr::null_mut(), |i| i.into_raw()),
                    dentry,
                )
            },
            Err(e) => e.to_ptr(),
        }
    }

    /// Shared by `create`, `mkdir` and `symlink`.
    ///
    /// # Safety
    ///
    /// As for `inode_operations::create`.
    unsafe fn do_create(
        idmap: *mut sys::mnt_idmap,
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
        mode: u16,
        target: Option<&[u8]>,
        rdev: u32,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: `dir` is a live directory of ours, locked, and `dentry` in
            // it, so its name is stable, as the caller guarantees.
            let (d, name) = unsafe { (Inode::<U::FileSystem>::from_raw(dir), dentry_name(dentry)) };
            let owner = Owner::new(idmap, dir);
            // SAFETY: The VFS holds `dir` locked for `create`, `mkdir`,
            // `mknod` and `symlink`.
            let created = U::create(unsafe { Locked::new(d) }, name, mode, target, rdev, &owner)?;
            // SAFETY: `created` is a new, initialised inode with a reference
            // we own; `d_instantiate_new` takes the reference and unlocks it.
            unsafe { sys::d_instantiate_new(dentry, created.into_raw()) };
            Ok(0)
        })
    }

    /// `inode_operations::create`.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    pub(super) unsafe extern "C" fn create(
        idmap: *mut sys::mnt_idmap,
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
        mode: sys::umode_t,
        _excl: bool,
    ) -> kernel::ffi::c_int {
        // SAFETY: The VFS calls `create` with its locks held.
        unsafe { Self::do_create(idmap, dir, dentry, mode, None, 0) }
    }

    /// `inode_operations::tmpfile`: `O_TMPFILE`.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with `dir` locked and `file` being opened
    /// on a new negative dentry in it.
    pub(super) unsafe extern "C" fn tmpfile(
        idmap: *mut sys::mnt_idmap,
        dir: *mut sys::inode,
        file: *mut sys::file,
        mode: sys::umode_t,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: `dir` is one of our initialised inodes (safety
            // requirement).
            let d = unsafe { Inode::<U::FileSystem>::from_raw(dir) };
            let owner = Owner::new(idmap, dir);
            // SAFETY: The VFS holds `dir` locked for `tmpfile`.
            let raw = U::tmpfile(unsafe { Locked::new(d) }, mode, &owner)?.into_raw();
            // SAFETY: `raw` is a new, locked inode with a reference we own;
            // `d_tmpfile` drops its one link, marks it linkable, and gives
            // the reference to the file's dentry. The inode is then fully
            // set up, so it is unlocked.
            unsafe {
                sys::d_tmpfile(file, raw);
                sys::unlock_new_inode(raw);
            }
            // SAFETY: `file` is being opened and now has its inode.
            to_result(unsafe { sys::rsfs_finish_open_simple(file) })?;
            Ok(0)
        })
    }

    /// `inode_operations::mkdir`.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    pub(super) unsafe extern "C" fn mkdir(
        idmap: *mut sys::mnt_idmap,
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
        mode: sys::umode_t,
    ) -> kernel::ffi::c_int {
        // SAFETY: The VFS calls `mkdir` with its locks held.
        unsafe { Self::do_create(idmap, dir, dentry, mode | sys::S_IFDIR as u16, None, 0) }
    }

    /// `inode_operations::symlink`.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    pub(super) unsafe extern "C" fn symlink(
        idmap: *mut sys::mnt_idmap,
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
        target: *const kernel::ffi::c_char,
    ) -> kernel::ffi::c_int {
        // SAFETY: The VFS passes a NUL-terminated target that stays valid
        // for the call.
        let target = unsafe { CStr::from_char_ptr(target) }.as_bytes();
        // SAFETY: The VFS calls `symlink` with its locks held.
        unsafe {
            Self::do_create(
                idmap,
                dir,
                dentry,
                (sys::S_IFLNK | 0o777) as u16,
                Some(target),
                0,
            )
        }
    }

    /// `inode_operations::mknod`: devices, pipes and sockets. (The VFS
    /// sends regular files made by `mknod(2)` to `create`.)
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    pub(super) unsafe extern "C" fn mknod(
        idmap: *mut sys::mnt_idmap,
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
        mode: sys::umode_t,
        dev: sys::dev_t,
    ) -> kernel::ffi::c_int {
        // SAFETY: Encoding a device number has no requirement.
        let rdev = unsafe { sys::rsfs_encode_dev(dev) };
        // SAFETY: The VFS calls `mknod` with its locks held.
        unsafe { Self::do_create(idmap, dir, dentry, mode, None, rdev) }
    }

    /// `inode_operations::link`.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    pub(super) unsafe extern "C" fn link(
        old: *mut sys::dentry,
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: The VFS holds `dir` and the source inode locked, and
            // `old` is positive.
            let (inode, d, name) = unsafe {
                (
                    dentry_inode::<U::FileSystem>(old),
                    Inode::<U::FileSystem>::from_raw(dir),
                    dentry_name(dentry),
                )
            };
            // SAFETY: As above: both are locked.
            let (locked_inode, locked_dir) = unsafe { (Locked::new(inode), Locked::new(d)) };
            U::link(locked_inode, locked_dir, name)?;
            // SAFETY: The new dentry takes a reference of its own.
            unsafe {
                sys::ihold(inode.as_raw());
                sys::d_instantiate(dentry, inode.as_raw());
            }
            Ok(0)
        })
    }

    /// `inode_operations::unlink` and `rmdir`.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    pub(super) unsafe extern "C" fn unlink(
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: The VFS holds `dir` and the victim locked, and
            // `dentry` is positive.
            let (d, name, inode) = unsafe {
                (
                    Inode::<U::FileSystem>::from_raw(dir),
                    dentry_name(dentry),
                    dentry_inode::<U::FileSystem>(dentry),
                )
            };
            // SAFETY: As above: both are locked.
            let (locked_dir, locked_inode) = unsafe { (Locked::new(d), Locked::new(inode)) };
            U::unlink(locked_dir, name, locked_inode)?;
            Ok(0)
        })
    }

    /// `inode_operations::rename`.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    pub(super) unsafe extern "C" fn rename(
        idmap: *mut sys::mnt_idmap,
        old_dir: *mut sys::inode,
        old_dentry: *mut sys::dentry,
        new_dir: *mut sys::inode,
        new_dentry: *mut sys::dentry,
        flags: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // A whiteout is made in the old directory, as `vfs_whiteout`
            // makes one with `mknod`.
            let owner = Owner::new(idmap, old_dir);
            let flags = RenameFlags::new(flags, &owner);
            // SAFETY: The VFS holds both directories locked
            // (`lock_rename`); the dentries are valid, `old_dentry` positive,
            // and their names and inodes stable under those locks. Without
            // RENAME_EXCHANGE it also holds the target inode locked
            // (`vfs_rename`).
            unsafe {
                let new = NonNull::new((*new_dentry).d_inode)
                    .map(|i| Inode::<U::FileSystem>::from_raw(i.as_ptr()));
                let target = match new {
                    None if flags.exchange() => return Err(ENOENT),
                    None => RenameTarget::Free,
                    Some(i) if flags.exchange() => RenameTarget::Exchange(i),
                    Some(i) => RenameTarget::Replace(Locked::new(i)),
                };
                U::rename(
                    Locked::new(Inode::<U::FileSystem>::from_raw(old_dir)),
                    dentry_name(old_dentry),
                    dentry_inode::<U::FileSystem>(old_dentry),
                    Locked::new(Inode::<U::FileSystem>::from_raw(new_dir)),
                    dentry_name(new_dentry),
                    target,
                    flags,
                )?;
            }
            Ok(0)
        })
    }
}

/// The bytes of a dentry's name.
///
/// # Safety
///
/// `dentry` must be valid, and its name stable (the caller holds the parent
/// directory's lock) for `'a`.
unsafe fn dentry_name<'a>(dentry: *mut sys::dentry) -> &'a [u8] {
    let mut len = 0u32;
    // SAFETY: `dentry` is valid, as the caller guarantees, and `len` a
    // local to write.
    let name = unsafe { sys::rsfs_dentry_name(dentry, &mut len) };
    // SAFETY: `d_name` is `len` bytes long and stable, as the caller guarantees.
    unsafe { core::slice::from_raw_parts(name, len as usize) }
}
