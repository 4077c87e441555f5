// SPDX-License-Identifier: GPL-2.0

//! Each kind of damage fsck.rsfs detects, made on purpose in an image built
//! by mkfs.rsfs (and, for the multi-file cases, by a small builder here that
//! adds directories the way the kernel does).

use std::path::Path;

use fsck_rsfs::{check, Kind, Mode, Report};
use rsfs_format::*;

mod common;
use common::{crc, Img};

impl Img {
    fn inode(&self, ino: u64) -> Inode {
        let (b, off) = self.geo.inode_location(ino);
        Inode::decode(&self.read(b)[off..])
    }

    fn put_inode(&self, ino: u64, d: &Inode) {
        let (b, off) = self.geo.inode_location(ino);
        let mut blk = self.read(b);
        d.encode(&mut blk[off..]);
        csum_set(&mut blk[off..off + INODE_SIZE], crc);
        self.write(b, &blk);
    }

    /// Sets bit `bit` of the bitmap starting at `start`, fixing its checksum.
    fn set_bit(&self, start: u64, bit: u64, value: bool) {
        let n = start + bit / BITS_PER_BITMAP_BLOCK;
        let mut b = self.read(n);
        bitmap_set(&mut b, bit % BITS_PER_BITMAP_BLOCK, value);
        csum_set(&mut b, crc);
        self.write(n, &b);
    }

    fn first_free(&self, start: u64, from: u64) -> u64 {
        let b = self.read(start);
        (from..).find(|&i| !bitmap_test(&b, i)).unwrap()
    }

    fn adjust_counters(&self, blocks: i64, inodes: i64) {
        let mut b = self.read(0);
        let mut sb = Superblock::decode(&b);
        sb.free_blocks = ((sb.free_blocks.get() as i64 + blocks) as u64).into();
        sb.free_inodes = ((sb.free_inodes.get() as i64 + inodes) as u64).into();
        sb.encode(&mut b);
        csum_set(&mut b[..Superblock::SIZE], crc);
        self.write(0, &b);
    }

    /// Adds an entry to the first block of directory `dir`, splitting its
    /// last entry, as the kernel does.
    fn add_entry(&self, dir: u64, name: &[u8], ino: u64, ft: u8) {
        let blk = self.inode(dir).extents[0].start.get();
        let img = fsck_rsfs::image::Image::open(&self.path, true).unwrap();
        assert!(fsck_rsfs::dir::add_entry(&img, &[blk], name, ino, ft).unwrap());
    }

    /// Creates directory `name` in `parent`; returns its inode number.
    fn mkdir(&self, parent: u64, name: &[u8]) -> u64 {
        let ino = self.first_free(self.geo.inode_bitmap_start, 1);
        let blk = self.first_free(self.geo.block_bitmap_start, self.geo.data_start);
        let b = fsck_rsfs::dir::build_block(&[(b".", ino, FT_DIR), (b"..", parent, FT_DIR)]);
        self.write(blk, &b);
        let mut extents = [Extent::default(); INODE_EXTENTS];
        extents[0] = Extent {
            logical: 0.into(),
            len: 1.into(),
            start: blk.into(),
        };
        self.put_inode(
            ino,
            &Inode {
                mode: 0o040755.into(),
                links: 2.into(),
                size: (BLOCK_SIZE as u64).into(),
                blocks: 1.into(),
                extent_count: 1.into(),
                extents,
                ..Default::default()
            },
        );
        self.set_bit(self.geo.inode_bitmap_start, ino, true);
        self.set_bit(self.geo.block_bitmap_start, blk, true);
        self.adjust_counters(-1, -1);
        self.add_entry(parent, name, ino, FT_DIR);
        let mut p = self.inode(parent);
        p.links = (p.links.get() + 1).into();
        self.put_inode(parent, &p);
        ino
    }

    /// Creates a device, pipe or socket `name` (`mode` with its type bits)
    /// in `parent`; returns its inode number.
    fn mknod(&self, parent: u64, name: &[u8], mode: u16, rdev: u32, ft: u8) -> u64 {
        let ino = self.first_free(self.geo.inode_bitmap_start, 1);
        self.put_inode(
            ino,
            &Inode {
                mode: mode.into(),
                links: 1.into(),
                rdev: rdev.into(),
                ..Default::default()
            },
        );
        self.set_bit(self.geo.inode_bitmap_start, ino, true);
        self.adjust_counters(0, -1);
        self.add_entry(parent, name, ino, ft);
        ino
    }

