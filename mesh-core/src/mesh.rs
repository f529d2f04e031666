//! The `Mesh` facade: one call from a credential to a decision.
//!
//! ```text
//! credential ──verify (cache)──► Identity ──revocations──► JIT grants ──► policy ──► AccessDecision
//!                                                                            ▲
//!                                      signed bundle ──verify──► atomic swap ┘
//! ```
//!
//! A [`Mesh`] is `Send + Sync`; share it behind an `Arc`. Decisions read the
//! active policy bundle, revocations and grants through lock-free atomic
//! pointers, so a bundle activation or a revocation update never blocks a
//! decision, and each decision sees one bundle revision entirely.
//!
//! # Audit record
//!
//! [`AccessDecision::audit_event`] renders the decision as an OCSF 1.8.0
//! **API Activity** event (class 6003, category 6 Application Activity).
//! OCSF's *Authorize Session* (3003) records privileges granted to a new
//! session at logon, not a decision on one operation on one resource; API
//! Activity is the class for "actor called operation on resource", carries
//! `api.operation`, `resources`, `status` and the OCSF `authorizations`
//! (decision and policy), which is exactly what a decision point decides.
//! The activity is derived from the action name (`read`/`get`/`list`/`view`
//! → Read 2, `create`/`add`/`write` → Create 1, `update`/`edit`/`modify`/
//! `put` → Update 3, `delete`/`remove` → Delete 4, else Other 99). The
//! event is built on request, off the decision hot path.

use arc_swap::{ArcSwap, ArcSwapOption};
use serde_json::{json, Value as Json};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use crate::analytics::{
    Admission, Analytics, AnalyticsError, CorrelatorConfig, Finding, ResponseAction,
    ResponsePolicy, ResponseRecord,
};
use crate::bundle::{Active, BundleError, BundleSlot, PartKind, TrustedKeys, VerifiedBundle};
use crate::config::{ConfigError, MeshConfig, ResponseSection};
use crate::identity::{
    ApiKeyStore, CacheError, GrantSet, Identity, IdentityError, IssuerRegistry, RevocationReason,
    RevocationSet, TokenCache, {thread_lane, LANES},
};
use crate::policy::{
    Entities, Entity, EntityType, EntityUid, EvalError, IdentityMapping, Outcome, PolicyError,
    PolicyEvalError, PolicyId, PolicySet, PreparedPrincipal, Record, Request, Span,
};
use crate::{ActorKey, Timestamp};

/// A credential presented with a request.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    /// A bearer JWT/JWS.
    Bearer(&'a str),
    /// A mesh API key (`mesh_<id>_<secret>_<check>`).
    ApiKey(&'a str),
}

impl<'a> Credential<'a> {
    /// An API key if `text` starts with `mesh_`, else a bearer token;
    /// a leading `Bearer ` is removed.
    pub fn detect(text: &'a str) -> Credential<'a> {
        let t = text.trim();
        let t = t
            .strip_prefix("Bearer ")
            .or_else(|| t.strip_prefix("bearer "))
            .unwrap_or(t);
        if t.starts_with("mesh_") {
            Credential::ApiKey(t)
        } else {
            Credential::Bearer(t)
        }
    }
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Bearer(_) => f.write_str("Credential::Bearer(redacted)"),
            Credential::ApiKey(_) => f.write_str("Credential::ApiKey(redacted)"),
        }
    }
}

/// What a decision point serves: compiled policies, entity data and posture
/// rules, from inline configuration (revision 0) or a signed bundle.
#[derive(Debug)]
pub struct PolicyContent {
    /// The access policies.
    pub policies: PolicySet,
    /// Entity data.
    pub entities: Entities,
    /// Posture rules, if any.
    pub posture: Option<PolicySet>,
    /// Per thread lane, a copy of every policy id (index = policy-set
    /// position), built on first use: the ids a decision keeps are then
    /// not reference counts that threads of other lanes touch too.
    lane_ids: [OnceLock<Box<[PolicyId]>>; LANES],
}

impl PolicyContent {
    /// The policy ids (by policy-set position) as lane `lane` keeps them.
    fn lane_ids(&self, lane: usize) -> &[PolicyId] {
        let [first, ..] = &self.lane_ids;
        self.lane_ids.get(lane).unwrap_or(first).get_or_init(|| {
            self.policies
                .policies()
                .iter()
                .map(|p| PolicyId::new(p.id.as_str()))
                .collect()
        })
    }
}

impl PolicyContent {
    /// Compiles policy sources `(name, text)`, entity JSON arrays and posture
    /// sources.
    pub fn compile<'a>(
        policies: impl IntoIterator<Item = (&'a str, &'a str)>,
        entities: impl IntoIterator<Item = &'a Json>,
        posture: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<PolicyContent, PolicyError> {
        let parts: Vec<&Json> = entities.into_iter().collect();
        if parts.iter().any(|e| !e.is_array()) {
            return Err(PolicyError::Entities {
                pointer: String::new(),
                message: "entity data must be a JSON array".into(),
            });
        }
        let entities = match parts.as_slice() {
            // One document (the usual case) is read in place.
            [one] => Entities::from_json_value(one)?,
            many => {
                let merged: Vec<Json> = many
                    .iter()
                    .filter_map(|e| e.as_array())
                    .flatten()
                    .cloned()
                    .collect();
                Entities::from_json_value(&Json::Array(merged))?
            }
        };
        Self::compile_with(policies, entities, posture)
    }

    /// [`PolicyContent::compile`] with the entity store already built.
    fn compile_with<'a>(
        policies: impl IntoIterator<Item = (&'a str, &'a str)>,
        entities: Entities,
        posture: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<PolicyContent, PolicyError> {
        let mut all = Vec::new();
        for (name, text) in policies {
            all.extend(crate::policy::parse_policies(text, name)?);
        }
        let policies = PolicySet::from_policies(all)?;
        let mut rules = Vec::new();
        for (name, text) in posture {
            rules.extend(crate::policy::parse_policies(text, name)?);
        }
        let posture = if rules.is_empty() {
            None
        } else {
            Some(PolicySet::from_policies(rules)?)
        };
        Ok(PolicyContent {
            policies,
            entities,
            posture,
            lane_ids: Default::default(),
        })
    }

