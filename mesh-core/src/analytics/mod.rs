//! Security analytics: identity-keyed correlation of OCSF events into
//! Detection Findings, and identity-anchored response.

use thiserror::Error;

/// Why an analytics input (rule, indicator, event) was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnalyticsError {
    /// A rule could not be loaded.
    #[error("invalid rule `{rule}`: {reason}")]
    InvalidRule {
        /// The rule's id or file.
        rule: String,
        /// What was wrong.
        reason: String,
    },
}
