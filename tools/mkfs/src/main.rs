// SPDX-License-Identifier: GPL-2.0

//! `mkfs.rsfs [-L label] [-N inodes] [-f] DEVICE|IMAGE`

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
    /// Overwrite a device that already holds a filesystem.
    #[arg(short = 'f', long)]
    force: bool,
    /// Print nothing on success.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// The block device or image file to format.
    device: PathBuf,
}

fn main() {
    let args = Args::parse();
    let opts = mkfs_rsfs::Options {
        label: args.label,
        inodes: args.inodes,
        force: args.force,
        quiet: args.quiet,
    };
    if let Err(e) = mkfs_rsfs::mkfs(&args.device, &opts) {
        eprintln!("mkfs.rsfs: {e:#}");
        std::process::exit(1);
    }
}
