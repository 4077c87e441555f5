// SPDX-License-Identifier: GPL-2.0

//! The damage: one public function per [`Class`], each picking one of its
//! variants with the PRNG.
//!
//! A variant is a function that either damages the image and describes what
//! it did, or returns `None` without touching anything when the image lacks
//! what it needs (no overflow extent block, no symlink, ...). A class tries
//! its variants in a random order until one applies, so the first choice is
//! uniform and the others are fallbacks.
//!
//! Except for the two raw classes (`bitflip-raw`, `bad-csum`), every change
//! recomputes the checksums of what it touches, so that the damage reaches
//! the kernel's structural checks rather than stopping at a checksum.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use rsfs_format::{
    bitmap_set, bitmap_test, dir_rec_len, Extent, ExtentBlockHeader, Le16, Le32, Le64,
    XattrEntryHeader, XattrHeader, BITS_PER_BITMAP_BLOCK, BLOCK_CSUM_SIZE, BLOCK_SIZE,
    DIR_DATA_SIZE, EXTENT_BLOCK_EXTENTS, EXTENT_BLOCK_MAGIC, EXTENT_MAX_BLOCKS,
    FEATURE_INCOMPAT_KNOWN, FT_DIR, INLINE_LINK_MAX, INODE_EXTENTS, INODE_FLAGS_USER,
    INODE_FLAG_INLINE, MAX_BLOCKS, MAX_FILE_SIZE, MIN_BLOCKS, ROOT_INO, STATE_CLEAN, STATE_DIRTY,
    XATTR_INDEX_SECURITY,
};

use crate::image::{
    block_mut, csum_offset, fix_csum, read_field, write_field, Csum, ExtentAt, ExtentLoc, FileKind,
    Model, Node, Record, RegionKind, SPECIAL_TYPES, S_IFMT,
};
use crate::rng::Rng;
use crate::Class;

/// A variant: damages the image and says how, or `None` if it does not
/// apply to this image (and then it has changed nothing).
pub type Variant = fn(&Model, &mut [u8], &mut Rng) -> Option<String>;

/// The name of the variant applied and what it did.
pub type Done = (&'static str, String);

/// The variants of a class, with their names.
pub fn variants(class: Class) -> &'static [(&'static str, Variant)] {
    match class {
        Class::BitflipRaw => BITFLIP_RAW,
        Class::BitflipCsum => BITFLIP_CSUM,
        Class::BadCsum => BAD_CSUM,
        Class::ExtentRange => EXTENT_RANGE,
        Class::ExtentOverlap => EXTENT_OVERLAP,
        Class::DirLoop => DIR_LOOP,
        Class::DirName => DIR_NAME,
        Class::HugeSize => HUGE_SIZE,
        Class::InodeFields => INODE_FIELDS,
        Class::SuperblockFields => SUPERBLOCK_FIELDS,
        Class::Bitmap => BITMAP,
        Class::Xattr => XATTR,
    }
}

/// Applies damage of class `class`.
pub fn apply(class: Class, m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    match class {
        Class::BitflipRaw => bitflip_raw(m, img, rng),
        Class::BitflipCsum => bitflip_csum(m, img, rng),
        Class::BadCsum => bad_csum(m, img, rng),
        Class::ExtentRange => extent_range(m, img, rng),
        Class::ExtentOverlap => extent_overlap(m, img, rng),
        Class::DirLoop => dir_loop(m, img, rng),
        Class::DirName => dir_name(m, img, rng),
        Class::HugeSize => huge_size(m, img, rng),
        Class::InodeFields => inode_fields(m, img, rng),
        Class::SuperblockFields => superblock_fields(m, img, rng),
        Class::Bitmap => bitmap(m, img, rng),
        Class::Xattr => xattr(m, img, rng),
    }
}

/// Tries the variants in a random order until one applies.
fn run(
    class: Class,
    table: &'static [(&'static str, Variant)],
    m: &Model,
    img: &mut [u8],
    rng: &mut Rng,
) -> Result<Done> {
    for (name, f) in rng.shuffled(table) {
        if let Some(detail) = f(m, img, rng) {
            return Ok((name, detail));
        }
    }
    bail!("{class}: no variant applies to this image")
}

// ---------------------------------------------------------------------------
// Helpers.

/// A random element of `items`, or `None` if it is empty.
fn choose<T: Clone>(rng: &mut Rng, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| rng.pick(items).clone())
}

/// A random value of `candidates` other than `old`.
fn other_than<T: Copy + PartialEq>(rng: &mut Rng, candidates: &[T], old: T) -> Option<T> {
    let c: Vec<T> = candidates.iter().copied().filter(|&v| v != old).collect();
    choose(rng, &c)
}

/// Every inode that has a block map (not an inline symlink) and at least
/// one extent, with each of its extents.
fn all_extents(m: &Model) -> Vec<(&Node, ExtentLoc)> {
    m.nodes
        .iter()
        .flat_map(|n| n.extents.iter().map(move |e| (n, *e)))
        .collect()
}

/// Points extent `e` of `node` at disk block `start`, its length kept.
fn set_start(m: &Model, img: &mut [u8], node: &Node, e: &ExtentLoc, start: u64) {
    set_extent(
        m,
        img,
        node,
        e,
        Extent {
            start: start.into(),
            ..e.disk()
        },
    );
}

/// Rewrites extent `e` of `node` and, if its length changed, the inode's
/// block count to match, so that only the extent itself is wrong.
fn set_extent(m: &Model, img: &mut [u8], node: &Node, e: &ExtentLoc, new: Extent) {
    m.put_extent(img, node.ino, e.at, &new);
    let (old_len, new_len) = (u64::from(e.len), u64::from(new.blocks()));
    if old_len != new_len {
        m.edit_inode(img, node.ino, |d| {
            d.blocks = d
                .blocks
                .get()
                .wrapping_sub(old_len)
                .wrapping_add(new_len)
                .into();
        });
    }
}

/// `inode 5 extent 2 (12+3 at block 700)`, or `(12+3 unwritten at ...)`.
fn extent_name(node: &Node, e: &ExtentLoc) -> String {
    let place = match e.at {
        ExtentAt::Inode(_) => String::new(),
        ExtentAt::Block { block, slot } => format!(", slot {slot} of extent block {block}"),
    };
    let state = if e.unwritten { " unwritten" } else { "" };
    format!(
        "inode {} extent {} ({}+{}{state} at block {}{place})",
        node.ino, e.index, e.logical, e.len, e.start
    )
}

/// Where a new extent can go in the inode itself: the next free slot, if
/// the file has no overflow blocks and a slot is free.
fn free_inode_slot(node: &Node) -> Option<usize> {
    (!node.inline && node.overflow.is_empty() && node.extents.len() < INODE_EXTENTS)
        .then_some(node.extents.len())
}

/// Appends `new` to the extents in the inode (see [`free_inode_slot`]).
fn append_extent(m: &Model, img: &mut [u8], node: &Node, slot: usize, new: Extent) {
    m.put_extent(img, node.ino, ExtentAt::Inode(slot), &new);
    m.edit_inode(img, node.ino, |d| {
        d.extent_count = ((slot + 1) as u16).into();
        d.blocks = d.blocks.get().wrapping_add(new.blocks().into()).into();
    });
}

/// Byte offset of the `next` field of overflow block `b`.
fn next_offset(b: u64) -> usize {
    b as usize * BLOCK_SIZE + 8
}

/// Nodes of one kind.
fn nodes_of(m: &Model, kind: FileKind) -> Vec<&Node> {
    m.nodes.iter().filter(|n| n.kind == kind).collect()
}

/// The records in use, optionally without `.` and `..`.
fn entries(m: &Model, dots: bool) -> Vec<&Record> {
    m.records
        .iter()
        .filter(|r| r.in_use() && (dots || !r.is_dot()))
        .collect()
}

/// `"name" in directory 4 (block 600, offset 32)`.
fn record_name(r: &Record) -> String {
    format!(
        "\"{}\" in directory {} (block {}, offset {})",
        r.display_name(),
        r.dir,
        r.phys,
        r.off
    )
}

/// Rewrites the directory block holding `r` with `f` applied to the
/// record's bytes (from its start to the end of the block), and fixes the
/// block checksum.
fn edit_record(m: &Model, img: &mut [u8], r: &Record, f: impl FnOnce(&mut [u8])) {
    let at = r.offset();
    let end = r.phys as usize * BLOCK_SIZE + DIR_DATA_SIZE;
    f(&mut img[at..end]);
    fix_csum(img, &m.geo, Csum::Block(r.phys));
}

/// A name not yet in directory `dir`.
fn fresh_name(m: &Model, rng: &mut Rng, dir: u64, base: &str) -> Vec<u8> {
    loop {
        let name = format!("{base}{}", rng.below(100_000)).into_bytes();
        if !m.dir_records(dir).any(|r| r.name == name) {
            return name;
        }
    }
}

