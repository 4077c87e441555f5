// SPDX-License-Identifier: GPL-2.0

//! The image in memory, and a model of what is in it: the superblock and
//! layout, every inode in use with its block map, every directory record,
//! and which directory each directory hangs from.
//!
//! [`Model::parse`] insists on a sound image (checksums, block maps and
//! directory records all valid), so that every damage starts from a known
//! good state. The model is read once and not updated as the bytes change:
//! a mutation reads current values from the bytes when it needs them.

use std::collections::{BTreeSet, VecDeque};
use std::ops::Range;

use anyhow::{bail, ensure, Context, Result};
use rsfs_format::{
    bitmap_test, csum_ok, csum_set, dir_rec_len, xattr_entry_len, xattrs, DirEntryHeader, Extent,
    ExtentBlockHeader, Field, Geometry, Inode, Superblock, XattrHeader, BITS_PER_BITMAP_BLOCK,
    BLOCK_CSUM_SIZE, BLOCK_SIZE, DIR_DATA_SIZE, EXTENT_BLOCK_EXTENTS, EXTENT_BLOCK_MAGIC,
    FEATURE_INCOMPAT_UNWRITTEN, INODE_EXTENTS, INODE_FLAG_INLINE, INODE_SIZE, ROOT_INO,
};

/// Standard CRC-32C, as the format's checksums use it.
pub fn crc(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}

/// `S_IFMT`: the file type bits of a mode.
pub const S_IFMT: u16 = 0o170000;
/// Directory.
pub const S_IFDIR: u16 = 0o040000;
/// Regular file.
pub const S_IFREG: u16 = 0o100000;
/// Symbolic link.
pub const S_IFLNK: u16 = 0o120000;

/// Byte offset of the `extents` array in an on-disk inode.
pub const INODE_EXTENTS_OFFSET: usize = 96;
/// Byte offset of the `csum` field of an on-disk inode.
pub const INODE_CSUM_OFFSET: usize = INODE_SIZE - BLOCK_CSUM_SIZE;
/// Byte offset of the superblock's `csum` field.
pub const SB_CSUM_OFFSET: usize = Superblock::SIZE - BLOCK_CSUM_SIZE;

/// The bytes of block `n`.
pub fn block(img: &[u8], n: u64) -> &[u8] {
    let at = n as usize * BLOCK_SIZE;
    &img[at..at + BLOCK_SIZE]
}

/// The bytes of block `n`, for writing.
pub fn block_mut(img: &mut [u8], n: u64) -> &mut [u8] {
    let at = n as usize * BLOCK_SIZE;
    &mut img[at..at + BLOCK_SIZE]
}

/// What kind of file an inode is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FileKind {
    /// A directory.
    Dir,
    /// A regular file.
    Regular,
    /// A symbolic link.
    Symlink,
    /// A device, pipe or socket, with its `FT_*` value.
    Special(u8),
}

impl FileKind {
    /// The `FT_*` value a directory entry naming such a file carries.
    pub fn file_type(self) -> u8 {
        match self {
            Self::Dir => rsfs_format::FT_DIR,
            Self::Regular => rsfs_format::FT_REG,
            Self::Symlink => rsfs_format::FT_SYMLINK,
            Self::Special(ft) => ft,
        }
    }
}

/// The file types of devices, pipes and sockets (`S_IFCHR`, `S_IFBLK`,
/// `S_IFIFO`, `S_IFSOCK`), with the `FT_*` value of each.
pub const SPECIAL_TYPES: [(u16, u8); 4] = [
    (0o020000, rsfs_format::FT_CHRDEV),
    (0o060000, rsfs_format::FT_BLKDEV),
    (0o010000, rsfs_format::FT_FIFO),
    (0o140000, rsfs_format::FT_SOCK),
];

/// Where an extent is stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExtentAt {
    /// Slot `n` of the inode's own `extents`.
    Inode(usize),
    /// Slot `slot` of overflow extent block `block`.
    Block {
        /// The overflow block.
        block: u64,
        /// The slot in it.
        slot: usize,
    },
}

