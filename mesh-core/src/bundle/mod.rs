//! Signed policy bundles: policies, schema, entity data and posture rules
//! packed with a manifest, signed with Ed25519, and activated atomically.
//!
//! A security team builds a bundle in CI ([`BundleBuilder`]), signs it
//! ([`Bundle::sign`], `mesh bundle sign`) and ships the bytes over any
//! transport. Each process checks it against the keys it trusts
//! ([`Bundle::verify`]) and swaps it in ([`BundleSlot::activate`]) only when
//! its revision is newer than the active one; decisions in flight finish on
//! the content they started with.
//!
//! ```
//! use mesh_core::bundle::{Active, Bundle, BundleBuilder, BundleSlot, SigningKey, TrustedKeys};
//! use mesh_core::Timestamp;
//! # let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
//! let key = SigningKey::from_pkcs8(pkcs8.as_ref())?;
//! let mut bundle = BundleBuilder::new(7, Timestamp::from_unix_seconds(1_700_000_000))
//!     .part("policies/main.cedar", "permit(principal, action, resource);")?
//!     .build()?;
//! bundle.sign(&key)?;
//! let bytes = bundle.to_bytes();
//!
//! let trust: TrustedKeys = [key.verifying_key().clone()].into_iter().collect();
//! let slot = BundleSlot::new(Active::unbundled(0usize));
//! slot.activate(&bytes, &trust, |b| {
//!     Ok::<_, String>(b.bundle().parts().count())
//! })?;
//! assert_eq!(slot.load().revision(), 7);
//! // The same bundle again is a replay and is refused; the active one stays.
//! assert!(slot.activate(&bytes, &trust, |_| Ok::<_, String>(0)).is_err());
//! assert_eq!(*slot.load().value(), 1);
//! # Ok::<(), mesh_core::bundle::BundleError>(())
//! ```

mod error;
mod format;
mod keys;
mod slot;

pub use error::{BundleError, BundleErrorKind};
pub use format::{
    validate_part_name, Bundle, BundleBuilder, BundleSignature, Manifest, PartDigest, PartKind,
    VerifiedBundle, FORMAT_VERSION, MAGIC, MAX_BUNDLE_BYTES, MAX_PARTS, MAX_PART_BYTES,
    MAX_PART_NAME, MAX_SIGNATURES,
};
pub use keys::{hex, KeyId, SigningKey, TrustedKeys, VerifyingKey, PUBLIC_KEY_LEN, SIGNATURE_LEN};
pub use slot::{Active, BundleSlot, Snapshot};
