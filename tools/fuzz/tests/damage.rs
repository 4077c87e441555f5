// SPDX-License-Identifier: GPL-2.0

//! Every damage class on a populated image: the output differs from the
//! input, depends only on the seed and index, and (for the classes that
//! must) is found by fsck.rsfs.
//!
//! The seed image is made by mkfs.rsfs and then populated here the way the
//! kernel lays files out (as tools/fsck/tests/corruption.rs does): nested
//! directories, a directory of two blocks, files with one and several
//! extents, a file whose map needs an overflow extent block, a hard link,
//! an empty file, an inline and a block symlink, and extended-attribute
//! blocks on a file, a directory and a symlink.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::OnceLock;

use fsck_rsfs::{check, Mode, Report};
use rsfs_format::*;
use rsfs_fuzz::image::{crc, FileKind, Model};
use rsfs_fuzz::{damage, Class, Outcome};

/// A filesystem image being populated in memory.
struct Builder {
    img: Vec<u8>,
    geo: Geometry,
}

impl Builder {
    /// A fresh 8 MiB filesystem, made by mkfs.rsfs.
    fn new() -> Builder {
        let path = temp_path("seed");
        File::create(&path).unwrap().set_len(8 << 20).unwrap();
        mkfs_rsfs::mkfs(
            &path,
            &mkfs_rsfs::Options {
                quiet: true,
                ..Default::default()
            },
        )
        .unwrap();
        let img = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let geo = Geometry::from_superblock(&Superblock::decode(&img), 2048).unwrap();
        Builder { img, geo }
    }

    fn block(&mut self, n: u64) -> &mut [u8] {
        &mut self.img[n as usize * BLOCK_SIZE..(n as usize + 1) * BLOCK_SIZE]
    }

    fn inode(&self, ino: u64) -> Inode {
        let (b, off) = self.geo.inode_location(ino);
        Inode::decode(&self.img[b as usize * BLOCK_SIZE + off..])
    }

    fn put_inode(&mut self, ino: u64, d: &Inode) {
        let (b, off) = self.geo.inode_location(ino);
        let at = b as usize * BLOCK_SIZE + off;
        d.encode(&mut self.img[at..]);
        csum_set(&mut self.img[at..at + INODE_SIZE], crc);
    }

    fn counters(&mut self, blocks: i64, inodes: i64) {
        let mut sb = Superblock::decode(&self.img);
        sb.free_blocks = ((sb.free_blocks.get() as i64 + blocks) as u64).into();
        sb.free_inodes = ((sb.free_inodes.get() as i64 + inodes) as u64).into();
        sb.encode(&mut self.img);
        csum_set(&mut self.img[..Superblock::SIZE], crc);
    }

    /// Takes the first free inode.
    fn alloc_inode(&mut self) -> u64 {
        let start = self.geo.inode_bitmap_start;
        let ino = (1..).find(|&i| !bitmap_test(self.block(start), i)).unwrap();
        bitmap_set(self.block(start), ino, true);
        csum_set(self.block(start), crc);
        self.counters(0, -1);
        ino
    }

    /// Takes the first `n` contiguous free blocks at or after `from`.
    fn alloc_blocks(&mut self, from: u64, n: u64) -> u64 {
        let start = self.geo.block_bitmap_start;
        let first = (from.max(self.geo.data_start)..)
            .find(|&b| (b..b + n).all(|x| !bitmap_test(self.block(start), x)))
            .unwrap();
        for b in first..first + n {
            bitmap_set(self.block(start), b, true);
        }
        csum_set(self.block(start), crc);
        self.counters(-(n as i64), 0);
        first
    }