/// Adds an entry to directory `dir` in a record with room for it, as the
/// kernel would (taking an unused record, or splitting one), or else
/// retargets one of the directory's entries (not `.` or `..`). Returns
/// where, or `None` if the directory has neither room nor an entry.
fn add_entry(
    m: &Model,
    img: &mut [u8],
    rng: &mut Rng,
    dir: u64,
    name: &[u8],
    ino: u64,
    ft: u8,
) -> Option<String> {
    let need = dir_rec_len(name.len());
    let roomy: Vec<&Record> = m
        .dir_records(dir)
        .filter(|r| r.rec_len - r.used() >= need)
        .collect();
    if let Some(r) = choose(rng, &roomy) {
        let used = r.used();
        let off = r.off + used;
        edit_record(m, img, r, |b| {
            if used != 0 {
                write_field(b, 8, Le16::new(used as u16));
            }
            let e = &mut b[used..];
            write_field(e, 0, Le64::new(ino));
            write_field(e, 8, Le16::new((r.rec_len - used) as u16));
            e[10] = name.len() as u8;
            e[11] = ft;
            e[12..12 + name.len()].copy_from_slice(name);
        });
        return Some(format!(
            "new entry \"{}\" in directory {dir} (block {}, offset {off})",
            String::from_utf8_lossy(name),
            r.phys
        ));
    }
    let named: Vec<&Record> = m
        .dir_records(dir)
        .filter(|r| r.in_use() && !r.is_dot() && r.ino != ino)
        .collect();
    let r = choose(rng, &named)?;
    edit_record(m, img, r, |b| {
        write_field(b, 0, Le64::new(ino));
        b[11] = ft;
    });
    Some(format!("entry {} retargeted", record_name(r)))
}

/// Clears bit `bit` of the bitmap starting at block `start` and fixes the
/// block's checksum. Returns whether it was set.
fn clear_bit(m: &Model, img: &mut [u8], start: u64, bit: u64) -> bool {
    let b = start + bit / BITS_PER_BITMAP_BLOCK;
    let blk = block_mut(img, b);
    let was = bitmap_test(blk, bit % BITS_PER_BITMAP_BLOCK);
    bitmap_set(blk, bit % BITS_PER_BITMAP_BLOCK, false);
    fix_csum(img, &m.geo, Csum::Block(b));
    was
}

/// Changes the superblock and recomputes its checksum.
fn edit_sb(img: &mut [u8], f: impl FnOnce(&mut rsfs_format::Superblock)) {
    let mut sb = Model::superblock(img);
    f(&mut sb);
    Model::put_superblock(img, &sb);
}

// ---------------------------------------------------------------------------
// 1, 2. Bit flips in metadata.

/// Flips 1–8 distinct bits in structures of `kind` and, if `fix`, leaves
/// the checksum field alone and recomputes the checksum of every
/// structure touched.
fn flip_bits(
    m: &Model,
    img: &mut [u8],
    rng: &mut Rng,
    kind: RegionKind,
    fix: bool,
) -> Option<String> {
    let regions: Vec<_> = m.regions().into_iter().filter(|r| r.kind == kind).collect();
    if regions.is_empty() {
        return None;
    }
    let want = rng.range(1, 8) as usize;
    let mut flips = BTreeSet::new();
    let mut touched = BTreeSet::new();
    let mut what = Vec::new();
    while flips.len() < want {
        let ri = rng.index(regions.len());
        let r = &regions[ri];
        // Mostly where something lives: a flip in a directory block's
        // slack or an unused extent slot tests little.
        let range = if rng.below(4) != 0 {
            r.live.clone()
        } else if fix {
            r.body.clone()
        } else {
            r.with_csum()
        };
        let byte = rng.range(range.start as u64, range.end as u64 - 1) as usize;
        let bit = rng.below(8) as u8;
        if flips.insert((byte, bit)) {
            touched.insert(ri);
            what.push(format!("{} byte {} bit {bit}", r.what, byte - r.body.start));
        }
    }
    for &(byte, bit) in &flips {
        img[byte] ^= 1 << bit;
    }
    let csums = if fix {
        for &ri in &touched {
            fix_csum(img, &m.geo, regions[ri].csum);
        }
        "checksums recomputed"
    } else {
        "checksums left stale"
    };
    Some(format!(
        "{} bits flipped ({csums}): {}",
        flips.len(),
        what.join(", ")
    ))
}

macro_rules! flip_variants {
    ($table:ident, $fix:expr, $($name:ident => $kind:ident),* $(,)?) => {
        $(
            fn $name(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
                flip_bits(m, img, rng, RegionKind::$kind, $fix)
            }
        )*
        const $table: &[(&str, Variant)] = &[
            $( (RegionKind::$kind.name(), $name), )*
        ];
    };
}

flip_variants!(BITFLIP_RAW, false,
    raw_superblock => Superblock,
    raw_bitmap => Bitmap,
    raw_inode => Inode,
    raw_dir_block => DirBlock,
    raw_extent_block => ExtentBlock,
    raw_symlink_block => SymlinkBlock,
    raw_xattr_block => XattrBlock,
);

flip_variants!(BITFLIP_CSUM, true,
    csum_superblock => Superblock,
    csum_bitmap => Bitmap,
    csum_inode => Inode,
    csum_dir_block => DirBlock,
    csum_extent_block => ExtentBlock,
    csum_symlink_block => SymlinkBlock,
    csum_xattr_block => XattrBlock,
);

/// Class `bitflip-raw`: 1–8 bits flipped in one kind of metadata (the
/// superblock, bitmap blocks, inodes in use, directory blocks, overflow
/// extent blocks, symlink target blocks), checksums left stale.
pub fn bitflip_raw(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::BitflipRaw, BITFLIP_RAW, m, img, rng)
}

/// Class `bitflip-csum`: as `bitflip-raw`, but the checksum fields are not
/// flipped and the checksum of every structure touched is recomputed.
pub fn bitflip_csum(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::BitflipCsum, BITFLIP_CSUM, m, img, rng)
}

// ---------------------------------------------------------------------------
// 3. Bad checksums.

fn corrupt_csum(m: &Model, img: &mut [u8], rng: &mut Rng, kind: RegionKind) -> Option<String> {
    let regions: Vec<_> = m.regions().into_iter().filter(|r| r.kind == kind).collect();
    let r = choose(rng, &regions)?;
    let at = csum_offset(&m.geo, r.csum)?;
    let old: Le32 = read_field(img, at);
    let new = old.get() ^ (rng.range(1, u64::from(u32::MAX)) as u32);
    write_field(img, at, Le32::new(new));
    Some(format!(
        "{}: checksum {:#010x} replaced by {new:#010x}",
        r.what,
        old.get()
    ))
}

fn csum_superblock_field(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    corrupt_csum(m, img, rng, RegionKind::Superblock)
}
fn csum_inode_field(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    corrupt_csum(m, img, rng, RegionKind::Inode)
}
fn csum_dir_field(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    corrupt_csum(m, img, rng, RegionKind::DirBlock)
}
fn csum_bitmap_field(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    corrupt_csum(m, img, rng, RegionKind::Bitmap)
}
fn csum_extent_block_field(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    corrupt_csum(m, img, rng, RegionKind::ExtentBlock)
}
fn csum_xattr_block_field(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    corrupt_csum(m, img, rng, RegionKind::XattrBlock)
}

const BAD_CSUM: &[(&str, Variant)] = &[
    ("superblock", csum_superblock_field),
    ("inode", csum_inode_field),
    ("dir-block", csum_dir_field),
    ("bitmap-block", csum_bitmap_field),
    ("extent-block", csum_extent_block_field),
    ("xattr-block", csum_xattr_block_field),
];

/// Class `bad-csum`: only the checksum field of the superblock, an inode,
/// a directory block, a bitmap block, an overflow extent block or an
/// extended-attribute block changes.
pub fn bad_csum(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::BadCsum, BAD_CSUM, m, img, rng)
}

// ---------------------------------------------------------------------------
// 4. Extents out of range.

/// An extent starts at or past the end of the filesystem.
fn start_beyond_end(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, e) = choose(rng, &all_extents(m))?;
    let bc = m.geo.blocks_count;
    let start = match rng.below(4) {
        0 => bc,
        1 => bc + rng.range(1, 1 << 20),
        2 => 1 << 40,
        _ => rng.range(bc, u64::MAX - u64::from(e.len)),
    };
    set_start(m, img, n, &e, start);
    Some(format!(
        "{} now starts at block {start} (beyond {bc} blocks)",
        extent_name(n, &e)
    ))
}

/// An extent's `start + len` overflows a u64.
fn start_wraps(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, e) = choose(rng, &all_extents(m))?;
    let start = u64::MAX - rng.below(u64::from(e.len));
    set_start(m, img, n, &e, start);
    Some(format!(
        "{} now starts at block {start}: start + len overflows u64",
        extent_name(n, &e)
    ))
}

