// SPDX-License-Identifier: GPL-2.0

//! Bios: the block I/O that moves folios to and from the disk.
//!
//! [`BioBuilder`] gathers folios whose disk blocks follow each other into
//! one bio, up to [`MAX_VECS`] folios; a folio whose block does not continue
//! the run, or that does not fit, sends the bio on its way and starts the
//! next. Completion is asynchronous: the `end_io` callbacks end writeback
//! (recording any error on the mapping, so that fsync reports it) or finish
//! reads, for every folio of the bio.
//!
//! C header: [`include/linux/bio.h`](srctree/include/linux/bio.h).

use core::ptr::NonNull;
use kernel::prelude::*;

use super::{
    folio::{FolioRef, ReadFolio, WritebackFolio},
    sys,
    writeback::WritebackControl,
    FsData, SuperBlock,
};

/// Folios per bio at most: 256 pages, 1 MiB. The block layer splits a bio
/// further if the device wants smaller requests.
pub(crate) const MAX_VECS: u16 = 256;

/// What a submitted bio carried.
#[derive(Clone, Copy, Default)]
pub(crate) struct Submitted {
    /// Bios submitted (0 or 1).
    pub(crate) bios: u64,
    /// Bytes in them.
    pub(crate) bytes: u64,
}

/// Read, or write with these request flags.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Read,
    Write(u32),
}

/// Builds bios of consecutive disk blocks.
///
/// # Invariants
///
/// `bio`, when set, is a bio allocated by us and not yet submitted, whose
/// folios are all locked for reading or under writeback on our behalf, and
/// whose next block would be `next`.
pub(crate) struct BioBuilder<'a, T: FsData> {
    sb: &'a SuperBlock<T>,
    dir: Dir,
    bio: Option<NonNull<sys::bio>>,
    next: u64,
    done: Submitted,
}

impl<'a, T: FsData> BioBuilder<'a, T> {
    /// A builder of write bios for the writeback that `wbc` describes:
    /// data-integrity writeback (WB_SYNC_ALL) marks them REQ_SYNC, as
    /// `wbc_to_write_flags` says, so the block layer does not hold them
    /// back behind background writes.
    pub(crate) fn writer(sb: &'a SuperBlock<T>, wbc: &mut WritebackControl<'_>) -> Self {
        // SAFETY: `wbc` is valid (its type invariant).
        let flags = unsafe { sys::rsfs_wbc_to_write_flags(wbc.as_raw()) };
        Self::new(sb, Dir::Write(flags))
    }

    /// A builder of read bios.
    pub(crate) fn reader(sb: &'a SuperBlock<T>) -> Self {
        Self::new(sb, Dir::Read)
    }

    fn new(sb: &'a SuperBlock<T>, dir: Dir) -> Self {
        Self {
            sb,
            dir,
            bio: None,
            next: 0,
            done: Submitted::default(),
        }
    }

    /// Adds a folio to go to (or come from) disk block `block`.
    fn add(&mut self, folio: FolioRef, block: u64) {
        let size = folio_size(&folio);
        if let Some(bio) = self.bio {
            // SAFETY: `bio` is ours and unsubmitted (type invariant), and
            // the folio is locked or under writeback for it.
            let fits = block == self.next
                && unsafe { sys::bio_add_folio(bio.as_ptr(), folio.as_raw(), size, 0) };
            if fits {
                self.next = block + 1;
                return;
            }
            self.submit();
        }
        let (opf, end_io): (u32, sys::bio_end_io_t) = match self.dir {
            Dir::Read => (sys::RSFS_REQ_OP_READ, Some(read_end_io::<T>)),
            Dir::Write(flags) => (sys::RSFS_REQ_OP_WRITE | flags, Some(write_end_io::<T>)),
        };
        // SAFETY: The block device is open; `bio_alloc` with GFP_NOFS
        // sleeps rather than fail. The superblock outlives its I/O (unmount
        // waits for writeback, and reads hold folio locks).
        let bio = unsafe {
            sys::rsfs_bio_alloc(
                sys::rsfs_sb_bdev(self.sb.as_raw()),
                MAX_VECS,
                opf,
                block << (self.sb.block_shift() - 9),
                end_io,
                self.sb.as_raw().cast(),
            )
        };
        let bio = NonNull::new(bio).expect("bio_alloc(GFP_NOFS) does not fail");
        // SAFETY: A new bio has room for one folio.
        let added = unsafe { sys::bio_add_folio(bio.as_ptr(), folio.as_raw(), size, 0) };
        debug_assert!(added);
        // INVARIANT: A fresh bio holding this folio, next block after it.
        self.bio = Some(bio);
        self.next = block + 1;
    }

