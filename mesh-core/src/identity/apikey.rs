//! API keys for services: a public id, a secret and a typo-catching checksum,
//! stored only as peppered HMAC-SHA-256 digests.
//!
//! # Format
//!
//! ```text
//! mesh_<id>_<secret>_<check>
//!      16    32       7        characters, lowercase RFC 4648 base32
//!                              (`a-z`, `2-7`, no padding)
//! ```
//!
//! - `<id>`: 10 random bytes (80 bits). `mesh_<id>` is the key's public id:
//!   it may be logged and is how the store finds the key.
//! - `<secret>`: 20 random bytes (160 bits). Never stored, logged or printed.
//! - `<check>`: the CRC-32 (IEEE) of the ASCII text `mesh_<id>_<secret>`, as
//!   35 bits (big-endian, top three bits zero). CRC-32 detects every
//!   single-character change, so a mistyped key fails before any lookup.
//!
//! A key is 62 characters. Parsing is strict: wrong length, upper case, a
//! character outside the alphabet, or non-canonical encoding is rejected.
//!
//! # Storage
//!
//! The store keeps, per public id, `HMAC-SHA-256(pepper, "mesh-api-key-v1" ||
//! 0x00 || id || secret)` where `pepper` is a server-side key that never
//! leaves the host's configuration. A stolen store therefore cannot be
//! brute-forced offline without the pepper, and the digest is compared in
//! constant time.

use ring::hmac;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

use super::revocation::FastMap;
use super::swar::{between, word, HIGHS, ONES};
use super::{ClaimsInit, Identity, IdentityError, IdentityKind, Packer, Times};
use crate::Timestamp;

/// The issuer of identities authenticated by API key.
pub const API_KEY_ISSUER: &str = "mesh:api-key";

/// The authentication method of an identity from an API key.
const API_KEY_METHOD: &str = "api_key";
/// Length of an API key in characters.
pub const API_KEY_LEN: usize = PREFIX.len() + ID_CHARS + 1 + SECRET_CHARS + 1 + CHECK_CHARS;
/// Shortest pepper accepted by [`ApiKeyStore::new`], in bytes.
pub const MIN_PEPPER_LEN: usize = 32;

const PREFIX: &str = "mesh_";
const ID_BYTES: usize = 10;
const SECRET_BYTES: usize = 20;
const ID_CHARS: usize = ID_BYTES * 8 / 5;
const SECRET_CHARS: usize = SECRET_BYTES * 8 / 5;
const CHECK_CHARS: usize = 7;
const PUBLIC_ID_LEN: usize = PREFIX.len() + ID_CHARS;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const DIGEST_CONTEXT: &[u8] = b"mesh-api-key-v1\0";
/// Bounds on what a record may carry.
const MAX_FIELD_LEN: usize = 1024;
const MAX_LIST_LEN: usize = 256;

/// An API key: its public id and its secret.
///
/// `Debug` and `Display` show only the public id; the full key text is
/// available through [`ApiKey::expose_secret`], to hand to its owner once.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    text: String,
    id: [u8; ID_BYTES],
    secret: [u8; SECRET_BYTES],
}

/// A key parsed in place, without allocating.
struct ParsedKey<'a> {
    id: [u8; ID_BYTES],
    secret: [u8; SECRET_BYTES],
    public_id: &'a str,
}

impl ApiKey {
    /// A new key from 30 bytes of cryptographically secure randomness (the
    /// first 10 become the id, the rest the secret). `mesh-core` draws no
    /// randomness itself: the host supplies it.
    pub fn generate(rng_bytes: [u8; 30]) -> ApiKey {
        let mut id = [0u8; ID_BYTES];
        let mut secret = [0u8; SECRET_BYTES];
        for (i, b) in rng_bytes.iter().enumerate() {
            if let Some(slot) = id.get_mut(i) {
                *slot = *b;
            } else if let Some(slot) = secret.get_mut(i - ID_BYTES) {
                *slot = *b;
            }
        }
        let mut text = String::with_capacity(API_KEY_LEN);
        text.push_str(PREFIX);
        encode_base32(&id, &mut text);
        text.push('_');
        encode_base32(&secret, &mut text);
        let check = crc32(text.as_bytes());
        text.push('_');
        for i in 0..CHECK_CHARS {
            let shift = 5 * (CHECK_CHARS - 1 - i);
            let v = (u64::from(check) >> shift) & 31;
            text.push(char::from(
                ALPHABET.get(v as usize).copied().unwrap_or(b'a'),
            ));
        }
        ApiKey { text, id, secret }
    }

