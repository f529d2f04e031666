//! AWS CloudTrail records (one record of the `Records` array, as delivered to
//! S3, CloudWatch Logs or EventBridge `detail`).
//!
//! `ConsoleLogin` → Authentication (3002); IAM user, role, key, password and
//! MFA changes → Account Change (3001); every other call → API Activity
//! (6003). The caller (`userIdentity`) is `actor.user` (`user` for a
//! console login): `uid` the ARN, `uid_alt` the principal id, `name` the IAM
//! user name or, for an assumed role, the session name.

use crate::events::ocsf::{
    Actor, Api, Class, Cloud, Event, HttpRequest, Policy, Request, ResourceDetails, Response,
    Service, Session, Status, User,
};
use crate::events::{EventError, MapContext};

use super::common::{account, endpoint, event, need_time, set_user_type};
use super::doc::Doc;
use super::fields::{Take, View};
use crate::events::timefmt::parse_iso;

const VENDOR: &str = "AWS";
const PRODUCT: &str = "CloudTrail";

/// Whether a record looks like a CloudTrail record, with a confidence.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    let has = |k: &str| f.has(&[k]);
    if has("eventVersion") && has("eventSource") && has("eventName") && has("eventTime") {
        let strong = f
            .peek_str(&["eventSource"])
            .is_some_and(|s| s.ends_with(".amazonaws.com"));
        return Some(if strong { 98 } else { 80 });
    }
    None
}

/// The Account Change activity of an IAM event name, if it is one.
pub(super) fn account_change(name: &str) -> Option<i64> {
    Some(match name {
        "CreateUser" | "CreateRole" | "CreateLoginProfile" => 1,
        "ChangePassword" => 3,
        "UpdateLoginProfile" => 4,
        "DeleteUser" | "DeleteRole" | "DeleteLoginProfile" => 6,
        "AttachUserPolicy"
        | "PutUserPolicy"
        | "AttachRolePolicy"
        | "PutRolePolicy"
        | "AttachGroupPolicy"
        | "PutGroupPolicy"
        | "AddUserToGroup"
        | "PutUserPermissionsBoundary"
        | "PutRolePermissionsBoundary" => 7,
        "DetachUserPolicy"
        | "DeleteUserPolicy"
        | "DetachRolePolicy"
        | "DeleteRolePolicy"
        | "DetachGroupPolicy"
        | "DeleteGroupPolicy"
        | "RemoveUserFromGroup"
        | "DeleteUserPermissionsBoundary"
        | "DeleteRolePermissionsBoundary" => 8,
        "EnableMFADevice" | "CreateVirtualMFADevice" => 10,
        "DeactivateMFADevice" | "DeleteVirtualMFADevice" => 11,
        "CreateAccessKey"
        | "UpdateAccessKey"
        | "DeleteAccessKey"
        | "UploadSSHPublicKey"
        | "UpdateSSHPublicKey"
        | "DeleteSSHPublicKey"
        | "CreateServiceSpecificCredential"
        | "UploadSigningCertificate" => 99,
        _ => return None,
    })
}

/// The API Activity of an event name, from its verb.
/// The OCSF class and activity of a CloudTrail event, from its name and
/// source: console logins are authentications, IAM changes to accounts
/// are account changes, every other call is API activity.
pub(super) fn class_and_activity(name: &str, source: Option<&str>) -> (Class, i64) {
    if name == "ConsoleLogin" {
        (Class::Authentication, 1)
    } else if source == Some("iam.amazonaws.com") {
        match account_change(name) {
            Some(a) => (Class::AccountChange, a),
            None => (Class::ApiActivity, api_activity(name)),
        }
    } else {
        (Class::ApiActivity, api_activity(name))
    }
}

pub(super) fn api_activity(name: &str) -> i64 {
    const VERBS: &[(&str, i64)] = &[
        ("Get", 2),
        ("Describe", 2),
        ("List", 2),
        ("Head", 2),
        ("Lookup", 2),
        ("Search", 2),
        ("Select", 2),
        ("BatchGet", 2),
        ("Create", 1),
        ("Run", 1),
        ("Allocate", 1),
        ("Import", 1),
        ("Copy", 1),
        ("Generate", 1),
        ("Issue", 1),
        ("Update", 3),
        ("Put", 3),
        ("Modify", 3),
        ("Set", 3),
        ("Attach", 3),
        ("Associate", 3),
        ("Enable", 3),
        ("Disable", 3),
        ("Start", 3),
        ("Stop", 3),
        ("Reboot", 3),
        ("Replace", 3),
        ("Reset", 3),
        ("Tag", 3),
        ("Untag", 3),
        ("Delete", 4),
        ("Remove", 4),
        ("Terminate", 4),
        ("Detach", 4),
        ("Revoke", 4),
        ("Deregister", 4),
        ("Release", 4),
    ];
    VERBS
        .iter()
        .find(|(verb, _)| {
            name.strip_prefix(verb).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
            })
        })
        .map_or(99, |(_, a)| *a)
}

