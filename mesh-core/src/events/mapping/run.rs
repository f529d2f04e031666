//! Running a compiled mapping on a record.

use std::borrow::Cow;

use serde_json::Value;

use super::{Activity, Cond, Conv, EnumMap, FieldPlan, Mapping, SrcPath, TsFormat};
use crate::events::ocsf::{Assign, Event, Severity};
use crate::events::source::MapContext;
use crate::events::sources::doc::{Doc, Node};
use crate::events::timefmt::{parse_bsd_timestamp, parse_rfc3339};
use crate::events::{EventError, RawRecord, Record};

/// A value of a record, as a plan reads it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Leaf<'x> {
    /// A string.
    Str(&'x str),
    /// An object of a [`Doc`].
    Obj,
    /// Any JSON value.
    Val(&'x Value),
}

/// A record a plan reads and takes from: a [`Record`] or a [`Doc`] (a JSON
/// record parsed with borrowed strings); both give the same results and
/// leave the same fields for `unmapped`.
pub(super) trait Src {
    /// The value at a path of keys.
    fn leaf(&self, segs: &[String]) -> Option<Leaf<'_>>;
    /// Removes the value at `segs` if it is not `null` and `accept` holds
    /// for it (objects left empty are removed too).
    fn take_if(&mut self, segs: &[String], accept: impl FnOnce(Leaf<'_>) -> bool) -> Option<Value>;
    /// A copy of the value at `segs`.
    fn cloned(&self, segs: &[String]) -> Option<Value>;
}

impl Src for Record {
    fn leaf(&self, segs: &[String]) -> Option<Leaf<'_>> {
        self.get_segments(segs).map(Leaf::Val)
    }

    fn take_if(&mut self, segs: &[String], accept: impl FnOnce(Leaf<'_>) -> bool) -> Option<Value> {
        self.take_segments_if(segs, |v| accept(Leaf::Val(v)))
    }

    fn cloned(&self, segs: &[String]) -> Option<Value> {
        self.get_segments(segs).cloned()
    }
}

fn leaf_of<'x>(n: &'x Node<'_>) -> Leaf<'x> {
    match n {
        Node::Str(s) => Leaf::Str(s),
        Node::Obj(_) => Leaf::Obj,
        Node::Val(v) => Leaf::Val(v),
    }
}

impl Src for Doc<'_> {
    fn leaf(&self, segs: &[String]) -> Option<Leaf<'_>> {
        Doc::leaf(self, segs).map(leaf_of)
    }

    fn take_if(&mut self, segs: &[String], accept: impl FnOnce(Leaf<'_>) -> bool) -> Option<Value> {
        self.take_node(segs, |n| !n.is_null() && accept(leaf_of(n)))
            .map(Node::into_value)
    }

    fn cloned(&self, segs: &[String]) -> Option<Value> {
        Doc::cloned(self, segs)
    }
}

fn usable(v: Leaf<'_>) -> bool {
    match v {
        Leaf::Val(Value::Null) => false,
        Leaf::Str(s) => !s.is_empty(),
        Leaf::Val(Value::String(s)) => !s.is_empty(),
        _ => true,
    }
}

fn not_null(v: Leaf<'_>) -> bool {
    !matches!(v, Leaf::Val(Value::Null))
}

fn text(v: Leaf<'_>) -> Option<Cow<'_, str>> {
    match v {
        Leaf::Str(s) => Some(Cow::Borrowed(s)),
        Leaf::Val(Value::String(s)) => Some(Cow::Borrowed(s)),
        Leaf::Val(Value::Number(n)) => Some(Cow::Owned(n.to_string())),
        Leaf::Val(Value::Bool(b)) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

impl Cond {
    pub(super) fn holds(&self, r: &impl Src) -> bool {
        let t = |p: &[String]| r.leaf(p).and_then(text);
        match self {
            Cond::Eq(p, v) => t(p).is_some_and(|x| x == v.as_str()),
            Cond::Ne(p, v) => t(p).is_none_or(|x| x != v.as_str()),
            Cond::In(p, vs) => t(p).is_some_and(|x| vs.iter().any(|v| x == v.as_str())),
            Cond::Exists(p, want) => r.leaf(p).is_some_and(usable) == *want,
            Cond::Prefix(p, v) => t(p).is_some_and(|x| x.starts_with(v.as_str())),
            Cond::Suffix(p, v) => t(p).is_some_and(|x| x.ends_with(v.as_str())),
            Cond::Contains(p, v) => t(p).is_some_and(|x| x.contains(v.as_str())),
            Cond::All(cs) => cs.iter().all(|c| c.holds(r)),
            Cond::Any(cs) => cs.iter().any(|c| c.holds(r)),
            Cond::Not(c) => !c.holds(r),
        }
    }
}

impl Mapping {
    pub(super) fn run(&self, record: &mut impl Src, ctx: &MapContext) -> Result<Event, EventError> {
        let rule = self
            .rules
            .iter()
            .find(|r| r.when.as_ref().is_none_or(|c| c.holds(record)))
            .ok_or(EventError::Unrecognized {
                raw: RawRecord::default(),
            })?;
        let mut shared: Vec<&SrcPath> = Vec::new();
        let mut event = Event {
            class_uid: Some(rule.class.uid()),
            severity_id: Some(Severity::Informational as i64),
            ..Event::default()
        };
        event.activity_id = Some(match &rule.activity {
            Activity::Const(id) => *id,
            Activity::Field(f) => {
                let v = value(f, record, ctx, &mut shared)?
                    .ok_or_else(|| EventError::missing("activity_id"))?;
                v.as_i64()
                    .filter(|id| rule.class.activity_caption(*id).is_some())
                    .ok_or_else(|| {
                        EventError::invalid(src_name(f), format!("activity `{v}` is not defined"))
                    })?
            }
        });
        for f in &rule.fields {
            match value(f, record, ctx, &mut shared)? {
                Some(v) => event.assign(&f.target, v).map_err(|e| {
                    EventError::invalid(
                        src_name(f),
                        format!("cannot set `{}`: {}", f.target_name, e.describe()),
                    )
                })?,
                None if f.required => return Err(EventError::missing(&f.target_name)),
                None => {}
            }
        }
        for p in shared {
            record.take_if(&p.segs, not_null);
        }
        if let Some(missing) = rule.required.minus(event.presence()).names().next() {
            return Err(EventError::missing(missing));
        }
        Ok(event)
    }
}

fn src_name(f: &FieldPlan) -> &str {
    f.from
        .first()
        .map_or(f.target_name.as_str(), |p| p.text.as_str())
}

/// The value of a field spec for this record. The source field used is taken
/// from the record, except when its value is not in the spec's enum map (the
/// original then stays in `unmapped`, since the fallback does not carry it).
fn value<'m>(
    f: &'m FieldPlan,
    record: &mut impl Src,
    ctx: &MapContext,
    shared: &mut Vec<&'m SrcPath>,
) -> Result<Option<Value>, EventError> {
    if f.map.is_none() && f.from.iter().all(|p| !p.shared) {
        // The common case: the first usable value of the chain is moved out
        // of the record in one walk of its path.
        if let Some((p, v)) = f
            .from
            .iter()
            .find_map(|p| record.take_if(&p.segs, usable).map(|v| (p, v)))
        {
            return convert(v, &f.conv, ctx)
                .map(Some)
                .map_err(|reason| EventError::invalid(p.text.as_str(), reason));
        }
    }
    if let (Some(map), true) = (&f.map, f.from.iter().all(|p| !p.shared)) {
        // An enum map over paths no other spec reads: the first usable value
        // is looked up and, when the map has it, taken.
        let fallback = f.other.as_ref().or(f.default.as_ref());
        for p in &f.from {
            let Some(current) = record.leaf(&p.segs).filter(|v| usable(*v)) else {
                continue;
            };
            let found = match (lookup(map, current), fallback) {
                (Some(hit), _) => Ok((hit.clone(), true)),
                (None, Some(d)) => Ok((d.clone(), false)),
                (None, None) => Err(short(current)),
            };
            match found {
                Ok((v, hit)) => {
                    if hit {
                        record.take_if(&p.segs, |_| true);
                    }
                    return convert(v, &f.conv, ctx)
                        .map(Some)
                        .map_err(|reason| EventError::invalid(p.text.as_str(), reason));
                }
                Err(shown) => {
                    return Err(EventError::invalid(
                        p.text.as_str(),
                        format!("value `{shown}` is not in the map of `{}`", f.target_name),
                    ))
                }
            }
        }
    }
    let Some(p) = f
        .from
        .iter()
        .find(|p| record.leaf(&p.segs).is_some_and(usable))
    else {
        let v = match (&f.konst, &f.default) {
            (Some(k), _) => k.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => return Ok(None),
        };
        return convert(v, &f.conv, ctx)
            .map(Some)
            .map_err(|reason| EventError::invalid(&f.target_name, reason));
    };
    let field = p.text.as_str();
    let v = match &f.map {
        Some(map) => {
            let current = record.leaf(&p.segs);
            let hit = current.and_then(|v| lookup(map, v)).cloned();
            match (hit, f.other.as_ref().or(f.default.as_ref())) {
                (Some(m), _) => {
                    consume(p, record, shared);
                    m
                }
                (None, Some(d)) => d.clone(),
                (None, None) => {
                    let shown = current.map(short).unwrap_or_default();
                    return Err(EventError::invalid(
                        field,
                        format!("value `{shown}` is not in the map of `{}`", f.target_name),
                    ));
                }
            }
        }
        None if p.shared => {
            shared.push(p);
            record.cloned(&p.segs).unwrap_or_default()
        }
        None => record.take_if(&p.segs, not_null).unwrap_or_default(),
    };
    convert(v, &f.conv, ctx)
        .map(Some)
        .map_err(|reason| EventError::invalid(field, reason))
}

/// The enum map's value for a source value (as text; ASCII case folded when
/// the map ignores case).
fn lookup<'a>(map: &'a EnumMap, v: Leaf<'_>) -> Option<&'a Value> {
    let key = text(v)?;
    if map.ignore_case {
        map.values.get(&key.to_ascii_lowercase())
    } else {
        map.values.get(key.as_ref())
    }
}

fn consume<'m>(p: &'m SrcPath, record: &mut impl Src, shared: &mut Vec<&'m SrcPath>) {
    if p.shared {
        shared.push(p);
    } else {
        record.take_if(&p.segs, not_null);
    }
}

/// A value for an error message, cut to 64 bytes. (A [`Doc`] object is
/// shown as `{…}`; a mapping run on a `Doc` leaves its errors to the
/// general path, which shows the object.)
fn short(v: Leaf<'_>) -> String {
    let s = match v {
        Leaf::Str(s) => s.to_owned(),
        Leaf::Val(Value::String(s)) => s.clone(),
        Leaf::Obj => "{…}".to_owned(),
        Leaf::Val(other) => other.to_string(),
    };
    if s.len() > 64 {
        let cut = (0..=64).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        format!("{}…", s.get(..cut).unwrap_or_default())
    } else {
        s
    }
}

fn convert(v: Value, conv: &Conv, ctx: &MapContext) -> Result<Value, String> {
    Ok(match conv {
        Conv::None | Conv::Json => v,
        Conv::String => match v {
            Value::String(_) => v,
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            other => Value::String(other.to_string()),
        },
        Conv::Integer => Value::from(i64::from_value(v).map_err(|e| e.describe().to_owned())?),
        Conv::Number => Value::from(f64::from_value(v).map_err(|e| e.describe().to_owned())?),
        Conv::Boolean => Value::from(bool::from_value(v).map_err(|e| e.describe().to_owned())?),
        Conv::Timestamp(fmt) => Value::from(timestamp(&v, fmt, ctx).ok_or_else(|| {
            format!(
                "`{}` is not a timestamp in the expected format",
                short(Leaf::Val(&v))
            )
        })?),
    })
}

fn timestamp(v: &Value, fmt: &TsFormat, ctx: &MapContext) -> Option<i64> {
    let num = || -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|f| f.is_finite() && f.abs() < 1e15)
    };
    let ms = |f: f64| -> Option<i64> {
        let r = f.round();
        (r.abs() < 9.0e15).then_some(r as i64)
    };
    match fmt {
        TsFormat::Rfc3339 => v.as_str().and_then(parse_rfc3339),
        TsFormat::EpochS => num().and_then(|s| ms(s * 1000.0)),
        TsFormat::EpochMs => num().and_then(ms),
        TsFormat::Syslog => v
            .as_str()
            .and_then(|s| parse_bsd_timestamp(s.as_bytes(), ctx.now.unix_millis()))
            .filter(|(_, n)| v.as_str().is_some_and(|s| s.trim_end().len() == *n))
            .map(|(t, _)| t),
        TsFormat::Auto => match v {
            Value::String(s) if s.contains(['-', ':']) => parse_rfc3339(s),
            _ => num().and_then(|n| {
                if n.abs() < 1e11 {
                    ms(n * 1000.0)
                } else {
                    ms(n)
                }
            }),
        },
    }
}
