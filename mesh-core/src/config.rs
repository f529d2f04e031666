//! The configuration document of a [`Mesh`](crate::Mesh): what it trusts and
//! what it enforces, as TOML or JSON.
//!
//! `mesh-core` reads no files: the document holds content (JWKS, policy
//! text, entity JSON), and hosts (the CLI, the bindings) read the files.
//!
//! ```toml
//! # Trusted token issuers; each has its own keys, algorithms and audiences.
//! [[issuers]]
//! issuer = "https://idp.example.com"
//! audiences = ["payments-api"]
//! algorithms = ["ES256"]          # default: ["ES256", "RS256", "EdDSA"]
//! leeway_seconds = 60             # clock skew tolerated (default 60)
//! max_lifetime_seconds = 86400    # longest token lifetime (default 24 h)
//! kind = "human"                  # human | service | device
//! jwks = { keys = [ { kty = "EC", crv = "P-256", kid = "k1", x = "…", y = "…" } ] }
//!
//! # API keys: records hold only peppered digests (see `mesh keys`).
//! [api_keys]
//! pepper = "base64 of at least 32 secret bytes"
//! records = [ { key_id = "mesh_…", digest = "…", subject = "billing-job", kind = "service" } ]
//!
//! # Inline policies (or leave empty and ship signed bundles).
//! [[policies]]
//! name = "main.cedar"
//! text = 'permit(principal, action == Action::"read", resource);'
//!
//! # Entity data (Cedar entity JSON), as a JSON array.
//! entities = []
//!
//! # Keys whose signatures on bundles are accepted (base64 Ed25519).
//! [bundles]
//! trusted_keys = ["…"]
//!
//! # Identity-anchored response to analytics findings.
//! [response]
//! auto_revoke = true
//! min_severity = "high"
//! revoke_for_seconds = 3600
//!
//! [cache]
//! capacity = 10000
//! max_ttl_seconds = 300
//! ```
//!
//! Unknown fields are errors. Semantic errors name the field by its path,
//! e.g. `issuers[1].audiences`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use thiserror::Error;

use crate::bundle::{TrustedKeys, VerifyingKey as BundleKey};
use crate::identity::{Algorithm, ApiKeyStore, IdentityKind, IssuerConfig, IssuerRegistry, KeySet};

/// Largest configuration document accepted, in bytes (16 MiB).
pub const MAX_CONFIG_BYTES: usize = 16 * 1024 * 1024;

/// Why a configuration document was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The document is not valid TOML or JSON, or has an unknown or
    /// mistyped field.
    #[error("invalid {format} configuration at {line}:{column}: {message}")]
    Syntax {
        /// `toml` or `json`.
        format: &'static str,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// A field has an invalid value.
    #[error("invalid configuration field `{path}`: {message}")]
    Field {
        /// The field's path, e.g. `issuers[1].audiences`.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The document is larger than [`MAX_CONFIG_BYTES`].
    #[error("configuration is {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl ConfigError {
    /// The stable kind name: `syntax`, `field` or `too_large`.
    pub fn kind(&self) -> &'static str {
        match self {
            ConfigError::Syntax { .. } => "syntax",
            ConfigError::Field { .. } => "field",
            ConfigError::TooLarge { .. } => "too_large",
        }
    }

    /// The offending field path, for [`ConfigError::Field`].
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::Field { path, .. } => Some(path),
            _ => None,
        }
    }

    fn field(path: impl Into<String>, message: impl std::fmt::Display) -> ConfigError {
        ConfigError::Field {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// The configuration document (see the module docs for an example).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshConfig {
    /// Trusted token issuers.
    #[serde(default)]
    pub issuers: Vec<IssuerSection>,
    /// API keys.
    #[serde(default)]
    pub api_keys: Option<ApiKeySection>,
    /// Inline policy sources.
    #[serde(default)]
    pub policies: Vec<PolicySource>,
    /// Optional schema text the policies are checked against.
    #[serde(default)]
    pub schema: Option<String>,
    /// Entity data: a Cedar entity JSON array (or its text).
    #[serde(default)]
    pub entities: Option<Value>,
    /// Signed-bundle trust.
    #[serde(default)]
    pub bundles: BundleSection,
    /// Response to analytics findings.
    #[serde(default)]
    pub response: ResponseSection,
    /// Verified-token cache.
    #[serde(default)]
    pub cache: CacheSection,
}

impl std::fmt::Debug for MeshConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshConfig")
            .field("issuers", &self.issuers.len())
            .field("api_keys", &self.api_keys.as_ref().map(|a| a.records.len()))
            .field("policies", &self.policies.len())
            .field("bundles", &self.bundles)
            .field("response", &self.response)
            .field("cache", &self.cache)
            .finish()
    }
}

