//! Parser and name resolution for the `.cedarschema` format.
//!
//! Grammar (Cedar's human-readable schema format):
//!
//! ```text
//! Schema    := {Namespace}
//! Namespace := Annotations 'namespace' Path '{' {Decl} '}' | Decl
//! Decl      := Entity | Action | TypeDecl
//! Entity    := Annotations 'entity' Idents ['in' EntOrTyps] [['='] RecType] ['tags' Type] ';'
//!            | Annotations 'entity' Idents 'enum' '[' STR {',' STR} ']' ';'
//! Action    := Annotations 'action' Names ['in' RefOrRefs] [AppliesTo] ';'
//! TypeDecl  := Annotations 'type' IDENT '=' Type ';'
//! Type      := Path | 'Set' '<' Type '>' | RecType
//! RecType   := '{' [Annotations Name ['?'] ':' Type {',' ...} [',']] '}'
//! AppliesTo := 'appliesTo' '{' (('principal'|'resource') ':' EntOrTyps | 'context' ':' Type) {',' ...} [','] '}'
//! Annotation:= '@' IDENT ['(' STR ')']
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::lexer::{tokenize, Tok, Token};
use super::{
    ActionDecl, ActionName, AttributeType, EntityTypeDecl, ExtensionType, RecordType, Schema,
    SchemaError, SchemaErrorKind, SchemaType, MAX_SCHEMA_BYTES, MAX_TYPE_DEPTH,
};

type Span = (usize, usize);

#[derive(Debug, Clone)]
enum RawType {
    Path(Vec<String>, Span),
    Set(Box<RawType>),
    Record(Vec<RawAttr>),
}

#[derive(Debug, Clone)]
struct RawAttr {
    name: String,
    span: Span,
    required: bool,
    ty: RawType,
}

#[derive(Debug)]
struct RawEntity {
    ns: String,
    name: String,
    span: Span,
    parents: Vec<(Vec<String>, Span)>,
    attrs: Vec<RawAttr>,
    tags: Option<RawType>,
    enum_ids: Option<Vec<String>>,
}

#[derive(Debug)]
struct RawAction {
    ns: String,
    id: String,
    span: Span,
    parents: Vec<(ActionRef, Span)>,
    principal: Vec<(Vec<String>, Span)>,
    resource: Vec<(Vec<String>, Span)>,
    context: Option<RawType>,
}

#[derive(Debug)]
enum ActionRef {
    /// `Path::"id"`
    Qualified(Vec<String>, String),
    /// `id` or `"id"`: an action in the same namespace.
    Local(String),
}

#[derive(Debug)]
struct RawCommon {
    ty: RawType,
    span: Span,
}

struct Parser<'a> {
    src: &'a str,
    file: &'a str,
    toks: Vec<Token>,
    pos: usize,
    entities: Vec<RawEntity>,
    actions: Vec<RawAction>,
    /// Common types by fully qualified name.
    commons: BTreeMap<String, RawCommon>,
    namespaces: BTreeSet<String>,
}

pub(super) fn parse(src: &str, file: &str) -> Result<Schema, SchemaError> {
    if src.len() > MAX_SCHEMA_BYTES {
        return Err(SchemaError::new(
            SchemaErrorKind::TooLarge,
            format!(
                "schema is {} bytes, more than the limit of {MAX_SCHEMA_BYTES}",
                src.len()
            ),
            (file, src, 0, 0),
            "split the schema or raise the limit",
        ));
    }
    let toks = tokenize(src).map_err(|(msg, s, e, help)| {
        SchemaError::new(SchemaErrorKind::Syntax, msg, (file, src, s, e), help)
    })?;
    let mut p = Parser {
        src,
        file,
        toks,
        pos: 0,
        entities: Vec::new(),
        actions: Vec::new(),
        commons: BTreeMap::new(),
        namespaces: BTreeSet::new(),
    };
    p.schema()?;
    p.resolve()
}

fn qualify(ns: &str, name: &str) -> String {
    if ns.is_empty() {
        name.to_owned()
    } else {
        format!("{ns}::{name}")
    }
}

