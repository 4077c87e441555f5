// SPDX-License-Identifier: GPL-2.0

//! Crash states: what a disk with a volatile write cache may hold after a
//! power cut, given the log of what was written to it.
//!
//! The log falls into epochs, each ended by a flush. Everything logged
//! before a flush is durable once it completes, so every crash state
//! starts from a whole number of epochs. What else it holds comes from
//! the epoch the power cut fell in:
//!
//! - its FUA writes up to a point in time (the cut), which were durable on
//!   completion; its marks up to the cut are the promises made by then;
//! - any subset of its other writes, in any order, each possibly torn:
//!   each 4 KiB block of a write ([`BLOCK`]) lands or not on its own.
//!   Where several writes of the epoch cover a block, the block ends with
//!   one of their versions or with what it held before the epoch. Applying
//!   the chosen pieces in log order, the later one winning, reaches every
//!   such choice. A FUA write before the cut wins over the epoch's other
//!   writes of the same block (the log does not say which came first, and
//!   a drive does not destage an older cached copy over a FUA write).
//!
//! Two kinds of state are made. The prefixes: the log up to every flush
//! and every FUA write, and all of it. And seeded random states of each
//! epoch: the same seed gives the same state, so any one can be made
//! again. A discard is modelled as a write of zeroes.

use crate::log::{Log, Op};
use rsfs_fuzz::rng::Rng;
use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// The unit a torn write lands in: whole 4 KiB blocks, rsfs's block size
/// and the atomic write unit of a 4Kn drive. A write is never torn inside
/// one block here.
pub const BLOCK: u64 = 4096;

/// Where a piece's bytes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// This byte offset of the log.
    Log(u64),
    /// Zeroes (a discard).
    Zero,
}

/// The part of one write that falls in one block of the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Piece {
    /// Where on the disk, in bytes.
    pub offset: u64,
    /// How many bytes, at most [`BLOCK`].
    pub len: u64,
    /// Where its bytes come from.
    pub source: Source,
}

impl Piece {
    /// The disk block it falls in.
    pub fn block(&self) -> u64 {
        self.offset / BLOCK
    }
}

/// One write or discard of an epoch, cut into pieces.
#[derive(Clone, Debug)]
struct Write1 {
    /// Its entry in the log.
    entry: usize,
    pieces: Vec<Piece>,
}

/// What happened in an epoch in time order: FUA writes and marks.
#[derive(Clone, Debug)]
enum Event {
    /// The epoch's write of this index, with REQ_FUA.
    Fua(usize),
    /// A mark: the workload made the promise of this name.
    Mark(String),
}

/// The entries from one flush to the next.
#[derive(Clone, Debug, Default)]
pub struct Epoch {
    writes: Vec<Write1>,
    events: Vec<Event>,
    /// The log entry of the flush that ends it; the log's last epoch may
    /// have none.
    pub flush: Option<usize>,
}

impl Epoch {
    /// How many writes and discards it has.
    pub fn writes(&self) -> usize {
        self.writes.len()
    }

    /// Its marks, in order.
    pub fn marks(&self) -> impl Iterator<Item = &str> {
        self.events.iter().filter_map(|e| match e {
            Event::Mark(m) => Some(m.as_str()),
            Event::Fua(_) => None,
        })
    }
}

/// The log, cut into epochs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Every epoch, in order. The last one is never ended by a flush
    /// (it may be empty).
    pub epochs: Vec<Epoch>,
}

/// One crash state: every epoch before `epoch` in whole, then `pieces`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Crash {
    /// The epoch the power cut fell in.
    pub epoch: usize,
    /// How it was made: `prefix` or `seed N`, to make it again.
    pub how: How,
    /// What the disk holds of the epoch, to be written in this order over
    /// the state at the epoch's start.
    pub pieces: Vec<Piece>,
    /// The marks made before the cut, of this epoch and every earlier one:
    /// the promises that must hold in this state.
    pub marks: Vec<String>,
}

/// How a crash state was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum How {
    /// The log up to this entry, inclusive (`None`: up to the epoch's
    /// start).
    Prefix(Option<usize>),
    /// Chosen by [`Plan::random`] with this seed.
    Seed(u64),
}

