// SPDX-License-Identifier: GPL-2.0

//! The namespace operations: lookup, create, mkdir, symlink, link, unlink,
//! rmdir and rename. Each keeps link counts, sizes and times as a Unix
//! filesystem must, and undoes what it did when a later step fails.

use kernel::prelude::*;

use crate::{
    alloc, dir,
    format::{self, BLOCK_SIZE, NAME_MAX},
    inode::{self, InodeInfo},
    kfs::{
        self, fs_flags, inode_ops, sb_err, Created, FileType, Inode, InodeRef, Locked, Owner,
        RenameFlags, RenameTarget,
    },
    map::{BlockMap, Run},
    orphan, shutdown, txn, Rsfs,
};

/// The `ENAMETOOLONG` errno; `kernel::error::code` in 6.12 lacks it.
fn enametoolong() -> Error {
    Error::from_errno(-36)
}

/// The `ENOTEMPTY` errno; `kernel::error::code` in 6.12 lacks it.
fn enotempty() -> Error {
    Error::from_errno(-39)
}

fn check_name(name: &[u8]) -> Result {
    if name.len() > NAME_MAX {
        return Err(enametoolong());
    }
    Ok(())
}

/// The parent of directory `dir`: its `..` entry.
pub(crate) fn parent(dir: &Inode<Rsfs>) -> Result<InodeRef<Rsfs>> {
    match dir::lookup(dir, b"..")? {
        Some(ino) => inode::iget(dir.super_block(), ino),
        None => Err(ENOENT),
    }
}

/// Allocates and fills the first block of a new file: a new directory's
/// `.` and `..`, or a long symlink's target. Returns its map.
fn first_block(dir: &Inode<Rsfs>, ino: u64, ftype: FileType, target: &[u8]) -> Result<BlockMap> {
    let sb = dir.super_block();
    let mut map = BlockMap::new();
    let (phys, _) = alloc::alloc_blocks(sb, dir.data().map().goal(), 1)?;
    let fill = || -> Result {
        let bh = sb.bnew(phys)?;
        {
            let mut g = bh.lock();
            let data = g.data_mut();
            data.fill(0);
            if ftype == FileType::Directory {
                dir::init_block(
                    data,
                    &[
                        (b".", ino, format::FT_DIR),
                        (b"..", dir.ino(), format::FT_DIR),
                    ],
                );
            } else {
                data[..target.len()].copy_from_slice(target);
            }
        }
        txn::dirty(sb, &bh);
        Ok(())
    };
    if let Err(e) = fill().and_then(|()| map.insert(sb, Run::new(0, 1, phys)?)) {
        let _ = alloc::free_blocks(sb, phys, 1);
        return Err(e);
    }
    Ok(map)
}

/// `inode` has lost its last name: it goes on the orphan list until its
/// last user lets go. If it cannot, a crash before then leaves it for
/// fsck.rsfs, as before the list: the operation itself has happened.
fn orphaned(inode: &Inode<Rsfs>) {
    if inode.nlink() != 0 {
        return;
    }
    if let Err(e) = orphan::add(inode.super_block(), inode.ino()) {
        sb_err!(
            inode.super_block(),
            "inode {}: cannot go on the orphan list (error {})",
            inode.ino(),
            e.to_errno()
        );
    }
}

