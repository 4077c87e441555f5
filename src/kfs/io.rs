// SPDX-License-Identifier: GPL-2.0

//! What file I/O is given: a request ([`Kiocb`]) and its user buffers
//! ([`IovIter`]), the modes of `fallocate(2)` ([`Fallocate`]) and the
//! extent list of `FS_IOC_FIEMAP` ([`Fiemap`]); and the VFS's generic I/O
//! helpers (`generic_write_checks`, `__generic_file_write_iter`,
//! `generic_write_sync`, `generic_file_read_iter`), which a filesystem's
//! `read_iter` and `write_iter` are composed of.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use kernel::prelude::*;

use core::marker::PhantomData;

use super::{
    lock::{InodeGuard, InodeSharedGuard},
    sys, FsData, Inode,
};

/// An open file (`struct file`), borrowed for one call.
///
/// # Invariants
///
/// The wrapped file is valid for the lifetime of `&File`.
#[repr(transparent)]
pub(crate) struct File(kernel::types::Opaque<sys::file>);

impl File {
    /// # Safety
    ///
    /// `file` must be valid for `'a`.
    pub(super) unsafe fn from_raw<'a>(file: *mut sys::file) -> &'a Self {
        // SAFETY: `File` is a transparent wrapper; the caller guarantees
        // validity for `'a`.
        unsafe { &*file.cast() }
    }

    /// The C `struct file`.
    pub(super) fn as_raw(&self) -> *mut sys::file {
        self.0.get()
    }

    /// Updates the file's modification and change times, as a write does
    /// (`file_update_time`). A failure to note the time is not the
    /// writer's: like the kernel's own callers in fault paths, it is
    /// ignored.
    pub(crate) fn update_time(&self) {
        // SAFETY: The file is valid (type invariant).
        unsafe { sys::file_update_time(self.0.get()) };
    }

    /// Whether the file was opened `O_SYNC` or `O_DSYNC`: what it changes
    /// is to be durable when the call returns.
    pub(crate) fn is_sync(&self) -> bool {
        // SAFETY: The file is valid (type invariant); `f_flags` is read as
        // the VFS reads it.
        unsafe { sys::rsfs_file_is_sync(self.0.get()) }
    }

    /// Notes a change of the file by a write-like operation: updates its
    /// times and drops its setuid bits (`file_modified`), under its lock.
    pub(crate) fn modified<T: FsData>(&self, lock: &InodeGuard<'_, T>) -> Result {
        // SAFETY: The file is valid (type invariant).
        if !lock.locks(unsafe { sys::rsfs_file_inode(self.0.get()) }) {
            return Err(EINVAL);
        }
        // SAFETY: The file is valid (type invariant), and its inode locked,
        // as the guard shows.
        kernel::error::to_result(unsafe { sys::file_modified(self.0.get()) })
    }

    /// Writes and waits for the file's dirty page cache in bytes
    /// `start..=end`, and reports a writeback error that this open file
    /// has not seen yet (errseq: once per open file description).
    pub(crate) fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: The file is valid (type invariant).
        kernel::error::to_result(unsafe {
            sys::file_write_and_wait_range(self.0.get(), start, end)
        })
    }
}

/// The modes of `fallocate(2)` that
/// [`Operations::fallocate`](super::file::Operations::fallocate) is given;
/// the others get EOPNOTSUPP.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallocate {
    /// Mode 0 or FALLOC_FL_KEEP_SIZE: disk space for the range, read as
    /// zeroes where it was a hole; the file grows unless `keep_size`.
    Allocate {
        /// FALLOC_FL_KEEP_SIZE.
        keep_size: bool,
    },
    /// FALLOC_FL_PUNCH_HOLE (always with FALLOC_FL_KEEP_SIZE): the range
    /// becomes a hole.
    PunchHole,
    /// FALLOC_FL_ZERO_RANGE: the range reads as zeroes, with disk space;
    /// the file grows unless `keep_size`.
    ZeroRange {
        /// FALLOC_FL_KEEP_SIZE.
        keep_size: bool,
    },
    /// FALLOC_FL_COLLAPSE_RANGE (alone): the range goes, and the rest of
    /// the file moves down over it; the file shrinks by its length.
    CollapseRange,
    /// FALLOC_FL_INSERT_RANGE (alone): a hole of the range's length comes
    /// in at its start, and the rest of the file moves up; the file grows.
    InsertRange,
}

