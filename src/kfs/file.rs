// SPDX-License-Identifier: GPL-2.0

//! Open files: the `file_operations` trait and its table, and what file
//! I/O is given ([`File`], [`Kiocb`], [`IovIter`]) with the VFS's generic
//! helpers that a filesystem composes its I/O from.
//!
//! A buffered `write(2)` travels: [`Operations::write_iter`] → the VFS's
//! [`generic_file_write_iter_locked`] (`__generic_file_write_iter`) →
//! `generic_perform_write` → the filesystem's `address_space_operations`
//! (see [`super::address_space`]).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use kernel::{error::from_result, prelude::*};

use core::marker::PhantomData;

use super::{
    dir::DirEmitter,
    fs_type::if_has,
    inode::{InodeGuard, InodeSharedGuard},
    sys, vm, FileSystem, Inode,
};

/// An open file (`struct file`), borrowed for one call.
///
/// # Invariants
///
/// The wrapped file is valid for the lifetime of `&File`.
#[repr(transparent)]
pub(crate) struct File(kernel::types::Opaque<sys::file>);

impl File {
    /// # Safety
    ///
    /// `file` must be valid for `'a`.
    pub(super) unsafe fn from_raw<'a>(file: *mut sys::file) -> &'a Self {
        // SAFETY: `File` is a transparent wrapper; the caller guarantees
        // validity for `'a`.
        unsafe { &*file.cast() }
    }

    /// Updates the file's modification and change times, as a write does
    /// (`file_update_time`). A failure to note the time is not the
    /// writer's: like the kernel's own callers in fault paths, it is
    /// ignored.
    pub(crate) fn update_time(&self) {
        // SAFETY: The file is valid (type invariant).
        unsafe { sys::file_update_time(self.0.get()) };
    }

    /// Notes a change of the file by a write-like operation: updates its
    /// times and drops its setuid bits (`file_modified`), under its lock.
    pub(crate) fn modified<T: FileSystem>(&self, lock: &InodeGuard<'_, T>) -> Result {
        // SAFETY: The file is valid (type invariant).
        if !lock.locks(unsafe { sys::rsfs_file_inode(self.0.get()) }) {
            return Err(EINVAL);
        }
        // SAFETY: The file is valid (type invariant), and its inode locked,
        // as the guard shows.
        kernel::error::to_result(unsafe { sys::file_modified(self.0.get()) })
    }

    /// Writes and waits for the file's dirty page cache in bytes
    /// `start..=end`, and reports a writeback error that this open file
    /// has not seen yet (errseq: once per open file description).
    pub(crate) fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: The file is valid (type invariant).
        kernel::error::to_result(unsafe {
            sys::file_write_and_wait_range(self.0.get(), start, end)
        })
    }
}

/// The modes of `fallocate(2)` that [`Operations::fallocate`] is given;
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
/// [`super::inode_ops::Operations::fiemap`] fills.
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
    /// # Safety
    ///
    /// `fieinfo` must be valid, and accepted by `fiemap_prep`, for `'a`.
    pub(super) unsafe fn from_raw<'a>(fieinfo: *mut sys::fiemap_extent_info) -> Fiemap<'a> {
        // INVARIANT: Guaranteed by the caller.
        Fiemap(fieinfo, core::marker::PhantomData)
    }

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

/// A file being opened (`struct file` inside `->open`), borrowed for the
/// call.
///
/// # Invariants
///
/// `0` is valid and being opened by the VFS: its mode bits are still ours
/// to set.
pub(crate) struct Opening<'a>(*mut sys::file, PhantomData<&'a mut ()>);

