// SPDX-License-Identifier: GPL-2.0

//! The block map of a file: which disk blocks hold which file blocks.
//!
//! A file's map is a sorted list of extents (`format::Extent`): the first
//! nine live in the inode, the rest in a chain of overflow extent blocks of
//! up to 254 each. In memory, [`BlockMap`] mirrors that layout: one
//! [`Leaf`] per place on disk (the inode's extent area, then each overflow
//! block in chain order), each a sorted array of runs, and an index of the
//! leaves in a `KVVec`. No allocation is larger than one page but the index
//! (eight leaves' worth of pointers per KiB of it), which `kvmalloc` may
//! place in vmalloc space, so a file of a million extents needs no large
//! contiguous allocation.
//!
//! A lookup is two binary searches: O(log n). An insertion shifts at most
//! one leaf (254 runs) and, when that leaf is full, splits it, which moves
//! the index by one slot. Only the leaves that changed since the inode was
//! last written are encoded again ([`BlockMap::store`]), so writing the
//! inode of a large file costs what changed, not the whole map. The map is
//! protected by the inode's `map` mutex. [`BlockMap::load`] reads and
//! checks it.

use kernel::{alloc::KVVec, prelude::*};

use crate::{
    alloc,
    format::{self, Extent, ExtentBlockHeader, Geometry, EXTENT_BLOCK_EXTENTS, INODE_EXTENTS},
    kfs::{self, sb_err, Inode, SuperBlock},
    shutdown, super_, txn, Rsfs,
};

/// The longest unwritten run rsfs makes (128 MiB): `fallocate` gives no
/// longer ones, and unwritten runs join only up to it. Where a split of an
/// unwritten run finds no block for the map, the whole run is zeroed on the
/// disk ([`crate::file`]'s `write_whole_run`), and this bounds that work,
/// as ext4's 16-bit extent length bounds its own (`EXT_UNWRITTEN_MAX_LEN`).
/// Longer unwritten extents on a disk are valid; they are only not made.
pub(crate) const UNWRITTEN_MAX_BLOCKS: u32 = 32768;

/// One run of blocks, in native byte order.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct Run {
    /// First file block.
    pub(crate) logical: u32,
    /// Number of blocks.
    pub(crate) len: u32,
    /// First disk block.
    pub(crate) start: u64,
    /// Allocated but never written: reads as zeroes
    /// ([`format::EXTENT_UNWRITTEN`]).
    pub(crate) unwritten: bool,
}

impl Run {
    /// A run of `len` blocks from file block `logical`, on disk from
    /// `start`, written. EFBIG if it does not fit the format's 32-bit file
    /// block numbers (a file has at most `format::MAX_FILE_BLOCKS` blocks)
    /// or is longer than an extent can be.
    pub(crate) fn new(logical: u64, len: u64, start: u64) -> Result<Self> {
        let end = logical.checked_add(len).ok_or(EFBIG)?;
        if end > format::MAX_FILE_BLOCKS || len > u64::from(format::EXTENT_MAX_BLOCKS) {
            return Err(EFBIG);
        }
        Ok(Self {
            logical: u32::try_from(logical).map_err(|_| EFBIG)?,
            len: len as u32,
            start,
            unwritten: false,
        })
    }

    /// The same run, unwritten.
    pub(crate) fn unwritten(self) -> Self {
        Self {
            unwritten: true,
            ..self
        }
    }

    fn first(&self) -> u64 {
        u64::from(self.logical)
    }

    fn end(&self) -> u64 {
        u64::from(self.logical) + u64::from(self.len)
    }

    fn encode(&self) -> Extent {
        Extent {
            logical: self.logical.into(),
            len: Extent::len_field(self.len, self.unwritten),
            start: self.start.into(),
        }
    }

    /// Whether `next` carries on where this run ends, in the file and on
    /// the disk, in the same state, and the two fit in one extent (an
    /// unwritten one no longer than [`UNWRITTEN_MAX_BLOCKS`]).
    fn joins(&self, next: &Run) -> Option<u32> {
        let len = self.len.checked_add(next.len)?;
        let max = if self.unwritten {
            UNWRITTEN_MAX_BLOCKS
        } else {
            format::EXTENT_MAX_BLOCKS
        };
        (self.end() == next.first()
            && self.start + u64::from(self.len) == next.start
            && self.unwritten == next.unwritten
            && len <= max)
            .then_some(len)
    }

