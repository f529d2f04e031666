//! Compiled, indexed policy sets and the decision procedure.
//!
//! Policies are compiled once: constant sub-expressions are folded (set and
//! record literals, `ip("…")`, `decimal("…")`), annotations are read into
//! obligations and advice, and every policy is filed in a three-level index
//! (action → principal → resource) under the entity (or entity type) its
//! scope names; open scopes go to an "any" slot at their level. A request
//! walks only the slots for its action, principal and resource and their
//! ancestors, so the cost grows with the policies that can apply, not with
//! the size of the set. Each principal and resource map keeps two 64-bit
//! filters, of its keys and of what they name (an entity type, or a type),
//! so that a request key that cannot be in the map (a role's, in a map of
//! groups) is not looked up. Deciding allocates nothing in the usual case.
//!
//! Index keys are 64-bit hashes, so a key found in the index is checked
//! once per decision against the one entity (or type) the scopes filed
//! under it name, its anchor, when a candidate is first found under it
//! (a slot that leads to no candidate costs no entity comparison); a
//! policy reached through checked keys then
//! only needs the kind of its scope matched (`==` through the entity
//! itself, `in` through it or an ancestor, `is` through its type). Keys
//! that different scopes share (a hash collision) are unchecked, and the
//! policies under them have their scopes checked in full. Each candidate
//! is first settled from a small record kept in the index next to it
//! (scope kinds, memo slot of shared conditions) before the policy itself
//! is read.

use std::cell::Cell;
use std::sync::Arc;

use super::ast::{ActionScope, ConditionKind, Effect, EntityScope, Expr, ExprKind, ExtFn, Policy};
use super::decision::{parse_duration, Decision, ErrorMode, Obligation, Outcome, Reason};
use super::diagnostic::DiagnosticKind;
use super::entities::{Entities, Entity, KeyMap};
use super::eval::{eval_bool, Env, EvalError};
use super::ext::{Decimal, IpNet};
use super::parser::parse_policies;
use super::request::Request;
use super::value::{EntityType, EntityUid, Record, Set, Value};
use super::PolicyError;

/// An index entry: what is filed under one key, and the anchor (in
/// [`PolicySet::anchors`]) of that key.
#[derive(Debug, Clone)]
struct Slot<V> {
    anchor: u32,
    node: V,
}

/// The slots of one level, by key.
type Slots<V> = KeyMap<u64, Slot<V>>;

/// A policy filed in the index, with what a decision reads of it first.
#[derive(Clone, Copy, Debug)]
struct Cand {
    idx: u32,
    hot: Hot,
}

/// The resource level of the index, with leaves of type `L`: the
/// candidates filed under each resource key, and under none.
#[derive(Default, Debug, Clone)]
struct RNode<L> {
    by_key: Slots<L>,
    any: L,
    /// [`bloom_bit`] of every key of `by_key`, so that a request none of
    /// whose resource keys can be there skips the map, and a key that
    /// cannot be there is not looked up.
    bloom: u64,
    /// [`scope_kind_bit`] of every scope filed in `by_key` (all bits when
    /// a key of `by_key` is shared by different scopes).
    kinds: u64,
}

/// A key's bit in a 64-bit filter of a set of keys.
fn bloom_bit(k: u64) -> u64 {
    1 << (k >> 58)
}

/// The filter bit of a type key (an `is T` scope's), in a filter of what
/// an index map's keys name ([`scope_kind_bit`]).
const TYPE_KEY_BIT: u64 = 1;

/// What the key a scope is filed under names, as a filter bit: the
/// [`bloom_bit`] of the entity's type, or [`TYPE_KEY_BIT`] for a type. A
/// request key of another kind (a role's key, in a map of groups) cannot
/// reach any slot of the map, and is not looked up in it.
fn scope_kind_bit(s: &EntityScope) -> u64 {
    match s {
        EntityScope::Any => 0,
        EntityScope::Eq(e) | EntityScope::In(e) | EntityScope::IsIn(_, e) => {
            bloom_bit(e.entity_type().key())
        }
        EntityScope::Is(_) => TYPE_KEY_BIT,
    }
}

/// The principal level of the index.
#[derive(Default, Debug, Clone)]
struct PNode<L> {
    by_key: Slots<RNode<L>>,
    any: RNode<L>,
    /// [`scope_kind_bit`] of every scope filed in `by_key` (all bits when
    /// a key of `by_key` is shared by different scopes).
    kinds: u64,
}

/// The action level of the index: built with a list per leaf, then frozen
/// into [`Run`]s of one array.
#[derive(Default, Debug, Clone)]
struct Tree<L> {
    by_action: Slots<PNode<L>>,
    any: PNode<L>,
}

/// The candidates of one leaf: a run of [`Index::cands`]. Small, so that
/// the index's hash tables stay small and mostly in cache.
#[derive(Default, Debug, Clone, Copy)]
struct Run {
    start: u32,
    len: u32,
}

/// A three-level index of policies (action → principal → resource), its
/// leaves runs of one array of candidates.
#[derive(Default, Debug, Clone)]
struct Index {
    tree: Tree<Run>,
    cands: Vec<Cand>,
}

/// The slot of `map` for key `k`, created empty with `k`'s anchor.
fn slot<'m, V: Default>(map: &'m mut Slots<V>, k: u64, ids: &KeyMap<u64, u32>) -> &'m mut V {
    &mut map
        .entry(k)
        .or_insert_with(|| Slot {
            anchor: ids.get(&k).copied().unwrap_or(u32::MAX),
            node: V::default(),
        })
        .node
}

fn scope_key(s: &EntityScope) -> Option<u64> {
    match s {
        EntityScope::Any => None,
        EntityScope::Eq(e) | EntityScope::In(e) | EntityScope::IsIn(_, e) => Some(e.key()),
        EntityScope::Is(t) => Some(t.key()),
    }
}

/// How a request entity reached an index slot: as the entity itself, as
/// its type, as one of its ancestors, or unchecked (the key is shared by
/// different scope entities or types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Uid,
    Type,
    Ancestor,
    Unchecked,
}

/// What the scopes filed under one index key name: one entity, one type,
/// or (when 64-bit keys collide) several.
#[derive(Clone, Debug)]
enum Anchor {
    Uid(EntityUid),
    Type(EntityType),
    Mixed,
}

impl Anchor {
    fn of_entity(e: &EntityUid) -> Self {
        Anchor::Uid(e.clone())
    }

