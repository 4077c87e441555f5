// SPDX-License-Identifier: GPL-2.0
/*
 * Extended attributes, as getfattr/setfattr, tar --xattrs, rsync -X and
 * fstests use them on ext2 and ext4: the user., trusted. and security.
 * namespaces, setxattr(2)'s CREATE and REPLACE, the sizes listxattr and
 * getxattr report, ERANGE and ENOSPC, the block they take (st_blocks, free
 * space), and that they last: across a remount, an fsync and a power cut
 * (the crash tests), and go with the file. Each failed before rsfs had
 * extended attributes (EOPNOTSUPP). fsck.rsfs -n runs after every test.
 */
#include "rsfs_test.h"

#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "kselftest_harness.h"

RSFS_MOUNTED_FIXTURE(xattr, (void)0)

static unsigned long long free_blocks(void)
{
	struct statvfs s;

	return statvfs(MNT, &s) ? 0 : s.f_bfree;
}

/* Commits, and lets go of the files that only a commit releases. */
static int sync_and_settle(void)
{
	sync();
	sync();
	return 0;
}

/* The value of `name` of `path` as a string, or "" with errno set. */
static const char *value_of(const char *path, const char *name)
{
	static char buf[4097];
	ssize_t n = getxattr(path, name, buf, sizeof(buf) - 1);

	if (n < 0)
		return "";
	buf[n] = 0;
	return buf;
}

/* Whether the NUL-separated list of `path`'s names holds `name`. */
static bool listed(const char *path, const char *name)
{
	char list[65536];
	ssize_t n = llistxattr(path, list, sizeof(list));

	for (ssize_t off = 0; off < n; off += strlen(list + off) + 1)
		if (!strcmp(list + off, name))
			return true;
	return false;
}

