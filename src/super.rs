// SPDX-License-Identifier: GPL-2.0

//! Mounting and the superblock: reading and checking it, the free counters,
//! the clean/dirty state, `statfs`, `sync_fs` and unmount.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use kernel::{c_str, new_mutex, prelude::*, sync::Mutex};

use crate::{
    alloc::{self, AllocState},
    format::{self, FormatError, Geometry, Superblock, LABEL_MAX},
    inode, journal,
    kfs::{
        self, fs_type::MountFlags, sb_err, BufferHead, Counters, Evicting, Inode, InodeRef, New,
        ReadError, StatFs, SuperBlock,
    },
    namei,
    orphan::{self, Orphans},
    shutdown,
    txn::{self, Txns},
    Rsfs,
};

/// The counters of a mount, in `/sys/kernel/debug/rsfs/<device>/`.
#[derive(Clone, Copy)]
pub(crate) enum Stat {
    /// `writepages` calls for background writeback (WB_SYNC_NONE).
    WritepagesSyncNone,
    /// `writepages` calls for data integrity (WB_SYNC_ALL).
    WritepagesSyncAll,
    /// Walks of the TOWRITE tag (after `tag_pages_for_writeback`).
    TaggedWalks,
    /// `writepage` calls (memory reclaim).
    WritepageCalls,
    /// Folios put under writeback.
    FoliosWritten,
    /// Write bios submitted.
    BiosWritten,
    /// Bytes in them.
    BytesWritten,
    /// Folios skipped: truncated since they were found.
    SkippedTruncated,
    /// Folios skipped: no longer dirty.
    SkippedNotDirty,
    /// Folios skipped by WB_SYNC_NONE: already under writeback.
    SkippedWriteback,
    /// Waits by WB_SYNC_ALL for a folio already under writeback.
    WaitedWriteback,
    /// Folios skipped: wholly past the end of the file.
    SkippedBeyondEof,
    /// Folios redirtied and handed back (AOP_WRITEPAGE_ACTIVATE).
    Activated,
    /// Read bios submitted.
    BiosRead,
    /// Bytes in them.
    BytesRead,
    /// `fsync` calls on regular files.
    Fsyncs,
    /// Direct writes into holes handed back to buffered I/O.
    DirectFallbacks,
    /// Allocations for direct writes past the end of a file, one per run
    /// of blocks given.
    DirectAllocs,
    /// Inodes written to the inode table (`write_inode`).
    InodeWrites,
    /// Overflow extent blocks encoded by inode writes (only changed ones
    /// are).
    ExtentBlockWrites,
    /// Runs of blocks given unwritten (fallocate), one per run.
    UnwrittenAllocs,
    /// Unwritten blocks made written by data put over them.
    UnwrittenConverted,
    /// Unwritten blocks zeroed on the disk and made written with the data
    /// beside them, because the map had no block for a split (ENOSPC).
    UnwrittenZeroed,
    /// Runs of blocks given to file data (by writes, buffered or direct,
    /// and by stores through a mapping), one per run.
    DataAllocs,
    /// Transactions committed to the journal (by a sync: fsync, a
    /// synchronous namespace change, syncfs, unmount).
    Commits,
    /// Blocks discarded as their free was committed (`-o discard`).
    DiscardedBlocks,
}

/// The debugfs names of the [`Stat`] counters, in order.
const STAT_NAMES: [&CStr; 26] = [
    c_str!("writepages_sync_none"),
    c_str!("writepages_sync_all"),
    c_str!("tagged_walks"),
    c_str!("writepage_calls"),
    c_str!("folios_written"),
    c_str!("bios_written"),
    c_str!("bytes_written"),
    c_str!("skipped_truncated"),
    c_str!("skipped_not_dirty"),
    c_str!("skipped_writeback"),
    c_str!("waited_writeback"),
    c_str!("skipped_beyond_eof"),
    c_str!("activated"),
    c_str!("bios_read"),
    c_str!("bytes_read"),
    c_str!("fsyncs"),
    c_str!("direct_fallbacks"),
    c_str!("direct_allocs"),
    c_str!("inode_writes"),
    c_str!("extent_block_writes"),
    c_str!("unwritten_allocs"),
    c_str!("unwritten_converted"),
    c_str!("unwritten_zeroed"),
    c_str!("data_allocs"),
    c_str!("commits"),
    c_str!("discarded_blocks"),
];

