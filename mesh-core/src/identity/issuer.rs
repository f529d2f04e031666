//! Trusted issuers and token verification: the key set is chosen by `iss`, so
//! a key of issuer B never validates a token claiming issuer A.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

use super::claims::{identity_from_set, ClaimRules, Limits, RegisteredClaims};
use super::error::clip;
use super::json;
use super::jwk::KeySet;
use super::jws::{Algorithm, CompactJws, Header, JwsOptions};
use super::scan;
use super::swar;
use super::{Identity, IdentityError, IdentityKind};
use crate::Timestamp;

/// Most issuers one registry holds.
pub const MAX_ISSUERS: usize = 1024;

/// One trusted issuer: its keys, algorithms and claim rules.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    issuer: String,
    keys: KeySet,
    algorithms: Vec<Algorithm>,
    rules: ClaimRules,
    typ: Option<String>,
    kind: IdentityKind,
    /// `rules.required` as the fast path checks it (set when added to a
    /// registry; `None` there looks the names up one by one).
    required: Option<scan::Required>,
    /// The time limits of `rules` (set when added to a registry).
    limits: Limits,
}

impl IssuerConfig {
    /// An issuer (`iss` value) trusted with `keys` for `algorithms`.
    ///
    /// Defaults: leeway 60 s, maximum lifetime 24 h, required claims `exp`,
    /// `iss`, `aud`, `sub`, no `typ` requirement, principals are humans. An
    /// audience must be added with [`IssuerConfig::audience`] while `aud` is
    /// required.
    pub fn new(issuer: impl Into<String>, keys: KeySet, algorithms: &[Algorithm]) -> Self {
        IssuerConfig {
            issuer: issuer.into(),
            keys,
            algorithms: algorithms.to_vec(),
            rules: ClaimRules::default(),
            typ: None,
            kind: IdentityKind::Human,
            required: None,
            limits: Limits::default(),
        }
    }

