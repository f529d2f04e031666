//! Runs one phase of policy work on a workload directory, for instruction
//! counting under callgrind:
//! `policy_profile DIR entities|parse|validate|compile|decide [ROUNDS]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::path::Path;

use mesh_core::policy::{parse_policies, validate, Decision, Entities, PolicySet, Request, Schema};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(&args[1]);
    let phase = args[2].as_str();
    let rounds: usize = args.get(3).map_or(1, |s| s.parse().unwrap());
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let (policies, entities, requests, schema) = (
        read("policies.cedar"),
        read("entities.json"),
        read("requests.jsonl"),
        read("schema.cedarschema"),
    );
    match phase {
        "entities" => {
            for _ in 0..rounds {
                black_box(Entities::from_json_str(&entities).unwrap());
            }
        }
        "parse" => {
            for _ in 0..rounds {
                black_box(parse_policies(&policies, "policies.cedar").unwrap());
            }
        }
        "compile" => {
            for _ in 0..rounds {
                black_box(PolicySet::parse(&policies, "policies.cedar").unwrap());
            }
        }
        "validate" => {
            let schema = Schema::from_cedarschema(&schema, "schema.cedarschema").unwrap();
            let parsed = parse_policies(&policies, "policies.cedar").unwrap();
            for _ in 0..rounds {
                black_box(validate(&schema, &parsed, &policies));
            }
        }
        "decide" => {
            let set = PolicySet::parse(&policies, "policies.cedar").unwrap();
            let ents = Entities::from_json_str(&entities).unwrap();
            let reqs: Vec<Request> = requests
                .lines()
                .map(|l| Request::from_json(&serde_json::from_str(l).unwrap()).unwrap())
                .collect();
            let mut d = Decision::new(&set);
            for _ in 0..rounds {
                for r in &reqs {
                    set.decide_into(black_box(r), &ents, &mut d);
                    black_box(d.outcome());
                }
            }
            eprintln!("decided {} requests x {rounds}", reqs.len());
        }
        _ => panic!("unknown phase `{phase}`"),
    }
}
