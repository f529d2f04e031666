//! libmesh: the C ABI of mesh. Every exported symbol starts with `mesh_`.

use std::ffi::c_char;

/// The library version as a NUL-terminated string, e.g. `"0.1.0"`.
/// The returned pointer is static: never free it.
#[no_mangle]
pub extern "C" fn mesh_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
