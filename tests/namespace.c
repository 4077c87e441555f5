// SPDX-License-Identifier: GPL-2.0
/*
 * The namespace: files, directories, links, symlinks, rename, readdir,
 * attributes, statfs and persistence. Every test runs on a freshly made
 * filesystem, and fsck.rsfs -n must find it clean after the test.
 */
#include "rsfs_test.h"

#include <dirent.h>
#include <limits.h>
#include <sys/statfs.h>
#include <sys/time.h>

#include "kselftest_harness.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#define RENAME_WHITEOUT (1 << 2)
#endif

RSFS_MOUNTED_FIXTURE(fs, (void)0)

/* A little-endian u64 field of the superblock on `dev`. */
static unsigned long long sb_field(const char *dev, int off)
{
	unsigned long long v = 0;
	int fd = open(dev, O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, &v, sizeof(v), off) != sizeof(v))
			v = 0;
		close(fd);
	}
	return v;
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -errno;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int rename2(const char *a, const char *b, unsigned int flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags) ? -errno : 0;
}

TEST_F(fs, create_and_stat)
{
	struct stat st;
	int fd;

	fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0640);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, stat("f", &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(0640, st.st_mode & 07777);
	EXPECT_EQ(1, st.st_nlink);
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(-1, open("f", O_CREAT | O_EXCL | O_RDWR, 0640));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(-1, stat("nothing", &st));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(fs, mkdir_rmdir_and_link_counts)
{
	struct stat st;

	ASSERT_EQ(0, stat(".", &st));
	ASSERT_EQ(2, st.st_nlink);
	ASSERT_EQ(0, mkdir("d", 0755));
	ASSERT_EQ(0, mkdir("d/e", 0700));
	ASSERT_EQ(0, stat(".", &st));
	EXPECT_EQ(3, st.st_nlink);
	ASSERT_EQ(0, stat("d", &st));
	EXPECT_EQ(3, st.st_nlink);
	EXPECT_EQ(4096, st.st_size);
	EXPECT_EQ(-1, rmdir("d"));
	EXPECT_EQ(ENOTEMPTY, errno);
	ASSERT_EQ(0, close(open("d/file", O_CREAT | O_WRONLY, 0600)));
	EXPECT_EQ(-1, rmdir("d/file"));
	EXPECT_EQ(ENOTDIR, errno);
	EXPECT_EQ(-1, mkdir("d", 0755));
	EXPECT_EQ(EEXIST, errno);
	ASSERT_EQ(0, rmdir("d/e"));
	ASSERT_EQ(0, unlink("d/file"));
	ASSERT_EQ(0, stat("d", &st));
	EXPECT_EQ(2, st.st_nlink);
	ASSERT_EQ(0, rmdir("d"));
	ASSERT_EQ(0, stat(".", &st));
	EXPECT_EQ(2, st.st_nlink);
}

TEST_F(fs, hard_links)
{
	struct stat st;

	ASSERT_EQ(0, close(open("a", O_CREAT | O_WRONLY, 0600)));
	ASSERT_EQ(0, link("a", "b"));
	ASSERT_EQ(0, mkdir("d", 0755));
	ASSERT_EQ(0, link("a", "d/c"));
	ASSERT_EQ(0, stat("b", &st));
	EXPECT_EQ(3, st.st_nlink);
	ASSERT_EQ(0, unlink("a"));
	ASSERT_EQ(0, remount());
	ASSERT_EQ(0, stat("d/c", &st));
	EXPECT_EQ(2, st.st_nlink);
	EXPECT_EQ(-1, link("d", "dlink"));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(fs, symlinks_short_and_long)
{
	char target[3001], buf[4096];
	ssize_t n;

	memset(target, 'x', 3000);
	target[3000] = 0;
	ASSERT_EQ(0, symlink("short/target", "s"));
	ASSERT_EQ(0, symlink(target, "l"));
	ASSERT_EQ(0, remount());
	n = readlink("s", buf, sizeof(buf));
	ASSERT_EQ(12, n);
	EXPECT_EQ(0, memcmp(buf, "short/target", 12));
	n = readlink("l", buf, sizeof(buf));
	ASSERT_EQ(3000, n);
	EXPECT_EQ(0, memcmp(buf, target, 3000));
	ASSERT_EQ(0, mkdir("dir", 0755));
	ASSERT_EQ(0, symlink("dir", "to_dir"));
	ASSERT_EQ(0, close(open("to_dir/through", O_CREAT | O_WRONLY, 0600)));
	EXPECT_EQ(0, access("dir/through", F_OK));
	ASSERT_EQ(0, unlink("l"));
	ASSERT_EQ(0, unlink("s"));
}

TEST_F(fs, rename_cases)
{
	struct stat st, before;

	ASSERT_EQ(0, mkdir("a", 0755));
	ASSERT_EQ(0, mkdir("b", 0755));
	ASSERT_EQ(0, close(open("a/f", O_CREAT | O_WRONLY, 0600)));
	ASSERT_EQ(0, stat("a/f", &before));

	/* Within a directory, then across directories. */
	ASSERT_EQ(0, rename("a/f", "a/g"));
	ASSERT_EQ(0, rename("a/g", "b/g"));
	ASSERT_EQ(0, stat("b/g", &st));
	EXPECT_EQ(before.st_ino, st.st_ino);
	EXPECT_EQ(-1, access("a/f", F_OK));

	/* Over an existing file: the old target goes away. */
	ASSERT_EQ(0, close(open("b/h", O_CREAT | O_WRONLY, 0600)));
	ASSERT_EQ(0, rename("b/g", "b/h"));
	ASSERT_EQ(0, stat("b/h", &st));
	EXPECT_EQ(before.st_ino, st.st_ino);
	EXPECT_EQ(1, st.st_nlink);

	/* RENAME_NOREPLACE. */
	ASSERT_EQ(0, close(open("b/i", O_CREAT | O_WRONLY, 0600)));
	EXPECT_EQ(-EEXIST, rename2("b/h", "b/i", RENAME_NOREPLACE));
	EXPECT_EQ(0, rename2("b/h", "b/j", RENAME_NOREPLACE));

	/* A directory to another parent: link counts and "..". */
	ASSERT_EQ(0, mkdir("a/sub", 0755));
	ASSERT_EQ(0, rename("a/sub", "b/sub"));
	ASSERT_EQ(0, stat("a", &st));
	EXPECT_EQ(2, st.st_nlink);
	ASSERT_EQ(0, stat("b", &st));
	EXPECT_EQ(3, st.st_nlink);
	ASSERT_EQ(0, stat("b/sub/..", &st));
	ASSERT_EQ(0, stat("b", &before));
	EXPECT_EQ(before.st_ino, st.st_ino);

	/* Over an empty directory, and not over a full one. */
	ASSERT_EQ(0, mkdir("a/empty", 0755));
	ASSERT_EQ(0, rename("b/sub", "a/empty"));
	ASSERT_EQ(0, stat("a", &st));
	EXPECT_EQ(3, st.st_nlink);
	ASSERT_EQ(0, stat("b", &st));
	EXPECT_EQ(2, st.st_nlink);
	ASSERT_EQ(0, mkdir("full", 0755));
	ASSERT_EQ(0, mkdir("full/x", 0755));
	EXPECT_EQ(-1, rename("a/empty", "full"));
	EXPECT_EQ(ENOTEMPTY, errno);
	/* A directory into its own subtree. */
	EXPECT_EQ(-1, rename("full", "full/x/y"));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, remount());
	ASSERT_EQ(0, stat("a/empty/..", &st));
	ASSERT_EQ(0, stat("a", &before));
	EXPECT_EQ(before.st_ino, st.st_ino);
}

/* stat(2) of `path`, or all zeroes where it fails. */
static struct stat stat_of(const char *path)
{
	struct stat st = { 0 };

	stat(path, &st);
	return st;
}

/*
 * RENAME_EXCHANGE swaps the inodes of two names: two files in one
 * directory; a file and a directory in different directories, where the
 * directory's ".." and one link move from its old parent to its new one;
 * two directories in different directories, each keeping its subtree.
 * All of it holds after a remount, and fsck.rsfs finds the counts right.
 */
TEST_F(fs, rename_exchange)
{
	ino_t f, g, d, e;
	int fd;

	ASSERT_EQ(0, mkdir("p", 0755));
	ASSERT_EQ(0, mkdir("q", 0755));
	fd = open("p/f", O_CREAT | O_WRONLY, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "F", 1));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, close(open("p/g", O_CREAT | O_WRONLY, 0600)));
	ASSERT_EQ(0, mkdir("q/d", 0755));
	ASSERT_EQ(0, mkdir("q/d/inside", 0755));
	ASSERT_EQ(0, mkdir("p/e", 0755));
	f = stat_of("p/f").st_ino;
	g = stat_of("p/g").st_ino;
	d = stat_of("q/d").st_ino;
	e = stat_of("p/e").st_ino;

	/* Two files, one directory. */
	ASSERT_EQ(0, rename2("p/f", "p/g", RENAME_EXCHANGE));
	EXPECT_EQ(g, stat_of("p/f").st_ino);
	EXPECT_EQ(f, stat_of("p/g").st_ino);
	EXPECT_EQ(1, stat_of("p/g").st_size);

	/* A file in p and a directory in q: p gains the directory. */
	ASSERT_EQ(3, stat_of("p").st_nlink);
	ASSERT_EQ(3, stat_of("q").st_nlink);
	ASSERT_EQ(0, rename2("p/g", "q/d", RENAME_EXCHANGE));
	EXPECT_EQ(d, stat_of("p/g").st_ino);
	EXPECT_EQ(f, stat_of("q/d").st_ino);
	EXPECT_EQ(4, stat_of("p").st_nlink);
	EXPECT_EQ(2, stat_of("q").st_nlink);
	EXPECT_EQ(stat_of("p").st_ino, stat_of("p/g/..").st_ino);
	EXPECT_EQ(0, access("p/g/inside", F_OK));

	/* Two directories in different parents: the counts stay. */
	ASSERT_EQ(0, mkdir("q/c", 0755));
	ASSERT_EQ(0, rename2("p/g", "q/c", RENAME_EXCHANGE));
	EXPECT_EQ(d, stat_of("q/c").st_ino);
	EXPECT_EQ(4, stat_of("p").st_nlink);
	EXPECT_EQ(3, stat_of("q").st_nlink);
	EXPECT_EQ(stat_of("q").st_ino, stat_of("q/c/..").st_ino);
	EXPECT_EQ(stat_of("p").st_ino, stat_of("p/g/..").st_ino);

	/* A missing target, and a directory into its own subtree. */
	EXPECT_EQ(-ENOENT, rename2("p/e", "q/nothing", RENAME_EXCHANGE));
	EXPECT_EQ(-EINVAL, rename2("q/c", "q/c/inside", RENAME_EXCHANGE));

	ASSERT_EQ(0, remount());
	EXPECT_EQ(g, stat_of("p/f").st_ino);
	EXPECT_EQ(f, stat_of("q/d").st_ino);
	EXPECT_EQ(d, stat_of("q/c").st_ino);
	EXPECT_EQ(e, stat_of("p/e").st_ino);
	EXPECT_EQ(4, stat_of("p").st_nlink);
	EXPECT_EQ(3, stat_of("q").st_nlink);
	EXPECT_EQ(stat_of("q").st_ino, stat_of("q/c/..").st_ino);
	EXPECT_EQ(stat_of("p").st_ino, stat_of("p/g/..").st_ino);
}

