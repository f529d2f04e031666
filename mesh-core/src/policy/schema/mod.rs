//! Schemas in Cedar's human-readable format (`.cedarschema`): entity types
//! with their parents and attributes, common types, and actions with the
//! principal, resource and context types they apply to.
//!
//! ```
//! use mesh_core::policy::{Schema, SchemaType};
//!
//! let schema = Schema::from_cedarschema(
//!     "entity Group;
//!      entity User in [Group] { clearance: Long, email?: String };
//!      action read appliesTo { principal: [User], resource: [User], context: { ip: ipaddr } };",
//!     "app.cedarschema",
//! )?;
//! let user = schema.entity_type("User").ok_or("missing")?;
//! assert_eq!(user.attributes.get("clearance").map(|a| &a.ty), Some(&SchemaType::Long));
//! assert!(schema.can_be_member_of("User", "Group"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod conform;
mod lexer;
mod parse;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use thiserror::Error;

use super::diagnostic::{Diagnostic, DiagnosticKind, Span};
use super::PolicyError;

/// Largest schema text accepted, in bytes.
pub const MAX_SCHEMA_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of types (sets and records) accepted.
pub const MAX_TYPE_DEPTH: usize = 32;

/// The type of an attribute, a context field or a set element.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaType {
    /// A 64-bit signed integer.
    Long,
    /// A string.
    String,
    /// A boolean.
    Bool,
    /// A set whose elements all have the given type.
    Set(Box<SchemaType>),
    /// A record with declared attributes (closed: no other attributes).
    Record(RecordType),
    /// A reference to an entity of the named (fully qualified) type.
    Entity(String),
    /// An extension type.
    Extension(ExtensionType),
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaType::Long => f.write_str("Long"),
            SchemaType::String => f.write_str("String"),
            SchemaType::Bool => f.write_str("Bool"),
            SchemaType::Set(t) => write!(f, "Set<{t}>"),
            SchemaType::Record(r) => write!(f, "{r}"),
            SchemaType::Entity(name) => f.write_str(name),
            SchemaType::Extension(e) => write!(f, "{e}"),
        }
    }
}

/// Cedar's extension types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ExtensionType {
    /// An IPv4 or IPv6 address or range (`ip("10.0.0.0/8")`).
    IpAddr,
    /// A fixed-point decimal with four digits after the point.
    Decimal,
    /// A point in time (`datetime("2024-01-01")`).
    Datetime,
    /// A span of time (`duration("1h")`).
    Duration,
}

impl ExtensionType {
    /// The name used in schemas (`ipaddr`, `decimal`, `datetime`, `duration`).
    pub fn name(self) -> &'static str {
        match self {
            ExtensionType::IpAddr => "ipaddr",
            ExtensionType::Decimal => "decimal",
            ExtensionType::Datetime => "datetime",
            ExtensionType::Duration => "duration",
        }
    }

    /// The constructor function used in policies (`ip`, `decimal`, …).
    pub fn constructor(self) -> &'static str {
        match self {
            ExtensionType::IpAddr => "ip",
            ExtensionType::Decimal => "decimal",
            ExtensionType::Datetime => "datetime",
            ExtensionType::Duration => "duration",
        }
    }
}

impl fmt::Display for ExtensionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A record type: named attributes, each required or optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordType {
    /// The attributes, by name.
    pub attributes: BTreeMap<String, AttributeType>,
}

impl RecordType {
    /// The attribute `name`, if declared.
    pub fn get(&self, name: &str) -> Option<&AttributeType> {
        self.attributes.get(name)
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (name, attr)) in self.attributes.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let q = if attr.required { "" } else { "?" };
            write!(f, " {name}{q}: {}", attr.ty)?;
        }
        f.write_str(if self.attributes.is_empty() {
            "}"
        } else {
            " }"
        })
    }
}

