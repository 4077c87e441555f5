# SPDX-License-Identifier: GPL-2.0
#
# rsfs. The two commands:
#   make run [CMD='...'] [DISK=path.img] [KERNEL=debug|release]
#   make check
# and the standard suite, fstests, on rsfs beside ext2 and ext4:
#   make fstests [FSTESTS_GROUP=quick|auto|...] [FSTESTS_TESTS='generic/001 ...']
#                [FSTESTS_SHARD=K/N] [FSTESTS_JOBS=VMs] [FSTESTS_SRC=dir|tarball]
#                [FSTESTS_FS='rsfs ext2 ext4'] [FSTESTS_DEADLINE=seconds]
# Each first installs whatever is missing (scripts/bootstrap.sh), builds the
# test kernel once per machine (cached in ~/.cache/rsfs), and builds the
# module, the tools and the tests. Kbuild reads the file `Kbuild`, not this
# one, when it builds the module.

SHELL := /bin/bash
KERNEL ?= debug
# CMD reaches the guest exactly as typed: without this, make would expand
# each `$` in it (`make run CMD='echo $HOME'` would run `echo OME`).
override CMD := $(value CMD)
export KERNEL CMD DISK TIMEOUT REPS FSTESTS_SRC FSTESTS_GROUP FSTESTS_TESTS FSTESTS_FS FSTESTS_SHARD FSTESTS_JOBS FSTESTS_DEADLINE FSTESTS_SMOKE_EXTRA

.PHONY: run check soak bench fstests module tools tests clippy fmt clean

run check soak bench fstests module tools tests clippy fmt:
	@scripts/rsfs.sh $@

clean:
	rm -rf build target src/generated
	find . \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '*.d' -o -name '*.rmeta' \) -not -path './.git/*' -delete
	rm -f modules.order Module.symvers
