// SPDX-License-Identifier: GPL-2.0

//! `mkfs.rsfs [-L label] [-N inodes] [-J journal-blocks] [-f] DEVICE|IMAGE [BLOCKS]`

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Parser;

/// Create an rsfs filesystem.
#[derive(Parser, Debug)]
#[command(name = "mkfs.rsfs", version)]
struct Args {
    /// Volume label (at most 32 bytes).
    #[arg(short = 'L', long)]
    label: Option<String>,
    /// Number of inodes (default: one per 16 KiB of disk).
    #[arg(short = 'N', long)]
    inodes: Option<u64>,
    /// Overwrite a device that already holds a filesystem, without asking.
    #[arg(short = 'f', long)]
    force: bool,
    /// Print nothing on success.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Blocks in the journal (default: one in 64 of the filesystem, from
    /// 64 to 4096).
    #[arg(short = 'J', long)]
    journal_blocks: Option<u64>,
    /// The block device or image file to format.
    device: PathBuf,
    /// Size of the filesystem in 4 KiB blocks (default: the whole device),
    /// as mke2fs takes it after the device.
    blocks: Option<u64>,
}

/// As mke2fs does: a device that holds a filesystem is formatted only if
/// the user says yes on standard input (`yes | mkfs -t rsfs DEV` works).
/// Without an answer the old filesystem stays.
fn confirm_overwrite(args: &Args) -> bool {
    let Some(fs) = mkfs_rsfs::existing_filesystem_at(&args.device) else {
        return true;
    };
    // On standard output, as mke2fs asks it: a script that keeps only the
    // errors (fstests' `_scratch_mkfs >> $seqres.full`) sees none.
    print!(
        "{} contains an {} filesystem. Proceed anyway? (y,N) ",
        args.device.display(),
        fs
    );
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let stdin = std::io::stdin();
    if stdin.lock().read_line(&mut answer).is_err() {
        return false;
    }
    if !stdin.is_terminal() {
        println!("{}", answer.trim_end());
    }
    matches!(answer.trim_start().chars().next(), Some('y' | 'Y'))
}

fn main() {
    let args = Args::parse();
    let force = args.force || confirm_overwrite(&args);
    if !force {
        eprintln!(
            "mkfs.rsfs: {} left as it was (use -f to overwrite without asking)",
            args.device.display()
        );
        std::process::exit(1);
    }
    let opts = mkfs_rsfs::Options {
        label: args.label,
        inodes: args.inodes,
        force,
        quiet: args.quiet,
        blocks: args.blocks,
        journal_blocks: args.journal_blocks,
    };
    if let Err(e) = mkfs_rsfs::mkfs(&args.device, &opts) {
        eprintln!("mkfs.rsfs: {e:#}");
        std::process::exit(1);
    }
}