    /// Adds a folio under writeback, to be written to disk block `block`.
    pub(crate) fn add_write(&mut self, folio: WritebackFolio, block: u64) {
        debug_assert!(matches!(self.dir, Dir::Write(_)));
        self.add(folio.into_ref(), block);
    }

    /// Adds a locked folio, to be read from disk block `block`.
    pub(crate) fn add_read(&mut self, folio: ReadFolio, block: u64) {
        debug_assert!(self.dir == Dir::Read);
        self.add(folio.into_ref(), block);
    }

    /// Sends the current bio, if any.
    pub(crate) fn submit(&mut self) {
        if let Some(bio) = self.bio.take() {
            // SAFETY: `bio` is ours and complete; `submit_bio` takes it.
            let bytes = unsafe {
                let bytes = sys::rsfs_bio_size(bio.as_ptr());
                sys::submit_bio(bio.as_ptr());
                bytes
            };
            self.done.bios += 1;
            self.done.bytes += u64::from(bytes);
        }
    }

    /// Sends the last bio and says what was submitted in all.
    pub(crate) fn finish(mut self) -> Submitted {
        self.submit();
        self.done
    }

    /// Like [`BioBuilder::finish`], but `account` sees the totals before
    /// the last bio is sent: once it is, its completion may let the file
    /// (and, in reclaim, everything it hangs off) go away, so a caller that
    /// holds no reference of its own must touch nothing after.
    pub(crate) fn finish_accounted(mut self, account: impl FnOnce(Submitted)) {
        let mut total = self.done;
        if let Some(bio) = self.bio {
            total.bios += 1;
            // SAFETY: `bio` is ours and unsubmitted (type invariant).
            total.bytes += u64::from(unsafe { sys::rsfs_bio_size(bio.as_ptr()) });
        }
        account(total);
        self.submit();
    }
}

impl<T: FsData> Drop for BioBuilder<'_, T> {
    fn drop(&mut self) {
        // Folios in a bio must reach their completion.
        self.submit();
    }
}

fn folio_size(f: &FolioRef) -> usize {
    // SAFETY: The folio is valid while referenced.
    unsafe { sys::rsfs_folio_size(f.as_raw()) }
}

/// The superblock that issued a bio, for messages.
///
/// # Safety
///
/// `bio` must have been built by [`BioBuilder`] for filesystem `T`.
unsafe fn bio_sb<'a, T: FsData>(bio: *mut sys::bio) -> &'a SuperBlock<T> {
    // SAFETY: `bi_private` is the superblock, which outlives its I/O.
    unsafe { SuperBlock::from_raw(sys::rsfs_bio_private(bio).cast()) }
}

/// Ends the writeback of one folio of a completed write bio.
///
/// # Safety
///
/// `folio` must be under writeback on behalf of the completed bio; `err` is
/// the bio's errno, smuggled through the pointer argument.
unsafe extern "C" fn end_write_folio(folio: *mut sys::folio, err: *mut kernel::ffi::c_void) {
    let err = err as isize as i32;
    // SAFETY: Called by `rsfs_bio_for_each_folio` for a folio of a
    // completed write bio: it is under writeback on the bio's behalf.
    unsafe {
        if err != 0 {
            sys::rsfs_mapping_set_error(sys::rsfs_folio_mapping(folio), err);
        }
        sys::folio_end_writeback(folio);
    }
}

