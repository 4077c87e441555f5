// SPDX-License-Identifier: GPL-2.0

//! Folios of a file's page cache.
//!
//! A folio's private word (`folio->private`, with `PG_private`) belongs to
//! the filesystem: [`LockedFolio::private_word`] and
//! [`LockedFolio::set_private_word`] give it a word to keep there, such as
//! the disk block behind the folio. The address-space table detaches it
//! when the folio leaves the page cache (see [`super::address_space`]).
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h).

use core::ptr::NonNull;
use kernel::types::Opaque;

use super::sys;

/// A folio, borrowed from whoever holds a reference to it (a folio batch,
/// the VFS).
///
/// # Invariants
///
/// The wrapped folio is valid and referenced for the lifetime of `&Folio`.
#[repr(transparent)]
pub(crate) struct Folio(Opaque<sys::folio>);

impl Folio {
    /// # Safety
    ///
    /// `ptr` must be a valid folio, referenced for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut sys::folio) -> &'a Self {
        // SAFETY: `Folio` is a transparent wrapper; the caller guarantees
        // validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    fn as_raw(&self) -> *mut sys::folio {
        self.0.get()
    }

    /// Locks the folio (sleeping until it is free) and takes a reference.
    pub(crate) fn lock(&self) -> LockedFolio {
        // SAFETY: The folio is valid (type invariant); `folio_lock` sleeps,
        // which every caller (writeback, in process context) allows.
        unsafe {
            sys::rsfs_folio_get(self.as_raw());
            sys::rsfs_folio_lock(self.as_raw());
        }
        // INVARIANT: Locked and referenced just above.
        LockedFolio(NonNull::from(&self.0).cast())
    }
}

/// A locked folio with a reference of its own. Dropping it unlocks the
/// folio and drops the reference.
///
/// # Invariants
///
/// The folio is valid, this object holds one reference to it, and the
/// folio's lock is held on this object's behalf.
pub(crate) struct LockedFolio(NonNull<sys::folio>);

// SAFETY: A folio lock is not tied to the task that took it, and folio
// references are atomic.
unsafe impl Send for LockedFolio {}

impl LockedFolio {
    /// Takes over a locked folio and a reference to it.
    ///
    /// # Safety
    ///
    /// `folio` must be valid and locked, and the caller passes one
    /// reference and the lock to the new object.
    pub(super) unsafe fn from_raw(folio: NonNull<sys::folio>) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(folio)
    }

    /// Takes over the lock of `folio`, which the caller holds locked without a reference of
    /// its own to give (the VFS's `read_folio`, `writepage`, a fault).
    ///
    /// # Safety
    ///
    /// `folio` must be valid and locked; the lock passes to the new object.
    pub(super) unsafe fn from_locked(folio: *mut sys::folio) -> Self {
        // SAFETY: The folio is valid, as the caller guarantees.
        unsafe { sys::rsfs_folio_get(folio) };
        // INVARIANT: Locked (the caller's lock), and referenced above.
        // SAFETY: `folio` is valid and so not null.
        Self(unsafe { NonNull::new_unchecked(folio) })
    }

    pub(super) fn as_raw(&self) -> *mut sys::folio {
        self.0.as_ptr()
    }

    /// Gives up the wrapper: the caller gets the lock and the reference.
    pub(super) fn into_raw(self) -> *mut sys::folio {
        let f = self.as_raw();
        core::mem::forget(self);
        f
    }

    /// Gives up the lock to someone else (a bio completion) but keeps the
    /// reference until `self` is dropped.
    fn hand_over_lock(self) -> FolioRef {
        let f = self.0;
        core::mem::forget(self);
        // INVARIANT: `FolioRef` owns the reference; the lock went elsewhere.
        FolioRef(f)
    }

    /// The folio's index in the file, in pages.
    pub(crate) fn index(&self) -> u64 {
        // SAFETY: The folio is valid and locked, so `index` is stable.
        unsafe { sys::rsfs_folio_index(self.as_raw()) as u64 }
    }

    /// The folio's size in bytes.
    pub(crate) fn size(&self) -> usize {
        // SAFETY: The folio is valid.
        unsafe { sys::rsfs_folio_size(self.as_raw()) }
    }

    /// Whether the folio's contents are valid.
    pub(crate) fn is_uptodate(&self) -> bool {
        // SAFETY: The folio is valid.
        unsafe { sys::rsfs_folio_test_uptodate(self.as_raw()) }
    }

    /// Marks the contents valid.
    pub(crate) fn mark_uptodate(&self) {
        // SAFETY: The folio is locked.
        unsafe { sys::rsfs_folio_mark_uptodate(self.as_raw()) };
    }

    /// Whether the folio is dirty.
    pub(crate) fn is_dirty(&self) -> bool {
        // SAFETY: The folio is valid.
        unsafe { sys::rsfs_folio_test_dirty(self.as_raw()) }
    }

    /// Marks the folio dirty (and its inode, for writeback).
    pub(crate) fn mark_dirty(&self) {
        // SAFETY: The folio is locked and belongs to a mapping.
        unsafe { sys::folio_mark_dirty(self.as_raw()) };
    }

    /// Whether the folio is under writeback.
    pub(crate) fn is_writeback(&self) -> bool {
        // SAFETY: The folio is valid.
        unsafe { sys::rsfs_folio_test_writeback(self.as_raw()) }
    }

    /// Waits until the folio is no longer under writeback.
    pub(crate) fn wait_writeback(&self) {
        // SAFETY: The folio is locked, so no new writeback can start.
        unsafe { sys::folio_wait_writeback(self.as_raw()) };
    }

    /// Waits until writeback no longer needs the folio's contents stable.
    pub(crate) fn wait_stable(&self) {
        // SAFETY: The folio is locked.
        unsafe { sys::folio_wait_stable(self.as_raw()) };
    }

    /// Clears the dirty bit before writing the folio (and the page tables'
    /// dirty bits). False if it was not dirty.
    pub(crate) fn clear_dirty_for_io(&self) -> bool {
        // SAFETY: The folio is locked.
        unsafe { sys::folio_clear_dirty_for_io(self.as_raw()) }
    }

    /// Zeroes bytes `s1..e1` and `s2..e2` of the folio.
    pub(crate) fn zero_segments(&self, s1: usize, e1: usize, s2: usize, e2: usize) {
        let size = self.size();
        // SAFETY: The folio is locked, and the ranges are clamped to it.
        unsafe {
            sys::rsfs_folio_zero_segments(
                self.as_raw(),
                s1.min(size),
                e1.min(size),
                s2.min(size),
                e2.min(size),
            )
        };
    }

    /// The folio's private word, 0 if it has none.
    pub(crate) fn private_word(&self) -> usize {
        // SAFETY: The folio is locked (type invariant), so its private
        // field is stable.
        unsafe { sys::rsfs_folio_private_word(self.as_raw()) }
    }

    /// Keeps `word` in the folio's private field (`folio_attach_private`,
    /// which holds a folio reference for it, or `folio_change_private`).
    pub(crate) fn set_private_word(&self, word: usize) {
        // SAFETY: The folio is locked (type invariant); the field holds a
        // plain word, never dereferenced.
        unsafe { sys::rsfs_folio_set_private_word(self.as_raw(), word) };
    }

    /// Starts writeback and unlocks the folio: it can be read and dirtied
    /// again, and the bio it goes into ends the writeback.
    pub(crate) fn start_writeback(self) -> WritebackFolio {
        // SAFETY: The folio is locked and its dirty bit was cleared for I/O;
        // this also clears the TOWRITE tag.
        unsafe {
            sys::rsfs_folio_start_writeback(self.as_raw());
            sys::folio_unlock(self.as_raw());
        }
        WritebackFolio(self.hand_over_lock())
    }

    /// Hands the locked folio to a read: the bio's completion marks it
    /// uptodate (or not) and unlocks it.
    pub(crate) fn start_read(self) -> ReadFolio {
        ReadFolio(self.hand_over_lock())
    }
}

