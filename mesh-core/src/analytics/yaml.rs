//! A bounded YAML reader for rule files: documents become [`Node`] trees;
//! aliases are rejected (no billion-laughs expansion), nesting depth and node
//! count are capped.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Largest YAML input accepted, in bytes.
pub(crate) const MAX_YAML_BYTES: usize = 16 << 20;
const MAX_DEPTH: usize = 32;
const MAX_NODES: usize = 1_000_000;

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A mapping, keys in document order (keys must be scalars).
    Map(Vec<(String, Node)>),
    /// A sequence.
    Seq(Vec<Node>),
    /// A scalar; `plain` when unquoted (so `null`, `true`, `12` are typed).
    Scalar { text: String, plain: bool },
}

impl Node {
    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether this is a plain `null` / `~` / empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { text, plain: true } if matches!(text.as_str(), "null" | "Null" | "NULL" | "~" | ""))
    }
}

enum Frame {
    Map(Vec<(String, Node)>, Option<String>),
    Seq(Vec<Node>),
}

struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Node>,
    nodes: usize,
    error: Option<String>,
}

impl Builder {
    fn fail(&mut self, mark: Marker, what: &str) {
        if self.error.is_none() {
            self.error = Some(format!("{} at {}:{}", what, mark.line(), mark.col() + 1));
        }
    }

    fn push_node(&mut self, node: Node, mark: Marker) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(items)) => items.push(node),
            Some(Frame::Map(entries, key)) => match key.take() {
                None => match node {
                    Node::Scalar { text, .. } => {
                        if entries.iter().any(|(k, _)| *k == text) {
                            self.fail(mark, &format!("duplicate key `{text}`"));
                        } else {
                            *key = Some(text);
                        }
                    }
                    _ => self.fail(mark, "mapping key is not a scalar"),
                },
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            self.fail(mark, "too many YAML nodes");
            return;
        }
        match ev {
            Event::Alias(_) => self.fail(mark, "YAML aliases are not supported"),
            Event::Scalar(text, style, _, _) => {
                let plain = matches!(style, TScalarStyle::Plain);
                self.push_node(Node::Scalar { text, plain }, mark);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(mark, "YAML nesting deeper than 32");
                    return;
                }
                self.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new())
                } else {
                    Frame::Map(Vec::new(), None)
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Seq(items)) => Node::Seq(items),
                    Some(Frame::Map(entries, _)) => Node::Map(entries),
                    None => return,
                };
                self.push_node(node, mark);
            }
            _ => {}
        }
    }
}

/// Parses every document of a YAML stream.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, String> {
    if text.len() > MAX_YAML_BYTES {
        return Err("YAML input is larger than 16 MiB".into());
    }
    let mut b = Builder {
        stack: Vec::new(),
        docs: Vec::new(),
        nodes: 0,
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, true).map_err(|e| {
        format!(
            "{} at {}:{}",
            e.info(),
            e.marker().line(),
            e.marker().col() + 1
        )
    })?;
    match b.error {
        Some(e) => Err(e),
        None => Ok(b.docs),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn reads_maps_and_rejects_aliases() {
        let d = parse_documents("a: 1\nb: [x, 'y']\n---\nc: ~\n").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].get("a").and_then(Node::as_str), Some("1"));
        assert!(d[1].get("c").unwrap().is_null());
        assert!(parse_documents("a: &x [1]\nb: *x\n").is_err());
        assert!(parse_documents("a: 1\na: 2\n").is_err());
        assert!(parse_documents(&"[".repeat(100)).is_err());
    }
}
