// SPDX-License-Identifier: GPL-2.0
/*
 * Data integrity: fsync and fdatasync, sync_file_range(2) flag by
 * flag, msync, O_SYNC/O_DSYNC and RWF_SYNC/RWF_DSYNC, syncfs and the clean
 * state at unmount, write errors reported once per open file (injected with
 * fail_make_request), and a full disk. fsck.rsfs -n runs after every test.
 */
#include "rsfs_test.h"

#include <setjmp.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <time.h>

#include "kselftest_harness.h"

#define SLOW_DISK "/dev/vdc"

static int fill_file(int fd, off_t off, size_t len, char c)
{
	static char buf[1 << 20];

	memset(buf, c, sizeof(buf));
	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			return -errno;
		off += n;
		len -= n;
	}
	return 0;
}

/* Dirty memory, system-wide, from /proc/meminfo. */
static unsigned long long meminfo_dirty_kb(void)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Dirty: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * Turns fault injection on the whole disk on or off. Turning it off also
 * consumes any write error left unseen on the block device itself, so that
 * it is not reported to the next test that opens the disk.
 */
static int fault_injection(const char *dev, bool on)
{
	if (!on) {
		int ret = run("echo 0 > /sys/block/%s/make-it-fail", dev + 5);
		int fd = open(dev, O_RDONLY);

		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
		return ret;
	}
	if (run("echo 0 > /sys/kernel/debug/fail_make_request/verbose && "
		      "echo 100 > /sys/kernel/debug/fail_make_request/probability && "
		      "echo 1 > /sys/kernel/debug/fail_make_request/interval && "
		      "echo -1 > /sys/kernel/debug/fail_make_request/times"))
		return -1;
	return run("echo 1 > /sys/block/%s/make-it-fail", dev + 5);
}

RSFS_MOUNTED_FIXTURE(integ, fault_injection(self->dev, false))

/* fdatasync skips an inode whose only change is a timestamp; fsync not. */
TEST_F(integ, fdatasync_skips_timestamp_only_changes)
{
	unsigned long long w;
	int fd = open("f", O_CREAT | O_RDWR, 0644);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fill_file(fd, 0, 65536, 'a'));
	ASSERT_EQ(0, fsync(fd));
	/* An overwrite: data and mtime change, size and blocks do not. */
	sleep(1);
	ASSERT_EQ(0, fill_file(fd, 0, 4096, 'b'));
	w = counter(DISK0, "inode_writes");
	ASSERT_EQ(0, fdatasync(fd));
	EXPECT_EQ(w, counter(DISK0, "inode_writes"));
	/* Growing the file: fdatasync must write the size. */
	ASSERT_EQ(0, fill_file(fd, 65536, 4096, 'c'));
	ASSERT_EQ(0, fdatasync(fd));
	EXPECT_EQ(w + 1, counter(DISK0, "inode_writes"));
	/* fsync writes the timestamp too. */
	sleep(1);
	ASSERT_EQ(0, fill_file(fd, 0, 4096, 'd'));
	ASSERT_EQ(0, fsync(fd));
	EXPECT_EQ(w + 2, counter(DISK0, "inode_writes"));
	close(fd);
}

/* sync_file_range's argument checks (sync_file_range(2), ERRORS). */
TEST_F(integ, sync_file_range_errors)
{
	int p[2];
	int fd = open("f", O_CREAT | O_RDWR, 0644);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, sync_file_range(fd, 0, 0, 8));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sync_file_range(fd, -1, 0, SYNC_FILE_RANGE_WRITE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sync_file_range(fd, 0, -4096, SYNC_FILE_RANGE_WRITE));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-1, sync_file_range(p[0], 0, 0, SYNC_FILE_RANGE_WRITE));
	EXPECT_EQ(ESPIPE, errno);
	close(p[0]);
	close(p[1]);
	close(fd);
	EXPECT_EQ(-1, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	EXPECT_EQ(EBADF, errno);
}

