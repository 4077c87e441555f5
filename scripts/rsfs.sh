#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What the Makefile's targets run. Usage: scripts/rsfs.sh COMMAND
#   run     boot the VM with rsfs mounted at /mnt: a shell, or CMD
#   check   cargo tests of the tools, then the KTAP suite in the VM
#   module  build rsfs.ko        tools  build the static userspace tools
#   tests   build the KTAP test programs
#   clippy  the module under clippy and the tools under cargo clippy
#   fmt     check rustfmt formatting
#   bench   the benchmark, on the release kernel (bench/bench.py)
#   fstests fstests on rsfs, ext2 and ext4 (scripts/fstests.sh run)
#   soak    check with the long reliability settings (RSFS_FSX_OPS,
#           RSFS_STRESS_SECONDS, RSFS_FAULT_ROUNDS, RSFS_IMAGES,
#           RSFS_CRASH_POINTS, RSFS_CRASHSTATES; RSFS_SEED fixes every guest
#           test's seed; RSFS_CRASHSTATES_KERNEL, the crash states' kernel)
# Environment (the Makefile passes its variables): KERNEL=debug|release,
# CMD='...', DISK=path.img, TIMEOUT=seconds.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$RSFS_ROOT"

KERNEL=${KERNEL:-debug}
BUILD=$RSFS_ROOT/build
TARGET=x86_64-unknown-linux-gnu

kdir() {
	"$RSFS_ROOT/scripts/kernel.sh" "$KERNEL" | tail -n 1
}

