//! Identity-anchored response: a policy maps findings to actions, returned
//! as data for the host (or the `Mesh` facade) to apply, each recorded with
//! its reason.
//!
//! # Policy format (JSON)
//!
//! ```json
//! {
//!   "rules": [
//!     {
//!       "id": "contain-account-takeover",
//!       "match": {
//!         "detections": ["brute_force_success", "mfa_fatigue"],
//!         "techniques": ["T1110", "T1621"],
//!         "min_severity": "high"
//!       },
//!       "actions": [
//!         {"type": "revoke_subject"},
//!         {"type": "revoke_session"},
//!         {"type": "drop_grants"},
//!         {"type": "deny_source_ip", "duration_ms": 3600000},
//!         {"type": "contain_device"}
//!       ]
//!     }
//!   ]
//! }
//! ```
//!
//! A rule applies when every criterion it gives holds: the finding's
//! detection id is one of `detections`, one of its ATT&CK ids is (or is a
//! sub-technique of) one of `techniques`, and its severity is at least
//! `min_severity` (`informational`, `low`, `medium`, `high`, `critical`). A
//! rule must give at least one criterion and one action; unknown fields are
//! rejected. Every applying rule contributes its actions; an action whose
//! subject the finding lacks (no actor, no source IP, no device, no session)
//! is not produced. Actions:
//!
//! | `type` | produces |
//! | --- | --- |
//! | `revoke_subject` | [`ResponseAction::RevokeSubject`]: the actor's tokens and sessions issued before the finding time |
//! | `revoke_session` | [`ResponseAction::RevokeSession`]: the finding's session |
//! | `drop_grants` | [`ResponseAction::DropGrants`]: the actor's just-in-time grants |
//! | `deny_source_ip` (`duration_ms` optional) | OpenC2 `deny` of `ipv4_net`/`ipv6_net` `<ip>/32` or `/128` |
//! | `contain_device` | OpenC2 `contain` of `device` `{"device_id": …}` |

use std::collections::VecDeque;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::finding::{Finding, Severity};
use super::AnalyticsError;
use crate::{ActorKey, Timestamp};

/// Most rules in one policy.
const MAX_RULES: usize = 10_000;

/// An OpenC2 command (Language Specification 1.0), for the host to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenC2Command {
    /// The action, e.g. `deny`, `contain`.
    pub action: String,
    /// The target, e.g. `{"ipv4_net": "203.0.113.7/32"}`.
    pub target: Value,
    /// Command arguments, e.g. `{"duration": 3600000}` (milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

impl OpenC2Command {
    /// The command as OpenC2 JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What the identity fabric or the host should do.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ResponseAction {
    /// Revoke every token and session of `actor` issued before `before`.
    RevokeSubject {
        /// The actor.
        actor: ActorKey,
        /// Credentials issued before this instant are revoked.
        before: Timestamp,
    },
    /// Revoke one session of `actor`.
    RevokeSession {
        /// The actor.
        actor: ActorKey,
        /// The session id (`session.uid`).
        session: String,
    },
    /// Drop the just-in-time grants of `actor`.
    DropGrants {
        /// The actor.
        actor: ActorKey,
    },
    /// Send an OpenC2 command.
    OpenC2(OpenC2Command),
}

impl ResponseAction {
    /// The action's stable name (`revoke_subject`, `openc2`…).
    pub fn kind(&self) -> &'static str {
        match self {
            ResponseAction::RevokeSubject { .. } => "revoke_subject",
            ResponseAction::RevokeSession { .. } => "revoke_session",
            ResponseAction::DropGrants { .. } => "drop_grants",
            ResponseAction::OpenC2(_) => "openc2",
        }
    }
}

/// One response, with why it was taken: a response-log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRecord {
    /// When (the finding's time).
    pub time: Timestamp,
    /// The finding that caused it.
    pub finding_uid: String,
    /// The finding's detection id.
    pub detection: String,
    /// The policy rule that chose it.
    pub rule_id: String,
    /// The action.
    pub action: ResponseAction,
    /// A sentence explaining the response.
    pub reason: String,
}

