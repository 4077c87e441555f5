// SPDX-License-Identifier: GPL-2.0
/*
 * I/O errors at random, from the kernel's fail_make_request on the whole
 * disk: during data writeback, the error reaches fdatasync and
 * sync_file_range; during metadata writeback, it reaches the caller and
 * nothing acknowledged before is lost (after fsck.rsfs -y); during reads,
 * the reader gets EIO or the right data, never wrong data and never a
 * wrong errno. No splat and no hang in any case.
 *
 * Environment: RSFS_FAULT_ROUNDS (default 60), RSFS_SEED.
 */
#include "rsfs_test.h"
#include "kselftest_harness.h"
#include <dirent.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#define BLK 4096
#define FILES 4
#define FILE_BLOCKS 64
#define TIMES 1000000

static uint64_t rng;

static uint64_t below(uint64_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return n ? (rng * 0x2545f4914f6cdd1dULL) % n : 0;
}

static long long fault_param(const char *name)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/debug/fail_make_request/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return strtoll(buf, NULL, 10);
}

/* Fails each request to `dev` with `percent` % probability, or stops. */
static int faults(const char *dev, int percent)
{
	return fail_requests(dev, percent, TIMES);
}

/* Requests failed since faults() turned injection on. */
static long long injected(void)
{
	return TIMES - fault_param("times");
}

static int drop_caches(void)
{
	return run("echo 3 > /proc/sys/vm/drop_caches");
}

FIXTURE(faults) {
	struct kmsg k;
};

FIXTURE_SETUP(faults)
{
	rsfs_reset();
	ASSERT_EQ(0, kmsg_open(&self->k));
	ASSERT_EQ(0, rsfs_load());
	ASSERT_EQ(0, mkfs(DISK0));
	/* noatime: the read test should not also be writing inodes. */
	ASSERT_EQ(0, mount(DISK0, MNT, "rsfs", MS_NOATIME, NULL));
	ASSERT_EQ(0, chdir(MNT));
	rng = env_or("RSFS_SEED", time(NULL) ^ getpid()) | 1;
	TH_LOG("seed %llu", (unsigned long long)rng);
}

FIXTURE_TEARDOWN(faults)
{
	int fd;

	faults(DISK0, 0);
	/* An error left unseen on the device is not the next test's. */
	fd = open(DISK0, O_RDONLY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	EXPECT_EQ(0, chdir("/"));
	EXPECT_EQ(0, umount(MNT));
	EXPECT_EQ(0, fsck(DISK0));
	EXPECT_EQ(0, rsfs_unload());
	EXPECT_FALSE(kmsg_splat(&self->k));
}

static void fill(unsigned char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = below(256);
}

/* Reads a whole file back and compares it with `model`. */
static int compare_file(const char *name, const unsigned char *model, size_t len)
{
	static unsigned char buf[FILE_BLOCKS * BLK];
	int fd = open(name, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, len, 0);

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)len)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != model[i]) {
			printf("# %s: first difference at %zu\n", name, i);
			return -1;
		}
	return 0;
}

/*
 * Data writeback errors. The files are written in full first and the
 * periodic flusher is off, so the rounds write data only: dirty a few
 * blocks of one file (by write or by mapped stores), turn faults on, and
 * fdatasync or sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER). If any
 * request failed, the call must say EIO; if none did, it must succeed and
 * the data must read back once the cache is dropped. After an error, the
 * application's remedy (write again, sync again) must work.
 */
