// SPDX-License-Identifier: GPL-2.0

//! rsfs-crashstates: crash states of a disk, from a dm-log-writes log.
//!
//!   rsfs-crashstates dump LOG
//!   rsfs-crashstates state LOG BASE OUT --epoch K (--prefix | --seed S)
//!
//! `dump` prints the log's entries and its epochs. `state` writes one crash
//! state: BASE (the disk as it was when logging started) with every epoch
//! before K and then the chosen part of epoch K, into OUT; it prints the
//! marks whose promises must hold there.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
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
