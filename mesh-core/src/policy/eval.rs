//! Expression evaluation with Cedar's semantics.
//!
//! Values are borrowed from the policy, the request and the entity store
//! wherever possible, so evaluating the usual conditions allocates nothing.

use std::borrow::Cow;
use std::fmt;

use super::ast::{BinaryOp, Expr, ExprKind, ExtFn, Method, Var};
use super::diagnostic::Span;
use super::entities::{Entities, Entity};
use super::ext::{Decimal, IpNet};
use super::value::{EntityUid, Record, Set, Value};

/// Why evaluating a policy's condition failed. In Cedar such a policy does
/// not apply; in mesh a failing `forbid` applies (fail closed) unless the
/// policy set uses [`super::ErrorMode::SkipOnError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvalError<'p> {
    /// An operand had the wrong type, e.g. `"a" < 1`.
    TypeMismatch {
        /// The operator or method.
        op: &'static str,
        /// The expected type(s).
        expected: &'static str,
        /// The type found.
        found: &'static str,
        /// Where, in the policy source.
        span: Span,
    },
    /// An attribute was read that does not exist (use `has` first).
    MissingAttribute {
        /// The attribute.
        attr: &'p str,
        /// Where, in the policy source.
        span: Span,
    },
    /// Attributes were read from an entity that is not in the store.
    UnknownEntity {
        /// Where, in the policy source.
        span: Span,
    },
    /// Long arithmetic overflowed.
    Overflow {
        /// The operator.
        op: &'static str,
        /// Where, in the policy source.
        span: Span,
    },
    /// `ip(…)` or `decimal(…)` got a string it cannot parse.
    BadExtensionValue {
        /// The function.
        func: &'static str,
        /// Where, in the policy source.
        span: Span,
    },
}

impl EvalError<'_> {
    /// Where the error happened, in the policy source.
    pub fn span(&self) -> Span {
        match self {
            EvalError::TypeMismatch { span, .. }
            | EvalError::MissingAttribute { span, .. }
            | EvalError::UnknownEntity { span }
            | EvalError::Overflow { span, .. }
            | EvalError::BadExtensionValue { span, .. } => *span,
        }
    }

    /// The same error at another place: `f` maps its span.
    pub(crate) fn with_span(mut self, f: impl FnOnce(Span) -> Span) -> Self {
        match &mut self {
            EvalError::TypeMismatch { span, .. }
            | EvalError::MissingAttribute { span, .. }
            | EvalError::UnknownEntity { span }
            | EvalError::Overflow { span, .. }
            | EvalError::BadExtensionValue { span, .. } => *span = f(*span),
        }
        self
    }

    /// A stable snake_case name for the error kind.
    pub fn kind_str(&self) -> &'static str {
        match self {
            EvalError::TypeMismatch { .. } => "type_mismatch",
            EvalError::MissingAttribute { .. } => "missing_attribute",
            EvalError::UnknownEntity { .. } => "unknown_entity",
            EvalError::Overflow { .. } => "overflow",
            EvalError::BadExtensionValue { .. } => "bad_extension_value",
        }
    }
}

impl fmt::Display for EvalError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::TypeMismatch {
                op,
                expected,
                found,
                ..
            } => write!(
                f,
                "type mismatch in `{op}`: expected {expected}, found {found}"
            ),
            EvalError::MissingAttribute { attr, .. } => {
                write!(f, "attribute `{attr}` does not exist")
            }
            EvalError::UnknownEntity { .. } => {
                f.write_str("entity does not exist in the entity store")
            }
            EvalError::Overflow { op, .. } => write!(f, "integer overflow in `{op}`"),
            EvalError::BadExtensionValue { func, .. } => {
                write!(f, "invalid argument to `{func}`")
            }
        }
    }
}

/// What an expression is evaluated against.
pub(crate) struct Env<'r> {
    pub principal: &'r Value,
    pub action: &'r Value,
    pub resource: &'r Value,
    pub context: &'r Value,
    pub entities: &'r Entities,
    /// The principal's entity when the request carries it (built from an
    /// identity) or when found in the store.
    pub principal_entity: Option<&'r Entity>,
    pub resource_entity: Option<&'r Entity>,
    pub action_entity: Option<&'r Entity>,
}

