//! The native part of the `mesh` Python module (`mesh._mesh`).
//!
//! Arguments are extracted while attached to the interpreter; verification,
//! decisions and normalization then run detached (`Python::detach`), so
//! Python threads decide in parallel.

mod analytics;
mod bench;
mod convert;
mod report;

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use mesh_core::events::{sources, EventError as CoreEventError, NormalizeOptions, Normalizer};
use mesh_core::policy::{
    check, Entities, EntityUid, PolicyError as CorePolicyError, PolicySet, Record, Schema,
    TestSuite, Value,
};
use mesh_core::{AccessDecision, AccessOutcome, Credential, Mesh as CoreMesh, Timestamp};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Value as Json};

create_exception!(
    _mesh,
    MeshError,
    PyException,
    "Base class of every mesh error."
);
create_exception!(
    _mesh,
    IdentityError,
    MeshError,
    "A credential was rejected (`.kind`)."
);
create_exception!(
    _mesh,
    PolicyError,
    MeshError,
    "A policy, entity or request was rejected (`.line`, `.column`)."
);
create_exception!(
    _mesh,
    EventError,
    MeshError,
    "A telemetry record could not be normalized (`.kind`, `.raw`)."
);
create_exception!(
    _mesh,
    ConfigError,
    MeshError,
    "A configuration or bundle was rejected (`.kind`, `.path`)."
);
create_exception!(
    _mesh,
    AnalyticsError,
    MeshError,
    "A Sigma rule, STIX bundle, response policy or event was rejected by the analytics (`.kind`)."
);
create_exception!(
    _mesh,
    ReportError,
    MeshError,
    "A summary, report input or limit was rejected (`.kind`)."
);

/// Largest nesting accepted when converting Python values to JSON.
const MAX_DEPTH: usize = 64;

/// Every failure of the binding; turned into a Python exception in one place
/// (`From<Failure> for PyErr`).
enum Failure {
    Identity {
        kind: String,
        message: String,
    },
    Policy {
        kind: String,
        message: String,
        line: Option<u32>,
        column: Option<u32>,
        diagnostics: Vec<String>,
    },
    Event {
        kind: String,
        message: String,
        raw: Vec<u8>,
    },
    Config {
        kind: String,
        message: String,
        path: Option<String>,
    },
    Analytics {
        kind: &'static str,
        message: String,
    },
    Report {
        kind: &'static str,
        message: String,
    },
}

impl From<mesh_core::analytics::AnalyticsError> for Failure {
    fn from(e: mesh_core::analytics::AnalyticsError) -> Self {
        Failure::Analytics {
            kind: e.kind().as_str(),
            message: e.to_string(),
        }
    }
}