    /// Compiles the parts of a verified bundle: `policies/*`, `entities/*`
    /// (JSON arrays, concatenated) and `posture/*`.
    pub fn from_bundle(bundle: &VerifiedBundle) -> Result<PolicyContent, String> {
        let b = bundle.bundle();
        let text = |name: &str, data: &[u8]| -> Result<String, String> {
            String::from_utf8(data.to_vec()).map_err(|_| format!("part `{name}` is not UTF-8"))
        };
        let mut policies = Vec::new();
        for (n, d) in b.parts_of(PartKind::Policies) {
            policies.push((n.to_owned(), text(n, d)?));
        }
        let mut posture = Vec::new();
        for (n, d) in b.parts_of(PartKind::Posture) {
            posture.push((n.to_owned(), text(n, d)?));
        }
        let render = |e: PolicyError| match e {
            PolicyError::Source(d) => d.render(),
            other => other.to_string(),
        };
        // Plain entity documents stream straight into the store; anything
        // else takes the general path below (same result, located errors).
        let docs: Option<Vec<&str>> = b
            .parts_of(PartKind::Entities)
            .map(|(_, d)| std::str::from_utf8(d).ok())
            .collect();
        if let Some(Some(Ok(entities))) = docs.map(|d| Entities::stream_documents(&d)) {
            return PolicyContent::compile_with(
                policies.iter().map(|(n, t)| (n.as_str(), t.as_str())),
                entities,
                posture.iter().map(|(n, t)| (n.as_str(), t.as_str())),
            )
            .map_err(render);
        }
        let mut entities = Vec::new();
        for (n, d) in b.parts_of(PartKind::Entities) {
            let v: Json = serde_json::from_slice(d)
                .map_err(|e| format!("part `{n}`: invalid JSON at {}:{}", e.line(), e.column()))?;
            entities.push(v);
        }
        PolicyContent::compile(
            policies.iter().map(|(n, t)| (n.as_str(), t.as_str())),
            entities.iter(),
            posture.iter().map(|(n, t)| (n.as_str(), t.as_str())),
        )
        .map_err(render)
    }
}

/// The outcome of [`Mesh::authorize`] or [`Mesh::decide`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessOutcome {
    /// Access is granted.
    Allow,
    /// Access is denied.
    Deny,
    /// Access will be granted once the obligation is met (e.g. step-up MFA).
    Challenge {
        /// The obligation's name, e.g. `mfa`.
        obligation: String,
        /// The longest accepted time since authentication, if any.
        max_auth_age: Option<Duration>,
    },
}

impl AccessOutcome {
    /// `allow`, `deny` or `challenge`.
    pub fn as_str(&self) -> &'static str {
        match self {
            AccessOutcome::Allow => "allow",
            AccessOutcome::Deny => "deny",
            AccessOutcome::Challenge { .. } => "challenge",
        }
    }
}

/// A decision with its explanation, owned (it outlives bundle swaps).
#[derive(Clone, Debug)]
pub struct AccessDecision {
    outcome: AccessOutcome,
    reason: &'static str,
    policies: Vec<PolicyId>,
    errors: DecisionErrors,
    advice: Vec<String>,
    credential_error: Option<IdentityError>,
    revocation: Option<RevocationReason>,
    revision: u64,
    identity: Option<Arc<Identity>>,
    principal: Option<EntityUid>,
    action: EntityUid,
    resource: EntityUid,
    time: Timestamp,
}

