// SPDX-License-Identifier: GPL-2.0

//! The workloads whose crash states are checked: seeded sequences of
//! namespace and data operations, each durability call followed by a mark
//! in the write log, and a journal of what was done that the checker
//! ([`crate::oracle`]) reads back.
//!
//! Directories are made once, under the root, and never renamed, so a
//! directory's path is fixed; files are created, written (every block a
//! tagged block, [`crate::tag`]), truncated, preallocated, linked,
//! unlinked and renamed, also over each other, and given extended
//! attributes (every value a tagged value).

use crate::oracle::{Model, Name};
use crate::plan::BLOCK;
use crate::tag::{self, Tag, ValueTag};
use rsfs_fuzz::rng::Rng;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// How a write reaches the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// write(2) into the page cache.
    Buffered,
    /// Through an O_SYNC descriptor: durable, with its metadata, on return.
    OSync,
    /// Through an O_DSYNC descriptor: durable, with what it takes to read
    /// it back, on return.
    ODSync,
    /// Through a shared mapping, then msync(MS_SYNC) (within the size).
    Mmap,
    /// O_DIRECT: past the page cache, but not past the disk's cache.
    Direct,
}

impl Via {
    const ALL: [Via; 5] = [
        Via::Buffered,
        Via::OSync,
        Via::ODSync,
        Via::Mmap,
        Via::Direct,
    ];

    fn name(self) -> &'static str {
        match self {
            Via::Buffered => "buffered",
            Via::OSync => "osync",
            Via::ODSync => "odsync",
            Via::Mmap => "mmap",
            Via::Direct => "direct",
        }
    }
}

/// One operation. Directories and files are the workload's numbers;
/// directory 0 is the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// mkdir `name` in directory `parent`, which becomes directory `dir`.
    Mkdir { parent: u32, name: String, dir: u32 },
    /// A new empty file `file`, named `name` in `dir`.
    Create { dir: u32, name: String, file: u32 },
    /// `count` tagged blocks of generation `gen` from block `block`.
    Write {
        file: u32,
        block: u64,
        count: u64,
        gen: u32,
        via: Via,
    },
    /// ftruncate to `blocks` blocks.
    Truncate { file: u32, blocks: u64 },
    /// fallocate of `count` blocks from `block`, with KEEP_SIZE or not.
    Fallocate {
        file: u32,
        block: u64,
        count: u64,
        keep_size: bool,
    },
    /// A second name for `file`.
    Link { file: u32, dir: u32, name: String },
    /// unlink.
    Unlink { dir: u32, name: String },
    /// rename, maybe over an existing file.
    Rename {
        from_dir: u32,
        from: String,
        to_dir: u32,
        to: String,
    },
    /// fsync of the file.
    Fsync { file: u32 },
    /// fdatasync of the file.
    Fdatasync { file: u32 },
    /// sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER) over blocks.
    SyncRange { file: u32, block: u64, count: u64 },
    /// fsync of a directory.
    SyncDir { dir: u32 },
    /// setxattr of `user.k<key>` on `file`, to the value of generation
    /// `gen` ([`tag::value`]).
    SetXattr { file: u32, key: u32, gen: u32 },
    /// removexattr of `user.k<key>`, which the file has.
    RemoveXattr { file: u32, key: u32 },
}

impl Op {
    /// Whether the operation makes a promise, so that a mark follows it.
    pub fn promises(&self) -> bool {
        matches!(
            self,
            Op::Fsync { .. }
                | Op::Fdatasync { .. }
                | Op::SyncDir { .. }
                | Op::Write {
                    via: Via::OSync | Via::ODSync,
                    ..
                }
        )
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Mkdir { parent, name, dir } => write!(f, "mkdir {parent} {name} {dir}"),
            Op::Create { dir, name, file } => write!(f, "create {dir} {name} {file}"),
            Op::Write {
                file,
                block,
                count,
                gen,
                via,
            } => {
                write!(f, "write {file} {block} {count} {gen} {}", via.name())
            }
            Op::Truncate { file, blocks } => write!(f, "truncate {file} {blocks}"),
            Op::Fallocate {
                file,
                block,
                count,
                keep_size,
            } => write!(
                f,
                "fallocate {file} {block} {count} {}",
                if *keep_size { "keep" } else { "extend" }
            ),
            Op::Link { file, dir, name } => write!(f, "link {file} {dir} {name}"),
            Op::Unlink { dir, name } => write!(f, "unlink {dir} {name}"),
            Op::Rename {
                from_dir,
                from,
                to_dir,
                to,
            } => {
                write!(f, "rename {from_dir} {from} {to_dir} {to}")
            }
            Op::Fsync { file } => write!(f, "fsync {file}"),
            Op::Fdatasync { file } => write!(f, "fdatasync {file}"),
            Op::SyncRange { file, block, count } => write!(f, "syncrange {file} {block} {count}"),
            Op::SyncDir { dir } => write!(f, "syncdir {dir}"),
            Op::SetXattr { file, key, gen } => write!(f, "setxattr {file} {key} {gen}"),
            Op::RemoveXattr { file, key } => write!(f, "removexattr {file} {key}"),
        }
    }
}

