//! SPIFFE IDs for workloads, and the JWT-SVID profile checks.
//!
//! A SPIFFE ID is `spiffe://<trust-domain><path>` as defined by the SPIFFE ID
//! standard: the scheme is exactly `spiffe` (lowercase); the trust domain is
//! 1–255 bytes of `[a-z0-9._-]` (so no user info, port or upper case); the
//! path is empty or a sequence of `/segment`s where each segment is non-empty,
//! is not `.` or `..`, and uses only `[A-Za-z0-9._-]` (so no percent-encoding,
//! query or fragment); there is no trailing `/`; the whole ID is at most 2048
//! bytes.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::{Identity, IdentityError, IdentityKind, IssuerRegistry};
use crate::Timestamp;

/// Longest SPIFFE ID accepted, in bytes (SPIFFE ID standard §2.3).
pub const MAX_SPIFFE_ID_LEN: usize = 2048;
/// Longest trust domain name accepted, in bytes (SPIFFE ID standard §2.1).
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;

const SCHEME: &str = "spiffe://";

/// A SPIFFE ID, parsed strictly (see the module documentation for the rules).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SpiffeId {
    /// The whole ID, as given (it is already canonical when valid).
    id: String,
    /// Byte offset where the path starts (end of the trust domain).
    path_start: usize,
}

fn err(reason: &'static str, offset: usize) -> IdentityError {
    IdentityError::InvalidSpiffeId { reason, offset }
}

fn is_trust_domain_byte(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_')
}

fn is_path_byte(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_')
}

/// Checks a trust domain name; `base` is its offset for error positions.
fn check_trust_domain(td: &str, base: usize) -> Result<(), IdentityError> {
    if td.is_empty() {
        return Err(err("trust domain is empty", base));
    }
    if td.len() > MAX_TRUST_DOMAIN_LEN {
        return Err(err(
            "trust domain is longer than 255 bytes",
            base + MAX_TRUST_DOMAIN_LEN,
        ));
    }
    for (i, b) in td.bytes().enumerate() {
        if !is_trust_domain_byte(b) {
            let reason = match b {
                b'A'..=b'Z' => "trust domain must be lowercase",
                b':' => "port is not allowed",
                b'@' => "user info is not allowed",
                b'?' => "query is not allowed",
                b'#' => "fragment is not allowed",
                b'%' => "percent-encoding is not allowed",
                _ => "trust domain may only contain `a-z`, `0-9`, `.`, `-` and `_`",
            };
            return Err(err(reason, base + i));
        }
    }
    Ok(())
}

impl SpiffeId {
    /// Parses a SPIFFE ID strictly.
    pub fn parse(input: &str) -> Result<SpiffeId, IdentityError> {
        if input.len() > MAX_SPIFFE_ID_LEN {
            return Err(err("longer than 2048 bytes", MAX_SPIFFE_ID_LEN));
        }
        let Some(rest) = input.strip_prefix(SCHEME) else {
            let lower = input.get(..SCHEME.len()).map(str::to_ascii_lowercase);
            return Err(if lower.as_deref() == Some(SCHEME) {
                err("scheme must be lowercase `spiffe`", 0)
            } else {
                err("scheme must be `spiffe://`", 0)
            });
        };
        let base = SCHEME.len();
        let td_len = rest.find('/').unwrap_or(rest.len());
        let td = rest.get(..td_len).unwrap_or_default();
        check_trust_domain(td, base)?;
        let path_start = base + td_len;
        let path = rest.get(td_len..).unwrap_or_default();
        check_path(path, path_start)?;
        Ok(SpiffeId {
            id: input.to_owned(),
            path_start,
        })
    }

    /// The trust domain, e.g. `example.org`.
    pub fn trust_domain(&self) -> &str {
        self.id
            .get(SCHEME.len()..self.path_start)
            .unwrap_or_default()
    }

    /// The path, e.g. `/ns/prod/sa/api`; empty for a trust domain's own ID.
    pub fn path(&self) -> &str {
        self.id.get(self.path_start..).unwrap_or_default()
    }

    /// The whole ID as text.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// Whether this ID belongs to `trust_domain`.
    pub fn is_member_of(&self, trust_domain: &TrustDomain) -> bool {
        self.trust_domain() == trust_domain.as_str()
    }

