//! Syslog: RFC 5424 and RFC 3164 (BSD), told apart by the header.
//!
//! * RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD…] MSG`; `-` is the
//!   nil value; structured data params escape `"`, `\` and `]`; a UTF-8 BOM
//!   before the message is dropped.
//! * RFC 3164: `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`. The timestamp has
//!   no year: it is inferred from the host-passed `now` (see
//!   [`parse_syslog`]). Tolerated as devices emit them: no `<PRI>` (lines of
//!   log files such as `auth.log`, which must then start with the timestamp),
//!   an RFC 3339 timestamp instead of the BSD one, no hostname before the tag.

use serde_json::{Map, Value};

use super::cef::lossy;
use super::{Format, ParseError, MAX_FIELDS};
use crate::events::timefmt::{parse_bsd_timestamp, parse_rfc3339};
use crate::events::Record;
use crate::Timestamp;

/// A parsed syslog message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyslogMessage {
    /// Facility (PRI / 8), if the message had a PRI.
    pub facility: Option<u8>,
    /// Severity (PRI % 8), if the message had a PRI.
    pub severity: Option<u8>,
    /// The RFC 5424 version (1); `None` for RFC 3164.
    pub version: Option<u16>,
    /// The timestamp, ms since the epoch (RFC 3164: year inferred).
    pub timestamp: Option<i64>,
    /// HOSTNAME.
    pub hostname: Option<String>,
    /// APP-NAME (RFC 3164: the tag).
    pub app_name: Option<String>,
    /// PROCID (RFC 3164: the pid in `tag[pid]`).
    pub procid: Option<String>,
    /// MSGID (RFC 5424 only).
    pub msgid: Option<String>,
    /// Structured data elements: SD-ID → params in order (RFC 5424 only).
    pub structured_data: Vec<(String, Vec<(String, String)>)>,
    /// The free-form message.
    pub message: String,
}

impl SyslogMessage {
    /// The message as a record (field names in [`Record`]'s docs).
    pub fn into_record(self) -> Record {
        let mut f = Map::with_capacity(10);
        if let Some(v) = self.facility {
            f.insert("facility".into(), Value::from(v));
        }
        if let Some(v) = self.severity {
            f.insert("severity".into(), Value::from(v));
        }
        if let Some(v) = self.version {
            f.insert("version".into(), Value::from(v));
        }
        if let Some(v) = self.timestamp {
            f.insert("timestamp".into(), Value::from(v));
        }
        for (k, v) in [
            ("hostname", self.hostname),
            ("app_name", self.app_name),
            ("procid", self.procid),
            ("msgid", self.msgid),
        ] {
            if let Some(v) = v {
                f.insert(k.into(), Value::String(v));
            }
        }
        if !self.structured_data.is_empty() {
            let mut sd = Map::with_capacity(self.structured_data.len());
            for (id, params) in self.structured_data {
                let mut p = Map::with_capacity(params.len());
                for (k, v) in params {
                    p.insert(k, Value::String(v));
                }
                sd.insert(id, Value::Object(p));
            }
            f.insert("structured_data".into(), Value::Object(sd));
        }
        f.insert("message".into(), Value::String(self.message));
        Record::new(f)
    }
}

fn err(i: usize, m: impl Into<String>) -> ParseError {
    ParseError::new(Format::Syslog, i, m)
}

