//! Differential testing and benchmarking of mesh's policy engine against
//! `cedar-policy`, kept in its own crate so Cedar never enters mesh-core's
//! dependency tree.
//!
//! Both engines load the same texts: Cedar policies, a `.cedarschema`
//! schema, Cedar entity JSON and JSON requests. mesh runs in
//! [`ErrorMode::SkipOnError`] so its decisions are comparable with Cedar's.

use std::collections::BTreeSet;
use std::str::FromStr;

use mesh_core::policy::{check, Entities, ErrorMode, Outcome, PolicySet, Request, Schema};

/// A decision reduced to what both engines report: allowed or not, and the
/// ids of the determining policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether access is allowed.
    pub allow: bool,
    /// The determining policy ids.
    pub determining: BTreeSet<String>,
}

/// mesh, loaded from the shared texts.
pub struct MeshEngine {
    /// The compiled policies (skip-on-error mode).
    pub policies: PolicySet,
    /// The entity store.
    pub entities: Entities,
    /// The schema, when one was given.
    pub schema: Option<Schema>,
}

impl MeshEngine {
    /// Parses, validates (with a schema) and compiles `policies`.
    ///
    /// # Errors
    /// The rendered diagnostics.
    pub fn compile(
        policies: &str,
        schema: Option<&str>,
    ) -> Result<(PolicySet, Option<Schema>), String> {
        let schema = match schema {
            Some(s) => {
                Some(Schema::from_cedarschema(s, "schema.cedarschema").map_err(|e| e.report())?)
            }
            None => None,
        };
        let parsed = check(policies, "policies.cedar", schema.as_ref())
            .map_err(|d| d.iter().map(|d| d.render()).collect::<String>())?;
        let set = PolicySet::from_policies(parsed)
            .map_err(|e| e.to_string())?
            .with_error_mode(ErrorMode::SkipOnError);
        Ok((set, schema))
    }

    /// Loads entity JSON.
    ///
    /// # Errors
    /// The loader's message.
    pub fn load_entities(json: &str) -> Result<Entities, String> {
        Entities::from_json_str(json).map_err(|e| e.to_string())
    }

    /// Loads everything.
    ///
    /// # Errors
    /// The first failure, as text.
    pub fn new(policies: &str, schema: Option<&str>, entities: &str) -> Result<Self, String> {
        let (policies, schema) = Self::compile(policies, schema)?;
        Ok(MeshEngine {
            policies,
            entities: Self::load_entities(entities)?,
            schema,
        })
    }

    /// A request from a JSON line; with a schema, its context is conformed
    /// (e.g. `ip` strings become `ipaddr` values).
    ///
    /// # Errors
    /// The parse or conformance message.
    pub fn request(&self, json: &serde_json::Value) -> Result<Request, String> {
        let mut req = Request::from_json(json).map_err(|e| e.to_string())?;
        if let Some(schema) = &self.schema {
            let ctx = schema
                .conform_context(req.action(), req.context())
                .map_err(|e| e.to_string())?;
            req.set_context(ctx);
        }
        Ok(req)
    }

    /// Decides one request.
    pub fn decide(&self, req: &Request) -> Verdict {
        let d = self.policies.decide(req, &self.entities);
        Verdict {
            allow: matches!(d.outcome(), Outcome::Allow),
            determining: d.determining().map(|p| p.as_str().to_owned()).collect(),
        }
    }
}

/// Cedar, loaded from the shared texts.
pub struct CedarEngine {
    /// The policies.
    pub policies: cedar_policy::PolicySet,
    /// The entities.
    pub entities: cedar_policy::Entities,
    /// The schema, when one was given.
    pub schema: Option<cedar_policy::Schema>,
    /// mesh's id for Cedar's `policyN` (Cedar ignores `@id`).
    ids: Vec<String>,
    authorizer: cedar_policy::Authorizer,
}

