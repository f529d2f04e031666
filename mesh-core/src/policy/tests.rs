//! Semantics tests of the evaluator and the decision procedure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::identity::{AuthContext, DevicePosture, Identity, IdentityKind};
use crate::Timestamp;

fn entities() -> Entities {
    Entities::from_json_value(&json!([
        {"uid": {"type": "Role", "id": "r"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "admins"}, "attrs": {}, "parents": [{"type": "Role", "id": "r"}]},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {"dept": "eng", "level": 3, "tags": ["a", "b"]},
         "parents": [{"type": "Group", "id": "admins"}]},
        {"uid": {"type": "User", "id": "bob"}, "attrs": {"dept": "ops", "level": 1}, "parents": []},
        {"uid": {"type": "Doc", "id": "d"}, "attrs": {"owner": {"__entity": {"type": "User", "id": "alice"}}, "level": 2}, "parents": []}
    ]))
    .unwrap()
}

fn request(principal: &str) -> Request {
    let ctx = Value::from_json(&json!({
        "n": 5, "s": "hello", "flag": true,
        "ip": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}},
        "amount": {"__extn": {"fn": "decimal", "arg": "12.50"}},
        "list": [1, 2, 3], "rec": {"x": 1, "y": {"z": "deep"}}
    }))
    .unwrap();
    let Value::Record(ctx) = ctx else { panic!() };
    Request::new(
        EntityUid::from_parts("User", principal),
        EntityUid::from_parts("Action", "read"),
        EntityUid::from_parts("Doc", "d"),
        ctx,
    )
}

/// Evaluates `src` as a condition: Ok(bool) or Err(error kind).
fn cond(src: &str) -> Result<bool, String> {
    let set = PolicySet::parse(
        &format!("permit(principal, action, resource) when {{ {src} }};"),
        "t",
    )
    .map_err(|e| format!("compile: {e}"))?;
    let d = set.decide(&request("alice"), &entities());
    if let Some(e) = d.errors().next() {
        return Err(e.error.kind_str().to_string());
    }
    Ok(d.is_allowed())
}

fn t(src: &str) {
    assert_eq!(cond(src), Ok(true), "`{src}` should be true");
}
fn f(src: &str) {
    assert_eq!(cond(src), Ok(false), "`{src}` should be false");
}
fn err(src: &str, kind: &str) {
    assert_eq!(
        cond(src),
        Err(kind.to_string()),
        "`{src}` should fail with {kind}"
    );
}

#[test]
fn arithmetic_and_overflow() {
    t("1 + 2 * 3 == 7");
    t("10 - 20 == -10");
    t("-9223372036854775808 < 0");
    err("9223372036854775807 + 1 > 0", "overflow");
    err("-9223372036854775807 - 2 > 0", "overflow");
    err("4611686018427387904 * 2 > 0", "overflow");
    err("-(-9223372036854775808) > 0", "overflow");
    err("\"a\" + 1 == 1", "type_mismatch");
}

#[test]
fn comparisons_and_equality() {
    t("context.n >= 5 && context.n <= 5 && context.n > 4 && context.n < 6");
    err("context.s < \"z\"", "type_mismatch");
    f("1 == \"1\"");
    t("1 != \"1\"");
    t("[1, 2, 2] == [2, 1]");
    t("{a: 1, b: [true]} == {b: [true], a: 1}");
    f("{a: 1} == {a: 1, b: 2}");
    t("User::\"alice\" == principal");
    f("User::\"alice\" == Admin::\"alice\"");
    t("ip(\"10.0.0.1\") == ip(\"10.0.0.1\")");
    f("decimal(\"1.0\") == 1");
}

#[test]
fn short_circuit() {
    f("false && (1 < \"a\")");
    t("true || (1 < \"a\")");
    err("true && (1 < \"a\")", "type_mismatch");
    err("false || (1 < \"a\")", "type_mismatch");
    err("1 && true", "type_mismatch");
    t("if context.flag then true else (1 < \"a\")");
    err("if 1 then true else false", "type_mismatch");
}

#[test]
fn hierarchy() {
    t("principal in Group::\"admins\"");
    t("principal in Role::\"r\"");
    t("principal in principal");
    t("principal in [Group::\"x\", Role::\"r\"]");
    f("principal in [Group::\"x\"]");
    f("principal in User::\"bob\"");
    f("User::\"ghost\" in Group::\"admins\"");
    t("User::\"ghost\" in User::\"ghost\"");
    err("1 in Group::\"admins\"", "type_mismatch");
    err("principal in [1]", "type_mismatch");
    err("principal in \"g\"", "type_mismatch");
    t("principal is User");
    f("principal is Group");
    t("principal is User in Role::\"r\"");
    f("resource is User in Role::\"r\"");
    err("1 is User", "type_mismatch");
}

