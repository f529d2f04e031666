//! Errors of the identity fabric.

use thiserror::Error;

/// Why a credential or identity input was rejected.
///
/// Each variant maps to a stable [`IdentityErrorKind`]; messages never contain
/// secrets (token bytes, keys, API-key secrets).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityError {
    /// An identifier was empty or not usable as an actor key.
    #[error("invalid actor identifier: {reason}")]
    InvalidActor {
        /// What was wrong.
        reason: &'static str,
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

/// The stable, documented kind of an [`IdentityError`].
///
/// Kinds are part of the public contract (the C ABI and Python expose them by
/// name): they are never renamed or renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdentityErrorKind {
    /// See [`IdentityError::InvalidActor`].
    InvalidActor,
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

impl IdentityError {
    /// The stable kind of this error.
    pub fn kind(&self) -> IdentityErrorKind {
        match self {
            IdentityError::InvalidActor { .. } => IdentityErrorKind::InvalidActor,
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
        }
    }
}