/// Parses the [`fmt::Display`] form back.
impl std::str::FromStr for Op {
    type Err = String;

    fn from_str(s: &str) -> Result<Op, String> {
        let w: Vec<&str> = s.split_whitespace().collect();
        let bad = || format!("not an operation: {s:?}");
        let n = |i: usize| -> Result<u64, String> {
            w.get(i).and_then(|x| x.parse().ok()).ok_or_else(bad)
        };
        let id = |i: usize| -> Result<u32, String> {
            w.get(i).and_then(|x| x.parse().ok()).ok_or_else(bad)
        };
        let name = |i: usize| -> Result<String, String> {
            w.get(i).map(|x| x.to_string()).ok_or_else(bad)
        };
        Ok(match *w.first().ok_or_else(bad)? {
            "mkdir" => Op::Mkdir {
                parent: id(1)?,
                name: name(2)?,
                dir: id(3)?,
            },
            "create" => Op::Create {
                dir: id(1)?,
                name: name(2)?,
                file: id(3)?,
            },
            "write" => Op::Write {
                file: id(1)?,
                block: n(2)?,
                count: n(3)?,
                gen: id(4)?,
                via: *Via::ALL
                    .iter()
                    .find(|v| Some(&v.name()) == w.get(5))
                    .ok_or_else(bad)?,
            },
            "truncate" => Op::Truncate {
                file: id(1)?,
                blocks: n(2)?,
            },
            "fallocate" => Op::Fallocate {
                file: id(1)?,
                block: n(2)?,
                count: n(3)?,
                keep_size: w.get(4) == Some(&"keep"),
            },
            "link" => Op::Link {
                file: id(1)?,
                dir: id(2)?,
                name: name(3)?,
            },
            "unlink" => Op::Unlink {
                dir: id(1)?,
                name: name(2)?,
            },
            "rename" => Op::Rename {
                from_dir: id(1)?,
                from: name(2)?,
                to_dir: id(3)?,
                to: name(4)?,
            },
            "fsync" => Op::Fsync { file: id(1)? },
            "fdatasync" => Op::Fdatasync { file: id(1)? },
            "syncrange" => Op::SyncRange {
                file: id(1)?,
                block: n(2)?,
                count: n(3)?,
            },
            "syncdir" => Op::SyncDir { dir: id(1)? },
            "setxattr" => Op::SetXattr {
                file: id(1)?,
                key: id(2)?,
                gen: id(3)?,
            },
            "removexattr" => Op::RemoveXattr {
                file: id(1)?,
                key: id(2)?,
            },
            _ => return Err(bad()),
        })
    }
}

/// A workload being made up: the tree its steps so far leave, in the
/// oracle's model of them, and the next numbers to hand out.
#[derive(Default)]
struct Tree {
    model: Model,
    next_file: u32,
    next_name: u32,
    next_gen: u32,
}

impl Tree {
    fn names(&self) -> BTreeMap<Name, u32> {
        self.model.names_now().into_iter().collect()
    }

    fn names_of(&self, file: u32) -> Vec<Name> {
        self.model
            .names_now()
            .into_iter()
            .filter(|(_, f)| *f == file)
            .map(|(k, _)| k)
            .collect()
    }

