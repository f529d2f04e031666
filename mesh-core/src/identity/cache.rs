//! A bounded cache of verified tokens, so a repeated token costs a lookup
//! instead of a signature check.
//!
//! Each entry keeps a copy of its token, and a hit is confirmed by comparing
//! the presented token with that copy (lengths first, then every byte, in
//! time independent of where they differ): a cached identity is only ever
//! returned for exactly the token that verified. The lookup key is therefore
//! only a bucket hash, not a proof: a 64-bit SipHash-1-3, under a secret
//! random key drawn when the cache is built, of the token's length and of a
//! sample of its bytes (all of a token of at most 56 bytes, else its first 32
//! bytes, 8 from its middle and its last 16, where a JWS ends with its
//! signature). Tokens that share the sampled bytes share a key: they then
//! compete for the same two windows (below) and each lookup compares at most
//! those windows' entries; a collision costs a miss (a full verification),
//! never a wrong identity. The key never leaves the cache and no hash value
//! is ever exposed, so outside callers cannot aim tokens at one window. An
//! entry's memory grows by its token's length (at most the maximum cached
//! length, 8 KiB by default); the number of entries stays bounded.
//!
//! Entries expire at the token's `exp` (or after a maximum time to live,
//! whichever comes first). Every hit is checked against the caller's
//! [`RevocationSet`]: a revoked identity is never returned. Tokens longer
//! than the maximum cached length bypass the cache (they go to the
//! verifier every time). The cache reads no clock: `now` is passed in.
//!
//! The table has four times `capacity` slots and an entry count kept under
//! the write lock, so the cache never holds more than `capacity` entries
//! while a full cache keeps all of them but in the rarest cases: at most a
//! quarter of the slots are in use, and each token has two windows, which
//! almost never both fill up. A token's key
//! picks two windows of 8 consecutive slots (wrapping) each, at
//! independent places, where its entry may live (a table of at most 16
//! slots is one window); a hit
//! reads those slots without taking any lock and without writing memory
//! that other threads read: slots are `ArcSwapOption`s read with `load()`
//! guards (which borrow, touching no shared reference count), an entry's
//! CLOCK `referenced` bit is written only when it is not set yet, and the
//! statistics are striped counters (each thread counts in its own stripe,
//! chosen by its thread id; [`TokenCache::stats`] adds the stripes up).
//! Inserts and removals take one lock, for misses only (which pay a
//! signature check anyway). Eviction is CLOCK within the two windows: an
//! inserted entry takes the slot of its own token, else an empty slot while
//! the cache holds fewer than `capacity` entries, else an expired slot,
//! else the first slot not referenced since the last pass (clearing the
//! bits of the referenced slots it passes), else the first occupied slot of
//! the windows. A full cache whose windows hold no entry at all evicts the
//! next entry after the first window and takes an empty slot of the windows.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use siphasher::sip::SipHasher13;
use std::hash::{BuildHasher, Hash, Hasher};

use super::{Identity, RevocationReason, RevocationSet};
use crate::Timestamp;

/// Tokens longer than this bypass the cache (default 8 KiB): they go
/// straight to the verifier, which rejects them by size without hashing.
pub const DEFAULT_CACHE_MAX_TOKEN_LEN: usize = 8 * 1024;

/// Slots in each of the two windows of a token (fewer in a smaller cache).
const WINDOW: usize = 8;

/// Stripes of the statistics counters (and lanes of per-thread data, see
/// [`thread_lane`]).
pub(crate) const LANES: usize = 4;

/// Bytes sampled from the start of a token for its key.
const HEAD: usize = 32;
/// Bytes sampled from the middle of a token for its key.
const MIDDLE: usize = 8;
/// Bytes sampled from the end of a token (a JWS's signature) for its key.
const TAIL: usize = 16;
/// Tokens up to this length are hashed whole.
const SAMPLED: usize = HEAD + MIDDLE + TAIL;

