// SPDX-License-Identifier: GPL-2.0

//! Directory blocks: finding, adding and removing entries, and `readdir`.
//!
//! A directory is a sequence of blocks, each holding entries that tile its
//! first 4092 bytes, followed by the block checksum (docs/format.md). An
//! entry's position is its byte offset in the directory; it does not change
//! while the entry exists, so `telldir`/`seekdir` offsets stay valid:
//! removing an entry either merges it into the entry before it or, for the
//! first entry of a block, marks it unused.
//!
//! The VFS serialises changes to a directory with its `i_rwsem`; lookups and
//! `readdir` run with it held shared and only read.

use kernel::prelude::*;

use crate::{
    alloc,
    dir_index::{self, DirIndex, INDEX_FROM_BLOCKS, MAX_CANDIDATES},
    file,
    format::{self, dir_rec_len, DirEntryHeader, BLOCK_SIZE, DIR_DATA_SIZE},
    inode::InodeInfo,
    kfs::{self, ioctl::UserArg, sb_err, BufferHead, DirEmitter, File, FileType, Inode, Locked},
    map::Run,
    namei::Directory,
    shutdown, super_, txn, Rsfs,
};

/// The `FT_*` value stored for a file type.
pub(crate) fn ft_of(t: FileType) -> u8 {
    match t {
        FileType::Regular => format::FT_REG,
        FileType::Directory => format::FT_DIR,
        FileType::Symlink => format::FT_SYMLINK,
        FileType::CharDevice => format::FT_CHRDEV,
        FileType::BlockDevice => format::FT_BLKDEV,
        FileType::Fifo => format::FT_FIFO,
        FileType::Socket => format::FT_SOCK,
    }
}

fn dtype(ft: u8) -> u32 {
    match ft {
        format::FT_REG => kfs::dir::DT_REG,
        format::FT_DIR => kfs::dir::DT_DIR,
        format::FT_SYMLINK => kfs::dir::DT_LNK,
        format::FT_CHRDEV => kfs::dir::DT_CHR,
        format::FT_BLKDEV => kfs::dir::DT_BLK,
        format::FT_FIFO => kfs::dir::DT_FIFO,
        format::FT_SOCK => kfs::dir::DT_SOCK,
        _ => kfs::dir::DT_UNKNOWN,
    }
}

/// One entry, as found in a block.
#[derive(Clone, Copy)]
struct Entry {
    /// Byte offset in the block.
    off: usize,
    /// Header fields.
    ino: u64,
    rec_len: usize,
    name_len: usize,
    file_type: u8,
}

impl Entry {
    /// The bytes this entry needs for itself; the rest of `rec_len` is free.
    fn used(&self) -> usize {
        if self.ino == 0 {
            0
        } else {
            dir_rec_len(self.name_len)
        }
    }
}

/// Walks the entries of one directory block, checking each.
fn entries(data: &[u8]) -> impl Iterator<Item = core::result::Result<Entry, usize>> + '_ {
    let mut off = 0;
    core::iter::from_fn(move || {
        if off >= DIR_DATA_SIZE {
            return None;
        }
        let Some(h) = DirEntryHeader::at(data, off) else {
            let at = off;
            off = DIR_DATA_SIZE;
            return Some(Err(at));
        };
        let rec_len = usize::from(h.rec_len.get());
        let name_len = usize::from(h.name_len);
        let bad = rec_len < DirEntryHeader::SIZE
            || rec_len % 4 != 0
            || off + rec_len > DIR_DATA_SIZE
            || (h.ino.get() != 0
                && (name_len == 0
                    || dir_rec_len(name_len) > rec_len
                    // A name is never empty and holds no '/' or NUL: the
                    // VFS would take such a name for a path.
                    || data[off + DirEntryHeader::SIZE..][..name_len]
                        .iter()
                        .any(|&c| c == b'/' || c == 0)));
        if bad {
            let at = off;
            off = DIR_DATA_SIZE;
            return Some(Err(at));
        }
        let e = Entry {
            off,
            ino: h.ino.get(),
            rec_len,
            name_len,
            file_type: h.file_type,
        };
        off += rec_len;
        Some(Ok(e))
    })
}

