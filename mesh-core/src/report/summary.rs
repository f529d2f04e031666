//! The summary model: counts and fixed-size time buckets, bounded.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::analytics::{Finding, Severity};
use crate::{AccessDecision, AccessOutcome, Timestamp};

/// Errors of the report layer. Kinds are stable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    /// An OCSF record is not a JSON object with a numeric `class_uid`.
    #[error("not an OCSF record: {what} at `{pointer}`")]
    NotOcsf {
        /// What is wrong.
        what: &'static str,
        /// JSON pointer of the offending field.
        pointer: &'static str,
    },
    /// A summary or decision document could not be read.
    #[error("invalid {what} JSON: {message}")]
    Json {
        /// `summary` or `decision`.
        what: &'static str,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The limits are unusable (zero bucket width or zero caps).
    #[error("invalid limits: `{field}` must be positive")]
    Limits {
        /// The offending field.
        field: &'static str,
    },
}

/// Caps that keep a [`Summary`] bounded whatever it is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLimits {
    /// Width of one time bucket, in milliseconds.
    pub bucket_ms: i64,
    /// Most time buckets kept per series (oldest are evicted).
    pub max_buckets: usize,
    /// Most distinct keys kept per table (sources, classes, subjects,
    /// policies, techniques, rules); new keys beyond it are counted as dropped.
    pub max_keys: usize,
    /// Longest text kept for a key, in bytes (longer keys are cut).
    pub max_key_len: usize,
}

impl Default for ReportLimits {
    fn default() -> Self {
        ReportLimits {
            bucket_ms: 60_000,
            max_buckets: 1440,
            max_keys: 1000,
            max_key_len: 256,
        }
    }
}

/// What the caps threw away, so a report can say it is partial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// Observations that fell into evicted or too-old time buckets (still counted in totals).
    pub bucket_points: u64,
    /// Observations whose key was new once a table was full (counted in totals, not in the table).
    pub table_keys: u64,
    /// OCSF records that were not usable (not an object, no `class_uid`).
    pub invalid_records: u64,
}

/// Allow/deny/challenge counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionCounts {
    /// Allowed.
    pub allow: u64,
    /// Denied.
    pub deny: u64,
    /// Challenged (an obligation such as step-up MFA is pending).
    pub challenge: u64,
}

impl DecisionCounts {
    /// Sum of the three.
    pub fn total(&self) -> u64 {
        self.allow
            .saturating_add(self.deny)
            .saturating_add(self.challenge)
    }
}

/// A source seen in the telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSeen {
    /// First event time.
    pub first_seen: Timestamp,
    /// Latest event time.
    pub last_seen: Timestamp,
    /// Events counted.
    pub events: u64,
}

/// A source's coverage state at a given `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    /// Source name (`metadata.product.name`, or vendor, or `unknown`).
    pub name: String,
    /// What was seen.
    pub seen: SourceSeen,
    /// Time since the last event at `now`.
    pub silent_for: Duration,
    /// Whether the silence exceeds the threshold: a coverage gap.
    pub gap: bool,
}

/// Findings for one ATT&CK technique.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechniqueCount {
    /// Technique name.
    pub name: String,
    /// Findings referencing it.
    pub count: u64,
}

/// Compliance results for one rule (OCSF Compliance Finding, class 2003).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceRule {
    /// Passing evaluations.
    pub pass: u64,
    /// Warnings.
    pub warning: u64,
    /// Failing evaluations.
    pub fail: u64,
    /// Evaluations with another or unknown status.
    pub other: u64,
    /// Status of the latest evaluation: `pass`, `warning`, `fail` or `unknown`.
    pub last_status: String,
    /// Time of the latest evaluation.
    pub last_time: Timestamp,
}

