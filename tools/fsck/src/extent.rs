// SPDX-License-Identifier: GPL-2.0

//! Block maps: the extents of an inode and its overflow extent blocks.

use anyhow::Result;
use rsfs_format::{
    csum_ok, csum_set, Extent, ExtentBlockHeader, Geometry, Inode, BLOCK_SIZE,
    EXTENT_BLOCK_EXTENTS, EXTENT_BLOCK_MAGIC, INODE_EXTENTS,
};

use crate::image::{crc, Image};

/// One extent, in native byte order: file block, length, disk block.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// First file block.
    pub logical: u32,
    /// Blocks ([`Extent::blocks`]).
    pub len: u32,
    /// First disk block.
    pub start: u64,
    /// Allocated but never written ([`Extent::is_unwritten`]).
    pub unwritten: bool,
    /// Where it is stored: 0 for the inode, `k` for the `k`-th overflow
    /// block of [`Map::overflow`].
    pub leaf: usize,
}

impl Run {
    /// The extent as it is stored on disk.
    pub fn disk(&self) -> Extent {
        Extent {
            logical: self.logical.into(),
            len: Extent::len_field(self.len, self.unwritten),
            start: self.start.into(),
        }
    }
}

/// An overflow extent block to write again after extents were taken out
/// of it ([`Map::remove`]): its extents now, and the next block of the
/// chain.
pub struct LeafWrite {
    /// The overflow block.
    pub block: u64,
    /// The extents it keeps, in order.
    pub runs: Vec<Run>,
    /// The next overflow block, or 0.
    pub next: u64,
}

/// What [`Map::remove`] took out of a map.
#[derive(Default)]
pub struct Removed {
    /// The extents removed.
    pub runs: Vec<Run>,
    /// Overflow blocks left with no extent, now out of the chain.
    pub freed: Vec<u64>,
    /// Overflow blocks to write again.
    pub writes: Vec<LeafWrite>,
}

impl Removed {
    /// Every disk block no longer in the map: the removed extents' and the
    /// freed overflow blocks.
    pub fn blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.runs
            .iter()
            .flat_map(|r| r.start..r.start + u64::from(r.len))
            .chain(self.freed.iter().copied())
    }
}

/// A file's block map.
#[derive(Default)]
pub struct Map {
    /// The extents, in order.
    pub runs: Vec<Run>,
    /// The overflow extent blocks.
    pub overflow: Vec<u64>,
    /// The extended-attribute block, once checked ([`crate::xattr`]).
    pub xattr: Option<u64>,
}

impl Map {
    /// Data, overflow and extended-attribute blocks together: what the
    /// inode's `blocks` says.
    pub fn blocks(&self) -> u64 {
        self.runs.iter().map(|r| u64::from(r.len)).sum::<u64>()
            + self.overflow.len() as u64
            + u64::from(self.xattr.is_some())
    }

    /// Every disk block the map uses.
    pub fn all_blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.runs
            .iter()
            .flat_map(|r| r.start..r.start + u64::from(r.len))
            .chain(self.overflow.iter().copied())
            .chain(self.xattr)
    }

    /// The disk block of file block `lblk`.
    pub fn lookup(&self, lblk: u32) -> Option<u64> {
        self.runs
            .iter()
            .find(|r| lblk >= r.logical && lblk - r.logical < r.len)
            .map(|r| r.start + u64::from(lblk - r.logical))
    }

    /// Takes the extents `bad` picks out of the map and out of the extent
    /// list of its inode `d`, as a punched hole would: each extent stays
    /// where it was stored, in the inode or its overflow block, and an
    /// overflow block left with no extent leaves the chain (the kernel
    /// refuses an empty one). `d`'s `blocks` loses the blocks removed.
    /// The overflow blocks to write again are returned with the rest; the
    /// caller writes them, and `d`, when it repairs.
    pub fn remove(&mut self, d: &mut Inode, bad: impl Fn(&Run) -> bool) -> Removed {
        let mut out = Removed::default();
        if !self.runs.iter().any(&bad) {
            return out;
        }
        let old = std::mem::take(&mut self.overflow);
        let mut leaves: Vec<Vec<Run>> = vec![Vec::new(); old.len() + 1];
        let mut counts = vec![0usize; old.len() + 1];
        for r in self.runs.drain(..) {
            counts[r.leaf] += 1;
            if bad(&r) {
                out.runs.push(r);
            } else {
                leaves[r.leaf].push(r);
            }
        }
        d.extents = Default::default();
        for (slot, r) in d.extents.iter_mut().zip(&leaves[0]) {
            *slot = r.disk();
        }
        d.extent_count = (leaves[0].len() as u16).into();
        self.runs.append(&mut leaves[0]);
        let kept: Vec<usize> = (1..leaves.len())
            .filter(|&k| !leaves[k].is_empty())
            .collect();
        out.freed = (1..leaves.len())
            .filter(|&k| leaves[k].is_empty())
            .map(|k| old[k - 1])
            .collect();
        d.extent_block = kept.first().map_or(0, |&k| old[k - 1]).into();
        for (j, &k) in kept.iter().enumerate() {
            let block = old[k - 1];
            let next = kept.get(j + 1).map_or(0, |&n| old[n - 1]);
            let old_next = old.get(k).copied().unwrap_or(0);
            let mut runs = std::mem::take(&mut leaves[k]);
            for r in &mut runs {
                r.leaf = j + 1;
            }
            if runs.len() != counts[k] || next != old_next {
                out.writes.push(LeafWrite {
                    block,
                    runs: runs.clone(),
                    next,
                });
            }
            self.overflow.push(block);
            self.runs.extend(runs);
        }
        let gone = out.runs.iter().map(|r| u64::from(r.len)).sum::<u64>() + out.freed.len() as u64;
        d.blocks = d.blocks.get().saturating_sub(gone).into();
        out
    }
}

