//! Threat intelligence: STIX 2.1 indicators matched against OCSF event
//! observables.
//!
//! # Supported patterns
//!
//! One or more observation expressions joined by `OR`, each one or more
//! comparisons joined by `OR`, each `<object path> = '<value>'`
//! (or `ISSUBSET` for addresses):
//!
//! | object path | matched against |
//! | --- | --- |
//! | `ipv4-addr:value`, `ipv6-addr:value` (address or CIDR) | `src_endpoint.ip`, `dst_endpoint.ip`, `device.ip`, IP observables |
//! | `domain-name:value` | `*.hostname`, `*.domain`, `url.hostname`, `query.hostname`, hostname observables; the domain and its subdomains |
//! | `url:value` | `url.url_string`, `http_request.url.url_string`, URL observables |
//! | `file:hashes.'SHA-256'`, `'SHA-1'`, `MD5`, `'SHA-512'` | `file.hashes`, `process.file.hashes`, hash observables |
//! | `email-addr:value` | `user.email_addr`, `actor.user.email_addr`, e-mail observables |
//!
//! Anything else (`AND`, other operators, qualifiers, other object types) is
//! rejected with the indicator id: deny by default, never guess. Indicators
//! are live from `valid_from` (inclusive) to `valid_until` (exclusive) in
//! event time; revoked indicators are skipped.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{json, Value};

use super::ocsf::path;
use super::AnalyticsError;
use crate::Timestamp;

/// Largest bundle accepted, in bytes.
pub const MAX_BUNDLE_BYTES: usize = 64 << 20;
/// Most indicators in one [`IntelSet`].
pub const MAX_INDICATORS: usize = 1_000_000;
/// Longest pattern accepted, in bytes.
const MAX_PATTERN_LEN: usize = 8192;
/// Most comparisons in one pattern.
const MAX_COMPARISONS: usize = 256;

/// The kind of an observable an indicator names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObservableKind {
    /// An IPv4 or IPv6 address or network.
    Ip,
    /// A domain name (matches subdomains too).
    Domain,
    /// A URL.
    Url,
    /// A file hash (any algorithm; hex, case-insensitive).
    Hash,
    /// An e-mail address.
    Email,
}

impl ObservableKind {
    /// OCSF `osint.type_id` and its caption.
    fn osint_type(self) -> (u8, &'static str) {
        match self {
            ObservableKind::Ip => (1, "IP Address"),
            ObservableKind::Domain => (2, "Domain"),
            ObservableKind::Url => (5, "URL"),
            ObservableKind::Hash => (4, "Hash"),
            ObservableKind::Email => (9, "Email Address"),
        }
    }
}

/// A loaded STIX indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    /// STIX id (`indicator--…`).
    pub id: String,
    /// `name`, when present.
    pub name: Option<String>,
    /// The pattern as written.
    pub pattern: String,
    /// `confidence` (0–100), when present.
    pub confidence: Option<u8>,
    /// `valid_from`.
    pub valid_from: Timestamp,
    /// `valid_until`, when present.
    pub valid_until: Option<Timestamp>,
    /// `labels`.
    pub labels: Vec<String>,
}

impl Indicator {
    fn live_at(&self, t: Timestamp) -> bool {
        t >= self.valid_from && self.valid_until.is_none_or(|u| t < u)
    }
}

/// A match of an event observable against an indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct IntelMatch {
    /// The indicator's STIX id.
    pub indicator_id: String,
    /// The indicator's name, when it has one.
    pub indicator_name: Option<String>,
    /// The kind of observable.
    pub kind: ObservableKind,
    /// The event field that matched (`src_endpoint.ip`, `observables`).
    pub field: String,
    /// The event's value.
    pub value: String,
    /// The indicator's confidence.
    pub confidence: Option<u8>,
    /// When the indicator expires.
    pub valid_until: Option<Timestamp>,
}

