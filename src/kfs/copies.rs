// SPDX-License-Identifier: GPL-2.0

//! Block copies and their writes: what a journal writes while the blocks'
//! buffers go on changing.
//!
//! [`write_copies`] writes borrowed copies and waits. [`InFlight`] owns
//! its copies and is waited for later: the I/O goes on while the caller
//! does other work, and the pages live until it is done.
//!
//! Both build one chain of bios: copies for consecutive blocks share a
//! bio, and each bio is chained to the next (`bio_chain`), so that the
//! last one completes only after all the others, and carries the first
//! error of any.
//!
//! C header: [`include/linux/bio.h`](srctree/include/linux/bio.h).

use core::{
    pin::Pin,
    ptr::{null_mut, NonNull},
    sync::atomic::{AtomicI32, Ordering},
};
use kernel::{prelude::*, types::Opaque};

use super::{bio::MAX_VECS, sys, FsData, SuperBlock};

/// A copy of one block's bytes, in a page of its own.
pub(crate) struct BlockCopy(kernel::page::Page);

impl BlockCopy {
    /// Copies `bytes`, one page's worth, into a new page. (A caller that
    /// reclaim must not re-enter allocates inside a [`super::NoFs`] scope.)
    pub(crate) fn new(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != kernel::page::PAGE_SIZE {
            return Err(EINVAL);
        }
        let page = kernel::page::Page::alloc_page(GFP_KERNEL)?;
        // SAFETY: `bytes` is valid for reading `bytes.len()` bytes, which
        // is the page's size, and the page is new: nobody else writes it.
        unsafe { page.write_raw(bytes.as_ptr(), 0, bytes.len())? };
        Ok(Self(page))
    }

    /// A page of zeroes.
    pub(crate) fn zeroed() -> Result<Self> {
        Ok(Self(kernel::page::Page::alloc_page(
            GFP_KERNEL | kernel::alloc::flags::__GFP_ZERO,
        )?))
    }
}

/// How [`write_copies`] writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteMode {
    /// Plain writes: complete, but perhaps only in the device's cache.
    Plain,
    /// The device's cache is flushed before the writes (`REQ_PREFLUSH`)
    /// and again after them: when the call returns, everything completed
    /// before it and the writes themselves are durable.
    Flushed,
}

/// Builds the chain of bios that writes each copy to its block, submits
/// every bio but the last, and returns the last (null if `writes` is
/// empty), which the caller submits.
///
/// # Safety
///
/// Every page must stay valid until the returned bio completes.
unsafe fn chain<'a, T: FsData, S>(
    sb: &SuperBlock<T, S>,
    writes: impl Iterator<Item = (u64, &'a BlockCopy)>,
    opf: u32,
) -> *mut sys::bio {
    let sector_shift = sb.block_shift() - 9;
    let size = kernel::page::PAGE_SIZE as u32;
    let mut bio: *mut sys::bio = null_mut();
    let mut next = 0;
    for (block, copy) in writes {
        // SAFETY: `bio`, when not null, is ours and not yet submitted; the
        // page is valid until the chain completes (the caller's duty).
        let added = !bio.is_null()
            && block == next
            && unsafe { sys::bio_add_page(bio, copy.0.as_ptr().cast(), size, 0) } == size as i32;
        if !added {
            // SAFETY: The block device is open while the superblock is;
            // `bio_alloc` with GFP_NOFS sleeps rather than fail.
            let new = unsafe {
                sys::rsfs_bio_alloc(
                    sys::rsfs_sb_bdev(sb.as_raw()),
                    MAX_VECS,
                    opf,
                    block << sector_shift,
                    None,
                    null_mut(),
                )
            };
            if !bio.is_null() {
                // SAFETY: `bio` is ours, complete and unsubmitted; chained
                // to `new`, which is not submitted yet, it completes into
                // `new` and is freed by the block layer.
                unsafe {
                    sys::bio_chain(bio, new);
                    sys::submit_bio(bio);
                }
            }
            bio = new;
            // SAFETY: A new bio has room for a page; the page is valid.
            let ok = unsafe { sys::bio_add_page(bio, copy.0.as_ptr().cast(), size, 0) };
            debug_assert_eq!(ok, size as i32);
        }
        next = block + 1;
    }
    bio
}

/// Writes each copy to its disk block and waits until all are done.
pub(crate) fn write_copies<T: FsData, S>(
    sb: &SuperBlock<T, S>,
    writes: &[(u64, &BlockCopy)],
    mode: WriteMode,
) -> Result {
    let opf = sys::RSFS_REQ_OP_WRITE
        | sys::RSFS_REQ_SYNC
        | match mode {
            WriteMode::Plain => 0,
            WriteMode::Flushed => sys::RSFS_REQ_PREFLUSH,
        };
    // SAFETY: The pages are borrowed for the whole call, and the call
    // waits for the last bio, which completes after all the others.
    let bio = unsafe { chain(sb, writes.iter().copied(), opf) };
    if bio.is_null() {
        return Ok(());
    }
    // SAFETY: `bio` is ours and the last of the chain; waiting for it
    // waits for every bio chained to it. It is ours to put after.
    let err = unsafe {
        let err = sys::submit_bio_wait(bio);
        sys::bio_put(bio);
        err
    };
    kernel::error::to_result(err)?;
    if mode == WriteMode::Flushed {
        sb.flush_device()?;
    }
    Ok(())
}

