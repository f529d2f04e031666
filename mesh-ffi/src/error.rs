//! Result codes, their messages, and the thread-local last error.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CString};

/// The result of every fallible libmesh call.
///
/// Codes are grouped by layer and are never renumbered: 0 is success,
/// 1–999 are argument and ABI errors, 1000–1999 identity, 2000–2999 policy,
/// 3000–3999 events, 4000–4999 analytics, 5000–5999 configuration and
/// bundles. `mesh_result_message()` gives a static text for each code and
/// `mesh_last_error_message()` the detailed message (with its location) of
/// the last failure on the calling thread.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mesh_result {
    /// Success.
    MESH_OK = 0,
    /// A required pointer argument was NULL.
    MESH_ERR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    MESH_ERR_INVALID_UTF8 = 2,
    /// An argument exceeded its documented maximum size.
    MESH_ERR_INPUT_TOO_LARGE = 3,
    /// A handle was not live: never created, already freed, or of another type.
    MESH_ERR_INVALID_HANDLE = 4,
    /// mesh hit an internal error (a caught panic); the call had no effect.
    MESH_ERR_PANIC = 5,
    /// An argument was not valid JSON of the expected shape.
    MESH_ERR_INVALID_JSON = 6,
    /// An argument had a valid type but an unacceptable value.
    MESH_ERR_INVALID_ARGUMENT = 7,
    /// A credential or identity input was rejected (see the last error).
    MESH_ERR_IDENTITY = 1000,
    /// A policy, schema, entity or request was rejected (see the last error).
    MESH_ERR_POLICY = 2000,
    /// A record could not be normalized (see the last error).
    MESH_ERR_EVENT = 3000,
    /// An analytics input was rejected (see the last error); for an event,
    /// the last error names the field (JSON pointer) and, in a batch, the line.
    MESH_ERR_ANALYTICS = 4000,
    /// A Sigma rule was rejected (the last error names the rule and where).
    MESH_ERR_SIGMA_RULE = 4001,
    /// A STIX 2.1 bundle or indicator was rejected (see the last error).
    MESH_ERR_STIX = 4002,
    /// A response policy was rejected (the last error gives the JSON pointer).
    MESH_ERR_RESPONSE_POLICY = 4003,
    /// A record given to a summary was rejected, or its limits are unusable.
    MESH_ERR_REPORT = 4004,
    /// A configuration document or bundle was rejected (see the last error).
    MESH_ERR_CONFIG = 5000,
}

