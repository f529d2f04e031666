//! Requests: principal, action, resource, context, and optionally the
//! principal's own entity data and authentication context (from an
//! [`Identity`]).

use std::sync::Arc;

use serde_json::Value as Json;

use super::entities::{uid_from_json, value_from_json_at, Entities, Entity, Ptr};
use super::value::{EntityType, EntityUid, Record, Set, Value};
use super::PolicyError;
use crate::identity::{AuthContext, Identity, IdentityKind, StrList};
use crate::Timestamp;

/// An authorization request.
#[derive(Clone, Debug)]
pub struct Request {
    uids: [EntityUid; 3],
    context_record: Record,
    pub(crate) principal: Value,
    pub(crate) action: Value,
    pub(crate) resource: Value,
    pub(crate) context: Value,
    pub(crate) principal_entity: Option<Arc<Entity>>,
    pub(crate) auth: Option<Arc<AuthContext>>,
    pub(crate) now: Timestamp,
}

impl Request {
    /// A request; the principal's data, if any, comes from the entity store.
    pub fn new(
        principal: EntityUid,
        action: EntityUid,
        resource: EntityUid,
        context: Record,
    ) -> Self {
        Request {
            uids: [principal.clone(), action.clone(), resource.clone()],
            context_record: context.clone(),
            principal: Value::Entity(principal),
            action: Value::Entity(action),
            resource: Value::Entity(resource),
            context: Value::Record(context),
            principal_entity: None,
            auth: None,
            now: Timestamp::EPOCH,
        }
    }

    /// Attaches the principal's authentication context and the current
    /// time, which obligations (`@obligation`, `@max_auth_age`) check.
    pub fn with_auth(self, auth: AuthContext, now: Timestamp) -> Self {
        self.with_shared_auth(Arc::new(auth), now)
    }

    /// As [`Request::with_auth`], sharing an authentication context built
    /// once (e.g. by a [`PreparedPrincipal`]).
    pub fn with_shared_auth(mut self, auth: Arc<AuthContext>, now: Timestamp) -> Self {
        self.auth = Some(auth);
        self.now = now;
        self
    }

    /// Uses `entity` as the principal (its uid becomes the principal), in
    /// place of any store entry with the same uid.
    pub fn with_principal_entity(self, entity: Entity) -> Self {
        self.with_shared_principal(Arc::new(entity))
    }

    /// As [`Request::with_principal_entity`], sharing an entity built once
    /// (e.g. by [`PreparedPrincipal::resolve`]).
    pub fn with_shared_principal(mut self, entity: Arc<Entity>) -> Self {
        self.principal = Value::Entity(entity.uid().clone());
        self.uids[0] = entity.uid().clone();
        self.principal_entity = Some(entity);
        self
    }

    /// A request whose principal is a verified [`Identity`], converted
    /// directly (no JSON round-trip) with `mapping`; its groups and roles
    /// (and their ancestors in `entities`) become the principal's ancestors.
    /// The identity's authentication context and `now` are attached for
    /// obligations; see [`IdentityMapping`] for the attributes and context.
    pub fn from_identity(
        identity: &Identity,
        mapping: &IdentityMapping,
        action: EntityUid,
        resource: EntityUid,
        context: Record,
        entities: &Entities,
        now: Timestamp,
    ) -> Self {
        // One request: resolve the entity in place rather than through a
        // (shareable) PreparedPrincipal.
        let mut entity = mapping.principal_entity(identity);
        entity.resolve_ancestors(entities);
        let context = ContextExtras::new(identity).apply(context, now);
        Request::assemble(
            Arc::new(entity),
            Arc::new(identity.auth().to_context()),
            action,
            resource,
            context,
            now,
        )
    }

    /// A request of a principal entity with an authentication context;
    /// `context` is already extended.
    fn assemble(
        principal: Arc<Entity>,
        auth: Arc<AuthContext>,
        action: EntityUid,
        resource: EntityUid,
        context: Record,
        now: Timestamp,
    ) -> Request {
        let uid = principal.uid().clone();
        Request {
            uids: [uid.clone(), action.clone(), resource.clone()],
            context_record: context.clone(),
            principal: Value::Entity(uid),
            action: Value::Entity(action),
            resource: Value::Entity(resource),
            context: Value::Record(context),
            principal_entity: Some(principal),
            auth: Some(auth),
            now,
        }
    }

