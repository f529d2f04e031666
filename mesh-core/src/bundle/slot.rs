//! The active bundle of a process, swapped atomically.

use arc_swap::{ArcSwap, Guard};
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Bundle, BundleError, KeyId, TrustedKeys, VerifiedBundle};
use crate::Timestamp;

/// The content a [`BundleSlot`] serves, with the bundle facts it came from.
#[derive(Debug)]
pub struct Active<T> {
    revision: u64,
    created_at: Timestamp,
    manifest_digest: Option<String>,
    signed_by: Vec<KeyId>,
    value: T,
}

impl<T> Active<T> {
    /// Content that did not come from a bundle (e.g. inline configuration):
    /// revision 0, so any signed bundle with revision ≥ 1 may replace it.
    pub fn unbundled(value: T) -> Active<T> {
        Active {
            revision: 0,
            created_at: Timestamp::EPOCH,
            manifest_digest: None,
            signed_by: Vec::new(),
            value,
        }
    }

    /// The bundle revision (0 when not from a bundle).
    pub fn revision(&self) -> u64 {
        self.revision
    }
    /// When the bundle was built.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// The hex SHA-256 of the bundle manifest, when from a bundle.
    pub fn manifest_digest(&self) -> Option<&str> {
        self.manifest_digest.as_deref()
    }
    /// The trusted keys that signed the bundle.
    pub fn signed_by(&self) -> &[KeyId] {
        &self.signed_by
    }
    /// The compiled content.
    pub fn value(&self) -> &T {
        &self.value
    }
}

/// A consistent view of the active content, held for the length of one
/// decision: a swap during the decision does not change what it sees.
pub struct Snapshot<T>(Guard<Arc<Active<T>>>);

impl<T> Deref for Snapshot<T> {
    type Target = Active<T>;
    fn deref(&self) -> &Active<T> {
        &self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.0, f)
    }
}

/// Replaced contents kept for the activating side to free, at most.
const MAX_RETIRED: usize = 8;

/// Holds the active compiled bundle and swaps in newer ones atomically.
///
/// Readers ([`BundleSlot::load`]) never block and never wait for an
/// activation; an activation verifies and compiles the new bundle aside, then
/// publishes it with one atomic pointer swap. Every reader sees either the
/// old or the new content, never a mix. On any failure the active content is
/// left untouched.
///
/// A replaced content is retired, not dropped: the slot keeps it until no
/// reader holds it any more and frees it on a later activation or
/// [`BundleSlot::reclaim`], so freeing a large compiled set never falls to
/// a reader in the middle of a decision (up to 8 retired contents are kept;
/// beyond that the oldest is released to its last reader).
pub struct BundleSlot<T> {
    current: ArcSwap<Active<T>>,
    retired: Mutex<Vec<Arc<Active<T>>>>,
}

impl<T: fmt::Debug> fmt::Debug for BundleSlot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundleSlot")
            .field("revision", &self.current.load().revision)
            .finish()
    }
}

impl<T> BundleSlot<T> {
    /// A slot serving `initial`.
    pub fn new(initial: Active<T>) -> BundleSlot<T> {
        BundleSlot {
            current: ArcSwap::from_pointee(initial),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// Frees the retired contents no reader holds any more; returns how
    /// many are still held by readers. Activations call this too.
    pub fn reclaim(&self) -> usize {
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        // Swaps have paid every reader's debt on a retired content, so its
        // strong count includes every reader still holding it.
        retired.retain(|a| Arc::strong_count(a) > 1);
        retired.len()
    }

    fn retire(&self, old: Arc<Active<T>>) {
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        retired.retain(|a| Arc::strong_count(a) > 1);
        if retired.len() >= MAX_RETIRED {
            retired.remove(0);
        }
        retired.push(old);
    }

    /// The active content (lock-free; cheap enough for every decision).
    pub fn load(&self) -> Snapshot<T> {
        Snapshot(self.current.load())
    }

    /// The active revision.
    pub fn revision(&self) -> u64 {
        self.current.load().revision
    }

    /// Refuses `revision` unless it is newer than the active one.
    pub fn check_revision(&self, revision: u64) -> Result<(), BundleError> {
        check_newer(revision, self.revision())
    }

    /// Parses, verifies, compiles and activates a bundle.
    ///
    /// In order: strict parse; a trusted signature and every digest
    /// ([`Bundle::verify`]); revision newer than the active one
    /// ([`BundleError::Rollback`] if older, [`BundleError::Replay`] if equal);
    /// `compile` (its error becomes [`BundleError::Activation`]); then an
    /// atomic swap, re-checking the revision against a concurrent activation.
    pub fn activate<E: fmt::Display>(
        &self,
        bytes: &[u8],
        trust: &TrustedKeys,
        compile: impl FnOnce(&VerifiedBundle) -> Result<T, E>,
    ) -> Result<Arc<Active<T>>, BundleError> {
        let verified = Bundle::parse(bytes)?.verify(trust)?;
        self.activate_verified(&verified, compile)
    }

    /// Compiles and activates an already verified bundle (revision rules and
    /// atomicity as in [`BundleSlot::activate`]).
    pub fn activate_verified<E: fmt::Display>(
        &self,
        verified: &VerifiedBundle,
        compile: impl FnOnce(&VerifiedBundle) -> Result<T, E>,
    ) -> Result<Arc<Active<T>>, BundleError> {
        let revision = verified.revision();
        self.check_revision(revision)?;
        self.reclaim();
        let value = compile(verified).map_err(|e| BundleError::Activation {
            revision,
            reason: e.to_string(),
        })?;
        let manifest = verified.bundle().manifest();
        let new = Arc::new(Active {
            revision,
            created_at: manifest.created_at(),
            manifest_digest: Some(manifest.digest_hex()),
            signed_by: verified.signed_by().to_vec(),
            value,
        });
        loop {
            let cur = self.current.load_full();
            check_newer(revision, cur.revision)?;
            let prev = self.current.compare_and_swap(&cur, Arc::clone(&new));
            if Arc::ptr_eq(&prev, &cur) {
                drop(prev);
                self.retire(cur);
                return Ok(new);
            }
        }
    }
}

fn check_newer(revision: u64, active: u64) -> Result<(), BundleError> {
    match revision.cmp(&active) {
        std::cmp::Ordering::Greater => Ok(()),
        std::cmp::Ordering::Equal => Err(BundleError::Replay { revision }),
        std::cmp::Ordering::Less => Err(BundleError::Rollback { revision, active }),
    }
}