/// Per-mount counters.
pub(crate) struct Stats(Counters);

impl Stats {
    /// Adds `n` to counter `s`.
    pub(crate) fn add(&self, s: Stat, n: u64) {
        self.0.add(s as usize, n);
    }
}

/// The state of one mounted rsfs filesystem.
#[pin_data]
pub(crate) struct Info {
    /// Where each region of the disk lives.
    pub(crate) geo: Geometry,
    /// The on-disk superblock as read at mount time.
    pub(crate) disk: Superblock,
    /// Block and inode allocation state; see [`crate::alloc`].
    #[pin]
    pub(crate) alloc: Mutex<AllocState>,
    /// The gate between operations and syncs; see [`crate::txn`].
    #[pin]
    pub(crate) txns: Txns,
    /// The orphan list in memory; see [`crate::orphan`].
    #[pin]
    pub(crate) orphans: Mutex<Orphans>,
    /// Source of inode generation numbers.
    pub(crate) generation: AtomicU32,
    /// Counters, for tests and benchmarks.
    pub(crate) stats: Stats,
    /// Mounted with `norecovery` (`noload`): read-only, the journal not
    /// replayed.
    pub(crate) norecovery: bool,
    /// Mounted with `discard`: blocks are discarded as their free is
    /// committed ([`alloc::release_freed`]). `remount,nodiscard` and
    /// `remount,discard` change it.
    pub(crate) discard: AtomicBool,
    /// Held by a `FITRIM` for its whole walk: one at a time
    /// ([`alloc::trim`]).
    #[pin]
    pub(crate) trim: Mutex<()>,
    /// Shut down (`FS_IOC_SHUTDOWN`, or damage found with
    /// `errors=remount-ro`): nothing more is written to the disk; see
    /// [`crate::shutdown`].
    pub(crate) shut_down: AtomicBool,
    /// What damage found does: [`ERRORS_RO`], [`ERRORS_PANIC`], or
    /// neither (`errors=continue`); see [`crate::shutdown::damaged`].
    pub(crate) errors: AtomicU32,
    /// Mounted with `data_err=abort`: a commit that finds a file data
    /// write failed since the last one shuts the filesystem down instead
    /// ([`crate::shutdown::data_write_failed`]). `remount,data_err=` changes it.
    pub(crate) data_err_abort: AtomicBool,
    /// The superblock has [`format::FEATURE_INCOMPAT_UNWRITTEN`]: extents
    /// may be unwritten. Set at mount, or by [`allow_unwritten`].
    pub(crate) unwritten: AtomicBool,
}

/// Mount option `norecovery` (or its other name, `noload`, both ext4's):
/// mount read-only without replaying the journal, to look at a disk as it
/// is after a power cut. What the last commit held is then not shown, and
/// the metadata may be half of an operation; nothing is written.
const NORECOVERY: u32 = 1;

/// Mount option `discard` (and `nodiscard`, the default), as ext4's: the
/// blocks freed by each commit are discarded once it is durable, before
/// they may be given out again, so that a thin or flash device gets them
/// back without `fstrim`.
const DISCARD: u32 = 2;

/// Mount option `errors=remount-ro`, as ext2's and ext4's: damage found on
/// the disk shuts the filesystem down, as ext4 does in 6.12 rather than
/// set the read-only flag: nothing more is written.
pub(crate) const ERRORS_RO: u32 = 4;

/// Mount option `errors=panic`: damage found on the disk panics the
/// kernel. Without either (`errors=continue`, the default), the call that
/// found it fails with EUCLEAN and the filesystem goes on.
pub(crate) const ERRORS_PANIC: u32 = 8;

/// Mount option `data_err=abort` (and `data_err=ignore`, the default), as
/// ext4's: when the device fails a write of file data, the next commit
/// shuts the filesystem down rather than commit block maps that may name
/// blocks the data never reached (they would show what the disk held
/// there). With `data_err=ignore` the error goes to the file's next
/// `fsync` and the commit goes on, as on ext4.
const DATA_ERR_ABORT: u32 = 16;

/// The `errors=` bits that `flags` turn on.
fn errors_of(flags: MountFlags) -> u32 {
    let on = |bit| if flags.has(bit) { bit } else { 0 };
    on(ERRORS_RO) | on(ERRORS_PANIC)
}