/// One decision as a JSON line (what hosts log per decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Decision time, ms since epoch.
    pub time: Timestamp,
    /// `allow`, `deny` or `challenge`.
    pub outcome: String,
    /// The principal (subject), when known.
    #[serde(default)]
    pub principal: Option<String>,
    /// The determining policy ids.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Bundle revision that decided.
    #[serde(default)]
    pub revision: u64,
}

impl DecisionRecord {
    /// The record of a decision taken at `time`.
    pub fn from_decision(d: &AccessDecision, time: Timestamp) -> Self {
        let outcome = match d.outcome() {
            AccessOutcome::Allow => "allow",
            AccessOutcome::Deny => "deny",
            AccessOutcome::Challenge { .. } => "challenge",
        };
        let principal = d
            .identity()
            .map(|i| i.subject().to_owned())
            .or_else(|| d.principal().map(|p| p.to_string()));
        DecisionRecord {
            time,
            outcome: outcome.to_owned(),
            principal,
            policies: d.policies().iter().map(|p| p.as_str().to_owned()).collect(),
            revision: d.revision(),
        }
    }

    /// Parses one JSON line.
    pub fn from_json(line: &str) -> Result<Self, ReportError> {
        serde_json::from_str(line).map_err(|e| ReportError::Json {
            what: "decision",
            message: e.to_string(),
        })
    }
}

/// The consolidated summary. Build it with the `observe_*` methods; every
/// table and series is capped by [`ReportLimits`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The caps in force.
    pub limits: ReportLimits,
    /// Totals (never capped).
    pub totals: Totals,
    /// Sources by name.
    pub sources: BTreeMap<String, SourceSeen>,
    /// Events per OCSF class per bucket start (ms).
    pub events_by_class: BTreeMap<i64, BTreeMap<u32, u64>>,
    /// Events per OCSF class, all time.
    pub class_totals: BTreeMap<u32, u64>,
    /// Human class names seen (`class_name`).
    pub class_names: BTreeMap<u32, String>,
    /// Decisions per bucket start (ms).
    pub decisions: BTreeMap<i64, DecisionCounts>,
    /// Denials per subject.
    pub denied_subjects: BTreeMap<String, u64>,
    /// Denials per determining policy.
    pub deny_policies: BTreeMap<String, u64>,
    /// Detection findings per severity id (0 unknown … 6 fatal).
    pub findings_by_severity: BTreeMap<u8, u64>,
    /// Findings per ATT&CK technique uid.
    pub findings_by_technique: BTreeMap<String, TechniqueCount>,
    /// Compliance per rule.
    pub compliance: BTreeMap<String, ComplianceRule>,
    /// The latest active bundle revision, with the time it was last seen.
    pub revision: Option<(u64, Timestamp)>,
    /// What the caps dropped.
    pub dropped: Dropped,
}

/// Totals, never capped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// OCSF events (all classes, findings included).
    pub events: u64,
    /// Decisions.
    pub decisions: DecisionCounts,
    /// Detection findings.
    pub findings: u64,
    /// Compliance findings.
    pub compliance: u64,
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

/// Adds `n` to `map[key]` unless the map is full and `key` is new.
fn bump<V: Default>(
    map: &mut BTreeMap<String, V>,
    key: &str,
    limits: &ReportLimits,
    dropped: &mut Dropped,
    f: impl FnOnce(&mut V),
) {
    let key = cut(key, limits.max_key_len);
    if let Some(v) = map.get_mut(&key) {
        f(v);
    } else if map.len() < limits.max_keys {
        let mut v = V::default();
        f(&mut v);
        map.insert(key, v);
    } else {
        dropped.table_keys = dropped.table_keys.saturating_add(1);
    }
}

