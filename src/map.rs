// SPDX-License-Identifier: GPL-2.0

//! The block map of a file: which disk blocks hold which file blocks.
//!
//! A file's map is a sorted list of extents (`format::Extent`): the first
//! nine live in the inode, the rest in a chain of overflow extent blocks.
//! In memory, [`BlockMap`] holds the whole list and the chain's block
//! numbers, and is protected by the inode's `map` mutex. [`BlockMap::load`]
//! reads and checks it; [`BlockMap::store`] writes it back (the inode part
//! through `write_inode`).

use kernel::prelude::*;

use crate::{
    alloc,
    format::{self, Extent, ExtentBlockHeader, Geometry, EXTENT_BLOCK_EXTENTS, INODE_EXTENTS},
    kfs::{self, sb_err, Inode, SuperBlock},
    Rsfs,
};

/// One run of blocks, in native byte order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Run {
    /// First file block.
    pub(crate) logical: u32,
    /// Number of blocks.
    pub(crate) len: u32,
    /// First disk block.
    pub(crate) start: u64,
}

impl Run {
    /// A run of `len` blocks from file block `logical`, on disk from
    /// `start`. EFBIG if it does not fit the format's 32-bit file block
    /// numbers (a file has at most `format::MAX_FILE_BLOCKS` blocks).
    pub(crate) fn new(logical: u64, len: u64, start: u64) -> Result<Self> {
        let end = logical.checked_add(len).ok_or(EFBIG)?;
        if end > format::MAX_FILE_BLOCKS {
            return Err(EFBIG);
        }
        Ok(Self {
            logical: u32::try_from(logical).map_err(|_| EFBIG)?,
            len: u32::try_from(len).map_err(|_| EFBIG)?,
            start,
        })
    }

    fn end(&self) -> u64 {
        u64::from(self.logical) + u64::from(self.len)
    }

    fn encode(&self) -> Extent {
        Extent {
            logical: self.logical.into(),
            len: self.len.into(),
            start: self.start.into(),
        }
    }
}

/// The block map of one file.
pub(crate) struct BlockMap {
    /// The extents, sorted by `logical`, not overlapping, none empty.
    runs: KVec<Run>,
    /// The overflow extent blocks, in chain order.
    overflow: KVec<u64>,
    /// The file blocks (as runs of file blocks) that the write in progress
    /// allocated; see [`BlockMap::note_fresh`].
    fresh: KVec<(u64, u64)>,
}

/// How many extents fit with `blocks` overflow blocks.
const fn capacity(blocks: usize) -> usize {
    INODE_EXTENTS + blocks * EXTENT_BLOCK_EXTENTS
}

impl BlockMap {
    /// An empty map.
    pub(crate) fn new() -> Self {
        Self {
            runs: KVec::new(),
            overflow: KVec::new(),
            fresh: KVec::new(),
        }
    }

