// SPDX-License-Identifier: GPL-2.0

//! Inodes: reading them from the inode table, writing them back, and
//! releasing a deleted inode's space when its last user goes away.

use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Mutex,
    },
};

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::{
    alloc,
    dir_index::DirIndex,
    file, format,
    kfs::{
        self, address_space, fs_flags, inode_ops, sb_err, Attrs, Evicting, FileType, Inode,
        InodeOps, InodeParams, InodeRef, Locked, Lookup, SuperBlock, Timestamp,
    },
    map::BlockMap,
    namei, shutdown, super_, txn, Rsfs,
};

/// What rsfs keeps beside each VFS inode.
#[pin_data]
pub(crate) struct InodeInfo {
    /// The file's block map; taken through [`InodeInfo::map`]. Lock order:
    /// a folio lock, then a file's `block_map`, then the superblock's
    /// `alloc`.
    #[pin]
    block_map: Mutex<BlockMap>,
    /// A symlink's target, NUL-terminated; empty for other files. Set when
    /// the inode is set up and never changed.
    pub(crate) link: KVec<u8>,
    /// The `chattr(1)` flags (`kfs::fs_flags`), changed under the inode
    /// lock and read by `write_inode`.
    flags: AtomicU32,
    /// On the list of files whose data the next sync writes first (see
    /// [`crate::txn::order_data`]).
    pub(crate) ordered: AtomicBool,
    /// A directory's index of its names, once built (see
    /// [`crate::dir_index`]); changed under the directory's `i_rwsem`.
    /// Lock order: this, then the block map.
    #[pin]
    pub(crate) dir_index: Mutex<Option<DirIndex>>,
    /// Held while the extended attributes are read or changed (see
    /// [`crate::xattr`]). Lock order: this, then the block map.
    #[pin]
    pub(crate) xattr: Mutex<()>,
}

impl InodeInfo {
    /// The initialiser for an inode's data; `flags` as in [`Self::flags`].
    pub(crate) fn new(map: BlockMap, link: KVec<u8>, flags: u32) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            block_map <- new_mutex!(map, "rsfs:map"),
            link,
            flags: AtomicU32::new(flags),
            ordered: AtomicBool::new(false),
            dir_index <- new_mutex!(None, "rsfs:dir_index"),
            xattr <- new_mutex!((), "rsfs:xattr"),
        })
    }

    /// The file's `chattr(1)` flags (`kfs::fs_flags`).
    pub(crate) fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Locks the block map. Writeback takes this lock with folios under
    /// writeback in a bio it has not sent yet, so whoever holds it must
    /// not wait on reclaim that could wait on those folios: allocations
    /// under it do not recurse into filesystem reclaim (`NoFs`).
    pub(crate) fn map(&self) -> MapGuard<'_> {
        let nofs = kfs::NoFs::enter();
        MapGuard {
            guard: self.block_map.lock(),
            _nofs: nofs,
        }
    }
}

/// The locked block map of a file (see [`InodeInfo::map`]). The lock goes
/// before the no-reclaim scope ends: fields drop in declaration order.
pub(crate) struct MapGuard<'a> {
    guard: Guard<'a, BlockMap, MutexBackend>,
    _nofs: kfs::NoFs,
}

impl core::ops::Deref for MapGuard<'_> {
    type Target = BlockMap;

    fn deref(&self) -> &BlockMap {
        &self.guard
    }
}

impl core::ops::DerefMut for MapGuard<'_> {
    fn deref_mut(&mut self) -> &mut BlockMap {
        &mut self.guard
    }
}

fn timestamp(sec: u64, nsec: u32) -> Timestamp {
    Timestamp {
        sec: sec as i64,
        nsec: nsec.min(999_999_999),
    }
}

/// Whether the table slot of `ino` holds a live inode (sound checksum,
/// links): the inode bitmap had better not call it free.
pub(crate) fn slot_in_use(sb: &SuperBlock<Rsfs>, ino: u64) -> Result<bool> {
    let (block, offset) = sb.info().geo.inode_location(ino);
    let bh = super_::read_block(sb, block)?;
    let g = bh.lock();
    let raw = &g.data()[offset..offset + format::INODE_SIZE];
    Ok(format::csum_ok(raw, kfs::crc32c) && format::Inode::decode(raw).links.get() != 0)
}

