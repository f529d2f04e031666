//! Suricata EVE JSON: `alert` → Detection Finding (2004), `flow` → Network
//! Activity (4001), `dns` → DNS Activity (4003), `http` → HTTP Activity
//! (4002). An alert's network context is its evidence.

use serde_json::Value;

use crate::events::ocsf::{
    Analytic, Class, DnsAnswer, DnsQuery, Event, Evidences, FindingInfo, HttpRequest, HttpResponse,
    NetworkConnectionInfo, NetworkEndpoint, NetworkTraffic, Url,
};
use crate::events::{EventError, MapContext};

use super::common::{direction, endpoint, event, protocol_num};
use super::fields::{Fields, View};
use crate::events::timefmt::parse_iso;

const VENDOR: &str = "OISF";
const PRODUCT: &str = "Suricata";

/// Whether a record is a Suricata EVE event this source maps, with a confidence.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    let t = f.peek_str(&["event_type"])?;
    if !(f.has(&["timestamp"]) && (f.has(&["flow_id"]) || f.has(&["src_ip"]))) {
        return None;
    }
    Some(if matches!(t, "alert" | "flow" | "dns" | "http") {
        96
    } else {
        55
    })
}

fn endpoints(f: &mut Fields) -> (Option<Box<NetworkEndpoint>>, Option<Box<NetworkEndpoint>>) {
    let mut src = endpoint(f.str(&["src_ip"]), f.int(&["src_port"]));
    if let (Some(ep), Some(iface)) = (src.as_mut(), f.str(&["in_iface"])) {
        ep.interface_name = Some(iface);
    }
    (src, endpoint(f.str(&["dest_ip"]), f.int(&["dest_port"])))
}

fn connection(f: &mut Fields) -> Box<NetworkConnectionInfo> {
    let proto = f.str(&["proto"]).map(|p| p.to_ascii_lowercase());
    let (direction_id, direction) = direction(0);
    Box::new(NetworkConnectionInfo {
        direction_id,
        direction,
        uid: f.str(&["flow_id"]),
        protocol_num: proto.as_deref().and_then(protocol_num),
        protocol_name: proto,
        community_uid: f.str(&["community_id"]),
        ..NetworkConnectionInfo::default()
    })
}

fn http(f: &mut Fields) -> (Option<Box<HttpRequest>>, Option<Box<HttpResponse>>) {
    if !f.has(&["http"]) {
        return (None, None);
    }
    let url = f.str(&["http", "url"]);
    let (path, query) = match url.as_deref().map(|u| u.split_once('?')) {
        Some(Some((p, q))) => (Some(p.to_owned()), Some(q.to_owned())),
        Some(None) => (url.clone(), None),
        None => (None, None),
    };
    let host = f.str(&["http", "hostname"]);
    let req = HttpRequest {
        url: Some(Box::new(Url {
            url_string: match (&host, &url) {
                (Some(h), Some(u)) => Some(format!("http://{h}{u}")),
                _ => None,
            },
            hostname: host,
            path,
            query_string: query,
            ..Url::default()
        })),
        http_method: f.str(&["http", "http_method"]),
        user_agent: f.str(&["http", "http_user_agent"]),
        referrer: f.str(&["http", "http_refer"]),
        version: f.str(&["http", "protocol"]),
        ..HttpRequest::default()
    };
    let resp = f.int(&["http", "status"]).map(|code| {
        Box::new(HttpResponse {
            code: Some(code),
            content_type: f.str(&["http", "http_content_type"]),
            length: f.int(&["http", "length"]),
            ..HttpResponse::default()
        })
    });
    (Some(Box::new(req)), resp)
}

