//! The canonical actor key: one name for one subject across every source.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

use super::IdentityError;

/// Longest identifier accepted as an actor key, in bytes.
pub const MAX_ACTOR_KEY_LEN: usize = 512;

/// The canonical key of an actor (a person, workload or device).
///
/// The same subject seen in a token, an API key or a log line resolves to the
/// same key, so correlation, revocation and policy speak of one subject.
/// Canonicalization rules, in order:
///
/// 1. surrounding whitespace and a `mailto:` prefix are removed;
/// 2. an AWS assumed-role ARN whose session name is an e-mail address
///    (`arn:aws:sts::123:assumed-role/Role/alice@example.com`) resolves to
///    that address; other ARNs are kept as they are;
/// 3. e-mail addresses and UPNs (anything with a single `@` and no `/`,
///    `\` or whitespace) are lower-cased;
/// 4. Windows down-level names (`DOMAIN\user`) are lower-cased;
/// 5. Windows SIDs (`S-1-…`) are upper-cased;
/// 6. everything else (opaque subject ids, SPIFFE IDs) is kept byte for byte,
///    since those are case-sensitive.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActorKey(String);

impl ActorKey {
    /// The canonical key for a raw identifier (see the type's rules).
    pub fn from_identifier(raw: &str) -> Result<ActorKey, IdentityError> {
        if let Some(key) = plain_ascii_key(raw) {
            return Ok(key);
        }
        ActorKey::from_identifier_general(raw)
    }

    /// [`ActorKey::from_identifier`] for any identifier.
    fn from_identifier_general(raw: &str) -> Result<ActorKey, IdentityError> {
        let mut s = raw.trim();
        while s
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
        {
            s = s.get(7..).unwrap_or_default().trim();
        }
        if s.is_empty() {
            return Err(IdentityError::InvalidActor {
                reason: "identifier is empty",
            });
        }
        if s.len() > MAX_ACTOR_KEY_LEN {
            return Err(IdentityError::InvalidActor {
                reason: "identifier is longer than 512 bytes",
            });
        }
        if has_control(s) {
            return Err(IdentityError::InvalidActor {
                reason: "identifier contains control characters",
            });
        }
        if let Some(session) = assumed_role_session(s) {
            if is_email_like(session) {
                return Ok(ActorKey(lowercase(session)));
            }
            return Ok(ActorKey(s.to_owned()));
        }
        if s.starts_with("arn:") || s.starts_with("spiffe://") {
            return Ok(ActorKey(s.to_owned()));
        }
        if is_email_like(s) || is_down_level(s) {
            return Ok(ActorKey(lowercase(s)));
        }
        if is_sid(s) {
            return Ok(ActorKey(s.to_ascii_uppercase()));
        }
        Ok(ActorKey(s.to_owned()))
    }

    /// A key for a subject that is not a usable identifier on its own
    /// (empty, oversized): `sha256:` and the hex SHA-256 of issuer and subject.
    pub(crate) fn fallback(issuer: &str, subject: &str) -> ActorKey {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(issuer.as_bytes());
        ctx.update(&[0]);
        ctx.update(subject.as_bytes());
        let mut key = String::from("sha256:");
        for b in ctx.finish().as_ref() {
            key.push_str(&format!("{b:02x}"));
        }
        ActorKey(key)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key of the common identifier, read in one pass over its bytes: ASCII,
/// no surrounding white space, no control characters, no `mailto:`, `arn:`,
/// `spiffe://` or SID prefix and no `\`, at most [`MAX_ACTOR_KEY_LEN`]
/// bytes. `None` for anything else, which the general rules handle; where
/// both apply they give the same key.
fn plain_ascii_key(s: &str) -> Option<ActorKey> {
    plain_ascii_canonical(s).map(|c| ActorKey(c.into_owned()))
}

/// The canonical text of a raw identifier, as [`ActorKey::from_identifier`]
/// makes it, borrowed when `raw` is already canonical (the common e-mail
/// address in lower case), so that reading it allocates nothing.
pub(crate) fn canonical_text(raw: &str) -> Result<Cow<'_, str>, IdentityError> {
    if let Some(c) = plain_ascii_canonical(raw) {
        return Ok(c);
    }
    ActorKey::from_identifier_general(raw).map(|k| Cow::Owned(k.0))
}

impl ActorKey {
    /// The key of a text [`canonical_text`] made.
    pub(crate) fn from_canonical(text: &str) -> ActorKey {
        ActorKey(text.to_owned())
    }
}

/// Byte class of [`plain_ascii_canonical`]: `@`.
const AT: u8 = 1;
/// Byte class: an upper-case ASCII letter.
const UPPER: u8 = 2;
/// Byte class: `/` or space (not an e-mail address).
const NOT_EMAIL: u8 = 4;
/// Byte class: control, non-ASCII, or the down-level separator `\`.
const REJECTED: u8 = 8;
/// Byte class: `:` (every rejected prefix but `s-1-` has one).
const COLON: u8 = 16;

/// The class of every byte (0 for the other bytes, e.g. lower-case letters,
/// digits, `.`, `-`, `_`, `+`).
#[allow(clippy::indexing_slicing)]
const BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match i as u8 {
            b'A'..=b'Z' => UPPER,
            b'@' => AT,
            0..=0x1f | 0x7f.. | b'\\' => REJECTED,
            b'/' | b' ' => NOT_EMAIL,
            b':' => COLON,
            _ => 0,
        };
        i += 1;
    }
    t
};