/// The inode a file handle names, as ext2's `ext2_nfs_get_inode`: ESTALE
/// for a number out of range, a free slot, or another generation (the
/// number was freed and reused), so that a stale handle is not taken for
/// damage. A file unlinked but still open keeps its slot (with no links)
/// until it is evicted, and its handle still opens it, as on ext4.
pub(crate) fn iget_for_handle(
    sb: &SuperBlock<Rsfs>,
    ino: u64,
    generation: u32,
) -> Result<InodeRef<Rsfs>> {
    // `orphan_link` reads the slot: `None` for a number out of range or a
    // free (zeroed) slot.
    let inode = match orphan_link(sb, ino)? {
        None => return Err(kfs::estale()),
        Some((_, 0)) => iget_orphan(sb, ino)?,
        Some(_) => iget(sb, ino)?,
    };
    if generation != 0 && inode.attrs().generation != generation {
        return Err(kfs::estale());
    }
    Ok(inode)
}

/// Reads the on-disk inode `ino` and checks its checksum.
fn read_disk_inode(sb: &SuperBlock<Rsfs>, ino: u64) -> Result<format::Inode> {
    let geo = &sb.info().geo;
    if ino == 0 || ino > geo.inodes_count {
        sb_err!(sb, "inode {} out of range", ino);
        return Err(shutdown::damaged(sb));
    }
    let (block, offset) = geo.inode_location(ino);
    let bh = super_::read_block(sb, block)?;
    let g = bh.lock();
    let raw = &g.data()[offset..offset + format::INODE_SIZE];
    if !format::csum_ok(raw, kfs::crc32c) {
        sb_err!(sb, "inode {}: checksum mismatch", ino);
        return Err(shutdown::damaged(sb));
    }
    Ok(format::Inode::decode(raw))
}

/// Reads a symlink's target: inline in the inode, or in its one block.
fn read_link(
    sb: &SuperBlock<Rsfs>,
    ino: u64,
    d: &format::Inode,
    map: &BlockMap,
) -> Result<KVec<u8>> {
    let len = d.size.get();
    let bad = || {
        sb_err!(sb, "inode {}: bad symlink of {} bytes", ino, len);
        shutdown::damaged(sb)
    };
    if len == 0 || len >= format::BLOCK_SIZE as u64 {
        return Err(bad());
    }
    let len = len as usize;
    let mut link = KVec::with_capacity(len + 1, GFP_KERNEL)?;
    if d.flags.get() & format::INODE_FLAG_INLINE != 0 {
        if len > format::INLINE_LINK_MAX {
            return Err(bad());
        }
        let mut area = [0u8; format::INLINE_LINK_MAX];
        format::Field::write(&d.extents, &mut area);
        link.extend_from_slice(&area[..len], GFP_KERNEL)?;
    } else {
        let block = map.lookup_written(0).ok_or_else(bad)?;
        let bh = super_::read_block(sb, block)?;
        link.extend_from_slice(&bh.lock().data()[..len], GFP_KERNEL)?;
    }
    if link.contains(&0) {
        return Err(bad());
    }
    link.push(0, GFP_KERNEL)?;
    Ok(link)
}

/// Returns inode `ino`, from the inode cache or read from disk.
pub(crate) fn iget(sb: &SuperBlock<Rsfs>, ino: u64) -> Result<InodeRef<Rsfs>> {
    load(sb, ino, false)
}

/// Returns inode `ino` of the orphan list, which has no links: for the
/// mount to release it ([`crate::orphan::release_all`]).
pub(crate) fn iget_orphan(sb: &SuperBlock<Rsfs>, ino: u64) -> Result<InodeRef<Rsfs>> {
    load(sb, ino, true)
}

