//! The bundle container: a manifest, named parts and signatures in a
//! deterministic, length-prefixed binary layout.

use std::fmt;

use super::keys::{
    hex, KeyId, SigningKey, TrustedKeys, VerifyingKey, PUBLIC_KEY_LEN, SIGNATURE_LEN,
};
use super::BundleError;
use crate::Timestamp;

/// The bytes every bundle starts with.
pub const MAGIC: &[u8; 8] = b"MESHBNDL";
/// The container and manifest format version this build reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Largest bundle accepted, in bytes (64 MiB).
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;
/// Largest single part, in bytes (32 MiB).
pub const MAX_PART_BYTES: usize = 32 * 1024 * 1024;
/// Most parts in one bundle.
pub const MAX_PARTS: usize = 4096;
/// Longest part name, in bytes.
pub const MAX_PART_NAME: usize = 200;
/// Most signatures on one bundle.
pub const MAX_SIGNATURES: usize = 8;

/// Domain-separation prefix of the canonical manifest bytes (what is signed).
const MANIFEST_DOMAIN: &[u8] = b"mesh-bundle-manifest\0";

/// What a part holds, from the first segment of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PartKind {
    /// `policies/…`: access policies in the policy language.
    Policies,
    /// `schema/…`: the schema the policies are checked against.
    Schema,
    /// `entities/…`: entity data (entity JSON).
    Entities,
    /// `posture/…`: posture rules asserting properties of configurations.
    Posture,
    /// `tests/…`: policy test cases shipped with the policies.
    Tests,
}

impl PartKind {
    /// Every kind, in name order.
    pub const ALL: [PartKind; 5] = [
        PartKind::Entities,
        PartKind::Policies,
        PartKind::Posture,
        PartKind::Schema,
        PartKind::Tests,
    ];

    /// The name prefix of this kind, e.g. `policies`.
    pub const fn prefix(self) -> &'static str {
        match self {
            PartKind::Policies => "policies",
            PartKind::Schema => "schema",
            PartKind::Entities => "entities",
            PartKind::Posture => "posture",
            PartKind::Tests => "tests",
        }
    }

    /// The kind a part name belongs to, if its first segment is a known one.
    pub fn of_name(name: &str) -> Option<PartKind> {
        let first = name.split('/').next()?;
        PartKind::ALL.into_iter().find(|k| k.prefix() == first)
    }
}

/// Checks a part name: `<kind>/<segment>[/<segment>…]`, segments of
/// `A-Z a-z 0-9 . _ -`, none empty, `.` or `..`; at most 200 bytes.
pub fn validate_part_name(name: &str) -> Result<PartKind, BundleError> {
    let bad = |reason| BundleError::InvalidPartName {
        name: name.chars().take(MAX_PART_NAME).collect(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("name is empty"));
    }
    if name.len() > MAX_PART_NAME {
        return Err(bad("name is longer than 200 bytes"));
    }
    let mut segments = name.split('/');
    let kind = PartKind::of_name(name).ok_or_else(|| {
        bad("name must start with `policies/`, `schema/`, `entities/`, `posture/` or `tests/`")
    })?;
    segments.next();
    let mut any = false;
    for seg in segments {
        any = true;
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad("empty, `.` or `..` path segment"));
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad("only `A-Z a-z 0-9 . _ -` and `/` are allowed"));
        }
    }
    if !any {
        return Err(bad(
            "name needs a file after the kind, e.g. `policies/main.cedar`",
        ));
    }
    Ok(kind)
}

/// One manifest entry: a part's name, size and SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct PartDigest {
    name: String,
    size: u32,
    sha256: [u8; 32],
}

impl PartDigest {
    /// The part name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The part size in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }
    /// The part's SHA-256.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }
    /// The part's SHA-256 in lower-case hex.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
    /// The part's kind.
    pub fn kind(&self) -> Option<PartKind> {
        PartKind::of_name(&self.name)
    }
}

impl fmt::Debug for PartDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} bytes, sha256 {})",
            self.name,
            self.size,
            self.sha256_hex()
        )
    }
}

