//! `mesh_summary`: the consolidated view through C — a bounded summary of
//! decisions, OCSF events, findings and bundle revisions, exported as JSON
//! or rendered as one self-contained HTML report.

use std::ffi::c_char;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use mesh_core::report::{render_html, RenderOptions, ReportLimits, Summary};
use serde_json::Value as Json;

use crate::error::{fail, mesh_result};
use crate::guard::{guard, ms, opt_str_arg, text_arg, Out, MAX_CSTR};
use crate::handle;
use crate::mesh::{decision_arg, json_error, mesh_decision};
use crate::options::Options;
use crate::strings::write_string;

/// Largest OCSF record accepted by the `mesh_summary_observe_*` calls (1 MiB).
const MAX_RECORD: usize = 1 << 20;
/// Most rows a report's top-N tables may show.
const MAX_TOP_N: u64 = 1000;

/// A bounded summary (counts and time series) of what a host decided,
/// normalized and detected; see `mesh_summary_render_html`.
///
/// Thread safety: may be shared by any number of threads; updates are
/// serialized by an internal lock.
pub struct mesh_summary {
    inner: Mutex<Summary>,
}

fn report_error(e: impl std::fmt::Display, what: &str) -> mesh_result {
    fail(mesh_result::MESH_ERR_REPORT, format!("{what}: {e}"))
}

fn summary_arg(s: *const mesh_summary) -> Result<handle::Shared<mesh_summary>, mesh_result> {
    handle::shared(s, "summary")
}

fn with<R>(s: &mesh_summary, f: impl FnOnce(&mut Summary) -> R) -> R {
    f(&mut s.inner.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Creates an empty summary. `limits_json` may be NULL (defaults: 1-minute
/// buckets, 1440 buckets per series, 1000 keys per table, keys cut at 256
/// bytes) or an object with any of `bucket_ms`, `max_buckets`, `max_keys`,
/// `max_key_len` (all positive). Free with `mesh_summary_free`.
///
/// # Safety
/// `limits_json` NULL or NUL-terminated; `out_summary` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_summary_new(
    limits_json: *const c_char,
    out_summary: *mut *const mesh_summary,
) -> mesh_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let text = unsafe { opt_str_arg(limits_json, "limits_json", MAX_CSTR) }?;
        let out = Out::required(out_summary, "out_summary")?;
        let o = Options::parse(
            text,
            "limits_json",
            &["bucket_ms", "max_buckets", "max_keys", "max_key_len"],
        )?;
        let mut limits = ReportLimits::default();
        if let Some(v) = o.millis("bucket_ms", 1)? {
            limits.bucket_ms = v;
        }
        if let Some(v) = o.size("max_buckets", 1)? {
            limits.max_buckets = v;
        }
        if let Some(v) = o.size("max_keys", 1)? {
            limits.max_keys = v;
        }
        if let Some(v) = o.size("max_key_len", 1)? {
            limits.max_key_len = v;
        }
        let summary =
            Summary::new(limits).map_err(|e| report_error(e, "argument `limits_json`"))?;
        let h = handle::register_shared(mesh_summary {
            inner: Mutex::new(summary),
        });
        // SAFETY: checked non-NULL above.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// Frees a summary. NULL is accepted; a second free returns
/// `MESH_ERR_INVALID_HANDLE`.
#[no_mangle]
pub extern "C" fn mesh_summary_free(summary: *const mesh_summary) -> mesh_result {
    guard(|| handle::release(summary, "summary"))
}

/// Counts one access decision taken at `at_ms` (its effect, subject,
/// determining policies and bundle revision).
#[no_mangle]
pub extern "C" fn mesh_summary_observe_decision(
    summary: *const mesh_summary,
    decision: *const mesh_decision,
    at_ms: i64,
) -> mesh_result {
    guard(|| {
        let s = summary_arg(summary)?;
        let d = decision_arg(decision, "decision")?;
        with(&s, |sum| sum.observe_decision(&d.inner, ms(at_ms)));
        Ok(())
    })
}

/// # Safety
/// `ptr` must point to `len` readable bytes.
unsafe fn parse_record(
    ptr: *const u8,
    len: usize,
    name: &'static str,
) -> Result<Json, mesh_result> {
    // SAFETY: forwarded from the caller's contract.
    let text = unsafe { text_arg(ptr, len, name, MAX_RECORD) }?;
    serde_json::from_str(text).map_err(|e| json_error(name, &e))
}

/// Counts one OCSF record (JSON, `len` bytes) of any class as an event of
/// its source (`metadata.product.name`); Detection Findings (2004) and
/// Compliance Findings (2003) also feed the findings and posture tables.
/// A record without `time` counts at `now_ms`. A record that is not an
/// object with a numeric `class_uid` returns `MESH_ERR_REPORT` (and is
/// counted as invalid in the summary).
///
/// # Safety
/// `event_json` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mesh_summary_observe_event(
    summary: *const mesh_summary,
    event_json: *const u8,
    len: usize,
    now_ms: i64,
) -> mesh_result {
    guard(|| {
        let s = summary_arg(summary)?;
        // SAFETY: forwarded from the caller's contract.
        let v = unsafe { parse_record(event_json, len, "event_json") }?;
        with(&s, |sum| sum.observe_ocsf(&v, ms(now_ms)))
            .map_err(|e| report_error(e, "argument `event_json`"))
    })
}

/// Counts one OCSF Detection Finding (JSON, `len` bytes, `class_uid`
/// 2004, as `mesh_observe` and `mesh_analytics_detect_batch` produce) by
/// severity and ATT&CK technique. Any other class returns `MESH_ERR_REPORT`.
///
/// # Safety
/// `finding_json` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mesh_summary_observe_finding(
    summary: *const mesh_summary,
    finding_json: *const u8,
    len: usize,
    now_ms: i64,
) -> mesh_result {
    guard(|| {
        let s = summary_arg(summary)?;
        // SAFETY: forwarded from the caller's contract.
        let v = unsafe { parse_record(finding_json, len, "finding_json") }?;
        match v.get("class_uid").and_then(Json::as_u64) {
            Some(2004) => {}
            Some(other) => {
                return Err(fail(
                    mesh_result::MESH_ERR_REPORT,
                    format!(
                        "argument `finding_json` at `/class_uid`: `{other}` is not a Detection Finding (2004)"
                    ),
                ))
            }
            None => {
                return Err(fail(
                    mesh_result::MESH_ERR_REPORT,
                    "argument `finding_json` at `/class_uid`: missing or non-numeric class",
                ))
            }
        }
        with(&s, |sum| sum.observe_ocsf(&v, ms(now_ms)))
            .map_err(|e| report_error(e, "argument `finding_json`"))
    })
}