    /// Writes the entries `(name, ino, ft, rec_len)` into a fresh directory
    /// block `phys`; the last record must reach `DIR_DATA_SIZE`.
    fn write_dir_block(&mut self, phys: u64, entries: &[(&[u8], u64, u8, usize)]) {
        let b = self.block(phys);
        b.fill(0);
        let mut off = 0;
        for &(name, ino, ft, rec) in entries {
            DirEntryHeader {
                ino: ino.into(),
                rec_len: (rec as u16).into(),
                name_len: name.len() as u8,
                file_type: ft,
            }
            .encode(&mut b[off..]);
            b[off + 12..off + 12 + name.len()].copy_from_slice(name);
            off += rec;
        }
        assert_eq!(off, DIR_DATA_SIZE);
        csum_set(b, crc);
    }

    /// Adds an entry to directory `dir`, splitting the last record of a
    /// block with room, or else growing the directory by a block, as the
    /// kernel does.
    fn add_entry(&mut self, dir: u64, name: &[u8], ino: u64, ft: u8) {
        let mut d = self.inode(dir);
        let need = dir_rec_len(name.len());
        let count = usize::from(d.extent_count.get());
        let blocks: Vec<u64> = d.extents[..count]
            .iter()
            .flat_map(|e| e.start.get()..e.start.get() + u64::from(e.blocks()))
            .collect();
        for phys in blocks {
            let b = self.block(phys);
            let mut off = 0;
            while off < DIR_DATA_SIZE {
                let h = DirEntryHeader::decode(&b[off..]);
                let rec = usize::from(h.rec_len.get());
                let used = dir_rec_len(usize::from(h.name_len));
                if off + rec == DIR_DATA_SIZE && rec - used >= need {
                    let mut h2 = h;
                    h2.rec_len = (used as u16).into();
                    h2.encode(&mut b[off..]);
                    DirEntryHeader {
                        ino: ino.into(),
                        rec_len: ((rec - used) as u16).into(),
                        name_len: name.len() as u8,
                        file_type: ft,
                    }
                    .encode(&mut b[off + used..]);
                    b[off + used + 12..off + used + 12 + name.len()].copy_from_slice(name);
                    csum_set(b, crc);
                    return;
                }
                off += rec;
            }
        }
        // No room: a new block holding just this entry.
        let last = d.extents[count - 1];
        let phys = self.alloc_blocks(last.start.get() + 1, 1);
        self.write_dir_block(phys, &[(name, ino, ft, DIR_DATA_SIZE)]);
        let nblocks = d.size.get() / BLOCK_SIZE as u64;
        d.extents[count] = Extent {
            logical: (nblocks as u32).into(),
            len: 1.into(),
            start: phys.into(),
        };
        d.extent_count = ((count + 1) as u16).into();
        d.size = ((nblocks + 1) * BLOCK_SIZE as u64).into();
        d.blocks = (d.blocks.get() + 1).into();
        self.put_inode(dir, &d);
    }

    fn new_inode(&mut self, mode: u16, links: u16) -> (u64, Inode) {
        let ino = self.alloc_inode();
        let d = Inode {
            mode: mode.into(),
            links: links.into(),
            generation: 1.into(),
            atime: 1_700_000_000.into(),
            mtime: 1_700_000_000.into(),
            ctime: 1_700_000_000.into(),
            ..Default::default()
        };
        (ino, d)
    }

    fn mkdir(&mut self, parent: u64, name: &[u8]) -> u64 {
        let (ino, mut d) = self.new_inode(0o040755, 2);
        let blk = self.alloc_blocks(0, 1);
        let dot = dir_rec_len(1);
        self.write_dir_block(
            blk,
            &[
                (b".", ino, FT_DIR, dot),
                (b"..", parent, FT_DIR, DIR_DATA_SIZE - dot),
            ],
        );
        d.size = (BLOCK_SIZE as u64).into();
        d.blocks = 1.into();
        d.extent_count = 1.into();
        d.extents[0] = Extent {
            logical: 0.into(),
            len: 1.into(),
            start: blk.into(),
        };
        self.put_inode(ino, &d);
        self.add_entry(parent, name, ino, FT_DIR);
        let mut p = self.inode(parent);
        p.links = (p.links.get() + 1).into();
        self.put_inode(parent, &p);
        ino
    }