    /// Records that `other` is also filed under this anchor's key.
    fn merge(&mut self, other: Anchor) {
        let same = match (&*self, &other) {
            (Anchor::Uid(a), Anchor::Uid(b)) => a == b,
            (Anchor::Type(a), Anchor::Type(b)) => a == b,
            _ => false,
        };
        if !same {
            *self = Anchor::Mixed;
        }
    }
}

/// Most keys of one request side whose check against the anchors is
/// remembered during a decision; keys beyond are checked at each use.
const MAX_KEYS: usize = 32;

/// What is known of one request key during a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Unknown,
    No,
    Yes(Via),
}

/// The index keys of one request side: the entity (index 0), its type (1)
/// and its ancestors (2…). A key that reaches an index slot is checked,
/// once per decision, against the anchor of that key: the scope entity or
/// type must be exactly this one (64-bit keys can collide).
struct Keys<'a> {
    uid: &'a EntityUid,
    ancestors: &'a [EntityUid],
    anchors: &'a [Anchor],
    seen: [Cell<Seen>; MAX_KEYS],
    /// [`bloom_bit`] of every key (all bits set until computed).
    bloom: u64,
}

impl<'a> Keys<'a> {
    fn new(anchors: &'a [Anchor], uid: &'a EntityUid, entity: Option<&'a Entity>) -> Self {
        Keys {
            uid,
            ancestors: entity.map_or(&[][..], Entity::ancestors),
            anchors,
            seen: [const { Cell::new(Seen::Unknown) }; MAX_KEYS],
            bloom: u64::MAX,
        }
    }

    /// The same keys with their filter ([`Keys::bloom`]) computed: for
    /// the resource side, whose filter is tested at every resource map.
    fn with_bloom(mut self) -> Self {
        self.bloom = self.ancestors.iter().fold(
            bloom_bit(self.uid.key()) | bloom_bit(self.uid.entity_type().key()),
            |b, a| b | bloom_bit(a.key()),
        );
        self
    }

    fn len(&self) -> usize {
        2 + self.ancestors.len()
    }

    fn key_at(&self, i: usize) -> Option<u64> {
        match i {
            0 => Some(self.uid.key()),
            1 => Some(self.uid.entity_type().key()),
            _ => self.ancestors.get(i - 2).map(EntityUid::key),
        }
    }

    /// What key `i` names, as a [`scope_kind_bit`].
    fn kind_bit_at(&self, i: usize) -> u64 {
        match i {
            0 => bloom_bit(self.uid.entity_type().key()),
            1 => TYPE_KEY_BIT,
            _ => self
                .ancestors
                .get(i - 2)
                .map_or(u64::MAX, |a| bloom_bit(a.entity_type().key())),
        }
    }

    /// How key `i`, found in an index slot with `anchor`, reaches it
    /// (`None`: it does not).
    fn reach(&self, i: usize, anchor: u32) -> Option<Via> {
        let Some(cell) = self.seen.get(i) else {
            return self.check(i, anchor);
        };
        match cell.get() {
            Seen::No => None,
            Seen::Yes(via) => Some(via),
            Seen::Unknown => {
                let r = self.check(i, anchor);
                cell.set(r.map_or(Seen::No, Seen::Yes));
                r
            }
        }
    }

    /// Checks key `i` against `anchor`, the anchor of its key.
    fn check(&self, i: usize, anchor: u32) -> Option<Via> {
        let k = self.key_at(i)?;
        match self.anchors.get(anchor as usize).unwrap_or(&Anchor::Mixed) {
            // Visit a shared key once, by its first holder; every scope
            // found under it is checked in full.
            Anchor::Mixed => (!(0..i).any(|j| self.key_at(j) == Some(k))).then_some(Via::Unchecked),
            Anchor::Uid(e) => match i {
                0 => (e == self.uid).then_some(Via::Uid),
                1 => None,
                // An ancestor that is the entity itself (a cycle) was
                // already reached as the entity.
                _ => self
                    .ancestors
                    .get(i - 2)
                    .is_some_and(|a| a == e && a != self.uid)
                    .then_some(Via::Ancestor),
            },
            Anchor::Type(t) => (i == 1 && t == self.uid.entity_type()).then_some(Via::Type),
        }
    }

    /// Calls `f` with the value of every key of `map` that is one of these
    /// keys, and a [`Reach`] that tells (checked when first asked) how the
    /// key reaches it: probes the map for each key whose [`bloom_bit`] is
    /// in `filter` and whose [`Keys::kind_bit_at`] is in `kinds` (the
    /// map's filters, or all bits), or, for a map smaller than the key
    /// list, scans the map.
    fn matches<'m, 's, V>(
        &'s self,
        map: &'m Slots<V>,
        [filter, kinds]: [u64; 2],
        mut f: impl FnMut(&'m V, Reach<'s, 'a>),
    ) {
        if map.is_empty() {
            return;
        }
        let n = self.len();
        if map.len() < n {
            for (k, v) in map {
                for i in 0..n {
                    if self.key_at(i) == Some(*k) {
                        f(
                            &v.node,
                            Reach {
                                keys: self,
                                i,
                                anchor: v.anchor,
                            },
                        );
                    }
                }
            }
        } else {
            for i in 0..n {
                let Some(k) = self.key_at(i) else { continue };
                if bloom_bit(k) & filter == 0 || self.kind_bit_at(i) & kinds == 0 {
                    continue;
                }
                if let Some(v) = map.get(&k) {
                    f(
                        &v.node,
                        Reach {
                            keys: self,
                            i,
                            anchor: v.anchor,
                        },
                    );
                }
            }
        }
    }
}

/// A request key found in an index slot, not yet checked against the
/// slot's anchor: the check (remembered for the decision) is made only
/// once a candidate is found under the slot, so slots that lead nowhere
/// cost no entity comparison.
#[derive(Clone, Copy)]
struct Reach<'s, 'a> {
    keys: &'s Keys<'a>,
    i: usize,
    anchor: u32,
}

impl Reach<'_, '_> {
    /// How the key reaches its slot (`None`: it does not).
    #[inline]
    fn via(self) -> Option<Via> {
        self.keys.reach(self.i, self.anchor)
    }
}

/// How each level above a leaf was reached, not yet checked: `None`
/// through the level's open-scope slot.
#[inline]
fn resolve(levels: [Option<Reach<'_, '_>>; 2]) -> Option<[Option<Via>; 2]> {
    let [a, p] = levels;
    let va = match a {
        None => None,
        Some(r) => Some(r.via()?),
    };
    let vp = match p {
        None => None,
        Some(r) => Some(r.via()?),
    };
    Some([va, vp])
}

/// How a candidate policy was reached at each level (action, principal,
/// resource), as one bit per level in the level's nibble: bit 0 through the
/// level's open-scope slot, 1 as the entity, 2 as its type, 3 as an
/// ancestor; 0 when a level was reached through an unchecked key. A scope
/// holds when its [`Hot::accept`] has every bit of the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Path(u16);

impl Path {
    /// The path of the three levels' ways (`None`: the open-scope slot).
    fn new(levels: [Option<Via>; 3]) -> Self {
        let mut bits = 0u16;
        for (n, v) in levels.into_iter().enumerate() {
            let b = match v {
                None => 0,
                Some(Via::Uid) => 1,
                Some(Via::Type) => 2,
                Some(Via::Ancestor) => 3,
                Some(Via::Unchecked) => return Path(0),
            };
            bits |= 1 << (4 * n + b);
        }
        Path(bits)
    }
}

impl Tree<Vec<Cand>> {
    fn insert(&mut self, p: &Policy, cand: Cand, ids: &KeyMap<u64, u32>) {
        let akeys: Vec<Option<u64>> = match &p.action {
            ActionScope::Any => vec![None],
            ActionScope::Eq(a) => vec![Some(a.key())],
            ActionScope::In { actions, .. } => {
                let mut ks: Vec<Option<u64>> = actions.iter().map(|a| Some(a.key())).collect();
                ks.sort_unstable();
                ks.dedup();
                ks
            }
        };
        for ak in akeys {
            let pnode = match ak {
                None => &mut self.any,
                Some(k) => slot(&mut self.by_action, k, ids),
            };
            let rnode = match scope_key(&p.principal) {
                None => &mut pnode.any,
                Some(k) => {
                    pnode.kinds |= scope_kind_bit(&p.principal);
                    slot(&mut pnode.by_key, k, ids)
                }
            };
            let list = match scope_key(&p.resource) {
                None => &mut rnode.any,
                Some(k) => {
                    rnode.bloom |= bloom_bit(k);
                    rnode.kinds |= scope_kind_bit(&p.resource);
                    slot(&mut rnode.by_key, k, ids)
                }
            };
            list.push(cand);
        }
    }

