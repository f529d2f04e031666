//! A bounded cache of verified tokens, so a repeated token costs a lookup
//! instead of a signature check.
//!
//! Entries are keyed by a 128-bit SipHash-1-3 of the token under a secret
//! random key drawn when the cache is built (the token itself is never
//! stored). The key never leaves the cache and no hash value is ever
//! exposed, so a client that wants another token's cached identity must hit
//! its 128-bit hash blind: with `n` cached entries each forged token succeeds
//! with probability about `n / 2^128` (below `2^-100` for a million
//! entries), and accidental collisions among `n` entries have probability
//! about `n^2 / 2^129`. SipHash is a keyed pseudo-random function designed
//! for exactly this setting, and costs a fraction of SHA-256 on ~1 KB tokens.
//! Entries expire at the token's `exp` (or after a maximum time to live,
//! whichever comes first), and are evicted by the CLOCK algorithm (an LRU
//! approximation) when the cache is full. Every hit is checked against the
//! caller's [`RevocationSet`]: a revoked identity is never returned. The cache
//! reads no clock: `now` is passed in.
//!
//! Large caches are split into up to 16 independently locked shards (each
//! of at least 256 entries), chosen by the token's keyed hash, so threads
//! deciding concurrently rarely wait for one another; eviction is per
//! shard. The total never exceeds the capacity given.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use siphasher::sip128::SipHasher13;
use std::hash::BuildHasher;

use super::revocation::{FastMap, FastState};
use super::{Identity, RevocationReason, RevocationSet};
use crate::Timestamp;

/// Tokens longer than this bypass the cache (default 8 KiB): they go
/// straight to the verifier, which rejects them by size without hashing.
pub const DEFAULT_CACHE_MAX_TOKEN_LEN: usize = 8 * 1024;

type Key = u128;

struct Slot<T> {
    key: Key,
    identity: Arc<T>,
    expires_at: Timestamp,
    referenced: bool,
}