/// A new inode of type `ftype` for `dir`, with its first block if it needs
/// one (a directory's, a long symlink's), not yet written and with no name.
/// A failure gives back everything it took.
fn new_inode(
    dir: &Inode<Rsfs>,
    ftype: FileType,
    mode: u16,
    target: &[u8],
    rdev: u32,
    owner: &Owner,
) -> Result<Created<Rsfs>> {
    let sb = dir.super_block();
    let ino = alloc::alloc_inode(sb)?;
    // A damaged inode bitmap may hand out a number that is in use: the
    // number stays allocated (it is), and the creation fails.
    let in_use = match inode::slot_in_use(sb, ino) {
        Ok(false) => false,
        Ok(true) => true,
        Err(e) => {
            let _ = alloc::free_inode(sb, ino);
            return Err(e);
        }
    };
    if in_use {
        sb_err!(
            sb,
            "inode bitmap marks inode {} free, but it is in use",
            ino
        );
        return Err(shutdown::damaged(sb));
    }
    // Until the inode is set up, a failure gives back its number (and its
    // first block) by hand.
    let setup = (|| {
        let new = sb.new_inode(owner, mode, ino, rdev)?;
        let needs_block = ftype == FileType::Directory
            || (ftype == FileType::Symlink && target.len() > format::INLINE_LINK_MAX);
        let map = if needs_block {
            first_block(dir, ino, ftype, target)?
        } else {
            BlockMap::new()
        };
        let mut link = KVec::new();
        if ftype == FileType::Symlink {
            link.extend_from_slice(target, GFP_KERNEL)?;
            link.push(0, GFP_KERNEL)?;
        }
        let blocks = map.blocks();
        // As on ext2, a new file or directory takes these flags from its
        // directory (and a new directory DIRSYNC too); IMMUTABLE and APPEND
        // are not inherited.
        let inherited = fs_flags::SYNC | fs_flags::NODUMP | fs_flags::NOATIME;
        let flags = match ftype {
            FileType::Regular => dir.data().flags() & inherited,
            FileType::Directory => dir.data().flags() & (inherited | fs_flags::DIRSYNC),
            _ => 0,
        };
        let created = new.init_created(
            sb.info().next_generation(),
            flags,
            inode::ops(ftype),
            InodeInfo::new(map, link, flags),
        )?;
        Ok((created, blocks))
    })();
    let (created, blocks) = match setup {
        Ok(x) => x,
        // The number is already in memory: in use, whatever the bitmap says.
        Err(e) if e == EBUSY => {
            sb_err!(
                sb,
                "inode bitmap marks inode {} free, but it is in use",
                ino
            );
            return Err(shutdown::damaged(sb));
        }
        Err(e) => {
            let _ = alloc::free_inode(sb, ino);
            return Err(e);
        }
    };
    let inode = created.locked();
    match ftype {
        FileType::Directory => {
            inode.inc_nlink(); // "." (new_inode starts at 1: the entry)
            inode.set_size(BLOCK_SIZE as u64);
        }
        FileType::Symlink => inode.set_size(target.len() as u64),
        _ => (),
    }
    inode.set_sectors(blocks * (BLOCK_SIZE / 512) as u64);
    Ok(created)
}

/// `RENAME_EXCHANGE`: each name takes the other's inode. When the two
/// live in different directories and only one of them is a directory, that
/// directory's ".." moves from one parent's link count to the other's;
/// when both are directories, each ".." follows its directory and the
/// counts stay.
fn exchange(
    a_dir: Locked<'_, Rsfs>,
    a_name: &[u8],
    a: &Inode<Rsfs>,
    b_dir: Locked<'_, Rsfs>,
    b_name: &[u8],
    b: &Inode<Rsfs>,
) -> Result {
    let a_is_dir = a.file_type() == FileType::Directory;
    let b_is_dir = b.file_type() == FileType::Directory;
    let across = a_dir.ino() != b_dir.ino();
    // The one parent whose count a moving directory's ".." leaves, and the
    // one it joins; checked before anything changes.
    let moved = match (across, a_is_dir, b_is_dir) {
        (true, true, false) => Some((a_dir, a, b_dir)),
        (true, false, true) => Some((b_dir, b, a_dir)),
        _ => None,
    };
    if let Some((from, dir, to)) = moved {
        check_link_counts(&from, dir, true)?;
        if to.nlink() >= u32::from(u16::MAX) {
            return Err(EMLINK);
        }
    }
    dir::retarget(&a_dir, a_name, b.ino(), dir::ft_of(b.file_type()))?;
    dir::retarget(&b_dir, b_name, a.ino(), dir::ft_of(a.file_type()))?;
    if across {
        if a_is_dir {
            dir::retarget(a, b"..", b_dir.ino(), format::FT_DIR)?;
        }
        if b_is_dir {
            dir::retarget(b, b"..", a_dir.ino(), format::FT_DIR)?;
        }
    }
    if let Some((from, _, to)) = moved {
        from.drop_nlink();
        to.inc_nlink();
    }
    for i in [a, b] {
        i.touch_ctime();
        i.mark_dirty();
    }
    for d in [a_dir, b_dir] {
        d.touch_cmtime();
        d.mark_dirty();
    }
    Ok(())
}

