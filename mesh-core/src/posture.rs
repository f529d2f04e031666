//! Posture rules: the policy language asserting properties of configuration
//! documents (cloud resources, SaaS settings, devices), yielding OCSF
//! Compliance Findings (class 2003).
//!
//! A posture rule is a `forbid` whose condition describes the *failing*
//! state; the configuration document is the `resource`, an entity whose
//! attributes are the document's fields. Annotations: `@id` (the rule id),
//! `@severity` (`informational`, `low`, `medium`, `high`, `critical`;
//! default `medium`) and `@description`.
//!
//! ```cedar
//! @id("bucket-not-public")
//! @severity("high")
//! @description("storage buckets must not be publicly readable")
//! forbid(principal, action, resource is Bucket) when { resource.public_read };
//!
//! @id("disk-encryption")
//! @severity("critical")
//! forbid(principal, action, resource is Device) unless { resource.disk_encrypted };
//! ```
//!
//! Each document is evaluated as the request `Posture::"mesh"` /
//! `Action::"assess"` / `<Type>::"<id>"`; every rule that applies is a
//! failing check and becomes one finding naming the rule, its severity and
//! the failing condition's source text. A rule whose condition cannot be
//! evaluated (e.g. a missing attribute) fails closed: it is reported too.

use serde_json::{json, Value as Json};
use std::sync::Arc;

use crate::policy::{Entities, EntityType, EntityUid, PolicyError, PolicySet, Record, Request};
use crate::Timestamp;

/// One configuration document to assess.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigDocument {
    /// The resource's entity type, e.g. `Bucket`, `Device`.
    pub kind: String,
    /// The resource's id, e.g. the bucket name.
    pub id: String,
    /// The configuration: a JSON object (Cedar entity attribute values).
    pub attributes: Json,
}

/// A failing posture check.
#[derive(Clone, Debug, PartialEq)]
pub struct PostureFinding {
    /// The rule id.
    pub rule: String,
    /// The rule's severity name.
    pub severity: String,
    /// The rule's description, if any.
    pub description: Option<String>,
    /// The failing condition's source text (`when { … }` / `unless { … }`).
    pub condition: String,
    /// The resource assessed.
    pub resource: String,
    /// Evaluation error, when the rule failed closed.
    pub error: Option<String>,
}

const SEVERITIES: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

impl PostureFinding {
    /// The OCSF `severity_id` (1 informational … 5 critical).
    pub fn severity_id(&self) -> u8 {
        SEVERITIES
            .iter()
            .position(|s| *s == self.severity)
            .map_or(3, |i| u8::try_from(i + 1).unwrap_or(3))
    }

    /// The finding as an OCSF 1.8.0 Compliance Finding (class 2003,
    /// activity 1 Create, `compliance.status_id` 3 Fail).
    pub fn to_ocsf(&self, now: Timestamp) -> Json {
        let sev = self.severity_id();
        let mut caption = self.severity.clone();
        if let Some(first) = caption.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        json!({
            "class_uid": 2003,
            "class_name": "Compliance Finding",
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": 200301,
            "type_name": "Compliance Finding: Create",
            "severity_id": sev,
            "severity": caption,
            "time": now.unix_millis(),
            "status_id": 1,
            "status": "New",
            "metadata": {"version": "1.8.0", "product": {"name": "mesh", "vendor_name": "mesh"}},
            "finding_info": {
                "uid": format!("{}:{}", self.rule, self.resource),
                "title": self.description.clone().unwrap_or_else(|| self.rule.clone()),
                "desc": self.condition,
            },
            "compliance": {
                "control": self.rule,
                "status_id": 3,
                "status": "Fail",
                "status_detail": match &self.error {
                    Some(e) => format!("{} (evaluation error, failed closed: {e})", self.condition),
                    None => self.condition.clone(),
                },
            },
            "resources": [{"uid": self.resource}],
        })
    }
}