/// Finds or makes the bucket for `start` in a series capped at `max` buckets.
fn bucket<'a, V: Default>(
    series: &'a mut BTreeMap<i64, V>,
    start: i64,
    max: usize,
    dropped: &mut Dropped,
) -> Option<&'a mut V> {
    if !series.contains_key(&start) {
        if series.len() >= max {
            match series.keys().next().copied() {
                Some(oldest) if oldest < start => {
                    if series.remove(&oldest).is_some() {
                        dropped.bucket_points = dropped.bucket_points.saturating_add(1);
                    }
                }
                _ => {
                    dropped.bucket_points = dropped.bucket_points.saturating_add(1);
                    return None;
                }
            }
        }
        series.insert(start, V::default());
    }
    series.get_mut(&start)
}

fn add(c: &mut u64, n: u64) {
    *c = c.saturating_add(n);
}

impl Summary {
    /// An empty summary with these caps.
    pub fn new(limits: ReportLimits) -> Result<Self, ReportError> {
        if limits.bucket_ms <= 0 {
            return Err(ReportError::Limits { field: "bucket_ms" });
        }
        if limits.max_buckets == 0 {
            return Err(ReportError::Limits {
                field: "max_buckets",
            });
        }
        if limits.max_keys == 0 {
            return Err(ReportError::Limits { field: "max_keys" });
        }
        if limits.max_key_len == 0 {
            return Err(ReportError::Limits {
                field: "max_key_len",
            });
        }
        Ok(Summary {
            limits,
            ..Summary::default()
        })
    }

    fn bucket_start(&self, t: Timestamp) -> i64 {
        let w = self.limits.bucket_ms.max(1);
        t.unix_millis().div_euclid(w).saturating_mul(w)
    }

    /// Records the active bundle revision seen at `at` (the latest time wins).
    pub fn observe_revision(&mut self, revision: u64, at: Timestamp) {
        match self.revision {
            Some((_, t)) if t > at => {}
            _ => self.revision = Some((revision, at)),
        }
    }

    /// Counts one access decision taken at `at`.
    pub fn observe_decision(&mut self, d: &AccessDecision, at: Timestamp) {
        self.observe_decision_record(&DecisionRecord::from_decision(d, at));
    }

    /// Counts one decision record. Unknown outcomes count as deny (fail closed).
    pub fn observe_decision_record(&mut self, r: &DecisionRecord) {
        let start = self.bucket_start(r.time);
        let kind = match r.outcome.as_str() {
            "allow" => 0,
            "challenge" => 2,
            _ => 1,
        };
        let pick = |c: &mut DecisionCounts| match kind {
            0 => add(&mut c.allow, 1),
            2 => add(&mut c.challenge, 1),
            _ => add(&mut c.deny, 1),
        };
        pick(&mut self.totals.decisions);
        if let Some(c) = bucket(
            &mut self.decisions,
            start,
            self.limits.max_buckets,
            &mut self.dropped,
        ) {
            pick(c);
        }
        if kind == 1 {
            let subject = r.principal.as_deref().unwrap_or("(anonymous)");
            bump(
                &mut self.denied_subjects,
                subject,
                &self.limits,
                &mut self.dropped,
                |n| add(n, 1),
            );
            if r.policies.is_empty() {
                bump(
                    &mut self.deny_policies,
                    "(no permit: default deny)",
                    &self.limits,
                    &mut self.dropped,
                    |n| add(n, 1),
                );
            }
            for p in &r.policies {
                bump(
                    &mut self.deny_policies,
                    p,
                    &self.limits,
                    &mut self.dropped,
                    |n| add(n, 1),
                );
            }
        }
        self.observe_revision(r.revision, r.time);
    }

    /// Counts one typed detection finding (it also counts as an OCSF 2004 event).
    pub fn observe_finding(&mut self, f: &Finding) {
        self.count_event(2004, Some("Detection Finding"), "mesh", f.time);
        self.count_finding(
            severity_id(f.severity),
            f.attacks.iter().map(|a| {
                let t = a.sub_technique.as_ref().unwrap_or(&a.technique);
                (t.uid.as_str(), t.name.as_str())
            }),
        );
    }

