// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency under memory pressure. A memory hog leaves the page cache a
 * small part of the guest's RAM (128 MiB) and the dirty limits are raised,
 * so that reclaim meets dirty rsfs folios and writes them with ->writepage
 * (the test requires that it did; if it has not by the end, the dirtier
 * goes on alone for up to two more minutes). Meanwhile
 * several processes work on the filesystem, each checking what it reads
 * against a model of what it wrote:
 *
 *   - two rsfsx exercisers, each on its own file;
 *   - a streamer writing a file larger than the free memory, by write(2)
 *     or through a shared mapping, and reading it back;
 *   - a dirtier storing to random pages of a mapped file larger than the
 *     free memory;
 *   - two stripe writers sharing one file, each owning every other block,
 *     writing by pwrite and by mapped stores, with fsync;
 *   - a truncater owning the tail of that shared file, growing and
 *     cutting it under the stripe writers;
 *   - two namespace workers creating, unlinking, renaming and linking in
 *     one directory, and checking its listing at the end.
 *
 * Environment: RSFS_STRESS_SECONDS (default 60; the soak runs 600),
 * RSFS_SEED.
 */
#include "rsfs_test.h"
#include "kselftest_harness.h"
#include <dirent.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#define BLK 4096
#define STRIPE_BLOCKS 512		/* the shared file's striped part */
#define TAIL_MAX (256 * BLK)		/* and its truncated tail */
#define NAMES 48			/* names per namespace worker */

RSFS_MOUNTED_FIXTURE(stress, (void)0)

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finaliser */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct rng {
	uint64_t s;
};

static uint64_t below(struct rng *r, uint64_t n)
{
	r->s = mix(r->s);
	return n ? r->s % n : 0;
}

/* Fills a block with the pattern of (tag, block, generation). */
static void pattern(unsigned char *b, size_t len, uint64_t tag, uint64_t blk, uint64_t gen)
{
	uint64_t v, i;

	for (i = 0; i < len / 8; i++) {
		v = mix(tag ^ mix(blk ^ (gen << 40)) ^ i);
		memcpy(b + 8 * i, &v, 8);
	}
}

static time_t deadline;

static int worker_fail(const char *who, const char *fmt, ...)
{
	va_list ap;

	printf("# %s: ", who);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d: %s)\n", errno, strerror(errno));
	fflush(stdout);
	return 1;
}

/* Writes files larger than the free memory, then reads them back. */
static int streamer(uint64_t seed, size_t bytes)
{
	static unsigned char buf[1 << 20], want[1 << 20];
	uint64_t pass;

	for (pass = 0; time(NULL) < deadline; pass++) {
		bool mapped = pass % 2;
		int fd = open("stream", O_CREAT | O_TRUNC | O_RDWR, 0644);
		size_t off;

		if (fd < 0)
			return worker_fail("streamer", "open");
		if (mapped && ftruncate(fd, bytes))
			return worker_fail("streamer", "ftruncate");
		for (off = 0; off < bytes; off += sizeof(buf)) {
			pattern(buf, sizeof(buf), seed ^ pass, off / sizeof(buf), 0);
			if (mapped) {
				unsigned char *p = mmap(NULL, sizeof(buf), PROT_WRITE, MAP_SHARED, fd, off);

				if (p == MAP_FAILED)
					return worker_fail("streamer", "mmap at %zu", off);
				memcpy(p, buf, sizeof(buf));
				munmap(p, sizeof(buf));
			} else {
				ssize_t n = pwrite(fd, buf, sizeof(buf), off);

				if (n != sizeof(buf)) {
					/* The rest again, for the errno of a short write. */
					if (n > 0)
						n = pwrite(fd, buf + n, sizeof(buf) - n, off + n);
					return worker_fail("streamer", "pwrite at %zu returned %zd",
							   off, n);
				}
			}
		}
		for (off = 0; off < bytes; off += sizeof(buf)) {
			pattern(want, sizeof(want), seed ^ pass, off / sizeof(buf), 0);
			if (pread(fd, buf, sizeof(buf), off) != sizeof(buf))
				return worker_fail("streamer", "pread at %zu", off);
			if (memcmp(buf, want, sizeof(buf)))
				return worker_fail("streamer", "pass %llu (%s): data differs in MiB %zu",
						   (unsigned long long)pass, mapped ? "mmap" : "write",
						   off >> 20);
		}
		close(fd);
	}
	return 0;
}

/*
 * Stores to random pages of a mapped file larger than the free memory.
 * The LRU holds the pages in the order they were dirtied, the flusher
 * writes them in file order, so reclaim keeps meeting dirty ones: those
 * reach ->writepage. Every page is checked against its last store at the
 * end.
 */