TEST_F(xattr, user_attributes)
{
	char small[2], list[256];
	struct stat a, b;
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &a));
	ASSERT_EQ(0, a.st_blocks);
	usleep(10000);

	ASSERT_EQ(0, setxattr("f", "user.color", "blue", 4, 0));
	EXPECT_STREQ("blue", value_of("f", "user.color"));
	ASSERT_EQ(0, fstat(fd, &b));
	/* The block that holds them is the file's (as on ext2). */
	EXPECT_EQ(8, b.st_blocks);
	/* A change of the attributes is a change of the file (ctime). */
	EXPECT_TRUE(b.st_ctim.tv_sec > a.st_ctim.tv_sec ||
		    b.st_ctim.tv_nsec > a.st_ctim.tv_nsec);

	/* getxattr with no buffer gives the size; too small a buffer ERANGE. */
	EXPECT_EQ(4, getxattr("f", "user.color", NULL, 0));
	EXPECT_EQ(-1, getxattr("f", "user.color", small, sizeof(small)));
	EXPECT_EQ(ERANGE, errno);
	EXPECT_EQ(-1, getxattr("f", "user.none", NULL, 0));
	EXPECT_EQ(ENODATA, errno);

	/* CREATE and REPLACE. */
	EXPECT_EQ(-1, setxattr("f", "user.color", "red", 3, XATTR_CREATE));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(-1, setxattr("f", "user.size", "big", 3, XATTR_REPLACE));
	EXPECT_EQ(ENODATA, errno);
	EXPECT_EQ(0, setxattr("f", "user.color", "green", 5, XATTR_REPLACE));
	EXPECT_STREQ("green", value_of("f", "user.color"));
	EXPECT_EQ(0, setxattr("f", "user.a", "", 0, XATTR_CREATE));
	EXPECT_EQ(0, getxattr("f", "user.a", NULL, 0));
	EXPECT_EQ(0, fsetxattr(fd, "user.z", "last", 4, 0));
	/* Both flags, as ext4: EEXIST if it is there, ENODATA if not. */
	EXPECT_EQ(-1, setxattr("f", "user.z", "x", 1, XATTR_CREATE | XATTR_REPLACE));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(-1, setxattr("f", "user.y", "x", 1, XATTR_CREATE | XATTR_REPLACE));
	EXPECT_EQ(ENODATA, errno);

	/* The list: every name with its prefix and a NUL, sizes as for get. */
	EXPECT_EQ(strlen("user.a") + strlen("user.color") + strlen("user.z") + 3,
		  listxattr("f", NULL, 0));
	EXPECT_EQ(-1, listxattr("f", list, 5));
	EXPECT_EQ(ERANGE, errno);
	EXPECT_TRUE(listed("f", "user.a"));
	EXPECT_TRUE(listed("f", "user.color"));
	EXPECT_TRUE(listed("f", "user.z"));

	/* They last across a remount, with the block count. */
	close(fd);
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, remount());
	ASSERT_EQ(0, chdir(MNT));
	EXPECT_STREQ("green", value_of("f", "user.color"));
	EXPECT_STREQ("last", value_of("f", "user.z"));
	ASSERT_EQ(0, stat("f", &b));
	EXPECT_EQ(8, b.st_blocks);

	/* Removal; the last one takes the block with it. */
	EXPECT_EQ(0, removexattr("f", "user.color"));
	EXPECT_EQ(-1, removexattr("f", "user.color"));
	EXPECT_EQ(ENODATA, errno);
	EXPECT_FALSE(listed("f", "user.color"));
	EXPECT_EQ(0, removexattr("f", "user.a"));
	EXPECT_EQ(0, removexattr("f", "user.z"));
	EXPECT_EQ(0, listxattr("f", NULL, 0));
	ASSERT_EQ(0, stat("f", &b));
	EXPECT_EQ(0, b.st_blocks);

	/* Directories take them; symlinks and special files take no user.
	 * ones (the VFS's rule: EPERM), as on ext4. */
	ASSERT_EQ(0, mkdir("d", 0755));
	EXPECT_EQ(0, setxattr("d", "user.dir", "yes", 3, 0));
	EXPECT_STREQ("yes", value_of("d", "user.dir"));
	ASSERT_EQ(0, symlink("f", "link"));
	EXPECT_EQ(-1, lsetxattr("link", "user.x", "1", 1, 0));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, mkfifo("fifo", 0644));
	EXPECT_EQ(-1, setxattr("fifo", "user.x", "1", 1, 0));
	EXPECT_EQ(EPERM, errno);
	/* A namespace that no filesystem has. */
	EXPECT_EQ(-1, setxattr("f", "bogus.x", "1", 1, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
}

TEST_F(xattr, trusted_and_security_attributes)
{
	char target[64];
	pid_t pid;
	int status;

	ASSERT_EQ(0, put_file("f", "data"));
	ASSERT_EQ(0, setxattr("f", "trusted.t", "root's", 6, 0));
	ASSERT_EQ(0, setxattr("f", "security.s", "label", 5, 0));
	ASSERT_EQ(0, setxattr("f", "user.u", "anyone's", 8, 0));
	EXPECT_STREQ("root's", value_of("f", "trusted.t"));
	EXPECT_STREQ("label", value_of("f", "security.s"));
	EXPECT_TRUE(listed("f", "trusted.t"));
	EXPECT_TRUE(listed("f", "security.s"));

	/* Symlinks and special files take these (lsetxattr). */
	ASSERT_EQ(0, symlink("a-target-long-enough-to-be-checked", "link"));
	EXPECT_EQ(0, lsetxattr("link", "trusted.link", "l", 1, 0));
	EXPECT_EQ(0, lsetxattr("link", "security.link", "s", 1, 0));
	EXPECT_TRUE(listed("link", "trusted.link"));
	ASSERT_EQ(0, mknod("fifo", S_IFIFO | 0644, 0));
	EXPECT_EQ(0, setxattr("fifo", "trusted.fifo", "f", 1, 0));

	/* Without CAP_SYS_ADMIN, trusted. names are neither listed nor read. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (listed("f", "trusted.t") || !listed("f", "user.u") ||
		    !listed("f", "security.s"))
			_exit(11);
		if (getxattr("f", "trusted.t", NULL, 0) != -1)
			_exit(12);
		if (setxattr("f", "user.u", "x", 1, 0) != -1 || errno != EACCES)
			_exit(13);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, remount());
	ASSERT_EQ(0, chdir(MNT));
	EXPECT_STREQ("root's", value_of("f", "trusted.t"));
	EXPECT_TRUE(listed("link", "security.link"));
	EXPECT_TRUE(listed("fifo", "trusted.fifo"));
	/* An inline symlink keeps its target beside its attributes. */
	ASSERT_EQ(34, readlink("link", target, sizeof(target)));
	EXPECT_EQ(0, memcmp(target, "a-target-long-enough-to-be-checked", 34));
}

TEST_F(xattr, a_full_block_is_enospc_and_too_large_a_value_erange)
{
	static char big[65536];
	char name[64];
	int n;

	ASSERT_EQ(0, put_file("f", "data"));
	memset(big, 'v', sizeof(big));
	/* More than a block can never fit: ERANGE, as on ext2. */
	EXPECT_EQ(-1, setxattr("f", "user.huge", big, 5000, 0));
	EXPECT_EQ(ERANGE, errno);
	/* Alone in its block, a value of nearly a block fits. */
	ASSERT_EQ(0, setxattr("f", "user.x", big, 4000, 0));
	EXPECT_EQ(4000, getxattr("f", "user.x", NULL, 0));
	EXPECT_EQ(-1, setxattr("f", "user.y", big, 100, 0));
	EXPECT_EQ(ENOSPC, errno);
	ASSERT_EQ(0, removexattr("f", "user.x"));

	/* Many small ones fill the block; what is there stays readable. */
	for (n = 0; n < 1000; n++) {
		snprintf(name, sizeof(name), "user.attribute-%04d", n);
		if (setxattr("f", name, "value", 5, 0))
			break;
	}
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_LT(100, n);
	EXPECT_GT(1000, n);
	snprintf(name, sizeof(name), "user.attribute-%04d", n - 1);
	EXPECT_STREQ("value", value_of("f", name));
	EXPECT_STREQ("value", value_of("f", "user.attribute-0000"));
	/* Replacing one with a value as long still fits. */
	EXPECT_EQ(0, setxattr("f", "user.attribute-0000", "VALUE", 5, XATTR_REPLACE));
	EXPECT_STREQ("VALUE", value_of("f", "user.attribute-0000"));
}

TEST_F(xattr, the_block_goes_with_the_file)
{
	unsigned long long before, with;
	int i, fd;

	ASSERT_EQ(0, sync_and_settle());
	before = free_blocks();
	for (i = 0; i < 50; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d", i);
		ASSERT_EQ(0, put_file(name, ""));
		ASSERT_EQ(0, setxattr(name, "user.a", "1", 1, 0));
	}
	/* An O_TMPFILE file's attributes go when it does. */
	fd = open(".", O_TMPFILE | O_RDWR, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fsetxattr(fd, "user.tmp", "1", 1, 0));
	ASSERT_EQ(0, sync_and_settle());
	with = free_blocks();
	EXPECT_EQ(before - 51, with);
	close(fd);
	for (i = 0; i < 50; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d", i);
		ASSERT_EQ(0, unlink(name));
	}
	ASSERT_EQ(0, sync_and_settle());
	EXPECT_EQ(before, free_blocks());
}

/* FS_IOC_FIEMAP with FIEMAP_FLAG_XATTR from `start` on: the extents' count. */
static int xattr_extents(int fd, unsigned long long start, struct fiemap_extent *ext)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[2];
	} m;

	memset(&m, 0, sizeof(m));
	m.fm.fm_start = start;
	m.fm.fm_length = FIEMAP_MAX_OFFSET;
	m.fm.fm_flags = FIEMAP_FLAG_XATTR;
	m.fm.fm_extent_count = 2;
	if (ioctl(fd, FS_IOC_FIEMAP, &m.fm))
		return -errno;
	if (m.fm.fm_mapped_extents)
		*ext = m.ext[0];
	return m.fm.fm_mapped_extents;
}

