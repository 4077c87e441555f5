// SPDX-License-Identifier: GPL-2.0

//! `rsfs-fuzz`: make a damaged copy of a sound rsfs image, to check that
//! the kernel refuses (or survives) what a hostile or broken disk holds.
//!
//! The damage is a pure function of a seed and an index: [`damage`] with
//! the same image, seed and index always changes the same bytes in the same
//! way. The index picks the [`Class`] round-robin, so that consecutive
//! indices cover every class; the seed and index together pick the variant
//! inside the class and its details with a small PRNG ([`rng`]).
//!
//! Modules: [`image`] models the image (superblock, inodes, block maps,
//! directories), [`mutate`] holds one function per class, [`rng`] the PRNG.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};

pub mod image;
pub mod mutate;
pub mod rng;

use image::Model;
use rng::Rng;

/// A kind of damage.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Class {
    /// 1–8 bits flipped in metadata, checksums left stale.
    BitflipRaw,
    /// 1–8 bits flipped in metadata, checksums recomputed.
    BitflipCsum,
    /// Only a checksum field is wrong.
    BadCsum,
    /// An extent or extent-block pointer outside the filesystem, the data
    /// area or the 32-bit file-block range, or an extent's unwritten bit
    /// flipped.
    ExtentRange,
    /// Extents overlapping other files, metadata or each other, out of
    /// order, too many, or a damaged overflow chain.
    ExtentOverlap,
    /// Directory entries making loops or hard-linked directories, naming
    /// unused or out-of-range inodes, or with the wrong file type.
    DirLoop,
    /// Malformed directory records: bad name or record lengths, bad
    /// characters, duplicate names.
    DirName,
    /// Sizes or block counts that disagree with the file.
    HugeSize,
    /// Bad mode, link count, flags or orphan link of an inode.
    InodeFields,
    /// Bad superblock fields, checksum recomputed.
    SuperblockFields,
    /// Bitmap bits clear for blocks or inodes in use, metadata or padding.
    Bitmap,
    /// Extended-attribute blocks out of range or shared, with a bad
    /// header, or with malformed or misordered entries.
    Xattr,
}

impl Class {
    /// Every class, in round-robin order.
    pub const ALL: [Class; 12] = [
        Self::BitflipRaw,
        Self::BitflipCsum,
        Self::BadCsum,
        Self::ExtentRange,
        Self::ExtentOverlap,
        Self::DirLoop,
        Self::DirName,
        Self::HugeSize,
        Self::InodeFields,
        Self::SuperblockFields,
        Self::Bitmap,
        Self::Xattr,
    ];

    /// The class image `index` gets when none is forced.
    pub fn for_index(index: u64) -> Class {
        Self::ALL[(index % Self::ALL.len() as u64) as usize]
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::BitflipRaw => "bitflip-raw",
            Self::BitflipCsum => "bitflip-csum",
            Self::BadCsum => "bad-csum",
            Self::ExtentRange => "extent-range",
            Self::ExtentOverlap => "extent-overlap",
            Self::DirLoop => "dir-loop",
            Self::DirName => "dir-name",
            Self::HugeSize => "huge-size",
            Self::InodeFields => "inode-fields",
            Self::SuperblockFields => "superblock-fields",
            Self::Bitmap => "bitmap",
            Self::Xattr => "xattr",
        }
    }

    /// A one-line description, for `--list-classes`.
    pub fn description(self) -> &'static str {
        match self {
            Self::BitflipRaw => "flip 1-8 bits in metadata, checksums left stale",
            Self::BitflipCsum => "flip 1-8 bits in metadata, checksums recomputed",
            Self::BadCsum => "corrupt only a checksum field",
            Self::ExtentRange => {
                "extent or extent-block pointer out of range; unwritten bit flipped"
            }
            Self::ExtentOverlap => {
                "extents overlapping files, metadata or each other; bad overflow chain"
            }
            Self::DirLoop => "directory loops, hard-linked directories, bad entry targets",
            Self::DirName => "malformed directory records and names",
            Self::HugeSize => "sizes and block counts that disagree with the file",
            Self::InodeFields => "bad mode, links, flags or orphan link",
            Self::SuperblockFields => "bad superblock fields, checksum recomputed",
            Self::Bitmap => "blocks or inodes in use marked free; metadata or padding bits clear",
            Self::Xattr => "extended-attribute blocks out of range, shared or malformed",
        }
    }

    /// The names of the variants [`damage`] picks from in this class.
    pub fn variants(self) -> Vec<&'static str> {
        mutate::variants(self).iter().map(|v| v.0).collect()
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Class {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|c| c.name()).collect();
                format!("unknown class {s:?}; the classes are {}", names.join(", "))
            })
    }
}

/// What [`damage`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The run's seed.
    pub seed: u64,
    /// The image's index.
    pub index: u64,
    /// The class.
    pub class: Class,
    /// The variant inside the class (one of [`Class::variants`]).
    pub variant: &'static str,
    /// What exactly changed.
    pub detail: String,
}

impl fmt::Display for Outcome {
    /// The one-line report: `image 17 (seed 42): extent-range:
    /// start-beyond-end: inode 5 extent 0 start ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "image {} (seed {}): {}: {}: {}",
            self.index, self.seed, self.class, self.variant, self.detail
        )
    }
}

/// Damages the rsfs image `img` in place, as chosen by `seed` and `index`
/// (and `class`, if given, instead of the round-robin choice). Fails if
/// `img` is not a sound rsfs image; never leaves it unchanged.
pub fn damage(img: &mut [u8], seed: u64, index: u64, class: Option<Class>) -> Result<Outcome> {
    let model = Model::parse(img)?;
    let class = class.unwrap_or_else(|| Class::for_index(index));
    let mut rng = Rng::new(seed, index);
    let before = img.to_vec();
    let (variant, detail) = mutate::apply(class, &model, img, &mut rng)?;
    if *img == before[..] {
        bail!("internal error: {class}: {variant} left the image unchanged ({detail})");
    }
    Ok(Outcome {
        seed,
        index,
        class,
        variant,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for c in Class::ALL {
            assert_eq!(c.name().parse::<Class>(), Ok(c));
            assert!(!c.variants().is_empty());
        }
        assert!("nonsense".parse::<Class>().is_err());
    }

    #[test]
    fn round_robin_covers_every_class() {
        let seen: std::collections::HashSet<Class> = (0..12).map(Class::for_index).collect();
        assert_eq!(seen.len(), Class::ALL.len());
        assert_eq!(Class::for_index(12), Class::for_index(0));
    }

    #[test]
    fn not_rsfs_is_refused() {
        let mut img = vec![0u8; 256 * rsfs_format::BLOCK_SIZE];
        assert!(damage(&mut img, 1, 0, None).is_err());
        let mut odd = vec![0u8; 1000];
        assert!(damage(&mut odd, 1, 0, None).is_err());
    }
}
