// SPDX-License-Identifier: GPL-2.0
/*
 * Runs last (tests/run.sh): after every other test, with rsfs unloaded,
 * kmemleak must find nothing unreferenced, from the whole run since boot:
 * the exerciser, the stress, the faults and the hostile images included.
 */
#include "rsfs_test.h"
#include "kselftest_harness.h"

FIXTURE(end) {
};

FIXTURE_SETUP(end)
{
}

FIXTURE_TEARDOWN(end)
{
}

TEST_F_TIMEOUT(end, kmemleak_clean_after_everything, 600)
{
	static char buf[1 << 16];
	ssize_t n, total = 0;
	int fd;

	rsfs_reset();
	EXPECT_FALSE(rsfs_registered());
	/* kmemleak reports an object only once it is five seconds old. */
	sleep(6);
	ASSERT_EQ(0, run("echo scan > /sys/kernel/debug/kmemleak"));
	ASSERT_EQ(0, run("echo scan > /sys/kernel/debug/kmemleak"));
	fd = open("/sys/kernel/debug/kmemleak", O_RDONLY);
	ASSERT_LE(0, fd);
	while ((n = read(fd, buf + total, sizeof(buf) - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	printf("# report: leaks kmemleak-bytes=%zd\n", total);
	EXPECT_EQ(0, total) TH_LOG("kmemleak reports:\n%s", buf);
}

TEST_HARNESS_MAIN
