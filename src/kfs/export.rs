// SPDX-License-Identifier: GPL-2.0

//! File handles: the `export_operations` table, from
//! [`FileSystem::inode_for_handle`].
//!
//! With it, `name_to_handle_at(2)`/`open_by_handle_at(2)` work and the
//! filesystem can be exported over NFS. A handle holds the inode number and
//! generation in 32 bits each (`generic_encode_ino32_fh`, as ext2's), and
//! the parent is found through the directory's `..` entry.
//!
//! C header: [`include/linux/exportfs.h`](srctree/include/linux/exportfs.h).

use kernel::prelude::*;

use core::marker::PhantomData;

use super::{ops::if_has, sys, FileSystem, Inode, InodeRef, SuperBlock};

/// An `ERR_PTR` for `e`, or the dentry of `inode`'s alias (which takes
/// over the inode reference either way).
fn alias_of<T: FileSystem>(inode: Result<InodeRef<T>>) -> *mut sys::dentry {
    match inode {
        // SAFETY: `d_obtain_alias` takes the reference we own.
        Ok(inode) => unsafe { sys::d_obtain_alias(inode.into_raw()) },
        Err(e) => e.to_ptr(),
    }
}

/// The `export_operations` table of filesystem `T`, and its trampolines.
pub(super) struct ExportTable<T>(PhantomData<T>);

impl<T: FileSystem> ExportTable<T> {
    pub(super) const TABLE: sys::export_operations = sys::export_operations {
        encode_fh: Some(sys::generic_encode_ino32_fh),
        fh_to_dentry: Some(Self::fh_to_dentry),
        fh_to_parent: Some(Self::fh_to_parent),
        get_parent: if_has(T::HAS_PARENT, Self::get_parent),
        // SAFETY: All-zero is a valid `export_operations`: every field is
        // an optional function pointer or a flags word.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// The inode a handle names, for `generic_fh_to_dentry`.
    ///
    /// # Safety
    ///
    /// `sb` must be one of our live, set-up superblocks.
    unsafe extern "C" fn handle_inode(
        sb: *mut sys::super_block,
        ino: u64,
        generation: u32,
    ) -> *mut sys::inode {
        // SAFETY: `sb` is a live, set-up superblock of `T`, as the caller
        // guarantees.
        let sb = unsafe { SuperBlock::<T>::from_raw(sb) };
        match T::inode_for_handle(sb, ino, generation) {
            Ok(inode) => inode.into_raw(),
            Err(e) => e.to_ptr(),
        }
    }

    /// `export_operations::fh_to_dentry`.
    ///
    /// # Safety
    ///
    /// Called by the exportfs code with one of our superblocks and a handle
    /// of `fh_len` words.
    unsafe extern "C" fn fh_to_dentry(
        sb: *mut sys::super_block,
        fid: *mut sys::fid,
        fh_len: kernel::ffi::c_int,
        fh_type: kernel::ffi::c_int,
    ) -> *mut sys::dentry {
        // SAFETY: `sb` is one of our superblocks and `fid` a handle of
        // `fh_len` words, as the caller guarantees; the generic decoder
        // checks the handle's length and type before it reads it.
        unsafe { sys::generic_fh_to_dentry(sb, fid, fh_len, fh_type, Some(Self::handle_inode)) }
    }

    /// `export_operations::fh_to_parent`.
    ///
    /// # Safety
    ///
    /// As for [`Self::fh_to_dentry`].
    unsafe extern "C" fn fh_to_parent(
        sb: *mut sys::super_block,
        fid: *mut sys::fid,
        fh_len: kernel::ffi::c_int,
        fh_type: kernel::ffi::c_int,
    ) -> *mut sys::dentry {
        // SAFETY: As above.
        unsafe { sys::generic_fh_to_parent(sb, fid, fh_len, fh_type, Some(Self::handle_inode)) }
    }

    /// `export_operations::get_parent`: the directory's `..`.
    ///
    /// # Safety
    ///
    /// Called by the exportfs code with a positive dentry of one of our
    /// directories, whose inode it holds a reference to.
    unsafe extern "C" fn get_parent(child: *mut sys::dentry) -> *mut sys::dentry {
        // SAFETY: The dentry is positive and its inode one of ours
        // (safety requirement).
        let dir = unsafe { Inode::<T>::from_raw((*child).d_inode) };
        alias_of(T::parent(dir))
    }
}
