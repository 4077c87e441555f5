# Sourced by the rsfs scripts: where things live and which toolchain builds
# the kernel. Nothing here runs a command with side effects.

RSFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RSFS_CACHE=${RSFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rsfs}

# The kernel source: Debian's linux-source-6.12 tarball.
KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
KSRC_DIR=$RSFS_CACHE/src/linux-source-6.12

# The kernel compiles `core` from the source of the very rustc that builds it:
# Debian's rustc-web (/usr/bin/rustc) with rust-web-src. The rustup toolchain
# that may come first on PATH is only for the userspace tools.
RUST_WEB_VERSION=1.96.0
BINDGEN_VERSION=0.73.2
KERNEL_RUSTC=/usr/bin/rustc
KERNEL_BINDGEN=$RSFS_CACHE/tools/bin/bindgen
RUST_LIB_SRC=/usr/src/rustc-$RUST_WEB_VERSION/library

# Everything a kernel or module make invocation needs.
KMAKE_VARS=(
	LLVM=1
	"RUSTC=$KERNEL_RUSTC"
	"HOSTRUSTC=$KERNEL_RUSTC"
	"RUSTDOC=/usr/bin/rustdoc"
	"RUSTFMT=/usr/bin/rustfmt"
	"CLIPPY_DRIVER=/usr/bin/clippy-driver"
	"BINDGEN=$KERNEL_BINDGEN"
	"RUST_LIB_SRC=$RUST_LIB_SRC"
)

die() {
	echo "rsfs: $*" >&2
	exit 1
}

# Print the last lines of a build log and where the whole log is, then fail.
fail_with_log() {
	local what=$1 log=$2
	echo "rsfs: $what failed; last 40 lines of $log:" >&2
	tail -n 40 "$log" >&2
	echo "rsfs: full log: $log" >&2
	exit 1
}
