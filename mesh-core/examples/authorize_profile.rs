//! Instruction-count probe for `Mesh::authorize` on the 1,000-policy
//! reference workload: run under
//! `valgrind --tool=callgrind --toggle-collect='*probe_*'` and divide each
//! probe's instructions by its iteration count (printed).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

#[path = "../benches/support/authorize_setup.rs"]
mod authorize_setup;
#[path = "../tests/common/mod.rs"]
mod common;

use authorize_setup::{bundle, mesh, setup, Setup};
use common::NOW;
use mesh_core::policy::{IdentityMapping, Request};
use mesh_core::{Credential, Identity, Mesh, Timestamp};
use std::hint::black_box;

const ITERS: usize = 2_000;

#[inline(never)]
fn probe_authorize(m: &Mesh, s: &Setup, now: Timestamp) {
    for _ in 0..ITERS {
        black_box(m.authorize(
            Credential::Bearer(black_box(&s.token)),
            &s.action,
            &s.resource,
            s.context.clone(),
            now,
        ));
    }
}

#[inline(never)]
fn probe_verify(m: &Mesh, s: &Setup, now: Timestamp) {
    for _ in 0..ITERS {
        black_box(
            m.verify(Credential::Bearer(black_box(&s.token)), now)
                .unwrap(),
        );
    }
}

#[inline(never)]
fn probe_request_and_decide(m: &Mesh, s: &Setup, identity: &Identity, now: Timestamp) {
    let content = m.content();
    let pc = content.value();
    let mapping = IdentityMapping::default();
    for _ in 0..ITERS {
        let r = Request::from_identity(
            identity,
            &mapping,
            s.action.clone(),
            s.resource.clone(),
            s.context.clone(),
            &pc.entities,
            now,
        );
        black_box(pc.policies.decide(&r, &pc.entities).is_allowed());
    }
}

#[inline(never)]
fn probe_activate(m: &Mesh, bundle: &[u8]) {
    black_box(m.activate_bundle(bundle).unwrap());
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let s = setup();
    let now = Timestamp::from_unix_seconds(NOW);
    let uncached = mesh(&s, 0);
    let cached = mesh(&s, 1_000);
    println!("iterations per probe: {ITERS}");
    if what.is_empty() || what == "uncached" {
        probe_authorize(&uncached, &s, now);
        probe_verify(&uncached, &s, now);
        let identity = uncached.verify(Credential::Bearer(&s.token), now).unwrap();
        probe_request_and_decide(&uncached, &s, &identity, now);
    }
    if what == "bundle" {
        let m = mesh(&s, 0);
        probe_activate(&m, &bundle(&s, 1));
        return;
    }
    if what.is_empty() || what == "cached" {
        probe_authorize(&cached, &s, now);
    }
}