/// An extent starts at block 0 or inside the metadata area.
fn start_in_metadata(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, e) = choose(rng, &all_extents(m))?;
    let ds = m.geo.data_start;
    let start = if rng.below(4) == 0 {
        0
    } else {
        rng.range(0, ds - 1)
    };
    set_start(m, img, n, &e, start);
    Some(format!(
        "{} now starts at block {start} (data starts at {ds})",
        extent_name(n, &e)
    ))
}

/// An extent's length runs past the end of the filesystem.
fn len_huge(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, e) = choose(rng, &all_extents(m))?;
    let past =
        (m.geo.blocks_count - e.start + rng.range(1, 1 << 16)).min(EXTENT_MAX_BLOCKS.into()) as u32;
    let len = other_than(
        rng,
        &[EXTENT_MAX_BLOCKS, EXTENT_MAX_BLOCKS - 1, past],
        e.len,
    )?;
    set_extent(
        m,
        img,
        n,
        &e,
        Extent {
            len: Extent::len_field(len, e.unwritten),
            ..e.disk()
        },
    );
    Some(format!(
        "{} now {len} blocks long (end {} beyond {} blocks; inode block count adjusted)",
        extent_name(n, &e),
        e.start + u64::from(len),
        m.geo.blocks_count
    ))
}

/// The last extent of a file ends past file block 2^32.
fn logical_wraps(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    // Best a regular file's extent of two blocks or more: a directory with
    // a moved block also has a hole, and a one-block extent has to grow,
    // into blocks of its neighbour, either of which is found first.
    let last: Vec<(&Node, ExtentLoc)> = m
        .nodes
        .iter()
        .filter_map(|n| n.extents.last().map(|e| (n, *e)))
        .collect();
    let rank = |(n, e): &(&Node, ExtentLoc)| {
        u8::from(n.kind != FileKind::Regular) * 2 + u8::from(e.len < 2)
    };
    let best = last.iter().map(rank).min()?;
    let c: Vec<_> = last.iter().filter(|x| rank(x) == best).copied().collect();
    let (n, e) = choose(rng, &c)?;
    let len = e.len.max(2);
    let logical = u32::MAX - len + 2;
    set_extent(
        m,
        img,
        n,
        &e,
        Extent {
            logical: logical.into(),
            len: Extent::len_field(len, e.unwritten),
            ..e.disk()
        },
    );
    Some(format!(
        "{} now maps file blocks {logical}+{len}, ending at {} (past 2^32)",
        extent_name(n, &e),
        u64::from(logical) + u64::from(len)
    ))
}

/// The inode's `extent_block`, or an overflow block's `next`, points
/// outside the data area.
fn extent_block_out_of_range(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let c: Vec<&Node> = m.nodes.iter().filter(|n| !n.inline).collect();
    let n = choose(rng, &c)?;
    let bc = m.geo.blocks_count;
    let to = match rng.below(4) {
        0 => bc + rng.range(0, 1 << 20),
        1 => u64::MAX,
        2 => rng.range(1, m.geo.data_start - 1),
        _ => bc + (1 << 32),
    };
    if !n.overflow.is_empty() && rng.coin() {
        let b = *rng.pick(&n.overflow);
        write_field(img, next_offset(b), Le64::new(to));
        fix_csum(img, &m.geo, Csum::Block(b));
        Some(format!(
            "inode {}: overflow block {b} now chains to block {to} (data area {}..{bc})",
            n.ino, m.geo.data_start
        ))
    } else {
        m.edit_inode(img, n.ino, |d| d.extent_block = to.into());
        Some(format!(
            "inode {}: extent_block {} replaced by {to} (data area {}..{bc})",
            n.ino,
            n.disk.extent_block.get(),
            m.geo.data_start
        ))
    }
}

/// An extent's unwritten bit ([`rsfs_format::EXTENT_UNWRITTEN`]) flipped,
/// its checksum recomputed. On a filesystem without the unwritten-extents
/// feature, or in a directory or symlink, that is damage. In a regular
/// file on a filesystem with the feature it is not: the range now reads
/// as zeroes, or as what its blocks hold. The detail says which, the
/// latter with "not damage".
fn unwritten_flip(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, e) = choose(rng, &all_extents(m))?;
    let unwritten = !e.unwritten;
    set_extent(
        m,
        img,
        n,
        &e,
        Extent {
            len: Extent::len_field(e.len, unwritten),
            ..e.disk()
        },
    );
    let why = match n.kind {
        _ if !m.has_unwritten() => "the filesystem lacks the unwritten-extents feature".into(),
        FileKind::Regular if unwritten => "not damage: the range reads as zeroes now".into(),
        FileKind::Regular => "not damage: the range reads what its blocks hold now".into(),
        k => format!("in a {k:?} inode"),
    };
    let now = if unwritten { "unwritten" } else { "written" };
    Some(format!("{} now {now} ({why})", extent_name(n, &e)))
}

const EXTENT_RANGE: &[(&str, Variant)] = &[
    ("start-beyond-end", start_beyond_end),
    ("start-wraps", start_wraps),
    ("start-in-metadata", start_in_metadata),
    ("len-huge", len_huge),
    ("logical-wraps", logical_wraps),
    ("extent-block-out-of-range", extent_block_out_of_range),
    ("unwritten-flip", unwritten_flip),
];

/// Class `extent-range`: an extent of a file in use starts beyond the end
/// of the filesystem, in the metadata area or so that `start + len`
/// overflows; is longer than the filesystem; ends past file block 2^32; an
/// overflow block pointer is outside the data area; or an extent's
/// unwritten bit is flipped.
pub fn extent_range(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::ExtentRange, EXTENT_RANGE, m, img, rng)
}

// ---------------------------------------------------------------------------
// 5. Overlapping extents and damaged overflow chains.

/// An extent now maps blocks of another file (data, directory or overflow
/// blocks).
fn shared_with_file(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, e) = choose(rng, &all_extents(m))?;
    let theirs: Vec<(u64, u64, u64)> = m
        .nodes
        .iter()
        .filter(|o| o.ino != n.ino)
        .flat_map(|o| {
            o.extents
                .iter()
                .map(move |x| (o.ino, x.start, u64::from(x.len)))
                .chain(o.overflow.iter().map(move |&b| (o.ino, b, 1)))
        })
        .collect();
    let (other, start, len) = choose(rng, &theirs)?;
    let skip = rng.below(len);
    let new_start = start + skip;
    let new_len = u64::from(e.len).min(len - skip) as u32;
    set_extent(
        m,
        img,
        n,
        &e,
        Extent {
            len: Extent::len_field(new_len, e.unwritten),
            start: new_start.into(),
            ..e.disk()
        },
    );
    Some(format!(
        "{} now maps blocks {new_start}+{new_len}, which belong to inode {other}",
        extent_name(n, &e)
    ))
}

/// An extent now maps the superblock, a bitmap or the inode table.
fn into_metadata(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, e) = choose(rng, &all_extents(m))?;
    let g = &m.geo;
    let (what, first, count) = *rng.pick(&[
        ("the superblock", 0, 1),
        (
            "the block bitmap",
            g.block_bitmap_start,
            g.block_bitmap_blocks,
        ),
        (
            "the inode bitmap",
            g.inode_bitmap_start,
            g.inode_bitmap_blocks,
        ),
        ("the inode table", g.inode_table_start, g.inode_table_blocks),
    ]);
    let start = first + rng.below(count);
    let len = u64::from(e.len).min(g.data_start - start) as u32;
    set_extent(
        m,
        img,
        n,
        &e,
        Extent {
            len: Extent::len_field(len, e.unwritten),
            start: start.into(),
            ..e.disk()
        },
    );
    Some(format!(
        "{} now maps blocks {start}+{len}: {what}",
        extent_name(n, &e)
    ))
}

/// Files with at least two extents.
fn multi_extent(m: &Model) -> Vec<&Node> {
    m.nodes.iter().filter(|n| n.extents.len() >= 2).collect()
}

/// A file's files with a free slot in the inode and at least one extent.
fn appendable(m: &Model) -> Vec<&Node> {
    m.nodes
        .iter()
        .filter(|n| free_inode_slot(n).is_some() && !n.extents.is_empty())
        .collect()
}

/// An extent starts inside the file range of the extent before it (or, in
/// a file with one extent, a copy of it is appended).
fn logical_overlap(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    if let Some(n) = choose(rng, &multi_extent(m)) {
        let i = rng.range(1, n.extents.len() as u64 - 1) as usize;
        let (p, e) = (n.extents[i - 1], n.extents[i]);
        let logical = p.logical + rng.below(u64::from(p.len)) as u32;
        set_extent(
            m,
            img,
            n,
            &e,
            Extent {
                logical: logical.into(),
                ..e.disk()
            },
        );
        return Some(format!(
            "{} now starts at file block {logical}, inside extent {} ({}+{})",
            extent_name(n, &e),
            p.index,
            p.logical,
            p.len
        ));
    }
    let n = choose(rng, &appendable(m))?;
    let slot = free_inode_slot(n)?;
    let e = *rng.pick(&n.extents);
    append_extent(m, img, n, slot, e.disk());
    Some(format!(
        "{}: copied into slot {slot}, mapping the same file and disk blocks again",
        extent_name(n, &e)
    ))
}

