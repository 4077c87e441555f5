// SPDX-License-Identifier: GPL-2.0

//! The registration of a filesystem type: [`FsTypeStorage`], the static
//! `struct file_system_type`, and [`Registration`], which registers it
//! with the VFS (and makes its debugfs directory, if it asks for one)
//! until dropped.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use kernel::{error::to_result, prelude::*, types::Opaque};

use super::{mount::Mount, sys, FileSystem, SuperBlock};

/// Static storage for a `struct file_system_type`.
///
/// A filesystem type must live in static memory: the lockdep class keys it
/// embeds (`s_lock_key`, `s_umount_key`, ...) are only valid there. A module
/// declares one `static` of this type per filesystem it registers.
///
/// # Invariants
///
/// `in_use` is true while a [`Registration`] owns `fs_type`; only that
/// registration reads or writes `fs_type` while it is set.
#[repr(C)]
pub(crate) struct FsTypeStorage {
    fs_type: Opaque<sys::file_system_type>,
    in_use: AtomicBool,
    debugfs: AtomicPtr<sys::dentry>,
}

// SAFETY: The only access to `fs_type` goes through the one `Registration`
// that owns it (see the invariant), and the kernel's own accesses are
// serialised by the filesystem-type list lock.
unsafe impl Sync for FsTypeStorage {}

impl FsTypeStorage {
    /// Storage for one filesystem type, not yet registered.
    pub(crate) const fn new() -> Self {
        Self {
            fs_type: Opaque::uninit(),
            in_use: AtomicBool::new(false),
            debugfs: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// The debugfs directory of the filesystem type of `sb`: null if it has
    /// none ([`FileSystem::DEBUGFS_DIR`]), or an error pointer if debugfs
    /// could not make it.
    pub(super) fn debugfs_root_of<T: FileSystem, S>(sb: &SuperBlock<T, S>) -> *mut sys::dentry {
        // SAFETY: Every superblock of a filesystem registered through a
        // `Registration` has `s_type` pointing at the `fs_type` field, the
        // first field of a `repr(C)` `FsTypeStorage`, which is static.
        let storage = unsafe { &*(*sb.as_raw()).s_type.cast::<FsTypeStorage>() };
        storage.debugfs.load(Ordering::Acquire)
    }
}

/// A registered filesystem type. Dropping it unregisters the type.
///
/// # Invariants
///
/// `storage.fs_type` is initialised and registered with the VFS for the
/// lifetime of this object, and `storage.in_use` is set.
pub(crate) struct Registration {
    storage: &'static FsTypeStorage,
}

impl Registration {
    /// Registers filesystem `T` in `storage`.
    pub(crate) fn new<T: FileSystem>(
        storage: &'static FsTypeStorage,
        module: &'static ThisModule,
    ) -> Result<Self> {
        if storage.in_use.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let fs = storage.fs_type.get();
        // SAFETY: `in_use` was false, so nothing else reads or writes the
        // storage, and `fs` is valid for writes of a `file_system_type`. An
        // all-zero `file_system_type` is valid: every field is a pointer,
        // an integer, a lock-class key or a list head (unused until
        // registration).
        unsafe {
            fs.write_bytes(0, 1);
            (*fs).name = T::NAME.as_char_ptr();
            (*fs).owner = module.as_ptr().cast();
            let idmap = if T::IDMAPPED_MOUNTS {
                sys::FS_ALLOW_IDMAP
            } else {
                0
            };
            (*fs).fs_flags = (sys::FS_REQUIRES_DEV | idmap) as i32;
            (*fs).init_fs_context = Some(Mount::<T>::init_fs_context);
            (*fs).kill_sb = Some(Mount::<T>::kill_sb);
        }
        // SAFETY: `fs` is a fully initialised filesystem type in static
        // storage, and stays untouched until `unregister_filesystem`.
        if let Err(e) = to_result(unsafe { sys::register_filesystem(fs) }) {
            storage.in_use.store(false, Ordering::Release);
            return Err(e);
        }
        if T::DEBUGFS_DIR {
            // SAFETY: The name is a static string; a failure gives an error
            // pointer, which debugfs accepts as a parent (and ignores).
            let dir =
                unsafe { sys::debugfs_create_dir(T::NAME.as_char_ptr(), core::ptr::null_mut()) };
            storage.debugfs.store(dir, Ordering::Release);
        }
        // INVARIANT: Registered above, and `in_use` is set.
        Ok(Self { storage })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the type is registered. The VFS
        // holds a reference on the module for every mounted superblock, so
        // no superblock of this type exists once the module is unloading.
        unsafe { sys::unregister_filesystem(self.storage.fs_type.get()) };
        let dir = self
            .storage
            .debugfs
            .swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: No superblock is left, so nothing is below the directory.
        unsafe { sys::debugfs_remove(dir) };
        self.storage.in_use.store(false, Ordering::Release);
    }
}