/// [`plain_ascii_key`]'s text, borrowed when already canonical.
fn plain_ascii_canonical(s: &str) -> Option<Cow<'_, str>> {
    let bytes = s.as_bytes();
    let (&first, &last) = (bytes.first()?, bytes.last()?);
    if bytes.len() > MAX_ACTOR_KEY_LEN
        || matches!(first, b'\t'..=b'\r' | b' ')
        || matches!(last, b'\t'..=b'\r' | b' ')
    {
        return None;
    }
    // The classes of all bytes at once, and the number of `@`.
    let (mut classes, mut ats) = (0u8, 0usize);
    for &b in bytes {
        let c = BYTE_CLASS.get(usize::from(b)).copied().unwrap_or(REJECTED);
        classes |= c;
        ats += usize::from(c & AT);
    }
    if classes & REJECTED != 0 {
        return None;
    }
    let (not_email, upper) = (classes & NOT_EMAIL != 0, classes & UPPER != 0);
    let prefix = |p: &str| {
        bytes
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p.as_bytes()))
    };
    let colon = classes & COLON != 0;
    if (colon && (prefix("mailto:") || prefix("arn:") || prefix("spiffe://"))) || prefix("s-1-") {
        return None;
    }
    let email = ats == 1 && !not_email && first != b'@' && last != b'@';
    Some(if email && upper {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    })
}

fn assumed_role_session(s: &str) -> Option<&str> {
    if !s.starts_with("arn:") {
        return None;
    }
    let resource = s.splitn(6, ':').nth(5)?;
    let rest = resource.strip_prefix("assumed-role/")?;
    let (_role, session) = rest.split_once('/')?;
    (!session.is_empty()).then_some(session)
}

// The checks below scan bytes when the text is ASCII (the common case: a
// hot path of correlation) and fall back to `char` tests otherwise; both
// give the same answer.

/// Whether `s` has a control character (`char::is_control`).
fn has_control(s: &str) -> bool {
    if s.is_ascii() {
        s.bytes().any(|b| b < 0x20 || b == 0x7f)
    } else {
        s.chars().any(char::is_control)
    }
}

/// Whether `s` has white space (`char::is_whitespace`).
fn has_whitespace(s: &str) -> bool {
    if s.is_ascii() {
        s.bytes().any(|b| matches!(b, b'\t'..=b'\r' | b' '))
    } else {
        s.chars().any(char::is_whitespace)
    }
}

/// `str::to_lowercase`, without the per-character path for ASCII text.
fn lowercase(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

fn is_email_like(s: &str) -> bool {
    if s.is_ascii() {
        // One pass: exactly one `@`, not first or last; no `/`, `\`, space.
        let mut at = None;
        for (i, b) in s.bytes().enumerate() {
            match b {
                b'@' if at.is_some() => return false,
                b'@' => at = Some(i),
                b'/' | b'\\' | b'\t'..=b'\r' | b' ' => return false,
                _ => {}
            }
        }
        return matches!(at, Some(i) if i > 0 && i + 1 < s.len());
    }
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.bytes().any(|b| b == b'/' || b == b'\\')
                && !has_whitespace(s)
        }
        None => false,
    }
}

fn is_down_level(s: &str) -> bool {
    matches!(s.split_once('\\'), Some((d, u)) if !d.is_empty() && !u.is_empty() && !u.contains('\\'))
}

fn is_sid(s: &str) -> bool {
    let upper = s.len() > 4 && s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("s-1-"));
    upper
        && s.get(4..)
            .is_some_and(|t| t.chars().all(|c| c.is_ascii_digit() || c == '-'))
}

impl TryFrom<String> for ActorKey {
    type Error = IdentityError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ActorKey::from_identifier(&value)
    }
}

impl From<ActorKey> for String {
    fn from(value: ActorKey) -> Self {
        value.0
    }
}