impl AccessDecision {
    /// Allow, Deny or Challenge.
    pub fn outcome(&self) -> &AccessOutcome {
        &self.outcome
    }
    /// Whether access is granted now.
    pub fn is_allowed(&self) -> bool {
        self.outcome == AccessOutcome::Allow
    }
    /// Why, as a stable name: the policy reasons (`permitted`,
    /// `forbid_matched`, `forbid_errored`, `obligation_unmet`, `no_permit`)
    /// or `credential_rejected`, `revoked`.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
    /// The policies that determined the outcome.
    pub fn policies(&self) -> &[PolicyId] {
        &self.policies
    }
    /// Evaluation errors met (policy and error).
    pub fn errors(&self) -> &[String] {
        self.errors.rendered()
    }
    /// The `@advice` texts of the determining policies.
    pub fn advice(&self) -> &[String] {
        &self.advice
    }
    /// Why the credential was rejected, for `credential_rejected`.
    pub fn credential_error(&self) -> Option<&IdentityError> {
        self.credential_error.as_ref()
    }
    /// Which revocation applied, for `revoked`.
    pub fn revocation(&self) -> Option<RevocationReason> {
        self.revocation
    }
    /// The policy bundle revision that decided (0: inline configuration).
    pub fn revision(&self) -> u64 {
        self.revision
    }
    /// The verified identity, when the credential verified.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_deref()
    }
    /// The principal entity, when known.
    pub fn principal(&self) -> Option<&EntityUid> {
        self.principal.as_ref()
    }
    /// The action.
    pub fn action(&self) -> &EntityUid {
        &self.action
    }
    /// The resource.
    pub fn resource(&self) -> &EntityUid {
        &self.resource
    }

    /// A one-line explanation a person can read.
    pub fn explain(&self) -> String {
        let who = self
            .principal
            .as_ref()
            .map_or_else(|| "an unverified caller".to_owned(), |p| p.to_string());
        let ids = self
            .policies
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut s = match (&self.outcome, self.reason) {
            (_, "credential_rejected") => format!(
                "deny: the credential was rejected ({})",
                self.credential_error
                    .as_ref()
                    .map_or_else(String::new, |e| format!("{}: {e}", e.kind().as_str()))
            ),
            (_, "revoked") => format!(
                "deny: the credential's identity is revoked (by {})",
                self.revocation
                    .map_or("revocation", RevocationReason::as_str)
            ),
            (AccessOutcome::Allow, _) => format!(
                "allow: {who} may {} {}, permitted by {ids}",
                self.action, self.resource
            ),
            (
                AccessOutcome::Challenge {
                    obligation,
                    max_auth_age,
                },
                _,
            ) => {
                let age = max_auth_age
                    .map(|d| format!(" within {}s", d.as_secs()))
                    .unwrap_or_default();
                format!("challenge: {who} may {} {} once `{obligation}` is satisfied{age} (policy {ids})", self.action, self.resource)
            }
            (AccessOutcome::Deny, "forbid_matched") => format!("deny: forbidden by {ids}"),
            (AccessOutcome::Deny, "forbid_errored") => {
                format!("deny: a forbid policy could not be evaluated and fails closed ({ids})")
            }
            (AccessOutcome::Deny, _) => format!(
                "deny: no policy permits {who} to {} {} (deny by default)",
                self.action, self.resource
            ),
        };
        for e in self.errors() {
            s.push_str("; error in ");
            s.push_str(e);
        }
        s
    }

    /// The decision as JSON (for `--json` output and bindings).
    pub fn to_json(&self) -> Json {
        let mut v = json!({
            "decision": self.outcome.as_str(),
            "reason": self.reason,
            "policies": self.policies.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "errors": self.errors(),
            "advice": self.advice,
            "revision": self.revision,
            "principal": self.principal.as_ref().map(|p| p.to_string()),
            "action": self.action.to_string(),
            "resource": self.resource.to_string(),
            "explanation": self.explain(),
        });
        if let (
            AccessOutcome::Challenge {
                obligation,
                max_auth_age,
            },
            Json::Object(m),
        ) = (&self.outcome, &mut v)
        {
            m.insert(
                "obligation".into(),
                json!({"name": obligation, "max_auth_age_seconds": max_auth_age.map(|d| d.as_secs())}),
            );
        }
        if let (Some(e), Json::Object(m)) = (&self.credential_error, &mut v) {
            m.insert(
                "credential_error".into(),
                json!({"kind": e.kind().as_str(), "message": e.to_string()}),
            );
        }
        if let (Some(a), Json::Object(m)) = (&self.identity, &mut v) {
            m.insert("actor".into(), json!(a.actor_key().as_str()));
        }
        v
    }

    /// The decision as an OCSF 1.8.0 API Activity event (class 6003; see
    /// the module docs for why this class).
    pub fn audit_event(&self) -> Json {
        let activity_id = activity_of(self.action.id());
        let activity_name = match activity_id {
            1 => "Create",
            2 => "Read",
            3 => "Update",
            4 => "Delete",
            _ => "Other",
        };
        let (status_id, status) = if self.is_allowed() {
            (1, "Success")
        } else {
            (2, "Failure")
        };
        let mut actor = json!({});
        if let (Some(id), Json::Object(a)) = (&self.identity, &mut actor) {
            let mut user = json!({
                "uid": id.subject(),
                "name": id.actor_key().as_str(),
                "type_id": match id.kind() { crate::IdentityKind::Human => 1, _ => 99 },
            });
            if let (Some(email), Json::Object(u)) =
                (id.claim("email").and_then(Json::as_str), &mut user)
            {
                u.insert("email_addr".into(), json!(email));
            }
            a.insert("user".into(), user);
            a.insert(
                "authorizations".into(),
                json!([{ "decision": self.outcome.as_str(),
                    "policy": self.policies.first().map(|p| json!({"uid": p.to_string(), "name": p.to_string()})) }]),
            );
            if let Some(sid) = id.session_id() {
                a.insert("session".into(), json!({"uid": sid, "issuer": id.issuer()}));
            }
        }
        json!({
            "class_uid": 6003,
            "class_name": "API Activity",
            "category_uid": 6,
            "category_name": "Application Activity",
            "activity_id": activity_id,
            "activity_name": activity_name,
            "type_uid": 600300 + activity_id,
            "type_name": format!("API Activity: {activity_name}"),
            "severity_id": if self.is_allowed() { 1 } else { 2 },
            "severity": if self.is_allowed() { "Informational" } else { "Low" },
            "status_id": status_id,
            "status": status,
            "status_detail": self.explain(),
            "time": self.time.unix_millis(),
            "metadata": {
                "version": "1.8.0",
                "product": {"name": "mesh", "vendor_name": "mesh"},
                "log_name": "decisions",
            },
            "actor": actor,
            "api": {"operation": self.action.to_string()},
            "resources": [{"uid": self.resource.id(), "type": self.resource.entity_type().as_str()}],
            "unmapped": {
                "mesh": {
                    "decision": self.outcome.as_str(),
                    "reason": self.reason,
                    "policies": self.policies.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                    "bundle_revision": self.revision,
                    "obligation": match &self.outcome {
                        AccessOutcome::Challenge { obligation, .. } => Some(obligation.as_str()),
                        _ => None,
                    },
                    "principal": self.principal.as_ref().map(|p| p.to_string()),
                }
            }
        })
    }
}

fn activity_of(action: &str) -> u32 {
    let a = action.to_ascii_lowercase();
    let verb = a
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let starts = |list: &[&str]| list.iter().any(|p| verb.starts_with(p));
    if starts(&[
        "read", "get", "list", "view", "download", "describe", "search",
    ]) {
        2
    } else if starts(&["create", "add", "write", "upload", "post"]) {
        1
    } else if starts(&["update", "edit", "modify", "put", "patch", "approve"]) {
        3
    } else if starts(&["delete", "remove", "destroy"]) {
        4
    } else {
        99
    }
}

/// The embedded decision point: identity fabric, policy and (as
/// configured) response, behind one `Send + Sync` value.
pub struct Mesh {
    issuers: IssuerRegistry,
    api_keys: Option<ApiKeyStore>,
    cache: Option<TokenCache<Prepared>>,
    revocations: ArcSwap<RevocationSet>,
    grants: ArcSwap<GrantSet>,
    content: BundleSlot<PolicyContent>,
    trust: TrustedKeys,
    mapping: IdentityMapping,
    response: ResponseSection,
    analytics: Mutex<Analytics>,
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("revision", &self.content.revision())
            .field("trusted_keys", &self.trust.len())
            .finish_non_exhaustive()
    }
}

/// What [`Mesh::observe`] did with one event.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Whether the event was accepted or arrived late.
    pub admission: Admission,
    /// The findings the event completed.
    pub findings: Vec<Finding>,
    /// Every response the policy chose for them.
    pub responses: Vec<ResponseRecord>,
    /// The responses applied to this mesh (revocations of subjects and sessions).
    pub applied: Vec<ResponseRecord>,
}

fn analytics_for(response: &ResponseSection) -> Result<Analytics, ConfigError> {
    let mut a = Analytics::new(CorrelatorConfig::default());
    if response.auto_revoke {
        let doc = json!({"rules": [{
            "id": "auto-revoke",
            "match": {"min_severity": response.min_severity},
            "actions": [{"type": "revoke_subject"}, {"type": "revoke_session"}],
        }]});
        let policy =
            ResponsePolicy::from_json(&doc.to_string()).map_err(|e| ConfigError::Field {
                path: "response.min_severity".to_owned(),
                message: e.to_string(),
            })?;
        a.set_policy(policy);
    }
    Ok(a)
}

