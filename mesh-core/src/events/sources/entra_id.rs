//! Microsoft Entra ID sign-in and audit logs, as Microsoft Graph returns them
//! (`signIn`, `directoryAudit`) or as Azure Monitor diagnostic settings export
//! them (`category` `SignInLogs`/`AuditLogs`…, the Graph object under
//! `properties`).
//!
//! Sign-ins → Authentication (3002). Audits: user create/delete/enable/
//! disable/password → Account Change (3001); group, role and app-role
//! membership → User Access Management (3005); other audits → Account Change
//! with activity Other. Users: `uid` the object id, `name` and `email_addr`
//! the UPN (the key the identity fabric uses), `full_name` the display name.

use serde_json::Value;

use crate::events::ocsf::{
    Actor, Class, Device, Event, HttpRequest, Location, NetworkEndpoint, Service, Status, User,
};
use crate::events::{EventError, MapContext};

use super::common::{email_like, event, need_time, set_user_type};
use super::fields::{Fields, View};
use crate::events::timefmt::parse_iso;

const VENDOR: &str = "Microsoft";
const PRODUCT: &str = "Entra ID";

const SIGNIN_CATEGORIES: &[&str] = &[
    "SignInLogs",
    "NonInteractiveUserSignInLogs",
    "ServicePrincipalSignInLogs",
    "ManagedIdentitySignInLogs",
];

/// Whether a record is an Entra sign-in or audit log, with a confidence.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    if let Some(cat) = f.peek_str(&["category"]) {
        if f.has(&["properties"]) && (SIGNIN_CATEGORIES.contains(&cat) || cat == "AuditLogs") {
            return Some(96);
        }
    }
    if f.has(&["createdDateTime"]) && f.has(&["userPrincipalName"]) && f.has(&["status"]) {
        return Some(92);
    }
    if f.has(&["activityDisplayName"]) && f.has(&["initiatedBy"]) && f.has(&["loggedByService"]) {
        return Some(92);
    }
    None
}

/// A path below the Graph object (under `properties` in diagnostic exports).
struct P(bool);

impl P {
    fn at<'a>(&self, path: &[&'a str]) -> Vec<&'a str> {
        let mut v = Vec::with_capacity(path.len() + 1);
        if self.0 {
            v.push("properties");
        }
        v.extend_from_slice(path);
        v
    }
}

/// Maps one sign-in or audit record.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    let category = f.str(&["category"]);
    let diag = f.peek(&["properties"]).is_some_and(Value::is_object)
        && (f.has(&["resourceId"]) || f.has(&["operationName"]) || category.is_some());
    let p = P(diag);
    let is_audit = if diag {
        category.as_deref() == Some("AuditLogs")
    } else {
        f.has(&["activityDisplayName"])
    };
    let mut e = if is_audit {
        audit(f, &p)?
    } else {
        signin(f, &p)?
    };
    let meta = e.metadata_mut();
    meta.log_name = category;
    if diag {
        meta.tenant_uid = f.str(&["tenantId"]);
        if meta.correlation_uid.as_deref() == f.peek_str(&["correlationId"]) {
            f.str(&["correlationId"]);
        }
        if meta.correlation_uid.is_none() {
            meta.correlation_uid = f.str(&["correlationId"]);
        }
    }
    Ok(e)
}

fn time(f: &mut Fields, p: &P, key: &str) -> Result<i64, EventError> {
    let path = p.at(&[key]);
    if let Some(t) = f.peek_str(&path).and_then(parse_iso) {
        f.str(&path);
        return Ok(t);
    }
    let t = need_time(f.peek_str(&["time"]).and_then(parse_iso))?;
    f.str(&["time"]);
    Ok(t)
}

