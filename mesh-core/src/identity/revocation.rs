//! Revocations that spread between processes and converge.
//!
//! A [`RevocationSet`] holds four maps: token ids (`jti`), subjects (every
//! credential issued before a time), session ids (`sid`) and devices. Each
//! entry carries its own expiry, after which it no longer matters (the
//! credentials it covered have expired too) and [`RevocationSet::prune`]
//! drops it.
//!
//! Sets form a state-based CRDT: [`RevocationSet::merge`] takes the union of
//! the keys and, for a key present on both sides, the later `before` and the
//! later expiry. Merge is commutative, associative and idempotent, so every
//! process that has seen the same updates holds the same set, whatever the
//! order and however often updates were delivered. There is no un-revoke:
//! entries only go away by expiring.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

use super::swar::{between, eq7, fold_mul, for_each_word, tail_word, word, HIGHS, LOW7, ONES};
use super::{ActorKey, Identity, IdentityError, IdentityKind};
use crate::Timestamp;

/// The hasher of the identity stores' hot maps: aHash (fast on short
/// strings) keyed with per-map random seeds drawn from the standard
/// library's randomly keyed SipHash, so bucket positions cannot be predicted
/// from outside (hash flooding).
#[derive(Clone)]
pub(crate) struct FastState(ahash::RandomState);

impl Default for FastState {
    fn default() -> Self {
        let std_state = std::collections::hash_map::RandomState::new();
        let seed = |i: u64| std_state.hash_one(i);
        FastState(ahash::RandomState::with_seeds(
            seed(1),
            seed(2),
            seed(3),
            seed(4),
        ))
    }
}

impl BuildHasher for FastState {
    type Hasher = ahash::AHasher;
    fn build_hasher(&self) -> ahash::AHasher {
        self.0.build_hasher()
    }
}

/// A hash map with [`FastState`] hashing.
pub(crate) type FastMap<K, V> = HashMap<K, V, FastState>;

/// Longest key (token id, subject, session id, device id) accepted, in bytes.
pub const MAX_REVOCATION_KEY_LEN: usize = 1024;
/// Longest e-mail/UPN claim lower-cased for lookup without allocating.
const MAX_FOLD_LEN: usize = 320;

/// E-mail/UPN claims up to this length are lower-cased in a smaller buffer.
const SHORT_FOLD_LEN: usize = 64;

/// Byte classes of a subject name (see `RevocationSet::subject_hit`).
#[cfg(test)]
const UPPER: u8 = 1;
#[cfg(test)]
const WIDE: u8 = 2;
#[cfg(test)]
const ODD: u8 = 4;
/// `@`; the highest class bit, so `class >> 3` counts it.
#[cfg(test)]
const AT: u8 = 8;
/// The class of each byte: ASCII upper case, non-ASCII, `/`, `\\` or ASCII
/// whitespace (as `u8::is_ascii_whitespace`), `@`. The reference of
/// [`classify`], which computes the same eight bytes at a time.
// Indexes are < 256 in this const context (checked at compile time).
#[cfg(test)]
#[allow(clippy::indexing_slicing)]
const BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_uppercase() {
            UPPER
        } else if c >= 0x80 {
            WIDE
        } else if c == b'/' || c == b'\\' || c.is_ascii_whitespace() {
            ODD
        } else if c == b'@' {
            AT
        } else {
            0
        };
        b += 1;
    }
    t
};

/// What [`BYTE_CLASS`] says of a name, as far as the shortcuts of
/// `RevocationSet::subject_hit` need it.
struct ByteClasses {
    /// Some byte is ASCII upper case.
    upper: bool,
    /// Some byte is not ASCII; then the other fields are not meaningful.
    wide: bool,
    /// Some byte is of the odd class, or any other byte below `!`: a
    /// superset, which only sends more names down the general path.
    odd: bool,
    /// Exactly one byte is `@`.
    one_at: bool,
}

/// Classifies `bytes` eight at a time, handing `each` every word with ASCII
/// upper case folded to lower case (the last word zero-padded), so the
/// folded name is hashed in the same pass.
fn classify(bytes: &[u8], mut each: impl FnMut(u64)) -> ByteClasses {
    let (mut upper, mut any, mut odd, mut ats, mut many_ats) = (0u64, 0u64, 0u64, 0u64, 0u64);
    // `real` masks the zero padding of the last word out of `odd`.
    let mut add = |w: u64, real: u64| {
        let a = w & LOW7;
        any |= w;
        let up = between(w, b'@', b'[');
        upper |= up;
        // 0x80 >> 2 is 0x20, the case bit.
        each(w | (up >> 2));
        // Below `!`: `0x7f + 0x21 - a >= 0x80` exactly when `a < 0x21`.
        let low = (ONES * (0x7f + 0x21) - a) & !w & HIGHS;
        odd |= (low | eq7(a, b'/') | eq7(a, b'\\')) & real;
        let at = eq7(a, b'@');
        // Two `@` in this word, or one here and one in an earlier word
        // (without branches: `seen` is all ones once an `@` was seen).
        let seen = 0u64.wrapping_sub(u64::from(ats != 0));
        many_ats |= (at & at.wrapping_sub(1)) | (at & seen);
        ats |= at;
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        add(word(chunk), u64::MAX);
    }
    let r = chunks.remainder().len();
    if r != 0 {
        add(tail_word(bytes), u64::MAX >> (8 * (8 - r)));
    }
    ByteClasses {
        upper: upper != 0,
        wide: any & HIGHS != 0,
        odd: odd != 0,
        one_at: ats != 0 && many_ats == 0,
    }
}

/// `src` with ASCII upper case folded to lower case, into `dst` (same length).
fn fold_ascii(src: &[u8], dst: &mut [u8]) {
    let mut from = src.chunks_exact(8);
    let mut to = dst.chunks_exact_mut(8);
    for (s, d) in (&mut from).zip(&mut to) {
        let w = word(s);
        if let Ok(d) = <&mut [u8; 8]>::try_from(d) {
            // 0x80 >> 2 is 0x20, the case bit.
            *d = (w | (between(w, b'@', b'[') >> 2)).to_le_bytes();
        }
    }
    for (s, d) in from.remainder().iter().zip(to.into_remainder()) {
        *d = s.to_ascii_lowercase();
    }
}

