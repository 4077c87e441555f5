// SPDX-License-Identifier: GPL-2.0

//! The block and inode bitmaps.

use anyhow::Result;
use rsfs_format::{bitmap_set, bitmap_test, csum_ok, csum_set, BITS_PER_BITMAP_BLOCK, BLOCK_SIZE};

use crate::image::{crc, Image};

/// A bitmap region read from disk: one bool per bit, and which of its
/// blocks failed their checksum.
pub struct Bitmap {
    /// The bits, including the padding past the last valid one.
    pub bits: Vec<bool>,
    /// Indices of blocks whose checksum is wrong.
    pub bad_csum: Vec<u64>,
}

/// Reads `blocks` bitmap blocks from `start`.
pub fn read(img: &Image, start: u64, blocks: u64) -> Result<Bitmap> {
    let mut bits = Vec::with_capacity((blocks * BITS_PER_BITMAP_BLOCK) as usize);
    let mut bad_csum = Vec::new();
    for i in 0..blocks {
        let b = img.read(start + i)?;
        if !csum_ok(&b, crc) {
            bad_csum.push(i);
        }
        bits.extend((0..BITS_PER_BITMAP_BLOCK).map(|bit| bitmap_test(&b, bit)));
    }
    Ok(Bitmap { bits, bad_csum })
}

/// Writes `bits` as a bitmap region of `blocks` blocks from `start`.
pub fn write(img: &Image, start: u64, blocks: u64, bits: &[bool]) -> Result<()> {
    for i in 0..blocks {
        let mut b = vec![0u8; BLOCK_SIZE];
        let first = (i * BITS_PER_BITMAP_BLOCK) as usize;
        for bit in 0..BITS_PER_BITMAP_BLOCK {
            if bits[first + bit as usize] {
                bitmap_set(&mut b, bit, true);
            }
        }
        csum_set(&mut b, crc);
        img.write(start + i, &b)?;
    }
    Ok(())
}
