//! Normalization throughput against its floor, `serde_json` parse + serialize
//! of the same records, in one run (issue 5's performance targets).
//!
//! * `floor`: parse the ~1 KB CloudTrail ConsoleLogin record to a
//!   `serde_json::Value` and serialize it (`serde_json::to_vec`);
//! * `builtin`: the built-in `aws.cloudtrail` source, raw bytes in, OCSF
//!   JSON out (`Normalizer::normalize_json`; target: at most 1.5× the floor
//!   and 200k events/s);
//! * `builtin_event_api`: the same through `Normalizer::normalize` (the
//!   `Event` with its `unmapped` map) then `serde_json::to_vec`;
//! * `typed`: a typed mapping written in the bench, as a user would;
//! * `declarative`: the example declarative mapping, raw bytes in, JSON out
//!   (target: at most 2× the floor);
//!
//! Floor and mappings read the same bytes and each writes one JSON document
//! into a fresh buffer: the floor the record as parsed, the mappings the
//! finished OCSF event (class, captions, profiles, `unmapped`), so the
//! ratios are the price of normalization over parse + serialize. The
//! built-in and declarative sources take their one-pass path
//! (`Source::normalize_raw`: the record parsed once with borrowed strings),
//! whose events equal the general path's byte for byte (property
//! `one_pass_mapping_equals_the_general_path` in `tests/sources_lossless.rs`);
//! the built-in one writes its JSON straight from the borrowed record
//! (`Source::normalize_raw_json`: the mapping's texts borrowed from the
//! input, written with pre-escaped keys, no `Event` built), the same bytes
//! as `serde_json::to_vec` of the event (same property);
//! * `validate`: semantic validation of the normalized event (at most 2 µs);
//! * line parsers (CEF, LEEF, syslog RFC 5424 and 3164), each against the
//!   floor of parsing the same fields written as a JSON object (target:
//!   500k lines/s/core); CEF and LEEF also parse-only (`CefLine::parse`,
//!   `LeefLine::parse`: borrowed fields, no record built).
//!
//! After the criterion groups, a table of same-run ratios is printed (lines
//! starting with `ratio |`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/ratio.rs"]
mod ratio;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mesh_core::events::format::{parse_cef, parse_leef, parse_syslog, CefLine, LeefLine};
use mesh_core::events::mapping::Mapping;
use mesh_core::events::ocsf::{
    Account, AuthenticationActivity, Cloud, Event, HttpRequest, NetworkEndpoint, Product, Service,
    Status, User,
};
use mesh_core::events::{
    validate, Confidence, EventError, MapContext, NormalizeOptions, Normalizer, Record, Source,
};
use mesh_core::Timestamp;

const LOGIN: &str = include_str!("../tests/data/events/cloudtrail_console_login.json");
const MAPPING: &str = include_str!("../tests/data/events/cloudtrail_mapping.json");
const CEF: &[u8] = b"CEF:0|Palo Alto Networks|PAN-OS|10.2.3|TRAFFIC|end|3|rt=Jun 01 2024 12:34:56 GMT deviceExternalId=012801012345 src=10.0.0.5 dst=203.0.113.10 sourceTranslatedAddress=198.51.100.2 destinationTranslatedAddress=203.0.113.10 cs1Label=Rule cs1=allow-web suser=corp\\\\alice duser= app=ssl cs3Label=Virtual System cs3=vsys1 cs4Label=Source Zone cs4=trust cs5Label=Destination Zone cs5=untrust deviceInboundInterface=ethernet1/2 deviceOutboundInterface=ethernet1/1 cnt=1 spt=51234 dpt=443 sourceTranslatedPort=40001 proto=TCP act=allow in=5234 out=1880 cat=computer-and-internet-info";
const LEEF: &[u8] = b"LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^srcPort=51234^dstPort=443^proto=TCP^usrName=joe user^sev=5^cat=flow^devTime=Jun 01 2024 12:34:56^devTimeFormat=MMM dd yyyy HH:mm:ss^identSrc=10.0.1.8^msg=Connection established=ok";
const SYSLOG_5424: &[u8] = b"<165>1 2024-06-01T12:34:56.003Z web01.example.com sshd 4242 AUTH [origin ip=\"10.0.0.5\" software=\"openssh\"][meta sequenceId=\"29\"] \xEF\xBB\xBFAccepted publickey for alice from 198.51.100.7 port 51234 ssh2: ED25519 SHA256:abc";
const SYSLOG_3164: &[u8] = b"<38>Jun  1 12:34:56 web01 sshd[4242]: Failed password for invalid user admin from 203.0.113.77 port 40022 ssh2";

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_717_300_000)
}

