// SPDX-License-Identifier: GPL-2.0

//! The rsfs on-disk format.
//!
//! This file is the single definition of the format. The kernel module
//! compiles it as its `format` module and the userspace tools compile it as
//! the `rsfs_format` crate, so it depends on nothing but `core` and contains
//! no `unsafe`. `docs/format.md` describes the same format in prose.
//!
//! Every multi-byte integer is little-endian. Structures are `#[repr(C)]`
//! collections of byte-array fields (alignment 1, so no padding) and are
//! converted from and to bytes field by field, in declaration order.

/// The block size: every rsfs filesystem uses 4 KiB blocks.
pub const BLOCK_SIZE: usize = 4096;
/// `log2(BLOCK_SIZE)`.
pub const BLOCK_SHIFT: u32 = 12;

/// "RSFS", read as a little-endian `u32`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"RSFS");
/// The format version this source describes. Version 2 added the journal.
pub const VERSION: u32 = 2;

/// Incompatible feature: extents may be unwritten ([`EXTENT_UNWRITTEN`]).
/// The kernel sets it in the same transaction as the first unwritten
/// extent, so a filesystem that has none can still be mounted by an older
/// kernel.
pub const FEATURE_INCOMPAT_UNWRITTEN: u32 = 1 << 0;
/// The incompatible features this source knows.
pub const FEATURE_INCOMPAT_KNOWN: u32 = FEATURE_INCOMPAT_UNWRITTEN;

/// The superblock lives at the start of block 0.
pub const SUPERBLOCK_BLOCK: u64 = 0;
/// Inode numbers start at 1; 0 means "no inode".
pub const ROOT_INO: u64 = 1;

/// Size of one on-disk inode.
pub const INODE_SIZE: usize = 256;
/// Inodes per inode-table block.
pub const INODES_PER_BLOCK: u64 = (BLOCK_SIZE / INODE_SIZE) as u64;

/// Every checksummed block ends with a crc32c over the bytes before it.
pub const BLOCK_CSUM_SIZE: usize = 4;
/// Bits that one bitmap block holds (its last four bytes are the checksum).
pub const BITS_PER_BITMAP_BLOCK: u64 = ((BLOCK_SIZE - BLOCK_CSUM_SIZE) * 8) as u64;

/// The longest name a directory entry can hold.
pub const NAME_MAX: usize = 255;

/// Longest volume label in bytes.
pub const LABEL_MAX: usize = 32;

/// Superblock `state`: cleanly unmounted.
pub const STATE_CLEAN: u16 = 1;
/// Superblock `state`: mounted, or not unmounted cleanly.
pub const STATE_DIRTY: u16 = 2;

/// The smallest filesystem mkfs creates: 1 MiB.
pub const MIN_BLOCKS: u64 = 256;
/// The largest filesystem the format describes: 2^48 blocks (1 EiB).
pub const MAX_BLOCKS: u64 = 1 << 48;
/// The most blocks a file can have: extents address file blocks with 32
/// bits, so file blocks run from 0 to 2^32 - 1.
pub const MAX_FILE_BLOCKS: u64 = u32::MAX as u64 + 1;
/// The largest file, in bytes (16 TiB).
pub const MAX_FILE_SIZE: u64 = MAX_FILE_BLOCKS << BLOCK_SHIFT;

/// A fixed-size field of an on-disk structure.
pub trait Field: Sized {
    /// Bytes the field occupies on disk.
    const SIZE: usize;
    /// Reads the field from the first `SIZE` bytes of `b`.
    fn read(b: &[u8]) -> Self;
    /// Writes the field into the first `SIZE` bytes of `b`.
    fn write(&self, b: &mut [u8]);
}

impl Field for u8 {
    const SIZE: usize = 1;
    fn read(b: &[u8]) -> Self {
        b[0]
    }
    fn write(&self, b: &mut [u8]) {
        b[0] = *self;
    }
}

impl<T: Field + Copy + Default, const N: usize> Field for [T; N] {
    const SIZE: usize = T::SIZE * N;
    fn read(b: &[u8]) -> Self {
        let mut out = [T::default(); N];
        for (i, v) in out.iter_mut().enumerate() {
            *v = T::read(&b[i * T::SIZE..]);
        }
        out
    }
    fn write(&self, b: &mut [u8]) {
        for (i, v) in self.iter().enumerate() {
            v.write(&mut b[i * T::SIZE..]);
        }
    }
}

macro_rules! le_int {
    ($name:ident, $int:ty, $n:literal) => {
        /// A little-endian integer as it is stored on disk.
        #[repr(transparent)]
        #[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
        pub struct $name([u8; $n]);

        impl $name {
            /// Stores `v` in little-endian order.
            pub const fn new(v: $int) -> Self {
                Self(v.to_le_bytes())
            }
            /// The value in native byte order.
            pub const fn get(self) -> $int {
                <$int>::from_le_bytes(self.0)
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                Self::new(v)
            }
        }

        impl Field for $name {
            const SIZE: usize = $n;
            fn read(b: &[u8]) -> Self {
                let mut a = [0u8; $n];
                a.copy_from_slice(&b[..$n]);
                Self(a)
            }
            fn write(&self, b: &mut [u8]) {
                b[..$n].copy_from_slice(&self.0);
            }
        }
    };
}

le_int!(Le16, u16, 2);
le_int!(Le32, u32, 4);
le_int!(Le64, u64, 8);