/// Reads inode `ino` into the inode cache: an inode with links, or an
/// orphan (none) if `orphan`.
fn load(sb: &SuperBlock<Rsfs>, ino: u64, orphan: bool) -> Result<InodeRef<Rsfs>> {
    let new = match sb.iget(ino)? {
        Lookup::Cached(inode) => return Ok(inode),
        Lookup::New(new) => new,
    };
    let d = read_disk_inode(sb, new.ino())?;
    let mode = d.mode.get();
    let Some(ftype) = FileType::from_mode(mode) else {
        sb_err!(sb, "inode {}: unknown file type {:o}", ino, mode >> 12);
        return Err(shutdown::damaged(sb));
    };
    if (d.links.get() == 0) != orphan {
        if orphan {
            sb_err!(sb, "inode {}: on the orphan list but has links", ino);
        } else {
            sb_err!(sb, "inode {}: in use but has no links", ino);
        }
        return Err(shutdown::damaged(sb));
    }
    // A device, pipe or socket keeps nothing on the disk but its inode.
    if ftype.is_special()
        && (d.size.get() != 0 || d.extent_count.get() != 0 || d.extent_block.get() != 0)
    {
        sb_err!(sb, "inode {}: special file with a size or blocks", ino);
        return Err(shutdown::damaged(sb));
    }
    let inline = ftype == FileType::Symlink && d.flags.get() & format::INODE_FLAG_INLINE != 0;
    // Only regular files and directories have chattr flags (fsck clears
    // them elsewhere); unknown bits are fsck's to report.
    let flags = if matches!(ftype, FileType::Regular | FileType::Directory) {
        flags_from_disk(d.flags.get())
    } else {
        0
    };
    let mut map = if inline {
        BlockMap::new()
    } else {
        BlockMap::load(sb, ino, &d)?
    };
    map.load_xattr_block(sb, ino, &d)?;
    let link = if ftype == FileType::Symlink {
        read_link(sb, ino, &d, &map)?
    } else {
        KVec::new()
    };
    let size = d.size.get();
    if size > format::MAX_FILE_SIZE
        || (ftype == FileType::Directory && size % format::BLOCK_SIZE as u64 != 0)
    {
        sb_err!(sb, "inode {}: bad size {}", ino, size);
        return Err(shutdown::damaged(sb));
    }
    new.init(
        InodeParams {
            mode,
            nlink: d.links.get().into(),
            uid: d.uid.get(),
            gid: d.gid.get(),
            size,
            sectors: map.blocks() * (format::BLOCK_SIZE / 512) as u64,
            atime: timestamp(d.atime.get(), d.atime_nsec.get()),
            mtime: timestamp(d.mtime.get(), d.mtime_nsec.get()),
            ctime: timestamp(d.ctime.get(), d.ctime_nsec.get()),
            generation: d.generation.get(),
            rdev: if matches!(ftype, FileType::CharDevice | FileType::BlockDevice) {
                d.rdev.get()
            } else {
                0
            },
            flags,
        },
        ops(ftype),
        InodeInfo::new(map, link, flags),
    )
}

/// The on-disk `chattr(1)` flags and the kernel's (`kfs::fs_flags`).
const FLAG_BITS: [(u32, u32); 6] = [
    (format::INODE_FLAG_SYNC, fs_flags::SYNC),
    (format::INODE_FLAG_IMMUTABLE, fs_flags::IMMUTABLE),
    (format::INODE_FLAG_APPEND, fs_flags::APPEND),
    (format::INODE_FLAG_NODUMP, fs_flags::NODUMP),
    (format::INODE_FLAG_NOATIME, fs_flags::NOATIME),
    (format::INODE_FLAG_DIRSYNC, fs_flags::DIRSYNC),
];

/// The `chattr(1)` flags a regular file takes.
pub(crate) const FLAGS: u32 =
    fs_flags::SYNC | fs_flags::IMMUTABLE | fs_flags::APPEND | fs_flags::NODUMP | fs_flags::NOATIME;

/// The `chattr(1)` flags a directory takes: a file's, and DIRSYNC (`+D`),
/// which on a file gives EOPNOTSUPP, as on ext4.
pub(crate) const DIR_FLAGS: u32 = FLAGS | fs_flags::DIRSYNC;