    /// A request from JSON: `{"principal": …, "action": …, "resource": …,
    /// "context": {…}}` where entities are `Type::"id"` strings or
    /// `{"type": …, "id": …}` objects. Without a schema, context strings stay
    /// Strings (as in Cedar); write IP addresses as
    /// `{"__extn": {"fn": "ip", "arg": "10.0.0.1"}}` or convert them first.
    pub fn from_json(json: &Json) -> Result<Self, PolicyError> {
        let field = |name: &str| -> Result<EntityUid, PolicyError> {
            let err = |m: String| PolicyError::Request {
                field: name.to_string(),
                message: m,
            };
            match json.get(name) {
                Some(Json::String(s)) => EntityUid::parse(s).map_err(|e| err(e.to_string())),
                Some(v @ Json::Object(_)) => uid_from_json(v, &Ptr::Root(&format!("/{name}")))
                    .map_err(|e| err(e.to_string())),
                Some(_) => Err(err("expected an entity".into())),
                None => Err(err("missing".into())),
            }
        };
        let principal = field("principal")?;
        let action = field("action")?;
        let resource = field("resource")?;
        let context = match json.get("context") {
            None => Record::default(),
            Some(v @ Json::Object(_)) => {
                match value_from_json_at(v, &Ptr::Root("/context"), 0, |p, m| {
                    PolicyError::Request {
                        field: p.to_string(),
                        message: m,
                    }
                })? {
                    Value::Record(r) => r,
                    _ => Record::default(),
                }
            }
            Some(_) => {
                return Err(PolicyError::Request {
                    field: "context".into(),
                    message: "expected an object".into(),
                })
            }
        };
        Ok(Request::new(principal, action, resource, context))
    }

    /// The principal.
    pub fn principal(&self) -> &EntityUid {
        let [p, _, _] = &self.uids;
        p
    }
    /// The action.
    pub fn action(&self) -> &EntityUid {
        let [_, a, _] = &self.uids;
        a
    }
    /// The resource.
    pub fn resource(&self) -> &EntityUid {
        let [_, _, r] = &self.uids;
        r
    }
    /// The context record.
    pub fn context(&self) -> &Record {
        &self.context_record
    }
    /// Replaces the context (e.g. to convert values as a schema says).
    pub fn set_context(&mut self, context: Record) {
        self.context_record = context.clone();
        self.context = Value::Record(context);
    }
    /// The principal entity carried by the request, if any.
    pub fn principal_entity(&self) -> Option<&Entity> {
        self.principal_entity.as_deref()
    }
    /// The authentication context, if attached.
    pub fn auth(&self) -> Option<&AuthContext> {
        self.auth.as_deref()
    }
    /// The time the request is decided at (for obligations).
    pub fn now(&self) -> Timestamp {
        self.now
    }
}

/// How an [`Identity`] becomes a principal entity and request context.
///
/// - uid: `principal_type::"subject"` for humans, `service_type` for
///   services, `device_type` for devices;
/// - parents: `group_type::"g"` for each group, `role_type::"r"` for each role;
/// - attributes: `subject`, `issuer`, `kind` (`human`/`service`/`device`),
///   `actor` (the canonical actor key), `groups`, `roles`, `entitlements`
///   (sets of strings), and every claim as its Cedar value (claims that
///   have no Cedar form, such as floats or `null`, are left out) under
///   `claims`;
/// - context: the caller's context plus `auth` = `{methods: Set<String>,
///   acr: String (if any), auth_time: Long ms (if any), age_ms: Long (if
///   auth_time)}` and `device` = `{device_id, …posture attributes}` when the
///   identity has device posture (a caller-given `auth`/`device` wins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityMapping {
    /// Entity type of human principals (default `User`).
    pub principal_type: EntityType,
    /// Entity type of service principals (default `Service`).
    pub service_type: EntityType,
    /// Entity type of device principals (default `Device`).
    pub device_type: EntityType,
    /// Entity type of groups (default `Group`).
    pub group_type: EntityType,
    /// Entity type of roles (default `Role`).
    pub role_type: EntityType,
}

