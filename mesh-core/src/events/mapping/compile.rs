//! Compiling a mapping file into a plan.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Activity, Cond, Conv, EnumMap, FieldPlan, Mapping, Rule, SrcPath, TsFormat};
use crate::events::format::Format;
use crate::events::ocsf::{Assign, AttrSet, Class, Event, Product};
use crate::events::record::split_path;
use crate::events::EventError;

/// Most rules, fields per rule, fallback paths and map entries in a mapping.
const MAX_ITEMS: usize = 4096;
/// Deepest nesting of conditions.
const MAX_COND_DEPTH: usize = 32;

/// Attributes computed from the ids, never mapping targets.
const DERIVED: [&str; 7] = [
    "class_uid",
    "category_uid",
    "type_uid",
    "class_name",
    "category_name",
    "type_name",
    "activity_id",
];

fn err(pointer: &str, reason: impl Into<String>) -> EventError {
    EventError::Mapping {
        pointer: pointer.to_owned(),
        reason: reason.into(),
    }
}

fn obj<'a>(v: &'a Value, ptr: &str) -> Result<&'a Map<String, Value>, EventError> {
    v.as_object().ok_or_else(|| err(ptr, "expected an object"))
}

fn string<'a>(v: Option<&'a Value>, ptr: &str) -> Result<&'a str, EventError> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(err(ptr, "expected a non-empty string")),
        None => Err(err(ptr, "required")),
    }
}

fn escape_ptr(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn check_keys(m: &Map<String, Value>, allowed: &[&str], ptr: &str) -> Result<(), EventError> {
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(err(
                &format!("{ptr}/{}", escape_ptr(k)),
                format!("unknown key `{k}`"),
            ));
        }
    }
    Ok(())
}

pub(super) fn compile(v: &Value) -> Result<Mapping, EventError> {
    let root = obj(v, "")?;
    check_keys(
        root,
        &[
            "source",
            "format",
            "product",
            "detect",
            "fields",
            "rules",
            "description",
        ],
        "",
    )?;
    let id = string(root.get("source"), "/source")?.to_owned();
    let fmt_name = string(root.get("format"), "/format")?;
    let format = Format::from_name(fmt_name)
        .ok_or_else(|| err("/format", format!("unknown format `{fmt_name}`")))?;
    let product: Product = serde_json::from_value(
        root.get("product")
            .cloned()
            .ok_or_else(|| err("/product", "required"))?,
    )
    .map_err(|_| err("/product", "expected an OCSF product object"))?;
    let detect = match root.get("detect") {
        None => None,
        Some(d) => {
            let m = obj(d, "/detect")?;
            check_keys(m, &["when", "confidence"], "/detect")?;
            let cond = cond(
                m.get("when")
                    .ok_or_else(|| err("/detect/when", "required"))?,
                "/detect/when",
                0,
            )?;
            let c = m
                .get("confidence")
                .and_then(Value::as_u64)
                .filter(|c| (1..=100).contains(c))
                .and_then(|c| u8::try_from(c).ok())
                .ok_or_else(|| err("/detect/confidence", "expected an integer from 1 to 100"))?;
            Some((cond, c))
        }
    };
    let empty = Map::new();
    let common = match root.get("fields") {
        None => &empty,
        Some(f) => obj(f, "/fields")?,
    };
    let rules_v = root
        .get("rules")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| err("/rules", "expected a non-empty array"))?;
    if rules_v.len() > MAX_ITEMS {
        return Err(err("/rules", "too many rules"));
    }
    let mut rules = Vec::with_capacity(rules_v.len());
    for (i, r) in rules_v.iter().enumerate() {
        rules.push(rule(r, &format!("/rules/{i}"), common)?);
    }
    Ok(Mapping {
        id,
        format,
        product,
        detect,
        rules,
    })
}

fn class_of(v: Option<&Value>, ptr: &str) -> Result<Class, EventError> {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(Class::from_uid)
            .ok_or_else(|| err(ptr, format!("unsupported class_uid `{n}`"))),
        Some(Value::String(s)) => Class::ALL
            .iter()
            .copied()
            .find(|c| c.schema_name() == s)
            .ok_or_else(|| err(ptr, format!("unsupported class `{s}`"))),
        Some(_) => Err(err(ptr, "expected a class name or class_uid")),
        None => Err(err(ptr, "required")),
    }
}

