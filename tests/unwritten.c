// SPDX-License-Identifier: GPL-2.0
/*
 * Unwritten extents: fallocate(2) gives a file disk space without writing
 * it. The blocks keep whatever the disk held and must read as zeroes until
 * data is written over them, through any path: buffered, mapped or direct
 * reads, after a remount, and in FIEMAP (FIEMAP_EXTENT_UNWRITTEN) and
 * SEEK_DATA/SEEK_HOLE, as on ext4. fsck.rsfs -n runs after every test.
 */
#include "rsfs_test.h"

#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include "kselftest_harness.h"

#define BS 4096
#define MAX_EXTENTS 64

struct map {
	struct fiemap fm;
	struct fiemap_extent ext[MAX_EXTENTS];
};

/* FIEMAP of all of `fd`, after a sync of its data: the number of extents. */
static int fiemap_of(int fd, struct map *m)
{
	memset(m, 0, sizeof(*m));
	m->fm.fm_length = FIEMAP_MAX_OFFSET;
	m->fm.fm_flags = FIEMAP_FLAG_SYNC;
	m->fm.fm_extent_count = MAX_EXTENTS;
	if (ioctl(fd, FS_IOC_FIEMAP, &m->fm))
		return -1;
	return m->fm.fm_mapped_extents;
}

/* The extent of `m` that holds file byte `off`, or NULL for a hole. */
static const struct fiemap_extent *extent_at(const struct map *m, unsigned long long off)
{
	for (unsigned int i = 0; i < m->fm.fm_mapped_extents; i++) {
		const struct fiemap_extent *e = &m->ext[i];

		if (off >= e->fe_logical && off < e->fe_logical + e->fe_length)
			return e;
	}
	return NULL;
}

/* 1 if block `b` of the file is unwritten, 0 if written, -1 for a hole. */
static int unwritten_block(const struct map *m, unsigned long long b)
{
	const struct fiemap_extent *e = extent_at(m, b * BS);

	if (!e)
		return -1;
	return !!(e->fe_flags & FIEMAP_EXTENT_UNWRITTEN);
}

/* Sectors written to `dev` so far (/sys/block/<dev>/stat, seventh field). */
static int sectors_written(const char *dev, unsigned long long *sectors)
{
	unsigned long long v[7];
	char path[64];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/sys/block/%s/stat", dev + 5);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fscanf(f, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &v[6]);
	fclose(f);
	*sectors = v[6];
	return n == 7 ? 0 : -1;
}

/* The superblock's incompatible features, as on the disk after a sync. */
static unsigned int incompat_features(const char *dev)
{
	static unsigned char sb[BS] __attribute__((aligned(BS)));
	unsigned int v = ~0u;

	sync();
	if (read_disk(dev, 0, sb, BS) == 0)
		memcpy(&v, sb + 12, 4);
	return v;
}

/* Whether `len` bytes of `fd` from `off` are all `byte`. */
static bool all_bytes(int fd, off_t off, size_t len, unsigned char byte)
{
	static unsigned char buf[1 << 20];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (pread(fd, buf, n, off) != (ssize_t)n)
			return false;
		for (size_t i = 0; i < n; i++)
			if (buf[i] != byte)
				return false;
		off += n;
		len -= n;
	}
	return true;
}

/*
 * Writes a file "fill" until the disk has no free block left, and syncs
 * it: 0 if none is left, else how many are.
 */
static unsigned long fill_the_disk(void)
{
	static unsigned char chunk[1 << 20];
	int fd = open("fill", O_CREAT | O_WRONLY, 0644);
	struct statvfs sv;

	if (fd < 0)
		return ~0ul;
	memset(chunk, 0x5a, sizeof(chunk));
	for (size_t n = sizeof(chunk); n >= BS; n /= 2)
		while (write(fd, chunk, n) == (ssize_t)n)
			;
	if (errno != ENOSPC || fsync(fd) || close(fd) || statvfs(".", &sv))
		return ~0ul;
	return sv.f_bfree;
}

RSFS_MOUNTED_FIXTURE(unwritten, fail_requests(DISK0, 0, 0))

