//! The canonical formatter: prints policies in one layout, with the fewest
//! parentheses that keep their meaning, so that formatting is stable and the
//! output re-parses to the same policies.
//!
//! ```
//! use mesh_core::policy::{format_policies, parse_policies};
//!
//! let src = r#"@id("p") permit(principal in Group::"eng",action,resource) when {(context.risk<50)&&context.mfa};"#;
//! let out = format_policies(&parse_policies(src, "p.cedar")?);
//! assert_eq!(out, "@id(\"p\")\npermit (\n  principal in Group::\"eng\",\n  action,\n  resource\n)\nwhen { context.risk < 50 && context.mfa };\n");
//! # Ok::<(), mesh_core::policy::PolicyError>(())
//! ```

use std::fmt::Write as _;

use super::ast::{
    ActionScope, BinaryOp, ConditionKind, Effect, EntityScope, Expr, ExprKind, Policy,
};
use super::value::{escape, Value};

/// Formats a policy set: each policy in canonical form, separated by a
/// blank line.
pub fn format_policies(policies: &[Policy]) -> String {
    let mut out = String::new();
    for (i, p) in policies.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format_policy(p));
    }
    out
}

/// Formats one policy in canonical form (ending with `;` and a newline).
pub fn format_policy(p: &Policy) -> String {
    let mut out = String::new();
    for (k, v) in &p.annotations {
        let _ = writeln!(out, "@{k}(\"{}\")", escape(v));
    }
    out.push_str(match p.effect {
        Effect::Permit => "permit (\n",
        Effect::Forbid => "forbid (\n",
    });
    let _ = writeln!(out, "  {},", entity_scope("principal", &p.principal));
    let _ = writeln!(out, "  {},", action_scope(&p.action));
    let _ = writeln!(out, "  {}", entity_scope("resource", &p.resource));
    out.push(')');
    for c in &p.conditions {
        let kw = match c.kind {
            ConditionKind::When => "when",
            ConditionKind::Unless => "unless",
        };
        let _ = write!(out, "\n{kw} {{ {} }}", format_expr(&c.expr));
    }
    out.push_str(";\n");
    out
}

fn entity_scope(var: &str, s: &EntityScope) -> String {
    match s {
        EntityScope::Any => var.to_owned(),
        EntityScope::Eq(u) => format!("{var} == {u}"),
        EntityScope::In(u) => format!("{var} in {u}"),
        EntityScope::Is(t) => format!("{var} is {t}"),
        EntityScope::IsIn(t, u) => format!("{var} is {t} in {u}"),
    }
}

