//! Source locations and caret excerpts shared by schema and validation
//! diagnostics.

use std::fmt;

/// Longest source line reproduced in an excerpt; longer lines are cut.
const MAX_EXCERPT_CHARS: usize = 200;

/// A position in a source text: file name, 1-based line and column, and the
/// source line it points into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// The file (or other source name) given by the caller.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
    /// The text of the line (cut to a bounded length).
    pub line_text: String,
    /// How many characters the caret underlines (at least 1).
    pub width: u32,
}

impl SourceLocation {
    /// Locates the byte range `start..end` of `src`.
    ///
    /// Offsets past the end or inside a character are clamped, so any input
    /// yields a location.
    pub fn locate(file: &str, src: &str, start: usize, end: usize) -> Self {
        let mut start = start.min(src.len());
        while !src.is_char_boundary(start) {
            start = start.saturating_sub(1);
        }
        let before = src.get(..start).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = src
            .get(start..)
            .and_then(|rest| rest.find('\n'))
            .map_or(src.len(), |i| start + i);
        let line = before.matches('\n').count().saturating_add(1);
        let column = src
            .get(line_start..start)
            .map_or(0, |s| s.chars().count())
            .saturating_add(1);
        let full_line = src.get(line_start..line_end).unwrap_or("");
        let line_text: String = full_line
            .trim_end_matches('\r')
            .chars()
            .take(MAX_EXCERPT_CHARS)
            .collect();
        let end = end.clamp(start, line_end);
        let width = src.get(start..end).map_or(1, |s| s.chars().count()).max(1);
        SourceLocation {
            file: file.to_owned(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            line_text,
            width: u32::try_from(width).unwrap_or(u32::MAX),
        }
    }

    /// The two-line excerpt: the source line, then a caret under the span.
    pub fn excerpt(&self) -> String {
        let pad = usize::try_from(self.column.saturating_sub(1)).unwrap_or(0);
        let avail = self.line_text.chars().count().saturating_sub(pad).max(1);
        let width = usize::try_from(self.width).unwrap_or(1).clamp(1, avail);
        format!(
            "{}\n{}{}",
            self.line_text,
            " ".repeat(pad.min(MAX_EXCERPT_CHARS)),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Renders a diagnostic in the usual compiler layout:
///
/// ```text
/// error: unknown entity type `Usr`
///  --> policies.cedar:3:18
///   |
/// 3 | permit(principal is Usr, action, resource);
///   |                     ^^^
///   = help: did you mean `User`?
/// ```
pub(crate) fn render(
    f: &mut fmt::Formatter<'_>,
    message: &str,
    at: &SourceLocation,
    help: &str,
) -> fmt::Result {
    let num = at.line.to_string();
    let gutter = " ".repeat(num.len());
    writeln!(f, "{message}")?;
    writeln!(f, "{gutter}--> {at}")?;
    writeln!(f, "{gutter} |")?;
    let excerpt = at.excerpt();
    let mut lines = excerpt.lines();
    writeln!(f, "{num} | {}", lines.next().unwrap_or(""))?;
    writeln!(f, "{gutter} | {}", lines.next().unwrap_or("^"))?;
    if help.is_empty() {
        Ok(())
    } else {
        write!(f, "{gutter} = help: {help}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column() {
        let src = "entity A;\nentity B in [C];\n";
        let start = src.find('C').unwrap();
        let at = SourceLocation::locate("s.cedarschema", src, start, start + 1);
        assert_eq!((at.line, at.column), (2, 14));
        assert_eq!(at.line_text, "entity B in [C];");
        assert_eq!(at.excerpt(), "entity B in [C];\n             ^");
        assert_eq!(at.to_string(), "s.cedarschema:2:14");
    }

    #[test]
    fn clamps_out_of_range_offsets() {
        let at = SourceLocation::locate("f", "ab", 99, 200);
        assert_eq!((at.line, at.column), (1, 3));
        let at = SourceLocation::locate("f", "é", 1, 1);
        assert_eq!((at.line, at.column), (1, 1));
    }
}
