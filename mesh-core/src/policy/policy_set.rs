//! Compiled, indexed policy sets and the decision procedure.
//!
//! Policies are compiled once: constant sub-expressions are folded (set and
//! record literals, `ip("…")`, `decimal("…")`), annotations are read into
//! obligations and advice, and every policy is filed in a three-level index
//! (action → principal → resource) under the entity (or entity type) its
//! scope names; open scopes go to an "any" slot at their level. A request
//! walks only the slots for its action, principal and resource and their
//! ancestors, so the cost grows with the policies that can apply, not with
//! the size of the set. Deciding allocates nothing in the usual case.

use std::sync::Arc;

use super::ast::{ActionScope, ConditionKind, Effect, EntityScope, Expr, ExprKind, ExtFn, Policy};
use super::decision::{parse_duration, Decision, ErrorMode, Obligation, Outcome, Reason};
use super::diagnostic::DiagnosticKind;
use super::entities::{Entities, Entity, KeyMap};
use super::eval::{eval_bool, Env, EvalError};
use super::ext::{Decimal, IpNet};
use super::parser::parse_policies;
use super::request::Request;
use super::value::{EntityUid, Record, Set, Value};
use super::PolicyError;

#[derive(Default, Debug, Clone)]
struct RNode {
    by_key: KeyMap<u64, Vec<u32>>,
    any: Vec<u32>,
}

#[derive(Default, Debug, Clone)]
struct PNode {
    by_key: KeyMap<u64, RNode>,
    any: RNode,
}

#[derive(Default, Debug, Clone)]
struct Index {
    by_action: KeyMap<u64, PNode>,
    any: PNode,
}

fn scope_key(s: &EntityScope) -> Option<u64> {
    match s {
        EntityScope::Any => None,
        EntityScope::Eq(e) | EntityScope::In(e) | EntityScope::IsIn(_, e) => Some(e.key()),
        EntityScope::Is(t) => Some(t.key()),
    }
}

/// The index keys of one request side: the entity, its type, its ancestors.
#[derive(Clone, Copy)]
struct Keys<'a> {
    uid: u64,
    ty: u64,
    ancestors: &'a [EntityUid],
}

impl Keys<'_> {
    fn contains(&self, k: u64) -> bool {
        self.uid == k || self.ty == k || self.ancestors.iter().any(|a| a.key() == k)
    }

    /// Calls `f` with the value of every key of `map` that is one of these
    /// keys: probes the map for each key, or, for a map smaller than the key
    /// list, scans the map.
    fn matches<'m, V>(&self, map: &'m KeyMap<u64, V>, mut f: impl FnMut(&'m V)) {
        if map.is_empty() {
            return;
        }
        if map.len() < 2 + self.ancestors.len() {
            for (k, v) in map {
                if self.contains(*k) {
                    f(v);
                }
            }
        } else {
            self.for_each(|k| {
                if let Some(v) = map.get(&k) {
                    f(v);
                }
            });
        }
    }

    fn for_each(&self, mut f: impl FnMut(u64)) {
        f(self.uid);
        f(self.ty);
        for a in self.ancestors {
            f(a.key());
        }
    }
}

impl Index {
    fn insert(&mut self, p: &Policy, idx: u32) {
        let akeys: Vec<Option<u64>> = match &p.action {
            ActionScope::Any => vec![None],
            ActionScope::Eq(a) => vec![Some(a.key())],
            ActionScope::In { actions, .. } => {
                let mut ks: Vec<Option<u64>> = actions.iter().map(|a| Some(a.key())).collect();
                ks.sort_unstable();
                ks.dedup();
                ks
            }
        };
        for ak in akeys {
            let pnode = match ak {
                None => &mut self.any,
                Some(k) => self.by_action.entry(k).or_default(),
            };
            let rnode = match scope_key(&p.principal) {
                None => &mut pnode.any,
                Some(k) => pnode.by_key.entry(k).or_default(),
            };
            let list = match scope_key(&p.resource) {
                None => &mut rnode.any,
                Some(k) => rnode.by_key.entry(k).or_default(),
            };
            list.push(idx);
        }
    }