/// Two extents of one file map the same disk blocks (file ranges in
/// order).
fn physical_overlap(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    if let Some(n) = choose(rng, &multi_extent(m)) {
        let i = rng.index(n.extents.len());
        let j = (i + 1 + rng.index(n.extents.len() - 1)) % n.extents.len();
        let (e, o) = (n.extents[i], n.extents[j]);
        let skip = rng.below(u64::from(o.len));
        let start = o.start + skip;
        let len = u64::from(e.len).min(u64::from(o.len) - skip) as u32;
        set_extent(
            m,
            img,
            n,
            &e,
            Extent {
                len: Extent::len_field(len, e.unwritten),
                start: start.into(),
                ..e.disk()
            },
        );
        return Some(format!(
            "{} now maps disk blocks {start}+{len}, inside extent {} of the same file",
            extent_name(n, &e),
            o.index
        ));
    }
    let n = choose(rng, &appendable(m))?;
    let slot = free_inode_slot(n)?;
    let last = n.extents.last()?;
    let logical = u64::from(last.logical) + u64::from(last.len) + rng.below(16);
    let o = *rng.pick(&n.extents);
    if logical + u64::from(o.len) > u64::from(u32::MAX) {
        return None;
    }
    let new = Extent {
        logical: (logical as u32).into(),
        ..o.disk()
    };
    append_extent(m, img, n, slot, new);
    Some(format!(
        "inode {}: new extent {slot} maps file blocks {logical}+{} to disk blocks {}, already mapped by extent {}",
        n.ino, o.len, o.start, o.index
    ))
}

/// Two neighbouring extents of a file change places.
fn unsorted(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &multi_extent(m))?;
    let i = rng.index(n.extents.len() - 1);
    let (a, b) = (n.extents[i], n.extents[i + 1]);
    m.put_extent(img, n.ino, a.at, &b.disk());
    m.put_extent(img, n.ino, b.at, &a.disk());
    Some(format!(
        "inode {}: extents {} ({}+{}) and {} ({}+{}) swapped: not sorted by file block",
        n.ino, a.index, a.logical, a.len, b.index, b.logical, b.len
    ))
}

/// An inode's `extent_count` exceeds its slots.
fn extent_count_too_large(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let c: Vec<&Node> = m.nodes.iter().filter(|n| !n.inline).collect();
    let n = choose(rng, &c)?;
    let count = rng.range(INODE_EXTENTS as u64 + 1, u64::from(u16::MAX)) as u16;
    m.edit_inode(img, n.ino, |d| d.extent_count = count.into());
    Some(format!(
        "inode {}: extent_count {} replaced by {count} (at most {INODE_EXTENTS})",
        n.ino,
        n.disk.extent_count.get()
    ))
}

/// Files with overflow extent blocks.
fn with_overflow(m: &Model) -> Vec<&Node> {
    m.nodes.iter().filter(|n| !n.overflow.is_empty()).collect()
}

/// Changes the header of an overflow block and fixes its checksum.
fn edit_header(m: &Model, img: &mut [u8], b: u64, f: impl FnOnce(&mut ExtentBlockHeader)) {
    let blk = block_mut(img, b);
    let mut h = ExtentBlockHeader::decode(blk);
    f(&mut h);
    h.encode(blk);
    fix_csum(img, &m.geo, Csum::Block(b));
}

/// An overflow block's magic is wrong.
fn overflow_bad_magic(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &with_overflow(m))?;
    let b = *rng.pick(&n.overflow);
    let magic = EXTENT_BLOCK_MAGIC ^ rng.range(1, u64::from(u32::MAX)) as u32;
    edit_header(m, img, b, |h| h.magic = magic.into());
    Some(format!(
        "inode {}: overflow block {b} magic now {magic:#010x}",
        n.ino
    ))
}

/// An overflow block claims more extents than it holds.
fn overflow_count_too_large(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &with_overflow(m))?;
    let b = *rng.pick(&n.overflow);
    let count = rng.range(EXTENT_BLOCK_EXTENTS as u64 + 1, u64::from(u16::MAX)) as u16;
    edit_header(m, img, b, |h| h.count = count.into());
    Some(format!(
        "inode {}: overflow block {b} count now {count} (at most {EXTENT_BLOCK_EXTENTS})",
        n.ino
    ))
}

/// An overflow block chains back to itself or to an earlier block.
fn overflow_loop(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &with_overflow(m))?;
    let k = rng.index(n.overflow.len());
    let (b, to) = (n.overflow[k], n.overflow[rng.index(k + 1)]);
    edit_header(m, img, b, |h| h.next = to.into());
    Some(format!(
        "inode {}: overflow block {b} now chains to block {to}: a loop",
        n.ino
    ))
}

const EXTENT_OVERLAP: &[(&str, Variant)] = &[
    ("shared-with-file", shared_with_file),
    ("into-metadata", into_metadata),
    ("logical-overlap", logical_overlap),
    ("physical-overlap", physical_overlap),
    ("unsorted", unsorted),
    ("extent-count-too-large", extent_count_too_large),
    ("overflow-bad-magic", overflow_bad_magic),
    ("overflow-count-too-large", overflow_count_too_large),
    ("overflow-loop", overflow_loop),
];

/// Class `extent-overlap`: an extent maps another file's blocks or
/// metadata; two extents of a file overlap in the file or on disk, or are
/// out of order; `extent_count` is too large; or an overflow block has a
/// bad magic, a bad count or a chain loop.
pub fn extent_overlap(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::ExtentOverlap, EXTENT_OVERLAP, m, img, rng)
}

// ---------------------------------------------------------------------------
// 6. Directory loops and bad entry targets.

/// Directories other than the root.
fn subdirs(m: &Model) -> Vec<u64> {
    m.nodes
        .iter()
        .filter(|n| n.kind == FileKind::Dir && n.ino != ROOT_INO && n.parent.is_some())
        .map(|n| n.ino)
        .collect()
}

/// Every directory in the tree.
fn dirs(m: &Model) -> Vec<u64> {
    m.nodes
        .iter()
        .filter(|n| n.kind == FileKind::Dir && n.parent.is_some())
        .map(|n| n.ino)
        .collect()
}

/// Adds to `dir` an entry for directory `target`.
fn link_dir(
    m: &Model,
    img: &mut [u8],
    rng: &mut Rng,
    dir: u64,
    target: u64,
    why: &str,
) -> Option<String> {
    let name = fresh_name(m, rng, dir, "loop");
    let at = add_entry(m, img, rng, dir, &name, target, FT_DIR)?;
    Some(format!("{at} names directory {target}, {why}"))
}

/// A subdirectory gets an entry naming one of its ancestors.
fn subdir_to_ancestor(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    for d in rng.shuffled(&subdirs(m)) {
        let a = m.ancestors(d);
        let Some(&t) = a.get(rng.index(a.len().max(1))) else {
            continue;
        };
        if let Some(s) = link_dir(m, img, rng, d, t, "an ancestor of it: a loop") {
            return Some(s);
        }
    }
    None
}

/// A directory gets an entry naming itself.
fn dir_to_itself(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    for d in rng.shuffled(&dirs(m)) {
        if let Some(s) = link_dir(m, img, rng, d, d, "itself: a loop") {
            return Some(s);
        }
    }
    None
}

/// A directory gets a second name somewhere (a hard link to a directory).
fn dir_hard_link(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let all = dirs(m);
    for t in rng.shuffled(&subdirs(m)) {
        for d in rng.shuffled(&all) {
            if d == t {
                continue;
            }
            if let Some(s) = link_dir(
                m,
                img,
                rng,
                d,
                t,
                "which already has a name: a hard-linked directory",
            ) {
                return Some(s);
            }
        }
    }
    None
}

/// A directory gets an entry naming the root.
fn entry_to_root(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let mut c = subdirs(m);
    c = rng.shuffled(&c);
    c.push(ROOT_INO);
    for d in c {
        if let Some(s) = link_dir(m, img, rng, d, ROOT_INO, "the root") {
            return Some(s);
        }
    }
    None
}

/// Points an existing entry at inode `ino`.
fn retarget(m: &Model, img: &mut [u8], r: &Record, ino: u64) {
    edit_record(m, img, r, |b| write_field(b, 0, Le64::new(ino)));
}

/// An entry (possibly `.` or `..`) now names inode 0.
fn entry_to_inode_zero(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let r = choose(rng, &entries(m, true))?;
    retarget(m, img, r, 0);
    Some(format!(
        "{} (inode {}) now names inode 0",
        record_name(r),
        r.ino
    ))
}

