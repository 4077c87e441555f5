// SPDX-License-Identifier: GPL-2.0
/*
 * What every Linux filesystem offers and third-party tests try first (LTP's
 * syscall tests, fstests' fsx), and the edges where stale bytes could come
 * back: the tail of the old last block when a file grows, splice into a
 * file, remounting between read-only and read-write, preallocated space
 * past the end, the largest offsets, and hole punching. Each test here
 * failed on rsfs before the change that made it pass. fsck.rsfs -n runs
 * after every test.
 */
#include "rsfs_test.h"

#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/statvfs.h>

#include "kselftest_harness.h"

static int drop_caches(void)
{
	sync();
	return run("echo 3 > /proc/sys/vm/drop_caches");
}

static unsigned long long free_blocks(void)
{
	struct statvfs s;

	return statvfs(MNT, &s) ? 0 : s.f_bfree;
}

static int syncfs_here(void)
{
	int fd = open(".", O_RDONLY), ret;

	if (fd < 0)
		return -1;
	ret = syncfs(fd);
	close(fd);
	return ret;
}

static long long blocks_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : st.st_blocks;
}

/* The first offset in `len` bytes at `off` that is not `c`, or -1. */
static long long first_not(int fd, off_t off, size_t len, unsigned char c)
{
	static unsigned char buf[1 << 16];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (pread(fd, buf, n, off) != (ssize_t)n)
			return off;
		for (size_t i = 0; i < n; i++)
			if (buf[i] != c)
				return off + i;
		off += n;
		len -= n;
	}
	return -1;
}

static unsigned char pat(unsigned long long off, int seed)
{
	return (unsigned char)((off * 2654435761ULL + seed * 40503ULL) >> 13);
}

static int put_pattern(int fd, off_t off, size_t len, int seed)
{
	static unsigned char buf[1 << 16];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(off + i, seed);
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			return -errno;
		off += n;
		len -= n;
	}
	return 0;
}

/* The first offset of `len` bytes at `off` that is not the pattern, or -1. */
static long long check_pattern(int fd, off_t off, size_t len, int seed)
{
	static unsigned char buf[1 << 16];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (pread(fd, buf, n, off) != (ssize_t)n)
			return off;
		for (size_t i = 0; i < n; i++)
			if (buf[i] != pat(off + i, seed))
				return off + i;
		off += n;
		len -= n;
	}
	return -1;
}

/*
 * A file of 100 bytes, written back, whose first page then takes stores
 * through a shared mapping past the end of the file (bytes 100..4095): as
 * POSIX says, they are not file data, and must never become file data.
 */
static int file_with_bytes_past_eof(const char *name)
{
	char data[100];
	unsigned char *p;
	int fd;

	memset(data, 'd', sizeof(data));
	fd = open(name, O_CREAT | O_TRUNC | O_RDWR, 0644);
	if (fd < 0 || write(fd, data, sizeof(data)) != sizeof(data) || fsync(fd))
		return -1;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(p + 100, 0xaa, 4096 - 100);
	munmap(p, 4096);
	return fd;
}

RSFS_MOUNTED_FIXTURE(vfs, (void)0)

/*
 * Every way a file grows zeroes the old last block's tail, in the page
 * cache and on disk: truncate up, an extending fallocate, a buffered write
 * past a gap (in the same block and in a later one), a direct write past
 * a gap.
 */
TEST_F(vfs, growing_a_file_zeroes_the_old_tail)
{
	static const char *const how[] = { "truncate", "fallocate", "write-same-block",
					   "write-later-block", "direct-write" };
	void *dbuf;

	ASSERT_EQ(0, posix_memalign(&dbuf, 4096, 4096));
	memset(dbuf, 'w', 4096);
	for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		int fd = file_with_bytes_past_eof(how[i]);
		off_t end_zero = 4096;
		int dfd;

		ASSERT_LE(0, fd);
		switch (i) {
		case 0:
			ASSERT_EQ(0, ftruncate(fd, 10000));
			break;
		case 1:
			ASSERT_EQ(0, fallocate(fd, 0, 0, 10000));
			break;
		case 2:
			/* Bytes 100..3000 become file data: zeroes. */
			ASSERT_EQ(1, pwrite(fd, "w", 1, 3000));
			end_zero = 3000;
			break;
		case 3:
			ASSERT_EQ(1, pwrite(fd, "w", 1, 9000));
			break;
		case 4:
			dfd = open(how[i], O_RDWR | O_DIRECT);
			ASSERT_LE(0, dfd);
			ASSERT_EQ(4096, pwrite(dfd, dbuf, 4096, 8192));
			close(dfd);
			break;
		}
		TH_LOG("%s", how[i]);
		EXPECT_EQ(-1, first_not(fd, 0, 100, 'd'));
		EXPECT_EQ(-1, first_not(fd, 100, end_zero - 100, 0));
		ASSERT_EQ(0, fsync(fd));
		ASSERT_EQ(0, drop_caches());
		EXPECT_EQ(-1, first_not(fd, 100, end_zero - 100, 0));
		close(fd);
	}
	ASSERT_EQ(0, remount());
	for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		int fd = open(how[i], O_RDONLY);

		ASSERT_LE(0, fd);
		EXPECT_EQ(-1, first_not(fd, 100, (i == 2 ? 3000 : 4096) - 100, 0));
		close(fd);
	}
	free(dbuf);
}

