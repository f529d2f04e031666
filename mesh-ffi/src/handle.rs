//! Handles: opaque ids registered in a process-wide table.
//!
//! A handle given to C is never dereferenced by libmesh: it is a key into a
//! table of live objects. Using a freed, never-created or wrongly-typed
//! handle, or freeing one twice, is therefore detected and reported as
//! `MESH_ERR_INVALID_HANDLE` instead of being undefined behaviour. Ids are
//! never reused. A call in progress holds its own reference, so freeing a
//! handle while another thread uses it is safe: the object lives until that
//! call returns.
//!
//! Decisions, created and freed on every hot call, live in a lock-free
//! slot table instead ([`crate::slots`]), with the same guarantees.
//!
//! Long-lived shared handles (`mesh_t`, normalizers, analytics, summaries)
//! are registered with [`register_shared`] and looked up with [`shared`]:
//! each thread keeps the last one it used, so the hot path takes no lock and
//! touches no shared reference count. Freeing a shared handle advances a
//! global epoch that invalidates every thread's entry; a thread drops its
//! stale entry at its next lookup (or when it exits).

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use crate::error::{fail, mesh_result};

type Object = Arc<dyn Any + Send + Sync>;

/// Ids are unique integers: hashing them is one multiplication.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = n as u64;
    }
}

/// One shard of the table, alone on its cache lines.
#[repr(align(128))]
struct Shard(RwLock<HashMap<usize, Object, BuildHasherDefault<IdHasher>>>);

/// Shards of the table, so threads working on different handles rarely
/// touch the same lock.
const SHARDS: usize = 16;
/// Ids advance by this step; the low bits carry flags.
const STEP: usize = 16;
/// Flag bit of ids registered with [`register_shared`].
const SHARED_BIT: usize = 8;
/// Ids a thread reserves at once (fewer trips to the global counter).
const BLOCK: usize = 256 * STEP;

static LIVE: LazyLock<[Shard; SHARDS]> =
    LazyLock::new(|| std::array::from_fn(|_| Shard(RwLock::new(HashMap::default()))));
static NEXT_ID: AtomicUsize = AtomicUsize::new(0x1000);
/// Advanced whenever a shared handle is freed.
static SHARED_EPOCH: AtomicU64 = AtomicU64::new(0);

/// A thread's cached shared handle, with its object's address and type
/// noted so a lookup reads them without a virtual call.
struct CacheEntry {
    id: usize,
    epoch: u64,
    ptr: NonNull<()>,
    type_id: TypeId,
    /// Keeps the object alive while the entry stands.
    _object: Object,
}

thread_local! {
    /// The next id this thread hands out and the end of its block.
    static IDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    static CACHE: RefCell<Option<CacheEntry>> = const { RefCell::new(None) };
    /// Whether a [`Shared`] currently borrows the object of `CACHE`.
    static CACHE_LENT: Cell<bool> = const { Cell::new(false) };
}

fn shard(id: usize) -> &'static Shard {
    let shards: &'static [Shard; SHARDS] = &LIVE;
    // Ids advance by 16, so bits 4.. spread consecutive handles over shards.
    &shards[(id / STEP) % SHARDS]
}

fn next_id() -> usize {
    IDS.with(|ids| {
        let (mut next, mut end) = ids.get();
        if next == end {
            next = NEXT_ID.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        ids.set((next + STEP, end));
        next
    })
}

fn insert(id: usize, object: Object) {
    let mut table = shard(id).0.write().unwrap_or_else(|p| p.into_inner());
    table.insert(id, object);
}

/// Registers a long-lived object that threads look up with [`shared`].
pub(crate) fn register_shared<T: Send + Sync + 'static>(value: T) -> *const T {
    let id = next_id() | SHARED_BIT;
    insert(id, Arc::new(value));
    id as *const T
}

fn lookup<T: Send + Sync + 'static>(id: usize, name: &str) -> Result<Arc<T>, mesh_result> {
    let table = shard(id).0.read().unwrap_or_else(|p| p.into_inner());
    table
        .get(&id)
        .and_then(|any| Arc::clone(any).downcast::<T>().ok())
        .ok_or_else(|| invalid(name))
}

/// `MESH_ERR_NULL_ARGUMENT` for handle argument `name`.
#[cold]
#[inline(never)]
pub(crate) fn null(name: &str) -> mesh_result {
    fail(
        mesh_result::MESH_ERR_NULL_ARGUMENT,
        format!("handle `{name}` is NULL"),
    )
}

