#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot the rsfs test VM and judge what it prints.

    qemu/vm.py --kernel BZIMAGE --initrd CPIO --disk IMG [--disk IMG ...]
               [--timeout SECONDS] [--interactive] [--ktap] [--log FILE]
               [--share TAG=PATH[,ro] ...]

The guest's init (qemu/init) prints "rsfs-vm-exit-status: N" when it is
done; that N becomes this program's exit status. Any kernel splat on the
console (BUG, WARNING, Oops, KASAN, lockdep, kmemleak, hung task, RCU stall)
makes the run fail even if the guest said 0, and a guest that does not finish
within the timeout is killed and reported as hung.

With --ktap, the console carries the KTAP suite of tests/run.sh; this
program adds one last test, kernel_log_clean, and prints the totals as the
final line: "# ktap totals: N passed, N failed" (", N skipped" when some
were), which scripts/rsfs.sh adds up with the other stages.

With --kill-on TEXT, QEMU is killed the moment a console line contains TEXT:
the power cut of the crash tests (tests/crash.py).
"""

import argparse
import os
import re
import select
import subprocess
import sys
import time

SPLAT = re.compile(
    r"BUG:|WARNING:|\bOops\b|general protection fault|Kernel panic|kernel BUG"
    r"|UBSAN:|unreferenced object|new suspected memory leaks"
    r"|blocked for more than \d+ seconds|detected stalls?\b|self-detected stall"
    r"|panicked at|cut here"
)
EXIT = re.compile(r"rsfs-vm-exit-status: (\d+)")
TOTALS = re.compile(r"# rsfs-totals: pass=(\d+) fail=(\d+) skip=(\d+) tests=(\d+)")

CACHE = os.environ.get("RSFS_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rsfs"
)


def qemu_base(args, accel):
    cmd = [
        "qemu-system-x86_64",
        "-m", args.mem,
        "-smp", "2",
        "-kernel", args.kernel,
        "-initrd", args.initrd,
        "-no-reboot",
    ]
    if accel == "kvm":
        cmd += ["-accel", "kvm", "-cpu", "host"]
    else:
        cmd += ["-accel", "tcg,thread=multi", "-cpu", "max"]
    for i, disk in enumerate(args.disk):
        # cache=none: guest flushes reach the host disk, so a crash test's
        # "durable" means durable. (--disk-cache unsafe: for a VM whose
        # disks need not outlive it.)
        # discard=unmap: a discard (FITRIM) becomes a hole in the file, which
        # reads back as zeroes.
        cmd += ["-drive", f"file={disk},if=virtio,format=raw,cache={args.disk_cache},aio=threads,"
                f"discard=unmap,index={i}"]
    if args.slow_disk:
        # Writes limited to 1 MiB/s: folios stay under writeback long
        # enough for the tests to catch them there.
        cmd += ["-drive", f"file={args.slow_disk},if=virtio,format=raw,cache=none,aio=threads,"
                f"index={len(args.disk)},throttling.bps-write=1048576"]
    for i, spec in enumerate(args.extra_disk):
        # After the slow disk, so that the first ones keep their names.
        # PATH or PATH,OPTIONS: more -drive options (throttling, say).
        disk, _, opts = spec.partition(",")
        cmd += ["-drive", f"file={disk},if=virtio,format=raw,cache=none,aio=threads,"
                f"index={len(args.disk) + 1 + i}" + (f",{opts}" if opts else "")]
    for spec in args.share:
        # TAG=PATH[,ro]: a host directory over virtio-9p (the fstests guest
        # boots on the host's root, read-only, and writes its results into
        # a writable share).
        tag, _, rest = spec.partition("=")
        path, _, flag = rest.partition(",")
        cmd += ["-virtfs", f"local,path={path},mount_tag={tag},security_model=none,multidevs=remap"
                + (",readonly=on" if flag == "ro" else "")]
    return cmd


def kvm_works(args):
    """Whether KVM boots a kernel here. On some hosts /dev/kvm exists but
    `-cpu host` dies ("failed to set MSR 0x10a") and other CPU models hang
    after "Booting from ROM", so the only honest test is to try. The answer
    is cached per machine in the rsfs cache."""
    forced = os.environ.get("RSFS_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced == "kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    stamp = os.path.join(CACHE, "accel")
    try:
        with open(stamp) as f:
            return f.read().strip() == "kvm"
    except OSError:
        pass
    cmd = qemu_base(args, "kvm") + [
        "-display", "none", "-serial", "stdio", "-monitor", "none",
        "-append", "console=ttyS0 rdinit=/rsfs-no-such-init panic=-1",
    ]
    ok = False
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        deadline = time.time() + 15
        buf = b""
        while time.time() < deadline and p.poll() is None:
            r, _, _ = select.select([p.stdout], [], [], 0.5)
            if r:
                buf += os.read(p.stdout.fileno(), 65536)
                if b"Linux version" in buf:
                    ok = True
                    break
        p.kill()
        p.wait()
    except OSError:
        ok = False
    os.makedirs(CACHE, exist_ok=True)
    with open(stamp, "w") as f:
        f.write("kvm\n" if ok else "tcg\n")
    if not ok:
        print("rsfs: KVM does not boot a kernel on this machine; using TCG", file=sys.stderr)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--disk", action="append", default=[])
    ap.add_argument("--slow-disk", default=None, help="one more disk, with throttled writes")
    ap.add_argument("--extra-disk", action="append", default=[],
                    help="PATH[,DRIVE-OPTIONS]: disks after the slow one (/dev/vdd on)")
    ap.add_argument("--share", action="append", default=[],
                    help="TAG=PATH[,ro]: a host directory over virtio-9p")
    ap.add_argument("--disk-cache", default="none", choices=["none", "unsafe"],
                    help="the host cache mode of the --disk disks; the guest sees a disk "
                    "with a volatile write cache either way, and unsafe only spares the host "
                    "its flushes (for disks nothing reads after the VM)")
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--kernel-args", default="", help="more kernel command-line arguments")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--interactive", action="store_true")
    ap.add_argument("--ktap", action="store_true")
    ap.add_argument("--log", default=None)
    ap.add_argument("--kill-on", default=None,
                    help="kill QEMU the moment a console line contains this text (a power cut)")
    ap.add_argument("--kill-after", default=None,
                    help="kill QEMU after --kill-count console lines starting with this text")
    ap.add_argument("--kill-count", type=int, default=1)
    args = ap.parse_args()

    accel = "kvm" if kvm_works(args) else "tcg"
    # loglevel=5 puts warnings (lockdep's among them) on the console.
    append = "console=ttyS0 loglevel=5 panic=-1 rdinit=/init"
    if args.kernel_args:
        append += " " + args.kernel_args

    if args.interactive:
        cmd = qemu_base(args, accel) + ["-nographic", "-append", append]
        sys.exit(subprocess.call(cmd))

    cmd = qemu_base(args, accel) + [
        "-display", "none", "-serial", "stdio", "-monitor", "none", "-append", append,
    ]
    log = open(args.log, "w", buffering=1) if args.log else None
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    deadline = time.time() + args.timeout
    status = None
    splats = []
    totals = None
    pending = b""
    hung = False
    killed = False
    while not killed:
        if time.time() > deadline:
            hung = True
            p.kill()
            break
        r, _, _ = select.select([p.stdout], [], [], 1.0)
        if not r:
            if p.poll() is not None:
                break
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            print(line, flush=True)
            if log:
                log.write(line + "\n")
            if SPLAT.search(line):
                splats.append(line)
            m = EXIT.search(line)
            if m:
                status = int(m.group(1))
            m = TOTALS.search(line)
            if m:
                totals = tuple(int(x) for x in m.groups())
            if args.kill_after and line.startswith(args.kill_after):
                args.kill_count -= 1
            if (args.kill_on and args.kill_on in line) or (args.kill_after and args.kill_count <= 0):
                # No unmount, no sync, no clean shutdown: pull the plug.
                p.kill()
                killed = True
                break
    p.wait()
    if log:
        log.close()

    problems = []
    if killed:
        status = 0
    if hung:
        problems.append(f"the guest did not finish within {args.timeout} s and was killed (hang)")
    elif status is None:
        problems.append("the guest stopped without reporting an exit status (crash or panic?)")
    if splats:
        problems.append(f"{len(splats)} kernel splat line(s) on the console, first: {splats[0].strip()}")

    if args.ktap:
        passed, failed, skipped, programs = totals if totals else (0, 1, 0, 0)
        if totals is None:
            problems.append("the guest printed no test totals")
        n = f"{programs + 1} kernel_log_clean"
        if splats or hung:
            print(f"not ok {n} # {problems[-1]}")
            failed += 1
        else:
            print(f"ok {n}")
            passed += 1

    for msg in problems:
        print(f"rsfs: {msg}" + (f" (console log: {args.log})" if args.log else ""), file=sys.stderr)

    rc = status if status is not None else 1
    if problems and rc == 0:
        rc = 1
    if args.ktap:
        print(f"# report: kernel-log splats={len(splats)} hangs={int(hung)}")
        line = f"{passed} passed, {failed} failed"
        if skipped:
            line += f", {skipped} skipped"
        print(f"# ktap totals: {line}")
        if failed and rc == 0:
            rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