/// Parses a syslog message. `now` only serves RFC 3164 timestamps, whose
/// year is the current one unless that would put the message more than a
/// day in the future (a December message read in January: previous year).
pub fn parse_syslog(bytes: &[u8], now: Timestamp) -> Result<SyslogMessage, ParseError> {
    let b = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let b = b.strip_suffix(b"\r").unwrap_or(b);
    let mut msg = SyslogMessage::default();
    let mut i = 0;
    if b.first() == Some(&b'<') {
        let close = b
            .iter()
            .take(5)
            .position(|c| *c == b'>')
            .ok_or_else(|| err(0, "unterminated `<PRI>`"))?;
        let digits = b.get(1..close).unwrap_or(&[]);
        if digits.is_empty()
            || !digits.iter().all(u8::is_ascii_digit)
            || (digits.len() > 1 && digits.first() == Some(&b'0'))
        {
            return Err(err(1, "PRI is not a number"));
        }
        // At most three ASCII digits (the `>` is within the first five bytes).
        let pri = digits
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        if pri > 191 {
            return Err(err(1, format!("PRI `{pri}` is above 191")));
        }
        msg.facility = u8::try_from(pri / 8).ok();
        msg.severity = u8::try_from(pri % 8).ok();
        i = close + 1;
        // RFC 5424: a version number then a space.
        let v_end = b
            .get(i..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count());
        if (1..=3).contains(&v_end) && b.get(i + v_end) == Some(&b' ') && b.get(i) != Some(&b'0') {
            let v = b
                .get(i..i + v_end)
                .unwrap_or(&[])
                .iter()
                .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
            msg.version = Some(v);
            parse_5424(b, i + v_end + 1, &mut msg)?;
            return Ok(msg);
        }
    }
    parse_3164(b, i, now, &mut msg)?;
    Ok(msg)
}

fn token(b: &[u8], i: usize) -> (&[u8], usize) {
    let rest = b.get(i..).unwrap_or(&[]);
    let end = rest.iter().position(|c| *c == b' ').unwrap_or(rest.len());
    (rest.get(..end).unwrap_or(&[]), i + end)
}

fn nil_or(t: &[u8]) -> Option<String> {
    (t != b"-").then(|| lossy(t))
}

fn parse_5424(b: &[u8], mut i: usize, msg: &mut SyslogMessage) -> Result<(), ParseError> {
    let mut header = [None, None, None, None, None];
    for (n, slot) in header.iter_mut().enumerate() {
        let (t, end) = token(b, i);
        if t.is_empty() {
            return Err(err(i, format!("header field {} of 6 is empty", n + 2)));
        }
        if b.get(end) != Some(&b' ') {
            return Err(err(end, "header ends early"));
        }
        *slot = Some((t, i));
        i = end + 1;
    }
    let [Some((ts, ts_at)), Some((host, _)), Some((app, _)), Some((pid, _)), Some((mid, _))] =
        header
    else {
        return Err(err(i, "header ends early"));
    };
    if ts != b"-" {
        let s = std::str::from_utf8(ts).map_err(|_| err(ts_at, "timestamp is not UTF-8"))?;
        msg.timestamp =
            Some(parse_rfc3339(s).ok_or_else(|| err(ts_at, format!("invalid timestamp `{s}`")))?);
    }
    msg.hostname = nil_or(host);
    msg.app_name = nil_or(app);
    msg.procid = nil_or(pid);
    msg.msgid = nil_or(mid);
    match b.get(i) {
        Some(b'-') => i += 1,
        Some(b'[') => i = parse_sd(b, i, msg)?,
        _ => return Err(err(i, "expected structured data or `-`")),
    }
    match b.get(i) {
        None => {}
        Some(b' ') => {
            let rest = b.get(i + 1..).unwrap_or(&[]);
            let rest = rest.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(rest);
            msg.message = lossy(rest);
        }
        Some(_) => return Err(err(i, "expected a space before the message")),
    }
    Ok(())
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_graphic() && !matches!(c, b'=' | b']' | b'"' | b' ')
}