/// One trusted issuer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSection {
    /// The `iss` value.
    pub issuer: String,
    /// Accepted audiences (at least one).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Allowed algorithms (default `ES256`, `RS256`, `EdDSA`).
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// Clock skew tolerated, in seconds (default 60).
    #[serde(default)]
    pub leeway_seconds: Option<u64>,
    /// Longest token lifetime in seconds (default 86400; 0 disables).
    #[serde(default)]
    pub max_lifetime_seconds: Option<u64>,
    /// Claims that must be present (default `exp`, `iss`, `aud`, `sub`).
    #[serde(default)]
    pub required_claims: Option<Vec<String>>,
    /// Required `typ` header, if any.
    #[serde(default)]
    pub typ: Option<String>,
    /// Kind of principal the issuer vouches for (default `human`).
    #[serde(default)]
    pub kind: Option<IdentityKind>,
    /// The key set: a JWKS object, or its JSON text.
    pub jwks: Value,
}

/// API keys: a pepper and stored records (digests only).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySection {
    /// Base64 of the secret pepper (at least 32 bytes).
    pub pepper: String,
    /// Records as exported by `ApiKeyStore::export_json`.
    #[serde(default)]
    pub records: Vec<Value>,
}

impl std::fmt::Debug for ApiKeySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ApiKeySection(pepper redacted, {} records)",
            self.records.len()
        )
    }
}

/// One inline policy source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySource {
    /// A name for diagnostics (usually the file name).
    pub name: String,
    /// The policy text.
    pub text: String,
}

/// Which keys may sign bundles.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSection {
    /// Base64 raw Ed25519 public keys.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
}

/// How the fabric responds to analytics findings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSection {
    /// Revoke the actor of a finding automatically (default `false`).
    #[serde(default)]
    pub auto_revoke: bool,
    /// Lowest finding severity that triggers a response (default `high`).
    #[serde(default = "default_severity")]
    pub min_severity: String,
    /// How long an automatic revocation lasts, in seconds (default 3600).
    #[serde(default = "default_revoke_for")]
    pub revoke_for_seconds: u64,
}

impl Default for ResponseSection {
    fn default() -> Self {
        ResponseSection {
            auto_revoke: false,
            min_severity: default_severity(),
            revoke_for_seconds: default_revoke_for(),
        }
    }
}

fn default_severity() -> String {
    "high".to_owned()
}
fn default_revoke_for() -> u64 {
    3600
}

/// Severity names accepted by [`ResponseSection::min_severity`].
pub const SEVERITIES: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// Verified-token cache settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// Most cached identities (default 10000; 0 disables the cache).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// Longest time an identity stays cached, in seconds (default 300).
    #[serde(default = "default_ttl")]
    pub max_ttl_seconds: u64,
}

impl Default for CacheSection {
    fn default() -> Self {
        CacheSection {
            capacity: default_capacity(),
            max_ttl_seconds: default_ttl(),
        }
    }
}

fn default_capacity() -> usize {
    10_000
}
fn default_ttl() -> u64 {
    300
}

const DEFAULT_ALGORITHMS: [&str; 3] = ["ES256", "RS256", "EdDSA"];