fn builtin(name: &str) -> Option<SchemaType> {
    Some(match name {
        "Long" => SchemaType::Long,
        "String" => SchemaType::String,
        "Bool" => SchemaType::Bool,
        "ipaddr" => SchemaType::Extension(ExtensionType::IpAddr),
        "decimal" => SchemaType::Extension(ExtensionType::Decimal),
        "datetime" => SchemaType::Extension(ExtensionType::Datetime),
        "duration" => SchemaType::Extension(ExtensionType::Duration),
        _ => return None,
    })
}

const RESERVED_TYPE_NAMES: &[&str] = &[
    "Bool",
    "Boolean",
    "Entity",
    "Extension",
    "Long",
    "Record",
    "Set",
    "String",
];

impl<'a> Parser<'a> {
    // ---- token helpers -------------------------------------------------

    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::Eof, |t| &t.kind)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks.get(self.pos + n).map_or(&Tok::Eof, |t| &t.kind)
    }

    fn span(&self) -> Span {
        self.toks
            .get(self.pos)
            .map_or((self.src.len(), self.src.len()), |t| (t.start, t.end))
    }

    fn bump(&mut self) -> Span {
        let s = self.span();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        s
    }

    fn err_at(&self, kind: SchemaErrorKind, span: Span, msg: String, help: &str) -> SchemaError {
        SchemaError::new(kind, msg, (self.file, self.src, span.0, span.1), help)
    }

    fn unexpected(&self, expected: &str, help: &str) -> SchemaError {
        self.err_at(
            SchemaErrorKind::Syntax,
            self.span(),
            format!("expected {expected}, found {}", self.peek().describe()),
            help,
        )
    }

    fn is_punct(&self, c: char) -> bool {
        *self.peek() == Tok::Punct(c)
    }

    fn is_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == word)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char, help: &str) -> Result<Span, SchemaError> {
        if self.is_punct(c) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(&format!("`{c}`"), help))
        }
    }

    fn ident(&mut self, what: &str) -> Result<(String, Span), SchemaError> {
        match self.peek().clone() {
            Tok::Ident(s) => Ok((s, self.bump())),
            _ => Err(self.unexpected(what, "identifiers start with a letter or `_`")),
        }
    }

    /// `IDENT | STR`
    fn name(&mut self, what: &str) -> Result<(String, Span), SchemaError> {
        match self.peek().clone() {
            Tok::Ident(s) | Tok::Str(s) => Ok((s, self.bump())),
            _ => Err(self.unexpected(what, "write a name or a quoted string")),
        }
    }

    /// `IDENT {'::' IDENT}` (stops before `::` followed by a string).
    fn path(&mut self, what: &str) -> Result<(Vec<String>, Span), SchemaError> {
        let (first, span) = self.ident(what)?;
        let mut parts = vec![first];
        let mut end = span.1;
        while *self.peek() == Tok::PathSep && matches!(self.peek_at(1), Tok::Ident(_)) {
            self.bump();
            let (next, s) = self.ident("an identifier after `::`")?;
            parts.push(next);
            end = s.1;
        }
        Ok((parts, (span.0, end)))
    }

    fn annotations(&mut self) -> Result<(), SchemaError> {
        while self.eat_punct('@') {
            self.ident("an annotation name after `@`")?;
            if self.eat_punct('(') {
                match self.peek() {
                    Tok::Str(_) => {
                        self.bump();
                    }
                    _ => {
                        return Err(self.unexpected(
                            "a string",
                            "annotations take a string value: `@doc(\"text\")`",
                        ))
                    }
                }
                self.expect_punct(')', "close the annotation with `)`")?;
            }
        }
        Ok(())
    }

    // ---- declarations --------------------------------------------------

    fn schema(&mut self) -> Result<(), SchemaError> {
        while *self.peek() != Tok::Eof {
            self.annotations()?;
            if self.is_ident("namespace") {
                let kw = self.bump();
                let (path, span) = self.path("a namespace name")?;
                let ns = path.join("::");
                if path.iter().any(|p| p == "__cedar") {
                    return Err(self.err_at(
                        SchemaErrorKind::Syntax,
                        span,
                        format!("namespace `{ns}` uses the reserved name `__cedar`"),
                        "choose another namespace name",
                    ));
                }
                if !self.namespaces.insert(ns.clone()) {
                    return Err(self.err_at(
                        SchemaErrorKind::Duplicate,
                        (kw.0, span.1),
                        format!("namespace `{ns}` is declared twice"),
                        "merge the two namespace blocks",
                    ));
                }
                self.expect_punct('{', "open the namespace body with `{`")?;
                loop {
                    if self.eat_punct('}') {
                        break;
                    }
                    if *self.peek() == Tok::Eof {
                        return Err(self.unexpected("`}`", "close the namespace with `}`"));
                    }
                    self.annotations()?;
                    self.decl(&ns)?;
                }
            } else {
                self.decl("")?;
            }
        }
        Ok(())
    }

    fn decl(&mut self, ns: &str) -> Result<(), SchemaError> {
        const HELP: &str = "declarations start with `entity`, `action`, `type` or `namespace`";
        match self.peek() {
            Tok::Ident(k) if k == "entity" => self.entity(ns),
            Tok::Ident(k) if k == "action" => self.action(ns),
            Tok::Ident(k) if k == "type" => self.common_type(ns),
            Tok::Ident(k) if k == "namespace" => Err(self.err_at(
                SchemaErrorKind::Syntax,
                self.span(),
                "namespaces cannot be nested".to_owned(),
                "declare each namespace at the top level",
            )),
            _ => Err(self.unexpected("a declaration", HELP)),
        }
    }

    fn entity(&mut self, ns: &str) -> Result<(), SchemaError> {
        self.bump();
        let mut names = vec![self.ident("an entity type name")?];
        while self.eat_punct(',') {
            names.push(self.ident("an entity type name after `,`")?);
        }
        let mut parents = Vec::new();
        let mut attrs = Vec::new();
        let mut tags = None;
        let mut enum_ids = None;
        if self.is_ident("enum") {
            self.bump();
            self.expect_punct('[', "list the ids: `enum [\"a\", \"b\"]`")?;
            let mut ids = Vec::new();
            loop {
                match self.peek().clone() {
                    Tok::Str(s) => {
                        self.bump();
                        ids.push(s);
                    }
                    _ => return Err(self.unexpected("a string", "enum ids are quoted strings")),
                }
                if !self.eat_punct(',') {
                    break;
                }
            }
            self.expect_punct(']', "close the enum list with `]`")?;
            enum_ids = Some(ids);
        } else {
            if self.is_ident("in") {
                self.bump();
                parents = self.ent_or_types()?;
            }
            self.eat_punct('=');
            if self.is_punct('{') {
                attrs = self.record_fields(0)?;
            }
            if self.is_ident("tags") {
                self.bump();
                tags = Some(self.ty(0)?);
            }
        }
        self.expect_punct(';', "end the entity declaration with `;`")?;
        for (name, span) in names {
            self.entities.push(RawEntity {
                ns: ns.to_owned(),
                name,
                span,
                parents: parents.clone(),
                attrs: attrs.clone(),
                tags: tags.clone(),
                enum_ids: enum_ids.clone(),
            });
        }
        Ok(())
    }

    /// `Path | '[' [Path {',' Path}] ']'`
    fn ent_or_types(&mut self) -> Result<Vec<(Vec<String>, Span)>, SchemaError> {
        if self.eat_punct('[') {
            let mut out = Vec::new();
            if self.eat_punct(']') {
                return Ok(out);
            }
            loop {
                out.push(self.path("an entity type")?);
                if !self.eat_punct(',') {
                    break;
                }
            }
            self.expect_punct(']', "close the list with `]`")?;
            Ok(out)
        } else {
            Ok(vec![self.path("an entity type or `[`")?])
        }
    }

    fn common_type(&mut self, ns: &str) -> Result<(), SchemaError> {
        self.bump();
        let (name, span) = self.ident("a type name")?;
        if RESERVED_TYPE_NAMES.contains(&name.as_str()) {
            return Err(self.err_at(
                SchemaErrorKind::Syntax,
                span,
                format!("`{name}` is reserved and cannot name a common type"),
                "choose another name",
            ));
        }
        self.expect_punct('=', "write `type Name = Type;`")?;
        let ty = self.ty(0)?;
        self.expect_punct(';', "end the type declaration with `;`")?;
        let full = qualify(ns, &name);
        if self.commons.contains_key(&full) {
            return Err(self.err_at(
                SchemaErrorKind::Duplicate,
                span,
                format!("common type `{full}` is declared twice"),
                "remove or rename one of the declarations",
            ));
        }
        self.commons.insert(full, RawCommon { ty, span });
        Ok(())
    }

    fn action(&mut self, ns: &str) -> Result<(), SchemaError> {
        self.bump();
        let mut names = vec![self.name("an action name")?];
        while self.eat_punct(',') {
            names.push(self.name("an action name after `,`")?);
        }
        let mut parents = Vec::new();
        if self.is_ident("in") {
            self.bump();
            if self.eat_punct('[') {
                if !self.eat_punct(']') {
                    loop {
                        parents.push(self.action_ref()?);
                        if !self.eat_punct(',') {
                            break;
                        }
                    }
                    self.expect_punct(']', "close the list with `]`")?;
                }
            } else {
                parents.push(self.action_ref()?);
            }
        }
        let mut principal = Vec::new();
        let mut resource = Vec::new();
        let mut context = None;
        if self.is_ident("appliesTo") {
            self.bump();
            self.expect_punct('{', "open the appliesTo block with `{`")?;
            let mut seen = BTreeSet::new();
            while !self.is_punct('}') {
                let (key, span) = self.ident("`principal`, `resource` or `context`")?;
                if !seen.insert(key.clone()) {
                    return Err(self.err_at(
                        SchemaErrorKind::Duplicate,
                        span,
                        format!("`{key}` appears twice in appliesTo"),
                        "give each of principal, resource and context once",
                    ));
                }
                self.expect_punct(':', "write `principal: [Type]`")?;
                match key.as_str() {
                    "principal" => principal = self.ent_or_types()?,
                    "resource" => resource = self.ent_or_types()?,
                    "context" => context = Some(self.ty(0)?),
                    other => {
                        return Err(self.err_at(
                            SchemaErrorKind::Syntax,
                            span,
                            format!("unknown appliesTo key `{other}`"),
                            "appliesTo takes `principal`, `resource` and `context`",
                        ))
                    }
                }
                if !self.eat_punct(',') {
                    break;
                }
            }
            self.expect_punct('}', "close the appliesTo block with `}`")?;
        }
        self.expect_punct(';', "end the action declaration with `;`")?;
        for (id, span) in names {
            self.actions.push(RawAction {
                ns: ns.to_owned(),
                id,
                span,
                parents: parents
                    .iter()
                    .map(|(r, s)| {
                        let r = match r {
                            ActionRef::Qualified(p, id) => {
                                ActionRef::Qualified(p.clone(), id.clone())
                            }
                            ActionRef::Local(id) => ActionRef::Local(id.clone()),
                        };
                        (r, *s)
                    })
                    .collect(),
                principal: principal.clone(),
                resource: resource.clone(),
                context: context.clone(),
            });
        }
        Ok(())
    }

    /// `Path '::' STR | Name`
    fn action_ref(&mut self) -> Result<(ActionRef, Span), SchemaError> {
        if let Tok::Str(s) = self.peek().clone() {
            return Ok((ActionRef::Local(s), self.bump()));
        }
        let (path, span) = self.path("an action name")?;
        if *self.peek() == Tok::PathSep {
            self.bump();
            match self.peek().clone() {
                Tok::Str(id) => {
                    let end = self.bump().1;
                    Ok((ActionRef::Qualified(path, id), (span.0, end)))
                }
                _ => Err(self.unexpected("a quoted action id", "write `Action::\"id\"`")),
            }
        } else if path.len() == 1 {
            let id = path.into_iter().next().unwrap_or_default();
            Ok((ActionRef::Local(id), span))
        } else {
            Err(self.err_at(
                SchemaErrorKind::Syntax,
                span,
                format!("`{}` is not an action reference", path.join("::")),
                "write `Action::\"id\"` or the bare action name",
            ))
        }
    }

    fn ty(&mut self, depth: usize) -> Result<RawType, SchemaError> {
        if depth >= MAX_TYPE_DEPTH {
            return Err(self.err_at(
                SchemaErrorKind::TooLarge,
                self.span(),
                format!("types are nested deeper than {MAX_TYPE_DEPTH} levels"),
                "flatten the type or name parts of it with `type`",
            ));
        }
        if self.is_punct('{') {
            return Ok(RawType::Record(self.record_fields(depth + 1)?));
        }
        if self.is_ident("Set") && *self.peek_at(1) == Tok::Punct('<') {
            self.bump();
            self.bump();
            let inner = self.ty(depth + 1)?;
            self.expect_punct('>', "close the set type with `>`")?;
            return Ok(RawType::Set(Box::new(inner)));
        }
        let (path, span) = self.path("a type")?;
        Ok(RawType::Path(path, span))
    }

    fn record_fields(&mut self, depth: usize) -> Result<Vec<RawAttr>, SchemaError> {
        if depth >= MAX_TYPE_DEPTH {
            return Err(self.err_at(
                SchemaErrorKind::TooLarge,
                self.span(),
                format!("types are nested deeper than {MAX_TYPE_DEPTH} levels"),
                "flatten the type or name parts of it with `type`",
            ));
        }
        self.expect_punct('{', "open the record with `{`")?;
        let mut out: Vec<RawAttr> = Vec::new();
        while !self.is_punct('}') {
            self.annotations()?;
            let (name, span) = self.name("an attribute name")?;
            if out.iter().any(|a| a.name == name) {
                return Err(self.err_at(
                    SchemaErrorKind::Duplicate,
                    span,
                    format!("attribute `{name}` is declared twice"),
                    "remove one of the declarations",
                ));
            }
            let required = !self.eat_punct('?');
            self.expect_punct(':', "write `name: Type` (or `name?: Type` when optional)")?;
            let ty = self.ty(depth + 1)?;
            out.push(RawAttr {
                name,
                span,
                required,
                ty,
            });
            if !self.eat_punct(',') {
                break;
            }
        }
        self.expect_punct(
            '}',
            "close the record with `}` (separate attributes with `,`)",
        )?;
        Ok(out)
    }

    // ---- resolution ----------------------------------------------------

    fn resolve(self) -> Result<Schema, SchemaError> {
        let mut entity_names: BTreeMap<String, Span> = BTreeMap::new();
        for e in &self.entities {
            let full = qualify(&e.ns, &e.name);
            if entity_names.insert(full.clone(), e.span).is_some() {
                return Err(self.err_at(
                    SchemaErrorKind::Duplicate,
                    e.span,
                    format!("entity type `{full}` is declared twice"),
                    "remove or rename one of the declarations",
                ));
            }
        }
        let r = Resolver {
            p: &self,
            entity_names: &entity_names,
        };
        let mut entity_types = BTreeMap::new();
        for e in &self.entities {
            let name = qualify(&e.ns, &e.name);
            let member_of = e
                .parents
                .iter()
                .map(|(path, span)| r.entity_type(&e.ns, path, *span))
                .collect::<Result<Vec<_>, _>>()?;
            let attributes = r.record(&e.ns, &e.attrs, &mut Vec::new())?;
            let tags = match &e.tags {
                Some(t) => Some(r.ty(&e.ns, t, &mut Vec::new())?),
                None => None,
            };
            entity_types.insert(
                name.clone(),
                EntityTypeDecl {
                    name,
                    member_of,
                    attributes,
                    tags,
                    enum_ids: e.enum_ids.clone(),
                },
            );
        }
        let mut actions = BTreeMap::new();
        let names: BTreeSet<ActionName> = self
            .actions
            .iter()
            .map(|a| ActionName {
                ty: qualify(&a.ns, "Action"),
                id: a.id.clone(),
            })
            .collect();
        for a in &self.actions {
            let name = ActionName {
                ty: qualify(&a.ns, "Action"),
                id: a.id.clone(),
            };
            if actions.contains_key(&name) {
                return Err(self.err_at(
                    SchemaErrorKind::Duplicate,
                    a.span,
                    format!("action `{name}` is declared twice"),
                    "remove or rename one of the declarations",
                ));
            }
            let mut member_of = Vec::new();
            for (parent, span) in &a.parents {
                let pname = match parent {
                    ActionRef::Local(id) => ActionName {
                        ty: name.ty.clone(),
                        id: id.clone(),
                    },
                    ActionRef::Qualified(path, id) => {
                        let joined = path.join("::");
                        let ty = if path.len() == 1 && !a.ns.is_empty() {
                            let local = qualify(&a.ns, &joined);
                            if names.iter().any(|n| n.ty == local) {
                                local
                            } else {
                                joined
                            }
                        } else {
                            joined
                        };
                        ActionName { ty, id: id.clone() }
                    }
                };
                if !names.contains(&pname) {
                    return Err(self.err_at(
                        SchemaErrorKind::UnknownName,
                        *span,
                        format!("action group `{pname}` is not declared"),
                        "declare the group with `action \"name\";`",
                    ));
                }
                member_of.push(pname);
            }
            let principal_types = a
                .principal
                .iter()
                .map(|(p, s)| r.entity_type(&a.ns, p, *s))
                .collect::<Result<Vec<_>, _>>()?;
            let resource_types = a
                .resource
                .iter()
                .map(|(p, s)| r.entity_type(&a.ns, p, *s))
                .collect::<Result<Vec<_>, _>>()?;
            let context = match &a.context {
                None => RecordType::default(),
                Some(t) => match r.ty(&a.ns, t, &mut Vec::new())? {
                    SchemaType::Record(rec) => rec,
                    other => {
                        let span = match t {
                            RawType::Path(_, s) => *s,
                            _ => a.span,
                        };
                        return Err(self.err_at(
                            SchemaErrorKind::Syntax,
                            span,
                            format!("the context of action `{name}` has type `{other}`, not a record"),
                            "the context must be a record type `{ ... }` or a common type naming one",
                        ));
                    }
                },
            };
            actions.insert(
                name.clone(),
                ActionDecl {
                    name,
                    member_of,
                    principal_types,
                    resource_types,
                    context,
                },
            );
        }
        Ok(Schema::finish(entity_types, actions))
    }
}