/// Declares an on-disk structure: a `#[repr(C)]` struct whose fields all
/// implement [`Field`], with `SIZE`, `decode` and `encode` derived from the
/// field list, and a compile-time check that the in-memory size matches.
macro_rules! disk_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl Field for $name {
            const SIZE: usize = 0 $( + <$ty as Field>::SIZE )*;

            fn read(b: &[u8]) -> Self {
                let mut off = 0;
                $(
                    let $field = <$ty as Field>::read(&b[off..]);
                    off += <$ty as Field>::SIZE;
                )*
                let _ = off;
                Self { $( $field, )* }
            }

            fn write(&self, b: &mut [u8]) {
                let mut off = 0;
                $(
                    self.$field.write(&mut b[off..]);
                    off += <$ty as Field>::SIZE;
                )*
                let _ = off;
            }
        }

        impl $name {
            /// Bytes the structure occupies on disk.
            pub const SIZE: usize = <Self as Field>::SIZE;

            /// Decodes the structure from the start of `b`.
            pub fn decode(b: &[u8]) -> Self {
                <Self as Field>::read(&b[..Self::SIZE])
            }

            /// Encodes the structure into the start of `b`.
            pub fn encode(&self, b: &mut [u8]) {
                <Self as Field>::write(self, &mut b[..Self::SIZE])
            }
        }

        const _: () = assert!(core::mem::size_of::<$name>() == $name::SIZE);
    };
}

disk_struct! {
    /// The superblock, at offset 0 of block 0. Its last field is a crc32c of
    /// all the bytes before it.
    pub struct Superblock {
        /// [`MAGIC`].
        pub magic: Le32,
        /// [`VERSION`].
        pub version: Le32,
        /// Features an older kernel may ignore.
        pub feature_compat: Le32,
        /// Features an older kernel must refuse to mount.
        pub feature_incompat: Le32,
        /// Features an older kernel may only mount read-only.
        pub feature_ro_compat: Le32,
        /// [`BLOCK_SIZE`].
        pub block_size: Le32,
        /// Size of the filesystem in blocks.
        pub blocks_count: Le64,
        /// Number of inodes; valid inode numbers are `1..=inodes_count`.
        pub inodes_count: Le64,
        /// Free blocks, as of the last clean unmount or sync.
        pub free_blocks: Le64,
        /// Free inodes, as of the last clean unmount or sync.
        pub free_inodes: Le64,
        /// First block of the block bitmap.
        pub block_bitmap_start: Le64,
        /// Blocks in the block bitmap.
        pub block_bitmap_blocks: Le64,
        /// First block of the inode bitmap.
        pub inode_bitmap_start: Le64,
        /// Blocks in the inode bitmap.
        pub inode_bitmap_blocks: Le64,
        /// First block of the inode table.
        pub inode_table_start: Le64,
        /// Blocks in the inode table.
        pub inode_table_blocks: Le64,
        /// First block that may hold file data.
        pub data_start: Le64,
        /// Inode number of the root directory ([`ROOT_INO`]).
        pub root_ino: Le64,
        /// First inode of the list of unlinked but still open inodes.
        pub orphan_head: Le64,
        /// [`STATE_CLEAN`] or [`STATE_DIRTY`].
        pub state: Le16,
        /// Reserved, zero.
        pub pad0: Le16,
        /// Times the filesystem was mounted since mkfs.
        pub mount_count: Le32,
        /// When mkfs ran, seconds since the epoch.
        pub mkfs_time: Le64,
        /// Last mount, seconds since the epoch.
        pub mount_time: Le64,
        /// Last superblock write, seconds since the epoch.
        pub write_time: Le64,
        /// Filesystem UUID.
        pub uuid: [u8; 16],
        /// Volume label, NUL-padded (all [`LABEL_MAX`] bytes may be used).
        pub label: [u8; LABEL_MAX],
        /// Blocks in the journal, which follows the inode table.
        pub journal_blocks: Le64,
        /// crc32c of every byte of the superblock before this field.
        pub csum: Le32,
    }
}

disk_struct! {
    /// A run of blocks of a file, starting at file block `logical` and
    /// disk block `start`. `len` holds the number of blocks in its low 31
    /// bits ([`Extent::blocks`]; 0 marks an unused slot) and
    /// [`EXTENT_UNWRITTEN`] in its top bit.
    pub struct Extent {
        /// First file block the run maps.
        pub logical: Le32,
        /// Number of blocks in the run, and [`EXTENT_UNWRITTEN`].
        pub len: Le32,
        /// First disk block of the run.
        pub start: Le64,
    }
}

/// The top bit of an extent's `len`: its blocks are allocated but were
/// never written, and read as zeroes whatever the disk holds there
/// (`fallocate(2)`). Only with [`FEATURE_INCOMPAT_UNWRITTEN`].
pub const EXTENT_UNWRITTEN: u32 = 1 << 31;
/// The most blocks one extent maps.
pub const EXTENT_MAX_BLOCKS: u32 = EXTENT_UNWRITTEN - 1;

impl Extent {
    /// The number of blocks the extent maps.
    pub fn blocks(&self) -> u32 {
        self.len.get() & EXTENT_MAX_BLOCKS
    }

    /// Whether its blocks are unwritten ([`EXTENT_UNWRITTEN`]).
    pub fn is_unwritten(&self) -> bool {
        self.len.get() & EXTENT_UNWRITTEN != 0
    }

    /// The `len` field for `blocks` blocks (at most
    /// [`EXTENT_MAX_BLOCKS`]), unwritten or not.
    pub fn len_field(blocks: u32, unwritten: bool) -> Le32 {
        debug_assert!(blocks <= EXTENT_MAX_BLOCKS);
        (blocks | if unwritten { EXTENT_UNWRITTEN } else { 0 }).into()
    }
}

/// Extents held in the inode itself.
pub const INODE_EXTENTS: usize = 9;

