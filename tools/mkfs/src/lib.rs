// SPDX-License-Identifier: GPL-2.0

//! `mkfs.rsfs`: create an rsfs filesystem on a block device or image file.
//!
//! The library holds the work; `main.rs` is the command line.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rsfs_format::*;

/// What to make.
#[derive(Debug, Default)]
pub struct Options {
    /// Volume label (at most 32 bytes).
    pub label: Option<String>,
    /// Number of inodes (default: one per 16 KiB of disk).
    pub inodes: Option<u64>,
    /// Overwrite a device that already holds a filesystem.
    pub force: bool,
    /// Print nothing on success.
    pub quiet: bool,
    /// Size of the filesystem in 4 KiB blocks (default: the whole device).
    pub blocks: Option<u64>,
    /// Blocks in the journal (default: `default_journal_blocks`).
    pub journal_blocks: Option<u64>,
}

/// Standard crc32c, as the format's checksums use it.
pub fn crc(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}

/// Names the filesystem the device or image at `path` holds, if it is one
/// we recognise; `None` also when it cannot be read.
pub fn existing_filesystem_at(path: &Path) -> Option<&'static str> {
    let dev = File::open(path).ok()?;
    existing_filesystem(&dev).ok().flatten()
}

/// Names the filesystem `dev` already holds, if it is one we recognise.
fn existing_filesystem(dev: &File) -> Result<Option<&'static str>> {
    let mut head = vec![0u8; 2048];
    let n = dev.read_at(&mut head, 0).context("reading the device")?;
    head.truncate(n);
    if head.len() >= 4 && Le32::read(&head).get() == MAGIC {
        return Ok(Some("rsfs"));
    }
    // The ext2/3/4 superblock sits at byte 1024; its magic at offset 56.
    if head.len() >= 1082 && Le16::read(&head[1080..]).get() == 0xef53 {
        return Ok(Some("ext2/ext3/ext4"));
    }
    Ok(None)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random_uuid() -> Result<[u8; 16]> {
    let mut uuid = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut uuid))
        .context("reading /dev/urandom")?;
    // RFC 4122 version 4, variant 1.
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    Ok(uuid)
}

/// A bitmap region of `blocks` blocks with bits `0..used` set, and every bit
/// at or past `valid` set too, so that nothing beyond the end is allocated.
fn bitmap_region(blocks: u64, used: u64, valid: u64) -> Vec<u8> {
    let mut region = vec![0u8; (blocks as usize) * BLOCK_SIZE];
    for (i, block) in region.chunks_mut(BLOCK_SIZE).enumerate() {
        let first = i as u64 * BITS_PER_BITMAP_BLOCK;
        for bit in 0..BITS_PER_BITMAP_BLOCK {
            let n = first + bit;
            if n < used || n >= valid {
                bitmap_set(block, bit, true);
            }
        }
        csum_set(block, crc);
    }
    region
}

/// The root directory's only block: "." and "..", both the root itself.
fn root_dir_block() -> Vec<u8> {
    let mut block = vec![0u8; BLOCK_SIZE];
    let dot_len = dir_rec_len(1);
    let entries: [(&[u8], usize, usize); 2] = [
        (b".", 0, dot_len),
        (b"..", dot_len, DIR_DATA_SIZE - dot_len),
    ];
    for (name, off, rec_len) in entries {
        DirEntryHeader {
            ino: Le64::new(ROOT_INO),
            rec_len: Le16::new(rec_len as u16),
            name_len: name.len() as u8,
            file_type: FT_DIR,
        }
        .encode(&mut block[off..]);
        let name_off = off + DirEntryHeader::SIZE;
        block[name_off..name_off + name.len()].copy_from_slice(name);
    }
    csum_set(&mut block, crc);
    block
}

