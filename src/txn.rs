// SPDX-License-Identifier: GPL-2.0

//! Transactions: a sync never writes half of an operation.
//!
//! Every operation that changes metadata (a create, a rename, an
//! allocation, a truncate, an inode's fields) runs inside a [`Handle`]. A
//! sync ([`sync`]: `fsync`, `fdatasync`, directory `fsync`, `syncfs`,
//! unmount) first waits until no handle is open, keeps new ones out while
//! it writes every dirty metadata buffer, and then flushes the device's
//! write cache. So the metadata that a flush makes durable is always that
//! of whole operations: a new name never without its inode, its bitmap bit
//! or the link count that counts it.
//!
//! Freed blocks are not reused until the free is durable. A block that a
//! truncate or an unlink gives back is cleared in the bitmap by the same
//! transaction, but no allocation takes it until the next sync has
//! committed the metadata that no longer points at it (see
//! [`crate::alloc::free_blocks`]). Otherwise a new file could write its data
//! over the block in place while the old owner's map, still on disk, points
//! at it: after a power cut, the old file would show the new file's bytes.
//! Every commit thus leaves maps and bitmaps that agree, and a power cut
//! leaves nothing for `fsck.rsfs` to reclaim.
//!
//! The lock is a gate, not a mutex: any number of handles may be open at
//! once, and a sync waits for all of them to close. Handles nest: a step
//! that opens its own handle (giving a block, evicting an inode whose
//! creation failed) inside another operation's does not wait on itself;
//! the task's `journal_info` word records that it is inside one of this
//! mount's handles. A handle opened with a folio locked
//! ([`Txns::start_locked`]) never waits for a sync that is only queued,
//! since the syncing task's wait may depend on that folio through a handle
//! already open.
//!
//! Data before the metadata that points at it. A block given to a file
//! (`write_begin`, `page_mkwrite`), or an unwritten one made written, may
//! have held another file's data, so the map that names it as the file's
//! data must not reach the disk before the file's own data does. Such files
//! go on a list ([`order_data`]), and a sync writes their dirty data (and
//! waits for it) before any metadata. It can do so with the gate closed: no
//! folio that writeback would wait on is held by a task waiting for the
//! gate. A task that holds a folio lock waits for the gate only to give the
//! folio a block (or make its block, unwritten, written), and a folio
//! without a written block is never dirty; inode updates (`dirty_inode`,
//! `write_inode`) change one slot and do not take the gate unless they are
//! part of an operation.
//!
//! What this does not yet give: a disk with a volatile write cache may
//! persist any subset of the writes between two flushes, in any order, and
//! the metadata written between syncs by the flusher thread is not ordered
//! at all. A journal is needed for those states (docs/design.md).

use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{CondVar, Mutex},
};

use core::sync::atomic::{AtomicU64, Ordering};

use crate::{
    alloc, journal,
    kfs::{self, task, BufferHead, Inode, InodeRef, SuperBlock},
    shutdown, Rsfs,
};

/// Who holds the gate.
struct Gate {
    /// Open handles (outermost ones: nested handles are not counted).
    handles: usize,
    /// A sync holds the gate: no handle may open.
    syncing: bool,
    /// Syncs waiting for the open handles to close.
    waiting: usize,
}

/// The transaction state of one mount.
#[pin_data]
pub(crate) struct Txns {
    #[pin]
    gate: Mutex<Gate>,
    #[pin]
    changed: CondVar,
    /// Files given blocks since the last sync: their data goes first.
    #[pin]
    ordered: Mutex<KVec<InodeRef<Rsfs>>>,
    /// The running transaction: every metadata buffer changed since the
    /// last commit.
    #[pin]
    running: Mutex<Running>,
    /// The last commit's writes home, until the next commit or a
    /// checkpoint waits for them. A sync takes it with the gate closed; a
    /// checkpoint (`sync_fs`, remount-ro, unmount) takes it alone.
    #[pin]
    homes: Mutex<Option<journal::Homes>>,
    /// The sequence number of the next commit. Only a sync, with the gate
    /// closed, reads or changes it.
    next_seq: AtomicU64,
    /// The most blocks one commit can log.
    capacity: usize,
}

/// The running transaction.
struct Running {
    /// Its buffers, each with a reference and the tracked bit set.
    bufs: KVec<BufferHead>,
    /// When its first buffer joined it, in seconds, if it has one.
    since: Option<u64>,
    /// Where the last commit left the superblock's record of failed file
    /// data writes, with `data_err=abort` (see [`restart_data_errors`]).
    data_errors: kfs::ErrSeq,
}