/// One extent of a file, where it is stored and what it says.
#[derive(Clone, Copy, Debug)]
pub struct ExtentLoc {
    /// Where it is stored.
    pub at: ExtentAt,
    /// Its position in the file's whole extent list.
    pub index: usize,
    /// First file block.
    pub logical: u32,
    /// Blocks ([`Extent::blocks`]).
    pub len: u32,
    /// First disk block.
    pub start: u64,
    /// Allocated but never written ([`Extent::is_unwritten`]).
    pub unwritten: bool,
}

impl ExtentLoc {
    /// The disk blocks it maps.
    pub fn blocks(&self) -> Range<u64> {
        self.start..self.start + u64::from(self.len)
    }

    /// The extent as stored on disk.
    pub fn disk(&self) -> Extent {
        Extent {
            logical: self.logical.into(),
            len: Extent::len_field(self.len, self.unwritten),
            start: self.start.into(),
        }
    }
}

/// One inode in use.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its number.
    pub ino: u64,
    /// Its type.
    pub kind: FileKind,
    /// The inode as found on disk.
    pub disk: Inode,
    /// A symlink whose target is kept in the inode.
    pub inline: bool,
    /// The extents, in file order: the inode's, then the overflow blocks'.
    pub extents: Vec<ExtentLoc>,
    /// The overflow extent blocks, in chain order.
    pub overflow: Vec<u64>,
    /// For a directory: the directory whose entry names it (the root's
    /// parent is the root).
    pub parent: Option<u64>,
    /// Its extended-attribute block, if it has one.
    pub xattr: Option<u64>,
    /// Bytes of that block in use: the header and the entries.
    pub xattr_used: usize,
}

impl Node {
    /// Every disk block the file uses: data, overflow and
    /// extended-attribute blocks.
    pub fn all_blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.extents
            .iter()
            .flat_map(|e| e.blocks())
            .chain(self.overflow.iter().copied())
            .chain(self.xattr)
    }

    /// The disk block of file block `lblk`.
    pub fn lookup(&self, lblk: u32) -> Option<u64> {
        self.extents
            .iter()
            .find(|e| lblk >= e.logical && lblk - e.logical < e.len)
            .map(|e| e.start + u64::from(lblk - e.logical))
    }
}

/// One record of a directory block: an entry in use, or an unused record
/// (`ino == 0`) that only holds space.
#[derive(Clone, Debug)]
pub struct Record {
    /// The directory.
    pub dir: u64,
    /// The directory's file block holding the record.
    pub lblk: u32,
    /// The disk block holding it.
    pub phys: u64,
    /// Its byte offset in that block.
    pub off: usize,
    /// The inode it names, 0 for an unused record.
    pub ino: u64,
    /// Its record length.
    pub rec_len: usize,
    /// Its name length.
    pub name_len: usize,
    /// Its `FT_*` file type.
    pub file_type: u8,
    /// Its name (empty for an unused record).
    pub name: Vec<u8>,
}

impl Record {
    /// Whether it names an inode.
    pub fn in_use(&self) -> bool {
        self.ino != 0
    }

    /// Whether it is `.` or `..`.
    pub fn is_dot(&self) -> bool {
        self.name == b"." || self.name == b".."
    }

    /// Bytes of the record the entry itself needs.
    pub fn used(&self) -> usize {
        if self.in_use() {
            dir_rec_len(self.name_len)
        } else {
            0
        }
    }

    /// Byte offset of the record in the image.
    pub fn offset(&self) -> usize {
        self.phys as usize * BLOCK_SIZE + self.off
    }

    /// The name, printable.
    pub fn display_name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// Which checksum covers a region, so that it can be recomputed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Csum {
    /// The superblock's.
    Superblock,
    /// Inode `n`'s.
    Inode(u64),
    /// The block checksum of block `n` (bitmap, directory, extent block).
    Block(u64),
    /// None: a symlink's target block is not checksummed.
    None,
}

/// What kind of metadata a region holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RegionKind {
    /// The superblock.
    Superblock,
    /// A block or inode bitmap block.
    Bitmap,
    /// An inode in use.
    Inode,
    /// A directory block.
    DirBlock,
    /// An overflow extent block.
    ExtentBlock,
    /// A symlink's target block.
    SymlinkBlock,
    /// An extended-attribute block.
    XattrBlock,
}