impl<'r> Env<'r> {
    /// The entity data for `uid`: the request's own principal, else the store.
    pub fn entity(&self, uid: &EntityUid) -> Option<&'r Entity> {
        // The request's own principal and resource, by address (the usual
        // case: `principal.x` reads the uid the request holds).
        if let Value::Entity(p) = self.principal {
            if std::ptr::eq(p, uid) && self.principal_entity.is_some() {
                return self.principal_entity;
            }
        }
        if let Value::Entity(r) = self.resource {
            if std::ptr::eq(r, uid) && self.resource_entity.is_some() {
                return self.resource_entity;
            }
        }
        for e in [
            self.principal_entity,
            self.resource_entity,
            self.action_entity,
        ]
        .into_iter()
        .flatten()
        {
            if e.uid() == uid {
                return Some(e);
            }
        }
        self.entities.get(uid)
    }

    /// `a in b` for entities: equal, or `b` is an ancestor of `a`.
    pub fn entity_in(&self, a: &EntityUid, b: &EntityUid) -> bool {
        a == b || self.entity(a).is_some_and(|e| e.is_descendant_of(b))
    }
}

type R<'x, 'p> = Result<Cow<'x, Value>, EvalError<'p>>;

fn mismatch<'p>(op: &'static str, expected: &'static str, v: &Value, span: Span) -> EvalError<'p> {
    EvalError::TypeMismatch {
        op,
        expected,
        found: v.type_name(),
        span,
    }
}

fn as_bool<'p>(v: &Value, op: &'static str, span: Span) -> Result<bool, EvalError<'p>> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(mismatch(op, "Bool", other, span)),
    }
}

fn as_long<'p>(v: &Value, op: &'static str, span: Span) -> Result<i64, EvalError<'p>> {
    match v {
        Value::Long(n) => Ok(*n),
        other => Err(mismatch(op, "Long", other, span)),
    }
}

fn as_set<'a, 'p>(v: &'a Value, op: &'static str, span: Span) -> Result<&'a Set, EvalError<'p>> {
    match v {
        Value::Set(s) => Ok(s),
        other => Err(mismatch(op, "Set", other, span)),
    }
}

fn as_ip<'p>(v: &Value, op: &'static str, span: Span) -> Result<IpNet, EvalError<'p>> {
    match v {
        Value::Ip(ip) => Ok(*ip),
        other => Err(mismatch(op, "ipaddr", other, span)),
    }
}

fn as_decimal<'p>(v: &Value, op: &'static str, span: Span) -> Result<Decimal, EvalError<'p>> {
    match v {
        Value::Decimal(d) => Ok(*d),
        other => Err(mismatch(op, "decimal", other, span)),
    }
}

fn owned<'x>(v: Value) -> Cow<'x, Value> {
    Cow::Owned(v)
}

/// Evaluates a condition to a Bool.
///
/// The boolean operators and comparisons are evaluated here directly, with
/// the same order of evaluation and the same errors as [`eval`], so that
/// their results are not wrapped into values and unwrapped again; every
/// other expression goes through [`eval`].
pub(crate) fn eval_bool<'x, 'p: 'x>(
    e: &'p Expr,
    env: &Env<'x>,
    op: &'static str,
) -> Result<bool, EvalError<'p>> {
    match &e.kind {
        ExprKind::Binary(BinaryOp::And, l, r) => {
            Ok(eval_bool(l, env, "&&")? && eval_bool(r, env, "&&")?)
        }
        ExprKind::Binary(BinaryOp::Or, l, r) => {
            Ok(eval_bool(l, env, "||")? || eval_bool(r, env, "||")?)
        }
        ExprKind::Not(x) => Ok(!eval_bool(x, env, "!")?),
        ExprKind::Binary(
            cmp @ (BinaryOp::Less | BinaryOp::LessEq | BinaryOp::Greater | BinaryOp::GreaterEq),
            l,
            r,
        ) => {
            let (lv, rv) = (eval(l, env)?, eval(r, env)?);
            order(*cmp, &lv, &rv, l, r)
        }
        ExprKind::Binary(BinaryOp::Eq, l, r) => {
            let (lv, rv) = (eval(l, env)?, eval(r, env)?);
            Ok(*lv == *rv)
        }
        ExprKind::Binary(BinaryOp::NotEq, l, r) => {
            let (lv, rv) = (eval(l, env)?, eval(r, env)?);
            Ok(*lv != *rv)
        }
        _ => {
            let v = eval(e, env)?;
            as_bool(&v, op, e.span)
        }
    }
}

