// SPDX-License-Identifier: GPL-2.0

//! Block maps: the extents of an inode and its overflow extent blocks.

use anyhow::Result;
use rsfs_format::{
    csum_ok, Extent, ExtentBlockHeader, Geometry, Inode, EXTENT_BLOCK_EXTENTS, EXTENT_BLOCK_MAGIC,
    INODE_EXTENTS,
};

use crate::image::{crc, Image};

/// One extent, in native byte order: file block, length, disk block.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// First file block.
    pub logical: u32,
    /// Blocks.
    pub len: u32,
    /// First disk block.
    pub start: u64,
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
}

fn push(map: &mut Map, geo: &Geometry, e: &Extent) -> Result<(), String> {
    let r = Run {
        logical: e.logical.get(),
        len: e.len.get(),
        start: e.start.get(),
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
