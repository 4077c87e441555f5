// SPDX-License-Identifier: GPL-2.0

//! Regular files: their page cache (reading folios, preparing and finishing
//! buffered writes, handing dirty folios to [`writeback`]), `page_mkwrite`,
//! direct I/O, `fsync` and `fallocate`. The three operations tables rsfs
//! gives regular files are implemented at the end of this file, beside the
//! code they run: `address_space`, `iomap` and `vm`.
//!
//! rsfs allocates a file's disk blocks when data first lands in the page
//! cache (`write_begin`, `page_mkwrite`), not at writeback, so a full disk
//! shows up as ENOSPC from `write(2)` or as SIGBUS on a mapped store, never
//! as lost data later. Each folio remembers its disk block, which spares
//! writeback any lookup.
//!
//! `fallocate` gives blocks unwritten: they keep what the disk held, read
//! as zeroes, and become written when data first lands in the page cache
//! over them, in the same way and under the same ordering as a new block.

use kernel::prelude::*;

use crate::{
    alloc,
    format::{self, BLOCK_SIZE},
    inode,
    kfs::{
        self,
        address_space::{self, WritePage},
        file::Opening,
        inode_ops,
        io::{IovIter, Kiocb},
        ioctl::UserArg,
        iomap::{self, BlockMapping},
        vm::{self, Fault, MkWrite, Mmap},
        AddressSpace, BioBuilder, Fallocate, Fiemap, File, Inode, Locked, LockedFolio, Readahead,
        WritebackControl,
    },
    map::{BlockMap, Run, UNWRITTEN_MAX_BLOCKS},
    shutdown,
    super_::{self, Stat},
    txn, writeback, Rsfs,
};

/// The disk block of file block `index`, given one now if it is a hole.
/// Returns the block and whether it is new. A new block for a write
/// (`for_write`) is remembered, so that it goes back if the write fails
/// (see [`drop_fresh_blocks`]).
fn block_for_write(inode: &Inode<Rsfs>, index: u64, for_write: bool) -> Result<(u64, bool)> {
    let (block, _, new) = blocks_for_write(inode, index, 1, for_write)?;
    Ok((block, new))
}

/// The disk blocks from file block `index` on, up to `max` of them,
/// contiguous on disk: the written run there; or, in an unwritten run
/// (preallocated by `fallocate`), those blocks, written from now on; or,
/// in a hole, as much of the hole as the allocator gives in one run.
/// Returns the first block, how many, and whether they are new (holding
/// nothing of the file yet: given or made written now, or for a write,
/// `for_write`, given ahead by this write). New blocks for a write are
/// remembered, so that they go back if the write fails (see
/// [`drop_fresh_blocks`]).
///
/// The caller dirties the folios of new blocks inside a handle it opened
/// before calling this (see [`give_block_to_folio`]).
fn blocks_for_write(
    inode: &Inode<Rsfs>,
    index: u64,
    max: u64,
    for_write: bool,
) -> Result<(u64, u64, bool)> {
    let sb = inode.super_block();
    {
        // Mapped already: new to this write if the write allocated it
        // ahead of its data ([`buffered_write`]).
        let map = inode.data().map();
        if let Some((block, run, false)) = map.lookup(index) {
            return Ok((block, run.min(max), for_write && map.is_fresh(index)));
        }
    }
    // A hole or an unwritten run: giving it blocks, or making them
    // written, is an operation. Callers may hold the folio locked
    // (write_begin, page_mkwrite). The handle comes before the map lock,
    // so the lookup is done again under both.
    let _handle = txn::begin_locked(sb)?;
    let mut map = inode.data().map();
    match map.lookup(index) {
        Some((block, run, false)) => return Ok((block, run.min(max), false)),
        Some((block, run, true)) => {
            // The blocks hold whatever the disk had there. The map that
            // says they are written must not reach the disk before the
            // data does: the file's data goes first, as for a new block.
            let len = run.min(max);
            txn::order_data(inode)?;
            let mut done = match map.mark_written(sb, index, index + len) {
                Err(e) if e == ENOSPC => write_whole_run(inode, &mut map, index, len),
                done => done,
            };
            if done.is_ok() && for_write {
                // If the write fails, they become unwritten again.
                done = map.note_fresh(index, len, true);
                if done.is_err() && map.mark_unwritten(sb, index, index + len).is_err() {
                    // Written they stay; zeroes make them read as zeroes.
                    let _ = sb.zero_blocks(block, len);
                }
            }
            // Whatever the outcome, a split may have taken an overflow
            // block, or a join freed one.
            inode.set_sectors(map.blocks() * (BLOCK_SIZE / 512) as u64);
            drop(map);
            inode.mark_dirty();
            done?;
            sb.info().stats.add(Stat::UnwrittenConverted, len);
            return Ok((block, len, true));
        }
        None => (),
    }
    // No further than the hole, and no further than a file may reach.
    Run::new(index, 1, 0)?;
    let want = map
        .next_mapped(index)
        .map_or(max, |next| (next - index).min(max))
        .min(format::MAX_FILE_BLOCKS - index)
        .min(u64::from(format::EXTENT_MAX_BLOCKS))
        .max(1);
    // The blocks may have held another file's data: this file's data must
    // reach the disk before the map that names them.
    txn::order_data(inode)?;
    // Right after the file block before, if there is one: sequential writes
    // get consecutive blocks, so their extents merge and their folios go
    // out in large bios.
    let goal = index
        .checked_sub(1)
        .and_then(|prev| map.lookup(prev))
        .map_or_else(|| map.goal(), |(b, _, _)| b + 1);
    let (block, len) = alloc::alloc_blocks(sb, goal, want)?;
    let mapped = (if for_write {
        map.note_fresh(index, len, false)
    } else {
        Ok(())
    })
    .and_then(|()| Run::new(index, len, block))
    .and_then(|run| map.insert(sb, run));
    if let Err(e) = mapped {
        let _ = alloc::free_blocks(sb, block, len);
        return Err(e);
    }
    inode.set_sectors(map.blocks() * (BLOCK_SIZE / 512) as u64);
    drop(map);
    sb.info().stats.add(Stat::DataAllocs, 1);
    inode.mark_dirty();
    // The blocks may have held metadata (a directory block, say) whose
    // buffer is still cached: drop it, so it is never written over our data.
    sb.forget_block_buffers(block, len);
    Ok((block, len, true))
}

