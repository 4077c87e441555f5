// SPDX-License-Identifier: GPL-2.0
/*
 * The module and the mount: load and unload, registration, mounting a
 * formatted disk, and refusing disks that are not rsfs.
 */
#include "rsfs_test.h"

#include <sys/statfs.h>

#include "kselftest_harness.h"

/* Module loading itself, with no fixture: the module starts unloaded. */
TEST(load_unload)
{
	struct kmsg k;

	ASSERT_EQ(0, kmsg_open(&k));
	ASSERT_FALSE(rsfs_registered());
	ASSERT_EQ(0, rsfs_load());
	EXPECT_TRUE(kmsg_grep(&k, "rsfs: filesystem type rsfs registered"));
	ASSERT_EQ(-EEXIST, rsfs_load());
	ASSERT_EQ(0, rsfs_unload());
	EXPECT_EQ(-ENOENT, rsfs_unload());
	EXPECT_FALSE(kmsg_splat(&k));
}

TEST(proc_filesystems)
{
	ASSERT_EQ(0, rsfs_load());
	/* Listed without "nodev": rsfs needs a block device. */
	EXPECT_TRUE(rsfs_registered());
	ASSERT_EQ(0, rsfs_unload());
	EXPECT_FALSE(rsfs_registered());
}

/* The remaining tests run with the module loaded and a log mark set. */
FIXTURE(loaded) {
	struct kmsg k;
};

FIXTURE_SETUP(loaded)
{
	rsfs_reset();
	ASSERT_EQ(0, kmsg_open(&self->k));
	ASSERT_EQ(0, rsfs_load());
}

FIXTURE_TEARDOWN(loaded)
{
	umount(MNT);
	EXPECT_EQ(0, rsfs_unload());
	EXPECT_FALSE(kmsg_splat(&self->k));
}

TEST_F(loaded, mount_umount)
{
	struct statfs st;
	struct stat root;

	ASSERT_EQ(0, mkfs(DISK0));
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
	ASSERT_EQ(0, statfs(MNT, &st));
	EXPECT_EQ(RSFS_MAGIC, st.f_type);
	EXPECT_EQ(4096, st.f_bsize);
	/*
	 * 256 MiB disk: 65536 blocks; one inode per 16 KiB, rounded up to
	 * whole inode-table blocks (16 slots each, slot 0 unused).
	 */
	EXPECT_EQ(65536, st.f_blocks);
	EXPECT_GT(st.f_bfree, 60000);
	EXPECT_LT(st.f_bfree, st.f_blocks);
	EXPECT_EQ(16399, st.f_files);
	EXPECT_EQ(16398, st.f_ffree);
	EXPECT_EQ(255, st.f_namelen);
	ASSERT_EQ(0, stat(MNT, &root));
	EXPECT_TRUE(S_ISDIR(root.st_mode));
	EXPECT_EQ(0755, root.st_mode & 07777);
	EXPECT_EQ(1, root.st_ino);
	/*
	 * The module is pinned while a filesystem of its type is mounted:
	 * delete_module(O_NONBLOCK) says EWOULDBLOCK.
	 */
	EXPECT_EQ(-EWOULDBLOCK, rsfs_unload());
	ASSERT_EQ(0, umount(MNT));
	/* And a second mount of the same disk works after the first. */
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
	ASSERT_EQ(0, umount(MNT));
}

TEST_F(loaded, mount_zeroed_disk_fails)
{
	ASSERT_EQ(0, scribble(DISK1, 1 << 20, false));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK1, NULL));
	EXPECT_TRUE(kmsg_grep(&self->k, "rsfs: vdb: superblock: bad magic number"));
}

TEST_F(loaded, mount_garbage_disk_fails)
{
	ASSERT_EQ(0, scribble(DISK1, 1 << 20, true));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK1, NULL));
	EXPECT_TRUE(kmsg_grep(&self->k, "rsfs: vdb: superblock: bad magic number"));
}

/* A superblock with a flipped bit in its label: damaged, not foreign. */
TEST_F(loaded, mount_bad_checksum_fails)
{
	ASSERT_EQ(0, mkfs(DISK1));
	/* The label is at byte 176 of the superblock (see docs/format.md). */
	ASSERT_EQ(0, run("printf X | dd of=%s bs=1 seek=176 conv=notrunc,fsync 2>/dev/null", DISK1));
	EXPECT_EQ(-EUCLEAN, mount_rsfs(DISK1, NULL));
	EXPECT_TRUE(kmsg_grep(&self->k, "rsfs: vdb: superblock: checksum mismatch"));
}

TEST_F(loaded, mount_unknown_option_fails)
{
	ASSERT_EQ(0, mkfs(DISK0));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK0, "no_such_option"));
	EXPECT_EQ(0, mount_rsfs(DISK0, NULL));
}

/*
 * kmemleak: nothing the module allocated outlives it. Leak reports are
 * cleared first, so only objects from this test can show up; kmemleak
 * reports an object only once it is older than five seconds.
 */
TEST_F_TIMEOUT(loaded, kmemleak_clean_after_rmmod, 120)
{
	char buf[4096];
	ssize_t n;
	int fd, i;

	ASSERT_EQ(0, run("echo clear > /sys/kernel/debug/kmemleak"));
	ASSERT_EQ(0, mkfs(DISK0));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
		ASSERT_EQ(0, umount(MNT));
	}
	/* The failure path of a mount must not leak either. */
	ASSERT_EQ(0, scribble(DISK1, 1 << 20, false));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK1, NULL));
	ASSERT_EQ(0, rsfs_unload());
	sleep(6);
	ASSERT_EQ(0, run("echo scan > /sys/kernel/debug/kmemleak"));
	ASSERT_EQ(0, run("echo scan > /sys/kernel/debug/kmemleak"));
	fd = open("/sys/kernel/debug/kmemleak", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LE(0, n);
	buf[n > 0 ? n : 0] = 0;
	EXPECT_EQ(0, n) TH_LOG("kmemleak reports:\n%s", buf);
	/* The fixture's teardown unloads the module: load it again for it. */
	ASSERT_EQ(0, rsfs_load());
}

TEST_HARNESS_MAIN
