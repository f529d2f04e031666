//! The revocation sets and identities that the `identity_stores` bench
//! and `examples/idperf_probe` both check, built the same way in both.

use mesh_core::identity::{DevicePosture, RevocationSet};
use mesh_core::{Identity, IdentityKind, Timestamp};

/// A set of `tokens` revoked token ids plus `per_kind` subjects, sessions
/// and devices each (so `tokens + 3 * per_kind` entries), expiring at `exp`.
pub fn revocation_set(tokens: u64, per_kind: u64, exp: Timestamp) -> RevocationSet {
    let mut set = RevocationSet::new();
    set.reserve_tokens(usize::try_from(tokens).unwrap_or(0));
    for i in 0..tokens {
        set.revoke_token(&format!("{i:08x}-5a1e-4c3b-9f0d-1b2c3d4e5f60"), exp)
            .unwrap();
    }
    let before = Timestamp::from_unix_seconds(1_600_000_000);
    for i in 0..per_kind {
        set.revoke_subject(&format!("user{i}@example.com"), before, exp)
            .unwrap();
        set.revoke_session(&format!("sid-{i}"), exp).unwrap();
        set.revoke_device(&format!("dev-{i}"), before, exp).unwrap();
    }
    set
}

/// One identity none of those sets revokes: a token id, session, device
/// and an `email` claim, all checked.
pub fn checked_identity() -> mesh_core::identity::IdentityBuilder {
    let mut ok = Identity::builder("00u9xyz", "https://idp.example.com", IdentityKind::Human);
    ok.token_id = Some("ffffffff-5a1e-4c3b-9f0d-1b2c3d4e5f60".into());
    ok.session_id = Some("sid-not-revoked".into());
    ok.issued_at = Some(Timestamp::from_unix_seconds(1_699_999_000));
    ok.device = Some(DevicePosture {
        device_id: "dev-ok".into(),
        ..DevicePosture::default()
    });
    ok.claims
        .insert("email".into(), serde_json::json!("Bob@Example.com"));
    ok
}

/// The `i`-th of many distinct identities none of those sets revokes (as
/// [`checked_identity`], each with its own names).
pub fn unrevoked_identity(i: u64) -> Identity {
    let mut ok = Identity::builder(
        format!("00u{i}xyz"),
        "https://idp.example.com",
        IdentityKind::Human,
    );
    ok.token_id = Some(format!("{i:08x}-0000-4c3b-9f0d-1b2c3d4e5f60"));
    ok.session_id = Some(format!("sid-ok-{i}"));
    ok.issued_at = Some(Timestamp::from_unix_seconds(1_699_999_000));
    ok.device = Some(DevicePosture {
        device_id: format!("dev-ok-{i}"),
        ..DevicePosture::default()
    });
    ok.claims.insert(
        "email".into(),
        serde_json::json!(format!("Bob{i}@Example.com")),
    );
    ok.build()
}
