//! Decisions: the outcome, the policies that determined it, the errors met
//! on the way, obligations and advice. Built without heap allocation in the
//! common case (small inline lists).

use std::fmt;
use std::time::Duration;

use super::ast::{Effect, PolicyId};
use super::eval::EvalError;
use super::policy_set::PolicySet;

/// How a policy whose condition fails to evaluate is treated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ErrorMode {
    /// mesh's default: an erroring `forbid` counts as matching (the request
    /// is denied), an erroring `permit` does not apply.
    #[default]
    FailClosed,
    /// Cedar's behaviour: every erroring policy is skipped (an erroring
    /// `forbid` does not deny). Use for comparison with Cedar only.
    SkipOnError,
}

/// An obligation the enforcement point must meet before access is granted,
/// declared on a `permit` with annotations:
///
/// - `@obligation("mfa")`: the identity's authentication methods (`amr`)
///   must include `mfa` (any method name works: `hwk`, `otp`…);
/// - `@max_auth_age("15m")`: the identity must have authenticated at most
///   this long before `now` (units `ms`, `s`, `m`, `h`, `d`, combinable as
///   `1h30m`). Alone, it is the obligation `reauthenticate`.
///
/// A satisfied permit whose obligation the request's authentication context
/// does not meet yields [`Outcome::Challenge`] instead of `Allow`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obligation {
    pub(crate) name: std::sync::Arc<str>,
    pub(crate) method: bool,
    pub(crate) max_age: Option<Duration>,
}

impl Obligation {
    /// The obligation's name (`mfa`, or `reauthenticate` for a bare
    /// `@max_auth_age`).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The longest time since authentication accepted, if any.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }
}

/// The outcome of a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'p> {
    /// Access is granted.
    Allow,
    /// Access is denied (a forbid applied, or no permit did).
    Deny,
    /// Access will be granted once the obligation is met (e.g. step-up MFA).
    Challenge {
        /// What the enforcement point must obtain.
        obligation: &'p Obligation,
    },
}

/// Why the outcome is what it is (the cheap, always-on explanation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// At least one permit applied and no forbid did.
    Permitted,
    /// A forbid's condition was true.
    ForbidMatched,
    /// No forbid's condition was true, but one failed to evaluate and
    /// counts as matching (fail closed).
    ForbidErrored,
    /// Permits applied but each needs an obligation the request lacks.
    ObligationUnmet,
    /// No permit applied (deny by default).
    NoPermit,
}

impl Reason {
    /// Stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Permitted => "permitted",
            Reason::ForbidMatched => "forbid_matched",
            Reason::ForbidErrored => "forbid_errored",
            Reason::ObligationUnmet => "obligation_unmet",
            Reason::NoPermit => "no_permit",
        }
    }
}

/// A list that keeps its first `N` items inline and spills to the heap.
#[derive(Clone, Debug)]
pub(crate) struct SmallList<T: Copy, const N: usize> {
    len: usize,
    inline: [T; N],
    spill: Vec<T>,
}

impl<T: Copy, const N: usize> SmallList<T, N> {
    pub(crate) fn new(fill: T) -> Self {
        SmallList {
            len: 0,
            inline: [fill; N],
            spill: Vec::new(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }

    pub(crate) fn push(&mut self, v: T) {
        if self.len < N && self.spill.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = v;
            }
            self.len += 1;
        } else {
            if self.spill.is_empty() {
                self.spill
                    .extend_from_slice(self.inline.get(..self.len).unwrap_or(&[]));
            }
            self.spill.push(v);
            self.len += 1;
        }
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        if self.spill.is_empty() {
            self.inline.get(..self.len).unwrap_or(&[])
        } else {
            &self.spill
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        if self.spill.is_empty() {
            self.inline.get_mut(..self.len).unwrap_or(&mut [])
        } else {
            &mut self.spill
        }
    }
}

/// An evaluation error of one policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyEvalError<'p> {
    /// The policy whose condition failed.
    pub policy: &'p PolicyId,
    /// What went wrong.
    pub error: EvalError<'p>,
}

impl fmt::Display for PolicyEvalError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy `{}`: {}", self.policy, self.error)
    }
}