#[test]
fn attributes() {
    t("principal.dept == \"eng\"");
    t("principal[\"dept\"] == \"eng\"");
    t("resource.owner == principal && resource.owner.level == 3");
    t("principal has dept && !(principal has nope)");
    t("context.rec has y.z && context.rec.y.z == \"deep\"");
    f("context.rec has y.w");
    f("User::\"ghost\" has dept");
    err("principal.nope == 1", "missing_attribute");
    err("User::\"ghost\".dept == 1", "unknown_entity");
    err("context.n has x", "type_mismatch");
    err("context.n.x == 1", "type_mismatch");
    t("{a: {b: 1}}.a.b == 1");
    t("{\"a b\": principal}[\"a b\"].dept == \"eng\"");
}

#[test]
fn strings_and_like() {
    t("context.s like \"h*o\"");
    t("context.s like \"*\"");
    t("context.s like \"hello\"");
    f("context.s like \"h*x\"");
    t("\"a*b\" like \"a\\*b\"");
    f("\"axb\" like \"a\\*b\"");
    t("\"\\u{e9}\\t\" == \"é\\u{9}\"");
    t("\"ab*cd\" like \"*b\\**d\"");
    err("1 like \"*\"", "type_mismatch");
}

#[test]
fn sets() {
    t("context.list.contains(2)");
    f("context.list.contains(\"2\")");
    t("context.list.containsAll([1, 3])");
    f("context.list.containsAll([1, 4])");
    t("context.list.containsAny([4, 3])");
    f("[].containsAny([1])");
    t("[].isEmpty() && ![1].isEmpty()");
    t("principal.tags.contains(\"a\")");
    t("[principal.dept, context.s].contains(\"hello\")");
    err("context.n.contains(1)", "type_mismatch");
    err("context.list.containsAll(1)", "type_mismatch");
}

#[test]
fn extensions() {
    t("context.ip.isInRange(ip(\"10.0.0.0/8\"))");
    f("context.ip.isInRange(ip(\"192.168.0.0/16\"))");
    t("context.ip.isIpv4() && !context.ip.isIpv6()");
    t("ip(\"127.0.0.1\").isLoopback() && ip(\"ff02::1\").isMulticast()");
    t("context.amount.greaterThan(decimal(\"12.4999\"))");
    t("context.amount.lessThanOrEqual(decimal(\"12.5\"))");
    f("context.amount.lessThan(decimal(\"-1.0\"))");
    err("context.s.isIpv4()", "type_mismatch");
    err("context.n.lessThan(decimal(\"1.0\"))", "type_mismatch");
    err("ip(context.s).isIpv4()", "bad_extension_value");
    let e = PolicySet::parse(
        "permit(principal, action, resource) when { ip(\"10.0.0.300\").isIpv4() };",
        "f.cedar",
    )
    .unwrap_err();
    assert_eq!(e.kind(), PolicyErrorKind::Invalid);
    assert!(e.to_string().starts_with("f.cedar:1:44:"), "{e}");
}

const BASE: &str = r#"
@id("read")
permit(principal in Group::"admins", action == Action::"read", resource);
@id("bob-blocked")
@advice("bob is suspended")
forbid(principal == User::"bob", action, resource);
"#;

#[test]
fn default_deny_and_forbid_wins() {
    let ents = entities();
    let set = PolicySet::parse(BASE, "t").unwrap();
    let d = set.decide(&request("alice"), &ents);
    assert_eq!(d.outcome(), Outcome::Allow);
    assert_eq!(
        d.determining().map(PolicyId::as_str).collect::<Vec<_>>(),
        ["read"]
    );
    let d = set.decide(&request("bob"), &ents);
    assert_eq!(d.outcome(), Outcome::Deny);
    assert_eq!(d.reason(), Reason::ForbidMatched);
    assert_eq!(d.advice().collect::<Vec<_>>(), ["bob is suspended"]);
    let d = set.decide(&request("carol"), &ents);
    assert_eq!((d.outcome(), d.reason()), (Outcome::Deny, Reason::NoPermit));
    assert_eq!(d.determining().count(), 0);
    let both = format!("{BASE}\n@id(\"all\") forbid(principal, action, resource);");
    let set2 = PolicySet::parse(&both, "t").unwrap();
    let d = set2.decide(&request("bob"), &ents);
    assert_eq!(
        d.determining().map(PolicyId::as_str).collect::<Vec<_>>(),
        ["bob-blocked", "all"]
    );
}