TEST_F_TIMEOUT(faults, data_write_errors_reach_the_caller, 7200)
{
	static unsigned char model[FILES][FILE_BLOCKS * BLK], buf[16 * BLK];
	unsigned long long rounds = env_or("RSFS_FAULT_ROUNDS", 60), r;
	long long total = 0, eio = 0, clean = 0, inj;
	char name[32], saved[32];
	int fd, ret, err, i;

	ASSERT_EQ(0, access("/proc/sys/vm/dirty_writeback_centisecs", W_OK));
	fd = open("/proc/sys/vm/dirty_writeback_centisecs", O_RDWR);
	ASSERT_LT(0, read(fd, saved, sizeof(saved) - 1));
	ASSERT_EQ(1, pwrite(fd, "0", 1, 0));
	close(fd);
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		fd = open(name, O_CREAT | O_RDWR, 0644);
		ASSERT_LE(0, fd);
		/*
		 * Written, not fallocated: a block that fallocate gave is
		 * unwritten until data goes there, and making it written is a
		 * change of the block map, whose commit sends its writes home
		 * after the sync returns, while faults are still on (a failure
		 * there is retried, and reported by the next sync).
		 */
		ASSERT_EQ((ssize_t)sizeof(model[i]), pwrite(fd, model[i], sizeof(model[i]), 0));
		ASSERT_EQ(0, fsync(fd));
		close(fd);
	}
	for (r = 0; r < rounds; r++) {
		int f = below(FILES), blocks = 1 + below(16), first = below(FILE_BLOCKS - blocks);
		bool mapped = below(3) == 0, sfr = below(2);

		snprintf(name, sizeof(name), "f%d", f);
		fd = open(name, O_RDWR);
		ASSERT_LE(0, fd);
		fill(buf, blocks * BLK);
		if (mapped) {
			unsigned char *p = mmap(NULL, blocks * BLK, PROT_READ | PROT_WRITE, MAP_SHARED,
						fd, (off_t)first * BLK);

			ASSERT_NE(MAP_FAILED, p);
			memcpy(p, buf, blocks * BLK);
			munmap(p, blocks * BLK);
		} else {
			ASSERT_EQ(blocks * BLK, pwrite(fd, buf, blocks * BLK, (off_t)first * BLK));
		}
		memcpy(model[f] + first * BLK, buf, blocks * BLK);

		ASSERT_EQ(0, faults(DISK0, 5 + below(50)));
		ret = sfr ? sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE |
				SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) : fdatasync(fd);
		err = errno;
		ASSERT_EQ(0, faults(DISK0, 0));
		inj = injected();
		total += inj;
		if (inj) {
			/* A request failed: the call must not report success. */
			EXPECT_EQ(-1, ret);
			EXPECT_EQ(EIO, err) TH_LOG("round %llu: %lld failed requests, %s says %s",
						   r, inj, sfr ? "sync_file_range" : "fdatasync",
						   ret ? strerror(err) : "success");
			eio += ret == -1 && err == EIO;
			/* The remedy: write the blocks again and sync again. */
			ASSERT_EQ(blocks * BLK, pwrite(fd, buf, blocks * BLK, (off_t)first * BLK));
			ASSERT_EQ(0, fdatasync(fd));
		} else {
			EXPECT_EQ(0, ret) TH_LOG("round %llu: no failed request, but %s", r,
						 strerror(err));
			clean++;
		}
		close(fd);
		/* Either way the data is on disk now. */
		ASSERT_EQ(0, drop_caches());
		EXPECT_EQ(0, compare_file(name, model[f], sizeof(model[f])))
			TH_LOG("round %llu: file f%d differs from the model", r, f);
	}
	fd = open("/proc/sys/vm/dirty_writeback_centisecs", O_WRONLY);
	EXPECT_EQ((ssize_t)strlen(saved), write(fd, saved, strlen(saved)));
	close(fd);
	/* Every file, after a remount: nothing acknowledged was lost. */
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	ASSERT_EQ(0, mount(DISK0, MNT, "rsfs", MS_NOATIME, NULL));
	ASSERT_EQ(0, chdir(MNT));
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		EXPECT_EQ(0, compare_file(name, model[i], sizeof(model[i])));
	}
	printf("# report: faults-data-writes rounds=%llu injected=%lld eio=%lld clean-syncs=%lld\n",
	       rounds, total, eio, clean);
	EXPECT_LT(0, total);
}

