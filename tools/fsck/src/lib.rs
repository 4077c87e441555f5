// SPDX-License-Identifier: GPL-2.0

//! `fsck.rsfs`: check, and optionally repair, an rsfs filesystem.
//!
//! The check reads the superblock, both bitmaps, the whole inode table,
//! every block map and every directory reachable from the root, and then
//! compares what it found with what the bitmaps, link counts and counters
//! say. One module per on-disk structure: [`superblock`], [`bitmap`],
//! [`inode`], [`extent`], [`dir`].
//!
//! Repairs (`-y`) cover what can be fixed without guessing: leaked blocks
//! and inodes (including the inodes of files that were unlinked while open
//! when the system went down), bitmap bits and checksums, link counts, and
//! the superblock's free counters. Everything else is reported and left.

use std::collections::VecDeque;
use std::path::Path;

use anyhow::Result;
use rsfs_format::{INODE_FLAG_INLINE, ROOT_INO};

pub mod bitmap;
pub mod dir;
pub mod extent;
pub mod image;
pub mod inode;
pub mod superblock;

use extent::Map;
use image::Image;
use inode::{dirent_type, file_type, is_special, S_IFDIR, S_IFLNK};

/// What kind of problem: harmless space leaks, or damage.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// What a crash can leave behind without a journal, and `-y` repairs
    /// without losing anything that was made durable: leaked blocks or
    /// inodes, stale free counters, a name whose inode never reached the
    /// disk.
    Leak,
    /// Anything else: the filesystem is damaged.
    Corruption,
}

/// One problem found.
#[derive(Debug)]
pub struct Problem {
    /// What is wrong.
    pub message: String,
    /// Leak or corruption.
    pub kind: Kind,
    /// Whether this run repaired it.
    pub fixed: bool,
}

/// The outcome of a check.
#[derive(Debug, Default)]
pub struct Report {
    /// Every problem, in the order found.
    pub problems: Vec<Problem>,
    /// Inodes in use and blocks in use, for the summary line.
    pub inodes_used: u64,
    /// Total inodes.
    pub inodes_count: u64,
    /// Blocks in use.
    pub blocks_used: u64,
    /// Total blocks.
    pub blocks_count: u64,
}

impl Report {
    /// e2fsck's exit code: 0 clean, 1 errors fixed, 4 errors left.
    pub fn exit_code(&self) -> i32 {
        if self.problems.iter().any(|p| !p.fixed) {
            4
        } else if self.problems.is_empty() {
            0
        } else {
            1
        }
    }

    /// Whether every problem left is a leak (what a crash may leave).
    pub fn only_leaks(&self) -> bool {
        self.problems
            .iter()
            .all(|p| p.fixed || p.kind == Kind::Leak)
    }
}

/// Check only, or check and repair.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// `-n`: open read-only, change nothing.
    Check,
    /// `-y`: repair what can be repaired.
    Repair,
}

struct Checker {
    mode: Mode,
    report: Report,
    /// Damage found so far that -y cannot repair.
    unfixable: usize,
}

impl Checker {
    fn problem(&mut self, kind: Kind, fixable: bool, message: String) {
        let fixed = fixable && self.mode == Mode::Repair;
        if kind == Kind::Corruption && !fixable {
            self.unfixable += 1;
        }
        self.report.problems.push(Problem {
            message,
            kind,
            fixed,
        });
    }
}

/// What the check learned about one inode.
#[derive(Default)]
struct Node {
    /// Marked in use in the inode bitmap.
    allocated: bool,
    /// In use and readable: checksum, type and block map are sound.
    valid: bool,
    map: Map,
    /// Entries naming it, not counting "." and "..".
    refs: u32,
    /// Subdirectories (for a directory's link count).
    subdirs: u32,
    /// The directory it was found in (directories only).
    parent: Option<u64>,
    reachable: bool,
}