    /// A regular file mapping file blocks `(logical, len)` to fresh disk
    /// blocks filled with a pattern (the runs must not touch in the file,
    /// or the kernel would have merged them); extents past the ninth go to
    /// an overflow block.
    fn file(&mut self, parent: u64, name: &[u8], runs: &[(u32, u32)], size: u64) -> u64 {
        let runs: Vec<(u32, u32, bool)> = runs.iter().map(|&(l, n)| (l, n, false)).collect();
        self.file_with(parent, name, &runs, size)
    }

    /// As [`Builder::file`], with runs `(logical, len, unwritten)`: an
    /// unwritten run's blocks are allocated, and hold the pattern all
    /// the same (what the disk held before, which the file never shows).
    fn file_with(&mut self, parent: u64, name: &[u8], runs: &[(u32, u32, bool)], size: u64) -> u64 {
        let (ino, mut d) = self.new_inode(0o100644, 1);
        let mut extents = Vec::new();
        for &(logical, len, unwritten) in runs {
            let start = self.alloc_blocks(0, u64::from(len));
            for b in start..start + u64::from(len) {
                let fill = (b as u8) ^ (ino as u8);
                self.block(b).fill(fill);
            }
            extents.push(Extent {
                logical: logical.into(),
                len: Extent::len_field(len, unwritten),
                start: start.into(),
            });
        }
        let mut blocks: u64 = runs.iter().map(|r| u64::from(r.1)).sum();
        let inline = extents.len().min(INODE_EXTENTS);
        d.extents[..inline].copy_from_slice(&extents[..inline]);
        d.extent_count = (inline as u16).into();
        let rest = &extents[inline..];
        if !rest.is_empty() {
            assert!(rest.len() <= EXTENT_BLOCK_EXTENTS);
            let blk = self.alloc_blocks(0, 1);
            let b = self.block(blk);
            b.fill(0);
            ExtentBlockHeader {
                magic: EXTENT_BLOCK_MAGIC.into(),
                count: (rest.len() as u16).into(),
                pad0: 0.into(),
                next: 0.into(),
            }
            .encode(b);
            for (i, e) in rest.iter().enumerate() {
                e.encode(&mut b[ExtentBlockHeader::SIZE + i * Extent::SIZE..]);
            }
            csum_set(b, crc);
            d.extent_block = blk.into();
            blocks += 1;
        }
        d.blocks = blocks.into();
        d.size = size.into();
        self.put_inode(ino, &d);
        self.add_entry(parent, name, ino, FT_REG);
        ino
    }

    fn symlink(&mut self, parent: u64, name: &[u8], target: &[u8]) -> u64 {
        let (ino, mut d) = self.new_inode(0o120777, 1);
        d.size = (target.len() as u64).into();
        let max = INLINE_LINK_MAX;
        if target.len() <= max {
            let mut area = vec![0u8; max];
            area[..target.len()].copy_from_slice(target);
            d.extents = <[Extent; INODE_EXTENTS] as Field>::read(&area);
            d.flags = INODE_FLAG_INLINE.into();
        } else {
            let blk = self.alloc_blocks(0, 1);
            let b = self.block(blk);
            b.fill(0);
            b[..target.len()].copy_from_slice(target);
            d.extents[0] = Extent {
                logical: 0.into(),
                len: 1.into(),
                start: blk.into(),
            };
            d.extent_count = 1.into();
            d.blocks = 1.into();
        }
        self.put_inode(ino, &d);
        self.add_entry(parent, name, ino, FT_SYMLINK);
        ino
    }

