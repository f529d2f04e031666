//! Threat intelligence, the analytics pipeline and identity-anchored response.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod analytics_support;

use analytics_support::*;
use mesh_core::analytics::{
    Analytics, AnalyticsErrorKind, CorrelatorConfig, Finding, IntelSet, ObservableKind,
    ResponseAction, ResponsePolicy,
};
use mesh_core::Timestamp;
use serde_json::{json, Value};

const BUNDLE: &str = include_str!("data/analytics/stix_bundle.json");

fn intel() -> IntelSet {
    let mut i = IntelSet::new();
    assert_eq!(i.load_bundle(BUNDLE).unwrap(), 4);
    i
}

fn at(t: i64) -> Timestamp {
    Timestamp::from_unix_millis(t)
}

#[test]
fn indicators_match_observables() {
    let i = intel();
    let e = logon("a", T0, "x@example.com", "203.0.113.7", false);
    let m = i.match_event(&e, at(T0));
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].indicator_id,
        "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    );
    assert_eq!(m[0].field, "src_endpoint.ip");
    assert_eq!(m[0].kind, ObservableKind::Ip);
    // CIDR, IPv6 CIDR.
    let e = logon("b", T0, "x@example.com", "198.51.100.77", false);
    assert_eq!(i.match_event(&e, at(T0)).len(), 1);
    let e = logon("c", T0, "x@example.com", "2001:db8:bad:1::5", false);
    assert_eq!(i.match_event(&e, at(T0)).len(), 1);
    let e = logon("d", T0, "x@example.com", "2001:db8:bae::5", false);
    assert!(i.match_event(&e, at(T0)).is_empty());
    // Domains match subdomains; URLs; hashes in any case; OCSF observables.
    let e = json!({"class_uid": 4003, "time": T0, "query": {"hostname": "sso.Login-Examp1e.com."}});
    assert_eq!(i.match_event(&e, at(T0))[0].kind, ObservableKind::Domain);
    let e = json!({"class_uid": 4002, "time": T0, "http_request": {"url": {"url_string": "https://cdn.example.net/payload.hta"}}});
    assert_eq!(i.match_event(&e, at(T0)).len(), 1);
    let e = json!({"class_uid": 1001, "time": T0, "file": {"hashes": [{"algorithm_id": 3, "value": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}});
    assert_eq!(i.match_event(&e, at(T0))[0].kind, ObservableKind::Hash);
    let e = json!({"class_uid": 0, "time": T0, "observables": [{"name": "x", "type_id": 8, "value": "D41D8CD98F00B204E9800998ECF8427E"}]});
    assert_eq!(i.match_event(&e, at(T0)).len(), 1);
    // Revoked indicators are not loaded.
    let e = logon("r", T0, "x@example.com", "192.0.2.200", false);
    assert!(i.match_event(&e, at(T0)).is_empty());
}

#[test]
fn indicators_expire_with_valid_until() {
    let i = intel();
    let e = logon("a", T0, "x@example.com", "203.0.113.7", false);
    // 2024-07-01T00:00:00Z and later: expired.
    assert!(i.match_event(&e, at(1_719_792_000_000)).is_empty());
    assert_eq!(i.match_event(&e, at(1_719_792_000_000 - 1)).len(), 1);
    // Before valid_from: not yet live.
    assert!(i.match_event(&e, at(1_714_521_600_000 - 1)).is_empty());
}

#[test]
fn malformed_patterns_name_the_indicator() {
    let mut i = IntelSet::new();
    let bad = r#"{"type":"bundle","id":"bundle--1","objects":[
        {"type":"indicator","id":"indicator--good","pattern":"[ipv4-addr:value = '192.0.2.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"},
        {"type":"indicator","id":"indicator--bad","pattern":"[ipv4-addr:value = '192.0.2.1' AND ipv4-addr:value = '192.0.2.2']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}]}"#;
    let e = i.load_bundle(bad).unwrap_err();
    assert_eq!(e.kind(), AnalyticsErrorKind::InvalidIndicator);
    assert!(e.to_string().contains("`indicator--bad`"), "{e}");
    assert!(i.is_empty(), "nothing from a failed bundle is added");
    assert!(i.load_bundle("{").is_err());
    assert!(i.load_bundle(r#"{"type":"bundle","objects":[{"type":"indicator","id":"indicator--x","pattern":"[url:value = 'a']","pattern_type":"stix","valid_from":"2024-13-01T00:00:00Z"}]}"#).is_err());
}

const POLICY: &str = r#"{
  "rules": [
    {"id": "account-takeover",
     "match": {"detections": ["brute_force_success", "mfa_fatigue", "session_reuse_device"]},
     "actions": [{"type": "revoke_subject"}, {"type": "revoke_session"}, {"type": "drop_grants"},
                 {"type": "deny_source_ip", "duration_ms": 3600000}]},
    {"id": "ti-block",
     "match": {"detections": ["ti_match"], "min_severity": "high"},
     "actions": [{"type": "deny_source_ip", "duration_ms": 86400000}]},
    {"id": "contain-evasion",
     "match": {"techniques": ["T1070"]},
     "actions": [{"type": "contain_device"}, {"type": "revoke_subject"}]}
  ]
}"#;

fn pipeline() -> Analytics {
    let mut a = Analytics::new(CorrelatorConfig::default());
    a.set_intel(intel());
    a.set_policy(ResponsePolicy::from_json(POLICY).unwrap());
    a
}

fn observe_all(a: &mut Analytics, events: &[Value]) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in events {
        a.observe(e, &mut out).unwrap();
    }
    a.flush(&mut out);
    out
}

#[test]
fn brute_force_from_known_bad_ip_revokes_the_actor_and_blocks_the_ip() {
    let mut a = pipeline();
    let mut ev: Vec<Value> = (0..5)
        .map(|i| {
            logon(
                &format!("f{i}"),
                T0 + i * 1000,
                "alice@example.com",
                "198.51.100.9",
                false,
            )
        })
        .collect();
    ev.push(logon(
        "ok",
        T0 + 9000,
        "alice@example.com",
        "198.51.100.9",
        true,
    ));
    let findings = observe_all(&mut a, &ev);
    // Six TI matches (confidence 60: medium) and the correlated finding.
    let ti: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.detection == "ti_match")
        .collect();
    assert_eq!(ti.len(), 6);
    assert_eq!(
        ti[0].intel[0].indicator_id,
        "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade"
    );
    let j = ti[0].to_ocsf();
    assert_eq!(j["osint"][0]["value"], "198.51.100.9");
    assert_eq!(j["osint"][0]["type_id"], 1);
    assert_eq!(j["enrichments"][0]["name"], "src_endpoint.ip");
    assert_eq!(j["metadata"]["profiles"][0], "osint");
    let bf = findings
        .iter()
        .find(|f| f.detection == "brute_force_success")
        .unwrap();

    let records = a.respond(&findings);
    // ti_match at medium severity does not meet `ti-block`.
    assert!(records.iter().all(|r| r.rule_id == "account-takeover"));
    let kinds: Vec<&str> = records.iter().map(|r| r.action.kind()).collect();
    assert_eq!(kinds, vec!["revoke_subject", "drop_grants", "openc2"]);
    match &records[0].action {
        ResponseAction::RevokeSubject { actor, before } => {
            assert_eq!(actor.as_str(), "alice@example.com");
            assert_eq!(*before, Timestamp::from_unix_millis(T0 + 9001));
        }
        other => panic!("{other:?}"),
    }
    match &records[2].action {
        ResponseAction::OpenC2(c) => assert_eq!(
            c.to_json(),
            json!({"action": "deny", "target": {"ipv4_net": "198.51.100.9/32"}, "args": {"duration": 3600000}})
        ),
        other => panic!("{other:?}"),
    }
    assert!(records[0].reason.contains(&bf.uid), "{}", records[0].reason);
    assert!(records[0].reason.contains("account-takeover"));
    assert_eq!(a.log().entries().count(), 3);
    let logged = a.log().entries().next().unwrap().to_json();
    assert_eq!(logged["action"]["type"], "revoke_subject");
    assert_eq!(logged["action"]["actor"], "alice@example.com");
}

#[test]
fn high_confidence_ti_blocks_and_log_clear_contains_the_device() {
    let mut a = pipeline();
    let mut cleared = log_cleared("w1", T0, "bob");
    cleared["device"]["uid"] = json!("dev-042");
    let ev = vec![
        logon("a", T0, "x@example.com", "203.0.113.7", false),
        cleared,
    ];
    let findings = observe_all(&mut a, &ev);
    let records = a.respond(&findings);
    let cmds: Vec<Value> = records
        .iter()
        .filter_map(|r| match &r.action {
            ResponseAction::OpenC2(c) => Some(c.to_json()),
            _ => None,
        })
        .collect();
    assert!(cmds.contains(&json!({"action": "deny", "target": {"ipv4_net": "203.0.113.7/32"}, "args": {"duration": 86400000}})));
    assert!(cmds
        .contains(&json!({"action": "contain", "target": {"device": {"device_id": "dev-042"}}})));
    assert!(records.iter().any(|r| matches!(&r.action, ResponseAction::RevokeSubject { actor, .. } if actor.as_str() == "S-1-5-21-1-2-3-1104")));
}

#[test]
fn session_reuse_revokes_the_session() {
    let mut a = pipeline();
    let ev = vec![
        session_use("a1", T0, "erin@example.com", "sess-1", "laptop-1", 64500),
        session_use("a2", T0 + MIN, "erin@example.com", "sess-1", "kali", 64500),
    ];
    let findings = observe_all(&mut a, &ev);
    let records = a.respond(&findings);
    assert!(records.iter().any(|r| r.action
        == ResponseAction::RevokeSession {
            actor: mesh_core::ActorKey::from_identifier("erin@example.com").unwrap(),
            session: "sess-1".into()
        }));
}

#[test]
fn no_policy_no_response() {
    let mut a = Analytics::new(CorrelatorConfig::default());
    let findings = observe_all(&mut a, &[log_cleared("w1", T0, "bob")]);
    assert_eq!(findings.len(), 1);
    assert!(a.respond(&findings).is_empty());
}