impl From<mesh_core::report::ReportError> for Failure {
    fn from(e: mesh_core::report::ReportError) -> Self {
        use mesh_core::report::ReportError as E;
        let kind = match &e {
            E::NotOcsf { .. } => "not_ocsf",
            E::Json { .. } => "json",
            E::Limits { .. } => "limits",
        };
        Failure::Report {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<mesh_core::identity::IdentityError> for Failure {
    fn from(e: mesh_core::identity::IdentityError) -> Self {
        Failure::Identity {
            kind: e.kind().as_str().to_owned(),
            message: e.to_string(),
        }
    }
}

impl From<CorePolicyError> for Failure {
    fn from(e: CorePolicyError) -> Self {
        let d = e.diagnostic();
        Failure::Policy {
            kind: e.kind().as_str().to_owned(),
            line: d.map(|d| d.line()),
            column: d.map(|d| d.column()),
            diagnostics: d.map(|d| vec![d.render()]).unwrap_or_default(),
            message: e.to_string(),
        }
    }
}

impl From<CoreEventError> for Failure {
    fn from(e: CoreEventError) -> Self {
        Failure::from(&e)
    }
}

impl From<&CoreEventError> for Failure {
    fn from(e: &CoreEventError) -> Self {
        Failure::Event {
            kind: e.kind().as_str().to_owned(),
            message: e.to_string(),
            raw: e.raw().to_vec(),
        }
    }
}

impl From<mesh_core::config::ConfigError> for Failure {
    fn from(e: mesh_core::config::ConfigError) -> Self {
        Failure::Config {
            kind: e.kind().to_owned(),
            path: e.path().map(str::to_owned),
            message: e.to_string(),
        }
    }
}

impl From<mesh_core::bundle::BundleError> for Failure {
    fn from(e: mesh_core::bundle::BundleError) -> Self {
        Failure::Config {
            kind: format!("bundle_{}", e.kind().as_str()),
            path: None,
            message: e.to_string(),
        }
    }
}

/// A new instance of exception `T` with `message` and `attrs`, as the
/// error raising it (made at once: the instance is what a batch returns
/// for a failed record, and making it directly is cheaper than through a
/// lazily made error).
fn exception<T: pyo3::PyTypeInfo>(
    py: Python<'_>,
    message: String,
    attrs: &[(&str, Py<PyAny>)],
) -> PyErr {
    match py.get_type::<T>().call1((message,)) {
        Ok(v) => {
            for (k, x) in attrs {
                let _ = v.setattr(*k, x);
            }
            PyErr::from_value(v)
        }
        Err(e) => e,
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        Python::attach(|py| {
            let s = |t: &str| PyString::new(py, t).into_any().unbind();
            let opt = |o: Option<u32>| {
                o.map_or_else(
                    || py.None(),
                    |n| {
                        n.into_pyobject(py)
                            .map_or_else(|_| py.None(), |x| x.into_any().unbind())
                    },
                )
            };
            match f {
                Failure::Identity { kind, message } => {
                    exception::<IdentityError>(py, message, &[("kind", s(&kind))])
                }
                Failure::Policy {
                    kind,
                    message,
                    line,
                    column,
                    diagnostics,
                } => {
                    let diags = PyList::new(py, diagnostics)
                        .map_or_else(|_| py.None(), |l| l.into_any().unbind());
                    exception::<PolicyError>(
                        py,
                        message,
                        &[
                            ("kind", s(&kind)),
                            ("line", opt(line)),
                            ("column", opt(column)),
                            ("diagnostics", diags),
                        ],
                    )
                }
                Failure::Event { kind, message, raw } => exception::<EventError>(
                    py,
                    message,
                    &[
                        ("kind", s(&kind)),
                        ("raw", PyBytes::new(py, &raw).into_any().unbind()),
                    ],
                ),
                Failure::Config {
                    kind,
                    message,
                    path,
                } => {
                    let p = path.map_or_else(|| py.None(), |p| s(&p));
                    exception::<ConfigError>(py, message, &[("kind", s(&kind)), ("path", p)])
                }
                Failure::Analytics { kind, message } => {
                    exception::<AnalyticsError>(py, message, &[("kind", s(kind))])
                }
                Failure::Report { kind, message } => {
                    exception::<ReportError>(py, message, &[("kind", s(kind))])
                }
            }
        })
    }
}

type Res<T> = Result<T, Failure>;

// ---------- conversions ----------

fn now_or_clock(now: Option<&Bound<'_, PyAny>>) -> PyResult<Timestamp> {
    match now {
        None => {
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            Ok(Timestamp::from_unix_millis(ms))
        }
        Some(v) if v.is_none() => now_or_clock(None),
        Some(v) => {
            let secs: f64 = if let Ok(f) = v.cast::<PyFloat>() {
                f.value()
            } else if v.is_instance_of::<PyInt>() {
                v.extract()?
            } else if v.hasattr("timestamp")? {
                v.call_method0("timestamp")?.extract()?
            } else {
                v.extract()?
            };
            if !secs.is_finite() {
                return Err(PyTypeError::new_err(
                    "`now` must be a finite number of seconds or a datetime",
                ));
            }
            #[allow(clippy::cast_possible_truncation)]
            Ok(Timestamp::from_unix_millis((secs * 1000.0).round() as i64))
        }
    }
}

fn py_to_json(v: &Bound<'_, PyAny>, depth: usize) -> PyResult<Json> {
    if depth > MAX_DEPTH {
        return Err(PyTypeError::new_err("value nested too deeply"));
    }
    if v.is_none() {
        Ok(Json::Null)
    } else if let Ok(b) = v.cast::<PyBool>() {
        Ok(Json::Bool(b.is_true()))
    } else if v.is_instance_of::<PyInt>() {
        match v.extract::<i64>() {
            Ok(n) => Ok(Json::from(n)),
            Err(_) => Ok(Json::from(v.extract::<u64>()?)),
        }
    } else if let Ok(f) = v.cast::<PyFloat>() {
        serde_json::Number::from_f64(f.value())
            .map(Json::Number)
            .ok_or_else(|| PyTypeError::new_err("non-finite float"))
    } else if let Ok(s) = v.cast::<PyString>() {
        Ok(Json::String(s.to_cow()?.into_owned()))
    } else if let Ok(d) = v.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, x) in d.iter() {
            let k: String = k
                .extract()
                .map_err(|_| PyTypeError::new_err("dict keys must be str"))?;
            m.insert(k, py_to_json(&x, depth + 1)?);
        }
        Ok(Json::Object(m))
    } else if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for x in v.try_iter()? {
            out.push(py_to_json(&x?, depth + 1)?);
        }
        Ok(Json::Array(out))
    } else {
        Err(PyTypeError::new_err(format!(
            "cannot convert `{}` to JSON",
            v.get_type().name()?
        )))
    }
}

fn json_to_py(py: Python<'_>, v: &Json) -> PyResult<Py<PyAny>> {
    Ok(convert::JsonBuilder::new(py).build(v)?.unbind())
}

