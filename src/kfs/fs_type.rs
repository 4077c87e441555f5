// SPDX-License-Identifier: GPL-2.0

//! Filesystem types: the [`FileSystem`] trait, its [`Registration`], and
//! the C callback tables built from it.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h).

use core::{
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};
use kernel::{
    error::{from_result, to_result},
    prelude::*,
    types::{ForeignOwnable, Opaque},
};

use super::{
    address_space,
    dir::{Created, DirEmitter, Owner, RenameFlags},
    file::{Fallocate, Fiemap},
    inode::{FileType, InodeBox},
    super_block, sys, vm, Inode, InodeRef, SuperBlock,
};

/// A block-device filesystem.
///
/// The optional methods become entries of the C operation tables
/// (`super_operations`, `inode_operations`, `file_operations`); `HAS_*`
/// says which ones an implementation provides. The page cache and the
/// mappings of regular files have traits of their own
/// ([`address_space::Operations`], [`vm::Operations`]), whose tables the
/// filesystem names in [`FileSystem::FILE_AOPS`] and
/// [`FileSystem::FILE_VM_OPS`]. Namespace methods are called
/// with the VFS's locks held as `Documentation/filesystems/locking.rst`
/// describes: the parent directory's `i_rwsem` exclusively for changes, and
/// shared for `lookup` and `readdir`.
#[vtable]
pub(crate) trait FileSystem: Sized + Send + Sync + 'static {
    /// The name under which the filesystem type is registered.
    const NAME: &'static CStr;

    /// Per-mount state, owned by the superblock (`s_fs_info`) from the
    /// moment [`FileSystem::fill_super`] returns it until the superblock is
    /// destroyed.
    type Info: Send + Sync;

    /// Per-inode state, stored next to each VFS inode.
    type InodeData: Send + Sync;

    /// The page-cache operations of regular files.
    const FILE_AOPS: address_space::Ops<Self>;

    /// The operations of regular files' shared mappings.
    const FILE_VM_OPS: vm::Ops<Self>;

    /// Reads and checks the on-disk superblock and returns the state of the
    /// new mount. Called once per mount, with the block device open.
    fn fill_super(sb: &SuperBlock<Self, super_block::New>) -> Result<Pin<KBox<Self::Info>>>;

    /// Returns the root directory's inode. Called right after
    /// [`FileSystem::fill_super`] succeeds.
    fn root(sb: &SuperBlock<Self>) -> Result<InodeRef<Self>>;

    /// Reports usage for `statfs(2)`.
    fn statfs(_sb: &SuperBlock<Self>) -> Result<super_block::StatFs> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Writes the inode to disk; `sync` asks to wait for the write.
    fn write_inode(_inode: &Inode<Self>, _sync: bool) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The VFS (or the filesystem itself, through [`Inode::mark_dirty`])
    /// marked the inode's own fields dirty: a timestamp, the size, a link
    /// count. `datasync` says whether the change matters to `fdatasync`
    /// (`I_DIRTY_DATASYNC`: not timestamps alone). Not called for dirty
    /// pages alone, nor for timestamps that `lazytime` keeps in memory, nor
    /// for an inode still being set up. Called in process context, where it
    /// may sleep (ext4 starts a journal handle here).
    fn dirty_inode(_inode: &Inode<Self>, _datasync: bool) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called when the last reference to an inode goes away, after its page
    /// cache is gone and before it is cleared. An inode with no links left
    /// must release its disk space here.
    fn evict_inode(_inode: &Inode<Self>) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Writes the filesystem's own metadata (`sync(2)`, `syncfs(2)`).
    fn sync_fs(_sb: &SuperBlock<Self>, _wait: bool) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called at unmount, after every inode is gone.
    fn put_super(_sb: &SuperBlock<Self>) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Finds `name` in directory `dir`.
    fn lookup(_dir: &Inode<Self>, _name: &[u8]) -> Result<Option<InodeRef<Self>>> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The inode a file handle names (`open_by_handle_at(2)`, NFS): number
    /// `ino` of generation `generation`, or ESTALE if that inode is gone
    /// or its number now belongs to another. With this method the
    /// filesystem has `export_operations` ([`super::export`]).
    fn inode_for_handle(
        _sb: &SuperBlock<Self>,
        _ino: u64,
        _generation: u32,
    ) -> Result<InodeRef<Self>> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The `chattr(1)` flags (`FS_*_FL`) that [`FileSystem::set_flags`]
    /// accepts; others get EOPNOTSUPP before it is called.
    const FLAGS: u32 = 0;

    /// The `chattr(1)` flags of a regular file or directory (`FS_*_FL`).
    fn flags(_inode: &Inode<Self>) -> u32 {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Sets the `chattr(1)` flags of a regular file or directory, all of
    /// them within [`FileSystem::FLAGS`]. Called with the inode locked,
    /// once the VFS has checked the caller may (CAP_LINUX_IMMUTABLE for
    /// IMMUTABLE and APPEND).
    fn set_flags(_inode: &Inode<Self>, _flags: u32) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Lists directory `dir` from `emitter.pos()` on.
    fn readdir(_dir: &Inode<Self>, _emitter: &mut DirEmitter) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Creates an inode of type and permissions `mode` named `name` in
    /// `dir`: a regular file, a directory, a symlink (with `target`), or a
    /// device, pipe or socket (`mknod`; `rdev` is a device's number,
    /// encoded as `new_encode_dev` does, and 0 otherwise).
    fn create(
        _dir: &Inode<Self>,
        _name: &[u8],
        _mode: u16,
        _target: Option<&[u8]>,
        _rdev: u32,
        _owner: &Owner,
    ) -> Result<Created<Self>> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Creates a regular file of mode `mode` with no name, in `dir`
    /// (`open(2)` with `O_TMPFILE`). It is returned with one link, which
    /// the VFS drops at once: the file is freed on its last close unless
    /// `linkat(2)` names it first ([`FileSystem::link`] with a link count
    /// of 0).
    fn tmpfile(_dir: &Inode<Self>, _mode: u16, _owner: &Owner) -> Result<Created<Self>> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Adds a hard link `name` in `dir` to `inode`.
    fn link(_inode: &Inode<Self>, _dir: &Inode<Self>, _name: &[u8]) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Removes the entry `name` for `inode` from `dir` (`unlink` and
    /// `rmdir`; for a directory the VFS has checked that it is one).
    fn unlink(_dir: &Inode<Self>, _name: &[u8], _inode: &Inode<Self>) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Renames `old_dir/old_name` (inode `old`) to `new_dir/new_name`,
    /// which is `new` if it exists.
    #[allow(clippy::too_many_arguments)]
    fn rename(
        _old_dir: &Inode<Self>,
        _old_name: &[u8],
        _old: &Inode<Self>,
        _new_dir: &Inode<Self>,
        _new_name: &[u8],
        _new: Option<&Inode<Self>>,
        _flags: RenameFlags,
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Changes the size of a regular file (`truncate(2)`, `O_TRUNC`).
    fn set_size(_inode: &Inode<Self>, _size: u64) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `fsync(2)` (`datasync`: `fdatasync(2)`) of bytes `start..=end` of a
    /// regular file, or of a directory (its entries, and what they name).
    fn fsync(
        file: &super::file::File,
        inode: &Inode<Self>,
        start: i64,
        end: i64,
        datasync: bool,
    ) -> Result;

    /// The first byte at or after `offset` that is data (`hole` false) or
    /// in a hole (`hole` true); the end of the file counts as a hole. ENXIO
    /// if there is none (`lseek(2)`).
    fn seek_data_hole(inode: &Inode<Self>, offset: u64, hole: bool) -> Result<u64>;

    /// `FS_IOC_FIEMAP` on a regular file: reports, through `fiemap`, the
    /// extents that overlap bytes `start..start + len`. Called with the
    /// inode locked.
    fn fiemap(_inode: &Inode<Self>, _fiemap: &mut Fiemap<'_>, _start: u64, _len: u64) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `fallocate(2)` of bytes `offset..offset + len` of a regular file in
    /// one of the [`Fallocate`] modes. Called with the inode locked, after
    /// `file_modified` (mtime, and the setuid bits dropped).
    fn fallocate(inode: &Inode<Self>, mode: Fallocate, offset: u64, len: u64) -> Result;

    /// Called with the inode locked before every write (buffered or
    /// direct) at `pos`, once the VFS's `generic_write_checks` passed.
    fn prepare_write(inode: &Inode<Self>, pos: u64) -> Result;

    /// Switches a mounted filesystem between read-only and read-write
    /// (`mount -o remount,ro|rw`). Called only when the state changes,
    /// before the VFS changes `SB_RDONLY`; to go read-only, the VFS has
    /// made sure that no file is open for writing.
    fn remount(_sb: &SuperBlock<Self>, _read_only: bool) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The target of symlink `inode`, NUL-terminated, living as long as the
    /// inode's data.
    fn get_link(_inode: &Inode<Self>) -> Result<&[u8]> {
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

    /// The debugfs directory of the filesystem type of `sb`.
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
        // SAFETY: The name is a static string; a failure gives an error
        // pointer, which debugfs accepts as a parent (and ignores).
        let dir = unsafe { sys::debugfs_create_dir(T::NAME.as_char_ptr(), core::ptr::null_mut()) };
        storage.debugfs.store(dir, Ordering::Release);
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

/// The inode of a positive dentry.
///
/// # Safety
///
/// `dentry` must be a valid positive dentry of filesystem `T`, and stay so
/// for `'a`.
unsafe fn dentry_inode<'a, T: FileSystem>(dentry: *mut sys::dentry) -> &'a Inode<T> {
    // SAFETY: `dentry` is a valid positive dentry of `T`, as the caller
    // guarantees, so `d_inode` is a live, initialised inode of `T`.
    unsafe { Inode::from_raw((*dentry).d_inode) }
}

/// Returns `Some(f)` if the filesystem implements the method.
pub(super) const fn if_has<F: Copy>(has: bool, f: F) -> Option<F> {
    if has {
        Some(f)
    } else {
        None
    }
}

/// The C callback tables of filesystem `T`, built at compile time.
pub(super) struct Tables<T>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    const CONTEXT_OPS: sys::fs_context_operations = sys::fs_context_operations {
        free: None,
        dup: None,
        parse_param: None,
        parse_monolithic: None,
        get_tree: Some(Self::get_tree),
        reconfigure: if_has(T::HAS_REMOUNT, Self::reconfigure),
    };

    const SUPER_OPS: sys::super_operations = sys::super_operations {
        alloc_inode: Some(InodeBox::<T>::alloc_inode),
        free_inode: Some(InodeBox::<T>::free_inode),
        statfs: if_has(T::HAS_STATFS, Self::statfs),
        write_inode: if_has(T::HAS_WRITE_INODE, Self::write_inode),
        dirty_inode: if_has(T::HAS_DIRTY_INODE, Self::dirty_inode),
        evict_inode: Some(Self::evict_inode),
        sync_fs: if_has(T::HAS_SYNC_FS, Self::sync_fs),
        put_super: if_has(T::HAS_PUT_SUPER, Self::put_super),
        // SAFETY: All-zero is a valid `super_operations`: every field is an
        // optional function pointer.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const DIR_INODE_OPS: sys::inode_operations = sys::inode_operations {
        lookup: if_has(T::HAS_LOOKUP, Self::lookup),
        create: if_has(T::HAS_CREATE, Self::create),
        mkdir: if_has(T::HAS_CREATE, Self::mkdir),
        symlink: if_has(T::HAS_CREATE, Self::symlink),
        mknod: if_has(T::HAS_CREATE, Self::mknod),
        link: if_has(T::HAS_LINK, Self::link),
        unlink: if_has(T::HAS_UNLINK, Self::unlink),
        rmdir: if_has(T::HAS_UNLINK, Self::unlink),
        rename: if_has(T::HAS_RENAME, Self::rename),
        tmpfile: if_has(T::HAS_TMPFILE, Self::tmpfile),
        setattr: Some(Self::setattr),
        getattr: if_has(T::HAS_FLAGS, Self::getattr),
        fileattr_get: if_has(T::HAS_FLAGS, Self::fileattr_get),
        fileattr_set: if_has(T::HAS_SET_FLAGS, Self::fileattr_set),
        // SAFETY: All-zero is a valid `inode_operations`: every field is an
        // optional function pointer.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const FILE_INODE_OPS: sys::inode_operations = sys::inode_operations {
        setattr: Some(Self::setattr),
        fiemap: if_has(T::HAS_FIEMAP, Self::fiemap),
        getattr: if_has(T::HAS_FLAGS, Self::getattr),
        fileattr_get: if_has(T::HAS_FLAGS, Self::fileattr_get),
        fileattr_set: if_has(T::HAS_SET_FLAGS, Self::fileattr_set),
        // SAFETY: As above.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const SYMLINK_INODE_OPS: sys::inode_operations = sys::inode_operations {
        get_link: if_has(T::HAS_GET_LINK, Self::get_link),
        setattr: Some(Self::setattr),
        // SAFETY: As above.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// Devices, pipes and sockets: the VFS gives them their file
    /// operations (`init_special_inode`); only attributes are ours.
    const SPECIAL_INODE_OPS: sys::inode_operations = sys::inode_operations {
        setattr: Some(Self::setattr),
        // SAFETY: As above.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const DIR_FILE_OPS: sys::file_operations = sys::file_operations {
        llseek: Some(sys::generic_file_llseek),
        read: Some(sys::generic_read_dir),
        iterate_shared: if_has(T::HAS_READDIR, Self::iterate_shared),
        fsync: Some(Self::file_fsync),
        // SAFETY: All-zero is a valid `file_operations`: every field is an
        // optional function pointer, an integer or the owner pointer.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// Points a new inode at the tables for its file type.
    ///
    /// # Safety
    ///
    /// `inode` must be a new, locked inode of filesystem `T`, with its mode
    /// (and, for a device, its `i_rdev`) set.
    pub(super) unsafe fn set_inode_ops(inode: *mut sys::inode, ftype: FileType) {
        if ftype.is_special() {
            // SAFETY: The inode is new and locked per the safety
            // requirement; `init_special_inode` sets its file operations
            // and device from its mode and `i_rdev`.
            unsafe {
                sys::rsfs_init_special_inode(inode);
                (*inode).i_op = &Self::SPECIAL_INODE_OPS;
            }
            return;
        }
        let (iops, fops): (&'static sys::inode_operations, *const sys::file_operations) =
            match ftype {
                FileType::Directory => (&Self::DIR_INODE_OPS, &Self::DIR_FILE_OPS),
                FileType::Regular => (&Self::FILE_INODE_OPS, &Self::REG_FILE_OPS),
                _ => (&Self::SYMLINK_INODE_OPS, core::ptr::null()),
            };
        // SAFETY: The inode is new and locked as the caller guarantees;
        // the tables are promoted constants, so they live forever.
        unsafe {
            (*inode).i_op = iops;
            (*inode).__bindgen_anon_3.i_fop = fops;
            if ftype == FileType::Regular {
                sys::rsfs_set_aops(inode, T::FILE_AOPS.as_raw());
            }
        }
    }

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

    /// `fs_context_operations::reconfigure` (`mount -o remount`). Only the
    /// read-only flag is the filesystem's business: the VFS handles the
    /// other flags, and rejects options (there is no `parse_param`).
    ///
    /// # Safety
    ///
    /// `fc` must be a reconfiguration context of a mounted superblock of
    /// this type, with `s_umount` held for writing, as `reconfigure_super`
    /// provides.
    unsafe extern "C" fn reconfigure(fc: *mut sys::fs_context) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: Per the function's safety requirement, `fc->root` is
            // the root of a mounted superblock of type `T`.
            let (sb, read_only, asked) = unsafe {
                (
                    SuperBlock::<T>::from_raw((*(*fc).root).d_sb),
                    (*fc).sb_flags & sys::RSFS_SB_RDONLY as u32 != 0,
                    (*fc).sb_flags_mask & sys::RSFS_SB_RDONLY as u32 != 0,
                )
            };
            if asked && read_only != sb.is_read_only() {
                T::remount(sb, read_only)?;
            }
            Ok(0)
        })
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
                if T::HAS_INODE_FOR_HANDLE {
                    (*sb).s_export_op = &Self::EXPORT_OPS;
                }
            }
            let info = T::fill_super(new_sb)?;
            // SAFETY: As above. From here on the superblock owns `info`;
            // `kill_sb` frees it, on this function's error paths too.
            unsafe { (*sb).s_fs_info = info.into_foreign() as *mut _ };
            // SAFETY: `s_fs_info` now holds a `Pin<KBox<T::Info>>`.
            let sb = unsafe { SuperBlock::<T>::from_raw(sb) };
            let root = T::root(sb)?;
            // SAFETY: `d_make_root` takes over the inode reference, and
            // drops it itself if it fails.
            let dentry = unsafe { sys::d_make_root(root.into_raw()) };
            if dentry.is_null() {
                return Err(ENOMEM);
            }
            // SAFETY: The superblock is being set up and `s_root` is ours.
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
            // SAFETY: A non-null `s_fs_info` was set by `fill_super` from
            // `into_foreign`, and nothing uses it after `kill_block_super`
            // has shut the superblock down.
            drop(unsafe { <Pin<KBox<T::Info>> as ForeignOwnable>::from_foreign(info) });
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
            // SAFETY: As the caller guarantees, `dentry` belongs to a
            // mounted superblock of type `T`, whose `s_fs_info` is set.
            let sb = unsafe { SuperBlock::<T>::from_raw((*dentry).d_sb) };
            let st = T::statfs(sb)?;
            // SAFETY: `buf` is valid for writes as the caller guarantees.
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

    /// `super_operations::write_inode`.
    ///
    /// # Safety
    ///
    /// `inode` must be an inode of this filesystem, and `wbc` valid.
    unsafe extern "C" fn write_inode(
        inode: *mut sys::inode,
        wbc: *mut sys::writeback_control,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: The VFS only writes back initialised inodes.
            let inode = unsafe { Inode::<T>::from_raw(inode) };
            // SAFETY: `wbc` is valid as the caller guarantees.
            let sync = unsafe { (*wbc).sync_mode } == sys::writeback_sync_modes_WB_SYNC_ALL;
            T::write_inode(inode, sync)?;
            Ok(0)
        })
    }

    /// `super_operations::dirty_inode`, called by `__mark_inode_dirty`.
    ///
    /// # Safety
    ///
    /// `inode` must be a live inode of this filesystem for the duration of
    /// the call (the VFS dirties inodes it holds a reference to, or that
    /// their filesystem is evicting).
    unsafe extern "C" fn dirty_inode(inode: *mut sys::inode, flags: kernel::ffi::c_int) {
        // Timestamps alone under `lazytime` wait for `write_inode`.
        if flags as u32 & sys::RSFS_I_DIRTY_INODE == 0 {
            return;
        }
        // SAFETY: The inode is valid as the caller guarantees. `I_NEW` is
        // only cleared by the task that set the inode up, which is the only
        // one that can be dirtying it while it is set, so one read is exact.
        let new = unsafe { sys::rsfs_inode_is_new(inode) };
        // SAFETY: `inode` is embedded in an `InodeBox<T>`; `has_data` says
        // whether its filesystem data is initialised.
        let initialised = unsafe { (*InodeBox::<T>::from_inode(inode)).has_data() };
        if new || !initialised {
            return;
        }
        let datasync = flags as u32 & sys::RSFS_I_DIRTY_DATASYNC != 0;
        // SAFETY: Initialised, not new, and valid for the call.
        T::dirty_inode(unsafe { Inode::<T>::from_raw(inode) }, datasync);
    }

    /// `super_operations::evict_inode`.
    ///
    /// # Safety
    ///
    /// `inode` must be an inode of this filesystem being evicted.
    unsafe extern "C" fn evict_inode(inode: *mut sys::inode) {
        // SAFETY: The page cache of an evicted inode goes first, as the VFS
        // requires of `evict_inode`.
        unsafe { sys::truncate_inode_pages_final(&mut (*inode).i_data) };
        // SAFETY: `inode` is embedded in an `InodeBox<T>`; `has_data` says
        // whether it was ever initialised (a failed `iget` leaves it unset).
        let initialised = unsafe { (*InodeBox::<T>::from_inode(inode)).has_data() };
        if initialised && T::HAS_EVICT_INODE {
            // SAFETY: The inode is initialised and we hold the last reference.
            T::evict_inode(unsafe { Inode::<T>::from_raw(inode) });
        }
        // SAFETY: The filesystem is done with the inode: detach the metadata
        // buffers tied to it (`BufferHead::mark_dirty_for`), then clear it.
        unsafe {
            sys::invalidate_inode_buffers(inode);
            sys::clear_inode(inode);
        }
    }

    /// `super_operations::sync_fs`.
    ///
    /// # Safety
    ///
    /// `sb` must be a mounted superblock of this filesystem.
    unsafe extern "C" fn sync_fs(
        sb: *mut sys::super_block,
        wait: kernel::ffi::c_int,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: `sb` is a mounted superblock of `T`, as the caller
            // guarantees.
            T::sync_fs(unsafe { SuperBlock::<T>::from_raw(sb) }, wait != 0)?;
            Ok(0)
        })
    }

    /// `super_operations::put_super`.
    ///
    /// # Safety
    ///
    /// `sb` must be a mounted superblock of this filesystem being shut down.
    unsafe extern "C" fn put_super(sb: *mut sys::super_block) {
        // SAFETY: `sb` is a mounted superblock of `T`, as the caller
        // guarantees; `s_fs_info` is still set while it shuts down.
        T::put_super(unsafe { SuperBlock::<T>::from_raw(sb) });
    }

    /// `inode_operations::lookup`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with `dir` locked (shared) and `dentry` a negative
    /// dentry in it.
    unsafe extern "C" fn lookup(
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
        _flags: kernel::ffi::c_uint,
    ) -> *mut sys::dentry {
        // SAFETY: `dir` is a live directory of `T`, locked, and `dentry` in
        // it, so its name is stable, as the caller guarantees.
        let (d, name) = unsafe { (Inode::<T>::from_raw(dir), dentry_name(dentry)) };
        match T::lookup(d, name) {
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
            // SAFETY: `dir` is a live directory of `T`, locked, and `dentry` in
            // it, so its name is stable, as the caller guarantees.
            let (d, name) = unsafe { (Inode::<T>::from_raw(dir), dentry_name(dentry)) };
            let owner = Owner::new(idmap, dir);
            let created = T::create(d, name, mode, target, rdev, &owner)?;
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
    unsafe extern "C" fn create(
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
    unsafe extern "C" fn tmpfile(
        idmap: *mut sys::mnt_idmap,
        dir: *mut sys::inode,
        file: *mut sys::file,
        mode: sys::umode_t,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: `dir` is one of our initialised inodes (safety
            // requirement).
            let d = unsafe { Inode::<T>::from_raw(dir) };
            let owner = Owner::new(idmap, dir);
            let raw = T::tmpfile(d, mode, &owner)?.into_raw();
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
    unsafe extern "C" fn getattr(
        idmap: *mut sys::mnt_idmap,
        path: *const sys::path,
        stat: *mut sys::kstat,
        request_mask: u32,
        _query_flags: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int {
        // SAFETY: `path` is valid and its dentry positive and ours.
        let inode = unsafe { dentry_inode::<T>((*path).dentry) };
        // SAFETY: `stat` is valid (safety requirement) and `inode` is a
        // live inode; the VFS holds a reference through the path.
        unsafe { sys::generic_fillattr(idmap, request_mask, inode.as_raw(), stat) };
        let pairs = [
            (sys::FS_IMMUTABLE_FL, sys::STATX_ATTR_IMMUTABLE),
            (sys::FS_APPEND_FL, sys::STATX_ATTR_APPEND),
            (sys::FS_NODUMP_FL, sys::STATX_ATTR_NODUMP),
        ];
        let flags = T::flags(inode);
        let (mut mask, mut set) = (0u64, 0u64);
        for (fl, attr) in pairs {
            if T::FLAGS & fl != 0 {
                mask |= u64::from(attr);
                if flags & fl != 0 {
                    set |= u64::from(attr);
                }
            }
        }
        // SAFETY: `stat` is valid and `generic_fillattr` filled it.
        unsafe {
            (*stat).attributes |= set;
            (*stat).attributes_mask |= mask;
        }
        0
    }

    /// `inode_operations::fileattr_get`: `FS_IOC_GETFLAGS` (`lsattr`).
    ///
    /// # Safety
    ///
    /// Called by the VFS with a positive dentry of ours and a valid `fa`.
    unsafe extern "C" fn fileattr_get(
        dentry: *mut sys::dentry,
        fa: *mut sys::fileattr,
    ) -> kernel::ffi::c_int {
        // SAFETY: The dentry is positive and its inode one of ours.
        let inode = unsafe { dentry_inode::<T>(dentry) };
        // SAFETY: `fa` is valid (safety requirement).
        unsafe { sys::fileattr_fill_flags(fa, T::flags(inode)) };
        0
    }

    /// `inode_operations::fileattr_set`: `FS_IOC_SETFLAGS` (`chattr`).
    /// The XFS-style attributes (`FS_IOC_FSSETXATTR`) are not supported.
    ///
    /// # Safety
    ///
    /// Called by the VFS with the inode of a positive dentry of ours
    /// locked, and a valid `fa` that `fileattr_set_prepare` checked.
    unsafe extern "C" fn fileattr_set(
        _idmap: *mut sys::mnt_idmap,
        dentry: *mut sys::dentry,
        fa: *mut sys::fileattr,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: The dentry is positive and its inode one of ours.
            let inode = unsafe { dentry_inode::<T>(dentry) };
            // SAFETY: `fa` is valid (safety requirement). For
            // FS_IOC_FSSETXATTR the VFS has already turned the common
            // xflags into `flags`; what has no flag (an extent size, a
            // project id, the other xflags) is refused, as on ext2.
            let (fsx, flags) = unsafe { (sys::rsfs_fileattr_has_fsx(fa), (*fa).flags) };
            if fsx || flags & !T::FLAGS != 0 {
                return Err(Error::from_errno(-(sys::EOPNOTSUPP as i32)));
            }
            T::set_flags(inode, flags)?;
            Ok(0)
        })
    }

    /// `inode_operations::mkdir`.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    unsafe extern "C" fn mkdir(
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
    unsafe extern "C" fn symlink(
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
    unsafe extern "C" fn mknod(
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
    unsafe extern "C" fn link(
        old: *mut sys::dentry,
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: The VFS holds `dir` and the source inode locked, and
            // `old` is positive.
            let (inode, d, name) = unsafe {
                (
                    dentry_inode::<T>(old),
                    Inode::<T>::from_raw(dir),
                    dentry_name(dentry),
                )
            };
            T::link(inode, d, name)?;
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
    unsafe extern "C" fn unlink(
        dir: *mut sys::inode,
        dentry: *mut sys::dentry,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: The VFS holds `dir` and the victim locked, and
            // `dentry` is positive.
            let (d, name, inode) = unsafe {
                (
                    Inode::<T>::from_raw(dir),
                    dentry_name(dentry),
                    dentry_inode::<T>(dentry),
                )
            };
            T::unlink(d, name, inode)?;
            Ok(0)
        })
    }

    /// `inode_operations::rename`.
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    unsafe extern "C" fn rename(
        _idmap: *mut sys::mnt_idmap,
        old_dir: *mut sys::inode,
        old_dentry: *mut sys::dentry,
        new_dir: *mut sys::inode,
        new_dentry: *mut sys::dentry,
        flags: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            let flags = RenameFlags::from_raw(flags)?;
            // SAFETY: The VFS holds both directories and both inodes locked
            // (`lock_rename` and `lock_two_nondirectories`).
            unsafe {
                let new_inode = (*new_dentry).d_inode;
                T::rename(
                    Inode::<T>::from_raw(old_dir),
                    dentry_name(old_dentry),
                    dentry_inode::<T>(old_dentry),
                    Inode::<T>::from_raw(new_dir),
                    dentry_name(new_dentry),
                    NonNull::new(new_inode).map(|i| Inode::<T>::from_raw(i.as_ptr())),
                    flags,
                )?;
            }
            Ok(0)
        })
    }

    /// `inode_operations::setattr`: the VFS checks the change, rsfs resizes
    /// the file if asked, then the new attributes are copied and written back.
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
            let inode = unsafe { dentry_inode::<T>(dentry) };
            // SAFETY: All three pointers are valid per the VFS contract.
            to_result(unsafe { sys::setattr_prepare(idmap, dentry, attr) })?;
            // SAFETY: `attr` is valid.
            let (valid, size) = unsafe { ((*attr).ia_valid, (*attr).ia_size) };
            if valid & sys::RSFS_ATTR_SIZE != 0 && size as u64 != inode.size() {
                if !T::HAS_SET_SIZE || inode.file_type() != FileType::Regular {
                    return Err(EINVAL);
                }
                T::set_size(inode, size as u64)?;
            }
            // SAFETY: As above; `setattr_copy` copies the checked changes.
            unsafe { sys::setattr_copy(idmap, inode.as_raw(), attr) };
            inode.mark_dirty();
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
        let inode = unsafe { Inode::<T>::from_raw(inode) };
        match T::get_link(inode) {
            Ok(target) => target.as_ptr().cast(),
            Err(e) => e.to_ptr(),
        }
    }

    /// `file_operations::iterate_shared` (`readdir`).
    ///
    /// # Safety
    ///
    /// Called only by the VFS, with the arguments and locks its
    /// `inode_operations`/`file_operations` contract gives.
    unsafe extern "C" fn iterate_shared(
        file: *mut sys::file,
        ctx: *mut sys::dir_context,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: The VFS holds the directory locked (shared), and the
            // file's inode is one of ours.
            let dir = unsafe { Inode::<T>::from_raw(sys::rsfs_file_inode(file)) };
            // SAFETY: `ctx` is valid for the duration of the call.
            let mut emitter = unsafe { DirEmitter::from_raw(ctx) };
            T::readdir(dir, &mut emitter)?;
            Ok(0)
        })
    }
}
