//! Algebraic properties of the evaluator and the decision procedure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mesh_core::policy::{
    Determining, Entities, EntityUid, ErrorMode, Outcome, PolicySet, Reason, Record, Request, Value,
};
use proptest::prelude::*;
use serde_json::json;

fn entities() -> Entities {
    Entities::from_json_value(&json!([
        {"uid": {"type": "Group", "id": "g0"}, "parents": [{"type": "Group", "id": "g1"}]},
        {"uid": {"type": "Group", "id": "g1"}},
        {"uid": {"type": "User", "id": "u0"}, "attrs": {"a": 1}, "parents": [{"type": "Group", "id": "g0"}]},
        {"uid": {"type": "User", "id": "u1"}, "attrs": {"a": 4}, "parents": [{"type": "Group", "id": "g1"}]},
        {"uid": {"type": "User", "id": "u2"}, "attrs": {}},
    ]))
    .unwrap()
}

fn request(user: u8, action: u8, a: i64, b: bool, s: &str) -> Request {
    let Value::Record(ctx) = Value::from_json(&json!({"a": a, "b": b, "s": s})).unwrap() else {
        panic!()
    };
    Request::new(
        EntityUid::from_parts("User", &format!("u{user}")),
        EntityUid::from_parts("Action", if action == 0 { "read" } else { "write" }),
        EntityUid::from_parts("Doc", "d"),
        ctx,
    )
}

/// Boolean-typed expressions, some of which fail to evaluate.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("true".to_string()),
        Just("false".to_string()),
        Just("context.b".to_string()),
        (0i64..6).prop_map(|n| format!("context.a > {n}")),
        (0i64..6).prop_map(|n| format!("context.a == {n}")),
        Just("context.s like \"a*\"".to_string()),
        Just("principal in Group::\"g1\"".to_string()),
        Just("principal.a >= 2".to_string()),
        Just("context.missing".to_string()),
        Just("(1 < \"x\")".to_string()),
        Just("(9223372036854775807 + context.a > 0)".to_string()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("!({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) && ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) || ({b})")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(c, a, b)| format!("if ({c}) then ({a}) else ({b})")),
        ]
    })
}

fn req_strategy() -> impl Strategy<Value = Request> {
    (
        0u8..3,
        0u8..2,
        0i64..6,
        any::<bool>(),
        prop_oneof![Just("abc"), Just("xyz")],
    )
        .prop_map(|(u, act, a, b, s)| request(u, act, a, b, s))
}