/// The session name of an assumed role's ARN
/// (`arn:aws:sts::…:assumed-role/<role>/<session>`).
pub(super) fn session_name(arn: &str) -> Option<&str> {
    arn.split_once(":assumed-role/")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, s)| s)
}

/// The caller, from `userIdentity`.
fn identity<F: Take>(f: &mut F) -> (User, Option<Box<Session>>, Option<String>) {
    const ID: &str = "userIdentity";
    let arn = f.str(&[ID, "arn"]);
    let kind = f.str(&[ID, "type"]);
    let session_name = arn.as_deref().and_then(session_name).map(str::to_owned);
    // Older records and failed console logins may lack the ARN: the
    // principal id is then the unique id.
    let principal_id = f.str(&[ID, "principalId"]);
    let (uid, uid_alt) = match arn {
        Some(arn) => (Some(arn), principal_id),
        None => (principal_id, None),
    };
    let mut u = User {
        uid,
        uid_alt,
        name: f
            .str(&[ID, "userName"])
            .or(session_name)
            .or_else(|| f.str(&[ID, "sessionContext", "sessionIssuer", "userName"])),
        credential_uid: f.str(&[ID, "accessKeyId"]),
        account: account(f.str(&[ID, "accountId"]), None, 10),
        ..User::default()
    };
    if u.uid.is_none() && u.uid_alt.is_none() && u.name.is_none() {
        // AWS service principals (`invokedBy`) name the caller.
        u.name = f.str(&[ID, "invokedBy"]);
    }
    if let Some(kind) = kind {
        let id = match kind.as_str() {
            "IAMUser" | "IdentityCenterUser" => 1,
            "Root" => 2,
            "AWSService" => 3,
            _ => 99,
        };
        set_user_type(&mut u, id, &kind);
    }
    let mfa = f.bool(&[ID, "sessionContext", "attributes", "mfaAuthenticated"]);
    let created = f
        .peek_str(&[ID, "sessionContext", "attributes", "creationDate"])
        .and_then(parse_iso);
    if created.is_some() {
        f.str(&[ID, "sessionContext", "attributes", "creationDate"]);
    }
    let issuer = f.str(&[ID, "sessionContext", "sessionIssuer", "arn"]);
    let session = (mfa.is_some() || created.is_some() || issuer.is_some()).then(|| {
        Box::new(Session {
            is_mfa: mfa,
            created_time: created,
            issuer,
            ..Session::default()
        })
    });
    let invoked_by = f.str(&[ID, "invokedBy"]);
    (u, session, invoked_by)
}

/// Maps one CloudTrail record parsed with borrowed strings (the same
/// mapping as [`map`]).
pub(crate) fn map_doc(f: &mut Doc<'_>, ctx: &MapContext) -> Result<Event, EventError> {
    map(f, ctx)
}

