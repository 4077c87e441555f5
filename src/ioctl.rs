// SPDX-License-Identifier: GPL-2.0

//! `ioctl(2)` on rsfs's files and directories, each as ext4's:
//! - `FITRIM`, which discards the free space. fstrim(8) opens the mount
//!   point and asks for the whole filesystem; systemd's fstrim.timer does
//!   so weekly on every filesystem that takes it.
//! - `FS_IOC_GETFSLABEL` and `FS_IOC_SETFSLABEL`, the volume label of a
//!   mounted filesystem (`xfs_io -c label`, `btrfs filesystem label`).
//! - `FS_IOC_GETVERSION` (`lsattr -v`), the inode's generation. Setting
//!   it (`chattr -v`) stays ENOTTY, as on ext4 with metadata checksums:
//!   rsfs's inodes carry a checksum too.
//! - `FS_IOC_SHUTDOWN`, see [`crate::shutdown`].
//!
//! (The `chattr(1)` flags do not come here: see [`crate::inode::set_flags`].
//! `FS_IOC_GETFSUUID` is the VFS's, from the UUID the mount gives it.)

use kernel::prelude::*;

use crate::{
    alloc,
    format::{BITS_PER_BITMAP_BLOCK, BLOCK_SIZE, LABEL_MAX},
    kfs::{
        self,
        ioctl::{
            TrimRange, UserArg, FITRIM, FSLABEL_MAX, FS_IOC_GETFSLABEL, FS_IOC_GETVERSION,
            FS_IOC_GETVERSION_OLD, FS_IOC_SETFSLABEL, FS_IOC_SHUTDOWN,
        },
        task, File, Inode, SuperBlock,
    },
    shutdown, super_, Rsfs,
};

/// Command `cmd` with argument `arg` on `file`, an open file or directory
/// of rsfs whose inode is `inode`. ENOTTY for a command rsfs does not have.
pub(crate) fn ioctl(file: &File, inode: &Inode<Rsfs>, cmd: u32, arg: UserArg) -> Result<i32> {
    let sb = inode.super_block();
    match cmd {
        FS_IOC_GETVERSION | FS_IOC_GETVERSION_OLD => {
            arg.write_bytes(&(inode.attrs().generation as i32).to_ne_bytes())
        }
        FITRIM => fitrim(sb, arg),
        FS_IOC_GETFSLABEL => get_label(sb, arg),
        FS_IOC_SETFSLABEL => set_label(file, sb, arg),
        FS_IOC_SHUTDOWN => {
            let mut how = [0u8; 4];
            arg.read_bytes(&mut how)?;
            shutdown::shut_down(sb, u32::from_ne_bytes(how))
        }
        _ => Err(ENOTTY),
    }
    .map(|()| 0)
}

/// `FS_IOC_GETFSLABEL`: the label and a NUL after it.
fn get_label(sb: &SuperBlock<Rsfs>, arg: UserArg) -> Result {
    const _: () = assert!(LABEL_MAX < FSLABEL_MAX);
    let mut buf = [0u8; LABEL_MAX + 1];
    buf[..LABEL_MAX].copy_from_slice(&super_::label(sb)?);
    arg.write_bytes(&buf)
}

/// `FS_IOC_SETFSLABEL`: EPERM without CAP_SYS_ADMIN, EINVAL for a label
/// longer than [`LABEL_MAX`] bytes, EROFS on a read-only mount. The new
/// label is committed with the next transaction, as ext4 journals it.
fn set_label(file: &File, sb: &SuperBlock<Rsfs>, arg: UserArg) -> Result {
    if !task::capable_sys_admin() {
        return Err(EPERM);
    }
    // One byte more than the longest label, where its NUL must be.
    let mut buf = [0u8; LABEL_MAX + 1];
    arg.read_bytes(&mut buf)?;
    let len = buf.iter().position(|&b| b == 0).ok_or(EINVAL)?;
    let mut label = [0u8; LABEL_MAX];
    label[..len].copy_from_slice(&buf[..len]);
    let _write = file.want_write()?;
    super_::set_label(sb, &label)
}

/// `FITRIM`: discards the free runs of the range that are at least
/// `minlen` bytes long (and at least the device's discard granularity),
/// and reports the bytes discarded in the range's `len`. The checks and
/// errors are ext4's (`ext4_ioctl`, `ext4_trim_fs`): EPERM without
/// CAP_SYS_ADMIN, EOPNOTSUPP if the device cannot discard, EROFS on a
/// mount without journal recovery (the bitmaps may not be those of the
/// last commit: blocks in use could look free), EINVAL for a range that
/// starts past the end, is shorter than a block, or asks for runs longer
/// than a bitmap block can hold.
fn fitrim(sb: &SuperBlock<Rsfs>, arg: UserArg) -> Result {
    if !task::capable_sys_admin() {
        return Err(EPERM);
    }
    let granularity = sb.discard_granularity().ok_or_else(kfs::eopnotsupp)?;
    if sb.info().norecovery {
        return Err(EROFS);
    }
    // A discard is a write, and a shut-down filesystem writes nothing.
    shutdown::alive(sb)?;
    let mut range = TrimRange::read(arg)?;
    let bs = BLOCK_SIZE as u64;
    let blocks = sb.info().geo.blocks_count;
    let first = range.start / bs;
    if first >= blocks || range.len < bs || range.minlen / bs > BITS_PER_BITMAP_BLOCK {
        return Err(EINVAL);
    }
    let end = first.saturating_add(range.len / bs).min(blocks);
    // Nothing shorter than the device's granularity is worth a discard.
    let min_len = (range.minlen / bs).max(granularity);
    let trimmed = if min_len > BITS_PER_BITMAP_BLOCK {
        0
    } else {
        alloc::trim(sb, first, end, min_len)?
    };
    range.len = trimmed * bs;
    range.write(arg)
}