impl Opening<'_> {
    /// Lets the file be opened and used with `O_DIRECT` (`FMODE_CAN_ODIRECT`).
    /// EINVAL if its page cache has no `direct_IO`, which the VFS would
    /// call.
    pub(crate) fn allow_direct_io(&mut self) -> Result {
        // SAFETY: The file is valid (type invariant).
        if !unsafe { has_aops(self.0, Needs::Direct) } {
            return Err(EINVAL);
        }
        // SAFETY: The file is being opened (type invariant).
        unsafe { sys::rsfs_file_allow_odirect(self.0) };
        Ok(())
    }
}

/// An I/O request on an open file of filesystem `T` (`struct kiocb`),
/// borrowed for one call.
///
/// # Invariants
///
/// `0` is valid, and its file is an open file of `T`, for `'a`.
pub(crate) struct Kiocb<'a, T: FileSystem>(*mut sys::kiocb, PhantomData<(&'a mut (), T)>);

impl<'a, T: FileSystem> Kiocb<'a, T> {
    /// # Safety
    ///
    /// `iocb` must be valid, of an open file of `T`, and not used by anyone
    /// else for `'a`.
    pub(super) unsafe fn from_raw(iocb: *mut sys::kiocb) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Kiocb(iocb, PhantomData)
    }

    pub(super) fn as_raw(&mut self) -> *mut sys::kiocb {
        self.0
    }

    /// The inode of the request's file, which lives while the request does.
    pub(crate) fn inode(&self) -> &'a Inode<T> {
        // SAFETY: The file is open and of `T` (type invariant), so its inode
        // is a live, initialised inode of `T`.
        unsafe { Inode::from_raw(sys::rsfs_kiocb_inode(self.0)) }
    }

    /// The file position of the request, in bytes.
    pub(crate) fn pos(&self) -> u64 {
        // SAFETY: The request is valid and ours (type invariant).
        unsafe { (*self.0).ki_pos as u64 }
    }

    /// Whether this is direct I/O (`O_DIRECT`, `IOCB_DIRECT`).
    pub(crate) fn is_direct(&self) -> bool {
        // SAFETY: The request is valid (type invariant).
        unsafe { sys::rsfs_kiocb_is_direct(self.0) }
    }
}

/// The user buffers of an I/O request (`struct iov_iter`), borrowed for one
/// call.
///
/// # Invariants
///
/// `0` is valid for `'a`.
pub(crate) struct IovIter<'a>(*mut sys::iov_iter, PhantomData<&'a mut ()>);

impl IovIter<'_> {
    /// # Safety
    ///
    /// `iter` must be valid and not used by anyone else for `'a`.
    pub(super) unsafe fn from_raw<'a>(iter: *mut sys::iov_iter) -> IovIter<'a> {
        // INVARIANT: Guaranteed by the caller.
        IovIter(iter, PhantomData)
    }

    pub(super) fn as_raw(&mut self) -> *mut sys::iov_iter {
        self.0
    }

    /// Whether the request writes to the file (and reads these buffers).
    pub(crate) fn is_write(&self) -> bool {
        // SAFETY: The iterator is valid (type invariant).
        unsafe { sys::rsfs_iter_is_write(self.0) }
    }
}

/// Page-cache operations that the VFS's generic helpers call unchecked.
#[derive(Clone, Copy)]
enum Needs {
    /// `read_folio` (buffered reads, and faults).
    Read,
    /// `write_begin` and `write_end` (buffered writes).
    Write,
    /// `direct_IO`.
    Direct,
}

/// Whether the page-cache operations of `file`'s mapping have what
/// `needs` says: a file whose mapping lacks them gets EINVAL from the
/// helpers below, not a call through a null pointer.
///
/// # Safety
///
/// `file` must be valid.
unsafe fn has_aops(file: *mut sys::file, needs: Needs) -> bool {
    // SAFETY: `file` is valid, as the caller guarantees, and so are its
    // mapping and that mapping's operations table (the VFS's `empty_aops`
    // when the filesystem set none).
    let a = unsafe { &*(*(*file).f_mapping).a_ops };
    match needs {
        Needs::Read => a.read_folio.is_some(),
        Needs::Write => a.write_begin.is_some() && a.write_end.is_some(),
        Needs::Direct => a.direct_IO.is_some(),
    }
}