/// What the last bio of an [`InFlight`] chain signals.
#[pin_data]
struct Waiter {
    /// Completed when the chain is done.
    #[pin]
    done: Opaque<sys::completion>,
    /// The chain's error, as a negative errno (0 if none), stored before
    /// `done` is completed.
    status: AtomicI32,
}

/// Plain writes of owned copies, submitted and not yet waited for:
/// [`InFlight::wait`] waits, and so does dropping it.
///
/// # Invariants
///
/// If `pending`, the chain built from `writes` has been submitted, its
/// last bio's `end_io` is [`in_flight_end_io`] with `waiter` as private
/// data, and the pages of `writes` and `waiter` are in use until `waiter`
/// completes. Otherwise nothing is in flight.
pub(crate) struct InFlight {
    writes: KVec<(u64, BlockCopy)>,
    waiter: Pin<KBox<Waiter>>,
    pending: bool,
}

impl InFlight {
    /// Nothing in flight yet: allocated ahead, so that [`InFlight::start`]
    /// cannot fail.
    pub(crate) fn new() -> Result<Self> {
        let waiter = KBox::pin_init(
            pin_init!(Waiter {
                // SAFETY: `p` points to a completion that is not in use.
                done <- Opaque::ffi_init(|p| unsafe { sys::rsfs_init_completion(p) }),
                status: AtomicI32::new(0),
            }),
            GFP_KERNEL,
        )?;
        // INVARIANT: Nothing is in flight.
        Ok(Self {
            writes: KVec::new(),
            waiter,
            pending: false,
        })
    }

    /// Starts writing each copy to its block (plain writes, as
    /// [`WriteMode::Plain`]), without waiting; first waits for any writes
    /// still in flight.
    pub(crate) fn start<T: FsData, S>(
        &mut self,
        sb: &SuperBlock<T, S>,
        writes: KVec<(u64, BlockCopy)>,
    ) {
        let _ = self.wait();
        self.writes = writes;
        self.submit(sb);
    }

    /// Submits the chain. `self` has nothing in flight.
    fn submit<T: FsData, S>(&mut self, sb: &SuperBlock<T, S>) {
        let opf = sys::RSFS_REQ_OP_WRITE | sys::RSFS_REQ_SYNC;
        // SAFETY: The pages belong to `self.writes`, which is neither
        // changed nor dropped while the chain is in flight (the type
        // invariant, established below).
        let bio = unsafe { chain(sb, self.writes.iter().map(|(b, c)| (*b, c)), opf) };
        let Some(bio) = NonNull::new(bio) else {
            return;
        };
        let waiter: &Waiter = &self.waiter;
        waiter.status.store(0, Ordering::Relaxed);
        // SAFETY: `bio` is ours, complete and unsubmitted. Its `end_io`
        // completes `waiter`, which is pinned and lives at least until it
        // completes (the type invariant, established here); the completion
        // was initialised in `new` and reinitialised after any wait.
        unsafe {
            let bio = bio.as_ptr();
            (*bio).bi_end_io = Some(in_flight_end_io);
            (*bio).bi_private = (waiter as *const Waiter).cast_mut().cast();
            sys::submit_bio(bio);
        }
        // INVARIANT: The chain is submitted and its end completes `waiter`.
        self.pending = true;
    }

    /// Waits for the writes, and returns their first error, if any. The
    /// result stays until the copies are written again: a second wait
    /// returns the same error.
    pub(crate) fn wait(&mut self) -> Result {
        if self.pending {
            // SAFETY: The completion is initialised, and the chain in flight
            // completes it exactly once (the type invariant).
            unsafe { sys::wait_for_completion_io(self.waiter.done.get()) };
            // SAFETY: Nobody else uses the completion now: its chain is done.
            unsafe { sys::rsfs_init_completion(self.waiter.done.get()) };
            // INVARIANT: The chain is done: nothing is in flight.
            self.pending = false;
        }
        match self.waiter.status.load(Ordering::Relaxed) {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }

    /// Writes the same copies again, as [`InFlight::start`] did, and waits:
    /// for a retry after [`InFlight::wait`] failed.
    pub(crate) fn rewrite<T: FsData, S>(&mut self, sb: &SuperBlock<T, S>) -> Result {
        let _ = self.wait();
        self.submit(sb);
        self.wait()
    }
}

// SAFETY: Nothing in an `InFlight` belongs to one task: the chain may be
// waited for on any task and completes on any CPU, and the copies are
// plain pages.
unsafe impl Send for InFlight {}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The pages may not go while the device still reads them.
        let _ = self.wait();
    }
}

/// `bi_end_io` of the last bio of an [`InFlight`] chain; may run in
/// interrupt context.
///
/// # Safety
///
/// Called by the block layer once, for the bio that [`InFlight::submit`]
/// submitted, whose private data is that chain's [`Waiter`].
unsafe extern "C" fn in_flight_end_io(bio: *mut sys::bio) {
    // SAFETY: `bio` is valid and complete, and its private data is a live
    // `Waiter`, as the caller guarantees.
    unsafe {
        let waiter = &*sys::rsfs_bio_private(bio).cast::<Waiter>();
        waiter
            .status
            .store(sys::rsfs_bio_status(bio), Ordering::Relaxed);
        sys::bio_put(bio);
        // The store above is ordered before the waiter's read by the
        // completion; after this call the waiter may be gone.
        sys::complete(waiter.done.get());
    }
}