/* The d_type readdir gives `name` in `dir`, or -1. */
static int dtype_of(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int t = -1;

	while (d && (e = readdir(d)))
		if (!strcmp(e->d_name, name))
			t = e->d_type;
	if (d)
		closedir(d);
	return t;
}

/* Whether `path` is a whiteout: a character device 0:0 with mode 0. */
static bool is_whiteout(const char *path)
{
	struct stat st;

	return !lstat(path, &st) && S_ISCHR(st.st_mode) && st.st_rdev == 0 &&
	       (st.st_mode & 07777) == 0 && st.st_nlink == 1;
}

/*
 * RENAME_WHITEOUT (overlayfs's rename on its upper layer), as on ext4: the
 * file moves and its old name holds a whiteout, a character device 0:0
 * with mode 0, in one change; over an existing target too, and for a
 * directory moving to another parent (whose link counts follow the move).
 * With RENAME_EXCHANGE it is EINVAL (the VFS's rule). The whiteouts are
 * there after a remount and unlink like any file; a rename that fails
 * (ENOTEMPTY) leaves no whiteout and takes no inode; and fsck.rsfs (the
 * fixture's teardown) finds the disk clean.
 */
TEST_F(fs, rename_whiteout)
{
	struct statfs before, after;
	char buf[4] = { 0 };
	int fd;

	ASSERT_EQ(0, mkdir("p", 0755));
	ASSERT_EQ(0, mkdir("q", 0755));
	fd = open("p/f", O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(3, write(fd, "abc", 3));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, close(open("q/old", O_CREAT | O_WRONLY, 0644)));
	ASSERT_EQ(0, mkdir("p/d", 0755));

	ASSERT_EQ(0, rename2("p/f", "q/f", RENAME_WHITEOUT));
	EXPECT_TRUE(is_whiteout("p/f"));
	EXPECT_EQ(DT_CHR, dtype_of("p", "f"));
	ASSERT_EQ(0, rename2("q/f", "q/old", RENAME_WHITEOUT));
	EXPECT_TRUE(is_whiteout("q/f"));
	ASSERT_EQ(0, rename2("p/d", "q/d", RENAME_WHITEOUT));
	EXPECT_TRUE(is_whiteout("p/d"));
	EXPECT_EQ(2, stat_of("p").st_nlink);
	EXPECT_EQ(3, stat_of("q").st_nlink);
	EXPECT_EQ(stat_of("q").st_ino, stat_of("q/d/..").st_ino);
	EXPECT_EQ(-EINVAL, rename2("q/d", "p/d", RENAME_WHITEOUT | RENAME_EXCHANGE));

	ASSERT_EQ(0, remount());
	EXPECT_TRUE(is_whiteout("p/f"));
	EXPECT_TRUE(is_whiteout("q/f"));
	EXPECT_TRUE(is_whiteout("p/d"));
	fd = open("q/old", O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(3, read(fd, buf, sizeof(buf)));
	EXPECT_STREQ("abc", buf);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(2, stat_of("p").st_nlink);
	EXPECT_EQ(3, stat_of("q").st_nlink);
	EXPECT_EQ(0, unlink("q/f"));
	EXPECT_EQ(0, unlink("p/d"));

	/* A rename that fails leaves neither a whiteout nor an inode. */
	ASSERT_EQ(0, mkdir("p/e", 0755));
	ASSERT_EQ(0, close(open("q/d/x", O_CREAT | O_WRONLY, 0644)));
	ASSERT_EQ(0, statfs(".", &before));
	EXPECT_EQ(-ENOTEMPTY, rename2("p/e", "q/d", RENAME_WHITEOUT));
	EXPECT_TRUE(S_ISDIR(stat_of("p/e").st_mode));
	ASSERT_EQ(0, statfs(".", &after));
	EXPECT_EQ(before.f_ffree, after.f_ffree);
	EXPECT_EQ(0, unlink("q/d/x"));
	EXPECT_EQ(0, rmdir("p/e"));
}

TEST_F(fs, names_up_to_255_bytes)
{
	char name[300];

	memset(name, 'n', sizeof(name));
	name[255] = 0;
	ASSERT_EQ(0, close(open(name, O_CREAT | O_WRONLY, 0600)));
	EXPECT_EQ(0, access(name, F_OK));
	name[255] = 'n';
	name[256] = 0;
	EXPECT_EQ(-1, open(name, O_CREAT | O_WRONLY, 0600));
	EXPECT_EQ(ENAMETOOLONG, errno);
	EXPECT_EQ(-1, mkdir(name, 0755));
	EXPECT_EQ(ENAMETOOLONG, errno);
}

/* telldir offsets stay valid while other entries come and go. */
TEST_F(fs, readdir_offsets_are_stable)
{
	char name[64];
	struct dirent *de;
	long pos = -1;
	DIR *d;
	int i;

	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "entry-with-a-longish-name-%03d", i);
		ASSERT_EQ(0, close(open(name, O_CREAT | O_WRONLY, 0600)));
	}
	EXPECT_EQ(302, count_entries("."));
	d = opendir(".");
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)))
		if (!strcmp(de->d_name, "entry-with-a-longish-name-150"))
			break;
	ASSERT_NE(NULL, de);
	pos = telldir(d);
	/* Remove the entries before it and after it. */
	for (i = 0; i < 300; i++) {
		if (i == 150 || i == 151)
			continue;
		snprintf(name, sizeof(name), "entry-with-a-longish-name-%03d", i);
		ASSERT_EQ(0, unlink(name));
	}
	seekdir(d, pos);
	de = readdir(d);
	ASSERT_NE(NULL, de);
	EXPECT_STREQ("entry-with-a-longish-name-151", de->d_name);
	closedir(d);
	EXPECT_EQ(4, count_entries("."));
}