/// An object looked up in the table (not lent by the thread's cache): it
/// becomes the thread's cache entry when its [`Shared`] is dropped.
struct Owned<T> {
    object: Arc<T>,
    id: usize,
    epoch: u64,
}

/// A shared handle in use by the calling thread (and only by it: the
/// raw pointer keeps it on this thread). Two words, so it travels in
/// registers: the object's address, and what owns it when the thread's
/// cache does not (boxed: that happens once per thread and handle).
pub(crate) struct Shared<T: Send + Sync + 'static> {
    ptr: NonNull<T>,
    /// `None`: lent by the calling thread's cache entry, which stays in
    /// place (and keeps the object alive) while `CACHE_LENT` is set.
    owned: Option<Box<Owned<T>>>,
}

impl<T: Send + Sync + 'static> Deref for Shared<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: `ptr` is the object of `owned`, or of the cache entry,
        // which is neither replaced nor removed while it is lent
        // (`CACHE_LENT`); this value never leaves the thread.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Send + Sync + 'static> Drop for Shared<T> {
    #[inline(always)]
    fn drop(&mut self) {
        match self.owned.take() {
            None => {
                let _ = CACHE_LENT.try_with(|l| l.set(false));
            }
            Some(owned) => keep_in_cache(*owned),
        }
    }
}

/// Makes an object looked up in the table the calling thread's cache
/// entry, unless the entry is lent.
#[cold]
#[inline(never)]
fn keep_in_cache<T: Send + Sync + 'static>(owned: Owned<T>) {
    let Owned { object, id, epoch } = owned;
    let entry = CacheEntry {
        id,
        epoch,
        ptr: NonNull::from(&*object).cast::<()>(),
        type_id: TypeId::of::<T>(),
        _object: object,
    };
    // While the entry is lent it stays; during thread teardown the
    // cache may be gone: the new entry is then simply dropped.
    if CACHE_LENT.try_with(Cell::get).unwrap_or(true) {
        return;
    }
    let _ = CACHE.try_with(|c| {
        if let Ok(mut slot) = c.try_borrow_mut() {
            let old = slot.replace(entry);
            drop(slot);
            drop(old);
        }
    });
}

/// The live object behind a handle registered with [`register_shared`],
/// lent by the calling thread's cache when it is current (no lock, no
/// shared counter, nothing moved), else from the table.
#[inline(always)]
pub(crate) fn shared<T: Send + Sync + 'static>(
    handle: *const T,
    name: &str,
) -> Result<Shared<T>, mesh_result> {
    let id = handle as usize;
    let epoch = SHARED_EPOCH.load(Ordering::Acquire);
    if !handle.is_null() && !CACHE_LENT.try_with(Cell::get).unwrap_or(true) {
        let cached = CACHE
            .try_with(|c| {
                let slot = c.try_borrow().ok()?;
                let entry = slot.as_ref()?;
                (entry.id == id && entry.epoch == epoch && entry.type_id == TypeId::of::<T>())
                    .then_some(entry.ptr.cast::<T>())
            })
            .ok()
            .flatten();
        if let Some(ptr) = cached {
            let _ = CACHE_LENT.try_with(|l| l.set(true));
            return Ok(Shared { ptr, owned: None });
        }
    }
    shared_slow(handle, name, epoch)
}

/// [`shared`] when the calling thread's cache does not hold `handle` (or
/// is lent, or `handle` is NULL).
#[cold]
#[inline(never)]
fn shared_slow<T: Send + Sync + 'static>(
    handle: *const T,
    name: &str,
    epoch: u64,
) -> Result<Shared<T>, mesh_result> {
    if handle.is_null() {
        return Err(null(name));
    }
    let id = handle as usize;
    if !CACHE_LENT.try_with(Cell::get).unwrap_or(true) {
        let current = CACHE
            .try_with(|c| {
                let slot = c.try_borrow().ok()?;
                let entry = slot.as_ref().filter(|e| e.id == id && e.epoch == epoch)?;
                Some(entry.type_id == TypeId::of::<T>())
            })
            .ok()
            .flatten();
        match current {
            // The thread's current entry, of another type.
            Some(false) => return Err(invalid(name)),
            Some(true) => {}
            None => {
                // A different or stale entry: dropped now (the object is
                // freed if it was released meanwhile); this call's object
                // takes its place when the call ends.
                let old = CACHE
                    .try_with(|c| c.try_borrow_mut().ok().and_then(|mut slot| slot.take()))
                    .ok()
                    .flatten();
                drop(old);
            }
        }
    }
    let object = lookup::<T>(id, name)?;
    Ok(Shared {
        ptr: NonNull::from(&*object),
        owned: Some(Box::new(Owned { object, id, epoch })),
    })
}