    /// A new key drawing its randomness from `rng`.
    pub fn generate_with(rng: &dyn ring::rand::SecureRandom) -> Result<ApiKey, IdentityError> {
        let mut bytes = [0u8; 30];
        rng.fill(&mut bytes)
            .map_err(|_| IdentityError::ApiKeyMalformed {
                reason: "random number generator failed",
            })?;
        Ok(ApiKey::generate(bytes))
    }

    /// Parses a key, checking its format and checksum.
    pub fn parse(text: &str) -> Result<ApiKey, IdentityError> {
        let p = parse_key(text)?;
        Ok(ApiKey {
            text: text.to_owned(),
            id: p.id,
            secret: p.secret,
        })
    }

    /// The public id, `mesh_<id>`: safe to log and display.
    pub fn id(&self) -> &str {
        self.text.get(..PUBLIC_ID_LEN).unwrap_or_default()
    }

    /// The full key text, secret included. Show it to its owner once.
    pub fn expose_secret(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_<redacted>", self.id())
    }
}

fn malformed(reason: &'static str) -> IdentityError {
    IdentityError::ApiKeyMalformed { reason }
}

fn parse_key(text: &str) -> Result<ParsedKey<'_>, IdentityError> {
    let b = text.as_bytes();
    if b.len() != API_KEY_LEN {
        return Err(malformed("must be exactly 62 characters"));
    }
    if !text.starts_with(PREFIX) {
        return Err(malformed("must start with `mesh_`"));
    }
    let sep1 = PUBLIC_ID_LEN;
    let sep2 = sep1 + 1 + SECRET_CHARS;
    if b.get(sep1) != Some(&b'_') || b.get(sep2) != Some(&b'_') {
        return Err(malformed("`_` separators expected at characters 22 and 55"));
    }
    let id_text = b.get(PREFIX.len()..sep1).unwrap_or_default();
    let secret_text = b.get(sep1 + 1..sep2).unwrap_or_default();
    let mut id = [0u8; ID_BYTES];
    decode_base32(id_text, &mut id)
        .ok_or_else(|| malformed("id (characters 6-21) is not base32"))?;
    let mut secret = [0u8; SECRET_BYTES];
    decode_base32(secret_text, &mut secret)
        .ok_or_else(|| malformed("secret (characters 23-54) is not base32"))?;
    // The seven check characters are read as one group: the eight bytes
    // ending with them, the separator before them standing for a zero.
    let check_word = b.get(sep2..).map_or(0, word);
    let (check, bad) = decode_group((check_word & !0xff) | u64::from(b'a'));
    if bad {
        return Err(malformed("checksum (characters 56-62) is not base32"));
    }
    let public_id = text.get(..sep1).unwrap_or_default();
    if check > u64::from(u32::MAX) || check != u64::from(crc32(b.get(..sep2).unwrap_or_default())) {
        return Err(IdentityError::ApiKeyBadChecksum {
            key_id: public_id.to_owned(),
        });
    }
    Ok(ParsedKey {
        id,
        secret,
        public_id,
    })
}

fn encode_base32(bytes: &[u8], out: &mut String) {
    // Input lengths here are multiples of 5 bytes: whole 40-bit groups.
    for chunk in bytes.chunks(5) {
        let mut acc: u64 = 0;
        for b in chunk {
            acc = (acc << 8) | u64::from(*b);
        }
        for i in (0..8).rev() {
            let v = (acc >> (5 * i)) & 31;
            out.push(char::from(
                ALPHABET.get(v as usize).copied().unwrap_or(b'a'),
            ));
        }
    }
}