/// Makes the whole unwritten run that holds file blocks `index..index +
/// len` written, when the split that would make only those blocks written
/// found no block for the map (ENOSPC): the rest of the run is zeroed on
/// the disk first, so that it still reads as zeroes (and the zeroes are
/// durable before the map, which the commit writes after a flush). ext4
/// does the same when an extent's split fails (`ext4_split_extent_at`);
/// the run is at most [`UNWRITTEN_MAX_BLOCKS`] long (128 MiB), as ext4's
/// are at most 32,767 blocks. A write into space that `fallocate` gave so
/// never fails for want of space, as `posix_fallocate(3)` promises (an I/O
/// error from the zeroing still fails it).
fn write_whole_run(inode: &Inode<Rsfs>, map: &mut BlockMap, index: u64, len: u64) -> Result {
    let sb = inode.super_block();
    // Nothing more is written once shut down.
    shutdown::alive(sb)?;
    let run = map.run_at(index).filter(|r| r.unwritten).ok_or(EINVAL)?;
    let first = u64::from(run.logical);
    let end = first + u64::from(run.len);
    if first < index {
        sb.zero_blocks(run.start, index - first)?;
    }
    if index + len < end {
        sb.zero_blocks(run.start + (index + len - first), end - index - len)?;
    }
    map.mark_written(sb, first, end)?;
    sb.info()
        .stats
        .add(Stat::UnwrittenZeroed, u64::from(run.len) - len);
    Ok(())
}

/// The disk block cached in a folio, if any. rsfs keeps the block behind
/// each folio of a regular file in the folio's private word once it is
/// known, as a buffer head would, so that writeback needs no lock on the
/// file's block map. 0 means none: block 0 is the superblock, never data.
pub(crate) fn cached_block(folio: &LockedFolio) -> Option<u64> {
    let word = folio.private_word() as u64;
    (word != 0).then_some(word)
}

/// Caches the disk block behind a folio (see [`cached_block`]).
pub(crate) fn cache_block(folio: &LockedFolio, block: u64) {
    folio.set_private_word(block as usize);
}

/// The disk block a folio reads from, if it is neither a hole nor
/// unwritten.
fn block_for_read(inode: &Inode<Rsfs>, folio: &LockedFolio) -> Option<u64> {
    cached_block(folio).or_else(|| inode.data().map().lookup_written(folio.index()))
}

/// Opens a handle if `folio` is about to be given a block, or have its
/// unwritten block made written ([`blocks_for_write`]), to be
/// held until the folio is dirty. A sync waits for open handles, then
/// writes the dirty data of the files that were given blocks before it
/// writes any map: with the handle held until the folio is dirty, that
/// data includes this folio, and the map never names a block that still
/// holds what the disk had there. `None` if the block holds the file's
/// data already.
fn give_block_to_folio<'a>(
    inode: &'a Inode<Rsfs>,
    folio: &LockedFolio,
) -> Result<Option<txn::Handle<'a>>> {
    if cached_block(folio).is_some() || inode.data().map().lookup_written(folio.index()).is_some() {
        return Ok(None);
    }
    txn::begin_locked(inode.super_block()).map(Some)
}

/// A hole reads as zeroes, without I/O.
fn fill_hole(folio: LockedFolio) {
    folio.zero_segments(0, folio.size(), 0, 0);
    folio.mark_uptodate();
}

/// Called under the inode lock before every write, buffered or direct,
/// of `len` bytes at `pos`. A write that starts past the end of the file leaves a gap,
/// and the old last block's tail becomes file data: it is zeroed first
/// (see [`zero_tail`]). The blocks that the last write allocated are
/// forgotten: this write's own go on the list (see
/// [`drop_fresh_blocks`]).
fn prepare_write(inode: &Inode<Rsfs>, pos: u64, len: usize) -> Result {
    // The write's blocks are given under folio locks, where no sync may
    // run: room is made here, if only a sync would give it back.
    txn::make_room(inode.super_block(), blocks_spanned(pos, len));
    inode.data().map().clear_fresh();
    let size = inode.size();
    if pos > size {
        zero_tail(inode, size)?;
    }
    Ok(())
}

/// Blocks given ahead to a buffered write past the end of the file, at
/// most: 4 MiB, a chunk of the write.
const WRITE_AHEAD_BLOCKS: u64 = 1024;

/// A buffered write (`generic_perform_write` through [`write_begin`] and
/// [`write_end`]), under the inode lock. The part past the end of the file
/// goes a chunk at a time: the chunk's blocks are given first, in as few
/// runs as the allocator finds, rather than one by one in `write_begin`,
/// so a sequential write allocates, and copies its inode into the table,
/// once per chunk rather than once per block. A handle is held over the
/// chunk: no commit can come between the blocks given and their folios
/// dirtied, and a commit writes a file's dirty data before the map that
/// names its blocks (`txn::order_data`), so no map on disk names a block
/// that still holds what it held before. It leaves `journal_info` unset,
/// since copying from the user's memory may fault in another
/// filesystem's file; a sync waits for the chunk.
///
/// [`write_begin`]: address_space::Operations::write_begin
/// [`write_end`]: address_space::Operations::write_end
fn buffered_write(
    iocb: &mut Kiocb<'_, Rsfs>,
    from: &mut IovIter<'_>,
    lock: &kfs::lock::InodeGuard<'_, Rsfs>,
) -> Result<usize> {
    let inode = iocb.inode();
    let bs = BLOCK_SIZE as u64;
    let mut total = 0;
    loop {
        let pos = iocb.pos();
        let count = from.count() as u64;
        let end = pos.saturating_add(count);
        // The first block past the end of the file that the write reaches.
        let first = inode.size().div_ceil(bs).max(pos / bs);
        if count == 0 {
            return Ok(total);
        }
        let (this, ahead) = if end.div_ceil(bs) <= first {
            // Nothing past the end: no blocks to give ahead.
            (count, None)
        } else if pos < first * bs {
            // The part inside the file first, on its own.
            (first * bs - pos, None)
        } else {
            let last = end.div_ceil(bs).min(first + WRITE_AHEAD_BLOCKS);
            ((last * bs).min(end) - pos, Some(last))
        };
        let handle = ahead.and_then(|last| {
            // Best effort: a block not given here (the disk is full, or it
            // was just shut down) is given by write_begin, which reports
            // the error where the data stops.
            let handle = txn::begin_unmarked(inode.super_block()).ok()?;
            let _ = write_ahead(inode, first, last);
            Some(handle)
        });
        let result = kfs::io::generic_file_write_iter_locked_max(iocb, from, lock, this as usize);
        let n = result.as_ref().map_or(0, |&n| n as u64);
        if handle.is_some() && n < this {
            // Stopped short: the blocks given ahead past what it wrote go.
            drop_fresh_blocks(lock.locked(), (pos + n).max(inode.size()));
        }
        drop(handle);
        match result {
            Err(e) if total == 0 => return Err(e),
            Err(_) => return Ok(total),
            Ok(_) if n < this => return Ok(total + n as usize),
            Ok(_) => total += n as usize,
        }
    }
}

