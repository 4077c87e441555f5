// SPDX-License-Identifier: GPL-2.0

//! Block and inode allocation, from the two on-disk bitmaps.
//!
//! One mutex per mount (`Info::alloc`) serialises every change to the
//! bitmaps and the free counters. Each bitmap block is checked against its
//! checksum when read, and its checksum is rewritten with every change.
//!
//! Freed blocks wait. [`free_blocks`] clears their bits at once, in the
//! same transaction as the change that stopped using them, so that every
//! commit leaves bitmaps that agree with the maps: a power cut leaks
//! nothing. But no allocation may take them until that commit is durable
//! (a new owner's data, written in place, would otherwise show through
//! the old owner's map after a cut), so they also wait in memory, and
//! [`release_freed`] lets them go after the commit (see [`crate::txn`]).
//! ext4 does the same with its in-memory buddy bitmaps.

use core::sync::atomic::Ordering;
use kernel::prelude::*;

use crate::{
    format::{self, Geometry, BITS_PER_BITMAP_BLOCK},
    kfs::{self, sb_err, task, BufferHead, SuperBlock},
    shutdown,
    super_::{self, Stat},
    txn, Rsfs,
};

/// Free counters and where to look next; protected by `Info::alloc`.
pub(crate) struct AllocState {
    /// Free blocks: clear bits in the block bitmap, waiting ones included.
    pub(crate) free_blocks: u64,
    /// Free inodes.
    pub(crate) free_inodes: u64,
    /// Where the next inode search starts.
    inode_hint: u64,
    /// Runs of blocks freed since the last sync: clear in the bitmap, but
    /// no allocation takes them.
    freed: KVec<(u64, u64)>,
    /// Whether `freed` is in block order (it is sorted before a search).
    freed_sorted: bool,
    /// Runs freed before the last sync that its commit also logged: they
    /// wait for the next commit (see [`release_freed`]). In block order.
    held: KVec<(u64, u64)>,
    /// How many blocks `freed` and `held` hold.
    pub(crate) freed_blocks: u64,
    /// A free run being discarded by [`trim`] (first block, count; a count
    /// of 0 for none): no allocation takes it meanwhile.
    trimming: (u64, u64),
}

impl AllocState {
    /// The state of a freshly mounted filesystem.
    pub(crate) fn new(free_blocks: u64, free_inodes: u64) -> Self {
        Self {
            free_blocks,
            free_inodes,
            inode_hint: format::ROOT_INO + 1,
            freed: KVec::new(),
            freed_sorted: true,
            held: KVec::new(),
            freed_blocks: 0,
            trimming: (0, 0),
        }
    }

    /// Free blocks that an allocation may take now. (Saturating: a run
    /// freed twice on a damaged filesystem is counted waiting but was
    /// counted free only once.)
    pub(crate) fn available(&self) -> u64 {
        self.free_blocks
            .saturating_sub(self.freed_blocks)
            .saturating_sub(self.trimming.1)
    }

    /// Puts `freed` in block order, for [`Self::waiting_until`] and
    /// [`Self::next_waiting`]: a search costs O(log n), however many runs
    /// a large delete left waiting.
    fn sort_freed(&mut self) {
        if !self.freed_sorted {
            self.freed.as_mut_slice().sort_unstable();
            self.freed_sorted = true;
        }
    }

    /// If block `b` waits (or is being discarded), the end of its run.
    /// `freed` must be sorted.
    fn waiting_until(&self, b: u64) -> Option<u64> {
        debug_assert!(self.freed_sorted);
        let (start, len) = self.trimming;
        if (start..start + len).contains(&b) {
            return Some(start + len);
        }
        [&self.freed, &self.held].into_iter().find_map(|runs| {
            // The last run that starts at or before `b`.
            let i = runs.partition_point(|&(start, _)| start <= b);
            let (start, len) = *runs.get(i.checked_sub(1)?)?;
            (b < start + len).then_some(start + len)
        })
    }

    /// The first block after `b` that waits or is being discarded
    /// (`u64::MAX` if none is). `freed` must be sorted.
    fn next_waiting(&self, b: u64) -> u64 {
        debug_assert!(self.freed_sorted);
        let (start, len) = self.trimming;
        let trimming = if len > 0 && start > b {
            start
        } else {
            u64::MAX
        };
        [&self.freed, &self.held]
            .into_iter()
            .filter_map(|runs| {
                let i = runs.partition_point(|&(start, _)| start <= b);
                runs.get(i).map(|&(start, _)| start)
            })
            .min()
            .map_or(trimming, |next| next.min(trimming))
    }
}