    /// Accept tokens for `aud` (may be called several times).
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.rules.audiences.push(aud.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf`, `iat`.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.rules.leeway = leeway;
        self
    }

    /// Longest accepted token lifetime; `None` disables the check.
    pub fn max_lifetime(mut self, max: Option<Duration>) -> Self {
        self.rules.max_lifetime = max;
        self
    }

    /// Replace the list of required claims.
    pub fn required_claims<S: Into<String>>(mut self, claims: impl IntoIterator<Item = S>) -> Self {
        self.rules.required = claims.into_iter().map(Into::into).collect();
        self
    }

    /// Require this header `typ` (e.g. `at+jwt` or `JWT`; compared
    /// case-insensitively, an `application/` prefix is ignored).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// The kind of principal this issuer's tokens describe.
    pub fn kind(mut self, kind: IdentityKind) -> Self {
        self.kind = kind;
        self
    }

    /// The issuer name (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The issuer's live keys.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The allowed algorithms.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The claim rules.
    pub fn rules(&self) -> &ClaimRules {
        &self.rules
    }

    fn validate(&self) -> Result<(), IdentityError> {
        let bad = |reason: &str| IdentityError::InvalidConfig {
            issuer: clip(&self.issuer),
            reason: reason.to_owned(),
        };
        if self.issuer.is_empty() {
            return Err(bad("issuer is empty"));
        }
        if self.algorithms.is_empty() {
            return Err(bad("no algorithm allowed"));
        }
        if self.rules.required.iter().any(|c| c == "aud") && self.rules.audiences.is_empty() {
            return Err(bad("`aud` is required but no audience is configured"));
        }
        Ok(())
    }
}

/// A successfully verified token.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The verified header.
    pub header: Header,
    /// The typed registered claims.
    pub claims: RegisteredClaims,
    /// The principal the token describes (remaining claims in `claims`).
    pub identity: Identity,
}

/// A verified JWS whose payload is not interpreted.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The verified header.
    pub header: Header,
    /// The decoded payload.
    pub payload: Vec<u8>,
}

/// Verify a compact JWS against `keys` only: header policy, key selection
/// and signature; the payload is returned as bytes, not interpreted.
pub fn verify_jws(
    token: &str,
    keys: &KeySet,
    allowed: &[Algorithm],
    options: &JwsOptions,
) -> Result<VerifiedJws, IdentityError> {
    let jws = CompactJws::parse(token, options)?;
    let alg = jws.header.alg;
    if !allowed.contains(&alg) {
        return Err(IdentityError::AlgNotAllowed {
            alg: alg.as_str().to_owned(),
            reason: "not in the allowed list".into(),
        });
    }
    let key = keys.select(jws.header.kid.as_deref(), alg)?;
    let sig = jws.signature()?;
    key.verify_checked(alg, jws.signing_input(), &sig)?;
    let payload = jws.payload()?;
    Ok(VerifiedJws {
        header: jws.header,
        payload,
    })
}

/// The hash of issuer names: eight bytes per multiply-and-fold step.
///
/// Unkeyed on purpose: the table holds only configured issuers, so a
/// token's `iss` can select a bucket but never lengthen one.
#[derive(Default)]
struct IssuerHasher(u64);

impl Hasher for IssuerHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut h = self.0 ^ bytes.len() as u64;
        swar::for_each_word(bytes, |w| h = swar::fold_mul(h ^ w, K));
        self.0 = h;
    }

    fn write_u8(&mut self, b: u8) {
        // `str` hashing ends with one `0xff` byte.
        self.0 = swar::fold_mul(self.0 ^ u64::from(b), 0x2545_f491_4f6c_dd1d);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Issuer names to their configuration.
type IssuerMap = HashMap<String, IssuerConfig, BuildHasherDefault<IssuerHasher>>;

/// The trusted issuers and the limits every token must meet.
///
/// `verify` is a pure function of the token, the registry and `now`; the
/// registry holds no clock and does no I/O. Share it behind an `Arc` and
/// swap it (or call [`IssuerRegistry::set_keys`]) to rotate keys.
#[derive(Debug, Default, Clone)]
pub struct IssuerRegistry {
    issuers: IssuerMap,
    options: JwsOptions,
    /// The likely headers of the issuers' tokens, already scanned.
    known: scan::KnownHeaders,
}

impl IssuerRegistry {
    /// An empty registry with default limits (8 KiB tokens, depth 8, key
    /// headers rejected, no `crit` extension understood).
    pub fn new() -> Self {
        IssuerRegistry::default()
    }

    /// An empty registry with these parsing limits.
    pub fn with_options(options: JwsOptions) -> Self {
        IssuerRegistry {
            issuers: IssuerMap::default(),
            options,
            known: scan::KnownHeaders::default(),
        }
    }

    /// The parsing limits.
    pub fn options(&self) -> &JwsOptions {
        &self.options
    }

    /// Trust an issuer (replacing any issuer of the same name).
    pub fn add(&mut self, mut config: IssuerConfig) -> Result<(), IdentityError> {
        config.validate()?;
        config.required = scan::Required::of(&config.rules.required);
        config.limits = Limits::of(&config.rules);
        if self.issuers.len() >= MAX_ISSUERS && !self.issuers.contains_key(&config.issuer) {
            return Err(IdentityError::TooLarge {
                part: "issuer registry",
                len: self.issuers.len() + 1,
                max: MAX_ISSUERS,
            });
        }
        if self.issuers.contains_key(&config.issuer) {
            // The replaced issuer's headers may no longer apply.
            self.issuers.insert(config.issuer.clone(), config);
            self.relearn_headers();
        } else {
            learn_headers(&mut self.known, &self.options, &config);
            self.issuers.insert(config.issuer.clone(), config);
        }
        Ok(())
    }

    /// Replace an issuer's keys (rotation, JWKS refresh).
    ///
    /// The encoded headers the registry recognizes without scanning are
    /// rebuilt from the current issuers, so a rotated-out key's headers
    /// leave the table: at most 4,096 entries, about 5 ms at that size,
    /// microseconds for a few issuers.
    pub fn set_keys(&mut self, issuer: &str, keys: KeySet) -> Result<(), IdentityError> {
        match self.issuers.get_mut(issuer) {
            Some(c) => {
                c.keys = keys;
                self.relearn_headers();
                Ok(())
            }
            None => Err(IdentityError::UnknownIssuer { iss: clip(issuer) }),
        }
    }

    /// Rebuild the known headers from the current issuers, so that the
    /// headers of rotated-out keys and replaced issuers leave the table
    /// (it stays bounded by what the configuration names now).
    fn relearn_headers(&mut self) {
        let mut known = scan::KnownHeaders::default();
        for c in self.issuers.values() {
            learn_headers(&mut known, &self.options, c);
        }
        self.known = known;
    }

    /// The configuration of a trusted issuer.
    pub fn issuer(&self, iss: &str) -> Option<&IssuerConfig> {
        self.issuers.get(iss)
    }

    /// Verify `token` at `now` and return the principal it describes.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Identity, IdentityError> {
        if let Some(result) = self.verify_fast(token, now) {
            return result;
        }
        self.verify_general(token, now)
    }

    /// [`IssuerRegistry::verify`] without the fast path.
    fn verify_general(&self, token: &str, now: Timestamp) -> Result<Identity, IdentityError> {
        self.verify_inner(token, now, false).map(|(_, _, id)| id)
    }

    /// The fast path of [`IssuerRegistry::verify`] for the common token
    /// shape (see `scan`): no allocation but the identity's own. `None`
    /// before the signature is checked sends the token to the general path,
    /// which accepts or rejects it with its precise error; once a key is
    /// chosen the answer is final and equal to the general path's.
    fn verify_fast(&self, token: &str, now: Timestamp) -> Option<Result<Identity, IdentityError>> {
        let o = &self.options;
        if token.len() > o.max_token_len || o.max_depth < 2 {
            return None;
        }
        let mut header_buf = scan::header_buf();
        let jws = scan::split(
            token,
            o.max_header_len,
            o.ignore_key_headers,
            &self.known,
            &mut header_buf,
        )?;
        let (mut stack, mut heap) = (scan::payload_buf(), Vec::new());
        let text = jws.payload(&mut stack, &mut heap)?;
        let mut claims = scan::FastClaims::new();
        claims.scan(text)?;
        let reg = claims.registered()?;
        let cfg = self.issuers.get(reg.iss)?;
        let alg = jws.header.alg;
        if !cfg.algorithms.contains(&alg) {
            return None;
        }
        if let Some(want) = &cfg.typ {
            if !typ_matches(want, jws.header.typ) {
                return None;
            }
        }
        let key = cfg.keys.select(jws.header.kid, alg).ok()?;
        let mut sig_buf = scan::sig_buf();
        let sig = jws.signature(&mut sig_buf)?;
        Some(
            key.verify_checked(alg, jws.signing_input, sig)
                .and_then(|()| claims.check(&reg, &cfg.rules, cfg.required, cfg.limits, now))
                .map(|()| claims.identity(&reg, cfg.kind)),
        )
    }

    /// Verify `token` at `now`; returns header, typed claims and identity.
    ///
    /// Order: size, structure, header (`alg: none`, key headers, `crit`,
    /// `b64`), payload JSON, `iss` → issuer, algorithm allowed for the
    /// issuer, `typ`, key by `kid`, signature, then the claim rules.
    pub fn verify_token(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<VerifiedToken, IdentityError> {
        let (header, claims, identity) = self.verify_inner(token, now, true)?;
        Ok(VerifiedToken {
            header,
            claims: claims.ok_or_else(|| IdentityError::malformed("payload", "no claims"))?,
            identity,
        })
    }

    fn verify_inner(
        &self,
        token: &str,
        now: Timestamp,
        keep_claims: bool,
    ) -> Result<(Header, Option<RegisteredClaims>, Identity), IdentityError> {
        let jws = CompactJws::parse(token, &self.options)?;
        let payload = jws.payload()?;
        let claims = json::parse_claims(&payload, self.options.max_depth)?;
        let reg = RegisteredClaims::read(&claims)?;
        let Some(cfg) = self.issuers.get(&reg.iss) else {
            return Err(IdentityError::UnknownIssuer {
                iss: clip(&reg.iss),
            });
        };
        let alg = jws.header.alg;
        if !cfg.algorithms.contains(&alg) {
            return Err(IdentityError::AlgNotAllowed {
                alg: alg.as_str().to_owned(),
                reason: format!("issuer `{}` does not allow it", clip(&cfg.issuer)),
            });
        }
        if let Some(want) = &cfg.typ {
            if !typ_matches(want, jws.header.typ.as_deref()) {
                return Err(IdentityError::BadTyp {
                    expected: want.clone(),
                    found: jws.header.typ.as_deref().map(clip),
                });
            }
        }
        let key = cfg.keys.select(jws.header.kid.as_deref(), alg)?;
        let sig = jws.signature()?;
        key.verify_checked(alg, jws.signing_input(), &sig)?;
        reg.check_in(&claims, &cfg.rules, now)?;
        let kept = keep_claims.then(|| reg.clone());
        let identity = identity_from_set(reg, claims, cfg.kind)?;
        Ok((jws.header, kept, identity))
    }
}

/// Add the headers `config`'s tokens most likely carry to `known`.
fn learn_headers(known: &mut scan::KnownHeaders, options: &JwsOptions, config: &IssuerConfig) {
    let kids = config.keys.keys().iter().filter_map(|k| k.kid());
    let mut typs = vec!["JWT"];
    typs.extend(config.typ.as_deref().filter(|t| *t != "JWT"));
    known.add(&config.algorithms, kids, &typs, options.ignore_key_headers);
}

fn typ_matches(want: &str, found: Option<&str>) -> bool {
    fn norm(s: &str) -> &str {
        let s = s.trim();
        match s.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") => s.get(12..).unwrap_or_default(),
            _ => s,
        }
    }
    found.is_some_and(|f| norm(f).eq_ignore_ascii_case(norm(want)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn typ_comparison() {
        assert!(typ_matches("at+jwt", Some("application/AT+JWT")));
        assert!(typ_matches("JWT", Some("jwt")));
        assert!(!typ_matches("at+jwt", Some("JWT")));
        assert!(!typ_matches("at+jwt", None));
    }

    #[test]
    fn config_validation() {
        let mut r = IssuerRegistry::new();
        let e = r
            .add(IssuerConfig::new("i", KeySet::new(), &[Algorithm::RS256]))
            .unwrap_err();
        assert_eq!(e.kind(), crate::identity::IdentityErrorKind::InvalidConfig);
        let e = r
            .add(IssuerConfig::new("i", KeySet::new(), &[]).audience("a"))
            .unwrap_err();
        assert_eq!(e.kind(), crate::identity::IdentityErrorKind::InvalidConfig);
        assert!(r
            .add(IssuerConfig::new("i", KeySet::new(), &[Algorithm::RS256]).audience("a"))
            .is_ok());
    }
}

/// The fast path answers exactly as the general path whenever it answers.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod fast_path {
    use super::*;
    use base64::Engine;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"fast-path-test-secret-0123456789abcdef";
    const NOW: i64 = 1_700_000_000;

    fn registry() -> IssuerRegistry {
        let jwk = format!(
            r#"{{"keys":[{{"kty":"oct","kid":"k1","alg":"HS256","k":"{}"}}]}}"#,
            super::super::jws::B64.encode(SECRET)
        );
        let keys = KeySet::from_jwks(jwk.as_bytes()).unwrap();
        let mut reg = IssuerRegistry::new();
        reg.add(
            IssuerConfig::new("https://i", keys, &[Algorithm::HS256])
                .audience("api")
                .kind(IdentityKind::Service),
        )
        .unwrap();
        reg
    }

    fn sign(header: &str, payload: &str, tamper: bool) -> String {
        let b64 = |s: &[u8]| super::super::jws::B64.encode(s);
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
        let mut sig = ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec();
        if tamper {
            sig[0] ^= 1;
        }
        format!("{input}.{}", b64(&sig))
    }

    const HEADERS: &[&str] = &[
        r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
        r#"{"alg":"HS256"}"#,
        r#" { "alg" : "HS256" , "kid" : "k1" } "#,
        r#"{"alg":"HS256","kid":"nope"}"#,
        r#"{"alg":"HS256","kid":5}"#,
        r#"{"alg":"HS256","b64":false}"#,
        r#"{"alg":"HS256","b64":true}"#,
        r#"{"alg":"HS256","crit":["exp"]}"#,
        r#"{"alg":"HS256","x5t":"abc","cty":"JWT"}"#,
        r#"{"alg":"HS256","jku":"https://x"}"#,
        r#"{"alg":"none"}"#,
        r#"{"alg":"RS256","kid":"k1"}"#,
        r#"{"alg":"HS256","alg":"HS256"}"#,
        r#"{"alg":"HS256","kid":"k\u0031"}"#,
        r#"{"alg":"HS256","x":{"a":1}}"#,
        r#"["alg"]"#,
    ];

    const MEMBERS: &[&str] = &[
        r#""iss":"https://i""#,
        r#""iss":"https://i""#,
        r#""iss":"https://other""#,
        r#""iss":5"#,
        r#""sub":"u-1""#,
        r#""sub":"u-1""#,
        r#""sub":"""#,
        r#""sub":null"#,
        r#""aud":"api""#,
        r#""aud":"api""#,
        r#""aud":["x","api"]"#,
        r#""aud":[]"#,
        r#""aud":[1]"#,
        r#""aud":"other""#,
        r#""exp":1700000600"#,
        r#""exp":1700000600"#,
        r#""exp":1700000600.5"#,
        r#""exp":-0"#,
        r#""exp":"1700000600""#,
        r#""exp":1600000000"#,
        r#""exp":1800000000"#,
        r#""iat":1699999940"#,
        r#""iat":1800000000"#,
        r#""nbf":1699999940"#,
        r#""nbf":1700000900"#,
        r#""nbf":true"#,
        r#""jti":"t-1""#,
        r#""jti":["t"]"#,
        r#""sid":"s-1""#,
        r#""sid":["s"]"#,
        r#""groups":["a","b"]"#,
        r#""groups":"g""#,
        r#""groups":[1]"#,
        r#""roles":[]"#,
        r#""roles":[ "r1" , "r2" ]"#,
        r#""scope":" read  write ""#,
        r#""scp":["a b","c"]"#,
        r#""scp":"x y""#,
        r#""entitlements":["e",null]"#,
        r#""entitlements":"e""#,
        r#""amr":["pwd","mfa"]"#,
        r#""amr":"pwd""#,
        r#""acr":"urn:x""#,
        r#""acr":1"#,
        r#""auth_time":1699999900"#,
        r#""auth_time":"x""#,
        r#""email":"Alice@Example.com""#,
        r#""n":null"#,
        r#""t":true,"f":false"#,
        r#""neg":-12"#,
        r#""big":12345678901234567890"#,
        r#""e9":1e9"#,
        r#""nested":{"a":1,"a":2}"#,
        r#""nested":{"a":[1]}"#,
        r#""esc":"a\"b""#,
        r#""uni":"é ✓""#,
        r#""arr":[[1]]"#,
        r#""mix":[1,"a",true,null,-3]"#,
        r#""dup":1"#,
        r#""dup":2"#,
        r#""lead":01"#,
        r#""\u0069ss":"https://i""#,
        r#""ctl":"a	b""#,
        r#""auth_timE":1"#,
        r#""entitlemenTs":["x"]"#,
        r#""long_name_a":1"#,
        r#""long_name_b":2"#,
        r#""long_name_a":"again""#,
        r#""é":1"#,
    ];

    const SPACES: &[&str] = &["", " ", "\n\t ", "\r\n"];

    fn payload(members: &[usize], ws: usize, trailer: bool) -> String {
        let sp = SPACES[ws % SPACES.len()];
        let body: Vec<String> = members
            .iter()
            .map(|i| format!("{sp}{}{sp}", MEMBERS[i % MEMBERS.len()]))
            .collect();
        let mut p = format!("{sp}{{{}}}{sp}", body.join(","));
        if trailer {
            p.push_str(" x");
        }
        p
    }

    /// A token of the most common shape: every mapped claim present.
    fn typical() -> String {
        payload(
            &[0, 4, 8, 14, 21, 23, 26, 28, 30, 34, 35, 36, 40, 42, 44, 46],
            0,
            false,
        )
    }

    #[test]
    fn the_common_shape_takes_the_fast_path() {
        let reg = registry();
        let now = Timestamp::from_unix_seconds(NOW);
        let token = sign(HEADERS[0], &typical(), false);
        let fast = reg.verify_fast(&token, now).unwrap().unwrap();
        let general = reg.verify_general(&token, now).unwrap();
        assert_eq!(fast, general);
        // The same JSON, byte for byte (claims in token order).
        assert_eq!(
            serde_json::to_string(&fast).unwrap(),
            serde_json::to_string(&general).unwrap()
        );
        assert_eq!(fast.entitlements(), ["read", "write", "a b", "c"]);
        assert_eq!(fast.claims().len(), 3);
        // A forged signature is rejected on the fast path itself.
        let forged = sign(HEADERS[0], &typical(), true);
        let e = reg.verify_fast(&forged, now).unwrap().unwrap_err();
        assert_eq!(e.kind(), crate::identity::IdentityErrorKind::BadSignature);
    }

    #[test]
    fn known_headers_give_the_answer_of_the_scan() {
        let mut reg = registry();
        let now = Timestamp::from_unix_seconds(NOW);
        let headers = [
            r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
            r#"{"typ":"JWT","alg":"HS256","kid":"k1"}"#,
            r#"{"kid":"k1","alg":"HS256"}"#,
            r#"{"alg":"HS256"}"#,
        ];
        let b64 = |h: &str| super::super::jws::B64.encode(h).into_bytes();
        for h in headers {
            assert!(reg.known.get_for_test(&b64(h)).is_some(), "{h}");
            let token = sign(h, &typical(), false);
            let fast = reg.verify_fast(&token, now).unwrap();
            assert!(fast.is_ok(), "{h}");
            assert_eq!(fast, reg.verify_general(&token, now), "{h}");
        }
        // Other headers are scanned as before.
        let spaced = r#"{"alg":"HS256", "kid":"k1"}"#;
        assert!(reg.known.get_for_test(&b64(spaced)).is_none());
        let token = sign(spaced, &typical(), false);
        assert!(reg.verify_fast(&token, now).unwrap().is_ok());
        // After a rotation the new key's headers are known, the rotated-out
        // key's are not, and its tokens are rejected by `kid` as the general
        // path rejects them.
        let jwk = format!(
            r#"{{"keys":[{{"kty":"oct","kid":"k2","alg":"HS256","k":"{}"}}]}}"#,
            super::super::jws::B64.encode(SECRET)
        );
        reg.set_keys("https://i", KeySet::from_jwks(jwk.as_bytes()).unwrap())
            .unwrap();
        let new = r#"{"alg":"HS256","kid":"k2","typ":"JWT"}"#;
        assert!(reg.known.get_for_test(&b64(new)).is_some());
        assert!(reg.verify(&sign(new, &typical(), false), now).is_ok());
        let old = sign(headers[0], &typical(), false);
        assert!(reg.known.get_for_test(&b64(headers[0])).is_none());
        // Headers without a `kid` stay known: the issuer still allows HS256.
        assert!(reg.known.get_for_test(&b64(headers[3])).is_some());
        let e = reg.verify(&old, now).unwrap_err();
        assert_eq!(e.kind(), crate::identity::IdentityErrorKind::UnknownKid);
        assert_eq!(Err(e), reg.verify_general(&old, now));
    }

    #[test]
    fn known_headers_follow_rotations_and_replacements() {
        let mut reg = registry();
        let now = Timestamp::from_unix_seconds(NOW);
        let b64 = |h: &str| super::super::jws::B64.encode(h).into_bytes();
        let first = reg.known.len_for_test();
        let jwks = |kid: &str| {
            let jwk = format!(
                r#"{{"keys":[{{"kty":"oct","kid":"{kid}","k":"{}"}}]}}"#,
                super::super::jws::B64.encode(SECRET)
            );
            KeySet::from_jwks(jwk.as_bytes()).unwrap()
        };
        // Far more rotations than the table holds entries: it does not
        // fill up, and the newest key's headers are always known.
        for i in 0..600 {
            let kid = format!("rot-{i}");
            reg.set_keys("https://i", jwks(&kid)).unwrap();
            let h = format!(r#"{{"kid":"{kid}","alg":"HS256"}}"#);
            assert!(reg.known.get_for_test(&b64(&h)).is_some(), "{h}");
            assert_eq!(reg.known.len_for_test(), first, "{h}");
            assert!(reg.verify(&sign(&h, &typical(), false), now).is_ok());
        }
        // Replacing the issuer with one that allows another algorithm drops
        // the old algorithm's headers.
        let hs = r#"{"alg":"HS256"}"#;
        assert!(reg.known.get_for_test(&b64(hs)).is_some());
        reg.add(IssuerConfig::new("https://i", jwks("k9"), &[Algorithm::HS384]).audience("api"))
            .unwrap();
        assert!(reg.known.get_for_test(&b64(hs)).is_none());
        assert!(reg.known.get_for_test(&b64(r#"{"alg":"HS384"}"#)).is_some());
        let e = reg.verify(&sign(hs, &typical(), false), now).unwrap_err();
        assert_eq!(e.kind(), crate::identity::IdentityErrorKind::AlgNotAllowed);
        // A second issuer adds its own headers and keeps the first's.
        reg.add(IssuerConfig::new("https://j", jwks("kj"), &[Algorithm::HS512]).audience("api"))
            .unwrap();
        assert!(reg.known.get_for_test(&b64(r#"{"alg":"HS384"}"#)).is_some());
        assert!(reg
            .known
            .get_for_test(&b64(r#"{"alg":"HS512","kid":"kj"}"#))
            .is_some());
    }

    #[test]
    fn required_claims_are_checked_by_slot_or_by_name() {
        let now = Timestamp::from_unix_seconds(NOW);
        let token = sign(HEADERS[0], &typical(), false);
        for (required, missing) in [
            (&["exp", "iss", "aud", "sub"][..], None),
            (&["aud", "nbf", "auth_time", "scp", "amr"][..], None),
            (&["sub", "jti", "email"][..], None),
            (&["exp", "entitlements", "tenant"][..], Some("entitlements")),
            (&["exp", "tenant", "entitlements"][..], Some("tenant")),
            (&["iss", "nbf", "nope"][..], Some("nope")),
        ] {
            let mut reg = registry();
            let cfg = reg.issuer("https://i").unwrap().clone();
            reg.add(cfg.required_claims(required.iter().copied()))
                .unwrap();
            let fast = reg.verify_fast(&token, now).unwrap();
            assert_eq!(fast, reg.verify_general(&token, now), "{required:?}");
            match (fast, missing) {
                (Ok(_), None) => {}
                (Err(IdentityError::MissingClaim { claim }), Some(m)) => assert_eq!(claim, m),
                (other, _) => panic!("{required:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn unusual_shapes_go_to_the_general_path() {
        let reg = registry();
        let now = Timestamp::from_unix_seconds(NOW);
        for p in [
            typical().replace(r#""sub":"u-1""#, r#""sub":"u\u002d1""#),
            typical().replace(r#""email":"Alice@Example.com""#, r#""email":{"a":[1]}"#),
            typical().replace("1700000600", "1700000600.0"),
        ] {
            let token = sign(HEADERS[0], &p, false);
            assert!(reg.verify_fast(&token, now).is_none(), "{p}");
            assert!(reg.verify(&token, now).is_ok(), "{p}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn fast_path_agrees_with_the_general_path(
            header in 0..HEADERS.len(),
            members in proptest::collection::vec(0..MEMBERS.len(), 0..14),
            ws in 0..4usize,
            trailer in proptest::bool::weighted(0.05),
            tamper in proptest::bool::weighted(0.1),
            skew in -100i64..1000,
        ) {
            let reg = registry();
            let now = Timestamp::from_unix_seconds(NOW + skew);
            let token = sign(HEADERS[header], &payload(&members, ws, trailer), tamper);
            let (fast, general) = (reg.verify(&token, now), reg.verify_general(&token, now));
            if let (Ok(f), Ok(g)) = (&fast, &general) {
                prop_assert_eq!(serde_json::to_string(f).unwrap(), serde_json::to_string(g).unwrap());
            }
            prop_assert_eq!(fast, general);
            let typical = sign(HEADERS[header], &typical(), tamper);
            prop_assert_eq!(reg.verify(&typical, now), reg.verify_general(&typical, now));
        }
    }

    proptest! {
        #[test]
        fn base64_decoder_agrees_on_any_text(text in "[A-Za-z0-9_=. -]{0,40}") {
            let mut out = [0u8; 64];
            let general = super::super::jws::b64_decode("payload", text.as_bytes()).ok();
            let fast = scan::decode_for_test(text.as_bytes(), &mut out).map(|n| out[..n].to_vec());
            prop_assert_eq!(fast, general);
        }

        /// Long inputs (the vectorized blocks), valid or with one byte
        /// replaced anywhere, or cut to any length.
        #[test]
        fn base64_decoder_agrees_on_long_text(
            data in proptest::collection::vec(any::<u8>(), 0..400),
            at in any::<proptest::sample::Index>(),
            byte in any::<u8>(),
            edit in 0..3u8,
        ) {
            let mut text = super::super::jws::B64.encode(&data).into_bytes();
            if !text.is_empty() {
                let i = at.index(text.len());
                match edit {
                    0 => text[i] = byte,
                    1 => text.truncate(i),
                    _ => {}
                }
            }
            let mut out = [0u8; 600];
            let general = super::super::jws::b64_decode("payload", &text).ok();
            let fast = scan::decode_for_test(&text, &mut out).map(|n| out[..n].to_vec());
            prop_assert_eq!(&fast, &general);
            if edit == 2 {
                prop_assert_eq!(fast, Some(data));
            }
        }
    }

    #[test]
    fn base64_decoder_matches_the_strict_engine() {
        let mut out = [0u8; 64];
        let cases = [
            "", "A", "AA", "AQ", "AR", "AAA", "AAE", "AAB", "AAAA", "_-_-", "ab+c", "ab/c", "ab=c",
            "YQ==", "YQ", "YWI", "YWJj", "YWJjZA", " YWJj", "YW.j", "é",
        ];
        for c in cases {
            let general = super::super::jws::b64_decode("payload", c.as_bytes()).ok();
            let fast = scan::decode_for_test(c.as_bytes(), &mut out).map(|n| out[..n].to_vec());
            assert_eq!(fast, general, "{c:?}");
        }
    }
}

#[cfg(test)]
mod thread_safety {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn shareable_across_threads() {
        assert_send_sync::<super::IssuerRegistry>();
        assert_send_sync::<super::KeySet>();
    }
}