impl std::fmt::Display for How {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            How::Prefix(None) => write!(f, "prefix at the epoch's start"),
            How::Prefix(Some(e)) => write!(f, "prefix through log entry {e}"),
            How::Seed(s) => write!(f, "seed {s}"),
        }
    }
}

/// Cuts a write or discard of `len` bytes at `offset` into per-block pieces.
fn pieces(offset: u64, len: u64, source: Source) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut at = offset;
    while at < offset + len {
        let end = (offset + len).min((at / BLOCK + 1) * BLOCK);
        let source = match source {
            Source::Log(d) => Source::Log(d + (at - offset)),
            Source::Zero => Source::Zero,
        };
        out.push(Piece {
            offset: at,
            len: end - at,
            source,
        });
        at = end;
    }
    out
}

impl Plan {
    /// Cuts a log into epochs.
    pub fn new(log: &Log) -> Plan {
        let mut epochs = vec![Epoch::default()];
        for (entry, op) in log.entries.iter().enumerate() {
            let epoch = epochs.last_mut().expect("one epoch at least");
            match op {
                Op::Write {
                    offset,
                    len,
                    data,
                    fua,
                } => {
                    if *fua {
                        epoch.events.push(Event::Fua(epoch.writes.len()));
                    }
                    epoch.writes.push(Write1 {
                        entry,
                        pieces: pieces(*offset, *len, Source::Log(*data)),
                    });
                }
                Op::Discard { offset, len } => epoch.writes.push(Write1 {
                    entry,
                    pieces: pieces(*offset, *len, Source::Zero),
                }),
                Op::Mark(name) => epoch.events.push(Event::Mark(name.clone())),
                Op::Flush => {
                    epoch.flush = Some(entry);
                    epochs.push(Epoch::default());
                }
            }
        }
        Plan { epochs }
    }

    /// The marks of every epoch before `epoch`.
    fn marks_before(&self, epoch: usize) -> Vec<String> {
        self.epochs[..epoch]
            .iter()
            .flat_map(|e| e.marks().map(str::to_owned))
            .collect()
    }

    /// Every piece of epoch `k`, in log order: what takes the disk from
    /// the state at its start to the state at the next one's.
    pub fn epoch_pieces(&self, k: usize) -> Vec<Piece> {
        self.epochs[k]
            .writes
            .iter()
            .flat_map(|w| w.pieces.iter().copied())
            .collect()
    }

    /// The prefix states of epoch `k`: its start, and the log up to each of
    /// its FUA writes. (The start of epoch k + 1 is the log up to the flush
    /// that ends epoch k.)
    pub fn prefixes(&self, k: usize) -> Vec<Crash> {
        let e = &self.epochs[k];
        let mut marks = self.marks_before(k);
        let mut out = vec![Crash {
            epoch: k,
            how: How::Prefix(None),
            pieces: Vec::new(),
            marks: marks.clone(),
        }];
        for ev in &e.events {
            match ev {
                Event::Mark(m) => marks.push(m.clone()),
                Event::Fua(w) => {
                    let upto = e.writes[*w].entry;
                    let pieces = e
                        .writes
                        .iter()
                        .filter(|x| x.entry <= upto)
                        .flat_map(|x| x.pieces.iter().copied())
                        .collect();
                    out.push(Crash {
                        epoch: k,
                        how: How::Prefix(Some(upto)),
                        pieces,
                        marks: marks.clone(),
                    });
                }
            }
        }
        out
    }

    /// The random crash state of epoch `k` that `seed` chooses.
    pub fn random(&self, k: usize, seed: u64) -> Crash {
        let e = &self.epochs[k];
        let mut rng = Rng::new(seed, k as u64);
        let cut = rng.index(e.events.len() + 1);
        let mut marks = self.marks_before(k);
        let mut durable = vec![false; e.writes.len()];
        for ev in &e.events[..cut] {
            match ev {
                Event::Fua(w) => durable[*w] = true,
                Event::Mark(m) => marks.push(m.clone()),
            }
        }
        // How likely each other write is to have landed: 1/4, 1/2 or 3/4,
        // so that some states keep little of the epoch and some most of it.
        let quarters = rng.range(1, 3);
        let mut chosen = Vec::new();
        for (w, write) in e.writes.iter().enumerate() {
            if durable[w] || rng.below(4) >= quarters {
                continue;
            }
            let torn = write.pieces.len() > 1 && rng.below(4) == 0;
            for piece in &write.pieces {
                if !torn || rng.coin() {
                    chosen.push(*piece);
                }
            }
        }
        let fua: Vec<Piece> = e
            .writes
            .iter()
            .enumerate()
            .filter(|(w, _)| durable[*w])
            .flat_map(|(_, x)| x.pieces.iter().copied())
            .collect();
        let fua_blocks: HashSet<u64> = fua.iter().map(Piece::block).collect();
        chosen.retain(|p| !fua_blocks.contains(&p.block()));
        chosen.extend(fua);
        Crash {
            epoch: k,
            how: How::Seed(seed),
            pieces: chosen,
            marks,
        }
    }