fn action_scope(s: &ActionScope) -> String {
    match s {
        ActionScope::Any => "action".to_owned(),
        ActionScope::Eq(u) => format!("action == {u}"),
        ActionScope::In { actions, list } => match (actions.as_slice(), list) {
            ([one], false) => format!("action in {one}"),
            (all, _) => format!(
                "action in [{}]",
                all.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

/// Formats one expression in canonical form.
pub fn format_expr(e: &Expr) -> String {
    let mut out = String::new();
    expr(&mut out, e, IF);
    out
}

// Precedence levels, loosest first (Cedar's grammar).
const IF: u8 = 0;
const OR: u8 = 1;
const AND: u8 = 2;
const REL: u8 = 3;
const ADD: u8 = 4;
const MUL: u8 = 5;
const UNARY: u8 = 6;
const MEMBER: u8 = 7;

fn level(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::If(..) => IF,
        ExprKind::Binary(op, ..) => match op {
            BinaryOp::Or => OR,
            BinaryOp::And => AND,
            BinaryOp::Add | BinaryOp::Sub => ADD,
            BinaryOp::Mul => MUL,
            _ => REL,
        },
        ExprKind::Has(..) | ExprKind::Like(..) | ExprKind::Is(..) => REL,
        ExprKind::Not(_) | ExprKind::Neg(_) => UNARY,
        ExprKind::Lit(Value::Long(v)) if *v < 0 => UNARY,
        _ => MEMBER,
    }
}

/// Writes `e` so that it parses at precedence `min` (parenthesized if its
/// own level is looser).
fn expr(out: &mut String, e: &Expr, min: u8) {
    if level(e) < min {
        out.push('(');
        expr(out, e, IF);
        out.push(')');
        return;
    }
    match &e.kind {
        ExprKind::Lit(v) => value(out, v),
        ExprKind::Var(v) => out.push_str(v.name()),
        ExprKind::Not(inner) => {
            out.push('!');
            expr(out, inner, UNARY);
        }
        ExprKind::Neg(inner) => {
            out.push('-');
            let mut s = String::new();
            expr(&mut s, inner, UNARY);
            // `-5…` would lex as a negative literal and `--` as two
            // negations of a literal: keep the operand apart.
            if s.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                out.push('(');
                out.push_str(&s);
                out.push(')');
            } else {
                out.push_str(&s);
            }
        }
        ExprKind::Binary(op, l, r) => {
            let (ll, rl) = match level(e) {
                OR => (OR, AND),
                AND => (AND, REL),
                ADD => (ADD, MUL),
                MUL => (MUL, UNARY),
                _ => (ADD, ADD),
            };
            expr(out, l, ll);
            let _ = write!(out, " {} ", op.as_str());
            expr(out, r, rl);
        }
        ExprKind::If(c, a, b) => {
            out.push_str("if ");
            expr(out, c, IF);
            out.push_str(" then ");
            expr(out, a, IF);
            out.push_str(" else ");
            expr(out, b, IF);
        }
        ExprKind::Has(inner, attr) => {
            expr(out, inner, ADD);
            out.push_str(" has ");
            if is_ident(attr) {
                out.push_str(attr);
            } else {
                let _ = write!(out, "\"{}\"", escape(attr));
            }
        }
        ExprKind::Attr(inner, attr) => {
            expr(out, inner, MEMBER);
            if is_ident(attr) {
                let _ = write!(out, ".{attr}");
            } else {
                let _ = write!(out, "[\"{}\"]", escape(attr));
            }
        }
        ExprKind::Like(inner, pat) => {
            expr(out, inner, ADD);
            let _ = write!(out, " like {pat}");
        }
        ExprKind::Is(inner, ty, within) => {
            expr(out, inner, ADD);
            let _ = write!(out, " is {ty}");
            if let Some(x) = within {
                out.push_str(" in ");
                expr(out, x, ADD);
            }
        }
        ExprKind::Method(recv, m, args) => {
            expr(out, recv, MEMBER);
            let _ = write!(out, ".{}(", m.signature().0);
            list(out, args);
            out.push(')');
        }
        ExprKind::Call(f, args) => {
            let _ = write!(out, "{}(", f.name());
            list(out, args);
            out.push(')');
        }
        ExprKind::Set(elems) => {
            out.push('[');
            list(out, elems);
            out.push(']');
        }
        ExprKind::Record(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "\"{}\": ", escape(k));
                expr(out, v, IF);
            }
            out.push('}');
        }
    }
}

fn list(out: &mut String, items: &[Expr]) {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        expr(out, x, IF);
    }
}

fn value(out: &mut String, v: &Value) {
    match v {
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Long(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => {
            let _ = write!(out, "\"{}\"", escape(s));
        }
        Value::Entity(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Set(s) => {
            out.push('[');
            for (i, x) in s.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                value(out, x);
            }
            out.push(']');
        }
        Value::Record(r) => {
            out.push('{');
            for (i, (k, x)) in r.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "\"{}\": ", escape(k));
                value(out, x);
            }
            out.push('}');
        }
        Value::Ip(ip) => {
            let _ = write!(out, "ip(\"{ip}\")");
        }
        Value::Decimal(d) => {
            let _ = write!(out, "decimal(\"{d}\")");
        }
    }
}

