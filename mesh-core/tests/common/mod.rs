//! Shared helpers: load the reference workload committed under
//! `benches/data/`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mesh_core::policy::{Entities, IpNet, PolicySet, Record, Request, Value};

pub struct Workload {
    pub policies: PolicySet,
    pub entities: Entities,
    pub requests: Vec<Request>,
}

pub fn data_dir(n: usize) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/data")
        .join(format!("wl{n}"))
}

/// Converts `context.ip` from a String to an `ipaddr`, as the workload's
/// schema (`ip: ipaddr`) says.
pub fn apply_schema_ip(req: &mut Request) {
    let ctx = req.context().clone();
    let fields = ctx
        .iter()
        .map(|(k, v)| {
            let v = match (k, v) {
                ("ip", Value::String(s)) => IpNet::parse(s).map(Value::Ip).unwrap_or(v.clone()),
                _ => v.clone(),
            };
            (std::sync::Arc::from(k), v)
        })
        .collect();
    req.set_context(Record::new(fields).unwrap());
}

pub fn load(n: usize) -> Workload {
    let dir = data_dir(n);
    let src = std::fs::read_to_string(dir.join("policies.cedar")).unwrap();
    let policies = PolicySet::parse(&src, "policies.cedar").unwrap();
    let ents = std::fs::read_to_string(dir.join("entities.json")).unwrap();
    let entities = Entities::from_json_str(&ents).unwrap();
    let reqs = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap();
    let requests = reqs
        .lines()
        .map(|l| {
            let mut r = Request::from_json(&serde_json::from_str(l).unwrap()).unwrap();
            apply_schema_ip(&mut r);
            r
        })
        .collect();
    Workload {
        policies,
        entities,
        requests,
    }
}
