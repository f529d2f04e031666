//! `mesh_t`: the embedded decision point, and `mesh_decision`: one decision.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::mem::MaybeUninit;
use std::sync::OnceLock;
use std::thread::LocalKey;

use mesh_core::policy::{EntityUid, Record, Value};
use mesh_core::{AccessDecision, AccessOutcome, Credential, Mesh};
use serde_json::Value as Json;

use crate::error::{fail, mesh_result};
use crate::guard::{
    bytes_arg, cstr_bytes, guard, ms, str_arg, utf8_arg, Out, MAX_CSTR, PANIC_MESSAGE,
};
use crate::handle;
use crate::slots::{LocalFree, SlotRef, SlotTable, Slotted};
use crate::strings::write_string;

/// Largest credential accepted, in bytes (larger ones are rejected before
/// any decoding).
const MAX_CREDENTIAL: usize = 64 << 10;
/// Largest entity reference (`Type::"id"`) accepted, in bytes.
const MAX_UID: usize = 4096;
/// Largest bundle accepted, in bytes (64 MiB).
const MAX_BUNDLE: usize = 64 << 20;

/// An embedded decision point built from a configuration: trusted issuers,
/// API keys, policies, entities, bundle trust keys.
///
/// Thread safety: a `mesh_t` may be shared by any number of threads; every
/// function taking `const mesh_t *` may be called concurrently. Decisions
/// never block on a bundle activation or a revocation update.
pub struct mesh_t {
    pub(crate) inner: Mesh,
}

/// The effect of a decision.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mesh_effect {
    /// Access is denied (also the answer for an invalid decision handle).
    MESH_EFFECT_DENY = 0,
    /// Access is allowed.
    MESH_EFFECT_ALLOW = 1,
    /// Access will be allowed once the obligation is met (e.g. step-up MFA).
    MESH_EFFECT_CHALLENGE = 2,
}

/// One decision, owned by the caller and freed with `mesh_decision_free`.
///
/// Thread safety: a decision is immutable; it may be read from any thread.
/// Strings it returns stay valid until it is freed.
pub struct mesh_decision {
    pub(crate) inner: AccessDecision,
    /// The strings handed to C, made together on the first request for
    /// any of them (one flag to set up and to check when the decision is
    /// freed, instead of one per string).
    texts: OnceLock<Texts>,
}

/// A decision's strings as C strings.
struct Texts {
    obligation: Option<CString>,
    policies: Vec<CString>,
    reason: CString,
}

impl mesh_decision {
    fn texts(&self) -> &Texts {
        self.texts.get_or_init(|| Texts {
            obligation: match self.inner.outcome() {
                AccessOutcome::Challenge { obligation, .. } => {
                    CString::new(obligation.as_str()).ok()
                }
                _ => None,
            },
            policies: self
                .inner
                .policies()
                .iter()
                .filter_map(|p| CString::new(p.to_string()).ok())
                .collect(),
            reason: CString::new(self.inner.reason()).unwrap_or_default(),
        })
    }
}

/// Parsed entity references kept per thread (action and resource strings
/// repeat from call to call).
const UID_CACHE: usize = 16;

/// Parsed request contexts kept per thread (hosts often pass the same
/// context text again), and the longest context text kept.
const CONTEXT_CACHE: usize = 8;
const MAX_CACHED_CONTEXT: usize = 4096;

thread_local! {
    static CONTEXTS: RefCell<Vec<(Box<str>, Record)>> = const { RefCell::new(Vec::new()) };
    static FREE_DECISIONS: LocalFree<mesh_decision> = const { LocalFree::new() };
    static UIDS: RefCell<Vec<(Box<str>, EntityUid)>> = const { RefCell::new(Vec::new()) };
}

/// Live decisions: created and freed on every hot call, so they live in a
/// lock-free slot table rather than the handle registry.
static DECISIONS: SlotTable<mesh_decision> = SlotTable::new();

impl Slotted for mesh_decision {
    fn table() -> &'static SlotTable<Self> {
        &DECISIONS
    }
    fn local() -> &'static LocalKey<LocalFree<Self>> {
        &FREE_DECISIONS
    }
    /// A freed decision stays in its slot: the next decision made into that
    /// slot overwrites it (`Mesh::authorize_into`), reusing its lists.
    const KEEP: bool = true;
}

#[inline(always)]
fn effect_of(d: &AccessDecision) -> mesh_effect {
    match d.outcome() {
        AccessOutcome::Allow => mesh_effect::MESH_EFFECT_ALLOW,
        AccessOutcome::Deny => mesh_effect::MESH_EFFECT_DENY,
        AccessOutcome::Challenge { .. } => mesh_effect::MESH_EFFECT_CHALLENGE,
    }
}