    /// The part of the run from file block `at` on (`at` inside the run).
    fn tail_from(&self, at: u64) -> Self {
        Self {
            // `at` is inside the run, so below 2^32.
            logical: at as u32,
            len: (self.end() - at) as u32,
            start: self.start + (at - self.first()),
            unwritten: self.unwritten,
        }
    }
}

/// The runs that one place on disk holds: the inode's extent area (leaf 0)
/// or one overflow extent block.
struct Leaf {
    /// Sorted, not overlapping, none empty; at most [`Leaf::capacity`].
    runs: KVec<Run>,
    /// The overflow block that holds the leaf; 0 for the inode's.
    block: u64,
    /// Changed since it was last encoded.
    dirty: bool,
}

impl Leaf {
    fn new(block: u64) -> Result<Self> {
        let cap = if block == 0 {
            INODE_EXTENTS
        } else {
            EXTENT_BLOCK_EXTENTS
        };
        Ok(Self {
            runs: KVec::with_capacity(cap, GFP_KERNEL)?,
            block,
            dirty: true,
        })
    }

    fn capacity(&self) -> usize {
        if self.block == 0 {
            INODE_EXTENTS
        } else {
            EXTENT_BLOCK_EXTENTS
        }
    }

    fn is_full(&self) -> bool {
        self.runs.len() >= self.capacity()
    }

    /// Inserts `run` at `at`; the leaf has room (its capacity is reserved).
    fn insert(&mut self, at: usize, run: Run) {
        debug_assert!(!self.is_full());
        // Cannot fail: the capacity was allocated with the leaf.
        let _ = self.runs.push(run, GFP_KERNEL);
        self.runs.as_mut_slice()[at..].rotate_right(1);
        self.dirty = true;
    }
}

/// The block map of one file.
///
/// # Invariants
///
/// `leaves` is empty or starts with the inode's leaf (block 0), followed by
/// the overflow leaves in chain order, none of them empty. The runs of all
/// leaves, in order, are sorted by file block and do not overlap. `mapped`
/// is the number of blocks they map.
pub(crate) struct BlockMap {
    leaves: KVVec<Leaf>,
    mapped: u64,
    /// The file blocks (as runs of file blocks) that the write in progress
    /// allocated or made written, and whether they were unwritten before;
    /// see [`BlockMap::note_fresh`].
    fresh: KVec<(u64, u64, bool)>,
    /// The file's extended-attribute block, or 0 (see [`crate::xattr`]).
    /// It is no file block, but one of the file's blocks all the same:
    /// counted in [`BlockMap::blocks`], stored and freed with the map.
    xattr_block: u64,
}

impl BlockMap {
    /// An empty map.
    pub(crate) fn new() -> Self {
        Self {
            leaves: KVVec::new(),
            mapped: 0,
            fresh: KVec::new(),
            xattr_block: 0,
        }
    }

    /// Checks one extent read from disk and appends it to the last leaf.
    fn push_checked(&mut self, sb: &SuperBlock<Rsfs>, ino: u64, e: &Extent) -> Result {
        let geo: &Geometry = &sb.info().geo;
        let run = Run {
            logical: e.logical.get(),
            len: e.blocks(),
            start: e.start.get(),
            unwritten: e.is_unwritten(),
        };
        let prev_end = self.last_run().map_or(0, |r| r.end());
        let ok = run.len != 0
            && (!run.unwritten || super_::has_unwritten(sb))
            && run.start >= geo.data_start
            && run
                .start
                .checked_add(run.len.into())
                .is_some_and(|end| end <= geo.blocks_count)
            && run.first() >= prev_end
            && run.end() <= format::MAX_FILE_BLOCKS;
        if !ok {
            sb_err!(
                sb,
                "inode {}: bad extent {}+{} at block {}",
                ino,
                run.logical,
                run.len,
                run.start
            );
            return Err(shutdown::damaged(sb));
        }
        let leaf = self.leaves.as_mut_slice().last_mut().ok_or(EINVAL)?;
        leaf.runs.push(run, GFP_KERNEL)?;
        self.mapped += u64::from(run.len);
        Ok(())
    }

