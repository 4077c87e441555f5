// SPDX-License-Identifier: GPL-2.0

//! Inodes.
//!
//! Every inode of a filesystem `T` is embedded in an [`InodeBox`] that also
//! holds the filesystem's own per-inode state, `T::InodeData`, the way a C
//! filesystem embeds `struct inode` in its `foo_inode_info`. The VFS
//! allocates and frees the box through `alloc_inode` and `free_inode`.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use core::{marker::PhantomData, mem::MaybeUninit, ptr::NonNull};
use kernel::{init::PinInit, prelude::*, types::Opaque};

use super::{
    attrs::{Attrs, FileType, Timestamp},
    sys, FsData, SuperBlock,
};

/// The allocation that holds a VFS inode and the filesystem's data for it.
///
/// # Invariants
///
/// `inode` has been through `inode_init_once`. `data` is initialised if and
/// only if `has_data` is true, and then stays initialised until the box is
/// freed.
#[repr(C)]
pub(super) struct InodeBox<T: FsData> {
    inode: Opaque<sys::inode>,
    has_data: bool,
    data: MaybeUninit<T::InodeData>,
}

impl<T: FsData> InodeBox<T> {
    /// The box that `inode` is embedded in.
    ///
    /// # Safety
    ///
    /// `inode` must be the `inode` field of an `InodeBox<T>`.
    pub(super) unsafe fn from_inode(inode: *mut sys::inode) -> *mut Self {
        // `inode` is the first field of a `repr(C)` struct.
        inode.cast()
    }

    /// Whether the filesystem's data for the inode is initialised.
    pub(super) fn has_data(&self) -> bool {
        self.has_data
    }

    /// Initialises the filesystem's data of the inode that `inode` is.
    ///
    /// # Safety
    ///
    /// `inode` must be the `inode` field of an `InodeBox<T>` whose data is
    /// not initialised, and no one else may use the box during the call.
    pub(super) unsafe fn init_data(
        inode: *mut sys::inode,
        data: impl PinInit<T::InodeData, Error>,
    ) -> Result {
        // SAFETY: `inode` is embedded in an `InodeBox<T>` without data, as
        // the caller guarantees. `data` is initialised in place, where it
        // stays (the box is on the heap and never moves), and then recorded.
        // INVARIANT: `has_data` is set only once `data` is initialised.
        unsafe {
            let b = Self::from_inode(inode);
            data.__pinned_init((*b).data.as_mut_ptr())?;
            (*b).has_data = true;
        }
        Ok(())
    }

    /// `super_operations::alloc_inode`.
    ///
    /// # Safety
    ///
    /// `_sb` must be a superblock of filesystem `T`.
    pub(super) unsafe extern "C" fn alloc_inode(_sb: *mut sys::super_block) -> *mut sys::inode {
        let Ok(mut b) = KBox::<Self>::new_uninit(GFP_KERNEL) else {
            return core::ptr::null_mut();
        };
        let p = b.as_mut_ptr();
        // SAFETY: `p` points to an allocation big enough for `Self`; we
        // initialise `has_data`, and the inode with `inode_init_once`, which
        // is what the VFS expects of a freshly allocated inode.
        // INVARIANT: `has_data` is false and `data` uninitialised.
        unsafe {
            core::ptr::addr_of_mut!((*p).has_data).write(false);
            sys::inode_init_once(Opaque::raw_get(core::ptr::addr_of!((*p).inode)));
        }
        let p = KBox::into_raw(b).cast::<Self>();
        // SAFETY: `p` is valid; the VFS owns the box from here on.
        unsafe { Opaque::raw_get(core::ptr::addr_of!((*p).inode)) }
    }

    /// `super_operations::free_inode`, called after an RCU grace period.
    ///
    /// # Safety
    ///
    /// `inode` must come from [`InodeBox::alloc_inode`] and be unused.
    pub(super) unsafe extern "C" fn free_inode(inode: *mut sys::inode) {
        // SAFETY: `inode` is embedded in an `InodeBox<T>` made by
        // `alloc_inode`, and unused, as the caller guarantees.
        let b = unsafe { Self::from_inode(inode) };
        // SAFETY: `b` came from `KBox::into_raw` in `alloc_inode`; `data` is
        // initialised exactly when `has_data` is set.
        unsafe {
            if (*b).has_data {
                (*b).data.assume_init_drop();
            }
            drop(KBox::from_raw(b.cast::<MaybeUninit<Self>>()));
        }
    }
}

