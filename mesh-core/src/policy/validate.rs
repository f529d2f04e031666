//! `check`: validating policies against a [`Schema`], in the manner of
//! Cedar's strict validator.
//!
//! Each policy is type-checked once for every request environment its scope
//! admits (an action of the schema with one of its principal types and one of
//! its resource types). Reported, each with `file:line:column`, a caret
//! excerpt and a help line ([`DiagnosticKind::Validation`]):
//!
//! - unknown entity types and undeclared actions (scope, literals, `is`);
//! - a scope that admits no environment: the action does not apply to the
//!   principal or resource types the policy names;
//! - attributes not declared on the entity type or record;
//! - access to an optional attribute not guarded by `has` (`e has a && e.a`);
//! - type mismatches: operands of `&&`, `||`, `!`, `if`, comparisons,
//!   arithmetic, `in`, `like`, set and extension methods, and `==` between
//!   values of incompatible types.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::ast::{
    ActionScope, BinaryOp, ConditionKind, EntityScope, Expr, ExprKind, ExtFn, Method, Policy, Var,
};
use super::diagnostic::{Diagnostic, DiagnosticKind, Span};
use super::schema::{ActionDecl, ActionName, ExtensionType, RecordType, Schema, SchemaType};
use super::value::{EntityUid, Value};
use super::{parse_policies, PolicyError};

/// Parses `src` and, when a schema is given, validates the policies against
/// it.
///
/// # Errors
/// Every diagnostic found: the parse error, or all validation errors.
pub fn check(
    src: &str,
    file: &str,
    schema: Option<&Schema>,
) -> Result<Vec<Policy>, Vec<Diagnostic>> {
    let policies = parse_policies(src, file).map_err(|e| match e {
        PolicyError::Source(d) => vec![*d],
        other => vec![Diagnostic::new(
            DiagnosticKind::Syntax,
            other.to_string(),
            file,
            src,
            Span::default(),
        )],
    })?;
    if let Some(schema) = schema {
        let diags = validate(schema, &policies, src);
        if !diags.is_empty() {
            return Err(diags);
        }
    }
    Ok(policies)
}

/// Validates parsed policies against `schema`; `src` is the text they were
/// parsed from (for locations; policies from other texts are located within
/// their own source). Returns every diagnostic, in source order.
pub fn validate(schema: &Schema, policies: &[Policy], src: &str) -> Vec<Diagnostic> {
    let cache = Cache::new(schema);
    let mut out = Vec::new();
    for p in policies {
        let mut v = Validator {
            schema,
            cache: &cache,
            policy: p,
            src,
            diags: BTreeMap::new(),
        };
        v.policy();
        out.extend(v.diags.into_values());
    }
    out
}

/// The static type of an expression.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    /// Unknown (after an error, or an empty set's element).
    Any,
    Bool,
    Long,
    String,
    /// An entity of one of these types (empty: any entity).
    Entity(Vec<Arc<str>>),
    Set(Box<Ty>),
    Record(Arc<Rec>),
    Ext(ExtensionType),
}

#[derive(Clone, Debug, PartialEq, Default)]
struct Rec {
    attrs: BTreeMap<Arc<str>, (Ty, bool)>,
}

impl Ty {
    fn from_schema(t: &SchemaType) -> Ty {
        match t {
            SchemaType::Long => Ty::Long,
            SchemaType::String => Ty::String,
            SchemaType::Bool => Ty::Bool,
            SchemaType::Set(e) => Ty::Set(Box::new(Ty::from_schema(e))),
            SchemaType::Record(r) => Ty::Record(Arc::new(Rec::from_schema(r))),
            SchemaType::Entity(n) => Ty::Entity(vec![Arc::from(n.as_str())]),
            SchemaType::Extension(e) => Ty::Ext(*e),
        }
    }

    fn name(&self) -> String {
        match self {
            Ty::Any => "any value".to_owned(),
            Ty::Bool => "Bool".to_owned(),
            Ty::Long => "Long".to_owned(),
            Ty::String => "String".to_owned(),
            Ty::Entity(t) if t.is_empty() => "entity".to_owned(),
            Ty::Entity(t) => t.join(" | "),
            Ty::Set(e) => format!("Set<{}>", e.name()),
            Ty::Record(_) => "record".to_owned(),
            Ty::Ext(e) => e.name().to_owned(),
        }
    }

    /// Whether values of the two types may be compared with `==`.
    fn compatible(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Any, _) | (_, Ty::Any) => true,
            (Ty::Entity(_), Ty::Entity(_)) | (Ty::Record(_), Ty::Record(_)) => true,
            (Ty::Set(a), Ty::Set(b)) => a.compatible(b),
            (Ty::Ext(a), Ty::Ext(b)) => a == b,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// The least type covering both, if they are compatible.
    fn lub(self, other: Ty) -> Option<Ty> {
        match (self, other) {
            (Ty::Any, t) | (t, Ty::Any) => Some(t),
            (Ty::Entity(mut a), Ty::Entity(b)) => {
                if a.is_empty() || b.is_empty() {
                    return Some(Ty::Entity(Vec::new()));
                }
                for t in b {
                    if !a.contains(&t) {
                        a.push(t);
                    }
                }
                Some(Ty::Entity(a))
            }
            (Ty::Set(a), Ty::Set(b)) => a.lub(*b).map(|e| Ty::Set(Box::new(e))),
            (a, b) if a.compatible(&b) => Some(a),
            _ => None,
        }
    }
}

