//! Compact JWS (RFC 7515) parsing: strict base64url, strict JSON, bounded sizes.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

use super::error::clip;
use super::json::{self, DEFAULT_MAX_DEPTH};
use super::IdentityError;

/// Default maximum token length in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// Default maximum length of the encoded header segment in bytes.
pub const DEFAULT_MAX_HEADER_LEN: usize = 1024;

/// base64url without padding; `=`, whitespace and non-zero trailing bits are errors.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Decode strict base64url, naming `part` in errors.
pub(crate) fn b64_decode(part: &'static str, s: &[u8]) -> Result<Vec<u8>, IdentityError> {
    use base64::DecodeError as D;
    B64.decode(s).map_err(|e| {
        let reason = match e {
            D::InvalidByte(at, b'=') => format!("base64url padding `=` at offset {at}"),
            D::InvalidByte(at, _) => format!("invalid base64url byte at offset {at}"),
            D::InvalidLength(len) => format!("invalid base64url length {len}"),
            D::InvalidLastSymbol(at, _) => {
                format!("non-canonical base64url last symbol at offset {at}")
            }
            D::InvalidPadding => "base64url padding is not allowed".to_owned(),
        };
        IdentityError::malformed(part, reason)
    })
}

/// A JWS signature algorithm mesh verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256 (raw `r‖s` signatures).
    ES256,
    /// ECDSA on P-384 with SHA-384 (raw `r‖s` signatures).
    ES384,
    /// EdDSA with Ed25519.
    EdDSA,
}

/// The family of keys an [`Algorithm`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlgorithmFamily {
    /// Shared-secret HMAC (`oct` keys).
    Hmac,
    /// RSA (`RSA` keys).
    Rsa,
    /// ECDSA (`EC` keys).
    Ecdsa,
    /// EdDSA (`OKP` keys).
    EdDsa,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The registered JWS name, e.g. `RS256`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The key family this algorithm needs.
    pub const fn family(self) -> AlgorithmFamily {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => AlgorithmFamily::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => AlgorithmFamily::Rsa,
            Algorithm::ES256 | Algorithm::ES384 => AlgorithmFamily::Ecdsa,
            Algorithm::EdDSA => AlgorithmFamily::EdDsa,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = IdentityError;
    /// Parse a JWS `alg` value; `none` in any case is [`IdentityError::AlgNone`].
    fn from_str(s: &str) -> Result<Self, IdentityError> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                if s.eq_ignore_ascii_case("none") {
                    IdentityError::AlgNone
                } else {
                    IdentityError::UnsupportedAlg { alg: clip(s) }
                }
            })
    }
}

/// Limits and header policy applied while parsing a compact JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwsOptions {
    /// Maximum token length in bytes, checked before any decoding (8 KiB by default).
    pub max_token_len: usize,
    /// Maximum encoded header length in bytes (1 KiB by default).
    pub max_header_len: usize,
    /// Maximum JSON nesting depth of header and claims (8 by default).
    pub max_depth: usize,
    /// When `true`, the `jku`, `x5u`, `jwk` and `x5c` headers are tolerated
    /// (and ignored: keys never come from the token). `false` by default:
    /// such tokens are rejected.
    pub ignore_key_headers: bool,
    /// `crit` extensions the caller handles itself; any other entry is rejected.
    pub understood_crit: Vec<String>,
}

impl Default for JwsOptions {
    fn default() -> Self {
        JwsOptions {
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            max_header_len: DEFAULT_MAX_HEADER_LEN,
            max_depth: DEFAULT_MAX_DEPTH,
            ignore_key_headers: false,
            understood_crit: Vec::new(),
        }
    }
}

/// A parsed, checked JOSE header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The signature algorithm (`alg`).
    pub alg: Algorithm,
    /// The key id (`kid`).
    pub kid: Option<String>,
    /// The media type of the token (`typ`).
    pub typ: Option<String>,
    /// The media type of the payload (`cty`).
    pub cty: Option<String>,
    /// Critical extensions the caller declared understood (`crit`).
    pub crit: Vec<String>,
    /// Every header parameter as parsed.
    pub params: Map<String, Value>,
}

const KEY_HEADERS: [&str; 4] = ["jku", "x5u", "jwk", "x5c"];

/// Header parameters registered by RFC 7515/7797 that `crit` may not name
/// (except `b64`, which is only ever accepted when true).
const REGISTERED: [&str; 11] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
];

fn opt_string(params: &Map<String, Value>, name: &str) -> Result<Option<String>, IdentityError> {
    match params.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(IdentityError::malformed(
            "header",
            format!("`{name}` is not a string"),
        )),
    }
}

impl Header {
    /// Check a decoded header object against `options`.
    pub fn from_params(
        params: Map<String, Value>,
        options: &JwsOptions,
    ) -> Result<Header, IdentityError> {
        let alg = match params.get("alg") {
            Some(Value::String(s)) => s.parse::<Algorithm>()?,
            Some(_) => return Err(IdentityError::malformed("header", "`alg` is not a string")),
            None => return Err(IdentityError::malformed("header", "`alg` is missing")),
        };
        if !options.ignore_key_headers {
            if let Some(h) = KEY_HEADERS.into_iter().find(|h| params.contains_key(*h)) {
                return Err(IdentityError::ForbiddenHeader { header: h });
            }
        }
        match params.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(IdentityError::B64False),
            Some(_) => return Err(IdentityError::malformed("header", "`b64` is not a boolean")),
        }
        let crit = match params.get("crit") {
            None => Vec::new(),
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let Value::String(name) = item else {
                        return Err(IdentityError::UnknownCrit {
                            name: "(not a string)".into(),
                        });
                    };
                    let understood = options.understood_crit.iter().any(|u| u == name);
                    if !understood || REGISTERED.contains(&name.as_str()) || out.contains(name) {
                        return Err(IdentityError::UnknownCrit { name: clip(name) });
                    }
                    if !params.contains_key(name) {
                        return Err(IdentityError::malformed(
                            "header",
                            format!("`crit` names `{}` which is absent", clip(name)),
                        ));
                    }
                    out.push(name.clone());
                }
                out
            }
            Some(_) => {
                return Err(IdentityError::UnknownCrit {
                    name: "(not a non-empty array)".into(),
                })
            }
        };
        Ok(Header {
            alg,
            kid: opt_string(&params, "kid")?,
            typ: opt_string(&params, "typ")?,
            cty: opt_string(&params, "cty")?,
            crit,
            params,
        })
    }
}