/// Whether `name` starts with `mailto:`, `arn:` or `s-1-` in any case: the
/// prefixes after which its actor key is not the name itself or its lower
/// case.
fn special_prefix(name: &[u8]) -> bool {
    let head = name.get(..8).map_or_else(|| tail_word(name), word);
    special_head(head | (between(head, b'@', b'[') >> 2))
}

/// [`special_prefix`] of a name whose first eight bytes (zero-padded),
/// ASCII lower-cased, are `head`.
fn special_head(head: u64) -> bool {
    (head & 0x00ff_ffff_ffff_ffff) == word_of(b"mailto:\0")
        || (head & 0xffff_ffff) == word_of(b"arn:\0\0\0\0")
        || (head & 0xffff_ffff) == word_of(b"s-1-\0\0\0\0")
}

/// Eight bytes as a little-endian word.
const fn word_of(bytes: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*bytes)
}

/// Claim maps up to this size are searched by a scan, not by hashing.
const SCAN_CLAIMS: usize = 16;

/// The `email` and `upn` claims, when strings. A token's few remaining
/// claims are scanned (two string compares each), cheaper than hashing both
/// names with the map's SipHash.
#[inline]
fn email_and_upn(claims: &serde_json::Map<String, Value>) -> [Option<&str>; 2] {
    if claims.len() > SCAN_CLAIMS {
        return ["email", "upn"].map(|n| claims.get(n).and_then(Value::as_str));
    }
    let mut found = [None, None];
    for (k, v) in claims {
        let slot = match k.as_str() {
            "email" => found.get_mut(0),
            "upn" => found.get_mut(1),
            _ => None,
        };
        if let Some(slot) = slot {
            *slot = v.as_str();
        }
    }
    found
}

/// Why an identity is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// Its token id (`jti`, or an API key's public id) is revoked.
    TokenId,
    /// Its subject is revoked for credentials issued before a time.
    Subject,
    /// Its session (`sid`) is revoked.
    Session,
    /// The device it comes from is revoked.
    Device,
}

impl RevocationReason {
    /// The reason's stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RevocationReason::TokenId => "token_id",
            RevocationReason::Subject => "subject",
            RevocationReason::Session => "session",
            RevocationReason::Device => "device",
        }
    }
}

/// One revocation: what it covers and until when it must be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RevocationEntry {
    /// Credentials issued strictly before this instant are revoked
    /// ([`Timestamp::MAX`]: all of them). Credentials without an issue time
    /// are always covered (fail closed).
    pub before: Timestamp,
    /// When the entry stops mattering and may be pruned: set it to at least
    /// the longest lifetime of the credentials it must cover.
    pub expires_at: Timestamp,
}

impl RevocationEntry {
    fn join(&mut self, other: RevocationEntry) {
        self.before = self.before.max(other.before);
        self.expires_at = self.expires_at.max(other.expires_at);
    }

    fn covers(&self, issued_at: Option<Timestamp>, now: Timestamp) -> bool {
        now < self.expires_at && issued_at.is_none_or(|iat| iat < self.before)
    }
}

/// A mergeable set of revocations (see the module documentation).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationSet {
    /// Revoked token ids (`jti`).
    #[serde(default)]
    tokens: FastMap<String, RevocationEntry>,
    /// Revoked subjects, by canonical actor key.
    #[serde(default)]
    subjects: FastMap<String, RevocationEntry>,
    /// Revoked session ids (`sid`).
    #[serde(default)]
    sessions: FastMap<String, RevocationEntry>,
    /// Revoked device ids.
    #[serde(default)]
    devices: FastMap<String, RevocationEntry>,
    /// Pre-check over every key above: a miss proves absence, so a
    /// non-revoked identity usually touches no map at all.
    #[serde(skip)]
    filter: PresenceFilter,
}

impl PartialEq for RevocationSet {
    fn eq(&self, other: &Self) -> bool {
        self.tokens == other.tokens
            && self.subjects == other.subjects
            && self.sessions == other.sessions
            && self.devices == other.devices
    }
}

impl Eq for RevocationSet {}

const TAG_TOKEN: u8 = 1;
const TAG_SUBJECT: u8 = 2;
const TAG_SESSION: u8 = 3;
const TAG_DEVICE: u8 = 4;
/// Filter bits per key (three bits set per key in one 64-bit word: about
/// 1 % false positives).
const FILTER_BITS_PER_KEY: usize = 16;
const FILTER_MIN_WORDS: usize = 64;

/// A blocked Bloom filter over `(map tag, key)`: each key sets three bits of
/// one 64-bit word chosen by a keyed hash, so a probe reads one word. It
/// only ever over-approximates the maps (entries removed by pruning may
/// still answer "maybe" until the next rebuild), and with no words at all —
/// not built yet, e.g. right after deserialization — it answers "maybe" to
/// everything, so it can never hide a revocation.
#[derive(Clone, Default)]
struct PresenceFilter {
    words: Vec<u64>,
    /// Keys added since the last rebuild, plus the keys it was built from.
    items: usize,
    seeds: FilterSeeds,
}

/// The random keys of [`PresenceFilter::hash`], drawn per set from the
/// standard library's randomly keyed SipHash.
///
/// The filter only ever decides whether a map is consulted: a lookup an
/// attacker makes collide in it costs one keyed map lookup, as without the
/// filter, so a short keyed multiply-fold hash is enough here (the maps keep
/// their flooding-resistant hasher).
#[derive(Clone, Copy)]
struct FilterSeeds([u64; 3]);

impl Default for FilterSeeds {
    fn default() -> Self {
        let std_state = std::collections::hash_map::RandomState::new();
        let seed = |i: u64| std_state.hash_one(i);
        // An odd multiplier never zeroes a non-zero word.
        FilterSeeds([seed(1), seed(2) | 1, seed(3) | 1])
    }
}

