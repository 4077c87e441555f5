// SPDX-License-Identifier: GPL-2.0

//! Filesystem types: the [`FileSystem`] trait and its [`Registration`].
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h).

use core::{
    marker::PhantomData,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    error::{from_result, to_result},
    prelude::*,
    types::{ARef, ForeignOwnable, Opaque},
};

use super::{inode::Inode, super_block, sys, SuperBlock};

/// A block-device filesystem.
///
/// The optional methods become entries of the superblock's
/// `super_operations`; `HAS_*` says which ones the implementation provides.
#[vtable]
pub(crate) trait FileSystem: Sized + Send + Sync + 'static {
    /// The name under which the filesystem type is registered.
    const NAME: &'static CStr;

    /// Per-mount state, owned by the superblock (`s_fs_info`) from the
    /// moment [`FileSystem::fill_super`] returns it until the superblock is
    /// destroyed.
    type Info: Send + Sync;

    /// Reads and checks the on-disk superblock and returns the state of the
    /// new mount. Called once per mount, with the block device open.
    fn fill_super(sb: &SuperBlock<Self, super_block::New>) -> Result<Self::Info>;

    /// Returns the root directory's inode. Called right after
    /// [`FileSystem::fill_super`] succeeds.
    fn root(sb: &SuperBlock<Self>) -> Result<ARef<Inode<Self>>>;

    /// Reports usage for `statfs(2)`.
    fn statfs(_sb: &SuperBlock<Self>) -> Result<super_block::StatFs> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

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
pub(crate) struct FsTypeStorage {
    fs_type: Opaque<sys::file_system_type>,
    in_use: AtomicBool,
}

// SAFETY: the only access to `fs_type` goes through the one `Registration`
// that owns it (see the invariant), and the kernel's own accesses are
// serialised by the filesystem-type list lock.
unsafe impl Sync for FsTypeStorage {}

impl FsTypeStorage {
    /// Storage for one filesystem type, not yet registered.
    pub(crate) const fn new() -> Self {
        Self {
            fs_type: Opaque::uninit(),
            in_use: AtomicBool::new(false),
        }
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
            (*fs).fs_flags = sys::FS_REQUIRES_DEV as i32;
            (*fs).init_fs_context = Some(Tables::<T>::init_fs_context);
            (*fs).kill_sb = Some(Tables::<T>::kill_sb);
        }
        // SAFETY: `fs` is a fully initialised filesystem type in static
        // storage, and stays untouched until `unregister_filesystem`.
        if let Err(e) = to_result(unsafe { sys::register_filesystem(fs) }) {
            storage.in_use.store(false, Ordering::Release);
            return Err(e);
        }
        // INVARIANT: registered above, and `in_use` is set.
        Ok(Self { storage })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the type is registered. The VFS
        // holds a reference on the module for every mounted superblock, so
        // no superblock of this type exists once the module is unloading.
        unsafe { sys::unregister_filesystem(self.storage.fs_type.get()) };
        self.storage.in_use.store(false, Ordering::Release);
    }
}

