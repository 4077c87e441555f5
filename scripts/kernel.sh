#!/usr/bin/env bash
# Usage: scripts/kernel.sh debug|release
#
# Configures and builds the rsfs test kernel of that flavour, and prints its
# build directory (the KDIR that the module is built against) as the last line.
# The build directory lives in the rsfs cache, keyed by the kernel package
# version, the toolchain and a hash of the config fragments, so a rerun on the
# same machine does not rebuild.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

flavour=${1:-debug}
case $flavour in debug | release) ;; *) die "unknown kernel flavour '$flavour' (debug or release)" ;; esac

fragments=("$RSFS_ROOT/qemu/base.config" "$RSFS_ROOT/qemu/$flavour.config")
kver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( (echo "$kver"; "$KERNEL_RUSTC" --version; "$KERNEL_BINDGEN" --version; clang --version | head -1
	cat "${fragments[@]}") | sha256sum | cut -c1-12)
KDIR=$RSFS_CACHE/build/linux-$kver-$flavour-$key
stamp=$KDIR/.rsfs-built

if [ -e "$stamp" ]; then
	echo "$KDIR"
	exit 0
fi

mkdir -p "$KDIR"
log=$KDIR/build.log
: >"$log"
cat "${fragments[@]}" >"$KDIR/rsfs.config"

echo "rsfs: configuring the $flavour kernel in $KDIR" >&2
make -C "$KSRC_DIR" O="$KDIR" "${KMAKE_VARS[@]}" KCONFIG_ALLCONFIG="$KDIR/rsfs.config" allnoconfig \
	>>"$log" 2>&1 || fail_with_log "kernel configuration" "$log"

# Kconfig drops a requested option silently when a dependency is missing
# (CONFIG_RUST when the toolchain check fails, KASAN under SLUB_TINY...).
# Refuse to build a kernel that is not the one asked for.
bad=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) grep -qxF "$line" "$KDIR/.config" || bad+=("$line") ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		if grep -q "^$opt=" "$KDIR/.config"; then bad+=("$line"); fi
		;;
	esac
done < <(cat "${fragments[@]}")
if [ ${#bad[@]} -gt 0 ]; then
	echo "rsfs: the $flavour kernel config lost these requested options:" >&2
	printf '  %s\n' "${bad[@]}" >&2
	if printf '%s\n' "${bad[@]}" | grep -q '^CONFIG_RUST=y$'; then
		echo "rsfs: the kernel's Rust check says:" >&2
		make -C "$KSRC_DIR" O="$KDIR" "${KMAKE_VARS[@]}" rustavailable >&2 || true
	fi
	die "kernel configuration is not what qemu/$flavour.config asks for ($KDIR/.config)"
fi

echo "rsfs: building the $flavour kernel (several minutes; log: $log)" >&2
start=$(date +%s)
make -C "$KSRC_DIR" O="$KDIR" "${KMAKE_VARS[@]}" -j"$(nproc)" all \
	>>"$log" 2>&1 || fail_with_log "kernel build" "$log"
echo "rsfs: $flavour kernel built in $(($(date +%s) - start)) s" >&2
touch "$stamp"
echo "$KDIR"
