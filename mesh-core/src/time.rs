//! Time as mesh sees it: passed in by the host, never read from a clock.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A point in time: milliseconds since the Unix epoch (UTC).
///
/// `mesh-core` never reads a clock. Every call that needs the current time
/// takes a `now: Timestamp` from the host, so behaviour is deterministic and
/// tests can set any time they like.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const EPOCH: Timestamp = Timestamp(0);
    /// The latest representable instant.
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// A timestamp from milliseconds since the epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// A timestamp from whole seconds since the epoch (saturating).
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Timestamp(seconds.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded towards negative infinity.
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant plus `d`, saturating at the representable range.
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// This instant minus `d`, saturating at the representable range.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(ms))
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        let diff = self.0.saturating_sub(earlier.0);
        Duration::from_millis(u64::try_from(diff).unwrap_or(0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_down_and_saturate() {
        assert_eq!(Timestamp::from_unix_millis(-1).unix_seconds(), -1);
        assert_eq!(Timestamp::from_unix_millis(1999).unix_seconds(), 1);
        assert_eq!(Timestamp::from_unix_seconds(i64::MAX), Timestamp::MAX);
        assert_eq!(
            Timestamp::MAX.saturating_add(Duration::from_secs(1)),
            Timestamp::MAX
        );
    }

    #[test]
    fn duration_since_never_negative() {
        let a = Timestamp::from_unix_seconds(10);
        let b = Timestamp::from_unix_seconds(12);
        assert_eq!(b.duration_since(a), Duration::from_secs(2));
        assert_eq!(a.duration_since(b), Duration::ZERO);
    }
}
