// SPDX-License-Identifier: GPL-2.0

//! What must hold in a crash state, and the check of a mounted one.
//!
//! The journal of a workload ([`crate::workload`]) gives every object's
//! history: each name's target, each file's size and each block's
//! contents, by operation number. A promise made at operation `m` (the
//! mark after it reached the log before the power cut) fixes an object
//! as of `m`: in the state, the object holds its value at `m` or any
//! value a later operation gave it, since those may have reached the disk
//! as well. What the promises are (README, Guarantees):
//!
//! - fsync and fdatasync of a file: its size and every block;
//! - an O_SYNC or O_DSYNC write: the blocks it wrote, readable;
//! - fsync of a directory: every name in it, present or absent;
//! - fsync of a file: each of its extended attributes, present or absent.
//!
//! And whatever was promised or not, no file may show a block that
//! another file wrote, or bytes no file wrote: every block reads back as
//! zeroes or as a block this very file wrote at this very place. Every
//! extended attribute reads back as a whole value that this file was
//! given under this name, never one of another file (a deleted file whose
//! inode a new file got) and never part of one.

use crate::plan::BLOCK;
use crate::tag::{self, Content, ValueTag};
use crate::workload::{c_path, dir_path, xattr_name, Entry, Op, Via, XATTR_KEYS};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What a block of a file holds at some point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Zero,
    Gen(u32),
}

/// A value's history: (operation, value from then on), in order.
type History<T> = Vec<(usize, T)>;

/// A name: (directory, name in it).
pub type Name = (u32, String);

/// What the tree shows, by inode: each name of it and the file's size.
type Found = BTreeMap<u64, Vec<(Name, u64)>>;

fn at<T: Copy>(h: &History<T>, seq: usize, before: T) -> T {
    h.iter()
        .take_while(|(s, _)| *s <= seq)
        .last()
        .map_or(before, |(_, v)| *v)
}

/// The values an object may hold if it was made durable at `seq`: its
/// value then, and every later one.
fn allowed<T: Copy + Ord>(h: &History<T>, seq: usize, before: T) -> BTreeSet<T> {
    let mut out = BTreeSet::from([at(h, seq, before)]);
    out.extend(h.iter().filter(|(s, _)| *s > seq).map(|(_, v)| *v));
    out
}

/// The histories a journal gives.
#[derive(Debug, Default)]
pub struct Model {
    ops: Vec<Op>,
    inos: BTreeMap<u32, u64>,
    /// (directory, name) → the file it names, or none.
    names: BTreeMap<(u32, String), History<Option<u32>>>,
    sizes: BTreeMap<u32, History<u64>>,
    blocks: BTreeMap<(u32, u64), History<Value>>,
    /// Every generation ever written to each (file, block).
    written: BTreeSet<(u32, u64, u32)>,
    /// (file, attribute key) → the generation of its value, or none.
    xattrs: BTreeMap<(u32, u32), History<Option<u32>>>,
    /// Every value ever set.
    values: BTreeSet<ValueTag>,
    /// The operations that were followed by a mark.
    marked: BTreeSet<usize>,
}

impl Model {
    /// Builds the histories from a journal.
    pub fn new(journal: &[Entry]) -> Model {
        let mut m = Model::default();
        for e in journal {
            match e {
                Entry::Mark { seq } => {
                    m.marked.insert(*seq);
                }
                Entry::Op { seq, op, ino } => {
                    assert_eq!(
                        *seq,
                        m.ops.len(),
                        "the journal's operations are numbered in order"
                    );
                    m.push(op, *ino);
                }
            }
        }
        m
    }

    /// Adds `op` as the next step (`ino`: the inode a create got, if
    /// known). The workload keeps its picture of the tree this way while
    /// it makes steps up and while it does them.
    pub fn push(&mut self, op: &Op, ino: Option<u64>) {
        let seq = self.ops.len();
        self.ops.push(op.clone());
        self.apply(seq, op, ino);
    }

    /// Every name that names a file after the last step, with the file.
    pub fn names_now(&self) -> Vec<(Name, u32)> {
        self.names
            .iter()
            .filter_map(|(k, h)| at(h, usize::MAX, None).map(|f| (k.clone(), f)))
            .collect()
    }