fn rule(v: &Value, ptr: &str, common: &Map<String, Value>) -> Result<Rule, EventError> {
    let m = obj(v, ptr)?;
    check_keys(
        m,
        &["when", "class", "activity", "fields", "description"],
        ptr,
    )?;
    let class = class_of(m.get("class"), &format!("{ptr}/class"))?;
    let when = m
        .get("when")
        .map(|w| cond(w, &format!("{ptr}/when"), 0))
        .transpose()?;
    let aptr = format!("{ptr}/activity");
    let activity = match m.get("activity") {
        Some(Value::Number(n)) => {
            let id = n
                .as_i64()
                .filter(|id| class.activity_caption(*id).is_some())
                .ok_or_else(|| {
                    err(
                        &aptr,
                        format!(
                            "activity `{n}` is not defined for class `{}`",
                            class.schema_name()
                        ),
                    )
                })?;
            Activity::Const(id)
        }
        Some(spec) => {
            let mut f = field(spec, &aptr, "activity_id", vec![], Conv::Integer)?;
            f.required = true;
            check_activity_values(&f, class, &aptr)?;
            Activity::Field(Box::new(f))
        }
        None => return Err(err(&aptr, "required")),
    };
    let own = match m.get("fields") {
        None => None,
        Some(f) => Some(obj(f, &format!("{ptr}/fields"))?),
    };
    let mut fields: Vec<FieldPlan> = Vec::new();
    let info = class.info();
    let mut merged: Vec<(&String, &Value, String)> = Vec::new();
    for (k, v) in common {
        if own.is_some_and(|o| o.contains_key(k)) {
            continue;
        }
        merged.push((k, v, format!("/fields/{}", escape_ptr(k))));
    }
    for (k, v) in own.into_iter().flatten() {
        merged.push((k, v, format!("{ptr}/fields/{}", escape_ptr(k))));
    }
    if merged.len() > MAX_ITEMS {
        return Err(err(ptr, "too many fields"));
    }
    for (target, spec, fptr) in merged {
        let segs: Vec<&str> = target.split('.').collect();
        let first = segs.first().copied().unwrap_or_default();
        if DERIVED.contains(&first) {
            return Err(err(
                &fptr,
                format!("`{target}` is derived from the ids and cannot be mapped"),
            ));
        }
        AttrSet::index_of(first)
            .filter(|i| info.allowed.contains(*i))
            .ok_or_else(|| {
                err(
                    &fptr,
                    format!("`{first}` is not an attribute of class `{}`", info.name),
                )
            })?;
        let mut path = Vec::with_capacity(segs.len());
        if !<Event as Assign>::resolve(&segs, &mut path) {
            return Err(err(
                &fptr,
                format!("`{target}` is not an OCSF attribute path"),
            ));
        }
        let default_conv = if first == "time" || target.ends_with("_time") {
            Conv::Timestamp(TsFormat::Auto)
        } else {
            Conv::None
        };
        fields.push(field(spec, &fptr, target, path, default_conv)?);
    }
    mark_shared(&mut fields, &activity);
    let mut required = info.required;
    for d in DERIVED.iter().chain(&["metadata", "severity_id"]) {
        if let Some(i) = AttrSet::index_of(d) {
            required = required.minus(AttrSet::default().with(i));
        }
    }
    Ok(Rule {
        when,
        class,
        activity,
        fields,
        required,
    })
}

fn check_activity_values(f: &FieldPlan, class: Class, ptr: &str) -> Result<(), EventError> {
    let values = f
        .map
        .iter()
        .flat_map(|m| m.values.values())
        .chain(f.default.iter())
        .chain(f.other.iter())
        .chain(f.konst.iter());
    for v in values {
        if v.as_i64()
            .is_none_or(|id| class.activity_caption(id).is_none())
        {
            return Err(err(
                ptr,
                format!(
                    "activity `{v}` is not defined for class `{}`",
                    class.schema_name()
                ),
            ));
        }
    }
    Ok(())
}

