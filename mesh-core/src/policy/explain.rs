//! Detailed explanations (opt-in, allocating): for a request that is not
//! allowed, the permits that came closest and the first check each failed.

use std::fmt;

use super::ast::{
    ActionScope, BinaryOp, ConditionKind, Effect, EntityScope, Expr, ExprKind, Policy, PolicyId,
};
use super::decision::{Outcome, Reason};
use super::entities::Entities;
use super::eval::{eval_bool, Env};
use super::policy_set::{
    action_scope_ok, make_env, obligation_met, principal_scope_ok, resource_scope_ok, PolicySet,
};
use super::request::Request;

/// What a permit's first failing check was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailedCheck {
    /// The principal scope did not match.
    Principal(String),
    /// The action scope did not match.
    Action(String),
    /// The resource scope did not match.
    Resource(String),
    /// A `when` sub-condition (one `&&` operand) was false.
    When(String),
    /// An `unless` condition was true.
    Unless(String),
    /// A sub-condition failed to evaluate (the text, then the error).
    Error(String, String),
    /// Everything held but the obligation is not met.
    Obligation(String),
}

impl fmt::Display for FailedCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailedCheck::Principal(s) => write!(f, "principal scope `{s}` does not match"),
            FailedCheck::Action(s) => write!(f, "action scope `{s}` does not match"),
            FailedCheck::Resource(s) => write!(f, "resource scope `{s}` does not match"),
            FailedCheck::When(s) => write!(f, "condition `{s}` is false"),
            FailedCheck::Unless(s) => write!(f, "`unless` condition `{s}` is true"),
            FailedCheck::Error(s, e) => write!(f, "condition `{s}` failed: {e}"),
            FailedCheck::Obligation(o) => write!(f, "obligation `{o}` is not met"),
        }
    }
}

/// A permit that did not apply, and how close it came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NearMiss {
    /// The permit.
    pub policy: PolicyId,
    /// Checks passed before the first failure.
    pub passed: usize,
    /// Checks in the policy (3 scope checks, one per `&&` operand of each
    /// `when`, one per `unless`).
    pub total: usize,
    /// The first failing check.
    pub failed: FailedCheck,
}

/// A decision with its full explanation, as owned data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// `allow`, `deny` or `challenge`.
    pub outcome: &'static str,
    /// Why.
    pub reason: Reason,
    /// The determining policies.
    pub determining: Vec<PolicyId>,
    /// Evaluation errors: policy and message.
    pub errors: Vec<(PolicyId, String)>,
    /// The advice of the determining policies.
    pub advice: Vec<String>,
    /// For a request not allowed: the closest permits, best first.
    pub closest_permits: Vec<NearMiss>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.outcome, self.reason.as_str())?;
        if !self.determining.is_empty() {
            let ids: Vec<&str> = self.determining.iter().map(PolicyId::as_str).collect();
            write!(f, " by {}", ids.join(", "))?;
        }
        for (id, e) in &self.errors {
            write!(f, "\n  error in `{id}`: {e}")?;
        }
        for a in &self.advice {
            write!(f, "\n  advice: {a}")?;
        }
        for m in &self.closest_permits {
            write!(
                f,
                "\n  closest permit `{}` ({}/{} checks): {}",
                m.policy, m.passed, m.total, m.failed
            )?;
        }
        Ok(())
    }
}

pub(crate) fn scope_text(var: &str, s: &EntityScope) -> String {
    match s {
        EntityScope::Any => var.to_string(),
        EntityScope::Eq(e) => format!("{var} == {e}"),
        EntityScope::In(e) => format!("{var} in {e}"),
        EntityScope::Is(t) => format!("{var} is {t}"),
        EntityScope::IsIn(t, e) => format!("{var} is {t} in {e}"),
    }
}

pub(crate) fn action_text(s: &ActionScope) -> String {
    match s {
        ActionScope::Any => "action".into(),
        ActionScope::Eq(a) => format!("action == {a}"),
        ActionScope::In { actions, list } => {
            let items: Vec<String> = actions.iter().map(ToString::to_string).collect();
            if *list {
                format!("action in [{}]", items.join(", "))
            } else {
                format!("action in {}", items.join(", "))
            }
        }
    }
}

fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary(BinaryOp::And, l, r) => {
            conjuncts(l, out);
            conjuncts(r, out);
        }
        _ => out.push(e),
    }
}

fn near_miss(p: &Policy, env: &Env<'_>) -> Option<NearMiss> {
    let mut checks: Vec<(ConditionKind, &Expr)> = Vec::new();
    for c in &p.conditions {
        match c.kind {
            ConditionKind::When => {
                let mut v = Vec::new();
                conjuncts(&c.expr, &mut v);
                checks.extend(v.into_iter().map(|e| (ConditionKind::When, e)));
            }
            ConditionKind::Unless => checks.push((ConditionKind::Unless, &c.expr)),
        }
    }
    let total = 3 + checks.len();
    let miss = |passed: usize, failed: FailedCheck| {
        Some(NearMiss {
            policy: p.id.clone(),
            passed,
            total,
            failed,
        })
    };
    if !principal_scope_ok(p, env) {
        return miss(
            0,
            FailedCheck::Principal(scope_text("principal", &p.principal)),
        );
    }
    if !action_scope_ok(&p.action, env.action, env) {
        return miss(1, FailedCheck::Action(action_text(&p.action)));
    }
    if !resource_scope_ok(p, env) {
        return miss(
            2,
            FailedCheck::Resource(scope_text("resource", &p.resource)),
        );
    }
    for (i, (kind, e)) in checks.iter().enumerate() {
        let text = p.text(e.span).to_string();
        match eval_bool(e, env, "when") {
            Err(err) => return miss(3 + i, FailedCheck::Error(text, err.to_string())),
            Ok(v) if v != (*kind == ConditionKind::When) => {
                return miss(
                    3 + i,
                    if *kind == ConditionKind::When {
                        FailedCheck::When(text)
                    } else {
                        FailedCheck::Unless(text)
                    },
                )
            }
            Ok(_) => {}
        }
    }
    None
}

impl PolicySet {
    /// Decides and explains in detail (allocates; for tooling, logs and
    /// "why was I denied" pages, not for the hot path). When the request is
    /// not allowed, lists up to `max_closest` permits that came closest,
    /// each with the first check it failed.
    pub fn explain(
        &self,
        request: &Request,
        entities: &Entities,
        max_closest: usize,
    ) -> Explanation {
        let d = self.decide(request, entities);
        let outcome = match d.outcome() {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Challenge { .. } => "challenge",
        };
        let mut closest = Vec::new();
        if d.outcome() != Outcome::Allow && max_closest > 0 {
            let env = make_env(request, entities);
            for p in self
                .policies()
                .iter()
                .filter(|p| p.effect == Effect::Permit)
            {
                match near_miss(p, &env) {
                    Some(m) => closest.push(m),
                    None => {
                        let pending = self
                            .obligation(p.id.as_str())
                            .filter(|o| !obligation_met(o, request));
                        if let Some(o) = pending {
                            closest.push(NearMiss {
                                policy: p.id.clone(),
                                passed: usize::MAX,
                                total: usize::MAX,
                                failed: FailedCheck::Obligation(o.name().to_string()),
                            });
                        }
                    }
                }
            }
            closest.sort_by(|a, b| {
                b.passed.cmp(&a.passed).then_with(|| {
                    (a.total - a.passed.min(a.total)).cmp(&(b.total - b.passed.min(b.total)))
                })
            });
            closest.truncate(max_closest);
            for m in &mut closest {
                if m.passed == usize::MAX {
                    if let Some(p) = self.get(m.policy.as_str()) {
                        let n = 3 + p
                            .conditions
                            .iter()
                            .map(|c| {
                                let mut v = Vec::new();
                                conjuncts(&c.expr, &mut v);
                                if c.kind == ConditionKind::When {
                                    v.len()
                                } else {
                                    1
                                }
                            })
                            .sum::<usize>();
                        m.passed = n;
                        m.total = n;
                    }
                }
            }
        }
        Explanation {
            outcome,
            reason: d.reason(),
            determining: d.determining().cloned().collect(),
            errors: d
                .errors()
                .map(|e| (e.policy.clone(), e.error.to_string()))
                .collect(),
            advice: d.advice().map(str::to_string).collect(),
            closest_permits: closest,
        }
    }
}
