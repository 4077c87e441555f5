/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel headers rsfs needs bindings for, and the C helpers that make
 * static inline functions and macros callable from Rust. bindgen reads this
 * file (see Kbuild); src/helpers.c implements the helpers.
 */
#include <linux/blkdev.h>
#include <linux/buffer_head.h>
#include <linux/crc32.h>
#include <linux/crc32c.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/iomap.h>
#include <linux/debugfs.h>
#include <linux/exportfs.h>
#include <linux/falloc.h>
#include <linux/fileattr.h>
#include <linux/fiemap.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/stat.h>
#include <linux/statfs.h>
#include <linux/uio.h>
#include <linux/writeback.h>
#include <linux/xattr.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>

#ifdef __BINDGEN__
/* Macros that bindgen cannot see through, as constants it can read. */
const u32 RSFS_I_NEW = I_NEW;
const u32 RSFS_I_DIRTY_DATASYNC = I_DIRTY_DATASYNC;
const u32 RSFS_I_SYNC = I_SYNC;
const unsigned int RSFS_ATTR_SIZE = ATTR_SIZE;
const unsigned int RSFS_ATTR_MODE = ATTR_MODE;
const unsigned long RSFS_SB_POSIXACL = SB_POSIXACL;
const u32 RSFS_SB_FREEZE_COMPLETE = SB_FREEZE_COMPLETE;
const int RSFS_ACL_TYPE_ACCESS = ACL_TYPE_ACCESS;
const int RSFS_ACL_TYPE_DEFAULT = ACL_TYPE_DEFAULT;
const unsigned long RSFS_SB_RDONLY = SB_RDONLY;
const u32 RSFS_FITRIM = FITRIM;
const u32 RSFS_FS_IOC_GETFSLABEL = FS_IOC_GETFSLABEL;
const u32 RSFS_FS_IOC_SETFSLABEL = FS_IOC_SETFSLABEL;
const u32 RSFS_FS_IOC_GETVERSION = FS_IOC_GETVERSION;
const u32 RSFS_FS_IOC32_GETVERSION_OLD = _IOR('f', 3, long);
/* ext4's EXT4_IOC_SHUTDOWN, xfs's XFS_IOC_GOINGDOWN: one number. */
const u32 RSFS_FS_IOC_SHUTDOWN = _IOR('X', 125, __u32);
const int RSFS_ENOPARAM = ENOPARAM;
#endif

struct buffer_head *rsfs_sb_bread(struct super_block *sb, sector_t block, bool *lost);
void rsfs_brelse(struct buffer_head *bh);
u64 rsfs_bdev_nr_bytes(struct block_device *bdev);
u32 rsfs_bdev_max_discard_sectors(struct block_device *bdev);
bool rsfs_bdev_read_only(struct block_device *bdev);
void rsfs_bdev_dio_alignment(struct block_device *bdev, u32 *mem, u32 *offset);
u32 rsfs_bdev_discard_granularity(struct block_device *bdev);
bool rsfs_capable_sys_admin(void);
size_t rsfs_posix_acl_xattr_size(int count);
int rsfs_posix_acl_to_xattr(const struct posix_acl *acl, void *buffer, size_t size);
struct posix_acl *rsfs_posix_acl_from_xattr(const void *value, size_t size);
void rsfs_posix_acl_release(struct posix_acl *acl);
int rsfs_syncfs(struct super_block *sb);
void __noreturn rsfs_panic(struct super_block *sb, const char *why);
bool rsfs_fatal_signal_pending(void);
bool rsfs_file_is_sync(struct file *file);
const char *rsfs_param_key(struct fs_parameter *param);
bool rsfs_param_is_flag(struct fs_parameter *param);
const char *rsfs_param_string(struct fs_parameter *param);
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
bool rsfs_inode_is_dirty(struct inode *inode);
bool rsfs_is_sync(struct inode *inode);
bool rsfs_is_dirsync(struct inode *inode);
bool rsfs_inode_is_new(struct inode *inode);
bool rsfs_fileattr_has_fsx(const struct fileattr *fa);
const unsigned int RSFS_I_DIRTY_INODE = I_DIRTY_INODE;
unsigned long rsfs_journal_info(void);
void rsfs_set_journal_info(unsigned long value);
const unsigned char *rsfs_dentry_name(struct dentry *dentry, u32 *len);
struct inode *rsfs_file_inode(struct file *file);
bool rsfs_dir_emit(struct dir_context *ctx, const char *name, int len, u64 ino,
		   unsigned int type);