impl RegionKind {
    /// Every kind.
    pub const ALL: [RegionKind; 7] = [
        Self::Superblock,
        Self::Bitmap,
        Self::Inode,
        Self::DirBlock,
        Self::ExtentBlock,
        Self::SymlinkBlock,
        Self::XattrBlock,
    ];

    /// A short name, as the variant names use it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Superblock => "superblock",
            Self::Bitmap => "bitmap",
            Self::Inode => "inode",
            Self::DirBlock => "dir-block",
            Self::ExtentBlock => "extent-block",
            Self::SymlinkBlock => "symlink-block",
            Self::XattrBlock => "xattr-block",
        }
    }
}

/// One structure of metadata: the bytes its checksum covers, and the
/// checksum.
#[derive(Clone, Debug)]
pub struct Region {
    /// What it is.
    pub kind: RegionKind,
    /// A description for the report, such as `inode 5`.
    pub what: String,
    /// The bytes of the image the checksum covers (for a symlink block,
    /// the target).
    pub body: Range<usize>,
    /// The part of the body in use: not a directory block's slack after
    /// its last entry, nor an extent block's unused slots.
    pub live: Range<usize>,
    /// The checksum.
    pub csum: Csum,
}

impl Region {
    /// The body and the checksum field after it.
    pub fn with_csum(&self) -> Range<usize> {
        match self.csum {
            Csum::None => self.body.clone(),
            _ => self.body.start..self.body.end + BLOCK_CSUM_SIZE,
        }
    }
}

/// What a sound image holds.
#[derive(Clone, Debug)]
pub struct Model {
    /// The superblock.
    pub sb: Superblock,
    /// The layout.
    pub geo: Geometry,
    /// Size of the image in blocks.
    pub device_blocks: u64,
    /// Every inode in use, by number.
    pub nodes: Vec<Node>,
    /// Every record of every directory, in tree order.
    pub records: Vec<Record>,
}

impl Model {
    /// Reads and checks the image.
    pub fn parse(img: &[u8]) -> Result<Model> {
        ensure!(
            img.len() >= BLOCK_SIZE && img.len().is_multiple_of(BLOCK_SIZE),
            "the image is {} bytes, not a whole number of 4 KiB blocks",
            img.len()
        );
        let device_blocks = (img.len() / BLOCK_SIZE) as u64;
        let sb = Superblock::validate(block(img, 0), crc)
            .map_err(|e| anyhow::anyhow!("superblock: {}", e.as_str()))?;
        let geo = Geometry::from_superblock(&sb, device_blocks)
            .map_err(|e| anyhow::anyhow!("superblock: {}", e.as_str()))?;
        ensure!(
            sb.root_ino.get() == ROOT_INO,
            "superblock: root inode is {}",
            sb.root_ino.get()
        );
        for (start, count) in [
            (geo.block_bitmap_start, geo.block_bitmap_blocks),
            (geo.inode_bitmap_start, geo.inode_bitmap_blocks),
        ] {
            for b in start..start + count {
                ensure!(
                    csum_ok(block(img, b), crc),
                    "bitmap block {b}: checksum mismatch"
                );
            }
        }
        let mut m = Model {
            sb,
            geo,
            device_blocks,
            nodes: Vec::new(),
            records: Vec::new(),
        };
        for ino in 1..=geo.inodes_count {
            if !m.inode_bit(img, ino) {
                continue;
            }
            let node = m
                .read_node(img, ino)
                .with_context(|| format!("inode {ino}"))?;
            m.nodes.push(node);
        }
        m.walk_tree(img)?;
        Ok(m)
    }

    /// Whether inode `ino` is marked in use in the inode bitmap.
    fn inode_bit(&self, img: &[u8], ino: u64) -> bool {
        let b = self.geo.inode_bitmap_start + ino / BITS_PER_BITMAP_BLOCK;
        bitmap_test(block(img, b), ino % BITS_PER_BITMAP_BLOCK)
    }