/*
 * Remounts after fsck.rsfs -y. Sets *left when fsck -n still finds damage
 * afterwards (which it must not: a directory block that never reached the
 * disk is rebuilt, and what it named goes to lost+found).
 */
static int repair_and_mount(bool *left)
{
	if (chdir("/") || umount(MNT))
		return -1;
	run("fsck.rsfs -y %s >/dev/null 2>&1", DISK0);
	*left = run("fsck.rsfs -n %s >/dev/null 2>&1", DISK0) != 0;
	if (*left) {
		/* What it could not repair, for the log. */
		run("fsck.rsfs -n %s | sed 's/^/# left: /'", DISK0);
	}
	if (mount(DISK0, MNT, "rsfs", MS_NOATIME, NULL))
		return -1;
	return chdir(MNT);
}

/*
 * Metadata writeback errors. Each round first makes a file durable
 * (written, fsynced, its directory fsynced), then turns faults on and
 * creates, renames, removes and syncs. A failed request must surface as
 * EIO somewhere in the round; rsfs must not build on a block whose write
 * failed (it refuses the older copy on disk until the next mount). Then
 * the disk goes through fsck.rsfs -y and is remounted, and every file
 * acknowledged so far must be there with its contents; fsck -n must then
 * find the disk clean.
 */
TEST_F_TIMEOUT(faults, metadata_write_errors_lose_nothing_acknowledged, 7200)
{
	unsigned long long rounds = env_or("RSFS_FAULT_ROUNDS", 60) / 3, r, a;
	long long total = 0, eio_rounds = 0, silent = 0, unrepaired = 0, inj;
	bool left;
	char name[64], name2[64], want[64], got[64];
	int fd, dfd, i, errs;

	for (r = 0; r < rounds; r++) {
		snprintf(name, sizeof(name), "ack-%llu", r);
		snprintf(want, sizeof(want), "acknowledged %llu", r);
		fd = open(name, O_CREAT | O_WRONLY, 0644);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)strlen(want), write(fd, want, strlen(want)));
		ASSERT_EQ(0, fsync(fd));
		close(fd);
		dfd = open(".", O_RDONLY | O_DIRECTORY);
		ASSERT_EQ(0, fsync(dfd));

		ASSERT_EQ(0, faults(DISK0, 5 + below(50)));
		errs = 0;
		for (i = 0; i < 4; i++) {
			snprintf(name, sizeof(name), "tmp-%llu-%d", r, i);
			errs += put_file(name, "some data") == -EIO;
		}
		snprintf(name2, sizeof(name2), "dir-%llu", r);
		errs += mkdir(name2, 0755) && errno == EIO;
		snprintf(name, sizeof(name), "tmp-%llu-0", r);
		snprintf(name2, sizeof(name2), "dir-%llu/moved", r);
		errs += rename(name, name2) && errno == EIO;
		snprintf(name, sizeof(name), "tmp-%llu-1", r);
		errs += unlink(name) && errno == EIO;
		errs += syncfs(dfd) && errno == EIO;
		close(dfd);
		ASSERT_EQ(0, faults(DISK0, 0));
		inj = injected();
		total += inj;
		eio_rounds += inj && errs;
		if (inj && !errs) {
			silent++;
			TH_LOG("round %llu: %lld requests failed and nothing said EIO", r, inj);
		}

		ASSERT_EQ(0, repair_and_mount(&left)) TH_LOG("round %llu: remount failed", r);
		unrepaired += left;
		for (a = 0; a <= r; a++) {
			ssize_t n;

			snprintf(name, sizeof(name), "ack-%llu", a);
			snprintf(want, sizeof(want), "acknowledged %llu", a);
			fd = open(name, O_RDONLY);
			n = fd < 0 ? -1 : read(fd, got, sizeof(got) - 1);
			if (fd >= 0)
				close(fd);
			got[n > 0 ? n : 0] = 0;
			EXPECT_STREQ(want, got) TH_LOG("round %llu: %s lost", r, name);
		}
	}
	printf("# report: faults-metadata-writes rounds=%llu injected=%lld rounds-with-eio=%lld "
	       "silent=%lld fsck-unrepaired-rounds=%lld\n", rounds, total, eio_rounds, silent,
	       unrepaired);
	EXPECT_EQ(0, silent);
	EXPECT_LT(0, total);
	EXPECT_EQ(0, unrepaired);
	/* A fresh disk for the fixture's final fsck -n. */
	if (unrepaired)
		EXPECT_EQ(0, use_disk(DISK0));
}

