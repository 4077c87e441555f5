// SPDX-License-Identifier: GPL-2.0
/*
 * The guest half of `make bench` (bench/bench.py): one benchmark row on one
 * filesystem (or the raw device), printed as
 *   RESULT <row> <fs> <metric-value> <write-requests> <avg-request-KiB> <cpu-ms-per-MiB>
 * with "-" for what does not apply. The write requests and their size come
 * from /sys/block/<dev>/stat, the CPU time from /proc/stat (all CPUs, all
 * tasks: the flusher's work counts), both over the timed part only.
 *
 *   rsfsbench ROW FS DIR DEV       DIR: the mounted filesystem; DEV: its disk
 *   rsfsbench ROW tmpfs DIR -      a tmpfs: no disk, so no write requests
 *   rsfsbench ROW raw - DEV        the raw device with O_DIRECT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024ULL * 1024)

static const char *row, *fs, *dir, *dev;
static unsigned long long req0, sec0, cpu0;
static double t0;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "rsfsbench %s %s: %s: %s\n", row, fs, what, strerror(errno));
	exit(1);
}

static void disk_writes(unsigned long long *reqs, unsigned long long *sectors)
{
	char path[128];
	unsigned long long v[7] = { 0 };
	FILE *f;

	if (!strcmp(dev, "-")) {
		*reqs = *sectors = 0;
		return;
	}
	snprintf(path, sizeof(path), "/sys/block/%s/stat", strrchr(dev, '/') + 1);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
			 &v[5], &v[6]) != 7)
		die("reading the disk statistics");
	fclose(f);
	*reqs = v[4];
	*sectors = v[6];
}

/* Busy jiffies of all CPUs (user, nice, system, irq, softirq). */
static unsigned long long cpu_jiffies(void)
{
	unsigned long long u, n, s, idle, io, irq, sirq;
	FILE *f = fopen("/proc/stat", "r");

	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &s, &idle, &io, &irq,
			 &sirq) != 7)
		die("reading /proc/stat");
	fclose(f);
	return u + n + s + irq + sirq;
}

static void drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3", 1) != 1)
		die("drop_caches");
	close(fd);
}

static void start(void)
{
	disk_writes(&req0, &sec0);
	cpu0 = cpu_jiffies();
	t0 = now();
}

/* Ends the timed part; prints the row with `value` (or a preset). */
static void finish(double value, double mib, int show_requests)
{
	unsigned long long req1, sec1, cpu1 = cpu_jiffies();
	double cpu_ms = (cpu1 - cpu0) * 1000.0 / sysconf(_SC_CLK_TCK);

	disk_writes(&req1, &sec1);
	printf("RESULT %s %s %.3f", row, fs, value);
	if (show_requests && req1 > req0)
		printf(" %llu %.1f", req1 - req0, (sec1 - sec0) * 512.0 / 1024 / (req1 - req0));
	else
		printf(" - -");
	if (mib > 0)
		printf(" %.3f\n", cpu_ms / mib);
	else
		printf(" -\n");
	fflush(stdout);
}