    /// A file's size in blocks after the last step.
    pub fn size_now(&self, file: u32) -> u64 {
        self.size(file, usize::MAX)
    }

    /// The generation of `file`'s attribute `key` after the last step.
    pub fn xattr_now(&self, file: u32, key: u32) -> Option<u32> {
        self.xattrs
            .get(&(file, key))
            .and_then(|h| at(h, usize::MAX, None))
    }

    /// The directories: the root (0) and every one a step made.
    pub fn dirs(&self) -> Vec<u32> {
        std::iter::once(0)
            .chain(self.ops.iter().filter_map(|o| match o {
                Op::Mkdir { dir, .. } => Some(*dir),
                _ => None,
            }))
            .collect()
    }

    fn size(&self, file: u32, seq: usize) -> u64 {
        self.sizes.get(&file).map_or(0, |h| at(h, seq, 0))
    }

    fn name_target(&self, key: &(u32, String), seq: usize) -> Option<u32> {
        self.names.get(key).and_then(|h| at(h, seq, None))
    }

    fn apply(&mut self, seq: usize, op: &Op, ino: Option<u64>) {
        match op {
            Op::Mkdir { .. } => {}
            Op::Create { dir, name, file } => {
                if let Some(i) = ino {
                    self.inos.insert(*file, i);
                }
                self.names
                    .entry((*dir, name.clone()))
                    .or_default()
                    .push((seq, Some(*file)));
                self.sizes.entry(*file).or_default().push((seq, 0));
            }
            Op::Write {
                file,
                block,
                count,
                gen,
                ..
            } => {
                for b in *block..block + count {
                    self.blocks
                        .entry((*file, b))
                        .or_default()
                        .push((seq, Value::Gen(*gen)));
                    self.written.insert((*file, b, *gen));
                }
                let size = self.size(*file, seq).max(block + count);
                self.sizes.entry(*file).or_default().push((seq, size));
            }
            Op::Truncate { file, blocks } => {
                let old = self.size(*file, seq);
                // Blocks cut off read as zeroes if the file grows again.
                for b in *blocks..old {
                    self.blocks
                        .entry((*file, b))
                        .or_default()
                        .push((seq, Value::Zero));
                }
                self.sizes.entry(*file).or_default().push((seq, *blocks));
            }
            Op::Fallocate {
                file,
                block,
                count,
                keep_size,
            } => {
                if !keep_size {
                    let size = self.size(*file, seq).max(block + count);
                    self.sizes.entry(*file).or_default().push((seq, size));
                }
            }
            Op::Link { file, dir, name } => {
                self.names
                    .entry((*dir, name.clone()))
                    .or_default()
                    .push((seq, Some(*file)));
            }
            Op::Unlink { dir, name } => {
                self.names
                    .entry((*dir, name.clone()))
                    .or_default()
                    .push((seq, None));
            }
            Op::Rename {
                from_dir,
                from,
                to_dir,
                to,
            } => {
                let f = self.name_target(&(*from_dir, from.clone()), seq);
                self.names
                    .entry((*from_dir, from.clone()))
                    .or_default()
                    .push((seq, None));
                self.names
                    .entry((*to_dir, to.clone()))
                    .or_default()
                    .push((seq, f));
            }
            Op::SetXattr { file, key, gen } => {
                self.xattrs
                    .entry((*file, *key))
                    .or_default()
                    .push((seq, Some(*gen)));
                self.values.insert(ValueTag {
                    file: *file,
                    key: *key,
                    gen: *gen,
                });
            }
            Op::RemoveXattr { file, key } => {
                self.xattrs
                    .entry((*file, *key))
                    .or_default()
                    .push((seq, None));
            }
            Op::Fsync { .. } | Op::Fdatasync { .. } | Op::SyncRange { .. } | Op::SyncDir { .. } => {
            }
        }
    }