/// A VFS inode of filesystem `T`.
///
/// # Invariants
///
/// The wrapped inode is embedded in an [`InodeBox<T>`] whose data is
/// initialised, belongs to a superblock of type `T` whose per-mount state is
/// set, is fully initialised (not `I_NEW`), and stays allocated while the
/// `&Inode<T>` lives.
///
/// Its reference count may be zero: `evict_inode` is given an inode that
/// is being freed (see [`super::Evicting`]). So an `&Inode<T>` cannot be
/// turned into a counted reference with `ihold`; only [`Inode::grab`] can
/// make one, and it refuses an inode that is being freed. Counted
/// references are [`InodeRef`]s.
#[repr(transparent)]
pub(crate) struct Inode<T: FsData>(Opaque<sys::inode>, PhantomData<T>);

// SAFETY: `igrab` and `iput` may be called from any thread, and the inode
// state we expose is either stable or protected by the VFS's locks.
unsafe impl<T: FsData> Send for Inode<T> {}
// SAFETY: As above; `T::InodeData` is `Sync`.
unsafe impl<T: FsData> Sync for Inode<T> {}

/// A counted reference to an inode of filesystem `T` (`ihold`/`igrab`, and
/// `iput` when dropped).
///
/// # Invariants
///
/// `0` points to an inode that satisfies the invariants of [`Inode<T>`],
/// and this object owns one reference to it, so its count is non-zero.
pub(crate) struct InodeRef<T: FsData>(NonNull<Inode<T>>);

// SAFETY: A reference may be dropped (`iput`) on any thread, and `Inode<T>`
// is `Sync`.
unsafe impl<T: FsData> Send for InodeRef<T> {}
// SAFETY: Shared access only reaches `Inode<T>`, which is `Sync`.
unsafe impl<T: FsData> Sync for InodeRef<T> {}

impl<T: FsData> InodeRef<T> {
    /// Takes over a counted reference.
    ///
    /// # Safety
    ///
    /// `inode` must satisfy the invariants of [`Inode<T>`], and the caller
    /// passes one reference to it to the new object.
    pub(super) unsafe fn from_raw(inode: NonNull<sys::inode>) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(inode.cast())
    }

    /// Gives up the wrapper: the caller gets the reference.
    pub(super) fn into_raw(self) -> *mut sys::inode {
        let inode = self.0.as_ptr().cast();
        core::mem::forget(self);
        inode
    }

    /// Drops the reference if it is not the last one; the last one is
    /// handed back, because dropping it may evict the inode, which waits
    /// for the locks of its folios.
    pub(super) fn put_unless_last(self) -> core::result::Result<(), Self> {
        // SAFETY: We own one reference (type invariant). The helper gives it
        // up only if the count stays above zero, which is all `iput` does
        // for such a reference.
        if unsafe { sys::rsfs_iput_unless_last(self.0.as_ptr().cast()) } {
            core::mem::forget(self);
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl<T: FsData> core::ops::Deref for InodeRef<T> {
    type Target = Inode<T>;

    fn deref(&self) -> &Inode<T> {
        // SAFETY: The inode lives while we hold our reference (type
        // invariant).
        unsafe { self.0.as_ref() }
    }
}

impl<T: FsData> Clone for InodeRef<T> {
    fn clone(&self) -> Self {
        // SAFETY: We own a reference, so the count is non-zero and `ihold`
        // may add one.
        unsafe { sys::ihold(self.0.as_ptr().cast()) };
        // INVARIANT: The new object owns the reference taken just now.
        Self(self.0)
    }
}

impl<T: FsData> Drop for InodeRef<T> {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant), given up here.
        unsafe { sys::iput(self.0.as_ptr().cast()) };
    }
}