/// The live decision behind `d`, held for the duration of the call.
pub(crate) fn decision_arg(
    d: *const mesh_decision,
    name: &str,
) -> Result<SlotRef<mesh_decision>, mesh_result> {
    if d.is_null() {
        return Err(handle::null(name));
    }
    DECISIONS.get(d).ok_or_else(|| handle::invalid(name))
}

fn config_error(e: impl std::fmt::Display) -> mesh_result {
    fail(mesh_result::MESH_ERR_CONFIG, e.to_string())
}

fn identity_error(e: impl std::fmt::Display) -> mesh_result {
    fail(mesh_result::MESH_ERR_IDENTITY, e.to_string())
}

/// `MESH_ERR_INVALID_JSON` for a JSON argument `name`, with line and column.
pub(crate) fn json_error(name: &str, e: &serde_json::Error) -> mesh_result {
    fail(
        mesh_result::MESH_ERR_INVALID_JSON,
        format!("argument `{name}` at {}:{}: {e}", e.line(), e.column()),
    )
}

/// The live `mesh_t` behind `mesh`.
pub(crate) fn mesh_arg(mesh: *const mesh_t) -> Result<handle::Shared<mesh_t>, mesh_result> {
    handle::shared(mesh, "mesh")
}

/// Per byte value: bit 0 when a bare bearer token may start with it (an
/// ASCII letter or digit other than `B`, `b` and `m`), bit 1 when it may
/// end with it (an ASCII letter or digit).
const TOKEN_EDGES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < t.len() {
        let b = i as u8;
        if b.is_ascii_alphanumeric() {
            t[i] = if matches!(b, b'B' | b'b' | b'm') {
                2
            } else {
                3
            };
        }
        i += 1;
    }
    t
};

/// `Credential::detect` without its scans in the common case: a text that
/// starts with an ASCII letter or digit other than `B`, `b` and `m` and ends
/// with one has no surrounding space, no `Bearer ` and no `mesh_` prefix,
/// so it is a bearer token as it stands (two table look-ups).
#[inline(always)]
fn detect(text: &str) -> Credential<'_> {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(&first), Some(&last))
            if TOKEN_EDGES[usize::from(first)] & (TOKEN_EDGES[usize::from(last)] >> 1) & 1 != 0 =>
        {
            Credential::Bearer(text)
        }
        _ => Credential::detect(text),
    }
}

fn parse_uid(text: &str, name: &str) -> Result<EntityUid, mesh_result> {
    EntityUid::parse(text).map_err(|e| {
        fail(
            mesh_result::MESH_ERR_POLICY,
            format!("argument `{name}`: {e}"),
        )
    })
}

/// `parse_uid` through the calling thread's cache of recent references.
fn cached_uid(text: &str, name: &str) -> Result<EntityUid, mesh_result> {
    let hit = UIDS
        .try_with(|c| {
            c.try_borrow()
                .ok()
                .and_then(|c| find_uid(&c, text.as_bytes()).cloned())
        })
        .ok()
        .flatten();
    if let Some(uid) = hit {
        return Ok(uid);
    }
    let uid = parse_uid(text, name)?;
    let _ = UIDS.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if c.len() >= UID_CACHE {
                c.remove(0);
            }
            c.push((text.into(), uid.clone()));
        }
    });
    Ok(uid)
}

/// The reference cached for `bytes`, if any. A cached key is text that was
/// checked as UTF-8 and parsed when it was cached, so the same bytes need
/// neither check again.
#[inline(always)]
fn find_uid<'c>(cache: &'c [(Box<str>, EntityUid)], bytes: &[u8]) -> Option<&'c EntityUid> {
    cache
        .iter()
        .find(|(k, _)| same_bytes(k.as_bytes(), bytes))
        .map(|(_, uid)| uid)
}

/// Whether `a` and `b` hold the same bytes, compared in line eight bytes
/// at a time, the last eight first (entity references are short and
/// differ mostly at their end: a call to `memcmp` would cost more than
/// the comparison).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let last = |s: &[u8]| {
        s.get(n.wrapping_sub(8)..)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_ne_bytes)
    };
    match (last(a), last(b)) {
        (Some(x), Some(y)) => {
            // The words before the last one (the last one covers the
            // bytes a partial chunk would hold).
            let (wa, _) = a.as_chunks::<8>();
            let (wb, _) = b.as_chunks::<8>();
            x == y
                && wa
                    .iter()
                    .zip(wb)
                    .all(|(p, q)| u64::from_ne_bytes(*p) == u64::from_ne_bytes(*q))
        }
        _ => a.iter().zip(b).all(|(p, q)| p == q),
    }
}

