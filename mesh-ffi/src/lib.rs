//! libmesh: the C ABI of mesh.
//!
//! Conventions (see `include/mesh.h` and the README, "Using mesh from C"):
//! every exported symbol starts with `mesh_`; every fallible call returns a
//! `mesh_result`; out-parameters come last and are written only on success;
//! strings returned to the caller are freed with `mesh_string_free`; no panic
//! crosses the boundary; handles are opaque and checked on every use.

mod analytics;
mod error;
mod guard;
mod handle;
mod mesh;
mod normalize;
mod options;
mod slots;
mod strings;
mod summary;

pub use analytics::{
    mesh_analytics, mesh_analytics_detect_batch, mesh_analytics_free, mesh_analytics_new,
    mesh_analytics_stats, mesh_flush_observations, mesh_observe, mesh_set_analytics,
};
pub use error::{mesh_last_error_message, mesh_result, mesh_result_message};
pub use mesh::{
    mesh_activate_bundle, mesh_authorize, mesh_authorize_json, mesh_decision, mesh_decision_effect,
    mesh_decision_free, mesh_decision_max_auth_age, mesh_decision_obligation, mesh_decision_policy,
    mesh_decision_policy_count, mesh_decision_reason, mesh_decision_to_json, mesh_effect,
    mesh_free, mesh_new, mesh_revision, mesh_revocations_export, mesh_revocations_merge,
    mesh_revoke_subject, mesh_t, mesh_verify,
};
pub use normalize::{
    mesh_normalize, mesh_normalize_batch, mesh_normalizer, mesh_normalizer_free,
    mesh_normalizer_new,
};
pub use strings::{mesh_actor_key, mesh_string_free, mesh_version};
pub use summary::{
    mesh_summary, mesh_summary_free, mesh_summary_new, mesh_summary_observe_decision,
    mesh_summary_observe_event, mesh_summary_observe_finding, mesh_summary_observe_revision,
    mesh_summary_render_html, mesh_summary_to_json,
};

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
