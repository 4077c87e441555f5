// SPDX-License-Identifier: GPL-2.0

//! Directory blocks: reading their entries, and the repairs fsck makes to
//! them (an entry removed or changed, a block rebuilt, an entry added).

use anyhow::Result;
use rsfs_format::{
    csum_ok, csum_set, dir_rec_len, DirEntryHeader, BLOCK_SIZE, DIR_DATA_SIZE, FT_DIR,
};

use crate::image::{crc, Image};

/// One entry in use.
pub struct Entry {
    /// The disk block holding it.
    pub phys: u64,
    /// Its byte offset in that block.
    pub off: usize,
    /// The inode it names.
    pub ino: u64,
    /// Its name.
    pub name: Vec<u8>,
    /// Its `FT_*` file type.
    pub file_type: u8,
}

impl Entry {
    /// Whether the name is one a directory may hold: no '/' or NUL.
    pub fn name_ok(&self) -> bool {
        !self.name.contains(&b'/') && !self.name.contains(&0)
    }
}

/// One directory block, read.
pub struct Block {
    /// Whether its checksum is right.
    pub csum_ok: bool,
    /// Its entries in use, or what is wrong with its records.
    pub entries: Result<Vec<Entry>, String>,
}

/// Reads the entries of directory block `phys`.
pub fn read_block(img: &Image, phys: u64) -> Result<Block> {
    let b = img.read(phys)?;
    let mut out = Vec::new();
    let mut off = 0;
    let mut damage = None;
    while off < DIR_DATA_SIZE {
        let Some(h) = DirEntryHeader::at(&b, off) else {
            damage = Some(format!(
                "offset {off}: record header past the end of the block"
            ));
            break;
        };
        let rec_len = usize::from(h.rec_len.get());
        let name_len = usize::from(h.name_len);
        let ino = h.ino.get();
        if rec_len < DirEntryHeader::SIZE || rec_len % 4 != 0 || off + rec_len > DIR_DATA_SIZE {
            damage = Some(format!("offset {off}: bad record length {rec_len}"));
            break;
        }
        if ino != 0 {
            if name_len == 0 || dir_rec_len(name_len) > rec_len {
                damage = Some(format!("offset {off}: bad name length {name_len}"));
                break;
            }
            out.push(Entry {
                phys,
                off,
                ino,
                name: b[off + DirEntryHeader::SIZE..off + DirEntryHeader::SIZE + name_len].to_vec(),
                file_type: h.file_type,
            });
        }
        off += rec_len;
    }
    Ok(Block {
        csum_ok: csum_ok(&b, crc),
        entries: damage.map_or(Ok(out), Err),
    })
}

/// Rewrites the checksum of directory block `phys`.
pub fn fix_csum(img: &Image, phys: u64) -> Result<()> {
    let mut b = img.read(phys)?;
    csum_set(&mut b, crc);
    img.write(phys, &b)
}

/// Marks the entry at byte `off` of directory block `phys` unused.
pub fn clear_entry(img: &Image, phys: u64, off: usize) -> Result<()> {
    let mut b = img.read(phys)?;
    b[off..off + 8].fill(0);
    csum_set(&mut b, crc);
    img.write(phys, &b)
}

/// Changes the inode and file type of the entry at byte `off` of block
/// `phys`.
pub fn set_entry(img: &Image, phys: u64, off: usize, ino: u64, file_type: u8) -> Result<()> {
    let mut b = img.read(phys)?;
    let mut h = DirEntryHeader::decode(&b[off..]);
    h.ino = ino.into();
    h.file_type = file_type;
    h.encode(&mut b[off..]);
    csum_set(&mut b, crc);
    img.write(phys, &b)
}

/// A directory block holding `items`, the last record running to the end
/// of the entry area; `items` must fit.
pub fn build_block(items: &[(&[u8], u64, u8)]) -> Vec<u8> {
    let mut b = vec![0u8; BLOCK_SIZE];
    let mut off = 0;
    for (i, &(name, ino, ft)) in items.iter().enumerate() {
        let rec = if i + 1 == items.len() {
            DIR_DATA_SIZE - off
        } else {
            dir_rec_len(name.len())
        };
        DirEntryHeader {
            ino: ino.into(),
            rec_len: (rec as u16).into(),
            name_len: name.len() as u8,
            file_type: ft,
        }
        .encode(&mut b[off..]);
        b[off + DirEntryHeader::SIZE..off + DirEntryHeader::SIZE + name.len()]
            .copy_from_slice(name);
        off += rec;
    }
    if items.is_empty() {
        DirEntryHeader {
            ino: 0.into(),
            rec_len: (DIR_DATA_SIZE as u16).into(),
            name_len: 0,
            file_type: 0,
        }
        .encode(&mut b);
    }
    csum_set(&mut b, crc);
    b
}

/// Rebuilds a directory block whose records cannot be read: empty, or,
/// for a directory's first block, holding only `.` and `..`. The entries
/// it held are lost; their inodes go to lost+found.
pub fn rebuild_block(img: &Image, phys: u64, dots: Option<(u64, u64)>) -> Result<()> {
    let b = match dots {
        Some((me, parent)) => build_block(&[(b".", me, FT_DIR), (b"..", parent, FT_DIR)]),
        None => build_block(&[]),
    };
    img.write(phys, &b)
}

/// Adds the entry `name` → `ino` to the first of `blocks` with room for
/// it, splitting a record as the kernel does. Returns whether it fit.
pub fn add_entry(img: &Image, blocks: &[u64], name: &[u8], ino: u64, ft: u8) -> Result<bool> {
    let need = dir_rec_len(name.len());
    for &phys in blocks {
        let mut b = img.read(phys)?;
        let mut off = 0;
        while off < DIR_DATA_SIZE {
            let Some(h) = DirEntryHeader::at(&b, off) else {
                break;
            };
            let rec = usize::from(h.rec_len.get());
            if rec < DirEntryHeader::SIZE || off + rec > DIR_DATA_SIZE {
                break;
            }
            let used = if h.ino.get() == 0 {
                0
            } else {
                dir_rec_len(usize::from(h.name_len))
            };
            if rec - used >= need {
                let at = off + used;
                if used != 0 {
                    let mut h2 = h;
                    h2.rec_len = (used as u16).into();
                    h2.encode(&mut b[off..]);
                }
                DirEntryHeader {
                    ino: ino.into(),
                    rec_len: ((rec - used) as u16).into(),
                    name_len: name.len() as u8,
                    file_type: ft,
                }
                .encode(&mut b[at..]);
                b[at + DirEntryHeader::SIZE..at + DirEntryHeader::SIZE + name.len()]
                    .copy_from_slice(name);
                csum_set(&mut b, crc);
                img.write(phys, &b)?;
                return Ok(true);
            }
            off += rec;
        }
    }
    Ok(false)
}