impl<T: FsData> Inode<T> {
    /// Wraps a raw inode.
    ///
    /// # Safety
    ///
    /// `ptr` must satisfy the type invariants for the lifetime `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut sys::inode) -> &'a Self {
        // SAFETY: `Self` is a transparent wrapper of `inode`, and the caller
        // guarantees the invariants.
        unsafe { &*ptr.cast() }
    }

    /// The raw inode.
    pub(super) fn as_raw(&self) -> *mut sys::inode {
        self.0.get()
    }

    /// A counted reference to the inode (`igrab`), unless it is being freed
    /// (`I_FREEING`, `I_WILL_FREE`): then `None`.
    pub(crate) fn grab(&self) -> Option<InodeRef<T>> {
        // SAFETY: The inode is allocated (type invariant); `igrab` takes
        // `i_lock` and adds a reference only to an inode that is not being
        // freed, whatever its count.
        let inode = NonNull::new(unsafe { sys::igrab(self.as_raw()) })?;
        // SAFETY: `igrab` returned this inode with a reference we own.
        Some(unsafe { InodeRef::from_raw(inode) })
    }

    /// The filesystem's own data for this inode.
    pub(crate) fn data(&self) -> &T::InodeData {
        // SAFETY: By the type invariant the inode is embedded in an
        // `InodeBox<T>` whose data is initialised and lives as long as the
        // inode.
        unsafe {
            (*InodeBox::<T>::from_inode(self.as_raw()))
                .data
                .assume_init_ref()
        }
    }

    /// The inode number.
    pub(crate) fn ino(&self) -> u64 {
        // SAFETY: `i_ino` does not change once the inode is initialised.
        unsafe { (*self.as_raw()).i_ino as u64 }
    }

    /// The superblock the inode belongs to.
    pub(crate) fn super_block(&self) -> &SuperBlock<T> {
        // SAFETY: `i_sb` is set for the inode's lifetime, the superblock
        // outlives its inodes, and its per-mount state is set.
        unsafe { SuperBlock::from_raw((*self.as_raw()).i_sb) }
    }

    /// Writes the inode to disk now if it is dirty, and waits if `wait`
    /// (`sync_inode_metadata`).
    pub(crate) fn write_now(&self, wait: bool) -> Result {
        // SAFETY: The inode is valid.
        kernel::error::to_result(unsafe { sys::sync_inode_metadata(self.as_raw(), wait as i32) })
    }

    /// The file type and permission bits.
    pub(crate) fn mode(&self) -> u16 {
        // SAFETY: The inode is valid; `i_mode` is read as `stat` does.
        unsafe { (*self.as_raw()).i_mode }
    }

    /// The file type.
    pub(crate) fn file_type(&self) -> FileType {
        // `NewInode` initialises only inodes whose mode has one of these
        // types (type invariant: the inode is initialised).
        FileType::from_mode(self.mode()).unwrap_or(FileType::Regular)
    }

    /// The hard link count.
    pub(crate) fn nlink(&self) -> u32 {
        // SAFETY: The inode is valid; `i_nlink` is read as `stat` does.
        unsafe { (*self.as_raw()).__bindgen_anon_1.i_nlink }
    }

    /// Whether changes to the inode are to be durable when the call that
    /// makes them returns (`IS_SYNC`: `mount -o sync`, or `chattr +S`).
    pub(crate) fn is_sync(&self) -> bool {
        // SAFETY: The inode is valid; the flags are read as the VFS reads
        // them, without a lock.
        unsafe { sys::rsfs_is_sync(self.as_raw()) }
    }

    /// Whether changes to the directory's names are to be durable when the
    /// call that makes them returns (`IS_DIRSYNC`: `mount -o dirsync` or
    /// `-o sync`, or `chattr +S` or `+D`).
    pub(crate) fn is_dirsync(&self) -> bool {
        // SAFETY: The inode is valid; its flags and its superblock's are
        // read as the VFS reads them, without a lock.
        unsafe { sys::rsfs_is_dirsync(self.as_raw()) }
    }

    /// The size in bytes (`i_size_read`).
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: The inode is valid.
        unsafe { sys::rsfs_i_size_read(self.as_raw()) as u64 }
    }

    /// Whether `fdatasync` must write the inode: it has changes other than
    /// timestamps (`I_DIRTY_DATASYNC`), or the flusher is writing it back
    /// right now (`I_SYNC`). The flusher clears the dirty bits before it
    /// calls `write_inode`, and keeps `I_SYNC` set until that returns, so
    /// an inode seen with neither bit has nothing left for `fdatasync`.
    /// (With `I_SYNC` alone, `write_now` waits for the flusher.)
    pub(crate) fn dirty_for_datasync(&self) -> bool {
        // SAFETY: The inode is valid. `i_state` changes under `i_lock`; one
        // volatile load (READ_ONCE) sees some state it had, which is all
        // this needs, as `generic_buffers_fsync` reads it unlocked too.
        let state = unsafe { core::ptr::read_volatile(&(*self.as_raw()).i_state) };
        state & (sys::RSFS_I_DIRTY_DATASYNC | sys::RSFS_I_SYNC) != 0
    }

    /// Waits for direct I/O in flight on the inode to finish.
    pub(crate) fn wait_for_direct_io(&self) {
        // SAFETY: The inode is valid.
        unsafe { sys::inode_dio_wait(self.as_raw()) };
    }

    /// Sets the number of 512-byte sectors the file uses.
    pub(crate) fn set_sectors(&self, sectors: u64) {
        // SAFETY: The inode is valid; `i_blocks` is updated under the
        // filesystem's own block-map lock and read racily by `stat`, as in C.
        unsafe { (*self.as_raw()).i_blocks = sectors };
    }

    /// Sets ctime and mtime to now.
    pub(crate) fn touch_cmtime(&self) {
        // SAFETY: The inode is valid (type invariant). Timestamps are plain
        // fields that the kernel also sets without the inode lock
        // (`file_update_time` in page faults) and `stat` reads racily; no
        // lock is needed for memory safety.
        unsafe { sys::rsfs_touch_cmtime(self.as_raw()) };
    }

    /// Sets ctime to now.
    pub(crate) fn touch_ctime(&self) {
        // SAFETY: As for `touch_cmtime`.
        unsafe { sys::inode_set_ctime_current(self.as_raw()) };
    }

    /// Marks the inode dirty, so that `write_inode` writes it back.
    pub(crate) fn mark_dirty(&self) {
        // SAFETY: The inode is valid.
        unsafe { sys::rsfs_mark_inode_dirty(self.as_raw()) };
    }

    /// Marks the inode dirty as [`Inode::mark_dirty`] does, unless it is
    /// dirty already (`I_DIRTY_SYNC` and `I_DIRTY_DATASYNC`): then the
    /// filesystem's `dirty_inode` is not called again, and the change made
    /// before this call reaches the disk with the `write_inode` that the
    /// dirty state already promises. `__mark_inode_dirty`'s own test, with
    /// its barrier against the flusher clearing the bits.
    pub(crate) fn mark_dirty_once(&self) {
        // SAFETY: The inode is valid.
        if !unsafe { sys::rsfs_inode_is_dirty(self.as_raw()) } {
            self.mark_dirty();
        }
    }

    /// The attributes to write to disk.
    pub(crate) fn attrs(&self) -> Attrs {
        let i = self.as_raw();
        // SAFETY: The inode is valid; the fields are read as `stat` reads
        // them, and the caller holds what keeps them consistent.
        unsafe {
            Attrs {
                mode: (*i).i_mode,
                nlink: (*i).__bindgen_anon_1.i_nlink,
                uid: sys::rsfs_i_uid_read(i),
                gid: sys::rsfs_i_gid_read(i),
                size: sys::rsfs_i_size_read(i) as u64,
                atime: Timestamp::from_raw(sys::rsfs_inode_get_atime(i)),
                mtime: Timestamp::from_raw(sys::rsfs_inode_get_mtime(i)),
                ctime: Timestamp::from_raw(sys::rsfs_inode_get_ctime(i)),
                generation: (*i).i_generation,
                rdev: sys::rsfs_inode_rdev(i),
            }
        }
    }
}