#[cfg(test)]
fn base32_value(c: u8) -> Option<u8> {
    match c {
        b'a'..=b'z' => Some(c - b'a'),
        b'2'..=b'7' => Some(c - b'2' + 26),
        _ => None,
    }
}

/// Decodes one group of eight base32 characters, given as a little-endian
/// word (the first character in the low byte), eight at a time: its 40 bits,
/// and whether some byte is outside the alphabet (then the bits are
/// meaningless).
fn decode_group(w: u64) -> (u64, bool) {
    let letters = between(w, b'a' - 1, b'z' + 1);
    let digits = between(w, b'2' - 1, b'7' + 1);
    let bad = (letters | digits) != HIGHS;
    // Letters are `c - 'a'`, digits `c - '2' + 26`: digits are first moved
    // up by 0x49 (to 0x7b..=0x80, still one byte), then every byte is at
    // least `a` and the subtraction borrows across no byte (for valid
    // bytes; invalid ones are reported).
    let v = w
        .wrapping_add((digits >> 7).wrapping_mul(0x49))
        .wrapping_sub(ONES * u64::from(b'a'))
        & (ONES * 31);
    // Join neighbours: 5-bit values into 10-bit pairs, 20-bit quads, then
    // the 40-bit group (the first character the most significant).
    let pairs = ((v & 0x00ff_00ff_00ff_00ff) << 5) | ((v >> 8) & 0x00ff_00ff_00ff_00ff);
    let quads = ((pairs & 0x0000_ffff_0000_ffff) << 10) | ((pairs >> 16) & 0x0000_ffff_0000_ffff);
    (((quads & 0xffff_ffff) << 20) | (quads >> 32), bad)
}

/// Decodes whole 8-character groups into `out` (5 bytes per group).
fn decode_base32(text: &[u8], out: &mut [u8]) -> Option<()> {
    if text.len() * 5 != out.len() * 8 {
        return None;
    }
    // Invalid characters are checked once, after the loop.
    let mut bad = false;
    for (group, dst) in text.chunks_exact(8).zip(out.chunks_exact_mut(5)) {
        let (bits, group_bad) = decode_group(word(group));
        bad |= group_bad;
        let [_, _, _, a, b, c, d, e] = bits.to_be_bytes();
        dst.copy_from_slice(&[a, b, c, d, e]);
    }
    (!bad).then_some(())
}

// Indexes are always < 256 / < 8 in this const context (checked at compile time).
#[allow(clippy::indexing_slicing)]
const CRC_TABLES: [[u32; 256]; 8] = {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        tables[0][i] = c;
        i += 1;
    }
    let mut t = 1;
    while t < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[t - 1][i];
            tables[t][i] = (prev >> 8) ^ tables[0][(prev & 0xFF) as usize];
            i += 1;
        }
        t += 1;
    }
    tables
};

fn crc_table(t: usize, v: u32) -> u32 {
    CRC_TABLES
        .get(t)
        .and_then(|table| table.get((v & 0xFF) as usize))
        .copied()
        .unwrap_or(0)
}

/// CRC-32 (IEEE 802.3, reflected, as in zlib), eight bytes at a time.
fn crc32(data: &[u8]) -> u32 {
    let mut c = u32::MAX;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let lo = u32::from_le_bytes([word[0], word[1], word[2], word[3]]) ^ c;
        let hi = u32::from_le_bytes([word[4], word[5], word[6], word[7]]);
        c = crc_table(7, lo)
            ^ crc_table(6, lo >> 8)
            ^ crc_table(5, lo >> 16)
            ^ crc_table(4, lo >> 24)
            ^ crc_table(3, hi)
            ^ crc_table(2, hi >> 8)
            ^ crc_table(1, hi >> 16)
            ^ crc_table(0, hi >> 24);
    }
    for b in chunks.remainder() {
        c = crc_table(0, c ^ u32::from(*b)) ^ (c >> 8);
    }
    !c
}

/// What an API key stands for: the identity it authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySpec {
    /// The subject the key authenticates (e.g. a service account name).
    pub subject: String,
    /// The kind of principal (usually [`IdentityKind::Service`]).
    pub kind: IdentityKind,
    /// Roles granted to the key's identity.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Entitlements (scopes) granted to the key's identity.
    #[serde(default)]
    pub entitlements: Vec<String>,
    /// When the key stops being valid, if ever.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

