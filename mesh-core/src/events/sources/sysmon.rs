//! Sysmon events rendered as JSON (Windows event envelope, fields under
//! `EventData`): 1 process creation → Process Activity (1007), 3 network
//! connection → Network Activity (4001), 11 file create → File System
//! Activity (1001), 22 DNS query → DNS Activity (4003).
//!
//! The acting process is `actor.process`; its `User` (`DOMAIN\name`) is
//! `actor.user` with the down-level name as `uid`.

use crate::events::ocsf::{
    Actor, Class, DnsAnswer, DnsQuery, Event, File, NetworkConnectionInfo, NetworkEndpoint,
    Process, Product, Session,
};
use crate::events::{EventError, MapContext};

use super::common::{direction, event, fingerprints, protocol_num};
use super::fields::{Fields, View};
use super::winevent::{self, basename, down_level_user, ED};
use crate::events::timefmt::parse_iso;

const VENDOR: &str = "Microsoft";
const PRODUCT: &str = "Sysmon";

/// Whether a record is a Sysmon event, with a confidence.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    let provider = f.peek_str(&["ProviderName"]).unwrap_or_default();
    let channel = f.peek_str(&["Channel"]).unwrap_or_default();
    let id = winevent::event_id(f)?;
    if !(provider == "Microsoft-Windows-Sysmon"
        || channel == "Microsoft-Windows-Sysmon/Operational")
    {
        return None;
    }
    Some(if matches!(id, 1 | 3 | 11 | 22) {
        98
    } else {
        60
    })
}

/// The acting process: `ProcessGuid`, `ProcessId`, `Image`.
fn acting(f: &mut Fields) -> Option<Process> {
    let mut p = winevent::process(f, "Image", "ProcessId").unwrap_or_default();
    p.uid = f.str(&[ED, "ProcessGuid"]);
    (p != Process::default()).then_some(p)
}

fn integrity(level: &str) -> Option<(i64, &'static str)> {
    Some(match level {
        "Untrusted" => (1, "Untrusted"),
        "Low" => (2, "Low"),
        "Medium" => (3, "Medium"),
        "High" => (4, "High"),
        "System" => (5, "System"),
        "Protected" => (6, "Protected"),
        _ => return None,
    })
}

