//! Tokens of the `.cedarschema` format.

/// One token and its byte span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    Ident(String),
    Str(String),
    /// Single punctuation character: `{ } [ ] < > ( ) , ; : ? = @`.
    Punct(char),
    /// `::`
    PathSep,
    Eof,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::PathSep => "`::`".to_owned(),
            Tok::Eof => "end of input".to_owned(),
        }
    }
}

/// A lexical error: message and byte span.
pub(super) type LexError = (String, usize, usize, &'static str);

pub(super) fn tokenize(src: &str) -> Result<Vec<Token>, LexError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        let start = i;
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                let text = src.get(start..i).unwrap_or("").to_owned();
                out.push(Token {
                    kind: Tok::Ident(text),
                    start,
                    end: i,
                });
            }
            b'"' => {
                let (s, end) = lex_string(src, i)?;
                i = end;
                out.push(Token {
                    kind: Tok::Str(s),
                    start,
                    end: i,
                });
            }
            b':' if bytes.get(i + 1) == Some(&b':') => {
                i += 2;
                out.push(Token {
                    kind: Tok::PathSep,
                    start,
                    end: i,
                });
            }
            b'{' | b'}' | b'[' | b']' | b'<' | b'>' | b'(' | b')' | b',' | b';' | b':' | b'?'
            | b'=' | b'@' => {
                i += 1;
                out.push(Token {
                    kind: Tok::Punct(char::from(b)),
                    start,
                    end: i,
                });
            }
            _ => {
                let ch = src.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
                return Err((
                    format!("unexpected character `{}`", ch.escape_debug()),
                    i,
                    i + ch.len_utf8(),
                    "schemas contain identifiers, strings, `//` comments and the punctuation `{ } [ ] < > ( ) , ; : ? = @`",
                ));
            }
        }
    }
    out.push(Token {
        kind: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}

/// Lexes a string literal starting at the opening quote `at`; returns the
/// unescaped text and the offset after the closing quote.
fn lex_string(src: &str, at: usize) -> Result<(String, usize), LexError> {
    let mut out = String::new();
    let rest = src.get(at + 1..).unwrap_or("");
    let mut chars = rest.char_indices();
    let pos = |off: usize| at + 1 + off;
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, pos(off) + 1)),
            '\\' => {
                let Some((eoff, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    '0' => out.push('\0'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    '*' => out.push('*'),
                    'u' => {
                        let body = rest.get(eoff + 1..).unwrap_or("");
                        let close = body.find('}');
                        let code = match (body.strip_prefix('{'), close) {
                            (Some(_), Some(close)) if close <= 7 => body
                                .get(1..close)
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32),
                            _ => None,
                        };
                        match (code, close) {
                            (Some(ch), Some(close)) => {
                                out.push(ch);
                                // Skip `{hex}`.
                                for _ in 0..=close {
                                    chars.next();
                                }
                            }
                            _ => {
                                return Err((
                                    "invalid unicode escape".to_owned(),
                                    pos(off),
                                    pos(eoff) + 1,
                                    "write unicode escapes as `\\u{1F600}` (1 to 6 hex digits)",
                                ))
                            }
                        }
                    }
                    other => {
                        return Err((
                            format!("invalid escape `\\{}`", other.escape_debug()),
                            pos(off),
                            pos(eoff) + other.len_utf8(),
                            "valid escapes are `\\n \\r \\t \\0 \\\\ \\\" \\' \\u{...}`",
                        ))
                    }
                }
            }
            c => out.push(c),
        }
    }
    Err((
        "unterminated string".to_owned(),
        at,
        at + 1,
        "close the string with `\"`",
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        tokenize(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn lexes_tokens_and_skips_comments() {
        assert_eq!(
            kinds("entity A::B // note\n { \"x\\u{41}\\n\"?: Set<Long> };"),
            vec![
                Tok::Ident("entity".into()),
                Tok::Ident("A".into()),
                Tok::PathSep,
                Tok::Ident("B".into()),
                Tok::Punct('{'),
                Tok::Str("xA\n".into()),
                Tok::Punct('?'),
                Tok::Punct(':'),
                Tok::Ident("Set".into()),
                Tok::Punct('<'),
                Tok::Ident("Long".into()),
                Tok::Punct('>'),
                Tok::Punct('}'),
                Tok::Punct(';'),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn rejects_bad_strings_and_characters() {
        assert!(tokenize("\"abc").unwrap_err().0.contains("unterminated"));
        assert!(tokenize("\"\\q\"")
            .unwrap_err()
            .0
            .contains("invalid escape"));
        assert!(tokenize("\"\\u{zz}\"").unwrap_err().0.contains("unicode"));
        assert!(tokenize("entity A$;").unwrap_err().0.contains("`$`"));
        assert!(tokenize("\"\\").is_err());
    }
}