    /// Creates symlink `name` to `target` in `parent`, as the kernel does:
    /// inside the inode when the target fits there, else in one block.
    /// Returns its inode number.
    fn symlink(&self, parent: u64, name: &[u8], target: &[u8]) -> u64 {
        let ino = self.first_free(self.geo.inode_bitmap_start, 1);
        let mut d = Inode {
            mode: 0o120777.into(),
            links: 1.into(),
            size: (target.len() as u64).into(),
            ..Default::default()
        };
        let mut area = [0u8; INLINE_LINK_MAX];
        if target.len() <= area.len() {
            area[..target.len()].copy_from_slice(target);
            d.extents = Field::read(&area);
            d.flags = INODE_FLAG_INLINE.into();
            self.adjust_counters(0, -1);
        } else {
            let blk = self.first_free(self.geo.block_bitmap_start, self.geo.data_start);
            let mut b = vec![0u8; BLOCK_SIZE];
            b[..target.len()].copy_from_slice(target);
            self.write(blk, &b);
            d.extents[0] = Extent {
                logical: 0.into(),
                len: 1.into(),
                start: blk.into(),
            };
            d.extent_count = 1.into();
            d.blocks = 1.into();
            self.set_bit(self.geo.block_bitmap_start, blk, true);
            self.adjust_counters(-1, -1);
        }
        self.put_inode(ino, &d);
        self.set_bit(self.geo.inode_bitmap_start, ino, true);
        self.add_entry(parent, name, ino, FT_SYMLINK);
        ino
    }

    /// The names in directory `dir` (its first extent's blocks).
    fn entries(&self, dir: u64) -> Vec<(Vec<u8>, u64)> {
        let d = self.inode(dir);
        let e = d.extents[0];
        (0..u64::from(e.len.get()))
            .flat_map(|i| {
                fsck_rsfs::dir::read_block(&self.image(), e.start.get() + i)
                    .unwrap()
                    .entries
                    .unwrap()
            })
            .map(|e| (e.name, e.ino))
            .collect()
    }

    fn names(&self, dir: u64) -> Vec<Vec<u8>> {
        self.entries(dir).into_iter().map(|(n, _)| n).collect()
    }

    fn lookup(&self, dir: u64, name: &[u8]) -> Option<u64> {
        self.entries(dir)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| i)
    }

    fn image(&self) -> fsck_rsfs::image::Image {
        fsck_rsfs::image::Image::open(&self.path, false).unwrap()
    }

    fn check(&self, mode: Mode) -> Report {
        check(&self.path, mode).unwrap()
    }
}

fn has(r: &Report, needle: &str) -> bool {
    r.problems.iter().any(|p| p.message.contains(needle))
}

/// Checks that damage is found by `-n` (exit 4) and that `-y` gives the
/// expected exit code, after which a second `-n` says what is left.
fn expect(img: &Img, needle: &str, kind: Kind, repairable: bool) {
    let r = img.check(Mode::Check);
    assert!(has(&r, needle), "{needle:?} not in {:?}", r.problems);
    assert!(r.problems.iter().any(|p| p.kind == kind));
    assert_eq!(r.exit_code(), 4);
    let r = img.check(Mode::Repair);
    assert_eq!(
        r.exit_code(),
        if repairable { 1 } else { 4 },
        "{:?}",
        r.problems
    );
    let r = img.check(Mode::Check);
    assert_eq!(
        r.exit_code(),
        if repairable { 0 } else { 4 },
        "{:?}",
        r.problems
    );
}

#[test]
fn fresh_filesystem_is_clean() {
    let img = Img::new("fresh");
    let r = img.check(Mode::Check);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);
    assert_eq!(r.inodes_used, 1);
}

#[test]
fn built_tree_is_clean() {
    let img = Img::new("tree");
    let a = img.mkdir(ROOT_INO, b"a");
    img.mkdir(a, b"b");
    img.mkdir(ROOT_INO, b"c");
    let r = img.check(Mode::Check);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);
    assert_eq!(r.inodes_used, 4);
}

#[test]
fn special_files_are_clean() {
    let img = Img::new("special");
    img.mknod(ROOT_INO, b"null", 0o020666, (1 << 8) | 3, FT_CHRDEV);
    img.mknod(ROOT_INO, b"loop0", 0o060660, 7 << 8, FT_BLKDEV);
    img.mknod(ROOT_INO, b"fifo", 0o010644, 0, FT_FIFO);
    img.mknod(ROOT_INO, b"sock", 0o140755, 0, FT_SOCK);
    let r = img.check(Mode::Check);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);
    assert_eq!(r.inodes_used, 5);
}

#[test]
fn chattr_flags_are_clean_on_files_and_directories_only() {
    let img = Img::new("chattr");
    let dir = img.mkdir(ROOT_INO, b"d");
    let fifo = img.mknod(ROOT_INO, b"fifo", 0o010644, 0, FT_FIFO);
    let mut d = img.inode(dir);
    d.flags = (INODE_FLAG_IMMUTABLE | INODE_FLAG_NOATIME).into();
    img.put_inode(dir, &d);
    let r = img.check(Mode::Check);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);

    let mut f = img.inode(fifo);
    f.flags = INODE_FLAG_APPEND.into();
    img.put_inode(fifo, &f);
    expect(
        &img,
        "chattr flags 0x8 on a file that is neither regular nor a directory cleared",
        Kind::Corruption,
        true,
    );
}

#[test]
fn dirsync_is_for_directories_only() {
    let img = Img::new("dirsync");
    let dir = img.mkdir(ROOT_INO, b"d");
    let file = img.mknod(ROOT_INO, b"f", 0o100644, 0, FT_REG);
    let mut d = img.inode(dir);
    d.flags = INODE_FLAG_DIRSYNC.into();
    img.put_inode(dir, &d);
    let r = img.check(Mode::Check);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);

    let mut f = img.inode(file);
    f.flags = (INODE_FLAG_DIRSYNC | INODE_FLAG_NODUMP).into();
    img.put_inode(file, &f);
    expect(
        &img,
        "DIRSYNC flag on a file that is not a directory cleared",
        Kind::Corruption,
        true,
    );
    assert_eq!(img.inode(file).flags.get(), INODE_FLAG_NODUMP);
}