/// The declared type of one record attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeType {
    /// Its type.
    pub ty: SchemaType,
    /// Whether every value must carry it (`name: T`) or may omit it (`name?: T`).
    pub required: bool,
}

/// A declared entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTypeDecl {
    /// Fully qualified name (`Namespace::Type`, or `Type` outside namespaces).
    pub name: String,
    /// Entity types an entity of this type may be a direct member of.
    pub member_of: Vec<String>,
    /// Declared attributes.
    pub attributes: RecordType,
    /// The type of tag values, when the entity type declares `tags`.
    pub tags: Option<SchemaType>,
    /// For enumerated entity types (`entity Color enum ["red", "blue"];`), the only valid ids.
    pub enum_ids: Option<Vec<String>>,
}

/// The identity of an action: its (namespaced) `Action` type and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionName {
    /// The action entity type, `Action` or `Namespace::Action`.
    pub ty: String,
    /// The action id, e.g. `read`.
    pub id: String,
}

impl fmt::Display for ActionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{:?}", self.ty, self.id)
    }
}

/// A declared action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionDecl {
    /// The action.
    pub name: ActionName,
    /// Action groups this action is a direct member of.
    pub member_of: Vec<ActionName>,
    /// Principal entity types it applies to (empty: none).
    pub principal_types: Vec<String>,
    /// Resource entity types it applies to (empty: none).
    pub resource_types: Vec<String>,
    /// The context record every request for this action carries.
    pub context: RecordType,
}

impl ActionDecl {
    /// Whether the action applies to requests with this principal type.
    pub fn applies_to_principal(&self, ty: &str) -> bool {
        self.principal_types.iter().any(|t| t == ty)
    }

    /// Whether the action applies to requests with this resource type.
    pub fn applies_to_resource(&self, ty: &str) -> bool {
        self.resource_types.iter().any(|t| t == ty)
    }
}

/// A parsed, resolved schema: every type name refers to a declared entity
/// type, a primitive or an extension type; common types are inlined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    entity_types: BTreeMap<String, EntityTypeDecl>,
    actions: BTreeMap<ActionName, ActionDecl>,
    /// For each entity type, every type it may be a (transitive) member of.
    ancestor_types: BTreeMap<String, BTreeSet<String>>,
}

impl Schema {
    /// Parses a schema in Cedar's human-readable format; `file` names the
    /// source in diagnostics.
    ///
    /// # Errors
    /// A [`SchemaError`] with the location of the first syntax error,
    /// duplicate declaration or unresolvable type name.
    pub fn from_cedarschema(src: &str, file: &str) -> Result<Schema, SchemaError> {
        parse::parse(src, file)
    }

    /// The entity type named `name` (fully qualified).
    pub fn entity_type(&self, name: &str) -> Option<&EntityTypeDecl> {
        self.entity_types.get(name)
    }

    /// Every declared entity type, in name order.
    pub fn entity_types(&self) -> impl Iterator<Item = &EntityTypeDecl> {
        self.entity_types.values()
    }

    /// The action of type `ty` (`Action` or `Namespace::Action`) with id `id`.
    pub fn action(&self, ty: &str, id: &str) -> Option<&ActionDecl> {
        self.actions.get(&ActionName {
            ty: ty.to_owned(),
            id: id.to_owned(),
        })
    }

    /// Every declared action, in name order.
    pub fn actions(&self) -> impl Iterator<Item = &ActionDecl> {
        self.actions.values()
    }

    /// Whether `ty` names an action entity type (`Action` or `NS::Action`)
    /// that has declared actions.
    pub fn is_action_type(&self, ty: &str) -> bool {
        self.actions.keys().any(|a| a.ty == ty)
    }

    /// Whether an entity of type `child` may be a (transitive) member of an
    /// entity of type `ancestor`; a type is always a member of itself.
    pub fn can_be_member_of(&self, child: &str, ancestor: &str) -> bool {
        child == ancestor
            || self
                .ancestor_types
                .get(child)
                .is_some_and(|set| set.contains(ancestor))
    }