/// Refuses to take away a link that the counts say is not there. A name's
/// inode has at least one link, and a directory that holds a subdirectory
/// at least three (its entry, its ".", the child's ".."). Fewer means the
/// counts on disk are wrong: going on would free an inode that still has
/// names, or later raise a count from zero (a kernel warning).
fn check_link_counts(parent: &Inode<Rsfs>, victim: &Inode<Rsfs>, is_dir: bool) -> Result {
    let (ino, what) = if is_dir && parent.nlink() < 3 {
        (parent.ino(), "a directory with a subdirectory")
    } else if !is_dir && victim.nlink() == 0 {
        (victim.ino(), "a name's inode")
    } else {
        return Ok(());
    };
    sb_err!(
        parent.super_block(),
        "inode {}: link count too low for {}",
        ino,
        what
    );
    Err(shutdown::damaged(parent.super_block()))
}

/// Directories: the namespace operations, and their `chattr(1)` flags.
pub(crate) struct Directory;

/// If any of `dirs` asks for its changes to be durable when the call
/// returns (`mount -o dirsync` or `-o sync`, `chattr +S` or `+D`:
/// `IS_DIRSYNC`), as ext2 and ext4 make them: the operation, done and its
/// handle closed, is committed at once, once (the caller drops its handle
/// first: a sync waits for every open handle).
///
/// A failed commit cannot take the operation back: the VFS has been told
/// nothing yet, and an error now would leave its dentries out of step with
/// the directory (a name made but left negative, a directory removed but
/// not marked dead). So, as ext4 ignores the result of its forced commit
/// there, the failure is logged and the call succeeds; the change stays
/// in the running transaction, which the next sync commits.
fn dirsync(dirs: &[&Inode<Rsfs>], what: &str) {
    let Some(dir) = dirs.iter().find(|d| d.is_dirsync()) else {
        return;
    };
    if let Err(e) = txn::sync(dir.super_block()) {
        sb_err!(
            dir.super_block(),
            "directory {}: a synchronous {} did not reach the disk (error {})",
            dir.ino(),
            what,
            e.to_errno()
        );
    }
}

#[vtable]
impl inode_ops::Operations for Directory {
    type FileSystem = Rsfs;

    const FLAGS: u32 = inode::DIR_FLAGS;

    /// `lookup`.
    fn lookup(dir: &Inode<Rsfs>, name: &[u8]) -> Result<Option<InodeRef<Rsfs>>> {
        check_name(name)?;
        match dir::lookup(dir, name)? {
            Some(ino) => Ok(Some(inode::iget(dir.super_block(), ino)?)),
            None => Ok(None),
        }
    }

    /// `create`, `mkdir`, `symlink` and `mknod`.
    fn create(
        dir: Locked<'_, Rsfs>,
        name: &[u8],
        mode: u16,
        target: Option<&[u8]>,
        rdev: u32,
        owner: &Owner,
    ) -> Result<Created<Rsfs>> {
        check_name(name)?;
        let ftype = FileType::from_mode(mode).ok_or(EINVAL)?;
        let target = target.unwrap_or(&[]);
        if target.len() >= BLOCK_SIZE {
            return Err(enametoolong());
        }
        let sb = dir.super_block();
        if sb.is_read_only() {
            return Err(EROFS);
        }
        if ftype == FileType::Directory && dir.nlink() >= u32::from(u16::MAX) {
            return Err(EMLINK);
        }
        let handle = txn::begin(sb)?;
        let created = new_inode(&dir, ftype, mode, target, rdev, owner)?;
        // From here on, dropping `created` releases everything: it is evicted
        // with no links, which frees its blocks and its number.
        crate::xattr::inherit_acls(&dir, created.locked())?;
        let inode = created.inode();
        // The inode goes into the inode table's buffer before its name goes
        // into the directory's: whatever writes the directory block to disk
        // (any fsync writes all dirty metadata) finds the inode there to write
        // as well, so a name never survives a crash without its inode.
        inode::write_inode(inode, false)?;
        dir::add(dir, name, inode.ino(), dir::ft_of(ftype))?;
        if ftype == FileType::Directory {
            dir.inc_nlink(); // the new directory's ".."
        }
        inode.mark_dirty();
        dir.touch_cmtime();
        dir.mark_dirty();
        drop(handle);
        dirsync(&[&*dir], "create");
        Ok(created)
    }

