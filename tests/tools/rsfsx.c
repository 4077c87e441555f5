// SPDX-License-Identifier: GPL-2.0
/*
 * rsfsx: a random operation exerciser for one file, in the manner of
 * fstests' fsx. Every operation is also applied to an in-memory model of
 * the file, and after every operation the file's size and every byte of it
 * are compared with the model.
 *
 *   rsfsx [options] FILE
 *     -s SEED      seed of the operation stream (default: from the clock;
 *                  always printed, and the same seed gives the same run)
 *     -n OPS       number of operations (default 10000)
 *     -t SECONDS   run for this long instead of -n (soak runs)
 *     -l BYTES     largest file size (default 256 KiB)
 *     -d DEV -m DIR   the device and mount point of the filesystem that
 *                  holds FILE: enables the remount operation
 *     -x NAMES     leave these operations out (comma separated)
 *     -E           the filesystem is (nearly) full: ENOSPC from an
 *                  allocating operation is an expected outcome; the
 *                  model follows what the operation did before it
 *     -q           print only the summary
 *
 * Operations: read, write (lseek + write), pwrite (anywhere below the size
 * limit, so also past EOF), mapread, mapwrite (+ msync), truncdown,
 * truncup, falloc (mode 0 or KEEP_SIZE), dioread, diowrite (O_DIRECT,
 * 512- or 4096-aligned), fsync, fdatasync, sfr (sync_file_range with random
 * flags), dropcaches, reopen (close and open), remount.
 *
 * On a mismatch it prints the seed, the last operations and the first
 * differing offset, and exits 1. The last line is the summary:
 *   rsfsx: seed S ops N mismatches M enospc E ...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_IO (64 * 1024)
#define HISTORY 64

enum op {
	OP_READ, OP_WRITE, OP_PWRITE, OP_MAPREAD, OP_MAPWRITE, OP_TRUNCDOWN,
	OP_TRUNCUP, OP_FALLOC, OP_DIOREAD, OP_DIOWRITE, OP_FSYNC, OP_FDATASYNC,
	OP_SFR, OP_DROPCACHES, OP_REOPEN, OP_REMOUNT, OP_COUNT
};

static const struct {
	const char *name;
	unsigned int weight; /* out of the sum of all weights */
} ops[OP_COUNT] = {
	[OP_READ] = { "read", 120 },
	[OP_WRITE] = { "write", 80 },
	[OP_PWRITE] = { "pwrite", 120 },
	[OP_MAPREAD] = { "mapread", 60 },
	[OP_MAPWRITE] = { "mapwrite", 60 },
	[OP_TRUNCDOWN] = { "truncdown", 30 },
	[OP_TRUNCUP] = { "truncup", 30 },
	[OP_FALLOC] = { "falloc", 40 },
	[OP_DIOREAD] = { "dioread", 50 },
	[OP_DIOWRITE] = { "diowrite", 50 },
	[OP_FSYNC] = { "fsync", 25 },
	[OP_FDATASYNC] = { "fdatasync", 25 },
	[OP_SFR] = { "sfr", 40 },
	[OP_DROPCACHES] = { "dropcaches", 4 },
	[OP_REOPEN] = { "reopen", 6 },
	[OP_REMOUNT] = { "remount", 2 },
};

/* One line of the history printed on a failure. */
struct record {
	unsigned long n;
	enum op op;
	long long off, len;
	long long ret;
	int err;
	unsigned int flags;
};

static struct {
	const char *path, *dev, *mnt;
	uint64_t seed, rng;
	unsigned long nops, done;
	unsigned int seconds;
	size_t maxlen;
	bool excluded[OP_COUNT], enospc_ok, quiet;
	unsigned long count[OP_COUNT], enospc, short_writes;
	int fd, dfd;
	unsigned char *model, *buf, *dbuf;
	size_t size;
	struct record hist[HISTORY];
	sigjmp_buf bus_jmp;
	volatile sig_atomic_t in_map;
} x;

