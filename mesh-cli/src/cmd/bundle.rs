//! `mesh bundle`: build, sign, verify and inspect signed policy bundles.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use mesh_core::bundle::{Bundle, BundleBuilder, BundleError, PartKind};
use mesh_core::Timestamp;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

use crate::util;

/// Build, sign, verify and inspect signed policy bundles.
///
/// A bundle packs policies, schema, entity data, posture rules and policy
/// tests with a manifest (format version, revision, creation time, SHA-256 of
/// every part). Ed25519 signatures cover the manifest. A decision point
/// accepts a bundle only if a trusted key signed it, every digest matches and
/// its revision is newer than the active one.
#[derive(Debug, Subcommand)]
pub enum BundleCmd {
    /// Pack files into an unsigned (or, with --key, signed) bundle.
    ///
    /// Each file becomes a part named `<kind>/<file name>`; a directory adds
    /// every regular file in it (sorted, not recursive).
    Build(BuildArgs),
    /// Sign a bundle with a private key (replacing an earlier signature by
    /// the same key).
    Sign(SignArgs),
    /// Verify a bundle against trusted keys; exit code 1 if refused.
    ///
    /// Refusals have distinct kinds: `untrusted_key`, `bad_signature`,
    /// `digest_mismatch` (tampered part), `unsigned`, `rollback` and `replay`
    /// (with --active-revision), and parse errors (`truncated`,
    /// `trailing_data`, `unsupported_version`, `duplicate_part`, …).
    Verify(VerifyArgs),
    /// Show a bundle's manifest, parts, digests and signatures.
    Inspect(InspectArgs),
}

/// Arguments of `mesh bundle build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Bundle revision; every new bundle must have a higher one.
    #[arg(long)]
    pub revision: u64,
    /// Output file.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Policy files or directories (`policies/…` parts).
    #[arg(long = "policies", value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// Schema files (`schema/…` parts).
    #[arg(long = "schema", value_name = "PATH")]
    pub schema: Vec<PathBuf>,
    /// Entity JSON files (`entities/…` parts).
    #[arg(long = "entities", value_name = "PATH")]
    pub entities: Vec<PathBuf>,
    /// Posture rule files or directories (`posture/…` parts).
    #[arg(long = "posture", value_name = "PATH")]
    pub posture: Vec<PathBuf>,
    /// Policy test files or directories (`tests/…` parts).
    #[arg(long = "tests", value_name = "PATH")]
    pub tests: Vec<PathBuf>,
    /// Creation time in Unix seconds (default: now). Fix it for
    /// reproducible builds.
    #[arg(long)]
    pub created_at: Option<i64>,
    /// Sign with this private key right away.
    #[arg(long)]
    pub key: Option<PathBuf>,
}

/// Arguments of `mesh bundle sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The bundle file.
    pub bundle: PathBuf,
    /// The private key (PKCS#8 PEM, as written by `mesh keys generate`).
    #[arg(long)]
    pub key: PathBuf,
    /// Output file (default: sign in place).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// Arguments of `mesh bundle verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle file (`-` for standard input).
    pub bundle: PathBuf,
    /// A trusted public key: a `.pub` file or the base64 key (repeatable).
    #[arg(long, required = true)]
    pub trust: Vec<String>,
    /// The revision currently active; the bundle must be newer.
    #[arg(long)]
    pub active_revision: Option<u64>,
}

/// Arguments of `mesh bundle inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The bundle file (`-` for standard input).
    pub bundle: PathBuf,
}

pub fn run(cmd: BundleCmd, json_out: bool) -> Result<i32> {
    match cmd {
        BundleCmd::Build(a) => build(a, json_out),
        BundleCmd::Sign(a) => sign(a, json_out),
        BundleCmd::Verify(a) => verify(a, json_out),
        BundleCmd::Inspect(a) => inspect(a, json_out),
    }
}

