#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of `make check`: runs every test program in /tests/bin
# and prints one KTAP document, each program's own KTAP output nested as a
# subtest. The last line gives the totals of the individual test cases for
# the host runner (qemu/vm.py) to report.
set -o pipefail

# leaks last: its kmemleak scan covers everything the others did.
tests="$(ls /tests/bin | grep -vx leaks) leaks"
total=$(echo "$tests" | wc -w)
pass=0 fail=0 skip=0 i=0

echo "KTAP version 1"
# One more than the programs: the host runner (qemu/vm.py) adds the last
# test, kernel_log_clean, which fails on any kernel splat in the run.
echo "1..$((total + 1))"
# Indents a program's KTAP output as a subtest, and adds after each test
# case a line with the seconds it took (from /proc/uptime).
nest() {
	local line up start=0
	while IFS= read -r line || [ -n "$line" ]; do
		printf '  %s\n' "$line"
		case $line in
		"#  RUN "*)
			read -r up _ </proc/uptime
			start=${up%.*}
			;;
		"ok "* | "not ok "*)
			read -r up _ </proc/uptime
			echo "  # took $((${up%.*} - start)) s"
			;;
		esac
	done
}

for t in $tests; do
	i=$((i + 1))
	/tests/bin/"$t" 2>&1 | tee /tmp/ktap.out | nest
	rc=$?
	totals=$(grep '^# Totals:' /tmp/ktap.out)
	p=$(echo "$totals" | sed -n 's/.* pass:\([0-9]*\).*/\1/p')
	f=$(echo "$totals" | sed -n 's/.* fail:\([0-9]*\).*/\1/p')
	s=$(echo "$totals" | sed -n 's/.* skip:\([0-9]*\).*/\1/p')
	e=$(echo "$totals" | sed -n 's/.* error:\([0-9]*\).*/\1/p')
	if [ -z "$totals" ]; then
		# The program died before reporting: count it as one failure.
		p=0 f=1 s=0 e=0
	fi
	pass=$((pass + p)) fail=$((fail + f + e)) skip=$((skip + s))
	if [ "$rc" -eq 0 ] && [ -n "$totals" ]; then
		echo "ok $i $t"
	else
		echo "not ok $i $t # exit status $rc"
		[ "$f" -eq 0 ] && [ "$e" -eq 0 ] && fail=$((fail + 1))
	fi
done
echo "# rsfs-totals: pass=$pass fail=$fail skip=$skip tests=$i"
[ "$fail" -eq 0 ]
