//! The abstract syntax of policies.

use std::fmt;
use std::sync::Arc;

use super::diagnostic::Span;
use super::value::{EntityType, EntityUid, Value};

/// A policy's id: the value of its `@id("…")` annotation, else `policyN`
/// where N is its position in the file (0-based), as Cedar numbers static
/// policies.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyId(Arc<str>);

impl PolicyId {
    /// A policy id from any text.
    pub fn new(id: &str) -> Self {
        PolicyId(Arc::from(id))
    }
    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

/// `permit` or `forbid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Allows the request if no forbid applies.
    Permit,
    /// Denies the request.
    Forbid,
}

/// A principal or resource scope constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityScope {
    /// No constraint (`principal`).
    Any,
    /// `principal == E`.
    Eq(EntityUid),
    /// `principal in E` (E itself or a descendant).
    In(EntityUid),
    /// `principal is T`.
    Is(EntityType),
    /// `principal is T in E`.
    IsIn(EntityType, EntityUid),
}

/// The action scope constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionScope {
    /// No constraint (`action`).
    Any,
    /// `action == A`.
    Eq(EntityUid),
    /// `action in A` (one entity) or `action in [A, B]` (`list` tells which
    /// form was written).
    In {
        /// The action groups.
        actions: Vec<EntityUid>,
        /// Whether it was written as a list `[...]`.
        list: bool,
    },
}

/// `when` or `unless`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionKind {
    /// The policy applies only if the expression is `true`.
    When,
    /// The policy applies only if the expression is `false`.
    Unless,
}

/// A `when { … }` or `unless { … }` clause.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// `when` or `unless`.
    pub kind: ConditionKind,
    /// The condition's expression.
    pub expr: Expr,
    /// Where the clause is, in the policy's source.
    pub span: Span,
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Less,
    /// `<=`
    LessEq,
    /// `>`
    Greater,
    /// `>=`
    GreaterEq,
    /// `in` (entity hierarchy)
    In,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `&&` (short-circuit)
    And,
    /// `||` (short-circuit)
    Or,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Less => "<",
            BinaryOp::LessEq => "<=",
            BinaryOp::Greater => ">",
            BinaryOp::GreaterEq => ">=",
            BinaryOp::In => "in",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }
}

/// A method call on a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `set.contains(v)`
    Contains,
    /// `set.containsAll(set)`
    ContainsAll,
    /// `set.containsAny(set)`
    ContainsAny,
    /// `set.isEmpty()`
    IsEmpty,
    /// `ip.isIpv4()`
    IsIpv4,
    /// `ip.isIpv6()`
    IsIpv6,
    /// `ip.isLoopback()`
    IsLoopback,
    /// `ip.isMulticast()`
    IsMulticast,
    /// `ip.isInRange(range)`
    IsInRange,
    /// `decimal.lessThan(d)`
    LessThan,
    /// `decimal.lessThanOrEqual(d)`
    LessThanOrEqual,
    /// `decimal.greaterThan(d)`
    GreaterThan,
    /// `decimal.greaterThanOrEqual(d)`
    GreaterThanOrEqual,
}

impl Method {
    /// The method's name and number of arguments.
    pub fn signature(self) -> (&'static str, usize) {
        match self {
            Method::Contains => ("contains", 1),
            Method::ContainsAll => ("containsAll", 1),
            Method::ContainsAny => ("containsAny", 1),
            Method::IsEmpty => ("isEmpty", 0),
            Method::IsIpv4 => ("isIpv4", 0),
            Method::IsIpv6 => ("isIpv6", 0),
            Method::IsLoopback => ("isLoopback", 0),
            Method::IsMulticast => ("isMulticast", 0),
            Method::IsInRange => ("isInRange", 1),
            Method::LessThan => ("lessThan", 1),
            Method::LessThanOrEqual => ("lessThanOrEqual", 1),
            Method::GreaterThan => ("greaterThan", 1),
            Method::GreaterThanOrEqual => ("greaterThanOrEqual", 1),
        }
    }

    /// The method named `name`, if mesh supports it.
    pub fn from_name(name: &str) -> Option<Method> {
        const ALL: [Method; 13] = [
            Method::Contains,
            Method::ContainsAll,
            Method::ContainsAny,
            Method::IsEmpty,
            Method::IsIpv4,
            Method::IsIpv6,
            Method::IsLoopback,
            Method::IsMulticast,
            Method::IsInRange,
            Method::LessThan,
            Method::LessThanOrEqual,
            Method::GreaterThan,
            Method::GreaterThanOrEqual,
        ];
        ALL.into_iter().find(|m| m.signature().0 == name)
    }
}

/// An extension constructor function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExtFn {
    /// `ip("…")`
    Ip,
    /// `decimal("…")`
    Decimal,
}

impl ExtFn {
    /// The function's name.
    pub fn name(self) -> &'static str {
        match self {
            ExtFn::Ip => "ip",
            ExtFn::Decimal => "decimal",
        }
    }
}

