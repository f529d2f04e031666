//! Sigma detection rules (YAML) compiled to matchers over OCSF events.
//!
//! Supported: the detection section with maps (fields ANDed), lists of maps
//! (ORed), keyword lists, `null` values, wildcards `*` and `?` with `\`
//! escapes; modifiers `contains`, `startswith`, `endswith`, `all`, `re` (with
//! `i`, `m`, `s`), `cidr`, `windash`, `exists`, `cased`, `gt`, `gte`, `lt`,
//! `lte`, `base64`, `base64offset`, `wide`/`utf16le`, `utf16be`, `utf16`;
//! conditions with `and`, `or`, `not`, parentheses, `1 of`/`all of` a pattern
//! or `them`. Rejected (an error naming the rule): correlation rules,
//! aggregations, `fieldref`, `expand`, unknown modifiers, unroutable
//! logsources. String matching is case-insensitive unless `cased`; regular
//! expressions are case-sensitive unless `i`, as in the Sigma specification.
//! Fields are found through [`FieldMapping`]; rules are indexed by OCSF class
//! so an event is only tested against rules routed to its class, and each
//! OCSF path is resolved and lower-cased once per event.
//!
//! # Why an own engine
//!
//! The Rust Sigma engines on crates.io were evaluated first:
//! `rsigma-eval` 0.23 is the most complete (pipelines, correlation) but is
//! ~49 000 lines, needs Rust 1.95 (the workspace supports 1.88), brings
//! rayon, chrono, flate2, daachorse and its own YAML stack, and changes its
//! minor version every few weeks; `sigma-rust` 0.7 covers the modifiers but
//! evaluates its own flat `Event` map, so every OCSF event would be copied
//! per evaluation, has no field mapping or logsource routing, and keeps an
//! `unwrap` in library code; `tau-engine` is a different rule language, not
//! Sigma. The rule language is small enough that an own compiler reading
//! OCSF JSON in place is leaner and faster; it is written from the Sigma
//! specification.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use serde_json::Value;

use super::attack::{tactic_from_sigma_tag, Attack};
use super::finding::{Evidence, Finding, Severity};
use super::ocsf::{actor_of, Signal};
use super::sigma_condition::{compile, Cond};
use super::sigma_mapping::FieldMapping;
use super::yaml::{parse_documents, Node};
use super::AnalyticsError;

/// Most rules in one [`SigmaRuleSet`].
pub const MAX_RULES: usize = 100_000;
const MAX_VALUES: usize = 4096;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrOp {
    Eq,
    Prefix,
    Suffix,
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G {
    Lit(char),
    Star,
    One,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone)]
enum Matcher {
    Null,
    Exists(bool),
    Str {
        op: StrOp,
        needle: String,
        cased: bool,
    },
    Glob {
        pattern: Vec<G>,
        cased: bool,
    },
    Regex(regex::Regex),
    Cidr {
        v6: bool,
        prefix: u32,
        net: u128,
    },
    Num {
        cmp: Cmp,
        value: f64,
    },
}

#[derive(Debug, Clone)]
struct FieldCond {
    /// Ids in the set's path table.
    paths: Vec<u32>,
    matchers: Vec<Matcher>,
    all: bool,
}

#[derive(Debug, Clone)]
enum Selection {
    Fields(Vec<FieldCond>),
    AnyOf(Vec<Vec<FieldCond>>),
    Keywords(Vec<Matcher>),
}

/// A compiled Sigma rule.
#[derive(Debug, Clone)]
pub struct SigmaRule {
    id: String,
    title: String,
    level: Severity,
    attacks: Vec<Attack>,
    classes: Vec<u32>,
    selections: Vec<Selection>,
    condition: Cond,
}

impl SigmaRule {
    /// The rule's `id` (or its title when it has none).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The rule's `title`.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The rule's `level` as a severity (`medium` when absent).
    pub fn level(&self) -> Severity {
        self.level
    }

    /// ATT&CK references from the rule's `attack.tNNNN` tags.
    pub fn attacks(&self) -> &[Attack] {
        &self.attacks
    }

    /// The OCSF classes the rule's logsource routes to.
    pub fn classes(&self) -> &[u32] {
        &self.classes
    }
}

/// Distinct OCSF paths of a rule set, split at dots, by id.
#[derive(Debug, Clone, Default)]
struct PathTable {
    paths: Vec<Vec<Box<str>>>,
    index: HashMap<String, u32>,
}

impl PathTable {
    fn id(&mut self, path: &str) -> u32 {
        if let Some(&i) = self.index.get(path) {
            return i;
        }
        let i = u32::try_from(self.paths.len()).unwrap_or(u32::MAX);
        self.paths.push(path.split('.').map(Box::from).collect());
        self.index.insert(path.to_owned(), i);
        i
    }
}

