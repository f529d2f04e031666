//! Linux `auth.log` / `secure` lines from `sshd` and `sudo` (syslog, with or
//! without a PRI, BSD or ISO timestamps).
//!
//! sshd accepted/failed logins and disconnects → Authentication (3002);
//! sudo commands and sudo sessions → Authorize Session (3003). The whole
//! message is kept as `message`; what it says is mapped besides.

use crate::events::ocsf::{Class, Event, NetworkEndpoint, Process, Service, Session, Status, User};
use crate::events::{EventError, MapContext};

use super::common::event;
use super::fields::{Fields, View};

const VENDOR: &str = "Linux";
const PRODUCT: &str = "auth.log";

/// Whether a syslog record is an sshd or sudo line this source maps.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    let app = f.peek_str(&["app_name"])?;
    let msg = f.peek_str(&["message"])?;
    match app {
        "sshd" if parse_sshd(msg).is_some() => Some(90),
        "sudo" if parse_sudo(msg).is_some() => Some(90),
        "sshd" | "sudo" => Some(55),
        _ => None,
    }
}

/// What an sshd line says.
struct Sshd<'a> {
    activity: i64,
    success: Option<bool>,
    method: Option<&'a str>,
    user: &'a str,
    invalid_user: bool,
    ip: Option<&'a str>,
    port: Option<i64>,
}

fn from_port(rest: &str) -> (Option<&str>, Option<i64>) {
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("from ").unwrap_or(rest);
    let mut it = rest.split_whitespace();
    let ip = it.next();
    let port = match (it.next(), it.next()) {
        (Some("port"), Some(p)) => p.parse().ok(),
        _ => None,
    };
    (ip, port)
}

fn parse_sshd(msg: &str) -> Option<Sshd<'_>> {
    let msg = msg.trim();
    for (prefix, success) in [("Accepted ", true), ("Failed ", false)] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let (method, rest) = rest.split_once(" for ")?;
            let (invalid_user, rest) = match rest.strip_prefix("invalid user ") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let (user, rest) = rest.split_once(" from ")?;
            let (ip, port) = from_port(rest);
            return Some(Sshd {
                activity: 1,
                success: Some(success),
                method: Some(method),
                user,
                invalid_user,
                ip,
                port,
            });
        }
    }
    if let Some(rest) = msg.strip_prefix("Disconnected from user ") {
        let (user, rest) = rest.split_once(' ')?;
        let (ip, port) = from_port(rest);
        return Some(Sshd {
            activity: 2,
            success: None,
            method: None,
            user,
            invalid_user: false,
            ip,
            port,
        });
    }
    None
}

/// What a sudo line says.
struct Sudo<'a> {
    user: &'a str,
    run_as: Option<&'a str>,
    denied: Option<&'a str>,
    tty: Option<&'a str>,
}

fn parse_sudo(msg: &str) -> Option<Sudo<'_>> {
    let msg = msg.trim();
    if let Some(rest) = msg.strip_prefix("pam_unix(sudo:session): session opened for user ") {
        let (run_as, by) = rest.split_once(" by ")?;
        let run_as = run_as.split('(').next()?;
        let user = by.split('(').next()?.trim();
        return (!user.is_empty()).then_some(Sudo {
            user,
            run_as: Some(run_as),
            denied: None,
            tty: None,
        });
    }
    let (user, rest) = msg.split_once(" : ")?;
    let user = user.trim();
    if user.is_empty() || user.contains(' ') {
        return None;
    }
    let mut out = Sudo {
        user,
        run_as: None,
        denied: None,
        tty: None,
    };
    let mut saw_command = false;
    for part in rest.split(" ; ") {
        match part.split_once('=') {
            Some(("TTY", v)) => out.tty = Some(v),
            Some(("USER", v)) => out.run_as = Some(v),
            Some(("COMMAND", _)) => saw_command = true,
            Some(_) => {}
            None => out.denied = Some(part.trim()),
        }
    }
    saw_command.then_some(out)
}

/// Maps one sshd or sudo line.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    let time = f
        .int(&["timestamp"])
        .ok_or_else(|| EventError::missing("time"))?;
    let app = f
        .str(&["app_name"])
        .ok_or_else(|| EventError::invalid("app_name", "not an sshd or sudo line"))?;
    let message = f
        .str(&["message"])
        .ok_or_else(|| EventError::missing("message"))?;
    let host = f.str(&["hostname"]);
    let mut e = match app.as_str() {
        "sshd" => {
            let s = parse_sshd(&message)
                .ok_or_else(|| EventError::invalid("message", "unrecognized sshd message"))?;
            let mut e = event(Class::Authentication, s.activity, time, VENDOR, PRODUCT);
            match s.success {
                Some(true) => e.set_status(Status::Success),
                Some(false) => {
                    e.set_status(Status::Failure);
                    e.status_detail = Some(if s.invalid_user {
                        "invalid user".to_owned()
                    } else {
                        format!("failed {}", s.method.unwrap_or("authentication"))
                    });
                }
                None => {}
            }
            if let Some(m) = s.method {
                e.auth_protocol_id = Some(99);
                e.auth_protocol = Some(m.to_owned());
            }
            e.user = Some(Box::new(User {
                name: Some(s.user.to_owned()),
                ..User::default()
            }));
            e.src_endpoint = s.ip.map(|ip| {
                Box::new(NetworkEndpoint {
                    ip: Some(ip.to_owned()),
                    port: s.port,
                    ..NetworkEndpoint::default()
                })
            });
            e.dst_endpoint = host.clone().map(|h| {
                Box::new(NetworkEndpoint {
                    hostname: Some(h),
                    ..NetworkEndpoint::default()
                })
            });
            e.service = Some(Box::new(Service {
                name: Some("sshd".to_owned()),
                ..Service::default()
            }));
            e.is_remote = Some(true);
            e.logon_process = Some(Box::new(Process {
                name: Some(app.clone()),
                pid: f.int(&["procid"]),
                ..Process::default()
            }));
            e
        }
        "sudo" => {
            let s = parse_sudo(&message)
                .ok_or_else(|| EventError::invalid("message", "unrecognized sudo message"))?;
            let mut e = event(Class::AuthorizeSession, 1, time, VENDOR, PRODUCT);
            match s.denied {
                Some(reason) => {
                    e.set_status(Status::Failure);
                    e.status_detail = Some(reason.to_owned());
                }
                None => e.set_status(Status::Success),
            }
            e.user = Some(Box::new(User {
                name: Some(s.user.to_owned()),
                ..User::default()
            }));
            e.privileges = s.run_as.map(|r| vec![format!("run as {r}")]);
            e.session = s.tty.map(|t| {
                Box::new(Session {
                    terminal: Some(t.to_owned()),
                    ..Session::default()
                })
            });
            e.dst_endpoint = host.clone().map(|h| {
                Box::new(NetworkEndpoint {
                    hostname: Some(h),
                    ..NetworkEndpoint::default()
                })
            });
            e
        }
        other => {
            return Err(EventError::invalid(
                "app_name",
                format!("`{other}` is not sshd or sudo"),
            ))
        }
    };
    e.message = Some(message);
    if let Some(h) = host {
        e.device = Some(Box::new(crate::events::ocsf::Device {
            hostname: Some(h),
            type_id: Some(0),
            r#type: Some("Unknown".to_owned()),
            ..Default::default()
        }));
    }
    Ok(e)
}
