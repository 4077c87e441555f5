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
    address_space, dir::Created, file, fs_type::Tables, inode_ops, sys, FileSystem, SuperBlock,
};

/// The allocation that holds a VFS inode and the filesystem's data for it.
///
/// # Invariants
///
/// `inode` has been through `inode_init_once`. `data` is initialised if and
/// only if `has_data` is true, and then stays initialised until the box is
/// freed.
#[repr(C)]
pub(super) struct InodeBox<T: FileSystem> {
    inode: Opaque<sys::inode>,
    has_data: bool,
    data: MaybeUninit<T::InodeData>,
}

impl<T: FileSystem> InodeBox<T> {
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
/// is being freed, and `writepage` one that only its locked folio keeps
/// alive. So an `&Inode<T>` cannot be turned into a counted reference with
/// `ihold`; only [`Inode::grab`] can make one, and it refuses an inode
/// that is being freed. Counted references are [`InodeRef`]s.
#[repr(transparent)]
pub(crate) struct Inode<T: FileSystem>(Opaque<sys::inode>, PhantomData<T>);

// SAFETY: `igrab` and `iput` may be called from any thread, and the inode
// state we expose is either stable or protected by the VFS's locks.
unsafe impl<T: FileSystem> Send for Inode<T> {}
// SAFETY: As above; `T::InodeData` is `Sync`.
unsafe impl<T: FileSystem> Sync for Inode<T> {}

/// A counted reference to an inode of filesystem `T` (`ihold`/`igrab`, and
/// `iput` when dropped).
///
/// # Invariants
///
/// `0` points to an inode that satisfies the invariants of [`Inode<T>`],
/// and this object owns one reference to it, so its count is non-zero.
pub(crate) struct InodeRef<T: FileSystem>(NonNull<Inode<T>>);

// SAFETY: A reference may be dropped (`iput`) on any thread, and `Inode<T>`
// is `Sync`.
unsafe impl<T: FileSystem> Send for InodeRef<T> {}
// SAFETY: Shared access only reaches `Inode<T>`, which is `Sync`.
unsafe impl<T: FileSystem> Sync for InodeRef<T> {}

impl<T: FileSystem> InodeRef<T> {
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
}

impl<T: FileSystem> core::ops::Deref for InodeRef<T> {
    type Target = Inode<T>;

    fn deref(&self) -> &Inode<T> {
        // SAFETY: The inode lives while we hold our reference (type
        // invariant).
        unsafe { self.0.as_ref() }
    }
}

impl<T: FileSystem> Clone for InodeRef<T> {
    fn clone(&self) -> Self {
        // SAFETY: We own a reference, so the count is non-zero and `ihold`
        // may add one.
        unsafe { sys::ihold(self.0.as_ptr().cast()) };
        // INVARIANT: The new object owns the reference taken just now.
        Self(self.0)
    }
}

impl<T: FileSystem> Drop for InodeRef<T> {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant), given up here.
        unsafe { sys::iput(self.0.as_ptr().cast()) };
    }
}

/// The file types rsfs knows, by their `S_IFMT` bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A unix domain socket.
    Socket,
}

impl FileType {
    /// The type of `mode`, or `None` for a mode with no file type.
    pub(crate) fn from_mode(mode: u16) -> Option<Self> {
        match u32::from(mode) & sys::S_IFMT {
            sys::S_IFREG => Some(Self::Regular),
            sys::S_IFDIR => Some(Self::Directory),
            sys::S_IFLNK => Some(Self::Symlink),
            sys::RSFS_S_IFCHR => Some(Self::CharDevice),
            sys::RSFS_S_IFBLK => Some(Self::BlockDevice),
            sys::RSFS_S_IFIFO => Some(Self::Fifo),
            sys::RSFS_S_IFSOCK => Some(Self::Socket),
            _ => None,
        }
    }

    /// Whether this is a device, a pipe or a socket: a file whose contents
    /// are not on the disk, and whose operations are the VFS's
    /// (`init_special_inode`).
    pub(crate) fn is_special(self) -> bool {
        matches!(
            self,
            Self::CharDevice | Self::BlockDevice | Self::Fifo | Self::Socket
        )
    }
}

/// A point in time, as the VFS keeps it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Timestamp {
    /// Seconds since the epoch.
    pub(crate) sec: i64,
    /// Nanoseconds, below 1_000_000_000.
    pub(crate) nsec: u32,
}

impl Timestamp {
    fn from_raw(ts: sys::timespec64) -> Self {
        Self {
            sec: ts.tv_sec,
            nsec: ts.tv_nsec as u32,
        }
    }
}

