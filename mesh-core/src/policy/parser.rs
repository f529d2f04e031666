//! A recursive-descent parser for Cedar policies (the access-decision subset).

use std::borrow::Cow;
use std::sync::Arc;

use super::ast::{
    ActionScope, BinaryOp, Condition, ConditionKind, Effect, EntityScope, Expr, ExprKind, ExtFn,
    Method, Pattern, PatternElem, Policy, PolicyId, Var,
};
use super::diagnostic::{Diagnostic, DiagnosticKind, Span};
use super::lexer::{tokenize, unescape, Tok, Token};
use super::value::{EntityType, EntityUid, Value};
use super::PolicyError;

/// Largest policy source accepted, in bytes.
pub const MAX_SOURCE_LEN: usize = 16 * 1024 * 1024;
/// Deepest expression nesting accepted.
pub const MAX_NESTING: u32 = 100;

const RESERVED: [&str; 9] = [
    "true", "false", "if", "then", "else", "in", "is", "like", "has",
];

/// Cedar extension functions mesh does not implement (named in errors).
const OTHER_CEDAR_FUNCTIONS: [&str; 4] = ["datetime", "duration", "offset", "toDate"];

struct Parser<'s> {
    /// Line bookkeeping: byte offset, line and column of the last policy start.
    mark: (usize, u32, u32),
    src: &'s str,
    file: &'s str,
    toks: Vec<Token<'s>>,
    pos: usize,
    depth: u32,
    /// Entity types already named in this file (see [`Parser::entity_type`]).
    types: Vec<EntityType>,
}

/// How many distinct entity types a parser keeps for sharing.
const TYPE_CACHE: usize = 32;

type PResult<T> = Result<T, PolicyError>;

/// Parses a policy file: zero or more policies.
///
/// `file` names the source in diagnostics. Policy ids come from `@id("…")`
/// or are `policy0`, `policy1`… by position; duplicate ids are an error.
pub fn parse_policies(src: &str, file: &str) -> Result<Vec<Policy>, PolicyError> {
    let mut p = Parser::new(src, file)?;
    let file_arc: Arc<str> = Arc::from(file);
    let mut out: Vec<Policy> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while p.peek() != Tok::Eof {
        let index = out.len();
        let (policy, id_span) = p.policy(index, &file_arc)?;
        if !seen.insert(policy.id.clone()) {
            return Err(p.diag(
                DiagnosticKind::Invalid,
                format!("duplicate policy id `{}`", policy.id),
                id_span,
                Some("policy ids must be unique within a policy set"),
            ));
        }
        out.push(policy);
    }
    Ok(out)
}

/// Parses one expression (e.g. for tests and tools).
pub fn parse_expr(src: &str, file: &str) -> Result<Expr, PolicyError> {
    let mut p = Parser::new(src, file)?;
    let e = p.expr()?;
    p.expect(Tok::Eof, "end of input")?;
    Ok(e)
}

pub(crate) fn parse_entity_uid(text: &str) -> Result<EntityUid, PolicyError> {
    let mut p = Parser::new(text, "<entity uid>")?;
    let uid = p.entity_uid()?;
    p.expect(Tok::Eof, "end of input")?;
    Ok(uid)
}

impl<'s> Parser<'s> {
    fn new(src: &'s str, file: &'s str) -> PResult<Self> {
        if src.len() > MAX_SOURCE_LEN {
            return Err(PolicyError::Source(Box::new(
                Diagnostic::new(
                    DiagnosticKind::Limit,
                    format!(
                        "policy source is {} bytes, more than the limit of {MAX_SOURCE_LEN}",
                        src.len()
                    ),
                    file,
                    "",
                    Span::default(),
                )
                .with_help("split the policies into several files"),
            )));
        }
        Ok(Parser {
            mark: (0, 1, 1),
            src,
            file,
            toks: tokenize(src),
            pos: 0,
            depth: 0,
            types: Vec::new(),
        })
    }

    /// Line and column of byte `at` (which never moves backwards).
    fn line_col(&mut self, at: usize) -> (u32, u32) {
        let (from, mut line, mut col) = self.mark;
        if at >= from {
            let seg = self.src.get(from..at).unwrap_or("");
            let count = |s: &str| u32::try_from(s.chars().count()).unwrap_or(u32::MAX);
            match memchr::memrchr(b'\n', seg.as_bytes()) {
                Some(last) => {
                    let lines = memchr::memchr_iter(b'\n', seg.as_bytes()).count();
                    line = line.saturating_add(u32::try_from(lines).unwrap_or(u32::MAX));
                    col = count(seg.get(last + 1..).unwrap_or("")).saturating_add(1);
                }
                None => col = col.saturating_add(count(seg)),
            }
            self.mark = (at, line, col);
        }
        (line, col)
    }

