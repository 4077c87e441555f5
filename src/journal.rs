// SPDX-License-Identifier: GPL-2.0

//! The journal: every metadata block a transaction changed is written to
//! the log first, then a commit block, and only then in place.
//!
//! A transaction ([`crate::txn`]) is the set of metadata buffers changed
//! since the last commit. Those buffers are never marked dirty for the
//! block device's own writeback, so nothing of a transaction reaches its
//! home on disk before the transaction is committed. A commit:
//!
//! 1. copies each buffer (with its lock held, so the copy is of whole
//!    changes) into a page of its own;
//! 2. waits until the last commit's copies have reached their homes
//!    (they were sent at the end of that commit, step 4);
//! 3. flushes the device's cache, so that everything written before (the
//!    file data that the transaction's maps name, and the last commit's
//!    homes) is durable; then writes the log, the journal's first blocks,
//!    in one run: the descriptor blocks (where each copy belongs, and its
//!    checksum), the copies and the commit block; and flushes again. The
//!    transaction is durable when this returns. The commit block is
//!    checked at mount together with every copy, so it may share the
//!    epoch of the writes it commits; it is not sent FUA: a FUA write
//!    makes itself durable, but a write issued after it completes is, in
//!    a log of completions such as dm-log-writes', indistinguishable from
//!    one issued beside it; a flush ends an epoch that any such log shows,
//!    and lets the crash-state tests prove that no home write lands
//!    without its commit. (On a device without FUA, such as virtio-blk,
//!    the block layer sends a FUA write as a write and a flush anyway.)
//! 4. sends the copies home, and returns without waiting for them. The
//!    next commit waits for them (step 2), and its first flush makes them
//!    durable before the log they are in is overwritten. An fsync thus
//!    costs the data, a flush, one write of the log and a flush; the homes
//!    go out while the task goes on. Until they land, the buffers they
//!    were copied from stay referenced ([`Homes`]), so that no read finds
//!    the old block at home. [`checkpoint`] makes them durable before the
//!    log is emptied (unmount, remount read-only), and at `sync(2)`,
//!    `syncfs(2)` and freeze.
//!
//! A power cut at any point leaves either the old blocks in place and no
//! valid commit (before the last flush of step 3: the transaction never
//! happened), or a valid commit in the log, which the next mount replays
//! ([`replay`]) before it reads anything else. Replay writes the whole
//! transaction again, which is harmless for the blocks that already
//! reached their home.
//!
//! Why a block freed and logged by the same transaction is not reused at
//! once: until the next commit overwrites the log, a mount would replay
//! the old copy over whatever a new owner wrote there (ext4's revoke
//! records solve the same problem). [`crate::alloc::release_freed`] holds
//! such blocks back for one more commit.
//!
//! The format of the log is in `docs/format.md` ("Journal").

use kernel::prelude::*;

use crate::{
    format::{
        self, journal_capacity, journal_desc_blocks, Geometry, JournalCommit, JournalDesc,
        JournalTag, Le32, Le64, JOURNAL_COMMIT_MAGIC, JOURNAL_DESC_MAGIC, JOURNAL_TAGS_PER_DESC,
    },
    kfs::{self, sb_err, write_copies, BlockCopy, BufferHead, InFlight, SuperBlock, WriteMode},
    super_, Rsfs,
};

