// SPDX-License-Identifier: GPL-2.0

//! The dm-log-writes log format (drivers/md/dm-log-writes.c).
//!
//! The target logs every write to the device it sits on, and every flush,
//! onto a second device:
//!
//! ```text
//! sector 0:   super   magic, version, nr_entries, sectorsize
//! sector 1:   entry   sector, nr_sectors, flags, data_len
//!             data    nr_sectors sectors of what was written
//! ...:        entry   the next one, and so on nr_entries times
//! ```
//!
//! Sectors are of the log's `sectorsize`, as are an entry's `sector` and
//! `nr_sectors`. A mark's name sits in its entry's own sector, after the
//! header. All numbers are little-endian.
//!
//! The order matters. A write is logged only once a flush that covers it
//! completes: the target keeps each completed write back until the next
//! flush is issued, then logs those writes ahead of that flush. A FUA
//! write, durable on completion, and a mark are logged at once. So the
//! writes between two flushes in the log are exactly those that completed
//! before the second flush was issued, in completion order.

use std::io::{self, Read, Seek, SeekFrom};
use thiserror::Error;

/// `WRITE_LOG_MAGIC`.
pub const MAGIC: u64 = 0x006a_7366_7773_6872;
/// `WRITE_LOG_VERSION`.
pub const VERSION: u64 = 1;

/// The entry's flags (`LOG_*_FLAG`).
pub const FLUSH: u64 = 1 << 0;
/// A write with REQ_FUA.
pub const FUA: u64 = 1 << 1;
/// A discard: a range, no data.
pub const DISCARD: u64 = 1 << 2;
/// A mark, made by `dmsetup message DEV 0 mark NAME`.
pub const MARK: u64 = 1 << 3;
/// A write with REQ_META (informational).
pub const METADATA: u64 = 1 << 4;

/// The bytes of `struct log_write_super` and `struct log_write_entry`.
pub const SUPER_LEN: usize = 28;
/// The bytes of `struct log_write_entry`.
pub const ENTRY_LEN: usize = 32;