    fn diag(
        &self,
        kind: DiagnosticKind,
        msg: impl Into<String>,
        span: Span,
        help: Option<&str>,
    ) -> PolicyError {
        let mut d = Diagnostic::new(kind, msg, self.file, self.src, span);
        if let Some(h) = help {
            d = d.with_help(h);
        }
        PolicyError::Source(Box::new(d))
    }

    fn tok(&self) -> Token<'s> {
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .copied()
            .unwrap_or(Token {
                tok: Tok::Eof,
                span: Span::default(),
            })
    }

    fn peek(&self) -> Tok<'s> {
        self.tok().tok
    }

    fn peek2(&self) -> Tok<'s> {
        self.toks.get(self.pos + 1).map_or(Tok::Eof, |t| t.tok)
    }

    fn span(&self) -> Span {
        self.tok().span
    }

    fn prev_span(&self) -> Span {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map_or(Span::default(), |t| t.span)
    }

    fn bump(&mut self) -> Token<'s> {
        let t = self.tok();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn unexpected(&self, expected: &str) -> PolicyError {
        let t = self.tok();
        let (kind, help) = match t.tok {
            Tok::Question => (
                DiagnosticKind::Unsupported,
                Some("templates (`?principal`, `?resource`) are not supported; write static policies"),
            ),
            Tok::UnterminatedStr => (DiagnosticKind::Syntax, Some("close the string with `\"`")),
            Tok::Unknown(_) => (
                DiagnosticKind::Syntax,
                Some("this character is not part of the policy language"),
            ),
            _ => (
                DiagnosticKind::Syntax,
                Some("a policy reads `permit(principal, action, resource) when { … };`"),
            ),
        };
        let found = t.tok.describe();
        let msg = if t.tok == Tok::Question {
            "template slots are not supported".to_string()
        } else {
            format!("unexpected {found}, expected {expected}")
        };
        self.diag(kind, msg, t.span, help)
    }

    fn expect(&mut self, tok: Tok<'_>, what: &str) -> PResult<Span> {
        if self.peek() == tok {
            Ok(self.bump().span)
        } else {
            Err(self.unexpected(what))
        }
    }

    fn is_ident(&self, name: &str) -> bool {
        self.peek() == Tok::Ident(name)
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.diag(
                DiagnosticKind::Limit,
                format!("expression nested deeper than {MAX_NESTING} levels"),
                self.span(),
                Some("simplify the expression"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn string_lit<'r>(&self, raw: &'r str, span: Span) -> PResult<Cow<'r, str>> {
        // Most literals have no escape: they are their own text.
        if memchr::memchr(b'\\', raw.as_bytes()).is_none() {
            return Ok(Cow::Borrowed(raw));
        }
        unescape(raw, None).map(Cow::Owned).map_err(|(off, msg)| {
            let at = span.start as usize + 1 + off;
            self.diag(
                DiagnosticKind::Syntax,
                msg,
                Span::new(at, at + 2),
                Some("valid escapes are \\n \\r \\t \\\\ \\0 \\' \\\" and \\u{hex}"),
            )
        })
    }

    // ---- policies ----

    fn policy(&mut self, index: usize, file: &Arc<str>) -> PResult<(Policy, Span)> {
        let start = self.span().start;
        let mut annotations: Vec<(Arc<str>, Arc<str>)> = Vec::new();
        let mut id_span = self.span();
        while self.peek() == Tok::At {
            let at = self.bump().span;
            let name_span = self.span();
            let Tok::Ident(name) = self.peek() else {
                return Err(self.unexpected("an annotation name"));
            };
            self.bump();
            let value: Arc<str> = if self.peek() == Tok::LParen {
                self.bump();
                let t = self.tok();
                let Tok::Str(raw) = t.tok else {
                    return Err(self.unexpected("a string literal (annotation value)"));
                };
                self.bump();
                let v = self.string_lit(raw, t.span)?;
                self.expect(Tok::RParen, "`)`")?;
                Arc::from(&*v)
            } else {
                Arc::from("")
            };
            if annotations.iter().any(|(k, _)| &**k == name) {
                return Err(self.diag(
                    DiagnosticKind::Invalid,
                    format!("duplicate annotation `@{name}`"),
                    at.to(name_span),
                    Some("each annotation may appear once per policy"),
                ));
            }
            if name == "id" {
                id_span = at.to(self.prev_span());
            }
            annotations.push((Arc::from(name), value));
        }
        let effect = match self.peek() {
            Tok::Ident("permit") => Effect::Permit,
            Tok::Ident("forbid") => Effect::Forbid,
            _ => return Err(self.unexpected("`permit` or `forbid`")),
        };
        self.bump();
        self.expect(Tok::LParen, "`(`")?;
        let principal = self.entity_scope("principal")?;
        self.expect(Tok::Comma, "`,`")?;
        let action = self.action_scope()?;
        self.expect(Tok::Comma, "`,`")?;
        let resource = self.entity_scope("resource")?;
        if self.peek() == Tok::Comma && self.peek2() == Tok::Ident("context") {
            return Err(self.diag(
                DiagnosticKind::Unsupported,
                "a `context` scope constraint is not supported",
                self.span(),
                Some("put conditions on `context` in a `when` clause"),
            ));
        }
        self.expect(Tok::RParen, "`)`")?;
        let mut conditions = Vec::new();
        loop {
            let kind = match self.peek() {
                Tok::Ident("when") => ConditionKind::When,
                Tok::Ident("unless") => ConditionKind::Unless,
                Tok::Semi => break,
                _ => return Err(self.unexpected("`when`, `unless` or `;`")),
            };
            let cstart = self.bump().span;
            self.expect(Tok::LBrace, "`{`")?;
            if self.peek() == Tok::RBrace {
                return Err(self.diag(
                    DiagnosticKind::Syntax,
                    "empty condition",
                    self.span(),
                    Some("a `when` or `unless` clause needs an expression"),
                ));
            }
            let expr = self.expr()?;
            let end = self.expect(Tok::RBrace, "`}`")?;
            conditions.push(Condition {
                kind,
                expr,
                span: cstart.to(end),
            });
        }
        let end = self.bump().span.end;
        let id = match annotations.iter().find(|(k, _)| &**k == "id") {
            Some((_, v)) => PolicyId::new(v),
            None => PolicyId::new(&format!("policy{index}")),
        };
        let source = Span { start, end }.slice(self.src);
        let (line, column) = self.line_col(start as usize);
        Ok((
            Policy {
                id,
                effect,
                principal,
                action,
                resource,
                conditions,
                annotations,
                source: Arc::from(source),
                offset: start,
                file: file.clone(),
                line,
                column,
            },
            id_span,
        ))
    }

    fn entity_scope(&mut self, var: &str) -> PResult<EntityScope> {
        if !self.is_ident(var) {
            return Err(self.unexpected(&format!("`{var}`")));
        }
        self.bump();
        match self.peek() {
            Tok::Comma | Tok::RParen => Ok(EntityScope::Any),
            Tok::EqEq => {
                self.bump();
                Ok(EntityScope::Eq(self.scope_entity()?))
            }
            Tok::Ident("in") => {
                self.bump();
                Ok(EntityScope::In(self.scope_entity()?))
            }
            Tok::Ident("is") => {
                self.bump();
                let ty = self.type_path()?;
                if self.is_ident("in") {
                    self.bump();
                    Ok(EntityScope::IsIn(ty, self.scope_entity()?))
                } else {
                    Ok(EntityScope::Is(ty))
                }
            }
            _ => Err(self.unexpected(&format!("`==`, `in`, `is`, `,` or `)` after `{var}`"))),
        }
    }

    fn scope_entity(&mut self) -> PResult<EntityUid> {
        match self.peek() {
            Tok::LBracket => Err(self.diag(
                DiagnosticKind::Syntax,
                "a principal or resource scope takes a single entity, not a list",
                self.span(),
                Some("only `action in [...]` takes a list; use a `when` condition"),
            )),
            Tok::Ident(_) => self.entity_uid(),
            _ => Err(self.unexpected("an entity such as `Type::\"id\"`")),
        }
    }

    fn action_scope(&mut self) -> PResult<ActionScope> {
        if !self.is_ident("action") {
            return Err(self.unexpected("`action`"));
        }
        self.bump();
        match self.peek() {
            Tok::Comma | Tok::RParen => Ok(ActionScope::Any),
            Tok::EqEq => {
                self.bump();
                Ok(ActionScope::Eq(self.entity_uid()?))
            }
            Tok::Ident("in") => {
                self.bump();
                if self.peek() == Tok::LBracket {
                    self.bump();
                    let mut actions = Vec::new();
                    if self.peek() != Tok::RBracket {
                        loop {
                            actions.push(self.entity_uid()?);
                            if self.peek() == Tok::Comma {
                                self.bump();
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect(Tok::RBracket, "`,` or `]`")?;
                    Ok(ActionScope::In {
                        actions,
                        list: true,
                    })
                } else {
                    Ok(ActionScope::In {
                        actions: vec![self.entity_uid()?],
                        list: false,
                    })
                }
            }
            Tok::Ident("is") => Err(self.diag(
                DiagnosticKind::Syntax,
                "`is` is not allowed in the action scope",
                self.span(),
                None,
            )),
            _ => Err(self.unexpected("`==`, `in`, `,` or `)` after `action`")),
        }
    }

    fn ident_checked(&mut self, what: &str) -> PResult<&'s str> {
        let t = self.tok();
        match t.tok {
            Tok::Ident(name) if RESERVED.contains(&name) => Err(self.diag(
                DiagnosticKind::Syntax,
                format!("`{name}` is a reserved word and cannot be used as {what}"),
                t.span,
                None,
            )),
            Tok::Ident(name) => {
                self.bump();
                Ok(name)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// `A::B::C` as an entity type.
    fn type_path(&mut self) -> PResult<EntityType> {
        let first = self.ident_checked("an entity type name")?;
        if self.peek() != Tok::ColonColon || !matches!(self.peek2(), Tok::Ident(_)) {
            return Ok(self.entity_type(first));
        }
        let mut name = first.to_string();
        while self.peek() == Tok::ColonColon {
            if !matches!(self.peek2(), Tok::Ident(_)) {
                break;
            }
            self.bump();
            name.push_str("::");
            name.push_str(self.ident_checked("an entity type name")?);
        }
        Ok(self.entity_type(&name))
    }

    /// The entity type named `name`, shared with earlier mentions in this
    /// file (a file names few types, many times).
    fn entity_type(&mut self, name: &str) -> EntityType {
        if let Some(t) = self.types.iter().find(|t| t.as_str() == name) {
            return t.clone();
        }
        let t = EntityType::new(name);
        if self.types.len() < TYPE_CACHE {
            self.types.push(t.clone());
        }
        t
    }

    /// `A::B::"id"`.
    fn entity_uid(&mut self) -> PResult<EntityUid> {
        let ty = self.type_path()?;
        self.expect(Tok::ColonColon, "`::\"id\"` (an entity id)")?;
        let t = self.tok();
        let Tok::Str(raw) = t.tok else {
            return Err(self.unexpected("a string literal (entity id)"));
        };
        self.bump();
        let id = self.string_lit(raw, t.span)?;
        Ok(EntityUid::new(ty, &id))
    }

    // ---- expressions ----

    fn mk(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = if self.is_ident("if") {
            let s = self.bump().span;
            let c = self.expr()?;
            if !self.is_ident("then") {
                return Err(self.unexpected("`then`"));
            }
            self.bump();
            let a = self.expr()?;
            if !self.is_ident("else") {
                return Err(self.unexpected("`else`"));
            }
            self.bump();
            let b = self.expr()?;
            let span = s.to(b.span);
            Ok(Self::mk(
                ExprKind::If(Box::new(c), Box::new(a), Box::new(b)),
                span,
            ))
        } else {
            self.or()
        };
        self.leave();
        r
    }

    fn or(&mut self) -> PResult<Expr> {
        let base = self.depth;
        let mut l = self.and()?;
        while self.peek() == Tok::OrOr {
            self.bump();
            self.enter()?;
            let r = self.and()?;
            let span = l.span.to(r.span);
            l = Self::mk(
                ExprKind::Binary(BinaryOp::Or, Box::new(l), Box::new(r)),
                span,
            );
        }
        self.depth = base;
        Ok(l)
    }

    fn and(&mut self) -> PResult<Expr> {
        let base = self.depth;
        let mut l = self.relation()?;
        while self.peek() == Tok::AndAnd {
            self.bump();
            self.enter()?;
            let r = self.relation()?;
            let span = l.span.to(r.span);
            l = Self::mk(
                ExprKind::Binary(BinaryOp::And, Box::new(l), Box::new(r)),
                span,
            );
        }
        self.depth = base;
        Ok(l)
    }

    fn relation(&mut self) -> PResult<Expr> {
        let l = self.add()?;
        let op = match self.peek() {
            Tok::EqEq => Some(BinaryOp::Eq),
            Tok::NotEq => Some(BinaryOp::NotEq),
            Tok::Lt => Some(BinaryOp::Less),
            Tok::Le => Some(BinaryOp::LessEq),
            Tok::Gt => Some(BinaryOp::Greater),
            Tok::Ge => Some(BinaryOp::GreaterEq),
            Tok::Ident("in") => Some(BinaryOp::In),
            _ => None,
        };
        let e = if let Some(op) = op {
            self.bump();
            let r = self.add()?;
            let span = l.span.to(r.span);
            Self::mk(ExprKind::Binary(op, Box::new(l), Box::new(r)), span)
        } else if self.is_ident("has") {
            self.bump();
            self.has_chain(l)?
        } else if self.is_ident("like") {
            self.bump();
            let t = self.tok();
            let Tok::Str(raw) = t.tok else {
                return Err(self.unexpected("a string literal pattern after `like`"));
            };
            self.bump();
            let mut elems = Vec::new();
            let mut push = |wild: bool, c: char| {
                elems.push(if wild {
                    PatternElem::Wildcard
                } else {
                    PatternElem::Char(c)
                })
            };
            unescape(raw, Some(&mut push)).map_err(|(off, msg)| {
                let at = t.span.start as usize + 1 + off;
                self.diag(
                    DiagnosticKind::Syntax,
                    msg,
                    Span::new(at, at + 2),
                    Some("in a pattern, `*` matches anything and `\\*` a literal star"),
                )
            })?;
            let span = l.span.to(t.span);
            Self::mk(ExprKind::Like(Box::new(l), Pattern(elems)), span)
        } else if self.is_ident("is") {
            self.bump();
            let ty = self.type_path()?;
            let mut span = l.span.to(self.prev_span());
            let within = if self.is_ident("in") {
                self.bump();
                let r = self.add()?;
                span = span.to(r.span);
                Some(Box::new(r))
            } else {
                None
            };
            Self::mk(ExprKind::Is(Box::new(l), ty, within), span)
        } else {
            return Ok(l);
        };
        if matches!(
            self.peek(),
            Tok::EqEq | Tok::NotEq | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge
        ) || self.is_ident("in")
            || self.is_ident("has")
            || self.is_ident("like")
            || self.is_ident("is")
        {
            return Err(self.diag(
                DiagnosticKind::Syntax,
                format!("unexpected {} after a comparison", self.peek().describe()),
                self.span(),
                Some("comparisons do not chain; add parentheses or use `&&`"),
            ));
        }
        Ok(e)
    }

    /// `e has a`, `e has "a"`, `e has a.b.c` (= `e has a && e.a has b && …`).
    fn has_chain(&mut self, l: Expr) -> PResult<Expr> {
        let t = self.tok();
        let first: Arc<str> = match t.tok {
            Tok::Ident(name) => {
                self.bump();
                Arc::from(name)
            }
            Tok::Str(raw) => {
                self.bump();
                let s = self.string_lit(raw, t.span)?;
                Arc::from(&*s)
            }
            _ => return Err(self.unexpected("an attribute name after `has`")),
        };
        let mut span = l.span.to(t.span);
        let mut result = Self::mk(ExprKind::Has(Box::new(l.clone()), first.clone()), span);
        let mut path = Self::mk(ExprKind::Attr(Box::new(l), first), span);
        let mut n = 0;
        while self.peek() == Tok::Dot {
            n += 1;
            if n > MAX_NESTING {
                return Err(self.diag(
                    DiagnosticKind::Limit,
                    "attribute path too long",
                    self.span(),
                    None,
                ));
            }
            self.bump();
            let nt = self.tok();
            let Tok::Ident(name) = nt.tok else {
                return Err(self.unexpected("an attribute name"));
            };
            self.bump();
            span = span.to(nt.span);
            let name: Arc<str> = Arc::from(name);
            let step = Self::mk(ExprKind::Has(Box::new(path.clone()), name.clone()), span);
            result = Self::mk(
                ExprKind::Binary(BinaryOp::And, Box::new(result), Box::new(step)),
                span,
            );
            path = Self::mk(ExprKind::Attr(Box::new(path), name), span);
        }
        Ok(result)
    }

    fn add(&mut self) -> PResult<Expr> {
        let base = self.depth;
        let mut l = self.mul()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                _ => break,
            };
            self.bump();
            self.enter()?;
            let r = self.mul()?;
            let span = l.span.to(r.span);
            l = Self::mk(ExprKind::Binary(op, Box::new(l), Box::new(r)), span);
        }
        self.depth = base;
        Ok(l)
    }

    fn mul(&mut self) -> PResult<Expr> {
        let base = self.depth;
        let mut l = self.unary()?;
        while self.peek() == Tok::Star {
            self.bump();
            self.enter()?;
            let r = self.unary()?;
            let span = l.span.to(r.span);
            l = Self::mk(
                ExprKind::Binary(BinaryOp::Mul, Box::new(l), Box::new(r)),
                span,
            );
        }
        if matches!(self.peek(), Tok::Unknown('/') | Tok::Unknown('%')) {
            return Err(self.diag(
                DiagnosticKind::Unsupported,
                format!(
                    "operator {} is not part of the language",
                    self.peek().describe()
                ),
                self.span(),
                Some("Cedar has `+`, `-` and `*` on Long only"),
            ));
        }
        self.depth = base;
        Ok(l)
    }

    fn unary(&mut self) -> PResult<Expr> {
        match self.peek() {
            Tok::Bang => {
                let s = self.bump().span;
                self.enter()?;
                let e = self.unary()?;
                self.leave();
                let span = s.to(e.span);
                Ok(Self::mk(ExprKind::Not(Box::new(e)), span))
            }
            Tok::Minus => {
                let s = self.bump().span;
                if let Tok::Int(digits) = self.peek() {
                    // `-9223372036854775808` is a literal, not a negation.
                    let t = self.bump();
                    let v = format!("-{digits}").parse::<i64>().map_err(|_| {
                        self.diag(
                            DiagnosticKind::Syntax,
                            format!("integer literal `-{digits}` does not fit in a Long"),
                            s.to(t.span),
                            Some("Longs are 64-bit signed integers"),
                        )
                    })?;
                    let lit = Self::mk(ExprKind::Lit(Value::Long(v)), s.to(t.span));
                    return self.member_tail(lit);
                }
                self.enter()?;
                let e = self.unary()?;
                self.leave();
                let span = s.to(e.span);
                Ok(Self::mk(ExprKind::Neg(Box::new(e)), span))
            }
            _ => self.member(),
        }
    }

    fn member(&mut self) -> PResult<Expr> {
        let p = self.primary()?;
        self.member_tail(p)
    }

    fn member_tail(&mut self, mut e: Expr) -> PResult<Expr> {
        let base = self.depth;
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    self.enter()?;
                    let t = self.tok();
                    let Tok::Ident(name) = t.tok else {
                        return Err(self.unexpected("an attribute or method name after `.`"));
                    };
                    self.bump();
                    if self.peek() == Tok::LParen {
                        let Some(m) = Method::from_name(name) else {
                            return Err(self.diag(
                                DiagnosticKind::Unsupported,
                                format!("method `{name}` is not supported"),
                                t.span,
                                Some("supported: contains, containsAll, containsAny, isEmpty, isIpv4, isIpv6, isLoopback, isMulticast, isInRange, lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual"),
                            ));
                        };
                        self.bump();
                        let args = self.expr_list(Tok::RParen)?;
                        let end = self.expect(Tok::RParen, "`,` or `)`")?;
                        let (mname, arity) = m.signature();
                        if args.len() != arity {
                            return Err(self.diag(
                                DiagnosticKind::Syntax,
                                format!(
                                    "method `{mname}` takes {arity} argument{}, found {}",
                                    if arity == 1 { "" } else { "s" },
                                    args.len()
                                ),
                                t.span.to(end),
                                None,
                            ));
                        }
                        let span = e.span.to(end);
                        e = Self::mk(ExprKind::Method(Box::new(e), m, args), span);
                    } else {
                        let span = e.span.to(t.span);
                        e = Self::mk(ExprKind::Attr(Box::new(e), Arc::from(name)), span);
                    }
                }
                Tok::LBracket => {
                    self.bump();
                    self.enter()?;
                    let t = self.tok();
                    let Tok::Str(raw) = t.tok else {
                        return Err(self.unexpected("a string literal index such as `[\"name\"]`"));
                    };
                    self.bump();
                    let name = self.string_lit(raw, t.span)?;
                    let end = self.expect(Tok::RBracket, "`]`")?;
                    let span = e.span.to(end);
                    e = Self::mk(ExprKind::Attr(Box::new(e), Arc::from(&*name)), span);
                }
                _ => break,
            }
        }
        self.depth = base;
        Ok(e)
    }

    fn expr_list(&mut self, close: Tok<'static>) -> PResult<Vec<Expr>> {
        let mut out = Vec::new();
        if self.peek() == close {
            return Ok(out);
        }
        loop {
            out.push(self.expr()?);
            if self.peek() == Tok::Comma {
                self.bump();
            } else {
                return Ok(out);
            }
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.tok();
        match t.tok {
            Tok::Int(digits) => {
                self.bump();
                let v = digits.parse::<i64>().map_err(|_| {
                    self.diag(
                        DiagnosticKind::Syntax,
                        format!("integer literal `{digits}` does not fit in a Long"),
                        t.span,
                        Some("Longs are 64-bit signed integers"),
                    )
                })?;
                Ok(Self::mk(ExprKind::Lit(Value::Long(v)), t.span))
            }
            Tok::Str(raw) => {
                self.bump();
                let s = self.string_lit(raw, t.span)?;
                Ok(Self::mk(ExprKind::Lit(Value::string(&s)), t.span))
            }
            Tok::LParen => {
                self.bump();
                self.enter()?;
                let e = self.expr()?;
                self.leave();
                let end = self.expect(Tok::RParen, "`)`")?;
                Ok(Expr {
                    kind: e.kind,
                    span: t.span.to(end),
                })
            }
            Tok::LBracket => {
                self.bump();
                self.enter()?;
                let items = self.expr_list(Tok::RBracket)?;
                self.leave();
                let end = self.expect(Tok::RBracket, "`,` or `]`")?;
                Ok(Self::mk(ExprKind::Set(items), t.span.to(end)))
            }
            Tok::LBrace => {
                self.bump();
                self.enter()?;
                let mut fields: Vec<(Arc<str>, Expr)> = Vec::new();
                if self.peek() != Tok::RBrace {
                    loop {
                        let kt = self.tok();
                        let key: Arc<str> = match kt.tok {
                            Tok::Ident(k) => Arc::from(k),
                            Tok::Str(raw) => Arc::from(&*self.string_lit(raw, kt.span)?),
                            _ => return Err(self.unexpected("a record key")),
                        };
                        self.bump();
                        if fields.iter().any(|(k, _)| *k == key) {
                            return Err(self.diag(
                                DiagnosticKind::Syntax,
                                format!("duplicate record key `{key}`"),
                                kt.span,
                                None,
                            ));
                        }
                        self.expect(Tok::Colon, "`:`")?;
                        fields.push((key, self.expr()?));
                        if self.peek() == Tok::Comma {
                            self.bump();
                        } else {
                            break;
                        }
                    }
                }
                self.leave();
                let end = self.expect(Tok::RBrace, "`,` or `}`")?;
                Ok(Self::mk(ExprKind::Record(fields), t.span.to(end)))
            }
            Tok::Question => Err(self.unexpected("an expression")),
            Tok::Ident(name) => self.ident_primary(name, t.span),
            _ => Err(self.unexpected("an expression")),
        }
    }

    fn ident_primary(&mut self, name: &'s str, span: Span) -> PResult<Expr> {
        let var = match name {
            "true" => {
                self.bump();
                return Ok(Self::mk(ExprKind::Lit(Value::Bool(true)), span));
            }
            "false" => {
                self.bump();
                return Ok(Self::mk(ExprKind::Lit(Value::Bool(false)), span));
            }
            "principal" => Some(Var::Principal),
            "action" => Some(Var::Action),
            "resource" => Some(Var::Resource),
            "context" => Some(Var::Context),
            _ => None,
        };
        if let Some(v) = var {
            if self.peek2() != Tok::ColonColon {
                self.bump();
                return Ok(Self::mk(ExprKind::Var(v), span));
            }
        }
        // A path: an entity literal `A::B::"id"` or a function call `f(...)`.
        let save = self.pos;
        let mut path = String::from(name);
        self.bump();
        while self.peek() == Tok::ColonColon && matches!(self.peek2(), Tok::Ident(_)) {
            self.bump();
            if let Tok::Ident(n) = self.bump().tok {
                path.push_str("::");
                path.push_str(n);
            }
        }
        match self.peek() {
            Tok::ColonColon => {
                self.pos = save;
                let s = self.span();
                let uid = self.entity_uid()?;
                let span = s.to(self.prev_span());
                Ok(Self::mk(ExprKind::Lit(Value::Entity(uid)), span))
            }
            Tok::LParen => {
                let f = match path.as_str() {
                    "ip" => ExtFn::Ip,
                    "decimal" => ExtFn::Decimal,
                    other => {
                        let known = OTHER_CEDAR_FUNCTIONS.contains(&other);
                        return Err(self.diag(
                            DiagnosticKind::Unsupported,
                            if known {
                                format!("extension function `{other}` is not supported")
                            } else {
                                format!("unknown function `{other}`")
                            },
                            span.to(self.prev_span()),
                            Some("supported functions: `ip(\"…\")` and `decimal(\"…\")`"),
                        ));
                    }
                };
                self.bump();
                let args = self.expr_list(Tok::RParen)?;
                let end = self.expect(Tok::RParen, "`,` or `)`")?;
                if args.len() != 1 {
                    return Err(self.diag(
                        DiagnosticKind::Syntax,
                        format!("function `{path}` takes 1 argument, found {}", args.len()),
                        span.to(end),
                        None,
                    ));
                }
                Ok(Self::mk(ExprKind::Call(f, args), span.to(end)))
            }
            _ => Err(self.diag(
                DiagnosticKind::Syntax,
                format!("unknown variable `{path}`"),
                span.to(self.prev_span()),
                Some("the variables are `principal`, `action`, `resource` and `context`; entities are written `Type::\"id\"`"),
            )),
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    fn one(src: &str) -> Policy {
        let mut v = parse_policies(src, "t.cedar").unwrap();
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    fn err(src: &str) -> Diagnostic {
        match parse_policies(src, "t.cedar") {
            Err(PolicyError::Source(d)) => *d,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn scopes() {
        let p = one(
            r#"permit(principal is User in Group::"g", action in [Action::"a", NS::Action::"b"], resource == Doc::"d");"#,
        );
        assert_eq!(p.id.as_str(), "policy0");
        assert_eq!(
            p.principal,
            EntityScope::IsIn(EntityType::new("User"), EntityUid::from_parts("Group", "g"))
        );
        match &p.action {
            ActionScope::In { actions, list } => {
                assert!(*list);
                assert_eq!(actions[1], EntityUid::from_parts("NS::Action", "b"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p.resource,
            EntityScope::Eq(EntityUid::from_parts("Doc", "d"))
        );
    }

    #[test]
    fn ids_and_annotations() {
        let v = parse_policies(
            "@id(\"a\") @advice(\"x\\ny\") @flag permit(principal, action, resource);\nforbid(principal, action, resource);",
            "t",
        )
        .unwrap();
        assert_eq!(v[0].id.as_str(), "a");
        assert_eq!(v[0].annotation("advice"), Some("x\ny"));
        assert_eq!(v[0].annotation("flag"), Some(""));
        assert_eq!(v[1].id.as_str(), "policy1");
        assert_eq!(v[1].source.as_ref(), "forbid(principal, action, resource);");
    }

    #[test]
    fn policy_positions_count_lines_and_characters() {
        let v = parse_policies(
            "permit(principal, action, resource);\n// é ü\n  forbid(principal, action, resource); permit(principal, action, resource == A::\"é\\u{e9}\");\n\n\tpermit(principal, action, resource);",
            "t",
        )
        .unwrap();
        let at: Vec<(u32, u32)> = v.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(at, vec![(1, 1), (3, 3), (3, 40), (5, 2)]);
        assert_eq!(
            v[2].resource,
            crate::policy::ast::EntityScope::Eq(EntityUid::from_parts("A", "éé"))
        );
    }

    #[test]
    fn duplicate_ids_rejected() {
        let d = err("@id(\"a\") permit(principal, action, resource);\n@id(\"a\") permit(principal, action, resource);");
        assert_eq!(d.kind(), DiagnosticKind::Invalid);
        assert_eq!(d.line(), 2);
    }

    #[test]
    fn templates_are_unsupported() {
        let d = err("permit(principal == ?principal, action, resource);");
        assert_eq!(d.kind(), DiagnosticKind::Unsupported);
        assert!(d.message().contains("template"), "{}", d.message());
        assert_eq!(d.column(), 21);
    }

    #[test]
    fn unknown_function_and_method_named() {
        let d = err("permit(principal, action, resource) when { datetime(\"x\") };");
        assert!(d.message().contains("`datetime`"));
        let d = err("permit(principal, action, resource) when { context.foo(1) };");
        assert!(d.message().contains("`foo`"));
        let d = err("permit(principal, action, resource) when { frob };");
        assert!(d.message().contains("unknown variable `frob`"));
    }

    #[test]
    fn comparisons_do_not_chain() {
        let d = err("permit(principal, action, resource) when { 1 < 2 < 3 };");
        assert!(d.help().unwrap_or("").contains("parentheses"));
    }

    #[test]
    fn precedence() {
        let e = parse_expr("a || b && c", "t");
        assert!(e.is_err(), "bare identifiers are not variables");
        let e = parse_expr("1 + 2 * 3 == 7 && !false || context.x", "t").unwrap();
        let ExprKind::Binary(BinaryOp::Or, l, _) = e.kind else {
            panic!()
        };
        let ExprKind::Binary(BinaryOp::And, l, _) = l.kind else {
            panic!()
        };
        let ExprKind::Binary(BinaryOp::Eq, l, _) = l.kind else {
            panic!()
        };
        let ExprKind::Binary(BinaryOp::Add, _, r) = l.kind else {
            panic!()
        };
        assert!(matches!(r.kind, ExprKind::Binary(BinaryOp::Mul, _, _)));
    }

    #[test]
    fn min_long_literal() {
        let e = parse_expr("-9223372036854775808", "t").unwrap();
        assert_eq!(e.kind, ExprKind::Lit(Value::Long(i64::MIN)));
        assert!(parse_expr("9223372036854775808", "t").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        let Err(PolicyError::Source(d)) = parse_expr(&deep, "t") else {
            panic!()
        };
        assert_eq!(d.kind(), DiagnosticKind::Limit);
        let long = vec!["1"; 5000].join(" + ");
        assert!(parse_expr(&long, "t").is_err());
        let bangs = format!("{}true", "!".repeat(1000));
        assert!(parse_expr(&bangs, "t").is_err());
    }

    #[test]
    fn has_paths_and_like() {
        let e = parse_expr(r#"context has a.b && context.s like "a\*b*""#, "t").unwrap();
        let ExprKind::Binary(BinaryOp::And, l, r) = e.kind else {
            panic!()
        };
        assert!(matches!(l.kind, ExprKind::Binary(BinaryOp::And, _, _)));
        let ExprKind::Like(_, p) = r.kind else {
            panic!()
        };
        assert_eq!(p.0.len(), 4);
        assert!(p.matches("a*b"));
        assert!(p.matches("a*bxyz"));
        assert!(!p.matches("axb"));
    }

    #[test]
    fn error_render_has_caret_and_help() {
        let d = err("permit(principal, action, resource)\n  when { context.x == };");
        let r = d.render();
        assert!(r.contains("t.cedar:2:23"), "{r}");
        assert!(r.contains("^"), "{r}");
    }

    #[test]
    fn entity_uid_text() {
        let u = EntityUid::parse(r#"A::B::"x\"y""#).unwrap();
        assert_eq!(u.entity_type().as_str(), "A::B");
        assert_eq!(u.id(), "x\"y");
        assert!(EntityUid::parse("A::B").is_err());
    }
}
