//! Bounded correlation state: a capped map with CLOCK eviction and TTL
//! expiry, and the sliding-window primitives the detections use.
//!
//! Time here is event time in milliseconds; callers process events in
//! non-decreasing time order (the correlator's reorder buffer ensures it).

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

use crate::identity::FastState;

struct Slot<K, V> {
    key: K,
    /// The key's hash, kept so that the index never hashes a key again.
    hash: u64,
    value: V,
    last_seen: i64,
    referenced: bool,
}

/// A map holding at most `cap` entries. When full, inserting evicts an entry
/// chosen by the CLOCK (second-chance) policy, an O(1) amortized
/// approximation of least-recently-used; entries idle longer than the TTL are
/// expired by an incremental sweep. Both are counted.
///
/// The key lives once, in its slot: the index holds only slot numbers
/// (4 bytes an entry), found by the key's hash, which a caller computes once
/// ([`BoundedMap::hash`]) and reuses for every lookup of the same key.
pub(crate) struct BoundedMap<K, V> {
    /// Keyed aHash: fast on short keys, not predictable from outside.
    hasher: FastState,
    index: HashTable<u32>,
    slots: Vec<Option<Slot<K, V>>>,
    free: Vec<u32>,
    hand: usize,
    cap: usize,
    /// Entries evicted because the map was full.
    pub evicted_capacity: u64,
    /// Entries expired by the TTL.
    pub expired: u64,
}

/// The slot number `i` of `index` holding `key`.
fn find_slot<K: Eq, V>(
    index: &HashTable<u32>,
    slots: &[Option<Slot<K, V>>],
    hash: u64,
    key: &K,
) -> Option<usize> {
    index
        .find(hash, |&i| {
            slots
                .get(i as usize)
                .and_then(Option::as_ref)
                .is_some_and(|s| s.hash == hash && s.key == *key)
        })
        .map(|&i| i as usize)
}