TEST_F_TIMEOUT(fs, ten_thousand_entries, 900)
{
	char name[64];
	struct stat st;
	int i;

	ASSERT_EQ(0, mkdir("big", 0755));
	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "big/file-%05d", i);
		ASSERT_EQ(0, close(open(name, O_CREAT | O_WRONLY, 0600)));
	}
	EXPECT_EQ(10002, count_entries("big"));
	ASSERT_EQ(0, remount());
	EXPECT_EQ(10002, count_entries("big"));
	EXPECT_EQ(0, stat("big/file-00000", &st));
	EXPECT_EQ(0, stat("big/file-09999", &st));
	EXPECT_EQ(0, stat("big/file-05000", &st));
	ASSERT_EQ(0, stat("big", &st));
	EXPECT_GT(st.st_size, 40 * 4096);
	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "big/file-%05d", i);
		ASSERT_EQ(0, unlink(name));
	}
	EXPECT_EQ(2, count_entries("big"));
	ASSERT_EQ(0, rmdir("big"));
}

/* Name `i` of the random-changes test: lengths from 6 to 65 bytes. */
static void big_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "r/%04d-%.*s", i, i % 60, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh");
}

/*
 * A directory of many blocks under a seeded mix of creates, unlinks,
 * renames (onto free names and over existing ones) and lookups, checked
 * against a model after every step, then after a remount. rsfs keeps an
 * in-memory index of a large directory's names; the debug kernel also
 * checks each of its answers against a search of every block.
 */
