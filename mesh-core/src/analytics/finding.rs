//! Findings and their OCSF Detection Finding (class 2004) form.

use serde::Serialize;
use serde_json::{json, Map, Value};
use std::net::IpAddr;

use super::attack::Attack;
use super::stix::IntelMatch;
use crate::{ActorKey, Timestamp};

/// OCSF `severity_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "u8")]
pub enum Severity {
    /// 1: Informational.
    Informational = 1,
    /// 2: Low.
    Low = 2,
    /// 3: Medium.
    Medium = 3,
    /// 4: High.
    High = 4,
    /// 5: Critical.
    Critical = 5,
}

impl From<Severity> for u8 {
    fn from(s: Severity) -> u8 {
        s as u8
    }
}

impl Severity {
    /// The OCSF caption (`High`).
    pub const fn caption(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }

    /// Parses a caption or Sigma level (`low`, `medium`, `high`, `critical`,
    /// `informational`), case-insensitive.
    pub fn from_name(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// One event that contributed to a finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The event's `metadata.uid`, when it had one.
    pub event_uid: Option<Box<str>>,
    /// The event's `class_uid`.
    pub class_uid: u32,
    /// The event's `activity_id`.
    pub activity_id: u32,
    /// The event time.
    pub time: Timestamp,
    /// `src_endpoint.ip` of the event.
    pub src_ip: Option<IpAddr>,
    /// The event's device (`device.uid` or `device.hostname`).
    pub device: Option<Box<str>>,
}

/// A detection: what was seen, about whom, on which evidence.
///
/// [`Finding::to_ocsf`] renders it as an OCSF 1.8.0 Detection Finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Stable id of the finding (hex of a SHA-256 over detection, actor and evidence).
    pub uid: String,
    /// The detection (built-in id such as `brute_force_success`, or a Sigma
    /// rule id, or `ti_match`).
    pub detection: String,
    /// Human title.
    pub title: String,
    /// Longer explanation with the figures that triggered it.
    pub desc: String,
    /// Severity.
    pub severity: Severity,
    /// ATT&CK references.
    pub attacks: Vec<Attack>,
    /// The time of the event that completed the detection.
    pub time: Timestamp,
    /// The earliest evidence time.
    pub first_seen: Timestamp,
    /// The actor the finding is about, when known.
    pub actor: Option<ActorKey>,
    /// The source address involved, when one is.
    pub src_ip: Option<IpAddr>,
    /// The device involved, when one is.
    pub device: Option<Box<str>>,
    /// The session involved (`session.uid`), when one is.
    pub session: Option<Box<str>>,
    /// The contributing events, oldest first (bounded).
    pub evidence: Vec<Evidence>,
    /// Threat-intelligence matches (the OCSF `osint` profile).
    pub intel: Vec<IntelMatch>,
}

/// Most evidence entries kept on one finding.
pub(crate) const MAX_EVIDENCE: usize = 32;

impl Finding {
    /// Computes [`Finding::uid`] from the detection, actor and evidence.
    pub(crate) fn seal(mut self) -> Finding {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(self.detection.as_bytes());
        ctx.update(&[0]);
        ctx.update(self.actor.as_ref().map_or("", |a| a.as_str()).as_bytes());
        ctx.update(&[0]);
        ctx.update(&self.time.unix_millis().to_be_bytes());
        for e in &self.evidence {
            ctx.update(e.event_uid.as_deref().unwrap_or("").as_bytes());
            ctx.update(&e.time.unix_millis().to_be_bytes());
        }
        let mut uid = String::with_capacity(32);
        for b in ctx.finish().as_ref().iter().take(16) {
            uid.push(char::from(HEX[usize::from(b >> 4)]));
            uid.push(char::from(HEX[usize::from(b & 15)]));
        }
        self.evidence.truncate(MAX_EVIDENCE);
        self.uid = uid;
        self
    }

    /// Whether any ATT&CK reference has this technique id (exact, or the
    /// parent of a sub-technique: `T1110` matches `T1110.003`).
    pub fn has_technique(&self, id: &str) -> bool {
        self.attacks.iter().any(|a| {
            a.technique.uid.eq_ignore_ascii_case(id)
                || a.sub_technique
                    .as_ref()
                    .is_some_and(|s| s.uid.eq_ignore_ascii_case(id))
        })
    }

    /// The OCSF 1.8.0 Detection Finding (class 2004, activity Create).
    pub fn to_ocsf(&self) -> Value {
        let actor = self.actor.as_ref().map(actor_json);
        let related: Vec<Value> = self
            .evidence
            .iter()
            .filter_map(|e| {
                e.event_uid.as_ref().map(|uid| {
                    json!({
                        "uid": uid,
                        "type_uid": u64::from(e.class_uid) * 100 + u64::from(e.activity_id),
                        "first_seen_time": e.time.unix_millis(),
                    })
                })
            })
            .collect();
        let evidences: Vec<Value> = self
            .evidence
            .iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("name".into(), json!("event"));
                if let Some(uid) = &e.event_uid {
                    m.insert("uid".into(), json!(uid));
                }
                if let Some(a) = &actor {
                    m.insert("actor".into(), a.clone());
                }
                if let Some(ip) = e.src_ip {
                    m.insert("src_endpoint".into(), json!({"ip": ip.to_string()}));
                }
                if let Some(d) = &e.device {
                    m.insert("device".into(), json!({"uid": d}));
                }
                m.insert(
                    "data".into(),
                    json!({"class_uid": e.class_uid, "time": e.time.unix_millis()}),
                );
                Value::Object(m)
            })
            .collect();
        let mut finding_info = json!({
            "uid": self.uid,
            "title": self.title,
            "desc": self.desc,
            "analytic": {"uid": self.detection, "name": self.detection, "type_id": 1, "type": "Rule"},
            "attacks": self.attacks,
            "first_seen_time": self.first_seen.unix_millis(),
            "last_seen_time": self.time.unix_millis(),
            "related_events_count": self.evidence.len(),
        });
        if !related.is_empty() {
            if let Some(o) = finding_info.as_object_mut() {
                o.insert("related_events".into(), Value::Array(related));
            }
        }
        let mut profiles = Vec::new();
        let mut out = json!({
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": 200401,
            "type_name": "Detection Finding: Create",
            "severity_id": self.severity as u8,
            "severity": self.severity.caption(),
            "status_id": 1,
            "status": "New",
            "time": self.time.unix_millis(),
            "message": self.title,
            "finding_info": finding_info,
            "evidences": evidences,
        });
        let Some(o) = out.as_object_mut() else {
            return out;
        };
        if let Some(a) = actor {
            o.insert("actor".into(), a);
        }
        if let Some(d) = &self.device {
            o.insert("device".into(), json!({"uid": d, "type_id": 0}));
        }
        if !self.intel.is_empty() {
            profiles.push("osint");
            o.insert(
                "osint".into(),
                Value::Array(self.intel.iter().map(IntelMatch::to_osint).collect()),
            );
            o.insert(
                "enrichments".into(),
                Value::Array(self.intel.iter().map(IntelMatch::to_enrichment).collect()),
            );
        }
        o.insert(
            "metadata".into(),
            json!({
                "version": "1.8.0",
                "uid": self.uid,
                "product": {"name": "mesh", "vendor_name": "mesh"},
                "profiles": profiles,
            }),
        );
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn actor_json(a: &ActorKey) -> Value {
    let s = a.as_str();
    if s.contains('@') && !s.contains(['/', '\\']) {
        json!({"user": {"uid": s, "email_addr": s}})
    } else {
        json!({"user": {"uid": s}})
    }
}
