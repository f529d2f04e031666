#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The `Mesh` facade end to end: credential → identity → revocations →
//! policy → decision, bundle hot-swap, and swap under concurrent load.

mod common;

use common::{jwks_doc, TestKey, NOW};
use mesh_core::bundle::{BundleBuilder, BundleErrorKind, SigningKey};
use mesh_core::identity::{Algorithm, RevocationSet};
use mesh_core::policy::{EntityUid, Record};
use mesh_core::{AccessOutcome, Credential, Mesh, Timestamp};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const POLICIES: &str = r#"
@id("staff-read")
permit(principal in Group::"staff", action == Action::"read", resource);

@id("approve-needs-mfa")
@obligation("mfa")
permit(principal in Group::"finance", action == Action::"approve", resource);

@id("no-secrets")
forbid(principal, action, resource == Doc::"secret");
"#;

fn signing_key() -> SigningKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    SigningKey::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn mesh(idp: &TestKey, bundle_key: &SigningKey) -> Mesh {
    let cfg = json!({
        "issuers": [{
            "issuer": "https://idp", "audiences": ["api"], "algorithms": ["ES256"],
            "jwks": jwks_doc(&[idp]),
        }],
        "policies": [{"name": "main.cedar", "text": POLICIES}],
        "bundles": {"trusted_keys": [bundle_key.verifying_key().to_base64()]},
    });
    Mesh::from_json(&cfg.to_string()).unwrap()
}

fn token(idp: &TestKey, sub: &str, groups: &[&str], amr: &[&str]) -> String {
    idp.sign(&json!({
        "iss": "https://idp", "aud": "api", "sub": sub, "iat": NOW - 60, "exp": NOW + 600,
        "groups": groups, "amr": amr, "jti": format!("t-{sub}-{}", groups.len()),
    }))
}

fn uid(s: &str) -> EntityUid {
    EntityUid::parse(s).unwrap()
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(NOW)
}

fn bundle(rev: u64, policies: &str, key: &SigningKey) -> Vec<u8> {
    let mut b = BundleBuilder::new(rev, now())
        .part("policies/main.cedar", policies)
        .unwrap()
        .build()
        .unwrap();
    b.sign(key).unwrap();
    b.to_bytes()
}