void rsfs_lock_buffer(struct buffer_head *bh);
bool rsfs_buffer_verified(struct buffer_head *bh);
void rsfs_set_buffer_verified(struct buffer_head *bh);
bool rsfs_buffer_test_set_tracked(struct buffer_head *bh);
void rsfs_buffer_clear_tracked(struct buffer_head *bh);
void rsfs_get_bh(struct buffer_head *bh);
struct buffer_head *rsfs_sb_getblk_zeroed(struct super_block *sb, sector_t block);

/* Folios */
void rsfs_folio_get(struct folio *folio);
void rsfs_folio_put(struct folio *folio);
void rsfs_folio_lock(struct folio *folio);
bool rsfs_folio_test_uptodate(struct folio *folio);
void rsfs_folio_mark_uptodate(struct folio *folio);
bool rsfs_folio_test_dirty(struct folio *folio);
bool rsfs_folio_test_writeback(struct folio *folio);
struct address_space *rsfs_folio_mapping(struct folio *folio);
pgoff_t rsfs_folio_index(struct folio *folio);
size_t rsfs_folio_size(struct folio *folio);
void rsfs_folio_start_writeback(struct folio *folio);
void rsfs_folio_zero_segments(struct folio *folio, size_t s1, size_t e1, size_t s2, size_t e2);
void rsfs_folio_set_private_word(struct folio *folio, unsigned long word);
unsigned long rsfs_folio_private_word(struct folio *folio);
void rsfs_folio_clear_private(struct folio *folio);
struct folio *rsfs_folio_from_page(struct page *page);
struct folio *rsfs_filemap_get_folio_write(struct address_space *mapping, pgoff_t index);
struct folio *rsfs_read_mapping_folio(struct address_space *mapping, pgoff_t index);
struct folio *rsfs_readahead_folio(struct readahead_control *rac);
struct address_space *rsfs_readahead_mapping(struct readahead_control *rac);
void rsfs_folio_batch_init(struct folio_batch *batch);
void rsfs_folio_batch_release(struct folio_batch *batch);
void rsfs_mapping_set_error(struct address_space *mapping, int error);
void rsfs_set_aops(struct inode *inode, const struct address_space_operations *aops);
struct address_space *rsfs_inode_mapping(struct inode *inode);
const gfp_t RSFS_GFP_NOFS = GFP_NOFS;
const unsigned int RSFS_TAG_DIRTY = PAGECACHE_TAG_DIRTY;
const unsigned int RSFS_TAG_TOWRITE = PAGECACHE_TAG_TOWRITE;
const int RSFS_AOP_WRITEPAGE_ACTIVATE = AOP_WRITEPAGE_ACTIVATE;
const unsigned int RSFS_PAGE_SHIFT = PAGE_SHIFT;

/* Bios */
struct bio *rsfs_bio_alloc(struct block_device *bdev, unsigned short nr_vecs, blk_opf_t opf,
			   sector_t sector, bio_end_io_t *end_io, void *private);
void rsfs_bio_for_each_folio(struct bio *bio, void (*fn)(struct folio *folio, void *data),
			     void *data);
int rsfs_bio_status(struct bio *bio);
void *rsfs_bio_private(struct bio *bio);
void rsfs_init_completion(struct completion *done);
unsigned int rsfs_bio_size(struct bio *bio);
struct block_device *rsfs_sb_bdev(struct super_block *sb);
const blk_opf_t RSFS_REQ_OP_READ = REQ_OP_READ;
const blk_opf_t RSFS_REQ_OP_WRITE = REQ_OP_WRITE;
const blk_opf_t RSFS_REQ_SYNC = REQ_SYNC;
const blk_opf_t RSFS_REQ_PREFLUSH = REQ_PREFLUSH;
void rsfs_cond_resched(void);

