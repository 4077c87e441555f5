// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for rsfs: each wraps one static inline function or macro that
 * the Rust side cannot call directly. They hold no logic of their own.
 */
#include <linux/ratelimit.h>
#include "helpers.h"

struct buffer_head *rsfs_sb_bread(struct super_block *sb, sector_t block)
{
	return sb_bread(sb, block);
}

void rsfs_brelse(struct buffer_head *bh)
{
	brelse(bh);
}

u64 rsfs_bdev_nr_bytes(struct block_device *bdev)
{
	return bdev_nr_bytes(bdev);
}

/* One rate limit for all of rsfs's error messages about on-disk damage. */
static DEFINE_RATELIMIT_STATE(rsfs_err_rs, DEFAULT_RATELIMIT_INTERVAL,
			      DEFAULT_RATELIMIT_BURST);

bool rsfs_err_ratelimit(void)
{
	return __ratelimit(&rsfs_err_rs);
}

void rsfs_i_uid_write(struct inode *inode, u32 uid)
{
	i_uid_write(inode, uid);
}

void rsfs_i_gid_write(struct inode *inode, u32 gid)
{
	i_gid_write(inode, gid);
}

void rsfs_inode_set_times(struct inode *inode, s64 atime, u32 atime_ns,
			  s64 mtime, u32 mtime_ns, s64 ctime, u32 ctime_ns)
{
	inode_set_atime(inode, atime, atime_ns);
	inode_set_mtime(inode, mtime, mtime_ns);
	inode_set_ctime(inode, ctime, ctime_ns);
}

void rsfs_inode_set_times_now(struct inode *inode)
{
	simple_inode_init_ts(inode);
}

struct timespec64 rsfs_inode_get_atime(struct inode *inode)
{
	return inode_get_atime(inode);
}

struct timespec64 rsfs_inode_get_mtime(struct inode *inode)
{
	return inode_get_mtime(inode);
}

struct timespec64 rsfs_inode_get_ctime(struct inode *inode)
{
	return inode_get_ctime(inode);
}

void rsfs_touch_cmtime(struct inode *inode)
{
	inode_set_mtime_to_ts(inode, inode_set_ctime_current(inode));
}

u32 rsfs_i_uid_read(struct inode *inode)
{
	return i_uid_read(inode);
}

u32 rsfs_i_gid_read(struct inode *inode)
{
	return i_gid_read(inode);
}

loff_t rsfs_i_size_read(struct inode *inode)
{
	return i_size_read(inode);
}

void rsfs_i_size_write(struct inode *inode, loff_t size)
{
	i_size_write(inode, size);
}

void rsfs_mark_inode_dirty(struct inode *inode)
{
	mark_inode_dirty(inode);
}

const unsigned char *rsfs_dentry_name(struct dentry *dentry, u32 *len)
{
	*len = dentry->d_name.len;
	return dentry->d_name.name;
}

struct inode *rsfs_file_inode(struct file *file)
{
	return file_inode(file);
}

bool rsfs_dir_emit(struct dir_context *ctx, const char *name, int len, u64 ino,
		   unsigned int type)
{
	return dir_emit(ctx, name, len, ino, type);
}

void rsfs_lock_buffer(struct buffer_head *bh)
{
	lock_buffer(bh);
}

/* A buffer for a block about to be overwritten whole: no read, just zeroes. */
struct buffer_head *rsfs_sb_getblk_zeroed(struct super_block *sb, sector_t block)
{
	struct buffer_head *bh = sb_getblk(sb, block);

	if (!bh)
		return NULL;
	lock_buffer(bh);
	memset(bh->b_data, 0, bh->b_size);
	set_buffer_uptodate(bh);
	unlock_buffer(bh);
	return bh;
}