impl MeshConfig {
    /// Parses a TOML document (syntax and field types only; see
    /// [`MeshConfig::validate`]).
    pub fn from_toml(text: &str) -> Result<MeshConfig, ConfigError> {
        check_len(text)?;
        toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            ConfigError::Syntax {
                format: "toml",
                line,
                column,
                message: e.message().to_owned(),
            }
        })
    }

    /// Parses a JSON document (syntax and field types only).
    pub fn from_json(text: &str) -> Result<MeshConfig, ConfigError> {
        check_len(text)?;
        serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
            format: "json",
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }

    /// Checks every field that can be checked without the policy engine
    /// and builds the identity and bundle parts.
    pub fn validate(&self) -> Result<ValidatedConfig, ConfigError> {
        let issuers = self.issuer_registry()?;
        let api_keys = self.api_key_store()?;
        let trusted_keys = self.trusted_keys()?;
        for (i, p) in self.policies.iter().enumerate() {
            if p.name.is_empty() {
                return Err(ConfigError::field(
                    format!("policies[{i}].name"),
                    "must not be empty",
                ));
            }
            if self.policies.iter().take(i).any(|q| q.name == p.name) {
                return Err(ConfigError::field(
                    format!("policies[{i}].name"),
                    format!("duplicate policy source `{}`", p.name),
                ));
            }
        }
        let entities = match &self.entities {
            None => None,
            Some(Value::String(s)) => Some(
                serde_json::from_str::<Value>(s)
                    .map_err(|e| ConfigError::field("entities", format!("not JSON: {e}")))?,
            ),
            Some(v) => Some(v.clone()),
        };
        if let Some(e) = &entities {
            if !e.is_array() {
                return Err(ConfigError::field(
                    "entities",
                    "must be a JSON array of entities",
                ));
            }
        }
        if !SEVERITIES.contains(&self.response.min_severity.as_str()) {
            return Err(ConfigError::field(
                "response.min_severity",
                format!(
                    "`{}` is not one of {}",
                    self.response.min_severity,
                    SEVERITIES.join(", ")
                ),
            ));
        }
        if self.response.revoke_for_seconds == 0 {
            return Err(ConfigError::field(
                "response.revoke_for_seconds",
                "must be at least 1",
            ));
        }
        Ok(ValidatedConfig {
            issuers,
            api_keys,
            trusted_keys,
            entities,
        })
    }

    fn issuer_registry(&self) -> Result<IssuerRegistry, ConfigError> {
        let mut reg = IssuerRegistry::new();
        for (i, sec) in self.issuers.iter().enumerate() {
            let at = |f: &str| format!("issuers[{i}].{f}");
            if sec.issuer.is_empty() {
                return Err(ConfigError::field(at("issuer"), "must not be empty"));
            }
            if self.issuers.iter().take(i).any(|o| o.issuer == sec.issuer) {
                return Err(ConfigError::field(
                    at("issuer"),
                    format!("duplicate issuer `{}`", sec.issuer),
                ));
            }
            let names: Vec<&str> = if sec.algorithms.is_empty() {
                DEFAULT_ALGORITHMS.to_vec()
            } else {
                sec.algorithms.iter().map(String::as_str).collect()
            };
            let mut algs: Vec<Algorithm> = Vec::with_capacity(names.len());
            for (j, n) in names.iter().enumerate() {
                let alg = n
                    .parse::<Algorithm>()
                    .map_err(|e| ConfigError::field(format!("issuers[{i}].algorithms[{j}]"), e))?;
                algs.push(alg);
            }
            let jwks = match &sec.jwks {
                Value::String(s) => s.as_bytes().to_vec(),
                v => serde_json::to_vec(v).map_err(|e| ConfigError::field(at("jwks"), e))?,
            };
            let keys = KeySet::from_jwks(&jwks).map_err(|e| ConfigError::field(at("jwks"), e))?;
            if keys.is_empty() {
                return Err(ConfigError::field(at("jwks"), "no usable key"));
            }
            let mut cfg = IssuerConfig::new(sec.issuer.clone(), keys, &algs);
            for a in &sec.audiences {
                if a.is_empty() {
                    return Err(ConfigError::field(at("audiences"), "empty audience"));
                }
                cfg = cfg.audience(a.clone());
            }
            if let Some(l) = sec.leeway_seconds {
                if l > 3600 {
                    return Err(ConfigError::field(at("leeway_seconds"), "at most 3600"));
                }
                cfg = cfg.leeway(Duration::from_secs(l));
            }
            if let Some(m) = sec.max_lifetime_seconds {
                cfg = cfg.max_lifetime((m > 0).then(|| Duration::from_secs(m)));
            }
            if let Some(r) = &sec.required_claims {
                cfg = cfg.required_claims(r.iter().cloned());
            }
            if let Some(t) = &sec.typ {
                cfg = cfg.typ(t.clone());
            }
            if let Some(k) = sec.kind {
                cfg = cfg.kind(k);
            }
            reg.add(cfg).map_err(|e| {
                let field = if e.to_string().contains("aud") {
                    "audiences"
                } else {
                    "issuer"
                };
                ConfigError::field(at(field), e)
            })?;
        }
        Ok(reg)
    }

    fn api_key_store(&self) -> Result<Option<ApiKeyStore>, ConfigError> {
        use base64::Engine as _;
        let Some(sec) = &self.api_keys else {
            return Ok(None);
        };
        let pepper = base64::engine::general_purpose::STANDARD
            .decode(sec.pepper.trim())
            .map_err(|_| ConfigError::field("api_keys.pepper", "not valid base64"))?;
        let mut store =
            ApiKeyStore::new(&pepper).map_err(|e| ConfigError::field("api_keys.pepper", e))?;
        for (i, r) in sec.records.iter().enumerate() {
            let record = serde_json::from_value(r.clone())
                .map_err(|e| ConfigError::field(format!("api_keys.records[{i}]"), e))?;
            store
                .insert_record(record)
                .map_err(|e| ConfigError::field(format!("api_keys.records[{i}]"), e))?;
        }
        Ok(Some(store))
    }

    fn trusted_keys(&self) -> Result<TrustedKeys, ConfigError> {
        let mut t = TrustedKeys::new();
        for (i, k) in self.bundles.trusted_keys.iter().enumerate() {
            let key = BundleKey::from_base64(k)
                .map_err(|e| ConfigError::field(format!("bundles.trusted_keys[{i}]"), e))?;
            t.insert(key);
        }
        Ok(t)
    }
}