    fn live_files(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.model.names_now().into_iter().map(|(_, f)| f).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn new_name(&mut self) -> String {
        self.next_name += 1;
        format!("f{}", self.next_name)
    }

    fn gen(&mut self) -> u32 {
        self.next_gen += 1;
        self.next_gen
    }
}

/// The largest file, in blocks.
pub const MAX_BLOCKS: u64 = 24;

/// The extended attributes a file may have: `user.k0` to `user.k2`.
pub const XATTR_KEYS: u32 = 3;

/// The name of attribute `key`.
pub fn xattr_name(key: u32) -> String {
    format!("user.k{key}")
}

/// Makes up a workload of about `steps` steps from `seed`. Every kind of
/// step the crash-state checks need is in the mix: the six durability
/// methods, create, mkdir, rename (also over a file), link, unlink,
/// truncate and rewrite, fallocate, mmap with msync, O_DIRECT, extended
/// attributes set, replaced and removed, and a delete followed by a
/// create in the same epoch, which may reuse the inode, its blocks and
/// its attribute block.
pub fn generate(seed: u64, steps: usize) -> Vec<Op> {
    let mut rng = Rng::new(seed, 0x776f_726b);
    let mut t = Tree::default();
    let mut ops = Vec::new();
    let push = |t: &mut Tree, ops: &mut Vec<Op>, op: Op| {
        t.model.push(&op, None);
        ops.push(op);
    };
    for (i, name) in ["a", "b"].iter().enumerate() {
        let op = Op::Mkdir {
            parent: 0,
            name: name.to_string(),
            dir: i as u32 + 1,
        };
        push(&mut t, &mut ops, op);
    }
    push(
        &mut t,
        &mut ops,
        Op::Mkdir {
            parent: 1,
            name: "c".into(),
            dir: 3,
        },
    );
    push(&mut t, &mut ops, Op::SyncDir { dir: 0 });
    push(&mut t, &mut ops, Op::SyncDir { dir: 1 });

    for _ in 0..steps {
        let files = t.live_files();
        let kind = if files.is_empty() { 0 } else { rng.below(11) };
        match kind {
            // Create, write, fsync the file and then its directory.
            0 | 1 => {
                if files.len() >= 10 {
                    continue;
                }
                let dir = *rng.pick(&t.model.dirs());
                let name = t.new_name();
                t.next_file += 1;
                let file = t.next_file;
                push(&mut t, &mut ops, Op::Create { dir, name, file });
                let count = rng.range(1, 6);
                let gen = t.gen();
                let via = Via::Buffered;
                push(
                    &mut t,
                    &mut ops,
                    Op::Write {
                        file,
                        block: 0,
                        count,
                        gen,
                        via,
                    },
                );
                if rng.below(4) != 0 {
                    push(&mut t, &mut ops, Op::Fsync { file });
                    push(&mut t, &mut ops, Op::SyncDir { dir });
                }
            }
            // A write by one of the five ways, then maybe a sync.
            2..=4 => {
                let file = *rng.pick(&files);
                let size = t.model.size_now(file);
                let mut via = *rng.pick(&Via::ALL);
                if via == Via::Mmap && size == 0 {
                    via = Via::Buffered;
                }
                let (block, count) = if via == Via::Mmap {
                    let b = rng.below(size);
                    (b, rng.range(1, size - b))
                } else {
                    let b = rng.below(MAX_BLOCKS - 4);
                    (b, rng.range(1, 4))
                };
                let gen = t.gen();
                push(
                    &mut t,
                    &mut ops,
                    Op::Write {
                        file,
                        block,
                        count,
                        gen,
                        via,
                    },
                );
                match (via, rng.below(4)) {
                    (Via::OSync | Via::ODSync, _) => {}
                    (Via::Mmap, _) => push(&mut t, &mut ops, Op::Fsync { file }),
                    (_, 0) => push(&mut t, &mut ops, Op::Fsync { file }),
                    (_, 1) => push(&mut t, &mut ops, Op::Fdatasync { file }),
                    (_, 2) => {
                        push(&mut t, &mut ops, Op::SyncRange { file, block, count });
                        push(&mut t, &mut ops, Op::Fsync { file });
                    }
                    _ => {}
                }
            }
            // Truncate, then rewrite the tail.
            5 => {
                let file = *rng.pick(&files);
                let blocks = rng.below(t.model.size_now(file) + 2);
                push(&mut t, &mut ops, Op::Truncate { file, blocks });
                if rng.coin() {
                    let gen = t.gen();
                    let block = blocks.saturating_sub(1);
                    let via = Via::Buffered;
                    push(
                        &mut t,
                        &mut ops,
                        Op::Write {
                            file,
                            block,
                            count: 2,
                            gen,
                            via,
                        },
                    );
                }
                push(&mut t, &mut ops, Op::Fsync { file });
            }
            6 => {
                let file = *rng.pick(&files);
                let block = rng.below(MAX_BLOCKS - 4);
                let count = rng.range(1, 4);
                let keep_size = rng.coin();
                push(
                    &mut t,
                    &mut ops,
                    Op::Fallocate {
                        file,
                        block,
                        count,
                        keep_size,
                    },
                );
                if rng.coin() {
                    push(&mut t, &mut ops, Op::Fsync { file });
                }
            }
            // Link, rename (over a file or not), or unlink; maybe sync
            // the directories.
            7 => {
                let now = t.names();
                let names: Vec<Name> = now.keys().cloned().collect();
                let (dir, name) = rng.pick(&names).clone();
                let to_dir = *rng.pick(&t.model.dirs());
                let op = match rng.below(3) {
                    0 => {
                        let file = now[&(dir, name.clone())];
                        Op::Link {
                            file,
                            dir: to_dir,
                            name: t.new_name(),
                        }
                    }
                    1 => {
                        // Over a name of another file: between two names
                        // of one inode, rename(2) does nothing.
                        let file = now[&(dir, name.clone())];
                        let over: Vec<&Name> = names.iter().filter(|n| now[*n] != file).collect();
                        let to = if !over.is_empty() && rng.coin() {
                            let (d, n) = (*rng.pick(&over)).clone();
                            Op::Rename {
                                from_dir: dir,
                                from: name,
                                to_dir: d,
                                to: n,
                            }
                        } else {
                            Op::Rename {
                                from_dir: dir,
                                from: name,
                                to_dir,
                                to: t.new_name(),
                            }
                        };
                        to
                    }
                    _ => Op::Unlink { dir, name },
                };
                let dirs: Vec<u32> = match &op {
                    Op::Link { dir, .. } => vec![*dir],
                    Op::Rename {
                        from_dir, to_dir, ..
                    } => vec![*from_dir, *to_dir],
                    Op::Unlink { dir, .. } => vec![*dir],
                    _ => vec![],
                };
                push(&mut t, &mut ops, op);
                if rng.coin() {
                    let mut dirs = dirs;
                    dirs.dedup();
                    for dir in dirs {
                        push(&mut t, &mut ops, Op::SyncDir { dir });
                    }
                }
            }
            // Set, replace or remove an extended attribute; maybe fsync.
            10 => {
                let file = *rng.pick(&files);
                let key = rng.below(u64::from(XATTR_KEYS)) as u32;
                let op = if t.model.xattr_now(file, key).is_some() && rng.below(3) == 0 {
                    Op::RemoveXattr { file, key }
                } else {
                    let gen = t.gen();
                    Op::SetXattr { file, key, gen }
                };
                push(&mut t, &mut ops, op);
                if rng.coin() {
                    push(&mut t, &mut ops, Op::Fsync { file });
                }
            }
            // Delete a file, then create one in the same epoch: the new
            // one may get the old inode and blocks.
            _ => {
                let file = *rng.pick(&files);
                for (dir, name) in t.names_of(file) {
                    push(&mut t, &mut ops, Op::Unlink { dir, name });
                }
                let dir = *rng.pick(&t.model.dirs());
                let name = t.new_name();
                t.next_file += 1;
                let new = t.next_file;
                push(
                    &mut t,
                    &mut ops,
                    Op::Create {
                        dir,
                        name,
                        file: new,
                    },
                );
                let gen = t.gen();
                let count = rng.range(1, 6);
                push(
                    &mut t,
                    &mut ops,
                    Op::Write {
                        file: new,
                        block: 0,
                        count,
                        gen,
                        via: Via::Buffered,
                    },
                );
                push(&mut t, &mut ops, Op::Fsync { file: new });
                push(&mut t, &mut ops, Op::SyncDir { dir });
            }
        }
    }
    ops
}

/// Where the workload says what it promised: the write log's marks.
pub trait Marker {
    /// Records mark `name` after everything written so far.
    fn mark(&mut self, name: &str) -> io::Result<()>;
}

/// A marker that records nothing, for runs without a write log.
pub struct NoMarks;

impl Marker for NoMarks {
    fn mark(&mut self, _: &str) -> io::Result<()> {
        Ok(())
    }
}

/// One line of the journal: an operation as done, with the inode number
/// a create got, or a mark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Operation `seq`; `ino` for a create.
    Op {
        seq: usize,
        op: Op,
        ino: Option<u64>,
    },
    /// The mark that follows operation `seq`.
    Mark { seq: usize },
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Op {
                seq,
                op,
                ino: Some(i),
            } => write!(f, "{seq} ino={i} {op}"),
            Entry::Op { seq, op, ino: None } => write!(f, "{seq} {op}"),
            Entry::Mark { seq } => write!(f, "{seq} mark"),
        }
    }
}