    /// `O_TMPFILE`: a regular file with no name. It has no links on disk until
    /// `link` names it, and starts on the orphan list, which the mount after a
    /// crash releases. (The VFS drops the one link it comes with only after
    /// this returns, outside the transaction; its slot says 0 already, so
    /// that no commit has it both linked and listed.)
    fn tmpfile(dir: Locked<'_, Rsfs>, mode: u16, owner: &Owner) -> Result<Created<Rsfs>> {
        let sb = dir.super_block();
        if sb.is_read_only() {
            return Err(EROFS);
        }
        let _handle = txn::begin(sb)?;
        let created = new_inode(&dir, FileType::Regular, mode, &[], 0, owner)?;
        crate::xattr::inherit_acls(&dir, created.locked())?;
        let ino = created.inode().ino();
        // Into its slot now, as `create` does, within the transaction that
        // lists it as an orphan: a new inode's `dirty_inode` does nothing
        // (kfs skips inodes still `I_NEW`), so without this the slot would
        // wait for `write_inode`, and a commit before that (or a shutdown)
        // would leave the orphan list naming a blank slot.
        inode::write_inode(created.inode(), false)?;
        inode::set_slot_unlinked(sb, ino)?;
        orphan::add(sb, ino)?;
        Ok(created)
    }

    /// `link`.
    fn link(inode: Locked<'_, Rsfs>, dir: Locked<'_, Rsfs>, name: &[u8]) -> Result {
        check_name(name)?;
        if inode.nlink() >= u32::from(u16::MAX) {
            return Err(EMLINK);
        }
        let handle = txn::begin(dir.super_block())?;
        if inode.nlink() == 0 {
            // An O_TMPFILE file getting its first name: as for a new file, the
            // inode (with its link) goes into the inode table's buffer before
            // the name goes into the directory's.
            inode.inc_nlink();
            if let Err(e) = inode::write_inode(&inode, false)
                .and_then(|()| dir::add(dir, name, inode.ino(), dir::ft_of(inode.file_type())))
            {
                inode.drop_nlink();
                inode.mark_dirty();
                return Err(e);
            }
            // Named: off the orphan list, in the same transaction. The name is
            // there already; if this fails, the list keeps a linked inode,
            // which the next mount takes off it.
            if let Err(e) = orphan::remove(dir.super_block(), inode.ino()) {
                sb_err!(
                    dir.super_block(),
                    "inode {}: cannot leave the orphan list (error {})",
                    inode.ino(),
                    e.to_errno()
                );
            }
        } else {
            dir::add(dir, name, inode.ino(), dir::ft_of(inode.file_type()))?;
            inode.inc_nlink();
        }
        inode.touch_ctime();
        inode.mark_dirty();
        dir.touch_cmtime();
        dir.mark_dirty();
        drop(handle);
        dirsync(&[&*dir], "link");
        Ok(())
    }

    /// `unlink` and `rmdir`. The inode's space is freed when its last user
    /// closes it (`evict_inode`).
    fn unlink(dir: Locked<'_, Rsfs>, name: &[u8], inode: Locked<'_, Rsfs>) -> Result {
        let is_dir = inode.file_type() == FileType::Directory;
        let handle = txn::begin(dir.super_block())?;
        if is_dir && !dir::is_empty(&inode)? {
            return Err(enotempty());
        }
        check_link_counts(&dir, &inode, is_dir)?;
        let ino = dir::remove(&dir, name)?;
        if ino != inode.ino() {
            sb_err!(
                dir.super_block(),
                "directory {}: entry {} changed under us",
                dir.ino(),
                ino
            );
        }
        if is_dir {
            inode.clear_nlink();
            dir.drop_nlink(); // the victim's ".."
        } else {
            inode.drop_nlink();
        }
        orphaned(&inode);
        inode.touch_ctime();
        inode.mark_dirty();
        dir.touch_cmtime();
        dir.mark_dirty();
        drop(handle);
        dirsync(&[&*dir], "unlink");
        Ok(())
    }