/// A rule that matched an event.
#[derive(Debug, Clone, PartialEq)]
pub struct SigmaMatch {
    /// Rule id.
    pub rule_id: String,
    /// Rule title.
    pub title: String,
    /// Rule level.
    pub level: Severity,
    /// ATT&CK references.
    pub attacks: Vec<Attack>,
}

impl SigmaMatch {
    /// The finding for this match on `event`.
    pub fn to_finding(&self, event: &Value) -> Finding {
        let s = Signal::from_event(event).ok();
        let time = s.as_ref().map_or(crate::Timestamp::EPOCH, |s| s.time);
        let evidence = s
            .as_ref()
            .map(|s| Evidence {
                event_uid: s.uid.clone(),
                class_uid: s.class_uid,
                activity_id: s.activity_id,
                time: s.time,
                src_ip: s.src_ip,
                device: s.device.clone(),
            })
            .into_iter()
            .collect();
        Finding {
            uid: String::new(),
            detection: self.rule_id.clone(),
            title: self.title.clone(),
            desc: format!("Sigma rule `{}` matched", self.rule_id),
            severity: self.level,
            attacks: self.attacks.clone(),
            time,
            first_seen: time,
            actor: actor_of(event),
            src_ip: s.as_ref().and_then(|s| s.src_ip),
            device: s.as_ref().and_then(|s| s.device.clone()),
            session: s.and_then(|s| s.session),
            evidence,
            intel: Vec::new(),
        }
        .seal()
    }
}

/// A set of Sigma rules indexed by OCSF class.
#[derive(Debug, Clone, Default)]
pub struct SigmaRuleSet {
    mapping: FieldMapping,
    rules: Vec<SigmaRule>,
    by_class: HashMap<u32, Vec<u32>>,
    table: PathTable,
}

impl SigmaRuleSet {
    /// An empty set using `mapping`.
    pub fn new(mapping: FieldMapping) -> SigmaRuleSet {
        SigmaRuleSet {
            mapping,
            rules: Vec::new(),
            by_class: HashMap::new(),
            table: PathTable::default(),
        }
    }

    /// Number of rules loaded.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no rule is loaded.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The loaded rules.
    pub fn rules(&self) -> &[SigmaRule] {
        &self.rules
    }

    /// Loads every rule of a YAML stream (documents separated by `---`).
    /// All or nothing: on error no rule from `yaml` is added.
    pub fn add_yaml(&mut self, yaml: &str) -> Result<usize, AnalyticsError> {
        let docs = parse_documents(yaml).map_err(|reason| AnalyticsError::InvalidRule {
            rule: "yaml".into(),
            reason,
        })?;
        let mut compiled = Vec::with_capacity(docs.len());
        for (i, d) in docs.iter().enumerate() {
            compiled.push(compile_rule(d, i, &self.mapping, &mut self.table)?);
        }
        let n = compiled.len();
        for r in compiled {
            self.push(r)?;
        }
        Ok(n)
    }

    /// Loads what it can of a YAML stream: returns how many rules were
    /// added and the error of each rule that was not.
    pub fn add_yaml_lenient(&mut self, yaml: &str) -> (usize, Vec<AnalyticsError>) {
        let docs = match parse_documents(yaml) {
            Ok(d) => d,
            Err(reason) => {
                return (
                    0,
                    vec![AnalyticsError::InvalidRule {
                        rule: "yaml".into(),
                        reason,
                    }],
                )
            }
        };
        let mut errors = Vec::new();
        let mut n = 0;
        for (i, d) in docs.iter().enumerate() {
            match compile_rule(d, i, &self.mapping, &mut self.table).and_then(|r| self.push(r)) {
                Ok(()) => n += 1,
                Err(e) => errors.push(e),
            }
        }
        (n, errors)
    }

    fn push(&mut self, rule: SigmaRule) -> Result<(), AnalyticsError> {
        if self.rules.len() >= MAX_RULES {
            return Err(AnalyticsError::InvalidRule {
                rule: rule.id,
                reason: "more than 100000 rules loaded".into(),
            });
        }
        let idx = u32::try_from(self.rules.len()).unwrap_or(u32::MAX);
        for c in &rule.classes {
            self.by_class.entry(*c).or_default().push(idx);
        }
        self.rules.push(rule);
        Ok(())
    }

    /// The rules routed to the event's class that match it.
    pub fn evaluate(&self, event: &Value) -> Vec<SigmaMatch> {
        let mut out = Vec::new();
        self.evaluate_into(event, &mut out);
        out
    }