    /// The operations of the workload, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Checks the tree under `root`, a mounted crash state in which the
    /// marks after the operations in `marks` were made. Returns what is
    /// wrong, one sentence each.
    pub fn check(&self, root: &Path, marks: &BTreeSet<usize>) -> Vec<String> {
        let mut bad = Vec::new();
        // Every file the tree shows, by inode: (directory, name, size).
        let mut found: Found = BTreeMap::new();
        let dirs = self.dirs();
        for &dir in &dirs {
            let path = dir_path(root, &self.ops, dir);
            let entries = match fs::read_dir(&path) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if let Some(p) = self.dir_promised(dir, marks) {
                        bad.push(format!(
                            "directory {} is gone, made durable at step {p}",
                            path.display()
                        ));
                    }
                    continue;
                }
                Err(e) => {
                    bad.push(format!("reading directory {}: {e}", path.display()));
                    continue;
                }
            };
            for e in entries {
                let e = match e {
                    Ok(e) => e,
                    Err(err) => {
                        bad.push(format!("reading directory {}: {err}", path.display()));
                        break;
                    }
                };
                let name = e.file_name().to_string_lossy().into_owned();
                let md = match e.metadata() {
                    Ok(md) => md,
                    Err(err) => {
                        bad.push(format!("stat of {}: {err}", e.path().display()));
                        continue;
                    }
                };
                if md.is_dir() {
                    if !dirs
                        .iter()
                        .any(|&d| dir_path(root, &self.ops, d) == e.path())
                    {
                        bad.push(format!(
                            "{} is a directory no step made",
                            e.path().display()
                        ));
                    }
                    continue;
                }
                if !self.names.contains_key(&(dir, name.clone())) {
                    bad.push(format!("{} is a name no step made", e.path().display()));
                    continue;
                }
                found
                    .entry(md.ino())
                    .or_default()
                    .push(((dir, name), md.len()));
            }
        }
        self.check_names(root, marks, &found, &mut bad);
        self.check_files(root, marks, &found, &mut bad);
        self.check_contents(root, &found, &mut bad);
        self.check_xattrs(root, marks, &found, &mut bad);
        bad
    }

    /// The latest marked fsync of directory `dir` in `marks`, if it came
    /// after the directory was made.
    fn dir_promised(&self, dir: u32, marks: &BTreeSet<usize>) -> Option<usize> {
        let parent = self.ops.iter().find_map(|o| match o {
            Op::Mkdir { parent, dir: d, .. } if *d == dir => Some(*parent),
            _ => None,
        })?;
        let made = self
            .ops
            .iter()
            .position(|o| matches!(o, Op::Mkdir { dir: d, .. } if *d == dir))?;
        self.latest(
            marks,
            |o| matches!(o, Op::SyncDir { dir: d } if *d == parent),
        )
        .filter(|&p| p > made)
    }

    /// The latest marked operation in `marks` that `what` picks.
    fn latest(&self, marks: &BTreeSet<usize>, what: impl Fn(&Op) -> bool) -> Option<usize> {
        marks
            .iter()
            .rev()
            .copied()
            .find(|&m| self.marked.contains(&m) && what(&self.ops[m]))
    }

    fn check_names(
        &self,
        root: &Path,
        marks: &BTreeSet<usize>,
        found: &Found,
        bad: &mut Vec<String>,
    ) {
        for (key, h) in &self.names {
            let Some(p) = self.latest(marks, |o| matches!(o, Op::SyncDir { dir } if *dir == key.0))
            else {
                continue;
            };
            let want = allowed(h, p, None);
            let seen = found
                .iter()
                .find(|(_, names)| names.iter().any(|(k, _)| k == key))
                .map(|(ino, _)| *ino);
            let ok = match seen {
                None => want.contains(&None),
                Some(ino) => want
                    .iter()
                    .flatten()
                    .any(|f| self.inos.get(f) == Some(&ino)),
            };
            if !ok {
                let path = dir_path(root, &self.ops, key.0).join(&key.1);
                let want: Vec<String> = want
                    .iter()
                    .map(|t| {
                        t.map_or("no file".into(), |f| {
                            format!("file {f} (inode {:?})", self.inos.get(&f))
                        })
                    })
                    .collect();
                let seen = seen.map_or("nothing".into(), |i| format!("inode {i}"));
                bad.push(format!(
                    "{}: the fsync of its directory at step {p} promised {}; the disk has {seen}",
                    path.display(),
                    want.join(" or ")
                ));
            }
        }
    }

    /// Where file `file` is in the tree, if it is: a path and its size.
    fn locate<'a>(&self, file: u32, found: &'a Found) -> Option<&'a (Name, u64)> {
        let ino = self.inos.get(&file)?;
        found.get(ino)?.iter().find(|(key, _)| {
            self.names
                .get(key)
                .is_some_and(|h| h.iter().any(|(_, t)| *t == Some(file)))
        })
    }

    fn check_files(
        &self,
        root: &Path,
        marks: &BTreeSet<usize>,
        found: &Found,
        bad: &mut Vec<String>,
    ) {
        for &file in self.inos.keys() {
            let whole = self.latest(
                marks,
                |o| matches!(o, Op::Fsync { file: f } | Op::Fdatasync { file: f } if *f == file),
            );
            // Per block: the latest promise that covers it.
            let mut promised: BTreeMap<u64, usize> = BTreeMap::new();
            for &m in marks.iter().filter(|m| self.marked.contains(m)) {
                if let Op::Write {
                    file: f,
                    block,
                    count,
                    via: Via::OSync | Via::ODSync,
                    ..
                } = &self.ops[m]
                {
                    if *f == file {
                        for b in *block..block + count {
                            promised.insert(b, m);
                        }
                    }
                }
            }
            if let Some(w) = whole {
                for b in 0..self.size(file, w) {
                    let e = promised.entry(b).or_insert(w);
                    *e = (*e).max(w);
                }
            }
            if whole.is_none() && promised.is_empty() {
                continue;
            }
            let since = whole
                .into_iter()
                .chain(promised.values().copied())
                .min()
                .unwrap_or(0);
            let Some(((dir, name), bytes)) = self.locate(file, found) else {
                // Gone: fine only if a later step took a name of it away.
                let unnamed = self.names.values().any(|h| {
                    h.windows(2)
                        .any(|w| w[1].0 > since && w[0].1 == Some(file) && w[1].1 != Some(file))
                });
                if !unnamed {
                    bad.push(format!(
                        "file {file}, made durable at step {since}, is not in the tree"
                    ));
                }
                continue;
            };
            let path = dir_path(root, &self.ops, *dir).join(name);
            let size = bytes.div_ceil(BLOCK);
            let sizes = self.sizes.get(&file).cloned().unwrap_or_default();
            if let Some(w) = whole {
                let want = allowed(&sizes, w, 0);
                if !want.contains(&size) || bytes % BLOCK != 0 {
                    bad.push(format!(
                        "{}: {bytes} bytes; the fsync at step {w} promised {:?} blocks",
                        path.display(),
                        want
                    ));
                }
            }
            let data = match read_all(&path) {
                Ok(d) => d,
                Err(e) => {
                    bad.push(format!("reading {}: {e}", path.display()));
                    continue;
                }
            };
            for (&b, &m) in &promised {
                if b >= size {
                    // Cut off: fine if a later step made it shorter.
                    if !sizes.iter().any(|(s, v)| *s > m && *v <= b) {
                        bad.push(format!(
                            "{}: block {b}, made durable at step {m}, is past the end ({bytes} bytes)",
                            path.display()
                        ));
                    }
                    continue;
                }
                let h = self.blocks.get(&(file, b)).cloned().unwrap_or_default();
                let want = allowed(&h, m, Value::Zero);
                let chunk = &data[(b * BLOCK) as usize..((b + 1) * BLOCK) as usize];
                let seen = match tag::read(chunk) {
                    Content::Zero => Some(Value::Zero),
                    Content::Tagged(t) if t.file == file && t.block == b => Some(Value::Gen(t.gen)),
                    _ => None,
                };
                if !seen.is_some_and(|v| want.contains(&v)) {
                    bad.push(format!(
                        "{}: block {b}, made durable at step {m}, holds {:?}; expected one of {want:?}",
                        path.display(),
                        tag::read(chunk)
                    ));
                }
            }
        }
    }

    /// The files that inode `ino`, found under `names`, may be: named there
    /// at some time, and given this inode number.
    fn may_be(&self, ino: u64, names: &[(Name, u64)]) -> BTreeSet<u32> {
        names
            .iter()
            .flat_map(|(k, _)| self.names.get(k).into_iter().flatten())
            .filter_map(|(_, t)| *t)
            .filter(|f| self.inos.get(f) == Some(&ino))
            .collect()
    }

    fn check_contents(&self, root: &Path, found: &Found, bad: &mut Vec<String>) {
        for (ino, names) in found {
            let ((dir, name), _) = &names[0];
            let path = dir_path(root, &self.ops, *dir).join(name);
            let may = self.may_be(*ino, names);
            if may.is_empty() {
                bad.push(format!(
                    "{}: inode {ino}, which no step gave this name",
                    path.display()
                ));
                continue;
            }
            let data = match read_all(&path) {
                Ok(d) => d,
                Err(e) => {
                    bad.push(format!("reading {}: {e}", path.display()));
                    continue;
                }
            };
            let mut owners = BTreeSet::new();
            for (b, chunk) in data.chunks(BLOCK as usize).enumerate() {
                let mut block = chunk.to_vec();
                block.resize(BLOCK as usize, 0);
                match tag::read(&block) {
                    Content::Zero => {}
                    Content::Foreign => bad.push(format!(
                        "{}: block {b} holds bytes that no file of the workload wrote",
                        path.display()
                    )),
                    Content::Tagged(t) => {
                        owners.insert(t.file);
                        if !may.contains(&t.file) || t.block != b as u64 {
                            bad.push(format!(
                                "{}: block {b} holds block {} of file {} (generation {}), not its own",
                                path.display(),
                                t.block,
                                t.file,
                                t.gen
                            ));
                        } else if !self.written.contains(&(t.file, t.block, t.gen)) {
                            bad.push(format!(
                                "{}: block {b} holds generation {}, never written there",
                                path.display(),
                                t.gen
                            ));
                        }
                    }
                }
            }
            if owners.len() > 1 {
                bad.push(format!(
                    "{}: blocks of files {owners:?} in one inode",
                    path.display()
                ));
            }
        }
    }

    /// Every `user.` attribute a file shows is a whole value it was given
    /// under that name; each attribute a marked fsync of the file covers
    /// holds its value then or a later one.
    fn check_xattrs(
        &self,
        root: &Path,
        marks: &BTreeSet<usize>,
        found: &Found,
        bad: &mut Vec<String>,
    ) {
        // What the tree shows, by inode: attribute key → its value's tag
        // (None: a value the workload never set, or a part of one).
        let mut shown: BTreeMap<u64, BTreeMap<u32, Option<ValueTag>>> = BTreeMap::new();
        for (ino, names) in found {
            let ((dir, name), _) = &names[0];
            let path = dir_path(root, &self.ops, *dir).join(name);
            let may = self.may_be(*ino, names);
            if may.is_empty() {
                // check_contents reports an inode that is no file's.
                continue;
            }
            let mine = shown.entry(*ino).or_default();
            let attrs = match read_xattrs(&path) {
                Ok(a) => a,
                Err(e) => {
                    bad.push(format!("reading the attributes of {}: {e}", path.display()));
                    // Reported: no promise is checked against what was not read.
                    mine.extend((0..XATTR_KEYS).map(|k| (k, None)));
                    continue;
                }
            };
            // Names outside `user.` are not the workload's: a security
            // module may label every new file (security.selinux).
            for (attr, value) in attrs.into_iter().filter(|(a, _)| a.starts_with("user.")) {
                let Some(key) = (0..XATTR_KEYS).find(|&k| xattr_name(k) == attr) else {
                    bad.push(format!(
                        "{}: attribute {attr:?}, which no step set",
                        path.display()
                    ));
                    continue;
                };
                let tag = tag::read_value(&value);
                match tag {
                    None => bad.push(format!(
                        "{}: attribute {attr} holds {} bytes that are no whole value the workload set",
                        path.display(),
                        value.len()
                    )),
                    Some(t) if t.key != key || !may.contains(&t.file) => bad.push(format!(
                        "{}: attribute {attr} holds the value of attribute {} of file {} (generation {}), not its own",
                        path.display(),
                        xattr_name(t.key),
                        t.file,
                        t.gen
                    )),
                    Some(t) if !self.values.contains(&t) => bad.push(format!(
                        "{}: attribute {attr} holds generation {}, never set",
                        path.display(),
                        t.gen
                    )),
                    Some(_) => {}
                }
                mine.insert(key, tag);
            }
        }
        for &file in self.inos.keys() {
            let Some(w) = self.latest(marks, |o| matches!(o, Op::Fsync { file: f } if *f == file))
            else {
                continue;
            };
            // Gone from the tree: check_files says whether it may be.
            let Some(((dir, name), _)) = self.locate(file, found) else {
                continue;
            };
            let path = dir_path(root, &self.ops, *dir).join(name);
            let ino = self.inos[&file];
            for key in 0..XATTR_KEYS {
                let h = self.xattrs.get(&(file, key)).cloned().unwrap_or_default();
                let want = allowed(&h, w, None);
                let seen = shown.get(&ino).and_then(|m| m.get(&key));
                let ok = match seen {
                    None => want.contains(&None),
                    Some(Some(t)) => t.file == file && want.contains(&Some(t.gen)),
                    // Already reported as damaged.
                    Some(None) => true,
                };
                if !ok {
                    let seen = seen.map_or("nothing".into(), |t| format!("{t:?}"));
                    bad.push(format!(
                        "{}: attribute {}, made durable by the fsync at step {w}, holds {seen}; expected generation one of {want:?}",
                        path.display(),
                        xattr_name(key)
                    ));
                }
            }
        }
    }
}