TEST_F_TIMEOUT(fs, a_large_directory_under_random_changes, 900)
{
	enum { N = 2000, OPS = 8000 };
	static bool exists[N];
	unsigned long long x = 0x9e3779b97f4a7c15ULL;
	char a[128], b[128];
	struct stat st;
	int i, live = 0;

	ASSERT_EQ(0, mkdir("r", 0755));
	for (int op = 0; op < OPS; op++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		i = x % N;
		big_name(a, sizeof(a), i);
		switch ((x >> 32) % 4) {
		case 0:
			if (exists[i]) {
				EXPECT_EQ(-1, open(a, O_CREAT | O_EXCL | O_WRONLY, 0600));
				EXPECT_EQ(EEXIST, errno);
			} else {
				ASSERT_EQ(0, close(open(a, O_CREAT | O_EXCL | O_WRONLY, 0600)));
				exists[i] = true, live++;
			}
			break;
		case 1:
			EXPECT_EQ(exists[i] ? 0 : -1, unlink(a));
			if (exists[i])
				exists[i] = false, live--;
			break;
		case 2: {
			int j = (x >> 40) % N;

			if (j == i)
				break;
			big_name(b, sizeof(b), j);
			if (!exists[i]) {
				EXPECT_EQ(-1, rename(a, b));
				EXPECT_EQ(ENOENT, errno);
				break;
			}
			ASSERT_EQ(0, rename(a, b));
			if (exists[j])
				live--;
			exists[i] = false, exists[j] = true;
			break;
		}
		default:
			EXPECT_EQ(exists[i] ? 0 : -1, stat(a, &st));
		}
		if (op % 1000 == 999)
			ASSERT_EQ(live + 2, count_entries("r"));
	}
	ASSERT_EQ(0, stat("r", &st));
	EXPECT_LT(4 * 4096, st.st_size);
	ASSERT_EQ(0, remount());
	ASSERT_EQ(live + 2, count_entries("r"));
	for (i = 0; i < N; i++) {
		big_name(a, sizeof(a), i);
		EXPECT_EQ(exists[i] ? 0 : -1, stat(a, &st));
	}
	for (i = 0; i < N; i++) {
		big_name(a, sizeof(a), i);
		if (exists[i])
			ASSERT_EQ(0, unlink(a));
	}
	EXPECT_EQ(0, rmdir("r"));
}