impl fmt::Debug for PresenceFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresenceFilter")
            .field("words", &self.words.len())
            .field("items", &self.items)
            .finish()
    }
}

impl PresenceFilter {
    /// A keyed hash of `(tag, key)`: eight bytes per multiply.
    fn hash(&self, tag: u8, key: &[u8]) -> u64 {
        let mut h = self.hash_start(tag, key.len());
        for_each_word(key, |w| h = self.hash_word(h, w));
        self.hash_end(h)
    }

    /// [`PresenceFilter::hash`] in steps: the start for a key of `len`
    /// bytes, ...
    fn hash_start(&self, tag: u8, len: usize) -> u64 {
        let [k0, k1, _] = self.seeds.0;
        // The length and the tag are mixed in first, so keys that differ
        // only by trailing zero bytes, or only by map, hash apart.
        fold_mul(k0 ^ (len as u64) ^ (u64::from(tag) << 56), k1)
    }

    /// ... each word of the key (the last one zero-padded), ...
    fn hash_word(&self, h: u64, w: u64) -> u64 {
        let [_, k1, _] = self.seeds.0;
        fold_mul(h ^ w, k1)
    }

    /// ... and the end.
    fn hash_end(&self, h: u64) -> u64 {
        let [_, _, k2] = self.seeds.0;
        fold_mul(h, k2)
    }

    /// The word index and the three-bit mask of `hash` (`words` non-empty,
    /// a power of two).
    fn slot(&self, hash: u64) -> (usize, u64) {
        let mask =
            (1u64 << (hash & 63)) | (1u64 << ((hash >> 6) & 63)) | (1u64 << ((hash >> 12) & 63));
        let index = ((hash >> 32) as usize) & (self.words.len().wrapping_sub(1));
        (index, mask)
    }

    /// `false` only if `(tag, key)` is certainly in no map.
    fn may_contain(&self, tag: u8, key: &[u8]) -> bool {
        self.words.is_empty() || self.may_contain_hash(self.hash(tag, key))
    }

    /// `false` only if the key of `hash` (its [`PresenceFilter::hash`]) is
    /// certainly in no map.
    fn may_contain_hash(&self, hash: u64) -> bool {
        let (i, mask) = self.slot(hash);
        self.words.get(i).is_none_or(|w| w & mask == mask)
    }

    fn add_hash(&mut self, hash: u64) {
        let (i, mask) = self.slot(hash);
        if let Some(w) = self.words.get_mut(i) {
            *w |= mask;
        }
    }
}

impl RevocationSet {
    /// Records a key just inserted into one of the maps; grows (rebuilding
    /// from all maps) when the filter gets too full.
    fn filter_add(&mut self, tag: u8, key: &str) {
        self.filter.items += 1;
        if self.filter.items.saturating_mul(FILTER_BITS_PER_KEY) > self.filter.words.len() * 64 {
            self.rebuild_filter();
            return;
        }
        let h = self.filter.hash(tag, key.as_bytes());
        self.filter.add_hash(h);
    }

    /// Rebuilds the filter from the maps, sized for twice their keys.
    fn rebuild_filter(&mut self) {
        self.rebuild_filter_for(self.len());
    }

    /// Rebuilds the filter from the maps, sized for twice `n` keys.
    fn rebuild_filter_for(&mut self, n: usize) {
        let held = self.len();
        let words = (n.saturating_mul(2 * FILTER_BITS_PER_KEY) / 64)
            .max(FILTER_MIN_WORDS)
            .next_power_of_two();
        let mut filter = PresenceFilter {
            words: vec![0; words],
            items: held,
            seeds: self.filter.seeds,
        };
        for (tag, map) in [
            (TAG_TOKEN, &self.tokens),
            (TAG_SUBJECT, &self.subjects),
            (TAG_SESSION, &self.sessions),
            (TAG_DEVICE, &self.devices),
        ] {
            for k in map.keys() {
                let h = filter.hash(tag, k.as_bytes());
                filter.add_hash(h);
            }
        }
        self.filter = filter;
    }

    /// Looks `key` up in the map of `tag` behind the filter.
    #[inline]
    fn entry(&self, tag: u8, key: &str) -> Option<&RevocationEntry> {
        if !self.filter.may_contain(tag, key.as_bytes()) {
            return None;
        }
        let map = match tag {
            TAG_TOKEN => &self.tokens,
            TAG_SUBJECT => &self.subjects,
            TAG_SESSION => &self.sessions,
            _ => &self.devices,
        };
        map.get(key)
    }
}

fn check_key(field: &'static str, key: &str) -> Result<(), IdentityError> {
    if key.is_empty() {
        return Err(IdentityError::InvalidRevocation {
            field,
            reason: "must not be empty",
        });
    }
    if key.len() > MAX_REVOCATION_KEY_LEN {
        return Err(IdentityError::InvalidRevocation {
            field,
            reason: "longer than 1024 bytes",
        });
    }
    Ok(())
}

/// Joins `entry` into `map[key]`; `true` if the key is new.
fn upsert(map: &mut FastMap<String, RevocationEntry>, key: &str, entry: RevocationEntry) -> bool {
    match map.get_mut(key) {
        Some(e) => {
            e.join(entry);
            false
        }
        None => {
            map.insert(key.to_owned(), entry);
            true
        }
    }
}

impl RevocationSet {
    /// An empty set.
    pub fn new() -> Self {
        RevocationSet::default()
    }

    /// Revokes the token with id `jti`, keeping the entry until `expires_at`
    /// (the token's own `exp` is enough). Token ids are matched across
    /// issuers: a `jti` reused by another issuer is revoked too.
    pub fn revoke_token(&mut self, jti: &str, expires_at: Timestamp) -> Result<(), IdentityError> {
        check_key("jti", jti)?;
        let entry = RevocationEntry {
            before: Timestamp::MAX,
            expires_at,
        };
        if upsert(&mut self.tokens, jti, entry) {
            self.filter_add(TAG_TOKEN, jti);
        }
        Ok(())
    }

