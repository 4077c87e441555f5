// SPDX-License-Identifier: GPL-2.0

//! Block and inode allocation, from the two on-disk bitmaps.
//!
//! One mutex per mount (`Info::alloc`) serialises every change to the
//! bitmaps and the free counters. Each bitmap block is checked against its
//! checksum when read, and its checksum is rewritten with every change.
//!
//! Freed blocks wait: [`free_blocks`] only notes them, and [`release_freed`]
//! clears their bits once a sync has made durable the metadata that no
//! longer points at them (see [`crate::txn`]).

use kernel::prelude::*;

use crate::{
    format::{self, Geometry, BITS_PER_BITMAP_BLOCK},
    kfs::{self, sb_err, BufferHead, SuperBlock},
    txn, Rsfs,
};

/// Free counters and where to look next; protected by `Info::alloc`.
pub(crate) struct AllocState {
    /// Free blocks.
    pub(crate) free_blocks: u64,
    /// Free inodes.
    pub(crate) free_inodes: u64,
    /// Where the next inode search starts.
    inode_hint: u64,
    /// Runs of blocks freed since the last sync, still marked in use.
    freed: KVec<(u64, u64)>,
    /// Runs freed before the last sync that its commit also logged: they
    /// wait for the next commit (see [`release_freed`]).
    held: KVec<(u64, u64)>,
    /// How many blocks `freed` and `held` hold.
    pub(crate) freed_blocks: u64,
}