    fn visit(
        &self,
        action: Keys<'_>,
        principal: Keys<'_>,
        resource: Keys<'_>,
        f: &mut impl FnMut(u32),
    ) {
        let on_p = |pnode: &PNode, f: &mut dyn FnMut(u32)| {
            let on_r = |rnode: &RNode, f: &mut dyn FnMut(u32)| {
                for &i in &rnode.any {
                    f(i);
                }
                resource.matches(&rnode.by_key, |list| {
                    for &i in list {
                        f(i);
                    }
                });
            };
            on_r(&pnode.any, f);
            principal.matches(&pnode.by_key, |r| on_r(r, f));
        };
        on_p(&self.any, f);
        action.matches(&self.by_action, |p| on_p(p, f));
    }
}

/// Per-policy data read from annotations at compile time.
#[derive(Clone, Debug, Default)]
struct Meta {
    obligation: Option<Obligation>,
    advice: Option<Arc<str>>,
    /// Filed under several action keys: may be visited more than once.
    multi: bool,
    /// Slot in the per-decision memo shared by every policy whose
    /// conditions are textually identical (`None`: not shared, or too many).
    memo: Option<u8>,
}

/// Size of the per-decision memo of shared conditions.
const MEMO_SLOTS: usize = 128;

/// Per-decision memo of shared conditions: 0 unknown, 1 false, 2 true.
/// Only error-free results are memoized (an error is re-evaluated in each
/// policy, so that it points into that policy's own text).
struct Memo([u8; MEMO_SLOTS]);

impl Memo {
    fn eval<'p>(&mut self, p: &'p Policy, m: &Meta, env: &Env<'_>) -> Result<bool, EvalError<'p>> {
        let Some(slot) = m.memo.and_then(|i| self.0.get_mut(usize::from(i))) else {
            return conditions_hold(p, env);
        };
        match *slot {
            1 => Ok(false),
            2 => Ok(true),
            _ => {
                let r = conditions_hold(p, env);
                if let Ok(b) = r {
                    *slot = if b { 2 } else { 1 };
                }
                r
            }
        }
    }
}

/// Assigns memo slots to conditions shared by several policies, most
/// frequent first.
fn assign_memo_slots(policies: &[Policy], meta: &mut [Meta]) {
    let mut groups: std::collections::HashMap<String, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, p) in policies.iter().enumerate() {
        if p.conditions.is_empty() {
            continue;
        }
        // The key is the clauses' source text; a policy whose `source` does
        // not hold its spans' text is never shared.
        let mut key = String::new();
        let mut ok = true;
        for c in &p.conditions {
            let t = p.text(c.span);
            ok &= !t.is_empty() && t.len() == c.span.end.saturating_sub(c.span.start) as usize;
            key.push_str(t);
            key.push('\0');
        }
        if ok {
            groups.entry(key).or_default().push(i);
        }
    }
    let mut shared: Vec<Vec<usize>> = groups.into_values().filter(|g| g.len() > 1).collect();
    shared.sort_by(|a, b| {
        b.len()
            .cmp(&a.len())
            .then_with(|| a.first().cmp(&b.first()))
    });
    for (slot, group) in shared.into_iter().take(MEMO_SLOTS).enumerate() {
        let slot = u8::try_from(slot).ok();
        for i in group {
            if let Some(m) = meta.get_mut(i) {
                m.memo = slot;
            }
        }
    }
}

/// A compiled, indexed set of policies.
#[derive(Clone, Debug)]
pub struct PolicySet {
    policies: Vec<Policy>,
    meta: Vec<Meta>,
    forbids: Index,
    permits: Index,
    mode: ErrorMode,
    determining: Determining,
}

/// How many permits an `Allow` lists as determining.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Determining {
    /// Every applicable permit, as Cedar reports them (the default).
    #[default]
    All,
    /// The first applicable permit found, in index order (not necessarily
    /// the first in the file): permits are no longer evaluated once one
    /// allows, so errors of the others go unreported. Forbids are always
    /// all evaluated. Faster when many permits apply to a request.
    First,
}

impl Default for PolicySet {
    fn default() -> Self {
        PolicySet {
            policies: Vec::new(),
            meta: Vec::new(),
            forbids: Index::default(),
            permits: Index::default(),
            mode: ErrorMode::FailClosed,
            determining: Determining::All,
        }
    }
}

/// Most policies accepted in one set.
pub const MAX_POLICIES: usize = 1_000_000;

impl PolicySet {
    /// Parses and compiles a policy file (`file` names it in diagnostics).
    pub fn parse(src: &str, file: &str) -> Result<Self, PolicyError> {
        Self::from_policies(parse_policies(src, file)?)
    }