impl Mesh {
    /// A mesh from a configuration document.
    pub fn from_config(config: &MeshConfig) -> Result<Mesh, ConfigError> {
        let v = config.validate()?;
        let ents = v.entities.clone();
        let content = PolicyContent::compile(
            config
                .policies
                .iter()
                .map(|p| (p.name.as_str(), p.text.as_str())),
            ents.iter(),
            std::iter::empty(),
        )
        .map_err(|e| {
            let index = match &e {
                PolicyError::Source(d) => config
                    .policies
                    .iter()
                    .position(|p| p.name == d.file())
                    .map(|i| format!("policies[{i}].text")),
                PolicyError::Entities { .. } => Some("entities".to_owned()),
                _ => None,
            };
            let message = match &e {
                PolicyError::Source(d) => d.render(),
                other => other.to_string(),
            };
            ConfigError::Field {
                path: index.unwrap_or_else(|| "policies".to_owned()),
                message,
            }
        })?;
        let cache = (config.cache.capacity > 0).then(|| {
            TokenCache::with_entries(
                config.cache.capacity,
                Duration::from_secs(config.cache.max_ttl_seconds),
            )
        });
        Ok(Mesh {
            issuers: v.issuers,
            api_keys: v.api_keys,
            cache,
            revocations: ArcSwap::from_pointee(RevocationSet::new()),
            grants: ArcSwap::from_pointee(GrantSet::new()),
            content: BundleSlot::new(Active::unbundled(content)),
            trust: v.trusted_keys,
            mapping: IdentityMapping::default(),
            response: config.response.clone(),
            analytics: Mutex::new(analytics_for(&config.response)?),
        })
    }

    /// Parses a TOML configuration and builds a mesh.
    pub fn from_toml(text: &str) -> Result<Mesh, ConfigError> {
        Mesh::from_config(&MeshConfig::from_toml(text)?)
    }

    /// Parses a JSON configuration and builds a mesh.
    pub fn from_json(text: &str) -> Result<Mesh, ConfigError> {
        Mesh::from_config(&MeshConfig::from_json(text)?)
    }

    /// The active policy bundle revision (0: inline configuration).
    pub fn revision(&self) -> u64 {
        self.content.revision()
    }

    /// The response settings.
    pub fn response(&self) -> &ResponseSection {
        &self.response
    }

    /// The active policy content (a consistent snapshot).
    pub fn content(&self) -> crate::bundle::Snapshot<PolicyContent> {
        self.content.load()
    }

    /// Verifies a credential into an identity: JWT through the issuer
    /// registry or API key through the key store, through the verified-token
    /// cache, then revocations and JIT grants.
    pub fn verify(
        &self,
        credential: Credential<'_>,
        now: Timestamp,
    ) -> Result<Arc<Identity>, VerifyFailure> {
        self.with_verified(credential, now, |v| match v {
            Verification::Cached(v) => Arc::clone(&v.identity),
            Verification::Identity(id) => id,
        })
    }

