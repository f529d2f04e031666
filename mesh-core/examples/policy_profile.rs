//! Runs one phase of policy work on a workload directory, for instruction
//! counting under callgrind:
//! `policy_profile DIR entities|parse|validate|compile|decide|time [ROUNDS]`.
//! `time` times each decision alone and prints percentiles (ns) over all
//! decisions and separately for those a forbid denied and the others.
//! `decide-split` decides like `decide`, but through `forbid_denied` for
//! the requests a forbid denies and `others` for the rest, so that
//! `--toggle-collect` on one of them counts that class alone, in the cache
//! state the mixed sequence leaves. Requests are read as the policy
//! benchmark reads them: their contexts conformed to the workload's schema.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::path::Path;

use mesh_core::policy::{parse_policies, validate, Decision, Entities, PolicySet, Request, Schema};

/// The compiled policies, the entities and the requests of a workload,
/// each request's context conformed to the schema (`context.ip` read as an
/// `ipaddr`), as the policy benchmark and a schema-aware service read them.
fn load(
    policies: &str,
    entities: &str,
    requests: &str,
    schema: &str,
) -> (PolicySet, Entities, Vec<Request>) {
    let set = PolicySet::parse(policies, "policies.cedar").unwrap();
    let ents = Entities::from_json_str(entities).unwrap();
    let schema = Schema::from_cedarschema(schema, "schema.cedarschema").unwrap();
    let reqs = requests
        .lines()
        .map(|l| {
            let mut r = Request::from_json(&serde_json::from_str(l).unwrap()).unwrap();
            let ctx = schema.conform_context(r.action(), r.context()).unwrap();
            r.set_context(ctx);
            r
        })
        .collect();
    (set, ents, reqs)
}

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
            let (set, ents, reqs) = load(&policies, &entities, &requests, &schema);
            let mut d = Decision::new(&set);
            for _ in 0..rounds {
                for r in &reqs {
                    set.decide_into(black_box(r), &ents, &mut d);
                    black_box(d.outcome());
                }
            }
            eprintln!("decided {} requests x {rounds}", reqs.len());
        }
        "decide-split" => {
            let (set, ents, reqs) = load(&policies, &entities, &requests, &schema);
            let mut d = Decision::new(&set);
            let class: Vec<bool> = reqs
                .iter()
                .map(|r| forbid_denied_reason(&set.decide(r, &ents)))
                .collect();
            for _ in 0..rounds {
                for (r, &f) in reqs.iter().zip(&class) {
                    if f {
                        forbid_denied(&set, black_box(r), &ents, &mut d);
                    } else {
                        others(&set, black_box(r), &ents, &mut d);
                    }
                    black_box(d.outcome());
                }
            }
            let n = class.iter().filter(|f| **f).count();
            eprintln!(
                "decided {} requests x {rounds} ({n} forbid-denied)",
                reqs.len()
            );
        }
        "time" => {
            let (set, ents, reqs) = load(&policies, &entities, &requests, &schema);
            let mut all = Vec::new();
            let mut by = [Vec::new(), Vec::new()];
            for _ in 0..rounds {
                for r in &reqs {
                    let t = std::time::Instant::now();
                    let d = set.decide(black_box(r), &ents);
                    black_box(d.outcome());
                    let e = t.elapsed().as_nanos() as u64;
                    all.push(e);
                    let f = forbid_denied_reason(&d);
                    by[usize::from(f)].push(e);
                }
            }
            let pct = |v: &mut Vec<u64>, p: f64| {
                v.sort_unstable();
                v.get(((v.len() as f64) * p) as usize).copied().unwrap_or(0)
            };
            let (mut a, [mut pp, mut ff]) = (all, by);
            println!(
                "all p50 {} p90 {} | forbid-denied n={} p50 {} p90 {} | others n={} p50 {} p90 {}",
                pct(&mut a, 0.5),
                pct(&mut a, 0.9),
                ff.len(),
                pct(&mut ff, 0.5),
                pct(&mut ff, 0.9),
                pp.len(),
                pct(&mut pp, 0.5),
                pct(&mut pp, 0.9)
            );
        }
        _ => panic!("unknown phase `{phase}`"),
    }
}

/// Whether a forbid decided `d`.
fn forbid_denied_reason(d: &Decision<'_>) -> bool {
    matches!(
        d.reason(),
        mesh_core::policy::Reason::ForbidMatched | mesh_core::policy::Reason::ForbidErrored
    )
}

/// A decision a forbid denies (its own symbol for `--toggle-collect`).
#[inline(never)]
fn forbid_denied<'p>(set: &'p PolicySet, r: &Request, ents: &Entities, d: &mut Decision<'p>) {
    black_box(1u8);
    set.decide_into(r, ents, d);
}

/// Any other decision (its own symbol for `--toggle-collect`).
#[inline(never)]
fn others<'p>(set: &'p PolicySet, r: &Request, ents: &Entities, d: &mut Decision<'p>) {
    black_box(2u8);
    set.decide_into(r, ents, d);
}
