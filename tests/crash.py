#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Power-cut tests, driven from the host.

Each scenario boots the VM on a fresh rsfs disk, runs a command in the
guest that makes some state durable and then prints a marker, and the host
kills QEMU the moment the marker appears: no unmount, no clean shutdown.
The disk is attached with cache=none, so what the guest flushed is on the
host file. A second boot mounts the disk and runs the scenario's check.
fsck.rsfs -n on the host, after the cut and after the check, finds
nothing: a file unlinked while open is on the orphan list, which the mount
releases (fsck says so in a line of its own, which the scenario expects).

    tests/crash.py --kernel BZIMAGE --root RSFS_ROOT

Then the randomized part: RSFS_CRASH_POINTS (default 50) power cuts at
points chosen from RSFS_CRASH_SEED (random if unset; printed, so that a run
can be repeated). Each boot first checks every write acknowledged before
all earlier cuts (tests/tools/crashtest.c verify), then runs a fresh
workload of durable writes, each made durable by a method chosen from the
seed (fsync, fdatasync, sync_file_range + fsync, msync + fsync, O_SYNC,
O_DSYNC), and is killed right after its k-th acknowledgement, k random.
Between boots fsck.rsfs -n must find nothing: the journal leaves no leak.

Prints one KTAP line per scenario and per crash point and, last, "# crash
totals: N passed, N failed".
"""

import argparse
import os
import random
import re
import subprocess
import sys

MARKER = "RSFS-CRASH-POINT"

# name, command before the power cut, check after it (both run in /mnt),
# and a line fsck -n must print after the cut (or None).
SCENARIOS = [
    (
        "namespace_after_sync",
        "mkdir -p a/b/c && touch a/f a/b/g && ln a/f a/hard && ln -s b/g a/soft"
        " && mkdir gone && rmdir gone && touch x && mv x a/b/c/y && sync",
        "test -d a/b/c && test -f a/f && test -f a/b/g && test -f a/b/c/y"
        " && test \"$(readlink a/soft)\" = b/g && test \"$(stat -c %h a/f)\" = 2"
        " && ! test -e gone && ! test -e x && test \"$(ls -a a | wc -l)\" = 6",
        None,
    ),
    (
        "unlinked_open_file_is_reclaimed",
        # The file is unlinked while a process holds it open; the cut comes
        # before the last close, so its inode is an orphan on disk.
        "touch keep && touch doomed && sync && (exec 3<doomed; rm doomed; sync; echo " + MARKER + "; sleep 100)",
        "test -f keep && ! test -e doomed",
        "orphan list: 1 inodes left for the next mount",
    ),
    (
        "label_is_committed",
        # The new label reaches the disk through the journal: the fsync of
        # another file commits it, and the cut comes before anything writes
        # the superblock in place.
        "crashtest label before && sync && crashtest label after-the-cut",
        "crashtest label | grep -qx 'label: after-the-cut'",
        None,
    ),
    (
        "whiteout_is_atomic",
        # RENAME_WHITEOUT, then an fsync of the directory: the file has
        # its new name and the old name holds a whiteout (char 0:0).
        "echo data > f && sync && crashtest whiteout f g",
        "test \"$(cat g)\" = data && test -c f && test \"$(stat -c %t:%T:%a f)\" = 0:0:0",
        None,
    ),
]


def ktap(n, name, why, comment=None):
    """Prints one KTAP result line; returns (passed, failed) for it."""
    if why:
        print(f"not ok {n} {name} # {why}")
    else:
        print(f"ok {n} {name}" + (f" # {comment}" if comment else ""))
    sys.stdout.flush()
    return (0, 1) if why else (1, 0)


def run_vm(args, image, cmd, kill_on=None, kill_after_acks=None):
    """Boots with `cmd` on `image`. QEMU is killed when a console line
    contains `kill_on`, or right after the `kill_after_acks`-th ACK line."""
    initrd = os.path.join(args.build, "initramfs-crash.cpio")
    subprocess.run([os.path.join(args.root, "qemu/mkinitramfs.sh"), initrd, "cmd", cmd], check=True)
    vm = [sys.executable, os.path.join(args.root, "qemu/vm.py"), "--kernel", args.kernel,
          "--initrd", initrd, "--disk", image, "--timeout", "300",
          "--log", os.path.join(args.build, "logs", "crash.log")]
    if kill_on:
        vm += ["--kill-on", kill_on]
    if kill_after_acks:
        vm += ["--kill-after", "ACK ", "--kill-count", str(kill_after_acks)]
    p = subprocess.run(vm, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


SPLAT = re.compile(r"rsfs: (\d+) kernel splat line")
# The console lines qemu/vm.py counts as splats (its SPLAT pattern).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu"))
from vm import SPLAT as VM_SPLAT  # noqa: E402


def splats(out):
    """Splat lines qemu/vm.py saw in a boot's console (it says so on stderr)."""
    m = SPLAT.search(out)
    return int(m.group(1)) if m else 0


def splat_report(args, out):
    """Why a boot with a splat failed: the count, and the console from the
    first splat line on (up to 40 lines, as KTAP diagnostics), so that the
    test's own output shows the splat. The console log is rewritten by each
    boot, so this reads it before the next one."""
    why = f"{splats(out)} kernel splat line(s) (console log: build/logs/crash.log)"
    try:
        with open(os.path.join(args.build, "logs", "crash.log"), errors="replace") as f:
            console = f.read().splitlines()
    except OSError as e:
        return f"{why}; the console log is unreadable: {e}"
    first = next((i for i, l in enumerate(console) if VM_SPLAT.search(l)), None)
    if first is None:
        return why
    shown = console[max(0, first - 3):first + 40]
    return why + "\n" + "\n".join("#   " + l for l in shown)