build_module() {
	local kdir=$1 log=$BUILD/logs/module.log
	mkdir -p "$BUILD/logs"
	# Objects built against the other flavour's tree must not be reused.
	# (Not Kbuild's own `clean`: it would delete every *.o below the
	# project, cargo's target/ included.)
	if [ "$(cat "$BUILD/.module-kdir" 2>/dev/null)" != "$kdir" ]; then
		rm -f "$RSFS_ROOT"/src/*.o "$RSFS_ROOT"/src/.*.cmd "$RSFS_ROOT"/src/*.d \
			"$RSFS_ROOT"/src/generated/* "$RSFS_ROOT"/*.o "$RSFS_ROOT"/.*.cmd "$RSFS_ROOT"/*.ko \
			"$RSFS_ROOT"/*.mod "$RSFS_ROOT"/*.mod.c "$RSFS_ROOT"/modules.order "$RSFS_ROOT"/Module.symvers
	fi
	make -C "$kdir" M="$RSFS_ROOT" "${KMAKE_VARS[@]}" ${CLIPPY:+CLIPPY=1} -j"$(nproc)" modules \
		>"$log" 2>&1 || fail_with_log "module build" "$log"
	echo "$kdir" >"$BUILD/.module-kdir"
	# Warnings fail the build: the module is kept warning- and clippy-clean.
	if grep -E '^(warning|error)(\[|:)' "$log" >/dev/null; then
		grep -E -A12 '^(warning|error)(\[|:)' "$log" >&2
		die "the module build printed warnings (full log: $log)"
	fi
}

build_tools() {
	local log=$BUILD/logs/tools.log
	mkdir -p "$BUILD/logs"
	# Static binaries, so that the guest needs no shared libraries.
	CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" \
		cargo build --quiet --locked --release --target "$TARGET" >"$log" 2>&1 ||
		fail_with_log "tools build" "$log"
	# Installed under the names that mkfs(8) and fsck(8) look for.
	mkdir -p "$BUILD/bin"
	cp "$RSFS_ROOT/target/$TARGET/release/mkfs-rsfs" "$BUILD/bin/mkfs.rsfs"
	cp "$RSFS_ROOT/target/$TARGET/release/fsck-rsfs" "$BUILD/bin/fsck.rsfs"
	cp "$RSFS_ROOT/target/$TARGET/release/rsfs-fuzz" "$BUILD/bin/rsfs-fuzz"
	cp "$RSFS_ROOT/target/$TARGET/release/rsfs-crashstates" "$BUILD/bin/rsfs-crashstates"
}

build_tests() {
	local t name
	mkdir -p "$BUILD/tests" "$BUILD/bin"
	# Guest programs the tests drive (tests/tools/): into the guest's PATH.
	for t in tests/tools/*.c; do
		name=$(basename "$t" .c)
		if [ "$t" -nt "$BUILD/bin/$name" ]; then
			gcc -static -O2 -g -Wall -Werror -o "$BUILD/bin/$name" "$t" || die "building $t failed"
		fi
	done
	for t in tests/*.c; do
		name=$(basename "$t" .c)
		if [ "$t" -nt "$BUILD/tests/$name" ] || [ tests/rsfs_test.h -nt "$BUILD/tests/$name" ]; then
			gcc -static -O2 -g -Wall -Werror -I"$KSRC_DIR/tools/testing/selftests" \
				-o "$BUILD/tests/$name" "$t" || die "building test $t failed"
		fi
	done
}

check_format() {
	# The module with the kernel's rustfmt settings, the tools with cargo's.
	/usr/bin/rustfmt --edition 2021 --check --config-path "$KSRC_DIR/.rustfmt.toml" src/rsfs_main.rs ||
		die "src/ is not rustfmt-clean (run: /usr/bin/rustfmt --edition 2021 src/rsfs_main.rs)"
	cargo fmt --check || die "the tools are not rustfmt-clean (run: cargo fmt)"
	# The abstraction layer's shape (docs/design.md): no import cycles
	# among the kfs modules, no kfs file over 450 lines.
	mkdir -p "$BUILD/logs"
	python3 "$RSFS_ROOT/scripts/kfs_layers.py" >"$BUILD/logs/kfs-layers.out" ||
		die "src/kfs/ has an import cycle or a file too long: $(grep -v '^  layer' "$BUILD/logs/kfs-layers.out")"
}

fresh_disk() {
	rm -f "$1"
	truncate -s "${2:-256M}" "$1"
}

vm() {
	local kdir=$1
	shift
	python3 "$RSFS_ROOT/qemu/vm.py" --kernel "$kdir/arch/x86/boot/bzImage" "$@"
}

# The crash states of a disk with a volatile write cache (tools/crashstates,
# docs/design.md): random workloads on rsfs, recorded through
# dm-log-writes; the states the log leaves at each flush and FUA write, and
# seeded random states inside each epoch (any subset of its writes, torn
# at 4 KiB), mounted and checked against the durability promises.
# RSFS_CRASHSTATES states (2000; make soak: 100000), workloads from
# RSFS_CRASHSTATES_SEED (random unless given), on kernel tree KD with the
# module KO (default: the one just built). A state costs about eight
# times as much on the debug kernel as on the release one (0.49 s and
# 0.06 s under TCG beside two other VMs); the VM's time limit allows 1 s. The VM's disks live only as long as it does, so the
# host skips their flushes (--disk-cache unsafe): the guest still sees a
# disk with a volatile write cache, and flushes cost it nothing.
crash_states() {
	local kd=$1 ko=${2:-$RSFS_ROOT/rsfs.ko} states=${RSFS_CRASHSTATES:-2000} seed=${RSFS_CRASHSTATES_SEED:-$((RANDOM * 32768 + RANDOM))}
	local out=$BUILD/logs/crashstates-vm.out start status=0 line tried violations
	local timeout=$((states > ${TIMEOUT:-1800} ? states : ${TIMEOUT:-1800}))
	echo "== crash states with a volatile write cache on $(basename "$kd") (console log: $BUILD/logs/crashstates.log)"
	echo "# $states states from workload seed $seed (RSFS_CRASHSTATES_SEED=$seed repeats it)"
	fresh_disk "$BUILD/disks/cs-disk.img" 64M
	# The guest mounts it before the command (which unmounts it again).
	"$BUILD/bin/mkfs.rsfs" -q "$BUILD/disks/cs-disk.img"
	fresh_disk "$BUILD/disks/cs-log.img" 2G
	# Two work disks, checked by a thread each: the VM has two CPUs.
	fresh_disk "$BUILD/disks/cs-work0.img" 64M
	fresh_disk "$BUILD/disks/cs-work1.img" 64M
	RSFS_KO=$ko "$RSFS_ROOT/qemu/mkinitramfs.sh" "$BUILD/initramfs-crashstates.cpio" cmd \
		"cd /; umount /mnt; rsfs-crashstates explore --disk /dev/vda --log /dev/vdb --work /dev/vdc --work /dev/vdd --states $states --seed $seed"
	start=$(date +%s)
	vm "$kd" --initrd "$BUILD/initramfs-crashstates.cpio" --disk "$BUILD/disks/cs-disk.img" \
		--disk "$BUILD/disks/cs-log.img" --disk "$BUILD/disks/cs-work0.img" --disk "$BUILD/disks/cs-work1.img" \
		--disk-cache unsafe --timeout "$timeout" --log "$BUILD/logs/crashstates.log" >"$out" 2>&1 || status=1
	grep -E '^(VIOLATION|  |# crash-states)' "$out" || true
	line=$(grep -o 'crash-states tried=[0-9]* violations=[0-9]*' "$out" | tail -1 || true)
	if [ -z "$line" ]; then
		tail -n 20 "$out"
		echo "not ok crash states: no result (see $out)"
		echo "# crash-states totals: 0 passed, 1 failed"
		return 1
	fi
	tried=$(echo "$line" | sed 's/.*tried=\([0-9]*\).*/\1/')
	violations=$(echo "$line" | sed 's/.*violations=\([0-9]*\).*/\1/')
	if [ "$status" -eq 0 ] && [ "$violations" -eq 0 ] && [ "$tried" -ge "$states" ]; then
		echo "ok crash states: $tried states, 0 violations"
	else
		echo "not ok crash states: $tried of $states states, $violations violations (VM status $status; see $out)"
		status=1
	fi
	echo "# report: $line seconds=$(($(date +%s) - start))"
	echo "# crash-states totals: $((tried - violations)) passed, $violations failed"
	[ "$status" -eq 0 ]
}

