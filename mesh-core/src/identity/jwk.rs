//! Verification keys: from JWKS documents (via `jsonwebtoken::jwk` types),
//! PEM/DER public keys and HMAC secrets; key selection by `kid`.

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyOperations, PublicKeyUse,
};
use ring::{hmac, signature};
use serde_json::Value;
use std::fmt;

use super::error::clip;
use super::json;
use super::jws::{b64_decode, Algorithm, AlgorithmFamily};
use super::IdentityError;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (ring's limit).
pub const MAX_RSA_BITS: usize = 8192;
/// Default maximum size of a JWKS document in bytes.
pub const DEFAULT_MAX_JWKS_LEN: usize = 256 * 1024;
/// Most keys one key set holds.
pub const MAX_KEYS: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

enum Material {
    /// One precomputed ring key per HS algorithm the secret is long enough for.
    Hmac {
        len: usize,
        keys: Box<[Option<hmac::Key>; 3]>,
    },
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        bits: usize,
    },
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
    Ed25519 {
        public: [u8; 32],
    },
}

/// A public key (or HMAC secret) that verifies JWS signatures.
///
/// Its `Debug` output never shows key material.
pub struct VerifyingKey {
    kid: Option<String>,
    alg: Option<Algorithm>,
    material: Material,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.material {
            Material::Hmac { .. } => "oct(redacted)".to_owned(),
            Material::Rsa { bits, .. } => format!("RSA-{bits}"),
            Material::Ec {
                curve: Curve::P256, ..
            } => "EC P-256".to_owned(),
            Material::Ec {
                curve: Curve::P384, ..
            } => "EC P-384".to_owned(),
            Material::Ed25519 { .. } => "OKP Ed25519".to_owned(),
        };
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("key", &kind)
            .finish()
    }
}