/*
 * 192 MiB of fallocate writes the map and nothing else: before rsfs had
 * unwritten extents it wrote 192 MiB of zeroes. The space is given in a
 * few long runs (the fresh 256 MiB filesystem has two bitmap blocks), and
 * FIEMAP reports every extent unwritten.
 */
TEST_F(unwritten, fallocate_writes_only_the_map)
{
	static unsigned char zero[65536], buf[65536];
	const off_t len = 192 << 20;
	unsigned long long runs, before, after;
	struct stat st;
	struct map m;
	int fd = open("big", O_CREAT | O_RDWR, 0644);

	ASSERT_LE(0, fd);
	/* A new filesystem has no unwritten extent, nor the feature. */
	EXPECT_EQ(0, incompat_features(DISK0));
	ASSERT_EQ(0, read_counter(DISK0, "unwritten_allocs", &runs));
	ASSERT_EQ(0, sectors_written(DISK0, &before));
	ASSERT_EQ(0, fallocate(fd, 0, 0, len));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, sectors_written(DISK0, &after));
	EXPECT_LE(counter(DISK0, "unwritten_allocs") - runs, 4);
	/* The commit: a few metadata blocks in the log. */
	EXPECT_GT(2048, after - before) TH_LOG("%llu sectors written", after - before);
	/* The first unwritten extent set the feature. */
	EXPECT_EQ(1, incompat_features(DISK0));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(len, st.st_size);
	EXPECT_EQ(len / 512, st.st_blocks);
	ASSERT_EQ(65536, pread(fd, buf, 65536, len - 65536));
	EXPECT_EQ(0, memcmp(buf, zero, 65536));
	ASSERT_LE(1, fiemap_of(fd, &m));
	EXPECT_GE(4, m.fm.fm_mapped_extents);
	for (unsigned int i = 0; i < m.fm.fm_mapped_extents; i++) {
		EXPECT_TRUE(m.ext[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN);
		/* No unwritten extent is longer than 128 MiB. */
		EXPECT_GE(128 << 20, m.ext[i].fe_length);
	}
	EXPECT_TRUE(m.ext[m.fm.fm_mapped_extents - 1].fe_flags & FIEMAP_EXTENT_LAST);
	close(fd);
}

/*
 * Space freed by a deleted file and given to a new one by fallocate still
 * holds the deleted file's bytes on disk. The new file reads zeroes there,
 * by read(2), O_DIRECT, a mapping, and after a remount.
 */
TEST_F(unwritten, preallocated_space_never_shows_old_data)
{
	static unsigned char block[BS] __attribute__((aligned(BS)));
	const size_t len = 8 << 20;
	unsigned int stale = 0;
	struct map m;
	unsigned char *p;
	int fd;

	ASSERT_EQ(0, leave_old_data("old", len, 0xa5));
	fd = open("new", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, 0, 0, len));
	ASSERT_LE(1, fiemap_of(fd, &m));
	/* The test means something only if the disk under it is not zero. */
	for (unsigned int i = 0; i < m.fm.fm_mapped_extents; i++) {
		EXPECT_TRUE(m.ext[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN);
		ASSERT_EQ(0, read_disk(DISK0, m.ext[i].fe_physical / BS, block, BS));
		stale += block[0] == 0xa5;
	}
	ASSERT_LT(0, stale) TH_LOG("no preallocated block holds the deleted file's bytes");

	/* Mapped first, from no page cache, a page at a time (read_folio). */
	ASSERT_EQ(0, run("echo 3 > /proc/sys/vm/drop_caches"));
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, len, MADV_RANDOM));
	for (size_t off = 0; off < len; off += BS)
		if (p[off] || p[off + BS - 1]) {
			EXPECT_EQ(0, p[off]) TH_LOG("mapped byte %zu", off);
			break;
		}
	munmap(p, len);
	EXPECT_TRUE(all_bytes(fd, 0, len, 0));
	close(fd);

	fd = open("new", O_RDONLY | O_DIRECT);
	ASSERT_LE(0, fd);
	for (size_t off = 0; off < len; off += BS) {
		ASSERT_EQ(BS, pread(fd, block, BS, off));
		if (block[0] || block[BS - 1]) {
			EXPECT_EQ(0, block[0]) TH_LOG("direct read of byte %zu", off);
			break;
		}
	}
	close(fd);

	ASSERT_EQ(0, remount());
	fd = open("new", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(all_bytes(fd, 0, len, 0));
	close(fd);
}