/// The longest symlink target kept inside the inode, in its extent area
/// (with [`INODE_FLAG_INLINE`]).
pub const INLINE_LINK_MAX: usize = INODE_EXTENTS * Extent::SIZE;

disk_struct! {
    /// An inode, [`INODE_SIZE`] bytes, slot `ino` of the inode table.
    pub struct Inode {
        /// File type and permission bits, as in `st_mode`.
        pub mode: Le16,
        /// Hard links; 0 marks a free or orphaned inode.
        pub links: Le16,
        /// `INODE_FLAG_*`.
        pub flags: Le32,
        /// Owner.
        pub uid: Le32,
        /// Group.
        pub gid: Le32,
        /// Size in bytes.
        pub size: Le64,
        /// Blocks allocated to the file: data, overflow extent and
        /// extended-attribute blocks.
        pub blocks: Le64,
        /// Access time, seconds.
        pub atime: Le64,
        /// Modification time, seconds.
        pub mtime: Le64,
        /// Change time, seconds.
        pub ctime: Le64,
        /// Access time, nanoseconds.
        pub atime_nsec: Le32,
        /// Modification time, nanoseconds.
        pub mtime_nsec: Le32,
        /// Change time, nanoseconds.
        pub ctime_nsec: Le32,
        /// Incremented each time the inode number is reused.
        pub generation: Le32,
        /// Used slots of `extents`.
        pub extent_count: Le16,
        /// Reserved, zero.
        pub pad0: Le16,
        /// Next inode on the orphan list, or 0.
        pub orphan_next: Le64,
        /// First overflow extent block ([`ExtentBlockHeader`]), or 0.
        pub extent_block: Le64,
        /// Reserved, zero.
        pub pad1: Le32,
        /// The first extents of the file, sorted by `logical`. A symlink
        /// with [`INODE_FLAG_INLINE`] keeps its target here instead.
        pub extents: [Extent; INODE_EXTENTS],
        /// The device of a character or block device file, in the kernel's
        /// 32-bit encoding (`new_encode_dev`: minor bits 0-7 and 20-31,
        /// major bits 8-19); zero for other files.
        pub rdev: Le32,
        /// The file's extended-attribute block ([`XattrHeader`]), or 0 if
        /// it has no extended attributes. (Reserved and zero before rsfs
        /// had them, so older filesystems need no feature flag.)
        pub xattr_block: Le64,
        /// crc32c of the inode's bytes before this field.
        pub csum: Le32,
    }
}

/// "RSEX": the magic of an overflow extent block.
pub const EXTENT_BLOCK_MAGIC: u32 = u32::from_le_bytes(*b"RSEX");
/// Extents one overflow extent block holds.
pub const EXTENT_BLOCK_EXTENTS: usize = 254;

disk_struct! {
    /// The header of an overflow extent block. The block holds the extents
    /// of a file that come after those in its inode: the header, then
    /// [`EXTENT_BLOCK_EXTENTS`] [`Extent`] slots, then the block checksum.
    pub struct ExtentBlockHeader {
        /// [`EXTENT_BLOCK_MAGIC`].
        pub magic: Le32,
        /// Used extent slots.
        pub count: Le16,
        /// Reserved, zero.
        pub pad0: Le16,
        /// The next overflow extent block of the same file, or 0.
        pub next: Le64,
    }
}

const _: () = assert!(
    ExtentBlockHeader::SIZE + EXTENT_BLOCK_EXTENTS * Extent::SIZE + BLOCK_CSUM_SIZE <= BLOCK_SIZE
);

/// "RSXA": the magic of an extended-attribute block.
pub const XATTR_MAGIC: u32 = u32::from_le_bytes(*b"RSXA");

disk_struct! {
    /// The header of an extended-attribute block. The block holds every
    /// extended attribute of one inode: the header, then `count` entries
    /// ([`XattrEntryHeader`], the name, the value, zeros to a multiple of
    /// 4 bytes), sorted by namespace index and then by name, bytewise,
    /// with no two alike; zeros to byte [`XATTR_DATA_END`]; then the block
    /// checksum.
    pub struct XattrHeader {
        /// [`XATTR_MAGIC`].
        pub magic: Le32,
        /// Entries in the block, at least 1.
        pub count: Le16,
        /// Reserved, zero.
        pub pad0: Le16,
        /// The inode whose attributes these are.
        pub owner: Le64,
    }
}

disk_struct! {
    /// The header of one extended attribute in an extended-attribute block.
    pub struct XattrEntryHeader {
        /// The namespace (`XATTR_INDEX_*`): the name's prefix.
        pub index: u8,
        /// Length of the name after the prefix, 1 to [`XATTR_NAME_MAX`].
        pub name_len: u8,
        /// Length of the value, in bytes (0 is a valid, empty value).
        pub value_len: Le16,
    }
}

/// Where the entries of an extended-attribute block end (the checksum
/// follows).
pub const XATTR_DATA_END: usize = BLOCK_SIZE - BLOCK_CSUM_SIZE;
/// The longest attribute name, after its prefix.
pub const XATTR_NAME_MAX: usize = 255;
/// Namespace `user.`.
pub const XATTR_INDEX_USER: u8 = 1;
/// `system.posix_acl_access`: a file's access ACL (an empty name).
pub const XATTR_INDEX_POSIX_ACL_ACCESS: u8 = 2;
/// `system.posix_acl_default`: a directory's default ACL (an empty name).
pub const XATTR_INDEX_POSIX_ACL_DEFAULT: u8 = 3;
/// Namespace `trusted.`.
pub const XATTR_INDEX_TRUSTED: u8 = 4;
/// Namespace `security.`.
pub const XATTR_INDEX_SECURITY: u8 = 6;