/// Text of a `str`, `bytes` or (for JSON documents) `dict` argument.
fn text_arg(v: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    if let Ok(s) = v.cast::<PyString>() {
        Ok(s.to_cow()?.into_owned())
    } else if let Ok(b) = v.cast::<PyBytes>() {
        String::from_utf8(b.as_bytes().to_vec())
            .map_err(|_| PyTypeError::new_err(format!("argument `{name}` is not UTF-8")))
    } else if v.is_instance_of::<PyDict>() {
        Ok(py_to_json(v, 0)?.to_string())
    } else {
        Err(PyTypeError::new_err(format!(
            "argument `{name}` must be str, bytes or dict"
        )))
    }
}

/// Bytes of a raw telemetry record (`str`, `bytes` or `dict`), written
/// over `buf` (whose allocation is reused).
fn record_into(v: &Bound<'_, PyAny>, buf: &mut Vec<u8>) -> PyResult<()> {
    buf.clear();
    if let Ok(b) = v.cast::<PyBytes>() {
        buf.extend_from_slice(b.as_bytes());
    } else if let Ok(s) = v.cast::<PyString>() {
        buf.extend_from_slice(s.to_cow()?.as_bytes());
    } else if v.is_instance_of::<PyDict>() {
        serde_json::to_writer(&mut *buf, &py_to_json(v, 0)?)
            .map_err(|e| PyTypeError::new_err(format!("record: {e}")))?;
    } else {
        return Err(PyTypeError::new_err("a record must be str, bytes or dict"));
    }
    Ok(())
}

/// Bytes of a raw telemetry record (`str`, `bytes` or `dict`).
fn record_arg(v: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        Ok(b.as_bytes().to_vec())
    } else if let Ok(s) = v.cast::<PyString>() {
        Ok(s.to_cow()?.as_bytes().to_vec())
    } else if v.is_instance_of::<PyDict>() {
        Ok(py_to_json(v, 0)?.to_string().into_bytes())
    } else {
        Err(PyTypeError::new_err("a record must be str, bytes or dict"))
    }
}

fn uid_arg(text: &str, name: &str) -> Res<EntityUid> {
    // Bare names are accepted for actions: `read` is `Action::"read"`.
    let owned;
    let text = if name == "action" && !text.contains("::") {
        owned = format!("Action::{}", Json::String(text.to_owned()));
        owned.as_str()
    } else {
        text
    };
    EntityUid::parse(text).map_err(|e| Failure::Policy {
        kind: "request".into(),
        message: format!("argument `{name}`: {e}"),
        line: None,
        column: None,
        diagnostics: Vec::new(),
    })
}

fn context_arg(v: Option<&Bound<'_, PyAny>>) -> PyResult<Record> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(Record::default());
    };
    let json = if v.is_instance_of::<PyDict>() {
        py_to_json(v, 0)?
    } else {
        serde_json::from_str(&text_arg(v, "context")?).map_err(|e| {
            PyTypeError::new_err(format!(
                "argument `context` at {}:{}: {e}",
                e.line(),
                e.column()
            ))
        })?
    };
    match Value::from_json(&json) {
        Ok(Value::Record(r)) => Ok(r),
        Ok(_) => Err(PyTypeError::new_err(
            "argument `context` must be a JSON object",
        )),
        Err(e) => Err(Failure::from(e).into()),
    }
}

// ---------- Identity ----------

/// A verified identity (frozen). Attributes are the identity's fields.
#[pyclass(frozen, module = "mesh._mesh")]
struct Identity {
    data: Json,
    actor_key: String,
}

#[pymethods]
impl Identity {
    /// The canonical actor key of this identity.
    #[getter]
    fn actor_key(&self) -> &str {
        &self.actor_key
    }

    /// The identity as a dict.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &self.data)
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        match self.data.get(name) {
            Some(v) => json_to_py(py, v),
            None => Err(pyo3::exceptions::PyAttributeError::new_err(format!(
                "Identity has no attribute `{name}`"
            ))),
        }
    }

    fn __repr__(&self) -> String {
        format!("Identity(actor_key={:?})", self.actor_key)
    }
}

fn identity_of(id: &mesh_core::Identity) -> Identity {
    Identity {
        data: serde_json::to_value(id).unwrap_or(Json::Null),
        actor_key: id.actor_key().to_string(),
    }
}

// ---------- Decision ----------

/// One access decision (frozen).
#[pyclass(frozen, module = "mesh._mesh")]
struct Decision {
    inner: AccessDecision,
    time: Timestamp,
}

impl Decision {
    /// The report record of this decision, at the time it was decided.
    fn record(&self) -> mesh_core::report::DecisionRecord {
        mesh_core::report::DecisionRecord::from_decision(&self.inner, self.time)
    }
}