impl<K: Hash + Eq, V> BoundedMap<K, V> {
    /// An empty map holding at most `cap` (at least 1) entries.
    pub fn new(cap: usize) -> Self {
        let cap = cap.clamp(1, u32::MAX as usize);
        BoundedMap {
            hasher: FastState::default(),
            index: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            cap,
            evicted_capacity: 0,
            expired: 0,
        }
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The hash of `key` for [`BoundedMap::entry_hashed`] and
    /// [`BoundedMap::get_mut_hashed`].
    pub fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The entry for `key`, created with `make` if absent (evicting one
    /// entry when full), marked as used at `now`. `None` only if the map's
    /// internal index were inconsistent, which it never is.
    pub fn entry(&mut self, key: &K, now: i64, make: impl FnOnce() -> V) -> Option<&mut V>
    where
        K: Clone,
    {
        let hash = self.hash(key);
        self.entry_hashed(hash, key, now, make)
    }

    /// [`BoundedMap::entry`] with the key's hash already computed.
    pub fn entry_hashed(
        &mut self,
        hash: u64,
        key: &K,
        now: i64,
        make: impl FnOnce() -> V,
    ) -> Option<&mut V>
    where
        K: Clone,
    {
        let (idx, existed) = match find_slot(&self.index, &self.slots, hash, key) {
            Some(i) => (i, true),
            None => (self.insert(hash, key.clone(), now, make()), false),
        };
        let slot = self.slots.get_mut(idx)?.as_mut()?;
        slot.last_seen = slot.last_seen.max(now);
        slot.referenced |= existed;
        Some(&mut slot.value)
    }

    /// The entry for `key`, if present, without creating it.
    #[cfg(test)]
    pub fn get_mut(&mut self, key: &K, now: i64) -> Option<&mut V> {
        let hash = self.hash(key);
        self.get_mut_hashed(hash, key, now)
    }

    /// [`BoundedMap::get_mut`] with the key's hash already computed.
    pub fn get_mut_hashed(&mut self, hash: u64, key: &K, now: i64) -> Option<&mut V> {
        let i = find_slot(&self.index, &self.slots, hash, key)?;
        let slot = self.slots.get_mut(i)?.as_mut()?;
        slot.last_seen = slot.last_seen.max(now);
        slot.referenced = true;
        Some(&mut slot.value)
    }

    fn insert(&mut self, hash: u64, key: K, now: i64, value: V) -> usize {
        if self.index.len() >= self.cap {
            self.evict_one();
        }
        let slot = Slot {
            key,
            hash,
            value,
            last_seen: now,
            referenced: false,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    *s = Some(slot);
                }
                i as usize
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        let slots = &self.slots;
        // `idx` < cap ≤ u32::MAX.
        self.index
            .insert_unique(hash, u32::try_from(idx).unwrap_or(u32::MAX), |&i| {
                slots
                    .get(i as usize)
                    .and_then(Option::as_ref)
                    .map_or(0, |s| s.hash)
            });
        idx
    }

    fn remove_at(&mut self, i: usize) {
        if let Some(s) = self.slots.get_mut(i) {
            if let Some(slot) = s.take() {
                let n = u32::try_from(i).unwrap_or(u32::MAX);
                if let Ok(e) = self.index.find_entry(slot.hash, |&j| j == n) {
                    e.remove();
                }
                self.free.push(n);
            }
        }
    }

    fn evict_one(&mut self) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        // At most two sweeps: the first clears reference bits.
        for _ in 0..2 * n + 1 {
            self.hand = if self.hand >= n { 0 } else { self.hand };
            let i = self.hand;
            self.hand += 1;
            match self.slots.get_mut(i) {
                Some(Some(slot)) if slot.referenced => slot.referenced = false,
                Some(Some(_)) => {
                    self.remove_at(i);
                    self.evicted_capacity += 1;
                    return;
                }
                _ => {}
            }
        }
    }

    /// Advances the sweep by `steps` slots, expiring entries last used before
    /// `cutoff`.
    pub fn sweep(&mut self, cutoff: i64, steps: usize) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        for _ in 0..steps.min(n) {
            self.hand = if self.hand >= n { 0 } else { self.hand };
            let i = self.hand;
            self.hand += 1;
            if let Some(Some(slot)) = self.slots.get(i) {
                if slot.last_seen < cutoff {
                    self.remove_at(i);
                    self.expired += 1;
                }
            }
        }
    }

    /// Live keys and values.
    pub fn entries(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots
            .iter()
            .filter_map(|s| s.as_ref().map(|s| (&s.key, &s.value)))
    }

    /// Live values.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slots
            .iter()
            .filter_map(|s| s.as_ref().map(|s| &s.value))
    }
}

/// Longest key held inline by [`CompactKey`].
const INLINE_KEY: usize = 30;

/// A text key as the state maps hold it: inline when short (most actor keys,
/// e.g. e-mail addresses), so comparing it in the map's index follows no
/// pointer and it costs no allocation; on the heap otherwise. Equal texts
/// give equal keys.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum CompactKey {
    /// At most [`INLINE_KEY`] bytes, zero-padded.
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    /// Longer text.
    Heap(Box<str>),
}

impl CompactKey {
    /// The key of `text`.
    pub fn new(text: &str) -> CompactKey {
        let mut bytes = [0u8; INLINE_KEY];
        match (bytes.get_mut(..text.len()), u8::try_from(text.len())) {
            (Some(dst), Ok(len)) => {
                dst.copy_from_slice(text.as_bytes());
                CompactKey::Inline { len, bytes }
            }
            _ => CompactKey::Heap(text.into()),
        }
    }

    /// The key's text (`None` never happens: an inline key is the bytes of
    /// a `str`).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            CompactKey::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok()),
            CompactKey::Heap(s) => Some(s),
        }
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            CompactKey::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            CompactKey::Heap(s) => s.as_bytes(),
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        match self {
            CompactKey::Inline { .. } => 0,
            CompactKey::Heap(s) => s.len(),
        }
    }
}

/// One remembered occurrence: when, and which event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mark {
    pub time: i64,
    pub uid: Option<Box<str>>,
}