    /// The index with every leaf's candidates moved into one array, those
    /// of one resource map next to each other; a map with a key shared
    /// by different scopes (per `anchors`) gets a kind filter of all bits.
    /// `None` past 2^32 entries.
    fn freeze(self, anchors: &[Anchor]) -> Option<Index> {
        fn run(cands: &mut Vec<Cand>, list: Vec<Cand>) -> Option<Run> {
            let start = u32::try_from(cands.len()).ok()?;
            let len = u32::try_from(list.len()).ok()?;
            cands.extend(list);
            u32::try_from(cands.len()).ok()?;
            Some(Run { start, len })
        }
        /// `map` with every slot's node converted by `f`.
        fn slots<A, B>(map: Slots<A>, mut f: impl FnMut(A) -> Option<B>) -> Option<Slots<B>> {
            let mut out = Slots::default();
            out.reserve(map.len());
            for (k, s) in map {
                let node = f(s.node)?;
                out.insert(
                    k,
                    Slot {
                        anchor: s.anchor,
                        node,
                    },
                );
            }
            Some(out)
        }
        /// `kinds`, or all bits if a key of `map` is shared.
        fn kinds<V>(map: &Slots<V>, kinds: u64, anchors: &[Anchor]) -> u64 {
            let shared = map.values().any(|s| {
                !matches!(
                    anchors.get(s.anchor as usize),
                    Some(Anchor::Uid(_) | Anchor::Type(_))
                )
            });
            if shared {
                u64::MAX
            } else {
                kinds
            }
        }
        fn rnode(cands: &mut Vec<Cand>, r: RNode<Vec<Cand>>, a: &[Anchor]) -> Option<RNode<Run>> {
            Some(RNode {
                kinds: kinds(&r.by_key, r.kinds, a),
                by_key: slots(r.by_key, |list| run(cands, list))?,
                any: run(cands, r.any)?,
                bloom: r.bloom,
            })
        }
        fn pnode(cands: &mut Vec<Cand>, p: PNode<Vec<Cand>>, a: &[Anchor]) -> Option<PNode<Run>> {
            Some(PNode {
                kinds: kinds(&p.by_key, p.kinds, a),
                by_key: slots(p.by_key, |r| rnode(cands, r, a))?,
                any: rnode(cands, p.any, a)?,
            })
        }
        let mut cands = Vec::new();
        let by_action = slots(self.by_action, |p| pnode(&mut cands, p, anchors))?;
        let any = pnode(&mut cands, self.any, anchors)?;
        cands.shrink_to_fit();
        Some(Index {
            tree: Tree { by_action, any },
            cands,
        })
    }
}

impl Index {
    /// The candidates of a leaf.
    fn run(&self, r: Run) -> &[Cand] {
        let start = r.start as usize;
        self.cands
            .get(start..start.saturating_add(r.len as usize))
            .unwrap_or(&[])
    }

    fn visit(
        &self,
        action: &Keys<'_>,
        principal: &Keys<'_>,
        resource: &Keys<'_>,
        f: &mut impl FnMut(u32, &Hot, Path),
    ) {
        let on_p =
            |pnode: &PNode<Run>, la: Option<Reach<'_, '_>>, f: &mut dyn FnMut(u32, &Hot, Path)| {
                let on_r = |rnode: &RNode<Run>,
                            lp: Option<Reach<'_, '_>>,
                            f: &mut dyn FnMut(u32, &Hot, Path)| {
                    let any = self.run(rnode.any);
                    if !any.is_empty() {
                        let Some([va, vp]) = resolve([la, lp]) else {
                            return;
                        };
                        let path = Path::new([va, vp, None]);
                        for c in any {
                            f(c.idx, &c.hot, path);
                        }
                    }
                    if rnode.bloom & resource.bloom == 0 {
                        return;
                    }
                    resource.matches(&rnode.by_key, [rnode.bloom, rnode.kinds], |&list, lr| {
                        let (Some(vr), Some([va, vp])) = (lr.via(), resolve([la, lp])) else {
                            return;
                        };
                        let path = Path::new([va, vp, Some(vr)]);
                        for c in self.run(list) {
                            f(c.idx, &c.hot, path);
                        }
                    });
                };
                on_r(&pnode.any, None, f);
                principal.matches(&pnode.by_key, [u64::MAX, pnode.kinds], |r, lp| {
                    on_r(r, Some(lp), f)
                });
            };
        on_p(&self.tree.any, None, f);
        action.matches(&self.tree.by_action, [u64::MAX; 2], |p, la| {
            on_p(p, Some(la), f)
        });
    }
}

/// Per-policy data read from annotations at compile time.
#[derive(Clone, Debug, Default)]
struct Meta {
    obligation: Option<Obligation>,
    advice: Option<Arc<str>>,
    /// Filed under several action keys: may be visited more than once.
    multi: bool,
    /// Slot in the per-decision memo shared by every policy whose
    /// conditions are textually identical (`None`: not shared, or too many).
    memo: Option<u8>,
}

/// What a scope constrains, without the entity (which the index key
/// stands for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Any,
    Eq,
    In,
    Is,
    IsIn,
}