#[pymethods]
impl Decision {
    /// `'allow'`, `'deny'` or `'challenge'`.
    #[getter]
    fn effect(&self) -> &'static str {
        self.inner.outcome().as_str()
    }

    /// Whether access is allowed now.
    #[getter]
    fn allowed(&self) -> bool {
        self.inner.is_allowed()
    }

    /// Obligations to meet before access (e.g. `['mfa']` for a challenge).
    #[getter]
    fn obligations(&self) -> Vec<String> {
        match self.inner.outcome() {
            AccessOutcome::Challenge { obligation, .. } => vec![obligation.as_str().to_owned()],
            _ => Vec::new(),
        }
    }

    /// Ids of the policies that determined the decision.
    #[getter]
    fn policies(&self) -> Vec<String> {
        self.inner
            .policies()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Why (`policy`, `default_deny`, `credential_rejected`, `revoked`, ...).
    #[getter]
    fn reason(&self) -> &'static str {
        self.inner.reason()
    }

    /// The kind of credential error of a rejected credential, else None.
    #[getter]
    fn credential_error(&self) -> Option<&'static str> {
        self.inner.credential_error().map(|e| e.kind().as_str())
    }

    /// A human-readable explanation.
    #[getter]
    fn explanation(&self) -> String {
        self.inner.explain()
    }

    /// The OCSF API Activity audit record, as a dict.
    #[getter]
    fn audit_event(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &self.inner.audit_event())
    }

    /// The decision as a dict.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &self.inner.to_json())
    }

    fn __bool__(&self) -> bool {
        self.inner.is_allowed()
    }

    fn __repr__(&self) -> String {
        format!(
            "Decision(effect={:?}, reason={:?}, policies={:?})",
            self.effect(),
            self.reason(),
            self.policies()
        )
    }
}

// ---------- Mesh ----------

/// The keyword arguments of `Mesh.authorize`.
struct AuthorizeArgs<'py> {
    token: Bound<'py, PyString>,
    action: Bound<'py, PyString>,
    resource: Bound<'py, PyString>,
    context: Option<Bound<'py, PyAny>>,
    now: Option<Bound<'py, PyAny>>,
}