/// A request variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Var {
    /// `principal`
    Principal,
    /// `action`
    Action,
    /// `resource`
    Resource,
    /// `context`
    Context,
}

impl Var {
    /// The variable's name.
    pub fn name(self) -> &'static str {
        match self {
            Var::Principal => "principal",
            Var::Action => "action",
            Var::Resource => "resource",
            Var::Context => "context",
        }
    }
}

/// One element of a `like` pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PatternElem {
    /// A literal character.
    Char(char),
    /// `*`: any sequence of characters.
    Wildcard,
}

/// A `like` pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Pattern(pub Vec<PatternElem>);

impl Pattern {
    /// Whether `s` matches the pattern (`*` matches any sequence).
    pub fn matches(&self, s: &str) -> bool {
        // Greedy matching with backtracking to the last wildcard: no
        // allocation, O(len(s) * len(pattern)) in the worst case.
        let p = &self.0;
        let next = |i: usize| s.get(i..).and_then(|r| r.chars().next());
        let (mut i, mut j) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while let Some(ch) = next(i) {
            match p.get(j) {
                Some(PatternElem::Char(pc)) if *pc == ch => {
                    i += ch.len_utf8();
                    j += 1;
                }
                Some(PatternElem::Wildcard) => {
                    j += 1;
                    star = Some((j, i));
                }
                _ => match star {
                    Some((sj, si)) => {
                        let ni = si + next(si).map_or(1, char::len_utf8);
                        star = Some((sj, ni));
                        i = ni;
                        j = sj;
                    }
                    None => return false,
                },
            }
        }
        while matches!(p.get(j), Some(PatternElem::Wildcard)) {
            j += 1;
        }
        j == p.len()
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for e in &self.0 {
            match e {
                PatternElem::Wildcard => f.write_str("*")?,
                PatternElem::Char('*') => f.write_str("\\*")?,
                PatternElem::Char(c) => f.write_str(&super::value::escape(&c.to_string()))?,
            }
        }
        f.write_str("\"")
    }
}

/// An expression with its location in the policy source.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it is in the source text the policy was parsed from.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A literal (Bool, Long, String, entity; constant sets, records and
    /// extension values after compilation).
    Lit(Value),
    /// `principal`, `action`, `resource` or `context`.
    Var(Var),
    /// `!e`
    Not(Box<Expr>),
    /// `-e`
    Neg(Box<Expr>),
    /// `a op b`
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `if c then a else b`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `e has a`
    Has(Box<Expr>, Arc<str>),
    /// `e.a` or `e["a"]`
    Attr(Box<Expr>, Arc<str>),
    /// `e like "pat*"`
    Like(Box<Expr>, Pattern),
    /// `e is T` or `e is T in x`
    Is(Box<Expr>, EntityType, Option<Box<Expr>>),
    /// `e.method(args)`
    Method(Box<Expr>, Method, Vec<Expr>),
    /// `ip("…")`, `decimal("…")`
    Call(ExtFn, Vec<Expr>),
    /// `[a, b]`
    Set(Vec<Expr>),
    /// `{a: x, "b": y}`
    Record(Vec<(Arc<str>, Expr)>),
}

/// A parsed policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// The id (`@id` annotation, else `policyN`).
    pub id: PolicyId,
    /// `permit` or `forbid`.
    pub effect: Effect,
    /// The principal constraint.
    pub principal: EntityScope,
    /// The action constraint.
    pub action: ActionScope,
    /// The resource constraint.
    pub resource: EntityScope,
    /// The `when` / `unless` clauses, in order.
    pub conditions: Vec<Condition>,
    /// The annotations, in source order (`@id` included).
    pub annotations: Vec<(Arc<str>, Arc<str>)>,
    /// The policy's own source text.
    pub source: Arc<str>,
    /// Byte offset of `source` in the file it came from; spans of the
    /// policy's expressions are relative to the file.
    pub offset: u32,
    /// The file the policy came from.
    pub file: Arc<str>,
    /// 1-based line of the policy's first character in its file.
    pub line: u32,
    /// 1-based column of the policy's first character in its file.
    pub column: u32,
}

impl Policy {
    /// The value of annotation `name`, if present.
    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }

    /// A diagnostic at `span` (a span of this policy's expressions),
    /// located in the policy's file.
    pub fn diagnostic(
        &self,
        kind: super::diagnostic::DiagnosticKind,
        message: impl Into<String>,
        span: Span,
    ) -> super::diagnostic::Diagnostic {
        let local = Span {
            start: span.start.saturating_sub(self.offset),
            end: span.end.saturating_sub(self.offset),
        };
        super::diagnostic::Diagnostic::new(kind, message, &self.file, &self.source, local)
            .shifted(self.line, self.column)
    }

    /// The source text of `span` (a span of this policy's expressions).
    pub fn text(&self, span: Span) -> &str {
        let s = span.start.saturating_sub(self.offset);
        let e = span.end.saturating_sub(self.offset);
        Span { start: s, end: e }.slice(&self.source)
    }
}