/// An entry now names an inode that is not in use.
fn entry_to_unused_inode(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let r = choose(rng, &entries(m, false))?;
    let free = m.free_inodes();
    let ino = choose(rng, &free)?;
    retarget(m, img, r, ino);
    Some(format!(
        "{} (inode {}) now names unused inode {ino}",
        record_name(r),
        r.ino
    ))
}

/// An entry (possibly `.` or `..`) names an inode past `inodes_count`.
fn entry_out_of_range(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let r = choose(rng, &entries(m, true))?;
    let ic = m.geo.inodes_count;
    let ino = match rng.below(3) {
        0 => ic + 1,
        1 => ic + rng.range(2, 1 << 32),
        _ => u64::MAX,
    };
    retarget(m, img, r, ino);
    Some(format!(
        "{} (inode {}) now names inode {ino} (there are {ic})",
        record_name(r),
        r.ino
    ))
}

/// An entry's file type disagrees with its inode's mode.
fn wrong_file_type(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let r = choose(rng, &entries(m, false))?;
    let right = m.node(r.ino)?.kind.file_type();
    let ft = other_than(rng, &[0, 1, 2, 7, 3, 4, 5, 6, 8, 0xff], right)?;
    edit_record(m, img, r, |b| b[11] = ft);
    Some(format!(
        "{} (inode {}) file type {} replaced by {ft}",
        record_name(r),
        r.ino,
        r.file_type
    ))
}

const DIR_LOOP: &[(&str, Variant)] = &[
    ("subdir-to-ancestor", subdir_to_ancestor),
    ("dir-to-itself", dir_to_itself),
    ("dir-hard-link", dir_hard_link),
    ("entry-to-root", entry_to_root),
    ("entry-to-inode-0", entry_to_inode_zero),
    ("entry-to-unused-inode", entry_to_unused_inode),
    ("entry-out-of-range", entry_out_of_range),
    ("wrong-file-type", wrong_file_type),
];

/// Class `dir-loop`: a directory gets an entry naming an ancestor, itself
/// or the root, or a second name for a directory; or an entry names inode
/// 0, an unused inode or one past `inodes_count`, or carries a file type
/// that disagrees with the inode.
pub fn dir_loop(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::DirLoop, DIR_LOOP, m, img, rng)
}

// ---------------------------------------------------------------------------
// 7. Malformed directory records.

/// An entry in use gets `name_len` 0.
fn name_len_zero(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let r = choose(rng, &entries(m, true))?;
    edit_record(m, img, r, |b| b[10] = 0);
    Some(format!(
        "{}: name_len {} replaced by 0",
        record_name(r),
        r.name_len
    ))
}

/// An entry's name runs past its record.
fn name_len_past_record(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let c: Vec<&Record> = entries(m, true)
        .into_iter()
        .filter(|r| r.rec_len < dir_rec_len(255))
        .collect();
    let r = choose(rng, &c)?;
    let len = rng.range((r.rec_len - DIR_HEADER + 1) as u64, 255) as u8;
    edit_record(m, img, r, |b| b[10] = len);
    Some(format!(
        "{}: name_len {} replaced by {len}, which a record of {} bytes cannot hold",
        record_name(r),
        r.name_len,
        r.rec_len
    ))
}

/// Size of a directory entry header.
const DIR_HEADER: usize = rsfs_format::DirEntryHeader::SIZE;

/// Sets the record length of `r`.
fn set_rec_len(m: &Model, img: &mut [u8], r: &Record, rec_len: u16) -> String {
    edit_record(m, img, r, |b| write_field(b, 8, Le16::new(rec_len)));
    let what = if r.in_use() {
        record_name(r)
    } else {
        format!(
            "unused record in directory {} (block {}, offset {})",
            r.dir, r.phys, r.off
        )
    };
    format!("{what}: rec_len {} replaced by {rec_len}", r.rec_len)
}

/// A record length of 0 or smaller than a header.
fn rec_len_tiny(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let r = choose(rng, &m.records)?;
    let len = other_than(rng, &[0u16, 4, 8], r.rec_len as u16)?;
    Some(set_rec_len(m, img, &r, len))
}

/// A record length that is not a multiple of 4.
fn rec_len_unaligned(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let r = choose(rng, &m.records)?;
    let d = *rng.pick(&[-3i64, -2, -1, 1, 2, 3]);
    let len = (r.rec_len as i64 + d) as u16;
    Some(set_rec_len(m, img, &r, len))
}

/// A record running past the end of the block's entry area.
fn rec_len_past_end(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let r = choose(rng, &m.records)?;
    let len = if rng.below(4) == 0 {
        0xfffc
    } else {
        (DIR_DATA_SIZE - r.off) as u16 + 4 * rng.range(1, 64) as u16
    };
    Some(set_rec_len(m, img, &r, len))
}

/// The last record of a block ends 4 or 8 bytes short of the entry
/// area: too few bytes for another record's header.
fn rec_len_short_tail(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let tails: Vec<Record> = m
        .records
        .iter()
        .filter(|r| r.off + r.rec_len == DIR_DATA_SIZE && r.rec_len >= r.used().max(DIR_HEADER) + 8)
        .cloned()
        .collect();
    let r = choose(rng, &tails)?;
    let len = (r.rec_len - 4 * rng.range(1, 2) as usize) as u16;
    Some(set_rec_len(m, img, &r, len))
}

/// A name gets a '/' or a NUL.
fn bad_name_char(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let r = choose(rng, &entries(m, true))?;
    let at = rng.index(r.name_len);
    let c = if rng.coin() { b'/' } else { 0 };
    edit_record(m, img, r, |b| b[DIR_HEADER + at] = c);
    Some(format!(
        "{}: name byte {at} replaced by {c:#04x}",
        record_name(r)
    ))
}

/// Renames `b` to `name` (which must fit its record).
fn rename(m: &Model, img: &mut [u8], b: &Record, name: &[u8]) {
    edit_record(m, img, b, |x| {
        x[10] = name.len() as u8;
        x[DIR_HEADER..DIR_HEADER + name.len()].copy_from_slice(name);
    });
}

/// Two entries of a directory get the same name.
fn duplicate_name(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let named = entries(m, false);
    let mut pairs = Vec::new();
    for a in &named {
        for b in &named {
            if a.dir == b.dir && a.name != b.name && dir_rec_len(a.name_len) <= b.rec_len {
                pairs.push((*a, *b));
            }
        }
    }
    let (a, b) = choose(rng, &pairs)?;
    rename(m, img, b, &a.name);
    Some(format!(
        "{} (inode {}) renamed \"{}\", as inode {} is",
        record_name(b),
        b.ino,
        a.display_name(),
        a.ino
    ))
}

/// An entry is renamed `.` or `..`.
fn duplicate_dot(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let b = choose(rng, &entries(m, false))?;
    let name: &[u8] = if rng.coin() { b"." } else { b".." };
    rename(m, img, b, name);
    Some(format!(
        "{} (inode {}) renamed \"{}\"",
        record_name(b),
        b.ino,
        String::from_utf8_lossy(name)
    ))
}

const DIR_NAME: &[(&str, Variant)] = &[
    ("name-len-zero", name_len_zero),
    ("name-len-past-record", name_len_past_record),
    ("rec-len-tiny", rec_len_tiny),
    ("rec-len-unaligned", rec_len_unaligned),
    ("rec-len-past-end", rec_len_past_end),
    ("rec-len-short-tail", rec_len_short_tail),
    ("bad-name-char", bad_name_char),
    ("duplicate-name", duplicate_name),
    ("duplicate-dot", duplicate_dot),
];

/// Class `dir-name`: a directory record gets `name_len` 0 or too large for
/// its record; `rec_len` 0 or tiny, not a multiple of 4, running past the
/// entry area, or ending too close to its end for another header; a name
/// gets '/' or NUL; or an entry takes the name of a sibling, or of `.` or
/// `..`.
pub fn dir_name(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::DirName, DIR_NAME, m, img, rng)
}

// ---------------------------------------------------------------------------
// 8. Sizes and block counts.

/// Sets the size of `n`.
fn set_size(m: &Model, img: &mut [u8], n: &Node, size: u64, why: &str) -> String {
    m.edit_inode(img, n.ino, |d| d.size = size.into());
    format!(
        "inode {} ({:?}): size {} replaced by {size}{why}",
        n.ino,
        n.kind,
        n.disk.size.get()
    )
}

/// A regular file larger than the format allows.
fn regular_size_huge(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &nodes_of(m, FileKind::Regular))?;
    let big = MAX_FILE_SIZE + rng.range(1, 1 << 40);
    let size = other_than(
        rng,
        &[u64::MAX, 1 << 63, MAX_FILE_SIZE + 1, big],
        n.disk.size.get(),
    )?;
    Some(set_size(
        m,
        img,
        n,
        size,
        &format!(" (at most {MAX_FILE_SIZE})"),
    ))
}