/// Maps one Sysmon event.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    let id =
        winevent::event_id(&f.view()).ok_or_else(|| EventError::missing("metadata.event_code"))?;
    let utc = f.peek_str(&[ED, "UtcTime"]).and_then(parse_iso);
    let time = match utc {
        Some(t) => {
            f.str(&[ED, "UtcTime"]);
            t
        }
        None => winevent::time(f).ok_or_else(|| EventError::missing("time"))?,
    };
    let (class, activity) = match id {
        1 => (Class::ProcessActivity, 1),
        3 => (Class::NetworkActivity, 1),
        11 => (Class::FileActivity, 1),
        22 => (Class::DnsActivity, 1),
        _ => {
            return Err(EventError::invalid(
                "EventID",
                format!("sysmon event `{id}` is not supported"),
            ))
        }
    };
    let mut e = event(class, activity, time, VENDOR, PRODUCT);
    winevent::envelope(f, &mut e);
    if utc.is_some() {
        // `TimeCreated` is when the event was logged.
        let logged = f.peek_str(&["TimeCreated"]).and_then(parse_iso);
        if logged.is_some() {
            f.str(&["TimeCreated"]);
            e.metadata_mut().logged_time = logged;
        }
    }
    let user = f.str(&[ED, "User"]).map(down_level_user);
    // A service account acts for no person: it stays on the process only.
    let principal = user.clone().filter(|u| {
        !u.domain
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case("NT AUTHORITY"))
    });

    match id {
        1 => {
            let mut p = acting(f).ok_or_else(|| EventError::missing("process"))?;
            p.cmd_line = f.str(&[ED, "CommandLine"]);
            p.working_directory = f.str(&[ED, "CurrentDirectory"]);
            if let Some((iid, caption)) = f.peek_str(&[ED, "IntegrityLevel"]).and_then(integrity) {
                f.str(&[ED, "IntegrityLevel"]);
                p.integrity_id = Some(iid);
                p.integrity = Some(caption.to_owned());
            }
            let mut file = File {
                path: p.path.clone(),
                name: p.name.clone(),
                type_id: Some(1),
                r#type: Some("Regular File".to_owned()),
                version: f.str(&[ED, "FileVersion"]),
                desc: f.str(&[ED, "Description"]),
                company_name: f.str(&[ED, "Company"]),
                internal_name: f.str(&[ED, "OriginalFileName"]),
                ..File::default()
            };
            if let Some(product) = f.str(&[ED, "Product"]) {
                file.product = Some(Box::new(Product {
                    name: Some(product),
                    ..Product::default()
                }));
            }
            if let Some(h) = f.peek_str(&[ED, "Hashes"]) {
                let hashes = fingerprints(h);
                if !hashes.is_empty() {
                    f.str(&[ED, "Hashes"]);
                    file.hashes = Some(hashes);
                }
            }
            if file.path.is_some() {
                p.file = Some(Box::new(file));
            }
            p.user = user.clone().map(Box::new);
            let logon = f.str(&[ED, "LogonId"]);
            let guid = f.str(&[ED, "LogonGuid"]);
            if logon.is_some() || guid.is_some() {
                p.session = Some(Box::new(Session {
                    uid: logon,
                    uid_alt: guid,
                    ..Session::default()
                }));
            }
            let mut parent =
                winevent::process(f, "ParentImage", "ParentProcessId").unwrap_or_default();
            parent.uid = f.str(&[ED, "ParentProcessGuid"]);
            parent.cmd_line = f.str(&[ED, "ParentCommandLine"]);
            parent.user = f
                .str(&[ED, "ParentUser"])
                .map(down_level_user)
                .map(Box::new);
            let parent = (parent != Process::default()).then_some(parent);
            p.parent_process = parent.clone().map(Box::new);
            e.process = Some(Box::new(p));
            e.actor = Some(Box::new(Actor {
                user: principal.map(Box::new),
                process: parent.map(Box::new),
                ..Actor::default()
            }));
        }
        3 => {
            let p = acting(f);
            let src = NetworkEndpoint {
                ip: f.str(&[ED, "SourceIp"]),
                port: f.int(&[ED, "SourcePort"]),
                hostname: f.str(&[ED, "SourceHostname"]),
                svc_name: f.str(&[ED, "SourcePortName"]),
                ..NetworkEndpoint::default()
            };
            let dst = NetworkEndpoint {
                ip: f.str(&[ED, "DestinationIp"]),
                port: f.int(&[ED, "DestinationPort"]),
                hostname: f.str(&[ED, "DestinationHostname"]),
                svc_name: f.str(&[ED, "DestinationPortName"]),
                ..NetworkEndpoint::default()
            };
            e.src_endpoint = Some(Box::new(src));
            e.dst_endpoint = Some(Box::new(dst));
            let proto = f.str(&[ED, "Protocol"]);
            let initiated = f.bool(&[ED, "Initiated"]);
            let dir = direction(initiated.map_or(0, |i| if i { 2 } else { 1 }));
            let v6 = f.bool(&[ED, "SourceIsIpv6"]);
            let dst_v6 = f.peek(&[ED, "DestinationIsIpv6"]).cloned();
            let ver = v6.map(|v| if v { 6 } else { 4 });
            if dst_v6.is_some_and(|d| d.as_str().map(|s| s == "true") == v6) {
                f.take(&[ED, "DestinationIsIpv6"]);
            }
            e.connection_info = Some(Box::new(NetworkConnectionInfo {
                protocol_num: proto.as_deref().and_then(protocol_num),
                protocol_name: proto,
                direction_id: dir.0,
                direction: dir.1,
                protocol_ver_id: ver,
                protocol_ver: ver.map(|v| {
                    if v == 6 {
                        "Internet Protocol version 6 (IPv6)"
                    } else {
                        "Internet Protocol version 4 (IPv4)"
                    }
                    .to_owned()
                }),
                ..NetworkConnectionInfo::default()
            }));
            e.actor = Some(Box::new(Actor {
                user: principal.map(Box::new),
                process: p.map(|mut p| {
                    p.user = user.map(Box::new);
                    Box::new(p)
                }),
                ..Actor::default()
            }));
        }
        11 => {
            let p = acting(f);
            let path = f
                .str(&[ED, "TargetFilename"])
                .ok_or_else(|| EventError::missing("file"))?;
            let created = f.peek_str(&[ED, "CreationUtcTime"]).and_then(parse_iso);
            if created.is_some() {
                f.str(&[ED, "CreationUtcTime"]);
            }
            e.file = Some(Box::new(File {
                name: Some(basename(&path)),
                path: Some(path),
                type_id: Some(1),
                r#type: Some("Regular File".to_owned()),
                created_time: created,
                ..File::default()
            }));
            e.actor = Some(Box::new(Actor {
                user: principal.map(Box::new),
                process: p.map(|mut p| {
                    p.user = user.map(Box::new);
                    Box::new(p)
                }),
                ..Actor::default()
            }));
        }
        _ => {
            let p = acting(f);
            e.src_endpoint = e.device.as_ref().map(|d| {
                Box::new(NetworkEndpoint {
                    hostname: d.hostname.clone(),
                    ..NetworkEndpoint::default()
                })
            });
            e.query = Some(Box::new(DnsQuery {
                hostname: f.str(&[ED, "QueryName"]),
                ..DnsQuery::default()
            }));
            let rcode = match f.peek(&[ED, "QueryStatus"]).and_then(super::fields::as_int) {
                Some(0) => Some(0),
                Some(9003) => Some(3),
                Some(9002) => Some(2),
                Some(9005) => Some(5),
                _ => None,
            };
            if rcode.is_some() {
                f.take(&[ED, "QueryStatus"]);
                e.rcode_id = rcode;
            }
            if let Some(results) = f.str(&[ED, "QueryResults"]) {
                let answers: Vec<DnsAnswer> = results
                    .split(';')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(|r| DnsAnswer {
                        rdata: Some(r.to_owned()),
                        ..DnsAnswer::default()
                    })
                    .collect();
                if !answers.is_empty() {
                    e.answers = Some(answers);
                }
            }
            e.actor = Some(Box::new(Actor {
                user: principal.map(Box::new),
                process: p.map(|mut p| {
                    p.user = user.map(Box::new);
                    Box::new(p)
                }),
                ..Actor::default()
            }));
        }
    }
    if e.device.is_none() && matches!(class, Class::ProcessActivity | Class::FileActivity) {
        return Err(EventError::missing("device"));
    }
    Ok(e)
}
