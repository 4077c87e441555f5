// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile images. rsfs itself makes a small populated filesystem on a loop
 * device (directories, files with many extents, symlinks, hard links,
 * extended attributes);
 * rsfs-fuzz (tools/fuzz) then damages copies of it, one kind of damage at a
 * time. Each damaged image is mounted, walked, read, written and unmounted.
 * The outcome must always be orderly: a refused mount, or operations that
 * fail with EUCLEAN or EIO (or an errno that the damaged state makes
 * right, such as ELOOP or ENOSPC); never an oops, a KASAN report, a hang
 * or an unexpected errno. Each image is named in the log before it is
 * mounted, so a splat points at the image that caused it.
 *
 * Environment: RSFS_IMAGES (default 200), RSFS_SEED.
 */
#include "rsfs_test.h"
#include "kselftest_harness.h"
#include <dirent.h>
#include <sys/xattr.h>
#include <time.h>

#define LOOP "/dev/loop0"
#define SEED_IMG "/tmp/seed.img"
#define FUZZ_IMG "/tmp/fuzz.img"

/* What one image's operations returned. */
struct tally {
	unsigned long ops, errors[256];
	unsigned long disorderly;
	unsigned long visited;
};

/* Errnos a damaged filesystem may rightly give. */
static bool orderly(int e)
{
	switch (e) {
	case EUCLEAN: /* rsfs found damage */
	case EIO:
	case ENOSPC: /* a bitmap or counter says full */
	case EFBIG: /* a size at or past the limit */
	case ELOOP: /* a directory loop, or a link chain */
	case ESTALE: /* an entry whose inode is gone */
	case ENOENT: /* a name removed by the walk itself */
	case ENODATA: /* an attribute name a damaged block lists oddly */
	case EEXIST: case ENOTEMPTY: case ENOTDIR: case EISDIR:
	case EMLINK: case ENAMETOOLONG: case EROFS: case EINVAL:
		return true;
	}
	return false;
}

static void note(struct tally *t, const char *op, const char *path, long ret)
{
	t->ops++;
	if (ret >= 0)
		return;
	t->errors[errno & 255]++;
	if (!orderly(errno)) {
		t->disorderly++;
		printf("#   %s %s: unexpected %s\n", op, path, strerror(errno));
	}
}

static void read_file(struct tally *t, const char *path, off_t size)
{
	static char buf[1 << 16];
	off_t off;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	note(t, "open", path, fd);
	if (fd < 0)
		return;
	/* The first 1 MiB, and a little at the end of a (claimed) huge file. */
	for (off = 0; off < (1 << 20); off += n) {
		n = pread(fd, buf, sizeof(buf), off);
		note(t, "read", path, n);
		if (n <= 0)
			break;
	}
	if (size > (1 << 20))
		note(t, "read-end", path, pread(fd, buf, 4096, size - 1));
	close(fd);
}

/* Lists the extended attributes of `path` and reads each one. */
static void read_xattrs(struct tally *t, const char *path)
{
	static char list[65536], value[65536];
	ssize_t n = llistxattr(path, list, sizeof(list));

	note(t, "listxattr", path, n);
	for (ssize_t off = 0; off < n; off += strlen(list + off) + 1)
		note(t, "getxattr", path, lgetxattr(path, list + off, value, sizeof(value)));
}

/* Visits everything under `dir`, to a bounded depth and count. */
static void walk(struct tally *t, const char *dir, int depth)
{
	char path[4096], target[256];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int ret;

	if (depth > 12 || t->visited > 2000)
		return;
	d = opendir(dir);
	note(t, "opendir", dir, d ? 0 : -1);
	if (!d)
		return;
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e) {
			note(t, "readdir", dir, errno ? -1 : 0);
			break;
		}
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (++t->visited > 2000)
			break;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ret = lstat(path, &st);
		note(t, "lstat", path, ret);
		if (ret)
			continue;
		read_xattrs(t, path);
		if (S_ISREG(st.st_mode))
			read_file(t, path, st.st_size);
		else if (S_ISLNK(st.st_mode))
			note(t, "readlink", path, readlink(path, target, sizeof(target)));
		else if (S_ISDIR(st.st_mode))
			walk(t, path, depth + 1);
	}
	closedir(d);
}

