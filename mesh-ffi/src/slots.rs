//! Short-lived handles (decisions) in a generation-checked slot table.
//!
//! A handle names a slot and the generation the slot had when the object
//! was stored; the slot's state word holds its current generation, a live
//! bit, a count of calls reading the object, and a few bits of caller data
//! (a decision's effect). Storing, reading and freeing take no lock and
//! allocate nothing once the table has grown to the peak number of live
//! objects: each thread keeps a short list of free slots.
//!
//! A type may ask for its objects to be kept ([`Slotted::KEEP`]): freeing
//! then leaves the object in its slot, marked kept, and the next insert
//! into that slot overwrites it in place (reusing what it allocated)
//! instead of building a new one; it is dropped only if its slot retires.
//!
//! The guarantees of [`crate::handle`] hold: a freed, never-created or
//! wrongly-typed handle, or a second free, is detected (the handle's
//! generation no longer matches, its live bit is clear, or its low bits are
//! not this table's tag) and never dereferenced; a handle is never reused
//! (a slot whose generation would wrap is retired); an object freed while
//! another thread reads it is dropped (or kept) by the last reader; a
//! handle may be freed from any thread.
//!
//! On 64-bit targets a handle holds the generation in bits 32..64, the slot
//! index in bits 4..32 and [`TAG`] in bits 0..4 (registry ids have 0 or 8
//! there, so the two kinds never match each other). On 32-bit targets the
//! index has 16 bits and the generation 12, so a slot retires after 4096
//! uses.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Deref;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::LocalKey;

/// Low bits of every slot handle.
pub(crate) const TAG: usize = 0b0001;
const TAG_BITS: u32 = 4;
#[cfg(target_pointer_width = "64")]
const INDEX_BITS: u32 = 28;
#[cfg(not(target_pointer_width = "64"))]
const INDEX_BITS: u32 = 16;
/// Where the generation starts in a handle.
const HANDLE_GEN_SHIFT: u32 = TAG_BITS + INDEX_BITS;
/// The last generation a slot may have (a handle holds no more bits).
const MAX_GEN: u64 = (1 << (usize::BITS - HANDLE_GEN_SHIFT)) - 1;
/// Most slots a table holds.
const MAX_SLOTS: usize = 1 << INDEX_BITS;
/// Slots in the first segment; segment `k` holds `FIRST << k`.
const FIRST: usize = 64;
const FIRST_LOG: u32 = FIRST.trailing_zeros();
/// Segments needed for `MAX_SLOTS` slots.
const SEGMENTS: usize = (INDEX_BITS - FIRST_LOG) as usize + 1;

/// State word: live bit, caller data, kept bit, reader count, generation.
const LIVE: u64 = 1;
const DATA_SHIFT: u32 = 1;
const DATA_MASK: u64 = 0b111;
/// A free slot still holds its last object ([`Slotted::KEEP`]).
const KEPT: u64 = 1 << 4;
const READER: u64 = 1 << 8;
const READERS: u64 = ((1 << 24) - 1) << 8;
const GEN_SHIFT: u32 = 32;

/// Free slots a thread keeps before returning some to the table.
const LOCAL_FREE: usize = 64;
/// No slot (indices are below [`MAX_SLOTS`]).
const NO_SLOT: usize = usize::MAX;

/// One slot: its state word and storage for one object. Slots start on
/// their own 128-byte boundary (two cache lines, the unit adjacent-line
/// prefetchers fetch), so threads storing and freeing objects in
/// neighbouring slots never write to the same line.
#[repr(align(128))]
struct Slot<T> {
    state: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    /// A slot that never held an object (generation 0, free).
    const fn empty() -> Slot<T> {
        Slot {
            state: AtomicU64::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }
}

/// A type stored in a slot table: names its table and its threads' free lists.
pub(crate) trait Slotted: Send + Sync + Sized + 'static {
    /// The table of this type.
    fn table() -> &'static SlotTable<Self>;
    /// Each thread's free slots of this type's table.
    fn local() -> &'static LocalKey<LocalFree<Self>>;
    /// Whether a freed object stays in its slot, to be overwritten by the
    /// next insert there (see [`SlotTable::insert_with`]), instead of being
    /// dropped.
    const KEEP: bool = false;
}

