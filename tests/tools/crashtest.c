// SPDX-License-Identifier: GPL-2.0
/*
 * The guest half of the randomized power-cut test (tests/crash.py).
 *
 *   crashtest run SEED COUNT   in the current directory, COUNT times: write
 *                              a deterministic pattern to a new file or past
 *                              the end of an earlier one, make it durable
 *                              with a method chosen from SEED, and print
 *                              "ACK name offset length pattern method". Then
 *                              keep dirtying a scratch file until killed.
 *   crashtest verify           read ACK lines on stdin; check every
 *                              acknowledged byte; exit 1 on a mismatch.
 *   crashtest label [NEW]      print the label of the filesystem of the
 *                              current directory ("label: ..."); with NEW,
 *                              set it first (FS_IOC_SETFSLABEL) and fsync
 *                              a file of its own, which commits the change
 *                              (an fsync commits the running transaction).
 *   crashtest whiteout OLD NEW rename OLD to NEW with RENAME_WHITEOUT, then
 *                              fsync the directory.
 *
 * Methods: fsync, fdatasync, sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER)
 * then fsync for the metadata, msync(MS_SYNC) then fsync, O_SYNC, O_DSYNC.
 * A new file's name is made durable by an fsync of the directory. The
 * methods that end in fsync also set the file's extended attribute
 * user.ack to the write's offset first, which the fsync makes durable
 * too: after the cut, it holds that offset or a later one (a file's
 * writes only go forward).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

enum { M_FSYNC, M_FDATASYNC, M_SFR, M_MSYNC, M_OSYNC, M_ODSYNC, M_COUNT };
static const char *const method_names[] = { "fsync", "fdatasync", "sync_file_range",
					    "msync", "O_SYNC", "O_DSYNC" };

static uint64_t rng;

static uint64_t next(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static unsigned char pattern(uint64_t off, uint64_t seed)
{
	uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ULL ^ (seed * 0xbf58476d1ce4e5b9ULL);

	return (x >> 31) & 0xff;
}

static void die(const char *what)
{
	printf("crashtest: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(2);
}

static void sync_dir(void)
{
	int d = open(".", O_RDONLY | O_DIRECTORY);

	if (d < 0 || fsync(d))
		die("fsync of the directory");
	close(d);
}

/* Whether `method` ends with an fsync(2) of the file. */
static int ends_in_fsync(int method)
{
	return method == M_FSYNC || method == M_SFR || method == M_MSYNC;
}

/* Writes `len` bytes of pattern `seed` at `off` of `name`, durably. */
static void durable_write(const char *name, uint64_t off, size_t len, uint64_t seed, int method)
{
	unsigned char *buf = malloc(len);
	int flags = O_RDWR | O_CREAT;
	int fd;

	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(off + i, seed);
	if (method == M_OSYNC)
		flags |= O_SYNC;
	if (method == M_ODSYNC)
		flags |= O_DSYNC;
	fd = open(name, flags, 0644);
	if (fd < 0)
		die("open");
	if (ends_in_fsync(method)) {
		char v[32];

		snprintf(v, sizeof(v), "%llu", (unsigned long long)off);
		if (fsetxattr(fd, "user.ack", v, strlen(v), 0))
			die("fsetxattr");
	}
	if (method == M_MSYNC) {
		uint64_t start = off & ~4095ULL;
		size_t maplen = off + len - start;
		unsigned char *p;

		if (ftruncate(fd, off + len))
			die("ftruncate");
		p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, start);
		if (p == MAP_FAILED)
			die("mmap");
		memcpy(p + (off - start), buf, len);
		if (msync(p, maplen, MS_SYNC))
			die("msync");
		munmap(p, maplen);
		if (fsync(fd))
			die("fsync after msync");
	} else {
		if (pwrite(fd, buf, len, off) != (ssize_t)len)
			die("pwrite");
		switch (method) {
		case M_FSYNC:
			if (fsync(fd))
				die("fsync");
			break;
		case M_FDATASYNC:
			if (fdatasync(fd))
				die("fdatasync");
			break;
		case M_SFR:
			if (sync_file_range(fd, off, len,
					    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
						    SYNC_FILE_RANGE_WAIT_AFTER))
				die("sync_file_range");
			/* sync_file_range writes no metadata (sync_file_range(2)). */
			if (fsync(fd))
				die("fsync after sync_file_range");
			break;
		default: /* O_SYNC, O_DSYNC: the write itself was synchronous */
			break;
		}
	}
	close(fd);
	free(buf);
}

