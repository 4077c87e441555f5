// SPDX-License-Identifier: GPL-2.0

//! What writeback and readahead hand to a filesystem: the
//! [`WritebackControl`], the file's [`AddressSpace`], batches of folios
//! found by tag ([`FolioBatch`]), a block plug, the readahead cursor, and
//! the superblock's record of failed writeback ([`ErrSeq`]).
//!
//! C headers: [`include/linux/writeback.h`](srctree/include/linux/writeback.h),
//! [`include/linux/pagevec.h`](srctree/include/linux/pagevec.h),
//! [`include/linux/errseq.h`](srctree/include/linux/errseq.h).

use core::{marker::PhantomData, mem::MaybeUninit};
use kernel::{error::to_result, prelude::*, types::Opaque};

use super::{
    folio::{Folio, LockedFolio},
    sys, FsData, Inode, SuperBlock,
};

/// A point in the history of a superblock's writeback errors (an
/// `errseq_t` cursor): [`SuperBlock::writeback_error_since`] tells whether
/// an error came after it. The default is the start of the mount, when
/// the history is empty.
#[derive(Default)]
pub(crate) struct ErrSeq(u32);

impl<T: FsData> SuperBlock<T> {
    /// A cursor at the present of this filesystem's writeback errors, or
    /// before the latest one if no one has seen it yet (`errseq_sample`).
    pub(crate) fn writeback_error_now(&self) -> ErrSeq {
        // SAFETY: The superblock is valid (type invariant), and so is its
        // `s_wb_err`, which `errseq_sample` reads atomically.
        ErrSeq(unsafe { sys::errseq_sample(core::ptr::addr_of_mut!((*self.as_raw()).s_wb_err)) })
    }

    /// The latest error of the file data writeback of this filesystem
    /// since `since`, which then moves on to now. `mapping_set_error`
    /// records every failed write of a file's folios in the superblock
    /// (`s_wb_err`), besides the file's own record that `fsync` reports
    /// (`errseq_check_and_advance`). An error found is marked seen, so a
    /// file opened later does not get it from `syncfs(2)`: for callers
    /// that stop the filesystem on one, after which every sync fails.
    pub(crate) fn writeback_error_since(&self, since: &mut ErrSeq) -> Result {
        // SAFETY: The superblock is valid (type invariant), and so is its
        // `s_wb_err`, which `errseq_check_and_advance` reads and updates
        // atomically; `since` is ours alone, through the `&mut`.
        to_result(unsafe {
            sys::errseq_check_and_advance(
                core::ptr::addr_of_mut!((*self.as_raw()).s_wb_err),
                &mut since.0,
            )
        })
    }
}

/// The page-cache tags a writeback walk can follow.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tag {
    /// Folios that are dirty.
    Dirty,
    /// Folios tagged for this data-integrity pass by
    /// [`AddressSpace::tag_for_writeback`].
    ToWrite,
}

/// A writeback request (`struct writeback_control`), borrowed for one call.
///
/// # Invariants
///
/// `0` is valid and exclusively ours for `'a`.
pub(crate) struct WritebackControl<'a>(*mut sys::writeback_control, PhantomData<&'a mut ()>);

impl WritebackControl<'_> {
    /// # Safety
    ///
    /// `wbc` must be valid and not used by anyone else for `'a`.
    pub(super) unsafe fn from_raw<'a>(wbc: *mut sys::writeback_control) -> WritebackControl<'a> {
        // INVARIANT: Guaranteed by the caller.
        WritebackControl(wbc, PhantomData)
    }

    pub(super) fn as_raw(&mut self) -> *mut sys::writeback_control {
        self.0
    }

    fn get(&self) -> &sys::writeback_control {
        // SAFETY: Valid for our lifetime (type invariant).
        unsafe { &*self.0 }
    }

    /// WB_SYNC_ALL: data integrity (fsync, sync): every dirty folio must be
    /// written, and folios already under I/O waited for.
    pub(crate) fn is_sync_all(&self) -> bool {
        self.get().sync_mode == sys::writeback_sync_modes_WB_SYNC_ALL
    }

    /// Whether the caller asked for a tagged walk even without WB_SYNC_ALL.
    pub(crate) fn tagged_writepages(&self) -> bool {
        self.get().tagged_writepages() != 0
    }

    /// Whether the call comes from memory reclaim.
    pub(crate) fn for_reclaim(&self) -> bool {
        self.get().for_reclaim() != 0
    }

    /// Whether to start where the last walk stopped (`writeback_index`) and
    /// go to the end, instead of over a range.
    pub(crate) fn range_cyclic(&self) -> bool {
        self.get().range_cyclic() != 0
    }

    /// The byte range to write, inclusive.
    pub(crate) fn range(&self) -> (i64, i64) {
        (self.get().range_start, self.get().range_end)
    }

    /// How many more pages the caller wants written.
    pub(crate) fn nr_to_write(&self) -> i64 {
        self.get().nr_to_write as i64
    }

    /// Accounts for `pages` written.
    pub(crate) fn wrote(&mut self, pages: i64) {
        // SAFETY: Exclusively ours (type invariant).
        unsafe { (*self.0).nr_to_write -= pages as isize };
    }
}