def fsck(args, image):
    """fsck.rsfs -n: its status, its problem lines, those that are not
    leaks, and all of its output."""
    p = subprocess.run([os.path.join(args.build, "bin", "fsck.rsfs"), "-n", image],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    problems = [l for l in p.stdout.splitlines() if l.startswith("fsck.rsfs:")]
    damage = [l for l in problems if "[leak," not in l]
    return p.returncode, problems, damage, p.stdout


def randomized(args, first):
    """The seeded crash points; returns (passed, failed)."""
    seed = int(os.environ.get("RSFS_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    points = int(os.environ.get("RSFS_CRASH_POINTS") or 50)
    rnd = random.Random(seed)
    print(f"# randomized crash points: {points}, seed {seed} (RSFS_CRASH_SEED={seed} repeats it)")
    image = os.path.join(args.build, "disks", "crash.img")
    if os.path.exists(image):
        os.remove(image)
    with open(image, "wb") as f:
        f.truncate(256 << 20)
    subprocess.run([os.path.join(args.build, "bin", "mkfs.rsfs"), "-q", image], check=True)
    acks = []  # every write acknowledged as durable so far
    passed = failed = 0
    for i in range(points + 1):
        last = i == points
        ops = rnd.randrange(3, 9)
        cut = rnd.randrange(1, ops + 1)
        verify = "crashtest verify <<'ACKS'\n" + "".join(a + "\n" for a in acks) + "ACKS\n"
        cmd = verify if last else f"{verify}crashtest run {rnd.randrange(1 << 48)} {ops}"
        marker = None
        if not last:
            # Kill on the cut-th acknowledgement of this boot.
            marker = cut
        rc, out = run_vm(args, image, cmd, kill_after_acks=marker)
        args.splats += splats(out)
        verified = re.search(r"crashtest: verified (\d+) acknowledged writes, (\d+) bad", out)
        new = [l.strip() for l in out.splitlines() if l.startswith("ACK ")]
        why = None
        if splats(out):
            why = f"boot {i}: " + splat_report(args, out)
        elif not verified or verified.group(2) != "0":
            bad = [l for l in out.splitlines() if l.startswith("crashtest:")][:3]
            why = f"acknowledged data lost or unreadable after cut {i}: {bad}"
        elif not last and len(new) < cut:
            why = f"the workload stopped before its {cut}th acknowledgement (status {rc}): " + \
                " | ".join(out.splitlines()[-5:])
        if why is None and not last:
            acks += new
            _, problems, damage, _ = fsck(args, image)
            if damage:
                why = f"fsck after the cut found damage: {damage[0]}"
            elif problems:
                why = f"fsck after the cut found a leak: {problems[0]}"
        name = f"crash_point_{i}" if not last else "crash_final_verify"
        p, f = ktap(first + i, name, why and f"seed {seed}: {why}",
                    f"{len(acks)} writes acknowledged so far")
        passed += p
        failed += f
        if why:
            break
    return passed, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--root", required=True)
    args = ap.parse_args()
    args.build = os.path.join(args.root, "build")
    args.splats = 0
    image = os.path.join(args.build, "disks", "crash.img")
    passed = failed = 0
    print(f"# crash tests: {len(SCENARIOS)} scenarios")
    for i, (name, before, after, expect) in enumerate(SCENARIOS, 1):
        if os.path.exists(image):
            os.remove(image)
        with open(image, "wb") as f:
            f.truncate(64 << 20)
        subprocess.run([os.path.join(args.build, "bin", "mkfs.rsfs"), "-q", image], check=True)
        why = None
        if MARKER not in before:
            before = f"{before} && echo {MARKER} && sleep 100"
        rc, out = run_vm(args, image, before, kill_on=MARKER)
        args.splats += splats(out)
        if splats(out):
            why = "the run before the cut: " + splat_report(args, out)
        elif rc != 0 or MARKER not in out:
            why = f"the run before the cut failed (status {rc})"
        else:
            # A crash leaves nothing for fsck to repair.
            rc_f, problems, damage, said = fsck(args, image)
            if damage:
                why = f"fsck after the cut found damage: {damage[0]}"
            elif problems:
                why = f"fsck after the cut found a leak: {problems[0]}"
            elif expect and expect not in said:
                why = f"fsck after the cut did not say: {expect}"
            else:
                rc, out = run_vm(args, image, after)
                args.splats += splats(out)
                if splats(out):
                    why = "the check after the cut: " + splat_report(args, out)
                elif rc != 0:
                    tail = "\n".join("#   " + l for l in out.splitlines()[-15:])
                    why = f"the check after the cut failed (status {rc})\n{tail}"
                else:
                    rc_f, problems, _, _ = fsck(args, image)
                    if rc_f != 0:
                        why = f"fsck after the check is not clean: {problems[:1]}"
        p, f = ktap(i, f"crash_{name}", why)
        passed += p
        failed += f
    p, f = randomized(args, len(SCENARIOS) + 1)
    passed += p
    failed += f
    # Each randomized point is one power cut, and each scenario one more.
    print(f"# report: crash power-cuts={len(SCENARIOS) + p + f - 1} splats={args.splats}")
    print(f"# crash totals: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