impl IntelMatch {
    /// The OCSF `osint` object (osint profile).
    pub fn to_osint(&self) -> Value {
        let (type_id, caption) = self.kind.osint_type();
        let mut v = json!({
            "value": self.value,
            "type_id": type_id,
            "type": caption,
            "uid": self.indicator_id,
            "detection_pattern_type_id": 1,
            "detection_pattern_type": "STIX",
        });
        if let Some(o) = v.as_object_mut() {
            if let Some(n) = &self.indicator_name {
                o.insert("name".into(), json!(n));
            }
            if let Some(c) = self.confidence {
                o.insert("confidence".into(), json!(c.to_string()));
            }
            if let Some(u) = self.valid_until {
                o.insert("expiration_time".into(), json!(u.unix_millis()));
            }
        }
        v
    }

    /// The OCSF `enrichment` object.
    pub fn to_enrichment(&self) -> Value {
        json!({
            "name": self.field,
            "value": self.value,
            "type": "threat_intel",
            "provider": "stix",
            "data": {"indicator_id": self.indicator_id, "name": self.indicator_name},
        })
    }
}

/// Indicators indexed for matching.
#[derive(Debug, Default, Clone)]
pub struct IntelSet {
    indicators: Vec<Indicator>,
    exact: HashMap<(ObservableKind, String), Vec<u32>>,
    /// Networks by prefix length: (is_v6, prefix) → masked network → indicators.
    nets: HashMap<(bool, u8), HashMap<u128, Vec<u32>>>,
}

impl IntelSet {
    /// An empty set.
    pub fn new() -> IntelSet {
        IntelSet::default()
    }

    /// Number of live indicators loaded.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    /// Whether no indicator is loaded.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// The loaded indicators.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    /// Loads the indicators of a STIX 2.1 bundle (JSON text); other object
    /// types are ignored. Returns how many indicators were added. On error
    /// nothing from this bundle is added.
    pub fn load_bundle(&mut self, json: &str) -> Result<usize, AnalyticsError> {
        if json.len() > MAX_BUNDLE_BYTES {
            return Err(bad("bundle", "bundle is larger than 64 MiB"));
        }
        let v: Value = serde_json::from_str(json).map_err(|e| {
            bad(
                "bundle",
                &format!("invalid JSON at {}:{}", e.line(), e.column()),
            )
        })?;
        self.load_bundle_value(&v)
    }

