// SPDX-License-Identifier: GPL-2.0
/*
 * The data path: file data through the page cache, rsfs's write_begin /
 * write_end, its writepages loop and writepage, and its bios. Data must
 * read back byte for byte from the page cache, after the cache is dropped
 * and after a remount; the writeback rules must be visible in the
 * counters in /sys/kernel/debug/rsfs/<device>/. fsck.rsfs -n runs after
 * every test.
 */
#include "rsfs_test.h"

#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <time.h>

#include "kselftest_harness.h"

#define SLOW_DISK "/dev/vdc"

static unsigned char pattern(unsigned long long off, unsigned int seed)
{
	unsigned long long x = (off + 1) * 0x9e3779b97f4a7c15ULL + seed * 0x2545f4914f6cdd1dULL;

	return (x >> 29) & 0xff;
}

static void fill(unsigned char *buf, size_t len, unsigned long long off, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(off + i, seed);
}

/* The first offset in `len` bytes at `off` of `fd` that does not match. */
static long long verify(int fd, unsigned long long off, size_t len, unsigned int seed)
{
	static unsigned char buf[1 << 20], want[1 << 20];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (pread(fd, buf, n, off) != (ssize_t)n)
			return off;
		fill(want, n, off, seed);
		for (size_t i = 0; i < n; i++)
			if (buf[i] != want[i])
				return off + i;
		off += n;
		len -= n;
	}
	return -1;
}

static int drop_caches(void)
{
	sync();
	return run("echo 3 > /proc/sys/vm/drop_caches");
}

/* Write requests and sectors written, from /sys/block/<dev>/stat. */
static void disk_writes(const char *dev, unsigned long long *reqs, unsigned long long *sectors)
{
	char path[128];
	unsigned long long v[8] = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/%s/stat", dev + 5);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
			   &v[5], &v[6]) != 7)
			v[4] = v[6] = 0;
		fclose(f);
	}
	*reqs = v[4];
	*sectors = v[6];
}

/* Cache flushes the device completed, from /sys/block/<dev>/stat. */
static unsigned long long disk_flushes(const char *dev)
{
	char path[128];
	unsigned long long v[16] = { 0 };
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/sys/block/%s/stat", dev + 5);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i < 16; i++)
		if (fscanf(f, "%llu", &v[i]) != 1)
			break;
	fclose(f);
	return i == 16 ? v[15] : 0;
}

static unsigned long long meminfo_kb(const char *key)
{
	char line[256];
	unsigned long long v = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			sscanf(line + strlen(key), " %llu", &v);
	fclose(f);
	return v;
}

/* Writes `len` bytes of the pattern at `off`, in pieces of `chunk`. */
static int write_pattern(int fd, unsigned long long off, size_t len, size_t chunk, unsigned int seed)
{
	static unsigned char buf[1 << 20];

	while (len) {
		size_t n = len < chunk ? len : chunk;

		if (n > sizeof(buf))
			n = sizeof(buf);
		fill(buf, n, off, seed);
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			return -errno;
		off += n;
		len -= n;
	}
	return 0;
}

RSFS_MOUNTED_FIXTURE(data, (void)0)

TEST_F(data, write_pwrite_writev_read_back)
{
	static unsigned char buf[300000];
	struct iovec iov[3];
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	/* Sequential writes of odd sizes. */
	ASSERT_EQ(0, write_pattern(fd, 0, 1000000, 99991, 1));
	/* pwrite at unaligned offsets, inside and past the end. */
	ASSERT_EQ(0, write_pattern(fd, 4095, 2, 2, 1));
	ASSERT_EQ(0, write_pattern(fd, 123457, 70000, 70000, 1));
	ASSERT_EQ(0, write_pattern(fd, 1000000, 48576, 7, 1));
	/* writev of three pieces. */
	fill(buf, sizeof(buf), 1048576, 1);
	iov[0] = (struct iovec){ buf, 5 };
	iov[1] = (struct iovec){ buf + 5, 100000 };
	iov[2] = (struct iovec){ buf + 100005, sizeof(buf) - 100005 };
	ASSERT_EQ((ssize_t)sizeof(buf), pwritev(fd, iov, 3, 1048576));
	const size_t size = 1048576 + sizeof(buf);

	EXPECT_EQ(-1, verify(fd, 0, size, 1));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, drop_caches());
	fd = open("f", O_RDONLY);
	EXPECT_EQ(-1, verify(fd, 0, size, 1));
	close(fd);
	ASSERT_EQ(0, remount());
	fd = open("f", O_RDONLY);
	EXPECT_EQ(-1, verify(fd, 0, size, 1));
	EXPECT_EQ((off_t)size, lseek(fd, 0, SEEK_END));
	close(fd);
}