# The stages that run beside the KTAP suite in `make check` on kernel tree
# KD (the crash states on CS_KD with module CS_KO, if given); each also
# keeps its own output (crash.out, crashstates.out, fstests.out).
second_lane() {
	local kd=$1 rc=0 start
	echo "== fstests smoke subset on rsfs (tests/fstests/smoke; console log: $BUILD/logs/fstests-smoke.log)"
	start=$(date +%s)
	"$RSFS_ROOT/scripts/fstests.sh" smoke "$kd" | tee "$BUILD/logs/fstests.out" || rc=1
	echo "# fstests smoke took $(($(date +%s) - start)) s"
	echo "== power-cut tests (console log: $BUILD/logs/crash.log)"
	start=$(date +%s)
	python3 "$RSFS_ROOT/tests/crash.py" --kernel "$kd/arch/x86/boot/bzImage" --root "$RSFS_ROOT" |
		tee "$BUILD/logs/crash.out" || rc=1
	echo "# power-cut tests took $(($(date +%s) - start)) s"
	crash_states "${2:-$kd}" "${3:-}" | tee "$BUILD/logs/crashstates.out" || rc=1
	return $rc
}

cmd=${1:-}
case $cmd in
module)
	"$RSFS_ROOT/scripts/bootstrap.sh"
	build_module "$(kdir)"
	;;
tools)
	"$RSFS_ROOT/scripts/bootstrap.sh"
	build_tools
	;;
tests)
	"$RSFS_ROOT/scripts/bootstrap.sh"
	build_tests
	;;
fmt)
	"$RSFS_ROOT/scripts/bootstrap.sh"
	check_format
	;;
clippy)
	"$RSFS_ROOT/scripts/bootstrap.sh"
	CLIPPY=1 build_module "$(kdir)"
	cargo clippy --quiet --locked --all-targets -- -D warnings
	;;
run)
	"$RSFS_ROOT/scripts/bootstrap.sh"
	kd=$(kdir)
	build_module "$kd"
	build_tools
	build_tests
	mkdir -p "$BUILD/disks"
	if [ -n "${DISK:-}" ]; then
		disk=$DISK
		if ! [ -e "$disk" ]; then
			truncate -s 256M "$disk"
			"$BUILD/bin/mkfs.rsfs" "$disk"
		fi
	else
		disk=$BUILD/disks/run.img
		fresh_disk "$disk"
		"$BUILD/bin/mkfs.rsfs" -q "$disk"
	fi
	fresh_disk "$BUILD/disks/scratch.img" 2G
	if [ -n "${CMD:-}" ]; then
		"$RSFS_ROOT/qemu/mkinitramfs.sh" "$BUILD/initramfs-cmd.cpio" cmd "$CMD"
		vm "$kd" --initrd "$BUILD/initramfs-cmd.cpio" --disk "$disk" \
			--disk "$BUILD/disks/scratch.img" --timeout "${TIMEOUT:-600}" --log "$BUILD/logs/run.log"
	else
		"$RSFS_ROOT/qemu/mkinitramfs.sh" "$BUILD/initramfs-shell.cpio" shell
		vm "$kd" --initrd "$BUILD/initramfs-shell.cpio" --disk "$disk" \
			--disk "$BUILD/disks/scratch.img" --interactive
	fi
	;;
