// SPDX-License-Identifier: GPL-2.0

//! Filesystem types: the [`FileSystem`] trait and the C callback tables
//! built from it (`super_operations`, `fs_context_operations`, and the
//! `file_system_type` callbacks); see [`super::registration`] for its
//! registration.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h).

use core::marker::PhantomData;
use kernel::{error::from_result, prelude::*};

mod freeze;

use super::{
    inode::InodeBox, lock::Evicting, ops::if_has, super_block, sys, xattr, FsData, Inode, InodeRef,
    SuperBlock,
};

/// A block-device filesystem: its type, its superblock's operations
/// (`super_operations`, and `fs_context_operations` for mount and
/// remount), and the `export_operations` of its file handles.
///
/// The optional methods become entries of those tables; `HAS_*` says which
/// ones an implementation provides. Inodes and open files have their own
/// traits ([`super::inode_ops`], [`super::file`], [`super::address_space`]),
/// and the filesystem gives each inode the tables it chose
/// ([`InodeOps`](super::InodeOps)).
#[vtable]
pub(crate) trait FileSystem: FsData {
    /// The name under which the filesystem type is registered.
    const NAME: &'static CStr;

    /// Whether the type gets a debugfs directory, `/sys/kernel/debug/NAME/`,
    /// from its [`Registration`](super::Registration), under which each
    /// mount can publish [`Counters`](super::Counters). Without it,
    /// counters still count but are not published.
    const DEBUGFS_DIR: bool = false;

    /// Whether mounts of the type may be idmapped (`FS_ALLOW_IDMAP`:
    /// `mount_setattr(2)` with `MOUNT_ATTR_IDMAP`). kfs hands the mount's
    /// idmap to every VFS helper it calls that takes one
    /// (`inode_init_owner`, `generic_fillattr`, `setattr_prepare`,
    /// `setattr_copy`), so a filesystem may set this if it never decides
    /// ownership or permission from raw ids itself.
    const IDMAPPED_MOUNTS: bool = false;

