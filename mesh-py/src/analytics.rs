//! Security analytics from Python: `Mesh.observe` and the standalone
//! `Analytics` pipeline (built-in detections, Sigma rules, STIX indicators,
//! a response policy).
//!
//! Events are extracted while attached (a `dict` is converted, `str` and
//! `bytes` are copied); correlation runs detached.

use std::sync::{Mutex, PoisonError};

use mesh_core::analytics::{
    Admission, Analytics as CoreAnalytics, CorrelatorConfig, Finding, IntelSet, ResponsePolicy,
    ResponseRecord, SigmaRuleSet,
};
use mesh_core::Observation as CoreObservation;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use serde_json::Value as Json;

use crate::{json_to_py, py_to_json, Failure, Res};

/// Most bytes read from one rule, intelligence, policy or NDJSON file.
const MAX_FILE: u64 = 512 * 1024 * 1024;

/// An event as extracted from Python: converted already, or raw JSON text.
pub(crate) enum EventInput {
    Json(Json),
    Raw(Vec<u8>),
}

impl EventInput {
    /// Extracts an OCSF event given as `dict`, `str` or `bytes`.
    pub(crate) fn extract(v: &Bound<'_, PyAny>) -> PyResult<EventInput> {
        if v.is_instance_of::<PyDict>() {
            Ok(EventInput::Json(py_to_json(v, 0)?))
        } else if let Ok(b) = v.cast::<PyBytes>() {
            Ok(EventInput::Raw(b.as_bytes().to_vec()))
        } else if let Ok(s) = v.cast::<PyString>() {
            Ok(EventInput::Raw(s.to_cow()?.as_bytes().to_vec()))
        } else {
            Err(PyTypeError::new_err("an event must be dict, str or bytes"))
        }
    }

    /// The event as JSON (parsing raw text; a parse error is an
    /// `invalid_event` with its line and column).
    pub(crate) fn into_json(self) -> Res<Json> {
        match self {
            EventInput::Json(j) => Ok(j),
            EventInput::Raw(r) => parse_event(&r),
        }
    }
}

fn parse_event(raw: &[u8]) -> Res<Json> {
    serde_json::from_slice(raw).map_err(|e| Failure::Analytics {
        kind: "invalid_event",
        message: format!(
            "invalid event at {}:{}: not JSON ({e})",
            e.line(),
            e.column()
        ),
    })
}

/// Reads a text argument that may be a path (`os.PathLike`), `str`,
/// `bytes` or (when `dict_ok`) a `dict`. A `str` is always the text itself,
/// never a path: paths are given as `pathlib.Path`.
fn source_text(v: &Bound<'_, PyAny>, what: &str, dict_ok: bool) -> PyResult<(String, String)> {
    if v.hasattr("__fspath__")? {
        let path: std::path::PathBuf = v.extract()?;
        let shown = path.display().to_string();
        let read = std::fs::File::open(&path).and_then(|f| {
            use std::io::Read as _;
            let mut s = String::new();
            f.take(MAX_FILE).read_to_string(&mut s).map(|_| s)
        });
        let text = read.map_err(|e| Failure::Config {
            kind: "io".into(),
            message: format!("cannot read {what} `{shown}`: {e}"),
            path: None,
        })?;
        Ok((text, format!("`{shown}`")))
    } else if let Ok(s) = v.cast::<PyString>() {
        Ok((s.to_cow()?.into_owned(), format!("{what} text")))
    } else if let Ok(b) = v.cast::<PyBytes>() {
        let text = String::from_utf8(b.as_bytes().to_vec())
            .map_err(|_| PyTypeError::new_err(format!("{what} bytes are not UTF-8")))?;
        Ok((text, format!("{what} bytes")))
    } else if dict_ok && v.is_instance_of::<PyDict>() {
        Ok((py_to_json(v, 0)?.to_string(), format!("{what} dict")))
    } else {
        Err(PyTypeError::new_err(format!(
            "{what} must be str, bytes, os.PathLike{} or a list of them",
            if dict_ok { ", dict" } else { "" }
        )))
    }
}

/// One or many sources: a list or tuple is many, anything else one.
fn sources_of(
    v: Option<&Bound<'_, PyAny>>,
    what: &str,
    dict_ok: bool,
) -> PyResult<Vec<(String, String)>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    if v.is_instance_of::<PyList>() || v.is_instance_of::<pyo3::types::PyTuple>() {
        v.try_iter()?
            .map(|x| source_text(&x?, what, dict_ok))
            .collect()
    } else {
        Ok(vec![source_text(v, what, dict_ok)?])
    }
}

fn in_source(e: mesh_core::analytics::AnalyticsError, where_: &str) -> Failure {
    let kind = e.kind().as_str();
    Failure::Analytics {
        kind,
        message: format!("in {where_}: {e}"),
    }
}