TEST_F(data, mmap_stores_reach_the_disk)
{
	const size_t size = 3 * 1048576 + 1234;
	unsigned char *p;
	int fd;

	fd = open("m", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, size));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, size, 0, 7);
	ASSERT_EQ(0, msync(p, size, MS_SYNC));
	ASSERT_EQ(0, munmap(p, size));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, remount());
	fd = open("m", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, verify(fd, 0, size, 7));
	/* And mmap reads see what write(2) wrote. */
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(pattern(size - 1, 7), p[size - 1]);
	EXPECT_EQ(pattern(2000000, 7), p[2000000]);
	munmap(p, size);
	close(fd);
}

TEST_F(data, sparse_files_and_holes)
{
	static unsigned char zero[65536], buf[65536];
	struct stat st;
	int fd;

	fd = open("s", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_pattern(fd, 0, 4096, 4096, 3));
	ASSERT_EQ(0, write_pattern(fd, 100 << 20, 5000, 5000, 3));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((100 << 20) + 5000, st.st_size);
	EXPECT_EQ(3 * 8, st.st_blocks); /* three 4 KiB blocks */
	close(fd);
	ASSERT_EQ(0, remount());
	fd = open("s", O_RDONLY);
	ASSERT_EQ((ssize_t)sizeof(buf), pread(fd, buf, sizeof(buf), 50 << 20));
	EXPECT_EQ(0, memcmp(buf, zero, sizeof(buf)));
	EXPECT_EQ(-1, verify(fd, 0, 4096, 3));
	EXPECT_EQ(-1, verify(fd, 100 << 20, 5000, 3));
	close(fd);
}

/* Truncate down into a block, then up: the bytes in between read as zero. */
TEST_F(data, truncate_exposes_no_stale_data)
{
	static unsigned char zero[16384], buf[16384];
	struct stat st;
	int fd;

	fd = open("t", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_pattern(fd, 0, 5 * 4096, 4096, 4));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, ftruncate(fd, 5000));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(2 * 8, st.st_blocks);
	ASSERT_EQ(0, ftruncate(fd, 16384));
	ASSERT_EQ(16384, pread(fd, buf, 16384, 0));
	EXPECT_EQ(-1, verify(fd, 0, 5000, 4));
	EXPECT_EQ(0, memcmp(buf + 5000, zero, 16384 - 5000));
	close(fd);
	ASSERT_EQ(0, remount());
	fd = open("t", O_RDONLY);
	ASSERT_EQ(16384, pread(fd, buf, 16384, 0));
	EXPECT_EQ(0, memcmp(buf + 5000, zero, 16384 - 5000));
	EXPECT_EQ(-1, verify(fd, 0, 5000, 4));
	close(fd);
}

/* Writeback happens: the counters move, and Dirty drains after sync. */
TEST_F(data, writeback_counters_and_dirty_drain)
{
	unsigned long long folios0 = counter(DISK0, "folios_written");
	unsigned long long bg0 = counter(DISK0, "writepages_sync_none");
	unsigned long long all0 = counter(DISK0, "writepages_sync_all");
	unsigned long long dirty;
	int fd;

	fd = open("w", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_pattern(fd, 0, 32 << 20, 1 << 20, 5));
	dirty = meminfo_kb("Dirty:");
	EXPECT_GT(dirty, 8 * 1024) TH_LOG("Dirty: %llu kB right after the write", dirty);
	sync();
	dirty = meminfo_kb("Dirty:");
	EXPECT_LT(dirty, 1024) TH_LOG("Dirty: %llu kB after sync", dirty);
	EXPECT_GE(counter(DISK0, "folios_written") - folios0, 8192);
	EXPECT_GT(counter(DISK0, "writepages_sync_none") + counter(DISK0, "writepages_sync_all"),
		  bg0 + all0);
	close(fd);
}

