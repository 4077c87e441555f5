// SPDX-License-Identifier: GPL-2.0

//! Mounting and unmounting a filesystem of type `T`: the
//! `file_system_type` callbacks (`init_fs_context`, `kill_sb`), the
//! `fs_context_operations` of mount and remount, and `fill_super`, which
//! gives a new superblock its tables ([`super::fs_type`],
//! [`super::export`]) and asks the filesystem to read it.
//!
//! C header: [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h).

use core::marker::PhantomData;
use kernel::{error::from_result, prelude::*, types::ForeignOwnable};

use super::{
    export::ExportTable, fs_type::Tables, ops::if_has, super_block, sys, FileSystem, SuperBlock,
};

/// The mount callbacks of filesystem `T`.
pub(super) struct Mount<T>(PhantomData<T>);

impl<T: FileSystem> Mount<T> {
    const CONTEXT_OPS: sys::fs_context_operations = sys::fs_context_operations {
        free: None,
        dup: None,
        parse_param: None,
        parse_monolithic: None,
        get_tree: Some(Self::get_tree),
        reconfigure: if_has(T::HAS_REMOUNT, Self::reconfigure),
    };

    /// `file_system_type::init_fs_context`.
    ///
    /// # Safety
    ///
    /// `fc` must be a valid filesystem context being set up by the VFS.
    pub(super) unsafe extern "C" fn init_fs_context(
        fc: *mut sys::fs_context,
    ) -> kernel::ffi::c_int {
        // Without `parse_param`, the VFS accepts only the "source" option and
        // rejects any other with EINVAL.
        // SAFETY: `fc` is valid per the function's safety requirement, and
        // `CONTEXT_OPS` is a promoted constant, so it lives forever.
        unsafe { (*fc).ops = &Self::CONTEXT_OPS };
        0
    }

    /// `fs_context_operations::get_tree`.
    ///
    /// # Safety
    ///
    /// `fc` must be a valid filesystem context for this filesystem type.
    unsafe extern "C" fn get_tree(fc: *mut sys::fs_context) -> kernel::ffi::c_int {
        // SAFETY: `fc` is valid per the function's safety requirement.
        unsafe { sys::get_tree_bdev(fc, Some(Self::fill_super)) }
    }

    /// `fs_context_operations::reconfigure` (`mount -o remount`). Only the
    /// read-only flag is the filesystem's business: the VFS handles the
    /// other flags, and rejects options (there is no `parse_param`).
    ///
    /// # Safety
    ///
    /// `fc` must be a reconfiguration context of a mounted superblock of
    /// this type, with `s_umount` held for writing, as `reconfigure_super`
    /// provides.
    unsafe extern "C" fn reconfigure(fc: *mut sys::fs_context) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: Per the function's safety requirement, `fc->root` is
            // the root of a mounted superblock of type `T`.
            let (sb, read_only, asked) = unsafe {
                (
                    SuperBlock::<T>::from_raw((*(*fc).root).d_sb),
                    (*fc).sb_flags & sys::RSFS_SB_RDONLY as u32 != 0,
                    (*fc).sb_flags_mask & sys::RSFS_SB_RDONLY as u32 != 0,
                )
            };
            if asked && read_only != sb.is_read_only() {
                T::remount(sb, read_only)?;
            }
            Ok(0)
        })
    }

    /// The `fill_super` callback of `get_tree_bdev`.
    ///
    /// # Safety
    ///
    /// `sb` must be a new superblock of this type whose block device is
    /// open, with `s_umount` held for writing, as `get_tree_bdev` provides.
    unsafe extern "C" fn fill_super(
        sb: *mut sys::super_block,
        _fc: *mut sys::fs_context,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: `sb` is a new superblock per the function's safety
            // requirement; `s_fs_info` is null until set below.
            let new_sb = unsafe { SuperBlock::<T, super_block::New>::from_raw(sb) };
            // SAFETY: `sb` is valid, and its fields are ours to set until
            // `fill_super` returns.
            unsafe {
                (*sb).s_op = &Tables::<T>::SUPER_OPS;
                (*sb).s_time_gran = 1;
                if T::HAS_INODE_FOR_HANDLE {
                    (*sb).s_export_op = &ExportTable::<T>::TABLE;
                }
            }
            let info = T::fill_super(new_sb)?;
            // SAFETY: As above. From here on the superblock owns `info`;
            // `kill_sb` frees it, on this function's error paths too.
            unsafe { (*sb).s_fs_info = info.into_foreign() as *mut _ };
            // SAFETY: `s_fs_info` now holds a `Pin<KBox<T::Info>>`.
            let sb = unsafe { SuperBlock::<T>::from_raw(sb) };
            let root = T::root(sb)?;
            // SAFETY: `d_make_root` takes over the inode reference, and
            // drops it itself if it fails.
            let dentry = unsafe { sys::d_make_root(root.into_raw()) };
            if dentry.is_null() {
                return Err(ENOMEM);
            }
            // SAFETY: The superblock is being set up and `s_root` is ours.
            unsafe { (*sb.as_raw()).s_root = dentry };
            Ok(0)
        })
    }

    /// `file_system_type::kill_sb`.
    ///
    /// # Safety
    ///
    /// `sb` must be a superblock of this type that the VFS is destroying.
    pub(super) unsafe extern "C" fn kill_sb(sb: *mut sys::super_block) {
        // SAFETY: `sb` is valid per the function's safety requirement; it
        // was set up by `get_tree_bdev`.
        let info = unsafe {
            sys::kill_block_super(sb);
            (*sb).s_fs_info
        };
        if !info.is_null() {
            // SAFETY: A non-null `s_fs_info` was set by `fill_super` from
            // `into_foreign`, and nothing uses it after `kill_block_super`
            // has shut the superblock down.
            drop(unsafe { <Pin<KBox<T::Info>> as ForeignOwnable>::from_foreign(info) });
        }
    }
}