#[test]
fn erroring_forbid_fails_closed_unless_skip_on_error() {
    let ents = entities();
    let src = format!(
        "{BASE}\n@id(\"bad\") forbid(principal, action, resource) when {{ principal.nope }};"
    );
    let set = PolicySet::parse(&src, "t").unwrap();
    let d = set.decide(&request("alice"), &ents);
    assert_eq!(
        (d.outcome(), d.reason()),
        (Outcome::Deny, Reason::ForbidErrored)
    );
    assert_eq!(
        d.determining().map(PolicyId::as_str).collect::<Vec<_>>(),
        ["bad"]
    );
    let e: Vec<String> = d.errors().map(|e| e.to_string()).collect();
    assert_eq!(e, ["policy `bad`: attribute `nope` does not exist"]);
    let skip = set.with_error_mode(ErrorMode::SkipOnError);
    let d = skip.decide(&request("alice"), &ents);
    assert_eq!(d.outcome(), Outcome::Allow);
    assert_eq!(d.errors().count(), 1);
}

#[test]
fn erroring_permit_does_not_apply() {
    let set = PolicySet::parse(
        "@id(\"p\") permit(principal, action, resource) when { principal.nope == 1 };",
        "t",
    )
    .unwrap();
    let d = set.decide(&request("alice"), &entities());
    assert_eq!((d.outcome(), d.reason()), (Outcome::Deny, Reason::NoPermit));
    assert_eq!(d.errors().next().map(|e| e.policy.as_str()), Some("p"));
    let span = d.errors().next().unwrap().error.span();
    assert_eq!(set.policies()[0].text(span), "principal.nope");
}

#[test]
fn default_policy_ids() {
    let set = PolicySet::parse(
        "permit(principal, action, resource);\n@id(\"x\") permit(principal, action, resource);\npermit(principal, action, resource);",
        "t",
    )
    .unwrap();
    let ids: Vec<&str> = set.policies().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["policy0", "x", "policy2"]);
}

const STEP_UP: &str = r#"
@id("wire")
@obligation("mfa")
@max_auth_age("15m")
@advice("wire transfers need a recent MFA")
permit(principal, action == Action::"read", resource == Doc::"d");
"#;

fn auth(methods: &[&str], minutes_ago: Option<i64>) -> AuthContext {
    AuthContext {
        auth_time: minutes_ago.map(|m| Timestamp::from_unix_seconds(1_000_000 - m * 60)),
        methods: methods.iter().map(|m| m.to_string()).collect(),
        acr: None,
    }
}

#[test]
fn obligations_challenge_until_met() {
    let ents = entities();
    let set = PolicySet::parse(STEP_UP, "t").unwrap();
    let now = Timestamp::from_unix_seconds(1_000_000);
    let check = |a: Option<AuthContext>| {
        let r = match a {
            Some(a) => request("alice").with_auth(a, now),
            None => request("alice"),
        };
        let d = set.decide(&r, &ents);
        (
            d.outcome(),
            d.reason(),
            d.determining().count(),
            d.advice().count(),
        )
    };
    let o = set.obligation("wire").unwrap();
    assert_eq!(o.name(), "mfa");
    assert_eq!(o.max_age(), Some(Duration::from_secs(900)));
    let challenge = (
        Outcome::Challenge { obligation: o },
        Reason::ObligationUnmet,
        1,
        1,
    );
    assert_eq!(check(None), challenge);
    assert_eq!(check(Some(auth(&["pwd"], Some(1)))), challenge);
    assert_eq!(check(Some(auth(&["pwd", "mfa"], Some(16)))), challenge);
    assert_eq!(check(Some(auth(&["pwd", "mfa"], None))), challenge);
    assert_eq!(
        check(Some(auth(&["pwd", "MFA"], Some(14)))),
        (Outcome::Allow, Reason::Permitted, 1, 1)
    );
    // Another permit that needs no obligation allows outright.
    let both = format!("{STEP_UP}\n@id(\"plain\") permit(principal, action, resource);");
    let set2 = PolicySet::parse(&both, "t").unwrap();
    let d = set2.decide(&request("alice"), &ents);
    assert_eq!(d.outcome(), Outcome::Allow);
    assert_eq!(
        d.determining().map(PolicyId::as_str).collect::<Vec<_>>(),
        ["plain"]
    );
    // A forbid still wins over a challenge.
    let denied = format!("{STEP_UP}\nforbid(principal, action, resource);");
    let set3 = PolicySet::parse(&denied, "t").unwrap();
    let d = set3.decide(&request("alice"), &ents);
    assert_eq!(d.outcome(), Outcome::Deny);
}

