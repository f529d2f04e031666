//! Fortinet FortiGate key=value logs, bare or after a syslog PRI/header:
//! `type=traffic` → Network Activity (4001); `type=utm` (ips, virus,
//! webfilter, app-ctrl…) → Detection Finding (2004).

use serde_json::{Map, Value};

use crate::events::format::parse_kv;
use crate::events::ocsf::{
    Actor, Analytic, Class, Device, Event, Evidences, File, FindingInfo, Group,
    NetworkConnectionInfo, NetworkEndpoint, NetworkTraffic, Url, User,
};
use crate::events::{EventError, MapContext, Record};

use super::common::{direction, endpoint, event, fingerprints, protocol_name, severity_word};
use super::fields::{Fields, View};
use crate::events::timefmt::{civil_ms, parse_epoch, parse_iso};

const VENDOR: &str = "Fortinet";
const PRODUCT: &str = "FortiGate";

/// Whether a key=value record is a FortiGate log this source maps.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    if !(f.has(&["devid"]) && f.has(&["logid"]) && f.has(&["type"])) {
        return None;
    }
    Some(match f.peek_str(&["type"]) {
        Some("traffic" | "utm") => 95,
        _ => 55,
    })
}

/// Whether a syslog record's message is a FortiGate key=value log.
pub(crate) fn detect_syslog(f: &View<'_>) -> Option<u8> {
    let msg = f.peek_str(&["message"])?;
    let rec = parse_kv(msg.as_bytes()).ok()?;
    detect(&View(rec.fields()))
}

/// Parses the key=value pairs of the message of a syslog record; the rest of
/// the header moves under `syslog`.
fn unwrap_syslog(f: &mut Fields) -> Result<(), EventError> {
    let Some(msg) = f.peek_str(&["message"]).map(str::to_owned) else {
        return Ok(());
    };
    if f.has(&["devid"]) {
        return Ok(());
    }
    let inner = parse_kv(msg.as_bytes()).map_err(|e| e.into_event_error(msg.as_bytes()))?;
    f.str(&["message"]);
    let mut rec = Fields::new(Record::new(Map::new()));
    std::mem::swap(f, &mut rec);
    let header = rec.into_record().into_fields();
    let mut fields = inner.into_fields();
    if !header.is_empty() {
        fields.insert("syslog".into(), Value::Object(header));
    }
    *f = Fields::new(Record::new(fields));
    Ok(())
}

fn time(f: &mut Fields) -> Option<i64> {
    if let Some(t) = f.peek_str(&["eventtime"]).and_then(parse_epoch) {
        f.str(&["eventtime"]);
        return Some(t);
    }
    let date = f.peek_str(&["date"])?;
    let clock = f.peek_str(&["time"])?;
    let tz = f.peek_str(&["tz"]).unwrap_or("+0000");
    let t = parse_iso(&format!("{date}T{clock}{tz}")).or_else(|| {
        let mut d = date.split('-').filter_map(|p| p.parse::<i64>().ok());
        let mut c = clock.split(':').filter_map(|p| p.parse::<i64>().ok());
        civil_ms(
            d.next()?,
            d.next()?,
            d.next()?,
            c.next()?,
            c.next()?,
            c.next()?,
            0,
        )
    })?;
    f.str(&["date"]);
    f.str(&["time"]);
    Some(t)
}

fn country(f: &mut Fields, key: &str) -> Option<Box<crate::events::ocsf::Location>> {
    if f.peek_str(&[key]) == Some("Reserved") {
        return None;
    }
    f.str(&[key]).map(|c| {
        Box::new(crate::events::ocsf::Location {
            country: Some(c),
            ..Default::default()
        })
    })
}

fn side(f: &mut Fields, prefix: &str) -> Option<Box<NetworkEndpoint>> {
    let mut ep = endpoint(
        f.str(&[&format!("{prefix}ip")]),
        f.int(&[&format!("{prefix}port")]),
    )
    .unwrap_or_default();
    ep.interface_name = f.str(&[&format!("{prefix}intf")]);
    ep.location = country(f, &format!("{prefix}country"));
    (*ep != NetworkEndpoint::default()).then_some(ep)
}

