//! The reference workload parses completely and decides sensibly; indexed
//! decisions equal a brute-force scan of every policy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use mesh_core::policy::{Outcome, PolicySet, Reason};

#[test]
fn workload_parses_and_decides() {
    for n in [100, 1000] {
        let wl = common::load(n);
        assert_eq!(
            wl.policies.len(),
            n + 1,
            "the generator adds an `owner` policy"
        );
        assert_eq!(wl.entities.len(), 1350);
        assert_eq!(wl.requests.len(), 1000);
        let (mut allow, mut deny) = (0, 0);
        for r in &wl.requests {
            let d = wl.policies.decide(r, &wl.entities);
            assert_eq!(d.errors().count(), 0, "{d}");
            match d.outcome() {
                Outcome::Allow => {
                    allow += 1;
                    assert_eq!(d.reason(), Reason::Permitted);
                    assert!(d.determining().count() > 0);
                }
                Outcome::Deny => deny += 1,
                Outcome::Challenge { .. } => panic!("no obligations in the workload"),
            }
        }
        assert!(allow > 0 && deny > 0, "n={n} allow={allow} deny={deny}");
    }
}

/// A set with each policy alone decides like the indexed whole: the index
/// never hides an applicable policy.
#[test]
fn index_finds_every_applicable_policy() {
    let wl = common::load(100);
    let singles: Vec<PolicySet> = wl
        .policies
        .policies()
        .iter()
        .map(|p| PolicySet::from_policies(vec![p.clone()]).unwrap())
        .collect();
    for r in wl.requests.iter().take(300) {
        let d = wl.policies.decide(r, &wl.entities);
        let mut forbids = Vec::new();
        let mut permits = Vec::new();
        for s in &singles {
            let one = s.decide(r, &wl.entities);
            let id = s.policies()[0].id.clone();
            match (one.outcome(), one.reason()) {
                (Outcome::Deny, Reason::ForbidMatched | Reason::ForbidErrored) => forbids.push(id),
                (Outcome::Allow, _) => permits.push(id),
                _ => {}
            }
        }
        let got: Vec<_> = d.determining().cloned().collect();
        if !forbids.is_empty() {
            assert_eq!(d.outcome(), Outcome::Deny);
            assert_eq!(got, forbids);
        } else if !permits.is_empty() {
            assert_eq!(d.outcome(), Outcome::Allow);
            assert_eq!(got, permits);
        } else {
            assert_eq!(d.outcome(), Outcome::Deny);
            assert!(got.is_empty());
        }
    }
}
