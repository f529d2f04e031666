//! The native part of the `mesh` Python module (`mesh._mesh`).

use pyo3::prelude::*;

/// The canonical actor key of an identifier (e-mail, UPN, ARN, SID, subject).
#[pyfunction]
fn actor_key(identifier: &str) -> PyResult<String> {
    mesh_core::ActorKey::from_identifier(identifier)
        .map(String::from)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// The `mesh._mesh` native module.
#[pymodule]
fn _mesh(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(actor_key, m)?)?;
    Ok(())
}
