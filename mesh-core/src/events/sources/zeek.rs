//! Zeek logs written as JSON (`LogAscii::use_json`): `conn.log` → Network
//! Activity (4001), `dns.log` → DNS Activity (4003), `http.log` → HTTP
//! Activity (4002). The log is told by `_path` when present, else by its
//! fields.

use crate::events::ocsf::{
    Class, DnsAnswer, DnsQuery, Event, HttpRequest, HttpResponse, NetworkConnectionInfo,
    NetworkTraffic, Url,
};
use crate::events::{EventError, MapContext};

use super::common::{direction, endpoint, event, protocol_num};
use super::fields::{Fields, View};
use crate::events::timefmt::parse_epoch;

const VENDOR: &str = "Zeek";
const PRODUCT: &str = "Zeek";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Log {
    Conn,
    Dns,
    Http,
}

fn which(f: &View<'_>) -> Option<Log> {
    match f.peek_str(&["_path"]) {
        Some("conn") => return Some(Log::Conn),
        Some("dns") => return Some(Log::Dns),
        Some("http") => return Some(Log::Http),
        Some(_) => return None,
        None => {}
    }
    if f.has(&["method"]) || f.has(&["trans_depth"]) {
        Some(Log::Http)
    } else if f.has(&["query"]) || f.has(&["trans_id"]) || f.has(&["qtype"]) {
        Some(Log::Dns)
    } else if f.has(&["conn_state"]) || f.has(&["history"]) || f.has(&["proto"]) {
        Some(Log::Conn)
    } else {
        None
    }
}

/// Whether a record is a Zeek conn/dns/http log entry, with a confidence.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    if !(f.has(&["ts"]) && f.has(&["uid"]) && f.has(&["id.orig_h"]) && f.has(&["id.resp_h"])) {
        return None;
    }
    which(f).map(|_| 95)
}

fn ts(f: &mut Fields, key: &str) -> Option<i64> {
    let t = match f.peek(&[key])? {
        serde_json::Value::Number(n) => parse_epoch(&n.to_string()),
        serde_json::Value::String(s) => {
            parse_epoch(s).or_else(|| crate::events::timefmt::parse_iso(s))
        }
        _ => None,
    };
    if t.is_some() {
        f.take(&[key]);
    }
    t
}