impl ApiKeySpec {
    /// A service key for `subject`, with no roles, entitlements or expiry.
    pub fn service(subject: impl Into<String>) -> Self {
        ApiKeySpec {
            subject: subject.into(),
            kind: IdentityKind::Service,
            roles: Vec::new(),
            entitlements: Vec::new(),
            expires_at: None,
        }
    }

    fn validate(&self) -> Result<(), IdentityError> {
        let bad = |reason| IdentityError::InvalidApiKeySpec {
            field: "subject",
            reason,
        };
        if self.subject.is_empty() {
            return Err(bad("must not be empty"));
        }
        if self.subject.len() > MAX_FIELD_LEN {
            return Err(bad("longer than 1024 bytes"));
        }
        for (field, list) in [("roles", &self.roles), ("entitlements", &self.entitlements)] {
            if list.len() > MAX_LIST_LEN || list.iter().any(|s| s.len() > MAX_FIELD_LEN) {
                return Err(IdentityError::InvalidApiKeySpec {
                    field,
                    reason: "more than 256 entries or an entry longer than 1024 bytes",
                });
            }
        }
        Ok(())
    }
}

/// A stored API key: its public id, the peppered digest of its secret and
/// what it authenticates. Serializable; holds no secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// The public id, `mesh_<id>`.
    pub key_id: String,
    /// Lowercase hex of `HMAC-SHA-256(pepper, context || id || secret)`.
    pub digest: String,
    /// What the key authenticates.
    #[serde(flatten)]
    pub spec: ApiKeySpec,
    /// Whether the key has been revoked.
    #[serde(default)]
    pub revoked: bool,
}

impl fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("key_id", &self.key_id)
            .field("digest", &"<redacted>")
            .field("spec", &self.spec)
            .field("revoked", &self.revoked)
            .finish()
    }
}

struct StoredKey {
    record: ApiKeyRecord,
    digest: [u8; 32],
    /// The identity the key authenticates, built once: a verification
    /// hands out a shared reference to it.
    identity: Arc<Identity>,
}

impl StoredKey {
    fn new(record: ApiKeyRecord, digest: [u8; 32]) -> StoredKey {
        let identity = Arc::new(key_identity(&record));
        StoredKey {
            record,
            digest,
            identity,
        }
    }
}

/// The identity of a key's record (see [`ApiKeyStore::verify`]).
fn key_identity(rec: &ApiKeyRecord) -> Identity {
    let spec = &rec.spec;
    let lists = [&spec.roles, &spec.entitlements];
    let text_cap = spec.subject.len()
        + API_KEY_ISSUER.len()
        + rec.key_id.len()
        + lists
            .iter()
            .flat_map(|l| l.iter())
            .map(String::len)
            .sum::<usize>()
        + API_KEY_METHOD.len();
    let items = spec.roles.len() + spec.entitlements.len() + 1;
    let mut p = Packer::new(
        text_cap,
        items,
        &spec.subject,
        API_KEY_ISSUER,
        [Some(&rec.key_id), None, None],
    );
    p.end_list();
    for list in lists {
        for s in list {
            p.item(s);
        }
        p.end_list();
    }
    p.item(API_KEY_METHOD);
    let times = Times {
        expires_at: spec.expires_at,
        ..Times::default()
    };
    p.finish(spec.kind, times, None, ClaimsInit::Text)
}

/// The API keys a service accepts, looked up by public id and verified in
/// constant time against peppered digests.
pub struct ApiKeyStore {
    /// The HMAC state (keyed with the pepper) after the digest context
    /// prefix, cloned per digest.
    prefix: hmac::Context,
    keys: FastMap<[u8; ID_BYTES], StoredKey>,
}