    /// [`IntelSet::load_bundle`] on parsed JSON.
    pub fn load_bundle_value(&mut self, bundle: &Value) -> Result<usize, AnalyticsError> {
        if bundle.get("type").and_then(Value::as_str) != Some("bundle") {
            return Err(bad("bundle", "`/type` is not `bundle`"));
        }
        let objects = bundle
            .get("objects")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("bundle", "`/objects` is not an array"))?;
        let mut parsed = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            if o.get("type").and_then(Value::as_str) != Some("indicator") {
                continue;
            }
            if let Some(ind) = parse_indicator(o, i)? {
                parsed.push(ind);
            }
        }
        if self.indicators.len() + parsed.len() > MAX_INDICATORS {
            return Err(bad("bundle", "more than 1000000 indicators"));
        }
        let n = parsed.len();
        for (ind, comparisons) in parsed {
            let idx = u32::try_from(self.indicators.len()).unwrap_or(u32::MAX);
            for c in comparisons {
                match c {
                    Comparison::Net { v6, prefix, net } => self
                        .nets
                        .entry((v6, prefix))
                        .or_default()
                        .entry(net)
                        .or_default()
                        .push(idx),
                    Comparison::Exact(kind, value) => {
                        self.exact.entry((kind, value)).or_default().push(idx)
                    }
                }
            }
            self.indicators.push(ind);
        }
        Ok(n)
    }

    /// The indicators live at `time` that match an observable of `event`.
    pub fn match_event(&self, event: &Value, time: Timestamp) -> Vec<IntelMatch> {
        let mut out = Vec::new();
        if self.indicators.is_empty() {
            return out;
        }
        for (field, kind, value) in observables(event) {
            self.match_value(kind, &field, &value, time, &mut out);
        }
        out.dedup_by(|a, b| a.indicator_id == b.indicator_id && a.value == b.value);
        out
    }

    fn push_hits(
        &self,
        hits: Option<&Vec<u32>>,
        kind: ObservableKind,
        field: &str,
        value: &str,
        time: Timestamp,
        out: &mut Vec<IntelMatch>,
    ) {
        for &i in hits.into_iter().flatten() {
            let Some(ind) = self.indicators.get(i as usize) else {
                continue;
            };
            if ind.live_at(time)
                && !out
                    .iter()
                    .any(|m| m.indicator_id == ind.id && m.value == value)
            {
                out.push(IntelMatch {
                    indicator_id: ind.id.clone(),
                    indicator_name: ind.name.clone(),
                    kind,
                    field: field.to_owned(),
                    value: value.to_owned(),
                    confidence: ind.confidence,
                    valid_until: ind.valid_until,
                });
            }
        }
    }

    fn match_value(
        &self,
        kind: ObservableKind,
        field: &str,
        value: &str,
        time: Timestamp,
        out: &mut Vec<IntelMatch>,
    ) {
        match kind {
            ObservableKind::Ip => {
                let Ok(ip) = value.parse::<IpAddr>() else {
                    return;
                };
                let canon = ip.to_string();
                self.push_hits(
                    self.exact.get(&(kind, canon)),
                    kind,
                    field,
                    value,
                    time,
                    out,
                );
                let (v6, bits) = ip_bits(ip);
                for (&(net_v6, prefix), nets) in &self.nets {
                    if net_v6 == v6 {
                        let hit = nets.get(&mask(bits, prefix, v6));
                        self.push_hits(hit, kind, field, value, time, out);
                    }
                }
            }
            ObservableKind::Domain => {
                let d = value.trim_end_matches('.').to_ascii_lowercase();
                let mut rest = d.as_str();
                // The domain itself, then each parent (subdomain matching).
                for _ in 0..64 {
                    let hit = self.exact.get(&(kind, rest.to_owned()));
                    self.push_hits(hit, kind, field, value, time, out);
                    match rest.split_once('.') {
                        Some((_, parent)) if parent.contains('.') => rest = parent,
                        _ => break,
                    }
                }
            }
            ObservableKind::Hash | ObservableKind::Email => {
                let hit = self.exact.get(&(kind, value.to_ascii_lowercase()));
                self.push_hits(hit, kind, field, value, time, out);
            }
            ObservableKind::Url => {
                let hit = self.exact.get(&(kind, value.to_owned()));
                self.push_hits(hit, kind, field, value, time, out);
            }
        }
    }
}

fn bad(indicator: &str, reason: &str) -> AnalyticsError {
    AnalyticsError::InvalidIndicator {
        indicator: indicator.to_owned(),
        reason: reason.to_owned(),
    }
}

fn ip_bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

fn mask(bits: u128, prefix: u8, v6: bool) -> u128 {
    let width: u32 = if v6 { 128 } else { 32 };
    let prefix = u32::from(prefix).min(width);
    if prefix == 0 {
        return 0;
    }
    let keep = width - prefix;
    (bits >> keep).checked_shl(keep).unwrap_or(0)
}

enum Comparison {
    Exact(ObservableKind, String),
    Net { v6: bool, prefix: u8, net: u128 },
}

type Parsed = (Indicator, Vec<Comparison>);