/// A compact JWS split into its parts, its header checked, not yet verified.
#[derive(Debug, Clone)]
pub struct CompactJws<'t> {
    /// The checked header.
    pub header: Header,
    signing_input: &'t str,
    payload_b64: &'t str,
    signature_b64: &'t str,
}

impl<'t> CompactJws<'t> {
    /// Split and check `token`: size first (before any decoding), exactly three
    /// segments, strict base64url, strict JSON header.
    pub fn parse(token: &'t str, options: &JwsOptions) -> Result<Self, IdentityError> {
        if token.len() > options.max_token_len {
            return Err(IdentityError::TooLarge {
                part: "token",
                len: token.len(),
                max: options.max_token_len,
            });
        }
        let bytes = token.as_bytes();
        let mut dots = memchr_dots(bytes);
        let (Some(d1), Some(d2), None) = (dots.next(), dots.next(), dots.next()) else {
            return Err(IdentityError::malformed(
                "token",
                "a compact JWS has exactly three `.`-separated segments",
            ));
        };
        let (Some(header_b64), Some(signing_input), Some(payload_b64), Some(signature_b64)) = (
            token.get(..d1),
            token.get(..d2),
            token.get(d1 + 1..d2),
            token.get(d2 + 1..),
        ) else {
            return Err(IdentityError::malformed("token", "bad segment boundaries"));
        };
        if header_b64.len() > options.max_header_len {
            return Err(IdentityError::TooLarge {
                part: "header",
                len: header_b64.len(),
                max: options.max_header_len,
            });
        }
        if header_b64.is_empty() {
            return Err(IdentityError::malformed("header", "empty segment"));
        }
        let header_json = b64_decode("header", header_b64.as_bytes())?;
        let params = json::parse_object(&header_json, options.max_depth, "header")?;
        let header = Header::from_params(params, options)?;
        if signature_b64.is_empty() {
            return Err(IdentityError::malformed("signature", "empty segment"));
        }
        Ok(CompactJws {
            header,
            signing_input,
            payload_b64,
            signature_b64,
        })
    }

    /// The bytes the signature covers: `header.payload` as sent.
    pub fn signing_input(&self) -> &'t [u8] {
        self.signing_input.as_bytes()
    }

    /// Decode the payload (strict base64url; may be empty).
    pub fn payload(&self) -> Result<Vec<u8>, IdentityError> {
        b64_decode("payload", self.payload_b64.as_bytes())
    }

    /// Decode the signature (strict base64url).
    pub fn signature(&self) -> Result<Vec<u8>, IdentityError> {
        b64_decode("signature", self.signature_b64.as_bytes())
    }
}

fn memchr_dots(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'.')
        .map(|(i, _)| i)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::IdentityErrorKind as K;

    fn enc(s: &str) -> String {
        B64.encode(s)
    }

    fn kind(token: &str) -> K {
        CompactJws::parse(token, &JwsOptions::default())
            .unwrap_err()
            .kind()
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = format!("{}.{}.c2ln", enc(r#"{"alg":"HS256","kid":"k"}"#), enc("{}"));
        let j = CompactJws::parse(&t, &JwsOptions::default()).unwrap();
        assert_eq!(j.header.alg, Algorithm::HS256);
        assert_eq!(j.header.kid.as_deref(), Some("k"));
        assert_eq!(j.payload().unwrap(), b"{}");
        assert_eq!(j.signature().unwrap(), b"sig");
    }

    #[test]
    fn rejects_structure_and_encoding_faults() {
        let h = enc(r#"{"alg":"HS256"}"#);
        assert_eq!(kind(&format!("{h}.e30")), K::Malformed);
        assert_eq!(kind(&format!("{h}.e30.c2ln.c2ln")), K::Malformed);
        assert_eq!(kind(&format!("{h}=.e30.c2ln")), K::Malformed);
        assert_eq!(kind(&format!(" {h}.e30.c2ln")), K::Malformed);
        assert_eq!(kind(&format!("{h}.e30.")), K::Malformed);
        assert_eq!(
            kind(&format!("{}.e30.c2ln", enc(r#"{"alg":"none"}"#))),
            K::AlgNone
        );
        assert_eq!(
            kind(&format!(
                "{}.e30.c2ln",
                enc(r#"{"alg":"HS256","b64":false}"#)
            )),
            K::B64False
        );
        assert_eq!(kind(&"a".repeat(9000)), K::TooLarge);
    }

    #[test]
    fn alg_names_are_exact() {
        assert_eq!("RS256".parse::<Algorithm>().unwrap(), Algorithm::RS256);
        assert_eq!(
            "rs256".parse::<Algorithm>().unwrap_err().kind(),
            K::UnsupportedAlg
        );
        assert_eq!("NoNe".parse::<Algorithm>().unwrap_err().kind(), K::AlgNone);
    }
}