static int dirtier(uint64_t seed, size_t bytes)
{
	size_t pages = bytes / BLK, i;
	uint32_t *gen = calloc(pages, sizeof(*gen));
	unsigned char buf[BLK], want[BLK];
	struct rng r = { seed };
	unsigned char *p;
	int fd = open("dirty", O_CREAT | O_TRUNC | O_RDWR, 0644);

	if (fd < 0 || !gen || ftruncate(fd, bytes))
		return worker_fail("dirtier", "setup");
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return worker_fail("dirtier", "mmap");
	while (time(NULL) < deadline) {
		for (i = 0; i < 256; i++) {
			size_t pg = below(&r, pages);

			pattern(p + pg * BLK, BLK, seed, pg, ++gen[pg]);
		}
	}
	if (munmap(p, bytes))
		return worker_fail("dirtier", "munmap");
	for (i = 0; i < pages; i++) {
		if (pread(fd, buf, BLK, i * BLK) != BLK)
			return worker_fail("dirtier", "pread page %zu", i);
		if (gen[i])
			pattern(want, BLK, seed, i, gen[i]);
		else
			memset(want, 0, BLK);
		if (memcmp(buf, want, BLK))
			return worker_fail("dirtier", "page %zu differs from store %u", i, gen[i]);
	}
	close(fd);
	free(gen);
	return 0;
}

/* Owns the blocks b with b % 2 == k of the striped part of "shared". */
static int striper(int k, uint64_t seed)
{
	static uint32_t gen[STRIPE_BLOCKS];
	unsigned char buf[BLK], want[BLK];
	struct rng r = { seed };
	char who[16];
	int fd;

	snprintf(who, sizeof(who), "striper%d", k);
	fd = open("shared", O_RDWR);
	if (fd < 0)
		return worker_fail(who, "open");
	while (time(NULL) < deadline) {
		uint64_t b = 2 * below(&r, STRIPE_BLOCKS / 2) + k;
		int what = below(&r, 10);

		if (what < 4) {
			pattern(buf, BLK, seed, b, ++gen[b]);
			if (pwrite(fd, buf, BLK, b * BLK) != BLK)
				return worker_fail(who, "pwrite block %llu", (unsigned long long)b);
		} else if (what < 6) {
			unsigned char *p = mmap(NULL, BLK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b * BLK);

			if (p == MAP_FAILED)
				return worker_fail(who, "mmap block %llu", (unsigned long long)b);
			pattern(p, BLK, seed, b, ++gen[b]);
			if (below(&r, 2) && msync(p, BLK, MS_SYNC))
				return worker_fail(who, "msync block %llu", (unsigned long long)b);
			munmap(p, BLK);
		} else if (what < 7) {
			if (below(&r, 2) ? fsync(fd) : fdatasync(fd))
				return worker_fail(who, "fsync");
		}
		/* Every step ends by reading a block of ours back. */
		if (pread(fd, buf, BLK, b * BLK) != BLK)
			return worker_fail(who, "pread block %llu", (unsigned long long)b);
		if (gen[b])
			pattern(want, BLK, seed, b, gen[b]);
		else
			memset(want, 0, BLK);
		if (memcmp(buf, want, BLK))
			return worker_fail(who, "block %llu differs from generation %u",
					   (unsigned long long)b, gen[b]);
	}
	close(fd);
	return 0;
}

/* Owns the part of "shared" past the stripes: sizes it and writes it. */
static int truncater(uint64_t seed)
{
	static unsigned char model[TAIL_MAX], buf[TAIL_MAX];
	const off_t base = (off_t)STRIPE_BLOCKS * BLK;
	struct rng r = { seed };
	size_t size = 0;
	int fd = open("shared", O_RDWR);

	if (fd < 0)
		return worker_fail("truncater", "open");
	while (time(NULL) < deadline) {
		size_t n = below(&r, TAIL_MAX + 1), off, len;
		struct stat st;

		if (below(&r, 2)) {
			if (ftruncate(fd, base + n))
				return worker_fail("truncater", "ftruncate to tail %zu", n);
			if (n < size)
				memset(model + n, 0, size - n);
			size = n;
		} else {
			off = below(&r, TAIL_MAX);
			len = 1 + below(&r, TAIL_MAX - off);
			memset(buf, 'a' + below(&r, 26), len);
			if (pwrite(fd, buf, len, base + off) != (ssize_t)len)
				return worker_fail("truncater", "pwrite tail %zu+%zu", off, len);
			memcpy(model + off, buf, len);
			if (off + len > size)
				size = off + len;
		}
		if (fstat(fd, &st) || st.st_size != base + (off_t)size)
			return worker_fail("truncater", "size %lld, expected %lld",
					   (long long)st.st_size, (long long)(base + size));
		if (pread(fd, buf, size, base) != (ssize_t)size || memcmp(buf, model, size))
			return worker_fail("truncater", "the tail differs from the model");
	}
	close(fd);
	return 0;
}