/// A snapshot of an inode's attributes, for writing it to disk.
#[derive(Clone, Copy)]
pub(crate) struct Attrs {
    /// File type and permissions.
    pub(crate) mode: u16,
    /// Hard links.
    pub(crate) nlink: u32,
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Access time.
    pub(crate) atime: Timestamp,
    /// Modification time.
    pub(crate) mtime: Timestamp,
    /// Change time.
    pub(crate) ctime: Timestamp,
    /// Generation number.
    pub(crate) generation: u32,
    /// The device of a device file, encoded as on disk; 0 for others.
    pub(crate) rdev: u32,
}

impl<T: FileSystem> Inode<T> {
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

    /// The file's page cache.
    pub(crate) fn mapping(&self) -> &super::AddressSpace<T> {
        // SAFETY: `i_mapping` is set for the inode's life and is its own
        // `i_data` for rsfs inodes.
        unsafe { super::AddressSpace::from_raw(sys::rsfs_inode_mapping(self.as_raw())) }
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
        // INVARIANT-based: rsfs only initialises inodes of these types.
        FileType::from_mode(self.mode()).unwrap_or(FileType::Regular)
    }

    /// The hard link count.
    pub(crate) fn nlink(&self) -> u32 {
        // SAFETY: The inode is valid; `i_nlink` is read as `stat` does.
        unsafe { (*self.as_raw()).__bindgen_anon_1.i_nlink }
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

    /// Takes the inode's lock (`i_rwsem`) exclusively, as writes, truncate
    /// and `fallocate` do, until the guard is dropped (`inode_lock`). The
    /// guard is the token of the functions that need the lock held.
    pub(crate) fn lock(&self) -> InodeGuard<'_, T> {
        // SAFETY: The inode is valid (type invariant); this may sleep, which
        // every caller (a system call) allows.
        unsafe { sys::rsfs_inode_lock(self.as_raw()) };
        // INVARIANT: Locked just now.
        InodeGuard(self)
    }

    /// Takes the inode's lock shared (`inode_lock_shared`), as direct reads
    /// do, until the guard is dropped.
    pub(crate) fn lock_shared(&self) -> InodeSharedGuard<'_, T> {
        // SAFETY: As for `lock`.
        unsafe { sys::rsfs_inode_lock_shared(self.as_raw()) };
        // INVARIANT: Locked just now.
        InodeSharedGuard(self)
    }

    /// Takes the mapping's invalidate lock exclusively, holding off page
    /// faults and reads that would bring folios into the page cache, until
    /// the guard is dropped (`filemap_invalidate_lock`).
    pub(crate) fn lock_invalidate(&self) -> InvalidateGuard<'_, T> {
        // SAFETY: The inode is valid.
        unsafe { sys::rsfs_invalidate_lock(self.as_raw()) };
        // INVARIANT: Locked just now.
        InvalidateGuard(self)
    }

    /// Takes the mapping's invalidate lock shared, as page faults and
    /// reads that bring folios into the page cache do, until the guard is
    /// dropped (`filemap_invalidate_lock_shared`).
    pub(crate) fn lock_invalidate_shared(&self) -> InvalidateSharedGuard<'_, T> {
        // SAFETY: The inode is valid (type invariant).
        unsafe { sys::rsfs_invalidate_lock_shared(self.as_raw()) };
        // INVARIANT: Locked just now.
        InvalidateSharedGuard(self)
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

/// The attributes of an inode read from disk.
pub(crate) struct InodeParams {
    /// File type and permissions (`S_IF*` and mode bits).
    pub(crate) mode: u16,
    /// Hard link count.
    pub(crate) nlink: u32,
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Space used, in 512-byte sectors.
    pub(crate) sectors: u64,
    /// Access time.
    pub(crate) atime: Timestamp,
    /// Modification time.
    pub(crate) mtime: Timestamp,
    /// Change time.
    pub(crate) ctime: Timestamp,
    /// Generation number.
    pub(crate) generation: u32,
    /// The device of a device file, encoded as on disk; 0 for others.
    pub(crate) rdev: u32,
    /// The inode flags of `chattr(1)` (`FS_*_FL`, see [`Inode::set_flags`]).
    pub(crate) flags: u32,
}