static sigjmp_buf bus_jmp;

static void on_bus(int sig)
{
	siglongjmp(bus_jmp, sig);
}

/*
 * Rounds of: drop the caches, turn faults on, and read through every path
 * (lookups, readdir, buffered, mapped and direct reads). Each read gives
 * EIO (SIGBUS for a mapping) or the right bytes.
 */
TEST_F_TIMEOUT(faults, read_errors_reach_the_reader, 7200)
{
	static unsigned char model[FILES][FILE_BLOCKS * BLK], buf[FILE_BLOCKS * BLK];
	unsigned long long rounds = env_or("RSFS_FAULT_ROUNDS", 60), r;
	long long total = 0, eio = 0, good = 0, wrong = 0;
	unsigned char *dbuf;
	char name[64];
	int fd, i;

	ASSERT_EQ(0, posix_memalign((void **)&dbuf, BLK, sizeof(buf)));
	ASSERT_EQ(0, mkdir("d", 0755));
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "d/file-with-a-longer-name-%d", i);
		fd = open(name, O_CREAT | O_RDWR, 0644);
		ASSERT_LE(0, fd);
		fill(model[i], sizeof(model[i]));
		ASSERT_EQ((ssize_t)sizeof(model[i]), write(fd, model[i], sizeof(model[i])));
		close(fd);
	}
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "d/entry-%d", i);
		ASSERT_EQ(0, put_file(name, "e"));
	}
	sync();
	signal(SIGBUS, on_bus);

	for (r = 0; r < rounds; r++) {
		int f = below(FILES), how = below(4);
		size_t off = below(FILE_BLOCKS) * BLK, len = (1 + below(FILE_BLOCKS)) * BLK;
		ssize_t n = -1;
		int err = 0;

		if (off + len > sizeof(buf))
			len = sizeof(buf) - off;
		ASSERT_EQ(0, drop_caches());
		ASSERT_EQ(0, faults(DISK0, 5 + below(50)));
		snprintf(name, sizeof(name), "d/file-with-a-longer-name-%d", f);
		if (how == 0) {
			/* The directory: every name is there, or EIO. */
			DIR *d = opendir("d");
			struct dirent *e;
			int seen = 0;

			err = d ? 0 : errno;
			errno = 0;
			while (d && (e = readdir(d)))
				seen++;
			if (d) {
				err = errno;
				closedir(d);
			}
			n = err ? -1 : seen;
			if (!err && seen != FILES + 40 + 2)
				wrong++, printf("# round %llu: readdir saw %d names\n", r, seen);
		} else {
			fd = open(name, O_RDONLY | (how == 3 ? O_DIRECT : 0));
			err = errno;
			if (fd >= 0 && how == 1) {
				n = pread(fd, buf, len, off);
				err = errno;
			} else if (fd >= 0 && how == 2) {
				unsigned char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);

				if (p != MAP_FAILED) {
					if (!sigsetjmp(bus_jmp, 1)) {
						memcpy(buf, p, len);
						n = len;
					} else {
						err = EIO; /* SIGBUS: the mapping's EIO */
					}
					munmap(p, len);
				}
			} else if (fd >= 0) {
				n = pread(fd, dbuf, len, off);
				err = errno;
				memcpy(buf, dbuf, n > 0 ? n : 0);
			}
			if (fd >= 0)
				close(fd);
			if (n >= 0 && memcmp(buf, model[f] + off, n))
				wrong++, printf("# round %llu: read way %d returned wrong data\n", r, how);
		}
		ASSERT_EQ(0, faults(DISK0, 0));
		total += injected();
		if (n >= 0) {
			good++;
		} else if (err == EIO) {
			eio++;
		} else {
			wrong++;
			printf("# round %llu: read way %d failed with %s, not EIO\n", r, how,
			       strerror(err));
		}
	}
	signal(SIGBUS, SIG_DFL);
	/* Nothing lasting: without faults, everything reads back. */
	ASSERT_EQ(0, drop_caches());
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "d/file-with-a-longer-name-%d", i);
		EXPECT_EQ(0, compare_file(name, model[i], sizeof(model[i])));
	}
	free(dbuf);
	printf("# report: faults-read rounds=%llu injected=%lld eio=%lld good=%lld mismatches=%lld\n",
	       rounds, total, eio, good, wrong);
	EXPECT_EQ(0, wrong);
	EXPECT_LT(0, total);
	EXPECT_LT(0, eio);
}

