//! Windows Security log events rendered as JSON (the `System` fields at the
//! top level and the event's fields under `EventData`).
//!
//! 4624/4625/4634/4647/4648 → Authentication (3002); 4672 → Authorize
//! Session (3003); 4688 → Process Activity (1007); 4720–4740 and 4767 → Account
//! Change (3001), except the group membership events 4728/4729, 4732/4733 and
//! 4756/4757 → User Access Management (3005). Users carry the SID as `uid`;
//! system SIDs (Local System, the null SID) are never made the principal.

use crate::events::ocsf::{
    Actor, Class, Event, NetworkEndpoint, Process, ResourceDetails, Service, Status, User,
};
use crate::events::{EventError, MapContext};

use super::common::event;
use super::fields::{Fields, View};
use super::winevent::{self, basename, is_system_sid, ED};

const VENDOR: &str = "Microsoft";
const PRODUCT: &str = "Windows Security Auditing";

/// Whether a record is a Windows Security event, with a confidence.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    let provider = f.peek_str(&["ProviderName"]);
    let channel = f.peek_str(&["Channel"]);
    let id = winevent::event_id(f)?;
    if !f.has(&[ED]) {
        return None;
    }
    if provider == Some("Microsoft-Windows-Security-Auditing") || channel == Some("Security") {
        return Some(if supported(id) { 97 } else { 60 });
    }
    None
}

fn supported(id: i64) -> bool {
    matches!(
        id,
        4624 | 4625 | 4634 | 4647 | 4648 | 4672 | 4688 | 4720..=4740 | 4767
    )
}

fn logon_type(f: &mut Fields, e: &mut Event) {
    let Some(t) = f.peek(&[ED, "LogonType"]).and_then(super::fields::as_int) else {
        return;
    };
    let id = match t {
        0 => 1,
        2..=5 | 7..=13 => t,
        _ => return,
    };
    f.take(&[ED, "LogonType"]);
    e.logon_type_id = Some(id);
    e.is_remote = matches!(t, 3 | 8 | 10 | 12).then_some(true);
}

fn auth_protocol(f: &mut Fields, e: &mut Event) {
    let Some(p) = f.str(&[ED, "AuthenticationPackageName"]) else {
        return;
    };
    match p.trim().to_ascii_lowercase().as_str() {
        "ntlm" => e.auth_protocol_id = Some(1),
        "kerberos" => e.auth_protocol_id = Some(2),
        _ => {
            e.auth_protocol_id = Some(99);
            e.auth_protocol = Some(p);
        }
    }
}

/// The `SubStatus`/`Status` text of a failed logon.
fn failure_text(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_lowercase().as_str() {
        "0xc0000064" => "user name does not exist",
        "0xc000006a" => "user name is correct but the password is wrong",
        "0xc0000234" => "user is currently locked out",
        "0xc0000072" => "account is currently disabled",
        "0xc000006f" => "user tried to logon outside his day of week or time of day restrictions",
        "0xc0000070" => "workstation restriction",
        "0xc0000193" => "account expiration",
        "0xc0000071" => "expired password",
        "0xc0000133" => "clocks between dc and other computer too far out of sync",
        "0xc0000224" => "user is required to change password at next logon",
        "0xc000015b" => "the user has not been granted the requested logon type at this machine",
        "0xc000006d" => "unknown user name or bad password",
        _ => return None,
    })
}

fn src_endpoint(f: &mut Fields) -> Option<Box<NetworkEndpoint>> {
    let ep = NetworkEndpoint {
        ip: f.str(&[ED, "IpAddress"]),
        // Port 0 means "none": it stays in `unmapped`.
        port: match f.peek(&[ED, "IpPort"]).and_then(super::fields::as_int) {
            Some(p) if p > 0 => f.int(&[ED, "IpPort"]),
            _ => None,
        },
        hostname: f.str(&[ED, "WorkstationName"]),
        ..NetworkEndpoint::default()
    };
    (ep != NetworkEndpoint::default()).then(|| Box::new(ep))
}

fn require_user(e: &Event) -> Result<(), EventError> {
    if e.user.is_none() {
        return Err(EventError::missing("user"));
    }
    Ok(())
}