/// A directory size that is not a whole number of blocks.
fn dir_size_unaligned(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &nodes_of(m, FileKind::Dir))?;
    let old = n.disk.size.get();
    let d = rng.range(1, BLOCK_SIZE as u64 - 1);
    let size = if rng.coin() { old + d } else { old - d };
    Some(set_size(m, img, n, size, ""))
}

/// A directory of size 0.
fn dir_size_zero(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &nodes_of(m, FileKind::Dir))?;
    Some(set_size(m, img, n, 0, ""))
}

/// A directory much larger than its blocks.
fn dir_size_beyond_blocks(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &nodes_of(m, FileKind::Dir))?;
    let blocks = n.disk.size.get() / BLOCK_SIZE as u64;
    let more = (blocks + rng.range(1, 1 << 20)) * BLOCK_SIZE as u64;
    let size = *rng.pick(&[more, 1 << 63, !(BLOCK_SIZE as u64 - 1), MAX_FILE_SIZE]);
    Some(set_size(
        m,
        img,
        n,
        size,
        &format!(" (it has {blocks} blocks)"),
    ))
}

/// A symlink of size 0 or of a block or more.
fn symlink_size(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &nodes_of(m, FileKind::Symlink))?;
    let big = rng.range(BLOCK_SIZE as u64, MAX_FILE_SIZE);
    let size = *rng.pick(&[0, BLOCK_SIZE as u64, big, u64::MAX, 1 << 63]);
    Some(set_size(
        m,
        img,
        n,
        size,
        &format!(" (inline: {})", n.inline),
    ))
}

/// An inline symlink longer than the inode can hold.
fn inline_symlink_too_long(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let c: Vec<&Node> = m
        .nodes
        .iter()
        .filter(|n| n.kind == FileKind::Symlink && n.inline)
        .collect();
    let n = choose(rng, &c)?;
    let max = INLINE_LINK_MAX as u64;
    let size = rng.range(max + 1, BLOCK_SIZE as u64 - 1);
    Some(set_size(
        m,
        img,
        n,
        size,
        &format!(" (an inline target holds at most {max})"),
    ))
}

/// An inode's block count disagrees with its block map.
fn blocks_wrong(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &m.nodes)?;
    let old = n.disk.blocks.get();
    let c = [0, old + rng.range(1, 1000), old.saturating_sub(1), u64::MAX];
    let blocks = other_than(rng, &c, old)?;
    m.edit_inode(img, n.ino, |d| d.blocks = blocks.into());
    Some(format!(
        "inode {}: blocks {old} replaced by {blocks}",
        n.ino
    ))
}

const HUGE_SIZE: &[(&str, Variant)] = &[
    ("regular-size-huge", regular_size_huge),
    ("dir-size-unaligned", dir_size_unaligned),
    ("dir-size-zero", dir_size_zero),
    ("dir-size-beyond-blocks", dir_size_beyond_blocks),
    ("symlink-size", symlink_size),
    ("inline-symlink-too-long", inline_symlink_too_long),
    ("blocks-wrong", blocks_wrong),
];

/// Class `huge-size`: a regular file larger than `MAX_FILE_SIZE`; a
/// directory whose size is 0, not a whole number of blocks or beyond its
/// blocks; a symlink of size 0 or a block or more, or an inline one longer
/// than the inode holds; or a block count that disagrees with the map.
/// (A regular file larger than its blocks is a sparse file, not damage.)
pub fn huge_size(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::HugeSize, HUGE_SIZE, m, img, rng)
}

// ---------------------------------------------------------------------------
// 9. Inode fields.

/// A mode whose file type rsfs does not have.
fn bad_file_type(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &m.nodes)?;
    let t = *rng.pick(&[
        0u16, 0o030000, 0o050000, 0o070000, 0o110000, 0o130000, 0o160000, 0o170000,
    ]);
    let mode = (n.disk.mode.get() & !S_IFMT) | t;
    m.edit_inode(img, n.ino, |d| d.mode = mode.into());
    Some(format!(
        "inode {}: mode {:o} replaced by {mode:o}",
        n.ino,
        n.disk.mode.get()
    ))
}

/// A file with blocks (or a size) turned into a device, pipe or socket,
/// which keep nothing on the disk but the inode.
fn special_with_blocks(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let mut c = nodes_of(m, FileKind::Regular);
    c.extend(nodes_of(m, FileKind::Dir));
    c.retain(|n| n.disk.size.get() != 0 || n.disk.extent_count.get() != 0);
    let n = choose(rng, &c)?;
    let (t, _) = *rng.pick(&SPECIAL_TYPES);
    let mode = (n.disk.mode.get() & !S_IFMT) | t;
    m.edit_inode(img, n.ino, |d| d.mode = mode.into());
    Some(format!(
        "inode {}: a file with size {} made a special file (mode {mode:o})",
        n.ino,
        n.disk.size.get()
    ))
}

/// Sets the link count of `n`.
fn set_links(m: &Model, img: &mut [u8], n: &Node, links: u16) -> String {
    m.edit_inode(img, n.ino, |d| d.links = links.into());
    format!(
        "inode {} ({:?}): links {} replaced by {links}",
        n.ino,
        n.kind,
        n.disk.links.get()
    )
}

/// A reachable inode with no links.
fn links_zero(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &m.nodes)?;
    Some(set_links(m, img, &n, 0))
}

/// A link count too low but not zero: 1 for a directory that holds a
/// subdirectory, or for a file with more than one name.
fn links_too_few(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let c: Vec<&Node> = m
        .nodes
        .iter()
        .filter(|n| n.disk.links.get() >= if n.kind == FileKind::Dir { 3 } else { 2 })
        .collect();
    let n = choose(rng, &c)?;
    Some(set_links(m, img, n, 1))
}

/// Flags no version of rsfs defines.
fn unknown_flags(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &m.nodes)?;
    let unknown = !(INODE_FLAG_INLINE | INODE_FLAGS_USER);
    let bits = (rng.next_u64() as u32 | 1 << rng.range(6, 31)) & unknown;
    let flags = n.disk.flags.get() | bits;
    m.edit_inode(img, n.ino, |d| d.flags = flags.into());
    Some(format!(
        "inode {}: flags {:#x} replaced by {flags:#x}",
        n.ino,
        n.disk.flags.get()
    ))
}

/// The inline flag on a regular file or directory.
fn inline_on_non_symlink(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let mut c = nodes_of(m, FileKind::Regular);
    if c.is_empty() {
        c = nodes_of(m, FileKind::Dir);
    }
    let n = choose(rng, &c)?;
    let flags = n.disk.flags.get() | INODE_FLAG_INLINE;
    m.edit_inode(img, n.ino, |d| d.flags = flags.into());
    Some(format!("inode {} ({:?}): INLINE flag set", n.ino, n.kind))
}

/// A symlink's inline flag toggled: a block target read from the extent
/// area, or an inline target read as extents.
fn symlink_inline_toggled(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &nodes_of(m, FileKind::Symlink))?;
    let flags = n.disk.flags.get() ^ INODE_FLAG_INLINE;
    m.edit_inode(img, n.ino, |d| d.flags = flags.into());
    let now = if n.inline { "cleared" } else { "set" };
    Some(format!("inode {} (symlink): INLINE flag {now}", n.ino))
}

/// `orphan_next` of a linked inode points at itself, out of range, or at
/// another inode.
fn orphan_next(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &m.nodes)?;
    let other = rng.pick(&m.nodes).ino;
    let ic = m.geo.inodes_count;
    let past = ic + rng.range(1, 1 << 20);
    let to = other_than(
        rng,
        &[n.ino, past, u64::MAX, other],
        n.disk.orphan_next.get(),
    )?;
    m.edit_inode(img, n.ino, |d| d.orphan_next = to.into());
    Some(format!(
        "inode {} (links {}): orphan_next now {to}",
        n.ino,
        n.disk.links.get()
    ))
}

const INODE_FIELDS: &[(&str, Variant)] = &[
    ("bad-file-type", bad_file_type),
    ("special-with-blocks", special_with_blocks),
    ("links-zero", links_zero),
    ("links-too-few", links_too_few),
    ("unknown-flags", unknown_flags),
    ("inline-on-non-symlink", inline_on_non_symlink),
    ("symlink-inline-toggled", symlink_inline_toggled),
    ("orphan-next", orphan_next),
];

/// Class `inode-fields`: an inode gets a mode of a type rsfs does not have,
/// no links or too few while reachable, unknown flags, the inline flag on
/// a regular file or toggled on a symlink, or an `orphan_next` pointing at
/// itself, out of range or elsewhere.
pub fn inode_fields(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::InodeFields, INODE_FIELDS, m, img, rng)
}

// ---------------------------------------------------------------------------
// 10. Superblock fields.

