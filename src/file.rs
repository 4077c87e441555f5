// SPDX-License-Identifier: GPL-2.0

//! Regular files: reading folios, preparing and finishing buffered writes,
//! `page_mkwrite`, and `fsync`.
//!
//! rsfs allocates a file's disk blocks when data first lands in the page
//! cache (`write_begin`, `page_mkwrite`), not at writeback, so a full disk
//! shows up as ENOSPC from `write(2)` or as SIGBUS on a mapped store, never
//! as lost data later. Each folio remembers its disk block, which spares
//! writeback any lookup.

use kernel::prelude::*;

use crate::{
    alloc,
    format::BLOCK_SIZE,
    kfs::{self, BioBuilder, BlockMapping, File, Inode, LockedFolio, Readahead},
    map::Run,
    super_::Stat,
    Rsfs,
};

/// The disk block of file block `index`, given one now if it is a hole.
/// Returns the block and whether it is new.
fn block_for_write(inode: &Inode<Rsfs>, index: u64) -> Result<(u64, bool)> {
    let lblk = u32::try_from(index).map_err(|_| EFBIG)?;
    let sb = inode.super_block();
    let mut map = inode.data().map.lock();
    if let Some((block, _)) = map.lookup(lblk) {
        return Ok((block, false));
    }
    // Right after the file block before, if there is one: sequential writes
    // get consecutive blocks, so their extents merge and their folios go
    // out in large bios.
    let goal = lblk
        .checked_sub(1)
        .and_then(|prev| map.lookup(prev))
        .map_or_else(|| map.goal(), |(b, _)| b + 1);
    let (block, _) = alloc::alloc_blocks(sb, goal, 1)?;
    if let Err(e) = map.insert(
        sb,
        Run {
            logical: lblk,
            len: 1,
            start: block,
        },
    ) {
        let _ = alloc::free_blocks(sb, block, 1);
        return Err(e);
    }
    inode.set_sectors(map.blocks() * (BLOCK_SIZE / 512) as u64);
    drop(map);
    inode.mark_dirty();
    // The block may have held metadata (a directory block, say) whose
    // buffer is still cached: drop it, so it is never written over our data.
    sb.forget_block_buffers(block, 1);
    Ok((block, true))
}

/// The disk block a folio reads from, if it is not a hole.
fn block_for_read(inode: &Inode<Rsfs>, folio: &LockedFolio) -> Option<u64> {
    folio.block().or_else(|| {
        inode
            .data()
            .map
            .lock()
            .lookup(u32::try_from(folio.index()).ok()?)
            .map(|(b, _)| b)
    })
}

/// A hole reads as zeroes, without I/O.
fn fill_hole(folio: LockedFolio) {
    folio.zero_segments(0, folio.size(), 0, 0);
    folio.mark_uptodate();
}

