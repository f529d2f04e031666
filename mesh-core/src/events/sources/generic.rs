//! The best-fitting OCSF class for a generic CEF or LEEF record, and its
//! mapping. Each format names its keys through a [`Dialect`].
//!
//! Class choice, first that fits: a logon (a user, and a name or category
//! about login/authentication) → Authentication (3002); an account
//! lifecycle event (category or name about accounts, with a target user) →
//! Account Change (3001); an attack (severity ≥ 7 of 10, or a name or
//! category about attacks, intrusions, malware…) → Detection Finding
//! (2004); an HTTP request → HTTP Activity (4002); a connection (source and
//! destination) → Network Activity (4001); anything else → Detection Finding.

use crate::events::ocsf::{
    Actor, Analytic, Class, Device, Event, Evidences, File, FindingInfo, HttpRequest, HttpResponse,
    NetworkConnectionInfo, NetworkEndpoint, NetworkTraffic, Product, Status, Url, User,
};
use crate::events::EventError;

use super::common::{direction, email_like, endpoint, event, protocol_num, severity_word};
use super::fields::Fields;
use crate::events::timefmt::{parse_any, parse_mdy};

/// The keys one format uses for common fields.
pub(crate) struct Dialect {
    pub(crate) format: &'static str,
    pub(crate) format_version: &'static str,
    pub(crate) vendor: &'static str,
    pub(crate) product: &'static str,
    pub(crate) version: &'static str,
    pub(crate) event_id: &'static str,
    pub(crate) name: Option<&'static str>,
    pub(crate) severity: &'static str,
    pub(crate) time: &'static [&'static str],
    pub(crate) src: &'static str,
    pub(crate) dst: &'static str,
    pub(crate) sport: &'static str,
    pub(crate) dport: &'static str,
    pub(crate) shost: &'static str,
    pub(crate) dhost: &'static str,
    pub(crate) user: &'static str,
    pub(crate) target_user: &'static str,
    pub(crate) action: &'static str,
    pub(crate) outcome: &'static str,
    pub(crate) category: &'static str,
    pub(crate) message: &'static str,
    pub(crate) url: &'static str,
    pub(crate) method: &'static str,
    pub(crate) user_agent: &'static str,
    pub(crate) http_status: &'static str,
    pub(crate) bytes_in: &'static str,
    pub(crate) bytes_out: &'static str,
    pub(crate) file_name: &'static str,
    pub(crate) device_host: &'static str,
}

fn contains_any(hay: &str, needles: &[&str]) -> bool {
    let h = hay.to_ascii_lowercase();
    needles.iter().any(|n| h.contains(n))
}

/// `severity_id` of a 0–10 score or a word.
fn severity(s: &str) -> Option<i64> {
    match s.trim().parse::<i64>() {
        Ok(n) => Some(match n {
            0..=1 => 1,
            2..=3 => 2,
            4..=6 => 3,
            7..=8 => 4,
            9..=10 => 5,
            _ => return None,
        }),
        Err(_) => match s.trim().to_ascii_lowercase().as_str() {
            "very-high" | "very high" => Some(5),
            "unknown" => Some(0),
            w => severity_word(w),
        },
    }
}