impl Kind {
    fn of(s: &EntityScope) -> Self {
        match s {
            EntityScope::Any => Kind::Any,
            EntityScope::Eq(_) => Kind::Eq,
            EntityScope::In(_) => Kind::In,
            EntityScope::Is(_) => Kind::Is,
            EntityScope::IsIn(..) => Kind::IsIn,
        }
    }

    fn of_action(s: &ActionScope) -> Self {
        match s {
            ActionScope::Any => Kind::Any,
            ActionScope::Eq(_) => Kind::Eq,
            ActionScope::In { .. } => Kind::In,
        }
    }

    /// The ways (as [`Path`] bits of one level) an entity can reach its
    /// index slot for a scope of this kind to hold: any for an open scope,
    /// as the entity for `==`, as it or an ancestor for `in`, as its type
    /// for `is`.
    fn accepts(self) -> u16 {
        match self {
            Kind::Any => 0b1111,
            Kind::Eq => 0b0010,
            Kind::In | Kind::IsIn => 0b1010,
            Kind::Is => 0b0100,
        }
    }
}

/// What a decision reads of every candidate policy, kept in the index next
/// to the policy's number, so that a candidate settled by its scope and the
/// memo reads neither the policy nor its annotations.
#[derive(Clone, Copy, Debug)]
struct Hot {
    /// The [`Path`] bits under which the scope holds (up to the type of an
    /// `is T in E` scope): [`Kind::accepts`] of each level in its nibble.
    accept: u16,
    /// Whether the principal and the resource scope are `is T in E`.
    is_in: [bool; 2],
    /// See [`Meta::multi`].
    multi: bool,
    /// See [`Meta::memo`].
    memo: Option<u8>,
    /// Whether [`Meta::obligation`] is set.
    obligation: bool,
    /// For `is T in E` principal and resource scopes: T's index in
    /// [`PolicySet::scope_types`].
    types: [u16; 2],
}

impl Hot {
    fn new(p: &Policy, m: &Meta, types: &mut KeyMap<EntityType, u16>) -> Self {
        let mut type_of = |s: &EntityScope| {
            let EntityScope::IsIn(t, _) = s else {
                return u16::MAX;
            };
            if let Some(&i) = types.get(t) {
                return i;
            }
            // Past the table (65,535 types): `u16::MAX`, checked in full.
            match u16::try_from(types.len()) {
                Ok(i) if i < u16::MAX => {
                    types.insert(t.clone(), i);
                    i
                }
                _ => u16::MAX,
            }
        };
        let (principal, resource) = (Kind::of(&p.principal), Kind::of(&p.resource));
        Hot {
            accept: Kind::of_action(&p.action).accepts()
                | principal.accepts() << 4
                | resource.accepts() << 8,
            is_in: [principal == Kind::IsIn, resource == Kind::IsIn],
            multi: m.multi,
            memo: m.memo,
            obligation: m.obligation.is_some(),
            types: [type_of(&p.principal), type_of(&p.resource)],
        }
    }

    /// Whether the policy's scope holds, given how the index reached it: a
    /// checked key already proved the entity comparison the scope makes, so
    /// only the kind of match is left (and the type, for `is T in E`); an
    /// unchecked key (`None` here) needs the full check.
    #[inline]
    fn reached(&self, types: &[EntityType], env: &Env<'_>, path: Path) -> Option<bool> {
        if path.0 == 0 {
            return None;
        }
        if self.accept & path.0 != path.0 {
            return Some(false);
        }
        if self.is_in == [false, false] {
            return Some(true);
        }
        let typed = |i: u16, v: &Value| {
            let t = types.get(usize::from(i))?;
            Some(matches!(v, Value::Entity(u) if u.entity_type() == t))
        };
        let [tp, tr] = self.types;
        let [ip, ir] = self.is_in;
        Some((!ip || typed(tp, env.principal)?) && (!ir || typed(tr, env.resource)?))
    }
}

/// Records in `anchors` the entities and types `p`'s scopes are filed
/// under, with `ids` the anchor of each key so far.
fn add_anchors(anchors: &mut Vec<Anchor>, ids: &mut KeyMap<u64, u32>, p: &Policy) {
    let mut add = |key: u64, anchor: Anchor| match ids.get(&key) {
        Some(&id) => {
            if let Some(a) = anchors.get_mut(id as usize) {
                a.merge(anchor);
            }
        }
        None => {
            let id = u32::try_from(anchors.len()).unwrap_or(u32::MAX);
            ids.insert(key, id);
            anchors.push(anchor);
        }
    };
    for s in [&p.principal, &p.resource] {
        match s {
            EntityScope::Any => {}
            EntityScope::Eq(e) | EntityScope::In(e) | EntityScope::IsIn(_, e) => {
                add(e.key(), Anchor::of_entity(e));
            }
            EntityScope::Is(t) => add(t.key(), Anchor::Type(t.clone())),
        }
    }
    match &p.action {
        ActionScope::Any => {}
        ActionScope::Eq(a) => add(a.key(), Anchor::of_entity(a)),
        ActionScope::In { actions, .. } => {
            for a in actions {
                add(a.key(), Anchor::of_entity(a));
            }
        }
    }
}

/// Size of the per-decision memo of shared conditions.
const MEMO_SLOTS: usize = 128;

/// Per-decision memo of shared conditions: 0 unknown, 1 false, 2 true.
/// Only error-free results are memoized (an error is re-evaluated in each
/// policy, so that it points into that policy's own text).
struct Memo([u8; MEMO_SLOTS]);