impl Default for IdentityMapping {
    fn default() -> Self {
        IdentityMapping {
            principal_type: EntityType::new("User"),
            service_type: EntityType::new("Service"),
            device_type: EntityType::new("Device"),
            group_type: EntityType::new("Group"),
            role_type: EntityType::new("Role"),
        }
    }
}

fn string_set(items: StrList<'_>) -> Value {
    Value::Set(Set::new(items.iter().map(Value::string).collect()))
}

impl IdentityMapping {
    /// The principal entity for `identity` (ancestors not yet resolved
    /// against a store; see [`Entity::resolve_ancestors`]).
    pub fn principal_entity(&self, identity: &Identity) -> Entity {
        let ty = match identity.kind() {
            IdentityKind::Human => &self.principal_type,
            IdentityKind::Service => &self.service_type,
            IdentityKind::Device => &self.device_type,
        };
        let uid = EntityUid::new(ty.clone(), identity.subject());
        let mut parents: Vec<EntityUid> =
            Vec::with_capacity(identity.groups().len() + identity.roles().len());
        parents.extend(
            identity
                .groups()
                .iter()
                .map(|g| EntityUid::new(self.group_type.clone(), g)),
        );
        parents.extend(
            identity
                .roles()
                .iter()
                .map(|r| EntityUid::new(self.role_type.clone(), r)),
        );
        let kind = match identity.kind() {
            IdentityKind::Human => "human",
            IdentityKind::Service => "service",
            IdentityKind::Device => "device",
        };
        let mut claims: Vec<(Arc<str>, Value)> = Vec::with_capacity(identity.claims().len());
        for (k, v) in identity.claims() {
            if let Ok(v) = value_from_json_at(v, &Ptr::Root(""), 1, |p, m| PolicyError::Request {
                field: p.to_string(),
                message: m,
            }) {
                claims.push((Arc::from(k.as_str()), v));
            }
        }
        // Listed in name order, so the record needs no sort.
        let attrs = vec![
            (
                Arc::from("actor"),
                Value::string(identity.actor_key().as_str()),
            ),
            (
                Arc::from("claims"),
                Value::Record(Record::new(claims).unwrap_or_default()),
            ),
            (
                Arc::from("entitlements"),
                string_set(identity.entitlements()),
            ),
            (Arc::from("groups"), string_set(identity.groups())),
            (Arc::from("issuer"), Value::string(identity.issuer())),
            (Arc::from("kind"), Value::string(kind)),
            (Arc::from("roles"), string_set(identity.roles())),
            (Arc::from("subject"), Value::string(identity.subject())),
        ];
        Entity::new(uid, Record::from_sorted(attrs), parents)
    }

    /// `context` extended with `auth` and `device` from the identity.
    pub fn context(&self, identity: &Identity, context: Record, now: Timestamp) -> Record {
        let extras = ContextExtras::new(identity);
        extras.apply(context, now)
    }
}

/// The attribute names of the context an identity adds, allocated once.
#[derive(Clone, Debug)]
struct ContextKeys {
    auth: Arc<str>,
    device: Arc<str>,
    age_ms: Arc<str>,
    auth_time: Arc<str>,
}

impl ContextKeys {
    fn new() -> Self {
        ContextKeys {
            auth: Arc::from("auth"),
            device: Arc::from("device"),
            age_ms: Arc::from("age_ms"),
            auth_time: Arc::from("auth_time"),
        }
    }
}

/// The `auth` and `device` context records of an identity, built once:
/// only `auth.age_ms` depends on the time of the request.
#[derive(Clone, Debug)]
struct ContextExtras {
    keys: ContextKeys,
    /// `acr` (if any) and `methods`, sorted by name.
    auth_fixed: Vec<(Arc<str>, Value)>,
    auth_time: Option<i64>,
    /// The whole `auth` record when it does not depend on the time.
    auth_record: Option<Value>,
    device: Option<Value>,
}