    /// A service identity for this workload, vouched for by its trust domain
    /// (issuer `spiffe://<trust-domain>`).
    pub fn to_identity(&self) -> Identity {
        let issuer = format!("{SCHEME}{}", self.trust_domain());
        Identity::new(self.id.clone(), issuer, IdentityKind::Service)
    }
}

fn check_path(path: &str, base: usize) -> Result<(), IdentityError> {
    if path.is_empty() {
        return Ok(());
    }
    // `path` starts with '/': iterate over segments after each slash.
    let mut offset = base;
    for segment in path.split('/').skip(1) {
        let seg_start = offset + 1;
        if segment.is_empty() {
            return Err(if seg_start == base + path.len() {
                err("trailing `/` is not allowed", seg_start - 1)
            } else {
                err("empty path segment", seg_start)
            });
        }
        if segment == "." || segment == ".." {
            return Err(err("`.` and `..` path segments are not allowed", seg_start));
        }
        for (i, b) in segment.bytes().enumerate() {
            if !is_path_byte(b) {
                let reason = match b {
                    b'?' => "query is not allowed",
                    b'#' => "fragment is not allowed",
                    b'%' => "percent-encoding is not allowed",
                    _ => "path segments may only contain `A-Z`, `a-z`, `0-9`, `.`, `-` and `_`",
                };
                return Err(err(reason, seg_start + i));
            }
        }
        offset = seg_start + segment.len();
    }
    Ok(())
}

impl TryFrom<&str> for SpiffeId {
    type Error = IdentityError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        SpiffeId::parse(value)
    }
}

impl TryFrom<String> for SpiffeId {
    type Error = IdentityError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SpiffeId::parse(&value)
    }
}

impl std::str::FromStr for SpiffeId {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpiffeId::parse(s)
    }
}

impl From<SpiffeId> for String {
    fn from(value: SpiffeId) -> Self {
        value.id
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl fmt::Debug for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpiffeId({:?})", self.id)
    }
}

/// A SPIFFE trust domain name, e.g. `example.org` (no scheme).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustDomain(String);

impl TrustDomain {
    /// Parses a trust domain name: `example.org` or `spiffe://example.org`.
    pub fn parse(input: &str) -> Result<TrustDomain, IdentityError> {
        let (name, base) = match input.strip_prefix(SCHEME) {
            Some(rest) => (rest, SCHEME.len()),
            None => (input, 0),
        };
        check_trust_domain(name, base)?;
        Ok(TrustDomain(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TrustDomain {
    type Error = IdentityError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TrustDomain::parse(&value)
    }
}

impl From<TrustDomain> for String {
    fn from(value: TrustDomain) -> Self {
        value.0
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustDomain({:?})", self.0)
    }
}

/// Signature algorithms the JWT-SVID standard allows (no `HS*`, no `none`).
pub const JWT_SVID_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
];

/// What a relying party expects of a JWT-SVID: its trust domain and its own
/// audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSvidProfile {
    /// The trust domain the subject must belong to.
    pub trust_domain: TrustDomain,
    /// The audience this relying party answers to; the token's `aud` must
    /// contain it.
    pub audience: String,
}

impl JwtSvidProfile {
    /// A profile for `trust_domain` and `audience`.
    pub fn new(trust_domain: TrustDomain, audience: impl Into<String>) -> Self {
        JwtSvidProfile {
            trust_domain,
            audience: audience.into(),
        }
    }