/// Sigma rules, intelligence and policy as loaded from Python arguments.
struct Loaded {
    sigma: Option<(SigmaRuleSet, usize)>,
    intel: Option<(IntelSet, usize)>,
    policy: Option<ResponsePolicy>,
}

fn load(
    py: Python<'_>,
    sigma: Option<&Bound<'_, PyAny>>,
    intel: Option<&Bound<'_, PyAny>>,
    response_policy: Option<&Bound<'_, PyAny>>,
) -> PyResult<Loaded> {
    let sigma_texts = sigma
        .filter(|v| !v.is_none())
        .map(|v| sources_of(Some(v), "sigma rules", false))
        .transpose()?;
    let intel_texts = intel
        .filter(|v| !v.is_none())
        .map(|v| sources_of(Some(v), "intel bundle", true))
        .transpose()?;
    let policy_text = response_policy
        .filter(|v| !v.is_none())
        .map(|v| source_text(v, "response policy", true))
        .transpose()?;
    let work = move || -> Res<Loaded> {
        let sigma = sigma_texts
            .map(|texts| -> Res<(SigmaRuleSet, usize)> {
                let mut set = SigmaRuleSet::default();
                let mut n = 0;
                for (text, where_) in &texts {
                    n += set.add_yaml(text).map_err(|e| in_source(e, where_))?;
                }
                Ok((set, n))
            })
            .transpose()?;
        let intel = intel_texts
            .map(|texts| -> Res<(IntelSet, usize)> {
                let mut set = IntelSet::new();
                let mut n = 0;
                for (text, where_) in &texts {
                    n += set.load_bundle(text).map_err(|e| in_source(e, where_))?;
                }
                Ok((set, n))
            })
            .transpose()?;
        let policy = policy_text
            .map(|(text, where_)| {
                ResponsePolicy::from_json(&text).map_err(|e| in_source(e, &where_))
            })
            .transpose()?;
        Ok(Loaded {
            sigma,
            intel,
            policy,
        })
    };
    Ok(py.detach(work)?)
}

fn apply(a: &mut CoreAnalytics, l: Loaded, counts: &mut Counts) {
    if let Some((set, n)) = l.sigma {
        a.set_sigma(set);
        counts.sigma_rules = n;
    }
    if let Some((set, n)) = l.intel {
        a.set_intel(set);
        counts.indicators = n;
    }
    if let Some(p) = l.policy {
        a.set_policy(p);
    }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    sigma_rules: usize,
    indicators: usize,
}

// ---------- Observation ----------

/// What the analytics did with one event or a batch (frozen). Findings and
/// responses are converted to dicts when read.
#[pyclass(frozen, module = "mesh._mesh")]
pub(crate) struct Observation {
    pub(crate) findings: Vec<Finding>,
    responses: Vec<ResponseRecord>,
    applied: Vec<ResponseRecord>,
    events: u64,
    late: u64,
    errors: Py<PyList>,
}

impl Observation {
    fn of(py: Python<'_>, o: CoreObservation) -> Observation {
        let late = u64::from(matches!(o.admission, Admission::Late { .. }));
        Observation {
            findings: o.findings,
            responses: o.responses,
            applied: o.applied,
            events: 1,
            late,
            errors: PyList::empty(py).unbind(),
        }
    }
}

fn records(py: Python<'_>, r: &[ResponseRecord]) -> PyResult<Py<PyAny>> {
    json_to_py(
        py,
        &Json::Array(r.iter().map(ResponseRecord::to_json).collect()),
    )
}

#[pymethods]
impl Observation {
    /// The Detection Findings (OCSF class 2004 dicts), in the order found.
    #[getter]
    fn findings(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(
            py,
            &Json::Array(self.findings.iter().map(Finding::to_ocsf).collect()),
        )
    }

    /// Every response the response policy chose for the findings (dicts
    /// with `action`, `reason`, `rule_id`, `finding_uid`, ...).
    #[getter]
    fn responses(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        records(py, &self.responses)
    }

    /// The responses applied to the `Mesh` (revocations); always empty for
    /// a standalone `Analytics`, whose host applies them.
    #[getter]
    fn applied(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        records(py, &self.applied)
    }

    /// Events accepted (processed now or buffered for event-time order).
    #[getter]
    fn events(&self) -> u64 {
        self.events
    }

    /// Events that arrived later than the allowed lateness (counted, not correlated).
    #[getter]
    fn late(&self) -> u64 {
        self.late
    }

    /// The `AnalyticsError` of every rejected event of a batch (each with
    /// `.index`, 0-based, or `.line`, 1-based, for files).
    #[getter]
    fn errors(&self, py: Python<'_>) -> Py<PyList> {
        self.errors.clone_ref(py)
    }