/// Reads a journal back.
pub fn parse_journal(text: &str) -> Result<Vec<Entry>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (seq, rest) = l
                .split_once(' ')
                .ok_or_else(|| format!("bad journal line {l:?}"))?;
            let seq: usize = seq.parse().map_err(|_| format!("bad journal line {l:?}"))?;
            if rest == "mark" {
                return Ok(Entry::Mark { seq });
            }
            let (ino, rest) = match rest.strip_prefix("ino=") {
                Some(r) => {
                    let (i, r) = r
                        .split_once(' ')
                        .ok_or_else(|| format!("bad journal line {l:?}"))?;
                    (
                        Some(i.parse().map_err(|_| format!("bad inode in {l:?}"))?),
                        r,
                    )
                }
                None => (None, rest),
            };
            Ok(Entry::Op {
                seq,
                op: rest.parse()?,
                ino,
            })
        })
        .collect()
}

/// The name of the mark after operation `seq`.
pub fn mark_name(seq: usize) -> String {
    format!("s{seq}")
}

/// The path of directory `dir` under `root` (directories never move).
pub fn dir_path(root: &Path, ops: &[Op], dir: u32) -> PathBuf {
    if dir == 0 {
        return root.to_path_buf();
    }
    for op in ops {
        if let Op::Mkdir {
            parent,
            name,
            dir: d,
        } = op
        {
            if *d == dir {
                return dir_path(root, ops, *parent).join(name);
            }
        }
    }
    panic!("directory {dir} is never made");
}