fn pick_class(f: &Fields, d: &Dialect) -> (Class, i64) {
    let text = |k: &str| f.peek_str(&[k]).unwrap_or_default().to_owned();
    let about = format!(
        "{} {} {} {}",
        text(d.event_id),
        d.name.map(text).unwrap_or_default(),
        text(d.category),
        text(d.message)
    );
    let has = |k: &str| f.has(&[k]);
    let score = f
        .peek_str(&[d.severity])
        .and_then(|s| s.trim().parse::<i64>().ok());
    let high_word = f.peek_str(&[d.severity]).is_some_and(|s| {
        matches!(
            s.to_ascii_lowercase().as_str(),
            "high" | "very-high" | "critical"
        )
    });
    if has(d.user)
        && contains_any(
            &about,
            &[
                "login",
                "logon",
                "log on",
                "sign-in",
                "signin",
                "authenticat",
            ],
        )
    {
        return (Class::Authentication, 1);
    }
    if has(d.target_user)
        && contains_any(
            &about,
            &["account", "user created", "usercreated", "user deleted"],
        )
    {
        let activity = match f
            .peek_str(&[d.action])
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("create" | "created" | "add") => 1,
            Some("enable" | "enabled") => 2,
            Some("disable" | "disabled") => 5,
            Some("delete" | "deleted" | "remove") => 6,
            Some("lock" | "locked") => 9,
            Some("unlock" | "unlocked") => 12,
            _ => 99,
        };
        return (Class::AccountChange, activity);
    }
    let attack_words = [
        "attack",
        "intrusion",
        "injection",
        "malware",
        "virus",
        "exploit",
        "scan",
        "brute",
        "trojan",
        "vulnerab",
        "ransom",
    ];
    if score.is_some_and(|s| s >= 7) || high_word || contains_any(&about, &attack_words) {
        return (Class::DetectionFinding, 1);
    }
    if has(d.method) || has(d.url) {
        let activity = match f
            .peek_str(&[d.method])
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("CONNECT") => 1,
            Some("DELETE") => 2,
            Some("GET") => 3,
            Some("HEAD") => 4,
            Some("OPTIONS") => 5,
            Some("POST") => 6,
            Some("PUT") => 7,
            Some("TRACE") => 8,
            Some("PATCH") => 9,
            Some(_) => 99,
            None => 0,
        };
        return (Class::HttpActivity, activity);
    }
    if has(d.src) && has(d.dst) {
        return (Class::NetworkActivity, 6);
    }
    (Class::DetectionFinding, 1)
}

fn time(f: &mut Fields, d: &Dialect) -> Option<i64> {
    for key in d.time {
        if let Some(t) = f
            .peek_str(&[key])
            .and_then(|s| parse_any(s).or_else(|| parse_mdy(s)))
        {
            f.str(&[key]);
            if *key == "devTime" {
                f.str(&["devTimeFormat"]);
            }
            return Some(t);
        }
    }
    f.int(&["syslog", "timestamp"])
}

fn user_of(raw: String) -> User {
    User {
        email_addr: email_like(&raw),
        name: Some(raw),
        ..User::default()
    }
}

