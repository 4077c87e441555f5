// SPDX-License-Identifier: GPL-2.0

//! Directory blocks.

use anyhow::Result;
use rsfs_format::{csum_ok, dir_rec_len, DirEntryHeader, BLOCK_SIZE, DIR_DATA_SIZE};

use crate::{
    extent::Map,
    image::{crc, Image},
};

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

/// Reads every entry of a directory of `size` bytes. `Err` with a message
/// describes the first damage found.
pub fn read(img: &Image, map: &Map, size: u64) -> Result<Result<Vec<Entry>, String>> {
    let mut out = Vec::new();
    for block in 0..(size / BLOCK_SIZE as u64) as u32 {
        let Some(phys) = map.lookup(block) else {
            return Ok(Err(format!("block {block} is a hole")));
        };
        let b = img.read(phys)?;
        if !csum_ok(&b, crc) {
            return Ok(Err(format!("block {block}: checksum mismatch")));
        }
        let mut off = 0;
        while off < DIR_DATA_SIZE {
            let h = DirEntryHeader::decode(&b[off..]);
            let rec_len = usize::from(h.rec_len.get());
            let name_len = usize::from(h.name_len);
            let ino = h.ino.get();
            if rec_len < DirEntryHeader::SIZE || rec_len % 4 != 0 || off + rec_len > DIR_DATA_SIZE {
                return Ok(Err(format!(
                    "block {block}, offset {off}: bad record length {rec_len}"
                )));
            }
            if ino != 0 {
                if name_len == 0 || dir_rec_len(name_len) > rec_len {
                    return Ok(Err(format!(
                        "block {block}, offset {off}: bad name length {name_len}"
                    )));
                }
                let name =
                    b[off + DirEntryHeader::SIZE..off + DirEntryHeader::SIZE + name_len].to_vec();
                if name.contains(&b'/') || name.contains(&0) {
                    return Ok(Err(format!("block {block}, offset {off}: invalid name")));
                }
                out.push(Entry {
                    phys,
                    off,
                    ino,
                    name,
                    file_type: h.file_type,
                });
            }
            off += rec_len;
        }
    }
    Ok(Ok(out))
}

/// Marks the entry at byte `off` of directory block `phys` unused.
pub fn clear_entry(img: &Image, phys: u64, off: usize) -> Result<()> {
    let mut b = img.read(phys)?;
    b[off..off + 8].fill(0);
    rsfs_format::csum_set(&mut b, crc);
    img.write(phys, &b)
}