/// The operations tables of an inode, which the filesystem chooses as it
/// initialises it ([`NewInode::init`], [`NewInode::init_created`]).
pub(crate) struct InodeOps<T: FileSystem> {
    /// Its inode operations.
    pub(crate) inode: inode_ops::Ops<T>,
    /// The operations of the inode's open files; `None` for a symlink. A
    /// device, pipe or socket gets the VFS's instead (`init_special_inode`).
    pub(crate) file: Option<file::Ops<T>>,
    /// The operations of its page cache, for a file whose data is there.
    pub(crate) pages: Option<address_space::Ops<T>>,
}

impl<T: FileSystem> Clone for InodeOps<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: FileSystem> Copy for InodeOps<T> {}

/// The result of [`SuperBlock::iget`].
pub(crate) enum Lookup<T: FileSystem> {
    /// The inode was in the inode cache, ready to use.
    Cached(InodeRef<T>),
    /// The inode is new and must be read from disk and initialised.
    New(NewInode<T>),
}

/// A new inode, locked (`I_NEW`), that the caller must initialise.
///
/// Dropping it without calling [`NewInode::init`] or
/// [`NewInode::init_created`] releases it as failed (`iget_failed` for an
/// inode being read, `discard_new_inode` for one being created), so that an
/// error leaves nothing half-made behind.
///
/// # Invariants
///
/// The wrapped inode is `I_NEW`, is embedded in an [`InodeBox<T>`] without
/// data, belongs to a ready superblock of type `T`, and this object owns one
/// reference to it.
pub(crate) struct NewInode<T: FileSystem> {
    inode: NonNull<sys::inode>,
    created: bool,
    _p: PhantomData<T>,
}

impl<T: FileSystem> NewInode<T> {
    /// Wraps a new inode.
    ///
    /// # Safety
    ///
    /// `inode` must satisfy the type invariants; ownership of its reference
    /// passes to the returned object. `created` says whether it comes from
    /// `new_inode` (true) or `iget_locked` (false).
    pub(super) unsafe fn from_raw(inode: NonNull<sys::inode>, created: bool) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            inode,
            created,
            _p: PhantomData,
        }
    }

    /// The raw inode.
    pub(super) fn as_raw(&self) -> *mut sys::inode {
        self.inode.as_ptr()
    }

    /// The inode number.
    pub(crate) fn ino(&self) -> u64 {
        // SAFETY: `i_ino` is set before the inode is handed out.
        unsafe { (*self.as_raw()).i_ino as u64 }
    }

    /// Sets the operations tables `ops`, installs the data and gives up
    /// the wrapper.
    fn finish(
        self,
        ops: InodeOps<T>,
        data: impl PinInit<T::InodeData, Error>,
    ) -> Result<NonNull<sys::inode>> {
        let inode = self.as_raw();
        // SAFETY: The inode is new and locked, so its fields are ours.
        let mode = unsafe { (*inode).i_mode };
        let ftype = FileType::from_mode(mode).ok_or(EINVAL)?;
        // SAFETY: As above; the tables are promoted constants.
        unsafe { Tables::<T>::set_inode_ops(inode, ftype, ops) };
        // SAFETY: `inode` is embedded in an `InodeBox<T>` without data; we
        // initialise `data` in place (it never moves: the box is pinned on
        // the heap) and then record that it is there.
        unsafe {
            let b = InodeBox::<T>::from_inode(inode);
            data.__pinned_init((*b).data.as_mut_ptr())?;
            (*b).has_data = true;
        }
        let this = core::mem::ManuallyDrop::new(self);
        Ok(this.inode)
    }

    /// Fills in an inode read from disk, with operations tables `ops`,
    /// unlocks it and returns it.
    pub(crate) fn init(
        self,
        params: InodeParams,
        ops: InodeOps<T>,
        data: impl PinInit<T::InodeData, Error>,
    ) -> Result<InodeRef<T>> {
        let inode = self.as_raw();
        // SAFETY: The inode is new and locked, so we are the only one
        // touching its fields.
        unsafe {
            (*inode).i_mode = params.mode;
            sys::set_nlink(inode, params.nlink);
            sys::rsfs_i_uid_write(inode, params.uid);
            sys::rsfs_i_gid_write(inode, params.gid);
            sys::rsfs_i_size_write(inode, params.size as i64);
            (*inode).i_blocks = params.sectors;
            (*inode).i_generation = params.generation;
            sys::rsfs_inode_set_rdev(inode, params.rdev);
            sys::inode_set_flags(inode, vfs_flags(params.flags), VFS_FLAGS);
            sys::rsfs_inode_set_times(
                inode,
                params.atime.sec,
                params.atime.nsec,
                params.mtime.sec,
                params.mtime.nsec,
                params.ctime.sec,
                params.ctime.nsec,
            );
        }
        let inode = self.finish(ops, data)?;
        // SAFETY: The inode is fully initialised; unlocking it makes it
        // visible to other lookups.
        unsafe { sys::unlock_new_inode(inode.as_ptr()) };
        // SAFETY: We own the reference the `NewInode` held, and the inode
        // is now initialised, which is what `Inode` requires.
        Ok(unsafe { InodeRef::from_raw(inode) })
    }

    /// Finishes an inode created by a namespace operation, with operations
    /// tables `ops`: its owner, mode and times were set when it was
    /// allocated. `flags` are its `chattr(1)` flags, as for
    /// [`Inode::set_flags`].
    pub(crate) fn init_created(
        self,
        generation: u32,
        flags: u32,
        ops: InodeOps<T>,
        data: impl PinInit<T::InodeData, Error>,
    ) -> Result<Created<T>> {
        // SAFETY: The inode is new and locked, so its fields are ours.
        unsafe {
            (*self.as_raw()).i_generation = generation;
            sys::inode_set_flags(self.as_raw(), vfs_flags(flags), VFS_FLAGS);
        }
        let inode = self.finish(ops, data)?;
        // SAFETY: An initialised, still locked inode whose reference we own.
        Ok(unsafe { Created::from_raw(inode) })
    }
}

