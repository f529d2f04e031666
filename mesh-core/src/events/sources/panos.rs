//! Palo Alto Networks PAN-OS syslog: the comma-separated TRAFFIC and THREAT
//! logs, after a syslog header (or bare, as exported). TRAFFIC → Network
//! Activity (4001); THREAT → Detection Finding (2004).
//!
//! Fields are named after their PAN-OS syslog field names (`src`, `rule`,
//! `sessionid`…), positionally; unmapped ones keep those names, and fields
//! past the known list are named `field_N` (N from 0).

use serde_json::{Map, Value};

use crate::events::format::Format;
use crate::events::ocsf::{
    Actor, Analytic, Class, Device, Event, Evidences, File, FindingInfo, NetworkConnectionInfo,
    NetworkTraffic, Url, User,
};
use crate::events::{EventError, MapContext, Record};

use super::common::{direction, endpoint, event, protocol_num, severity_word};
use super::fields::{Fields, View};
use crate::events::timefmt::parse_iso;

const VENDOR: &str = "Palo Alto Networks";
const PRODUCT: &str = "PAN-OS";

/// Most CSV fields read from one record.
const MAX_FIELDS: usize = 512;

const COMMON: &[&str] = &[
    "future_use_0",
    "receive_time",
    "serial",
    "type",
    "subtype",
    "future_use_5",
    "time_generated",
    "src",
    "dst",
    "natsrc",
    "natdst",
    "rule",
    "srcuser",
    "dstuser",
    "app",
    "vsys",
    "from",
    "to",
    "inbound_if",
    "outbound_if",
    "logset",
    "future_use_21",
    "sessionid",
    "repeatcnt",
    "sport",
    "dport",
    "natsport",
    "natdport",
    "flags",
    "proto",
    "action",
];

const TRAFFIC: &[&str] = &[
    "bytes",
    "bytes_sent",
    "bytes_received",
    "packets",
    "start",
    "elapsed",
    "category",
    "future_use_38",
    "seqno",
    "actionflags",
    "srcloc",
    "dstloc",
    "future_use_43",
    "pkts_sent",
    "pkts_received",
    "session_end_reason",
    "dg_hier_level_1",
    "dg_hier_level_2",
    "dg_hier_level_3",
    "dg_hier_level_4",
    "vsys_name",
    "device_name",
    "action_source",
    "src_uuid",
    "dst_uuid",
    "tunnelid",
    "monitortag",
    "parent_session_id",
    "parent_start_time",
    "tunnel",
    "assoc_id",
    "chunks",
    "chunks_sent",
    "chunks_received",
    "rule_uuid",
    "http2_connection",
];

const THREAT: &[&str] = &[
    "misc",
    "threatid",
    "category",
    "severity",
    "direction",
    "seqno",
    "actionflags",
    "srcloc",
    "dstloc",
    "future_use_40",
    "contenttype",
    "pcap_id",
    "filedigest",
    "cloud",
    "url_idx",
    "user_agent",
    "filetype",
    "xff",
    "referer",
    "sender",
    "subject",
    "recipient",
    "reportid",
    "dg_hier_level_1",
    "dg_hier_level_2",
    "dg_hier_level_3",
    "dg_hier_level_4",
    "vsys_name",
    "device_name",
    "future_use_61",
    "src_uuid",
    "dst_uuid",
    "http_method",
    "tunnel_id",
    "monitortag",
    "parent_session_id",
    "parent_start_time",
    "tunnel",
    "thr_category",
    "contentver",
    "future_use_72",
    "assoc_id",
    "ppid",
    "http_headers",
    "url_category_list",
    "rule_uuid",
    "http2_connection",
    "dynusergroup_name",
];

/// Splits one CSV line (fields optionally double-quoted, `""` inside quotes).
fn split_csv(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            ',' => {
                out.push(std::mem::take(&mut cur));
                if out.len() >= MAX_FIELDS {
                    return None;
                }
                at_start = true;
            }
            c => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}

/// The log type of a CSV message, if it is a PAN-OS TRAFFIC or THREAT log.
fn log_type(msg: &str) -> Option<&str> {
    let mut it = msg.splitn(5, ',');
    let _future = it.next()?;
    let received = it.next()?;
    let _serial = it.next()?;
    let kind = it.next()?;
    (parse_iso(received).is_some() && matches!(kind, "TRAFFIC" | "THREAT")).then_some(kind)
}

/// Whether a syslog record carries a PAN-OS TRAFFIC or THREAT log.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    f.peek_str(&["message"]).and_then(log_type).map(|_| 95)
}

