//! Built-in detections on OCSF sample events, and the Detection Finding form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod analytics_support;

use analytics_support::*;
use mesh_core::analytics::{Admission, Correlator, CorrelatorConfig, Finding};
use serde_json::Value;

fn run(events: &[Value]) -> Vec<Finding> {
    run_with(CorrelatorConfig::default(), events)
}

/// Runs the events through a correlator as parsed JSON values, and again as
/// NDJSON text (the fast path): both must find exactly the same.
fn run_with(config: CorrelatorConfig, events: &[Value]) -> Vec<Finding> {
    let mut c = Correlator::new(config.clone());
    let mut out = Vec::new();
    for e in events {
        c.observe(e, &mut out).unwrap();
    }
    c.flush(&mut out);
    let mut text = Correlator::new(config);
    let mut text_out = Vec::new();
    for e in events {
        let line = serde_json::to_string(e).unwrap();
        text.observe_json(&line, &mut text_out).unwrap();
    }
    text.flush(&mut text_out);
    assert_eq!(out, text_out, "the text path found something else");
    assert_eq!(c.stats(), text.stats());
    out
}

fn ids(fs: &[Finding]) -> Vec<&str> {
    fs.iter().map(|f| f.detection.as_str()).collect()
}

#[test]
fn brute_force_then_success() {
    let mut ev: Vec<Value> = (0..6)
        .map(|i| {
            logon(
                &format!("f{i}"),
                T0 + i * 1000,
                "Alice@Example.com",
                "203.0.113.7",
                false,
            )
        })
        .collect();
    ev.push(logon(
        "ok",
        T0 + 10_000,
        "alice@example.com",
        "203.0.113.7",
        true,
    ));
    let fs = run(&ev);
    assert_eq!(ids(&fs), vec!["brute_force_success"]);
    let f = &fs[0];
    assert_eq!(f.actor.as_ref().unwrap().as_str(), "alice@example.com");
    assert!(f.has_technique("T1110.001") && f.has_technique("T1078"));
    let uids: Vec<_> = f
        .evidence
        .iter()
        .filter_map(|e| e.event_uid.as_deref())
        .collect();
    assert_eq!(uids, vec!["f0", "f1", "f2", "f3", "f4", "f5", "ok"]);
}

#[test]
fn brute_force_alone_and_failures_outside_window() {
    let ev: Vec<Value> = (0..10)
        .map(|i| {
            logon(
                &format!("f{i}"),
                T0 + i * 1000,
                "bob@example.com",
                "203.0.113.7",
                false,
            )
        })
        .collect();
    assert_eq!(ids(&run(&ev)), vec!["brute_force"]);
    // Failures spread over an hour, then a success: nothing.
    let mut ev: Vec<Value> = (0..6)
        .map(|i| {
            logon(
                &format!("g{i}"),
                T0 + i * 10 * MIN,
                "bob@example.com",
                "203.0.113.7",
                false,
            )
        })
        .collect();
    ev.push(logon(
        "ok",
        T0 + 61 * MIN,
        "bob@example.com",
        "203.0.113.7",
        true,
    ));
    assert!(run(&ev).is_empty());
}

#[test]
fn password_spray_from_one_ip() {
    let ev: Vec<Value> = (0..10)
        .map(|i| {
            logon(
                &format!("s{i}"),
                T0 + i * 2000,
                &format!("user{i}@example.com"),
                "203.0.113.66",
                false,
            )
        })
        .collect();
    let fs = run(&ev);
    assert_eq!(ids(&fs), vec!["password_spray"]);
    assert!(fs[0].has_technique("T1110.003"));
    assert_eq!(fs[0].src_ip.unwrap().to_string(), "203.0.113.66");
    assert_eq!(fs[0].evidence.len(), 10);
    // Nine users is below the threshold; the same user ten times is not a spray.
    assert!(run(&ev[..9]).is_empty());
    let same: Vec<Value> = (0..10)
        .map(|i| {
            logon(
                &format!("s{i}"),
                T0 + i * 40_000,
                "user@example.com",
                "203.0.113.66",
                false,
            )
        })
        .collect();
    assert!(!ids(&run(&same)).contains(&"password_spray"));
}

#[test]
fn mfa_fatigue() {
    let mut ev: Vec<Value> = (0..5)
        .map(|i| {
            push(
                &format!("p{i}"),
                T0 + i * 20_000,
                "carol@example.com",
                false,
            )
        })
        .collect();
    ev.push(push("accept", T0 + 120_000, "carol@example.com", true));
    let fs = run(&ev);
    assert_eq!(ids(&fs), vec!["mfa_fatigue"]);
    assert!(fs[0].has_technique("T1621"));
    // Four denials then accept: nothing.
    let mut few: Vec<Value> = ev[..4].to_vec();
    few.push(push("accept", T0 + 120_000, "carol@example.com", true));
    assert!(run(&few).is_empty());
}

