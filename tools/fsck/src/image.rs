// SPDX-License-Identifier: GPL-2.0

//! Block I/O on the device or image being checked.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use rsfs_format::BLOCK_SIZE;

/// One block's bytes.
pub type Block = Vec<u8>;

/// The device or image file.
pub struct Image {
    file: File,
    writable: bool,
    /// Size of the device in blocks.
    pub device_blocks: u64,
    /// Opened with `O_DIRECT`: reads go past the page cache.
    direct: bool,
    /// Blocks that reads see instead of the disk's: a committed journal
    /// transaction, for a check that changes nothing.
    overlay: RefCell<HashMap<u64, Block>>,
}

impl Image {
    /// Opens `path`, for writing only if `writable`.
    pub fn open(path: &Path, writable: bool) -> Result<Self> {
        Self::open_with(path, writable, false)
    }

    /// Opens a device read-only with `O_DIRECT`: reads see what the device
    /// holds, not what the page cache keeps of it (for a look at a mounted
    /// filesystem's disk, whose cache the kernel may have bypassed).
    pub fn open_direct(path: &Path) -> Result<Self> {
        Self::open_with(path, false, true)
    }

    fn open_with(path: &Path, writable: bool, direct: bool) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(writable)
            .custom_flags(if direct { libc::O_DIRECT } else { 0 })
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let size = file
            .seek(SeekFrom::End(0))
            .context("finding the device size")?;
        if writable {
            // A write error that happened on the device before we opened it
            // (the kernel's, while the filesystem was mounted) and that
            // nobody has seen yet is reported by the first fsync of any
            // new opener. It is not ours: take it here, so that a failed
            // fsync later means that fsck's own writes did not land.
            let _ = file.sync_all();
        }
        Ok(Self {
            file,
            writable,
            device_blocks: size / BLOCK_SIZE as u64,
            direct,
            overlay: RefCell::new(HashMap::new()),
        })
    }

    /// Reads block `n`.
    pub fn read(&self, n: u64) -> Result<Block> {
        self.read_run(n, 1)
    }

    /// Reads `count` blocks from block `n` in one request: for the large
    /// regions (the inode table) read block by block, the syscalls cost
    /// more than the reading, most of all in a VM without KVM.
    pub fn read_run(&self, n: u64, count: u64) -> Result<Vec<u8>> {
        let len = count as usize * BLOCK_SIZE;
        let mut b = vec![0u8; len];
        let context = || format!("reading {count} block(s) from block {n}");
        if self.direct {
            // O_DIRECT wants a buffer aligned to the block.
            let mut raw = vec![0u8; len + BLOCK_SIZE];
            let off = raw.as_ptr().align_offset(BLOCK_SIZE);
            let aligned = &mut raw[off..off + len];
            self.file
                .read_exact_at(aligned, n * BLOCK_SIZE as u64)
                .with_context(context)?;
            b.copy_from_slice(aligned);
        } else {
            self.file
                .read_exact_at(&mut b, n * BLOCK_SIZE as u64)
                .with_context(context)?;
        }
        let overlay = self.overlay.borrow();
        if !overlay.is_empty() {
            for (i, chunk) in b.chunks_mut(BLOCK_SIZE).enumerate() {
                if let Some(over) = overlay.get(&(n + i as u64)) {
                    chunk.copy_from_slice(over);
                }
            }
        }
        Ok(b)
    }

    /// Makes reads of block `n` see `b` instead of the disk's bytes.
    pub fn lay_over(&self, n: u64, b: Block) {
        self.overlay.borrow_mut().insert(n, b);
    }

    /// Writes block `n`. Only for an image opened writable.
    pub fn write(&self, n: u64, b: &[u8]) -> Result<()> {
        assert!(self.writable, "write to a read-only check");
        self.file
            .write_all_at(b, n * BLOCK_SIZE as u64)
            .with_context(|| format!("writing block {n}"))
    }

    /// Makes the writes durable.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_all().context("syncing the device")
    }
}

/// Standard CRC-32C, as the format's checksums use it.
pub fn crc(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}
