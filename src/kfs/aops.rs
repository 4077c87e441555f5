// SPDX-License-Identifier: GPL-2.0

//! The data path's C tables: `address_space_operations`, the regular-file
//! `file_operations` and the `vm_operations_struct` of mapped files, and
//! their trampolines into [`FileSystem`].
//!
//! A buffered `write(2)` travels: `write_iter` (below) → the VFS's
//! `generic_perform_write` → [`FileSystem::write_begin`] → copy from the
//! user → [`FileSystem::write_end`] (the folio is dirty) → later
//! [`FileSystem::writepages`] (or `writepage` from reclaim) → a bio →
//! its `end_io` (see [`super::bio`]).

use kernel::{error::from_result, prelude::*};

use super::{
    folio::LockedFolio,
    fs_type::{if_has, Tables},
    sys,
    writeback::{AddressSpace, Readahead, WritebackControl},
    FileSystem, Inode,
};

/// An open file (`struct file`), borrowed for one call.
///
/// # Invariants
///
/// The wrapped file is valid for the lifetime of `&File`.
#[repr(transparent)]
pub(crate) struct File(kernel::types::Opaque<sys::file>);

impl File {
    /// Writes and waits for the file's dirty page cache in bytes
    /// `start..=end`, and reports a writeback error that this open file
    /// has not seen yet (errseq: once per open file description).
    pub(crate) fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: the file is valid (type invariant).
        kernel::error::to_result(unsafe {
            sys::file_write_and_wait_range(self.0.get(), start, end)
        })
    }
}

/// The mapping of file blocks for direct I/O
/// ([`FileSystem::map_blocks`]).
pub(crate) enum BlockMapping {
    /// `len` blocks from disk block `block`; `new` if just allocated (the
    /// parts of them a write does not cover are zeroed).
    Mapped {
        /// First disk block.
        block: u64,
        /// Blocks.
        len: u64,
        /// Newly allocated.
        new: bool,
    },
    /// A hole of `len` blocks (reads as zeroes).
    Hole {
        /// Blocks.
        len: u64,
    },
    /// Do not write this directly: the VFS falls back to buffered I/O.
    Fallback,
}

/// The modes of `fallocate(2)` that [`FileSystem::fallocate`] is given;
/// the others get EOPNOTSUPP.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallocate {
    /// Mode 0 or FALLOC_FL_KEEP_SIZE: disk space for the range, read as
    /// zeroes where it was a hole; the file grows unless `keep_size`.
    Allocate {
        /// FALLOC_FL_KEEP_SIZE.
        keep_size: bool,
    },
    /// FALLOC_FL_PUNCH_HOLE (always with FALLOC_FL_KEEP_SIZE): the range
    /// becomes a hole.
    PunchHole,
    /// FALLOC_FL_ZERO_RANGE: the range reads as zeroes, with disk space;
    /// the file grows unless `keep_size`.
    ZeroRange {
        /// FALLOC_FL_KEEP_SIZE.
        keep_size: bool,
    },
}

impl Fallocate {
    /// The mode for `fallocate(2)`'s `mode` flags, if it is one of these.
    /// The VFS has already refused PUNCH_HOLE without KEEP_SIZE.
    fn from_flags(mode: u32) -> Option<Self> {
        let keep_size = mode & sys::FALLOC_FL_KEEP_SIZE != 0;
        match mode & !sys::FALLOC_FL_KEEP_SIZE {
            0 => Some(Self::Allocate { keep_size }),
            m if m == sys::RSFS_FALLOC_FL_PUNCH_HOLE as u32 => Some(Self::PunchHole),
            m if m == sys::RSFS_FALLOC_FL_ZERO_RANGE as u32 => Some(Self::ZeroRange { keep_size }),
            _ => None,
        }
    }
}

/// The extent list of one `FS_IOC_FIEMAP` call, which
/// [`FileSystem::fiemap`] fills.
///
/// # Invariants
///
/// The wrapped `fiemap_extent_info` is valid, and `fiemap_prep` has
/// accepted it, for the lifetime `'a`.
pub(crate) struct Fiemap<'a>(
    *mut sys::fiemap_extent_info,
    core::marker::PhantomData<&'a ()>,
);

