// SPDX-License-Identifier: GPL-2.0

//! `rsfs-fuzz --input SEED.img --output OUT.img --seed S --index I [--class NAME]`
//!
//! Writes a damaged copy of a sound rsfs image and prints one line saying
//! what was damaged. `rsfs-fuzz --list-classes` lists the classes.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use rsfs_fuzz::{damage, Class};

/// Write a damaged copy of an rsfs image.
#[derive(Parser, Debug)]
#[command(name = "rsfs-fuzz", version)]
struct Args {
    /// List the damage classes and their variants, and exit.
    #[arg(long)]
    list_classes: bool,
    /// The sound image to start from.
    #[arg(long, required_unless_present = "list_classes")]
    input: Option<PathBuf>,
    /// Where to write the damaged copy.
    #[arg(long, required_unless_present = "list_classes")]
    output: Option<PathBuf>,
    /// The run's seed.
    #[arg(long, required_unless_present = "list_classes")]
    seed: Option<u64>,
    /// The image's index in the run; picks the class round-robin.
    #[arg(long, required_unless_present = "list_classes")]
    index: Option<u64>,
    /// Force this class instead of the round-robin choice.
    #[arg(long)]
    class: Option<Class>,
}

fn run(args: Args) -> Result<()> {
    if args.list_classes {
        for c in Class::ALL {
            println!("{:<18} {}", c.name(), c.description());
            println!("{:<18}   variants: {}", "", c.variants().join(", "));
        }
        return Ok(());
    }
    let (Some(input), Some(output), Some(seed), Some(index)) =
        (args.input, args.output, args.seed, args.index)
    else {
        unreachable!("clap requires these without --list-classes");
    };
    let mut img =
        std::fs::read(&input).with_context(|| format!("cannot read {}", input.display()))?;
    let outcome = damage(&mut img, seed, index, args.class)
        .with_context(|| format!("{}: not a sound rsfs image", input.display()))?;
    std::fs::write(&output, &img).with_context(|| format!("cannot write {}", output.display()))?;
    println!("{outcome}");
    Ok(())
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("rsfs-fuzz: {e:#}");
        std::process::exit(1);
    }
}
