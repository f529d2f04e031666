//! The embedded Policy Decision Point: Cedar-compatible policies, compiled
//! and indexed, deciding `Allow`, `Deny` or `Challenge` with explanations.
//!
//! ```
//! use mesh_core::policy::{Entities, EntityUid, Outcome, PolicySet, Record, Request};
//!
//! let policies = PolicySet::parse(
//!     r#"@id("admins-read")
//!        permit(principal in Group::"admins", action == Action::"read", resource);"#,
//!     "policies.cedar",
//! )?;
//! let entities = Entities::from_json_str(
//!     r#"[{"uid": {"type": "User", "id": "alice"}, "attrs": {},
//!          "parents": [{"type": "Group", "id": "admins"}]}]"#,
//! )?;
//! let request = Request::new(
//!     EntityUid::parse(r#"User::"alice""#)?,
//!     EntityUid::parse(r#"Action::"read""#)?,
//!     EntityUid::parse(r#"Doc::"plan""#)?,
//!     Record::default(),
//! );
//! let decision = policies.decide(&request, &entities);
//! assert_eq!(decision.outcome(), Outcome::Allow);
//! assert_eq!(decision.to_string(), "allow [permitted] by admins-read");
//! # Ok::<(), mesh_core::policy::PolicyError>(())
//! ```
//!
//! A step-up obligation, and an explanation of a denial:
//!
//! ```
//! use mesh_core::identity::AuthContext;
//! use mesh_core::policy::{Entities, EntityUid, Outcome, PolicySet, Record, Request};
//! use mesh_core::Timestamp;
//!
//! let policies = PolicySet::parse(
//!     r#"@id("payments")
//!        @obligation("mfa") @max_auth_age("15m")
//!        @advice("payments need a recent MFA")
//!        permit(principal, action == Action::"pay", resource)
//!        when { context.amount < 10000 };"#,
//!     "policies.cedar",
//! )?;
//! let entities = Entities::new();
//! let now = Timestamp::from_unix_seconds(1_700_000_000);
//! let uid = |s: &str| EntityUid::parse(s);
//! let ctx = |amount: i64| {
//!     Record::new(vec![("amount".into(), amount.into())]).unwrap_or_default()
//! };
//! let password_only = AuthContext {
//!     auth_time: Some(Timestamp::from_unix_seconds(1_700_000_000 - 60)),
//!     methods: vec!["pwd".into()],
//!     acr: None,
//! };
//! let request = Request::new(uid(r#"User::"bob""#)?, uid(r#"Action::"pay""#)?,
//!                            uid(r#"Account::"42""#)?, ctx(500))
//!     .with_auth(password_only, now);
//! let d = policies.decide(&request, &entities);
//! let Outcome::Challenge { obligation } = d.outcome() else { panic!("{d}") };
//! assert_eq!(obligation.name(), "mfa");
//! assert_eq!(d.advice().collect::<Vec<_>>(), ["payments need a recent MFA"]);
//!
//! let big = Request::new(uid(r#"User::"bob""#)?, uid(r#"Action::"pay""#)?,
//!                        uid(r#"Account::"42""#)?, ctx(50_000));
//! let why = policies.explain(&big, &entities, 3);
//! assert_eq!(
//!     why.to_string(),
//!     "deny (no_permit)\n  closest permit `payments` (3/4 checks): \
//!      condition `context.amount < 10000` is false"
//! );
//! # Ok::<(), mesh_core::policy::PolicyError>(())
//! ```
//!
//! # Language
//! Cedar's policy syntax and semantics for access decisions: `permit` /
//! `forbid`; scopes `principal`/`resource` `== E`, `in E`, `is T`,
//! `is T in E`, `action == A`, `action in A`, `action in [A, B]`; `when` /
//! `unless`; `&&` `||` `!` (short-circuit), `== != < <= > >=`, `+ - *` on
//! Long (overflow is an error), `in` (transitive, sets on the right), `has`
//! (also `has a.b`), `like` (`*` wildcard, `\*` literal star), `is`,
//! `.contains` `.containsAll` `.containsAny` `.isEmpty`, `if … then … else`,
//! records, sets, entity references (`A::B::"id"`), `.a` and `["a"]`, and
//! the `ip` / `decimal` extensions with their methods. Anything else
//! (templates, other functions and methods, `datetime`…) is rejected with a
//! [`Diagnostic`] naming the construct. Policy ids come from `@id("…")`,
//! else `policy0`, `policy1`… by position.
//!
//! # Decisions
//! Default deny; any applicable `forbid` wins; otherwise an applicable
//! `permit` allows. **Fail closed**: a `forbid` whose condition fails to
//! evaluate (type error, missing attribute, overflow…) counts as applying,
//! and the decision's [`Reason`] is [`Reason::ForbidErrored`];
//! [`ErrorMode::SkipOnError`] restores Cedar's behaviour (skip it). A
//! `permit` whose condition errors does not apply. Every [`Decision`]
//! carries its determining policies and the evaluation errors; it is data,
//! never an error.
//!
//! # Obligations and advice (annotations, so policies stay valid Cedar)
//! - `@obligation("mfa")` on a `permit`: the request's authentication
//!   context ([`Request::with_auth`], or an identity's) must list the method
//!   (`amr`, case-insensitive); otherwise the permit yields
//!   [`Outcome::Challenge`] instead of `Allow`.
//! - `@max_auth_age("15m")`: authentication must be at most that old at the
//!   request's `now` (units `ms s m h d`, e.g. `1h30m`); alone it is the
//!   obligation `reauthenticate`.
//! - A permit with no obligation that applies allows outright; a `forbid`
//!   still wins over a challenge. Obligations on a `forbid` are rejected.
//! - `@advice("…")` on any policy: text handed to the enforcement point
//!   through [`Decision::advice`] when that policy determines the decision.
//!
//! # Identities
//! [`Request::from_identity`] makes the principal from a verified
//! [`crate::Identity`] directly: groups and roles become parents (and their
//! ancestors in the store are added), claims and device posture become
//! attributes and context; see [`IdentityMapping`].
//!
//! # Values without a schema
//! Entity and context JSON follow Cedar's format. Without a schema a JSON
//! string is a String, as in Cedar: a context field meant as an `ipaddr`
//! must be written `{"__extn": {"fn": "ip", "arg": "10.0.0.1"}}` or
//! converted by the caller (or by schema-driven conversion). mesh does not
//! guess types from string contents. A `.isInRange(…)` on a String is a type
//! error, which fails closed in a `forbid` and does not apply in a `permit`.
//!
//! # Explanations
//! Always on: [`Decision::reason`], [`Decision::determining`],
//! [`Decision::errors`]. Opt-in: [`PolicySet::explain`] lists, for a request
//! not allowed, the closest permits and the first check each failed.
//!
//! # Performance
//! Policies compile once into a three-level index (action, principal,
//! resource, keyed by the entity or type each scope names, open scopes in
//! an "any" slot); a request visits only the slots for its entities and
//! their precomputed ancestors. Conditions shared textually by several
//! policies are evaluated once per decision. [`PolicySet::decide_into`]
//! with a reused [`Decision`] never allocates; [`PolicySet::decide`]
//! allocates only past 16 determining policies or 8 errors.