/// A direct write, under the inode lock: the VFS's
/// (`__generic_file_write_iter`, mm/filemap.c), which calls
/// [`direct_io`], then writes what that left (holes and unwritten blocks
/// inside the file) through the page cache, and writes and waits for that
/// part (`direct_write_fallback`). If that writeback fails, the write
/// reports only what went directly, or the error, and the blocks that the
/// buffered part gave or made written hold what the disk held before:
/// they go back, a hole or unwritten again, and their page cache with
/// them, so that the range reads as zeroes, now and after the next mount,
/// as it does on ext4, whose direct writes leave unwritten extents
/// unwritten when they fail (fstests generic/250 and 252).
///
/// [`direct_io`]: address_space::Operations::direct_io
fn direct_write(
    iocb: &mut Kiocb<'_, Rsfs>,
    from: &mut IovIter<'_>,
    lock: &kfs::lock::InodeGuard<'_, Rsfs>,
) -> Result<usize> {
    let pos = iocb.pos();
    let result = kfs::io::generic_file_write_iter_locked(iocb, from, lock);
    // From the end of what it reports written: a block partly written
    // stays. If nothing was, from the block where the write began (a
    // direct write may begin inside a block, at a 512-byte boundary).
    let from = match result {
        Ok(n) if n > 0 => pos + n as u64,
        _ => pos - pos % BLOCK_SIZE as u64,
    };
    drop_fresh_blocks(lock.locked(), from);
    result
}

/// Gives file blocks `first..last`, past the end of the file, disk
/// blocks, in runs as long as the allocator finds them (see
/// [`buffered_write`]). Blocks mapped already (preallocated) stay.
fn write_ahead(inode: &Inode<Rsfs>, first: u64, last: u64) -> Result {
    let mut at = first;
    while at < last {
        let (_, len, _) = blocks_for_write(inode, at, last - at, true)?;
        at += len;
    }
    Ok(())
}

/// After a write that failed or stopped short (a direct write's error or
/// short count, a buffered copy that copied nothing): the blocks that this
/// write allocated from byte `from` on go back, and their page cache with
/// them, so that a later truncate up or extending write cannot show what
/// the write left on them (as `ext2_write_failed` does). Blocks that were
/// there before the write, preallocated by fallocate, stay, unwritten
/// again if this write made them written. Runs under the inode lock.
///
/// Past the end of the file, `from` is where the write stopped. Inside
/// it, the blocks of a buffered write stay (`write_begin` filled them
/// with zeroes first); those of a direct write's buffered part go too,
/// since the VFS reports none of that part written when its writeback
/// fails ([`direct_write`]).
pub(crate) fn drop_fresh_blocks(inode: Locked<'_, Rsfs>, from: u64) {
    let size = inode.size();
    let bs = BLOCK_SIZE as u64;
    let first = from.div_ceil(bs);
    let sb = inode.super_block();
    // Checked first: most writes end with nothing to take back, and need
    // no handle (the inode lock keeps the list as it is meanwhile).
    let Some(end) = inode.data().map().fresh_end_from(first) else {
        inode.data().map().clear_fresh();
        return;
    };
    let Ok(_handle) = txn::begin_locked(sb) else {
        // Shut down: nothing of this reaches the disk.
        inode.data().map().clear_fresh();
        return;
    };
    // As for a hole punch: no read or fault brings a folio of these blocks
    // back (reading what they held, and caching a block about to go)
    // between dropping the page cache and giving the blocks back.
    let _invalidate = inode.lock_invalidate();
    // Not under the map lock: dropping folios waits for their writeback,
    // which may need that lock. Inside the file, whole folios go, from
    // the first block taken back to the end of the last: the write's own
    // range, which the VFS wrote and waited for (`direct_write_fallback`),
    // so their contents are on the disk or failed to get there; none keeps
    // the number of a block given back.
    if first * bs < size {
        inode.truncate_pagecache_range(first * bs, end * bs - 1);
    }
    inode.truncate_pagecache(size);
    let mut map = inode.data().map();
    if map
        .take_fresh(sb, first, |block, len| sb.zero_blocks(block, len))
        .is_err()
    {
        kfs::sb_err!(
            sb,
            "inode {}: could not release the blocks of a failed write; run fsck.rsfs",
            inode.ino()
        );
    }
    inode.set_sectors(map.blocks() * (BLOCK_SIZE / 512) as u64);
    drop(map);
    inode.mark_dirty();
}

/// `fsync(2)` of a file or a directory: the file's dirty data in the
/// range, then the inode (for `fdatasync`, only if what changed is needed
/// to read the data back: the size or the block map, not a timestamp),
/// then the metadata of every finished operation (bitmaps, block maps, the
/// inode table, directories: [`txn::sync`]), then a flush of the device's
/// write cache. A directory's fsync so makes its new names durable with
/// the inodes, link counts and blocks they need.
///
/// A writeback error is reported once to each open file description that
/// was open when it happened (`file_write_and_wait_range`'s errseq).
pub(crate) fn fsync(
    file: &File,
    inode: &Inode<Rsfs>,
    start: i64,
    end: i64,
    datasync: bool,
) -> Result {
    let sb = inode.super_block();
    sb.info().stats.add(Stat::Fsyncs, 1);
    shutdown::alive(sb)?;
    file.write_and_wait_range(start, end)?;
    if !datasync || inode.dirty_for_datasync() {
        inode.write_now(true)?;
    }
    txn::sync(sb)
}