fn name_of<'a>(data: &'a [u8], e: &Entry) -> &'a [u8] {
    &data[e.off + DirEntryHeader::SIZE..e.off + DirEntryHeader::SIZE + e.name_len]
}

fn damaged(dir: &Inode<Rsfs>, block: u64, what: &str) -> Error {
    sb_err!(
        dir.super_block(),
        "directory {}, block {}: {}",
        dir.ino(),
        block,
        what
    );
    shutdown::damaged(dir.super_block())
}

/// The number of blocks of a directory.
fn nblocks(dir: &Inode<Rsfs>) -> u64 {
    dir.size() / BLOCK_SIZE as u64
}

/// Reads directory block `block` and checks its checksum.
fn read_block(dir: &Inode<Rsfs>, block: u64) -> Result<BufferHead> {
    let Some(phys) = dir.data().map().lookup_written(block) else {
        return Err(damaged(
            dir,
            block,
            "hole or unwritten block in a directory",
        ));
    };
    let bh = super_::read_block(dir.super_block(), phys)?;
    if !bh.is_verified() {
        if !format::csum_ok(bh.lock().data(), kfs::crc32c) {
            return Err(damaged(dir, block, "checksum mismatch"));
        }
        bh.set_verified();
    }
    Ok(bh)
}

/// Where an entry is: its block's buffer, the block number and the entry.
struct Found {
    bh: BufferHead,
    block: u64,
    entry: Entry,
    /// The entry before it in the same block, if any.
    prev: Option<Entry>,
}

/// The largest entry (`dir_rec_len`) that fits in a directory block: 0
/// for a damaged one, which gets no new entries.
fn block_room(data: &[u8]) -> usize {
    let mut room = 0;
    for e in entries(data) {
        let Ok(e) = e else { return 0 };
        room = room.max(e.rec_len - e.used());
    }
    room
}

/// Reads every block of `dir` into a new index (see [`crate::dir_index`]).
fn build_index(dir: &Inode<Rsfs>) -> Result<DirIndex> {
    let mut index = DirIndex::new()?;
    for block in 0..nblocks(dir) {
        let bh = read_block(dir, block)?;
        let g = bh.lock();
        let data = g.data();
        for e in entries(data) {
            // A damaged block: no index; the search that follows reports it.
            let e = e.map_err(|_| kfs::efscorrupted())?;
            if e.ino != 0 {
                index.insert(dir_index::hash(name_of(data, &e)), block)?;
            }
        }
        index.set_room(block, block_room(data))?;
    }
    Ok(index)
}

/// Runs `f` on the index of `dir`, building it first if the directory is
/// large enough and has none. `None`: no index (a small directory, or one
/// that could not be built); the caller searches every block.
fn with_index<R>(dir: &Inode<Rsfs>, f: impl FnOnce(&mut DirIndex) -> R) -> Option<R> {
    let info: &InodeInfo = dir.data();
    let _nofs = kfs::NoFs::enter();
    let mut index = info.dir_index.lock();
    if index.is_none() {
        if nblocks(dir) < INDEX_FROM_BLOCKS {
            return None;
        }
        *index = build_index(dir).ok();
    }
    index.as_mut().map(f)
}

/// Brings the index of `dir`, if it has one, up to date with a change
/// just made; if that fails, the index goes, and is built again later.
fn update_index(dir: &Inode<Rsfs>, f: impl FnOnce(&mut DirIndex) -> Result) {
    let info: &InodeInfo = dir.data();
    let _nofs = kfs::NoFs::enter();
    let mut index = info.dir_index.lock();
    if let Some(i) = index.as_mut() {
        if f(i).is_err() {
            *index = None;
        }
    }
}