/*
 * Data put over unwritten blocks by each path makes those blocks written,
 * and only those: a partial buffered write, a whole-block write, a store
 * through a mapping, a direct write inside the file (done buffered), a
 * write past the end into KEEP_SIZE space, and a direct write there. The
 * rest still reads as zeroes, is a hole to SEEK_DATA, and stays unwritten
 * in FIEMAP, before and after a remount. Then ZERO_RANGE makes whole
 * written blocks unwritten again.
 */
TEST_F(unwritten, writes_make_only_their_blocks_written)
{
	static unsigned char block[BS] __attribute__((aligned(BS)));
	static const unsigned long long written[] = { 3, 7, 10, 12, 70, 80, 90 };
	const struct fiemap_extent *e;
	struct stat st;
	struct map m;
	unsigned char *p;
	int fd, dfd;

	/* The space comes from a deleted file's: the disk under it is not zero. */
	ASSERT_EQ(0, leave_old_data("old", 1 << 20, 0xa5));
	fd = open("f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, 0, 0, 64 * BS));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 64 * BS, 64 * BS));
	ASSERT_LE(1, fiemap_of(fd, &m));
	e = extent_at(&m, 3 * BS);
	ASSERT_NE(NULL, e);
	ASSERT_EQ(0, read_disk(DISK0, (e->fe_physical + 3 * BS - e->fe_logical) / BS, block, BS));
	ASSERT_EQ(0xa5, block[BS - 1]) TH_LOG("block 3 is not on the deleted file's blocks");
	ASSERT_EQ(3, pwrite(fd, "abc", 3, 3 * BS + 10));
	memset(block, 0x11, BS);
	ASSERT_EQ(BS, pwrite(fd, block, BS, 7 * BS));
	p = mmap(NULL, 64 * BS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[10 * BS + 5] = 0x22;
	ASSERT_EQ(0, msync(p, 64 * BS, MS_SYNC));
	munmap(p, 64 * BS);
	dfd = open("f", O_RDWR | O_DIRECT);
	ASSERT_LE(0, dfd);
	memset(block, 0x33, BS);
	ASSERT_EQ(BS, pwrite(dfd, block, BS, 12 * BS));
	/* Past the end of the file, into the KEEP_SIZE space. */
	memset(block, 0x44, 100);
	ASSERT_EQ(100, pwrite(fd, block, 100, 70 * BS));
	memset(block, 0x55, BS);
	ASSERT_EQ(BS, pwrite(dfd, block, BS, 80 * BS));
	/* A direct write of part of a block past the end: the rest is zeroes. */
	memset(block, 0x77, 512);
	ASSERT_EQ(512, pwrite(dfd, block, 512, 90 * BS + 1024));
	close(dfd);
	ASSERT_EQ(0, fsync(fd));

	for (int pass = 0; pass < 2; pass++) {
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ(90 * BS + 1536, st.st_size);
		/* 128 blocks, and the overflow block of a map of 13 extents. */
		EXPECT_EQ(129 * BS / 512, st.st_blocks);
		ASSERT_LE(1, fiemap_of(fd, &m));
		for (unsigned long long b = 0; b < 128; b++) {
			int want = 1;

			for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++)
				want &= written[i] != b;
			EXPECT_EQ(want, unwritten_block(&m, b)) TH_LOG("pass %d block %llu", pass, b);
		}
		EXPECT_EQ(3 * BS, lseek(fd, 0, SEEK_DATA));
		EXPECT_EQ(4 * BS, lseek(fd, 3 * BS, SEEK_HOLE));
		EXPECT_EQ(70 * BS, lseek(fd, 13 * BS, SEEK_DATA));
		/* The bytes: zeroes but where the writes went. */
		EXPECT_TRUE(all_bytes(fd, 0, 3 * BS + 10, 0));
		EXPECT_TRUE(all_bytes(fd, 3 * BS + 10, 1, 'a'));
		EXPECT_TRUE(all_bytes(fd, 3 * BS + 13, 4 * BS - 13, 0));
		EXPECT_TRUE(all_bytes(fd, 7 * BS, BS, 0x11));
		EXPECT_TRUE(all_bytes(fd, 8 * BS, 2 * BS + 5, 0));
		EXPECT_TRUE(all_bytes(fd, 10 * BS + 5, 1, 0x22));
		EXPECT_TRUE(all_bytes(fd, 10 * BS + 6, 2 * BS - 6, 0));
		EXPECT_TRUE(all_bytes(fd, 12 * BS, BS, 0x33));
		EXPECT_TRUE(all_bytes(fd, 13 * BS, 57 * BS, 0));
		EXPECT_TRUE(all_bytes(fd, 70 * BS, 100, 0x44));
		EXPECT_TRUE(all_bytes(fd, 70 * BS + 100, 10 * BS - 100, 0));
		EXPECT_TRUE(all_bytes(fd, 80 * BS, BS, 0x55));
		EXPECT_TRUE(all_bytes(fd, 81 * BS, 9 * BS + 1024, 0));
		EXPECT_TRUE(all_bytes(fd, 90 * BS + 1024, 512, 0x77));
		close(fd);
		ASSERT_EQ(0, remount());
		fd = open("f", O_RDWR);
		ASSERT_LE(0, fd);
	}

	/* ZERO_RANGE: the whole blocks inside go back to unwritten. */
	memset(block, 0x66, BS);
	for (int b = 20; b < 24; b++)
		ASSERT_EQ(BS, pwrite(fd, block, BS, b * BS));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_ZERO_RANGE, 20 * BS + 100, 3 * BS));
	ASSERT_LE(1, fiemap_of(fd, &m));
	EXPECT_EQ(0, unwritten_block(&m, 20));
	EXPECT_EQ(1, unwritten_block(&m, 21));
	EXPECT_EQ(1, unwritten_block(&m, 22));
	EXPECT_EQ(0, unwritten_block(&m, 23));
	close(fd);
	ASSERT_EQ(0, remount());
	fd = open("f", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(all_bytes(fd, 20 * BS, 100, 0x66));
	EXPECT_TRUE(all_bytes(fd, 20 * BS + 100, 3 * BS, 0));
	EXPECT_TRUE(all_bytes(fd, 23 * BS + 100, BS - 100, 0x66));
	close(fd);
}