/// What a bundle's signatures cover: format version, revision, creation
/// time and the SHA-256 of every part.
///
/// Canonical bytes (big-endian integers):
/// `"mesh-bundle-manifest\0"`, version `u16`, revision `u64`, created-at
/// milliseconds `i64`, entry count `u16`, then per entry in strictly
/// ascending byte order of names: name length `u16`, name, size `u32`,
/// SHA-256 (32 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    revision: u64,
    created_at: Timestamp,
    parts: Vec<PartDigest>,
}

impl Manifest {
    /// The format version (always [`FORMAT_VERSION`] once parsed).
    pub fn format_version(&self) -> u16 {
        FORMAT_VERSION
    }
    /// The bundle revision: activation requires it to grow.
    pub fn revision(&self) -> u64 {
        self.revision
    }
    /// When the bundle was built.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// The entries, in name order.
    pub fn parts(&self) -> &[PartDigest] {
        &self.parts
    }

    /// The canonical bytes that signatures cover.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.parts.len() * 80);
        out.extend_from_slice(MANIFEST_DOMAIN);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        out.extend_from_slice(&self.revision.to_be_bytes());
        out.extend_from_slice(&self.created_at.unix_millis().to_be_bytes());
        out.extend_from_slice(&count_u16(self.parts.len()).to_be_bytes());
        for p in &self.parts {
            out.extend_from_slice(&count_u16(p.name.len()).to_be_bytes());
            out.extend_from_slice(p.name.as_bytes());
            out.extend_from_slice(&p.size.to_be_bytes());
            out.extend_from_slice(&p.sha256);
        }
        out
    }

    /// The SHA-256 of the canonical bytes: a stable id of this bundle content.
    pub fn digest_hex(&self) -> String {
        hex(ring::digest::digest(&ring::digest::SHA256, &self.canonical_bytes()).as_ref())
    }

    fn parse(bytes: &[u8]) -> Result<Manifest, BundleError> {
        let mut r = Reader::new(bytes);
        let domain = r.take(MANIFEST_DOMAIN.len(), "manifest domain")?;
        if domain != MANIFEST_DOMAIN {
            return Err(BundleError::BadMagic);
        }
        let version = r.u16("manifest version")?;
        if version != FORMAT_VERSION {
            return Err(BundleError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let revision = r.u64("revision")?;
        let created_at = Timestamp::from_unix_millis(r.i64("created_at")?);
        let count = usize::from(r.u16("manifest entry count")?);
        if count > MAX_PARTS {
            return Err(BundleError::TooLarge {
                what: "part count",
                size: count,
                limit: MAX_PARTS,
            });
        }
        let mut parts: Vec<PartDigest> = Vec::with_capacity(count);
        for _ in 0..count {
            let name = r.name("manifest entry name")?;
            let size = r.u32("part size")?;
            let sha = r.take(32, "part sha256")?;
            let mut sha256 = [0u8; 32];
            sha256.copy_from_slice(sha);
            check_order(parts.last().map(|p| p.name.as_str()), &name)?;
            parts.push(PartDigest { name, size, sha256 });
        }
        r.finish()?;
        Ok(Manifest {
            revision,
            created_at,
            parts,
        })
    }
}

fn count_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn check_order(prev: Option<&str>, name: &str) -> Result<(), BundleError> {
    match prev {
        Some(p) if p == name => Err(BundleError::DuplicatePart {
            name: name.to_owned(),
        }),
        Some(p) if p.as_bytes() > name.as_bytes() => Err(BundleError::NotCanonical {
            name: name.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// One signature on a bundle: the signer's public key and its Ed25519
/// signature of the canonical manifest bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct BundleSignature {
    key: VerifyingKey,
    signature: [u8; SIGNATURE_LEN],
}

impl BundleSignature {
    /// The signer's public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }
    /// The signer's key id.
    pub fn key_id(&self) -> &KeyId {
        self.key.key_id()
    }
    /// The raw signature.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }
}

impl fmt::Debug for BundleSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BundleSignature({})", self.key.key_id())
    }
}

/// A policy bundle: manifest, parts and signatures.
///
/// # Container layout (version 1)
///
/// All integers are big-endian; every length is checked against its limit.
///
/// | field | encoding |
/// | --- | --- |
/// | magic | `MESHBNDL` (8 bytes) |
/// | format version | `u16` = 1 |
/// | manifest | `u32` length, then the manifest's canonical bytes ([`Manifest`]) |
/// | parts | `u16` count, then per part in manifest order: `u16` name length, name, `u32` data length, data |
/// | signatures | `u8` count (≤ 8), then per signature: 32-byte Ed25519 public key, 64-byte signature |
///
/// Parsing is strict: unknown version, duplicate or unordered names, parts
/// that differ from the manifest, duplicate signers and trailing bytes are
/// errors. Building the same parts with the same revision and time gives the
/// same bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Bundle {
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
    parts: Vec<(String, Vec<u8>)>,
    signatures: Vec<BundleSignature>,
}

impl fmt::Debug for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundle")
            .field("manifest", &self.manifest)
            .field("signatures", &self.signatures)
            .finish()
    }
}