/// Maps one Zeek log entry.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    let log = which(&f.view())
        .ok_or_else(|| EventError::invalid("_path", "not a conn, dns or http log"))?;
    let time = ts(f, "ts").ok_or_else(|| EventError::missing("time"))?;
    let (class, activity) = match log {
        Log::Conn => {
            let activity = match f.peek_str(&["conn_state"]) {
                Some("REJ") => 5,
                Some("RSTO" | "RSTR" | "RSTOS0" | "RSTRH") => 3,
                Some("SF") => 2,
                Some("S1") => 1,
                _ => 6,
            };
            (Class::NetworkActivity, activity)
        }
        Log::Dns => (
            Class::DnsActivity,
            if f.has(&["rcode"]) || f.has(&["answers"]) {
                2
            } else {
                1
            },
        ),
        Log::Http => {
            let activity = match f
                .peek_str(&["method"])
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
            (Class::HttpActivity, activity)
        }
    };
    let mut e = event(class, activity, time, VENDOR, PRODUCT);
    if activity == 99 {
        e.activity_name = f.peek_str(&["method"]).map(str::to_owned);
    }
    let meta = e.metadata_mut();
    meta.log_name = f.str(&["_path"]).or_else(|| {
        Some(
            match log {
                Log::Conn => "conn",
                Log::Dns => "dns",
                Log::Http => "http",
            }
            .to_owned(),
        )
    });

    e.src_endpoint = endpoint(f.str(&["id.orig_h"]), f.int(&["id.orig_p"]));
    e.dst_endpoint = endpoint(f.str(&["id.resp_h"]), f.int(&["id.resp_p"]));
    let proto = f.str(&["proto"]);
    let dir = match (
        f.peek(&["local_orig"]).and_then(serde_json::Value::as_bool),
        f.peek(&["local_resp"]).and_then(serde_json::Value::as_bool),
    ) {
        (Some(true), Some(false)) => 2,
        (Some(false), Some(true)) => 1,
        (Some(true), Some(true)) => 3,
        _ => 0,
    };
    if dir != 0 {
        f.take(&["local_orig"]);
        f.take(&["local_resp"]);
    }
    let (direction_id, direction) = direction(dir);
    e.connection_info = Some(Box::new(NetworkConnectionInfo {
        direction_id,
        direction,
        uid: f.str(&["uid"]),
        protocol_num: proto.as_deref().and_then(protocol_num),
        protocol_name: proto,
        community_uid: f.str(&["community_id"]),
        flag_history: f.str(&["history"]),
        ..NetworkConnectionInfo::default()
    }));
    match log {
        Log::Conn => {
            e.app_protocol_name = f.str(&["service"]);
            e.status_code = f.str(&["conn_state"]);
            e.duration = f.float(&["duration"]).map(|d| (d * 1000.0).round() as i64);
            let traffic = NetworkTraffic {
                bytes_out: f.int(&["orig_bytes"]),
                bytes_in: f.int(&["resp_bytes"]),
                packets_out: f.int(&["orig_pkts"]),
                packets_in: f.int(&["resp_pkts"]),
                bytes_missed: f.int(&["missed_bytes"]),
                ..NetworkTraffic::default()
            };
            if traffic != NetworkTraffic::default() {
                e.traffic = Some(Box::new(traffic));
            }
        }
        Log::Dns => {
            e.query = Some(Box::new(DnsQuery {
                hostname: f.str(&["query"]),
                r#type: f.str(&["qtype_name"]),
                class: f.str(&["qclass_name"]),
                packet_uid: f.int(&["trans_id"]),
                ..DnsQuery::default()
            }));
            e.rcode_id = f.int(&["rcode"]).filter(|c| (0..=23).contains(c));
            if e.rcode_id.is_some() {
                f.str(&["rcode_name"]);
            }
            let answers = f.strings(&["answers"]);
            if let Some(answers) = answers {
                let ttls: Vec<Option<i64>> = match f.take(&["TTLs"]) {
                    Some(serde_json::Value::Array(t)) => t
                        .iter()
                        .map(|v| v.as_f64().map(|s| s.round() as i64))
                        .collect(),
                    _ => Vec::new(),
                };
                let mut flags = Vec::new();
                for (key, id, caption) in [
                    ("AA", 1, "Authoritative Answer"),
                    ("TC", 2, "Truncated Response"),
                    ("RD", 3, "Recursion Desired"),
                    ("RA", 4, "Recursion Available"),
                ] {
                    if f.bool(&[key]) == Some(true) {
                        flags.push((id, caption));
                    }
                }
                e.answers = Some(
                    answers
                        .into_iter()
                        .enumerate()
                        .map(|(i, rdata)| DnsAnswer {
                            rdata: Some(rdata),
                            ttl: ttls.get(i).copied().flatten(),
                            flag_ids: (!flags.is_empty())
                                .then(|| flags.iter().map(|f| f.0).collect()),
                            flags: (!flags.is_empty())
                                .then(|| flags.iter().map(|f| f.1.to_owned()).collect()),
                            ..DnsAnswer::default()
                        })
                        .collect(),
                );
            }
        }
        Log::Http => {
            let uri = f.str(&["uri"]);
            let (path, query) = match uri.as_deref().map(|u| u.split_once('?')) {
                Some(Some((p, q))) => (Some(p.to_owned()), Some(q.to_owned())),
                Some(None) => (uri.clone(), None),
                None => (None, None),
            };
            let host = f.str(&["host"]);
            let url = Url {
                url_string: match (&host, &uri) {
                    (Some(h), Some(u)) => Some(format!("http://{h}{u}")),
                    _ => None,
                },
                hostname: host,
                path,
                query_string: query,
                ..Url::default()
            };
            e.http_request = Some(Box::new(HttpRequest {
                http_method: f.str(&["method"]),
                url: Some(Box::new(url)),
                user_agent: f.str(&["user_agent"]),
                version: f.str(&["version"]),
                referrer: f.str(&["referrer"]),
                length: f.int(&["request_body_len"]),
                ..HttpRequest::default()
            }));
            // A response is only known with its status code.
            if let Some(code) = f.int(&["status_code"]) {
                e.http_status = Some(code);
                e.http_response = Some(Box::new(HttpResponse {
                    code: Some(code),
                    message: f.str(&["status_msg"]),
                    length: f.int(&["response_body_len"]),
                    ..HttpResponse::default()
                }));
            }
        }
    }
    Ok(e)
}