fn blocks_of(file: u32, block: u64, count: u64, gen: u32) -> Vec<u8> {
    (block..block + count)
        .flat_map(|b| {
            tag::block(Tag {
                file,
                gen,
                block: b,
            })
        })
        .collect()
}

/// A path as a C string.
pub fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::other(format!("{} has a NUL byte", path.display())))
}

fn errno(what: String) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Does the workload under `root`, marking after every promise, and
/// returns the journal.
pub fn run(root: &Path, ops: &[Op], marker: &mut dyn Marker) -> io::Result<Vec<Entry>> {
    let mut journal = Vec::new();
    // The tree as the steps so far left it, to find a file by a name it has.
    let mut tree = Model::default();
    let path_of = |tree: &Model, file: u32| -> io::Result<PathBuf> {
        let ((d, n), _) = tree
            .names_now()
            .into_iter()
            .find(|(_, f)| *f == file)
            .ok_or_else(|| io::Error::other(format!("file {file} has no name")))?;
        Ok(dir_path(root, ops, d).join(n))
    };
    for (seq, op) in ops.iter().enumerate() {
        let ctx = |e: io::Error| io::Error::new(e.kind(), format!("step {seq} ({op}): {e}"));
        let mut ino = None;
        match op {
            Op::Mkdir { parent, name, .. } => {
                fs::create_dir(dir_path(root, ops, *parent).join(name)).map_err(ctx)?;
            }
            Op::Create { dir, name, .. } => {
                let f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(dir_path(root, ops, *dir).join(name))
                    .map_err(ctx)?;
                ino = Some(f.metadata().map_err(ctx)?.ino());
            }
            Op::Write {
                file,
                block,
                count,
                gen,
                via,
            } => {
                let data = blocks_of(*file, *block, *count, *gen);
                write(
                    &path_of(&tree, *file).map_err(ctx)?,
                    *block * BLOCK,
                    &data,
                    *via,
                )
                .map_err(ctx)?;
            }
            Op::Truncate { file, blocks } => {
                let f = OpenOptions::new()
                    .write(true)
                    .open(path_of(&tree, *file).map_err(ctx)?);
                f.and_then(|f| f.set_len(blocks * BLOCK)).map_err(ctx)?;
            }
            Op::Fallocate {
                file,
                block,
                count,
                keep_size,
            } => {
                let f = OpenOptions::new()
                    .write(true)
                    .open(path_of(&tree, *file).map_err(ctx)?)
                    .map_err(ctx)?;
                let mode = if *keep_size {
                    libc::FALLOC_FL_KEEP_SIZE
                } else {
                    0
                };
                // SAFETY: fallocate on a descriptor we own, with plain integers.
                let r = unsafe {
                    libc::fallocate(
                        f.as_raw_fd(),
                        mode,
                        (*block * BLOCK) as libc::off_t,
                        (*count * BLOCK) as libc::off_t,
                    )
                };
                if r != 0 {
                    return Err(ctx(errno("fallocate".into())));
                }
            }
            Op::Link { file, dir, name } => {
                let to = dir_path(root, ops, *dir).join(name);
                fs::hard_link(path_of(&tree, *file).map_err(ctx)?, to).map_err(ctx)?;
            }
            Op::Unlink { dir, name } => {
                fs::remove_file(dir_path(root, ops, *dir).join(name)).map_err(ctx)?;
            }
            Op::Rename {
                from_dir,
                from,
                to_dir,
                to,
            } => {
                fs::rename(
                    dir_path(root, ops, *from_dir).join(from),
                    dir_path(root, ops, *to_dir).join(to),
                )
                .map_err(ctx)?;
            }
            Op::Fsync { file } | Op::Fdatasync { file } => {
                let f = File::open(path_of(&tree, *file).map_err(ctx)?).map_err(ctx)?;
                if matches!(op, Op::Fsync { .. }) {
                    f.sync_all()
                } else {
                    f.sync_data()
                }
                .map_err(ctx)?;
            }
            Op::SyncRange { file, block, count } => {
                let f = File::open(path_of(&tree, *file).map_err(ctx)?).map_err(ctx)?;
                let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER;
                // SAFETY: sync_file_range on a descriptor we own.
                let r = unsafe {
                    libc::sync_file_range(
                        f.as_raw_fd(),
                        (*block * BLOCK) as libc::off64_t,
                        (*count * BLOCK) as libc::off64_t,
                        flags,
                    )
                };
                if r != 0 {
                    return Err(ctx(errno("sync_file_range".into())));
                }
            }
            Op::SyncDir { dir } => {
                File::open(dir_path(root, ops, *dir))
                    .and_then(|d| d.sync_all())
                    .map_err(ctx)?;
            }
            Op::SetXattr { file, key, gen } => {
                let value = tag::value(ValueTag {
                    file: *file,
                    key: *key,
                    gen: *gen,
                });
                let path = c_path(&path_of(&tree, *file).map_err(ctx)?)?;
                let name = CString::new(xattr_name(*key)).expect("no NUL");
                // SAFETY: setxattr with NUL-terminated strings we own and a
                // buffer of `value.len()` bytes.
                let r = unsafe {
                    libc::setxattr(
                        path.as_ptr(),
                        name.as_ptr(),
                        value.as_ptr().cast(),
                        value.len(),
                        0,
                    )
                };
                if r != 0 {
                    return Err(ctx(errno("setxattr".into())));
                }
            }
            Op::RemoveXattr { file, key } => {
                let path = c_path(&path_of(&tree, *file).map_err(ctx)?)?;
                let name = CString::new(xattr_name(*key)).expect("no NUL");
                // SAFETY: removexattr with NUL-terminated strings we own.
                if unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) } != 0 {
                    return Err(ctx(errno("removexattr".into())));
                }
            }
        }
        tree.push(op, ino);
        journal.push(Entry::Op {
            seq,
            op: op.clone(),
            ino,
        });
        if op.promises() {
            marker.mark(&mark_name(seq)).map_err(ctx)?;
            journal.push(Entry::Mark { seq });
        }
    }
    Ok(journal)
}