/// The two bitmaps.
#[derive(Clone, Copy)]
enum Bitmap {
    Blocks,
    Inodes,
}

impl Bitmap {
    fn name(self) -> &'static str {
        match self {
            Self::Blocks => "block bitmap",
            Self::Inodes => "inode bitmap",
        }
    }

    /// First block and number of blocks of the bitmap, and how many bits
    /// are meaningful.
    fn region(self, geo: &Geometry) -> (u64, u64, u64) {
        match self {
            Self::Blocks => (
                geo.block_bitmap_start,
                geo.block_bitmap_blocks,
                geo.blocks_count,
            ),
            Self::Inodes => (
                geo.inode_bitmap_start,
                geo.inode_bitmap_blocks,
                geo.inodes_count + 1,
            ),
        }
    }
}

/// Reads bitmap block `index` of `bitmap`, and checks its checksum when it
/// comes fresh from disk.
fn read_bitmap<S>(
    sb: &SuperBlock<Rsfs, S>,
    geo: &Geometry,
    bitmap: Bitmap,
    index: u64,
) -> Result<BufferHead> {
    let (start, _, _) = bitmap.region(geo);
    let bh = super_::read_block(sb, start + index)?;
    if !bh.is_verified() {
        if !format::csum_ok(bh.lock().data(), kfs::crc32c) {
            sb_err!(sb, "{} block {}: checksum mismatch", bitmap.name(), index);
            return Err(kfs::efscorrupted());
        }
        bh.set_verified();
    }
    Ok(bh)
}

/// Counts the clear bits of both bitmaps: the free blocks and inodes.
pub(crate) fn count_free<S>(sb: &SuperBlock<Rsfs, S>, geo: &Geometry) -> Result<(u64, u64)> {
    let mut counts = [0u64; 2];
    for (n, bitmap) in [Bitmap::Blocks, Bitmap::Inodes].into_iter().enumerate() {
        let (_, blocks, _) = bitmap.region(geo);
        for index in 0..blocks {
            let bh = read_bitmap(sb, geo, bitmap, index)?;
            let g = bh.lock();
            let bytes = &g.data()[..format::BLOCK_SIZE - format::BLOCK_CSUM_SIZE];
            counts[n] += bytes
                .iter()
                .map(|b| u64::from(b.count_zeros()))
                .sum::<u64>();
        }
    }
    Ok((counts[0], counts[1]))
}

/// Sets `len` bits from `first` to `value`, in one bitmap block. Returns
/// false, changing nothing, if any of them already had that value.
fn set_bits(
    sb: &SuperBlock<Rsfs>,
    bitmap: Bitmap,
    first: u64,
    len: u64,
    value: bool,
) -> Result<bool> {
    let geo = &sb.info().geo;
    let index = first / BITS_PER_BITMAP_BLOCK;
    let bit = first % BITS_PER_BITMAP_BLOCK;
    let bh = read_bitmap(sb, geo, bitmap, index)?;
    {
        let mut g = bh.lock();
        let data = g.data_mut();
        if (bit..bit + len).any(|b| format::bitmap_test(data, b) == value) {
            return Ok(false);
        }
        flip_bits(data, bit, len, value);
    }
    txn::dirty(sb, &bh);
    Ok(true)
}