impl<T: FileSystem> Drop for NewInode<T> {
    fn drop(&mut self) {
        // SAFETY: The inode is new and locked, and we own a reference: both
        // functions mark it bad, unlock it and drop that reference.
        unsafe {
            if self.created {
                sys::clear_nlink(self.as_raw());
                sys::discard_new_inode(self.as_raw());
            } else {
                sys::iget_failed(self.as_raw());
            }
        }
    }
}

/// The invalidate lock of an inode's mapping, held exclusively (see
/// [`Inode::lock_invalidate`]).
///
/// # Invariants
///
/// The lock of `0`'s mapping is held by us.
pub(crate) struct InvalidateGuard<'a, T: FileSystem>(&'a Inode<T>);

impl<T: FileSystem> Drop for InvalidateGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold the lock.
        unsafe { sys::rsfs_invalidate_unlock(self.0.as_raw()) };
    }
}

/// A token that an inode's lock (`i_rwsem`) is held exclusively, which the
/// VFS requires for changes of its size, link count and flags (as
/// `Locked<&INode>` in Wedson Almeida Filho's fs series). It comes from
/// [`InodeGuard::locked`], or from a callback that the VFS calls with the
/// lock held (the namespace operations, `setattr`, `fileattr_set`, the
/// buffered write), or for an inode nobody else can reach (being set up,
/// being evicted).
///
/// # Invariants
///
/// The lock of `0` is held exclusively, or `0` is reachable by nobody
/// else, for `'a`.
pub(crate) struct Locked<'a, T: FileSystem>(&'a Inode<T>);

impl<T: FileSystem> Clone for Locked<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: FileSystem> Copy for Locked<'_, T> {}

impl<'a, T: FileSystem> Locked<'a, T> {
    /// # Safety
    ///
    /// `inode`'s lock must be held exclusively for `'a`, or nobody else
    /// reach it.
    pub(super) unsafe fn new(inode: &'a Inode<T>) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(inode)
    }

