// SPDX-License-Identifier: GPL-2.0

//! What the namespace callbacks hand to the filesystem: the creator of a new
//! inode ([`Owner`]), a freshly created inode ([`Created`]), `rename` flags,
//! and the `readdir` cursor ([`DirEmitter`]).

use core::{marker::PhantomData, ptr::NonNull};
use kernel::prelude::*;

use super::{lock::Locked, new_inode::NewInode, sys, FsData, Inode, SuperBlock};

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

/// The flags of a `renameat2(2)`, as the VFS passes them (it has checked
/// them against one another, enforced `RENAME_NOREPLACE` itself (EEXIST),
/// and made sure that both names exist for `RENAME_EXCHANGE`).
#[derive(Clone, Copy)]
pub(crate) struct RenameFlags(u32);

impl RenameFlags {
    pub(super) fn from_raw(flags: u32) -> Self {
        Self(flags)
    }

    /// `RENAME_EXCHANGE`: the two names swap inodes.
    pub(crate) fn exchange(self) -> bool {
        self.0 & sys::RENAME_EXCHANGE != 0
    }

    /// Whether any flag other than `RENAME_NOREPLACE` and `RENAME_EXCHANGE`
    /// is set (`RENAME_WHITEOUT`, for overlayfs).
    pub(crate) fn has_others(self) -> bool {
        self.0 & !(sys::RENAME_NOREPLACE | sys::RENAME_EXCHANGE) != 0
    }
}

/// The name a `rename` goes to, and what it holds, with the locks the VFS
/// holds on it (`vfs_rename`).
pub(crate) enum RenameTarget<'a, T: FsData> {
    /// The name does not exist.
    Free,
    /// The name exists; its inode, which the VFS holds locked, loses it.
    Replace(Locked<'a, T>),
    /// `RENAME_EXCHANGE`: the name exists and its inode takes the source's
    /// name. A directory exchanged within one parent is not locked.
    Exchange(&'a Inode<T>),
}

/// The cursor of a `readdir`: its position and where entries go.
///
/// # Invariants
///
/// `ctx` is a valid `dir_context` for the duration of the `iterate_shared`
/// call that made this object.
pub(crate) struct DirEmitter {
    ctx: *mut sys::dir_context,
}

/// `DT_*` values for [`DirEmitter::emit`].
pub(crate) const DT_UNKNOWN: u32 = 0;
/// Directory.
pub(crate) const DT_DIR: u32 = 4;
/// Regular file.
pub(crate) const DT_REG: u32 = 8;
/// Symbolic link.
pub(crate) const DT_LNK: u32 = 10;
/// Named pipe.
pub(crate) const DT_FIFO: u32 = 1;
/// Character device.
pub(crate) const DT_CHR: u32 = 2;
/// Block device.
pub(crate) const DT_BLK: u32 = 6;
/// Unix domain socket.
pub(crate) const DT_SOCK: u32 = 12;

impl DirEmitter {
    /// # Safety
    ///
    /// `ctx` must satisfy the type invariant.
    pub(super) unsafe fn from_raw(ctx: *mut sys::dir_context) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self { ctx }
    }

    /// The position to continue from.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: `ctx` is valid (type invariant).
        unsafe { (*self.ctx).pos }
    }

    /// Moves the position.
    pub(crate) fn set_pos(&mut self, pos: i64) {
        // SAFETY: `ctx` is valid (type invariant).
        unsafe { (*self.ctx).pos = pos };
    }

    /// Hands one entry to the caller of `getdents`; false means its buffer
    /// is full and the entry must be emitted again next time.
    pub(crate) fn emit(&mut self, name: &[u8], ino: u64, dtype: u32) -> bool {
        // SAFETY: `ctx` is valid (type invariant) and `name` is a valid
        // slice for the call.
        unsafe {
            sys::rsfs_dir_emit(
                self.ctx,
                name.as_ptr().cast(),
                name.len() as i32,
                ino,
                dtype,
            )
        }
    }
}