impl mesh_result {
    /// The static, NUL-terminated message for this code.
    pub(crate) const fn message(self) -> &'static str {
        match self {
            mesh_result::MESH_OK => "ok\0",
            mesh_result::MESH_ERR_NULL_ARGUMENT => "a required pointer argument was NULL\0",
            mesh_result::MESH_ERR_INVALID_UTF8 => "a string argument was not valid UTF-8\0",
            mesh_result::MESH_ERR_INPUT_TOO_LARGE => "an argument exceeded its maximum size\0",
            mesh_result::MESH_ERR_INVALID_HANDLE => {
                "the handle is not live (never created, already freed, or of another type)\0"
            }
            mesh_result::MESH_ERR_PANIC => "internal error in mesh; the call had no effect\0",
            mesh_result::MESH_ERR_INVALID_JSON => {
                "an argument was not valid JSON of the expected shape\0"
            }
            mesh_result::MESH_ERR_INVALID_ARGUMENT => "an argument had an unacceptable value\0",
            mesh_result::MESH_ERR_IDENTITY => "the credential or identity input was rejected\0",
            mesh_result::MESH_ERR_POLICY => "the policy, schema, entity or request was rejected\0",
            mesh_result::MESH_ERR_EVENT => "the record could not be normalized\0",
            mesh_result::MESH_ERR_ANALYTICS => "the analytics input was rejected\0",
            mesh_result::MESH_ERR_SIGMA_RULE => "a Sigma rule was rejected\0",
            mesh_result::MESH_ERR_STIX => "the STIX bundle or an indicator was rejected\0",
            mesh_result::MESH_ERR_RESPONSE_POLICY => "the response policy was rejected\0",
            mesh_result::MESH_ERR_REPORT => "the summary input was rejected\0",
            mesh_result::MESH_ERR_CONFIG => "the configuration or bundle was rejected\0",
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
    /// Whether `LAST_ERROR` holds a message: a plain flag, so clearing on
    /// every successful call costs one thread-local read.
    static HAS_ERROR: Cell<bool> = const { Cell::new(false) };
}

/// The result code of an analytics error, by its kind.
pub(crate) fn analytics_code(e: &mesh_core::analytics::AnalyticsError) -> mesh_result {
    use mesh_core::analytics::AnalyticsErrorKind as K;
    match e.kind() {
        K::InvalidRule => mesh_result::MESH_ERR_SIGMA_RULE,
        K::InvalidIndicator => mesh_result::MESH_ERR_STIX,
        K::InvalidPolicy => mesh_result::MESH_ERR_RESPONSE_POLICY,
        _ => mesh_result::MESH_ERR_ANALYTICS,
    }
}

/// Records `message` as the calling thread's last error and returns `code`.
pub(crate) fn fail(code: mesh_result, message: impl Into<String>) -> mesh_result {
    let text = message.into().replace('\0', "\\0");
    let c = CString::new(text).unwrap_or_default();
    let stored = LAST_ERROR
        .try_with(|e| e.try_borrow_mut().map(|mut e| *e = Some(c)).is_ok())
        .unwrap_or(false);
    let _ = HAS_ERROR.try_with(|h| h.set(stored));
    code
}

/// Clears the calling thread's last error.
pub(crate) fn clear() {
    if HAS_ERROR.try_with(Cell::get).unwrap_or(false) {
        let _ = HAS_ERROR.try_with(|h| h.set(false));
        let old = LAST_ERROR
            .try_with(|e| e.try_borrow_mut().ok().and_then(|mut e| e.take()))
            .ok()
            .flatten();
        drop(old);
    }
}

/// The static message for `result`, or for an unknown code a generic text.
/// Never NULL; the string is static and must not be freed.
#[no_mangle]
pub extern "C" fn mesh_result_message(result: u32) -> *const c_char {
    let known = [
        mesh_result::MESH_OK,
        mesh_result::MESH_ERR_NULL_ARGUMENT,
        mesh_result::MESH_ERR_INVALID_UTF8,
        mesh_result::MESH_ERR_INPUT_TOO_LARGE,
        mesh_result::MESH_ERR_INVALID_HANDLE,
        mesh_result::MESH_ERR_PANIC,
        mesh_result::MESH_ERR_INVALID_JSON,
        mesh_result::MESH_ERR_INVALID_ARGUMENT,
        mesh_result::MESH_ERR_IDENTITY,
        mesh_result::MESH_ERR_POLICY,
        mesh_result::MESH_ERR_EVENT,
        mesh_result::MESH_ERR_ANALYTICS,
        mesh_result::MESH_ERR_SIGMA_RULE,
        mesh_result::MESH_ERR_STIX,
        mesh_result::MESH_ERR_RESPONSE_POLICY,
        mesh_result::MESH_ERR_REPORT,
        mesh_result::MESH_ERR_CONFIG,
    ];
    let text = known
        .iter()
        .find(|k| **k as u32 == result)
        .map_or("unknown result code\0", |k| k.message());
    text.as_ptr().cast()
}

/// The detailed message of the last failed call on the calling thread (what
/// was wrong and where), or "" if the last call succeeded. Never NULL. The
/// string belongs to libmesh and stays valid until the next libmesh call on
/// the same thread: copy it if you need it longer.
#[no_mangle]
pub extern "C" fn mesh_last_error_message() -> *const c_char {
    const EMPTY: &str = "\0";
    LAST_ERROR
        .try_with(|e| {
            e.try_borrow()
                .ok()
                .and_then(|e| e.as_ref().map(|c| c.as_ptr()))
        })
        .ok()
        .flatten()
        .unwrap_or(EMPTY.as_ptr().cast())
}