#[test]
fn special_file_with_blocks() {
    let img = Img::new("special-blocks");
    let ino = img.mknod(ROOT_INO, b"fifo", 0o010644, 0, FT_FIFO);
    let mut d = img.inode(ino);
    d.size = 4096.into();
    img.put_inode(ino, &d);
    expect(
        &img,
        "special file with a size or blocks; they were dropped",
        Kind::Corruption,
        true,
    );
}

#[test]
fn symlinks_are_clean() {
    let img = Img::new("symlinks");
    img.symlink(ROOT_INO, b"short", b"target");
    img.symlink(ROOT_INO, b"long", &[b'x'; 300]);
    let r = img.check(Mode::Check);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);
    assert_eq!(r.inodes_used, 3);
}

#[test]
fn symlink_target_with_a_nul_is_cleared() {
    // The kernel refuses a target with a NUL in it (EUCLEAN), so fsck
    // must not call such a symlink sound: inline or in a block.
    let img = Img::new("symlink-nul");
    img.symlink(ROOT_INO, b"short", b"tar\0get");
    expect(
        &img,
        "symlink target holds a NUL byte",
        Kind::Corruption,
        true,
    );
    assert_eq!(img.lookup(ROOT_INO, b"short"), None);

    let long = img.symlink(ROOT_INO, b"long", &[b'x'; 300]);
    let blk = img.inode(long).extents[0].start.get();
    let mut b = img.read(blk);
    b[100] = 0;
    img.write(blk, &b);
    expect(
        &img,
        "symlink target holds a NUL byte",
        Kind::Corruption,
        true,
    );
    assert_eq!(img.lookup(ROOT_INO, b"long"), None);
}

#[test]
fn symlink_sharing_a_directory_block_loses_it() {
    // A symlink (newer, so it would win a block claimed twice) whose
    // extent was pointed at a directory's block: what it reads there is no
    // target, so it is cleared and the directory keeps its block. Found
    // by rsfs-fuzz (class extent-overlap, shared-with-file): fsck used to
    // keep the symlink and the kernel then refused it.
    let img = Img::new("symlink-shared");
    let a = img.mkdir(ROOT_INO, b"a");
    let link = img.symlink(ROOT_INO, b"link", &[b'y'; 300]);
    let mut d = img.inode(link);
    d.extents[0].start = img.inode(a).extents[0].start;
    d.ctime = 100.into();
    img.put_inode(link, &d);
    expect(
        &img,
        "symlink target holds a NUL byte",
        Kind::Corruption,
        true,
    );
    assert_eq!(img.lookup(ROOT_INO, b"a"), Some(a));
    assert_eq!(img.lookup(ROOT_INO, b"link"), None);
}

#[test]
fn special_file_entry_with_the_wrong_type() {
    let img = Img::new("special-ft");
    img.mknod(ROOT_INO, b"fifo", 0o010644, 0, FT_SOCK);
    expect(&img, "has the wrong file type", Kind::Corruption, true);
}

#[test]
fn bad_superblock_checksum() {
    let img = Img::new("sbcsum");
    let mut b = img.read(0);
    b[176] ^= 1; // the label
    img.write(0, &b);
    expect(
        &img,
        "superblock: checksum mismatch",
        Kind::Corruption,
        true,
    );
}

#[test]
fn not_rsfs() {
    let img = Img::new("magic");
    img.write(0, &[0u8; BLOCK_SIZE]);
    // Not checked at all, as e2fsck refuses what is not ext2: exit code 8.
    for mode in [Mode::Check, Mode::Repair] {
        let r = img.check(mode);
        assert!(has(&r, "bad magic"), "{:?}", r.problems);
        assert_eq!(r.exit_code(), 8);
    }
}

#[test]
fn bad_bitmap_checksum_is_rewritten() {
    let img = Img::new("bmcsum");
    let mut b = img.read(img.geo.block_bitmap_start);
    b[BLOCK_SIZE - 1] ^= 0xff;
    img.write(img.geo.block_bitmap_start, &b);
    expect(
        &img,
        "block bitmap block 0: checksum mismatch",
        Kind::Corruption,
        true,
    );
}

#[test]
fn leaked_block_is_freed() {
    let img = Img::new("leakblk");
    img.set_bit(img.geo.block_bitmap_start, img.geo.data_start + 100, true);
    img.adjust_counters(-1, 0);
    expect(
        &img,
        "1 blocks are marked in use but belong to no file",
        Kind::Leak,
        true,
    );
}

#[test]
fn used_block_marked_free_is_marked() {
    let img = Img::new("freeblk");
    img.set_bit(img.geo.block_bitmap_start, img.geo.data_start, false);
    img.adjust_counters(1, 0);
    expect(
        &img,
        "blocks in use are marked free",
        Kind::Corruption,
        true,
    );
}