/// Marks source paths read by more than one spec of a rule.
fn mark_shared(fields: &mut [FieldPlan], activity: &Activity) {
    let mut count: HashMap<String, usize> = HashMap::new();
    let act = match activity {
        Activity::Field(f) => Some(&**f),
        Activity::Const(_) => None,
    };
    for f in fields.iter().chain(act) {
        for p in &f.from {
            *count.entry(p.text.clone()).or_default() += 1;
        }
    }
    for f in fields.iter_mut() {
        for p in &mut f.from {
            p.shared = count.get(&p.text).copied().unwrap_or(0) > 1;
        }
    }
}

fn src_path(s: &str, ptr: &str) -> Result<SrcPath, EventError> {
    let segs = split_path(s);
    if segs.iter().any(String::is_empty) {
        return Err(err(ptr, format!("invalid source path `{s}`")));
    }
    Ok(SrcPath {
        text: s.to_owned(),
        segs,
        shared: false,
    })
}

fn field(
    spec: &Value,
    ptr: &str,
    target: &str,
    path: Vec<u16>,
    default_conv: Conv,
) -> Result<FieldPlan, EventError> {
    let mut plan = FieldPlan {
        target_name: target.to_owned(),
        target: path,
        from: Vec::new(),
        konst: None,
        map: None,
        default: None,
        other: None,
        conv: default_conv,
        required: false,
    };
    let m = match spec {
        Value::String(s) => {
            plan.from.push(src_path(s, ptr)?);
            return Ok(plan);
        }
        Value::Object(m) => m,
        _ => return Err(err(ptr, "expected a source path or a field spec object")),
    };
    check_keys(
        m,
        &[
            "from",
            "const",
            "map",
            "ignore_case",
            "default",
            "other",
            "type",
            "format",
            "required",
        ],
        ptr,
    )?;
    match m.get("from") {
        None => {}
        Some(Value::String(s)) => plan.from.push(src_path(s, &format!("{ptr}/from"))?),
        Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_ITEMS => {
            for (i, p) in a.iter().enumerate() {
                let pp = format!("{ptr}/from/{i}");
                plan.from.push(src_path(string(Some(p), &pp)?, &pp)?);
            }
        }
        Some(_) => {
            return Err(err(
                &format!("{ptr}/from"),
                "expected a path or a non-empty array of paths",
            ))
        }
    }
    plan.konst = m.get("const").cloned();
    if plan.konst.as_ref().is_some_and(Value::is_null) {
        return Err(err(&format!("{ptr}/const"), "a constant cannot be null"));
    }
    if plan.konst.is_some() != plan.from.is_empty() {
        return Err(err(ptr, "exactly one of `from` and `const` is required"));
    }
    plan.default = m.get("default").cloned().filter(|d| !d.is_null());
    plan.other = m.get("other").cloned().filter(|d| !d.is_null());
    if plan.other.is_some() && !m.contains_key("map") {
        return Err(err(&format!("{ptr}/other"), "`other` needs a `map`"));
    }
    let ignore_case = match m.get("ignore_case") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(err(&format!("{ptr}/ignore_case"), "expected a boolean")),
    };
    if let Some(map) = m.get("map") {
        let mptr = format!("{ptr}/map");
        let mm = obj(map, &mptr)?;
        if mm.len() > MAX_ITEMS {
            return Err(err(&mptr, "too many entries"));
        }
        let mut values = HashMap::with_capacity(mm.len());
        for (k, v) in mm {
            if v.is_null() {
                return Err(err(
                    &format!("{mptr}/{}", escape_ptr(k)),
                    "a mapped value cannot be null",
                ));
            }
            let key = if ignore_case {
                k.to_ascii_lowercase()
            } else {
                k.clone()
            };
            if values.insert(key, v.clone()).is_some() {
                return Err(err(
                    &format!("{mptr}/{}", escape_ptr(k)),
                    "duplicate key (ignoring case)",
                ));
            }
        }
        plan.map = Some(EnumMap {
            values,
            ignore_case,
        });
    }
    if let Some(t) = m.get("type") {
        let tptr = format!("{ptr}/type");
        plan.conv = match string(Some(t), &tptr)? {
            "string" => Conv::String,
            "integer" => Conv::Integer,
            "number" => Conv::Number,
            "boolean" => Conv::Boolean,
            "json" => Conv::Json,
            "timestamp" => Conv::Timestamp(TsFormat::Auto),
            other => return Err(err(&tptr, format!("unknown type `{other}`"))),
        };
    }
    if let Some(f) = m.get("format") {
        let fptr = format!("{ptr}/format");
        let ts = match string(Some(f), &fptr)? {
            "auto" => TsFormat::Auto,
            "rfc3339" => TsFormat::Rfc3339,
            "epoch_s" => TsFormat::EpochS,
            "epoch_ms" => TsFormat::EpochMs,
            "syslog" => TsFormat::Syslog,
            other => return Err(err(&fptr, format!("unknown timestamp format `{other}`"))),
        };
        match plan.conv {
            Conv::Timestamp(_) | Conv::None => plan.conv = Conv::Timestamp(ts),
            _ => return Err(err(&fptr, "`format` applies to timestamps only")),
        }
    }
    plan.required = match m.get("required") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(err(&format!("{ptr}/required"), "expected a boolean")),
    };
    Ok(plan)
}

