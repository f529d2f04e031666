//! Semantic validation of OCSF events: what JSON Schema cannot see.

use std::fmt;

use super::ocsf::{lookup, Class, Event, OCSF_VERSION};

/// What is wrong with an attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// `class_uid` is absent or not a class mesh emits.
    UnknownClass,
    /// `activity_id` is not defined for the class.
    UnknownActivity,
    /// An enum id is not defined for the class.
    UnknownEnumValue,
    /// A derived value differs from the one computed from the ids.
    Mismatch {
        /// The value the ids imply.
        expected: String,
    },
    /// A required attribute has no value.
    Missing,
    /// The attribute is not part of the class.
    NotInClass,
    /// None of a group of attributes of which at least one is required is
    /// present (the attribute named is the group's first).
    AtLeastOneOf {
        /// The group, comma separated.
        group: String,
    },
    /// Not exactly one of a group of mutually exclusive attributes is present.
    JustOneOf {
        /// The group, comma separated.
        group: String,
    },
    /// The attribute belongs to a profile the event does not declare.
    ProfileNotDeclared {
        /// The profile.
        profile: &'static str,
    },
}

/// One violation: the attribute (dotted path) and the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The attribute, e.g. `type_uid` or `metadata.version`.
    pub attribute: &'static str,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.attribute;
        match &self.problem {
            Problem::UnknownClass => write!(f, "`{a}`: not a supported class"),
            Problem::UnknownActivity => write!(f, "`{a}`: activity not defined for the class"),
            Problem::UnknownEnumValue => write!(f, "`{a}`: value not defined for the class"),
            Problem::Mismatch { expected } => write!(f, "`{a}`: expected `{expected}`"),
            Problem::Missing => write!(f, "`{a}`: required attribute missing"),
            Problem::NotInClass => write!(f, "`{a}`: attribute not in the class"),
            Problem::AtLeastOneOf { group } => {
                write!(f, "`{a}`: at least one of `{group}` is required")
            }
            Problem::JustOneOf { group } => {
                write!(f, "`{a}`: exactly one of `{group}` is required")
            }
            Problem::ProfileNotDeclared { profile } => {
                write!(
                    f,
                    "`{a}`: profile `{profile}` not declared in metadata.profiles"
                )
            }
        }
    }
}

/// Checks the semantic rules of an event: the class is supported; the
/// category, `type_uid` and every caption match the ids (a caption of id 99
/// may hold the source's word); the activity and enum ids are defined for the
/// class; required attributes are present (and `metadata.product`,
/// `metadata.version` = 1.8.0); only the class's attributes are set; and the
/// profiles whose attributes are used are declared. Empty when valid.
pub fn validate(event: &Event) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut bad =
        |attribute: &'static str, problem: Problem| out.push(Violation { attribute, problem });
    let Some(class) = event.class() else {
        bad("class_uid", Problem::UnknownClass);
        return out;
    };
    let info = class.info();
    check_eq(
        &mut bad,
        "category_uid",
        event.category_uid,
        Some(info.category_uid),
    );
    check_str(
        &mut bad,
        "class_name",
        event.class_name.as_deref(),
        info.caption,
    );
    check_str(
        &mut bad,
        "category_name",
        event.category_name.as_deref(),
        info.category_name,
    );
    if let Some(activity) = event.activity_id {
        match lookup(info.activities, activity) {
            None => bad("activity_id", Problem::UnknownActivity),
            Some(caption) => {
                if activity != 99 {
                    check_str(
                        &mut bad,
                        "activity_name",
                        event.activity_name.as_deref(),
                        caption,
                    );
                }
                let expected = class
                    .uid()
                    .checked_mul(100)
                    .and_then(|t| t.checked_add(activity));
                check_eq(&mut bad, "type_uid", event.type_uid, expected);
                if let Some(name) = event.type_name.as_deref() {
                    let ok = name
                        .strip_prefix(info.caption)
                        .and_then(|r| r.strip_prefix(": "))
                        .is_some_and(|r| r == caption);
                    if !ok {
                        bad(
                            "type_name",
                            Problem::Mismatch {
                                expected: format!("{}: {caption}", info.caption),
                            },
                        );
                    }
                }
            }
        }
    }
    for table in info.enums {
        let Some(id) = event.enum_id(table.id) else {
            continue;
        };
        let attr = super::ocsf::EVENT_ATTRS
            .get(usize::from(table.id))
            .copied()
            .unwrap_or("?");
        match table.caption_of(id) {
            None => bad(attr, Problem::UnknownEnumValue),
            Some(caption) if id != 99 => {
                let cap_attr = super::ocsf::EVENT_ATTRS
                    .get(usize::from(table.caption))
                    .copied()
                    .unwrap_or("?");
                check_str(&mut bad, cap_attr, event.caption(table.caption), caption);
            }
            Some(_) => {}
        }
    }
    let present = event.presence();
    for missing in info.required.minus(present).names() {
        bad(missing, Problem::Missing);
    }
    for extra in present.minus(info.allowed).names() {
        bad(extra, Problem::NotInClass);
    }
    if !info.at_least_one.is_empty() && present.and(info.at_least_one).is_empty() {
        let first = info.at_least_one.names().next().unwrap_or("?");
        bad(
            first,
            Problem::AtLeastOneOf {
                group: info.at_least_one.names().collect::<Vec<_>>().join(", "),
            },
        );
    }
    if !info.just_one.is_empty() && present.and(info.just_one).len() != 1 {
        let first = info.just_one.names().next().unwrap_or("?");
        bad(
            first,
            Problem::JustOneOf {
                group: info.just_one.names().collect::<Vec<_>>().join(", "),
            },
        );
    }
    let meta = event.metadata.as_deref();
    let declared = meta.and_then(|m| m.profiles.as_deref()).unwrap_or(&[]);
    for (profile, attrs) in info.profiles {
        if let Some(first) = present.and(*attrs).names().next() {
            if !declared.iter().any(|p| p == profile) {
                bad(first, Problem::ProfileNotDeclared { profile });
            }
        }
    }
    if let Some(meta) = meta {
        if meta.product.is_none() {
            bad("metadata.product", Problem::Missing);
        }
        match meta.version.as_deref() {
            None => bad("metadata.version", Problem::Missing),
            Some(OCSF_VERSION) => {}
            Some(_) => bad(
                "metadata.version",
                Problem::Mismatch {
                    expected: OCSF_VERSION.to_owned(),
                },
            ),
        }
    }
    out
}

