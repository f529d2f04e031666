//! `mesh normalize`: raw telemetry records in, OCSF NDJSON out.

use std::io::{BufReader, Write as _};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use mesh_core::events::sources::register_builtin;
use mesh_core::events::{NormalizeOptions, Normalizer};

use crate::util;

/// Normalize raw records (NDJSON or one record per line, any supported
/// format) to OCSF events, one JSON object per line on standard output.
///
/// Records that fail are reported on standard error as JSON lines
/// (`line`, `kind`, `message`). Exit code 1 when any record failed.
#[derive(Debug, Args)]
pub struct NormalizeArgs {
    /// Input files (default: standard input; `-` is standard input).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Source id to use for every record instead of detecting it.
    #[arg(long, value_name = "ID")]
    source: Option<String>,
    /// Normalization time in Unix seconds (default: the clock).
    #[arg(long, value_name = "SECS")]
    now: Option<i64>,
    /// Copy each original record into `raw_data`.
    #[arg(long)]
    keep_raw: bool,
}

/// Runs the command; returns the exit code.
pub fn run(a: NormalizeArgs, json_out: bool) -> Result<i32> {
    let now = util::now_or(a.now);
    let mut normalizer = Normalizer::new(NormalizeOptions {
        keep_raw_data: a.keep_raw,
        ..NormalizeOptions::default()
    });
    register_builtin(&mut normalizer).context("cannot register the built-in sources")?;
    if let Some(id) = &a.source {
        if normalizer.source(id).is_none() {
            let known: Vec<&str> = normalizer.source_ids().collect();
            anyhow::bail!("unknown source `{id}` (known: {})", known.join(", "));
        }
    }
    let files = if a.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        a.files
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut lines, mut events, mut failed) = (0u64, 0u64, 0u64);
    for path in &files {
        let name = path.display().to_string();
        let on_error = |line: u64, e: mesh_core::events::EventError| {
            let mut rec = serde_json::json!({
                "line": line,
                "kind": e.kind().as_str(),
                "message": e.to_string(),
            });
            if let (true, Some(obj)) = (files.len() > 1, rec.as_object_mut()) {
                obj.insert("file".into(), serde_json::Value::String(name.clone()));
            }
            eprintln!("{rec}");
        };
        let stats = if path.as_os_str() == "-" {
            let stdin = std::io::stdin();
            normalizer.normalize_stream(stdin.lock(), &mut out, a.source.as_deref(), now, on_error)
        } else {
            let f = std::fs::File::open(path)
                .with_context(|| format!("cannot open `{}`", path.display()))?;
            normalizer.normalize_stream(
                BufReader::new(f),
                &mut out,
                a.source.as_deref(),
                now,
                on_error,
            )
        }
        .with_context(|| format!("while normalizing `{name}`"))?;
        lines += stats.lines;
        events += stats.events;
        failed += stats.errors;
    }
    out.flush().context("cannot write standard output")?;
    if json_out {
        eprintln!(
            "{}",
            serde_json::json!({"summary": {"lines": lines, "events": events, "failed": failed}})
        );
    } else {
        eprintln!("normalized {events} of {lines} records, {failed} failed");
    }
    Ok(i32::from(failed > 0))
}