/* A sequential 64 MiB write goes out in large bios and requests. */
TEST_F(data, sequential_write_uses_large_bios)
{
	unsigned long long bios0 = counter(DISK0, "bios_written");
	unsigned long long bytes0 = counter(DISK0, "bytes_written");
	unsigned long long allocs0 = counter(DISK0, "data_allocs");
	unsigned long long r0, s0, r1, s1, bios, bytes, allocs;
	int fd;

	disk_writes(DISK0, &r0, &s0);
	fd = open("seq", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_pattern(fd, 0, 64 << 20, 1 << 20, 6));
	/*
	 * Blocks are given a chunk of up to 4 MiB at a time, ahead of the
	 * copy, not one per page in write_begin (16,384 runs here).
	 */
	allocs = counter(DISK0, "data_allocs") - allocs0;
	EXPECT_GE(allocs, 16);
	EXPECT_LE(allocs, 64) TH_LOG("%llu allocations for 64 MiB", allocs);
	ASSERT_EQ(0, fsync(fd));
	disk_writes(DISK0, &r1, &s1);
	bios = counter(DISK0, "bios_written") - bios0;
	bytes = counter(DISK0, "bytes_written") - bytes0;
	ASSERT_GT(bios, 0);
	EXPECT_GE(bytes, 64ULL << 20);
	EXPECT_GE(bytes / bios, 256 * 1024) TH_LOG("%llu bios for %llu bytes", bios, bytes);
	/* The device saw large requests too (metadata writes included). */
	EXPECT_GE((s1 - s0) * 512 / (r1 - r0), 256 * 1024)
		TH_LOG("%llu requests, %llu sectors", r1 - r0, s1 - s0);
	close(fd);
	ASSERT_EQ(0, drop_caches());
	fd = open("seq", O_RDONLY);
	EXPECT_EQ(-1, verify(fd, 0, 64 << 20, 6));
	close(fd);
}

/*
 * A buffered write past the end that stops short (its source faults on
 * the third page) keeps what it copied, and gives back the blocks it was
 * given ahead for the rest: a truncate up then reads zeroes there.
 */
TEST_F(data, a_short_append_gives_back_its_blocks_ahead)
{
	const size_t page = 4096;
	static unsigned char buf[14 * 4096];
	unsigned char *src;
	size_t i = 0;
	int fd;

	src = mmap(NULL, 16 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	fill(src, 2 * page, 1 << 20, 33);
	ASSERT_EQ(0, mprotect(src + 2 * page, 14 * page, PROT_NONE));
	fd = open("short", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 1 << 20));
	EXPECT_EQ((ssize_t)(2 * page), pwrite(fd, src, 16 * page, 1 << 20));
	EXPECT_EQ((1 << 20) + 2 * page, (size_t)lseek(fd, 0, SEEK_END));
	/* The two blocks written, no more: 8 KiB in 512-byte units. */
	EXPECT_EQ(16, blocks_of(fd));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, ftruncate(fd, (1 << 20) + 16 * page));
	EXPECT_EQ(16, blocks_of(fd));
	close(fd);
	ASSERT_EQ(0, drop_caches());
	fd = open("short", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, verify(fd, 1 << 20, 2 * page, 33));
	ASSERT_EQ((ssize_t)sizeof(buf), pread(fd, buf, sizeof(buf), (1 << 20) + 2 * page));
	while (i < sizeof(buf) && !buf[i])
		i++;
	EXPECT_EQ(sizeof(buf), i) TH_LOG("byte %zu past the short write is not zero", i);
	close(fd);
	munmap(src, 16 * page);
}