/// A thread's free slots; returned to the table when the thread exits
/// (the objects kept in them dropped first, so a slot another thread takes
/// from the table holds nothing this thread allocated).
/// One of them is kept apart, in a cell taken first and filled first (a
/// thread that stores and frees one object per call takes and gives back
/// the same slot without touching the list).
pub(crate) struct LocalFree<T: Slotted> {
    /// The free slot kept apart, or [`NO_SLOT`].
    last: Cell<usize>,
    free: RefCell<Vec<usize>>,
    _type: PhantomData<fn() -> T>,
}

impl<T: Slotted> LocalFree<T> {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        LocalFree {
            last: Cell::new(NO_SLOT),
            free: RefCell::new(Vec::new()),
            _type: PhantomData,
        }
    }

    /// Every free slot held, in the order they are taken.
    #[cfg(test)]
    fn held(&self) -> Vec<usize> {
        let last = self.last.get();
        let mut all: Vec<usize> = (last != NO_SLOT).then_some(last).into_iter().collect();
        all.extend(self.free.borrow().iter().rev());
        all
    }
}

impl<T: Slotted> Drop for LocalFree<T> {
    fn drop(&mut self) {
        let mut free = std::mem::take(self.free.get_mut());
        let last = self.last.replace(NO_SLOT);
        if last != NO_SLOT {
            free.push(last);
        }
        let table = T::table();
        if T::KEEP {
            for &index in &free {
                table.drop_kept(index);
            }
        }
        table.give_back(free);
    }
}

/// A table of slots holding objects of type `T`.
pub(crate) struct SlotTable<T> {
    /// Segment 0, held in the table itself: its slots are found without
    /// loading or checking a segment pointer.
    first: [Slot<T>; FIRST],
    /// Segments 1 and up (entry 0 is unused), allocated on first use.
    segments: [AtomicPtr<Slot<T>>; SEGMENTS],
    /// Slots handed out so far (free or not).
    next: AtomicUsize,
    /// Free slots returned by exiting or overfull threads.
    spare: Mutex<Vec<usize>>,
}

// SAFETY: objects are `Send + Sync`; a slot's object is written only by the
// thread that owns the free slot and dropped only by the one thread that
// finalizes it (see `finalize`), both ordered by the state word.
unsafe impl<T: Send + Sync> Sync for SlotTable<T> {}

fn split(index: usize) -> (usize, usize) {
    // The first segment, where a host with few live decisions stays.
    if index < FIRST {
        return (0, index);
    }
    let i = index + FIRST;
    let k = (usize::BITS - 1 - i.leading_zeros() - FIRST_LOG) as usize;
    (k, i - (FIRST << k))
}

fn encode(index: usize, generation: u64) -> usize {
    ((generation as usize) << HANDLE_GEN_SHIFT) | (index << TAG_BITS) | TAG
}

fn decode(handle: usize) -> Option<(usize, u64)> {
    if handle & ((1 << TAG_BITS) - 1) != TAG {
        return None;
    }
    let index = (handle >> TAG_BITS) & (MAX_SLOTS - 1);
    Some((index, (handle >> HANDLE_GEN_SHIFT) as u64))
}