/// Bytes that an entry with a name of `name_len` bytes and a value of
/// `value_len` bytes takes in an extended-attribute block.
pub const fn xattr_entry_len(name_len: usize, value_len: usize) -> usize {
    (XattrEntryHeader::SIZE + name_len + value_len + 3) & !3
}

/// The longest value an attribute named with `name_len` bytes can have:
/// the one it has when it is alone in its block.
pub const fn xattr_value_max(name_len: usize) -> usize {
    XATTR_DATA_END - XattrHeader::SIZE - XattrEntryHeader::SIZE - name_len
}

/// Whether `index` is a namespace this format knows, and `name_len` a
/// name length it allows there: the ACLs have empty names, the others
/// names of 1 to [`XATTR_NAME_MAX`] bytes.
pub const fn xattr_name_ok(index: u8, name_len: usize) -> bool {
    match index {
        XATTR_INDEX_POSIX_ACL_ACCESS | XATTR_INDEX_POSIX_ACL_DEFAULT => name_len == 0,
        XATTR_INDEX_USER | XATTR_INDEX_TRUSTED | XATTR_INDEX_SECURITY => {
            name_len >= 1 && name_len <= XATTR_NAME_MAX
        }
        _ => false,
    }
}

/// Whether `value` is a POSIX ACL as the VFS writes one
/// (`posix_acl_xattr_header`, `posix_acl_xattr_entry`): version 2 and one
/// or more entries of 8 bytes, each with a known tag. (An empty ACL is
/// never stored: setting one removes the attribute.)
pub fn posix_acl_ok(value: &[u8]) -> bool {
    const TAGS: [u16; 6] = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20];
    value.len() >= 12
        && (value.len() - 4) & 7 == 0
        && Le32::read(value).get() == 2
        && value[4..]
            .chunks(8)
            .all(|e| TAGS.contains(&Le16::read(e).get()))
}

/// One extended attribute of a block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Xattr<'a> {
    /// The namespace, `XATTR_INDEX_*`.
    pub index: u8,
    /// The name after its prefix.
    pub name: &'a [u8],
    /// The value.
    pub value: &'a [u8],
}

impl Xattr<'_> {
    /// The order of entries in a block: by namespace, then by name.
    pub fn key(&self) -> (u8, &[u8]) {
        (self.index, self.name)
    }
}

/// Why an extended-attribute block is not acceptable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum XattrError {
    /// The magic is not [`XATTR_MAGIC`].
    BadMagic,
    /// The checksum does not match.
    BadChecksum,
    /// The block belongs to another inode (the one named).
    WrongOwner(u64),
    /// No entries: an empty block is freed, never written.
    Empty,
    /// Entry number `n` runs past the entry area, or has an unknown
    /// namespace or a bad name length.
    BadEntry(usize),
    /// Entry number `n` does not sort after the one before it (a
    /// duplicate, or out of order).
    OutOfOrder(usize),
    /// Entry number `n` is an ACL whose value is not one
    /// ([`posix_acl_ok`]).
    BadAcl(usize),
    /// The attributes do not fit in one block.
    NoSpace,
}

impl XattrError {
    /// A short description, for logs and error messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadMagic => "bad magic",
            Self::BadChecksum => "checksum mismatch",
            Self::WrongOwner(_) => "belongs to another inode",
            Self::Empty => "no entries",
            Self::BadEntry(_) => "bad entry",
            Self::OutOfOrder(_) => "entries out of order or repeated",
            Self::BadAcl(_) => "an ACL that is not one",
            Self::NoSpace => "attributes do not fit in one block",
        }
    }
}

/// The entries of an extended-attribute block, in order; see
/// [`xattrs`].
#[derive(Clone)]
pub struct XattrIter<'a> {
    block: &'a [u8],
    off: usize,
    left: usize,
}

impl XattrIter<'_> {
    /// The entries of an inode with no extended-attribute block: none.
    pub const fn empty() -> Self {
        Self {
            block: &[],
            off: 0,
            left: 0,
        }
    }
}

impl<'a> Iterator for XattrIter<'a> {
    type Item = Xattr<'a>;

    fn next(&mut self) -> Option<Xattr<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let h = XattrEntryHeader::decode(&self.block[self.off..]);
        let name_len = usize::from(h.name_len);
        let value_len = usize::from(h.value_len.get());
        let name_at = self.off + XattrEntryHeader::SIZE;
        let value_at = name_at + name_len;
        let e = Xattr {
            index: h.index,
            name: &self.block[name_at..value_at],
            value: &self.block[value_at..value_at + value_len],
        };
        self.off += xattr_entry_len(name_len, value_len);
        Some(e)
    }
}