/* Flags 0, WRITE, the full combination; nbytes 0; rounding to pages. */
TEST_F(integ, sync_file_range_flags)
{
	unsigned long long none, all, folios;
	int fd = open("f", O_CREAT | O_RDWR, 0644);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fill_file(fd, 0, 1 << 20, 'x'));
	ASSERT_EQ(0, fill_file(fd, 4 << 20, 4096, 'y'));

	/* 0 is a no-op. */
	none = counter(DISK0, "writepages_sync_none");
	all = counter(DISK0, "writepages_sync_all");
	EXPECT_EQ(0, sync_file_range(fd, 0, 0, 0));
	EXPECT_EQ(none, counter(DISK0, "writepages_sync_none"));
	EXPECT_EQ(all, counter(DISK0, "writepages_sync_all"));

	/* nbytes 0: from offset to the end of the file (only the last page). */
	folios = counter(DISK0, "folios_written");
	EXPECT_EQ(0, sync_file_range(fd, 4 << 20, 0, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
	EXPECT_EQ(folios + 1, counter(DISK0, "folios_written"));
	EXPECT_EQ(none + 1, counter(DISK0, "writepages_sync_none"));

	/* Offsets round to pages: bytes 4095..4096 are pages 0 and 1. */
	folios = counter(DISK0, "folios_written");
	EXPECT_EQ(0, sync_file_range(fd, 4095, 2, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
	EXPECT_EQ(folios + 2, counter(DISK0, "folios_written"));

	/* All three flags: data-integrity writeback (WB_SYNC_ALL). */
	all = counter(DISK0, "writepages_sync_all");
	EXPECT_EQ(0, sync_file_range(fd, 0, 0,
				     SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					     SYNC_FILE_RANGE_WAIT_AFTER));
	EXPECT_EQ(all + 1, counter(DISK0, "writepages_sync_all"));
	/* WAIT_BEFORE or WAIT_AFTER alone start no writeback. */
	none = counter(DISK0, "writepages_sync_none");
	all = counter(DISK0, "writepages_sync_all");
	ASSERT_EQ(0, fill_file(fd, 0, 4096, 'z'));
	EXPECT_EQ(0, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE));
	EXPECT_EQ(0, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_AFTER));
	EXPECT_EQ(none, counter(DISK0, "writepages_sync_none"));
	EXPECT_EQ(all, counter(DISK0, "writepages_sync_all"));
	close(fd);
}

/* On a slow disk: WRITE does not wait; WAIT_BEFORE / WAIT_AFTER do. */
TEST_F_TIMEOUT(integ, sync_file_range_write_does_not_wait, 120)
{
	unsigned long long dirty_kb;
	double t0, t1, t2;
	int fd;

	ASSERT_EQ(0, use_disk(SLOW_DISK));
	self->dev = SLOW_DISK;
	fd = open("f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	/* Six seconds of writing at the disk's 1 MiB/s. */
	ASSERT_EQ(0, fill_file(fd, 0, 6 << 20, 's'));
	/*
	 * What WRITE and WAIT_BEFORE do can only be seen if the file is
	 * still dirty. In one clean-clone make check of seven, WAIT_BEFORE
	 * took 0.02 s: the file had reached the disk before WRITE, by a path
	 * not yet found (background writeback, a commit). That is reported
	 * as a skip with the dirty memory, not as a pass; with the file
	 * dirty, a WRITE that started no writeback still fails below.
	 */
	dirty_kb = meminfo_dirty_kb();
	if (dirty_kb < 3 << 10) {
		ASSERT_EQ(0, fsync(fd));
		close(fd);
		SKIP(return, "the file was written back before sync_file_range (Dirty: %llu kB)",
		     dirty_kb);
	}
	t0 = now_s();
	ASSERT_EQ(0, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	t1 = now_s();
	ASSERT_EQ(0, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE));
	t2 = now_s();
	EXPECT_LT(t1 - t0, 0.5) TH_LOG("WRITE took %.2f s", t1 - t0);
	EXPECT_GT(t2 - t1, 0.5) TH_LOG("WAIT_BEFORE took %.2f s (Dirty was %llu kB)", t2 - t1, dirty_kb);
	ASSERT_EQ(0, fsync(fd));
	close(fd);
}

TEST_F(integ, msync_flags)
{
	unsigned long long fsyncs;
	char *p;
	int fd = open("m", O_CREAT | O_RDWR, 0644);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 1 << 20));
	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 'm', 1 << 20);
	fsyncs = counter(DISK0, "fsyncs");
	EXPECT_EQ(0, msync(p, 1 << 20, MS_ASYNC));
	EXPECT_EQ(fsyncs, counter(DISK0, "fsyncs"));
	EXPECT_EQ(0, msync(p, 1 << 20, MS_SYNC));
	EXPECT_EQ(fsyncs + 1, counter(DISK0, "fsyncs"));
	EXPECT_EQ(0, msync(p, 1 << 20, MS_INVALIDATE));
	EXPECT_EQ(0, msync(p, 1 << 20, MS_SYNC | MS_INVALIDATE));
	EXPECT_EQ(-1, msync(p, 1 << 20, MS_SYNC | MS_ASYNC));
	EXPECT_EQ(EINVAL, errno);
	munmap(p, 1 << 20);
	close(fd);
	ASSERT_EQ(0, remount());
	fd = open("m", O_RDONLY);
	char c;

	ASSERT_EQ(1, pread(fd, &c, 1, 777777));
	EXPECT_EQ('m', c);
	close(fd);
}

