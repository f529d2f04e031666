//! Tokens of the Cedar policy language.

use super::diagnostic::Span;

/// A token kind; identifiers, strings and integers borrow their text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok<'s> {
    Ident(&'s str),
    /// The raw text between the quotes (escapes not yet processed).
    Str(&'s str),
    Int(&'s str),
    At,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Semi,
    Dot,
    ColonColon,
    Colon,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Minus,
    Plus,
    Star,
    Question,
    /// A character that starts no token (reported by the parser).
    Unknown(char),
    /// A string literal without its closing quote.
    UnterminatedStr,
    Eof,
}

impl Tok<'_> {
    /// How the token is shown in messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(s) => format!("string \"{}\"", s.chars().take(40).collect::<String>()),
            Tok::Int(s) => format!("integer `{s}`"),
            Tok::Unknown(c) => format!("`{}`", c.escape_debug()),
            Tok::UnterminatedStr => "an unterminated string".into(),
            Tok::Eof => "end of input".into(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::At => "@",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Dot => ".",
            Tok::ColonColon => "::",
            Tok::Colon => ":",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
            Tok::Minus => "-",
            Tok::Plus => "+",
            Tok::Star => "*",
            Tok::Question => "?",
            _ => "",
        }
    }
}

/// A token and where it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token<'s> {
    pub tok: Tok<'s>,
    pub span: Span,
}

/// Splits `src` into tokens; never fails (bad characters become
/// [`Tok::Unknown`]). The last token is always [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Vec<Token<'_>> {
    let bytes = src.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 4 + 1);
    let mut i = 0usize;
    let len = bytes.len();
    while i < len {
        let b = bytes.get(i).copied().unwrap_or(0);
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < len && bytes.get(i) != Some(&b'\n') {
                i += 1;
            }
            continue;
        }
        let start = i;
        let two = |c: u8| bytes.get(i + 1) == Some(&c);
        let (tok, n) = match b {
            b'@' => (Tok::At, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'{' => (Tok::LBrace, 1),
            b'}' => (Tok::RBrace, 1),
            b'[' => (Tok::LBracket, 1),
            b']' => (Tok::RBracket, 1),
            b',' => (Tok::Comma, 1),
            b';' => (Tok::Semi, 1),
            b'.' => (Tok::Dot, 1),
            b':' if two(b':') => (Tok::ColonColon, 2),
            b':' => (Tok::Colon, 1),
            b'=' if two(b'=') => (Tok::EqEq, 2),
            b'!' if two(b'=') => (Tok::NotEq, 2),
            b'!' => (Tok::Bang, 1),
            b'<' if two(b'=') => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if two(b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'&' if two(b'&') => (Tok::AndAnd, 2),
            b'|' if two(b'|') => (Tok::OrOr, 2),
            b'-' => (Tok::Minus, 1),
            b'+' => (Tok::Plus, 1),
            b'*' => (Tok::Star, 1),
            b'?' => (Tok::Question, 1),
            b'"' => {
                let mut j = i + 1;
                let mut closed = false;
                while j < len {
                    match bytes.get(j) {
                        Some(b'\\') => j += 2,
                        Some(b'"') => {
                            closed = true;
                            break;
                        }
                        _ => j += 1,
                    }
                }
                if closed {
                    let raw = src.get(i + 1..j).unwrap_or("");
                    (Tok::Str(raw), j + 1 - i)
                } else {
                    (Tok::UnterminatedStr, len - i)
                }
            }
            b'0'..=b'9' => {
                let mut j = i;
                while bytes.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                (Tok::Int(src.get(i..j).unwrap_or("")), j - i)
            }
            b if b == b'_' || b.is_ascii_alphabetic() => {
                let mut j = i;
                while bytes
                    .get(j)
                    .is_some_and(|c| *c == b'_' || c.is_ascii_alphanumeric())
                {
                    j += 1;
                }
                (Tok::Ident(src.get(i..j).unwrap_or("")), j - i)
            }
            _ => {
                let c = src.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
                (Tok::Unknown(c), c.len_utf8())
            }
        };
        i += n;
        out.push(Token {
            tok,
            span: Span::new(start, i.min(len)),
        });
    }
    out.push(Token {
        tok: Tok::Eof,
        span: Span::new(len, len),
    });
    out
}

/// Processes Cedar string escapes (`\n \r \t \\ \0 \' \" \u{…}`, and `\*`
/// when `star` is set, which yields `None` in the pattern sense: the caller
/// gets `Err` positions). Returns the byte offset (within `raw`) and a
/// description of the first bad escape on error.
pub(crate) fn unescape(
    raw: &str,
    mut on_star: Option<&mut dyn FnMut(bool, char)>,
) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(raw.len());
    let mut it = raw.char_indices().peekable();
    while let Some((pos, c)) = it.next() {
        if c != '\\' {
            if let Some(f) = on_star.as_mut() {
                f(c == '*', c);
            } else {
                out.push(c);
            }
            continue;
        }
        let Some((_, e)) = it.next() else {
            return Err((pos, "a string cannot end with `\\`".into()));
        };
        let ch = match e {
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            '\\' => '\\',
            '0' => '\0',
            '\'' => '\'',
            '"' => '"',
            '*' if on_star.is_some() => '*',
            'u' => {
                if it.next().map(|x| x.1) != Some('{') {
                    return Err((pos, "expected `{` after `\\u`".into()));
                }
                let mut hex = String::new();
                loop {
                    match it.next() {
                        Some((_, '}')) => break,
                        Some((_, h)) if h.is_ascii_hexdigit() && hex.len() < 6 => hex.push(h),
                        _ => return Err((pos, "invalid unicode escape".into())),
                    }
                }
                let n = u32::from_str_radix(&hex, 16)
                    .map_err(|_| (pos, "invalid unicode escape".to_string()))?;
                char::from_u32(n)
                    .ok_or((pos, format!("`\\u{{{hex}}}` is not a unicode scalar value")))?
            }
            other => return Err((pos, format!("unknown escape `\\{}`", other.escape_debug()))),
        };
        if let Some(f) = on_star.as_mut() {
            // An escaped character is always a literal.
            f(false, ch);
        } else {
            out.push(ch);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_comments() {
        let toks: Vec<_> = tokenize("permit // c\n(principal == A::\"x\\\"y\") <= -1")
            .into_iter()
            .map(|t| t.tok)
            .collect();
        assert_eq!(
            toks,
            vec![
                Tok::Ident("permit"),
                Tok::LParen,
                Tok::Ident("principal"),
                Tok::EqEq,
                Tok::Ident("A"),
                Tok::ColonColon,
                Tok::Str("x\\\"y"),
                Tok::RParen,
                Tok::Le,
                Tok::Minus,
                Tok::Int("1"),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r#"a\n\"\u{e9}"#, None).unwrap(), "a\n\"é");
        assert!(unescape(r"\q", None).is_err());
        assert!(unescape(r"\u{110000}", None).is_err());
        assert!(unescape(r"\*", None).is_err());
    }
}