    fn read_node(&self, img: &[u8], ino: u64) -> Result<Node> {
        let raw = &img[self.inode_offset(ino)..][..INODE_SIZE];
        ensure!(raw.iter().any(|&x| x != 0), "in use but never written");
        ensure!(csum_ok(raw, crc), "checksum mismatch");
        let disk = Inode::decode(raw);
        let kind = match disk.mode.get() & S_IFMT {
            S_IFDIR => FileKind::Dir,
            S_IFREG => FileKind::Regular,
            S_IFLNK => FileKind::Symlink,
            t => match SPECIAL_TYPES.iter().find(|&&(m, _)| m == t) {
                Some(&(_, ft)) => FileKind::Special(ft),
                None => bail!("unknown file type {:o}", t >> 12),
            },
        };
        ensure!(disk.links.get() != 0, "in use but has no links");
        let inline = kind == FileKind::Symlink && disk.flags.get() & INODE_FLAG_INLINE != 0;
        let mut node = Node {
            ino,
            kind,
            disk,
            inline,
            extents: Vec::new(),
            overflow: Vec::new(),
            parent: None,
            xattr: None,
            xattr_used: 0,
        };
        let xb = disk.xattr_block.get();
        if xb != 0 {
            ensure!(self.is_data_block(xb), "bad extended-attribute block {xb}");
            let entries = xattrs(block(img, xb), ino, crc)
                .map_err(|e| anyhow::anyhow!("extended-attribute block {xb}: {}", e.as_str()))?;
            node.xattr = Some(xb);
            node.xattr_used = XattrHeader::SIZE
                + entries
                    .map(|e| xattr_entry_len(e.name.len(), e.value.len()))
                    .sum::<usize>();
        }
        if inline {
            return Ok(node);
        }
        let count = usize::from(disk.extent_count.get());
        ensure!(count <= INODE_EXTENTS, "extent count {count}");
        for (i, e) in disk.extents[..count].iter().enumerate() {
            self.push_extent(&mut node, ExtentAt::Inode(i), e)?;
        }
        let mut next = disk.extent_block.get();
        while next != 0 {
            ensure!(
                self.is_data_block(next) && !node.overflow.contains(&next),
                "bad extent block {next}"
            );
            let b = block(img, next);
            let h = ExtentBlockHeader::decode(b);
            let n = usize::from(h.count.get());
            ensure!(
                csum_ok(b, crc) && h.magic.get() == EXTENT_BLOCK_MAGIC && n <= EXTENT_BLOCK_EXTENTS,
                "extent block {next} is damaged"
            );
            node.overflow.push(next);
            for slot in 0..n {
                let e = Extent::decode(&b[ExtentBlockHeader::SIZE + slot * Extent::SIZE..]);
                self.push_extent(&mut node, ExtentAt::Block { block: next, slot }, &e)?;
            }
            next = h.next.get();
        }
        let blocks = node.extents.iter().map(|e| u64::from(e.len)).sum::<u64>()
            + node.overflow.len() as u64
            + u64::from(node.xattr.is_some());
        ensure!(
            blocks == disk.blocks.get(),
            "says it has {} blocks, its map has {blocks}",
            disk.blocks.get()
        );
        Ok(node)
    }

    fn push_extent(&self, node: &mut Node, at: ExtentAt, e: &Extent) -> Result<()> {
        let loc = ExtentLoc {
            at,
            index: node.extents.len(),
            logical: e.logical.get(),
            len: e.blocks(),
            start: e.start.get(),
            unwritten: e.is_unwritten(),
        };
        let prev_end = node
            .extents
            .last()
            .map_or(0, |p| u64::from(p.logical) + u64::from(p.len));
        let ok = loc.len != 0
            && loc.start >= self.geo.data_start
            && loc
                .start
                .checked_add(loc.len.into())
                .is_some_and(|end| end <= self.geo.blocks_count)
            && u64::from(loc.logical) >= prev_end
            && u64::from(loc.logical) + u64::from(loc.len) <= u64::from(u32::MAX) + 1;
        ensure!(
            ok,
            "bad extent {}+{} at block {}",
            loc.logical,
            loc.len,
            loc.start
        );
        // Unwritten extents: in regular files, with the feature.
        ensure!(
            !loc.unwritten || (self.has_unwritten() && node.kind == FileKind::Regular),
            "unwritten extent {}+{} at block {} where there may be none",
            loc.logical,
            loc.len,
            loc.start
        );
        node.extents.push(loc);
        Ok(())
    }

