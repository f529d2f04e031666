//! Okta System Log events (`LogEvent` objects from `/api/v1/logs` or an
//! event hook).
//!
//! Sign-on events (`user.session.*`, `user.authentication.*`) →
//! Authentication (3002); user lifecycle, password, lock and factor events →
//! Account Change (3001); group/app membership and privilege grants → User
//! Access Management (3005); everything else → API Activity (6003). The
//! event's `actor` is the principal: `uid` the Okta id, `name` the login
//! (`alternateId`), `email_addr` the login when it is an address.

use serde_json::Value;

use crate::events::ocsf::{
    Actor, Class, Event, HttpRequest, Location, NetworkEndpoint, ResourceDetails, Session, Status,
    User,
};
use crate::events::{EventError, MapContext};

use super::common::{email_like, event, need_time, set_user_type};
use super::fields::{Fields, View};
use crate::events::timefmt::parse_iso;

const VENDOR: &str = "Okta";
const PRODUCT: &str = "System Log";

/// Whether a record looks like an Okta System Log event, with a confidence.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    let typed = f.peek_str(&["eventType"]).is_some();
    let shaped = f.has(&["actor", "alternateId"]) || f.has(&["legacyEventType"]);
    (typed && f.has(&["published"]) && shaped && f.has(&["outcome"])).then_some(97)
}

fn classify(t: &str) -> (Class, i64) {
    let auth = match t {
        "user.session.start"
        | "user.authentication.sso"
        | "user.authentication.auth_via_mfa"
        | "user.authentication.verify"
        | "user.authentication.auth_via_IDP"
        | "user.authentication.auth_via_social"
        | "user.authentication.auth_via_radius"
        | "user.authentication.authenticate" => Some(1),
        "user.session.end" | "user.session.clear" => Some(2),
        _ => None,
    };
    if let Some(a) = auth {
        return (Class::Authentication, a);
    }
    let change = match t {
        "user.lifecycle.create" => Some(1),
        "user.lifecycle.activate" | "user.lifecycle.reactivate" | "user.lifecycle.unsuspend" => {
            Some(2)
        }
        "user.account.update_password" => Some(3),
        "user.account.reset_password" | "user.lifecycle.password_mass_expiry" => Some(4),
        "user.lifecycle.deactivate" | "user.lifecycle.suspend" => Some(5),
        "user.lifecycle.delete.initiated" | "user.lifecycle.delete.completed" => Some(6),
        "user.account.lock" | "user.account.lock.limit" => Some(9),
        "user.mfa.factor.activate" => Some(10),
        "user.mfa.factor.deactivate" | "user.mfa.factor.reset_all" => Some(11),
        "user.account.unlock" | "user.account.unlock_by_admin" => Some(12),
        _ => None,
    };
    if let Some(a) = change {
        return (Class::AccountChange, a);
    }
    let access = match t {
        "group.user_membership.add"
        | "application.user_membership.add"
        | "user.account.privilege.grant"
        | "group.privilege.grant" => Some(1),
        "group.user_membership.remove"
        | "application.user_membership.remove"
        | "user.account.privilege.revoke"
        | "group.privilege.revoke" => Some(2),
        _ => None,
    };
    if let Some(a) = access {
        return (Class::UserAccess, a);
    }
    let last = t.rsplit('.').next().unwrap_or(t);
    let activity = match last {
        "create" | "add" | "generate" => 1,
        "read" | "view" | "list" | "export" => 2,
        "update" | "change" | "activate" | "deactivate" | "modify" | "reset" | "assign" => 3,
        "delete" | "remove" | "revoke" => 4,
        _ => 99,
    };
    (Class::ApiActivity, activity)
}

