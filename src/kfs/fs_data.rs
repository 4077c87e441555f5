// SPDX-License-Identifier: GPL-2.0

//! [`FsData`]: the state a filesystem keeps beside the kernel's objects,
//! per mount and per inode.
//!
//! It is all that kfs's object types ([`super::SuperBlock`],
//! [`super::Inode`], folios, bios, the operations tables) need to know of
//! a filesystem, so they depend on this trait alone. The filesystem's
//! callbacks are in [`super::FileSystem`] and the traits of the other
//! operations tables, which build on these types.

/// The state a filesystem keeps beside the kernel's objects.
pub(crate) trait FsData: Sized + Send + Sync + 'static {
    /// Per-mount state, owned by the superblock (`s_fs_info`) from the
    /// moment [`FileSystem::fill_super`](super::FileSystem::fill_super)
    /// returns it until the superblock is destroyed.
    type Info: Send + Sync;

    /// Per-inode state, stored next to each VFS inode.
    type InodeData: Send + Sync;
}
