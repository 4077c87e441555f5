// SPDX-License-Identifier: GPL-2.0

//! The superblock: is this rsfs, is it a version this fsck knows, and is
//! its layout sound; and what to write back when it is not.
//!
//! rsfs keeps no backup superblock, but the layout is redundant: it is
//! fully determined by the block and inode counts, the inode count by the
//! inode table's size, and the block count (for a filesystem made by
//! mkfs.rsfs) by the device. A damaged count, layout field, checksum, root
//! inode number, orphan head or state is rebuilt from the rest, and the
//! result is accepted only if the root directory is where it says.

use anyhow::Result;
use rsfs_format::{
    csum_ok, default_journal_blocks, Geometry, Inode, Superblock, FEATURE_INCOMPAT_KNOWN,
    INODES_PER_BLOCK, INODE_SIZE, MAGIC, ROOT_INO, STATE_CLEAN, STATE_DIRTY, SUPERBLOCK_BLOCK,
    VERSION,
};

use crate::image::{crc, Image};

/// What the superblock says, once read.
pub enum Read {
    /// Sound; `problems` lists what was wrong but rebuilt.
    Sound {
        /// The superblock as it should be.
        sb: Box<Superblock>,
        /// Its layout.
        geo: Geometry,
        /// What was wrong with it.
        problems: Vec<String>,
        /// Whether `sb` differs from what is on disk.
        changed: bool,
    },
    /// Not an rsfs filesystem this fsck can check (wrong magic, a newer
    /// version or unknown incompatible features, another block size), or
    /// damaged beyond rebuilding. The message says which.
    Refused(String),
}

/// The root directory's inode in a layout, if it is a sound directory:
/// the check that a rebuilt layout is the right one.
fn root_is_sound(img: &Image, geo: &Geometry) -> bool {
    let (block, off) = geo.inode_location(ROOT_INO);
    let Ok(b) = img.read(block) else {
        return false;
    };
    let raw = &b[off..off + INODE_SIZE];
    let d = Inode::decode(raw);
    csum_ok(raw, crc) && d.mode.get() & 0o170000 == 0o040000 && d.links.get() >= 2
}