/// The actor as a user.
fn actor_user(f: &mut Fields) -> Option<User> {
    let uid = f.str(&["actor", "id"]);
    let login = f.str(&["actor", "alternateId"]).filter(|s| s != "unknown");
    let mut u = User {
        email_addr: login.as_deref().and_then(email_like),
        name: login,
        uid,
        full_name: f.str(&["actor", "displayName"]),
        ..User::default()
    };
    if let Some(kind) = f.str(&["actor", "type"]) {
        let id = if kind == "User" { 1 } else { 99 };
        set_user_type(&mut u, id, &kind);
    }
    f.drop_null(&["actor", "detailEntry"]);
    (u.uid.is_some() || u.name.is_some()).then_some(u)
}

/// A target as a resource: every key of a target has a place.
fn target_resource(t: &Value) -> Option<ResourceDetails> {
    let o = t.as_object()?;
    let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    let known = ["id", "type", "alternateId", "displayName", "detailEntry"];
    if o.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    Some(ResourceDetails {
        uid: s("id"),
        r#type: s("type"),
        uid_alt: s("alternateId"),
        name: s("displayName"),
        data: o.get("detailEntry").filter(|v| !v.is_null()).cloned(),
        ..ResourceDetails::default()
    })
}

/// A target of type `User` as a user.
fn target_user(t: &Value) -> Option<User> {
    let o = t.as_object()?;
    if o.get("type").and_then(Value::as_str) != Some("User") {
        return None;
    }
    let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    let login = s("alternateId").filter(|a| a != "unknown");
    let mut u = User {
        uid: s("id"),
        email_addr: login.as_deref().and_then(email_like),
        name: login,
        full_name: s("displayName"),
        ..User::default()
    };
    set_user_type(&mut u, 1, "User");
    Some(u)
}

/// Whether a target is a plain user that `target_user` keeps entirely.
fn plain_user(t: &Value) -> bool {
    t.as_object().is_some_and(|o| {
        o.iter().all(|(k, v)| match k.as_str() {
            "id" | "type" | "displayName" => true,
            "alternateId" => v.as_str() != Some("unknown"),
            "detailEntry" => v.is_null(),
            _ => false,
        })
    })
}

fn client(f: &mut Fields) -> Option<Box<NetworkEndpoint>> {
    let location = Location {
        city: f.str(&["client", "geographicalContext", "city"]),
        region: f.str(&["client", "geographicalContext", "state"]),
        country: f.str(&["client", "geographicalContext", "country"]),
        postal_code: f.str(&["client", "geographicalContext", "postalCode"]),
        lat: f.float(&["client", "geographicalContext", "geolocation", "lat"]),
        long: f.float(&["client", "geographicalContext", "geolocation", "lon"]),
        ..Location::default()
    };
    for k in ["city", "state", "country", "postalCode"] {
        f.drop_null(&["client", "geographicalContext", k]);
    }
    let has_location = location != Location::default();
    let ep = NetworkEndpoint {
        ip: f.str(&["client", "ipAddress"]),
        location: has_location.then(|| Box::new(location)),
        isp: f.str(&["securityContext", "isp"]),
        isp_org: f.str(&["securityContext", "asOrg"]),
        ..NetworkEndpoint::default()
    };
    f.drop_null(&["client", "id"]);
    (ep != NetworkEndpoint::default()).then(|| Box::new(ep))
}