/// A file's extended attributes: (name, value), in the order listed.
fn read_xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let cpath = c_path(path)?;
    // SAFETY: listxattr with a NUL-terminated path we own and no buffer:
    // it returns the size the list needs.
    let n = unsafe { libc::listxattr(cpath.as_ptr(), std::ptr::null_mut(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut list = vec![0u8; n as usize];
    // SAFETY: listxattr into a buffer of `list.len()` bytes we own.
    let n = unsafe { libc::listxattr(cpath.as_ptr(), list.as_mut_ptr().cast(), list.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    list.truncate(n as usize);
    let mut out = Vec::new();
    for name in list.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let cname = std::ffi::CString::new(name).expect("split at NUL");
        let mut value = vec![0u8; 65536];
        // SAFETY: getxattr with NUL-terminated strings we own, into a
        // buffer of `value.len()` bytes we own.
        let n = unsafe {
            libc::getxattr(
                cpath.as_ptr(),
                cname.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        value.truncate(n as usize);
        out.push((String::from_utf8_lossy(name).into_owned(), value));
    }
    Ok(out)
}

fn read_all(path: &Path) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    File::open(path)?.read_to_end(&mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::Tag;
    use crate::workload::{generate, run, NoMarks};
    use std::fs::OpenOptions;
    use std::os::unix::fs::FileExt;

    /// A fresh directory under the workspace's target/: on the disk the
    /// checkout is on, where O_DIRECT works (a tmpfs /tmp before Linux 6.6
    /// refuses it).
    fn scratch(name: &str) -> std::path::PathBuf {
        let d = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/crashstates-tests")
            .join(format!("{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn all_marks(m: &Model) -> BTreeSet<usize> {
        m.marked.clone()
    }

    #[test]
    fn a_workload_that_was_not_cut_keeps_every_promise() {
        for seed in 0..8 {
            let root = scratch(&format!("clean{seed}"));
            let ops = generate(seed, 40);
            let journal = run(&root, &ops, &mut NoMarks).unwrap();
            let m = Model::new(&journal);
            assert!(m.marked.len() > 5, "seed {seed}: few promises");
            let bad = m.check(&root, &all_marks(&m));
            assert!(bad.is_empty(), "seed {seed}: {bad:#?}");
            fs::remove_dir_all(&root).unwrap();
        }
    }

    /// A file that has a name and data at the end, and was fsynced.
    fn some_file(m: &Model, root: &Path) -> (u32, std::path::PathBuf) {
        let last = m.ops.len() - 1;
        for (key, h) in &m.names {
            if let Some(f) = at(h, last, None) {
                let synced = m.latest(&m.marked, |o| matches!(o, Op::Fsync { file } if *file == f));
                if m.size(f, last) > 0 && synced.is_some() {
                    return (f, dir_path(root, &m.ops, key.0).join(&key.1));
                }
            }
        }
        panic!("no file with data");
    }

    #[test]
    fn another_files_block_is_found() {
        let root = scratch("foreign");
        let journal = run(&root, &generate(3, 40), &mut NoMarks).unwrap();
        let m = Model::new(&journal);
        let (file, path) = some_file(&m, &root);
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(
            &tag::block(Tag {
                file: file + 100,
                gen: 1,
                block: 0,
            }),
            0,
        )
        .unwrap();
        let bad = m.check(&root, &BTreeSet::new());
        assert!(bad.iter().any(|b| b.contains("not its own")), "{bad:#?}");
        f.write_all_at(&[0x55; 4096], 0).unwrap();
        let bad = m.check(&root, &BTreeSet::new());
        assert!(
            bad.iter().any(|b| b.contains("no file of the workload")),
            "{bad:#?}"
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_lost_promise_is_found() {
        let root = scratch("lost");
        let journal = run(&root, &generate(4, 40), &mut NoMarks).unwrap();
        let m = Model::new(&journal);
        let (_, path) = some_file(&m, &root);
        // The file's size goes back to nothing: every fsync of it is broken.
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let bad = m.check(&root, &all_marks(&m));
        assert!(bad.iter().any(|b| b.contains("promised")), "{bad:#?}");
        // A name the directory fsync promised is gone.
        fs::remove_file(&path).unwrap();
        let bad = m.check(&root, &all_marks(&m));
        assert!(
            bad.iter().any(|b| b.contains("the fsync of its directory")),
            "{bad:#?}"
        );
        // With no promises made, neither is wrong.
        assert!(m.check(&root, &BTreeSet::new()).is_empty());
        fs::remove_dir_all(&root).unwrap();
    }

    fn set_xattr(path: &Path, name: &str, value: Option<&[u8]>) {
        let p = c_path(path).unwrap();
        let n = std::ffi::CString::new(name).unwrap();
        // SAFETY: NUL-terminated strings and a buffer we own.
        let r = unsafe {
            match value {
                Some(v) => libc::setxattr(p.as_ptr(), n.as_ptr(), v.as_ptr().cast(), v.len(), 0),
                None => libc::removexattr(p.as_ptr(), n.as_ptr()),
            }
        };
        assert_eq!(r, 0, "{name}: {}", io::Error::last_os_error());
    }

    #[test]
    fn a_lost_foreign_or_partial_attribute_is_found() {
        let root = scratch("xattr");
        let ops = vec![
            Op::Create {
                dir: 0,
                name: "f1".into(),
                file: 1,
            },
            Op::SetXattr {
                file: 1,
                key: 0,
                gen: 1,
            },
            Op::Fsync { file: 1 },
            Op::Create {
                dir: 0,
                name: "f2".into(),
                file: 2,
            },
            Op::SetXattr {
                file: 2,
                key: 1,
                gen: 2,
            },
        ];
        let journal = run(&root, &ops, &mut NoMarks).unwrap();
        let m = Model::new(&journal);
        assert!(m.check(&root, &all_marks(&m)).is_empty());
        let f1 = root.join("f1");
        // The attribute the fsync made durable is gone.
        set_xattr(&f1, "user.k0", None);
        let bad = m.check(&root, &all_marks(&m));
        assert!(bad.iter().any(|b| b.contains("made durable")), "{bad:#?}");
        assert!(m.check(&root, &BTreeSet::new()).is_empty());
        // It holds another file's value.
        let theirs = tag::value(ValueTag {
            file: 2,
            key: 1,
            gen: 2,
        });
        set_xattr(&f1, "user.k0", Some(&theirs));
        let bad = m.check(&root, &BTreeSet::new());
        assert!(bad.iter().any(|b| b.contains("not its own")), "{bad:#?}");
        // Part of its own value.
        let mine = tag::value(ValueTag {
            file: 1,
            key: 0,
            gen: 1,
        });
        set_xattr(&f1, "user.k0", Some(&mine[..mine.len() / 2]));
        let bad = m.check(&root, &BTreeSet::new());
        assert!(bad.iter().any(|b| b.contains("no whole value")), "{bad:#?}");
        // A name no step set.
        set_xattr(&f1, "user.k0", Some(&mine));
        set_xattr(&f1, "user.other", Some(b"x"));
        let bad = m.check(&root, &BTreeSet::new());
        assert!(
            bad.iter().any(|b| b.contains("which no step set")),
            "{bad:#?}"
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