impl<T: Slotted> SlotTable<T> {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        SlotTable {
            first: [const { Slot::empty() }; FIRST],
            segments: [const { AtomicPtr::new(ptr::null_mut()) }; SEGMENTS],
            next: AtomicUsize::new(0),
            spare: Mutex::new(Vec::new()),
        }
    }

    /// The slot at `index`, if its segment exists.
    #[inline(always)]
    fn slot(&self, index: usize) -> Option<&Slot<T>> {
        if let Some(slot) = self.first.get(index) {
            return Some(slot);
        }
        let (k, offset) = split(index);
        let seg = self.segments.get(k)?.load(Ordering::Acquire);
        if seg.is_null() {
            return None;
        }
        // SAFETY: a published segment `k` holds `FIRST << k` slots, lives as
        // long as the table, and `offset < FIRST << k`.
        Some(unsafe { &*seg.add(offset) })
    }

    /// The slot at `index`, allocating its segment if needed.
    #[inline(always)]
    fn grow_to(&self, index: usize) -> Option<&Slot<T>> {
        match self.first.get(index) {
            Some(slot) => Some(slot),
            None => self.grow_segment(index),
        }
    }

    /// [`SlotTable::grow_to`] beyond the first segment.
    #[cold]
    #[inline(never)]
    fn grow_segment(&self, index: usize) -> Option<&Slot<T>> {
        let (k, offset) = split(index);
        let cell = self.segments.get(k)?;
        let mut seg = cell.load(Ordering::Acquire);
        if seg.is_null() {
            let slots: Box<[Slot<T>]> = (0..FIRST << k).map(|_| Slot::empty()).collect();
            let fresh = Box::into_raw(slots).cast::<Slot<T>>();
            seg = match cell.compare_exchange(
                ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => fresh,
                Err(theirs) => {
                    // SAFETY: `fresh` came from `Box::into_raw` just above
                    // and was not published.
                    drop(unsafe {
                        Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, FIRST << k))
                    });
                    theirs
                }
            };
        }
        // SAFETY: a published segment `k` holds `FIRST << k` slots, lives as
        // long as the table, and `offset < FIRST << k`.
        Some(unsafe { &*seg.add(offset) })
    }

    /// A free slot index: the one this thread kept apart, else (out of
    /// line) from its list, the table's spares, or a new slot.
    #[inline(always)]
    fn take_free(&self) -> Option<usize> {
        match T::local().try_with(|l| l.last.replace(NO_SLOT)) {
            Ok(last) if last != NO_SLOT => Some(last),
            _ => self.take_free_slow(),
        }
    }

    /// [`SlotTable::take_free`] when no slot was kept apart.
    #[cold]
    #[inline(never)]
    fn take_free_slow(&self) -> Option<usize> {
        let local = T::local()
            .try_with(|l| l.free.try_borrow_mut().ok().and_then(|mut f| f.pop()))
            .ok()
            .flatten();
        if local.is_some() {
            return local;
        }
        let spare = {
            let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
            let from = spare.len().saturating_sub(LOCAL_FREE / 2);
            spare.split_off(from)
        };
        if let Some((&first, rest)) = spare.split_first() {
            let kept = T::local()
                .try_with(|l| {
                    l.free
                        .try_borrow_mut()
                        .map(|mut f| f.extend_from_slice(rest))
                        .is_ok()
                })
                .unwrap_or(false);
            if !kept {
                self.give_back(rest.to_vec());
            }
            return Some(first);
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        if index >= MAX_SLOTS {
            self.next.store(MAX_SLOTS, Ordering::Relaxed);
            return None;
        }
        Some(index)
    }

    /// Drops the object kept in the free slot `index`, if any; the slot
    /// must be on the calling thread's list (so no other thread uses it).
    fn drop_kept(&self, index: usize) {
        let Some(slot) = self.slot(index) else {
            return;
        };
        let state = slot.state.load(Ordering::Acquire);
        if state & (KEPT | LIVE) == KEPT {
            // SAFETY: a free slot on this thread's list is this thread's
            // alone, and `KEPT` marks an initialized object.
            unsafe { (*slot.value.get()).assume_init_drop() };
            slot.state.store(state & !KEPT, Ordering::Release);
        }
    }

    fn give_back(&self, free: Vec<usize>) {
        if !free.is_empty() {
            let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
            spare.extend(free);
        }
    }

    /// Gives slot `index` back to this thread: kept apart when no slot is,
    /// else (out of line) put on its list.
    #[inline(always)]
    fn put_free(&self, index: usize) {
        let kept = T::local()
            .try_with(|l| {
                let free = l.last.get() == NO_SLOT;
                if free {
                    l.last.set(index);
                }
                free
            })
            .unwrap_or(false);
        if !kept {
            self.put_free_slow(index);
        }
    }

    /// [`SlotTable::put_free`] when a slot is already kept apart.
    #[cold]
    #[inline(never)]
    fn put_free_slow(&self, index: usize) {
        let overflow = T::local()
            .try_with(|l| match l.free.try_borrow_mut() {
                Ok(mut f) => {
                    f.push(index);
                    if f.len() > LOCAL_FREE {
                        let half = f.len() / 2;
                        Some(f.split_off(half))
                    } else {
                        None
                    }
                }
                Err(_) => Some(vec![index]),
            })
            .unwrap_or_else(|_| Some(vec![index]));
        if let Some(extra) = overflow {
            self.give_back(extra);
        }
    }

    /// Stores the object `init` writes into its slot (returning it, which
    /// shows it is initialized), with the data `data` computes from it;
    /// `None` when the table is full (`init` is then not called) or when
    /// `init` returns another place than the slot (the slot then stays
    /// free). Writing in place lets a caller build the object field by
    /// field. `init` is told whether the slot holds a kept object
    /// ([`Slotted::KEEP`]): it may then overwrite that object through
    /// `assume_init_mut`, and must leave a valid object in the slot even if
    /// it unwinds (as any code given a `&mut T` does).
    #[inline(always)]
    pub(crate) fn insert_with(
        &self,
        init: impl FnOnce(&mut MaybeUninit<T>, bool) -> &mut T,
        data: impl FnOnce(&T) -> u8,
    ) -> Option<*const T> {
        let index = self.take_free()?;
        // Gives the index back if `init` unwinds (an object it left half
        // written is never dropped: the slot is not live).
        let reserved = Reserved { table: self, index };
        let slot = self.grow_to(index)?;
        // A free slot has no live bit and no readers: this thread owns it.
        let state = slot.state.load(Ordering::Acquire);
        let generation = state >> GEN_SHIFT;
        // SAFETY: the slot is free and owned by this thread (see above);
        // `KEPT` is set only while it holds an initialized object.
        let value = init(unsafe { &mut *slot.value.get() }, state & KEPT != 0);
        if !ptr::eq(value, slot.value.get().cast::<T>()) {
            // `reserved` gives the slot back.
            return None;
        }
        let data = (u64::from(data(value)) & DATA_MASK) << DATA_SHIFT;
        std::mem::forget(reserved);
        // The kept bit is clear while the slot is live (set again when a
        // kept object is freed).
        slot.state
            .store((generation << GEN_SHIFT) | data | LIVE, Ordering::Release);
        Some(encode(index, generation) as *const T)
    }

    /// The live slot named by `handle` with its current state word.
    fn live(&self, handle: *const T) -> Option<(&Slot<T>, u64)> {
        let (index, generation) = decode(handle as usize)?;
        let slot = self.slot(index)?;
        let state = slot.state.load(Ordering::Acquire);
        (state >> GEN_SHIFT == generation && state & LIVE != 0).then_some((slot, state))
    }

    /// The data stored with the live object behind `handle`.
    pub(crate) fn data(&self, handle: *const T) -> Option<u8> {
        self.live(handle)
            .map(|(_, state)| ((state >> DATA_SHIFT) & DATA_MASK) as u8)
    }

    /// The live object behind `handle`, kept alive while the guard lives.
    pub(crate) fn get(&'static self, handle: *const T) -> Option<SlotRef<T>> {
        let (index, _) = decode(handle as usize)?;
        let (slot, mut state) = self.live(handle)?;
        loop {
            if state & READERS == READERS {
                return None;
            }
            match slot.state.compare_exchange_weak(
                state,
                state + READER,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Some(SlotRef {
                        table: self,
                        slot,
                        index,
                    })
                }
                Err(now) => {
                    if now >> GEN_SHIFT != state >> GEN_SHIFT || now & LIVE == 0 {
                        return None;
                    }
                    state = now;
                }
            }
        }
    }

    /// Frees the object behind `handle` (dropped, or kept for
    /// [`Slotted::KEEP`], now or by the last call still reading it).
    /// `false` when the handle is not live.
    #[inline(always)]
    pub(crate) fn remove(&self, handle: *const T) -> bool {
        let Some((index, _)) = decode(handle as usize) else {
            return false;
        };
        let Some((slot, mut state)) = self.live(handle) else {
            return false;
        };
        loop {
            match slot.state.compare_exchange_weak(
                state,
                state & !LIVE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => {
                    if now >> GEN_SHIFT != state >> GEN_SHIFT || now & LIVE == 0 {
                        return false;
                    }
                    state = now;
                }
            }
        }
        if state & READERS == 0 {
            self.finalize(slot, index, state);
        }
        true
    }

    /// Drops (or, for [`Slotted::KEEP`], keeps) the object of a slot that
    /// is no longer live and has no readers, advances its generation and
    /// frees it (or retires it when the generation would wrap, so no handle
    /// is ever reused; a retired slot's object is always dropped).
    fn finalize(&self, slot: &Slot<T>, index: usize, state: u64) {
        let generation = state >> GEN_SHIFT;
        let keep = T::KEEP && generation < MAX_GEN;
        if !keep {
            // SAFETY: the live bit is clear and no reader remains, so no new
            // reader or free can reach the object: this thread alone drops it.
            unsafe { (*slot.value.get()).assume_init_drop() };
        }
        if generation < MAX_GEN {
            let kept = if keep { KEPT } else { 0 };
            slot.state
                .store(((generation + 1) << GEN_SHIFT) | kept, Ordering::Release);
            self.put_free(index);
        }
    }
}

