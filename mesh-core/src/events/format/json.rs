//! JSON and NDJSON records.

use serde_json::Value;

use super::{Format, ParseError};
use crate::events::Record;

/// Parses one JSON object (a UTF-8 BOM and surrounding whitespace allowed).
/// Anything but an object is rejected: a record is a set of named fields.
pub fn parse_json(bytes: &[u8]) -> Result<Record, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(Record::new(map)),
        Ok(_) => Err(ParseError::new(
            Format::Json,
            0,
            "record is not a JSON object",
        )),
        Err(e) => Err(ParseError::new(
            Format::Json,
            offset_of(bytes, e.line(), e.column()),
            format!(
                "invalid JSON at {}:{}: {}",
                e.line(),
                e.column(),
                classify(&e)
            ),
        )),
    }
}

fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "i/o error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "unexpected end of input",
    }
}

fn offset_of(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut cur_line = 1;
    let mut line_start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if cur_line == line {
            break;
        }
        if *b == b'\n' {
            cur_line += 1;
            line_start = i + 1;
        }
    }
    line_start
        .saturating_add(column.saturating_sub(1))
        .min(bytes.len())
}

/// The non-blank lines of an NDJSON buffer, each with its 1-based line
/// number; `\r\n` line ends are accepted.
#[derive(Clone, Debug)]
pub struct NdjsonLines<'a> {
    rest: &'a [u8],
    line: usize,
}

impl<'a> NdjsonLines<'a> {
    /// Lines of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        NdjsonLines {
            rest: input,
            line: 0,
        }
    }
}

impl<'a> Iterator for NdjsonLines<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            self.line += 1;
            let (line, rest) = match self.rest.iter().position(|b| *b == b'\n') {
                Some(i) => (self.rest.get(..i)?, self.rest.get(i + 1..)?),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some((self.line, line));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn objects_only_with_position() {
        assert!(parse_json(b"\xEF\xBB\xBF {\"a\":1}").is_ok());
        assert!(parse_json(b"[1]").is_err());
        let e = parse_json(b"{\"a\":\n  tru}").unwrap_err();
        assert_eq!(e.offset(), 11);
        assert!(e.reason().contains("2:"), "{}", e.reason());
    }

    #[test]
    fn ndjson_lines_skip_blanks() {
        let lines: Vec<_> = NdjsonLines::new(b"{}\r\n\n  \n{\"a\":1}").collect();
        assert_eq!(lines, vec![(1, &b"{}"[..]), (4, &b"{\"a\":1}"[..])]);
    }
}