impl AllocState {
    /// The state of a freshly mounted filesystem.
    pub(crate) fn new(free_blocks: u64, free_inodes: u64) -> Self {
        Self {
            free_blocks,
            free_inodes,
            inode_hint: format::ROOT_INO + 1,
            freed: KVec::new(),
            held: KVec::new(),
            freed_blocks: 0,
        }
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
    let bh = sb.bread(start + index)?;
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
/// `goal` (wrapping around), extended to at most `max_len` bits within the
/// same bitmap block.
fn find_free(
    sb: &SuperBlock<Rsfs>,
    bitmap: Bitmap,
    goal: u64,
    max_len: u64,
) -> Result<Option<(u64, u64)>> {
    let geo = &sb.info().geo;
    let (_, blocks, valid) = bitmap.region(geo);
    let goal = if goal >= valid { 0 } else { goal };
    let first_index = goal / BITS_PER_BITMAP_BLOCK;
    for step in 0..=blocks {
        let index = (first_index + step) % blocks;
        let bh = read_bitmap(sb, geo, bitmap, index)?;
        let g = bh.lock();
        let data = g.data();
        // On the first block, start at the goal; coming back to it at the
        // end of the loop, look at the part before the goal.
        let from = if step == 0 {
            goal % BITS_PER_BITMAP_BLOCK
        } else {
            0
        };
        let Some(bit) = (from..BITS_PER_BITMAP_BLOCK).find(|&b| !format::bitmap_test(data, b))
        else {
            continue;
        };
        let mut len = 1;
        while len < max_len
            && bit + len < BITS_PER_BITMAP_BLOCK
            && !format::bitmap_test(data, bit + len)
        {
            len += 1;
        }
        return Ok(Some((index * BITS_PER_BITMAP_BLOCK + bit, len)));
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
    for b in bit..bit + len {
        let byte = (b / 8) as usize;
        let old = data[byte];
        format::bitmap_set(data, b, value);
        if data[byte] != old {
            csum ^= kfs::crc32c_delta(body, byte, old ^ data[byte]);
        }
    }
    data[body..].copy_from_slice(&csum.to_le_bytes());
    debug_assert!(format::csum_ok(data, kfs::crc32c));
}

/// Takes block `goal` if it is free.
fn take_goal(sb: &SuperBlock<Rsfs>, goal: u64) -> Result<bool> {
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
    if state.free_blocks == 0 {
        return Err(ENOSPC);
    }
    let goal = goal.max(info.geo.data_start);
    // The common case, a sequential writer asking for one block: the goal
    // itself is free. Take it with one look at its bitmap block. (A longer
    // request goes to `find_free`, which starts at the goal too but takes
    // the whole run: fallocate of a gigabyte is a few runs, not a quarter
    // of a million single blocks, each zeroed by its own request.)
    if max_len == 1 && goal < info.geo.blocks_count && take_goal(sb, goal)? {
        state.free_blocks -= 1;
        return Ok((goal, 1));
    }
    let Some((start, len)) = find_free(sb, Bitmap::Blocks, goal, max_len)? else {
        // The counter said there was room; the bitmap disagrees.
        sb_err!(
            sb,
            "block bitmap full but {} blocks counted free",
            state.free_blocks
        );
        state.free_blocks = 0;
        return Err(ENOSPC);
    };
    if start < info.geo.data_start || !set_bits(sb, Bitmap::Blocks, start, len, true)? {
        sb_err!(
            sb,
            "block bitmap: block {} is metadata or changed under us",
            start
        );
        return Err(kfs::efscorrupted());
    }
    state.free_blocks = state.free_blocks.saturating_sub(len);
    Ok((start, len))
}

/// Frees `len` blocks from `start`: they become free for reuse at the
/// next sync ([`release_freed`]). Until then they count as free for
/// `statfs`, but no allocation can take them.
pub(crate) fn free_blocks(sb: &SuperBlock<Rsfs>, start: u64, len: u64) -> Result {
    let info = sb.info();
    let geo = &info.geo;
    if start < geo.data_start
        || start
            .checked_add(len)
            .map_or(true, |end| end > geo.blocks_count)
    {
        sb_err!(sb, "freeing blocks {}+{} outside the data area", start, len);
        return Err(kfs::efscorrupted());
    }
    let mut state = info.alloc.lock();
    match state.freed.last_mut() {
        Some((s, l)) if *s + *l == start => *l += len,
        _ => state.freed.push((start, len), GFP_KERNEL)?,
    }
    state.freed_blocks += len;
    Ok(())
}

/// Whether blocks wait for a commit after the last one to be released.
pub(crate) fn has_held(sb: &SuperBlock<Rsfs>) -> bool {
    !sb.info().alloc.lock().held.is_empty()
}

/// After a commit that logged the blocks `logged` (sorted): clears the
/// bits of the blocks freed before it, and counts them free.
///
/// Except those that the commit logged (a directory or extent block
/// changed and then freed by the same transaction): until the next commit
/// overwrites the log, a mount after a power cut would replay their old
/// copies, over whatever a new owner had written there. They are held
/// back, and released by the next call, after the next commit.
pub(crate) fn release_freed(sb: &SuperBlock<Rsfs>, logged: &[u64]) -> Result {
    let info = sb.info();
    let mut state = info.alloc.lock();
    let held = core::mem::take(&mut state.held);
    let freed = core::mem::take(&mut state.freed);
    let mut result = Ok(());
    for &(start, len) in held.iter() {
        if let Err(e) = clear_run(sb, &mut state, start, len) {
            result = Err(e);
        }
    }
    for &(start, len) in freed.iter() {
        // The first logged block at or after `start`.
        let i = logged.partition_point(|&b| b < start);
        if logged.get(i).is_some_and(|&b| b < start + len) {
            if state.held.push((start, len), GFP_KERNEL).is_err() {
                // Safe, if wasteful: the run stays in use until fsck.
                state.freed_blocks -= len;
                sb_err!(sb, "no memory to hold blocks {}+{}: leaked", start, len);
            }
            continue;
        }
        if let Err(e) = clear_run(sb, &mut state, start, len) {
            result = Err(e);
        }
    }
    result
}

/// Clears the bits of `len` blocks from `start`, and counts them free.
fn clear_run(sb: &SuperBlock<Rsfs>, state: &mut AllocState, start: u64, len: u64) -> Result {
    state.freed_blocks -= len;
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
                result = Err(kfs::efscorrupted());
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
    let Some((ino, _)) = find_free(sb, Bitmap::Inodes, state.inode_hint, 1)? else {
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
        return Err(kfs::efscorrupted());
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
        return Err(kfs::efscorrupted());
    }
    state.free_inodes += 1;
    Ok(())
}
