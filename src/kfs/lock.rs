// SPDX-License-Identifier: GPL-2.0

//! The locks of an inode: its `i_rwsem` ([`InodeGuard`], [`InodeSharedGuard`])
//! and its mapping's invalidate lock ([`InvalidateGuard`],
//! [`InvalidateSharedGuard`]), and [`Locked`], the token of the changes
//! that need the inode lock held.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use kernel::{error::to_result, prelude::*};

use super::{
    attrs::{vfs_flags, VFS_FLAGS},
    sys, FsData, Inode,
};

/// Taking an inode's locks.
impl<T: FsData> Inode<T> {
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
}

/// The invalidate lock of an inode's mapping, held exclusively (see
/// [`Inode::lock_invalidate`]).
///
/// # Invariants
///
/// The lock of `0`'s mapping is held by us.
pub(crate) struct InvalidateGuard<'a, T: FsData>(&'a Inode<T>);

impl<T: FsData> Drop for InvalidateGuard<'_, T> {
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
/// buffered write), or for an inode nobody else can reach (being set up:
/// [`Created::locked`](super::Created::locked)).
///
/// # Invariants
///
/// The lock of `0` is held exclusively, or `0` is reachable by nobody
/// else, for `'a`.
pub(crate) struct Locked<'a, T: FsData>(&'a Inode<T>);

impl<T: FsData> Clone for Locked<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: FsData> Copy for Locked<'_, T> {}

impl<'a, T: FsData> Locked<'a, T> {
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

    /// Whether the file may grow to `size` bytes: EFBIG past the largest
    /// file the filesystem holds or the caller's `RLIMIT_FSIZE`, which
    /// also sends the caller SIGXFSZ (`inode_newsize_ok`).
    pub(crate) fn newsize_ok(&self, size: u64) -> Result {
        // SAFETY: The inode is valid and locked (type invariant), so its
        // size is stable while `inode_newsize_ok` compares with it.
        to_result(unsafe { sys::inode_newsize_ok(self.0.as_raw(), size as i64) })
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

impl<T: FsData> core::ops::Deref for Locked<'_, T> {
    type Target = Inode<T>;

    fn deref(&self) -> &Inode<T> {
        self.0
    }
}

/// An inode being evicted (`super_operations::evict_inode`). Its last
/// reference is gone and the VFS has marked it `I_FREEING`, so no lookup
/// finds it and [`Inode::grab`] refuses it; its page cache is already
/// dropped. The filesystem releases what the inode holds (its disk space,
/// if it has no links left). No new reference to it can be taken, though
/// an RCU path walk may still read it (which is why it is freed after an
/// RCU grace period).
///
/// # Invariants
///
/// `0` is initialised and being evicted by the task that holds this
/// object, for `'a`: no new reference to it can be taken.
pub(crate) struct Evicting<'a, T: FsData>(&'a Inode<T>);

impl<'a, T: FsData> Evicting<'a, T> {
    /// # Safety
    ///
    /// `inode` must be initialised and being evicted by the caller (inside
    /// `evict_inode`) for `'a`.
    pub(super) unsafe fn new(inode: &'a Inode<T>) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(inode)
    }
}

impl<T: FsData> core::ops::Deref for Evicting<'_, T> {
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
pub(crate) struct InodeGuard<'a, T: FsData>(&'a Inode<T>);

impl<T: FsData> InodeGuard<'_, T> {
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

impl<T: FsData> Drop for InodeGuard<'_, T> {
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
pub(crate) struct InodeSharedGuard<'a, T: FsData>(&'a Inode<T>);

impl<T: FsData> InodeSharedGuard<'_, T> {
    /// Whether this is the lock of `inode`.
    pub(super) fn locks(&self, inode: *mut sys::inode) -> bool {
        self.0.as_raw() == inode
    }
}

impl<T: FsData> Drop for InodeSharedGuard<'_, T> {
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
pub(crate) struct InvalidateSharedGuard<'a, T: FsData>(&'a Inode<T>);

impl<T: FsData> Drop for InvalidateSharedGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold the lock shared.
        unsafe { sys::rsfs_invalidate_unlock_shared(self.0.as_raw()) };
    }
}
