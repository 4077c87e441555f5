#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks the shape of src/kfs/ (part of `make check` and `make fmt`).

- No import cycles: each kfs module may use only modules below it. A
  module uses another when it names it (`super::inode::...`,
  `use super::{inode::InodeBox, ...}`) or names an item that
  src/kfs/mod.rs re-exports from it (`super::Inode`).
- No kfs file longer than MAX_LINES.

What it cannot see: a module that adds an impl block to a type of another
module (writeback.rs defines `Inode::mapping`), and a caller of what that
block defines, which names nothing of the defining module. Such blocks go
in the upper module, and nothing below it may use them.

Prints the modules from the top layer down, each with what it uses.
Exit status 1 on a cycle or a file that is too long.
"""

import argparse
import re
import sys
from pathlib import Path

MAX_LINES = 400


def strip_comments(text):
    return re.sub(r"//.*", "", text)


def reexports(mod_rs):
    """Item name -> the kfs module that mod.rs re-exports it from."""
    out = {}
    text = strip_comments(mod_rs.read_text())
    for module, names in re.findall(r"pub\(crate\) use ([a-z_]+)::\{?([^;]*?)\}?;", text, re.S):
        for name in re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", names):
            out[name] = module
    return out


def uses(path, modules, items):
    """The kfs modules that the file at `path` uses."""
    text = strip_comments(path.read_text())
    found = set()
    for name in re.findall(r"\b(?:super|crate::kfs)::([A-Za-z_][A-Za-z0-9_]*)", text):
        found.add(name)
    for group in re.findall(r"use (?:super|crate::kfs)::\{([^;]*)\};", text, re.S):
        found.update(re.findall(r"(?<![:\w])([A-Za-z_][A-Za-z0-9_]*)", group))
    mods = {n for n in found if n in modules}
    mods |= {items[n] for n in found if n in items}
    return mods


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=Path(__file__).resolve().parent.parent, type=Path)
    args = ap.parse_args()
    kfs = args.root / "src" / "kfs"
    items = reexports(kfs / "mod.rs")
    files = {p.stem: p for p in kfs.glob("*.rs") if p.name != "mod.rs"}
    modules = set(files)
    deps = {}
    for name, path in files.items():
        # A module's children (kfs/inode_ops/namespace.rs) count as part of it.
        paths = [path] + sorted((kfs / name).glob("**/*.rs"))
        deps[name] = set().union(*(uses(p, modules, items) for p in paths)) - {name}

    failed = False
    for path in sorted(kfs.glob("**/*.rs")):
        n = len(path.read_text().splitlines())
        if n > MAX_LINES:
            print(f"kfs_layers: {path.relative_to(args.root)} has {n} lines (most: {MAX_LINES})")
            failed = True

    # Layers from the bottom up: a module goes on once all it uses is placed.
    placed, layers = set(), []
    while len(placed) < len(modules):
        layer = sorted(m for m in modules - placed if deps[m] <= placed)
        if not layer:
            rest = sorted(modules - placed)
            print("kfs_layers: import cycle among: " + ", ".join(rest))
            for m in rest:
                print(f"  {m} uses {', '.join(sorted(deps[m] - placed))}")
            failed = True
            break
        layers.append(layer)
        placed.update(layer)
    for i, layer in reversed(list(enumerate(layers))):
        for m in layer:
            print(f"  layer {i}: {m:14} uses {', '.join(sorted(deps[m])) or '-'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