    /// Checks one extent read from disk and appends it.
    fn push_checked(&mut self, sb: &SuperBlock<Rsfs>, ino: u64, e: &Extent) -> Result {
        let geo: &Geometry = &sb.info().geo;
        let run = Run {
            logical: e.logical.get(),
            len: e.len.get(),
            start: e.start.get(),
        };
        let prev_end = self.runs.last().map_or(0, |r| r.end());
        let ok = run.len != 0
            && run.start >= geo.data_start
            && run
                .start
                .checked_add(run.len.into())
                .is_some_and(|end| end <= geo.blocks_count)
            && u64::from(run.logical) >= prev_end
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
            return Err(kfs::efscorrupted());
        }
        self.runs.push(run, GFP_KERNEL)?;
        Ok(())
    }

    /// Reads the map of inode `ino` from its on-disk inode and the overflow
    /// chain, checking every extent.
    pub(crate) fn load(sb: &SuperBlock<Rsfs>, ino: u64, d: &format::Inode) -> Result<Self> {
        let mut map = Self::new();
        let count = usize::from(d.extent_count.get());
        if count > INODE_EXTENTS {
            sb_err!(sb, "inode {}: extent count {} too large", ino, count);
            return Err(kfs::efscorrupted());
        }
        for e in &d.extents[..count] {
            map.push_checked(sb, ino, e)?;
        }
        let geo = &sb.info().geo;
        let mut next = d.extent_block.get();
        while next != 0 {
            if next < geo.data_start || next >= geo.blocks_count || map.overflow.len() > 1 << 20 {
                sb_err!(sb, "inode {}: bad extent block {}", ino, next);
                return Err(kfs::efscorrupted());
            }
            let bh = sb.bread(next)?;
            let g = bh.lock();
            let data = g.data();
            let h = ExtentBlockHeader::decode(data);
            let n = usize::from(h.count.get());
            if !format::csum_ok(data, kfs::crc32c)
                || h.magic.get() != format::EXTENT_BLOCK_MAGIC
                || n > EXTENT_BLOCK_EXTENTS
            {
                sb_err!(sb, "inode {}: extent block {} is damaged", ino, next);
                return Err(kfs::efscorrupted());
            }
            map.overflow.push(next, GFP_KERNEL)?;
            for i in 0..n {
                let e = Extent::decode(&data[ExtentBlockHeader::SIZE + i * Extent::SIZE..]);
                map.push_checked(sb, ino, &e)?;
            }
            next = h.next.get();
        }
        Ok(map)
    }

    /// The number of blocks the map uses: data and overflow blocks.
    pub(crate) fn blocks(&self) -> u64 {
        self.runs.iter().map(|r| u64::from(r.len)).sum::<u64>() + self.overflow.len() as u64
    }

    /// The disk block of file block `lblk`, and how many blocks from there on
    /// are contiguous on disk within the same extent; `None` for a hole.
    pub(crate) fn lookup(&self, lblk: u64) -> Option<(u64, u64)> {
        let i = self.runs.partition_point(|r| u64::from(r.logical) <= lblk);
        let r = self.runs.get(i.checked_sub(1)?)?;
        let off = lblk - u64::from(r.logical);
        (off < u64::from(r.len)).then(|| (r.start + off, u64::from(r.len) - off))
    }

    /// The first mapped file block at or after `lblk`, if any.
    pub(crate) fn next_mapped(&self, lblk: u64) -> Option<u64> {
        self.runs
            .iter()
            .find(|r| r.end() > lblk)
            .map(|r| lblk.max(u64::from(r.logical)))
    }

    /// The first file block at or after `lblk` that is a hole.
    pub(crate) fn next_hole(&self, lblk: u64) -> u64 {
        let mut at = lblk;
        for r in self.runs.iter() {
            if u64::from(r.logical) > at {
                break;
            }
            if r.end() > at {
                at = r.end();
            }
        }
        at
    }

    /// The disk block right after the file's last block: a good place for
    /// the next one.
    pub(crate) fn goal(&self) -> u64 {
        self.runs.last().map_or(0, |r| r.start + u64::from(r.len))
    }

    /// Maps file blocks `logical..logical + len` to disk blocks from `start`.
    /// The range must be a hole. Grows the overflow chain if needed, so this
    /// can fail with ENOSPC before changing anything.
    pub(crate) fn insert(&mut self, sb: &SuperBlock<Rsfs>, run: Run) -> Result {
        let i = self.runs.partition_point(|r| r.logical < run.logical);
        // Merge with the previous extent if the run continues it, on disk
        // and in the file.
        if let Some(prev) = i.checked_sub(1).and_then(|p| self.runs.get(p)) {
            if prev.end() == u64::from(run.logical) && prev.start + u64::from(prev.len) == run.start
            {
                if let Some(len) = prev.len.checked_add(run.len) {
                    self.runs[i - 1].len = len;
                    return Ok(());
                }
            }
        }
        self.reserve_extent(sb)?;
        self.runs.push(run, GFP_KERNEL)?;
        self.runs[i..].rotate_right(1);
        Ok(())
    }

    /// Unmaps every file block from `from` on and frees the disk blocks, and
    /// any overflow blocks no longer needed.
    pub(crate) fn truncate(&mut self, sb: &SuperBlock<Rsfs>, from: u64) -> Result {
        self.punch(sb, from, u64::MAX)
    }

    /// Unmaps file blocks `from..to` and frees their disk blocks. An extent
    /// that spans the whole range splits in two, which may need one more
    /// overflow block: that is allocated first, so ENOSPC (or ENOMEM)
    /// leaves the map as it was. Errors freeing blocks are returned after
    /// the map is updated.
    pub(crate) fn punch(&mut self, sb: &SuperBlock<Rsfs>, from: u64, to: u64) -> Result {
        if from >= to {
            return Ok(());
        }
        let first = self.runs.partition_point(|r| r.end() <= from);
        let splits = self
            .runs
            .get(first)
            .is_some_and(|r| u64::from(r.logical) < from && r.end() > to);
        if splits {
            self.reserve_extent(sb)?;
        }
        let mut runs = KVec::with_capacity(self.runs.len() + 1, GFP_KERNEL)?;
        let mut result = Ok(());
        for r in self.runs.iter() {
            let (lo, hi) = (u64::from(r.logical), r.end());
            if hi <= from || lo >= to {
                runs.push(*r, GFP_KERNEL)?;
                continue;
            }
            let (cut_lo, cut_hi) = (lo.max(from), hi.min(to));
            if let Err(e) = alloc::free_blocks(sb, r.start + (cut_lo - lo), cut_hi - cut_lo) {
                result = Err(e);
            }
            if lo < cut_lo {
                runs.push(
                    Run {
                        len: (cut_lo - lo) as u32,
                        ..*r
                    },
                    GFP_KERNEL,
                )?;
            }
            if cut_hi < hi {
                // `cut_hi` is inside the run, so it fits a file block number.
                runs.push(
                    Run {
                        logical: cut_hi as u32,
                        len: (hi - cut_hi) as u32,
                        start: r.start + (cut_hi - lo),
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        self.runs = runs;
        let needed = self
            .runs
            .len()
            .saturating_sub(INODE_EXTENTS)
            .div_ceil(EXTENT_BLOCK_EXTENTS);
        for &block in &self.overflow[needed.min(self.overflow.len())..] {
            if let Err(e) = alloc::free_blocks(sb, block, 1) {
                result = Err(e);
            }
        }
        kfs::vec_truncate(&mut self.overflow, needed);
        result
    }

    /// Makes room for one more extent: a new overflow block if the chain is
    /// full.
    fn reserve_extent(&mut self, sb: &SuperBlock<Rsfs>) -> Result {
        if self.runs.len() < capacity(self.overflow.len()) {
            return Ok(());
        }
        let (block, _) = alloc::alloc_blocks(sb, self.goal(), 1)?;
        if let Err(e) = self.overflow.push(block, GFP_KERNEL) {
            alloc::free_blocks(sb, block, 1)?;
            return Err(e.into());
        }
        Ok(())
    }

    /// Records that file blocks `lblk..lblk + len` were just allocated by
    /// the write in progress, so that [`BlockMap::take_fresh`] can give
    /// them back if that write fails. Writes (buffered and direct) hold the
    /// inode lock from start to end, so the list is only ever the current
    /// write's; it is emptied when the next write starts.
    pub(crate) fn note_fresh(&mut self, lblk: u64, len: u64) -> Result {
        if let Some(last) = self.fresh.last_mut() {
            if last.0 + last.1 == lblk {
                last.1 += len;
                return Ok(());
            }
        }
        self.fresh.push((lblk, len), GFP_KERNEL)?;
        Ok(())
    }

    /// Whether the write in progress allocated blocks at or past file block
    /// `from`.
    pub(crate) fn has_fresh_from(&self, from: u64) -> bool {
        self.fresh.iter().any(|&(lblk, len)| lblk + len > from)
    }

    /// Forgets the blocks recorded by [`BlockMap::note_fresh`].
    pub(crate) fn clear_fresh(&mut self) {
        kfs::vec_truncate(&mut self.fresh, 0);
    }

    /// Unmaps and frees the blocks the write in progress allocated at or
    /// past file block `from` (the end of the file), and empties the
    /// list. Blocks that were there before the write (preallocated ones)
    /// stay. Returns whether anything was freed.
    pub(crate) fn take_fresh(&mut self, sb: &SuperBlock<Rsfs>, from: u64) -> Result<bool> {
        let fresh = core::mem::replace(&mut self.fresh, KVec::new());
        let mut freed = false;
        let mut result = Ok(());
        for &(lblk, len) in fresh.iter() {
            let (lo, hi) = (lblk.max(from), lblk + len);
            if lo < hi {
                freed = true;
                if let Err(e) = self.punch(sb, lo, hi) {
                    result = Err(e);
                }
            }
        }
        result.map(|()| freed)
    }

    /// Writes the map into the on-disk inode `d` (the first extents and the
    /// chain head) and the overflow blocks (tied to `inode`, so that its
    /// fsync writes them).
    pub(crate) fn store(&self, inode: &Inode<Rsfs>, d: &mut format::Inode) -> Result {
        let sb = inode.super_block();
        let inline = self.runs.len().min(INODE_EXTENTS);
        d.extents = [Extent::default(); INODE_EXTENTS];
        for (slot, r) in d.extents.iter_mut().zip(&self.runs[..inline]) {
            *slot = r.encode();
        }
        d.extent_count = (inline as u16).into();
        d.extent_block = self.overflow.first().copied().unwrap_or(0).into();
        d.blocks = self.blocks().into();
        let mut rest = &self.runs[inline..];
        for (i, &block) in self.overflow.iter().enumerate() {
            let n = rest.len().min(EXTENT_BLOCK_EXTENTS);
            let bh = sb.bnew(block)?;
            {
                let mut g = bh.lock();
                let data = g.data_mut();
                ExtentBlockHeader {
                    magic: format::EXTENT_BLOCK_MAGIC.into(),
                    count: (n as u16).into(),
                    pad0: 0.into(),
                    next: self.overflow.get(i + 1).copied().unwrap_or(0).into(),
                }
                .encode(data);
                for (j, r) in rest[..n].iter().enumerate() {
                    r.encode()
                        .encode(&mut data[ExtentBlockHeader::SIZE + j * Extent::SIZE..]);
                }
                format::csum_set(data, kfs::crc32c);
            }
            bh.mark_dirty_for(inode);
            rest = &rest[n..];
        }
        Ok(())
    }

    /// Frees every block of the map (the file is being deleted).
    pub(crate) fn free_all(&mut self, sb: &SuperBlock<Rsfs>) -> Result {
        self.truncate(sb, 0)
    }
}