fn parse_indicator(o: &Value, i: usize) -> Result<Option<Parsed>, AnalyticsError> {
    let id = o
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| s.starts_with("indicator--") && s.len() <= 256)
        .ok_or_else(|| {
            bad(
                &format!("/objects/{i}"),
                "`id` is missing or not an indicator id",
            )
        })?
        .to_owned();
    if o.get("revoked").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let err = |reason: &str| bad(&id, reason);
    match o.get("pattern_type").and_then(Value::as_str) {
        Some("stix") => {}
        Some(other) => return Err(err(&format!("pattern_type `{other}` is not supported"))),
        None => return Err(err("`pattern_type` is missing")),
    }
    let pattern = o
        .get("pattern")
        .and_then(Value::as_str)
        .ok_or_else(|| err("`pattern` is missing"))?;
    let comparisons = parse_pattern(pattern).map_err(|e| err(&format!("pattern: {e}")))?;
    let time = |field: &str, required: bool| -> Result<Option<Timestamp>, AnalyticsError> {
        match o.get(field) {
            None if !required => Ok(None),
            None => Err(err(&format!("`{field}` is missing"))),
            Some(v) => v
                .as_str()
                .and_then(parse_rfc3339)
                .map(Some)
                .ok_or_else(|| err(&format!("`{field}` is not an RFC 3339 UTC timestamp"))),
        }
    };
    let valid_from = time("valid_from", true)?.unwrap_or(Timestamp::EPOCH);
    let valid_until = time("valid_until", false)?;
    if valid_until.is_some_and(|u| u <= valid_from) {
        return Err(err("`valid_until` is not after `valid_from`"));
    }
    let confidence = match o.get("confidence") {
        None => None,
        Some(c) => Some(
            c.as_u64()
                .filter(|c| *c <= 100)
                .and_then(|c| u8::try_from(c).ok())
                .ok_or_else(|| err("`confidence` is not an integer 0-100"))?,
        ),
    };
    let labels = o
        .get("labels")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(Value::as_str)
                .take(64)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(Some((
        Indicator {
            id: id.clone(),
            name: o
                .get("name")
                .and_then(Value::as_str)
                .map(|s| s.chars().take(256).collect()),
            pattern: pattern.to_owned(),
            confidence,
            valid_from,
            valid_until,
            labels,
        },
        comparisons,
    )))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` to milliseconds.
pub(crate) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || !s.is_ascii() {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-')
        && sep(7, b'-')
        && (sep(10, b'T') || sep(10, b't'))
        && sep(13, b':')
        && sep(16, b':'))
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let rest = s.get(19..)?;
    let (frac, tail) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 9 {
                return None;
            }
            (r.get(..n)?, r.get(n..)?)
        }
        None => ("", rest),
    };
    if tail != "Z" && tail != "z" {
        return None;
    }
    let ms = if frac.is_empty() {
        0
    } else {
        let f3: String = frac.chars().chain("000".chars()).take(3).collect();
        f3.parse::<i64>().ok()?
    };
    // Days from civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec;
    Some(Timestamp::from_unix_millis(secs * 1000 + ms))
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn skip_ws(&mut self) {
        let rest = self.s.get(self.pos..).unwrap_or("");
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.skip_ws();
        let rest = self.s.get(self.pos..).unwrap_or("");
        if rest.starts_with(tok) {
            self.pos += tok.len();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        self.skip_ws();
        let rest = self.s.get(self.pos..).unwrap_or("");
        let after = rest.get(w.len()..).and_then(|r| r.chars().next());
        if rest.starts_with(w) && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.pos += w.len();
            true
        } else {
            false
        }
    }

    fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos >= self.s.len()
    }

    fn object_path(&mut self) -> Result<&'a str, String> {
        self.skip_ws();
        let start = self.pos;
        let rest = self.s.get(start..).unwrap_or("");
        let mut in_quote = false;
        let mut len = 0;
        for c in rest.chars() {
            match c {
                '\'' => in_quote = !in_quote,
                c if !in_quote && (c.is_whitespace() || c == '=' || c == '!' || c == ']') => break,
                _ => {}
            }
            len += c.len_utf8();
        }
        if len == 0 {
            return Err(format!("expected an object path at byte {start}"));
        }
        self.pos += len;
        Ok(rest.get(..len).unwrap_or(""))
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_ws();
        let start = self.pos;
        if !self.eat("'") {
            return Err(format!("expected a quoted string at byte {start}"));
        }
        let mut out = String::new();
        let mut chars = self.s.get(self.pos..).unwrap_or("").chars();
        while let Some(c) = chars.next() {
            self.pos += c.len_utf8();
            match c {
                '\'' => return Ok(out),
                '\\' => match chars.next() {
                    Some(e @ ('\'' | '\\')) => {
                        self.pos += 1;
                        out.push(e);
                    }
                    _ => return Err(format!("invalid escape at byte {}", self.pos)),
                },
                c => out.push(c),
            }
        }
        Err(format!("unterminated string starting at byte {start}"))
    }
}

fn parse_pattern(p: &str) -> Result<Vec<Comparison>, String> {
    if p.len() > MAX_PATTERN_LEN {
        return Err("longer than 8192 bytes".into());
    }
    let mut lx = Lexer { s: p, pos: 0 };
    let mut out = Vec::new();
    loop {
        if !lx.eat("[") {
            return Err(format!("expected `[` at byte {}", lx.pos));
        }
        loop {
            let obj = lx.object_path()?;
            let subset = if lx.eat("=") {
                false
            } else if lx.eat_word("ISSUBSET") {
                true
            } else {
                return Err(format!(
                    "unsupported operator at byte {} (only `=` and `ISSUBSET`)",
                    lx.pos
                ));
            };
            let value = lx.string()?;
            out.push(comparison(obj, &value, subset)?);
            if out.len() > MAX_COMPARISONS {
                return Err("more than 256 comparisons".into());
            }
            if lx.eat_word("OR") {
                continue;
            }
            if lx.eat_word("AND") {
                return Err(format!("`AND` is not supported (byte {})", lx.pos));
            }
            break;
        }
        if !lx.eat("]") {
            return Err(format!("expected `]` at byte {}", lx.pos));
        }
        if lx.at_end() {
            return Ok(out);
        }
        if !lx.eat_word("OR") {
            return Err(format!(
                "only `OR` may join observation expressions (byte {})",
                lx.pos
            ));
        }
    }
}

fn comparison(obj: &str, value: &str, subset: bool) -> Result<Comparison, String> {
    let (ty, prop) = obj
        .split_once(':')
        .ok_or_else(|| format!("object path `{obj}` has no `:`"))?;
    let hash_prop = prop.strip_prefix("hashes.").map(|h| h.trim_matches('\''));
    let nonempty = |v: &str| {
        if v.is_empty() || v.len() > 2048 {
            Err(format!(
                "value for `{obj}` is empty or longer than 2048 bytes"
            ))
        } else {
            Ok(())
        }
    };
    nonempty(value)?;
    if subset && !matches!(ty, "ipv4-addr" | "ipv6-addr") {
        return Err(format!(
            "`ISSUBSET` is only supported for addresses, not `{obj}`"
        ));
    }
    match (ty, prop, hash_prop) {
        ("ipv4-addr" | "ipv6-addr", "value", _) => ip_comparison(ty == "ipv6-addr", value),
        ("domain-name", "value", _) => Ok(Comparison::Exact(
            ObservableKind::Domain,
            value.trim_end_matches('.').to_ascii_lowercase(),
        )),
        ("url", "value", _) => Ok(Comparison::Exact(ObservableKind::Url, value.to_owned())),
        ("email-addr", "value", _) => Ok(Comparison::Exact(
            ObservableKind::Email,
            value.to_ascii_lowercase(),
        )),
        ("file", _, Some(alg)) => {
            let len = match alg.to_ascii_uppercase().as_str() {
                "MD5" => 32,
                "SHA-1" | "SHA1" => 40,
                "SHA-256" | "SHA256" => 64,
                "SHA-512" | "SHA512" => 128,
                _ => return Err(format!("hash algorithm `{alg}` is not supported")),
            };
            if value.len() != len || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("`{value}` is not a {alg} hex digest"));
            }
            Ok(Comparison::Exact(
                ObservableKind::Hash,
                value.to_ascii_lowercase(),
            ))
        }
        _ => Err(format!("object path `{obj}` is not supported")),
    }
}

fn ip_comparison(v6: bool, value: &str) -> Result<Comparison, String> {
    let (addr, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (value, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{value}` is not an IP address or CIDR"))?;
    if ip.is_ipv6() != v6 {
        return Err(format!(
            "`{value}` is not an IPv{} address",
            if v6 { 6 } else { 4 }
        ));
    }
    let width = if v6 { 128 } else { 32 };
    match prefix {
        None => Ok(Comparison::Exact(ObservableKind::Ip, ip.to_string())),
        Some(p) => {
            let prefix: u8 = p
                .parse()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("`{value}` has an invalid prefix length"))?;
            if prefix == width {
                return Ok(Comparison::Exact(ObservableKind::Ip, ip.to_string()));
            }
            let (_, bits) = ip_bits(ip);
            Ok(Comparison::Net {
                v6,
                prefix,
                net: mask(bits, prefix, v6),
            })
        }
    }
}