soak)
	# The long version of the reliability suites; the rest of make check
	# runs as usual. Each setting can still be overridden. The lengths are
	# chosen so that the whole run fits in about two and a half hours under
	# TCG (by the stage times of make check: the exerciser does about 165
	# operations a second on the debug kernel, a hostile image takes about
	# 1.5 s, a crash state about 0.05 s on the release kernel), and the
	# crash states run on the release kernel: on the debug one, 100,000
	# would take about 7 hours. make check runs 2,000 of them on the debug
	# kernel, under KASAN, lockdep and kmemleak.
	export RSFS_FSX_OPS=${RSFS_FSX_OPS:-300000} RSFS_STRESS_SECONDS=${RSFS_STRESS_SECONDS:-300}
	export RSFS_FAULT_ROUNDS=${RSFS_FAULT_ROUNDS:-300} RSFS_IMAGES=${RSFS_IMAGES:-600}
	export RSFS_CRASH_POINTS=${RSFS_CRASH_POINTS:-100} TIMEOUT=${TIMEOUT:-14400}
	export RSFS_CRASHSTATES=${RSFS_CRASHSTATES:-100000}
	export RSFS_CRASHSTATES_KERNEL=${RSFS_CRASHSTATES_KERNEL:-release}
	# fstests' longest fsx test, too long for make check's smoke stage.
	export FSTESTS_SMOKE_EXTRA=${FSTESTS_SMOKE_EXTRA:-generic/127}
	exec "$0" check
	;;
