// SPDX-License-Identifier: GPL-2.0

//! The orphan list: inodes that have lost their last name but still have a
//! user (a file unlinked while open, an `O_TMPFILE` file not yet linked).
//! Their space is freed only when the last user lets go (`evict_inode`), so
//! a power cut before then would leave it allocated and named by nobody.
//! Each such inode therefore joins a list on disk, in the transaction that
//! took its last name: the superblock's `orphan_head` names the first, and
//! each inode's `orphan_next` the next. It leaves the list in the
//! transaction that frees it, or when it gets a name again (`link` of an
//! `O_TMPFILE` file). The mount after a cut releases every inode left on
//! the list ([`release_all`]), as ext4's `ext4_orphan_cleanup` does.
//!
//! On disk the list is singly linked; to find an inode's predecessor, the
//! mount keeps the list in memory as well ([`Orphans`]).

use kernel::prelude::*;

use crate::{
    inode,
    kfs::{self, sb_err, SuperBlock},
    super_, Rsfs,
};

/// The orphan list in memory, in the same order as on disk; protected by
/// `Info::orphans`, which is held across every change to the list on disk.
pub(crate) struct Orphans {
    /// The inodes on the list, the last one first and the head last (a new
    /// orphan becomes the head, and `KVec` only grows at its end). 0 marks
    /// an inode that has left.
    chain: KVec<u64>,
}

impl Orphans {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self { chain: KVec::new() }
    }

    fn position(&self, ino: u64) -> Option<usize> {
        self.chain.iter().position(|&i| i == ino)
    }

    /// The inode after the one at `at` on the list (0 at the end).
    fn next_of(&self, at: usize) -> u64 {
        self.chain[..at]
            .iter()
            .rev()
            .copied()
            .find(|&i| i != 0)
            .unwrap_or(0)
    }

    /// The inode before the one at `at` (`None` for the head, which the
    /// superblock names).
    fn prev_of(&self, at: usize) -> Option<u64> {
        self.chain[at + 1..].iter().copied().find(|&i| i != 0)
    }

    /// The head of the list (0 if it is empty).
    fn head(&self) -> u64 {
        self.next_of(self.chain.len())
    }
}

/// Inode `ino` has no name left but still has a user: it joins the list,
/// in the running transaction. Nothing is changed if it cannot.
pub(crate) fn add(sb: &SuperBlock<Rsfs>, ino: u64) -> Result {
    let info = sb.info();
    let mut list = info.orphans.lock();
    if list.position(ino).is_some() {
        return Ok(());
    }
    // Room first, so that the list in memory cannot miss an inode that
    // the disk's has.
    list.chain.reserve(1, GFP_KERNEL)?;
    inode::set_orphan_next(sb, ino, list.head())?;
    super_::set_orphan_head(sb, ino)?;
    list.chain.push(ino, GFP_KERNEL)?;
    Ok(())
}

/// Inode `ino` leaves the list (if it is on it): freed, or named again.
pub(crate) fn remove(sb: &SuperBlock<Rsfs>, ino: u64) -> Result {
    let info = sb.info();
    let mut list = info.orphans.lock();
    let Some(at) = list.position(ino) else {
        return Ok(());
    };
    let next = list.next_of(at);
    match list.prev_of(at) {
        None => super_::set_orphan_head(sb, next)?,
        Some(prev) => inode::set_orphan_next(sb, prev, next)?,
    }
    inode::set_orphan_next(sb, ino, 0)?;
    list.chain[at] = 0;
    if list.chain.iter().all(|&i| i == 0) {
        list.chain = KVec::new();
    }
    Ok(())
}

/// At mount, read-write: releases every inode a power cut left on the list.
///
/// An inode on it that has links (damage: the kernel takes every inode off
/// the list before it gets a name) is passed over and taken off. A link
/// that names no inode in use, or a loop, ends the walk: what follows is
/// left for `fsck.rsfs`.
pub(crate) fn release_all(sb: &SuperBlock<Rsfs>) -> Result {
    let info = sb.info();
    let mut ino = info.disk.orphan_head.get();
    if ino == 0 || sb.is_read_only() {
        return Ok(());
    }
    let mut walk = KVec::new();
    // A bit per inode met: a loop shows at once, and a list of 50,000
    // (fstests generic/530) is not searched 50,000 times over.
    let words = (info.geo.inodes_count / 64 + 1) as usize;
    let mut seen = KVVec::with_capacity(words, GFP_KERNEL)?;
    for _ in 0..words {
        seen.push(0u64, GFP_KERNEL)?;
    }
    while ino != 0 {
        kfs::cond_resched();
        let (word, bit) = ((ino / 64) as usize, 1u64 << (ino % 64));
        if let Some(w) = seen.get_mut(word) {
            if *w & bit != 0 {
                sb_err!(sb, "orphan list: a loop at inode {}", ino);
                break;
            }
            *w |= bit;
        }
        let Some((next, links)) = inode::orphan_link(sb, ino)? else {
            sb_err!(sb, "orphan list: inode {} is not in use", ino);
            break;
        };
        if links == 0 {
            walk.push(ino, GFP_KERNEL)?;
        } else {
            inode::set_orphan_next(sb, ino, 0)?;
        }
        ino = next;
    }
    let count = walk.len();
    // The list on disk is written again as found: the head, then each
    // orphan's link to the next.
    super_::set_orphan_head(sb, walk.first().copied().unwrap_or(0))?;
    for (k, &o) in walk.iter().enumerate() {
        inode::set_orphan_next(sb, o, walk.get(k + 1).copied().unwrap_or(0))?;
    }
    // The head last, as `Orphans` keeps it.
    walk.reverse();
    info.orphans.lock().chain = walk;
    let mut released = 0;
    let mut last = 0;
    loop {
        // Each release is an eviction, and there may be many.
        kfs::cond_resched();
        let head = info.orphans.lock().head();
        if head == 0 {
            break;
        }
        if head == last {
            // Its eviction could not take it off the list (the error is
            // in the log already): the rest is fsck's.
            remove(sb, head)?;
            continue;
        }
        last = head;
        // The last reference goes at the end of the iteration: with no
        // links, the inode is evicted, which frees it and takes it off
        // the list.
        match inode::iget_orphan(sb, head) {
            Ok(_orphan) => released += 1,
            Err(e) => {
                sb_err!(
                    sb,
                    "orphan list: cannot read inode {} (error {}); left for fsck.rsfs",
                    head,
                    e.to_errno()
                );
                remove(sb, head)?;
            }
        }
    }
    pr_info!(
        "rsfs ({}): released {} of {} orphan inodes\n",
        sb.id(),
        released,
        count
    );
    Ok(())
}