    /// The inode, for everything that needs no lock.
    pub(crate) fn inode(self) -> &'a Inode<T> {
        self.0
    }

    /// Sets the size in bytes (`i_size_write`, which the inode lock
    /// serialises).
    pub(crate) fn set_size(&self, size: u64) {
        // SAFETY: The inode is valid, and locked (type invariant), which
        // serialises `i_size_write` with other writers; readers use
        // `i_size_read`.
        unsafe { sys::rsfs_i_size_write(self.0.as_raw(), size as i64) };
    }

    /// Sets the size and drops the page cache past it (`truncate_setsize`).
    pub(crate) fn truncate_pagecache(&self, size: u64) {
        // SAFETY: The inode is valid and locked (type invariant), as
        // `truncate_setsize` requires.
        unsafe { sys::truncate_setsize(self.0.as_raw(), size as i64) };
    }

    /// Drops the page cache of bytes `start..=end`, waiting for writeback of
    /// the folios there; partial pages at either end are zeroed in the range
    /// (`truncate_pagecache_range`).
    pub(crate) fn truncate_pagecache_range(&self, start: u64, end: u64) {
        // SAFETY: The inode is valid and locked (type invariant).
        unsafe { sys::truncate_pagecache_range(self.0.as_raw(), start as i64, end as i64) };
    }

    /// Increments the link count.
    pub(crate) fn inc_nlink(&self) {
        // SAFETY: The inode is valid, and locked (type invariant), which
        // serialises changes of the link count.
        unsafe { sys::inc_nlink(self.0.as_raw()) };
    }

    /// Decrements the link count.
    pub(crate) fn drop_nlink(&self) {
        // SAFETY: The inode is valid, and locked (type invariant), which
        // serialises changes of the link count.
        unsafe { sys::drop_nlink(self.0.as_raw()) };
    }

    /// Sets the link count to zero.
    pub(crate) fn clear_nlink(&self) {
        // SAFETY: The inode is valid, and locked (type invariant), which
        // serialises changes of the link count.
        unsafe { sys::clear_nlink(self.0.as_raw()) };
    }

    /// Makes the VFS enforce the `chattr(1)` flags `flags` (`FS_*_FL`:
    /// SYNC, IMMUTABLE, APPEND, NOATIME; others are the filesystem's to
    /// keep).
    pub(crate) fn set_flags(&self, flags: u32) {
        // SAFETY: The inode is valid; `inode_set_flags` changes only the
        // bits of the mask, atomically.
        unsafe { sys::inode_set_flags(self.0.as_raw(), vfs_flags(flags), VFS_FLAGS) };
    }
}

impl<T: FileSystem> core::ops::Deref for Locked<'_, T> {
    type Target = Inode<T>;

    fn deref(&self) -> &Inode<T> {
        self.0
    }
}

/// An inode's lock (`i_rwsem`), held exclusively (see [`Inode::lock`]).
///
/// # Invariants
///
/// `0`'s lock is held exclusively by us.
pub(crate) struct InodeGuard<'a, T: FileSystem>(&'a Inode<T>);

impl<T: FileSystem> InodeGuard<'_, T> {
    /// The token of the lock this guard holds.
    pub(crate) fn locked(&self) -> Locked<'_, T> {
        // SAFETY: We hold the lock (type invariant) while the token's
        // borrow of the guard lasts.
        unsafe { Locked::new(self.0) }
    }

    /// Whether this is the lock of `inode`.
    pub(super) fn locks(&self, inode: *mut sys::inode) -> bool {
        self.0.as_raw() == inode
    }
}

impl<T: FileSystem> Drop for InodeGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold the lock.
        unsafe { sys::rsfs_inode_unlock(self.0.as_raw()) };
    }
}

/// An inode's lock (`i_rwsem`), held shared (see [`Inode::lock_shared`]).
///
/// # Invariants
///
/// `0`'s lock is held shared by us.
pub(crate) struct InodeSharedGuard<'a, T: FileSystem>(&'a Inode<T>);

impl<T: FileSystem> InodeSharedGuard<'_, T> {
    /// Whether this is the lock of `inode`.
    pub(super) fn locks(&self, inode: *mut sys::inode) -> bool {
        self.0.as_raw() == inode
    }
}

impl<T: FileSystem> Drop for InodeSharedGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold the lock shared.
        unsafe { sys::rsfs_inode_unlock_shared(self.0.as_raw()) };
    }
}

/// The invalidate lock of an inode's mapping, held shared (see
/// [`Inode::lock_invalidate_shared`]).
///
/// # Invariants
///
/// The lock of `0`'s mapping is held shared by us.
pub(crate) struct InvalidateSharedGuard<'a, T: FileSystem>(&'a Inode<T>);

impl<T: FileSystem> Drop for InvalidateSharedGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold the lock shared.
        unsafe { sys::rsfs_invalidate_unlock_shared(self.0.as_raw()) };
    }
}

/// The `i_flags` bits that [`Inode::set_flags`] sets or clears.
const VFS_FLAGS: u32 = sys::S_SYNC | sys::S_IMMUTABLE | sys::S_APPEND | sys::S_NOATIME;

/// The `i_flags` that `chattr(1)` flags ask the VFS to enforce.
const fn vfs_flags(flags: u32) -> u32 {
    let mut v = 0;
    if flags & sys::FS_SYNC_FL != 0 {
        v |= sys::S_SYNC;
    }
    if flags & sys::FS_IMMUTABLE_FL != 0 {
        v |= sys::S_IMMUTABLE;
    }
    if flags & sys::FS_APPEND_FL != 0 {
        v |= sys::S_APPEND;
    }
    if flags & sys::FS_NOATIME_FL != 0 {
        v |= sys::S_NOATIME;
    }
    v
}