/// Finds `name` in block `block` of `dir`.
fn find_in(dir: &Inode<Rsfs>, block: u64, name: &[u8]) -> Result<Option<Found>> {
    let bh = read_block(dir, block)?;
    let hit = {
        let g = bh.lock();
        let data = g.data();
        let mut prev = None;
        let mut hit = None;
        for e in entries(data) {
            let e = e.map_err(|_| damaged(dir, block, "bad entry"))?;
            if e.ino != 0 && name_of(data, &e) == name {
                hit = Some((e, prev));
                break;
            }
            prev = Some(e);
        }
        hit
    };
    Ok(hit.map(|(entry, prev)| Found {
        bh,
        block,
        entry,
        prev,
    }))
}

/// Finds `name` in `dir`, block by block.
fn scan(dir: &Inode<Rsfs>, name: &[u8]) -> Result<Option<Found>> {
    for block in 0..nblocks(dir) {
        if let Some(f) = find_in(dir, block, name)? {
            return Ok(Some(f));
        }
    }
    Ok(None)
}

/// Finds `name` in `dir`: in the blocks its index names, or in all.
fn find(dir: &Inode<Rsfs>, name: &[u8]) -> Result<Option<Found>> {
    let mut blocks = [0u64; MAX_CANDIDATES];
    let h = dir_index::hash(name);
    let Some(n) = with_index(dir, |index| index.candidates(h, &mut blocks)).flatten() else {
        return scan(dir, name);
    };
    for &block in &blocks[..n] {
        if let Some(f) = find_in(dir, block, name)? {
            return Ok(Some(f));
        }
    }
    if cfg!(debug_assertions) {
        let missed = scan(dir, name)?.is_some();
        debug_assert!(
            !missed,
            "rsfs: the index of directory {} missed a name",
            dir.ino()
        );
    }
    Ok(None)
}

/// The inode number `name` refers to in `dir`, if any.
pub(crate) fn lookup(dir: &Inode<Rsfs>, name: &[u8]) -> Result<Option<u64>> {
    let found = find(dir, name)?;
    let Some(f) = found else { return Ok(None) };
    let ino = f.entry.ino;
    if ino > dir.super_block().info().geo.inodes_count {
        return Err(damaged(dir, f.block, "entry points past the inode table"));
    }
    Ok(Some(ino))
}

/// Writes an entry header and name at `off`.
fn put_entry(data: &mut [u8], off: usize, rec_len: usize, name: &[u8], ino: u64, ft: u8) {
    DirEntryHeader {
        ino: ino.into(),
        rec_len: (rec_len as u16).into(),
        name_len: name.len() as u8,
        file_type: ft,
    }
    .encode(&mut data[off..]);
    let n = off + DirEntryHeader::SIZE;
    data[n..n + name.len()].copy_from_slice(name);
}

/// Fills a new directory block with entries `(name, ino, ft)`, the last one
/// taking the rest of the block.
pub(crate) fn init_block(data: &mut [u8], items: &[(&[u8], u64, u8)]) {
    let mut off = 0;
    for (i, &(name, ino, ft)) in items.iter().enumerate() {
        let rec_len = if i + 1 == items.len() {
            DIR_DATA_SIZE - off
        } else {
            dir_rec_len(name.len())
        };
        put_entry(data, off, rec_len, name, ino, ft);
        off += rec_len;
    }
    format::csum_set(data, kfs::crc32c);
}

/// Puts the entry `name` → `ino` in block `block` of `dir` if it has room
/// for `need` bytes; returns whether it did.
fn place(dir: &Inode<Rsfs>, block: u64, name: &[u8], ino: u64, ft: u8) -> Result<bool> {
    let need = dir_rec_len(name.len());
    let bh = read_block(dir, block)?;
    let room = {
        let mut g = bh.lock();
        let data = g.data_mut();
        let mut slot = None;
        for e in entries(data) {
            let e = e.map_err(|_| damaged(dir, block, "bad entry"))?;
            if e.rec_len - e.used() >= need {
                slot = Some(e);
                break;
            }
        }
        let Some(e) = slot else {
            return Ok(false);
        };
        if e.ino == 0 {
            put_entry(data, e.off, e.rec_len, name, ino, ft);
        } else {
            // Split: the old entry keeps what it uses, the new one takes
            // the rest of its record.
            let used = e.used();
            DirEntryHeader {
                ino: e.ino.into(),
                rec_len: (used as u16).into(),
                name_len: e.name_len as u8,
                file_type: e.file_type,
            }
            .encode(&mut data[e.off..]);
            put_entry(data, e.off + used, e.rec_len - used, name, ino, ft);
        }
        format::csum_set(data, kfs::crc32c);
        block_room(data)
    };
    txn::dirty(dir.super_block(), &bh);
    update_index(dir, |index| {
        index.insert(dir_index::hash(name), block)?;
        index.set_room(block, room)
    });
    Ok(true)
}

