// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for rsfs: each wraps one static inline function or macro that
 * the Rust side cannot call directly. They hold no logic of their own.
 */
#include <linux/ratelimit.h>
#include "helpers.h"

/*
 * sb_bread(), except that a block whose last write failed is not read
 * again. Its buffer lost the new contents (end_buffer_write_sync() and
 * end_buffer_async_write() clear uptodate), so a read would bring back the
 * older copy on disk and silently undo the change: a bitmap would hand out
 * blocks that are in use. NULL then, with *lost set.
 */
struct buffer_head *rsfs_sb_bread(struct super_block *sb, sector_t block, bool *lost)
{
	struct buffer_head *bh = sb_getblk(sb, block);

	*lost = false;
	if (!bh)
		return NULL;
	if (buffer_write_io_error(bh)) {
		*lost = true;
		brelse(bh);
		return NULL;
	}
	if (bh_read(bh, 0) < 0) {
		brelse(bh);
		return NULL;
	}
	return bh;
}

void rsfs_brelse(struct buffer_head *bh)
{
	brelse(bh);
}

u64 rsfs_bdev_nr_bytes(struct block_device *bdev)
{
	return bdev_nr_bytes(bdev);
}

u32 rsfs_bdev_max_discard_sectors(struct block_device *bdev)
{
	return bdev_max_discard_sectors(bdev);
}

bool rsfs_bdev_read_only(struct block_device *bdev)
{
	return bdev_read_only(bdev);
}

void rsfs_bdev_dio_alignment(struct block_device *bdev, u32 *mem, u32 *offset)
{
	*mem = bdev_dma_alignment(bdev) + 1;
	*offset = bdev_logical_block_size(bdev);
}

u32 rsfs_bdev_discard_granularity(struct block_device *bdev)
{
	return bdev_discard_granularity(bdev);
}

bool rsfs_capable_sys_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}

/*
 * POSIX ACLs as the bytes of their extended attribute, with the ids of the
 * initial user namespace: the form rsfs stores them in, as btrfs does.
 */
size_t rsfs_posix_acl_xattr_size(int count)
{
	return posix_acl_xattr_size(count);
}

int rsfs_posix_acl_to_xattr(const struct posix_acl *acl, void *buffer, size_t size)
{
	return posix_acl_to_xattr(&init_user_ns, acl, buffer, size);
}

struct posix_acl *rsfs_posix_acl_from_xattr(const void *value, size_t size)
{
	return posix_acl_from_xattr(&init_user_ns, value, size);
}

void rsfs_posix_acl_release(struct posix_acl *acl)
{
	posix_acl_release(acl);
}

/* panic(), naming the device: panic's format is C's, not Rust's. */
void __noreturn rsfs_panic(struct super_block *sb, const char *why)
{
	panic("rsfs (device %s): %s\n", sb->s_id, why);
}

/* What syncfs(2) does: sync_filesystem() with s_umount held shared. */
int rsfs_syncfs(struct super_block *sb)
{
	int ret;

	down_read(&sb->s_umount);
	ret = sync_filesystem(sb);
	up_read(&sb->s_umount);
	return ret;
}

bool rsfs_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

bool rsfs_file_is_sync(struct file *file)
{
	return file->f_flags & O_SYNC;
}

const char *rsfs_param_key(struct fs_parameter *param)
{
	return param->key;
}

bool rsfs_param_is_flag(struct fs_parameter *param)
{
	return param->type == fs_value_is_flag;
}