/* Writes of every kind, wherever the walk can reach. */
static void write_some(struct tally *t)
{
	static char buf[1 << 16];
	char path[512], path2[600];
	struct dirent *e;
	struct stat st;
	int fd, i = 0;
	DIR *d;

	memset(buf, 'w', sizeof(buf));
	note(t, "mkdir", "new-dir", mkdir(MNT "/new-dir", 0755));
	fd = open(MNT "/new-file", O_CREAT | O_RDWR, 0644);
	note(t, "create", "new-file", fd);
	if (fd >= 0) {
		note(t, "write", "new-file", write(fd, buf, sizeof(buf)));
		note(t, "fsync", "new-file", fsync(fd));
		close(fd);
	}
	note(t, "symlink", "new-link", symlink("new-file", MNT "/new-link"));
	/* Existing names in the root: append, truncate, rename, unlink. */
	d = opendir(MNT);
	note(t, "opendir", MNT, d ? 0 : -1);
	while (d && (e = readdir(d)) && i < 8) {
		if (e->d_name[0] == '.' || !strncmp(e->d_name, "new-", 4))
			continue;
		snprintf(path, sizeof(path), MNT "/%s", e->d_name);
		if (lstat(path, &st))
			continue;
		i++;
		if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
			note(t, "setxattr", path, lsetxattr(path, "user.fuzz", buf, 100, 0));
			note(t, "removexattr", path, lremovexattr(path, "user.a"));
		}
		if (S_ISREG(st.st_mode)) {
			fd = open(path, O_RDWR);
			note(t, "open-rw", path, fd);
			if (fd >= 0) {
				note(t, "append", path, pwrite(fd, buf, 4096, st.st_size));
				note(t, "truncate", path, ftruncate(fd, st.st_size / 2));
				note(t, "fsync", path, fsync(fd));
				close(fd);
			}
		} else if (S_ISDIR(st.st_mode)) {
			snprintf(path2, sizeof(path2), "%s/made-here", path);
			fd = open(path2, O_CREAT | O_WRONLY, 0644);
			note(t, "create", path2, fd);
			if (fd >= 0)
				close(fd);
		}
		snprintf(path2, sizeof(path2), MNT "/renamed-%d", i);
		note(t, "rename", path, rename(path, path2));
		if (i % 3 == 0)
			note(t, S_ISDIR(st.st_mode) ? "rmdir" : "unlink", path2,
			     S_ISDIR(st.st_mode) ? rmdir(path2) : unlink(path2));
	}
	if (d)
		closedir(d);
	note(t, "syncfs", MNT, run("sync -f " MNT) ? -1 : 0);
}