/// An aligned buffer for O_DIRECT.
struct Aligned {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Aligned {
    fn copy_of(data: &[u8]) -> Aligned {
        let layout = std::alloc::Layout::from_size_align(data.len().max(1), BLOCK as usize)
            .expect("a valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        assert!(!ptr.is_null(), "out of memory");
        // SAFETY: `ptr` has room for `data.len()` bytes and does not overlap `data`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
        Aligned { ptr, layout }
    }

    fn bytes(&self, len: usize) -> &[u8] {
        // SAFETY: `ptr` holds `layout.size()` initialised bytes and `len` is at most that.
        unsafe { std::slice::from_raw_parts(self.ptr, len.min(self.layout.size())) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

fn write(path: &Path, offset: u64, data: &[u8], via: Via) -> io::Result<()> {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    match via {
        Via::Buffered | Via::Mmap => {}
        Via::OSync => {
            o.custom_flags(libc::O_SYNC);
        }
        Via::ODSync => {
            o.custom_flags(libc::O_DSYNC);
        }
        Via::Direct => {
            o.custom_flags(libc::O_DIRECT);
        }
    }
    let f = o.open(path)?;
    match via {
        Via::Mmap => {
            let len = data.len();
            // SAFETY: a new shared mapping of `len` bytes of a file we opened
            // read-write; the workload maps only within the file's size.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    f.as_raw_fd(),
                    offset as libc::off_t,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(errno("mmap".into()));
            }
            // SAFETY: `p` maps `len` writable bytes that nothing else uses.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p.cast::<u8>(), len) };
            // SAFETY: `p` and `len` are the mapping made above, unmapped once.
            let r = unsafe { libc::msync(p, len, libc::MS_SYNC) };
            let e = errno("msync".into());
            // SAFETY: as above.
            unsafe { libc::munmap(p, len) };
            if r != 0 {
                return Err(e);
            }
            Ok(())
        }
        Via::Direct => {
            let buf = Aligned::copy_of(data);
            f.write_all_at(buf.bytes(data.len()), offset)
        }
        _ => f.write_all_at(data, offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_print_and_parse_back() {
        for seed in 0..20 {
            for op in generate(seed, 40) {
                let text = op.to_string();
                assert_eq!(text.parse::<Op>().unwrap(), op, "{text}");
            }
        }
    }

    #[test]
    fn workloads_have_every_kind_of_step() {
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..10 {
            for op in generate(seed, 60) {
                let k = op.to_string();
                let mut w = k.split_whitespace();
                let name = w.next().unwrap().to_string();
                kinds.insert(if name == "write" {
                    format!("write {}", w.nth(4).unwrap())
                } else {
                    name
                });
            }
        }
        let want = [
            "create",
            "mkdir",
            "rename",
            "link",
            "unlink",
            "truncate",
            "fallocate",
            "fsync",
            "fdatasync",
            "syncrange",
            "syncdir",
            "write buffered",
            "write osync",
            "write odsync",
            "write mmap",
            "write direct",
            "setxattr",
            "removexattr",
        ];
        for k in want {
            assert!(kinds.contains(k), "no {k} in {kinds:?}");
        }
    }

    #[test]
    fn most_workloads_set_attributes_and_fsync_after() {
        let with = (0..100)
            .filter(|&seed| {
                let ops = generate(seed, 40);
                ops.windows(2).any(|w| {
                    matches!((&w[0], &w[1]), (Op::SetXattr { file, .. }, Op::Fsync { file: f }) if file == f)
                })
            })
            .count();
        assert!(
            with >= 50,
            "only {with} of 100 workloads fsync a file after setting an attribute"
        );
    }

    #[test]
    fn renames_never_join_two_names_of_one_file() {
        // rename(2) between two names of the same inode does nothing, so
        // such a step would leave the journal wrong about the tree.
        for seed in 0..300 {
            let ops = generate(seed, 60);
            let mut names: BTreeMap<(u32, String), u32> = BTreeMap::new();
            for op in &ops {
                match op {
                    Op::Create { dir, name, file } | Op::Link { file, dir, name } => {
                        names.insert((*dir, name.clone()), *file);
                    }
                    Op::Unlink { dir, name } => {
                        names.remove(&(*dir, name.clone()));
                    }
                    Op::Rename {
                        from_dir,
                        from,
                        to_dir,
                        to,
                    } => {
                        let f = names.remove(&(*from_dir, from.clone())).unwrap();
                        let over = names.insert((*to_dir, to.clone()), f);
                        assert_ne!(over, Some(f), "seed {seed}: {op}");
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_workload() {
        assert_eq!(generate(5, 50), generate(5, 50));
        assert_ne!(generate(5, 50), generate(6, 50));
    }
}
