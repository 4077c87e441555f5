// SPDX-License-Identifier: GPL-2.0

//! Writeback: rsfs's own `write_cache_pages`, and `writepage`.
//!
//! [`writepages`] walks the dirty folios of a file and writes them, turning
//! each run of folios on consecutive disk blocks into one bio. It follows
//! the rules of the kernel's `write_cache_pages` (mm/page-writeback.c in
//! 6.12, `writeback_iter`); each rule is written next to the code that
//! implements it, and each moves a counter in
//! `/sys/kernel/debug/rsfs/<device>/` so that the tests can watch it.
//! [`writepage`] writes one folio for memory reclaim, with the same
//! per-folio step, [`write_folio`].

use kernel::prelude::*;

use crate::{
    file,
    kfs::{
        self, sb_err, AddressSpace, BioBuilder, FolioBatch, Inode, LockedFolio, Tag, WritePage,
        WritebackControl,
    },
    shutdown,
    super_::Stat,
    Rsfs,
};

/// What the per-folio step did.
enum Step {
    /// The folio is under writeback, in the bio being built.
    Written,
    /// The folio needed no writing (it is past the end of the file).
    Skipped,
    /// The folio cannot be written now; it was redirtied and comes back
    /// locked.
    Activate(LockedFolio),
}

/// Writes one locked folio whose dirty bit has been cleared for I/O: the
/// step shared by [`writepages`] and [`writepage`].
fn write_folio(
    inode: &Inode<Rsfs>,
    folio: LockedFolio,
    wbc: &mut WritebackControl<'_>,
    bios: &mut BioBuilder<'_, Rsfs>,
) -> Result<Step> {
    let sb = inode.super_block();
    let stats = &sb.info().stats;
    let size = inode.size();
    let pos = folio.index() << crate::format::BLOCK_SHIFT;
    let fsize = folio.size() as u64;

    // Nothing past EOF is written. A folio wholly past EOF is being
    // truncated away; leave it to truncate.
    if pos >= size {
        stats.add(Stat::SkippedBeyondEof, 1);
        return Ok(Step::Skipped);
    }
    // The part of the last folio past EOF may hold what a shared mapping
    // stored there; it must reach the disk as zeroes.
    if size - pos < fsize {
        folio.zero_segments((size - pos) as usize, fsize as usize, 0, 0);
    }

    // The disk block is cached in the folio by write_begin or page_mkwrite,
    // so writeback normally needs no lock on the block map.
    let block = match file::cached_block(&folio) {
        Some(b) => b,
        None if wbc.for_reclaim() => {
            // Reclaim must not wait on a file's block-map lock, whose
            // holder may itself be waiting for memory: put the folio back
            // (AOP_WRITEPAGE_ACTIVATE).
            folio.redirty(wbc);
            stats.add(Stat::Activated, 1);
            return Ok(Step::Activate(folio));
        }
        None => {
            // The folios already in our bio are under writeback: send them
            // before sleeping on the map lock, whose holder may be waiting
            // in reclaim for exactly those folios.
            bios.submit();
            let mapped = inode.data().map().lookup_written(folio.index());
            match mapped {
                Some(b) => {
                    file::cache_block(&folio, b);
                    b
                }
                None => {
                    // A dirty folio with no disk space, or over an
                    // unwritten block: write_begin and page_mkwrite give
                    // the block (or make it written) before dirtying, so
                    // this is a bug or a damaged map. The folio's data
                    // cannot be written.
                    sb_err!(
                        sb,
                        "inode {}: dirty page {} has no written block",
                        inode.ino(),
                        folio.index()
                    );
                    // Ends with an error recorded on the mapping.
                    let _ = folio.start_writeback();
                    return Err(EIO);
                }
            }
        }
    };

    bios.add_write(folio.start_writeback(), block);
    stats.add(Stat::FoliosWritten, 1);
    Ok(Step::Written)
}