fn root_inode(data_block: u64, time: u64) -> [u8; INODE_SIZE] {
    let mut extents = [Extent::default(); INODE_EXTENTS];
    extents[0] = Extent {
        logical: Le32::new(0),
        len: Le32::new(1),
        start: Le64::new(data_block),
    };
    let inode = Inode {
        mode: Le16::new(0o040755),
        links: Le16::new(2),
        size: Le64::new(BLOCK_SIZE as u64),
        blocks: Le64::new(1),
        atime: Le64::new(time),
        mtime: Le64::new(time),
        ctime: Le64::new(time),
        generation: Le32::new(1),
        extent_count: Le16::new(1),
        extents,
        ..Default::default()
    };
    let mut bytes = [0u8; INODE_SIZE];
    inode.encode(&mut bytes);
    csum_set(&mut bytes, crc);
    bytes
}

fn device_size(dev: &mut File) -> Result<u64> {
    // Seeking to the end gives the size of block devices and files alike.
    let size = dev
        .seek(SeekFrom::End(0))
        .context("finding the device size")?;
    dev.seek(SeekFrom::Start(0))?;
    Ok(size)
}

/// Zeroes `count` blocks from block `start` of `dev`.
///
/// It first punches a hole: an image file becomes sparse there, and a block
/// device zeroes the range itself (`blkdev_fallocate` issues write-zeroes
/// requests and refuses if the device has none). The inode table of a
/// 2 GiB filesystem is 32 MiB; copying that many zeroes through the page
/// cache took 2 s of a 2.2 s mkfs in the test VM (TCG). Where no hole can
/// be punched, it writes zeroes.
fn zero_blocks(dev: &File, start: u64, count: u64) -> Result<()> {
    let off = start * BLOCK_SIZE as u64;
    let len = count * BLOCK_SIZE as u64;
    if let (Ok(o), Ok(l)) = (libc::off_t::try_from(off), libc::off_t::try_from(len)) {
        // SAFETY: `fallocate(2)` takes a descriptor and numbers, no memory;
        // the descriptor is `dev`'s, open for writing for this whole call.
        let r = unsafe {
            libc::fallocate(
                dev.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                o,
                l,
            )
        };
        if r == 0 {
            return Ok(());
        }
    }
    let zeroes = vec![0u8; 256 * BLOCK_SIZE];
    let mut block = start;
    while block < start + count {
        let n = (start + count - block).min(256);
        dev.write_all_at(
            &zeroes[..n as usize * BLOCK_SIZE],
            block * BLOCK_SIZE as u64,
        )
        .with_context(|| format!("writing block {block}"))?;
        block += n;
    }
    Ok(())
}

