//! `mesh token verify`: verify a JWT and explain a rejection.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use mesh_core::config::{IssuerSection, MeshConfig};
use mesh_core::identity::{IdentityError, IssuerRegistry};
use serde_json::json;
use std::path::PathBuf;

use crate::util;

/// Work with bearer tokens (JWT/JWS).
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Verify a token and print the identity it proves, or why it is rejected.
    ///
    /// Trusted issuers come from a configuration (--config) or from
    /// --issuer/--jwks/--audience. Exit code 0 if the token is valid, 1 if it
    /// is rejected; the rejection names the check that failed (e.g.
    /// `expired`, `bad_audience`, `alg_not_allowed`, `unknown_kid`) with a hint.
    Verify(VerifyArgs),
}

/// Arguments of `mesh token verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The token (`-` reads it from standard input).
    pub token: String,
    /// A mesh configuration (TOML, or JSON if it ends in `.json`).
    #[arg(long, conflicts_with_all = ["issuer", "jwks"])]
    pub config: Option<PathBuf>,
    /// The trusted issuer (`iss`).
    #[arg(long, requires = "jwks")]
    pub issuer: Option<String>,
    /// The issuer's JWKS file.
    #[arg(long, requires = "issuer")]
    pub jwks: Option<PathBuf>,
    /// An accepted audience (repeatable).
    #[arg(long)]
    pub audience: Vec<String>,
    /// An allowed algorithm (repeatable; default ES256, RS256, EdDSA).
    #[arg(long = "alg")]
    pub algorithms: Vec<String>,
    /// Verify as of this Unix time in seconds (default: now).
    #[arg(long)]
    pub now: Option<i64>,
}

pub fn run(cmd: TokenCmd, json_out: bool) -> Result<i32> {
    match cmd {
        TokenCmd::Verify(a) => verify(a, json_out),
    }
}

/// A one-line hint for a rejection kind.
pub fn hint(kind: &str) -> &'static str {
    match kind {
        "expired" => "the token's `exp` is in the past (beyond the leeway): get a fresh token",
        "not_yet_valid" => "the token's `nbf` is in the future: check the clocks",
        "issued_in_future" => "the token's `iat` is in the future: check the issuer's clock",
        "bad_audience" => "the token's `aud` names none of the audiences this service accepts",
        "unknown_issuer" => "the token's `iss` is not a trusted issuer",
        "alg_none" => "unsigned tokens (`alg: none`) are never accepted",
        "alg_not_allowed" => {
            "the algorithm is not allowed for this issuer or key (e.g. RS/HS confusion)"
        }
        "unsupported_alg" => "the algorithm is not one mesh verifies",
        "unknown_kid" => "no trusted key has the token's `kid`: the issuer may have rotated keys",
        "bad_signature" => {
            "the signature does not match: the token was altered or signed by another key"
        }
        "forbidden_header" => "`jku`, `x5u` and embedded `jwk` headers are never trusted",
        "unknown_crit" => "the token requires a `crit` extension mesh does not understand",
        "missing_claim" => "a claim this issuer requires is absent",
        "invalid_claim" => "a claim has the wrong type or value",
        "lifetime_too_long" => "`exp` is further from `iat` than this issuer allows",
        "malformed" => "the token is not a well-formed compact JWS (three base64url parts)",
        "duplicate_key" => "the header or payload repeats a JSON member, which is ambiguous",
        "too_large" => "the token exceeds the size limit",
        "revoked" => "the subject, session, token or device has been revoked",
        _ => "see the error message",
    }
}

/// JSON for a rejected credential.
pub fn rejection_json(e: &IdentityError) -> serde_json::Value {
    let kind = e.kind().as_str();
    json!({"valid": false, "error": {"kind": kind, "message": e.to_string(), "hint": hint(kind)}})
}

fn verify(a: VerifyArgs, json_out: bool) -> Result<i32> {
    let token = if a.token == "-" {
        util::read_text(std::path::Path::new("-"))?
            .trim()
            .to_owned()
    } else {
        a.token.clone()
    };
    let registry: IssuerRegistry = if let Some(path) = &a.config {
        util::read_config(path)?.validate()?.issuers
    } else if let (Some(iss), Some(jwks)) = (&a.issuer, &a.jwks) {
        let cfg = MeshConfig {
            issuers: vec![IssuerSection {
                issuer: iss.clone(),
                audiences: a.audience.clone(),
                algorithms: a.algorithms.clone(),
                leeway_seconds: None,
                max_lifetime_seconds: None,
                required_claims: None,
                typ: None,
                kind: None,
                jwks: serde_json::Value::String(util::read_text(jwks)?),
            }],
            ..MeshConfig::default()
        };
        cfg.validate()?.issuers
    } else {
        bail!("give --config FILE, or --issuer ISS --jwks FILE");
    };
    let now = util::now_or(a.now);
    match registry.verify_token(&token, now) {
        Ok(v) => {
            let id = &v.identity;
            if json_out {
                util::print_json(&json!({
                    "valid": true,
                    "alg": v.header.alg.as_str(),
                    "kid": v.header.kid,
                    "actor": id.actor_key().as_str(),
                    "identity": id,
                }));
            } else {
                println!("valid token");
                println!("  subject   {} (actor {})", id.subject(), id.actor_key());
                println!("  issuer    {}", id.issuer());
                println!(
                    "  algorithm {} (kid {})",
                    v.header.alg.as_str(),
                    v.header.kid.as_deref().unwrap_or("-")
                );
                if !id.groups().is_empty() {
                    println!("  groups    {}", id.groups().join(", "));
                }
                if !id.auth().methods().is_empty() {
                    println!("  auth      {}", id.auth().methods().join(", "));
                }
                if let Some(exp) = id.expires_at() {
                    println!("  expires   {} (unix s)", exp.unix_seconds());
                }
            }
            Ok(0)
        }
        Err(e) => {
            if json_out {
                util::print_json(&rejection_json(&e));
            } else {
                let kind = e.kind().as_str();
                eprintln!("rejected: {e} [{kind}]");
                eprintln!("  why: {}", hint(kind));
            }
            Ok(1)
        }
    }
}
