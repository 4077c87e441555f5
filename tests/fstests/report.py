#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise fstests runs from their xunit reports.

    report.py RESULTS... --fs rsfs [--fs ext2 ...] [--expect TESTS]
              [--record FILE --meta KEY=VALUE...]
              [--markdown OUT.md [--records DIR --group-list FILE]
               [--exclude FILE] [--notes FILE] [--command TEXT]]
              [--ktap]

Each RESULTS directory holds one directory per filesystem (fstests'
sections), each with the result.xml that `check -R xunit` writes; a run
split over several VMs has one RESULTS directory per VM. Every test gets
pass, fail or notrun per filesystem. A test named by --expect that has no
result on a filesystem (the VM hung or crashed before it) is a failure.

--record writes this run's results as a small tab-separated file with the
--meta lines on top: `make fstests` keeps one such file per shard of a
group in tests/fstests/results/GROUP/, so that a group too long for one
sitting is run a shard at a time and summed up afterwards.

--markdown writes docs/fstests.md: the totals first, then the tests where
the filesystems differ, then every test with fstests' own notrun reasons.
With --records it is made from every record in DIR (the newest result of
each test wins) and --group-list names the tests the group has, so that
the page says how many have not run yet; without, from RESULTS alone.

--ktap prints one KTAP line per test of the first filesystem and the line
"# fstests totals: N passed, N failed" that scripts/rsfs.sh adds up; a
test counts as passed only if it passed (notrun is a failure there, since
the smoke list names tests that must run).
"""

import argparse
import functools
import glob
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

NO_RESULT = "no result: the run ended before it"


def load(path):
    """{test: (status, detail, seconds)} from one result.xml."""
    tree = ET.parse(path)
    out = {}
    for case in tree.getroot().iter("testcase"):
        name = case.get("name")
        secs = int(case.get("time") or 0)
        skipped = case.find("skipped")
        failure = case.find("failure")
        if failure is not None:
            out[name] = ("fail", failure.get("message") or "", secs)
        elif skipped is not None:
            out[name] = ("notrun", (skipped.get("message") or "").strip(), secs)
        else:
            out[name] = ("pass", "", secs)
    return out


def kernel_of(path):
    """The KERNEL property (uname -r of the guest) of one result.xml."""
    for prop in ET.parse(path).getroot().iter("property"):
        if prop.get("name") == "KERNEL":
            return prop.get("value")
    return None


def read_reasons(path):
    """`test  # reason` lines (the exclude list) or `test  text` lines
    (the notes), and the notes' `notrun: FRAGMENT | text` lines, which
    explain every notrun whose reason contains FRAGMENT. Returns the two
    dictionaries."""
    reasons, fragments = {}, {}
    if not path or not os.path.exists(path):
        return reasons, fragments
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("notrun:"):
                frag, _, text = line[len("notrun:"):].partition("|")
                fragments[frag.strip()] = text.strip()
                continue
            test, _, rest = line.partition(" ")
            reasons[test] = rest.strip().lstrip("#").strip()
    return reasons, fragments


def why(test, entry, notes, fragments):
    """Our explanation of a result, if we have one."""
    if test in notes:
        return notes[test]
    if entry and entry[0] == "notrun":
        for frag, text in fragments.items():
            if frag in entry[1]:
                return text
    return ""


def totals(res):
    t = {"pass": 0, "fail": 0, "notrun": 0}
    for status, _, _ in res.values():
        t[status] += 1
    return t


def cell(entry):
    if entry is None:
        return "–"
    status, detail, _ = entry
    if status == "notrun" and detail:
        return f"notrun: {md(detail)}"
    return status


def md(text):
    return text.replace("|", "\\|").replace("\n", " ")


def oneline(text):
    return " ".join(text.split())


def test_key(t):
    return (t.split("/")[0], t)


# Records: `# key: value` lines, then `test<TAB>fs<TAB>status<TAB>seconds<TAB>detail`.

def write_record(path, results, meta):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("# fstests results of one run (scripts/fstests.sh; tests/fstests/report.py)\n")
        for kv in meta:
            key, _, value = kv.partition("=")
            f.write(f"# {key}: {value}\n")
        for fs, res in results.items():
            for t in sorted(res, key=test_key):
                status, detail, secs = res[t]
                f.write(f"{t}\t{fs}\t{status}\t{secs}\t{oneline(detail)}\n")


def read_record(path):
    meta, results = {}, {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# ") and ": " in line:
                key, _, value = line[2:].partition(": ")
                meta[key] = value
            elif line and not line.startswith("#"):
                t, fs, status, secs, detail = line.split("\t", 4)
                results.setdefault(fs, {})[t] = (status, detail, int(secs))
    return meta, results


def markdown(args, results, runs, group_tests):
    """docs/fstests.md from RESULTS ({fs: {test: entry}}); RUNS are the
    records' headers, GROUP_TESTS the tests the group has (or None)."""
    fss = args.fs
    tests = sorted(set().union(*(r.keys() for r in results.values())), key=test_key)
    excluded, _ = read_reasons(args.exclude)
    notes, fragments = read_reasons(args.notes)
    out = []
    w = out.append
    w("# fstests results")
    w("")
    w("Written by `make fstests` (tests/fstests/report.py). Every test ran on")
    w("every filesystem in one VM, one after the other: the same kernel (the debug")
    w("kernel: KASAN, lockdep, kmemleak) and identical fresh disks.")
    w("Do not edit by hand; the prose lives in tests/fstests/notes.")
    w("")
    if args.command:
        w(f"Run: `{args.command}`")
        w("")
    if group_tests is not None:
        everywhere = [t for t in group_tests if all(t in results.get(fs, {}) for fs in fss)]
        partly = [t for t in group_tests if t in tests and t not in everywhere]
        missing = [t for t in group_tests if t not in tests]
        w(f"The group has {len(group_tests)} generic tests; {len(everywhere)} have run on every "
          f"filesystem, {len(partly)} on some of them, {len(missing)} not yet "
          f"(the group is run a shard at a time, "
          f"`FSTESTS_SHARD=K/N`; each shard's results are kept in "
          f"`{os.path.relpath(args.records, args.root) if args.root else args.records}`).")
        w("")
    if runs:
        w("| run | date | rsfs commit | kernel | tests | VMs | runtime under TCG | note |")
        w("|---|---|---|---|---|---|---|---|")
        total = 0
        for name, meta in runs:
            secs = int(meta.get("runtime", "0") or 0)
            total += secs
            w(f"| {name} | {meta.get('date', '')} | {meta.get('rsfs', '')} | "
              f"{meta.get('kernel', '')} | {meta.get('tests', '')} | {meta.get('vms', '')} | "
              f"{secs // 60} min {secs % 60} s | {md(meta.get('stopped', '').strip().rstrip(';'))} |")
        w("")
        w(f"Runtime in all: {total // 3600} h {total % 3600 // 60} min of wall-clock time "
          f"for {len(fss)} filesystems.")
        w("")
    w("| filesystem | tests | pass | fail | notrun |")
    w("|---|---|---|---|---|")
    for fs in fss:
        t = totals(results.get(fs, {}))
        w(f"| {fs} | {len(results.get(fs, {}))} | {t['pass']} | {t['fail']} | {t['notrun']} |")
    w("")
    first = fss[0]
    w(f"## Where {first} differs")
    w("")
    # Differences among the filesystems that have a result for the test.
    rows = [t for t in tests
            if len({results[fs][t][0] for fs in fss if t in results.get(fs, {})}) > 1]
    if rows:
        w("| test | " + " | ".join(fss) + " | why |")
        w("|---|" + "---|" * len(fss) + "---|")
        for t in rows:
            w(f"| {t} | " + " | ".join(cell(results.get(fs, {}).get(t)) for fs in fss)
              + f" | {md(why(t, results.get(first, {}).get(t), notes, fragments))} |")
    else:
        w("Nowhere: every test has the same result on every filesystem.")
    w("")
    if excluded:
        w("## Excluded tests")
        w("")
        w("Not run on any filesystem (tests/fstests/exclude), each for a feature rsfs")
        w("does not have:")
        w("")
        for t, reason in sorted(excluded.items()):
            w(f"- {t}: {md(reason)}")
        w("")
    w("## Every test")
    w("")
    w("| test | " + " | ".join(fss) + " |")
    w("|---|" + "---|" * len(fss))
    for t in tests:
        w(f"| {t} | " + " | ".join(cell(results.get(fs, {}).get(t)) for fs in fss) + " |")
    w("")
    with open(args.markdown, "w") as f:
        f.write("\n".join(out))