static uint64_t rnd(void)
{
	/* xorshift64* */
	x.rng ^= x.rng >> 12;
	x.rng ^= x.rng << 25;
	x.rng ^= x.rng >> 27;
	return x.rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void fill_random(unsigned char *p, size_t len)
{
	uint64_t v;

	while (len >= 8) {
		v = rnd();
		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	v = rnd();
	memcpy(p, &v, len);
}

static struct record *rec(enum op op, long long off, long long len)
{
	struct record *r = &x.hist[x.done % HISTORY];

	*r = (struct record){ .n = x.done, .op = op, .off = off, .len = len };
	x.count[op]++;
	return r;
}

static void history(void)
{
	unsigned long i, first = x.done >= HISTORY ? x.done - HISTORY + 1 : 0;

	printf("rsfsx: the last %lu operations (seed %llu):\n", x.done - first + 1,
	       (unsigned long long)x.seed);
	for (i = first; i <= x.done; i++) {
		struct record *r = &x.hist[i % HISTORY];

		printf("rsfsx:   %7lu %-10s off %#9llx len %#8llx flags %#x -> %lld%s%s\n", r->n,
		       ops[r->op].name, r->off, r->len, r->flags, r->ret, r->err ? " " : "",
		       r->err ? strerror(r->err) : "");
	}
}

static void summary(unsigned long mismatches)
{
	int i;

	printf("rsfsx: seed %llu ops %lu mismatches %lu enospc %lu short-writes %lu\n",
	       (unsigned long long)x.seed, x.done, mismatches, x.enospc, x.short_writes);
	printf("rsfsx: per operation:");
	for (i = 0; i < OP_COUNT; i++)
		printf(" %s=%lu", ops[i].name, x.count[i]);
	printf("\n");
	fflush(stdout);
}

static void __attribute__((noreturn)) fail(const char *fmt, ...)
{
	va_list ap;

	printf("rsfsx: FAILED at operation %lu (%s), seed %llu: ", x.done,
	       ops[x.hist[x.done % HISTORY].op].name, (unsigned long long)x.seed);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	history();
	summary(1);
	exit(1);
}

/* The operation's outcome; errors other than an allowed ENOSPC fail. */
static bool outcome(struct record *r, long long ret, bool may_enospc)
{
	r->ret = ret;
	r->err = ret < 0 ? errno : 0;
	if (ret >= 0)
		return true;
	if (r->err == ENOSPC && may_enospc && x.enospc_ok) {
		x.enospc++;
		return false;
	}
	fail("%s returned %s", ops[r->op].name, strerror(r->err));
}

static void open_file(void)
{
	x.fd = open(x.path, O_RDWR | O_CREAT, 0644);
	if (x.fd < 0)
		fail("open %s: %s", x.path, strerror(errno));
	x.dfd = open(x.path, O_RDWR | O_DIRECT);
	if (x.dfd < 0)
		fail("open %s with O_DIRECT: %s", x.path, strerror(errno));
}

static void close_file(void)
{
	if (close(x.fd) || close(x.dfd))
		fail("close: %s", strerror(errno));
}

/* Compares `len` bytes read at `off` with the model. */
static void compare(const unsigned char *got, size_t off, size_t len, const char *how)
{
	size_t i;

	if (!memcmp(got, x.model + off, len))
		return;
	for (i = 0; i < len && got[i] == x.model[off + i]; i++)
		;
	fail("%s: first difference at offset %#zx: file has %#04x, model %#04x (size %#zx)", how,
	     off + i, got[i], x.model[off + i], x.size);
}

/* The check after every operation: the size, then every byte. */
static void verify(void)
{
	struct stat st;
	size_t off = 0;
	ssize_t n;

	if (fstat(x.fd, &st))
		fail("fstat: %s", strerror(errno));
	if ((size_t)st.st_size != x.size)
		fail("size is %#llx, the model says %#zx", (long long)st.st_size, x.size);
	while (off < x.size) {
		size_t want = x.size - off < x.maxlen ? x.size - off : x.maxlen;

		n = pread(x.fd, x.buf, want, off);
		if (n <= 0)
			fail("verify: pread at %#zx returned %zd (%s)", off, n,
			     n < 0 ? strerror(errno) : "early EOF");
		compare(x.buf, off, n, "verify");
		off += n;
	}
	n = pread(x.fd, x.buf, 1, x.size);
	if (n != 0)
		fail("verify: pread at EOF returned %zd", n);
}

/* Applies a successful write of `len` bytes at `off` to the model. */
static void model_write(const unsigned char *data, size_t off, size_t len)
{
	memcpy(x.model + off, data, len);
	if (off + len > x.size)
		x.size = off + len;
}

static void model_resize(size_t size)
{
	if (size < x.size)
		memset(x.model + size, 0, x.size - size);
	x.size = size;
}

static void pick_range(size_t *off, size_t *len, size_t limit)
{
	*len = 1 + below(MAX_IO);
	*off = below(limit);
	if (*off + *len > x.maxlen)
		*len = x.maxlen - *off;
}

static void op_write(enum op op)
{
	size_t off, len;
	ssize_t n;
	struct record *r;

	/* Mostly near or past the end, sometimes anywhere below the limit. */
	pick_range(&off, &len, below(4) ? x.maxlen : x.size + 1);
	r = rec(op, off, len);
	fill_random(x.buf, len);
	if (op == OP_WRITE) {
		if (lseek(x.fd, off, SEEK_SET) != (off_t)off)
			fail("lseek: %s", strerror(errno));
		n = write(x.fd, x.buf, len);
	} else {
		n = pwrite(x.fd, x.buf, len, off);
	}
	if (!outcome(r, n, true))
		return;
	if ((size_t)n != len) {
		if (!x.enospc_ok)
			fail("short write: %zd of %zu bytes", n, len);
		x.short_writes++;
	}
	model_write(x.buf, off, n);
}

static void op_read(void)
{
	size_t off, len, expect;
	ssize_t n;
	struct record *r;

	pick_range(&off, &len, x.maxlen);
	r = rec(OP_READ, off, len);
	n = pread(x.fd, x.buf, len, off);
	outcome(r, n, false);
	expect = off >= x.size ? 0 : (x.size - off < len ? x.size - off : len);
	if ((size_t)n != expect)
		fail("read returned %zd bytes, expected %zu", n, expect);
	compare(x.buf, off, n, "read");
}

static void on_sigbus(int sig)
{
	(void)sig;
	if (x.in_map)
		siglongjmp(x.bus_jmp, 1);
	_exit(3);
}

static void op_mapread(void)
{
	size_t off, len, pgoff, maplen, i;
	unsigned char *p;
	struct record *r;

	if (!x.size) {
		op_read();
		return;
	}
	off = below(x.size);
	len = 1 + below(x.size - off < MAX_IO ? x.size - off : MAX_IO);
	r = rec(OP_MAPREAD, off, len);
	pgoff = off & ~(size_t)(PAGE - 1);
	maplen = off + len - pgoff;
	p = mmap(NULL, maplen, PROT_READ, MAP_SHARED, x.fd, pgoff);
	if (p == MAP_FAILED)
		outcome(r, -1, false);
	memcpy(x.buf, p + (off - pgoff), len);
	compare(x.buf, off, len, "mapread");
	/* The rest of the page that holds EOF reads as zeroes. */
	if (off + len == x.size && x.size % PAGE) {
		munmap(p, maplen);
		maplen = (x.size - pgoff + PAGE - 1) & ~(size_t)(PAGE - 1);
		p = mmap(NULL, maplen, PROT_READ, MAP_SHARED, x.fd, pgoff);
		if (p == MAP_FAILED)
			outcome(r, -1, false);
		for (i = x.size - pgoff; i < maplen; i++)
			if (p[i])
				fail("mapread: byte %#zx past EOF %#zx reads %#04x, not zero", pgoff + i,
				     x.size, p[i]);
	}
	munmap(p, maplen);
	r->ret = len;
}

static void op_mapwrite(void)
{
	size_t off, len, pgoff, maplen;
	volatile size_t done = 0;
	unsigned char *p;
	struct record *r;

	pick_range(&off, &len, below(4) ? x.maxlen : x.size + 1);
	r = rec(OP_MAPWRITE, off, len);
	fill_random(x.buf, len);
	if (off + len > x.size) {
		if (ftruncate(x.fd, off + len))
			outcome(r, -1, false);
		model_resize(off + len);
	}
	pgoff = off & ~(size_t)(PAGE - 1);
	maplen = off + len - pgoff;
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, x.fd, pgoff);
	if (p == MAP_FAILED)
		outcome(r, -1, false);
	/*
	 * A page at a time: when the filesystem is full, the first store to a
	 * page that needs a block raises SIGBUS and stores nothing to that
	 * page, so the model takes exactly the pages before it.
	 */
	if (!sigsetjmp(x.bus_jmp, 1)) {
		x.in_map = 1;
		while (done < len) {
			size_t chunk = PAGE - ((off + done) % PAGE);

			if (chunk > len - done)
				chunk = len - done;
			memcpy(p + (off - pgoff) + done, x.buf + done, chunk);
			done += chunk;
		}
		x.in_map = 0;
	} else {
		x.in_map = 0;
		if (!x.enospc_ok)
			fail("mapwrite: SIGBUS at offset %#zx", off + done);
		x.enospc++;
		r->err = ENOSPC;
	}
	model_write(x.buf, off, done);
	r->flags = below(2) ? MS_SYNC : MS_ASYNC;
	if (msync(p, maplen, r->flags))
		outcome(r, -1, false);
	munmap(p, maplen);
	r->ret = done;
}

static void op_truncate(enum op op)
{
	size_t size = op == OP_TRUNCDOWN ? below(x.size + 1) : x.size + below(x.maxlen - x.size + 1);
	struct record *r = rec(op, size, 0);

	if (!outcome(r, ftruncate(x.fd, size), false))
		return;
	model_resize(size);
}

static void op_falloc(void)
{
	size_t off, len;
	struct record *r;

	pick_range(&off, &len, x.maxlen);
	r = rec(OP_FALLOC, off, len);
	r->flags = below(2) ? FALLOC_FL_KEEP_SIZE : 0;
	if (!outcome(r, fallocate(x.fd, r->flags, off, len), true))
		return;
	if (!r->flags && off + len > x.size)
		model_resize(off + len);
}

static void op_direct(enum op op)
{
	size_t align = below(2) ? 512 : PAGE;
	size_t blocks = x.maxlen / align;
	size_t off = below(blocks) * align;
	size_t len = (1 + below(MAX_IO / align)) * align;
	size_t expect;
	ssize_t n;
	struct record *r;

	if (off + len > x.maxlen)
		len = x.maxlen - off;
	r = rec(op, off, len);
	r->flags = align;
	if (op == OP_DIOWRITE) {
		fill_random(x.dbuf, len);
		n = pwrite(x.dfd, x.dbuf, len, off);
		if (!outcome(r, n, true))
			return;
		if ((size_t)n != len) {
			if (!x.enospc_ok)
				fail("short direct write: %zd of %zu bytes", n, len);
			x.short_writes++;
		}
		model_write(x.dbuf, off, n);
		return;
	}
	n = pread(x.dfd, x.dbuf, len, off);
	outcome(r, n, false);
	expect = off >= x.size ? 0 : (x.size - off < len ? x.size - off : len);
	if ((size_t)n != expect)
		fail("direct read returned %zd bytes, expected %zu", n, expect);
	compare(x.dbuf, off, n, "direct read");
}

static void op_sync(enum op op)
{
	struct record *r = rec(op, 0, 0);
	static const unsigned int sfr_flags[] = {
		SYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WRITE, SYNC_FILE_RANGE_WAIT_AFTER,
	};
	int ret, i;

	if (op == OP_FSYNC) {
		ret = fsync(x.fd);
	} else if (op == OP_FDATASYNC) {
		ret = fdatasync(x.fd);
	} else {
		for (i = 0; i < 3; i++)
			if (below(2))
				r->flags |= sfr_flags[i];
		r->off = below(x.maxlen);
		r->len = below(3) ? below(x.maxlen) : 0; /* 0: to the end */
		ret = sync_file_range(x.fd, r->off, r->len, r->flags);
	}
	outcome(r, ret, false);
}

static void op_dropcaches(void)
{
	struct record *r = rec(OP_DROPCACHES, 0, 0);
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd < 0 || write(fd, "3", 1) != 1)
		outcome(r, -1, false);
	close(fd);
}

