//! The consolidated view from Python: `Summary` (bounded counts and time
//! series of decisions, OCSF events, findings and the bundle revision) and
//! `render_report` (the self-contained HTML page; `mesh.report` writes it).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use mesh_core::report::{render_html, RenderOptions, ReportLimits, Summary as CoreSummary};
use mesh_core::Timestamp;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use serde_json::Value as Json;

use crate::analytics::Observation;
use crate::{json_to_py, py_to_json, Decision, Failure};

/// A bounded summary of decisions, OCSF events, findings, compliance
/// findings and the active bundle revision; exportable as JSON and rendered
/// by `mesh.report`.
#[pyclass(frozen, module = "mesh._mesh")]
pub(crate) struct Summary {
    inner: Mutex<CoreSummary>,
}

/// An OCSF record given as `dict`, `str` or `bytes`.
fn record_json(v: &Bound<'_, PyAny>) -> PyResult<Json> {
    let text_err = |e: serde_json::Error| Failure::Report {
        kind: "json",
        message: format!(
            "invalid OCSF record JSON at {}:{}: {e}",
            e.line(),
            e.column()
        ),
    };
    if v.is_instance_of::<PyDict>() {
        py_to_json(v, 0)
    } else if let Ok(s) = v.cast::<PyString>() {
        Ok(serde_json::from_str(&s.to_cow()?).map_err(text_err)?)
    } else if let Ok(b) = v.cast::<PyBytes>() {
        Ok(serde_json::from_slice(b.as_bytes()).map_err(text_err)?)
    } else {
        Err(PyTypeError::new_err(
            "an OCSF record must be dict, str or bytes",
        ))
    }
}

fn seconds(v: f64, name: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| {
        PyValueError::new_err(format!("`{name}` must be a non-negative number of seconds"))
    })
}

impl Summary {
    fn lock(&self) -> std::sync::MutexGuard<'_, CoreSummary> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What one call feeds a summary, extracted while attached.
#[derive(Default)]
struct Feed {
    decisions: Vec<mesh_core::report::DecisionRecord>,
    events: Vec<Json>,
    findings: Vec<mesh_core::analytics::Finding>,
    skipped: u64,
}

impl Feed {
    fn decisions(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        for d in v.try_iter()? {
            let d = d?;
            let d = d
                .cast::<Decision>()
                .map_err(|_| PyTypeError::new_err("`decisions` must hold mesh.Decision objects"))?
                .get();
            self.decisions.push(d.record());
        }
        Ok(())
    }

    fn events(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        for e in v.try_iter()? {
            match record_json(&e?) {
                Ok(j) => self.events.push(j),
                Err(_) => self.skipped += 1,
            }
        }
        Ok(())
    }

    /// Finding dicts (OCSF 2004, counted as OCSF records) or `Observation`s.
    fn findings(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        for f in v.try_iter()? {
            let f = f?;
            if let Ok(o) = f.cast::<Observation>() {
                self.findings.extend(o.get().findings.iter().cloned());
            } else {
                self.events.push(record_json(&f)?);
            }
        }
        Ok(())
    }

    /// Applies the feed; returns how many records were skipped (not OCSF).
    fn apply(self, s: &mut CoreSummary, now: Timestamp) -> u64 {
        let mut skipped = self.skipped;
        for d in &self.decisions {
            s.observe_decision_record(d);
        }
        for e in &self.events {
            if s.observe_ocsf(e, now).is_err() {
                skipped += 1;
            }
        }
        for f in &self.findings {
            s.observe_finding(f);
        }
        skipped
    }
}

#[pymethods]
impl Summary {
    /// An empty summary: time buckets of `bucket_seconds`, at most
    /// `max_buckets` per series and `max_keys` per table (sources, classes,
    /// subjects, policies, techniques, rules), keys cut at `max_key_len` bytes.
    #[new]
    #[pyo3(signature = (*, bucket_seconds=60.0, max_buckets=1440, max_keys=1000, max_key_len=256))]
    fn new(
        bucket_seconds: f64,
        max_buckets: usize,
        max_keys: usize,
        max_key_len: usize,
    ) -> PyResult<Self> {
        if !(bucket_seconds.is_finite() && bucket_seconds > 0.0) {
            return Err(Failure::Report {
                kind: "limits",
                message: "invalid limits: `bucket_seconds` must be positive".into(),
            }
            .into());
        }
        #[allow(clippy::cast_possible_truncation)]
        let bucket_ms = (bucket_seconds * 1000.0).round().min(i64::MAX as f64) as i64;
        let s = CoreSummary::new(ReportLimits {
            bucket_ms,
            max_buckets,
            max_keys,
            max_key_len,
        })
        .map_err(Failure::from)?;
        Ok(Summary {
            inner: Mutex::new(s),
        })
    }

    /// Re-imports a summary exported with `to_json` (its limits re-applied);
    /// raises `ReportError`.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let s = CoreSummary::from_json(text).map_err(Failure::from)?;
        Ok(Summary {
            inner: Mutex::new(s),
        })
    }

    /// Counts one `Decision` (at the time it was decided, or `at`).
    #[pyo3(signature = (decision, at=None))]
    fn observe_decision(
        &self,
        decision: PyRef<'_, Decision>,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let mut r = decision.record();
        if let Some(at) = at.filter(|a| !a.is_none()) {
            r.time = crate::now_or_clock(Some(at))?;
        }
        self.lock().observe_decision_record(&r);
        Ok(())
    }