#[test]
fn bare_max_auth_age_is_reauthentication() {
    let set = PolicySet::parse(
        "@max_auth_age(\"1h\") permit(principal, action, resource);",
        "t",
    )
    .unwrap();
    let now = Timestamp::from_unix_seconds(1_000_000);
    let d = set.decide(
        &request("alice").with_auth(auth(&[], Some(61)), now),
        &entities(),
    );
    match d.outcome() {
        Outcome::Challenge { obligation } => {
            assert_eq!(obligation.name(), "reauthenticate");
            assert_eq!(obligation.max_age(), Some(Duration::from_secs(3600)));
        }
        other => panic!("{other:?}"),
    }
    let d = set.decide(
        &request("alice").with_auth(auth(&[], Some(59)), now),
        &entities(),
    );
    assert!(d.is_allowed());
}

#[test]
fn invalid_obligation_annotations_rejected() {
    for src in [
        "@obligation(\"mfa\") forbid(principal, action, resource);",
        "@obligation(\"\") permit(principal, action, resource);",
        "@max_auth_age(\"soon\") permit(principal, action, resource);",
    ] {
        let e = PolicySet::parse(src, "t").unwrap_err();
        assert_eq!(e.kind(), PolicyErrorKind::Invalid, "{src}: {e}");
        assert!(e.diagnostic().unwrap().help().is_some());
    }
}

#[test]
fn requests_from_identities() {
    let ents = entities();
    let mut id = Identity::builder("carol", "https://idp", IdentityKind::Human);
    id.groups = vec!["admins".into()];
    id.roles = vec!["auditor".into()];
    id.claims.insert("email".into(), json!("Carol@Example.com"));
    id.claims.insert("score".into(), json!(1.5));
    id.auth = auth(&["pwd", "mfa"], Some(2));
    id.device = Some(DevicePosture {
        device_id: "laptop-1".into(),
        attributes: [("managed".to_string(), json!(true))].into_iter().collect(),
    });
    let id = id.build();
    let now = Timestamp::from_unix_seconds(1_000_000);
    let r = Request::from_identity(
        &id,
        &IdentityMapping::default(),
        EntityUid::from_parts("Action", "read"),
        EntityUid::from_parts("Doc", "d"),
        Record::default(),
        &ents,
        now,
    );
    assert_eq!(r.principal(), &EntityUid::from_parts("User", "carol"));
    let set = PolicySet::parse(
        r#"
        @id("ok") permit(principal in Role::"r", action, resource)
        when {
            principal in Role::"auditor" &&
            principal.claims.email == "Carol@Example.com" && !(principal.claims has score) &&
            principal.actor == "carol@example.com" && principal.kind == "human" &&
            principal.groups.contains("admins") &&
            context.auth.methods.contains("mfa") && context.auth.age_ms == 120000 &&
            context.device.managed && context.device.device_id == "laptop-1"
        };"#,
        "t",
    )
    .unwrap();
    let d = set.decide(&r, &ents);
    assert!(d.is_allowed(), "{d}");
    // The identity's auth context feeds obligations too.
    let step_up = PolicySet::parse(STEP_UP, "t").unwrap();
    let d = step_up.decide(&r, &ents);
    assert!(d.is_allowed(), "{d}");
}

