// SPDX-License-Identifier: GPL-2.0

//! Address-space operations: how a file's page cache is read, written and
//! written back (`struct address_space_operations`).
//!
//! A filesystem implements [`Operations`] for a type of its own and gives
//! [`Ops::new`] of that type to the inodes that use it. Every method is
//! optional: the table has an entry only for what the implementation
//! provides (`HAS_*`), and the VFS's defaults for the rest.
//!
//! A buffered `write(2)` travels: `file_operations::write_iter` → the VFS's
//! `generic_perform_write` → [`Operations::write_begin`] → the copy from
//! user memory → [`Operations::write_end`] (the folio is dirty) → later
//! [`Operations::writepages`] (or [`Operations::writepage`] from reclaim)
//! → a bio → its `end_io` (see [`super::bio`]).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h);
//! locking: `Documentation/filesystems/locking.rst`, "address_space_operations".

use core::marker::PhantomData;
use kernel::{error::from_result, prelude::*};

mod direct;
mod reading;

use super::{
    io::{IovIter, Kiocb},
    lock::Locked,
    ops::if_has,
    sys,
    writeback::{AddressSpace, Readahead, WritebackControl},
    FsData, Inode, LockedFolio,
};

/// What [`Operations::writepage`] did with the folio.
pub(crate) enum WritePage {
    /// It was written or skipped; the folio's lock was given up.
    Done,
    /// It cannot be written now: it was redirtied and is handed back
    /// locked (`AOP_WRITEPAGE_ACTIVATE`), so reclaim puts it back on the
    /// active list instead of waiting for it.
    Activate(LockedFolio),
}

/// The address-space operations of a filesystem's files.
#[vtable]
pub(crate) trait Operations {
    /// The filesystem whose files these are.
    type FileSystem: FsData;