/// Adds the entry `name` → `ino` to `dir`, reusing free space in a block
/// (the first with room, which the index knows) or appending a new block.
pub(crate) fn add(locked: Locked<'_, Rsfs>, name: &[u8], ino: u64, ft: u8) -> Result {
    let dir = locked.inode();
    let need = dir_rec_len(name.len());
    match with_index(dir, |index| index.block_with_room(need)) {
        Some(Some(block)) => {
            if place(dir, block, name, ino, ft)? {
                return Ok(());
            }
            debug_assert!(
                false,
                "rsfs: directory {} has no room where its index said",
                dir.ino()
            );
        }
        Some(None) => {
            if cfg!(debug_assertions) {
                for block in 0..nblocks(dir) {
                    let bh = read_block(dir, block)?;
                    let room = block_room(bh.lock().data());
                    debug_assert!(
                        room < need,
                        "rsfs: the index of directory {} missed room",
                        dir.ino()
                    );
                }
            }
            return append_block(locked, &[(name, ino, ft)]);
        }
        None => (),
    }
    for block in 0..nblocks(dir) {
        if place(dir, block, name, ino, ft)? {
            return Ok(());
        }
    }
    append_block(locked, &[(name, ino, ft)])
}

/// Gives `dir` a new last block holding `items`.
pub(crate) fn append_block(locked: Locked<'_, Rsfs>, items: &[(&[u8], u64, u8)]) -> Result {
    let dir = locked.inode();
    let sb = dir.super_block();
    let block = nblocks(dir);
    let info: &InodeInfo = dir.data();
    let mut map = info.map();
    let (phys, _) = alloc::alloc_blocks(sb, map.goal(), 1)?;
    let run = match Run::new(block, 1, phys) {
        Ok(run) => run,
        Err(e) => {
            let _ = alloc::free_blocks(sb, phys, 1);
            return Err(e);
        }
    };
    let fill = || -> Result<usize> {
        let bh = sb.bnew(phys)?;
        let room = {
            let mut g = bh.lock();
            g.data_mut().fill(0);
            init_block(g.data_mut(), items);
            block_room(g.data())
        };
        txn::dirty(dir.super_block(), &bh);
        Ok(room)
    };
    let room = match fill().and_then(|room| map.insert(sb, run).map(|()| room)) {
        Ok(room) => room,
        Err(e) => {
            let _ = alloc::free_blocks(sb, phys, 1);
            return Err(e);
        }
    };
    dir.set_sectors(map.blocks() * (BLOCK_SIZE / 512) as u64);
    drop(map);
    locked.set_size(dir.size() + BLOCK_SIZE as u64);
    update_index(dir, |index| {
        for &(name, _, _) in items {
            index.insert(dir_index::hash(name), block)?;
        }
        index.set_room(block, room)
    });
    Ok(())
}

/// Removes the entry `name` from `dir`; returns the inode it named.
pub(crate) fn remove(dir: &Inode<Rsfs>, name: &[u8]) -> Result<u64> {
    let Some(f) = find(dir, name)? else {
        return Err(ENOENT);
    };
    let room = {
        let mut g = f.bh.lock();
        let data = g.data_mut();
        match f.prev {
            // Merge into the entry before, which now covers this record.
            Some(p) => {
                let rec_len = (p.rec_len + f.entry.rec_len) as u16;
                data[p.off + 8..p.off + 10].copy_from_slice(&rec_len.to_le_bytes());
            }
            // The first entry of a block: keep the record, mark it unused.
            None => data[f.entry.off..f.entry.off + 8].copy_from_slice(&0u64.to_le_bytes()),
        }
        format::csum_set(data, kfs::crc32c);
        block_room(data)
    };
    txn::dirty(dir.super_block(), &f.bh);
    update_index(dir, |index| {
        if !index.remove(dir_index::hash(name), f.block) {
            return Err(ENOENT);
        }
        index.set_room(f.block, room)
    });
    Ok(f.entry.ino)
}

