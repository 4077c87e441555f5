/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the rsfs KTAP tests. The tests run as root inside the
 * test VM (see qemu/), on the kernel's own kselftest_harness.h. The VM has
 * two scratch virtio disks, /dev/vda and /dev/vdb, and the module at
 * /lib/modules/rsfs.ko; the module is not loaded when a test starts.
 */
#ifndef RSFS_TEST_H
#define RSFS_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <mntent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define RSFS_MODULE "/lib/modules/rsfs.ko"
#define RSFS_MAGIC 0x53465352 /* "RSFS" read as little-endian */
#define DISK0 "/dev/vda"
#define DISK1 "/dev/vdb"
#define MNT "/mnt"

static inline int rsfs_load(void)
{
	int fd = open(RSFS_MODULE, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

static inline int rsfs_unload(void)
{
	return syscall(SYS_delete_module, "rsfs", O_NONBLOCK) ? -errno : 0;
}

/* Whether /proc/filesystems has the line "\trsfs" (a block-device fs). */
static inline bool rsfs_registered(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, "\trsfs\n"))
			found = true;
	fclose(f);
	return found;
}

/* Whether /proc/mounts lists option `opt` for the mount at `dir`. */
static inline bool mounted_with(const char *dir, const char *opt)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	bool found = false;

	while (f && (m = getmntent(f)))
		if (!strcmp(m->mnt_dir, dir))
			found = hasmntopt(m, opt) != NULL;
	if (f)
		endmntent(f);
	return found;
}

/* Runs a shell command, returning its exit status (or -1). */
static inline int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Fails each request to `dev` (a /dev/ path) with `percent` % probability,
 * at most `times` times, through the kernel's fail_make_request on the
 * whole disk; 0 % stops it.
 */
static inline int fail_requests(const char *dev, int percent, long times)
{
	if (percent)
		return run("echo 0 > /sys/kernel/debug/fail_make_request/verbose && "
			   "echo %d > /sys/kernel/debug/fail_make_request/probability && "
			   "echo 1 > /sys/kernel/debug/fail_make_request/interval && "
			   "echo %ld > /sys/kernel/debug/fail_make_request/times && "
			   "echo 1 > /sys/block/%s/make-it-fail",
			   percent, times, dev + 5);
	return run("echo 0 > /sys/block/%s/make-it-fail", dev + 5);
}

/* Writes `len` bytes of `byte` to a new file `name`, syncs, deletes it and
 * syncs again: its blocks are free, and hold `byte` on the disk. `len` is
 * a multiple of 1 MiB. */
static inline int leave_old_data(const char *name, size_t len, unsigned char byte)
{
	static unsigned char buf[1 << 20];
	int fd = open(name, O_CREAT | O_TRUNC | O_RDWR, 0644);

	if (fd < 0)
		return -1;
	memset(buf, byte, sizeof(buf));
	for (size_t off = 0; off < len; off += sizeof(buf))
		if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf))
			return -1;
	if (fsync(fd) || close(fd) || unlink(name))
		return -1;
	sync();
	return 0;
}

/* A number from the environment (RSFS_SEED and the like), or `dflt`. */
static inline unsigned long long env_or(const char *name, unsigned long long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static inline int mkfs(const char *dev)
{
	return run("mkfs.rsfs -q -f %s", dev);
}

/* fsck.rsfs -n: 0 when the filesystem is clean. */
static inline int fsck(const char *dev)
{
	return run("fsck.rsfs -n %s >&2", dev);
}

static inline int mount_rsfs(const char *dev, const char *opts)
{
	return mount(dev, MNT, "rsfs", 0, opts) ? -errno : 0;
}

/* Fills the first `bytes` of a device with zeroes, or with random bytes. */
static inline int scribble(const char *dev, size_t bytes, bool random)
{
	return run("dd if=%s of=%s bs=4096 count=%zu conv=fsync 2>/dev/null",
		   random ? "/dev/urandom" : "/dev/zero", dev, bytes / 4096);
}

/*
 * Unmounts and mounts DISK0 at MNT again, dropping every cache of it; the
 * working directory is MNT before and after.
 */
static inline int remount_dev(const char *dev)
{
	if (chdir("/") || umount(MNT))
		return -errno;
	if (mount(dev, MNT, "rsfs", 0, NULL))
		return -errno;
	return chdir(MNT) ? -errno : 0;
}

static inline int remount(void)
{
	return remount_dev(DISK0);
}

/* Moves the mount at MNT to a freshly made filesystem on `dev`. */
static inline int use_disk(const char *dev)
{
	if (chdir("/") || umount(MNT) || mkfs(dev) || mount(dev, MNT, "rsfs", 0, NULL) || chdir(MNT))
		return -1;
	return 0;
}

/*
 * Puts the VM back to "nothing mounted, module not loaded" after a test
 * that failed half-way, so that one failure does not cascade.
 */
static inline void rsfs_reset(void)
{
	if (chdir("/"))
		return;
	umount(MNT);
	rsfs_unload();
}

/* Writes `len` bytes of `c` to a new file (helper for small files). */
static inline int put_file(const char *path, const char *data)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -EIO;
}

