/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel headers rsfs needs bindings for, and the C helpers that make
 * static inline functions and macros callable from Rust. bindgen reads this
 * file (see Kbuild); src/helpers.c implements the helpers.
 */
#include <linux/blkdev.h>
#include <linux/buffer_head.h>
#include <linux/crc32c.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/pagemap.h>
#include <linux/statfs.h>

#ifdef __BINDGEN__
/* Macros that bindgen cannot see through, as constants it can read. */
const u32 RSFS_I_NEW = I_NEW;
const unsigned int RSFS_ATTR_SIZE = ATTR_SIZE;
const unsigned long RSFS_SB_RDONLY = SB_RDONLY;
#endif

struct buffer_head *rsfs_sb_bread(struct super_block *sb, sector_t block);
void rsfs_brelse(struct buffer_head *bh);
u64 rsfs_bdev_nr_bytes(struct block_device *bdev);
bool rsfs_err_ratelimit(void);
void rsfs_i_uid_write(struct inode *inode, u32 uid);
void rsfs_i_gid_write(struct inode *inode, u32 gid);
void rsfs_inode_set_times(struct inode *inode, s64 atime, u32 atime_ns,
			  s64 mtime, u32 mtime_ns, s64 ctime, u32 ctime_ns);
void rsfs_inode_set_times_now(struct inode *inode);
struct timespec64 rsfs_inode_get_atime(struct inode *inode);
struct timespec64 rsfs_inode_get_mtime(struct inode *inode);
struct timespec64 rsfs_inode_get_ctime(struct inode *inode);
void rsfs_touch_cmtime(struct inode *inode);
u32 rsfs_i_uid_read(struct inode *inode);
u32 rsfs_i_gid_read(struct inode *inode);
loff_t rsfs_i_size_read(struct inode *inode);
void rsfs_i_size_write(struct inode *inode, loff_t size);
void rsfs_mark_inode_dirty(struct inode *inode);
const unsigned char *rsfs_dentry_name(struct dentry *dentry, u32 *len);
struct inode *rsfs_file_inode(struct file *file);
bool rsfs_dir_emit(struct dir_context *ctx, const char *name, int len, u64 ino,
		   unsigned int type);
void rsfs_lock_buffer(struct buffer_head *bh);
struct buffer_head *rsfs_sb_getblk_zeroed(struct super_block *sb, sector_t block);
