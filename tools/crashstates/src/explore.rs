// SPDX-License-Identifier: GPL-2.0

//! The whole exploration, run inside the test VM as root, with rsfs loaded:
//! for each workload, make a fresh filesystem, run the workload on it
//! through dm-log-writes, then make the crash states the log allows and
//! check each one. States are checked on one or more work disks at once,
//! one thread each, so that a VM with two CPUs keeps both busy.
//!
//! Each state is checked in this order:
//! 1. it mounts without fsck, and the mount leaves no committed
//!    transaction in the journal (a replay empties it);
//! 2. every promise made before the cut holds, and no file shows bytes
//!    another file wrote, a deleted file held, or nobody wrote
//!    ([`crate::oracle`]);
//! 3. after unmounting, `fsck.rsfs -n` finds nothing, not even a leak:
//!    every commit leaves the bitmaps agreeing with the maps;
//! 4. if it found something, `fsck.rsfs -y` repairs it, and `-n` then
//!    finds nothing (on a clean state `-y` would have nothing to do, and
//!    skipping it saves a fifth of the check);
//! 5. it mounts again, takes a short workload, unmounts, and `-n` finds
//!    nothing.

use crate::dm::LogWrites;
use crate::log::Log;
use crate::oracle::Model;
use crate::plan::{apply, Crash, Piece, Plan};
use crate::tag::{self, Tag};
use crate::workload::{self, Entry};
use anyhow::{anyhow, bail, Context, Result};
use fsck_rsfs::Mode;
use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::Cursor;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to explore, and where.
#[derive(Clone, Debug)]
pub struct Options {
    /// The disk the workloads run on (its first `blocks` blocks).
    pub disk: PathBuf,
    /// The disk dm-log-writes logs onto.
    pub log: PathBuf,
    /// The disks crash states are made on (each as large as `blocks`), one
    /// checking thread each.
    pub work: Vec<PathBuf>,
    /// Where to mount the workload's filesystem; work disk `i` is mounted
    /// on this path with `.i` appended.
    pub mnt: PathBuf,
    /// The filesystem's size in 4 KiB blocks.
    pub blocks: u64,
    /// The first workload's seed; the next ones count up from it.
    pub seed: u64,
    /// Steps per workload.
    pub steps: usize,
    /// At most this many states per epoch (prefixes first).
    pub per_epoch: usize,
    /// Stop after this many states in all.
    pub states: usize,
    /// Only the prefixes (the states a power cut at a flush leaves on a
    /// disk that writes in order), no random states.
    pub prefixes_only: bool,
}

/// How the exploration went.
#[derive(Debug, Default)]
pub struct Summary {
    /// Workloads run.
    pub workloads: usize,
    /// Crash states checked.
    pub tried: usize,
    /// States where something did not hold, with what.
    pub violations: Vec<String>,
    /// Where the time went, summed over the checking threads.
    pub phases: Phases,
}

/// Time spent in each part of the work, summed over the checking threads.
#[derive(Debug, Default, Clone, Copy)]
pub struct Phases {
    /// Running and recording the workloads.
    pub record: Duration,
    /// Making each state: its log pieces applied and put on a work disk.
    pub make: Duration,
    /// The first mount, the promises checked, and the unmount.
    pub promises: Duration,
    /// fsck.rsfs -n, and -y where needed.
    pub fsck: Duration,
    /// The mount, short workload, unmount and fsck.rsfs -n after it.
    pub after: Duration,
}

impl Phases {
    fn add(&mut self, o: &Phases) {
        self.record += o.record;
        self.make += o.make;
        self.promises += o.promises;
        self.fsck += o.fsck;
        self.after += o.after;
    }
}

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL in a path")
}

