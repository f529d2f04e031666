//! `mesh posture`: configuration documents → OCSF Compliance Findings.

use anyhow::{bail, Context, Result};
use clap::Args;
use mesh_core::posture::{assess, compile_rules, ConfigDocument};
use serde_json::Value;
use std::path::PathBuf;

use crate::util;

/// Assess configuration documents against posture rules.
///
/// Rules are `forbid` policies whose condition describes the failing state,
/// with `@id`, `@severity` (informational … critical) and `@description`.
/// Each document file holds `{"kind": "Bucket", "id": "logs", "attributes":
/// {…}}` or an array of them; the document is the rule's `resource`.
/// Prints one line per failing check, or with --json one OCSF Compliance
/// Finding (class 2003) per line. Exit codes: 0 compliant; 1 findings; 2
/// usage or I/O error.
#[derive(Debug, Args)]
pub struct PostureArgs {
    /// Configuration document files (JSON).
    #[arg(required = true)]
    pub documents: Vec<PathBuf>,
    /// Posture rule files (repeatable).
    #[arg(long = "rules", required = true)]
    pub rules: Vec<PathBuf>,
}

fn doc(v: &Value, file: &str) -> Result<ConfigDocument> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(kind), Some(id)) = (s("kind"), s("id")) else {
        bail!("`{file}`: a document needs string fields `kind` and `id`");
    };
    let attributes = v
        .get("attributes")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    Ok(ConfigDocument {
        kind,
        id,
        attributes,
    })
}

pub fn run(a: PostureArgs, json_out: bool) -> Result<i32> {
    let mut sources = Vec::new();
    for r in &a.rules {
        sources.push((r.display().to_string(), util::read_text(r)?));
    }
    let rules = match compile_rules(sources.iter().map(|(n, t)| (n.as_str(), t.as_str()))) {
        Ok(r) => r,
        Err(mesh_core::policy::PolicyError::Source(d)) => {
            eprintln!("{}", d.render());
            return Ok(2);
        }
        Err(e) => return Err(e.into()),
    };
    let mut docs = Vec::new();
    for f in &a.documents {
        let name = f.display().to_string();
        let v: Value = serde_json::from_str(&util::read_text(f)?)
            .with_context(|| format!("`{name}`: invalid JSON"))?;
        match &v {
            Value::Array(items) => {
                for i in items {
                    docs.push(doc(i, &name)?);
                }
            }
            _ => docs.push(doc(&v, &name)?),
        }
    }
    let findings = assess(&rules, &docs)?;
    let now = util::now();
    for f in &findings {
        if json_out {
            util::print_json(&f.to_ocsf(now));
        } else {
            println!(
                "FAIL  {:<9} {:<28} {}  {}",
                f.severity, f.rule, f.resource, f.condition
            );
            if let Some(e) = &f.error {
                println!("      (evaluation error, failed closed: {e})");
            }
        }
    }
    if !json_out {
        println!("{} document(s), {} finding(s)", docs.len(), findings.len());
    }
    Ok(if findings.is_empty() { 0 } else { 1 })
}