    /// [`SigmaRuleSet::evaluate`], appending to `out`; returns how many matched.
    pub fn evaluate_into(&self, event: &Value, out: &mut Vec<SigmaMatch>) -> usize {
        let Some(class) = event
            .get("class_uid")
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok())
        else {
            return 0;
        };
        let Some(idx) = self.by_class.get(&class) else {
            return 0;
        };
        let before = out.len();
        let mut ev = Eval {
            event,
            table: &self.table.paths,
            resolved: vec![None; self.table.paths.len()],
            folds: Folds::default(),
        };
        for &i in idx {
            let Some(r) = self.rules.get(i as usize) else {
                continue;
            };
            let hit = r.condition.eval(&mut |s| {
                r.selections
                    .get(s)
                    .is_some_and(|sel| sel_matches(sel, &mut ev))
            });
            if hit {
                out.push(SigmaMatch {
                    rule_id: r.id.clone(),
                    title: r.title.clone(),
                    level: r.level,
                    attacks: r.attacks.clone(),
                });
            }
        }
        out.len() - before
    }
}

// ---------- evaluation ----------

fn lookup<'a>(event: &'a Value, path: &[Box<str>]) -> Option<&'a Value> {
    let mut cur = event;
    for seg in path {
        cur = cur.as_object()?.get(&**seg)?;
    }
    Some(cur)
}

/// One event's evaluation: paths resolved once, strings folded once.
struct Eval<'e> {
    event: &'e Value,
    table: &'e [Vec<Box<str>>],
    resolved: Vec<Option<Option<&'e Value>>>,
    folds: Folds,
}

impl<'e> Eval<'e> {
    fn get(&mut self, id: u32) -> Option<&'e Value> {
        let slot = self.resolved.get_mut(id as usize)?;
        if let Some(r) = *slot {
            return r;
        }
        let r = self
            .table
            .get(id as usize)
            .and_then(|p| lookup(self.event, p))
            .filter(|v| !v.is_null());
        *slot = Some(r);
        r
    }
}

fn sel_matches(sel: &Selection, ev: &mut Eval<'_>) -> bool {
    match sel {
        Selection::Fields(conds) => conds.iter().all(|c| cond_matches(c, ev)),
        Selection::AnyOf(maps) => maps
            .iter()
            .any(|conds| conds.iter().all(|c| cond_matches(c, ev))),
        Selection::Keywords(ms) => ["message", "raw_data"].iter().any(|f| {
            let event = ev.event;
            event
                .get(*f)
                .and_then(Value::as_str)
                .is_some_and(|s| ms.iter().any(|m| str_matches(m, s, &mut ev.folds)))
        }),
    }
}

fn cond_matches(c: &FieldCond, ev: &mut Eval<'_>) -> bool {
    let mut values: [Option<&Value>; 4] = [None; 4];
    let mut n = 0;
    for &p in c.paths.iter().take(4) {
        if let Some(v) = ev.get(p) {
            if let Some(slot) = values.get_mut(n) {
                *slot = Some(v);
                n += 1;
            }
        }
    }
    let present = values.iter().flatten();
    let scratch = &mut ev.folds;
    let one = |m: &Matcher, scratch: &mut Folds| -> bool {
        match m {
            Matcher::Null => n == 0,
            Matcher::Exists(b) => (n > 0) == *b,
            _ => present.clone().any(|v| value_matches(m, v, scratch)),
        }
    };
    if c.all {
        c.matchers.iter().all(|m| one(m, scratch))
    } else {
        c.matchers.iter().any(|m| one(m, scratch))
    }
}

fn value_matches(m: &Matcher, v: &Value, scratch: &mut Folds) -> bool {
    match v {
        Value::String(s) => str_matches(m, s, scratch),
        Value::Number(num) => match m {
            Matcher::Num { cmp, value } => num.as_f64().is_some_and(|x| compare(*cmp, x, *value)),
            _ => str_matches(m, &num.to_string(), scratch),
        },
        Value::Bool(b) => str_matches(m, if *b { "true" } else { "false" }, scratch),
        Value::Array(items) => items
            .iter()
            .take(256)
            .any(|i| !i.is_array() && value_matches(m, i, scratch)),
        _ => false,
    }
}

fn compare(cmp: Cmp, x: f64, y: f64) -> bool {
    match cmp {
        Cmp::Gt => x > y,
        Cmp::Gte => x >= y,
        Cmp::Lt => x < y,
        Cmp::Lte => x <= y,
    }
}

/// Lower-cased event strings of one evaluation, by address of the source
/// text, so each field is folded once per event however many rules read it.
/// Only strings borrowed from the event (alive for the whole evaluation) are
/// ever cached: the temporaries made for numbers and booleans are lower-case
/// already and return before the cache is touched.
#[derive(Default)]
struct Folds {
    entries: Vec<(usize, usize, String)>,
}

const MAX_FOLDS: usize = 32;