impl Rec {
    fn from_schema(r: &RecordType) -> Rec {
        Rec {
            attrs: r
                .attributes
                .iter()
                .map(|(k, a)| (Arc::from(k.as_str()), (Ty::from_schema(&a.ty), a.required)))
                .collect(),
        }
    }
}

/// One request environment.
struct Env {
    principal: Arc<str>,
    action_ty: Arc<str>,
    resource: Arc<str>,
    context: Arc<Rec>,
}

/// Types converted once per validation run: action contexts (actions with
/// equal contexts share one) and entity attributes.
struct Cache {
    contexts: BTreeMap<ActionName, Arc<Rec>>,
    entity_attrs: BTreeMap<String, Arc<Rec>>,
}

impl Cache {
    fn new(schema: &Schema) -> Cache {
        let mut contexts = BTreeMap::new();
        let mut distinct: Vec<(&RecordType, Arc<Rec>)> = Vec::new();
        for a in schema.actions() {
            let rec = match distinct.iter().find(|(r, _)| **r == a.context) {
                Some((_, rec)) => rec.clone(),
                None => {
                    let rec = Arc::new(Rec::from_schema(&a.context));
                    distinct.push((&a.context, rec.clone()));
                    rec
                }
            };
            contexts.insert(a.name.clone(), rec);
        }
        let entity_attrs = schema
            .entity_types()
            .map(|e| (e.name.clone(), Arc::new(Rec::from_schema(&e.attributes))))
            .collect();
        Cache {
            contexts,
            entity_attrs,
        }
    }
}

/// A fact known to hold where an expression is `true`.
#[derive(Clone, Debug, PartialEq)]
enum Fact {
    /// `path has attribute`.
    Has(String, Arc<str>),
    /// `path is Type`: the path's entity is of this type.
    Is(String, Arc<str>),
    /// The expression is never `true` in this environment (e.g. `principal
    /// is T` where the principal is never a `T`): what it guards is not
    /// type-checked, as Cedar does not check the right of `false && …`.
    Never,
}

/// Facts known to hold where an expression is `true`.
type Facts = Vec<Fact>;

fn never(facts: &Facts) -> bool {
    facts.contains(&Fact::Never)
}

struct Validator<'a> {
    schema: &'a Schema,
    cache: &'a Cache,
    policy: &'a Policy,
    src: &'a str,
    diags: BTreeMap<(u32, u32, String), Diagnostic>,
}

