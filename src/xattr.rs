// SPDX-License-Identifier: GPL-2.0

//! Extended attributes (`user.`, `trusted.`, `security.`) and POSIX ACLs:
//! all of an inode's live in one block of their own, which the inode names
//! (`format::XattrHeader`), as ext2 keeps them. An ACL is the value of an
//! attribute with an empty name in namespace `XATTR_INDEX_POSIX_ACL_*`,
//! in the VFS's format (see `kfs::acl`).
//!
//! A change rewrites the block in place under a transaction handle, so
//! the journal commits the block together with the inode that names it;
//! the first attribute allocates the block, and removing the last frees
//! it. An inode's attributes are read and changed under its `xattr` lock
//! (`InodeInfo::xattr`), so a reader never sees a block being freed or
//! half rewritten. Lock order: a transaction handle, then `xattr`, then
//! the block map.

use kernel::prelude::*;

use crate::{
    alloc, format, inode,
    kfs::{
        self,
        acl::AclType,
        sb_err,
        xattr::{Names, Namespace, Operations, SetMode},
        FileType, Inode, Locked,
    },
    shutdown, super_, txn, Rsfs,
};

/// The extended attributes of rsfs's inodes ([`kfs::FileSystem::XATTRS`]).
pub(crate) struct Xattrs;

/// The on-disk index of a namespace.
fn index_of(ns: Namespace) -> u8 {
    match ns {
        Namespace::User => format::XATTR_INDEX_USER,
        Namespace::Trusted => format::XATTR_INDEX_TRUSTED,
        Namespace::Security => format::XATTR_INDEX_SECURITY,
    }
}

/// The on-disk index of an ACL.
fn acl_index(ty: AclType) -> u8 {
    match ty {
        AclType::Access => format::XATTR_INDEX_POSIX_ACL_ACCESS,
        AclType::Default => format::XATTR_INDEX_POSIX_ACL_DEFAULT,
    }
}

/// The ACL of an on-disk index, if it is one.
fn acl_of(index: u8) -> Option<AclType> {
    match index {
        format::XATTR_INDEX_POSIX_ACL_ACCESS => Some(AclType::Access),
        format::XATTR_INDEX_POSIX_ACL_DEFAULT => Some(AclType::Default),
        _ => None,
    }
}

/// The namespace of an on-disk index, for the ones `listxattr` shows.
fn namespace_of(index: u8) -> Option<Namespace> {
    match index {
        format::XATTR_INDEX_USER => Some(Namespace::User),
        format::XATTR_INDEX_TRUSTED => Some(Namespace::Trusted),
        format::XATTR_INDEX_SECURITY => Some(Namespace::Security),
        _ => None,
    }
}

/// Checks the contents of `block`, the extended-attribute block of
/// `inode`, and gives its entries; damage is reported and is EUCLEAN.
fn entries<'a>(inode: &Inode<Rsfs>, block: u64, data: &'a [u8]) -> Result<format::XattrIter<'a>> {
    format::xattrs(data, inode.ino(), kfs::crc32c).map_err(|e| {
        let sb = inode.super_block();
        sb_err!(
            sb,
            "inode {}: extended-attribute block {}: {}",
            inode.ino(),
            block,
            e.as_str()
        );
        shutdown::damaged(sb)
    })
}