static void op_reopen(enum op op)
{
	struct record *r = rec(op, 0, 0);

	close_file();
	if (op == OP_REMOUNT) {
		if (chdir("/"))
			outcome(r, -1, false);
		if (umount(x.mnt))
			fail("umount %s: %s", x.mnt, strerror(errno));
		if (mount(x.dev, x.mnt, "rsfs", 0, NULL))
			fail("mount %s on %s: %s", x.dev, x.mnt, strerror(errno));
	}
	open_file();
}

static enum op pick_op(void)
{
	unsigned int total = 0, v;
	int i;

	for (i = 0; i < OP_COUNT; i++)
		if (!x.excluded[i])
			total += ops[i].weight;
	v = below(total);
	for (i = 0; i < OP_COUNT; i++) {
		if (x.excluded[i])
			continue;
		if (v < ops[i].weight)
			return i;
		v -= ops[i].weight;
	}
	return OP_READ;
}

static void run_one(void)
{
	enum op op = pick_op();

	switch (op) {
	case OP_READ:
		op_read();
		break;
	case OP_WRITE:
	case OP_PWRITE:
		op_write(op);
		break;
	case OP_MAPREAD:
		op_mapread();
		break;
	case OP_MAPWRITE:
		op_mapwrite();
		break;
	case OP_TRUNCDOWN:
	case OP_TRUNCUP:
		op_truncate(op);
		break;
	case OP_FALLOC:
		op_falloc();
		break;
	case OP_DIOREAD:
	case OP_DIOWRITE:
		op_direct(op);
		break;
	case OP_FSYNC:
	case OP_FDATASYNC:
	case OP_SFR:
		op_sync(op);
		break;
	case OP_DROPCACHES:
		op_dropcaches();
		break;
	case OP_REOPEN:
	case OP_REMOUNT:
		op_reopen(op);
		break;
	default:
		break;
	}
	verify();
}