/// `blocks_count` beyond the device.
fn blocks_count_beyond_device(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let dev = m.device_blocks;
    let more = dev + rng.range(2, 1 << 20);
    let bc = *rng.pick(&[dev + 1, more, MAX_BLOCKS, u64::MAX]);
    edit_sb(img, |sb| sb.blocks_count = bc.into());
    Some(format!(
        "blocks_count {} replaced by {bc} (the image has {dev} blocks)",
        m.geo.blocks_count
    ))
}

/// `blocks_count` far too small, or smaller than the device.
fn blocks_count_tiny(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let g = &m.geo;
    let fewer = rng.range(MIN_BLOCKS.min(g.blocks_count - 1), g.blocks_count - 1);
    let c = [0, 1, MIN_BLOCKS - 1, g.data_start, g.data_start + 15, fewer];
    let bc = other_than(rng, &c, g.blocks_count)?;
    edit_sb(img, |sb| sb.blocks_count = bc.into());
    Some(format!("blocks_count {} replaced by {bc}", g.blocks_count))
}

/// `inodes_count` 0, huge, or off by a table block.
fn inodes_count(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let ic = m.geo.inodes_count;
    let c = [
        0,
        1,
        u64::MAX,
        u64::from(u32::MAX),
        ic + 16,
        ic * 1000,
        ic.saturating_sub(16),
    ];
    let n = other_than(rng, &c, ic)?;
    edit_sb(img, |sb| sb.inodes_count = n.into());
    Some(format!("inodes_count {ic} replaced by {n}"))
}

/// More free blocks (or inodes) than there are.
fn free_counts(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let g = &m.geo;
    if rng.coin() {
        let more = g.blocks_count + rng.range(1, 1 << 20);
        let f = *rng.pick(&[more, u64::MAX]);
        edit_sb(img, |sb| sb.free_blocks = f.into());
        Some(format!(
            "free_blocks now {f} (of {} blocks)",
            g.blocks_count
        ))
    } else {
        let more = g.inodes_count + rng.range(1, 1 << 20);
        let f = *rng.pick(&[more, u64::MAX]);
        edit_sb(img, |sb| sb.free_inodes = f.into());
        Some(format!(
            "free_inodes now {f} (of {} inodes)",
            g.inodes_count
        ))
    }
}

/// A bitmap, inode-table or data-start field that overlaps another region
/// or is out of range.
fn layout(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let g = m.geo;
    let fields: [(&str, u64); 7] = [
        ("block_bitmap_start", g.block_bitmap_start),
        ("block_bitmap_blocks", g.block_bitmap_blocks),
        ("inode_bitmap_start", g.inode_bitmap_start),
        ("inode_bitmap_blocks", g.inode_bitmap_blocks),
        ("inode_table_start", g.inode_table_start),
        ("inode_table_blocks", g.inode_table_blocks),
        ("data_start", g.data_start),
    ];
    let i = rng.index(fields.len());
    let (name, old) = fields[i];
    let overlap = fields[rng.index(fields.len())].1;
    let c = [
        0,
        old + 1,
        old.saturating_sub(1),
        u64::MAX,
        g.blocks_count,
        g.blocks_count + 1,
        overlap,
        rng.next_u64(),
    ];
    let v = other_than(rng, &c, old)?;
    edit_sb(img, |sb| {
        let f = match i {
            0 => &mut sb.block_bitmap_start,
            1 => &mut sb.block_bitmap_blocks,
            2 => &mut sb.inode_bitmap_start,
            3 => &mut sb.inode_bitmap_blocks,
            4 => &mut sb.inode_table_start,
            5 => &mut sb.inode_table_blocks,
            _ => &mut sb.data_start,
        };
        *f = v.into();
    });
    Some(format!("{name} {old} replaced by {v}"))
}

/// `root_ino` 0, out of range, or naming something other than the root.
fn root_ino(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let ic = m.geo.inodes_count;
    let mut c = vec![0, ic + 1, u64::MAX];
    c.extend(m.nodes.iter().filter(|n| n.ino != ROOT_INO).map(|n| n.ino));
    c.extend(choose(rng, &m.free_inodes()));
    let r = other_than(rng, &c, ROOT_INO)?;
    let what = match m.node(r) {
        Some(n) => format!("{:?} inode", n.kind),
        None if r <= ic && r != 0 => "unused inode".into(),
        None => "out of range".into(),
    };
    edit_sb(img, |sb| sb.root_ino = r.into());
    Some(format!("root_ino now {r} ({what})"))
}

/// `orphan_head` out of range or naming a linked inode.
fn orphan_head(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let ic = m.geo.inodes_count;
    let some = rng.pick(&m.nodes).ino;
    let c = [ic + 1, ic + rng.range(2, 1 << 32), u64::MAX, ROOT_INO, some];
    let h = other_than(rng, &c, m.sb.orphan_head.get())?;
    edit_sb(img, |sb| sb.orphan_head = h.into());
    Some(format!(
        "orphan_head {} replaced by {h} (there are {ic} inodes)",
        m.sb.orphan_head.get()
    ))
}

/// A state that is neither clean nor dirty.
fn state(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let c = [0u16, 3, 0xff, 0xffff, rng.range(4, 0xfffe) as u16];
    let c: Vec<u16> = c
        .into_iter()
        .filter(|s| ![STATE_CLEAN, STATE_DIRTY].contains(s))
        .collect();
    let s = other_than(rng, &c, m.sb.state.get())?;
    edit_sb(img, |sb| sb.state = s.into());
    Some(format!("state {} replaced by {s}", m.sb.state.get()))
}

/// An incompatible feature this version does not know (the known ones,
/// such as unwritten extents, are left as they are).
fn feature_incompat(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let old = m.sb.feature_incompat.get();
    let unknown: Vec<u32> = (0..32)
        .map(|b| 1u32 << b)
        .filter(|f| f & FEATURE_INCOMPAT_KNOWN == 0)
        .collect();
    let extra = if rng.coin() { rng.next_u64() as u32 } else { 0 };
    let f = old | *rng.pick(&unknown) | (extra & !FEATURE_INCOMPAT_KNOWN);
    edit_sb(img, |sb| sb.feature_incompat = f.into());
    Some(format!("feature_incompat {old:#x} replaced by {f:#x}"))
}

/// A block size other than 4096.
fn block_size(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let c = [0u32, 512, 1024, 2048, 4097, 8192, 65536, u32::MAX];
    let bs = other_than(rng, &c, m.sb.block_size.get())?;
    edit_sb(img, |sb| sb.block_size = bs.into());
    Some(format!("block_size replaced by {bs}"))
}

/// A format version other than the current one.
fn version(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let c = [0u32, 2, 0x100, u32::MAX, rng.next_u64() as u32];
    let v = other_than(rng, &c, m.sb.version.get())?;
    edit_sb(img, |sb| sb.version = v.into());
    Some(format!("version replaced by {v}"))
}

const SUPERBLOCK_FIELDS: &[(&str, Variant)] = &[
    ("blocks-count-beyond-device", blocks_count_beyond_device),
    ("blocks-count-tiny", blocks_count_tiny),
    ("inodes-count", inodes_count),
    ("free-counts", free_counts),
    ("layout", layout),
    ("root-ino", root_ino),
    ("orphan-head", orphan_head),
    ("state", state),
    ("feature-incompat", feature_incompat),
    ("block-size", block_size),
    ("version", version),
];

/// Class `superblock-fields` (checksum recomputed): `blocks_count` beyond
/// the device or tiny, `inodes_count` 0 or huge, free counters larger than
/// the filesystem, a layout field overlapping or out of range, `root_ino`
/// 0, out of range or not the root, `orphan_head` out of range or naming a
/// linked inode, a garbage `state`, unknown incompatible features, a block
/// size other than 4096, or another version.
pub fn superblock_fields(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::SuperblockFields, SUPERBLOCK_FIELDS, m, img, rng)
}

// ---------------------------------------------------------------------------
// 11. Bitmaps.

/// A block in use (data, directory or overflow block) marked free; the
/// free counter follows, so the next allocation may hand it out again.
fn used_block_free(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let used: Vec<(u64, u64)> = m
        .nodes
        .iter()
        .flat_map(|n| n.all_blocks().map(move |b| (n.ino, b)))
        .collect();
    let (ino, b) = choose(rng, &used)?;
    if !clear_bit(m, img, m.geo.block_bitmap_start, b) {
        return None;
    }
    edit_sb(img, |sb| sb.free_blocks = (sb.free_blocks.get() + 1).into());
    Some(format!(
        "block {b} (of inode {ino}) marked free; free_blocks + 1"
    ))
}

/// An inode in use marked free; the free counter follows.
fn used_inode_free(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let n = choose(rng, &m.nodes)?;
    if !clear_bit(m, img, m.geo.inode_bitmap_start, n.ino) {
        return None;
    }
    edit_sb(img, |sb| sb.free_inodes = (sb.free_inodes.get() + 1).into());
    Some(format!(
        "inode {} ({:?}) marked free; free_inodes + 1",
        n.ino, n.kind
    ))
}