#[test]
fn wrong_counters_are_fixed() {
    let img = Img::new("counters");
    img.adjust_counters(-5, 3);
    expect(&img, "superblock counts", Kind::Leak, true);
}

#[test]
fn bad_inode_checksum() {
    let img = Img::new("icsum");
    let (b, off) = img.geo.inode_location(ROOT_INO);
    let mut blk = img.read(b);
    blk[off + 32] ^= 1; // the access time
    img.write(b, &blk);
    expect(
        &img,
        "inode 1: checksum mismatch; recomputed",
        Kind::Corruption,
        true,
    );
}

#[test]
fn damaged_root_is_made_anew_and_its_files_go_to_lost_found() {
    let img = Img::new("root");
    let a = img.mkdir(ROOT_INO, b"a");
    let (b, off) = img.geo.inode_location(ROOT_INO);
    let mut blk = img.read(b);
    blk[off + 16] ^= 1; // the size: 4097, not a whole number of blocks
    img.write(b, &blk);
    expect(&img, "a new, empty root is made", Kind::Corruption, true);
    // The root, lost+found, and "a" inside it.
    let r = img.check(Mode::Check);
    assert_eq!(r.inodes_used, 3, "{:?}", r.problems);
    assert!(img.names(ROOT_INO).contains(&b"lost+found".to_vec()));
    let lf = img.lookup(ROOT_INO, b"lost+found").unwrap();
    assert_eq!(img.lookup(lf, format!("#{a}").as_bytes()), Some(a));
}

#[test]
fn extent_outside_the_data_area() {
    let img = Img::new("extent");
    let a = img.mkdir(ROOT_INO, b"a");
    let mut d = img.inode(a);
    d.extents[0].start = 1.into(); // the block bitmap
    img.put_inode(a, &d);
    expect(&img, "outside the data area", Kind::Corruption, true);
}

#[test]
fn block_owned_twice() {
    let img = Img::new("twice");
    let a = img.mkdir(ROOT_INO, b"a");
    let b = img.mkdir(ROOT_INO, b"b");
    let mut d = img.inode(b);
    d.extents[0] = img.inode(a).extents[0];
    img.put_inode(b, &d);
    expect(&img, "is owned by both inode", Kind::Corruption, true);
}

#[test]
fn a_block_claimed_twice_stays_with_the_newer_inode() {
    // A stale copy of an inode (its last write lost) still claims a block
    // that was freed and given to a newer file: the newer file keeps it.
    let img = Img::new("twice-newer");
    let a = img.mkdir(ROOT_INO, b"a");
    let b = img.mkdir(ROOT_INO, b"b");
    let mut d = img.inode(b);
    d.extents[0] = img.inode(a).extents[0];
    d.ctime = 100.into();
    img.put_inode(b, &d);
    expect(&img, &format!("inode {a}: block"), Kind::Corruption, true);
    assert_eq!(img.lookup(ROOT_INO, b"b"), Some(b));
    assert_eq!(img.lookup(ROOT_INO, b"a"), None);
}

#[test]
fn extent_block_with_no_extents() {
    // The kernel refuses an overflow block whose count is 0.
    let img = Img::new("extent-block-empty");
    let a = img.mkdir(ROOT_INO, b"a");
    let blk = img.first_free(img.geo.block_bitmap_start, img.geo.data_start);
    let mut b = vec![0u8; BLOCK_SIZE];
    ExtentBlockHeader {
        magic: EXTENT_BLOCK_MAGIC.into(),
        count: 0.into(),
        pad0: 0.into(),
        next: 0.into(),
    }
    .encode(&mut b);
    csum_set(&mut b, crc);
    img.write(blk, &b);
    img.set_bit(img.geo.block_bitmap_start, blk, true);
    img.adjust_counters(-1, 0);
    let mut d = img.inode(a);
    d.extent_block = blk.into();
    d.blocks = 2.into();
    img.put_inode(a, &d);
    expect(
        &img,
        &format!("extent block {blk}: bad header"),
        Kind::Corruption,
        true,
    );
    assert_eq!(img.lookup(ROOT_INO, b"a"), None);
}

#[test]
fn one_block_mapped_twice_by_one_file() {
    // Two extents of one file on the same disk block: deleting the file
    // would free it twice.
    let img = Img::new("self-overlap");
    let blk = img.first_free(img.geo.block_bitmap_start, img.geo.data_start);
    img.write(blk, &[b'z'; BLOCK_SIZE]);
    img.set_bit(img.geo.block_bitmap_start, blk, true);
    let ino = img.mknod(ROOT_INO, b"f", 0o100644, 0, FT_REG);
    let mut d = img.inode(ino);
    for (i, logical) in [0u32, 5].into_iter().enumerate() {
        d.extents[i] = Extent {
            logical: logical.into(),
            len: 1.into(),
            start: blk.into(),
        };
    }
    d.extent_count = 2.into();
    d.blocks = 2.into();
    d.size = (6 * BLOCK_SIZE as u64).into();
    img.put_inode(ino, &d);
    img.adjust_counters(-1, 0);
    expect(
        &img,
        &format!("block {blk} is mapped twice"),
        Kind::Corruption,
        true,
    );
    assert_eq!(img.lookup(ROOT_INO, b"f"), None);
}

