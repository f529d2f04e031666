//! Sans-IO JWKS refresh: the host fetches, mesh says when.
//!
//! The schedule refreshes after a TTL, and early when a token names an
//! unknown `kid` — but at most once per cooldown, so forged `kid`s cannot
//! force a storm of fetches. A failed or unusable fetch never replaces the
//! last good keys: the host simply keeps the key set it has.

use std::time::Duration;

use super::jwk::KeySet;
use super::IdentityError;
use crate::Timestamp;

/// When to refresh one issuer's JWKS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Refresh this long after the last successful fetch (1 h by default).
    pub ttl: Duration,
    /// At most one unknown-`kid` triggered fetch per this interval (5 min by default).
    pub unknown_kid_cooldown: Duration,
    /// Retry this long after a failed fetch (30 s by default).
    pub retry_after_failure: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            ttl: Duration::from_secs(3600),
            unknown_kid_cooldown: Duration::from_secs(300),
            retry_after_failure: Duration::from_secs(30),
        }
    }
}

/// The refresh state of one JWKS; pure bookkeeping, no I/O, no clock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwksRefresh {
    policy: RefreshPolicy,
    last_success: Option<Timestamp>,
    last_failure: Option<Timestamp>,
    last_forced: Option<Timestamp>,
}

impl JwksRefresh {
    /// A schedule with `policy`; the first fetch is due at once.
    pub fn new(policy: RefreshPolicy) -> Self {
        JwksRefresh {
            policy,
            ..JwksRefresh::default()
        }
    }

    /// The policy.
    pub fn policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    /// When the next scheduled fetch is due (`EPOCH`: now).
    pub fn next_due(&self) -> Timestamp {
        match (self.last_success, self.last_failure) {
            (None, None) => Timestamp::EPOCH,
            (Some(ok), fail) if fail.is_none_or(|f| f <= ok) => ok.saturating_add(self.policy.ttl),
            (_, Some(fail)) => fail.saturating_add(self.policy.retry_after_failure),
            (Some(ok), None) => ok.saturating_add(self.policy.ttl),
        }
    }

    /// Whether the host should fetch now on schedule.
    pub fn is_due(&self, now: Timestamp) -> bool {
        now >= self.next_due()
    }

    /// A token named a `kid` the key set lacks: returns `true` when the host
    /// should fetch now, at most once per cooldown.
    pub fn on_unknown_kid(&mut self, now: Timestamp) -> bool {
        let cooled = self
            .last_forced
            .is_none_or(|t| now >= t.saturating_add(self.policy.unknown_kid_cooldown));
        if cooled {
            self.last_forced = Some(now);
        }
        cooled
    }

    /// The host fetched `document` at `now`. Returns the new key set to
    /// install; on error (malformed document, or no usable key) the host
    /// keeps its last good keys and the failure is scheduled for retry.
    pub fn on_fetched(&mut self, now: Timestamp, document: &[u8]) -> Result<KeySet, IdentityError> {
        match KeySet::from_jwks(document) {
            Ok(set) if !set.is_empty() => {
                self.last_success = Some(now);
                Ok(set)
            }
            Ok(set) => {
                self.last_failure = Some(now);
                Err(match set.rejected().first() {
                    Some((_, e)) => e.clone(),
                    None => IdentityError::malformed("jwks", "no usable key"),
                })
            }
            Err(e) => {
                self.last_failure = Some(now);
                Err(e)
            }
        }
    }

    /// The host's fetch failed at `now` (network, HTTP status).
    pub fn on_fetch_failed(&mut self, now: Timestamp) {
        self.last_failure = Some(now);
    }

    /// When the keys were last fetched successfully.
    pub fn last_success(&self) -> Option<Timestamp> {
        self.last_success
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const DOC: &[u8] =
        br#"{"keys":[{"kty":"oct","kid":"a","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    #[test]
    fn ttl_and_retry_schedule() {
        let mut r = JwksRefresh::new(RefreshPolicy::default());
        assert!(r.is_due(t(0)));
        assert!(r.on_fetched(t(10), DOC).is_ok());
        assert!(!r.is_due(t(11)));
        assert!(r.is_due(t(3610)));
        r.on_fetch_failed(t(3610));
        assert!(!r.is_due(t(3620)));
        assert!(r.is_due(t(3640)));
    }

    #[test]
    fn unknown_kid_has_a_cooldown() {
        let mut r = JwksRefresh::new(RefreshPolicy::default());
        assert!(r.on_unknown_kid(t(100)));
        assert!(!r.on_unknown_kid(t(101)));
        assert!(!r.on_unknown_kid(t(399)));
        assert!(r.on_unknown_kid(t(400)));
    }

    #[test]
    fn bad_document_keeps_last_good() {
        let mut r = JwksRefresh::new(RefreshPolicy::default());
        let good = r.on_fetched(t(0), DOC).unwrap();
        assert!(r.on_fetched(t(3600), b"{oops").is_err());
        assert!(r.on_fetched(t(3700), br#"{"keys":[]}"#).is_err());
        assert_eq!(r.last_success(), Some(t(0)));
        assert!(good.contains_kid("a"));
    }
}