/// Runs `f` on the parsed `action` and `resource` arguments. When both
/// are in the calling thread's cache of recent references they are lent
/// from it (no clone, no UTF-8 check: the bytes are compared with the
/// cached texts); otherwise they are checked, parsed and cached. Errors
/// come in argument order either way: `action` (text, then reference),
/// then `resource`, then whatever `f` reports.
///
/// # Safety
/// `action` and `resource` as for [`str_arg`].
#[inline(always)]
unsafe fn with_uids<R>(
    action: *const c_char,
    resource: *const c_char,
    f: impl FnOnce(&EntityUid, &EntityUid) -> Result<R, mesh_result>,
) -> Result<R, mesh_result> {
    // SAFETY (all): forwarded from the caller's contract.
    let action_bytes = unsafe { cstr_bytes(action, "action", MAX_UID) }?;
    let mut f = Some(f);
    let lent = UIDS
        .try_with(|c| {
            let c = c.try_borrow().ok()?;
            let a = find_uid(&c, action_bytes)?;
            // `action` is valid: the next error is `resource`'s.
            let resource_bytes = match unsafe { cstr_bytes(resource, "resource", MAX_UID) } {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            let r = find_uid(&c, resource_bytes)?;
            f.take().map(|f| f(a, r))
        })
        .ok()
        .flatten();
    if let Some(done) = lent {
        return done;
    }
    let action = cached_uid(utf8_arg(action_bytes, "action")?, "action")?;
    let resource = cached_uid(
        unsafe { str_arg(resource, "resource", MAX_UID) }?,
        "resource",
    )?;
    match f {
        Some(f) => f(&action, &resource),
        // `f` is taken only when it ran, and then the call returned above.
        None => Err(fail(mesh_result::MESH_ERR_PANIC, PANIC_MESSAGE)),
    }
}

/// A context record from JSON; `label` names it in errors and
/// `not_object` is the message when it is not an object.
fn context_record(json: &Json, label: &str, not_object: &str) -> Result<Record, mesh_result> {
    match Value::from_json(json) {
        Ok(Value::Record(r)) => Ok(r),
        Ok(_) => Err(fail(mesh_result::MESH_ERR_INVALID_JSON, not_object)),
        Err(e) => Err(fail(mesh_result::MESH_ERR_POLICY, format!("{label}: {e}"))),
    }
}

fn parse_context(text: Option<&str>) -> Result<Record, mesh_result> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Record::default());
    };
    let cacheable = text.len() <= MAX_CACHED_CONTEXT;
    if cacheable {
        let hit = CONTEXTS
            .try_with(|c| {
                c.try_borrow()
                    .ok()
                    .and_then(|c| c.iter().find(|(k, _)| &**k == text).map(|(_, r)| r.clone()))
            })
            .ok()
            .flatten();
        if let Some(r) = hit {
            return Ok(r);
        }
    }
    let record = match Record::from_json_str_fast(text) {
        Some(r) => r,
        None => {
            let json: Json =
                serde_json::from_str(text).map_err(|e| json_error("context_json", &e))?;
            context_record(
                &json,
                "argument `context_json`",
                "argument `context_json` must be a JSON object",
            )?
        }
    };
    if cacheable {
        let _ = CONTEXTS.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                if c.len() >= CONTEXT_CACHE {
                    c.remove(0);
                }
                c.push((text.into(), record.clone()));
            }
        });
    }
    Ok(record)
}

/// Writes the decision `decide` makes into `slot`, field by field: the
/// decision is moved once, into its place (not into a whole
/// `mesh_decision` built aside and then moved into the slot).
#[cold]
#[inline(never)]
fn write_decision(
    slot: &mut MaybeUninit<mesh_decision>,
    decide: impl FnOnce() -> AccessDecision,
) -> &mut mesh_decision {
    let p = slot.as_mut_ptr();
    // SAFETY: `p` points to writable memory for one `mesh_decision`; each
    // field is written exactly once, so the whole value is initialized
    // before it is referenced.
    unsafe {
        std::ptr::addr_of_mut!((*p).inner).write(decide());
        std::ptr::addr_of_mut!((*p).texts).write(OnceLock::new());
        slot.assume_init_mut()
    }
}

/// Drops the C strings made for a decision (kept out of line: most
/// decisions are read through their effect alone).
#[cold]
#[inline(never)]
fn clear_texts(texts: &mut OnceLock<Texts>) {
    drop(texts.take());
}