/// A token's bucket hash (see the module documentation): its two halves
/// place its two windows.
type Key = u64;

/// One cached identity.
struct Entry<T> {
    key: Key,
    /// The token that verified; a hit must present exactly these bytes.
    token: Box<[u8]>,
    identity: Arc<T>,
    expires_at: Timestamp,
    referenced: AtomicBool,
}

/// Counters of a [`TokenCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to call the verifier.
    pub misses: u64,
    /// Entries evicted to make room.
    pub evictions: u64,
    /// Cached entries found revoked (and dropped).
    pub revoked: u64,
}

/// One stripe of counters, alone on its cache lines.
#[derive(Default)]
#[repr(align(128))]
struct Stripe {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    revoked: AtomicU64,
}

/// Why [`TokenCache::get_or_verify`] returned no identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheError<E> {
    /// The verifier rejected the token.
    Verify(E),
    /// The token verified (now or earlier) but its identity is revoked.
    Revoked(RevocationReason),
}

impl<E: fmt::Display> fmt::Display for CacheError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::Verify(e) => e.fmt(f),
            CacheError::Revoked(r) => write!(f, "identity is revoked (by {})", r.as_str()),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CacheError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CacheError::Verify(e) => Some(e),
            CacheError::Revoked(_) => None,
        }
    }
}

/// A bounded, thread-safe cache of verified identities (see the module
/// documentation). Share it behind `&` or `Arc`; it spawns no threads.
///
/// An entry is an [`Identity`], or any `T` that holds one
/// ([`TokenCache::with_entries`]): e.g. the identity together with what
/// decisions precompute from it, so a cache hit skips that work too.
pub struct TokenCache<T = Identity> {
    /// Four times `capacity` slots.
    slots: Box<[ArcSwapOption<Entry<T>>]>,
    /// Most entries held (at least 1).
    capacity: usize,
    /// Serializes inserts and removals (never taken by a hit) and holds
    /// the number of entries.
    write: Mutex<usize>,
    stats: [Stripe; LANES],
    hasher: SipHasher13,
    max_ttl: Duration,
    max_token_len: usize,
}

impl<T: AsRef<Identity>> fmt::Debug for TokenCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .field("max_ttl", &self.max_ttl)
            .finish()
    }
}

/// A fresh secret SipHash key from the standard library's randomly keyed
/// `RandomState` (the same source as every `HashMap`'s seed).
fn random_sip_key() -> SipHasher13 {
    let state = std::collections::hash_map::RandomState::new();
    SipHasher13::new_with_keys(
        state.hash_one(0x6d65_7368_u64),
        state.hash_one(0x6361_6368_u64),
    )
}

/// Keeps the integer a `ThreadId` hashes as.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The calling thread's lane, in `0..LANES`: thread ids are handed out in
/// sequence, so threads started one after another take different lanes.
/// A placement hint only (for striped counters and per-thread copies):
/// nothing that is decided depends on it. Kept per thread after the first
/// call: reading the thread id takes a reference to the thread's handle,
/// whose count sits in memory allocated next to other threads' handles.
pub(crate) fn thread_lane() -> usize {
    thread_local! {
        static LANE: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
    }
    LANE.try_with(|lane| {
        let known = lane.get();
        if known < LANES {
            return known;
        }
        let mut h = IdHasher::default();
        std::thread::current().id().hash(&mut h);
        let new = (h.finish() % LANES as u64) as usize;
        lane.set(new);
        new
    })
    .unwrap_or(0)
}

impl TokenCache {
    /// A cache holding at most `capacity` identities (at least 1), each for
    /// at most `max_ttl` even if its token lives longer.
    pub fn new(capacity: usize, max_ttl: Duration) -> Self {
        TokenCache::with_entries(capacity, max_ttl)
    }
}