    /// Reads every directory reachable from the root, breadth first.
    fn walk_tree(&mut self, img: &[u8]) -> Result<()> {
        let root = self
            .node_index(ROOT_INO)
            .context("the root inode is free")?;
        ensure!(
            self.nodes[root].kind == FileKind::Dir,
            "the root inode is not a directory"
        );
        self.nodes[root].parent = Some(ROOT_INO);
        let mut queue = VecDeque::from([ROOT_INO]);
        while let Some(dir) = queue.pop_front() {
            let node = &self.nodes[self.node_index(dir).expect("queued directories exist")];
            let size = node.disk.size.get();
            ensure!(
                size != 0 && size.is_multiple_of(BLOCK_SIZE as u64),
                "directory {dir}: size {size}"
            );
            let mut found = Vec::new();
            for lblk in 0..(size / BLOCK_SIZE as u64) as u32 {
                let phys = node
                    .lookup(lblk)
                    .with_context(|| format!("directory {dir}: block {lblk} is a hole"))?;
                let b = block(img, phys);
                ensure!(
                    csum_ok(b, crc),
                    "directory {dir}: block {lblk}: checksum mismatch"
                );
                let mut off = 0;
                while off < DIR_DATA_SIZE {
                    let h = DirEntryHeader::at(b, off).with_context(|| {
                        format!("directory {dir}: block {lblk}, offset {off}: bad record")
                    })?;
                    let rec_len = usize::from(h.rec_len.get());
                    let name_len = usize::from(h.name_len);
                    let ino = h.ino.get();
                    ensure!(
                        rec_len >= DirEntryHeader::SIZE
                            && rec_len % 4 == 0
                            && off + rec_len <= DIR_DATA_SIZE
                            && (ino == 0 || (name_len != 0 && dir_rec_len(name_len) <= rec_len)),
                        "directory {dir}: block {lblk}, offset {off}: bad record"
                    );
                    let name = if ino == 0 {
                        Vec::new()
                    } else {
                        b[off + DirEntryHeader::SIZE..][..name_len].to_vec()
                    };
                    found.push(Record {
                        dir,
                        lblk,
                        phys,
                        off,
                        ino,
                        rec_len,
                        name_len,
                        file_type: h.file_type,
                        name,
                    });
                    off += rec_len;
                }
            }
            for r in found.iter().filter(|r| r.in_use() && !r.is_dot()) {
                let i = self.node_index(r.ino).with_context(|| {
                    format!(
                        "directory {dir}: \"{}\" names unused inode {}",
                        r.display_name(),
                        r.ino
                    )
                })?;
                if self.nodes[i].kind == FileKind::Dir {
                    ensure!(
                        self.nodes[i].parent.is_none(),
                        "directory {} is linked more than once",
                        r.ino
                    );
                    self.nodes[i].parent = Some(dir);
                    queue.push_back(r.ino);
                }
            }
            self.records.extend(found);
        }
        Ok(())
    }

    /// The position of inode `ino` in `nodes`, if it is in use.
    pub fn node_index(&self, ino: u64) -> Option<usize> {
        self.nodes.binary_search_by_key(&ino, |n| n.ino).ok()
    }

    /// Inode `ino`, if it is in use.
    pub fn node(&self, ino: u64) -> Option<&Node> {
        self.node_index(ino).map(|i| &self.nodes[i])
    }

    /// Whether the superblock has the unwritten-extents feature
    /// ([`FEATURE_INCOMPAT_UNWRITTEN`]).
    pub fn has_unwritten(&self) -> bool {
        self.sb.feature_incompat.get() & FEATURE_INCOMPAT_UNWRITTEN != 0
    }

    /// Whether `b` is a block of the data area.
    pub fn is_data_block(&self, b: u64) -> bool {
        b >= self.geo.data_start && b < self.geo.blocks_count
    }

    /// Byte offset of inode `ino` in the image.
    pub fn inode_offset(&self, ino: u64) -> usize {
        let (b, off) = self.geo.inode_location(ino);
        b as usize * BLOCK_SIZE + off
    }