fn flags_from_disk(disk: u32) -> u32 {
    FLAG_BITS
        .iter()
        .filter(|(d, _)| disk & d != 0)
        .fold(0, |f, (_, k)| f | k)
}

fn flags_to_disk(flags: u32) -> u32 {
    FLAG_BITS
        .iter()
        .filter(|(_, k)| flags & k != 0)
        .fold(0, |f, (d, _)| f | d)
}

/// `chattr(1)` on a regular file or directory, under the inode lock. The
/// VFS enforces the flags from here on (`kfs::Locked::set_flags`); the
/// change is a change of the inode (ctime), written back with it, or
/// committed at once if the inode is now synchronous (`IS_SYNC`), as
/// ext4's `ext4_ioctl_setflags` does.
pub(crate) fn set_flags(inode: Locked<'_, Rsfs>, flags: u32) -> Result {
    inode.data().flags.store(flags, Ordering::Relaxed);
    inode.set_flags(flags);
    inode.touch_ctime();
    inode.mark_dirty();
    sync_if_synchronous(&inode)
}

/// An inode whose changes are to be durable when the call that makes them
/// returns (`IS_SYNC`: `mount -o sync`, `chattr +S`): a chattr, truncate
/// or fallocate is committed at once, as ext4 commits it. (Writes are
/// made durable by the VFS, which calls `fsync` for them.)
pub(crate) fn sync_if_synchronous(inode: &Inode<Rsfs>) -> Result {
    if inode.is_sync() {
        txn::sync(inode.super_block())
    } else {
        Ok(())
    }
}

/// The root directory.
pub(crate) fn root(sb: &SuperBlock<Rsfs>) -> Result<InodeRef<Rsfs>> {
    let root = iget(sb, format::ROOT_INO)?;
    if root.file_type() != FileType::Directory {
        sb_err!(sb, "the root inode is not a directory");
        return Err(shutdown::damaged(sb));
    }
    Ok(root)
}

/// Encodes the attributes of an inode (and, unless it is an inline
/// symlink, its block map; in any case its extended-attribute block) into
/// an on-disk inode.
fn encode(inode: &Inode<Rsfs>, a: &Attrs, d: &mut format::Inode) -> Result {
    // Seconds are signed on disk (two's complement): times before 1970
    // are kept, as ext4 keeps them.
    let ts = |t: Timestamp| (t.sec as u64, t.nsec);
    d.mode = a.mode.into();
    d.links = (a.nlink.min(u16::MAX.into()) as u16).into();
    d.uid = a.uid.into();
    d.gid = a.gid.into();
    d.size = a.size.into();
    d.atime = ts(a.atime).0.into();
    d.atime_nsec = ts(a.atime).1.into();
    d.mtime = ts(a.mtime).0.into();
    d.mtime_nsec = ts(a.mtime).1.into();
    d.ctime = ts(a.ctime).0.into();
    d.ctime_nsec = ts(a.ctime).1.into();
    d.generation = a.generation.into();
    d.rdev = a.rdev.into();
    let info = inode.data();
    let link = &info.link;
    let target = link.len().saturating_sub(1);
    if inode.file_type() == FileType::Symlink && target <= format::INLINE_LINK_MAX {
        let mut area = [0u8; format::INLINE_LINK_MAX];
        area[..target].copy_from_slice(&link[..target]);
        d.extents = format::Field::read(&area);
        d.extent_count = 0.into();
        d.extent_block = 0.into();
        d.flags = format::INODE_FLAG_INLINE.into();
        let map = info.map();
        d.blocks = map.blocks().into();
        d.xattr_block = map.xattr_block().into();
        return Ok(());
    }
    d.flags = flags_to_disk(info.flags()).into();
    info.map().store(inode, d)
}

/// Changes slot `ino` of the inode table's buffer with `change`, under the
/// buffer's lock; the buffer joins the running transaction.
fn update_slot(sb: &SuperBlock<Rsfs>, ino: u64, change: impl FnOnce(&mut format::Inode)) -> Result {
    let (block, offset) = sb.info().geo.inode_location(ino);
    let bh = super_::read_block(sb, block)?;
    {
        let mut g = bh.lock();
        let slot = &mut g.data_mut()[offset..offset + format::INODE_SIZE];
        let mut d = format::Inode::decode(slot);
        change(&mut d);
        d.encode(slot);
        format::csum_set(slot, kfs::crc32c);
    }
    txn::dirty(sb, &bh);
    Ok(())
}

