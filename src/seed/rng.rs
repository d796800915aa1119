//! A small seeded random number generator (SplitMix64): the same seed gives the same numbers
//! on every machine, so a demo database is the same for the same options.

/// SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit state, a full period, good enough for
/// test data and far faster than anything cryptographic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Rng {
    /// A generator for item `index` of the stream `stream`: every item draws from its own
    /// generator, so items can be made in any order, on any thread, and come out the same.
    pub fn for_item(stream: u64, index: u64) -> Rng {
        let mut rng = Rng(stream ^ index.wrapping_add(1).wrapping_mul(GOLDEN));
        // One step mixes the seed, so neighbouring indexes start far apart.
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items`, each as likely as the others.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An exponentially distributed wait with this mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Sixteen random bytes (a bcrypt salt).
    pub fn bytes16(&mut self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_item_always_draws_the_same_numbers() {
        let draw = |index| {
            let mut rng = Rng::for_item(7, index);
            (0..4).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        // A fixed value: the generator must not change between releases either.
        assert_eq!(Rng::for_item(0, 0).next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn draws_stay_in_their_ranges_and_cover_them() {
        let mut rng = Rng::for_item(1, 1);
        let mut seen = [0u32; 5];
        for _ in 0..10_000 {
            let n = rng.below(5) as usize;
            seen[n] += 1;
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(rng.exponential(2.0) >= 0.0);
        }
        assert!(seen.iter().all(|&count| count > 1_500), "{seen:?}");
        assert_eq!(rng.below(0), 0);
    }
}