/// Registers a decision made in its slot (its effect readable without
/// taking a reference): `decide_into` overwrites the decision a freed
/// handle left there (nothing moved, its lists reused); a slot that never
/// held one gets the decision `decide` makes.
#[inline(always)]
fn register_decision(
    decide: impl FnOnce() -> AccessDecision,
    decide_into: impl FnOnce(&mut AccessDecision),
) -> Result<*const mesh_decision, mesh_result> {
    DECISIONS
        .insert_with(
            #[inline(always)]
            |slot, kept| {
                if kept {
                    // SAFETY: a kept slot holds an initialized decision
                    // (see `SlotTable::insert_with`).
                    let d = unsafe { slot.assume_init_mut() };
                    // The strings made for the previous decision go.
                    if d.texts.get().is_some() {
                        clear_texts(&mut d.texts);
                    }
                    decide_into(&mut d.inner);
                    d
                } else {
                    write_decision(slot, decide)
                }
            },
            |d| effect_of(&d.inner) as u8,
        )
        .ok_or_else(|| {
            fail(
                mesh_result::MESH_ERR_INVALID_ARGUMENT,
                "too many live decisions: free them with `mesh_decision_free`",
            )
        })
}

/// Builds a decision point from a configuration document (TOML, or JSON
/// when it starts with `{`). On success `*out_mesh` receives a handle to
/// free with `mesh_free`. Errors name the offending field.
///
/// # Safety
/// `config` must be NULL or NUL-terminated; `out_mesh` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_new(
    config: *const c_char,
    out_mesh: *mut *const mesh_t,
) -> mesh_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let text = unsafe { str_arg(config, "config", MAX_CSTR) }?;
        let out = Out::required(out_mesh, "out_mesh")?;
        let inner = if text.trim_start().starts_with('{') {
            Mesh::from_json(text)
        } else {
            Mesh::from_toml(text)
        }
        .map_err(config_error)?;
        // SAFETY: checked non-NULL above.
        unsafe { out.write(handle::register_shared(mesh_t { inner })) };
        Ok(())
    })
}

/// Frees a decision point. NULL is accepted. Freeing a handle twice, or a
/// handle that is not a `mesh_t`, returns `MESH_ERR_INVALID_HANDLE`. Calls
/// already running on other threads finish normally. Each thread keeps the
/// last shared handle it used for fast lookups: another thread's reference
/// is dropped at that thread's next libmesh call on a shared handle, or
/// when it exits.
#[no_mangle]
pub extern "C" fn mesh_free(mesh: *const mesh_t) -> mesh_result {
    guard(|| handle::release(mesh, "mesh"))
}

/// The active policy revision (0 when policies come from the configuration).
///
/// # Safety
/// `out_revision` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_revision(mesh: *const mesh_t, out_revision: *mut u64) -> mesh_result {
    guard(|| {
        let m = mesh_arg(mesh)?;
        let out = Out::required(out_revision, "out_revision")?;
        // SAFETY: checked non-NULL above.
        unsafe { out.write(m.inner.revision()) };
        Ok(())
    })
}

/// Verifies a signed policy bundle and, if it is signed by a trusted key,
/// intact and newer than the active one, activates it atomically. On any
/// error the active bundle stays. `*out_revision` (may be NULL) receives
/// the new revision.
///
/// # Safety
/// `bundle` must point to `len` readable bytes; `out_revision` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_activate_bundle(
    mesh: *const mesh_t,
    bundle: *const u8,
    len: usize,
    out_revision: *mut u64,
) -> mesh_result {
    guard(|| {
        let m = mesh_arg(mesh)?;
        // SAFETY: forwarded from the caller's contract.
        let bytes = unsafe { bytes_arg(bundle, len, "bundle", MAX_BUNDLE) }?;
        let out = Out::optional(out_revision);
        let rev = m.inner.activate_bundle(bytes).map_err(config_error)?;
        // SAFETY: NULL or writable per the contract.
        unsafe { out.write(rev) };
        Ok(())
    })
}

/// Verifies a credential (bearer JWT, or API key starting with `mesh_`)
/// at `now_ms` (milliseconds since the Unix epoch) and writes the verified
/// identity as JSON to `*out_identity_json` (free with `mesh_string_free`).
/// A rejected or revoked credential returns `MESH_ERR_IDENTITY`; the last
/// error says which check failed.
///
/// # Safety
/// `credential` must be NULL or NUL-terminated; `out_identity_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_verify(
    mesh: *const mesh_t,
    credential: *const c_char,
    now_ms: i64,
    out_identity_json: *mut *mut c_char,
) -> mesh_result {
    guard(|| {
        let m = mesh_arg(mesh)?;
        // SAFETY: forwarded from the caller's contract.
        let cred = unsafe { str_arg(credential, "credential", MAX_CREDENTIAL) }?;
        let out = Out::required(out_identity_json, "out_identity_json")?;
        let id = m
            .inner
            .verify(Credential::detect(cred), ms(now_ms))
            .map_err(identity_error)?;
        let json = serde_json::to_string(&*id)
            .map_err(|e| fail(mesh_result::MESH_ERR_INVALID_ARGUMENT, e.to_string()))?;
        // SAFETY: checked non-NULL above.
        unsafe { write_string(out, json, "identity") }
    })
}