/// The C callback tables of filesystem `T`, built at compile time.
struct Tables<T>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    const CONTEXT_OPS: sys::fs_context_operations = sys::fs_context_operations {
        free: None,
        dup: None,
        parse_param: None,
        parse_monolithic: None,
        get_tree: Some(Self::get_tree),
        reconfigure: None,
    };

    const SUPER_OPS: sys::super_operations = sys::super_operations {
        statfs: if T::HAS_STATFS {
            Some(Self::statfs)
        } else {
            None
        },
        // SAFETY: all-zero is a valid `super_operations`: every field is an
        // optional function pointer.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// `file_system_type::init_fs_context`.
    ///
    /// # Safety
    ///
    /// `fc` must be a valid filesystem context being set up by the VFS.
    unsafe extern "C" fn init_fs_context(fc: *mut sys::fs_context) -> kernel::ffi::c_int {
        // Without `parse_param`, the VFS accepts only the "source" option and
        // rejects any other with EINVAL.
        // SAFETY: `fc` is valid per the function's safety requirement, and
        // `CONTEXT_OPS` is a promoted constant, so it lives forever.
        unsafe { (*fc).ops = &Self::CONTEXT_OPS };
        0
    }

    /// `fs_context_operations::get_tree`.
    ///
    /// # Safety
    ///
    /// `fc` must be a valid filesystem context for this filesystem type.
    unsafe extern "C" fn get_tree(fc: *mut sys::fs_context) -> kernel::ffi::c_int {
        // SAFETY: `fc` is valid per the function's safety requirement.
        unsafe { sys::get_tree_bdev(fc, Some(Self::fill_super)) }
    }

    /// The `fill_super` callback of `get_tree_bdev`.
    ///
    /// # Safety
    ///
    /// `sb` must be a new superblock of this type whose block device is
    /// open, with `s_umount` held for writing, as `get_tree_bdev` provides.
    unsafe extern "C" fn fill_super(
        sb: *mut sys::super_block,
        _fc: *mut sys::fs_context,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: `sb` is a new superblock per the function's safety
            // requirement; `s_fs_info` is null until set below.
            let new_sb = unsafe { SuperBlock::<T, super_block::New>::from_raw(sb) };
            // SAFETY: `sb` is valid, and its fields are ours to set until
            // `fill_super` returns.
            unsafe {
                (*sb).s_op = &Self::SUPER_OPS;
                (*sb).s_time_gran = 1;
            }
            let info = T::fill_super(new_sb)?;
            let info = KBox::new(info, GFP_KERNEL)?;
            // SAFETY: as above. From here on the superblock owns `info`;
            // `kill_sb` frees it, on this function's error paths too.
            unsafe { (*sb).s_fs_info = info.into_foreign() as *mut _ };
            // SAFETY: `s_fs_info` now holds a `KBox<T::Info>`.
            let sb = unsafe { SuperBlock::<T>::from_raw(sb) };
            let root = T::root(sb)?;
            // SAFETY: `d_make_root` takes over the inode reference, and
            // drops it itself if it fails.
            let dentry = unsafe { sys::d_make_root(ARef::into_raw(root).as_ptr().cast()) };
            if dentry.is_null() {
                return Err(ENOMEM);
            }
            // SAFETY: the superblock is being set up and `s_root` is ours.
            unsafe { (*sb.as_raw()).s_root = dentry };
            Ok(0)
        })
    }

    /// `file_system_type::kill_sb`.
    ///
    /// # Safety
    ///
    /// `sb` must be a superblock of this type that the VFS is destroying.
    unsafe extern "C" fn kill_sb(sb: *mut sys::super_block) {
        // SAFETY: `sb` is valid per the function's safety requirement; it
        // was set up by `get_tree_bdev`.
        let info = unsafe {
            sys::kill_block_super(sb);
            (*sb).s_fs_info
        };
        if !info.is_null() {
            // SAFETY: a non-null `s_fs_info` was set by `fill_super` from
            // `KBox::into_foreign`, and nothing uses it after
            // `kill_block_super` has shut the superblock down.
            drop(unsafe { KBox::<T::Info>::from_foreign(info) });
        }
    }

    /// `super_operations::statfs`.
    ///
    /// # Safety
    ///
    /// `dentry` must be a valid dentry of a mounted filesystem of this type,
    /// and `buf` valid for writes.
    unsafe extern "C" fn statfs(
        dentry: *mut sys::dentry,
        buf: *mut sys::kstatfs,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: per the safety requirement, `dentry` belongs to a
            // mounted superblock of type `T`, whose `s_fs_info` is set.
            let sb = unsafe { SuperBlock::<T>::from_raw((*dentry).d_sb) };
            let st = T::statfs(sb)?;
            // SAFETY: `buf` is valid for writes per the safety requirement.
            unsafe {
                (*buf).f_type = sb.magic() as _;
                (*buf).f_bsize = st.block_size as _;
                (*buf).f_frsize = st.block_size as _;
                (*buf).f_blocks = st.blocks;
                (*buf).f_bfree = st.free_blocks;
                (*buf).f_bavail = st.free_blocks;
                (*buf).f_files = st.inodes;
                (*buf).f_ffree = st.free_inodes;
                (*buf).f_namelen = st.name_max as _;
                (*buf).f_fsid.val = st.fsid;
            }
            Ok(0)
        })
    }
}
