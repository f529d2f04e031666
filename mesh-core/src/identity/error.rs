//! Errors of the identity fabric.

use thiserror::Error;

/// Why a credential or identity input was rejected.
///
/// Each variant maps to a stable [`IdentityErrorKind`]; messages never contain
/// secrets (token bytes, keys, API-key secrets). Values taken from a token
/// (`kid`, `iss`, `alg`, claim names) are shown in backticks and cut to 64
/// characters.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityError {
    /// An identifier was empty or not usable as an actor key.
    #[error("invalid actor identifier: {reason}")]
    InvalidActor {
        /// What was wrong.
        reason: &'static str,
    },
    /// The token, one of its parts or a key document is larger than allowed;
    /// checked before any decoding.
    #[error("{part} is {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// Which input: `token`, `header`, `jwks`, `key`.
        part: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The compact serialization, base64url or JSON of a part is malformed.
    #[error("malformed {part}: {reason}")]
    Malformed {
        /// Which part: `token`, `header`, `payload`, `signature`, `jwks`, `key`.
        part: &'static str,
        /// What was wrong, with a position where there is one.
        reason: String,
    },
    /// A JSON object has the same member twice (at any depth).
    #[error("duplicate key in {part} at `{pointer}`")]
    DuplicateKey {
        /// Which part: `header`, `payload`, `jwks`.
        part: &'static str,
        /// JSON pointer of the duplicated member.
        pointer: String,
    },
    /// JSON nesting goes deeper than allowed.
    #[error("{part} nests deeper than {max} levels")]
    TooDeep {
        /// Which part: `header`, `payload`, `jwks`.
        part: &'static str,
        /// The configured depth limit.
        max: usize,
    },
    /// The header says `alg: none`: unsigned tokens are never accepted.
    #[error("header `alg` is `none`: unsigned tokens are rejected")]
    AlgNone,
    /// The header names an algorithm mesh does not implement.
    #[error("header `alg` `{alg}` is not supported")]
    UnsupportedAlg {
        /// The algorithm named by the token.
        alg: String,
    },
    /// The algorithm is not allowed for this issuer or this key.
    #[error("header `alg` `{alg}` is not allowed: {reason}")]
    AlgNotAllowed {
        /// The algorithm named by the token.
        alg: String,
        /// Why (the issuer's allow-list, or the key's type or `alg`).
        reason: String,
    },
    /// No key of the issuer matches the token's `kid`.
    #[error("no key for header `kid` {}", fmt_kid(.kid))]
    UnknownKid {
        /// The key id named by the token, if any.
        kid: Option<String>,
    },
    /// The header carries a key or key location (`jku`, `x5u`, `jwk`, `x5c`),
    /// which is never fetched or trusted.
    #[error("header `{header}` is not accepted: keys come only from the issuer's key set")]
    ForbiddenHeader {
        /// The header parameter.
        header: &'static str,
    },
    /// The header's `crit` lists an extension mesh does not understand, or is malformed.
    #[error("header `crit` entry `{name}` is not understood")]
    UnknownCrit {
        /// The critical extension name.
        name: String,
    },
    /// The header asks for an unencoded payload (`b64: false`, RFC 7797).
    #[error("header `b64` is `false`: unencoded payloads are rejected")]
    B64False,
    /// A key is too weak to be trusted.
    #[error("weak key{}: {reason}", fmt_opt_kid(.kid))]
    WeakKey {
        /// The key id, if the key has one.
        kid: Option<String>,
        /// Why the key is refused.
        reason: String,
    },
    /// A key could not be used: malformed, unsupported type or curve, or its
    /// `use`/`key_ops` forbid verification.
    #[error("unusable key{}: {reason}", fmt_opt_kid(.kid))]
    InvalidKey {
        /// The key id, if the key has one.
        kid: Option<String>,
        /// Why the key is refused.
        reason: String,
    },
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The token expired (`exp`, leeway included).
    #[error("claim `exp` ({exp}) is in the past (now {now}, leeway {leeway_secs}s)")]
    Expired {
        /// `exp` in seconds since the epoch.
        exp: i64,
        /// The current time in seconds since the epoch.
        now: i64,
        /// The leeway applied, in seconds.
        leeway_secs: u64,
    },
    /// The token is not yet valid (`nbf`, leeway included).
    #[error("claim `nbf` ({nbf}) is in the future (now {now}, leeway {leeway_secs}s)")]
    NotYetValid {
        /// `nbf` in seconds since the epoch.
        nbf: i64,
        /// The current time in seconds since the epoch.
        now: i64,
        /// The leeway applied, in seconds.
        leeway_secs: u64,
    },
    /// The token claims to be issued in the future (`iat`, leeway included).
    #[error("claim `iat` ({iat}) is in the future (now {now}, leeway {leeway_secs}s)")]
    IssuedInFuture {
        /// `iat` in seconds since the epoch.
        iat: i64,
        /// The current time in seconds since the epoch.
        now: i64,
        /// The leeway applied, in seconds.
        leeway_secs: u64,
    },
    /// The token lives longer than the issuer allows (`exp` − `iat`, or `exp` − now).
    #[error("claims `exp`/`iat`: lifetime {lifetime_secs}s exceeds the {max_secs}s maximum")]
    LifetimeTooLong {
        /// The token's lifetime in seconds.
        lifetime_secs: i64,
        /// The issuer's maximum in seconds.
        max_secs: u64,
    },
    /// The token's `iss` is not a trusted issuer.
    #[error("claim `iss` `{iss}` is not a trusted issuer")]
    UnknownIssuer {
        /// The issuer named by the token.
        iss: String,
    },
    /// None of the token's audiences is accepted by the issuer's configuration.
    #[error("claim `aud` {found} names no accepted audience")]
    BadAudience {
        /// The audiences found, rendered for the message.
        found: String,
    },
    /// A required claim is absent.
    #[error("required claim `{claim}` is missing")]
    MissingClaim {
        /// The claim name.
        claim: String,
    },
    /// A claim has the wrong type or value.
    #[error("claim `{claim}` is invalid: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: String,
        /// What was wrong.
        reason: String,
    },
    /// The header `typ` is not the one the issuer requires.
    #[error("header `typ` {} is not `{expected}`", fmt_kid(.found))]
    BadTyp {
        /// The required type.
        expected: String,
        /// The type found, if any.
        found: Option<String>,
    },
    /// An issuer configuration is invalid.
    #[error("invalid issuer configuration for `{issuer}`: {reason}")]
    InvalidConfig {
        /// The issuer.
        issuer: String,
        /// What was wrong.
        reason: String,
    },
    /// An API key is not in the `mesh_<id>_<secret>_<check>` format.
    #[error("malformed api key: {reason}")]
    ApiKeyMalformed {
        /// What was wrong, and where in the key.
        reason: &'static str,
    },
    /// An API key's checksum does not match its id and secret (a typo).
    #[error("api key `{key_id}` has a bad checksum (mistyped key)")]
    ApiKeyBadChecksum {
        /// The key's public id (`mesh_<id>`).
        key_id: String,
    },
    /// No API key with this public id is known.
    #[error("unknown api key `{key_id}`")]
    ApiKeyUnknown {
        /// The key's public id (`mesh_<id>`).
        key_id: String,
    },
    /// The API key's id is known but its secret is wrong.
    #[error("wrong secret for api key `{key_id}`")]
    ApiKeyWrongSecret {
        /// The key's public id (`mesh_<id>`).
        key_id: String,
    },
    /// The API key has expired.
    #[error("api key `{key_id}` expired at {expired_at}")]
    ApiKeyExpired {
        /// The key's public id (`mesh_<id>`).
        key_id: String,
        /// When it expired.
        expired_at: crate::Timestamp,
    },
    /// The API key has been revoked.
    #[error("api key `{key_id}` is revoked")]
    ApiKeyRevoked {
        /// The key's public id (`mesh_<id>`).
        key_id: String,
    },
    /// An API key with this public id is already registered.
    #[error("api key `{key_id}` is already registered")]
    ApiKeyDuplicate {
        /// The key's public id (`mesh_<id>`).
        key_id: String,
    },
    /// A SPIFFE ID does not follow the SPIFFE ID rules.
    #[error("invalid spiffe id at byte {offset}: {reason}")]
    InvalidSpiffeId {
        /// What was wrong.
        reason: &'static str,
        /// Byte offset in the input where the problem was found.
        offset: usize,
    },
    /// A JWT-SVID does not satisfy the JWT-SVID profile.
    #[error("jwt-svid rejected: {check}")]
    SvidProfile {
        /// Which profile check failed (claim or header named in backticks).
        check: String,
    },
    /// A JWT-SVID's subject is in another trust domain than the expected one.
    #[error("jwt-svid claim `sub` is in trust domain `{found}`, expected `{expected}`")]
    SvidTrustDomainMismatch {
        /// The trust domain the verifier expects.
        expected: String,
        /// The trust domain of the token's subject.
        found: String,
    },
    /// A device record is invalid.
    #[error("invalid device record: field `{field}`: {reason}")]
    InvalidDevice {
        /// The offending field.
        field: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// A device's posture was attached to an identity that does not own it.
    #[error("device `{device_id}` is not owned by the identity it was attached to")]
    DeviceOwnerMismatch {
        /// The device's identifier.
        device_id: String,
    },
    /// A just-in-time grant is invalid.
    #[error("invalid grant: field `{field}`: {reason}")]
    InvalidGrant {
        /// The offending field.
        field: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// A just-in-time grant names its own subject as approver.
    #[error("grant `{grant_id}`: field `approver`: the subject cannot approve its own grant")]
    GrantSelfApproved {
        /// The grant's id.
        grant_id: String,
    },
    /// A revocation entry is invalid.
    #[error("invalid revocation: field `{field}`: {reason}")]
    InvalidRevocation {
        /// The offending field.
        field: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// Exported identity state (revocations, grants, API-key records) could
    /// not be imported.
    #[error("malformed {what} at line {line}, column {column}: {reason}")]
    StateMalformed {
        /// Which state was being imported, e.g. `revocation set`.
        what: &'static str,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What was wrong.
        reason: String,
    },
    /// What an API key authenticates (its spec or stored record) is invalid.
    #[error("invalid api key record: field `{field}`: {reason}")]
    InvalidApiKeySpec {
        /// The offending field.
        field: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
}

fn fmt_kid(kid: &Option<String>) -> String {
    match kid {
        Some(k) => format!("`{k}`"),
        None => "(absent)".to_owned(),
    }
}

fn fmt_opt_kid(kid: &Option<String>) -> String {
    match kid {
        Some(k) => format!(" `{k}`"),
        None => String::new(),
    }
}

/// Cut a value taken from untrusted input for use in an error message.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s.get(..end).unwrap_or_default().to_owned();
    out.push('…');
    out
}

/// The stable, documented kind of an [`IdentityError`].
///
/// Kinds are part of the public contract (the C ABI and Python expose them by
/// name): they are never renamed or renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdentityErrorKind {
    /// `invalid_actor`: see [`IdentityError::InvalidActor`].
    InvalidActor,
    /// `too_large`: see [`IdentityError::TooLarge`].
    TooLarge,
    /// `malformed`: see [`IdentityError::Malformed`].
    Malformed,
    /// `duplicate_key`: see [`IdentityError::DuplicateKey`].
    DuplicateKey,
    /// `too_deep`: see [`IdentityError::TooDeep`].
    TooDeep,
    /// `alg_none`: see [`IdentityError::AlgNone`].
    AlgNone,
    /// `unsupported_alg`: see [`IdentityError::UnsupportedAlg`].
    UnsupportedAlg,
    /// `alg_not_allowed`: see [`IdentityError::AlgNotAllowed`].
    AlgNotAllowed,
    /// `unknown_kid`: see [`IdentityError::UnknownKid`].
    UnknownKid,
    /// `forbidden_header`: see [`IdentityError::ForbiddenHeader`].
    ForbiddenHeader,
    /// `unknown_crit`: see [`IdentityError::UnknownCrit`].
    UnknownCrit,
    /// `b64_false`: see [`IdentityError::B64False`].
    B64False,
    /// `weak_key`: see [`IdentityError::WeakKey`].
    WeakKey,
    /// `invalid_key`: see [`IdentityError::InvalidKey`].
    InvalidKey,
    /// `bad_signature`: see [`IdentityError::BadSignature`].
    BadSignature,
    /// `expired`: see [`IdentityError::Expired`].
    Expired,
    /// `not_yet_valid`: see [`IdentityError::NotYetValid`].
    NotYetValid,
    /// `issued_in_future`: see [`IdentityError::IssuedInFuture`].
    IssuedInFuture,
    /// `lifetime_too_long`: see [`IdentityError::LifetimeTooLong`].
    LifetimeTooLong,
    /// `unknown_issuer`: see [`IdentityError::UnknownIssuer`].
    UnknownIssuer,
    /// `bad_audience`: see [`IdentityError::BadAudience`].
    BadAudience,
    /// `missing_claim`: see [`IdentityError::MissingClaim`].
    MissingClaim,
    /// `invalid_claim`: see [`IdentityError::InvalidClaim`].
    InvalidClaim,
    /// `bad_typ`: see [`IdentityError::BadTyp`].
    BadTyp,
    /// `invalid_config`: see [`IdentityError::InvalidConfig`].
    InvalidConfig,
    /// See [`IdentityError::ApiKeyMalformed`].
    ApiKeyMalformed,
    /// See [`IdentityError::ApiKeyBadChecksum`].
    ApiKeyBadChecksum,
    /// See [`IdentityError::ApiKeyUnknown`].
    ApiKeyUnknown,
    /// See [`IdentityError::ApiKeyWrongSecret`].
    ApiKeyWrongSecret,
    /// See [`IdentityError::ApiKeyExpired`].
    ApiKeyExpired,
    /// See [`IdentityError::ApiKeyRevoked`].
    ApiKeyRevoked,
    /// See [`IdentityError::ApiKeyDuplicate`].
    ApiKeyDuplicate,
    /// See [`IdentityError::InvalidSpiffeId`].
    InvalidSpiffeId,
    /// See [`IdentityError::SvidProfile`].
    SvidProfile,
    /// See [`IdentityError::SvidTrustDomainMismatch`].
    SvidTrustDomainMismatch,
    /// See [`IdentityError::InvalidDevice`].
    InvalidDevice,
    /// See [`IdentityError::DeviceOwnerMismatch`].
    DeviceOwnerMismatch,
    /// See [`IdentityError::InvalidGrant`].
    InvalidGrant,
    /// See [`IdentityError::GrantSelfApproved`].
    GrantSelfApproved,
    /// See [`IdentityError::InvalidRevocation`].
    InvalidRevocation,
    /// See [`IdentityError::StateMalformed`].
    StateMalformed,
    /// See [`IdentityError::InvalidApiKeySpec`].
    InvalidApiKeySpec,
}

impl IdentityErrorKind {
    /// The kind's stable snake_case name, e.g. `expired` or `bad_signature`.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdentityErrorKind::InvalidActor => "invalid_actor",
            IdentityErrorKind::TooLarge => "too_large",
            IdentityErrorKind::Malformed => "malformed",
            IdentityErrorKind::DuplicateKey => "duplicate_key",
            IdentityErrorKind::TooDeep => "too_deep",
            IdentityErrorKind::AlgNone => "alg_none",
            IdentityErrorKind::UnsupportedAlg => "unsupported_alg",
            IdentityErrorKind::AlgNotAllowed => "alg_not_allowed",
            IdentityErrorKind::UnknownKid => "unknown_kid",
            IdentityErrorKind::ForbiddenHeader => "forbidden_header",
            IdentityErrorKind::UnknownCrit => "unknown_crit",
            IdentityErrorKind::B64False => "b64_false",
            IdentityErrorKind::WeakKey => "weak_key",
            IdentityErrorKind::InvalidKey => "invalid_key",
            IdentityErrorKind::BadSignature => "bad_signature",
            IdentityErrorKind::Expired => "expired",
            IdentityErrorKind::NotYetValid => "not_yet_valid",
            IdentityErrorKind::IssuedInFuture => "issued_in_future",
            IdentityErrorKind::LifetimeTooLong => "lifetime_too_long",
            IdentityErrorKind::UnknownIssuer => "unknown_issuer",
            IdentityErrorKind::BadAudience => "bad_audience",
            IdentityErrorKind::MissingClaim => "missing_claim",
            IdentityErrorKind::InvalidClaim => "invalid_claim",
            IdentityErrorKind::BadTyp => "bad_typ",
            IdentityErrorKind::InvalidConfig => "invalid_config",
            IdentityErrorKind::ApiKeyMalformed => "api_key_malformed",
            IdentityErrorKind::ApiKeyBadChecksum => "api_key_bad_checksum",
            IdentityErrorKind::ApiKeyUnknown => "api_key_unknown",
            IdentityErrorKind::ApiKeyWrongSecret => "api_key_wrong_secret",
            IdentityErrorKind::ApiKeyExpired => "api_key_expired",
            IdentityErrorKind::ApiKeyRevoked => "api_key_revoked",
            IdentityErrorKind::ApiKeyDuplicate => "api_key_duplicate",
            IdentityErrorKind::InvalidSpiffeId => "invalid_spiffe_id",
            IdentityErrorKind::SvidProfile => "svid_profile",
            IdentityErrorKind::SvidTrustDomainMismatch => "svid_trust_domain_mismatch",
            IdentityErrorKind::InvalidDevice => "invalid_device",
            IdentityErrorKind::DeviceOwnerMismatch => "device_owner_mismatch",
            IdentityErrorKind::InvalidGrant => "invalid_grant",
            IdentityErrorKind::GrantSelfApproved => "grant_self_approved",
            IdentityErrorKind::InvalidRevocation => "invalid_revocation",
            IdentityErrorKind::StateMalformed => "state_malformed",
            IdentityErrorKind::InvalidApiKeySpec => "invalid_api_key_spec",
        }
    }
}