/// Formats `path` as rsfs.
pub fn mkfs(path: &Path, args: &Options) -> Result<()> {
    let mut dev = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let size = device_size(&mut dev)?;
    let mut blocks = size / BLOCK_SIZE as u64;
    if let Some(asked) = args.blocks {
        // As mke2fs takes a block count: a smaller filesystem than the
        // device, never a larger one.
        if asked > blocks {
            bail!(
                "{} has {} blocks of {} bytes; cannot make a filesystem of {} blocks on it",
                path.display(),
                blocks,
                BLOCK_SIZE,
                asked
            );
        }
        blocks = asked;
    }
    if blocks < MIN_BLOCKS {
        bail!(
            "{} is too small: {} bytes, and rsfs needs at least {} KiB",
            path.display(),
            blocks * BLOCK_SIZE as u64,
            MIN_BLOCKS * BLOCK_SIZE as u64 / 1024
        );
    }
    if let Some(fs) = existing_filesystem(&dev)? {
        if !args.force {
            bail!(
                "{} contains an {} filesystem; use -f to overwrite it",
                path.display(),
                fs
            );
        }
    }
    let label = args.label.as_deref().unwrap_or("").as_bytes();
    if label.len() > 32 {
        bail!(
            "label is {} bytes long; at most 32 are allowed",
            label.len()
        );
    }
    let g = Geometry::new(blocks, args.inodes, args.journal_blocks)
        .map_err(|e| anyhow::anyhow!("cannot lay out {} blocks: {}", blocks, e.as_str()))?;

    // Kill the old superblock first, so that a crash part way through leaves
    // no filesystem rather than a half-made one.
    dev.write_all_at(&[0u8; BLOCK_SIZE], 0)?;
    dev.sync_data()?;

    let time = now();
    let root_block = g.data_start;
    let write_at = |buf: &[u8], block: u64| -> Result<()> {
        dev.write_all_at(buf, block * BLOCK_SIZE as u64)
            .with_context(|| format!("writing block {block}"))
    };

    // Block bitmap: the metadata and the root directory block are in use.
    write_at(
        &bitmap_region(g.block_bitmap_blocks, root_block + 1, g.blocks_count),
        g.block_bitmap_start,
    )?;
    // Inode bitmap: inode 0 does not exist, inode 1 is the root.
    write_at(
        &bitmap_region(g.inode_bitmap_blocks, ROOT_INO + 1, g.inodes_count + 1),
        g.inode_bitmap_start,
    )?;
    // Inode table: all zero except the root inode.
    zero_blocks(&dev, g.inode_table_start, g.inode_table_blocks)?;
    // Journal: empty. Its first block holds no descriptor, so a mount
    // replays nothing whatever the rest of it holds.
    zero_blocks(&dev, g.journal_start, 1)?;
    let (iblock, ioff) = g.inode_location(ROOT_INO);
    dev.write_all_at(
        &root_inode(root_block, time),
        iblock * BLOCK_SIZE as u64 + ioff as u64,
    )?;
    write_at(&root_dir_block(), root_block)?;
    dev.sync_data()?;

    let mut label_field = [0u8; 32];
    label_field[..label.len()].copy_from_slice(label);
    let sb = Superblock {
        magic: Le32::new(MAGIC),
        version: Le32::new(VERSION),
        block_size: Le32::new(BLOCK_SIZE as u32),
        blocks_count: Le64::new(g.blocks_count),
        inodes_count: Le64::new(g.inodes_count),
        free_blocks: Le64::new(g.blocks_count - (root_block + 1)),
        free_inodes: Le64::new(g.inodes_count - 1),
        block_bitmap_start: Le64::new(g.block_bitmap_start),
        block_bitmap_blocks: Le64::new(g.block_bitmap_blocks),
        inode_bitmap_start: Le64::new(g.inode_bitmap_start),
        inode_bitmap_blocks: Le64::new(g.inode_bitmap_blocks),
        inode_table_start: Le64::new(g.inode_table_start),
        inode_table_blocks: Le64::new(g.inode_table_blocks),
        data_start: Le64::new(g.data_start),
        journal_blocks: Le64::new(g.journal_blocks),
        root_ino: Le64::new(ROOT_INO),
        state: Le16::new(STATE_CLEAN),
        mkfs_time: Le64::new(time),
        write_time: Le64::new(time),
        uuid: random_uuid()?,
        label: label_field,
        ..Default::default()
    };
    let mut sb_block = vec![0u8; BLOCK_SIZE];
    sb.encode(&mut sb_block);
    csum_set(&mut sb_block[..Superblock::SIZE], crc);
    write_at(&sb_block, SUPERBLOCK_BLOCK)?;
    dev.sync_all()?;
    dev.flush()?;

    if !args.quiet {
        println!(
            "{}: rsfs, {} blocks of {} bytes ({} MiB), {} inodes, journal of {} blocks, data from block {}",
            path.display(),
            g.blocks_count,
            BLOCK_SIZE,
            (g.blocks_count * BLOCK_SIZE as u64) >> 20,
            g.inodes_count,
            g.journal_blocks,
            g.data_start
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_kernel_convention() {
        // The standard CRC-32C check value, as lib/crc32 and RFC 3720 give it.
        assert_eq!(crc(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn root_directory_block_is_consistent() {
        let block = root_dir_block();
        assert!(csum_ok(&block, crc));
        let dot = DirEntryHeader::decode(&block);
        assert_eq!(dot.ino.get(), ROOT_INO);
        let dotdot = DirEntryHeader::decode(&block[dot.rec_len.get() as usize..]);
        assert_eq!(
            dot.rec_len.get() as usize + dotdot.rec_len.get() as usize,
            DIR_DATA_SIZE
        );
        assert_eq!(&block[dot.rec_len.get() as usize + 12..][..2], b"..");
    }

    #[test]
    fn formats_an_image_that_validates() {
        let dir = std::env::temp_dir().join(format!("mkfs-rsfs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("img");
        File::create(&img).unwrap().set_len(8 << 20).unwrap();
        let args = Options {
            quiet: true,
            label: Some("test".into()),
            ..Default::default()
        };
        mkfs(&img, &args).unwrap();

        let bytes = std::fs::read(&img).unwrap();
        let sb = Superblock::validate(&bytes, crc).unwrap();
        let g = Geometry::from_superblock(&sb, 2048).unwrap();
        assert_eq!(&sb.label[..4], b"test");
        // No incompatible feature: the kernel sets the unwritten-extents
        // one with the first unwritten extent.
        assert_eq!(sb.feature_incompat.get(), 0);
        let (blk, off) = g.inode_location(ROOT_INO);
        let root = &bytes[blk as usize * BLOCK_SIZE + off..][..INODE_SIZE];
        assert!(csum_ok(root, crc));
        let root = Inode::decode(root);
        assert_eq!(root.mode.get(), 0o040755);
        assert_eq!(root.extents[0].blocks(), 1);
        assert!(!root.extents[0].is_unwritten());
        // A second mkfs over an rsfs needs -f.
        assert!(mkfs(&img, &args).is_err());
        let forced = Options {
            quiet: true,
            force: true,
            ..Default::default()
        };
        mkfs(&img, &forced).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_block_count_makes_a_smaller_filesystem_and_never_a_larger_one() {
        let dir = std::env::temp_dir().join(format!("mkfs-rsfs-count-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("img");
        File::create(&img).unwrap().set_len(8 << 20).unwrap();
        let args = Options {
            quiet: true,
            blocks: Some(1024),
            ..Default::default()
        };
        mkfs(&img, &args).unwrap();
        let bytes = std::fs::read(&img).unwrap();
        let sb = Superblock::validate(&bytes, crc).unwrap();
        assert_eq!(sb.blocks_count.get(), 1024);

        let too_many = Options {
            quiet: true,
            force: true,
            blocks: Some(4096),
            ..Default::default()
        };
        let err = mkfs(&img, &too_many).unwrap_err().to_string();
        assert!(
            err.contains("cannot make a filesystem of 4096 blocks"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_inode_table_is_zeroed_over_old_data() {
        let dir = std::env::temp_dir().join(format!("mkfs-rsfs-old-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("img");
        std::fs::write(&img, vec![0xa5u8; 8 << 20]).unwrap();
        let args = Options {
            quiet: true,
            force: true,
            ..Default::default()
        };
        mkfs(&img, &args).unwrap();
        let bytes = std::fs::read(&img).unwrap();
        let sb = Superblock::validate(&bytes, crc).unwrap();
        let g = Geometry::from_superblock(&sb, 2048).unwrap();
        let (root_block, root_off) = g.inode_location(ROOT_INO);
        let root_at = root_block as usize * BLOCK_SIZE + root_off;
        let table = g.inode_table_start as usize * BLOCK_SIZE
            ..(g.inode_table_start + g.inode_table_blocks) as usize * BLOCK_SIZE;
        for at in table.step_by(INODE_SIZE) {
            if at != root_at {
                assert!(
                    bytes[at..at + INODE_SIZE].iter().all(|&b| b == 0),
                    "slot at {at}"
                );
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_a_too_small_target() {
        let dir = std::env::temp_dir().join(format!("mkfs-rsfs-small-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("img");
        File::create(&img).unwrap().set_len(512 << 10).unwrap();
        let args = Options {
            quiet: true,
            ..Default::default()
        };
        let err = mkfs(&img, &args).unwrap_err().to_string();
        assert!(err.contains("too small"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
