//! The top-level error type: one enum wrapping each layer's own errors.
//!
//! Every layer has its own error type with a stable, documented `kind`; this
//! enum lets hosts that use several layers handle them through one type.

use thiserror::Error;

/// Any error mesh can return.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A credential could not be verified or an identity-fabric input was invalid.
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    /// A policy, schema, entity or request could not be parsed or validated.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// A telemetry record could not be parsed or normalized.
    #[error(transparent)]
    Event(#[from] crate::events::EventError),
    /// A policy bundle was refused (parse, signature, digest, revision).
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
    /// An analytics rule, indicator or stream input was invalid.
    #[error(transparent)]
    Analytics(#[from] crate::analytics::AnalyticsError),
}
