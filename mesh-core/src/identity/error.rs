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
}

impl IdentityErrorKind {
    /// The kind's stable snake_case name, e.g. `expired` or `bad_signature`.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdentityErrorKind::InvalidActor => "invalid_actor",
        }
    }
}

impl IdentityError {
    /// The stable kind of this error.
    pub fn kind(&self) -> IdentityErrorKind {
        match self {
            IdentityError::InvalidActor { .. } => IdentityErrorKind::InvalidActor,
        }
    }
}