/// Assesses configuration documents against posture rules.
pub fn assess(
    rules: &PolicySet,
    documents: &[ConfigDocument],
) -> Result<Vec<PostureFinding>, PolicyError> {
    let principal = EntityUid::new(EntityType::new("Posture"), "mesh");
    let action = EntityUid::new(EntityType::new("Action"), "assess");
    let mut out = Vec::new();
    for (i, doc) in documents.iter().enumerate() {
        let entities = Entities::from_json_value(&json!([{
            "uid": {"type": doc.kind, "id": doc.id}, "attrs": doc.attributes, "parents": []
        }]))
        .map_err(|e| PolicyError::Entities {
            pointer: format!("/documents/{i}"),
            message: e.to_string(),
        })?;
        let resource = EntityUid::new(EntityType::new(&doc.kind), &doc.id);
        let request = Request::new(
            principal.clone(),
            action.clone(),
            resource.clone(),
            Record::default(),
        );
        let d = rules.decide(&request, &entities);
        let errors: Vec<(String, String)> = d
            .errors()
            .map(|e| (e.policy.to_string(), e.to_string()))
            .collect();
        for id in d.determining() {
            let Some(p) = rules.get(id.as_str()) else {
                continue;
            };
            if p.effect != crate::policy::Effect::Forbid {
                continue;
            }
            let condition = p
                .conditions
                .iter()
                .filter_map(|c| {
                    let start = c.span.start.checked_sub(p.offset)? as usize;
                    let end = c.span.end.checked_sub(p.offset)? as usize;
                    p.source.get(start..end).map(str::to_owned)
                })
                .collect::<Vec<_>>()
                .join(" ");
            let severity = p
                .annotation("severity")
                .filter(|s| SEVERITIES.contains(s))
                .unwrap_or("medium");
            out.push(PostureFinding {
                rule: id.to_string(),
                severity: severity.to_owned(),
                description: p.annotation("description").map(str::to_owned),
                condition: if condition.is_empty() {
                    "(no condition: the rule forbids every matching resource)".to_owned()
                } else {
                    condition
                },
                resource: resource.to_string(),
                error: errors
                    .iter()
                    .find(|(pid, _)| pid == id.as_str())
                    .map(|(_, e)| e.clone()),
            });
        }
    }
    Ok(out)
}

/// Parses posture rule sources `(name, text)` into a rule set.
pub fn compile_rules<'a>(
    sources: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Arc<PolicySet>, PolicyError> {
    let mut all = Vec::new();
    for (name, text) in sources {
        all.extend(crate::policy::parse_policies(text, name)?);
    }
    Ok(Arc::new(PolicySet::from_policies(all)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const RULES: &str = r#"
@id("bucket-not-public")
@severity("high")
@description("storage buckets must not be publicly readable")
forbid(principal, action, resource is Bucket) when { resource.public_read };

@id("disk-encryption")
@severity("critical")
forbid(principal, action, resource is Device) unless { resource.disk_encrypted };
"#;

    #[test]
    fn failing_documents_become_compliance_findings() {
        let rules = compile_rules([("posture.cedar", RULES)]).unwrap();
        let docs = vec![
            ConfigDocument {
                kind: "Bucket".into(),
                id: "logs".into(),
                attributes: json!({"public_read": true}),
            },
            ConfigDocument {
                kind: "Bucket".into(),
                id: "private".into(),
                attributes: json!({"public_read": false}),
            },
            ConfigDocument {
                kind: "Device".into(),
                id: "laptop-7".into(),
                attributes: json!({"disk_encrypted": false}),
            },
            ConfigDocument {
                kind: "Device".into(),
                id: "laptop-8".into(),
                attributes: json!({"disk_encrypted": true}),
            },
        ];
        let f = assess(&rules, &docs).unwrap();
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].rule, "bucket-not-public");
        assert_eq!(f[0].condition, "when { resource.public_read }");
        assert_eq!(f[0].resource, r#"Bucket::"logs""#);
        assert_eq!(f[1].rule, "disk-encryption");
        assert_eq!(f[1].severity_id(), 5);
        let ev = f[0].to_ocsf(Timestamp::from_unix_seconds(1));
        assert_eq!(ev["class_uid"], 2003);
        assert_eq!(ev["type_uid"], 200301);
        assert_eq!(ev["severity_id"], 4);
        assert_eq!(ev["compliance"]["status"], "Fail");
    }

    #[test]
    fn missing_attribute_fails_closed() {
        let rules = compile_rules([("posture.cedar", RULES)]).unwrap();
        let docs = vec![ConfigDocument {
            kind: "Device".into(),
            id: "d".into(),
            attributes: json!({}),
        }];
        let f = assess(&rules, &docs).unwrap();
        assert_eq!(f.len(), 1);
        assert!(f[0].error.is_some());
    }
}
