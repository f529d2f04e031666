//! `mesh policy check|test|fmt`: policies as code, in CI.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use mesh_core::policy::{
    check, format_policies, parse_policies, Entities, PolicyError, PolicySet, Schema, TestSuite,
};
use serde_json::json;
use std::path::{Path, PathBuf};

use crate::util;

/// Check and test policies (exit codes a CI pipeline can use).
#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Parse policy files and, with --schema, validate them against it.
    ///
    /// Every error is printed as `file:line:column: message` with the
    /// source line and a caret under the offending text. Exit codes: 0 all
    /// files are valid; 1 at least one error; 2 usage or I/O error.
    Check(CheckArgs),
    /// Run policy test cases (request → expected decision) against policies.
    ///
    /// Test files are JSON arrays of cases. Exit codes: 0 every case passed;
    /// 1 a case failed or a file is invalid; 2 usage or I/O error.
    Test(TestArgs),
    /// Format policy files in the canonical layout (in place).
    ///
    /// The canonical layout keeps annotations but not `//` comments: a file
    /// with comments is rewritten only with --drop-comments. With --check
    /// nothing is written. Exit codes: 0 every file is formatted (or was
    /// rewritten); 1 a file is not formatted (--check), does not parse, or
    /// has comments; 2 usage or I/O error.
    Fmt(FmtArgs),
}

/// Arguments of `mesh policy fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Policy files (Cedar syntax).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Only report the files that are not formatted; write nothing.
    #[arg(long)]
    pub check: bool,
    /// Rewrite files that contain `//` comments (the comments are lost).
    #[arg(long)]
    pub drop_comments: bool,
}

/// Arguments of `mesh policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy files (Cedar syntax).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// A schema (`.cedarschema`) to validate against.
    #[arg(long)]
    pub schema: Option<PathBuf>,
}

/// Arguments of `mesh policy test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test-case files (JSON).
    #[arg(required = true)]
    pub tests: Vec<PathBuf>,
    /// Policy files (repeatable).
    #[arg(long = "policies", required = true)]
    pub policies: Vec<PathBuf>,
    /// Entity JSON file.
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// A schema (`.cedarschema`); request contexts are conformed to it.
    #[arg(long)]
    pub schema: Option<PathBuf>,
}

pub fn run(cmd: PolicyCmd, json_out: bool) -> Result<i32> {
    match cmd {
        PolicyCmd::Check(a) => run_check(a, json_out),
        PolicyCmd::Test(a) => run_test(a, json_out),
        PolicyCmd::Fmt(a) => run_fmt(a, json_out),
    }
}

fn run_fmt(a: FmtArgs, json_out: bool) -> Result<i32> {
    let mut bad = 0usize;
    for f in &a.files {
        let src = util::read_text(f)?;
        let (status, message) = match parse_policies(&src, &name(f)) {
            Err(e) => {
                let msg = match &e {
                    PolicyError::Source(d) => d.render(),
                    other => other.to_string(),
                };
                ("error", Some(msg))
            }
            Ok(policies) => {
                let out = format_policies(&policies);
                if out == src {
                    ("formatted", None)
                } else if a.check {
                    ("unformatted", None)
                } else if src.contains("//") && !a.drop_comments {
                    (
                        "has_comments",
                        Some(format!(
                            "`{}` has `//` comments the canonical layout drops; rewrite with --drop-comments",
                            name(f)
                        )),
                    )
                } else {
                    util::write_file(f, out.as_bytes())?;
                    ("rewritten", None)
                }
            }
        };
        if matches!(status, "error" | "unformatted" | "has_comments") {
            bad += 1;
        }
        if json_out {
            util::print_json(&json!({"file": name(f), "status": status, "message": message}));
        } else {
            match (status, &message) {
                (_, Some(m)) => eprintln!("{m}"),
                ("unformatted", None) => println!("{}: not formatted", name(f)),
                ("rewritten", None) => println!("{}: formatted", name(f)),
                _ => {}
            }
        }
    }
    Ok(i32::from(bad > 0))
}

fn name(p: &Path) -> String {
    p.display().to_string()
}

fn load_schema(path: Option<&PathBuf>) -> Result<Option<Schema>> {
    let Some(p) = path else {
        return Ok(None);
    };
    let text = util::read_text(p)?;
    Schema::from_cedarschema(&text, &name(p))
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn run_check(a: CheckArgs, json_out: bool) -> Result<i32> {
    let schema = load_schema(a.schema.as_ref())?;
    let mut failed = 0usize;
    let mut total = 0usize;
    for f in &a.files {
        let src = util::read_text(f)?;
        match check(&src, &name(f), schema.as_ref()) {
            Ok(policies) => {
                total += policies.len();
                if json_out {
                    util::print_json(
                        &json!({"file": name(f), "ok": true, "policies": policies.len()}),
                    );
                }
            }
            Err(diags) => {
                failed += 1;
                if json_out {
                    util::print_json(
                        &json!({"file": name(f), "ok": false, "diagnostics": diags.iter().map(|d| json!({
                        "kind": format!("{:?}", d.kind()).to_lowercase(),
                        "line": d.line(), "column": d.column(), "message": d.message(), "help": d.help(),
                    })).collect::<Vec<_>>()}),
                    );
                } else {
                    for d in &diags {
                        eprintln!("{}", d.render());
                    }
                }
            }
        }
    }
    if !json_out {
        if failed == 0 {
            println!(
                "ok: {} file(s), {total} policies{}",
                a.files.len(),
                if schema.is_some() {
                    ", valid against the schema"
                } else {
                    ""
                }
            );
        } else {
            eprintln!("{failed} of {} file(s) have errors", a.files.len());
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

fn run_test(a: TestArgs, json_out: bool) -> Result<i32> {
    let schema = load_schema(a.schema.as_ref())?;
    let mut all = Vec::new();
    for p in &a.policies {
        let src = util::read_text(p)?;
        match mesh_core::policy::parse_policies(&src, &name(p)) {
            Ok(v) => all.extend(v),
            Err(mesh_core::policy::PolicyError::Source(d)) => {
                eprintln!("{}", d.render());
                return Ok(1);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let set = PolicySet::from_policies(all).context("policies")?;
    let entities = match &a.entities {
        Some(p) => Entities::from_json_str(&util::read_text(p)?).with_context(|| name(p))?,
        None => Entities::new(),
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for t in &a.tests {
        let suite = match TestSuite::from_json_str(&util::read_text(t)?, &name(t)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
                continue;
            }
        };
        let report = suite.run(&set, &entities, schema.as_ref());
        for r in &report.results {
            if r.passed() {
                passed += 1;
            } else {
                failed += 1;
            }
            if json_out {
                util::print_json(
                    &json!({"file": name(t), "case": r.name, "passed": r.passed(), "mismatches": r.mismatches}),
                );
            } else if r.passed() {
                println!("ok    {} :: {}", name(t), r.name);
            } else {
                println!("FAIL  {} :: {}", name(t), r.name);
                for m in &r.mismatches {
                    println!("      {m}");
                }
            }
        }
    }
    if !json_out {
        println!("{passed} passed, {failed} failed");
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