impl std::fmt::Display for IdentityErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl IdentityError {
    /// The stable kind of this error.
    pub fn kind(&self) -> IdentityErrorKind {
        use IdentityErrorKind as K;
        match self {
            IdentityError::ApiKeyMalformed { .. } => IdentityErrorKind::ApiKeyMalformed,
            IdentityError::ApiKeyBadChecksum { .. } => IdentityErrorKind::ApiKeyBadChecksum,
            IdentityError::ApiKeyUnknown { .. } => IdentityErrorKind::ApiKeyUnknown,
            IdentityError::ApiKeyWrongSecret { .. } => IdentityErrorKind::ApiKeyWrongSecret,
            IdentityError::ApiKeyExpired { .. } => IdentityErrorKind::ApiKeyExpired,
            IdentityError::ApiKeyRevoked { .. } => IdentityErrorKind::ApiKeyRevoked,
            IdentityError::ApiKeyDuplicate { .. } => IdentityErrorKind::ApiKeyDuplicate,
            IdentityError::InvalidSpiffeId { .. } => IdentityErrorKind::InvalidSpiffeId,
            IdentityError::SvidProfile { .. } => IdentityErrorKind::SvidProfile,
            IdentityError::SvidTrustDomainMismatch { .. } => {
                IdentityErrorKind::SvidTrustDomainMismatch
            }
            IdentityError::InvalidDevice { .. } => IdentityErrorKind::InvalidDevice,
            IdentityError::DeviceOwnerMismatch { .. } => IdentityErrorKind::DeviceOwnerMismatch,
            IdentityError::InvalidGrant { .. } => IdentityErrorKind::InvalidGrant,
            IdentityError::GrantSelfApproved { .. } => IdentityErrorKind::GrantSelfApproved,
            IdentityError::InvalidRevocation { .. } => IdentityErrorKind::InvalidRevocation,
            IdentityError::StateMalformed { .. } => IdentityErrorKind::StateMalformed,
            IdentityError::InvalidApiKeySpec { .. } => IdentityErrorKind::InvalidApiKeySpec,
            IdentityError::InvalidActor { .. } => K::InvalidActor,
            IdentityError::TooLarge { .. } => K::TooLarge,
            IdentityError::Malformed { .. } => K::Malformed,
            IdentityError::DuplicateKey { .. } => K::DuplicateKey,
            IdentityError::TooDeep { .. } => K::TooDeep,
            IdentityError::AlgNone => K::AlgNone,
            IdentityError::UnsupportedAlg { .. } => K::UnsupportedAlg,
            IdentityError::AlgNotAllowed { .. } => K::AlgNotAllowed,
            IdentityError::UnknownKid { .. } => K::UnknownKid,
            IdentityError::ForbiddenHeader { .. } => K::ForbiddenHeader,
            IdentityError::UnknownCrit { .. } => K::UnknownCrit,
            IdentityError::B64False => K::B64False,
            IdentityError::WeakKey { .. } => K::WeakKey,
            IdentityError::InvalidKey { .. } => K::InvalidKey,
            IdentityError::BadSignature => K::BadSignature,
            IdentityError::Expired { .. } => K::Expired,
            IdentityError::NotYetValid { .. } => K::NotYetValid,
            IdentityError::IssuedInFuture { .. } => K::IssuedInFuture,
            IdentityError::LifetimeTooLong { .. } => K::LifetimeTooLong,
            IdentityError::UnknownIssuer { .. } => K::UnknownIssuer,
            IdentityError::BadAudience { .. } => K::BadAudience,
            IdentityError::MissingClaim { .. } => K::MissingClaim,
            IdentityError::InvalidClaim { .. } => K::InvalidClaim,
            IdentityError::BadTyp { .. } => K::BadTyp,
            IdentityError::InvalidConfig { .. } => K::InvalidConfig,
        }
    }

