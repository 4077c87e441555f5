// SPDX-License-Identifier: GPL-2.0

//! Inodes being set up: [`NewInode`], a locked inode (`I_NEW`), which the
//! filesystem fills in with the attributes and the operations tables it
//! chooses ([`InodeOps`]). It comes from [`SuperBlock::iget`] for an inode
//! read from disk, or from [`SuperBlock::new_inode`] for one a namespace
//! operation creates (for [`Owner`]), which becomes [`Created`].
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use core::{marker::PhantomData, ptr::NonNull};
use kernel::{init::PinInit, prelude::*};

use super::{
    attrs::{vfs_flags, FileType, InodeParams, VFS_FLAGS},
    inode::{InodeBox, InodeRef},
    lock::Locked,
    ops::Ops,
    super_block::Ready,
    sys, FsData, Inode, SuperBlock,
};

/// The result of [`SuperBlock::iget`].
pub(crate) enum Lookup<T: FsData> {
    /// The inode was in the inode cache, ready to use.
    Cached(InodeRef<T>),
    /// The inode is new and must be read from disk and initialised.
    New(NewInode<T>),
}

impl<T: FsData> SuperBlock<T, Ready> {
    /// Finds inode `ino` in the inode cache or, if it is not there, returns
    /// a new locked inode for the caller to fill in from disk.
    pub(crate) fn iget(&self, ino: u64) -> Result<Lookup<T>> {
        // SAFETY: The superblock is valid by the type invariant.
        let inode = unsafe { sys::iget_locked(self.as_raw(), ino as _) };
        let inode = core::ptr::NonNull::new(inode).ok_or(ENOMEM)?;
        // SAFETY: `iget_locked` returned a referenced inode. `i_state`
        // changes under the inode's `i_lock`, which we do not hold: it is
        // read once, as `READ_ONCE` would. `I_NEW` can only be cleared by
        // the holder of the new inode, which is us if it is set.
        let state =
            unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*inode.as_ptr()).i_state)) };
        let is_new = state & sys::RSFS_I_NEW != 0;
        if is_new {
            // SAFETY: A new, locked inode with a reference we own.
            Ok(Lookup::New(unsafe {
                NewInode::from_raw(inode.cast(), false)
            }))
        } else {
            // SAFETY: An initialised inode with a reference we own.
            Ok(Lookup::Cached(unsafe { InodeRef::from_raw(inode.cast()) }))
        }
    }
}

/// Who creates a new inode, and where: what `inode_init_owner` needs to set
/// the new inode's owner, group and set-group-ID bit.
///
/// # Invariants
///
/// `idmap` and `dir` are valid for the duration of the namespace callback
/// that made this object, which is the object's whole life.
pub(crate) struct Owner {
    idmap: *mut sys::mnt_idmap,
    dir: *mut sys::inode,
}

impl Owner {
    /// Records the arguments of a namespace callback.
    pub(super) fn new(idmap: *mut sys::mnt_idmap, dir: *mut sys::inode) -> Self {
        // INVARIANT: Only constructed inside such a callback.
        Self { idmap, dir }
    }
}