/// What can be wrong with a log.
#[derive(Debug, Error)]
pub enum LogError {
    /// The file could not be read.
    #[error("reading the log: {0}")]
    Io(#[from] io::Error),
    /// Sector 0 is not a dm-log-writes super.
    #[error("not a dm-log-writes log (magic {0:#x}, expected {MAGIC:#x})")]
    Magic(u64),
    /// A version this reader does not know.
    #[error("dm-log-writes version {0}; this reader knows version {VERSION}")]
    Version(u64),
    /// A sector size that cannot be right.
    #[error("log sector size {0} is not a power of two from 512 to 65536")]
    SectorSize(u32),
    /// One entry that cannot be read as the kernel writes them.
    #[error("log entry {index}: {what}")]
    Entry {
        /// The entry's position in the log, from 0.
        index: u64,
        /// What is wrong with it.
        what: String,
    },
}

/// What one entry records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `len` bytes written at byte `offset` of the device; they are at
    /// byte `data` of the log. `fua`: the write was durable on completion.
    Write {
        /// Where on the device, in bytes.
        offset: u64,
        /// How many bytes.
        len: u64,
        /// Where the data is in the log, in bytes.
        data: u64,
        /// REQ_FUA.
        fua: bool,
    },
    /// `len` bytes discarded at byte `offset` of the device.
    Discard {
        /// Where on the device, in bytes.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
    /// A flush: every write logged before it is durable.
    Flush,
    /// A mark with its name.
    Mark(String),
}

/// A parsed log: its sector size and its entries in order. The data stays
/// in the log file; `Op::Write::data` says where.
#[derive(Clone, Debug)]
pub struct Log {
    /// The log's sector size in bytes.
    pub sector_size: u32,
    /// Every entry, in log order.
    pub entries: Vec<Op>,
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Log {
    /// Reads the super and every entry's header.
    pub fn read<R: Read + Seek>(r: &mut R) -> Result<Log, LogError> {
        let mut sup = [0u8; SUPER_LEN];
        r.seek(SeekFrom::Start(0))?;
        r.read_exact(&mut sup)?;
        let magic = le64(&sup, 0);
        if magic != MAGIC {
            return Err(LogError::Magic(magic));
        }
        let version = le64(&sup, 8);
        if version != VERSION {
            return Err(LogError::Version(version));
        }
        let count = le64(&sup, 16);
        let sector_size = u32::from_le_bytes(sup[24..28].try_into().expect("4 bytes"));
        if !sector_size.is_power_of_two() || !(512..=65536).contains(&sector_size) {
            return Err(LogError::SectorSize(sector_size));
        }
        let ss = u64::from(sector_size);
        let mut header = vec![0u8; sector_size as usize];
        let mut entries = Vec::new();
        let mut pos = ss;
        for index in 0..count {
            let bad = |what: String| LogError::Entry { index, what };
            r.seek(SeekFrom::Start(pos))?;
            r.read_exact(&mut header).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => bad(format!(
                    "the log ends at byte {pos}, before entry {index} of {count}"
                )),
                _ => LogError::Io(e),
            })?;
            pos += ss;
            let sector = le64(&header, 0);
            let sectors = le64(&header, 8);
            let flags = le64(&header, 16);
            let data_len = le64(&header, 24);
            let bytes = |n: u64| {
                n.checked_mul(ss)
                    .ok_or_else(|| bad(format!("{n} sectors of {ss} bytes overflow")))
            };
            let op = if flags & MARK != 0 {
                let room = (ss as usize) - ENTRY_LEN;
                let len = usize::try_from(data_len).unwrap_or(usize::MAX);
                if len > room {
                    return Err(bad(format!(
                        "a mark of {data_len} bytes; at most {room} fit its sector"
                    )));
                }
                let name = &header[ENTRY_LEN..ENTRY_LEN + len];
                let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
                Op::Mark(String::from_utf8_lossy(name).into_owned())
            } else if flags & DISCARD != 0 {
                Op::Discard {
                    offset: bytes(sector)?,
                    len: bytes(sectors)?,
                }
            } else if flags & FLUSH != 0 {
                // dm splits a flush with data into an empty flush and the
                // write, so a target sees only empty ones.
                if sectors != 0 {
                    return Err(bad(format!("a flush with {sectors} sectors of data")));
                }
                Op::Flush
            } else {
                if data_len != 0 {
                    return Err(bad(format!("{data_len} bytes of inline data on a write")));
                }
                if sectors == 0 {
                    return Err(bad("a write of no sectors".into()));
                }
                let op = Op::Write {
                    offset: bytes(sector)?,
                    len: bytes(sectors)?,
                    data: pos,
                    fua: flags & FUA != 0,
                };
                pos = pos
                    .checked_add(bytes(sectors)?)
                    .ok_or_else(|| bad("the log's size overflows".into()))?;
                op
            };
            entries.push(op);
        }
        Ok(Log {
            sector_size,
            entries,
        })
    }
}

/// Writes logs in the kernel's format: for tests, here and in the crates
/// that use this one.
#[derive(Debug)]
pub struct LogWriter {
    sector_size: usize,
    count: u64,
    bytes: Vec<u8>,
}

impl LogWriter {
    /// An empty log of `sector_size`-byte sectors.
    pub fn new(sector_size: usize) -> Self {
        Self {
            sector_size,
            count: 0,
            bytes: vec![0; sector_size],
        }
    }

