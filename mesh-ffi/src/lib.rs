//! libmesh: the C ABI of mesh.
//!
//! Conventions (see `include/mesh.h` and the README, "Using mesh from C"):
//! every exported symbol starts with `mesh_`; every fallible call returns a
//! `mesh_result`; out-parameters come last and are written only on success;
//! strings returned to the caller are freed with `mesh_string_free`; no panic
//! crosses the boundary; handles are opaque and checked on every use.

mod error;
#[allow(dead_code)] // used by the handle-based API as it lands
mod guard;
#[allow(dead_code)] // used by the handle-based API as it lands
mod handle;
mod strings;

pub use error::{mesh_last_error_message, mesh_result, mesh_result_message};
pub use strings::{mesh_actor_key, mesh_string_free, mesh_version};

/// The major version of this library.
pub const MESH_VERSION_MAJOR: u32 = 0;
/// The minor version of this library.
pub const MESH_VERSION_MINOR: u32 = 1;
/// The patch version of this library.
pub const MESH_VERSION_PATCH: u32 = 0;

#[cfg(test)]
mod tests {
    #[test]
    fn version_constants_match_the_crate() {
        let v = format!(
            "{}.{}.{}",
            super::MESH_VERSION_MAJOR,
            super::MESH_VERSION_MINOR,
            super::MESH_VERSION_PATCH
        );
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}