/// Writes the transaction `bufs` (sorted by block, none repeated) with
/// sequence number `seq`, and returns once it is durable in the log; its
/// writes home are left in `homes`, after the last commit's have landed.
/// An empty `bufs` writes an empty transaction: the log then holds
/// nothing that a mount would replay.
pub(crate) fn commit(
    sb: &SuperBlock<Rsfs>,
    bufs: &[BufferHead],
    seq: u64,
    homes: &mut Option<Homes>,
) -> Result {
    let geo = &sb.info().geo;
    let n = bufs.len() as u64;
    if n > journal_capacity(geo.journal_blocks) {
        return Err(E2BIG);
    }
    // 1. The copies, and the descriptor blocks that say where they go.
    let descs = journal_desc_blocks(n);
    let mut copies = KVec::with_capacity(bufs.len(), GFP_KERNEL)?;
    let mut desc_bytes = KVec::with_capacity(descs as usize * format::BLOCK_SIZE, GFP_KERNEL)?;
    desc_bytes.extend_with(descs as usize * format::BLOCK_SIZE, 0u8, GFP_KERNEL)?;
    for d in 0..descs {
        let block = &mut desc_bytes[d as usize * format::BLOCK_SIZE..][..format::BLOCK_SIZE];
        JournalDesc {
            magic: Le32::new(JOURNAL_DESC_MAGIC),
            index: Le32::new(d as u32),
            seq: Le64::new(seq),
            blocks: Le32::new(n as u32),
            pad0: Le32::new(0),
        }
        .encode(block);
    }
    for (i, bh) in bufs.iter().enumerate() {
        let g = bh.lock();
        let csum = format::journal_csum(g.data());
        copies.push(BlockCopy::new(g.data())?, GFP_KERNEL)?;
        drop(g);
        let i = i as u64;
        let block = &mut desc_bytes[(i / JOURNAL_TAGS_PER_DESC) as usize * format::BLOCK_SIZE..]
            [..format::BLOCK_SIZE];
        let tag = JournalTag {
            home: Le64::new(bh.block()),
            csum: Le32::new(csum),
        };
        JournalDesc::set_tag(block, i % JOURNAL_TAGS_PER_DESC, &tag);
    }
    let mut desc_copies = KVec::with_capacity(descs as usize, GFP_KERNEL)?;
    for block in desc_bytes.chunks_mut(format::BLOCK_SIZE) {
        format::csum_set(block, kfs::crc32c);
        desc_copies.push(BlockCopy::new(block)?, GFP_KERNEL)?;
    }
    let mut commit_block = KVec::with_capacity(format::BLOCK_SIZE, GFP_KERNEL)?;
    commit_block.extend_with(format::BLOCK_SIZE, 0u8, GFP_KERNEL)?;
    JournalCommit {
        magic: Le32::new(JOURNAL_COMMIT_MAGIC),
        blocks: Le32::new(n as u32),
        seq: Le64::new(seq),
    }
    .encode(&mut commit_block);
    format::csum_set(&mut commit_block, kfs::crc32c);
    let commit_copy = BlockCopy::new(&commit_block)?;

    // Everything step 4 needs, allocated before the log is written: once
    // the transaction is durable, nothing may fail.
    let mut home = KVec::with_capacity(bufs.len(), GFP_KERNEL)?;
    let mut held = KVec::with_capacity(bufs.len(), GFP_KERNEL)?;
    let mut writes = InFlight::new()?;

    // 2. The last commit's copies must be home before the log they were
    //    written to is overwritten: the flush ahead of the log (3) makes
    //    them durable, with the file data written before this commit.
    finish(sb, homes)?;

    // 3. The log, in one run of blocks: descriptors, copies and the
    //    commit block, between two flushes. Nothing of it may land before
    //    what the first flush makes durable; the commit block may land
    //    before the copies, or without them, since a mount replays only a
    //    transaction whose every block matches its checksum.
    let start = geo.journal_start;
    let mut log = KVec::with_capacity((descs + n + 1) as usize, GFP_KERNEL)?;
    for (d, c) in desc_copies.iter().enumerate() {
        log.push((start + d as u64, c), GFP_KERNEL)?;
    }
    for (i, c) in copies.iter().enumerate() {
        log.push((start + descs + i as u64, c), GFP_KERNEL)?;
    }
    log.push((start + descs + n, &commit_copy), GFP_KERNEL)?;
    sb.flush_device()
        .and_then(|()| write_copies(sb, &log, WriteMode::Plain))
        .and_then(|()| sb.flush_device())
        .inspect_err(|e| sb_err!(sb, "journal: committing transaction {}: error {:?}", seq, e))?;
    drop(log);
    if n == 0 {
        return Ok(());
    }

    // 4. Home, without waiting: the next commit or a checkpoint waits.
    //    (The pushes fit the room reserved above.)
    for (bh, c) in bufs.iter().zip(copies) {
        home.push((bh.block(), c), GFP_KERNEL)?;
        held.push(bh.clone_ref(), GFP_KERNEL)?;
    }
    writes.start(sb, home);
    *homes = Some(Homes {
        writes,
        _held: held,
        seq,
    });
    sb.info().stats.add(super_::Stat::Commits, 1);
    Ok(())
}