impl Fallocate {
    /// The mode for `fallocate(2)`'s `mode` flags, if it is one of these.
    /// The VFS has already refused PUNCH_HOLE without KEEP_SIZE.
    pub(super) fn from_flags(mode: u32) -> Option<Self> {
        let keep_size = mode & sys::FALLOC_FL_KEEP_SIZE != 0;
        match mode & !sys::FALLOC_FL_KEEP_SIZE {
            0 => Some(Self::Allocate { keep_size }),
            m if m == sys::RSFS_FALLOC_FL_PUNCH_HOLE as u32 => Some(Self::PunchHole),
            m if m == sys::RSFS_FALLOC_FL_ZERO_RANGE as u32 => Some(Self::ZeroRange { keep_size }),
            // The VFS takes these only alone.
            m if m == sys::RSFS_FALLOC_FL_COLLAPSE_RANGE as u32 => Some(Self::CollapseRange),
            m if m == sys::RSFS_FALLOC_FL_INSERT_RANGE as u32 => Some(Self::InsertRange),
            _ => None,
        }
    }
}

/// The extent list of one `FS_IOC_FIEMAP` call, which
/// [`super::inode_ops::Operations::fiemap`] fills.
///
/// # Invariants
///
/// The wrapped `fiemap_extent_info` is valid, and `fiemap_prep` has
/// accepted it, for the lifetime `'a`.
pub(crate) struct Fiemap<'a>(
    *mut sys::fiemap_extent_info,
    core::marker::PhantomData<&'a ()>,
);

impl Fiemap<'_> {
    /// # Safety
    ///
    /// `fieinfo` must be valid, and accepted by `fiemap_prep`, for `'a`.
    pub(super) unsafe fn from_raw<'a>(fieinfo: *mut sys::fiemap_extent_info) -> Fiemap<'a> {
        // INVARIANT: Guaranteed by the caller.
        Fiemap(fieinfo, core::marker::PhantomData)
    }

    /// Reports file bytes `logical..logical + len` at disk byte `physical`;
    /// `last` marks the file's last extent, `unwritten` one allocated but
    /// not written (FIEMAP_EXTENT_UNWRITTEN). Returns whether the caller's
    /// array is now full, in which case the walk stops. Copies to user
    /// memory, which may fault: the caller must hold no lock that a page
    /// fault on the file takes.
    pub(crate) fn fill(
        &mut self,
        logical: u64,
        physical: u64,
        len: u64,
        last: bool,
        unwritten: bool,
    ) -> Result<bool> {
        let flags = if last { sys::FIEMAP_EXTENT_LAST } else { 0 }
            | if unwritten {
                sys::FIEMAP_EXTENT_UNWRITTEN
            } else {
                0
            };
        // SAFETY: `self.0` is valid and prepared (type invariant).
        let r = unsafe { sys::fiemap_fill_next_extent(self.0, logical, physical, len, flags) };
        kernel::error::to_result(r)?;
        Ok(r == 1)
    }
}

/// An I/O request on an open file of filesystem `T` (`struct kiocb`),
/// borrowed for one call.
///
/// # Invariants
///
/// `0` is valid, and its file is an open file of `T`, for `'a`.
pub(crate) struct Kiocb<'a, T: FsData>(*mut sys::kiocb, PhantomData<(&'a mut (), T)>);