/// `writepages`: rsfs's reimplementation of `write_cache_pages`.
pub(crate) fn writepages(mapping: &AddressSpace<Rsfs>, wbc: &mut WritebackControl<'_>) -> Result {
    let inode = mapping.host();
    let sb = inode.super_block();
    // Shut down: nothing more is written. The dirty folios stay so, as on
    // ext4, until the unmount drops them.
    shutdown::alive(sb)?;
    let stats = &sb.info().stats;
    let sync_all = wbc.is_sync_all();
    stats.add(
        if sync_all {
            Stat::WritepagesSyncAll
        } else {
            Stat::WritepagesSyncNone
        },
        1,
    );

    // range_cyclic resumes where the last cyclic walk stopped
    // (writeback_index) and runs to the end of the file; it never wraps
    // around within one call. Otherwise the walk covers the byte range.
    let (mut index, end) = if wbc.range_cyclic() {
        (mapping.writeback_index(), u64::MAX)
    } else {
        let (start, end) = wbc.range();
        (
            start as u64 >> crate::format::BLOCK_SHIFT,
            end as u64 >> crate::format::BLOCK_SHIFT,
        )
    };

    // Data integrity (WB_SYNC_ALL), and callers that ask for it, first tag
    // the dirty folios TOWRITE and then walk only that tag: folios dirtied
    // after the walk starts are not chased, so a process that keeps
    // dirtying the file cannot livelock an fsync. Background writeback
    // walks the DIRTY tag.
    let tag = if sync_all || wbc.tagged_writepages() {
        mapping.tag_for_writeback(index, end);
        stats.add(Stat::TaggedWalks, 1);
        Tag::ToWrite
    } else {
        Tag::Dirty
    };

    let mut first_error: Option<Error> = None;
    // Where a WB_SYNC_NONE walk stopped early, for writeback_index.
    let mut stopped_at: Option<u64> = None;
    let mut batch = FolioBatch::new();
    let mut bios = BioBuilder::writer(sb, wbc);

    // A block plug across the walk lets the bios of neighbouring runs merge
    // in the block layer.
    kfs::with_plug(|| {
        'walk: loop {
            // The walk goes in batches of folios found by tag, with a
            // chance to reschedule between batches.
            kfs::cond_resched();
            if mapping.find_tagged(&mut index, end, tag, &mut batch) == 0 {
                break;
            }
            for folio in batch.folios() {
                let folio = folio.lock();

                // Truncated or invalidated since it was found (its mapping
                // changed): skip it, even for data integrity; the data is
                // gone.
                if !folio.belongs_to(mapping) {
                    stats.add(Stat::SkippedTruncated, 1);
                    continue;
                }
                // Somebody else wrote it for us.
                if !folio.is_dirty() {
                    stats.add(Stat::SkippedNotDirty, 1);
                    continue;
                }
                // Already under writeback: background writeback skips it,
                // but data integrity must not (the kernel-doc of write_cache_pages in
                // mm/page-writeback.c): the I/O in flight
                // may predate the data fsync must make durable, so wait for
                // it and write the folio again.
                if folio.is_writeback() {
                    if !sync_all {
                        stats.add(Stat::SkippedWriteback, 1);
                        continue;
                    }
                    // Our own unsubmitted bio must go before we sleep.
                    bios.submit();
                    stats.add(Stat::WaitedWriteback, 1);
                    folio.wait_writeback();
                }
                // Clear DIRTY for I/O. Only the process that clears DIRTY
                // clears TOWRITE (starting writeback does it), so a
                // concurrent WB_SYNC_NONE pass cannot make an fsync miss a
                // folio.
                if !folio.clear_dirty_for_io() {
                    stats.add(Stat::SkippedNotDirty, 1);
                    continue;
                }

                let next = folio.index() + 1;
                let result = match write_folio(inode, folio, wbc, &mut bios) {
                    Ok(Step::Activate(folio)) => {
                        // AOP_WRITEPAGE_ACTIVATE: the folio was redirtied and
                        // handed back locked; unlocking it is all there is
                        // to do, and it is not an error.
                        drop(folio);
                        Ok(())
                    }
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                };

                // nr_to_write counts every folio handled. WB_SYNC_NONE stops
                // at the first error or when nr_to_write is spent;
                // WB_SYNC_ALL goes on to the end and returns the first error.
                wbc.wrote(1);
                if let Err(e) = result {
                    first_error.get_or_insert(e);
                    if !sync_all {
                        stopped_at = Some(next);
                        break 'walk;
                    }
                }
                if !sync_all && wbc.nr_to_write() <= 0 {
                    stopped_at = Some(next);
                    break 'walk;
                }
            }
        }
        bios.finish_accounted(|done| {
            stats.add(Stat::BiosWritten, done.bios);
            stats.add(Stat::BytesWritten, done.bytes);
        });
    });

    // range_cyclic: the next walk resumes after the last folio handled if
    // this one stopped early, and at the start if it reached the end.
    if wbc.range_cyclic() {
        mapping.set_writeback_index(stopped_at.unwrap_or(0));
    }
    first_error.map_or(Ok(()), Err)
}

/// `writepage`: one folio, for memory reclaim (`pageout`; migration moves
/// dirty folios without writing them). The folio is locked and its dirty
/// bit already cleared for I/O; kfs holds a reference to the inode for the
/// call (see `kfs::address_space::Operations::writepage`).
pub(crate) fn writepage(
    inode: &Inode<Rsfs>,
    folio: LockedFolio,
    wbc: &mut WritebackControl<'_>,
) -> Result<WritePage> {
    let stats = &inode.super_block().info().stats;
    stats.add(Stat::WritepageCalls, 1);
    if shutdown::is_shut_down(inode.super_block()) {
        // As in `writepages`; the folio goes back to reclaim, dirty.
        folio.redirty(wbc);
        return Ok(WritePage::Activate(folio));
    }
    let mut bios = BioBuilder::writer(inode.super_block(), wbc);
    let step = write_folio(inode, folio, wbc, &mut bios);
    bios.finish_accounted(|done| {
        stats.add(Stat::BiosWritten, done.bios);
        stats.add(Stat::BytesWritten, done.bytes);
    });
    match step? {
        Step::Activate(folio) => Ok(WritePage::Activate(folio)),
        Step::Written | Step::Skipped => Ok(WritePage::Done),
    }
}
