#!/usr/bin/env bash
# Usage: qemu/mkinitramfs.sh OUT.cpio MODE [CMD]
#
# Packs the test VM's root filesystem: busybox, qemu/init, rsfs.ko, the
# static mkfs.rsfs, and the KTAP test programs with their runner. The module,
# the tools and the tests must have been built (the Makefile does that).
# RSFS_KO: another build of the module to pack (make soak's crash states
# run on the release kernel beside a check on the debug one).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"

out=$1 mode=$2 cmd=${3:-}
root=$(mktemp -d /tmp/rsfs-initramfs.XXXXXX)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,lib/modules,rsfs,tests/bin,proc,sys,dev,tmp,mnt}
cp /bin/busybox "$root/bin/busybox"
cp "$RSFS_ROOT/qemu/init" "$root/init"
cp "${RSFS_KO:-$RSFS_ROOT/rsfs.ko}" "$root/lib/modules/rsfs.ko"
cp "$RSFS_ROOT"/build/bin/* "$root/bin/"
cp "$RSFS_ROOT/tests/run.sh" "$root/tests/run.sh"
cp "$RSFS_ROOT"/build/tests/* "$root/tests/bin/"
echo "$mode" >"$root/rsfs/mode"
printf '%s\n' "$cmd" >"$root/rsfs/cmd"
# The host's RSFS_* settings (seeds, soak lengths) for the guest's tests.
env | grep '^RSFS_[A-Z_]*=' | sed "s/^\([A-Z_]*\)=\(.*\)$/export \1='\2'/" >"$root/rsfs/env" || true

(cd "$root" && find . | cpio --quiet -o -H newc) >"$out"