/// Runs `f` on the inode's attributes (none if it has no block), with its
/// `xattr` lock held.
fn with_entries<R>(
    inode: &Inode<Rsfs>,
    f: impl FnOnce(format::XattrIter<'_>) -> Result<R>,
) -> Result<R> {
    let sb = inode.super_block();
    shutdown::alive(sb)?;
    let _lock = inode.data().xattr.lock();
    let block = inode.data().map().xattr_block();
    if block == 0 {
        return f(format::XattrIter::empty());
    }
    let bh = super_::read_block(sb, block)?;
    let g = bh.lock();
    f(entries(inode, block, g.data())?)
}

#[vtable]
impl Operations for Xattrs {
    type FileSystem = Rsfs;

    fn get(inode: &Inode<Rsfs>, ns: Namespace, name: &[u8], value: &mut [u8]) -> Result<usize> {
        let key = (index_of(ns), name);
        with_entries(inode, |mut entries| {
            let e = entries.find(|e| e.key() == key).ok_or(kfs::enodata())?;
            if !value.is_empty() {
                value
                    .get_mut(..e.value.len())
                    .ok_or(ERANGE)?
                    .copy_from_slice(e.value);
            }
            Ok(e.value.len())
        })
    }

    /// A symlink has no ACLs (the VFS gives EOPNOTSUPP for them), so none
    /// is listed, whatever a damaged block says.
    fn list(inode: &Inode<Rsfs>, names: &mut Names<'_>) -> Result {
        let acls = inode.file_type() != FileType::Symlink;
        with_entries(inode, |entries| {
            for e in entries {
                if let Some(ns) = namespace_of(e.index) {
                    names.add(ns, e.name)?;
                } else if let Some(ty) = acl_of(e.index).filter(|_| acls) {
                    names.add_acl(ty)?;
                }
            }
            Ok(())
        })
    }

    /// A change of the attributes is a change of the inode (its ctime),
    /// and with `IS_SYNC` (`mount -o sync`, `chattr +S`) it is committed
    /// before the call returns, as ext4 commits it.
    fn set(
        inode: Locked<'_, Rsfs>,
        ns: Namespace,
        name: &[u8],
        value: Option<&[u8]>,
        mode: SetMode,
    ) -> Result {
        // As ext2: a value larger than a block can never fit (ERANGE);
        // one that does not fit beside the others is ENOSPC.
        if name.len() > format::XATTR_NAME_MAX
            || value.is_some_and(|v| v.len() > format::BLOCK_SIZE)
        {
            return Err(ERANGE);
        }
        commit_change(inode, (index_of(ns), name, value), mode, None)
    }

    fn get_acl(inode: &Inode<Rsfs>, ty: AclType) -> Result<Option<KVec<u8>>> {
        let key = (acl_index(ty), &[][..]);
        with_entries(inode, |mut entries| {
            let Some(e) = entries.find(|e| e.key() == key) else {
                return Ok(None);
            };
            let mut v = KVec::with_capacity(e.value.len(), GFP_KERNEL)?;
            v.extend_from_slice(e.value, GFP_KERNEL)?;
            Ok(Some(v))
        })
    }

    /// An ACL and the mode that goes with it change in one handle, so no
    /// commit has one without the other.
    fn set_acl(
        inode: Locked<'_, Rsfs>,
        ty: AclType,
        acl: Option<&[u8]>,
        mode: Option<u16>,
    ) -> Result {
        if acl.is_some_and(|v| v.len() > format::BLOCK_SIZE) {
            return Err(ERANGE);
        }
        commit_change(inode, (acl_index(ty), b"", acl), SetMode::Any, mode)
    }
}

/// Before a deleted inode's blocks are freed: its extended-attribute block
/// goes with them only if it is its own (sound, and naming it as owner).
/// One that is not (a damaged disk, which a read would have reported) is
/// left allocated for fsck.rsfs, rather than freed from under the file
/// whose block it may be, as ext4 checks its block before it frees it.
pub(crate) fn check_before_release(inode: &Inode<Rsfs>) {
    let sb = inode.super_block();
    let block = inode.data().map().xattr_block();
    if block == 0 {
        return;
    }
    let own = super_::read_block(sb, block).is_ok_and(|bh| {
        let g = bh.lock();
        format::xattrs(g.data(), inode.ino(), kfs::crc32c).is_ok()
    });
    if !own {
        sb_err!(
            sb,
            "inode {}: extended-attribute block {} is not its own; not freed (run fsck.rsfs)",
            inode.ino(),
            block
        );
        let _ = shutdown::damaged(sb);
        inode.data().map().set_xattr_block(0);
    }
}

/// Gives a new inode, within the handle that creates it, the ACLs it
/// takes from its directory `dir` (`Locked::inherit_acls`: the default
/// ACL's, or else the umask's, bits come off its mode).
pub(crate) fn inherit_acls(dir: &Inode<Rsfs>, inode: Locked<'_, Rsfs>) -> Result {
    let acls = inode.inherit_acls(dir)?;
    for (ty, acl) in [
        (AclType::Default, acls.default),
        (AclType::Access, acls.access),
    ] {
        if let Some(acl) = acl {
            change(&inode, (acl_index(ty), b"", Some(&acl)), SetMode::Any)?;
        }
    }
    Ok(())
}

/// [`change`] in a handle of its own, with the inode's new mode if
/// `new_mode` gives one: the change is a change of the inode (ctime), and
/// with `IS_SYNC` it is committed before this returns.
fn commit_change(
    inode: Locked<'_, Rsfs>,
    what: (u8, &[u8], Option<&[u8]>),
    mode: SetMode,
    new_mode: Option<u16>,
) -> Result {
    {
        let _handle = txn::begin(inode.super_block())?;
        let changed = change(&inode, what, mode);
        if changed.is_ok() {
            if let Some(m) = new_mode {
                inode.set_mode(m);
            }
            inode.touch_ctime();
        }
        // Even after a failure: one may come after the block map changed.
        inode.mark_dirty();
        changed?;
    }
    inode::sync_if_synchronous(&inode)
}

/// Makes `change` to the attributes of `inode` (see [`format::xattrs_with`]),
/// within the caller's handle.
fn change(inode: &Inode<Rsfs>, change: (u8, &[u8], Option<&[u8]>), mode: SetMode) -> Result {
    let sb = inode.super_block();
    let info = inode.data();
    let _lock = info.xattr.lock();
    let old = info.map().xattr_block();
    let mut new = KVec::from_elem(0u8, format::BLOCK_SIZE, GFP_KERNEL)?;
    let old_bh = if old != 0 {
        Some(super_::read_block(sb, old)?)
    } else {
        None
    };
    let count = {
        let g = old_bh.as_ref().map(|bh| bh.lock());
        let old_entries = match &g {
            Some(g) => Some(entries(inode, old, g.data())?),
            None => None,
        };
        let exists = old_entries
            .as_ref()
            .is_some_and(|it| it.clone().any(|e| e.key() == (change.0, change.1)));
        match mode {
            SetMode::Create | SetMode::Both if exists => return Err(EEXIST),
            SetMode::Replace | SetMode::Both if !exists => return Err(kfs::enodata()),
            _ => {}
        }
        let old_entries = old_entries.into_iter().flatten();
        format::xattrs_with(old_entries, change, inode.ino(), &mut new, kfs::crc32c)
            .map_err(|_| ENOSPC)?
    };
    match (old_bh, count) {
        // The last attribute is gone: so is the block.
        (Some(_), 0) => {
            info.map().set_xattr_block(0);
            alloc::free_blocks(sb, old, 1)?;
        }
        (Some(bh), _) => {
            bh.lock().data_mut().copy_from_slice(&new);
            txn::dirty(sb, &bh);
        }
        (None, 0) => {}
        (None, _) => {
            let goal = info.map().goal();
            let (block, _) = alloc::alloc_blocks(sb, goal, 1)?;
            let bh = match sb.bnew(block) {
                Ok(bh) => bh,
                Err(e) => {
                    let _ = alloc::free_blocks(sb, block, 1);
                    return Err(e);
                }
            };
            bh.lock().data_mut().copy_from_slice(&new);
            txn::dirty(sb, &bh);
            info.map().set_xattr_block(block);
        }
    }
    inode.set_sectors(info.map().blocks() * (format::BLOCK_SIZE / 512) as u64);
    Ok(())
}