/// The result of [`PolicySet::decide`]: data, never an error.
///
/// Borrows the policy set it came from (ids, obligations and advice are
/// not copied).
#[derive(Clone, Debug)]
pub struct Decision<'p> {
    pub(crate) set: &'p PolicySet,
    pub(crate) outcome: Outcome<'p>,
    pub(crate) reason: Reason,
    pub(crate) determining: SmallList<u32, 8>,
    pub(crate) errors: SmallList<(u32, EvalError<'p>), 4>,
}

impl<'p> Decision<'p> {
    /// An empty (deny) decision for `set`, to be filled by
    /// [`PolicySet::decide_into`].
    pub fn new(set: &'p PolicySet) -> Self {
        Decision {
            set,
            outcome: Outcome::Deny,
            reason: Reason::NoPermit,
            determining: SmallList::new(0),
            errors: SmallList::new((
                0,
                EvalError::UnknownEntity {
                    span: Default::default(),
                },
            )),
        }
    }

    pub(crate) fn reset(&mut self) {
        self.outcome = Outcome::Deny;
        self.reason = Reason::NoPermit;
        self.determining.clear();
        self.errors.clear();
    }

    /// Allow, Deny or Challenge.
    pub fn outcome(&self) -> Outcome<'p> {
        self.outcome
    }

    /// Whether access is granted now.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    /// Why: permitted, forbid matched or errored, obligation unmet, no permit.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The policies that determined the outcome, in policy-set order: the
    /// applying forbids for a Deny, the applying permits for an Allow, the
    /// permits needing the obligation for a Challenge; none for a default deny.
    pub fn determining(&self) -> impl Iterator<Item = &'p PolicyId> + '_ {
        let set = self.set;
        self.determining
            .as_slice()
            .iter()
            .filter_map(move |&i| set.policy_at(i).map(|p| &p.id))
    }

    /// The evaluation errors met (policy and error), in policy-set order.
    pub fn errors(&self) -> impl Iterator<Item = PolicyEvalError<'p>> + '_ {
        let set = self.set;
        self.errors
            .as_slice()
            .iter()
            .filter_map(move |&(i, error)| {
                set.policy_at(i).map(|p| PolicyEvalError {
                    policy: &p.id,
                    error,
                })
            })
    }

    /// The `@advice("…")` texts of the determining policies.
    pub fn advice(&self) -> impl Iterator<Item = &'p str> + '_ {
        let set = self.set;
        self.determining
            .as_slice()
            .iter()
            .filter_map(move |&i| set.advice_at(i))
    }

    /// The effect of the policies that determined the outcome, if any.
    pub fn determining_effect(&self) -> Option<Effect> {
        match self.reason {
            Reason::ForbidMatched | Reason::ForbidErrored => Some(Effect::Forbid),
            Reason::Permitted | Reason::ObligationUnmet => Some(Effect::Permit),
            Reason::NoPermit => None,
        }
    }
}

impl fmt::Display for Decision<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outcome {
            Outcome::Allow => f.write_str("allow")?,
            Outcome::Deny => f.write_str("deny")?,
            Outcome::Challenge { obligation } => write!(f, "challenge ({})", obligation.name())?,
        }
        write!(f, " [{}]", self.reason.as_str())?;
        let mut first = true;
        for id in self.determining() {
            f.write_str(if first { " by " } else { ", " })?;
            write!(f, "{id}")?;
            first = false;
        }
        for e in self.errors() {
            write!(f, "; error in {e}")?;
        }
        Ok(())
    }
}

/// Parses `15m`, `30s`, `1h30m`, `500ms`, `2d`.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return None;
        }
        let n: u64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let (mult, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('d') {
            (86_400_000, 1)
        } else {
            return None;
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
        rest = rest.get(len..)?;
    }
    Some(Duration::from_millis(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        for bad in ["", "m", "15", "15x", "1.5h", "-1m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn small_list_spills() {
        let mut l: SmallList<u32, 2> = SmallList::new(0);
        for i in 0..5 {
            l.push(i);
        }
        assert_eq!(l.as_slice(), &[0, 1, 2, 3, 4]);
        l.clear();
        l.push(9);
        assert_eq!(l.as_slice(), &[9]);
    }
}
