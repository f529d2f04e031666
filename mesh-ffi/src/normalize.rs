//! `mesh_normalizer`: raw telemetry to OCSF 1.8.0 events.

use std::ffi::c_char;

use mesh_core::events::{sources, NormalizeOptions, Normalizer};
use serde_json::json;

use crate::error::{fail, mesh_result};
use crate::guard::{bytes_arg, guard, ms, opt_str_arg, Out};
use crate::handle;
use crate::strings::{to_c_string, write_string};

/// Largest batch accepted by `mesh_normalize_batch`, in bytes (256 MiB).
const MAX_BATCH: usize = 256 << 20;

/// A normalizer with every built-in source registered (CloudTrail, Okta,
/// Entra ID, Google Cloud audit, Windows Security, Sysmon, Linux auth.log,
/// Zeek, Suricata, PAN-OS, FortiGate, generic CEF and LEEF).
///
/// Thread safety: may be shared by any number of threads.
pub struct mesh_normalizer {
    inner: Normalizer,
}

/// Creates a normalizer with the built-in sources; free with
/// `mesh_normalizer_free`.
///
/// # Safety
/// `out_normalizer` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_normalizer_new(
    out_normalizer: *mut *const mesh_normalizer,
) -> mesh_result {
    guard(|| {
        let out = Out::required(out_normalizer, "out_normalizer")?;
        let mut inner = Normalizer::new(NormalizeOptions::default());
        sources::register_builtin(&mut inner)
            .map_err(|e| fail(mesh_result::MESH_ERR_EVENT, e.to_string()))?;
        // SAFETY: checked non-NULL above.
        unsafe { out.write(handle::register_shared(mesh_normalizer { inner })) };
        Ok(())
    })
}

/// Frees a normalizer. NULL is accepted; a second free returns
/// `MESH_ERR_INVALID_HANDLE`.
#[no_mangle]
pub extern "C" fn mesh_normalizer_free(normalizer: *const mesh_normalizer) -> mesh_result {
    guard(|| handle::release(normalizer, "normalizer"))
}

/// Normalizes one raw record (JSON, CEF, LEEF, syslog or key=value) with
/// the named source, or the detected one when `source` is NULL, into one
/// OCSF event as JSON (free with `mesh_string_free`). A record that cannot
/// be normalized returns `MESH_ERR_EVENT` with the reason in the last error.
///
/// # Safety
/// `record` must point to `len` readable bytes; `source` NULL or
/// NUL-terminated; `out_event_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_normalize(
    normalizer: *const mesh_normalizer,
    record: *const u8,
    len: usize,
    source: *const c_char,
    now_ms: i64,
    out_event_json: *mut *mut c_char,
) -> mesh_result {
    guard(|| {
        let n = handle::shared(normalizer, "normalizer")?;
        let max = n.inner.options().limits.max_record_bytes;
        // SAFETY: forwarded from the caller's contract.
        let raw = unsafe { bytes_arg(record, len, "record", max) }?;
        // SAFETY: forwarded from the caller's contract.
        let source = unsafe { opt_str_arg(source, "source", 256) }?;
        let out = Out::required(out_event_json, "out_event_json")?;
        let mut json = Vec::new();
        n.inner
            .normalize_json(raw, source, ms(now_ms), &mut json)
            .map_err(|e| fail(mesh_result::MESH_ERR_EVENT, e.to_string()))?;
        let json = String::from_utf8(json)
            .map_err(|e| fail(mesh_result::MESH_ERR_EVENT, e.to_string()))?;
        // SAFETY: checked non-NULL above.
        unsafe { write_string(out, json, "event") }
    })
}

/// Normalizes a batch: one record per line (NDJSON, CEF, LEEF, syslog,
/// key=value; blank lines skipped). `*out_events_ndjson` receives one OCSF
/// event per line for the records that normalized. A record that fails
/// never stops the batch: when `out_errors_ndjson` is not NULL it receives
/// one JSON object per failed record (`line`, `kind`, `message`, `raw`),
/// and `*out_failed` (may be NULL) the number of failures. Free both
/// strings with `mesh_string_free`.
///
/// # Safety
/// `input` must point to `len` readable bytes; `source` NULL or
/// NUL-terminated; out-parameters NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_normalize_batch(
    normalizer: *const mesh_normalizer,
    input: *const u8,
    len: usize,
    source: *const c_char,
    now_ms: i64,
    out_events_ndjson: *mut *mut c_char,
    out_errors_ndjson: *mut *mut c_char,
    out_failed: *mut usize,
) -> mesh_result {
    guard(|| {
        let n = handle::shared(normalizer, "normalizer")?;
        // SAFETY: forwarded from the caller's contract.
        let data = unsafe { bytes_arg(input, len, "input", MAX_BATCH) }?;
        // SAFETY: forwarded from the caller's contract.
        let source = unsafe { opt_str_arg(source, "source", 256) }?;
        let out_events = Out::required(out_events_ndjson, "out_events_ndjson")?;
        let mut events = Vec::new();
        let mut errors = String::new();
        let mut failed = 0usize;
        n.inner
            .normalize_lines_json(data, source, ms(now_ms), &mut events, |line, e| {
                failed += 1;
                if !out_errors_ndjson.is_null() {
                    let o = json!({
                        "line": line,
                        "kind": e.kind().as_str(),
                        "message": e.to_string(),
                        "raw": String::from_utf8_lossy(e.raw()),
                    });
                    errors.push_str(&o.to_string());
                    errors.push('\n');
                }
            });
        let events = String::from_utf8(events)
            .map_err(|e| fail(mesh_result::MESH_ERR_EVENT, e.to_string()))?;
        let ev = to_c_string(events, "events")?;
        let er = if out_errors_ndjson.is_null() {
            std::ptr::null_mut()
        } else {
            match to_c_string(errors, "errors") {
                Ok(c) => c,
                Err(code) => {
                    // SAFETY: `ev` came from `to_c_string` just above.
                    unsafe { crate::strings::mesh_string_free(ev) };
                    return Err(code);
                }
            }
        };
        // SAFETY: checked non-NULL (or skipped when NULL) per the contract.
        unsafe {
            out_events.write(ev);
            Out::optional(out_errors_ndjson).write(er);
            Out::optional(out_failed).write(failed);
        }
        Ok(())
    })
}
