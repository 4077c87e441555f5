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

#include <dirent.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <grp.h>
#include <limits.h>
#include <mntent.h>
#include <sched.h>
#include <sys/sendfile.h>
#include <sys/statvfs.h>
#include <time.h>

#include "kselftest_harness.h"

/* A disk whose reads wait 20 ms each (qemu throttling.iops-read=50). */
#define SLOW_READ_DISK "/dev/vde"

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

static unsigned char pat(unsigned long long off, int seed)
{
	return (unsigned char)((off * 2654435761ULL + seed * 40503ULL) >> 13);
}

/*
 * The first offset in `len` bytes at `off` that does not hold what it
 * should: byte `c` if `seed` is negative, else the pattern of `seed`.
 * -1 if all do.
 */
static long long first_wrong(int fd, off_t off, size_t len, int seed, unsigned char c)
{
	static unsigned char buf[1 << 16];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (pread(fd, buf, n, off) != (ssize_t)n)
			return off;
		for (size_t i = 0; i < n; i++)
			if (buf[i] != (seed < 0 ? c : pat(off + i, seed)))
				return off + i;
		off += n;
		len -= n;
	}
	return -1;
}

/* The first offset in `len` bytes at `off` that is not `c`, or -1. */
static long long first_not(int fd, off_t off, size_t len, unsigned char c)
{
	return first_wrong(fd, off, len, -1, c);
}