#[test]
fn directory_size_disagrees_with_map() {
    let img = Img::new("dirsize");
    let a = img.mkdir(ROOT_INO, b"a");
    let mut d = img.inode(a);
    d.size = (2 * BLOCK_SIZE as u64).into();
    img.put_inode(a, &d);
    expect(
        &img,
        "does not match its type or block map",
        Kind::Corruption,
        true,
    );
}

#[test]
fn wrong_link_count_is_fixed() {
    let img = Img::new("links");
    img.mkdir(ROOT_INO, b"a");
    let mut root = img.inode(ROOT_INO);
    root.links = 7.into();
    img.put_inode(ROOT_INO, &root);
    expect(&img, "link count is 7, should be 3", Kind::Corruption, true);
}

#[test]
fn orphan_inode_is_released() {
    // What a crash leaves of a file that was unlinked while still open:
    // the inode and its blocks allocated, no links, no entry.
    let img = Img::new("orphan");
    let a = img.mkdir(ROOT_INO, b"a");
    let mut root = img.read(img.inode(ROOT_INO).extents[0].start.get());
    // Drop the entry by growing ".." back over it.
    let dot = dir_rec_len(1);
    root[dot + 8..dot + 10].copy_from_slice(&((DIR_DATA_SIZE - dot) as u16).to_le_bytes());
    csum_set(&mut root, crc);
    img.write(img.inode(ROOT_INO).extents[0].start.get(), &root);
    let mut r = img.inode(ROOT_INO);
    r.links = 2.into();
    img.put_inode(ROOT_INO, &r);
    let mut d = img.inode(a);
    d.links = 0.into();
    img.put_inode(a, &d);
    expect(
        &img,
        "deleted but not released (an orphan)",
        Kind::Leak,
        true,
    );
    assert_eq!(img.check(Mode::Check).inodes_used, 1);
}

#[test]
fn allocated_but_never_written_inode_is_released() {
    // A crash after the inode bitmap reached the disk but before the new
    // inode did.
    let img = Img::new("unwritten");
    img.set_bit(img.geo.inode_bitmap_start, 5, true);
    img.adjust_counters(0, -1);
    expect(
        &img,
        "inode 5: allocated but blank (a creation or a release cut short)",
        Kind::Leak,
        true,
    );
    assert_eq!(img.check(Mode::Check).inodes_used, 1);
}

#[test]
fn entry_naming_an_unwritten_inode_is_removed() {
    // A crash that kept a new name but not its inode.
    let img = Img::new("dangling");
    img.add_entry(ROOT_INO, b"ghost", 9, FT_REG);
    expect(
        &img,
        "\"ghost\" names inode 9, which is not on disk",
        Kind::Leak,
        true,
    );
}

#[test]
fn entry_naming_a_free_written_inode() {
    let img = Img::new("freeentry");
    let a = img.mkdir(ROOT_INO, b"a");
    img.add_entry(ROOT_INO, b"again", a, FT_DIR);
    img.set_bit(img.geo.inode_bitmap_start, a, false);
    let r = img.check(Mode::Check);
    assert!(
        has(&r, "has links but is free in the inode bitmap"),
        "{:?}",
        r.problems
    );
    assert_eq!(r.exit_code(), 4);
}

#[test]
fn directory_loop() {
    let img = Img::new("loop");
    let a = img.mkdir(ROOT_INO, b"a");
    let b = img.mkdir(a, b"b");
    // b/up -> a: a second name for a directory, making a cycle.
    img.add_entry(b, b"up", a, FT_DIR);
    expect(&img, "a second time", Kind::Corruption, true);
    // The loop is gone; "a" and "b" are where they were.
    assert_eq!(img.lookup(ROOT_INO, b"a"), Some(a));
    assert_eq!(img.lookup(a, b"b"), Some(b));
    assert_eq!(img.lookup(b, b"up"), None);
}

#[test]
fn bad_dot_dot() {
    let img = Img::new("dotdot");
    let a = img.mkdir(ROOT_INO, b"a");
    let b = img.mkdir(ROOT_INO, b"b");
    let blk = img.inode(b).extents[0].start.get();
    let mut d = img.read(blk);
    let dot = dir_rec_len(1);
    d[dot..dot + 8].copy_from_slice(&a.to_le_bytes());
    csum_set(&mut d, crc);
    img.write(blk, &d);
    expect(
        &img,
        &format!("\"..\" names inode {a}, not 1"),
        Kind::Corruption,
        true,
    );
}

#[test]
fn bad_directory_record_length() {
    let img = Img::new("reclen");
    let blk = img.inode(ROOT_INO).extents[0].start.get();
    let mut d = img.read(blk);
    d[8..10].copy_from_slice(&5u16.to_le_bytes());
    csum_set(&mut d, crc);
    img.write(blk, &d);
    expect(&img, "bad record length 5; rebuilt", Kind::Corruption, true);
}

#[test]
fn bad_directory_checksum() {
    let img = Img::new("dircsum");
    let blk = img.inode(ROOT_INO).extents[0].start.get();
    let mut d = img.read(blk);
    d[100] ^= 1;
    img.write(blk, &d);
    expect(
        &img,
        "directory 1, block 0: checksum mismatch; recomputed",
        Kind::Corruption,
        true,
    );
}