/// Maps one Security event.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    let id =
        winevent::event_id(&f.view()).ok_or_else(|| EventError::missing("metadata.event_code"))?;
    let time = winevent::time(f).ok_or_else(|| EventError::missing("time"))?;
    let (class, activity) = match id {
        4624 | 4625 | 4648 => (Class::Authentication, 1),
        4634 | 4647 => (Class::Authentication, 2),
        4672 => (Class::AuthorizeSession, 1),
        4688 => (Class::ProcessActivity, 1),
        4720 => (Class::AccountChange, 1),
        4722 => (Class::AccountChange, 2),
        4723 => (Class::AccountChange, 3),
        4724 => (Class::AccountChange, 4),
        4725 => (Class::AccountChange, 5),
        4726 => (Class::AccountChange, 6),
        4740 => (Class::AccountChange, 9),
        4767 => (Class::AccountChange, 12),
        4728 | 4732 | 4756 => (Class::UserAccess, 1),
        4729 | 4733 | 4757 => (Class::UserAccess, 2),
        4721..=4739 => (Class::AccountChange, 99),
        _ => {
            return Err(EventError::invalid(
                "EventID",
                format!("event `{id}` is not a supported security event"),
            ))
        }
    };
    let mut e = event(class, activity, time, VENDOR, PRODUCT);
    if activity == 99 {
        e.activity_name = Some(format!("Event {id}"));
    }
    winevent::envelope(f, &mut e);

    match id {
        4624 | 4625 | 4634 | 4647 => {
            e.user = winevent::user(f, "Target").map(Box::new);
            if id == 4647 && e.user.is_none() {
                e.user = winevent::user(f, "Subject").map(Box::new);
                e.session = winevent::session(f, "SubjectLogonId");
            } else {
                e.session = winevent::session(f, "TargetLogonId");
            }
            logon_type(f, &mut e);
            auth_protocol(f, &mut e);
            // The machine logged on to.
            e.dst_endpoint = e.device.as_ref().map(|d| {
                Box::new(NetworkEndpoint {
                    hostname: d.hostname.clone(),
                    ..NetworkEndpoint::default()
                })
            });
            e.src_endpoint = src_endpoint(f);
            if id == 4624 {
                e.set_status(Status::Success);
            }
            if id == 4625 {
                e.set_status(Status::Failure);
                e.status_code = f.str(&[ED, "Status"]);
                e.status_detail = f
                    .peek_str(&[ED, "SubStatus"])
                    .and_then(failure_text)
                    .or_else(|| e.status_code.as_deref().and_then(failure_text))
                    .map(str::to_owned);
            }
            // The subject asked for the logon: usually the machine account
            // or the logon service, kept as the logon process.
            let name = f
                .str(&[ED, "LogonProcessName"])
                .map(|n| n.trim().to_owned());
            let mut lp = winevent::process(f, "ProcessName", "ProcessId").unwrap_or_default();
            if name.is_some() {
                lp.name = name;
            }
            let subject_sid = f.peek_str(&[ED, "SubjectUserSid"]).map(str::to_owned);
            if subject_sid.as_deref().is_some_and(is_system_sid)
                && subject_sid.as_deref() != Some("S-1-0-0")
            {
                lp.user = Some(Box::new(User {
                    uid: f.str(&[ED, "SubjectUserSid"]),
                    name: f.str(&[ED, "SubjectUserName"]),
                    domain: f.str(&[ED, "SubjectDomainName"]),
                    ..User::default()
                }));
                lp.session = winevent::session(f, "SubjectLogonId");
            } else if let Some(u) = winevent::user(f, "Subject") {
                e.actor = Some(Box::new(Actor {
                    user: Some(Box::new(u)),
                    session: winevent::session(f, "SubjectLogonId"),
                    ..Actor::default()
                }));
            }
            if lp != Process::default() {
                e.logon_process = Some(Box::new(lp));
            }
            require_user(&e)?;
        }
        4648 => {
            let subject = winevent::user(f, "Subject");
            e.actor = Some(Box::new(Actor {
                user: subject.map(Box::new),
                session: winevent::session(f, "SubjectLogonId"),
                process: winevent::process(f, "ProcessName", "ProcessId").map(Box::new),
                ..Actor::default()
            }));
            let target = User {
                name: f.str(&[ED, "TargetUserName"]),
                domain: f.str(&[ED, "TargetDomainName"]),
                ..User::default()
            };
            if target.name.is_some() {
                e.user = Some(Box::new(target));
            }
            if let Some(server) = f.str(&[ED, "TargetServerName"]) {
                e.dst_endpoint = Some(Box::new(NetworkEndpoint {
                    hostname: Some(server),
                    ..NetworkEndpoint::default()
                }));
            }
            e.service = f.str(&[ED, "TargetInfo"]).map(|s| {
                Box::new(Service {
                    name: Some(s),
                    ..Service::default()
                })
            });
            e.src_endpoint = src_endpoint(f);
            require_user(&e)?;
        }
        4672 => {
            e.user = winevent::user(f, "Subject").map(Box::new);
            e.session = winevent::session(f, "SubjectLogonId");
            if let Some(list) = f.str(&[ED, "PrivilegeList"]) {
                e.privileges = Some(list.split_whitespace().map(str::to_owned).collect());
            }
            require_user(&e)?;
        }
        4688 => {
            let parent = winevent::process(f, "ParentProcessName", "ProcessId");
            let mut p = winevent::process(f, "NewProcessName", "NewProcessId")
                .ok_or_else(|| EventError::missing("process"))?;
            p.cmd_line = f.str(&[ED, "CommandLine"]);
            if let Some(label) = f.peek_str(&[ED, "MandatoryLabel"]) {
                let integrity = match label {
                    "S-1-16-0" => Some((1, "Untrusted")),
                    "S-1-16-4096" => Some((2, "Low")),
                    "S-1-16-8192" => Some((3, "Medium")),
                    "S-1-16-12288" => Some((4, "High")),
                    "S-1-16-16384" => Some((5, "System")),
                    "S-1-16-20480" => Some((6, "Protected")),
                    _ => None,
                };
                if let Some((iid, caption)) = integrity {
                    f.str(&[ED, "MandatoryLabel"]);
                    p.integrity_id = Some(iid);
                    p.integrity = Some(caption.to_owned());
                }
            }
            let subject = winevent::user(f, "Subject");
            p.user = subject.clone().map(Box::new);
            p.parent_process = parent.clone().map(Box::new);
            e.process = Some(Box::new(p));
            e.actor = Some(Box::new(Actor {
                user: subject.map(Box::new),
                session: winevent::session(f, "SubjectLogonId"),
                process: parent.map(Box::new),
                ..Actor::default()
            }));
            if e.device.is_none() {
                return Err(EventError::missing("device"));
            }
        }
        _ => {
            // Account management: the subject acts on a target account.
            let subject = winevent::user(f, "Subject");
            let session = if subject.is_some() {
                winevent::session(f, "SubjectLogonId")
            } else {
                None
            };
            if class == Class::UserAccess {
                let member = User {
                    uid: f.str(&[ED, "MemberSid"]),
                    name: f.str(&[ED, "MemberName"]),
                    ..User::default()
                };
                let group = f.str(&[ED, "TargetUserName"]);
                e.resources = Some(vec![ResourceDetails {
                    uid: f.str(&[ED, "TargetSid"]),
                    name: group.clone(),
                    namespace: f.str(&[ED, "TargetDomainName"]),
                    r#type: Some("Group".to_owned()),
                    ..ResourceDetails::default()
                }]);
                e.privileges = Some(vec![group.ok_or_else(|| EventError::missing("privileges"))?]);
                if member.uid.is_some() || member.name.is_some() {
                    e.user = Some(Box::new(member));
                }
            } else {
                let target = User {
                    uid: f.str(&[ED, "TargetSid"]),
                    name: f.str(&[ED, "TargetUserName"]),
                    ..User::default()
                };
                if id == 4740 {
                    // For a lockout, TargetDomainName is the caller computer.
                    if let Some(host) = f.str(&[ED, "TargetDomainName"]) {
                        e.src_endpoint = Some(Box::new(NetworkEndpoint {
                            hostname: Some(host),
                            ..NetworkEndpoint::default()
                        }));
                    }
                }
                let mut target = target;
                target.domain = f.str(&[ED, "TargetDomainName"]);
                if target.uid.is_some() || target.name.is_some() {
                    e.user = Some(Box::new(target));
                }
            }
            if subject.is_some() {
                e.actor = Some(Box::new(Actor {
                    user: subject.map(Box::new),
                    session,
                    ..Actor::default()
                }));
            }
            require_user(&e)?;
        }
    }
    if let Some(name) = e
        .process
        .as_ref()
        .and_then(|p| p.path.as_deref())
        .map(basename)
    {
        if let Some(p) = e.process.as_mut() {
            p.name = Some(name);
        }
    }
    Ok(e)
}