/*
 * On a full disk, writes into space that fallocate gave still succeed, as
 * posix_fallocate(3) promises. Writing every other block of one unwritten
 * extent splits it: the inode holds 9 extents, and the tenth needs an
 * extent block, which a full disk does not have. Then the whole extent is
 * made written, the rest of it zeroed on the disk first, as ext4 does when
 * a split fails. The blocks held a deleted file's bytes: zeroes, not
 * those, read back after a remount.
 */
TEST_F_TIMEOUT(unwritten, writes_into_preallocated_space_on_a_full_disk, 600)
{
	static unsigned char block[BS] __attribute__((aligned(BS)));
	const int blocks = 64;
	unsigned long long zeroed;
	struct map m;
	int fd;

	ASSERT_EQ(0, leave_old_data("old", 8 << 20, 0xa5));
	fd = open("pre", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, 0, 0, blocks * BS));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(1, fiemap_of(fd, &m));
	ASSERT_EQ(0, read_disk(DISK0, m.ext[0].fe_physical / BS, block, BS));
	ASSERT_EQ(0xa5, block[0]) TH_LOG("the preallocated blocks do not hold the old bytes");

	ASSERT_EQ(0, fill_the_disk()) TH_LOG("blocks still free");

	zeroed = counter(DISK0, "unwritten_zeroed");
	for (int b = 1; b < blocks; b += 2) {
		memset(block, b, BS);
		ASSERT_EQ(BS, pwrite(fd, block, BS, (off_t)b * BS))
			TH_LOG("block %d: %s", b, strerror(errno));
	}
	ASSERT_EQ(0, fsync(fd));
	EXPECT_LT(0, counter(DISK0, "unwritten_zeroed") - zeroed);
	close(fd);

	ASSERT_EQ(0, remount());
	fd = open("pre", O_RDONLY);
	ASSERT_LE(0, fd);
	for (int b = 0; b < blocks; b++) {
		bool right = all_bytes(fd, (off_t)b * BS, BS, b % 2 ? b : 0);

		EXPECT_TRUE(right) TH_LOG("block %d", b);
	}
	close(fd);
	EXPECT_EQ(0, unlink("fill"));
}

