//! Errors of bundle parsing, verification and activation.

use thiserror::Error;

/// Why a bundle was refused. The active bundle is never changed by a refusal.
///
/// Each variant maps to a stable [`BundleErrorKind`].
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleError {
    /// The input ended before a complete bundle was read.
    #[error("truncated bundle: {what} at byte {offset}")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Byte offset where it started.
        offset: usize,
    },
    /// The input does not start with the bundle magic `MESHBNDL`.
    #[error("not a mesh bundle: bad magic at byte 0")]
    BadMagic,
    /// The container or manifest format version is not one this build reads.
    #[error("unsupported bundle format version `{found}` (supported: {supported})")]
    UnsupportedVersion {
        /// The version found.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// Bytes follow the end of the bundle.
    #[error("trailing data after the bundle at byte {offset}")]
    TrailingData {
        /// Byte offset of the first extra byte.
        offset: usize,
    },
    /// A size or count exceeds its limit.
    #[error("{what} is too large: {size} > {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The size or count found.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Two parts have the same name.
    #[error("duplicate part `{name}`")]
    DuplicatePart {
        /// The repeated name.
        name: String,
    },
    /// Parts or manifest entries are not in strictly ascending name order.
    #[error("parts are not in canonical order at `{name}`")]
    NotCanonical {
        /// The first out-of-order name.
        name: String,
    },
    /// A part name is empty, too long, uses a forbidden character or has no
    /// known kind prefix.
    #[error("invalid part name `{name}`: {reason}")]
    InvalidPartName {
        /// The name (lossily decoded).
        name: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// The parts do not match the manifest's list (missing, extra or wrong size).
    #[error("part `{name}` does not match the manifest: {reason}")]
    ManifestMismatch {
        /// The part name.
        name: String,
        /// What differs.
        reason: &'static str,
    },
    /// A part's SHA-256 differs from the manifest: the bundle was tampered with.
    #[error("digest mismatch for part `{name}`: the bundle was modified after signing")]
    DigestMismatch {
        /// The part name.
        name: String,
    },
    /// The bundle carries no signature at all.
    #[error("bundle is not signed")]
    Unsigned,
    /// No signature is by a trusted key.
    #[error("bundle is not signed by a trusted key (signed by: {key_ids})")]
    UntrustedKey {
        /// The key ids that signed it, comma-separated.
        key_ids: String,
    },
    /// A signature by a trusted key does not verify.
    #[error("bad signature by key `{key_id}`")]
    BadSignature {
        /// The signing key's id.
        key_id: String,
    },
    /// The same key signed the bundle twice.
    #[error("duplicate signature by key `{key_id}`")]
    DuplicateSignature {
        /// The key id.
        key_id: String,
    },
    /// The bundle's revision is older than the active one.
    #[error("rollback refused: bundle revision {revision} is older than active revision {active}")]
    Rollback {
        /// The offered revision.
        revision: u64,
        /// The active revision.
        active: u64,
    },
    /// The bundle's revision is the active one (a replay or a re-send).
    #[error("replay refused: bundle revision {revision} is already active")]
    Replay {
        /// The offered (and active) revision.
        revision: u64,
    },
    /// A key could not be read.
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// What was wrong.
        reason: &'static str,
    },
    /// The bundle verified but its content could not be compiled.
    #[error("bundle revision {revision} cannot be activated: {reason}")]
    Activation {
        /// The offered revision.
        revision: u64,
        /// Why (e.g. a policy parse error, with its location).
        reason: String,
    },
}

/// The stable, documented kind of a [`BundleError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BundleErrorKind {
    /// See [`BundleError::Truncated`].
    Truncated,
    /// See [`BundleError::BadMagic`].
    BadMagic,
    /// See [`BundleError::UnsupportedVersion`].
    UnsupportedVersion,
    /// See [`BundleError::TrailingData`].
    TrailingData,
    /// See [`BundleError::TooLarge`].
    TooLarge,
    /// See [`BundleError::DuplicatePart`].
    DuplicatePart,
    /// See [`BundleError::NotCanonical`].
    NotCanonical,
    /// See [`BundleError::InvalidPartName`].
    InvalidPartName,
    /// See [`BundleError::ManifestMismatch`].
    ManifestMismatch,
    /// See [`BundleError::DigestMismatch`].
    DigestMismatch,
    /// See [`BundleError::Unsigned`].
    Unsigned,
    /// See [`BundleError::UntrustedKey`].
    UntrustedKey,
    /// See [`BundleError::BadSignature`].
    BadSignature,
    /// See [`BundleError::DuplicateSignature`].
    DuplicateSignature,
    /// See [`BundleError::Rollback`].
    Rollback,
    /// See [`BundleError::Replay`].
    Replay,
    /// See [`BundleError::InvalidKey`].
    InvalidKey,
    /// See [`BundleError::Activation`].
    Activation,
}

impl BundleErrorKind {
    /// The kind's stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            BundleErrorKind::Truncated => "truncated",
            BundleErrorKind::BadMagic => "bad_magic",
            BundleErrorKind::UnsupportedVersion => "unsupported_version",
            BundleErrorKind::TrailingData => "trailing_data",
            BundleErrorKind::TooLarge => "too_large",
            BundleErrorKind::DuplicatePart => "duplicate_part",
            BundleErrorKind::NotCanonical => "not_canonical",
            BundleErrorKind::InvalidPartName => "invalid_part_name",
            BundleErrorKind::ManifestMismatch => "manifest_mismatch",
            BundleErrorKind::DigestMismatch => "digest_mismatch",
            BundleErrorKind::Unsigned => "unsigned",
            BundleErrorKind::UntrustedKey => "untrusted_key",
            BundleErrorKind::BadSignature => "bad_signature",
            BundleErrorKind::DuplicateSignature => "duplicate_signature",
            BundleErrorKind::Rollback => "rollback",
            BundleErrorKind::Replay => "replay",
            BundleErrorKind::InvalidKey => "invalid_key",
            BundleErrorKind::Activation => "activation",
        }
    }
}

impl BundleError {
    /// The stable kind of this error.
    pub fn kind(&self) -> BundleErrorKind {
        match self {
            BundleError::Truncated { .. } => BundleErrorKind::Truncated,
            BundleError::BadMagic => BundleErrorKind::BadMagic,
            BundleError::UnsupportedVersion { .. } => BundleErrorKind::UnsupportedVersion,
            BundleError::TrailingData { .. } => BundleErrorKind::TrailingData,
            BundleError::TooLarge { .. } => BundleErrorKind::TooLarge,
            BundleError::DuplicatePart { .. } => BundleErrorKind::DuplicatePart,
            BundleError::NotCanonical { .. } => BundleErrorKind::NotCanonical,
            BundleError::InvalidPartName { .. } => BundleErrorKind::InvalidPartName,
            BundleError::ManifestMismatch { .. } => BundleErrorKind::ManifestMismatch,
            BundleError::DigestMismatch { .. } => BundleErrorKind::DigestMismatch,
            BundleError::Unsigned => BundleErrorKind::Unsigned,
            BundleError::UntrustedKey { .. } => BundleErrorKind::UntrustedKey,
            BundleError::BadSignature { .. } => BundleErrorKind::BadSignature,
            BundleError::DuplicateSignature { .. } => BundleErrorKind::DuplicateSignature,
            BundleError::Rollback { .. } => BundleErrorKind::Rollback,
            BundleError::Replay { .. } => BundleErrorKind::Replay,
            BundleError::InvalidKey { .. } => BundleErrorKind::InvalidKey,
            BundleError::Activation { .. } => BundleErrorKind::Activation,
        }
    }
}