struct Resolver<'p, 'a> {
    p: &'p Parser<'a>,
    entity_names: &'p BTreeMap<String, Span>,
}

impl Resolver<'_, '_> {
    fn entity_type(&self, ns: &str, path: &[String], span: Span) -> Result<String, SchemaError> {
        let joined = path.join("::");
        let local = qualify(ns, &joined);
        if self.entity_names.contains_key(&local) {
            return Ok(local);
        }
        if self.entity_names.contains_key(&joined) {
            return Ok(joined);
        }
        Err(self.p.err_at(
            SchemaErrorKind::UnknownName,
            span,
            format!("unknown entity type `{joined}`"),
            &self.suggest(&joined, "declare it with `entity NAME;`"),
        ))
    }

    fn suggest(&self, name: &str, default: &str) -> String {
        let last = name.rsplit("::").next().unwrap_or(name);
        let found = self
            .entity_names
            .keys()
            .chain(self.p.commons.keys())
            .find(|k| {
                let k_last = k.rsplit("::").next().unwrap_or(k);
                k_last.eq_ignore_ascii_case(last) || (k_last.len() > 2 && close(k_last, last))
            });
        match found {
            Some(k) => format!("did you mean `{k}`?"),
            None => default.to_owned(),
        }
    }

    fn record(
        &self,
        ns: &str,
        attrs: &[RawAttr],
        stack: &mut Vec<String>,
    ) -> Result<RecordType, SchemaError> {
        let mut out = RecordType::default();
        for a in attrs {
            let ty = self.ty(ns, &a.ty, stack)?;
            out.attributes.insert(
                a.name.clone(),
                AttributeType {
                    ty,
                    required: a.required,
                },
            );
            let _ = a.span;
        }
        Ok(out)
    }

