// SPDX-License-Identifier: GPL-2.0

//! `ioctl(2)` on a filesystem's files: the argument as the caller gave it,
//! the filesystem-wide commands of `include/uapi/linux/fs.h` that a
//! filesystem may implement, with their arguments read from and written
//! to user memory, and write access to the mount for those that change
//! the filesystem ([`File::want_write`]). ([`super::file::Operations::ioctl`] receives them; the
//! `chattr(1)` flags come through `fileattr_get`/`fileattr_set` instead,
//! see [`super::inode_ops`].)
//!
//! C header: [`include/uapi/linux/fs.h`](srctree/include/uapi/linux/fs.h).

use core::marker::PhantomData;
use kernel::{prelude::*, uaccess::UserSlice};

use super::{io::File, sys};

/// `FITRIM`: discard the free space of the filesystem (fstrim(8)).
pub(crate) const FITRIM: u32 = sys::RSFS_FITRIM;

/// `FS_IOC_GETFSLABEL`: the filesystem's label, NUL-terminated, into a
/// buffer of [`FSLABEL_MAX`] bytes.
pub(crate) const FS_IOC_GETFSLABEL: u32 = sys::RSFS_FS_IOC_GETFSLABEL;

/// `FS_IOC_SETFSLABEL`: a new label, NUL-terminated, from a buffer of at
/// most [`FSLABEL_MAX`] bytes.
pub(crate) const FS_IOC_SETFSLABEL: u32 = sys::RSFS_FS_IOC_SETFSLABEL;

/// `FS_IOC_GETVERSION` (`lsattr -v`): the inode's generation, an `int`.
pub(crate) const FS_IOC_GETVERSION: u32 = sys::RSFS_FS_IOC_GETVERSION;

/// The same command under its first number (`EXT2_IOC_GETVERSION` of
/// old, `_IOR('f', 3, long)`), which ext2 and ext4 still answer.
pub(crate) const FS_IOC_GETVERSION_OLD: u32 = sys::RSFS_FS_IOC32_GETVERSION_OLD;

/// `FS_IOC_SHUTDOWN`: shut the filesystem down; the argument is a `u32`,
/// one of the `GOING_FLAGS_*` below. It is ext4's `EXT4_IOC_SHUTDOWN`, with
/// the number of xfs's `XFS_IOC_GOINGDOWN` (fstests' `godown`, `xfs_io -c
/// shutdown`).
pub(crate) const FS_IOC_SHUTDOWN: u32 = sys::RSFS_FS_IOC_SHUTDOWN;

/// Shut down after writing everything dirty, as `syncfs(2)` would.
pub(crate) const GOING_FLAGS_DEFAULT: u32 = 0;

/// Shut down after committing the journal, but not writing other data.
pub(crate) const GOING_FLAGS_LOGFLUSH: u32 = 1;

/// Shut down at once, writing nothing more.
pub(crate) const GOING_FLAGS_NOLOGFLUSH: u32 = 2;

/// The size of the label commands' buffer.
pub(crate) const FSLABEL_MAX: usize = sys::FSLABEL_MAX as usize;

/// The argument of an `ioctl(2)`: a number, or the address of the command's
/// structure in the caller's memory. Reading and writing through it checks
/// every access (EFAULT), so it is safe to hold and pass around.
#[derive(Clone, Copy)]
pub(crate) struct UserArg(pub(super) usize);

impl UserArg {
    /// Reads `buf.len()` bytes from where the argument points (EFAULT if
    /// they cannot be read).
    pub(crate) fn read_bytes(self, buf: &mut [u8]) -> Result {
        UserSlice::new(self.0, buf.len()).reader().read_slice(buf)
    }

    /// Writes `buf` to where the argument points (EFAULT if it cannot).
    pub(crate) fn write_bytes(self, buf: &[u8]) -> Result {
        UserSlice::new(self.0, buf.len()).writer().write_slice(buf)
    }
}

/// Write access to the mount of an open file, for a command that changes
/// the filesystem (`mnt_want_write_file`): while it is held, the mount
/// stays read-write and the filesystem cannot freeze. Dropping it gives
/// the access back, on the same task: it is not `Send`, since the freeze
/// protection it holds is the task's.
///
/// # Invariants
///
/// `mnt_want_write_file` succeeded on the file, which outlives the guard.
pub(crate) struct WriteAccess<'a>(&'a File, PhantomData<*const ()>);

impl File {
    /// Takes write access to the file's mount: EROFS if it or the
    /// filesystem is read-only; waits while the filesystem is frozen.
    pub(crate) fn want_write(&self) -> Result<WriteAccess<'_>> {
        // SAFETY: The file is valid for the borrow (type invariant of
        // `File`).
        kernel::error::to_result(unsafe { sys::mnt_want_write_file(self.as_raw()) })?;
        // INVARIANT: The call succeeded, and the guard borrows the file.
        Ok(WriteAccess(self, PhantomData))
    }
}

impl Drop for WriteAccess<'_> {
    fn drop(&mut self) {
        // SAFETY: The write access was taken on this file, which is still
        // valid (type invariant).
        unsafe { sys::mnt_drop_write_file(self.0.as_raw()) };
    }
}

/// `struct fstrim_range`, the argument of [`FITRIM`]: the bytes of the
/// filesystem to look at, and the shortest free run worth discarding. The
/// filesystem sets `len` to the bytes it discarded.
pub(crate) struct TrimRange {
    /// First byte.
    pub(crate) start: u64,
    /// Bytes from `start` on; on return, the bytes discarded.
    pub(crate) len: u64,
    /// The shortest free run to discard, in bytes.
    pub(crate) minlen: u64,
}

impl TrimRange {
    /// Size of `struct fstrim_range`: three `__u64`.
    const SIZE: usize = 3 * core::mem::size_of::<u64>();

    /// Reads the range that `arg` points at (EFAULT if it cannot be read).
    pub(crate) fn read(arg: UserArg) -> Result<Self> {
        let [start, len, minlen] = UserSlice::new(arg.0, Self::SIZE)
            .reader()
            .read::<[u64; 3]>()?;
        Ok(Self { start, len, minlen })
    }

    /// Writes the range back to where `arg` points (EFAULT if it cannot).
    pub(crate) fn write(&self, arg: UserArg) -> Result {
        UserSlice::new(arg.0, Self::SIZE)
            .writer()
            .write(&[self.start, self.len, self.minlen])
    }
}