/*
 * A short copy inside a folio: the source faults 1 KiB into the third
 * block, so write_end gets 1 KiB of a new block that write_begin did not
 * read or zero. It takes none of it and zeroes the folio; the write
 * retries with the 1 KiB, which lands with zeroes after it. The blocks
 * the write is given held another pattern just before (freed by a
 * truncate, they are the allocator's first choice, right after the
 * file's last block): none of it shows, in the page cache or on disk.
 */
TEST_F(data, a_short_copy_into_a_new_block_keeps_what_it_copied)
{
	const size_t page = 4096, start = 1 << 20, done = 2 * page + 1024;
	static unsigned char buf[4 * 4096];
	unsigned char *src;
	size_t i;
	int fd;

	src = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	fd = open("shortcopy", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	/* Old contents on the blocks to come, freed durably. */
	fill(src, 5 * page, start - page, 35);
	ASSERT_EQ((ssize_t)(5 * page), pwrite(fd, src, 5 * page, start - page));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, ftruncate(fd, start));
	ASSERT_EQ(0, fsync(fd));
	sync();
	fill(src, 3 * page, start - 3072, 34);
	ASSERT_EQ(0, mprotect(src + 3 * page, 5 * page, PROT_NONE));
	/* From 3 KiB into the mapping: 9 KiB can be copied, 2 blocks and 1 KiB. */
	EXPECT_EQ((ssize_t)done, pwrite(fd, src + 3072, 6 * page, start));
	EXPECT_EQ(start + done, (size_t)lseek(fd, 0, SEEK_END));
	EXPECT_EQ(32, blocks_of(fd));
	for (int pass = 0; pass < 2; pass++) {
		/* The page cache first, then the disk. */
		EXPECT_EQ(-1, verify(fd, start, done, 34));
		ASSERT_EQ(0, ftruncate(fd, start + 4 * page));
		ASSERT_EQ((ssize_t)(4 * page - done), pread(fd, buf, 4 * page - done, start + done));
		for (i = 0; i < 4 * page - done && !buf[i]; i++)
			;
		EXPECT_EQ(4 * page - done, i) TH_LOG("pass %d: byte %zu past the write is not zero", pass, i);
		ASSERT_EQ(0, ftruncate(fd, start + done));
		ASSERT_EQ(0, fsync(fd));
		ASSERT_EQ(0, drop_caches());
	}
	close(fd);
	munmap(src, 8 * page);
}

/*
 * fsync of an append: the data, then the journal's commit, which costs a
 * flush, one write of the log and a flush; the metadata goes home after
 * fsync returns, made durable by the next commit's first flush. (It once
 * waited for the log, then for the commit block between two flushes,
 * then for the homes and a third flush.)
 */
TEST_F(data, an_fsync_commits_with_two_flushes)
{
	enum { APPENDS = 32 };
	static unsigned char buf[4096];
	unsigned long long f0, f1, r0, s0, r1, s1;
	int fd, i;

	fd = open("appends", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fsync(fd));
	f0 = disk_flushes(DISK0);
	disk_writes(DISK0, &r0, &s0);
	for (i = 0; i < APPENDS; i++) {
		fill(buf, sizeof(buf), (unsigned long long)i * sizeof(buf), 21);
		ASSERT_EQ((ssize_t)sizeof(buf), write(fd, buf, sizeof(buf)));
		ASSERT_EQ(0, fsync(fd));
	}
	f1 = disk_flushes(DISK0);
	disk_writes(DISK0, &r1, &s1);
	/* Every fsync flushes: the count is real. */
	EXPECT_GE(f1 - f0, APPENDS) TH_LOG("%llu flushes", f1 - f0);
	EXPECT_LE(f1 - f0, 2 * APPENDS) TH_LOG("%llu flushes for %d fsyncs", f1 - f0, APPENDS);
	TH_LOG("%d fsyncs: %llu flushes, %llu write requests", APPENDS, f1 - f0, r1 - r0);
	close(fd);
	/* What fsync promised is there after the homes have gone out. */
	ASSERT_EQ(0, drop_caches());
	fd = open("appends", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, verify(fd, 0, APPENDS * sizeof(buf), 21));
	close(fd);
}