#[test]
fn allow_challenge_deny_and_explanations() {
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let bk = signing_key();
    let m = mesh(&idp, &bk);
    let alice = token(&idp, "alice", &["staff"], &["pwd"]);
    let d = m.authorize(
        Credential::detect(&alice),
        &uid(r#"Action::"read""#),
        &uid(r#"Doc::"q3""#),
        Record::default(),
        now(),
    );
    assert!(d.is_allowed(), "{}", d.explain());
    assert_eq!(d.policies()[0].to_string(), "staff-read");
    assert_eq!(d.revision(), 0);
    assert!(d.explain().starts_with("allow"));
    let ev = d.audit_event();
    assert_eq!(ev["class_uid"], 6003);
    assert_eq!(ev["type_uid"], 600302);
    assert_eq!(ev["actor"]["user"]["uid"], "alice");
    assert_eq!(ev["status_id"], 1);

    let secret = m.authorize(
        Credential::detect(&alice),
        &uid(r#"Action::"read""#),
        &uid(r#"Doc::"secret""#),
        Record::default(),
        now(),
    );
    assert_eq!(secret.outcome(), &AccessOutcome::Deny);
    assert_eq!(secret.reason(), "forbid_matched");
    assert_eq!(secret.policies()[0].to_string(), "no-secrets");

    let bob = token(&idp, "bob", &["finance"], &["pwd"]);
    let c = m.authorize(
        Credential::detect(&bob),
        &uid(r#"Action::"approve""#),
        &uid(r#"Invoice::"7""#),
        Record::default(),
        now(),
    );
    assert!(
        matches!(c.outcome(), AccessOutcome::Challenge { obligation, .. } if obligation == "mfa"),
        "{}",
        c.explain()
    );
    assert_eq!(c.to_json()["obligation"]["name"], "mfa");
    let bob_mfa = token(&idp, "bob", &["finance"], &["pwd", "mfa"]);
    let ok = m.authorize(
        Credential::detect(&bob_mfa),
        &uid(r#"Action::"approve""#),
        &uid(r#"Invoice::"7""#),
        Record::default(),
        now(),
    );
    assert!(ok.is_allowed(), "{}", ok.explain());
}

#[test]
fn rejected_credentials_and_revocation() {
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let bk = signing_key();
    let m = mesh(&idp, &bk);
    let read = uid(r#"Action::"read""#);
    let doc = uid(r#"Doc::"q3""#);
    // Alice's token with the payload swapped for Mallory's: the signature no longer matches.
    let a = token(&idp, "alice", &["staff"], &[]);
    let m2 = token(&idp, "mallory", &["staff"], &[]);
    let (ap, mp): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), m2.split('.').collect());
    let forged = format!("{}.{}.{}", ap[0], mp[1], ap[2]);
    let d = m.authorize(
        Credential::detect(&forged),
        &read,
        &doc,
        Record::default(),
        now(),
    );
    assert_eq!(d.reason(), "credential_rejected");
    assert_eq!(
        d.credential_error().unwrap().kind().as_str(),
        "bad_signature"
    );
    assert!(d.explain().contains("bad_signature"));

    let alice = token(&idp, "alice", &["staff"], &[]);
    assert!(m
        .authorize(
            Credential::detect(&alice),
            &read,
            &doc,
            Record::default(),
            now()
        )
        .is_allowed());
    // Another process revokes alice; this one merges its set.
    let mut other = RevocationSet::new();
    other
        .revoke_subject("alice", now(), Timestamp::from_unix_seconds(NOW + 3600))
        .unwrap();
    m.merge_revocations_json(&other.to_json()).unwrap();
    let d = m.authorize(
        Credential::detect(&alice),
        &read,
        &doc,
        Record::default(),
        now(),
    );
    assert_eq!(d.outcome(), &AccessOutcome::Deny);
    assert_eq!(d.reason(), "revoked");
    // A token issued after the revocation is accepted again.
    let later = Timestamp::from_unix_seconds(NOW + 120);
    let fresh = idp.sign(&json!({"iss": "https://idp", "aud": "api", "sub": "alice",
        "iat": NOW + 61, "exp": NOW + 600, "groups": ["staff"]}));
    assert!(m
        .authorize(
            Credential::detect(&fresh),
            &read,
            &doc,
            Record::default(),
            later
        )
        .is_allowed());
}

#[test]
fn bundle_hot_swap_and_refusals() {
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let bk = signing_key();
    let m = mesh(&idp, &bk);
    let alice = token(&idp, "alice", &["staff"], &[]);
    let decide = || {
        m.authorize(
            Credential::detect(&alice),
            &uid(r#"Action::"read""#),
            &uid(r#"Doc::"q3""#),
            Record::default(),
            now(),
        )
    };
    assert!(decide().is_allowed());
    let v2 = bundle(
        2,
        r#"@id("lockdown") forbid(principal, action, resource);"#,
        &bk,
    );
    assert_eq!(m.activate_bundle(&v2).unwrap(), 2);
    let d = decide();
    assert_eq!(d.reason(), "forbid_matched");
    assert_eq!(d.revision(), 2);
    let e = m.activate_bundle(&v2).unwrap_err();
    assert_eq!(e.kind(), BundleErrorKind::Replay);
    let v1 = bundle(1, POLICIES, &bk);
    assert_eq!(
        m.activate_bundle(&v1).unwrap_err().kind(),
        BundleErrorKind::Rollback
    );
    let wrong = bundle(3, POLICIES, &signing_key());
    assert_eq!(
        m.activate_bundle(&wrong).unwrap_err().kind(),
        BundleErrorKind::UntrustedKey
    );
    let broken = bundle(3, "permit(principal, action, resource", &bk);
    let e = m.activate_bundle(&broken).unwrap_err();
    assert_eq!(e.kind(), BundleErrorKind::Activation);
    assert!(e.to_string().contains("policies/main.cedar:1:"), "{e}");
    assert_eq!(decide().revision(), 2, "last good bundle stays");
    let v3 = bundle(3, POLICIES, &bk);
    m.activate_bundle(&v3).unwrap();
    assert!(decide().is_allowed());
}

/// Entity parts of a bundle are one store: a principal's group from one part
/// and the group's parent from another both count; a broken part is refused
/// with its name and position, and the last good bundle stays.
#[test]
fn bundle_entity_parts_are_one_store() {
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let bk = signing_key();
    let m = mesh(&idp, &bk);
    let bob = token(&idp, "bob", &["interns"], &[]);
    let decide = || {
        m.authorize(
            Credential::detect(&bob),
            &uid(r#"Action::"read""#),
            &uid(r#"Doc::"q3""#),
            Record::default(),
            now(),
        )
    };
    assert!(!decide().is_allowed(), "interns are not staff yet");
    let build = |rev: u64, a: &str, b: &str| {
        let mut bundle = BundleBuilder::new(rev, now())
            .part("policies/main.cedar", POLICIES)
            .unwrap()
            .part("entities/a.json", a)
            .unwrap()
            .part("entities/b.json", b)
            .unwrap()
            .build()
            .unwrap();
        bundle.sign(&bk).unwrap();
        bundle.to_bytes()
    };
    let interns = r#"[{"uid": {"type": "Group", "id": "interns"}, "attrs": {}, "parents": [{"type": "Group", "id": "staff"}]}]"#;
    let staff =
        r#"[{"uid": {"type": "Group", "id": "staff"}, "attrs": {"size": 3}, "parents": []}]"#;
    m.activate_bundle(&build(2, interns, staff)).unwrap();
    assert!(decide().is_allowed(), "interns are staff through part a");
    // The same uid in both parts is ambiguous: refused.
    let e = m.activate_bundle(&build(3, interns, interns)).unwrap_err();
    assert_eq!(e.kind(), BundleErrorKind::Activation);
    assert!(e.to_string().contains("interns"), "{e}");
    // Broken JSON names its part and position.
    let e = m
        .activate_bundle(&build(3, interns, "[{\"uid\": "))
        .unwrap_err();
    assert_eq!(e.kind(), BundleErrorKind::Activation);
    assert!(e.to_string().contains("entities/b.json"), "{e}");
    assert_eq!(decide().revision(), 2, "last good bundle stays");
    assert!(decide().is_allowed());
}

/// Odd revisions permit everything, even revisions forbid everything: a
/// decision that mixed two revisions would disagree with its own revision.
#[test]
fn decisions_during_swaps_use_one_revision() {
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let bk = signing_key();
    let m = Arc::new(mesh(&idp, &bk));
    let bundles: Vec<Vec<u8>> = (1..=60)
        .map(|r| {
            let mut src = String::new();
            for i in 0..50 {
                if r % 2 == 1 {
                    src.push_str(&format!(
                        "@id(\"p{i}\") permit(principal, action == Action::\"read\", resource);\n"
                    ));
                } else {
                    src.push_str(&format!(
                        "@id(\"f{i}\") forbid(principal, action == Action::\"read\", resource);\n"
                    ));
                }
            }
            bundle(r, &src, &bk)
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let alice = token(&idp, "alice", &["staff"], &[]);
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (m, stop, count, alice) = (m.clone(), stop.clone(), count.clone(), alice.clone());
            std::thread::spawn(move || {
                let read = uid(r#"Action::"read""#);
                let doc = uid(r#"Doc::"q3""#);
                while !stop.load(Ordering::Relaxed) {
                    let d = m.authorize(
                        Credential::detect(&alice),
                        &read,
                        &doc,
                        Record::default(),
                        now(),
                    );
                    let rev = d.revision();
                    if rev == 0 {
                        continue;
                    }
                    assert_eq!(
                        d.is_allowed(),
                        rev % 2 == 1,
                        "revision {rev}: {}",
                        d.explain()
                    );
                    let n = d.policies().len();
                    assert_eq!(n, 50, "all determining policies come from revision {rev}");
                    let prefix = if rev % 2 == 1 { "p" } else { "f" };
                    assert!(d
                        .policies()
                        .iter()
                        .all(|p| p.to_string().starts_with(prefix)));
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for b in &bundles {
        m.activate_bundle(b).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(m.revision(), 60);
    assert!(count.load(Ordering::Relaxed) > 0);
}

#[test]
fn config_policy_errors_name_the_source() {
    let e = Mesh::from_json(
        &json!({"policies": [{"name": "ok.cedar", "text": "permit(principal, action, resource);"},
                             {"name": "bad.cedar", "text": "permit(principal, acton, resource);"}]})
        .to_string(),
    )
    .unwrap_err();
    assert_eq!(e.path(), Some("policies[1].text"));
    assert!(e.to_string().contains("bad.cedar:1:"), "{e}");
}

fn logon(uid: &str, t: i64, user: &str, success: bool) -> serde_json::Value {
    json!({
        "class_uid": 3002, "category_uid": 3, "activity_id": 1, "type_uid": 300201,
        "severity_id": 1, "time": t, "status_id": if success { 1 } else { 2 },
        "metadata": {"uid": uid, "version": "1.8.0", "product": {"name": "Okta", "vendor_name": "Okta"}},
        "user": {"name": user}, "src_endpoint": {"ip": "203.0.113.7"},
    })
}

#[test]
fn finding_revokes_actor_and_next_decision_is_denied() {
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let bk = signing_key();
    let cfg = json!({
        "issuers": [{
            "issuer": "https://idp", "audiences": ["api"], "algorithms": ["ES256"],
            "jwks": jwks_doc(&[&idp]),
        }],
        "policies": [{"name": "main.cedar", "text": POLICIES}],
        "bundles": {"trusted_keys": [bk.verifying_key().to_base64()]},
        "response": {"auto_revoke": true, "min_severity": "medium", "revoke_for_seconds": 3600},
    });
    let m = Mesh::from_json(&cfg.to_string()).unwrap();
    let read = uid(r#"Action::"read""#);
    let doc = uid(r#"Doc::"q3""#);
    let alice = token(&idp, "alice", &["staff"], &[]);
    let now = Timestamp::from_unix_seconds(NOW);
    assert!(m
        .authorize(
            Credential::detect(&alice),
            &read,
            &doc,
            Record::default(),
            now
        )
        .is_allowed());
    // Brute force then success, in the 30 s before `now` (after the token's iat).
    let t0 = NOW * 1000 - 30_000;
    let mut findings = Vec::new();
    let mut applied = Vec::new();
    for i in 0..6 {
        let o = m
            .observe(&logon(&format!("f{i}"), t0 + i * 1000, "alice", false), now)
            .unwrap();
        findings.extend(o.findings);
        applied.extend(o.applied);
    }
    // The completing event arrives as an NDJSON line, as from the bindings.
    let o = m
        .observe_json(&logon("ok", t0 + 10_000, "alice", true).to_string(), now)
        .unwrap();
    findings.extend(o.findings);
    applied.extend(o.applied);
    let o = m.flush_observations(now);
    findings.extend(o.findings);
    applied.extend(o.applied);
    assert!(
        findings
            .iter()
            .any(|f| f.detection == "brute_force_success"),
        "{findings:?}"
    );
    assert!(applied.iter().any(|r| r.action.kind() == "revoke_subject"));
    let d = m.authorize(
        Credential::detect(&alice),
        &read,
        &doc,
        Record::default(),
        now,
    );
    assert_eq!(d.outcome(), &AccessOutcome::Deny);
    assert_eq!(d.reason(), "revoked");
    // Bob is untouched.
    let bob = token(&idp, "bob", &["staff"], &[]);
    assert!(m
        .authorize(
            Credential::detect(&bob),
            &read,
            &doc,
            Record::default(),
            now
        )
        .is_allowed());
}

/// A cached token's principal is resolved against the entities of the
/// bundle that decides: a swap that moves a group in the hierarchy changes
/// the next decision for the same (cached) token.
#[test]
fn cached_principal_follows_bundle_entities() {
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let bk = signing_key();
    let m = mesh(&idp, &bk);
    let carol = token(&idp, "carol", &["ops"], &["pwd"]);
    let policies = r#"@id("dept-read")
permit(principal in Dept::"eng", action == Action::"read", resource);"#;
    let with_entities = |rev: u64, parents: serde_json::Value| {
        let ents =
            json!([{"uid": {"type": "Group", "id": "ops"}, "attrs": {}, "parents": parents}]);
        let mut b = BundleBuilder::new(rev, now())
            .part("policies/main.cedar", policies)
            .unwrap()
            .part("entities/e.json", ents.to_string())
            .unwrap()
            .build()
            .unwrap();
        b.sign(&bk).unwrap();
        b.to_bytes()
    };
    let read = |m: &Mesh| {
        m.authorize(
            Credential::detect(&carol),
            &uid(r#"Action::"read""#),
            &uid(r#"Doc::"d""#),
            Record::default(),
            now(),
        )
    };
    // Inline policies: no `dept-read`; the token is now cached.
    assert!(!read(&m).is_allowed());
    m.activate_bundle(&with_entities(1, json!([{"type": "Dept", "id": "eng"}])))
        .unwrap();
    let d = read(&m);
    assert!(d.is_allowed(), "{}", d.explain());
    assert_eq!(d.revision(), 1);
    assert!(
        read(&m).is_allowed(),
        "second decision of the same revision"
    );
    // A reader holding revision 1 keeps it alive; the activation retires
    // it and the reader's release never frees it.
    let held = m.content();
    m.activate_bundle(&with_entities(2, json!([]))).unwrap();
    assert_eq!(held.revision(), 1);
    assert_eq!(m.reclaim_retired(), 1);
    drop(held);
    let d = read(&m);
    assert!(!d.is_allowed(), "{}", d.explain());
    assert_eq!(d.reason(), "no_permit");
    // Replaced contents are freed by activations or on request.
    assert_eq!(m.reclaim_retired(), 0);
}

/// Evaluation errors are reported as text naming the policy.
#[test]
fn decision_errors_name_the_policy() {
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let bk = signing_key();
    let m = mesh(&idp, &bk);
    let p = r#"@id("needs-level")
permit(principal, action, resource) when { context.level > 3 };"#;
    m.activate_bundle(&bundle(1, p, &bk)).unwrap();
    let t = token(&idp, "dave", &[], &["pwd"]);
    let d = m.authorize(
        Credential::detect(&t),
        &uid(r#"Action::"read""#),
        &uid(r#"Doc::"d""#),
        Record::default(),
        now(),
    );
    assert!(!d.is_allowed());
    assert_eq!(
        d.errors(),
        ["policy `needs-level`: attribute `level` does not exist"]
    );
    assert!(d.explain().contains("error in policy `needs-level`"));
    assert_eq!(d.to_json()["errors"][0], d.errors()[0].as_str());
}

#[test]
fn authorize_into_gives_what_authorize_gives_whatever_it_held() {
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let policies = format!(
        "{POLICIES}\n@id(\"levelled\")\n@advice(\"raise your level\")\n\
         permit(principal, action == Action::\"write\", resource) when {{ context.level > 2 }};"
    );
    let alice = token(&idp, "alice", &["staff"], &["pwd"]);
    let bob = token(&idp, "bob", &["finance"], &["pwd"]);
    let requests = [
        (alice.as_str(), r#"Action::"read""#, r#"Doc::"q3""#),
        (bob.as_str(), r#"Action::"approve""#, r#"Invoice::"7""#),
        (alice.as_str(), r#"Action::"read""#, r#"Doc::"secret""#),
        ("not-a-token", r#"Action::"read""#, r#"Doc::"q3""#),
        (alice.as_str(), r#"Action::"write""#, r#"Doc::"q3""#),
        (bob.as_str(), r#"Action::"approve""#, r#"Invoice::"7""#),
        (alice.as_str(), r#"Action::"read""#, r#"Doc::"q3""#),
    ];
    // Without and with the token cache (a verified identity, or a cached one).
    for cache in [
        json!({"capacity": 0}),
        json!({"capacity": 16, "max_ttl_seconds": 600}),
    ] {
        let cfg = json!({
            "issuers": [{
                "issuer": "https://idp", "audiences": ["api"], "algorithms": ["ES256"],
                "jwks": jwks_doc(&[&idp]),
            }],
            "policies": [{"name": "main.cedar", "text": policies}],
            "cache": cache,
        });
        let m = Mesh::from_json(&cfg.to_string()).unwrap();
        let mut out = m.authorize(
            Credential::detect("not-a-token"),
            &uid(r#"Action::"x""#),
            &uid(r#"Doc::"y""#),
            Record::default(),
            Timestamp::from_unix_seconds(0),
        );
        for (cred, action, resource) in requests {
            let (action, resource) = (uid(action), uid(resource));
            let want = m.authorize(
                Credential::detect(cred),
                &action,
                &resource,
                Record::default(),
                now(),
            );
            m.authorize_into(
                Credential::detect(cred),
                &action,
                &resource,
                Record::default(),
                now(),
                &mut out,
            );
            assert_eq!(out.to_json(), want.to_json(), "{cred} {action} {resource}");
            assert_eq!(out.audit_event(), want.audit_event());
            assert_eq!(out.errors(), want.errors());
            assert_eq!(out.advice(), want.advice());
            assert_eq!(out.identity().is_some(), want.identity().is_some());
            assert_eq!(out.credential_error(), want.credential_error());
        }
        // The same references again and again (the decision keeps the
        // values it holds), then other ones, then the first ones again.
        let (read, q3) = (uid(r#"Action::"read""#), uid(r#"Doc::"q3""#));
        let (approve, inv) = (uid(r#"Action::"approve""#), uid(r#"Invoice::"7""#));
        for (cred, action, resource) in [
            (alice.as_str(), &read, &q3),
            (alice.as_str(), &read, &q3),
            (bob.as_str(), &read, &q3),
            (bob.as_str(), &approve, &inv),
            (bob.as_str(), &approve, &q3),
            (alice.as_str(), &read, &q3),
        ] {
            let want = m.authorize(
                Credential::detect(cred),
                action,
                resource,
                Record::default(),
                now(),
            );
            m.authorize_into(
                Credential::detect(cred),
                action,
                resource,
                Record::default(),
                now(),
                &mut out,
            );
            assert_eq!(out.to_json(), want.to_json(), "{cred} {action} {resource}");
            assert_eq!(out.principal(), want.principal());
            assert_eq!(out.action(), action);
            assert_eq!(out.resource(), resource);
            assert_eq!(
                out.identity().map(|i| i.subject().to_owned()),
                want.identity().map(|i| i.subject().to_owned())
            );
        }
    }
}