#[test]
fn prepared_principals_match_identity_requests() {
    let ents = entities();
    let mut id = Identity::builder("carol", "https://idp", IdentityKind::Human);
    id.groups = vec!["admins".into()];
    id.auth = auth(&["pwd", "mfa"], Some(2));
    id.auth.acr = Some("gold".into());
    id.device = Some(DevicePosture {
        device_id: "laptop-1".into(),
        attributes: [("managed".to_string(), json!(true))].into_iter().collect(),
    });
    let id = id.build();
    let mapping = IdentityMapping::default();
    let prepared = PreparedPrincipal::new(&id, &mapping);
    let resolved = prepared.resolve(&ents);
    assert!(resolved.is_descendant_of(&EntityUid::from_parts("Role", "r")));
    assert!(!prepared
        .entity()
        .is_descendant_of(&EntityUid::from_parts("Role", "r")));
    let caller = Value::from_json(&json!({"zeta": 1, "alpha": "a", "b": true})).unwrap();
    let Value::Record(caller) = caller else {
        panic!("record")
    };
    for minutes in [2, 30] {
        let now = Timestamp::from_unix_seconds(1_000_000 + 60 * (minutes - 2));
        let a = Request::from_identity(
            &id,
            &mapping,
            EntityUid::from_parts("Action", "read"),
            EntityUid::from_parts("Doc", "d"),
            caller.clone(),
            &ents,
            now,
        );
        let b = prepared.request(
            resolved.clone(),
            EntityUid::from_parts("Action", "read"),
            EntityUid::from_parts("Doc", "d"),
            caller.clone(),
            now,
        );
        assert_eq!(a.context(), b.context());
        assert_eq!(a.context(), &mapping.context(&id, caller.clone(), now));
        assert_eq!(a.principal_entity(), b.principal_entity());
        assert_eq!(a.auth(), b.auth());
        let age = b.context().get("auth").and_then(|v| match v {
            Value::Record(r) => r.get("age_ms").cloned(),
            _ => None,
        });
        assert_eq!(age, Some(Value::Long(minutes * 60_000)));
        let names: Vec<&str> = b.context().iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["alpha", "auth", "b", "device", "zeta"]);
    }
    // A caller-given `auth` wins over the identity's.
    let own = Value::from_json(&json!({"auth": "mine"})).unwrap();
    let Value::Record(own) = own else {
        panic!("record")
    };
    let r = prepared.request(
        resolved,
        EntityUid::from_parts("Action", "read"),
        EntityUid::from_parts("Doc", "d"),
        own,
        Timestamp::from_unix_seconds(1_000_000),
    );
    assert_eq!(r.context().get("auth"), Some(&Value::string("mine")));
    assert!(r.context().get("device").is_some());
}

#[test]
fn explanations_name_closest_permits() {
    let ents = entities();
    let set = PolicySet::parse(
        r#"
        @id("far") permit(principal == User::"zed", action, resource);
        @id("near") permit(principal, action == Action::"read", resource)
          when { context.n > 1 && principal.dept == "ops" && context.flag };
        @id("err") permit(principal, action, resource) when { principal.nope };
        "#,
        "t",
    )
    .unwrap();
    let x = set.explain(&request("alice"), &ents, 2);
    assert_eq!(x.outcome, "deny");
    assert_eq!(x.closest_permits.len(), 2);
    let near = &x.closest_permits[0];
    assert_eq!(near.policy.as_str(), "near");
    assert_eq!((near.passed, near.total), (4, 6));
    assert_eq!(
        near.failed,
        FailedCheck::When("principal.dept == \"ops\"".into())
    );
    assert!(
        matches!(&x.closest_permits[1].failed, FailedCheck::Error(t, _) if t == "principal.nope")
    );
    let text = x.to_string();
    assert!(
        text.contains(
            "closest permit `near` (4/6 checks): condition `principal.dept == \"ops\"` is false"
        ),
        "{text}"
    );
    let x = PolicySet::parse(STEP_UP, "t")
        .unwrap()
        .explain(&request("alice"), &ents, 3);
    assert_eq!(x.outcome, "challenge");
    assert_eq!(
        x.closest_permits[0].failed,
        FailedCheck::Obligation("mfa".into())
    );
    assert_eq!(x.advice, ["wire transfers need a recent MFA"]);
}

#[test]
fn decision_display_is_readable() {
    let set = PolicySet::parse(BASE, "t").unwrap();
    let d = set.decide(&request("bob"), &entities());
    assert_eq!(d.to_string(), "deny [forbid_matched] by bob-blocked");
}

#[test]
fn action_groups_and_lists() {
    let ents = Entities::from_json_value(&json!([
        {"uid": {"type": "Action", "id": "read"}, "parents": [{"type": "Action", "id": "readOnly"}]},
        {"uid": {"type": "Action", "id": "readOnly"}, "parents": [{"type": "Action", "id": "any"}]}
    ]))
    .unwrap();
    let set = PolicySet::parse(
        r#"@id("g") permit(principal, action in Action::"any", resource);
           @id("l") permit(principal, action in [Action::"write", Action::"readOnly"], resource);
           @id("e") permit(principal, action == Action::"readOnly", resource);"#,
        "t",
    )
    .unwrap();
    let d = set.decide(&request("alice"), &ents);
    assert_eq!(
        d.determining().map(PolicyId::as_str).collect::<Vec<_>>(),
        ["g", "l"]
    );
}