impl ResponseRecord {
    /// The record as JSON (for logs and the bindings).
    pub fn to_json(&self) -> Value {
        let action = match &self.action {
            ResponseAction::RevokeSubject { actor, before } => {
                json!({"type": "revoke_subject", "actor": actor.as_str(), "before": before.unix_millis()})
            }
            ResponseAction::RevokeSession { actor, session } => {
                json!({"type": "revoke_session", "actor": actor.as_str(), "session": session})
            }
            ResponseAction::DropGrants { actor } => {
                json!({"type": "drop_grants", "actor": actor.as_str()})
            }
            ResponseAction::OpenC2(c) => json!({"type": "openc2", "command": c.to_json()}),
        };
        json!({
            "time": self.time.unix_millis(),
            "finding_uid": self.finding_uid,
            "detection": self.detection,
            "rule_id": self.rule_id,
            "action": action,
            "reason": self.reason,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchSpec {
    #[serde(default)]
    detections: Vec<String>,
    #[serde(default)]
    techniques: Vec<String>,
    #[serde(default)]
    min_severity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ActionSpec {
    RevokeSubject,
    RevokeSession,
    DropGrants,
    DenySourceIp {
        #[serde(default)]
        duration_ms: Option<u64>,
    },
    ContainDevice,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    #[serde(rename = "match")]
    when: MatchSpec,
    actions: Vec<ActionSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    rules: Vec<RuleSpec>,
}

/// One rule of a [`ResponsePolicy`].
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRule {
    id: String,
    detections: Vec<String>,
    techniques: Vec<String>,
    min_severity: Option<Severity>,
    actions: Vec<ActionSpec>,
}

impl ResponseRule {
    /// The rule id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the rule applies to `f`.
    pub fn applies(&self, f: &Finding) -> bool {
        (self.detections.is_empty() || self.detections.iter().any(|d| *d == f.detection))
            && (self.techniques.is_empty() || self.techniques.iter().any(|t| f.has_technique(t)))
            && self.min_severity.is_none_or(|s| f.severity >= s)
    }
}

/// Maps findings to response actions (see the module docs for the format).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResponsePolicy {
    rules: Vec<ResponseRule>,
}

impl ResponsePolicy {
    /// Parses a policy from JSON.
    pub fn from_json(text: &str) -> Result<ResponsePolicy, AnalyticsError> {
        let spec: PolicySpec =
            serde_json::from_str(text).map_err(|e| AnalyticsError::InvalidPolicy {
                pointer: format!("line {} column {}", e.line(), e.column()),
                reason: strip_location(&e.to_string()),
            })?;
        if spec.rules.len() > MAX_RULES {
            return Err(policy_err("/rules", "more than 10000 rules"));
        }
        let mut rules = Vec::with_capacity(spec.rules.len());
        for (i, r) in spec.rules.into_iter().enumerate() {
            let at = |f: &str| format!("/rules/{i}{f}");
            if r.id.is_empty() {
                return Err(policy_err(&at("/id"), "rule id is empty"));
            }
            if rules.iter().any(|x: &ResponseRule| x.id == r.id) {
                return Err(policy_err(
                    &at("/id"),
                    &format!("duplicate rule id `{}`", r.id),
                ));
            }
            let min_severity = match &r.when.min_severity {
                None => None,
                Some(s) => Some(Severity::from_name(s).ok_or_else(|| {
                    policy_err(
                        &at("/match/min_severity"),
                        &format!("unknown severity `{s}`"),
                    )
                })?),
            };
            if r.when.detections.is_empty()
                && r.when.techniques.is_empty()
                && min_severity.is_none()
            {
                return Err(policy_err(
                    &at("/match"),
                    "rule matches every finding: give at least one criterion",
                ));
            }
            if r.actions.is_empty() {
                return Err(policy_err(&at("/actions"), "rule has no action"));
            }
            rules.push(ResponseRule {
                id: r.id,
                detections: r.when.detections,
                techniques: r.when.techniques,
                min_severity,
                actions: r.actions,
            });
        }
        Ok(ResponsePolicy { rules })
    }

    /// The rules.
    pub fn rules(&self) -> &[ResponseRule] {
        &self.rules
    }

    /// The responses to a finding, each with its reason, without duplicates.
    pub fn respond(&self, f: &Finding) -> Vec<ResponseRecord> {
        let mut out: Vec<ResponseRecord> = Vec::new();
        for rule in self.rules.iter().filter(|r| r.applies(f)) {
            for a in &rule.actions {
                let Some(action) = action_for(a, f) else {
                    continue;
                };
                if out.iter().any(|r| r.action == action) {
                    continue;
                }
                let reason = format!(
                    "{} for finding `{}` ({}, severity {}{}) under response rule `{}`",
                    describe(&action),
                    f.uid,
                    f.detection,
                    f.severity.caption(),
                    f.actor
                        .as_ref()
                        .map(|a| format!(", actor `{a}`"))
                        .unwrap_or_default(),
                    rule.id
                );
                out.push(ResponseRecord {
                    time: f.time,
                    finding_uid: f.uid.clone(),
                    detection: f.detection.clone(),
                    rule_id: rule.id.clone(),
                    action,
                    reason,
                });
            }
        }
        out
    }
}

fn strip_location(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s.get(..i).unwrap_or(s).to_owned(),
        None => s.to_owned(),
    }
}

fn policy_err(pointer: &str, reason: &str) -> AnalyticsError {
    AnalyticsError::InvalidPolicy {
        pointer: pointer.to_owned(),
        reason: reason.to_owned(),
    }
}

fn describe(a: &ResponseAction) -> String {
    match a {
        ResponseAction::RevokeSubject { actor, before } => {
            format!("revoke credentials of `{actor}` issued before {before}")
        }
        ResponseAction::RevokeSession { actor, session } => {
            format!("revoke session `{session}` of `{actor}`")
        }
        ResponseAction::DropGrants { actor } => format!("drop just-in-time grants of `{actor}`"),
        ResponseAction::OpenC2(c) => format!("OpenC2 `{}` {}", c.action, c.target),
    }
}

fn action_for(a: &ActionSpec, f: &Finding) -> Option<ResponseAction> {
    Some(match a {
        ActionSpec::RevokeSubject => ResponseAction::RevokeSubject {
            actor: f.actor.clone()?,
            // Everything issued up to and including the finding time.
            before: Timestamp::from_unix_millis(f.time.unix_millis().saturating_add(1)),
        },
        ActionSpec::RevokeSession => ResponseAction::RevokeSession {
            actor: f.actor.clone()?,
            session: f.session.as_deref()?.to_owned(),
        },
        ActionSpec::DropGrants => ResponseAction::DropGrants {
            actor: f.actor.clone()?,
        },
        ActionSpec::DenySourceIp { duration_ms } => {
            let target = match f.src_ip? {
                IpAddr::V4(ip) => json!({"ipv4_net": format!("{ip}/32")}),
                IpAddr::V6(ip) => json!({"ipv6_net": format!("{ip}/128")}),
            };
            ResponseAction::OpenC2(OpenC2Command {
                action: "deny".into(),
                target,
                args: duration_ms.map(|d| json!({"duration": d})),
            })
        }
        ActionSpec::ContainDevice => ResponseAction::OpenC2(OpenC2Command {
            action: "contain".into(),
            target: json!({"device": {"device_id": f.device.as_deref()?}}),
            args: None,
        }),
    })
}

/// A bounded log of responses: the newest `capacity` records are kept;
/// older ones are dropped and counted.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseLog {
    entries: VecDeque<ResponseRecord>,
    capacity: usize,
    dropped: u64,
}

impl Default for ResponseLog {
    fn default() -> Self {
        ResponseLog::new(10_000)
    }
}

impl ResponseLog {
    /// A log keeping at most `capacity` (at least 1) records.
    pub fn new(capacity: usize) -> ResponseLog {
        ResponseLog {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// Appends records.
    pub fn record(&mut self, records: &[ResponseRecord]) {
        for r in records {
            if self.entries.len() >= self.capacity {
                self.entries.pop_front();
                self.dropped += 1;
            }
            self.entries.push_back(r.clone());
        }
    }

    /// The kept records, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &ResponseRecord> {
        self.entries.iter()
    }

    /// Removes and returns the kept records.
    pub fn drain(&mut self) -> Vec<ResponseRecord> {
        self.entries.drain(..).collect()
    }

    /// Records dropped because the log was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rejects_ambiguous_policies() {
        assert!(ResponsePolicy::from_json(
            r#"{"rules":[{"id":"a","match":{},"actions":[{"type":"revoke_subject"}]}]}"#
        )
        .is_err());
        assert!(ResponsePolicy::from_json(
            r#"{"rules":[{"id":"a","match":{"min_severity":"high"},"actions":[]}]}"#
        )
        .is_err());
        assert!(ResponsePolicy::from_json(r#"{"rules":[{"id":"a","match":{"min_severity":"hi"},"actions":[{"type":"drop_grants"}]}]}"#).is_err());
        assert!(ResponsePolicy::from_json(
            r#"{"rules":[{"id":"a","match":{"min_severity":"high"},"actions":[{"type":"nuke"}]}]}"#
        )
        .is_err());
        assert!(ResponsePolicy::from_json(r#"{"rules":[{"id":"a","extra":1,"match":{"min_severity":"high"},"actions":[{"type":"drop_grants"}]}]}"#).is_err());
        let e = ResponsePolicy::from_json("{").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