/// Maps one Okta System Log event.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    let time = need_time(f.peek_str(&["published"]).and_then(parse_iso))?;
    f.str(&["published"]);
    let event_type = f
        .str(&["eventType"])
        .ok_or_else(|| EventError::missing("metadata.event_code"))?;
    let (class, activity) = classify(&event_type);
    let mut e = event(class, activity, time, VENDOR, PRODUCT);
    if activity == 99 {
        e.activity_name = Some(event_type.clone());
    }
    let meta = e.metadata_mut();
    meta.uid = f.str(&["uuid"]);
    meta.log_version = f.str(&["version"]);
    meta.event_code = Some(event_type);
    meta.correlation_uid = f.str(&["transaction", "id"]);

    if let Some(sev) = f.str(&["severity"]) {
        e.severity_id = Some(match sev.as_str() {
            "DEBUG" | "INFO" => 1,
            "WARN" => 2,
            "ERROR" => 4,
            _ => {
                e.severity = Some(sev.clone());
                99
            }
        });
    }
    match f.str(&["outcome", "result"]) {
        Some(r) if r == "SUCCESS" || r == "ALLOW" => e.set_status(Status::Success),
        Some(r) if r == "FAILURE" || r == "DENY" => e.set_status(Status::Failure),
        Some(r) => {
            e.set_status(Status::Other);
            e.status = Some(r);
        }
        None => {}
    }
    e.status_detail = f.str(&["outcome", "reason"]);
    f.drop_null(&["outcome", "reason"]);
    e.message = f.str(&["displayMessage"]);
    e.src_endpoint = client(f);
    if let Some(ua) = f.str(&["client", "userAgent", "rawUserAgent"]) {
        e.http_request = Some(Box::new(HttpRequest {
            user_agent: Some(ua),
            ..HttpRequest::default()
        }));
    }

    let principal = actor_user(f);
    let targets: Vec<Value> = match f.peek(&["target"]) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    f.drop_null(&["target"]);
    let target = targets.iter().find_map(target_user);

    match class {
        Class::Authentication => {
            let sid = f
                .str(&["authenticationContext", "externalSessionId"])
                .filter(|s| s != "unknown");
            e.session = sid.map(|uid| {
                Box::new(Session {
                    uid: Some(uid),
                    ..Session::default()
                })
            });
            let mfa = event_type_is_mfa(&e);
            e.is_mfa = mfa.then_some(true);
            // The service authenticated to is Okta itself.
            e.service = Some(Box::new(crate::events::ocsf::Service {
                name: Some(VENDOR.to_owned()),
                ..Default::default()
            }));
            e.user = principal.or(target).map(Box::new);
            if e.user.is_none() {
                return Err(EventError::missing("user"));
            }
        }
        Class::AccountChange => {
            if targets.len() == 1 && targets.iter().all(plain_user) {
                f.take(&["target"]);
            }
            e.user = target.or_else(|| principal.clone()).map(Box::new);
            e.actor = principal.map(|u| {
                Box::new(Actor {
                    user: Some(Box::new(u)),
                    ..Actor::default()
                })
            });
            if e.user.is_none() {
                return Err(EventError::missing("user"));
            }
        }
        _ => {
            let resources: Option<Vec<_>> = targets.iter().map(target_resource).collect();
            if let Some(r) = resources.filter(|r| !r.is_empty()) {
                f.take(&["target"]);
                if class == Class::UserAccess {
                    let privileges: Vec<String> = r
                        .iter()
                        .filter(|t| t.r#type.as_deref() != Some("User"))
                        .filter_map(|t| t.name.clone().or_else(|| t.uid.clone()))
                        .collect();
                    if !privileges.is_empty() {
                        e.privileges = Some(privileges);
                    }
                }
                e.resources = Some(r);
            }
            if class == Class::UserAccess {
                e.user = target.or_else(|| principal.clone()).map(Box::new);
                if e.user.is_none() {
                    return Err(EventError::missing("user"));
                }
                if e.privileges.is_none() {
                    return Err(EventError::missing("privileges"));
                }
            }
            e.actor = Some(Box::new(Actor {
                user: principal.map(Box::new),
                ..Actor::default()
            }));
            if e.src_endpoint.is_none() && class == Class::ApiActivity {
                return Err(EventError::missing("src_endpoint"));
            }
            if class == Class::ApiActivity {
                let operation = e.metadata.as_ref().and_then(|m| m.event_code.clone());
                e.api = Some(Box::new(crate::events::ocsf::Api {
                    operation,
                    ..Default::default()
                }));
                e.cloud = Some(Box::new(crate::events::ocsf::Cloud {
                    provider: Some(VENDOR.to_owned()),
                    ..Default::default()
                }));
            }
        }
    }
    Ok(e)
}

fn event_type_is_mfa(e: &Event) -> bool {
    e.metadata
        .as_ref()
        .and_then(|m| m.event_code.as_deref())
        .is_some_and(|c| c == "user.authentication.auth_via_mfa")
}
