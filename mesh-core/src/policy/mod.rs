//! The embedded Policy Decision Point: Cedar-compatible policies, compiled
//! and indexed, deciding `Allow`, `Deny` or `Challenge` with explanations.

use thiserror::Error;

/// Why a policy, schema, entity document or request was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The input could not be parsed.
    #[error("{message} at {line}:{column}")]
    Parse {
        /// What was wrong.
        message: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
}

mod excerpt;
mod schema;

pub use excerpt::SourceLocation;
pub use schema::{
    ActionDecl, ActionName, AttributeType, EntityTypeDecl, ExtensionType, RecordType, Schema,
    SchemaError, SchemaErrorKind, SchemaType, MAX_SCHEMA_BYTES, MAX_TYPE_DEPTH,
};