/// Evaluates `e` as a condition: Ok(value) or Err(error kind).
fn cond(e: &str, r: &Request, ents: &Entities) -> Result<bool, &'static str> {
    let set = PolicySet::parse(
        &format!("permit(principal, action, resource) when {{ {e} }};"),
        "p",
    )
    .unwrap();
    let d = set.decide(r, ents);
    let first = d.errors().next().map(|e| e.error.kind_str());
    match first {
        Some(kind) => Err(kind),
        None => Ok(d.is_allowed()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn double_negation(e in expr(), r in req_strategy()) {
        let ents = entities();
        prop_assert_eq!(cond(&format!("!!({e})"), &r, &ents), cond(&e, &r, &ents));
    }

    #[test]
    fn short_circuit(e in expr(), r in req_strategy()) {
        let ents = entities();
        prop_assert_eq!(cond(&format!("false && ({e})"), &r, &ents), Ok(false));
        prop_assert_eq!(cond(&format!("true || ({e})"), &r, &ents), Ok(true));
    }

    #[test]
    fn commutative_and_de_morgan_when_error_free(a in expr(), b in expr(), r in req_strategy()) {
        let ents = entities();
        if let (Ok(x), Ok(y)) = (cond(&a, &r, &ents), cond(&b, &r, &ents)) {
            prop_assert_eq!(cond(&format!("({a}) && ({b})"), &r, &ents), Ok(x && y));
            prop_assert_eq!(cond(&format!("({b}) && ({a})"), &r, &ents), Ok(x && y));
            prop_assert_eq!(cond(&format!("({a}) || ({b})"), &r, &ents), Ok(x || y));
            prop_assert_eq!(cond(&format!("({b}) || ({a})"), &r, &ents), Ok(x || y));
            prop_assert_eq!(
                cond(&format!("!(({a}) && ({b}))"), &r, &ents),
                cond(&format!("!({a}) || !({b})"), &r, &ents)
            );
        }
    }
}

/// A random policy: effect, scopes and a condition.
fn policy() -> impl Strategy<Value = String> {
    let principal = prop_oneof![
        Just("principal".to_string()),
        (0u8..3).prop_map(|u| format!("principal == User::\"u{u}\"")),
        (0u8..2).prop_map(|g| format!("principal in Group::\"g{g}\"")),
        Just("principal is User".to_string()),
        Just("principal is User in Group::\"g1\"".to_string()),
    ];
    let action = prop_oneof![
        Just("action".to_string()),
        Just("action == Action::\"read\"".to_string()),
        Just("action in [Action::\"read\", Action::\"write\"]".to_string()),
        Just("action in Action::\"write\"".to_string()),
    ];
    (
        any::<bool>(),
        principal,
        action,
        proptest::option::of(expr()),
    )
        .prop_map(|(permit, p, a, c)| {
            let effect = if permit { "permit" } else { "forbid" };
            match c {
                Some(c) => format!("{effect}({p}, {a}, resource) when {{ {c} }};"),
                None => format!("{effect}({p}, {a}, resource);"),
            }
        })
}

fn decide_text(
    src: &str,
    mode: ErrorMode,
    r: &Request,
    ents: &Entities,
) -> (Outcome<'static>, Vec<String>) {
    let set = PolicySet::parse(src, "p").unwrap().with_error_mode(mode);
    let d = set.decide(r, ents);
    let o = match d.outcome() {
        Outcome::Allow => Outcome::Allow,
        _ => Outcome::Deny,
    };
    (o, d.determining().map(|i| i.to_string()).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn deny_overrides(
        base in proptest::collection::vec(policy(), 0..8),
        extra in policy(),
        r in req_strategy(),
        skip in any::<bool>(),
    ) {
        let ents = entities();
        let mode = if skip { ErrorMode::SkipOnError } else { ErrorMode::FailClosed };
        let src = base.join("\n");
        let with = format!("{src}\n{extra}");
        let (before, _) = decide_text(&src, mode, &r, &ents);
        let (after, _) = decide_text(&with, mode, &r, &ents);
        if extra.starts_with("forbid") {
            // Adding a forbid never turns Deny into Allow.
            prop_assert!(!(before == Outcome::Deny && after == Outcome::Allow));
        } else {
            // Adding a permit never turns Allow into Deny.
            prop_assert!(!(before == Outcome::Allow && after == Outcome::Deny));
        }
    }

    /// The index never changes a decision: the set decides as a scan of its
    /// policies one by one would.
    #[test]
    fn index_equals_scan(base in proptest::collection::vec(policy(), 0..10), r in req_strategy()) {
        let ents = entities();
        let set = PolicySet::parse(&base.join("\n"), "p").unwrap();
        let d = set.decide(&r, &ents);
        let fast = set.clone().with_determining(Determining::First);
        let fd = fast.decide(&r, &ents);
        prop_assert_eq!(fd.outcome(), d.outcome());
        let all: Vec<String> = d.determining().map(|i| i.to_string()).collect();
        let first: Vec<String> = fd.determining().map(|i| i.to_string()).collect();
        if d.outcome() == Outcome::Allow {
            prop_assert_eq!(first.len(), 1);
            prop_assert!(all.contains(&first[0]));
        } else {
            prop_assert_eq!(&first, &all);
        }
        let mut forbids = Vec::new();
        let mut permits = Vec::new();
        for p in set.policies() {
            let one = PolicySet::from_policies(vec![p.clone()]).unwrap();
            let od = one.decide(&r, &ents);
            match od.reason() {
                Reason::ForbidMatched | Reason::ForbidErrored => forbids.push(p.id.to_string()),
                Reason::Permitted => permits.push(p.id.to_string()),
                _ => {}
            }
        }
        let got: Vec<String> = d.determining().map(|i| i.to_string()).collect();
        if !forbids.is_empty() {
            prop_assert_eq!(d.outcome(), Outcome::Deny);
            prop_assert_eq!(got, forbids);
        } else if !permits.is_empty() {
            prop_assert_eq!(d.outcome(), Outcome::Allow);
            prop_assert_eq!(got, permits);
        } else {
            prop_assert_eq!(d.outcome(), Outcome::Deny);
            prop_assert!(got.is_empty());
        }
    }
}

#[test]
fn record_default_is_empty() {
    assert!(Record::default().is_empty());
}

fn token_soup() -> impl Strategy<Value = String> {
    let toks = [
        "permit",
        "forbid",
        "(",
        ")",
        "principal",
        ",",
        "action",
        "resource",
        "context",
        "when",
        "unless",
        "{",
        "}",
        "==",
        "!=",
        "<",
        "<=",
        "in",
        "is",
        "&&",
        "||",
        "!",
        "-",
        "+",
        "*",
        "9223372036854775808",
        "1",
        "\"a\"",
        "\"\\u{zz}\"",
        "\"\\*\"",
        "[",
        "]",
        ".",
        "has",
        "like",
        "::",
        "@id(\"x\")",
        "@obligation(\"mfa\")",
        "?principal",
        "if",
        "then",
        "else",
        "User",
        "Action::\"r\"",
        "ip",
        "decimal",
        "contains",
        ";",
        " ",
        "\n",
        "\"",
        "//",
        "é",
    ];
    proptest::collection::vec(proptest::sample::select(toks.to_vec()), 0..60)
        .prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Parsing and compiling arbitrary token soup never panics; every error
    /// renders with a location.
    #[test]
    fn parser_never_panics(src in prop_oneof![token_soup(), ".{0,200}"]) {
        match PolicySet::parse(&src, "soup.cedar") {
            Ok(set) => {
                let r = request(0, 0, 1, true, "abc");
                let _ = set.decide(&r, &entities());
            }
            Err(e) => {
                let d = e.diagnostic().unwrap();
                prop_assert!(d.line() >= 1 && d.column() >= 1);
                prop_assert!(d.render().contains("soup.cedar:"));
            }
        }
    }
}
