// SPDX-License-Identifier: GPL-2.0

//! VM operations: what page faults on a file's shared mappings call
//! (`struct vm_operations_struct`).
//!
//! Faults read through the page cache (`filemap_fault`,
//! `filemap_map_pages`); a filesystem implements [`Operations`] for what it
//! must add, and gives [`Ops::new`] of its type to [`Mmap::set_ops`] when
//! a file is mapped.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h).

use core::marker::PhantomData;
use kernel::prelude::*;

use super::{
    io::{has_aops, File, Needs},
    ops::if_has,
    sys, FsData, Inode, LockedFolio,
};

/// A shared or private mapping of a file being set up (`->mmap`).
///
/// # Invariants
///
/// `file` is an open file of filesystem `T`, `vma` is valid, and the VMA
/// maps the file, being set up by the VFS, for `'a`.
pub(crate) struct Mmap<'a, T: FsData> {
    file: *mut sys::file,
    vma: *mut sys::vm_area_struct,
    _p: PhantomData<(&'a mut (), T)>,
}

impl<'a, T: FsData> Mmap<'a, T> {
    /// # Safety
    ///
    /// `file` and `vma` must satisfy the type invariants for `'a`.
    pub(super) unsafe fn from_raw(file: *mut sys::file, vma: *mut sys::vm_area_struct) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            file,
            vma,
            _p: PhantomData,
        }
    }

    /// The mapped file's inode.
    pub(crate) fn inode(&self) -> &Inode<T> {
        // SAFETY: The file is an open file of `T` (type invariant): its
        // inode is an initialised inode of `T`, which lives while the file
        // is open, at least for `'a`.
        unsafe { Inode::from_raw((*self.file).f_inode) }
    }

    /// Serves the mapping's faults from the page cache with `ops`, as
    /// `generic_file_mmap` does (`file_accessed`, then `vm_ops`). EINVAL
    /// if the file's page cache has no `read_folio`, which faults call.
    pub(crate) fn set_ops(&mut self, ops: Ops<T>) -> Result {
        // SAFETY: The file is valid (type invariant).
        if !unsafe { has_aops(self.file, Needs::Read) } {
            return Err(EINVAL);
        }
        // SAFETY: Both are valid and being set up (type invariant); the
        // table is static, and built for the files of `T`, which this is.
        unsafe { sys::rsfs_file_mmap_set_ops(self.file, self.vma, ops.as_raw()) };
        Ok(())
    }
}

/// A page fault on a mapped file of filesystem `T` (`struct vm_fault`),
/// borrowed for one call.
///
/// # Invariants
///
/// `0` is valid for `'a`, and its VMA maps an open file of `T`, whose page
/// cache holds the faulting folio, referenced for the fault.
pub(crate) struct Fault<'a, T: FsData>(*mut sys::vm_fault, PhantomData<(&'a (), T)>);

impl<T: FsData> Fault<'_, T> {
    /// The mapped file.
    pub(crate) fn file(&self) -> &File {
        // SAFETY: The VMA of a valid fault maps an open file (type
        // invariant), which lives while it is mapped.
        unsafe { File::from_raw(sys::rsfs_vmf_file(self.0)) }
    }

    /// The inode of the mapped file.
    pub(crate) fn inode(&self) -> &Inode<T> {
        // SAFETY: The mapped file is open and of `T` (type invariant), so
        // its inode is a live, initialised inode of `T`.
        unsafe { Inode::from_raw(sys::rsfs_file_inode(sys::rsfs_vmf_file(self.0))) }
    }

    /// Locks the faulting folio (sleeping until it is free). It may have
    /// been truncated meanwhile: see [`LockedFolio::belongs_to`].
    pub(crate) fn lock_folio(&self) -> LockedFolio {
        // SAFETY: The faulting folio is valid and referenced for the fault
        // (type invariant); a fault handler may sleep.
        unsafe {
            let f = sys::rsfs_vmf_folio(self.0);
            sys::rsfs_folio_lock(f);
            LockedFolio::from_locked(f)
        }
    }
}

