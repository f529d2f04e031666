//! Shared helpers: reading inputs, key files, the clock, output.

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use mesh_core::bundle::{SigningKey, TrustedKeys, VerifyingKey};
use mesh_core::config::MeshConfig;
use mesh_core::Timestamp;
use std::io::Read as _;
use std::path::Path;

/// Largest file the CLI reads, in bytes (128 MiB).
const MAX_FILE: u64 = 128 * 1024 * 1024;

/// Reads a file (or stdin for `-`), bounded.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX_FILE + 1)
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
    } else {
        let f = std::fs::File::open(path)
            .with_context(|| format!("cannot open `{}`", path.display()))?;
        f.take(MAX_FILE + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
    }
    if buf.len() as u64 > MAX_FILE {
        bail!("`{}` is larger than {MAX_FILE} bytes", path.display());
    }
    Ok(buf)
}

/// Reads a UTF-8 text file (or stdin for `-`).
pub fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read_bytes(path)?)
        .with_context(|| format!("`{}` is not UTF-8 text", path.display()))
}

/// Writes a file, creating or replacing it.
pub fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data).with_context(|| format!("cannot write `{}`", path.display()))
}

/// The current time from the system clock (the CLI, not mesh-core, reads it).
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_unix_millis(ms)
}

/// `--now SECONDS` if given, else the clock.
pub fn now_or(seconds: Option<i64>) -> Timestamp {
    seconds.map_or_else(now, Timestamp::from_unix_seconds)
}

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// PEM text of a PKCS#8 private key.
pub fn pkcs8_to_pem(der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = String::from(PEM_BEGIN);
    out.push('\n');
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(PEM_END);
    out.push('\n');
    out
}

/// Reads a signing key: PEM `PRIVATE KEY` or raw PKCS#8 DER.
pub fn read_signing_key(path: &Path) -> Result<SigningKey> {
    let raw = read_bytes(path)?;
    let der = match std::str::from_utf8(&raw) {
        Ok(text) if text.contains(PEM_BEGIN) => {
            let body: String = text
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .concat();
            B64.decode(body.trim())
                .with_context(|| format!("`{}`: invalid PEM base64", path.display()))?
        }
        _ => raw,
    };
    SigningKey::from_pkcs8(&der).with_context(|| format!("`{}`", path.display()))
}

/// Reads a public key file: base64 of the raw 32-byte Ed25519 key (the
/// `.pub` file `mesh keys generate` writes), or the base64 itself.
pub fn read_verifying_key(spec: &str) -> Result<VerifyingKey> {
    let path = Path::new(spec);
    let text = if path.exists() {
        read_text(path)?
    } else {
        spec.to_owned()
    };
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    VerifyingKey::from_base64(first).with_context(|| format!("public key `{spec}`"))
}

/// Trusted keys from `--trust` arguments.
pub fn trusted(specs: &[String]) -> Result<TrustedKeys> {
    let mut t = TrustedKeys::new();
    for s in specs {
        t.insert(read_verifying_key(s)?);
    }
    Ok(t)
}

/// Reads a configuration document: JSON if the file ends in `.json`, TOML otherwise.
pub fn read_config(path: &Path) -> Result<MeshConfig> {
    let text = read_text(path)?;
    let cfg = if path.extension().is_some_and(|e| e == "json") {
        MeshConfig::from_json(&text)
    } else {
        MeshConfig::from_toml(&text)
    };
    cfg.with_context(|| format!("`{}`", path.display()))
}

/// Prints a JSON value on one line.
pub fn print_json(v: &serde_json::Value) {
    println!("{v}");
}