fn remove<T: Send + Sync + 'static>(handle: *const T, name: &str) -> Result<Object, mesh_result> {
    let id = handle as usize;
    let mut table = shard(id).0.write().unwrap_or_else(|p| p.into_inner());
    match table.get(&id) {
        Some(any) if any.is::<T>() => table.remove(&id).ok_or_else(|| invalid(name)),
        _ => Err(invalid(name)),
    }
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
    let obj = remove(handle, name)?;
    let id = handle as usize;
    if id & SHARED_BIT != 0 {
        SHARED_EPOCH.fetch_add(1, Ordering::AcqRel);
        let lent = CACHE_LENT.try_with(Cell::get).unwrap_or(true);
        let mine = CACHE
            .try_with(|c| {
                if lent {
                    return None;
                }
                c.try_borrow_mut().ok().and_then(|mut slot| {
                    if slot.as_ref().is_some_and(|e| e.id == id) {
                        slot.take()
                    } else {
                        None
                    }
                })
            })
            .ok()
            .flatten();
        drop(mine);
    }
    drop(obj);
    Ok(())
}

/// `MESH_ERR_INVALID_HANDLE` for handle argument `name`.
#[cold]
#[inline(never)]
pub(crate) fn invalid(name: &str) -> mesh_result {
    fail(
        mesh_result::MESH_ERR_INVALID_HANDLE,
        format!("handle `{name}` is not live: never created, already freed, or of another type"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn double_free_and_wrong_type_are_detected() {
        let h = register_shared(5u32);
        assert_eq!(shared(h, "h").map(|v| *v), Ok(5));
        assert_eq!(
            shared(h.cast::<String>(), "h").err(),
            Some(mesh_result::MESH_ERR_INVALID_HANDLE)
        );
        assert_eq!(release(h, "h"), Ok(()));
        assert_eq!(release(h, "h"), Err(mesh_result::MESH_ERR_INVALID_HANDLE));
        assert_eq!(
            shared(h, "h").err(),
            Some(mesh_result::MESH_ERR_INVALID_HANDLE)
        );
        let other = register_shared(6u32);
        assert_ne!(other, h, "ids are never reused");
        assert_eq!(release(other, "other"), Ok(()));
    }

    #[test]
    fn shared_handles_are_cached_and_invalidated_on_free() {
        let h = register_shared(String::from("a"));
        assert_eq!(shared(h, "h").map(|s| s.clone()).ok().as_deref(), Some("a"));
        // Second lookup is served from the thread's cache.
        assert_eq!(shared(h, "h").map(|s| s.len()).ok(), Some(1));
        assert_eq!(
            shared(h.cast::<u32>(), "h").err(),
            Some(mesh_result::MESH_ERR_INVALID_HANDLE)
        );
        let id = h as usize;
        let t = std::thread::spawn(move || shared(id as *const String, "h").map(|s| s.len()).ok());
        let held = t.join().ok().flatten();
        assert_eq!(held, Some(1));
        assert_eq!(release(h, "h"), Ok(()));
        assert_eq!(
            shared(h, "h").err(),
            Some(mesh_result::MESH_ERR_INVALID_HANDLE)
        );
        assert_eq!(release(h, "h"), Err(mesh_result::MESH_ERR_INVALID_HANDLE));
    }

    #[test]
    fn a_lent_cache_entry_stays_while_other_lookups_run() {
        let a = register_shared(String::from("a"));
        let b = register_shared(String::from("b"));
        drop(shared(a, "a"));
        let first = shared(a, "a").unwrap();
        assert!(first.owned.is_none(), "lent by the cache");
        let second = shared(b, "b").unwrap();
        let third = shared(a, "a").unwrap();
        assert!(third.owned.is_some(), "looked up in the table");
        assert_eq!(
            (first.as_str(), second.as_str(), third.as_str()),
            ("a", "b", "a")
        );
        drop(second);
        drop(third);
        // Freed while lent: the call holding it still reads it.
        assert_eq!(release(a, "a"), Ok(()));
        assert_eq!(first.as_str(), "a");
        drop(first);
        assert_eq!(
            shared(a, "a").err(),
            Some(mesh_result::MESH_ERR_INVALID_HANDLE)
        );
        assert_eq!(shared(b, "b").map(|s| s.len()), Ok(1));
        assert_eq!(release(b, "b"), Ok(()));
    }
}