TEST_F(fs, attributes_persist)
{
	struct timespec times[2] = { { 1000000000, 123456789 }, { 1500000000, 987654321 } };
	struct stat st;

	ASSERT_EQ(0, close(open("f", O_CREAT | O_WRONLY, 0600)));
	ASSERT_EQ(0, chmod("f", 04751));
	ASSERT_EQ(0, chown("f", 1234, 5678));
	ASSERT_EQ(0, truncate("f", 1 << 20)); /* sets mtime: before utimensat */
	ASSERT_EQ(0, utimensat(AT_FDCWD, "f", times, 0));
	ASSERT_EQ(0, remount());
	ASSERT_EQ(0, stat("f", &st));
	EXPECT_EQ(0751, st.st_mode & 07777); /* chown clears set-user-ID */
	EXPECT_EQ(1234, st.st_uid);
	EXPECT_EQ(5678, st.st_gid);
	EXPECT_EQ(1000000000, st.st_atim.tv_sec);
	EXPECT_EQ(123456789, st.st_atim.tv_nsec);
	EXPECT_EQ(1500000000, st.st_mtim.tv_sec);
	EXPECT_EQ(987654321, st.st_mtim.tv_nsec);
	EXPECT_EQ(1 << 20, st.st_size);
	EXPECT_EQ(0, st.st_blocks); /* truncating up makes a hole */
	ASSERT_EQ(0, truncate("f", 10));
	ASSERT_EQ(0, stat("f", &st));
	EXPECT_EQ(10, st.st_size);
}