impl fmt::Debug for ApiKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyStore")
            .field("pepper", &"<redacted>")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl ApiKeyStore {
    /// An empty store whose digests are keyed with `pepper` (at least 32
    /// bytes of secret randomness kept in the host's configuration).
    pub fn new(pepper: &[u8]) -> Result<ApiKeyStore, IdentityError> {
        if pepper.len() < MIN_PEPPER_LEN {
            return Err(IdentityError::InvalidApiKeySpec {
                field: "pepper",
                reason: "must be at least 32 bytes",
            });
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, pepper);
        let mut prefix = hmac::Context::with_key(&key);
        prefix.update(DIGEST_CONTEXT);
        Ok(ApiKeyStore {
            prefix,
            keys: FastMap::default(),
        })
    }

    /// Number of keys held (revoked ones included).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn digest(&self, id: &[u8; ID_BYTES], secret: &[u8; SECRET_BYTES]) -> [u8; 32] {
        // One update: the id and secret are hashed as one 30-byte message.
        let mut msg = [0u8; ID_BYTES + SECRET_BYTES];
        let (a, b) = msg.split_at_mut(ID_BYTES);
        a.copy_from_slice(id);
        b.copy_from_slice(secret);
        let mut ctx = self.prefix.clone();
        ctx.update(&msg);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Registers `key` for `spec`. Fails if its public id is already taken.
    pub fn register(&mut self, key: &ApiKey, spec: ApiKeySpec) -> Result<(), IdentityError> {
        spec.validate()?;
        if self.keys.contains_key(&key.id) {
            return Err(IdentityError::ApiKeyDuplicate {
                key_id: key.id().to_owned(),
            });
        }
        let digest = self.digest(&key.id, &key.secret);
        let record = ApiKeyRecord {
            key_id: key.id().to_owned(),
            digest: hex(&digest),
            spec,
            revoked: false,
        };
        self.keys.insert(key.id, StoredKey::new(record, digest));
        Ok(())
    }

    /// Generates a key from `rng_bytes`, registers it for `spec` and returns
    /// it (show its text to its owner once: the store keeps only a digest).
    pub fn issue(
        &mut self,
        rng_bytes: [u8; 30],
        spec: ApiKeySpec,
    ) -> Result<ApiKey, IdentityError> {
        let key = ApiKey::generate(rng_bytes);
        self.register(&key, spec)?;
        Ok(key)
    }

    /// Verifies an API key presented by a client and returns its identity.
    ///
    /// Errors, in the order checked: [`IdentityError::ApiKeyMalformed`],
    /// [`IdentityError::ApiKeyBadChecksum`], [`IdentityError::ApiKeyUnknown`],
    /// [`IdentityError::ApiKeyWrongSecret`], then (only for a caller who
    /// proved the secret) [`IdentityError::ApiKeyRevoked`] and
    /// [`IdentityError::ApiKeyExpired`].
    ///
    /// The identity has issuer [`API_KEY_ISSUER`], the record's subject,
    /// kind, roles and entitlements, `token_id` = the public id (so the key
    /// can be revoked by token id in a [`super::RevocationSet`]), the key's
    /// expiry and authentication method `api_key`. It is shared with the
    /// store (built once per key), so a verification allocates nothing;
    /// [`Arc::unwrap_or_clone`] gives a copy to modify.
    pub fn verify(&self, presented: &str, now: Timestamp) -> Result<Arc<Identity>, IdentityError> {
        self.verify_stored(presented, now)
            .map(|k| Arc::clone(&k.identity))
    }

    /// Like [`ApiKeyStore::verify`], but returns the stored record instead
    /// of building an [`Identity`]; allocates only for errors.
    pub fn verify_record(
        &self,
        presented: &str,
        now: Timestamp,
    ) -> Result<&ApiKeyRecord, IdentityError> {
        self.verify_stored(presented, now).map(|k| &k.record)
    }

    /// The stored key `presented` proves, checked as [`ApiKeyStore::verify`].
    fn verify_stored(&self, presented: &str, now: Timestamp) -> Result<&StoredKey, IdentityError> {
        let p = parse_key(presented)?;
        let Some(stored) = self.keys.get(&p.id) else {
            return Err(IdentityError::ApiKeyUnknown {
                key_id: p.public_id.to_owned(),
            });
        };
        let tag = self.digest(&p.id, &p.secret);
        // Constant-time comparison of the two digests.
        if !constant_time_eq(&tag, &stored.digest) {
            return Err(IdentityError::ApiKeyWrongSecret {
                key_id: p.public_id.to_owned(),
            });
        }
        let rec = &stored.record;
        if rec.revoked {
            return Err(IdentityError::ApiKeyRevoked {
                key_id: rec.key_id.clone(),
            });
        }
        if let Some(exp) = rec.spec.expires_at {
            if now >= exp {
                return Err(IdentityError::ApiKeyExpired {
                    key_id: rec.key_id.clone(),
                    expired_at: exp,
                });
            }
        }
        Ok(stored)
    }

    /// Marks the key with public id `key_id` revoked; `false` if unknown.
    pub fn revoke(&mut self, key_id: &str) -> bool {
        match public_id_bytes(key_id).and_then(|id| self.keys.get_mut(&id)) {
            Some(k) => {
                k.record.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Removes the key with public id `key_id`; `false` if unknown.
    pub fn remove(&mut self, key_id: &str) -> bool {
        public_id_bytes(key_id)
            .and_then(|id| self.keys.remove(&id))
            .is_some()
    }

    /// The stored record of `key_id`.
    pub fn record(&self, key_id: &str) -> Option<&ApiKeyRecord> {
        public_id_bytes(key_id)
            .and_then(|id| self.keys.get(&id))
            .map(|k| &k.record)
    }

    /// All stored records, in no particular order.
    pub fn records(&self) -> impl Iterator<Item = &ApiKeyRecord> {
        self.keys.values().map(|k| &k.record)
    }

    /// Adds a record exported from a store with the same pepper.
    pub fn insert_record(&mut self, record: ApiKeyRecord) -> Result<(), IdentityError> {
        record.spec.validate()?;
        let id = public_id_bytes(&record.key_id).ok_or(IdentityError::InvalidApiKeySpec {
            field: "key_id",
            reason: "not a `mesh_<id>` public id",
        })?;
        let digest = unhex32(&record.digest).ok_or(IdentityError::InvalidApiKeySpec {
            field: "digest",
            reason: "not 64 lowercase hex digits",
        })?;
        if self.keys.contains_key(&id) {
            return Err(IdentityError::ApiKeyDuplicate {
                key_id: record.key_id,
            });
        }
        self.keys.insert(id, StoredKey::new(record, digest));
        Ok(())
    }

    /// Exports every record as a JSON array (digests only, no secret).
    pub fn export_json(&self) -> String {
        let mut records: Vec<&ApiKeyRecord> = self.records().collect();
        records.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        serde_json::to_string(&records).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Imports records exported by [`ApiKeyStore::export_json`].
    pub fn import_json(&mut self, json: &str) -> Result<usize, IdentityError> {
        let records: Vec<ApiKeyRecord> =
            serde_json::from_str(json).map_err(|e| IdentityError::StateMalformed {
                what: "api key records",
                line: e.line(),
                column: e.column(),
                reason: e.to_string(),
            })?;
        let n = records.len();
        for r in records {
            self.insert_record(r)?;
        }
        Ok(n)
    }
}

fn public_id_bytes(key_id: &str) -> Option<[u8; ID_BYTES]> {
    let id_text = key_id.strip_prefix(PREFIX)?;
    let mut id = [0u8; ID_BYTES];
    decode_base32(id_text.as_bytes(), &mut id)?;
    Some(id)
}

/// Whether two digests are equal, in time independent of where they differ:
/// every word is compared, the differences gathered before the one test.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .chunks_exact(8)
        .zip(b.chunks_exact(8))
        .fold(0u64, |acc, (x, y)| acc | (word(x) ^ word(y)));
    std::hint::black_box(diff) == 0
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(
            HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
        ));
        s.push(char::from(
            HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
        ));
    }
    s
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(b.chunks(2)) {
        let hi = nibble(*pair.first()?)?;
        let lo = nibble(*pair.get(1)?)?;
        *o = (hi << 4) | lo;
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::IdentityErrorKind;
    use proptest::prelude::*;

    const PEPPER: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn store_with(rng: [u8; 30]) -> (ApiKeyStore, ApiKey) {
        let mut store = ApiKeyStore::new(PEPPER).unwrap();
        let mut spec = ApiKeySpec::service("svc-billing");
        spec.roles.push("reader".into());
        spec.entitlements.push("invoices:read".into());
        let key = store.issue(rng, spec).unwrap();
        (store, key)
    }

    #[test]
    fn digest_compare_sees_every_byte() {
        let a: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert!(constant_time_eq(&a, &a.clone()));
        for i in 0..32 {
            for bit in [0x01, 0x80] {
                let mut b = a;
                b[i] ^= bit;
                assert!(!constant_time_eq(&a, &b), "byte {i}");
            }
        }
    }

    #[test]
    fn crc32_matches_reference() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn known_vector_matches_standard_base32_and_zlib_crc32() {
        // Computed independently with RFC 4648 base32 (lower-cased) and zlib's crc32.
        let key = ApiKey::generate([1u8; 30]);
        assert_eq!(
            key.expose_secret(),
            "mesh_aeaqcaibaeaqcaib_aeaqcaibaeaqcaibaeaqcaibaeaqcaib_bvdh2g3"
        );
        assert_eq!(key.id(), "mesh_aeaqcaibaeaqcaib");
    }

    #[test]
    fn format_is_documented_shape() {
        let key = ApiKey::generate([7u8; 30]);
        let t = key.expose_secret();
        assert_eq!(t.len(), API_KEY_LEN);
        assert_eq!(API_KEY_LEN, 62);
        assert!(t.starts_with("mesh_"));
        assert_eq!(&t[21..22], "_");
        assert_eq!(&t[54..55], "_");
        assert_eq!(key.id(), &t[..21]);
        assert!(t[5..].bytes().all(|c| c == b'_' || ALPHABET.contains(&c)));
        assert_eq!(ApiKey::parse(t).unwrap(), key);
    }

    #[test]
    fn verify_returns_identity() {
        let (store, key) = store_with([1u8; 30]);
        let id = store.verify(key.expose_secret(), Timestamp::EPOCH).unwrap();
        assert_eq!(id.subject(), "svc-billing");
        assert_eq!(id.issuer(), API_KEY_ISSUER);
        assert_eq!(id.kind(), IdentityKind::Service);
        assert_eq!(id.roles(), ["reader"]);
        assert_eq!(id.entitlements(), ["invoices:read"]);
        assert_eq!(id.token_id(), Some(key.id()));
        assert!(id.auth().has_method("api_key"));
        assert_eq!(id.auth().methods(), ["api_key"]);
        assert!(id.groups().is_empty() && id.claims().is_empty());
    }

    #[test]
    fn distinct_error_kinds() {
        let (mut store, key) = store_with([2u8; 30]);
        let now = Timestamp::from_unix_seconds(100);
        let kind = |s: &ApiKeyStore, t: &str| s.verify(t, now).unwrap_err().kind();
        assert_eq!(
            kind(&store, "mesh_short"),
            IdentityErrorKind::ApiKeyMalformed
        );
        let upper = key.expose_secret().to_ascii_uppercase();
        assert_eq!(kind(&store, &upper), IdentityErrorKind::ApiKeyMalformed);
        let mut typo = key.expose_secret().to_owned().into_bytes();
        typo[30] = if typo[30] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(kind(&store, &typo), IdentityErrorKind::ApiKeyBadChecksum);
        let other = ApiKey::generate([3u8; 30]);
        assert_eq!(
            kind(&store, other.expose_secret()),
            IdentityErrorKind::ApiKeyUnknown
        );
        // Same id, other secret, valid checksum.
        let mut bytes = [2u8; 30];
        bytes[29] = 9;
        let forged = ApiKey::generate(bytes);
        assert_eq!(forged.id(), key.id());
        assert_eq!(
            kind(&store, forged.expose_secret()),
            IdentityErrorKind::ApiKeyWrongSecret
        );
        let mut exp_store = ApiKeyStore::new(PEPPER).unwrap();
        let mut spec = ApiKeySpec::service("s");
        spec.expires_at = Some(now);
        let k = exp_store.issue([4u8; 30], spec).unwrap();
        assert_eq!(
            kind(&exp_store, k.expose_secret()),
            IdentityErrorKind::ApiKeyExpired
        );
        assert!(store.revoke(key.id()));
        assert_eq!(
            kind(&store, key.expose_secret()),
            IdentityErrorKind::ApiKeyRevoked
        );
        assert!(matches!(
            store.register(&key, ApiKeySpec::service("x")),
            Err(IdentityError::ApiKeyDuplicate { .. })
        ));
    }

    #[test]
    fn secrets_never_printed() {
        let (store, key) = store_with([5u8; 30]);
        let secret_part = &key.expose_secret()[22..54];
        let texts = [
            format!("{key:?}"),
            format!("{key}"),
            format!("{store:?}"),
            format!("{:?}", store.record(key.id()).unwrap()),
        ];
        for t in &texts {
            assert!(!t.contains(secret_part), "{t}");
        }
        let mut forged_bytes = [5u8; 30];
        forged_bytes[20] = 0;
        let forged = ApiKey::generate(forged_bytes);
        let e = store
            .verify(forged.expose_secret(), Timestamp::EPOCH)
            .unwrap_err();
        assert!(!e.to_string().contains(&forged.expose_secret()[22..54]));
        assert!(!format!("{e:?}").contains(&forged.expose_secret()[22..54]));
        assert!(!store.export_json().contains(secret_part));
    }

    #[test]
    fn export_import_round_trip() {
        let (store, key) = store_with([6u8; 30]);
        let json = store.export_json();
        let mut other = ApiKeyStore::new(PEPPER).unwrap();
        assert_eq!(other.import_json(&json).unwrap(), 1);
        assert!(other.verify(key.expose_secret(), Timestamp::EPOCH).is_ok());
        // Another pepper: the digest no longer matches.
        let mut peppered = ApiKeyStore::new(&[9u8; 32]).unwrap();
        peppered.import_json(&json).unwrap();
        assert_eq!(
            peppered
                .verify(key.expose_secret(), Timestamp::EPOCH)
                .unwrap_err()
                .kind(),
            IdentityErrorKind::ApiKeyWrongSecret
        );
        let e = other.import_json("[{\"key_id\": 3}]").unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::StateMalformed);
        assert!(ApiKeyStore::new(b"short").is_err());
    }

    proptest! {
        #[test]
        fn base32_groups_decode_by_the_alphabet(text in proptest::collection::vec(
            prop_oneof![4 => proptest::sample::select(ALPHABET.to_vec()), 1 => any::<u8>()], 8..=8)
        ) {
            let mut want: u64 = 0;
            let mut bad = 0u8;
            for c in &text {
                let v = base32_value(*c).unwrap_or(0xff);
                bad |= v;
                want = (want << 5) | u64::from(v & 31);
            }
            let mut out = [0u8; 5];
            let got = decode_base32(&text, &mut out);
            prop_assert_eq!(got.is_some(), bad < 32);
            if got.is_some() {
                prop_assert_eq!(&out[..], &want.to_be_bytes()[3..]);
            }
        }

        #[test]
        fn round_trip_and_single_char_change_rejected(
            rng in proptest::array::uniform30(any::<u8>()),
            pos in 0usize..API_KEY_LEN,
            replacement in proptest::char::range('!', '~'),
        ) {
            let (store, key) = store_with(rng);
            let text = key.expose_secret();
            prop_assert!(store.verify(text, Timestamp::EPOCH).is_ok());
            let mut chars: Vec<char> = text.chars().collect();
            prop_assume!(chars[pos] != replacement);
            chars[pos] = replacement;
            let changed: String = chars.into_iter().collect();
            prop_assert!(store.verify(&changed, Timestamp::EPOCH).is_err());
            prop_assert!(ApiKey::parse(&changed).is_err());
        }

        #[test]
        fn crc32_matches_bitwise_reference(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut c = u32::MAX;
            for b in &data {
                c ^= u32::from(*b);
                for _ in 0..8 {
                    c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                }
            }
            prop_assert_eq!(crc32(&data), !c);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = ApiKey::parse(&s);
        }
    }
}