impl CedarEngine {
    /// Parses (and, with a schema, validates strictly) the policies.
    ///
    /// # Errors
    /// Cedar's messages.
    pub fn compile(
        policies: &str,
        schema: Option<&str>,
    ) -> Result<(cedar_policy::PolicySet, Option<cedar_policy::Schema>), String> {
        let pset = cedar_policy::PolicySet::from_str(policies).map_err(|e| format!("{e:?}"))?;
        let schema = match schema {
            Some(s) => {
                let (schema, _warnings) =
                    cedar_policy::Schema::from_cedarschema_str(s).map_err(|e| format!("{e:?}"))?;
                let result = cedar_policy::Validator::new(schema.clone())
                    .validate(&pset, cedar_policy::ValidationMode::Strict);
                if !result.validation_passed() {
                    return Err(format!("{result}"));
                }
                Some(schema)
            }
            None => None,
        };
        Ok((pset, schema))
    }

    /// Loads entity JSON (without schema-based checking).
    ///
    /// # Errors
    /// Cedar's message.
    pub fn load_entities(json: &str) -> Result<cedar_policy::Entities, String> {
        cedar_policy::Entities::from_json_str(json, None).map_err(|e| format!("{e:?}"))
    }

    /// Loads everything; `mesh_ids` are mesh's policy ids in file order
    /// (Cedar numbers policies `policy0`, `policy1`… and ignores `@id`).
    ///
    /// # Errors
    /// The first failure, as text.
    pub fn new(
        policies: &str,
        schema: Option<&str>,
        entities: &str,
        mesh_ids: Vec<String>,
    ) -> Result<Self, String> {
        let (policies, schema) = Self::compile(policies, schema)?;
        Ok(CedarEngine {
            policies,
            entities: Self::load_entities(entities)?,
            schema,
            ids: mesh_ids,
            authorizer: cedar_policy::Authorizer::new(),
        })
    }

    /// A request from a JSON line; with a schema, the context is parsed with
    /// its declared types (so `ip` strings become `ipaddr` values).
    ///
    /// # Errors
    /// Cedar's message.
    pub fn request(&self, json: &serde_json::Value) -> Result<cedar_policy::Request, String> {
        let uid = |k: &str| -> Result<cedar_policy::EntityUid, String> {
            let s = json
                .get(k)
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("missing `{k}`"))?;
            cedar_policy::EntityUid::from_str(s).map_err(|e| format!("{e:?}"))
        };
        let (p, a, r) = (uid("principal")?, uid("action")?, uid("resource")?);
        let ctx_json = json
            .get("context")
            .cloned()
            .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new()));
        let ctx =
            cedar_policy::Context::from_json_value(ctx_json, self.schema.as_ref().map(|s| (s, &a)))
                .map_err(|e| format!("{e:?}"))?;
        cedar_policy::Request::new(p, a, r, ctx, None).map_err(|e| format!("{e:?}"))
    }

    /// Decides one request, timing nothing (see [`CedarEngine::decide_raw`]).
    pub fn decide(&self, req: &cedar_policy::Request) -> Verdict {
        let resp = self.decide_raw(req);
        let determining = resp
            .diagnostics()
            .reason()
            .map(|id| self.mesh_id(id.as_ref()))
            .collect();
        Verdict {
            allow: resp.decision() == cedar_policy::Decision::Allow,
            determining,
        }
    }

    /// The bare authorization call (what the benchmark times).
    pub fn decide_raw(&self, req: &cedar_policy::Request) -> cedar_policy::Response {
        self.authorizer
            .is_authorized(req, &self.policies, &self.entities)
    }

    fn mesh_id(&self, cedar_id: &str) -> String {
        cedar_id
            .strip_prefix("policy")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| self.ids.get(n).cloned())
            .unwrap_or_else(|| cedar_id.to_owned())
    }
}

/// mesh's policy ids in file order.
pub fn mesh_ids(set: &PolicySet) -> Vec<String> {
    set.policies()
        .iter()
        .map(|p| p.id.as_str().to_owned())
        .collect()
}