/* The first offset of `len` bytes at `off` that is not the pattern, or -1. */
static long long check_pattern(int fd, off_t off, size_t len, int seed)
{
	return first_wrong(fd, off, len, seed, 0);
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
 * A direct write past the end of a file on a full disk fails with ENOSPC
 * and leaves the size alone, also when its block was found but the file's
 * map had no room for it (nine extents fill the inode; the tenth needs an
 * overflow block). That case once set the size to where the write began.
 */
TEST_F(vfs, a_direct_write_on_a_full_disk_leaves_the_size)
{
	const off_t size = 16 * 4096 + 1;
	unsigned long long off = 0;
	void *buf;
	ssize_t n;
	int fd, dfd, filler, i;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	for (i = 0; i <= 16; i += 2)
		ASSERT_EQ(1, pwrite(fd, "x", 1, i * 4096));
	ASSERT_EQ(size, lseek(fd, 0, SEEK_END));
	ASSERT_EQ(0, fsync(fd));
	/* Every free block goes to a preallocation past the filler's end. */
	filler = open("filler", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, filler);
	EXPECT_EQ(-1, fallocate(filler, FALLOC_FL_KEEP_SIZE, 0, 1ULL << 40));
	EXPECT_EQ(ENOSPC, errno);
	off = blocks_of(filler) * 512;
	while (fallocate(filler, FALLOC_FL_KEEP_SIZE, off, 4096) == 0)
		off += 4096;
	ASSERT_EQ(0, syncfs_here());
	while (fallocate(filler, FALLOC_FL_KEEP_SIZE, off, 4096) == 0)
		off += 4096;
	EXPECT_EQ(0, free_blocks());

	ASSERT_EQ(0, posix_memalign(&buf, 4096, 0x6000));
	memset(buf, 'd', 0x6000);
	dfd = open("f", O_RDWR | O_DIRECT);
	ASSERT_LE(0, dfd);
	EXPECT_EQ(-1, pwrite(dfd, buf, 8192, 1 << 20));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(size, lseek(fd, 0, SEEK_END));
	/* One block free: the data's, but none for the map's tenth extent. */
	ASSERT_EQ(0, fallocate(filler, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	ASSERT_EQ(0, syncfs_here());
	EXPECT_EQ(1, free_blocks());
	EXPECT_EQ(-1, pwrite(dfd, buf, 8192, 1 << 20));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(size, lseek(fd, 0, SEEK_END));
	/*
	 * Two blocks free, and a write of six and a half blocks from the
	 * middle of one, next to the last extent: what it writes, directly or
	 * buffered, and no more, becomes the file's.
	 */
	ASSERT_EQ(0, fallocate(filler, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096));
	ASSERT_EQ(0, syncfs_here());
	EXPECT_EQ(2, free_blocks());
	n = pwrite(dfd, buf, 0x6000, 16 * 4096 + 0xa00);
	TH_LOG("a direct write of 0x6000 bytes at 0x10a00 with 2 blocks free: %zd", n);
	EXPECT_EQ(n > 0 ? 16 * 4096 + 0xa00 + n : size, lseek(fd, 0, SEEK_END));
	close(dfd);
	free(buf);
	close(fd);
	close(filler);
	ASSERT_EQ(0, unlink("filler"));
	ASSERT_EQ(0, unlink("f"));
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

/* The d_type that readdir gives for `name` in the working directory. */
static int dtype_of(const char *name)
{
	DIR *d = opendir(".");
	struct dirent *e;
	int t = -1;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (!strcmp(e->d_name, name))
			t = e->d_type;
	closedir(d);
	return t;
}

/*
 * Named pipes, unix sockets, character and block devices (mkfifo, bind,
 * mknod), and a regular file made by mknod: they work, and keep their type,
 * device number and mode across a remount.
 */
TEST_F(vfs, special_files)
{
	static const struct {
		const char *name;
		mode_t type;
		dev_t dev;
		int dtype;
	} want[] = {
		{ "fifo", S_IFIFO, 0, DT_FIFO },
		{ "null", S_IFCHR, 0, DT_CHR },
		{ "loop", S_IFBLK, 0, DT_BLK },
		{ "far", S_IFCHR, 0, DT_CHR },
		{ "sock", S_IFSOCK, 0, DT_SOCK },
		{ "plain", S_IFREG, 0, DT_REG },
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	dev_t devs[] = { 0, makedev(1, 3), makedev(7, 0), makedev(4095, 0xfffff), 0, 0 };
	struct stat st;
	char c = 0;
	int fd, s;

	ASSERT_EQ(0, mkfifo("fifo", 0640));
	ASSERT_EQ(0, mknod("null", S_IFCHR | 0666, devs[1]));
	ASSERT_EQ(0, mknod("loop", S_IFBLK | 0600, devs[2]));
	ASSERT_EQ(0, mknod("far", S_IFCHR | 0604, devs[3]));
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_LE(0, s);
	strcpy(sa.sun_path, MNT "/sock");
	ASSERT_EQ(0, bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_EQ(0, listen(s, 1));
	ASSERT_EQ(0, mknod("plain", S_IFREG | 0644, 0));

	/* The pipe carries data, the device is the device. */
	fd = open("fifo", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "p", 1));
	ASSERT_EQ(1, read(fd, &c, 1));
	EXPECT_EQ('p', c);
	EXPECT_EQ(-1, fsync(fd));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	fd = open("null", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(5, write(fd, "hello", 5));
	EXPECT_EQ(0, read(fd, &c, 1));
	close(fd);
	close(s);

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			ASSERT_EQ(0, lstat(want[i].name, &st)) TH_LOG("%s", want[i].name);
			EXPECT_EQ(want[i].type, st.st_mode & S_IFMT) TH_LOG("%s", want[i].name);
			EXPECT_EQ(devs[i], st.st_rdev) TH_LOG("%s", want[i].name);
			EXPECT_EQ(0, st.st_size);
			EXPECT_EQ(0, st.st_blocks);
			EXPECT_EQ(want[i].dtype, dtype_of(want[i].name)) TH_LOG("%s", want[i].name);
		}
		ASSERT_EQ(0, lstat("far", &st));
		EXPECT_EQ(pass ? 0600 : 0604, st.st_mode & 07777);
		ASSERT_EQ(0, chmod("far", 0600));
		if (pass == 0) {
			ASSERT_EQ(0, remount());
		}
	}
	ASSERT_EQ(0, lstat("far", &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, rename("fifo", "fifo2"));
	ASSERT_EQ(0, link("null", "null2"));
	ASSERT_EQ(0, unlink("null"));
	ASSERT_EQ(0, unlink("sock"));
	ASSERT_EQ(0, remount());
	ASSERT_EQ(0, lstat("null2", &st));
	EXPECT_EQ(devs[1], st.st_rdev);
	EXPECT_EQ(1, st.st_nlink);
	EXPECT_EQ(DT_FIFO, dtype_of("fifo2"));
}

/*
 * Runs fallocate(mode, off, len) on `path` as user and group 1000, without
 * CAP_FSETID (as root, the VFS keeps the setuid bit, as for write(2)).
 * Returns fallocate's errno, or 0.
 */
static int fallocate_as_user(const char *path, int mode, off_t off, off_t len)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd;

		if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			_exit(100);
		fd = open(path, O_RDWR);
		if (fd < 0)
			_exit(101);
		_exit(fallocate(fd, mode, off, len) ? errno : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * fallocate changes the file as a write does (file_modified): mtime and
 * ctime move, and the setuid and setgid bits go.
 */
TEST_F(vfs, fallocate_is_a_modification)
{
	struct stat a, b;
	int fd;

	fd = open("m", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fchown(fd, 1000, 1000));
	ASSERT_EQ(0, fchmod(fd, 06775));
	ASSERT_EQ(0, fstat(fd, &a));
	usleep(20000);
	ASSERT_EQ(0, fallocate_as_user("m", 0, 0, 65536));
	ASSERT_EQ(0, fstat(fd, &b));
	EXPECT_TRUE(b.st_mtim.tv_sec > a.st_mtim.tv_sec ||
		    (b.st_mtim.tv_sec == a.st_mtim.tv_sec && b.st_mtim.tv_nsec > a.st_mtim.tv_nsec));
	EXPECT_EQ(0, b.st_mode & (S_ISUID | S_ISGID));
	EXPECT_EQ(65536, b.st_size);
	ASSERT_EQ(0, fchmod(fd, 04775));
	ASSERT_EQ(0, fallocate_as_user("m", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	ASSERT_EQ(0, fstat(fd, &b));
	EXPECT_EQ(0, b.st_mode & S_ISUID);
	close(fd);
}

/*
 * FS_IOC_FIEMAP and FIBMAP show where a file's blocks are, as on ext2 and
 * ext4 (filefrag, fstests' fiemap tests), and the blocks they name hold
 * the file's bytes on the device. swapon(2) of a file without holes works,
 * and writes to the file fail with ETXTBSY while it is swap.
 */
TEST_F(vfs, fiemap_fibmap_and_swapon)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[8];
	} m;
	unsigned char buf[4096];
	int fd, dev, block;

	fd = open("frag", O_CREAT | O_TRUNC | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, put_pattern(fd, 0, 16384, 1));
	ASSERT_EQ(0, put_pattern(fd, 1 << 20, 8192, 2));
	ASSERT_EQ(0, fsync(fd));

	memset(&m, 0, sizeof(m));
	m.fm.fm_length = FIEMAP_MAX_OFFSET;
	m.fm.fm_extent_count = 8;
	ASSERT_EQ(0, ioctl(fd, FS_IOC_FIEMAP, &m.fm)) TH_LOG("FIEMAP: %s", strerror(errno));
	ASSERT_EQ(2, m.fm.fm_mapped_extents);
	EXPECT_EQ(0, m.ext[0].fe_logical);
	EXPECT_EQ(16384, m.ext[0].fe_length);
	EXPECT_EQ(0, m.ext[0].fe_flags);
	EXPECT_EQ(1 << 20, m.ext[1].fe_logical);
	EXPECT_EQ(8192, m.ext[1].fe_length);
	EXPECT_EQ(FIEMAP_EXTENT_LAST, m.ext[1].fe_flags);

	/* Counting only; and a range that ends inside the first extent. */
	m.fm.fm_extent_count = 0;
	ASSERT_EQ(0, ioctl(fd, FS_IOC_FIEMAP, &m.fm));
	EXPECT_EQ(2, m.fm.fm_mapped_extents);
	m.fm.fm_extent_count = 8;
	m.fm.fm_length = 4096;
	ASSERT_EQ(0, ioctl(fd, FS_IOC_FIEMAP, &m.fm));
	EXPECT_EQ(1, m.fm.fm_mapped_extents);
	EXPECT_EQ(0, m.ext[0].fe_flags);

	/* FIBMAP agrees, and gives 0 in the hole. */
	block = 1;
	ASSERT_EQ(0, ioctl(fd, FIBMAP, &block)) TH_LOG("FIBMAP: %s", strerror(errno));
	EXPECT_EQ(m.ext[0].fe_physical / 4096 + 1, (unsigned long long)block);
	block = 100;
	ASSERT_EQ(0, ioctl(fd, FIBMAP, &block));
	EXPECT_EQ(0, block);

	/* The device holds the file's bytes where FIEMAP says. */
	dev = open(DISK0, O_RDONLY);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, ioctl(dev, BLKFLSBUF, 0));
	ASSERT_EQ(4096, pread(dev, buf, 4096, m.ext[0].fe_physical + 4096));
	for (int i = 0; i < 4096; i++) {
		if (buf[i] != pat(4096 + i, 1)) {
			TH_LOG("device byte %d of the file's second block is wrong", i);
			ASSERT_EQ(pat(4096 + i, 1), buf[i]);
		}
	}
	close(dev);
	close(fd);

	/* A swap file: fully allocated, made by mkswap, used, released. */
	fd = open("swap", O_CREAT | O_TRUNC | O_RDWR, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, 0, 0, 8 << 20));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	ASSERT_EQ(0, run("mkswap " MNT "/swap >/dev/null"));
	ASSERT_EQ(0, run("swapon " MNT "/swap")) TH_LOG("swapon of an rsfs file failed");
	EXPECT_EQ(0, run("grep -q '^" MNT "/swap ' /proc/swaps"));
	fd = open("swap", O_WRONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, pwrite(fd, buf, 4096, 0));
	EXPECT_EQ(ETXTBSY, errno) TH_LOG("a write to an active swap file");
	close(fd);
	ASSERT_EQ(0, run("swapoff " MNT "/swap"));
	ASSERT_EQ(0, unlink("swap"));
}

/*
 * O_TMPFILE: a file with no name, whose space comes back on its last
 * close, or which linkat(2) names; its data then survives a remount.
 */
TEST_F(vfs, o_tmpfile)
{
	unsigned long long before = free_blocks();
	char path[64];
	int fd;

	fd = open(".", O_TMPFILE | O_RDWR, 0640);
	ASSERT_LE(0, fd) TH_LOG("O_TMPFILE: %s", strerror(errno));
	ASSERT_EQ(0, put_pattern(fd, 0, 1 << 20, 3));
	ASSERT_EQ(0, fsync(fd));
	EXPECT_EQ(0, fstat(fd, &(struct stat){}));
	EXPECT_GE(before - 256, free_blocks());
	close(fd);
	EXPECT_EQ(before, free_blocks()) TH_LOG("an unnamed file's blocks were not freed");

	fd = open(".", O_TMPFILE | O_RDWR, 0640);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, put_pattern(fd, 0, 65536, 4));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ASSERT_EQ(0, linkat(AT_FDCWD, path, AT_FDCWD, "named", AT_SYMLINK_FOLLOW))
		TH_LOG("linkat: %s", strerror(errno));
	close(fd);
	/* An exclusive O_TMPFILE cannot be named. */
	fd = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0640);
	ASSERT_LE(0, fd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	EXPECT_NE(0, linkat(AT_FDCWD, path, AT_FDCWD, "never", AT_SYMLINK_FOLLOW));
	close(fd);

	ASSERT_EQ(0, remount());
	fd = open("named", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, check_pattern(fd, 0, 65536, 4));
	struct stat st;
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(1, st.st_nlink);
	EXPECT_EQ(0640, st.st_mode & 07777);
	close(fd);
	EXPECT_NE(0, access("never", F_OK));
	ASSERT_EQ(0, unlink("named"));
}

/*
 * File handles (name_to_handle_at, open_by_handle_at; what NFS export
 * needs): a handle opens its file after the caches are dropped, a
 * directory's handle opens the directory, and a handle to a deleted file
 * gives ESTALE even when its inode number has been reused.
 */
TEST_F(vfs, file_handles)
{
	struct handle {
		struct file_handle fh;
		unsigned char space[MAX_HANDLE_SZ];
	} file, dir;
	char buf[8] = { 0 };
	int mount_id, mfd, fd, dfd;

	ASSERT_EQ(0, mkdir("a", 0755));
	ASSERT_EQ(0, mkdir("a/b", 0755));
	ASSERT_EQ(0, put_file("a/b/f", "handle"));
	file.fh.handle_bytes = MAX_HANDLE_SZ;
	ASSERT_EQ(0, name_to_handle_at(AT_FDCWD, "a/b/f", &file.fh, &mount_id, 0))
		TH_LOG("name_to_handle_at: %s", strerror(errno));
	dir.fh.handle_bytes = MAX_HANDLE_SZ;
	ASSERT_EQ(0, name_to_handle_at(AT_FDCWD, "a/b", &dir.fh, &mount_id, 0));
	mfd = open(MNT, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, mfd);

	ASSERT_EQ(0, drop_caches());
	fd = open_by_handle_at(mfd, &file.fh, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open_by_handle_at: %s", strerror(errno));
	EXPECT_EQ(6, read(fd, buf, sizeof(buf)));
	EXPECT_STREQ("handle", buf);
	close(fd);
	dfd = open_by_handle_at(mfd, &dir.fh, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd);
	EXPECT_EQ(0, faccessat(dfd, "f", R_OK, 0));
	close(dfd);

	/*
	 * Unlinked while open: its handle still opens it (generic/467), and
	 * once it is closed, the handle is stale.
	 */
	ASSERT_EQ(0, put_file("a/b/open", "still"));
	struct handle open_h = { .fh.handle_bytes = MAX_HANDLE_SZ };
	ASSERT_EQ(0, name_to_handle_at(AT_FDCWD, "a/b/open", &open_h.fh, &mount_id, 0));
	dfd = open("a/b/open", O_RDONLY);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, unlink("a/b/open"));
	fd = open_by_handle_at(mfd, &open_h.fh, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open_by_handle_at of an unlinked open file: %s", strerror(errno));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, read(fd, buf, sizeof(buf)));
	EXPECT_STREQ("still", buf);
	close(fd);
	close(dfd);
	ASSERT_EQ(0, drop_caches());
	EXPECT_EQ(-1, open_by_handle_at(mfd, &open_h.fh, O_RDONLY));
	EXPECT_EQ(ESTALE, errno);

	/* Deleted, and its number handed to a new file. */
	ASSERT_EQ(0, unlink("a/b/f"));
	ASSERT_EQ(0, put_file("a/b/g", "other"));
	ASSERT_EQ(0, drop_caches());
	fd = open_by_handle_at(mfd, &file.fh, O_RDONLY);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(ESTALE, errno);
	if (fd >= 0)
		close(fd);
	close(mfd);
	ASSERT_EQ(0, run("rm -r " MNT "/a"));
}

/* Writes `data` to an existing file, such as a /proc one; 0 or -1. */
static int write_to(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, data, strlen(data)) == (ssize_t)strlen(data);
	close(fd);
	return ok ? 0 : -1;
}

/* The disk block behind block 0 of `path` (FIBMAP), 0 on failure. */
static unsigned int first_block(const char *path)
{
	int fd = open(path, O_RDONLY), block = 0;

	if (fd < 0 || ioctl(fd, FIBMAP, &block))
		block = 0;
	if (fd >= 0)
		close(fd);
	return block;
}

/*
 * Makes the files `names` (NUL-separated, ending with an empty name), each
 * 1 MiB of pattern `seed`, synced, and puts the disk block behind the
 * first block of each in `blocks`. 0, or -1 on a failure.
 */
static int synced_files(const char *names, int seed, unsigned int *blocks)
{
	for (const char *f = names; *f; f += strlen(f) + 1, blocks++) {
		int fd = open(f, O_CREAT | O_RDWR, 0644), bad;

		if (fd < 0)
			return -1;
		bad = put_pattern(fd, 0, 1 << 20, seed) || fsync(fd);
		close(fd);
		*blocks = first_block(f);
		if (bad || !*blocks)
			return -1;
	}
	return 0;
}

/*
 * FITRIM (fstrim(8)), as on ext4: the free space is discarded (the test
 * disk turns a discard into a hole, which reads as zeroes), files keep
 * their bytes, and blocks whose free is not yet committed keep theirs too
 * (a power cut would bring back the file that names them). minlen, the
 * range and the errors follow ext4.
 */
TEST_F(vfs, fitrim_discards_only_free_space)
{
	static unsigned char buf[1 << 20] __attribute__((aligned(4096)));
	struct fstrim_range r = { .start = 0, .len = ULLONG_MAX };
	unsigned int b[3], gone, waiting;
	int fd, dfd = open(".", O_RDONLY);
	size_t i;

	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, synced_files("kept\0gone\0waiting\0", 7, b));
	gone = b[1];
	waiting = b[2];
	ASSERT_EQ(0, unlink("gone"));
	ASSERT_EQ(0, syncfs(dfd));
	/* Freed, but not committed. */
	ASSERT_EQ(0, unlink("waiting"));

	/* A range that ends where the deleted file's blocks begin: they stay. */
	r = (struct fstrim_range){ .start = 0, .len = (unsigned long long)gone * 4096 };
	ASSERT_EQ(0, ioctl(dfd, FITRIM, &r)) TH_LOG("FITRIM: %s", strerror(errno));
	ASSERT_EQ(0, read_disk(DISK0, gone, buf, sizeof(buf)));
	for (i = 0; i < sizeof(buf) && buf[i] == pat(i, 7); i++)
		;
	EXPECT_EQ(sizeof(buf), i) TH_LOG("byte %zu past the range was discarded", i);

	r = (struct fstrim_range){ .start = 0, .len = ULLONG_MAX };
	ASSERT_EQ(0, ioctl(dfd, FITRIM, &r)) TH_LOG("FITRIM: %s", strerror(errno));
	/* At least the deleted file's megabyte; at most the disk's free space. */
	EXPECT_GE(r.len, 1 << 20);
	EXPECT_LE(r.len, free_blocks() * 4096);
	ASSERT_EQ(0, read_disk(DISK0, gone, buf, sizeof(buf)));
	for (i = 0; i < sizeof(buf) && !buf[i]; i++)
		;
	EXPECT_EQ(sizeof(buf), i) TH_LOG("byte %zu of the deleted file's blocks was not discarded", i);
	ASSERT_EQ(0, read_disk(DISK0, waiting, buf, sizeof(buf)));
	for (i = 0; i < sizeof(buf) && buf[i] == pat(i, 7); i++)
		;
	EXPECT_EQ(sizeof(buf), i) TH_LOG("byte %zu of blocks whose free is not committed changed", i);
	ASSERT_EQ(0, drop_caches());
	fd = open("kept", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, check_pattern(fd, 0, 1 << 20, 7));
	close(fd);

	/* In the first megabyte, no free run is 64 MiB long: nothing goes. */
	r = (struct fstrim_range){ .start = 0, .len = 1 << 20, .minlen = 64 << 20 };
	ASSERT_EQ(0, ioctl(dfd, FITRIM, &r));
	EXPECT_EQ(0, r.len);
	/* A minlen longer than a bitmap block's blocks, as ext4's group. */
	r = (struct fstrim_range){ .start = 0, .len = ULLONG_MAX, .minlen = 1ULL << 30 };
	EXPECT_EQ(-1, ioctl(dfd, FITRIM, &r));
	EXPECT_EQ(EINVAL, errno);
	r = (struct fstrim_range){ .start = 1ULL << 40, .len = ULLONG_MAX };
	EXPECT_EQ(-1, ioctl(dfd, FITRIM, &r));
	EXPECT_EQ(EINVAL, errno);
	r = (struct fstrim_range){ .start = 0, .len = 100 };
	EXPECT_EQ(-1, ioctl(dfd, FITRIM, &r));
	EXPECT_EQ(EINVAL, errno);
	/* Not an rsfs command. */
	EXPECT_EQ(-1, ioctl(dfd, _IO('X', 200), 0));
	EXPECT_EQ(ENOTTY, errno);
	close(dfd);
	ASSERT_EQ(0, unlink("kept"));
}

/*
 * A user namespace that maps its ids 0..999 to 10000..10999, held open by
 * an fd (the process that made it has exited). -1 on failure.
 */
static int userns_10000(void)
{
	int ready[2], hold[2], fd = -1;
	char path[64], c;
	pid_t pid;

	if (pipe(ready) || pipe(hold))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		c = unshare(CLONE_NEWUSER) ? 'e' : 'k';
		if (write(ready[1], &c, 1) != 1 || read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	if (pid > 0 && read(ready[0], &c, 1) == 1 && c == 'k') {
		snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
		if (!write_to(path, "0 10000 1000\n")) {
			snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
			if (!write_to(path, "0 10000 1000\n")) {
				snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
				fd = open(path, O_RDONLY | O_CLOEXEC);
			}
		}
	}
	close(ready[0]);
	close(hold[1]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return fd;
}

/*
 * Idmapped mounts (mount_setattr(2) with MOUNT_ATTR_IDMAP), as on ext4:
 * through a mount idmapped with a namespace that maps 0..999 to
 * 10000..10999, a file owned by 0 on disk shows as 10000; a file made by
 * fsuid 10005 is owned by 5 on disk; a chown to 10007 stores 7; and an id
 * the mapping does not cover can neither own a new file nor be given by
 * chown (EOVERFLOW). Before
 * rsfs said it handles idmaps (FS_ALLOW_IDMAP), the mount_setattr failed
 * with EINVAL.
 */
TEST_F(vfs, idmapped_mounts)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP };
	struct stat st;
	int tree, fd, status;
	pid_t pid;

	ASSERT_EQ(0, put_file("owned0", "x"));
	ASSERT_EQ(0, mkdir("idm", 0777));
	ASSERT_EQ(0, chmod("idm", 0777));
	attr.userns_fd = userns_10000();
	ASSERT_LE(0, (int)attr.userns_fd) TH_LOG("making a user namespace: %s", strerror(errno));
	tree = open_tree(AT_FDCWD, MNT, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	ASSERT_LE(0, tree) TH_LOG("open_tree: %s", strerror(errno));
	ASSERT_EQ(0, mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)))
		TH_LOG("mount_setattr(MOUNT_ATTR_IDMAP): %s", strerror(errno));

	ASSERT_EQ(0, fstatat(tree, "owned0", &st, 0));
	EXPECT_EQ(10000, st.st_uid);
	EXPECT_EQ(10000, st.st_gid);

	/* A new file, made by an id the mapping covers. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		setfsgid(10005);
		setfsuid(10005);
		fd = openat(tree, "idm/made", O_CREAT | O_WRONLY, 0644);
		_exit(fd < 0 ? errno : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("create as 10005: %s", strerror(WEXITSTATUS(status)));
	/* Root (0) is not in the mapping: it cannot own a new file there. */
	fd = openat(tree, "idm/root", O_CREAT | O_WRONLY, 0644);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(0, fchownat(tree, "owned0", 10007, 10007, 0));
	/* An id outside the mapping cannot be stored through it. */
	EXPECT_EQ(-1, fchownat(tree, "owned0", 5, 5, 0));
	EXPECT_EQ(EOVERFLOW, errno);
	close(tree);
	close(attr.userns_fd);

	/* On disk, read back after the inodes are dropped. */
	ASSERT_EQ(0, drop_caches());
	ASSERT_EQ(0, stat("idm/made", &st));
	EXPECT_EQ(5, st.st_uid);
	EXPECT_EQ(5, st.st_gid);
	ASSERT_EQ(0, stat("owned0", &st));
	EXPECT_EQ(7, st.st_uid);
	EXPECT_EQ(7, st.st_gid);
	EXPECT_EQ(-1, access("idm/root", F_OK));
	ASSERT_EQ(0, run("rm -r " MNT "/idm " MNT "/owned0"));
}

static int get_flags(const char *path, int *flags)
{
	int fd = open(path, O_RDONLY), ret;

	if (fd < 0)
		return -1;
	ret = ioctl(fd, FS_IOC_GETFLAGS, flags);
	close(fd);
	return ret;
}

static int set_flags(const char *path, int flags)
{
	int fd = open(path, O_RDONLY), ret;

	if (fd < 0)
		return -1;
	ret = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	close(fd);
	return ret;
}

/*
 * chattr(1) flags, as on ext2: immutable and append-only are enforced,
 * the flags survive a remount, a new file takes its directory's
 * inheritable flags, and flags rsfs does not have give EOPNOTSUPP.
 */
TEST_F(vfs, chattr_flags)
{
	const __u64 ours = STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND | STATX_ATTR_NODUMP;
	struct fsxattr fx;
	struct statx sx;
	struct stat a, b;
	int fd, flags;

	ASSERT_EQ(0, put_file("i", "immutable"));
	ASSERT_EQ(0, stat("i", &a));
	usleep(20000);
	ASSERT_EQ(0, set_flags("i", FS_IMMUTABLE_FL)) TH_LOG("FS_IOC_SETFLAGS: %s", strerror(errno));
	ASSERT_EQ(0, stat("i", &b));
	EXPECT_TRUE(b.st_ctim.tv_sec > a.st_ctim.tv_sec || b.st_ctim.tv_nsec > a.st_ctim.tv_nsec);
	EXPECT_EQ(-1, open("i", O_WRONLY));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, unlink("i"));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, rename("i", "j"));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, truncate("i", 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, chmod("i", 0600));
	EXPECT_EQ(EPERM, errno);

	ASSERT_EQ(0, put_file("a", "append"));
	ASSERT_EQ(0, set_flags("a", FS_APPEND_FL | FS_NODUMP_FL));
	EXPECT_EQ(-1, open("a", O_WRONLY));
	EXPECT_EQ(EPERM, errno);
	fd = open("a", O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	EXPECT_EQ(4, write(fd, "+more", 4));
	close(fd);
	EXPECT_EQ(-1, truncate("a", 0));

	/*
	 * statx(2) reports them, as ext2 and ext4 do (fstests generic/424):
	 * in the mask, the three rsfs has; in the attributes, those set.
	 */
	ASSERT_EQ(0, statx(AT_FDCWD, "i", 0, STATX_BASIC_STATS, &sx));
	EXPECT_EQ(ours, sx.stx_attributes_mask & ours);
	EXPECT_EQ(STATX_ATTR_IMMUTABLE, sx.stx_attributes & ours);
	ASSERT_EQ(0, statx(AT_FDCWD, "a", 0, STATX_BASIC_STATS, &sx));
	EXPECT_EQ(STATX_ATTR_APPEND | STATX_ATTR_NODUMP, sx.stx_attributes & ours);
	ASSERT_EQ(0, statx(AT_FDCWD, ".", 0, STATX_BASIC_STATS, &sx));
	EXPECT_EQ(ours, sx.stx_attributes_mask & ours);
	EXPECT_EQ(0, sx.stx_attributes & ours);

	/* Inherited: NOATIME and NODUMP, not APPEND or IMMUTABLE. */
	ASSERT_EQ(0, mkdir("d", 0755));
	ASSERT_EQ(0, set_flags("d", FS_NOATIME_FL | FS_NODUMP_FL));
	ASSERT_EQ(0, put_file("d/new", "x"));
	ASSERT_EQ(0, get_flags("d/new", &flags));
	EXPECT_EQ(FS_NOATIME_FL | FS_NODUMP_FL, flags);

	/* What rsfs does not have. */
	EXPECT_EQ(-1, set_flags("d/new", FS_COMPR_FL));
	EXPECT_EQ(EOPNOTSUPP, errno);

	/*
	 * The same flags through FS_IOC_FSSETXATTR, as xfs_io's chattr sets
	 * them (fstests generic/553 needs `chattr +i` there); an extent size
	 * hint rsfs has not.
	 */
	fd = open("d/new", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_FSGETXATTR, &fx));
	EXPECT_EQ(FS_XFLAG_NOATIME | FS_XFLAG_NODUMP, fx.fsx_xflags);
	fx.fsx_xflags |= FS_XFLAG_IMMUTABLE;
	EXPECT_EQ(0, ioctl(fd, FS_IOC_FSSETXATTR, &fx)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, get_flags("d/new", &flags));
	EXPECT_EQ(FS_NOATIME_FL | FS_NODUMP_FL | FS_IMMUTABLE_FL, flags);
	fx.fsx_xflags &= ~FS_XFLAG_IMMUTABLE;
	EXPECT_EQ(0, ioctl(fd, FS_IOC_FSSETXATTR, &fx));
	fx.fsx_xflags |= FS_XFLAG_EXTSIZE;
	fx.fsx_extsize = 65536;
	EXPECT_EQ(-1, ioctl(fd, FS_IOC_FSSETXATTR, &fx));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(fd);
	ASSERT_EQ(0, get_flags("d/new", &flags));
	EXPECT_EQ(FS_NOATIME_FL | FS_NODUMP_FL, flags);

	ASSERT_EQ(0, remount());
	ASSERT_EQ(0, get_flags("i", &flags));
	EXPECT_EQ(FS_IMMUTABLE_FL, flags);
	ASSERT_EQ(0, get_flags("a", &flags));
	EXPECT_EQ(FS_APPEND_FL | FS_NODUMP_FL, flags);
	EXPECT_EQ(-1, unlink("i"));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, get_flags("d/new", &flags));
	EXPECT_EQ(FS_NOATIME_FL | FS_NODUMP_FL, flags);

	ASSERT_EQ(0, set_flags("i", 0));
	ASSERT_EQ(0, set_flags("a", 0));
	ASSERT_EQ(0, unlink("i"));
	ASSERT_EQ(0, unlink("a"));
	ASSERT_EQ(0, run("rm -r " MNT "/d"));
}

