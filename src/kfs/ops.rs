// SPDX-License-Identifier: GPL-2.0

//! [`Ops`], the one type of every C operations table that kfs builds: each
//! table module (`inode_ops`, `file`, `address_space`, `vm`, `iomap`) names
//! its own as `Ops<T>` and gives it a `new` that builds the table from a
//! `#[vtable]` implementation.

use core::marker::PhantomData;

use super::FsData;

/// A C operations table of type `C` for filesystem `T`, built at compile
/// time.
///
/// # Invariants
///
/// `0` is a static table whose callbacks expect the objects (inodes, files,
/// mappings) of filesystem `T`.
pub(crate) struct Ops<C: 'static, T: FsData>(&'static C, PhantomData<T>);

impl<C, T: FsData> Clone for Ops<C, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C, T: FsData> Copy for Ops<C, T> {}

impl<C, T: FsData> Ops<C, T> {
    /// Wraps a table.
    ///
    /// # Safety
    ///
    /// The callbacks of `table` must expect the objects of `T`.
    pub(super) const unsafe fn from_table(table: &'static C) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(table, PhantomData)
    }

    /// The C table.
    pub(super) fn as_raw(self) -> &'static C {
        self.0
    }
}

/// Returns `Some(f)` if the filesystem implements the method.
pub(super) const fn if_has<F: Copy>(has: bool, f: F) -> Option<F> {
    if has {
        Some(f)
    } else {
        None
    }
}