    /// Verifies `credential` (as [`Mesh::verify`]) and runs `f` on the
    /// result: a cached entry (with its prepared principal) is lent while
    /// unchanged by grants, so a cache hit takes no reference to shared data.
    fn with_verified<R>(
        &self,
        credential: Credential<'_>,
        now: Timestamp,
        f: impl FnOnce(Verification<'_>) -> R,
    ) -> Result<R, VerifyFailure> {
        let revs = self.revocations.load();
        let verified = match credential {
            Credential::Bearer(token) => match &self.cache {
                Some(cache) => {
                    // The cache checks revocations on every hit and miss.
                    return cache
                        .get_or_verify_with(
                            token,
                            now,
                            &revs,
                            |t| self.issuers.verify(t, now).map(Prepared::new),
                            |entry| {
                                let v = entry.lane(&self.mapping);
                                f(self.with_grants(Verification::Cached(v), now))
                            },
                        )
                        .map_err(|e| match e {
                            CacheError::Verify(e) => VerifyFailure::Rejected(e),
                            CacheError::Revoked(r) => VerifyFailure::Revoked(r),
                        });
                }
                None => Arc::new(
                    self.issuers
                        .verify(token, now)
                        .map_err(VerifyFailure::Rejected)?,
                ),
            },
            Credential::ApiKey(key) => match &self.api_keys {
                Some(store) => store.verify(key, now).map_err(VerifyFailure::Rejected)?,
                None => {
                    return Err(VerifyFailure::Rejected(IdentityError::ApiKeyUnknown {
                        key_id: "(no api keys configured)".into(),
                    }))
                }
            },
        };
        if let Some(r) = revs.check(&verified, now) {
            return Err(VerifyFailure::Revoked(r));
        }
        Ok(f(self.with_grants(Verification::Identity(verified), now)))
    }

    /// Applies the JIT grants in force: an identity they extend becomes a
    /// new one (its cached preparation no longer applies).
    fn with_grants<'a>(&self, v: Verification<'a>, now: Timestamp) -> Verification<'a> {
        let grants = self.grants.load();
        if grants.is_empty() {
            return v;
        }
        let mut id = v.identity().clone();
        if grants.apply(&mut id, now) == 0 {
            return v;
        }
        Verification::Identity(Arc::new(id))
    }

    /// Verifies `credential`, applies revocations and JIT grants, and
    /// decides whether it may perform `action` on `resource`. Never fails:
    /// a rejected or revoked credential is a `Deny` with its reason.
    pub fn authorize(
        &self,
        credential: Credential<'_>,
        action: &EntityUid,
        resource: &EntityUid,
        context: Record,
        now: Timestamp,
    ) -> AccessDecision {
        let decided = self.with_verified(credential, now, |v| match v {
            Verification::Cached(v) => self.decide_verified(v, action, resource, context, now),
            Verification::Identity(identity) => {
                self.decide_for(identity, action, resource, context, now)
            }
        });
        match decided {
            Ok(d) => d,
            Err(f) => self.refused(f, action, resource, now),
        }
    }

    /// [`Mesh::authorize`] writing the decision into `out` (whatever
    /// decision it held is replaced): the lists of determining policies
    /// and advice keep their allocations, and the decision is built in
    /// place rather than moved. A host that keeps a decision per request
    /// slot (such as the C binding) reuses it call after call.
    pub fn authorize_into(
        &self,
        credential: Credential<'_>,
        action: &EntityUid,
        resource: &EntityUid,
        context: Record,
        now: Timestamp,
        out: &mut AccessDecision,
    ) {
        let decided = self.with_verified(credential, now, |v| {
            let snap = self.content.load();
            match v {
                Verification::Cached(v) => {
                    let request = v.request(&snap, action, resource, context, now);
                    decide_into(&snap, &request, now, &v.identity, out);
                }
                Verification::Identity(identity) => {
                    let request =
                        self.identity_request(&identity, &snap, action, resource, context, now);
                    decide_into(&snap, &request, now, &identity, out);
                }
            }
        });
        if let Err(f) = decided {
            *out = self.refused(f, action, resource, now);
        }
    }

    /// The Deny for a credential that was rejected or revoked.
    fn refused(
        &self,
        f: VerifyFailure,
        action: &EntityUid,
        resource: &EntityUid,
        now: Timestamp,
    ) -> AccessDecision {
        let (reason, credential_error, revocation) = match f {
            VerifyFailure::Rejected(e) => ("credential_rejected", Some(e), None),
            VerifyFailure::Revoked(r) => ("revoked", None, Some(r)),
        };
        AccessDecision {
            outcome: AccessOutcome::Deny,
            reason,
            policies: Vec::new(),
            errors: DecisionErrors::default(),
            advice: Vec::new(),
            credential_error,
            revocation,
            revision: self.content.revision(),
            identity: None,
            principal: None,
            action: action.clone(),
            resource: resource.clone(),
            time: now,
        }
    }

    /// Decides for an identity the host verified itself (revocations and
    /// grants still apply).
    pub fn decide_for(
        &self,
        identity: Arc<Identity>,
        action: &EntityUid,
        resource: &EntityUid,
        context: Record,
        now: Timestamp,
    ) -> AccessDecision {
        let snap = self.content.load();
        let request = self.identity_request(&identity, &snap, action, resource, context, now);
        let mut d = decide_with(&snap, &request, now);
        d.identity = Some(identity);
        d
    }

    /// The request of `identity` (converted with the mesh's mapping).
    fn identity_request(
        &self,
        identity: &Identity,
        snap: &Active<PolicyContent>,
        action: &EntityUid,
        resource: &EntityUid,
        context: Record,
        now: Timestamp,
    ) -> Request {
        Request::from_identity(
            identity,
            &self.mapping,
            action.clone(),
            resource.clone(),
            context,
            &snap.value().entities,
            now,
        )
    }

    /// Decides for a cached verification: the principal was converted when
    /// the token was verified and is resolved once per bundle revision.
    fn decide_verified(
        &self,
        v: &Verified,
        action: &EntityUid,
        resource: &EntityUid,
        context: Record,
        now: Timestamp,
    ) -> AccessDecision {
        let snap = self.content.load();
        let request = v.request(&snap, action, resource, context, now);
        let mut d = decide_with(&snap, &request, now);
        d.identity = Some(Arc::clone(&v.identity));
        d
    }

    /// Decides a request whose principal the host built itself.
    pub fn decide(&self, request: &Request) -> AccessDecision {
        let snap = self.content.load();
        decide_with(&snap, request, request.now())
    }

    /// Verifies, compiles and atomically activates a signed bundle. The
    /// active bundle is kept on any error (see [`BundleSlot::activate`]).
    pub fn activate_bundle(&self, bytes: &[u8]) -> Result<u64, BundleError> {
        self.content
            .activate(bytes, &self.trust, PolicyContent::from_bundle)
            .map(|a| a.revision())
    }

    /// Frees replaced policy contents that no decision holds any more
    /// (activations do this too; replaced contents are never freed by a
    /// deciding thread). Returns how many are still in use.
    pub fn reclaim_retired(&self) -> usize {
        self.content.reclaim()
    }

    /// The keys trusted to sign bundles.
    pub fn trusted_keys(&self) -> &TrustedKeys {
        &self.trust
    }

    /// Applies a local change to the revocation set (copy-on-write: readers
    /// keep deciding on the previous set until the new one is published).
    pub fn update_revocations<R>(
        &self,
        f: impl Fn(&mut RevocationSet) -> Result<R, IdentityError>,
    ) -> Result<R, IdentityError> {
        loop {
            let cur = self.revocations.load_full();
            let mut next = (*cur).clone();
            let r = f(&mut next)?;
            let prev = self.revocations.compare_and_swap(&cur, Arc::new(next));
            if Arc::ptr_eq(&prev, &cur) {
                return Ok(r);
            }
        }
    }

    /// Replaces the response policy of the mesh's analytics (by default,
    /// `[response] auto_revoke` gives a policy revoking the actor and session
    /// of every finding at or above `min_severity`).
    pub fn set_response_policy(&self, policy: ResponsePolicy) {
        self.analytics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set_policy(policy);
    }

    /// Configures the mesh's analytics (Sigma rules, intelligence, policy).
    pub fn with_analytics<R>(&self, f: impl FnOnce(&mut Analytics) -> R) -> R {
        f(&mut self
            .analytics
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// Feeds one OCSF event to the mesh's analytics; applies the revocations
    /// the response policy chose for the resulting findings to this mesh's
    /// revocation set (identity-anchored response: the actor's next
    /// decision is a `revoked` deny). Revocations last
    /// `[response] revoke_for_seconds` from `now`.
    pub fn observe(&self, event: &Json, now: Timestamp) -> Result<Observation, AnalyticsError> {
        self.observe_with(now, |a, findings| a.observe(event, findings))
    }

    /// [`Mesh::observe`] for an event given as JSON text (an NDJSON line),
    /// as the bindings and the CLI receive it: without Sigma rules or
    /// intelligence loaded, only the fields correlation needs are read (see
    /// [`crate::analytics::Signal::from_json`]). Same findings, responses
    /// and errors as parsing the text and calling [`Mesh::observe`].
    pub fn observe_json(&self, text: &str, now: Timestamp) -> Result<Observation, AnalyticsError> {
        self.observe_with(now, |a, findings| a.observe_json(text, findings))
    }

    /// Runs `feed` on the analytics (under their lock), then applies the
    /// responses chosen for the findings it produced.
    fn observe_with(
        &self,
        now: Timestamp,
        feed: impl FnOnce(&mut Analytics, &mut Vec<Finding>) -> Result<Admission, AnalyticsError>,
    ) -> Result<Observation, AnalyticsError> {
        let mut findings = Vec::new();
        let (admission, responses) = {
            let mut a = self
                .analytics
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let admission = feed(&mut a, &mut findings)?;
            (admission, a.respond(&findings))
        };
        let applied = self.apply_responses(&responses, now);
        Ok(Observation {
            admission,
            findings,
            responses,
            applied,
        })
    }

    /// Processes every event the analytics still buffer (end of a batch)
    /// and applies the resulting revocations, as [`Mesh::observe`].
    pub fn flush_observations(&self, now: Timestamp) -> Observation {
        let mut findings = Vec::new();
        let responses = {
            let mut a = self
                .analytics
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            a.flush(&mut findings);
            a.respond(&findings)
        };
        let applied = self.apply_responses(&responses, now);
        Observation {
            admission: Admission::Accepted,
            findings,
            responses,
            applied,
        }
    }

    fn apply_responses(&self, responses: &[ResponseRecord], now: Timestamp) -> Vec<ResponseRecord> {
        let secs = i64::try_from(self.response.revoke_for_seconds).unwrap_or(i64::MAX);
        let until = Timestamp::from_unix_millis(
            now.unix_millis().saturating_add(secs.saturating_mul(1000)),
        );
        responses
            .iter()
            .filter(|r| {
                let done = match &r.action {
                    ResponseAction::RevokeSubject { actor, before } => {
                        self.revoke_subject(actor.as_str(), *before, until)
                    }
                    ResponseAction::RevokeSession { session, .. } => {
                        self.update_revocations(|s| s.revoke_session(session, until))
                    }
                    _ => return false,
                };
                done.is_ok()
            })
            .cloned()
            .collect()
    }

    /// Revokes everything `subject` (any identifier; canonicalized)
    /// obtained before `before`, keeping the entry until `expires_at`.
    pub fn revoke_subject(
        &self,
        subject: &str,
        before: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), IdentityError> {
        self.update_revocations(|s| s.revoke_subject(subject, before, expires_at))
    }

    /// Merges a revocation set from another process (union, latest wins).
    pub fn merge_revocations(&self, other: &RevocationSet) {
        let _ = self.update_revocations(|s| {
            s.merge(other);
            Ok(())
        });
    }

    /// Merges a serialized revocation set (`RevocationSet::to_json`).
    pub fn merge_revocations_json(&self, json: &str) -> Result<(), IdentityError> {
        let other = RevocationSet::from_json(json)?;
        self.merge_revocations(&other);
        Ok(())
    }

    /// The current revocation set, serialized for other processes.
    pub fn revocations_json(&self) -> String {
        self.revocations.load().to_json()
    }

    /// Applies a local change to the JIT grants (copy-on-write).
    pub fn update_grants<R>(
        &self,
        f: impl Fn(&mut GrantSet) -> Result<R, IdentityError>,
    ) -> Result<R, IdentityError> {
        loop {
            let cur = self.grants.load_full();
            let mut next = (*cur).clone();
            let r = f(&mut next)?;
            let prev = self.grants.compare_and_swap(&cur, Arc::new(next));
            if Arc::ptr_eq(&prev, &cur) {
                return Ok(r);
            }
        }
    }

    /// Merges a serialized grant set (`GrantSet::to_json`) from another process.
    pub fn merge_grants_json(&self, json: &str) -> Result<(), IdentityError> {
        let other = GrantSet::from_json(json)?;
        self.update_grants(|s| {
            s.merge(&other);
            Ok(())
        })
    }

    /// The current grants, serialized for other processes.
    pub fn grants_json(&self) -> String {
        self.grants.load().to_json()
    }

    /// Whether `actor` is revoked at `now` (for an identity with only a subject).
    pub fn is_revoked(&self, actor: &ActorKey, now: Timestamp) -> bool {
        let id = Identity::new(actor.as_str(), "", crate::IdentityKind::Human);
        self.revocations.load().check(&id, now).is_some()
    }
}

/// The evaluation errors of a decision, kept as data and rendered to text
/// on first request (most callers never read them).
#[derive(Clone, Debug, Default)]
struct DecisionErrors {
    raw: Vec<(PolicyId, OwnedEvalError)>,
    text: OnceLock<Vec<String>>,
}

/// An [`EvalError`] that owns the attribute name it may carry.
#[derive(Clone, Debug)]
enum OwnedEvalError {
    MissingAttribute { attr: Box<str>, span: Span },
    Other(EvalError<'static>),
}

impl OwnedEvalError {
    fn new(error: EvalError<'_>) -> Self {
        match error {
            EvalError::MissingAttribute { attr, span } => OwnedEvalError::MissingAttribute {
                attr: attr.into(),
                span,
            },
            EvalError::TypeMismatch {
                op,
                expected,
                found,
                span,
            } => OwnedEvalError::Other(EvalError::TypeMismatch {
                op,
                expected,
                found,
                span,
            }),
            EvalError::UnknownEntity { span } => {
                OwnedEvalError::Other(EvalError::UnknownEntity { span })
            }
            EvalError::Overflow { op, span } => {
                OwnedEvalError::Other(EvalError::Overflow { op, span })
            }
            EvalError::BadExtensionValue { func, span } => {
                OwnedEvalError::Other(EvalError::BadExtensionValue { func, span })
            }
        }
    }

    /// Whether this is `error` (what [`OwnedEvalError::new`] would make of it).
    fn is(&self, error: &EvalError<'_>) -> bool {
        match (self, error) {
            (
                OwnedEvalError::MissingAttribute { attr, span },
                EvalError::MissingAttribute { attr: a, span: s },
            ) => **attr == **a && span == s,
            (OwnedEvalError::MissingAttribute { .. }, _) => false,
            (OwnedEvalError::Other(e), error) => e == error,
        }
    }
}

impl DecisionErrors {
    fn new<'p>(errors: impl Iterator<Item = (PolicyId, EvalError<'p>)>) -> Self {
        DecisionErrors {
            raw: errors
                .map(|(policy, error)| (policy, OwnedEvalError::new(error)))
                .collect(),
            text: OnceLock::new(),
        }
    }

    /// Makes these the errors `errors` lists, in place: an entry equal to
    /// the one already at its position is kept (no allocation), the list
    /// keeps its allocation, and the rendered text is dropped only if an
    /// entry changed. A decision made again for the same request (a host
    /// reusing its decision, see [`Mesh::authorize_into`]) usually meets
    /// the same errors.
    fn refill<'p>(&mut self, errors: impl Iterator<Item = (&'p PolicyId, EvalError<'p>)>) {
        let mut changed = false;
        let mut n = 0;
        for (policy, error) in errors {
            match self.raw.get_mut(n) {
                Some((p, e)) if p == policy && e.is(&error) => {}
                Some(entry) => {
                    *entry = (policy.clone(), OwnedEvalError::new(error));
                    changed = true;
                }
                None => {
                    self.raw.push((policy.clone(), OwnedEvalError::new(error)));
                    changed = true;
                }
            }
            n += 1;
        }
        if n != self.raw.len() {
            self.raw.truncate(n);
            changed = true;
        }
        if changed {
            self.text.take();
        }
    }

    fn rendered(&self) -> &[String] {
        self.text.get_or_init(|| {
            self.raw
                .iter()
                .map(|(policy, e)| {
                    let error = match e {
                        OwnedEvalError::MissingAttribute { attr, span } => {
                            EvalError::MissingAttribute { attr, span: *span }
                        }
                        OwnedEvalError::Other(e) => *e,
                    };
                    PolicyEvalError { policy, error }.to_string()
                })
                .collect()
        })
    }
}