/// Finds a run of clear bits in `bitmap`: the first clear bit at or after
/// `goal` (wrapping around to the start if `wrap`), extended to at most
/// `max_len` bits within the same bitmap block. Blocks that wait in
/// `state` are passed over (for the block bitmap; inodes never wait).
fn find_free(
    sb: &SuperBlock<Rsfs>,
    bitmap: Bitmap,
    goal: u64,
    max_len: u64,
    state: Option<&AllocState>,
    wrap: bool,
) -> Result<Option<(u64, u64)>> {
    let geo = &sb.info().geo;
    let (_, blocks, valid) = bitmap.region(geo);
    if goal >= valid && !wrap {
        return Ok(None);
    }
    let goal = if goal >= valid { 0 } else { goal };
    let first_index = goal / BITS_PER_BITMAP_BLOCK;
    // Every bitmap block once, and the goal's again for the part before
    // the goal; without wrapping, the blocks from the goal's to the last.
    let steps = if wrap {
        blocks + 1
    } else {
        blocks - first_index
    };
    for step in 0..steps {
        let index = (first_index + step) % blocks;
        let bh = read_bitmap(sb, geo, bitmap, index)?;
        let g = bh.lock();
        let data = g.data();
        // On the first block, start at the goal; coming back to it at the
        // end of the loop, look at the part before the goal.
        let mut bit = if step == 0 {
            goal % BITS_PER_BITMAP_BLOCK
        } else {
            0
        };
        let base = index * BITS_PER_BITMAP_BLOCK;
        while bit < BITS_PER_BITMAP_BLOCK {
            if format::bitmap_test(data, bit) {
                bit += 1;
                continue;
            }
            if let Some(end) = state.and_then(|s| s.waiting_until(base + bit)) {
                // Clear, but waiting for a commit: skip its whole run.
                bit = end.saturating_sub(base).min(BITS_PER_BITMAP_BLOCK);
                continue;
            }
            let stop = state.map_or(u64::MAX, |s| s.next_waiting(base + bit));
            let mut len = 1;
            while len < max_len
                && bit + len < BITS_PER_BITMAP_BLOCK
                && base + bit + len < stop
                && !format::bitmap_test(data, bit + len)
            {
                len += 1;
            }
            return Ok(Some((base + bit, len)));
        }
    }
    Ok(None)
}

/// Sets bits `bit..bit + len` of a bitmap block to `value` and updates the
/// block's checksum by the change alone (see `kfs::crc32c_delta`), not by
/// summing the whole block again: one allocation costs a few table lookups,
/// not a pass over 4 KiB. Debug builds check the result against a full sum.
fn flip_bits(data: &mut [u8], bit: u64, len: u64, value: bool) {
    let body = format::BLOCK_SIZE - format::BLOCK_CSUM_SIZE;
    let mut csum = u32::from_le_bytes([data[body], data[body + 1], data[body + 2], data[body + 3]]);
    let end = bit + len;
    let mut b = bit;
    while b < end {
        // One byte at a time, and one checksum update per byte changed: a
        // run of 1,024 blocks costs 128 updates, not 1,024.
        let byte = (b / 8) as usize;
        let old = data[byte];
        while b < end && (b / 8) as usize == byte {
            format::bitmap_set(data, b, value);
            b += 1;
        }
        if data[byte] != old {
            csum ^= kfs::crc32c_delta(body, byte, old ^ data[byte]);
        }
    }
    data[body..].copy_from_slice(&csum.to_le_bytes());
    debug_assert!(format::csum_ok(data, kfs::crc32c));
}

/// Takes block `goal` if it is free and does not wait.
fn take_goal(sb: &SuperBlock<Rsfs>, state: &AllocState, goal: u64) -> Result<bool> {
    if state.waiting_until(goal).is_some() {
        return Ok(false);
    }
    let index = goal / BITS_PER_BITMAP_BLOCK;
    let bit = goal % BITS_PER_BITMAP_BLOCK;
    let bh = read_bitmap(sb, &sb.info().geo, Bitmap::Blocks, index)?;
    {
        let mut g = bh.lock();
        let data = g.data_mut();
        if format::bitmap_test(data, bit) {
            return Ok(false);
        }
        flip_bits(data, bit, 1, true);
    }
    txn::dirty(sb, &bh);
    Ok(true)
}

/// Allocates up to `max_len` contiguous blocks, starting at `goal` if it is
/// free, else at the next free block. Returns the first block and the count.
pub(crate) fn alloc_blocks(sb: &SuperBlock<Rsfs>, goal: u64, max_len: u64) -> Result<(u64, u64)> {
    let info = sb.info();
    let mut state = info.alloc.lock();
    if state.available() == 0 {
        return Err(ENOSPC);
    }
    state.sort_freed();
    let goal = goal.max(info.geo.data_start);
    // The common case, a sequential writer asking for one block: the goal
    // itself is free. Take it with one look at its bitmap block. (A longer
    // request goes to `find_free`, which starts at the goal too but takes
    // the whole run: fallocate of a gigabyte is a few runs, not a quarter
    // of a million single blocks, each zeroed by its own request.)
    if max_len == 1 && goal < info.geo.blocks_count && take_goal(sb, &state, goal)? {
        state.free_blocks -= 1;
        return Ok((goal, 1));
    }
    let Some((start, len)) = find_free(sb, Bitmap::Blocks, goal, max_len, Some(&state), true)?
    else {
        // The counter said there was room; the bitmap disagrees.
        sb_err!(
            sb,
            "block bitmap full but {} blocks counted free",
            state.available()
        );
        state.free_blocks = state.freed_blocks;
        return Err(ENOSPC);
    };
    if start < info.geo.data_start || !set_bits(sb, Bitmap::Blocks, start, len, true)? {
        sb_err!(
            sb,
            "block bitmap: block {} is metadata or changed under us",
            start
        );
        return Err(shutdown::damaged(sb));
    }
    state.free_blocks = state.free_blocks.saturating_sub(len);
    Ok((start, len))
}