fn fold<'a>(s: &'a str, cache: &'a mut Folds) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    if !s.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        return Cow::Borrowed(s);
    }
    let key = (s.as_ptr() as usize, s.len());
    let idx = match cache.entries.iter().position(|(p, l, _)| (*p, *l) == key) {
        Some(i) => i,
        None => {
            let folded: String = if s.is_ascii() {
                s.to_ascii_lowercase()
            } else {
                s.chars().flat_map(char::to_lowercase).collect()
            };
            if cache.entries.len() >= MAX_FOLDS {
                return Cow::Owned(folded);
            }
            cache.entries.push((key.0, key.1, folded));
            cache.entries.len() - 1
        }
    };
    match cache.entries.get(idx) {
        Some((_, _, f)) => Cow::Borrowed(f.as_str()),
        None => Cow::Borrowed(s),
    }
}

fn str_matches(m: &Matcher, s: &str, scratch: &mut Folds) -> bool {
    match m {
        Matcher::Str { op, needle, cased } => {
            let h = if *cased {
                std::borrow::Cow::Borrowed(s)
            } else {
                fold(s, scratch)
            };
            match op {
                StrOp::Eq => *h == **needle,
                StrOp::Prefix => h.starts_with(needle.as_str()),
                StrOp::Suffix => h.ends_with(needle.as_str()),
                StrOp::Contains => h.contains(needle.as_str()),
            }
        }
        Matcher::Glob { pattern, cased } => {
            if *cased {
                glob_match(pattern, s)
            } else {
                glob_match(pattern, &fold(s, scratch))
            }
        }
        Matcher::Regex(re) => re.is_match(s),
        Matcher::Cidr { v6, prefix, net } => s.parse::<IpAddr>().is_ok_and(|ip| {
            let (is6, bits) = match ip {
                IpAddr::V4(a) => (false, u128::from(u32::from(a))),
                IpAddr::V6(a) => (true, u128::from(a)),
            };
            is6 == *v6 && mask(bits, *prefix, is6) == *net
        }),
        Matcher::Num { cmp, value } => s
            .trim()
            .parse::<f64>()
            .is_ok_and(|x| compare(*cmp, x, *value)),
        Matcher::Null | Matcher::Exists(_) => false,
    }
}

fn mask(bits: u128, prefix: u32, v6: bool) -> u128 {
    let width = if v6 { 128 } else { 32 };
    let prefix = prefix.min(width);
    if prefix == 0 {
        return 0;
    }
    let keep = width - prefix;
    (bits >> keep).checked_shl(keep).unwrap_or(0)
}

/// Wildcard match (`*` any run, `?` one character), linear-time greedy with
/// single backtrack point.
fn glob_match(p: &[G], s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < chars.len() {
        match p.get(pi) {
            Some(G::Star) => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(G::One) => {
                pi += 1;
                si += 1;
            }
            Some(G::Lit(c)) if chars.get(si) == Some(c) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|g| *g == G::Star))
}

// ---------- compilation ----------

fn rule_err(rule: &str, reason: impl Into<String>) -> AnalyticsError {
    AnalyticsError::InvalidRule {
        rule: rule.to_owned(),
        reason: reason.into(),
    }
}

fn compile_rule(
    doc: &Node,
    index: usize,
    mapping: &FieldMapping,
    table: &mut PathTable,
) -> Result<SigmaRule, AnalyticsError> {
    let title = doc
        .get("title")
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_owned();
    let id = doc
        .get("id")
        .and_then(Node::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if title.is_empty() {
                format!("document {}", index + 1)
            } else {
                title.clone()
            }
        });
    let err = |reason: String| rule_err(&id, reason);
    if !matches!(doc, Node::Map(_)) {
        return Err(err("document is not a mapping".into()));
    }
    if title.is_empty() {
        return Err(err("`title` is missing".into()));
    }
    if doc.get("correlation").is_some()
        || doc.get("type").and_then(Node::as_str) == Some("correlation")
    {
        return Err(err("correlation rules are not supported".into()));
    }
    let level = match doc.get("level").and_then(Node::as_str) {
        None => Severity::Medium,
        Some(l) => Severity::from_name(l).ok_or_else(|| err(format!("unknown level `{l}`")))?,
    };
    let tags: Vec<&str> = match doc.get("tags") {
        Some(Node::Seq(ts)) => ts.iter().filter_map(Node::as_str).collect(),
        _ => Vec::new(),
    };
    let tactic = tags.iter().find_map(|t| tactic_from_sigma_tag(t));
    let attacks = tags
        .iter()
        .filter_map(|t| Attack::from_sigma_tag(t, tactic))
        .collect();
    let ls = doc
        .get("logsource")
        .ok_or_else(|| err("`logsource` is missing".into()))?;
    let (product, category, service) = (
        ls.get("product").and_then(Node::as_str),
        ls.get("category").and_then(Node::as_str),
        ls.get("service").and_then(Node::as_str),
    );
    let classes = mapping.classes(product, category, service).ok_or_else(|| {
        err(format!(
            "logsource (product `{}`, category `{}`, service `{}`) has no OCSF class route",
            product.unwrap_or("-"),
            category.unwrap_or("-"),
            service.unwrap_or("-")
        ))
    })?;
    let Some(Node::Map(det)) = doc.get("detection") else {
        return Err(err("`detection` is missing or not a mapping".into()));
    };
    if det.iter().any(|(k, _)| k == "timeframe") {
        return Err(err("`detection.timeframe` is not supported".into()));
    }
    let mut names = Vec::new();
    let mut selections = Vec::new();
    let mut condition = None;
    for (name, node) in det {
        if name == "condition" {
            condition = Some(node);
            continue;
        }
        let sel = compile_selection(node, mapping, &classes, table)
            .map_err(|e| err(format!("`detection.{name}`: {e}")))?;
        names.push(name.clone());
        selections.push(sel);
    }
    let condition = match condition {
        Some(Node::Scalar { text, .. }) => compile(text, &names),
        Some(Node::Seq(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .ok_or("condition list item is not a string".to_string())
                    .and_then(|t| compile(t, &names))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Cond::Or),
        _ => Err("`detection.condition` is missing".to_string()),
    }
    .map_err(|e| err(format!("`detection.condition`: {e}")))?;
    Ok(SigmaRule {
        id,
        title,
        level,
        attacks,
        classes,
        selections,
        condition,
    })
}