/*
 * A file larger than the guest's memory, with the dirty limits raised so
 * that dirty pages fill memory and reclaim has to write them itself
 * (->writepage), besides the flusher.
 */
TEST_F_TIMEOUT(data, file_larger_than_memory, 900)
{
	unsigned long long total = meminfo_kb("MemTotal:") * 1024;
	unsigned long long size = total + total / 4;
	int fd;

	ASSERT_EQ(0, use_disk(DISK1));
	self->dev = DISK1;
	ASSERT_EQ(0, run("echo 90 > /proc/sys/vm/dirty_ratio; echo 80 > /proc/sys/vm/dirty_background_ratio"));
	fd = open("huge", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, write_pattern(fd, 0, size, 1 << 20, 8));
	EXPECT_EQ(0, fsync(fd));
	ASSERT_EQ(0, run("echo 20 > /proc/sys/vm/dirty_ratio; echo 10 > /proc/sys/vm/dirty_background_ratio"));
	TH_LOG("wrote %llu MiB with %llu MiB of memory; writepage calls: %llu, activated: %llu",
	       size >> 20, total >> 20, counter(DISK1, "writepage_calls"), counter(DISK1, "activated"));
	ASSERT_EQ(0, drop_caches());
	EXPECT_EQ(-1, verify(fd, 0, size, 8));
	close(fd);
}

/*
 * The writeback rules of write_cache_pages (its kernel-doc in
 * mm/page-writeback.c) on a slow disk (writes throttled to
 * 1 MiB/s), where folios stay under writeback long enough to catch them:
 * WB_SYNC_NONE skips a dirty folio already under writeback, WB_SYNC_ALL
 * waits for it and writes it again, so the newer data is on disk.
 */