#[test]
fn shared_condition_errors_point_into_each_policys_own_clause() {
    // The same clauses, laid out differently: an error in the second
    // clause must point at that clause in each policy's own text.
    let set = PolicySet::parse(
        r#"
        @id("f") permit(principal, action, resource) when { context.n > 4 } unless { context.nope };
        @id("g") permit(principal, action, resource)
            when { context.n > 4 }

                    unless { context.nope };
        "#,
        "t",
    )
    .unwrap();
    let d = set.decide(&request("alice"), &entities());
    let errs: Vec<_> = d.errors().collect();
    assert_eq!(errs.len(), 2);
    for (e, id) in errs.iter().zip(["f", "g"]) {
        assert_eq!(e.policy.as_str(), id);
        assert_eq!(set.get(id).unwrap().text(e.error.span()), "context.nope");
    }
    assert_ne!(errs[0].error.span(), errs[1].error.span());
}

#[test]
fn shared_conditions_keep_their_own_results_and_errors() {
    let set = PolicySet::parse(
        r#"
        @id("a") permit(principal == User::"alice", action, resource) when { context.n > 4 };
        @id("b") permit(principal, action, resource) when { context.n > 4 };
        @id("c") permit(principal, action, resource) when { context.nope };
        @id("d") permit(principal, action, resource) when { context.nope };
        @id("e") forbid(principal == User::"bob", action, resource) when { context.n > 4 };
        "#,
        "t",
    )
    .unwrap();
    let d = set.decide(&request("alice"), &entities());
    assert_eq!(
        d.determining().map(PolicyId::as_str).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let errs: Vec<_> = d.errors().collect();
    assert_eq!(errs.len(), 2);
    assert_eq!(
        set.get("c").unwrap().text(errs[0].error.span()),
        "context.nope"
    );
    assert_eq!(
        set.get("d").unwrap().text(errs[1].error.span()),
        "context.nope"
    );
    assert_ne!(errs[0].error.span(), errs[1].error.span());
    let d = set.decide(&request("bob"), &entities());
    assert_eq!(
        d.determining().map(PolicyId::as_str).collect::<Vec<_>>(),
        ["e"]
    );
}

#[test]
#[ignore = "diagnostic: needs /tmp/wl10k from gen_policy_workload.py"]
fn candidate_counts_10k() {
    let dir = std::path::Path::new("/tmp/wl10k");
    let set = PolicySet::parse(
        &std::fs::read_to_string(dir.join("policies.cedar")).unwrap(),
        "p",
    )
    .unwrap();
    let ents =
        Entities::from_json_str(&std::fs::read_to_string(dir.join("entities.json")).unwrap())
            .unwrap();
    let mut v = Vec::new();
    for l in std::fs::read_to_string(dir.join("requests.jsonl"))
        .unwrap()
        .lines()
        .take(500)
    {
        let r = Request::from_json(&serde_json::from_str(l).unwrap()).unwrap();
        let p = ents.get(r.principal()).map_or(0, |e| e.ancestors().len());
        let rs = ents.get(r.resource()).map_or(0, |e| e.ancestors().len());
        let (a, b) = set.count_candidates(&r, &ents);
        v.push((a, b, p, rs));
    }
    v.sort();
    println!(
        "median {:?} p90 {:?} max {:?}",
        v[v.len() / 2],
        v[v.len() * 9 / 10],
        v[v.len() - 1]
    );
}

/// Scopes proven by the index slot a policy was found under decide exactly
/// like the same scopes written as conditions (checked in full).
#[test]
fn index_proven_scopes_match_conditions() {
    let ents = Entities::from_json_value(&json!([
        {"uid": {"type": "Action", "id": "read"}, "parents": [{"type": "Action", "id": "readOnly"}]},
        {"uid": {"type": "Role", "id": "r"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "admins"}, "attrs": {}, "parents": [{"type": "Role", "id": "r"}]},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": [{"type": "Group", "id": "admins"}]},
        {"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": [{"type": "Group", "id": "admins"}]}
    ]))
    .unwrap();
    let principals = [
        "principal",
        r#"principal == User::"alice""#,
        r#"principal == Group::"admins""#,
        r#"principal in Group::"admins""#,
        r#"principal in User::"alice""#,
        r#"principal in Role::"r""#,
        "principal is User",
        "principal is Group",
        r#"principal is User in Role::"r""#,
        r#"principal is Doc in Role::"r""#,
    ];
    let actions = [
        "action",
        r#"action == Action::"read""#,
        r#"action == Action::"readOnly""#,
        r#"action in Action::"readOnly""#,
        r#"action in [Action::"write", Action::"readOnly"]"#,
        r#"action in [Action::"write", Action::"read", Action::"readOnly"]"#,
    ];
    let resources = [
        "resource",
        r#"resource == Doc::"d""#,
        r#"resource in Group::"admins""#,
        r#"resource in Role::"r""#,
        "resource is Doc",
        "resource is User",
        r#"resource is Doc in Group::"admins""#,
        r#"resource == User::"alice""#,
    ];
    let ctx = Record::new(vec![]).unwrap();
    let mut requests = vec![
        Request::new(
            EntityUid::from_parts("User", "alice"),
            EntityUid::from_parts("Action", "read"),
            EntityUid::from_parts("Doc", "d"),
            ctx.clone(),
        ),
        Request::new(
            EntityUid::from_parts("User", "bob"),
            EntityUid::from_parts("Action", "readOnly"),
            EntityUid::from_parts("User", "alice"),
            ctx.clone(),
        ),
    ];
    // A principal carried by the request, with other parents than in the
    // store, that is also the resource.
    let carried = Entity::new(
        EntityUid::from_parts("User", "alice"),
        ctx.clone(),
        vec![EntityUid::from_parts("Role", "r")],
    );
    requests.push(
        Request::new(
            EntityUid::from_parts("User", "alice"),
            EntityUid::from_parts("Action", "read"),
            EntityUid::from_parts("User", "alice"),
            ctx,
        )
        .with_principal_entity(carried),
    );
    let mut scoped = String::new();
    let mut as_conditions = String::new();
    let mut n = 0;
    for p in principals {
        for a in actions {
            for r in resources {
                scoped.push_str(&format!("@id(\"{n}\") permit({p}, {a}, {r});\n"));
                let cond = |s: &str, var: &str| {
                    if s == var {
                        "true".to_string()
                    } else {
                        s.to_string()
                    }
                };
                as_conditions.push_str(&format!(
                    "@id(\"{n}\") permit(principal, action, resource) when {{ ({}) && ({}) && ({}) }};\n",
                    cond(p, "principal"),
                    cond(a, "action"),
                    cond(r, "resource"),
                ));
                n += 1;
            }
        }
    }
    let scoped = PolicySet::parse(&scoped, "scoped").unwrap();
    let plain = PolicySet::parse(&as_conditions, "plain").unwrap();
    // The same scopes with every index key unchecked (as when 64-bit keys
    // collide): every scope is then checked in full.
    let mut unchecked = scoped.clone();
    unchecked.uncheck_anchors();
    for req in &requests {
        let a = scoped.decide(req, &ents);
        let u = unchecked.decide(req, &ents);
        assert_eq!(
            u.determining().collect::<Vec<_>>(),
            a.determining().collect::<Vec<_>>()
        );
        let b = plain.decide(req, &ents);
        assert_eq!(a.errors().count(), 0);
        assert_eq!(b.errors().count(), 0);
        let ids = |d: &Decision<'_>| {
            d.determining()
                .map(|p| p.as_str().to_string())
                .collect::<Vec<_>>()
        };
        assert!(!ids(&b).is_empty());
        assert_eq!(ids(&a), ids(&b), "request {req:?}");
    }
}

