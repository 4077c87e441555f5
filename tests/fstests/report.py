#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise an fstests run from its xunit reports.

    report.py RESULTS --fs rsfs [--fs ext2 ...] [--markdown OUT.md]
              [--exclude FILE] [--notes FILE] [--runtime SECONDS]
              [--command TEXT] [--ktap]

RESULTS holds one directory per filesystem (fstests' sections), each with
the result.xml that `check -R xunit` writes. Every test gets pass, fail or
notrun per filesystem.

--markdown writes docs/fstests.md: the totals first, then the tests where
the filesystems differ, then every test with fstests' own notrun reasons.
--ktap prints one KTAP line per test of the first filesystem and the line
"# fstests totals: N passed, N failed" that scripts/rsfs.sh adds up; a
test counts as passed only if it passed (notrun is a failure there, since
the smoke list names tests that must run).
"""

import argparse
import os
import sys
import xml.etree.ElementTree as ET


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


def markdown(args, results):
    fss = args.fs
    tests = sorted(set().union(*(r.keys() for r in results.values())),
                   key=lambda t: (t.split("/")[0], t))
    excluded, _ = read_reasons(args.exclude)
    notes, fragments = read_reasons(args.notes)
    out = []
    w = out.append
    w("# fstests results")
    w("")
    w("Written by `make fstests` (tests/fstests/report.py) from one run: the same")
    w("kernel, the same VM and identical disks for every filesystem.")
    w("Do not edit by hand; the prose lives in tests/fstests/notes.")
    w("")
    if args.command:
        w(f"Run: `{args.command}`")
        w("")
    if args.runtime:
        m, s = divmod(int(args.runtime), 60)
        w(f"Runtime under TCG (debug kernel: KASAN, lockdep, kmemleak): {m} min {s} s for all "
          f"{len(fss)} filesystems.")
        w("")
    w("| filesystem | tests | pass | fail | notrun |")
    w("|---|---|---|---|---|")
    for fs in fss:
        t = totals(results[fs])
        w(f"| {fs} | {len(results[fs])} | {t['pass']} | {t['fail']} | {t['notrun']} |")
    w("")
    first = fss[0]
    w(f"## Where {first} differs")
    w("")
    rows = [t for t in tests
            if len({(results[fs].get(t) or ("–",))[0] for fs in fss}) > 1]
    if rows:
        w("| test | " + " | ".join(fss) + " | why |")
        w("|---|" + "---|" * len(fss) + "---|")
        for t in rows:
            w(f"| {t} | " + " | ".join(cell(results[fs].get(t)) for fs in fss)
              + f" | {md(why(t, results[first].get(t), notes, fragments))} |")
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
        w(f"| {t} | " + " | ".join(cell(results[fs].get(t)) for fs in fss) + " |")
    w("")
    with open(args.markdown, "w") as f:
        f.write("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--fs", action="append", required=True)
    ap.add_argument("--markdown")
    ap.add_argument("--exclude")
    ap.add_argument("--notes")
    ap.add_argument("--runtime", type=int)
    ap.add_argument("--command")
    ap.add_argument("--ktap", action="store_true")
    ap.add_argument("--expect", default="",
                    help="with --ktap: the tests that must have a result (a missing one fails)")
    args = ap.parse_args()

    results = {}
    for fs in args.fs:
        path = os.path.join(args.results, fs, "result.xml")
        if not os.path.exists(path):
            print(f"fstests: no report for {fs} ({path})", file=sys.stderr)
            results[fs] = {}
            continue
        results[fs] = load(path)

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

    if args.markdown:
        markdown(args, results)

    if args.ktap:
        passed = failed = 0
        for t in args.expect.split():
            # A test the run never reached (a hang, a crash) fails too.
            first.setdefault(t, ("fail", "no result: the run ended before it", 0))
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
