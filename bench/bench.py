#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make bench`: rsfs side by side with ext2, ext4 without a journal, ext4
with its journal, and the raw device, in one VM on the release kernel, on
identical virtual disks.

    bench/bench.py --kernel BZIMAGE --root RSFS_ROOT [--reps 3]

Each row runs --reps times per filesystem (tests/tools/rsfsbench.c in the
guest); the table shows the median with the spread, and bench/results.json
holds the same numbers. ratio_vs_ext2 is how many times better than ext2
(value/ext2 where higher is better, ext2/value where lower is), so 1.0 or
more means at least as good; ratio_vs_raw likewise against the raw device
with O_DIRECT, for the sequential rows, and ratio_vs_tmpfs against tmpfs
(the page-cache copy alone, no disk) for the buffered rows.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

FILESYSTEMS = [
    # name, disk, mkfs command (None: rsfs's own), mount type
    ("rsfs", "vda", None, "rsfs"),
    ("ext2", "vdb", ["mkfs.ext2", "-q", "-F", "-b", "4096"], "ext2"),
    ("ext4-nojournal", "vdc", ["mkfs.ext4", "-q", "-F", "-O", "^has_journal"], "ext4"),
    ("ext4", "vdd", ["mkfs.ext4", "-q", "-F"], "ext4"),
]
RAW = ("raw", "vde")
# The page-cache bound for the buffered rows: no disk under it.
TMPFS = "tmpfs"

# row, metric, higher is better, files to remove after it
ROWS = [
    ("seq_write_fsync", "MiB/s", True, None),
    ("cold_seq_read", "MiB/s", True, "seq"),
    ("dio_seq_write_fsync", "MiB/s", True, "dio"),
    ("random_4k_overwrite_fsync", "MiB/s", True, "rand"),
    ("create_10k_files_sync", "files/s", True, "files"),
    ("fsync_append", None, False, "append"),
    ("mmap_write_msync", "MiB/s", True, "mapped"),
    ("sfr_stream", "MiB/s", True, "stream"),
]
METRICS = {
    "seq_write_fsync": ("MiB/s", True),
    "cold_seq_read": ("MiB/s", True),
    "dio_seq_write_fsync": ("MiB/s", True),
    "random_4k_overwrite_fsync": ("MiB/s", True),
    "create_10k_files_sync": ("files/s", True),
    "fsync_append_p50": ("ms", False),
    "fsync_append_p99": ("ms", False),
    "mmap_write_msync": ("MiB/s", True),
    "sfr_stream": ("MiB/s", True),
    "sfr_stream_dirty_kib": ("KiB dirty (max)", False),
}
SEQUENTIAL = {"seq_write_fsync", "cold_seq_read", "dio_seq_write_fsync"}
# Rows that tmpfs has no meaning for: its pages cannot be dropped, and it
# has no disk to write directly.
NOT_TMPFS = {"cold_seq_read", "dio_seq_write_fsync"}


