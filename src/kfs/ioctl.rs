// SPDX-License-Identifier: GPL-2.0

//! `ioctl(2)` on a filesystem's files: the argument as the caller gave it,
//! and the filesystem-wide commands of `include/uapi/linux/fs.h` that a
//! filesystem may implement, with their arguments read from and written
//! to user memory. ([`super::file::Operations::ioctl`] receives them; the
//! `chattr(1)` flags come through `fileattr_get`/`fileattr_set` instead,
//! see [`super::inode_ops`].)
//!
//! C header: [`include/uapi/linux/fs.h`](srctree/include/uapi/linux/fs.h).

use kernel::{prelude::*, uaccess::UserSlice};

use super::sys;

/// `FITRIM`: discard the free space of the filesystem (fstrim(8)).
pub(crate) const FITRIM: u32 = sys::RSFS_FITRIM;

/// The argument of an `ioctl(2)`: a number, or the address of the command's
/// structure in the caller's memory. Reading and writing through it checks
/// every access (EFAULT), so it is safe to hold and pass around.
#[derive(Clone, Copy)]
pub(crate) struct UserArg(pub(super) usize);

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
