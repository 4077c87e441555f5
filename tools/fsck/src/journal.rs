// SPDX-License-Identifier: GPL-2.0

//! The journal: a transaction that was committed but perhaps not yet
//! written in place when the system went down.
//!
//! The kernel replays it at mount. fsck does the same before it checks:
//! with `-y` it writes the logged blocks home and empties the journal;
//! with `-n` it changes nothing and checks the filesystem as the replay
//! would leave it (the logged blocks are laid over the disk's).
//!
//! A transaction counts only if all of it is in the journal: every
//! descriptor block with its magic, sequence number and checksum, every
//! logged copy matching its tag's checksum, and the commit block. Anything
//! less is a commit that the power cut interrupted, never acknowledged:
//! it is ignored, as the kernel ignores it.

use anyhow::Result;
use rsfs_format::{
    journal_capacity, journal_csum, journal_desc_blocks, Geometry, JournalCommit, JournalDesc,
    Superblock, JOURNAL_TAGS_PER_DESC, SUPERBLOCK_BLOCK,
};

use crate::image::{crc, Block, Image};

/// A committed transaction found in the journal.
pub struct Committed {
    /// Its sequence number.
    pub seq: u64,
    /// Each logged block: its home and the copy to write there.
    pub blocks: Vec<(u64, Block)>,
}

/// What the journal holds.
pub enum Found {
    /// Nothing to replay.
    Empty,
    /// A committed transaction.
    Committed(Committed),
    /// A committed transaction that logs a block outside the filesystem or
    /// inside the journal: damage. The message says which.
    Damaged(String),
}

/// The layout, if the superblock is sound enough to say where the journal
/// is (a damaged superblock is the superblock check's business).
fn layout(img: &Image) -> Result<Option<Geometry>> {
    let block = img.read(SUPERBLOCK_BLOCK)?;
    let Ok(sb) = Superblock::validate(&block, crc) else {
        return Ok(None);
    };
    Ok(Geometry::from_superblock(&sb, img.device_blocks).ok())
}

/// Reads the transaction in the journal, if one was committed.
pub fn find(img: &Image) -> Result<Found> {
    let Some(geo) = layout(img)? else {
        return Ok(Found::Empty);
    };
    let start = geo.journal_start;
    let first = img.read(start)?;
    let Some(head) = JournalDesc::validate(&first, crc) else {
        return Ok(Found::Empty);
    };
    let seq = head.seq.get();
    let n = u64::from(head.blocks.get());
    if head.index.get() != 0 || n > journal_capacity(geo.journal_blocks) {
        return Ok(Found::Empty);
    }
    let descs = journal_desc_blocks(n);
    let commit = img.read(start + descs + n)?;
    if !JournalCommit::matches(&commit, seq, n, crc) {
        return Ok(Found::Empty);
    }
    let mut blocks = Vec::with_capacity(n as usize);
    for d in 0..descs {
        let desc = if d == 0 {
            first.clone()
        } else {
            img.read(start + d)?
        };
        let Some(h) = JournalDesc::validate(&desc, crc) else {
            return Ok(Found::Empty);
        };
        if h.seq.get() != seq || u64::from(h.index.get()) != d || u64::from(h.blocks.get()) != n {
            return Ok(Found::Empty);
        }
        let tags = (n - d * JOURNAL_TAGS_PER_DESC).min(JOURNAL_TAGS_PER_DESC);
        for i in 0..tags {
            let tag = JournalDesc::tag(&desc, i);
            let copy = img.read(start + descs + blocks.len() as u64)?;
            if journal_csum(&copy) != tag.csum.get() {
                return Ok(Found::Empty);
            }
            let home = tag.home.get();
            let in_journal = (start..start + geo.journal_blocks).contains(&home);
            if home >= geo.blocks_count || in_journal {
                return Ok(Found::Damaged(format!(
                    "journal: transaction {seq} logs block {home}, outside the filesystem or inside the journal"
                )));
            }
            blocks.push((home, copy));
        }
    }
    Ok(Found::Committed(Committed { seq, blocks }))
}

/// Writes the logged blocks home and empties the journal.
pub fn replay(img: &Image, t: &Committed) -> Result<()> {
    for (home, copy) in &t.blocks {
        img.write(*home, copy)?;
    }
    img.sync()?;
    clear(img)
}

/// Empties the journal (its first block no longer holds a descriptor), if
/// it is not empty already: after a repair has written in place, no old
/// transaction may be replayed over it.
pub fn clear(img: &Image) -> Result<()> {
    let Some(geo) = layout(img)? else {
        return Ok(());
    };
    let first = img.read(geo.journal_start)?;
    if first.iter().all(|&b| b == 0) {
        return Ok(());
    }
    let empty = vec![0u8; first.len()];
    img.write(geo.journal_start, &empty)?;
    img.sync()
}