/* Direct I/O */
void rsfs_file_allow_odirect(struct file *file);
bool rsfs_iter_is_write(const struct iov_iter *iter);
size_t rsfs_iov_iter_count(const struct iov_iter *iter);
void rsfs_iov_iter_truncate(struct iov_iter *iter, size_t count);
void rsfs_iov_iter_reexpand(struct iov_iter *iter, size_t count);
const u16 RSFS_IOMAP_HOLE = IOMAP_HOLE;
const u16 RSFS_IOMAP_MAPPED = IOMAP_MAPPED;
const u16 RSFS_IOMAP_F_NEW = IOMAP_F_NEW;
const unsigned int RSFS_IOMAP_WRITE = IOMAP_WRITE;
const u64 RSFS_IOMAP_NULL_ADDR = IOMAP_NULL_ADDR;
const unsigned int RSFS_IOMAP_DIO_FORCE_WAIT = IOMAP_DIO_FORCE_WAIT;
const int RSFS_IOCB_SYNC_FLAGS = IOCB_DSYNC | IOCB_SYNC;

/* Special files: the device number, in the 32-bit on-disk encoding. */
void rsfs_inode_set_rdev(struct inode *inode, u32 rdev);
u32 rsfs_inode_rdev(struct inode *inode);
u32 rsfs_encode_dev(dev_t dev);
void rsfs_init_special_inode(struct inode *inode);
const u32 RSFS_S_IFCHR = S_IFCHR;
const u32 RSFS_S_IFBLK = S_IFBLK;
const u32 RSFS_S_IFIFO = S_IFIFO;
const u32 RSFS_S_IFSOCK = S_IFSOCK;
const u32 RSFS_WHITEOUT_MODE = WHITEOUT_MODE;
const u32 RSFS_WHITEOUT_DEV = WHITEOUT_DEV;

/* Files, mmap */
void rsfs_inode_lock(struct inode *inode);
void rsfs_inode_unlock(struct inode *inode);
void rsfs_inode_lock_shared(struct inode *inode);
void rsfs_inode_unlock_shared(struct inode *inode);
void rsfs_invalidate_lock(struct inode *inode);
void rsfs_invalidate_unlock(struct inode *inode);
void rsfs_invalidate_lock_shared(struct inode *inode);
void rsfs_invalidate_unlock_shared(struct inode *inode);
bool rsfs_kiocb_is_direct(struct kiocb *iocb);
blk_opf_t rsfs_wbc_to_write_flags(struct writeback_control *wbc);
unsigned int rsfs_memalloc_nofs_save(void);
void rsfs_memalloc_nofs_restore(unsigned int flags);
int rsfs_finish_open_simple(struct file *file);
const int RSFS_FALLOC_FL_PUNCH_HOLE = FALLOC_FL_PUNCH_HOLE;
const int RSFS_FALLOC_FL_ZERO_RANGE = FALLOC_FL_ZERO_RANGE;
const int RSFS_FALLOC_FL_COLLAPSE_RANGE = FALLOC_FL_COLLAPSE_RANGE;
const int RSFS_FALLOC_FL_INSERT_RANGE = FALLOC_FL_INSERT_RANGE;
ssize_t rsfs_generic_write_sync(struct kiocb *iocb, ssize_t count);
struct inode *rsfs_kiocb_inode(struct kiocb *iocb);
void rsfs_file_mmap_set_ops(struct file *file, struct vm_area_struct *vma,
			    const struct vm_operations_struct *ops);
struct folio *rsfs_vmf_folio(struct vm_fault *vmf);
struct file *rsfs_vmf_file(struct vm_fault *vmf);
void rsfs_sb_start_pagefault(struct super_block *sb);
void rsfs_sb_end_pagefault(struct super_block *sb);
void rsfs_sb_start_intwrite(struct super_block *sb);
void rsfs_sb_end_intwrite(struct super_block *sb);
bool rsfs_sb_trylock_umount_shared(struct super_block *sb);
void rsfs_sb_unlock_umount_shared(struct super_block *sb);
bool rsfs_iput_unless_last(struct inode *inode);
vm_fault_t rsfs_vmf_fs_error(int err);
const vm_fault_t RSFS_VM_FAULT_LOCKED = VM_FAULT_LOCKED;
const vm_fault_t RSFS_VM_FAULT_NOPAGE = VM_FAULT_NOPAGE;