static bool mounted_with(const char *dir, const char *opt);

/*
 * Mount option discard, as ext4's: the blocks a commit frees are discarded
 * once it is durable (on these disks they then read as zeros), and not
 * before: blocks whose free is not yet committed keep their bytes, so a
 * power cut could still bring their file back. /proc/mounts says
 * "discard"; remount,nodiscard turns it off (the blocks of a file deleted
 * then keep their bytes), and the last of discard and nodiscard wins.
 */
TEST_F(vfs, discard_mount_option)
{
	static unsigned char buf[1 << 20] __attribute__((aligned(4096)));
	unsigned int b[3], gone, waiting, kept;
	unsigned long long before;
	int dfd;
	size_t i;

	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	ASSERT_EQ(0, mount_rsfs(DISK0, "nodiscard,discard"));
	ASSERT_EQ(0, chdir(MNT));
	EXPECT_TRUE(mounted_with(MNT, "discard"));
	dfd = open(".", O_RDONLY);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, synced_files("gone\0waiting\0kept\0", 9, b));
	gone = b[0];
	waiting = b[1];
	kept = b[2];

	before = counter(DISK0, "discarded_blocks");
	ASSERT_EQ(0, unlink("gone"));
	ASSERT_EQ(0, syncfs(dfd));
	EXPECT_LE(256, counter(DISK0, "discarded_blocks") - before);
	ASSERT_EQ(0, read_disk(DISK0, gone, buf, sizeof(buf)));
	for (i = 0; i < sizeof(buf) && !buf[i]; i++)
		;
	EXPECT_EQ(sizeof(buf), i) TH_LOG("byte %zu of the deleted file was not discarded", i);
	/* Freed, not committed: nothing is discarded yet. */
	ASSERT_EQ(0, unlink("waiting"));
	ASSERT_EQ(0, read_disk(DISK0, waiting, buf, sizeof(buf)));
	for (i = 0; i < sizeof(buf) && buf[i] == pat(i, 9); i++)
		;
	EXPECT_EQ(sizeof(buf), i) TH_LOG("byte %zu of blocks whose free is not committed changed", i);
	ASSERT_EQ(0, syncfs(dfd));
	close(dfd);

	/* Off again: a deleted file's blocks keep their bytes. */
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT, "nodiscard"));
	EXPECT_FALSE(mounted_with(MNT, "discard"));
	EXPECT_TRUE(mounted_with(MNT, "rw"));
	before = counter(DISK0, "discarded_blocks");
	ASSERT_EQ(0, unlink("kept"));
	sync();
	EXPECT_EQ(before, counter(DISK0, "discarded_blocks"));
	ASSERT_EQ(0, read_disk(DISK0, kept, buf, sizeof(buf)));
	for (i = 0; i < sizeof(buf) && buf[i] == pat(i, 9); i++)
		;
	EXPECT_EQ(sizeof(buf), i) TH_LOG("byte %zu was discarded under nodiscard", i);
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT, "discard"));
	EXPECT_TRUE(mounted_with(MNT, "discard"));
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	ASSERT_EQ(0, mount_rsfs(DISK0, "discard,nodiscard"));
	EXPECT_FALSE(mounted_with(MNT, "discard"));
	ASSERT_EQ(0, chdir(MNT));
}