/// What [`Operations::page_mkwrite`] did.
pub(crate) enum MkWrite {
    /// The folio may now be written through the mapping: it is dirty, and
    /// stays locked until the fault has mapped it (`VM_FAULT_LOCKED`). It
    /// must be the faulting folio ([`Fault::lock_folio`]); any other gets
    /// the writer SIGBUS.
    Locked(LockedFolio),
    /// The folio left the file meanwhile (truncated): the fault is retried
    /// from the start (`VM_FAULT_NOPAGE`).
    Retry,
}

/// The operations of a filesystem's shared file mappings.
#[vtable]
pub(crate) trait Operations {
    /// The filesystem whose files these are.
    type FileSystem: FsData;

    /// A read-only page of a shared mapping is about to become writable:
    /// make its folio ready to be dirtied (disk space, above all). An error
    /// gets the writer SIGBUS (`vmf_fs_error`).
    fn page_mkwrite(_fault: &Fault<'_, Self::FileSystem>) -> Result<MkWrite> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// A `vm_operations_struct` table for the files of filesystem `T`.
pub(crate) type Ops<T> = super::ops::Ops<sys::vm_operations_struct, T>;

impl<T: FsData> Ops<T> {
    /// The table of `U`'s operations.
    pub(crate) const fn new<U: Operations<FileSystem = T>>() -> Self {
        // SAFETY: `Table::<U>::TABLE` is a promoted constant whose callbacks
        // expect the objects of `U::FileSystem`, which is `T`.
        unsafe { Self::from_table(&Table::<U>::TABLE) }
    }
}

/// The C table of an [`Operations`] implementation, and its trampoline.
struct Table<U>(PhantomData<U>);

impl<U: Operations> Table<U> {
    const TABLE: sys::vm_operations_struct = sys::vm_operations_struct {
        fault: Some(sys::filemap_fault),
        map_pages: Some(sys::filemap_map_pages),
        page_mkwrite: if_has(U::HAS_PAGE_MKWRITE, Self::page_mkwrite),
        // SAFETY: All-zero is a valid `vm_operations_struct`: every field
        // is an optional function pointer or a name pointer.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// `page_mkwrite`.
    ///
    /// # Safety
    ///
    /// Called by the fault handler with a valid `vmf` on a mapping of an
    /// open file of `U::FileSystem`, its folio referenced.
    unsafe extern "C" fn page_mkwrite(vmf: *mut sys::vm_fault) -> sys::vm_fault_t {
        // INVARIANT: As the caller guarantees.
        let fault = Fault::<U::FileSystem>(vmf, PhantomData);
        // SAFETY: `vmf` is valid, as the caller guarantees.
        let faulting = unsafe { sys::rsfs_vmf_folio(vmf) };
        match U::page_mkwrite(&fault) {
            Ok(MkWrite::Locked(folio)) if folio.as_raw() != faulting => {
                // Not the faulting folio: the fault handler would unlock a
                // folio it never locked. Unlock this one and fail.
                drop(folio);
                // SAFETY: A pure function of its argument.
                unsafe { sys::rsfs_vmf_fs_error(EINVAL.to_errno()) }
            }
            Ok(MkWrite::Locked(folio)) => {
                // The fault handler unlocks the folio: keep the lock, drop
                // only the reference `lock_folio` took.
                let f = folio.into_raw();
                // SAFETY: `into_raw` gave up one reference, ours to drop.
                unsafe { sys::rsfs_folio_put(f) };
                sys::RSFS_VM_FAULT_LOCKED
            }
            Ok(MkWrite::Retry) => sys::RSFS_VM_FAULT_NOPAGE,
            // SAFETY: A pure function of its argument.
            Err(e) => unsafe { sys::rsfs_vmf_fs_error(e.to_errno()) },
        }
    }
}