/// Parses syslog; a bare CSV line (an export) becomes a record of its own.
pub(crate) fn parse(raw: &[u8], ctx: &MapContext) -> Result<Record, EventError> {
    match Format::Syslog.parse(raw, ctx.now, &ctx.limits) {
        Ok(r) => Ok(r),
        Err(e) => {
            let text = std::str::from_utf8(raw).map_err(|_| e.clone().into_event_error(raw))?;
            let line = text.trim_end_matches(['\r', '\n']);
            if raw.len() <= ctx.limits.max_record_bytes && log_type(line).is_some() {
                let mut m = Map::new();
                m.insert("message".into(), Value::String(line.to_owned()));
                Ok(Record::new(m))
            } else {
                Err(e.into_event_error(raw))
            }
        }
    }
}

fn ts(f: &mut Fields, key: &str) -> Option<i64> {
    let t = f.peek_str(&[key]).and_then(parse_iso)?;
    f.str(&[key]);
    Some(t)
}

fn location(country: Option<String>) -> Option<Box<crate::events::ocsf::Location>> {
    country.map(|c| {
        Box::new(crate::events::ocsf::Location {
            country: Some(c),
            ..Default::default()
        })
    })
}

/// Country names only: PAN-OS writes address ranges for private space.
fn country(f: &mut Fields, key: &str) -> Option<String> {
    let c = f.peek_str(&[key])?;
    if c.chars().any(|ch| ch.is_ascii_digit()) {
        return None;
    }
    f.str(&[key])
}

