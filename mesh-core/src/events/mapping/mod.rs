//! Declarative mappings: a JSON file that maps a source's records to OCSF,
//! compiled once into a [`Mapping`] plan that is also a [`Source`].
//!
//! # File format
//!
//! ```json
//! {
//!   "source": "aws.cloudtrail",
//!   "format": "json",
//!   "product": {"vendor_name": "AWS", "name": "CloudTrail"},
//!   "detect": {"when": {"path": "eventVersion", "exists": true}, "confidence": 80},
//!   "fields": {
//!     "time": {"from": "eventTime", "type": "timestamp", "format": "rfc3339"},
//!     "src_endpoint.ip": "sourceIPAddress",
//!     "cloud.provider": {"const": "AWS"}
//!   },
//!   "rules": [
//!     {
//!       "when": {"path": "eventName", "eq": "ConsoleLogin"},
//!       "class": "authentication",
//!       "activity": 1,
//!       "fields": {
//!         "user.name": {"from": ["userIdentity.userName", "userIdentity.arn"]},
//!         "status_id": {"from": "responseElements.ConsoleLogin",
//!                       "map": {"Success": 1, "Failure": 2}, "default": 0}
//!       }
//!     },
//!     {"class": 6003, "activity": {"from": "readOnly", "map": {"true": 2}, "default": 99},
//!      "fields": {"status_id": {"from": "errorCode", "map": {}, "other": 2, "default": 1}}}
//!   ]
//! }
//! ```
//!
//! * `source` (id, see [`Source::id`]), `format` (`json`, `cef`, `leef`,
//!   `syslog`, `kv`), `product` (an OCSF `product` object) are required.
//! * `detect` (optional): a condition and the confidence (1–100) reported
//!   when it holds; without it the source is never picked by detection.
//! * `fields`: targets applied for every rule, then the rule's own `fields`
//!   (a rule's target overrides a common one).
//! * `rules`: tried in order; the first whose `when` holds (or that has no
//!   `when`) maps the record. `class` is a class name or `class_uid`;
//!   `activity` an `activity_id` or a field spec producing one. A record no
//!   rule matches is an `unrecognized` error.
//!
//! A **target** is a dotted OCSF attribute path (`actor.user.name`), checked
//! against the class when compiling. Attributes derived from the ids
//! (`type_uid`, `category_uid`, captions…) cannot be targets.
//!
//! A **field spec** is a source path string (shorthand for `{"from": path}`)
//! or an object with:
//! * `from`: a source path or a fallback chain of paths; the first present,
//!   non-null, non-empty value is used. Source paths are dotted, `\.` escapes
//!   a dot inside a key. The value used is *taken* from the record; the
//!   other paths of the chain stay in `unmapped`.
//! * `const`: a constant value (instead of `from`).
//! * `map`: an enum map from the source value (as text: numbers and booleans
//!   written out) to the target value; `ignore_case: true` folds ASCII case.
//!   A value not in the map takes `other`, else `default`, else is an error;
//!   such a value also stays in `unmapped`, since the fallback does not carry it.
//! * `other`: the value for a source value not in `map`.
//! * `default`: the value used when no source path has a value (and, without
//!   `other`, for values not in `map`).
//! * `type`: `string`, `integer`, `number`, `boolean`, `json` or `timestamp`
//!   (coercion before assignment; numbers written as strings are accepted
//!   everywhere). Targets named `time` or ending in `_time` are timestamps
//!   unless told otherwise.
//! * `format` (timestamps): `auto` (default: RFC 3339 text, or a number of
//!   seconds if below 10¹¹, else of milliseconds), `rfc3339`, `epoch_s`,
//!   `epoch_ms`, `syslog` (`Mmm dd hh:mm:ss`, year inferred from `now`).
//! * `required: true`: a missing value is an error naming the target.
//!   Attributes the class requires (`time`, `user` for Authentication…) are
//!   always checked: mesh never emits them empty.
//!
//! A **condition** is `{"path": p, OP: v}` with OP one of `eq`, `ne`, `in`
//! (array), `exists` (bool), `prefix`, `suffix`, `contains`; or `{"all":
//! [..]}`, `{"any": [..]}`, `{"not": cond}`. Values compare as text.
//! Conditions read fields without taking them.
//!
//! Compiling resolves every path, target and class once; per event the plan
//! does map lookups and integer-indexed assignments only.