    /// Compiles parsed policies (from one or several files). Rejects
    /// duplicate ids, invalid extension literals and invalid obligation
    /// annotations.
    pub fn from_policies(policies: Vec<Policy>) -> Result<Self, PolicyError> {
        if policies.len() > MAX_POLICIES {
            let first = policies.first().map(|p| {
                p.diagnostic(
                    DiagnosticKind::Limit,
                    format!(
                        "{} policies, more than the limit of {MAX_POLICIES}",
                        policies.len()
                    ),
                    super::diagnostic::Span::default(),
                )
            });
            return Err(PolicyError::Source(Box::new(first.unwrap_or_else(|| {
                super::diagnostic::Diagnostic::new(
                    DiagnosticKind::Limit,
                    "too many policies",
                    "",
                    "",
                    Default::default(),
                )
            }))));
        }
        let mut seen: KeyMap<u64, Vec<u32>> = KeyMap::default();
        let mut set = PolicySet::default();
        set.policies.reserve(policies.len());
        for (i, mut p) in policies.into_iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            let h = super::value::fixed_hash(&[p.id.as_str()]);
            let same = seen.entry(h).or_default();
            if same
                .iter()
                .any(|&j| set.policies.get(j as usize).is_some_and(|q| q.id == p.id))
            {
                return Err(PolicyError::Source(Box::new(p.diagnostic(
                    DiagnosticKind::Invalid,
                    format!("duplicate policy id `{}`", p.id),
                    super::diagnostic::Span {
                        start: p.offset,
                        end: p.offset + 1,
                    },
                ))));
            }
            same.push(idx);
            let mut conditions = std::mem::take(&mut p.conditions);
            for c in &mut conditions {
                fold(&mut c.expr, &p)?;
            }
            p.conditions = conditions;
            let meta = read_meta(&p)?;
            match p.effect {
                Effect::Forbid => set.forbids.insert(&p, idx),
                Effect::Permit => set.permits.insert(&p, idx),
            }
            set.meta.push(meta);
            set.policies.push(p);
        }
        assign_memo_slots(&set.policies, &mut set.meta);
        Ok(set)
    }

    /// The same set with another [`ErrorMode`].
    pub fn with_error_mode(mut self, mode: ErrorMode) -> Self {
        self.mode = mode;
        self
    }

    /// The same set listing determining permits as `determining` says.
    pub fn with_determining(mut self, determining: Determining) -> Self {
        self.determining = determining;
        self
    }

    /// The error mode in force.
    pub fn error_mode(&self) -> ErrorMode {
        self.mode
    }

    /// The policies (compiled: constant sub-expressions folded), in order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The policy with this id.
    pub fn get(&self, id: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.id.as_str() == id)
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether the set has no policies (and so denies everything).
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The obligation declared on the policy with this id, if any.
    pub fn obligation(&self, id: &str) -> Option<&Obligation> {
        let i = self.policies.iter().position(|p| p.id.as_str() == id)?;
        self.meta.get(i)?.obligation.as_ref()
    }

    pub(crate) fn policy_at(&self, i: u32) -> Option<&Policy> {
        self.policies.get(i as usize)
    }

    pub(crate) fn advice_at(&self, i: u32) -> Option<&str> {
        self.meta.get(i as usize)?.advice.as_deref()
    }

    /// Decides `request` against `entities`. Never fails: evaluation errors
    /// are reported in the decision. See [`PolicySet::decide_into`].
    pub fn decide<'p>(&'p self, request: &Request, entities: &Entities) -> Decision<'p> {
        let mut d = Decision::new(self);
        self.decide_into(request, entities, &mut d);
        d
    }

    /// Decides into an existing [`Decision`] (reusing its storage).
    ///
    /// Semantics: a `forbid` whose scope and conditions hold denies; under
    /// [`ErrorMode::FailClosed`] (the default) so does a `forbid` whose
    /// condition fails to evaluate. Otherwise, a `permit` whose scope and
    /// conditions hold allows, unless it carries an obligation the request's
    /// authentication context does not meet, which yields `Challenge` (if no
    /// other permit allows outright). A `permit` whose condition errors does
    /// not apply. No applicable permit: deny. When a forbid decides, permits
    /// are not evaluated.
    pub fn decide_into<'p>(
        &'p self,
        request: &Request,
        entities: &Entities,
        out: &mut Decision<'p>,
    ) {
        out.set = self;
        out.reset();
        let env = make_env(request, entities);
        let keys = request_keys(request, &env);
        let (ak, pk, rk) = keys;
        let mut memo = Memo([0; MEMO_SLOTS]);

        // Forbids.
        let mut matched = false;
        let mut errored = false;
        self.forbids.visit(ak, pk, rk, &mut |i| {
            let (Some(p), Some(m)) = (self.policies.get(i as usize), self.meta.get(i as usize))
            else {
                return;
            };
            if m.multi && out.determining.as_slice().contains(&i) {
                return;
            }
            if !scope_matches(p, &env) {
                return;
            }
            match memo.eval(p, m, &env) {
                Ok(true) => {
                    matched = true;
                    out.determining.push(i);
                }
                Ok(false) => {}
                Err(e) => {
                    if !(m.multi && out.errors.as_slice().iter().any(|(j, _)| *j == i)) {
                        out.errors.push((i, e));
                    }
                    if self.mode == ErrorMode::FailClosed {
                        errored = true;
                        out.determining.push(i);
                    }
                }
            }
        });
        if matched || errored {
            out.outcome = Outcome::Deny;
            out.reason = if matched {
                Reason::ForbidMatched
            } else {
                Reason::ForbidErrored
            };
            out.determining.as_mut_slice().sort_unstable();
            out.errors.as_mut_slice().sort_unstable_by_key(|(i, _)| *i);
            return;
        }

        // Permits: allowed ones go to `determining`, obligation-pending ones
        // are remembered by the lowest index and counted.
        let mut pending_first: Option<u32> = None;
        let mut pending_count = 0u32;
        let first_only = self.determining == Determining::First;
        let mut done = false;
        self.permits.visit(ak, pk, rk, &mut |i| {
            if done {
                return;
            }
            let (Some(p), Some(m)) = (self.policies.get(i as usize), self.meta.get(i as usize))
            else {
                return;
            };
            if m.multi && out.determining.as_slice().contains(&i) {
                return;
            }
            if !scope_matches(p, &env) {
                return;
            }
            match memo.eval(p, m, &env) {
                Ok(true) => match &m.obligation {
                    Some(o) if !obligation_met(o, request) => {
                        if pending_first.is_some_and(|f| f == i) {
                            return;
                        }
                        pending_count += 1;
                        pending_first = Some(pending_first.map_or(i, |f| f.min(i)));
                    }
                    _ => {
                        out.determining.push(i);
                        done = first_only;
                    }
                },
                Ok(false) => {}
                Err(e) => {
                    if !(m.multi && out.errors.as_slice().iter().any(|(j, _)| *j == i)) {
                        out.errors.push((i, e));
                    }
                }
            }
        });
        out.errors.as_mut_slice().sort_unstable_by_key(|(i, _)| *i);
        if !out.determining.as_slice().is_empty() {
            out.outcome = Outcome::Allow;
            out.reason = Reason::Permitted;
            out.determining.as_mut_slice().sort_unstable();
            return;
        }
        if let Some(first) = pending_first {
            if let Some(o) = self
                .meta
                .get(first as usize)
                .and_then(|m| m.obligation.as_ref())
            {
                out.outcome = Outcome::Challenge { obligation: o };
                out.reason = Reason::ObligationUnmet;
                // Second pass (rare): list every permit needing an obligation.
                if pending_count > 1 {
                    self.collect_pending(request, &env, keys, out);
                } else {
                    out.determining.push(first);
                }
                return;
            }
        }
        out.outcome = Outcome::Deny;
        out.reason = Reason::NoPermit;
    }

    fn collect_pending<'p>(
        &'p self,
        request: &Request,
        env: &Env<'_>,
        (ak, pk, rk): (Keys<'_>, Keys<'_>, Keys<'_>),
        out: &mut Decision<'p>,
    ) {
        self.permits.visit(ak, pk, rk, &mut |i| {
            let (Some(p), Some(m)) = (self.policies.get(i as usize), self.meta.get(i as usize))
            else {
                return;
            };
            let Some(o) = &m.obligation else { return };
            if out.determining.as_slice().contains(&i) || !scope_matches(p, env) {
                return;
            }
            if conditions_hold(p, env) == Ok(true) && !obligation_met(o, request) {
                out.determining.push(i);
            }
        });
        out.determining.as_mut_slice().sort_unstable();
    }
}

