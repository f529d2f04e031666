//! `mesh`: the command-line tool of the mesh decision core.
//!
//! Exit codes: 0 success; 1 the input was checked and refused (invalid
//! token, refused bundle, failing policy check or test, denied decision
//! with `--exit-code`); 2 usage or I/O error.

mod cmd;
mod util;

use clap::{Parser, Subcommand};

/// mesh: identity, policy and telemetry for a Cybersecurity Mesh, from the
/// command line.
///
/// Sign and ship policy bundles, verify tokens, and inspect what an embedded
/// mesh decision point would do. Every command prints readable text, or one
/// JSON document per result with --json.
///
/// Exit codes: 0 success; 1 the input was checked and refused (invalid token,
/// refused bundle, failing check); 2 usage or I/O error.
#[derive(Debug, Parser)]
#[command(name = "mesh", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the end-to-end story: tokens, decisions, a step-up challenge, a
    /// signed bundle hot-swap and a revocation (no server, no network).
    Demo(cmd::demo::DemoArgs),
    /// Decide one request and explain the decision.
    Authorize(cmd::authorize::AuthorizeArgs),
    /// Check and test policies as code.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCmd),
    /// Assess configuration documents against posture rules (OCSF
    /// Compliance Findings).
    Posture(cmd::posture::PostureArgs),
    /// Build, sign, verify and inspect signed policy bundles.
    #[command(subcommand)]
    Bundle(cmd::bundle::BundleCmd),
    /// Generate bundle-signing keys.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCmd),
    /// Write a self-contained HTML report of coverage, decisions, findings and posture.
    Report(cmd::report::ReportCmd),
    /// Verify bearer tokens and explain rejections.
    #[command(subcommand)]
    Token(cmd::token::TokenCmd),
    /// Normalize raw telemetry records to OCSF NDJSON.
    Normalize(cmd::normalize::NormalizeArgs),
    /// Detect threats in OCSF events: Detection Findings and responses.
    Detect(cmd::detect::DetectArgs),
}

fn main() {
    let cli = Cli::parse();
    let json_out = cli.json;
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(a, json_out),
        Command::Authorize(a) => cmd::authorize::run(a, json_out),
        Command::Policy(c) => cmd::policy::run(c, json_out),
        Command::Posture(a) => cmd::posture::run(a, json_out),
        Command::Bundle(c) => cmd::bundle::run(c, json_out),
        Command::Keys(c) => cmd::keys::run(c, json_out),
        Command::Token(c) => cmd::token::run(c, json_out),
        Command::Report(c) => cmd::report::run(c, json_out),
        Command::Normalize(a) => cmd::normalize::run(a, json_out),
        Command::Detect(a) => cmd::detect::run(a, json_out),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            if json_out {
                util::print_json(
                    &serde_json::json!({"error": {"kind": "usage", "message": format!("{e:#}")}}),
                );
            } else {
                eprintln!("error: {e:#}");
            }
            std::process::exit(2);
        }
    }
}
