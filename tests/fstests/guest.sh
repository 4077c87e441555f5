#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of fstests (scripts/fstests.sh starts it through qemu/init).
# It runs as PID 1's child inside the host's root, read-only under a tmpfs
# overlay, with rsfs.ko loaded, and gets its settings from the environment:
#   RSFS_ROOT              the project (its build/bin has mkfs.rsfs, fsck.rsfs)
#   RSFS_FSTESTS_DIR       the built fstests tree
#   RSFS_FSTESTS_FS        the filesystems to run, in order ("rsfs ext2 ext4")
#   RSFS_FSTESTS_ARGS      what selects the tests ("-g quick", "generic/001 ...")
#   RSFS_FSTESTS_EXCLUDE   the exclude list (one test per line, '#' comments)
# /dev/vda is TEST_DEV and /dev/vdb SCRATCH_DEV, for every filesystem alike.
# fstests writes its results (xunit, .full, .out.bad) under /results, a
# share of the host's build directory. The exit status is fstests' own
# setup failing, not a test failing: scripts/fstests.sh judges the results.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8 HOME=/root

# mkfs -t rsfs and fsck -t rsfs find these on PATH.
install -m 0755 "$RSFS_ROOT/build/bin/mkfs.rsfs" "$RSFS_ROOT/build/bin/fsck.rsfs" /usr/local/sbin/

# The users fstests' permission tests run as (fstests' README, step 6).
useradd -m fsgqa 2>/dev/null
useradd 123456-fsgqa 2>/dev/null
useradd fsgqa2 2>/dev/null
groupadd fsgqa 2>/dev/null

# Loopback, for the tests that talk over TCP (generic/131's lock server).
ip link set lo up

# No udev runs here, so libdevmapper makes the /dev/mapper nodes of the dm
# tests (dm-flakey, dm-log-writes) itself; else dmsetup create succeeds and
# the node never appears.
export DM_DISABLE_UDEV=1

mkdir -p /mnt/test /mnt/scratch
config=/tmp/fstests.config
# One section per filesystem. Options carry over from one section to the
# next (README.config-sections), so the devices are named once.
{
	for fs in $RSFS_FSTESTS_FS; do
		echo "[$fs]"
		echo "FSTYP=$fs"
		if [ "$fs" = "${RSFS_FSTESTS_FS%% *}" ]; then
			echo "TEST_DEV=/dev/vda"
			echo "TEST_DIR=/mnt/test"
			echo "SCRATCH_DEV=/dev/vdb"
			echo "SCRATCH_MNT=/mnt/scratch"
			echo "RESULT_BASE=/results"
			# A fresh TEST_DEV for every filesystem, the first included.
			echo "RECREATE_TEST_DEV=true"
			# fstests scans for leaks after every test in any case;
			# with this, a leak fails the test instead of being dropped.
			echo "USE_KMEMLEAK=yes"
		fi
		echo
	done
} >"$config"

# check mounts TEST_DEV before its first section, so the first filesystem
# must already be there.
first=${RSFS_FSTESTS_FS%% *}
case $first in
ext*) mkfs -t "$first" -F -q /dev/vda ;;
*) yes | mkfs -t "$first" /dev/vda ;;
esac >/dev/null || exit 1

sections=()
for fs in $RSFS_FSTESTS_FS; do
	sections+=(-s "$fs")
done
# One test name per line, without comments or blanks.
sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$RSFS_FSTESTS_EXCLUDE" >/tmp/exclude

echo "fstests: $(uname -r), sections: $RSFS_FSTESTS_FS, tests: $RSFS_FSTESTS_ARGS"
cd "$RSFS_FSTESTS_DIR" || exit 1
start=$(date +%s)
# shellcheck disable=SC2086 # RSFS_FSTESTS_ARGS is a list of words
HOST_OPTIONS=$config ./check -R xunit "${sections[@]}" -E /tmp/exclude $RSFS_FSTESTS_ARGS
rc=$?
echo "fstests: check exited with $rc after $(($(date +%s) - start)) s"
# Failed tests are reported through the results; only a run that made no
# report at all is an error here.
ls /results/*/result.xml >/dev/null 2>&1 || exit 1
exit 0