#[test]
fn inode_with_links_free_in_bitmap_is_marked_in_use() {
    // A lost write of the inode bitmap block after a mkdir.
    let img = Img::new("freeino");
    let a = img.mkdir(ROOT_INO, b"a");
    img.set_bit(img.geo.inode_bitmap_start, a, false);
    img.adjust_counters(0, 1);
    expect(
        &img,
        "has links but is free in the inode bitmap; marked in use",
        Kind::Corruption,
        true,
    );
    assert_eq!(img.check(Mode::Check).inodes_used, 2);
}

#[test]
fn unreachable_inode_goes_to_lost_found() {
    // A lost write of the directory block that held a new name: the inode
    // and its blocks are on disk, nothing names them.
    let img = Img::new("unnamed");
    let a = img.mkdir(ROOT_INO, b"a");
    let blk = img.inode(ROOT_INO).extents[0].start.get();
    let mut root = img.read(blk);
    let dot = dir_rec_len(1);
    root[dot + 8..dot + 10].copy_from_slice(&((DIR_DATA_SIZE - dot) as u16).to_le_bytes());
    csum_set(&mut root, crc);
    img.write(blk, &root);
    let mut r = img.inode(ROOT_INO);
    r.links = 2.into();
    img.put_inode(ROOT_INO, &r);
    expect(
        &img,
        &format!("inode {a}: in use but no directory names it; connected to lost+found"),
        Kind::Leak,
        true,
    );
    // The root, lost+found, and the directory in it.
    assert_eq!(img.check(Mode::Check).inodes_used, 3);
    let lf = img.lookup(ROOT_INO, b"lost+found").unwrap();
    assert_eq!(img.lookup(lf, format!("#{a}").as_bytes()), Some(a));
}

#[test]
fn released_inode_still_allocated_is_blank() {
    // The kernel released inode 5 (zero inode, fresh checksum) but the
    // inode bitmap write was lost.
    let img = Img::new("released");
    img.put_inode(5, &Inode::default());
    img.set_bit(img.geo.inode_bitmap_start, 5, true);
    img.adjust_counters(0, -1);
    expect(&img, "inode 5: allocated but blank", Kind::Leak, true);
}

#[test]
fn unreadable_device_is_an_operational_error() {
    assert!(check(Path::new("/nonexistent/rsfs.img"), Mode::Check).is_err());
}

// Unwritten extents (FEATURE_INCOMPAT_UNWRITTEN).

impl Img {
    /// Sets the superblock's incompatible features, checksum made right.
    fn set_incompat(&self, features: u32) {
        let mut b = self.read(0);
        let mut sb = Superblock::decode(&b);
        sb.feature_incompat = features.into();
        sb.encode(&mut b);
        csum_set(&mut b[..Superblock::SIZE], crc);
        self.write(0, &b);
    }

    fn incompat(&self) -> u32 {
        Superblock::decode(&self.read(0)).feature_incompat.get()
    }

    fn block_in_use(&self, b: u64) -> bool {
        bitmap_test(&self.read(self.geo.block_bitmap_start), b)
    }

    /// Takes the first `n` free blocks in a row, each filled with `fill`;
    /// returns the first.
    fn alloc_run(&self, n: u64, fill: u8) -> u64 {
        let bm = self.read(self.geo.block_bitmap_start);
        let first = (self.geo.data_start..)
            .find(|&b| (b..b + n).all(|x| !bitmap_test(&bm, x)))
            .unwrap();
        for b in first..first + n {
            self.write(b, &[fill; BLOCK_SIZE]);
            self.set_bit(self.geo.block_bitmap_start, b, true);
        }
        self.adjust_counters(-(n as i64), 0);
        first
    }

    /// A regular file `name` in the root mapping `runs` (file block,
    /// blocks, unwritten), each on fresh disk blocks right after the run
    /// before it, so that neighbours continue each other on disk as well
    /// as in the file. Extents past the inode's nine go to an overflow
    /// block. Returns the inode.
    fn file_with_runs(&self, name: &[u8], runs: &[(u32, u32, bool)]) -> u64 {
        let ino = self.mknod(ROOT_INO, name, 0o100644, 0, FT_REG);
        let mut d = self.inode(ino);
        let extents: Vec<Extent> = runs
            .iter()
            .enumerate()
            .map(|(i, &(logical, len, unwritten))| Extent {
                logical: logical.into(),
                len: Extent::len_field(len, unwritten),
                start: self.alloc_run(len.into(), 0x40 + i as u8).into(),
            })
            .collect();
        let inline = extents.len().min(INODE_EXTENTS);
        d.extents[..inline].copy_from_slice(&extents[..inline]);
        d.extent_count = (inline as u16).into();
        let mut blocks: u64 = runs.iter().map(|r| u64::from(r.1)).sum();
        if extents.len() > inline {
            let blk = self.alloc_run(1, 0);
            let mut b = vec![0u8; BLOCK_SIZE];
            ExtentBlockHeader {
                magic: EXTENT_BLOCK_MAGIC.into(),
                count: ((extents.len() - inline) as u16).into(),
                pad0: 0.into(),
                next: 0.into(),
            }
            .encode(&mut b);
            for (i, e) in extents[inline..].iter().enumerate() {
                e.encode(&mut b[ExtentBlockHeader::SIZE + i * Extent::SIZE..]);
            }
            csum_set(&mut b, crc);
            self.write(blk, &b);
            d.extent_block = blk.into();
            blocks += 1;
        }
        let last = runs.last().unwrap();
        d.size = (u64::from(last.0 + last.1) * BLOCK_SIZE as u64).into();
        d.blocks = blocks.into();
        self.put_inode(ino, &d);
        ino
    }