/*
 * `xfs_io -c "fiemap -a"` (fstests generic/425) shows where a file's
 * attributes are, as on ext4: rsfs's one attribute block, which holds the
 * values on the device. No block, no extent. Before, FIEMAP refused the
 * flag (EBADR), as ext2's does.
 */
TEST_F(xattr, fiemap_shows_the_attribute_block)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[1];
	} m;
	static char block[4096] __attribute__((aligned(4096)));
	struct fiemap_extent e, again;
	bool found = false;
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, xattr_extents(fd, 0, &e));
	ASSERT_EQ(0, fsetxattr(fd, "user.where", "rsfs-attribute-value", 20, 0));
	ASSERT_EQ(1, xattr_extents(fd, 0, &e));
	EXPECT_EQ(0, e.fe_logical);
	EXPECT_EQ(4096, e.fe_length);
	EXPECT_EQ(FIEMAP_EXTENT_LAST, e.fe_flags);
	EXPECT_EQ(0, e.fe_physical % 4096);
	/* Past the block there is nothing. */
	EXPECT_EQ(0, xattr_extents(fd, 4096, &e));

	/* The data's map is not the attributes'. */
	memset(&m, 0, sizeof(m));
	m.fm.fm_length = FIEMAP_MAX_OFFSET;
	m.fm.fm_extent_count = 1;
	ASSERT_EQ(0, ioctl(fd, FS_IOC_FIEMAP, &m.fm));
	EXPECT_EQ(0, m.fm.fm_mapped_extents);
	close(fd);

	/*
	 * After a remount the same block is reported, and the device itself
	 * (read around every cache) holds the value there.
	 */
	ASSERT_EQ(0, remount());
	fd = open("f", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, xattr_extents(fd, 0, &again));
	EXPECT_EQ(e.fe_physical, again.fe_physical);
	ASSERT_EQ(0, read_disk(DISK0, again.fe_physical / 4096, block, sizeof(block)));
	EXPECT_EQ(0, memcmp(block, "RSXA", 4));
	for (int i = 0; i + 20 <= 4096 && !found; i++)
		found = !memcmp(block + i, "rsfs-attribute-value", 20);
	EXPECT_TRUE(found);

	/* Removing the last attribute frees the block. */
	ASSERT_EQ(0, fremovexattr(fd, "user.where"));
	EXPECT_EQ(0, xattr_extents(fd, 0, &e));
	close(fd);
}