    /// Checks an identity built from an already signature-verified token
    /// against the JWT-SVID profile, and returns the workload's SPIFFE ID.
    ///
    /// `alg` is the token's header `alg`. The token's `aud` is read from
    /// `identity.claims["aud"]` (string or array of strings) unless
    /// `audiences` is given (verifiers that consume `aud` pass it here).
    /// Checks, in order: `alg` is one of [`JWT_SVID_ALGORITHMS`]; `exp` is
    /// present; `aud` is present, non-empty and contains the expected
    /// audience; `sub` is a SPIFFE ID in the expected trust domain.
    /// On success the identity's kind is set to [`IdentityKind::Service`].
    pub fn check(
        &self,
        identity: &mut Identity,
        alg: &str,
        audiences: Option<&[String]>,
    ) -> Result<SpiffeId, IdentityError> {
        if !JWT_SVID_ALGORITHMS.contains(&alg) {
            return Err(IdentityError::SvidProfile {
                check: format!("header `alg`: `{}` is not allowed", truncate(alg)),
            });
        }
        if identity.expires_at().is_none() {
            return Err(IdentityError::SvidProfile {
                check: "claim `exp` is required".into(),
            });
        }
        let matched = match audiences {
            Some(list) => {
                if list.is_empty() {
                    return Err(missing_aud());
                }
                list.contains(&self.audience)
            }
            None => match identity.claim("aud") {
                Some(serde_json::Value::String(a)) => *a == self.audience,
                Some(serde_json::Value::Array(list)) if !list.is_empty() => list
                    .iter()
                    .any(|a| a.as_str() == Some(self.audience.as_str())),
                _ => return Err(missing_aud()),
            },
        };
        if !matched {
            return Err(IdentityError::SvidProfile {
                check: format!(
                    "claim `aud` does not contain `{}`",
                    truncate(&self.audience)
                ),
            });
        }
        let id = SpiffeId::parse(identity.subject()).map_err(|e| IdentityError::SvidProfile {
            check: format!("claim `sub` is not a spiffe id: {e}"),
        })?;
        if !id.is_member_of(&self.trust_domain) {
            return Err(IdentityError::SvidTrustDomainMismatch {
                expected: self.trust_domain.to_string(),
                found: id.trust_domain().to_owned(),
            });
        }
        identity.set_kind(IdentityKind::Service);
        Ok(id)
    }
}

/// Verifies a JWT-SVID: signature, issuer and standard claims with
/// `registry`, then the JWT-SVID profile with `profile` (see
/// [`JwtSvidProfile::check`]). Returns the workload's SPIFFE ID and its
/// identity (kind [`IdentityKind::Service`]).
///
/// The registry chooses keys by `iss`, so register the SPIFFE trust domain's
/// JWT signing keys under the `iss` its server puts in JWT-SVIDs, allow only
/// asymmetric algorithms for it, and give it `profile.audience` as audience.
pub fn verify_jwt_svid(
    registry: &IssuerRegistry,
    profile: &JwtSvidProfile,
    token: &str,
    now: Timestamp,
) -> Result<(SpiffeId, Identity), IdentityError> {
    let verified = registry.verify_token(token, now)?;
    let mut identity = verified.identity;
    let id = profile.check(
        &mut identity,
        verified.header.alg.as_str(),
        Some(&verified.claims.aud),
    )?;
    Ok((id, identity))
}

fn missing_aud() -> IdentityError {
    IdentityError::SvidProfile {
        check: "claim `aud` is required and must not be empty".into(),
    }
}

/// Cuts user-supplied text quoted in errors to a bounded length.
fn truncate(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::IdentityErrorKind;
    use proptest::prelude::*;

    #[test]
    fn parses_valid_ids() {
        let id = SpiffeId::try_from("spiffe://example.org/ns/prod/sa/api").unwrap();
        assert_eq!(id.trust_domain(), "example.org");
        assert_eq!(id.path(), "/ns/prod/sa/api");
        assert_eq!(id.to_string(), "spiffe://example.org/ns/prod/sa/api");
        let td = SpiffeId::try_from("spiffe://my_td-1.example").unwrap();
        assert_eq!(td.path(), "");
        assert!(SpiffeId::try_from("spiffe://a/B.c-d_E/..x/.y").is_ok());
    }

    #[test]
    fn rejects_invalid_ids() {
        let bad = [
            ("", 0),
            ("http://example.org/a", 0),
            ("SPIFFE://example.org/a", 0),
            ("spiffe:/example.org/a", 0),
            ("spiffe://", 9),
            ("spiffe:///path", 9),
            ("spiffe://Example.org/a", 9),
            ("spiffe://example.org:8080/a", 20),
            ("spiffe://user@example.org/a", 13),
            ("spiffe://example.org/", 20),
            ("spiffe://example.org/a/", 22),
            ("spiffe://example.org//a", 21),
            ("spiffe://example.org/./a", 21),
            ("spiffe://example.org/a/..", 23),
            ("spiffe://example.org/a?x=1", 22),
            ("spiffe://example.org/a#f", 22),
            ("spiffe://example.org/a%20b", 22),
            ("spiffe://example.org?x", 20),
            ("spiffe://example.org#x", 20),
            ("spiffe://exa mple.org", 12),
            ("spiffe://example.org/é", 21),
        ];
        for (input, offset) in bad {
            let e = SpiffeId::parse(input).unwrap_err();
            assert_eq!(e.kind(), IdentityErrorKind::InvalidSpiffeId, "{input}");
            match e {
                IdentityError::InvalidSpiffeId { offset: o, .. } => {
                    assert_eq!(o, offset, "{input}")
                }
                _ => unreachable!(),
            }
        }
    }

    #[test]
    fn enforces_length_limits() {
        let long_td = format!("spiffe://{}", "a".repeat(256));
        assert!(SpiffeId::parse(&long_td).is_err());
        let max_td = format!("spiffe://{}", "a".repeat(255));
        assert!(SpiffeId::parse(&max_td).is_ok());
        let path = "/abcdefg".repeat(254); // 2032 bytes
        let ok = format!("spiffe://td{path}");
        assert!(ok.len() <= 2048);
        assert!(SpiffeId::parse(&ok).is_ok());
        let too_long = format!("{ok}{}", "x".repeat(2049 - ok.len()));
        assert_eq!(too_long.len(), 2049);
        assert!(SpiffeId::parse(&too_long).is_err());
    }

    #[test]
    fn serde_round_trip_validates() {
        let id = SpiffeId::parse("spiffe://td/a").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"spiffe://td/a\"");
        assert_eq!(serde_json::from_str::<SpiffeId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<SpiffeId>("\"spiffe://td/\"").is_err());
    }