/* The seed: a small rsfs made and filled by rsfs itself. */
static int make_seed(void)
{
	if (run("rm -f %s && truncate -s 8M %s && losetup %s %s && mkfs.rsfs -q -f %s", SEED_IMG,
		SEED_IMG, LOOP, SEED_IMG, LOOP))
		return -1;
	if (mount_rsfs(LOOP, NULL))
		return -1;
	/*
	 * Directories three deep, small and large files, a file of many
	 * extents (every other block: past the inode's nine, into an
	 * overflow block), hard links, short and long symlinks, a named pipe
	 * and a device file.
	 */
	if (run("cd %s && mkdir -p a/b/c d && echo small > a/f1 && "
		"dd if=/dev/urandom of=a/b/big bs=4096 count=64 2>/dev/null && "
		"for i in $(seq 0 2 60); do dd if=/dev/zero of=a/sparse bs=4096 seek=$i count=1 "
		"conv=notrunc 2>/dev/null; done && "
		"for i in $(seq 1 30); do echo $i > d/entry-$i; done && "
		"ln a/f1 a/b/c/hard && ln -s f1 a/short-link && "
		"ln -s $(printf 'x%%.0s' $(seq 1 300)) a/long-link && "
		"mkdir d/sub && touch d/sub/leaf && mkfifo d/fifo && mknod d/null c 1 3 && sync",
		MNT))
		return -1;
	/*
	 * Extended attributes on a file, a directory and a symlink, and a
	 * default ACL (rwx for the owner, r-x for the group and others: the
	 * VFS's form, posix_acl_xattr_header) on a directory.
	 */
	static const unsigned char acl[] = {
		2, 0, 0, 0, 1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, 5, 0,
		0xff, 0xff, 0xff, 0xff, 0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
	};
	static char big[3000];

	memset(big, 'x', sizeof(big));
	if (setxattr(MNT "/a/f1", "user.a", "first", 5, 0) ||
	    setxattr(MNT "/a/f1", "user.b", "second", 6, 0) ||
	    setxattr(MNT "/a/f1", "security.label", "s", 1, 0) ||
	    setxattr(MNT "/d", "trusted.t", big, 300, 0) ||
	    setxattr(MNT "/a/b/big", "user.big", big, sizeof(big), 0) ||
	    lsetxattr(MNT "/a/short-link", "security.s", "", 0, 0) ||
	    setxattr(MNT "/d", "system.posix_acl_default", acl, sizeof(acl), 0) || run("sync"))
		return -1;
	if (umount(MNT))
		return -1;
	return run("losetup -d %s && fsck.rsfs -n %s >&2", LOOP, SEED_IMG);
}

FIXTURE(images) {
	struct kmsg k;
};

FIXTURE_SETUP(images)
{
	rsfs_reset();
	run("losetup -d %s 2>/dev/null", LOOP);
	ASSERT_EQ(0, kmsg_open(&self->k));
	ASSERT_EQ(0, rsfs_load());
	ASSERT_EQ(0, make_seed());
}

FIXTURE_TEARDOWN(images)
{
	EXPECT_EQ(0, chdir("/"));
	umount(MNT);
	run("losetup -d %s 2>/dev/null", LOOP);
	unlink(SEED_IMG);
	unlink(FUZZ_IMG);
	EXPECT_EQ(0, rsfs_unload());
	EXPECT_FALSE(kmsg_splat(&self->k));
}

/* Removes everything under `dir` that it can, depth first. */
static void prune(struct tally *t, const char *dir, int depth)
{
	char names[64][256], path[4096];
	struct dirent *e;
	struct stat st;
	int n = 0, i;
	DIR *d;

	if (depth > 12)
		return;
	d = opendir(dir);
	note(t, "opendir", dir, d ? 0 : -1);
	if (!d)
		return;
	while (n < 64 && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
	closedir(d);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%.255s", dir, names[i]);
		if (lstat(path, &st)) {
			note(t, "lstat", path, -1);
		} else if (S_ISDIR(st.st_mode)) {
			prune(t, path, depth + 1);
			note(t, "rmdir", path, rmdir(path));
		} else {
			note(t, "unlink", path, unlink(path));
		}
	}
}

/*
 * Makes a new directory in every directory left: one whose link count
 * was wrongly dropped to zero would be raised from zero.
 */
static void grow(struct tally *t, const char *dir, int depth)
{
	char path[4096];
	struct dirent *e;
	DIR *d;

	if (depth > 12)
		return;
	snprintf(path, sizeof(path), "%s/made", dir);
	note(t, "mkdir", path, mkdir(path, 0755));
	d = opendir(dir);
	note(t, "opendir", dir, d ? 0 : -1);
	while (d && (e = readdir(d)))
		if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "made")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			grow(t, path, depth + 1);
		}
	if (d)
		closedir(d);
}

/*
 * One variant of damage, met on purpose. rsfs-fuzz picks the variant at
 * random within its class, so this tries indices of a fixed seed until it
 * has had `want` images of `variant`. Each is mounted and walked, and
 * with `remove` everything is then removed and a directory made in every
 * directory left. The walk must meet EUCLEAN and nothing unexpected, the
 * kernel must not complain, and fsck.rsfs -y must leave -n clean.
 */