/// Whether the device of `sb` can discard; if not, `discard` is ignored
/// with a warning, as ext4 does.
fn can_discard<S>(sb: &SuperBlock<Rsfs, S>) -> bool {
    let can = sb.discard_granularity().is_some();
    if !can {
        sb_err!(
            sb,
            "discard: the device does not support discard; the option is ignored"
        );
    }
    can
}

impl Info {
    /// A new generation number for a newly created inode.
    pub(crate) fn next_generation(&self) -> u32 {
        self.generation.fetch_add(1, Ordering::Relaxed)
    }
}

/// The errno for a superblock the format rejects: EINVAL for a disk that is
/// not rsfs or not one this module supports, EUCLEAN (EFSCORRUPTED) for a
/// damaged one.
/// Reads a metadata block. A block whose last write failed gives EIO until
/// the next mount: the older copy on disk must not be taken for current
/// (fsck.rsfs reconciles it).
pub(crate) fn read_block<S>(sb: &SuperBlock<Rsfs, S>, block: u64) -> Result<BufferHead> {
    sb.bread(block).map_err(|e| {
        if e == ReadError::WriteLost {
            sb_err!(
                sb,
                "block {block}: its last write failed; not using the older copy on disk (unmount and run fsck.rsfs)"
            );
        }
        EIO
    })
}

fn errno(e: FormatError) -> Error {
    match e {
        FormatError::BadMagic
        | FormatError::BadVersion
        | FormatError::UnknownFeature
        | FormatError::BadBlockSize => EINVAL,
        _ => kfs::efscorrupted(),
    }
}

/// Writes the superblock in place with the current counters and `state`,
/// and waits for it: at mount, at unmount and across a read-only spell,
/// when no transaction is running. (`syncfs` puts the counters in the
/// running transaction instead: [`write_counters`].)
fn write_superblock<S>(
    sb: &SuperBlock<Rsfs, S>,
    info: &Info,
    state: u16,
    mounting: bool,
) -> Result {
    let bh = update_superblock(sb, info, state, mounting)?;
    bh.mark_dirty();
    bh.sync()
}

/// Puts the current counters, `state` and times into the superblock's
/// buffer, and returns the buffer.
fn update_superblock<S>(
    sb: &SuperBlock<Rsfs, S>,
    info: &Info,
    state: u16,
    mounting: bool,
) -> Result<kfs::BufferHead> {
    let (free_blocks, free_inodes) = {
        let a = info.alloc.lock();
        (a.free_blocks, a.free_inodes)
    };
    change_superblock(sb, |d| {
        let now = kfs::now_seconds();
        d.free_blocks = free_blocks.into();
        d.free_inodes = free_inodes.into();
        d.state = state.into();
        d.write_time = now.into();
        if mounting {
            d.mount_count = d.mount_count.get().wrapping_add(1).into();
            d.mount_time = now.into();
        }
    })
}

/// Changes the superblock's buffer with `change`, under the buffer's lock,
/// with its checksum set again; returns the buffer, for the caller to
/// write or to put in the running transaction.
fn change_superblock<S>(
    sb: &SuperBlock<Rsfs, S>,
    change: impl FnOnce(&mut Superblock),
) -> Result<kfs::BufferHead> {
    let bh = read_block(sb, format::SUPERBLOCK_BLOCK)?;
    {
        let mut g = bh.lock();
        let data = g.data_mut();
        let mut d = Superblock::decode(data);
        change(&mut d);
        d.encode(data);
        format::csum_set(&mut data[..Superblock::SIZE], kfs::crc32c);
    }
    Ok(bh)
}

/// The superblock names `ino` as the head of the orphan list, in the running
/// transaction ([`crate::orphan`]).
pub(crate) fn set_orphan_head(sb: &SuperBlock<Rsfs>, ino: u64) -> Result {
    let bh = change_superblock(sb, |d| d.orphan_head = ino.into())?;
    txn::dirty(sb, &bh);
    Ok(())
}

/// Whether extents may be unwritten on this filesystem.
pub(crate) fn has_unwritten(sb: &SuperBlock<Rsfs>) -> bool {
    sb.info().unwritten.load(Ordering::Relaxed)
}

