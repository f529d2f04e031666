//! JWT claims: registered-claim types and time checks, and the mapping of
//! verified claims to an [`Identity`].

use serde_json::{Map, Value};
use std::time::Duration;

use super::error::clip;
use super::{AuthContext, Identity, IdentityError, IdentityKind};
use crate::Timestamp;

/// The registered claims of a verified token, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredClaims {
    /// Issuer (`iss`).
    pub iss: String,
    /// Subject (`sub`).
    pub sub: Option<String>,
    /// Audiences (`aud`, a string or an array of strings).
    pub aud: Vec<String>,
    /// Expiry (`exp`).
    pub exp: Option<Timestamp>,
    /// Not before (`nbf`).
    pub nbf: Option<Timestamp>,
    /// Issued at (`iat`).
    pub iat: Option<Timestamp>,
    /// Token id (`jti`).
    pub jti: Option<String>,
}

/// How claims are checked; part of each issuer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules {
    /// Accepted audiences; a token's `aud` must name at least one. A token
    /// with an `aud` is rejected when this list is empty.
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (60 s by default).
    pub leeway: Duration,
    /// Longest accepted lifetime: `exp` − `iat` (or `exp` − now without
    /// `iat`). 24 h by default; `None` disables the check.
    pub max_lifetime: Option<Duration>,
    /// Claims that must be present (`exp`, `iss`, `aud`, `sub` by default).
    pub required: Vec<String>,
}

impl Default for ClaimRules {
    fn default() -> Self {
        ClaimRules {
            audiences: Vec::new(),
            leeway: Duration::from_secs(60),
            max_lifetime: Some(Duration::from_secs(24 * 3600)),
            required: ["exp", "iss", "aud", "sub"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }
}

fn opt_str(claims: &Map<String, Value>, name: &str) -> Result<Option<String>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(IdentityError::invalid_claim(name, "not a string")),
    }
}

/// A NumericDate claim (seconds since the epoch, integer or fraction) as a
/// [`Timestamp`].
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<Timestamp>, IdentityError> {
    let Some(v) = claims.get(name) else {
        return Ok(None);
    };
    let Value::Number(n) = v else {
        return Err(IdentityError::invalid_claim(
            name,
            "not a NumericDate number",
        ));
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(Timestamp::from_unix_seconds(i)));
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 9.0e15 => {
            // f64 → i64 is exact here: |f × 1000| < 2^63.
            #[allow(clippy::cast_possible_truncation)]
            let ms = (f * 1000.0).floor() as i64;
            Ok(Some(Timestamp::from_unix_millis(ms)))
        }
        _ => Err(IdentityError::invalid_claim(
            name,
            "NumericDate out of range",
        )),
    }
}

fn string_list(v: &Value, name: &str, split_spaces: bool) -> Result<Vec<String>, IdentityError> {
    match v {
        Value::String(s) if split_spaces => Ok(s
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                _ => Err(IdentityError::invalid_claim(
                    name,
                    "array holds a non-string",
                )),
            })
            .collect(),
        _ => Err(IdentityError::invalid_claim(
            name,
            "not a string or an array of strings",
        )),
    }
}