static void exclude(char *list)
{
	char *name;
	int i;

	for (name = strtok(list, ","); name; name = strtok(NULL, ",")) {
		for (i = 0; i < OP_COUNT; i++)
			if (!strcmp(name, ops[i].name))
				break;
		if (i == OP_COUNT) {
			fprintf(stderr, "rsfsx: no operation called '%s'\n", name);
			exit(2);
		}
		x.excluded[i] = true;
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	time_t start, last;
	int c;

	x.seed = time(NULL) ^ ((uint64_t)getpid() << 32);
	x.nops = 10000;
	x.maxlen = 256 * 1024;
	while ((c = getopt(argc, argv, "s:n:t:l:d:m:x:Eq")) != -1) {
		switch (c) {
		case 's':
			x.seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			x.nops = strtoul(optarg, NULL, 0);
			break;
		case 't':
			x.seconds = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			x.maxlen = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			x.dev = optarg;
			break;
		case 'm':
			x.mnt = optarg;
			break;
		case 'x':
			exclude(optarg);
			break;
		case 'E':
			x.enospc_ok = true;
			break;
		case 'q':
			x.quiet = true;
			break;
		default:
			fprintf(stderr, "usage: rsfsx [-s seed] [-n ops | -t seconds] [-l maxlen] "
					"[-d dev -m mountpoint] [-x op,...] [-E] [-q] file\n");
			return 2;
		}
	}
	if (optind != argc - 1 || x.maxlen < PAGE || x.maxlen % PAGE) {
		fprintf(stderr, "rsfsx: one file, and -l a multiple of %d\n", PAGE);
		return 2;
	}
	x.path = argv[optind];
	if (!x.dev || !x.mnt)
		x.excluded[OP_REMOUNT] = true;
	x.rng = x.seed * 0x9e3779b97f4a7c15ULL + 1;
	x.model = calloc(1, x.maxlen);
	x.buf = malloc(x.maxlen > MAX_IO ? x.maxlen : MAX_IO);
	if (!x.model || !x.buf || posix_memalign((void **)&x.dbuf, PAGE, MAX_IO)) {
		fprintf(stderr, "rsfsx: out of memory\n");
		return 2;
	}
	sigaction(SIGBUS, &sa, NULL);
	printf("rsfsx: seed %llu, file %s, up to %zu bytes\n", (unsigned long long)x.seed, x.path,
	       x.maxlen);
	fflush(stdout);

	/* The run starts from an empty file. */
	unlink(x.path);
	open_file();
	start = last = time(NULL);
	for (x.done = 0; x.seconds ? time(NULL) - start < x.seconds : x.done < x.nops; x.done++) {
		run_one();
		if (!x.quiet && time(NULL) - last >= 30) {
			last = time(NULL);
			printf("rsfsx: %lu operations, %ld s\n", x.done + 1, (long)(last - start));
			fflush(stdout);
		}
	}
	close_file();
	summary(0);
	return 0;
}
