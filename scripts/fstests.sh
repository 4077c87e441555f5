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
#   FSTESTS_GROUP  the group to run (default: quick); `auto` works too
#   FSTESTS_TESTS  test names instead of a group ("generic/001 generic/002")
#   FSTESTS_FS     the filesystems, in order (default: "rsfs ext2 ext4")
#   TIMEOUT        seconds before the VM counts as hung
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
# after every test, so the smaller the guest, the shorter the run.
fstests_vm() {
	local kd=$1 name=$2 fs=$3 args=$4 timeout=$5 size=$6 mem=$7 tree out
	# (Callers test this function's status, which turns `set -e` off
	# inside it: each failure must return by hand.)
	tree=$(fstests_tree) || return 1
	out=$BUILD/fstests/$name
	rm -rf "$out"
	mkdir -p "$out" "$BUILD/disks" "$BUILD/logs"
	# TEST_DEV and SCRATCH_DEV: sparse, fresh, the same for every FS.
	rm -f "$BUILD/disks/fstests-test.img" "$BUILD/disks/fstests-scratch.img"
	truncate -s "$size" "$BUILD/disks/fstests-test.img" "$BUILD/disks/fstests-scratch.img"
	export RSFS_ROOT RSFS_FSTESTS_GUEST=$FSTESTS_DIR/guest.sh RSFS_FSTESTS_DIR=$tree
	export RSFS_FSTESTS_FS=$fs RSFS_FSTESTS_ARGS=$args RSFS_FSTESTS_EXCLUDE=$FSTESTS_DIR/exclude
	"$RSFS_ROOT/qemu/mkinitramfs.sh" "$BUILD/initramfs-fstests.cpio" fstests || return 1
	python3 "$RSFS_ROOT/qemu/vm.py" --kernel "$kd/arch/x86/boot/bzImage" \
		--initrd "$BUILD/initramfs-fstests.cpio" --mem "$mem" \
		--disk "$BUILD/disks/fstests-test.img" --disk "$BUILD/disks/fstests-scratch.img" \
		--share "hostroot=/,ro" --share "results=$out" \
		--timeout "$timeout" --log "$BUILD/logs/fstests-$name.log"
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
	if [ -n "${FSTESTS_TESTS:-}" ]; then
		args=$FSTESTS_TESTS
	else
		args="-g ${FSTESTS_GROUP:-quick}"
	fi
	echo "== fstests: $args on $fs (console log: $BUILD/logs/fstests-run.log)"
	start=$(date +%s)
	status=0
	fstests_vm "$kd" run "$fs" "$args" "${TIMEOUT:-86400}" 6G 2G || status=$?
	runtime=$(($(date +%s) - start))
	echo "== fstests took $((runtime / 60)) min $((runtime % 60)) s under TCG"
	fsargs=()
	for f in $fs; do fsargs+=(--fs "$f"); done
	python3 "$FSTESTS_DIR/report.py" "$BUILD/fstests/run" "${fsargs[@]}" \
		--markdown "$RSFS_ROOT/docs/fstests.md" --exclude "$FSTESTS_DIR/exclude" \
		--notes "$FSTESTS_DIR/notes" --runtime "$runtime" \
		--command "make fstests FSTESTS_GROUP=${FSTESTS_GROUP:-quick}${FSTESTS_TESTS:+ FSTESTS_TESTS='$FSTESTS_TESTS'}"
	echo "rsfs: wrote docs/fstests.md; fstests' own results are in $BUILD/fstests/run"
	[ "$status" -eq 0 ] || die "the fstests VM failed (status $status; see $BUILD/logs/fstests-run.log)"
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