    /// Gives inode `ino` the extended attributes `(index, name, value)`
    /// in a block of its own, as the kernel lays them out.
    fn xattrs(&mut self, ino: u64, attrs: &[(u8, &[u8], &[u8])]) {
        let mut blk = vec![0u8; BLOCK_SIZE];
        for &(index, name, value) in attrs {
            let mut out = vec![0u8; BLOCK_SIZE];
            let old: Vec<Xattr<'_>> = if blk.iter().any(|&x| x != 0) {
                xattrs(&blk, ino, crc).unwrap().collect()
            } else {
                Vec::new()
            };
            xattrs_with(
                old.into_iter(),
                (index, name, Some(value)),
                ino,
                &mut out,
                crc,
            )
            .unwrap();
            blk = out;
        }
        let b = self.alloc_blocks(0, 1);
        self.block(b).copy_from_slice(&blk);
        let mut d = self.inode(ino);
        d.xattr_block = b.into();
        d.blocks = (d.blocks.get() + 1).into();
        self.put_inode(ino, &d);
    }

    /// Sets the superblock's unwritten-extents feature, as the kernel does
    /// with the first `fallocate`.
    fn allow_unwritten(&mut self) {
        let mut sb = Superblock::decode(&self.img);
        sb.feature_incompat = (sb.feature_incompat.get() | FEATURE_INCOMPAT_UNWRITTEN).into();
        sb.encode(&mut self.img);
        csum_set(&mut self.img[..Superblock::SIZE], crc);
    }

    fn link(&mut self, parent: u64, name: &[u8], ino: u64) {
        let mut d = self.inode(ino);
        d.links = (d.links.get() + 1).into();
        self.put_inode(ino, &d);
        self.add_entry(parent, name, ino, FT_REG);
    }
}

/// A temporary file name of this process and thread (tests run in
/// parallel); the callers remove the file.
fn temp_path(name: &str) -> PathBuf {
    let tid = format!("{:?}", std::thread::current().id());
    let tid: String = tid.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!(
        "rsfs-fuzz-test-{}-{tid}-{name}.img",
        std::process::id()
    ))
}

/// The populated seed image, built once.
fn seed_image() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    SEED.get_or_init(|| populate(Builder::new()).img)
}

/// The seed image with the unwritten-extents feature, and one more file
/// in the root, "prealloc", whose map mixes written and unwritten extents
/// (the first two continue each other on disk and in the file, as a write
/// into the start of a preallocated range leaves them), built once.
fn unwritten_seed_image() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    SEED.get_or_init(|| {
        let mut b = populate(Builder::new());
        b.allow_unwritten();
        let runs = [(0, 1, false), (1, 3, true), (6, 2, false), (9, 4, true)];
        b.file_with(ROOT_INO, b"prealloc", &runs, 13 * 4096);
        b.img
    })
}

/// Fills a fresh filesystem with the seed's files.
fn populate(mut b: Builder) -> Builder {
    let a = b.mkdir(ROOT_INO, b"a");
    let ab = b.mkdir(a, b"b");
    b.mkdir(ab, b"c");
    let docs = b.mkdir(ROOT_INO, b"docs");
    let hello = b.file(ROOT_INO, b"hello.txt", &[(0, 1)], 100);
    b.file(ROOT_INO, b"sparse", &[(0, 2), (10, 1), (20, 3)], 23 * 4096);
    let runs: Vec<(u32, u32)> = (0..12).map(|i| (i * 4, 1 + i % 3)).collect();
    b.file(ROOT_INO, b"big", &runs, 48 * 4096);
    b.file(ab, b"empty", &[], 0);
    b.link(a, b"hard", hello);
    b.xattrs(
        hello,
        &[
            (XATTR_INDEX_USER, b"b", b"second"),
            (XATTR_INDEX_USER, b"a", b"first"),
            (XATTR_INDEX_SECURITY, b"label", b"x"),
        ],
    );
    b.xattrs(a, &[(XATTR_INDEX_TRUSTED, b"t", &[7u8; 300])]);
    // A default ACL as the VFS writes it: rwx for the owner, r-x for
    // the group and others.
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm) in [(1u16, 7u16), (4, 5), (0x20, 5)] {
        acl.extend(tag.to_le_bytes());
        acl.extend(perm.to_le_bytes());
        acl.extend(u32::MAX.to_le_bytes());
    }
    b.xattrs(docs, &[(XATTR_INDEX_POSIX_ACL_DEFAULT, b"", &acl)]);
    let short = b.symlink(ROOT_INO, b"short-link", b"hello.txt");
    b.xattrs(short, &[(XATTR_INDEX_SECURITY, b"s", b"")]);
    b.symlink(a, b"long-link", &[b'x'; 200]);
    // Names long enough that "docs" needs a second block.
    for i in 0..16 {
        let name = format!("{i:02}-{}", "n".repeat(240));
        b.file(docs, name.as_bytes(), &[], 0);
    }
    b
}

