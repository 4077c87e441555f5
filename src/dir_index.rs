// SPDX-License-Identifier: GPL-2.0

//! An in-memory index of a directory's names, so that a lookup or a create
//! in a large directory reads one or two blocks instead of all of them.
//!
//! The index is built the first time a directory of more than one block is
//! searched, from its blocks, and kept with the inode until it is evicted.
//! It is a cache, never a source of truth: it names, for each entry, the
//! directory block that holds it (by a hash of the name), and for each
//! block the longest new entry that fits in it. Every change to the
//! directory (`crate::dir`) updates it under the directory's `i_rwsem`;
//! when an update cannot be made (no memory), the index is dropped and the
//! directory is searched block by block until it is built again. Debug
//! builds check each answer it gives against a search of every block.
//!
//! The disk format does not change: this is not ext4's on-disk `htree`, and
//! a directory's first search after a mount still reads all of it.

use kernel::prelude::*;

/// The most blocks one lookup takes from the index. More names of the same
/// hash than this (which only a crafted set of names gives) means a search
/// of every block.
pub(crate) const MAX_CANDIDATES: usize = 8;

/// Directories of fewer blocks than this are searched without an index.
pub(crate) const INDEX_FROM_BLOCKS: u64 = 2;

/// The hash of a name: 32-bit FNV-1a.
pub(crate) fn hash(name: &[u8]) -> u32 {
    name.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The index of one directory.
///
/// # Invariants
///
/// `slots.len()` is a power of two, at least twice `len`. A slot is 0 when
/// empty, and otherwise holds an entry's name hash in its upper 32 bits and
/// its block number plus one in its lower 32 bits; entries sit at or after
/// the slot their hash picks, with no empty slot in between (linear
/// probing).
pub(crate) struct DirIndex {
    slots: KVVec<u64>,
    len: usize,
    /// For each directory block, the longest entry (`dir_rec_len`) that
    /// fits in it.
    room: KVVec<u16>,
}

impl DirIndex {
    /// An empty index.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            slots: KVVec::from_elem(0, 64, GFP_KERNEL)?,
            len: 0,
            room: KVVec::new(),
        })
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, h: u32) -> usize {
        h as usize & self.mask()
    }

    /// Records that block `block` holds a name of hash `h`.
    pub(crate) fn insert(&mut self, h: u32, block: u64) -> Result {
        let tag = u32::try_from(block + 1).map_err(|_| EFBIG)?;
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow()?;
        }
        self.put((u64::from(h) << 32) | u64::from(tag));
        self.len += 1;
        Ok(())
    }

    /// Places a slot value; there is room (invariant).
    fn put(&mut self, v: u64) {
        let mask = self.mask();
        let mut i = self.home((v >> 32) as u32);
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = v;
    }

    /// Doubles the table.
    fn grow(&mut self) -> Result {
        let bigger = KVVec::from_elem(0, self.slots.len() * 2, GFP_KERNEL)?;
        let old = core::mem::replace(&mut self.slots, bigger);
        for &v in old.iter().filter(|&&v| v != 0) {
            self.put(v);
        }
        Ok(())
    }

    /// Forgets one name of hash `h` in block `block`. Returns whether the
    /// index had it.
    pub(crate) fn remove(&mut self, h: u32, block: u64) -> bool {
        let v = (u64::from(h) << 32) | (block + 1);
        let mask = self.mask();
        let mut i = self.home(h);
        loop {
            match self.slots[i] {
                0 => return false,
                s if s == v => break,
                _ => i = (i + 1) & mask,
            }
        }
        // Backward-shift deletion: move up each later slot of the run
        // whose home is not between the hole and it, so that no lookup
        // meets an empty slot before what it looks for.
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            let home = self.home((s >> 32) as u32);
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
        true
    }

    /// The blocks that may hold a name of hash `h`, into `out`; how many,
    /// or `None` if more than `out` holds.
    pub(crate) fn candidates(&self, h: u32, out: &mut [u64; MAX_CANDIDATES]) -> Option<usize> {
        let mask = self.mask();
        let mut i = self.home(h);
        let mut n = 0;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return Some(n);
            }
            if (s >> 32) as u32 == h {
                let block = (s & u64::from(u32::MAX)) - 1;
                if !out[..n].contains(&block) {
                    *out.get_mut(n)? = block;
                    n += 1;
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Sets the longest entry that fits in block `block`, which is at most
    /// one past the last block the index knows.
    pub(crate) fn set_room(&mut self, block: u64, room: usize) -> Result {
        let room = u16::try_from(room).map_err(|_| EINVAL)?;
        let i = usize::try_from(block).map_err(|_| EFBIG)?;
        match i.cmp(&self.room.len()) {
            core::cmp::Ordering::Less => self.room[i] = room,
            core::cmp::Ordering::Equal => self.room.push(room, GFP_KERNEL)?,
            core::cmp::Ordering::Greater => return Err(EINVAL),
        }
        Ok(())
    }

    /// The first block with room for an entry of `need` bytes, if any.
    pub(crate) fn block_with_room(&self, need: usize) -> Option<u64> {
        self.room
            .iter()
            .position(|&r| usize::from(r) >= need)
            .map(|i| i as u64)
    }
}