    /// Counts `Decision` objects.
    fn observe_decisions(&self, py: Python<'_>, decisions: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut f = Feed::default();
        f.decisions(decisions)?;
        py.detach(|| f.apply(&mut self.lock(), Timestamp::EPOCH));
        Ok(())
    }

    /// Counts one OCSF record (dict, str or bytes) as an event of its
    /// source; Detection (2004) and Compliance (2003) Findings also feed the
    /// findings and posture tables. A record without `time` counts at `now`.
    /// Raises `ReportError` (kind `not_ocsf` or `json`).
    #[pyo3(signature = (event, now=None))]
    fn observe_event(
        &self,
        event: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let j = record_json(event)?;
        let now = crate::now_or_clock(now)?;
        self.lock().observe_ocsf(&j, now).map_err(Failure::from)?;
        Ok(())
    }

    /// Counts OCSF records; returns how many were skipped (not OCSF; also
    /// counted in the summary's `dropped.invalid_records`).
    #[pyo3(signature = (events, now=None))]
    fn observe_events(
        &self,
        py: Python<'_>,
        events: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let now = crate::now_or_clock(now)?;
        let mut f = Feed::default();
        f.events(events)?;
        Ok(py.detach(|| f.apply(&mut self.lock(), now)))
    }

    /// Counts findings: an `Observation` (its findings) or a Detection
    /// Finding dict (OCSF 2004).
    #[pyo3(signature = (finding, now=None))]
    fn observe_finding(
        &self,
        finding: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let now = crate::now_or_clock(now)?;
        let mut f = Feed::default();
        f.findings(pyo3::types::PyTuple::new(finding.py(), [finding])?.as_any())?;
        let bad = f
            .events
            .iter()
            .any(|e| e.get("class_uid").and_then(Json::as_u64) != Some(2004));
        if bad {
            return Err(Failure::Report {
                kind: "not_ocsf",
                message: "not a Detection Finding: `class_uid` is not 2004".into(),
            }
            .into());
        }
        f.apply(&mut self.lock(), now);
        Ok(())
    }

    /// Records the active bundle revision seen at `at` (default now).
    #[pyo3(signature = (revision, at=None))]
    fn observe_revision(&self, revision: u64, at: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let at = crate::now_or_clock(at)?;
        self.lock().observe_revision(revision, at);
        Ok(())
    }

    /// The latest bundle revision seen, or None.
    #[getter]
    fn revision(&self) -> Option<u64> {
        self.lock().revision.map(|(r, _)| r)
    }

    /// Totals: events, decisions (allow/deny/challenge), findings, compliance.
    #[getter]
    fn totals(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let t = serde_json::to_value(&self.lock().totals).unwrap_or(Json::Null);
        json_to_py(py, &t)
    }

    /// The summary as JSON text (re-import with `Summary.from_json`).
    fn to_json(&self) -> String {
        self.lock().to_json()
    }

    /// The summary as a dict (the JSON export).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = serde_json::to_value(&*self.lock()).unwrap_or(Json::Null);
        json_to_py(py, &v)
    }

    /// Pickles as its JSON export.
    fn __reduce__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let cls = py
            .import("mesh._mesh")?
            .getattr("Summary")?
            .getattr("from_json")?;
        Ok((cls, (self.to_json(),))
            .into_pyobject(py)?
            .into_any()
            .unbind())
    }

    fn __repr__(&self) -> String {
        let s = self.lock();
        format!(
            "Summary(events={}, decisions={}, findings={})",
            s.totals.events,
            s.totals.decisions.total(),
            s.totals.findings
        )
    }
}

/// Renders the self-contained HTML report (inline CSS and SVG, no script):
/// `summary` (not modified) plus `decisions` (`Decision` objects), `events`
/// (OCSF records; those that are not OCSF are skipped and counted) and
/// `findings` (Detection Finding dicts or `Observation`s). Coverage gaps
/// are sources silent longer than `silence_threshold` seconds at `now`.
#[pyfunction]
#[pyo3(signature = (summary=None, *, decisions=None, events=None, findings=None, now=None, title="mesh report", silence_threshold=900.0, top_n=10))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn render_report(
    py: Python<'_>,
    summary: Option<PyRef<'_, Summary>>,
    decisions: Option<&Bound<'_, PyAny>>,
    events: Option<&Bound<'_, PyAny>>,
    findings: Option<&Bound<'_, PyAny>>,
    now: Option<&Bound<'_, PyAny>>,
    title: &str,
    silence_threshold: f64,
    top_n: usize,
) -> PyResult<String> {
    let now = crate::now_or_clock(now)?;
    let silence = seconds(silence_threshold, "silence_threshold")?;
    let mut feed = Feed::default();
    if let Some(d) = decisions {
        feed.decisions(d)?;
    }
    if let Some(e) = events {
        feed.events(e)?;
    }
    if let Some(f) = findings {
        feed.findings(f)?;
    }
    let base = match &summary {
        Some(s) => s.lock().clone(),
        None => CoreSummary::new(ReportLimits::default()).map_err(Failure::from)?,
    };
    let opts = RenderOptions {
        now,
        silence_threshold: silence,
        title: title.to_owned(),
        top_n,
    };
    Ok(py.detach(move || {
        let mut s = base;
        feed.apply(&mut s, now);
        render_html(&s, &opts)
    }))
}