    /// Reads the map of inode `ino` from its on-disk inode and the overflow
    /// chain, checking every extent. An overflow block holds at least one
    /// extent, and extents only go forward, so a chain that loops is caught
    /// at its first repeated block.
    pub(crate) fn load(sb: &SuperBlock<Rsfs>, ino: u64, d: &format::Inode) -> Result<Self> {
        let mut map = Self::new();
        let count = usize::from(d.extent_count.get());
        if count > INODE_EXTENTS {
            sb_err!(sb, "inode {}: extent count {} too large", ino, count);
            return Err(shutdown::damaged(sb));
        }
        let mut next = d.extent_block.get();
        if count == 0 && next == 0 {
            return Ok(map);
        }
        map.leaves.push(Leaf::new(0)?, GFP_KERNEL)?;
        for e in &d.extents[..count] {
            map.push_checked(sb, ino, e)?;
        }
        let geo = &sb.info().geo;
        while next != 0 {
            if next < geo.data_start || next >= geo.blocks_count {
                sb_err!(sb, "inode {}: bad extent block {}", ino, next);
                return Err(shutdown::damaged(sb));
            }
            let bh = super_::read_block(sb, next)?;
            let g = bh.lock();
            let data = g.data();
            let h = ExtentBlockHeader::decode(data);
            let n = usize::from(h.count.get());
            if !format::csum_ok(data, kfs::crc32c)
                || h.magic.get() != format::EXTENT_BLOCK_MAGIC
                || n == 0
                || n > EXTENT_BLOCK_EXTENTS
            {
                sb_err!(sb, "inode {}: extent block {} is damaged", ino, next);
                return Err(shutdown::damaged(sb));
            }
            let mut leaf = Leaf::new(next)?;
            leaf.dirty = false;
            map.leaves.push(leaf, GFP_KERNEL)?;
            for i in 0..n {
                let e = Extent::decode(&data[ExtentBlockHeader::SIZE + i * Extent::SIZE..]);
                map.push_checked(sb, ino, &e)?;
            }
            next = h.next.get();
        }
        if let Some(first) = map.leaves.as_mut_slice().first_mut() {
            first.dirty = false;
        }
        Ok(map)
    }

    /// The number of blocks the file uses: data, overflow and
    /// extended-attribute blocks.
    pub(crate) fn blocks(&self) -> u64 {
        self.mapped + self.leaves.len().saturating_sub(1) as u64 + u64::from(self.xattr_block != 0)
    }

    /// Takes the extended-attribute block of inode `ino` from its on-disk
    /// inode `d`, checking that it lies in the data area. Its contents are
    /// checked when they are read ([`crate::xattr`]).
    pub(crate) fn load_xattr_block(
        &mut self,
        sb: &SuperBlock<Rsfs>,
        ino: u64,
        d: &format::Inode,
    ) -> Result {
        let b = d.xattr_block.get();
        let geo = &sb.info().geo;
        if b != 0 && (b < geo.data_start || b >= geo.blocks_count) {
            sb_err!(sb, "inode {}: bad extended-attribute block {}", ino, b);
            return Err(shutdown::damaged(sb));
        }
        self.xattr_block = b;
        Ok(())
    }

    /// The file's extended-attribute block, or 0.
    pub(crate) fn xattr_block(&self) -> u64 {
        self.xattr_block
    }

    /// Sets the file's extended-attribute block (0: none); the caller has
    /// allocated or freed it.
    pub(crate) fn set_xattr_block(&mut self, block: u64) {
        self.xattr_block = block;
    }

    fn last_run(&self) -> Option<&Run> {
        self.leaves
            .as_slice()
            .iter()
            .rev()
            .find_map(|l| l.runs.last())
    }

    /// The last run that starts at or before file block `lblk`, as (leaf,
    /// index in it).
    fn at_or_before(&self, lblk: u64) -> Option<(usize, usize)> {
        let leaves = self.leaves.as_slice();
        // Leaves whose first run starts at or before `lblk` (an empty inode
        // leaf counts: it comes first).
        let n = leaves.partition_point(|l| l.runs.first().map_or(true, |r| r.first() <= lblk));
        let mut i = n.checked_sub(1)?;
        loop {
            let j = leaves[i].runs.partition_point(|r| r.first() <= lblk);
            if j > 0 {
                return Some((i, j - 1));
            }
            i = i.checked_sub(1)?;
        }
    }