/// Maps one EVE event.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    let time = f
        .peek_str(&["timestamp"])
        .and_then(parse_iso)
        .ok_or_else(|| EventError::missing("time"))?;
    f.str(&["timestamp"]);
    let kind = f
        .str(&["event_type"])
        .ok_or_else(|| EventError::missing("metadata.event_code"))?;
    let mut e = match kind.as_str() {
        "alert" => alert(f, time)?,
        "flow" => {
            let closed = f.peek_str(&["flow", "state"]) == Some("closed");
            let mut e = event(
                Class::NetworkActivity,
                if closed { 2 } else { 6 },
                time,
                VENDOR,
                PRODUCT,
            );
            (e.src_endpoint, e.dst_endpoint) = endpoints(f);
            let mut c = connection(f);
            if let Some(flags) = f
                .peek_str(&["tcp", "tcp_flags"])
                .and_then(|h| i64::from_str_radix(h, 16).ok())
            {
                f.str(&["tcp", "tcp_flags"]);
                c.tcp_flags = Some(flags);
            }
            e.connection_info = Some(c);
            e.app_protocol_name = f.str(&["app_proto"]);
            e.traffic = Some(Box::new(NetworkTraffic {
                packets_out: f.int(&["flow", "pkts_toserver"]),
                packets_in: f.int(&["flow", "pkts_toclient"]),
                bytes_out: f.int(&["flow", "bytes_toserver"]),
                bytes_in: f.int(&["flow", "bytes_toclient"]),
                ..NetworkTraffic::default()
            }));
            for (key, slot) in [("start", &mut e.start_time), ("end", &mut e.end_time)] {
                if let Some(t) = f.peek_str(&["flow", key]).and_then(parse_iso) {
                    f.str(&["flow", key]);
                    *slot = Some(t);
                }
            }
            e.duration = f.int(&["flow", "age"]).map(|s| s.saturating_mul(1000));
            e.status_detail = f.str(&["flow", "reason"]);
            e.is_alert = f.bool(&["flow", "alerted"]);
            e
        }
        "dns" => {
            let answer = f.peek_str(&["dns", "type"]) == Some("answer");
            let mut e = event(
                Class::DnsActivity,
                if answer { 2 } else { 1 },
                time,
                VENDOR,
                PRODUCT,
            );
            (e.src_endpoint, e.dst_endpoint) = endpoints(f);
            e.connection_info = Some(connection(f));
            f.str(&["dns", "type"]);
            let rrname = f.str(&["dns", "rrname"]);
            let opcode = f.peek(&["dns", "opcode"]).and_then(super::fields::as_int);
            let opcode = match opcode {
                Some(0) => Some((0, "Query")),
                Some(1) => Some((1, "Inverse Query")),
                Some(2) => Some((2, "Status")),
                Some(4) => Some((4, "Notify")),
                Some(5) => Some((5, "Update")),
                _ => None,
            };
            if opcode.is_some() {
                f.take(&["dns", "opcode"]);
            }
            e.query = Some(Box::new(DnsQuery {
                hostname: rrname.clone(),
                r#type: f.str(&["dns", "rrtype"]),
                packet_uid: f.int(&["dns", "id"]),
                opcode_id: opcode.map(|o| o.0),
                opcode: opcode.map(|o| o.1.to_owned()),
                ..DnsQuery::default()
            }));
            let rcode = f.peek_str(&["dns", "rcode"]).and_then(|r| match r {
                "NOERROR" => Some(0),
                "FORMERR" => Some(1),
                "SERVFAIL" => Some(2),
                "NXDOMAIN" => Some(3),
                "NOTIMP" => Some(4),
                "REFUSED" => Some(5),
                _ => None,
            });
            if rcode.is_some() {
                f.str(&["dns", "rcode"]);
                e.rcode_id = rcode;
            }
            // Answers map only when each is for the queried name (CNAME
            // chains keep their owner names in `unmapped`).
            if let Some(Value::Array(items)) = f.peek(&["dns", "answers"]) {
                let mapped: Option<Vec<DnsAnswer>> = items
                    .iter()
                    .map(|a| {
                        let o = a.as_object()?;
                        if o.keys()
                            .any(|k| !matches!(k.as_str(), "rrname" | "rrtype" | "ttl" | "rdata"))
                        {
                            return None;
                        }
                        if o.get("rrname").and_then(Value::as_str) != rrname.as_deref() {
                            return None;
                        }
                        Some(DnsAnswer {
                            r#type: o.get("rrtype").and_then(Value::as_str).map(str::to_owned),
                            ttl: o.get("ttl").and_then(Value::as_i64),
                            rdata: o.get("rdata").and_then(Value::as_str).map(str::to_owned),
                            ..DnsAnswer::default()
                        })
                    })
                    .collect();
                if let Some(answers) = mapped.filter(|a| !a.is_empty()) {
                    f.take(&["dns", "answers"]);
                    e.answers = Some(answers);
                }
            }
            e
        }
        "http" => {
            let mut e = event(Class::HttpActivity, 0, time, VENDOR, PRODUCT);
            (e.src_endpoint, e.dst_endpoint) = endpoints(f);
            e.connection_info = Some(connection(f));
            let (req, resp) = http(f);
            e.activity_id = Some(match req.as_ref().and_then(|r| r.http_method.as_deref()) {
                Some("CONNECT") => 1,
                Some("DELETE") => 2,
                Some("GET") => 3,
                Some("HEAD") => 4,
                Some("OPTIONS") => 5,
                Some("POST") => 6,
                Some("PUT") => 7,
                Some("TRACE") => 8,
                Some("PATCH") => 9,
                Some(m) => {
                    e.activity_name = Some(m.to_owned());
                    99
                }
                None => 0,
            });
            e.http_status = resp.as_ref().and_then(|r| r.code);
            e.http_request = req;
            e.http_response = resp;
            e
        }
        other => {
            return Err(EventError::invalid(
                "event_type",
                format!("eve event type `{other}` is not supported"),
            ))
        }
    };
    e.metadata_mut().log_name = Some(kind);
    Ok(e)
}