impl Txns {
    /// The state of a newly mounted filesystem: no handle open, an empty
    /// transaction, the next commit numbered `seq`, and room in the log
    /// for `capacity` blocks per commit.
    pub(crate) fn new(seq: u64, capacity: usize) -> impl PinInit<Self, Error> {
        // Room for a full transaction up front: a buffer joins the running
        // transaction without allocating (see `dirty`).
        let bufs = KVec::with_capacity(capacity, GFP_KERNEL);
        try_pin_init!(Self {
            gate <- new_mutex!(Gate { handles: 0, syncing: false, waiting: 0 }, "rsfs:txn_gate"),
            changed <- new_condvar!("rsfs:txn_changed"),
            ordered <- new_mutex!(KVec::new(), "rsfs:txn_ordered"),
            running <- new_mutex!(
                Running { bufs: bufs?, since: None, data_errors: kfs::ErrSeq::default() },
                "rsfs:txn_running"
            ),
            homes <- new_mutex!(None, "rsfs:txn_homes"),
            next_seq: AtomicU64::new(seq),
            capacity,
        }? Error)
    }

    /// This mount's value for the task's `journal_info` word.
    fn marker(&self) -> usize {
        self as *const Self as usize
    }

    /// Opens a handle for an operation that changes metadata. Waits while a
    /// sync holds or waits for the gate, unless this task is already inside
    /// a handle of this mount.
    pub(crate) fn start(&self) -> Handle<'_> {
        self.open(true, true)
    }

    /// Opens a handle with one of a file's folios locked: waits only while
    /// a sync holds the gate, not while one waits for it.
    pub(crate) fn start_locked(&self) -> Handle<'_> {
        self.open(false, true)
    }

    /// Opens a handle as [`Txns::start`] does, but leaves the task's
    /// `journal_info` word unset: for an operation during which other code
    /// runs on this task, such as page faults on user memory of any
    /// filesystem (a direct write). Handles opened inside it count on
    /// their own and never wait: no sync can hold the gate while this one
    /// is open. Nothing inside it may sync, since a sync waits for it.
    pub(crate) fn start_unmarked(&self) -> Handle<'_> {
        self.open(true, false)
    }

    fn open(&self, fair: bool, mark: bool) -> Handle<'_> {
        let current = task::fs_marker();
        if current == self.marker() {
            return Handle {
                txns: self,
                outer: false,
                marked: false,
                _nofs: None,
            };
        }
        // Another filesystem's transaction (a fault on our file while it
        // copies from user memory) leaves the word alone; then a nested
        // handle of ours cannot be told apart, so none may wait for a
        // queued sync.
        let fair = fair && current == 0;
        let marked = mark && current == 0;
        let mut gate = self.gate.lock();
        while gate.syncing || (fair && gate.waiting > 0) {
            self.changed.wait(&mut gate);
        }
        gate.handles += 1;
        drop(gate);
        if marked {
            task::set_fs_marker(self.marker());
        }
        Handle {
            txns: self,
            outer: true,
            marked,
            _nofs: Some(kfs::NoFs::enter()),
        }
    }

    /// Whether the current task is inside a handle of this mount.
    pub(crate) fn in_handle(&self) -> bool {
        task::fs_marker() == self.marker()
    }

    /// Closes the gate: waits until no handle is open, and keeps new ones
    /// out until the guard is dropped. Not to be called inside a handle.
    fn close(&self) -> Closed<'_> {
        let mut gate = self.gate.lock();
        gate.waiting += 1;
        while gate.syncing || gate.handles > 0 {
            self.changed.wait(&mut gate);
        }
        gate.waiting -= 1;
        gate.syncing = true;
        Closed(self)
    }
}

/// An open handle: the operation's changes are not split by a sync.
pub(crate) struct Handle<'a> {
    txns: &'a Txns,
    /// The outermost handle of this task, counted in the gate.
    outer: bool,
    /// This handle set the task's `journal_info` word, and clears it.
    marked: bool,
    /// Memory reclaim does not come back into a filesystem from inside a
    /// handle (as jbd2's handles do): evicting an inode there would wait
    /// on locks this operation holds.
    _nofs: Option<kfs::NoFs>,
}

impl Drop for Handle<'_> {
    fn drop(&mut self) {
        if !self.outer {
            return;
        }
        if self.marked {
            task::set_fs_marker(0);
        }
        let mut gate = self.txns.gate.lock();
        gate.handles -= 1;
        if gate.handles == 0 {
            self.txns.changed.notify_all();
        }
    }
}

/// The gate, closed by a sync.
struct Closed<'a>(&'a Txns);

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        let mut gate = self.0.gate.lock();
        gate.syncing = false;
        self.0.changed.notify_all();
    }
}

