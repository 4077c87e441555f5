// SPDX-License-Identifier: GPL-2.0

//! rsfs: a block-device filesystem whose regular-file data goes through the
//! kernel's page cache and is written back by rsfs's own Rust code.
//!
//! The crate has two layers. [`kfs`] wraps the kernel's C API in safe types
//! and holds every `unsafe` block of the module. The rest (this file,
//! [`super_`], [`inode`]) is the filesystem itself, written in safe Rust
//! against `kfs`, and [`format`] is the on-disk format shared with the
//! userspace tools.

use kernel::{c_str, prelude::*, types::ARef};

#[allow(dead_code, unreachable_pub)]
mod format;
mod inode;
mod kfs;
#[path = "super.rs"]
mod super_;

module! {
    type: RsfsModule,
    name: "rsfs",
    author: "The rsfs developers",
    description: "rsfs: a block-device filesystem with a Rust page-cache data path",
    license: "GPL",
}

/// The filesystem type's static storage (see [`kfs::FsTypeStorage`]).
static FS_TYPE: kfs::FsTypeStorage = kfs::FsTypeStorage::new();

/// The loaded module: rsfs is registered for as long as it lives.
struct RsfsModule {
    _registration: kfs::Registration,
}

impl kernel::Module for RsfsModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let registration = kfs::Registration::new::<Rsfs>(&FS_TYPE, module)?;
        pr_info!(
            "filesystem type {} registered\n",
            <Rsfs as kfs::FileSystem>::NAME
        );
        Ok(Self {
            _registration: registration,
        })
    }
}

/// The rsfs filesystem type.
pub(crate) struct Rsfs;

#[vtable]
impl kfs::FileSystem for Rsfs {
    const NAME: &'static CStr = c_str!("rsfs");
    type Info = super_::Info;

    fn fill_super(sb: &kfs::SuperBlock<Self, kfs::New>) -> Result<Self::Info> {
        super_::fill_super(sb)
    }

    fn root(sb: &kfs::SuperBlock<Self>) -> Result<ARef<kfs::Inode<Self>>> {
        inode::root(sb)
    }

    fn statfs(sb: &kfs::SuperBlock<Self>) -> Result<kfs::StatFs> {
        Ok(super_::statfs(sb))
    }
}