/// An entity with more ancestors named by scopes than are checked up front
/// still matches every policy naming any of them.
#[test]
fn many_named_ancestors_all_match() {
    let n = 40;
    let mut ents = vec![json!({"uid": {"type": "User", "id": "u"}, "attrs": {},
        "parents": (0..n).map(|i| json!({"type": "Group", "id": format!("g{i}")})).collect::<Vec<_>>()})];
    for i in 0..n {
        ents.push(
            json!({"uid": {"type": "Group", "id": format!("g{i}")}, "attrs": {}, "parents": []}),
        );
    }
    let ents = Entities::from_json_value(&json!(ents)).unwrap();
    let mut src = String::new();
    for i in 0..n {
        src.push_str(&format!(
            "@id(\"p{i}\") permit(principal in Group::\"g{i}\", action, resource);\n\
             @id(\"q{i}\") permit(principal == Group::\"g{i}\", action, resource);\n"
        ));
    }
    let set = PolicySet::parse(&src, "p").unwrap();
    let req = Request::new(
        EntityUid::from_parts("User", "u"),
        EntityUid::from_parts("Action", "read"),
        EntityUid::from_parts("Doc", "d"),
        Record::new(vec![]).unwrap(),
    );
    let d = set.decide(&req, &ents);
    let mut ids: Vec<String> = d.determining().map(|p| p.as_str().to_string()).collect();
    ids.sort();
    let mut want: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    want.sort();
    assert_eq!(ids, want);
}

