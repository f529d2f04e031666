#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Bundle format, verification, rollback/replay refusal and atomic swap.

use mesh_core::bundle::*;
use mesh_core::Timestamp;
use proptest::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

fn key() -> SigningKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    SigningKey::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn signed(rev: u64, k: &SigningKey) -> Vec<u8> {
    let mut b = BundleBuilder::new(rev, Timestamp::from_unix_seconds(1_700_000_000))
        .part(
            "policies/a.cedar",
            format!("// rev {rev}\npermit(principal, action, resource);"),
        )
        .unwrap()
        .part("entities/e.json", "[]")
        .unwrap()
        .part("schema/s.cedarschema", "")
        .unwrap()
        .build()
        .unwrap();
    b.sign(k).unwrap();
    b.to_bytes()
}

fn trust(k: &SigningKey) -> TrustedKeys {
    [k.verifying_key().clone()].into_iter().collect()
}

fn kind(r: Result<impl std::fmt::Debug, BundleError>) -> BundleErrorKind {
    r.unwrap_err().kind()
}

#[test]
fn round_trip_is_deterministic() {
    let k = key();
    let a = signed(3, &k);
    let b = signed(3, &k);
    assert_eq!(a, b);
    let parsed = Bundle::parse(&a).unwrap();
    assert_eq!(parsed.to_bytes(), a);
    assert_eq!(parsed.revision(), 3);
    assert_eq!(parsed.parts().count(), 3);
    assert_eq!(parsed.part("entities/e.json"), Some(&b"[]"[..]));
    assert_eq!(parsed.parts_of(PartKind::Policies).count(), 1);
    let v = parsed.verify(&trust(&k)).unwrap();
    assert_eq!(v.signed_by(), &[k.key_id().clone()]);
}

#[test]
fn tampered_part_is_a_digest_mismatch() {
    let k = key();
    let mut bytes = signed(1, &k);
    let pos = bytes.windows(6).position(|w| w == b"permit").unwrap();
    bytes[pos] = b'P';
    let b = Bundle::parse(&bytes).unwrap();
    let e = b.verify(&trust(&k)).unwrap_err();
    assert_eq!(e.kind(), BundleErrorKind::DigestMismatch);
    assert!(e.to_string().contains("`policies/a.cedar`"), "{e}");
}

#[test]
fn tampered_manifest_is_a_bad_signature() {
    let k = key();
    let mut bytes = signed(1, &k);
    // The revision's last byte: magic(8) version(2) len(4) domain(21) version(2) + 7.
    let at = 8 + 2 + 4 + 21 + 2 + 7;
    bytes[at] = 9;
    let b = Bundle::parse(&bytes).unwrap();
    assert_eq!(b.revision(), 9);
    assert_eq!(kind(b.verify(&trust(&k))), BundleErrorKind::BadSignature);
}

#[test]
fn wrong_key_and_unsigned_are_refused_distinctly() {
    let k = key();
    let other = key();
    let bytes = signed(1, &k);
    let e = Bundle::parse(&bytes)
        .unwrap()
        .verify(&trust(&other))
        .unwrap_err();
    assert_eq!(e.kind(), BundleErrorKind::UntrustedKey);
    assert!(e.to_string().contains(k.key_id().as_str()));
    let unsigned = BundleBuilder::new(1, Timestamp::EPOCH).build().unwrap();
    let re = Bundle::parse(&unsigned.to_bytes()).unwrap();
    assert_eq!(kind(re.verify(&trust(&k))), BundleErrorKind::Unsigned);
    // A signature presented under another (trusted) key does not verify.
    let mut forged = bytes.clone();
    let n = forged.len();
    forged[n - 96..n - 64].copy_from_slice(other.verifying_key().as_bytes());
    let f = Bundle::parse(&forged).unwrap();
    assert_eq!(
        kind(f.verify(&trust(&other))),
        BundleErrorKind::BadSignature
    );
}