    pub(crate) fn malformed(part: &'static str, reason: impl Into<String>) -> Self {
        IdentityError::Malformed {
            part,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_claim(claim: &str, reason: impl Into<String>) -> Self {
        IdentityError::InvalidClaim {
            claim: clip(claim),
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_key(kid: Option<&str>, reason: impl Into<String>) -> Self {
        IdentityError::InvalidKey {
            kid: kid.map(clip),
            reason: reason.into(),
        }
    }

    pub(crate) fn weak_key(kid: Option<&str>, reason: impl Into<String>) -> Self {
        IdentityError::WeakKey {
            kid: kid.map(clip),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_without_final_period() {
        let errs = [
            IdentityError::AlgNone,
            IdentityError::UnknownKid {
                kid: Some("k1".into()),
            },
            IdentityError::TooLarge {
                part: "token",
                len: 9000,
                max: 8192,
            },
            IdentityError::MissingClaim {
                claim: "sub".into(),
            },
        ];
        for e in errs {
            let m = e.to_string();
            assert!(!m.ends_with('.'), "{m}");
            assert!(m.chars().next().is_some_and(|c| !c.is_uppercase()), "{m}");
        }
    }

    #[test]
    fn clip_bounds_untrusted_text() {
        let long = "é".repeat(100);
        let c = clip(&long);
        assert!(c.len() <= 67);
        assert_eq!(clip("kid"), "kid");
    }
}