/// Zeroes the block that holds byte `at` from there to its end, in the
/// page cache (and so on disk at writeback), if the block is mapped. Called
/// at the end of the file, before it moves: bytes past the end may hold
/// what a shared mapping stored there, which must never become file data.
/// (A hole has nothing there to zero: a store through a mapping gives its
/// block disk space first.)
pub(crate) fn zero_tail(inode: &Inode<Rsfs>, at: u64) -> Result {
    let bs = BLOCK_SIZE as u64;
    if at % bs == 0 {
        return Ok(());
    }
    zero_range(inode, at, at - at % bs + bs)
}

/// Zeroes bytes `from..to` of one block of a file in the page cache, if
/// the block is mapped; the folio is dirtied, so the zeroes reach the disk.
fn zero_range(inode: &Inode<Rsfs>, from: u64, to: u64) -> Result {
    let bs = BLOCK_SIZE as u64;
    let index = from / bs;
    debug_assert!(from < to && to <= (index + 1) * bs);
    // A hole or an unwritten block reads as zeroes already.
    if inode.data().map().lookup_written(index).is_none() {
        return Ok(());
    }
    loop {
        let folio = inode.mapping().read_folio(index)?;
        // Dropped from the cache between the read and the lock (it was
        // clean): read it again.
        if !folio.belongs_to(inode.mapping()) {
            continue;
        }
        folio.wait_stable();
        folio.zero_segments(
            (from - index * bs) as usize,
            (to - index * bs) as usize,
            0,
            0,
        );
        folio.mark_dirty();
        return Ok(());
    }
}

/// Gives the holes in bytes `offset..end` disk space, in unwritten runs
/// as long as the allocator finds them: the blocks keep whatever the disk
/// held, and read as zeroes until data is written over them
/// ([`blocks_for_write`]), so nothing is written but the map. Each run is
/// an operation of its own. Space allocated before a failure (ENOSPC)
/// stays, as on ext4.
fn allocate(inode: &Inode<Rsfs>, offset: u64, end: u64) -> Result {
    let bs = BLOCK_SIZE as u64;
    let sb = inode.super_block();
    let last = (end - 1) / bs;
    let mut lblk = offset / bs;
    while lblk <= last {
        let _handle = txn::begin(sb)?;
        let mut map = inode.data().map();
        let hole_end = map.next_mapped(lblk).unwrap_or(u64::MAX).min(last + 1);
        if hole_end == lblk {
            lblk = map.next_hole(lblk);
            continue;
        }
        let goal = lblk
            .checked_sub(1)
            .and_then(|p| map.lookup(p))
            .map_or_else(|| map.goal(), |(b, _, _)| b + 1);
        let want = (hole_end - lblk).min(u64::from(UNWRITTEN_MAX_BLOCKS));
        let (start, n) = alloc::alloc_blocks(sb, goal, want)?;
        let done = super_::allow_unwritten(sb)
            .and_then(|()| Run::new(lblk, n, start))
            .and_then(|run| map.insert(sb, run.unwritten()));
        if let Err(e) = done {
            let _ = alloc::free_blocks(sb, start, n);
            return Err(e);
        }
        inode.set_sectors(map.blocks() * (BLOCK_SIZE / 512) as u64);
        drop(map);
        sb.info().stats.add(Stat::UnwrittenAllocs, 1);
        // Cached buffers of what the blocks held before (a directory block,
        // say) go: written back later, they would land on this file's data.
        sb.forget_block_buffers(start, n);
        lblk += n;
    }
    Ok(())
}

/// The blocks that `len` bytes from `pos` touch.
fn blocks_spanned(pos: u64, len: usize) -> u64 {
    let bs = BLOCK_SIZE as u64;
    pos.saturating_add(len as u64).div_ceil(bs) - pos / bs
}

/// FALLOC_FL_PUNCH_HOLE: bytes `offset..end` become a hole. Whole blocks
/// lose their disk space; the parts of blocks at either end are zeroed.
/// New page faults and reads wait (the mapping's invalidate lock) from the
/// moment the page cache of the range is dropped until its blocks are
/// unmapped, so that nothing reads a block back in or maps it for writing
/// once it is on its way to being freed.
fn punch_hole(locked: Locked<'_, Rsfs>, offset: u64, end: u64) -> Result {
    let inode = locked.inode();
    let bs = BLOCK_SIZE as u64;
    let sb = inode.super_block();
    inode.wait_for_direct_io();
    // The handle comes before the invalidate lock, which page faults take:
    // a task inside a handle may fault on this file's pages (copying from
    // a mapping of it into another file), and a sync waits for that
    // handle; waiting for the gate with the lock held would close the
    // circle.
    let _handle = txn::begin(sb)?;
    let _invalidate = inode.lock_invalidate();
    let (first_whole, end_whole) = (offset.div_ceil(bs), end / bs);
    if first_whole > end_whole {
        // Inside one block.
        zero_range(inode, offset, end)?;
    } else {
        if offset % bs != 0 {
            zero_range(inode, offset, first_whole * bs)?;
        }
        if end % bs != 0 {
            zero_range(inode, end_whole * bs, end)?;
        }
    }
    if first_whole < end_whole {
        locked.truncate_pagecache_range(first_whole * bs, end_whole * bs - 1);
        let mut map = inode.data().map();
        let result = map.punch(sb, first_whole, end_whole);
        inode.set_sectors(map.blocks() * (BLOCK_SIZE / 512) as u64);
        result?;
    }
    inode.touch_cmtime();
    Ok(())
}