/// Checks the extended-attribute block `block` of inode `owner` (magic,
/// checksum, owner, and that every entry is sound, in the entry area and
/// in order) and returns its entries. `crc` computes a standard crc32c.
pub fn xattrs(
    block: &[u8],
    owner: u64,
    crc: impl Fn(&[u8]) -> u32,
) -> Result<XattrIter<'_>, XattrError> {
    let h = XattrHeader::decode(block);
    if h.magic.get() != XATTR_MAGIC {
        return Err(XattrError::BadMagic);
    }
    if !csum_ok(&block[..BLOCK_SIZE], crc) {
        return Err(XattrError::BadChecksum);
    }
    if h.owner.get() != owner {
        return Err(XattrError::WrongOwner(h.owner.get()));
    }
    let count = usize::from(h.count.get());
    if count == 0 {
        return Err(XattrError::Empty);
    }
    let mut off = XattrHeader::SIZE;
    let mut prev: Option<(u8, &[u8])> = None;
    for n in 0..count {
        if off + XattrEntryHeader::SIZE > XATTR_DATA_END {
            return Err(XattrError::BadEntry(n));
        }
        let e = XattrEntryHeader::decode(&block[off..]);
        let name_len = usize::from(e.name_len);
        let len = xattr_entry_len(name_len, usize::from(e.value_len.get()));
        if !xattr_name_ok(e.index, name_len) || off + len > XATTR_DATA_END {
            return Err(XattrError::BadEntry(n));
        }
        let name_at = off + XattrEntryHeader::SIZE;
        let key = (e.index, &block[name_at..name_at + name_len]);
        if key.1.contains(&0) {
            return Err(XattrError::BadEntry(n));
        }
        if prev.is_some_and(|p| p >= key) {
            return Err(XattrError::OutOfOrder(n));
        }
        let value_at = name_at + name_len;
        let value = &block[value_at..value_at + usize::from(e.value_len.get())];
        let is_acl = matches!(
            e.index,
            XATTR_INDEX_POSIX_ACL_ACCESS | XATTR_INDEX_POSIX_ACL_DEFAULT
        );
        if is_acl && !posix_acl_ok(value) {
            return Err(XattrError::BadAcl(n));
        }
        prev = Some(key);
        off += len;
    }
    Ok(XattrIter {
        block,
        off: XattrHeader::SIZE,
        left: count,
    })
}

/// Builds, in `out` (one block), the extended-attribute block of inode
/// `owner` that holds the attributes of `old` (in order, as [`xattrs`]
/// returns them) with `change` made: `(index, name, Some(value))` sets
/// an attribute, `(index, name, None)` removes it. Returns the number of
/// entries in the new block; with 0 the block is not needed (and `out`
/// is not a valid block). [`XattrError::NoSpace`] if they do not fit.
pub fn xattrs_with<'a>(
    old: impl Iterator<Item = Xattr<'a>>,
    change: (u8, &[u8], Option<&[u8]>),
    owner: u64,
    out: &mut [u8],
    crc: impl Fn(&[u8]) -> u32,
) -> Result<usize, XattrError> {
    let (index, name, value) = change;
    let new = value.map(|value| Xattr { index, name, value });
    let out = &mut out[..BLOCK_SIZE];
    out.fill(0);
    let mut off = XattrHeader::SIZE;
    let mut count = 0;
    let mut put = |e: Xattr<'_>, out: &mut [u8]| -> Result<(), XattrError> {
        let len = xattr_entry_len(e.name.len(), e.value.len());
        if off + len > XATTR_DATA_END || e.value.len() > usize::from(u16::MAX) {
            return Err(XattrError::NoSpace);
        }
        XattrEntryHeader {
            index: e.index,
            name_len: e.name.len() as u8,
            value_len: (e.value.len() as u16).into(),
        }
        .encode(&mut out[off..]);
        let name_at = off + XattrEntryHeader::SIZE;
        out[name_at..name_at + e.name.len()].copy_from_slice(e.name);
        let value_at = name_at + e.name.len();
        out[value_at..value_at + e.value.len()].copy_from_slice(e.value);
        off += len;
        count += 1;
        Ok(())
    };
    let mut pending = new;
    for e in old {
        if let Some(n) = pending {
            if n.key() <= e.key() {
                put(n, out)?;
                pending = None;
            }
        }
        if e.key() != (index, name) {
            put(e, out)?;
        }
    }
    if let Some(n) = pending {
        put(n, out)?;
    }
    XattrHeader {
        magic: XATTR_MAGIC.into(),
        count: (count as u16).into(),
        pad0: 0.into(),
        owner: owner.into(),
    }
    .encode(out);
    csum_set(out, crc);
    Ok(count)
}

/// Inode flag: the symlink target is stored in the extent area.
pub const INODE_FLAG_INLINE: u32 = 1;
/// Inode flag (`chattr +S`): writes to the file are synchronous.
pub const INODE_FLAG_SYNC: u32 = 1 << 1;
/// Inode flag (`chattr +i`): the file cannot be changed, linked,
/// renamed or removed.
pub const INODE_FLAG_IMMUTABLE: u32 = 1 << 2;
/// Inode flag (`chattr +a`): the file can only be appended to.
pub const INODE_FLAG_APPEND: u32 = 1 << 3;
/// Inode flag (`chattr +d`): dump(8) skips the file.
pub const INODE_FLAG_NODUMP: u32 = 1 << 4;
/// Inode flag (`chattr +A`): reads do not update the access time.
pub const INODE_FLAG_NOATIME: u32 = 1 << 5;
/// Inode flag (`chattr +D`, directories only): changes to the directory's
/// names are durable when the call that makes them returns.
pub const INODE_FLAG_DIRSYNC: u32 = 1 << 6;
/// The flags `chattr(1)` sets; only regular files and directories have
/// them.
pub const INODE_FLAGS_USER: u32 = INODE_FLAG_SYNC
    | INODE_FLAG_IMMUTABLE
    | INODE_FLAG_APPEND
    | INODE_FLAG_NODUMP
    | INODE_FLAG_NOATIME
    | INODE_FLAG_DIRSYNC;

const _: () = assert!(Inode::SIZE == INODE_SIZE);
const _: () = assert!(Superblock::SIZE <= BLOCK_SIZE);

disk_struct! {
    /// The fixed part of a directory entry. The name follows it, and the
    /// entry is padded to a multiple of 4 bytes; `rec_len` covers it all.
    pub struct DirEntryHeader {
        /// Inode of the entry, or 0 for an unused record.
        pub ino: Le64,
        /// Bytes from the start of this entry to the start of the next.
        pub rec_len: Le16,
        /// Bytes in the name.
        pub name_len: u8,
        /// `FT_*`.
        pub file_type: u8,
    }
}