impl<T: FsData> SuperBlock<T> {
    /// Allocates a VFS inode numbered `ino` for a file being created: its
    /// owner, group and mode come from `owner` and `mode`, its times are
    /// now. The caller writes it to disk and then calls
    /// [`NewInode::init_created`].
    /// `rdev` is the device of a device file (encoded as on disk), 0 for
    /// others.
    pub(crate) fn new_inode(
        &self,
        owner: &Owner,
        mode: u16,
        ino: u64,
        rdev: u32,
    ) -> Result<NewInode<T>> {
        // SAFETY: The superblock is valid.
        let inode = NonNull::new(unsafe { sys::new_inode(self.as_raw()) }).ok_or(ENOMEM)?;
        let i = inode.as_ptr();
        // SAFETY: `new_inode` returned an inode that only we know about; the
        // owner's pointers are valid (type invariant).
        unsafe {
            sys::inode_init_owner(owner.idmap, i, owner.dir, mode);
            (*i).i_ino = ino as _;
            sys::rsfs_inode_set_rdev(i, rdev);
            sys::rsfs_inode_set_times_now(i);
        }
        // SAFETY: Hashes the inode and marks it `I_NEW`, failing if an inode
        // with that number is already hashed (a damaged bitmap).
        let ret = unsafe { sys::insert_inode_locked(i) };
        if ret != 0 {
            // SAFETY: The inode is not hashed; drop our reference.
            unsafe { sys::iput(i) };
            return Err(Error::from_errno(ret));
        }
        // SAFETY: A new, locked inode of this filesystem whose reference we
        // own, from `new_inode`.
        Ok(unsafe { NewInode::from_raw(inode, true) })
    }
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
pub(crate) struct NewInode<T: FsData> {
    inode: NonNull<sys::inode>,
    created: bool,
    _p: PhantomData<T>,
}

impl<T: FsData> NewInode<T> {
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
        unsafe { set_inode_ops(inode, ftype, ops) };
        // SAFETY: `inode` is new (type invariant), so it is embedded in an
        // `InodeBox<T>` without data, and locked, so the box is ours.
        unsafe { InodeBox::<T>::init_data(inode, data)? };
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
    /// [`Locked::set_flags`].
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

impl<T: FsData> Drop for NewInode<T> {
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

/// The operations tables of an inode, which the filesystem chooses as it
/// initialises it ([`NewInode::init`], [`NewInode::init_created`]).
pub(crate) struct InodeOps<T: FsData> {
    /// Its inode operations ([`super::inode_ops::Ops`]).
    pub(crate) inode: Ops<sys::inode_operations, T>,
    /// The operations of the inode's open files ([`super::file::Ops`]);
    /// `None` for a symlink. A device, pipe or socket gets the VFS's
    /// instead (`init_special_inode`).
    pub(crate) file: Option<Ops<sys::file_operations, T>>,
    /// The operations of its page cache ([`super::address_space::Ops`]),
    /// for a file whose data is there.
    pub(crate) pages: Option<Ops<sys::address_space_operations, T>>,
}

impl<T: FsData> Clone for InodeOps<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: FsData> Copy for InodeOps<T> {}

/// Points a new inode at the tables the filesystem chose for it, and
/// sets a device, pipe or socket up as the VFS does.
///
/// # Safety
///
/// `inode` must be a new, locked inode of filesystem `T`, with its mode
/// (and, for a device, its `i_rdev`) set.
unsafe fn set_inode_ops<T: FsData>(inode: *mut sys::inode, ftype: FileType, ops: InodeOps<T>) {
    // SAFETY: The inode is new and locked, so its fields are ours, as
    // the caller guarantees; the tables are static, built for `T`.
    unsafe {
        (*inode).i_op = ops.inode.as_raw();
        if ftype.is_special() {
            // Sets the file operations and device of a device, pipe or
            // socket from its mode and `i_rdev`.
            sys::rsfs_init_special_inode(inode);
            return;
        }
        (*inode).__bindgen_anon_3.i_fop = ops.file.map_or(core::ptr::null(), |f| f.as_raw());
        if let Some(pages) = ops.pages {
            sys::rsfs_set_aops(inode, pages.as_raw());
        }
    }
}

/// A newly created inode, initialised but still locked until the VFS ties
/// it to its dentry (`d_instantiate_new`). If dropped instead, its link
/// count is cleared and it is discarded, which evicts it.
///
/// # Invariants
///
/// The inode is initialised, `I_NEW`, and this object owns a reference.
pub(crate) struct Created<T: FsData>(NonNull<sys::inode>, PhantomData<T>);

impl<T: FsData> Created<T> {
    /// # Safety
    ///
    /// `inode` must satisfy the type invariants; its reference passes to
    /// the returned object.
    pub(super) unsafe fn from_raw(inode: NonNull<sys::inode>) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(inode, PhantomData)
    }

    /// The inode.
    pub(crate) fn inode(&self) -> &Inode<T> {
        // SAFETY: The inode is initialised (type invariant); only its
        // `I_NEW` flag remains, which `Inode`'s methods do not look at.
        unsafe { Inode::from_raw(self.0.as_ptr()) }
    }

    /// The inode, to finish setting up: nobody else can reach it yet.
    pub(crate) fn locked(&self) -> Locked<'_, T> {
        // SAFETY: An `I_NEW` inode (type invariant) is reachable by nobody
        // else until `d_instantiate_new` unlocks it.
        unsafe { Locked::new(self.inode()) }
    }

    /// Finishes an inode that no dentry takes, such as a whiteout, which is
    /// reached through its name on disk: unlocks it and drops this
    /// reference.
    pub(crate) fn release(self) {
        let inode = self.into_raw();
        // SAFETY: The inode is initialised and `I_NEW`, and the reference
        // `into_raw` gave back is ours to drop.
        unsafe {
            sys::unlock_new_inode(inode);
            sys::iput(inode);
        }
    }

    /// Gives up the wrapper and returns the raw inode, with its reference.
    pub(super) fn into_raw(self) -> *mut sys::inode {
        let inode = self.0.as_ptr();
        core::mem::forget(self);
        inode
    }
}

impl<T: FsData> Drop for Created<T> {
    fn drop(&mut self) {
        // SAFETY: The inode is new and locked, and we own a reference.
        unsafe {
            sys::clear_nlink(self.0.as_ptr());
            sys::discard_new_inode(self.0.as_ptr());
        }
    }
}
