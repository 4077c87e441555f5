// SPDX-License-Identifier: GPL-2.0

//! Open files (`struct file`) and the `file_operations` of regular files.
//!
//! `write_iter` takes the inode lock and runs the VFS's
//! `__generic_file_write_iter`, which reaches the filesystem through its
//! `address_space_operations` (see [`super::address_space`]).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use kernel::{error::from_result, prelude::*};

use super::{fs_type::Tables, sys, FileSystem, Inode};

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

    /// Updates the file's modification and change times, as a write does
    /// (`file_update_time`). A failure to note the time is not the
    /// writer's: like the kernel's own callers in fault paths, it is
    /// ignored.
    pub(crate) fn update_time(&self) {
        // SAFETY: The file is valid (type invariant).
        unsafe { sys::file_update_time(self.0.get()) };
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

/// The modes of `fallocate(2)` that [`FileSystem::fallocate`] is given;
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
}

impl Fallocate {
    /// The mode for `fallocate(2)`'s `mode` flags, if it is one of these.
    /// The VFS has already refused PUNCH_HOLE without KEEP_SIZE.
    fn from_flags(mode: u32) -> Option<Self> {
        let keep_size = mode & sys::FALLOC_FL_KEEP_SIZE != 0;
        match mode & !sys::FALLOC_FL_KEEP_SIZE {
            0 => Some(Self::Allocate { keep_size }),
            m if m == sys::RSFS_FALLOC_FL_PUNCH_HOLE as u32 => Some(Self::PunchHole),
            m if m == sys::RSFS_FALLOC_FL_ZERO_RANGE as u32 => Some(Self::ZeroRange { keep_size }),
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
    /// `last` marks the file's last extent. Returns whether the caller's
    /// array is now full, in which case the walk stops. Copies to user
    /// memory, which may fault: the caller must hold no lock that a page
    /// fault on the file takes.
    pub(crate) fn fill(
        &mut self,
        logical: u64,
        physical: u64,
        len: u64,
        last: bool,
    ) -> Result<bool> {
        let flags = if last { sys::FIEMAP_EXTENT_LAST } else { 0 };
        // SAFETY: `self.0` is valid and prepared (type invariant).
        let r = unsafe { sys::fiemap_fill_next_extent(self.0, logical, physical, len, flags) };
        kernel::error::to_result(r)?;
        Ok(r == 1)
    }
}

impl<T: FileSystem> Tables<T> {
    pub(super) const REG_FILE_OPS: sys::file_operations = sys::file_operations {
        open: Some(Self::open),
        llseek: Some(Self::llseek),
        read_iter: Some(Self::read_iter),
        fallocate: Some(Self::fallocate),
        write_iter: Some(Self::write_iter),
        mmap: Some(Self::mmap),
        splice_read: Some(sys::filemap_splice_read),
        // splice(2) and sendfile(2) into a file, and copy_file_range(2)
        // (which the VFS does with splice): through `write_iter`.
        splice_write: Some(sys::iter_file_splice_write),
        fsync: Some(Self::file_fsync),
        // SAFETY: All-zero is a valid `file_operations`.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// `write_iter`: the buffered (and direct) write. The VFS's
    /// `__generic_file_write_iter` does the work under the inode lock; as
    /// its comment says, it does not sync O_SYNC/O_DSYNC writes, so this
    /// calls `generic_write_sync` after dropping the lock.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid kiocb and iterator.
    unsafe extern "C" fn write_iter(iocb: *mut sys::kiocb, from: *mut sys::iov_iter) -> isize {
        // SAFETY: `iocb` and `from` are valid and `iocb`'s file is an open
        // file of `T`, as the caller guarantees, so its inode is live. The
        // inode lock is taken and released around the write, as
        // `generic_file_write_iter` does, and `__generic_file_write_iter`
        // requires it.
        unsafe {
            let inode = sys::rsfs_kiocb_inode(iocb);
            sys::rsfs_inode_lock(inode);
            let mut ret = sys::generic_write_checks(iocb, from);
            if ret > 0 {
                if let Err(e) = T::prepare_write(Inode::<T>::from_raw(inode), (*iocb).ki_pos as u64)
                {
                    ret = e.to_errno() as isize;
                }
            }
            if ret > 0 {
                ret = sys::__generic_file_write_iter(iocb, from);
            }
            sys::rsfs_inode_unlock(inode);
            if ret > 0 {
                ret = sys::rsfs_generic_write_sync(iocb, ret);
            }
            ret
        }
    }

    /// `read_iter`: `generic_file_read_iter`. A direct read holds the inode
    /// lock shared, as ext2 and ext4 do: the blocks it maps must not be
    /// freed (by a truncate, which holds the lock exclusively) and given to
    /// another file before its bios are done.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid kiocb and iterator of one of our files.
    unsafe extern "C" fn read_iter(iocb: *mut sys::kiocb, to: *mut sys::iov_iter) -> isize {
        // SAFETY: `iocb` and `to` are valid and `iocb`'s file is an open file
        // of ours, as the caller guarantees, so its inode is live; the
        // shared lock is released before returning.
        unsafe {
            if !sys::rsfs_kiocb_is_direct(iocb) {
                return sys::generic_file_read_iter(iocb, to);
            }
            let inode = sys::rsfs_kiocb_inode(iocb);
            sys::rsfs_inode_lock_shared(inode);
            let ret = sys::generic_file_read_iter(iocb, to);
            sys::rsfs_inode_unlock_shared(inode);
            ret
        }
    }

    /// `open` of a regular file: the generic checks, and O_DIRECT allowed.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid inode and file.
    unsafe extern "C" fn open(inode: *mut sys::inode, file: *mut sys::file) -> kernel::ffi::c_int {
        // SAFETY: `inode` and `file` are valid, and `file` is being opened
        // (its `f_mode` is still ours to set), as the caller guarantees.
        unsafe {
            sys::rsfs_file_allow_odirect(file);
            sys::generic_file_open(inode, file)
        }
    }

    /// `llseek`: SEEK_DATA and SEEK_HOLE follow the file's block map; the
    /// other whences are the generic ones.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of ours.
    unsafe extern "C" fn llseek(
        file: *mut sys::file,
        offset: sys::loff_t,
        whence: kernel::ffi::c_int,
    ) -> sys::loff_t {
        let hole = match whence as u32 {
            sys::SEEK_DATA => false,
            sys::SEEK_HOLE => true,
            // SAFETY: `file` is an open file, as the caller guarantees.
            _ => return unsafe { sys::generic_file_llseek(file, offset, whence) },
        };
        // SAFETY: `file` is an open file of `T`, as the caller guarantees,
        // so its inode is a live, initialised inode of `T`.
        let inode = unsafe { Inode::<T>::from_raw(sys::rsfs_file_inode(file)) };
        if offset < 0 {
            return EINVAL.to_errno() as _;
        }
        match T::seek_data_hole(inode, offset as u64, hole) {
            // SAFETY: The file is valid; `vfs_setpos` checks the limit.
            Ok(pos) => unsafe {
                sys::vfs_setpos(file, pos as _, (*(*inode.as_raw()).i_sb).s_maxbytes)
            },
            Err(e) => e.to_errno() as _,
        }
    }

    /// `fallocate`, in the modes of [`Fallocate`]; the others are not
    /// supported (EOPNOTSUPP). Runs under the inode lock, after
    /// `file_modified`, as ext4's does.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of ours.
    unsafe extern "C" fn fallocate(
        file: *mut sys::file,
        mode: kernel::ffi::c_int,
        offset: sys::loff_t,
        len: sys::loff_t,
    ) -> kernel::ffi::c_long {
        let Some(mode) = Fallocate::from_flags(mode as u32) else {
            return Error::from_errno(-(sys::EOPNOTSUPP as i32)).to_errno() as _;
        };
        // SAFETY: `file` is an open file, as the caller guarantees.
        let raw = unsafe { sys::rsfs_file_inode(file) };
        // SAFETY: `raw` is one of our initialised inodes.
        let inode = unsafe { Inode::<T>::from_raw(raw) };
        // SAFETY: The inode is valid; the lock serialises with writes and
        // truncate, as for ext2/ext4.
        unsafe { sys::rsfs_inode_lock(raw) };
        // SAFETY: `file` is open and its inode locked.
        let r = kernel::error::to_result(unsafe { sys::file_modified(file) })
            .and_then(|()| T::fallocate(inode, mode, offset as u64, len as u64));
        // SAFETY: Locked above.
        unsafe { sys::rsfs_inode_unlock(raw) };
        match r {
            Ok(()) => 0,
            Err(e) => e.to_errno() as _,
        }
    }

    /// `mmap`: the page cache's fault handlers, with the filesystem's
    /// [`FileSystem::FILE_VM_OPS`].
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid file and VMA.
    unsafe extern "C" fn mmap(
        file: *mut sys::file,
        vma: *mut sys::vm_area_struct,
    ) -> kernel::ffi::c_int {
        // SAFETY: Both are valid, as the caller guarantees; the table is
        // static, and built for the files of `T`.
        unsafe { sys::rsfs_file_mmap_set_ops(file, vma, T::FILE_VM_OPS.as_raw()) };
        0
    }

    /// `fsync` of a regular file or a directory.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of ours.
    pub(super) unsafe extern "C" fn file_fsync(
        file: *mut sys::file,
        start: sys::loff_t,
        end: sys::loff_t,
        datasync: kernel::ffi::c_int,
    ) -> kernel::ffi::c_int {
        // SAFETY: `file` is an open file of `T`, as the caller guarantees,
        // valid for the call, and its inode a live, initialised inode of
        // `T`.
        let (f, inode) = unsafe {
            (
                File::from_raw(file),
                Inode::<T>::from_raw(sys::rsfs_file_inode(file)),
            )
        };
        from_result(|| {
            T::fsync(f, inode, start, end, datasync != 0)?;
            Ok(0)
        })
    }
}