/// Whether `s` can be written as a bare identifier after `.` or `has`.
fn is_ident(s: &str) -> bool {
    const RESERVED: [&str; 9] = [
        "true", "false", "if", "then", "else", "in", "is", "like", "has",
    ];
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::policy::ast::{Condition, ExtFn, Method, Pattern, PatternElem, PolicyId, Var};
    use crate::policy::diagnostic::Span;
    use crate::policy::parse_policies;
    use crate::policy::value::{EntityType, EntityUid};

    /// The policy with every span zeroed and source data dropped, for
    /// comparing meaning.
    fn norm(p: &Policy) -> Policy {
        fn e(x: &Expr) -> Expr {
            let b = |x: &Expr| Box::new(e(x));
            let kind = match &x.kind {
                ExprKind::Lit(v) => ExprKind::Lit(v.clone()),
                ExprKind::Var(v) => ExprKind::Var(*v),
                ExprKind::Not(a) => ExprKind::Not(b(a)),
                ExprKind::Neg(a) => ExprKind::Neg(b(a)),
                ExprKind::Binary(op, l, r) => ExprKind::Binary(*op, b(l), b(r)),
                ExprKind::If(c, t, f) => ExprKind::If(b(c), b(t), b(f)),
                ExprKind::Has(a, n) => ExprKind::Has(b(a), n.clone()),
                ExprKind::Attr(a, n) => ExprKind::Attr(b(a), n.clone()),
                ExprKind::Like(a, p) => ExprKind::Like(b(a), p.clone()),
                ExprKind::Is(a, t, w) => ExprKind::Is(b(a), t.clone(), w.as_deref().map(b)),
                ExprKind::Method(r, m, args) => {
                    ExprKind::Method(b(r), *m, args.iter().map(e).collect())
                }
                ExprKind::Call(f, args) => ExprKind::Call(*f, args.iter().map(e).collect()),
                ExprKind::Set(xs) => ExprKind::Set(xs.iter().map(e).collect()),
                ExprKind::Record(fs) => {
                    ExprKind::Record(fs.iter().map(|(k, v)| (k.clone(), e(v))).collect())
                }
            };
            Expr {
                kind,
                span: Span::default(),
            }
        }
        Policy {
            conditions: p
                .conditions
                .iter()
                .map(|c| Condition {
                    kind: c.kind,
                    expr: e(&c.expr),
                    span: Span::default(),
                })
                .collect(),
            source: Arc::from(""),
            offset: 0,
            file: Arc::from(""),
            line: 0,
            column: 0,
            ..p.clone()
        }
    }

    fn roundtrip(src: &str) -> String {
        let ps = parse_policies(src, "a.cedar").unwrap();
        let out = format_policies(&ps);
        let again = parse_policies(&out, "b.cedar")
            .unwrap_or_else(|e| panic!("formatted output does not parse: {e}\n{out}"));
        assert_eq!(
            ps.iter().map(norm).collect::<Vec<_>>(),
            again.iter().map(norm).collect::<Vec<_>>(),
            "{out}"
        );
        assert_eq!(format_policies(&again), out, "formatting is not stable");
        out
    }

    #[test]
    fn formats_canonically() {
        let out = roundtrip(
            r#"@id("a")   @advice("say \"hi\"")
forbid(principal is User in Group::"g", action in [Action::"read",Action::"write"], resource == Doc::"d")
when { (1 + 2) * 3 == 9 && !(context.a || context.b) }
unless { if context.x then principal["full name"] like "a*\*b" else -(-5) < 4 };
permit(principal, action in Action::"all", resource is Doc);"#,
        );
        assert_eq!(
            out,
            r#"@id("a")
@advice("say \"hi\"")
forbid (
  principal is User in Group::"g",
  action in [Action::"read", Action::"write"],
  resource == Doc::"d"
)
when { (1 + 2) * 3 == 9 && !(context.a || context.b) }
unless { if context.x then principal["full name"] like "a*\*b" else -(-5) < 4 };

permit (
  principal,
  action in Action::"all",
  resource is Doc
);
"#
        );
    }

    #[test]
    fn keeps_grouping_that_matters() {
        roundtrip("permit(principal, action, resource) when { 1 - (2 - 3) == 0 - 1 - -1 };");
        roundtrip("permit(principal, action, resource) when { (if true then 1 else 2) + 1 > 0 };");
        roundtrip(
            "permit(principal, action, resource) when { (principal in Group::\"x\") == true };",
        );
        roundtrip("permit(principal, action, resource) when { -(5.foo) == -5.foo };");
        roundtrip("permit(principal, action, resource) when { [1, -9223372036854775808].contains(-(1)) };");
        roundtrip("permit(principal, action, resource) when { {\"if\": 1, a: [ip(\"10.0.0.0/8\")]}.if == 1 };");
        roundtrip("permit(principal, action, resource) when { context has \"x y\" && context has a.b.c };");
        roundtrip("permit(principal, action, resource) when { decimal(\"1.5\").lessThan(decimal(\"2.0\")) };");
        roundtrip("permit(principal, action, resource) when { (principal is User in Group::\"g\") || resource is A::B };");
    }

    // ---- generated ASTs ------------------------------------------------

    fn uid() -> impl Strategy<Value = EntityUid> {
        (
            prop::sample::select(vec!["User", "Group", "A::B"]),
            prop::sample::select(vec!["a", "b c", "q\"x", "\\", "é"]),
        )
            .prop_map(|(t, id)| EntityUid::from_parts(t, id))
    }

    fn name() -> impl Strategy<Value = Arc<str>> {
        prop::sample::select(vec!["a", "risk", "if", "x y", "_1", "é", "has"]).prop_map(Arc::from)
    }

    fn mk(kind: ExprKind) -> Expr {
        Expr {
            kind,
            span: Span::default(),
        }
    }

    fn leaf() -> impl Strategy<Value = Expr> {
        prop_oneof![
            any::<bool>().prop_map(|b| mk(ExprKind::Lit(Value::Bool(b)))),
            any::<i64>().prop_map(|n| mk(ExprKind::Lit(Value::Long(n)))),
            "[a-z\"\\\\*\n ]{0,6}".prop_map(|s| mk(ExprKind::Lit(Value::string(&s)))),
            uid().prop_map(|u| mk(ExprKind::Lit(Value::Entity(u)))),
            prop::sample::select(vec![
                Var::Principal,
                Var::Action,
                Var::Resource,
                Var::Context
            ])
            .prop_map(|v| mk(ExprKind::Var(v))),
            prop::sample::select(vec!["10.0.0.1", "10.0.0.0/8", "::1"]).prop_map(|s| mk(
                ExprKind::Call(ExtFn::Ip, vec![mk(ExprKind::Lit(Value::string(s)))])
            )),
            prop::sample::select(vec!["1.5", "-0.25"]).prop_map(|s| mk(ExprKind::Call(
                ExtFn::Decimal,
                vec![mk(ExprKind::Lit(Value::string(s)))]
            ))),
        ]
    }

    fn gen_expr() -> impl Strategy<Value = Expr> {
        leaf().prop_recursive(5, 48, 4, |inner| {
            let ops = prop::sample::select(vec![
                BinaryOp::Eq,
                BinaryOp::NotEq,
                BinaryOp::Less,
                BinaryOp::LessEq,
                BinaryOp::Greater,
                BinaryOp::GreaterEq,
                BinaryOp::In,
                BinaryOp::Add,
                BinaryOp::Sub,
                BinaryOp::Mul,
                BinaryOp::And,
                BinaryOp::Or,
            ]);
            let pattern = prop::collection::vec(
                prop_oneof![
                    Just(PatternElem::Wildcard),
                    prop::sample::select(vec!['a', '*', '"', '\\', ' '])
                        .prop_map(PatternElem::Char)
                ],
                0..5,
            )
            .prop_map(Pattern);
            let methods = prop::sample::select(vec![
                Method::Contains,
                Method::ContainsAll,
                Method::ContainsAny,
                Method::IsEmpty,
                Method::IsIpv4,
                Method::IsInRange,
                Method::LessThan,
            ]);
            let b = |e: Expr| Box::new(e);
            prop_oneof![
                inner.clone().prop_map(move |e| mk(ExprKind::Not(b(e)))),
                inner.clone().prop_map(move |e| mk(ExprKind::Neg(b(e)))),
                (ops, inner.clone(), inner.clone())
                    .prop_map(move |(op, l, r)| mk(ExprKind::Binary(op, b(l), b(r)))),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(move |(c, t, f)| mk(ExprKind::If(b(c), b(t), b(f)))),
                (inner.clone(), name()).prop_map(move |(e, n)| mk(ExprKind::Has(b(e), n))),
                (inner.clone(), name()).prop_map(move |(e, n)| mk(ExprKind::Attr(b(e), n))),
                (inner.clone(), pattern).prop_map(move |(e, p)| mk(ExprKind::Like(b(e), p))),
                (
                    inner.clone(),
                    prop::sample::select(vec!["User", "A::B"]),
                    prop::option::of(inner.clone())
                )
                    .prop_map(move |(e, t, w)| mk(ExprKind::Is(
                        b(e),
                        EntityType::new(t),
                        w.map(b)
                    ))),
                (inner.clone(), methods, inner.clone()).prop_map(move |(r, m, a)| {
                    let args = if m.signature().1 == 1 {
                        vec![a]
                    } else {
                        vec![]
                    };
                    mk(ExprKind::Method(b(r), m, args))
                }),
                prop::collection::vec(inner.clone(), 0..3).prop_map(|xs| mk(ExprKind::Set(xs))),
                prop::collection::btree_map(name(), inner, 0..3)
                    .prop_map(|m| mk(ExprKind::Record(m.into_iter().collect()))),
            ]
        })
    }

    fn scope() -> impl Strategy<Value = EntityScope> {
        prop_oneof![
            Just(EntityScope::Any),
            uid().prop_map(EntityScope::Eq),
            uid().prop_map(EntityScope::In),
            Just(EntityScope::Is(EntityType::new("User"))),
            uid().prop_map(|u| EntityScope::IsIn(EntityType::new("A::B"), u)),
        ]
    }

    fn action() -> impl Strategy<Value = ActionScope> {
        let a = prop::sample::select(vec!["read", "write", "x y"])
            .prop_map(|id| EntityUid::from_parts("Action", id));
        prop_oneof![
            Just(ActionScope::Any),
            a.clone().prop_map(ActionScope::Eq),
            a.clone().prop_map(|u| ActionScope::In {
                actions: vec![u],
                list: false
            }),
            prop::collection::vec(a, 0..3).prop_map(|actions| ActionScope::In {
                actions,
                list: true
            }),
        ]
    }

    fn policy() -> impl Strategy<Value = Policy> {
        (
            any::<bool>(),
            scope(),
            action(),
            scope(),
            prop::collection::vec((any::<bool>(), gen_expr()), 0..3),
            prop::option::of("[a-z \"\\\\]{0,8}"),
        )
            .prop_map(|(permit, principal, action, resource, conds, advice)| {
                let mut annotations = vec![(Arc::from("id"), Arc::from("p"))];
                if let Some(a) = advice {
                    annotations.push((Arc::from("advice"), Arc::from(a.as_str())));
                }
                Policy {
                    id: PolicyId::new("p"),
                    effect: if permit {
                        Effect::Permit
                    } else {
                        Effect::Forbid
                    },
                    principal,
                    action,
                    resource,
                    conditions: conds
                        .into_iter()
                        .map(|(when, expr)| Condition {
                            kind: if when {
                                ConditionKind::When
                            } else {
                                ConditionKind::Unless
                            },
                            expr,
                            span: Span::default(),
                        })
                        .collect(),
                    annotations,
                    source: Arc::from(""),
                    offset: 0,
                    file: Arc::from(""),
                    line: 1,
                    column: 1,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Formatting a generated policy gives text that parses back to the
        /// same policy, and formatting that again gives the same text.
        #[test]
        fn formatted_policies_reparse_to_the_same_ast(p in policy()) {
            let out = format_policy(&p);
            let parsed = parse_policies(&out, "f.cedar");
            prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed.err(), out);
            let parsed = parsed.unwrap();
            prop_assert_eq!(parsed.len(), 1);
            prop_assert_eq!(norm(&parsed[0]), norm(&p), "{}", out);
            prop_assert_eq!(format_policy(&parsed[0]), out);
        }
    }
}
