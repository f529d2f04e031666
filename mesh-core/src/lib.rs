#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod analytics;
pub mod bundle;
pub mod config;
pub mod error;
pub mod events;
pub mod identity;
mod mesh;
pub mod policy;
pub mod posture;
pub mod report;
mod time;

pub use error::Error;
pub use identity::{ActorKey, Identity, IdentityKind};
pub use mesh::{
    AccessDecision, AccessOutcome, Credential, Mesh, Observation, PolicyContent, VerifyFailure,
};
pub use time::Timestamp;

/// The repository README's Rust example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