/// The hot path: may `credential` perform `action` on `resource`?
///
/// `action` and `resource` are Cedar entity references such as
/// `Action::"read"` and `Document::"q3-plan"`; `context_json` is a JSON
/// object or NULL. The call never fails because of the credential: a
/// rejected or revoked credential is a Deny decision with its reason. It
/// fails only on bad arguments. On success `*out_decision` receives a
/// decision to read with the `mesh_decision_*` functions and free with
/// `mesh_decision_free`.
///
/// # Safety
/// String arguments must be NULL (only `context_json` may be) or
/// NUL-terminated; `out_decision` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_authorize(
    mesh: *const mesh_t,
    credential: *const c_char,
    action: *const c_char,
    resource: *const c_char,
    context_json: *const c_char,
    now_ms: i64,
    out_decision: *mut *const mesh_decision,
) -> mesh_result {
    guard(move || {
        let m = mesh_arg(mesh)?;
        // SAFETY (all four): forwarded from the caller's contract.
        let cred = unsafe { str_arg(credential, "credential", MAX_CREDENTIAL) }?;
        unsafe {
            with_uids(
                action,
                resource,
                #[inline(always)]
                |action, resource| {
                    let context = if context_json.is_null() {
                        Record::default()
                    } else {
                        parse_context(Some(str_arg(context_json, "context_json", MAX_CSTR)?))?
                    };
                    let out = Out::required(out_decision, "out_decision")?;
                    let now = ms(now_ms);
                    // One of the two runs; both take the context.
                    let context = std::cell::Cell::new(Some(context));
                    let take = || context.take().unwrap_or_default();
                    let h = register_decision(
                        || {
                            m.inner
                                .authorize(detect(cred), action, resource, take(), now)
                        },
                        |d| {
                            m.inner
                                .authorize_into(detect(cred), action, resource, take(), now, d)
                        },
                    )?;
                    // SAFETY: checked non-NULL above.
                    out.write(h);
                    Ok(())
                },
            )
        }
    })
}

/// `mesh_authorize` taking and returning JSON: the request is
/// `{"credential": "...", "action": "Action::\"read\"", "resource": "...",
/// "context": {...}}`; `*out_decision_json` receives the decision with its
/// explanation (free with `mesh_string_free`).
///
/// # Safety
/// `request_json` must be NULL or NUL-terminated; `out_decision_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_authorize_json(
    mesh: *const mesh_t,
    request_json: *const c_char,
    now_ms: i64,
    out_decision_json: *mut *mut c_char,
) -> mesh_result {
    guard(|| {
        let m = mesh_arg(mesh)?;
        // SAFETY: forwarded from the caller's contract.
        let text = unsafe { str_arg(request_json, "request_json", MAX_CSTR) }?;
        let out = Out::required(out_decision_json, "out_decision_json")?;
        let json: Json = serde_json::from_str(text).map_err(|e| json_error("request_json", &e))?;
        let field = |name: &str| -> Result<&str, mesh_result> {
            json.get(name).and_then(Json::as_str).ok_or_else(|| {
                fail(
                    mesh_result::MESH_ERR_INVALID_JSON,
                    format!("request field `{name}` must be a string"),
                )
            })
        };
        let cred = field("credential")?;
        let action = parse_uid(field("action")?, "action")?;
        let resource = parse_uid(field("resource")?, "resource")?;
        let context = match json.get("context") {
            None | Some(Json::Null) => Record::default(),
            Some(v) => context_record(
                v,
                "request field `context`",
                "request field `context` must be an object",
            )?,
        };
        let d = m.inner.authorize(
            Credential::detect(cred),
            &action,
            &resource,
            context,
            ms(now_ms),
        );
        // SAFETY: checked non-NULL above.
        unsafe { write_string(out, d.to_json().to_string(), "decision") }
    })
}

fn decision(d: *const mesh_decision) -> Option<SlotRef<mesh_decision>> {
    DECISIONS.get(d)
}

/// Effects by the data kept in a decision's slot (`effect_of` as a number).
const EFFECTS: [mesh_effect; 8] = {
    use mesh_effect::{MESH_EFFECT_ALLOW as A, MESH_EFFECT_CHALLENGE as C, MESH_EFFECT_DENY as D};
    [D, A, C, D, D, D, D, D]
};

/// The decision's effect. An invalid handle reads as `MESH_EFFECT_DENY`.
#[no_mangle]
pub extern "C" fn mesh_decision_effect(d: *const mesh_decision) -> mesh_effect {
    // The effect is kept in the slot's state word: one atomic load, no
    // reference taken, nothing that can panic.
    match DECISIONS.data(d) {
        Some(x) => EFFECTS[usize::from(x & 7)],
        None => mesh_effect::MESH_EFFECT_DENY,
    }
}