/// Directory entry file types.
pub const FT_UNKNOWN: u8 = 0;
/// Regular file.
pub const FT_REG: u8 = 1;
/// Directory.
pub const FT_DIR: u8 = 2;
/// Character device.
pub const FT_CHRDEV: u8 = 3;
/// Block device.
pub const FT_BLKDEV: u8 = 4;
/// Named pipe (FIFO).
pub const FT_FIFO: u8 = 5;
/// Unix domain socket.
pub const FT_SOCK: u8 = 6;
/// Symbolic link.
pub const FT_SYMLINK: u8 = 7;

/// Bytes of a directory block that hold entries (the rest is the checksum).
pub const DIR_DATA_SIZE: usize = BLOCK_SIZE - BLOCK_CSUM_SIZE;

/// The record length an entry with a name of `name_len` bytes needs.
pub const fn dir_rec_len(name_len: usize) -> usize {
    (DirEntryHeader::SIZE + name_len + 3) & !3
}

impl DirEntryHeader {
    /// Decodes the header of the record that starts at byte `off` of the
    /// directory block `block`, or `None` if a header there would not fit
    /// in the entry area. Records tile the area exactly, so a sound block
    /// never has one: a record that ends 4 or 8 bytes short of the area's
    /// end is damage, and must not be read into the checksum or past the
    /// block.
    pub fn at(block: &[u8], off: usize) -> Option<Self> {
        let end = off.checked_add(Self::SIZE)?;
        (end <= DIR_DATA_SIZE && end <= block.len()).then(|| Self::decode(&block[off..]))
    }
}

/// The smallest journal: a transaction of a few blocks must fit.
pub const JOURNAL_MIN_BLOCKS: u64 = 16;
/// The largest journal mkfs makes or a mount accepts (64 MiB).
pub const JOURNAL_MAX_BLOCKS: u64 = 16384;

/// The journal mkfs makes for a filesystem of `blocks_count` blocks: one
/// block in 64, at least 64 blocks (256 KiB) and at most 4096 (16 MiB),
/// and never more than a quarter of a small disk.
pub const fn default_journal_blocks(blocks_count: u64) -> u64 {
    let j = blocks_count / 64;
    let j = if j < 64 { 64 } else { j };
    let j = if j > 4096 { 4096 } else { j };
    let quarter = blocks_count / 4;
    if j > quarter && quarter >= JOURNAL_MIN_BLOCKS {
        quarter
    } else {
        j
    }
}

/// "RSJD": the magic of a journal descriptor block.
pub const JOURNAL_DESC_MAGIC: u32 = u32::from_le_bytes(*b"RSJD");
/// "RSJC": the magic of a journal commit block.
pub const JOURNAL_COMMIT_MAGIC: u32 = u32::from_le_bytes(*b"RSJC");

disk_struct! {
    /// The header of a journal descriptor block. A transaction in the
    /// journal is its descriptor blocks (at the journal's first blocks),
    /// then a copy of each block it logs, then a commit block
    /// ([`JournalCommit`]). Each descriptor block holds the header, then
    /// [`JOURNAL_TAGS_PER_DESC`] [`JournalTag`] slots (descriptor `index`
    /// holds the tags of logged blocks `index * JOURNAL_TAGS_PER_DESC`
    /// onwards), then the block checksum.
    pub struct JournalDesc {
        /// [`JOURNAL_DESC_MAGIC`].
        pub magic: Le32,
        /// Which descriptor block of the transaction this is, from 0.
        pub index: Le32,
        /// The transaction's sequence number.
        pub seq: Le64,
        /// Blocks the transaction logs.
        pub blocks: Le32,
        /// Reserved, zero.
        pub pad0: Le32,
    }
}

disk_struct! {
    /// Where one logged block belongs, and the checksum of its copy.
    pub struct JournalTag {
        /// The block's home: where replay writes the copy.
        pub home: Le64,
        /// [`journal_csum`] of the copy's 4096 bytes.
        pub csum: Le32,
    }
}

