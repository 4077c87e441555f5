// SPDX-License-Identifier: GPL-2.0

//! Shutting a mounted filesystem down (`FS_IOC_SHUTDOWN`, ext4's
//! `EXT4_IOC_SHUTDOWN`; fstests' `godown` and `xfs_io -c shutdown` send it).
//! It is a power cut that the rest of the system survives: from then on,
//! rsfs writes nothing more to the disk, and each call that would change
//! the filesystem, read file data or open a file fails with EIO, until the
//! unmount. The next mount finds the disk as a power cut at that moment
//! would have left it, and replays what the journal committed. fstests'
//! crash tests use it to check what fsync promised.
//!
//! The three ways to go down are ext4's (`ext4_force_shutdown`):
//! - [`GOING_FLAGS_DEFAULT`]: first everything dirty is written and
//!   committed, as `syncfs(2)` would;
//! - [`GOING_FLAGS_LOGFLUSH`]: first the running transaction is committed,
//!   with the data it orders before it, but no other data;
//! - [`GOING_FLAGS_NOLOGFLUSH`]: at once.
//!
//! Where the checks are, as in ext4: every transaction handle
//! ([`txn::begin`]) and sync ([`txn::sync`]), and at the start of the calls
//! that ext4 refuses without one (open, read, write, mmap, fsync,
//! setattr, writepages). The writes home of a commit made before the
//! shutdown may still be in flight; they repeat what the log holds, so
//! they are not taken back. The unmount writes nothing: the superblock
//! still says "mounted".
//!
//! Damage found on the disk shuts the filesystem down the same way on a
//! mount with `errors=remount-ro` ([`damaged`]), as ext4 does in 6.12.

use core::sync::atomic::Ordering;

use kernel::{c_str, prelude::*};

use crate::{
    kfs::{
        self,
        ioctl::{GOING_FLAGS_DEFAULT, GOING_FLAGS_LOGFLUSH, GOING_FLAGS_NOLOGFLUSH},
        task, SuperBlock,
    },
    super_::{ERRORS_PANIC, ERRORS_RO},
    txn, Rsfs,
};

/// Shuts the filesystem down, the way `how` says. EPERM without
/// CAP_SYS_ADMIN, EINVAL for an unknown `how`; a filesystem already shut
/// down stays so (0). With [`GOING_FLAGS_DEFAULT`], an error writing
/// what is dirty is returned, and the filesystem is not shut down.
pub(crate) fn shut_down(sb: &SuperBlock<Rsfs>, how: u32) -> Result {
    if !task::capable_sys_admin() {
        return Err(EPERM);
    }
    if how > GOING_FLAGS_NOLOGFLUSH {
        return Err(EINVAL);
    }
    if is_shut_down(sb) {
        return Ok(());
    }
    kernel::pr_notice!("{}: shut down requested ({})\n", sb.id(), how);
    match how {
        GOING_FLAGS_DEFAULT => sb.syncfs()?,
        GOING_FLAGS_LOGFLUSH => {
            // As ext4's: a commit that fails leaves what the last one did.
            let _ = txn::sync(sb);
        }
        _ => {}
    }
    sb.info().shut_down.store(true, Ordering::Release);
    // A sync that was past its own check commits what it has (whole
    // operations, with their data: see `txn::sync`); this returns once it
    // is done, so that nothing is written after.
    txn::wait_for_sync(sb);
    Ok(())
}

/// Whether the filesystem has been shut down.
pub(crate) fn is_shut_down(sb: &SuperBlock<Rsfs>) -> bool {
    sb.info().shut_down.load(Ordering::Acquire)
}

/// EIO if the filesystem has been shut down: for the calls that then
/// fail.
pub(crate) fn alive(sb: &SuperBlock<Rsfs>) -> Result {
    if is_shut_down(sb) {
        return Err(EIO);
    }
    Ok(())
}

/// A commit found that a write of file data failed since the last one
/// (`err`), on a mount with `data_err=abort`: the filesystem shuts down
/// before the commit, as ext4 aborts its journal, so that no commit names
/// blocks whose data the device did not take. The disk stays as the last
/// commit left it; the sync, and every call after, gets EIO.
pub(crate) fn data_write_failed(sb: &SuperBlock<Rsfs>, err: Error) -> Error {
    if !sb.info().shut_down.swap(true, Ordering::AcqRel) {
        kernel::pr_err!(
            "{}: file data write error {} (data_err=abort): shut down; nothing more is written\n",
            sb.id(),
            err.to_errno()
        );
    }
    EIO
}

/// Damage found on the disk, and already reported where it was found:
/// the error for the call that found it (EUCLEAN), once the mount's
/// `errors=` option has done its part. `errors=continue`, the default,
/// goes on; `errors=remount-ro` shuts the filesystem down, as ext4 6.12
/// does (rather than set the read-only flag, which needs `s_umount`): a
/// filesystem found damaged writes nothing more, and so spreads nothing.
/// `errors=panic` panics. A read-only mount is not shut down.
pub(crate) fn damaged(sb: &SuperBlock<Rsfs>) -> Error {
    let info = sb.info();
    let errors = info.errors.load(Ordering::Relaxed);
    if errors & ERRORS_PANIC != 0 {
        sb.panic(c_str!("damage found on the disk (errors=panic)"));
    }
    // A read-only mount writes nothing anyway, and stays readable, as
    // ext4's (`ext4_handle_error`).
    if errors & ERRORS_RO != 0 && !sb.is_read_only() && !info.shut_down.swap(true, Ordering::AcqRel)
    {
        // Once per mount, so not under the damage reports' rate limit.
        kernel::pr_err!(
            "{}: damage found (errors=remount-ro): shut down; nothing more is written\n",
            sb.id()
        );
    }
    kfs::efscorrupted()
}