def commit_order(root, a, b):
    """-1 if rsfs commit A came before B (an ancestor of it, in the git
    repository at ROOT), 1 if after, 0 if neither is known to be."""
    if not root or not a or not b or a == b:
        return 0
    for x, y, answer in ((a, b, -1), (b, a, 1)):
        r = subprocess.run(["git", "-C", root, "merge-base", "--is-ancestor", x, y],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return answer
    return 0


def from_records(directory, root=None):
    """Every record in DIRECTORY, oldest first, merged: the newest result
    of a test on a filesystem wins. Records of one day are ordered by their
    rsfs commits (an earlier commit's record is older), then by name.
    Returns (results, runs)."""
    records = []
    for path in glob.glob(os.path.join(directory, "*.tsv")):
        meta, res = read_record(path)
        records.append((meta.get("date", ""), os.path.basename(path)[:-4], meta, res))

    def older(x, y):
        if x[0] != y[0]:
            return -1 if x[0] < y[0] else 1
        by_commit = commit_order(root, x[2].get("rsfs", ""), y[2].get("rsfs", ""))
        if by_commit:
            return by_commit
        return (x[1] > y[1]) - (x[1] < y[1])

    records.sort(key=functools.cmp_to_key(older))
    merged = {}
    for _, _, _, res in records:
        for fs, tests in res.items():
            merged.setdefault(fs, {}).update(tests)
    runs = sorted(((name, meta) for _, name, meta, _ in records), key=lambda r: r[0])
    return merged, runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+")
    ap.add_argument("--fs", action="append", required=True)
    ap.add_argument("--expect", default="",
                    help="the tests that must have a result (a missing one fails)")
    ap.add_argument("--record")
    ap.add_argument("--meta", action="append", default=[])
    ap.add_argument("--markdown")
    ap.add_argument("--records")
    ap.add_argument("--group-list")
    ap.add_argument("--exclude")
    ap.add_argument("--notes")
    ap.add_argument("--command")
    ap.add_argument("--root", help="paths on the page are shown relative to this")
    ap.add_argument("--ktap", action="store_true")
    args = ap.parse_args()

    results = {fs: {} for fs in args.fs}
    kernels = set()
    for directory in args.results:
        for fs in args.fs:
            path = os.path.join(directory, fs, "result.xml")
            if not os.path.exists(path):
                print(f"fstests: no report for {fs} ({path})", file=sys.stderr)
                continue
            results[fs].update(load(path))
            kernels.add(kernel_of(path))
    for fs in args.fs:
        for t in args.expect.split():
            # A test the run never reached (a hang, a crash) fails too.
            results[fs].setdefault(t, ("fail", NO_RESULT, 0))

    for fs in args.fs:
        t = totals(results[fs])
        print(f"# fstests {fs}: {len(results[fs])} tests, {t['pass']} pass, {t['fail']} fail, "
              f"{t['notrun']} notrun")
    first = results[args.fs[0]]
    for fs in args.fs[1:]:
        worse = sorted(t for t, r in first.items()
                       if r[0] == "fail" and results[fs].get(t, ("",))[0] == "pass")
        if worse:
            print(f"# fstests: {args.fs[0]} fails where {fs} passes: {' '.join(worse)}")

    if args.record:
        meta = list(args.meta)
        kernels.discard(None)
        if kernels:
            meta.append("uname=" + " ".join(sorted(kernels)))
        write_record(args.record, results, meta)

    if args.markdown:
        runs, group_tests = [], None
        if args.records:
            results, runs = from_records(args.records, args.root)
        if args.group_list:
            with open(args.group_list) as f:
                group_tests = f.read().split()
        markdown(args, results, runs, group_tests)

    if args.ktap:
        passed = failed = 0
        for i, (t, (status, detail, secs)) in enumerate(sorted(first.items()), 1):
            if status == "pass":
                passed += 1
                print(f"ok {i} {t} # {secs} s")
            else:
                failed += 1
                print(f"not ok {i} {t} # {status}{': ' + detail if detail else ''}")
        if not first:
            failed += 1
            print("not ok 1 fstests # no results")
        print(f"# fstests totals: {passed} passed, {failed} failed")
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