#[test]
fn impossible_travel_and_new_country() {
    // Paris then New York 30 minutes later.
    let ev = vec![
        logon_at(
            "l1",
            T0,
            "dave@example.com",
            "192.0.2.1",
            48.8566,
            2.3522,
            "FR",
        ),
        logon_at(
            "l2",
            T0 + 30 * MIN,
            "dave@example.com",
            "198.51.100.1",
            40.7128,
            -74.0060,
            "US",
        ),
    ];
    let fs = run(&ev);
    let got = ids(&fs);
    assert!(got.contains(&"impossible_travel"), "{got:?}");
    assert!(got.contains(&"new_country_login"), "{got:?}");
    let travel = fs
        .iter()
        .find(|f| f.detection == "impossible_travel")
        .unwrap();
    assert!(travel.has_technique("T1078"));
    assert!(travel.desc.contains("km"), "{}", travel.desc);
    // Paris then New York ten hours later is a flight.
    let ev = vec![
        logon_at(
            "l1",
            T0,
            "dave@example.com",
            "192.0.2.1",
            48.8566,
            2.3522,
            "FR",
        ),
        logon_at(
            "l2",
            T0 + 600 * MIN,
            "dave@example.com",
            "198.51.100.1",
            40.7128,
            -74.0060,
            "FR",
        ),
    ];
    assert!(run(&ev).is_empty());
}

#[test]
fn session_reuse_from_new_device_and_asn() {
    let ev = vec![
        session_use("a1", T0, "erin@example.com", "sess-1", "laptop-1", 64500),
        session_use(
            "a2",
            T0 + MIN,
            "erin@example.com",
            "sess-1",
            "laptop-1",
            64500,
        ),
        session_use(
            "a3",
            T0 + 2 * MIN,
            "erin@example.com",
            "sess-1",
            "unknown-pc",
            64501,
        ),
    ];
    let fs = run(&ev);
    assert_eq!(ids(&fs), vec!["session_reuse_device"]);
    assert_eq!(fs[0].session.as_deref(), Some("sess-1"));
    assert!(fs[0].has_technique("T1550.004"));
    let ev = vec![
        session_use("b1", T0, "erin@example.com", "sess-2", "laptop-1", 64500),
        session_use(
            "b2",
            T0 + MIN,
            "erin@example.com",
            "sess-2",
            "laptop-1",
            9009,
        ),
    ];
    assert_eq!(ids(&run(&ev)), vec!["session_reuse_asn"]);
}

#[test]
fn privilege_grant_then_mass_access() {
    let mut ev = vec![grant("g", T0, "admin@example.com", "frank@example.com")];
    for i in 0..100 {
        ev.push(file_read(
            &format!("r{i}"),
            T0 + MIN + i * 100,
            "frank@example.com",
            &format!("/finance/{i}.xlsx"),
        ));
    }
    let fs = run(&ev);
    assert_eq!(ids(&fs), vec!["privilege_mass_access"]);
    let f = &fs[0];
    assert_eq!(f.actor.as_ref().unwrap().as_str(), "frank@example.com");
    assert!(f.has_technique("T1530") && f.has_technique("T1078.004"));
    assert_eq!(f.evidence[0].event_uid.as_deref(), Some("g"));
    // The same reads without a grant are nothing.
    assert!(run(&ev[1..]).is_empty());
}

#[test]
fn audit_logging_disabled_and_log_cleared() {
    let ev = vec![
        api(
            "ct1",
            T0,
            "arn:aws:sts::123456789012:assumed-role/Admin/mallory@example.com",
            "StopLogging",
            3,
        ),
        api(
            "ct2",
            T0 + 1,
            "arn:aws:iam::123456789012:user/ops",
            "DeleteTrail",
            4,
        ),
        api(
            "ct3",
            T0 + 2,
            "arn:aws:iam::123456789012:user/ops",
            "DescribeTrails",
            2,
        ),
        log_cleared("w1", T0 + 3, "bob"),
    ];
    let fs = run(&ev);
    assert_eq!(
        ids(&fs),
        vec![
            "audit_logging_disabled",
            "audit_logging_disabled",
            "event_log_cleared"
        ]
    );
    assert_eq!(
        fs[0].actor.as_ref().unwrap().as_str(),
        "mallory@example.com"
    );
    assert!(fs[0].has_technique("T1562.008"));
    assert!(fs[2].has_technique("T1070.001"));
}

#[test]
fn detections_can_be_disabled() {
    let config = CorrelatorConfig {
        enabled: vec![],
        ..CorrelatorConfig::default()
    };
    assert!(run_with(config, &[log_cleared("w1", T0, "bob")]).is_empty());
}

