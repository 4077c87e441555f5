// SPDX-License-Identifier: GPL-2.0

//! The current task: its word for filesystems, `current->journal_info`,
//! and its capabilities.
//!
//! The kernel gives every task one pointer-sized field that a filesystem
//! may set while the task is inside one of its transactions (jbd2 keeps
//! its handle there), so that a call that comes back into the filesystem
//! on the same task (a page fault, an inode dirtied from within an
//! operation) can see that it is nested. Only the task itself reads or
//! writes it, so no lock is needed; the value is a plain word here, and
//! what it means is the filesystem's business.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h).

use super::sys;

/// The current task's `journal_info`, as a word (0 when unset).
pub(crate) fn fs_marker() -> usize {
    // SAFETY: `current` is always valid in process context, and only the
    // current task touches its own `journal_info`.
    unsafe { sys::rsfs_journal_info() as usize }
}

/// Sets the current task's `journal_info` to `value` (0 clears it).
///
/// Whoever sets it clears it again before returning to the caller that
/// found it clear. Until then the task must not run another filesystem's
/// code: ext4, btrfs and others read the word as a pointer to their own
/// transaction handle when they find it set. (The core kernel never reads
/// it.) A filesystem sets it only inside its own operations, which are
/// `memalloc_nofs` scopes and copy no user memory (see `crate::txn`).
pub(crate) fn set_fs_marker(value: usize) {
    // SAFETY: Only the current task touches its own `journal_info`, and
    // storing a word there is a plain store. What another filesystem would
    // make of it is the caller's obligation, stated above.
    unsafe { sys::rsfs_set_journal_info(value as _) };
}

/// Whether the current task may administer the system
/// (`capable(CAP_SYS_ADMIN)`; the check is audited, as the kernel's is).
pub(crate) fn capable_sys_admin() -> bool {
    // SAFETY: `capable` reads the current task's credentials, which are
    // always valid in process context.
    unsafe { sys::rsfs_capable_sys_admin() }
}

/// Whether the current task has been sent a fatal signal
/// (`fatal_signal_pending(current)`): a long operation stops early.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: `current` is always valid in process context.
    unsafe { sys::rsfs_fatal_signal_pending() }
}