/// A typed CloudTrail ConsoleLogin mapping, written as a built-in source would be.
struct CloudTrailLogin;

impl Source for CloudTrailLogin {
    fn id(&self) -> &str {
        "bench.cloudtrail"
    }
    fn format(&self) -> mesh_core::events::format::Format {
        mesh_core::events::format::Format::Json
    }
    fn product(&self) -> Product {
        Product::named("AWS", "CloudTrail")
    }
    fn detect(&self, record: &Record) -> Confidence {
        if record.get("eventVersion").is_some() {
            90
        } else {
            0
        }
    }
    fn map(&self, r: &mut Record, _ctx: &MapContext) -> Result<Event, EventError> {
        let time = r
            .get_str("eventTime")
            .and_then(rfc3339_ms)
            .ok_or_else(|| EventError::missing("time"))?;
        r.take("eventTime");
        let mut e = Event::new(
            AuthenticationActivity::Logon,
            Timestamp::from_unix_millis(time),
            self.product(),
        );
        let name = r
            .take_str("userIdentity.userName")
            .or_else(|| r.take_str("userIdentity.arn"))
            .ok_or_else(|| EventError::missing("user"))?;
        e.user = Some(Box::new(User {
            name: Some(name),
            uid: r.take_str("userIdentity.arn"),
            r#type: r.take_str("userIdentity.type"),
            account: r.take_str("userIdentity.accountId").map(|uid| {
                Box::new(Account {
                    uid: Some(uid),
                    ..Account::default()
                })
            }),
            ..User::default()
        }));
        match r.get_str("responseElements.ConsoleLogin") {
            Some("Success") => e.set_status(Status::Success),
            Some("Failure") => e.set_status(Status::Failure),
            _ => {}
        }
        if e.status_id.is_some() {
            r.take("responseElements.ConsoleLogin");
        }
        e.is_mfa = match r.get_str("additionalEventData.MFAUsed") {
            Some("Yes") => Some(true),
            Some("No") => Some(false),
            _ => None,
        };
        if e.is_mfa.is_some() {
            r.take("additionalEventData.MFAUsed");
        }
        e.src_endpoint = r.take_str("sourceIPAddress").map(|ip| {
            Box::new(NetworkEndpoint {
                ip: Some(ip),
                ..NetworkEndpoint::default()
            })
        });
        e.dst_endpoint = r.take_str("tlsDetails.clientProvidedHostHeader").map(|h| {
            Box::new(NetworkEndpoint {
                hostname: Some(h),
                ..NetworkEndpoint::default()
            })
        });
        e.http_request = r.take_str("userAgent").map(|ua| {
            Box::new(HttpRequest {
                user_agent: Some(ua),
                ..HttpRequest::default()
            })
        });
        e.service = r.take_str("eventSource").map(|s| {
            Box::new(Service {
                name: Some(s),
                ..Service::default()
            })
        });
        e.cloud = Some(Box::new(Cloud {
            provider: Some("AWS".into()),
            region: r.take_str("awsRegion"),
            account: r.take_str("recipientAccountId").map(|uid| {
                Box::new(Account {
                    uid: Some(uid),
                    ..Account::default()
                })
            }),
            ..Cloud::default()
        }));
        let meta = e.metadata_mut();
        meta.uid = r.take_str("eventID");
        meta.event_code = r.take_str("eventName");
        Ok(e)
    }
}

