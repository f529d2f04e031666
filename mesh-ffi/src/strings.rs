//! Strings across the boundary, the version, and actor keys.

use std::ffi::{c_char, CString};

use crate::error::{fail, mesh_result};
use crate::guard::{guard, str_arg, Out};

/// Converts `s` into a caller-owned C string (freed with `mesh_string_free`).
pub(crate) fn to_c_string(s: String, what: &str) -> Result<*mut c_char, mesh_result> {
    CString::new(s).map(CString::into_raw).map_err(|_| {
        fail(
            mesh_result::MESH_ERR_INVALID_ARGUMENT,
            format!("{what} contains a NUL byte and cannot be returned as a C string"),
        )
    })
}

/// Converts `s` into a caller-owned C string and writes it to `out`.
///
/// # Safety
/// `out` must have been built from a NULL or writable pointer.
pub(crate) unsafe fn write_string(
    out: Out<*mut c_char>,
    s: String,
    what: &str,
) -> Result<(), mesh_result> {
    let c = to_c_string(s, what)?;
    // SAFETY: forwarded from the caller's contract.
    unsafe { out.write(c) };
    Ok(())
}

/// The library version as a static NUL-terminated string, e.g. "0.1.0".
/// Never free it.
#[no_mangle]
pub extern "C" fn mesh_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Frees a string that libmesh returned to the caller. NULL is accepted.
///
/// # Safety
/// `s` must be NULL or a string returned by libmesh that was not freed yet.
#[no_mangle]
pub unsafe extern "C" fn mesh_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller passes a pointer from `CString::into_raw`.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// The canonical actor key of `identifier` (an e-mail, UPN, ARN, SID or
/// subject): the same subject seen by different tools gets the same key.
/// On success `*out_key` receives a string to free with `mesh_string_free`.
///
/// # Safety
/// `identifier` must be NULL or a NUL-terminated string; `out_key` must be
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_actor_key(
    identifier: *const c_char,
    out_key: *mut *mut c_char,
) -> mesh_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let id = unsafe { str_arg(identifier, "identifier", 4096) }?;
        let out = Out::required(out_key, "out_key")?;
        let key = mesh_core::ActorKey::from_identifier(id)
            .map_err(|e| fail(mesh_result::MESH_ERR_IDENTITY, e.to_string()))?;
        // SAFETY: checked non-NULL above.
        unsafe { write_string(out, key.into(), "actor key") }
    })
}