impl Memo {
    /// Whether `p`'s conditions hold. A shared condition is evaluated on
    /// the copy in the first policy of its slot (`first`, into `policies`;
    /// the same text),
    /// so that every decision reads the one copy, which stays in cache,
    /// instead of each policy's own; only an error is evaluated again on
    /// `p`'s own copy, to point into its text.
    fn eval<'p>(
        &mut self,
        p: &'p Policy,
        memo: Option<u8>,
        policies: &'p [Policy],
        first: &[u32],
        env: &Env<'_>,
    ) -> Result<bool, EvalError<'p>> {
        let Some(i) = memo else {
            return conditions_hold(p, env);
        };
        let Some(slot) = self.0.get_mut(usize::from(i)) else {
            return conditions_hold(p, env);
        };
        match *slot {
            1 => Ok(false),
            2 => Ok(true),
            _ => {
                let shared = first
                    .get(usize::from(i))
                    .and_then(|&j| policies.get(j as usize))
                    .unwrap_or(p);
                match conditions_hold(shared, env) {
                    Ok(b) => {
                        *slot = if b { 2 } else { 1 };
                        Ok(b)
                    }
                    Err(e) => Err(moved(e, shared, p)),
                }
            }
        }
    }
}

/// Error `e` of `from`'s conditions, placed in `to`'s text instead (the
/// two have the same condition clauses, maybe at other offsets).
fn moved<'p>(e: EvalError<'p>, from: &Policy, to: &Policy) -> EvalError<'p> {
    let span = e.span();
    let shift = from
        .conditions
        .iter()
        .zip(&to.conditions)
        .find(|(f, _)| f.span.start <= span.start && span.end <= f.span.end)
        .map(|(f, t)| i64::from(t.span.start) - i64::from(f.span.start));
    let at = |x: u32| u32::try_from(i64::from(x) + shift.unwrap_or(0)).unwrap_or(x);
    e.with_span(|s| super::diagnostic::Span {
        start: at(s.start),
        end: at(s.end),
    })
}

/// Assigns memo slots to conditions shared by several policies, most
/// frequent first.
/// Returns the first policy of each slot, by slot.
fn assign_memo_slots(policies: &[Policy], meta: &mut [Meta]) -> Vec<u32> {
    let mut groups: std::collections::HashMap<String, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, p) in policies.iter().enumerate() {
        if p.conditions.is_empty() {
            continue;
        }
        // The key is the clauses' source text; a policy whose `source` does
        // not hold its spans' text is never shared.
        let mut key = String::new();
        let mut ok = true;
        for c in &p.conditions {
            let t = p.text(c.span);
            ok &= !t.is_empty() && t.len() == c.span.end.saturating_sub(c.span.start) as usize;
            key.push_str(t);
            key.push('\0');
        }
        if ok {
            groups.entry(key).or_default().push(i);
        }
    }
    let mut shared: Vec<Vec<usize>> = groups.into_values().filter(|g| g.len() > 1).collect();
    shared.sort_by(|a, b| {
        b.len()
            .cmp(&a.len())
            .then_with(|| a.first().cmp(&b.first()))
    });
    let mut first = Vec::new();
    for (slot, group) in shared.into_iter().take(MEMO_SLOTS).enumerate() {
        let slot = u8::try_from(slot).ok();
        first.push(group.first().map_or(u32::MAX, |&i| i as u32));
        for i in group {
            if let Some(m) = meta.get_mut(i) {
                m.memo = slot;
            }
        }
    }
    first
}

/// A compiled, indexed set of policies.
#[derive(Clone, Debug)]
pub struct PolicySet {
    policies: Vec<Policy>,
    meta: Vec<Meta>,
    forbids: Index,
    permits: Index,
    /// What the scopes filed under each index key name, so that a request
    /// checks each of its entities once instead of once per policy.
    anchors: Vec<Anchor>,
    /// The first policy of each memo slot, whose copy of the shared
    /// condition every decision evaluates.
    memo_first: Vec<u32>,
    /// The types of the `is T in E` scopes.
    scope_types: Vec<EntityType>,
    mode: ErrorMode,
    determining: Determining,
}

/// How many permits an `Allow` lists as determining.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Determining {
    /// Every applicable permit, as Cedar reports them (the default).
    #[default]
    All,
    /// The first applicable permit found, in index order (not necessarily
    /// the first in the file): permits are no longer evaluated once one
    /// allows, so errors of the others go unreported. Forbids are always
    /// all evaluated. Faster when many permits apply to a request.
    First,
}

impl Default for PolicySet {
    fn default() -> Self {
        PolicySet {
            policies: Vec::new(),
            meta: Vec::new(),
            forbids: Index::default(),
            permits: Index::default(),
            anchors: Vec::new(),
            memo_first: Vec::new(),
            scope_types: Vec::new(),
            mode: ErrorMode::FailClosed,
            determining: Determining::All,
        }
    }
}

/// Most policies accepted in one set.
pub const MAX_POLICIES: usize = 1_000_000;

impl PolicySet {
    /// Parses and compiles a policy file (`file` names it in diagnostics).
    pub fn parse(src: &str, file: &str) -> Result<Self, PolicyError> {
        Self::from_policies(parse_policies(src, file)?)
    }