/// Writes `d` into slot `ino`, keeping the slot's link in the orphan list,
/// which only [`crate::orphan`] changes ([`set_orphan_next`]).
fn write_slot(sb: &SuperBlock<Rsfs>, ino: u64, d: &format::Inode) -> Result {
    update_slot(sb, ino, |slot| {
        let next = slot.orphan_next;
        *slot = *d;
        slot.orphan_next = next;
    })
}

/// Writes a link count of 0 into slot `ino`, ahead of the inode's own: for
/// an `O_TMPFILE` inode, whose one link the VFS drops after the operation.
pub(crate) fn set_slot_unlinked(sb: &SuperBlock<Rsfs>, ino: u64) -> Result {
    update_slot(sb, ino, |slot| slot.links = 0.into())
}

/// Sets the orphan-list link of inode `ino` (0: the end of the list).
pub(crate) fn set_orphan_next(sb: &SuperBlock<Rsfs>, ino: u64, next: u64) -> Result {
    update_slot(sb, ino, |slot| slot.orphan_next = next.into())
}

/// The orphan-list link and the link count of inode `ino`, if its slot
/// holds an inode in use (sound, with a file type); `None` if it does not.
pub(crate) fn orphan_link(sb: &SuperBlock<Rsfs>, ino: u64) -> Result<Option<(u64, u16)>> {
    if ino == 0 || ino > sb.info().geo.inodes_count {
        return Ok(None);
    }
    let (block, offset) = sb.info().geo.inode_location(ino);
    let bh = super_::read_block(sb, block)?;
    let g = bh.lock();
    let raw = &g.data()[offset..offset + format::INODE_SIZE];
    let d = format::Inode::decode(raw);
    let in_use = format::csum_ok(raw, kfs::crc32c) && d.mode.get() != 0;
    Ok(in_use.then(|| (d.orphan_next.get(), d.links.get())))
}

/// `write_inode`: the inode's attributes and block map go to the table's
/// buffer, and so into the running transaction. A caller that needs them
/// durable (`sync`: `fsync`, `syncfs`) commits next ([`txn::sync`]); this
/// never commits itself, since the flusher calls it with the inode under
/// writeback. The `inode_writes` counter counts these: what `fsync` and
/// the flusher write, not the copies `dirty_inode` makes.
pub(crate) fn write_inode(inode: &Inode<Rsfs>, _sync: bool) -> Result {
    inode
        .super_block()
        .info()
        .stats
        .add(crate::super_::Stat::InodeWrites, 1);
    store(inode)
}

/// Copies the inode into its slot of the inode table's buffer. No handle of its own: one slot, written whole
/// under its buffer's lock, is never half of anything (see `crate::txn`).
fn store(inode: &Inode<Rsfs>) -> Result {
    let sb = inode.super_block();
    if sb.is_read_only() || shutdown::is_shut_down(sb) {
        return Ok(());
    }
    let mut d = format::Inode::default();
    encode(inode, &inode.attrs(), &mut d)?;
    write_slot(sb, inode.ino(), &d)
}

/// `dirty_inode`: a change to the inode goes into its slot in the inode
/// table's buffer at once, within the operation that made it (when there
/// is one), so that a sync writes it together with the rest of that
/// operation: a link count with the name that counts it, a block map with
/// the bitmap bits of its blocks.
///
/// Timestamps alone (`datasync` false) wait for `write_inode` (`fsync`, the
/// flusher): `fdatasync` does not write them, and nothing else depends on
/// them.
pub(crate) fn dirty_inode(inode: &Inode<Rsfs>, datasync: bool) {
    if !datasync {
        return;
    }
    if let Err(e) = store(inode) {
        sb_err!(
            inode.super_block(),
            "inode {}: cannot update the inode table (error {})",
            inode.ino(),
            e.to_errno()
        );
    }
}

