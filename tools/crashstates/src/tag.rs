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

/// The first bytes of every tagged extended-attribute value.
pub const VALUE_MAGIC: [u8; 8] = *b"rsfsXAT1";

/// The attribute a tagged value says it is: its key (the workload names
/// it `user.k<key>`), the file it was set on, and which setting it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueTag {
    /// The workload's number for the file.
    pub file: u32,
    /// The attribute's number.
    pub key: u32,
    /// Which setting: each has its own generation.
    pub gen: u32,
}

impl ValueTag {
    /// The block-tag whose filler a value uses, so that the bytes of a
    /// value differ from those of any data block.
    fn as_block(self) -> Tag {
        Tag {
            file: self.file,
            gen: self.gen,
            block: u64::from(self.key) | 1 << 63,
        }
    }

    /// A value's length follows from its tag: 24 to 1,024 bytes, so
    /// that three of them share one 4 KiB attribute block.
    fn len(self) -> usize {
        HEADER + (filler(self.as_block(), 0) as usize * 4 + self.gen as usize) % 1001
    }
}

/// The value that `tag` names.
pub fn value(tag: ValueTag) -> Vec<u8> {
    let mut v = vec![0u8; tag.len()];
    v[..8].copy_from_slice(&VALUE_MAGIC);
    v[8..12].copy_from_slice(&tag.file.to_le_bytes());
    v[12..16].copy_from_slice(&tag.key.to_le_bytes());
    v[16..20].copy_from_slice(&tag.gen.to_le_bytes());
    for (i, byte) in v.iter_mut().enumerate().skip(20) {
        *byte = filler(tag.as_block(), i);
    }
    v
}

/// What an attribute's value read back is: one whole value the workload
/// set, or (None) anything else, a part of one included.
pub fn read_value(v: &[u8]) -> Option<ValueTag> {
    if v.len() < HEADER || v[..8] != VALUE_MAGIC {
        return None;
    }
    let word = |at: usize| u32::from_le_bytes(v[at..at + 4].try_into().expect("4 bytes"));
    let tag = ValueTag {
        file: word(8),
        key: word(12),
        gen: word(16),
    };
    (value(tag) == v).then_some(tag)
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

    #[test]
    fn a_value_reads_back_as_its_tag_and_only_whole() {
        let t = ValueTag {
            file: 4,
            key: 2,
            gen: 9,
        };
        let v = value(t);
        assert!((HEADER..=1024).contains(&v.len()));
        assert_eq!(read_value(&v), Some(t));
        assert_eq!(read_value(&v[..v.len() - 1]), None);
        let mut w = v.clone();
        w.push(0);
        assert_eq!(read_value(&w), None);
        let mut w = v.clone();
        *w.last_mut().unwrap() ^= 1;
        assert_eq!(read_value(&w), None);
        assert_eq!(
            read_value(&value(ValueTag { gen: 10, ..t })),
            Some(ValueTag { gen: 10, ..t })
        );
    }
}
