//! Ids for deployments, runs and deliveries, from an injectable generator.
//!
//! Ids are randomness, and randomness is a source of non-determinism the runtime
//! owns: production uses [`RandomIds`] (ULIDs: 48 bits of milliseconds from the
//! [`Clock`] then 80 random bits, in Crockford base32, so ids sort by creation
//! time), tests use [`SequentialIds`] and can name the ids they expect.

use crate::clock::{Clock, SystemClock};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of unique ids. Every id is 26 ASCII characters that sort in the order
/// they were generated (for one generator, within a millisecond's resolution).
pub trait IdGen: Send + Sync + 'static {
    fn new_id(&self) -> String;
}

/// ULIDs: time-ordered and random.
#[derive(Clone)]
pub struct RandomIds {
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RandomIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RandomIds")
    }
}

impl RandomIds {
    pub fn new(clock: Arc<dyn Clock>) -> RandomIds {
        RandomIds { clock }
    }
}

impl Default for RandomIds {
    fn default() -> RandomIds {
        RandomIds::new(Arc::new(SystemClock))
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl IdGen for RandomIds {
    fn new_id(&self) -> String {
        let millis = u128::try_from(self.clock.now_ms().max(0)).unwrap_or(0) & ((1 << 48) - 1);
        let mut random = [0u8; 10];
        if getrandom::fill(&mut random).is_err() {
            // No entropy source is a broken machine; fall back to the address of a
            // stack slot and the time rather than failing every write.
            let fallback = (&raw const random as usize as u128) ^ millis.rotate_left(64);
            random.copy_from_slice(&fallback.to_le_bytes()[..10]);
        }
        let mut bits = millis << 80;
        for (index, byte) in random.iter().enumerate() {
            bits |= u128::from(*byte) << (8 * (9 - index));
        }
        (0..26)
            .map(|index| {
                let shift = 5 * (25 - index);
                char::from(CROCKFORD[((bits >> shift) & 31) as usize])
            })
            .collect()
    }
}

/// `00000000000000000000000001`, `…02`, …: deterministic ids for tests.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl SequentialIds {
    pub fn new() -> SequentialIds {
        SequentialIds::default()
    }
}

impl IdGen for SequentialIds {
    fn new_id(&self) -> String {
        let number = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{number:026}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;

    #[test]
    fn random_ids_are_26_crockford_characters_ordered_by_time() {
        let clock = TestClock::new(1_700_000_000_000);
        let ids = RandomIds::new(Arc::new(clock.clone()));
        let first = ids.new_id();
        clock.advance(std::time::Duration::from_millis(1));
        let second = ids.new_id();
        assert_eq!(first.len(), 26);
        assert!(first.bytes().all(|byte| CROCKFORD.contains(&byte)));
        assert!(first < second, "{first} !< {second}");
        // The first ten characters are the time: 1_700_000_000_000 ms is 01HF7YAT00.
        assert_eq!(&first[..10], "01HF7YAT00");
        assert_ne!(ids.new_id()[10..], ids.new_id()[10..]);
    }

    #[test]
    fn sequential_ids_count_from_one() {
        let ids = SequentialIds::new();
        assert_eq!(ids.new_id(), "00000000000000000000000001");
        assert_eq!(ids.new_id(), "00000000000000000000000002");
    }
}
