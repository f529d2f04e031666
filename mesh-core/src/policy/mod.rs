//! The embedded Policy Decision Point: Cedar-compatible policies, compiled
//! and indexed, deciding `Allow`, `Deny` or `Challenge` with explanations.

mod ast;
mod decision;
mod diagnostic;
mod entities;
mod eval;
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
pub use ext::{Decimal, IpNet};
pub use parser::{parse_expr, parse_policies, MAX_NESTING, MAX_SOURCE_LEN};
pub use policy_set::{PolicySet, MAX_POLICIES};
pub use request::{IdentityMapping, Request};
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