/// Evaluates an expression.
pub(crate) fn eval<'x, 'p: 'x>(e: &'p Expr, env: &Env<'x>) -> R<'x, 'p> {
    let span = e.span;
    match &e.kind {
        ExprKind::Lit(v) => Ok(Cow::Borrowed(v)),
        ExprKind::Var(var) => Ok(Cow::Borrowed(match var {
            Var::Principal => env.principal,
            Var::Action => env.action,
            Var::Resource => env.resource,
            Var::Context => env.context,
        })),
        ExprKind::Not(x) => Ok(owned(Value::Bool(!eval_bool(x, env, "!")?))),
        ExprKind::Neg(x) => {
            let n = as_long(&*eval(x, env)?, "-", span)?;
            n.checked_neg()
                .map(|v| owned(Value::Long(v)))
                .ok_or(EvalError::Overflow { op: "-", span })
        }
        ExprKind::Binary(op, l, r) => binary(*op, l, r, span, env),
        ExprKind::If(c, a, b) => {
            if eval_bool(c, env, "if")? {
                eval(a, env)
            } else {
                eval(b, env)
            }
        }
        ExprKind::Has(x, attr) => {
            let v = eval(x, env)?;
            let has = match &*v {
                Value::Entity(uid) => env
                    .entity(uid)
                    .is_some_and(|ent| ent.attrs().get(attr).is_some()),
                Value::Record(r) => r.get(attr).is_some(),
                other => return Err(mismatch("has", "Entity or Record", other, span)),
            };
            Ok(owned(Value::Bool(has)))
        }
        ExprKind::Attr(x, attr) => {
            let v = eval(x, env)?;
            let missing = || EvalError::MissingAttribute { attr, span };
            match v {
                Cow::Borrowed(Value::Entity(uid)) => {
                    let ent = env.entity(uid).ok_or(EvalError::UnknownEntity { span })?;
                    ent.attrs().get(attr).map(Cow::Borrowed).ok_or_else(missing)
                }
                Cow::Borrowed(Value::Record(r)) => {
                    r.get(attr).map(Cow::Borrowed).ok_or_else(missing)
                }
                Cow::Owned(Value::Entity(uid)) => {
                    let ent = env.entity(&uid).ok_or(EvalError::UnknownEntity { span })?;
                    ent.attrs().get(attr).map(Cow::Borrowed).ok_or_else(missing)
                }
                Cow::Owned(Value::Record(r)) => r.get(attr).cloned().map(owned).ok_or_else(missing),
                other => Err(mismatch(".", "Entity or Record", &other, span)),
            }
        }
        ExprKind::Like(x, pat) => match &*eval(x, env)? {
            Value::String(s) => Ok(owned(Value::Bool(pat.matches(s)))),
            other => Err(mismatch("like", "String", other, span)),
        },
        ExprKind::Is(x, ty, within) => {
            let v = eval(x, env)?;
            let Value::Entity(uid) = &*v else {
                return Err(mismatch("is", "Entity", &v, span));
            };
            if uid.entity_type() != ty {
                return Ok(owned(Value::Bool(false)));
            }
            match within {
                None => Ok(owned(Value::Bool(true))),
                Some(w) => {
                    let target = eval(w, env)?;
                    in_op(uid, &target, env, span).map(|b| owned(Value::Bool(b)))
                }
            }
        }
        ExprKind::Method(recv, m, args) => method(*m, recv, args, span, env),
        ExprKind::Call(f, args) => {
            let arg = match args.first() {
                Some(a) => eval(a, env)?,
                None => {
                    return Err(EvalError::BadExtensionValue {
                        func: f.name(),
                        span,
                    })
                }
            };
            let Value::String(s) = &*arg else {
                return Err(mismatch(f.name(), "String", &arg, span));
            };
            let bad = EvalError::BadExtensionValue {
                func: f.name(),
                span,
            };
            match f {
                ExtFn::Ip => IpNet::parse(s).map(|v| owned(Value::Ip(v))).ok_or(bad),
                ExtFn::Decimal => Decimal::parse(s)
                    .map(|v| owned(Value::Decimal(v)))
                    .ok_or(bad),
            }
        }
        ExprKind::Set(items) => {
            let mut vals = Vec::with_capacity(items.len());
            for it in items {
                vals.push(eval(it, env)?.into_owned());
            }
            Ok(owned(Value::Set(Set::new(vals))))
        }
        ExprKind::Record(fields) => {
            let mut vals = Vec::with_capacity(fields.len());
            for (k, it) in fields {
                vals.push((k.clone(), eval(it, env)?.into_owned()));
            }
            // The parser rejects duplicate keys.
            Record::new(vals)
                .map(|r| owned(Value::Record(r)))
                .map_err(|_| EvalError::MissingAttribute { attr: "", span })
        }
    }
}

fn in_op<'p>(
    uid: &EntityUid,
    target: &Value,
    env: &Env<'_>,
    span: Span,
) -> Result<bool, EvalError<'p>> {
    match target {
        Value::Entity(t) => Ok(env.entity_in(uid, t)),
        Value::Set(s) => {
            let mut found = false;
            for v in s.iter() {
                match v {
                    Value::Entity(t) => found = found || env.entity_in(uid, t),
                    other => return Err(mismatch("in", "Entity", other, span)),
                }
            }
            Ok(found)
        }
        other => Err(mismatch("in", "Entity or Set", other, span)),
    }
}