/// Index maps with more keys than a request has (so that each request key
/// is looked up, through the maps' filters) find exactly the policies
/// whose scopes, written as conditions, hold: keys of other kinds (roles
/// in a map of groups, a type among entities) are skipped, never a match.
#[test]
fn filtered_lookups_find_every_matching_scope() {
    let mut ents = vec![
        json!({"uid": {"type": "User", "id": "u"}, "attrs": {},
            "parents": [{"type": "Group", "id": "g1"}, {"type": "Group", "id": "g4"}]}),
        json!({"uid": {"type": "Doc", "id": "d"}, "attrs": {},
            "parents": [{"type": "Folder", "id": "f2"}]}),
        json!({"uid": {"type": "Folder", "id": "f2"}, "attrs": {},
            "parents": [{"type": "Folder", "id": "f5"}]}),
    ];
    for g in 0..8 {
        ents.push(
            json!({"uid": {"type": "Group", "id": format!("g{g}")}, "attrs": {},
            "parents": [{"type": "Role", "id": format!("r{}", g % 3)}]}),
        );
    }
    let ents = Entities::from_json_value(&json!(ents)).unwrap();
    let mut principals = vec!["principal".to_string(), "principal is User".to_string()];
    for i in 0..8 {
        principals.push(format!(r#"principal in Group::"g{i}""#));
        principals.push(format!(r#"principal == Group::"g{i}""#));
    }
    for i in 0..3 {
        principals.push(format!(r#"principal in Role::"r{i}""#));
    }
    principals.push(r#"principal == User::"u""#.to_string());
    let mut resources = vec![
        "resource".to_string(),
        "resource is Doc".to_string(),
        "resource is Folder".to_string(),
        r#"resource == Doc::"d""#.to_string(),
    ];
    for i in 0..8 {
        resources.push(format!(r#"resource in Folder::"f{i}""#));
        resources.push(format!(r#"resource is Doc in Folder::"f{i}""#));
    }
    let (mut scoped, mut plain) = (String::new(), String::new());
    let mut n = 0;
    for p in &principals {
        for r in &resources {
            let cond = |s: &str, var: &str| {
                if s == var {
                    "true".to_string()
                } else {
                    s.to_string()
                }
            };
            scoped.push_str(&format!("@id(\"{n}\") permit({p}, action, {r});\n"));
            plain.push_str(&format!(
                "@id(\"{n}\") permit(principal, action, resource) when {{ ({}) && ({}) }};\n",
                cond(p, "principal"),
                cond(r, "resource"),
            ));
            n += 1;
        }
    }
    let scoped = PolicySet::parse(&scoped, "scoped").unwrap();
    let plain = PolicySet::parse(&plain, "plain").unwrap();
    let mut unchecked = scoped.clone();
    unchecked.uncheck_anchors();
    let ids = |d: &Decision<'_>| {
        d.determining()
            .map(|p| p.as_str().to_string())
            .collect::<Vec<_>>()
    };
    for (principal, resource) in [("u", "d"), ("u", "f2"), ("g1", "d"), ("nobody", "d")] {
        let req = Request::new(
            EntityUid::from_parts(
                if principal.starts_with('g') {
                    "Group"
                } else {
                    "User"
                },
                principal,
            ),
            EntityUid::from_parts("Action", "read"),
            EntityUid::from_parts(if resource == "d" { "Doc" } else { "Folder" }, resource),
            Record::new(vec![]).unwrap(),
        );
        let want = ids(&plain.decide(&req, &ents));
        assert!(!want.is_empty());
        assert_eq!(
            ids(&scoped.decide(&req, &ents)),
            want,
            "{principal} {resource}"
        );
        assert_eq!(
            ids(&unchecked.decide(&req, &ents)),
            want,
            "{principal} {resource}"
        );
    }
}