    /// `rename`, with `RENAME_NOREPLACE` (which the VFS enforces),
    /// `RENAME_EXCHANGE` (see [`exchange`]) or `RENAME_WHITEOUT`. Replacing
    /// an existing target is done by pointing its entry at the source, so
    /// the target name never disappears. A whiteout is made the way
    /// `create` makes a device, and the old name is pointed at it rather
    /// than removed, in the same transaction: after a crash the old name
    /// holds the file or the whiteout, as on ext4.
    fn rename(
        old_dir: Locked<'_, Rsfs>,
        old_name: &[u8],
        old: &Inode<Rsfs>,
        new_dir: Locked<'_, Rsfs>,
        new_name: &[u8],
        new: RenameTarget<'_, Rsfs>,
        flags: RenameFlags<'_>,
    ) -> Result {
        check_name(new_name)?;
        let handle = txn::begin(old_dir.super_block())?;
        let new = match new {
            RenameTarget::Exchange(new) => {
                exchange(old_dir, old_name, old, new_dir, new_name, new)?;
                drop(handle);
                dirsync(&[&*old_dir, &*new_dir], "rename");
                return Ok(());
            }
            RenameTarget::Replace(victim) => Some(victim),
            RenameTarget::Free => None,
        };
        let is_dir = old.file_type() == FileType::Directory;
        let moves_dir = is_dir && old_dir.ino() != new_dir.ino();
        let ft = dir::ft_of(old.file_type());
        check_link_counts(&old_dir, old, is_dir)?;
        if let Some(victim) = new {
            let victim_is_dir = victim.file_type() == FileType::Directory;
            check_link_counts(&new_dir, &victim, victim_is_dir)?;
            if victim_is_dir && !dir::is_empty(&victim)? {
                return Err(enotempty());
            }
        } else if is_dir && new_dir.nlink() >= u32::from(u16::MAX) {
            return Err(EMLINK);
        }
        // The whiteout, in the inode table before its name (as `create`).
        let whiteout = match flags.whiteout() {
            Some(owner) => {
                let w = new_inode(
                    &old_dir,
                    FileType::CharDevice,
                    kfs::dir::WHITEOUT_MODE,
                    &[],
                    kfs::dir::WHITEOUT_RDEV,
                    owner,
                )?;
                inode::write_inode(w.inode(), false)?;
                Some(w)
            }
            None => None,
        };
        // Link counts follow ext2: the moved directory's ".." counts against
        // its new parent unless it replaces a directory (whose ".." goes), and
        // stops counting against the old parent.
        match new {
            Some(victim) => {
                dir::retarget(&new_dir, new_name, old.ino(), ft)?;
                if victim.file_type() == FileType::Directory {
                    victim.clear_nlink();
                } else {
                    victim.drop_nlink();
                }
                orphaned(&victim);
                victim.touch_ctime();
                victim.mark_dirty();
            }
            None => {
                dir::add(new_dir, new_name, old.ino(), ft)?;
                if is_dir {
                    new_dir.inc_nlink();
                }
            }
        }
        match &whiteout {
            Some(w) => {
                let ft = dir::ft_of(FileType::CharDevice);
                dir::retarget(&old_dir, old_name, w.inode().ino(), ft)?;
            }
            None => {
                dir::remove(&old_dir, old_name)?;
            }
        }
        if let Some(w) = whiteout {
            w.inode().mark_dirty();
            w.release();
        }
        if is_dir {
            if moves_dir {
                dir::retarget(old, b"..", new_dir.ino(), format::FT_DIR)?;
            }
            old_dir.drop_nlink();
        }
        old.touch_ctime();
        old.mark_dirty();
        for d in [old_dir, new_dir] {
            d.touch_cmtime();
            d.mark_dirty();
        }
        drop(handle);
        dirsync(&[&*old_dir, &*new_dir], "rename");
        Ok(())
    }

    fn flags(inode: &Inode<Rsfs>) -> u32 {
        inode.data().flags()
    }

    fn set_flags(inode: Locked<'_, Rsfs>, flags: u32) -> Result {
        inode::set_flags(inode, flags)
    }
}