/* The 512-byte blocks a file has on disk (st_blocks), -1 on error. */
static inline long long blocks_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : st.st_blocks;
}

/*
 * Reads a counter of the rsfs mounted from `dev` (/sys/kernel/debug/rsfs/...)
 * into `v`; -1 if there is no such counter.
 */
static inline int read_counter(const char *dev, const char *name, unsigned long long *v)
{
	char path[256];
	int ok = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/rsfs/%s/%s", dev + 5, name);
	f = fopen(path, "r");
	if (f) {
		ok = fscanf(f, "%llu", v) == 1;
		fclose(f);
	}
	return ok ? 0 : -1;
}

/* A counter of the rsfs mounted from `dev`, or 0 if there is none. */
static inline unsigned long long counter(const char *dev, const char *name)
{
	unsigned long long v = 0;

	return read_counter(dev, name, &v) ? 0 : v;
}

/* Reads `len` bytes of the disk itself at block `block` (O_DIRECT;
 * `buf` aligned to 4096 bytes). */
static inline int read_disk(const char *dev, unsigned int block, void *buf, size_t len)
{
	int fd = open(dev, O_RDONLY | O_DIRECT), ok;

	if (fd < 0)
		return -1;
	ok = pread(fd, buf, len, (off_t)block * 4096) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

/* The CRC-32 (IEEE, as zlib's) that the journal's tags hold for each copy. */
static inline unsigned int journal_crc32(const unsigned char *p, size_t len)
{
	unsigned int crc = ~0u;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static inline unsigned int le32_at(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (unsigned int)p[3] << 24;
}

static inline unsigned long long le64_at(const unsigned char *p)
{
	return le32_at(p) | (unsigned long long)le32_at(p + 4) << 32;
}

/*
 * The journal's copy of block `block`, if the journal holds a committed
 * transaction that logs it: a mount replays that copy over the block at
 * home before it reads anything (docs/format.md, "Journal"). A commit, and
 * so an fsync, returns once the transaction is durable in the log; its
 * writes home are still on their way, so the home alone may be one commit
 * behind. Copies the block into `out` (4096 bytes aligned to 4096) and
 * returns 1 if the journal logs it, 0 if not, -1 on an error. The
 * descriptors and the commit block are checked by magic, index, sequence
 * number and count, and the copy by its tag's CRC-32 (a copy that does not
 * match is an error here); the CRC-32C of the descriptors is left to the
 * mount.
 */
static inline int read_logged(const char *dev, unsigned long long block, void *out)
{
	unsigned long long start, jblocks, seq, d;
	unsigned char *sb = NULL, *desc = NULL, *blk = NULL;
	unsigned int n;
	int fd = open(dev, O_RDONLY | O_DIRECT), ret = -1;

	if (fd < 0)
		return -1;
	if (posix_memalign((void **)&sb, 4096, 4096) || posix_memalign((void **)&desc, 4096, 4096) ||
	    posix_memalign((void **)&blk, 4096, 4096) || pread(fd, sb, 4096, 0) != 4096)
		goto out;
	ret = 0;
	start = le64_at(sb + 88) + le64_at(sb + 96);
	jblocks = le64_at(sb + 208);
	if (pread(fd, desc, 4096, (off_t)start * 4096) != 4096 || memcmp(desc, "RSJD", 4))
		goto out;
	seq = le64_at(desc + 8);
	n = le32_at(desc + 16);
	d = n ? (n + 338) / 339 : 1;
	if (le32_at(desc + 4) != 0 || d + n + 1 > jblocks)
		goto out;
	/* The commit block ends the transaction, or there is none to replay. */
	if (pread(fd, blk, 4096, (off_t)(start + d + n) * 4096) != 4096 ||
	    memcmp(blk, "RSJC", 4) || le32_at(blk + 4) != n || le64_at(blk + 8) != seq)
		goto out;
	/* A transaction logs a block once at most. */
	for (unsigned int i = 0; i < n; i++) {
		const unsigned char *tag;

		if (i % 339 == 0 && i > 0 &&
		    (pread(fd, desc, 4096, (off_t)(start + i / 339) * 4096) != 4096 ||
		     memcmp(desc, "RSJD", 4) || le32_at(desc + 4) != i / 339 ||
		     le64_at(desc + 8) != seq || le32_at(desc + 16) != n))
			goto out;
		tag = desc + 24 + (i % 339) * 12;
		if (le64_at(tag) != block)
			continue;
		if (pread(fd, blk, 4096, (off_t)(start + d + i) * 4096) != 4096 ||
		    journal_crc32(blk, 4096) != le32_at(tag + 8)) {
			ret = -1;
			goto out;
		}
		memcpy(out, blk, 4096);
		ret = 1;
		break;
	}
out:
	free(sb);
	free(desc);
	free(blk);
	close(fd);
	return ret;
}

/* The superblock's state field (byte 128): 1 clean, 2 mounted/dirty. */
static inline int sb_state(const char *dev)
{
	unsigned short v = 0;
	int fd = open(dev, O_RDONLY | O_DIRECT);
	void *buf;

	if (fd < 0 || posix_memalign(&buf, 4096, 4096))
		return -1;
	if (pread(fd, buf, 4096, 0) == 4096)
		memcpy(&v, (char *)buf + 128, 2);
	free(buf);
	close(fd);
	return v;
}

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* A little-endian u64 of the superblock, read past the page cache. */
static inline unsigned long long sb_u64(const char *dev, int off)
{
	unsigned long long v = 0;
	int fd = open(dev, O_RDONLY | O_DIRECT);
	void *buf;

	if (fd < 0 || posix_memalign(&buf, 4096, 4096))
		return 0;
	if (pread(fd, buf, 4096, 0) == 4096)
		memcpy(&v, (char *)buf + off, 8);
	free(buf);
	close(fd);
	return v;
}

/*
 * The kernel log, read through /dev/kmsg from a point a test marks, so a
 * test can look for its own messages and for splats it caused.
 */
struct kmsg {
	int fd;
};

static inline int kmsg_open(struct kmsg *k)
{
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->fd < 0)
		return -errno;
	lseek(k->fd, 0, SEEK_END);
	return 0;
}

/*
 * Reads the records logged since kmsg_open() (or the last call) and says
 * whether any contains `needle`. Pass NULL to only consume them.
 */
static inline bool kmsg_grep(struct kmsg *k, const char *needle)
{
	char rec[8192];
	bool found = false;
	ssize_t n;

	while ((n = read(k->fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		if (needle && strstr(rec, needle))
			found = true;
	}
	return found;
}

/* The words that start a kernel splat: any of them fails the run. */
static const char *const splat_words[] = {
	"BUG:", "WARNING:", "Oops", "general protection fault", "Kernel panic",
	"kernel BUG", "UBSAN:", "unreferenced object", "blocked for more than",
	"detected stall", "panicked at", "cut here",
};

/* Whether the records since the last read contain a splat. */
static inline bool kmsg_splat(struct kmsg *k)
{
	char rec[8192];
	bool found = false;
	ssize_t n;
	size_t i;

	while ((n = read(k->fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		for (i = 0; i < sizeof(splat_words) / sizeof(splat_words[0]); i++) {
			if (strstr(rec, splat_words[i])) {
				fprintf(stderr, "# kernel splat: %s", rec);
				found = true;
			}
		}
	}
	return found;
}

/*
 * The fixture of the tests that run on a mounted rsfs: each test starts in
 * MNT on a freshly made filesystem on DISK0, with the module loaded and the
 * kernel log marked (a test may move to another disk with use_disk() and
 * set self->dev). Teardown runs `extra_teardown`, unmounts, requires
 * fsck.rsfs -n to find the disk clean, unloads the module, and fails the
 * test on any kernel splat it caused. Use it after kselftest_harness.h.
 */
#define RSFS_MOUNTED_FIXTURE(name, extra_teardown)		\
	FIXTURE(name) {						\
		struct kmsg k;					\
		const char *dev;				\
	};							\
	FIXTURE_SETUP(name)					\
	{							\
		rsfs_reset();					\
		self->dev = DISK0;				\
		ASSERT_EQ(0, kmsg_open(&self->k));		\
		ASSERT_EQ(0, rsfs_load());			\
		ASSERT_EQ(0, mkfs(DISK0));			\
		ASSERT_EQ(0, mount_rsfs(DISK0, NULL));		\
		ASSERT_EQ(0, chdir(MNT));			\
	}							\
	FIXTURE_TEARDOWN(name)					\
	{							\
		extra_teardown;					\
		EXPECT_EQ(0, chdir("/"));			\
		EXPECT_EQ(0, umount(MNT));			\
		EXPECT_EQ(0, fsck(self->dev));			\
		EXPECT_EQ(0, rsfs_unload());			\
		EXPECT_FALSE(kmsg_splat(&self->k));		\
	}

#endif /* RSFS_TEST_H */