impl fmt::Display for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorKey({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> String {
        ActorKey::from_identifier(s)
            .map(String::from)
            .unwrap_or_default()
    }

    #[test]
    fn byte_checks_agree_with_char_checks() {
        for s in [
            "a b",
            "a\tb",
            "a\u{b}b",
            "a\u{c}b",
            "a\rb",
            "a\nb",
            "a\u{1f}b",
            "a\u{7f}b",
            "a\u{85}b",
            "a\u{a0}b",
            "a\u{2028}b",
            "é@x",
            "A@B",
            "İ@x",
            "plain",
        ] {
            assert_eq!(has_control(s), s.chars().any(char::is_control), "{s:?}");
            assert_eq!(
                has_whitespace(s),
                s.chars().any(char::is_whitespace),
                "{s:?}"
            );
            assert_eq!(lowercase(s), s.to_lowercase(), "{s:?}");
        }
        for b in 0u8..=0x7f {
            let s = char::from(b).to_string();
            assert_eq!(has_control(&s), s.chars().any(char::is_control), "{b}");
            assert_eq!(
                has_whitespace(&s),
                s.chars().any(char::is_whitespace),
                "{b}"
            );
        }
        for s in [
            "a@b",
            "@b",
            "a@",
            "a@b@c",
            "a/b@c",
            "a\\b@c",
            "a @b",
            "a@b\u{a0}",
            "@",
            "",
            "a@\u{b}b",
            "a\tb@c",
            "é@b",
            "é@",
        ] {
            let mut parts = s.split('@');
            let old = match (parts.next(), parts.next(), parts.next()) {
                (Some(l), Some(d), None) => {
                    !l.is_empty()
                        && !d.is_empty()
                        && !s.contains(['/', '\\'])
                        && !s.chars().any(char::is_whitespace)
                }
                _ => false,
            };
            assert_eq!(is_email_like(s), old, "{s:?}");
        }
    }

    /// Identifiers of every kind the rules tell apart, for the property.
    fn identifier() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let part = "[A-Za-z0-9@./\\\\:_ +\t-]{0,12}";
        prop_oneof![
            part.prop_map(|s| s),
            (
                prop_oneof![
                    Just(""),
                    Just("mailto:"),
                    Just("MailTo:"),
                    Just("arn:"),
                    Just("ARN:"),
                    Just("spiffe://"),
                    Just("s-1-"),
                    Just("S-1-"),
                    Just(" "),
                    Just("@")
                ],
                part,
                prop_oneof![
                    Just(""),
                    Just("@"),
                    Just(" "),
                    Just("\u{e9}"),
                    Just("\u{0}")
                ]
            )
                .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
            "\\PC{0,6}",
            Just("x".repeat(512)),
            Just("x".repeat(513)),
        ]
    }

    proptest::proptest! {
        /// The one-pass key of common identifiers is the key of the general
        /// rules.
        #[test]
        fn plain_ascii_keys_follow_the_general_rules(s in identifier()) {
            if let Some(fast) = plain_ascii_key(&s) {
                proptest::prop_assert_eq!(Ok(fast), ActorKey::from_identifier_general(&s));
            }
        }
    }

    #[test]
    fn common_identifiers_take_the_one_pass_path() {
        for s in ["User1@Example.com", "alice@example.com", "00uAbC123", "bob"] {
            assert!(plain_ascii_key(s).is_some(), "{s}");
            assert_eq!(
                plain_ascii_key(s),
                ActorKey::from_identifier_general(s).ok()
            );
        }
    }

    #[test]
    fn emails_and_upns_fold_case() {
        assert_eq!(key(" Alice@Example.COM "), "alice@example.com");
        assert_eq!(key("mailto:alice@example.com"), "alice@example.com");
        // Found by fuzzing: a second prefix must not survive canonicalization.
        assert_eq!(key("mailto: mailto:! @e"), "! @e");
        assert_eq!(key("! @e"), "! @e");
        // Also found by fuzzing: the scheme is case-insensitive.
        assert_eq!(key("MAILTO:B@x"), "b@x");
        // And an assumed-role session folds case like any e-mail address.
        assert_eq!(
            key("arn:aws:sts::1:assumed-role/R/\u{51e}x@Example.com"),
            "\u{51f}x@example.com"
        );
    }

    #[test]
    fn assumed_role_with_email_session_is_the_person() {
        assert_eq!(
            key("arn:aws:sts::123456789012:assumed-role/Admin/Alice@example.com"),
            "alice@example.com"
        );
        assert_eq!(
            key("arn:aws:sts::123456789012:assumed-role/Admin/i-0abc"),
            "arn:aws:sts::123456789012:assumed-role/Admin/i-0abc"
        );
    }

    #[test]
    fn opaque_ids_keep_case_and_sids_upper() {
        assert_eq!(key("00uAbC123"), "00uAbC123");
        assert_eq!(key("s-1-5-21-1-2-3-1001"), "S-1-5-21-1-2-3-1001");
        assert_eq!(key("CORP\\Alice"), "corp\\alice");
        assert_eq!(key("spiffe://Prod/Api"), "spiffe://Prod/Api");
    }

    #[test]
    fn rejects_empty_control_and_oversized() {
        assert!(ActorKey::from_identifier("  ").is_err());
        assert!(ActorKey::from_identifier("a\u{0}b").is_err());
        assert!(ActorKey::from_identifier(&"a".repeat(513)).is_err());
    }
}
