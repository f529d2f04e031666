//! JWT claims: registered-claim types and time checks, and the mapping of
//! verified claims to an [`Identity`].

use serde_json::{Map, Value};
use std::time::Duration;

use super::error::clip;
use super::{AuthContext, Identity, IdentityBuilder, IdentityError, IdentityKind};
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

/// Read access to a claims object, whichever its representation.
pub(crate) trait ClaimAccess {
    /// The claim named `name`.
    fn claim(&self, name: &str) -> Option<&Value>;
}

impl ClaimAccess for Map<String, Value> {
    fn claim(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// Index of a claim in [`MAPPED_CLAIMS`].
pub(crate) fn mapped_index(name: &str) -> Option<usize> {
    MAPPED_CLAIMS.iter().position(|m| *m == name)
}

/// A claims object split into the claims mapped to [`Identity`] fields (by
/// [`MAPPED_CLAIMS`] index) and the rest, so mapping moves values instead of
/// searching and removing.
#[derive(Debug, Default)]
pub(crate) struct ClaimSet {
    pub(crate) mapped: [Option<Value>; MAPPED_CLAIMS.len()],
    pub(crate) rest: Map<String, Value>,
}

impl ClaimSet {
    pub(crate) fn from_map(mut map: Map<String, Value>) -> ClaimSet {
        let mut set = ClaimSet::default();
        for (slot, name) in set.mapped.iter_mut().zip(MAPPED_CLAIMS) {
            *slot = map.remove(name);
        }
        set.rest = map;
        set
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        mapped_index(name)
            .and_then(|i| self.mapped.get_mut(i))
            .and_then(Option::take)
    }
}

impl ClaimAccess for ClaimSet {
    fn claim(&self, name: &str) -> Option<&Value> {
        match mapped_index(name) {
            Some(i) => self.mapped.get(i).and_then(Option::as_ref),
            None => self.rest.get(name),
        }
    }
}

fn opt_str(claims: &impl ClaimAccess, name: &str) -> Result<Option<String>, IdentityError> {
    match claims.claim(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(IdentityError::invalid_claim(name, "not a string")),
    }
}

/// A NumericDate claim (seconds since the epoch, integer or fraction) as a
/// [`Timestamp`].
pub(crate) fn numeric_date(
    claims: &impl ClaimAccess,
    name: &str,
) -> Result<Option<Timestamp>, IdentityError> {
    let Some(v) = claims.claim(name) else {
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

impl RegisteredClaims {
    /// Read and type-check the registered claims (`iss`, `sub` strings; `aud`
    /// string or array of strings; `exp`, `nbf`, `iat` NumericDates).
    pub fn from_claims(claims: &Map<String, Value>) -> Result<RegisteredClaims, IdentityError> {
        RegisteredClaims::read(claims)
    }

    pub(crate) fn read(claims: &impl ClaimAccess) -> Result<RegisteredClaims, IdentityError> {
        let iss = match claims.claim("iss") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(IdentityError::invalid_claim("iss", "not a string")),
            None => {
                return Err(IdentityError::MissingClaim {
                    claim: "iss".into(),
                })
            }
        };
        let aud = match claims.claim("aud") {
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
        self.check_in(claims, rules, now)
    }

    pub(crate) fn check_in(
        &self,
        claims: &impl ClaimAccess,
        rules: &ClaimRules,
        now: Timestamp,
    ) -> Result<(), IdentityError> {
        check_rules(
            |name| claims.claim(name).is_some(),
            self.aud.iter().map(String::as_str),
            [self.exp, self.nbf, self.iat],
            rules,
            now,
        )
    }
}

/// Presence, audience and time rules at `now`, over borrowed claims:
/// `has` tells whether a claim is present, `aud` lists the audiences and
/// `times` holds `exp`, `nbf` and `iat`.
pub(crate) fn check_rules<'a>(
    has: impl Fn(&str) -> bool,
    aud: impl Iterator<Item = &'a str> + Clone,
    times: [Option<Timestamp>; 3],
    rules: &ClaimRules,
    now: Timestamp,
) -> Result<(), IdentityError> {
    let [exp, nbf, iat] = times;
    let limits = Limits::of(rules);
    for name in &rules.required {
        if !has(name) {
            return Err(IdentityError::MissingClaim { claim: clip(name) });
        }
    }
    if aud.clone().next().is_some() && !aud.clone().any(|a| rules.audiences.iter().any(|r| r == a))
    {
        let shown: Vec<String> = aud.take(4).map(|a| format!("`{}`", clip(a))).collect();
        return Err(IdentityError::BadAudience {
            found: shown.join(", "),
        });
    }
    let leeway_ms = limits.leeway_ms;
    let leeway_secs = rules.leeway.as_secs();
    let now_ms = now.unix_millis();
    if let Some(exp) = exp {
        if now_ms >= exp.unix_millis().saturating_add(leeway_ms) {
            return Err(IdentityError::Expired {
                exp: exp.unix_seconds(),
                now: now.unix_seconds(),
                leeway_secs,
            });
        }
    }
    if let Some(nbf) = nbf {
        if now_ms.saturating_add(leeway_ms) < nbf.unix_millis() {
            return Err(IdentityError::NotYetValid {
                nbf: nbf.unix_seconds(),
                now: now.unix_seconds(),
                leeway_secs,
            });
        }
    }
    if let Some(iat) = iat {
        if iat.unix_millis() > now_ms.saturating_add(leeway_ms) {
            return Err(IdentityError::IssuedInFuture {
                iat: iat.unix_seconds(),
                now: now.unix_seconds(),
                leeway_secs,
            });
        }
    }
    if let (Some(exp), Some(iat)) = (exp, iat) {
        if exp < iat {
            return Err(IdentityError::invalid_claim("exp", "is before `iat`"));
        }
    }
    if let (Some(max), Some(max_ms), Some(exp)) = (rules.max_lifetime, limits.max_lifetime_ms, exp)
    {
        let start = iat.unwrap_or(now);
        let lifetime_ms = exp.unix_millis().saturating_sub(start.unix_millis());
        if lifetime_ms > max_ms {
            return Err(IdentityError::LifetimeTooLong {
                lifetime_secs: lifetime_ms / 1000,
                max_secs: max.as_secs(),
            });
        }
    }
    Ok(())
}

/// The time limits of a [`ClaimRules`] in milliseconds, as
/// [`check_rules`] compares them (computed once per issuer by the fast
/// path).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    leeway_ms: i64,
    max_lifetime_ms: Option<i64>,
}

impl Limits {
    /// The limits of `rules`.
    pub(crate) fn of(rules: &ClaimRules) -> Limits {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Limits {
            leeway_ms: ms(rules.leeway),
            max_lifetime_ms: rules.max_lifetime.map(ms),
        }
    }

    /// Whether `exp`, `nbf` and `iat` (`times`) pass every time rule of
    /// [`check_rules`] at `now` (the same comparisons, without building
    /// an error).
    #[inline]
    pub(crate) fn times_pass(self, times: [Option<Timestamp>; 3], now: Timestamp) -> bool {
        let [exp, nbf, iat] = times;
        let now_ms = now.unix_millis();
        let late_ms = now_ms.saturating_add(self.leeway_ms);
        exp.is_none_or(|e| now_ms < e.unix_millis().saturating_add(self.leeway_ms))
            && nbf.is_none_or(|n| late_ms >= n.unix_millis())
            && iat.is_none_or(|i| i.unix_millis() <= late_ms)
            && match (exp, iat) {
                (Some(e), Some(i)) => e >= i,
                _ => true,
            }
            && match (self.max_lifetime_ms, exp) {
                (Some(max_ms), Some(e)) => {
                    let start = iat.unwrap_or(now);
                    e.unix_millis().saturating_sub(start.unix_millis()) <= max_ms
                }
                _ => true,
            }
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

/// Take a list claim out of `claims` (string or array of strings), moving
/// its strings.
fn take_list(
    claims: &mut ClaimSet,
    name: &str,
    split_spaces: bool,
    out: &mut Vec<String>,
) -> Result<(), IdentityError> {
    match claims.take(name) {
        None => Ok(()),
        Some(Value::String(s)) if split_spaces => {
            out.extend(s.split(' ').filter(|p| !p.is_empty()).map(str::to_owned));
            Ok(())
        }
        Some(Value::String(s)) => {
            out.push(s);
            Ok(())
        }
        Some(Value::Array(items)) => {
            out.reserve(items.len());
            for item in items {
                match item {
                    Value::String(s) => out.push(s),
                    _ => {
                        return Err(IdentityError::invalid_claim(
                            name,
                            "array holds a non-string",
                        ))
                    }
                }
            }
            Ok(())
        }
        Some(_) => Err(IdentityError::invalid_claim(
            name,
            "not a string or an array of strings",
        )),
    }
}

fn take_str(claims: &mut ClaimSet, name: &str) -> Result<Option<String>, IdentityError> {
    match claims.take(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(IdentityError::invalid_claim(name, "not a string")),
    }
}

/// Build the [`Identity`] of verified claims, moving values out of `claims`.
///
/// `groups` and `roles` (string or array of strings) fill groups and roles;
/// `scope` (space-separated), `scp` and `entitlements` fill entitlements;
/// `auth_time`, `amr`, `acr` the auth context; `jti` → token id, `sid` →
/// session id; the claims of [`MAPPED_CLAIMS`] are consumed and every other
/// claim is kept.
pub fn identity_from_claims(
    reg: RegisteredClaims,
    claims: Map<String, Value>,
    kind: IdentityKind,
) -> Result<Identity, IdentityError> {
    identity_from_set(reg, ClaimSet::from_map(claims), kind)
}

pub(crate) fn identity_from_set(
    reg: RegisteredClaims,
    mut claims: ClaimSet,
    kind: IdentityKind,
) -> Result<Identity, IdentityError> {
    let mut groups = Vec::new();
    take_list(&mut claims, "groups", false, &mut groups)?;
    let mut roles = Vec::new();
    take_list(&mut claims, "roles", false, &mut roles)?;
    let mut entitlements = Vec::new();
    take_list(&mut claims, "scope", true, &mut entitlements)?;
    take_list(&mut claims, "scp", true, &mut entitlements)?;
    take_list(&mut claims, "entitlements", false, &mut entitlements)?;
    let auth_time = numeric_date(&claims, "auth_time")?;
    let mut methods = Vec::new();
    if matches!(claims.claim("amr"), Some(v) if !v.is_array()) {
        return Err(IdentityError::invalid_claim(
            "amr",
            "not an array of strings",
        ));
    }
    take_list(&mut claims, "amr", false, &mut methods)?;
    let acr = take_str(&mut claims, "acr")?;
    let session_id = take_str(&mut claims, "sid")?;
    Ok(IdentityBuilder {
        subject: reg.sub.unwrap_or_default(),
        issuer: reg.iss,
        kind,
        groups,
        roles,
        entitlements,
        auth: AuthContext {
            auth_time,
            methods,
            acr,
        },
        device: None,
        token_id: reg.jti,
        session_id,
        issued_at: reg.iat,
        expires_at: reg.exp,
        claims: claims.rest,
    }
    .build())
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

    proptest::proptest! {
        // Enough cases that each boundary (a lifetime equal to the maximum
        // among them) is hit many times.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// The fast path's all-pass test of the time rules accepts exactly
        /// what `check_rules` accepts, at any leeway and maximum lifetime
        /// (small values, so every boundary is hit often; scaled ones, for
        /// saturation).
        #[test]
        fn time_pass_agrees_with_check_rules(
            exp in proptest::option::of(-20i64..20),
            nbf in proptest::option::of(-20i64..20),
            iat in proptest::option::of(-20i64..20),
            now in -20i64..20,
            leeway in 0u64..10,
            max in proptest::option::of(0u64..40),
            extreme in 0..4u8,
        ) {
            let ms = |v: i64| Timestamp::from_unix_millis(match extreme {
                1 => v.saturating_mul(i64::MAX / 20),
                _ => v,
            });
            let rules = ClaimRules {
                leeway: Duration::from_millis(leeway),
                max_lifetime: max.map(|m| match extreme {
                    2 => Duration::MAX,
                    _ => Duration::from_millis(m),
                }),
                ..ClaimRules::default()
            };
            let times = [exp.map(ms), nbf.map(ms), iat.map(ms)];
            let now = ms(now);
            let full = check_rules(|_| true, std::iter::empty(), times, &rules, now);
            proptest::prop_assert_eq!(Limits::of(&rules).times_pass(times, now), full.is_ok());
        }
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
        let id = identity_from_claims(reg, m, IdentityKind::Human).unwrap();
        assert_eq!(id.groups(), ["g"]);
        assert_eq!(id.roles(), ["admin"]);
        assert_eq!(id.entitlements(), ["read", "write", "x", "e"]);
        assert!(id.auth().has_method("MFA"));
        assert_eq!(
            id.auth().auth_time(),
            Some(Timestamp::from_unix_seconds(999))
        );
        assert_eq!(id.token_id(), Some("t1"));
        assert_eq!(id.session_id(), Some("s1"));
        assert_eq!(id.claims().get("email"), Some(&json!("a@b.c")));
        assert!(id.claims().contains_key("aud"));
        assert!(!id.claims().contains_key("sub"));
        assert_eq!(id.actor_key().as_str(), "a@b.c");
    }
}