    /// Byte offset of an extent in the image.
    pub fn extent_offset(&self, ino: u64, at: ExtentAt) -> usize {
        match at {
            ExtentAt::Inode(i) => self.inode_offset(ino) + INODE_EXTENTS_OFFSET + i * Extent::SIZE,
            ExtentAt::Block { block, slot } => {
                block as usize * BLOCK_SIZE + ExtentBlockHeader::SIZE + slot * Extent::SIZE
            }
        }
    }

    /// The checksum covering an extent.
    pub fn extent_csum(ino: u64, at: ExtentAt) -> Csum {
        match at {
            ExtentAt::Inode(_) => Csum::Inode(ino),
            ExtentAt::Block { block, .. } => Csum::Block(block),
        }
    }

    /// Inode `ino` as the image holds it now.
    pub fn inode(&self, img: &[u8], ino: u64) -> Inode {
        Inode::decode(&img[self.inode_offset(ino)..])
    }

    /// Writes inode `ino` with a correct checksum.
    pub fn put_inode(&self, img: &mut [u8], ino: u64, d: &Inode) {
        let at = self.inode_offset(ino);
        d.encode(&mut img[at..]);
        csum_set(&mut img[at..at + INODE_SIZE], crc);
    }

    /// Changes inode `ino` and recomputes its checksum.
    pub fn edit_inode(&self, img: &mut [u8], ino: u64, f: impl FnOnce(&mut Inode)) {
        let mut d = self.inode(img, ino);
        f(&mut d);
        self.put_inode(img, ino, &d);
    }

    /// Writes an extent of inode `ino` and recomputes the checksum of the
    /// inode or overflow block holding it.
    pub fn put_extent(&self, img: &mut [u8], ino: u64, at: ExtentAt, e: &Extent) {
        let off = self.extent_offset(ino, at);
        e.encode(&mut img[off..]);
        fix_csum(img, &self.geo, Self::extent_csum(ino, at));
    }

    /// The superblock as the image holds it now.
    pub fn superblock(img: &[u8]) -> Superblock {
        Superblock::decode(img)
    }

    /// Writes the superblock with a correct checksum.
    pub fn put_superblock(img: &mut [u8], sb: &Superblock) {
        sb.encode(img);
        csum_set(&mut img[..Superblock::SIZE], crc);
    }

    /// The inode numbers that are not in use (free in the bitmap).
    pub fn free_inodes(&self) -> Vec<u64> {
        let used: BTreeSet<u64> = self.nodes.iter().map(|n| n.ino).collect();
        (1..=self.geo.inodes_count)
            .filter(|i| !used.contains(i))
            .collect()
    }