/// Maps one CloudTrail record.
pub(crate) fn map<F: Take>(f: &mut F, _ctx: &MapContext) -> Result<Event, EventError> {
    let time = need_time(f.peek_str(&["eventTime"]).and_then(parse_iso))?;
    f.str(&["eventTime"]);
    let name = f
        .str(&["eventName"])
        .ok_or_else(|| EventError::missing("api.operation"))?;
    let source = f.str(&["eventSource"]);

    let (class, activity) = class_and_activity(&name, source.as_deref());
    let mut e = event(class, activity, time, VENDOR, PRODUCT);
    if activity == 99 {
        e.activity_name = Some(name.clone());
    }

    let meta = e.metadata_mut();
    meta.uid = f.str(&["eventID"]);
    meta.log_version = f.str(&["eventVersion"]);
    meta.event_code = Some(name.clone());
    meta.correlation_uid = f.str(&["requestID"]);
    meta.log_name = f.str(&["eventCategory"]);

    e.cloud = Some(Box::new(Cloud {
        provider: Some(VENDOR.to_owned()),
        region: f.str(&["awsRegion"]),
        account: account(f.str(&["recipientAccountId"]), None, 10),
        ..Cloud::default()
    }));
    e.src_endpoint = endpoint(f.str(&["sourceIPAddress"]), None);
    if let Some(ua) = f.str(&["userAgent"]) {
        e.http_request = Some(Box::new(HttpRequest {
            user_agent: Some(ua),
            ..HttpRequest::default()
        }));
    }

    let error_code = f.str(&["errorCode"]);
    let error_message = f.str(&["errorMessage"]);
    let (caller, session, invoked_by) = identity(f);
    if e.src_endpoint.is_none() {
        // Calls made by an AWS service on the caller's behalf name it.
        e.src_endpoint = endpoint(invoked_by.clone(), None);
    }
    if e.src_endpoint.is_none() && class == Class::ApiActivity {
        return Err(EventError::missing("src_endpoint"));
    }

    match class {
        Class::Authentication => {
            let outcome = f.str(&["responseElements", "ConsoleLogin"]);
            let failed = error_message.is_some() || outcome.as_deref() == Some("Failure");
            e.set_status(if failed {
                Status::Failure
            } else {
                Status::Success
            });
            e.status_detail =
                error_message.or(outcome.filter(|o| o != "Success" && o != "Failure"));
            e.is_mfa = f
                .str(&["additionalEventData", "MFAUsed"])
                .map(|v| v.eq_ignore_ascii_case("yes"));
            e.service = source.map(|s| {
                Box::new(Service {
                    name: Some(s),
                    ..Service::default()
                })
            });
            e.session = session;
            e.user = Some(Box::new(caller));
            if invoked_by.is_some() {
                e.actor = Some(Box::new(Actor {
                    invoked_by,
                    ..Actor::default()
                }));
            }
            f.drop_null(&["requestParameters"]);
            f.drop_null(&["responseElements"]);
        }
        _ => {
            let failed = error_code.is_some();
            e.set_status(if failed {
                Status::Failure
            } else {
                Status::Success
            });
            e.status_code = error_code.clone();
            e.status_detail = error_message.clone();
            if class == Class::AccountChange {
                let target = f
                    .str(&["requestParameters", "userName"])
                    .or_else(|| f.str(&["requestParameters", "roleName"]));
                let target_arn = f
                    .str(&["responseElements", "user", "arn"])
                    .or_else(|| f.str(&["responseElements", "role", "arn"]));
                let target_id = f.str(&["responseElements", "user", "userId"]);
                e.user = Some(Box::new(match (target, target_arn, target_id) {
                    (None, None, None) => caller.clone(),
                    (name, uid, alt) => User {
                        name,
                        uid,
                        uid_alt: alt,
                        ..User::default()
                    },
                }));
                if let Some(arn) = f.str(&["requestParameters", "policyArn"]) {
                    e.policy = Some(Box::new(Policy {
                        name: arn.rsplit('/').next().map(str::to_owned),
                        uid: Some(arn),
                        ..Policy::default()
                    }));
                } else if let Some(pname) = f.str(&["requestParameters", "policyName"]) {
                    e.policy = Some(Box::new(Policy {
                        name: Some(pname),
                        ..Policy::default()
                    }));
                }
            }
            e.api = Some(Box::new(Api {
                operation: Some(name),
                service: source.map(|s| {
                    Box::new(Service {
                        name: Some(s),
                        ..Service::default()
                    })
                }),
                request: e
                    .metadata
                    .as_ref()
                    .and_then(|m| m.correlation_uid.clone())
                    .map(|uid| {
                        Box::new(Request {
                            uid: Some(uid),
                            data: f.take(&["requestParameters"]),
                            ..Request::default()
                        })
                    }),
                response: {
                    let data = f.take(&["responseElements"]);
                    (data.is_some() || failed).then(|| {
                        Box::new(Response {
                            data,
                            error: error_code,
                            error_message,
                            ..Response::default()
                        })
                    })
                },
                ..Api::default()
            }));
            f.drop_null(&["requestParameters"]);
            f.drop_null(&["responseElements"]);
            e.actor = Some(Box::new(Actor {
                user: Some(Box::new(caller)),
                session,
                invoked_by,
                ..Actor::default()
            }));
            if let Some(items) = f.peek_array(&["resources"]) {
                let mapped: Option<Vec<_>> = items.iter().map(resource).collect();
                if let Some(r) = mapped.filter(|r| !r.is_empty()) {
                    f.take(&["resources"]);
                    e.resources = Some(r);
                }
            }
        }
    }
    Ok(e)
}

/// A `resources[]` item (`ARN`, `type`, `accountId`), if it has only those.
fn resource(item: &serde_json::Value) -> Option<ResourceDetails> {
    let obj = item.as_object()?;
    if obj
        .keys()
        .any(|k| !matches!(k.as_str(), "ARN" | "type" | "accountId"))
    {
        return None;
    }
    let text = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    Some(ResourceDetails {
        uid: text("ARN"),
        r#type: text("type"),
        owner: text("accountId").map(|a| {
            Box::new(User {
                account: account(Some(a), None, 10),
                ..User::default()
            })
        }),
        ..ResourceDetails::default()
    })
}