/* O_SYNC, O_DSYNC, RWF_SYNC and RWF_DSYNC each sync through rsfs's fsync. */
TEST_F(integ, synchronous_writes)
{
	unsigned long long fsyncs, inodes;
	struct iovec iov;
	char buf[4096];
	int fd;

	memset(buf, 'o', sizeof(buf));
	fd = open("s", O_CREAT | O_RDWR | O_SYNC, 0644);
	ASSERT_LE(0, fd);
	fsyncs = counter(DISK0, "fsyncs");
	ASSERT_EQ(4096, write(fd, buf, 4096));
	EXPECT_EQ(fsyncs + 1, counter(DISK0, "fsyncs"));
	close(fd);

	fd = open("s", O_RDWR | O_DSYNC);
	ASSERT_LE(0, fd);
	sleep(1);
	inodes = counter(DISK0, "inode_writes");
	ASSERT_EQ(4096, pwrite(fd, buf, 4096, 0)); /* overwrite: timestamps only */
	EXPECT_EQ(fsyncs + 2, counter(DISK0, "fsyncs"));
	EXPECT_EQ(inodes, counter(DISK0, "inode_writes"));
	ASSERT_EQ(4096, pwrite(fd, buf, 4096, 4096)); /* grows: the size must go */
	EXPECT_EQ(inodes + 1, counter(DISK0, "inode_writes"));
	close(fd);

	fd = open("s", O_RDWR);
	iov = (struct iovec){ buf, sizeof(buf) };
	ASSERT_EQ(4096, pwritev2(fd, &iov, 1, 8192, RWF_SYNC));
	EXPECT_EQ(fsyncs + 4, counter(DISK0, "fsyncs"));
	ASSERT_EQ(4096, pwritev2(fd, &iov, 1, 0, RWF_DSYNC));
	EXPECT_EQ(fsyncs + 5, counter(DISK0, "fsyncs"));
	ASSERT_EQ(4096, pwrite(fd, buf, 4096, 0));
	EXPECT_EQ(fsyncs + 5, counter(DISK0, "fsyncs"));
	close(fd);
}

/* The superblock says "mounted" while mounted and "clean" after umount. */
TEST_F(integ, syncfs_and_clean_unmount)
{
	struct statfs st;
	unsigned long long disk_free = 0;
	int fd;

	EXPECT_EQ(2, sb_state(DISK0));
	ASSERT_EQ(0, mkdir("d", 0755));
	fd = open("d/f", O_CREAT | O_RDWR, 0644);
	ASSERT_EQ(0, fill_file(fd, 0, 1 << 20, 'q'));
	ASSERT_EQ(0, syncfs(fd));
	ASSERT_EQ(0, fstatfs(fd, &st));
	/* The superblock's free-block counter (byte 40) is current. */
	disk_free = sb_u64(DISK0, 40);
	EXPECT_EQ(st.f_bfree, disk_free);
	close(fd);
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	EXPECT_EQ(1, sb_state(DISK0));
	ASSERT_EQ(0, fsck(DISK0));
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
	ASSERT_EQ(0, chdir(MNT));
}

