// SPDX-License-Identifier: GPL-2.0

//! `fsck.rsfs`: check, and optionally repair, an rsfs filesystem.
//!
//! The check reads the superblock, both bitmaps, the whole inode table,
//! every block map and every directory reachable from the root, and then
//! compares what it found with what the bitmaps, link counts and counters
//! say. One module per on-disk structure: [`superblock`], [`bitmap`],
//! [`inode`], [`extent`], [`xattr`], [`dir`].
//!
//! Repairs (`-y`) leave a filesystem the kernel mounts and fsck finds
//! clean, as e2fsck does, keeping all that can be kept: leaked blocks and
//! inodes are freed (including the inodes of files that were unlinked
//! while open when the system went down); bitmaps, checksums, link counts,
//! counters, inode flags and superblock fields that the rest of the disk
//! determines are rewritten; an inode whose block map, size or type is
//! damaged, or that claims another file's blocks, is cleared; a damaged
//! extended-attribute block is dropped (its attributes with it); an
//! unwritten extent where there may be none (on a filesystem without the
//! unwritten-extents feature, or in a directory or symlink) is taken out
//! of its file and its blocks freed; a directory
//! entry that names nothing, names a cleared inode, repeats a name or links
//! a directory twice is removed; a directory block whose records cannot be
//! read is rebuilt empty; a lost root becomes a new empty root. Inodes
//! with links that no directory reaches (a name or a directory block that
//! never reached the disk, or was rebuilt) are connected to `/lost+found`,
//! which fsck creates when needed, under the name `#<inode>`.
//!
//! A repair runs in passes: each pass checks everything and repairs what
//! it found, and the next pass checks the result, until a pass finds
//! nothing to repair. Then a last read-only pass says what is left.

use std::collections::{HashSet, VecDeque};
use std::path::Path;

use anyhow::Result;
use rsfs_format::{
    Extent, Field, Inode, BLOCK_SIZE, EXTENT_MAX_BLOCKS, FEATURE_INCOMPAT_UNWRITTEN, FT_DIR,
    INLINE_LINK_MAX, INODE_EXTENTS, INODE_FLAGS_USER, INODE_FLAG_DIRSYNC, INODE_FLAG_INLINE,
    MAX_FILE_SIZE, ROOT_INO,
};

pub mod bitmap;
pub mod dir;
pub mod extent;
pub mod image;
pub mod inode;
pub mod journal;
pub mod superblock;
pub mod xattr;

use extent::Map;
use image::Image;
use inode::{dirent_type, file_type, is_special, S_IFDIR, S_IFLNK, S_IFREG};

/// The most repair passes before fsck gives up on reaching a clean state.
const MAX_PASSES: usize = 8;

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
    /// Not checked at all: not rsfs, or a version or feature this fsck does
    /// not know (exit code 8, as e2fsck's for an unsupported filesystem).
    pub refused: bool,
    /// A committed journal transaction, by sequence number and blocks: with
    /// `-y` replayed before the check, with `-n` checked as replayed.
    pub journal: Option<(u64, usize)>,
    /// Inodes on the orphan list (unlinked while open when the power went):
    /// with `-y` released, with `-n` left for the next mount, which
    /// releases them.
    pub orphans: usize,
}