/*
 * Mount option data_err=abort, as ext4's. A new file's data write fails:
 * its fdatasync says EIO, and the next commit (syncfs here) shuts the
 * filesystem down rather than commit the map that names the file's
 * blocks, which still hold what a deleted file left there. Every change
 * then fails with EIO, and after a remount the file shows none of those
 * bytes. (With data_err=ignore, the default, the commit goes on, as on
 * ext4, and the blocks may show them: see README.) /proc/mounts shows the
 * option, and a remount changes it either way.
 */
TEST_F(faults, data_err_abort_commits_no_block_whose_write_failed)
{
	static unsigned char buf[FILE_BLOCKS * BLK];
	static unsigned char block[BLK] __attribute__((aligned(BLK)));
	int fd, ret, err, blk = 0, bad = 0;
	ssize_t n;

	ASSERT_EQ(0, leave_old_data("old", 1 << 20, 0xa5));
	EXPECT_FALSE(mounted_with(MNT, "data_err=abort"));
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT | MS_NOATIME, "data_err=abort"));
	EXPECT_TRUE(mounted_with(MNT, "data_err=abort"));
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT | MS_NOATIME, "data_err=ignore"));
	EXPECT_FALSE(mounted_with(MNT, "data_err=abort"));
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT | MS_NOATIME, "data_err=abort"));

	memset(buf, 0x63, sizeof(buf));
	fd = open("new", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(buf), pwrite(fd, buf, sizeof(buf), 0));
	ASSERT_EQ(0, ioctl(fd, FIBMAP, &blk));
	ASSERT_EQ(0, read_disk(DISK0, blk, block, BLK));
	ASSERT_EQ(0xa5, block[0]) TH_LOG("the new file's blocks do not hold the old bytes");

	ASSERT_EQ(0, faults(DISK0, 100));
	ret = fdatasync(fd);
	err = errno;
	ASSERT_EQ(0, faults(DISK0, 0));
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EIO, err) TH_LOG("fdatasync: %s", strerror(err));
	/* EIO in any case: syncfs reports the data error too. */
	EXPECT_EQ(-1, syncfs(fd));
	EXPECT_TRUE(kmsg_grep(&self->k, "(data_err=abort): shut down"));
	EXPECT_EQ(-1, mkdir("d", 0755));
	EXPECT_EQ(EIO, errno);
	close(fd);

	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	EXPECT_EQ(0, fsck(DISK0));
	ASSERT_EQ(0, mount(DISK0, MNT, "rsfs", MS_NOATIME, NULL));
	ASSERT_EQ(0, chdir(MNT));
	EXPECT_FALSE(mounted_with(MNT, "data_err=abort"));
	fd = open("new", O_RDONLY);
	if (fd >= 0) {
		n = pread(fd, buf, sizeof(buf), 0);
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] == 0xa5;
		close(fd);
	}
	EXPECT_EQ(0, bad) TH_LOG("the file shows %d bytes of the deleted one", bad);
}

TEST_HARNESS_MAIN