/*
 * Names "k-i" in dir/: create, unlink, rename over each other, hard
 * links. Each name's content is the token it was created with.
 */
static int names(int k, uint64_t seed)
{
	static unsigned long token[NAMES]; /* 0: absent */
	unsigned long next = 1;
	struct rng r = { seed };
	char who[16], a[64], b[64], got[32], want[32];
	int i, fd;

	snprintf(who, sizeof(who), "names%d", k);
	while (time(NULL) < deadline) {
		int x = below(&r, NAMES), y = below(&r, NAMES), what = below(&r, 4);

		snprintf(a, sizeof(a), "dir/%d-%d", k, x);
		snprintf(b, sizeof(b), "dir/%d-%d", k, y);
		if (what == 0 && !token[x]) {
			fd = open(a, O_CREAT | O_EXCL | O_WRONLY, 0644);
			snprintf(want, sizeof(want), "%d:%lu", k, next);
			if (fd < 0 || write(fd, want, strlen(want)) != (ssize_t)strlen(want))
				return worker_fail(who, "create %s", a);
			close(fd);
			token[x] = next++;
		} else if (what == 1 && token[x]) {
			if (unlink(a))
				return worker_fail(who, "unlink %s", a);
			token[x] = 0;
		} else if (what == 2 && token[x] && x != y) {
			if (rename(a, b))
				return worker_fail(who, "rename %s %s", a, b);
			/* Two links of one file: rename does nothing (POSIX). */
			if (token[y] != token[x]) {
				token[y] = token[x];
				token[x] = 0;
			}
		} else if (what == 3 && token[x] && !token[y]) {
			if (link(a, b))
				return worker_fail(who, "link %s %s", a, b);
			token[y] = token[x];
		}
		if (token[x]) {
			ssize_t n;

			fd = open(a, O_RDONLY);
			n = fd < 0 ? -1 : read(fd, got, sizeof(got) - 1);
			if (n < 0)
				return worker_fail(who, "read %s", a);
			close(fd);
			got[n] = 0;
			snprintf(want, sizeof(want), "%d:%lu", k, token[x]);
			if (strcmp(got, want))
				return worker_fail(who, "%s holds '%s', expected '%s'", a, got, want);
		} else if (access(a, F_OK) == 0 || errno != ENOENT) {
			return worker_fail(who, "%s exists but should not", a);
		}
	}
	/* The listing has exactly our names, each once. */
	{
		int seen[NAMES] = { 0 };
		struct dirent *e;
		DIR *d = opendir("dir");
		int kk;

		if (!d)
			return worker_fail(who, "opendir");
		while ((e = readdir(d)))
			if (sscanf(e->d_name, "%d-%d", &kk, &i) == 2 && kk == k && i >= 0 && i < NAMES)
				seen[i]++;
		closedir(d);
		for (i = 0; i < NAMES; i++)
			if (seen[i] != !!token[i])
				return worker_fail(who, "%d-%d listed %d times, expected %d", k, i,
						   seen[i], !!token[i]);
	}
	return 0;
}

static unsigned long long meminfo(const char *key)
{
	char line[128];
	unsigned long long v = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			sscanf(line + strlen(key), ": %llu", &v);
	if (f)
		fclose(f);
	return v * 1024;
}

/*
 * A process holding all but `leave` bytes of the available memory; returns
 * once it holds it.
 */
static pid_t memory_hog(unsigned long long leave)
{
	unsigned long long avail = meminfo("MemAvailable");
	size_t size = avail > leave ? avail - leave : 0;
	int ready[2];
	char c = 0;
	pid_t pid;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid == 0) {
		char *p = size ? mmap(NULL, size, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : NULL;

		if (p == MAP_FAILED)
			_exit(1);
		/* Touched once; without swap it stays put. */
		for (size_t i = 0; i < size; i += BLK)
			p[i] = 1;
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1)
		pid = -1;
	close(ready[0]);
	return pid;
}

static int sysctl(const char *name, const char *value, char *old, size_t oldlen)
{
	char path[128];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/sys/vm/%s", name);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	if (old) {
		n = read(fd, old, oldlen - 1);
		old[n > 0 ? n : 0] = 0;
	}
	n = pwrite(fd, value, strlen(value), 0);
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