    /// Compiles parsed policies (from one or several files). Rejects
    /// duplicate ids, invalid extension literals and invalid obligation
    /// annotations.
    pub fn from_policies(policies: Vec<Policy>) -> Result<Self, PolicyError> {
        if policies.len() > MAX_POLICIES {
            let first = policies.first().map(|p| {
                p.diagnostic(
                    DiagnosticKind::Limit,
                    format!(
                        "{} policies, more than the limit of {MAX_POLICIES}",
                        policies.len()
                    ),
                    super::diagnostic::Span::default(),
                )
            });
            return Err(PolicyError::Source(Box::new(first.unwrap_or_else(|| {
                super::diagnostic::Diagnostic::new(
                    DiagnosticKind::Limit,
                    "too many policies",
                    "",
                    "",
                    Default::default(),
                )
            }))));
        }
        let mut seen: KeyMap<u64, Vec<u32>> = KeyMap::default();
        // The anchor (in `set.anchors`) of each index key.
        let mut anchor_ids: KeyMap<u64, u32> = KeyMap::default();
        let mut set = PolicySet::default();
        set.policies.reserve(policies.len());
        for (i, mut p) in policies.into_iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            let h = super::value::fixed_hash(&[p.id.as_str()]);
            let same = seen.entry(h).or_default();
            if same
                .iter()
                .any(|&j| set.policies.get(j as usize).is_some_and(|q| q.id == p.id))
            {
                return Err(PolicyError::Source(Box::new(p.diagnostic(
                    DiagnosticKind::Invalid,
                    format!("duplicate policy id `{}`", p.id),
                    super::diagnostic::Span {
                        start: p.offset,
                        end: p.offset + 1,
                    },
                ))));
            }
            same.push(idx);
            let mut conditions = std::mem::take(&mut p.conditions);
            for c in &mut conditions {
                fold(&mut c.expr, &p)?;
            }
            p.conditions = conditions;
            let meta = read_meta(&p)?;
            set.meta.push(meta);
            set.policies.push(p);
        }
        set.memo_first = assign_memo_slots(&set.policies, &mut set.meta);
        let mut types = KeyMap::default();
        let mut anchors = Vec::new();
        let mut forbids = Tree::default();
        let mut permits = Tree::default();
        for (i, (p, m)) in set.policies.iter().zip(&set.meta).enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            let cand = Cand {
                idx,
                hot: Hot::new(p, m, &mut types),
            };
            add_anchors(&mut anchors, &mut anchor_ids, p);
            match p.effect {
                Effect::Forbid => forbids.insert(p, cand, &anchor_ids),
                Effect::Permit => permits.insert(p, cand, &anchor_ids),
            }
        }
        let (Some(forbids), Some(permits)) = (forbids.freeze(&anchors), permits.freeze(&anchors))
        else {
            return Err(PolicyError::Source(Box::new(
                super::diagnostic::Diagnostic::new(
                    DiagnosticKind::Limit,
                    "more than 2^32 index entries (policies times the actions each lists)",
                    "",
                    "",
                    Default::default(),
                ),
            )));
        };
        (set.anchors, set.forbids, set.permits) = (anchors, forbids, permits);
        let mut types: Vec<(EntityType, u16)> = types.into_iter().collect();
        types.sort_unstable_by_key(|(_, i)| *i);
        set.scope_types = types.into_iter().map(|(t, _)| t).collect();
        Ok(set)
    }

    /// The same set with another [`ErrorMode`].
    pub fn with_error_mode(mut self, mode: ErrorMode) -> Self {
        self.mode = mode;
        self
    }

    /// The same set listing determining permits as `determining` says.
    pub fn with_determining(mut self, determining: Determining) -> Self {
        self.determining = determining;
        self
    }

    /// The error mode in force.
    pub fn error_mode(&self) -> ErrorMode {
        self.mode
    }

    /// The policies (compiled: constant sub-expressions folded), in order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The policy with this id.
    pub fn get(&self, id: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.id.as_str() == id)
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether the set has no policies (and so denies everything).
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The obligation declared on the policy with this id, if any.
    pub fn obligation(&self, id: &str) -> Option<&Obligation> {
        let i = self.policies.iter().position(|p| p.id.as_str() == id)?;
        self.meta.get(i)?.obligation.as_ref()
    }

    pub(crate) fn policy_at(&self, i: u32) -> Option<&Policy> {
        self.policies.get(i as usize)
    }

    pub(crate) fn advice_at(&self, i: u32) -> Option<&str> {
        self.meta.get(i as usize)?.advice.as_deref()
    }

    /// Decides `request` against `entities`. Never fails: evaluation errors
    /// are reported in the decision. See [`PolicySet::decide_into`].
    pub fn decide<'p>(&'p self, request: &Request, entities: &Entities) -> Decision<'p> {
        let mut d = Decision::new(self);
        self.decide_into(request, entities, &mut d);
        d
    }

    /// Decides into an existing [`Decision`] (reusing its storage).
    ///
    /// Semantics: a `forbid` whose scope and conditions hold denies; under
    /// [`ErrorMode::FailClosed`] (the default) so does a `forbid` whose
    /// condition fails to evaluate. Otherwise, a `permit` whose scope and
    /// conditions hold allows, unless it carries an obligation the request's
    /// authentication context does not meet, which yields `Challenge` (if no
    /// other permit allows outright). A `permit` whose condition errors does
    /// not apply. No applicable permit: deny. When a forbid decides, permits
    /// are not evaluated.
    pub fn decide_into<'p>(
        &'p self,
        request: &Request,
        entities: &Entities,
        out: &mut Decision<'p>,
    ) {
        out.set = self;
        out.reset();
        let env = make_env(request, entities);
        let keys = self.request_keys(request, &env);
        let (ak, pk, rk) = (&keys.0, &keys.1, &keys.2);
        let mut memo = Memo([0; MEMO_SLOTS]);

        // Forbids.
        let mut matched = false;
        let mut errored = false;
        self.forbids.visit(ak, pk, rk, &mut |i, h, path| {
            let Some(p) = self.policies.get(i as usize) else {
                return;
            };
            if h.multi && out.determining.as_slice().contains(&i) {
                return;
            }
            if !h
                .reached(&self.scope_types, &env, path)
                .unwrap_or_else(|| scope_matches(p, &env))
            {
                return;
            }
            match memo.eval(p, h.memo, &self.policies, &self.memo_first, &env) {
                Ok(true) => {
                    matched = true;
                    out.determining.push(i);
                }
                Ok(false) => {}
                Err(e) => {
                    if !(h.multi && out.errors.as_slice().iter().any(|(j, _)| *j == i)) {
                        out.errors.push((i, e));
                    }
                    if self.mode == ErrorMode::FailClosed {
                        errored = true;
                        out.determining.push(i);
                    }
                }
            }
        });
        if matched || errored {
            out.outcome = Outcome::Deny;
            out.reason = if matched {
                Reason::ForbidMatched
            } else {
                Reason::ForbidErrored
            };
            out.determining.as_mut_slice().sort_unstable();
            out.errors.as_mut_slice().sort_unstable_by_key(|(i, _)| *i);
            return;
        }

        // Permits: allowed ones go to `determining`, obligation-pending ones
        // are remembered by the lowest index and counted.
        let mut pending_first: Option<u32> = None;
        let mut pending_count = 0u32;
        let first_only = self.determining == Determining::First;
        let mut done = false;
        self.permits.visit(ak, pk, rk, &mut |i, h, path| {
            if done {
                return;
            }
            let Some(p) = self.policies.get(i as usize) else {
                return;
            };
            if h.multi && out.determining.as_slice().contains(&i) {
                return;
            }
            if !h
                .reached(&self.scope_types, &env, path)
                .unwrap_or_else(|| scope_matches(p, &env))
            {
                return;
            }
            match memo.eval(p, h.memo, &self.policies, &self.memo_first, &env) {
                Ok(true) => match self
                    .meta
                    .get(i as usize)
                    .filter(|_| h.obligation)
                    .and_then(|m| m.obligation.as_ref())
                {
                    Some(o) if !obligation_met(o, request) => {
                        if pending_first.is_some_and(|f| f == i) {
                            return;
                        }
                        pending_count += 1;
                        pending_first = Some(pending_first.map_or(i, |f| f.min(i)));
                    }
                    _ => {
                        out.determining.push(i);
                        done = first_only;
                    }
                },
                Ok(false) => {}
                Err(e) => {
                    if !(h.multi && out.errors.as_slice().iter().any(|(j, _)| *j == i)) {
                        out.errors.push((i, e));
                    }
                }
            }
        });
        out.errors.as_mut_slice().sort_unstable_by_key(|(i, _)| *i);
        if !out.determining.as_slice().is_empty() {
            out.outcome = Outcome::Allow;
            out.reason = Reason::Permitted;
            out.determining.as_mut_slice().sort_unstable();
            return;
        }
        if let Some(first) = pending_first {
            if let Some(o) = self
                .meta
                .get(first as usize)
                .and_then(|m| m.obligation.as_ref())
            {
                out.outcome = Outcome::Challenge { obligation: o };
                out.reason = Reason::ObligationUnmet;
                // Second pass (rare): list every permit needing an obligation.
                if pending_count > 1 {
                    self.collect_pending(request, &env, &keys, out);
                } else {
                    out.determining.push(first);
                }
                return;
            }
        }
        out.outcome = Outcome::Deny;
        out.reason = Reason::NoPermit;
    }

    fn collect_pending<'p>(
        &'p self,
        request: &Request,
        env: &Env<'_>,
        (ak, pk, rk): &(Keys<'_>, Keys<'_>, Keys<'_>),
        out: &mut Decision<'p>,
    ) {
        self.permits.visit(ak, pk, rk, &mut |i, h, path| {
            let (Some(p), Some(m)) = (self.policies.get(i as usize), self.meta.get(i as usize))
            else {
                return;
            };
            let Some(o) = &m.obligation else { return };
            if out.determining.as_slice().contains(&i) || !self.in_scope(h, p, env, path) {
                return;
            }
            if conditions_hold(p, env) == Ok(true) && !obligation_met(o, request) {
                out.determining.push(i);
            }
        });
        out.determining.as_mut_slice().sort_unstable();
    }
}

