//! Google Cloud audit logs: `LogEntry` records whose `protoPayload` is a
//! `google.cloud.audit.AuditLog` (Admin Activity, Data Access, System Event,
//! Policy Denied).
//!
//! IAM service-account lifecycle and key methods → Account Change (3001);
//! every other method → API Activity (6003). The caller is `actor.user`:
//! `email_addr` and `name` the principal e-mail, `uid` the principal subject.

use crate::events::ocsf::{
    Actor, Api, Class, Cloud, Event, HttpRequest, ResourceDetails, Response, Service, Status, User,
};
use crate::events::{EventError, MapContext};

use super::common::{account, endpoint, event, need_time, set_user_type};
use super::fields::{Fields, View};
use crate::events::timefmt::parse_iso;

const VENDOR: &str = "Google";
const PRODUCT: &str = "Cloud Audit Logs";
const PP: &str = "protoPayload";

/// Whether a record is a Cloud Audit Log entry, with a confidence.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    let t = f.peek_str(&[PP, "@type"])?;
    (t == "type.googleapis.com/google.cloud.audit.AuditLog").then_some(99)
}

fn account_change(method: &str) -> Option<i64> {
    let short = method.rsplit('.').next().unwrap_or(method);
    Some(match short {
        "CreateServiceAccount" => 1,
        "EnableServiceAccount" | "UndeleteServiceAccount" => 2,
        "DisableServiceAccount" => 5,
        "DeleteServiceAccount" => 6,
        "CreateServiceAccountKey"
        | "DeleteServiceAccountKey"
        | "UploadServiceAccountKey"
        | "DisableServiceAccountKey"
        | "EnableServiceAccountKey"
        | "PatchServiceAccount"
        | "UpdateServiceAccount" => 99,
        _ => return None,
    })
}

fn api_activity(method: &str) -> i64 {
    let short = method
        .rsplit('.')
        .next()
        .unwrap_or(method)
        .to_ascii_lowercase();
    let starts = |p: &[&str]| p.iter().any(|v| short.starts_with(v));
    if starts(&[
        "get",
        "list",
        "search",
        "read",
        "lookup",
        "testiampermissions",
        "query",
    ]) {
        2
    } else if starts(&["create", "insert", "add", "generate", "import", "upload"]) {
        1
    } else if starts(&[
        "update", "patch", "set", "modify", "enable", "disable", "start", "stop", "move", "reset",
        "undelete",
    ]) {
        3
    } else if starts(&["delete", "remove", "destroy", "revoke"]) {
        4
    } else {
        99
    }
}

