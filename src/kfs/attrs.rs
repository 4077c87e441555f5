// SPDX-License-Identifier: GPL-2.0

//! The attributes of an inode: its file type, timestamps, the attributes
//! read from disk and those written back, and the `chattr(1)` flags the
//! VFS enforces.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use super::sys;

/// The file types, by their `S_IFMT` bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A unix domain socket.
    Socket,
}

impl FileType {
    /// The type of `mode`, or `None` for a mode with no file type.
    pub(crate) fn from_mode(mode: u16) -> Option<Self> {
        match u32::from(mode) & sys::S_IFMT {
            sys::S_IFREG => Some(Self::Regular),
            sys::S_IFDIR => Some(Self::Directory),
            sys::S_IFLNK => Some(Self::Symlink),
            sys::RSFS_S_IFCHR => Some(Self::CharDevice),
            sys::RSFS_S_IFBLK => Some(Self::BlockDevice),
            sys::RSFS_S_IFIFO => Some(Self::Fifo),
            sys::RSFS_S_IFSOCK => Some(Self::Socket),
            _ => None,
        }
    }

    /// Whether this is a device, a pipe or a socket: a file whose contents
    /// are not on the disk, and whose operations are the VFS's
    /// (`init_special_inode`).
    pub(crate) fn is_special(self) -> bool {
        matches!(
            self,
            Self::CharDevice | Self::BlockDevice | Self::Fifo | Self::Socket
        )
    }
}

/// A point in time, as the VFS keeps it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Timestamp {
    /// Seconds since the epoch.
    pub(crate) sec: i64,
    /// Nanoseconds, below 1_000_000_000.
    pub(crate) nsec: u32,
}

impl Timestamp {
    pub(super) fn from_raw(ts: sys::timespec64) -> Self {
        Self {
            sec: ts.tv_sec,
            nsec: ts.tv_nsec as u32,
        }
    }
}

/// A snapshot of an inode's attributes, for writing it to disk.
#[derive(Clone, Copy)]
pub(crate) struct Attrs {
    /// File type and permissions.
    pub(crate) mode: u16,
    /// Hard links.
    pub(crate) nlink: u32,
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Access time.
    pub(crate) atime: Timestamp,
    /// Modification time.
    pub(crate) mtime: Timestamp,
    /// Change time.
    pub(crate) ctime: Timestamp,
    /// Generation number.
    pub(crate) generation: u32,
    /// The device of a device file, encoded as on disk; 0 for others.
    pub(crate) rdev: u32,
}

/// The attributes of an inode read from disk.
pub(crate) struct InodeParams {
    /// File type and permissions (`S_IF*` and mode bits).
    pub(crate) mode: u16,
    /// Hard link count.
    pub(crate) nlink: u32,
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Space used, in 512-byte sectors.
    pub(crate) sectors: u64,
    /// Access time.
    pub(crate) atime: Timestamp,
    /// Modification time.
    pub(crate) mtime: Timestamp,
    /// Change time.
    pub(crate) ctime: Timestamp,
    /// Generation number.
    pub(crate) generation: u32,
    /// The device of a device file, encoded as on disk; 0 for others.
    pub(crate) rdev: u32,
    /// The inode flags of `chattr(1)` (`FS_*_FL`, see
    /// [`Locked::set_flags`](super::Locked::set_flags)).
    pub(crate) flags: u32,
}

/// The `i_flags` bits that [`Locked::set_flags`](super::Locked::set_flags)
/// sets or clears.
pub(super) const VFS_FLAGS: u32 =
    sys::S_SYNC | sys::S_IMMUTABLE | sys::S_APPEND | sys::S_NOATIME | sys::S_DIRSYNC;

/// The `i_flags` that `chattr(1)` flags ask the VFS to enforce.
pub(super) const fn vfs_flags(flags: u32) -> u32 {
    let mut v = 0;
    if flags & sys::FS_SYNC_FL != 0 {
        v |= sys::S_SYNC;
    }
    if flags & sys::FS_IMMUTABLE_FL != 0 {
        v |= sys::S_IMMUTABLE;
    }
    if flags & sys::FS_APPEND_FL != 0 {
        v |= sys::S_APPEND;
    }
    if flags & sys::FS_NOATIME_FL != 0 {
        v |= sys::S_NOATIME;
    }
    if flags & sys::FS_DIRSYNC_FL != 0 {
        v |= sys::S_DIRSYNC;
    }
    v
}