    fn svid(sub: &str) -> Identity {
        let mut id = Identity::builder(sub, "spiffe://example.org", IdentityKind::Human);
        id.expires_at = Some(Timestamp::from_unix_seconds(2_000_000_000));
        id.claims
            .insert("aud".into(), serde_json::json!(["svc-a", "svc-b"]));
        id.build()
    }

    #[test]
    fn jwt_svid_profile() {
        let p = JwtSvidProfile::new(TrustDomain::parse("example.org").unwrap(), "svc-b");
        let mut ok = svid("spiffe://example.org/ns/web");
        let sid = p.check(&mut ok, "ES256", None).unwrap();
        assert_eq!(sid.path(), "/ns/web");
        assert_eq!(ok.kind(), IdentityKind::Service);

        for alg in ["HS256", "none", "EdDSA", "es256"] {
            let e = p.check(&mut svid("spiffe://example.org/x"), alg, None);
            assert_eq!(e.unwrap_err().kind(), IdentityErrorKind::SvidProfile);
        }
        let mut no_exp = svid("spiffe://example.org/x");
        no_exp.set_expires_at(None);
        assert!(p.check(&mut no_exp, "RS256", None).is_err());
        let mut no_aud = svid("spiffe://example.org/x");
        no_aud.modify(|b| {
            b.claims.remove("aud");
        });
        assert!(p.check(&mut no_aud, "RS256", None).is_err());
        let mut other_aud = svid("spiffe://example.org/x");
        assert!(p
            .check(&mut other_aud, "RS256", Some(&["svc-c".to_owned()]))
            .is_err());
        assert!(p.check(&mut other_aud, "RS256", Some(&[])).is_err());
        let e = p
            .check(&mut svid("spiffe://evil.org/x"), "RS256", None)
            .unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::SvidTrustDomainMismatch);
        let e = p.check(&mut svid("alice"), "RS256", None).unwrap_err();
        assert!(e.to_string().contains("claim `sub`"));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(s in "\\PC{0,80}") {
            if let Ok(id) = SpiffeId::parse(&s) {
                prop_assert_eq!(id.as_str(), s.as_str());
                prop_assert_eq!(SpiffeId::parse(&id.to_string()).ok(), Some(id));
            }
        }

        #[test]
        fn generated_valid_ids_parse(
            td in "[a-z0-9._-]{1,40}",
            segs in proptest::collection::vec("[A-Za-z0-9._-]{1,12}", 0..6),
        ) {
            let segs: Vec<_> = segs.into_iter().filter(|s| s != "." && s != "..").collect();
            let path: String = segs.iter().map(|s| format!("/{s}")).collect();
            let text = format!("spiffe://{td}{path}");
            let id = SpiffeId::parse(&text).unwrap();
            prop_assert_eq!(id.trust_domain(), td.as_str());
            prop_assert_eq!(id.path(), path.as_str());
        }
    }
}