static void meet_variant(struct __test_metadata *_metadata, struct kmsg *k, const char *class,
			 const char *variant, int want, bool remove)
{
	char line[512], cmd[256], tag[64];
	int found = 0, i;
	FILE *p;

	snprintf(tag, sizeof(tag), ": %s: ", variant);
	for (i = 0; i < 300 && found < want; i++) {
		struct tally t = { 0 };

		snprintf(cmd, sizeof(cmd),
			 "rsfs-fuzz --input %s --output %s --seed 1 --index %d --class %s",
			 SEED_IMG, FUZZ_IMG, i, class);
		p = popen(cmd, "r");
		if (!p) {
			EXPECT_TRUE(false) TH_LOG("cannot run %s", cmd);
			return;
		}
		if (!fgets(line, sizeof(line), p))
			line[0] = 0;
		if (pclose(p)) {
			EXPECT_TRUE(false) TH_LOG("%s failed", cmd);
			return;
		}
		if (!strstr(line, tag))
			continue;
		found++;
		printf("# %s", line);
		fflush(stdout);
		if (run("losetup %s %s", LOOP, FUZZ_IMG) || mount_rsfs(LOOP, NULL)) {
			EXPECT_TRUE(false) TH_LOG("cannot mount image %d", i);
			run("losetup -d %s 2>/dev/null", LOOP);
			return;
		}
		walk(&t, MNT, 0);
		if (remove) {
			prune(&t, MNT, 0);
			grow(&t, MNT, 0);
		}
		EXPECT_EQ(0, umount(MNT));
		EXPECT_EQ(0, run("losetup -d %s", LOOP));
		EXPECT_LT(0, t.errors[EUCLEAN]);
		EXPECT_EQ(0, t.disorderly);
		EXPECT_FALSE(kmsg_splat(k));
		run("fsck.rsfs -y %s >/dev/null 2>&1", FUZZ_IMG);
		EXPECT_EQ(0, run("fsck.rsfs -n %s >&2", FUZZ_IMG));
	}
	EXPECT_EQ(want, found);
}

/*
 * A directory block whose last record ends 4 or 8 bytes before the
 * checksum, with the checksum made right: too little room is left for
 * another record's header. The kernel must call it damage (EUCLEAN), not
 * read a header across the block's end, and fsck.rsfs must mend it.
 */
TEST_F(images, short_record_tail_is_damage)
{
	meet_variant(_metadata, &self->k, "dir-name", "rec-len-short-tail", 3, false);
}

/*
 * A directory that holds a subdirectory, or a file with two names, whose
 * link count says 1. Removing what the count does not cover must fail
 * with EUCLEAN: dropping the count to zero and then taking or raising it
 * again is a kernel warning, and frees an inode that still has names.
 */
TEST_F(images, low_link_counts_are_damage)
{
	meet_variant(_metadata, &self->k, "inode-fields", "links-too-few", 4, true);
}