impl ContextExtras {
    fn new(identity: &Identity) -> Self {
        let keys = ContextKeys::new();
        let a = identity.auth();
        let mut auth_fixed = Vec::with_capacity(2);
        if let Some(acr) = a.acr() {
            auth_fixed.push((Arc::from("acr"), Value::string(acr)));
        }
        auth_fixed.push((Arc::from("methods"), string_set(a.methods())));
        let auth_time = a.auth_time().map(Timestamp::unix_millis);
        let auth_record = match auth_time {
            None => Some(Value::Record(
                Record::new(auth_fixed.clone()).unwrap_or_default(),
            )),
            Some(_) => None,
        };
        let device = identity.device().map(|d| {
            let mut dev = vec![(Arc::from("device_id"), Value::string(&d.device_id))];
            for (k, v) in &d.attributes {
                if k == "device_id" {
                    continue;
                }
                if let Ok(v) =
                    value_from_json_at(v, &Ptr::Root(""), 1, |p, m| PolicyError::Request {
                        field: p.to_string(),
                        message: m,
                    })
                {
                    dev.push((Arc::from(k.as_str()), v));
                }
            }
            Value::Record(Record::new(dev).unwrap_or_default())
        });
        ContextExtras {
            keys,
            auth_fixed,
            auth_time,
            auth_record,
            device,
        }
    }

    /// The `auth` record at `now`.
    fn auth_at(&self, now: Timestamp) -> Value {
        if let Some(r) = &self.auth_record {
            return r.clone();
        }
        let mut fields = Vec::with_capacity(self.auth_fixed.len() + 2);
        fields.extend(self.auth_fixed.iter().cloned());
        if let Some(t) = self.auth_time {
            let age = now.unix_millis().saturating_sub(t);
            fields.push((Arc::clone(&self.keys.auth_time), Value::Long(t)));
            fields.push((Arc::clone(&self.keys.age_ms), Value::Long(age)));
        }
        Value::Record(Record::new(fields).unwrap_or_default())
    }

    /// `context` plus `auth` and `device` (a caller-given field of the same
    /// name wins).
    fn apply(&self, context: Record, now: Timestamp) -> Record {
        let auth = context
            .get("auth")
            .is_none()
            .then(|| (Arc::clone(&self.keys.auth), self.auth_at(now)));
        let device = match (&self.device, context.get("device").is_none()) {
            (Some(d), true) => Some((Arc::clone(&self.keys.device), d.clone())),
            _ => None,
        };
        if auth.is_none() && device.is_none() {
            return context;
        }
        context.merged(auth.into_iter().chain(device))
    }
}

/// An [`Identity`] converted once into what its requests need: the
/// principal entity ([`IdentityMapping::principal_entity`]), the shared
/// authentication context, and the `auth` / `device` context records.
/// Keep it with a verified identity (e.g. in a token cache entry) so each
/// request only resolves ancestors (once per entity store, see
/// [`PreparedPrincipal::resolve`]) and decides.
#[derive(Clone, Debug)]
pub struct PreparedPrincipal {
    entity: Entity,
    auth: Arc<AuthContext>,
    extras: ContextExtras,
}

impl PreparedPrincipal {
    /// Converts `identity` with `mapping`.
    pub fn new(identity: &Identity, mapping: &IdentityMapping) -> Self {
        PreparedPrincipal {
            entity: mapping.principal_entity(identity),
            auth: Arc::new(identity.auth().to_context()),
            extras: ContextExtras::new(identity),
        }
    }

    /// The principal entity, its ancestors not resolved against a store.
    pub fn entity(&self) -> &Entity {
        &self.entity
    }

    /// The principal entity with its ancestors resolved in `entities` (its
    /// groups and roles and their ancestors there). Share the result across
    /// the requests decided against the same store.
    pub fn resolve(&self, entities: &Entities) -> Arc<Entity> {
        let mut e = self.entity.clone();
        e.resolve_ancestors(entities);
        Arc::new(e)
    }

    /// A request of this principal (`principal`: from
    /// [`PreparedPrincipal::resolve`] against the store it is decided
    /// with), with the context extended as [`IdentityMapping::context`]
    /// does and the authentication context attached for obligations.
    pub fn request(
        &self,
        principal: Arc<Entity>,
        action: EntityUid,
        resource: EntityUid,
        context: Record,
        now: Timestamp,
    ) -> Request {
        let context = self.extras.apply(context, now);
        Request::assemble(
            principal,
            Arc::clone(&self.auth),
            action,
            resource,
            context,
            now,
        )
    }
}
