// SPDX-License-Identifier: GPL-2.0
/*
 * The random operation exerciser (tests/tools/rsfsx.c) on rsfs: a long
 * model-checked run on an empty filesystem, with remounts, and a run on a
 * nearly full one where ENOSPC is part of the mix.
 *
 * Environment (qemu/init passes the host's): RSFS_FSX_OPS, operations of
 * the long run (default 100000); RSFS_SEED, the seed (default: random;
 * printed either way, and rsfsx prints it with any failure).
 */
#include "rsfs_test.h"
#include "kselftest_harness.h"
#include <sys/statfs.h>
#include <time.h>

RSFS_MOUNTED_FIXTURE(fsx, (void)0)

static unsigned long long seed(void)
{
	return env_or("RSFS_SEED", time(NULL) ^ ((unsigned long long)getpid() << 20));
}

/* One rsfsx run's outcome, from its summary line. */
struct fsx_result {
	int status;
	unsigned long ops, mismatches, enospc;
};

/* Runs rsfsx with `args`, passing its output on as KTAP diagnostics. */
static struct fsx_result rsfsx(const char *args)
{
	struct fsx_result r = { .status = -1, .mismatches = 1 };
	char cmd[512], line[512];
	unsigned long long s;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "rsfsx %s 2>&1", args);
	printf("# %s\n", cmd);
	p = popen(cmd, "r");
	if (!p)
		return r;
	while (fgets(line, sizeof(line), p)) {
		printf("# %s", line);
		sscanf(line, "rsfsx: seed %llu ops %lu mismatches %lu enospc %lu", &s, &r.ops,
		       &r.mismatches, &r.enospc);
	}
	fflush(stdout);
	st = pclose(p);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (r.status)
		r.mismatches = r.mismatches ? r.mismatches : 1;
	return r;
}

static void report(const char *what, struct fsx_result r)
{
	printf("# report: %s operations=%lu mismatches=%lu enospc=%lu\n", what, r.ops, r.mismatches,
	       r.enospc);
}

/*
 * Every operation kind, remounts and cache drops included, against the
 * model; the file and the model agree after every one of them.
 */
TEST_F_TIMEOUT(fsx, model_checked_random_operations, 14400)
{
	char args[256];
	struct fsx_result r;

	ASSERT_EQ(0, chdir("/"));
	snprintf(args, sizeof(args), "-q -s %llu -n %llu -d %s -m %s %s/fsx.file", seed(),
		 env_or("RSFS_FSX_OPS", 100000), DISK0, MNT, MNT);
	r = rsfsx(args);
	report("exerciser", r);
	EXPECT_EQ(0, r.status);
	EXPECT_EQ(0, r.mismatches);
	EXPECT_EQ(env_or("RSFS_FSX_OPS", 100000), r.ops);
	ASSERT_EQ(0, chdir(MNT));
}

/*
 * The same mix on a filesystem that a filler file has left with a few
 * blocks: writes come back short or with ENOSPC, mapped stores with
 * SIGBUS, fallocate with ENOSPC, and the file still matches the model.
 */
TEST_F_TIMEOUT(fsx, enospc_in_the_random_mix, 1200)
{
	struct fsx_result r;
	struct statfs st;
	char args[256];
	int fd;

	fd = open("filler", O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, statfs(".", &st));
	/* All but 48 blocks: less than the 1 MiB file rsfsx may grow. */
	ASSERT_EQ(0, fallocate(fd, 0, 0, (st.f_bavail - 48) * st.f_bsize));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	ASSERT_EQ(0, chdir("/"));
	snprintf(args, sizeof(args), "-q -E -l %d -s %llu -n %llu -d %s -m %s %s/fsx.file",
		 1 << 20, seed(), env_or("RSFS_FSX_OPS", 100000) / 10, DISK0, MNT, MNT);
	r = rsfsx(args);
	report("exerciser-enospc", r);
	EXPECT_EQ(0, r.status);
	EXPECT_EQ(0, r.mismatches);
	/* The point of the test: the mix did run into a full disk. */
	EXPECT_LT(0, r.enospc);
	ASSERT_EQ(0, chdir(MNT));
	ASSERT_EQ(0, unlink("filler"));
}

TEST_HARNESS_MAIN