    /// Revokes every credential of `subject` issued before `before`, keeping
    /// the entry until `expires_at` (at least `before` plus the longest token
    /// lifetime). `subject` is canonicalized as an [`ActorKey`]; it matches
    /// an identity's `subject`, or its `email`/`upn` claim (case-insensitive
    /// for e-mail addresses).
    pub fn revoke_subject(
        &mut self,
        subject: &str,
        before: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), IdentityError> {
        check_key("subject", subject)?;
        let key = ActorKey::from_identifier(subject)?;
        if upsert(
            &mut self.subjects,
            key.as_str(),
            RevocationEntry { before, expires_at },
        ) {
            self.filter_add(TAG_SUBJECT, key.as_str());
        }
        Ok(())
    }

    /// Revokes every credential of session `sid` until `expires_at`.
    pub fn revoke_session(
        &mut self,
        sid: &str,
        expires_at: Timestamp,
    ) -> Result<(), IdentityError> {
        check_key("session_id", sid)?;
        let entry = RevocationEntry {
            before: Timestamp::MAX,
            expires_at,
        };
        if upsert(&mut self.sessions, sid, entry) {
            self.filter_add(TAG_SESSION, sid);
        }
        Ok(())
    }

    /// Revokes credentials issued before `before` that come from device
    /// `device_id` (or are that device), keeping the entry until `expires_at`.
    pub fn revoke_device(
        &mut self,
        device_id: &str,
        before: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), IdentityError> {
        check_key("device_id", device_id)?;
        if upsert(
            &mut self.devices,
            device_id,
            RevocationEntry { before, expires_at },
        ) {
            self.filter_add(TAG_DEVICE, device_id);
        }
        Ok(())
    }

    /// Whether `identity` is revoked at `now`, and why.
    ///
    /// Looks up the token id, session id, device id and subject (the subject
    /// itself and its `email`/`upn` claims); allocates nothing. The usual
    /// identity, revoked by none of them, is cleared by the presence filter
    /// alone: every key hashed once, the probes independent of each other.
    pub fn check(&self, identity: &Identity, now: Timestamp) -> Option<RevocationReason> {
        if self.filter_clears(identity) {
            return None;
        }
        self.check_maps(identity, now)
    }

    /// `true` when the presence filter proves that no map holds a key of
    /// `identity` (so it is not revoked); `false` when it cannot (no
    /// filter, a probe answering "maybe", a subject whose canonical form is
    /// neither itself nor its ASCII lower case).
    ///
    /// The probes' answers are combined without branching on them, so their
    /// reads of the filter (one word each, in memory far apart when the set
    /// is large) are all under way at once.
    fn filter_clears(&self, identity: &Identity) -> bool {
        let filter = &self.filter;
        if filter.words.is_empty() {
            return false;
        }
        let probe = |tag: u8, key: Option<&str>| {
            key.is_some_and(|k| filter.may_contain_hash(filter.hash(tag, k.as_bytes())))
        };
        let mut maybe = false;
        if !self.tokens.is_empty() {
            maybe |= probe(TAG_TOKEN, identity.token_id());
        }
        if !self.sessions.is_empty() {
            maybe |= probe(TAG_SESSION, identity.session_id());
        }
        if !self.devices.is_empty() {
            maybe |= probe(TAG_DEVICE, identity.device().map(|d| d.device_id.as_str()));
            let own = (identity.kind() == IdentityKind::Device).then_some(identity.subject());
            maybe |= probe(TAG_DEVICE, own);
        }
        if !self.subjects.is_empty() {
            let subject = identity.subject();
            maybe |= self.subject_maybe(subject);
            for value in email_and_upn(identity.claims()) {
                maybe |= value.is_some_and(|v| v != subject && self.subject_maybe(v));
            }
        }
        !maybe
    }