mod compile;
mod run;

use std::collections::HashMap;

use serde_json::Value;

use super::format::Format;
use super::ocsf::{AttrSet, Class, Event, Product};
use super::source::{finish, Confidence, MapContext, Source};
use super::sources::doc::Doc;
use super::{EventError, Record};

/// A compiled declarative mapping. Build with [`Mapping::from_json`]; use it
/// as a [`Source`] (register it in a [`crate::events::Normalizer`]).
#[derive(Clone, Debug)]
pub struct Mapping {
    id: String,
    format: Format,
    product: Product,
    detect: Option<(Cond, Confidence)>,
    rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
struct Rule {
    when: Option<Cond>,
    class: Class,
    activity: Activity,
    fields: Vec<FieldPlan>,
    /// Attributes the class requires that the mapping must produce.
    required: AttrSet,
}

#[derive(Clone, Debug)]
enum Activity {
    Const(i64),
    Field(Box<FieldPlan>),
}

#[derive(Clone, Debug)]
struct SrcPath {
    text: String,
    segs: Vec<String>,
    /// Read by several specs of one rule: read by reference, taken at the end.
    shared: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum TsFormat {
    Auto,
    Rfc3339,
    EpochS,
    EpochMs,
    Syslog,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Conv {
    None,
    String,
    Integer,
    Number,
    Boolean,
    Json,
    Timestamp(TsFormat),
}

#[derive(Clone, Debug)]
struct EnumMap {
    values: HashMap<String, Value>,
    ignore_case: bool,
}

#[derive(Clone, Debug)]
struct FieldPlan {
    /// Dotted target, for errors.
    target_name: String,
    /// Resolved target field indices.
    target: Vec<u16>,
    from: Vec<SrcPath>,
    konst: Option<Value>,
    map: Option<EnumMap>,
    default: Option<Value>,
    other: Option<Value>,
    conv: Conv,
    required: bool,
}

#[derive(Clone, Debug)]
enum Cond {
    Eq(Vec<String>, String),
    Ne(Vec<String>, String),
    In(Vec<String>, Vec<String>),
    Exists(Vec<String>, bool),
    Prefix(Vec<String>, String),
    Suffix(Vec<String>, String),
    Contains(Vec<String>, String),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

impl Mapping {
    /// Compiles a mapping file (JSON text). Errors name the JSON pointer of
    /// the problem in the file.
    pub fn from_json(text: &str) -> Result<Mapping, EventError> {
        let value: Value = serde_json::from_str(text).map_err(|e| EventError::Mapping {
            pointer: String::new(),
            reason: format!("invalid JSON at {}:{}", e.line(), e.column()),
        })?;
        compile::compile(&value)
    }

    /// Compiles a mapping already parsed as JSON.
    pub fn from_value(value: &Value) -> Result<Mapping, EventError> {
        compile::compile(value)
    }
}

impl Source for Mapping {
    fn id(&self) -> &str {
        &self.id
    }

    fn format(&self) -> Format {
        self.format
    }

    fn product(&self) -> Product {
        self.product.clone()
    }

    fn detect(&self, record: &Record) -> Confidence {
        match &self.detect {
            Some((cond, c)) if cond.holds(record) => *c,
            _ => 0,
        }
    }

    fn map(&self, record: &mut Record, ctx: &MapContext) -> Result<Event, EventError> {
        self.run(record, ctx)
    }

    /// JSON records are parsed with borrowed strings and the plan runs on
    /// them directly (the same plan as [`Source::map`]); errors and records
    /// that parse differently are left to the general path.
    fn normalize_raw(&self, raw: &[u8], ctx: &MapContext) -> Option<Result<Event, EventError>> {
        if self.format != Format::Json || raw.len() > ctx.limits.max_record_bytes {
            return None;
        }
        let mut doc = Doc::parse(raw)?;
        let event = self.run(&mut doc, ctx).ok()?;
        Some(Ok(finish(self, event, doc.into_unmapped())))
    }
}