/// Checks the filesystem on `path`.
pub fn check(path: &Path, mode: Mode) -> Result<Report> {
    let img = Image::open(path, mode == Mode::Repair)?;
    let (sb, geo) = match superblock::read(&img)? {
        Ok(x) => x,
        Err(message) => {
            return Ok(Report {
                problems: vec![Problem {
                    message,
                    kind: Kind::Corruption,
                    fixed: false,
                }],
                ..Default::default()
            })
        }
    };
    let mut c = Checker {
        mode,
        report: Report {
            inodes_count: geo.inodes_count,
            blocks_count: geo.blocks_count,
            ..Default::default()
        },
        unfixable: 0,
    };
    let n = geo.inodes_count as usize;

    // Bitmaps.
    let bbm = bitmap::read(&img, geo.block_bitmap_start, geo.block_bitmap_blocks)?;
    let ibm = bitmap::read(&img, geo.inode_bitmap_start, geo.inode_bitmap_blocks)?;
    for i in &bbm.bad_csum {
        c.problem(
            Kind::Corruption,
            true,
            format!("block bitmap block {i}: checksum mismatch"),
        );
    }
    for i in &ibm.bad_csum {
        c.problem(
            Kind::Corruption,
            true,
            format!("inode bitmap block {i}: checksum mismatch"),
        );
    }

    // Inodes and their block maps; who owns each block.
    let slots = inode::read_all(&img, &geo)?;
    let mut nodes: Vec<Node> = (0..=n).map(|_| Node::default()).collect();
    let mut owner: Vec<u64> = vec![0; geo.blocks_count as usize];
    // Inodes to release with -y: orphans, and numbers allocated in the
    // bitmap whose inode was never written (a crash between the two).
    let mut orphans = Vec::new();
    for ino in 1..=n {
        let s = &slots[ino];
        let d = &s.disk;
        nodes[ino].allocated = ibm.bits[ino];
        if !nodes[ino].allocated {
            if s.zero || !s.csum_ok || d.links.get() == 0 {
                continue;
            }
            // A sound inode with links whose bitmap write was lost: it is
            // taken as in use. If no directory names it, it is released
            // below like any unreachable inode.
            c.problem(
                Kind::Corruption,
                true,
                format!("inode {ino}: has links but is free in the inode bitmap; marked in use"),
            );
            nodes[ino].allocated = true;
        }
        if s.zero {
            c.problem(
                Kind::Leak,
                true,
                format!("inode {ino}: allocated but blank (a creation or a release cut short)"),
            );
            orphans.push(ino);
            continue;
        }
        if !s.csum_ok {
            c.problem(
                Kind::Corruption,
                false,
                format!("inode {ino}: checksum mismatch"),
            );
            continue;
        }
        let ft = file_type(d.mode.get());
        if dirent_type(ft).is_none() {
            c.problem(
                Kind::Corruption,
                false,
                format!("inode {ino}: unknown file type {:o}", ft >> 12),
            );
            continue;
        }
        if is_special(ft)
            && (d.size.get() != 0 || d.extent_count.get() != 0 || d.extent_block.get() != 0)
        {
            c.problem(
                Kind::Corruption,
                false,
                format!("inode {ino}: special file with a size or blocks"),
            );
            continue;
        }
        let inline = ft == S_IFLNK && d.flags.get() & INODE_FLAG_INLINE != 0;
        let map = if inline {
            Map::default()
        } else {
            match extent::load(&img, &geo, d)? {
                Ok(m) => m,
                Err(m) => {
                    c.problem(Kind::Corruption, false, format!("inode {ino}: {m}"));
                    continue;
                }
            }
        };
        let size = d.size.get();
        let bad_size = match ft {
            S_IFDIR => {
                let nb = size / rsfs_format::BLOCK_SIZE as u64;
                size % rsfs_format::BLOCK_SIZE as u64 != 0
                    || size == 0
                    || (0..nb as u32).any(|b| map.lookup(b).is_none())
                    || map.runs.iter().map(|r| u64::from(r.len)).sum::<u64>() != nb
            }
            S_IFLNK => {
                size == 0
                    || size >= rsfs_format::BLOCK_SIZE as u64
                    || (!inline && map.lookup(0).is_none())
            }
            _ => size > rsfs_format::MAX_FILE_SIZE,
        };
        if bad_size {
            c.problem(
                Kind::Corruption,
                false,
                format!("inode {ino}: size {size} does not match its block map"),
            );
            continue;
        }
        if d.blocks.get() != map.blocks() {
            c.problem(
                Kind::Corruption,
                false,
                format!(
                    "inode {ino}: says it has {} blocks, its map has {}",
                    d.blocks.get(),
                    map.blocks()
                ),
            );
        }
        let mut twice = None;
        for b in map.all_blocks() {
            let o = &mut owner[b as usize];
            if *o != 0 {
                twice = Some((b, *o));
            }
            *o = ino as u64;
        }
        if let Some((b, other)) = twice {
            c.problem(
                Kind::Corruption,
                false,
                format!("block {b} is owned by both inode {other} and inode {ino}"),
            );
        }
        nodes[ino].valid = true;
        nodes[ino].map = map;
    }

    // The directory tree, from the root.
    let mut dangling = Vec::new();
    let root = ROOT_INO as usize;
    if !nodes[root].valid || file_type(slots[root].disk.mode.get()) != S_IFDIR {
        c.problem(
            Kind::Corruption,
            false,
            "the root inode is not a valid directory".into(),
        );
    } else {
        nodes[root].reachable = true;
        nodes[root].parent = Some(ROOT_INO);
        let mut queue = VecDeque::from([root]);
        while let Some(d) = queue.pop_front() {
            let entries = match dir::read(&img, &nodes[d].map, slots[d].disk.size.get())? {
                Ok(e) => e,
                Err(m) => {
                    c.problem(Kind::Corruption, false, format!("directory {d}: {m}"));
                    continue;
                }
            };
            let dot = entries.first().map(|e| (e.name.as_slice(), e.ino));
            let dotdot = entries.get(1).map(|e| (e.name.as_slice(), e.ino));
            if dot != Some((b".", d as u64)) {
                c.problem(
                    Kind::Corruption,
                    false,
                    format!("directory {d}: first entry is not \".\""),
                );
            }
            if dotdot != Some((b"..", nodes[d].parent.unwrap_or(0))) {
                c.problem(
                    Kind::Corruption,
                    false,
                    format!("directory {d}: \"..\" is not its parent"),
                );
            }
            for e in entries.iter().skip(2) {
                let name = String::from_utf8_lossy(&e.name);
                let t = e.ino as usize;
                if e.name == b"." || e.name == b".." {
                    c.problem(
                        Kind::Corruption,
                        false,
                        format!("directory {d}: extra \"{name}\" entry"),
                    );
                    continue;
                }
                if t != 0 && t <= n && slots[t].zero {
                    // The inode was never written, or already released: a
                    // creation or a deletion that a crash cut short.
                    c.problem(
                        Kind::Leak,
                        true,
                        format!("directory {d}: \"{name}\" names inode {t}, which is not on disk (an operation cut short); entry removed"),
                    );
                    dangling.push((e.phys, e.off));
                    continue;
                }
                if t == 0 || t > n || !nodes[t].allocated {
                    c.problem(
                        Kind::Corruption,
                        false,
                        format!("directory {d}: \"{name}\" names unused inode {t}"),
                    );
                    continue;
                }
                if !nodes[t].valid {
                    // Already reported.
                    continue;
                }
                let ft = file_type(slots[t].disk.mode.get());
                if Some(e.file_type) != dirent_type(ft) {
                    c.problem(
                        Kind::Corruption,
                        false,
                        format!("directory {d}: \"{name}\" has the wrong file type"),
                    );
                }
                nodes[t].refs += 1;
                nodes[t].reachable = true;
                if ft == S_IFDIR {
                    if nodes[t].parent.is_some() {
                        c.problem(
                            Kind::Corruption,
                            false,
                            format!("directory {t} is linked more than once (\"{name}\" in {d}): a loop or a hard-linked directory"),
                        );
                        continue;
                    }
                    nodes[t].parent = Some(d as u64);
                    nodes[d].subdirs += 1;
                    queue.push_back(t);
                }
            }
        }
    }

    // Link counts, and inodes nothing reaches. When nothing else is wrong,
    // the tree was read whole, so an unreachable inode is one whose name
    // never reached the disk (its directory block's write was lost): it is
    // released, as an orphan is. With other damage it may be the child of
    // a directory that could not be read, and is left alone.
    let tree_whole = c.unfixable == 0;
    let mut fix_links = Vec::new();
    for ino in 1..=n {
        if !nodes[ino].valid {
            continue;
        }
        let d = &slots[ino].disk;
        let links = u32::from(d.links.get());
        if !nodes[ino].reachable {
            if links == 0 {
                c.problem(
                    Kind::Leak,
                    true,
                    format!("inode {ino}: deleted but not released (an orphan)"),
                );
                orphans.push(ino);
            } else if tree_whole {
                c.problem(
                    Kind::Corruption,
                    true,
                    format!("inode {ino}: in use but no directory names it (its name never reached the disk); released"),
                );
                orphans.push(ino);
            } else {
                c.problem(
                    Kind::Corruption,
                    false,
                    format!("inode {ino}: in use but not reachable from the root"),
                );
            }
            continue;
        }
        let want = if file_type(d.mode.get()) == S_IFDIR {
            2 + nodes[ino].subdirs
        } else {
            nodes[ino].refs
        };
        if links != want {
            c.problem(
                Kind::Corruption,
                true,
                format!("inode {ino}: link count is {links}, should be {want}"),
            );
            fix_links.push((ino, want));
        }
    }

    // The bitmaps as they should be.
    let released = |ino: usize| orphans.contains(&ino) && c.mode == Mode::Repair;
    let mut want_b = vec![true; bbm.bits.len()];
    for b in geo.data_start..geo.blocks_count {
        let o = owner[b as usize] as usize;
        want_b[b as usize] = o != 0 && !released(o);
    }
    let mut want_i = vec![true; ibm.bits.len()];
    for (ino, w) in want_i.iter_mut().enumerate().take(n + 1).skip(1) {
        *w = nodes[ino].allocated && !released(ino);
    }
    let leaked = (geo.data_start..geo.blocks_count)
        .filter(|&b| bbm.bits[b as usize] && owner[b as usize] == 0)
        .count();
    let missing = (0..geo.blocks_count as usize)
        .filter(|&b| want_b[b] && !bbm.bits[b])
        .count();
    if leaked > 0 {
        c.problem(
            Kind::Leak,
            true,
            format!("{leaked} blocks are marked in use but belong to no file"),
        );
    }
    if missing > 0 {
        c.problem(
            Kind::Corruption,
            true,
            format!("{missing} blocks in use are marked free"),
        );
    }
    let bad_padding = (0..want_b.len()).any(|b| b as u64 >= geo.blocks_count && !bbm.bits[b])
        || (0..geo.data_start as usize).any(|b| !bbm.bits[b])
        || !ibm.bits[0]
        || (n + 1..ibm.bits.len()).any(|i| !ibm.bits[i]);
    if bad_padding {
        c.problem(
            Kind::Corruption,
            true,
            "bitmap bits for metadata or past the end are clear".into(),
        );
    }

    // Counters.
    let free_b = (geo.data_start..geo.blocks_count)
        .filter(|&b| !want_b[b as usize])
        .count() as u64;
    let free_i = (1..=n).filter(|&i| !want_i[i]).count() as u64;
    if sb.free_blocks.get() != free_b || sb.free_inodes.get() != free_i {
        c.problem(
            Kind::Leak,
            true,
            format!(
                "superblock counts {} free blocks and {} free inodes; there are {free_b} and {free_i}",
                sb.free_blocks.get(),
                sb.free_inodes.get()
            ),
        );
    }
    c.report.blocks_used = geo.blocks_count - free_b;
    c.report.inodes_used = geo.inodes_count - free_i;

    // Repairs.
    if mode == Mode::Repair && c.report.problems.iter().any(|p| p.fixed) {
        for &ino in &orphans {
            inode::write(&img, &geo, ino as u64, None)?;
        }
        for &(phys, off) in &dangling {
            dir::clear_entry(&img, phys, off)?;
        }
        for &(ino, links) in &fix_links {
            let mut d = slots[ino].disk;
            d.links = (links as u16).into();
            inode::write(&img, &geo, ino as u64, Some(&d))?;
        }
        bitmap::write(
            &img,
            geo.block_bitmap_start,
            geo.block_bitmap_blocks,
            &want_b,
        )?;
        bitmap::write(
            &img,
            geo.inode_bitmap_start,
            geo.inode_bitmap_blocks,
            &want_i,
        )?;
        superblock::write_counters(&img, free_b, free_i)?;
        img.sync()?;
    }
    Ok(c.report)
}
