//! Handles: opaque ids registered in a process-wide table.
//!
//! A handle given to C is never dereferenced by libmesh: it is a key into a
//! table of live objects. Using a freed, never-created or wrongly-typed
//! handle, or freeing one twice, is therefore detected and reported as
//! `MESH_ERR_INVALID_HANDLE` instead of being undefined behaviour. Ids are
//! never reused. A call in progress holds its own reference, so freeing a
//! handle while another thread uses it is safe: the object lives until that
//! call returns.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use crate::error::{fail, mesh_result};

type Table = RwLock<HashMap<usize, Arc<dyn Any + Send + Sync>>>;

/// Shards of the table, so threads working on different handles rarely
/// touch the same lock.
const SHARDS: usize = 16;

static LIVE: LazyLock<[Table; SHARDS]> =
    LazyLock::new(|| std::array::from_fn(|_| RwLock::new(HashMap::new())));
static NEXT_ID: AtomicUsize = AtomicUsize::new(0x1000);

fn shard(id: usize) -> &'static Table {
    let shards: &'static [Table; SHARDS] = &LIVE;
    // Ids advance by 16, so bits 4.. spread consecutive handles over shards.
    &shards[(id >> 4) % SHARDS]
}

/// Registers `value` and returns its handle.
pub(crate) fn register<T: Send + Sync + 'static>(value: T) -> *const T {
    let id = NEXT_ID.fetch_add(16, Ordering::Relaxed);
    let mut table = shard(id).write().unwrap_or_else(|p| p.into_inner());
    table.insert(id, Arc::new(value));
    id as *const T
}

/// The live object behind `handle`, or `MESH_ERR_INVALID_HANDLE` /
/// `MESH_ERR_NULL_ARGUMENT`.
pub(crate) fn get<T: Send + Sync + 'static>(
    handle: *const T,
    name: &str,
) -> Result<Arc<T>, mesh_result> {
    if handle.is_null() {
        return Err(fail(
            mesh_result::MESH_ERR_NULL_ARGUMENT,
            format!("handle `{name}` is NULL"),
        ));
    }
    let id = handle as usize;
    let table = shard(id).read().unwrap_or_else(|p| p.into_inner());
    table
        .get(&id)
        .and_then(|any| Arc::clone(any).downcast::<T>().ok())
        .ok_or_else(|| invalid(name))
}

/// Unregisters `handle`; the object is dropped once no call uses it.
/// NULL is accepted and does nothing.
pub(crate) fn release<T: Send + Sync + 'static>(
    handle: *const T,
    name: &str,
) -> Result<(), mesh_result> {
    if handle.is_null() {
        return Ok(());
    }
    let id = handle as usize;
    let mut table = shard(id).write().unwrap_or_else(|p| p.into_inner());
    match table.get(&id) {
        Some(any) if any.is::<T>() => {
            let obj = table.remove(&id);
            drop(table);
            drop(obj);
            Ok(())
        }
        _ => Err(invalid(name)),
    }
}

fn invalid(name: &str) -> mesh_result {
    fail(
        mesh_result::MESH_ERR_INVALID_HANDLE,
        format!("handle `{name}` is not live: never created, already freed, or of another type"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_free_and_wrong_type_are_detected() {
        let h = register(5u32);
        assert_eq!(get(h, "h").map(|v| *v), Ok(5));
        assert_eq!(
            get(h.cast::<String>(), "h").err(),
            Some(mesh_result::MESH_ERR_INVALID_HANDLE)
        );
        assert_eq!(release(h, "h"), Ok(()));
        assert_eq!(release(h, "h"), Err(mesh_result::MESH_ERR_INVALID_HANDLE));
        assert_eq!(
            get(h, "h").err(),
            Some(mesh_result::MESH_ERR_INVALID_HANDLE)
        );
        let other = register(6u32);
        assert_ne!(other, h, "ids are never reused");
    }
}