    fn ty(
        &self,
        ns: &str,
        t: &RawType,
        stack: &mut Vec<String>,
    ) -> Result<SchemaType, SchemaError> {
        match t {
            RawType::Set(inner) => Ok(SchemaType::Set(Box::new(self.ty(ns, inner, stack)?))),
            RawType::Record(attrs) => Ok(SchemaType::Record(self.record(ns, attrs, stack)?)),
            RawType::Path(path, span) => self.path(ns, path, *span, stack),
        }
    }

    fn path(
        &self,
        ns: &str,
        path: &[String],
        span: Span,
        stack: &mut Vec<String>,
    ) -> Result<SchemaType, SchemaError> {
        let joined = path.join("::");
        if let Some(rest) = joined.strip_prefix("__cedar::") {
            if let Some(b) = builtin(rest) {
                return Ok(b);
            }
        }
        let mut candidates = Vec::with_capacity(2);
        if !ns.is_empty() {
            candidates.push(qualify(ns, &joined));
        }
        candidates.push(joined.clone());
        for c in &candidates {
            if let Some(common) = self.p.commons.get(c) {
                if stack.contains(c) || stack.len() >= MAX_TYPE_DEPTH {
                    return Err(self.p.err_at(
                        SchemaErrorKind::Cycle,
                        span,
                        format!("common type `{c}` refers to itself"),
                        "common types cannot be recursive",
                    ));
                }
                stack.push(c.clone());
                let common_ns = c.rsplit_once("::").map_or("", |(n, _)| n).to_owned();
                let resolved = self.ty(&common_ns, &common.ty, stack);
                stack.pop();
                let _ = common.span;
                return resolved;
            }
            if self.entity_names.contains_key(c) {
                return Ok(SchemaType::Entity(c.clone()));
            }
        }
        if path.len() == 1 {
            if let Some(b) = builtin(&joined) {
                return Ok(b);
            }
        }
        if joined == "Set" {
            return Err(self.p.err_at(
                SchemaErrorKind::Syntax,
                span,
                "`Set` needs an element type".to_owned(),
                "write `Set<Type>`",
            ));
        }
        Err(self.p.err_at(
            SchemaErrorKind::UnknownName,
            span,
            format!("unknown type `{joined}`"),
            &self.suggest(
                &joined,
                "use Long, String, Bool, Set<T>, a record, ipaddr, decimal, datetime, duration, or declare it with `entity` or `type`",
            ),
        ))
    }
}