TEST_F(xattr, fsync_makes_them_durable_and_read_only_keeps_them)
{
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fsetxattr(fd, "user.k", "v1", 2, 0));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	/* Read-only: readable, not changeable. */
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT | MS_RDONLY, NULL));
	EXPECT_STREQ("v1", value_of(MNT "/f", "user.k"));
	EXPECT_EQ(-1, setxattr(MNT "/f", "user.k", "v2", 2, 0));
	EXPECT_EQ(EROFS, errno);
	EXPECT_EQ(-1, removexattr(MNT "/f", "user.k"));
	EXPECT_EQ(EROFS, errno);
	ASSERT_EQ(0, mount(NULL, MNT, NULL, MS_REMOUNT, NULL));
	ASSERT_EQ(0, chdir(MNT));
	EXPECT_EQ(0, setxattr("f", "user.k", "v2", 2, 0));
	EXPECT_STREQ("v2", value_of("f", "user.k"));
}

/* A POSIX ACL as its extended attribute holds it (linux/posix_acl_xattr.h). */
struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};
enum { USER_OBJ = 1, USER = 2, GROUP_OBJ = 4, MASK = 0x10, OTHER = 0x20 };

static int set_acl(const char *path, const char *name, const struct acl_entry *e, int n)
{
	char buf[4 + 8 * 16];
	uint32_t version = 2;

	memcpy(buf, &version, 4);
	memcpy(buf + 4, e, 8 * n);
	return setxattr(path, name, buf, 4 + 8 * n, 0);
}