fn parse_sd(b: &[u8], mut i: usize, msg: &mut SyslogMessage) -> Result<usize, ParseError> {
    let mut count = 0usize;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let s = i;
        while b.get(i).copied().is_some_and(is_name_byte) {
            i += 1;
        }
        if i == s {
            return Err(err(i, "empty SD-ID"));
        }
        let id = lossy(b.get(s..i).unwrap_or(&[]));
        if msg.structured_data.iter().any(|(k, _)| *k == id) {
            return Err(err(s, format!("duplicate SD-ID `{id}`")));
        }
        let mut params = Vec::new();
        loop {
            match b.get(i) {
                Some(b']') => {
                    i += 1;
                    break;
                }
                Some(b' ') => {
                    i += 1;
                    let s = i;
                    while b.get(i).copied().is_some_and(is_name_byte) {
                        i += 1;
                    }
                    if i == s || b.get(i) != Some(&b'=') || b.get(i + 1) != Some(&b'"') {
                        return Err(err(i, "expected `name=\"value\"` in structured data"));
                    }
                    let name = lossy(b.get(s..i).unwrap_or(&[]));
                    i += 2;
                    let (v, next) = sd_value(b, i)?;
                    i = next;
                    count += 1;
                    if count > MAX_FIELDS {
                        return Err(err(
                            i,
                            format!("more than {MAX_FIELDS} structured data params"),
                        ));
                    }
                    params.push((name, v));
                }
                _ => return Err(err(i, "unterminated structured data element")),
            }
        }
        msg.structured_data.push((id, params));
    }
    Ok(i)
}

/// A structured data param value starting at `start` (after the opening
/// quote): unescaped, and the position after the closing quote. Runs without
/// escapes are found with one scan and copied once.
fn sd_value(b: &[u8], start: usize) -> Result<(String, usize), ParseError> {
    let mut i = start;
    let mut out: Option<Vec<u8>> = None;
    let mut run = start;
    loop {
        let rest = b.get(i..).unwrap_or(&[]);
        let Some(k) = memchr::memchr2(b'"', b'\\', rest) else {
            return Err(err(b.len(), "unterminated structured data value"));
        };
        i += k;
        if b.get(i) == Some(&b'"') {
            let tail = b.get(run..i).unwrap_or(&[]);
            let v = match out {
                None => lossy(tail),
                Some(mut v) => {
                    v.extend_from_slice(tail);
                    lossy(&v)
                }
            };
            return Ok((v, i + 1));
        }
        // A backslash: it escapes `"`, `\` and `]`, and is kept before anything else.
        match b.get(i + 1) {
            Some(&n @ (b'"' | b'\\' | b']')) => {
                let v = out.get_or_insert_with(Vec::new);
                v.extend_from_slice(b.get(run..i).unwrap_or(&[]));
                v.push(n);
                i += 2;
                run = i;
            }
            _ => i += 1,
        }
    }
}

fn parse_3164(
    b: &[u8],
    mut i: usize,
    now: Timestamp,
    msg: &mut SyslogMessage,
) -> Result<(), ParseError> {
    let had_pri = i > 0;
    let rest = b.get(i..).unwrap_or(&[]);
    if let Some((t, n)) = parse_bsd_timestamp(rest, now.unix_millis()) {
        msg.timestamp = Some(t);
        i += n;
    } else {
        let (tok, end) = token(b, i);
        match std::str::from_utf8(tok).ok().and_then(parse_rfc3339) {
            Some(t) if tok.len() >= 19 => {
                msg.timestamp = Some(t);
                i = end;
            }
            _ if had_pri => {}
            _ => return Err(err(i, "neither `<PRI>` nor a timestamp: not syslog")),
        }
    }
    if msg.timestamp.is_some() {
        if b.get(i) != Some(&b' ') && i < b.len() {
            return Err(err(i, "expected a space after the timestamp"));
        }
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        // HOSTNAME, unless the next token is already the tag.
        let (tok, end) = token(b, i);
        if !tok.is_empty() && !is_tag(tok) && b.get(end) == Some(&b' ') {
            msg.hostname = Some(lossy(tok));
            i = end + 1;
        }
    }
    // TAG[PID]: MSG
    let rest = b.get(i..).unwrap_or(&[]);
    let (tok, _) = token(b, i);
    if is_tag(tok) {
        let colon = tok.len() - 1;
        let tag = tok.get(..colon).unwrap_or(&[]);
        match tag.iter().position(|c| *c == b'[') {
            Some(open) if tag.last() == Some(&b']') => {
                msg.app_name = Some(lossy(tag.get(..open).unwrap_or(&[])));
                msg.procid = Some(lossy(tag.get(open + 1..tag.len() - 1).unwrap_or(&[])));
            }
            _ => msg.app_name = Some(lossy(tag)),
        }
        let m = rest.get(tok.len()..).unwrap_or(&[]);
        msg.message = lossy(m.strip_prefix(b" ").unwrap_or(m));
    } else {
        msg.message = lossy(rest);
    }
    Ok(())
}

