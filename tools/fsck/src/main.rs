// SPDX-License-Identifier: GPL-2.0

//! `fsck.rsfs [-n|-y] DEVICE|IMAGE`
//!
//! Exit codes as e2fsck's: 0 clean, 1 errors fixed, 4 errors left
//! uncorrected, 8 operational error.

use std::path::PathBuf;

use clap::Parser;
use fsck_rsfs::{check, Kind, Mode};

/// Check and repair an rsfs filesystem.
#[derive(Parser, Debug)]
#[command(name = "fsck.rsfs", version)]
struct Args {
    /// Check only: open read-only and change nothing (the default).
    #[arg(short = 'n', conflicts_with_all = ["yes", "preen"])]
    no: bool,
    /// Repair what can be repaired without asking.
    #[arg(short = 'y')]
    yes: bool,
    /// Same as -y (what fsck(8) passes at boot).
    #[arg(short = 'p', short_alias = 'a')]
    preen: bool,
    /// Accepted for fsck(8) compatibility; the check is always complete.
    #[arg(short = 'f')]
    force: bool,
    /// The block device or image file.
    device: PathBuf,
}

fn main() {
    let args = Args::parse();
    let _ = args.force;
    let mode = if (args.yes || args.preen) && !args.no {
        Mode::Repair
    } else {
        Mode::Check
    };
    let report = match check(&args.device, mode) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fsck.rsfs: {e:#}");
            std::process::exit(8);
        }
    };
    if let Some((seq, blocks)) = report.journal {
        let what = if mode == Mode::Repair {
            "replayed"
        } else {
            "not replayed (-n): checked as the replay would leave it"
        };
        // Not a problem line (those start with "fsck.rsfs:"): a committed
        // transaction in the journal is what a power cut normally leaves.
        println!(
            "{}: journal: committed transaction {seq} of {blocks} blocks {what}",
            args.device.display()
        );
    }
    if report.orphans > 0 {
        let what = if mode == Mode::Repair {
            "released"
        } else {
            "left for the next mount, which releases them"
        };
        // Not a problem line either: files unlinked while open are what a
        // power cut leaves on the orphan list.
        println!(
            "{}: orphan list: {} inodes {what}",
            args.device.display(),
            report.orphans
        );
    }
    for p in &report.problems {
        let kind = match p.kind {
            Kind::Leak => "leak",
            Kind::Corruption => "corruption",
        };
        let state = if p.fixed { "fixed" } else { "not fixed" };
        println!(
            "fsck.rsfs: {}: {} [{kind}, {state}]",
            args.device.display(),
            p.message
        );
    }
    let verdict = match report.exit_code() {
        0 => "clean",
        1 => "errors fixed",
        _ => "ERRORS LEFT",
    };
    println!(
        "{}: {}/{} inodes, {}/{} blocks: {verdict}",
        args.device.display(),
        report.inodes_used,
        report.inodes_count,
        report.blocks_used,
        report.blocks_count
    );
    std::process::exit(report.exit_code());
}