    /// The observation as a dict.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        d.set_item("findings", self.findings(py)?)?;
        d.set_item("responses", self.responses(py)?)?;
        d.set_item("applied", self.applied(py)?)?;
        d.set_item("events", self.events)?;
        d.set_item("late", self.late)?;
        d.set_item("errors", self.errors.bind(py).len())?;
        Ok(d.into_any().unbind())
    }

    fn __bool__(&self) -> bool {
        !self.findings.is_empty()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Observation(findings={}, responses={}, applied={}, events={}, late={}, errors={})",
            self.findings.len(),
            self.responses.len(),
            self.applied.len(),
            self.events,
            self.late,
            self.errors.bind(py).len()
        )
    }
}

// ---------- Mesh (called from the `Mesh` methods) ----------

pub(crate) fn mesh_observe(
    py: Python<'_>,
    m: &mesh_core::Mesh,
    event: &Bound<'_, PyAny>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Observation> {
    let event = EventInput::extract(event)?;
    let now = crate::now_or_clock(now)?;
    let o = py.detach(|| -> Res<CoreObservation> {
        let ev = event.into_json()?;
        Ok(m.observe(&ev, now)?)
    })?;
    Ok(Observation::of(py, o))
}

pub(crate) fn mesh_flush(
    py: Python<'_>,
    m: &mesh_core::Mesh,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Observation> {
    let now = crate::now_or_clock(now)?;
    let o = py.detach(|| m.flush_observations(now));
    let mut o = Observation::of(py, o);
    o.events = 0;
    Ok(o)
}

pub(crate) fn mesh_configure(
    py: Python<'_>,
    m: &mesh_core::Mesh,
    sigma: Option<&Bound<'_, PyAny>>,
    intel: Option<&Bound<'_, PyAny>>,
    response_policy: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let l = load(py, sigma, intel, response_policy)?;
    let mut counts = Counts::default();
    m.with_analytics(|a| apply(a, l, &mut counts));
    Ok(())
}

// ---------- Analytics ----------

/// A standalone analytics pipeline: the built-in correlation detections,
/// optional Sigma rules, STIX 2.1 indicators and a response policy. Its
/// responses are returned for the host to apply.
#[pyclass(frozen, module = "mesh._mesh")]
pub(crate) struct Analytics {
    inner: Mutex<(CoreAnalytics, Counts)>,
}

fn stats_dict(py: Python<'_>, a: &CoreAnalytics, c: Counts) -> PyResult<Py<PyAny>> {
    let s = a.correlator().stats();
    let d = PyDict::new(py);
    d.set_item("events", s.events)?;
    d.set_item("late_events", s.late_events)?;
    d.set_item("forced_releases", s.forced_releases)?;
    d.set_item("buffered", s.buffered)?;
    d.set_item("tracked_actors", s.tracked_actors)?;
    d.set_item("tracked_sources", s.tracked_sources)?;
    d.set_item("evicted_actors", s.evicted_actors)?;
    d.set_item("evicted_sources", s.evicted_sources)?;
    d.set_item("expired", s.expired)?;
    d.set_item("findings", s.findings)?;
    d.set_item("sigma_rules", c.sigma_rules)?;
    d.set_item("indicators", c.indicators)?;
    d.set_item("responses_dropped", a.log().dropped())?;
    Ok(d.into_any().unbind())
}

/// The result of a batch run detached, before the errors become Python objects.
struct Batch {
    findings: Vec<Finding>,
    responses: Vec<ResponseRecord>,
    events: u64,
    late: u64,
    errors: Vec<(usize, Failure)>,
}

fn run_batch<I>(a: &mut CoreAnalytics, events: I, flush: bool) -> Batch
where
    I: Iterator<Item = (usize, Res<Json>)>,
{
    let mut b = Batch {
        findings: Vec::new(),
        responses: Vec::new(),
        events: 0,
        late: 0,
        errors: Vec::new(),
    };
    let mut found = Vec::new();
    for (i, ev) in events {
        match ev.and_then(|ev| Ok(a.observe(&ev, &mut found)?)) {
            Ok(adm) => {
                b.events += 1;
                if matches!(adm, Admission::Late { .. }) {
                    b.late += 1;
                }
            }
            Err(f) => b.errors.push((i, f)),
        }
    }
    if flush {
        a.flush(&mut found);
    }
    b.responses = a.respond(&found);
    b.findings = found;
    b
}

impl Analytics {
    fn lock(&self) -> std::sync::MutexGuard<'_, (CoreAnalytics, Counts)> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn finish(py: Python<'_>, b: Batch, attr: &str) -> PyResult<Observation> {
        let errors = PyList::empty(py);
        for (i, f) in b.errors {
            let e = PyErr::from(f).into_value(py);
            e.bind(py).setattr(attr, i)?;
            errors.append(e)?;
        }
        Ok(Observation {
            findings: b.findings,
            responses: b.responses,
            applied: Vec::new(),
            events: b.events,
            late: b.late,
            errors: errors.unbind(),
        })
    }
}

