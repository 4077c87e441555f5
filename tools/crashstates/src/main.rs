// SPDX-License-Identifier: GPL-2.0

//! rsfs-crashstates: crash states of a disk, from a dm-log-writes log.
//!
//!   rsfs-crashstates explore --disk D --log L --work W [--work W2] [...]
//!   rsfs-crashstates dump LOG
//!   rsfs-crashstates state LOG BASE OUT --epoch K (--prefix | --seed S)
//!
//! `explore` runs inside the test VM (as root, rsfs loaded): workloads on
//! a fresh rsfs on D through dm-log-writes onto L, then every crash state
//! it makes, on W (and W2, ... at the same time), checked
//! (src/explore.rs); it ends with the line
//! `crash-states tried=N violations=N`. `dump` prints a log's entries and
//! epochs. `state` writes one crash state: BASE (the disk as it was when
//! logging started) with every epoch before K and then the chosen part of
//! epoch K, into OUT; it prints the marks whose promises must hold there.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use rsfs_crashstates::explore;
use rsfs_crashstates::log::{Log, Op};
use rsfs_crashstates::plan::{apply, Plan};
use std::fs::{self, File, OpenOptions};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "rsfs-crashstates",
    about = "Crash states of a disk, from a dm-log-writes log"
)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run workloads and check their crash states (in the test VM).
    Explore {
        /// The disk the workloads run on.
        #[arg(long)]
        disk: PathBuf,
        /// The disk dm-log-writes logs onto.
        #[arg(long)]
        log: PathBuf,
        /// A disk crash states are made on; give it again for more disks,
        /// which are checked at the same time, a thread each.
        #[arg(long, required = true)]
        work: Vec<PathBuf>,
        /// Where to mount (work disk i on this path with ".i" appended).
        #[arg(long, default_value = "/mnt")]
        mnt: PathBuf,
        /// The filesystem's size in 4 KiB blocks.
        #[arg(long, default_value_t = 1024)]
        blocks: u64,
        /// The first workload's seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Steps per workload.
        #[arg(long, default_value_t = 40)]
        steps: usize,
        /// At most this many states per epoch.
        #[arg(long, default_value_t = 24)]
        per_epoch: usize,
        /// How many states to check in all.
        #[arg(long, default_value_t = 2000)]
        states: usize,
        /// Only the states at flushes (and FUA writes): what a power cut
        /// leaves on a disk without a volatile cache, at those points.
        #[arg(long)]
        prefixes_only: bool,
    },
    /// Print the log's entries and epochs.
    Dump {
        /// The dm-log-writes log (a file or the log device).
        log: PathBuf,
    },
    /// Write one crash state of the disk.
    State {
        /// The dm-log-writes log.
        log: PathBuf,
        /// The disk as it was when logging started.
        base: PathBuf,
        /// Where to write the state (a file; made or overwritten).
        out: PathBuf,
        /// The epoch the power cut falls in (from 0).
        #[arg(long)]
        epoch: usize,
        /// The state at the epoch's start.
        #[arg(long, conflicts_with = "seed")]
        prefix: bool,
        /// The random state of the epoch with this seed.
        #[arg(long)]
        seed: Option<u64>,
    },
}

fn read_log(path: &PathBuf) -> Result<(Log, File)> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let log = Log::read(&mut f).with_context(|| format!("reading {}", path.display()))?;
    Ok((log, f))
}

fn main() -> Result<()> {
    match Args::parse().cmd {
        Cmd::Explore {
            disk,
            log,
            work,
            mnt,
            blocks,
            seed,
            steps,
            per_epoch,
            states,
            prefixes_only,
        } => {
            let o = explore::Options {
                disk,
                log,
                work,
                mnt,
                blocks,
                seed,
                steps,
                per_epoch,
                states,
                prefixes_only,
            };
            let start = std::time::Instant::now();
            let sum = explore::explore(&o)?;
            // Per state, summed over the checking threads (so per thread).
            let per = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / sum.tried.max(1) as f64;
            let t = &sum.phases;
            println!(
                "# crash-states: ms per state (summed over threads): workloads {:.1}, making {:.1}, \
                 mount and promises {:.1}, fsck {:.1}, writing after {:.1}",
                per(t.record),
                per(t.make),
                per(t.promises),
                per(t.fsck),
                per(t.after)
            );
            println!(
                "crash-states tried={} violations={} workloads={} seconds={}",
                sum.tried,
                sum.violations.len(),
                sum.workloads,
                start.elapsed().as_secs()
            );
            if !sum.violations.is_empty() {
                std::process::exit(1);
            }
        }
        Cmd::Dump { log } => {
            let (log, _) = read_log(&log)?;
            println!(
                "sector size {}, {} entries",
                log.sector_size,
                log.entries.len()
            );
            for (i, op) in log.entries.iter().enumerate() {
                match op {
                    Op::Write {
                        offset, len, fua, ..
                    } => println!(
                        "{i:6} write {offset:#x} +{len}{}",
                        if *fua { " fua" } else { "" }
                    ),
                    Op::Discard { offset, len } => println!("{i:6} discard {offset:#x} +{len}"),
                    Op::Flush => println!("{i:6} flush"),
                    Op::Mark(m) => println!("{i:6} mark {m}"),
                }
            }
            let plan = Plan::new(&log);
            for (k, e) in plan.epochs.iter().enumerate() {
                let marks: Vec<&str> = e.marks().collect();
                println!(
                    "epoch {k}: {} writes, {} blocks, marks [{}]{}",
                    e.writes(),
                    plan.epoch_pieces(k).len(),
                    marks.join(" "),
                    if e.flush.is_some() {
                        ""
                    } else {
                        ", no flush after it"
                    }
                );
            }
        }
        Cmd::State {
            log,
            base,
            out,
            epoch,
            prefix,
            seed,
        } => {
            let (parsed, mut logf) = read_log(&log)?;
            let plan = Plan::new(&parsed);
            if epoch >= plan.epochs.len() {
                bail!(
                    "the log has {} epochs (0 to {})",
                    plan.epochs.len(),
                    plan.epochs.len() - 1
                );
            }
            let crash = match (prefix, seed) {
                (true, _) => plan.prefixes(epoch).swap_remove(0),
                (false, Some(s)) => plan.random(epoch, s),
                (false, None) => bail!("give --prefix or --seed S"),
            };
            fs::copy(&base, &out)
                .with_context(|| format!("copying {} to {}", base.display(), out.display()))?;
            let mut disk = OpenOptions::new()
                .write(true)
                .open(&out)
                .with_context(|| format!("opening {}", out.display()))?;
            for k in 0..epoch {
                apply(&plan.epoch_pieces(k), &mut disk, &mut logf)?;
            }
            apply(&crash.pieces, &mut disk, &mut logf)?;
            disk.sync_all()?;
            println!(
                "epoch {epoch}, {}: {} blocks of the epoch; promises that must hold: [{}]",
                crash.how,
                crash.pieces.len(),
                crash.marks.join(" ")
            );
        }
    }
    Ok(())
}