/// The page cache of a file (`struct address_space`).
///
/// # Invariants
///
/// The wrapped mapping is the `i_data` of a live inode of filesystem `T`.
#[repr(transparent)]
pub(crate) struct AddressSpace<T: FsData>(Opaque<sys::address_space>, PhantomData<T>);

impl<T: FsData> AddressSpace<T> {
    /// # Safety
    ///
    /// `ptr` must satisfy the type invariants for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut sys::address_space) -> &'a Self {
        // SAFETY: Transparent wrapper; validity from the caller.
        unsafe { &*ptr.cast() }
    }

    pub(super) fn as_raw(&self) -> *mut sys::address_space {
        self.0.get()
    }

    /// The file the mapping belongs to.
    pub(crate) fn host(&self) -> &Inode<T> {
        // SAFETY: `host` is set for the mapping's life, and the inode is
        // initialised (type invariant).
        unsafe { Inode::from_raw((*self.as_raw()).host) }
    }

    /// Where the last cyclic writeback walk stopped, in pages.
    pub(crate) fn writeback_index(&self) -> u64 {
        // SAFETY: The mapping is valid (type invariant). Concurrent walks
        // read and write the field without a lock, by design, as in C: it
        // is read once, as `READ_ONCE` would.
        unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!((*self.as_raw()).writeback_index)) as u64
        }
    }

    /// Records where the next cyclic walk starts.
    pub(crate) fn set_writeback_index(&self, index: u64) {
        // SAFETY: As above; written once, as `WRITE_ONCE` would.
        unsafe {
            core::ptr::write_volatile(
                core::ptr::addr_of_mut!((*self.as_raw()).writeback_index),
                index as _,
            )
        };
    }

    /// Tags every dirty folio in pages `start..=end` TOWRITE.
    pub(crate) fn tag_for_writeback(&self, start: u64, end: u64) {
        // SAFETY: The mapping is valid.
        unsafe { sys::tag_pages_for_writeback(self.as_raw(), start as _, end as _) };
    }

    /// Fills `batch` with folios tagged `tag` from page `*index` to `end`,
    /// and moves `*index` past the last one. Returns how many.
    pub(crate) fn find_tagged(
        &self,
        index: &mut u64,
        end: u64,
        tag: Tag,
        batch: &mut FolioBatch,
    ) -> usize {
        let tag = match tag {
            Tag::Dirty => sys::RSFS_TAG_DIRTY,
            Tag::ToWrite => sys::RSFS_TAG_TOWRITE,
        };
        batch.release();
        let mut i = *index as kernel::ffi::c_ulong;
        // SAFETY: The mapping and the batch are valid; the batch takes a
        // reference on each folio it returns.
        let n = unsafe {
            sys::filemap_get_folios_tag(self.as_raw(), &mut i, end as _, tag as _, batch.as_raw())
        };
        *index = i as u64;
        n as usize
    }

    /// Writes every dirty folio of the mapping and waits for the writes
    /// (`filemap_write_and_wait_range` over the whole file). An error is
    /// also left in the mapping, for `fsync` to report.
    pub(crate) fn write_and_wait(&self) -> kernel::error::Result {
        // SAFETY: The mapping is valid (type invariant); writing back a
        // whole mapping and waiting for it only needs process context.
        kernel::error::to_result(unsafe {
            sys::filemap_write_and_wait_range(self.as_raw(), 0, i64::MAX)
        })
    }

    /// Gets the folio at page `index`, creating it if needed, locked and
    /// stable (not under writeback if the device needs stable pages), for
    /// a write.
    pub(crate) fn folio_for_write(&self, index: u64) -> kernel::error::Result<LockedFolio> {
        // SAFETY: The mapping is valid; the helper returns an ERR_PTR or a
        // locked folio with a reference.
        let f = unsafe { sys::rsfs_filemap_get_folio_write(self.as_raw(), index as _) };
        let f = kernel::error::from_err_ptr(f)?;
        // SAFETY: Locked and referenced, both passed to us.
        Ok(unsafe { LockedFolio::from_raw(core::ptr::NonNull::new_unchecked(f)) })
    }

    /// Reads the folio at page `index` (through `read_folio`) and returns
    /// it locked.
    pub(crate) fn read_folio(&self, index: u64) -> kernel::error::Result<LockedFolio> {
        // SAFETY: The mapping is valid; the helper returns an ERR_PTR or an
        // uptodate folio with a reference.
        let f = unsafe { sys::rsfs_read_mapping_folio(self.as_raw(), index as _) };
        let f = kernel::error::from_err_ptr(f)?;
        // SAFETY: The folio is referenced; lock it, and the reference and
        // the lock go to the new object.
        unsafe {
            sys::rsfs_folio_lock(f);
            Ok(LockedFolio::from_raw(core::ptr::NonNull::new_unchecked(f)))
        }
    }
}