fn signin(f: &mut Fields, p: &P) -> Result<Event, EventError> {
    let t = time(f, p, "createdDateTime")?;
    let mut e = event(Class::Authentication, 1, t, VENDOR, PRODUCT);
    let meta = e.metadata_mut();
    meta.uid = f.str(&p.at(&["id"]));
    meta.correlation_uid = f.str(&p.at(&["correlationId"]));

    let upn = f.str(&p.at(&["userPrincipalName"]));
    let mut u = User {
        uid: f.str(&p.at(&["userId"])),
        email_addr: upn.as_deref().and_then(email_like),
        name: upn,
        full_name: f.str(&p.at(&["userDisplayName"])),
        ..User::default()
    };
    match f.str(&p.at(&["userType"])).as_deref() {
        Some("Member") => set_user_type(&mut u, 1, "User"),
        Some(other) => set_user_type(&mut u, 99, other),
        None => {}
    }
    if u.uid.is_none() && u.name.is_none() {
        return Err(EventError::missing("user"));
    }
    e.user = Some(Box::new(u));

    match f.int(&p.at(&["status", "errorCode"])) {
        Some(0) => e.set_status(Status::Success),
        Some(code) => {
            e.set_status(Status::Failure);
            e.status_code = Some(code.to_string());
            e.status_detail = f.str(&p.at(&["status", "failureReason"]));
        }
        None => {}
    }
    let mut ep = NetworkEndpoint {
        ip: f.str(&p.at(&["ipAddress"])),
        ..NetworkEndpoint::default()
    };
    let loc = Location {
        city: f.str(&p.at(&["location", "city"])),
        region: f.str(&p.at(&["location", "state"])),
        country: f.str(&p.at(&["location", "countryOrRegion"])),
        lat: f.float(&p.at(&["location", "geoCoordinates", "latitude"])),
        long: f.float(&p.at(&["location", "geoCoordinates", "longitude"])),
        ..Location::default()
    };
    f.drop_null(&p.at(&["location", "geoCoordinates", "altitude"]));
    if loc != Location::default() {
        ep.location = Some(Box::new(loc));
    }
    if ep.ip.is_none() {
        ep.ip = f.str(&["callerIpAddress"]);
    } else if ep.ip.as_deref() == f.peek_str(&["callerIpAddress"]) {
        f.str(&["callerIpAddress"]);
    }
    if ep != NetworkEndpoint::default() {
        e.src_endpoint = Some(Box::new(ep));
    }
    // A device is known only by its id or name.
    let dev = match (
        f.str(&p.at(&["deviceDetail", "deviceId"])),
        f.str(&p.at(&["deviceDetail", "displayName"])),
    ) {
        (None, None) => Device::default(),
        (uid, name) => Device {
            uid,
            name,
            is_compliant: f.bool(&p.at(&["deviceDetail", "isCompliant"])),
            is_managed: f.bool(&p.at(&["deviceDetail", "isManaged"])),
            ..Device::default()
        },
    };
    if dev != Device::default() {
        e.device = Some(Box::new(Device {
            type_id: Some(0),
            r#type: Some("Unknown".to_owned()),
            ..dev
        }));
    }
    let app_name = f.str(&p.at(&["appDisplayName"]));
    let app_id = f.str(&p.at(&["appId"]));
    if app_name.is_some() || app_id.is_some() {
        e.service = Some(Box::new(Service {
            name: app_name,
            uid: app_id,
            ..Service::default()
        }));
    }
    if let Some(ua) = f.str(&p.at(&["userAgent"])) {
        e.http_request = Some(Box::new(HttpRequest {
            user_agent: Some(ua),
            ..HttpRequest::default()
        }));
    }
    e.is_mfa = match f.peek_str(&p.at(&["authenticationRequirement"])) {
        Some("multiFactorAuthentication") => Some(true),
        Some("singleFactorAuthentication") => Some(false),
        _ => None,
    };
    if e.is_mfa.is_some() {
        f.str(&p.at(&["authenticationRequirement"]));
    }
    let risk = f
        .peek_str(&p.at(&["riskLevelDuringSignIn"]))
        .and_then(|r| match r {
            "none" => Some(0),
            "low" => Some(1),
            "medium" => Some(2),
            "high" => Some(3),
            _ => None,
        });
    if risk.is_some() {
        f.str(&p.at(&["riskLevelDuringSignIn"]));
        e.risk_level_id = risk;
    }
    Ok(e)
}

/// Account Change or User Access activity of an audit activity name.
fn audit_class(activity: &str) -> (Class, i64) {
    let change = match activity {
        "Add user" | "Invite external user" => Some(1),
        "Enable account" | "Restore user" => Some(2),
        "Change user password" | "Change password (self-service)" => Some(3),
        "Reset user password" | "Reset password (self-service)" | "Reset password (by admin)" => {
            Some(4)
        }
        "Disable account" => Some(5),
        "Delete user" | "Hard delete user" => Some(6),
        "User registered security info" | "Admin registered security info" => Some(10),
        "User deleted security info" | "Admin deleted security info" => Some(11),
        _ => None,
    };
    if let Some(a) = change {
        return (Class::AccountChange, a);
    }
    let access = match activity {
        "Add member to group"
        | "Add member to role"
        | "Add eligible member to role"
        | "Add app role assignment to user"
        | "Add app role assignment to group"
        | "Add owner to group" => Some(1),
        "Remove member from group"
        | "Remove member from role"
        | "Remove eligible member from role"
        | "Remove app role assignment from user"
        | "Remove app role assignment from group"
        | "Remove owner from group" => Some(2),
        _ => None,
    };
    match access {
        Some(a) => (Class::UserAccess, a),
        None => (Class::AccountChange, 99),
    }
}

/// The first target resource of a type, as a JSON object.
fn target<'a>(targets: &'a [Value], kind: &str) -> Option<&'a serde_json::Map<String, Value>> {
    targets
        .iter()
        .filter_map(Value::as_object)
        .find(|o| o.get("type").and_then(Value::as_str) == Some(kind))
}