/// A verified identity as the token cache keeps it: with its principal
/// converted for decisions, and resolved against the entity store of the
/// last bundle revision it was decided with.
struct Verified {
    identity: Arc<Identity>,
    principal: PreparedPrincipal,
    resolved: ArcSwapOption<Resolved>,
}

/// A principal entity with ancestors resolved in one revision's entities.
struct Resolved {
    revision: u64,
    entity: Arc<Entity>,
}

impl AsRef<Identity> for Verified {
    fn as_ref(&self) -> &Identity {
        &self.identity
    }
}

impl Verified {
    fn new(identity: Identity, mapping: &IdentityMapping) -> Verified {
        Verified {
            principal: PreparedPrincipal::new(&identity, mapping),
            identity: Arc::new(identity),
            resolved: ArcSwapOption::empty(),
        }
    }

    /// The principal resolved against `snap`'s entities (revisions only
    /// grow within a mesh, so the revision names the store).
    /// The request of this verification's principal, resolved against
    /// `snap`.
    fn request(
        &self,
        snap: &Active<PolicyContent>,
        action: &EntityUid,
        resource: &EntityUid,
        context: Record,
        now: Timestamp,
    ) -> Request {
        let principal = self.principal_for(snap);
        self.principal
            .request(principal, action.clone(), resource.clone(), context, now)
    }