/// FALLOC_FL_COLLAPSE_RANGE and FALLOC_FL_INSERT_RANGE, as ext4's: whole
/// blocks only (EINVAL otherwise), a range that starts, and for a collapse
/// ends, inside the file (EINVAL), and a file that stays within the
/// largest size (EFBIG). The page cache from `offset` on is written and
/// dropped first, with page faults held off (the invalidate lock), and
/// then, in one operation, the blocks of the range go (a collapse) and
/// the map from there on moves down or up: disk blocks stay where they
/// are, only their file positions change.
fn shift_range(locked: Locked<'_, Rsfs>, offset: u64, len: u64, collapse: bool) -> Result {
    let inode = locked.inode();
    let bs = BLOCK_SIZE as u64;
    let sb = inode.super_block();
    let size = inode.size();
    if offset % bs != 0 || len % bs != 0 {
        return Err(EINVAL);
    }
    let end = offset.checked_add(len).ok_or(EFBIG)?;
    if collapse && end >= size || !collapse && offset >= size {
        return Err(EINVAL);
    }
    if !collapse
        && size
            .checked_add(len)
            .map_or(true, |s| s > format::MAX_FILE_SIZE)
    {
        return Err(EFBIG);
    }
    inode.wait_for_direct_io();
    // As in `punch_hole`: the handle before the invalidate lock.
    let _handle = txn::begin(sb)?;
    let _invalidate = inode.lock_invalidate();
    // What is dirty from `offset` on reaches its blocks before they move;
    // then the cache there goes, to be read back at the new positions.
    inode.mapping().write_and_wait()?;
    locked.truncate_pagecache_range(offset, u64::MAX >> 1);
    let (first, blocks) = (offset / bs, len / bs);
    let mut map = inode.data().map();
    let result = if collapse {
        let moved = map
            .punch(sb, first, first + blocks)
            .and_then(|()| map.shift(first + blocks, -(blocks as i64)));
        if moved.is_ok() {
            // Only tidier: the collapse stands without it, and an error
            // (damage found freeing an emptied leaf) is reported there.
            let _ = map.merge_at(sb, first);
        }
        moved
    } else {
        map.split_at(sb, first)
            .and_then(|()| map.shift(first, blocks as i64))
    };
    inode.set_sectors(map.blocks() * (BLOCK_SIZE / 512) as u64);
    drop(map);
    result?;
    locked.set_size(if collapse { size - len } else { size + len });
    inode.touch_cmtime();
    Ok(())
}

/// The page cache of rsfs's regular files: reads, buffered writes, and
/// writeback through rsfs's own `write_cache_pages`
/// ([`writeback::writepages`]).
#[vtable]
impl address_space::Operations for RegularFile {
    type FileSystem = Rsfs;

    /// `read_folio`: a hole is zeroes, without I/O.
    fn read_folio(inode: &Inode<Rsfs>, folio: LockedFolio) -> Result {
        let stats = &inode.super_block().info().stats;
        match block_for_read(inode, &folio) {
            None => fill_hole(folio),
            Some(block) => {
                let mut bios = BioBuilder::reader(inode.super_block());
                bios.add_read(folio.start_read(), block);
                let done = bios.finish();
                stats.add(Stat::BiosRead, done.bios);
                stats.add(Stat::BytesRead, done.bytes);
            }
        }
        Ok(())
    }

    /// `readahead`: folios on consecutive blocks share a bio.
    fn readahead(inode: &Inode<Rsfs>, ra: &mut Readahead<'_>) {
        let mut bios = BioBuilder::reader(inode.super_block());
        while let Some(folio) = ra.next_folio() {
            match block_for_read(inode, &folio) {
                None => fill_hole(folio),
                Some(block) => bios.add_read(folio.start_read(), block),
            }
        }
        let done = bios.finish();
        let stats = &inode.super_block().info().stats;
        stats.add(Stat::BiosRead, done.bios);
        stats.add(Stat::BytesRead, done.bytes);
    }

    /// `write_begin`: the folio for `len` bytes at `pos`, locked, with a disk
    /// block, and with whatever the write does not cover read or zeroed.
    fn write_begin(inode: Locked<'_, Rsfs>, pos: u64, len: usize) -> Result<LockedFolio> {
        let index = pos / BLOCK_SIZE as u64;
        let folio = inode.mapping().folio_for_write(index)?;
        // Held until the folio of a new block is dirty, below.
        let handle = give_block_to_folio(&inode, &folio)?;
        let (block, new) = match cached_block(&folio) {
            Some(b) => (b, false),
            None => {
                let (b, new) = block_for_write(&inode, index, true)?;
                cache_block(&folio, b);
                (b, new)
            }
        };
        let bs = BLOCK_SIZE as u64;
        let whole = pos % bs == 0 && len >= folio.size();
        if new && whole && handle.is_none() && index * bs >= inode.size() && !folio.is_uptodate() {
            // A new block past the end of the file that the write covers,
            // given ahead by `buffered_write`, whose handle covers the
            // copy, in a folio nobody has read: the copy fills it, and
            // write_end marks it uptodate, or zeroes it if the copy comes
            // up short. (A read past the end may have filled the folio
            // from the block, given ahead: then it is zeroed below. A
            // block given here, as for the buffered rest of a direct
            // write, is zeroed and dirtied below, before the handle goes.)
        } else if new {
            // A new block holds whatever was on the disk before: the folio
            // starts as zeroes, uptodate and dirty, so that a copy that comes
            // up short (or faults and copies nothing) still leaves zeroes on
            // the block, never the old contents (as block_write_end's
            // page_zero_new_buffers does).
            folio.zero_segments(0, folio.size(), 0, 0);
            folio.mark_uptodate();
            folio.mark_dirty();
        } else if !folio.is_uptodate() {
            if whole {
                // The write covers the folio: write_end marks it uptodate.
            } else {
                // Read-modify-write: the rest of the block comes from disk.
                kfs::bio::read_sync(inode.super_block(), &folio, block)?;
                folio.mark_uptodate();
            }
        }
        drop(handle);
        Ok(folio)
    }

