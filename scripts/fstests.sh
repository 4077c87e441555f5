#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# fstests (xfstests) on rsfs and, in the same VM, on ext2 and ext4.
#   scripts/fstests.sh run KDIR     `make fstests`: writes docs/fstests.md
#   scripts/fstests.sh smoke KDIR   the `make check` stage (tests/fstests/smoke)
#   scripts/fstests.sh tree         fetch and build fstests; print where
# rsfs.ko, the tools and the kernel in KDIR must be built (scripts/rsfs.sh
# does that first).
#
# Settings:
#   FSTESTS_SRC    a directory or tarball of fstests; by default the pinned
#                  commit is cloned from the official repository
#   FSTESTS_GROUP  the group to run (default: quick); `auto` works too.
#                  Its generic tests run: tests/ext4 and the like do not
#                  apply to rsfs and would not compare.
#   FSTESTS_SHARD  K/N: run only every Nth test of the group, from the Kth
#                  on. A group takes many hours under TCG, so it can be run
#                  a shard at a time; each shard's results are kept in
#                  tests/fstests/results/GROUP/K-of-N.tsv, and
#                  docs/fstests.md sums up all that are there.
#   FSTESTS_JOBS   VMs to run at once, each on its share of the tests and
#                  with its own disks (default: one per CPU)
#   FSTESTS_TESTS  test names instead of a group ("generic/001 generic/002");
#                  the summary then goes to build/fstests/summary.md
#   FSTESTS_RECORD NAME: with FSTESTS_TESTS, keep the results as a record,
#                  tests/fstests/results/GROUP/NAME.tsv, and write
#                  docs/fstests.md (a rerun of some of the group's tests
#                  after a change; the newest result of a test wins)
#   FSTESTS_FS     the filesystems, in order (default: "rsfs ext2 ext4")
#   FSTESTS_DEADLINE  seconds: stop the run then, keeping every result so
#                  far (a shard that does not fit in the time there is);
#                  the record says which tests were cut short
#   TIMEOUT        seconds before a VM counts as hung
#
# The guest boots on the host's root over virtio-9p, read-only, under a
# tmpfs overlay (qemu/init, tests/fstests/guest.sh): fstests needs bash,
# perl, xfs_io and the rest of a distribution, and bootstrap.sh installs
# those on the host from Debian. The results (xunit, .full, .out.bad) land
# in build/fstests/NAME/.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

FSTESTS_URL=https://git.kernel.org/pub/scm/fs/xfs/xfstests-dev.git
FSTESTS_COMMIT=63a29724a85f # 2026-01-01
FSTESTS_DIR=$RSFS_ROOT/tests/fstests
BUILD=$RSFS_ROOT/build