/// The identity and bundle parts built from a valid [`MeshConfig`].
#[derive(Debug)]
pub struct ValidatedConfig {
    /// Trusted issuers.
    pub issuers: IssuerRegistry,
    /// API keys, if configured.
    pub api_keys: Option<ApiKeyStore>,
    /// Keys trusted to sign bundles.
    pub trusted_keys: TrustedKeys,
    /// Entity data (a JSON array), if any.
    pub entities: Option<Value>,
}

fn check_len(text: &str) -> Result<(), ConfigError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            len: text.len(),
            max: MAX_CONFIG_BYTES,
        });
    }
    Ok(())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

    #[test]
    fn toml_and_json_agree() {
        let toml_doc = format!(
            "[[issuers]]\nissuer = \"https://idp\"\naudiences = [\"api\"]\nalgorithms = [\"EdDSA\"]\njwks = '{JWKS}'\n[response]\nauto_revoke = true\n"
        );
        let a = MeshConfig::from_toml(&toml_doc).unwrap();
        let json_doc = serde_json::json!({
            "issuers": [{"issuer": "https://idp", "audiences": ["api"], "algorithms": ["EdDSA"], "jwks": JWKS}],
            "response": {"auto_revoke": true}
        });
        let b = MeshConfig::from_json(&json_doc.to_string()).unwrap();
        assert_eq!(a, b);
        let v = a.validate().unwrap();
        assert!(v.issuers.issuer("https://idp").is_some());
    }

    #[test]
    fn errors_name_the_field() {
        let doc = |extra: &str| {
            format!(
                "[[issuers]]\nissuer = \"a\"\naudiences = [\"x\"]\njwks = '{JWKS}'\n[[issuers]]\nissuer = \"b\"\njwks = '{JWKS}'\n{extra}"
            )
        };
        let e = MeshConfig::from_toml(&doc(""))
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.path(), Some("issuers[1].audiences"), "{e}");
        let e = MeshConfig::from_toml(&doc("audiences = [\"y\"]\nalgorithms = [\"none\"]"))
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.path(), Some("issuers[1].algorithms[0]"), "{e}");
        let e = MeshConfig::from_toml("[bundles]\ntrusted_keys = [\"AAAA\"]")
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.path(), Some("bundles.trusted_keys[0]"));
        let e = MeshConfig::from_toml("[response]\nmin_severity = \"urgent\"")
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.path(), Some("response.min_severity"));
    }

    #[test]
    fn unknown_fields_are_syntax_errors_with_location() {
        let e = MeshConfig::from_toml("\n[cache]\ncapacityy = 3\n").unwrap_err();
        match e {
            ConfigError::Syntax { line, .. } => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            MeshConfig::from_json("{\"x\":1}").unwrap_err().kind(),
            "syntax"
        );
    }
}
