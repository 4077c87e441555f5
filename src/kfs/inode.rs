// SPDX-License-Identifier: GPL-2.0

//! Inodes.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use core::{marker::PhantomData, mem::ManuallyDrop, ptr::NonNull};
use kernel::{
    prelude::*,
    types::{ARef, AlwaysRefCounted, Opaque},
};

use super::{sys, FileSystem};

/// A VFS inode of filesystem `T`.
///
/// # Invariants
///
/// The wrapped inode belongs to a superblock of type `T` whose per-mount
/// state is set, and is fully initialised (not `I_NEW`). Instances are only
/// reached through a reference or an [`ARef`], so the inode's reference
/// count is non-zero while they exist.
#[repr(transparent)]
pub(crate) struct Inode<T: FileSystem>(Opaque<sys::inode>, PhantomData<T>);

// SAFETY: `ihold` and `iput` may be called from any thread, and the inode
// fields we read are stable or read under the VFS's own rules.
unsafe impl<T: FileSystem> Send for Inode<T> {}
// SAFETY: as above; `&Inode` only offers operations the VFS allows
// concurrently.
unsafe impl<T: FileSystem> Sync for Inode<T> {}

// SAFETY: the reference count of an inode is managed by `ihold`/`iput`, and
// an inode is not freed while a reference is held.
unsafe impl<T: FileSystem> AlwaysRefCounted for Inode<T> {
    fn inc_ref(&self) {
        // SAFETY: the existence of `&self` means the count is non-zero.
        unsafe { sys::ihold(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns one reference, which it gives up here.
        unsafe { sys::iput(obj.as_ptr().cast()) };
    }
}

/// A point in time, as the VFS keeps it.
#[derive(Clone, Copy, Default)]
pub(crate) struct Timestamp {
    /// Seconds since the epoch.
    pub(crate) sec: i64,
    /// Nanoseconds, below 1_000_000_000.
    pub(crate) nsec: u32,
}

/// The operations a directory inode uses.
pub(crate) enum DirOps {
    /// libfs's in-memory directory operations (`simple_dir_operations`):
    /// the directory lists only what the dentry cache holds.
    Libfs,
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
    pub(crate) size: i64,
    /// Space used, in 512-byte sectors.
    pub(crate) sectors: u64,
    /// Access time.
    pub(crate) atime: Timestamp,
    /// Modification time.
    pub(crate) mtime: Timestamp,
    /// Change time.
    pub(crate) ctime: Timestamp,
    /// The operations, for directories.
    pub(crate) dir_ops: DirOps,
}

/// The result of [`SuperBlock::iget`].
pub(crate) enum Lookup<T: FileSystem> {
    /// The inode was in the inode cache, ready to use.
    Cached(ARef<Inode<T>>),
    /// The inode is new and must be read from disk and initialised.
    New(NewInode<T>),
}

/// A new inode, locked (`I_NEW`), that the caller must initialise.
///
/// Dropping it without calling [`NewInode::init`] marks it bad and releases
/// it (`iget_failed`), so a failed read leaves nothing half-made behind.
///
/// # Invariants
///
/// The wrapped inode is `I_NEW`, belongs to a ready superblock of type `T`,
/// and this object owns one reference to it.
pub(crate) struct NewInode<T: FileSystem>(NonNull<sys::inode>, PhantomData<T>);

impl<T: FileSystem> NewInode<T> {
    /// Wraps a new inode.
    ///
    /// # Safety
    ///
    /// `inode` must satisfy the type invariants; ownership of its reference
    /// passes to the returned object.
    pub(super) unsafe fn from_raw(inode: NonNull<sys::inode>) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self(inode, PhantomData)
    }

    /// The inode number.
    pub(crate) fn ino(&self) -> u64 {
        // SAFETY: `i_ino` is set by `iget_locked` before it returns.
        unsafe { (*self.0.as_ptr()).i_ino as u64 }
    }

    /// Fills in the inode from `params`, unlocks it and returns it.
    pub(crate) fn init(self, params: InodeParams) -> Result<ARef<Inode<T>>> {
        let inode = self.0.as_ptr();
        let ftype = u32::from(params.mode) & sys::S_IFMT;
        // SAFETY: the inode is new and locked, so we are the only one
        // touching its fields; the operation tables are static.
        unsafe {
            (*inode).i_mode = params.mode;
            sys::set_nlink(inode, params.nlink);
            sys::rsfs_i_uid_write(inode, params.uid);
            sys::rsfs_i_gid_write(inode, params.gid);
            (*inode).i_size = params.size;
            (*inode).i_blocks = params.sectors;
            sys::rsfs_inode_set_times(
                inode,
                params.atime.sec,
                params.atime.nsec,
                params.mtime.sec,
                params.mtime.nsec,
                params.ctime.sec,
                params.ctime.nsec,
            );
            if ftype == sys::S_IFDIR {
                match params.dir_ops {
                    DirOps::Libfs => {
                        (*inode).i_op = &sys::simple_dir_inode_operations;
                        (*inode).__bindgen_anon_3.i_fop = &sys::simple_dir_operations;
                    }
                }
            } else {
                return Err(super::eopnotsupp());
            }
        }
        let this = ManuallyDrop::new(self);
        // SAFETY: the inode is fully initialised; unlocking it makes it
        // visible to other lookups.
        unsafe { sys::unlock_new_inode(inode) };
        // SAFETY: we own the reference `this` held, and the inode is now
        // initialised, which is what `Inode` requires.
        Ok(unsafe { ARef::from_raw(this.0.cast()) })
    }
}

impl<T: FileSystem> Drop for NewInode<T> {
    fn drop(&mut self) {
        // SAFETY: the inode is new and locked, and we own a reference:
        // `iget_failed` marks it bad, unlocks it and drops that reference.
        unsafe { sys::iget_failed(self.0.as_ptr()) };
    }
}
