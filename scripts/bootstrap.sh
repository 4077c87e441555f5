#!/usr/bin/env bash
# Installs what building and testing rsfs needs, and nothing when it is all
# there already (that path only looks at files, so it costs well under a
# second). Idempotent: run it as often as you like.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# Debian packages, each with a file that proves it is installed.
declare -A DEB_FILES=(
	[linux-source-6.12]=$KSRC_TARBALL
	[rustc-web]=/usr/bin/rustc
	[rust-web-src]=$RUST_LIB_SRC/core/src/lib.rs
	[rustfmt-web]=/usr/bin/rustfmt
	[rust-web-clippy]=/usr/bin/clippy-driver
	[clang]=/usr/bin/clang
	[lld]=/usr/bin/ld.lld
	[llvm]=/usr/bin/llvm-ar
	[libclang-dev]=/usr/lib/llvm-14/lib/libclang.so
	[flex]=/usr/bin/flex
	[bison]=/usr/bin/bison
	[bc]=/usr/bin/bc
	[libelf-dev]=/usr/include/libelf.h
	[libssl-dev]=/usr/include/openssl/ssl.h
	[cpio]=/usr/bin/cpio
	[qemu-system-x86]=/usr/bin/qemu-system-x86_64
	[busybox-static]=/bin/busybox
	[e2fsprogs]=/sbin/mkfs.ext4
	[libc6-dev]=/usr/lib/x86_64-linux-gnu/libc.a
	[gcc]=/usr/bin/gcc
	[make]=/usr/bin/make
	[xz-utils]=/usr/bin/xz
	# fstests: what it builds with on the host (tests/fstests/README.md)...
	[xfslibs-dev]=/usr/include/xfs/xfs.h
	[libattr1-dev]=/usr/include/attr/libattr.h
	[libacl1-dev]=/usr/include/acl/libacl.h
	[uuid-dev]=/usr/include/uuid/uuid.h
	[libaio-dev]=/usr/include/libaio.h
	[liburing-dev]=/usr/include/liburing.h
	[autoconf]=/usr/bin/autoconf
	[automake]=/usr/bin/aclocal
	[libtool]=/usr/bin/libtoolize
	[pkgconf]=/usr/bin/pkg-config
	[git]=/usr/bin/git
	[patch]=/usr/bin/patch
	# ...and what it runs in the guest, which boots on the host's root.
	[xfsprogs]=/usr/sbin/xfs_io
	[attr]=/usr/bin/getfattr
	[acl]=/bin/setfacl
	[fio]=/usr/bin/fio
	[gawk]=/usr/bin/gawk
	[dmsetup]=/sbin/dmsetup
	[psmisc]=/usr/bin/killall
	[libcap2-bin]=/sbin/setcap
	[file]=/usr/bin/file
	[python3]=/usr/bin/python3
	[iproute2]=/sbin/ip
)

missing=()
for pkg in "${!DEB_FILES[@]}"; do
	[ -e "${DEB_FILES[$pkg]}" ] || missing+=("$pkg")
done

# rustc-web must be the version whose library source we compile against.
if [ -x /usr/bin/rustc ] && ! /usr/bin/rustc --version | grep -q "^rustc $RUST_WEB_VERSION"; then
	missing+=(rustc-web rust-web-src rustfmt-web rust-web-clippy)
fi

if [ ${#missing[@]} -gt 0 ]; then
	cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "rsfs: missing Debian packages: ${missing[*]}" >&2
		echo "rsfs: run as root:  $cmd" >&2
		exit 1
	fi
	echo "rsfs: installing Debian packages: ${missing[*]}"
	log=$(mktemp /tmp/rsfs-apt.XXXXXX.log)
	(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}") \
		>"$log" 2>&1 || fail_with_log "apt-get install" "$log"
fi

# bindgen-cli from crates.io at a pinned version (Debian's 0.60 is older than
# the 0.65.1 that 6.12 requires), installed into the rsfs cache.
if ! [ -x "$KERNEL_BINDGEN" ] || ! "$KERNEL_BINDGEN" --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
	command -v cargo >/dev/null || die "cargo is needed to install bindgen-cli $BINDGEN_VERSION"
	echo "rsfs: installing bindgen-cli $BINDGEN_VERSION into $RSFS_CACHE/tools"
	log=$(mktemp /tmp/rsfs-bindgen.XXXXXX.log)
	cargo install --quiet --locked --root "$RSFS_CACHE/tools" bindgen-cli --version "$BINDGEN_VERSION" \
		>"$log" 2>&1 || fail_with_log "cargo install bindgen-cli" "$log"
fi

# The extracted kernel source, shared by both flavours.
if ! [ -e "$KSRC_DIR/.rsfs-extracted" ]; then
	echo "rsfs: extracting $KSRC_TARBALL"
	mkdir -p "$RSFS_CACHE/src"
	rm -rf "$KSRC_DIR"
	tar -C "$RSFS_CACHE/src" -xf "$KSRC_TARBALL"
	touch "$KSRC_DIR/.rsfs-extracted"
fi