def guest_script(reps):
    lines = ["set -e", "cd /"]
    # The clock the timings come from: a guest that booted without a
    # usable TSC stops at once (see main).
    lines.append("cs=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)")
    lines.append("echo CLOCKSOURCE $cs")
    lines.append('case "$cs" in *jiffies*) exit 0;; esac')
    for name, disk, _, fstype in FILESYSTEMS[1:]:
        lines += [f"mkdir -p /b/{name}", f"mount -t {fstype} /dev/{disk} /b/{name}"]
    lines += [f"mkdir -p /b/{TMPFS}", f"mount -t tmpfs -o size=1200m tmpfs /b/{TMPFS}"]
    # Under TCG, guest memory is host memory that the first use faults in:
    # the first row run (rsfs's seq_write_fsync) paid for it alone, at 60%
    # of its next two runs. A tmpfs file about as large as the page cache
    # that row fills touches it first, untimed.
    lines += [f"dd if=/dev/zero of=/b/{TMPFS}/warm bs=1M count=1100 2>/dev/null",
              f"rm -f /b/{TMPFS}/warm"]
    for rep in range(reps):
        for name, disk, _, _ in FILESYSTEMS:
            d = "/mnt" if name == "rsfs" else f"/b/{name}"
            for row, _, _, cleanup in ROWS:
                lines.append(f"rsfsbench {row} {name} {d} /dev/{disk}")
                if cleanup:
                    lines.append(f"rm -rf {d}/{cleanup}")
        for row, _, _, _ in ROWS:
            if row not in NOT_TMPFS:
                # Each file goes at once: tmpfs holds it in memory.
                lines.append(f"rsfsbench {row} {TMPFS} /b/{TMPFS} -")
                lines.append(f"rm -rf /b/{TMPFS}/*")
        for row in ("seq_write_fsync", "cold_seq_read", "dio_seq_write_fsync"):
            lines.append(f"rsfsbench {row} raw - /dev/{RAW[1]}")
    lines.append("echo CLOCKSOURCE $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    build = os.path.join(args.root, "build")
    disks = []
    for name, disk, mkfs, _ in FILESYSTEMS + [(RAW[0], RAW[1], [], None)]:
        img = os.path.join(build, "disks", f"bench-{name}.img")
        if os.path.exists(img):
            os.remove(img)
        with open(img, "wb") as f:
            f.truncate(3 << 30)
        if mkfs is None:
            subprocess.run([os.path.join(build, "bin", "mkfs.rsfs"), "-q", img], check=True)
        elif mkfs:
            subprocess.run(mkfs + [img], check=True)
        disks.append(img)
    initrd = os.path.join(build, "initramfs-bench.cpio")
    subprocess.run([os.path.join(args.root, "qemu/mkinitramfs.sh"), initrd, "cmd", guest_script(args.reps)],
                   check=True)
    vm = [sys.executable, os.path.join(args.root, "qemu/vm.py"), "--kernel", args.kernel,
          "--initrd", initrd, "--timeout", "5400", "--mem", "2G",
          # Under TCG the guest's check that its two vCPUs' TSCs agree can
          # mark the TSC unstable ("TSC found unstable after boot"), and
          # the kernel then falls back to jiffies, 4 ms a tick: fsync
          # latencies read 0 or 4 ms. QEMU's emulated TSC follows the
          # host's, which is synchronised.
          "--kernel-args", "tsc=reliable",
          "--log", os.path.join(build, "logs", "bench.log")]
    for d in disks:
        vm += ["--disk", d]
    print(f"rsfs bench: {len(FILESYSTEMS) + 2} targets x {len(METRICS)} rows x {args.reps} runs "
          f"(console log: {build}/logs/bench.log)", flush=True)
    # Under TCG the guest calibrates its TSC against the PIT at boot; on a
    # busy host that can fail, and the kernel (with no HPET or PM timer to
    # fall back on) then keeps time with jiffies, 4 ms a tick. Such a
    # guest stops at once, and the VM boots again.
    for attempt in range(1, 4):
        p = subprocess.run(vm, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first = re.search(r"^CLOCKSOURCE (\S+)", p.stdout, re.M)
        if not first or "jiffies" not in first.group(1):
            break
        print(f"rsfs bench: the guest booted with a {first.group(1)} clock (attempt {attempt}); "
              "booting again", flush=True)
    results = {}
    clocks = re.findall(r"^CLOCKSOURCE (\S+)", p.stdout, re.M)
    clock = " then ".join(dict.fromkeys(clocks)) or "unknown"
    if len(clocks) != 2 or any("jiffies" in c for c in clocks):
        print(f"rsfs bench: the guest's clock is {clock}, too coarse to time anything", file=sys.stderr)
        sys.exit(1)
    for line in p.stdout.splitlines():
        m = re.match(r"RESULT (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)", line)
        if m:
            row, fs, val, reqs, kib, cpu = m.groups()
            results.setdefault((row, fs), []).append(
                (float(val), None if reqs == "-" else int(reqs), None if kib == "-" else float(kib),
                 None if cpu == "-" else float(cpu)))
    if p.returncode != 0:
        print("\n".join(p.stdout.splitlines()[-30:]))
        print(f"rsfs bench: the VM run failed (status {p.returncode})", file=sys.stderr)
        sys.exit(1)

    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    kernel = subprocess.run(["file", "-b", args.kernel], stdout=subprocess.PIPE, text=True).stdout
    kv = re.search(r"version (\S+)", kernel)
    accel = open(os.path.join(os.path.expanduser("~/.cache/rsfs"), "accel")).read().strip() \
        if os.path.exists(os.path.expanduser("~/.cache/rsfs/accel")) else "tcg"
    rows = []
    for row, (metric, hib) in METRICS.items():
        base = results.get((row, "ext2"))
        raw = results.get((row, "raw"))
        tmpfs = results.get((row, TMPFS))
        for fs in [f[0] for f in FILESYSTEMS] + [TMPFS, "raw"]:
            r = results.get((row, fs))
            if not r:
                continue
            vals = [x[0] for x in r]
            m = statistics.median(vals)

            def ratio(other):
                if not other:
                    return None
                o = statistics.median([x[0] for x in other])
                if m == 0 or o == 0:
                    return None
                return round(m / o if hib else o / m, 3)
            rows.append({
                "row": row, "fs": fs, "metric": metric, "higher_is_better": hib,
                "median": round(m, 3), "min": round(min(vals), 3), "max": round(max(vals), 3),
                "ratio_vs_ext2": ratio(base),
                "ratio_vs_raw": ratio(raw) if row in SEQUENTIAL and fs != "raw" else None,
                "ratio_vs_tmpfs": ratio(tmpfs) if fs not in (TMPFS, "raw") else None,
                "write_requests": med([x[1] for x in r]),
                "avg_request_kib": med([x[2] for x in r]),
                "cpu_ms_per_mib": med([x[3] for x in r]),
            })
    out = {"kernel": kv.group(1) if kv else "unknown", "accel": accel, "clocksource": clock,
           "rows": rows}
    os.makedirs(os.path.join(args.root, "bench"), exist_ok=True)
    with open(os.path.join(args.root, "bench", "results.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nkernel {out['kernel']}, {accel}, clock {clock}, median of {args.reps} runs (min-max)\n")
    hdr = f"{'row':<28} {'fs':<15} {'median':>10} {'spread':>19} {'metric':<16} {'vs ext2':>7} {'vs raw':>6} {'vs tmpfs':>8} {'wr reqs':>8} {'avg KiB':>8} {'cpu ms/MiB':>10}"
    print(hdr)
    print("-" * len(hdr))
    def fmt(v, spec):
        return format(v, spec) if v is not None else "-"

    for r in rows:
        spread = f"{r['min']:.2f}-{r['max']:.2f}"
        print(f"{r['row']:<28} {r['fs']:<15} {r['median']:>10.2f} {spread:>19} {r['metric']:<16} "
              f"{fmt(r['ratio_vs_ext2'], '.2f'):>7} {fmt(r['ratio_vs_raw'], '.2f'):>6} "
              f"{fmt(r['ratio_vs_tmpfs'], '.2f'):>8} "
              f"{fmt(r['write_requests'], '.0f'):>8} {fmt(r['avg_request_kib'], '.0f'):>8} "
              f"{fmt(r['cpu_ms_per_mib'], '.1f'):>10}")


if __name__ == "__main__":
    main()