/// Makes every finished operation durable: with the gate closed, the dirty
/// data of the files given new blocks since the last sync is written, then
/// the running transaction is committed through the journal
/// ([`journal::commit`]), which flushes the device's cache before the log
/// and after it. Then the blocks freed before the sync are released for
/// reuse ([`alloc::release_freed`]).
pub(crate) fn sync(sb: &SuperBlock<Rsfs>) -> Result {
    let info = sb.info();
    let txns = &info.txns;
    if txns.in_handle() {
        // The gate would wait for this task's own handle forever.
        kfs::sb_err!(sb, "sync requested inside an operation");
        return Err(EBUSY);
    }
    let closed = txns.close();
    if shutdown::is_shut_down(sb) {
        // Nothing more is written, so nothing is made durable (checked
        // with the gate held: a shutdown may come while this waits).
        drop(closed);
        let_go_of_ordered(sb);
        return Err(EIO);
    }
    let ordered = core::mem::take(&mut *txns.ordered.lock());
    // Reclaim must not come back into this filesystem while the gate is
    // closed: evicting an inode would wait for it.
    let nofs = kfs::NoFs::enter();
    let result = write_all(sb, &ordered);
    drop(nofs);
    drop(closed);
    // Last, with the gate open: dropping a reference may evict an inode.
    drop(ordered);
    result
}

/// Once the filesystem is shut down: the files whose data a sync was to
/// write first are let go, unwritten, so that the unmount can evict them
/// (a reference left would be a busy inode). Called by [`sync`], and by
/// `sync_fs`, which the unmount calls before it evicts.
pub(crate) fn let_go_of_ordered(sb: &SuperBlock<Rsfs>) {
    let ordered = core::mem::take(&mut *sb.info().txns.ordered.lock());
    for inode in ordered.iter() {
        inode.data().ordered.store(false, Ordering::Relaxed);
    }
}

/// `data_err=abort` was just turned on by a remount: the next commit
/// looks for failed file data writes from now on, and from before if
/// nobody has seen the latest one yet (it may be this commit's).
pub(crate) fn restart_data_errors(sb: &SuperBlock<Rsfs>) {
    sb.info().txns.running.lock().data_errors = sb.writeback_error_now();
}

/// Returns once no sync is under way (a [`shutdown`] waits for the commit
/// it did not stop).
pub(crate) fn wait_for_sync(sb: &SuperBlock<Rsfs>) {
    drop(sb.info().txns.close());
}

/// At the unmount of a shut-down filesystem: the running transaction's
/// buffers are let go uncommitted, the last commit's writes home still in
/// flight are waited for (not written again: nothing more is written),
/// and the block device's cache is dropped, so that nothing that was
/// never committed stays there for whoever reads the device next.
pub(crate) fn abandon(sb: &SuperBlock<Rsfs>) {
    let txns = &sb.info().txns;
    let bufs = core::mem::take(&mut txns.running.lock().bufs);
    for bh in bufs.iter() {
        bh.clear_tracked();
    }
    drop(bufs);
    journal::abandon(&mut txns.homes.lock());
    sb.forget_cached_blocks();
}