TEST_F(fs, statfs_follows_usage)
{
	struct statfs a, b;

	ASSERT_EQ(0, statfs(".", &a));
	ASSERT_EQ(0, mkdir("d", 0755));
	ASSERT_EQ(0, statfs(".", &b));
	EXPECT_EQ(a.f_bfree - 1, b.f_bfree);
	EXPECT_EQ(a.f_ffree - 1, b.f_ffree);
	ASSERT_EQ(0, rmdir("d"));
	ASSERT_EQ(0, statfs(".", &b));
	EXPECT_EQ(a.f_bfree, b.f_bfree);
	EXPECT_EQ(a.f_ffree, b.f_ffree);
}

/* An unlinked but open file lives until its last close. */
TEST_F(fs, unlinked_open_file)
{
	struct statfs a, b;
	struct stat st;
	int fd;

	ASSERT_EQ(0, statfs(".", &a));
	fd = open("victim", O_CREAT | O_RDWR, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unlink("victim"));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_nlink);
	ASSERT_EQ(0, statfs(".", &b));
	EXPECT_EQ(a.f_ffree - 1, b.f_ffree);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, statfs(".", &b));
	EXPECT_EQ(a.f_ffree, b.f_ffree);
}

TEST_F(fs, tree_survives_remount)
{
	struct stat st;

	ASSERT_EQ(0, mkdir("x", 0755));
	ASSERT_EQ(0, mkdir("x/y", 0755));
	ASSERT_EQ(0, close(open("x/y/z", O_CREAT | O_WRONLY, 0600)));
	ASSERT_EQ(0, symlink("y/z", "x/link"));
	ASSERT_EQ(0, remount());
	ASSERT_EQ(0, stat("x/link", &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(3, count_entries("x/y"));
	EXPECT_EQ(4, count_entries("x"));
}

/* Damage to a file's inode makes accesses to it fail cleanly. */
TEST_F(fs, damaged_inode_gives_euclean)
{
	struct stat st;

	ASSERT_EQ(0, close(open("f", O_CREAT | O_WRONLY, 0600)));
	ASSERT_EQ(0, stat("f", &st));
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	/*
	 * Inode 2 is slot 2 of the first inode-table block, whose number the
	 * superblock holds at byte 88: flip a byte of the inode's size field.
	 */
	ASSERT_EQ(2, st.st_ino);
	ASSERT_EQ(0, run("printf '\\377' | dd of=%s bs=1 seek=%llu conv=notrunc,fsync 2>/dev/null",
			 DISK0, sb_field(DISK0, 88) * 4096 + 2 * 256 + 16));
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
	ASSERT_EQ(0, chdir(MNT));
	EXPECT_EQ(-1, stat("f", &st));
	EXPECT_EQ(EUCLEAN, errno);
	EXPECT_TRUE(kmsg_grep(&self->k, "rsfs: vda: inode 2: checksum mismatch"));
	/* Leave a clean filesystem for the teardown's fsck. */
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	ASSERT_EQ(0, mkfs(DISK0));
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
}

/*
 * Mount option errors=, as ext2's and ext4's: with errors=remount-ro,
 * damage found on the disk shuts the filesystem down, as ext4 6.12 does
 * (the call that found it gets EUCLEAN, every later change EIO); with
 * errors=continue, the default, only that call fails. /proc/mounts shows
 * the option unless it is the default; the last one given wins, a
 * remount changes it, and a value rsfs does not know is EINVAL.
 * (errors=panic is set and shown, not tried.)
 */
TEST_F(fs, errors_mount_option)
{
	struct stat st;

	EXPECT_FALSE(mounted_with(MNT, "errors=continue"));
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT, "errors=panic"));
	EXPECT_TRUE(mounted_with(MNT, "errors=panic"));
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT, "errors=continue"));
	EXPECT_FALSE(mounted_with(MNT, "errors=panic"));
	ASSERT_EQ(0, close(open("f", O_CREAT | O_WRONLY, 0600)));
	ASSERT_EQ(0, stat("f", &st));
	ASSERT_EQ(2, st.st_ino);
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK0, "errors=sometimes"));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK0, "errors"));
	EXPECT_EQ(-EINVAL, mount_rsfs(DISK0, "discard=1"));
	/* The size field of inode 2, as in damaged_inode_gives_euclean. */
	ASSERT_EQ(0, run("printf '\\377' | dd of=%s bs=1 seek=%llu conv=notrunc,fsync 2>/dev/null",
			 DISK0, sb_field(DISK0, 88) * 4096 + 2 * 256 + 16));
	for (int ro = 0; ro < 2; ro++) {
		ASSERT_EQ(0, mount_rsfs(DISK0, ro ? "errors=panic,errors=remount-ro"
						  : "errors=remount-ro,errors=continue"));
		EXPECT_EQ(ro, mounted_with(MNT, "errors=remount-ro"));
		EXPECT_FALSE(mounted_with(MNT, "errors=panic"));
		ASSERT_EQ(0, chdir(MNT));
		EXPECT_EQ(-1, stat("f", &st));
		EXPECT_EQ(EUCLEAN, errno);
		if (ro) {
			EXPECT_EQ(-1, mkdir("d", 0755));
			EXPECT_EQ(EIO, errno);
			EXPECT_TRUE(kmsg_grep(&self->k, "damage found (errors=remount-ro): shut down"));
		} else {
			EXPECT_EQ(0, mkdir("d", 0755));
			EXPECT_EQ(0, rmdir("d"));
		}
		ASSERT_EQ(0, chdir("/"));
		ASSERT_EQ(0, umount(MNT));
	}
	/* Leave a clean filesystem for the teardown's fsck. */
	ASSERT_EQ(0, mkfs(DISK0));
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
}