const IP_FIELDS: [&str; 4] = [
    "src_endpoint.ip",
    "dst_endpoint.ip",
    "device.ip",
    "actor.session.ip",
];
const DOMAIN_FIELDS: [&str; 8] = [
    "src_endpoint.hostname",
    "dst_endpoint.hostname",
    "dst_endpoint.domain",
    "device.hostname",
    "url.hostname",
    "http_request.url.hostname",
    "query.hostname",
    "email.from_domain",
];
const URL_FIELDS: [&str; 2] = ["url.url_string", "http_request.url.url_string"];
const EMAIL_FIELDS: [&str; 3] = ["user.email_addr", "actor.user.email_addr", "email.from"];
const HASH_FIELDS: [&str; 3] = [
    "file.hashes",
    "process.file.hashes",
    "actor.process.file.hashes",
];

/// The observables of an event: (field, kind, value).
fn observables(event: &Value) -> Vec<(String, ObservableKind, String)> {
    let mut out = Vec::new();
    let mut add = |field: &str, kind: ObservableKind, v: Option<&Value>| {
        if let Some(s) = v
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 2048)
        {
            out.push((field.to_owned(), kind, s.to_owned()));
        }
    };
    for f in IP_FIELDS {
        add(f, ObservableKind::Ip, path(event, f));
    }
    for f in DOMAIN_FIELDS {
        add(f, ObservableKind::Domain, path(event, f));
    }
    for f in URL_FIELDS {
        add(f, ObservableKind::Url, path(event, f));
    }
    for f in EMAIL_FIELDS {
        add(f, ObservableKind::Email, path(event, f));
    }
    for f in HASH_FIELDS {
        if let Some(hs) = path(event, f).and_then(Value::as_array) {
            for h in hs.iter().take(16) {
                add(f, ObservableKind::Hash, h.get("value"));
            }
        }
    }
    if let Some(obs) = event.get("observables").and_then(Value::as_array) {
        for o in obs.iter().take(256) {
            let kind = match o.get("type_id").and_then(Value::as_u64) {
                Some(1) => ObservableKind::Domain,
                Some(2) => ObservableKind::Ip,
                Some(5) => ObservableKind::Email,
                Some(6 | 23) => ObservableKind::Url,
                Some(8) => ObservableKind::Hash,
                _ => continue,
            };
            add("observables", kind, o.get("value"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339() {
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:00Z"),
            Some(Timestamp::EPOCH)
        );
        assert_eq!(
            parse_rfc3339("2024-03-01T12:00:00.250Z").map(Timestamp::unix_millis),
            Some(1_709_294_400_250)
        );
        assert!(parse_rfc3339("2024-03-01 12:00:00Z").is_none());
        assert!(parse_rfc3339("2024-03-01T12:00:00+01:00").is_none());
    }

    #[test]
    fn patterns() {
        assert_eq!(
            parse_pattern("[ipv4-addr:value = '198.51.100.0/24']")
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            parse_pattern("[domain-name:value = 'a.example' OR url:value = 'http://x/y'] OR [file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']")
                .unwrap()
                .len(),
            3
        );
        assert!(
            parse_pattern("[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '1.2.3.5']").is_err()
        );
        assert!(parse_pattern("[ipv4-addr:value = 'nope']").is_err());
        assert!(parse_pattern("[process:name = 'x']").is_err());
        assert!(parse_pattern("[ipv4-addr:value = '1.2.3.4'").is_err());
        assert!(parse_pattern("[file:hashes.MD5 = 'zz']").is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(mask(0xC633_6407, 24, false), 0xC633_6400);
        assert_eq!(mask(0xFFFF_FFFF, 0, false), 0);
    }
}