/*
 * A failed write is reported by the next fsync of every open file
 * description, exactly once each (errseq, as ext4), and logged.
 */
TEST_F(integ, write_error_reported_once_per_open_file)
{
	int fd1, fd2, fd3;

	ASSERT_EQ(0, use_disk(DISK1));
	self->dev = DISK1;
	fd1 = open("e", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd1);
	fd2 = open("e", O_RDWR);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, fill_file(fd1, 0, 65536, 'e'));
	ASSERT_EQ(0, fsync(fd1));
	sync();
	/*
	 * An overwrite needs no new metadata; its data write will fail.
	 * Nothing but data is written while the faults are on
	 * (sync_file_range writes no metadata, fdatasync skips a
	 * timestamp-only inode change).
	 */
	ASSERT_EQ(0, fill_file(fd1, 0, 65536, 'f'));
	ASSERT_EQ(0, fault_injection(DISK1, true));
	EXPECT_EQ(-1, sync_file_range(fd1, 0, 0, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
	EXPECT_EQ(EIO, errno);
	ASSERT_EQ(0, fault_injection(DISK1, false));
	/* fd1 has seen the error; fd2 sees it once. */
	EXPECT_EQ(0, fdatasync(fd1));
	EXPECT_EQ(-1, fdatasync(fd2));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(0, fdatasync(fd2));
	/* A file opened after the error does not see it. */
	fd3 = open("e", O_RDWR);
	EXPECT_EQ(0, fdatasync(fd3));
	EXPECT_TRUE(kmsg_grep(&self->k, "rsfs: vdb: write error"));
	/* The data is rewritten once the disk works again. */
	ASSERT_EQ(0, fill_file(fd1, 0, 65536, 'g'));
	EXPECT_EQ(0, fsync(fd1));
	close(fd1);
	close(fd2);
	close(fd3);
	sync();
}

static sigjmp_buf sigbus_jump;

static void on_sigbus(int sig)
{
	siglongjmp(sigbus_jump, sig);
}

/* A full disk: ENOSPC from write, SIGBUS from a mapped store, nothing lost. */
TEST_F_TIMEOUT(integ, enospc, 300)
{
	static char buf[1 << 20];
	struct statfs before, full, after;
	volatile bool bus = false;
	long long total = 0;
	ssize_t n;
	char *p;
	int fd, mfd;

	ASSERT_EQ(0, statfs(".", &before));
	/* A file with a hole, mapped before the disk fills. */
	mfd = open("mapped", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 8192));
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, p);

	fd = open("big", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	memset(buf, 'F', sizeof(buf));
	for (;;) {
		n = write(fd, buf, sizeof(buf));
		if (n < (ssize_t)sizeof(buf))
			break;
		total += n;
	}
	if (n > 0) {
		total += n;
		n = write(fd, buf, sizeof(buf));
	}
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(0, fsync(fd));
	ASSERT_EQ(0, fstatfs(fd, &full));
	EXPECT_EQ(0, full.f_bfree);
	EXPECT_EQ(total, lseek(fd, 0, SEEK_END));
	TH_LOG("wrote %lld MiB before ENOSPC", total >> 20);

	signal(SIGBUS, on_sigbus);
	if (sigsetjmp(sigbus_jump, 1) == 0)
		p[100] = 'x';
	else
		bus = true;
	signal(SIGBUS, SIG_DFL);
	EXPECT_TRUE(bus);
	munmap(p, 8192);
	close(mfd);

	close(fd);
	ASSERT_EQ(0, remount());
	fd = open("big", O_RDONLY);
	long long bad = -1;

	for (long long off = 0; off < total && bad < 0; off += sizeof(buf)) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n <= 0) {
			bad = off;
			break;
		}
		for (ssize_t i = 0; i < n && bad < 0; i++)
			if (buf[i] != 'F')
				bad = off + i;
	}
	EXPECT_EQ(-1, bad);
	close(fd);
	ASSERT_EQ(0, unlink("big"));
	ASSERT_EQ(0, unlink("mapped"));
	ASSERT_EQ(0, statfs(".", &after));
	EXPECT_EQ(before.f_bfree, after.f_bfree);
}

TEST_HARNESS_MAIN