/// Damages a copy of the seed image.
fn damaged(seed: u64, index: u64, class: Option<Class>) -> (Vec<u8>, Outcome) {
    damaged_from(seed_image(), seed, index, class)
}

/// Damages a copy of `base`.
fn damaged_from(base: &[u8], seed: u64, index: u64, class: Option<Class>) -> (Vec<u8>, Outcome) {
    let mut img = base.to_vec();
    let o = damage(&mut img, seed, index, class).unwrap_or_else(|e| panic!("{index}: {e:#}"));
    (img, o)
}

/// What fsck.rsfs made of an image.
#[derive(Debug)]
#[allow(dead_code)] // The messages are read through Debug, in failure reports.
enum Verdict {
    Clean,
    Problems(Vec<String>),
    /// fsck gave up with an operational error (exit code 8).
    Error(String),
    /// fsck panicked.
    Panic,
}

fn fsck(img: &[u8]) -> Verdict {
    let path = temp_path("check");
    std::fs::write(&path, img).unwrap();
    let r = std::panic::catch_unwind(|| check(&path, Mode::Check));
    std::fs::remove_file(&path).unwrap();
    match r {
        Ok(Ok(Report { problems, .. })) if problems.is_empty() => Verdict::Clean,
        Ok(Ok(r)) => Verdict::Problems(r.problems.into_iter().map(|p| p.message).collect()),
        Ok(Err(e)) => Verdict::Error(format!("{e:#}")),
        Err(_) => Verdict::Panic,
    }
}

#[test]
fn seed_image_is_clean_and_has_every_structure() {
    let img = seed_image();
    match fsck(img) {
        Verdict::Clean => {}
        v => panic!("seed image not clean: {v:?}"),
    }
    let m = Model::parse(img).unwrap();
    let kind = |k| m.nodes.iter().filter(|n| n.kind == k).count();
    assert_eq!(kind(FileKind::Dir), 5);
    assert_eq!(kind(FileKind::Symlink), 2);
    assert!(m.nodes.iter().any(|n| n.inline));
    assert!(m.nodes.iter().any(|n| !n.overflow.is_empty()));
    assert_eq!(m.nodes.iter().filter(|n| n.xattr.is_some()).count(), 4);
    assert!(m
        .nodes
        .iter()
        .any(|n| n.kind == FileKind::Dir && n.disk.size.get() > BLOCK_SIZE as u64));
    // Inodes 2, 3, 4 are a, a/b, a/b/c.
    assert_eq!(m.ancestors(4), vec![3, 2, ROOT_INO]);
}

