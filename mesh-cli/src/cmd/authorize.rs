//! `mesh authorize`: one decision, explained.

use anyhow::{bail, Context, Result};
use clap::Args;
use mesh_core::policy::{EntityUid, Record, Request};
use mesh_core::{AccessDecision, Credential, Mesh};
use serde_json::{json, Value};
use std::path::PathBuf;

use crate::util;

/// Decide one request and explain the decision.
///
/// The request comes from flags, or from a JSON document (--request FILE,
/// `-` for stdin) with the same fields: `{"token" | "api_key" | "principal",
/// "action", "resource", "context"}`. Entities are written `Type::"id"`.
/// With a credential, mesh verifies it (issuers and API keys from
/// --config), applies revocations and grants, then decides; with
/// --principal it decides for that principal directly.
///
/// Exit codes: 0 allow; 1 deny or challenge; 2 usage error.
#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The mesh configuration (TOML, or JSON if it ends in `.json`).
    #[arg(long)]
    pub config: PathBuf,
    /// A signed bundle to activate first (verified against the config's
    /// trusted keys).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// The request as JSON (file, or `-` for stdin).
    #[arg(long, conflicts_with_all = ["token", "api_key", "principal", "action", "resource", "context"])]
    pub request: Option<PathBuf>,
    /// A bearer token.
    #[arg(long, conflicts_with_all = ["api_key", "principal"])]
    pub token: Option<String>,
    /// An API key.
    #[arg(long, conflicts_with = "principal")]
    pub api_key: Option<String>,
    /// A principal entity (no credential check), e.g. `User::"alice"`.
    #[arg(long)]
    pub principal: Option<String>,
    /// The action, e.g. `Action::"read"`.
    #[arg(long)]
    pub action: Option<String>,
    /// The resource, e.g. `Document::"q3"`.
    #[arg(long)]
    pub resource: Option<String>,
    /// The context as a JSON object.
    #[arg(long)]
    pub context: Option<String>,
    /// Decide as of this Unix time in seconds (default: now).
    #[arg(long)]
    pub now: Option<i64>,
    /// Also print the OCSF audit event (API Activity, class 6003).
    #[arg(long)]
    pub audit: bool,
}

/// Text a person reads for one decision.
pub fn print_decision(d: &AccessDecision, indent: &str) {
    let head = match d.outcome() {
        mesh_core::AccessOutcome::Allow => "ALLOW".to_owned(),
        mesh_core::AccessOutcome::Deny => "DENY".to_owned(),
        mesh_core::AccessOutcome::Challenge { obligation, .. } => {
            format!("CHALLENGE ({obligation})")
        }
    };
    println!(
        "{indent}{head}  [{}]  bundle revision {}",
        d.reason(),
        d.revision()
    );
    println!("{indent}  {}", d.explain());
    for a in d.advice() {
        println!("{indent}  advice: {a}");
    }
}

fn uid(field: &str, text: Option<&str>) -> Result<EntityUid> {
    let Some(t) = text else {
        bail!("missing --{field}");
    };
    EntityUid::parse(t).with_context(|| format!("--{field} `{t}`"))
}

fn context_record(ctx: Option<&Value>) -> Result<Record> {
    let Some(ctx) = ctx else {
        return Ok(Record::default());
    };
    let req = Request::from_json(&json!({
        "principal": "Any::\"x\"", "action": "Action::\"x\"", "resource": "Any::\"x\"", "context": ctx,
    }))
    .context("context")?;
    Ok(req.context().clone())
}

pub fn run(a: AuthorizeArgs, json_out: bool) -> Result<i32> {
    let mesh = Mesh::from_config(&util::read_config(&a.config)?)
        .with_context(|| format!("`{}`", a.config.display()))?;
    if let Some(b) = &a.bundle {
        let rev = mesh
            .activate_bundle(&util::read_bytes(b)?)
            .with_context(|| format!("bundle `{}` refused", b.display()))?;
        if !json_out {
            println!("activated bundle revision {rev}");
        }
    }
    let req: Value = match &a.request {
        Some(p) => serde_json::from_str(&util::read_text(p)?).context("--request: invalid JSON")?,
        None => {
            let ctx = match &a.context {
                Some(c) => {
                    Some(serde_json::from_str::<Value>(c).context("--context: invalid JSON")?)
                }
                None => None,
            };
            json!({"token": a.token, "api_key": a.api_key, "principal": a.principal,
                   "action": a.action, "resource": a.resource, "context": ctx})
        }
    };
    let s = |k: &str| req.get(k).and_then(Value::as_str);
    let action = uid("action", s("action"))?;
    let resource = uid("resource", s("resource"))?;
    let context = context_record(req.get("context").filter(|v| !v.is_null()))?;
    let now = util::now_or(a.now);
    let d = if let Some(t) = s("token") {
        mesh.authorize(Credential::Bearer(t), &action, &resource, context, now)
    } else if let Some(k) = s("api_key") {
        mesh.authorize(Credential::ApiKey(k), &action, &resource, context, now)
    } else if let Some(p) = s("principal") {
        let principal = uid("principal", Some(p))?;
        mesh.decide(&Request::new(principal, action, resource, context))
    } else {
        bail!("give a credential (--token, --api-key) or --principal");
    };
    if json_out {
        let mut v = d.to_json();
        if let (true, Value::Object(m)) = (a.audit, &mut v) {
            m.insert("audit".into(), d.audit_event());
        }
        util::print_json(&v);
    } else {
        print_decision(&d, "");
        if a.audit {
            println!("  audit: {}", d.audit_event());
        }
    }
    Ok(if d.is_allowed() { 0 } else { 1 })
}