    fn count_finding<'a>(
        &mut self,
        severity: u8,
        techniques: impl Iterator<Item = (&'a str, &'a str)>,
    ) {
        add(&mut self.totals.findings, 1);
        add(
            self.findings_by_severity
                .entry(severity.min(6))
                .or_default(),
            1,
        );
        for (uid, name) in techniques {
            let name = cut(name, self.limits.max_key_len);
            bump(
                &mut self.findings_by_technique,
                uid,
                &self.limits,
                &mut self.dropped,
                |t| {
                    add(&mut t.count, 1);
                    if t.name.is_empty() {
                        t.name = name;
                    }
                },
            );
        }
    }

    fn count_event(&mut self, class: u32, class_name: Option<&str>, source: &str, time: Timestamp) {
        add(&mut self.totals.events, 1);
        let limits = self.limits;
        let start = self.bucket_start(time);
        if self.class_totals.contains_key(&class) || self.class_totals.len() < limits.max_keys {
            add(self.class_totals.entry(class).or_default(), 1);
            if let Some(name) = class_name {
                self.class_names
                    .entry(class)
                    .or_insert_with(|| cut(name, limits.max_key_len));
            }
            if let Some(b) = bucket(
                &mut self.events_by_class,
                start,
                limits.max_buckets,
                &mut self.dropped,
            ) {
                add(b.entry(class).or_default(), 1);
            }
        } else {
            add(&mut self.dropped.table_keys, 1);
        }
        let key = cut(source, limits.max_key_len);
        if let Some(s) = self.sources.get_mut(&key) {
            s.first_seen = s.first_seen.min(time);
            s.last_seen = s.last_seen.max(time);
            add(&mut s.events, 1);
        } else if self.sources.len() < limits.max_keys {
            self.sources.insert(
                key,
                SourceSeen {
                    first_seen: time,
                    last_seen: time,
                    events: 1,
                },
            );
        } else {
            add(&mut self.dropped.table_keys, 1);
        }
    }

    /// Counts one OCSF record given as JSON: any class counts as an event of
    /// its source; Detection Findings (2004) and Compliance Findings (2003)
    /// also feed the findings and posture tables. Records without `time` use `now`.
    pub fn observe_ocsf(&mut self, v: &Value, now: Timestamp) -> Result<(), ReportError> {
        let Some(obj) = v.as_object() else {
            add(&mut self.dropped.invalid_records, 1);
            return Err(ReportError::NotOcsf {
                what: "not a JSON object",
                pointer: "",
            });
        };
        let Some(class) = obj
            .get("class_uid")
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok())
        else {
            add(&mut self.dropped.invalid_records, 1);
            return Err(ReportError::NotOcsf {
                what: "missing or non-numeric class",
                pointer: "/class_uid",
            });
        };
        let time = v
            .get("time")
            .and_then(Value::as_i64)
            .map(Timestamp::from_unix_millis)
            .unwrap_or(now);
        let source = [
            "/metadata/product/name",
            "/metadata/product/vendor_name",
            "/metadata/log_name",
        ]
        .iter()
        .find_map(|p| v.pointer(p).and_then(Value::as_str))
        .unwrap_or("unknown");
        let class_name = obj.get("class_name").and_then(Value::as_str);
        self.count_event(class, class_name, source, time);
        match class {
            2004 => {
                let sev = obj.get("severity_id").and_then(Value::as_u64).unwrap_or(0);
                let attacks: Vec<(String, String)> = v
                    .pointer("/finding_info/attacks")
                    .or_else(|| obj.get("attacks"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|at| {
                                let t = at
                                    .get("sub_technique")
                                    .filter(|t| t.is_object())
                                    .or_else(|| at.get("technique"))?;
                                let uid = t.get("uid")?.as_str()?;
                                let name = t.get("name").and_then(Value::as_str).unwrap_or("");
                                Some((uid.to_owned(), name.to_owned()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                self.count_finding(
                    u8::try_from(sev.min(6)).unwrap_or(0),
                    attacks.iter().map(|(u, n)| (u.as_str(), n.as_str())),
                );
            }
            2003 => self.observe_compliance_json(v, time),
            _ => {}
        }
        Ok(())
    }

    fn observe_compliance_json(&mut self, v: &Value, time: Timestamp) {
        add(&mut self.totals.compliance, 1);
        let rule = [
            "/compliance/control",
            "/finding_info/title",
            "/compliance/standards/0",
            "/metadata/uid",
        ]
        .iter()
        .find_map(|p| v.pointer(p).and_then(Value::as_str))
        .unwrap_or("(unnamed rule)");
        let status_id = v.pointer("/compliance/status_id").and_then(Value::as_u64);
        let status_text = v
            .pointer("/compliance/status")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        let status = match (status_id, status_text.as_deref()) {
            (Some(1), _) | (_, Some("pass")) => "pass",
            (Some(2), _) | (_, Some("warning")) => "warning",
            (Some(3), _) | (_, Some("fail")) => "fail",
            _ => "unknown",
        };
        bump(
            &mut self.compliance,
            rule,
            &self.limits,
            &mut self.dropped,
            |r| {
                match status {
                    "pass" => add(&mut r.pass, 1),
                    "warning" => add(&mut r.warning, 1),
                    "fail" => add(&mut r.fail, 1),
                    _ => add(&mut r.other, 1),
                }
                if r.last_status.is_empty() || time >= r.last_time {
                    r.last_status = status.to_owned();
                    r.last_time = time;
                }
            },
        );
    }

    /// Every source with its coverage state at `now`: silent longer than
    /// `threshold` is a gap. Gaps first, then by name.
    pub fn coverage(&self, now: Timestamp, threshold: Duration) -> Vec<SourceStatus> {
        let mut out: Vec<SourceStatus> = self
            .sources
            .iter()
            .map(|(name, seen)| {
                let silent_for = now.duration_since(seen.last_seen);
                SourceStatus {
                    name: name.clone(),
                    seen: *seen,
                    silent_for,
                    gap: silent_for > threshold,
                }
            })
            .collect();
        out.sort_by(|a, b| b.gap.cmp(&a.gap).then_with(|| a.name.cmp(&b.name)));
        out
    }

    /// The `n` largest entries of a count table, largest first (ties by key).
    pub fn top(map: &BTreeMap<String, u64>, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = map.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// Exports as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Re-imports an exported summary; the caps it carries are re-applied.
    pub fn from_json(text: &str) -> Result<Self, ReportError> {
        let s: Summary = serde_json::from_str(text).map_err(|e| ReportError::Json {
            what: "summary",
            message: e.to_string(),
        })?;
        let limits = s.limits;
        Summary::new(limits)?;
        let over = |n: usize| n > limits.max_keys;
        if s.events_by_class.len() > limits.max_buckets
            || s.decisions.len() > limits.max_buckets
            || over(s.sources.len())
            || over(s.class_totals.len())
            || over(s.denied_subjects.len())
            || over(s.deny_policies.len())
            || over(s.findings_by_technique.len())
            || over(s.compliance.len())
            || s.events_by_class.values().any(|m| over(m.len()))
        {
            return Err(ReportError::Json {
                what: "summary",
                message: "a table exceeds the summary's own limits".into(),
            });
        }
        Ok(s)
    }
}

fn severity_id(s: Severity) -> u8 {
    u8::from(s)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use serde_json::json;

    fn small() -> Summary {
        Summary::new(ReportLimits {
            bucket_ms: 60_000,
            max_buckets: 10,
            max_keys: 5,
            max_key_len: 16,
        })
        .unwrap()
    }

    #[test]
    fn bounded_under_flood() {
        let mut s = small();
        for i in 0..10_000i64 {
            let ev = json!({"class_uid": 3000 + (i % 50), "time": i * 1000, "metadata": {"product": {"name": format!("src{i}")}}});
            s.observe_ocsf(&ev, Timestamp::EPOCH).unwrap();
            s.observe_decision_record(&DecisionRecord {
                time: Timestamp::from_unix_millis(i * 1000),
                outcome: "deny".into(),
                principal: Some(format!("user-{i}-{}", "x".repeat(100))),
                policies: vec![format!("p{i}")],
                revision: 7,
            });
        }
        assert_eq!(s.totals.events, 10_000);
        assert_eq!(s.totals.decisions.deny, 10_000);
        assert!(s.sources.len() <= 5 && s.class_totals.len() <= 5);
        assert!(s.denied_subjects.len() <= 5 && s.deny_policies.len() <= 5);
        assert!(s.denied_subjects.keys().all(|k| k.len() <= 16));
        assert!(s.decisions.len() <= 10 && s.events_by_class.len() <= 10);
        assert!(s.dropped.table_keys > 0 && s.dropped.bucket_points > 0);
        // the newest buckets are kept
        assert_eq!(
            *s.decisions.keys().last().unwrap(),
            9_999_000 / 60_000 * 60_000
        );
        assert_eq!(s.revision.map(|r| r.0), Some(7));
    }

    #[test]
    fn gaps_detected() {
        let mut s = Summary::default();
        let now = Timestamp::from_unix_seconds(10_000);
        for (name, t) in [("okta", 9_990), ("zeek", 8_000)] {
            let ev = json!({"class_uid": 3002, "time": t * 1000, "metadata": {"product": {"name": name}}});
            s.observe_ocsf(&ev, now).unwrap();
        }
        let cov = s.coverage(now, Duration::from_secs(600));
        assert_eq!(cov.len(), 2);
        assert_eq!((cov[0].name.as_str(), cov[0].gap), ("zeek", true));
        assert_eq!((cov[1].name.as_str(), cov[1].gap), ("okta", false));
        assert_eq!(cov[0].silent_for, Duration::from_secs(2000));
    }

    #[test]
    fn findings_compliance_and_roundtrip() {
        let mut s = Summary::default();
        let now = Timestamp::from_unix_seconds(1000);
        let f = json!({"class_uid": 2004, "severity_id": 4, "time": 1000,
            "finding_info": {"attacks": [{"technique": {"uid": "T1110", "name": "Brute Force"}}]}});
        s.observe_ocsf(&f, now).unwrap();
        for (st, t) in [(3, 1), (1, 2)] {
            s.observe_ocsf(&json!({"class_uid": 2003, "time": t, "compliance": {"control": "disk-encryption", "status_id": st}}), now).unwrap();
        }
        assert_eq!(s.findings_by_severity.get(&4), Some(&1));
        assert_eq!(s.findings_by_technique["T1110"].count, 1);
        let r = &s.compliance["disk-encryption"];
        assert_eq!((r.fail, r.pass, r.last_status.as_str()), (1, 1, "pass"));
        assert!(s.observe_ocsf(&json!({"class_uid": "x"}), now).is_err());
        assert!(s.observe_ocsf(&json!([1]), now).is_err());
        assert_eq!(s.dropped.invalid_records, 2);
        let back = Summary::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn import_rejects_oversized_tables() {
        let mut s = small();
        for i in 0..5 {
            s.observe_decision_record(&DecisionRecord {
                time: Timestamp::EPOCH,
                outcome: "deny".into(),
                principal: Some(format!("u{i}")),
                policies: vec![],
                revision: 0,
            });
        }
        let mut v: Value = serde_json::from_str(&s.to_json()).unwrap();
        v["limits"]["max_keys"] = json!(2);
        assert!(Summary::from_json(&v.to_string()).is_err());
        assert!(Summary::from_json("{").is_err());
        assert!(Summary::new(ReportLimits {
            bucket_ms: 0,
            ..ReportLimits::default()
        })
        .is_err());
    }
}