/// Maps one TRAFFIC or THREAT log.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    let msg = f
        .str(&["message"])
        .ok_or_else(|| EventError::missing("message"))?;
    let values = split_csv(&msg).ok_or_else(|| EventError::invalid("message", "malformed csv"))?;
    let kind = values.get(3).cloned().unwrap_or_default();
    let names: Vec<&str> = match kind.as_str() {
        "TRAFFIC" => COMMON.iter().chain(TRAFFIC).copied().collect(),
        "THREAT" => COMMON.iter().chain(THREAT).copied().collect(),
        other => {
            return Err(EventError::invalid(
                "message",
                format!("`{other}` is not a TRAFFIC or THREAT log"),
            ))
        }
    };
    // The CSV fields join the record, named; empty fields hold no value.
    // What is left of the syslog header moves under `syslog`.
    let mut rec = Fields::new(Record::new(Map::new()));
    std::mem::swap(f, &mut rec);
    let header = rec.into_record().into_fields();
    let mut fields = Map::new();
    if !header.is_empty() {
        fields.insert("syslog".into(), Value::Object(header));
    }
    for (i, v) in values.into_iter().enumerate() {
        if v.is_empty() {
            continue;
        }
        let key = names
            .get(i)
            .map_or_else(|| format!("field_{i}"), |n| (*n).to_owned());
        fields.insert(key, Value::String(v));
    }
    *f = Fields::new(Record::new(fields));

    let time = ts(f, "time_generated")
        .or_else(|| f.int(&["syslog", "timestamp"]))
        .or_else(|| ts(f, "receive_time"))
        .ok_or_else(|| EventError::missing("time"))?;
    let threat = kind == "THREAT";
    let subtype = f.str(&["subtype"]);
    let action = f.str(&["action"]);
    let allowed = matches!(action.as_deref(), Some("allow" | "alert"));
    let mut e = if threat {
        event(Class::DetectionFinding, 1, time, VENDOR, PRODUCT)
    } else {
        let activity = match subtype.as_deref() {
            Some("start") => 1,
            Some("end") => 2,
            Some("drop" | "deny") => 5,
            _ => 6,
        };
        event(Class::NetworkActivity, activity, time, VENDOR, PRODUCT)
    };
    f.str(&["type"]);
    let meta = e.metadata_mut();
    meta.log_name = Some(kind.clone());
    meta.uid = f.str(&["seqno"]);
    meta.logged_time = ts(f, "receive_time");
    if let Some(a) = action {
        e.action_id = Some(if allowed { 1 } else { 2 });
        e.action = Some(a);
    }
    e.device = Some(Box::new(Device {
        hostname: f
            .str(&["device_name"])
            .or_else(|| f.str(&["syslog", "hostname"])),
        uid: f.str(&["serial"]),
        type_id: Some(9),
        r#type: Some("Firewall".to_owned()),
        ..Device::default()
    }));
    let mut src = endpoint(f.str(&["src"]), f.int(&["sport"])).unwrap_or_default();
    src.zone = f.str(&["from"]);
    src.interface_name = f.str(&["inbound_if"]);
    src.location = location(country(f, "srcloc"));
    let mut dst = endpoint(f.str(&["dst"]), f.int(&["dport"])).unwrap_or_default();
    dst.zone = f.str(&["to"]);
    dst.interface_name = f.str(&["outbound_if"]);
    dst.location = location(country(f, "dstloc"));
    let proto = f.str(&["proto"]);
    let (direction_id, dir) = direction(0);
    let conn = NetworkConnectionInfo {
        uid: f.str(&["sessionid"]),
        protocol_num: proto.as_deref().and_then(protocol_num),
        protocol_name: proto,
        direction_id,
        direction: dir,
        ..NetworkConnectionInfo::default()
    };
    let user = f.str(&["srcuser"]).map(|u| User {
        name: Some(u),
        ..User::default()
    });
    if let Some(u) = f.str(&["dstuser"]) {
        dst.owner = Some(Box::new(User {
            name: Some(u),
            ..User::default()
        }));
    }
    if let Some(rule) = f.str(&["rule"]) {
        let mut r = Map::new();
        r.insert("name".into(), Value::String(rule));
        if let Some(uuid) = f.str(&["rule_uuid"]) {
            r.insert("uid".into(), Value::String(uuid));
        }
        e.firewall_rule = Some(Value::Object(r));
    }

    if threat {
        let threat_name = f
            .str(&["threatid"])
            .ok_or_else(|| EventError::missing("finding_info.title"))?;
        let (name, id) = match threat_name.rsplit_once('(') {
            Some((n, rest)) if rest.ends_with(')') => (
                n.trim().to_owned(),
                Some(rest.trim_end_matches(')').to_owned()),
            ),
            _ => (threat_name.clone(), None),
        };
        if let Some(sev) = f.peek_str(&["severity"]).and_then(severity_word) {
            f.str(&["severity"]);
            e.severity_id = Some(sev);
        }
        let seq = e.metadata.as_ref().and_then(|m| m.uid.clone());
        let serial = e.device.as_ref().and_then(|d| d.uid.clone());
        e.finding_info = Some(Box::new(FindingInfo {
            uid: Some(match (serial, seq) {
                (Some(s), Some(q)) => format!("{s}:{q}"),
                (_, Some(q)) => q,
                _ => format!("{time}:{threat_name}"),
            }),
            title: Some(threat_name),
            types: subtype.map(|s| vec![s]),
            analytic: Some(Box::new(Analytic {
                uid: id,
                name: Some(name),
                category: f.str(&["thr_category"]),
                type_id: Some(1),
                r#type: Some("Rule".to_owned()),
                ..Analytic::default()
            })),
            ..FindingInfo::default()
        }));
        let misc = f.str(&["misc"]);
        let is_url = e
            .finding_info
            .as_ref()
            .and_then(|fi| fi.types.as_ref())
            .is_some_and(|t| t.iter().any(|s| s == "url"));
        let mut ev = Evidences {
            src_endpoint: Some(src),
            dst_endpoint: Some(dst),
            connection_info: Some(Box::new(conn)),
            ..Evidences::default()
        };
        match misc {
            Some(m) if is_url => {
                ev.url = Some(Box::new(Url {
                    url_string: Some(m),
                    ..Url::default()
                }));
            }
            Some(m) => {
                ev.file = Some(Box::new(File {
                    name: Some(m),
                    type_id: Some(1),
                    r#type: Some("Regular File".to_owned()),
                    ..File::default()
                }));
            }
            None => {}
        }
        if let Some(u) = user {
            ev.user = Some(Box::new(u));
        }
        e.evidences = Some(vec![ev]);
    } else {
        e.app_name = f.str(&["app"]);
        e.status_detail = f.str(&["session_end_reason"]);
        e.start_time = ts(f, "start");
        e.duration = f.int(&["elapsed"]).map(|s| s.saturating_mul(1000));
        e.traffic = Some(Box::new(NetworkTraffic {
            bytes: f.int(&["bytes"]),
            bytes_out: f.int(&["bytes_sent"]),
            bytes_in: f.int(&["bytes_received"]),
            packets: f.int(&["packets"]),
            packets_out: f.int(&["pkts_sent"]),
            packets_in: f.int(&["pkts_received"]),
            ..NetworkTraffic::default()
        }));
        e.src_endpoint = Some(src);
        e.dst_endpoint = Some(dst);
        e.connection_info = Some(Box::new(conn));
        if let Some(u) = user {
            e.actor = Some(Box::new(Actor {
                user: Some(Box::new(u)),
                ..Actor::default()
            }));
        }
    }
    Ok(e)
}