/* The value of an option given one as a string (-o key=value), or NULL. */
const char *rsfs_param_string(struct fs_parameter *param)
{
	return param->type == fs_value_is_string ? param->string : NULL;
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

bool rsfs_inode_is_dirty(struct inode *inode)
{
	/* Paired with the smp_mb() in __writeback_single_inode(), as in
	 * __mark_inode_dirty(): either the flusher sees what changed before
	 * this call, or this sees the dirty bits cleared. */
	smp_mb();
	return (READ_ONCE(inode->i_state) & I_DIRTY_INODE) == I_DIRTY_INODE;
}

bool rsfs_is_sync(struct inode *inode)
{
	return IS_SYNC(inode);
}

bool rsfs_is_dirsync(struct inode *inode)
{
	return IS_DIRSYNC(inode);
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

/*
 * A buffer-state bit of rsfs's own (as ext4's BH_Verified): the block's
 * checksum was checked since it was read from disk. A buffer read again
 * after eviction starts without it.
 */
#define BH_RsfsVerified BH_PrivateStart

bool rsfs_buffer_verified(struct buffer_head *bh)
{
	return test_bit(BH_RsfsVerified, &bh->b_state);
}

void rsfs_set_buffer_verified(struct buffer_head *bh)
{
	set_bit(BH_RsfsVerified, &bh->b_state);
}

/*
 * A second bit of rsfs's own: the buffer is on the running transaction's
 * list (as jbd2's BH_JBD says a buffer has a journal_head).
 */
#define BH_RsfsTracked (BH_PrivateStart + 1)

bool rsfs_buffer_test_set_tracked(struct buffer_head *bh)
{
	return test_and_set_bit(BH_RsfsTracked, &bh->b_state);
}

void rsfs_buffer_clear_tracked(struct buffer_head *bh)
{
	clear_bit(BH_RsfsTracked, &bh->b_state);
}

void rsfs_get_bh(struct buffer_head *bh)
{
	get_bh(bh);
}

/*
 * A buffer for a block about to be overwritten whole: no read. A buffer
 * not in the cache starts as zeroes; one in the cache keeps its bytes,
 * which the caller replaces under its own hold of the buffer lock (so
 * that nobody who copies the block, a journal commit, sees it half done).
 */
struct buffer_head *rsfs_sb_getblk_zeroed(struct super_block *sb, sector_t block)
{
	struct buffer_head *bh = sb_getblk(sb, block);

	if (!bh)
		return NULL;
	lock_buffer(bh);
	if (!buffer_uptodate(bh)) {
		memset(bh->b_data, 0, bh->b_size);
		set_buffer_uptodate(bh);
	}
	unlock_buffer(bh);
	return bh;
}

/* Folios */

void rsfs_folio_get(struct folio *folio)
{
	folio_get(folio);
}

void rsfs_folio_put(struct folio *folio)
{
	folio_put(folio);
}

void rsfs_folio_lock(struct folio *folio)
{
	folio_lock(folio);
}

bool rsfs_folio_test_uptodate(struct folio *folio)
{
	return folio_test_uptodate(folio);
}

void rsfs_folio_mark_uptodate(struct folio *folio)
{
	folio_mark_uptodate(folio);
}

bool rsfs_folio_test_dirty(struct folio *folio)
{
	return folio_test_dirty(folio);
}

bool rsfs_folio_test_writeback(struct folio *folio)
{
	return folio_test_writeback(folio);
}

struct address_space *rsfs_folio_mapping(struct folio *folio)
{
	return folio->mapping;
}

pgoff_t rsfs_folio_index(struct folio *folio)
{
	return folio->index;
}

size_t rsfs_folio_size(struct folio *folio)
{
	return folio_size(folio);
}

void rsfs_folio_start_writeback(struct folio *folio)
{
	folio_start_writeback(folio);
}

void rsfs_folio_zero_segments(struct folio *folio, size_t s1, size_t e1, size_t s2, size_t e2)
{
	folio_zero_segments(folio, s1, e1, s2, e2);
}

/*
 * rsfs caches the disk block of a folio in its private field, as buffer
 * heads would, so that writeback needs no lock on the block map. Block 0 is
 * the superblock, never file data, so it can mean "none".
 */
void rsfs_folio_set_private_word(struct folio *folio, unsigned long word)
{
	if (folio_test_private(folio))
		folio_change_private(folio, (void *)word);
	else
		folio_attach_private(folio, (void *)word);
}

unsigned long rsfs_folio_private_word(struct folio *folio)
{
	return folio_test_private(folio) ? (unsigned long)folio_get_private(folio) : 0;
}

void rsfs_folio_clear_private(struct folio *folio)
{
	if (folio_test_private(folio))
		folio_detach_private(folio);
}

struct folio *rsfs_folio_from_page(struct page *page)
{
	return page_folio(page);
}

struct folio *rsfs_filemap_get_folio_write(struct address_space *mapping, pgoff_t index)
{
	return __filemap_get_folio(mapping, index, FGP_WRITEBEGIN, mapping_gfp_mask(mapping));
}

struct folio *rsfs_read_mapping_folio(struct address_space *mapping, pgoff_t index)
{
	return read_mapping_folio(mapping, index, NULL);
}

struct folio *rsfs_readahead_folio(struct readahead_control *rac)
{
	return readahead_folio(rac);
}

struct address_space *rsfs_readahead_mapping(struct readahead_control *rac)
{
	return rac->mapping;
}

void rsfs_folio_batch_init(struct folio_batch *batch)
{
	folio_batch_init(batch);
}

void rsfs_folio_batch_release(struct folio_batch *batch)
{
	folio_batch_release(batch);
}

void rsfs_mapping_set_error(struct address_space *mapping, int error)
{
	mapping_set_error(mapping, error);
}

void rsfs_set_aops(struct inode *inode, const struct address_space_operations *aops)
{
	inode->i_mapping->a_ops = aops;
}

struct address_space *rsfs_inode_mapping(struct inode *inode)
{
	return inode->i_mapping;
}

/* Bios */

struct bio *rsfs_bio_alloc(struct block_device *bdev, unsigned short nr_vecs, blk_opf_t opf,
			   sector_t sector, bio_end_io_t *end_io, void *private)
{
	struct bio *bio = bio_alloc(bdev, nr_vecs, opf, GFP_NOFS);

	bio->bi_iter.bi_sector = sector;
	bio->bi_end_io = end_io;
	bio->bi_private = private;
	return bio;
}

void rsfs_bio_for_each_folio(struct bio *bio, void (*fn)(struct folio *folio, void *data),
			     void *data)
{
	struct folio_iter fi;

	bio_for_each_folio_all(fi, bio)
		fn(fi.folio, data);
}

int rsfs_bio_status(struct bio *bio)
{
	return blk_status_to_errno(bio->bi_status);
}

void *rsfs_bio_private(struct bio *bio)
{
	return bio->bi_private;
}

void rsfs_init_completion(struct completion *done)
{
	init_completion(done);
}

unsigned int rsfs_bio_size(struct bio *bio)
{
	return bio->bi_iter.bi_size;
}

struct block_device *rsfs_sb_bdev(struct super_block *sb)
{
	return sb->s_bdev;
}

void rsfs_cond_resched(void)
{
	cond_resched();
}

/* Special files */

void rsfs_inode_set_rdev(struct inode *inode, u32 rdev)
{
	inode->i_rdev = new_decode_dev(rdev);
}

u32 rsfs_inode_rdev(struct inode *inode)
{
	return new_encode_dev(inode->i_rdev);
}

u32 rsfs_encode_dev(dev_t dev)
{
	return new_encode_dev(dev);
}

void rsfs_init_special_inode(struct inode *inode)
{
	init_special_inode(inode, inode->i_mode, inode->i_rdev);
}

/* Files, mmap */

void rsfs_inode_lock(struct inode *inode)
{
	inode_lock(inode);
}

void rsfs_inode_unlock(struct inode *inode)
{
	inode_unlock(inode);
}

void rsfs_inode_lock_shared(struct inode *inode)
{
	inode_lock_shared(inode);
}

void rsfs_inode_unlock_shared(struct inode *inode)
{
	inode_unlock_shared(inode);
}

void rsfs_invalidate_lock(struct inode *inode)
{
	filemap_invalidate_lock(inode->i_mapping);
}

void rsfs_invalidate_unlock(struct inode *inode)
{
	filemap_invalidate_unlock(inode->i_mapping);
}

void rsfs_invalidate_lock_shared(struct inode *inode)
{
	filemap_invalidate_lock_shared(inode->i_mapping);
}

void rsfs_invalidate_unlock_shared(struct inode *inode)
{
	filemap_invalidate_unlock_shared(inode->i_mapping);
}

bool rsfs_kiocb_is_direct(struct kiocb *iocb)
{
	return iocb->ki_flags & IOCB_DIRECT;
}

blk_opf_t rsfs_wbc_to_write_flags(struct writeback_control *wbc)
{
	return wbc_to_write_flags(wbc);
}

unsigned int rsfs_memalloc_nofs_save(void)
{
	return memalloc_nofs_save();
}

void rsfs_memalloc_nofs_restore(unsigned int flags)
{
	memalloc_nofs_restore(flags);
}

int rsfs_finish_open_simple(struct file *file)
{
	return finish_open_simple(file, 0);
}

ssize_t rsfs_generic_write_sync(struct kiocb *iocb, ssize_t count)
{
	return generic_write_sync(iocb, count);
}

struct inode *rsfs_kiocb_inode(struct kiocb *iocb)
{
	return file_inode(iocb->ki_filp);
}

void rsfs_file_mmap_set_ops(struct file *file, struct vm_area_struct *vma,
			    const struct vm_operations_struct *ops)
{
	file_accessed(file);
	vma->vm_ops = ops;
}

struct folio *rsfs_vmf_folio(struct vm_fault *vmf)
{
	return page_folio(vmf->page);
}

struct file *rsfs_vmf_file(struct vm_fault *vmf)
{
	return vmf->vma->vm_file;
}

void rsfs_sb_start_pagefault(struct super_block *sb)
{
	sb_start_pagefault(sb);
}

void rsfs_sb_end_pagefault(struct super_block *sb)
{
	sb_end_pagefault(sb);
}

void rsfs_sb_start_intwrite(struct super_block *sb)
{
	sb_start_intwrite(sb);
}

void rsfs_sb_end_intwrite(struct super_block *sb)
{
	sb_end_intwrite(sb);
}

bool rsfs_sb_trylock_umount_shared(struct super_block *sb)
{
	return down_read_trylock(&sb->s_umount);
}

void rsfs_sb_unlock_umount_shared(struct super_block *sb)
{
	up_read(&sb->s_umount);
}

/* The first step of iput(): drop a reference that is not the last. */
bool rsfs_iput_unless_last(struct inode *inode)
{
	return atomic_add_unless(&inode->i_count, -1, 1);
}

vm_fault_t rsfs_vmf_fs_error(int err)
{
	return vmf_fs_error(err);
}

/* Direct I/O */

bool rsfs_iter_is_write(const struct iov_iter *iter)
{
	return iov_iter_rw(iter) == WRITE;
}

size_t rsfs_iov_iter_count(const struct iov_iter *iter)
{
	return iov_iter_count(iter);
}

void rsfs_iov_iter_truncate(struct iov_iter *iter, size_t count)
{
	iov_iter_truncate(iter, count);
}

void rsfs_iov_iter_reexpand(struct iov_iter *iter, size_t count)
{
	iov_iter_reexpand(iter, count);
}

void rsfs_file_allow_odirect(struct file *file)
{
	file->f_mode |= FMODE_CAN_ODIRECT;
}

unsigned long rsfs_journal_info(void)
{
	return (unsigned long)current->journal_info;
}

void rsfs_set_journal_info(unsigned long value)
{
	current->journal_info = (void *)value;
}

bool rsfs_inode_is_new(struct inode *inode)
{
	return READ_ONCE(inode->i_state) & I_NEW;
}

bool rsfs_fileattr_has_fsx(const struct fileattr *fa)
{
	return fileattr_has_fsx(fa);
}