/* sendfile, splice from a pipe, and copy_file_range into rsfs files. */
TEST_F(vfs, sendfile_splice_and_copy_file_range)
{
	const size_t len = (1 << 20) + 123;
	int src, dst, pfd[2];
	off_t off = 0, in = 0, out = 0;
	static char buf[65536];

	src = open("src", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, src);
	ASSERT_EQ(0, put_pattern(src, 0, len, 5));

	/* sendfile: rsfs to rsfs. */
	dst = open("sent", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, dst);
	while (off < (off_t)len) {
		ssize_t n = sendfile(dst, src, &off, len - off);

		ASSERT_LT(0, n) TH_LOG("sendfile: %s", strerror(errno));
	}
	close(dst);

	/* splice: a pipe into the middle of a file. */
	dst = open("spliced", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, dst);
	ASSERT_EQ(0, pipe(pfd));
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pat(5000 + i, 6);
	ASSERT_EQ(sizeof(buf), write(pfd[1], buf, sizeof(buf)));
	off = 5000;
	for (size_t done = 0; done < sizeof(buf);) {
		ssize_t n = splice(pfd[0], NULL, dst, &off, sizeof(buf) - done, 0);

		ASSERT_LT(0, n) TH_LOG("splice: %s", strerror(errno));
		done += n;
	}
	close(pfd[0]);
	close(pfd[1]);
	close(dst);

	/* copy_file_range within the filesystem, at unaligned offsets. */
	dst = open("copied", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, dst);
	in = 777;
	out = 333;
	while (in < (off_t)len) {
		ssize_t n = copy_file_range(src, &in, dst, &out, len - in, 0);

		ASSERT_LT(0, n) TH_LOG("copy_file_range: %s", strerror(errno));
	}
	close(dst);
	close(src);

	ASSERT_EQ(0, remount());
	dst = open("sent", O_RDONLY);
	ASSERT_LE(0, dst);
	EXPECT_EQ(-1, check_pattern(dst, 0, len, 5));
	close(dst);
	dst = open("spliced", O_RDONLY);
	ASSERT_LE(0, dst);
	EXPECT_EQ(-1, first_not(dst, 0, 5000, 0));
	EXPECT_EQ(-1, check_pattern(dst, 5000, sizeof(buf), 6));
	close(dst);
	dst = open("copied", O_RDONLY);
	ASSERT_LE(0, dst);
	EXPECT_EQ(-1, first_not(dst, 0, 333, 0));
	/* Byte 333 of the copy is byte 777 of the source. */
	for (off_t o = 0; o < (off_t)(len - 777); o += 4093) {
		unsigned char c;

		ASSERT_EQ(1, pread(dst, &c, 1, 333 + o));
		ASSERT_EQ(pat(777 + o, 5), c) TH_LOG("copy at %lld", (long long)o);
	}
	close(dst);
}

/*
 * mount -o remount between read-only and read-write, both ways: writes
 * work after ro->rw, fail with EROFS after rw->ro, the superblock says
 * "mounted" or "clean" accordingly, and everything written is there after
 * a fresh mount.
 */