/// `lv op rv` for an order comparison (`<`, `<=`, `>`, `>=`) of Longs;
/// `l` and `r` locate a type error.
fn order<'p>(
    op: BinaryOp,
    lv: &Value,
    rv: &Value,
    l: &Expr,
    r: &Expr,
) -> Result<bool, EvalError<'p>> {
    let name = op.as_str();
    let x = as_long(lv, name, l.span)?;
    let y = as_long(rv, name, r.span)?;
    Ok(match op {
        BinaryOp::Less => x < y,
        BinaryOp::LessEq => x <= y,
        BinaryOp::Greater => x > y,
        _ => x >= y,
    })
}

fn binary<'x, 'p: 'x>(
    op: BinaryOp,
    l: &'p Expr,
    r: &'p Expr,
    span: Span,
    env: &Env<'x>,
) -> R<'x, 'p> {
    let b = |v: bool| Ok(owned(Value::Bool(v)));
    match op {
        BinaryOp::And => {
            if !eval_bool(l, env, "&&")? {
                return b(false);
            }
            b(eval_bool(r, env, "&&")?)
        }
        BinaryOp::Or => {
            if eval_bool(l, env, "||")? {
                return b(true);
            }
            b(eval_bool(r, env, "||")?)
        }
        _ => {
            let lv = eval(l, env)?;
            let rv = eval(r, env)?;
            let name = op.as_str();
            match op {
                BinaryOp::Eq => b(*lv == *rv),
                BinaryOp::NotEq => b(*lv != *rv),
                BinaryOp::Less | BinaryOp::LessEq | BinaryOp::Greater | BinaryOp::GreaterEq => {
                    b(order(op, &lv, &rv, l, r)?)
                }
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => {
                    let x = as_long(&lv, name, l.span)?;
                    let y = as_long(&rv, name, r.span)?;
                    let v = match op {
                        BinaryOp::Add => x.checked_add(y),
                        BinaryOp::Sub => x.checked_sub(y),
                        _ => x.checked_mul(y),
                    };
                    v.map(|n| owned(Value::Long(n)))
                        .ok_or(EvalError::Overflow { op: name, span })
                }
                BinaryOp::In => {
                    let Value::Entity(uid) = &*lv else {
                        return Err(mismatch("in", "Entity", &lv, l.span));
                    };
                    b(in_op(uid, &rv, env, r.span)?)
                }
                BinaryOp::And | BinaryOp::Or => b(false),
            }
        }
    }
}

fn method<'x, 'p: 'x>(
    m: Method,
    recv: &'p Expr,
    args: &'p [Expr],
    span: Span,
    env: &Env<'x>,
) -> R<'x, 'p> {
    let name = m.signature().0;
    let rv = eval(recv, env)?;
    let arg = match args.first() {
        Some(a) => Some(eval(a, env)?),
        None => None,
    };
    let b = |v: bool| Ok(owned(Value::Bool(v)));
    let need_arg = |a: &Option<Cow<'x, Value>>| -> Result<Cow<'x, Value>, EvalError<'p>> {
        a.clone().ok_or(EvalError::TypeMismatch {
            op: name,
            expected: "an argument",
            found: "nothing",
            span,
        })
    };
    match m {
        Method::Contains => {
            let s = as_set(&rv, name, recv.span)?;
            b(s.contains(&*need_arg(&arg)?))
        }
        Method::ContainsAll | Method::ContainsAny => {
            let s = as_set(&rv, name, recv.span)?;
            let a = need_arg(&arg)?;
            let other = as_set(&a, name, span)?;
            if m == Method::ContainsAll {
                b(other.iter().all(|v| s.contains(v)))
            } else {
                b(other.iter().any(|v| s.contains(v)))
            }
        }
        Method::IsEmpty => b(as_set(&rv, name, recv.span)?.is_empty()),
        Method::IsIpv4 => b(as_ip(&rv, name, recv.span)?.is_ipv4()),
        Method::IsIpv6 => b(as_ip(&rv, name, recv.span)?.is_ipv6()),
        Method::IsLoopback => b(as_ip(&rv, name, recv.span)?.is_loopback()),
        Method::IsMulticast => b(as_ip(&rv, name, recv.span)?.is_multicast()),
        Method::IsInRange => {
            let ip = as_ip(&rv, name, recv.span)?;
            let range = as_ip(&*need_arg(&arg)?, name, span)?;
            b(ip.is_in_range(&range))
        }
        Method::LessThan
        | Method::LessThanOrEqual
        | Method::GreaterThan
        | Method::GreaterThanOrEqual => {
            let x = as_decimal(&rv, name, recv.span)?;
            let y = as_decimal(&*need_arg(&arg)?, name, span)?;
            b(match m {
                Method::LessThan => x < y,
                Method::LessThanOrEqual => x <= y,
                Method::GreaterThan => x > y,
                _ => x >= y,
            })
        }
    }
}