    /// Whether action `action` is `group` or a (transitive) member of it.
    pub fn action_in(&self, action: &ActionName, group: &ActionName) -> bool {
        let mut stack = vec![action];
        let mut seen = BTreeSet::new();
        while let Some(a) = stack.pop() {
            if a == group {
                return true;
            }
            if !seen.insert(a) {
                continue;
            }
            if let Some(decl) = self.actions.get(a) {
                stack.extend(decl.member_of.iter());
            }
        }
        false
    }

    fn finish(
        entity_types: BTreeMap<String, EntityTypeDecl>,
        actions: BTreeMap<ActionName, ActionDecl>,
    ) -> Schema {
        let mut ancestor_types = BTreeMap::new();
        for name in entity_types.keys() {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&String> = entity_types
                .get(name)
                .map(|e| e.member_of.iter().collect())
                .unwrap_or_default();
            while let Some(t) = stack.pop() {
                if seen.insert(t.clone()) {
                    if let Some(e) = entity_types.get(t) {
                        stack.extend(e.member_of.iter());
                    }
                }
            }
            ancestor_types.insert(name.clone(), seen);
        }
        Schema {
            entity_types,
            actions,
            ancestor_types,
        }
    }
}

/// The kind of a [`SchemaError`]; stable, for programs to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemaErrorKind {
    /// The text is not valid schema syntax.
    Syntax,
    /// A name is declared twice.
    Duplicate,
    /// A type or action name does not refer to any declaration.
    UnknownName,
    /// Common types refer to each other in a cycle.
    Cycle,
    /// A size or depth limit was exceeded.
    TooLarge,
}

impl SchemaErrorKind {
    /// A stable snake_case name for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaErrorKind::Syntax => "syntax",
            SchemaErrorKind::Duplicate => "duplicate",
            SchemaErrorKind::UnknownName => "unknown_name",
            SchemaErrorKind::Cycle => "cycle",
            SchemaErrorKind::TooLarge => "too_large",
        }
    }
}

/// Why a schema was rejected: a [`Diagnostic`] (file, line:column, caret
/// excerpt, help) and a schema-specific kind.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{diagnostic}")]
pub struct SchemaError {
    kind: SchemaErrorKind,
    diagnostic: Box<Diagnostic>,
}

impl SchemaError {
    pub(crate) fn new(
        kind: SchemaErrorKind,
        message: String,
        (file, src, start, end): (&str, &str, usize, usize),
        help: &str,
    ) -> Self {
        let dkind = match kind {
            SchemaErrorKind::Syntax => DiagnosticKind::Syntax,
            SchemaErrorKind::TooLarge => DiagnosticKind::Limit,
            SchemaErrorKind::Duplicate | SchemaErrorKind::UnknownName | SchemaErrorKind::Cycle => {
                DiagnosticKind::Invalid
            }
        };
        let diagnostic =
            Diagnostic::new(dkind, message, file, src, Span::new(start, end)).with_help(help);
        SchemaError {
            kind,
            diagnostic: Box::new(diagnostic),
        }
    }

    /// What went wrong, as a stable kind.
    pub fn kind(&self) -> SchemaErrorKind {
        self.kind
    }

    /// The message, without location.
    pub fn message(&self) -> &str {
        self.diagnostic.message()
    }

    /// The located diagnostic (file, line, column, excerpt, help).
    pub fn diagnostic(&self) -> &Diagnostic {
        &self.diagnostic
    }

    /// How to fix it.
    pub fn help(&self) -> &str {
        self.diagnostic.help().unwrap_or("")
    }

    /// The full multi-line report: message, `file:line:column`, the source
    /// line with a caret, and the help line.
    pub fn report(&self) -> String {
        self.diagnostic.render()
    }
}

impl From<SchemaError> for PolicyError {
    fn from(e: SchemaError) -> Self {
        PolicyError::Source(e.diagnostic)
    }
}