/// Writes overflow block `w.block` anew: its header, its extents, zeroes
/// in the unused slots, and its checksum.
pub fn write_leaf(img: &Image, w: &LeafWrite) -> Result<()> {
    let mut b = vec![0u8; BLOCK_SIZE];
    ExtentBlockHeader {
        magic: EXTENT_BLOCK_MAGIC.into(),
        count: (w.runs.len() as u16).into(),
        pad0: 0.into(),
        next: w.next.into(),
    }
    .encode(&mut b);
    for (i, r) in w.runs.iter().enumerate() {
        r.disk()
            .encode(&mut b[ExtentBlockHeader::SIZE + i * Extent::SIZE..]);
    }
    csum_set(&mut b, crc);
    img.write(w.block, &b)
}

fn push(map: &mut Map, geo: &Geometry, e: &Extent) -> Result<(), String> {
    let r = Run {
        logical: e.logical.get(),
        len: e.blocks(),
        start: e.start.get(),
        unwritten: e.is_unwritten(),
        leaf: map.overflow.len(),
    };
    let prev_end = map
        .runs
        .last()
        .map_or(0, |p| u64::from(p.logical) + u64::from(p.len));
    if r.len == 0 {
        return Err("empty extent".into());
    }
    // Checked sums: a hostile extent may wrap either end around.
    let end = r.start.checked_add(u64::from(r.len));
    if r.start < geo.data_start || end.is_none_or(|end| end > geo.blocks_count) {
        return Err(format!(
            "extent {}+{} at block {} is outside the data area",
            r.logical, r.len, r.start
        ));
    }
    if u64::from(r.logical) + u64::from(r.len) > u64::from(u32::MAX) + 1 {
        return Err(format!(
            "extent {}+{} runs past the largest file block",
            r.logical, r.len
        ));
    }
    if u64::from(r.logical) < prev_end {
        return Err(format!(
            "extent at file block {} overlaps or is out of order",
            r.logical
        ));
    }
    map.runs.push(r);
    Ok(())
}

/// Reads and checks the block map of an inode.
pub fn load(img: &Image, geo: &Geometry, d: &Inode) -> Result<Result<Map, String>> {
    let mut map = Map::default();
    let count = usize::from(d.extent_count.get());
    if count > INODE_EXTENTS {
        return Ok(Err(format!("extent count {count} is too large")));
    }
    for e in &d.extents[..count] {
        if let Err(m) = push(&mut map, geo, e) {
            return Ok(Err(m));
        }
    }
    let mut next = d.extent_block.get();
    while next != 0 {
        if next < geo.data_start || next >= geo.blocks_count {
            return Ok(Err(format!("extent block {next} is outside the data area")));
        }
        if map.overflow.contains(&next) {
            return Ok(Err(format!("extent block chain loops at block {next}")));
        }
        let b = img.read(next)?;
        let h = ExtentBlockHeader::decode(&b);
        let n = usize::from(h.count.get());
        if !csum_ok(&b, crc) {
            return Ok(Err(format!("extent block {next}: checksum mismatch")));
        }
        // The kernel never writes an empty overflow block (it frees one
        // that a truncate empties) and refuses to load one.
        if h.magic.get() != EXTENT_BLOCK_MAGIC || n == 0 || n > EXTENT_BLOCK_EXTENTS {
            return Ok(Err(format!("extent block {next}: bad header")));
        }
        map.overflow.push(next);
        for i in 0..n {
            let e = Extent::decode(&b[ExtentBlockHeader::SIZE + i * Extent::SIZE..]);
            if let Err(m) = push(&mut map, geo, &e) {
                return Ok(Err(m));
            }
        }
        next = h.next.get();
    }
    // No disk block twice in one map: two extents of the file, or an
    // extent and an overflow block. Freeing the file would free the block
    // twice. (Blocks two inodes claim are settled by the caller.)
    let mut spans: Vec<(u64, u64)> = map
        .runs
        .iter()
        .map(|r| (r.start, r.start + u64::from(r.len)))
        .chain(map.overflow.iter().map(|&b| (b, b + 1)))
        .collect();
    spans.sort_unstable();
    if let Some(w) = spans.windows(2).find(|w| w[1].0 < w[0].1) {
        return Ok(Err(format!("block {} is mapped twice", w[1].0)));
    }
    Ok(Ok(map))
}