/// Makes sure the superblock has [`format::FEATURE_INCOMPAT_UNWRITTEN`],
/// setting it in the running transaction if not: called inside the handle
/// that makes the first unwritten extent, so that the flag reaches the
/// disk with it or before it. A kernel that does not know the feature
/// then refuses the filesystem rather than read an unwritten extent's
/// stale blocks as data.
pub(crate) fn allow_unwritten(sb: &SuperBlock<Rsfs>) -> Result {
    if has_unwritten(sb) {
        return Ok(());
    }
    let bh = change_superblock(sb, |d| {
        d.feature_incompat = (d.feature_incompat.get() | format::FEATURE_INCOMPAT_UNWRITTEN).into()
    })?;
    txn::dirty(sb, &bh);
    sb.info().unwritten.store(true, Ordering::Relaxed);
    Ok(())
}

/// The volume label, as the superblock's buffer has it.
pub(crate) fn label(sb: &SuperBlock<Rsfs>) -> Result<[u8; LABEL_MAX]> {
    let bh = read_block(sb, format::SUPERBLOCK_BLOCK)?;
    let label = Superblock::decode(bh.lock().data()).label;
    Ok(label)
}

/// Gives the filesystem a new volume label, in a transaction of its own.
pub(crate) fn set_label(sb: &SuperBlock<Rsfs>, label: &[u8; LABEL_MAX]) -> Result {
    let _handle = txn::begin(sb)?;
    let bh = change_superblock(sb, |d| d.label = *label)?;
    txn::dirty(sb, &bh);
    Ok(())
}

/// The free counters go to the superblock, which still says "mounted", as
/// part of the running transaction.
fn write_counters(sb: &SuperBlock<Rsfs>) -> Result {
    let bh = update_superblock(sb, &sb.info(), format::STATE_DIRTY, false)?;
    txn::dirty(sb, &bh);
    Ok(())
}

/// Before the superblock says "clean": blocks freed since the last sync
/// (by the inodes evicted at unmount, say) are released, and the bitmaps
/// with them reach the disk, so that the clean superblock's counters are
/// the bitmaps' own; and the journal is emptied, so that a clean
/// filesystem has nothing to replay.
fn clean_up(sb: &SuperBlock<Rsfs>) -> Result {
    // The writes home go on even if the sync failed: nothing may be left
    // in flight.
    let synced = txn::sync_all(sb);
    let home = txn::checkpoint(sb);
    synced.and(home)?;
    journal::clear(sb, &sb.info().geo)
}

/// What rsfs keeps beside the kernel's objects: [`Info`] per mount, and
/// [`inode::InodeInfo`] per inode.
impl kfs::FsData for Rsfs {
    type Info = Info;
    type InodeData = inode::InodeInfo;
}