/// The obligation of a `MESH_EFFECT_CHALLENGE` decision (e.g. "mfa"), or
/// NULL. Valid until the decision is freed.
#[no_mangle]
pub extern "C" fn mesh_decision_obligation(d: *const mesh_decision) -> *const c_char {
    std::panic::catch_unwind(|| {
        let Some(d) = decision(d) else {
            return std::ptr::null();
        };
        d.texts()
            .obligation
            .as_ref()
            .map_or(std::ptr::null(), |c| c.as_ptr())
    })
    .unwrap_or(std::ptr::null())
}

/// The longest accepted time since authentication of a challenge's
/// obligation, in seconds, or -1 when there is none.
#[no_mangle]
pub extern "C" fn mesh_decision_max_auth_age(d: *const mesh_decision) -> i64 {
    std::panic::catch_unwind(|| match decision(d).as_deref().map(|d| d.inner.outcome()) {
        Some(AccessOutcome::Challenge {
            max_auth_age: Some(age),
            ..
        }) => i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
        _ => -1,
    })
    .unwrap_or(-1)
}

/// The number of policies that determined the decision.
#[no_mangle]
pub extern "C" fn mesh_decision_policy_count(d: *const mesh_decision) -> usize {
    std::panic::catch_unwind(|| decision(d).map_or(0, |d| d.inner.policies().len())).unwrap_or(0)
}

/// The id of determining policy `index`, or NULL when out of range.
/// Valid until the decision is freed.
#[no_mangle]
pub extern "C" fn mesh_decision_policy(d: *const mesh_decision, index: usize) -> *const c_char {
    std::panic::catch_unwind(|| {
        let Some(d) = decision(d) else {
            return std::ptr::null();
        };
        d.texts()
            .policies
            .get(index)
            .map_or(std::ptr::null(), |c| c.as_ptr())
    })
    .unwrap_or(std::ptr::null())
}

/// Why the decision was made, as a stable word (e.g. `policy`, `no_permit`,
/// `credential_rejected`, `revoked`). Never NULL; valid until the decision
/// is freed (static for an invalid handle).
#[no_mangle]
pub extern "C" fn mesh_decision_reason(d: *const mesh_decision) -> *const c_char {
    const INVALID: &str = "invalid_handle\0";
    std::panic::catch_unwind(|| {
        let Some(d) = decision(d) else {
            return INVALID.as_ptr().cast();
        };
        d.texts().reason.as_ptr()
    })
    .unwrap_or(INVALID.as_ptr().cast())
}

/// The decision as JSON, with its explanation and audit event; free with
/// `mesh_string_free`.
///
/// # Safety
/// `out_json` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_decision_to_json(
    d: *const mesh_decision,
    out_json: *mut *mut c_char,
) -> mesh_result {
    guard(|| {
        let d = decision_arg(d, "decision")?;
        let out = Out::required(out_json, "out_json")?;
        let mut json = d.inner.to_json();
        if let Some(obj) = json.as_object_mut() {
            obj.insert("audit_event".into(), d.inner.audit_event());
        }
        // SAFETY: checked non-NULL above.
        unsafe { write_string(out, json.to_string(), "decision") }
    })
}

/// Frees a decision. NULL is accepted; a second free returns
/// `MESH_ERR_INVALID_HANDLE`.
#[no_mangle]
pub extern "C" fn mesh_decision_free(d: *const mesh_decision) -> mesh_result {
    guard(|| {
        if d.is_null() || DECISIONS.remove(d) {
            Ok(())
        } else {
            Err(handle::invalid("decision"))
        }
    })
}

/// Revokes everything `subject` (any identifier: e-mail, subject, ARN…;
/// canonicalized to its actor key) obtained before `before_ms`; the entry
/// is kept until `expires_ms`. Every later decision for that subject is a
/// Deny, in this process and, through `mesh_revocations_merge`, in others.
///
/// # Safety
/// `subject` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mesh_revoke_subject(
    mesh: *const mesh_t,
    subject: *const c_char,
    before_ms: i64,
    expires_ms: i64,
) -> mesh_result {
    guard(|| {
        let m = mesh_arg(mesh)?;
        // SAFETY: forwarded from the caller's contract.
        let subject = unsafe { str_arg(subject, "subject", MAX_UID) }?;
        m.inner
            .revoke_subject(subject, ms(before_ms), ms(expires_ms))
            .map_err(identity_error)
    })
}

/// The current revocation set as JSON, for other processes to merge; free
/// with `mesh_string_free`.
///
/// # Safety
/// `out_json` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mesh_revocations_export(
    mesh: *const mesh_t,
    out_json: *mut *mut c_char,
) -> mesh_result {
    guard(|| {
        let m = mesh_arg(mesh)?;
        let out = Out::required(out_json, "out_json")?;
        // SAFETY: checked non-NULL above.
        unsafe { write_string(out, m.inner.revocations_json(), "revocations") }
    })
}