static int run(uint64_t seed, int count)
{
	char names[64][32];
	uint64_t sizes[64];
	int nfiles = 0;

	rng = seed * 2 + 1;
	for (int i = 0; i < count; i++) {
		uint64_t pseed = next();
		int method = next() % M_COUNT;
		size_t len = 1 + next() % 65536;
		uint64_t off;
		int f;

		if (nfiles == 0 || (nfiles < 64 && next() % 2)) {
			f = nfiles++;
			snprintf(names[f], sizeof(names[f]), "f%llx_%d", (unsigned long long)seed, i);
			sizes[f] = 0;
			off = next() % 3 ? 0 : next() % 100000; /* sometimes starting with a hole */
			durable_write(names[f], off, len, pseed, method);
			sync_dir();
		} else {
			f = next() % nfiles;
			off = sizes[f] + next() % 5000;
			durable_write(names[f], off, len, pseed, method);
		}
		sizes[f] = off + len;
		printf("ACK %s %llu %zu %llu %s\n", names[f], (unsigned long long)off, len,
		       (unsigned long long)pseed, method_names[method]);
		fflush(stdout);
		/* Some dirty state that no one asked to keep, for the cut. */
		int s = open("scratch", O_CREAT | O_RDWR, 0644);

		if (s >= 0) {
			static unsigned char junk[65536];

			memset(junk, i, sizeof(junk));
			if (pwrite(s, junk, sizeof(junk), (next() % 64) * 4096) < 0)
				die("scratch write");
			close(s);
		}
	}
	printf("crashtest: all %d operations acknowledged\n", count);
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

static int verify(void)
{
	char line[512], name[256], method[32];
	unsigned long long off, seed;
	size_t len;
	int acks = 0, bad = 0;

	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "ACK %255s %llu %zu %llu %31s", name, &off, &len, &seed, method) != 5)
			continue;
		acks++;
		int fd = open(name, O_RDONLY);
		unsigned char *buf = malloc(len);

		if (fd < 0 || pread(fd, buf, len, off) != (ssize_t)len) {
			printf("crashtest: %s: cannot read %zu bytes at %llu (%s, made durable by %s)\n",
			       name, len, off, strerror(errno), method);
			bad++;
		} else {
			for (size_t i = 0; i < len; i++) {
				if (buf[i] != pattern(off + i, seed)) {
					printf("crashtest: %s: byte %llu differs (made durable by %s)\n", name,
					       off + i, method);
					bad++;
					break;
				}
			}
		}
		free(buf);
		if (fd >= 0)
			close(fd);
		if (strcmp(method, "fsync") && strcmp(method, "sync_file_range") &&
		    strcmp(method, "msync"))
			continue;
		char v[32];
		ssize_t n = getxattr(name, "user.ack", v, sizeof(v) - 1);

		if (n > 0)
			v[n] = 0;
		if (n <= 0 || strtoull(v, NULL, 10) < off) {
			printf("crashtest: %s: user.ack is %s, not %llu or later (made durable by %s)\n",
			       name, n > 0 ? v : "missing", off, method);
			bad++;
		}
	}
	printf("crashtest: verified %d acknowledged writes, %d bad\n", acks, bad);
	return bad ? 1 : 0;
}

#ifndef FS_IOC_GETFSLABEL
#define FSLABEL_MAX 256
#define FS_IOC_GETFSLABEL _IOR(0x94, 49, char[FSLABEL_MAX])
#define FS_IOC_SETFSLABEL _IOW(0x94, 50, char[FSLABEL_MAX])
#endif

static int label(const char *new)
{
	char buf[FSLABEL_MAX] = { 0 };
	int d = open(".", O_RDONLY | O_DIRECTORY), fd;

	if (d < 0)
		die("open .");
	if (new) {
		snprintf(buf, sizeof(buf), "%s", new);
		if (ioctl(d, FS_IOC_SETFSLABEL, buf))
			die("FS_IOC_SETFSLABEL");
		fd = open("label-fsync", O_CREAT | O_WRONLY, 0644);
		if (fd < 0 || write(fd, "x", 1) != 1 || fsync(fd))
			die("fsync after the label");
		close(fd);
	}
	if (ioctl(d, FS_IOC_GETFSLABEL, buf))
		die("FS_IOC_GETFSLABEL");
	printf("label: %s\n", buf);
	close(d);
	return 0;
}

#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

static int whiteout(const char *old, const char *new)
{
	if (syscall(SYS_renameat2, AT_FDCWD, old, AT_FDCWD, new, RENAME_WHITEOUT))
		die("renameat2 RENAME_WHITEOUT");
	sync_dir();
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "run"))
		return run(strtoull(argv[2], NULL, 0), atoi(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "verify"))
		return verify();
	if ((argc == 2 || argc == 3) && !strcmp(argv[1], "label"))
		return label(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "whiteout"))
		return whiteout(argv[2], argv[3]);
	fprintf(stderr, "usage: crashtest run SEED COUNT | crashtest verify < ACKS | crashtest label [NEW] | crashtest whiteout OLD NEW\n");
	return 2;
}