pub(crate) fn make_env<'r>(request: &'r Request, entities: &'r Entities) -> Env<'r> {
    let carried = |uid: &EntityUid| {
        request
            .principal_entity
            .as_deref()
            .filter(|e| e.uid() == uid)
    };
    let principal_entity = request
        .principal_entity
        .as_deref()
        .or_else(|| entities.get(request.principal()));
    Env {
        principal: &request.principal,
        action: &request.action,
        resource: &request.resource,
        context: &request.context,
        entities,
        principal_entity,
        // An entity the request carries stands for its uid everywhere,
        // also when the resource or action names the principal.
        resource_entity: carried(request.resource()).or_else(|| entities.get(request.resource())),
        action_entity: carried(request.action()).or_else(|| entities.get(request.action())),
    }
}

impl PolicySet {
    /// The index keys of the request's action, principal and resource.
    fn request_keys<'a>(
        &'a self,
        request: &'a Request,
        env: &Env<'a>,
    ) -> (Keys<'a>, Keys<'a>, Keys<'a>) {
        (
            Keys::new(&self.anchors, request.action(), env.action_entity),
            Keys::new(&self.anchors, request.principal(), env.principal_entity),
            Keys::new(&self.anchors, request.resource(), env.resource_entity).with_bloom(),
        )
    }
}

impl PolicySet {
    /// Whether policy `p` (with record `h`)'s scope holds for a request
    /// that reached it by `path`.
    fn in_scope(&self, h: &Hot, p: &Policy, env: &Env<'_>, path: Path) -> bool {
        h.reached(&self.scope_types, env, path)
            .unwrap_or_else(|| scope_matches(p, env))
    }
}

fn entity_scope_ok(s: &EntityScope, v: &Value, env: &Env<'_>) -> bool {
    let Value::Entity(uid) = v else { return false };
    match s {
        EntityScope::Any => true,
        EntityScope::Eq(e) => uid == e,
        EntityScope::In(e) => env.entity_in(uid, e),
        EntityScope::Is(t) => uid.entity_type() == t,
        EntityScope::IsIn(t, e) => uid.entity_type() == t && env.entity_in(uid, e),
    }
}

pub(crate) fn action_scope_ok(s: &ActionScope, v: &Value, env: &Env<'_>) -> bool {
    let Value::Entity(uid) = v else { return false };
    match s {
        ActionScope::Any => true,
        ActionScope::Eq(a) => uid == a,
        ActionScope::In { actions, .. } => actions.iter().any(|a| env.entity_in(uid, a)),
    }
}

pub(crate) fn principal_scope_ok(p: &Policy, env: &Env<'_>) -> bool {
    entity_scope_ok(&p.principal, env.principal, env)
}

pub(crate) fn resource_scope_ok(p: &Policy, env: &Env<'_>) -> bool {
    entity_scope_ok(&p.resource, env.resource, env)
}

fn scope_matches(p: &Policy, env: &Env<'_>) -> bool {
    principal_scope_ok(p, env)
        && action_scope_ok(&p.action, env.action, env)
        && resource_scope_ok(p, env)
}