/// Merges a revocation set exported by another process (union, latest
/// wins: the order in which processes merge does not matter).
///
/// # Safety
/// `json` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mesh_revocations_merge(
    mesh: *const mesh_t,
    json: *const c_char,
) -> mesh_result {
    guard(|| {
        let m = mesh_arg(mesh)?;
        // SAFETY: forwarded from the caller's contract.
        let text = unsafe { str_arg(json, "json", MAX_CSTR) }?;
        m.inner.merge_revocations_json(text).map_err(identity_error)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::mesh_last_error_message;
    use std::ffi::CStr;

    const CONFIG: &CStr =
        c"{\"policies\": [{\"name\": \"p\", \"text\": \"permit(principal, action, resource);\"}]}";

    fn new_mesh() -> *const mesh_t {
        let mut m = std::ptr::null();
        // SAFETY: a valid C string and a writable out-parameter.
        assert_eq!(
            unsafe { mesh_new(CONFIG.as_ptr(), &mut m) },
            mesh_result::MESH_OK,
            "{:?}",
            // SAFETY: the last error is a valid C string.
            unsafe { CStr::from_ptr(mesh_last_error_message()) }
        );
        m
    }

    fn authorize(
        m: *const mesh_t,
        action: &CStr,
        resource: Option<&CStr>,
        context: Option<&CStr>,
    ) -> (mesh_result, *const mesh_decision) {
        let mut d = std::ptr::null();
        // SAFETY: valid C strings or NULL, and a writable out-parameter.
        let r = unsafe {
            mesh_authorize(
                m,
                c"not-a-token".as_ptr(),
                action.as_ptr(),
                resource.map_or(std::ptr::null(), CStr::as_ptr),
                context.map_or(std::ptr::null(), CStr::as_ptr),
                0,
                &mut d,
            )
        };
        (r, d)
    }

    fn last_error() -> String {
        // SAFETY: the last error is a valid C string.
        unsafe { CStr::from_ptr(mesh_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn decision_handles_are_checked_and_freed_from_any_thread() {
        let m = new_mesh();
        let (r, d) = authorize(m, c"Action::\"read\"", Some(c"Doc::\"a\""), None);
        assert_eq!(r, mesh_result::MESH_OK);
        assert_eq!(mesh_decision_effect(d), mesh_effect::MESH_EFFECT_DENY);
        // SAFETY: a live decision gives a static or decision-owned string.
        let reason = unsafe { CStr::from_ptr(mesh_decision_reason(d)) };
        assert_eq!(reason.to_str().ok(), Some("credential_rejected"));
        // A mesh handle is not a decision, and a decision is not a mesh.
        assert_eq!(
            mesh_decision_free(m.cast()),
            mesh_result::MESH_ERR_INVALID_HANDLE
        );
        assert_eq!(mesh_free(d.cast()), mesh_result::MESH_ERR_INVALID_HANDLE);
        // Freed on another thread, then every use is detected here.
        let id = d as usize;
        let freed = std::thread::spawn(move || mesh_decision_free(id as *const mesh_decision))
            .join()
            .unwrap();
        assert_eq!(freed, mesh_result::MESH_OK);
        assert_eq!(mesh_decision_free(d), mesh_result::MESH_ERR_INVALID_HANDLE);
        assert!(last_error().contains("not live"));
        assert_eq!(mesh_decision_effect(d), mesh_effect::MESH_EFFECT_DENY);
        assert_eq!(mesh_decision_policy_count(d), 0);
        assert!(mesh_decision_obligation(d).is_null());
        let mut json = std::ptr::null_mut();
        // SAFETY: a writable out-parameter.
        let r = unsafe { mesh_decision_to_json(d, &mut json) };
        assert_eq!(r, mesh_result::MESH_ERR_INVALID_HANDLE);
        assert!(json.is_null());
        // The next decision gets a new handle even if it reuses the slot.
        let (_, d2) = authorize(m, c"Action::\"read\"", Some(c"Doc::\"a\""), None);
        assert_ne!(d2, d);
        assert_eq!(mesh_decision_free(d2), mesh_result::MESH_OK);
        assert_eq!(mesh_decision_free(std::ptr::null()), mesh_result::MESH_OK);
        assert_eq!(mesh_free(m), mesh_result::MESH_OK);
    }

    #[test]
    fn argument_errors_come_in_order_cached_or_not() {
        let m = new_mesh();
        // Twice: the second time the references are served from the cache.
        for _ in 0..2 {
            let (r, d) = authorize(m, c"Action::\"read\"", Some(c"Doc::\"a\""), None);
            assert_eq!(r, mesh_result::MESH_OK);
            assert_eq!(mesh_decision_free(d), mesh_result::MESH_OK);
            // A bad action is reported before a NULL resource.
            let (r, d) = authorize(m, c"read", None, None);
            assert_eq!(r, mesh_result::MESH_ERR_POLICY);
            assert!(last_error().contains("`action`"), "{}", last_error());
            assert!(d.is_null());
            // A good (cached) action and a NULL resource.
            let (r, _) = authorize(m, c"Action::\"read\"", None, None);
            assert_eq!(r, mesh_result::MESH_ERR_NULL_ARGUMENT);
            assert!(last_error().contains("`resource`"));
            // A bad resource is reported before a bad context.
            let (r, _) = authorize(m, c"Action::\"read\"", Some(c"Doc"), Some(c"{"));
            assert_eq!(r, mesh_result::MESH_ERR_POLICY);
            assert!(last_error().contains("`resource`"));
            let (r, _) = authorize(m, c"Action::\"read\"", Some(c"Doc::\"a\""), Some(c"{"));
            assert_eq!(r, mesh_result::MESH_ERR_INVALID_JSON);
            // Invalid UTF-8 in a cached-looking position.
            let (r, _) = authorize(m, c"Action::\"r\xffead\"", Some(c"Doc::\"a\""), None);
            assert_eq!(r, mesh_result::MESH_ERR_INVALID_UTF8);
            // A NULL out-parameter, after the arguments are checked.
            let none: *mut *const mesh_decision = std::ptr::null_mut();
            // SAFETY: valid C strings; the NULL out-parameter is reported.
            let r = unsafe {
                mesh_authorize(
                    m,
                    c"t".as_ptr(),
                    c"Action::\"read\"".as_ptr(),
                    c"Doc::\"a\"".as_ptr(),
                    std::ptr::null(),
                    0,
                    none,
                )
            };
            assert_eq!(r, mesh_result::MESH_ERR_NULL_ARGUMENT);
        }
        assert_eq!(mesh_free(m), mesh_result::MESH_OK);
    }

    #[test]
    fn word_comparison_agrees_with_slice_equality() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=base.len() {
            let a = &base[..n];
            assert!(same_bytes(a, a));
            for i in 0..n {
                let mut b = a.to_vec();
                b[i] ^= 0x20;
                assert!(!same_bytes(a, &b), "{n} {i}");
            }
            if n > 0 {
                assert!(!same_bytes(a, &base[..n - 1]));
                assert!(!same_bytes(&base[1..n], &base[..n - 1]) || n == 1);
            }
        }
    }

    #[test]
    fn decision_strings_are_made_once() {
        let m = new_mesh();
        let (r, d) = authorize(m, c"Action::\"read\"", Some(c"Doc::\"a\""), None);
        assert_eq!(r, mesh_result::MESH_OK);
        let reason = mesh_decision_reason(d);
        assert!(mesh_decision_obligation(d).is_null());
        assert!(mesh_decision_policy(d, 0).is_null());
        assert_eq!(
            mesh_decision_reason(d),
            reason,
            "the same string every time"
        );
        assert_eq!(mesh_decision_free(d), mesh_result::MESH_OK);
        assert_eq!(mesh_free(m), mesh_result::MESH_OK);
    }

    fn kind(c: Credential<'_>) -> (&'static str, &str) {
        match c {
            Credential::Bearer(t) => ("bearer", t),
            Credential::ApiKey(t) => ("api_key", t),
        }
    }

    #[test]
    fn effects_are_read_back_from_their_numbers() {
        for e in [
            mesh_effect::MESH_EFFECT_DENY,
            mesh_effect::MESH_EFFECT_ALLOW,
            mesh_effect::MESH_EFFECT_CHALLENGE,
        ] {
            assert_eq!(EFFECTS[e as usize], e);
        }
    }

    #[test]
    fn fast_detection_agrees_with_the_core_for_every_ascii_edge() {
        for first in 0..0x80u8 {
            for last in 0..0x80u8 {
                let text = format!("{}eyJ.e30.x{}", first as char, last as char);
                assert_eq!(
                    kind(detect(&text)),
                    kind(Credential::detect(&text)),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn fast_detection_agrees_with_the_core() {
        for text in [
            "",
            "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
            "eyJhbGciOiJFUzI1NiJ9.e30.c2l-",
            " eyJ.e30.x ",
            "eyJ.e30.x\n",
            "Bearer eyJ.e30.x",
            "bearer eyJ.e30.x",
            "Beyond",
            "mesh_abc_def_123",
            "Bearer mesh_abc_def_1",
            "m",
            "x",
            "\u{a0}eyJ.e30.x",
            "eyJ.e30.x\u{3000}",
            "0abc",
        ] {
            assert_eq!(
                kind(detect(text)),
                kind(Credential::detect(text)),
                "{text:?}"
            );
        }
    }
}