/// The table of [`journal_csum`]: the CRC-32 of each byte value.
const CRC32_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// The checksum of a logged copy: the standard CRC-32 (IEEE 802.3, as
/// zlib's; the check value of `"123456789"` is `0xcbf43926`), not crc32c.
///
/// Not crc32c, because every rsfs metadata block is made of pieces that
/// end with their own crc32c (a whole bitmap or directory block, each
/// 256-byte inode): a CRC run over a piece followed by that piece's CRC
/// under the same polynomial always ends in the same state, whatever the
/// piece holds. The crc32c of an inode-table block is therefore the same
/// for every version of it, and could not tell a stale copy from a new
/// one. (The crash-state tests found this: a replay accepted an old
/// transaction's tag for a newer copy of its block.)
pub fn journal_csum(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c = CRC32_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Tags one descriptor block holds.
pub const JOURNAL_TAGS_PER_DESC: u64 =
    ((BLOCK_SIZE - JournalDesc::SIZE - BLOCK_CSUM_SIZE) / JournalTag::SIZE) as u64;

disk_struct! {
    /// The commit block, after the last logged block. A transaction is in
    /// the journal, to be replayed, only if its descriptor blocks, every
    /// logged copy (checked against its tag) and this block are all
    /// there, with the same sequence number and block count.
    pub struct JournalCommit {
        /// [`JOURNAL_COMMIT_MAGIC`].
        pub magic: Le32,
        /// Blocks the transaction logs.
        pub blocks: Le32,
        /// The transaction's sequence number.
        pub seq: Le64,
    }
}

/// Descriptor blocks a transaction of `n` logged blocks needs (one even
/// for an empty transaction).
pub const fn journal_desc_blocks(n: u64) -> u64 {
    if n == 0 {
        1
    } else {
        n.div_ceil(JOURNAL_TAGS_PER_DESC)
    }
}

/// The most blocks one transaction can log in a journal of
/// `journal_blocks` blocks: its descriptors, the copies and the commit
/// block must fit.
pub const fn journal_capacity(journal_blocks: u64) -> u64 {
    let mut n = journal_blocks.saturating_sub(2);
    while n > 0 && journal_desc_blocks(n) + n + 1 > journal_blocks {
        n -= 1;
    }
    n
}

impl JournalDesc {
    /// The header of descriptor block `block` if it is one (magic and block
    /// checksum), with the tag slots it uses for a transaction of its
    /// `blocks`.
    pub fn validate(block: &[u8], crc: impl Fn(&[u8]) -> u32) -> Option<Self> {
        let d = Self::decode(block);
        (d.magic.get() == JOURNAL_DESC_MAGIC && csum_ok(block, crc)).then_some(d)
    }

    /// Tag `i` (counted within this descriptor block) of `block`.
    pub fn tag(block: &[u8], i: u64) -> JournalTag {
        JournalTag::decode(&block[Self::SIZE + i as usize * JournalTag::SIZE..])
    }

    /// Stores tag `i` (within this descriptor block) into `block`.
    pub fn set_tag(block: &mut [u8], i: u64, tag: &JournalTag) {
        tag.encode(&mut block[Self::SIZE + i as usize * JournalTag::SIZE..]);
    }
}

impl JournalCommit {
    /// Whether `block` is the commit block of transaction `seq` of `blocks`
    /// logged blocks.
    pub fn matches(block: &[u8], seq: u64, blocks: u64, crc: impl Fn(&[u8]) -> u32) -> bool {
        let c = Self::decode(block);
        c.magic.get() == JOURNAL_COMMIT_MAGIC
            && c.seq.get() == seq
            && u64::from(c.blocks.get()) == blocks
            && csum_ok(block, crc)
    }
}

/// Why a layout or an on-disk structure is not acceptable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FormatError {
    /// The magic number is not [`MAGIC`]: not an rsfs filesystem.
    BadMagic,
    /// A version this source does not know.
    BadVersion,
    /// An incompatible feature this source does not know.
    UnknownFeature,
    /// The block size is not [`BLOCK_SIZE`].
    BadBlockSize,
    /// The checksum does not match.
    BadChecksum,
    /// The regions of the layout overlap, or do not fit.
    BadGeometry,
    /// The target is smaller than [`MIN_BLOCKS`].
    TooSmall,
    /// No inodes, or more than the layout can address or the device hold.
    BadInodeCount,
    /// The filesystem is larger than its device.
    BeyondDevice,
    /// The journal is smaller than [`JOURNAL_MIN_BLOCKS`], larger than
    /// [`JOURNAL_MAX_BLOCKS`], or leaves no room for data.
    BadJournalSize,
}

impl FormatError {
    /// A short description, for logs and error messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadMagic => "bad magic number (not an rsfs filesystem)",
            Self::BadVersion => "unsupported format version",
            Self::UnknownFeature => "unsupported incompatible feature",
            Self::BadBlockSize => "block size is not 4096",
            Self::BadChecksum => "checksum mismatch",
            Self::BadGeometry => "inconsistent layout",
            Self::TooSmall => "device too small",
            Self::BadInodeCount => "inode count out of range for the device",
            Self::BeyondDevice => "filesystem is larger than the device",
            Self::BadJournalSize => "journal size out of range for the device",
        }
    }
}

/// Where each region of a filesystem lives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Geometry {
    /// Size of the filesystem in blocks.
    pub blocks_count: u64,
    /// Number of inodes.
    pub inodes_count: u64,
    /// First block of the block bitmap.
    pub block_bitmap_start: u64,
    /// Blocks in the block bitmap.
    pub block_bitmap_blocks: u64,
    /// First block of the inode bitmap.
    pub inode_bitmap_start: u64,
    /// Blocks in the inode bitmap.
    pub inode_bitmap_blocks: u64,
    /// First block of the inode table.
    pub inode_table_start: u64,
    /// Blocks in the inode table.
    pub inode_table_blocks: u64,
    /// First block of the journal.
    pub journal_start: u64,
    /// Blocks in the journal.
    pub journal_blocks: u64,
    /// First data block.
    pub data_start: u64,
}

/// Bytes of disk per inode when mkfs is not told how many inodes to make.
pub const DEFAULT_BYTES_PER_INODE: u64 = 16 * 1024;