impl<'a, T: FsData> Kiocb<'a, T> {
    /// # Safety
    ///
    /// `iocb` must be valid, of an open file of `T`, and not used by anyone
    /// else for `'a`.
    pub(super) unsafe fn from_raw(iocb: *mut sys::kiocb) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Kiocb(iocb, PhantomData)
    }

    pub(super) fn as_raw(&mut self) -> *mut sys::kiocb {
        self.0
    }

    /// The inode of the request's file, which lives while the request does.
    pub(crate) fn inode(&self) -> &'a Inode<T> {
        // SAFETY: The file is open and of `T` (type invariant), so its inode
        // is a live, initialised inode of `T`.
        unsafe { Inode::from_raw(sys::rsfs_kiocb_inode(self.0)) }
    }

    /// The file position of the request, in bytes.
    pub(crate) fn pos(&self) -> u64 {
        // SAFETY: The request is valid and ours (type invariant).
        unsafe { (*self.0).ki_pos as u64 }
    }

    /// Whether this is direct I/O (`O_DIRECT`, `IOCB_DIRECT`).
    pub(crate) fn is_direct(&self) -> bool {
        // SAFETY: The request is valid (type invariant).
        unsafe { sys::rsfs_kiocb_is_direct(self.0) }
    }
}

/// The user buffers of an I/O request (`struct iov_iter`), borrowed for one
/// call.
///
/// # Invariants
///
/// `0` is valid for `'a`.
pub(crate) struct IovIter<'a>(*mut sys::iov_iter, PhantomData<&'a mut ()>);

impl IovIter<'_> {
    /// # Safety
    ///
    /// `iter` must be valid and not used by anyone else for `'a`.
    pub(super) unsafe fn from_raw<'a>(iter: *mut sys::iov_iter) -> IovIter<'a> {
        // INVARIANT: Guaranteed by the caller.
        IovIter(iter, PhantomData)
    }

    pub(super) fn as_raw(&mut self) -> *mut sys::iov_iter {
        self.0
    }

    /// The bytes left in the request.
    pub(crate) fn count(&self) -> usize {
        // SAFETY: The iterator is valid (type invariant).
        unsafe { sys::rsfs_iov_iter_count(self.0) }
    }

    /// Whether the request writes to the file (and reads these buffers).
    pub(crate) fn is_write(&self) -> bool {
        // SAFETY: The iterator is valid (type invariant).
        unsafe { sys::rsfs_iter_is_write(self.0) }
    }
}

/// Page-cache operations that the VFS's generic helpers call unchecked.
#[derive(Clone, Copy)]
pub(super) enum Needs {
    /// `read_folio` (buffered reads, and faults).
    Read,
    /// `write_begin` and `write_end` (buffered writes).
    Write,
    /// `direct_IO`.
    Direct,
}

/// Whether the page-cache operations of `file`'s mapping have what
/// `needs` says: a file whose mapping lacks them gets EINVAL from the
/// helpers below, not a call through a null pointer.
///
/// # Safety
///
/// `file` must be valid.
pub(super) unsafe fn has_aops(file: *mut sys::file, needs: Needs) -> bool {
    // SAFETY: `file` is valid, as the caller guarantees, and so are its
    // mapping and that mapping's operations table (the VFS's `empty_aops`
    // when the filesystem set none).
    let a = unsafe { &*(*(*file).f_mapping).a_ops };
    match needs {
        Needs::Read => a.read_folio.is_some(),
        Needs::Write => a.write_begin.is_some() && a.write_end.is_some(),
        Needs::Direct => a.direct_IO.is_some(),
    }
}

impl<T: FsData> Kiocb<'_, T> {
    /// Whether the request's file has the page-cache operations that the
    /// generic read (`write`: write) path will call.
    fn has_aops_for(&mut self, write: bool) -> bool {
        let buffered = if write { Needs::Write } else { Needs::Read };
        let direct = self.is_direct();
        // SAFETY: The request is valid (type invariant), so is its file.
        let file = unsafe { (*self.as_raw()).ki_filp };
        // SAFETY: `file` is valid, as just said. Direct I/O that stops short
        // goes on buffered (`generic_file_read_iter`,
        // `__generic_file_write_iter`), so it needs both.
        unsafe { has_aops(file, buffered) && (!direct || has_aops(file, Needs::Direct)) }
    }
}