fn alert(f: &mut Fields, time: i64) -> Result<Event, EventError> {
    let mut e = event(Class::DetectionFinding, 1, time, VENDOR, PRODUCT);
    let sid = f
        .str(&["alert", "signature_id"])
        .ok_or_else(|| EventError::missing("finding_info.uid"))?;
    let title = f
        .str(&["alert", "signature"])
        .ok_or_else(|| EventError::missing("finding_info.title"))?;
    let category = f.str(&["alert", "category"]);
    if let Some(sev) = f.int(&["alert", "severity"]) {
        e.severity_id = Some(match sev {
            1 => 4,
            2 => 3,
            3 => 2,
            _ => 1,
        });
    }
    match f.str(&["alert", "action"]).as_deref() {
        Some("allowed") => {
            e.action_id = Some(1);
        }
        Some("blocked") => {
            e.action_id = Some(2);
        }
        Some(other) => {
            e.action_id = Some(99);
            e.action = Some(other.to_owned());
        }
        None => {}
    }
    let (src, dst) = endpoints(f);
    let conn = connection(f);
    let (req, resp) = http(f);
    let flow_uid = conn.uid.clone();
    e.evidences = Some(vec![Evidences {
        src_endpoint: src,
        dst_endpoint: dst,
        connection_info: Some(conn),
        http_request: req,
        http_response: resp,
        ..Evidences::default()
    }]);
    e.finding_info = Some(Box::new(FindingInfo {
        uid: Some(match flow_uid {
            Some(flow) => format!("{flow}:{sid}"),
            None => format!("{time}:{sid}"),
        }),
        title: Some(title.clone()),
        types: category.clone().map(|c| vec![c]),
        analytic: Some(Box::new(Analytic {
            uid: Some(sid),
            name: Some(title),
            category,
            version: f.str(&["alert", "rev"]),
            type_id: Some(1),
            r#type: Some("Rule".to_owned()),
            ..Analytic::default()
        })),
        ..FindingInfo::default()
    }));
    Ok(e)
}
