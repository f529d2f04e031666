//! Differential tests: mesh (skip-on-error mode) and cedar-policy must reach
//! the same decision with the same determining policies, on generated policy
//! sets, entity hierarchies and requests, and on the reference workload.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use mesh_policy_oracle::{mesh_ids, CedarEngine, MeshEngine};
use proptest::prelude::*;
use serde_json::{json, Value as Json};

// ---- generated universes ---------------------------------------------------

const USERS: usize = 4;
const GROUPS: usize = 3;
const DOCS: usize = 4;
const FOLDERS: usize = 3;
const ACTIONS: [&str; 4] = ["read", "write", "delete", "modify"];

fn uid(t: &str, id: String) -> Json {
    json!({"type": t, "id": id})
}

/// Entities with a random group DAG, folder tree, optional attributes and an
/// action hierarchy (`write` and `delete` in `modify`).
fn entities() -> impl Strategy<Value = Json> {
    let user = (
        prop::collection::vec(0..GROUPS, 0..3),
        prop::option::of(-3i64..5),
        prop::sample::select(vec!["alice", "bob", "ann-marie", ""]),
    );
    let group = prop::collection::vec(any::<bool>(), GROUPS);
    let doc = (
        0..FOLDERS,
        0..USERS,
        prop::option::of(any::<bool>()),
        prop::collection::vec(0..3usize, 0..3),
    );
    (
        prop::collection::vec(user, USERS),
        prop::collection::vec(group, GROUPS),
        prop::collection::vec(doc, DOCS),
        prop::collection::vec(any::<bool>(), FOLDERS),
    )
        .prop_map(|(users, groups, docs, folders)| {
            let mut out = Vec::new();
            for (i, (parents, level, name)) in users.into_iter().enumerate() {
                let mut attrs = serde_json::Map::new();
                attrs.insert("name".into(), json!(name));
                if let Some(l) = level {
                    attrs.insert("level".into(), json!(l));
                }
                let mut ps: Vec<usize> = parents;
                ps.sort_unstable();
                ps.dedup();
                out.push(json!({
                    "uid": uid("User", format!("u{i}")),
                    "attrs": attrs,
                    "parents": ps.into_iter().map(|g| uid("Group", format!("g{g}"))).collect::<Vec<_>>(),
                }));
            }
            for (i, links) in groups.into_iter().enumerate() {
                // Only lower-numbered parents: a DAG.
                let parents: Vec<Json> = links
                    .iter()
                    .enumerate()
                    .filter(|(j, l)| **l && *j < i)
                    .map(|(j, _)| uid("Group", format!("g{j}")))
                    .collect();
                out.push(json!({"uid": uid("Group", format!("g{i}")), "attrs": {}, "parents": parents}));
            }
            for (i, nested) in folders.into_iter().enumerate() {
                let parents = if i > 0 && nested {
                    vec![uid("Folder", format!("f{}", i - 1))]
                } else {
                    vec![]
                };
                out.push(json!({"uid": uid("Folder", format!("f{i}")), "attrs": {}, "parents": parents}));
            }
            for (i, (folder, owner, secret, tags)) in docs.into_iter().enumerate() {
                let mut attrs = serde_json::Map::new();
                attrs.insert("owner".into(), json!({"__entity": uid("User", format!("u{owner}"))}));
                if let Some(s) = secret {
                    attrs.insert("secret".into(), json!(s));
                }
                attrs.insert(
                    "tags".into(),
                    json!(tags.into_iter().map(|t| format!("t{t}")).collect::<Vec<_>>()),
                );
                out.push(json!({
                    "uid": uid("Doc", format!("d{i}")),
                    "attrs": attrs,
                    "parents": [uid("Folder", format!("f{folder}"))],
                }));
            }
            for a in ACTIONS {
                let parents = if a == "write" || a == "delete" {
                    vec![uid("Action", "modify".into())]
                } else {
                    vec![]
                };
                out.push(json!({"uid": uid("Action", a.into()), "attrs": {}, "parents": parents}));
            }
            Json::Array(out)
        })
}

