//! Ed25519 keys that sign bundles, and the set of keys a process trusts.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ED25519};
use std::collections::BTreeMap;
use std::fmt;

use super::BundleError;

/// Length of an Ed25519 public key, in bytes.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature, in bytes.
pub const SIGNATURE_LEN: usize = 64;

/// A key's id: `ed25519:` and the first 8 bytes (16 hex digits) of the
/// SHA-256 of the raw public key.
///
/// Derived from the key itself, so an id can never name a different key.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// The id of a raw Ed25519 public key.
    pub fn of(public_key: &[u8; PUBLIC_KEY_LEN]) -> KeyId {
        let d = ring::digest::digest(&ring::digest::SHA256, public_key);
        let mut s = String::from("ed25519:");
        for b in d.as_ref().iter().take(8) {
            s.push(hex_digit(b >> 4));
            s.push(hex_digit(b & 0xf));
        }
        KeyId(s)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n & 0xf), 16).unwrap_or('0')
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(hex_digit(b >> 4));
        s.push(hex_digit(b & 0xf));
    }
    s
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// An Ed25519 public key that may verify bundle signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    bytes: [u8; PUBLIC_KEY_LEN],
    id: KeyId,
}

impl VerifyingKey {
    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<VerifyingKey, BundleError> {
        let bytes: [u8; PUBLIC_KEY_LEN] =
            bytes.try_into().map_err(|_| BundleError::InvalidKey {
                reason: "an Ed25519 public key is 32 bytes",
            })?;
        Ok(VerifyingKey {
            id: KeyId::of(&bytes),
            bytes,
        })
    }

    /// A key from the standard base64 of its 32 raw bytes (surrounding
    /// whitespace ignored).
    pub fn from_base64(text: &str) -> Result<VerifyingKey, BundleError> {
        let raw = B64
            .decode(text.trim().as_bytes())
            .map_err(|_| BundleError::InvalidKey {
                reason: "public key is not valid base64",
            })?;
        VerifyingKey::from_bytes(&raw)
    }

    /// The raw public key.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.bytes
    }

    /// The standard base64 of the raw public key.
    pub fn to_base64(&self) -> String {
        B64.encode(self.bytes)
    }

    /// This key's id.
    pub fn key_id(&self) -> &KeyId {
        &self.id
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.bytes)
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.id)
    }
}

/// An Ed25519 private key that signs bundles. `Debug` never shows the secret.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: VerifyingKey,
}

impl SigningKey {
    /// A key from a PKCS#8 (v1 or v2) DER document, as written by
    /// `mesh keys generate` or `openssl genpkey -algorithm ed25519`.
    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, BundleError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| {
            BundleError::InvalidKey {
                reason: "not an Ed25519 PKCS#8 private key",
            }
        })?;
        let public = VerifyingKey::from_bytes(pair.public_key().as_ref())?;
        Ok(SigningKey { pair, public })
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// This key's id.
    pub fn key_id(&self) -> &KeyId {
        self.public.key_id()
    }

    /// The signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let sig = self.pair.sign(message);
        let mut out = [0u8; SIGNATURE_LEN];
        for (o, s) in out.iter_mut().zip(sig.as_ref()) {
            *o = *s;
        }
        out
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, secret redacted)", self.public.id)
    }
}

/// The public keys whose signatures a process accepts on bundles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: BTreeMap<KeyId, VerifyingKey>,
}

impl TrustedKeys {
    /// An empty set: no bundle is accepted.
    pub fn new() -> TrustedKeys {
        TrustedKeys::default()
    }

    /// Trusts `key` (several keys may be trusted at once, e.g. during rotation).
    pub fn insert(&mut self, key: VerifyingKey) {
        self.keys.insert(key.key_id().clone(), key);
    }

    /// The trusted key with id `id`.
    pub fn get(&self, id: &KeyId) -> Option<&VerifyingKey> {
        self.keys.get(id)
    }

    /// The trusted keys, by id.
    pub fn iter(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys.values()
    }

    /// Number of trusted keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl FromIterator<VerifyingKey> for TrustedKeys {
    fn from_iter<I: IntoIterator<Item = VerifyingKey>>(iter: I) -> Self {
        let mut t = TrustedKeys::new();
        for k in iter {
            t.insert(k);
        }
        t
    }
}