impl RegisteredClaims {
    /// Read and type-check the registered claims (`iss`, `sub` strings; `aud`
    /// string or array of strings; `exp`, `nbf`, `iat` NumericDates).
    pub fn from_claims(claims: &Map<String, Value>) -> Result<RegisteredClaims, IdentityError> {
        let iss = match claims.get("iss") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(IdentityError::invalid_claim("iss", "not a string")),
            None => {
                return Err(IdentityError::MissingClaim {
                    claim: "iss".into(),
                })
            }
        };
        let aud = match claims.get("aud") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(IdentityError::invalid_claim(
                        "aud",
                        "array holds a non-string",
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(IdentityError::invalid_claim(
                    "aud",
                    "not a string or a non-empty array of strings",
                ))
            }
        };
        Ok(RegisteredClaims {
            iss,
            sub: opt_str(claims, "sub")?,
            aud,
            exp: numeric_date(claims, "exp")?,
            nbf: numeric_date(claims, "nbf")?,
            iat: numeric_date(claims, "iat")?,
            jti: opt_str(claims, "jti")?,
        })
    }

    /// Check presence, audience and time rules at `now`.
    pub fn check(
        &self,
        claims: &Map<String, Value>,
        rules: &ClaimRules,
        now: Timestamp,
    ) -> Result<(), IdentityError> {
        for name in &rules.required {
            if !claims.contains_key(name) {
                return Err(IdentityError::MissingClaim { claim: clip(name) });
            }
        }
        if !self.aud.is_empty() && !self.aud.iter().any(|a| rules.audiences.contains(a)) {
            let shown: Vec<String> = self
                .aud
                .iter()
                .take(4)
                .map(|a| format!("`{}`", clip(a)))
                .collect();
            return Err(IdentityError::BadAudience {
                found: shown.join(", "),
            });
        }
        let leeway_ms = i64::try_from(rules.leeway.as_millis()).unwrap_or(i64::MAX);
        let leeway_secs = rules.leeway.as_secs();
        let now_ms = now.unix_millis();
        if let Some(exp) = self.exp {
            if now_ms >= exp.unix_millis().saturating_add(leeway_ms) {
                return Err(IdentityError::Expired {
                    exp: exp.unix_seconds(),
                    now: now.unix_seconds(),
                    leeway_secs,
                });
            }
        }
        if let Some(nbf) = self.nbf {
            if now_ms.saturating_add(leeway_ms) < nbf.unix_millis() {
                return Err(IdentityError::NotYetValid {
                    nbf: nbf.unix_seconds(),
                    now: now.unix_seconds(),
                    leeway_secs,
                });
            }
        }
        if let Some(iat) = self.iat {
            if iat.unix_millis() > now_ms.saturating_add(leeway_ms) {
                return Err(IdentityError::IssuedInFuture {
                    iat: iat.unix_seconds(),
                    now: now.unix_seconds(),
                    leeway_secs,
                });
            }
        }
        if let (Some(exp), Some(iat)) = (self.exp, self.iat) {
            if exp < iat {
                return Err(IdentityError::invalid_claim("exp", "is before `iat`"));
            }
        }
        if let (Some(max), Some(exp)) = (rules.max_lifetime, self.exp) {
            let start = self.iat.unwrap_or(now);
            let lifetime_ms = exp.unix_millis().saturating_sub(start.unix_millis());
            let max_ms = i64::try_from(max.as_millis()).unwrap_or(i64::MAX);
            if lifetime_ms > max_ms {
                return Err(IdentityError::LifetimeTooLong {
                    lifetime_secs: lifetime_ms / 1000,
                    max_secs: max.as_secs(),
                });
            }
        }
        Ok(())
    }
}

/// Claims consumed by the mapping to [`Identity`] fields; every other claim
/// is kept in [`Identity::claims`].
pub const MAPPED_CLAIMS: [&str; 14] = [
    "iss",
    "sub",
    "exp",
    "iat",
    "jti",
    "sid",
    "auth_time",
    "amr",
    "acr",
    "groups",
    "roles",
    "scope",
    "scp",
    "entitlements",
];

