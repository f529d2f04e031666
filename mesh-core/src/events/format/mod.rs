//! Wire formats of telemetry records, each with its own parser.
//!
//! Every parser is strict about structure and tolerant of what real devices
//! emit; each returns a [`Record`] or a [`ParseError`] with the byte offset of
//! the problem. Inputs longer than [`Limits::max_record_bytes`] are rejected
//! before parsing.

mod cef;
mod json;
mod kv;
mod leef;
mod syslog;

pub use cef::{parse_cef, CefLine, CEF_HEADER};
pub use json::{parse_json, NdjsonLines};
pub use kv::parse_kv;
pub use leef::{parse_leef, LeefAttribute, LeefLine, LEEF_HEADER};
pub use syslog::{parse_syslog, SyslogMessage};

use std::fmt;

use super::{EventError, RawRecord, Record};
use crate::Timestamp;

/// A wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// One JSON object per record (NDJSON streams are split into lines first).
    Json,
    /// ArcSight Common Event Format (`CEF:0|…`), optionally after a syslog header.
    Cef,
    /// IBM QRadar Log Event Extended Format 1.0 or 2.0, optionally after a syslog header.
    Leef,
    /// Syslog, RFC 5424 or RFC 3164 (told apart by the header).
    Syslog,
    /// `key=value` pairs separated by spaces, values optionally quoted.
    KeyValue,
}

impl Format {
    /// The stable lowercase name (`json`, `cef`, `leef`, `syslog`, `kv`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Cef => "cef",
            Format::Leef => "leef",
            Format::Syslog => "syslog",
            Format::KeyValue => "kv",
        }
    }

    /// The format named `name` (as [`Format::as_str`] spells it).
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "json" => Format::Json,
            "cef" => Format::Cef,
            "leef" => Format::Leef,
            "syslog" => Format::Syslog,
            "kv" => Format::KeyValue,
            _ => return None,
        })
    }

    /// The formats a record plausibly is, most specific first, judged from
    /// its first bytes (no full parse). Empty if none fits.
    pub fn sniff(bytes: &[u8]) -> Vec<Format> {
        let trimmed = trim_start(bytes);
        let mut out = Vec::new();
        match trimmed.first() {
            Some(b'{') => out.push(Format::Json),
            Some(_) => {
                let head = trimmed.get(..trimmed.len().min(512)).unwrap_or(trimmed);
                if find(head, b"CEF:").is_some() {
                    out.push(Format::Cef);
                }
                if find(head, b"LEEF:").is_some() {
                    out.push(Format::Leef);
                }
                if trimmed.first() == Some(&b'<') || starts_with_date(trimmed) {
                    out.push(Format::Syslog);
                }
                if find(head, b"=").is_some() {
                    out.push(Format::KeyValue);
                }
            }
            None => {}
        }
        out
    }

    /// Parses `bytes` in this format. `now` is the host's current time, used
    /// only to infer the year of RFC 3164 timestamps.
    pub fn parse(
        self,
        bytes: &[u8],
        now: Timestamp,
        limits: &Limits,
    ) -> Result<Record, ParseError> {
        if bytes.len() > limits.max_record_bytes {
            return Err(ParseError::new(
                self,
                limits.max_record_bytes,
                format!("record exceeds {} bytes", limits.max_record_bytes),
            ));
        }
        match self {
            Format::Json => parse_json(bytes),
            Format::Cef => parse_cef(bytes, now),
            Format::Leef => parse_leef(bytes, now),
            Format::Syslog => parse_syslog(bytes, now).map(SyslogMessage::into_record),
            Format::KeyValue => parse_kv(bytes),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Most fields a CEF, LEEF, syslog structured-data or key=value record may hold.
pub const MAX_FIELDS: usize = 4096;

/// Size bounds applied to every record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest record accepted, in bytes (default 1 MiB).
    pub max_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 1 << 20,
        }
    }
}

/// A record that is not valid in its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    format: Format,
    offset: usize,
    reason: String,
}

impl ParseError {
    pub(crate) fn new(format: Format, offset: usize, reason: impl Into<String>) -> ParseError {
        ParseError {
            format,
            offset,
            reason: reason.into(),
        }
    }

    /// The format being parsed.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Byte offset of the problem.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What was wrong.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// This error as an [`EventError`] carrying the record's bytes.
    pub fn into_event_error(self, raw: &[u8]) -> EventError {
        EventError::Parse {
            format: self.format,
            offset: self.offset,
            reason: self.reason,
            raw: RawRecord::from(raw),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot parse {} record at byte {}: {}",
            self.format, self.offset, self.reason
        )
    }
}

impl std::error::Error for ParseError {}

/// Whether a line starts like a syslog file line without a PRI: a BSD date
/// (`Nov 25 18:02:11`) or an ISO date (`2026-11-25T…`).
fn starts_with_date(b: &[u8]) -> bool {
    const MONTHS: [&[u8]; 12] = [
        b"Jan ", b"Feb ", b"Mar ", b"Apr ", b"May ", b"Jun ", b"Jul ", b"Aug ", b"Sep ", b"Oct ",
        b"Nov ", b"Dec ",
    ];
    let iso = b.len() > 10
        && b.iter().take(4).all(u8::is_ascii_digit)
        && b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && matches!(b.get(10), Some(b'T' | b' '));
    iso || MONTHS.iter().any(|m| b.starts_with(m))
}

pub(crate) fn trim_start(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    b.get(start..).unwrap_or(&[])
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}