/// Maps a generic CEF or LEEF record.
pub(crate) fn map(f: &mut Fields, d: &Dialect) -> Result<Event, EventError> {
    let t = time(f, d).ok_or_else(|| EventError::missing("time"))?;
    let (class, activity) = pick_class(f, d);
    let mut e = event(class, activity, t, "", "");
    let product = Product {
        vendor_name: f.str(&[d.vendor]),
        name: f.str(&[d.product]),
        version: f.str(&[d.version]),
        ..Product::default()
    };
    let event_code = f.str(&[d.event_id]);
    let name = d.name.and_then(|k| f.str(&[k]));
    let meta = e.metadata_mut();
    meta.product = Some(Box::new(product));
    meta.event_code = event_code.clone();
    meta.log_format = Some(d.format.to_owned());
    meta.log_version = f.str(&[d.format_version]);
    if let Some(sev) = f.peek_str(&[d.severity]).and_then(severity) {
        f.str(&[d.severity]);
        e.severity_id = Some(sev);
    }
    let msg = f.str(&[d.message]);
    e.message = msg.clone().or_else(|| name.clone());
    if let Some(host) = f
        .str(&[d.device_host])
        .or_else(|| f.str(&["syslog", "hostname"]))
    {
        e.device = Some(Box::new(Device {
            hostname: Some(host),
            type_id: Some(0),
            r#type: Some("Unknown".to_owned()),
            ..Device::default()
        }));
    }
    let mut src = endpoint(f.str(&[d.src]), f.int(&[d.sport])).unwrap_or_default();
    src.hostname = src.hostname.take().or_else(|| f.str(&[d.shost]));
    src.interface_name = f.str(&["deviceInboundInterface"]);
    let mut dst = endpoint(f.str(&[d.dst]), f.int(&[d.dport])).unwrap_or_default();
    dst.hostname = dst.hostname.take().or_else(|| f.str(&[d.dhost]));
    dst.interface_name = f.str(&["deviceOutboundInterface"]);
    let src = (*src != NetworkEndpoint::default()).then_some(src);
    let dst = (*dst != NetworkEndpoint::default()).then_some(dst);
    let proto = f.str(&["proto"]).map(|p| p.to_ascii_lowercase());
    let conn = proto.map(|p| {
        let (direction_id, dir) = direction(0);
        Box::new(NetworkConnectionInfo {
            protocol_num: protocol_num(&p),
            protocol_name: Some(p),
            direction_id,
            direction: dir,
            ..NetworkConnectionInfo::default()
        })
    });
    let traffic = NetworkTraffic {
        bytes_in: f.int(&[d.bytes_in]),
        bytes_out: f.int(&[d.bytes_out]),
        ..NetworkTraffic::default()
    };
    let traffic = (traffic != NetworkTraffic::default()).then(|| Box::new(traffic));
    let url = f.str(&[d.url]).map(|u| {
        Box::new(Url {
            url_string: Some(u),
            ..Url::default()
        })
    });
    let req = (url.is_some() || f.has(&[d.method]) || f.has(&[d.user_agent])).then(|| {
        Box::new(HttpRequest {
            url: url.clone(),
            http_method: f.str(&[d.method]),
            user_agent: f.str(&[d.user_agent]),
            ..HttpRequest::default()
        })
    });
    if let Some(a) = f.str(&[d.action]) {
        let denied = contains_any(&a, &["block", "deny", "drop", "reset", "reject", "denied"]);
        e.action_id = Some(if denied { 2 } else { 1 });
        e.action = Some(a);
    }
    let user = f.str(&[d.user]).map(user_of);

    match class {
        Class::Authentication => {
            match f
                .peek_str(&[d.outcome])
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("success" | "succeeded" | "allowed") => e.set_status(Status::Success),
                Some("failure" | "failed" | "denied") => e.set_status(Status::Failure),
                _ => {}
            }
            if e.status_id.is_some() {
                f.str(&[d.outcome]);
            }
            e.status_detail = f.str(&["reason"]);
            e.user = user.map(Box::new);
            e.src_endpoint = src;
            e.dst_endpoint = dst;
            if e.dst_endpoint.is_none() {
                e.service = e
                    .metadata
                    .as_ref()
                    .and_then(|m| m.product.as_ref())
                    .and_then(|p| p.name.clone())
                    .map(|n| {
                        Box::new(crate::events::ocsf::Service {
                            name: Some(n),
                            ..Default::default()
                        })
                    });
            }
            e.http_request = req;
        }
        Class::AccountChange => {
            e.user = f.str(&[d.target_user]).map(user_of).map(Box::new);
            e.actor = user.map(|u| {
                Box::new(Actor {
                    user: Some(Box::new(u)),
                    ..Actor::default()
                })
            });
            e.src_endpoint = src;
        }
        Class::HttpActivity | Class::NetworkActivity => {
            e.src_endpoint = src;
            e.dst_endpoint = dst;
            e.connection_info = conn;
            e.traffic = traffic;
            if class == Class::HttpActivity {
                e.http_request = req;
                if let Some(code) = f
                    .peek_str(&[d.http_status])
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    f.str(&[d.http_status]);
                    e.http_status = Some(code);
                    e.http_response = Some(Box::new(HttpResponse {
                        code: Some(code),
                        ..HttpResponse::default()
                    }));
                }
            }
            e.actor = user.map(|u| {
                Box::new(Actor {
                    user: Some(Box::new(u)),
                    ..Actor::default()
                })
            });
        }
        _ => {
            let title = name
                .clone()
                .or_else(|| msg.clone())
                .or_else(|| event_code.clone())
                .ok_or_else(|| EventError::missing("finding_info.title"))?;
            let category = f.str(&[d.category]);
            e.finding_info = Some(Box::new(FindingInfo {
                uid: Some(format!(
                    "{}:{}",
                    t,
                    event_code.clone().unwrap_or_else(|| title.clone())
                )),
                title: Some(title.clone()),
                types: category.map(|c| vec![c]),
                analytic: event_code.map(|uid| {
                    Box::new(Analytic {
                        uid: Some(uid),
                        name: Some(title),
                        type_id: Some(1),
                        r#type: Some("Rule".to_owned()),
                        ..Analytic::default()
                    })
                }),
                ..FindingInfo::default()
            }));
            let file = f.str(&[d.file_name]).map(|n| {
                Box::new(File {
                    name: Some(n),
                    type_id: Some(1),
                    r#type: Some("Regular File".to_owned()),
                    ..File::default()
                })
            });
            e.evidences = Some(vec![Evidences {
                src_endpoint: src,
                dst_endpoint: dst,
                connection_info: conn,
                http_request: req,
                user: user.map(Box::new),
                file,
                ..Evidences::default()
            }]);
        }
    }
    Ok(e)
}