/// A batch of referenced folios (`struct folio_batch`).
///
/// # Invariants
///
/// `0` is an initialised folio batch; the folios in it are referenced by
/// the batch.
pub(crate) struct FolioBatch(sys::folio_batch);

impl FolioBatch {
    /// An empty batch.
    pub(crate) fn new() -> Self {
        let mut b = MaybeUninit::<sys::folio_batch>::uninit();
        // SAFETY: `folio_batch_init` initialises every field.
        unsafe {
            sys::rsfs_folio_batch_init(b.as_mut_ptr());
            Self(b.assume_init())
        }
    }

    fn as_raw(&mut self) -> *mut sys::folio_batch {
        &mut self.0
    }

    /// The folios of the batch.
    pub(crate) fn folios(&self) -> impl Iterator<Item = &Folio> {
        let n = usize::from(self.0.nr);
        // SAFETY: The first `nr` entries are referenced folios, alive as long
        // as the batch is not released, which needs `&mut self`.
        self.0.folios[..n]
            .iter()
            .map(|&f| unsafe { Folio::from_raw(f) })
    }

    /// Drops the batch's references and empties it.
    pub(crate) fn release(&mut self) {
        // SAFETY: The batch is initialised.
        unsafe { sys::rsfs_folio_batch_release(self.as_raw()) };
    }
}

impl Drop for FolioBatch {
    fn drop(&mut self) {
        self.release();
    }
}

/// Runs `f` under a block plug: the I/O it submits is held back and sent
/// to the device together when it returns, so neighbouring bios merge.
pub(crate) fn with_plug<R>(f: impl FnOnce() -> R) -> R {
    let mut plug = MaybeUninit::<sys::blk_plug>::uninit();
    // SAFETY: `blk_start_plug` initialises the plug and points the task at
    // it; the plug does not move until `blk_finish_plug` below.
    unsafe { sys::blk_start_plug(plug.as_mut_ptr()) };
    let r = f();
    // SAFETY: Started above, on this same task.
    unsafe { sys::blk_finish_plug(plug.as_mut_ptr()) };
    r
}

/// Gives the scheduler a chance to run something else.
pub(crate) fn cond_resched() {
    // SAFETY: No preconditions; called from process context.
    unsafe { sys::rsfs_cond_resched() };
}

/// The folios of one readahead request, in order, each locked.
///
/// # Invariants
///
/// `0` is a valid readahead control for the duration of the `readahead`
/// call that made this object.
pub(crate) struct Readahead<'a>(*mut sys::readahead_control, PhantomData<&'a mut ()>);

impl Readahead<'_> {
    /// # Safety
    ///
    /// `rac` must satisfy the type invariant.
    pub(super) unsafe fn from_raw<'a>(rac: *mut sys::readahead_control) -> Readahead<'a> {
        Readahead(rac, PhantomData)
    }

    /// The next folio to read, locked, or `None` at the end.
    pub(crate) fn next_folio(&mut self) -> Option<LockedFolio> {
        // SAFETY: Valid per the type invariant; `readahead_folio` returns a
        // locked folio whose reference the page cache holds.
        let f = unsafe { sys::rsfs_readahead_folio(self.0) };
        if f.is_null() {
            return None;
        }
        // SAFETY: Locked; `from_locked` takes a reference of its own.
        Some(unsafe { LockedFolio::from_locked(f) })
    }
}

// The links from inodes and folios to the page cache are defined here,
// beside `AddressSpace`, so that inode.rs and folio.rs need nothing of this
// module.

impl<T: FsData> Inode<T> {
    /// The file's page cache.
    pub(crate) fn mapping(&self) -> &AddressSpace<T> {
        // SAFETY: `i_mapping` is set for the inode's life (to its own
        // `i_data`, which kfs never changes), and the mapping of an inode
        // of `T` belongs to a file of `T`.
        unsafe { AddressSpace::from_raw(sys::rsfs_inode_mapping(self.as_raw())) }
    }
}

impl LockedFolio {
    /// Whether the folio still belongs to `mapping` (truncation detaches
    /// folios from their mapping).
    pub(crate) fn belongs_to<T: FsData>(&self, mapping: &AddressSpace<T>) -> bool {
        // SAFETY: The folio is locked, so `mapping` is stable.
        unsafe { sys::rsfs_folio_mapping(self.as_raw()) == mapping.as_raw() }
    }

    /// Marks the folio dirty again because it cannot be written now.
    pub(crate) fn redirty(&self, wbc: &mut WritebackControl<'_>) {
        // SAFETY: The folio is locked, and `wbc` valid.
        unsafe { sys::folio_redirty_for_writepage(wbc.as_raw(), self.as_raw()) };
    }

    /// Marks the folio dirty again and lets it go: `writepage` will not
    /// write it now.
    pub(super) fn leave_dirty(self, wbc: &mut WritebackControl<'_>) {
        self.redirty(wbc);
    }
}