    /// Up to `count` distinct states of epoch `k`: its prefixes first, then
    /// random ones, their seeds drawn from `run_seed`. Stops early when
    /// the epoch has no more to give (4 × `count` draws without a new one).
    pub fn states(&self, k: usize, count: usize, run_seed: u64) -> Vec<Crash> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for c in self.prefixes(k) {
            if out.len() < count && seen.insert((c.pieces.clone(), c.marks.len())) {
                out.push(c);
            }
        }
        let mut seeds = Rng::new(run_seed, k as u64);
        let mut misses = 0;
        while out.len() < count && misses < 4 * count {
            let c = self.random(k, seeds.next_u64());
            if seen.insert((c.pieces.clone(), c.marks.len())) {
                out.push(c);
            } else {
                misses += 1;
            }
        }
        out
    }
}

/// Writes `pieces` in order onto `disk`, their bytes read from `log`.
pub fn apply<D, L>(pieces: &[Piece], disk: &mut D, log: &mut L) -> io::Result<()>
where
    D: Write + Seek,
    L: Read + Seek,
{
    let mut buf = vec![0u8; BLOCK as usize];
    for p in pieces {
        let bytes = &mut buf[..p.len as usize];
        match p.source {
            Source::Log(at) => {
                log.seek(SeekFrom::Start(at))?;
                log.read_exact(bytes)?;
            }
            Source::Zero => bytes.fill(0),
        }
        disk.seek(SeekFrom::Start(p.offset))?;
        disk.write_all(bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::LogWriter;
    use std::io::Cursor;

    const DISK: usize = 16 * BLOCK as usize;

    fn block(tag: u8) -> Vec<u8> {
        vec![tag; BLOCK as usize]
    }

    /// The disk after the crash state: epochs before it whole, then it.
    fn image(plan: &Plan, log: &[u8], c: &Crash) -> Vec<u8> {
        let mut disk = Cursor::new(vec![0u8; DISK]);
        let mut l = Cursor::new(log);
        for k in 0..c.epoch {
            apply(&plan.epoch_pieces(k), &mut disk, &mut l).unwrap();
        }
        apply(&c.pieces, &mut disk, &mut l).unwrap();
        disk.into_inner()
    }

    fn tag(img: &[u8], b: u64) -> u8 {
        let at = (b * BLOCK) as usize;
        assert!(
            img[at..at + BLOCK as usize].iter().all(|&x| x == img[at]),
            "a torn block"
        );
        img[at]
    }

    fn two_epochs() -> Vec<u8> {
        LogWriter::new(512)
            .write(0, &block(1), false)
            .write(BLOCK, &block(2), false)
            .mark("first")
            .flush()
            .write(0, &block(3), true)
            .mark("second")
            .write(2 * BLOCK, &[block(4), block(4)].concat(), false)
            .flush()
            .finish()
    }

    #[test]
    fn epochs_end_at_flushes() {
        let log = two_epochs();
        let plan = Plan::new(&Log::read(&mut Cursor::new(&log)).unwrap());
        assert_eq!(plan.epochs.len(), 3);
        assert_eq!(plan.epochs[0].writes(), 2);
        assert_eq!(plan.epochs[0].flush, Some(3));
        assert_eq!(plan.epochs[1].writes(), 2);
        assert_eq!(plan.epochs[1].marks().collect::<Vec<_>>(), ["second"]);
        assert_eq!(plan.epochs[2].writes(), 0);
        assert_eq!(plan.epochs[2].flush, None);
        // A two-block write is two pieces.
        assert_eq!(plan.epoch_pieces(1).len(), 3);
    }

    #[test]
    fn prefixes_end_at_each_flush_and_fua_write() {
        let log = two_epochs();
        let plan = Plan::new(&Log::read(&mut Cursor::new(&log)).unwrap());
        let all: Vec<Crash> = (0..plan.epochs.len())
            .flat_map(|k| plan.prefixes(k))
            .collect();
        let tags: Vec<Vec<u8>> = all
            .iter()
            .map(|c| {
                let img = image(&plan, &log, c);
                (0..4).map(|b| tag(&img, b)).collect()
            })
            .collect();
        assert_eq!(
            tags,
            [
                vec![0, 0, 0, 0],
                vec![1, 2, 0, 0],
                vec![3, 2, 0, 0],
                vec![3, 2, 4, 4]
            ]
        );
        let marks: Vec<usize> = all.iter().map(|c| c.marks.len()).collect();
        assert_eq!(marks, [0, 1, 1, 2]);
    }

    #[test]
    fn random_states_hold_only_versions_the_epoch_could_leave() {
        // Epoch 1 writes block 0 twice and blocks 1-3 in one write, with
        // a FUA write of block 5 and a mark between.
        let log = LogWriter::new(512)
            .write(0, &block(1), false)
            .flush()
            .write(0, &block(2), false)
            .write(5 * BLOCK, &block(9), true)
            .mark("after-fua")
            .write(BLOCK, &[block(3), block(3), block(3)].concat(), false)
            .write(0, &block(4), false)
            .flush()
            .finish();
        let plan = Plan::new(&Log::read(&mut Cursor::new(&log)).unwrap());
        let mut seen0 = HashSet::new();
        let mut torn = false;
        let mut without_fua = false;
        for seed in 0..400 {
            let c = plan.random(1, seed);
            assert_eq!(c, plan.random(1, seed), "the same seed, the same state");
            let img = image(&plan, &log, &c);
            let b0 = tag(&img, 0);
            assert!([1, 2, 4].contains(&b0), "block 0 holds {b0}");
            seen0.insert(b0);
            let mid: Vec<u8> = (1..4).map(|b| tag(&img, b)).collect();
            assert!(mid.iter().all(|&t| t == 0 || t == 3));
            torn |= mid.contains(&0) && mid.contains(&3);
            // The mark follows the FUA write: where it must hold, the
            // FUA write is there.
            if c.marks.iter().any(|m| m == "after-fua") {
                assert_eq!(tag(&img, 5), 9, "seed {seed}");
            } else {
                without_fua |= tag(&img, 5) == 0;
            }
        }
        assert_eq!(
            seen0,
            HashSet::from([1, 2, 4]),
            "every version of block 0 occurs"
        );
        assert!(torn, "some three-block write lands in part");
        assert!(
            without_fua,
            "some state has neither the mark nor the FUA write"
        );
    }

    #[test]
    fn states_are_distinct_and_bounded() {
        let log = two_epochs();
        let plan = Plan::new(&Log::read(&mut Cursor::new(&log)).unwrap());
        let states = plan.states(1, 50, 7);
        // Epoch 1 has a FUA write of block 0, and blocks 2 and 3: few
        // distinct states, fewer than 50.
        assert!(states.len() < 50 && states.len() >= 4, "{}", states.len());
        let distinct: HashSet<_> = states.iter().map(|c| (&c.pieces, c.marks.len())).collect();
        assert_eq!(distinct.len(), states.len());
        assert_eq!(plan.states(1, 3, 7).len(), 3);
        assert_eq!(
            plan.states(1, 50, 7),
            states,
            "the same run seed, the same states"
        );
    }

    #[test]
    fn a_discard_reads_back_as_zeroes() {
        let log = LogWriter::new(512)
            .write(0, &[block(5), block(5)].concat(), false)
            .flush()
            .discard(0, 2 * BLOCK)
            .flush()
            .finish();
        let plan = Plan::new(&Log::read(&mut Cursor::new(&log)).unwrap());
        let c = &plan.prefixes(2)[0];
        let img = image(&plan, &log, c);
        assert_eq!((tag(&img, 0), tag(&img, 1)), (0, 0));
    }
}
