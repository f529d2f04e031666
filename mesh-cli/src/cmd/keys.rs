//! `mesh keys`: bundle-signing keys.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use mesh_core::bundle::SigningKey;
use serde_json::json;
use std::path::PathBuf;

use crate::util;

/// Manage Ed25519 keys that sign policy bundles.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Generate a new Ed25519 signing key pair.
    ///
    /// Writes OUT.key (PKCS#8 PEM private key, file mode 0600 where
    /// supported) and OUT.pub (base64 of the raw 32-byte public key, the form
    /// a configuration's `bundles.trusted_keys` and `--trust` take). Prints
    /// the key id (`ed25519:` + 16 hex digits) and the public key.
    Generate(GenerateArgs),
}

/// Arguments of `mesh keys generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Path prefix of the files to write (OUT.key and OUT.pub).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

pub fn run(cmd: KeysCmd, json_out: bool) -> Result<i32> {
    match cmd {
        KeysCmd::Generate(a) => generate(a, json_out),
    }
}

fn generate(a: GenerateArgs, json_out: bool) -> Result<i32> {
    let key_path = a.out.with_extension("key");
    let pub_path = a.out.with_extension("pub");
    if !a.force && (key_path.exists() || pub_path.exists()) {
        bail!(
            "`{}` or `{}` already exists (use --force to replace)",
            key_path.display(),
            pub_path.display()
        );
    }
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    let key = SigningKey::from_pkcs8(pkcs8.as_ref())?;
    write_private(&key_path, util::pkcs8_to_pem(pkcs8.as_ref()).as_bytes())?;
    let public = key.verifying_key().to_base64();
    util::write_file(
        &pub_path,
        format!("{public}\n# key id {}\n", key.key_id()).as_bytes(),
    )?;
    if json_out {
        util::print_json(&json!({
            "key_id": key.key_id().as_str(),
            "public_key": public,
            "private_key_file": key_path,
            "public_key_file": pub_path,
        }));
    } else {
        println!("generated Ed25519 key {}", key.key_id());
        println!("  private key: {} (keep secret)", key_path.display());
        println!("  public key:  {} ({public})", pub_path.display());
    }
    Ok(0)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, data: &[u8]) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, data: &[u8]) -> Result<()> {
    util::write_file(path, data)
}