    fn entry(&mut self, sector: u64, sectors: u64, flags: u64, extra: &[u8]) {
        let at = self.bytes.len();
        self.bytes.resize(at + self.sector_size, 0);
        for (i, v) in [sector, sectors, flags, extra.len() as u64]
            .into_iter()
            .enumerate()
        {
            self.bytes[at + 8 * i..at + 8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        if flags & MARK != 0 {
            self.bytes[at + ENTRY_LEN..at + ENTRY_LEN + extra.len()].copy_from_slice(extra);
        }
        self.count += 1;
    }

    /// A write of `data` (whole sectors) at byte `offset`.
    pub fn write(&mut self, offset: u64, data: &[u8], fua: bool) -> &mut Self {
        let ss = self.sector_size as u64;
        assert!(offset.is_multiple_of(ss) && data.len().is_multiple_of(self.sector_size));
        let flags = if fua { FUA } else { 0 };
        self.entry(offset / ss, data.len() as u64 / ss, flags, &[]);
        self.bytes.extend_from_slice(data);
        self
    }

    /// A flush.
    pub fn flush(&mut self) -> &mut Self {
        self.entry(0, 0, FLUSH, &[]);
        self
    }

    /// A discard of `len` bytes at `offset`.
    pub fn discard(&mut self, offset: u64, len: u64) -> &mut Self {
        let ss = self.sector_size as u64;
        self.entry(offset / ss, len / ss, DISCARD, &[]);
        self
    }

    /// A mark.
    pub fn mark(&mut self, name: &str) -> &mut Self {
        self.entry(0, 0, MARK, name.as_bytes());
        self
    }

    /// The log's bytes, super included.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = self.bytes.clone();
        out[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        out[8..16].copy_from_slice(&VERSION.to_le_bytes());
        out[16..24].copy_from_slice(&self.count.to_le_bytes());
        out[24..28].copy_from_slice(&(self.sector_size as u32).to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_what_the_kernel_writes() {
        let log = LogWriter::new(512)
            .write(4096, &[7u8; 8192], false)
            .mark("fsync-a")
            .flush()
            .write(0, &[9u8; 512], true)
            .discard(1 << 20, 4096)
            .finish();
        let parsed = Log::read(&mut Cursor::new(&log)).unwrap();
        assert_eq!(parsed.sector_size, 512);
        assert_eq!(
            parsed.entries,
            vec![
                Op::Write {
                    offset: 4096,
                    len: 8192,
                    data: 1024,
                    fua: false
                },
                Op::Mark("fsync-a".into()),
                Op::Flush,
                Op::Write {
                    offset: 0,
                    len: 512,
                    data: 1024 + 8192 + 1024 + 512,
                    fua: true
                },
                Op::Discard {
                    offset: 1 << 20,
                    len: 4096
                },
            ]
        );
        // The data is where the entry says.
        let Op::Write { data, len, .. } = parsed.entries[0] else {
            unreachable!()
        };
        assert!(log[data as usize..(data + len) as usize]
            .iter()
            .all(|&b| b == 7));
        let Op::Write { data, .. } = parsed.entries[3] else {
            unreachable!()
        };
        assert_eq!(log[data as usize], 9);
    }

    #[test]
    fn refuses_what_is_not_a_log() {
        let mut log = LogWriter::new(512).flush().finish();
        log[0] ^= 1;
        assert!(matches!(
            Log::read(&mut Cursor::new(&log)),
            Err(LogError::Magic(_))
        ));

        let mut log = LogWriter::new(512).flush().finish();
        log[8] = 2;
        assert!(matches!(
            Log::read(&mut Cursor::new(&log)),
            Err(LogError::Version(2))
        ));

        let mut log = LogWriter::new(512).flush().finish();
        log[24..28].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            Log::read(&mut Cursor::new(&log)),
            Err(LogError::SectorSize(1000))
        ));
    }

    #[test]
    fn a_short_log_is_an_error_not_a_panic() {
        let log = LogWriter::new(512)
            .write(0, &[1u8; 4096], false)
            .flush()
            .finish();
        // Cut inside the second entry's header sector.
        let cut = &log[..512 + 512 + 4096 + 100];
        let err = Log::read(&mut Cursor::new(cut)).unwrap_err();
        assert!(matches!(err, LogError::Entry { index: 1, .. }), "{err}");
        // A count larger than the entries there.
        let mut log = LogWriter::new(512).flush().finish();
        log[16] = 5;
        assert!(matches!(
            Log::read(&mut Cursor::new(&log)),
            Err(LogError::Entry { index: 1, .. })
        ));
    }

    #[test]
    fn a_mark_longer_than_its_sector_is_refused() {
        let mut log = LogWriter::new(512).mark("m").finish();
        log[512 + 24..512 + 32].copy_from_slice(&600u64.to_le_bytes());
        assert!(matches!(
            Log::read(&mut Cursor::new(&log)),
            Err(LogError::Entry { index: 0, .. })
        ));
    }
}