impl Fiemap<'_> {
    /// Reports file bytes `logical..logical + len` at disk byte `physical`;
    /// `last` marks the file's last extent. Returns whether the caller's
    /// array is now full, in which case the walk stops. Copies to user
    /// memory, which may fault: the caller must hold no lock that a page
    /// fault on the file takes.
    pub(crate) fn fill(
        &mut self,
        logical: u64,
        physical: u64,
        len: u64,
        last: bool,
    ) -> Result<bool> {
        let flags = if last { sys::FIEMAP_EXTENT_LAST } else { 0 };
        // SAFETY: `self.0` is valid and prepared (type invariant).
        let r = unsafe { sys::fiemap_fill_next_extent(self.0, logical, physical, len, flags) };
        kernel::error::to_result(r)?;
        Ok(r == 1)
    }
}

/// What [`FileSystem::writepage`] did with the folio.
pub(crate) enum WritePage {
    /// It was written or skipped; the folio's lock was given up.
    Done,
    /// It cannot be written now: it was redirtied and is handed back
    /// locked (`AOP_WRITEPAGE_ACTIVATE`), so reclaim puts it back on the
    /// active list instead of waiting for it.
    Activate(LockedFolio),
}

impl<T: FileSystem> Tables<T> {
    pub(super) const AOPS: sys::address_space_operations = sys::address_space_operations {
        read_folio: Some(Self::read_folio),
        readahead: Some(Self::readahead),
        write_begin: Some(Self::write_begin),
        write_end: Some(Self::write_end),
        writepage: Some(Self::writepage),
        writepages: Some(Self::writepages),
        dirty_folio: Some(sys::filemap_dirty_folio),
        invalidate_folio: Some(Self::invalidate_folio),
        release_folio: Some(Self::release_folio),
        // Moves the folio's private field (its cached block) to the new
        // folio along with the contents.
        migrate_folio: Some(sys::filemap_migrate_folio),
        direct_IO: Some(Self::direct_io),
        bmap: if_has(T::HAS_BMAP, Self::bmap),
        // SAFETY: all-zero is a valid `address_space_operations`: every
        // field is an optional function pointer.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    pub(super) const REG_FILE_OPS: sys::file_operations = sys::file_operations {
        open: Some(Self::open),
        llseek: Some(Self::llseek),
        read_iter: Some(Self::read_iter),
        fallocate: Some(Self::fallocate),
        write_iter: Some(Self::write_iter),
        mmap: Some(Self::mmap),
        splice_read: Some(sys::filemap_splice_read),
        // splice(2) and sendfile(2) into a file, and copy_file_range(2)
        // (which the VFS does with splice): through `write_iter`.
        splice_write: Some(sys::iter_file_splice_write),
        fsync: Some(Self::file_fsync),
        // SAFETY: all-zero is a valid `file_operations`.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const VM_OPS: sys::vm_operations_struct = sys::vm_operations_struct {
        fault: Some(sys::filemap_fault),
        map_pages: Some(sys::filemap_map_pages),
        page_mkwrite: Some(Self::page_mkwrite),
        // SAFETY: all-zero is a valid `vm_operations_struct`.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// `read_folio`: the VFS holds the folio locked; rsfs reads it and a
    /// bio completion (or rsfs itself, for a hole) unlocks it.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a locked folio of one of our files.
    unsafe extern "C" fn read_folio(
        _file: *mut sys::file,
        folio: *mut sys::folio,
    ) -> kernel::ffi::c_int {
        // SAFETY: the folio is locked and belongs to one of our inodes.
        let (inode, folio) = unsafe { (folio_inode::<T>(folio), LockedFolio::from_locked(folio)) };
        from_result(|| {
            T::read_folio(inode, folio)?;
            Ok(0)
        })
    }

    /// `readahead`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid readahead control of one of our files.
    unsafe extern "C" fn readahead(rac: *mut sys::readahead_control) {
        // SAFETY: per the safety requirement.
        let (mapping, mut ra) = unsafe {
            (
                AddressSpace::<T>::from_raw(sys::rsfs_readahead_mapping(rac)),
                Readahead::from_raw(rac),
            )
        };
        T::readahead(mapping.host(), &mut ra);
    }

    /// `write_begin`: returns a locked folio for `len` bytes at `pos`.
    ///
    /// # Safety
    ///
    /// Called by `generic_perform_write` with the inode locked.
    unsafe extern "C" fn write_begin(
        _file: *mut sys::file,
        mapping: *mut sys::address_space,
        pos: sys::loff_t,
        len: kernel::ffi::c_uint,
        foliop: *mut *mut sys::folio,
        _fsdata: *mut *mut kernel::ffi::c_void,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the safety requirement.
        let mapping = unsafe { AddressSpace::<T>::from_raw(mapping) };
        from_result(|| {
            let folio = T::write_begin(mapping.host(), pos as u64, len as usize)?;
            // SAFETY: the VFS takes the lock and the reference, and gives
            // them back to `write_end`.
            unsafe { *foliop = folio.into_raw() };
            Ok(0)
        })
    }

    /// `write_end`: `copied` of `len` bytes are in the folio.
    ///
    /// # Safety
    ///
    /// Called by `generic_perform_write` with the folio `write_begin` gave.
    unsafe extern "C" fn write_end(
        _file: *mut sys::file,
        mapping: *mut sys::address_space,
        pos: sys::loff_t,
        len: kernel::ffi::c_uint,
        copied: kernel::ffi::c_uint,
        folio: *mut sys::folio,
        _fsdata: *mut kernel::ffi::c_void,
    ) -> kernel::ffi::c_int {
        // SAFETY: the folio comes locked and referenced from `write_begin`.
        let (mapping, folio) = unsafe {
            (
                AddressSpace::<T>::from_raw(mapping),
                LockedFolio::from_raw(core::ptr::NonNull::new_unchecked(folio)),
            )
        };
        T::write_end(
            mapping.host(),
            pos as u64,
            len as usize,
            copied as usize,
            folio,
        ) as _
    }

    /// `writepage`: one folio, from reclaim (or migration).
    ///
    /// # Safety
    ///
    /// Called with a locked page of one of our files and a valid `wbc`.
    unsafe extern "C" fn writepage(
        page: *mut sys::page,
        wbc: *mut sys::writeback_control,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the safety requirement. The inode lives while its
        // folio is locked (see `FileSystem::writepage`).
        let (inode, folio, mut wbc) = unsafe {
            let f = sys::rsfs_folio_from_page(page);
            (
                folio_inode::<T>(f),
                LockedFolio::from_locked(f),
                WritebackControl::from_raw(wbc),
            )
        };
        match T::writepage(inode, folio, &mut wbc) {
            Ok(WritePage::Done) => 0,
            Ok(WritePage::Activate(folio)) => {
                // The folio stays locked for the caller; drop only our
                // reference.
                let f = folio.into_raw();
                // SAFETY: `into_raw` gave us one reference to drop.
                unsafe { sys::rsfs_folio_put(f) };
                sys::RSFS_AOP_WRITEPAGE_ACTIVATE
            }
            Err(e) => e.to_errno(),
        }
    }

    /// `writepages`.
    ///
    /// # Safety
    ///
    /// Called by `do_writepages` with a mapping of one of our files.
    unsafe extern "C" fn writepages(
        mapping: *mut sys::address_space,
        wbc: *mut sys::writeback_control,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the safety requirement.
        let (mapping, mut wbc) = unsafe {
            (
                AddressSpace::<T>::from_raw(mapping),
                WritebackControl::from_raw(wbc),
            )
        };
        from_result(|| {
            T::writepages(mapping, &mut wbc)?;
            Ok(0)
        })
    }

    /// `invalidate_folio`: when the whole folio goes (truncate, hole
    /// punch), the cached disk block goes with it.
    ///
    /// # Safety
    ///
    /// Called with a locked folio of one of our files.
    unsafe extern "C" fn invalidate_folio(folio: *mut sys::folio, offset: usize, len: usize) {
        // SAFETY: the folio is locked per the safety requirement.
        unsafe {
            if offset == 0 && len >= sys::rsfs_folio_size(folio) {
                sys::rsfs_folio_clear_block(folio);
            }
        }
    }

    /// `release_folio`: the folio is clean and about to be freed; the cached
    /// block is only a cache, so it can always go.
    ///
    /// # Safety
    ///
    /// Called with a locked folio of one of our files.
    unsafe extern "C" fn release_folio(folio: *mut sys::folio, _gfp: sys::gfp_t) -> bool {
        // SAFETY: the folio is locked per the safety requirement.
        unsafe { sys::rsfs_folio_clear_block(folio) };
        true
    }

    /// `write_iter`: the buffered (and direct) write. The VFS's
    /// `__generic_file_write_iter` does the work under the inode lock; as
    /// its comment says, it does not sync O_SYNC/O_DSYNC writes, so this
    /// calls `generic_write_sync` after dropping the lock.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid kiocb and iterator.
    unsafe extern "C" fn write_iter(iocb: *mut sys::kiocb, from: *mut sys::iov_iter) -> isize {
        // SAFETY: per the safety requirement; the inode lock is taken and
        // released around the write, as `generic_file_write_iter` does.
        unsafe {
            let inode = sys::rsfs_kiocb_inode(iocb);
            sys::rsfs_inode_lock(inode);
            let mut ret = sys::generic_write_checks(iocb, from);
            if ret > 0 {
                if let Err(e) = T::prepare_write(Inode::<T>::from_raw(inode), (*iocb).ki_pos as u64)
                {
                    ret = e.to_errno() as isize;
                }
            }
            if ret > 0 {
                ret = sys::__generic_file_write_iter(iocb, from);
            }
            sys::rsfs_inode_unlock(inode);
            if ret > 0 {
                ret = sys::rsfs_generic_write_sync(iocb, ret);
            }
            ret
        }
    }

    /// `read_iter`: `generic_file_read_iter`. A direct read holds the inode
    /// lock shared, as ext2 and ext4 do: the blocks it maps must not be
    /// freed (by a truncate, which holds the lock exclusively) and given to
    /// another file before its bios are done.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid kiocb and iterator of one of our files.
    unsafe extern "C" fn read_iter(iocb: *mut sys::kiocb, to: *mut sys::iov_iter) -> isize {
        // SAFETY: per the safety requirement.
        unsafe {
            if !sys::rsfs_kiocb_is_direct(iocb) {
                return sys::generic_file_read_iter(iocb, to);
            }
            let inode = sys::rsfs_kiocb_inode(iocb);
            sys::rsfs_inode_lock_shared(inode);
            let ret = sys::generic_file_read_iter(iocb, to);
            sys::rsfs_inode_unlock_shared(inode);
            ret
        }
    }

    /// `open` of a regular file: the generic checks, and O_DIRECT allowed.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid inode and file.
    unsafe extern "C" fn open(inode: *mut sys::inode, file: *mut sys::file) -> kernel::ffi::c_int {
        // SAFETY: per the safety requirement.
        unsafe {
            sys::rsfs_file_allow_odirect(file);
            sys::generic_file_open(inode, file)
        }
    }

    const IOMAP_OPS: sys::iomap_ops = sys::iomap_ops {
        iomap_begin: Some(Self::iomap_begin),
        iomap_end: None,
    };

    /// `direct_IO`: the kernel's iomap direct I/O (fs/iomap/direct-io.c),
    /// with rsfs's block mapping. When the mapping asks for it (a write
    /// into a hole inside the file), the direct write stops short there and
    /// the VFS finishes it with buffered I/O, then writes and waits for that
    /// range and drops it from the cache (`__generic_file_write_iter`,
    /// mm/filemap.c).
    ///
    /// The callers of `->direct_IO` (`generic_file_direct_write`,
    /// `generic_file_read_iter`) advance `ki_pos` by what it returns and
    /// extend `i_size` from there, while `iomap_dio_rw` has already advanced
    /// `ki_pos` itself: the position is put back, or an extending write
    /// would set the size to twice its length past the start (found by the
    /// rsfsx exerciser). The I/O is waited for even when asynchronous
    /// (`IOMAP_DIO_FORCE_WAIT`), since only the caller updates `i_size`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid kiocb and iterator of one of our files
    /// (writes with the inode locked).
    unsafe extern "C" fn direct_io(iocb: *mut sys::kiocb, iter: *mut sys::iov_iter) -> isize {
        // SAFETY: per the safety requirement; `IOMAP_OPS` is a promoted
        // constant.
        let ret = unsafe {
            sys::iomap_dio_rw(
                iocb,
                iter,
                &Self::IOMAP_OPS,
                core::ptr::null(),
                sys::RSFS_IOMAP_DIO_FORCE_WAIT,
                core::ptr::null_mut(),
                0,
            )
        };
        if ret == -(sys::ENOTBLK as isize) {
            // Nothing was written directly: all of it goes buffered.
            return 0;
        }
        // SAFETY: `iter` is valid per the safety requirement.
        if ret < 0 && unsafe { sys::rsfs_iter_is_write(iter) } {
            // SAFETY: a write holds the inode lock, and the inode is ours.
            let inode = unsafe { Inode::<T>::from_raw(sys::rsfs_kiocb_inode(iocb)) };
            T::direct_write_failed(inode);
        }
        if ret > 0 {
            // SAFETY: `iocb` is valid per the safety requirement; see above
            // for why the position goes back.
            unsafe { (*iocb).ki_pos -= ret as sys::loff_t };
        }
        ret
    }

    /// `iomap_begin` of direct I/O: describes the mapping at `pos`.
    ///
    /// # Safety
    ///
    /// Called by iomap with a valid inode of ours and an `iomap` to fill.
    unsafe extern "C" fn iomap_begin(
        inode: *mut sys::inode,
        pos: sys::loff_t,
        length: sys::loff_t,
        flags: kernel::ffi::c_uint,
        iomap: *mut sys::iomap,
        _srcmap: *mut sys::iomap,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the safety requirement.
        let i = unsafe { Inode::<T>::from_raw(inode) };
        let bs = 1u64 << i.super_block().block_shift();
        let lblk = pos as u64 / bs;
        let max = (pos as u64 + length as u64).div_ceil(bs) - lblk;
        let write = flags & sys::RSFS_IOMAP_WRITE != 0;
        let (kind, addr, len, new) = match T::map_blocks(i, lblk, max, write) {
            Ok(BlockMapping::Mapped { block, len, new }) => {
                (sys::RSFS_IOMAP_MAPPED, block * bs, len, new)
            }
            Ok(BlockMapping::Hole { len }) => {
                (sys::RSFS_IOMAP_HOLE, sys::RSFS_IOMAP_NULL_ADDR, len, false)
            }
            Ok(BlockMapping::Fallback) => return -(sys::ENOTBLK as i32),
            Err(e) => return e.to_errno(),
        };
        // SAFETY: `iomap` is ours to fill per the safety requirement.
        unsafe {
            (*iomap).type_ = kind;
            (*iomap).flags = if new { sys::RSFS_IOMAP_F_NEW } else { 0 };
            (*iomap).addr = addr;
            (*iomap).offset = (lblk * bs) as i64;
            (*iomap).length = len * bs;
            (*iomap).bdev = sys::rsfs_sb_bdev((*inode).i_sb);
        }
        0
    }

    /// `bmap`: the disk block of file block `block` (`FIBMAP`, and the
    /// extents of a swap file), 0 for a hole.
    ///
    /// # Safety
    ///
    /// Called by the VFS with the mapping of one of our inodes.
    unsafe extern "C" fn bmap(
        mapping: *mut sys::address_space,
        block: sys::sector_t,
    ) -> sys::sector_t {
        // SAFETY: the mapping belongs to one of our initialised inodes,
        // which it keeps alive (safety requirement).
        let inode = unsafe { Inode::<T>::from_raw((*mapping).host) };
        T::bmap(inode, block)
    }

    /// `fiemap` of a regular file, under the inode lock as ext2 takes it:
    /// the range is checked and trimmed by `fiemap_prep` (which also writes
    /// the file back for FIEMAP_FLAG_SYNC), then [`FileSystem::fiemap`]
    /// reports the extents.
    ///
    /// # Safety
    ///
    /// Called by the VFS with one of our inodes, referenced, and a valid
    /// `fieinfo`.
    pub(super) unsafe extern "C" fn fiemap(
        raw: *mut sys::inode,
        fieinfo: *mut sys::fiemap_extent_info,
        start: u64,
        len: u64,
    ) -> kernel::ffi::c_int {
        // SAFETY: `raw` is one of our initialised inodes (safety requirement).
        let inode = unsafe { Inode::<T>::from_raw(raw) };
        let mut len = len;
        // SAFETY: the inode is referenced; its lock keeps truncate and
        // writes out while the extents are reported.
        unsafe { sys::rsfs_inode_lock(raw) };
        // SAFETY: both pointers are valid (safety requirement).
        let r =
            kernel::error::to_result(unsafe { sys::fiemap_prep(raw, fieinfo, start, &mut len, 0) })
                .and_then(|()| {
                    // INVARIANT: `fieinfo` is valid for this call and prepared.
                    let mut fiemap = Fiemap(fieinfo, core::marker::PhantomData);
                    T::fiemap(inode, &mut fiemap, start, len)
                });
        // SAFETY: locked above.
        unsafe { sys::rsfs_inode_unlock(raw) };
        match r {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// `llseek`: SEEK_DATA and SEEK_HOLE follow the file's block map; the
    /// other whences are the generic ones.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of ours.
    unsafe extern "C" fn llseek(
        file: *mut sys::file,
        offset: sys::loff_t,
        whence: kernel::ffi::c_int,
    ) -> sys::loff_t {
        let hole = match whence as u32 {
            sys::SEEK_DATA => false,
            sys::SEEK_HOLE => true,
            // SAFETY: per the safety requirement.
            _ => return unsafe { sys::generic_file_llseek(file, offset, whence) },
        };
        // SAFETY: per the safety requirement.
        let inode = unsafe { Inode::<T>::from_raw(sys::rsfs_file_inode(file)) };
        if offset < 0 {
            return EINVAL.to_errno() as _;
        }
        match T::seek_data_hole(inode, offset as u64, hole) {
            // SAFETY: the file is valid; `vfs_setpos` checks the limit.
            Ok(pos) => unsafe {
                sys::vfs_setpos(file, pos as _, (*(*inode.as_raw()).i_sb).s_maxbytes)
            },
            Err(e) => e.to_errno() as _,
        }
    }

    /// `fallocate`, in the modes of [`Fallocate`]; the others are not
    /// supported (EOPNOTSUPP). Runs under the inode lock, after
    /// `file_modified`, as ext4's does.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of ours.
    unsafe extern "C" fn fallocate(
        file: *mut sys::file,
        mode: kernel::ffi::c_int,
        offset: sys::loff_t,
        len: sys::loff_t,
    ) -> kernel::ffi::c_long {
        let Some(mode) = Fallocate::from_flags(mode as u32) else {
            return Error::from_errno(-(sys::EOPNOTSUPP as i32)).to_errno() as _;
        };
        // SAFETY: per the safety requirement.
        let raw = unsafe { sys::rsfs_file_inode(file) };
        // SAFETY: `raw` is one of our initialised inodes.
        let inode = unsafe { Inode::<T>::from_raw(raw) };
        // SAFETY: the inode is valid; the lock serialises with writes and
        // truncate, as for ext2/ext4.
        unsafe { sys::rsfs_inode_lock(raw) };
        // SAFETY: `file` is open and its inode locked.
        let r = kernel::error::to_result(unsafe { sys::file_modified(file) })
            .and_then(|()| T::fallocate(inode, mode, offset as u64, len as u64));
        // SAFETY: locked above.
        unsafe { sys::rsfs_inode_unlock(raw) };
        match r {
            Ok(()) => 0,
            Err(e) => e.to_errno() as _,
        }
    }

    /// `mmap`: the page cache's fault handlers, with rsfs's `page_mkwrite`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid file and VMA.
    unsafe extern "C" fn mmap(
        file: *mut sys::file,
        vma: *mut sys::vm_area_struct,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the safety requirement; `VM_OPS` is a promoted
        // constant.
        unsafe { sys::rsfs_file_mmap_set_ops(file, vma, &Self::VM_OPS) };
        0
    }

    /// `fsync` of a regular file or a directory.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of ours.
    pub(super) unsafe extern "C" fn file_fsync(
        file: *mut sys::file,
        start: sys::loff_t,
        end: sys::loff_t,
        datasync: kernel::ffi::c_int,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the safety requirement.
        let (f, inode) = unsafe {
            (
                &*file.cast::<File>(),
                Inode::<T>::from_raw(sys::rsfs_file_inode(file)),
            )
        };
        from_result(|| {
            T::fsync(f, inode, start, end, datasync != 0)?;
            Ok(0)
        })
    }

    /// `page_mkwrite`: a shared mapping is about to write to a folio. rsfs
    /// gives it disk space now, so that the store cannot fail later, then
    /// the folio is dirtied and waited on until it is stable.
    ///
    /// # Safety
    ///
    /// Called by the fault handler with a valid `vmf` of a file of ours.
    unsafe extern "C" fn page_mkwrite(vmf: *mut sys::vm_fault) -> sys::vm_fault_t {
        // SAFETY: per the safety requirement.
        unsafe {
            let file = sys::rsfs_vmf_file(vmf);
            let inode = Inode::<T>::from_raw(sys::rsfs_file_inode(file));
            let sb = (*inode.as_raw()).i_sb;
            sys::rsfs_sb_start_pagefault(sb);
            sys::file_update_time(file);
            // Shared, against hole punching (see `Inode::lock_invalidate`),
            // as ext4's page_mkwrite takes it.
            sys::rsfs_invalidate_lock_shared(inode.as_raw());
            let f = sys::rsfs_vmf_folio(vmf);
            sys::rsfs_folio_lock(f);
            let folio = LockedFolio::from_locked(f);
            let mapping = sys::rsfs_inode_mapping(inode.as_raw());
            let pos = folio.index() << sys::RSFS_PAGE_SHIFT;
            let ret = if sys::rsfs_folio_mapping(f) != mapping || pos >= inode.size() {
                // Truncated under us: let the fault retry.
                sys::RSFS_VM_FAULT_NOPAGE
            } else {
                match T::page_mkwrite(inode, &folio) {
                    Ok(()) => {
                        folio.mark_dirty();
                        folio.wait_stable();
                        // Return with the folio locked, as VM_FAULT_LOCKED
                        // says; drop only our reference.
                        let f = folio.into_raw();
                        sys::rsfs_folio_put(f);
                        sys::rsfs_invalidate_unlock_shared(inode.as_raw());
                        sys::rsfs_sb_end_pagefault(sb);
                        return sys::RSFS_VM_FAULT_LOCKED;
                    }
                    Err(e) => sys::rsfs_vmf_fs_error(e.to_errno()),
                }
            };
            drop(folio);
            sys::rsfs_invalidate_unlock_shared(inode.as_raw());
            sys::rsfs_sb_end_pagefault(sb);
            ret
        }
    }
}

/// The inode of a folio's mapping.
///
/// # Safety
///
/// `folio` must be locked and belong to a file of filesystem `T`.
unsafe fn folio_inode<'a, T: FileSystem>(folio: *mut sys::folio) -> &'a Inode<T> {
    // SAFETY: a locked folio's mapping is stable, and its host is ours.
    unsafe { AddressSpace::<T>::from_raw(sys::rsfs_folio_mapping(folio)).host() }
}