/* Whether the file is `size` bytes that equal `model`: -1 if so, else
 * the first offset that differs (-2 for a wrong size). */
static long long differs(int fd, const unsigned char *model, size_t size)
{
	static unsigned char buf[1 << 20];
	struct stat st;

	if (fstat(fd, &st) || (size_t)st.st_size != size)
		return -2;
	if (size > sizeof(buf) || pread(fd, buf, size, 0) != (ssize_t)size)
		return -3;
	for (size_t i = 0; i < size; i++)
		if (buf[i] != model[i])
			return i;
	return -1;
}

/* Writes blocks `first..first + n` with pattern `seed`, in the file and
 * in `model`. */
static int put_blocks(int fd, unsigned char *model, size_t first, size_t n, int seed)
{
	for (size_t i = first * 4096; i < (first + n) * 4096; i++)
		model[i] = pat(i, seed);
	return pwrite(fd, model + first * 4096, n * 4096, first * 4096) == (ssize_t)(n * 4096) ? 0 : -1;
}

/*
 * FALLOC_FL_COLLAPSE_RANGE and FALLOC_FL_INSERT_RANGE, as on ext4, against
 * a model of the file: on a file of more extents than the inode holds,
 * with holes and with blocks dirty in the page cache only; an insert
 * inside a run of blocks splits it. The rest of the file moves, a
 * collapsed range is gone and an inserted one reads as zeroes, before and
 * after a remount, and fsck.rsfs (the fixture's teardown) finds the block
 * counts right. Unaligned ranges, a collapse that reaches the end, and
 * an insert at or past the end give EINVAL; with KEEP_SIZE, the VFS
 * gives EOPNOTSUPP (on ext4 too).
 */
TEST_F(vfs, collapse_and_insert_range)
{
	static unsigned char model[1 << 20];
	const size_t bs = 4096;
	size_t size = 48 * bs;
	int fd;

	fd = open("c", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	/* Every other block, synced: one run each, past the inode's nine. */
	for (size_t b = 0; b < 40; b += 2)
		ASSERT_EQ(0, put_blocks(fd, model, b, 1, 3));
	/* Eight blocks in one write: one run. */
	ASSERT_EQ(0, put_blocks(fd, model, 40, 8, 4));
	ASSERT_EQ(0, fsync(fd));
	/* Some holes written, left dirty in the page cache. */
	for (size_t b = 1; b < 30; b += 4)
		ASSERT_EQ(0, put_blocks(fd, model, b, 1, 5));
	ASSERT_EQ(-1, differs(fd, model, size));

	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 6 * bs, 5 * bs));
	memmove(model + 6 * bs, model + 11 * bs, size - 11 * bs);
	size -= 5 * bs;
	ASSERT_EQ(-1, differs(fd, model, size));

	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_INSERT_RANGE, 3 * bs, 2 * bs));
	memmove(model + 5 * bs, model + 3 * bs, size - 3 * bs);
	memset(model + 3 * bs, 0, 2 * bs);
	size += 2 * bs;
	ASSERT_EQ(-1, differs(fd, model, size));

	/* Inside the eight-block run, now at blocks 37..45. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_INSERT_RANGE, 40 * bs, 3 * bs));
	memmove(model + 43 * bs, model + 40 * bs, size - 40 * bs);
	memset(model + 40 * bs, 0, 3 * bs);
	size += 3 * bs;
	ASSERT_EQ(-1, differs(fd, model, size));
	/* And a collapse across it and the blocks around. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 36 * bs, 6 * bs));
	memmove(model + 36 * bs, model + 42 * bs, size - 42 * bs);
	size -= 6 * bs;
	ASSERT_EQ(-1, differs(fd, model, size));

	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 100, bs));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, bs, 100));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, size - bs, bs));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_INSERT_RANGE, size, bs));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_INSERT_RANGE | FALLOC_FL_KEEP_SIZE, 0, bs));
	EXPECT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(-1, differs(fd, model, size));
	ASSERT_EQ(0, close(fd));

	ASSERT_EQ(0, remount());
	fd = open("c", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, differs(fd, model, size));
	ASSERT_EQ(0, close(fd));
}

/* ext4's EXT4_IOC_SHUTDOWN (xfs's XFS_IOC_GOINGDOWN), and its ways. */
#define SHUTDOWN_IOC _IOR('X', 125, __u32)
#define GOING_DEFAULT 0
#define GOING_LOGFLUSH 1
#define GOING_NOLOGFLUSH 2

/* Makes block device `dev` read-only, or read-write again (BLKROSET). */
static int set_device_ro(const char *dev, int ro)
{
	int fd = open(dev, O_RDONLY);
	int ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, BLKROSET, &ro) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * Shuts the filesystem at MNT down the way `how` says, as `uid` (root: 0):
 * 0, or the errno.
 */
