// SPDX-License-Identifier: GPL-2.0

//! fsck.rsfs and the journal: a committed transaction is checked as the
//! replay leaves it (`-n`) or replayed (`-y`); an incomplete one is
//! ignored, as the kernel ignores it.

use fsck_rsfs::{check, Mode};
use rsfs_format::*;

mod common;
use common::{crc, Img};

impl Img {
    /// Writes a transaction logging `blocks` (home, bytes) into the log,
    /// with its commit block if `commit`.
    fn log(&self, seq: u64, blocks: &[(u64, Vec<u8>)], commit: bool) {
        let start = self.geo.journal_start;
        let n = blocks.len() as u64;
        let mut desc = vec![0u8; BLOCK_SIZE];
        JournalDesc {
            magic: JOURNAL_DESC_MAGIC.into(),
            index: 0.into(),
            seq: seq.into(),
            blocks: (n as u32).into(),
            pad0: 0.into(),
        }
        .encode(&mut desc);
        for (i, (home, b)) in blocks.iter().enumerate() {
            let tag = JournalTag {
                home: (*home).into(),
                csum: journal_csum(b).into(),
            };
            JournalDesc::set_tag(&mut desc, i as u64, &tag);
            self.write(start + 1 + i as u64, b);
        }
        csum_set(&mut desc, crc);
        self.write(start, &desc);
        if commit {
            let mut c = vec![0u8; BLOCK_SIZE];
            JournalCommit {
                magic: JOURNAL_COMMIT_MAGIC.into(),
                blocks: (n as u32).into(),
                seq: seq.into(),
            }
            .encode(&mut c);
            csum_set(&mut c, crc);
            self.write(start + 1 + n, &c);
        }
    }

    /// The root inode as stored in `table` (its inode-table block).
    fn root_links(&self, table: &[u8]) -> u16 {
        let (_, off) = self.geo.inode_location(ROOT_INO);
        Inode::decode(&table[off..]).links.get()
    }
}

/// An inode-table block whose root inode has `links` links (checksum
/// kept right): a change a transaction might log.
fn root_with_links(img: &Img, links: u16) -> (u64, Vec<u8>) {
    let (block, off) = img.geo.inode_location(ROOT_INO);
    let mut b = img.read(block);
    let mut d = Inode::decode(&b[off..]);
    d.links = links.into();
    d.encode(&mut b[off..]);
    csum_set(&mut b[off..off + INODE_SIZE], crc);
    (block, b)
}

#[test]
fn journal_checksum_is_crc32_not_crc32c() {
    assert_eq!(journal_csum(b"123456789"), 0xcbf4_3926);
}

#[test]
fn crc32c_cannot_tell_versions_of_a_self_checksummed_block_apart() {
    // Why the tags do not use crc32c: every version of a block made of
    // pieces that each end with their own crc32c (a full inode-table
    // block) has the same crc32c.
    let table = |links: u16| {
        let mut b = vec![0u8; BLOCK_SIZE];
        for slot in b.chunks_mut(INODE_SIZE) {
            Inode {
                mode: 0o100644.into(),
                links: links.into(),
                ..Default::default()
            }
            .encode(slot);
            csum_set(slot, crc);
        }
        b
    };
    let (a, b) = (table(1), table(2));
    assert_ne!(a, b);
    assert_eq!(crc(&a), crc(&b));
    assert_ne!(journal_csum(&a), journal_csum(&b));
}

#[test]
fn a_committed_transaction_is_checked_as_replayed_and_replayed_by_y() {
    let img = Img::new("committed");
    // A transaction that gives the root a third link: fsck, looking at the
    // disk alone, would call the count wrong; as replayed, it is what the
    // transaction says, and fsck must check that (and find the count
    // wrong there: the root has no subdirectory).
    let (home, b) = root_with_links(&img, 3);
    img.log((7 << 32) + 1, &[(home, b)], true);
    let r = check(&img.path, Mode::Check).unwrap();
    assert_eq!(r.journal, Some(((7 << 32) + 1, 1)));
    assert!(
        r.problems.iter().any(|p| p.message.contains("link count")),
        "{:?}",
        r.problems
    );
    // -n changed nothing.
    assert_eq!(img.root_links(&img.read(home)), 2);
    let r = check(&img.path, Mode::Repair).unwrap();
    assert_eq!(r.journal, Some(((7 << 32) + 1, 1)));
    // Replayed, the count repaired, and the log emptied.
    assert!(img.read(img.geo.journal_start).iter().all(|&x| x == 0));
    let r = check(&img.path, Mode::Check).unwrap();
    assert_eq!(r.journal, None);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);
}

#[test]
fn a_transaction_without_its_commit_block_is_ignored() {
    let img = Img::new("uncommitted");
    let (home, b) = root_with_links(&img, 3);
    img.log(5, &[(home, b)], false);
    let r = check(&img.path, Mode::Check).unwrap();
    assert_eq!(r.journal, None);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);
}

#[test]
fn a_stale_copy_under_a_commit_is_ignored() {
    // The commit block and descriptor of a transaction, with one of its
    // copies overwritten by another version of the same block (a later
    // commit torn by the power cut): nothing is replayed.
    let img = Img::new("stale");
    let (home, b) = root_with_links(&img, 3);
    img.log(9, &[(home, b)], true);
    let (_, other) = root_with_links(&img, 4);
    img.write(img.geo.journal_start + 1, &other);
    let r = check(&img.path, Mode::Check).unwrap();
    assert_eq!(r.journal, None);
    assert_eq!(r.exit_code(), 0, "{:?}", r.problems);
}

#[test]
fn a_committed_transaction_logging_a_block_outside_the_filesystem_is_damage() {
    let img = Img::new("outside");
    let b = vec![0u8; BLOCK_SIZE];
    img.log(3, &[(img.geo.blocks_count + 5, b)], true);
    let r = check(&img.path, Mode::Check).unwrap();
    assert!(r.problems.iter().any(|p| p.message.contains("journal")));
    assert_eq!(r.exit_code(), 4);
    let r = check(&img.path, Mode::Repair).unwrap();
    assert!(r
        .problems
        .iter()
        .any(|p| p.message.contains("journal") && p.fixed));
    assert!(img.read(img.geo.journal_start).iter().all(|&x| x == 0));
}