/// Maps one audit log entry.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    let ts = ["timestamp"];
    let time = match f.peek_str(&ts).and_then(parse_iso) {
        Some(t) => {
            f.str(&ts);
            Some(t)
        }
        None => {
            let path = [PP, "requestMetadata", "requestAttributes", "time"];
            let t = f.peek_str(&path).and_then(parse_iso);
            if t.is_some() {
                f.str(&path);
            }
            t
        }
    };
    let time = need_time(time)?;
    let method = f
        .str(&[PP, "methodName"])
        .ok_or_else(|| EventError::missing("api.operation"))?;
    f.str(&[PP, "@type"]);
    let service = f.str(&[PP, "serviceName"]);
    let (class, activity) = match account_change(&method) {
        Some(a) if service.as_deref() == Some("iam.googleapis.com") => (Class::AccountChange, a),
        _ => (Class::ApiActivity, api_activity(&method)),
    };
    let mut e = event(class, activity, time, VENDOR, PRODUCT);
    if activity == 99 {
        e.activity_name = Some(method.rsplit('.').next().unwrap_or(&method).to_owned());
    }
    let meta = e.metadata_mut();
    meta.uid = f.str(&["insertId"]);
    meta.log_name = f.str(&["logName"]);
    meta.event_code = Some(method.clone());
    meta.correlation_uid = f.str(&["operation", "id"]);
    meta.logged_time = f.peek_str(&["receiveTimestamp"]).and_then(parse_iso);
    if meta.logged_time.is_some() {
        f.str(&["receiveTimestamp"]);
    }

    if let Some(sev) = f.str(&["severity"]) {
        e.severity_id = Some(match sev.as_str() {
            "DEFAULT" | "DEBUG" | "INFO" | "NOTICE" => 1,
            "WARNING" => 2,
            "ERROR" => 3,
            "CRITICAL" => 4,
            "ALERT" => 5,
            "EMERGENCY" => 6,
            _ => {
                e.severity = Some(sev.clone());
                99
            }
        });
    }
    let project = f.str(&["resource", "labels", "project_id"]);
    e.cloud = Some(Box::new(Cloud {
        provider: Some("GCP".to_owned()),
        project_uid: project,
        zone: f.str(&["resource", "labels", "zone"]),
        region: f.str(&["resource", "labels", "location"]),
        ..Cloud::default()
    }));

    let code = f.int(&[PP, "status", "code"]).filter(|c| *c != 0);
    let message = f.str(&[PP, "status", "message"]);
    if f.peek(&[PP, "status"])
        .is_some_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
    {
        f.take(&[PP, "status"]);
    }
    e.set_status(if code.is_some() {
        Status::Failure
    } else {
        Status::Success
    });
    e.status_code = code.map(|c| c.to_string());
    e.status_detail = message.clone();

    let email = f.str(&[PP, "authenticationInfo", "principalEmail"]);
    let mut caller = User {
        name: email.clone(),
        email_addr: email,
        uid: f.str(&[PP, "authenticationInfo", "principalSubject"]),
        ..User::default()
    };
    if caller
        .email_addr
        .as_deref()
        .is_some_and(|m| m.ends_with(".gserviceaccount.com"))
    {
        set_user_type(&mut caller, 4, "Service");
    }
    e.src_endpoint = endpoint(f.str(&[PP, "requestMetadata", "callerIp"]), None);
    if e.src_endpoint.is_none() && class == Class::ApiActivity {
        // Calls from inside Google carry no caller address.
        e.src_endpoint = Some(Box::new(crate::events::ocsf::NetworkEndpoint {
            name: Some("unknown".to_owned()),
            ..Default::default()
        }));
    }
    if let Some(ua) = f.str(&[PP, "requestMetadata", "callerSuppliedUserAgent"]) {
        e.http_request = Some(Box::new(HttpRequest {
            user_agent: Some(ua),
            ..HttpRequest::default()
        }));
    }
    let resource_name = if class == Class::ApiActivity {
        f.str(&[PP, "resourceName"])
    } else {
        None
    };
    // An API request needs an id, which audit logs do not carry: the request
    // body stays in `unmapped`.
    let response = f.take(&[PP, "response"]);
    if class == Class::AccountChange {
        let target = response
            .as_ref()
            .and_then(|r| r.get("email"))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .or_else(|| f.str(&["resource", "labels", "email_id"]));
        let mut u = match target {
            Some(t) => User {
                name: Some(t.clone()),
                email_addr: Some(t),
                uid: f.str(&["resource", "labels", "unique_id"]),
                ..User::default()
            },
            None => caller.clone(),
        };
        set_user_type(&mut u, 4, "Service");
        u.account = account(
            e.cloud.as_ref().and_then(|c| c.project_uid.clone()),
            None,
            11,
        );
        if f.peek_str(&["resource", "labels", "email_id"]) == u.email_addr.as_deref() {
            f.str(&["resource", "labels", "email_id"]);
        }
        e.user = Some(Box::new(u));
    } else if let Some(name) = resource_name {
        e.resources = Some(vec![ResourceDetails {
            name: Some(name),
            r#type: f.str(&["resource", "type"]),
            ..ResourceDetails::default()
        }]);
    }
    e.api = Some(Box::new(Api {
        operation: Some(method),
        service: service.map(|s| {
            Box::new(Service {
                name: Some(s),
                ..Service::default()
            })
        }),
        response: (response.is_some() || code.is_some()).then(|| {
            Box::new(Response {
                data: response,
                code,
                error_message: message,
                ..Response::default()
            })
        }),
        ..Api::default()
    }));
    e.actor = Some(Box::new(Actor {
        user: Some(Box::new(caller)),
        ..Actor::default()
    }));
    Ok(e)
}