fn cond(v: &Value, ptr: &str, depth: usize) -> Result<Cond, EventError> {
    if depth > MAX_COND_DEPTH {
        return Err(err(ptr, "conditions nested too deeply"));
    }
    let m = obj(v, ptr)?;
    let list = |key: &str, a: &Value| -> Result<Vec<Cond>, EventError> {
        let a = a
            .as_array()
            .filter(|a| !a.is_empty() && a.len() <= MAX_ITEMS)
            .ok_or_else(|| {
                err(
                    &format!("{ptr}/{key}"),
                    "expected a non-empty array of conditions",
                )
            })?;
        a.iter()
            .enumerate()
            .map(|(i, c)| cond(c, &format!("{ptr}/{key}/{i}"), depth + 1))
            .collect()
    };
    if m.len() == 1 {
        if let Some(a) = m.get("all") {
            return Ok(Cond::All(list("all", a)?));
        }
        if let Some(a) = m.get("any") {
            return Ok(Cond::Any(list("any", a)?));
        }
        if let Some(c) = m.get("not") {
            return Ok(Cond::Not(Box::new(cond(
                c,
                &format!("{ptr}/not"),
                depth + 1,
            )?)));
        }
    }
    if m.len() != 2 {
        return Err(err(
            ptr,
            "expected `path` and one operator, or `all`/`any`/`not`",
        ));
    }
    let path = src_path(
        string(m.get("path"), &format!("{ptr}/path"))?,
        &format!("{ptr}/path"),
    )?
    .segs;
    let (op, arg) = m
        .iter()
        .find(|(k, _)| k.as_str() != "path")
        .ok_or_else(|| err(ptr, "missing operator"))?;
    let optr = format!("{ptr}/{}", escape_ptr(op));
    let text = |v: &Value| -> Result<String, EventError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(err(&optr, "expected a string, number or boolean")),
        }
    };
    Ok(match op.as_str() {
        "eq" => Cond::Eq(path, text(arg)?),
        "ne" => Cond::Ne(path, text(arg)?),
        "prefix" => Cond::Prefix(path, text(arg)?),
        "suffix" => Cond::Suffix(path, text(arg)?),
        "contains" => Cond::Contains(path, text(arg)?),
        "exists" => Cond::Exists(
            path,
            arg.as_bool()
                .ok_or_else(|| err(&optr, "expected a boolean"))?,
        ),
        "in" => {
            let a = arg
                .as_array()
                .filter(|a| a.len() <= MAX_ITEMS)
                .ok_or_else(|| err(&optr, "expected an array"))?;
            Cond::In(path, a.iter().map(&text).collect::<Result<_, _>>()?)
        }
        other => return Err(err(&optr, format!("unknown operator `{other}`"))),
    })
}