impl<'py> AuthorizeArgs<'py> {
    /// Reads `(*, token, action, resource, context=None, now=None)` from a
    /// call; the errors are the `TypeError`s Python gives for a function
    /// with that signature. Keyword names at call sites are interned, so
    /// each look-up finds its key by identity.
    fn parse(
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Self> {
        const F: &str = "Mesh.authorize()";
        if !args.is_empty() {
            return Err(PyTypeError::new_err(format!(
                "{F} takes 0 positional arguments but {} were given",
                args.len()
            )));
        }
        let names = [
            pyo3::intern!(py, "token"),
            pyo3::intern!(py, "action"),
            pyo3::intern!(py, "resource"),
            pyo3::intern!(py, "now"),
            pyo3::intern!(py, "context"),
        ];
        let mut got: [Option<Bound<'py, PyAny>>; 5] = Default::default();
        if let Some(kw) = kwargs {
            let (len, mut found) = (kw.len(), 0);
            for (slot, name) in got.iter_mut().zip(names) {
                if found == len {
                    break;
                }
                *slot = kw.get_item(name)?;
                found += usize::from(slot.is_some());
            }
            if found != len {
                for k in kw.keys() {
                    if !names.iter().any(|n| n.as_any().eq(&k).unwrap_or(false)) {
                        return Err(PyTypeError::new_err(format!(
                            "{F} got an unexpected keyword argument {}",
                            k.repr()?
                        )));
                    }
                }
            }
        }
        let [token, action, resource, now, context] = got;
        let missing: Vec<&str> = [
            ("token", &token),
            ("action", &action),
            ("resource", &resource),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| n)
        .collect();
        if !missing.is_empty() {
            return Err(PyTypeError::new_err(format!(
                "{F} missing {} required keyword-only argument{}: '{}'",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" },
                missing.join("', '")
            )));
        }
        let text = |v: Option<Bound<'py, PyAny>>, name: &str| -> PyResult<Bound<'py, PyString>> {
            match v.map(|v| v.cast_into::<PyString>()) {
                Some(Ok(s)) => Ok(s),
                Some(Err(e)) => Err(PyTypeError::new_err(format!(
                    "argument '{name}': expected str, got '{}'",
                    e.into_inner().get_type().name()?
                ))),
                None => Err(PyTypeError::new_err(format!(
                    "{F} missing 1 required keyword-only argument: '{name}'"
                ))),
            }
        };
        Ok(AuthorizeArgs {
            token: text(token, "token")?,
            action: text(action, "action")?,
            resource: text(resource, "resource")?,
            context: context.filter(|c| !c.is_none()),
            now: now.filter(|n| !n.is_none()),
        })
    }
}

/// An embedded decision point built from a configuration.
#[pyclass(frozen, module = "mesh._mesh")]
struct Mesh {
    inner: Arc<CoreMesh>,
    config: String,
    bundles: std::sync::Mutex<Vec<Vec<u8>>>,
    /// `authorize` arguments: token, action, resource.
    args: convert::ArgCache<Arc<str>, EntityUid, EntityUid>,
}

fn build(text: &str) -> Res<CoreMesh> {
    Ok(if text.trim_start().starts_with('{') {
        CoreMesh::from_json(text)?
    } else {
        CoreMesh::from_toml(text)?
    })
}

#[pymethods]
impl Mesh {
    /// Builds a decision point from configuration text (TOML or JSON) or a
    /// dict. `from_config` (in `mesh`) also accepts a path.
    #[new]
    fn new(py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<Self> {
        let text = text_arg(config, "config")?;
        let inner = py.detach(|| build(&text))?;
        Ok(Mesh {
            inner: Arc::new(inner),
            config: text,
            bundles: std::sync::Mutex::new(Vec::new()),
            args: convert::ArgCache::new(),
        })
    }

    /// Builds a decision point from a path (str or `os.PathLike`) to a
    /// TOML/JSON file, a configuration text, bytes, or a dict.
    #[staticmethod]
    fn from_config(py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<Self> {
        let is_path = config.hasattr("__fspath__")?
            || config.cast::<PyString>().is_ok_and(|s| {
                s.to_cow().is_ok_and(|t| {
                    !t.contains('\n')
                        && !t.trim_start().starts_with('{')
                        && std::path::Path::new(&*t).is_file()
                })
            });
        if is_path {
            let path: std::path::PathBuf = config.extract()?;
            let text = std::fs::read_to_string(&path).map_err(|e| Failure::Config {
                kind: "io".into(),
                message: format!("cannot read `{}`: {e}", path.display()),
                path: None,
            })?;
            return Mesh::new(py, &PyString::new(py, &text).into_any());
        }
        Mesh::new(py, config)
    }

    /// The configuration text this object was built from.
    #[getter]
    fn config_text(&self) -> &str {
        &self.config
    }

    /// The active policy revision (0 when policies come from the configuration).
    #[getter]
    fn revision(&self) -> u64 {
        self.inner.revision()
    }

    /// Verifies a credential (JWT or `mesh_` API key) into an `Identity`;
    /// raises `IdentityError` with `.kind` when it is rejected or revoked.
    #[pyo3(signature = (token, now=None))]
    fn verify(
        &self,
        py: Python<'_>,
        token: &str,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Identity> {
        let now = now_or_clock(now)?;
        let m = &self.inner;
        let r = py.detach(|| {
            m.verify(Credential::detect(token), now)
                .map(|id| identity_of(&id))
                .map_err(|f| match f {
                    mesh_core::VerifyFailure::Rejected(e) => Failure::from(e),
                    mesh_core::VerifyFailure::Revoked(r) => Failure::Identity {
                        kind: "revoked".into(),
                        message: format!(
                            "credential revoked ({})",
                            serde_json::to_value(r)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default()
                        ),
                    },
                })
        })?;
        Ok(r)
    }

    /// Decides whether `token` may perform `action` on `resource`. Never
    /// raises because of the credential: a rejected or revoked credential is
    /// a deny `Decision` with its reason.
    // Keyword-only arguments `(*, token, action, resource, context=None,
    // now=None)`, read by `AuthorizeArgs::parse` from the call's dict (the
    // generated parser decodes every keyword name to UTF-8 on each call).
    #[pyo3(
        signature = (*args, **kwargs),
        text_signature = "($self, /, *, token, action, resource, context=None, now=None)"
    )]
    // (Only `*args, **kwargs` in the Rust signature, so the arguments are
    // passed through as they came; `py` is taken from them.)
    fn authorize(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Decision> {
        let py = args.py();
        let a = AuthorizeArgs::parse(py, args, kwargs)?;
        // Arguments passed again as the same objects are not re-encoded or
        // re-parsed (see `convert::ArgCache`).
        let (token, action, resource) = self.args.get_or(
            (&a.token, &a.action, &a.resource),
            |t| PyResult::Ok(Arc::<str>::from(t)),
            |t| uid_arg(t, "action").map_err(PyErr::from),
            |t| uid_arg(t, "resource").map_err(PyErr::from),
        )?;
        let context = context_arg(a.context.as_ref())?;
        let now = now_or_clock(a.now.as_ref())?;
        let m = &self.inner;
        let inner =
            py.detach(|| m.authorize(Credential::detect(&token), &action, &resource, context, now));
        Ok(Decision { inner, time: now })
    }

    /// Decides a batch of requests (dicts with `token`, `action`,
    /// `resource`, optional `context`) with one detach.
    #[pyo3(signature = (requests, now=None))]
    fn authorize_many(
        &self,
        py: Python<'_>,
        requests: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Decision>> {
        let now = now_or_clock(now)?;
        let mut reqs = Vec::new();
        for r in requests.try_iter()? {
            let r = r?;
            let get = |k: &str| -> PyResult<String> { r.get_item(k)?.extract() };
            let ctx = r.call_method1("get", ("context",))?;
            reqs.push((
                get("token")?,
                uid_arg(&get("action")?, "action")?,
                uid_arg(&get("resource")?, "resource")?,
                context_arg(Some(&ctx))?,
            ));
        }
        let m = &self.inner;
        let out = py.detach(|| {
            reqs.into_iter()
                .map(|(t, a, r, c)| m.authorize(Credential::detect(&t), &a, &r, c, now))
                .collect::<Vec<_>>()
        });
        Ok(out
            .into_iter()
            .map(|inner| Decision { inner, time: now })
            .collect())
    }

    /// Revokes everything `subject` (any identifier) obtained before
    /// `before` (default now), keeping the entry until `until` (default
    /// 30 days after `before`).
    #[pyo3(signature = (*, subject, before=None, until=None))]
    fn revoke(
        &self,
        subject: &str,
        before: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let before = now_or_clock(before)?;
        let until = match until {
            Some(u) if !u.is_none() => now_or_clock(Some(u))?,
            _ => before.saturating_add(std::time::Duration::from_secs(30 * 86_400)),
        };
        self.inner
            .revoke_subject(subject, before, until)
            .map_err(Failure::from)?;
        Ok(())
    }

    /// The revocation set as a JSON string, for other processes to merge.
    fn export_revocations(&self) -> String {
        self.inner.revocations_json()
    }

    /// Merges a revocation set exported by another process (str, bytes or dict).
    fn merge_revocations(&self, revocations: &Bound<'_, PyAny>) -> PyResult<()> {
        let text = text_arg(revocations, "revocations")?;
        self.inner
            .merge_revocations_json(&text)
            .map_err(Failure::from)?;
        Ok(())
    }

    /// Verifies a signed policy bundle and activates it; returns the new
    /// revision. Raises `ConfigError` (kind `bundle_*`) and keeps the active
    /// bundle on any error.
    fn activate_bundle(&self, py: Python<'_>, bundle: &[u8]) -> PyResult<u64> {
        let m = &self.inner;
        let rev = py
            .detach(|| m.activate_bundle(bundle))
            .map_err(Failure::from)?;
        if let Ok(mut b) = self.bundles.lock() {
            b.push(bundle.to_vec());
        }
        Ok(rev)
    }

    /// Feeds one OCSF event (dict, str or bytes) to the mesh's analytics
    /// (built-in detections, plus what `configure_analytics` loaded); the
    /// revocations the response policy chooses for the findings are applied
    /// to this mesh, so the actor's next decision is a `revoked` deny.
    /// Raises `AnalyticsError` (kind `invalid_event`).
    #[pyo3(signature = (event, now=None))]
    fn observe(
        &self,
        py: Python<'_>,
        event: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<analytics::Observation> {
        analytics::mesh_observe(py, &self.inner, event, now)
    }

    /// Correlates every event the analytics still buffer (end of a batch)
    /// and applies the resulting revocations, as `observe`.
    #[pyo3(signature = (now=None))]
    fn flush_observations(
        &self,
        py: Python<'_>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<analytics::Observation> {
        analytics::mesh_flush(py, &self.inner, now)
    }

    /// Loads Sigma rules (YAML), STIX 2.1 bundles and a response policy
    /// (JSON) into the mesh's analytics; each replaces what was loaded
    /// before, `None` keeps it. A source is text, bytes, an `os.PathLike`
    /// (a `str` is text, never a path), a dict for JSON, or a list of them.
    /// Raises `AnalyticsError`. Not carried by pickling.
    #[pyo3(signature = (*, sigma=None, intel=None, response_policy=None))]
    fn configure_analytics(
        &self,
        py: Python<'_>,
        sigma: Option<&Bound<'_, PyAny>>,
        intel: Option<&Bound<'_, PyAny>>,
        response_policy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        analytics::mesh_configure(py, &self.inner, sigma, intel, response_policy)
    }

    /// Pickles as (configuration, activated bundles, revocations).
    fn __reduce__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let rebuild = py.import("mesh._mesh")?.getattr("_rebuild")?;
        let bundles: Vec<Bound<'_, PyBytes>> = self
            .bundles
            .lock()
            .map(|b| b.iter().map(|x| PyBytes::new(py, x)).collect())
            .unwrap_or_default();
        let args = (self.config.clone(), bundles, self.inner.revocations_json());
        Ok((rebuild, args).into_pyobject(py)?.into_any().unbind())
    }

    fn __repr__(&self) -> String {
        format!("Mesh(revision={})", self.inner.revision())
    }
}

/// Rebuilds a pickled `Mesh`.
#[pyfunction]
fn _rebuild(
    py: Python<'_>,
    config: &Bound<'_, PyAny>,
    bundles: Vec<Vec<u8>>,
    revocations: &str,
) -> PyResult<Mesh> {
    let m = Mesh::new(py, config)?;
    for b in bundles {
        m.activate_bundle(py, &b)?;
    }
    m.inner
        .merge_revocations_json(revocations)
        .map_err(Failure::from)?;
    Ok(m)
}

// ---------- normalization ----------

fn normalizer() -> Res<&'static Normalizer> {
    static N: OnceLock<Result<Normalizer, String>> = OnceLock::new();
    N.get_or_init(|| {
        let mut n = Normalizer::new(NormalizeOptions::default());
        sources::register_builtin(&mut n)
            .map(|_| n)
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| Failure::Event {
        kind: "internal".into(),
        message: e.clone(),
        raw: Vec::new(),
    })
}

/// Normalizes one raw record (str, bytes or dict) to an OCSF event dict;
/// raises `EventError` (`.kind`, `.raw`).
#[pyfunction]
#[pyo3(signature = (record, source=None, now=None))]
fn normalize(
    py: Python<'_>,
    record: &Bound<'_, PyAny>,
    source: Option<&str>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let raw = record_arg(record)?;
    let now = now_or_clock(now)?;
    let n = normalizer()?;
    let ev = py
        .detach(|| n.normalize(&raw, source, now))
        .map_err(Failure::from)?;
    Ok(convert::JsonBuilder::new(py).serialize(&ev)?.unbind())
}

/// Records normalized per detach in `normalize_many`: the events of a
/// chunk become Python objects while they are still in the cache, and the
/// record buffers are reused from chunk to chunk.
const NORMALIZE_CHUNK: usize = 64;

/// Pauses Python's cyclic garbage collector while a chunk of events becomes
/// Python objects. The new objects are all reachable from the result, so a
/// collection in between would only traverse them again; the GIL is held for
/// the whole pause and no Python code runs in it, so no other thread can see
/// it. The collector's previous state comes back on drop, on error too.
struct GcPause<'a, 'py> {
    gc: Option<&'a Bound<'py, PyModule>>,
}

impl<'a, 'py> GcPause<'a, 'py> {
    fn new(gc: &'a Bound<'py, PyModule>) -> PyResult<Self> {
        if gc.call_method0("isenabled")?.is_truthy()? {
            gc.call_method0("disable")?;
            Ok(GcPause { gc: Some(gc) })
        } else {
            Ok(GcPause { gc: None })
        }
    }
}

impl Drop for GcPause<'_, '_> {
    fn drop(&mut self) {
        if let Some(gc) = self.gc.take() {
            // `gc.enable()` cannot fail; should it, the collector stays
            // paused, which delays cycle collection and loses nothing.
            let _ = gc.call_method0("enable");
        }
    }
}

/// Normalizes records; returns a list with, for each record in order,
/// the event dict or an `EventError` instance (never raises for a record).
#[pyfunction]
#[pyo3(signature = (records, source=None, now=None))]
fn normalize_many(
    py: Python<'_>,
    records: &Bound<'_, PyAny>,
    source: Option<&str>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyList>> {
    let now = now_or_clock(now)?;
    let n = normalizer()?;
    let mut records = records.try_iter()?;
    let mut items = Vec::with_capacity(records.size_hint().0);
    // Keys are interned once for the whole call.
    let mut b = convert::JsonBuilder::new(py);
    let gc = py.import("gc")?;
    let mut raws: Vec<Vec<u8>> = Vec::with_capacity(NORMALIZE_CHUNK);
    // The results of one chunk, converted where they are (an event is
    // large: moving each out of the buffer costs a copy); the buffer is
    // reused from chunk to chunk.
    let mut results = Vec::with_capacity(NORMALIZE_CHUNK);
    loop {
        let mut len = 0;
        for r in records.by_ref().take(NORMALIZE_CHUNK) {
            let r = r?;
            if raws.len() <= len {
                raws.push(Vec::new());
            }
            if let Some(buf) = raws.get_mut(len) {
                record_into(&r, buf)?;
            }
            len += 1;
        }
        let chunk = raws.get(..len).unwrap_or_default();
        // Normalization runs detached (record by record, as
        // `Normalizer::normalize_batch` does), after dropping the events of
        // the previous chunk; the events then become Python objects
        // directly (no intermediate JSON tree).
        py.detach(|| {
            results.clear();
            results.extend(chunk.iter().map(|raw| n.normalize(raw, source, now)));
        });
        {
            let _pause = GcPause::new(&gc)?;
            for r in &results {
                items.push(match r {
                    Ok(ev) => b.serialize(ev)?,
                    Err(e) => PyErr::from(Failure::from(e))
                        .into_value(py)
                        .into_bound(py)
                        .into_any(),
                });
            }
        }
        if len < NORMALIZE_CHUNK {
            break;
        }
    }
    py.detach(|| drop(results));
    Ok(PyList::new(py, items)?.unbind())
}

/// Normalizes an NDJSON (or line-oriented) buffer; returns
/// `(events_ndjson: bytes, errors: list[EventError])`, each error with `.line`.
#[pyfunction]
#[pyo3(signature = (data, source=None, now=None))]
fn normalize_ndjson(
    py: Python<'_>,
    data: &[u8],
    source: Option<&str>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Py<PyBytes>, Py<PyList>)> {
    let now = now_or_clock(now)?;
    let n = normalizer()?;
    let (out, errs) = py.detach(|| {
        let mut out = Vec::with_capacity(data.len());
        let mut errs = Vec::new();
        n.normalize_lines_json(data, source, now, &mut out, |line, e| {
            errs.push((line, Failure::from(e)));
        });
        (out, errs)
    });
    let list = PyList::empty(py);
    for (line, f) in errs {
        let e = PyErr::from(f).into_value(py);
        e.bind(py).setattr("line", line)?;
        list.append(e)?;
    }
    Ok((PyBytes::new(py, &out).unbind(), list.unbind()))
}

// ---------- policies ----------

fn schema_arg(schema: Option<&str>) -> Res<Option<Schema>> {
    schema
        .map(|s| Schema::from_cedarschema(s, "schema"))
        .transpose()
        .map_err(|e| Failure::Policy {
            kind: "schema".into(),
            message: e.to_string(),
            line: None,
            column: None,
            diagnostics: Vec::new(),
        })
}

/// Parses (and with a Cedar schema, validates) policies; returns their ids
/// or raises `PolicyError` for the first problem (`.diagnostics` lists all).
#[pyfunction]
#[pyo3(signature = (text, schema=None, file="policies.cedar"))]
fn check_policies(text: &str, schema: Option<&str>, file: &str) -> PyResult<Vec<String>> {
    let schema = schema_arg(schema)?;
    match check(text, file, schema.as_ref()) {
        Ok(ps) => Ok(ps.iter().map(|p| p.id.to_string()).collect()),
        Err(diags) => {
            let first = diags.first();
            Err(Failure::Policy {
                kind: first.map_or("syntax", |d| d.kind().as_str()).to_owned(),
                message: first.map_or_else(|| "invalid policies".into(), ToString::to_string),
                line: first.map(|d| d.line()),
                column: first.map(|d| d.column()),
                diagnostics: diags.iter().map(|d| d.render()).collect(),
            }
            .into())
        }
    }
}

/// Runs policy test cases (JSON text or list/dict) against policies and
/// entities; returns `{"passed": bool, "results": [{"name", "passed", "mismatches"}]}`.
#[pyfunction]
#[pyo3(signature = (policies, tests, entities=None, schema=None))]
fn test_policies(
    py: Python<'_>,
    policies: &str,
    tests: &Bound<'_, PyAny>,
    entities: Option<&Bound<'_, PyAny>>,
    schema: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let tests = if tests.is_instance_of::<PyList>() {
        py_to_json(tests, 0)?.to_string()
    } else {
        text_arg(tests, "tests")?
    };
    let entities = match entities {
        Some(e) if !e.is_none() => {
            if e.is_instance_of::<PyList>() {
                py_to_json(e, 0)?.to_string()
            } else {
                text_arg(e, "entities")?
            }
        }
        _ => "[]".to_owned(),
    };
    let schema = schema_arg(schema)?;
    let set = PolicySet::parse(policies, "policies.cedar").map_err(Failure::from)?;
    let ents = Entities::from_json_str(&entities).map_err(Failure::from)?;
    let suite = TestSuite::from_json_str(&tests, "tests.json").map_err(|e| Failure::Policy {
        kind: "test".into(),
        message: e.to_string(),
        line: None,
        column: None,
        diagnostics: Vec::new(),
    })?;
    let report = py.detach(|| suite.run(&set, &ents, schema.as_ref()));
    let results: Vec<Json> = report
        .results
        .iter()
        .map(|r| serde_json::json!({"name": r.name, "passed": r.passed(), "mismatches": r.mismatches}))
        .collect();
    json_to_py(
        py,
        &serde_json::json!({"passed": report.passed(), "results": results}),
    )
}

/// The canonical actor key of an identifier (e-mail, UPN, ARN, SID, subject).
#[pyfunction]
fn actor_key(identifier: &str) -> PyResult<String> {
    mesh_core::ActorKey::from_identifier(identifier)
        .map(String::from)
        .map_err(|e| Failure::from(e).into())
}

/// The `mesh._mesh` native module.
#[pymodule]
fn _mesh(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MeshError", py.get_type::<MeshError>())?;
    m.add("IdentityError", py.get_type::<IdentityError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    m.add("EventError", py.get_type::<EventError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("AnalyticsError", py.get_type::<AnalyticsError>())?;
    m.add("ReportError", py.get_type::<ReportError>())?;
    m.add_class::<Mesh>()?;
    m.add_class::<Decision>()?;
    m.add_class::<Identity>()?;
    m.add_class::<analytics::Observation>()?;
    m.add_class::<analytics::Analytics>()?;
    m.add_class::<report::Summary>()?;
    m.add_function(wrap_pyfunction!(report::render_report, m)?)?;
    m.add_function(wrap_pyfunction!(actor_key, m)?)?;
    m.add_function(wrap_pyfunction!(normalize, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_many, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_ndjson, m)?)?;
    m.add_function(wrap_pyfunction!(check_policies, m)?)?;
    m.add_function(wrap_pyfunction!(test_policies, m)?)?;
    m.add_function(wrap_pyfunction!(_rebuild, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_bench_authorize, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_bench_normalize, m)?)?;
    Ok(())
}