/// Maps an `ssize_t` result of the VFS to a byte count or an error.
fn bytes(ret: isize) -> Result<usize> {
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// The VFS's checks of a write (`generic_write_checks`): limits, `O_APPEND`
/// (which moves the position to the end), and the file size limit, which
/// may shorten `from`. Returns the bytes to write; 0 means nothing to do.
pub(crate) fn generic_write_checks<T: FsData>(
    iocb: &mut Kiocb<'_, T>,
    from: &mut IovIter<'_>,
    lock: &InodeGuard<'_, T>,
) -> Result<usize> {
    if !lock.locks(iocb.inode().as_raw()) {
        return Err(EINVAL);
    }
    // SAFETY: Both are valid and ours (type invariants), and the inode is
    // locked, as the guard shows.
    bytes(unsafe { sys::generic_write_checks(iocb.as_raw(), from.as_raw()) })
}

/// The VFS's write of a locked file (`__generic_file_write_iter`): direct
/// I/O through the `direct_IO` operation, falling back to buffered writes
/// through `write_begin`/`write_end`. It does not sync `O_SYNC`/`O_DSYNC`
/// writes: see [`generic_write_sync`].
pub(crate) fn generic_file_write_iter_locked<T: FsData>(
    iocb: &mut Kiocb<'_, T>,
    from: &mut IovIter<'_>,
    lock: &InodeGuard<'_, T>,
) -> Result<usize> {
    if !lock.locks(iocb.inode().as_raw()) || !iocb.has_aops_for(true) {
        return Err(EINVAL);
    }
    // SAFETY: Both are valid and ours (type invariants), and the inode is
    // locked, as the guard shows and the function requires; the mapping
    // has the operations it calls (checked above).
    bytes(unsafe { sys::__generic_file_write_iter(iocb.as_raw(), from.as_raw()) })
}

/// [`generic_file_write_iter_locked`] on the first `max` bytes of `from`
/// only; the rest stays in `from`, for the next call.
pub(crate) fn generic_file_write_iter_locked_max<T: FsData>(
    iocb: &mut Kiocb<'_, T>,
    from: &mut IovIter<'_>,
    lock: &InodeGuard<'_, T>,
    max: usize,
) -> Result<usize> {
    let count = from.count();
    if max >= count {
        return generic_file_write_iter_locked(iocb, from, lock);
    }
    // SAFETY: The iterator is valid and ours (type invariant).
    unsafe { sys::rsfs_iov_iter_truncate(from.as_raw(), max) };
    let result = generic_file_write_iter_locked(iocb, from, lock);
    let left = from.count();
    // SAFETY: As above; what is given back is what was held back, so the
    // count stays within the buffers.
    unsafe { sys::rsfs_iov_iter_reexpand(from.as_raw(), left + (count - max)) };
    result
}

/// Syncs `written` bytes just written at the request's position if the
/// file or the request asks for it (`O_SYNC`, `O_DSYNC`, `RWF_*SYNC`), with
/// the filesystem's `fsync` (`generic_write_sync`). Called without the
/// inode lock, which `fsync` does not expect.
pub(crate) fn generic_write_sync<T: FsData>(
    iocb: &mut Kiocb<'_, T>,
    written: usize,
) -> Result<usize> {
    // SAFETY: The request is valid and ours (type invariant).
    bytes(unsafe { sys::rsfs_generic_write_sync(iocb.as_raw(), written as isize) })
}

/// The VFS's read (`generic_file_read_iter`): buffered through the page
/// cache, or direct through the `direct_IO` operation.
pub(crate) fn generic_file_read_iter<T: FsData>(
    iocb: &mut Kiocb<'_, T>,
    to: &mut IovIter<'_>,
) -> Result<usize> {
    if !iocb.has_aops_for(false) {
        return Err(EINVAL);
    }
    // SAFETY: Both are valid and ours (type invariants), and the mapping
    // has the operations it calls (checked above).
    bytes(unsafe { sys::generic_file_read_iter(iocb.as_raw(), to.as_raw()) })
}

/// The VFS's direct read, under the inode lock held shared (the same as
/// [`generic_file_read_iter`]; the guard shows that it is held).
pub(crate) fn generic_file_read_iter_shared<T: FsData>(
    iocb: &mut Kiocb<'_, T>,
    to: &mut IovIter<'_>,
    lock: &InodeSharedGuard<'_, T>,
) -> Result<usize> {
    if !lock.locks(iocb.inode().as_raw()) {
        return Err(EINVAL);
    }
    generic_file_read_iter(iocb, to)
}