/// Discards the free blocks of `first..end` in the data area, in runs of at
/// least `min_len` blocks (`FITRIM`, see [`crate::ioctl`]). Returns how
/// many blocks were discarded.
///
/// Blocks freed since the last commit wait and are left alone: until that
/// commit is durable, a power cut brings back the map that names them,
/// and their old owner must find its bytes there. A run being discarded
/// is marked in the allocator's state (`trimming`), so that no allocation
/// takes it; the discard itself runs without the allocator's lock, as
/// ext4's `ext4_trim_extent` marks the extent used and unlocks the group.
/// One trim runs at a time (`Info::trim`). A free run that crosses from
/// one bitmap block into the next counts as two. A fatal signal stops the
/// trim (ERESTARTSYS).
pub(crate) fn trim(sb: &SuperBlock<Rsfs>, first: u64, end: u64, min_len: u64) -> Result<u64> {
    let info = sb.info();
    let _one = info.trim.lock();
    let end = end.min(info.geo.blocks_count);
    let mut at = first.max(info.geo.data_start);
    let mut trimmed = 0;
    while at < end {
        if task::fatal_signal_pending() {
            return Err(ERESTARTSYS);
        }
        // A discard is a write: none once the filesystem is shut down.
        shutdown::alive(sb)?;
        let (start, len) = {
            let mut state = info.alloc.lock();
            state.sort_freed();
            let found = find_free(sb, Bitmap::Blocks, at, end - at, Some(&state), false)?;
            let Some((start, len)) = found.filter(|&(start, _)| start < end) else {
                break;
            };
            let len = len.min(end - start);
            if len >= min_len {
                state.trimming = (start, len);
            }
            (start, len)
        };
        if len >= min_len {
            let discarded = sb.discard(start, len);
            info.alloc.lock().trimming = (0, 0);
            discarded?;
            trimmed += len;
        }
        at = start + len;
        kfs::cond_resched();
    }
    Ok(trimmed)
}

/// Frees `len` blocks from `start`. Their bits are cleared in the running
/// transaction, but they become free for reuse only after it commits
/// ([`release_freed`]).
pub(crate) fn free_blocks(sb: &SuperBlock<Rsfs>, start: u64, len: u64) -> Result {
    let info = sb.info();
    let geo = &info.geo;
    if start < geo.data_start
        || start
            .checked_add(len)
            .map_or(true, |end| end > geo.blocks_count)
    {
        sb_err!(sb, "freeing blocks {}+{} outside the data area", start, len);
        return Err(shutdown::damaged(sb));
    }
    let mut state = info.alloc.lock();
    // Noted before the bits are cleared: a clear bit that is not noted
    // could be taken before the commit.
    match state.freed.last_mut() {
        Some((s, l)) if *s + *l == start => *l += len,
        last => {
            let in_order = last.map_or(true, |(s, _)| *s < start);
            state.freed.push((start, len), GFP_KERNEL)?;
            state.freed_sorted &= in_order;
        }
    }
    state.freed_blocks += len;
    clear_run(sb, &mut state, start, len)
}

/// Whether blocks wait for a commit after the last one to be released.
pub(crate) fn has_held(sb: &SuperBlock<Rsfs>) -> bool {
    !sb.info().alloc.lock().held.is_empty()
}

