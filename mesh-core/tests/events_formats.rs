//! Properties of the format parsers: no panics on any input, and
//! write-then-parse round trips for each format's escaping rules.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;

use mesh_core::events::format::{
    parse_cef, parse_json, parse_kv, parse_leef, parse_syslog, Format, Limits,
};
use mesh_core::Timestamp;
use proptest::prelude::*;
use serde_json::Value;

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_717_200_000)
}

fn key() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_]{0,10}"
}

/// Values without leading/trailing whitespace (CEF and kv trim them).
fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9=\\\\|\"' .:/\n-]{0,20}".prop_map(|s| s.trim().to_owned())
}

fn cef_escape_header(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|")
}

fn cef_escape_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
}

fn fields(r: &mesh_core::events::Record) -> BTreeMap<String, String> {
    r.fields()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_parser_panics(data in prop::collection::vec(any::<u8>(), 0..300)) {
        for f in [Format::Json, Format::Cef, Format::Leef, Format::Syslog, Format::KeyValue] {
            let _ = f.parse(&data, now(), &Limits::default());
        }
        let mut prefixed = b"CEF:0|".to_vec();
        prefixed.extend_from_slice(&data);
        let _ = parse_cef(&prefixed, now());
        let mut prefixed = b"LEEF:2.0|a|b|c|d|".to_vec();
        prefixed.extend_from_slice(&data);
        let _ = parse_leef(&prefixed, now());
        let mut prefixed = b"<13>1 ".to_vec();
        prefixed.extend_from_slice(&data);
        let _ = parse_syslog(&prefixed, now());
    }

    #[test]
    fn cef_round_trips(
        header in prop::collection::vec("[a-zA-Z0-9|\\\\ ]{0,12}", 5),
        ext in prop::collection::btree_map(key(), value(), 0..8),
    ) {
        let mut line = format!("CEF:0|{}|3|", header.iter().map(|h| cef_escape_header(h)).collect::<Vec<_>>().join("|"));
        let ext: BTreeMap<String, String> = ext.into_iter().filter(|(k, _)| !matches!(k.as_str(), "name" | "severity" | "cefVersion" | "deviceVendor" | "deviceProduct" | "deviceVersion" | "deviceEventClassId")).collect();
        line.push_str(&ext.iter().map(|(k, v)| format!("{k}={}", cef_escape_value(v))).collect::<Vec<_>>().join(" "));
        let r = parse_cef(line.as_bytes(), now()).unwrap();
        let f = fields(&r);
        prop_assert_eq!(&f["deviceVendor"], &header[0]);
        prop_assert_eq!(&f["name"], &header[4]);
        for (k, v) in &ext {
            prop_assert_eq!(&f[k], v, "key {} in {}", k, line);
        }
        prop_assert_eq!(f.len(), 7 + ext.len());
    }

    #[test]
    fn kv_round_trips(kv in prop::collection::btree_map(key(), "[a-zA-Z0-9=\\\\\"' .:/-]{0,20}", 0..8)) {
        let line = kv
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(" ");
        let r = parse_kv(line.as_bytes()).unwrap();
        prop_assert_eq!(fields(&r), kv);
    }

    #[test]
    fn leef2_round_trips(attrs in prop::collection::btree_map(key(), "[a-zA-Z0-9= .:/|-]{0,20}", 1..8)) {
        let line = format!(
            "LEEF:2.0|V|P|1.0|E1|^|{}",
            attrs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("^")
        );
        let f = fields(&parse_leef(line.as_bytes(), now()).unwrap());
        for (k, v) in &attrs {
            prop_assert_eq!(&f[k], v);
        }
    }

    #[test]
    fn syslog5424_round_trips(
        host in "[a-z][a-z0-9.-]{0,20}",
        params in prop::collection::vec((key(), "[a-zA-Z0-9\"\\\\\\] =]{0,12}"), 0..5),
        msg in "[ -~]{0,40}",
        ts in 0i64..4_000_000_000_000,
    ) {
        let sd: String = params
            .iter()
            .map(|(k, v)| format!(" {k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace(']', "\\]")))
            .collect();
        let secs = ts / 1000;
        let days = secs.div_euclid(86_400);
        let (y, m, d) = civil(days);
        let rem = secs.rem_euclid(86_400);
        let stamp = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem / 60 % 60, rem % 60, ts % 1000);
        let line = format!("<13>1 {stamp} {host} app - - [sd@1{sd}] {msg}");
        let m = parse_syslog(line.as_bytes(), now()).unwrap();
        prop_assert_eq!(m.timestamp, Some(ts));
        prop_assert_eq!(m.hostname.as_deref(), Some(host.as_str()));
        prop_assert_eq!(&m.message, &msg);
        let got = &m.structured_data[0].1;
        prop_assert_eq!(got.len(), params.len());
        for ((k, v), (gk, gv)) in params.iter().zip(got) {
            prop_assert_eq!(k, gk);
            prop_assert_eq!(v, gv);
        }
    }

    #[test]
    fn json_records_are_objects(v in any::<i64>()) {
        let obj = format!("{{\"n\": {v}}}");
        prop_assert_eq!(parse_json(obj.as_bytes()).unwrap().fields()["n"].clone(), Value::from(v));
        prop_assert!(parse_json(v.to_string().as_bytes()).is_err());
    }
}

fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[test]
fn oversized_records_are_rejected_before_parsing() {
    let limits = Limits {
        max_record_bytes: 16,
    };
    let e = Format::Json.parse(&[b' '; 17], now(), &limits).unwrap_err();
    assert_eq!(e.reason(), "record exceeds 16 bytes");
}
