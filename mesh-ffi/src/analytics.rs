//! Security analytics through C: `mesh_observe` (a mesh's own analytics,
//! with identity-anchored response) and `mesh_analytics` (standalone
//! detection over OCSF NDJSON, like `mesh detect`).

use std::ffi::c_char;
use std::sync::{Mutex, PoisonError};

use mesh_core::analytics::{
    Admission, Analytics, AnalyticsError, CorrelatorConfig, DetectionId, Finding, IntelSet,
    ResponsePolicy, ResponseRecord, SigmaRuleSet,
};
use mesh_core::Observation;
use serde_json::{json, Value as Json};

use crate::error::{analytics_code, fail, mesh_result};
use crate::guard::{bytes_arg, guard, ms, opt_str_arg, text_arg, Out, MAX_CSTR};
use crate::handle;
use crate::mesh::{json_error, mesh_arg, mesh_t};
use crate::options::Options;
use crate::strings::{to_c_string, write_string};

/// Largest OCSF event accepted by `mesh_observe`, in bytes (1 MiB).
const MAX_EVENT: usize = 1 << 20;
/// Largest NDJSON batch accepted by `mesh_analytics_detect_batch` (256 MiB).
const MAX_BATCH: usize = 256 << 20;

/// Standalone analytics: built-in correlation detections, optional Sigma
/// rules, STIX 2.1 indicators and response policy, over OCSF events.
///
/// Thread safety: may be shared by any number of threads; calls on one
/// handle are serialized (the correlation state is ordered by event time).
pub struct mesh_analytics {
    state: Mutex<State>,
}

struct State {
    analytics: Analytics,
    sigma_rules: usize,
    indicators: usize,
    events: u64,
    late: u64,
    invalid: u64,
    findings: u64,
    responses: u64,
}

fn analytics_error(e: &AnalyticsError, what: &str) -> mesh_result {
    fail(analytics_code(e), format!("{what}: {e}"))
}

fn parse_event(text: &str, name: &str) -> Result<Json, mesh_result> {
    serde_json::from_str(text).map_err(|e| json_error(name, &e))
}

fn load_sigma(yaml: &str) -> Result<(SigmaRuleSet, usize), mesh_result> {
    let mut set = SigmaRuleSet::default();
    let n = set
        .add_yaml(yaml)
        .map_err(|e| analytics_error(&e, "argument `sigma_yaml`"))?;
    Ok((set, n))
}

fn load_stix(text: &str) -> Result<(IntelSet, usize), mesh_result> {
    let mut intel = IntelSet::new();
    let n = intel
        .load_bundle(text)
        .map_err(|e| analytics_error(&e, "argument `stix_json`"))?;
    Ok((intel, n))
}

fn load_policy(json: &str, what: &str) -> Result<ResponsePolicy, mesh_result> {
    ResponsePolicy::from_json(json).map_err(|e| analytics_error(&e, what))
}

const OPTIONS: [&str; 7] = [
    "allowed_lateness_ms",
    "max_buffered",
    "max_actors",
    "max_sources",
    "ttl_ms",
    "detections",
    "response_policy",
];