/// Most marks reserved up front for a ring (larger thresholds grow it).
const MAX_RING_RESERVE: usize = 64;

/// Sliding-window counter over the last `cap` occurrences. The count within
/// a window is exact up to `cap` (the detection threshold): it answers
/// "at least `cap` occurrences in the last `window` ms".
#[derive(Debug, Default, Clone)]
pub(crate) struct SlidingCount {
    marks: VecDeque<Mark>,
}

impl SlidingCount {
    /// Records an occurrence, keeping at most `cap`.
    pub fn push(&mut self, mark: Mark, cap: usize) {
        let cap = cap.max(1);
        if self.marks.capacity() == 0 {
            // The ring never holds more than `cap`: no growth slack.
            self.marks.reserve_exact(cap.min(MAX_RING_RESERVE));
        }
        while self.marks.len() >= cap {
            self.marks.pop_front();
        }
        self.marks.push_back(mark);
    }

    /// Drops occurrences older than `now - window`.
    pub fn expire(&mut self, now: i64, window: i64) {
        let cutoff = now.saturating_sub(window);
        while self.marks.front().is_some_and(|m| m.time < cutoff) {
            self.marks.pop_front();
        }
    }

    /// Occurrences within `window` of `now` (capped at the ring size).
    pub fn count(&mut self, now: i64, window: i64) -> usize {
        self.expire(now, window);
        self.marks.len()
    }

    /// The remembered occurrences, oldest first.
    pub fn marks(&self) -> impl Iterator<Item = &Mark> {
        self.marks.iter()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.marks.clear();
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.marks.capacity() * std::mem::size_of::<Mark>()
            + self
                .marks
                .iter()
                .map(|m| m.uid.as_ref().map_or(0, |u| u.len()))
                .sum::<usize>()
    }
}

/// Distinct count over a sliding window: the distinct members (by 64-bit
/// hash) seen in the last `window` ms, exact up to `cap` members.
#[derive(Debug, Default, Clone)]
pub(crate) struct DistinctWindow {
    members: Vec<(u64, Mark)>,
}

impl DistinctWindow {
    /// Records `member` at `mark.time`; returns the distinct count in window.
    pub fn observe(&mut self, member: u64, mark: Mark, window: i64, cap: usize) -> usize {
        let cutoff = mark.time.saturating_sub(window);
        self.members.retain(|(_, m)| m.time >= cutoff);
        if let Some(e) = self.members.iter_mut().find(|(h, _)| *h == member) {
            e.1 = mark;
        } else {
            if self.members.len() >= cap.max(1) {
                // Forget the stalest member to stay within the cap.
                if let Some(pos) = self
                    .members
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, (_, m))| m.time)
                    .map(|(i, _)| i)
                {
                    self.members.swap_remove(pos);
                }
            }
            self.members.push((member, mark));
        }
        self.members.len()
    }

    /// The remembered members' marks, oldest first.
    pub fn marks(&self) -> Vec<&Mark> {
        let mut v: Vec<&Mark> = self.members.iter().map(|(_, m)| m).collect();
        v.sort_by_key(|m| m.time);
        v
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.members.clear();
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.members.capacity() * std::mem::size_of::<(u64, Mark)>()
    }
}