    /// The runs from (leaf `i`, index `j`) on, in order.
    fn runs_from(&self, i: usize, j: usize) -> impl Iterator<Item = &Run> + '_ {
        let leaves = self.leaves.as_slice();
        let here = leaves
            .get(i)
            .into_iter()
            .flat_map(move |l| l.runs.get(j..).unwrap_or(&[]).iter());
        let after = leaves
            .get(i + 1..)
            .unwrap_or(&[])
            .iter()
            .flat_map(|l| l.runs.iter());
        Iterator::chain(here, after)
    }

    /// The disk block of file block `lblk`, how many blocks from there on
    /// are contiguous on disk within the same extent, and whether they are
    /// unwritten; `None` for a hole.
    pub(crate) fn lookup(&self, lblk: u64) -> Option<(u64, u64, bool)> {
        let (i, j) = self.at_or_before(lblk)?;
        let r = &self.leaves.as_slice()[i].runs[j];
        let off = lblk - r.first();
        (off < u64::from(r.len)).then(|| (r.start + off, u64::from(r.len) - off, r.unwritten))
    }

    /// The whole run that holds file block `lblk`, if it is mapped.
    pub(crate) fn run_at(&self, lblk: u64) -> Option<Run> {
        let (i, j) = self.at_or_before(lblk)?;
        let r = self.leaves.as_slice()[i].runs[j];
        (lblk < r.end()).then_some(r)
    }

    /// The disk block of file block `lblk` if it holds data: `None` for a
    /// hole or an unwritten block, both of which read as zeroes.
    pub(crate) fn lookup_written(&self, lblk: u64) -> Option<u64> {
        self.lookup(lblk)
            .and_then(|(block, _, unwritten)| (!unwritten).then_some(block))
    }

    /// The first mapped file block at or after `lblk`, if any.
    pub(crate) fn next_mapped(&self, lblk: u64) -> Option<u64> {
        let (i, j) = self.at_or_before(lblk).unwrap_or((0, 0));
        self.runs_from(i, j)
            .find(|r| r.end() > lblk)
            .map(|r| lblk.max(r.first()))
    }

    /// The runs that end after file block `lblk`, in order.
    pub(crate) fn extents_from(&self, lblk: u64) -> impl Iterator<Item = Run> + '_ {
        let (i, j) = self.at_or_before(lblk).unwrap_or((0, 0));
        self.runs_from(i, j)
            .filter(move |r| r.end() > lblk)
            .copied()
    }

    /// The first written file block at or after `lblk` (`SEEK_DATA`: an
    /// unwritten block reads as zeroes, as a hole does, and no dirty page
    /// cache lies over one, since a write makes its block written first).
    pub(crate) fn next_written(&self, lblk: u64) -> Option<u64> {
        self.extents_from(lblk)
            .find(|r| !r.unwritten)
            .map(|r| lblk.max(r.first()))
    }

    /// The first file block at or after `lblk` that is a hole or
    /// unwritten (`SEEK_HOLE`).
    pub(crate) fn next_unwritten_or_hole(&self, lblk: u64) -> u64 {
        let mut at = lblk;
        for r in self.extents_from(lblk) {
            if r.first() > at || r.unwritten {
                break;
            }
            at = r.end();
        }
        at
    }

    /// The first file block at or after `lblk` that is a hole.
    pub(crate) fn next_hole(&self, lblk: u64) -> u64 {
        let Some((i, j)) = self.at_or_before(lblk) else {
            return lblk;
        };
        let mut at = lblk;
        for r in self.runs_from(i, j) {
            if r.first() > at {
                break;
            }
            at = at.max(r.end());
        }
        at
    }

    /// The disk block right after the file's last block: a good place for
    /// the next one.
    pub(crate) fn goal(&self) -> u64 {
        self.last_run().map_or(0, |r| r.start + u64::from(r.len))
    }

    /// Makes sure leaf `i` has room for one more run, splitting it if it is
    /// full: its second half (or, for the last leaf, nothing, when `append`
    /// says the run goes at its end, so that files written in order get
    /// full leaves) moves to a new leaf in a new overflow block. Returns
    /// the leaf and index where a run that was to go at index `at` of leaf
    /// `i` goes now. Fails (ENOSPC, ENOMEM) before changing anything.
    fn make_room(&mut self, sb: &SuperBlock<Rsfs>, i: usize, at: usize) -> Result<(usize, usize)> {
        if self.leaves.is_empty() {
            self.leaves.push(Leaf::new(0)?, GFP_KERNEL)?;
        }
        let leaves = self.leaves.as_slice();
        if !leaves[i].is_full() {
            return Ok((i, at));
        }
        let appending = i + 1 == leaves.len() && at == leaves[i].runs.len();
        let keep = if appending {
            leaves[i].runs.len()
        } else {
            leaves[i].runs.len() / 2
        };
        self.leaves.reserve(1, GFP_KERNEL)?;
        let (block, _) = alloc::alloc_blocks(sb, self.goal(), 1)?;
        let mut leaf = match Leaf::new(block) {
            Ok(leaf) => leaf,
            Err(e) => {
                let _ = alloc::free_blocks(sb, block, 1);
                return Err(e);
            }
        };
        let old = &mut self.leaves.as_mut_slice()[i];
        // Cannot fail: the new leaf has room for a whole leaf's runs.
        let _ = leaf
            .runs
            .extend_from_slice(&old.runs.as_slice()[keep..], GFP_KERNEL);
        kfs::vec_truncate(&mut old.runs, keep);
        old.dirty = true;
        // Cannot fail: reserved above.
        let _ = self.leaves.push(leaf, GFP_KERNEL);
        self.leaves.as_mut_slice()[i + 1..].rotate_right(1);
        Ok(if at <= keep && !appending {
            (i, at)
        } else {
            (i + 1, at - keep)
        })
    }

    /// Maps file blocks `run.logical..` to disk blocks from `run.start`.
    /// The range must be a hole. Grows the overflow chain if needed, so this
    /// can fail with ENOSPC before changing anything.
    pub(crate) fn insert(&mut self, sb: &SuperBlock<Rsfs>, run: Run) -> Result {
        let (i, at) = match self.at_or_before(run.first()) {
            Some((i, j)) => {
                // Merge with the run before if this one continues it, on
                // disk and in the file.
                let prev = &mut self.leaves.as_mut_slice()[i].runs.as_mut_slice()[j];
                if let Some(len) = prev.joins(&run) {
                    prev.len = len;
                    self.leaves.as_mut_slice()[i].dirty = true;
                    self.mapped += u64::from(run.len);
                    return Ok(());
                }
                (i, j + 1)
            }
            None => (0, 0),
        };
        let (i, at) = self.make_room(sb, i, at)?;
        self.leaves.as_mut_slice()[i].insert(at, run);
        self.mapped += u64::from(run.len);
        Ok(())
    }

    /// Unmaps every file block from `from` on and frees the disk blocks, and
    /// any overflow blocks no longer needed.
    pub(crate) fn truncate(&mut self, sb: &SuperBlock<Rsfs>, from: u64) -> Result {
        self.punch(sb, from, u64::MAX)
    }

    /// Unmaps file blocks `from..to` and frees their disk blocks, and the
    /// overflow blocks of leaves left empty. An extent that spans the whole
    /// range splits in two ([`BlockMap::split_at`]), which may need a new
    /// overflow block: that comes first, so ENOSPC (or ENOMEM) leaves the
    /// map as it was. Errors freeing blocks are returned after the map is
    /// updated.
    pub(crate) fn punch(&mut self, sb: &SuperBlock<Rsfs>, from: u64, to: u64) -> Result {
        if from >= to {
            return Ok(());
        }
        if let Some((i, j)) = self.at_or_before(from) {
            let r = self.leaves.as_slice()[i].runs[j];
            if r.first() < from && r.end() > to {
                self.split_at(sb, from)?;
            }
        }
        let mut result = Ok(());
        let mut free = |start: u64, len: u64| {
            if let Err(e) = alloc::free_blocks(sb, start, len) {
                result = Err(e);
            }
        };
        let (mut i, mut j) = self.at_or_before(from).unwrap_or((0, 0));
        let mut unmapped = 0;
        while let Some(leaf) = self.leaves.as_mut_slice().get_mut(i) {
            if leaf.runs.first().is_some_and(|r| r.first() >= to) {
                break;
            }
            // Runs `j..` of this leaf: cut what lies in `from..to`.
            let mut keep = j;
            for k in j..leaf.runs.len() {
                let r = leaf.runs[k];
                let (lo, hi) = (r.first().max(from), r.end().min(to));
                if lo >= hi {
                    leaf.runs.as_mut_slice()[keep] = r;
                    keep += 1;
                    continue;
                }
                free(r.start + (lo - r.first()), hi - lo);
                unmapped += hi - lo;
                leaf.dirty = true;
                if r.first() < lo {
                    leaf.runs.as_mut_slice()[keep] = Run {
                        len: (lo - r.first()) as u32,
                        ..r
                    };
                    keep += 1;
                } else if hi < r.end() {
                    leaf.runs.as_mut_slice()[keep] = r.tail_from(hi);
                    keep += 1;
                }
            }
            kfs::vec_truncate(&mut leaf.runs, keep);
            i += 1;
            j = 0;
            // Deleting a file of a million extents frees a million runs:
            // more than the soft-lockup watchdog's 20 s under TCG.
            kfs::cond_resched();
        }
        self.mapped -= unmapped;
        let dropped = self.drop_empty_leaves(sb);
        result.and(dropped)
    }

    /// Removes the overflow leaves left with no runs, freeing their blocks
    /// (the leaf before each now points past it), and the inode's leaf if
    /// nothing is left. An error freeing a block is returned after all are
    /// removed.
    fn drop_empty_leaves(&mut self, sb: &SuperBlock<Rsfs>) -> Result {
        let mut result = Ok(());
        let mut k = 1;
        while k < self.leaves.len() {
            kfs::cond_resched();
            if !self.leaves.as_slice()[k].runs.is_empty() {
                k += 1;
                continue;
            }
            if let Err(e) = alloc::free_blocks(sb, self.leaves.as_slice()[k].block, 1) {
                result = Err(e);
            }
            self.leaves.as_mut_slice()[k - 1].dirty = true;
            self.leaves.as_mut_slice()[k..].rotate_left(1);
            drop(kfs::vec_pop(&mut self.leaves));
        }
        if self.leaves.len() == 1 && self.leaves.as_slice()[0].runs.is_empty() {
            drop(kfs::vec_pop(&mut self.leaves));
        }
        result
    }

    /// Moves every run that starts at or after file block `from` by `delta`
    /// blocks: down for FALLOC_FL_COLLAPSE_RANGE (negative; the caller has
    /// punched the `-delta` blocks below `from`, so nothing is in the way),
    /// up for FALLOC_FL_INSERT_RANGE (after [`BlockMap::split_at`] `from`).
    /// EFBIG if a run would end past `format::MAX_FILE_BLOCKS`; the map is
    /// unchanged then. Disk blocks stay where they are.
    pub(crate) fn shift(&mut self, from: u64, delta: i64) -> Result {
        let end = self.last_run().map_or(0, |r| r.end());
        if delta > 0 && end.saturating_add(delta as u64) > format::MAX_FILE_BLOCKS {
            return Err(EFBIG);
        }
        for leaf in self.leaves.as_mut_slice() {
            for r in leaf.runs.as_mut_slice() {
                if r.first() >= from {
                    // In range: checked above going up, and going down the
                    // blocks below `from` that it moves into are a hole.
                    r.logical = (i64::from(r.logical) + delta) as u32;
                    leaf.dirty = true;
                }
            }
        }
        Ok(())
    }

    /// Splits the run around file block `at` (one that starts before it and
    /// ends after it) in two, so that a run starts at `at`. May need a new
    /// overflow block (ENOSPC or ENOMEM before anything changes).
    pub(crate) fn split_at(&mut self, sb: &SuperBlock<Rsfs>, at: u64) -> Result {
        let Some((i, j)) = self.at_or_before(at) else {
            return Ok(());
        };
        let r = self.leaves.as_slice()[i].runs[j];
        if r.first() >= at || r.end() <= at {
            return Ok(());
        }
        let (li, k) = self.make_room(sb, i, j + 1)?;
        // A split of a full leaf may have moved the run to the new one: it
        // is the one before where its tail goes.
        let (ri, rj) = if k > 0 { (li, k - 1) } else { (i, j) };
        let leaves = self.leaves.as_mut_slice();
        leaves[ri].runs.as_mut_slice()[rj].len = (at - r.first()) as u32;
        leaves[ri].dirty = true;
        leaves[li].insert(k, r.tail_from(at));
        Ok(())
    }

    /// Joins the run that ends at file block `at` with the one that starts
    /// there, if the second continues the first on disk too: after a
    /// FALLOC_FL_COLLAPSE_RANGE, the runs on either side of the range
    /// removed may be the two halves of one that FALLOC_FL_INSERT_RANGE
    /// split, and a file that was one extent is one again, as ext4 merges
    /// extents (`ext4_ext_try_to_merge`). The second run may be the first
    /// of the next leaf; an overflow leaf left empty goes, with its block.
    pub(crate) fn merge_at(&mut self, sb: &SuperBlock<Rsfs>, at: u64) -> Result {
        let Some((i, j)) = at.checked_sub(1).and_then(|b| self.at_or_before(b)) else {
            return Ok(());
        };
        let leaves = self.leaves.as_slice();
        let prev = leaves[i].runs[j];
        let (ni, nj) = if j + 1 < leaves[i].runs.len() {
            (i, j + 1)
        } else {
            (i + 1, 0)
        };
        let Some(&next) = leaves.get(ni).and_then(|l| l.runs.get(nj)) else {
            return Ok(());
        };
        let Some(len) = prev.joins(&next).filter(|_| prev.end() == at) else {
            return Ok(());
        };
        let leaves = self.leaves.as_mut_slice();
        leaves[i].runs.as_mut_slice()[j].len = len;
        leaves[i].dirty = true;
        let runs = &mut leaves[ni].runs;
        runs.as_mut_slice()[nj..].rotate_left(1);
        kfs::vec_truncate(runs, runs.len() - 1);
        leaves[ni].dirty = true;
        self.drop_empty_leaves(sb)
    }

    /// Makes file blocks `from..to`, unwritten, written: the run that holds
    /// them splits where the range starts and ends, and the range joins a
    /// written run that it continues on either side. The range lies in one
    /// unwritten run. A split may need a new overflow block (ENOSPC or
    /// ENOMEM); then the range is still unwritten, though its run may be
    /// split. Once the range is written, this succeeds: joining is best
    /// effort (a join whose emptied overflow block cannot be freed leaves
    /// that block to fsck.rsfs, and the map is right either way).
    pub(crate) fn mark_written(&mut self, sb: &SuperBlock<Rsfs>, from: u64, to: u64) -> Result {
        self.split_at(sb, from)?;
        self.split_at(sb, to)?;
        let (i, j) = self.at_or_before(from).ok_or(EINVAL)?;
        let leaf = &mut self.leaves.as_mut_slice()[i];
        let run = &mut leaf.runs.as_mut_slice()[j];
        if run.first() != from || run.end() != to || !run.unwritten {
            return Err(EINVAL);
        }
        run.unwritten = false;
        leaf.dirty = true;
        let _ = self.merge_at(sb, to);
        let _ = self.merge_at(sb, from);
        Ok(())
    }

    /// Makes the mapped blocks in file blocks `from..to` unwritten again
    /// (a write that made them written failed, see
    /// [`BlockMap::take_fresh`]): the runs split at either end, and each
    /// run inside becomes unwritten and joins an unwritten run it
    /// continues. A split may fail (ENOSPC, ENOMEM) before anything else
    /// changes.
    pub(crate) fn mark_unwritten(&mut self, sb: &SuperBlock<Rsfs>, from: u64, to: u64) -> Result {
        self.split_at(sb, from)?;
        self.split_at(sb, to)?;
        let mut at = from;
        while at < to {
            let Some((i, j)) = self.at_or_before(at) else {
                at = self.next_mapped(at).unwrap_or(to);
                continue;
            };
            let leaf = &mut self.leaves.as_mut_slice()[i];
            let run = &mut leaf.runs.as_mut_slice()[j];
            if run.end() <= at {
                // A hole from `at`: on to the next run.
                at = self.next_mapped(at).unwrap_or(to);
                continue;
            }
            run.unwritten = true;
            leaf.dirty = true;
            let end = run.end();
            let _ = self.merge_at(sb, at);
            at = end;
        }
        let _ = self.merge_at(sb, to);
        Ok(())
    }

    /// Records that file blocks `lblk..lblk + len` were just allocated by
    /// the write in progress, so that [`BlockMap::take_fresh`] can give
    /// them back if that write fails. Writes (buffered and direct) hold the
    /// inode lock from start to end, so the list is only ever the current
    /// write's; it is emptied when the next write starts.
    pub(crate) fn note_fresh(&mut self, lblk: u64, len: u64, was_unwritten: bool) -> Result {
        if let Some(last) = self.fresh.as_mut_slice().last_mut() {
            if last.0 + last.1 == lblk && last.2 == was_unwritten {
                last.1 += len;
                return Ok(());
            }
        }
        self.fresh.push((lblk, len, was_unwritten), GFP_KERNEL)?;
        Ok(())
    }

    /// The end of the blocks that the write in progress allocated at or
    /// past file block `from` (the block after the last), if it allocated
    /// any there.
    pub(crate) fn fresh_end_from(&self, from: u64) -> Option<u64> {
        self.fresh
            .iter()
            .map(|&(lblk, len, _)| lblk + len)
            .filter(|&end| end > from)
            .max()
    }

    /// Whether file block `lblk` was allocated by the write in progress.
    pub(crate) fn is_fresh(&self, lblk: u64) -> bool {
        self.fresh
            .iter()
            .any(|&(start, len, _)| (start..start + len).contains(&lblk))
    }

    /// Forgets the blocks recorded by [`BlockMap::note_fresh`].
    pub(crate) fn clear_fresh(&mut self) {
        kfs::vec_truncate(&mut self.fresh, 0);
    }

    /// Gives back what the write in progress did to the map at or past
    /// file block `from`, and empties the list: the
    /// blocks it allocated are unmapped and freed, and the preallocated
    /// blocks it made written are unwritten again, so that they stay the
    /// file's and read as zeroes, whatever part of the write reached them.
    /// Where that fails (a split finds no block for the map, or no memory),
    /// the blocks stay mapped and written, and `zero` is called on each run
    /// of their disk blocks (first block, count), to make them read as
    /// zeroes that way.
    /// Returns whether anything changed.
    pub(crate) fn take_fresh(
        &mut self,
        sb: &SuperBlock<Rsfs>,
        from: u64,
        mut zero: impl FnMut(u64, u64) -> Result,
    ) -> Result<bool> {
        let fresh = core::mem::replace(&mut self.fresh, KVec::new());
        let mut changed = false;
        let mut result = Ok(());
        for &(lblk, len, was_unwritten) in fresh.iter() {
            let (lo, hi) = (lblk.max(from), lblk + len);
            if lo < hi {
                changed = true;
                let done = if was_unwritten {
                    self.mark_unwritten(sb, lo, hi)
                } else {
                    self.punch(sb, lo, hi)
                };
                // Still mapped and written (no block for a split, or no
                // memory): zeroes on the disk make them read as zeroes.
                let done = done.or_else(|_| self.zero_written(lo, hi, &mut zero));
                if let Err(e) = done {
                    result = Err(e);
                }
            }
        }
        result.map(|()| changed)
    }

    /// Calls `zero` on the disk blocks of the written runs in file blocks
    /// `from..to` (first block, count), on each even after one fails; the
    /// first error is returned.
    fn zero_written(
        &self,
        from: u64,
        to: u64,
        zero: &mut impl FnMut(u64, u64) -> Result,
    ) -> Result {
        let mut result = Ok(());
        for r in self.extents_from(from) {
            if r.first() >= to {
                break;
            }
            if !r.unwritten {
                let (lo, hi) = (r.first().max(from), r.end().min(to));
                result = result.and(zero(r.start + (lo - r.first()), hi - lo));
            }
        }
        result
    }

    /// Writes the map into the on-disk inode `d` (the inode's extents and
    /// the chain head) and the overflow blocks that changed since the last
    /// time (tied to `inode`, so that its fsync writes them).
    pub(crate) fn store(&mut self, inode: &Inode<Rsfs>, d: &mut format::Inode) -> Result {
        let sb = inode.super_block();
        let blocks = self.blocks();
        let leaves = self.leaves.as_mut_slice();
        d.extents = [Extent::default(); INODE_EXTENTS];
        d.extent_count = 0.into();
        d.extent_block = leaves.get(1).map_or(0, |l| l.block).into();
        d.blocks = blocks.into();
        d.xattr_block = self.xattr_block.into();
        if let Some(first) = leaves.first() {
            for (slot, r) in d.extents.iter_mut().zip(first.runs.iter()) {
                *slot = r.encode();
            }
            d.extent_count = (first.runs.len() as u16).into();
        }
        for i in 1..leaves.len() {
            if !leaves[i].dirty {
                continue;
            }
            let next = leaves.get(i + 1).map_or(0, |l| l.block);
            let leaf = &leaves[i];
            let bh = sb.bnew(leaf.block)?;
            {
                let mut g = bh.lock();
                let data = g.data_mut();
                data.fill(0);
                ExtentBlockHeader {
                    magic: format::EXTENT_BLOCK_MAGIC.into(),
                    count: (leaf.runs.len() as u16).into(),
                    pad0: 0.into(),
                    next: next.into(),
                }
                .encode(data);
                for (j, r) in leaf.runs.iter().enumerate() {
                    r.encode()
                        .encode(&mut data[ExtentBlockHeader::SIZE + j * Extent::SIZE..]);
                }
                format::csum_set(data, kfs::crc32c);
            }
            txn::dirty(sb, &bh);
            leaves[i].dirty = false;
            sb.info()
                .stats
                .add(crate::super_::Stat::ExtentBlockWrites, 1);
        }
        if let Some(first) = leaves.first_mut() {
            first.dirty = false;
        }
        Ok(())
    }

    /// Frees every block of the file, its extended-attribute block too
    /// (the file is being deleted).
    pub(crate) fn free_all(&mut self, sb: &SuperBlock<Rsfs>) -> Result {
        let mut result = self.truncate(sb, 0);
        if self.xattr_block != 0 {
            result = result.and(alloc::free_blocks(sb, self.xattr_block, 1));
            self.xattr_block = 0;
        }
        result
    }
}