fn correlator_config(o: &Options) -> Result<CorrelatorConfig, mesh_result> {
    let mut c = CorrelatorConfig::default();
    if let Some(v) = o.millis("allowed_lateness_ms", 0)? {
        c.allowed_lateness_ms = v;
    }
    if let Some(v) = o.size("max_buffered", 1)? {
        c.max_buffered = v;
    }
    if let Some(v) = o.size("max_actors", 1)? {
        c.max_actors = v;
    }
    if let Some(v) = o.size("max_sources", 1)? {
        c.max_sources = v;
    }
    if let Some(v) = o.millis("ttl_ms", 1)? {
        c.ttl_ms = v;
    }
    if let Some(names) = o.strings("detections")? {
        c.enabled = names
            .iter()
            .map(|n| {
                DetectionId::from_name(n).ok_or_else(|| {
                    o.invalid(
                        "detections",
                        format!(
                            "unknown detection `{n}` (expected one of {})",
                            DetectionId::ALL
                                .iter()
                                .map(|d| format!("`{}`", d.as_str()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(c)
}

fn findings_json(findings: &[Finding]) -> Json {
    Json::Array(findings.iter().map(Finding::to_ocsf).collect())
}

fn responses_json(records: &[ResponseRecord]) -> Json {
    Json::Array(records.iter().map(ResponseRecord::to_json).collect())
}

fn observation_json(o: &Observation) -> String {
    let (admission, behind) = match o.admission {
        Admission::Accepted => ("accepted", None),
        Admission::Late { behind_ms } => ("late", Some(behind_ms)),
    };
    json!({
        "admission": admission,
        "late_by_ms": behind,
        "findings": findings_json(&o.findings),
        "responses": responses_json(&o.responses),
        "applied": responses_json(&o.applied),
    })
    .to_string()
}

/// Writes an observation to the out-parameters.
///
/// # Safety
/// Both pointers NULL (the second only) or writable.
unsafe fn write_observation(
    o: &Observation,
    out_json: Out<*mut c_char>,
    out_findings: Out<usize>,
) -> Result<(), mesh_result> {
    let n = o.findings.len();
    // SAFETY: forwarded from the caller's contract.
    unsafe { write_string(out_json, observation_json(o), "observation") }?;
    // SAFETY: as above.
    unsafe { out_findings.write(n) };
    Ok(())
}

/// Feeds one OCSF event (JSON, `len` bytes) to the mesh's analytics at
/// `now_ms`, and applies the response policy: with `[response] auto_revoke`
/// (or a policy set by `mesh_set_analytics`) the actor of a finding is
/// revoked in this mesh, so its next `mesh_authorize` is a `revoked` Deny.
///
/// `*out_observation_json` receives `{"admission": "accepted"|"late",
/// "late_by_ms": n|null, "findings": [OCSF Detection Findings],
/// "responses": [...], "applied": [...]}` (free with `mesh_string_free`);
/// `*out_findings` (may be NULL) the number of findings, so a caller can
/// skip parsing when it is 0. Correlation follows event time: events within
/// the allowed lateness are held until later events (or
/// `mesh_flush_observations`) move the watermark past them.
///
/// Errors: `MESH_ERR_INVALID_JSON` (line:column), `MESH_ERR_ANALYTICS` for
/// an event that is not usable OCSF (the last error gives the JSON pointer).
///
/// # Safety
/// `event_json` must point to `len` readable bytes; out-parameters NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_observe(
    mesh: *const mesh_t,
    event_json: *const u8,
    len: usize,
    now_ms: i64,
    out_observation_json: *mut *mut c_char,
    out_findings: *mut usize,
) -> mesh_result {
    guard(|| {
        let m = mesh_arg(mesh)?;
        // SAFETY: forwarded from the caller's contract.
        let text = unsafe { text_arg(event_json, len, "event_json", MAX_EVENT) }?;
        let out = Out::required(out_observation_json, "out_observation_json")?;
        let event = parse_event(text, "event_json")?;
        let o = m
            .inner
            .observe(&event, ms(now_ms))
            .map_err(|e| analytics_error(&e, "argument `event_json`"))?;
        // SAFETY: checked above; `out_findings` NULL or writable.
        unsafe { write_observation(&o, out, Out::optional(out_findings)) }
    })
}

/// Processes every event the mesh's analytics still hold (end of a batch
/// or of a stream) and applies the responses, as `mesh_observe`; same
/// out-parameters.
///
/// # Safety
/// Out-parameters NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_flush_observations(
    mesh: *const mesh_t,
    now_ms: i64,
    out_observation_json: *mut *mut c_char,
    out_findings: *mut usize,
) -> mesh_result {
    guard(|| {
        let m = mesh_arg(mesh)?;
        let out = Out::required(out_observation_json, "out_observation_json")?;
        let o = m.inner.flush_observations(ms(now_ms));
        // SAFETY: checked above; `out_findings` NULL or writable.
        unsafe { write_observation(&o, out, Out::optional(out_findings)) }
    })
}

/// Configures the mesh's own analytics: each non-NULL argument replaces
/// that part (Sigma rules as YAML, one or more documents; a STIX 2.1
/// bundle; a response policy as JSON), NULL leaves it as it is. Everything
/// is checked before anything changes.
///
/// # Safety
/// Arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mesh_set_analytics(
    mesh: *const mesh_t,
    sigma_yaml: *const c_char,
    stix_json: *const c_char,
    response_policy_json: *const c_char,
) -> mesh_result {
    guard(|| {
        let m = mesh_arg(mesh)?;
        // SAFETY (all three): forwarded from the caller's contract.
        let sigma = unsafe { opt_str_arg(sigma_yaml, "sigma_yaml", MAX_CSTR) }?;
        let stix = unsafe { opt_str_arg(stix_json, "stix_json", MAX_CSTR) }?;
        let policy =
            unsafe { opt_str_arg(response_policy_json, "response_policy_json", MAX_CSTR) }?;
        let sigma = sigma.map(load_sigma).transpose()?;
        let stix = stix.map(load_stix).transpose()?;
        let policy = policy
            .map(|p| load_policy(p, "argument `response_policy_json`"))
            .transpose()?;
        m.inner.with_analytics(|a| {
            if let Some((set, _)) = sigma {
                a.set_sigma(set);
            }
            if let Some((intel, _)) = stix {
                a.set_intel(intel);
            }
        });
        if let Some(p) = policy {
            m.inner.set_response_policy(p);
        }
        Ok(())
    })
}

/// Creates standalone analytics. Every argument may be NULL: `sigma_yaml`
/// holds Sigma rules (YAML, one or more documents), `stix_json` a STIX 2.1
/// bundle of indicators, `options_json` an object with any of
/// `allowed_lateness_ms`, `max_buffered`, `max_actors`, `max_sources`,
/// `ttl_ms`, `detections` (names of the built-in detections to run;
/// default all) and `response_policy` (a response policy object). Unknown
/// option fields are rejected. Free with `mesh_analytics_free`.
///
/// Errors: `MESH_ERR_SIGMA_RULE`, `MESH_ERR_STIX`, `MESH_ERR_RESPONSE_POLICY`
/// (the last error names the rule, indicator or JSON pointer),
/// `MESH_ERR_INVALID_JSON` / `MESH_ERR_INVALID_ARGUMENT` for options.
///
/// # Safety
/// String arguments NULL or NUL-terminated; `out_analytics` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_analytics_new(
    sigma_yaml: *const c_char,
    stix_json: *const c_char,
    options_json: *const c_char,
    out_analytics: *mut *const mesh_analytics,
) -> mesh_result {
    guard(|| {
        // SAFETY (all three): forwarded from the caller's contract.
        let sigma = unsafe { opt_str_arg(sigma_yaml, "sigma_yaml", MAX_CSTR) }?;
        let stix = unsafe { opt_str_arg(stix_json, "stix_json", MAX_CSTR) }?;
        let options = unsafe { opt_str_arg(options_json, "options_json", MAX_CSTR) }?;
        let out = Out::required(out_analytics, "out_analytics")?;
        let o = Options::parse(options, "options_json", &OPTIONS)?;
        let mut analytics = Analytics::new(correlator_config(&o)?);
        if let Some(p) = o.value("response_policy") {
            if !p.is_object() {
                return Err(fail(
                    mesh_result::MESH_ERR_INVALID_JSON,
                    "argument `options_json` at `/response_policy`: expected an object",
                ));
            }
            analytics.set_policy(load_policy(
                &p.to_string(),
                "argument `options_json` at `/response_policy`",
            )?);
        }
        let mut sigma_rules = 0;
        if let Some(yaml) = sigma {
            let (set, n) = load_sigma(yaml)?;
            analytics.set_sigma(set);
            sigma_rules = n;
        }
        let mut indicators = 0;
        if let Some(text) = stix {
            let (intel, n) = load_stix(text)?;
            analytics.set_intel(intel);
            indicators = n;
        }
        let state = State {
            analytics,
            sigma_rules,
            indicators,
            events: 0,
            late: 0,
            invalid: 0,
            findings: 0,
            responses: 0,
        };
        let h = handle::register_shared(mesh_analytics {
            state: Mutex::new(state),
        });
        // SAFETY: checked non-NULL above.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// Frees analytics. NULL is accepted; a second free returns
/// `MESH_ERR_INVALID_HANDLE`.
#[no_mangle]
pub extern "C" fn mesh_analytics_free(analytics: *const mesh_analytics) -> mesh_result {
    guard(|| handle::release(analytics, "analytics"))
}

/// What one batch produced.
#[derive(Default)]
struct BatchOutput {
    findings: String,
    responses: String,
    errors: String,
    failed: usize,
}

impl State {
    fn emit(&mut self, found: &mut Vec<Finding>, out: &mut BatchOutput, want_responses: bool) {
        for f in found.iter() {
            out.findings.push_str(&f.to_ocsf().to_string());
            out.findings.push('\n');
        }
        self.findings += found.len() as u64;
        let records = self.analytics.respond(found);
        self.responses += records.len() as u64;
        if want_responses {
            for r in &records {
                out.responses.push_str(&r.to_json().to_string());
                out.responses.push('\n');
            }
        }
        found.clear();
    }

    fn detect(&mut self, data: &[u8], flush: bool, want: (bool, bool)) -> BatchOutput {
        let (want_responses, want_errors) = want;
        let mut out = BatchOutput::default();
        let mut found = Vec::new();
        for (i, raw) in data.split(|b| *b == b'\n').enumerate() {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line = i + 1;
            let result = std::str::from_utf8(raw)
                .map_err(|e| {
                    (
                        "invalid_utf8",
                        format!("not valid UTF-8 at byte {}", e.valid_up_to()),
                    )
                })
                .and_then(|text| {
                    serde_json::from_str::<Json>(text)
                        .map_err(|e| ("invalid_json", format!("at column {}: {e}", e.column())))
                })
                .and_then(|event| {
                    self.analytics
                        .observe(&event, &mut found)
                        .map_err(|e| (e.kind().as_str(), e.to_string()))
                });
            match result {
                Ok(admission) => {
                    self.events += 1;
                    if matches!(admission, Admission::Late { .. }) {
                        self.late += 1;
                    }
                }
                Err((kind, message)) => {
                    self.invalid += 1;
                    out.failed += 1;
                    if want_errors {
                        let o = json!({"line": line, "kind": kind, "message": message});
                        out.errors.push_str(&o.to_string());
                        out.errors.push('\n');
                    }
                }
            }
            self.emit(&mut found, &mut out, want_responses);
        }
        if flush {
            self.analytics.flush(&mut found);
            self.emit(&mut found, &mut out, want_responses);
        }
        out
    }
}

/// Runs detection over a batch of OCSF events, one JSON object per line
/// (blank lines skipped). `*out_findings_ndjson` receives one OCSF
/// Detection Finding per line. A line that is not an OCSF event never
/// stops the batch: when `out_errors_ndjson` is not NULL it receives one
/// object per failed line (`line`: its 1-based number in `input`, `kind`:
/// `invalid_utf8`, `invalid_json` or `invalid_event`, `message`: what and
/// where), and `*out_failed` (may be NULL) the number of failed lines.
/// `out_responses_ndjson` (may be NULL) receives the responses the policy
/// chose, one per line. Correlation state carries over from batch to batch;
/// with `flush` true every event still held for late arrivals is processed
/// at the end (end of stream; `len` may then be 0). Free the strings with
/// `mesh_string_free`.
///
/// # Safety
/// `input` must point to `len` readable bytes; out-parameters NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_analytics_detect_batch(
    analytics: *const mesh_analytics,
    input: *const u8,
    len: usize,
    flush: bool,
    out_findings_ndjson: *mut *mut c_char,
    out_responses_ndjson: *mut *mut c_char,
    out_errors_ndjson: *mut *mut c_char,
    out_failed: *mut usize,
) -> mesh_result {
    guard(|| {
        let a = handle::shared(analytics, "analytics")?;
        // SAFETY: forwarded from the caller's contract.
        let data = unsafe { bytes_arg(input, len, "input", MAX_BATCH) }?;
        let out_findings = Out::required(out_findings_ndjson, "out_findings_ndjson")?;
        let out_responses = Out::optional(out_responses_ndjson);
        let out_errors = Out::optional(out_errors_ndjson);
        let want = (out_responses.wanted(), out_errors.wanted());
        let batch = a
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .detect(data, flush, want);
        let findings = to_c_string(batch.findings, "findings")?;
        let mut strings = vec![findings];
        let mut convert =
            |wanted: bool, s: String, what: &str| -> Result<*mut c_char, mesh_result> {
                if !wanted {
                    return Ok(std::ptr::null_mut());
                }
                let c = to_c_string(s, what)?;
                strings.push(c);
                Ok(c)
            };
        let converted = convert(want.0, batch.responses, "responses")
            .and_then(|r| convert(want.1, batch.errors, "errors").map(|e| (r, e)));
        let (responses, errors) = match converted {
            Ok(pair) => pair,
            Err(code) => {
                for s in strings {
                    // SAFETY: each came from `to_c_string` just above.
                    unsafe { crate::strings::mesh_string_free(s) };
                }
                return Err(code);
            }
        };
        // SAFETY: checked non-NULL (or skipped when NULL) per the contract.
        unsafe {
            out_findings.write(findings);
            out_responses.write(responses);
            out_errors.write(errors);
            Out::optional(out_failed).write(batch.failed);
        }
        Ok(())
    })
}

/// The analytics' counters as JSON (free with `mesh_string_free`): lines
/// accepted (`events`), `late`, `invalid`, `findings`, `responses`,
/// `sigma_rules`, `indicators`, `watermark_ms` (null before the first
/// event), `state_bytes` (approximate correlation state) and `correlator`
/// (events processed, buffered, tracked and evicted actors and sources,
/// expired entries, forced releases).
///
/// # Safety
/// `out_stats_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_analytics_stats(
    analytics: *const mesh_analytics,
    out_stats_json: *mut *mut c_char,
) -> mesh_result {
    guard(|| {
        let a = handle::shared(analytics, "analytics")?;
        let out = Out::required(out_stats_json, "out_stats_json")?;
        let json = {
            let st = a.state.lock().unwrap_or_else(PoisonError::into_inner);
            let c = st.analytics.correlator();
            let cs = c.stats();
            json!({
                "events": st.events,
                "late": st.late,
                "invalid": st.invalid,
                "findings": st.findings,
                "responses": st.responses,
                "sigma_rules": st.sigma_rules,
                "indicators": st.indicators,
                "watermark_ms": c.watermark().map(|t| t.unix_millis()),
                "state_bytes": c.approx_state_bytes(),
                "correlator": {
                    "events": cs.events,
                    "late_events": cs.late_events,
                    "forced_releases": cs.forced_releases,
                    "buffered": cs.buffered,
                    "tracked_actors": cs.tracked_actors,
                    "tracked_sources": cs.tracked_sources,
                    "evicted_actors": cs.evicted_actors,
                    "evicted_sources": cs.evicted_sources,
                    "expired": cs.expired,
                    "findings": cs.findings,
                },
            })
            .to_string()
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_string(out, json, "stats") }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn logon(i: i64, success: bool) -> String {
        json!({
            "class_uid": 3002, "category_uid": 3, "activity_id": 1, "type_uid": 300201,
            "severity_id": 1, "time": 1_717_228_800_000i64 + i * 1000,
            "status_id": if success { 1 } else { 2 },
            "metadata": {"uid": format!("e{i}"), "version": "1.8.0", "product": {"name": "Okta"}},
            "user": {"email_addr": "alice@example.com"},
            "src_endpoint": {"ip": "198.51.100.9"},
        })
        .to_string()
    }

    fn state() -> State {
        State {
            analytics: Analytics::new(CorrelatorConfig::default()),
            sigma_rules: 0,
            indicators: 0,
            events: 0,
            late: 0,
            invalid: 0,
            findings: 0,
            responses: 0,
        }
    }

    #[test]
    fn detect_reports_bad_lines_by_number_and_finds_across_batches() {
        let mut st = state();
        let mut first = String::new();
        for i in 0..6 {
            first.push_str(&logon(i, false));
            first.push_str("\r\n");
        }
        first.push_str("\n{\"class_uid\": 3002}\nnope\n");
        let out = st.detect(first.as_bytes(), false, (true, true));
        assert_eq!(out.failed, 2);
        let lines: Vec<Json> = out
            .errors
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["line"], 8);
        assert_eq!(lines[0]["kind"], "invalid_event");
        assert_eq!(lines[1]["line"], 9);
        assert_eq!(lines[1]["kind"], "invalid_json");
        // The success arrives in a second batch; state carried over.
        let out = st.detect(logon(6, true).as_bytes(), true, (false, false));
        assert!(
            out.findings.contains("brute_force_success"),
            "{}",
            out.findings
        );
        assert!(out.errors.is_empty() && out.responses.is_empty());
        assert_eq!((st.events, st.invalid), (7, 2));
    }

    #[test]
    fn options_build_the_correlator_configuration() {
        let o = Options::parse(
            Some(r#"{"max_actors": 10, "detections": ["brute_force_success"], "allowed_lateness_ms": 0}"#),
            "options_json",
            &OPTIONS,
        )
        .unwrap();
        let c = correlator_config(&o).unwrap();
        assert_eq!(c.max_actors, 10);
        assert_eq!(c.enabled, vec![DetectionId::BruteForceSuccess]);
        assert_eq!(c.allowed_lateness_ms, 0);
        let o = Options::parse(Some(r#"{"detections": ["x"]}"#), "o", &OPTIONS).unwrap();
        assert_eq!(
            correlator_config(&o).err(),
            Some(mesh_result::MESH_ERR_INVALID_ARGUMENT)
        );
    }
}