check)
	"$RSFS_ROOT/scripts/bootstrap.sh"
	echo "== rustfmt, the kfs layers (scripts/kfs_layers.py), and clippy on the tools"
	check_format
	cargo clippy --quiet --locked --all-targets -- -D warnings
	echo "== cargo test (userspace tools)"
	cargo test --quiet --locked 2>&1
	# The crash states may run on the other kernel (make soak: the release
	# one, where a state costs an eighth of what it does on the debug one).
	# Its module is built first and kept aside: the check's own build
	# replaces it.
	cs_kernel=${RSFS_CRASHSTATES_KERNEL:-$KERNEL} cs_kd= cs_ko=
	if [ "$cs_kernel" != "$KERNEL" ]; then
		cs_kd=$(KERNEL=$cs_kernel kdir)
		echo "== building rsfs.ko against $cs_kd, for the crash states"
		build_module "$cs_kd"
		cs_ko=$BUILD/$cs_kernel/rsfs.ko
		mkdir -p "$(dirname "$cs_ko")"
		cp "$RSFS_ROOT/rsfs.ko" "$cs_ko"
	fi
	kd=$(kdir)
	echo "== building rsfs.ko under clippy, the tools and the tests against $kd"
	CLIPPY=1 build_module "$kd"
	build_tools
	build_tests
	mkdir -p "$BUILD/disks" "$BUILD/logs"
	fresh_disk "$BUILD/disks/vda.img"
	fresh_disk "$BUILD/disks/vdb.img" 2G
	fresh_disk "$BUILD/disks/vdc.img" 64M
	# Room for a file of a million one-block extents (tests/vfs.c), and a
	# disk whose reads wait 20 ms each, so that races with I/O in flight
	# can be caught (tests/vfs.c).
	fresh_disk "$BUILD/disks/vdd.img" 5G
	fresh_disk "$BUILD/disks/vde.img" 64M
	"$RSFS_ROOT/qemu/mkinitramfs.sh" "$BUILD/initramfs-check.cpio" check
	# Two lanes of VMs. Under TCG a VM running one test program keeps about
	# one host CPU busy, so the KTAP suite (22 to 50 minutes, by the
	# machine and what else runs on it) runs beside the
	# fstests smoke subset, the power cuts and the crash states (about 30
	# together), which use their own disks. The second lane's output is
	# kept in a file and printed once the KTAP suite is done.
	lane=$BUILD/logs/lane2.out
	echo "== beside the KTAP suite: fstests smoke, power cuts, crash states (progress: $lane)"
	second_lane "$kd" "$cs_kd" "$cs_ko" >"$lane" 2>&1 &
	lane_pid=$!
	echo "== KTAP suite in the VM ($KERNEL kernel; console log: $BUILD/logs/check.log)"
	status=0 ktap_start=$(date +%s)
	vm "$kd" --initrd "$BUILD/initramfs-check.cpio" --disk "$BUILD/disks/vda.img" \
		--disk "$BUILD/disks/vdb.img" --slow-disk "$BUILD/disks/vdc.img" \
		--extra-disk "$BUILD/disks/vdd.img" \
		--extra-disk "$BUILD/disks/vde.img,throttling.iops-read=50" \
		--timeout "${TIMEOUT:-3600}" --ktap --log "$BUILD/logs/check.log" |
		tee "$BUILD/logs/ktap.out" || status=1
	echo "# KTAP suite took $(($(date +%s) - ktap_start)) s"
	echo "== make run: a command with \$ in it reaches the guest unchanged"
	# Through make itself, as a user types it: make must not expand the $.
	# shellcheck disable=SC2016
	if CLIPPY=1 make -s -C "$RSFS_ROOT" run TIMEOUT=300 \
		CMD='x=41; test "$((x + 1))" = 42 && test "$0" = sh && echo "$HOME" | grep -q "^/"' \
		>"$BUILD/logs/run-dollar.log" 2>&1; then
		echo "ok make run CMD with \$"
		run_passed=1 run_failed=0
	else
		echo "not ok make run CMD with \$ (log: $BUILD/logs/run-dollar.log)"
		run_passed=0 run_failed=1
	fi
	wait "$lane_pid" || status=1
	cat "$lane"
	# One closing line for the whole run.
	passed=$run_passed failed=$run_failed
	while read -r p f; do
		passed=$((passed + p)) failed=$((failed + f))
	done < <(cat "$BUILD/logs/ktap.out" "$BUILD/logs/crash.out" "$BUILD/logs/crashstates.out" "$BUILD/logs/fstests.out" |
		sed -n 's/^# \(ktap\|crash\|crash-states\|fstests\|fstests vm\) totals: \([0-9]*\) passed, \([0-9]*\) failed.*/\2 \3/p')
	if ! grep -q '^# ktap totals' "$BUILD/logs/ktap.out" || ! grep -q '^# crash totals' "$BUILD/logs/crash.out" ||
		! grep -q '^# crash-states totals' "$BUILD/logs/crashstates.out" ||
		! grep -q '^# fstests totals' "$BUILD/logs/fstests.out" || ! grep -q '^# fstests vm totals' "$BUILD/logs/fstests.out"; then
		failed=$((failed + 1))
		echo "rsfs: a test stage did not report its totals" >&2
	fi
	# The figures a user would quote: what each suite did and found.
	echo "== totals"
	grep -ho 'report: .*' "$BUILD/logs/ktap.out" "$BUILD/logs/crash.out" "$BUILD/logs/crashstates.out" |
		sed 's/^report: /  /'
	echo "$passed passed, $failed failed"
	[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
	;;
fstests)
	"$RSFS_ROOT/scripts/bootstrap.sh"
	kd=$(kdir)
	build_module "$kd"
	build_tools
	build_tests
	exec "$RSFS_ROOT/scripts/fstests.sh" run "$kd"
	;;
bench)
	"$RSFS_ROOT/scripts/bootstrap.sh"
	KERNEL=release
	kd=$(kdir)
	build_module "$kd"
	build_tools
	build_tests
	mkdir -p "$BUILD/disks" "$BUILD/logs"
	python3 "$RSFS_ROOT/bench/bench.py" --kernel "$kd/arch/x86/boot/bzImage" --root "$RSFS_ROOT" \
		--reps "${REPS:-3}"
	;;
*)
	die "usage: scripts/rsfs.sh run|check|soak|bench|fstests|module|tools|tests|clippy|fmt"
	;;
esac