    fn principal_for(&self, snap: &Active<PolicyContent>) -> Arc<Entity> {
        let revision = snap.revision();
        if let Some(r) = self.resolved.load().as_deref() {
            if r.revision == revision {
                return Arc::clone(&r.entity);
            }
        }
        let entity = self.principal.resolve(&snap.value().entities);
        self.resolved.store(Some(Arc::new(Resolved {
            revision,
            entity: Arc::clone(&entity),
        })));
        entity
    }
}

/// A token cache entry: the verified identity, and one prepared copy of it
/// per lane of threads ([`thread_lane`]), each built on the first use by a
/// thread of that lane. Threads of different lanes then share no reference
/// count while deciding (the identity, its principal entity and context
/// values are separate allocations per lane).
struct Prepared {
    identity: Identity,
    lanes: [OnceLock<Verified>; LANES],
}

impl AsRef<Identity> for Prepared {
    fn as_ref(&self) -> &Identity {
        &self.identity
    }
}

impl Prepared {
    fn new(identity: Identity) -> Prepared {
        Prepared {
            identity,
            lanes: Default::default(),
        }
    }

    /// The calling thread's prepared copy.
    fn lane(&self, mapping: &IdentityMapping) -> &Verified {
        let [first, ..] = &self.lanes;
        self.lanes
            .get(thread_lane())
            .unwrap_or(first)
            .get_or_init(|| Verified::new(self.identity.clone(), &lane_mapping(mapping)))
    }
}

/// `mapping` with entity type names of its own. The principal a lane
/// prepares takes its type names from it: every decision clones the
/// principal's reference several times, and a type name shared with other
/// lanes would make that a reference count all deciding threads write.
fn lane_mapping(mapping: &IdentityMapping) -> IdentityMapping {
    let own = |t: &EntityType| EntityType::new(t.as_str());
    IdentityMapping {
        principal_type: own(&mapping.principal_type),
        service_type: own(&mapping.service_type),
        device_type: own(&mapping.device_type),
        group_type: own(&mapping.group_type),
        role_type: own(&mapping.role_type),
    }
}

/// What [`Mesh::with_verified`] found.
enum Verification<'a> {
    /// A cache entry, unchanged by grants.
    Cached(&'a Verified),
    /// An identity verified now, or extended by grants.
    Identity(Arc<Identity>),
}

impl Verification<'_> {
    fn identity(&self) -> &Identity {
        match self {
            Verification::Cached(v) => &v.identity,
            Verification::Identity(id) => id,
        }
    }
}

/// Why [`Mesh::verify`] returned no identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyFailure {
    /// The credential did not verify.
    Rejected(IdentityError),
    /// The credential verified but its subject, session, token or device is revoked.
    Revoked(RevocationReason),
}

impl std::fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyFailure::Rejected(e) => write!(f, "{e}"),
            VerifyFailure::Revoked(r) => write!(f, "identity is revoked (by {})", r.as_str()),
        }
    }
}

/// The outcome of a policy decision as an [`AccessOutcome`].
fn access_outcome(d: &crate::policy::Decision<'_>) -> AccessOutcome {
    match d.outcome() {
        Outcome::Allow => AccessOutcome::Allow,
        Outcome::Deny => AccessOutcome::Deny,
        Outcome::Challenge { obligation } => AccessOutcome::Challenge {
            obligation: obligation.name().to_owned(),
            max_auth_age: obligation.max_age(),
        },
    }
}

/// The ids (from `ids`, the lane's copies) of a decision's determining
/// policies.
fn determining_ids<'a>(
    d: &'a crate::policy::Decision<'_>,
    ids: &'a [PolicyId],
) -> impl Iterator<Item = PolicyId> + 'a {
    d.determining
        .as_slice()
        .iter()
        .filter_map(|&i| ids.get(i as usize).cloned())
}

/// A decision's evaluation errors, by policy id (from `ids`).
fn decision_errors(d: &crate::policy::Decision<'_>, ids: &[PolicyId]) -> DecisionErrors {
    DecisionErrors::new(lane_errors(d, ids).map(|(id, e)| (id.clone(), e)))
}