/// The body of [`sync`], with the gate closed.
fn write_all(sb: &SuperBlock<Rsfs>, ordered: &[InodeRef<Rsfs>]) -> Result {
    let txns = &sb.info().txns;
    for inode in ordered {
        inode.data().ordered.store(false, Ordering::Relaxed);
        // A write error belongs to that file: it stays in its mapping for
        // its own fsync to report, and this sync goes on.
        let _ = inode.mapping().write_and_wait();
    }
    // Shut down meanwhile, so that some of that data was not written: the
    // maps that name its blocks must not be committed without it.
    shutdown::alive(sb)?;
    let mut bufs = {
        let mut running = txns.running.lock();
        // With data_err=abort: a file data write failed since the last
        // commit (here, or in the flusher's writeback), so this commit may
        // name blocks whose data never reached the disk. It is not made.
        // (Without the option the record is left alone, for syncfs(2).)
        if sb.info().data_err_abort.load(Ordering::Relaxed) {
            if let Err(e) = sb.writeback_error_since(&mut running.data_errors) {
                drop(running);
                return Err(shutdown::data_write_failed(sb, e));
            }
        }
        running.since = None;
        let spare = KVec::with_capacity(txns.capacity, GFP_KERNEL).unwrap_or_default();
        core::mem::replace(&mut running.bufs, spare)
    };
    // From here on, a change to one of these buffers puts it in the next
    // transaction (the copy below may or may not include the change).
    for bh in bufs.iter() {
        bh.clear_tracked();
    }
    bufs.sort_unstable_by_key(|bh| bh.block());
    let held = alloc::has_held(sb);
    if bufs.is_empty() && !held {
        // Nothing to log: the data written above is made durable.
        return sb.flush_device();
    }
    let mut result = Ok(());
    if bufs.len() > txns.capacity {
        // Only operations that cannot wait for a commit (those holding a
        // folio lock) grow a transaction past the half-full mark, and by a
        // few blocks each; this is a backstop. The parts are each whole,
        // but not all-or-nothing together.
        kfs::sb_err!(
            sb,
            "journal: a transaction of {} blocks is larger than the log ({}); committing it in parts",
            bufs.len(),
            txns.capacity
        );
    }
    let mut homes = txns.homes.lock();
    for part in bufs.chunks(txns.capacity.max(1)) {
        let seq = txns.next_seq.fetch_add(1, Ordering::Relaxed);
        result = journal::commit(sb, part, seq, &mut homes);
        if result.is_err() {
            break;
        }
    }
    if bufs.is_empty() {
        // Only blocks held back by the last commit: an empty commit lets
        // them go.
        let seq = txns.next_seq.fetch_add(1, Ordering::Relaxed);
        result = journal::commit(sb, &[], seq, &mut homes);
    }
    drop(homes);
    if let Err(e) = result {
        // Nothing of this transaction may be lost: its blocks go back into
        // the running one, and the next sync writes them again.
        for bh in bufs.iter() {
            dirty(sb, bh);
        }
        return Err(e);
    }
    let mut logged = KVec::with_capacity(bufs.len(), GFP_KERNEL)?;
    for bh in bufs.iter() {
        logged.push(bh.block(), GFP_KERNEL)?;
    }
    drop(bufs);
    alloc::release_freed(sb, &logged);
    Ok(())
}

/// A metadata buffer has changed: it joins the running transaction, to be
/// written by the next commit. Call after the change is made (with the
/// buffer unlocked), never before: a commit that has already copied the
/// buffer must see it join again.
pub(crate) fn dirty(sb: &SuperBlock<Rsfs>, bh: &BufferHead) {
    if bh.test_and_set_tracked() {
        return;
    }
    let txns = &sb.info().txns;
    let _nofs = kfs::NoFs::enter();
    let mut running = txns.running.lock();
    if running.since.is_none() {
        running.since = Some(kfs::now_seconds());
    }
    if running.bufs.push(bh.clone_ref(), GFP_KERNEL).is_err() {
        // No memory for a longer list (a transaction past the log's size,
        // with memory short): the block goes out with the block device's
        // own writeback instead, outside the journal.
        drop(running);
        bh.clear_tracked();
        bh.mark_dirty();
        kfs::sb_err!(
            sb,
            "journal: no memory to log block {}; writing it in place",
            bh.block()
        );
    }
}

/// Whether the running transaction should be committed before another
/// operation starts: it fills half the log, or it is 30 seconds old
/// (the kernel's default `dirty_expire_centisecs`, so that an operation
/// reaches the disk without a sync about as soon as ext2's would).
fn commit_due(sb: &SuperBlock<Rsfs>) -> bool {
    let txns = &sb.info().txns;
    let running = txns.running.lock();
    running.bufs.len() >= txns.capacity / 2
        || running
            .since
            .is_some_and(|t| kfs::now_seconds().saturating_sub(t) >= COMMIT_INTERVAL)
}

/// Seconds a transaction may run before an operation commits it.
const COMMIT_INTERVAL: u64 = 30;

/// Syncs until nothing is left: no buffer changed, no freed block waiting
/// (a block held back by one commit waits for the next). For unmount and
/// remount-ro.
pub(crate) fn sync_all(sb: &SuperBlock<Rsfs>) -> Result {
    for _ in 0..4 {
        sync(sb)?;
        let idle = sb.info().txns.running.lock().bufs.is_empty();
        if idle && sb.info().alloc.lock().freed_blocks == 0 {
            return Ok(());
        }
    }
    kfs::sb_err!(sb, "metadata still changing after four syncs at unmount");
    Err(EBUSY)
}

/// Makes the last commit's writes home durable ([`journal::checkpoint`]),
/// so that nothing is left in flight and a mount would find nothing to
/// replay that is not already home.
pub(crate) fn checkpoint(sb: &SuperBlock<Rsfs>) -> Result {
    // A sync may be waiting for the lock, with its gate closed: reclaim
    // must not come back into the filesystem while this holds it.
    let _nofs = kfs::NoFs::enter();
    journal::checkpoint(sb, &mut sb.info().txns.homes.lock())
}