fn rfc3339_ms(s: &str) -> Option<i64> {
    // The bench's records use `YYYY-MM-DDThh:mm:ssZ`.
    let b = s.as_bytes();
    let n = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if b.len() != 20 || b.get(19) != Some(&b'Z') {
        return None;
    }
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000)
}

fn normalizer() -> Normalizer {
    let mut n = Normalizer::new(NormalizeOptions::default());
    mesh_core::events::sources::register_builtin(&mut n).unwrap();
    n.register(Box::new(CloudTrailLogin)).unwrap();
    n.register(Box::new(Mapping::from_json(MAPPING).unwrap()))
        .unwrap();
    n
}

/// The fields a line parser gives, written as one JSON object: the floor of
/// the line parsers is `serde_json` parsing this.
fn json_of(fields: &serde_json::Map<String, serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(fields).unwrap()
}

fn floor(raw: &[u8]) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(black_box(raw)).unwrap();
    serde_json::to_vec(&v).unwrap()
}

/// Raw bytes in, normalized OCSF JSON out (`Normalizer::normalize_json`,
/// into a fresh buffer sized for the event, as the floor's `to_vec` gives a
/// fresh buffer).
fn normalize_serialize(n: &Normalizer, raw: &[u8], id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * raw.len() + 512);
    n.normalize_json(black_box(raw), Some(id), now(), &mut out)
        .unwrap();
    out
}

/// The same through the event API: `Normalizer::normalize` (the `Event`,
/// `unmapped` built as a map), then `serde_json::to_vec`.
fn normalize_event_serialize(n: &Normalizer, raw: &[u8], id: &str) -> Vec<u8> {
    let e = n.normalize(black_box(raw), Some(id), now()).unwrap();
    serde_json::to_vec(&e).unwrap()
}

fn bench(c: &mut Criterion) {
    let raw = LOGIN.trim().as_bytes();
    let n = normalizer();

    // Same output shape check before timing.
    for id in [
        "aws.cloudtrail",
        "bench.cloudtrail",
        "example.aws.cloudtrail",
    ] {
        let e = n.normalize(raw, Some(id), now()).unwrap();
        assert!(validate(&e).is_empty(), "{id}: {:?}", validate(&e));
    }
    let builtin = n.normalize(raw, Some("aws.cloudtrail"), now()).unwrap();
    for id in ["aws.cloudtrail", "example.aws.cloudtrail"] {
        assert_eq!(
            normalize_serialize(&n, raw, id),
            normalize_event_serialize(&n, raw, id)
        );
    }

    let mut g = c.benchmark_group("normalize_cloudtrail_console_login");
    g.throughput(Throughput::Elements(1));
    g.bench_function("floor_serde_json_parse_serialize", |b| {
        b.iter(|| black_box(floor(raw)))
    });
    g.bench_function("builtin_mapping", |b| {
        b.iter(|| black_box(normalize_serialize(&n, raw, "aws.cloudtrail")))
    });
    g.bench_function("builtin_event_api", |b| {
        b.iter(|| black_box(normalize_event_serialize(&n, raw, "aws.cloudtrail")))
    });
    g.bench_function("typed_mapping", |b| {
        b.iter(|| black_box(normalize_serialize(&n, raw, "bench.cloudtrail")))
    });
    g.bench_function("declarative_mapping", |b| {
        b.iter(|| black_box(normalize_serialize(&n, raw, "example.aws.cloudtrail")))
    });
    g.bench_function("validate", |b| {
        b.iter(|| black_box(validate(black_box(&builtin))))
    });
    g.finish();

    let mut g = c.benchmark_group("parse_line");
    g.throughput(Throughput::Elements(1));
    for (name, line) in lines() {
        let json = json_of(parse_any(name, line).fields());
        g.bench_function(format!("{name}_floor_json_same_fields"), |b| {
            b.iter(|| {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(&json)).unwrap())
            })
        });
        g.bench_function(name, |b| {
            b.iter(|| black_box(parse_any(name, black_box(line))))
        });
        if let Some(only) = parse_only(name) {
            g.bench_function(format!("{name}_parse_only"), |b| {
                b.iter(|| black_box(only(black_box(line))))
            });
        }
    }
    g.finish();
}