/*
 * A write past the end of the file into preallocated space that faults
 * halfway, on a full disk: the block it made written but could not fill
 * goes back to reading zeroes. Making it unwritten again splits its
 * extent twice, at either end; the first split takes the inode's ninth
 * slot, and the second needs an extent block the disk does not have, so
 * the block is zeroed on the disk instead. Before, it stayed written over
 * the deleted file's bytes, which a truncate up then showed.
 */
TEST_F_TIMEOUT(unwritten, failed_write_on_a_full_disk_leaves_no_old_data, 600)
{
	static unsigned char block[BS] __attribute__((aligned(BS)));
	unsigned char *buf;
	struct map m;
	int fd;

	ASSERT_EQ(0, leave_old_data("old", 8 << 20, 0xa5));
	fd = open("f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 64 * BS));
	ASSERT_EQ(1, fiemap_of(fd, &m));
	ASSERT_EQ(0, read_disk(DISK0, m.ext[0].fe_physical / BS + 21, block, BS));
	ASSERT_EQ(0xa5, block[0]) TH_LOG("the preallocated blocks do not hold the old bytes");
	/* Nine extents, as many as the inode holds: the next split needs a block. */
	for (int b = 1; b < 8; b += 2) {
		memset(block, b, BS);
		ASSERT_EQ(BS, pwrite(fd, block, BS, (off_t)b * BS));
	}
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(9, fiemap_of(fd, &m));
	ASSERT_EQ(0, fill_the_disk()) TH_LOG("blocks still free");

	/* Blocks 20 and 21, from a buffer whose second page is not mapped. */
	buf = mmap(NULL, 2 * BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, munmap(buf + BS, BS));
	memset(buf, 20, BS);
	ASSERT_EQ(BS, pwrite(fd, buf, 2 * BS, 20 * BS)) TH_LOG("%s", strerror(errno));
	munmap(buf, BS);
	ASSERT_EQ(0, ftruncate(fd, 64 * BS));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	ASSERT_EQ(0, unlink("fill"));
	ASSERT_EQ(0, remount());
	fd = open("f", O_RDONLY);
	ASSERT_LE(0, fd);
	for (int b = 0; b < 64; b++) {
		bool right = all_bytes(fd, (off_t)b * BS, BS, b == 20 || (b < 8 && b % 2) ? b : 0);

		EXPECT_TRUE(right) TH_LOG("block %d", b);
	}
	close(fd);
}

/*
 * A direct write over preallocated blocks inside the file, or over a hole
 * there, goes through the page cache, and the device fails it (fstests
 * generic/250 and 252 do this with dm-error). The write says EIO, and the
 * range reads as zeroes, at once and after a remount, as on ext4: never
 * the bytes a deleted file left on the blocks. Before, write_begin had
 * made the blocks written (or given the hole blocks), the failed folios
 * stayed cached, and the commit at unmount named the blocks. The third
 * case begins 512 bytes into the first block, which must go back too.
 */
TEST_F(unwritten, failed_direct_write_leaves_no_old_data)
{
	static unsigned char buf[64 * BS] __attribute__((aligned(BS)));
	static unsigned char block[BS] __attribute__((aligned(BS)));
	static const struct {
		const char *name;
		bool hole;
		off_t at;
	} cases[] = { { "prealloc", false, 0 }, { "hole", true, 0 }, { "prealloc-at-512", false, 512 } };

	memset(buf, 0x63, sizeof(buf));
	for (int c = 0; c < 3; c++) {
		const char *name = cases[c].name;
		off_t at = cases[c].at;
		int fd, err, bad = 0;
		struct map m;
		ssize_t n;

		ASSERT_EQ(0, leave_old_data("old", 1 << 20, 0xa5));
		fd = open(name, O_CREAT | O_RDWR | O_DIRECT, 0644);
		ASSERT_LE(0, fd);
		if (cases[c].hole) {
			ASSERT_EQ(0, ftruncate(fd, sizeof(buf)));
		} else {
			ASSERT_EQ(0, fallocate(fd, 0, 0, sizeof(buf)));
			ASSERT_EQ(1, fiemap_of(fd, &m));
			ASSERT_EQ(0, read_disk(DISK0, m.ext[0].fe_physical / BS, block, BS));
			ASSERT_EQ(0xa5, block[0]) TH_LOG("the preallocated blocks do not hold the old bytes");
		}
		ASSERT_EQ(0, fsync(fd));
		ASSERT_EQ(0, fail_requests(DISK0, 100, -1));
		n = pwrite(fd, buf, sizeof(buf) - at, at);
		err = errno;
		ASSERT_EQ(0, fail_requests(DISK0, 0, 0));
		EXPECT_EQ(-1, n) TH_LOG("%s: the write that failed wrote %zd bytes", name, n);
		EXPECT_EQ(EIO, err) TH_LOG("%s: %s, not EIO", name, strerror(err));
		close(fd);
		fd = open(name, O_RDONLY);
		ASSERT_LE(0, fd);
		EXPECT_TRUE(all_bytes(fd, 0, sizeof(buf), 0)) TH_LOG("%s: not zeroes after the write", name);
		close(fd);

		ASSERT_EQ(0, remount());
		fd = open(name, O_RDONLY);
		ASSERT_LE(0, fd);
		for (int b = 0; b < 64; b++) {
			ASSERT_EQ(BS, pread(fd, block, BS, (off_t)b * BS));
			if (!all_bytes(fd, (off_t)b * BS, BS, 0) && !bad++)
				printf("# %s: block %d reads 0x%02x after a remount\n", name, b, block[0]);
		}
		close(fd);
		EXPECT_EQ(0, bad) TH_LOG("%s: %d of 64 blocks are not zeroes", name, bad);
	}
}

static volatile sig_atomic_t xfsz_signals;

static void count_xfsz(int sig)
{
	(void)sig;
	xfsz_signals++;
}

/*
 * fallocate(2) that would grow a file past RLIMIT_FSIZE fails with EFBIG
 * and sends SIGXFSZ, as a write does, and allocates nothing (fstests
 * generic/228; ext4 checks with inode_newsize_ok before it allocates).
 * With FALLOC_FL_KEEP_SIZE the file does not grow, so the limit does not
 * apply; up to the limit exactly, the file grows.
 */
TEST_F(unwritten, fallocate_obeys_the_file_size_limit)
{
	struct rlimit lim;
	struct stat st;
	int fd;

	ASSERT_EQ(0, getrlimit(RLIMIT_FSIZE, &lim));
	lim.rlim_cur = 1 << 20;
	ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &lim));
	ASSERT_NE(SIG_ERR, signal(SIGXFSZ, count_xfsz));
	fd = open("f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);

	EXPECT_EQ(-1, fallocate(fd, 0, 0, 2 << 20));
	EXPECT_EQ(EFBIG, errno);
	EXPECT_EQ(1, xfsz_signals);
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 2 << 20));
	EXPECT_EQ(EFBIG, errno);
	EXPECT_EQ(2, xfsz_signals);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(0, st.st_blocks) TH_LOG("a refused fallocate allocated %lld sectors",
					  (long long)st.st_blocks);

	EXPECT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 2 << 20)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, fallocate(fd, 0, 0, 1 << 20)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(1 << 20, st.st_size);
	EXPECT_EQ(2, xfsz_signals);
	close(fd);
	signal(SIGXFSZ, SIG_DFL);
}

TEST_HARNESS_MAIN