impl Validator<'_> {
    fn error(&mut self, span: Span, message: String, help: String) {
        let key = (span.start, span.end, message.clone());
        if self.diags.contains_key(&key) {
            return;
        }
        let p = self.policy;
        let in_src = Span::new(
            usize::try_from(p.offset).unwrap_or(usize::MAX),
            usize::try_from(p.offset)
                .unwrap_or(usize::MAX)
                .saturating_add(p.source.len()),
        )
        .slice(self.src)
            == &*p.source;
        let d = if in_src {
            Diagnostic::new(DiagnosticKind::Validation, message, &p.file, self.src, span)
        } else {
            let local = Span {
                start: span.start.saturating_sub(p.offset),
                end: span.end.saturating_sub(p.offset),
            };
            Diagnostic::new(
                DiagnosticKind::Validation,
                message,
                &p.file,
                &p.source,
                local,
            )
        };
        self.diags.insert(key, d.with_help(help));
    }

    /// The span of the first occurrence of `needle` in the policy's scope
    /// (before any condition), else of the policy's first line.
    fn scope_span(&self, needle: &str) -> Span {
        let p = self.policy;
        let head_end = p.conditions.first().map_or(p.source.len(), |c| {
            usize::try_from(c.span.start.saturating_sub(p.offset)).unwrap_or(0)
        });
        let head = p.source.get(..head_end).unwrap_or(&p.source);
        let start = head
            .find("permit")
            .or_else(|| head.find("forbid"))
            .unwrap_or(0);
        let (s, len) = match head.get(start..).and_then(|h| h.find(needle)) {
            Some(i) => (start + i, needle.len()),
            None => (start, 6),
        };
        let off = usize::try_from(p.offset).unwrap_or(0);
        Span::new(off + s, off + s + len)
    }

    fn known_type(&self, ty: &str) -> bool {
        self.schema.entity_type(ty).is_some() || self.schema.is_action_type(ty)
    }

    fn check_scope_uid(&mut self, uid: &EntityUid) -> bool {
        let ty = uid.entity_type().as_str();
        if self.schema.is_action_type(ty) {
            if self.schema.action(ty, uid.id()).is_none() {
                let span = self.scope_span(&format!("{ty}::"));
                self.error(
                    span,
                    format!("action `{uid}` is not declared in the schema"),
                    declared_actions(self.schema),
                );
                return false;
            }
            return true;
        }
        if !self.known_type(ty) {
            let span = self.scope_span(ty);
            self.error(
                span,
                format!("unknown entity type `{ty}`"),
                suggest_type(self.schema, ty),
            );
            return false;
        }
        true
    }

    fn check_scope_type(&mut self, ty: &str) -> bool {
        if !self.known_type(ty) {
            let span = self.scope_span(ty);
            self.error(
                span,
                format!("unknown entity type `{ty}`"),
                suggest_type(self.schema, ty),
            );
            return false;
        }
        true
    }

    fn entity_scope_ok(&mut self, s: &EntityScope) -> bool {
        match s {
            EntityScope::Any => true,
            EntityScope::Eq(u) | EntityScope::In(u) => self.check_scope_uid(u),
            EntityScope::Is(t) => self.check_scope_type(t.as_str()),
            EntityScope::IsIn(t, u) => {
                let a = self.check_scope_type(t.as_str());
                self.check_scope_uid(u) && a
            }
        }
    }

    fn scope_admits(&self, s: &EntityScope, ty: &str) -> bool {
        let schema = self.schema;
        match s {
            EntityScope::Any => true,
            EntityScope::Eq(u) => u.entity_type().as_str() == ty,
            EntityScope::In(u) => schema.can_be_member_of(ty, u.entity_type().as_str()),
            EntityScope::Is(t) => t.as_str() == ty,
            EntityScope::IsIn(t, u) => {
                t.as_str() == ty && schema.can_be_member_of(ty, u.entity_type().as_str())
            }
        }
    }

    fn action_admits(&self, s: &ActionScope, a: &ActionDecl) -> bool {
        let name_of = |u: &EntityUid| super::schema::ActionName {
            ty: u.entity_type().as_str().to_owned(),
            id: u.id().to_owned(),
        };
        match s {
            ActionScope::Any => true,
            ActionScope::Eq(u) => name_of(u) == a.name,
            ActionScope::In { actions, .. } => actions
                .iter()
                .any(|g| self.schema.action_in(&a.name, &name_of(g))),
        }
    }

    fn policy(&mut self) {
        let p = self.policy;
        let mut ok = self.entity_scope_ok(&p.principal);
        ok &= self.entity_scope_ok(&p.resource);
        match &p.action {
            ActionScope::Any => {}
            ActionScope::Eq(u) => ok &= self.check_scope_uid(u),
            ActionScope::In { actions, .. } => {
                for u in actions {
                    ok &= self.check_scope_uid(u);
                }
            }
        }
        if !ok {
            return;
        }
        let mut envs: Vec<Env> = Vec::new();
        let mut actions_matched = Vec::new();
        for a in self.schema.actions() {
            if !self.action_admits(&p.action, a) {
                continue;
            }
            actions_matched.push(a);
            for pt in &a.principal_types {
                if !self.scope_admits(&p.principal, pt) {
                    continue;
                }
                for rt in &a.resource_types {
                    if !self.scope_admits(&p.resource, rt) {
                        continue;
                    }
                    let Some(context) = self.cache.contexts.get(&a.name) else {
                        continue;
                    };
                    // Environments that type the same are checked once.
                    let same = envs.iter().any(|e| {
                        &*e.principal == pt.as_str()
                            && &*e.resource == rt.as_str()
                            && &*e.action_ty == a.name.ty.as_str()
                            && Arc::ptr_eq(&e.context, context)
                    });
                    if !same {
                        envs.push(Env {
                            principal: Arc::from(pt.as_str()),
                            action_ty: Arc::from(a.name.ty.as_str()),
                            resource: Arc::from(rt.as_str()),
                            context: context.clone(),
                        });
                    }
                }
            }
        }
        if envs.is_empty() {
            let help = match actions_matched.as_slice() {
                [] => "no action of the schema matches the action scope".to_owned(),
                list => list
                    .iter()
                    .take(4)
                    .map(|a| {
                        format!(
                            "`{}` applies to principals [{}] and resources [{}]",
                            a.name,
                            a.principal_types.join(", "),
                            a.resource_types.join(", ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            let span = self.scope_span("(");
            self.error(
                span,
                format!(
                    "policy `{}` can never apply: no action in its scope applies to the principal and resource types it names",
                    p.id
                ),
                help,
            );
            return;
        }
        for env in &envs {
            // `when` clauses hold together, as `&&`: what one proves
            // (`has`, `is`) holds in the clauses after it.
            let mut known: Facts = Vec::new();
            for c in &p.conditions {
                if never(&known) {
                    break;
                }
                let (t, f) = self.expr(&c.expr, env, &known);
                self.expect(
                    &c.expr,
                    &t,
                    &Ty::Bool,
                    "a `when` or `unless` condition must be a boolean",
                );
                if c.kind == ConditionKind::When {
                    known.extend(f);
                }
            }
        }
    }

    fn expect(&mut self, e: &Expr, found: &Ty, want: &Ty, help: &str) {
        if !found.compatible(want) {
            self.error(
                e.span,
                format!(
                    "type mismatch: expected `{}`, found `{}`",
                    want.name(),
                    found.name()
                ),
                help.to_owned(),
            );
        }
    }

    fn expect_entity(&mut self, e: &Expr, found: &Ty, help: &str) {
        if !matches!(found, Ty::Entity(_) | Ty::Any) {
            self.error(
                e.span,
                format!(
                    "type mismatch: expected an entity, found `{}`",
                    found.name()
                ),
                help.to_owned(),
            );
        }
    }

    fn expect_set(&mut self, e: &Expr, found: &Ty, help: &str) {
        if !matches!(found, Ty::Set(_) | Ty::Any) {
            self.error(
                e.span,
                format!("type mismatch: expected a set, found `{}`", found.name()),
                help.to_owned(),
            );
        }
    }

    fn lit(&mut self, v: &Value, span: Span) -> Ty {
        match v {
            Value::Bool(_) => Ty::Bool,
            Value::Long(_) => Ty::Long,
            Value::String(_) => Ty::String,
            Value::Entity(uid) => {
                let ty = uid.entity_type().as_str();
                if self.schema.is_action_type(ty) {
                    if self.schema.action(ty, uid.id()).is_none() {
                        self.error(
                            span,
                            format!("action `{uid}` is not declared in the schema"),
                            declared_actions(self.schema),
                        );
                    }
                } else if self.schema.entity_type(ty).is_none() {
                    self.error(
                        span,
                        format!("unknown entity type `{ty}`"),
                        suggest_type(self.schema, ty),
                    );
                    return Ty::Any;
                }
                Ty::Entity(vec![Arc::from(ty)])
            }
            Value::Set(s) => {
                let mut elem = Ty::Any;
                for v in s.iter() {
                    let t = self.lit(v, span);
                    elem = elem.lub(t).unwrap_or(Ty::Any);
                }
                Ty::Set(Box::new(elem))
            }
            Value::Record(r) => Ty::Record(Arc::new(Rec {
                attrs: r
                    .iter()
                    .map(|(k, v)| (Arc::from(k), (self.lit(v, span), true)))
                    .collect(),
            })),
            Value::Ip(_) => Ty::Ext(ExtensionType::IpAddr),
            Value::Decimal(_) => Ty::Ext(ExtensionType::Decimal),
        }
    }

    /// Types `e`; returns its type and the facts known when it is `true`.
    fn expr(&mut self, e: &Expr, env: &Env, facts: &Facts) -> (Ty, Facts) {
        let none = Vec::new;
        match &e.kind {
            ExprKind::Lit(v) => (self.lit(v, e.span), none()),
            ExprKind::Var(Var::Principal) => (
                narrow(e, Ty::Entity(vec![env.principal.clone()]), facts),
                none(),
            ),
            ExprKind::Var(Var::Resource) => (
                narrow(e, Ty::Entity(vec![env.resource.clone()]), facts),
                none(),
            ),
            ExprKind::Var(Var::Action) => (Ty::Entity(vec![env.action_ty.clone()]), none()),
            ExprKind::Var(Var::Context) => (Ty::Record(env.context.clone()), none()),
            ExprKind::Not(inner) => {
                let t = self.expr(inner, env, facts).0;
                self.expect(inner, &t, &Ty::Bool, "`!` negates a boolean");
                (Ty::Bool, none())
            }
            ExprKind::Neg(inner) => {
                let t = self.expr(inner, env, facts).0;
                self.expect(inner, &t, &Ty::Long, "`-` negates a Long");
                (Ty::Long, none())
            }
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, env, facts),
            ExprKind::If(c, a, b) => {
                let (ct, cf) = self.expr(c, env, facts);
                self.expect(c, &ct, &Ty::Bool, "the condition of `if` must be a boolean");
                let bt = self.expr(b, env, facts).0;
                if never(&cf) {
                    // The `then` branch is unreachable here.
                    return (bt, none());
                }
                let mut then_facts = facts.clone();
                then_facts.extend(cf);
                let at = self.expr(a, env, &then_facts).0;
                match at.clone().lub(bt.clone()) {
                    Some(t) => (t, none()),
                    None => {
                        self.error(
                            e.span,
                            format!(
                                "type mismatch: the branches of `if` have types `{}` and `{}`",
                                at.name(),
                                bt.name()
                            ),
                            "both branches must have the same type".to_owned(),
                        );
                        (Ty::Any, none())
                    }
                }
            }
            ExprKind::Has(inner, attr) => {
                let t = self.expr(inner, env, facts).0;
                if !matches!(t, Ty::Entity(_) | Ty::Record(_) | Ty::Any) {
                    self.error(
                        inner.span,
                        format!(
                            "type mismatch: `has` needs an entity or record, found `{}`",
                            t.name()
                        ),
                        "`has` tests whether an entity or record has an attribute".to_owned(),
                    );
                }
                let f = path_key(inner)
                    .map(|k| vec![Fact::Has(k, attr.clone())])
                    .unwrap_or_default();
                (Ty::Bool, f)
            }
            ExprKind::Attr(inner, attr) => {
                let t = self.expr(inner, env, facts).0;
                // The path's key is built only when some `has` fact may match.
                let guarded = facts.iter().any(|f| matches!(f, Fact::Has(..)))
                    && path_key(inner).is_some_and(|k| {
                        facts
                            .iter()
                            .any(|f| matches!(f, Fact::Has(fk, fa) if *fk == k && fa == attr))
                    });
                let t = self.attr(e, inner, &t, attr, guarded);
                (narrow(e, t, facts), none())
            }
            ExprKind::Like(inner, _) => {
                let t = self.expr(inner, env, facts).0;
                self.expect(
                    inner,
                    &t,
                    &Ty::String,
                    "`like` matches a String against a pattern",
                );
                (Ty::Bool, none())
            }
            ExprKind::Is(inner, ty, in_expr) => {
                let t = self.expr(inner, env, facts).0;
                self.expect_entity(inner, &t, "`is` tests the type of an entity");
                if !self.known_type(ty.as_str()) {
                    self.error(
                        e.span,
                        format!("unknown entity type `{}`", ty.as_str()),
                        suggest_type(self.schema, ty.as_str()),
                    );
                }
                if let Some(x) = in_expr {
                    let xt = self.expr(x, env, facts).0;
                    self.in_rhs(x, &xt);
                }
                // Narrowing: where `x is T` holds, `x` is a `T`; where `x`
                // can never be a `T`, it never holds.
                let f = match &t {
                    Ty::Entity(types)
                        if !types.is_empty() && !types.iter().any(|u| **u == *ty.as_str()) =>
                    {
                        vec![Fact::Never]
                    }
                    _ => path_key(inner)
                        .map(|k| vec![Fact::Is(k, Arc::from(ty.as_str()))])
                        .unwrap_or_default(),
                };
                (Ty::Bool, f)
            }
            ExprKind::Method(recv, m, args) => self.method(recv, *m, args, env, facts),
            ExprKind::Call(f, args) => {
                for a in args {
                    let t = self.expr(a, env, facts).0;
                    self.expect(
                        a,
                        &t,
                        &Ty::String,
                        "extension constructors take a string literal",
                    );
                }
                let t = match f {
                    ExtFn::Ip => ExtensionType::IpAddr,
                    ExtFn::Decimal => ExtensionType::Decimal,
                };
                (Ty::Ext(t), none())
            }
            ExprKind::Set(elems) => {
                let mut elem = Ty::Any;
                for x in elems {
                    let t = self.expr(x, env, facts).0;
                    match elem.clone().lub(t.clone()) {
                        Some(l) => elem = l,
                        None => self.error(
                            x.span,
                            format!(
                                "type mismatch: set elements have types `{}` and `{}`",
                                elem.name(),
                                t.name()
                            ),
                            "all elements of a set must have the same type".to_owned(),
                        ),
                    }
                }
                (Ty::Set(Box::new(elem)), none())
            }
            ExprKind::Record(fields) => {
                let mut rec = Rec::default();
                for (k, x) in fields {
                    let t = self.expr(x, env, facts).0;
                    rec.attrs.insert(k.clone(), (t, true));
                }
                (Ty::Record(Arc::new(rec)), none())
            }
        }
    }

    fn attr(&mut self, e: &Expr, inner: &Expr, t: &Ty, attr: &Arc<str>, guarded: bool) -> Ty {
        let policy = self.policy;
        let what = || policy_text(policy, inner.span);
        match t {
            Ty::Any | Ty::Entity(_)
                if matches!(t, Ty::Entity(v) if v.is_empty()) || *t == Ty::Any =>
            {
                Ty::Any
            }
            Ty::Entity(types) => {
                let mut result: Option<Ty> = None;
                for ty in types {
                    let Some(rec) = self.cache.entity_attrs.get(&**ty) else {
                        continue;
                    };
                    match rec.attrs.get(attr) {
                        None => {
                            let names: Vec<&str> = rec.attrs.keys().map(|k| &**k).collect();
                            self.error(
                                e.span,
                                format!("attribute `{attr}` not found on entity type `{ty}`"),
                                attr_help(attr, &names),
                            );
                            return Ty::Any;
                        }
                        Some((at, required)) => {
                            if !*required && !guarded {
                                self.error(
                                    e.span,
                                    format!("attribute `{attr}` of entity type `{ty}` is optional and may be missing"),
                                    format!("test it first: `{w} has {attr} && {w}.{attr}`", w = what()),
                                );
                            }
                            let at = at.clone();
                            result = Some(match result {
                                None => at,
                                Some(prev) => prev.lub(at).unwrap_or(Ty::Any),
                            });
                        }
                    }
                }
                result.unwrap_or(Ty::Any)
            }
            Ty::Record(rec) => match rec.attrs.get(attr) {
                None => {
                    let names: Vec<&str> = rec.attrs.keys().map(|k| &**k).collect();
                    self.error(
                        e.span,
                        format!("attribute `{attr}` not found on `{}`", what()),
                        attr_help(attr, &names),
                    );
                    Ty::Any
                }
                Some((at, required)) => {
                    if !*required && !guarded {
                        self.error(
                            e.span,
                            format!(
                                "attribute `{attr}` of `{}` is optional and may be missing",
                                what()
                            ),
                            format!("test it first: `{w} has {attr} && {w}.{attr}`", w = what()),
                        );
                    }
                    at.clone()
                }
            },
            other => {
                self.error(
                    inner.span,
                    format!(
                        "type mismatch: attribute access needs an entity or record, found `{}`",
                        other.name()
                    ),
                    "only entities and records have attributes".to_owned(),
                );
                Ty::Any
            }
        }
    }

    fn in_rhs(&mut self, x: &Expr, xt: &Ty) {
        match xt {
            Ty::Entity(_) | Ty::Any => {}
            Ty::Set(elem) if matches!(**elem, Ty::Entity(_) | Ty::Any) => {}
            other => self.error(
                x.span,
                format!(
                    "type mismatch: the right of `in` must be an entity or a set of entities, found `{}`",
                    other.name()
                ),
                "`in` tests membership in the entity hierarchy".to_owned(),
            ),
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        l: &Expr,
        r: &Expr,
        env: &Env,
        facts: &Facts,
    ) -> (Ty, Facts) {
        match op {
            BinaryOp::And => {
                let (lt, lf) = self.expr(l, env, facts);
                self.expect(l, &lt, &Ty::Bool, "`&&` combines booleans");
                if never(&lf) {
                    // `false && …`: the right is never evaluated here.
                    return (Ty::Bool, lf);
                }
                let mut rfacts = facts.clone();
                rfacts.extend(lf.iter().cloned());
                let (rt, rf) = self.expr(r, env, &rfacts);
                self.expect(r, &rt, &Ty::Bool, "`&&` combines booleans");
                let mut out = lf;
                out.extend(rf);
                (Ty::Bool, out)
            }
            BinaryOp::Or => {
                let lt = self.expr(l, env, facts).0;
                self.expect(l, &lt, &Ty::Bool, "`||` combines booleans");
                let rt = self.expr(r, env, facts).0;
                self.expect(r, &rt, &Ty::Bool, "`||` combines booleans");
                (Ty::Bool, Vec::new())
            }
            BinaryOp::Eq | BinaryOp::NotEq => {
                let lt = self.expr(l, env, facts).0;
                let rt = self.expr(r, env, facts).0;
                if !lt.compatible(&rt) {
                    self.error(
                        l.span.to(r.span),
                        format!(
                            "type mismatch: cannot compare `{}` with `{}`",
                            lt.name(),
                            rt.name()
                        ),
                        "values of different types are never equal; compare values of the same type".to_owned(),
                    );
                }
                (Ty::Bool, Vec::new())
            }
            BinaryOp::Less | BinaryOp::LessEq | BinaryOp::Greater | BinaryOp::GreaterEq => {
                let lt = self.expr(l, env, facts).0;
                let rt = self.expr(r, env, facts).0;
                let help =
                    "comparisons apply to Long values (use `.lessThan()` and friends for decimals)";
                self.expect(l, &lt, &Ty::Long, help);
                self.expect(r, &rt, &Ty::Long, help);
                (Ty::Bool, Vec::new())
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => {
                let lt = self.expr(l, env, facts).0;
                let rt = self.expr(r, env, facts).0;
                self.expect(l, &lt, &Ty::Long, "arithmetic applies to Long values");
                self.expect(r, &rt, &Ty::Long, "arithmetic applies to Long values");
                (Ty::Long, Vec::new())
            }
            BinaryOp::In => {
                let lt = self.expr(l, env, facts).0;
                self.expect_entity(
                    l,
                    &lt,
                    "`in` tests membership of an entity in the hierarchy",
                );
                let rt = self.expr(r, env, facts).0;
                self.in_rhs(r, &rt);
                (Ty::Bool, Vec::new())
            }
        }
    }

    fn method(
        &mut self,
        recv: &Expr,
        m: Method,
        args: &[Expr],
        env: &Env,
        facts: &Facts,
    ) -> (Ty, Facts) {
        let rt = self.expr(recv, env, facts).0;
        let ats: Vec<Ty> = args.iter().map(|a| self.expr(a, env, facts).0).collect();
        let name = m.signature().0;
        match m {
            Method::Contains => {
                self.expect_set(recv, &rt, "`.contains()` applies to sets");
                if let (Ty::Set(elem), Some(a), Some(at)) = (&rt, args.first(), ats.first()) {
                    if !elem.compatible(at) {
                        self.error(
                            a.span,
                            format!(
                                "type mismatch: a `{}` never contains a `{}`",
                                rt.name(),
                                at.name()
                            ),
                            "the argument must have the set's element type".to_owned(),
                        );
                    }
                }
            }
            Method::ContainsAll | Method::ContainsAny => {
                self.expect_set(recv, &rt, &format!("`.{name}()` applies to sets"));
                for (a, at) in args.iter().zip(&ats) {
                    self.expect_set(a, at, &format!("`.{name}()` takes a set"));
                }
            }
            Method::IsEmpty => self.expect_set(recv, &rt, "`.isEmpty()` applies to sets"),
            Method::IsIpv4
            | Method::IsIpv6
            | Method::IsLoopback
            | Method::IsMulticast
            | Method::IsInRange => {
                let ip = Ty::Ext(ExtensionType::IpAddr);
                let help = format!("`.{name}()` applies to ipaddr values, e.g. `ip(\"10.0.0.1\")`");
                self.expect(recv, &rt, &ip, &help);
                for (a, at) in args.iter().zip(&ats) {
                    self.expect(a, at, &ip, &help);
                }
            }
            Method::LessThan
            | Method::LessThanOrEqual
            | Method::GreaterThan
            | Method::GreaterThanOrEqual => {
                let d = Ty::Ext(ExtensionType::Decimal);
                let help =
                    format!("`.{name}()` applies to decimal values, e.g. `decimal(\"1.5\")`");
                self.expect(recv, &rt, &d, &help);
                for (a, at) in args.iter().zip(&ats) {
                    self.expect(a, at, &d, &help);
                }
            }
        }
        (Ty::Bool, Vec::new())
    }
}

/// `t` narrowed by an `is` fact on `e`'s path: an entity known to be of
/// type `T` has type `T` (when `T` is one of the types it may have).
fn narrow(e: &Expr, t: Ty, facts: &Facts) -> Ty {
    let Ty::Entity(types) = &t else { return t };
    if facts.iter().all(|f| !matches!(f, Fact::Is(..))) {
        return t;
    }
    let Some(k) = path_key(e) else { return t };
    for f in facts {
        if let Fact::Is(fk, ty) = f {
            if *fk == k && (types.is_empty() || types.iter().any(|u| u == ty)) {
                return Ty::Entity(vec![ty.clone()]);
            }
        }
    }
    t
}

/// A textual key for `principal`, `context.a.b`, … (for `has` facts).
fn path_key(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Var(v) => Some(v.name().to_owned()),
        ExprKind::Attr(inner, a) => path_key(inner).map(|k| format!("{k}.{a}")),
        ExprKind::Lit(Value::Entity(uid)) => Some(uid.to_string()),
        _ => None,
    }
}

fn policy_text(p: &Policy, span: Span) -> String {
    let t = p.text(span);
    if t.is_empty() || t.len() > 60 {
        "expr".to_owned()
    } else {
        t.to_owned()
    }
}

fn attr_help(attr: &str, names: &[&str]) -> String {
    if let Some(n) = names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(attr) || edit1(n, attr))
    {
        return format!("did you mean `{n}`?");
    }
    if names.is_empty() {
        "it declares no attributes".to_owned()
    } else {
        format!("declared attributes: {}", names.join(", "))
    }
}

fn suggest_type(schema: &Schema, ty: &str) -> String {
    if let Some(t) = schema
        .entity_types()
        .find(|t| t.name.eq_ignore_ascii_case(ty) || edit1(&t.name, ty))
    {
        return format!("did you mean `{}`?", t.name);
    }
    let names: Vec<&str> = schema
        .entity_types()
        .map(|t| t.name.as_str())
        .take(12)
        .collect();
    format!("declared entity types: {}", names.join(", "))
}

fn declared_actions(schema: &Schema) -> String {
    let names: Vec<String> = schema
        .actions()
        .take(12)
        .map(|a| a.name.to_string())
        .collect();
    format!("declared actions: {}", names.join(", "))
}

/// Whether two names differ by at most one character edit.
fn edit1(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 || a.len() < 3 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    prefix + suffix + 1 >= a.len().max(b.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"entity Role;
entity Group in [Role];
entity User in [Group, Role] { clearance: Long, department: String, contractor: Bool, email?: String };
entity Folder in [Folder] { owner_dept: String };
entity Document in [Folder] { classification: Long, owner: User, tags: Set<String> };
type Device = { managed: Bool, compliant: Bool, os: String };
type Ctx = { device: Device, risk: Long, mfa: Bool, ip: ipaddr, note?: String };
action read, write appliesTo { principal: [User], resource: [Document, Folder], context: Ctx };
action manage appliesTo { principal: [User], resource: [Role], context: Ctx };
"#;

    fn schema() -> Schema {
        Schema::from_cedarschema(SCHEMA, "s.cedarschema").unwrap()
    }

    fn errs(src: &str) -> Vec<Diagnostic> {
        match check(src, "p.cedar", Some(&schema())) {
            Ok(_) => Vec::new(),
            Err(d) => d,
        }
    }

    fn one(src: &str) -> Diagnostic {
        let d = errs(src);
        assert_eq!(d.len(), 1, "{d:#?}");
        d.into_iter().next().unwrap()
    }

    #[test]
    fn accepts_the_reference_workload_shapes() {
        let src = r#"
@id("a") forbid(principal, action, resource) when { context.risk >= 80 };
@id("b") forbid(principal, action in [Action::"write"], resource) unless { context.device.managed && context.device.compliant };
@id("c") forbid(principal, action, resource is Document) when { resource.classification > principal.clearance };
@id("d") permit(principal in Role::"r1", action == Action::"read", resource is Document in Folder::"f1") when { resource.classification <= principal.clearance && resource.tags.contains("team-1") };
@id("e") permit(principal in Group::"g1", action == Action::"read", resource in Folder::"f1") when { context.ip.isInRange(ip("10.0.0.0/8")) && context.risk < 60 };
@id("f") permit(principal, action, resource is Document) when { resource.owner == principal && context.risk < 70 };
@id("g") permit(principal, action, resource) when { principal has email && principal.email like "*@example.com" };
@id("h") permit(principal, action, resource) when { context has note && context.note == "x" };
@id("i") permit(principal, action, resource) when { if principal has email then principal.email != "" else false };
@id("j") permit(principal, action == Action::"manage", resource is Role);
"#;
        assert_eq!(errs(src), Vec::new());
    }

    #[test]
    fn is_narrows_the_type_of_what_it_tests() {
        let schema = Schema::from_cedarschema(
            r#"entity User { clearance: Long };
entity Service { team: String };
entity Doc { owner: User };
action call appliesTo { principal: [User, Service], resource: [Doc] };
"#,
            "s.cedarschema",
        )
        .unwrap();
        let errs = |body: &str| -> Vec<String> {
            let src = format!("permit(principal, action == Action::\"call\", resource) {body};");
            match check(&src, "p.cedar", Some(&schema)) {
                Ok(_) => Vec::new(),
                Err(d) => d.iter().map(|d| d.message().to_owned()).collect(),
            }
        };
        let not_on_service = "attribute `clearance` not found on entity type `Service`";
        // Without narrowing, a Service principal has no `clearance`.
        assert_eq!(errs("when { principal.clearance > 2 }"), [not_on_service]);
        for ok in [
            "when { principal is User && principal.clearance > 2 }",
            "when { principal is User } when { principal.clearance > 2 }",
            "when { if principal is User then principal.clearance > 2 else false }",
            "when { principal is Service && principal.team == \"ops\" }",
            "when { (principal is User && principal.clearance > 2) || (principal is Service && principal.team == \"x\") }",
            "when { resource.owner is User && resource.owner.clearance > 1 }",
        ] {
            assert_eq!(errs(ok), Vec::<String>::new(), "{ok}");
        }
        // Narrowing hides nothing that is wrong for the narrowed type.
        assert_eq!(
            errs("when { principal is User && principal.team == \"x\" }"),
            ["attribute `team` not found on entity type `User`"]
        );
        assert_eq!(
            errs("when { principal is Service && principal.clearance > 2 }"),
            [not_on_service]
        );
        // `||` proves nothing about either side.
        assert_eq!(
            errs("when { (principal is User || principal has team) && principal.clearance > 2 }"),
            [not_on_service]
        );
    }

    #[test]
    fn reports_unknown_entity_types_with_location() {
        let d = one("permit(principal is Usr, action, resource);");
        assert_eq!(d.kind(), DiagnosticKind::Validation);
        assert_eq!(d.message(), "unknown entity type `Usr`");
        assert_eq!((d.line(), d.column()), (1, 21));
        assert_eq!(d.help(), Some("did you mean `User`?"));
        assert!(d.render().contains("^^^"), "{}", d.render());
        let d = one("permit(principal, action, resource) when {\n  resource in Foldr::\"x\" };");
        assert_eq!(d.message(), "unknown entity type `Foldr`");
        assert_eq!((d.line(), d.column()), (2, 15));
        let d = one("permit(principal, action == Action::\"fly\", resource);");
        assert!(d.message().contains("not declared"), "{}", d.message());
    }

    #[test]
    fn reports_unknown_and_optional_attributes() {
        let d = one("permit(principal, action, resource) when { principal.clearence > 1 };");
        assert_eq!(
            d.message(),
            "attribute `clearence` not found on entity type `User`"
        );
        assert_eq!(d.help(), Some("did you mean `clearance`?"));
        assert_eq!(d.column(), 44);
        let d =
            one("permit(principal, action, resource) when { context.device.color == \"red\" };");
        assert!(
            d.message()
                .contains("`color` not found on `context.device`"),
            "{}",
            d.message()
        );
        let d = one("permit(principal, action, resource) when { principal.email == \"a\" };");
        assert!(d.message().contains("optional"), "{}", d.message());
        assert!(
            d.help().unwrap().contains("principal has email"),
            "{:?}",
            d.help()
        );
        // Guard under `||` does not count.
        let d = one("permit(principal, action, resource) when { principal has email || principal.email == \"a\" };");
        assert!(d.message().contains("optional"));
        // Folder has no classification: the policy admits Folder resources.
        let d = one("permit(principal, action in [Action::\"read\"], resource) when { resource.classification > 1 };");
        assert_eq!(
            d.message(),
            "attribute `classification` not found on entity type `Folder`"
        );
    }

    #[test]
    fn reports_type_mismatches() {
        let d = one("permit(principal, action, resource) when { context.risk && true };");
        assert_eq!(d.message(), "type mismatch: expected `Bool`, found `Long`");
        let d = one("permit(principal, action, resource) when { principal.department < 3 };");
        assert_eq!(
            d.message(),
            "type mismatch: expected `Long`, found `String`"
        );
        let d = one("permit(principal, action, resource) when { context.risk == \"high\" };");
        assert_eq!(
            d.message(),
            "type mismatch: cannot compare `Long` with `String`"
        );
        let d = one("permit(principal, action, resource) when { context.risk };");
        assert!(d.help().unwrap().contains("condition must be a boolean"));
        let d = one(
            "permit(principal, action, resource) when { context.ip.lessThan(decimal(\"1.0\")) };",
        );
        assert!(
            d.message().contains("expected `decimal`, found `ipaddr`"),
            "{}",
            d.message()
        );
        let d = one(
            "permit(principal, action, resource is Document) when { resource.tags.contains(3) };",
        );
        assert!(d.message().contains("never contains"), "{}", d.message());
        let d = one("permit(principal, action, resource) when { principal in 3 };");
        assert!(d.message().contains("right of `in`"), "{}", d.message());
        let d = one("permit(principal, action, resource) when { [1, \"a\"].isEmpty() };");
        assert!(d.message().contains("set elements"), "{}", d.message());
    }

    #[test]
    fn reports_actions_that_do_not_apply() {
        let d = one("permit(principal, action == Action::\"manage\", resource is Document);");
        assert!(d.message().contains("can never apply"), "{}", d.message());
        assert!(
            d.help().unwrap().contains("resources [Role]"),
            "{:?}",
            d.help()
        );
        let d = one("permit(principal, action == Action::\"read\", resource is Role);");
        assert!(d.message().contains("can never apply"));
    }

    #[test]
    fn locations_are_relative_to_the_file() {
        let src = "@id(\"ok\")\npermit(principal, action, resource);\n\n@id(\"bad\")\npermit(principal, action, resource)\nwhen { principal.nope };";
        let d = errs(src);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!((d[0].line(), d[0].column()), (6, 8));
        assert_eq!(d[0].file(), "p.cedar");
        // Parse errors come back as diagnostics too.
        let d = errs("permit(principal action, resource);");
        assert_eq!(d[0].kind(), DiagnosticKind::Syntax);
        // Without a schema only parsing is checked.
        assert!(check("permit(principal, action, resource) when { 1 };", "p", None).is_ok());
    }
}