fn compile_selection(
    node: &Node,
    mapping: &FieldMapping,
    classes: &[u32],
    table: &mut PathTable,
) -> Result<Selection, String> {
    match node {
        Node::Map(entries) => Ok(Selection::Fields(compile_map(
            entries, mapping, classes, table,
        )?)),
        Node::Seq(items)
            if items.iter().all(|i| matches!(i, Node::Map(_))) && !items.is_empty() =>
        {
            let maps = items
                .iter()
                .map(|i| match i {
                    Node::Map(e) => compile_map(e, mapping, classes, table),
                    _ => Err("list mixes maps and values".into()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Selection::AnyOf(maps))
        }
        Node::Seq(items) if !items.is_empty() => {
            let mut ms = Vec::new();
            for i in items {
                let s = scalar_text(i).ok_or("keyword list item is not a scalar")?;
                ms.extend(string_matchers(&s, &Mods::keyword())?);
            }
            Ok(Selection::Keywords(ms))
        }
        Node::Scalar { .. } => {
            let s = scalar_text(node).ok_or("keyword is not a scalar")?;
            Ok(Selection::Keywords(string_matchers(&s, &Mods::keyword())?))
        }
        _ => Err("selection is empty".into()),
    }
}

fn scalar_text(n: &Node) -> Option<String> {
    n.as_str().map(str::to_owned)
}

#[derive(Debug, Default, Clone)]
struct Mods {
    op: Option<StrOp>,
    all: bool,
    re: bool,
    re_flags: (bool, bool, bool),
    cidr: bool,
    windash: bool,
    exists: bool,
    cased: bool,
    num: Option<Cmp>,
    base64: bool,
    base64offset: bool,
    utf16: Option<&'static str>,
}

impl Mods {
    fn keyword() -> Mods {
        Mods {
            op: Some(StrOp::Contains),
            ..Mods::default()
        }
    }

    fn parse(mods: &[&str]) -> Result<Mods, String> {
        let mut m = Mods::default();
        for md in mods {
            match *md {
                "contains" => m.op = Some(StrOp::Contains),
                "startswith" => m.op = Some(StrOp::Prefix),
                "endswith" => m.op = Some(StrOp::Suffix),
                "all" => m.all = true,
                "re" => m.re = true,
                "i" if m.re => m.re_flags.0 = true,
                "m" if m.re => m.re_flags.1 = true,
                "s" if m.re => m.re_flags.2 = true,
                "cidr" => m.cidr = true,
                "windash" => m.windash = true,
                "exists" => m.exists = true,
                "cased" => m.cased = true,
                "gt" => m.num = Some(Cmp::Gt),
                "gte" => m.num = Some(Cmp::Gte),
                "lt" => m.num = Some(Cmp::Lt),
                "lte" => m.num = Some(Cmp::Lte),
                "base64" => m.base64 = true,
                "base64offset" => m.base64offset = true,
                "wide" | "utf16le" => m.utf16 = Some("le"),
                "utf16be" => m.utf16 = Some("be"),
                "utf16" => m.utf16 = Some("bom"),
                other => return Err(format!("modifier `{other}` is not supported")),
            }
        }
        if m.re && (m.op.is_some() || m.cidr || m.windash || m.base64 || m.base64offset) {
            return Err("`re` cannot be combined with string modifiers".into());
        }
        if m.utf16.is_some() && !(m.base64 || m.base64offset) {
            return Err("`wide`/`utf16` need `base64` or `base64offset`".into());
        }
        Ok(m)
    }
}

fn compile_map(
    entries: &[(String, Node)],
    mapping: &FieldMapping,
    classes: &[u32],
    table: &mut PathTable,
) -> Result<Vec<FieldCond>, String> {
    if entries.is_empty() {
        return Err("selection map is empty".into());
    }
    let mut out = Vec::new();
    for (key, value) in entries {
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or("");
        let mods: Vec<&str> = parts.collect();
        let mods = Mods::parse(&mods).map_err(|e| format!("`{key}`: {e}"))?;
        let values: Vec<&Node> = match value {
            Node::Seq(items) => items.iter().collect(),
            other => vec![other],
        };
        if values.is_empty() || values.len() > MAX_VALUES {
            return Err(format!("`{key}` has no values or more than 4096"));
        }
        let mut matchers = Vec::new();
        for v in values {
            matchers.extend(value_matchers(v, &mods).map_err(|e| format!("`{key}`: {e}"))?);
        }
        let paths = if field.is_empty() {
            vec![table.id("message"), table.id("raw_data")]
        } else {
            mapping
                .paths_for(field, classes)
                .iter()
                .map(|p| table.id(p))
                .collect()
        };
        // `all` with windash/base64offset variants: each original value must
        // match, but its variants are alternatives; keep it simple and exact by
        // rejecting the combination.
        if mods.all && (mods.windash || mods.base64offset) {
            return Err(format!(
                "`{key}`: `all` with `windash`/`base64offset` is not supported"
            ));
        }
        out.push(FieldCond {
            paths,
            matchers,
            all: mods.all,
        });
    }
    Ok(out)
}

fn value_matchers(v: &Node, mods: &Mods) -> Result<Vec<Matcher>, String> {
    if mods.exists {
        return match v.as_str() {
            Some("true") => Ok(vec![Matcher::Exists(true)]),
            Some("false") => Ok(vec![Matcher::Exists(false)]),
            _ => Err("`exists` needs `true` or `false`".into()),
        };
    }
    if v.is_null() {
        return Ok(vec![Matcher::Null]);
    }
    let text = v.as_str().ok_or("value is not a scalar")?;
    if let Some(cmp) = mods.num {
        let value: f64 = text
            .parse()
            .map_err(|_| format!("`{text}` is not a number"))?;
        return Ok(vec![Matcher::Num { cmp, value }]);
    }
    if mods.re {
        let re = regex::RegexBuilder::new(text)
            .case_insensitive(mods.re_flags.0)
            .multi_line(mods.re_flags.1)
            .dot_matches_new_line(mods.re_flags.2)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|_| format!("`{}` is not a valid regular expression", short(text)))?;
        return Ok(vec![Matcher::Regex(re)]);
    }
    if mods.cidr {
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not a CIDR"))?;
        let width = if ip.is_ipv6() { 128 } else { 32 };
        let prefix: u32 = if prefix.is_empty() {
            width
        } else {
            prefix
                .parse()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("`{text}` has an invalid prefix"))?
        };
        let (v6, bits) = match ip {
            IpAddr::V4(a) => (false, u128::from(u32::from(a))),
            IpAddr::V6(a) => (true, u128::from(a)),
        };
        return Ok(vec![Matcher::Cidr {
            v6,
            prefix,
            net: mask(bits, prefix, v6),
        }]);
    }
    string_matchers(text, mods)
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

fn encode_utf16(s: &str, kind: &str) -> Vec<u8> {
    let mut out = Vec::new();
    if kind == "bom" {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for u in s.encode_utf16() {
        if kind == "be" {
            out.extend_from_slice(&u.to_be_bytes());
        } else {
            out.extend_from_slice(&u.to_le_bytes());
        }
    }
    out
}

fn string_matchers(text: &str, mods: &Mods) -> Result<Vec<Matcher>, String> {
    // Encoding modifiers turn the value into literal text variants.
    let literal_variants: Option<Vec<String>> = if mods.base64 || mods.base64offset {
        let bytes = match mods.utf16 {
            Some(k) => encode_utf16(text, k),
            None => text.as_bytes().to_vec(),
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        if mods.base64offset {
            let starts = [0usize, 2, 3];
            let mut v = Vec::new();
            for i in 0..3usize {
                let mut buf = vec![b' '; i];
                buf.extend_from_slice(&bytes);
                let enc = b64.encode(&buf);
                let end_trim = match (bytes.len() + i) % 3 {
                    0 => 0,
                    1 => 3,
                    _ => 2,
                };
                let start = starts.get(i).copied().unwrap_or(0);
                let end = enc.len().saturating_sub(end_trim);
                if let Some(s) = enc.get(start..end.max(start)) {
                    v.push(s.to_owned());
                }
            }
            Some(v)
        } else {
            Some(vec![b64.encode(&bytes)])
        }
    } else {
        None
    };
    let mut token_lists: Vec<Vec<G>> = match literal_variants {
        Some(vs) => vs.iter().map(|v| v.chars().map(G::Lit).collect()).collect(),
        None => vec![parse_wildcards(text)],
    };
    if mods.windash {
        token_lists = token_lists
            .iter()
            .flat_map(|t| windash_variants(t))
            .collect();
    }
    // Encoded values are case-sensitive by nature.
    let cased = mods.cased || mods.base64 || mods.base64offset;
    Ok(token_lists
        .into_iter()
        .map(|mut toks| {
            match mods.op {
                Some(StrOp::Contains) => {
                    if toks.first() != Some(&G::Star) {
                        toks.insert(0, G::Star);
                    }
                    if toks.last() != Some(&G::Star) {
                        toks.push(G::Star);
                    }
                }
                Some(StrOp::Prefix) if toks.last() != Some(&G::Star) => toks.push(G::Star),
                Some(StrOp::Suffix) if toks.first() != Some(&G::Star) => toks.insert(0, G::Star),
                _ => {}
            }
            matcher_from_tokens(toks, cased)
        })
        .collect())
}

fn parse_wildcards(s: &str) -> Vec<G> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    chars.next();
                    out.push(G::Lit(n));
                }
                _ => out.push(G::Lit('\\')),
            },
            '*' => {
                if out.last() != Some(&G::Star) {
                    out.push(G::Star);
                }
            }
            '?' => out.push(G::One),
            c => out.push(G::Lit(c)),
        }
    }
    out
}