static int shut_down(unsigned int how, uid_t uid)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open(MNT, O_RDONLY | O_DIRECTORY);

		if (fd < 0)
			_exit(101);
		if (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(100);
		_exit(ioctl(fd, SHUTDOWN_IOC, &how) ? errno : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * FS_IOC_SHUTDOWN, as on ext4 (fstests' godown, and the crash tests built
 * on it): once shut down, every call that would change the filesystem,
 * read file data or open a file fails with EIO, nothing more is written,
 * and the next mount finds what the last commit left. Without the flush
 * (NOLOGFLUSH), only what fsync acknowledged is there; LOGFLUSH commits
 * first; the default writes everything first, an overwrite in place too.
 * A log left to replay cannot be on a read-only device. Only root may, and
 * the way must be one of the three.
 */
TEST_F(vfs, shutdown)
{
	unsigned char buf[16];
	struct stat st;
	int fd, fd2;

	fd = open("synced", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, put_pattern(fd, 0, 65536, 1));
	ASSERT_EQ(0, fsync(fd));
	fd2 = open("unsynced", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, put_pattern(fd2, 0, 8192, 2));
	ASSERT_EQ(0, mkdir("dir", 0755));

	EXPECT_EQ(EPERM, shut_down(GOING_NOLOGFLUSH, 1000));
	EXPECT_EQ(EINVAL, shut_down(3, 0));
	ASSERT_EQ(0, shut_down(GOING_NOLOGFLUSH, 0));
	EXPECT_EQ(0, shut_down(GOING_NOLOGFLUSH, 0));
	EXPECT_EQ(-1, write(fd2, "x", 1));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, fsync(fd2));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, open("synced", O_RDONLY));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, mkdir("dir2", 0755));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, unlink("synced"));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, rename("synced", "moved"));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, fchmod(fd, 0600));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, ftruncate(fd, 0));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, fallocate(fd, 0, 0, 1 << 20));
	EXPECT_EQ(EIO, errno);
	/* What does not change it still works. */
	EXPECT_EQ(0, stat("synced", &st));
	EXPECT_EQ(65536, st.st_size);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, close(fd2));
	EXPECT_EQ(-1, mount(NULL, MNT, NULL, MS_REMOUNT | MS_RDONLY, NULL));
	EXPECT_EQ(EROFS, errno);

	ASSERT_EQ(0, remount());
	fd = open("synced", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, check_pattern(fd, 0, 65536, 1));
	EXPECT_EQ(-1, access("unsynced", F_OK));
	EXPECT_EQ(-1, access("dir", F_OK));

	/*
	 * LOGFLUSH: the running transaction is committed, so the new file is
	 * there; its size is not in it yet (it goes to the inode table with
	 * the inode's writeback), but if it is, so is the data, which the
	 * commit wrote first. As on ext4, whose delayed allocation leaves such
	 * a file empty.
	 */
	fd2 = open("logged", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, put_pattern(fd2, 0, 8192, 3));
	ASSERT_EQ(0, close(fd2));
	ASSERT_EQ(0, shut_down(GOING_LOGFLUSH, 0));
	ASSERT_EQ(0, close(fd));
	/*
	 * Its log needs replaying, which a read-only device does not allow:
	 * EROFS, as on ext4, unless the mount is without recovery.
	 */
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	ASSERT_EQ(0, set_device_ro(DISK0, 1));
	EXPECT_EQ(-1, mount(DISK0, MNT, "rsfs", MS_RDONLY, NULL));
	EXPECT_EQ(EROFS, errno);
	EXPECT_EQ(0, mount(DISK0, MNT, "rsfs", MS_RDONLY, "norecovery"));
	EXPECT_EQ(0, umount(MNT));
	ASSERT_EQ(0, set_device_ro(DISK0, 0));
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
	ASSERT_EQ(0, chdir(MNT));
	fd2 = open("logged", O_RDONLY);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, fstat(fd2, &st));
	EXPECT_TRUE(st.st_size == 0 || st.st_size == 8192) TH_LOG("size %lld", (long long)st.st_size);
	EXPECT_EQ(-1, check_pattern(fd2, 0, st.st_size, 3));
	ASSERT_EQ(0, close(fd2));

	/* The default: an overwrite in place, never synced, is written too. */
	fd = open("synced", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, put_pattern(fd, 0, 65536, 4));
	ASSERT_EQ(0, shut_down(GOING_DEFAULT, 0));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, remount());
	fd = open("synced", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, check_pattern(fd, 0, 65536, 4));
	ASSERT_EQ(0, close(fd));
}

/*
 * Files unlinked but open when the filesystem is shut down are on the
 * orphan list the last commit left, and the next mount releases them all
 * (fstests generic/530, with 50,000 O_TMPFILE files). The teardown's fsck
 * finds any left.
 */
TEST_F_TIMEOUT(vfs, shutdown_with_open_tmpfiles, 600)
{
	enum { N = 3000 };
	struct rlimit rl = { N + 64, N + 64 };
	static int fds[N];

	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	for (int i = 0; i < N; i++) {
		fds[i] = open(".", O_TMPFILE | O_RDWR, 0644);
		ASSERT_LE(0, fds[i]) TH_LOG("tmpfile %d: %s", i, strerror(errno));
	}
	ASSERT_EQ(0, shut_down(GOING_LOGFLUSH, 0));
	for (int i = 0; i < N; i++)
		ASSERT_EQ(0, close(fds[i]));
	ASSERT_EQ(0, remount());
	EXPECT_FALSE(kmsg_grep(&self->k, "orphan list"));
}

/*
 * What an O_SYNC or O_DSYNC write acknowledged is on the disk: each kind
 * (buffered and direct, O_SYNC and O_DSYNC) writes 1 MiB into a new file,
 * then the filesystem is shut down without a flush (NOLOGFLUSH), and after
 * a mount cycle the data and size are there (fstests generic/737). A
 * direct one past the end of the file used to hang: iomap synced it
 * inside ->direct_IO, where rsfs holds the write's transaction handle,
 * which the sync waits for.
 */
TEST_F_TIMEOUT(vfs, synchronous_writes_survive_a_shutdown, 300)
{
	static unsigned char buf[1 << 20] __attribute__((aligned(4096)));
	struct stat st;
	char name[8];
	int fd;

	for (int k = 0; k < 4; k++) {
		int direct = k & 1, flag = k & 2 ? O_DSYNC : O_SYNC;

		snprintf(name, sizeof(name), "s%d", k);
		memset(buf, 0x5a + k, sizeof(buf));
		fd = open(name, O_CREAT | O_WRONLY | flag | (direct ? O_DIRECT : 0), 0644);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)sizeof(buf), pwrite(fd, buf, sizeof(buf), 0));
		ASSERT_EQ(0, shut_down(GOING_NOLOGFLUSH, 0));
		ASSERT_EQ(0, close(fd));
		ASSERT_EQ(0, remount());
		fd = open(name, O_RDONLY);
		ASSERT_LE(0, fd) TH_LOG("%s: %s", name, strerror(errno));
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ((off_t)sizeof(buf), st.st_size) TH_LOG("%s", name);
		memset(buf, 0, sizeof(buf));
		ASSERT_EQ((ssize_t)sizeof(buf), pread(fd, buf, sizeof(buf), 0));
		EXPECT_EQ(0x5a + k, buf[0]) TH_LOG("%s", name);
		EXPECT_EQ(0x5a + k, buf[sizeof(buf) - 1]) TH_LOG("%s", name);
		ASSERT_EQ(0, close(fd));
	}
}

/* The number of extents FIEMAP reports for `fd`, or -1. */
static int extent_count(int fd)
{
	struct fiemap fm = { .fm_length = FIEMAP_MAX_OFFSET };

	if (ioctl(fd, FS_IOC_FIEMAP, &fm))
		return -1;
	return fm.fm_mapped_extents;
}

/*
 * A collapse of a range that an insert made joins the two runs the insert
 * split, as ext4 merges extents: a file of one extent, given a hole every
 * other block by 20 inserts (more runs than the inode holds, so some go to
 * an overflow block) and then collapsed back, is one extent again, with
 * no overflow block (fstests generic/064).
 */
TEST_F(vfs, collapse_joins_what_insert_split)
{
	static unsigned char model[40 * 4096];
	const size_t bs = 4096;
	int fd;

	fd = open("j", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, put_blocks(fd, model, 0, 40, 7));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(1, extent_count(fd));
	for (size_t j = 0; j < 20; j++)
		ASSERT_EQ(0, fallocate(fd, FALLOC_FL_INSERT_RANGE, (2 * j + 1) * bs, bs));
	EXPECT_EQ(21, extent_count(fd));
	for (size_t j = 0; j < 20; j++)
		ASSERT_EQ(0, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, (j + 1) * bs, bs));
	EXPECT_EQ(1, extent_count(fd));
	EXPECT_EQ(-1, differs(fd, model, sizeof(model)));
	ASSERT_EQ(0, close(fd));

	ASSERT_EQ(0, remount());
	fd = open("j", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, extent_count(fd));
	EXPECT_EQ(-1, differs(fd, model, sizeof(model)));
	ASSERT_EQ(0, close(fd));
}

/* Writes `len` bytes of pattern `seed` to a new file `path` (O_DIRECT if
 * `direct`), and fsyncs it if `sync`: 0, or the errno that stopped it. */
static int fill_file(const char *path, size_t len, int seed, bool direct, bool sync)
{
	static unsigned char buf[1 << 20] __attribute__((aligned(4096)));
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | (direct ? O_DIRECT : 0), 0644);
	int err = 0;

	if (fd < 0)
		return errno;
	for (size_t off = 0; off < len && !err; off += sizeof(buf)) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(off + i, seed);
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			err = errno ? errno : EIO;
	}
	if (!err && sync && fsync(fd))
		err = errno;
	close(fd);
	return err;
}

/*
 * The space of a deleted file can be written again at once, as on ext2
 * and ext4, though its blocks wait for a commit before reuse: a write (or
 * fallocate) that finds too little room commits first, as ext4 retries an
 * allocation after a journal commit (fstests generic/427 got ENOSPC).
 * Buffered, direct and fallocate, each into the space the last one left;
 * then files never synced, whose blocks are not even freed until a commit
 * lets the file go (generic/427's case).
 */
TEST_F_TIMEOUT(vfs, deleted_space_is_reused_at_once, 300)
{
	struct statvfs sv;
	size_t len;
	int fd;

	ASSERT_EQ(0, statvfs(".", &sv));
	/* All but 2 MiB of the free space, in whole megabytes. */
	len = ((sv.f_bavail * sv.f_frsize) >> 20) - 2;
	len <<= 20;
	ASSERT_EQ(0, fill_file("first", len, 1, false, true));
	ASSERT_EQ(0, unlink("first"));
	/* Synced files first, then files never synced. */
	for (int synced = 1; synced >= 0; synced--) {
		EXPECT_EQ(0, fill_file("buffered", len, 2, false, synced)) TH_LOG("synced %d", synced);
		ASSERT_EQ(0, unlink("buffered"));
		EXPECT_EQ(0, fill_file("direct", len, 3, true, synced)) TH_LOG("synced %d", synced);
		ASSERT_EQ(0, unlink("direct"));
		/* fallocate, never synced either way. */
		fd = open("preallocated", O_CREAT | O_RDWR, 0644);
		ASSERT_LE(0, fd);
		EXPECT_EQ(0, fallocate(fd, 0, 0, len)) TH_LOG("fallocate: %s", strerror(errno));
		close(fd);
		ASSERT_EQ(0, unlink("preallocated"));
	}
}

/*
 * statx(2) reports the alignment of direct I/O (STATX_DIOALIGN) for a
 * regular file, as ext4 does, and not for a directory; and direct I/O at
 * exactly that alignment works: a write of one alignment unit into a new
 * block, past the end, is done directly (not through the page cache), and
 * the rest of the block reads as zeroes, also after the file grows over it.
 */
