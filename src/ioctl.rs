// SPDX-License-Identifier: GPL-2.0

//! `ioctl(2)` on rsfs's files and directories: `FITRIM`, which discards
//! the free space, as ext4's does. fstrim(8) opens the mount point and asks
//! for the whole filesystem; systemd's fstrim.timer does so weekly on every
//! filesystem that takes it. (The `chattr(1)` flags do not come here: see
//! [`crate::inode::set_flags`].)

use kernel::prelude::*;

use crate::{
    alloc,
    format::{BITS_PER_BITMAP_BLOCK, BLOCK_SIZE},
    kfs::{
        self,
        ioctl::{TrimRange, UserArg, FITRIM},
        task, SuperBlock,
    },
    Rsfs,
};

/// Command `cmd` with argument `arg` on any file of the filesystem of
/// `sb`. ENOTTY for a command rsfs does not have.
pub(crate) fn ioctl(sb: &SuperBlock<Rsfs>, cmd: u32, arg: UserArg) -> Result<i32> {
    match cmd {
        FITRIM => fitrim(sb, arg).map(|()| 0),
        _ => Err(ENOTTY),
    }
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
