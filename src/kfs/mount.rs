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
    export::ExportTable,
    fs_type::{MountFlags, Tables},
    ops::if_has,
    super_block, sys, FileSystem, SuperBlock,
};

/// The options parsed into `fc` (see `init_fs_context`).
///
/// # Safety
///
/// `fc` must be a valid filesystem context of a type whose
/// `init_fs_context` is [`Mount::init_fs_context`].
unsafe fn flags_of(fc: *mut sys::fs_context) -> MountFlags {
    // SAFETY: `fc` is valid, and its `fs_private` holds option bits (see
    // `init_fs_context` and `parse_param`).
    let word = unsafe { (*fc).fs_private as usize } as u64;
    MountFlags::from_parts(word as u32, (word >> 32) as u32)
}

/// `fs_private`'s word for `flags`: the bits on in its low half, those off
/// in its high half.
fn word_of(flags: MountFlags) -> usize {
    let (on, off) = flags.parts();
    (u64::from(on) | u64::from(off) << 32) as usize
}

// Both halves fit in the pointer-sized word.
const _: () = assert!(core::mem::size_of::<usize>() >= 8);

/// The mount callbacks of filesystem `T`.
pub(super) struct Mount<T>(PhantomData<T>);

impl<T: FileSystem> Mount<T> {
    const CONTEXT_OPS: sys::fs_context_operations = sys::fs_context_operations {
        free: None,
        dup: None,
        parse_param: Some(Self::parse_param),
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
        // `fs_private` holds the bits of `T::MOUNT_FLAGS` given so far (a
        // word, not a pointer: there is no `free` to release it; see
        // `flags_of`).
        // SAFETY: `fc` is valid per the function's safety requirement, and
        // `CONTEXT_OPS` is a promoted constant, so it lives forever.
        unsafe {
            (*fc).ops = &Self::CONTEXT_OPS;
            (*fc).fs_private = core::ptr::null_mut();
        }
        0
    }

    /// `fs_context_operations::parse_param`: one option, after the VFS has
    /// taken its own (`ro`, `sync`, ...). The entries of `T::MOUNT_FLAGS`
    /// it matches (a flag by its name, `key=value` by both) turn their
    /// bits on or off, whatever an earlier option did. A flag given a
    /// value, or a key of a `key=value` entry given no value or one no
    /// entry has, is EINVAL; any other gives ENOPARAM, so that the VFS
    /// takes "source" and refuses the rest with EINVAL.
    ///
    /// # Safety
    ///
    /// `fc` must be a valid filesystem context of this type, and `param`
    /// a valid parameter, as `vfs_parse_fs_param` provides.
    unsafe extern "C" fn parse_param(
        fc: *mut sys::fs_context,
        param: *mut sys::fs_parameter,
    ) -> kernel::ffi::c_int {
        // SAFETY: `param` is valid, and its key a NUL-terminated string, per
        // the function's safety requirement; so is its value, if it has a
        // string one, which lives as long as `param`.
        let (key_c, is_flag, value) = unsafe {
            let value = sys::rsfs_param_string(param);
            (
                CStr::from_char_ptr(sys::rsfs_param_key(param)),
                sys::rsfs_param_is_flag(param),
                (!value.is_null()).then(|| CStr::from_char_ptr(value)),
            )
        };
        let key = key_c.as_bytes();
        // `name` is `key`, or `key=value` with `value` what it says.
        let is_key_of = |name: &[u8]| {
            name.len() > key.len() && name.starts_with(key) && name[key.len()] == b'='
        };
        let mut matched = false;
        // SAFETY: `fc` is a context of this type, as the caller guarantees.
        let mut flags = unsafe { flags_of(fc) };
        for &(name, bits, on) in T::MOUNT_FLAGS {
            let name = name.as_bytes();
            let hit = if name == key {
                if !is_flag {
                    pr_err!("{}: mount option {} takes no value\n", T::NAME, key_c);
                    return EINVAL.to_errno();
                }
                true
            } else {
                is_key_of(name) && value.is_some_and(|v| &name[key.len() + 1..] == v.as_bytes())
            };
            if hit {
                matched = true;
                let (was_on, was_off) = flags.parts();
                flags = if on {
                    MountFlags::from_parts(was_on | bits, was_off & !bits)
                } else {
                    MountFlags::from_parts(was_on & !bits, was_off | bits)
                };
            }
        }
        if !matched {
            if T::MOUNT_FLAGS
                .iter()
                .any(|(name, _, _)| is_key_of(name.as_bytes()))
            {
                pr_err!("{}: bad value for mount option {}\n", T::NAME, key_c);
                return EINVAL.to_errno();
            }
            return -sys::RSFS_ENOPARAM;
        }
        // SAFETY: `fc` is valid per the function's safety requirement, and
        // its `fs_private` ours (see `init_fs_context`).
        unsafe { (*fc).fs_private = word_of(flags) as *mut _ };
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

    /// `fs_context_operations::reconfigure` (`mount -o remount`): the
    /// read-only flag and the options `parse_param` took from
    /// `T::MOUNT_FLAGS` go to [`FileSystem::remount`]; the VFS handles the
    /// other flags.
    ///
    /// # Safety
    ///
    /// `fc` must be a reconfiguration context of a mounted superblock of
    /// this type, with `s_umount` held for writing, as `reconfigure_super`
    /// provides.
    unsafe extern "C" fn reconfigure(fc: *mut sys::fs_context) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: Per the function's safety requirement, `fc->root` is
            // the root of a mounted superblock of type `T`, and `fc` a
            // context set up by `init_fs_context`.
            let (sb, read_only, asked, flags) = unsafe {
                (
                    SuperBlock::<T>::from_raw((*(*fc).root).d_sb),
                    (*fc).sb_flags & sys::RSFS_SB_RDONLY as u32 != 0,
                    (*fc).sb_flags_mask & sys::RSFS_SB_RDONLY as u32 != 0,
                    flags_of(fc),
                )
            };
            let read_only = if asked { read_only } else { sb.is_read_only() };
            if read_only != sb.is_read_only() || !flags.is_empty() {
                T::remount(sb, read_only, flags)?;
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
        fc: *mut sys::fs_context,
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
                if let Some(handlers) = T::XATTRS {
                    (*sb).s_xattr = handlers.as_raw();
                    if handlers.posix_acls() {
                        (*sb).s_flags |= sys::RSFS_SB_POSIXACL;
                    }
                }
            }
            // SAFETY: `fc` is the context of this mount (`get_tree_bdev`
            // passes it), set up by `init_fs_context`.
            let flags = unsafe { flags_of(fc) };
            let info = T::fill_super(new_sb, flags)?;
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