fn files_in(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list `{}`", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        Ok(v)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

fn build(a: BuildArgs, json_out: bool) -> Result<i32> {
    let created = a
        .created_at
        .map_or_else(util::now, Timestamp::from_unix_seconds);
    let mut inputs: Vec<(PartKind, PathBuf)> = Vec::new();
    for (kind, paths) in [
        (PartKind::Policies, &a.policies),
        (PartKind::Schema, &a.schema),
        (PartKind::Entities, &a.entities),
        (PartKind::Posture, &a.posture),
        (PartKind::Tests, &a.tests),
    ] {
        for p in paths {
            for f in files_in(p)? {
                inputs.push((kind, f));
            }
        }
    }
    let bar = ProgressBar::new(inputs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} parts {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if inputs.len() < 50 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut builder = BundleBuilder::new(a.revision, created);
    for (kind, f) in &inputs {
        let file = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = format!("{}/{}", kind.prefix(), file);
        builder
            .part(name, util::read_bytes(f)?)
            .with_context(|| format!("`{}`", f.display()))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut bundle = builder.build()?;
    if let Some(k) = &a.key {
        bundle.sign(&util::read_signing_key(k)?)?;
    }
    util::write_file(&a.out, &bundle.to_bytes())?;
    if json_out {
        util::print_json(&describe(&bundle));
    } else {
        println!(
            "built {} (revision {}, {} parts, {})",
            a.out.display(),
            bundle.revision(),
            bundle.parts().count(),
            if bundle.signatures().is_empty() {
                "unsigned".to_owned()
            } else {
                format!(
                    "signed by {}",
                    bundle
                        .signatures()
                        .iter()
                        .map(|s| s.key_id().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    Ok(0)
}

fn sign(a: SignArgs, json_out: bool) -> Result<i32> {
    let key = util::read_signing_key(&a.key)?;
    let mut bundle = Bundle::parse(&util::read_bytes(&a.bundle)?)
        .with_context(|| format!("`{}`", a.bundle.display()))?;
    bundle.check_digests()?;
    bundle.sign(&key)?;
    let out = a.out.unwrap_or(a.bundle);
    util::write_file(&out, &bundle.to_bytes())?;
    if json_out {
        util::print_json(
            &json!({"bundle": out, "revision": bundle.revision(), "key_id": key.key_id().as_str()}),
        );
    } else {
        println!(
            "signed {} (revision {}) with {}",
            out.display(),
            bundle.revision(),
            key.key_id()
        );
    }
    Ok(0)
}

fn refusal(e: &BundleError, json_out: bool, file: &Path) -> i32 {
    if json_out {
        util::print_json(
            &json!({"ok": false, "bundle": file, "error": {"kind": e.kind().as_str(), "message": e.to_string()}}),
        );
    } else {
        eprintln!(
            "error: bundle `{}` refused: {e} [{}]",
            file.display(),
            e.kind().as_str()
        );
    }
    1
}

fn verify(a: VerifyArgs, json_out: bool) -> Result<i32> {
    let trust = util::trusted(&a.trust)?;
    let bytes = util::read_bytes(&a.bundle)?;
    let verified = match Bundle::parse(&bytes).and_then(|b| b.verify(&trust)) {
        Ok(v) => v,
        Err(e) => return Ok(refusal(&e, json_out, &a.bundle)),
    };
    if let Some(active) = a.active_revision {
        let rev = verified.revision();
        let err = match rev.cmp(&active) {
            std::cmp::Ordering::Less => Some(BundleError::Rollback {
                revision: rev,
                active,
            }),
            std::cmp::Ordering::Equal => Some(BundleError::Replay { revision: rev }),
            std::cmp::Ordering::Greater => None,
        };
        if let Some(e) = err {
            return Ok(refusal(&e, json_out, &a.bundle));
        }
    }
    let signers: Vec<&str> = verified.signed_by().iter().map(|k| k.as_str()).collect();
    if json_out {
        let mut d = describe(verified.bundle());
        if let Value::Object(m) = &mut d {
            m.insert("ok".into(), json!(true));
            m.insert("trusted_signers".into(), json!(signers));
        }
        util::print_json(&d);
    } else {
        println!(
            "ok: bundle `{}` revision {} verified (signed by {}; {} parts, all digests match)",
            a.bundle.display(),
            verified.revision(),
            signers.join(", "),
            verified.bundle().parts().count()
        );
    }
    Ok(0)
}

fn describe(b: &Bundle) -> Value {
    let m = b.manifest();
    json!({
        "format_version": m.format_version(),
        "revision": m.revision(),
        "created_at": m.created_at().unix_millis(),
        "manifest_sha256": m.digest_hex(),
        "parts": m.parts().iter().map(|p| json!({
            "name": p.name(), "size": p.size(), "sha256": p.sha256_hex(),
        })).collect::<Vec<_>>(),
        "signatures": b.signatures().iter().map(|s| json!({
            "key_id": s.key_id().as_str(), "public_key": s.key().to_base64(),
        })).collect::<Vec<_>>(),
    })
}

fn inspect(a: InspectArgs, json_out: bool) -> Result<i32> {
    let bundle = Bundle::parse(&util::read_bytes(&a.bundle)?)
        .with_context(|| format!("`{}`", a.bundle.display()))?;
    let digests = bundle.check_digests();
    if json_out {
        let mut d = describe(&bundle);
        if let Value::Object(m) = &mut d {
            m.insert("digests_ok".into(), json!(digests.is_ok()));
        }
        util::print_json(&d);
    } else {
        let m = bundle.manifest();
        println!("bundle {}", a.bundle.display());
        println!("  format version  {}", m.format_version());
        println!("  revision        {}", m.revision());
        println!(
            "  created at      {} (unix ms)",
            m.created_at().unix_millis()
        );
        println!("  manifest sha256 {}", m.digest_hex());
        println!("  parts ({}):", m.parts().len());
        for p in m.parts() {
            println!(
                "    {:<40} {:>9} bytes  sha256 {}",
                p.name(),
                p.size(),
                p.sha256_hex()
            );
        }
        match &digests {
            Ok(()) => println!("  digests         all parts match the manifest"),
            Err(e) => println!("  digests         MISMATCH: {e}"),
        }
        if bundle.signatures().is_empty() {
            println!("  signatures      none (unsigned)");
        }
        for s in bundle.signatures() {
            println!("  signed by       {} ({})", s.key_id(), s.key().to_base64());
        }
    }
    Ok(if digests.is_ok() { 0 } else { 1 })
}