    /// Every extent of inode `ino`: its own, then its overflow blocks'.
    fn extents_of(&self, ino: u64) -> Vec<Extent> {
        let d = self.inode(ino);
        let mut out = d.extents[..usize::from(d.extent_count.get())].to_vec();
        let mut next = d.extent_block.get();
        while next != 0 {
            let b = self.read(next);
            let h = ExtentBlockHeader::decode(&b);
            assert_eq!(h.magic.get(), EXTENT_BLOCK_MAGIC);
            assert!(csum_ok(&b, crc));
            assert_ne!(h.count.get(), 0, "an empty overflow block");
            for i in 0..usize::from(h.count.get()) {
                out.push(Extent::decode(
                    &b[ExtentBlockHeader::SIZE + i * Extent::SIZE..],
                ));
            }
            next = h.next.get();
        }
        out
    }
}

/// Written and unwritten runs; the first two continue each other on disk
/// and in the file but stay two extents, as the kernel keeps them. Eleven
/// extents: the last two are in an overflow block.
const MIXED: [(u32, u32, bool); 11] = [
    (0, 2, false),
    (2, 3, true),
    (5, 1, false),
    (8, 4, true),
    (12, 1, false),
    (20, 2, true),
    (30, 1, false),
    (31, 1, true),
    (40, 2, false),
    (50, 3, true),
    (60, 1, false),
];

#[test]
fn unwritten_extents_of_a_regular_file_are_clean_with_the_feature() {
    let img = Img::new("unwritten-ok");
    img.set_incompat(FEATURE_INCOMPAT_UNWRITTEN);
    let ino = img.file_with_runs(b"f", &MIXED);
    let e = img.extents_of(ino);
    assert_eq!(e.len(), MIXED.len());
    assert!(e[1].is_unwritten() && e[1].blocks() == 3);
    assert_eq!(e[0].start.get() + 2, e[1].start.get());
    assert_ne!(img.inode(ino).extent_block.get(), 0);
    let before: Vec<Vec<u8>> = (0..img.geo.blocks_count).map(|b| img.read(b)).collect();
    let r = img.check(Mode::Check);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    // -y finds nothing to do either, and leaves every extent as it was.
    let r = img.check(Mode::Repair);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);
    assert_eq!(img.extents_of(ino), e);
    let after: Vec<Vec<u8>> = (0..img.geo.blocks_count).map(|b| img.read(b)).collect();
    assert!(before == after, "fsck -y changed a clean filesystem");
}

/// What `-y` must leave of a file made of `runs` whose unwritten extents
/// fsck removed: the written extents, on the same blocks, still holding
/// their data; the unwritten extents' blocks free.
fn assert_only_written_left(img: &Img, ino: u64, before: &[Extent]) {
    let (kept, gone): (Vec<Extent>, Vec<Extent>) = before.iter().partition(|e| !e.is_unwritten());
    assert_eq!(img.extents_of(ino), kept);
    for (i, e) in before.iter().enumerate() {
        for b in e.start.get()..e.start.get() + u64::from(e.blocks()) {
            assert_eq!(img.block_in_use(b), !e.is_unwritten(), "block {b}");
            if !e.is_unwritten() {
                assert!(img.read(b).iter().all(|&x| x == 0x40 + i as u8));
            }
        }
    }
    let blocks: u64 = kept.iter().map(|e| u64::from(e.blocks())).sum();
    let overflow = u64::from(img.inode(ino).extent_block.get() != 0);
    assert_eq!(img.inode(ino).blocks.get(), blocks + overflow);
    assert!(!gone.is_empty());
}

#[test]
fn unwritten_extent_without_the_feature_is_removed() {
    let img = Img::new("unwritten-nofeature");
    assert_eq!(img.incompat(), 0);
    let ino = img.file_with_runs(b"f", &MIXED);
    let before = img.extents_of(ino);
    let overflow = img.inode(ino).extent_block.get();
    let e = before[1];
    let needle = format!(
        "inode {ino}: unwritten extent 2+3 at block {} on a filesystem without the unwritten-extents feature; removed",
        e.start.get()
    );
    // -n reports every one and changes nothing.
    let raw: Vec<Vec<u8>> = (0..img.geo.blocks_count).map(|b| img.read(b)).collect();
    let r = img.check(Mode::Check);
    assert!(has(&r, &needle), "{:?}", r.problems);
    assert_eq!(
        r.problems
            .iter()
            .filter(|p| p.message.contains("unwritten extent"))
            .count(),
        5,
        "{:?}",
        r.problems
    );
    assert!(r.problems.iter().all(|p| !p.fixed));
    assert!(
        !has(&r, "belong to no file"),
        "freed blocks reported again as leaks: {:?}",
        r.problems
    );
    let after: Vec<Vec<u8>> = (0..img.geo.blocks_count).map(|b| img.read(b)).collect();
    assert!(raw == after, "fsck -n wrote");
    expect(&img, &needle, Kind::Corruption, true);
    assert_only_written_left(&img, ino, &before);
    // The overflow block kept its written extents: written again, not freed.
    assert_eq!(img.inode(ino).extent_block.get(), overflow);
    assert!(img.block_in_use(overflow));
    assert_eq!(img.incompat(), 0, "fsck must not set the feature");
    assert_eq!(img.lookup(ROOT_INO, b"f"), Some(ino));
}