/// Whether all `when` clauses are true and all `unless` clauses false.
pub(crate) fn conditions_hold<'p>(p: &'p Policy, env: &Env<'_>) -> Result<bool, EvalError<'p>> {
    for c in &p.conditions {
        let op = match c.kind {
            ConditionKind::When => "when",
            ConditionKind::Unless => "unless",
        };
        let v = eval_bool(&c.expr, env, op)?;
        if v != (c.kind == ConditionKind::When) {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(crate) fn obligation_met(o: &Obligation, request: &Request) -> bool {
    let Some(auth) = request.auth() else {
        return false;
    };
    if o.method && !auth.has_method(&o.name) {
        return false;
    }
    if let Some(max) = o.max_age {
        match auth.auth_time {
            None => return false,
            Some(t) => {
                if request.now().duration_since(t) > max {
                    return false;
                }
            }
        }
    }
    true
}

fn read_meta(p: &Policy) -> Result<Meta, PolicyError> {
    let here = super::diagnostic::Span {
        start: p.offset,
        end: p.offset + 1,
    };
    let invalid = |msg: String, help: &str| {
        PolicyError::Source(Box::new(
            p.diagnostic(DiagnosticKind::Invalid, msg, here)
                .with_help(help),
        ))
    };
    let name = p.annotation("obligation");
    let age = p.annotation("max_auth_age");
    let mut meta = Meta {
        advice: p.annotation("advice").map(Arc::from),
        multi: matches!(&p.action, ActionScope::In { actions, .. } if actions.len() > 1),
        obligation: None,
        memo: None,
    };
    if name.is_none() && age.is_none() {
        return Ok(meta);
    }
    if p.effect == Effect::Forbid {
        return Err(invalid(
            format!(
                "policy `{}`: obligations apply to `permit` policies only",
                p.id
            ),
            "to deny without a step-up, write the condition in `when`/`unless`",
        ));
    }
    let max_age = match age {
        None => None,
        Some(a) => Some(parse_duration(a).ok_or_else(|| {
            invalid(
                format!("policy `{}`: invalid `@max_auth_age` value `{a}`", p.id),
                "write a duration such as `15m`, `1h30m`, `30s` or `1d`",
            )
        })?),
    };
    let obligation = match name {
        Some(n) => {
            let ok = !n.is_empty()
                && n.len() <= 64
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
            if !ok {
                return Err(invalid(
                    format!("policy `{}`: invalid `@obligation` value `{n}`", p.id),
                    "name an authentication method such as `mfa`, `hwk` or `otp`",
                ));
            }
            Obligation {
                name: Arc::from(n),
                method: true,
                max_age,
            }
        }
        None => Obligation {
            name: Arc::from("reauthenticate"),
            method: false,
            max_age,
        },
    };
    meta.obligation = Some(obligation);
    Ok(meta)
}

/// Folds constant sub-expressions in place.
fn fold(e: &mut Expr, p: &Policy) -> Result<(), PolicyError> {
    match &mut e.kind {
        ExprKind::Lit(_) | ExprKind::Var(_) => {}
        ExprKind::Not(x) | ExprKind::Neg(x) => fold(x, p)?,
        ExprKind::Has(x, _) | ExprKind::Attr(x, _) | ExprKind::Like(x, _) => fold(x, p)?,
        ExprKind::Binary(_, l, r) => {
            fold(l, p)?;
            fold(r, p)?;
        }
        ExprKind::If(c, a, b) => {
            fold(c, p)?;
            fold(a, p)?;
            fold(b, p)?;
        }
        ExprKind::Is(x, _, w) => {
            fold(x, p)?;
            if let Some(w) = w {
                fold(w, p)?;
            }
        }
        ExprKind::Method(x, _, args) => {
            fold(x, p)?;
            for a in args {
                fold(a, p)?;
            }
        }
        ExprKind::Call(f, args) => {
            for a in args.iter_mut() {
                fold(a, p)?;
            }
            if let [Expr {
                kind: ExprKind::Lit(Value::String(s)),
                ..
            }] = args.as_slice()
            {
                let v = match f {
                    ExtFn::Ip => IpNet::parse(s).map(Value::Ip),
                    ExtFn::Decimal => Decimal::parse(s).map(Value::Decimal),
                };
                match v {
                    Some(v) => e.kind = ExprKind::Lit(v),
                    None => {
                        return Err(PolicyError::Source(Box::new(
                            p.diagnostic(
                                DiagnosticKind::Invalid,
                                format!("`{s}` is not a valid argument to `{}`", f.name()),
                                e.span,
                            )
                            .with_help(match f {
                                ExtFn::Ip => {
                                    "write an IPv4 or IPv6 address, optionally with `/prefix`"
                                }
                                ExtFn::Decimal => {
                                    "write digits, a point and 1 to 4 decimal digits, e.g. `1.25`"
                                }
                            }),
                        )))
                    }
                }
            }
        }
        ExprKind::Set(items) => {
            for it in items.iter_mut() {
                fold(it, p)?;
            }
            if items.iter().all(|i| matches!(i.kind, ExprKind::Lit(_))) {
                let vals = items
                    .iter()
                    .filter_map(|i| match &i.kind {
                        ExprKind::Lit(v) => Some(v.clone()),
                        _ => None,
                    })
                    .collect();
                e.kind = ExprKind::Lit(Value::Set(Set::new(vals)));
            }
        }
        ExprKind::Record(fields) => {
            for (_, it) in fields.iter_mut() {
                fold(it, p)?;
            }
            if fields
                .iter()
                .all(|(_, i)| matches!(i.kind, ExprKind::Lit(_)))
            {
                let vals = fields
                    .iter()
                    .filter_map(|(k, i)| match &i.kind {
                        ExprKind::Lit(v) => Some((k.clone(), v.clone())),
                        _ => None,
                    })
                    .collect();
                if let Ok(r) = Record::new(vals) {
                    e.kind = ExprKind::Lit(Value::Record(r));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
impl PolicySet {
    /// Marks every index key as shared by several scopes (as on a 64-bit
    /// key collision), so that every scope is checked in full, and has
    /// every map take every key, as a map with a shared key does.
    pub(crate) fn uncheck_anchors(&mut self) {
        for a in &mut self.anchors {
            *a = Anchor::Mixed;
        }
        for index in [&mut self.forbids, &mut self.permits] {
            let Tree { by_action, any } = &mut index.tree;
            for pnode in by_action.values_mut().map(|s| &mut s.node).chain([any]) {
                pnode.kinds = u64::MAX;
                let PNode { by_key, any, .. } = pnode;
                for rnode in by_key.values_mut().map(|s| &mut s.node).chain([any]) {
                    rnode.kinds = u64::MAX;
                }
            }
        }
    }

    /// (visited candidates, in scope) for one request, over both indexes.
    pub(crate) fn count_candidates(
        &self,
        request: &Request,
        entities: &Entities,
    ) -> (usize, usize) {
        let env = make_env(request, entities);
        let (ak, pk, rk) = self.request_keys(request, &env);
        let (mut visited, mut in_scope) = (0, 0);
        for idx in [&self.forbids, &self.permits] {
            idx.visit(&ak, &pk, &rk, &mut |i, h, path| {
                visited += 1;
                let p = self.policies.get(i as usize);
                let full = p.is_some_and(|p| scope_matches(p, &env));
                assert_eq!(p.is_some_and(|p| self.in_scope(h, p, &env, path)), full);
                if full {
                    in_scope += 1;
                }
            });
        }
        (visited, in_scope)
    }
}