TEST_F_TIMEOUT(data, sync_all_waits_for_folios_under_writeback, 120)
{
	unsigned char newer[4096];
	int fd;

	ASSERT_EQ(0, use_disk(SLOW_DISK));
	self->dev = SLOW_DISK;
	fd = open("slow", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_pattern(fd, 0, 6 << 20, 1 << 20, 9));
	/* Start writeback of all of it (WB_SYNC_NONE): about six seconds. */
	ASSERT_EQ(0, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	/* Dirty the first folio again while it is under writeback. */
	fill(newer, sizeof(newer), 0, 10);
	ASSERT_EQ(4096, pwrite(fd, newer, 4096, 0));
	unsigned long long skipped = counter(SLOW_DISK, "skipped_writeback");

	ASSERT_EQ(0, sync_file_range(fd, 0, 4096, SYNC_FILE_RANGE_WRITE));
	EXPECT_GT(counter(SLOW_DISK, "skipped_writeback"), skipped);

	unsigned long long waited = counter(SLOW_DISK, "waited_writeback");

	ASSERT_EQ(0, fsync(fd));
	EXPECT_GT(counter(SLOW_DISK, "waited_writeback"), waited);
	close(fd);
	ASSERT_EQ(0, remount_dev(SLOW_DISK));
	fd = open("slow", O_RDONLY);
	EXPECT_EQ(-1, verify(fd, 0, 4096, 10));
	EXPECT_EQ(-1, verify(fd, 4096, (6 << 20) - 4096, 9));
	close(fd);
}

/* fsync finishes in bounded time while another process keeps dirtying. */
TEST_F_TIMEOUT(data, fsync_is_not_livelocked, 300)
{
	struct timespec a, b;
	pid_t child;
	int fd, i;

	fd = open("busy", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_pattern(fd, 0, 8 << 20, 1 << 20, 11));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		for (unsigned int s = 0;; s++)
			if (write_pattern(fd, 0, 8 << 20, 65536, s))
				_exit(1);
	}
	for (i = 0; i < 3; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		EXPECT_EQ(0, fsync(fd));
		clock_gettime(CLOCK_MONOTONIC, &b);
		EXPECT_LT(b.tv_sec - a.tv_sec, 60) TH_LOG("fsync %d took %ld s", i, (long)(b.tv_sec - a.tv_sec));
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	EXPECT_GT(counter(DISK0, "tagged_walks"), 0);
	close(fd);
}

/*
 * An append copies from a mapping of another rsfs file whose pages are not
 * in memory, so the copy faults on that file (its invalidate lock, shared)
 * inside the append's handle; meanwhile holes are punched in that file
 * (its invalidate lock, exclusive) and syncs wait for handles to close.
 * Hole punching once waited for the handle gate with the invalidate lock
 * held, which could close the circle.
 */
TEST_F_TIMEOUT(data, appends_from_a_mapping_while_holes_are_punched, 600)
{
	const size_t src_size = 8 << 20, chunk = 1 << 20;
	struct timespec start, now;
	pid_t puncher, syncer;
	unsigned char *map;
	int src, dst, rounds = 0;

	src = open("source", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, src);
	ASSERT_EQ(0, write_pattern(src, 0, src_size, 1 << 20, 40));
	ASSERT_EQ(0, fsync(src));
	dst = open("appended", O_CREAT | O_RDWR | O_APPEND, 0644);
	ASSERT_LE(0, dst);
	puncher = fork();
	ASSERT_LE(0, puncher);
	if (puncher == 0) {
		for (unsigned int i = 0;; i++) {
			off_t at = (off_t)(i * 7 % (src_size / 65536)) * 65536;

			if (fallocate(src, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, 65536))
				_exit(1);
		}
	}
	syncer = fork();
	ASSERT_LE(0, syncer);
	if (syncer == 0) {
		for (;;)
			if (fsync(src))
				_exit(1);
	}
	map = mmap(NULL, src_size, PROT_READ, MAP_SHARED, src, 0);
	ASSERT_NE(MAP_FAILED, map);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		size_t at = (rounds * chunk) % src_size;

		/* Out of memory, so that the copy below faults them in. */
		EXPECT_EQ(0, posix_fadvise(src, 0, src_size, POSIX_FADV_DONTNEED));
		ASSERT_EQ((ssize_t)chunk, write(dst, map + at, chunk));
		if (++rounds % 16 == 0)
			ASSERT_EQ(0, ftruncate(dst, 0));
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < 20);
	TH_LOG("%d appends of 1 MiB", rounds);
	EXPECT_GT(rounds, 0);
	kill(puncher, SIGKILL);
	kill(syncer, SIGKILL);
	waitpid(puncher, NULL, 0);
	waitpid(syncer, NULL, 0);
	munmap(map, src_size);
	close(dst);
	close(src);
}