fn text(o: &serde_json::Map<String, Value>, k: &str) -> Option<String> {
    o.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `newValue` of a modified property, without its JSON quoting.
fn modified(o: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    let props = o.get("modifiedProperties")?.as_array()?;
    let p = props
        .iter()
        .filter_map(Value::as_object)
        .find(|p| p.get("displayName").and_then(Value::as_str) == Some(name))?;
    let raw = p.get("newValue")?.as_str()?;
    let v = raw
        .trim()
        .trim_matches('"')
        .trim_start_matches("[\"")
        .trim_end_matches("\"]");
    (!v.is_empty()).then(|| v.to_owned())
}

fn audit(f: &mut Fields, p: &P) -> Result<Event, EventError> {
    let t = time(f, p, "activityDateTime")?;
    let activity_name = f
        .str(&p.at(&["activityDisplayName"]))
        .ok_or_else(|| EventError::missing("metadata.event_code"))?;
    if f.peek_str(&["operationName"]) == Some(activity_name.as_str()) {
        f.str(&["operationName"]);
    }
    let (class, activity) = audit_class(&activity_name);
    let mut e = event(class, activity, t, VENDOR, PRODUCT);
    if activity == 99 {
        e.activity_name = Some(activity_name.clone());
    }
    let meta = e.metadata_mut();
    meta.uid = f.str(&p.at(&["id"]));
    meta.correlation_uid = f.str(&p.at(&["correlationId"]));
    meta.event_code = Some(activity_name);
    meta.log_provider = f.str(&p.at(&["loggedByService"]));

    match f.str(&p.at(&["result"])).as_deref() {
        Some("success") => e.set_status(Status::Success),
        Some("failure") => e.set_status(Status::Failure),
        Some(other) => {
            e.set_status(Status::Other);
            e.status = Some(other.to_owned());
        }
        None => {}
    }
    e.status_detail = f.str(&p.at(&["resultReason"]));

    // Initiator: a user, or an application (service principal).
    let upn = f.str(&p.at(&["initiatedBy", "user", "userPrincipalName"]));
    let mut actor = Actor::default();
    let mut u = User {
        uid: f.str(&p.at(&["initiatedBy", "user", "id"])),
        email_addr: upn.as_deref().and_then(email_like),
        name: upn,
        full_name: f.str(&p.at(&["initiatedBy", "user", "displayName"])),
        ..User::default()
    };
    let ip = f.str(&p.at(&["initiatedBy", "user", "ipAddress"]));
    for k in [
        "displayName",
        "userType",
        "ipAddress",
        "userPrincipalName",
        "id",
    ] {
        f.drop_null(&p.at(&["initiatedBy", "user", k]));
    }
    f.drop_null(&p.at(&["initiatedBy", "user"]));
    f.drop_null(&p.at(&["initiatedBy", "app"]));
    if u.uid.is_none() && u.name.is_none() {
        actor.app_uid = f.str(&p.at(&["initiatedBy", "app", "appId"]));
        actor.app_name = f.str(&p.at(&["initiatedBy", "app", "displayName"]));
        u.uid = f.str(&p.at(&["initiatedBy", "app", "servicePrincipalId"]));
        u.name = f.str(&p.at(&["initiatedBy", "app", "servicePrincipalName"]));
        f.drop_null(&p.at(&["initiatedBy", "app", "servicePrincipalName"]));
        if u.uid.is_some() || u.name.is_some() {
            set_user_type(&mut u, 3, "System");
        }
    }
    let src_ip = ip.or_else(|| f.str(&["callerIpAddress"]));
    if let Some(ip) = src_ip {
        if f.peek_str(&["callerIpAddress"]) == Some(ip.as_str()) {
            f.str(&["callerIpAddress"]);
        }
        e.src_endpoint = Some(Box::new(NetworkEndpoint {
            ip: Some(ip),
            ..NetworkEndpoint::default()
        }));
    }
    let initiator = (u.uid.is_some() || u.name.is_some()).then_some(u);

    // Targets stay whole in `unmapped` (modified properties have no OCSF
    // place); the user and group/role they name are mapped as well.
    let targets: Vec<Value> = match f.peek(&p.at(&["targetResources"])) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let target_user = target(&targets, "User").map(|o| {
        let upn = text(o, "userPrincipalName");
        User {
            uid: text(o, "id"),
            email_addr: upn.as_deref().and_then(email_like),
            name: upn,
            full_name: text(o, "displayName"),
            ..User::default()
        }
    });
    if class == Class::UserAccess {
        let user_target = target(&targets, "User");
        let privileges: Vec<String> = [
            user_target.and_then(|o| modified(o, "Group.DisplayName")),
            user_target.and_then(|o| modified(o, "Role.DisplayName")),
            user_target.and_then(|o| modified(o, "AppRole.Value")),
            target(&targets, "Group").and_then(|o| text(o, "displayName")),
            target(&targets, "Role").and_then(|o| text(o, "displayName")),
        ]
        .into_iter()
        .flatten()
        .fold(Vec::new(), |mut acc, p| {
            if !acc.contains(&p) {
                acc.push(p);
            }
            acc
        });
        if privileges.is_empty() {
            return Err(EventError::missing("privileges"));
        }
        e.privileges = Some(privileges);
    }
    e.user = target_user.or_else(|| initiator.clone()).map(Box::new);
    if e.user.is_none() {
        return Err(EventError::missing("user"));
    }
    actor.user = initiator.map(Box::new);
    if actor != Actor::default() {
        e.actor = Some(Box::new(actor));
    }
    Ok(e)
}