# Fetches, patches and builds fstests once per source and set of patches,
# in the rsfs cache, and prints the tree.
fstests_tree() {
	local src=${FSTESTS_SRC:-} name patches tree p
	patches=$(cat "$FSTESTS_DIR"/*.patch | sha256sum | cut -c1-8)
	if [ -z "$src" ]; then
		name=xfstests-${FSTESTS_COMMIT:0:8}
	elif [ -d "$src" ]; then
		name=$(basename "$(realpath "$src")")-$(realpath "$src" | sha256sum | cut -c1-8)
	elif [ -f "$src" ]; then
		name=$(basename "$src")
		name=${name%.tar*}
	else
		die "FSTESTS_SRC=$src is neither a directory nor a tarball of fstests"
	fi
	tree=$RSFS_CACHE/fstests/$name-$patches
	if [ -e "$tree/.rsfs-built" ]; then
		echo "$tree"
		return
	fi
	rm -rf "$tree"
	mkdir -p "$tree"
	if [ -z "$src" ]; then
		echo "rsfs: cloning fstests $FSTESTS_COMMIT from $FSTESTS_URL" >&2
		if ! git clone -q "$FSTESTS_URL" "$tree" || ! git -C "$tree" checkout -q "$FSTESTS_COMMIT"; then
			rm -rf "$tree"
			die "cannot clone fstests from $FSTESTS_URL. Set FSTESTS_SRC to a directory or tarball of fstests at commit $FSTESTS_COMMIT, for example: FSTESTS_SRC=/path/to/xfstests-63a29724.tar.xz make fstests"
		fi
	elif [ -d "$src" ]; then
		cp -a "$src/." "$tree/"
	else
		tar -C "$tree" --strip-components=1 -xf "$src" || die "cannot unpack FSTESTS_SRC=$src"
	fi
	# Our own changes to fstests: few, and each says why.
	for p in "$FSTESTS_DIR"/*.patch; do
		patch -d "$tree" -p1 -s --no-backup-if-mismatch <"$p" || die "$p does not apply to $src"
	done
	echo "rsfs: building fstests in $tree (a few minutes; log: $tree/build.log)" >&2
	make -C "$tree" -j"$(nproc)" >"$tree/build.log" 2>&1 || fail_with_log "fstests build" "$tree/build.log"
	touch "$tree/.rsfs-built"
	echo "$tree"
}

# fstests_vm KDIR NAME "FS..." "ARGS" TIMEOUT DISK-SIZE MEMORY: one VM, one
# fstests run of every FS in turn on the same two fresh disks; results in
# build/fstests/NAME. fstests has kmemleak scan the guest's memory twice
# after every test, so the smaller the guest, the shorter the run. VMs of
# different NAMEs can run at once.
fstests_vm() {
	local kd=$1 name=$2 fs=$3 args=$4 timeout=$5 size=$6 mem=$7 tree out test scratch
	# (Callers test this function's status, which turns `set -e` off
	# inside it: each failure must return by hand.)
	tree=$(fstests_tree) || return 1
	out=$BUILD/fstests/$name
	rm -rf "$out"
	mkdir -p "$out" "$BUILD/disks" "$BUILD/logs"
	# TEST_DEV and SCRATCH_DEV: sparse, fresh, the same for every FS.
	test=$BUILD/disks/fstests-$name-test.img
	scratch=$BUILD/disks/fstests-$name-scratch.img
	rm -f "$test" "$scratch"
	truncate -s "$size" "$test" "$scratch"
	export RSFS_ROOT RSFS_FSTESTS_GUEST=$FSTESTS_DIR/guest.sh RSFS_FSTESTS_DIR=$tree
	export RSFS_FSTESTS_FS=$fs RSFS_FSTESTS_ARGS=$args RSFS_FSTESTS_EXCLUDE=$FSTESTS_DIR/exclude
	"$RSFS_ROOT/qemu/mkinitramfs.sh" "$BUILD/initramfs-fstests-$name.cpio" fstests || return 1
	# The disks are made for this VM and read by nothing after it, so the
	# host does not flush them (the guest's flushes still order its writes
	# as on any disk with a volatile cache; fstests' power-cut tests
	# replay dm-log-writes or use dm-flakey, inside the guest).
	python3 "$RSFS_ROOT/qemu/vm.py" --kernel "$kd/arch/x86/boot/bzImage" \
		--initrd "$BUILD/initramfs-fstests-$name.cpio" --mem "$mem" \
		--disk "$test" --disk "$scratch" --disk-cache unsafe \
		--share "hostroot=/,ro" --share "results=$out" \
		--timeout "$timeout" --log "$BUILD/logs/fstests-$name.log"
}

# The generic tests of group $1, one per line, from the built tree.
group_tests() {
	local tree
	tree=$(fstests_tree) || return 1
	awk -v g="$1" '!/^#/ { for (i = 2; i <= NF; i++) if ($i == g) { print "generic/" $1; break } }' \
		"$tree/tests/generic/group.list"
}

# every N K WORD...: every Nth word from the Kth on (K counts from 1), one
# per line: a shard of a group, and a VM's share of a shard.
every() {
	local n=$1 k=$2 i=0 w
	shift 2
	for w in "$@"; do
		if [ $((i % n)) -eq $((k - 1)) ]; then echo "$w"; fi
		i=$((i + 1))
	done
}

cmd=${1:-}
kd=${2:-}
[ -n "$kd" ] || [ "$cmd" = tree ] || die "usage: scripts/fstests.sh run|smoke KDIR, or tree"
case $cmd in
tree)
	fstests_tree
	;;
run)
	fs=${FSTESTS_FS:-rsfs ext2 ext4}
	group=${FSTESTS_GROUP:-quick}
	shard=${FSTESTS_SHARD:-1/1}
	if ! [[ $shard =~ ^([0-9]+)/([0-9]+)$ ]] || [ "${BASH_REMATCH[1]}" -lt 1 ] ||
		[ "${BASH_REMATCH[1]}" -gt "${BASH_REMATCH[2]}" ]; then
		die "FSTESTS_SHARD=$shard: give K/N with 1 <= K <= N, such as 2/6"
	fi
	k=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]}
	fstests_tree >/dev/null
	mkdir -p "$BUILD/fstests" "$BUILD/logs"
	mapfile -t members < <(group_tests "$group")
	printf '%s\n' "${members[@]}" >"$BUILD/fstests/group-$group.list"
	record=
	if [ -n "${FSTESTS_RECORD:-}" ]; then
		[[ $FSTESTS_RECORD =~ ^[A-Za-z0-9_-]+$ ]] || die "FSTESTS_RECORD=$FSTESTS_RECORD: give a name of letters, digits, - and _"
		[ -n "${FSTESTS_TESTS:-}" ] || die "FSTESTS_RECORD names a run of FSTESTS_TESTS; a shard's record is named K-of-N"
		record=$FSTESTS_DIR/results/$group/$FSTESTS_RECORD.tsv
	fi
	# What the record says the run covered.
	part_of="chosen tests of the group"
	if [ -n "${FSTESTS_TESTS:-}" ]; then
		read -ra all <<<"$FSTESTS_TESTS"
		what="FSTESTS_TESTS='$FSTESTS_TESTS'"
	else
		all=("${members[@]}")
		[ ${#all[@]} -gt 0 ] || die "fstests has no generic test in group '$group'"
		what="FSTESTS_GROUP=$group"
		record=$FSTESTS_DIR/results/$group/$k-of-$n.tsv
		part_of=$shard
	fi
	[ "$n" -eq 1 ] || what="$what FSTESTS_SHARD=$shard"
	mapfile -t tests < <(every "$n" "$k" "${all[@]}")
	vms=${FSTESTS_JOBS:-$(nproc)}
	[ "$vms" -le ${#tests[@]} ] || vms=${#tests[@]}
	[ "$vms" -ge 1 ] || die "no tests to run ($what)"
	echo "== fstests: ${#tests[@]} tests ($what) on $fs, in $vms VMs at once"
	echo "   (console logs: $BUILD/logs/fstests-run-V.log; fstests' own results: $BUILD/fstests/run-V)"
	start=$(date +%s)
	# The commit under test, taken now: the tree may move on during a
	# run of hours.
	rev=$(git -C "$RSFS_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	git -C "$RSFS_ROOT" diff --quiet HEAD -- src tools 2>/dev/null || rev="$rev+changes"
	rm -rf "$BUILD"/fstests/run-* "$BUILD"/logs/fstests-run-*
	deadline=${FSTESTS_DEADLINE:-}
	pids=()
	dirs=()
	parts=()
	for v in $(seq 1 "$vms"); do
		mapfile -t part < <(every "$vms" "$v" "${tests[@]}")
		parts+=("${part[*]}")
		dirs+=("$BUILD/fstests/run-$v")
		(
			status=0
			fstests_vm "$kd" "run-$v" "$fs" "${part[*]}" "${deadline:-${TIMEOUT:-86400}}" 6G 2G \
				>"$BUILD/logs/fstests-run-$v.out" 2>&1 || status=$?
			echo "$status" >"$BUILD/logs/fstests-run-$v.status"
		) &
		pids+=($!)
	done
	# Progress: each test's line as fstests prints it, marked with its VM.
	sleep 1
	tailers=()
	for v in $(seq 1 "$vms"); do
		tail -n +1 -F "$BUILD/logs/fstests-run-$v.out" 2>/dev/null |
			grep --line-buffered -E '^SECTION|^(generic|shared)/[0-9]+|^Ran:|^Not run:|^Failures:|^Passed|^fstests:' |
			sed -u "s/^/[vm $v] /" &
		tailers+=($!)
	done
	wait "${pids[@]}" || true
	sleep 2
	pkill -P $$ tail 2>/dev/null || true
	wait "${tailers[@]}" 2>/dev/null || true
	status=0
	# The tests each VM must have a result for: all of its share, unless
	# FSTESTS_DEADLINE stopped it; then those it finished, and the record
	# names the one it was in.
	expect=()
	stopped=()
	for v in $(seq 1 "$vms"); do
		s=$(cat "$BUILD/logs/fstests-run-$v.status" 2>/dev/null || echo 1)
		# A VM that never reached fstests (the guest announces it) has no
		# results to record: the run failed, not the tests.
		if ! grep -q '^fstests: .* sections: ' "$BUILD/logs/fstests-run-$v.out"; then
			tail -n 20 "$BUILD/logs/fstests-run-$v.out" >&2
			die "fstests VM $v failed before fstests started (status $s; above, the end of $BUILD/logs/fstests-run-$v.out); nothing recorded"
		fi
		if [ "$s" -ne 0 ] && [ -n "$deadline" ] &&
			grep -q "did not finish within $deadline s" "$BUILD/logs/fstests-run-$v.out"; then
			section=$(grep -o 'SECTION *-- *[a-z0-9]*' "$BUILD/logs/fstests-run-$v.out" | tail -1 | awk '{print $3}')
			current=$(grep -o 'run fstests [^ ]*' "$BUILD/logs/fstests-run-$v.out" | tail -1 | awk '{print $3}')
			stopped+=("VM $v stopped by FSTESTS_DEADLINE=$deadline during $current on $section")
			echo "rsfs: fstests VM $v stopped at the deadline, during $current on $section" >&2
			continue
		fi
		read -ra part <<<"${parts[$((v - 1))]}"
		expect+=("${part[@]}")
		if [ "$s" -ne 0 ]; then
			echo "rsfs: fstests VM $v failed (status $s; see $BUILD/logs/fstests-run-$v.log)" >&2
			status=1
		fi
	done
	runtime=$(($(date +%s) - start))
	echo "== fstests took $((runtime / 3600)) h $((runtime % 3600 / 60)) min $((runtime % 60)) s under TCG ($vms VMs at once)"
	fsargs=()
	for f in $fs; do fsargs+=(--fs "$f"); done
	report=(python3 "$FSTESTS_DIR/report.py" "${dirs[@]}" "${fsargs[@]}" --expect "${expect[*]}"
		--exclude "$FSTESTS_DIR/exclude" --notes "$FSTESTS_DIR/notes")
	if [ ${#stopped[@]} -gt 0 ]; then
		report+=(--meta "stopped=$(printf '%s; ' "${stopped[@]}")")
	fi
	if [ -z "$record" ]; then
		"${report[@]}" --markdown "$BUILD/fstests/summary.md" --command "make fstests $what"
		echo "rsfs: wrote $BUILD/fstests/summary.md; fstests' own results are in $BUILD/fstests/run-*"
	else
		"${report[@]}" --record "$record" \
			--meta "group=$group" --meta "shard=$part_of" --meta "date=$(date -u +%F)" \
			--meta "rsfs=$rev" --meta "fstests=$FSTESTS_COMMIT" --meta "filesystems=$fs" --meta "kernel=$(basename "$kd")" \
			--meta "tests=${#tests[@]}" --meta "vms=$vms" --meta "runtime=$runtime" \
			--markdown "$RSFS_ROOT/docs/fstests.md" --records "$FSTESTS_DIR/results/$group" \
			--group-list "$BUILD/fstests/group-$group.list" --root "$RSFS_ROOT" --command "make fstests FSTESTS_GROUP=$group"
		echo "rsfs: recorded $record and wrote docs/fstests.md; fstests' own results are in $BUILD/fstests/run-*"
	fi
	[ "$status" -eq 0 ] || die "an fstests VM failed (see above)"
	;;
smoke)
	# The tests that must pass on rsfs, one per line with a comment.
	# `make soak` adds the long ones (FSTESTS_SMOKE_EXTRA).
	tests=$(sed -e 's/#.*//' "$FSTESTS_DIR/smoke" | xargs)${FSTESTS_SMOKE_EXTRA:+ $FSTESTS_SMOKE_EXTRA}
	# Each test's name as it starts, and fstests' summary.
	{
		status=0
		fstests_vm "$kd" smoke rsfs "$tests" "${TIMEOUT:-1800}" 2G 1G 2>&1 || status=$?
		echo "$status" >"$BUILD/logs/fstests-smoke.status"
	} | tee "$BUILD/logs/fstests-smoke.out" |
		grep --line-buffered -E '^(generic|shared)/[0-9]+|^Ran:|^Not run:|^Failures:|^Passed' |
		sed -u 's/^/# /' || true
	status=$(cat "$BUILD/logs/fstests-smoke.status" 2>/dev/null || echo 1)
	rc=0
	python3 "$FSTESTS_DIR/report.py" "$BUILD/fstests/smoke" --fs rsfs --ktap --expect "$tests" || rc=1
	if [ "$status" -ne 0 ]; then
		# A splat, a hang or a guest that could not run fstests.
		tail -n 5 "$BUILD/logs/fstests-smoke.out" | sed 's/^/# /'
		echo "not ok fstests_vm_clean # status $status (console log: $BUILD/logs/fstests-smoke.log)"
		echo "# fstests vm totals: 0 passed, 1 failed"
		rc=1
	else
		echo "ok fstests_vm_clean"
		echo "# fstests vm totals: 1 passed, 0 failed"
	fi
	exit $rc
	;;
*)
	die "usage: scripts/fstests.sh run|smoke KDIR, or tree"
	;;
esac