/* O_DIRECT: reads and writes bypass the cache, and mix with buffered I/O. */
TEST_F(data, direct_io_and_mixed_access)
{
	unsigned long long fallbacks = counter(DISK0, "direct_fallbacks");
	unsigned long long allocs = counter(DISK0, "direct_allocs");
	unsigned char *buf;
	int fd, bfd;

	ASSERT_EQ(0, posix_memalign((void **)&buf, 4096, 1 << 20));
	fd = open("d", O_CREAT | O_RDWR | O_DIRECT, 0644);
	ASSERT_LE(0, fd);
	bfd = open("d", O_RDWR);
	ASSERT_LE(0, bfd);
	/*
	 * Extending direct writes allocate directly, a run at a time: on an
	 * empty disk, 1 MiB is one run (it was 256 mappings of one block).
	 */
	fill(buf, 1 << 20, 0, 12);
	ASSERT_EQ(1 << 20, pwrite(fd, buf, 1 << 20, 0));
	EXPECT_EQ(-1, verify(bfd, 0, 1 << 20, 12));
	EXPECT_GE(2, counter(DISK0, "direct_allocs") - allocs);
	EXPECT_EQ(2048, blocks_of(fd));
	/* A buffered write, then a direct read of it: the direct read sees it. */
	ASSERT_EQ(0, write_pattern(bfd, 8192, 4096, 4096, 13));
	ASSERT_EQ(4096, pread(fd, buf, 4096, 8192));
	fill(buf + 8192, 4096, 8192, 13);
	EXPECT_EQ(0, memcmp(buf, buf + 8192, 4096));
	/* A direct overwrite, then a buffered read: it sees the new data. */
	fill(buf, 4096, 65536, 14);
	ASSERT_EQ(4096, pwrite(fd, buf, 4096, 65536));
	EXPECT_EQ(-1, verify(bfd, 65536, 4096, 14));
	/* A direct write into a hole inside the file falls back to buffered. */
	ASSERT_EQ(0, ftruncate(bfd, 4 << 20));
	fill(buf, 8192, 2 << 20, 15);
	ASSERT_EQ(8192, pwrite(fd, buf, 8192, 2 << 20));
	EXPECT_GT(counter(DISK0, "direct_fallbacks"), fallbacks);
	EXPECT_EQ(-1, verify(bfd, 2 << 20, 8192, 15));
	/* Unaligned direct I/O is refused. */
	EXPECT_EQ(-1, pwrite(fd, buf + 1, 4096, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, pread(fd, buf, 100, 3));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	close(bfd);
	ASSERT_EQ(0, remount());
	fd = open("d", O_RDONLY);
	EXPECT_EQ(-1, verify(fd, 2 << 20, 8192, 15));
	EXPECT_EQ(-1, verify(fd, 65536, 4096, 14));
	EXPECT_EQ(-1, verify(fd, 8192, 4096, 13));
	close(fd);
	free(buf);
}

TEST_F(data, seek_data_and_hole)
{
	int fd = open("h", O_CREAT | O_RDWR, 0644);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_pattern(fd, 1 << 20, 8192, 8192, 16));
	ASSERT_EQ(0, write_pattern(fd, 3 << 20, 100, 100, 16));
	EXPECT_EQ(1 << 20, lseek(fd, 0, SEEK_DATA));
	EXPECT_EQ(0, lseek(fd, 0, SEEK_HOLE));
	EXPECT_EQ((1 << 20) + 8192, lseek(fd, 1 << 20, SEEK_HOLE));
	EXPECT_EQ(3 << 20, lseek(fd, (1 << 20) + 8192, SEEK_DATA));
	EXPECT_EQ((3 << 20) + 100, lseek(fd, 3 << 20, SEEK_HOLE));
	EXPECT_EQ(-1, lseek(fd, (3 << 20) + 100, SEEK_DATA));
	EXPECT_EQ(ENXIO, errno);
	close(fd);
}

TEST_F(data, fallocate_modes)
{
	static unsigned char zero[65536], buf[65536];
	struct stat st;
	int fd = open("a", O_CREAT | O_RDWR, 0644);

	ASSERT_LE(0, fd);
	/* Mode 0 grows the file; the space reads as zeroes. */
	ASSERT_EQ(0, fallocate(fd, 0, 0, 65536));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(65536, st.st_size);
	EXPECT_EQ(128, st.st_blocks);
	ASSERT_EQ(65536, pread(fd, buf, 65536, 0));
	EXPECT_EQ(0, memcmp(buf, zero, 65536));
	/* KEEP_SIZE allocates past the end without growing the file. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 65536, 65536));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(65536, st.st_size);
	EXPECT_EQ(256, st.st_blocks);
	/* (Collapsing and inserting ranges: vfs.collapse_and_insert_range.) */
	/* Writing into the preallocated space, and past it. */
	ASSERT_EQ(0, write_pattern(fd, 60000, 20000, 20000, 17));
	close(fd);
	ASSERT_EQ(0, remount());
	fd = open("a", O_RDONLY);
	ASSERT_EQ(60000, pread(fd, buf, 60000, 0));
	EXPECT_EQ(0, memcmp(buf, zero, 60000));
	EXPECT_EQ(-1, verify(fd, 60000, 20000, 17));
	/* Truncating frees the blocks past the end, preallocated ones too. */
	close(fd);
	ASSERT_EQ(0, truncate("a", 4096));
	ASSERT_EQ(0, stat("a", &st));
	EXPECT_EQ(8, st.st_blocks);
}

TEST_HARNESS_MAIN
