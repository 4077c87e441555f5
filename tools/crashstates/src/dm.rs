// SPDX-License-Identifier: GPL-2.0

//! The dm-log-writes target, driven through device-mapper's ioctls
//! (include/uapi/linux/dm-ioctl.h), so that the guest needs no dmsetup:
//! create a logging device over a disk, put marks in its log, remove it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;

/// `sizeof(struct dm_ioctl)`.
const IOCTL_LEN: usize = 312;
/// `sizeof(struct dm_target_spec)`.
const SPEC_LEN: usize = 40;
/// `DM_NAME_LEN`.
const NAME_LEN: usize = 128;

/// The commands (`DM_*_CMD`).
const DEV_CREATE: u32 = 3;
const DEV_REMOVE: u32 = 4;
const DEV_SUSPEND: u32 = 6;
const TABLE_LOAD: u32 = 9;
const TARGET_MSG: u32 = 14;

/// `_IOWR(DM_IOCTL, cmd, struct dm_ioctl)`.
fn request(cmd: u32) -> u64 {
    (3u64 << 30) | ((IOCTL_LEN as u64) << 16) | (0xfd << 8) | u64::from(cmd)
}

/// A `struct dm_ioctl` for device `name`, followed by `payload`.
fn header(name: &str, payload: &[u8], target_count: u32) -> Vec<u8> {
    let mut b = vec![0u8; IOCTL_LEN];
    // version 4.0.0: the kernel takes any 4.x.
    b[0..4].copy_from_slice(&4u32.to_ne_bytes());
    let size = (IOCTL_LEN + payload.len()).next_multiple_of(8) as u32;
    b[12..16].copy_from_slice(&size.to_ne_bytes()); // data_size
    b[16..20].copy_from_slice(&(IOCTL_LEN as u32).to_ne_bytes()); // data_start
    b[20..24].copy_from_slice(&target_count.to_ne_bytes());
    let n = name.as_bytes();
    assert!(
        n.len() < NAME_LEN,
        "a device-mapper name is shorter than {NAME_LEN}"
    );
    b[48..48 + n.len()].copy_from_slice(n);
    b.extend_from_slice(payload);
    b.resize(size as usize, 0);
    b
}

/// A dm-log-writes device, removed when dropped.
pub struct LogWrites {
    control: File,
    name: String,
    /// Its block device node.
    pub path: PathBuf,
    removed: bool,
}

impl LogWrites {
    fn ioctl(control: &File, cmd: u32, buf: &mut [u8], what: &str) -> io::Result<()> {
        // SAFETY: `buf` is a `struct dm_ioctl` whose `data_size` is the
        // buffer's length, owned by us for the call, as the ioctl expects.
        let r = unsafe { libc::ioctl(control.as_raw_fd(), request(cmd) as _, buf.as_mut_ptr()) };
        if r != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("device-mapper {what}: {e}"),
            ));
        }
        Ok(())
    }

    /// Creates device `name` that logs every write to `dev` (of `sectors`
    /// 512-byte sectors) onto `log`.
    pub fn create(name: &str, dev: &str, log: &str, sectors: u64) -> io::Result<LogWrites> {
        let control = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/mapper/control")?;
        let mut b = header(name, &[], 0);
        Self::ioctl(&control, DEV_CREATE, &mut b, "create")?;
        let dev_t = u64::from_ne_bytes(b[40..48].try_into().expect("8 bytes"));
        let me = LogWrites {
            control,
            name: name.to_string(),
            path: PathBuf::from(format!("/dev/dm-{}", libc::minor(dev_t as libc::dev_t))),
            removed: false,
        };
        // One target: struct dm_target_spec, then its parameters.
        let params = format!("{dev} {log}\0");
        let mut spec = vec![0u8; SPEC_LEN];
        spec[8..16].copy_from_slice(&sectors.to_ne_bytes());
        let next = (SPEC_LEN + params.len()).next_multiple_of(8) as u32;
        spec[20..24].copy_from_slice(&next.to_ne_bytes());
        spec[24..24 + 10].copy_from_slice(b"log-writes");
        spec.extend_from_slice(params.as_bytes());
        let mut b = header(name, &spec, 1);
        Self::ioctl(&me.control, TABLE_LOAD, &mut b, "table load")?;
        // DEV_SUSPEND without DM_SUSPEND_FLAG resumes: the table goes live.
        let mut b = header(name, &[], 0);
        Self::ioctl(&me.control, DEV_SUSPEND, &mut b, "resume")?;
        Ok(me)
    }

    /// Puts mark `mark` in the log after every write logged so far.
    pub fn mark(&self, mark: &str) -> io::Result<()> {
        // struct dm_target_msg: the sector, then the message.
        let mut msg = 0u64.to_ne_bytes().to_vec();
        msg.extend_from_slice(format!("mark {mark}\0").as_bytes());
        let mut b = header(&self.name, &msg, 0);
        Self::ioctl(&self.control, TARGET_MSG, &mut b, "mark")
    }

    /// Removes the device: the log is complete after this.
    pub fn remove(mut self) -> io::Result<()> {
        self.removed = true;
        let mut b = header(&self.name, &[], 0);
        Self::ioctl(&self.control, DEV_REMOVE, &mut b, "remove")
    }
}

impl Drop for LogWrites {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let mut b = header(&self.name, &[], 0);
        let _ = Self::ioctl(&self.control, DEV_REMOVE, &mut b, "remove");
    }
}

impl crate::workload::Marker for &LogWrites {
    fn mark(&mut self, name: &str) -> io::Result<()> {
        LogWrites::mark(self, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_headers_have_the_kernels_layout() {
        // DM_DEV_CREATE as dmsetup sends it.
        assert_eq!(request(DEV_CREATE), 0xc138_fd03);
        assert_eq!(request(TARGET_MSG), 0xc138_fd0e);
        let b = header("lw", b"abc", 1);
        assert_eq!(b.len(), 320);
        assert_eq!(u32::from_ne_bytes(b[12..16].try_into().unwrap()), 320);
        assert_eq!(&b[48..50], b"lw");
        assert_eq!(&b[312..315], b"abc");
    }
}