/// A block of metadata (superblock, bitmaps, inode table) marked free.
fn metadata_block_free(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let b = rng.below(m.geo.data_start);
    clear_bit(m, img, m.geo.block_bitmap_start, b).then(|| {
        format!(
            "metadata block {b} marked free (data starts at {})",
            m.geo.data_start
        )
    })
}

/// Padding bits (past the last block or inode, or inode 0) cleared.
fn padding_clear(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let g = &m.geo;
    let mut c: Vec<(&str, u64, u64, u64)> =
        vec![("inode bitmap bit 0", g.inode_bitmap_start, 0, 1)];
    let bb_end = g.block_bitmap_blocks * BITS_PER_BITMAP_BLOCK;
    if bb_end > g.blocks_count {
        c.push((
            "block bitmap past the last block",
            g.block_bitmap_start,
            g.blocks_count,
            bb_end,
        ));
    }
    let ib_end = g.inode_bitmap_blocks * BITS_PER_BITMAP_BLOCK;
    if ib_end > g.inodes_count + 1 {
        c.push((
            "inode bitmap past the last inode",
            g.inode_bitmap_start,
            g.inodes_count + 1,
            ib_end,
        ));
    }
    let (what, start, lo, hi) = *rng.pick(&c);
    let first = if rng.coin() {
        lo
    } else {
        rng.range(lo, hi - 1)
    };
    let n = rng.range(1, 64).min(hi - first);
    let mut any = false;
    for bit in first..first + n {
        any |= clear_bit(m, img, start, bit);
    }
    any.then(|| format!("{what}: {n} bits from bit {first} cleared"))
}

/// A whole bitmap block cleared (with a valid checksum).
fn bitmap_block_zeroed(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let g = &m.geo;
    let mut c: Vec<(&str, u64)> = (g.block_bitmap_start
        ..g.block_bitmap_start + g.block_bitmap_blocks)
        .map(|b| ("block bitmap", b))
        .collect();
    c.extend(
        (g.inode_bitmap_start..g.inode_bitmap_start + g.inode_bitmap_blocks)
            .map(|b| ("inode bitmap", b)),
    );
    let (what, b) = *rng.pick(&c);
    let body = &mut block_mut(img, b)[..BLOCK_SIZE - BLOCK_CSUM_SIZE];
    if body.iter().all(|&x| x == 0) {
        return None;
    }
    body.fill(0);
    fix_csum(img, &m.geo, Csum::Block(b));
    Some(format!("{what} block {b}: every bit cleared"))
}

const BITMAP: &[(&str, Variant)] = &[
    ("used-block-free", used_block_free),
    ("used-inode-free", used_inode_free),
    ("metadata-block-free", metadata_block_free),
    ("padding-clear", padding_clear),
    ("bitmap-block-zeroed", bitmap_block_zeroed),
];

/// Class `bitmap` (checksums recomputed): a block or inode in use, a
/// metadata block, or padding bits (past the end, inode 0) marked free, or
/// a whole bitmap block cleared.
pub fn bitmap(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::Bitmap, BITMAP, m, img, rng)
}

// ---------------------------------------------------------------------------
// 12. Extended-attribute blocks.

/// The files that have an extended-attribute block, with it.
fn with_xattrs(m: &Model) -> Vec<(&Node, u64)> {
    m.nodes
        .iter()
        .filter_map(|n| n.xattr.map(|b| (n, b)))
        .collect()
}

/// Changes the header of extended-attribute block `b`, checksum
/// recomputed.
fn edit_xattr_header(m: &Model, img: &mut [u8], b: u64, f: impl FnOnce(&mut XattrHeader)) {
    let blk = block_mut(img, b);
    let mut h = XattrHeader::decode(blk);
    f(&mut h);
    h.encode(blk);
    fix_csum(img, &m.geo, Csum::Block(b));
}

/// An inode's `xattr_block` names a block outside the data area: in the
/// metadata, past the end, or far past it.
fn xattr_block_outside(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, old) = choose(rng, &with_xattrs(m))?;
    let bc = m.geo.blocks_count;
    let to = match rng.below(3) {
        0 => rng.range(0, m.geo.data_start - 1),
        1 => bc + rng.range(0, 1 << 20),
        _ => u64::MAX,
    };
    m.edit_inode(img, n.ino, |d| d.xattr_block = to.into());
    Some(format!(
        "inode {}: xattr_block {old} replaced by {to} (data area {}..{bc})",
        n.ino, m.geo.data_start
    ))
}

/// An inode's `xattr_block` names a block of another file (data,
/// directory, overflow or extended-attribute block), or a file that had
/// none now names another's, its block count following.
fn xattr_block_shared(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let theirs: Vec<(u64, u64)> = m
        .nodes
        .iter()
        .flat_map(|n| n.all_blocks().map(move |b| (n.ino, b)))
        .collect();
    let (owner, b) = choose(rng, &theirs)?;
    let others: Vec<&Node> = m.nodes.iter().filter(|n| n.ino != owner).collect();
    let n = choose(rng, &others)?;
    let had = n.xattr.is_some();
    m.edit_inode(img, n.ino, |d| {
        d.xattr_block = b.into();
        if !had {
            d.blocks = (d.blocks.get() + 1).into();
        }
    });
    Some(format!(
        "inode {}: xattr_block now {b}, a block of inode {owner}",
        n.ino
    ))
}

/// The block names another inode as its owner.
fn xattr_owner(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, b) = choose(rng, &with_xattrs(m))?;
    let to = match rng.below(3) {
        0 => 0,
        1 => m.nodes[rng.index(m.nodes.len())].ino,
        _ => rng.next_u64(),
    };
    if to == n.ino {
        return None;
    }
    edit_xattr_header(m, img, b, |h| h.owner = to.into());
    Some(format!(
        "inode {}: extended-attribute block {b} owner now {to}",
        n.ino
    ))
}

/// The block's magic or entry count is wrong: no entries, or more than
/// the block holds.
fn xattr_header(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, b) = choose(rng, &with_xattrs(m))?;
    let what = match rng.below(3) {
        0 => {
            edit_xattr_header(m, img, b, |h| h.magic = (h.magic.get() ^ 1).into());
            "magic".to_string()
        }
        1 => {
            edit_xattr_header(m, img, b, |h| h.count = 0.into());
            "count 0".to_string()
        }
        _ => {
            let c = rng.range(2, u64::from(u16::MAX)) as u16;
            edit_xattr_header(m, img, b, |h| {
                h.count = (h.count.get().saturating_add(c)).into()
            });
            format!("count + {c}")
        }
    };
    Some(format!(
        "inode {}: extended-attribute block {b}: bad {what}",
        n.ino
    ))
}

/// One entry is malformed: an unknown namespace, a name of 0 bytes (of 1
/// for an ACL), or a value that runs past the block; or, with two entries or more, the first
/// sorts after the second (a namespace later than theirs).
fn xattr_entry(m: &Model, img: &mut [u8], rng: &mut Rng) -> Option<String> {
    let (n, b) = choose(rng, &with_xattrs(m))?;
    let count = usize::from(XattrHeader::decode(block_mut(img, b)).count.get());
    let at = XattrHeader::SIZE;
    let blk = block_mut(img, b);
    let mut e = XattrEntryHeader::decode(&blk[at..]);
    let what = match rng.below(4) {
        0 => {
            e.index = *rng.pick(&[0u8, 5, 7, 255]);
            format!("namespace {}", e.index)
        }
        1 => {
            // A name of 0 bytes, or for an ACL (whose name is empty) one.
            e.name_len = u8::from(e.name_len == 0);
            format!("name of {} bytes", e.name_len)
        }
        2 => {
            e.value_len = (rng.range(4000, u64::from(u16::MAX)) as u16).into();
            format!("value of {} bytes", e.value_len.get())
        }
        _ if count >= 2 && e.index < XATTR_INDEX_SECURITY => {
            e.index = XATTR_INDEX_SECURITY;
            "first entry now sorts last".to_string()
        }
        _ => return None,
    };
    e.encode(&mut blk[at..]);
    fix_csum(img, &m.geo, Csum::Block(b));
    Some(format!(
        "inode {}: extended-attribute block {b}, first entry: {what}",
        n.ino
    ))
}

const XATTR: &[(&str, Variant)] = &[
    ("block-outside", xattr_block_outside),
    ("block-shared", xattr_block_shared),
    ("owner", xattr_owner),
    ("header", xattr_header),
    ("entry", xattr_entry),
];

/// Class `xattr`: an inode's extended-attribute block outside the data
/// area or shared with another file; a block whose owner, magic or count
/// is wrong; or a malformed or misordered entry. Checksums recomputed.
pub fn xattr(m: &Model, img: &mut [u8], rng: &mut Rng) -> Result<Done> {
    run(Class::Xattr, XATTR, m, img, rng)
}
