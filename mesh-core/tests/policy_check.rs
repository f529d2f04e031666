//! The reference workload validates cleanly against its schema, and its
//! requests conform to it (context `ip` strings become `ipaddr` values).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use mesh_core::policy::{check, Request, Schema, Value};

fn dir(n: usize) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/data")
        .join(format!("wl{n}"))
}

#[test]
fn workload_policies_validate_against_the_schema() {
    for n in [100, 1000] {
        let d = dir(n);
        let schema_src = std::fs::read_to_string(d.join("schema.cedarschema")).unwrap();
        let schema = Schema::from_cedarschema(&schema_src, "schema.cedarschema").unwrap();
        let src = std::fs::read_to_string(d.join("policies.cedar")).unwrap();
        let policies = check(&src, "policies.cedar", Some(&schema))
            .unwrap_or_else(|d| panic!("{}", d.iter().map(|d| d.render()).collect::<String>()));
        assert_eq!(policies.len(), n + 1);
    }
}

#[test]
fn workload_requests_conform_to_the_schema() {
    let d = dir(100);
    let schema_src = std::fs::read_to_string(d.join("schema.cedarschema")).unwrap();
    let schema = Schema::from_cedarschema(&schema_src, "schema.cedarschema").unwrap();
    let reqs = std::fs::read_to_string(d.join("requests.jsonl")).unwrap();
    for line in reqs.lines().take(200) {
        let req = Request::from_json(&serde_json::from_str(line).unwrap()).unwrap();
        assert!(matches!(req.context().get("ip"), Some(Value::String(_))));
        let ctx = schema.conform_context(req.action(), req.context()).unwrap();
        assert!(matches!(ctx.get("ip"), Some(Value::Ip(_))));
    }
}

#[test]
fn a_broken_policy_is_reported_with_file_line_and_caret() {
    let d = dir(100);
    let schema_src = std::fs::read_to_string(d.join("schema.cedarschema")).unwrap();
    let schema = Schema::from_cedarschema(&schema_src, "schema.cedarschema").unwrap();
    let src = "@id(\"x\")\npermit(principal, action, resource is Document)\nwhen { resource.clasification > 2 && context.risk < \"low\" };\n";
    let diags = check(src, "edit.cedar", Some(&schema)).unwrap_err();
    assert_eq!(diags.len(), 2, "{diags:#?}");
    let r = diags[0].render();
    assert!(r.contains("--> edit.cedar:3:8"), "{r}");
    assert!(r.contains("did you mean `classification`?"), "{r}");
    assert!(
        diags[1]
            .message()
            .contains("expected `Long`, found `String`"),
        "{}",
        diags[1].render()
    );
}
