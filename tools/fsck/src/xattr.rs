// SPDX-License-Identifier: GPL-2.0

//! Extended-attribute blocks: one per inode that has attributes.

use anyhow::Result;
use rsfs_format::{xattrs, Geometry, Inode};

use crate::extent::Map;
use crate::image::{crc, Image};

/// Reads and checks the extended-attribute block of inode `ino`, whose
/// block map is `map`: `Ok(None)` if it has none, `Ok(Some(block))` if it
/// is sound, or `Err` saying what is wrong with it.
pub fn load(
    img: &Image,
    geo: &Geometry,
    ino: u64,
    d: &Inode,
    map: &Map,
) -> Result<Result<Option<u64>, String>> {
    let b = d.xattr_block.get();
    if b == 0 {
        return Ok(Ok(None));
    }
    if b < geo.data_start || b >= geo.blocks_count {
        return Ok(Err(format!(
            "extended-attribute block {b} is outside the data area"
        )));
    }
    if map.all_blocks().any(|m| m == b) {
        return Ok(Err(format!(
            "extended-attribute block {b} is also in the block map"
        )));
    }
    let block = img.read(b)?;
    if let Err(e) = xattrs(&block, ino, crc) {
        return Ok(Err(format!("extended-attribute block {b}: {}", e.as_str())));
    }
    Ok(Ok(Some(b)))
}

#[cfg(test)]
mod tests {
    use rsfs_format::{
        xattrs, xattrs_with, XattrError, BLOCK_SIZE, XATTR_INDEX_POSIX_ACL_ACCESS,
        XATTR_INDEX_SECURITY, XATTR_INDEX_TRUSTED, XATTR_INDEX_USER,
    };

    use crate::image::crc;

    fn set(old: &[u8], change: (u8, &[u8], Option<&[u8]>)) -> (Vec<u8>, usize) {
        let mut out = vec![0u8; BLOCK_SIZE];
        let n = if old.is_empty() {
            xattrs_with(core::iter::empty(), change, 7, &mut out, crc)
        } else {
            xattrs_with(xattrs(old, 7, crc).unwrap(), change, 7, &mut out, crc)
        }
        .unwrap();
        (out, n)
    }

    fn names(block: &[u8]) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
        xattrs(block, 7, crc)
            .unwrap()
            .map(|e| (e.index, e.name.to_vec(), e.value.to_vec()))
            .collect()
    }

    #[test]
    fn entries_stay_sorted_and_unique() {
        let (b, n) = set(&[], (XATTR_INDEX_USER, b"b", Some(b"2")));
        assert_eq!(n, 1);
        let (b, _) = set(&b, (XATTR_INDEX_USER, b"a", Some(b"1")));
        let (b, _) = set(&b, (XATTR_INDEX_SECURITY, b"a", Some(b"")));
        let (b, _) = set(&b, (XATTR_INDEX_TRUSTED, b"z", Some(b"t")));
        let (b, n) = set(&b, (XATTR_INDEX_USER, b"b", Some(b"replaced")));
        assert_eq!(n, 4);
        assert_eq!(
            names(&b),
            vec![
                (XATTR_INDEX_USER, b"a".to_vec(), b"1".to_vec()),
                (XATTR_INDEX_USER, b"b".to_vec(), b"replaced".to_vec()),
                (XATTR_INDEX_TRUSTED, b"z".to_vec(), b"t".to_vec()),
                (XATTR_INDEX_SECURITY, b"a".to_vec(), b"".to_vec()),
            ]
        );
        let (b, n) = set(&b, (XATTR_INDEX_USER, b"a", None));
        assert_eq!(n, 3);
        assert_eq!(names(&b)[0].1, b"b");
        let (_, n) = set(&b, (XATTR_INDEX_USER, b"absent", None));
        assert_eq!(n, 3);
    }

    #[test]
    fn a_full_block_says_no_space() {
        let max = rsfs_format::xattr_value_max(1);
        let big = vec![0xa5u8; max];
        let (b, n) = set(&[], (XATTR_INDEX_USER, b"x", Some(&big)));
        assert_eq!((n, names(&b)[0].2.len()), (1, max));
        let mut out = vec![0u8; BLOCK_SIZE];
        let more = xattrs_with(
            xattrs(&b, 7, crc).unwrap(),
            (XATTR_INDEX_USER, b"y", Some(b"1")),
            7,
            &mut out,
            crc,
        );
        assert_eq!(more, Err(XattrError::NoSpace));
        let mut out = vec![0u8; BLOCK_SIZE];
        let too_big = vec![0u8; max + 1];
        let r = xattrs_with(
            core::iter::empty(),
            (XATTR_INDEX_USER, b"x", Some(&too_big)),
            7,
            &mut out,
            crc,
        );
        assert_eq!(r, Err(XattrError::NoSpace));
    }

    #[test]
    fn damage_is_refused() {
        let (b, _) = set(&[], (XATTR_INDEX_USER, b"a", Some(b"1")));
        assert!(matches!(xattrs(&b, 8, crc), Err(XattrError::WrongOwner(7))));
        let mut bad = b.clone();
        bad[20] ^= 1;
        assert!(matches!(xattrs(&bad, 7, crc), Err(XattrError::BadChecksum)));
        // An unknown namespace, with a good checksum.
        let mut bad = b.clone();
        bad[16] = 9;
        rsfs_format::csum_set(&mut bad, crc);
        assert!(matches!(xattrs(&bad, 7, crc), Err(XattrError::BadEntry(0))));
        // An ACL that is not one: version 3, then no whole entry.
        let (acl, _) = set(
            &[],
            (XATTR_INDEX_POSIX_ACL_ACCESS, b"", Some(&[3, 0, 0, 0, 1, 0])),
        );
        assert!(matches!(xattrs(&acl, 7, crc), Err(XattrError::BadAcl(0))));
        let mut v = 2u32.to_le_bytes().to_vec();
        v.extend([0x01, 0, 6, 0, 0xff, 0xff, 0xff, 0xff]);
        let (acl, _) = set(&[], (XATTR_INDEX_POSIX_ACL_ACCESS, b"", Some(&v)));
        assert!(xattrs(&acl, 7, crc).is_ok());
        v[4] = 0x40; // an unknown tag
        let (acl, _) = set(&[], (XATTR_INDEX_POSIX_ACL_ACCESS, b"", Some(&v)));
        assert!(matches!(xattrs(&acl, 7, crc), Err(XattrError::BadAcl(0))));
        // A name with a NUL byte in it.
        let (nul, _) = set(&[], (XATTR_INDEX_USER, b"a\0b", Some(b"1")));
        assert!(matches!(xattrs(&nul, 7, crc), Err(XattrError::BadEntry(0))));
        // Two entries swapped out of order.
        let (two, _) = set(&b, (XATTR_INDEX_USER, b"b", Some(b"2")));
        let mut bad = two.clone();
        bad[16 + 4] = b'c';
        rsfs_format::csum_set(&mut bad, crc);
        assert!(matches!(
            xattrs(&bad, 7, crc),
            Err(XattrError::OutOfOrder(1))
        ));
    }
}