/// rsfs as a filesystem type: mount, the superblock's operations
/// (`super_operations`), and file handles. The inode's own operations
/// (reading, writing and evicting one) are in [`crate::inode`], as ext2's
/// table in super.c points into inode.c.
#[vtable]
impl kfs::FileSystem for Rsfs {
    const NAME: &'static CStr = c_str!("rsfs");
    /// The counters of docs/design.md are published per mount, under
    /// `/sys/kernel/debug/rsfs/<device>/`.
    const DEBUGFS_DIR: bool = true;
    /// Ownership and permission are the VFS's (through the idmap kfs
    /// passes on), as on ext4: containers may mount rsfs idmapped.
    const IDMAPPED_MOUNTS: bool = true;
    const MOUNT_FLAGS: &'static [(&'static CStr, u32, bool)] = &[
        (c_str!("norecovery"), NORECOVERY, true),
        (c_str!("noload"), NORECOVERY, true),
        (c_str!("discard"), DISCARD, true),
        (c_str!("nodiscard"), DISCARD, false),
        (c_str!("errors=continue"), ERRORS_RO | ERRORS_PANIC, false),
        (c_str!("errors=remount-ro"), ERRORS_PANIC, false),
        (c_str!("errors=remount-ro"), ERRORS_RO, true),
        (c_str!("errors=panic"), ERRORS_RO, false),
        (c_str!("errors=panic"), ERRORS_PANIC, true),
        (c_str!("data_err=abort"), DATA_ERR_ABORT, true),
        (c_str!("data_err=ignore"), DATA_ERR_ABORT, false),
        // Always on, as on ext4, which takes both names still.
        (c_str!("user_xattr"), 0, true),
        (c_str!("acl"), 0, true),
    ];
    /// `user.`, `trusted.` and `security.` attributes, and POSIX ACLs, in
    /// [`crate::xattr`].
    const XATTRS: Option<kfs::xattr::Handlers<Self>> =
        Some(kfs::xattr::Handlers::new::<crate::xattr::Xattrs>());

    /// Reads and checks the superblock of a filesystem being mounted, counts the
    /// free blocks and inodes from the bitmaps, and marks the disk as mounted.
    fn fill_super(sb: &SuperBlock<Rsfs, New>, flags: MountFlags) -> Result<Pin<KBox<Self::Info>>> {
        let norecovery = flags.has(NORECOVERY);
        if norecovery && !sb.is_read_only() {
            // ext4 refuses it only when the journal needs recovery; rsfs's
            // journal is replayed at every mount, so always.
            sb_err!(sb, "norecovery (noload) needs a read-only mount");
            return Err(EINVAL);
        }
        // Metadata blocks are checked once when read from disk (see
        // `BufferHead::set_verified`); start from the disk, not from a cache
        // that may have been written to while the filesystem was unmounted.
        sb.forget_cached_blocks();
        sb.set_block_size(format::BLOCK_SIZE as u32)
            .inspect_err(|_| {
                sb_err!(
                    sb,
                    "device does not support {}-byte blocks",
                    format::BLOCK_SIZE
                )
            })?;
        let bh = read_block(sb, format::SUPERBLOCK_BLOCK)
            .inspect_err(|_| sb_err!(sb, "cannot read the superblock"))?;
        let disk = Superblock::validate(bh.lock().data(), kfs::crc32c).map_err(|e| {
            sb_err!(sb, "superblock: {}", e.as_str());
            errno(e)
        })?;
        let device_blocks = sb.device_bytes() >> format::BLOCK_SHIFT;
        let geo = Geometry::from_superblock(&disk, device_blocks).map_err(|e| {
            sb_err!(
                sb,
                "superblock: {} ({} blocks, {} inodes, device has {} blocks)",
                e.as_str(),
                disk.blocks_count.get(),
                disk.inodes_count.get(),
                device_blocks
            );
            errno(e)
        })?;
        // The journal's last committed transaction, if a power cut left one,
        // goes in place before anything else is read: the superblock too may
        // be part of it.
        let mut disk = disk;
        if norecovery {
            pr_info!(
                "rsfs ({}): mounted read-only without journal recovery (norecovery)\n",
                sb.id()
            );
        } else if let Some(t) = journal::replay(sb, &geo)? {
            pr_info!(
                "rsfs ({}): journal: replayed transaction {} ({} blocks)\n",
                sb.id(),
                t.seq,
                t.blocks
            );
            let replayed = Superblock::validate(bh.lock().data(), kfs::crc32c).map_err(|e| {
                sb_err!(sb, "superblock after journal replay: {}", e.as_str());
                errno(e)
            })?;
            if Geometry::from_superblock(&replayed, device_blocks) != Ok(geo) {
                sb_err!(sb, "journal replay changed the layout; run fsck.rsfs");
                return Err(kfs::efscorrupted());
            }
            disk = replayed;
        }
        drop(bh);
        if disk.root_ino.get() != format::ROOT_INO {
            sb_err!(sb, "superblock: root inode is {}", disk.root_ino.get());
            return Err(kfs::efscorrupted());
        }
        // The counters in the superblock are only as fresh as the last clean
        // unmount; the bitmaps are the truth.
        let (free_blocks, free_inodes) = alloc::count_free(sb, &geo)?;
        sb.set_magic(format::MAGIC.into());
        sb.set_uuid(&disk.uuid);
        sb.set_max_bytes(format::MAX_FILE_SIZE as i64);
        let discard = flags.has(DISCARD) && can_discard(sb);
        let stats = Stats(Counters::new(sb, &STAT_NAMES)?);
        // Sequence numbers are unique across mounts (this mount's count in the
        // high half): a commit block left in the log by an earlier mount never
        // matches a descriptor of this one.
        let seq = u64::from(disk.mount_count.get().wrapping_add(1)) << 32;
        let capacity = format::journal_capacity(geo.journal_blocks) as usize;
        let info = KBox::pin_init(
            try_pin_init!(Info {
                geo,
                disk,
                alloc <- new_mutex!(AllocState::new(free_blocks, free_inodes), "rsfs:alloc"),
                txns <- Txns::new(seq, capacity),
                orphans <- new_mutex!(Orphans::new(), "rsfs:orphans"),
                generation: AtomicU32::new(disk.mkfs_time.get() as u32 ^ kfs::now_seconds() as u32),
                stats,
                norecovery,
                discard: AtomicBool::new(discard),
                shut_down: AtomicBool::new(false),
                errors: AtomicU32::new(errors_of(flags)),
                data_err_abort: AtomicBool::new(flags.has(DATA_ERR_ABORT)),
                unwritten: AtomicBool::new(
                    disk.feature_incompat.get() & format::FEATURE_INCOMPAT_UNWRITTEN != 0
                ),
                trim <- new_mutex!((), "rsfs:trim"),
            }),
            GFP_KERNEL,
        )?;
        if !sb.is_read_only() {
            write_superblock(sb, &info, format::STATE_DIRTY, true)?;
        }
        Ok(info)
    }

    /// The root directory, once the orphans of a read-write mount are
    /// released ([`orphan::release_all`]).
    fn root(sb: &SuperBlock<Rsfs>) -> Result<InodeRef<Rsfs>> {
        let root = inode::root(sb)?;
        orphan::release_all(sb)?;
        Ok(root)
    }

    /// What `statfs(2)` reports.
    fn statfs(sb: &SuperBlock<Rsfs>) -> Result<StatFs> {
        let info = sb.info();
        // Blocks freed since the last sync count as free: only their reuse
        // waits for the sync.
        let (free_blocks, free_inodes) = {
            let a = info.alloc.lock();
            (a.free_blocks, a.free_inodes)
        };
        let uuid = info.disk.uuid;
        Ok(StatFs {
            block_size: format::BLOCK_SIZE as u32,
            blocks: info.geo.blocks_count,
            free_blocks,
            inodes: info.geo.inodes_count,
            free_inodes,
            name_max: format::NAME_MAX as u32,
            fsid: [
                i32::from_le_bytes([uuid[0], uuid[1], uuid[2], uuid[3]]),
                i32::from_le_bytes([uuid[4], uuid[5], uuid[6], uuid[7]]),
            ],
        })
    }

    fn write_inode(inode: &Inode<Rsfs>, sync: bool) -> Result {
        inode::write_inode(inode, sync)
    }

    fn dirty_inode(inode: &Inode<Rsfs>, datasync: bool) {
        inode::dirty_inode(inode, datasync)
    }

    fn evict_inode(inode: Evicting<'_, Rsfs>) {
        inode::evict(inode)
    }

    /// `sync(2)`, `syncfs(2)`, and freezing: by now the VFS has written the
    /// dirty data and inodes; every finished operation's metadata goes to
    /// the disk, and the device's cache is flushed ([`txn::sync`],
    /// [`txn::checkpoint`]).
    /// Shut down, nothing is written, as on ext4 ([`txn::let_go_of_ordered`]).
    fn sync_fs(sb: &SuperBlock<Rsfs>, wait: bool) -> Result {
        if shutdown::is_shut_down(sb) {
            txn::let_go_of_ordered(sb);
            return Ok(());
        }
        // Frozen, nothing may be written (sync(2) still calls this); the
        // freeze left nothing to write.
        if sb.is_read_only() || !wait || sb.is_frozen() {
            return Ok(());
        }
        write_counters(sb)?;
        txn::sync(sb)?;
        // Also the writes home: a filesystem frozen after this has nothing
        // in flight.
        txn::checkpoint(sb)
    }

    /// A freeze (`fsfreeze(8)`, a device snapshot): the VFS has stopped
    /// every change and synced; the journal's last transaction goes home,
    /// the journal is emptied and the disk marked clean, as a remount
    /// read-only leaves it, so that a snapshot taken now mounts without a
    /// replay and fsck.rsfs finds it clean. Shut down, nothing is written.
    fn freeze_fs(sb: &SuperBlock<Rsfs>) -> Result {
        if shutdown::is_shut_down(sb) {
            return Ok(());
        }
        clean_up(sb)?;
        write_superblock(sb, &sb.info(), format::STATE_CLEAN, false)
    }

    /// A thaw: the disk is marked mounted again.
    fn unfreeze_fs(sb: &SuperBlock<Rsfs>) -> Result {
        if shutdown::is_shut_down(sb) {
            return Ok(());
        }
        write_superblock(sb, &sb.info(), format::STATE_DIRTY, false)
    }

    /// Unmount: every inode has been written and evicted; mark the disk
    /// clean. Shut down, nothing is written ([`txn::abandon`]).
    fn put_super(sb: &SuperBlock<Rsfs>) {
        let info = sb.info();
        if sb.is_read_only() {
            return;
        }
        if shutdown::is_shut_down(sb) {
            txn::abandon(sb);
            return;
        }
        // Everything else reaches the disk before the superblock says "clean".
        if clean_up(sb).is_err() || write_superblock(sb, &info, format::STATE_CLEAN, false).is_err()
        {
            sb_err!(sb, "cannot mark the filesystem clean at unmount");
        }
    }

    /// `mount -o remount,ro` and `remount,rw`, as `ext2_reconfigure` does.
    /// Going read-only, everything dirty reaches the disk before the
    /// superblock says "clean"; going read-write, the superblock says
    /// "mounted" before anything else is written. The free counters stay
    /// right across a read-only spell: nothing was allocated or freed.
    /// `norecovery` is for a mount, not a remount (EINVAL), and a mount
    /// without recovery stays read-only (EINVAL), as the journal it did
    /// not replay would be overwritten. A shut-down filesystem goes
    /// neither way (EROFS). `discard`, `nodiscard` and `errors=` change
    /// once the rest has succeeded, and take effect from the next commit
    /// (or the next damage found) on.
    fn remount(sb: &SuperBlock<Rsfs>, read_only: bool, flags: MountFlags) -> Result {
        let info = sb.info();
        if flags.has(NORECOVERY) && !info.norecovery {
            sb_err!(sb, "norecovery is for a mount, not a remount");
            return Err(EINVAL);
        }
        if info.norecovery && !read_only {
            sb_err!(sb, "mounted with norecovery: it stays read-only");
            return Err(EINVAL);
        }
        if read_only != sb.is_read_only() {
            if shutdown::is_shut_down(sb) {
                // As ext4's: neither way, once shut down.
                return Err(EROFS);
            }
            if read_only {
                sb.sync_filesystem()?;
                clean_up(sb)?;
                write_superblock(sb, &info, format::STATE_CLEAN, false)?;
            } else {
                write_superblock(sb, &info, format::STATE_DIRTY, true)?;
            }
        }
        // The options change once the remount cannot fail any more.
        if flags.has(DISCARD) {
            info.discard.store(can_discard(sb), Ordering::Relaxed);
        } else if flags.has_off(DISCARD) {
            info.discard.store(false, Ordering::Relaxed);
        }
        let errors = ERRORS_RO | ERRORS_PANIC;
        if flags.has(errors) || flags.has_off(errors) {
            info.errors.store(errors_of(flags), Ordering::Relaxed);
        }
        if flags.has(DATA_ERR_ABORT) || flags.has_off(DATA_ERR_ABORT) {
            let abort = flags.has(DATA_ERR_ABORT);
            if abort && !info.data_err_abort.load(Ordering::Relaxed) {
                txn::restart_data_errors(sb);
            }
            info.data_err_abort.store(abort, Ordering::Relaxed);
        }
        Ok(())
    }

    /// See [`crate::shutdown`].
    fn is_shut_down(sb: &SuperBlock<Rsfs>) -> bool {
        shutdown::is_shut_down(sb)
    }

    /// `/proc/mounts` says `norecovery` of a mount without recovery, as
    /// ext4's does, `discard` if it is on, `errors=` unless it is
    /// `continue`, and `data_err=abort` if it is on.
    fn flags_in_effect(sb: &SuperBlock<Rsfs>) -> MountFlags {
        let info = sb.info();
        let norecovery = if info.norecovery { NORECOVERY } else { 0 };
        let discard = if info.discard.load(Ordering::Relaxed) {
            DISCARD
        } else {
            0
        };
        let data_err = if info.data_err_abort.load(Ordering::Relaxed) {
            DATA_ERR_ABORT
        } else {
            0
        };
        MountFlags::new(norecovery | discard | data_err | info.errors.load(Ordering::Relaxed))
    }

    fn inode_for_handle(
        sb: &SuperBlock<Rsfs>,
        ino: u64,
        generation: u32,
    ) -> Result<InodeRef<Rsfs>> {
        inode::iget_for_handle(sb, ino, generation)
    }

    fn parent(dir: &Inode<Rsfs>) -> Result<InodeRef<Rsfs>> {
        namei::parent(dir)
    }
}