fn entity_ref(t: &'static str, n: usize) -> impl Strategy<Value = String> {
    (0..n).prop_map(move |i| {
        format!(
            "{t}::\"{}{i}\"",
            t.chars().next().unwrap_or('x').to_ascii_lowercase()
        )
    })
}

fn group() -> impl Strategy<Value = String> {
    entity_ref("Group", GROUPS)
}

fn folder() -> impl Strategy<Value = String> {
    entity_ref("Folder", FOLDERS)
}

fn action_ref() -> impl Strategy<Value = String> {
    prop::sample::select(ACTIONS.to_vec()).prop_map(|a| format!("Action::\"{a}\""))
}

/// Boolean conditions, including ones that error at run time (missing
/// attributes, overflow, type errors).
fn cond() -> impl Strategy<Value = String> {
    let cmp = prop::sample::select(vec!["<", "<=", ">", ">=", "==", "!="]);
    let leaf = prop_oneof![
        Just("true".to_owned()),
        Just("false".to_owned()),
        (cmp.clone(), -2i64..4).prop_map(|(op, n)| format!("principal.level {op} {n}")),
        Just("principal has level".to_owned()),
        Just("resource has secret".to_owned()),
        Just("resource.secret".to_owned()),
        Just("context.flag".to_owned()),
        group().prop_map(|g| format!("principal in {g}")),
        folder().prop_map(|f| format!("resource in {f}")),
        Just("principal == resource.owner".to_owned()),
        (0..3usize).prop_map(|t| format!("resource.tags.contains(\"t{t}\")")),
        Just("resource.tags.containsAny([\"t0\", \"t1\"])".to_owned()),
        Just("resource.tags.containsAll([\"t0\", \"t2\"])".to_owned()),
        Just("resource.tags.isEmpty()".to_owned()),
        prop::sample::select(vec!["a*", "*-*", "", "*"])
            .prop_map(|p| format!("principal.name like \"{p}\"")),
        prop::sample::select(vec!["10.0.0.0/8", "192.168.0.0/16", "127.0.0.1"])
            .prop_map(|r| format!("context.ip.isInRange(ip(\"{r}\"))")),
        Just("context.ip.isLoopback()".to_owned()),
        (cmp, -3i64..6).prop_map(|(op, n)| format!("context.n + principal.level {op} {n}")),
        Just("principal.level * 4611686018427387904 > 0".to_owned()),
        Just("context.n - 9223372036854775807 < 0".to_owned()),
        Just("decimal(\"1.5\").lessThan(decimal(\"2.25\"))".to_owned()),
        Just("principal is User".to_owned()),
        Just("resource is Doc in Folder::\"f0\"".to_owned()),
        Just("principal.name < 3".to_owned()),
        Just("principal.name == 3".to_owned()),
        Just("action in [Action::\"modify\", Action::\"read\"]".to_owned()),
        Just("context has extra && context.extra".to_owned()),
        Just("resource.owner.level > 1".to_owned()),
        Just("resource.nope == 1".to_owned()),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} && {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
            inner.clone().prop_map(|a| format!("!({a})")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(a, b, c)| format!("(if {a} then {b} else {c})")),
        ]
    })
}

fn principal_scope() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("principal".to_owned()),
        entity_ref("User", USERS).prop_map(|u| format!("principal == {u}")),
        group().prop_map(|g| format!("principal in {g}")),
        Just("principal is User".to_owned()),
        group().prop_map(|g| format!("principal is User in {g}")),
    ]
}

fn action_scope() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("action".to_owned()),
        action_ref().prop_map(|a| format!("action == {a}")),
        action_ref().prop_map(|a| format!("action in {a}")),
        prop::collection::vec(action_ref(), 1..3)
            .prop_map(|v| format!("action in [{}]", v.join(", "))),
    ]
}