/// After a commit that logged the blocks `logged` (sorted): the blocks
/// freed before it may be reused.
///
/// Except those that the commit logged (a directory or extent block
/// changed and then freed by the same transaction): until the next commit
/// overwrites the log, a mount after a power cut would replay their old
/// copies, over whatever a new owner had written there. They are held
/// back, and released by the next call, after the next commit.
///
/// On a mount with `discard`, each run released is discarded first, with
/// the allocator's lock held, so that no allocation can take a block
/// before its discard is done (and the discard then wipe what the new
/// owner wrote). The commit that freed them is durable by now: a power
/// cut cannot bring back a file whose blocks were discarded.
pub(crate) fn release_freed(sb: &SuperBlock<Rsfs>, logged: &[u64]) {
    let info = sb.info();
    let discard = info.discard.load(Ordering::Relaxed);
    let mut state = info.alloc.lock();
    let held = core::mem::take(&mut state.held);
    let mut released: u64 = held.iter().map(|&(_, len)| len).sum();
    if discard {
        held.iter()
            .for_each(|&(start, len)| discard_run(sb, start, len));
    }
    // Sorted, so that `held`, taken from it in order, is sorted too.
    state.sort_freed();
    let freed = core::mem::take(&mut state.freed);
    let mut keep = KVec::new();
    if keep.reserve(freed.len(), GFP_KERNEL).is_err() {
        // No memory to sort them: all of them wait one more commit.
        state.held = freed;
        state.freed_blocks -= released;
        return;
    }
    for &(start, len) in freed.iter() {
        // The first logged block at or after `start`.
        let i = logged.partition_point(|&b| b < start);
        // The push cannot fail: there is room.
        if logged.get(i).is_some_and(|&b| b < start + len)
            && keep.push((start, len), GFP_KERNEL).is_ok()
        {
            continue;
        }
        if discard {
            discard_run(sb, start, len);
        }
        released += len;
    }
    state.held = keep;
    state.freed_blocks -= released;
}

/// Discards a run of blocks whose free was committed (`-o discard`). A
/// failure costs the device the hint only: it is logged and the run is
/// released all the same, as ext4 does.
fn discard_run(sb: &SuperBlock<Rsfs>, start: u64, len: u64) {
    match sb.discard(start, len) {
        Ok(()) => sb.info().stats.add(Stat::DiscardedBlocks, len),
        Err(e) => sb_err!(sb, "discard of blocks {}+{}: error {:?}", start, len, e),
    }
}

/// Clears the bits of `len` blocks from `start`, and counts them free.
fn clear_run(sb: &SuperBlock<Rsfs>, state: &mut AllocState, start: u64, len: u64) -> Result {
    let mut result = Ok(());
    // A run may cross bitmap blocks: free it piece by piece.
    let mut block = start;
    let end = start + len;
    while block < end {
        let piece = (BITS_PER_BITMAP_BLOCK - block % BITS_PER_BITMAP_BLOCK).min(end - block);
        match set_bits(sb, Bitmap::Blocks, block, piece, false) {
            Ok(true) => state.free_blocks += piece,
            Ok(false) => {
                sb_err!(sb, "freeing blocks {}+{}: some already free", block, piece);
                result = Err(shutdown::damaged(sb));
            }
            Err(e) => result = Err(e),
        }
        block += piece;
    }
    result
}

/// Allocates an inode number.
pub(crate) fn alloc_inode(sb: &SuperBlock<Rsfs>) -> Result<u64> {
    let info = sb.info();
    let mut state = info.alloc.lock();
    if state.free_inodes == 0 {
        return Err(ENOSPC);
    }
    let Some((ino, _)) = find_free(sb, Bitmap::Inodes, state.inode_hint, 1, None, true)? else {
        sb_err!(
            sb,
            "inode bitmap full but {} inodes counted free",
            state.free_inodes
        );
        state.free_inodes = 0;
        return Err(ENOSPC);
    };
    if ino == 0 || ino > info.geo.inodes_count || !set_bits(sb, Bitmap::Inodes, ino, 1, true)? {
        sb_err!(sb, "inode bitmap: bad free inode {}", ino);
        return Err(shutdown::damaged(sb));
    }
    state.free_inodes -= 1;
    state.inode_hint = ino + 1;
    Ok(ino)
}

/// Frees inode number `ino`.
pub(crate) fn free_inode(sb: &SuperBlock<Rsfs>, ino: u64) -> Result {
    let info = sb.info();
    let mut state = info.alloc.lock();
    if !set_bits(sb, Bitmap::Inodes, ino, 1, false)? {
        sb_err!(sb, "freeing inode {}: already free", ino);
        return Err(shutdown::damaged(sb));
    }
    state.free_inodes += 1;
    Ok(())
}