/// Maps one FortiGate log (bare key=value or inside syslog).
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    unwrap_syslog(f)?;
    let time = time(f).ok_or_else(|| EventError::missing("time"))?;
    let kind = f
        .str(&["type"])
        .ok_or_else(|| EventError::missing("type"))?;
    let subtype = f.str(&["subtype"]);
    let action = f.str(&["action"]);
    let denied = matches!(
        action.as_deref(),
        Some("deny" | "dropped" | "blocked" | "reset" | "block" | "drop")
    );
    let mut e = match kind.as_str() {
        "traffic" => {
            let activity = match action.as_deref() {
                Some("deny") => 5,
                Some("close" | "timeout") => 2,
                Some("server-rst" | "client-rst") => 3,
                Some("start") => 1,
                _ => 6,
            };
            event(Class::NetworkActivity, activity, time, VENDOR, PRODUCT)
        }
        "utm" => event(Class::DetectionFinding, 1, time, VENDOR, PRODUCT),
        other => {
            return Err(EventError::invalid(
                "type",
                format!("fortigate log type `{other}` is not supported"),
            ))
        }
    };
    let meta = e.metadata_mut();
    meta.event_code = f.str(&["logid"]);
    meta.log_name = Some(match &subtype {
        Some(s) => format!("{kind}/{s}"),
        None => kind.clone(),
    });
    e.device = Some(Box::new(Device {
        hostname: f.str(&["devname"]),
        uid: f.str(&["devid"]),
        type_id: Some(9),
        r#type: Some("Firewall".to_owned()),
        ..Device::default()
    }));
    if let Some(a) = action {
        e.action_id = Some(if denied { 2 } else { 1 });
        e.action = Some(a);
    }
    let level = f
        .peek_str(&["severity"])
        .or(f.peek_str(&["level"]))
        .and_then(severity_word);
    if let Some(sev) = level {
        if f.peek_str(&["severity"]).and_then(severity_word).is_some() {
            f.str(&["severity"]);
        } else {
            f.str(&["level"]);
        }
        e.severity_id = Some(sev);
    }
    let src = side(f, "src");
    let dst = side(f, "dst");
    let proto = f.int(&["proto"]);
    let (direction_id, dir) = direction(0);
    let conn = NetworkConnectionInfo {
        uid: f.str(&["sessionid"]),
        protocol_num: proto,
        protocol_name: proto.and_then(protocol_name).map(str::to_owned),
        direction_id,
        direction: dir,
        ..NetworkConnectionInfo::default()
    };
    let user = f.str(&["user"]).map(|name| User {
        name: Some(name),
        groups: f.str(&["group"]).map(|g| {
            vec![Group {
                name: Some(g),
                ..Group::default()
            }]
        }),
        ..User::default()
    });
    if let Some(id) = f.str(&["policyid"]) {
        let mut r = Map::new();
        r.insert("uid".into(), Value::String(id));
        if let Some(n) = f.str(&["policyname"]) {
            r.insert("name".into(), Value::String(n));
        }
        e.firewall_rule = Some(Value::Object(r));
    }

    if kind == "traffic" {
        e.src_endpoint = src;
        e.dst_endpoint = dst;
        if let (Some(d), Some(svc)) = (e.dst_endpoint.as_mut(), f.str(&["service"])) {
            d.svc_name = Some(svc);
        }
        e.connection_info = Some(Box::new(conn));
        e.duration = f.int(&["duration"]).map(|s| s.saturating_mul(1000));
        let traffic = NetworkTraffic {
            bytes_out: f.int(&["sentbyte"]),
            bytes_in: f.int(&["rcvdbyte"]),
            packets_out: f.int(&["sentpkt"]),
            packets_in: f.int(&["rcvdpkt"]),
            ..NetworkTraffic::default()
        };
        if traffic != NetworkTraffic::default() {
            e.traffic = Some(Box::new(traffic));
        }
        if let Some(u) = user {
            e.actor = Some(Box::new(Actor {
                user: Some(Box::new(u)),
                ..Actor::default()
            }));
        }
    } else {
        let title = f
            .str(&["attack"])
            .or_else(|| f.str(&["virus"]))
            .or_else(|| f.str(&["msg"]))
            .ok_or_else(|| EventError::missing("finding_info.title"))?;
        let rule_id = f.str(&["attackid"]).or_else(|| f.str(&["virusid"]));
        let uid = f
            .str(&["incidentserialno"])
            .or_else(|| {
                let dev = e.device.as_ref().and_then(|d| d.uid.clone())?;
                let sid = conn.uid.clone()?;
                Some(format!("{dev}:{sid}:{time}"))
            })
            .unwrap_or_else(|| format!("{time}:{title}"));
        e.finding_info = Some(Box::new(FindingInfo {
            uid: Some(uid),
            title: Some(title.clone()),
            desc: f.str(&["msg"]),
            src_url: f.str(&["ref"]),
            types: subtype.map(|s| vec![s]),
            analytic: Some(Box::new(Analytic {
                uid: rule_id,
                name: Some(title),
                type_id: Some(1),
                r#type: Some("Rule".to_owned()),
                ..Analytic::default()
            })),
            ..FindingInfo::default()
        }));
        let mut ev = Evidences {
            src_endpoint: src,
            dst_endpoint: dst,
            connection_info: Some(Box::new(conn)),
            user: user.map(Box::new),
            ..Evidences::default()
        };
        if let Some(name) = f.str(&["filename"]) {
            let mut file = File {
                name: Some(name),
                type_id: Some(1),
                r#type: Some("Regular File".to_owned()),
                ..File::default()
            };
            if let Some(h) = f.peek_str(&["analyticscksum"]) {
                let hashes = fingerprints(h);
                if !hashes.is_empty() {
                    f.str(&["analyticscksum"]);
                    file.hashes = Some(hashes);
                }
            }
            ev.file = Some(Box::new(file));
        }
        if let Some(url) = f.str(&["url"]) {
            ev.url = Some(Box::new(Url {
                url_string: Some(url),
                ..Url::default()
            }));
        }
        e.evidences = Some(vec![ev]);
    }
    Ok(e)
}