TEST_F(vfs, remount_read_only_and_read_write)
{
	int fd;

	ASSERT_EQ(0, put_file("a", "first\n"));
	ASSERT_EQ(0, mount(DISK0, MNT, "rsfs", MS_REMOUNT | MS_RDONLY, NULL));
	EXPECT_EQ(1, sb_state(DISK0));
	EXPECT_EQ(-1, open("b", O_CREAT | O_WRONLY, 0644));
	EXPECT_EQ(EROFS, errno);
	ASSERT_EQ(0, mount(DISK0, MNT, "rsfs", MS_REMOUNT, NULL));
	EXPECT_EQ(2, sb_state(DISK0));
	ASSERT_EQ(0, put_file("b", "second\n"));
	fd = open("b", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fsync(fd));
	close(fd);

	/* Mounted read-only from the start, then read-write. */
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	ASSERT_EQ(0, mount(DISK0, MNT, "rsfs", MS_RDONLY, NULL));
	ASSERT_EQ(0, chdir(MNT));
	EXPECT_EQ(1, sb_state(DISK0));
	EXPECT_EQ(-1, mkdir("d", 0755));
	EXPECT_EQ(EROFS, errno);
	ASSERT_EQ(0, mount(DISK0, MNT, "rsfs", MS_REMOUNT, NULL));
	EXPECT_EQ(2, sb_state(DISK0));
	ASSERT_EQ(0, mkdir("d", 0755));
	ASSERT_EQ(0, put_file("d/c", "third\n"));
	ASSERT_EQ(0, unlink("a"));
	/* Back to read-only: what was written is on the disk, marked clean. */
	ASSERT_EQ(0, mount(DISK0, MNT, "rsfs", MS_REMOUNT | MS_RDONLY, NULL));
	EXPECT_EQ(1, sb_state(DISK0));
	EXPECT_EQ(0, run("fsck.rsfs -n %s >&2", DISK0));

	ASSERT_EQ(0, remount());
	EXPECT_EQ(-1, access("a", F_OK));
	EXPECT_EQ(0, run("grep -qx second b && grep -qx third d/c"));
}

/*
 * Space that fallocate(KEEP_SIZE) placed past the end stays through a
 * truncate up and a direct write that fails; a truncate below it frees it.
 */
TEST_F(vfs, preallocation_survives_truncate_up_and_failed_writes)
{
	unsigned long long before = free_blocks();
	void *bad;
	int fd, dfd;

	fd = open("p", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(100, write(fd, "0123456789012345678901234567890123456789012345678901234567890123456789"
				 "012345678901234567890123456789",
			     100));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20));
	EXPECT_EQ(2048, blocks_of(fd));
	ASSERT_EQ(0, ftruncate(fd, 4096));
	EXPECT_EQ(2048, blocks_of(fd));
	ASSERT_EQ(0, ftruncate(fd, 65536));
	EXPECT_EQ(2048, blocks_of(fd));

	/* A direct write from memory it cannot read fails with EFAULT. */
	bad = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	dfd = open("p", O_RDWR | O_DIRECT);
	ASSERT_LE(0, dfd);
	EXPECT_EQ(-1, pwrite(dfd, bad, 8192, 131072));
	EXPECT_EQ(EFAULT, errno);
	/* ...also when it would allocate past the preallocation. */
	EXPECT_EQ(-1, pwrite(dfd, bad, 8192, (1 << 20) - 4096));
	EXPECT_EQ(EFAULT, errno);
	close(dfd);
	EXPECT_EQ(2048, blocks_of(fd));
	EXPECT_EQ(65536, lseek(fd, 0, SEEK_END));

	close(fd);
	ASSERT_EQ(0, remount());
	fd = open("p", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(2048, blocks_of(fd));
	EXPECT_EQ(-1, first_not(fd, 100, 65536 - 100, 0));
	/* Truncating below the preallocation frees it. */
	ASSERT_EQ(0, ftruncate(fd, 4096));
	ASSERT_EQ(0, ftruncate(fd, 0));
	EXPECT_EQ(0, blocks_of(fd));
	close(fd);
	ASSERT_EQ(0, unlink("p"));
	ASSERT_EQ(0, syncfs_here());
	EXPECT_EQ(before, free_blocks());
	munmap(bad, 8192);
}

/*
 * The last block a file can have (file block 2^32 - 1): written, then
 * truncated to one byte short of the largest size. The block stays.
 */