#[test]
fn every_class_changes_the_image_deterministically() {
    let seed_img = seed_image();
    for class in Class::ALL {
        let mut distinct = BTreeSet::new();
        for index in 0..12 {
            let (a, oa) = damaged(42, index, Some(class));
            assert_ne!(a, seed_img, "{oa}: image unchanged");
            let (b, ob) = damaged(42, index, Some(class));
            assert!(a == b, "{oa}: not deterministic");
            assert_eq!(oa, ob);
            assert_eq!(oa.class, class);
            // Not a CRC: a CRC over blocks whose checksums were fixed up
            // is blind to the change.
            let mut h = DefaultHasher::new();
            a.hash(&mut h);
            distinct.insert(h.finish());
        }
        assert!(
            distinct.len() >= 8,
            "{class}: only {} distinct images of 12",
            distinct.len()
        );
        // Another seed gives other damage.
        let (a, _) = damaged(42, 0, Some(class));
        let (b, _) = damaged(7, 0, Some(class));
        let (c, _) = damaged(8, 0, Some(class));
        assert!(a != b || a != c, "{class}: the seed makes no difference");
    }
}

#[test]
fn index_picks_the_class_round_robin() {
    let mut seen = BTreeMap::new();
    for index in 0..18 * Class::ALL.len() as u64 {
        let (_, o) = damaged(3, index, None);
        assert_eq!(o.class, Class::for_index(index));
        *seen.entry(o.class.name()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), Class::ALL.len());
    assert!(seen.values().all(|&n| n >= 18), "{seen:?}");
}

#[test]
fn every_variant_applies_to_the_seed_image() {
    for class in Class::ALL {
        let mut seen = BTreeSet::new();
        for index in 0..150 {
            seen.insert(damaged(1, index, Some(class)).1.variant);
        }
        let all: BTreeSet<_> = class.variants().into_iter().collect();
        assert_eq!(seen, all, "{class}: variants never chosen");
    }
}

#[test]
fn the_report_line_names_the_damage() {
    let (_, o) = damaged(42, 17, None);
    let line = o.to_string();
    assert!(
        line.starts_with(&format!("image 17 (seed 42): {}: {}: ", o.class, o.variant)),
        "{line}"
    );
    assert!(!line.contains('\n'));
}

#[test]
fn damaged_images_are_refused_as_input() {
    // The generator starts only from a sound image: its own output, damaged
    // so that a checksum or a structure is wrong, is refused.
    for class in [Class::BadCsum, Class::ExtentRange] {
        for index in 0..5 {
            let (mut img, o) = damaged(5, index, Some(class));
            assert!(damage(&mut img, 5, 1, None).is_err(), "{o} accepted");
        }
    }
}

/// Damage no checker can see: symlink targets are not checksummed, so a
/// flipped bit in one is only a different target.
fn known_gap(o: &Outcome) -> bool {
    o.class == Class::BitflipRaw && o.variant == "symlink-block"
}

/// A change that is no damage: a regular file's extent made unwritten or
/// written on a filesystem with the unwritten-extents feature.
fn not_damage(o: &Outcome) -> bool {
    o.variant == "unwritten-flip" && o.detail.contains("not damage")
}

#[test]
fn fsck_finds_the_damage() {
    // bitflip-csum is left out: a flipped bit with a fixed checksum may
    // land in a field no check covers (a timestamp, a name byte).
    let classes = Class::ALL.into_iter().filter(|&c| c != Class::BitflipCsum);
    let mut missed = Vec::new();
    let mut gaps = BTreeMap::new();
    for class in classes {
        for index in 0..30 {
            let (img, o) = damaged(2024, index, Some(class));
            let v = fsck(&img);
            let found = matches!(v, Verdict::Problems(_));
            if not_damage(&o) {
                continue;
            }
            if known_gap(&o) {
                let e: &mut (u32, u32) = gaps.entry((o.class.name(), o.variant)).or_default();
                e.0 += 1;
                e.1 += u32::from(!found);
            } else if !found {
                missed.push(format!("{o}: {v:?}"));
            }
        }
    }
    for ((c, v), (n, undetected)) in &gaps {
        eprintln!("known fsck gap {c}/{v}: {undetected} of {n} not detected");
    }
    assert!(missed.is_empty(), "fsck missed:\n{}", missed.join("\n"));
}

