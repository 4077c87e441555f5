// SPDX-License-Identifier: GPL-2.0

//! What the namespace callbacks hand to the filesystem besides inodes:
//! `rename` flags and targets (and the whiteout `RENAME_WHITEOUT` asks
//! for), and the `readdir` cursor ([`DirEmitter`]).
//! (The creator of a new inode, [`Owner`](super::new_inode::Owner), and
//! the inode made, [`Created`](super::new_inode::Created), are in
//! [`super::new_inode`].)

use super::{lock::Locked, new_inode::Owner, sys, FsData, Inode};

/// The mode of the whiteout that `RENAME_WHITEOUT` leaves at the old name:
/// a character device with no permission bits (`WHITEOUT_MODE`), whose
/// device is [`WHITEOUT_RDEV`].
pub(crate) const WHITEOUT_MODE: u16 = (sys::RSFS_S_IFCHR | sys::RSFS_WHITEOUT_MODE) as u16;

/// The device number of a whiteout (`WHITEOUT_DEV`, 0:0).
pub(crate) const WHITEOUT_RDEV: u32 = sys::RSFS_WHITEOUT_DEV;

/// The flags of a `renameat2(2)`, as the VFS passes them (it has checked
/// them against one another, enforced `RENAME_NOREPLACE` itself (EEXIST),
/// and made sure that both names exist for `RENAME_EXCHANGE`; a whiteout,
/// like `mknod` of one, needs no privilege), with the owner of a whiteout,
/// which lives as long as the `rename` callback.
pub(crate) struct RenameFlags<'a> {
    flags: u32,
    owner: &'a Owner,
}

impl<'a> RenameFlags<'a> {
    /// The flags of a rename whose whiteout, if it asks for one, is owned
    /// as `owner` says.
    pub(super) fn new(flags: u32, owner: &'a Owner) -> Self {
        Self { flags, owner }
    }

    /// `RENAME_EXCHANGE`: the two names swap inodes.
    pub(crate) fn exchange(&self) -> bool {
        self.flags & sys::RENAME_EXCHANGE != 0
    }

    /// `RENAME_WHITEOUT` (overlayfs): in the same change, the old name
    /// gets a new inode, a whiteout ([`WHITEOUT_MODE`], [`WHITEOUT_RDEV`]),
    /// made for the owner this returns (the old directory, through the
    /// mount's idmap).
    pub(crate) fn whiteout(&self) -> Option<&'a Owner> {
        (self.flags & sys::RENAME_WHITEOUT != 0).then_some(self.owner)
    }
}

/// The name a `rename` goes to, and what it holds, with the locks the VFS
/// holds on it (`vfs_rename`).
pub(crate) enum RenameTarget<'a, T: FsData> {
    /// The name does not exist.
    Free,
    /// The name exists; its inode, which the VFS holds locked, loses it.
    Replace(Locked<'a, T>),
    /// `RENAME_EXCHANGE`: the name exists and its inode takes the source's
    /// name. A directory exchanged within one parent is not locked.
    Exchange(&'a Inode<T>),
}

/// The cursor of a `readdir`: its position and where entries go.
///
/// # Invariants
///
/// `ctx` is a valid `dir_context` for the duration of the `iterate_shared`
/// call that made this object.
pub(crate) struct DirEmitter {
    ctx: *mut sys::dir_context,
}

/// `DT_*` values for [`DirEmitter::emit`].
pub(crate) const DT_UNKNOWN: u32 = 0;
/// Directory.
pub(crate) const DT_DIR: u32 = 4;
/// Regular file.
pub(crate) const DT_REG: u32 = 8;
/// Symbolic link.
pub(crate) const DT_LNK: u32 = 10;
/// Named pipe.
pub(crate) const DT_FIFO: u32 = 1;
/// Character device.
pub(crate) const DT_CHR: u32 = 2;
/// Block device.
pub(crate) const DT_BLK: u32 = 6;
/// Unix domain socket.
pub(crate) const DT_SOCK: u32 = 12;

impl DirEmitter {
    /// # Safety
    ///
    /// `ctx` must satisfy the type invariant.
    pub(super) unsafe fn from_raw(ctx: *mut sys::dir_context) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self { ctx }
    }

    /// The position to continue from.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: `ctx` is valid (type invariant).
        unsafe { (*self.ctx).pos }
    }

    /// Moves the position.
    pub(crate) fn set_pos(&mut self, pos: i64) {
        // SAFETY: `ctx` is valid (type invariant).
        unsafe { (*self.ctx).pos = pos };
    }

    /// Hands one entry to the caller of `getdents`; false means its buffer
    /// is full and the entry must be emitted again next time.
    pub(crate) fn emit(&mut self, name: &[u8], ino: u64, dtype: u32) -> bool {
        // SAFETY: `ctx` is valid (type invariant) and `name` is a valid
        // slice for the call.
        unsafe {
            sys::rsfs_dir_emit(
                self.ctx,
                name.as_ptr().cast(),
                name.len() as i32,
                ino,
                dtype,
            )
        }
    }
}