/// Assembles an unsigned [`Bundle`] from named parts.
#[derive(Debug, Clone)]
pub struct BundleBuilder {
    revision: u64,
    created_at: Timestamp,
    parts: std::collections::BTreeMap<String, Vec<u8>>,
}

impl BundleBuilder {
    /// A builder for revision `revision`, built at `created_at`.
    pub fn new(revision: u64, created_at: Timestamp) -> BundleBuilder {
        BundleBuilder {
            revision,
            created_at,
            parts: Default::default(),
        }
    }

    /// Adds a part; the name must be valid and not already present.
    pub fn part(
        &mut self,
        name: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Result<&mut BundleBuilder, BundleError> {
        let name = name.into();
        validate_part_name(&name)?;
        let data = data.into();
        if data.len() > MAX_PART_BYTES {
            return Err(BundleError::TooLarge {
                what: "part",
                size: data.len(),
                limit: MAX_PART_BYTES,
            });
        }
        if self.parts.contains_key(&name) {
            return Err(BundleError::DuplicatePart { name });
        }
        if self.parts.len() >= MAX_PARTS {
            return Err(BundleError::TooLarge {
                what: "part count",
                size: self.parts.len().saturating_add(1),
                limit: MAX_PARTS,
            });
        }
        self.parts.insert(name, data);
        Ok(self)
    }

    /// The unsigned bundle.
    pub fn build(&self) -> Result<Bundle, BundleError> {
        let mut digests = Vec::with_capacity(self.parts.len());
        let mut parts = Vec::with_capacity(self.parts.len());
        let mut total: usize = 64;
        for (name, data) in &self.parts {
            let d = ring::digest::digest(&ring::digest::SHA256, data);
            let mut sha256 = [0u8; 32];
            sha256.copy_from_slice(d.as_ref());
            digests.push(PartDigest {
                name: name.clone(),
                size: u32::try_from(data.len()).unwrap_or(u32::MAX),
                sha256,
            });
            parts.push((name.clone(), data.clone()));
            total = total
                .saturating_add(data.len())
                .saturating_add(2 * name.len() + 48);
        }
        if total > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                what: "bundle",
                size: total,
                limit: MAX_BUNDLE_BYTES,
            });
        }
        let manifest = Manifest {
            revision: self.revision,
            created_at: self.created_at,
            parts: digests,
        };
        Ok(Bundle {
            manifest_bytes: manifest.canonical_bytes(),
            manifest,
            parts,
            signatures: Vec::new(),
        })
    }
}