/// Puts `inode`, just given a block, on the list of files whose data the
/// next sync writes before the metadata.
pub(crate) fn order_data(inode: &Inode<Rsfs>) -> Result {
    if inode.data().ordered.load(Ordering::Relaxed) {
        return Ok(());
    }
    let txns = &inode.super_block().info().get_ref().txns;
    let mut list = txns.ordered.lock();
    if !inode.data().ordered.swap(true, Ordering::Relaxed) {
        // The callers (write_begin, page_mkwrite, direct I/O)
        // run for an open file, which holds a reference: an inode being
        // freed never gets here, and would have no data left to order.
        let Some(inode_ref) = inode.grab() else {
            inode.data().ordered.store(false, Ordering::Relaxed);
            return Ok(());
        };
        if let Err(e) = list.push(inode_ref, GFP_KERNEL) {
            inode.data().ordered.store(false, Ordering::Relaxed);
            return Err(e.into());
        }
    }
    Ok(())
}

/// Opens a handle for an operation on `sb`, after [`make_room`] for a
/// block or two: a disk filled, emptied and filled again must not report
/// ENOSPC for space it has. EIO once the filesystem is shut down, as
/// ext4's handles fail then (`ext4_journal_check_start`).
pub(crate) fn begin(sb: &SuperBlock<Rsfs>) -> Result<Handle<'_>> {
    shutdown::alive(sb)?;
    make_room(sb, 2);
    Ok(sb.info().get_ref().txns.start())
}

/// Commits the running transaction if it is due ([`commit_due`]), and
/// makes room for an operation that may allocate up to `blocks` blocks,
/// as ext4 commits its journal and retries an allocation that found no
/// space (`ext4_should_retry_alloc`).
///
/// Space that only a sync gives back waits in two places: blocks freed
/// since the last commit, which may not be reused before the next one;
/// and deleted files that the list of files whose data a sync writes
/// first ([`order_data`]) still holds, whose blocks are freed when the
/// sync lets them go. If free space is short ([`short_of_space`]) and a
/// sync would give some back, this syncs: three times at most, since the
/// first may drop the last reference to a deleted file, the second
/// release its blocks but hold back those its own commit logged, and the
/// third release those. Without it, deleting a large file and writing
/// again gave ENOSPC until something synced (fstests generic/427).
///
/// Called with no handle open (inside one, it does nothing). A sync that
/// fails is reported here, and its space left for the allocation to
/// report as ENOSPC.
pub(crate) fn make_room(sb: &SuperBlock<Rsfs>, blocks: u64) {
    if sb.info().txns.in_handle() || shutdown::is_shut_down(sb) {
        return;
    }
    if commit_due(sb) && sync(sb).is_err() {
        kfs::sb_err!(sb, "could not commit the running transaction");
    }
    for _ in 0..3 {
        if !short_of_space(sb, blocks) || !sync_gives_room(sb) {
            break;
        }
        if sync(sb).is_err() {
            kfs::sb_err!(sb, "could not sync to release freed blocks");
            break;
        }
    }
}

/// Opens a handle that leaves `journal_info` alone (see
/// [`Txns::start_unmarked`]), making room first as [`begin`] does.
pub(crate) fn begin_unmarked(sb: &SuperBlock<Rsfs>) -> Result<Handle<'_>> {
    shutdown::alive(sb)?;
    make_room(sb, 2);
    Ok(sb.info().get_ref().txns.start_unmarked())
}

/// Opens a handle with one of a file's folios locked (see
/// [`Txns::start_locked`]); EIO once shut down, as [`begin`].
pub(crate) fn begin_locked(sb: &SuperBlock<Rsfs>) -> Result<Handle<'_>> {
    shutdown::alive(sb)?;
    Ok(sb.info().get_ref().txns.start_locked())
}

/// Whether free space is short: fewer blocks can be allocated than
/// `blocks`, or than 1024 (4 MiB), or than wait for a commit.
fn short_of_space(sb: &SuperBlock<Rsfs>, blocks: u64) -> bool {
    let info = sb.info();
    let a = info.alloc.lock();
    let available = a.available();
    available < blocks.max(1024) || available < a.freed_blocks
}

/// Whether a sync would give space back: blocks freed wait for a commit,
/// or a deleted file waits for the sync to drop the ordered list's
/// reference to it.
fn sync_gives_room(sb: &SuperBlock<Rsfs>) -> bool {
    let info = sb.info();
    if info.alloc.lock().freed_blocks > 0 {
        return true;
    }
    let ordered = info.txns.ordered.lock();
    ordered.iter().any(|inode| inode.nlink() == 0)
}