mod ast;
mod decision;
mod diagnostic;
mod entities;
mod entity_json;
mod eval;
mod explain;
mod ext;
mod lexer;
mod parser;
mod policy_set;
mod request;
mod value;

pub use ast::{
    ActionScope, BinaryOp, Condition, ConditionKind, Effect, EntityScope, Expr, ExprKind, ExtFn,
    Method, Pattern, PatternElem, Policy, PolicyId, Var,
};
pub use decision::{Decision, ErrorMode, Obligation, Outcome, PolicyEvalError, Reason};
pub use diagnostic::{Diagnostic, DiagnosticKind, Span};
pub use entities::{Entities, Entity, MAX_ENTITIES_JSON_LEN, MAX_VALUE_DEPTH};
pub use eval::EvalError;
pub use explain::{Explanation, FailedCheck, NearMiss};
pub use ext::{Decimal, IpNet};
pub use parser::{parse_expr, parse_policies, MAX_NESTING, MAX_SOURCE_LEN};
pub use policy_set::{Determining, PolicySet, MAX_POLICIES};
pub use request::{IdentityMapping, PreparedPrincipal, Request};
pub use value::{EntityType, EntityUid, Record, Set, Value};

use thiserror::Error;

/// Why a policy, entity document or request was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// A policy source was rejected: syntax, unsupported construct, invalid
    /// content, limit or schema validation (see [`Diagnostic::kind`]).
    #[error("{0}")]
    Source(Box<Diagnostic>),
    /// An entity document (Cedar entity JSON) was rejected.
    #[error("invalid entities at `{pointer}`: {message}")]
    Entities {
        /// JSON pointer of the offending value.
        pointer: String,
        /// What was wrong.
        message: String,
    },
    /// A request (or a value in it) was rejected.
    #[error("invalid request field `{field}`: {message}")]
    Request {
        /// The offending field (JSON pointer for JSON input).
        field: String,
        /// What was wrong.
        message: String,
    },
}