impl Bundle {
    /// Parses a bundle strictly (see the layout above). Does not check
    /// signatures or digests: see [`Bundle::verify`].
    pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                what: "bundle",
                size: bytes.len(),
                limit: MAX_BUNDLE_BYTES,
            });
        }
        let mut r = Reader::new(bytes);
        if r.take(MAGIC.len(), "magic")
            .map_err(|_| BundleError::BadMagic)?
            != MAGIC
        {
            return Err(BundleError::BadMagic);
        }
        let version = r.u16("format version")?;
        if version != FORMAT_VERSION {
            return Err(BundleError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let mlen = r.u32("manifest length")? as usize;
        let manifest_bytes = r.take(mlen, "manifest")?;
        let manifest = Manifest::parse(manifest_bytes)?;
        let count = usize::from(r.u16("part count")?);
        if count > MAX_PARTS {
            return Err(BundleError::TooLarge {
                what: "part count",
                size: count,
                limit: MAX_PARTS,
            });
        }
        let mut parts: Vec<(String, Vec<u8>)> = Vec::with_capacity(count);
        for _ in 0..count {
            let name = r.name("part name")?;
            check_order(parts.last().map(|p| p.0.as_str()), &name)?;
            let len = r.u32("part length")? as usize;
            if len > MAX_PART_BYTES {
                return Err(BundleError::TooLarge {
                    what: "part",
                    size: len,
                    limit: MAX_PART_BYTES,
                });
            }
            let data = r.take(len, "part data")?;
            parts.push((name, data.to_vec()));
        }
        let nsig = usize::from(r.u8("signature count")?);
        if nsig > MAX_SIGNATURES {
            return Err(BundleError::TooLarge {
                what: "signature count",
                size: nsig,
                limit: MAX_SIGNATURES,
            });
        }
        let mut signatures: Vec<BundleSignature> = Vec::with_capacity(nsig);
        for _ in 0..nsig {
            let key = VerifyingKey::from_bytes(r.take(PUBLIC_KEY_LEN, "signer key")?)?;
            let mut signature = [0u8; SIGNATURE_LEN];
            signature.copy_from_slice(r.take(SIGNATURE_LEN, "signature")?);
            if signatures.iter().any(|s| s.key_id() == key.key_id()) {
                return Err(BundleError::DuplicateSignature {
                    key_id: key.key_id().to_string(),
                });
            }
            signatures.push(BundleSignature { key, signature });
        }
        r.finish()?;
        // The parts must be exactly the manifest's entries.
        for (i, entry) in manifest.parts.iter().enumerate() {
            match parts.get(i) {
                None => {
                    return Err(BundleError::ManifestMismatch {
                        name: entry.name.clone(),
                        reason: "listed in the manifest but missing",
                    })
                }
                Some((name, _)) if *name != entry.name => {
                    return Err(BundleError::ManifestMismatch {
                        name: name.clone(),
                        reason: "not the part the manifest lists at this position",
                    })
                }
                Some((name, data)) if data.len() != entry.size as usize => {
                    return Err(BundleError::ManifestMismatch {
                        name: name.clone(),
                        reason: "size differs from the manifest",
                    })
                }
                Some(_) => {}
            }
        }
        if let Some((name, _)) = parts.get(manifest.parts.len()) {
            return Err(BundleError::ManifestMismatch {
                name: name.clone(),
                reason: "not listed in the manifest",
            });
        }
        Ok(Bundle {
            manifest,
            manifest_bytes: manifest_bytes.to_vec(),
            parts,
            signatures,
        })
    }

    /// The bundle's bytes (deterministic for the same content and signatures).
    pub fn to_bytes(&self) -> Vec<u8> {
        let size: usize = self
            .parts
            .iter()
            .map(|(n, d)| n.len() + d.len() + 6)
            .sum::<usize>()
            + self.manifest_bytes.len()
            + 32;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        out.extend_from_slice(
            &u32::try_from(self.manifest_bytes.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(&self.manifest_bytes);
        out.extend_from_slice(&count_u16(self.parts.len()).to_be_bytes());
        for (name, data) in &self.parts {
            out.extend_from_slice(&count_u16(name.len()).to_be_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(data);
        }
        out.push(u8::try_from(self.signatures.len()).unwrap_or(u8::MAX));
        for s in &self.signatures {
            out.extend_from_slice(s.key.as_bytes());
            out.extend_from_slice(&s.signature);
        }
        out
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The revision (shortcut for `manifest().revision()`).
    pub fn revision(&self) -> u64 {
        self.manifest.revision
    }

    /// The parts, in name order.
    pub fn parts(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.parts.iter().map(|(n, d)| (n.as_str(), d.as_slice()))
    }

    /// The parts of one kind, in name order.
    pub fn parts_of(&self, kind: PartKind) -> impl Iterator<Item = (&str, &[u8])> {
        self.parts()
            .filter(move |(n, _)| PartKind::of_name(n) == Some(kind))
    }

    /// The part named `name`.
    pub fn part(&self, name: &str) -> Option<&[u8]> {
        self.parts
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .and_then(|i| self.parts.get(i))
            .map(|(_, d)| d.as_slice())
    }

    /// The signatures.
    pub fn signatures(&self) -> &[BundleSignature] {
        &self.signatures
    }

    /// Signs the manifest with `key`, replacing an earlier signature by the
    /// same key. At most [`MAX_SIGNATURES`] keys may sign.
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), BundleError> {
        let sig = BundleSignature {
            key: key.verifying_key().clone(),
            signature: key.sign(&self.manifest_bytes),
        };
        if let Some(existing) = self
            .signatures
            .iter_mut()
            .find(|s| s.key_id() == key.key_id())
        {
            *existing = sig;
            return Ok(());
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(BundleError::TooLarge {
                what: "signature count",
                size: self.signatures.len().saturating_add(1),
                limit: MAX_SIGNATURES,
            });
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// Checks that a trusted key signed the manifest, that every signature
    /// by a trusted key is valid, and that every part matches its digest.
    ///
    /// Signatures by keys that are not trusted are ignored.
    pub fn verify(self, trust: &TrustedKeys) -> Result<VerifiedBundle, BundleError> {
        if self.signatures.is_empty() {
            return Err(BundleError::Unsigned);
        }
        let mut signed_by = Vec::new();
        for s in &self.signatures {
            let Some(trusted) = trust.get(s.key_id()) else {
                continue;
            };
            if trusted != s.key() || !trusted.verify(&self.manifest_bytes, &s.signature) {
                return Err(BundleError::BadSignature {
                    key_id: s.key_id().to_string(),
                });
            }
            signed_by.push(s.key_id().clone());
        }
        if signed_by.is_empty() {
            let ids: Vec<&str> = self
                .signatures
                .iter()
                .map(|s| s.key_id().as_str())
                .collect();
            return Err(BundleError::UntrustedKey {
                key_ids: ids.join(", "),
            });
        }
        self.check_digests()?;
        Ok(VerifiedBundle {
            bundle: self,
            signed_by,
        })
    }

    /// Checks every part against its manifest digest (no signature check).
    pub fn check_digests(&self) -> Result<(), BundleError> {
        for ((name, data), entry) in self.parts.iter().zip(&self.manifest.parts) {
            let d = ring::digest::digest(&ring::digest::SHA256, data);
            if d.as_ref() != entry.sha256.as_slice() {
                return Err(BundleError::DigestMismatch { name: name.clone() });
            }
        }
        Ok(())
    }
}

/// A bundle whose signature and digests have been checked against a set of
/// trusted keys. Only [`Bundle::verify`] makes one.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    bundle: Bundle,
    signed_by: Vec<KeyId>,
}

impl VerifiedBundle {
    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }
    /// The trusted keys whose signatures verified.
    pub fn signed_by(&self) -> &[KeyId] {
        &self.signed_by
    }
    /// The revision.
    pub fn revision(&self) -> u64 {
        self.bundle.revision()
    }
    /// The part named `name`, as UTF-8 text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.bundle
            .part(name)
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], BundleError> {
        let end = self.pos.checked_add(n);
        let out = end
            .and_then(|e| self.bytes.get(self.pos..e))
            .ok_or(BundleError::Truncated {
                what,
                offset: self.pos,
            })?;
        self.pos = self.pos.saturating_add(n);
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], BundleError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, BundleError> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, BundleError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, BundleError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, BundleError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, BundleError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    fn name(&mut self, what: &'static str) -> Result<String, BundleError> {
        let len = usize::from(self.u16(what)?);
        if len > MAX_PART_NAME {
            return Err(BundleError::TooLarge {
                what: "part name",
                size: len,
                limit: MAX_PART_NAME,
            });
        }
        let raw = self.take(len, what)?;
        let name = std::str::from_utf8(raw).map_err(|_| BundleError::InvalidPartName {
            name: String::from_utf8_lossy(raw).into_owned(),
            reason: "name is not UTF-8",
        })?;
        validate_part_name(name)?;
        Ok(name.to_owned())
    }

    fn finish(&self) -> Result<(), BundleError> {
        if self.pos < self.bytes.len() {
            return Err(BundleError::TrailingData { offset: self.pos });
        }
        Ok(())
    }
}
