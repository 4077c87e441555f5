// SPDX-License-Identifier: GPL-2.0

//! A small deterministic pseudo-random number generator (SplitMix64), so
//! that the same seed and index always give the same damage on every host.

/// SplitMix64 (Steele, Lea and Flood): one 64-bit state word.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a bijective mix of one word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator for image `index` of the run seeded with `seed`.
    /// Nearby seeds and indices give unrelated streams.
    pub fn new(seed: u64, index: u64) -> Self {
        Self {
            state: mix(seed.wrapping_add(GAMMA)) ^ mix(index ^ 0x5f0e_cd1a_77b4_29c3),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// A value in `0..n`; `n` must not be 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        // Lemire's multiply-shift; the tiny bias does not matter here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "Rng::range({lo}, {hi})");
        match (hi - lo).checked_add(1) {
            Some(n) => lo + self.below(n),
            None => self.next_u64(),
        }
    }

    /// An index into a slice of `len` elements; `len` must not be 0.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// True with probability 1/2.
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 != 0
    }

    /// The elements of `items` in a random order.
    pub fn shuffled<T: Clone>(&mut self, items: &[T]) -> Vec<T> {
        let mut v = items.to_vec();
        for i in (1..v.len()).rev() {
            let j = self.index(i + 1);
            v.swap(i, j);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = {
            let mut r = Rng::new(42, 17);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(42, 17);
        assert!(a.iter().all(|&x| x == r.next_u64()));
    }

    #[test]
    fn nearby_indices_differ() {
        let first = |s, i| Rng::new(s, i).next_u64();
        assert_ne!(first(42, 0), first(42, 1));
        assert_ne!(first(42, 0), first(43, 0));
        assert_ne!(first(0, 1), first(1, 0));
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rng::new(1, 2);
        for _ in 0..1000 {
            assert!(r.below(7) < 7);
            let v = r.range(10, 12);
            assert!((10..=12).contains(&v));
        }
        let _ = r.range(0, u64::MAX);
        let mut seen = [false; 5];
        for _ in 0..200 {
            seen[r.index(5)] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