#[test]
fn fsck_on_bitflips_with_fixed_checksums() {
    // Not every such flip is damage fsck can see; this only reports.
    let mut by_variant: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for index in 0..40 {
        let (img, o) = damaged(99, index, Some(Class::BitflipCsum));
        let e = by_variant.entry(o.variant).or_default();
        e.0 += 1;
        if matches!(fsck(&img), Verdict::Problems(_)) {
            e.1 += 1;
        }
    }
    for (v, (n, found)) in by_variant {
        eprintln!("bitflip-csum/{v}: fsck found {found} of {n}");
    }
}

/// `fsck.rsfs -y` on an image, then `-n`: the exit code of each, and what
/// the second still found.
fn repair(img: &[u8]) -> (i32, i32, Vec<String>) {
    let path = temp_path("repair");
    std::fs::write(&path, img).unwrap();
    let r = std::panic::catch_unwind(|| {
        let y = check(&path, Mode::Repair).map(|r| (r.exit_code(), r.problems));
        let n = check(&path, Mode::Check).map(|r| (r.exit_code(), r.problems));
        (y, n)
    });
    std::fs::remove_file(&path).unwrap();
    match r {
        Ok((Ok((y, yp)), Ok((n, np)))) => {
            let left = if n == 8 { yp } else { np };
            (y, n, left.into_iter().map(|p| p.message).collect())
        }
        Ok((y, n)) => (-1, -1, vec![format!("{:?} {:?}", y.err(), n.err())]),
        Err(_) => (-2, -2, vec!["fsck panicked".into()]),
    }
}

#[test]
fn fsck_repairs_every_damaged_image() {
    // After -y, -n finds nothing, whatever the damage: every class,
    // bit flips with fixed checksums included. The one exception is a
    // superblock fsck must not touch: one with a sound checksum that says
    // it is not rsfs, or a version, feature or block size this fsck does
    // not know (exit code 8 both times, as e2fsck's).
    let mut left = Vec::new();
    let (mut repaired, mut refused, mut clean) = (0, 0, 0);
    for class in Class::ALL {
        for index in 0..30 {
            let (img, o) = damaged(2024, index, Some(class));
            let (y, n, problems) = repair(&img);
            let refusal = |p: &String| p.contains("bad magic") || p.contains("not supported");
            match (y, n) {
                (8, 8) if problems.iter().all(refusal) => refused += 1,
                (0, 0) => clean += 1,
                (1, 0) => repaired += 1,
                _ => left.push(format!("{o}: -y {y}, -n {n}: {problems:?}")),
            }
        }
    }
    eprintln!("repaired {repaired}, clean already {clean}, refused {refused}");
    assert!(left.is_empty(), "left damaged:\n{}", left.join("\n"));
}

#[test]
fn unwritten_seed_image_is_clean() {
    let img = unwritten_seed_image();
    match fsck(img) {
        Verdict::Clean => {}
        v => panic!("seed image with unwritten extents not clean: {v:?}"),
    }
    let m = Model::parse(img).unwrap();
    assert!(m.has_unwritten());
    assert!(!Model::parse(seed_image()).unwrap().has_unwritten());
    let ino = m
        .records
        .iter()
        .find(|r| r.name == b"prealloc")
        .unwrap()
        .ino;
    let e = &m.node(ino).unwrap().extents;
    let flags: Vec<bool> = e.iter().map(|e| e.unwritten).collect();
    assert_eq!(flags, [false, true, false, true]);
    assert_eq!((e[1].logical, e[1].len), (1, 3));
    // Two extents that continue each other, written then unwritten.
    assert_eq!(e[0].start + u64::from(e[0].len), e[1].start);
    assert_eq!(e[1].disk().len.get(), 3 | EXTENT_UNWRITTEN);
}

