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