/// A committed transaction's copies on their way home, and the buffers
/// they were copied from. A buffer stays referenced until its copy has
/// landed: otherwise memory reclaim could drop it from the cache, and the
/// next read would find the block's old contents at home.
pub(crate) struct Homes {
    writes: InFlight,
    _held: KVec<BufferHead>,
    seq: u64,
}

/// Waits until the last commit's copies are home (not durable: a flush
/// after this makes them so). A failed write is tried once more, and the
/// first error is returned either way, so that the sync that found it
/// reports it, as it would have reported a failed write of its own. If the
/// second try fails too, the copies stay in `homes` and the log must not
/// be overwritten: it still holds the only good copy, which a mount would
/// replay.
fn finish(sb: &SuperBlock<Rsfs>, homes: &mut Option<Homes>) -> Result {
    let Some(h) = homes.as_mut() else {
        return Ok(());
    };
    let first = h.writes.wait();
    if let Err(e) = first {
        sb_err!(
            sb,
            "journal: writing transaction {} in place: error {:?}; writing it again",
            h.seq,
            e
        );
        h.writes.rewrite(sb).inspect_err(|e| {
            sb_err!(
                sb,
                "journal: writing transaction {} in place again: error {:?}",
                h.seq,
                e
            )
        })?;
    }
    *homes = None;
    first
}

/// At the unmount of a shut-down filesystem: waits for the last commit's
/// writes home, if any are in flight, and gives up any that failed (the
/// log, which a mount replays, still holds them).
pub(crate) fn abandon(homes: &mut Option<Homes>) {
    if let Some(mut h) = homes.take() {
        let _ = h.writes.wait();
    }
}

/// Makes the last commit's copies durable at home: before the log is
/// emptied ([`clear`]), and at `sync(2)`, `syncfs(2)` and freeze.
pub(crate) fn checkpoint(sb: &SuperBlock<Rsfs>, homes: &mut Option<Homes>) -> Result {
    if homes.is_none() {
        return Ok(());
    }
    let home = finish(sb, homes);
    sb.flush_device().and(home)
}

/// Empties the log: its first block no longer holds a descriptor, and the
/// write is durable when this returns. Done once the last commit is in
/// place: after a replay at mount, and at unmount, so that a clean
/// filesystem has nothing to replay.
pub(crate) fn clear<S>(sb: &SuperBlock<Rsfs, S>, geo: &Geometry) -> Result {
    let zero = BlockCopy::zeroed()?;
    write_copies(sb, &[(geo.journal_start, &zero)], WriteMode::Flushed)
}

/// A committed transaction found in the log at mount.
pub(crate) struct Replayed {
    /// Its sequence number.
    pub(crate) seq: u64,
    /// The blocks it logged.
    pub(crate) blocks: u64,
}

/// Reads block `n` of the device and checks nothing: log blocks carry
/// their own checksums.
fn read<S>(sb: &SuperBlock<Rsfs, S>, n: u64) -> Result<BufferHead> {
    super_::read_block(sb, n).inspect_err(|_| sb_err!(sb, "journal: cannot read block {}", n))
}

