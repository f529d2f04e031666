//! Errors of the events layer.

use std::fmt;
use thiserror::Error;

use super::format::Format;

/// The original bytes of a record that could not be normalized, so hosts can
/// dead-letter it. `Debug` shows only the length: records may hold secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawRecord(Vec<u8>);

impl RawRecord {
    /// The bytes as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether no bytes are attached.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&[u8]> for RawRecord {
    fn from(value: &[u8]) -> Self {
        RawRecord(value.to_vec())
    }
}

impl fmt::Debug for RawRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawRecord({} bytes)", self.0.len())
    }
}

/// The stable kind of an [`EventError`], for hosts that branch on it
/// (dead-letter queues, metrics). Never renumbered or renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventErrorKind {
    /// `parse`: the record is not valid in its format.
    Parse,
    /// `too_large`: the record exceeds the configured size limit.
    TooLarge,
    /// `unrecognized`: no registered source recognizes the record.
    Unrecognized,
    /// `unknown_source`: the named source is not registered.
    UnknownSource,
    /// `missing_attribute`: a required OCSF attribute has no value.
    MissingAttribute,
    /// `invalid_value`: a source field has a value the mapping cannot use.
    InvalidValue,
    /// `mapping`: a mapping file is invalid.
    Mapping,
    /// `registry`: a source could not be registered (duplicate id).
    Registry,
}

impl EventErrorKind {
    /// The kind as a stable snake_case string.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventErrorKind::Parse => "parse",
            EventErrorKind::TooLarge => "too_large",
            EventErrorKind::Unrecognized => "unrecognized",
            EventErrorKind::UnknownSource => "unknown_source",
            EventErrorKind::MissingAttribute => "missing_attribute",
            EventErrorKind::InvalidValue => "invalid_value",
            EventErrorKind::Mapping => "mapping",
            EventErrorKind::Registry => "registry",
        }
    }
}

/// Why a record could not be normalized, or a mapping not compiled.
///
/// Errors about a record carry its original bytes ([`EventError::raw`]);
/// the normalizer attaches them, so mapping code may leave them empty.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The record could not be parsed in its format.
    #[error("cannot parse {format} record at byte {offset}: {reason}")]
    Parse {
        /// The format tried.
        format: Format,
        /// Byte offset of the problem in the record.
        offset: usize,
        /// What was wrong.
        reason: String,
        /// The record as received.
        raw: RawRecord,
    },
    /// The record exceeds the size limit.
    #[error("record of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Length of the record.
        len: usize,
        /// The limit.
        limit: usize,
        /// The record as received.
        raw: RawRecord,
    },
    /// No registered source recognizes the record.
    #[error("no source recognizes the record")]
    Unrecognized {
        /// The record as received.
        raw: RawRecord,
    },
    /// The named source is not registered.
    #[error("unknown source `{name}`")]
    UnknownSource {
        /// The source id asked for.
        name: String,
        /// The record as received.
        raw: RawRecord,
    },
    /// A required OCSF attribute has no value in the record.
    #[error("required attribute `{attribute}` has no value in the record")]
    MissingAttribute {
        /// The OCSF attribute path, e.g. `time` or `user`.
        attribute: String,
        /// The record as received.
        raw: RawRecord,
    },
    /// A source field has a value the mapping cannot use.
    #[error("field `{field}`: {reason}")]
    InvalidValue {
        /// The source field path.
        field: String,
        /// What was wrong with it.
        reason: String,
        /// The record as received.
        raw: RawRecord,
    },
    /// A mapping file is invalid.
    #[error("invalid mapping at `{pointer}`: {reason}")]
    Mapping {
        /// JSON pointer of the problem in the mapping file.
        pointer: String,
        /// What was wrong.
        reason: String,
    },
    /// A source could not be registered.
    #[error("cannot register source `{id}`: {reason}")]
    Registry {
        /// The source id.
        id: String,
        /// What was wrong.
        reason: String,
    },
}

impl EventError {
    /// The stable kind of this error.
    pub fn kind(&self) -> EventErrorKind {
        match self {
            EventError::Parse { .. } => EventErrorKind::Parse,
            EventError::TooLarge { .. } => EventErrorKind::TooLarge,
            EventError::Unrecognized { .. } => EventErrorKind::Unrecognized,
            EventError::UnknownSource { .. } => EventErrorKind::UnknownSource,
            EventError::MissingAttribute { .. } => EventErrorKind::MissingAttribute,
            EventError::InvalidValue { .. } => EventErrorKind::InvalidValue,
            EventError::Mapping { .. } => EventErrorKind::Mapping,
            EventError::Registry { .. } => EventErrorKind::Registry,
        }
    }

    /// The original bytes of the record, empty if none are attached.
    pub fn raw(&self) -> &[u8] {
        self.raw_slot().map_or(&[], |r| r.as_bytes())
    }

    /// A missing required attribute (raw bytes attached by the normalizer).
    pub fn missing(attribute: &str) -> EventError {
        EventError::MissingAttribute {
            attribute: attribute.to_owned(),
            raw: RawRecord::default(),
        }
    }

    /// An unusable source field value (raw bytes attached by the normalizer).
    pub fn invalid(field: &str, reason: impl Into<String>) -> EventError {
        EventError::InvalidValue {
            field: field.to_owned(),
            reason: reason.into(),
            raw: RawRecord::default(),
        }
    }

    /// Attaches the record's bytes if none are attached yet.
    pub fn with_raw(mut self, bytes: &[u8]) -> EventError {
        if let Some(slot) = self.raw_slot_mut() {
            if slot.is_empty() {
                *slot = RawRecord::from(bytes);
            }
        }
        self
    }

    fn raw_slot(&self) -> Option<&RawRecord> {
        match self {
            EventError::Parse { raw, .. }
            | EventError::TooLarge { raw, .. }
            | EventError::Unrecognized { raw }
            | EventError::UnknownSource { raw, .. }
            | EventError::MissingAttribute { raw, .. }
            | EventError::InvalidValue { raw, .. } => Some(raw),
            EventError::Mapping { .. } | EventError::Registry { .. } => None,
        }
    }

    fn raw_slot_mut(&mut self) -> Option<&mut RawRecord> {
        match self {
            EventError::Parse { raw, .. }
            | EventError::TooLarge { raw, .. }
            | EventError::Unrecognized { raw }
            | EventError::UnknownSource { raw, .. }
            | EventError::MissingAttribute { raw, .. }
            | EventError::InvalidValue { raw, .. } => Some(raw),
            EventError::Mapping { .. } | EventError::Registry { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_raw_bytes_and_with_raw_keeps_first() {
        let e = EventError::missing("time").with_raw(b"password=hunter2");
        assert!(!format!("{e:?}").contains("hunter2"));
        assert_eq!(e.raw(), b"password=hunter2");
        assert_eq!(e.clone().with_raw(b"other").raw(), b"password=hunter2");
        assert_eq!(e.kind().as_str(), "missing_attribute");
        assert_eq!(
            e.to_string(),
            "required attribute `time` has no value in the record"
        );
    }
}