TEST_F(vfs, statx_reports_direct_io_alignment)
{
	static unsigned char mem[3 * 4096] __attribute__((aligned(4096)));
	unsigned long long allocs, fallbacks;
	struct statx stx = { 0 };
	unsigned char *buf, back[4096];
	unsigned int mem_align, off_align;
	int fd;

	ASSERT_EQ(0, statx(AT_FDCWD, ".", 0, STATX_DIOALIGN, &stx));
	EXPECT_FALSE(stx.stx_mask & STATX_DIOALIGN);
	fd = open("d", O_CREAT | O_RDWR | O_DIRECT, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx));
	ASSERT_TRUE(stx.stx_mask & STATX_DIOALIGN);
	mem_align = stx.stx_dio_mem_align;
	off_align = stx.stx_dio_offset_align;
	ASSERT_LT(0, mem_align);
	ASSERT_LT(0, off_align);
	ASSERT_GE(4096, mem_align);
	ASSERT_GE(4096, off_align);
	EXPECT_EQ(0, off_align & (off_align - 1));

	/* Aligned to the unit, not to more. */
	buf = mem + (mem_align < 4096 ? mem_align : 4096);
	memset(buf, 0xab, off_align);
	allocs = counter(DISK0, "direct_allocs");
	fallbacks = counter(DISK0, "direct_fallbacks");
	ASSERT_EQ((ssize_t)off_align, pwrite(fd, buf, off_align, off_align));
	EXPECT_LT(allocs, counter(DISK0, "direct_allocs"));
	EXPECT_EQ(fallbacks, counter(DISK0, "direct_fallbacks"));
	memset(buf, 0, off_align);
	ASSERT_EQ((ssize_t)off_align, pread(fd, buf, off_align, off_align));
	EXPECT_EQ(0xab, buf[0]);
	EXPECT_EQ(0xab, buf[off_align - 1]);
	ASSERT_EQ(0, close(fd));

	/* The rest of the block is zeroes, before and after the file grows. */
	fd = open("d", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, "z", 1, 8192));
	ASSERT_EQ(0, drop_caches());
	ASSERT_EQ(4096, pread(fd, back, 4096, 0));
	for (unsigned int i = 0; i < 4096; i++) {
		unsigned char want = i >= off_align && i < 2 * off_align ? 0xab : 0;

		ASSERT_EQ(want, back[i]) TH_LOG("byte %u", i);
	}
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, unlink("d"));
}

#ifndef FS_IOC_SETVERSION
#define FS_IOC_SETVERSION _IOW('v', 2, long)
#endif

/*
 * FS_IOC_GETVERSION (lsattr -v), as on ext2 and ext4: the inode's
 * generation, the one its file handles carry (after the inode number),
 * under both of the command's numbers, and again after a remount; two
 * files have two. Setting it (chattr -v) is ENOTTY, as on ext4 with
 * metadata checksums.
 */
TEST_F(vfs, inode_generation)
{
	struct {
		struct file_handle fh;
		unsigned int words[2];
	} h = { .fh.handle_bytes = 8 };
	int fd, fd2, v = 0, old = 0, w = 0, mnt;

	fd = open("g1", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	fd2 = open("g2", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETVERSION, &v));
	ASSERT_EQ(0, ioctl(fd, _IOR('f', 3, long), &old));
	ASSERT_EQ(0, ioctl(fd2, FS_IOC_GETVERSION, &w));
	EXPECT_EQ(v, old);
	EXPECT_NE(v, w);
	ASSERT_EQ(0, name_to_handle_at(AT_FDCWD, "g1", &h.fh, &mnt, 0));
	EXPECT_EQ((unsigned int)v, h.words[1]);
	EXPECT_EQ(-1, ioctl(fd, FS_IOC_SETVERSION, &w));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
	close(fd2);
	ASSERT_EQ(0, remount());
	fd = open("g1", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETVERSION, &old));
	EXPECT_EQ(v, old);
	close(fd);
	ASSERT_EQ(0, unlink("g1"));
	ASSERT_EQ(0, unlink("g2"));
}

#ifndef FS_IOC_GETFSUUID
struct fsuuid2 {
	__u8 len;
	__u8 uuid[16];
};
#define FS_IOC_GETFSUUID _IOR(0x15, 0, struct fsuuid2)
#endif

/* Bytes `off`.. of the superblock on `dev`, as the disk has them. */
static int sb_bytes(const char *dev, int off, void *buf, size_t len)
{
	int fd = open(dev, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, len, off);

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* ioctl(cmd, arg) on `path` as user 1000; its errno, or 0. */
static int ioctl_as_user(const char *path, unsigned long cmd, void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open(path, O_RDONLY);

		if (fd < 0 || setgroups(0, NULL) || setresgid(1000, 1000, 1000) ||
		    setresuid(1000, 1000, 1000))
			_exit(100);
		_exit(ioctl(fd, cmd, arg) ? errno : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * The filesystem's UUID and label, as on ext4: FS_IOC_GETFSUUID (the
 * VFS's) gives the superblock's UUID; FS_IOC_GETFSLABEL and
 * FS_IOC_SETFSLABEL (xfs_io -c label) read and change the label of the
 * mounted filesystem: up to 32 bytes (EINVAL past that), EPERM without
 * CAP_SYS_ADMIN, EROFS on a read-only mount; a new label is on the disk
 * after a sync and survives a remount. (The superblock keeps the UUID at
 * byte 160 and the label at 176; see docs/format.md.)
 */
TEST_F(vfs, label_and_uuid)
{
	char label[FSLABEL_MAX], disk[33] = { 0 };
	const char *max = "0123456789abcdef0123456789abcdef";
	struct fsuuid2 u = { 0 };
	unsigned char uuid[16];
	int fd;

	fd = open(".", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFSUUID, &u));
	ASSERT_EQ(0, sb_bytes(DISK0, 160, uuid, sizeof(uuid)));
	EXPECT_EQ(16, u.len);
	EXPECT_EQ(0, memcmp(u.uuid, uuid, sizeof(uuid)));

	memset(label, 'x', sizeof(label));
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFSLABEL, label));
	EXPECT_STREQ("", label);
	strcpy(label, "rsfs-data");
	ASSERT_EQ(0, ioctl(fd, FS_IOC_SETFSLABEL, label));
	memset(label, 'x', sizeof(label));
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFSLABEL, label));
	EXPECT_STREQ("rsfs-data", label);
	sync();
	ASSERT_EQ(0, sb_bytes(DISK0, 176, disk, 32));
	EXPECT_STREQ("rsfs-data", disk);

	/* 32 bytes fit; 33 do not, and the label stays. */
	strcpy(label, max);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_SETFSLABEL, label));
	strcat(label, "z");
	EXPECT_EQ(-1, ioctl(fd, FS_IOC_SETFSLABEL, label));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(EPERM, ioctl_as_user(".", FS_IOC_SETFSLABEL, label));
	close(fd);

	ASSERT_EQ(0, remount());
	fd = open(".", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFSLABEL, label));
	EXPECT_STREQ(max, label);
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT | MS_RDONLY, NULL));
	strcpy(label, "ro");
	EXPECT_EQ(-1, ioctl(fd, FS_IOC_SETFSLABEL, label));
	EXPECT_EQ(EROFS, errno);
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT, NULL));
	strcpy(label, "");
	EXPECT_EQ(0, ioctl(fd, FS_IOC_SETFSLABEL, label));
	close(fd);
}

/*
 * Mount options norecovery and noload, as ext4's: only with ro (EINVAL
 * otherwise, and with a value); /proc/mounts says "norecovery" for both,
 * as ext4's does; files read; FITRIM gives EROFS (the
 * bitmaps may not be the last commit's); a remount may not make it
 * read-write or add the option to a normal mount (EINVAL). Unknown
 * options stay EINVAL.
 */
TEST_F(vfs, norecovery_is_read_only)
{
	struct fstrim_range r = { .start = 0, .len = ULLONG_MAX };
	char buf[8] = { 0 };
	int fd;

	ASSERT_EQ(0, put_file("kept", "journal"));
	EXPECT_EQ(-1, mount(NULL, MNT, NULL, MS_REMOUNT, "norecovery"));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK0, "norecovery"));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK0, "noload"));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK0, "ro,norecovery=1"));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK0, "ro,recovery"));
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, mount_rsfs(DISK0, i ? "ro,noload" : "ro,norecovery"));
		EXPECT_TRUE(mounted_with(MNT, "norecovery"));
		EXPECT_FALSE(mounted_with(MNT, "noload"));
		fd = open(MNT "/kept", O_RDONLY);
		ASSERT_LE(0, fd);
		EXPECT_EQ(7, read(fd, buf, sizeof(buf)));
		EXPECT_STREQ("journal", buf);
		EXPECT_EQ(-1, ioctl(fd, FITRIM, &r));
		EXPECT_EQ(EROFS, errno);
		close(fd);
		EXPECT_EQ(-1, mount(NULL, MNT, NULL, MS_REMOUNT, NULL));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT | MS_RDONLY, NULL));
		EXPECT_EQ(-1, open(MNT "/new", O_CREAT | O_WRONLY, 0644));
		EXPECT_EQ(EROFS, errno);
		EXPECT_TRUE(mounted_with(MNT, "norecovery"));
		ASSERT_EQ(0, umount(MNT));
	}
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
	EXPECT_TRUE(mounted_with(MNT, "rw"));
	EXPECT_FALSE(mounted_with(MNT, "norecovery"));
	ASSERT_EQ(0, chdir(MNT));
	ASSERT_EQ(0, unlink("kept"));
}

/*
 * Synchronous directories and files, as on ext2 and ext4: under `mount -o
 * dirsync` every name change (create, mkdir, link, rename, unlink, rmdir)
 * is committed before it returns, and so is a truncate or a fallocate of
 * a `chattr +S` file or through an O_DSYNC descriptor, and a name change
 * in a `chattr +D` directory (or one that inherited it); on a plain mount
 * none is. The journal's commit counter shows it.
 */
