// SPDX-License-Identifier: GPL-2.0

//! Tagged blocks: every 4 KiB block the workload writes says which file,
//! which generation of that file's writes and which block of the file it
//! is, and the rest of it follows from those three. So a block read back
//! after a crash is either all zeroes, or exactly one block some workload
//! file wrote, or bytes no workload file wrote; and which it is can be
//! told from the block alone.

use crate::plan::BLOCK;

/// The first bytes of every tagged block.
pub const MAGIC: [u8; 8] = *b"rsfsTAG1";

/// What a tagged block says of itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// The workload's number for the file (not its inode number).
    pub file: u32,
    /// Which write of the file: each write has its own generation.
    pub gen: u32,
    /// The block's index in the file.
    pub block: u64,
}

/// What a block read back holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// Zeroes: a hole, or space never written.
    Zero,
    /// One block a workload file wrote.
    Tagged(Tag),
    /// Anything else: bytes no workload file wrote there.
    Foreign,
}

fn filler(tag: Tag, i: usize) -> u8 {
    let x = (u64::from(tag.file) << 40 ^ u64::from(tag.gen) << 20 ^ tag.block)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((i as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    (x >> 56) as u8
}

const HEADER: usize = 24;

/// The block that `tag` names.
pub fn block(tag: Tag) -> Vec<u8> {
    let mut b = vec![0u8; BLOCK as usize];
    b[..8].copy_from_slice(&MAGIC);
    b[8..12].copy_from_slice(&tag.file.to_le_bytes());
    b[12..16].copy_from_slice(&tag.gen.to_le_bytes());
    b[16..24].copy_from_slice(&tag.block.to_le_bytes());
    for (i, byte) in b.iter_mut().enumerate().skip(HEADER) {
        *byte = filler(tag, i);
    }
    b
}

/// What the 4 KiB block `b` holds.
pub fn read(b: &[u8]) -> Content {
    assert_eq!(b.len(), BLOCK as usize, "tag::read takes one block");
    if b.iter().all(|&x| x == 0) {
        return Content::Zero;
    }
    if b[..8] != MAGIC {
        return Content::Foreign;
    }
    let tag = Tag {
        file: u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
        gen: u32::from_le_bytes(b[12..16].try_into().expect("4 bytes")),
        block: u64::from_le_bytes(b[16..24].try_into().expect("8 bytes")),
    };
    if b.iter()
        .enumerate()
        .skip(HEADER)
        .all(|(i, &x)| x == filler(tag, i))
    {
        Content::Tagged(tag)
    } else {
        Content::Foreign
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_reads_back_as_its_tag() {
        let t = Tag {
            file: 3,
            gen: 7,
            block: 11,
        };
        assert_eq!(read(&block(t)), Content::Tagged(t));
        assert_ne!(block(t), block(Tag { gen: 8, ..t }));
        assert_eq!(read(&vec![0; BLOCK as usize]), Content::Zero);
    }

    #[test]
    fn any_change_makes_it_foreign() {
        let t = Tag {
            file: 1,
            gen: 1,
            block: 0,
        };
        for at in [0, 9, 100, 4095] {
            let mut b = block(t);
            b[at] ^= 0x40;
            assert_eq!(read(&b), Content::Foreign, "byte {at}");
        }
        // A block of another file with this one's header is foreign too.
        let mut b = block(Tag { file: 2, ..t });
        b[..24].copy_from_slice(&block(t)[..24]);
        assert_eq!(read(&b), Content::Foreign);
    }
}