/// `tag:` or `tag[pid]:` with a non-empty tag of printable bytes.
fn is_tag(tok: &[u8]) -> bool {
    let Some(body) = tok.strip_suffix(b":") else {
        return false;
    };
    let name_end = body.iter().position(|c| *c == b'[').unwrap_or(body.len());
    let name = body.get(..name_end).unwrap_or(&[]);
    let pid_ok = match body.get(name_end..) {
        None | Some([]) => true,
        Some(p) => p.len() >= 2 && p.last() == Some(&b']'),
    };
    !name.is_empty()
        && name.len() <= 48
        && name.iter().all(|c| c.is_ascii_graphic() && *c != b'[')
        && pid_ok
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::events::timefmt::parse_rfc3339;

    fn now() -> Timestamp {
        Timestamp::from_unix_millis(parse_rfc3339("2024-06-01T12:00:00Z").unwrap())
    }

    #[test]
    fn rfc5424_with_structured_data_and_bom() {
        let m = parse_syslog(
            b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Appli\\]cation\"][x@1 a=\"\"] \xEF\xBB\xBFAn application event",
            now(),
        )
        .unwrap();
        assert_eq!(m.facility, Some(20));
        assert_eq!(m.severity, Some(5));
        assert_eq!(m.version, Some(1));
        assert_eq!(m.timestamp, parse_rfc3339("2003-10-11T22:14:15.003Z"));
        assert_eq!(m.hostname.as_deref(), Some("mymachine.example.com"));
        assert_eq!(m.procid, None);
        assert_eq!(m.msgid.as_deref(), Some("ID47"));
        assert_eq!(
            m.structured_data[0].1[1],
            ("eventSource".into(), "Appli]cation".into())
        );
        assert_eq!(m.message, "An application event");
        let r = m.into_record();
        assert_eq!(r.fields()["structured_data"]["x@1"]["a"], "");
    }

    #[test]
    fn rfc5424_nil_everything() {
        let m = parse_syslog(b"<14>1 - - - - - -", now()).unwrap();
        assert_eq!(m.timestamp, None);
        assert_eq!(m.message, "");
        assert!(parse_syslog(b"<14>1 - - - - -", now()).is_err());
        assert!(parse_syslog(b"<14>1 - - - - - [a b]", now()).is_err());
        assert!(parse_syslog(b"<14>1 bad - - - - -", now()).is_err());
    }

    #[test]
    fn rfc3164_forms() {
        let m = parse_syslog(
            b"<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick",
            now(),
        )
        .unwrap();
        assert_eq!(m.timestamp, parse_rfc3339("2023-10-11T22:14:15Z"));
        assert_eq!(m.hostname.as_deref(), Some("mymachine"));
        assert_eq!(m.app_name.as_deref(), Some("su"));
        assert_eq!(m.procid.as_deref(), Some("123"));
        assert_eq!(m.message, "'su root' failed for lonvick");
        let m = parse_syslog(
            b"May 31 23:00:01 web1 sshd[42]: Accepted publickey for alice",
            now(),
        )
        .unwrap();
        assert_eq!(m.facility, None);
        assert_eq!(m.timestamp, parse_rfc3339("2024-05-31T23:00:01Z"));
        let m = parse_syslog(b"<13>Jun  1 10:00:00 sudo: alice : TTY=pts/0", now()).unwrap();
        assert_eq!(m.hostname, None);
        assert_eq!(m.app_name.as_deref(), Some("sudo"));
        let m = parse_syslog(b"<13>2024-06-01T10:00:00+00:00 host app: hi", now()).unwrap();
        assert_eq!(m.hostname.as_deref(), Some("host"));
        assert!(parse_syslog(b"hello world", now()).is_err());
        assert!(parse_syslog(b"<192>x", now()).is_err());
        assert!(parse_syslog(b"<1", now()).is_err());
    }
}
