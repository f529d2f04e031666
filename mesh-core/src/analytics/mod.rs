//! Security analytics: identity-keyed correlation of OCSF events into
//! Detection Findings, and identity-anchored response.
//!
//! The layer consumes OCSF 1.8.0 events as JSON ([`serde_json::Value`], the
//! same contract as OCSF NDJSON) and produces:
//!
//! - [`Finding`]s, rendered as OCSF Detection Findings (class 2004) by
//!   [`Finding::to_ocsf`];
//! - [`ResponseRecord`]s: the [`ResponseAction`]s a [`ResponsePolicy`] chose
//!   for a finding, each with its reason, for the host (or the `Mesh` facade)
//!   to apply to the identity fabric or to send as OpenC2 commands.
//!
//! The parts:
//!
//! - [`Correlator`]: stateful, actor-keyed correlation with event-time order,
//!   bounded lateness, sliding windows, sequences, counts and distinct counts,
//!   and bounded state (TTL plus a memory cap with eviction). It runs the
//!   built-in detections listed in [`DetectionId`].
//! - [`SigmaRuleSet`]: Sigma rules (YAML) evaluated on OCSF events through the
//!   documented [`FieldMapping`] and logsource-to-class routing.
//! - [`IntelSet`]: STIX 2.1 indicators matched against event observables.
//! - [`Analytics`]: the three together, one call per event.
//!
//! # Actor lookup order
//!
//! Correlation is keyed on [`crate::ActorKey`]. The subject of an event is
//! the first of these fields that canonicalizes to a valid key
//! ([`crate::ActorKey::from_identifier`]):
//!
//! - Authentication (3002), Account Change (3001), User Access Management
//!   (3005) and Group Management (3006): the account acted upon first —
//!   `user.email_addr`, `user.uid`, `user.name` — then `actor.user.email_addr`,
//!   `actor.user.uid`, `actor.user.name`;
//! - every other class: `actor.user.email_addr`, `actor.user.uid`,
//!   `actor.user.name`, then `user.email_addr`, `user.uid`, `user.name`.
//!
//! No clock is read: every time comes from the events' `time` field.
//!
//! # Inputs, speed and memory
//!
//! Events come as parsed [`serde_json::Value`]s ([`Correlator::observe`],
//! [`Analytics::observe`]) or as JSON text, one NDJSON line each
//! ([`Correlator::observe_json`], [`Analytics::observe_json`]). The text
//! path reads the fields correlation needs in one pass without building a
//! `Value` ([`Signal::from_json`]); it gives the same findings and errors,
//! and is what hosts that receive text (the CLI, the C ABI, Python) should
//! call. With Sigma rules or intelligence loaded the event is parsed once
//! and handled as a `Value`.
//!
//! State per tracked actor is bounded by the thresholds (see
//! [`Correlator`]'s "Bounded state": about 650 bytes per actor measured on
//! realistic traffic, under 2 KiB with every ring full, never more than
//! about 7.5 KiB), and the number of actors by
//! [`CorrelatorConfig::max_actors`].

mod attack;
mod correlator;
mod engine;
mod event;
mod finding;
mod ocsf;
mod ocsf_scan;
mod ocsf_text;
mod response;
mod sigma;
mod sigma_condition;
mod sigma_mapping;
mod state;
mod stix;
mod yaml;

pub use attack::{Attack, Tactic, Technique};
pub use correlator::{
    Admission, Correlator, CorrelatorConfig, CorrelatorStats, DetectionId, Thresholds,
};
pub use engine::Analytics;
pub use finding::{Evidence, Finding, Severity};
pub use ocsf::{actor_of, Signal};
pub use response::{
    OpenC2Command, ResponseAction, ResponseLog, ResponsePolicy, ResponseRecord, ResponseRule,
};
pub use sigma::{SigmaMatch, SigmaRule, SigmaRuleSet};
pub use sigma_mapping::FieldMapping;
pub use stix::{Indicator, IntelMatch, IntelSet, ObservableKind};

use thiserror::Error;

/// Why an analytics input (rule, indicator, event, policy) was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnalyticsError {
    /// A Sigma rule could not be loaded.
    #[error("invalid rule `{rule}`: {reason}")]
    InvalidRule {
        /// The rule's id, title or position in the input.
        rule: String,
        /// What was wrong, and where.
        reason: String,
    },
    /// A STIX bundle or indicator could not be loaded.
    #[error("invalid indicator `{indicator}`: {reason}")]
    InvalidIndicator {
        /// The indicator's id, or the JSON pointer of the object.
        indicator: String,
        /// What was wrong, and where.
        reason: String,
    },
    /// An event is not usable OCSF JSON.
    #[error("invalid event{}: {reason}", at_pointer(pointer))]
    InvalidEvent {
        /// The JSON pointer of the offending field (empty: the whole event,
        /// e.g. text that is not JSON; the reason then gives line:column).
        pointer: String,
        /// What was wrong.
        reason: String,
    },
    /// A response policy could not be loaded.
    #[error("invalid response policy at `{pointer}`: {reason}")]
    InvalidPolicy {
        /// The JSON pointer of the offending field.
        pointer: String,
        /// What was wrong.
        reason: String,
    },
}

/// ` at `/pointer`` for a field, nothing for the whole document.
fn at_pointer(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!(" at `{pointer}`")
    }
}

/// The stable, documented kind of an [`AnalyticsError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AnalyticsErrorKind {
    /// See [`AnalyticsError::InvalidRule`].
    InvalidRule,
    /// See [`AnalyticsError::InvalidIndicator`].
    InvalidIndicator,
    /// See [`AnalyticsError::InvalidEvent`].
    InvalidEvent,
    /// See [`AnalyticsError::InvalidPolicy`].
    InvalidPolicy,
}

impl AnalyticsErrorKind {
    /// The kind's stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AnalyticsErrorKind::InvalidRule => "invalid_rule",
            AnalyticsErrorKind::InvalidIndicator => "invalid_indicator",
            AnalyticsErrorKind::InvalidEvent => "invalid_event",
            AnalyticsErrorKind::InvalidPolicy => "invalid_policy",
        }
    }
}

impl AnalyticsError {
    /// The stable kind of this error.
    pub fn kind(&self) -> AnalyticsErrorKind {
        match self {
            AnalyticsError::InvalidRule { .. } => AnalyticsErrorKind::InvalidRule,
            AnalyticsError::InvalidIndicator { .. } => AnalyticsErrorKind::InvalidIndicator,
            AnalyticsError::InvalidEvent { .. } => AnalyticsErrorKind::InvalidEvent,
            AnalyticsError::InvalidPolicy { .. } => AnalyticsErrorKind::InvalidPolicy,
        }
    }
}

#[cfg(test)]
mod error_tests {
    use super::AnalyticsError;

    #[test]
    fn event_errors_name_the_field_or_the_whole_event() {
        let field = AnalyticsError::InvalidEvent {
            pointer: "/time".into(),
            reason: "not a number".into(),
        };
        assert_eq!(field.to_string(), "invalid event at `/time`: not a number");
        let whole = AnalyticsError::InvalidEvent {
            pointer: String::new(),
            reason: "invalid JSON: expected value at line 1 column 1".into(),
        };
        assert_eq!(
            whole.to_string(),
            "invalid event: invalid JSON: expected value at line 1 column 1"
        );
    }
}
