//! The envelope shared by Windows event log records rendered as JSON
//! (Security and Sysmon channels): `EventID`, `TimeCreated`, `Computer`,
//! `Channel`, `ProviderName`, `EventRecordID` and the `EventData` object.

use crate::events::ocsf::{Device, Event, Process, Session, User};

use super::fields::{Fields, View};
use crate::events::timefmt::parse_iso;

/// `EventData` key prefix.
pub(crate) const ED: &str = "EventData";

/// The event id, from a number or a numeric string.
pub(crate) fn event_id(f: &View<'_>) -> Option<i64> {
    f.peek(&["EventID"]).and_then(super::fields::as_int)
}

/// The record's time: `TimeCreated` (or `UtcTime` of Sysmon when given).
pub(crate) fn time(f: &mut Fields) -> Option<i64> {
    let t = f.peek_str(&["TimeCreated"]).and_then(parse_iso)?;
    f.str(&["TimeCreated"]);
    Some(t)
}

/// Fills the metadata and device from the envelope.
pub(crate) fn envelope(f: &mut Fields, e: &mut Event) {
    let meta = e.metadata_mut();
    meta.event_code = f.str(&["EventID"]);
    meta.uid = f.str(&["EventRecordID"]);
    meta.log_name = f.str(&["Channel"]);
    meta.log_provider = f.str(&["ProviderName"]);
    if let Some(host) = f.str(&["Computer"]) {
        e.device = Some(Box::new(Device {
            hostname: Some(host),
            type_id: Some(0),
            r#type: Some("Unknown".to_owned()),
            ..Device::default()
        }));
    }
}

/// Whether a SID names no person: the null SID, Local System, Local
/// Service, Network Service.
pub(crate) fn is_system_sid(sid: &str) -> bool {
    matches!(sid, "S-1-0-0" | "S-1-5-18" | "S-1-5-19" | "S-1-5-20")
}

/// A user from `{prefix}UserSid`/`{prefix}Sid`, `{prefix}UserName`,
/// `{prefix}DomainName` of `EventData`, taking what it uses. Returns `None`
/// (taking nothing) when the SID is a system SID or no field is usable.
pub(crate) fn user(f: &mut Fields, prefix: &str) -> Option<User> {
    let sid_key = [format!("{prefix}UserSid"), format!("{prefix}Sid")]
        .into_iter()
        .find(|k| f.has(&[ED, k]))?;
    let sid = f.peek_str(&[ED, &sid_key])?;
    let name_key = format!("{prefix}UserName");
    let domain_key = format!("{prefix}DomainName");
    if sid == "S-1-0-0" {
        // An account that did not resolve (failed logon): the name is all
        // there is; the null SID stays in `unmapped`.
        let name = f.str(&[ED, &name_key])?;
        return Some(User {
            name: Some(name),
            domain: f.str(&[ED, &domain_key]),
            ..User::default()
        });
    }
    if is_system_sid(sid) {
        return None;
    }
    let u = User {
        uid: f.str(&[ED, &sid_key]),
        name: f.str(&[ED, &name_key]),
        domain: f.str(&[ED, &domain_key]),
        ..User::default()
    };
    if u.name.is_none() && u.uid.is_none() {
        return None;
    }
    Some(u)
}

/// A session from a logon id field of `EventData`.
pub(crate) fn session(f: &mut Fields, key: &str) -> Option<Box<Session>> {
    let uid = f.str(&[ED, key])?;
    Some(Box::new(Session {
        uid: Some(uid),
        ..Session::default()
    }))
}

/// The file name of a Windows path.
pub(crate) fn basename(path: &str) -> String {
    path.rsplit(['\\', '/']).next().unwrap_or(path).to_owned()
}

/// A process from the `EventData` keys of its path and pid (decimal or
/// `0x` hex).
pub(crate) fn process(f: &mut Fields, path_key: &str, pid_key: &str) -> Option<Process> {
    let path = f.str(&[ED, path_key]);
    let pid = f.int(&[ED, pid_key]);
    if path.is_none() && pid.is_none() {
        return None;
    }
    Some(Process {
        name: path.as_deref().map(basename),
        path,
        pid,
        ..Process::default()
    })
}

/// A user from `DOMAIN\name` (Sysmon `User`): `uid` the whole down-level
/// name, `name` and `domain` its parts.
pub(crate) fn down_level_user(raw: String) -> User {
    let (domain, name) = match raw.split_once('\\') {
        Some((d, n)) => (Some(d.to_owned()), n.to_owned()),
        None => (None, raw.clone()),
    };
    User {
        uid: Some(raw),
        name: Some(name),
        domain,
        ..User::default()
    }
}