    /// `write_end`: `copied` of `len` bytes at `pos` are in the folio. The size
    /// grows only now, after the data is in the folio, and while the folio is
    /// still locked, so that writeback never sees the new size without it.
    fn write_end(
        inode: Locked<'_, Rsfs>,
        pos: u64,
        len: usize,
        copied: usize,
        folio: LockedFolio,
    ) -> usize {
        let copied = if folio.is_uptodate() {
            copied
        } else if copied == len {
            folio.mark_uptodate();
            copied
        } else {
            // A short copy into a folio whose other bytes are not valid (a
            // block not read because the write was to cover it): nothing
            // counts; the caller retries with what it can copy. A block new
            // to this write (write_begin did not zero it) becomes zeroes, so
            // that nothing reads what it held before.
            if inode.data().map().is_fresh(folio.index()) {
                folio.zero_segments(0, folio.size(), 0, 0);
                folio.mark_uptodate();
                folio.mark_dirty();
            }
            0
        };
        if copied == 0 {
            // A new block past the end goes back.
            drop(folio);
            if pos + len as u64 > inode.size() {
                let size = inode.size();
                drop_fresh_blocks(inode, size);
            }
            return 0;
        }
        let end = pos + copied as u64;
        let grew = end > inode.size();
        if grew {
            inode.set_size(end);
        }
        folio.mark_dirty();
        drop(folio);
        if grew {
            // Only the size changed: an inode dirty already is written with
            // it by the `write_inode` to come (fsync's, or the flusher's),
            // so a growing file is not copied into the inode table at every
            // block.
            inode.mark_dirty_once();
        }
        copied
    }

    /// `writepage`: one folio, from reclaim ([`writeback::writepage`]).
    fn writepage(
        inode: &Inode<Rsfs>,
        folio: LockedFolio,
        wbc: &mut WritebackControl<'_>,
    ) -> Result<WritePage> {
        writeback::writepage(inode, folio, wbc)
    }

    /// `writepages`: rsfs's `write_cache_pages` ([`writeback::writepages`]).
    fn writepages(mapping: &AddressSpace<Rsfs>, wbc: &mut WritebackControl<'_>) -> Result {
        writeback::writepages(mapping, wbc)
    }

    /// `direct_IO`: the kernel's iomap direct I/O, with the mapping of
    /// [`iomap::Operations::map_blocks`] below. When that mapping asks for it
    /// (a write into a hole inside the file), nothing more is done directly
    /// and the VFS finishes the write with buffered I/O, then writes and
    /// waits for that range and drops it from the cache
    /// (`__generic_file_write_iter`, mm/filemap.c). A direct write that
    /// fails, or stops short, gives back the blocks it took past the end
    /// of the file and of what it wrote.
    fn direct_io(
        iocb: &mut Kiocb<'_, Rsfs>,
        iter: &mut IovIter<'_>,
        locked: Option<Locked<'_, Rsfs>>,
    ) -> Result<usize> {
        let pos = iocb.pos();
        // A direct write past the end of the file maps its new blocks
        // before their data is on the disk. The handle makes the write one
        // operation, so no commit writes a map naming those blocks while
        // they still hold what they held before: after a power cut, a
        // truncate up would show it. Syncs wait for the write meanwhile.
        // It leaves `journal_info` unset: pinning the user's pages may
        // fault in another filesystem's file.
        let _handle = locked
            .as_ref()
            .map(|inode| txn::begin_unmarked(inode.super_block()))
            .transpose()?;
        let result = iomap::direct_io(IOMAP_OPS, iocb, iter);
        if let Some(inode) = locked {
            let size = inode.size();
            match result {
                Ok(n) => drop_fresh_blocks(inode, size.max(pos + n as u64)),
                Err(e) if e != ENOTBLK => drop_fresh_blocks(inode, size),
                Err(_) => (),
            }
        }
        match result {
            Err(e) if e == ENOTBLK => Ok(0),
            other => other,
        }
    }

    /// `bmap`: the disk block of file block `lblk`, 0 for a hole (block 0
    /// is the superblock, never file data). An unwritten block is given
    /// too: `swapon(2)` of a file made by `fallocate` and `mkswap`, as
    /// users make swap files, maps it through here, and swap writes a page
    /// before it reads it back. (ext4, whose `FIBMAP` gives 0 there, maps
    /// swap files through iomap instead.)
    fn bmap(inode: &Inode<Rsfs>, lblk: u64) -> u64 {
        inode
            .data()
            .map()
            .lookup(lblk)
            .map_or(0, |(block, _, _)| block)
    }
}

/// The block mapping of rsfs's direct I/O.
const IOMAP_OPS: iomap::Ops<Rsfs> = iomap::Ops::new::<RegularFile>();

#[vtable]
impl iomap::Operations for RegularFile {
    type FileSystem = Rsfs;

    /// The block mapping of direct I/O: up to `max` blocks from file block
    /// `lblk`. A write past the end of the file is given as much of its
    /// range as the allocator finds in one run, so that it goes to the disk
    /// in large requests (ext2's `ext2_iomap_begin` allocates whole runs
    /// too); a write into a
    /// hole inside the file is not done directly (`Fallback`): buffered readers
    /// may have that hole cached as zeroes, so it goes through the page cache,
    /// as the kernel's old direct I/O code did (DIO_SKIP_HOLES). Unwritten
    /// blocks read as a hole, and are written as one: their map changes
    /// only with their data in the page cache ([`blocks_for_write`]).
    fn map_blocks(inode: &Inode<Rsfs>, lblk: u64, max: u64, write: bool) -> Result<BlockMapping> {
        let stats = &inode.super_block().info().stats;
        {
            let map = inode.data().map();
            match map.lookup(lblk) {
                Some((block, run, false)) => {
                    return Ok(BlockMapping::Mapped {
                        block,
                        len: run.min(max),
                        new: false,
                    })
                }
                Some((_, run, true)) if !write => {
                    return Ok(BlockMapping::Hole { len: run.min(max) })
                }
                None if !write => {
                    let len = map
                        .next_mapped(lblk)
                        .map_or(max, |next| (next - lblk).min(max));
                    return Ok(BlockMapping::Hole { len: len.max(1) });
                }
                _ => (),
            }
        }
        if lblk * (BLOCK_SIZE as u64) < inode.size() {
            stats.add(Stat::DirectFallbacks, 1);
            return Ok(BlockMapping::Fallback);
        }
        stats.add(Stat::DirectAllocs, 1);
        match blocks_for_write(inode, lblk, max, true) {
            Ok((block, len, new)) => Ok(BlockMapping::Mapped { block, len, new }),
            // Out of space part way: a failed direct write cannot say how much
            // of it was done (iomap returns the error alone), so it stops here
            // and the VFS goes on with buffered I/O, which reports a short
            // write or ENOSPC for exactly what it could not place.
            Err(e) if e == ENOSPC => {
                stats.add(Stat::DirectFallbacks, 1);
                Ok(BlockMapping::Fallback)
            }
            Err(e) => Err(e),
        }
    }
}