fn check_eq(
    bad: &mut impl FnMut(&'static str, Problem),
    attr: &'static str,
    found: Option<i64>,
    expected: Option<i64>,
) {
    if let (Some(f), Some(e)) = (found, expected) {
        if f != e {
            bad(
                attr,
                Problem::Mismatch {
                    expected: e.to_string(),
                },
            );
        }
    }
}

fn check_str(
    bad: &mut impl FnMut(&'static str, Problem),
    attr: &'static str,
    found: Option<&str>,
    expected: &str,
) {
    if let Some(f) = found {
        if f != expected {
            bad(
                attr,
                Problem::Mismatch {
                    expected: expected.to_owned(),
                },
            );
        }
    }
}

impl Class {
    /// Whether `class_uid` names a class mesh emits.
    pub fn is_supported(uid: i64) -> bool {
        Class::from_uid(uid).is_some()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::events::ocsf::{AuthenticationActivity, Cloud, Product, Service, User};
    use crate::Timestamp;

    fn good() -> Event {
        let mut e = Event::new(
            AuthenticationActivity::Logon,
            Timestamp::from_unix_seconds(1_700_000_000),
            Product::named("AWS", "CloudTrail"),
        );
        e.user = Some(Box::new(User {
            name: Some("alice".into()),
            ..User::default()
        }));
        e.service = Some(Box::new(Service {
            name: Some("signin".into()),
            ..Service::default()
        }));
        e.finalize();
        e
    }

    #[test]
    fn finalized_event_is_valid() {
        assert_eq!(validate(&good()), vec![]);
    }

    #[test]
    fn reports_each_inconsistency() {
        let mut e = good();
        e.type_uid = Some(300202);
        e.activity_name = Some("Logoff".into());
        e.severity = Some("High".into());
        e.user = None;
        e.cloud = Some(Box::new(Cloud::default()));
        e.query_time = Some(1);
        let v = validate(&e);
        let attrs: Vec<_> = v.iter().map(|v| v.attribute).collect();
        for a in [
            "type_uid",
            "activity_name",
            "severity",
            "user",
            "cloud",
            "query_time",
        ] {
            assert!(attrs.contains(&a), "{a} not in {v:?}");
        }
        assert!(v
            .iter()
            .any(|v| v.problem == Problem::ProfileNotDeclared { profile: "cloud" }));
    }

    #[test]
    fn unknown_ids_are_reported() {
        let mut e = good();
        e.activity_id = Some(42);
        e.status_id = Some(7);
        let v = validate(&e);
        assert!(v.iter().any(|v| v.attribute == "activity_id"));
        assert!(v.iter().any(|v| v.attribute == "status_id"));
        e.class_uid = Some(9999);
        assert_eq!(validate(&e)[0].problem, Problem::UnknownClass);
    }
}
