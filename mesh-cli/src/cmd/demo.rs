//! `mesh demo`: the end-to-end story on embedded defaults.

use anyhow::{anyhow, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use clap::Args;
use mesh_core::bundle::{BundleBuilder, SigningKey};
use mesh_core::config::{IssuerSection, MeshConfig, PolicySource, ResponseSection};
use mesh_core::events::sources::register_builtin;
use mesh_core::events::{NormalizeOptions, Normalizer};
use mesh_core::policy::{EntityUid, Record};
use mesh_core::report::{render_html, RenderOptions, ReportLimits, Summary};
use mesh_core::{AccessDecision, Credential, Mesh, Timestamp};
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use crate::cmd::authorize::print_decision;
use crate::cmd::token::hint;
use crate::util;

/// Run the end-to-end story: no server, no network, no files.
///
/// An identity provider issues tokens; mesh verifies them and decides
/// requests against inline policies (allow, deny, and a step-up MFA
/// challenge); a security team ships a signed policy bundle that is
/// hot-swapped in (a tampered and a rolled-back bundle are refused); a
/// subject is revoked and the next decision changes; finally a mixed batch
/// of raw telemetry is normalized, a brute force then success is detected
/// and the attacked user is revoked automatically. With --json, each step
/// is one JSON line. An HTML report of the run is written at the end.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the HTML report of the demo.
    #[arg(long, value_name = "PATH", default_value = "mesh-demo-report.html")]
    report: std::path::PathBuf,
}

/// Raw telemetry of the last act: CloudTrail, Okta, CEF and sshd lines.
const INCIDENT: &str = include_str!("../demo_data/incident.log");
/// The incident's clock: 18:05 UTC, two minutes after the attack.
const INCIDENT_NOW: i64 = 1_795_629_900;

const POLICIES: &str = r#"// Staff read documents; finance approves invoices after step-up MFA.
@id("staff-read")
@advice("reads are logged")
permit(principal in Group::"staff", action == Action::"read", resource);

@id("finance-approve-mfa")
@obligation("mfa")
permit(principal in Group::"finance", action == Action::"approve", resource);

@id("no-board-minutes")
forbid(principal, action, resource == Document::"board-minutes");
"#;

const POLICIES_V2: &str = r#"// Revision 2: contractors lose read access to design documents.
@id("staff-read")
permit(principal in Group::"staff", action == Action::"read", resource);

@id("finance-approve-mfa")
@obligation("mfa")
permit(principal in Group::"finance", action == Action::"approve", resource);

@id("no-board-minutes")
forbid(principal, action, resource == Document::"board-minutes");

@id("contractors-no-design")
forbid(principal in Group::"contractors", action == Action::"read", resource == Document::"design");
"#;

struct Story {
    json: bool,
    step: usize,
    summary: Summary,
    at: Timestamp,
}

impl Story {
    fn title(&mut self, text: &str) {
        self.step += 1;
        if !self.json {
            println!("\n{}. {text}", self.step);
        }
    }
    fn say(&self, text: &str) {
        if !self.json {
            println!("   {text}");
        }
    }
    fn emit(&self, v: Value) {
        if self.json {
            util::print_json(&v);
        }
    }
    fn decision(&mut self, who: &str, what: &str, d: &AccessDecision) {
        self.summary.observe_decision(d, self.at);
        if self.json {
            let mut v = d.to_json();
            if let Value::Object(m) = &mut v {
                m.insert("step".into(), json!(self.step));
                m.insert("who".into(), json!(who));
            }
            util::print_json(&v);
        } else {
            println!("   {who} wants to {what}:");
            print_decision(d, "     ");
        }
    }
}