fn mount(dev: &Path, mnt: &Path) -> std::io::Result<()> {
    let fstype = CString::new("rsfs").expect("no NUL");
    // SAFETY: NUL-terminated strings that live across the call, no data.
    let r = unsafe {
        libc::mount(
            c(dev).as_ptr(),
            c(mnt).as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn umount(mnt: &Path) -> std::io::Result<()> {
    // SAFETY: a NUL-terminated path that lives across the call.
    if unsafe { libc::umount2(c(mnt).as_ptr(), 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn read_image(path: &Path, blocks: u64) -> Result<Vec<u8>> {
    let mut img = vec![0u8; (blocks * crate::plan::BLOCK) as usize];
    File::open(path)
        .and_then(|f| f.read_exact_at(&mut img, 0))
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(img)
}

/// Runs workload `seed` on a fresh filesystem through dm-log-writes.
/// Returns the filesystem as it was before the workload, and the journal.
fn record(o: &Options, seed: u64) -> Result<(Vec<u8>, Vec<Entry>)> {
    let mkfs = mkfs_rsfs::Options {
        blocks: Some(o.blocks),
        force: true,
        quiet: true,
        ..Default::default()
    };
    mkfs_rsfs::mkfs(&o.disk, &mkfs)?;
    let base = read_image(&o.disk, o.blocks)?;
    let sectors = o.blocks * crate::plan::BLOCK / 512;
    let lw = LogWrites::create(
        "rsfs-crashstates",
        &o.disk.to_string_lossy(),
        &o.log.to_string_lossy(),
        sectors,
    )?;
    mount(&lw.path, &o.mnt).with_context(|| format!("mounting {}", lw.path.display()))?;
    let ops = workload::generate(seed, o.steps);
    let journal = workload::run(&o.mnt, &ops, &mut &lw);
    let unmounted = umount(&o.mnt);
    let journal = journal.with_context(|| format!("workload {seed}"))?;
    unmounted.context("unmounting after the workload")?;
    lw.remove()?;
    Ok((base, journal))
}

/// A few steps on a repaired filesystem: all must work, and leave it clean.
fn short_workload(mnt: &Path) -> std::io::Result<()> {
    let tmp = mnt.join("after.tmp");
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    for b in 0..8 {
        f.write_all_at(
            &tag::block(Tag {
                file: u32::MAX,
                gen: 1,
                block: b,
            }),
            b * 4096,
        )?;
    }
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, mnt.join("after"))?;
    fs::create_dir(mnt.join("after.d"))?;
    fs::remove_file(mnt.join("after"))?;
    fs::remove_dir(mnt.join("after.d"))?;
    File::open(mnt)?.sync_all()
}

fn problems(r: &fsck_rsfs::Report) -> String {
    let v: Vec<String> = r
        .problems
        .iter()
        .map(|p| format!("{:?}: {}", p.kind, p.message))
        .collect();
    v.join("; ")
}

/// Whether the journal on `dev`, read past the page cache, still holds a
/// committed transaction: one the next mount would replay again.
fn log_holds_a_commit(dev: &Path) -> Result<bool> {
    let img = fsck_rsfs::image::Image::open_direct(dev)?;
    Ok(matches!(
        fsck_rsfs::journal::find(&img)?,
        fsck_rsfs::journal::Found::Committed(_)
    ))
}

/// Checks the crash state on `dev`, mounting it on `mnt`. Returns what is
/// wrong.
fn check_state(
    dev: &Path,
    mnt: &Path,
    model: &Model,
    marks: &BTreeSet<usize>,
    t: &mut Phases,
) -> Vec<String> {
    let mut bad = Vec::new();
    let mut at = Instant::now();
    let mut lap = |d: &mut Duration| {
        let now = Instant::now();
        *d += now - at;
        at = now;
    };
    if let Err(e) = mount(dev, mnt) {
        bad.push(format!("mount without fsck failed: {e}"));
        return bad;
    }
    match log_holds_a_commit(dev) {
        Ok(false) => {}
        Ok(true) => bad.push("the mount left a committed transaction in the journal".into()),
        Err(e) => bad.push(format!("reading the journal after the mount: {e:#}")),
    }
    bad.extend(model.check(mnt, marks));
    if let Err(e) = umount(mnt) {
        bad.push(format!("unmount failed: {e}"));
        return bad;
    }
    lap(&mut t.promises);
    let repair = match fsck_rsfs::check(dev, Mode::Check) {
        Ok(r) if r.exit_code() == 0 => false,
        Ok(r) => {
            bad.push(format!("fsck.rsfs -n found: {}", problems(&r)));
            true
        }
        Err(e) => {
            bad.push(format!("fsck.rsfs -n failed: {e:#}"));
            true
        }
    };
    let clean = |when: &str, bad: &mut Vec<String>| match fsck_rsfs::check(dev, Mode::Check) {
        Ok(r) if r.exit_code() == 0 => {}
        Ok(r) => bad.push(format!("fsck.rsfs -n {when}: {}", problems(&r))),
        Err(e) => bad.push(format!("fsck.rsfs -n {when} failed: {e:#}")),
    };
    if repair {
        match fsck_rsfs::check(dev, Mode::Repair) {
            Ok(r) if r.exit_code() <= 1 => {}
            Ok(r) => bad.push(format!("fsck.rsfs -y left problems: {}", problems(&r))),
            Err(e) => bad.push(format!("fsck.rsfs -y failed: {e:#}")),
        }
        clean("after -y", &mut bad);
    }
    lap(&mut t.fsck);
    if let Err(e) = mount(dev, mnt) {
        bad.push(format!("mount after fsck failed: {e}"));
        return bad;
    }
    if let Err(e) = short_workload(mnt) {
        bad.push(format!("writing after fsck: {e}"));
    }
    if let Err(e) = umount(mnt) {
        bad.push(format!("unmount after writing failed: {e}"));
        return bad;
    }
    clean("after writing on the checked filesystem", &mut bad);
    lap(&mut t.after);
    bad
}

/// The mark dm-log-writes logs itself when its target is removed, after the
/// workload's last write (drivers/md/dm-log-writes.c).
const END_MARK: &str = "dm-log-writes-end";

/// The promises made by the time of `crash`: the sequence numbers of the
/// workload's marks ("s17") it holds.
fn promises(crash: &Crash) -> Result<BTreeSet<usize>> {
    crash
        .marks
        .iter()
        .filter(|m| m.as_str() != END_MARK)
        .map(|m| {
            m.strip_prefix('s')
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow!("a mark the workload did not make: {m:?}"))
        })
        .collect()
}

/// A work disk and its mount point, checked by one thread.
struct Worker {
    dev: PathBuf,
    mnt: PathBuf,
    /// A buffer for the disk's bytes, with room to align them for
    /// `O_DIRECT`.
    raw: Vec<u8>,
    /// Where this thread's time went.
    phases: Phases,
}

impl Worker {
    /// Puts a crash state on the disk: `start` with `pieces` of the log
    /// applied. The whole image is written at once, with `O_DIRECT`, so
    /// that it reaches the disk itself, which rsfs's own bios (journal and
    /// home writes) reach past the block device's cache, and costs no page
    /// cache. (Writing only the blocks that differ from what the disk
    /// held meant reading the disk back first, which cost more once the
    /// host stopped flushing these disks: 27 ms a state against 10 ms under
    /// TCG on the release kernel.)
    fn put(&mut self, start: &[u8], pieces: &[Piece], log: &mut File) -> Result<()> {
        let dev = &self.dev;
        let bs = crate::plan::BLOCK as usize;
        self.raw.resize(start.len() + bs, 0);
        let off = self.raw.as_ptr().align_offset(bs);
        let img = &mut self.raw[off..off + start.len()];
        img.copy_from_slice(start);
        apply(pieces, &mut Cursor::new(&mut *img), log).context("reading the log")?;
        // Closed again before the mount: rsfs will not mount a device
        // that something else has open for writing.
        let f = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(dev)
            .with_context(|| format!("opening {}", dev.display()))?;
        f.write_all_at(img, 0)
            .with_context(|| format!("writing {}", dev.display()))
    }
}

/// What one state's check found.
struct Checked {
    crash: Crash,
    marks: BTreeSet<usize>,
    bad: Vec<String>,
}

/// Checks `crashes`, all of one epoch that starts from `start`, spread over
/// the workers. Returns the results in the order of `crashes`.
fn check_all(
    o: &Options,
    workers: &mut [Worker],
    start: &[u8],
    crashes: Vec<Crash>,
    model: &Model,
) -> Result<Vec<Checked>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let crashes = &crashes;
    let done: Vec<Result<Vec<(usize, Checked)>>> = std::thread::scope(|scope| {
        let threads: Vec<_> = workers
            .iter_mut()
            .map(|w| {
                let next = &next;
                scope.spawn(move || -> Result<Vec<(usize, Checked)>> {
                    let mut logf = File::open(&o.log)
                        .with_context(|| format!("opening {}", o.log.display()))?;
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(crash) = crashes.get(i) else {
                            return Ok(out);
                        };
                        let made = Instant::now();
                        w.put(start, &crash.pieces, &mut logf)?;
                        w.phases.make += made.elapsed();
                        let marks = promises(crash)?;
                        let bad = check_state(&w.dev, &w.mnt, model, &marks, &mut w.phases);
                        let crash = crash.clone();
                        out.push((i, Checked { crash, marks, bad }));
                    }
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(anyhow!("a checking thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::new();
    for d in done {
        all.extend(d?);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, c)| c).collect())
}

/// Runs workloads and checks their crash states until `o.states` states
/// have been tried. Prints progress, and every violation as it is found.
pub fn explore(o: &Options) -> Result<Summary> {
    let mut sum = Summary::default();
    let start = Instant::now();
    let mut workers = o
        .work
        .iter()
        .enumerate()
        .map(|(i, dev)| {
            let mut mnt = o.mnt.clone().into_os_string();
            mnt.push(format!(".{i}"));
            let mnt = PathBuf::from(mnt);
            fs::create_dir_all(&mnt).with_context(|| format!("making {}", mnt.display()))?;
            Ok(Worker {
                dev: dev.clone(),
                mnt,
                raw: Vec::new(),
                phases: Phases::default(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if workers.is_empty() {
        bail!("no work disk to make crash states on");
    }
    let mut seed = o.seed;
    while sum.tried < o.states {
        let recording = Instant::now();
        let (base, journal) = record(o, seed)?;
        sum.phases.record += recording.elapsed();
        let model = Model::new(&journal);
        let mut logf =
            File::open(&o.log).with_context(|| format!("opening {}", o.log.display()))?;
        let log = Log::read(&mut logf)
            .with_context(|| format!("reading the log on {}", o.log.display()))?;
        let plan = Plan::new(&log);
        let mut cur = Cursor::new(base);
        let mut states = 0;
        for k in 0..plan.epochs.len() {
            if sum.tried >= o.states {
                break;
            }
            let mut crashes = if o.prefixes_only {
                plan.prefixes(k)
            } else {
                plan.states(k, o.per_epoch, seed)
            };
            crashes.truncate(o.states - sum.tried);
            for c in check_all(o, &mut workers, cur.get_ref(), crashes, &model)? {
                sum.tried += 1;
                states += 1;
                if !c.bad.is_empty() {
                    let v = describe(seed, o.steps, &c.crash, &c.marks, &c.bad);
                    println!("{v}");
                    sum.violations.push(v);
                }
                if sum.tried % 100 == 0 {
                    println!(
                        "# crash-states: {} states checked, {} violations, {} s",
                        sum.tried,
                        sum.violations.len(),
                        start.elapsed().as_secs()
                    );
                }
            }
            apply(&plan.epoch_pieces(k), &mut cur, &mut logf)?;
        }
        println!(
            "# crash-states: workload {seed} ({} steps, {} log entries, {} epochs): {states} states",
            o.steps,
            log.entries.len(),
            plan.epochs.len()
        );
        sum.workloads += 1;
        seed += 1;
        if states == 0 {
            bail!("workload {} gave no crash states", seed - 1);
        }
    }
    for w in &workers {
        sum.phases.add(&w.phases);
    }
    Ok(sum)
}

fn describe(seed: u64, steps: usize, c: &Crash, marks: &BTreeSet<usize>, bad: &[String]) -> String {
    let mut s = format!(
        "VIOLATION: workload seed {seed} ({steps} steps), epoch {}, {} ({} blocks of the epoch), \
         promises made: {marks:?}\n",
        c.epoch,
        c.how,
        c.pieces.len()
    );
    for b in bad {
        s.push_str(&format!("  {b}\n"));
    }
    // `state` makes random states and epoch starts; a prefix through a
    // FUA write is named above only.
    let again = match c.how {
        crate::plan::How::Seed(x) => Some(format!("--seed {x}")),
        crate::plan::How::Prefix(None) => Some("--prefix".into()),
        crate::plan::How::Prefix(Some(_)) => None,
    };
    if let Some(a) = again {
        s.push_str(&format!(
            "  (again: rsfs-crashstates state LOG BASE OUT --epoch {} {a})",
            c.epoch
        ));
    }
    s.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::How;

    fn crash(marks: &[&str]) -> Crash {
        Crash {
            epoch: 0,
            how: How::Prefix(None),
            pieces: Vec::new(),
            marks: marks.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn the_targets_own_end_mark_is_no_promise() {
        // A state in the last epoch holds the mark dm-log-writes logs when
        // the target goes; the exploration stopped there once.
        let p = promises(&crash(&["s1", "s4", END_MARK])).unwrap();
        assert_eq!(p, BTreeSet::from([1, 4]));
    }

    #[test]
    fn a_mark_nobody_made_is_an_error() {
        assert!(promises(&crash(&["s1", "x9"])).is_err());
    }
}