TEST_F_TIMEOUT(images, damaged_images_fail_in_order, 3600)
{
	unsigned long long count = env_or("RSFS_IMAGES", 200), i;
	unsigned long long seed = env_or("RSFS_SEED", time(NULL) ^ getpid());
	unsigned long refused = 0, mounted = 0, disorderly = 0, splats = 0, umount_failed = 0;
	unsigned long fsck_repaired = 0, fsck_refused = 0, fsck_left = 0, repaired_refused = 0;
	unsigned long repaired_damaged = 0;
	int rc_y, rc_n;
	unsigned long errors[256] = { 0 }, ops = 0;
	char line[512], cmd[256];
	FILE *p;
	int e;

	TH_LOG("seed %llu, %llu images", seed, count);
	for (i = 0; i < count; i++) {
		struct tally t = { 0 };
		int ret;

		snprintf(cmd, sizeof(cmd), "rsfs-fuzz --input %s --output %s --seed %llu --index %llu",
			 SEED_IMG, FUZZ_IMG, seed, i);
		p = popen(cmd, "r");
		ASSERT_NE(NULL, p);
		line[0] = 0;
		if (!fgets(line, sizeof(line), p))
			line[0] = 0;
		ASSERT_EQ(0, pclose(p)) TH_LOG("%s failed", cmd);
		line[strcspn(line, "\n")] = 0;
		printf("# %s\n", line);
		fflush(stdout);
		ASSERT_EQ(0, run("losetup %s %s", LOOP, FUZZ_IMG));

		ret = mount_rsfs(LOOP, NULL);
		if (ret) {
			refused++;
			errno = -ret;
			note(&t, "mount", LOOP, -1);
		} else {
			mounted++;
			walk(&t, MNT, 0);
			write_some(&t);
			walk(&t, MNT, 0);
			if (umount(MNT)) {
				umount_failed++;
				printf("#   umount: %s\n", strerror(errno));
				umount2(MNT, MNT_DETACH);
			}
		}
		ASSERT_EQ(0, run("losetup -d %s", LOOP));
		/*
		 * fsck.rsfs -y repairs whatever the damage and the kernel left:
		 * -n then finds nothing (or both refuse a superblock that is
		 * not one they know), and the kernel mounts the result and
		 * reads all of it without finding damage.
		 */
		rc_y = run("fsck.rsfs -y %s >/dev/null 2>&1", FUZZ_IMG);
		rc_n = run("fsck.rsfs -n %s >&2", FUZZ_IMG);
		if (rc_y == 8 && rc_n == 8) {
			fsck_refused++;
		} else if (rc_n != 0) {
			fsck_left++;
			printf("#   ^ fsck.rsfs -y left damage (-y %d, -n %d)\n", rc_y, rc_n);
		} else {
			struct tally after = { 0 };

			ASSERT_EQ(0, run("losetup %s %s", LOOP, FUZZ_IMG));
			ret = mount_rsfs(LOOP, NULL);
			if (ret) {
				repaired_refused++;
				printf("#   ^ the repaired image does not mount: %s\n", strerror(-ret));
			} else {
				walk(&after, MNT, 0);
				EXPECT_EQ(0, umount(MNT));
			}
			ASSERT_EQ(0, run("losetup -d %s", LOOP));
			if (after.errors[EUCLEAN] || after.errors[EIO]) {
				repaired_damaged++;
				printf("#   ^ the repaired image still gives EUCLEAN or EIO\n");
			}
			fsck_repaired++;
		}
		if (kmsg_splat(&self->k)) {
			splats++;
			printf("#   ^ this image caused a kernel splat\n");
		}
		if (t.disorderly)
			printf("#   ^ %lu unexpected errors\n", t.disorderly);
		disorderly += t.disorderly;
		ops += t.ops;
		for (e = 0; e < 256; e++)
			errors[e] += t.errors[e];
	}
	printf("# report: images tried=%llu refused=%lu mounted=%lu operations=%lu "
	       "unexpected-errors=%lu umount-failures=%lu splats=%lu\n",
	       count, refused, mounted, ops, disorderly, umount_failed, splats);
	printf("# report: images-fsck repaired=%lu refused-superblock=%lu left-damaged=%lu "
	       "repaired-unmountable=%lu repaired-still-damaged=%lu\n",
	       fsck_repaired, fsck_refused, fsck_left, repaired_refused, repaired_damaged);
	printf("# errors seen:");
	for (e = 1; e < 256; e++)
		if (errors[e])
			printf(" %s=%lu", strerror(e), errors[e]);
	printf("\n");
	EXPECT_EQ(0, disorderly);
	EXPECT_EQ(0, splats);
	EXPECT_EQ(0, umount_failed);
	EXPECT_EQ(0, fsck_left);
	EXPECT_EQ(0, repaired_refused);
	EXPECT_EQ(0, repaired_damaged);
	/* Both outcomes were reached: the damage is not all caught at mount. */
	EXPECT_LT(0, refused);
	EXPECT_LT(0, mounted);
}

TEST_HARNESS_MAIN