/* Flips one byte of DISK0 at `off`. */
static int flip_byte(unsigned long long off)
{
	unsigned char c;
	int fd = open(DISK0, O_RDWR);
	int ok;

	if (fd < 0)
		return -errno;
	ok = pread(fd, &c, 1, off) == 1;
	c ^= 0x5a;
	ok = ok && pwrite(fd, &c, 1, off) == 1 && !fsync(fd);
	close(fd);
	return ok ? 0 : -EIO;
}

/* Damaged directory blocks and bitmaps: EUCLEAN and a log line, no oops. */
TEST_F(fs, damaged_directory_and_bitmap_give_euclean)
{
	unsigned long long table, dblock;
	struct stat st;
	DIR *d;

	ASSERT_EQ(0, mkdir("d", 0755));
	ASSERT_EQ(0, close(open("d/x", O_CREAT | O_WRONLY, 0600)));
	ASSERT_EQ(0, stat("d", &st));
	ASSERT_EQ(2, st.st_ino);
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	/* The first extent's start is at byte 104 of an inode. */
	table = sb_field(DISK0, 88);
	dblock = 0;
	{
		int fd = open(DISK0, O_RDONLY);

		ASSERT_LE(0, fd);
		ASSERT_EQ(8, pread(fd, &dblock, 8, table * 4096 + 2 * 256 + 104));
		close(fd);
	}
	ASSERT_LT(table, dblock);
	ASSERT_EQ(0, flip_byte(dblock * 4096 + 100));
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
	ASSERT_EQ(0, chdir(MNT));
	EXPECT_EQ(-1, stat("d/x", &st));
	EXPECT_EQ(EUCLEAN, errno);
	d = opendir("d");
	ASSERT_NE(NULL, d);
	errno = 0;
	EXPECT_EQ(NULL, readdir(d));
	EXPECT_EQ(EUCLEAN, errno);
	closedir(d);
	EXPECT_TRUE(kmsg_grep(&self->k, "rsfs: vda: directory 2, block 0: checksum mismatch"));
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, umount(MNT));
	/*
	 * A damaged bitmap: the mount, which counts free space from the
	 * bitmaps, refuses the disk. The inode bitmap starts at the block the
	 * superblock names at byte 72.
	 */
	ASSERT_EQ(0, flip_byte(sb_field(DISK0, 72) * 4096 + 4000));
	EXPECT_EQ(-EUCLEAN, mount_rsfs(DISK0, NULL));
	EXPECT_TRUE(kmsg_grep(&self->k, "rsfs: vda: inode bitmap block 0: checksum mismatch"));
	ASSERT_EQ(0, mkfs(DISK0));
	ASSERT_EQ(0, mount_rsfs(DISK0, NULL));
}

TEST_HARNESS_MAIN