    /// The records of directory `dir`.
    pub fn dir_records(&self, dir: u64) -> impl Iterator<Item = &Record> + '_ {
        self.records.iter().filter(move |r| r.dir == dir)
    }

    /// The ancestors of directory `dir`, nearest first, ending at the root
    /// (empty for the root itself).
    pub fn ancestors(&self, dir: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let mut at = dir;
        while at != ROOT_INO {
            match self.node(at).and_then(|n| n.parent) {
                Some(p) if !out.contains(&p) => {
                    out.push(p);
                    at = p;
                }
                _ => break,
            }
        }
        out
    }

    /// Every structure of metadata: the superblock, the bitmap blocks,
    /// the inodes in use, the directory blocks, the overflow extent blocks
    /// and the target blocks of symlinks.
    pub fn regions(&self) -> Vec<Region> {
        let block_body = |b: u64| {
            let at = b as usize * BLOCK_SIZE;
            at..at + BLOCK_SIZE - BLOCK_CSUM_SIZE
        };
        let mut out = vec![Region {
            kind: RegionKind::Superblock,
            what: "superblock".into(),
            body: 0..SB_CSUM_OFFSET,
            live: 0..SB_CSUM_OFFSET,
            csum: Csum::Superblock,
        }];
        let g = &self.geo;
        for (name, start, count) in [
            ("block bitmap", g.block_bitmap_start, g.block_bitmap_blocks),
            ("inode bitmap", g.inode_bitmap_start, g.inode_bitmap_blocks),
        ] {
            for b in start..start + count {
                out.push(Region {
                    kind: RegionKind::Bitmap,
                    what: format!("{name} block {b}"),
                    body: block_body(b),
                    live: block_body(b),
                    csum: Csum::Block(b),
                });
            }
        }
        for n in &self.nodes {
            let at = self.inode_offset(n.ino);
            out.push(Region {
                kind: RegionKind::Inode,
                what: format!("inode {}", n.ino),
                body: at..at + INODE_CSUM_OFFSET,
                live: at..at + INODE_CSUM_OFFSET,
                csum: Csum::Inode(n.ino),
            });
        }
        let mut dir_blocks: Vec<(u64, u64, usize)> = Vec::new();
        for r in &self.records {
            let end = r.offset() + DirEntryHeader::SIZE.max(r.used());
            match dir_blocks.last_mut() {
                Some(last) if (last.0, last.1) == (r.dir, r.phys) => last.2 = end,
                _ => dir_blocks.push((r.dir, r.phys, end)),
            }
        }
        for (dir, b, end) in dir_blocks {
            out.push(Region {
                kind: RegionKind::DirBlock,
                what: format!("directory {dir} block {b}"),
                body: block_body(b),
                live: block_body(b).start..end,
                csum: Csum::Block(b),
            });
        }
        for n in &self.nodes {
            for &b in &n.overflow {
                out.push(Region {
                    kind: RegionKind::ExtentBlock,
                    what: format!("inode {} extent block {b}", n.ino),
                    body: block_body(b),
                    live: block_body(b).start
                        ..block_body(b).start
                            + ExtentBlockHeader::SIZE
                            + n.extents
                                .iter()
                                .filter(
                                    |e| matches!(e.at, ExtentAt::Block { block, .. } if block == b),
                                )
                                .count()
                                * Extent::SIZE,
                    csum: Csum::Block(b),
                });
            }
            if let Some(b) = n.xattr {
                out.push(Region {
                    kind: RegionKind::XattrBlock,
                    what: format!("inode {} extended-attribute block {b}", n.ino),
                    body: block_body(b),
                    live: block_body(b).start..block_body(b).start + n.xattr_used,
                    csum: Csum::Block(b),
                });
            }
            if n.kind == FileKind::Symlink && !n.inline {
                if let Some(b) = n.lookup(0) {
                    let at = b as usize * BLOCK_SIZE;
                    let len = (n.disk.size.get() as usize).clamp(1, BLOCK_SIZE);
                    out.push(Region {
                        kind: RegionKind::SymlinkBlock,
                        what: format!("inode {} symlink block {b}", n.ino),
                        body: at..at + len,
                        live: at..at + len,
                        csum: Csum::None,
                    });
                }
            }
        }
        out
    }
}

/// Recomputes a checksum.
pub fn fix_csum(img: &mut [u8], geo: &Geometry, c: Csum) {
    match c {
        Csum::Superblock => csum_set(&mut img[..Superblock::SIZE], crc),
        Csum::Inode(ino) => {
            let (b, off) = geo.inode_location(ino);
            let at = b as usize * BLOCK_SIZE + off;
            csum_set(&mut img[at..at + INODE_SIZE], crc);
        }
        Csum::Block(b) => csum_set(block_mut(img, b), crc),
        Csum::None => {}
    }
}

/// Byte offset of the checksum field `c` names, if any.
pub fn csum_offset(geo: &Geometry, c: Csum) -> Option<usize> {
    match c {
        Csum::Superblock => Some(SB_CSUM_OFFSET),
        Csum::Inode(ino) => {
            let (b, off) = geo.inode_location(ino);
            Some(b as usize * BLOCK_SIZE + off + INODE_CSUM_OFFSET)
        }
        Csum::Block(b) => Some(b as usize * BLOCK_SIZE + BLOCK_SIZE - BLOCK_CSUM_SIZE),
        Csum::None => None,
    }
}

/// Reads a little-endian field of type `T` at byte `at` of the image.
pub fn read_field<T: Field>(img: &[u8], at: usize) -> T {
    T::read(&img[at..])
}

/// Writes a little-endian field of type `T` at byte `at` of the image.
pub fn write_field<T: Field>(img: &mut [u8], at: usize, v: T) {
    v.write(&mut img[at..]);
}