/* Whether user `uid` may open `path` for reading: 0 or an errno. */
static int can_read_as(const char *path, uid_t uid)
{
	int status, fd;
	pid_t pid = fork();

	if (pid == 0) {
		if (setgid(uid) || setuid(uid))
			_exit(100);
		fd = open(path, O_RDONLY);
		_exit(fd < 0 ? errno : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WEXITSTATUS(status);
}

/*
 * POSIX ACLs, as setfacl(1) sets them: an access ACL grants a named user
 * what the mode bits cannot, its mask becomes the group bits, chmod(2)
 * changes the mask; a directory's default ACL is inherited by what is
 * made in it, in place of the umask. All of it lasts across a remount.
 */
TEST_F(xattr, posix_acls)
{
	const struct acl_entry access[] = {
		{ USER_OBJ, 6, 0 }, { USER, 4, 1000 }, { GROUP_OBJ, 4, 0 },
		{ MASK, 4, 0 }, { OTHER, 0, 0 },
	};
	const struct acl_entry dflt[] = {
		{ USER_OBJ, 7, 0 }, { USER, 7, 1000 }, { GROUP_OBJ, 5, 0 },
		{ MASK, 7, 0 }, { OTHER, 0, 0 },
	};
	const struct acl_entry plain[] = {
		{ USER_OBJ, 6, 0 }, { GROUP_OBJ, 4, 0 }, { OTHER, 4, 0 },
	};
	char got[256];
	struct stat st;
	int fd;

	ASSERT_EQ(0, put_file("f", "secret"));
	ASSERT_EQ(0, chmod("f", 0600));
	EXPECT_EQ(EACCES, can_read_as("f", 1000));
	ASSERT_EQ(0, set_acl("f", "system.posix_acl_access", access, 5));
	EXPECT_EQ(0, can_read_as("f", 1000));
	EXPECT_EQ(EACCES, can_read_as("f", 1001));
	ASSERT_EQ(0, stat("f", &st));
	/* The mask is the group bits; others' are the ACL's. */
	EXPECT_EQ(0640, st.st_mode & 07777);
	EXPECT_EQ(4 + 8 * 5, getxattr("f", "system.posix_acl_access", got, sizeof(got)));
	EXPECT_TRUE(listed("f", "system.posix_acl_access"));
	/* chmod changes the mask: user 1000 loses what it gave. */
	ASSERT_EQ(0, chmod("f", 0600));
	EXPECT_EQ(EACCES, can_read_as("f", 1000));
	ASSERT_EQ(0, chmod("f", 0640));
	EXPECT_EQ(0, can_read_as("f", 1000));

	/* A default ACL is for directories only. */
	EXPECT_EQ(-1, set_acl("f", "system.posix_acl_default", dflt, 5));
	EXPECT_EQ(EACCES, errno);

	/* Without a default ACL, the umask; with one, the ACL instead. */
	umask(077);
	ASSERT_EQ(0, mkdir("d", 0755));
	ASSERT_EQ(0, stat("d", &st));
	EXPECT_EQ(0700, st.st_mode & 07777);
	ASSERT_EQ(0, set_acl("d", "system.posix_acl_default", dflt, 5));
	EXPECT_TRUE(listed("d", "system.posix_acl_default"));
	fd = open("d/new", O_CREAT | O_WRONLY, 0666);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, mkdir("d/sub", 0777));
	umask(022);
	ASSERT_EQ(0, stat("d/new", &st));
	EXPECT_EQ(0660, st.st_mode & 07777);
	EXPECT_TRUE(listed("d/new", "system.posix_acl_access"));
	EXPECT_FALSE(listed("d/new", "system.posix_acl_default"));
	EXPECT_TRUE(listed("d/sub", "system.posix_acl_default"));
	ASSERT_EQ(0, chmod("d", 0711));

	/* Across a remount, the ACLs and what they grant. */
	ASSERT_EQ(0, chdir("/"));
	ASSERT_EQ(0, remount());
	ASSERT_EQ(0, chdir(MNT));
	EXPECT_EQ(0, can_read_as("f", 1000));
	EXPECT_EQ(0, can_read_as("d/new", 1000));
	EXPECT_EQ(EACCES, can_read_as("d/new", 1001));
	EXPECT_TRUE(listed("d/sub", "system.posix_acl_default"));

	/* Removing the access ACL leaves the mode bits alone in charge. */
	EXPECT_EQ(0, removexattr("f", "system.posix_acl_access"));
	EXPECT_FALSE(listed("f", "system.posix_acl_access"));
	EXPECT_EQ(EACCES, can_read_as("f", 1000));
	/* A symlink has no ACLs (as on ext4). */
	ASSERT_EQ(0, symlink("f", "link"));
	EXPECT_EQ(-1, lsetxattr("link", "system.posix_acl_access", got, 4 + 8 * 5, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* An ACL that the mode bits say whole is not stored. */
	EXPECT_EQ(0, set_acl("f", "system.posix_acl_access", plain, 3));
	EXPECT_FALSE(listed("f", "system.posix_acl_access"));
	ASSERT_EQ(0, stat("f", &st));
	EXPECT_EQ(0644, st.st_mode & 07777);
}

TEST_HARNESS_MAIN