fn resource_scope() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("resource".to_owned()),
        entity_ref("Doc", DOCS).prop_map(|d| format!("resource == {d}")),
        folder().prop_map(|f| format!("resource in {f}")),
        Just("resource is Doc".to_owned()),
        folder().prop_map(|f| format!("resource is Folder in {f}")),
    ]
}

fn policy() -> impl Strategy<Value = (bool, String, String, String, Vec<(bool, String)>)> {
    (
        prop::bool::weighted(0.35),
        principal_scope(),
        action_scope(),
        resource_scope(),
        prop::collection::vec((any::<bool>(), cond()), 0..3),
    )
}

fn policy_set() -> impl Strategy<Value = String> {
    prop::collection::vec(policy(), 1..8).prop_map(|ps| {
        let mut out = String::new();
        for (i, (forbid, p, a, r, conds)) in ps.into_iter().enumerate() {
            let effect = if forbid { "forbid" } else { "permit" };
            out.push_str(&format!("@id(\"p{i}\")\n{effect}({p}, {a}, {r})"));
            for (when, c) in conds {
                out.push_str(if when { " when { " } else { " unless { " });
                out.push_str(&c);
                out.push_str(" }");
            }
            out.push_str(";\n");
        }
        out
    })
}

fn request() -> impl Strategy<Value = Json> {
    (
        prop_oneof![4 => entity_ref("User", USERS), 1 => group()],
        action_ref(),
        prop_oneof![3 => entity_ref("Doc", DOCS), 1 => folder()],
        -3i64..6,
        any::<bool>(),
        prop::sample::select(vec!["10.1.2.3", "192.168.1.1", "127.0.0.1", "::1"]),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(p, a, r, n, flag, ip, extra)| {
            let mut ctx = json!({"n": n, "flag": flag, "ip": {"__extn": {"fn": "ip", "arg": ip}}});
            if let Some(e) = extra {
                ctx["extra"] = json!(e);
            }
            json!({"principal": p, "action": a, "resource": r, "context": ctx})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mesh_matches_cedar_on_generated_inputs(
        policies in policy_set(),
        ents in entities(),
        reqs in prop::collection::vec(request(), 1..6),
    ) {
        let ents = ents.to_string();
        let mesh = MeshEngine::new(&policies, None, &ents)
            .unwrap_or_else(|e| panic!("mesh rejected:\n{policies}\n{e}"));
        let cedar = CedarEngine::new(&policies, None, &ents, mesh_ids(&mesh.policies))
            .unwrap_or_else(|e| panic!("cedar rejected:\n{policies}\n{e}"));
        for r in &reqs {
            let m = mesh.decide(&mesh.request(r).unwrap());
            let c = cedar.decide(&cedar.request(r).unwrap());
            prop_assert_eq!(&m, &c, "request {}\npolicies:\n{}\nentities: {}", r, policies, ents);
        }
    }
}

// ---- the reference workload -------------------------------------------------

fn workload_dir(n: usize) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mesh-core/benches/data")
        .join(format!("wl{n}"))
}

#[test]
fn mesh_matches_cedar_on_the_reference_workload() {
    for n in [100, 1000] {
        let dir = workload_dir(n);
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        let (policies, schema, ents, reqs) = (
            read("policies.cedar"),
            read("schema.cedarschema"),
            read("entities.json"),
            read("requests.jsonl"),
        );
        let mesh = MeshEngine::new(&policies, Some(&schema), &ents).unwrap();
        let cedar =
            CedarEngine::new(&policies, Some(&schema), &ents, mesh_ids(&mesh.policies)).unwrap();
        let (mut allows, mut total) = (0, 0);
        for line in reqs.lines() {
            let r: Json = serde_json::from_str(line).unwrap();
            let m = mesh.decide(&mesh.request(&r).unwrap());
            let c = cedar.decide(&cedar.request(&r).unwrap());
            assert_eq!(m, c, "n={n} request {line}");
            allows += usize::from(m.allow);
            total += 1;
        }
        assert!(
            total >= 1000 && allows > 0 && allows < total,
            "n={n}: {allows}/{total}"
        );
    }
}