/// `evict_inode`: a deleted inode's blocks and number are freed, and its
/// slot in the table is zeroed.
pub(crate) fn evict(inode: Evicting<'_, Rsfs>) {
    let sb = inode.super_block();
    if inode.nlink() != 0 || sb.is_read_only() {
        return;
    }
    // A release is a change of the filesystem's own: it waits for a thaw
    // (the last close of a deleted file, while frozen), as ext4's does.
    let _intwrite = sb.start_intwrite();
    // Not `begin`: eviction may come from memory reclaim, anywhere. Shut
    // down, the inode stays on the orphan list on the disk, for the next
    // mount to release.
    let Ok(_handle) = txn::begin_locked(sb) else {
        return;
    };
    let ino = inode.ino();
    let unlisted = crate::orphan::remove(sb, ino);
    crate::xattr::check_before_release(&inode);
    let freed = inode.data().map().free_all(sb);
    let zeroed = update_slot(sb, ino, |slot| *slot = format::Inode::default());
    let released = alloc::free_inode(sb, ino);
    if unlisted.and(freed).and(zeroed).and(released).is_err() {
        sb_err!(
            sb,
            "inode {}: could not release all its space; run fsck.rsfs",
            ino
        );
    }
}

/// `truncate(2)` of a regular file: the page cache and the block map follow
/// the new size. Growing keeps the blocks that fallocate(KEEP_SIZE) placed
/// past the old end; shrinking frees every block past the new end,
/// preallocated ones too, as ext4 does.
pub(crate) fn set_size(inode: Locked<'_, Rsfs>, size: u64) -> Result {
    if size > format::MAX_FILE_SIZE {
        return Err(EFBIG);
    }
    let sb = inode.super_block();
    let _handle = txn::begin(sb)?;
    inode.wait_for_direct_io();
    let old = inode.size();
    // Growing, the old last block's tail becomes file data; shrinking, the
    // new last block's tail must not come back if the file grows again.
    crate::file::zero_tail(&inode, old.min(size))?;
    inode.truncate_pagecache(size);
    let mut result = Ok(());
    if size < old {
        let mut map = inode.data().map();
        result = map.truncate(sb, size.div_ceil(format::BLOCK_SIZE as u64));
        inode.set_sectors(map.blocks() * (format::BLOCK_SIZE / 512) as u64);
    }
    inode.touch_cmtime();
    inode.mark_dirty();
    result
}

/// The operations tables of each file type: directories' are in
/// [`crate::namei`] (the namespace) and [`crate::dir`] (reading them),
/// regular files' in [`crate::file`].
pub(crate) fn ops(ftype: FileType) -> InodeOps<Rsfs> {
    match ftype {
        FileType::Directory => InodeOps {
            inode: inode_ops::Ops::new::<namei::Directory>(),
            file: Some(kfs::file::Ops::new::<namei::Directory>()),
            pages: None,
        },
        FileType::Regular => InodeOps {
            inode: inode_ops::Ops::new::<file::RegularFile>(),
            file: Some(kfs::file::Ops::new::<file::RegularFile>()),
            pages: Some(address_space::Ops::new::<file::RegularFile>()),
        },
        FileType::Symlink => InodeOps {
            inode: inode_ops::Ops::new::<Symlink>(),
            file: None,
            pages: None,
        },
        _ => InodeOps {
            inode: inode_ops::Ops::new::<Special>(),
            file: None,
            pages: None,
        },
    }
}

/// Symlinks: their target, from the inode or its one block.
struct Symlink;

#[vtable]
impl inode_ops::Operations for Symlink {
    type FileSystem = Rsfs;

    /// `get_link`: the target read when the inode was.
    fn get_link(inode: &Inode<Rsfs>) -> Result<&[u8]> {
        let link = &inode.data().link;
        if link.is_empty() {
            return Err(EINVAL);
        }
        Ok(link)
    }
}

/// Devices, pipes and sockets: the VFS gives them their file operations;
/// only their attributes are rsfs's (`setattr`).
struct Special;

#[vtable]
impl inode_ops::Operations for Special {
    type FileSystem = Rsfs;
}