/// Records the active bundle revision seen at `at_ms` (the latest wins).
#[no_mangle]
pub extern "C" fn mesh_summary_observe_revision(
    summary: *const mesh_summary,
    revision: u64,
    at_ms: i64,
) -> mesh_result {
    guard(|| {
        let s = summary_arg(summary)?;
        with(&s, |sum| sum.observe_revision(revision, ms(at_ms)));
        Ok(())
    })
}

/// The summary as JSON (free with `mesh_string_free`).
///
/// # Safety
/// `out_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_summary_to_json(
    summary: *const mesh_summary,
    out_json: *mut *mut c_char,
) -> mesh_result {
    guard(|| {
        let s = summary_arg(summary)?;
        let out = Out::required(out_json, "out_json")?;
        let json = with(&s, |sum| sum.to_json());
        // SAFETY: checked non-NULL above.
        unsafe { write_string(out, json, "summary") }
    })
}

/// Renders the summary as one self-contained HTML page (inline CSS and
/// SVG, no script, no external asset) as of `now_ms`. `options_json` may be
/// NULL or an object with any of `title` (default "mesh report"),
/// `silence_threshold_seconds` (a source silent for longer is a coverage
/// gap; default 900) and `top_n` (rows in top-N tables, 1 to 1000; default
/// 10). Free the page with `mesh_string_free`.
///
/// # Safety
/// `options_json` NULL or NUL-terminated; `out_html` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_summary_render_html(
    summary: *const mesh_summary,
    now_ms: i64,
    options_json: *const c_char,
    out_html: *mut *mut c_char,
) -> mesh_result {
    guard(|| {
        let s = summary_arg(summary)?;
        // SAFETY: forwarded from the caller's contract.
        let text = unsafe { opt_str_arg(options_json, "options_json", MAX_CSTR) }?;
        let out = Out::required(out_html, "out_html")?;
        let o = Options::parse(
            text,
            "options_json",
            &["title", "silence_threshold_seconds", "top_n"],
        )?;
        let mut opts = RenderOptions {
            now: ms(now_ms),
            ..RenderOptions::default()
        };
        if let Some(t) = o.string("title")? {
            if t.len() > 1024 {
                return Err(o.invalid("title", "longer than 1024 bytes"));
            }
            opts.title = t.to_owned();
        }
        if let Some(secs) = o.uint("silence_threshold_seconds", 0)? {
            opts.silence_threshold = Duration::from_secs(secs);
        }
        if let Some(n) = o.size("top_n", 1)? {
            if n as u64 > MAX_TOP_N {
                return Err(o.invalid("top_n", format!("{n} is more than {MAX_TOP_N}")));
            }
            opts.top_n = n;
        }
        let html = with(&s, |sum| render_html(sum, &opts));
        // SAFETY: checked non-NULL above.
        unsafe { write_string(out, html, "report") }
    })
}