impl Drop for LockedFolio {
    fn drop(&mut self) {
        // SAFETY: We hold the lock and a reference (type invariant).
        unsafe {
            sys::folio_unlock(self.as_raw());
            sys::rsfs_folio_put(self.as_raw());
        }
    }
}

/// A reference to a folio, held while its lock or writeback belongs to
/// a bio.
///
/// # Invariants
///
/// The folio is valid and this object owns one reference to it.
pub(crate) struct FolioRef(NonNull<sys::folio>);

// SAFETY: Folio references are atomic.
unsafe impl Send for FolioRef {}

impl FolioRef {
    pub(super) fn as_raw(&self) -> *mut sys::folio {
        self.0.as_ptr()
    }
}

impl Drop for FolioRef {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant).
        unsafe { sys::rsfs_folio_put(self.as_raw()) };
    }
}

/// A folio under writeback, unlocked, waiting to go into a write bio. If
/// it is dropped instead, its writeback ends with an I/O error recorded on
/// the mapping, so that nothing waits forever and fsync reports the loss.
pub(crate) struct WritebackFolio(FolioRef);

impl WritebackFolio {
    /// The folio, for a bio that will end its writeback.
    pub(super) fn into_ref(self) -> FolioRef {
        // SAFETY: `self` is forgotten right after, so the reference moves
        // out exactly once.
        let r = unsafe { core::ptr::read(&self.0) };
        core::mem::forget(self);
        r
    }
}

impl Drop for WritebackFolio {
    fn drop(&mut self) {
        let f = self.0.as_raw();
        // SAFETY: The folio is under writeback on our behalf; its mapping is
        // stable while it is.
        unsafe {
            sys::rsfs_mapping_set_error(
                sys::rsfs_folio_mapping(f),
                kernel::error::code::EIO.to_errno(),
            );
            sys::folio_end_writeback(f);
        }
    }
}

/// A locked folio waiting to go into a read bio. If it is dropped instead,
/// the folio is unlocked without becoming uptodate (a read error).
pub(crate) struct ReadFolio(FolioRef);

impl ReadFolio {
    /// The folio, for a bio that will finish the read.
    pub(super) fn into_ref(self) -> FolioRef {
        // SAFETY: As in `WritebackFolio::into_ref`.
        let r = unsafe { core::ptr::read(&self.0) };
        core::mem::forget(self);
        r
    }
}

impl Drop for ReadFolio {
    fn drop(&mut self) {
        // SAFETY: The folio is locked on our behalf.
        unsafe { sys::folio_end_read(self.0.as_raw(), false) };
    }
}