#[test]
fn strict_parsing() {
    let k = key();
    let bytes = signed(1, &k);
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        kind(Bundle::parse(&trailing)),
        BundleErrorKind::TrailingData
    );
    let mut version = bytes.clone();
    version[9] = 2;
    assert_eq!(
        kind(Bundle::parse(&version)),
        BundleErrorKind::UnsupportedVersion
    );
    assert_eq!(kind(Bundle::parse(b"NOTABNDL")), BundleErrorKind::BadMagic);
    assert_eq!(
        kind(Bundle::parse(&bytes[..bytes.len() - 1])),
        BundleErrorKind::Truncated
    );
    let mut b = BundleBuilder::new(1, Timestamp::EPOCH);
    b.part("policies/a.cedar", "x").unwrap();
    assert_eq!(
        b.part("policies/a.cedar", "y").unwrap_err().kind(),
        BundleErrorKind::DuplicatePart
    );
    for bad in [
        "",
        "policies",
        "policies/",
        "other/x",
        "policies/../x",
        "policies/a b",
    ] {
        assert_eq!(
            validate_part_name(bad).unwrap_err().kind(),
            BundleErrorKind::InvalidPartName,
            "{bad}"
        );
    }
}

#[test]
fn duplicate_part_in_container_is_refused() {
    let mut b = BundleBuilder::new(1, Timestamp::EPOCH);
    b.part("policies/a", "x")
        .unwrap()
        .part("policies/b", "x")
        .unwrap();
    let mut bytes = b.build().unwrap().to_bytes();
    // Rename `policies/b` to `policies/a` everywhere (manifest and parts).
    for i in 0..bytes.len() - 10 {
        if &bytes[i..i + 10] == b"policies/b" {
            bytes[i + 9] = b'a';
        }
    }
    assert_eq!(kind(Bundle::parse(&bytes)), BundleErrorKind::DuplicatePart);
}

#[test]
fn rollback_and_replay_are_refused_and_last_good_stays() {
    let k = key();
    let t = trust(&k);
    let slot = BundleSlot::new(Active::unbundled(0u64));
    let compile = |v: &VerifiedBundle| Ok::<_, String>(v.revision() * 10);
    slot.activate(&signed(5, &k), &t, compile).unwrap();
    assert_eq!(slot.revision(), 5);
    assert_eq!(
        kind(slot.activate(&signed(5, &k), &t, compile)),
        BundleErrorKind::Replay
    );
    assert_eq!(
        kind(slot.activate(&signed(4, &k), &t, compile)),
        BundleErrorKind::Rollback
    );
    let e = slot
        .activate(&signed(6, &k), &t, |_| Err::<u64, _>("policy error at 1:1"))
        .unwrap_err();
    assert_eq!(e.kind(), BundleErrorKind::Activation);
    assert!(e.to_string().contains("1:1"));
    assert_eq!(
        kind(slot.activate(&signed(7, &key()), &t, compile)),
        BundleErrorKind::UntrustedKey
    );
    assert_eq!(slot.revision(), 5);
    assert_eq!(*slot.load().value(), 50);
    assert!(slot.load().manifest_digest().is_some());
    slot.activate(&signed(6, &k), &t, compile).unwrap();
    assert_eq!(*slot.load().value(), 60);
}

/// Each revision's content is a vector whose every element equals the
/// revision: a reader that saw a mix would find two different values.
#[test]
fn swap_under_load_is_atomic() {
    let k = key();
    let t = trust(&k);
    let slot = Arc::new(BundleSlot::new(Active::unbundled(vec![0u64; 64])));
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let bundles: Vec<Vec<u8>> = (1..=200).map(|r| signed(r, &k)).collect();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (slot, stop, reads) = (slot.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    let snap = slot.load();
                    let rev = snap.revision();
                    assert!(snap.value().iter().all(|v| *v == rev), "mixed revisions");
                    assert!(rev >= last, "went back from {last} to {rev}");
                    last = rev;
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for b in &bundles {
        slot.activate(b, &t, |v| Ok::<_, String>(vec![v.revision(); 64]))
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(slot.revision(), 200);
    assert!(reads.load(Ordering::Relaxed) > 0);
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Bundle::parse(&bytes);
    }

    #[test]
    fn any_single_byte_flip_is_refused(pos in 0usize..10_000, bit in 0u8..8) {
        let k = key();
        let mut bytes = signed(1, &k);
        let pos = pos % bytes.len();
        bytes[pos] ^= 1 << bit;
        let res = Bundle::parse(&bytes).and_then(|b| b.verify(&trust(&k)));
        prop_assert!(res.is_err());
    }
}