/// Flips the unwritten bit of extents of `base` (class extent-range,
/// variant unwritten-flip, indices `0..300` of a fixed seed). Checks that
/// what the detail calls no damage is a sound image fsck finds clean, and
/// that the rest is refused by the fuzzer's model, found by fsck and
/// repaired by -y. Returns how many of each it made: no damage made
/// unwritten, no damage made written, damage.
fn flip_unwritten_bits(base: &[u8]) -> (u32, u32, u32) {
    let (mut zeroes, mut written, mut damage_seen) = (0, 0, 0);
    for index in 0..300 {
        let (img, o) = damaged_from(base, 11, index, Some(Class::ExtentRange));
        if o.variant != "unwritten-flip" {
            continue;
        }
        if not_damage(&o) {
            assert!(Model::parse(&img).is_ok(), "{o}: refused as input");
            assert!(
                matches!(fsck(&img), Verdict::Clean),
                "{o}: {:?}",
                fsck(&img)
            );
            if o.detail.contains("now unwritten") {
                zeroes += 1;
            } else {
                written += 1;
            }
        } else {
            damage_seen += 1;
            assert!(Model::parse(&img).is_err(), "{o}: accepted as input");
            match fsck(&img) {
                Verdict::Problems(p) if p.iter().any(|m| m.contains("unwritten extent")) => {}
                v => panic!("{o}: {v:?}"),
            }
            let (y, n, left) = repair(&img);
            assert_eq!((y, n), (1, 0), "{o}: {left:?}");
        }
    }
    (zeroes, written, damage_seen)
}

#[test]
fn unwritten_flip_without_the_feature_is_always_damage() {
    let (zeroes, written, damage_seen) = flip_unwritten_bits(seed_image());
    assert_eq!((zeroes, written), (0, 0));
    assert!(damage_seen >= 10, "only {damage_seen} flips");
}

#[test]
fn unwritten_flip_with_the_feature_is_damage_outside_regular_files() {
    let (zeroes, written, damage_seen) = flip_unwritten_bits(unwritten_seed_image());
    eprintln!("made unwritten {zeroes}, made written {written}, damage {damage_seen}");
    assert!(zeroes > 0 && written > 0 && damage_seen > 0);
}

#[test]
fn fsck_repairs_damage_to_a_filesystem_with_unwritten_extents() {
    // As fsck_repairs_every_damaged_image, on the seed with unwritten
    // extents: whatever the damage, -y leaves what -n finds clean (or
    // refuses a superblock it does not know, and changes nothing).
    let mut left = Vec::new();
    for class in Class::ALL {
        for index in 0..12 {
            let (img, o) = damaged_from(unwritten_seed_image(), 2024, index, Some(class));
            let (y, n, problems) = repair(&img);
            let refusal = |p: &String| p.contains("bad magic") || p.contains("not supported");
            match (y, n) {
                (8, 8) if problems.iter().all(refusal) => {}
                (0, 0) | (1, 0) => {}
                _ => left.push(format!("{o}: -y {y}, -n {n}: {problems:?}")),
            }
        }
    }
    assert!(left.is_empty(), "left damaged:\n{}", left.join("\n"));
}

#[test]
fn feature_incompat_damage_always_sets_an_unknown_feature() {
    // Bit 0 (unwritten extents) is known now: setting only that is no
    // damage, so the variant must always set an unknown bit, and leave
    // the known ones as they were.
    for base in [seed_image(), unwritten_seed_image()] {
        let before = Superblock::decode(base).feature_incompat.get();
        let mut seen = 0;
        for index in 0..1500 {
            let (img, o) = damaged_from(base, 13, index, Some(Class::SuperblockFields));
            if o.variant != "feature-incompat" {
                continue;
            }
            seen += 1;
            let f = Superblock::decode(&img).feature_incompat.get();
            assert_ne!(f & !FEATURE_INCOMPAT_KNOWN, 0, "{o}");
            assert_eq!(f & FEATURE_INCOMPAT_KNOWN, before, "{o}");
            assert!(Superblock::validate(&img, crc).is_err(), "{o}");
        }
        assert!(seen >= 100, "only {seen}");
    }
}