struct Idp {
    pair: EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl Idp {
    fn new() -> Result<Idp> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow!("key generation failed"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| anyhow!("key generation failed"))?;
        Ok(Idp { pair, rng })
    }
    fn jwks(&self) -> Value {
        let p = self.pair.public_key().as_ref();
        let (x, y) = (
            p.get(1..33).unwrap_or_default(),
            p.get(33..65).unwrap_or_default(),
        );
        json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "demo-1", "alg": "ES256", "use": "sig",
                         "x": B64URL.encode(x), "y": B64URL.encode(y)}]})
    }
    fn token(&self, claims: &Value) -> Result<String> {
        let h = B64URL.encode(br#"{"alg":"ES256","kid":"demo-1","typ":"JWT"}"#);
        let input = format!("{h}.{}", B64URL.encode(claims.to_string()));
        let sig = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| anyhow!("signing failed"))?;
        Ok(format!("{input}.{}", B64URL.encode(sig.as_ref())))
    }
}

fn e(s: &str) -> Result<EntityUid> {
    EntityUid::parse(s).map_err(|e| anyhow!("{e}"))
}

pub fn run(a: DemoArgs, json_out: bool) -> Result<i32> {
    let now = util::now();
    let mut st = Story {
        json: json_out,
        step: 0,
        summary: Summary::new(ReportLimits::default())?,
        at: now,
    };
    let secs = now.unix_seconds();
    if !json_out {
        println!("mesh demo: one embedded decision point, end to end (no server, no network)");
    }

    st.title(
        "An identity provider (ES256) and a bundle-signing key are created; mesh trusts both.",
    );
    let idp = Idp::new()?;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow!("key generation failed"))?;
    let ci_key = SigningKey::from_pkcs8(pkcs8.as_ref())?;
    let config = MeshConfig {
        issuers: vec![IssuerSection {
            issuer: "https://idp.demo.example".into(),
            audiences: vec!["payments-api".into()],
            algorithms: vec!["ES256".into()],
            leeway_seconds: None,
            max_lifetime_seconds: None,
            required_claims: None,
            typ: None,
            kind: None,
            jwks: idp.jwks(),
        }],
        policies: vec![PolicySource {
            name: "inline.cedar".into(),
            text: POLICIES.into(),
        }],
        bundles: mesh_core::config::BundleSection {
            trusted_keys: vec![ci_key.verifying_key().to_base64()],
        },
        response: ResponseSection {
            auto_revoke: true,
            min_severity: "medium".into(),
            revoke_for_seconds: 3600,
        },
        ..MeshConfig::default()
    };
    let mesh = Mesh::from_config(&config)?;
    st.say("issuer https://idp.demo.example (audience payments-api, ES256 only)");
    st.say(&format!("bundle signing key {}", ci_key.key_id()));
    st.emit(json!({"step": st.step, "issuer": "https://idp.demo.example", "bundle_key": ci_key.key_id().as_str()}));

    st.title("Tokens are issued and verified.");
    let claims = |sub: &str, email: &str, groups: &[&str], amr: &[&str]| {
        json!({"iss": "https://idp.demo.example", "aud": "payments-api", "sub": sub, "email": email,
               "groups": groups, "amr": amr, "iat": secs - 5, "exp": secs + 900, "jti": format!("{sub}-{}", amr.len())})
    };
    let alice = idp.token(&claims("alice", "alice@demo.example", &["staff"], &["pwd"]))?;
    let bob = idp.token(&claims(
        "bob",
        "bob@demo.example",
        &["staff", "finance"],
        &["pwd"],
    ))?;
    let bob_mfa = idp.token(&claims(
        "bob",
        "bob@demo.example",
        &["staff", "finance"],
        &["pwd", "mfa"],
    ))?;
    let carol = idp.token(&claims(
        "carol",
        "carol@demo.example",
        &["staff", "contractors"],
        &["pwd"],
    ))?;
    let id = mesh
        .verify(Credential::Bearer(&alice), now)
        .map_err(|e| anyhow!("{e}"))?;
    st.say(&format!(
        "alice's token verifies: subject {}, actor {}, groups {}",
        id.subject(),
        id.actor_key(),
        id.groups().join(",")
    ));
    let forged = {
        let a: Vec<&str> = alice.split('.').collect();
        let b: Vec<&str> = bob.split('.').collect();
        format!(
            "{}.{}.{}",
            a.first().unwrap_or(&""),
            b.get(1).unwrap_or(&""),
            a.get(2).unwrap_or(&"")
        )
    };
    let why = match mesh.verify(Credential::Bearer(&forged), now) {
        Ok(_) => "unexpectedly accepted".to_owned(),
        Err(mesh_core::VerifyFailure::Rejected(e)) => {
            format!("{e} [{}] — {}", e.kind().as_str(), hint(e.kind().as_str()))
        }
        Err(other) => other.to_string(),
    };
    st.say(&format!(
        "a token with bob's claims under alice's signature is rejected: {why}"
    ));
    st.emit(json!({"step": st.step, "verified": id.subject(), "forged_rejected": why}));

    st.title("Requests are decided against the inline policies (revision 0).");
    let read = e(r#"Action::"read""#)?;
    let approve = e(r#"Action::"approve""#)?;
    let design = e(r#"Document::"design""#)?;
    let minutes = e(r#"Document::"board-minutes""#)?;
    let invoice = e(r#"Invoice::"INV-1042""#)?;
    let ask = |tok: &str, action: &EntityUid, res: &EntityUid| {
        mesh.authorize(Credential::Bearer(tok), action, res, Record::default(), now)
    };
    st.decision(
        "alice",
        "read Document::\"design\"",
        &ask(&alice, &read, &design),
    );
    st.decision(
        "alice",
        "read Document::\"board-minutes\"",
        &ask(&alice, &read, &minutes),
    );
    st.decision(
        "bob (password only)",
        "approve Invoice::\"INV-1042\"",
        &ask(&bob, &approve, &invoice),
    );
    st.decision(
        "bob (after step-up MFA)",
        "approve Invoice::\"INV-1042\"",
        &ask(&bob_mfa, &approve, &invoice),
    );
    st.decision(
        "carol (contractor)",
        "read Document::\"design\"",
        &ask(&carol, &read, &design),
    );

    st.title("The security team ships signed bundle revision 2; mesh verifies and hot-swaps it.");
    let build = |rev: u64, text: &str| -> Result<Vec<u8>> {
        let mut b = BundleBuilder::new(rev, Timestamp::from_unix_seconds(secs))
            .part("policies/main.cedar", text)?
            .build()?;
        b.sign(&ci_key)?;
        Ok(b.to_bytes())
    };
    let v2 = build(2, POLICIES_V2)?;
    let mut tampered = v2.clone();
    if let Some(pos) = tampered.windows(6).position(|w| w == b"forbid") {
        if let Some(b) = tampered.get_mut(pos) {
            *b = b'p';
        }
    }
    let refused = mesh
        .activate_bundle(&tampered)
        .err()
        .map(|e| format!("{e} [{}]", e.kind().as_str()))
        .unwrap_or_default();
    st.say(&format!("a tampered copy is refused: {refused}"));
    let rev = mesh.activate_bundle(&v2)?;
    st.say(&format!(
        "revision {rev} is active (signed by {})",
        ci_key.key_id()
    ));
    let v1 = build(1, POLICIES)?;
    let rollback = mesh
        .activate_bundle(&v1)
        .err()
        .map(|e| format!("{e} [{}]", e.kind().as_str()))
        .unwrap_or_default();
    st.say(&format!("an older revision is refused: {rollback}"));
    st.emit(
        json!({"step": st.step, "tampered": refused, "active_revision": rev, "rollback": rollback}),
    );
    st.decision(
        "carol (contractor)",
        "read Document::\"design\"",
        &ask(&carol, &read, &design),
    );

    st.title("alice's account is compromised: her sessions are revoked.");
    let before = ask(&alice, &read, &design);
    st.decision("alice (before)", "read Document::\"design\"", &before);
    mesh.revoke_subject(
        "alice@demo.example",
        Timestamp::from_unix_seconds(secs + 1),
        Timestamp::from_unix_seconds(secs + 86_400),
    )?;
    st.say("revoked alice@demo.example (every token issued before now); the set can be merged into other processes");
    st.decision(
        "alice (after)",
        "read Document::\"design\"",
        &ask(&alice, &read, &design),
    );

    incident(&mut st, &mesh, &idp, &read, &design)?;

    if !json_out {
        println!("\nEvery decision above also renders as an OCSF audit event (API Activity, class 6003), e.g.:");
        println!("{}", ask(&bob, &approve, &invoice).audit_event());
    }
    let html = render_html(
        &st.summary,
        &RenderOptions {
            now,
            title: "mesh demo".into(),
            ..RenderOptions::default()
        },
    );
    util::write_file(&a.report, html.as_bytes())?;
    if json_out {
        util::print_json(&json!({"report": a.report.display().to_string()}));
    } else {
        println!("\nHTML report of this run: {}", a.report.display());
    }
    Ok(0)
}

/// The last act: raw telemetry from several sources is normalized, the
/// correlation engine detects a brute force then success against bob, and
/// the finding revokes him; his next decision is denied.
fn incident(
    st: &mut Story,
    mesh: &Mesh,
    idp: &Idp,
    read: &EntityUid,
    design: &EntityUid,
) -> Result<()> {
    st.title("Telemetry from CloudTrail, Okta, a CEF gateway and sshd arrives; mesh normalizes it to OCSF, detects an attack and responds.");
    let t = Timestamp::from_unix_seconds(INCIDENT_NOW);
    st.at = t;
    let bob = idp.token(
        &json!({"iss": "https://idp.demo.example", "aud": "payments-api",
        "sub": "bob", "email": "bob@demo.example", "groups": ["staff"], "amr": ["pwd"],
        "iat": INCIDENT_NOW - 600, "exp": INCIDENT_NOW + 600, "jti": "bob-incident"}),
    )?;
    let ask = || mesh.authorize(Credential::Bearer(&bob), read, design, Record::default(), t);
    st.decision("bob (before)", "read Document::\"design\"", &ask());
    let mut normalizer = Normalizer::new(NormalizeOptions::default());
    register_builtin(&mut normalizer)?;
    let mut events = Vec::new();
    let mut failed = 0usize;
    for (_, r) in normalizer.normalize_lines(INCIDENT.as_bytes(), None, t) {
        match r.ok().and_then(|e| serde_json::to_value(&e).ok()) {
            Some(v) => events.push(v),
            None => failed += 1,
        }
    }
    let mut sources: Vec<String> = events
        .iter()
        .filter_map(|e| e.pointer("/metadata/product/name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    sources.sort();
    sources.dedup();
    st.say(&format!(
        "{} raw records normalized to OCSF ({failed} failed) from {}",
        events.len(),
        sources.join(", ")
    ));
    let mut findings = Vec::new();
    let mut applied = Vec::new();
    for e in &events {
        let _ = st.summary.observe_ocsf(e, t);
        if let Ok(o) = mesh.observe(e, t) {
            findings.extend(o.findings);
            applied.extend(o.applied);
        }
    }
    let o = mesh.flush_observations(t);
    findings.extend(o.findings);
    applied.extend(o.applied);
    for f in &findings {
        st.summary.observe_finding(f);
        st.say(&format!(
            "finding: {} [{}] for {} — {}",
            f.title,
            f.detection,
            f.actor.as_ref().map_or("-", |a| a.as_str()),
            f.desc
        ));
        st.emit(json!({"step": st.step, "finding": f.to_ocsf()}));
    }
    for r in &applied {
        st.say(&format!(
            "response applied: {} — {}",
            r.action.kind(),
            r.reason
        ));
        st.emit(json!({"step": st.step, "response": r.to_json()}));
    }
    st.decision("bob (after)", "read Document::\"design\"", &ask());
    Ok(())
}