/// Finishes the read of one folio of a completed read bio.
///
/// # Safety
///
/// `folio` must be locked on behalf of the completed bio; `ok` is non-null
/// if the read succeeded.
unsafe extern "C" fn end_read_folio(folio: *mut sys::folio, ok: *mut kernel::ffi::c_void) {
    // SAFETY: A folio of a completed read bio, locked on the bio's behalf.
    unsafe { sys::folio_end_read(folio, !ok.is_null()) };
}

/// `bi_end_io` of write bios; may run in interrupt context.
///
/// # Safety
///
/// Called by the block layer once, for a bio built by [`BioBuilder`].
unsafe extern "C" fn write_end_io<T: FsData>(bio: *mut sys::bio) {
    // SAFETY: `bio` is a valid, completed bio, as the caller guarantees.
    let err = unsafe { sys::rsfs_bio_status(bio) };
    if err != 0 && super::err_ratelimit() {
        // SAFETY: `bio` was built by a `BioBuilder` of a superblock of `T`,
        // which lives until its bios complete, as the caller guarantees.
        let sb = unsafe { bio_sb::<T>(bio) };
        pr_err!(
            "{}: write error {} on a data bio; fsync will report it\n",
            sb.id(),
            err
        );
    }
    // SAFETY: The bio is complete and ours to release.
    unsafe {
        sys::rsfs_bio_for_each_folio(bio, Some(end_write_folio), err as isize as *mut _);
        sys::bio_put(bio);
    }
}

/// `bi_end_io` of read bios; may run in interrupt context.
///
/// # Safety
///
/// Called by the block layer once, for a bio built by [`BioBuilder`].
unsafe extern "C" fn read_end_io<T: FsData>(bio: *mut sys::bio) {
    // SAFETY: `bio` is a valid, completed bio, as the caller guarantees.
    let err = unsafe { sys::rsfs_bio_status(bio) };
    if err != 0 && super::err_ratelimit() {
        // SAFETY: `bio` was built by a `BioBuilder` of a superblock of `T`,
        // which lives until its bios complete, as the caller guarantees.
        let sb = unsafe { bio_sb::<T>(bio) };
        pr_err!("{}: read error {} on a data bio\n", sb.id(), err);
    }
    let ok: *mut kernel::ffi::c_void = if err == 0 {
        NonNull::dangling().as_ptr()
    } else {
        core::ptr::null_mut()
    };
    // SAFETY: The bio is complete and ours to release.
    unsafe {
        sys::rsfs_bio_for_each_folio(bio, Some(end_read_folio), ok);
        sys::bio_put(bio);
    }
}

/// Reads disk block `block` into a locked folio and waits, keeping the
/// folio locked (for a partial write that needs the rest of the block).
pub(crate) fn read_sync<T: FsData>(
    sb: &SuperBlock<T>,
    folio: &super::LockedFolio,
    block: u64,
) -> Result {
    // SAFETY: The block device is open; the folio is locked by the caller
    // and stays so while we wait; the bio is ours until `bio_put`.
    unsafe {
        let bio = sys::rsfs_bio_alloc(
            sys::rsfs_sb_bdev(sb.as_raw()),
            1,
            sys::RSFS_REQ_OP_READ,
            block << (sb.block_shift() - 9),
            None,
            core::ptr::null_mut(),
        );
        let added =
            sys::bio_add_folio(bio, folio.as_raw(), sys::rsfs_folio_size(folio.as_raw()), 0);
        debug_assert!(added);
        let err = sys::submit_bio_wait(bio);
        sys::bio_put(bio);
        kernel::error::to_result(err)
    }
}
