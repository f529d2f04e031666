//! `mesh report`: one self-contained HTML page from events, findings,
//! decisions and saved summaries.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use mesh_core::report::{render_html, DecisionRecord, RenderOptions, ReportLimits, Summary};

use crate::util;

/// Most bytes read from one input file.
const MAX_INPUT: usize = 512 * 1024 * 1024;

/// Write a self-contained HTML report (coverage, events, decisions, findings,
/// posture, bundle revision).
#[derive(Debug, Args)]
pub struct ReportCmd {
    /// OCSF events as NDJSON (one record per line; Detection Findings 2004 and
    /// Compliance Findings 2003 included). Repeatable.
    #[arg(long = "events", value_name = "FILE")]
    events: Vec<PathBuf>,
    /// Decisions as JSON lines (`{"time":ms,"outcome":"allow|deny|challenge","principal":..,"policies":[..],"revision":n}`). Repeatable.
    #[arg(long = "decisions", value_name = "FILE")]
    decisions: Vec<PathBuf>,
    /// A summary JSON written earlier with --summary-out, to start from.
    #[arg(long = "summary", value_name = "FILE")]
    summary: Option<PathBuf>,
    /// Also write the summary as JSON here.
    #[arg(long = "summary-out", value_name = "FILE")]
    summary_out: Option<PathBuf>,
    /// Where to write the HTML.
    #[arg(long, default_value = "report.html")]
    out: PathBuf,
    /// The report's time, in Unix seconds (default: the clock).
    #[arg(long)]
    now: Option<i64>,
    /// A source silent for longer than this many seconds is a coverage gap.
    #[arg(long = "silence-threshold", default_value_t = 900)]
    silence_threshold: u64,
    /// Width of one time bucket in seconds.
    #[arg(long = "bucket", default_value_t = 60)]
    bucket: i64,
    /// Page title.
    #[arg(long, default_value = "mesh report")]
    title: String,
}

/// Runs the command; returns the exit code.
pub fn run(c: ReportCmd, json_out: bool) -> Result<i32> {
    let now = util::now_or(c.now);
    let mut summary = match &c.summary {
        Some(p) => Summary::from_json(&util::read_text(p)?)
            .with_context(|| format!("in `{}`", p.display()))?,
        None => Summary::new(ReportLimits {
            bucket_ms: c.bucket.saturating_mul(1000),
            ..ReportLimits::default()
        })?,
    };
    let mut skipped = 0u64;
    for p in &c.events {
        let text = util::read_text(p)?;
        if text.len() > MAX_INPUT {
            bail!("`{}` is larger than {MAX_INPUT} bytes", p.display());
        }
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let ok = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .map(|v| summary.observe_ocsf(&v, now).is_ok())
                .unwrap_or(false);
            if !ok {
                skipped += 1;
                eprintln!(
                    "warning: {}:{}: not an OCSF record, skipped",
                    p.display(),
                    i + 1
                );
            }
        }
    }
    for p in &c.decisions {
        let text = util::read_text(p)?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let r = DecisionRecord::from_json(line)
                .with_context(|| format!("{}:{}", p.display(), i + 1))?;
            summary.observe_decision_record(&r);
        }
    }
    let html = render_html(
        &summary,
        &RenderOptions {
            now,
            silence_threshold: Duration::from_secs(c.silence_threshold),
            title: c.title.clone(),
            ..RenderOptions::default()
        },
    );
    util::write_file(&c.out, html.as_bytes())?;
    if let Some(p) = &c.summary_out {
        util::write_file(p, summary.to_json().as_bytes())?;
    }
    if json_out {
        util::print_json(
            &serde_json::json!({"report": c.out.display().to_string(), "skipped": skipped}),
        );
    } else {
        println!("{}", c.out.display());
    }
    Ok(0)
}