fn hmac_alg(alg: Algorithm) -> Option<(usize, hmac::Algorithm, usize)> {
    match alg {
        Algorithm::HS256 => Some((0, hmac::HMAC_SHA256, 32)),
        Algorithm::HS384 => Some((1, hmac::HMAC_SHA384, 48)),
        Algorithm::HS512 => Some((2, hmac::HMAC_SHA512, 64)),
        _ => None,
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(i..).unwrap_or_default()
}

fn bit_len(b: &[u8]) -> usize {
    match b.first() {
        None => 0,
        Some(top) => (b.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

impl VerifyingKey {
    /// An HMAC secret. With `alg` set, only that algorithm is accepted; the
    /// secret must be at least as long as the hash output (32, 48, 64 bytes).
    pub fn hmac(
        secret: &[u8],
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<VerifyingKey, IdentityError> {
        let mut keys = [None, None, None];
        let candidates: Vec<Algorithm> = match alg {
            Some(a) if a.family() == AlgorithmFamily::Hmac => vec![a],
            Some(a) => {
                return Err(IdentityError::invalid_key(
                    kid,
                    format!("an `oct` key cannot be used with `{a}`"),
                ))
            }
            None => vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
        };
        for a in candidates {
            if let Some((i, ra, min)) = hmac_alg(a) {
                if secret.len() >= min {
                    if let Some(slot) = keys.get_mut(i) {
                        *slot = Some(hmac::Key::new(ra, secret));
                    }
                } else if alg.is_some() {
                    return Err(IdentityError::weak_key(
                        kid,
                        format!(
                            "{a} needs a secret of at least {min} bytes, got {}",
                            secret.len()
                        ),
                    ));
                }
            }
        }
        if keys.iter().all(Option::is_none) {
            return Err(IdentityError::weak_key(
                kid,
                format!("HMAC secrets need at least 32 bytes, got {}", secret.len()),
            ));
        }
        Ok(VerifyingKey {
            kid: kid.map(str::to_owned),
            alg,
            material: Material::Hmac {
                len: secret.len(),
                keys: Box::new(keys),
            },
        })
    }

    /// An RSA public key from its big-endian modulus and exponent.
    pub fn rsa(
        n: &[u8],
        e: &[u8],
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<VerifyingKey, IdentityError> {
        if let Some(a) = alg {
            if a.family() != AlgorithmFamily::Rsa {
                return Err(IdentityError::invalid_key(
                    kid,
                    format!("an RSA key cannot be used with `{a}`"),
                ));
            }
        }
        let n = strip_zeros(n);
        let e = strip_zeros(e);
        let bits = bit_len(n);
        if bits < MIN_RSA_BITS {
            return Err(IdentityError::weak_key(
                kid,
                format!("RSA modulus is {bits} bits, the minimum is {MIN_RSA_BITS}"),
            ));
        }
        if bits > MAX_RSA_BITS {
            return Err(IdentityError::invalid_key(
                kid,
                format!("RSA modulus is {bits} bits, the maximum is {MAX_RSA_BITS}"),
            ));
        }
        let e_ok = e.len() <= 4
            && e.last().is_some_and(|l| l & 1 == 1)
            && e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)) >= 3;
        if !e_ok {
            return Err(IdentityError::weak_key(
                kid,
                "RSA public exponent must be odd, at least 3 and at most 32 bits",
            ));
        }
        if n.last().is_some_and(|l| l & 1 == 0) {
            return Err(IdentityError::invalid_key(kid, "RSA modulus is even"));
        }
        Ok(VerifyingKey {
            kid: kid.map(str::to_owned),
            alg,
            material: Material::Rsa {
                n: n.to_vec(),
                e: e.to_vec(),
                bits,
            },
        })
    }

    fn ec(
        curve: Curve,
        x: &[u8],
        y: &[u8],
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<VerifyingKey, IdentityError> {
        let (size, want) = match curve {
            Curve::P256 => (32, Algorithm::ES256),
            Curve::P384 => (48, Algorithm::ES384),
        };
        if let Some(a) = alg {
            if a != want {
                return Err(IdentityError::invalid_key(
                    kid,
                    format!("the key's curve is for `{want}`, not `{a}`"),
                ));
            }
        }
        if x.len() != size || y.len() != size {
            return Err(IdentityError::invalid_key(
                kid,
                format!("EC coordinates must be {size} bytes each"),
            ));
        }
        let mut point = Vec::with_capacity(1 + 2 * size);
        point.push(4);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        Ok(VerifyingKey {
            kid: kid.map(str::to_owned),
            alg,
            material: Material::Ec { curve, point },
        })
    }

    fn ec_point(
        curve: Curve,
        point: &[u8],
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<VerifyingKey, IdentityError> {
        let size = if curve == Curve::P256 { 32 } else { 48 };
        match point.split_first() {
            Some((4, rest)) if rest.len() == 2 * size => {
                let (x, y) = rest.split_at(size);
                VerifyingKey::ec(curve, x, y, kid, alg)
            }
            _ => Err(IdentityError::invalid_key(
                kid,
                "EC point must be uncompressed (0x04 ‖ x ‖ y)",
            )),
        }
    }

    /// An Ed25519 public key (32 bytes).
    pub fn ed25519(public: &[u8], kid: Option<&str>) -> Result<VerifyingKey, IdentityError> {
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| IdentityError::invalid_key(kid, "Ed25519 keys are 32 bytes"))?;
        Ok(VerifyingKey {
            kid: kid.map(str::to_owned),
            alg: Some(Algorithm::EdDSA),
            material: Material::Ed25519 { public },
        })
    }

    /// A key from one JWK. Refused when its `use`/`key_ops` forbid
    /// verification, its `alg` is unknown or does not fit the key, or the key
    /// is weak (RSA under 2048 bits, HMAC secret shorter than the hash).
    pub fn from_jwk(jwk: &Jwk) -> Result<VerifyingKey, IdentityError> {
        let kid = jwk.common.key_id.as_deref();
        match &jwk.common.public_key_use {
            None | Some(PublicKeyUse::Signature) => {}
            Some(other) => {
                let u = match other {
                    PublicKeyUse::Encryption => "enc".to_owned(),
                    PublicKeyUse::Other(s) => clip(s),
                    PublicKeyUse::Signature => "sig".to_owned(),
                };
                return Err(IdentityError::invalid_key(
                    kid,
                    format!("`use` is `{u}`, not `sig`"),
                ));
            }
        }
        if let Some(ops) = &jwk.common.key_operations {
            if !ops.contains(&KeyOperations::Verify) {
                return Err(IdentityError::invalid_key(
                    kid,
                    "`key_ops` does not include `verify`",
                ));
            }
        }
        let alg = match &jwk.common.key_algorithm {
            None => None,
            Some(ka) => {
                let name = ka.to_string();
                Some(name.parse::<Algorithm>().map_err(|_| {
                    IdentityError::invalid_key(
                        kid,
                        format!(
                            "`alg` `{}` is not a supported signature algorithm",
                            clip(&name)
                        ),
                    )
                })?)
            }
        };
        let d = |part: &str, s: &str| {
            b64_decode("key", s.as_bytes())
                .map_err(|_| IdentityError::invalid_key(kid, format!("`{part}` is not base64url")))
        };
        match &jwk.algorithm {
            AlgorithmParameters::OctetKey(p) => VerifyingKey::hmac(&d("k", &p.value)?, kid, alg),
            AlgorithmParameters::RSA(p) => {
                VerifyingKey::rsa(&d("n", &p.n)?, &d("e", &p.e)?, kid, alg)
            }
            AlgorithmParameters::EllipticCurve(p) => {
                let curve = match p.curve {
                    EllipticCurve::P256 => Curve::P256,
                    EllipticCurve::P384 => Curve::P384,
                    _ => {
                        return Err(IdentityError::invalid_key(
                            kid,
                            "EC curve must be `P-256` or `P-384`",
                        ))
                    }
                };
                VerifyingKey::ec(curve, &d("x", &p.x)?, &d("y", &p.y)?, kid, alg)
            }
            AlgorithmParameters::OctetKeyPair(p) => {
                if p.curve != EllipticCurve::Ed25519 {
                    return Err(IdentityError::invalid_key(
                        kid,
                        "OKP curve must be `Ed25519`",
                    ));
                }
                if alg.is_some_and(|a| a != Algorithm::EdDSA) {
                    return Err(IdentityError::invalid_key(
                        kid,
                        "an Ed25519 key can only be used with `EdDSA`",
                    ));
                }
                VerifyingKey::ed25519(&d("x", &p.x)?, kid)
            }
            _ => Err(IdentityError::invalid_key(
                kid,
                "unsupported or malformed key type (`kty`)",
            )),
        }
    }

    /// A public key from DER: SubjectPublicKeyInfo (RSA, EC P-256/P-384,
    /// Ed25519) or a PKCS#1 `RSAPublicKey`.
    pub fn from_der(
        der: &[u8],
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<VerifyingKey, IdentityError> {
        der::public_key(der, kid, alg)
    }

    /// A public key from PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`).
    pub fn from_pem(
        pem: &str,
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<VerifyingKey, IdentityError> {
        let der = der::pem_decode(pem, kid)?;
        der::public_key(&der, kid, alg)
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the key is pinned to, if any.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// Whether this key may verify `alg`; the error says why not.
    pub fn check_alg(&self, alg: Algorithm) -> Result<(), IdentityError> {
        let not_allowed = |reason: String| IdentityError::AlgNotAllowed {
            alg: alg.as_str().to_owned(),
            reason,
        };
        if let Some(pinned) = self.alg {
            if pinned != alg {
                return Err(not_allowed(format!(
                    "key {} is for `{pinned}`",
                    fmt_kid(self.kid.as_deref())
                )));
            }
        }
        let ok = match (&self.material, alg.family()) {
            (Material::Hmac { len, keys }, AlgorithmFamily::Hmac) => {
                let (i, _, min) = hmac_alg(alg).unwrap_or((0, hmac::HMAC_SHA256, 32));
                if keys.get(i).is_some_and(Option::is_some) {
                    true
                } else {
                    return Err(IdentityError::weak_key(
                        self.kid.as_deref(),
                        format!("{alg} needs a secret of at least {min} bytes, got {len}"),
                    ));
                }
            }
            (Material::Rsa { .. }, AlgorithmFamily::Rsa) => true,
            (Material::Ec { curve, .. }, AlgorithmFamily::Ecdsa) => {
                matches!(
                    (curve, alg),
                    (Curve::P256, Algorithm::ES256) | (Curve::P384, Algorithm::ES384)
                )
            }
            (Material::Ed25519 { .. }, AlgorithmFamily::EdDsa) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(not_allowed(format!(
                "key {} is of another type",
                fmt_kid(self.kid.as_deref())
            )))
        }
    }

    /// Verify `signature` over `message` with `alg`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> Result<(), IdentityError> {
        self.check_alg(alg)?;
        let res = match &self.material {
            Material::Hmac { keys, .. } => {
                let (i, _, _) = hmac_alg(alg).ok_or(IdentityError::BadSignature)?;
                match keys.get(i) {
                    Some(Some(k)) => hmac::verify(k, message, sig),
                    _ => return Err(IdentityError::BadSignature),
                }
            }
            Material::Rsa { n, e, .. } => {
                let params: &signature::RsaParameters = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return Err(IdentityError::BadSignature),
                };
                signature::RsaPublicKeyComponents { n, e }.verify(params, message, sig)
            }
            Material::Ec { curve, point } => {
                let a: &signature::EcdsaVerificationAlgorithm = match curve {
                    Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                };
                signature::UnparsedPublicKey::new(a, point).verify(message, sig)
            }
            Material::Ed25519 { public } => {
                signature::UnparsedPublicKey::new(&signature::ED25519, public).verify(message, sig)
            }
        };
        res.map_err(|_| IdentityError::BadSignature)
    }
}

fn fmt_kid(kid: Option<&str>) -> String {
    match kid {
        Some(k) => format!("`{}`", clip(k)),
        None => "(no kid)".to_owned(),
    }
}

/// The live verification keys of one issuer; several may be live at once
/// (rotation). Keys of a JWKS that cannot be used are kept aside with the
/// reason, so a token naming one of them is rejected with that reason.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    rejected: Vec<(Option<String>, IdentityError)>,
}

impl KeySet {
    /// An empty key set.
    pub fn new() -> KeySet {
        KeySet::default()
    }

    /// Add a key (at most [`MAX_KEYS`]).
    pub fn push(&mut self, key: VerifyingKey) -> Result<(), IdentityError> {
        if self.keys.len() >= MAX_KEYS {
            return Err(IdentityError::TooLarge {
                part: "key set",
                len: self.keys.len() + 1,
                max: MAX_KEYS,
            });
        }
        self.keys.push(key);
        Ok(())
    }

    /// A key set from one key.
    pub fn single(key: VerifyingKey) -> KeySet {
        KeySet {
            keys: vec![key],
            rejected: Vec::new(),
        }
    }

    /// Parse a JWKS document (`{"keys":[...]}`) strictly: size bounded
    /// ([`DEFAULT_MAX_JWKS_LEN`]), duplicate members and deep nesting
    /// rejected. Unusable keys are set aside (see [`KeySet::rejected`]).
    pub fn from_jwks(document: &[u8]) -> Result<KeySet, IdentityError> {
        KeySet::from_jwks_with_limit(document, DEFAULT_MAX_JWKS_LEN)
    }

    /// [`KeySet::from_jwks`] with an explicit size limit.
    pub fn from_jwks_with_limit(document: &[u8], max_len: usize) -> Result<KeySet, IdentityError> {
        if document.len() > max_len {
            return Err(IdentityError::TooLarge {
                part: "jwks",
                len: document.len(),
                max: max_len,
            });
        }
        let value = json::parse_strict(document, 6, "jwks")?;
        let Some(Value::Array(items)) = value.get("keys") else {
            return Err(IdentityError::malformed("jwks", "`keys` must be an array"));
        };
        if items.len() > MAX_KEYS {
            return Err(IdentityError::TooLarge {
                part: "jwks",
                len: items.len(),
                max: MAX_KEYS,
            });
        }
        let mut set = KeySet::new();
        for (i, item) in items.iter().enumerate() {
            let kid = item.get("kid").and_then(Value::as_str).map(str::to_owned);
            let parsed = serde_json::from_value::<Jwk>(item.clone()).map_err(|e| {
                IdentityError::invalid_key(kid.as_deref(), format!("`/keys/{i}`: {e}"))
            });
            match parsed.and_then(|jwk| VerifyingKey::from_jwk(&jwk)) {
                Ok(k) => set.keys.push(k),
                Err(e) => set.rejected.push((kid, e)),
            }
        }
        Ok(set)
    }

    /// A key set from a `jsonwebtoken` JWK set already parsed by the caller.
    pub fn from_jwk_set(jwks: &JwkSet) -> KeySet {
        let mut set = KeySet::new();
        for jwk in jwks.keys.iter().take(MAX_KEYS) {
            match VerifyingKey::from_jwk(jwk) {
                Ok(k) => set.keys.push(k),
                Err(e) => set.rejected.push((jwk.common.key_id.clone(), e)),
            }
        }
        set
    }

    /// The usable keys.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// Keys of the source document that were refused, with the reason.
    pub fn rejected(&self) -> &[(Option<String>, IdentityError)] {
        &self.rejected
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a usable key has this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The key for a token with this `kid` and `alg`.
    ///
    /// With a `kid`, only keys with that id are considered. Without one, the
    /// set must hold exactly one key usable with `alg`.
    pub fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&VerifyingKey, IdentityError> {
        match kid {
            Some(kid) => {
                let mut first_err = None;
                for k in self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)) {
                    match k.check_alg(alg) {
                        Ok(()) => return Ok(k),
                        Err(e) => {
                            first_err.get_or_insert(e);
                        }
                    }
                }
                if let Some(e) = first_err {
                    return Err(e);
                }
                if let Some((_, e)) = self
                    .rejected
                    .iter()
                    .find(|(rk, _)| rk.as_deref() == Some(kid))
                {
                    return Err(e.clone());
                }
                Err(IdentityError::UnknownKid {
                    kid: Some(clip(kid)),
                })
            }
            None => {
                let mut found = None;
                let mut first_err = None;
                for k in &self.keys {
                    match k.check_alg(alg) {
                        Ok(()) => {
                            if found.is_some() {
                                return Err(IdentityError::UnknownKid { kid: None });
                            }
                            found = Some(k);
                        }
                        Err(e) => {
                            first_err.get_or_insert(e);
                        }
                    }
                }
                match (found, first_err) {
                    (Some(k), _) => Ok(k),
                    (None, Some(e)) => Err(e),
                    (None, None) => match self.rejected.first() {
                        Some((_, e)) if self.rejected.len() == 1 => Err(e.clone()),
                        _ => Err(IdentityError::UnknownKid { kid: None }),
                    },
                }
            }
        }
    }
}

mod der {
    //! Just enough DER to read public keys.

    use super::{Curve, VerifyingKey};
    use crate::identity::jws::Algorithm;
    use crate::identity::IdentityError;
    use base64::Engine;

    const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

    fn bad(kid: Option<&str>, what: &str) -> IdentityError {
        IdentityError::invalid_key(kid, format!("malformed DER: {what}"))
    }

    /// Read one TLV with `tag`; returns (content, rest).
    fn tlv<'a>(
        input: &'a [u8],
        tag: u8,
        kid: Option<&str>,
    ) -> Result<(&'a [u8], &'a [u8]), IdentityError> {
        let (&t, rest) = input.split_first().ok_or_else(|| bad(kid, "truncated"))?;
        if t != tag {
            return Err(bad(kid, "unexpected tag"));
        }
        let (&l0, rest) = rest.split_first().ok_or_else(|| bad(kid, "truncated"))?;
        let (len, rest) = match l0 {
            0..=0x7f => (usize::from(l0), rest),
            0x81 => match rest.split_first() {
                Some((&l, r)) if l >= 0x80 => (usize::from(l), r),
                _ => return Err(bad(kid, "non-minimal length")),
            },
            0x82 => match rest {
                [a, b, r @ ..] if *a != 0 => ((usize::from(*a) << 8) | usize::from(*b), r),
                _ => return Err(bad(kid, "non-minimal length")),
            },
            _ => return Err(bad(kid, "unsupported length")),
        };
        if rest.len() < len {
            return Err(bad(kid, "truncated"));
        }
        Ok(rest.split_at(len))
    }

    fn rsa_public_key(
        der: &[u8],
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<VerifyingKey, IdentityError> {
        let (seq, rest) = tlv(der, 0x30, kid)?;
        if !rest.is_empty() {
            return Err(bad(kid, "trailing data"));
        }
        let (n, seq) = tlv(seq, 0x02, kid)?;
        let (e, seq) = tlv(seq, 0x02, kid)?;
        if !seq.is_empty() {
            return Err(bad(kid, "trailing data"));
        }
        if n.first().is_some_and(|b| b & 0x80 != 0) || e.first().is_some_and(|b| b & 0x80 != 0) {
            return Err(bad(kid, "negative integer"));
        }
        VerifyingKey::rsa(n, e, kid, alg)
    }

    pub(super) fn public_key(
        der: &[u8],
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<VerifyingKey, IdentityError> {
        if der.len() > 4096 {
            return Err(IdentityError::TooLarge {
                part: "key",
                len: der.len(),
                max: 4096,
            });
        }
        let (spki, rest) = tlv(der, 0x30, kid)?;
        if !rest.is_empty() {
            return Err(bad(kid, "trailing data"));
        }
        // PKCS#1 RSAPublicKey starts with an INTEGER; SPKI with a SEQUENCE.
        if spki.first() == Some(&0x02) {
            return rsa_public_key(der, kid, alg);
        }
        let (algid, rest) = tlv(spki, 0x30, kid)?;
        let (bits, rest) = tlv(rest, 0x03, kid)?;
        if !rest.is_empty() {
            return Err(bad(kid, "trailing data"));
        }
        let key = match bits.split_first() {
            Some((0, k)) => k,
            _ => return Err(bad(kid, "bit string has unused bits")),
        };
        let (oid, params) = tlv(algid, 0x06, kid)?;
        match oid {
            OID_RSA => rsa_public_key(key, kid, alg),
            OID_EC => {
                let (curve_oid, rest) = tlv(params, 0x06, kid)?;
                if !rest.is_empty() {
                    return Err(bad(kid, "trailing data"));
                }
                let curve = match curve_oid {
                    OID_P256 => Curve::P256,
                    OID_P384 => Curve::P384,
                    _ => {
                        return Err(IdentityError::invalid_key(
                            kid,
                            "EC curve must be P-256 or P-384",
                        ))
                    }
                };
                VerifyingKey::ec_point(curve, key, kid, alg)
            }
            OID_ED25519 => {
                if !params.is_empty() {
                    return Err(bad(kid, "Ed25519 has no parameters"));
                }
                if alg.is_some_and(|a| a != Algorithm::EdDSA) {
                    return Err(IdentityError::invalid_key(
                        kid,
                        "an Ed25519 key can only be used with `EdDSA`",
                    ));
                }
                VerifyingKey::ed25519(key, kid)
            }
            _ => Err(IdentityError::invalid_key(kid, "unsupported key algorithm")),
        }
    }

    pub(super) fn pem_decode(pem: &str, kid: Option<&str>) -> Result<Vec<u8>, IdentityError> {
        if pem.len() > 8192 {
            return Err(IdentityError::TooLarge {
                part: "key",
                len: pem.len(),
                max: 8192,
            });
        }
        let pem = pem.trim();
        let labels = ["PUBLIC KEY", "RSA PUBLIC KEY"];
        for label in labels {
            let begin = format!("-----BEGIN {label}-----");
            let end = format!("-----END {label}-----");
            if let Some(body) = pem
                .strip_prefix(begin.as_str())
                .and_then(|b| b.strip_suffix(end.as_str()))
            {
                let b64: String = body.split_ascii_whitespace().collect();
                return base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| IdentityError::invalid_key(kid, "PEM body is not base64"));
            }
        }
        Err(IdentityError::invalid_key(
            kid,
            "expected a `PUBLIC KEY` or `RSA PUBLIC KEY` PEM block",
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::IdentityErrorKind as K;

    #[test]
    fn hmac_secret_shorter_than_hash_is_weak() {
        let e = VerifyingKey::hmac(&[7; 31], None, Some(Algorithm::HS256)).unwrap_err();
        assert_eq!(e.kind(), K::WeakKey);
        let k = VerifyingKey::hmac(&[7; 40], Some("k"), None).unwrap();
        assert!(k.check_alg(Algorithm::HS256).is_ok());
        assert_eq!(
            k.check_alg(Algorithm::HS384).unwrap_err().kind(),
            K::WeakKey
        );
        assert_eq!(
            k.check_alg(Algorithm::RS256).unwrap_err().kind(),
            K::AlgNotAllowed
        );
        assert!(!format!("{k:?}").contains("7, 7"));
    }

    #[test]
    fn small_rsa_is_weak() {
        let mut n = vec![0xff; 128];
        n[127] = 0xfb;
        let e = VerifyingKey::rsa(&n, &[1, 0, 1], None, None).unwrap_err();
        assert_eq!(e.kind(), K::WeakKey);
    }

    #[test]
    fn jwks_sets_aside_unusable_keys() {
        let doc = br#"{"keys":[
            {"kty":"oct","kid":"short","k":"AAAA","alg":"HS256"},
            {"kty":"oct","kid":"enc","use":"enc","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
            {"kty":"oct","kid":"good","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#;
        let set = KeySet::from_jwks(doc).unwrap();
        assert_eq!(set.keys().len(), 1);
        assert_eq!(set.rejected().len(), 2);
        assert_eq!(
            set.select(Some("short"), Algorithm::HS256)
                .unwrap_err()
                .kind(),
            K::WeakKey
        );
        assert_eq!(
            set.select(Some("enc"), Algorithm::HS256)
                .unwrap_err()
                .kind(),
            K::InvalidKey
        );
        assert_eq!(
            set.select(Some("nope"), Algorithm::HS256)
                .unwrap_err()
                .kind(),
            K::UnknownKid
        );
        assert!(set.select(Some("good"), Algorithm::HS256).is_ok());
        assert!(set.select(None, Algorithm::HS256).is_ok());
    }

    #[test]
    fn jwks_duplicate_member_rejected() {
        let doc = br#"{"keys":[{"kty":"oct","k":"AA","k":"BB"}]}"#;
        assert_eq!(KeySet::from_jwks(doc).unwrap_err().kind(), K::DuplicateKey);
    }
}