struct Inner<T> {
    index: FastMap<Key, usize>,
    slots: Vec<Slot<T>>,
    hand: usize,
    stats: CacheStats,
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

impl<T> Default for Inner<T> {
    fn default() -> Self {
        Inner {
            index: FastMap::default(),
            slots: Vec::new(),
            hand: 0,
            stats: CacheStats::default(),
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
    /// The shards (never empty), one chosen per token by its key.
    shards: Box<[Shard<T>]>,
    hasher: SipHasher13,
    capacity: usize,
    /// Entries per shard: `capacity / shards.len()`, at least 1.
    shard_capacity: usize,
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

/// One independently locked part of the cache, on its own cache lines so
/// that threads hitting different shards never contend.
#[repr(align(128))]
struct Shard<T>(Mutex<Inner<T>>);

/// The most shards a cache is split into.
const MAX_SHARDS: usize = 16;
/// A shard holds at least this many entries, so small caches keep one
/// shard (and exact least-recently-used eviction over all their entries).
const MIN_SHARD_CAPACITY: usize = 256;

/// How many shards a cache of `capacity` entries gets: a power of two, at
/// most [`MAX_SHARDS`], each shard holding at least [`MIN_SHARD_CAPACITY`].
fn shard_count(capacity: usize) -> usize {
    let mut n = 1;
    while n < MAX_SHARDS && capacity / (n * 2) >= MIN_SHARD_CAPACITY {
        n *= 2;
    }
    n
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
        let shards = shard_count(capacity);
        let shard_capacity = (capacity / shards).max(1);
        TokenCache {
            shards: (0..shards)
                .map(|_| {
                    Shard(Mutex::new(Inner {
                        index: FastMap::with_capacity_and_hasher(
                            shard_capacity,
                            FastState::default(),
                        ),
                        slots: Vec::with_capacity(shard_capacity),
                        ..Inner::default()
                    }))
                })
                .collect(),
            hasher: random_sip_key(),
            capacity,
            shard_capacity,
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

    /// The secret-keyed 128-bit hash a token is cached under.
    fn token_key(&self, token: &str) -> Key {
        self.hasher.hash(token.as_bytes()).as_u128()
    }

    /// The shard holding `key` (chosen by the key's high bits; the shard's
    /// own map indexes by the low ones), locked.
    fn lock(&self, key: &Key) -> MutexGuard<'_, Inner<T>> {
        let i = (*key >> 64) as usize % self.shards.len();
        // In bounds: the list is built with at least one shard and `i` is
        // reduced modulo its length.
        #[allow(clippy::indexing_slicing)]
        lock_shard(&self.shards[i])
    }

    /// Every shard, locked one at a time in order.
    fn lock_all(&self) -> impl Iterator<Item = MutexGuard<'_, Inner<T>>> {
        self.shards.iter().map(lock_shard)
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
        if token.len() > self.max_token_len {
            let identity = verify(token).map_err(CacheError::Verify)?;
            if let Some(reason) = revocations.check(identity.as_ref(), now) {
                return Err(CacheError::Revoked(reason));
            }
            return Ok(Arc::new(identity));
        }
        let key = self.token_key(token);
        if let Some(identity) = self.lookup(&key, now) {
            if let Some(reason) = revocations.check((*identity).as_ref(), now) {
                let mut inner = self.lock(&key);
                inner.remove(&key);
                inner.stats.revoked += 1;
                return Err(CacheError::Revoked(reason));
            }
            return Ok(identity);
        }
        // Verify outside the lock: other callers keep being served.
        let identity = verify(token).map_err(CacheError::Verify)?;
        if let Some(reason) = revocations.check(identity.as_ref(), now) {
            return Err(CacheError::Revoked(reason));
        }
        let identity = Arc::new(identity);
        self.insert_key(key, Arc::clone(&identity), now);
        Ok(identity)
    }

    fn lookup(&self, key: &Key, now: Timestamp) -> Option<Arc<T>> {
        let mut inner = self.lock(key);
        let found = inner.index.get(key).copied();
        let Some(i) = found else {
            inner.stats.misses += 1;
            return None;
        };
        let hit = match inner.slots.get_mut(i) {
            Some(slot) if now < slot.expires_at => {
                slot.referenced = true;
                Some(Arc::clone(&slot.identity))
            }
            _ => None,
        };
        match hit {
            Some(id) => {
                inner.stats.hits += 1;
                Some(id)
            }
            None => {
                inner.remove(key);
                inner.stats.misses += 1;
                None
            }
        }
    }

    /// Caches an identity the host verified itself for `token`.
    pub fn insert(&self, token: &str, identity: T, now: Timestamp) {
        if token.len() <= self.max_token_len {
            self.insert_key(self.token_key(token), Arc::new(identity), now);
        }
    }

    fn insert_key(&self, key: Key, identity: Arc<T>, now: Timestamp) {
        let cap = now.saturating_add(self.max_ttl);
        let expires_at = (*identity)
            .as_ref()
            .expires_at
            .map_or(cap, |exp| exp.min(cap));
        if expires_at <= now {
            return;
        }
        let slot = Slot {
            key,
            identity,
            expires_at,
            referenced: false,
        };
        let mut inner = self.lock(&key);
        if let Some(i) = inner.index.get(&key).copied() {
            if let Some(s) = inner.slots.get_mut(i) {
                *s = slot;
            }
            return;
        }
        if inner.slots.len() < self.shard_capacity {
            let i = inner.slots.len();
            inner.slots.push(slot);
            inner.index.insert(key, i);
            return;
        }
        let victim = inner.find_victim(now);
        let old_key = inner.slots.get(victim).map(|s| s.key);
        if let Some(old) = old_key {
            inner.index.remove(&old);
            inner.stats.evictions += 1;
        }
        if let Some(s) = inner.slots.get_mut(victim) {
            *s = slot;
            inner.index.insert(key, victim);
        }
    }

    /// Drops the cached entry of `token`, if any.
    pub fn invalidate(&self, token: &str) {
        let key = self.token_key(token);
        self.lock(&key).remove(&key);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        for mut inner in self.lock_all() {
            inner.index.clear();
            inner.slots.clear();
            inner.hand = 0;
        }
    }

    /// Number of cached entries (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.lock_all().map(|inner| inner.slots.len()).sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache's counters.
    pub fn stats(&self) -> CacheStats {
        self.lock_all()
            .fold(CacheStats::default(), |mut total, inner| {
                let s = inner.stats;
                total.hits += s.hits;
                total.misses += s.misses;
                total.evictions += s.evictions;
                total.revoked += s.revoked;
                total
            })
    }
}

/// Locks one shard. The critical sections cannot panic; the data is
/// recovered if the lock is poisoned anyway.
fn lock_shard<T>(shard: &Shard<T>) -> MutexGuard<'_, Inner<T>> {
    shard.0.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T> Inner<T> {
    /// CLOCK: the first expired slot, or the first not referenced since the
    /// hand last passed (clearing reference bits on the way).
    fn find_victim(&mut self, now: Timestamp) -> usize {
        let n = self.slots.len();
        for _ in 0..2 * n {
            let i = self.hand % n.max(1);
            self.hand = (i + 1) % n.max(1);
            if let Some(s) = self.slots.get_mut(i) {
                if s.expires_at <= now || !s.referenced {
                    return i;
                }
                s.referenced = false;
            }
        }
        self.hand
    }

    fn remove(&mut self, key: &Key) {
        let Some(i) = self.index.remove(key) else {
            return;
        };
        if i >= self.slots.len() {
            return;
        }
        self.slots.swap_remove(i);
        if let Some(moved) = self.slots.get(i).map(|s| s.key) {
            self.index.insert(moved, i);
        }
        if self.hand >= self.slots.len() {
            self.hand = 0;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;
    use std::cell::Cell;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    fn ident(sub: &str, exp: i64) -> Identity {
        let mut id = Identity::new(sub, "https://idp", IdentityKind::Human);
        id.expires_at = Some(t(exp));
        id.issued_at = Some(t(0));
        id.token_id = Some(format!("jti-{sub}"));
        id
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
    fn large_caches_are_sharded_and_stay_within_capacity() {
        assert_eq!(shard_count(1), 1);
        assert_eq!(shard_count(511), 1);
        assert_eq!(shard_count(512), 2);
        assert_eq!(shard_count(4096), 16);
        assert_eq!(shard_count(1 << 20), 16);

        let cache = TokenCache::new(4096, Duration::from_secs(3600));
        assert_eq!(cache.shards.len(), 16);
        let none = RevocationSet::new();
        let verify = |tok: &str| -> Result<Identity, ()> { Ok(ident(tok, 100)) };
        for i in 0..10_000 {
            let token = format!("token-{i}");
            cache.get_or_verify(&token, t(1), &none, verify).unwrap();
        }
        assert!(cache.len() <= 4096, "len {}", cache.len());
        let stats = cache.stats();
        assert_eq!(stats.misses, 10_000);
        assert_eq!(stats.evictions, 10_000 - cache.len() as u64);
        // Every shard took part.
        assert!(cache.lock_all().all(|inner| !inner.slots.is_empty()));
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
