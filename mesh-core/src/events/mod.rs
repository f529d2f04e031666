//! Normalization of raw telemetry (JSON, CEF, LEEF, syslog, key=value) from
//! identity, cloud, endpoint and network tools to OCSF 1.8.0 events.
//!
//! The pieces, in the order a record meets them:
//! * [`format`](mod@format): one parser per wire format, each producing a [`Record`]
//!   (a JSON object of source fields) or a [`format::ParseError`];
//! * [`Source`]: a format, a detection score and a mapping of a record to an
//!   [`ocsf::Event`]; mappings are typed Rust or declarative
//!   ([`mapping::Mapping`], a JSON file compiled once into a plan);
//! * [`Normalizer`]: the registry of sources and the single, batch and
//!   streaming entry points; failed records come back as [`EventError`]s
//!   carrying the original bytes;
//! * [`validate()`]: the semantic check of an event (ids, captions, required
//!   attributes, profiles).
//!
//! Nothing is lost: every source field not mapped to an OCSF attribute ends
//! up in `unmapped` (shape documented in [`ocsf`]).

mod error;
pub mod format;
pub mod mapping;
mod normalize;
pub mod ocsf;
mod record;
mod source;
pub mod sources;
mod timefmt;
mod validate;
mod write;

pub use error::{EventError, EventErrorKind, RawRecord};
pub use normalize::{Detection, NormalizeOptions, Normalizer, StreamStats};
pub use ocsf::Event;
pub use record::{escape_key, split_path, Record};
pub use source::{map_and_finish, Confidence, MapContext, Source};
pub use validate::{validate, Problem, Violation};
