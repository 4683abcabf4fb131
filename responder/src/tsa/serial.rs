//! Token serial numbers, unique across restarts and nodes without
//! coordination: a random 63-bit prefix drawn at process start, then a
//! 64-bit counter. Two processes collide only if they draw the same prefix
//! (probability about n^2 / 2^64 for n process starts, ever), and a process
//! never repeats a serial. No I/O or lock on the hot path.

use ring::rand::{SecureRandom, SystemRandom};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct SerialAllocator {
    prefix: [u8; 8],
    counter: AtomicU64,
}

impl SerialAllocator {
    pub fn new() -> anyhow::Result<Self> {
        let mut prefix = [0u8; 8];
        SystemRandom::new().fill(&mut prefix).map_err(|_| anyhow::anyhow!("system RNG failed"))?;
        // Positive and always 16 octets long once encoded.
        prefix[0] = (prefix[0] & 0x7f).max(1);
        Ok(Self { prefix, counter: AtomicU64::new(1) })
    }

    /// The next serial, big-endian magnitude.
    pub fn next(&self) -> [u8; 16] {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut serial = [0u8; 16];
        serial[..8].copy_from_slice(&self.prefix);
        serial[8..].copy_from_slice(&n.to_be_bytes());
        serial
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn serials_are_unique_and_positive() {
        let a = SerialAllocator::new().expect("a");
        let b = SerialAllocator::new().expect("b");
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            for s in [a.next(), b.next()] {
                assert!(s[0] & 0x80 == 0 && s[0] != 0);
                assert!(seen.insert(s), "duplicate serial");
            }
        }
    }
}