/// The stable, documented kind of a [`PolicyError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// Policy text is not valid syntax.
    Syntax,
    /// Valid Cedar outside mesh's subset.
    Unsupported,
    /// Meaningless policy content (duplicate id, bad annotation value…).
    Invalid,
    /// A size or depth bound was exceeded.
    Limit,
    /// A policy does not conform to its schema.
    Validation,
    /// See [`PolicyError::Entities`].
    Entities,
    /// See [`PolicyError::Request`].
    Request,
}

impl PolicyErrorKind {
    /// The kind's stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PolicyErrorKind::Syntax => "syntax",
            PolicyErrorKind::Unsupported => "unsupported",
            PolicyErrorKind::Invalid => "invalid",
            PolicyErrorKind::Limit => "limit",
            PolicyErrorKind::Validation => "validation",
            PolicyErrorKind::Entities => "entities",
            PolicyErrorKind::Request => "request",
        }
    }
}

impl PolicyError {
    /// The stable kind of this error.
    pub fn kind(&self) -> PolicyErrorKind {
        match self {
            PolicyError::Source(d) => match d.kind() {
                DiagnosticKind::Syntax => PolicyErrorKind::Syntax,
                DiagnosticKind::Unsupported => PolicyErrorKind::Unsupported,
                DiagnosticKind::Invalid => PolicyErrorKind::Invalid,
                DiagnosticKind::Limit => PolicyErrorKind::Limit,
                DiagnosticKind::Validation => PolicyErrorKind::Validation,
            },
            PolicyError::Entities { .. } => PolicyErrorKind::Entities,
            PolicyError::Request { .. } => PolicyErrorKind::Request,
        }
    }

    /// The diagnostic, for errors located in a policy source.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            PolicyError::Source(d) => Some(d),
            _ => None,
        }
    }
}

mod schema;

pub use schema::{
    ActionDecl, ActionName, AttributeType, EntityTypeDecl, ExtensionType, RecordType, Schema,
    SchemaError, SchemaErrorKind, SchemaType, MAX_SCHEMA_BYTES, MAX_TYPE_DEPTH,
};

mod validate;

pub use validate::{check, validate};

mod testcase;

pub use testcase::{
    CaseResult, Expected, TestCase, TestCaseError, TestReport, TestSuite, MAX_TEST_CASES,
};

mod format;

pub use format::{format_expr, format_policies, format_policy};

#[cfg(test)]
mod tests;
