//! Normalization of raw telemetry (JSON, CEF, LEEF, syslog, key=value) from
//! identity, cloud, endpoint and network tools to OCSF 1.8.0 events.

use thiserror::Error;

/// Why a record could not be normalized. Carries the original bytes so hosts
/// can dead-letter the record.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The record could not be parsed in its format.
    #[error("cannot parse record: {reason}")]
    Parse {
        /// What was wrong, and where.
        reason: String,
        /// The record as received.
        raw: Vec<u8>,
    },
}