#[test]
fn out_of_order_within_lateness_is_reordered_and_late_events_are_counted() {
    // Success arrives before the failures that preceded it (within 5 s).
    let mut ev: Vec<Value> = (0..5)
        .map(|i| {
            logon(
                &format!("f{i}"),
                T0 + i * 500,
                "gina@example.com",
                "203.0.113.7",
                false,
            )
        })
        .collect();
    ev.insert(
        0,
        logon("ok", T0 + 3000, "gina@example.com", "203.0.113.7", true),
    );
    let mut c = Correlator::new(CorrelatorConfig::default());
    let mut out = Vec::new();
    for e in &ev {
        assert_eq!(c.observe(e, &mut out).unwrap(), Admission::Accepted);
    }
    // Far behind the watermark: late.
    c.observe(
        &logon("x", T0 + 60_000, "z@example.com", "192.0.2.9", true),
        &mut out,
    )
    .unwrap();
    let late = c
        .observe(
            &logon("late", T0, "gina@example.com", "203.0.113.7", false),
            &mut out,
        )
        .unwrap();
    assert_eq!(late, Admission::Late { behind_ms: 55_000 });
    c.flush(&mut out);
    assert_eq!(ids(&out), vec!["brute_force_success"]);
    let s = c.stats();
    assert_eq!(s.late_events, 1);
    assert_eq!(s.events, 7);
    assert_eq!(s.buffered, 0);
}

#[test]
fn actor_flood_is_bounded_and_counted() {
    let config = CorrelatorConfig {
        max_actors: 100,
        max_sources: 10,
        allowed_lateness_ms: 0,
        ..CorrelatorConfig::default()
    };
    let mut c = Correlator::new(config);
    let mut out = Vec::new();
    for i in 0..10_000i64 {
        let e = logon(
            &format!("e{i}"),
            T0 + i,
            &format!("u{i}@example.com"),
            &format!("10.0.{}.{}", i / 250, i % 250),
            false,
        );
        c.observe(&e, &mut out).unwrap();
    }
    let s = c.stats();
    assert!(s.tracked_actors <= 100 && s.tracked_sources <= 10, "{s:?}");
    assert_eq!(s.evicted_actors, 10_000 - 100);
    assert!(
        c.approx_state_bytes() < 100 * 2048,
        "{}",
        c.approx_state_bytes()
    );
}

#[test]
fn ttl_expires_idle_actors() {
    let config = CorrelatorConfig {
        ttl_ms: 60_000,
        allowed_lateness_ms: 0,
        ..CorrelatorConfig::default()
    };
    let mut c = Correlator::new(config);
    let mut out = Vec::new();
    for i in 0..50 {
        c.observe(
            &logon(
                &format!("a{i}"),
                T0,
                &format!("u{i}@example.com"),
                "192.0.2.1",
                true,
            ),
            &mut out,
        )
        .unwrap();
    }
    for i in 0..200 {
        c.observe(
            &logon(
                &format!("b{i}"),
                T0 + 3_600_000 + i,
                "late@example.com",
                "192.0.2.2",
                true,
            ),
            &mut out,
        )
        .unwrap();
    }
    let s = c.stats();
    assert_eq!(s.tracked_actors, 1, "{s:?}");
    assert!(s.expired >= 50);
}

#[test]
fn invalid_events_are_errors_with_a_pointer() {
    let mut c = Correlator::new(CorrelatorConfig::default());
    let mut out = Vec::new();
    let e = c
        .observe(&serde_json::json!({"class_uid": 3002}), &mut out)
        .unwrap_err();
    assert!(e.to_string().contains("`/time`"), "{e}");
}

#[test]
fn finding_is_an_ocsf_detection_finding() {
    let mut ev: Vec<Value> = (0..5)
        .map(|i| push(&format!("p{i}"), T0 + i * 1000, "carol@example.com", false))
        .collect();
    ev.push(push("accept", T0 + 10_000, "carol@example.com", true));
    let fs = run(&ev);
    let j = fs[0].to_ocsf();
    assert_eq!(j["class_uid"], 2004);
    assert_eq!(j["category_uid"], 2);
    assert_eq!(j["activity_id"], 1);
    assert_eq!(j["type_uid"], 200401);
    assert_eq!(j["severity_id"], 4);
    assert_eq!(j["status_id"], 1);
    assert_eq!(j["time"], T0 + 10_000);
    assert_eq!(j["metadata"]["version"], "1.8.0");
    assert_eq!(j["metadata"]["product"]["name"], "mesh");
    let fi = &j["finding_info"];
    assert_eq!(fi["uid"].as_str().unwrap().len(), 32);
    assert_eq!(fi["analytic"]["uid"], "mfa_fatigue");
    assert_eq!(fi["analytic"]["type_id"], 1);
    assert_eq!(fi["attacks"][0]["technique"]["uid"], "T1621");
    assert_eq!(fi["attacks"][0]["tactic"]["uid"], "TA0006");
    let related: Vec<&str> = fi["related_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uid"].as_str().unwrap())
        .collect();
    assert_eq!(related, vec!["p0", "p1", "p2", "p3", "p4", "accept"]);
    assert_eq!(fi["related_events"][0]["type_uid"], 300201);
    assert_eq!(j["actor"]["user"]["email_addr"], "carol@example.com");
    assert_eq!(j["evidences"].as_array().unwrap().len(), 6);
    assert_eq!(j["evidences"][5]["uid"], "accept");
    // Deterministic uid.
    assert_eq!(run(&ev)[0].uid, fs[0].uid);
}