static char *path(const char *name)
{
	static char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void *buffer(size_t len, int c)
{
	void *b;

	if (posix_memalign(&b, 4096, len))
		die("memory");
	memset(b, c, len);
	return b;
}

/* Writes `total` bytes in 1 MiB pieces from the start of `fd`, then fsyncs: timed. */
static void write_and_fsync(int fd, const void *buf, unsigned long long total)
{
	if (fd < 0)
		die("open");
	drop_caches();
	start();
	for (unsigned long long off = 0; off < total; off += MiB)
		if (pwrite(fd, buf, MiB, off) != (ssize_t)MiB)
			die("write");
	if (fsync(fd))
		die("fsync");
	finish(total / MiB / (now() - t0), total / MiB, 1);
	close(fd);
}

static void seq_write(void)
{
	const unsigned long long total = 1024 * MiB;
	void *buf = buffer(MiB, 'S');
	int raw = !strcmp(fs, "raw");
	int fd = raw ? open(dev, O_WRONLY | O_DIRECT) : open(path("seq"), O_CREAT | O_TRUNC | O_WRONLY, 0644);

	write_and_fsync(fd, buf, total);
}

/* 512 MiB of 1 MiB O_DIRECT writes to a new file (or the raw device), then fsync. */
static void dio_write(void)
{
	const unsigned long long total = 512 * MiB;
	void *buf = buffer(MiB, 'D');
	int raw = !strcmp(fs, "raw");
	int fd = raw ? open(dev, O_WRONLY | O_DIRECT)
		     : open(path("dio"), O_CREAT | O_TRUNC | O_WRONLY | O_DIRECT, 0644);

	write_and_fsync(fd, buf, total);
}

static void cold_read(void)
{
	const unsigned long long total = 1024 * MiB;
	void *buf = buffer(MiB, 0);
	int raw = !strcmp(fs, "raw");
	int fd = raw ? open(dev, O_RDONLY | O_DIRECT) : open(path("seq"), O_RDONLY);

	if (fd < 0)
		die("open (run seq_write_fsync first)");
	drop_caches();
	start();
	for (unsigned long long off = 0; off < total; off += MiB)
		if (pread(fd, buf, MiB, off) != (ssize_t)MiB)
			die("read");
	finish(total / MiB / (now() - t0), total / MiB, 0);
	close(fd);
}

static void random_overwrite(void)
{
	const unsigned long long size = 256 * MiB;
	void *big = buffer(MiB, 'P'), *buf = buffer(4096, 'R');
	uint64_t x = 88172645463325252ULL;
	int fd = open(path("rand"), O_CREAT | O_TRUNC | O_RDWR, 0644);

	if (fd < 0)
		die("open");
	for (unsigned long long off = 0; off < size; off += MiB)
		if (pwrite(fd, big, MiB, off) != (ssize_t)MiB)
			die("prefill");
	if (fsync(fd))
		die("fsync");
	drop_caches();
	start();
	for (int i = 0; i < 65536; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (pwrite(fd, buf, 4096, (x % (size / 4096)) * 4096) != 4096)
			die("write");
	}
	if (fsync(fd))
		die("fsync");
	finish(256.0 / (now() - t0), 256, 1);
	close(fd);
}

static void create_files(void)
{
	void *buf = buffer(4096, 'C');
	char name[64];

	snprintf(name, sizeof(name), "%s/files", dir);
	if (mkdir(name, 0755) && errno != EEXIST)
		die("mkdir");
	start();
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "%s/files/f%05d", dir, i);
		int fd = open(name, O_CREAT | O_TRUNC | O_WRONLY, 0644);

		if (fd < 0 || write(fd, buf, 4096) != 4096)
			die("create");
		close(fd);
	}
	sync();
	finish(10000 / (now() - t0), 10000 * 4096.0 / MiB, 1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void fsync_latency(void)
{
	static double lat[1000];
	void *buf = buffer(4096, 'L');
	int fd = open(path("append"), O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);

	if (fd < 0)
		die("open");
	start();
	for (int i = 0; i < 1000; i++) {
		double a = now();

		if (write(fd, buf, 4096) != 4096 || fsync(fd))
			die("append");
		lat[i] = (now() - a) * 1000;
	}
	qsort(lat, 1000, sizeof(lat[0]), cmp_double);
	row = "fsync_append_p50";
	finish(lat[499], 1000 * 4096.0 / MiB, 1);
	row = "fsync_append_p99";
	printf("RESULT %s %s %.3f - - -\n", row, fs, lat[989]);
	close(fd);
}

static void mmap_msync(void)
{
	const size_t size = 256 * MiB;
	int fd = open(path("mapped"), O_CREAT | O_TRUNC | O_RDWR, 0644);
	char *p;

	if (fd < 0 || ftruncate(fd, size))
		die("open");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	start();
	memset(p, 'M', size);
	if (msync(p, size, MS_SYNC))
		die("msync");
	finish(256.0 / (now() - t0), 256, 1);
	munmap(p, size);
	close(fd);
}

static unsigned long long dirty_kb(void)
{
	char line[256];
	unsigned long long v = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Dirty:", 6))
			sscanf(line + 6, " %llu", &v);
	if (f)
		fclose(f);
	return v;
}

/* A streaming writer that keeps dirty memory bounded with sync_file_range. */
static void sfr_stream(void)
{
	const unsigned long long total = 512 * MiB, chunk = 8 * MiB;
	void *buf = buffer(chunk, 'W');
	unsigned long long max_dirty = 0;
	int fd = open(path("stream"), O_CREAT | O_TRUNC | O_WRONLY, 0644);

	if (fd < 0)
		die("open");
	start();
	for (unsigned long long off = 0; off < total; off += chunk) {
		if (pwrite(fd, buf, chunk, off) != (ssize_t)chunk)
			die("write");
		if (sync_file_range(fd, off, chunk, SYNC_FILE_RANGE_WRITE))
			die("sync_file_range");
		if (off >= chunk &&
		    sync_file_range(fd, off - chunk, chunk,
				    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					    SYNC_FILE_RANGE_WAIT_AFTER))
			die("sync_file_range");
		if (dirty_kb() > max_dirty)
			max_dirty = dirty_kb();
	}
	if (fdatasync(fd))
		die("fdatasync");
	finish(total / MiB / (now() - t0), total / MiB, 1);
	printf("RESULT sfr_stream_dirty_kib %s %llu - - -\n", fs, max_dirty);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: rsfsbench ROW FS DIR DEV\n");
		return 2;
	}
	row = argv[1], fs = argv[2], dir = argv[3], dev = argv[4];
	if (!strcmp(row, "seq_write_fsync"))
		seq_write();
	else if (!strcmp(row, "cold_seq_read"))
		cold_read();
	else if (!strcmp(row, "dio_seq_write_fsync"))
		dio_write();
	else if (!strcmp(row, "random_4k_overwrite_fsync"))
		random_overwrite();
	else if (!strcmp(row, "create_10k_files_sync"))
		create_files();
	else if (!strcmp(row, "fsync_append"))
		fsync_latency();
	else if (!strcmp(row, "mmap_write_msync"))
		mmap_msync();
	else if (!strcmp(row, "sfr_stream"))
		sfr_stream();
	else
		return 2;
	return 0;
}