pub(crate) fn make_env<'r>(request: &'r Request, entities: &'r Entities) -> Env<'r> {
    let principal_entity = request
        .principal_entity
        .as_deref()
        .or_else(|| entities.get(request.principal()));
    Env {
        principal: &request.principal,
        action: &request.action,
        resource: &request.resource,
        context: &request.context,
        entities,
        principal_entity,
        resource_entity: entities.get(request.resource()),
        action_entity: entities.get(request.action()),
    }
}

fn keys_of<'a>(uid: &EntityUid, entity: Option<&'a Entity>) -> Keys<'a> {
    Keys {
        uid: uid.key(),
        ty: uid.entity_type().key(),
        ancestors: entity.map_or(&[][..], Entity::ancestors),
    }
}

fn request_keys<'a>(request: &Request, env: &Env<'a>) -> (Keys<'a>, Keys<'a>, Keys<'a>) {
    (
        keys_of(request.action(), env.action_entity),
        keys_of(request.principal(), env.principal_entity),
        keys_of(request.resource(), env.resource_entity),
    )
}

fn entity_scope_ok(s: &EntityScope, v: &Value, env: &Env<'_>) -> bool {
    let Value::Entity(uid) = v else { return false };
    match s {
        EntityScope::Any => true,
        EntityScope::Eq(e) => uid == e,
        EntityScope::In(e) => env.entity_in(uid, e),
        EntityScope::Is(t) => uid.entity_type() == t,
        EntityScope::IsIn(t, e) => uid.entity_type() == t && env.entity_in(uid, e),
    }
}

