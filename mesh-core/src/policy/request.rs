//! Requests: principal, action, resource, context, and optionally the
//! principal's own entity data and authentication context (from an
//! [`Identity`]).

use std::sync::Arc;

use serde_json::Value as Json;

use super::entities::{uid_from_json, value_from_json_at, Entities, Entity};
use super::value::{EntityType, EntityUid, Record, Set, Value};
use super::PolicyError;
use crate::identity::{AuthContext, Identity, IdentityKind};
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
    pub(crate) principal_entity: Option<Entity>,
    pub(crate) auth: Option<AuthContext>,
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
    pub fn with_auth(mut self, auth: AuthContext, now: Timestamp) -> Self {
        self.auth = Some(auth);
        self.now = now;
        self
    }

    /// Uses `entity` as the principal (its uid becomes the principal), in
    /// place of any store entry with the same uid.
    pub fn with_principal_entity(mut self, entity: Entity) -> Self {
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
        let mut entity = mapping.principal_entity(identity);
        entity.resolve_ancestors(entities);
        let context = mapping.context(identity, context, now);
        Request::new(entity.uid().clone(), action, resource, context)
            .with_principal_entity(entity)
            .with_auth(identity.auth.clone(), now)
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
                Some(v @ Json::Object(_)) => {
                    uid_from_json(v, &format!("/{name}")).map_err(|e| err(e.to_string()))
                }
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
                match value_from_json_at(v, "/context", 0, |p, m| PolicyError::Request {
                    field: p.to_string(),
                    message: m,
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
        self.principal_entity.as_ref()
    }
    /// The authentication context, if attached.
    pub fn auth(&self) -> Option<&AuthContext> {
        self.auth.as_ref()
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

fn string_set(items: &[String]) -> Value {
    Value::Set(Set::new(items.iter().map(|s| Value::string(s)).collect()))
}

impl IdentityMapping {
    /// The principal entity for `identity` (ancestors not yet resolved
    /// against a store; see [`Entity::resolve_ancestors`]).
    pub fn principal_entity(&self, identity: &Identity) -> Entity {
        let ty = match identity.kind {
            IdentityKind::Human => &self.principal_type,
            IdentityKind::Service => &self.service_type,
            IdentityKind::Device => &self.device_type,
        };
        let uid = EntityUid::new(ty.clone(), &identity.subject);
        let mut parents: Vec<EntityUid> =
            Vec::with_capacity(identity.groups.len() + identity.roles.len());
        parents.extend(
            identity
                .groups
                .iter()
                .map(|g| EntityUid::new(self.group_type.clone(), g)),
        );
        parents.extend(
            identity
                .roles
                .iter()
                .map(|r| EntityUid::new(self.role_type.clone(), r)),
        );
        let kind = match identity.kind {
            IdentityKind::Human => "human",
            IdentityKind::Service => "service",
            IdentityKind::Device => "device",
        };
        let mut claims: Vec<(Arc<str>, Value)> = Vec::with_capacity(identity.claims.len());
        for (k, v) in &identity.claims {
            if let Ok(v) = value_from_json_at(v, "", 1, |p, m| PolicyError::Request {
                field: p.to_string(),
                message: m,
            }) {
                claims.push((Arc::from(k.as_str()), v));
            }
        }
        let attrs = vec![
            (Arc::from("subject"), Value::string(&identity.subject)),
            (Arc::from("issuer"), Value::string(&identity.issuer)),
            (Arc::from("kind"), Value::string(kind)),
            (
                Arc::from("actor"),
                Value::string(identity.actor_key().as_str()),
            ),
            (Arc::from("groups"), string_set(&identity.groups)),
            (Arc::from("roles"), string_set(&identity.roles)),
            (
                Arc::from("entitlements"),
                string_set(&identity.entitlements),
            ),
            (
                Arc::from("claims"),
                Value::Record(Record::new(claims).unwrap_or_default()),
            ),
        ];
        Entity::new(uid, Record::new(attrs).unwrap_or_default(), parents)
    }

    /// `context` extended with `auth` and `device` from the identity.
    pub fn context(&self, identity: &Identity, context: Record, now: Timestamp) -> Record {
        let mut fields: Vec<(Arc<str>, Value)> = context
            .iter()
            .map(|(k, v)| (Arc::from(k), v.clone()))
            .collect();
        let has = |name: &str| context.get(name).is_some();
        if !has("auth") {
            let a = &identity.auth;
            let mut auth = vec![(Arc::from("methods"), string_set(&a.methods))];
            if let Some(acr) = &a.acr {
                auth.push((Arc::from("acr"), Value::string(acr)));
            }
            if let Some(t) = a.auth_time {
                auth.push((Arc::from("auth_time"), Value::Long(t.unix_millis())));
                let age = now.unix_millis().saturating_sub(t.unix_millis());
                auth.push((Arc::from("age_ms"), Value::Long(age)));
            }
            fields.push((
                Arc::from("auth"),
                Value::Record(Record::new(auth).unwrap_or_default()),
            ));
        }
        if let (Some(d), false) = (&identity.device, has("device")) {
            let mut dev = vec![(Arc::from("device_id"), Value::string(&d.device_id))];
            for (k, v) in &d.attributes {
                if k == "device_id" {
                    continue;
                }
                if let Ok(v) = value_from_json_at(v, "", 1, |p, m| PolicyError::Request {
                    field: p.to_string(),
                    message: m,
                }) {
                    dev.push((Arc::from(k.as_str()), v));
                }
            }
            fields.push((
                Arc::from("device"),
                Value::Record(Record::new(dev).unwrap_or_default()),
            ));
        }
        Record::new(fields).unwrap_or(context)
    }
}