/// `read_folio`.
pub(crate) fn read_folio(inode: &Inode<Rsfs>, folio: LockedFolio) -> Result {
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
pub(crate) fn readahead(inode: &Inode<Rsfs>, ra: &mut Readahead<'_>) {
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
pub(crate) fn write_begin(inode: &Inode<Rsfs>, pos: u64, len: usize) -> Result<LockedFolio> {
    let index = pos / BLOCK_SIZE as u64;
    let folio = inode.mapping().folio_for_write(index)?;
    let (block, new) = match folio.block() {
        Some(b) => (b, false),
        None => {
            let (b, new) = block_for_write(inode, index)?;
            folio.set_block(b);
            (b, new)
        }
    };
    if new {
        // A new block holds whatever was on the disk before: the folio
        // starts as zeroes, uptodate and dirty, so that a copy that comes
        // up short (or faults and copies nothing) still leaves zeroes on
        // the block, never the old contents (as block_write_end's
        // page_zero_new_buffers does).
        folio.zero_segments(0, folio.size(), 0, 0);
        folio.mark_uptodate();
        folio.mark_dirty();
    } else if !folio.is_uptodate() {
        let from = (pos % BLOCK_SIZE as u64) as usize;
        let to = from + len;
        if from == 0 && to >= folio.size() {
            // The write covers the folio: write_end marks it uptodate.
        } else {
            // Read-modify-write: the rest of the block comes from disk.
            kfs::bio::read_sync(inode.super_block(), &folio, block)?;
            folio.mark_uptodate();
        }
    }
    Ok(folio)
}

/// `write_end`: `copied` of `len` bytes at `pos` are in the folio. The size
/// grows only now, after the data is in the folio, and while the folio is
/// still locked, so that writeback never sees the new size without it.
pub(crate) fn write_end(
    inode: &Inode<Rsfs>,
    pos: u64,
    len: usize,
    copied: usize,
    folio: LockedFolio,
) -> usize {
    if !folio.is_uptodate() {
        if copied < len {
            // A short copy into a folio whose other bytes are not valid
            // (an old block, not read because the write was to cover it):
            // nothing counts; the caller retries with what it can copy.
            return 0;
        }
        folio.mark_uptodate();
    }
    if copied == 0 {
        // A new block past the end (zeroed by write_begin) goes back.
        drop(folio);
        if pos + len as u64 > inode.size() {
            trim_past_eof(inode);
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
        inode.mark_dirty();
    }
    copied
}

/// After a write that failed (a direct write's error, a buffered copy that
/// copied nothing): the blocks past the end of the file go back, and with
/// them the page cache there, so that a later truncate up or extending
/// write cannot show what the failed write left on them (as
/// `ext2_write_failed` does). Preallocated blocks past the end go too.
/// Runs under the inode lock.
pub(crate) fn trim_past_eof(inode: &Inode<Rsfs>) {
    let size = inode.size();
    let first = size.div_ceil(BLOCK_SIZE as u64);
    let sb = inode.super_block();
    if inode.data().map.lock().next_mapped(first).is_none() {
        return;
    }
    inode.truncate_pagecache(size);
    let mut map = inode.data().map.lock();
    if map.truncate(sb, first.min(u32::MAX.into()) as u32).is_err() {
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

/// `page_mkwrite`: disk space for a folio a shared mapping is about to
/// write; ENOSPC becomes SIGBUS for the writer.
pub(crate) fn page_mkwrite(inode: &Inode<Rsfs>, folio: &LockedFolio) -> Result {
    if folio.block().is_none() {
        let (block, _) = block_for_write(inode, folio.index())?;
        folio.set_block(block);
    }
    Ok(())
}

/// `fsync(2)`: the file's dirty data in the range, then the inode (for
/// `fdatasync`, only if what changed is needed to read the data back: the
/// size or the block map, not a timestamp), then the filesystem's metadata
/// on the device (bitmaps, block maps, the inode table), then a flush of
/// the device's write cache.
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
    file.write_and_wait_range(start, end)?;
    if !datasync || inode.dirty_for_datasync() {
        inode.write_now(true)?;
    }
    sb.sync_device()?;
    sb.flush_device()
}

/// Zeroes the tail of the block that holds byte `size`, on disk too, so
/// that growing the file again later shows zeroes there, not old data.
pub(crate) fn zero_tail(inode: &Inode<Rsfs>, size: u64) -> Result {
    let off = (size % BLOCK_SIZE as u64) as usize;
    if off == 0 || inode.size() <= size {
        return Ok(());
    }
    let index = size / BLOCK_SIZE as u64;
    if inode.data().map.lock().lookup(index as u32).is_none() {
        return Ok(());
    }
    let folio = inode.mapping().read_folio(index)?;
    folio.zero_segments(off, folio.size(), 0, 0);
    folio.mark_dirty();
    Ok(())
}

/// `lseek(2)` with SEEK_DATA or SEEK_HOLE, from the block map (rsfs gives
/// blocks to data as soon as it is written, so dirty page cache is never
/// over a hole).
pub(crate) fn seek_data_hole(inode: &Inode<Rsfs>, offset: u64, hole: bool) -> Result<u64> {
    let size = inode.size();
    if offset >= size {
        return Err(kfs::enxio());
    }
    let bs = BLOCK_SIZE as u64;
    let map = inode.data().map.lock();
    let pos = if hole {
        // The end of the file counts as a hole.
        (map.next_hole(offset / bs) * bs).max(offset).min(size)
    } else {
        match map.next_mapped(offset / bs) {
            Some(b) => (b * bs).max(offset),
            None => return Err(kfs::enxio()),
        }
    };
    if pos >= size && !hole {
        return Err(kfs::enxio());
    }
    Ok(pos)
}

/// `fallocate(2)`: disk space for the holes in `offset..offset + len`,
/// zeroed on disk so that it reads as zeroes, in runs as long as the
/// allocator finds them. Grows the file unless `keep_size`.
pub(crate) fn fallocate(inode: &Inode<Rsfs>, offset: u64, len: u64, keep_size: bool) -> Result {
    let bs = BLOCK_SIZE as u64;
    let end = offset.checked_add(len).ok_or(EFBIG)?;
    if len == 0 {
        return Err(EINVAL);
    }
    if end > crate::format::MAX_FILE_SIZE {
        return Err(EFBIG);
    }
    let sb = inode.super_block();
    let last = (end - 1) / bs;
    let mut map = inode.data().map.lock();
    let mut lblk = offset / bs;
    let mut result = Ok(());
    while lblk <= last {
        let hole_end = map.next_mapped(lblk).unwrap_or(u64::MAX).min(last + 1);
        if hole_end == lblk {
            lblk = map.next_hole(lblk);
            continue;
        }
        let goal = lblk
            .checked_sub(1)
            .and_then(|p| map.lookup(p as u32))
            .map_or_else(|| map.goal(), |(b, _)| b + 1);
        let (start, n) = match alloc::alloc_blocks(sb, goal, hole_end - lblk) {
            Ok(x) => x,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        let insert = sb.zero_blocks(start, n).and_then(|()| {
            map.insert(
                sb,
                Run {
                    logical: lblk as u32,
                    len: n as u32,
                    start,
                },
            )
        });
        if let Err(e) = insert {
            let _ = alloc::free_blocks(sb, start, n);
            result = Err(e);
            break;
        }
        sb.forget_block_buffers(start, n);
        lblk += n;
    }
    inode.set_sectors(map.blocks() * (BLOCK_SIZE / 512) as u64);
    drop(map);
    if result.is_ok() && !keep_size && end > inode.size() {
        inode.set_size(end);
    }
    inode.touch_ctime();
    inode.mark_dirty();
    result
}

/// The block mapping of direct I/O: up to `max` blocks from file block
/// `lblk`. A write may allocate past the end of the file; a write into a
/// hole inside the file is not done directly (`Fallback`): buffered readers
/// may have that hole cached as zeroes, so it goes through the page cache,
/// as the kernel's old direct I/O code did (DIO_SKIP_HOLES).
pub(crate) fn map_blocks(
    inode: &Inode<Rsfs>,
    lblk: u64,
    max: u64,
    write: bool,
) -> Result<BlockMapping> {
    let l = u32::try_from(lblk).map_err(|_| EFBIG)?;
    let stats = &inode.super_block().info().stats;
    {
        let map = inode.data().map.lock();
        if let Some((block, run)) = map.lookup(l) {
            return Ok(BlockMapping::Mapped {
                block,
                len: u64::from(run).min(max),
                new: false,
            });
        }
        if !write {
            let len = map
                .next_mapped(lblk)
                .map_or(max, |next| (next - lblk).min(max));
            return Ok(BlockMapping::Hole { len: len.max(1) });
        }
    }
    if lblk * (BLOCK_SIZE as u64) < inode.size() {
        stats.add(Stat::DirectFallbacks, 1);
        return Ok(BlockMapping::Fallback);
    }
    match block_for_write(inode, lblk) {
        Ok((block, new)) => Ok(BlockMapping::Mapped { block, len: 1, new }),
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
