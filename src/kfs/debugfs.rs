// SPDX-License-Identifier: GPL-2.0

//! Per-mount counters, published in debugfs as
//! `/sys/kernel/debug/<fs type>/<device>/<counter>`.
//!
//! C header: [`include/linux/debugfs.h`](srctree/include/linux/debugfs.h).

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;

use super::{registration::FsTypeStorage, sys, FileSystem, SuperBlock};

/// A set of named counters, readable in debugfs.
///
/// # Invariants
///
/// `dir` is null, an error pointer, or a debugfs directory whose files
/// point into `values`' heap buffer, which never moves and outlives them:
/// `Drop` removes the directory before the buffer is freed.
pub(crate) struct Counters {
    values: KVec<AtomicU64>,
    dir: *mut sys::dentry,
}

// SAFETY: The counters are atomics, and the directory is only touched at
// creation and in `Drop`.
unsafe impl Send for Counters {}
// SAFETY: As above.
unsafe impl Sync for Counters {}

impl Counters {
    /// Counters named `names` for superblock `sb`, published in the
    /// directory of its filesystem type
    /// ([`FileSystem::DEBUGFS_DIR`](super::FileSystem::DEBUGFS_DIR)). If
    /// the type has none, or debugfs cannot take them, they still count;
    /// they are just not published.
    pub(crate) fn new<T: FileSystem, S>(
        sb: &SuperBlock<T, S>,
        names: &[&'static CStr],
    ) -> Result<Self> {
        let mut values = KVec::with_capacity(names.len(), GFP_KERNEL)?;
        for _ in names {
            values.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        let root = FsTypeStorage::debugfs_root_of(sb);
        if root.is_null() {
            // INVARIANT: No directory.
            return Ok(Self { values, dir: root });
        }
        // SAFETY: `root` is the filesystem type's debugfs directory (or an
        // error pointer, which debugfs accepts as a parent and ignores);
        // `s_id` is a string.
        let dir = unsafe { sys::debugfs_create_dir((*sb.as_raw()).s_id.as_ptr(), root) };
        for (name, value) in names.iter().zip(values.iter()) {
            // SAFETY: `value` lives in `values`' buffer until `Drop` has
            // removed `dir` (type invariant).
            unsafe { sys::debugfs_create_u64(name.as_char_ptr(), 0o444, dir, value.as_ptr()) };
        }
        // INVARIANT: The files point into `values`, which we keep.
        Ok(Self { values, dir })
    }

    /// Adds `n` to counter `i`.
    pub(crate) fn add(&self, i: usize, n: u64) {
        if let Some(v) = self.values.get(i) {
            v.fetch_add(n, Ordering::Relaxed);
        }
    }
}

impl Drop for Counters {
    fn drop(&mut self) {
        // SAFETY: Removes the files before `values` is freed; null and
        // error pointers are accepted.
        unsafe { sys::debugfs_remove(self.dir) };
    }
}