/// The homes of the logged blocks of the committed transaction in the
/// log, or `None` if there is none: the first block is no descriptor, or
/// any part of the transaction (a descriptor, a copy, the commit block) is
/// missing or does not match. That is a commit the power cut interrupted,
/// and it was never acknowledged.
fn committed<S>(sb: &SuperBlock<Rsfs, S>, geo: &Geometry) -> Result<Option<(u64, KVec<u64>)>> {
    let start = geo.journal_start;
    let first = read(sb, start)?;
    let Some(head) = JournalDesc::validate(first.lock().data(), kfs::crc32c) else {
        return Ok(None);
    };
    let seq = head.seq.get();
    let n = u64::from(head.blocks.get());
    if head.index.get() != 0 || n > journal_capacity(geo.journal_blocks) {
        return Ok(None);
    }
    let descs = journal_desc_blocks(n);
    if !JournalCommit::matches(
        read(sb, start + descs + n)?.lock().data(),
        seq,
        n,
        kfs::crc32c,
    ) {
        return Ok(None);
    }
    let mut homes = KVec::with_capacity(n as usize, GFP_KERNEL)?;
    for d in 0..descs {
        let desc = read(sb, start + d)?;
        let g = desc.lock();
        let Some(h) = JournalDesc::validate(g.data(), kfs::crc32c) else {
            return Ok(None);
        };
        if h.seq.get() != seq || u64::from(h.index.get()) != d || u64::from(h.blocks.get()) != n {
            return Ok(None);
        }
        let tags = (n - d * JOURNAL_TAGS_PER_DESC).min(JOURNAL_TAGS_PER_DESC);
        for i in 0..tags {
            let tag = JournalDesc::tag(g.data(), i);
            let at = start + descs + homes.len() as u64;
            if format::journal_csum(read(sb, at)?.lock().data()) != tag.csum.get() {
                return Ok(None);
            }
            let home = tag.home.get();
            let in_journal = (start..start + geo.journal_blocks).contains(&home);
            if home >= geo.blocks_count || in_journal {
                sb_err!(
                    sb,
                    "journal: transaction {} logs block {}, outside the filesystem or inside the journal; run fsck.rsfs",
                    seq,
                    home
                );
                return Err(kfs::efscorrupted());
            }
            homes.push(home, GFP_KERNEL)?;
        }
    }
    Ok(Some((seq, homes)))
}

/// At mount, before anything else is read: writes the committed
/// transaction in the log, if there is one, to its homes, makes that
/// durable, and empties the log. Works on a read-only mount too, as ext4
/// does: the filesystem is not consistent without it. On a read-only
/// device it cannot, and the mount fails with EROFS, as ext4's does
/// (`norecovery` mounts it as it is).
pub(crate) fn replay<S>(sb: &SuperBlock<Rsfs, S>, geo: &Geometry) -> Result<Option<Replayed>> {
    let found = committed(sb, geo);
    let Some((seq, homes)) = found? else {
        // Commits write the log with bios of their own, not through the
        // cache: the log blocks read here must not linger in it.
        sb.forget_block_buffers(geo.journal_start, geo.journal_blocks);
        return Ok(None);
    };
    if sb.device_is_read_only() {
        sb_err!(
            sb,
            "journal: transaction {} needs replaying, but the device is read-only (mount with norecovery to look at the disk as it is)",
            seq
        );
        sb.forget_block_buffers(geo.journal_start, geo.journal_blocks);
        return Err(EROFS);
    }
    let start = geo.journal_start;
    let descs = journal_desc_blocks(homes.len() as u64);
    for (i, &home) in homes.iter().enumerate() {
        let copy = read(sb, start + descs + i as u64)?;
        let dst = sb.bnew(home)?;
        dst.lock().data_mut().copy_from_slice(copy.lock().data());
        dst.mark_dirty();
    }
    // Only once the homes are durable may the log go.
    let done = sb
        .sync_device()
        .and_then(|()| sb.flush_device())
        .and_then(|()| clear(sb, geo));
    // The log is written with bios of its own, not through the cache.
    sb.forget_block_buffers(start, geo.journal_blocks);
    done.inspect_err(|_| sb_err!(sb, "journal: cannot write the replayed transaction {}", seq))?;
    Ok(Some(Replayed {
        seq,
        blocks: homes.len() as u64,
    }))
}