impl<T: FileSystem> Kiocb<'_, T> {
    /// Whether the request's file has the page-cache operations that the
    /// generic read (`write`: write) path will call.
    fn has_aops_for(&mut self, write: bool) -> bool {
        let buffered = if write { Needs::Write } else { Needs::Read };
        let direct = self.is_direct();
        // SAFETY: The request is valid (type invariant), so is its file.
        let file = unsafe { (*self.as_raw()).ki_filp };
        // SAFETY: `file` is valid, as just said. Direct I/O that stops short
        // goes on buffered (`generic_file_read_iter`,
        // `__generic_file_write_iter`), so it needs both.
        unsafe { has_aops(file, buffered) && (!direct || has_aops(file, Needs::Direct)) }
    }
}

/// Maps an `ssize_t` result of the VFS to a byte count or an error.
fn bytes(ret: isize) -> Result<usize> {
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// The VFS's checks of a write (`generic_write_checks`): limits, `O_APPEND`
/// (which moves the position to the end), and the file size limit, which
/// may shorten `from`. Returns the bytes to write; 0 means nothing to do.
pub(crate) fn generic_write_checks<T: FileSystem>(
    iocb: &mut Kiocb<'_, T>,
    from: &mut IovIter<'_>,
    lock: &InodeGuard<'_, T>,
) -> Result<usize> {
    if !lock.locks(iocb.inode().as_raw()) {
        return Err(EINVAL);
    }
    // SAFETY: Both are valid and ours (type invariants), and the inode is
    // locked, as the guard shows.
    bytes(unsafe { sys::generic_write_checks(iocb.as_raw(), from.as_raw()) })
}

/// The VFS's write of a locked file (`__generic_file_write_iter`): direct
/// I/O through the `direct_IO` operation, falling back to buffered writes
/// through `write_begin`/`write_end`. It does not sync `O_SYNC`/`O_DSYNC`
/// writes: see [`generic_write_sync`].
pub(crate) fn generic_file_write_iter_locked<T: FileSystem>(
    iocb: &mut Kiocb<'_, T>,
    from: &mut IovIter<'_>,
    lock: &InodeGuard<'_, T>,
) -> Result<usize> {
    if !lock.locks(iocb.inode().as_raw()) || !iocb.has_aops_for(true) {
        return Err(EINVAL);
    }
    // SAFETY: Both are valid and ours (type invariants), and the inode is
    // locked, as the guard shows and the function requires; the mapping
    // has the operations it calls (checked above).
    bytes(unsafe { sys::__generic_file_write_iter(iocb.as_raw(), from.as_raw()) })
}

/// Syncs `written` bytes just written at the request's position if the
/// file or the request asks for it (`O_SYNC`, `O_DSYNC`, `RWF_*SYNC`), with
/// the filesystem's `fsync` (`generic_write_sync`). Called without the
/// inode lock, which `fsync` does not expect.
pub(crate) fn generic_write_sync<T: FileSystem>(
    iocb: &mut Kiocb<'_, T>,
    written: usize,
) -> Result<usize> {
    // SAFETY: The request is valid and ours (type invariant).
    bytes(unsafe { sys::rsfs_generic_write_sync(iocb.as_raw(), written as isize) })
}

/// The VFS's read (`generic_file_read_iter`): buffered through the page
/// cache, or direct through the `direct_IO` operation.
pub(crate) fn generic_file_read_iter<T: FileSystem>(
    iocb: &mut Kiocb<'_, T>,
    to: &mut IovIter<'_>,
) -> Result<usize> {
    if !iocb.has_aops_for(false) {
        return Err(EINVAL);
    }
    // SAFETY: Both are valid and ours (type invariants), and the mapping
    // has the operations it calls (checked above).
    bytes(unsafe { sys::generic_file_read_iter(iocb.as_raw(), to.as_raw()) })
}

/// The VFS's direct read, under the inode lock held shared (the same as
/// [`generic_file_read_iter`]; the guard shows that it is held).
pub(crate) fn generic_file_read_iter_shared<T: FileSystem>(
    iocb: &mut Kiocb<'_, T>,
    to: &mut IovIter<'_>,
    lock: &InodeSharedGuard<'_, T>,
) -> Result<usize> {
    if !lock.locks(iocb.inode().as_raw()) {
        return Err(EINVAL);
    }
    generic_file_read_iter(iocb, to)
}

/// A shared or private mapping of a file being set up (`->mmap`).
///
/// # Invariants
///
/// `file` and `vma` are valid, and the VMA maps the file, being set up by
/// the VFS, for `'a`.
pub(crate) struct Mmap<'a, T: FileSystem> {
    file: *mut sys::file,
    vma: *mut sys::vm_area_struct,
    _p: PhantomData<(&'a mut (), T)>,
}

impl<T: FileSystem> Mmap<'_, T> {
    /// Serves the mapping's faults from the page cache with `ops`, as
    /// `generic_file_mmap` does (`file_accessed`, then `vm_ops`). EINVAL
    /// if the file's page cache has no `read_folio`, which faults call.
    pub(crate) fn set_ops(&mut self, ops: vm::Ops<T>) -> Result {
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

/// The file operations of a filesystem's files of one kind.
#[vtable]
pub(crate) trait Operations {
    /// The filesystem whose files these are.
    type FileSystem: FileSystem;

    /// Opens `inode` as `file` (after the VFS's permission checks).
    fn open(_inode: &Inode<Self::FileSystem>, _file: &mut Opening<'_>) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Reads from the file into `to` at the request's position; returns the
    /// bytes read. Also serves `splice(2)` and `sendfile(2)` from the file.
    fn read_iter(_iocb: &mut Kiocb<'_, Self::FileSystem>, _to: &mut IovIter<'_>) -> Result<usize> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Writes `from` to the file at the request's position; returns the
    /// bytes written. Also serves `splice(2)`, `sendfile(2)` and
    /// `copy_file_range(2)` into the file.
    fn write_iter(
        _iocb: &mut Kiocb<'_, Self::FileSystem>,
        _from: &mut IovIter<'_>,
    ) -> Result<usize> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Sets up a mapping of the file (`mmap(2)`).
    fn mmap(_file: &File, _mmap: &mut Mmap<'_, Self::FileSystem>) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Lists directory `dir` from `emitter.pos()` on (`getdents(2)`), with
    /// the directory locked shared.
    fn read_dir(_dir: &Inode<Self::FileSystem>, _emitter: &mut DirEmitter) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The first byte at or after `offset` that is data (`hole` false) or
    /// in a hole (`hole` true); the end of the file counts as a hole. ENXIO
    /// if there is none (`lseek(2)`'s SEEK_DATA and SEEK_HOLE; the other
    /// whences are the VFS's).
    fn seek_data_hole(_inode: &Inode<Self::FileSystem>, _offset: u64, _hole: bool) -> Result<u64> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `fallocate(2)` of bytes `offset..offset + len` in one of the
    /// [`Fallocate`] modes (the others get EOPNOTSUPP).
    fn fallocate(
        _file: &File,
        _inode: &Inode<Self::FileSystem>,
        _mode: Fallocate,
        _offset: u64,
        _len: u64,
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `fsync(2)` (`datasync`: `fdatasync(2)`) of bytes `start..=end` of
    /// the file.
    fn fsync(
        _file: &File,
        _inode: &Inode<Self::FileSystem>,
        _start: i64,
        _end: i64,
        _datasync: bool,
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// A `file_operations` table for the files of filesystem `T`, built at
/// compile time from an [`Operations`] implementation.
pub(crate) type Ops<T> = super::ops::Ops<sys::file_operations, T>;

impl<T: FileSystem> Ops<T> {
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
    const TABLE: sys::file_operations = sys::file_operations {
        open: if_has(U::HAS_OPEN, Self::open),
        llseek: if U::HAS_SEEK_DATA_HOLE {
            Some(Self::llseek)
        } else {
            Some(sys::generic_file_llseek)
        },
        read: if_has(U::HAS_READ_DIR, sys::generic_read_dir),
        read_iter: if_has(U::HAS_READ_ITER, Self::read_iter),
        write_iter: if_has(U::HAS_WRITE_ITER, Self::write_iter),
        iterate_shared: if_has(U::HAS_READ_DIR, Self::iterate_shared),
        mmap: if_has(U::HAS_MMAP, Self::mmap),
        fallocate: if_has(U::HAS_FALLOCATE, Self::fallocate),
        fsync: if_has(U::HAS_FSYNC, Self::fsync),
        // Through the page cache, with `read_iter`'s data.
        splice_read: if_has(U::HAS_READ_ITER, sys::filemap_splice_read),
        // splice(2) and sendfile(2) into a file, and copy_file_range(2)
        // (which the VFS does with splice): through `write_iter`.
        splice_write: if_has(U::HAS_WRITE_ITER, sys::iter_file_splice_write),
        // SAFETY: All-zero is a valid `file_operations`: every field is an
        // optional function pointer, an integer or the owner pointer.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// `open`: the filesystem's, then the VFS's generic checks
    /// (`generic_file_open`: `O_LARGEFILE`).
    ///
    /// # Safety
    ///
    /// Called by the VFS with a live inode of `U::FileSystem` and the file
    /// being opened on it.
    unsafe extern "C" fn open(inode: *mut sys::inode, file: *mut sys::file) -> kernel::ffi::c_int {
        // SAFETY: A live inode of ours, as the caller guarantees.
        // INVARIANT: `file` is being opened, as the caller guarantees.
        let (i, mut opening) = unsafe {
            (
                Inode::<U::FileSystem>::from_raw(inode),
                Opening(file, PhantomData),
            )
        };
        if let Err(e) = U::open(i, &mut opening) {
            return e.to_errno();
        }
        // SAFETY: As above.
        unsafe { sys::generic_file_open(inode, file) }
    }

    /// `llseek`: SEEK_DATA and SEEK_HOLE from [`Operations::seek_data_hole`],
    /// the other whences the VFS's.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of `U::FileSystem`.
    unsafe extern "C" fn llseek(
        file: *mut sys::file,
        offset: sys::loff_t,
        whence: kernel::ffi::c_int,
    ) -> sys::loff_t {
        let hole = match whence as u32 {
            sys::SEEK_DATA => false,
            sys::SEEK_HOLE => true,
            // SAFETY: `file` is an open file, as the caller guarantees.
            _ => return unsafe { sys::generic_file_llseek(file, offset, whence) },
        };
        if offset < 0 {
            return EINVAL.to_errno() as _;
        }
        // SAFETY: `file` is an open file of ours, as the caller guarantees,
        // so its inode is a live, initialised inode of ours.
        let inode = unsafe { Inode::<U::FileSystem>::from_raw(sys::rsfs_file_inode(file)) };
        match U::seek_data_hole(inode, offset as u64, hole) {
            // SAFETY: The file is open; `vfs_setpos` checks the limit.
            Ok(pos) => unsafe {
                sys::vfs_setpos(file, pos as _, (*(*inode.as_raw()).i_sb).s_maxbytes)
            },
            Err(e) => e.to_errno() as _,
        }
    }

    /// `read_iter`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a valid kiocb of an open file of
    /// `U::FileSystem` and a valid iterator.
    unsafe extern "C" fn read_iter(iocb: *mut sys::kiocb, to: *mut sys::iov_iter) -> isize {
        // SAFETY: Both are valid and ours for the call, as the caller
        // guarantees.
        let (mut iocb, mut to) = unsafe {
            (
                Kiocb::<U::FileSystem>::from_raw(iocb),
                IovIter::from_raw(to),
            )
        };
        match U::read_iter(&mut iocb, &mut to) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// `write_iter`.
    ///
    /// # Safety
    ///
    /// As for `read_iter`.
    unsafe extern "C" fn write_iter(iocb: *mut sys::kiocb, from: *mut sys::iov_iter) -> isize {
        // SAFETY: As for `read_iter`.
        let (mut iocb, mut from) = unsafe {
            (
                Kiocb::<U::FileSystem>::from_raw(iocb),
                IovIter::from_raw(from),
            )
        };
        match U::write_iter(&mut iocb, &mut from) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// `iterate_shared` (`readdir`).
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open directory of `U::FileSystem`, locked
    /// shared, and a valid `ctx`.
    unsafe extern "C" fn iterate_shared(
        file: *mut sys::file,
        ctx: *mut sys::dir_context,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: The file is an open directory of ours, as the caller
            // guarantees, so its inode is live.
            let dir = unsafe { Inode::<U::FileSystem>::from_raw(sys::rsfs_file_inode(file)) };
            // SAFETY: `ctx` is valid for the call, as the caller guarantees.
            let mut emitter = unsafe { DirEmitter::from_raw(ctx) };
            U::read_dir(dir, &mut emitter)?;
            Ok(0)
        })
    }

    /// `mmap`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of `U::FileSystem` and the VMA
    /// it sets up to map it.
    unsafe extern "C" fn mmap(
        file: *mut sys::file,
        vma: *mut sys::vm_area_struct,
    ) -> kernel::ffi::c_int {
        // INVARIANT: As the caller guarantees.
        let mut mmap = Mmap::<U::FileSystem> {
            file,
            vma,
            _p: PhantomData,
        };
        from_result(|| {
            // SAFETY: `file` is an open file, valid for the call, as the
            // caller guarantees.
            U::mmap(unsafe { File::from_raw(file) }, &mut mmap)?;
            Ok(0)
        })
    }

    /// `fallocate`, in the modes of [`Fallocate`]; the others are not
    /// supported (EOPNOTSUPP).
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of `U::FileSystem`.
    unsafe extern "C" fn fallocate(
        file: *mut sys::file,
        mode: kernel::ffi::c_int,
        offset: sys::loff_t,
        len: sys::loff_t,
    ) -> kernel::ffi::c_long {
        let Some(mode) = Fallocate::from_flags(mode as u32) else {
            return Error::from_errno(-(sys::EOPNOTSUPP as i32)).to_errno() as _;
        };
        // SAFETY: `file` is an open file of ours, valid for the call, as the
        // caller guarantees, so its inode is live.
        let (f, inode) = unsafe {
            (
                File::from_raw(file),
                Inode::<U::FileSystem>::from_raw(sys::rsfs_file_inode(file)),
            )
        };
        match U::fallocate(f, inode, mode, offset as u64, len as u64) {
            Ok(()) => 0,
            Err(e) => e.to_errno() as _,
        }
    }

    /// `fsync`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of `U::FileSystem`.
    unsafe extern "C" fn fsync(
        file: *mut sys::file,
        start: sys::loff_t,
        end: sys::loff_t,
        datasync: kernel::ffi::c_int,
    ) -> kernel::ffi::c_int {
        // SAFETY: `file` is an open file of ours, valid for the call, as the
        // caller guarantees, so its inode is live.
        let (f, inode) = unsafe {
            (
                File::from_raw(file),
                Inode::<U::FileSystem>::from_raw(sys::rsfs_file_inode(file)),
            )
        };
        from_result(|| {
            U::fsync(f, inode, start, end, datasync != 0)?;
            Ok(0)
        })
    }
}