/// Reads and checks the superblock, rebuilding what can be rebuilt.
pub fn read(img: &Image) -> Result<Read> {
    let block = img.read(SUPERBLOCK_BLOCK)?;
    let stored = Superblock::decode(&block);
    if stored.magic.get() != MAGIC {
        return Ok(Read::Refused(
            "superblock: bad magic (not an rsfs filesystem)".into(),
        ));
    }
    let mut problems = Vec::new();
    let mut sb = stored;
    let sound = csum_ok(&block[..Superblock::SIZE], crc);
    if !sound {
        problems.push("superblock: checksum mismatch".to_string());
    }
    // Incompatible features this fsck knows (unwritten extents) are
    // checked where they matter; any other is refused.
    let incompat = stored.feature_incompat.get();
    let known = incompat & FEATURE_INCOMPAT_KNOWN;
    let unknown = stored.version.get() != VERSION
        || incompat != known
        || stored.block_size.get() as usize != rsfs_format::BLOCK_SIZE;
    if unknown && sound {
        // A superblock with a good checksum that this fsck does not
        // understand is a newer filesystem, or another block size: it is
        // refused, never rewritten as an older one.
        return Ok(Read::Refused(format!(
            "superblock: version {}, incompatible features {:#x}, block size {}: not supported",
            stored.version.get(),
            stored.feature_incompat.get(),
            stored.block_size.get()
        )));
    }
    if unknown {
        // The same fields under a bad checksum: damage. The known
        // features stay: dropping unwritten extents would take their
        // blocks out of the files that have them.
        problems.push(format!(
            "superblock: version {}, incompatible features {incompat:#x}, block size {} under a bad checksum; set to {VERSION}, {known:#x}, {}",
            stored.version.get(),
            stored.block_size.get(),
            rsfs_format::BLOCK_SIZE
        ));
        sb.version = VERSION.into();
        sb.feature_incompat = known.into();
        sb.block_size = (rsfs_format::BLOCK_SIZE as u32).into();
    }
    let geo = match Geometry::from_superblock(&sb, img.device_blocks) {
        Ok(g) => g,
        Err(e) => {
            // The counts that could have made this layout, most trusted
            // first: as stored; the inode count the inode table implies,
            // or else mkfs's default (`None`); the whole device.
            let ic_table = (stored.inode_table_blocks.get())
                .saturating_mul(INODES_PER_BLOCK)
                .saturating_sub(1);
            let bcs = [stored.blocks_count.get(), img.device_blocks];
            let ics = [Some(stored.inodes_count.get()), Some(ic_table), None];
            let jbs = |bc| [stored.journal_blocks.get(), default_journal_blocks(bc)];
            let found = bcs
                .iter()
                .flat_map(|&bc| ics.iter().map(move |&ic| (bc, ic)))
                .flat_map(|(bc, ic)| jbs(bc).map(|jb| (bc, ic, jb)))
                .filter(|&(bc, _, _)| bc <= img.device_blocks)
                .filter_map(|(bc, ic, jb)| Geometry::new(bc, ic, Some(jb)).ok())
                .find(|g| root_is_sound(img, g));
            let Some(g) = found else {
                return Ok(Read::Refused(format!(
                    "superblock: {} and no layout with a sound root directory fits it",
                    e.as_str()
                )));
            };
            problems.push(format!(
                "superblock: {}; rebuilt as {} blocks, {} inodes and a journal of {} blocks",
                e.as_str(),
                g.blocks_count,
                g.inodes_count,
                g.journal_blocks
            ));
            g
        }
    };
    sb.blocks_count = geo.blocks_count.into();
    sb.inodes_count = geo.inodes_count.into();
    sb.block_bitmap_start = geo.block_bitmap_start.into();
    sb.block_bitmap_blocks = geo.block_bitmap_blocks.into();
    sb.inode_bitmap_start = geo.inode_bitmap_start.into();
    sb.inode_bitmap_blocks = geo.inode_bitmap_blocks.into();
    sb.inode_table_start = geo.inode_table_start.into();
    sb.inode_table_blocks = geo.inode_table_blocks.into();
    sb.data_start = geo.data_start.into();
    sb.journal_blocks = geo.journal_blocks.into();
    if stored.root_ino.get() != ROOT_INO {
        problems.push(format!(
            "superblock: root inode is {}, not {ROOT_INO}",
            stored.root_ino.get()
        ));
        sb.root_ino = ROOT_INO.into();
    }
    // The orphan list's head is checked with the inodes it names.
    let state = stored.state.get();
    if state != STATE_CLEAN && state != STATE_DIRTY {
        problems.push(format!("superblock: unknown state {state}"));
        sb.state = STATE_DIRTY.into();
    }
    let changed = !problems.is_empty();
    Ok(Read::Sound {
        sb: Box::new(sb),
        geo,
        problems,
        changed,
    })
}

/// Writes the superblock `sb` with new free counters (and, if `clean`, the
/// clean state: a repaired filesystem is clean).
pub fn write(
    img: &Image,
    sb: &Superblock,
    free_blocks: u64,
    free_inodes: u64,
    clean: bool,
) -> Result<()> {
    let mut block = img.read(SUPERBLOCK_BLOCK)?;
    let mut sb = *sb;
    sb.free_blocks = free_blocks.into();
    sb.free_inodes = free_inodes.into();
    if clean {
        sb.state = STATE_CLEAN.into();
    }
    sb.encode(&mut block);
    rsfs_format::csum_set(&mut block[..Superblock::SIZE], crc);
    img.write(SUPERBLOCK_BLOCK, &block)
}