TEST_F_TIMEOUT(stress, concurrent_work_under_memory_pressure, 3600)
{
	static const char *const knobs[] = { "dirty_ratio", "dirty_background_ratio",
					     "dirty_expire_centisecs" };
	static const char *const values[] = { "80", "70", "360000" };
	unsigned long long seconds = env_or("RSFS_STRESS_SECONDS", 60);
	unsigned long long seed = env_or("RSFS_SEED", time(NULL) ^ getpid());
	unsigned long long wp_before, wp;
	char saved[3][32], cmd[256];
	pid_t pids[10], hog;
	int i, n = 0, st, failed = 0, rounds;
	int fd;

	TH_LOG("seed %llu, %llu seconds", seed, seconds);
	/* The 2 GiB disk: the streamer alone writes 256 MiB files. */
	ASSERT_EQ(0, use_disk(DISK1));
	self->dev = DISK1;
	ASSERT_EQ(0, mkdir("dir", 0755));
	fd = open("shared", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, (off_t)STRIPE_BLOCKS * BLK));
	close(fd);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, sysctl(knobs[i], values[i], saved[i], sizeof(saved[i])));
	hog = memory_hog(128ULL << 20);
	ASSERT_LT(0, hog);
	TH_LOG("memory left after the hog: %llu MiB", meminfo("MemAvailable") >> 20);
	/* A zero below must mean "never called", not "no such counter". */
	ASSERT_EQ(0, read_counter(DISK1, "writepage_calls", &wp_before));

	deadline = time(NULL) + seconds;
	for (i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd),
			 "rsfsx -q -t %llu -l %d -x remount -s %llu %s/fsx%d | sed 's/^/# /'",
			 seconds, 1 << 20, seed + i, MNT, i);
		if ((pids[n++] = fork()) == 0)
			_exit(run("set -o pipefail; %s", cmd));
	}
	if ((pids[n++] = fork()) == 0)
		_exit(streamer(seed, 192 << 20));
	if ((pids[n++] = fork()) == 0)
		_exit(dirtier(seed + 5, 320 << 20));
	for (i = 0; i < 2; i++)
		if ((pids[n++] = fork()) == 0)
			_exit(striper(i, seed + 10 + i));
	if ((pids[n++] = fork()) == 0)
		_exit(truncater(seed + 20));
	for (i = 0; i < 2; i++)
		if ((pids[n++] = fork()) == 0)
			_exit(names(i, seed + 30 + i));

	for (i = 0; i < n; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			TH_LOG("worker %d failed (status %#x)", i, st);
			failed++;
		}
	}
	/*
	 * Whether reclaim meets a dirty folio before the flusher does is a
	 * race: if it has not happened yet, the dirtier goes on alone, under
	 * the same pressure, for up to four more 30-second rounds.
	 */
	for (i = 0; i < 4 && counter(DISK1, "writepage_calls") == wp_before; i++) {
		pid_t pid;

		deadline = time(NULL) + 30;
		pid = fork();
		if (pid == 0)
			_exit(dirtier(seed + 40 + i, 384 << 20));
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			TH_LOG("the extra dirtier failed (status %#x)", st);
			failed++;
		}
	}
	rounds = i;
	TH_LOG("extra dirtier rounds: %d", rounds);
	EXPECT_EQ(0, kill(hog, SIGKILL));
	waitpid(hog, &st, 0);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, sysctl(knobs[i], saved[i], NULL, 0));
	wp = counter(DISK1, "writepage_calls") - wp_before;
	printf("# report: stress seconds=%llu workers=%d failed=%d writepage_calls=%llu\n", seconds,
	       n, failed, wp);
	EXPECT_EQ(0, failed);
	/*
	 * Whether reclaim wrote dirty rsfs folios itself (->writepage) is up
	 * to vmscan: only kswapd writes file folios, and only one it meets a
	 * second time, still dirty and not yet queued by the flusher, on a
	 * node it has marked dirty (shrink_folio_list() in mm/vmscan.c). Most
	 * runs get there within the extra rounds; a slow machine whose flusher
	 * keeps ahead may not. Such a run has not exercised ->writepage, so
	 * it says so as a skip rather than a pass; the work above was checked
	 * all the same, and a failure there still fails the test.
	 */
	if (!wp && _metadata->exit_code == KSFT_PASS)
		SKIP(return, "reclaim wrote no rsfs folio itself (->writepage) in %d extra rounds",
		     rounds);
}

TEST_HARNESS_MAIN