#[pymethods]
impl Analytics {
    /// A pipeline with the built-in detections and, optionally, Sigma rules
    /// (YAML), STIX 2.1 bundles and a response policy (JSON). Each source is
    /// text, bytes, an `os.PathLike` (a `str` is text, never a path), a dict
    /// for JSON, or a list of them. Raises `AnalyticsError`.
    #[new]
    #[pyo3(signature = (*, sigma=None, intel=None, response_policy=None))]
    fn new(
        py: Python<'_>,
        sigma: Option<&Bound<'_, PyAny>>,
        intel: Option<&Bound<'_, PyAny>>,
        response_policy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let l = load(py, sigma, intel, response_policy)?;
        let mut a = CoreAnalytics::new(CorrelatorConfig::default());
        let mut counts = Counts::default();
        apply(&mut a, l, &mut counts);
        Ok(Analytics {
            inner: Mutex::new((a, counts)),
        })
    }

    /// Observes one OCSF event (dict, str or bytes): the findings it
    /// completes and the responses chosen. Correlation follows event time:
    /// a finding may complete on a later event or on `flush()`. Raises
    /// `AnalyticsError` (kind `invalid_event`).
    fn observe(&self, py: Python<'_>, event: &Bound<'_, PyAny>) -> PyResult<Observation> {
        let event = EventInput::extract(event)?;
        let b = py.detach(|| {
            let mut g = self.lock();
            let mut found = Vec::new();
            let adm = event
                .into_json()
                .and_then(|ev| Ok(g.0.observe(&ev, &mut found)?))?;
            let responses = g.0.respond(&found);
            Res::Ok(Batch {
                findings: found,
                responses,
                events: 1,
                late: u64::from(matches!(adm, Admission::Late { .. })),
                errors: Vec::new(),
            })
        })?;
        Analytics::finish(py, b, "index")
    }

    /// Observes a batch of events (an iterable of dict, str or bytes) and,
    /// with `flush`, correlates what is still buffered. Never raises for an
    /// event: rejected ones are in `.errors` (with `.index`).
    #[pyo3(signature = (events, *, flush=true))]
    fn detect(
        &self,
        py: Python<'_>,
        events: &Bound<'_, PyAny>,
        flush: bool,
    ) -> PyResult<Observation> {
        let mut inputs = Vec::new();
        for e in events.try_iter()? {
            inputs.push(EventInput::extract(&e?)?);
        }
        let b = py.detach(|| {
            let mut g = self.lock();
            run_batch(
                &mut g.0,
                inputs
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| (i, e.into_json())),
                flush,
            )
        });
        Analytics::finish(py, b, "index")
    }

    /// Observes every line of an OCSF NDJSON file (blank lines skipped) and,
    /// with `flush`, correlates what is still buffered. Rejected lines are in
    /// `.errors` (with `.line`, 1-based).
    #[pyo3(signature = (path, *, flush=true))]
    fn detect_file(
        &self,
        py: Python<'_>,
        path: std::path::PathBuf,
        flush: bool,
    ) -> PyResult<Observation> {
        let b = py.detach(|| -> Res<Batch> {
            let data = std::fs::read(&path).map_err(|e| Failure::Config {
                kind: "io".into(),
                message: format!("cannot read `{}`: {e}", path.display()),
                path: None,
            })?;
            let mut g = self.lock();
            let lines = data
                .split(|b| *b == b'\n')
                .enumerate()
                .filter(|(_, l)| !l.trim_ascii().is_empty())
                .map(|(i, l)| (i + 1, parse_event(l)));
            Ok(run_batch(&mut g.0, lines, flush))
        })?;
        Analytics::finish(py, b, "line")
    }

    /// Correlates every buffered event (end of a stream).
    fn flush(&self, py: Python<'_>) -> PyResult<Observation> {
        let b = py.detach(|| {
            let mut g = self.lock();
            run_batch(&mut g.0, std::iter::empty(), true)
        });
        Analytics::finish(py, b, "index")
    }

    /// Counters: events, late_events, buffered, tracked_actors, evictions,
    /// findings, sigma_rules, indicators, ...
    #[getter]
    fn stats(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let g = self.lock();
        stats_dict(py, &g.0, g.1)
    }

    fn __repr__(&self) -> String {
        let g = self.lock();
        format!(
            "Analytics(sigma_rules={}, indicators={}, tracked_actors={})",
            g.1.sigma_rules,
            g.1.indicators,
            g.0.correlator().stats().tracked_actors
        )
    }
}
