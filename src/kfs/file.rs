// SPDX-License-Identifier: GPL-2.0

//! Open files: the `file_operations` trait and its table, and a file being
//! opened ([`Opening`]). The open file ([`File`]), the I/O requests the
//! read and write methods are given, and the VFS's generic helpers that a
//! filesystem composes its I/O from are in [`super::io`]; a mapping being
//! set up ([`Mmap`]) is in [`super::vm`].
//!
//! A buffered `write(2)` travels: [`Operations::write_iter`] → the VFS's
//! [`generic_file_write_iter_locked`](super::io::generic_file_write_iter_locked)
//! (`__generic_file_write_iter`) → `generic_perform_write` → the
//! filesystem's `address_space_operations` (see [`super::address_space`]).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use kernel::{error::from_result, prelude::*};

use core::marker::PhantomData;

use super::{
    dir::DirEmitter,
    io::{has_aops, Fallocate, File, IovIter, Kiocb, Needs},
    ioctl::UserArg,
    ops::if_has,
    sys,
    vm::Mmap,
    FsData, Inode,
};

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

/// The file operations of a filesystem's files of one kind.
#[vtable]
pub(crate) trait Operations {
    /// The filesystem whose files these are.
    type FileSystem: FsData;

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

    /// `ioctl(2)` command `cmd` with argument `arg`, on a file or directory
    /// of the filesystem (after the VFS's own commands: `FIONREAD`,
    /// `FS_IOC_GETFLAGS` and the like never come here). A command the
    /// filesystem does not know gives ENOTTY.
    fn ioctl(
        _file: &File,
        _inode: &Inode<Self::FileSystem>,
        _cmd: u32,
        _arg: UserArg,
    ) -> Result<i32> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// A `file_operations` table for the files of filesystem `T`, built at
/// compile time from an [`Operations`] implementation.
pub(crate) type Ops<T> = super::ops::Ops<sys::file_operations, T>;

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
        unlocked_ioctl: if_has(U::HAS_IOCTL, Self::ioctl),
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
        // SAFETY: The VFS calls `mmap` with an open file of `U::FileSystem`
        // and the VMA it sets up to map it, both valid for the call.
        let mut mmap = unsafe { Mmap::<U::FileSystem>::from_raw(file, vma) };
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
            return super::eopnotsupp().to_errno() as _;
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

    /// `unlocked_ioctl`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open file of `U::FileSystem`.
    unsafe extern "C" fn ioctl(
        file: *mut sys::file,
        cmd: kernel::ffi::c_uint,
        arg: kernel::ffi::c_ulong,
    ) -> kernel::ffi::c_long {
        // SAFETY: `file` is an open file of ours, valid for the call, as the
        // caller guarantees, so its inode is live.
        let (f, inode) = unsafe {
            (
                File::from_raw(file),
                Inode::<U::FileSystem>::from_raw(sys::rsfs_file_inode(file)),
            )
        };
        match U::ioctl(f, inode, cmd, UserArg(arg)) {
            Ok(v) => v as _,
            Err(e) => e.to_errno() as _,
        }
    }
}