/// Shared mappings of rsfs's regular files: a store gets its disk space at
/// the fault, so that it cannot fail later.
#[vtable]
impl vm::Operations for RegularFile {
    type FileSystem = Rsfs;

    /// `page_mkwrite`: a shared mapping is about to write to a folio. It is
    /// given disk space now (ENOSPC becomes SIGBUS for the writer), then
    /// dirtied, and waited on until it is stable. The invalidate lock, held
    /// shared as ext4 holds it, keeps a hole punch out meanwhile.
    fn page_mkwrite(fault: &Fault<'_, Rsfs>) -> Result<MkWrite> {
        let inode = fault.inode();
        // Shut down: SIGBUS, as on ext4.
        shutdown::alive(inode.super_block())?;
        let _frozen = inode.super_block().start_pagefault();
        fault.file().update_time();
        let _invalidate = inode.lock_invalidate_shared();
        let folio = fault.lock_folio();
        let pos = folio.index() * BLOCK_SIZE as u64;
        if !folio.belongs_to(inode.mapping()) || pos >= inode.size() {
            // Truncated meanwhile: the fault starts again.
            return Ok(MkWrite::Retry);
        }
        let handle = give_block_to_folio(inode, &folio)?;
        if cached_block(&folio).is_none() {
            let (block, _) = block_for_write(inode, folio.index(), false)?;
            cache_block(&folio, block);
        }
        folio.mark_dirty();
        drop(handle);
        folio.wait_stable();
        Ok(MkWrite::Locked(folio))
    }
}

/// Regular files' inode operations: truncate, `chattr(1)` flags, and
/// `FS_IOC_FIEMAP`.
pub(crate) struct RegularFile;

#[vtable]
impl inode_ops::Operations for RegularFile {
    type FileSystem = Rsfs;

    const FLAGS: u32 = inode::FLAGS;
    /// `O_DIRECT` goes through iomap (`address_space::Operations::direct_io`).
    const DIRECT_IO: bool = true;

    /// `truncate(2)` and `O_TRUNC` ([`inode::set_size`]); on a synchronous
    /// file (`mount -o sync`, `chattr +S`), durable on return, as on ext4.
    fn set_size(inode: Locked<'_, Rsfs>, size: u64) -> Result {
        inode::set_size(inode, size)?;
        inode::sync_if_synchronous(&inode)
    }

    fn flags(inode: &Inode<Rsfs>) -> u32 {
        inode.data().flags()
    }

    fn set_flags(inode: Locked<'_, Rsfs>, flags: u32) -> Result {
        inode::set_flags(inode, flags)
    }

    /// `FS_IOC_FIEMAP`: each extent of the block map that overlaps bytes
    /// `start..start + len`, whole, as ext4 reports them; those that
    /// `fallocate` gave and nothing has written yet are flagged unwritten.
    /// Blocks given to data still in the page cache (rsfs allocates at
    /// write time, not at writeback) are reported like the others.
    fn fiemap(inode: &Inode<Rsfs>, fiemap: &mut Fiemap<'_>, start: u64, len: u64) -> Result {
        const BATCH: usize = 32;
        let bs = BLOCK_SIZE as u64;
        let end = start.saturating_add(len).div_ceil(bs);
        let mut at = start / bs;
        loop {
            // A batch at a time under the map lock, reported without it:
            // reporting copies to user memory, and a fault there on a mapping
            // of this very file would take the map lock in page_mkwrite.
            let mut batch = [Run::default(); BATCH];
            let mut n = 0;
            let next = {
                let map = inode.data().map();
                let mut extents = map.extents_from(at).peekable();
                while let Some(&r) = extents
                    .peek()
                    .filter(|r| u64::from(r.logical) < end && n < BATCH)
                {
                    batch[n] = r;
                    n += 1;
                    extents.next();
                }
                // The first block of the extent after the batch, if any.
                extents.peek().map(|r| u64::from(r.logical))
            };
            for (i, r) in batch[..n].iter().enumerate() {
                // The flag marks the file's last extent, not the range's.
                let last = i + 1 == n && next.is_none();
                let (first, count) = (u64::from(r.logical), u64::from(r.len));
                if fiemap.fill(first * bs, r.start * bs, count * bs, last, r.unwritten)? {
                    return Ok(());
                }
            }
            match next {
                Some(first) if first < end && n > 0 => at = first,
                _ => return Ok(()),
            }
        }
    }

    /// `FS_IOC_FIEMAP` with FIEMAP_FLAG_XATTR (`xfs_io -c "fiemap -a"`): the
    /// inode's attribute block, all its attributes in one extent of one
    /// block, as ext4 reports its external attribute block; nothing when
    /// the inode has no attributes or the range starts past that block.
    fn fiemap_xattr(inode: &Inode<Rsfs>, fiemap: &mut Fiemap<'_>, start: u64, _len: u64) -> Result {
        let bs = BLOCK_SIZE as u64;
        // The map lock is let go at the end of this statement, before the
        // copy to user memory (see `fiemap`).
        let block = inode.data().map().xattr_block();
        if block != 0 && start < bs {
            fiemap.fill(0, block * bs, bs, true, false)?;
        }
        Ok(())
    }
}

/// The VM operations of mappings of regular files.
const VM_OPS: vm::Ops<Rsfs> = vm::Ops::new::<RegularFile>();

/// Regular files' file operations: the VFS's generic read and write paths
/// around rsfs's page cache, seeking data and holes, `fallocate` and
/// `fsync`.
#[vtable]
impl kfs::file::Operations for RegularFile {
    type FileSystem = Rsfs;

    /// `open`: direct I/O is allowed (through `direct_IO` above). Shut
    /// down, open, read, write, mmap and fsync fail with EIO, as on ext4.
    fn open(inode: &Inode<Rsfs>, file: &mut Opening<'_>) -> Result {
        shutdown::alive(inode.super_block())?;
        file.allow_direct_io()
    }