#[test]
fn overflow_block_emptied_by_removing_unwritten_extents_is_freed() {
    let img = Img::new("unwritten-overflow");
    let mut runs = MIXED;
    runs[9].2 = true;
    runs[10].2 = true;
    let ino = img.file_with_runs(b"f", &runs);
    let before = img.extents_of(ino);
    let overflow = img.inode(ino).extent_block.get();
    expect(
        &img,
        &format!("inode {ino}: unwritten extent 60+1 at block"),
        Kind::Corruption,
        true,
    );
    assert_only_written_left(&img, ino, &before);
    assert_eq!(img.inode(ino).extent_block.get(), 0);
    assert!(!img.block_in_use(overflow));
}

#[test]
fn unwritten_extent_in_a_directory_is_removed() {
    // The kernel never makes an unwritten extent in a directory: with the
    // feature or without, it is damage. Removing the directory's only
    // extent leaves a directory with no blocks, which is cleared; what it
    // held goes to lost+found.
    let img = Img::new("unwritten-dir");
    img.set_incompat(FEATURE_INCOMPAT_UNWRITTEN);
    let a = img.mkdir(ROOT_INO, b"a");
    let b = img.mkdir(a, b"b");
    let mut d = img.inode(a);
    let blk = d.extents[0].start.get();
    d.extents[0].len = Extent::len_field(1, true);
    img.put_inode(a, &d);
    expect(
        &img,
        &format!("inode {a}: unwritten extent 0+1 at block {blk} in a directory; removed"),
        Kind::Corruption,
        true,
    );
    assert_eq!(img.lookup(ROOT_INO, b"a"), None);
    let lf = img.lookup(ROOT_INO, b"lost+found").unwrap();
    // The block was freed, and lost+found, made afterwards, may have it.
    assert!(!img.block_in_use(blk) || img.inode(lf).extents[0].start.get() == blk);
    assert_eq!(img.lookup(lf, format!("#{b}").as_bytes()), Some(b));
    assert_eq!(img.incompat(), FEATURE_INCOMPAT_UNWRITTEN);
}

#[test]
fn unwritten_extent_in_a_symlink_is_removed() {
    let img = Img::new("unwritten-symlink");
    img.set_incompat(FEATURE_INCOMPAT_UNWRITTEN);
    let link = img.symlink(ROOT_INO, b"long", &[b'x'; 300]);
    let mut d = img.inode(link);
    let blk = d.extents[0].start.get();
    d.extents[0].len = Extent::len_field(1, true);
    img.put_inode(link, &d);
    expect(
        &img,
        &format!("inode {link}: unwritten extent 0+1 at block {blk} in a symlink; removed"),
        Kind::Corruption,
        true,
    );
    // A block symlink without its block has no target: it goes.
    assert_eq!(img.lookup(ROOT_INO, b"long"), None);
    assert!(!img.block_in_use(blk));
}

#[test]
fn unknown_incompatible_feature_is_refused() {
    for features in [1 << 1, FEATURE_INCOMPAT_UNWRITTEN | 1 << 1, 1 << 31] {
        let img = Img::new(&format!("incompat-{features:x}"));
        img.set_incompat(features);
        let raw = img.read(0);
        for mode in [Mode::Check, Mode::Repair] {
            let r = img.check(mode);
            assert_eq!(r.exit_code(), 8, "{features:#x}: {:?}", r.problems);
            assert!(r.refused);
            assert!(has(&r, "not supported"), "{:?}", r.problems);
        }
        assert_eq!(img.read(0), raw, "a refused superblock was rewritten");
    }
}

#[test]
fn superblock_with_a_bad_checksum_keeps_the_unwritten_feature() {
    // Under a bad checksum, an unknown feature bit is damage and goes;
    // the unwritten-extents bit stays, and so do the file's unwritten
    // extents.
    let img = Img::new("incompat-badcsum");
    img.set_incompat(FEATURE_INCOMPAT_UNWRITTEN | 1 << 5);
    let ino = img.file_with_runs(b"f", &MIXED[..4]);
    let before = img.extents_of(ino);
    let mut b = img.read(0);
    b[176] ^= 1; // the label
    img.write(0, &b);
    expect(
        &img,
        "superblock: checksum mismatch",
        Kind::Corruption,
        true,
    );
    assert_eq!(img.incompat(), FEATURE_INCOMPAT_UNWRITTEN);
    assert_eq!(img.extents_of(ino), before);
}