/// The evaluation errors of `d`, each with its policy's id from `ids` (the
/// calling lane's copies).
fn lane_errors<'a, 'p>(
    d: &'a crate::policy::Decision<'p>,
    ids: &'a [PolicyId],
) -> impl Iterator<Item = (&'a PolicyId, EvalError<'p>)> + 'a {
    d.errors
        .as_slice()
        .iter()
        .filter_map(|&(i, e)| ids.get(i as usize).map(|id| (id, e)))
}

/// [`decide_with`] into an existing decision, field by field (its lists
/// keep their allocations); `identity` is the decision's identity.
///
/// The identity, principal, action and resource the decision already holds
/// stay when they are the very values of the new request (the usual case
/// when a host thread's decision is made again and again from its cached
/// references): no reference count is then written for them.
fn decide_into(
    snap: &Active<PolicyContent>,
    request: &Request,
    now: Timestamp,
    identity: &Arc<Identity>,
    out: &mut AccessDecision,
) {
    let c = snap.value();
    let d = c.policies.decide(request, &c.entities);
    let ids = c.lane_ids(thread_lane());
    out.outcome = access_outcome(&d);
    out.reason = d.reason().as_str();
    out.policies.clear();
    out.policies.extend(determining_ids(&d, ids));
    out.errors.refill(lane_errors(&d, ids));
    out.advice.clear();
    out.advice.extend(d.advice().map(str::to_owned));
    out.credential_error = None;
    out.revocation = None;
    out.revision = snap.revision();
    if !out
        .identity
        .as_ref()
        .is_some_and(|i| Arc::ptr_eq(i, identity))
    {
        out.identity = Some(Arc::clone(identity));
    }
    if !out
        .principal
        .as_ref()
        .is_some_and(|p| same_uid(p, request.principal()))
    {
        out.principal = Some(request.principal().clone());
    }
    if !same_uid(&out.action, request.action()) {
        out.action.clone_from(request.action());
    }
    if !same_uid(&out.resource, request.resource()) {
        out.resource.clone_from(request.resource());
    }
    out.time = now;
}

/// Whether `a` and `b` hold the same shared strings (clones of one
/// reference, so equal): two pointer comparisons, no string compared.
fn same_uid(a: &EntityUid, b: &EntityUid) -> bool {
    std::ptr::eq(a.id(), b.id()) && std::ptr::eq(a.entity_type().as_str(), b.entity_type().as_str())
}

fn decide_with(snap: &Active<PolicyContent>, request: &Request, now: Timestamp) -> AccessDecision {
    let c = snap.value();
    let d = c.policies.decide(request, &c.entities);
    let ids = c.lane_ids(thread_lane());
    AccessDecision {
        outcome: access_outcome(&d),
        reason: d.reason().as_str(),
        policies: determining_ids(&d, ids).collect(),
        errors: decision_errors(&d, ids),
        advice: d.advice().map(str::to_owned).collect(),
        credential_error: None,
        revocation: None,
        revision: snap.revision(),
        identity: None,
        principal: Some(request.principal().clone()),
        action: request.action().clone(),
        resource: request.resource().clone(),
        time: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn mesh_is_send_sync() {
        assert_send_sync::<Mesh>();
        assert_send_sync::<AccessDecision>();
    }

    #[test]
    fn a_lane_mapping_is_equal_but_shares_no_type_name() {
        let mapping = IdentityMapping::default();
        let lane = lane_mapping(&mapping);
        assert_eq!(lane, mapping);
        for (a, b) in [
            (&lane.principal_type, &mapping.principal_type),
            (&lane.service_type, &mapping.service_type),
            (&lane.device_type, &mapping.device_type),
            (&lane.group_type, &mapping.group_type),
            (&lane.role_type, &mapping.role_type),
        ] {
            assert_eq!(a, b);
            assert!(!std::ptr::eq(a.as_str(), b.as_str()));
        }
    }

    #[test]
    fn activities_from_action_names() {
        assert_eq!(activity_of("read"), 2);
        assert_eq!(activity_of("ListBuckets"), 2);
        assert_eq!(activity_of("delete_user"), 4);
        assert_eq!(activity_of("transfer"), 99);
    }

    #[test]
    fn credential_detection() {
        assert!(matches!(
            Credential::detect("Bearer a.b.c"),
            Credential::Bearer("a.b.c")
        ));
        assert!(matches!(
            Credential::detect("mesh_x_y_z"),
            Credential::ApiKey(_)
        ));
        assert_eq!(
            format!("{:?}", Credential::detect("secret")),
            "Credential::Bearer(redacted)"
        );
    }

    #[test]
    fn refilled_errors_match_new_ones_and_keep_what_is_unchanged() {
        let p0 = PolicyId::new("policy0");
        let p1 = PolicyId::new("policy1");
        let missing = |attr| EvalError::MissingAttribute {
            attr,
            span: Span::new(3, 9),
        };
        let overflow = EvalError::Overflow {
            op: "+",
            span: Span::new(1, 2),
        };
        let first = [(&p0, missing("dept")), (&p1, overflow)];
        let mut errors = DecisionErrors::new(first.iter().map(|(p, e)| ((*p).clone(), *e)));
        let rendered = errors.rendered().to_vec();
        let text_at = errors.rendered().as_ptr();
        // The same errors: nothing is rebuilt, the text stays.
        errors.refill(first.iter().map(|(p, e)| (*p, *e)));
        assert_eq!(errors.rendered().as_ptr(), text_at);
        assert_eq!(errors.rendered(), rendered);
        // Each kind of change gives what `new` gives for the same list.
        let cases: [Vec<(&PolicyId, EvalError<'_>)>; 5] = [
            vec![(&p0, missing("team")), (&p1, overflow)],
            vec![(&p1, missing("dept")), (&p1, overflow)],
            vec![(&p0, missing("dept"))],
            vec![(&p0, missing("dept")), (&p1, overflow), (&p0, overflow)],
            vec![],
        ];
        for case in cases {
            errors.refill(case.iter().map(|(p, e)| (*p, *e)));
            let fresh = DecisionErrors::new(case.iter().map(|(p, e)| ((*p).clone(), *e)));
            assert_eq!(errors.rendered(), fresh.rendered());
            assert_eq!(errors.raw.len(), case.len());
        }
    }
}
