//! Running a compiled mapping on a record.

use serde_json::Value;

use super::{Activity, Cond, Conv, EnumMap, FieldPlan, Mapping, SrcPath, TsFormat};
use crate::events::ocsf::{Assign, Event, Severity};
use crate::events::record::at_leaf;
use crate::events::source::MapContext;
use crate::events::timefmt::{parse_bsd_timestamp, parse_rfc3339};
use crate::events::{EventError, RawRecord, Record};

fn usable(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(std::borrow::Cow::Borrowed(if *b {
            "true"
        } else {
            "false"
        })),
        _ => None,
    }
}

impl Cond {
    pub(super) fn holds(&self, r: &Record) -> bool {
        let t = |p: &[String]| r.get_segments(p).and_then(text);
        match self {
            Cond::Eq(p, v) => t(p).is_some_and(|x| x == v.as_str()),
            Cond::Ne(p, v) => t(p).is_none_or(|x| x != v.as_str()),
            Cond::In(p, vs) => t(p).is_some_and(|x| vs.iter().any(|v| x == v.as_str())),
            Cond::Exists(p, want) => r.get_segments(p).is_some_and(usable) == *want,
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
    pub(super) fn run(&self, record: &mut Record, ctx: &MapContext) -> Result<Event, EventError> {
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
            record.take_segments(&p.segs);
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
    record: &mut Record,
    ctx: &MapContext,
    shared: &mut Vec<&'m SrcPath>,
) -> Result<Option<Value>, EventError> {
    if f.map.is_none() && f.from.iter().all(|p| !p.shared) {
        // The common case: the first usable value of the chain is moved out
        // of the record in one walk of its path.
        if let Some((p, v)) = f
            .from
            .iter()
            .find_map(|p| record.take_segments_if(&p.segs, usable).map(|v| (p, v)))
        {
            return convert(v, &f.conv, ctx)
                .map(Some)
                .map_err(|reason| EventError::invalid(p.text.as_str(), reason));
        }
    }
    if let (Some(map), true) = (&f.map, f.from.iter().all(|p| !p.shared)) {
        // An enum map over paths no other spec reads: the first usable value
        // is looked up and, when the map has it, taken in the same walk.
        let fallback = f.other.as_ref().or(f.default.as_ref());
        for p in &f.from {
            let found = at_leaf(record.fields_mut(), &p.segs, |m, last| {
                let current = m.get(last).filter(|v| usable(v))?;
                match (lookup(map, current), fallback) {
                    (Some(hit), _) => {
                        let hit = hit.clone();
                        m.remove(last);
                        Some(Ok(hit))
                    }
                    (None, Some(d)) => Some(Ok(d.clone())),
                    (None, None) => Some(Err(short(current))),
                }
            });
            match found {
                None => continue,
                Some(Ok(v)) => {
                    return convert(v, &f.conv, ctx)
                        .map(Some)
                        .map_err(|reason| EventError::invalid(p.text.as_str(), reason))
                }
                Some(Err(shown)) => {
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
        .find(|p| record.get_segments(&p.segs).is_some_and(usable))
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
            let current = record.get_segments(&p.segs);
            let hit = current.and_then(|v| lookup(map, v));
            match (hit, f.other.as_ref().or(f.default.as_ref())) {
                (Some(m), _) => {
                    let m = m.clone();
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
            record.get_segments(&p.segs).cloned().unwrap_or_default()
        }
        None => record.take_segments(&p.segs).unwrap_or_default(),
    };
    convert(v, &f.conv, ctx)
        .map(Some)
        .map_err(|reason| EventError::invalid(field, reason))
}

/// The enum map's value for a source value (as text; ASCII case folded when
/// the map ignores case).
fn lookup<'a>(map: &'a EnumMap, v: &Value) -> Option<&'a Value> {
    let key = text(v)?;
    if map.ignore_case {
        map.values.get(&key.to_ascii_lowercase())
    } else {
        map.values.get(key.as_ref())
    }
}

fn consume<'m>(p: &'m SrcPath, record: &mut Record, shared: &mut Vec<&'m SrcPath>) {
    if p.shared {
        shared.push(p);
    } else {
        record.take_segments(&p.segs);
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
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
        Conv::Timestamp(fmt) => {
            Value::from(timestamp(&v, fmt, ctx).ok_or_else(|| {
                format!("`{}` is not a timestamp in the expected format", short(&v))
            })?)
        }
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