TEST_F(vfs, synchronous_names_and_files)
{
	unsigned long long c;
	int fd, flags = FS_SYNC_FL;

	/* A plain mount: the names wait for a sync. */
	c = counter(DISK0, "commits");
	ASSERT_EQ(0, put_file("plain", "x"));
	ASSERT_EQ(0, rename("plain", "plain2"));
	ASSERT_EQ(0, unlink("plain2"));
	EXPECT_EQ(c, counter(DISK0, "commits"));
	/* But a fallocate through an O_DSYNC descriptor commits, as on ext4. */
	fd = open("pre", O_CREAT | O_RDWR | O_DSYNC, 0644);
	ASSERT_LE(0, fd);
	c = counter(DISK0, "commits");
	ASSERT_EQ(0, fallocate(fd, 0, 0, 1 << 20));
	EXPECT_EQ(c + 1, counter(DISK0, "commits")) TH_LOG("fallocate, O_DSYNC");
	close(fd);
	ASSERT_EQ(0, unlink("pre"));

	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	ASSERT_EQ(0, mount_rsfs(DISK0, "dirsync"));
	ASSERT_EQ(0, chdir(MNT));
	c = counter(DISK0, "commits");
	ASSERT_EQ(0, put_file("f", "x"));
	EXPECT_EQ(c + 1, counter(DISK0, "commits")) TH_LOG("create");
	ASSERT_EQ(0, mkdir("d", 0755));
	EXPECT_EQ(c + 2, counter(DISK0, "commits")) TH_LOG("mkdir");
	ASSERT_EQ(0, link("f", "d/g"));
	EXPECT_EQ(c + 3, counter(DISK0, "commits")) TH_LOG("link");
	ASSERT_EQ(0, rename("d/g", "h"));
	/* Two directories, one commit. */
	EXPECT_EQ(c + 4, counter(DISK0, "commits")) TH_LOG("rename");
	c = counter(DISK0, "commits");
	ASSERT_EQ(0, unlink("h"));
	EXPECT_EQ(c + 1, counter(DISK0, "commits")) TH_LOG("unlink");
	ASSERT_EQ(0, rmdir("d"));
	EXPECT_EQ(c + 2, counter(DISK0, "commits")) TH_LOG("rmdir");

	/*
	 * chattr +D on a directory of a plain mount: its names are
	 * synchronous, and a new subdirectory inherits that; a file cannot
	 * take the flag (EOPNOTSUPP, as on ext4).
	 */
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
	ASSERT_EQ(0, chdir(MNT));
	ASSERT_EQ(0, mkdir("sd", 0755));
	flags = FS_DIRSYNC_FL;
	ASSERT_EQ(0, set_flags("sd", flags));
	c = counter(DISK0, "commits");
	ASSERT_EQ(0, put_file("sd/f", "x"));
	EXPECT_EQ(c + 1, counter(DISK0, "commits")) TH_LOG("create in a +D directory");
	ASSERT_EQ(0, mkdir("sd/sub", 0755));
	ASSERT_EQ(0, get_flags("sd/sub", &flags));
	EXPECT_EQ(FS_DIRSYNC_FL, flags);
	c = counter(DISK0, "commits");
	ASSERT_EQ(0, put_file("sd/sub/g", "x"));
	EXPECT_EQ(c + 1, counter(DISK0, "commits")) TH_LOG("create in an inheriting directory");
	EXPECT_EQ(-1, set_flags("sd/f", FS_DIRSYNC_FL));
	EXPECT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(0, get_flags("sd/f", &flags));
	EXPECT_EQ(0, flags);
	ASSERT_EQ(0, run("rm -r " MNT "/sd"));

	/* A chattr +S file: a truncate and a fallocate are synchronous. */
	flags = FS_SYNC_FL;
	fd = open("f", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_SETFLAGS, &flags));
	c = counter(DISK0, "commits");
	ASSERT_EQ(0, ftruncate(fd, 1 << 20));
	EXPECT_EQ(c + 1, counter(DISK0, "commits")) TH_LOG("truncate");
	ASSERT_EQ(0, fallocate(fd, 0, 0, 1 << 20));
	EXPECT_EQ(c + 2, counter(DISK0, "commits")) TH_LOG("fallocate");
	close(fd);
	ASSERT_EQ(0, unlink("f"));
}

/*
 * Timestamps before 1970 and far after 2038 survive a remount, to the
 * nanosecond (utimensat(2); fstests' generic/258 tries 1901).
 */
TEST_F(vfs, timestamps_before_1970_and_after_2038)
{
	struct timespec t[2] = {
		{ .tv_sec = -2147483647LL, .tv_nsec = 123456789 },
		{ .tv_sec = 4102444800LL * 2, .tv_nsec = 5 },
	};
	struct stat st;

	ASSERT_EQ(0, put_file("old", "x"));
	ASSERT_EQ(0, utimensat(AT_FDCWD, "old", t, 0));
	ASSERT_EQ(0, remount());
	ASSERT_EQ(0, stat("old", &st));
	EXPECT_EQ(t[0].tv_sec, st.st_atim.tv_sec);
	EXPECT_EQ(t[0].tv_nsec, st.st_atim.tv_nsec);
	EXPECT_EQ(t[1].tv_sec, st.st_mtim.tv_sec);
	EXPECT_EQ(t[1].tv_nsec, st.st_mtim.tv_nsec);
	ASSERT_EQ(0, unlink("old"));
}

/* Tracing of the block layer's bio queue events on `dev`: on or off. */
static int trace_bios(const char *dev, bool on)
{
	const char *t = "/sys/kernel/debug/tracing";
	struct stat st;

	if (on) {
		if (stat(dev, &st))
			return -1;
		return run("echo 0 > %s/tracing_on && echo > %s/trace && "
			   "echo 'dev == %u' > %s/events/block/block_bio_queue/filter && "
			   "echo 1 > %s/events/block/block_bio_queue/enable && echo 1 > %s/tracing_on",
			   t, t, (major(st.st_rdev) << 20) | minor(st.st_rdev), t, t, t);
	}
	return run("echo 0 > %s/tracing_on && echo 0 > %s/events/block/block_bio_queue/enable", t, t);
}

/*
 * Counts the traced write bios of at least `min_sectors`, and how many of
 * them carry REQ_SYNC ('S' in the rwbs field).
 */
static int count_write_bios(unsigned int min_sectors, int *sync)
{
	FILE *f = fopen("/sys/kernel/debug/tracing/trace", "r");
	char line[512], rwbs[16];
	unsigned long long sector;
	unsigned int n;
	int all = 0;

	*sync = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "block_bio_queue: ");

		if (!p || sscanf(p, "block_bio_queue: %*u,%*u %15s %llu + %u", rwbs, &sector, &n) != 3)
			continue;
		if (!strchr(rwbs, 'W') || n < min_sectors)
			continue;
		all++;
		if (strchr(rwbs, 'S'))
			(*sync)++;
	}
	fclose(f);
	return all;
}

/*
 * Data-integrity writeback (fsync) sends its data bios with REQ_SYNC, as
 * wbc_to_write_flags asks; background writeback (sync_file_range with
 * SYNC_FILE_RANGE_WRITE alone) does not.
 */
TEST_F(vfs, fsync_data_bios_are_sync)
{
	int fd, sync_bios, all;

	fd = open("s", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, put_pattern(fd, 0, 1 << 20, 3));
	ASSERT_EQ(0, fsync(fd));
	/* Overwrites only: the bios are the data's (256 sectors each). */
	ASSERT_EQ(0, put_pattern(fd, 0, 1 << 20, 4));
	ASSERT_EQ(0, trace_bios(DISK0, true));
	ASSERT_EQ(0, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	ASSERT_EQ(0, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_AFTER));
	all = count_write_bios(64, &sync_bios);
	EXPECT_LT(0, all);
	EXPECT_EQ(0, sync_bios);
	ASSERT_EQ(0, trace_bios(DISK0, false));

	ASSERT_EQ(0, put_pattern(fd, 0, 1 << 20, 5));
	ASSERT_EQ(0, trace_bios(DISK0, true));
	ASSERT_EQ(0, fsync(fd));
	all = count_write_bios(64, &sync_bios);
	EXPECT_LT(0, all);
	EXPECT_EQ(all, sync_bios);
	ASSERT_EQ(0, trace_bios(DISK0, false));
	close(fd);
}

/* Writes `len` bytes of `c` at `off`, through O_DIRECT if `direct`. */
static int put_bytes(int fd, off_t off, size_t len, char c)
{
	static char *buf;

	if (!buf && posix_memalign((void **)&buf, 4096, 1 << 20))
		return -1;
	memset(buf, c, len);
	return pwrite(fd, buf, len, off) == (ssize_t)len ? 0 : -1;
}

/*
 * A direct reader against a file that is truncated and rewritten over and
 * over, while other files are written with another byte, so that the
 * blocks the truncate frees go straight to them; on a disk whose reads
 * wait, so that a read in flight outlasts all that. The reader sees the
 * file's own bytes or zeroes, never the other files' bytes: the blocks it
 * maps are not freed under its bios (it holds the inode lock shared, as
 * ext2 does around iomap_dio_rw).
 */
TEST_F_TIMEOUT(vfs, direct_reads_never_see_reused_blocks, 300)
{
	const size_t len = 8 << 20, chunk = 256 << 10;
	double end;
	unsigned long long reads = 0, stale = 0;
	pid_t kids[2];
	char *buf;
	int fd, st;

	/* Each read waits 20 ms in the disk: the others go on meanwhile. */
	ASSERT_EQ(0, use_disk(SLOW_READ_DISK));
	self->dev = SLOW_READ_DISK;
	end = now_s() + env_or("RSFS_RACE_SECONDS", 20);
	fd = open("victim", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	for (size_t off = 0; off < len; off += 1 << 20)
		ASSERT_EQ(0, put_bytes(fd, off, 1 << 20, 'V'));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		ASSERT_LE(0, kids[k]);
		if (kids[k])
			continue;
		for (int i = 0; now_s() < end; i++) {
			if (k == 0) {
				/*
				 * Truncate (dropping 8 MiB of page cache first),
				 * leave the blocks to the other writer a moment,
				 * then write the file again.
				 */
				fd = open("victim", O_RDWR);
				if (fd < 0 || ftruncate(fd, 0))
					_exit(1);
				usleep(5000);
				for (size_t off = 0; off < len; off += 1 << 20)
					if (put_bytes(fd, off, 1 << 20, 'V'))
						_exit(1);
				if (fdatasync(fd))
					_exit(1);
			} else {
				char name[32];

				snprintf(name, sizeof(name), "other-%d", i % 4);
				fd = open(name, O_CREAT | O_TRUNC | O_RDWR | O_DIRECT, 0644);
				if (fd < 0 || put_bytes(fd, 0, 1 << 20, 'X'))
					_exit(1);
			}
			close(fd);
		}
		_exit(0);
	}
	ASSERT_EQ(0, posix_memalign((void **)&buf, 4096, chunk));
	fd = open("victim", O_RDONLY | O_DIRECT);
	ASSERT_LE(0, fd);
	srand(getpid());
	while (now_s() < end) {
		/* The first blocks freed are the first the others take. */
		off_t off = (off_t)(rand() % 4) * chunk;
		ssize_t n = pread(fd, buf, chunk, off);

		ASSERT_LE(0, n);
		reads++;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != 'V' && buf[i] != 0) {
				stale++;
				TH_LOG("read %llu at %lld: byte %zd is %#x", reads, (long long)off, i,
				       buf[i]);
				break;
			}
		}
	}
	close(fd);
	free(buf);
	for (int k = 0; k < 2; k++) {
		ASSERT_EQ(kids[k], waitpid(kids[k], &st, 0));
		EXPECT_EQ(0, st);
	}
	printf("# report: direct-read-race reads=%llu stale=%llu\n", reads, stale);
	fflush(stdout);
	EXPECT_EQ(0, stale);
	EXPECT_LT(50, reads);
}

/*
 * The size field of inode `ino` as the next mount would find it (read past
 * every cache, from the journal if it logs the inode's table block), or -1.
 * `home` gets the size in the table block at home.
 */
static long long disk_inode_size(const char *dev, unsigned long long ino, long long *home)
{
	unsigned long long table = sb_u64(dev, 88), v = -1;
	size_t at = (ino % 16) * 256 + 16;
	void *buf;

	*home = -1;
	if (posix_memalign(&buf, 4096, 4096))
		return -1;
	if (read_disk(dev, table + ino / 16, buf, 4096) == 0) {
		memcpy(home, (char *)buf + at, 8);
		/* The journal's copy, if it logs the block, is the durable one. */
		if (read_logged(dev, table + ino / 16, buf) >= 0)
			memcpy(&v, (char *)buf + at, 8);
	}
	free(buf);
	return v;
}