TEST_F(vfs, the_largest_offsets)
{
	const off_t max = 1LL << 44;
	unsigned long long free1, free2;
	char c = 0;
	int fd;

	fd = open("big", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, "x", 1, max - 4096));
	ASSERT_EQ(0, fsync(fd));
	free1 = free_blocks();
	ASSERT_EQ(0, ftruncate(fd, max - 1));
	ASSERT_EQ(0, fsync(fd));
	free2 = free_blocks();
	EXPECT_EQ(free1, free2);
	ASSERT_EQ(0, drop_caches());
	ASSERT_EQ(1, pread(fd, &c, 1, max - 4096));
	EXPECT_EQ('x', c);
	/* The largest size is the limit. */
	EXPECT_EQ(-1, pwrite(fd, "y", 1, max));
	EXPECT_EQ(EFBIG, errno);
	EXPECT_EQ(0, ftruncate(fd, max));
	EXPECT_EQ(-1, ftruncate(fd, max + 1));
	EXPECT_EQ(EFBIG, errno);
	EXPECT_EQ(1, pwrite(fd, "z", 1, max - 1));
	close(fd);
	ASSERT_EQ(0, remount());
	fd = open("big", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pread(fd, &c, 1, max - 4096));
	EXPECT_EQ('x', c);
	ASSERT_EQ(1, pread(fd, &c, 1, max - 1));
	EXPECT_EQ('z', c);
	close(fd);
	ASSERT_EQ(0, unlink("big"));
}

/*
 * FALLOC_FL_PUNCH_HOLE and FALLOC_FL_ZERO_RANGE, aligned and not, over
 * cached, mapped and written-back data; the ranges read as zeroes from the
 * page cache, after it is dropped, and after a remount.
 */
TEST_F(vfs, punch_hole_and_zero_range)
{
	const off_t mib = 1 << 20;
	unsigned long long before = free_blocks();
	unsigned char *p;
	int fd;

	fd = open("h", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, put_pattern(fd, 0, mib, 9));
	ASSERT_EQ(0, fsync(fd));
	EXPECT_EQ(2048, blocks_of(fd));
	p = mmap(NULL, mib, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(pat(70000, 9), p[70000]);

	/* Whole blocks 16..31, and 200000..300001 (blocks 49..72 whole). */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 65536, 65536));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 200000, 100001));
	EXPECT_EQ(2048 - 16 * 8 - 24 * 8, blocks_of(fd));
	EXPECT_EQ(mib, lseek(fd, 0, SEEK_END));
	EXPECT_EQ(65536, lseek(fd, 0, SEEK_HOLE));
	EXPECT_EQ(131072, lseek(fd, 65536, SEEK_DATA));
	/* The mapping sees the hole, and a store there fills it again. */
	EXPECT_EQ(0, p[70000]);
	p[70000] = 'q';
	ASSERT_EQ(0, msync(p, mib, MS_SYNC));

	/* Zero a range inside the file, and one that grows it. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 500000, 100000));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_ZERO_RANGE, mib - 100, 8192));
	EXPECT_EQ(mib - 100 + 8192, lseek(fd, 0, SEEK_END));
	munmap(p, mib);

	for (int pass = 0; pass < 3; pass++) {
		TH_LOG("pass %d", pass);
		EXPECT_EQ(-1, check_pattern(fd, 0, 65536, 9));
		EXPECT_EQ(-1, first_not(fd, 65536, 70000 - 65536, 0));
		EXPECT_EQ(-1, first_not(fd, 70000, 1, 'q'));
		EXPECT_EQ(-1, first_not(fd, 70001, 131072 - 70001, 0));
		EXPECT_EQ(-1, check_pattern(fd, 131072, 200000 - 131072, 9));
		EXPECT_EQ(-1, first_not(fd, 200000, 100001, 0));
		EXPECT_EQ(-1, check_pattern(fd, 300001, 500000 - 300001, 9));
		EXPECT_EQ(-1, first_not(fd, 500000, 100000, 0));
		EXPECT_EQ(-1, check_pattern(fd, 600000, mib - 100 - 600000, 9));
		EXPECT_EQ(-1, first_not(fd, mib - 100, 8192, 0));
		if (pass == 0) {
			ASSERT_EQ(0, fsync(fd));
			ASSERT_EQ(0, drop_caches());
		} else if (pass == 1) {
			close(fd);
			ASSERT_EQ(0, remount());
			fd = open("h", O_RDWR);
			ASSERT_LE(0, fd);
		}
	}
	/* Punching everything leaves no blocks; the space is free again. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 2 * mib));
	EXPECT_EQ(0, blocks_of(fd));
	EXPECT_EQ(-1, first_not(fd, 0, mib, 0));
	close(fd);
	ASSERT_EQ(0, syncfs_here());
	EXPECT_EQ(before, free_blocks());
}

TEST_HARNESS_MAIN