/// Build the [`Identity`] of verified claims.
///
/// `groups` and `roles` (string or array of strings) fill groups and roles;
/// `scope` (space-separated), `scp` and `entitlements` fill entitlements;
/// `auth_time`, `amr`, `acr` the auth context; `jti` → token id, `sid` →
/// session id; remaining claims are kept.
pub fn identity_from_claims(
    reg: &RegisteredClaims,
    mut claims: Map<String, Value>,
    kind: IdentityKind,
) -> Result<Identity, IdentityError> {
    let list = |claims: &Map<String, Value>,
                name: &str,
                split: bool|
     -> Result<Vec<String>, IdentityError> {
        claims
            .get(name)
            .map_or(Ok(Vec::new()), |v| string_list(v, name, split))
    };
    let groups = list(&claims, "groups", false)?;
    let roles = list(&claims, "roles", false)?;
    let mut entitlements = list(&claims, "scope", true)?;
    entitlements.extend(list(&claims, "scp", true)?);
    entitlements.extend(list(&claims, "entitlements", false)?);
    let auth = AuthContext {
        auth_time: numeric_date(&claims, "auth_time")?,
        methods: match claims.get("amr") {
            None => Vec::new(),
            Some(v @ Value::Array(_)) => string_list(v, "amr", false)?,
            Some(_) => {
                return Err(IdentityError::invalid_claim(
                    "amr",
                    "not an array of strings",
                ))
            }
        },
        acr: opt_str(&claims, "acr")?,
    };
    let session_id = opt_str(&claims, "sid")?;
    for name in MAPPED_CLAIMS {
        claims.remove(name);
    }
    Ok(Identity {
        subject: reg.sub.clone().unwrap_or_default(),
        issuer: reg.iss.clone(),
        kind,
        groups,
        roles,
        entitlements,
        auth,
        device: None,
        token_id: reg.jti.clone(),
        session_id,
        issued_at: reg.iat,
        expires_at: reg.exp,
        claims,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::IdentityErrorKind as K;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn rules() -> ClaimRules {
        ClaimRules {
            audiences: vec!["api".into()],
            ..ClaimRules::default()
        }
    }

    fn check(v: Value, now: i64) -> Result<(), IdentityError> {
        let m = obj(v);
        RegisteredClaims::from_claims(&m)?.check(&m, &rules(), Timestamp::from_unix_seconds(now))
    }

    #[test]
    fn time_rules_with_leeway() {
        let base = json!({"iss":"i","sub":"s","aud":"api","iat":1000,"exp":2000});
        assert!(check(base.clone(), 1500).is_ok());
        assert!(check(base.clone(), 2059).is_ok());
        assert_eq!(check(base.clone(), 2060).unwrap_err().kind(), K::Expired);
        assert_eq!(check(base, 900).unwrap_err().kind(), K::IssuedInFuture);
        let nbf = json!({"iss":"i","sub":"s","aud":"api","nbf":1200,"exp":2000});
        assert_eq!(check(nbf, 1100).unwrap_err().kind(), K::NotYetValid);
        let long = json!({"iss":"i","sub":"s","aud":"api","iat":0,"exp":100000});
        assert_eq!(check(long, 10).unwrap_err().kind(), K::LifetimeTooLong);
    }

    #[test]
    fn types_and_presence() {
        let e = check(json!({"iss":"i","sub":"s","aud":"api","exp":"2000"}), 1).unwrap_err();
        assert_eq!(e.kind(), K::InvalidClaim);
        let e = check(json!({"iss":"i","sub":"s","exp":2000}), 1).unwrap_err();
        assert_eq!(
            e,
            IdentityError::MissingClaim {
                claim: "aud".into()
            }
        );
        let e = check(json!({"iss":"i","sub":"s","aud":["x",1],"exp":2000}), 1).unwrap_err();
        assert_eq!(e.kind(), K::InvalidClaim);
        let e = check(json!({"iss":"i","sub":"s","aud":["x"],"exp":2000}), 1).unwrap_err();
        assert_eq!(e.kind(), K::BadAudience);
        assert!(check(
            json!({"iss":"i","sub":"s","aud":["x","api"],"exp":2000.5}),
            1
        )
        .is_ok());
    }

    #[test]
    fn identity_mapping() {
        let m = obj(
            json!({"iss":"i","sub":"s","aud":"api","exp":2000,"iat":1000,
            "groups":["g"],"roles":"admin","scope":"read write","scp":["x"],
            "entitlements":["e"],"amr":["pwd","mfa"],"acr":"2","auth_time":999,
            "jti":"t1","sid":"s1","email":"a@b.c"}),
        );
        let reg = RegisteredClaims::from_claims(&m).unwrap();
        let id = identity_from_claims(&reg, m, IdentityKind::Human).unwrap();
        assert_eq!(id.groups, ["g"]);
        assert_eq!(id.roles, ["admin"]);
        assert_eq!(id.entitlements, ["read", "write", "x", "e"]);
        assert!(id.auth.has_method("MFA"));
        assert_eq!(id.auth.auth_time, Some(Timestamp::from_unix_seconds(999)));
        assert_eq!(id.token_id.as_deref(), Some("t1"));
        assert_eq!(id.session_id.as_deref(), Some("s1"));
        assert_eq!(id.claims.get("email"), Some(&json!("a@b.c")));
        assert!(id.claims.contains_key("aud"));
        assert!(!id.claims.contains_key("sub"));
        assert_eq!(id.actor_key().as_str(), "a@b.c");
    }
}