    /// Reads a folio, and unlocks it when done: now (for a hole, or on an
    /// error) or in the bio's completion.
    fn read_folio(_inode: &Inode<Self::FileSystem>, _folio: LockedFolio) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Reads the folios of a readahead request; each is unlocked when read.
    fn readahead(_inode: &Inode<Self::FileSystem>, _ra: &mut Readahead<'_>) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Prepares the folio that will receive `len` bytes at `pos`: gives it
    /// disk space, and reads or zeroes what the write will not cover.
    /// Returns it locked. The inode is locked: kfs reaches the VFS's
    /// buffered write only through
    /// [`super::io::generic_file_write_iter_locked`], which takes the
    /// lock's guard.
    fn write_begin(
        _inode: Locked<'_, Self::FileSystem>,
        _pos: u64,
        _len: usize,
    ) -> Result<LockedFolio> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Finishes a write of `copied` of `len` bytes at `pos` into `folio`
    /// (from [`Operations::write_begin`]); returns how many bytes count as
    /// written. The inode is locked, as for `write_begin`.
    fn write_end(
        _inode: Locked<'_, Self::FileSystem>,
        _pos: u64,
        _len: usize,
        _copied: usize,
        _folio: LockedFolio,
    ) -> usize {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Writes one locked folio whose dirty bit was cleared for I/O
    /// (memory reclaim's `pageout`). kfs holds a reference to the inode and
    /// holds off unmount for the call; when it cannot, the folio is left
    /// dirty and this is not called.
    fn writepage(
        _inode: &Inode<Self::FileSystem>,
        _folio: LockedFolio,
        _wbc: &mut WritebackControl<'_>,
    ) -> Result<WritePage> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Writes the dirty folios of a file that `wbc` asks for.
    fn writepages(
        _mapping: &AddressSpace<Self::FileSystem>,
        _wbc: &mut WritebackControl<'_>,
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Bytes `offset..offset + len` of a locked folio are going away
    /// (truncate, hole punch); `offset == 0` and `len` the folio's size
    /// mean the whole folio. Whether or not this is implemented, the
    /// folio's private word is cleared afterwards when the whole folio goes.
    fn invalidate_folio(_folio: &LockedFolio, _offset: usize, _len: usize) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Direct I/O (`O_DIRECT`) of `iter` at the position of `iocb`: returns
    /// the bytes moved, and 0 to let the VFS do all of it buffered. A write
    /// holds the inode lock (`locked`: kfs reaches it only through
    /// [`super::io::generic_file_write_iter_locked`]); a read is `None`.
    fn direct_io(
        _iocb: &mut Kiocb<'_, Self::FileSystem>,
        _iter: &mut IovIter<'_>,
        _locked: Option<Locked<'_, Self::FileSystem>>,
    ) -> Result<usize> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The disk block of file block `lblk`, 0 for a hole (`FIBMAP`, and
    /// `swapon(2)` of a file, which then writes those blocks directly).
    fn bmap(_inode: &Inode<Self::FileSystem>, _lblk: u64) -> u64 {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// An `address_space_operations` table for the files of filesystem `T`,
/// built at compile time from an [`Operations`] implementation.
pub(crate) type Ops<T> = super::ops::Ops<sys::address_space_operations, T>;

impl<T: FsData> Ops<T> {
    /// The table of `U`'s operations.
    pub(crate) const fn new<U: Operations<FileSystem = T>>() -> Self {
        // SAFETY: `Table::<U>::TABLE` is a promoted constant whose callbacks
        // expect the objects of `U::FileSystem`, which is `T`.
        unsafe { Self::from_table(&Table::<U>::TABLE) }
    }
}

/// The C table of an [`Operations`] implementation, and its trampolines.
struct Table<U>(PhantomData<U>);

impl<U: Operations> Table<U> {
    const TABLE: sys::address_space_operations = sys::address_space_operations {
        read_folio: if_has(U::HAS_READ_FOLIO, Self::read_folio),
        readahead: if_has(U::HAS_READAHEAD, Self::readahead),
        write_begin: if_has(U::HAS_WRITE_BEGIN, Self::write_begin),
        write_end: if_has(U::HAS_WRITE_END, Self::write_end),
        writepage: if_has(U::HAS_WRITEPAGE, Self::writepage),
        writepages: if_has(U::HAS_WRITEPAGES, Self::writepages),
        dirty_folio: Some(sys::filemap_dirty_folio),
        // Always there: a folio's private word is a plain word
        // (`LockedFolio::set_private_word`), which must be detached before
        // the folio is freed; without these the VFS would free it still
        // attached, or take it for buffer heads (`try_to_free_buffers`).
        invalidate_folio: Some(Self::invalidate_folio),
        release_folio: Some(Self::release_folio),
        // Moves the folio's private word along with its contents.
        migrate_folio: Some(sys::filemap_migrate_folio),
        direct_IO: if_has(U::HAS_DIRECT_IO, Self::direct_io),
        bmap: if_has(U::HAS_BMAP, Self::bmap),
        // SAFETY: All-zero is a valid `address_space_operations`: every
        // field is an optional function pointer.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// `write_begin`: hands the VFS a locked, referenced folio.
    ///
    /// # Safety
    ///
    /// Called by `generic_perform_write` with a mapping of a file of
    /// `U::FileSystem`, and `foliop` valid for writes.
    unsafe extern "C" fn write_begin(
        _file: *mut sys::file,
        mapping: *mut sys::address_space,
        pos: sys::loff_t,
        len: kernel::ffi::c_uint,
        foliop: *mut *mut sys::folio,
        _fsdata: *mut *mut kernel::ffi::c_void,
    ) -> kernel::ffi::c_int {
        // SAFETY: The mapping is that of a live file of ours, as the caller
        // guarantees.
        let mapping = unsafe { AddressSpace::<U::FileSystem>::from_raw(mapping) };
        // SAFETY: The caller, `generic_perform_write`, is reached from kfs
        // only through `generic_file_write_iter_locked`, which holds the
        // inode lock (its guard) for the whole write.
        let inode = unsafe { Locked::new(mapping.host()) };
        from_result(|| {
            let folio = U::write_begin(inode, pos as u64, len as usize)?;
            // SAFETY: `foliop` is valid for writes, as the caller
            // guarantees. The VFS takes the lock and the reference, and
            // gives both back to `write_end`.
            unsafe { *foliop = folio.into_raw() };
            Ok(0)
        })
    }

    /// `write_end`.
    ///
    /// # Safety
    ///
    /// Called by `generic_perform_write` with the mapping and the folio
    /// that `write_begin` was given and gave.
    unsafe extern "C" fn write_end(
        _file: *mut sys::file,
        mapping: *mut sys::address_space,
        pos: sys::loff_t,
        len: kernel::ffi::c_uint,
        copied: kernel::ffi::c_uint,
        folio: *mut sys::folio,
        _fsdata: *mut kernel::ffi::c_void,
    ) -> kernel::ffi::c_int {
        // SAFETY: The mapping is that of a live file of ours, and the folio
        // comes locked and referenced from `write_begin`, as the caller
        // guarantees; both the lock and the reference pass to `LockedFolio`.
        let (mapping, folio) = unsafe {
            (
                AddressSpace::<U::FileSystem>::from_raw(mapping),
                LockedFolio::from_raw(core::ptr::NonNull::new_unchecked(folio)),
            )
        };
        // SAFETY: As in `write_begin`.
        let inode = unsafe { Locked::new(mapping.host()) };
        U::write_end(inode, pos as u64, len as usize, copied as usize, folio) as _
    }

    /// `writepage`: one folio, from reclaim.
    ///
    /// Reclaim holds no reference to the inode. Once `U::writepage` has
    /// sent the folio to disk, an unlink and a close could evict the inode
    /// while `U::writepage` still uses it, so kfs holds a reference for the
    /// call. A counted inode would make a concurrent unmount find it busy,
    /// so unmount is held off first. If either cannot be had (an unmount
    /// or remount is under way, or the inode is being evicted), the folio
    /// is left dirty for that work, and `U::writepage` is not called.
    ///
    /// # Safety
    ///
    /// Called with a locked page of a file of `U::FileSystem` and a valid
    /// `wbc` that is ours for the call.
    unsafe extern "C" fn writepage(
        page: *mut sys::page,
        wbc: *mut sys::writeback_control,
    ) -> kernel::ffi::c_int {
        // SAFETY: The page is valid and locked, and in a file of ours, so
        // its folio is too; the lock passes to `LockedFolio`. `wbc` is ours
        // for the call.
        let (folio, mut wbc) = unsafe {
            (
                LockedFolio::from_locked(sys::rsfs_folio_from_page(page)),
                WritebackControl::from_raw(wbc),
            )
        };
        // SAFETY: The folio is locked and in a file of ours. Its inode
        // lives at least while the folio stays locked (eviction locks every
        // folio of the file), and the superblock outlives it. `host` is used
        // only until the folio is given away, and its superblock while
        // `_umount` holds off the unmount that would free it.
        let host = unsafe { folio_inode::<U>(folio.as_raw()) };
        let Some(_umount) = host.super_block().try_hold_off_umount() else {
            folio.leave_dirty(&mut wbc);
            return 0;
        };
        let Some(inode) = host.grab() else {
            folio.leave_dirty(&mut wbc);
            return 0;
        };
        match U::writepage(&inode, folio, &mut wbc) {
            Ok(WritePage::Done) => 0,
            Ok(WritePage::Activate(folio)) => match inode.put_unless_last() {
                Ok(()) => {
                    // The folio stays locked for the caller: drop only the
                    // reference `LockedFolio` took.
                    let f = folio.into_raw();
                    // SAFETY: `into_raw` gave up one reference, ours to drop.
                    unsafe { sys::rsfs_folio_put(f) };
                    sys::RSFS_AOP_WRITEPAGE_ACTIVATE
                }
                // Ours is the last reference, and dropping it evicts the
                // inode, which locks each of its folios: unlock this one
                // (already redirtied) first.
                Err(inode) => {
                    drop(folio);
                    drop(inode);
                    0
                }
            },
            Err(e) => e.to_errno(),
        }
        // `inode` is dropped here, before `_umount`.
    }

    /// `writepages`.
    ///
    /// # Safety
    ///
    /// Called by `do_writepages` with the mapping of a live file of
    /// `U::FileSystem` and a valid `wbc` that is ours for the call.
    unsafe extern "C" fn writepages(
        mapping: *mut sys::address_space,
        wbc: *mut sys::writeback_control,
    ) -> kernel::ffi::c_int {
        // SAFETY: Both are valid for the call, as the caller guarantees.
        let (mapping, mut wbc) = unsafe {
            (
                AddressSpace::<U::FileSystem>::from_raw(mapping),
                WritebackControl::from_raw(wbc),
            )
        };
        from_result(|| {
            U::writepages(mapping, &mut wbc)?;
            Ok(0)
        })
    }

    /// `invalidate_folio`: the filesystem's, then the private word goes
    /// with a whole folio.
    ///
    /// # Safety
    ///
    /// Called with a locked folio of a file of `U::FileSystem`.
    unsafe extern "C" fn invalidate_folio(folio: *mut sys::folio, offset: usize, len: usize) {
        if U::HAS_INVALIDATE_FOLIO {
            // SAFETY: The folio is valid and locked, as the caller
            // guarantees; the caller's lock is lent to `LockedFolio` and
            // taken back below.
            let locked = core::mem::ManuallyDrop::new(unsafe { LockedFolio::from_locked(folio) });
            U::invalidate_folio(&locked, offset, len);
            // SAFETY: `from_locked` took one reference, which is dropped
            // here; the lock stays the caller's.
            unsafe { sys::rsfs_folio_put(folio) };
        }
        // SAFETY: The folio is valid and locked, as the caller guarantees.
        unsafe {
            if offset == 0 && len >= sys::rsfs_folio_size(folio) {
                sys::rsfs_folio_clear_private(folio);
            }
        }
    }

    /// `release_folio`: a clean folio is about to be freed. Its private
    /// word is only a word, so it can always go.
    ///
    /// # Safety
    ///
    /// Called with a locked folio of a file of `U::FileSystem`.
    unsafe extern "C" fn release_folio(folio: *mut sys::folio, _gfp: sys::gfp_t) -> bool {
        // SAFETY: The folio is valid and locked, as the caller guarantees.
        unsafe { sys::rsfs_folio_clear_private(folio) };
        true
    }
}

/// The inode of a folio's mapping.
///
/// # Safety
///
/// `folio` must be locked and in a file of `U::FileSystem`, and stay so for
/// `'a`.
unsafe fn folio_inode<'a, U: Operations>(folio: *mut sys::folio) -> &'a Inode<U::FileSystem> {
    // SAFETY: A locked folio's mapping is stable, and it is the mapping of
    // a file of ours, as the caller guarantees.
    unsafe { AddressSpace::<U::FileSystem>::from_raw(sys::rsfs_folio_mapping(folio)).host() }
}