impl Geometry {
    /// Lays out a filesystem of `blocks_count` blocks with `inodes_count`
    /// inodes (or one per [`DEFAULT_BYTES_PER_INODE`] when `None`) and a
    /// journal of `journal_blocks` blocks (or [`default_journal_blocks`]).
    ///
    /// The arithmetic cannot overflow whatever the arguments: they may come
    /// from a damaged disk.
    pub fn new(
        blocks_count: u64,
        inodes_count: Option<u64>,
        journal_blocks: Option<u64>,
    ) -> Result<Self, FormatError> {
        if blocks_count < MIN_BLOCKS {
            return Err(FormatError::TooSmall);
        }
        if blocks_count > MAX_BLOCKS {
            return Err(FormatError::BadGeometry);
        }
        let inodes = match inodes_count {
            Some(n) => n,
            None => ((blocks_count << BLOCK_SHIFT) / DEFAULT_BYTES_PER_INODE).min(u32::MAX as u64),
        };
        // Inode numbers must fit 32 bits, with room to round up below.
        if inodes == 0 || inodes > u32::MAX as u64 - INODES_PER_BLOCK {
            return Err(FormatError::BadInodeCount);
        }
        // Whole inode-table blocks; slot 0 of the table is never used.
        let inodes = (inodes + 1).next_multiple_of(INODES_PER_BLOCK) - 1;
        let block_bitmap_blocks = blocks_count.div_ceil(BITS_PER_BITMAP_BLOCK);
        let inode_bitmap_blocks = (inodes + 1).div_ceil(BITS_PER_BITMAP_BLOCK);
        let inode_table_blocks = (inodes + 1) / INODES_PER_BLOCK;
        let journal_blocks = journal_blocks.unwrap_or(default_journal_blocks(blocks_count));
        if !(JOURNAL_MIN_BLOCKS..=JOURNAL_MAX_BLOCKS).contains(&journal_blocks) {
            return Err(FormatError::BadJournalSize);
        }
        let journal_start =
            SUPERBLOCK_BLOCK + 1 + block_bitmap_blocks + inode_bitmap_blocks + inode_table_blocks;
        let g = Self {
            blocks_count,
            inodes_count: inodes,
            block_bitmap_start: SUPERBLOCK_BLOCK + 1,
            block_bitmap_blocks,
            inode_bitmap_start: SUPERBLOCK_BLOCK + 1 + block_bitmap_blocks,
            inode_bitmap_blocks,
            inode_table_start: SUPERBLOCK_BLOCK + 1 + block_bitmap_blocks + inode_bitmap_blocks,
            inode_table_blocks,
            journal_start,
            journal_blocks,
            data_start: journal_start + journal_blocks,
        };
        // The root directory needs a block, and a filesystem that is all
        // metadata is of no use: insist on room for some data.
        if g.data_start - journal_blocks + 16 > blocks_count {
            return Err(FormatError::BadInodeCount);
        }
        if g.data_start + 16 > blocks_count {
            return Err(FormatError::BadJournalSize);
        }
        Ok(g)
    }

    /// The geometry a superblock describes, checked for consistency against
    /// the rules [`Geometry::new`] follows and against `device_blocks`.
    pub fn from_superblock(sb: &Superblock, device_blocks: u64) -> Result<Self, FormatError> {
        if sb.blocks_count.get() > device_blocks {
            return Err(FormatError::BeyondDevice);
        }
        let g = Self {
            blocks_count: sb.blocks_count.get(),
            inodes_count: sb.inodes_count.get(),
            block_bitmap_start: sb.block_bitmap_start.get(),
            block_bitmap_blocks: sb.block_bitmap_blocks.get(),
            inode_bitmap_start: sb.inode_bitmap_start.get(),
            inode_bitmap_blocks: sb.inode_bitmap_blocks.get(),
            inode_table_start: sb.inode_table_start.get(),
            inode_table_blocks: sb.inode_table_blocks.get(),
            journal_start: sb
                .inode_table_start
                .get()
                .wrapping_add(sb.inode_table_blocks.get()),
            journal_blocks: sb.journal_blocks.get(),
            data_start: sb.data_start.get(),
        };
        let expect = Self::new(g.blocks_count, Some(g.inodes_count), Some(g.journal_blocks))?;
        if g != expect {
            return Err(FormatError::BadGeometry);
        }
        Ok(g)
    }

    /// The inode-table block holding inode `ino`, and the byte offset of the
    /// inode in it. `ino` must be in `1..=inodes_count`.
    pub fn inode_location(&self, ino: u64) -> (u64, usize) {
        (
            self.inode_table_start + ino / INODES_PER_BLOCK,
            (ino % INODES_PER_BLOCK) as usize * INODE_SIZE,
        )
    }
}

impl Superblock {
    /// Checks the fields that say whether this is an rsfs filesystem this
    /// source can read, and the checksum (`crc` computes a standard crc32c).
    pub fn validate(block: &[u8], crc: impl Fn(&[u8]) -> u32) -> Result<Self, FormatError> {
        let sb = Self::decode(block);
        if sb.magic.get() != MAGIC {
            return Err(FormatError::BadMagic);
        }
        if !csum_ok(&block[..Self::SIZE], crc) {
            return Err(FormatError::BadChecksum);
        }
        if sb.version.get() != VERSION {
            return Err(FormatError::BadVersion);
        }
        if sb.feature_incompat.get() & !FEATURE_INCOMPAT_KNOWN != 0 {
            return Err(FormatError::UnknownFeature);
        }
        if sb.block_size.get() as usize != BLOCK_SIZE {
            return Err(FormatError::BadBlockSize);
        }
        Ok(sb)
    }
}

/// Whether the last four bytes of `bytes` are the crc32c of the rest.
pub fn csum_ok(bytes: &[u8], crc: impl Fn(&[u8]) -> u32) -> bool {
    let (body, tail) = bytes.split_at(bytes.len() - BLOCK_CSUM_SIZE);
    Le32::read(tail).get() == crc(body)
}

/// Stores the crc32c of all but the last four bytes of `bytes` in them.
pub fn csum_set(bytes: &mut [u8], crc: impl Fn(&[u8]) -> u32) {
    let (body, tail) = bytes.split_at_mut(bytes.len() - BLOCK_CSUM_SIZE);
    Le32::new(crc(body)).write(tail);
}

/// Whether bit `bit` of a bitmap block is set.
pub fn bitmap_test(block: &[u8], bit: u64) -> bool {
    block[(bit / 8) as usize] & (1 << (bit % 8)) != 0
}

/// Sets bit `bit` of a bitmap block to `value`.
pub fn bitmap_set(block: &mut [u8], bit: u64, value: bool) {
    let byte = &mut block[(bit / 8) as usize];
    if value {
        *byte |= 1 << (bit % 8);
    } else {
        *byte &= !(1 << (bit % 8));
    }
}