    /// `false` only if `name`, canonicalized as an [`ActorKey`], is
    /// certainly not a revoked subject by the presence filter.
    ///
    /// For a name that is ASCII, not padded with white space and without a
    /// `mailto:`, `arn:` or SID (`s-1-`) prefix (in any case), the canonical
    /// form is the name itself or its ASCII lower case (e-mail and down-level
    /// names); both are hashed in one pass and probed. Other names answer
    /// "maybe" and are canonicalized by the map lookup.
    fn subject_maybe(&self, name: &str) -> bool {
        let filter = &self.filter;
        let bytes = name.as_bytes();
        let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
            return true;
        };
        let mut raw = filter.hash_start(TAG_SUBJECT, bytes.len());
        let mut folded = raw;
        let (mut upper, mut any) = (0u64, 0u64);
        // The first folded word, for the prefixes.
        let (mut head, mut words) = (0u64, 0usize);
        for_each_word(bytes, |w| {
            let up = between(w, b'@', b'[');
            upper |= up;
            any |= w;
            raw = filter.hash_word(raw, w);
            // 0x80 >> 2 is 0x20, the case bit.
            let lower = w | (up >> 2);
            folded = filter.hash_word(folded, lower);
            if words == 0 {
                head = lower;
            }
            words += 1;
        });
        let padded = |b: u8| b == b' ' || (b'\t'..=b'\r').contains(&b);
        if any & HIGHS != 0 || padded(first) || padded(last) || special_head(head) {
            return true;
        }
        filter.may_contain_hash(filter.hash_end(folded))
            | (upper != 0 && filter.may_contain_hash(filter.hash_end(raw)))
    }

    /// [`RevocationSet::check`] by the maps (each behind the filter).
    fn check_maps(&self, identity: &Identity, now: Timestamp) -> Option<RevocationReason> {
        let iat = identity.issued_at();
        let hit = |tag: u8, key: &str| self.entry(tag, key).is_some_and(|e| e.covers(iat, now));
        if !self.tokens.is_empty() && identity.token_id().is_some_and(|j| hit(TAG_TOKEN, j)) {
            return Some(RevocationReason::TokenId);
        }
        if !self.sessions.is_empty() && identity.session_id().is_some_and(|s| hit(TAG_SESSION, s)) {
            return Some(RevocationReason::Session);
        }
        if !self.devices.is_empty() {
            let from_posture = identity.device().map(|d| d.device_id.as_str());
            let own = (identity.kind() == IdentityKind::Device).then_some(identity.subject());
            for id in [from_posture, own].into_iter().flatten() {
                if hit(TAG_DEVICE, id) {
                    return Some(RevocationReason::Device);
                }
            }
        }
        if !self.subjects.is_empty() {
            let subject = identity.subject();
            if self.subject_hit(subject, iat, now) {
                return Some(RevocationReason::Subject);
            }
            for value in email_and_upn(identity.claims()) {
                if let Some(v) = value.filter(|v| *v != subject) {
                    if self.subject_hit(v, iat, now) {
                        return Some(RevocationReason::Subject);
                    }
                }
            }
        }
        None
    }

    /// Whether `name`, canonicalized as an [`ActorKey`], is a revoked
    /// subject. The common cases (already canonical, or an ASCII e-mail
    /// address to fold) allocate nothing and are classified in one pass;
    /// rarer forms are canonicalized.
    fn subject_hit(&self, name: &str, iat: Option<Timestamp>, now: Timestamp) -> bool {
        let hit = |k: &str| self.subjects.get(k).is_some_and(|e| e.covers(iat, now));
        let bytes = name.as_bytes();
        // The pass that classifies the name also hashes it lower-cased for
        // the presence filter.
        let filter = &self.filter;
        let mut h = filter.hash_start(TAG_SUBJECT, bytes.len());
        let ByteClasses {
            upper,
            wide,
            odd,
            one_at,
        } = classify(bytes, |w| h = filter.hash_word(h, w));
        let folded_hash = filter.hash_end(h);
        // `str::trim` on ASCII strips exactly these bytes (`\t` to `\r`, space).
        let untrimmed =
            |b: Option<&u8>| b.is_some_and(|&b| b == b' ' || (b'\t'..=b'\r').contains(&b));
        let plain = !bytes.is_empty()
            && !wide
            && !untrimmed(bytes.first())
            && !untrimmed(bytes.last())
            && !special_prefix(bytes);
        if plain && !upper {
            // Nothing to fold: the hash is the name's own.
            return filter.may_contain_hash(folded_hash) && hit(name);
        }
        if plain && one_at && !odd && name.len() <= MAX_FOLD_LEN {
            // The filter is probed on the folded hash, so a miss costs no
            // folding, no UTF-8 check and no map lookup; else lower-case
            // into a stack buffer (a small one for the usual lengths).
            if !filter.may_contain_hash(folded_hash) {
                return false;
            }
            let folded = if name.len() <= SHORT_FOLD_LEN {
                self.folded_hit(bytes, &mut [0u8; SHORT_FOLD_LEN], iat, now)
            } else {
                self.folded_hit(bytes, &mut [0u8; MAX_FOLD_LEN], iat, now)
            };
            if let Some(hit) = folded {
                return hit;
            }
        }
        ActorKey::from_identifier(name).is_ok_and(|k| {
            self.entry(TAG_SUBJECT, k.as_str())
                .is_some_and(|e| e.covers(iat, now))
        })
    }

    /// Whether `bytes` lower-cased (in `buf`) is a revoked subject; `None`
    /// when `buf` is too short.
    fn folded_hit(
        &self,
        bytes: &[u8],
        buf: &mut [u8],
        iat: Option<Timestamp>,
        now: Timestamp,
    ) -> Option<bool> {
        let dst = buf.get_mut(..bytes.len())?;
        fold_ascii(bytes, dst);
        let folded = std::str::from_utf8(dst).ok()?;
        Some(
            self.subjects
                .get(folded)
                .is_some_and(|e| e.covers(iat, now)),
        )
    }

    /// Merges `other` into `self`: union of keys, and for a shared key the
    /// later `before` and the later expiry.
    pub fn merge(&mut self, other: &RevocationSet) {
        for (tag, theirs) in [
            (TAG_TOKEN, &other.tokens),
            (TAG_SUBJECT, &other.subjects),
            (TAG_SESSION, &other.sessions),
            (TAG_DEVICE, &other.devices),
        ] {
            for (k, e) in theirs {
                let mine = match tag {
                    TAG_TOKEN => &mut self.tokens,
                    TAG_SUBJECT => &mut self.subjects,
                    TAG_SESSION => &mut self.sessions,
                    _ => &mut self.devices,
                };
                if upsert(mine, k, *e) {
                    self.filter_add(tag, k);
                }
            }
        }
    }

    /// Drops entries that expired at or before `now`; returns how many.
    pub fn prune(&mut self, now: Timestamp) -> usize {
        let before = self.len();
        for map in [
            &mut self.tokens,
            &mut self.subjects,
            &mut self.sessions,
            &mut self.devices,
        ] {
            map.retain(|_, e| now < e.expires_at);
        }
        let removed = before - self.len();
        if removed > 0 {
            self.rebuild_filter();
        }
        removed
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.tokens.len() + self.subjects.len() + self.sessions.len() + self.devices.len()
    }

    /// Whether the set holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reserves room for `additional` more token revocations.
    pub fn reserve_tokens(&mut self, additional: usize) {
        self.tokens.reserve(additional);
        let wanted = self.len().saturating_add(additional);
        if wanted.saturating_mul(FILTER_BITS_PER_KEY) > self.filter.words.len() * 64 {
            // Size the filter once instead of doubling it on the way.
            let held = self.len();
            self.rebuild_filter_for(wanted.max(held));
        }
    }

    /// Exports the set as JSON: `{"tokens": {jti: {"before", "expires_at"}},
    /// "subjects": …, "sessions": …, "devices": …}`, times in ms.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Imports a set exported by [`RevocationSet::to_json`], checking every
    /// key (non-empty, at most 1024 bytes; subjects canonical).
    pub fn from_json(json: &str) -> Result<RevocationSet, IdentityError> {
        let mut set: RevocationSet =
            serde_json::from_str(json).map_err(|e| IdentityError::StateMalformed {
                what: "revocation set",
                line: e.line(),
                column: e.column(),
                reason: e.to_string(),
            })?;
        let maps = [
            ("jti", &set.tokens),
            ("subject", &set.subjects),
            ("session_id", &set.sessions),
            ("device_id", &set.devices),
        ];
        for (field, map) in maps {
            for k in map.keys() {
                check_key(field, k)?;
            }
        }
        for k in set.subjects.keys() {
            if ActorKey::from_identifier(k)?.as_str() != k {
                return Err(IdentityError::InvalidRevocation {
                    field: "subject",
                    reason: "not in canonical actor-key form",
                });
            }
        }
        set.rebuild_filter();
        Ok(set)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::{DevicePosture, IdentityErrorKind};
    use proptest::prelude::*;
    use serde_json::json;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    fn token(sub: &str, jti: &str, iat: i64) -> Identity {
        let mut id = Identity::builder(sub, "https://idp", IdentityKind::Human);
        id.token_id = Some(jti.into());
        id.issued_at = Some(t(iat));
        id.build()
    }

    #[test]
    fn by_token_id_until_expiry() {
        let mut set = RevocationSet::new();
        set.revoke_token("j1", t(200)).unwrap();
        assert_eq!(
            set.check(&token("a", "j1", 50), t(100)),
            Some(RevocationReason::TokenId)
        );
        assert_eq!(set.check(&token("a", "j2", 50), t(100)), None);
        assert_eq!(set.check(&token("a", "j1", 50), t(200)), None);
    }

    #[test]
    fn by_subject_before_time() {
        let mut set = RevocationSet::new();
        set.revoke_subject("Alice@Example.com", t(100), t(1000))
            .unwrap();
        let old = token("alice@example.com", "j", 99);
        let new = token("alice@example.com", "j", 100);
        assert_eq!(set.check(&old, t(150)), Some(RevocationReason::Subject));
        assert_eq!(set.check(&new, t(150)), None);
        // No issue time: fail closed.
        let mut undated = token("alice@example.com", "j", 0);
        undated.set_issued_at(None);
        assert_eq!(set.check(&undated, t(150)), Some(RevocationReason::Subject));
        // Matched through the email claim, case-insensitively.
        let mut via_claim = token("00u1", "j", 50);
        via_claim.modify(|b| {
            b.claims.insert("email".into(), json!("ALICE@example.COM"));
        });
        assert_eq!(
            set.check(&via_claim, t(150)),
            Some(RevocationReason::Subject)
        );
        // Rarer forms are canonicalized like actor keys.
        set.revoke_subject("CORP\\Carol", Timestamp::MAX, t(1000))
            .unwrap();
        assert_eq!(
            set.check(&token("corp\\CAROL", "j", 1), t(150)),
            Some(RevocationReason::Subject)
        );
        set.revoke_subject("Émile@Example.com", Timestamp::MAX, t(1000))
            .unwrap();
        assert_eq!(
            set.check(&token(" mailto:ÉMILE@example.com", "j", 1), t(150)),
            Some(RevocationReason::Subject)
        );
        // Opaque ids keep their case.
        set.revoke_subject("00uAbC", Timestamp::MAX, t(1000))
            .unwrap();
        assert_eq!(set.check(&token("00uabc", "j", 1), t(150)), None);
        assert_eq!(
            set.check(&token("00uAbC", "j", 1), t(150)),
            Some(RevocationReason::Subject)
        );
    }

    #[test]
    fn by_session_and_device() {
        let mut set = RevocationSet::new();
        set.revoke_session("s1", t(500)).unwrap();
        set.revoke_device("dev-1", t(300), t(500)).unwrap();
        let mut id = token("bob", "j", 100);
        id.modify(|b| b.session_id = Some("s1".into()));
        assert_eq!(set.check(&id, t(150)), Some(RevocationReason::Session));
        id.modify(|b| b.session_id = Some("s2".into()));
        assert_eq!(set.check(&id, t(150)), None);
        id.set_device(Some(DevicePosture {
            device_id: "dev-1".into(),
            ..DevicePosture::default()
        }));
        assert_eq!(set.check(&id, t(150)), Some(RevocationReason::Device));
        let mut dev = Identity::new("dev-1", "mesh:device", IdentityKind::Device);
        dev.set_issued_at(Some(t(301)));
        assert_eq!(set.check(&dev, t(350)), None);
        dev.set_issued_at(Some(t(299)));
        assert_eq!(set.check(&dev, t(350)), Some(RevocationReason::Device));
    }

    #[test]
    fn prune_and_json_round_trip() {
        let mut set = RevocationSet::new();
        set.revoke_token("j1", t(100)).unwrap();
        set.revoke_token("j2", t(300)).unwrap();
        set.revoke_subject("alice@example.com", t(50), t(300))
            .unwrap();
        let json = set.to_json();
        let back = RevocationSet::from_json(&json).unwrap();
        assert_eq!(back, set);
        assert_eq!(set.prune(t(100)), 1);
        assert_eq!(set.len(), 2);
        let e = RevocationSet::from_json("{\"tokens\": {\"\": {\"before\":0,\"expires_at\":1}}}")
            .unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::InvalidRevocation);
        let e = RevocationSet::from_json("{\"tokens\": 3}").unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::StateMalformed);
        assert!(e.to_string().contains("line 1"));
        let e = RevocationSet::from_json(
            "{\"subjects\": {\"Alice@X.com\": {\"before\":0,\"expires_at\":1}}}",
        )
        .unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::InvalidRevocation);
    }

    #[test]
    fn rejects_bad_keys() {
        let mut set = RevocationSet::new();
        assert!(set.revoke_token("", t(1)).is_err());
        assert!(set.revoke_session(&"x".repeat(1025), t(1)).is_err());
        assert!(set.revoke_subject("  ", t(1), t(1)).is_err());
    }

    #[test]
    fn merge_takes_latest() {
        let mut a = RevocationSet::new();
        a.revoke_subject("bob", t(10), t(100)).unwrap();
        let mut b = RevocationSet::new();
        b.revoke_subject("bob", t(20), t(50)).unwrap();
        b.revoke_token("j", t(70)).unwrap();
        a.merge(&b);
        assert_eq!(
            a.subjects["bob"],
            RevocationEntry {
                before: t(20),
                expires_at: t(100)
            }
        );
        assert!(a.tokens.contains_key("j"));
    }

    #[test]
    fn presence_filter_never_hides_a_revocation() {
        let mut set = RevocationSet::new();
        let exp = t(10_000);
        for i in 0..5_000 {
            set.revoke_token(&format!("jti-{i}"), exp).unwrap();
        }
        set.revoke_subject("Carol@Example.com", t(50), exp).unwrap();
        set.revoke_session("sid-9", exp).unwrap();
        set.revoke_device("dev-9", t(50), exp).unwrap();
        let check_all = |set: &RevocationSet| {
            for i in (0..5_000).step_by(7) {
                let id = token("someone", &format!("jti-{i}"), 1);
                assert_eq!(set.check(&id, t(2)), Some(RevocationReason::TokenId));
            }
            let mut id = token("x", "jti-none", 1);
            id.modify(|b| {
                b.claims.insert("email".into(), json!("CAROL@example.com"));
            });
            assert_eq!(set.check(&id, t(2)), Some(RevocationReason::Subject));
            let mut id = token("x", "jti-none", 1);
            id.modify(|b| b.session_id = Some("sid-9".into()));
            assert_eq!(set.check(&id, t(2)), Some(RevocationReason::Session));
            let id = Identity::new("dev-9", "https://idp", IdentityKind::Device);
            assert_eq!(set.check(&id, t(2)), Some(RevocationReason::Device));
            assert_eq!(set.check(&token("x", "jti-none", 1), t(2)), None);
        };
        check_all(&set);
        // Deserialized without `from_json`: no filter yet, maps consulted.
        let raw: RevocationSet = serde_json::from_str(&set.to_json()).unwrap();
        assert_eq!(raw, set);
        check_all(&raw);
        check_all(&RevocationSet::from_json(&set.to_json()).unwrap());
        let mut grown = raw.clone();
        grown.revoke_token("jti-late", exp).unwrap();
        check_all(&grown);
        let mut merged = RevocationSet::new();
        merged.merge(&set);
        check_all(&merged);
        // Pruning rebuilds the filter from what is left.
        set.revoke_token("short", t(5)).unwrap();
        assert_eq!(set.prune(t(6)), 1);
        check_all(&set);
        let mut reserved = RevocationSet::new();
        reserved.reserve_tokens(100_000);
        reserved.merge(&set);
        check_all(&reserved);
    }

    proptest! {
        /// The eight-bytes-at-a-time classification and case folding agree
        /// with the byte table and the standard library on any bytes.
        #[test]
        fn classify_matches_the_byte_table(bytes in proptest::collection::vec(
            prop_oneof![3 => proptest::sample::select(b"aZ@/ .x\\\t\x0b".to_vec()), 1 => any::<u8>()], 0..40)) {
            let (mut class, mut ats) = (0u8, 0usize);
            for &b in &bytes {
                let c = BYTE_CLASS[usize::from(b)];
                class |= c;
                ats += usize::from(c >> 3);
            }
            let mut words = Vec::new();
            let got = classify(&bytes, |w| words.push(w));
            prop_assert_eq!(got.wide, class & WIDE != 0);
            if !got.wide {
                prop_assert_eq!(got.upper, class & UPPER != 0);
                // A superset of the odd class: every byte below `!` too.
                prop_assert_eq!(got.odd, class & ODD != 0 || bytes.iter().any(|&b| b < b'!'));
                prop_assert_eq!(got.one_at, ats == 1);
                prop_assert_eq!(class & AT != 0, ats > 0);
            }
            let mut folded = vec![0u8; bytes.len()];
            fold_ascii(&bytes, &mut folded);
            prop_assert_eq!(&folded, &bytes.to_ascii_lowercase());
            // The words handed out are those of the folded bytes (ASCII
            // bytes folded; others as they are, zero-padded).
            let mut expect = Vec::new();
            for_each_word(&bytes, |w| expect.push(w | (between(w, b'@', b'[') >> 2)));
            prop_assert_eq!(&words, &expect);
            if !got.wide {
                let mut from_folded = Vec::new();
                for_each_word(&folded, |w| from_folded.push(w));
                prop_assert_eq!(words, from_folded);
            }
        }

        /// A subject revoked by one spelling matches an `email` claim or
        /// subject exactly when both canonicalize to the same actor key,
        /// whatever the classification shortcuts (case, length over either
        /// fold buffer, odd bytes, non-ASCII, several `@`).
        #[test]
        fn subject_match_is_actor_key_equality(
            local in "[a-cA-C./ \\\\é@-]{1,12}",
            pad in 0usize..3,
            flip in any::<bool>(),
            as_subject in any::<bool>(),
        ) {
            let long = ["", "x", "y"][pad].repeat([0, 70, 330][pad]);
            let name = format!("{local}{long}@Example.com");
            let other = if flip { name.to_uppercase() } else { name.to_lowercase() };
            let mut set = RevocationSet::new();
            let exp = t(10_000);
            prop_assume!(set.revoke_subject(&name, t(50), exp).is_ok());
            let mut id = token(if as_subject { &other } else { "s-1" }, "j", 1);
            if !as_subject {
                id.modify(|b| {
                b.claims.insert("email".into(), json!(other));
            });
            }
            let same = ActorKey::from_identifier(&other)
                .is_ok_and(|k| Some(k) == ActorKey::from_identifier(&name).ok());
            let hit = set.check(&id, t(2)) == Some(RevocationReason::Subject);
            prop_assert_eq!(hit, same);
        }
    }

    #[test]
    fn filter_shortcut_sends_every_other_spelling_to_the_maps() {
        // (revoked spelling, presented spelling, same actor key?)
        let cases = [
            ("S-1-5-21-7", "s-1-5-21-7", true),
            ("bob@x.com", "arn:aws:sts::1:assumed-role/R/Bob@X.com", true),
            ("ARN:x", "ARN:x", true),
            ("alice@example.com", "mailto:Alice@Example.com", true),
            ("alice@example.com", "MAILTO:alice@example.com", true),
            ("alice@example.com", "  alice@example.com ", true),
            ("alice@example.com", "\talice@example.com", true),
            ("alice@example.com", "alice@example.com\n", true),
            ("émile@example.com", "ÉMILE@example.com", true),
            ("Alice@Example.com", "ALICE@EXAMPLE.COM", true),
            ("CORP\\Carol", "corp\\CAROL", true),
            ("00uAbC", "00uAbC", true),
            ("00uAbC", "00uabc", false),
            ("00uabc", "00uAbC", false),
            ("spiffe://td/Svc", "spiffe://td/Svc", true),
        ];
        for (revoked, presented, same) in cases {
            let mut set = RevocationSet::new();
            set.revoke_subject(revoked, t(50), t(10_000)).unwrap();
            let want = same.then_some(RevocationReason::Subject);
            let as_subject = token(presented, "j", 1);
            assert_eq!(
                set.check(&as_subject, t(2)),
                want,
                "{revoked:?} / {presented:?}"
            );
            for claim in ["email", "upn"] {
                let mut as_claim = token("s-x", "j", 1);
                as_claim.modify(|b| {
                    b.claims.insert(claim.into(), json!(presented));
                });
                assert_eq!(
                    set.check(&as_claim, t(2)),
                    want,
                    "{revoked:?} / {presented:?} as {claim}"
                );
            }
        }
    }

    /// Names whose canonical forms differ in every way the filter's
    /// shortcut must recognize: case, e-mail or not, padding, prefixes,
    /// non-ASCII, down-level, control bytes.
    fn arb_name() -> impl Strategy<Value = String> {
        let prefix = proptest::sample::select(vec![
            "",
            "",
            "",
            " ",
            "mailto:",
            "MailTo:",
            "arn:",
            "ARN:",
            "s-1-",
            "S-1-",
            "spiffe://",
            "\t",
        ]);
        let body = prop_oneof![
            "[aAbB@.\\\\/:1é\u{1}-]{1,10}",
            "[0-9-]{1,6}",
            "[a-cA-C]{1,4}@[a-bA-B]{1,3}"
        ];
        (prefix, body, proptest::bool::ANY)
            .prop_map(|(p, body, pad)| format!("{p}{body}{}", if pad { " " } else { "" }))
    }

    proptest! {
        /// Whatever the keys, the filter's shortcut agrees with the maps:
        /// it never clears an identity that the maps find revoked.
        #[test]
        fn filter_shortcut_agrees_with_the_maps(
            revoked in proptest::collection::vec((0u8..4, arb_name()), 0..8),
            subject in arb_name(),
            email in proptest::option::of(arb_name()),
            upn in proptest::option::of(arb_name()),
            others in proptest::collection::vec(arb_name(), 3..=3),
            device_kind in any::<bool>(),
            pick in proptest::collection::vec(any::<proptest::sample::Index>(), 5..=5),
        ) {
            let mut set = RevocationSet::new();
            let exp = t(10_000);
            for (kind, key) in &revoked {
                let _ = match kind {
                    0 => set.revoke_token(key, exp),
                    1 => set.revoke_subject(key, t(50), exp),
                    2 => set.revoke_session(key, exp),
                    _ => set.revoke_device(key, t(50), exp),
                };
            }
            // Keys drawn from the revoked ones (so hits are common) or not.
            let keys: Vec<String> = revoked.iter().map(|(_, k)| k.clone()).chain(others).collect();
            let key = |i: usize| pick[i].get(&keys).clone();
            let kind = if device_kind { IdentityKind::Device } else { IdentityKind::Human };
            let subject = if pick[4].index(3) == 0 { key(4) } else { subject };
            let mut b = Identity::builder(&subject, "https://idp", kind);
            b.token_id = Some(key(0));
            b.session_id = Some(key(1));
            b.issued_at = Some(t(1));
            b.device = Some(DevicePosture { device_id: key(2), ..DevicePosture::default() });
            if let Some(e) = email {
                b.claims.insert("email".into(), json!(if pick[3].index(2) == 0 { key(3).to_uppercase() } else { e }));
            }
            if let Some(u) = upn {
                b.claims.insert("upn".into(), json!(u));
            }
            let id = b.build();
            let by_maps = set.check_maps(&id, t(2));
            prop_assert_eq!(set.check(&id, t(2)), by_maps);
            if set.filter_clears(&id) {
                prop_assert_eq!(by_maps, None);
            }
        }
    }

    fn arb_set() -> impl Strategy<Value = RevocationSet> {
        let entry = (0i64..5, 0i64..5);
        let ops = proptest::collection::vec((0u8..4, "[a-c]{1,2}", entry), 0..12);
        ops.prop_map(|ops| {
            let mut s = RevocationSet::new();
            for (kind, key, (before, exp)) in ops {
                let (before, exp) = (t(before), t(exp));
                let _ = match kind {
                    0 => s.revoke_token(&key, exp),
                    1 => s.revoke_subject(&key, before, exp),
                    2 => s.revoke_session(&key, exp),
                    _ => s.revoke_device(&key, before, exp),
                };
            }
            s
        })
    }

    fn merged(a: &RevocationSet, b: &RevocationSet) -> RevocationSet {
        let mut m = a.clone();
        m.merge(b);
        m
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in arb_set(), b in arb_set()) {
            prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        }

        #[test]
        fn merge_is_associative(a in arb_set(), b in arb_set(), c in arb_set()) {
            prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        }

        #[test]
        fn merge_is_idempotent(a in arb_set(), b in arb_set()) {
            prop_assert_eq!(merged(&a, &a), a.clone());
            let ab = merged(&a, &b);
            prop_assert_eq!(merged(&ab, &b), ab);
        }

        #[test]
        fn json_round_trip(a in arb_set()) {
            prop_assert_eq!(RevocationSet::from_json(&a.to_json()).unwrap(), a);
        }
    }
}