/*
 * fdatasync after a size change, while the flusher writes the same inode
 * back: each time, the new size is durable when fdatasync returns, in the
 * inode table or in the journal's last commit (whose writes home may still
 * be on their way). The flusher clears the inode's dirty bits before it
 * copies the inode into the table; here that copy first reads the table
 * block from a disk whose reads wait 20 ms, and an fdatasync that looked
 * only at the dirty bits would return in between, with the old size on
 * the disk.
 */
TEST_F_TIMEOUT(vfs, fdatasync_races_the_flusher, 300)
{
	double end;
	unsigned long long rounds = 0, behind = 0, home_behind = 0;
	char old_wb[32] = "", old_exp[32] = "";
	struct stat st;
	FILE *f;
	int fd;

	ASSERT_EQ(0, use_disk(SLOW_READ_DISK));
	self->dev = SLOW_READ_DISK;
	end = now_s() + env_or("RSFS_RACE_SECONDS", 20);
	f = fopen("/proc/sys/vm/dirty_writeback_centisecs", "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(old_wb, sizeof(old_wb), f));
	fclose(f);
	f = fopen("/proc/sys/vm/dirty_expire_centisecs", "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(old_exp, sizeof(old_exp), f));
	fclose(f);
	ASSERT_EQ(0, run("echo 1 > /proc/sys/vm/dirty_writeback_centisecs && "
			 "echo 1 > /proc/sys/vm/dirty_expire_centisecs"));
	fd = open("grow", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	srand(st.st_ino);
	while (now_s() < end) {
		off_t size = (off_t)(rounds % 4096 + 1) * 4096;
		long long on_disk, home;

		/* The inode table block leaves the cache (it is clean). */
		ASSERT_EQ(0, run("echo 1 > /proc/sys/vm/drop_caches"));
		ASSERT_EQ(0, ftruncate(fd, size));
		/* The flusher takes inodes dirty for 10 ms, every 10 ms. */
		usleep(10000 + rand() % 20000);
		ASSERT_EQ(0, fdatasync(fd));
		on_disk = disk_inode_size(SLOW_READ_DISK, st.st_ino, &home);
		if (on_disk != size) {
			behind++;
			TH_LOG("round %llu: size %lld durable (%lld at home), %lld set", rounds,
			       on_disk, home, (long long)size);
		}
		if (home != size)
			home_behind++;
		rounds++;
	}
	close(fd);
	EXPECT_EQ(0, run("echo %s > /proc/sys/vm/dirty_writeback_centisecs && "
			 "echo %s > /proc/sys/vm/dirty_expire_centisecs",
			 strtok(old_wb, "\n"), strtok(old_exp, "\n")));
	printf("# report: fdatasync-race rounds=%llu behind=%llu home-behind=%llu\n", rounds, behind,
	       home_behind);
	fflush(stdout);
	EXPECT_EQ(0, behind);
	EXPECT_LT(50, rounds);
}

#define BIG_DISK "/dev/vdd"

/*
 * One sparse file of a million extents (a byte written every other block,
 * so no two blocks merge): written, read back after the cache is dropped
 * and after a remount, cut in half and deleted; fsck.rsfs -n finds it
 * clean. Writing the inode after one more extent encodes one overflow
 * block, not all four thousand. The write rate is reported at 1,000,
 * 100,000 and 1,000,000 extents (each over the last 1,000 writes).
 */
TEST_F_TIMEOUT(vfs, a_million_extents, 3600)
{
	const unsigned long n = env_or("RSFS_EXTENTS", 1000000);
	const unsigned long marks[] = { 1000, 100000, 1000000 };
	double rate[3] = { 0 }, window = 0, start;
	unsigned long long before, written;
	struct stat st;
	char c;
	int fd;

	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	ASSERT_EQ(0, run("mkfs.rsfs -q -f -N 64 %s", BIG_DISK));
	ASSERT_EQ(0, mount_rsfs(BIG_DISK, NULL));
	ASSERT_EQ(0, chdir(MNT));
	self->dev = BIG_DISK;

	fd = open("sparse", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	start = now_s();
	for (unsigned long i = 0; i < n; i++) {
		if (i % 1000 == 0)
			window = now_s();
		c = 'a' + i % 26;
		ASSERT_EQ(1, pwrite(fd, &c, 1, (off_t)i * 8192)) TH_LOG("extent %lu", i);
		for (int m = 0; m < 3; m++)
			if (i + 1 == marks[m])
				rate[m] = 1000 / (now_s() - window);
		if ((i + 1) % 100000 == 0)
			TH_LOG("%lu extents, %.0f s", i + 1, now_s() - start);
	}
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, fstat(fd, &st));
	/* n data blocks and the overflow blocks (254 extents each). */
	EXPECT_LE((long long)n * 8, (long long)st.st_blocks);
	EXPECT_GE((long long)(n + (n + 253) / 254 + 1) * 8, (long long)st.st_blocks);

	/* One more extent: one overflow block to write, not all of them. */
	before = counter(BIG_DISK, "extent_block_writes");
	c = '!';
	ASSERT_EQ(1, pwrite(fd, &c, 1, (off_t)n * 8192));
	ASSERT_EQ(0, fsync(fd));
	written = counter(BIG_DISK, "extent_block_writes") - before;
	EXPECT_GE(2, written);
	EXPECT_LE(1, written);

	for (int pass = 0; pass < 2; pass++) {
		for (unsigned long i = 0; i < n; i += 997) {
			ASSERT_EQ(1, pread(fd, &c, 1, (off_t)i * 8192));
			ASSERT_EQ('a' + i % 26, c) TH_LOG("pass %d, extent %lu", pass, i);
			ASSERT_EQ(1, pread(fd, &c, 1, (off_t)i * 8192 + 4096));
			ASSERT_EQ(0, c);
		}
		EXPECT_EQ((off_t)(n / 2) * 8192 + 4096, lseek(fd, (off_t)(n / 2) * 8192 + 1, SEEK_HOLE));
		EXPECT_EQ((off_t)(n / 2 + 1) * 8192, lseek(fd, (off_t)(n / 2) * 8192 + 4096, SEEK_DATA));
		close(fd);
		if (pass == 0) {
			ASSERT_EQ(0, drop_caches());
		} else {
			ASSERT_EQ(0, remount_dev(BIG_DISK));
		}
		fd = open("sparse", O_RDWR);
		ASSERT_LE(0, fd);
	}
	ASSERT_EQ(0, ftruncate(fd, (off_t)(n / 2) * 8192));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_GE((long long)(n / 2 + (n / 2 + 253) / 254 + 1) * 8, (long long)st.st_blocks);
	close(fd);
	ASSERT_EQ(0, remount_dev(BIG_DISK));
	ASSERT_EQ(0, unlink("sparse"));
	printf("# report: extents n=%lu writes-per-second at-1000=%.0f at-100000=%.0f "
	       "at-1000000=%.0f seconds=%.0f\n",
	       n, rate[0], rate[1], rate[2], now_s() - start);
	fflush(stdout);
}

/* Runs `what` in a child; returns its pid. */
static pid_t in_child(int (*what)(void))
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(what());
	return pid;
}

/* Whether child `pid` has exited within `ms` milliseconds (reaped if so). */
static bool done_within(pid_t pid, int ms)
{
	int st;

	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0;
		usleep(10000);
	}
	return false;
}

/* The superblock's `state` as it is on DISK0 (docs/format.md), or -1. */
static int disk_state(void)
{
	int dev = open(DISK0, O_RDONLY | O_DIRECT), state = -1;
	unsigned char *buf;

	if (dev < 0 || posix_memalign((void **)&buf, 4096, 4096))
		return -1;
	if (pread(dev, buf, 4096, 0) == 4096)
		state = buf[128] | buf[129] << 8;
	free(buf);
	close(dev);
	return state;
}

static int write_a_file(void)
{
	return put_file(MNT "/during", "written while frozen") ? 1 : 0;
}

static char *frozen_map;

static int store_through_the_map(void)
{
	frozen_map[0] = 'M';
	return 0;
}

static int close_the_deleted(void)
{
	/*
	 * Inherited descriptor 100: once the parent has closed its own, this
	 * close is the last, which releases the file.
	 */
	usleep(300000);
	return close(100) ? 1 : 0;
}

/*
 * fsfreeze(8) (FIFREEZE, FITHAW), as LVM and backup tools freeze a
 * filesystem for a snapshot, as ext4 has it: while frozen, a write, a
 * store through a shared mapping and the release of a deleted file at its
 * last close all wait for the thaw; the disk is whole and quiet, so that
 * fsck.rsfs -n on the device finds it clean and marked clean (a snapshot
 * would mount without a replay); sync(2) writes nothing. After the thaw
 * every change that waited is made, and the disk says "mounted" again.
 */
TEST_F(vfs, freeze_and_thaw)
{
	pid_t writer, mapper, closer;
	struct stat st;
	int fd, mnt;

	ASSERT_EQ(0, put_file("before", "made before the freeze"));
	fd = open("mapped", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 4096));
	ASSERT_EQ(0, fsync(fd));
	frozen_map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, frozen_map);
	close(fd);
	fd = open("deleted", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(100, dup2(fd, 100));
	close(fd);
	ASSERT_EQ(0, put_pattern(100, 0, 1 << 20, 9));
	ASSERT_EQ(0, unlink("deleted"));

	mnt = open(MNT, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, mnt);
	ASSERT_EQ(0, ioctl(mnt, FIFREEZE, 0));
	EXPECT_EQ(-1, ioctl(mnt, FIFREEZE, 0));
	EXPECT_EQ(EBUSY, errno);

	/* Only the closer keeps descriptor 100. */
	closer = in_child(close_the_deleted);
	close(100);
	writer = in_child(write_a_file);
	mapper = in_child(store_through_the_map);
	EXPECT_FALSE(done_within(writer, 1000));
	EXPECT_FALSE(done_within(mapper, 10));
	EXPECT_FALSE(done_within(closer, 10));

	/* The disk as a snapshot would see it: clean, and marked so. */
	sync();
	EXPECT_EQ(1, disk_state()); /* clean */
	EXPECT_EQ(0, run("fsck.rsfs -n %s >/dev/null", DISK0));

	ASSERT_EQ(0, ioctl(mnt, FITHAW, 0));
	EXPECT_TRUE(done_within(writer, 10000));
	EXPECT_TRUE(done_within(mapper, 10000));
	EXPECT_TRUE(done_within(closer, 10000));
	EXPECT_EQ(-1, ioctl(mnt, FITHAW, 0));
	EXPECT_EQ(EINVAL, errno);
	close(mnt);
	munmap(frozen_map, 4096);
	EXPECT_EQ(0, stat("during", &st));
	EXPECT_EQ(0, syncfs_here());
	EXPECT_EQ(2, disk_state()); /* mounted */
}

TEST_HARNESS_MAIN