/// A 64-bit FNV-1a hash, stable across runs (used for distinct members).
pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn mark(t: i64) -> Mark {
        Mark { time: t, uid: None }
    }

    #[test]
    fn map_stays_within_cap_and_counts_evictions() {
        let mut m: BoundedMap<u32, u32> = BoundedMap::new(3);
        for k in 0..10u32 {
            *m.entry(&k, i64::from(k), || 0).unwrap() += 1;
            assert!(m.len() <= 3);
        }
        assert_eq!(m.evicted_capacity, 7);
    }

    #[test]
    fn recently_used_entries_survive_eviction() {
        let mut m: BoundedMap<u32, u32> = BoundedMap::new(2);
        m.entry(&1, 0, || 1);
        m.entry(&2, 0, || 2);
        m.entry(&1, 1, || 1); // touch 1
        m.entry(&3, 2, || 3); // evicts 2 (1 has its second chance)
        assert!(m.get_mut(&1, 3).is_some());
        assert!(m.get_mut(&2, 3).is_none());
    }

    #[test]
    fn sweep_expires_idle_entries() {
        let mut m: BoundedMap<u32, u32> = BoundedMap::new(10);
        m.entry(&1, 0, || 1);
        m.entry(&2, 100, || 2);
        m.sweep(50, 10);
        assert_eq!(m.len(), 1);
        assert_eq!(m.expired, 1);
    }

    #[test]
    fn compact_keys_are_equal_exactly_when_their_texts_are() {
        let texts = [
            "",
            "a",
            "a\0",
            "user1@example.com",
            &"x".repeat(30),
            &"x".repeat(31),
        ];
        for a in texts {
            for b in texts {
                assert_eq!(
                    CompactKey::new(a) == CompactKey::new(b),
                    a == b,
                    "{a:?} {b:?}"
                );
            }
        }
        assert_eq!(CompactKey::new(&"x".repeat(30)).heap_bytes(), 0);
        assert_eq!(CompactKey::new(&"x".repeat(31)).heap_bytes(), 31);
    }

    #[test]
    fn sliding_count_and_distinct() {
        let mut c = SlidingCount::default();
        for t in [0, 10, 20, 30] {
            c.push(mark(t), 3);
        }
        assert_eq!(c.count(30, 15), 2);
        let mut d = DistinctWindow::default();
        assert_eq!(d.observe(1, mark(0), 100, 10), 1);
        assert_eq!(d.observe(1, mark(5), 100, 10), 1);
        assert_eq!(d.observe(2, mark(6), 100, 10), 2);
        assert_eq!(d.observe(3, mark(200), 100, 10), 1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The sliding count, capped at the ring size, equals a naive recount.
        #[test]
        fn sliding_count_equals_naive_recount(
            gaps in proptest::collection::vec(0i64..5_000, 1..200),
            window in 1i64..20_000,
            cap in 1usize..32,
        ) {
            let mut c = SlidingCount::default();
            let mut times = Vec::new();
            let mut t = 0i64;
            for g in gaps {
                t += g;
                times.push(t);
                c.push(Mark { time: t, uid: None }, cap);
                let naive = times.iter().filter(|&&x| x >= t - window).count().min(cap);
                prop_assert_eq!(c.count(t, window), naive);
            }
        }

        /// The distinct count, capped, equals a naive recount of distinct
        /// members in the window.
        #[test]
        fn distinct_count_equals_naive_recount(
            steps in proptest::collection::vec((0i64..3_000, 0u64..12), 1..200),
            window in 1i64..20_000,
        ) {
            let cap = 64;
            let mut d = DistinctWindow::default();
            let mut seen: Vec<(i64, u64)> = Vec::new();
            let mut t = 0i64;
            for (g, m) in steps {
                t += g;
                seen.push((t, m));
                let n = d.observe(m, Mark { time: t, uid: None }, window, cap);
                let mut naive: Vec<u64> = seen.iter().filter(|(x, _)| *x >= t - window).map(|(_, m)| *m).collect();
                naive.sort_unstable();
                naive.dedup();
                prop_assert_eq!(n, naive.len());
            }
        }

        /// The map never holds more than its cap, whatever the keys.
        #[test]
        fn bounded_map_stays_within_cap(
            keys in proptest::collection::vec(0u32..10_000, 1..2_000),
            cap in 1usize..64,
        ) {
            let mut m: BoundedMap<u32, u8> = BoundedMap::new(cap);
            for (t, k) in keys.iter().enumerate() {
                m.entry(k, t as i64, || 0).unwrap();
                m.sweep(t as i64 - 500, 2);
                prop_assert!(m.len() <= cap);
                prop_assert!(m.get_mut(k, t as i64).is_some() || (t as i64) < 0);
            }
        }
    }
}