fn lines() -> [(&'static str, &'static [u8]); 4] {
    [
        ("cef", CEF),
        ("leef", LEEF),
        ("syslog_5424", SYSLOG_5424),
        ("syslog_3164", SYSLOG_3164),
    ]
}

/// A line parsed to a record by the parser its name says.
fn parse_any(name: &str, line: &[u8]) -> Record {
    match name {
        "cef" => parse_cef(line, now()).unwrap(),
        "leef" => parse_leef(line, now()).unwrap(),
        _ => parse_syslog(line, now()).unwrap().into_record(),
    }
}

/// The borrowed parse (no record) of the CEF and LEEF lines: the number of
/// fields found, so nothing is optimized away.
fn parse_only(name: &str) -> Option<fn(&[u8]) -> usize> {
    match name {
        "cef" => Some(|l| CefLine::parse(l, now()).unwrap().extension().len()),
        "leef" => Some(|l| LeefLine::parse(l, now()).unwrap().attributes().len()),
        _ => None,
    }
}

/// The same-run ratio table of issue 5's targets.
fn ratios(_c: &mut Criterion) {
    use ratio::{report, Ratio};
    let raw = LOGIN.trim().as_bytes();
    let n = normalizer();
    let builtin = n.normalize(raw, Some("aws.cloudtrail"), now()).unwrap();
    let floor_name = "serde_json parse+serialize";
    type Run = fn(&Normalizer, &[u8], &str) -> Vec<u8>;
    for (name, id, target, run) in [
        (
            "builtin mapping (aws.cloudtrail)",
            "aws.cloudtrail",
            "<= 1.5x, >= 200k/s",
            normalize_serialize as Run,
        ),
        (
            "builtin, Event API + to_vec",
            "aws.cloudtrail",
            "-",
            normalize_event_serialize as Run,
        ),
        (
            "declarative mapping",
            "example.aws.cloudtrail",
            "<= 2x",
            normalize_serialize as Run,
        ),
        (
            "typed mapping (bench)",
            "bench.cloudtrail",
            "-",
            normalize_serialize as Run,
        ),
    ] {
        report(
            &Ratio {
                name,
                floor_name,
                target,
            },
            || {
                black_box(floor(raw));
            },
            || {
                black_box(run(&n, raw, id));
            },
        );
    }
    report(
        &Ratio {
            name: "semantic validation",
            floor_name,
            target: "<= 2 us",
        },
        || {
            black_box(floor(raw));
        },
        || {
            black_box(validate(black_box(&builtin)));
        },
    );
    for (name, line) in lines() {
        let json = json_of(parse_any(name, line).fields());
        report(
            &Ratio {
                name: &format!("parse {name} ({} B)", line.len()),
                floor_name: "serde_json parse, same fields",
                target: ">= 500k/s",
            },
            || {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(&json)).unwrap());
            },
            || {
                black_box(parse_any(name, black_box(line)));
            },
        );
        if let Some(only) = parse_only(name) {
            report(
                &Ratio {
                    name: &format!("parse-only {name} ({} B)", line.len()),
                    floor_name: "serde_json parse, same fields",
                    target: ">= 500k/s",
                },
                || {
                    black_box(
                        serde_json::from_slice::<serde_json::Value>(black_box(&json)).unwrap(),
                    );
                },
                || {
                    black_box(only(black_box(line)));
                },
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench, ratios
}
criterion_main!(benches);