    /// `read_iter`: the VFS's. A direct read holds the inode lock shared,
    /// as ext2 and ext4 do: the blocks it maps must not be freed (by a
    /// truncate, which holds the lock exclusively) and given to another
    /// file before its bios are done.
    fn read_iter(iocb: &mut Kiocb<'_, Rsfs>, to: &mut IovIter<'_>) -> Result<usize> {
        shutdown::alive(iocb.inode().super_block())?;
        if !iocb.is_direct() {
            return kfs::io::generic_file_read_iter(iocb, to);
        }
        let inode = iocb.inode();
        let lock = inode.lock_shared();
        kfs::io::generic_file_read_iter_shared(iocb, to, &lock)
    }

    /// `write_iter`, buffered or direct: under the inode lock, the VFS's
    /// checks, then [`prepare_write`], then the VFS's write
    /// (`__generic_file_write_iter`, mm/filemap.c). As its comment says,
    /// that does not sync O_SYNC/O_DSYNC writes: `generic_write_sync` does,
    /// once the lock is dropped.
    fn write_iter(iocb: &mut Kiocb<'_, Rsfs>, from: &mut IovIter<'_>) -> Result<usize> {
        let inode = iocb.inode();
        shutdown::alive(inode.super_block())?;
        let written = {
            let lock = inode.lock();
            if kfs::io::generic_write_checks(iocb, from, &lock)? == 0 {
                return Ok(0);
            }
            prepare_write(inode, iocb.pos(), from.count())?;
            if iocb.is_direct() {
                direct_write(iocb, from, &lock)?
            } else {
                buffered_write(iocb, from, &lock)?
            }
        };
        if written == 0 {
            return Ok(0);
        }
        kfs::io::generic_write_sync(iocb, written)
    }

    /// `mmap`: faults through the page cache, with rsfs's `page_mkwrite`.
    fn mmap(_file: &File, mmap: &mut Mmap<'_, Rsfs>) -> Result {
        shutdown::alive(mmap.inode().super_block())?;
        mmap.set_ops(VM_OPS)
    }

    /// `lseek(2)` with SEEK_DATA or SEEK_HOLE, from the block map (rsfs gives
    /// blocks to data as soon as it is written, so dirty page cache is never
    /// over a hole or an unwritten block). Unwritten blocks read as zeroes,
    /// and count as a hole, as on ext4.
    fn seek_data_hole(inode: &Inode<Rsfs>, offset: u64, hole: bool) -> Result<u64> {
        let size = inode.size();
        if offset >= size {
            return Err(kfs::enxio());
        }
        let bs = BLOCK_SIZE as u64;
        let map = inode.data().map();
        let pos = if hole {
            // The end of the file counts as a hole.
            (map.next_unwritten_or_hole(offset / bs) * bs)
                .max(offset)
                .min(size)
        } else {
            match map.next_written(offset / bs) {
                Some(b) => (b * bs).max(offset),
                None => return Err(kfs::enxio()),
            }
        };
        if pos >= size && !hole {
            return Err(kfs::enxio());
        }
        Ok(pos)
    }

    /// `fallocate(2)`, under the inode lock, in the modes rsfs has:
    /// preallocation (growing the file unless KEEP_SIZE), PUNCH_HOLE,
    /// ZERO_RANGE, COLLAPSE_RANGE and INSERT_RANGE.
    fn fallocate(
        file: &File,
        inode: &Inode<Rsfs>,
        mode: Fallocate,
        offset: u64,
        len: u64,
    ) -> Result {
        // Under the inode lock, after `file_modified` (mtime, and the setuid
        // bits dropped), as ext4's fallocate runs.
        let lock = inode.lock();
        file.modified(&lock)?;
        let locked = lock.locked();
        let end = offset.checked_add(len).ok_or(EFBIG)?;
        if len == 0 {
            return Err(EINVAL);
        }
        if end > crate::format::MAX_FILE_SIZE {
            return Err(EFBIG);
        }
        // Growing the file past the caller's file size limit is EFBIG and
        // SIGXFSZ, as for a write; ext4's fallocate checks it before it
        // allocates anything.
        let grows = matches!(
            mode,
            Fallocate::Allocate { keep_size: false } | Fallocate::ZeroRange { keep_size: false }
        );
        if grows && end > inode.size() {
            locked.newsize_ok(end)?;
        }
        // Each run allocated, and the hole punched, is an operation of its
        // own (see `allocate` and `punch_hole`): a sync may come between two
        // runs of a long preallocation, rather than wait for all of it.
        let grow = |keep_size: bool| -> Result {
            if !keep_size && end > inode.size() {
                zero_tail(inode, inode.size())?;
                locked.set_size(end);
            }
            Ok(())
        };
        if matches!(
            mode,
            Fallocate::Allocate { .. } | Fallocate::ZeroRange { .. }
        ) {
            txn::make_room(inode.super_block(), blocks_spanned(offset, len as usize));
        }
        let result = match mode {
            Fallocate::Allocate { keep_size } => {
                allocate(inode, offset, end).and_then(|()| grow(keep_size))
            }
            Fallocate::PunchHole => punch_hole(locked, offset, end),
            // The range reads as zeroes and has disk space: its blocks go, and
            // new unwritten ones take their place.
            Fallocate::ZeroRange { keep_size } => punch_hole(locked, offset, end)
                .and_then(|()| allocate(inode, offset, end))
                .and_then(|()| grow(keep_size)),
            Fallocate::CollapseRange => shift_range(locked, offset, len, true),
            Fallocate::InsertRange => shift_range(locked, offset, len, false),
        };
        inode.touch_ctime();
        inode.mark_dirty();
        result?;
        // As ext4's fallocate: committed now for an O_SYNC or O_DSYNC
        // descriptor, as for a synchronous file.
        if file.is_sync() {
            txn::sync(inode.super_block())
        } else {
            inode::sync_if_synchronous(inode)
        }
    }

    fn fsync(file: &File, inode: &Inode<Rsfs>, start: i64, end: i64, datasync: bool) -> Result {
        fsync(file, inode, start, end, datasync)
    }

    /// `ioctl(2)`: the filesystem's commands ([`crate::ioctl`]).
    fn ioctl(file: &File, inode: &Inode<Rsfs>, cmd: u32, arg: UserArg) -> Result<i32> {
        crate::ioctl::ioctl(file, inode, cmd, arg)
    }
}
