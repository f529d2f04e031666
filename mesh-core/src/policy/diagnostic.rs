//! Diagnostics with file, line:column, a caret excerpt and a help line.

use std::fmt;
use std::sync::Arc;

/// A byte range in a source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from byte offsets (saturated to `u32`).
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The covered text of `src`, or `""` if out of range.
    pub fn slice(self, src: &str) -> &str {
        src.get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }
}

/// What a [`Diagnostic`] is about; stable names for hosts and bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The text is not valid policy syntax.
    Syntax,
    /// Valid Cedar that mesh does not support (templates, unknown functions…).
    Unsupported,
    /// Syntactically fine but meaningless (duplicate id, bad annotation value…).
    Invalid,
    /// A size or nesting bound was exceeded.
    Limit,
    /// The policy does not conform to the schema.
    Validation,
}

impl DiagnosticKind {
    /// The kind's stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DiagnosticKind::Syntax => "syntax",
            DiagnosticKind::Unsupported => "unsupported",
            DiagnosticKind::Invalid => "invalid",
            DiagnosticKind::Limit => "limit",
            DiagnosticKind::Validation => "validation",
        }
    }
}

/// A located message about a policy source: `file:line:column`, the source
/// line with a caret under the offending text, and an optional help line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    kind: DiagnosticKind,
    message: String,
    file: Arc<str>,
    line: u32,
    column: u32,
    excerpt: String,
    caret_len: u32,
    help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `span` of `src` (the text of `file`).
    pub fn new(
        kind: DiagnosticKind,
        message: impl Into<String>,
        file: &str,
        src: &str,
        span: Span,
    ) -> Self {
        let start = (span.start as usize).min(src.len());
        let line_start = src
            .get(..start)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |i| i + 1);
        let line_end = src
            .get(start..)
            .and_then(|s| s.find('\n'))
            .map_or(src.len(), |i| start + i);
        let line_no = src.get(..start).map_or(0, |s| s.matches('\n').count()) + 1;
        let col = src.get(line_start..start).map_or(0, |s| s.chars().count()) + 1;
        let excerpt: String = src
            .get(line_start..line_end)
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        let end = (span.end as usize).clamp(start, line_end.max(start));
        let caret = src.get(start..end).map_or(1, |s| s.chars().count()).max(1);
        Diagnostic {
            kind,
            message: message.into(),
            file: Arc::from(file),
            line: u32::try_from(line_no).unwrap_or(u32::MAX),
            column: u32::try_from(col).unwrap_or(u32::MAX),
            excerpt: excerpt.trim_end_matches('\r').to_string(),
            caret_len: u32::try_from(caret).unwrap_or(1),
            help: None,
        }
    }

    /// Moves a diagnostic computed on an excerpt that starts at
    /// `line:column` of its file to file coordinates.
    pub(crate) fn shifted(mut self, line: u32, column: u32) -> Self {
        if self.line == 1 {
            self.column = self.column.saturating_add(column.saturating_sub(1));
        }
        self.line = self.line.saturating_add(line.saturating_sub(1));
        self
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The kind.
    pub fn kind(&self) -> DiagnosticKind {
        self.kind
    }
    /// The message (lowercase, no final period).
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The file name given to the parser.
    pub fn file(&self) -> &str {
        &self.file
    }
    /// 1-based line.
    pub fn line(&self) -> u32 {
        self.line
    }
    /// 1-based column (in characters).
    pub fn column(&self) -> u32 {
        self.column
    }
    /// The help line, if any.
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }
    /// The source line the diagnostic points into.
    pub fn excerpt(&self) -> &str {
        &self.excerpt
    }

    /// A multi-line, human-readable rendering:
    ///
    /// ```text
    /// error: unexpected `)`, expected an expression
    ///  --> policies.cedar:3:44
    ///   |
    /// 3 | permit(principal, action, resource) when { };
    ///   |                                            ^
    ///   = help: a condition needs an expression
    /// ```
    pub fn render(&self) -> String {
        let num = self.line.to_string();
        let pad = " ".repeat(num.len());
        let caret_pad: String = self
            .excerpt
            .chars()
            .take(self.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let mut out = format!(
            "error: {}\n{pad}--> {}:{}:{}\n{pad} |\n{num} | {}\n{pad} | {caret_pad}{}\n",
            self.message,
            self.file,
            self.line,
            self.column,
            self.excerpt,
            "^".repeat(self.caret_len.min(200) as usize)
        );
        if let Some(h) = &self.help {
            out.push_str(&format!("{pad} = help: {h}\n"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_span() {
        let src = "permit(\n  principal, acton, resource);";
        let start = src.find("acton").unwrap_or(0);
        let d = Diagnostic::new(
            DiagnosticKind::Syntax,
            "expected `action`, found `acton`",
            "p.cedar",
            src,
            Span::new(start, start + 5),
        )
        .with_help("the scope is `principal, action, resource`");
        assert_eq!(d.line(), 2);
        assert_eq!(d.column(), 14);
        let r = d.render();
        assert!(r.contains("--> p.cedar:2:14"), "{r}");
        assert!(r.contains("2 |   principal, acton, resource);"), "{r}");
        assert!(r.contains("  |              ^^^^^\n"), "{r}");
        assert!(r.contains("= help: the scope"), "{r}");
    }
}