impl<T: AsRef<Identity>> TokenCache<T> {
    /// A cache of entries of type `T` (each holding the verified identity),
    /// sized and bounded as [`TokenCache::new`].
    pub fn with_entries(capacity: usize, max_ttl: Duration) -> Self {
        let capacity = capacity.max(1);
        TokenCache {
            slots: (0..capacity.saturating_mul(4))
                .map(|_| ArcSwapOption::empty())
                .collect(),
            capacity,
            write: Mutex::new(0),
            stats: Default::default(),
            hasher: random_sip_key(),
            max_ttl,
            max_token_len: DEFAULT_CACHE_MAX_TOKEN_LEN,
        }
    }

    /// Sets the longest token that is cached (longer ones always go to the
    /// verifier).
    pub fn with_max_token_len(mut self, max_token_len: usize) -> Self {
        self.max_token_len = max_token_len;
        self
    }

    /// The secret-keyed bucket hash of `token`: of its length and of all
    /// its bytes (up to 56) or its first 32, middle 8 and last 16 bytes.
    fn token_key(&self, token: &str) -> Key {
        let bytes = token.as_bytes();
        let mut buf = [0u8; 8 + SAMPLED];
        let (len, sample) = buf.split_at_mut(8);
        len.copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        if let Some(dst) = sample.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
            return self
                .hasher
                .hash(buf.get(..8 + bytes.len()).unwrap_or_default());
        }
        // Fixed-size pieces: copied by a few moves, no length checks.
        let (head, rest) = sample.split_at_mut(HEAD);
        let (middle, tail) = rest.split_at_mut(MIDDLE);
        let at = (bytes.len() - MIDDLE) / 2;
        let pieces = (
            bytes.first_chunk::<HEAD>(),
            bytes.get(at..).and_then(<[u8]>::first_chunk::<MIDDLE>),
            bytes.last_chunk::<TAIL>(),
        );
        if let (Some(h), Some(m), Some(t)) = pieces {
            head.copy_from_slice(h);
            middle.copy_from_slice(m);
            tail.copy_from_slice(t);
        }
        self.hasher.hash(&buf)
    }

    /// The slots of `key`'s two windows, in probe order (a slot appears
    /// twice when the windows overlap).
    fn window(&self, key: Key) -> impl Iterator<Item = &ArcSwapOption<Entry<T>>> {
        let n = self.slots.len();
        // A small table is one window: CLOCK then runs over every entry.
        let (first, second) = if n <= 2 * WINDOW {
            (n, 0)
        } else {
            (WINDOW, WINDOW)
        };
        let run = |start: u64, len: usize| {
            let (tail, head) = self.slots.split_at((start % n as u64) as usize);
            head.iter().chain(tail).take(len)
        };
        run(key >> 32, first).chain(run(key & 0xffff_ffff, second))
    }

    /// The calling thread's counters.
    fn stripe(&self) -> &Stripe {
        let [first, ..] = &self.stats;
        self.stats.get(thread_lane()).unwrap_or(first)
    }

    /// The identity for `token`: from the cache when present, unexpired and
    /// not revoked; otherwise from `verify`, whose success is then cached
    /// until the identity's `expires_at` (capped by the maximum TTL).
    ///
    /// The identity is checked against `revocations` at `now` on every call,
    /// hit or miss. A revoked cached entry is dropped.
    pub fn get_or_verify<E, F>(
        &self,
        token: &str,
        now: Timestamp,
        revocations: &RevocationSet,
        verify: F,
    ) -> Result<Arc<T>, CacheError<E>>
    where
        F: FnOnce(&str) -> Result<T, E>,
    {
        self.get_or_verify_with(token, now, revocations, verify, Arc::clone)
    }

    /// [`TokenCache::get_or_verify`], lending the entry to `with` instead
    /// of returning a new reference to it: a hit then writes no memory that
    /// other threads read (no reference count, no lock).
    pub fn get_or_verify_with<E, F, R>(
        &self,
        token: &str,
        now: Timestamp,
        revocations: &RevocationSet,
        verify: F,
        with: impl FnOnce(&Arc<T>) -> R,
    ) -> Result<R, CacheError<E>>
    where
        F: FnOnce(&str) -> Result<T, E>,
    {
        if token.len() > self.max_token_len {
            let identity = verify(token).map_err(CacheError::Verify)?;
            if let Some(reason) = revocations.check(identity.as_ref(), now) {
                return Err(CacheError::Revoked(reason));
            }
            return Ok(with(&Arc::new(identity)));
        }
        let key = self.token_key(token);
        for slot in self.window(key) {
            let guard = slot.load();
            let Some(entry) = guard.as_ref() else {
                continue;
            };
            if entry.key != key || !same_token(&entry.token, token.as_bytes()) {
                continue;
            }
            if now >= entry.expires_at {
                self.remove_entry(slot, entry);
                break;
            }
            let stripe = self.stripe();
            stripe.hits.fetch_add(1, Ordering::Relaxed);
            if let Some(reason) = revocations.check((*entry.identity).as_ref(), now) {
                self.remove_entry(slot, entry);
                stripe.revoked.fetch_add(1, Ordering::Relaxed);
                return Err(CacheError::Revoked(reason));
            }
            if !entry.referenced.load(Ordering::Relaxed) {
                entry.referenced.store(true, Ordering::Relaxed);
            }
            return Ok(with(&entry.identity));
        }
        self.stripe().misses.fetch_add(1, Ordering::Relaxed);
        // Verify outside any lock: other callers keep being served.
        let identity = verify(token).map_err(CacheError::Verify)?;
        if let Some(reason) = revocations.check(identity.as_ref(), now) {
            return Err(CacheError::Revoked(reason));
        }
        let identity = Arc::new(identity);
        self.insert_key(key, token, Arc::clone(&identity), now);
        Ok(with(&identity))
    }

    /// Caches an identity the host verified itself for `token`.
    pub fn insert(&self, token: &str, identity: T, now: Timestamp) {
        if token.len() <= self.max_token_len {
            self.insert_key(self.token_key(token), token, Arc::new(identity), now);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert_key(&self, key: Key, token: &str, identity: Arc<T>, now: Timestamp) {
        let cap = now.saturating_add(self.max_ttl);
        let expires_at = (*identity)
            .as_ref()
            .expires_at()
            .map_or(cap, |exp| exp.min(cap));
        if expires_at <= now {
            return;
        }
        let entry = Arc::new(Entry {
            key,
            token: token.as_bytes().into(),
            identity,
            expires_at,
            referenced: AtomicBool::new(false),
        });
        let mut count = self.lock();
        // Own key, else empty (below capacity), else expired, else CLOCK.
        let mut free = None;
        let mut expired = None;
        for slot in self.window(key) {
            match slot.load().as_ref() {
                Some(e) if e.key == key && same_token(&e.token, token.as_bytes()) => {
                    slot.store(Some(entry));
                    return;
                }
                None => {
                    free = free.or(Some(slot));
                }
                Some(e) if e.expires_at <= now => {
                    expired = expired.or(Some(slot));
                }
                Some(_) => {}
            }
        }
        if *count < self.capacity {
            if let Some(slot) = free {
                slot.store(Some(entry));
                *count += 1;
                return;
            }
        }
        let victim = expired
            .or_else(|| {
                self.window(key).find(|slot| {
                    slot.load()
                        .as_ref()
                        .is_some_and(|e| !e.referenced.swap(false, Ordering::Relaxed))
                })
            })
            .or_else(|| self.window(key).find(|slot| slot.load().is_some()));
        if let Some(slot) = victim {
            slot.store(Some(entry));
            self.stripe().evictions.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Full, and no entry in either window: evict the next entry after
        // the first window.
        let Some(free) = free else { return };
        let n = self.slots.len();
        let start = ((key >> 32) % n as u64) as usize;
        let (tail, head) = self.slots.split_at(start);
        let next = head
            .iter()
            .chain(tail)
            .skip(WINDOW)
            .find(|slot| slot.load().is_some());
        if let Some(slot) = next {
            slot.store(None);
            free.store(Some(entry));
            self.stripe().evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Empties `slot` if it still holds `entry`.
    fn remove_entry(&self, slot: &ArcSwapOption<Entry<T>>, entry: &Arc<Entry<T>>) {
        let mut count = self.lock();
        let still = slot
            .load()
            .as_ref()
            .is_some_and(|cur| Arc::ptr_eq(cur, entry));
        if still {
            slot.store(None);
            *count = count.saturating_sub(1);
        }
    }

    /// Drops the cached entry of `token`, if any.
    pub fn invalidate(&self, token: &str) {
        let key = self.token_key(token);
        let mut count = self.lock();
        // A token has one entry at most (inserts replace it in place).
        if let Some(slot) = self.window(key).find(|slot| {
            slot.load()
                .as_ref()
                .is_some_and(|e| e.key == key && same_token(&e.token, token.as_bytes()))
        }) {
            slot.store(None);
            *count = count.saturating_sub(1);
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        let mut count = self.lock();
        for slot in self.slots.iter() {
            slot.store(None);
        }
        *count = 0;
    }

    /// Number of cached entries (expired ones included until touched).
    pub fn len(&self) -> usize {
        *self.lock()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache's counters.
    pub fn stats(&self) -> CacheStats {
        let sum = |f: fn(&Stripe) -> &AtomicU64| {
            self.stats
                .iter()
                .map(|s| f(s).load(Ordering::Relaxed))
                .sum::<u64>()
        };
        CacheStats {
            hits: sum(|s| &s.hits),
            misses: sum(|s| &s.misses),
            evictions: sum(|s| &s.evictions),
            revoked: sum(|s| &s.revoked),
        }
    }
}

/// Whether `presented` is exactly the `stored` token: lengths first, then
/// every byte, in time independent of where they differ.
fn same_token(stored: &[u8], presented: &[u8]) -> bool {
    if stored.len() != presented.len() {
        return false;
    }
    // Whole 64-byte blocks, then the last 64 bytes (overlapping the blocks:
    // harmless for an equality test), so no byte-by-byte tail.
    let (Some(s_last), Some(p_last)) = (
        stored.last_chunk::<TOKEN_BLOCK>(),
        presented.last_chunk::<TOKEN_BLOCK>(),
    ) else {
        let diff = stored
            .iter()
            .zip(presented)
            .fold(0u8, |d, (x, y)| d | (x ^ y));
        return std::hint::black_box(diff) == 0;
    };
    let mut acc = [0u8; TOKEN_BLOCK];
    let (s_blocks, _) = stored.as_chunks::<TOKEN_BLOCK>();
    let (p_blocks, _) = presented.as_chunks::<TOKEN_BLOCK>();
    for (x, y) in s_blocks.iter().zip(p_blocks) {
        or_diff(&mut acc, x, y);
    }
    or_diff(&mut acc, s_last, p_last);
    let diff = acc.iter().fold(0u8, |d, a| d | a);
    std::hint::black_box(diff) == 0
}

/// Bytes compared per step by [`same_token`] (vector registers' multiple).
const TOKEN_BLOCK: usize = 64;

/// Accumulates the differing bits of `x` and `y` into `acc`.
fn or_diff(acc: &mut [u8; TOKEN_BLOCK], x: &[u8; TOKEN_BLOCK], y: &[u8; TOKEN_BLOCK]) {
    for ((a, x), y) in acc.iter_mut().zip(x).zip(y) {
        *a |= x ^ y;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;
    use proptest::prelude::*;
    use std::cell::Cell;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    #[test]
    fn a_thread_keeps_its_lane() {
        let here = thread_lane();
        assert!(here < LANES);
        assert_eq!(thread_lane(), here);
        let there = std::thread::spawn(|| (thread_lane(), thread_lane()))
            .join()
            .unwrap();
        assert!(there.0 < LANES);
        assert_eq!(there.0, there.1);
    }

    fn ident(sub: &str, exp: i64) -> Identity {
        let mut id = Identity::builder(sub, "https://idp", IdentityKind::Human);
        id.expires_at = Some(t(exp));
        id.issued_at = Some(t(0));
        id.token_id = Some(format!("jti-{sub}"));
        id.build()
    }

    #[test]
    fn keyed_hash_is_per_cache_and_stable() {
        let a = TokenCache::new(4, Duration::from_secs(60));
        let b = TokenCache::new(4, Duration::from_secs(60));
        let t = "eyJhbGciOiJFUzI1NiJ9.payload.signature";
        assert_eq!(a.token_key(t), a.token_key(t));
        assert_ne!(
            a.token_key(t),
            a.token_key("eyJhbGciOiJFUzI1NiJ9.payload.signaturf")
        );
        // Each cache draws its own secret key.
        assert_ne!(a.token_key(t), b.token_key(t));
    }

    #[test]
    fn only_the_exact_token_hits() {
        let cache = TokenCache::new(100, Duration::from_secs(3600));
        let none = RevocationSet::new();
        // Same length and same sampled bytes (the change at 100 lies outside
        // the first 32, middle 8 and last 16 bytes): same key, two entries.
        let a = format!("eyJhbGciOiJFUzI1NiJ9.{}", "x".repeat(780));
        let mut b = a.clone().into_bytes();
        b[100] = b'y';
        let b = String::from_utf8(b).unwrap();
        assert_eq!(cache.token_key(&a), cache.token_key(&b));
        let fail = |_: &str| Err::<Identity, ()>(());
        cache.insert(&a, ident("a", 100), t(1));
        assert_eq!(
            cache.get_or_verify(&b, t(2), &none, fail).unwrap_err(),
            CacheError::Verify(())
        );
        let ok_b = |_: &str| Ok::<_, ()>(ident("b", 100));
        assert_eq!(
            cache
                .get_or_verify(&b, t(2), &none, ok_b)
                .unwrap()
                .subject(),
            "b"
        );
        assert_eq!(cache.len(), 2);
        for (tok, sub) in [(&a, "a"), (&b, "b")] {
            let hit = cache.get_or_verify(tok, t(3), &none, fail).unwrap();
            assert_eq!(hit.subject(), sub);
        }
        // Shorter, longer and empty tokens never match.
        for other in [&a[..a.len() - 1], &format!("{a}x"), ""] {
            assert!(cache.get_or_verify(other, t(3), &none, fail).is_err());
        }
        cache.invalidate(&b);
        assert_eq!(cache.len(), 1);
        assert!(cache.get_or_verify(&a, t(4), &none, fail).is_ok());
        assert!(cache.get_or_verify(&b, t(4), &none, fail).is_err());
    }

    #[test]
    fn tokens_are_compared_whole() {
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 800, 809] {
            let a = vec![b'q'; len];
            assert!(same_token(&a, &a.clone()));
            for i in 0..len {
                let mut b = a.clone();
                b[i] = b'r';
                assert!(!same_token(&a, &b), "{len} {i}");
            }
            assert!(!same_token(&a, &[a.as_slice(), b"q"].concat()));
        }
    }

    proptest! {
        /// Any single-byte change of a cached token misses (goes to the
        /// verifier), wherever it falls, sampled bytes or not.
        #[test]
        fn a_changed_token_misses(
            token in "[A-Za-z0-9_.-]{1,1200}",
            at in any::<proptest::sample::Index>(),
            to in b'a'..=b'z',
        ) {
            let cache = TokenCache::new(8, Duration::from_secs(3600));
            let none = RevocationSet::new();
            cache.insert(&token, ident("s", 100), t(1));
            let mut changed = token.clone().into_bytes();
            let i = at.index(changed.len());
            prop_assume!(changed[i] != to);
            changed[i] = to;
            let changed = String::from_utf8(changed).unwrap();
            let fail = |_: &str| Err::<Identity, ()>(());
            prop_assert!(cache.get_or_verify(&changed, t(2), &none, fail).is_err());
            prop_assert!(cache.get_or_verify(&token, t(2), &none, fail).is_ok());
        }
    }

    #[test]
    fn large_caches_stay_within_capacity() {
        let cache = TokenCache::new(4096, Duration::from_secs(3600));
        assert_eq!(cache.slots.len(), 4 * 4096);
        let none = RevocationSet::new();
        let verify = |tok: &str| -> Result<Identity, ()> { Ok(ident(tok, 100)) };
        for i in 0..10_000 {
            let token = format!("token-{i}");
            cache.get_or_verify(&token, t(1), &none, verify).unwrap();
        }
        // A full cache holds exactly its capacity.
        assert_eq!(cache.len(), 4096);
        assert_eq!(
            cache.slots.iter().filter(|s| s.load().is_some()).count(),
            4096
        );
        let stats = cache.stats();
        assert_eq!(stats.misses, 10_000);
        assert_eq!(stats.evictions, 10_000 - cache.len() as u64);
        // The latest token is still cached: a hit, no verifier call.
        cache
            .get_or_verify("token-9999", t(2), &none, |_| -> Result<Identity, ()> {
                Err(())
            })
            .unwrap();
        assert_eq!(cache.stats().hits, 1);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn a_cache_filled_to_capacity_keeps_every_entry() {
        let cache = TokenCache::new(10_000, Duration::from_secs(3600));
        for i in 0..10_000 {
            cache.insert(
                &format!("eyJhbGciOiJFUzI1NiJ9.{i:08}{}", "x".repeat(780)),
                ident("s", 100),
                t(1),
            );
        }
        assert_eq!(cache.len(), 10_000);
        assert_eq!(cache.stats().evictions, 0);
        let none = RevocationSet::new();
        for i in 0..10_000 {
            let token = format!("eyJhbGciOiJFUzI1NiJ9.{i:08}{}", "x".repeat(780));
            let fail = |_: &str| Err::<Identity, ()>(());
            assert!(
                cache.get_or_verify(&token, t(2), &none, fail).is_ok(),
                "{token}"
            );
        }
        // One more evicts exactly one.
        cache.insert("token-new", ident("s", 100), t(1));
        assert_eq!(cache.len(), 10_000);
        assert_eq!(cache.stats().evictions, 1);
    }

    #[test]
    fn hits_lend_the_entry_and_threads_count_apart() {
        let cache = TokenCache::new(16, Duration::from_secs(3600));
        let none = RevocationSet::new();
        let ok = |tok: &str| Ok::<_, ()>(ident(tok, 1000));
        let first = cache
            .get_or_verify_with("tok", t(1), &none, ok, Arc::strong_count)
            .unwrap();
        // The cache's reference and the one being inserted.
        assert!(first >= 1);
        // A hit lends the cached entry: no new reference is taken.
        let lent = cache
            .get_or_verify_with("tok", t(2), &none, ok, Arc::strong_count)
            .unwrap();
        assert_eq!(lent, 1);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..100 {
                        cache.get_or_verify("tok", t(3), &none, ok).unwrap();
                    }
                });
            }
        });
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (301, 1));
    }

    #[test]
    fn hit_skips_verifier_until_exp() {
        let cache = TokenCache::new(10, Duration::from_secs(3600));
        let none = RevocationSet::new();
        let calls = Cell::new(0);
        let verify = |tok: &str| -> Result<Identity, ()> {
            calls.set(calls.get() + 1);
            Ok(ident(tok, 100))
        };
        let a = cache.get_or_verify("tok-a", t(10), &none, verify).unwrap();
        let b = cache.get_or_verify("tok-a", t(50), &none, verify).unwrap();
        assert_eq!(calls.get(), 1);
        assert!(Arc::ptr_eq(&a, &b));
        // At exp the entry is gone and the verifier decides again.
        let _ = cache.get_or_verify("tok-a", t(100), &none, |_| Err::<Identity, _>("expired"));
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.stats().hits, 1);
    }

    #[test]
    fn revoked_identity_never_returned() {
        let cache = TokenCache::new(10, Duration::from_secs(3600));
        let mut revs = RevocationSet::new();
        let ok = |_: &str| Ok::<_, ()>(ident("alice", 1000));
        cache.get_or_verify("tok", t(1), &revs, ok).unwrap();
        revs.revoke_token("jti-alice", t(1000)).unwrap();
        let e = cache.get_or_verify("tok", t(2), &revs, ok).unwrap_err();
        assert_eq!(e, CacheError::Revoked(RevocationReason::TokenId));
        assert_eq!(cache.len(), 0);
        // A fresh verification of a revoked identity is refused too.
        let e = cache.get_or_verify("tok", t(3), &revs, ok).unwrap_err();
        assert_eq!(e, CacheError::Revoked(RevocationReason::TokenId));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn failures_not_cached_and_ttl_capped() {
        let cache = TokenCache::new(10, Duration::from_secs(60));
        let none = RevocationSet::new();
        let e = cache.get_or_verify("bad", t(0), &none, |_| Err::<Identity, _>("nope"));
        assert_eq!(e.unwrap_err(), CacheError::Verify("nope"));
        assert!(cache.is_empty());
        let ok = |_: &str| Ok::<_, ()>(ident("x", 10_000));
        cache.get_or_verify("good", t(0), &none, ok).unwrap();
        let fail = |_: &str| Err::<Identity, ()>(());
        assert!(cache.get_or_verify("good", t(59), &none, fail).is_ok());
        assert!(cache.get_or_verify("good", t(60), &none, fail).is_err());
    }

    #[test]
    fn bounded_with_clock_eviction() {
        let cache = TokenCache::new(3, Duration::from_secs(3600));
        let none = RevocationSet::new();
        let ok = |tok: &str| Ok::<_, ()>(ident(tok, 1000));
        for tok in ["a", "b", "c"] {
            cache.get_or_verify(tok, t(1), &none, ok).unwrap();
        }
        // Touch a and c: b is the one not referenced.
        cache.get_or_verify("a", t(2), &none, ok).unwrap();
        cache.get_or_verify("c", t(2), &none, ok).unwrap();
        cache.get_or_verify("d", t(3), &none, ok).unwrap();
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.stats().evictions, 1);
        let fail = |_: &str| Err::<Identity, ()>(());
        assert!(cache.get_or_verify("a", t(4), &none, fail).is_ok());
        assert!(cache.get_or_verify("c", t(4), &none, fail).is_ok());
        assert!(cache.get_or_verify("d", t(4), &none, fail).is_ok());
        assert!(cache.get_or_verify("b", t(4), &none, fail).is_err());
        for i in 0..50 {
            cache.insert(&format!("k{i}"), ident("k", 1000), t(5));
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn oversized_tokens_bypass_and_invalidate_works() {
        let cache = TokenCache::new(10, Duration::from_secs(60)).with_max_token_len(8);
        let none = RevocationSet::new();
        let ok = |_: &str| Ok::<_, ()>(ident("x", 100));
        cache.get_or_verify("0123456789", t(0), &none, ok).unwrap();
        assert!(cache.is_empty());
        cache.get_or_verify("short", t(0), &none, ok).unwrap();
        assert_eq!(cache.len(), 1);
        cache.invalidate("short");
        assert!(cache.is_empty());
        let dbg = format!("{cache:?}");
        assert!(!dbg.contains("short"));
    }
}