/// Whether two names differ by at most one edit (case-insensitive).
fn close(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a.get(i) == b.get(j) {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        match a.len().cmp(&b.len()) {
            std::cmp::Ordering::Greater => i += 1,
            std::cmp::Ordering::Less => j += 1,
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    edits + (a.len() - i) + (b.len() - j) <= 1
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    const WORKLOAD: &str = r#"entity Role;
entity Group in [Role];
entity User in [Group, Role] { clearance: Long, department: String, contractor: Bool };
entity Folder in [Folder] { owner_dept: String };
entity Document in [Folder] { classification: Long, owner: User, tags: Set<String> };
type Device = { managed: Bool, compliant: Bool, os: String };
action read, write, delete, share, admin appliesTo {
  principal: [User],
  resource: [Document, Folder],
  context: { device: Device, risk: Long, mfa: Bool, ip: ipaddr }
};
"#;

    fn err(src: &str) -> SchemaError {
        parse(src, "t.cedarschema").unwrap_err()
    }

    #[test]
    fn parses_the_reference_workload_schema() {
        let s = parse(WORKLOAD, "w.cedarschema").unwrap();
        assert_eq!(s.entity_types().count(), 5);
        let doc = s.entity_type("Document").unwrap();
        assert_eq!(doc.member_of, vec!["Folder".to_owned()]);
        assert_eq!(
            doc.attributes.get("owner").unwrap().ty,
            SchemaType::Entity("User".into())
        );
        assert_eq!(
            doc.attributes.get("tags").unwrap().ty,
            SchemaType::Set(Box::new(SchemaType::String))
        );
        let read = s.action("Action", "read").unwrap();
        assert_eq!(read.principal_types, vec!["User".to_owned()]);
        assert!(read.applies_to_resource("Folder"));
        let device = &read.context.get("device").unwrap().ty;
        let SchemaType::Record(device) = device else {
            panic!("device is not a record")
        };
        assert!(device.get("managed").unwrap().required);
        assert_eq!(
            read.context.get("ip").unwrap().ty,
            SchemaType::Extension(ExtensionType::IpAddr)
        );
        assert!(s.can_be_member_of("User", "Role"));
        assert!(s.can_be_member_of("Document", "Folder"));
        assert!(!s.can_be_member_of("Role", "User"));
        assert_eq!(s.actions().count(), 5);
    }

    #[test]
    fn parses_namespaces_groups_optional_and_quoted_names() {
        let src = r#"
            // a comment
            @doc("the app")
            namespace App::V1 {
                entity Team;
                entity User = { "full name"?: String, age: __cedar::Long, ip?: ipaddr, budget: decimal };
                entity Color enum ["red", "blue"];
                type Ctx = { mfa: Bool };
                action "all";
                action view, "edit doc" in ["all"] appliesTo { principal: User, resource: [Team], context: Ctx };
                action admin in [Action::"all"];
            }
            entity Global;
            action ping appliesTo { principal: [App::V1::User], resource: Global };
        "#;
        let s = parse(src, "t").unwrap();
        let user = s.entity_type("App::V1::User").unwrap();
        assert!(!user.attributes.get("full name").unwrap().required);
        assert_eq!(user.attributes.get("age").unwrap().ty, SchemaType::Long);
        assert_eq!(
            s.entity_type("App::V1::Color").unwrap().enum_ids,
            Some(vec!["red".into(), "blue".into()])
        );
        let edit = s.action("App::V1::Action", "edit doc").unwrap();
        assert_eq!(edit.principal_types, vec!["App::V1::User".to_owned()]);
        assert!(edit.context.get("mfa").is_some());
        let all = ActionName {
            ty: "App::V1::Action".into(),
            id: "all".into(),
        };
        assert!(s.action_in(&edit.name, &all));
        let admin = s.action("App::V1::Action", "admin").unwrap();
        assert_eq!(admin.member_of, vec![all]);
        assert!(admin.principal_types.is_empty());
        assert!(s
            .action("Action", "ping")
            .unwrap()
            .applies_to_principal("App::V1::User"));
    }

    #[test]
    fn reports_syntax_errors_with_location_and_help() {
        let e = err("entity User {\n  age: Long\n  name: String };");
        assert_eq!(e.kind(), SchemaErrorKind::Syntax);
        assert_eq!((e.diagnostic().line(), e.diagnostic().column()), (3, 3));
        assert!(e.message().contains("expected `}`"), "{}", e.message());
        let report = e.report();
        assert!(report.contains("--> t.cedarschema:3:3"), "{report}");
        assert!(report.contains("  name: String };\n  |   ^^^^"), "{report}");
        assert!(report.contains("= help:"), "{report}");
        assert_eq!(e.to_string(), format!("t.cedarschema:3:3: {}", e.message()));
    }

    #[test]
    fn reports_unknown_names_with_suggestions() {
        let e = err("entity User;\nentity Doc { owner: Usr };");
        assert_eq!(e.kind(), SchemaErrorKind::UnknownName);
        assert_eq!(e.message(), "unknown type `Usr`");
        assert_eq!(e.help(), "did you mean `User`?");
        assert_eq!((e.diagnostic().line(), e.diagnostic().column()), (2, 21));
        let e = err("entity A in [B];");
        assert_eq!(e.message(), "unknown entity type `B`");
        let e = err("action a in [b];");
        assert!(e.message().contains("action group"), "{}", e.message());
        let e = err("entity U; action a appliesTo { principal: [U], resource: [X] };");
        assert_eq!(e.message(), "unknown entity type `X`");
    }

    #[test]
    fn rejects_duplicates_cycles_and_bad_contexts() {
        assert_eq!(
            err("entity A; entity A;").kind(),
            SchemaErrorKind::Duplicate
        );
        assert_eq!(
            err("entity A { x: Long, x: Long };").kind(),
            SchemaErrorKind::Duplicate
        );
        assert_eq!(
            err("action a; action a;").kind(),
            SchemaErrorKind::Duplicate
        );
        assert_eq!(
            err("type T = T; entity A { t: T };").kind(),
            SchemaErrorKind::Cycle
        );
        assert_eq!(
            err("type A = Set<B>; type B = { a: A }; entity E { a: A };").kind(),
            SchemaErrorKind::Cycle
        );
        assert!(err("action a appliesTo { context: Long };")
            .message()
            .contains("not a record"));
        assert!(err("type Long = String;").message().contains("reserved"));
        assert!(err("namespace A { namespace B {} }")
            .message()
            .contains("nested"));
        assert!(err("entity A { s: Set };").message().contains("Set"));
    }

    #[test]
    fn bounds_nesting_depth() {
        let deep = format!(
            "entity A {{ x: {}Long{} }};",
            "Set<".repeat(100),
            ">".repeat(100)
        );
        assert_eq!(err(&deep).kind(), SchemaErrorKind::TooLarge);
        let deep = format!(
            "entity A {{ x: {}{} }};",
            "{ y: ".repeat(100),
            "}".repeat(100)
        );
        assert_eq!(err(&deep).kind(), SchemaErrorKind::TooLarge);
    }

    #[test]
    fn suggestion_distance() {
        assert!(close("User", "Usr"));
        assert!(close("User", "Users"));
        assert!(close("User", "Uzer"));
        assert!(!close("User", "Group"));
    }
}