/// Points the existing entry `name` of `dir` at `ino` (rename over an
/// existing name, and a moved directory's `..`).
pub(crate) fn retarget(dir: &Inode<Rsfs>, name: &[u8], ino: u64, ft: u8) -> Result {
    let Some(f) = find(dir, name)? else {
        return Err(damaged(dir, 0, "entry vanished"));
    };
    {
        let mut g = f.bh.lock();
        let data = g.data_mut();
        data[f.entry.off..f.entry.off + 8].copy_from_slice(&ino.to_le_bytes());
        data[f.entry.off + 11] = ft;
        format::csum_set(data, kfs::crc32c);
    }
    txn::dirty(dir.super_block(), &f.bh);
    Ok(())
}

/// Whether `dir` holds nothing but `.` and `..`.
pub(crate) fn is_empty(dir: &Inode<Rsfs>) -> Result<bool> {
    for block in 0..nblocks(dir) {
        let bh = read_block(dir, block)?;
        let g = bh.lock();
        let data = g.data();
        for e in entries(data) {
            let e = e.map_err(|_| damaged(dir, block, "bad entry"))?;
            if e.ino != 0 && !matches!(name_of(data, &e), b"." | b"..") {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Directories' file operations: `getdents(2)`, `fsync(2)` and `ioctl(2)`.
#[vtable]
impl kfs::file::Operations for Directory {
    type FileSystem = Rsfs;

    /// `readdir`: emits the entries from the emitter's position on. Positions
    /// are byte offsets in the directory.
    fn read_dir(dir: &Inode<Rsfs>, out: &mut DirEmitter) -> Result {
        let size = dir.size() as i64;
        while out.pos() < size {
            let pos = out.pos() as u64;
            let block = pos / BLOCK_SIZE as u64;
            let in_block = (pos % BLOCK_SIZE as u64) as usize;
            let bh = read_block(dir, block)?;
            let g = bh.lock();
            let data = g.data();
            for e in entries(data) {
                let e = e.map_err(|_| damaged(dir, block, "bad entry"))?;
                // A position inside an entry (a stale seekdir) resumes at the
                // next entry.
                if e.off < in_block {
                    continue;
                }
                let at = (block * BLOCK_SIZE as u64) as i64 + e.off as i64;
                out.set_pos(at);
                if e.ino != 0 && !out.emit(name_of(data, &e), e.ino, dtype(e.file_type)) {
                    return Ok(());
                }
                // Past the entry: if a later one is damaged, the next call
                // resumes there and fails, instead of giving this entry again
                // (which made a reader loop forever on a fuzzed image).
                out.set_pos(at + e.rec_len as i64);
            }
            out.set_pos(((block + 1) * BLOCK_SIZE as u64) as i64);
        }
        Ok(())
    }

    /// `fsync` of a directory is the file fsync ([`file::fsync`]): its new
    /// names become durable with the inodes, link counts and blocks they
    /// need.
    fn fsync(file: &File, dir: &Inode<Rsfs>, start: i64, end: i64, datasync: bool) -> Result {
        file::fsync(file, dir, start, end, datasync)
    }

    /// `ioctl(2)`: the filesystem's commands ([`crate::ioctl`]); fstrim(8)
    /// sends `FITRIM` to the mount point.
    fn ioctl(file: &File, dir: &Inode<Rsfs>, cmd: u32, arg: UserArg) -> Result<i32> {
        crate::ioctl::ioctl(file, dir, cmd, arg)
    }
}