    /// The filesystem's own mount options: each entry `(name, bits, on)`
    /// turns bits of the [`MountFlags`] that [`FileSystem::fill_super`]
    /// and [`FileSystem::remount`] get on (`discard`) or off
    /// (`nodiscard`); of two names of one bit, the last given wins. A name
    /// is a flag (`-o name`), or a `key=value` that an option with that
    /// value matches (`-o errors=panic`). Several entries may share a
    /// name, each applied in order, so that one value of a choice turns
    /// the bits of the others off. An entry with no bits is an option
    /// accepted and ignored. The VFS's options (`ro`, `sync`,
    /// `dirsync`, ...) are the VFS's; any other gives EINVAL.
    const MOUNT_FLAGS: &'static [(&'static CStr, u32, bool)] = &[];

    /// The filesystem's extended attributes, if it has them: the handlers
    /// of every superblock (`s_xattr`) and the `listxattr` of every inode
    /// ([`super::xattr`]).
    const XATTRS: Option<xattr::Handlers<Self>> = None;

    /// Reads and checks the on-disk superblock and returns the state of the
    /// new mount. Called once per mount, with the block device open.
    fn fill_super(
        sb: &SuperBlock<Self, super_block::New>,
        flags: MountFlags,
    ) -> Result<Pin<KBox<Self::Info>>>;

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
    fn evict_inode(_inode: Evicting<'_, Self>) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Writes the filesystem's own metadata (`sync(2)`, `syncfs(2)`).
    fn sync_fs(_sb: &SuperBlock<Self>, _wait: bool) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Makes the disk whole and quiet for a freeze (`FIFREEZE`,
    /// `fsfreeze(8)`, a snapshot of the device): called once the VFS has
    /// stopped every writer, page fault and change of the filesystem's own
    /// ([`SuperBlock::start_intwrite`]) and synced it. Nothing may be
    /// written from then until [`FileSystem::unfreeze_fs`]. Without this
    /// method, a freeze gives EOPNOTSUPP.
    fn freeze_fs(_sb: &SuperBlock<Self>) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The filesystem thaws (`FITHAW`) and may be written again.
    fn unfreeze_fs(_sb: &SuperBlock<Self>) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called at unmount, after every inode is gone.
    fn put_super(_sb: &SuperBlock<Self>) {
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

    /// The parent of directory `dir` (its `..`), for a file handle of a
    /// directory whose dentry is not cached (`export_operations`).
    fn parent(_dir: &Inode<Self>) -> Result<InodeRef<Self>> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Switches a mounted filesystem between read-only and read-write
    /// (`mount -o remount,ro|rw`), with the filesystem's own options of
    /// the remount in `flags`. Called when the state changes or `flags` is
    /// not empty, before the VFS changes `SB_RDONLY`; to go read-only, the
    /// VFS has made sure that no file is open for writing.
    fn remount(_sb: &SuperBlock<Self>, _read_only: bool, _flags: MountFlags) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The filesystem's own options in effect on this mount, which
    /// `/proc/mounts` lists after the VFS's: each bit on shows as the
    /// first name that [`FileSystem::MOUNT_FLAGS`] gives to turn it on.
    fn flags_in_effect(_sb: &SuperBlock<Self>) -> MountFlags {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Whether the filesystem has been shut down (`FS_IOC_SHUTDOWN`): the
    /// attribute changes that kfs answers for it (`setattr`,
    /// `fileattr_set`) then fail with EIO, as ext4's do.
    fn is_shut_down(_sb: &SuperBlock<Self>) -> bool {
        false
    }
}

/// The filesystem's own mount options of one mount or remount: the bits
/// of [`FileSystem::MOUNT_FLAGS`] turned on, and those turned off, by the
/// last name given for each.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct MountFlags {
    on: u32,
    off: u32,
}

impl MountFlags {
    /// The options that turn the bits of `on` on, and no others.
    pub(crate) const fn new(on: u32) -> Self {
        Self { on, off: 0 }
    }

    /// The options of `on` and `off` (no bit in both).
    pub(super) const fn from_parts(on: u32, off: u32) -> Self {
        Self { on, off }
    }

    /// The bits turned on, then those turned off.
    pub(super) const fn parts(self) -> (u32, u32) {
        (self.on, self.off)
    }

    /// Whether option bit `bit` was turned on.
    pub(crate) fn has(self, bit: u32) -> bool {
        self.on & bit != 0
    }

    /// Whether option bit `bit` was turned off (`nodiscard`).
    pub(crate) fn has_off(self, bit: u32) -> bool {
        self.off & bit != 0
    }

    /// Whether no option was given.
    pub(crate) fn is_empty(self) -> bool {
        self.on == 0 && self.off == 0
    }
}

/// The `super_operations` table of filesystem `T`, built at compile time,
/// and its trampolines.
pub(super) struct Tables<T>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    pub(super) const SUPER_OPS: sys::super_operations = sys::super_operations {
        alloc_inode: Some(InodeBox::<T>::alloc_inode),
        free_inode: Some(InodeBox::<T>::free_inode),
        statfs: if_has(T::HAS_STATFS, Self::statfs),
        write_inode: if_has(T::HAS_WRITE_INODE, Self::write_inode),
        dirty_inode: if_has(T::HAS_DIRTY_INODE, Self::dirty_inode),
        evict_inode: Some(Self::evict_inode),
        sync_fs: if_has(T::HAS_SYNC_FS, Self::sync_fs),
        put_super: if_has(T::HAS_PUT_SUPER, Self::put_super),
        freeze_fs: if_has(T::HAS_FREEZE_FS, Self::freeze_fs),
        unfreeze_fs: if_has(T::HAS_UNFREEZE_FS, Self::unfreeze_fs),
        show_options: if_has(T::HAS_FLAGS_IN_EFFECT, Self::show_options),
        // SAFETY: All-zero is a valid `super_operations`: every field is an
        // optional function pointer.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

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
            // SAFETY: The inode is initialised, and being evicted by this
            // call, in which only we reach it (`I_FREEING`, no references).
            T::evict_inode(unsafe { Evicting::new(Inode::<T>::from_raw(inode)) });
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

    /// `super_operations::show_options`: the filesystem's own options for
    /// `/proc/mounts`, each as `,name`.
    ///
    /// # Safety
    ///
    /// `m` must be a `seq_file` being filled, and `root` the root dentry of
    /// a mounted filesystem of this type.
    unsafe extern "C" fn show_options(
        m: *mut sys::seq_file,
        root: *mut sys::dentry,
    ) -> kernel::ffi::c_int {
        // SAFETY: `root` belongs to a mounted superblock of type `T`, as
        // the caller guarantees, whose `s_fs_info` is set.
        let sb = unsafe { SuperBlock::<T>::from_raw((*root).d_sb) };
        let flags = T::flags_in_effect(sb);
        let mut shown = 0;
        for &(name, bit, on) in T::MOUNT_FLAGS {
            if on && flags.has(bit) && shown & bit == 0 {
                shown |= bit;
                let name = name.as_bytes();
                // SAFETY: `m` is valid for the call as the caller
                // guarantees, and both buffers are valid for their lengths.
                // A full buffer is `seq_file`'s to notice: it retries with a
                // larger one, so the result is not needed.
                unsafe {
                    sys::seq_write(m, b",".as_ptr().cast(), 1);
                    sys::seq_write(m, name.as_ptr().cast(), name.len());
                }
            }
        }
        0
    }
}