impl Report {
    /// e2fsck's exit code: 0 clean, 1 errors fixed, 4 errors left, 8 not
    /// checked.
    pub fn exit_code(&self) -> i32 {
        if self.refused {
            8
        } else if self.problems.iter().any(|p| !p.fixed) {
            4
        } else if self.problems.is_empty() {
            0
        } else {
            1
        }
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
}

impl Checker {
    /// Records a problem that this pass repairs (with `-y`).
    fn problem(&mut self, kind: Kind, message: String) {
        self.report.problems.push(Problem {
            message,
            kind,
            fixed: self.mode == Mode::Repair,
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
    /// Cleared by this pass: entries naming it go.
    cleared: bool,
}

/// A repair to a directory block.
enum DirFix {
    /// The entry at this offset of this block goes.
    Remove(u64, usize),
    /// The entry at this offset of this block names this inode, of this
    /// type.
    Set(u64, usize, u64, u8),
    /// The block's checksum is rewritten.
    Csum(u64),
    /// The block is rebuilt empty (with `.` and `..` of these inodes, for a
    /// first block).
    Rebuild(u64, Option<(u64, u64)>),
}

/// Checks the filesystem on `path`; with [`Mode::Repair`], repairs it.
pub fn check(path: &Path, mode: Mode) -> Result<Report> {
    let img = Image::open(path, mode == Mode::Repair)?;
    let (journal, damage) = match journal::find(&img)? {
        journal::Found::Empty => (None, None),
        journal::Found::Damaged(m) => (None, Some(m)),
        journal::Found::Committed(t) => {
            let found = Some((t.seq, t.blocks.len()));
            match mode {
                Mode::Repair => journal::replay(&img, &t)?,
                Mode::Check => {
                    for (home, copy) in t.blocks {
                        img.lay_over(home, copy);
                    }
                }
            }
            (found, None)
        }
    };
    let mut report = check_replayed(&img, mode)?;
    report.journal = journal;
    if let Some(message) = damage {
        report.problems.insert(
            0,
            Problem {
                message,
                kind: Kind::Corruption,
                fixed: mode == Mode::Repair,
            },
        );
    }
    if mode == Mode::Repair && !report.refused {
        // Repairs wrote in place: nothing older may be replayed over them.
        journal::clear(&img)?;
    }
    Ok(report)
}

/// [`check`], once the journal has been dealt with.
fn check_replayed(img: &Image, mode: Mode) -> Result<Report> {
    if mode == Mode::Check {
        return pass(img, Mode::Check);
    }
    let mut seen: Vec<Problem> = Vec::new();
    for _ in 0..MAX_PASSES {
        let r = pass(img, Mode::Repair)?;
        if r.refused {
            return Ok(r);
        }
        let progress = r.problems.iter().any(|p| p.fixed);
        for p in r.problems {
            if !seen.iter().any(|q| q.message == p.message) {
                seen.push(p);
            }
        }
        if !progress {
            break;
        }
    }
    img.sync()?;
    // What is left: a problem repaired is one the last look no longer sees.
    let mut last = pass(img, Mode::Check)?;
    for p in &mut seen {
        p.fixed = !last.problems.iter().any(|q| q.message == p.message);
    }
    for q in last.problems.drain(..) {
        if !seen.iter().any(|p| p.message == q.message) {
            seen.push(q);
        }
    }
    last.problems = seen;
    Ok(last)
}

/// The first `true`-free index in `want[from..to]`, now taken.
fn take_free(want: &mut [bool], from: usize, to: usize) -> Option<usize> {
    let i = (from..to.min(want.len())).find(|&i| !want[i])?;
    want[i] = true;
    Some(i)
}

/// The disk blocks of a directory's first `nblocks` blocks, in order.
fn dir_blocks(map: &Map, nblocks: u64) -> Vec<u64> {
    (0..nblocks as u32).filter_map(|b| map.lookup(b)).collect()
}

/// Gives directory `ino` (inode `d`) one more, empty block, taken from
/// `want_b`. Only a directory whose map stays inside the inode can grow
/// here (lost+found and the root are small). Returns the block.
fn grow_dir(
    img: &Image,
    geo: &rsfs_format::Geometry,
    ino: u64,
    d: &mut Inode,
    want_b: &mut [bool],
) -> Result<Option<u64>> {
    if d.extent_block.get() != 0 {
        return Ok(None);
    }
    let count = usize::from(d.extent_count.get());
    let nb = d.size.get() / BLOCK_SIZE as u64;
    let last = count.checked_sub(1).map(|i| d.extents[i]);
    let Some(phys) = take_free(want_b, geo.data_start as usize, geo.blocks_count as usize) else {
        return Ok(None);
    };
    let phys = phys as u64;
    match last {
        Some(e)
            if !e.is_unwritten()
                && e.blocks() < EXTENT_MAX_BLOCKS
                && u64::from(e.logical.get()) + u64::from(e.blocks()) == nb
                && e.start.get() + u64::from(e.blocks()) == phys =>
        {
            d.extents[count - 1].len = Extent::len_field(e.blocks() + 1, false);
        }
        _ if count < INODE_EXTENTS => {
            d.extents[count] = Extent {
                logical: (nb as u32).into(),
                len: Extent::len_field(1, false),
                start: phys.into(),
            };
            d.extent_count = ((count + 1) as u16).into();
        }
        _ => {
            want_b[phys as usize] = false;
            return Ok(None);
        }
    }
    img.write(phys, &dir::build_block(&[]))?;
    d.size = (d.size.get() + BLOCK_SIZE as u64).into();
    d.blocks = (d.blocks.get() + 1).into();
    inode::write(img, geo, ino, Some(d))?;
    Ok(Some(phys))
}

/// Adds `name` → `ino` to directory `dir` (inode `d`, blocks `blocks`),
/// growing it by a block if it is full. Returns whether it fit.
#[allow(clippy::too_many_arguments)]
fn link_into(
    img: &Image,
    geo: &rsfs_format::Geometry,
    dir: u64,
    d: &mut Inode,
    blocks: &mut Vec<u64>,
    name: &[u8],
    ino: u64,
    ft: u8,
    want_b: &mut [bool],
) -> Result<bool> {
    if dir::add_entry(img, blocks, name, ino, ft)? {
        return Ok(true);
    }
    match grow_dir(img, geo, dir, d, want_b)? {
        Some(phys) => {
            blocks.push(phys);
            dir::add_entry(img, &[phys], name, ino, ft)
        }
        None => Ok(false),
    }
}

/// One pass: checks everything, and with [`Mode::Repair`] repairs what it
/// found.
fn pass(img: &Image, mode: Mode) -> Result<Report> {
    let repair = mode == Mode::Repair;
    let (mut sb, geo, sb_problems, sb_changed) = match superblock::read(img)? {
        superblock::Read::Refused(message) => {
            return Ok(Report {
                problems: vec![Problem {
                    message,
                    kind: Kind::Corruption,
                    fixed: false,
                }],
                refused: true,
                ..Default::default()
            })
        }
        superblock::Read::Sound {
            sb,
            geo,
            problems,
            changed,
        } => (sb, geo, problems, changed),
    };
    let mut c = Checker {
        mode,
        report: Report {
            inodes_count: geo.inodes_count,
            blocks_count: geo.blocks_count,
            ..Default::default()
        },
    };
    for m in sb_problems {
        c.problem(Kind::Corruption, m);
    }
    let n = geo.inodes_count as usize;
    let has_unwritten = sb.feature_incompat.get() & FEATURE_INCOMPAT_UNWRITTEN != 0;

    // Bitmaps.
    let bbm = bitmap::read(img, geo.block_bitmap_start, geo.block_bitmap_blocks)?;
    let ibm = bitmap::read(img, geo.inode_bitmap_start, geo.inode_bitmap_blocks)?;
    for i in &bbm.bad_csum {
        c.problem(
            Kind::Corruption,
            format!("block bitmap block {i}: checksum mismatch"),
        );
    }
    for i in &ibm.bad_csum {
        c.problem(
            Kind::Corruption,
            format!("inode bitmap block {i}: checksum mismatch"),
        );
    }

    // Inodes and their block maps; who owns each block.
    let slots = inode::read_all(img, &geo)?;
    let listed = orphan_list(&mut c, sb.orphan_head.get(), &slots);
    let mut nodes: Vec<Node> = (0..=n).map(|_| Node::default()).collect();
    let mut owner: Vec<u64> = vec![0; geo.blocks_count as usize];
    // Inodes to release: orphans, numbers allocated in the bitmap whose
    // inode was never written (a crash between the two), damaged inodes.
    let mut orphans = Vec::new();
    let mut clear = Vec::new();
    // Inodes written back with fields repaired.
    let mut rewrite: Vec<(usize, Inode)> = Vec::new();
    // Overflow extent blocks written back after unwritten extents were
    // taken out of them, by inode.
    let mut leaf_writes: Vec<(usize, extent::LeafWrite)> = Vec::new();
    // Blocks freed by taking extents out of a file (not leaks), by block.
    let mut dropped: Vec<bool> = Vec::new();
    for ino in 1..=n {
        let s = &slots[ino];
        let mut d = s.disk;
        nodes[ino].allocated = ibm.bits[ino];
        if !nodes[ino].allocated {
            if s.zero || !s.csum_ok || d.links.get() == 0 {
                continue;
            }
            // A sound inode with links whose bitmap write was lost: it is
            // taken as in use. If no directory names it, it goes to
            // lost+found below like any unreachable inode.
            c.problem(
                Kind::Corruption,
                format!("inode {ino}: has links but is free in the inode bitmap; marked in use"),
            );
            nodes[ino].allocated = true;
        }
        if s.zero {
            c.problem(
                Kind::Leak,
                format!("inode {ino}: allocated but blank (a creation or a release cut short)"),
            );
            orphans.push(ino);
            continue;
        }
        // What makes the inode unusable (it is cleared), and what can be
        // mended in place.
        let mut fatal: Option<String> = None;
        let mut fixes: Vec<String> = Vec::new();
        let ft = file_type(d.mode.get());
        if dirent_type(ft).is_none() {
            fatal = Some(format!("unknown file type {:o}", ft >> 12));
        }
        let flags = d.flags.get();
        let known = INODE_FLAG_INLINE | INODE_FLAGS_USER;
        if flags & !known != 0 {
            fixes.push(format!("unknown flags {:#x} cleared", flags & !known));
            d.flags = (flags & known).into();
        }
        let user = d.flags.get() & INODE_FLAGS_USER;
        if user != 0 && ft != S_IFREG && ft != S_IFDIR {
            fixes.push(format!(
                "chattr flags {user:#x} on a file that is neither regular nor a directory cleared"
            ));
            d.flags = (d.flags.get() & !INODE_FLAGS_USER).into();
        }
        if d.flags.get() & INODE_FLAG_DIRSYNC != 0 && ft != S_IFDIR {
            fixes.push("DIRSYNC flag on a file that is not a directory cleared".into());
            d.flags = (d.flags.get() & !INODE_FLAG_DIRSYNC).into();
        }
        if d.flags.get() & INODE_FLAG_INLINE != 0 && ft != S_IFLNK {
            fixes.push("INLINE flag on a file that is not a symlink cleared".into());
            d.flags = (d.flags.get() & !INODE_FLAG_INLINE).into();
        }
        if d.orphan_next.get() != 0 && d.links.get() != 0 {
            fixes.push(format!(
                "orphan list link {} on a linked inode cleared",
                d.orphan_next.get()
            ));
            d.orphan_next = 0.into();
        }
        if is_special(ft)
            && (d.size.get() != 0 || d.extent_count.get() != 0 || d.extent_block.get() != 0)
        {
            fixes.push("special file with a size or blocks; they were dropped".into());
            d.size = 0.into();
            d.extent_count = 0.into();
            d.extent_block = 0.into();
            d.extents = Default::default();
        }
        let inline = ft == S_IFLNK && d.flags.get() & INODE_FLAG_INLINE != 0;
        let mut map = Map::default();
        if fatal.is_none() && !inline {
            match extent::load(img, &geo, &d)? {
                Ok(m) => map = m,
                Err(m) => fatal = Some(m),
            }
        }
        // Unwritten extents belong to regular files on a filesystem with
        // the feature. Elsewhere one is damage: it is taken out of the
        // file, as a punched hole. In a regular file the range read as
        // zeroes and, a hole now, still does; a directory or symlink that
        // needs the block is cleared below, as its map no longer fits.
        let mut removed_any = false;
        if fatal.is_none() && (!has_unwritten || ft != S_IFREG) {
            let why = match ft {
                S_IFDIR => "in a directory",
                S_IFLNK => "in a symlink",
                _ => "on a filesystem without the unwritten-extents feature",
            };
            let removed = map.remove(&mut d, |r| r.unwritten);
            for r in &removed.runs {
                c.problem(
                    Kind::Corruption,
                    format!(
                        "inode {ino}: unwritten extent {}+{} at block {} {why}; removed and its blocks freed",
                        r.logical, r.len, r.start
                    ),
                );
                removed_any = true;
            }
            if removed_any {
                if dropped.is_empty() {
                    dropped = vec![false; geo.blocks_count as usize];
                }
                for b in removed.blocks() {
                    dropped[b as usize] = true;
                }
                leaf_writes.extend(removed.writes.into_iter().map(|w| (ino, w)));
            }
        }
        if fatal.is_none() {
            match xattr::load(img, &geo, ino as u64, &d, &map)? {
                Ok(b) => map.xattr = b,
                Err(m) => {
                    fixes.push(format!("{m}; its extended attributes were dropped"));
                    d.xattr_block = 0.into();
                }
            }
        }
        if fatal.is_none() {
            let size = d.size.get();
            let bad_size = match ft {
                S_IFDIR => {
                    let nb = size / BLOCK_SIZE as u64;
                    size % BLOCK_SIZE as u64 != 0
                        || size == 0
                        || nb > u64::from(u32::MAX)
                        || (0..nb as u32).any(|b| map.lookup(b).is_none())
                        || map.runs.iter().map(|r| u64::from(r.len)).sum::<u64>() != nb
                }
                S_IFLNK => {
                    size == 0
                        || size >= BLOCK_SIZE as u64
                        || (inline && size > INLINE_LINK_MAX as u64)
                        || (!inline && map.lookup(0).is_none())
                }
                _ => size > MAX_FILE_SIZE,
            };
            if bad_size {
                fatal = Some(format!("size {size} does not match its type or block map"));
            } else if ft == S_IFLNK && symlink_target(img, &d, &map, inline)?.contains(&0) {
                // The kernel refuses such a target (src/inode.rs, read_link).
                fatal = Some("symlink target holds a NUL byte".into());
            }
        }
        if let Some(m) = fatal {
            let csum = if s.csum_ok {
                ""
            } else {
                " (and a bad checksum)"
            };
            c.problem(Kind::Corruption, format!("inode {ino}: {m}{csum}; cleared"));
            clear.push(ino);
            nodes[ino].cleared = true;
            continue;
        }
        if d.blocks.get() != map.blocks() {
            fixes.push(format!(
                "says it has {} blocks, its map has {}",
                d.blocks.get(),
                map.blocks()
            ));
            d.blocks = map.blocks().into();
        }
        if !s.csum_ok {
            fixes.push("checksum mismatch; recomputed".into());
        }
        for f in &fixes {
            c.problem(Kind::Corruption, format!("inode {ino}: {f}"));
        }
        if !fixes.is_empty() || removed_any {
            rewrite.push((ino, d));
        }
        nodes[ino].valid = true;
        nodes[ino].map = map;
    }
    // Blocks that two inodes claim: the claim of an inode with links wins
    // over an orphan's, then that of the inode changed last (the other is
    // more likely a stale copy, whose blocks were freed and reused); the
    // loser is cleared.
    let mut claimants: Vec<usize> = (1..=n).filter(|&i| nodes[i].valid).collect();
    claimants.sort_by_key(|&i| {
        let d = &slots[i].disk;
        (
            d.links.get() == 0,
            std::cmp::Reverse((d.ctime.get(), d.ctime_nsec.get())),
            i,
        )
    });
    for ino in claimants {
        let taken = nodes[ino]
            .map
            .all_blocks()
            .find(|&b| owner[b as usize] != 0);
        if let Some(b) = taken {
            c.problem(
                Kind::Corruption,
                format!(
                    "inode {ino}: block {b} is owned by both inode {} and this inode; cleared",
                    owner[b as usize]
                ),
            );
            clear.push(ino);
            nodes[ino].cleared = true;
            nodes[ino].valid = false;
            continue;
        }
        for b in nodes[ino].map.all_blocks() {
            owner[b as usize] = ino as u64;
        }
    }
    rewrite.retain(|(i, _)| !clear.contains(i));
    let disk_of = |ino: usize| -> Inode {
        rewrite
            .iter()
            .find(|(i, _)| *i == ino)
            .map_or(slots[ino].disk, |(_, d)| *d)
    };

    // The directory tree, from the root.
    let mut dangling = Vec::new();
    let mut dir_fixes: Vec<DirFix> = Vec::new();
    let mut tree_whole = true;
    let mut lost_found: Option<usize> = None;
    let mut root_entries: HashSet<Vec<u8>> = HashSet::new();
    let root = ROOT_INO as usize;
    let root_ok = nodes[root].valid && file_type(disk_of(root).mode.get()) == S_IFDIR;
    if !root_ok {
        c.problem(
            Kind::Corruption,
            "the root inode is not a valid directory; a new, empty root is made, and what the old one held goes to lost+found".into(),
        );
        tree_whole = false;
    } else {
        nodes[root].reachable = true;
        nodes[root].parent = Some(ROOT_INO);
        let mut queue = VecDeque::from([root]);
        while let Some(d) = queue.pop_front() {
            let parent = nodes[d].parent.unwrap_or(ROOT_INO);
            let nb = disk_of(d).size.get() / BLOCK_SIZE as u64;
            let blocks = dir_blocks(&nodes[d].map, nb);
            let mut names: HashSet<Vec<u8>> = HashSet::new();
            for (bi, &phys) in blocks.iter().enumerate() {
                let blk = dir::read_block(img, phys)?;
                let dots = (bi == 0).then_some((d as u64, parent));
                let entries = match blk.entries {
                    Ok(e) => e,
                    Err(m) => {
                        c.problem(
                            Kind::Corruption,
                            format!("directory {d}, block {bi}: {m}; rebuilt, and what it named goes to lost+found"),
                        );
                        dir_fixes.push(DirFix::Rebuild(phys, dots));
                        tree_whole = false;
                        continue;
                    }
                };
                if !blk.csum_ok {
                    c.problem(
                        Kind::Corruption,
                        format!("directory {d}, block {bi}: checksum mismatch; recomputed"),
                    );
                    dir_fixes.push(DirFix::Csum(phys));
                }
                let mut rest = &entries[..];
                if bi == 0 {
                    let want = [(&b"."[..], d as u64), (&b".."[..], parent)];
                    let ok_names = entries.len() >= 2
                        && entries[0].off == 0
                        && entries[0].name == want[0].0
                        && entries[1].name == want[1].0;
                    if !ok_names {
                        c.problem(
                            Kind::Corruption,
                            format!("directory {d}: does not start with \".\" and \"..\"; its first block is rebuilt, and what it named goes to lost+found"),
                        );
                        dir_fixes.push(DirFix::Rebuild(phys, dots));
                        tree_whole = false;
                        continue;
                    }
                    for (e, (name, ino)) in entries.iter().zip(want) {
                        if e.ino != ino || e.file_type != FT_DIR {
                            c.problem(
                                Kind::Corruption,
                                format!(
                                    "directory {d}: \"{}\" names inode {}, not {ino}",
                                    String::from_utf8_lossy(name),
                                    e.ino
                                ),
                            );
                            dir_fixes.push(DirFix::Set(e.phys, e.off, ino, FT_DIR));
                        }
                    }
                    rest = &entries[2..];
                }
                for e in rest {
                    let name = String::from_utf8_lossy(&e.name);
                    let t = e.ino as usize;
                    let remove = |c: &mut Checker, why: String, fixes: &mut Vec<DirFix>| {
                        c.problem(
                            Kind::Corruption,
                            format!("directory {d}: \"{name}\" {why}; entry removed"),
                        );
                        fixes.push(DirFix::Remove(e.phys, e.off));
                    };
                    if !e.name_ok() {
                        remove(&mut c, "is not a valid name".into(), &mut dir_fixes);
                        continue;
                    }
                    if e.name == b"." || e.name == b".." {
                        remove(&mut c, "is an extra dot entry".into(), &mut dir_fixes);
                        continue;
                    }
                    if !names.insert(e.name.clone()) {
                        remove(&mut c, "is a duplicate name".into(), &mut dir_fixes);
                        continue;
                    }
                    if t != 0 && t <= n && slots[t].zero && !nodes[t].cleared {
                        // The inode was never written, or already released:
                        // a creation or a deletion that a crash cut short.
                        c.problem(
                            Kind::Leak,
                            format!("directory {d}: \"{name}\" names inode {t}, which is not on disk (an operation cut short); entry removed"),
                        );
                        dangling.push((e.phys, e.off));
                        continue;
                    }
                    if t == 0 || t > n || !nodes[t].allocated {
                        remove(&mut c, format!("names unused inode {t}"), &mut dir_fixes);
                        continue;
                    }
                    if !nodes[t].valid {
                        remove(&mut c, format!("names damaged inode {t}"), &mut dir_fixes);
                        continue;
                    }
                    let ft = file_type(disk_of(t).mode.get());
                    if ft == S_IFDIR && nodes[t].parent.is_some() {
                        remove(
                            &mut c,
                            format!("links directory {t} a second time (a loop or a hard-linked directory)"),
                            &mut dir_fixes,
                        );
                        continue;
                    }
                    let want_ft = dirent_type(ft).unwrap_or(0);
                    if e.file_type != want_ft {
                        c.problem(
                            Kind::Corruption,
                            format!("directory {d}: \"{name}\" has the wrong file type"),
                        );
                        dir_fixes.push(DirFix::Set(e.phys, e.off, e.ino, want_ft));
                    }
                    if d == root {
                        root_entries.insert(e.name.clone());
                        if e.name == b"lost+found" && ft == S_IFDIR {
                            lost_found = Some(t);
                        }
                    }
                    nodes[t].refs += 1;
                    nodes[t].reachable = true;
                    if ft == S_IFDIR {
                        nodes[t].parent = Some(d as u64);
                        nodes[d].subdirs += 1;
                        queue.push_back(t);
                    }
                }
            }
        }
    }

    // Inodes nothing reaches. With no links, an orphan: released. With
    // links, a name or a directory block was lost (after a crash with the
    // tree otherwise whole, a creation cut short): connected to
    // lost+found. Of a disconnected subtree only its top is connected; the
    // next pass finds the rest through it. Files wait until no directory
    // is disconnected, as they may be inside one.
    let mut unreached_dirs = Vec::new();
    let mut unreached_files = Vec::new();
    let mut fix_links = Vec::new();
    for (ino, node) in nodes.iter().enumerate().skip(1) {
        if !node.valid || node.reachable || !root_ok {
            continue;
        }
        if disk_of(ino).links.get() == 0 {
            // One on the orphan list is no problem: the mount releases it.
            if listed.contains(&ino) {
                c.report.orphans += 1;
            } else {
                c.problem(
                    Kind::Leak,
                    format!("inode {ino}: deleted but not released (an orphan)"),
                );
            }
            orphans.push(ino);
        } else if file_type(disk_of(ino).mode.get()) == S_IFDIR {
            unreached_dirs.push(ino);
        } else {
            unreached_files.push(ino);
        }
    }
    let named_by_unreached: HashSet<u64> = unreached_dirs
        .iter()
        .flat_map(|&d| {
            let nb = disk_of(d).size.get() / BLOCK_SIZE as u64;
            dir_blocks(&nodes[d].map, nb)
        })
        .filter_map(|phys| dir::read_block(img, phys).ok())
        .filter_map(|b| b.entries.ok())
        .flatten()
        .filter(|e| e.name != b"." && e.name != b"..")
        .map(|e| e.ino)
        .collect();
    let mut reconnect: Vec<usize> = unreached_dirs
        .iter()
        .copied()
        .filter(|&d| !named_by_unreached.contains(&(d as u64)))
        .collect();
    if reconnect.is_empty() {
        // A disconnected loop of directories: start with one of them.
        reconnect.extend(unreached_dirs.first());
    }
    if unreached_dirs.is_empty() {
        reconnect = unreached_files;
    }
    let kind = if tree_whole {
        Kind::Leak
    } else {
        Kind::Corruption
    };
    for &ino in &reconnect {
        c.problem(
            kind,
            format!(
                "inode {ino}: in use but no directory names it; connected to lost+found as #{ino}"
            ),
        );
    }

    // Link counts of what is reachable.
    for (ino, node) in nodes.iter().enumerate().skip(1) {
        if !node.valid || !node.reachable {
            continue;
        }
        let d = disk_of(ino);
        let links = u32::from(d.links.get());
        let want = if file_type(d.mode.get()) == S_IFDIR {
            2 + node.subdirs
        } else {
            node.refs
        };
        if links != want {
            c.problem(
                Kind::Corruption,
                format!("inode {ino}: link count is {links}, should be {want}"),
            );
            fix_links.push((ino, want));
        }
    }

    // The bitmaps as they should be.
    let released = |ino: usize| repair && (orphans.contains(&ino) || clear.contains(&ino));
    let mut want_b = vec![true; bbm.bits.len()];
    for b in geo.data_start..geo.blocks_count {
        let o = owner[b as usize] as usize;
        want_b[b as usize] = o != 0 && !released(o);
    }
    let mut want_i = vec![true; ibm.bits.len()];
    for (ino, w) in want_i.iter_mut().enumerate().take(n + 1).skip(1) {
        *w = (nodes[ino].allocated || nodes[ino].valid) && !released(ino);
    }
    let leaked = (geo.data_start..geo.blocks_count)
        .filter(|&b| bbm.bits[b as usize] && owner[b as usize] == 0)
        .filter(|&b| !dropped.get(b as usize).copied().unwrap_or(false))
        .count();
    let missing = (0..geo.blocks_count as usize)
        .filter(|&b| want_b[b] && !bbm.bits[b])
        .count();
    if leaked > 0 {
        c.problem(
            Kind::Leak,
            format!("{leaked} blocks are marked in use but belong to no file"),
        );
    }
    if missing > 0 {
        c.problem(
            Kind::Corruption,
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
            "bitmap bits for metadata or past the end are clear".into(),
        );
    }

    // Repairs.
    let any_fix = c.report.problems.iter().any(|p| p.fixed) || sb_changed;
    if repair && any_fix {
        for &ino in orphans.iter().chain(&clear) {
            inode::write(img, &geo, ino as u64, None)?;
        }
        for (ino, d) in &rewrite {
            inode::write(img, &geo, *ino as u64, Some(d))?;
        }
        // Only for inodes kept: a cleared inode's overflow blocks may be
        // another file's now.
        for (ino, w) in &leaf_writes {
            if rewrite.iter().any(|(i, _)| i == ino) {
                extent::write_leaf(img, w)?;
            }
        }
        for &(phys, off) in &dangling {
            dir::clear_entry(img, phys, off)?;
        }
        // Entry changes first: a block rebuilt afterwards replaces them.
        for f in &dir_fixes {
            match *f {
                DirFix::Remove(phys, off) => dir::clear_entry(img, phys, off)?,
                DirFix::Set(phys, off, ino, ft) => dir::set_entry(img, phys, off, ino, ft)?,
                DirFix::Csum(phys) => dir::fix_csum(img, phys)?,
                DirFix::Rebuild(..) => (),
            }
        }
        for f in &dir_fixes {
            if let DirFix::Rebuild(phys, dots) = *f {
                dir::rebuild_block(img, phys, dots)?;
            }
        }
        for &(ino, links) in &fix_links {
            let mut d = disk_of(ino);
            d.links = (links as u16).into();
            inode::write(img, &geo, ino as u64, Some(&d))?;
        }
        if !root_ok {
            make_root(img, &geo, &mut want_b)?;
        } else if !reconnect.is_empty() {
            let (lf, mut lf_d, mut lf_blocks) = match lost_found {
                Some(lf) => {
                    let d = disk_of(lf);
                    let nb = d.size.get() / BLOCK_SIZE as u64;
                    (lf, d, dir_blocks(&nodes[lf].map, nb))
                }
                None => {
                    let mut root_d = disk_of(root);
                    let nb = root_d.size.get() / BLOCK_SIZE as u64;
                    let mut root_blocks = dir_blocks(&nodes[root].map, nb);
                    // (0, ..) when there is no room: the inodes wait.
                    make_lost_found(
                        img,
                        &geo,
                        &mut root_d,
                        &mut root_blocks,
                        &root_entries,
                        &mut want_b,
                        &mut want_i,
                    )?
                    .unwrap_or_default()
                }
            };
            if lf != 0 {
                for &ino in &reconnect {
                    let ft = dirent_type(file_type(disk_of(ino).mode.get())).unwrap_or(0);
                    let name = format!("#{ino}");
                    link_into(
                        img,
                        &geo,
                        lf as u64,
                        &mut lf_d,
                        &mut lf_blocks,
                        name.as_bytes(),
                        ino as u64,
                        ft,
                        &mut want_b,
                    )?;
                }
            }
        }
        bitmap::write(
            img,
            geo.block_bitmap_start,
            geo.block_bitmap_blocks,
            &want_b,
        )?;
        bitmap::write(
            img,
            geo.inode_bitmap_start,
            geo.inode_bitmap_blocks,
            &want_i,
        )?;
    }

    // Counters.
    let free_b = (geo.data_start..geo.blocks_count)
        .filter(|&b| !want_b[b as usize])
        .count() as u64;
    let free_i = (1..=n).filter(|&i| !want_i[i]).count() as u64;
    // Counters matter on a clean filesystem only: a mount recounts them
    // from the bitmaps, and after a power cut they are as old as the last
    // sync that wrote them.
    let clean = sb.state.get() == rsfs_format::STATE_CLEAN;
    if clean && (sb.free_blocks.get() != free_b || sb.free_inodes.get() != free_i) {
        c.problem(
            Kind::Leak,
            format!(
                "superblock counts {} free blocks and {} free inodes; there are {free_b} and {free_i}",
                sb.free_blocks.get(),
                sb.free_inodes.get()
            ),
        );
    }
    c.report.blocks_used = geo.blocks_count - free_b;
    c.report.inodes_used = geo.inodes_count - free_i;
    let listed_any = sb.orphan_head.get() != 0;
    if repair && (any_fix || listed_any || c.report.problems.iter().any(|p| p.fixed)) {
        // Every orphan, listed or not, was released above.
        sb.orphan_head = 0.into();
        superblock::write(img, &sb, free_b, free_i, true)?;
        img.sync()?;
    }
    Ok(c.report)
}

/// The inodes on the orphan list from `head`, as the mount walks it
/// (src/orphan.rs): each link names an inode in use with no links. One
/// with links is damage, passed over (the mount takes it off the list); a
/// link to an inode not in use, or a loop, is damage that ends the list.
fn orphan_list(c: &mut Checker, head: u64, slots: &[inode::Slot]) -> HashSet<usize> {
    let mut listed = HashSet::new();
    let mut seen = HashSet::new();
    let mut ino = head;
    while ino != 0 {
        let Some(s) = usize::try_from(ino).ok().and_then(|i| slots.get(i)) else {
            c.problem(
                Kind::Corruption,
                format!("orphan list: a link to inode {ino}, out of range; the list ends there"),
            );
            break;
        };
        if s.zero || !s.csum_ok || s.disk.mode.get() == 0 {
            c.problem(
                Kind::Corruption,
                format!(
                    "orphan list: a link to inode {ino}, which is not in use; the list ends there"
                ),
            );
            break;
        }
        if !seen.insert(ino) {
            c.problem(
                Kind::Corruption,
                format!("orphan list: a loop at inode {ino}; the list ends there"),
            );
            break;
        }
        if s.disk.links.get() == 0 {
            listed.insert(ino as usize);
        } else {
            c.problem(
                Kind::Corruption,
                format!("orphan list: inode {ino} has links; taken off the list"),
            );
        }
        ino = s.disk.orphan_next.get();
    }
    listed
}

/// Makes a new, empty root directory (inode 1), with a block from `want_b`.
fn make_root(img: &Image, geo: &rsfs_format::Geometry, want_b: &mut [bool]) -> Result<()> {
    let Some(phys) = take_free(want_b, geo.data_start as usize, geo.blocks_count as usize) else {
        return Ok(());
    };
    let phys = phys as u64;
    img.write(
        phys,
        &dir::build_block(&[(b".", ROOT_INO, FT_DIR), (b"..", ROOT_INO, FT_DIR)]),
    )?;
    let mut d = new_dir_inode(phys);
    d.mode = 0o040755.into();
    inode::write(img, geo, ROOT_INO, Some(&d))
}

/// The `d.size` bytes of a symlink's target: in the inode's extent area
/// when `inline`, else at the start of file block 0 (the caller has checked
/// that both fit).
fn symlink_target(img: &Image, d: &Inode, map: &Map, inline: bool) -> Result<Vec<u8>> {
    let len = d.size.get() as usize;
    if inline {
        let mut area = [0u8; INLINE_LINK_MAX];
        Field::write(&d.extents, &mut area);
        return Ok(area[..len].to_vec());
    }
    let block = map.lookup(0).expect("the caller checked block 0");
    Ok(img.read(block)?[..len].to_vec())
}

/// A directory inode of one block, `phys`, with two links.
fn new_dir_inode(phys: u64) -> Inode {
    let mut extents = [Extent::default(); INODE_EXTENTS];
    extents[0] = Extent {
        logical: 0.into(),
        len: Extent::len_field(1, false),
        start: phys.into(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Inode {
        mode: 0o040700.into(),
        links: 2.into(),
        size: (BLOCK_SIZE as u64).into(),
        blocks: 1.into(),
        atime: now.into(),
        mtime: now.into(),
        ctime: now.into(),
        extent_count: 1.into(),
        extents,
        ..Default::default()
    }
}

/// Makes `/lost+found` (mode 0700, as e2fsck's), with an inode from
/// `want_i` and a block from `want_b`, and names it in the root. Returns
/// it, its inode and its blocks; `None` if there is no room.
fn make_lost_found(
    img: &Image,
    geo: &rsfs_format::Geometry,
    root_d: &mut Inode,
    root_blocks: &mut Vec<u64>,
    root_entries: &HashSet<Vec<u8>>,
    want_b: &mut [bool],
    want_i: &mut [bool],
) -> Result<Option<(usize, Inode, Vec<u64>)>> {
    if root_entries.contains(&b"lost+found"[..]) {
        // The name is taken by something that is not a directory.
        return Ok(None);
    }
    let Some(ino) = take_free(want_i, 1, geo.inodes_count as usize + 1) else {
        return Ok(None);
    };
    let Some(phys) = take_free(want_b, geo.data_start as usize, geo.blocks_count as usize) else {
        want_i[ino] = false;
        return Ok(None);
    };
    let phys = phys as u64;
    img.write(
        phys,
        &dir::build_block(&[(b".", ino as u64, FT_DIR), (b"..", ROOT_INO, FT_DIR)]),
    )?;
    let d = new_dir_inode(phys);
    inode::write(img, geo, ino as u64, Some(&d))?;
    if !link_into(
        img,
        geo,
        ROOT_INO,
        root_d,
        root_blocks,
        b"lost+found",
        ino as u64,
        FT_DIR,
        want_b,
    )? {
        return Ok(None);
    }
    // The root's link count counts the new directory's "..".
    root_d.links = (root_d.links.get() + 1).into();
    inode::write(img, geo, ROOT_INO, Some(root_d))?;
    Ok(Some((ino, d, vec![phys])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_free_takes_the_first_free() {
        let mut w = vec![true, false, true, false];
        assert_eq!(take_free(&mut w, 0, 4), Some(1));
        assert_eq!(take_free(&mut w, 0, 4), Some(3));
        assert_eq!(take_free(&mut w, 0, 4), None);
        assert!(w.iter().all(|&b| b));
    }
}
