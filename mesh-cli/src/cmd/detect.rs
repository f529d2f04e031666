//! `mesh detect`: OCSF events in, Detection Findings (and the responses a
//! policy would take) out.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use mesh_core::analytics::{
    Admission, Analytics, CorrelatorConfig, Finding, IntelSet, ResponsePolicy, SigmaRuleSet,
};

use crate::util;

/// Run the analytics over OCSF events (NDJSON) and write Detection Findings
/// (OCSF class 2004), one JSON object per line, on standard output.
///
/// The built-in correlation detections always run; Sigma rules and STIX
/// indicators are added with --sigma and --intel. A summary (counts, late
/// events) goes to standard error. Exit code 1 when an input line was not
/// an OCSF event.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// OCSF NDJSON input files (default: standard input; `-` is standard input).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Sigma rule files (YAML, one or more documents each).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    sigma: Vec<PathBuf>,
    /// STIX 2.1 bundle of indicators.
    #[arg(long, value_name = "STIX.json")]
    intel: Option<PathBuf>,
    /// Response policy: print the responses (revocations, OpenC2 commands)
    /// it would take for each finding.
    #[arg(long, value_name = "POLICY.json")]
    response: Option<PathBuf>,
}

/// Runs the command; returns the exit code.
pub fn run(a: DetectArgs, json_out: bool) -> Result<i32> {
    let mut analytics = Analytics::new(CorrelatorConfig::default());
    let mut sigma_rules = 0usize;
    if !a.sigma.is_empty() {
        let mut set = SigmaRuleSet::default();
        for p in &a.sigma {
            sigma_rules += set
                .add_yaml(&util::read_text(p)?)
                .with_context(|| format!("in `{}`", p.display()))?;
        }
        analytics.set_sigma(set);
    }
    let mut indicators = 0usize;
    if let Some(p) = &a.intel {
        let mut intel = IntelSet::new();
        indicators = intel
            .load_bundle(&util::read_text(p)?)
            .with_context(|| format!("in `{}`", p.display()))?;
        analytics.set_intel(intel);
    }
    if let Some(p) = &a.response {
        let policy = ResponsePolicy::from_json(&util::read_text(p)?)
            .with_context(|| format!("in `{}`", p.display()))?;
        analytics.set_policy(policy);
    }
    let files = if a.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        a.files
    };
    let (mut events, mut invalid, mut late, mut findings, mut responses) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut out = Vec::new();
    let mut emit = |analytics: &mut Analytics, batch: &mut Vec<Finding>| {
        for f in batch.iter() {
            println!("{}", f.to_ocsf());
        }
        findings += batch.len() as u64;
        for r in analytics.respond(batch) {
            responses += 1;
            if json_out {
                eprintln!("{}", serde_json::json!({"response": r.to_json()}));
            } else {
                eprintln!(
                    "response: {} ({}, rule `{}`): {}",
                    r.action.kind(),
                    r.detection,
                    r.rule_id,
                    r.reason
                );
            }
        }
        batch.clear();
    };
    for path in &files {
        let text = util::read_text(path)?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            // The line as text: without Sigma rules or intelligence only the
            // fields correlation needs are read.
            let admitted = analytics
                .observe_json(line, &mut out)
                .map_err(|e| e.to_string());
            match admitted {
                Ok(Admission::Accepted) => events += 1,
                Ok(Admission::Late { .. }) => {
                    events += 1;
                    late += 1;
                }
                Err(message) => {
                    invalid += 1;
                    eprintln!(
                        "{}",
                        serde_json::json!({
                            "file": path.display().to_string(),
                            "line": i + 1,
                            "kind": "invalid_event",
                            "message": message,
                        })
                    );
                }
            }
            emit(&mut analytics, &mut out);
        }
    }
    analytics.flush(&mut out);
    emit(&mut analytics, &mut out);
    let stats = analytics.correlator().stats();
    if json_out {
        eprintln!(
            "{}",
            serde_json::json!({"summary": {
                "events": events, "invalid": invalid, "late": late,
                "findings": findings, "responses": responses,
                "sigma_rules": sigma_rules, "indicators": indicators,
                "tracked_actors": stats.tracked_actors,
            }})
        );
    } else {
        eprintln!(
            "{events} events ({late} late, {invalid} invalid), {findings} findings, {responses} responses"
        );
    }
    Ok(i32::from(invalid > 0))
}