/// Variants of a value with `-` or `/` at the start of a word (a Windows
/// command-line flag) replaced by each of `-`, `/`, en dash, em dash and
/// horizontal bar.
fn windash_variants(toks: &[G]) -> Vec<Vec<G>> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let is_word = |g: Option<&G>| matches!(g, Some(G::Lit(c)) if c.is_alphanumeric() || *c == '_');
    let positions: Vec<usize> = (0..toks.len())
        .filter(|&i| {
            matches!(toks.get(i), Some(G::Lit('-' | '/')))
                && !is_word(i.checked_sub(1).and_then(|p| toks.get(p)))
                && is_word(toks.get(i + 1))
        })
        .collect();
    if positions.is_empty() {
        return vec![toks.to_vec()];
    }
    DASHES
        .iter()
        .map(|d| {
            let mut t = toks.to_vec();
            for &p in &positions {
                if let Some(g) = t.get_mut(p) {
                    *g = G::Lit(*d);
                }
            }
            t
        })
        .collect()
}

fn matcher_from_tokens(toks: Vec<G>, cased: bool) -> Matcher {
    let lead = toks.first() == Some(&G::Star);
    let trail = toks.len() > 1 && toks.last() == Some(&G::Star);
    let inner = toks
        .get(usize::from(lead)..toks.len() - usize::from(trail))
        .unwrap_or(&[]);
    let fold = |c: char| -> String {
        if cased {
            c.to_string()
        } else {
            c.to_lowercase().collect()
        }
    };
    if inner.iter().all(|g| matches!(g, G::Lit(_))) && !(lead && !trail && toks.len() == 1) {
        let needle: String = inner
            .iter()
            .map(|g| match g {
                G::Lit(c) => fold(*c),
                _ => String::new(),
            })
            .collect();
        let op = match (lead, trail) {
            (false, false) => StrOp::Eq,
            (false, true) => StrOp::Prefix,
            (true, false) => StrOp::Suffix,
            (true, true) => StrOp::Contains,
        };
        return Matcher::Str { op, needle, cased };
    }
    let pattern = toks
        .into_iter()
        .flat_map(|g| match g {
            G::Lit(c) => fold(c).chars().map(G::Lit).collect::<Vec<_>>(),
            other => vec![other],
        })
        .collect();
    Matcher::Glob { pattern, cased }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(yaml: &str) -> SigmaRuleSet {
        let mut s = SigmaRuleSet::new(FieldMapping::new());
        s.add_yaml(yaml).unwrap();
        s
    }

    const RULE: &str = r#"
title: Encoded PowerShell
id: 11111111-0000-0000-0000-000000000001
level: high
tags: [attack.execution, attack.t1059.001]
logsource: {product: windows, category: process_creation}
detection:
  selection_img:
    - Image|endswith: '\powershell.exe'
    - OriginalFileName: PowerShell.EXE
  selection_cli:
    CommandLine|windash|contains: ' -enc '
  filter:
    ParentImage|startswith: 'C:\Program Files\'
  condition: all of selection_* and not filter
"#;

    fn proc(image: &str, cli: &str, parent: &str) -> Value {
        json!({"class_uid": 1007, "activity_id": 1, "time": 1,
               "process": {"file": {"path": image}, "cmd_line": cli},
               "actor": {"process": {"file": {"path": parent}}}})
    }

    #[test]
    fn modifiers_and_condition() {
        let s = set(RULE);
        let m = s.evaluate(&proc(
            r"C:\Windows\System32\WindowsPowerShell\v1.0\POWERSHELL.EXE",
            "powershell /enc AAAA",
            r"C:\Windows\explorer.exe",
        ));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].attacks[0].technique_id(), "T1059.001");
        assert!(
            s.evaluate(&proc(
                r"C:\x\powershell.exe",
                "powershell \u{2013}enc AAAA",
                r"C:\Windows\explorer.exe"
            ))
            .len()
                == 1
        );
        assert!(s
            .evaluate(&proc(
                r"C:\x\powershell.exe",
                "powershell -enc AAAA",
                r"C:\Program Files\x.exe"
            ))
            .is_empty());
        assert!(s
            .evaluate(&proc(
                r"C:\x\cmd.exe",
                "cmd -enc AAAA",
                r"C:\Windows\explorer.exe"
            ))
            .is_empty());
        // Not routed to other classes.
        let mut e = proc(r"C:\x\powershell.exe", "powershell -enc AAAA", "");
        e["class_uid"] = json!(4001);
        assert!(s.evaluate(&e).is_empty());
    }

    #[test]
    fn other_modifiers() {
        let s = set(r#"
title: mix
logsource: {category: network_connection}
detection:
  net: {DestinationIp|cidr: ['10.0.0.0/8', '2001:db8::/32']}
  port: {DestinationPort|gte: 4444}
  host: {DestinationHostname|re|i: '^evil\d+\.example$'}
  kw: ['mimikatz']
  nothere: {Foo: null}
  allc: {CommandLine|contains|all: [a, b]}
  condition: (net and port and host and nothere) or kw or allc
"#);
        let e = json!({"class_uid": 4001, "time": 1, "dst_endpoint": {"ip": "10.1.2.3", "port": 4444, "hostname": "EVIL12.example"}});
        assert_eq!(s.evaluate(&e).len(), 1);
        let e = json!({"class_uid": 4001, "time": 1, "dst_endpoint": {"ip": "11.1.2.3", "port": 4444, "hostname": "evil1.example"}});
        assert!(s.evaluate(&e).is_empty());
        let e = json!({"class_uid": 4001, "time": 1, "message": "ran MimiKatz here"});
        assert_eq!(s.evaluate(&e).len(), 1);
        let e = json!({"class_uid": 4001, "time": 1, "actor": {"process": {"cmd_line": "xBxA"}}});
        assert_eq!(s.evaluate(&e).len(), 1);
        let e = json!({"class_uid": 4001, "time": 1, "actor": {"process": {"cmd_line": "xBx"}}});
        assert!(s.evaluate(&e).is_empty());
    }

    #[test]
    fn wildcards_and_base64() {
        assert!(glob_match(&parse_wildcards("a*b?d"), "aXXbcd"));
        assert!(!glob_match(&parse_wildcards("a*b?d"), "aXXbd"));
        assert!(glob_match(&parse_wildcards(r"a\*b"), "a*b"));
        let m = string_matchers(
            "http",
            &Mods {
                base64offset: true,
                op: Some(StrOp::Contains),
                ..Mods::default()
            },
        )
        .unwrap();
        // pySigma's documented variants for `http`.
        let needles: Vec<String> = m
            .iter()
            .map(|m| match m {
                Matcher::Str { needle, .. } => needle.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(needles, vec!["aHR0c", "h0dH", "odHRw"]);
    }

    #[test]
    fn rejects_bad_rules() {
        let mut s = SigmaRuleSet::new(FieldMapping::new());
        for bad in [
            "title: x\nlogsource: {category: process_creation}\ndetection: {sel: {Image|bogus: a}, condition: sel}\n",
            "title: x\nlogsource: {category: nope}\ndetection: {sel: {Image: a}, condition: sel}\n",
            "title: x\nlogsource: {category: process_creation}\ndetection: {sel: {Image: a}, condition: sel | count() > 2}\n",
            "title: x\nlogsource: {category: process_creation}\ndetection: {sel: {Image|re: '('}, condition: sel}\n",
            "title: x\nlogsource: {category: process_creation}\ndetection: {sel: {Image: a}}\n",
        ] {
            assert!(s.add_yaml(bad).is_err(), "{bad}");
        }
        assert!(s.is_empty());
    }
}