pub(crate) fn action_scope_ok(s: &ActionScope, v: &Value, env: &Env<'_>) -> bool {
    let Value::Entity(uid) = v else { return false };
    match s {
        ActionScope::Any => true,
        ActionScope::Eq(a) => uid == a,
        ActionScope::In { actions, .. } => actions.iter().any(|a| env.entity_in(uid, a)),
    }
}

pub(crate) fn principal_scope_ok(p: &Policy, env: &Env<'_>) -> bool {
    entity_scope_ok(&p.principal, env.principal, env)
}

pub(crate) fn resource_scope_ok(p: &Policy, env: &Env<'_>) -> bool {
    entity_scope_ok(&p.resource, env.resource, env)
}

fn scope_matches(p: &Policy, env: &Env<'_>) -> bool {
    principal_scope_ok(p, env)
        && action_scope_ok(&p.action, env.action, env)
        && resource_scope_ok(p, env)
}

/// Whether all `when` clauses are true and all `unless` clauses false.
pub(crate) fn conditions_hold<'p>(p: &'p Policy, env: &Env<'_>) -> Result<bool, EvalError<'p>> {
    for c in &p.conditions {
        let op = match c.kind {
            ConditionKind::When => "when",
            ConditionKind::Unless => "unless",
        };
        let v = eval_bool(&c.expr, env, op)?;
        if v != (c.kind == ConditionKind::When) {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(crate) fn obligation_met(o: &Obligation, request: &Request) -> bool {
    let Some(auth) = request.auth() else {
        return false;
    };
    if o.method && !auth.has_method(&o.name) {
        return false;
    }
    if let Some(max) = o.max_age {
        match auth.auth_time {
            None => return false,
            Some(t) => {
                if request.now().duration_since(t) > max {
                    return false;
                }
            }
        }
    }
    true
}

fn read_meta(p: &Policy) -> Result<Meta, PolicyError> {
    let here = super::diagnostic::Span {
        start: p.offset,
        end: p.offset + 1,
    };
    let invalid = |msg: String, help: &str| {
        PolicyError::Source(Box::new(
            p.diagnostic(DiagnosticKind::Invalid, msg, here)
                .with_help(help),
        ))
    };
    let name = p.annotation("obligation");
    let age = p.annotation("max_auth_age");
    let mut meta = Meta {
        advice: p.annotation("advice").map(Arc::from),
        multi: matches!(&p.action, ActionScope::In { actions, .. } if actions.len() > 1),
        obligation: None,
        memo: None,
    };
    if name.is_none() && age.is_none() {
        return Ok(meta);
    }
    if p.effect == Effect::Forbid {
        return Err(invalid(
            format!(
                "policy `{}`: obligations apply to `permit` policies only",
                p.id
            ),
            "to deny without a step-up, write the condition in `when`/`unless`",
        ));
    }
    let max_age = match age {
        None => None,
        Some(a) => Some(parse_duration(a).ok_or_else(|| {
            invalid(
                format!("policy `{}`: invalid `@max_auth_age` value `{a}`", p.id),
                "write a duration such as `15m`, `1h30m`, `30s` or `1d`",
            )
        })?),
    };
    let obligation = match name {
        Some(n) => {
            let ok = !n.is_empty()
                && n.len() <= 64
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
            if !ok {
                return Err(invalid(
                    format!("policy `{}`: invalid `@obligation` value `{n}`", p.id),
                    "name an authentication method such as `mfa`, `hwk` or `otp`",
                ));
            }
            Obligation {
                name: Arc::from(n),
                method: true,
                max_age,
            }
        }
        None => Obligation {
            name: Arc::from("reauthenticate"),
            method: false,
            max_age,
        },
    };
    meta.obligation = Some(obligation);
    Ok(meta)
}

/// Folds constant sub-expressions in place.
fn fold(e: &mut Expr, p: &Policy) -> Result<(), PolicyError> {
    match &mut e.kind {
        ExprKind::Lit(_) | ExprKind::Var(_) => {}
        ExprKind::Not(x) | ExprKind::Neg(x) => fold(x, p)?,
        ExprKind::Has(x, _) | ExprKind::Attr(x, _) | ExprKind::Like(x, _) => fold(x, p)?,
        ExprKind::Binary(_, l, r) => {
            fold(l, p)?;
            fold(r, p)?;
        }
        ExprKind::If(c, a, b) => {
            fold(c, p)?;
            fold(a, p)?;
            fold(b, p)?;
        }
        ExprKind::Is(x, _, w) => {
            fold(x, p)?;
            if let Some(w) = w {
                fold(w, p)?;
            }
        }
        ExprKind::Method(x, _, args) => {
            fold(x, p)?;
            for a in args {
                fold(a, p)?;
            }
        }
        ExprKind::Call(f, args) => {
            for a in args.iter_mut() {
                fold(a, p)?;
            }
            if let [Expr {
                kind: ExprKind::Lit(Value::String(s)),
                ..
            }] = args.as_slice()
            {
                let v = match f {
                    ExtFn::Ip => IpNet::parse(s).map(Value::Ip),
                    ExtFn::Decimal => Decimal::parse(s).map(Value::Decimal),
                };
                match v {
                    Some(v) => e.kind = ExprKind::Lit(v),
                    None => {
                        return Err(PolicyError::Source(Box::new(
                            p.diagnostic(
                                DiagnosticKind::Invalid,
                                format!("`{s}` is not a valid argument to `{}`", f.name()),
                                e.span,
                            )
                            .with_help(match f {
                                ExtFn::Ip => {
                                    "write an IPv4 or IPv6 address, optionally with `/prefix`"
                                }
                                ExtFn::Decimal => {
                                    "write digits, a point and 1 to 4 decimal digits, e.g. `1.25`"
                                }
                            }),
                        )))
                    }
                }
            }
        }
        ExprKind::Set(items) => {
            for it in items.iter_mut() {
                fold(it, p)?;
            }
            if items.iter().all(|i| matches!(i.kind, ExprKind::Lit(_))) {
                let vals = items
                    .iter()
                    .filter_map(|i| match &i.kind {
                        ExprKind::Lit(v) => Some(v.clone()),
                        _ => None,
                    })
                    .collect();
                e.kind = ExprKind::Lit(Value::Set(Set::new(vals)));
            }
        }
        ExprKind::Record(fields) => {
            for (_, it) in fields.iter_mut() {
                fold(it, p)?;
            }
            if fields
                .iter()
                .all(|(_, i)| matches!(i.kind, ExprKind::Lit(_)))
            {
                let vals = fields
                    .iter()
                    .filter_map(|(k, i)| match &i.kind {
                        ExprKind::Lit(v) => Some((k.clone(), v.clone())),
                        _ => None,
                    })
                    .collect();
                if let Ok(r) = Record::new(vals) {
                    e.kind = ExprKind::Lit(Value::Record(r));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
impl PolicySet {
    /// (visited candidates, in scope) for one request, over both indexes.
    pub(crate) fn count_candidates(
        &self,
        request: &Request,
        entities: &Entities,
    ) -> (usize, usize) {
        let env = make_env(request, entities);
        let (ak, pk, rk) = request_keys(request, &env);
        let (mut visited, mut in_scope) = (0, 0);
        for idx in [&self.forbids, &self.permits] {
            idx.visit(ak, pk, rk, &mut |i| {
                visited += 1;
                if self
                    .policies
                    .get(i as usize)
                    .is_some_and(|p| scope_matches(p, &env))
                {
                    in_scope += 1;
                }
            });
        }
        (visited, in_scope)
    }
}