/// A free slot taken by [`SlotTable::insert_with`], given back unless
/// forgotten once the object is stored.
struct Reserved<'a, T: Slotted> {
    table: &'a SlotTable<T>,
    index: usize,
}

impl<T: Slotted> Drop for Reserved<'_, T> {
    fn drop(&mut self) {
        self.table.put_free(self.index);
    }
}

/// A live object held by a call: freeing its handle meanwhile defers the
/// drop to this guard.
pub(crate) struct SlotRef<T: Slotted> {
    table: &'static SlotTable<T>,
    slot: &'static Slot<T>,
    index: usize,
}

impl<T: Slotted> Deref for SlotRef<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the reader count keeps the object initialized.
        unsafe { (*self.slot.value.get()).assume_init_ref() }
    }
}

impl<T: Slotted> Drop for SlotRef<T> {
    fn drop(&mut self) {
        let before = self.slot.state.fetch_sub(READER, Ordering::AcqRel);
        if before & READERS == READER && before & LIVE == 0 {
            self.table.finalize(self.slot, self.index, before - READER);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    struct Probe(u32);
    impl Drop for Probe {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    static TABLE: SlotTable<Probe> = SlotTable::new();
    thread_local! {
        static FREE: LocalFree<Probe> = const { LocalFree::new() };
    }
    impl Slotted for Probe {
        fn table() -> &'static SlotTable<Self> {
            &TABLE
        }
        fn local() -> &'static LocalKey<LocalFree<Self>> {
            &FREE
        }
    }

    fn insert(v: u32, data: u8) -> *const Probe {
        TABLE
            .insert_with(|s, _| s.write(Probe(v)), |_| data)
            .unwrap()
    }

    #[test]
    fn handles_are_checked_and_never_reused() {
        let a = insert(1, 5);
        assert_eq!(TABLE.data(a), Some(5));
        assert_eq!(TABLE.get(a).map(|p| p.0), Some(1));
        assert!(TABLE.remove(a));
        assert!(!TABLE.remove(a), "second free");
        assert!(TABLE.get(a).is_none());
        assert_eq!(TABLE.data(a), None);
        let b = insert(2, 1);
        assert_ne!(a, b, "the slot comes back with a new generation");
        assert!(TABLE.get(a).is_none());
        assert_eq!(TABLE.get(b).map(|p| p.0), Some(2));
        // Registry ids (low bits 0 or 8), NULL and out-of-range slots.
        for bad in [
            0usize,
            0x1000,
            0x1008,
            (b as usize) ^ 1,
            (MAX_SLOTS - 1) << 4 | 1,
        ] {
            assert!(TABLE.get(bad as *const Probe).is_none());
            assert!(!TABLE.remove(bad as *const Probe));
        }
        assert!(TABLE.remove(b));
    }

    #[test]
    fn a_reader_keeps_a_freed_object_until_it_is_done() {
        let h = insert(7, 0);
        let r = TABLE.get(h).unwrap();
        let drops = DROPS.load(Ordering::SeqCst);
        assert!(TABLE.remove(h));
        assert!(TABLE.get(h).is_none(), "no new reader after free");
        assert!(!TABLE.remove(h), "double free while a reader holds it");
        assert_eq!(r.0, 7);
        drop(r);
        assert!(DROPS.load(Ordering::SeqCst) > drops);
    }

    #[test]
    fn handles_move_between_threads() {
        let hs: Vec<usize> = (0..200).map(|i| insert(i, 2) as usize).collect();
        let freed = std::thread::spawn(move || {
            hs.iter()
                .filter(|h| TABLE.remove(**h as *const Probe))
                .count()
        })
        .join()
        .unwrap();
        assert_eq!(freed, 200);
    }

    #[test]
    fn concurrent_readers_and_frees_drop_each_object_once() {
        let created = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..300u32 {
                        let h = insert(i, 1) as usize;
                        created.fetch_add(1, Ordering::SeqCst);
                        let reader = std::thread::scope(|s2| {
                            let r = s2.spawn(move || TABLE.get(h as *const Probe).map(|p| p.0));
                            assert!(TABLE.remove(h as *const Probe));
                            r.join().unwrap()
                        });
                        assert!(reader.is_none() || reader == Some(i));
                    }
                });
            }
        });
        assert_eq!(created.load(Ordering::SeqCst), 1200);
    }

    #[test]
    fn a_failed_insert_gives_its_slot_back() {
        // Leave a free slot on this thread's list, so inserts take from it.
        let h = insert(3, 0);
        assert!(TABLE.remove(h));
        let before = FREE.with(LocalFree::held);
        assert!(!before.is_empty());
        let r = std::panic::catch_unwind(|| {
            #[allow(clippy::panic)]
            TABLE.insert_with(|_, _| panic!("forced"), |_| 0)
        });
        assert!(r.is_err());
        assert_eq!(FREE.with(LocalFree::held), before);
    }

    #[test]
    fn freed_slots_are_kept_by_the_thread_and_taken_again() {
        // On a fresh thread: its list starts empty (its first insert may
        // fill it with spare slots other tests' threads gave back).
        std::thread::spawn(|| {
            let hs: Vec<*const Probe> = (0..3).map(|i| insert(i, 0)).collect();
            let index = |h: *const Probe| decode(h as usize).unwrap().0;
            let slots: Vec<usize> = hs.iter().map(|h| index(*h)).collect();
            for h in &hs {
                assert!(TABLE.remove(*h));
            }
            let held = FREE.with(LocalFree::held);
            for s in &slots {
                let times = held.iter().filter(|h| *h == s).count();
                assert_eq!(times, 1, "every freed slot is held once");
            }
            let mut first: Vec<usize> = held[..3].to_vec();
            first.sort_unstable();
            let mut sorted = slots.clone();
            sorted.sort_unstable();
            assert_eq!(first, sorted, "the freed slots come first");
            let again: Vec<*const Probe> = (0..3).map(|i| insert(i, 0)).collect();
            let reused: Vec<usize> = again.iter().map(|h| index(*h)).collect();
            assert_eq!(reused, held[..3], "taken in the order held");
            assert_eq!(FREE.with(LocalFree::held), held[3..]);
            for h in again {
                assert!(TABLE.remove(h));
            }
        })
        .join()
        .unwrap();
    }

    /// An object kept in its slot when freed.
    struct Reused(Vec<u32>);
    static KEPT_DROPS: AtomicUsize = AtomicUsize::new(0);
    impl Drop for Reused {
        fn drop(&mut self) {
            KEPT_DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    static REUSED: SlotTable<Reused> = SlotTable::new();
    thread_local! {
        static REUSED_FREE: LocalFree<Reused> = const { LocalFree::new() };
    }
    impl Slotted for Reused {
        fn table() -> &'static SlotTable<Self> {
            &REUSED
        }
        fn local() -> &'static LocalKey<LocalFree<Self>> {
            &REUSED_FREE
        }
        const KEEP: bool = true;
    }

    /// Inserts `v`: a kept object gets `v` pushed onto what it held.
    fn insert_reused(v: u32) -> (*const Reused, bool) {
        let mut was_kept = false;
        let h = REUSED
            .insert_with(
                |slot, kept| {
                    was_kept = kept;
                    if kept {
                        // SAFETY: a kept slot holds an initialized object.
                        let r = unsafe { slot.assume_init_mut() };
                        r.0.push(v);
                        r
                    } else {
                        slot.write(Reused(vec![v]))
                    }
                },
                |_| 1,
            )
            .unwrap();
        (h, was_kept)
    }

    #[test]
    fn kept_objects_are_overwritten_in_place_and_never_read_through_old_handles() {
        let drops = std::thread::spawn(|| {
            let drops = KEPT_DROPS.load(Ordering::SeqCst);
            let (a, kept) = insert_reused(1);
            assert!(!kept, "a new slot holds nothing");
            assert!(REUSED.remove(a));
            assert_eq!(
                KEPT_DROPS.load(Ordering::SeqCst),
                drops,
                "kept, not dropped"
            );
            assert!(REUSED.get(a).is_none());
            assert!(!REUSED.remove(a), "second free");
            let (b, kept) = insert_reused(2);
            assert!(kept, "the freed slot is taken again with its object");
            assert_ne!(a, b);
            assert_eq!(REUSED.get(b).map(|r| r.0.clone()), Some(vec![1, 2]));
            assert!(REUSED.get(a).is_none());
            // Freed while read: the reader still sees it; the slot is kept.
            let r = REUSED.get(b).unwrap();
            assert!(REUSED.remove(b));
            assert_eq!(r.0, [1, 2]);
            drop(r);
            assert_eq!(KEPT_DROPS.load(Ordering::SeqCst), drops);
            let (c, kept) = insert_reused(3);
            assert!(kept);
            // An insert that unwinds leaves the kept object in place.
            assert!(REUSED.remove(c));
            let r = std::panic::catch_unwind(|| {
                #[allow(clippy::panic)]
                REUSED.insert_with(|_, _| panic!("forced"), |_| 0)
            });
            assert!(r.is_err());
            let (d, kept) = insert_reused(4);
            assert!(kept);
            assert_eq!(REUSED.get(d).map(|r| r.0.clone()), Some(vec![1, 2, 3, 4]));
            assert!(REUSED.remove(d));
            assert_eq!(KEPT_DROPS.load(Ordering::SeqCst), drops);
            drops
        })
        .join()
        .unwrap();
        // The thread's free slots went back to the table with their
        // objects dropped.
        assert_eq!(KEPT_DROPS.load(Ordering::SeqCst), drops + 1);
        let spare = REUSED.spare.lock().unwrap().clone();
        assert!(!spare.is_empty());
        for index in spare {
            let state = REUSED.slot(index).unwrap().state.load(Ordering::Acquire);
            assert_eq!(state & (KEPT | LIVE), 0);
        }
    }

    #[test]
    fn index_segments_cover_the_range() {
        assert_eq!(split(0), (0, 0));
        assert_eq!(split(FIRST - 1), (0, FIRST - 1));
        assert_eq!(split(FIRST), (1, 0));
        assert_eq!(split(3 * FIRST - 1), (1, 2 * FIRST - 1));
        assert_eq!(split(MAX_SLOTS - 1).0, SEGMENTS - 1);
        let h = encode(12345, 77);
        assert_eq!(decode(h), Some((12345, 77)));
    }
}
