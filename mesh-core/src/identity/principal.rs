//! `Identity`: one type for human, service and device principals.
//!
//! An identity is built once per verified credential, so it is laid out to
//! be cheap to build and drop: every string (subject, issuer, ids, list
//! items, and the remaining claims as verified JSON text) lives in one
//! buffer, read through accessors, and a verified token's identity with
//! few strings keeps their places inline, so that buffer is its only
//! allocation. Hosts that make identities by hand fill
//! an [`IdentityBuilder`] (plain owned fields) and call
//! [`IdentityBuilder::build`].

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::iter::FusedIterator;
use std::sync::OnceLock;

use super::ActorKey;
use crate::Timestamp;

/// What kind of principal an identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// A person.
    Human,
    /// A workload or service account (API key, SPIFFE ID, client credentials).
    Service,
    /// A device (laptop, phone, appliance).
    Device,
}

/// How and when the principal authenticated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthContext {
    /// When the principal last authenticated interactively (`auth_time`).
    pub auth_time: Option<Timestamp>,
    /// Authentication methods used (`amr`), e.g. `pwd`, `mfa`, `hwk`.
    pub methods: Vec<String>,
    /// Authentication context class reference (`acr`).
    pub acr: Option<String>,
}

impl AuthContext {
    /// Whether `method` (compared case-insensitively) was used.
    pub fn has_method(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }
}

/// Posture attributes of the device a request comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DevicePosture {
    /// The device's identifier.
    pub device_id: String,
    /// Posture facts, e.g. `disk_encrypted: true`, `os_version: "14.2"`.
    pub attributes: BTreeMap<String, Value>,
}

/// A list of strings of an [`Identity`] (groups, roles, entitlements,
/// authentication methods), borrowed from it.
#[derive(Clone, Copy)]
pub struct StrList<'a> {
    text: &'a str,
    /// Start and end offset in `text` of each item.
    spans: SpanSlice<'a>,
}

impl<'a> StrList<'a> {
    /// The number of items.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.spans.len() == 0
    }

    /// The items in order.
    pub fn iter(&self) -> StrIter<'a> {
        StrIter {
            text: self.text,
            spans: self.spans,
        }
    }

    /// The item at `index`.
    pub fn get(&self, index: usize) -> Option<&'a str> {
        let (start, end) = self.spans.get(index)?;
        self.text.get(start..end)
    }

    /// Whether an item equals `item`.
    pub fn contains(&self, item: &str) -> bool {
        self.iter().any(|s| s == item)
    }

    /// The items joined with `sep`.
    pub fn join(&self, sep: &str) -> String {
        let mut out = String::new();
        for (i, s) in self.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(s);
        }
        out
    }

    /// The items as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl fmt::Debug for StrList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for StrList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for StrList<'_> {}

impl<S: AsRef<str>> PartialEq<[S]> for StrList<'_> {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for StrList<'_> {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for StrList<'_> {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

impl Serialize for StrList<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'a> IntoIterator for StrList<'a> {
    type Item = &'a str;
    type IntoIter = StrIter<'a>;
    fn into_iter(self) -> StrIter<'a> {
        self.iter()
    }
}

/// The items of a [`StrList`].
#[derive(Clone, Debug)]
pub struct StrIter<'a> {
    text: &'a str,
    spans: SpanSlice<'a>,
}

impl<'a> Iterator for StrIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let (start, end) = self.spans.pop_front()?;
        Some(self.text.get(start..end).unwrap_or_default())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.spans.len();
        (n, Some(n))
    }
}

impl DoubleEndedIterator for StrIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (start, end) = self.spans.pop_back()?;
        Some(self.text.get(start..end).unwrap_or_default())
    }
}

impl ExactSizeIterator for StrIter<'_> {}
impl FusedIterator for StrIter<'_> {}

/// How and when the principal of an [`Identity`] authenticated, borrowed
/// from it (the owned form is [`AuthContext`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthRef<'a> {
    auth_time: Option<Timestamp>,
    methods: StrList<'a>,
    acr: Option<&'a str>,
}

impl<'a> AuthRef<'a> {
    /// When the principal last authenticated interactively (`auth_time`).
    pub fn auth_time(&self) -> Option<Timestamp> {
        self.auth_time
    }

    /// Authentication methods used (`amr`), e.g. `pwd`, `mfa`, `hwk`.
    pub fn methods(&self) -> StrList<'a> {
        self.methods
    }

    /// Authentication context class reference (`acr`).
    pub fn acr(&self) -> Option<&'a str> {
        self.acr
    }

    /// Whether `method` (compared case-insensitively) was used.
    pub fn has_method(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }

    /// The owned form.
    pub fn to_context(&self) -> AuthContext {
        AuthContext {
            auth_time: self.auth_time,
            methods: self.methods.to_vec(),
            acr: self.acr.map(str::to_owned),
        }
    }
}

impl Serialize for AuthRef<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let mut st = s.serialize_struct("AuthContext", 3)?;
        st.serialize_field("auth_time", &self.auth_time)?;
        st.serialize_field("methods", &self.methods)?;
        st.serialize_field("acr", &self.acr)?;
        st.end()
    }
}

/// How many strings an [`Identity`] keeps the places of inline: the six
/// singles and up to 16 list items (the table takes 96 bytes).
const INLINE: usize = 22;

/// The start and end offset of each string of an [`Identity`], in table
/// order, and the end index of each list: inline (no allocation) for a
/// token's identity with few strings in a claims text of at most
/// `u16::MAX` bytes ([`Narrow`]), on the heap otherwise ([`Packer`]).
#[derive(Clone)]
enum Spans {
    /// The first `len` entries of `spans`.
    Inline {
        len: u8,
        lists: [u8; 4],
        spans: [(u16, u16); INLINE],
    },
    /// Any number, any offsets.
    Heap {
        spans: Vec<(usize, usize)>,
        lists: [usize; 4],
    },
}

impl Spans {
    /// The entry at `index`.
    #[inline]
    fn get(&self, index: usize) -> Option<(usize, usize)> {
        match self {
            Spans::Inline { len, spans, .. } => {
                spans.get(..usize::from(*len))?.get(index).map(widen)
            }
            Spans::Heap { spans, .. } => spans.get(index).copied(),
        }
    }

    /// The entries of list `index` (empty when out of range).
    #[inline]
    fn list(&self, index: usize) -> SpanSlice<'_> {
        match self {
            Spans::Inline { len, lists, spans } => {
                let (from, to) = list_range(lists, index, FIXED as u8);
                SpanSlice::Narrow(
                    spans
                        .get(..usize::from(*len))
                        .and_then(|s| s.get(usize::from(from)..usize::from(to)))
                        .unwrap_or_default(),
                )
            }
            Spans::Heap { spans, lists } => {
                let (from, to) = list_range(lists, index, FIXED);
                SpanSlice::Wide(spans.get(from..to).unwrap_or_default())
            }
        }
    }
}

/// The start and end index of list `index` whose ends are `lists`, the
/// first starting at `first`.
#[inline(always)]
fn list_range<T: Copy>(lists: &[T; 4], index: usize, first: T) -> (T, T) {
    let from = match index.checked_sub(1) {
        None => first,
        Some(i) => lists.get(i).copied().unwrap_or(first),
    };
    (from, lists.get(index).copied().unwrap_or(from))
}

/// A run of a [`Spans`] table.
#[derive(Clone, Copy, Debug)]
enum SpanSlice<'a> {
    Narrow(&'a [(u16, u16)]),
    Wide(&'a [(usize, usize)]),
}

impl SpanSlice<'_> {
    #[inline]
    fn len(&self) -> usize {
        match self {
            SpanSlice::Narrow(s) => s.len(),
            SpanSlice::Wide(s) => s.len(),
        }
    }

    #[inline]
    fn get(&self, index: usize) -> Option<(usize, usize)> {
        match self {
            SpanSlice::Narrow(s) => s.get(index).map(widen),
            SpanSlice::Wide(s) => s.get(index).copied(),
        }
    }

    #[inline]
    fn pop_front(&mut self) -> Option<(usize, usize)> {
        match self {
            SpanSlice::Narrow(s) => s.split_off_first().map(widen),
            SpanSlice::Wide(s) => s.split_off_first().copied(),
        }
    }

    #[inline]
    fn pop_back(&mut self) -> Option<(usize, usize)> {
        match self {
            SpanSlice::Narrow(s) => s.split_off_last().map(widen),
            SpanSlice::Wide(s) => s.split_off_last().copied(),
        }
    }
}

/// A narrow span as offsets.
#[inline(always)]
fn widen(&(start, end): &(u16, u16)) -> (usize, usize) {
    (usize::from(start), usize::from(end))
}

/// Index in [`Identity`]'s string table of each single string.
const SUBJECT: usize = 0;
const ISSUER: usize = 1;
const TOKEN_ID: usize = 2;
const SESSION_ID: usize = 3;
const ACR: usize = 4;
/// The claims object text of a token (its mapped claims are skipped when
/// it is read; empty when the claims are given as a map).
const CLAIMS: usize = 5;
/// The first list item.
const FIXED: usize = 6;
/// The lists, in table order.
const GROUPS: usize = 0;
const ROLES: usize = 1;
const ENTITLEMENTS: usize = 2;
const METHODS: usize = 3;
/// The number of lists.
const LISTS: usize = 4;
/// Presence bits of the optional strings.
const HAS_TOKEN_ID: u8 = 1;
const HAS_SESSION_ID: u8 = 2;
const HAS_ACR: u8 = 4;

/// A verified principal: the input to every decision.
///
/// Built by the identity fabric from a verified credential (token, API key,
/// SPIFFE SVID, device record); hosts that verified identity themselves may
/// build one directly ([`Identity::new`], [`IdentityBuilder`]).
///
/// Its fields are read through accessors; [`Identity::to_builder`] and
/// [`Identity::modify`] change any of them. Serialized (serde), an identity
/// is an object with the fields of [`IdentityBuilder`].
#[derive(Clone)]
pub struct Identity {
    /// The strings: written back to back (the singles in table order,
    /// then the list items), or parts of a verified claims text copied in
    /// whole.
    text: String,
    /// Start and end offset in `text` of each string, in table order,
    /// and the end index of each list.
    spans: Spans,
    /// Which optional strings are present.
    present: u8,
    kind: IdentityKind,
    auth_time: Option<Timestamp>,
    issued_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    device: Option<DevicePosture>,
    /// The remaining claims, parsed from their JSON text on first use.
    claims: OnceLock<Box<Map<String, Value>>>,
}

impl AsRef<Identity> for Identity {
    fn as_ref(&self) -> &Identity {
        self
    }
}

impl Identity {
    /// A minimal identity with no groups, roles, claims or device.
    pub fn new(subject: impl AsRef<str>, issuer: impl AsRef<str>, kind: IdentityKind) -> Self {
        let (subject, issuer) = (subject.as_ref(), issuer.as_ref());
        let text_cap = subject.len() + issuer.len();
        let p = Packer::new(text_cap, 0, subject, issuer, [None, None, None]);
        p.finish(kind, Times::default(), None, ClaimsInit::Text)
    }

    /// An empty builder for an identity of `subject` vouched by `issuer`.
    pub fn builder(
        subject: impl Into<String>,
        issuer: impl Into<String>,
        kind: IdentityKind,
    ) -> IdentityBuilder {
        IdentityBuilder::new(subject, issuer, kind)
    }

    fn single(&self, index: usize) -> &str {
        let (start, end) = self.spans.get(index).unwrap_or_default();
        self.text.get(start..end).unwrap_or_default()
    }

    fn optional(&self, index: usize, bit: u8) -> Option<&str> {
        (self.present & bit != 0).then(|| self.single(index))
    }

    fn list(&self, list: usize) -> StrList<'_> {
        StrList {
            text: &self.text,
            spans: self.spans.list(list),
        }
    }

    /// The subject (`sub`), unique within its issuer.
    pub fn subject(&self) -> &str {
        self.single(SUBJECT)
    }

    /// Who vouched for the subject (`iss`, or `mesh:api-key`, `spiffe://td`).
    pub fn issuer(&self) -> &str {
        self.single(ISSUER)
    }

    /// Human, service or device.
    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    /// Group memberships.
    pub fn groups(&self) -> StrList<'_> {
        self.list(GROUPS)
    }

    /// Roles.
    pub fn roles(&self) -> StrList<'_> {
        self.list(ROLES)
    }

    /// Entitlements (scopes, permissions, including just-in-time grants).
    pub fn entitlements(&self) -> StrList<'_> {
        self.list(ENTITLEMENTS)
    }

    /// How and when the principal authenticated.
    pub fn auth(&self) -> AuthRef<'_> {
        AuthRef {
            auth_time: self.auth_time,
            methods: self.list(METHODS),
            acr: self.optional(ACR, HAS_ACR),
        }
    }

    /// Device posture, when the request comes from a known device.
    pub fn device(&self) -> Option<&DevicePosture> {
        self.device.as_ref()
    }

    /// Token id (`jti`), when the credential has one.
    pub fn token_id(&self) -> Option<&str> {
        self.optional(TOKEN_ID, HAS_TOKEN_ID)
    }

    /// Session id (`sid`), when the credential has one.
    pub fn session_id(&self) -> Option<&str> {
        self.optional(SESSION_ID, HAS_SESSION_ID)
    }

    /// When the credential was issued (`iat`).
    pub fn issued_at(&self) -> Option<Timestamp> {
        self.issued_at
    }

    /// When the credential expires (`exp`).
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// The remaining claims, as verified (read from the token's verified
    /// claims text on first use, the mapped claims skipped).
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims.get_or_init(|| {
            Box::new(match self.single(CLAIMS) {
                "" => Map::new(),
                text => super::scan::kept_claims(text).unwrap_or_else(|| {
                    let mut map: Map<String, Value> =
                        serde_json::from_str(text).unwrap_or_default();
                    map.retain(|name, _| !super::MAPPED_CLAIMS.contains(&name.as_str()));
                    map
                }),
            })
        })
    }

    /// The claim `name` among the remaining claims.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims().get(name)
    }

    /// Set the kind of principal.
    pub fn set_kind(&mut self, kind: IdentityKind) {
        self.kind = kind;
    }

    /// Set (or clear) the device posture.
    pub fn set_device(&mut self, device: Option<DevicePosture>) {
        self.device = device;
    }

    /// Set (or clear) when the credential was issued.
    pub fn set_issued_at(&mut self, at: Option<Timestamp>) {
        self.issued_at = at;
    }

    /// Set (or clear) when the credential expires.
    pub fn set_expires_at(&mut self, at: Option<Timestamp>) {
        self.expires_at = at;
    }

    /// The identity's fields, owned (to change and [`IdentityBuilder::build`]
    /// again).
    pub fn to_builder(&self) -> IdentityBuilder {
        IdentityBuilder {
            subject: self.subject().to_owned(),
            issuer: self.issuer().to_owned(),
            kind: self.kind,
            groups: self.groups().to_vec(),
            roles: self.roles().to_vec(),
            entitlements: self.entitlements().to_vec(),
            auth: self.auth().to_context(),
            device: self.device.clone(),
            token_id: self.token_id().map(str::to_owned),
            session_id: self.session_id().map(str::to_owned),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            claims: self.claims().clone(),
        }
    }

    /// Change any fields with `edit` (the identity is rebuilt).
    pub fn modify(&mut self, edit: impl FnOnce(&mut IdentityBuilder)) {
        let mut b = self.to_builder();
        edit(&mut b);
        *self = b.build();
    }

    /// The canonical actor key of this principal.
    ///
    /// The first usable of: the `email` claim (unless `email_verified` is
    /// `false`), the `upn` claim, `preferred_username` when it is an e-mail
    /// address, and finally the subject. See [`ActorKey`] for the rules.
    pub fn actor_key(&self) -> ActorKey {
        let claims = self.claims();
        let claim = |name: &str| claims.get(name).and_then(Value::as_str);
        let email_ok = claims.get("email_verified").and_then(Value::as_bool) != Some(false);
        let candidates = [
            claim("email").filter(|_| email_ok),
            claim("upn"),
            claim("preferred_username").filter(|p| p.contains('@')),
            Some(self.subject()),
        ];
        candidates
            .into_iter()
            .flatten()
            .find_map(|c| ActorKey::from_identifier(c).ok())
            .unwrap_or_else(|| ActorKey::fallback(self.issuer(), self.subject()))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.subject())
            .field("issuer", &self.issuer())
            .field("kind", &self.kind)
            .field("groups", &self.groups())
            .field("roles", &self.roles())
            .field("entitlements", &self.entitlements())
            .field("auth", &self.auth())
            .field("device", &self.device)
            .field("token_id", &self.token_id())
            .field("session_id", &self.session_id())
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("claims", self.claims())
            .finish()
    }
}

impl PartialEq for Identity {
    fn eq(&self, other: &Self) -> bool {
        self.subject() == other.subject()
            && self.issuer() == other.issuer()
            && self.kind == other.kind
            && self.groups() == other.groups()
            && self.roles() == other.roles()
            && self.entitlements() == other.entitlements()
            && self.auth() == other.auth()
            && self.device == other.device
            && self.token_id() == other.token_id()
            && self.session_id() == other.session_id()
            && self.issued_at == other.issued_at
            && self.expires_at == other.expires_at
            && self.claims() == other.claims()
    }
}

impl Serialize for Identity {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let mut st = s.serialize_struct("Identity", 13)?;
        st.serialize_field("subject", self.subject())?;
        st.serialize_field("issuer", self.issuer())?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("groups", &self.groups())?;
        st.serialize_field("roles", &self.roles())?;
        st.serialize_field("entitlements", &self.entitlements())?;
        st.serialize_field("auth", &self.auth())?;
        st.serialize_field("device", &self.device)?;
        st.serialize_field("token_id", &self.token_id())?;
        st.serialize_field("session_id", &self.session_id())?;
        st.serialize_field("issued_at", &self.issued_at)?;
        st.serialize_field("expires_at", &self.expires_at)?;
        st.serialize_field("claims", self.claims())?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Identity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IdentityBuilder::deserialize(d).map(IdentityBuilder::build)
    }
}

/// The fields of an [`Identity`], owned: fill them and
/// [`build`](IdentityBuilder::build) the identity. Its serde form is the
/// identity's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityBuilder {
    /// The subject (`sub`), unique within its issuer.
    pub subject: String,
    /// Who vouched for the subject (`iss`, or `mesh:api-key`, `spiffe://td`).
    pub issuer: String,
    /// Human, service or device.
    pub kind: IdentityKind,
    /// Group memberships.
    pub groups: Vec<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Entitlements (scopes, permissions, including just-in-time grants).
    pub entitlements: Vec<String>,
    /// How and when the principal authenticated.
    pub auth: AuthContext,
    /// Device posture, when the request comes from a known device.
    pub device: Option<DevicePosture>,
    /// Token id (`jti`), when the credential has one.
    pub token_id: Option<String>,
    /// Session id (`sid`), when the credential has one.
    pub session_id: Option<String>,
    /// When the credential was issued (`iat`).
    pub issued_at: Option<Timestamp>,
    /// When the credential expires (`exp`).
    pub expires_at: Option<Timestamp>,
    /// The remaining claims, as verified.
    pub claims: Map<String, Value>,
}

impl IdentityBuilder {
    /// A builder with no groups, roles, claims or device.
    pub fn new(subject: impl Into<String>, issuer: impl Into<String>, kind: IdentityKind) -> Self {
        IdentityBuilder {
            subject: subject.into(),
            issuer: issuer.into(),
            kind,
            groups: Vec::new(),
            roles: Vec::new(),
            entitlements: Vec::new(),
            auth: AuthContext::default(),
            device: None,
            token_id: None,
            session_id: None,
            issued_at: None,
            expires_at: None,
            claims: Map::new(),
        }
    }

    /// The identity of these fields.
    pub fn build(self) -> Identity {
        let lists = [
            &self.groups,
            &self.roles,
            &self.entitlements,
            &self.auth.methods,
        ];
        let singles = [
            self.token_id.as_deref(),
            self.session_id.as_deref(),
            self.auth.acr.as_deref(),
        ];
        let text_cap = self.subject.len()
            + self.issuer.len()
            + singles.iter().flatten().map(|s| s.len()).sum::<usize>()
            + lists
                .iter()
                .flat_map(|l| l.iter())
                .map(String::len)
                .sum::<usize>();
        let items = lists.iter().map(|l| l.len()).sum();
        let mut p = Packer::new(text_cap, items, &self.subject, &self.issuer, singles);
        for list in lists {
            for s in list {
                p.item(s);
            }
            p.end_list();
        }
        p.finish(
            self.kind,
            Times {
                auth_time: self.auth.auth_time,
                issued_at: self.issued_at,
                expires_at: self.expires_at,
            },
            self.device,
            ClaimsInit::Map(self.claims),
        )
    }
}

impl From<IdentityBuilder> for Identity {
    fn from(b: IdentityBuilder) -> Identity {
        b.build()
    }
}

/// The times of an identity.
#[derive(Clone, Copy, Default)]
pub(crate) struct Times {
    pub(crate) auth_time: Option<Timestamp>,
    pub(crate) issued_at: Option<Timestamp>,
    pub(crate) expires_at: Option<Timestamp>,
}

/// How the remaining claims of a packed identity are given.
pub(crate) enum ClaimsInit {
    /// As a claims text given with [`Packer::claims_part`] (or none).
    Text,
    /// As a map.
    Map(Map<String, Value>),
}

/// Writes the strings of an [`Identity`] into its one buffer, in table
/// order: the singles ([`Packer::new`]), the claims JSON text (optional),
/// then the items of each list, each list closed by [`Packer::end_list`].
/// A packer made [`Packer::over`] a verified text adds the strings that lie
/// in it by their place instead of copying them.
pub(crate) struct Packer {
    text: String,
    spans: Vec<(usize, usize)>,
    lists: [usize; 4],
    closed: usize,
    present: u8,
}

impl Packer {
    /// A packer with room for `text_cap` bytes and `items` list items,
    /// holding the subject, issuer, and the token id, session id and `acr`
    /// when present.
    pub(crate) fn new(
        text_cap: usize,
        items: usize,
        subject: &str,
        issuer: &str,
        singles: [Option<&str>; 3],
    ) -> Packer {
        let mut p = Packer::empty(String::with_capacity(text_cap), items);
        p.push(subject);
        p.push(issuer);
        for (bit, s) in [HAS_TOKEN_ID, HAS_SESSION_ID, HAS_ACR]
            .into_iter()
            .zip(singles)
        {
            if let Some(s) = s {
                p.present |= bit;
                p.push(s);
            } else {
                p.push("");
            }
        }
        p
    }

    #[inline(always)]
    fn empty(text: String, items: usize) -> Packer {
        Packer {
            text,
            spans: Vec::with_capacity(FIXED + items),
            lists: [FIXED; 4],
            closed: 0,
            present: 0,
        }
    }

    /// A packer whose text starts with a copy of `source` (with room for
    /// `extra` more bytes and `items` list items), and whose singles are
    /// the parts of it at `subject`, `issuer`, and the token id, session id
    /// and `acr` when present (start and end offsets; parts out of range
    /// read as empty).
    #[inline(always)]
    pub(crate) fn over(
        source: &str,
        extra: usize,
        items: usize,
        subject: (usize, usize),
        issuer: (usize, usize),
        singles: [Option<(usize, usize)>; 3],
    ) -> Packer {
        let mut text = String::with_capacity(source.len() + extra);
        text.push_str(source);
        let mut p = Packer::empty(text, items);
        p.spans.push(subject);
        p.spans.push(issuer);
        for (bit, s) in [HAS_TOKEN_ID, HAS_SESSION_ID, HAS_ACR]
            .into_iter()
            .zip(singles)
        {
            if let Some(s) = s {
                p.present |= bit;
                p.spans.push(s);
            } else {
                p.spans.push((0, 0));
            }
        }
        p
    }

    #[inline(always)]
    fn push(&mut self, s: &str) {
        let start = self.text.len();
        self.text.push_str(s);
        self.spans.push((start, self.text.len()));
    }

    /// Closes the claims text if it was not written.
    #[inline(always)]
    fn claims_done(&mut self) {
        if self.spans.len() == CLAIMS {
            self.spans.push((0, 0));
        }
    }

    /// Take the part `start..end` of the source text ([`Packer::over`]),
    /// a verified claims object, as the claims (before any list item); the
    /// identity reads its members other than [`super::MAPPED_CLAIMS`].
    #[inline(always)]
    pub(crate) fn claims_part(&mut self, start: usize, end: usize) {
        if self.spans.len() == CLAIMS {
            self.spans.push((start, end));
        }
    }

    /// Add the part `start..end` of the source text ([`Packer::over`]) as
    /// an item of the current list.
    #[inline(always)]
    pub(crate) fn part(&mut self, start: usize, end: usize) {
        self.claims_done();
        self.spans.push((start, end));
    }

    /// Add the parts `spans` of the source text ([`Packer::over`]) as items
    /// of the current list, in one go.
    #[inline(always)]
    pub(crate) fn parts(&mut self, spans: impl Iterator<Item = (usize, usize)>) {
        self.claims_done();
        self.spans.extend(spans);
    }

    /// Add an item to the current list.
    pub(crate) fn item(&mut self, s: &str) {
        self.claims_done();
        self.push(s);
    }

    /// Close the current list (groups, roles, entitlements, methods).
    #[inline(always)]
    pub(crate) fn end_list(&mut self) {
        self.claims_done();
        if let Some(l) = self.lists.get_mut(self.closed) {
            *l = self.spans.len();
            self.closed += 1;
        }
    }

    /// The identity (lists not closed are closed empty).
    #[inline(always)]
    pub(crate) fn finish(
        mut self,
        kind: IdentityKind,
        times: Times,
        device: Option<DevicePosture>,
        claims: ClaimsInit,
    ) -> Identity {
        self.claims_done();
        while self.closed < self.lists.len() {
            self.end_list();
        }
        // No claims (API keys, most hand-made identities) need no map
        // until one is asked for.
        let lock = OnceLock::new();
        if let ClaimsInit::Map(map) = claims {
            if !map.is_empty() {
                let _ = lock.set(Box::new(map));
            }
        }
        Identity {
            text: self.text,
            spans: Spans::Heap {
                spans: self.spans,
                lists: self.lists,
            },
            present: self.present,
            kind,
            auth_time: times.auth_time,
            issued_at: times.issued_at,
            expires_at: times.expires_at,
            device,
            claims: lock,
        }
    }
}

/// Takes the list items of an identity as parts of its source text, list
/// by list ([`Packer`], [`Narrow`]).
pub(crate) trait SpanSink {
    /// Add the part `start..end` of the source text as an item of the
    /// current list.
    fn part(&mut self, start: usize, end: usize);
    /// Add the parts `spans` of the source text as items of the current
    /// list.
    fn parts(&mut self, spans: &[(u32, u32)]);
    /// Close the current list (groups, roles, entitlements, methods).
    fn end_list(&mut self);
}

impl SpanSink for Packer {
    #[inline(always)]
    fn part(&mut self, start: usize, end: usize) {
        Packer::part(self, start, end);
    }

    #[inline(always)]
    fn parts(&mut self, spans: &[(u32, u32)]) {
        Packer::parts(self, spans.iter().map(|&(s, e)| (s as usize, e as usize)));
    }

    #[inline(always)]
    fn end_list(&mut self) {
        Packer::end_list(self);
    }
}

/// Builds an identity whose strings are parts of a verified claims text
/// with its span table inline: no allocation but the text's copy. Made
/// for a text of at most `u16::MAX` bytes and few strings
/// ([`Narrow::fits`]); a part beyond the table's room or range makes
/// [`Narrow::finish`] decline.
pub(crate) struct Narrow {
    spans: [(u16, u16); INLINE],
    len: usize,
    lists: [u8; LISTS],
    closed: usize,
    present: u8,
    /// A part did not fit.
    over: bool,
}

impl Narrow {
    /// Whether an identity over a `text_len`-byte text with `items` list
    /// items fits.
    #[inline(always)]
    pub(crate) fn fits(text_len: usize, items: usize) -> bool {
        text_len <= usize::from(u16::MAX) && FIXED + items <= INLINE
    }

    /// A table holding the subject, issuer, the token id, session id and
    /// `acr` when present, and the claims text (start and end offsets in
    /// the source text, as [`Packer::over`]).
    #[inline(always)]
    pub(crate) fn new(
        subject: (usize, usize),
        issuer: (usize, usize),
        singles: [Option<(usize, usize)>; 3],
        claims: (usize, usize),
    ) -> Narrow {
        let mut n = Narrow {
            spans: [(0, 0); INLINE],
            len: 0,
            lists: [FIXED as u8; LISTS],
            closed: 0,
            present: 0,
            over: false,
        };
        n.push(subject.0, subject.1);
        n.push(issuer.0, issuer.1);
        for (bit, s) in [HAS_TOKEN_ID, HAS_SESSION_ID, HAS_ACR]
            .into_iter()
            .zip(singles)
        {
            if let Some((start, end)) = s {
                n.present |= bit;
                n.push(start, end);
            } else {
                n.push(0, 0);
            }
        }
        n.push(claims.0, claims.1);
        n
    }

    #[inline(always)]
    fn push(&mut self, start: usize, end: usize) {
        const MAX: usize = u16::MAX as usize;
        match self.spans.get_mut(self.len) {
            // Both offsets fit in `u16` (one test for the two).
            Some(slot) if start | end <= MAX => {
                *slot = (start as u16, end as u16);
                self.len += 1;
            }
            _ => self.over = true,
        }
    }

    /// The identity over a copy of `source` (lists not closed are closed
    /// empty), or `None` when a part did not fit.
    #[inline(always)]
    pub(crate) fn finish(
        mut self,
        source: &str,
        kind: IdentityKind,
        times: Times,
    ) -> Option<Identity> {
        while self.closed < LISTS {
            self.end_list();
        }
        if self.over {
            return None;
        }
        Some(Identity {
            text: source.to_owned(),
            spans: Spans::Inline {
                len: u8::try_from(self.len).ok()?,
                lists: self.lists,
                spans: self.spans,
            },
            present: self.present,
            kind,
            auth_time: times.auth_time,
            issued_at: times.issued_at,
            expires_at: times.expires_at,
            device: None,
            claims: OnceLock::new(),
        })
    }
}

impl SpanSink for Narrow {
    #[inline(always)]
    fn part(&mut self, start: usize, end: usize) {
        self.push(start, end);
    }

    #[inline(always)]
    fn parts(&mut self, spans: &[(u32, u32)]) {
        for &(s, e) in spans {
            self.push(s as usize, e as usize);
        }
    }

    #[inline(always)]
    fn end_list(&mut self) {
        if let Some(l) = self.lists.get_mut(self.closed) {
            // At most `INLINE` entries are kept.
            *l = u8::try_from(self.len).unwrap_or(u8::MAX);
            self.closed += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actor_key_prefers_verified_email() {
        let mut id = Identity::new("00u1", "https://idp", IdentityKind::Human);
        assert_eq!(id.actor_key().as_str(), "00u1");
        id.modify(|b| {
            b.claims.insert("email".into(), json!("Alice@Example.com"));
        });
        assert_eq!(id.actor_key().as_str(), "alice@example.com");
        id.modify(|b| {
            b.claims.insert("email_verified".into(), json!(false));
            b.claims.insert("upn".into(), json!("ALICE@corp.example"));
        });
        assert_eq!(id.actor_key().as_str(), "alice@corp.example");
    }

    #[test]
    fn empty_subject_still_has_a_stable_key() {
        let id = Identity::new("", "https://idp", IdentityKind::Service);
        let k = id.actor_key();
        assert!(k.as_str().starts_with("sha256:"));
        assert_eq!(k, id.actor_key());
    }

    fn full() -> IdentityBuilder {
        let mut b = Identity::builder("00u1", "https://idp", IdentityKind::Human);
        b.groups = vec!["eng".into(), String::new(), "oncall".into()];
        b.roles = vec!["admin".into()];
        b.entitlements = vec!["read".into(), "write".into()];
        b.auth = AuthContext {
            auth_time: Some(Timestamp::from_unix_seconds(5)),
            methods: vec!["pwd".into(), "mfa".into()],
            acr: Some(String::new()),
        };
        b.device = Some(DevicePosture {
            device_id: "dev-1".into(),
            ..DevicePosture::default()
        });
        b.token_id = Some("t-1".into());
        b.issued_at = Some(Timestamp::from_unix_seconds(1));
        b.expires_at = Some(Timestamp::from_unix_seconds(9));
        b.claims.insert("zeta".into(), json!({"a": [1, 2.5]}));
        b.claims.insert("alpha".into(), json!("x"));
        b
    }

    #[test]
    fn builder_round_trip_and_accessors() {
        let b = full();
        let id = b.clone().build();
        assert_eq!(id.subject(), "00u1");
        assert_eq!(id.issuer(), "https://idp");
        assert_eq!(id.groups(), ["eng", "", "oncall"]);
        assert_eq!(id.groups().get(2), Some("oncall"));
        assert_eq!(id.groups().get(3), None);
        assert_eq!(
            id.groups().iter().rev().collect::<Vec<_>>(),
            ["oncall", "", "eng"]
        );
        assert_eq!(id.roles(), ["admin"]);
        assert_eq!(id.entitlements().join(" "), "read write");
        assert!(id.auth().has_method("MFA"));
        assert_eq!(id.auth().acr(), Some(""));
        assert_eq!(id.token_id(), Some("t-1"));
        assert_eq!(id.session_id(), None);
        assert_eq!(id.device().unwrap().device_id, "dev-1");
        assert_eq!(id.claim("alpha"), Some(&json!("x")));
        assert_eq!(id.to_builder(), b);
        let empty = Identity::new("s", "i", IdentityKind::Device);
        assert!(empty.groups().is_empty() && empty.auth().methods().is_empty());
        assert_eq!(empty.auth().acr(), None);
        assert!(empty.claims().is_empty());
    }

    #[test]
    fn serde_shape_is_the_builders() {
        let b = full();
        let id = b.clone().build();
        let text = serde_json::to_string(&id).unwrap();
        assert_eq!(text, serde_json::to_string(&b).unwrap());
        assert!(text.starts_with(r#"{"subject":"00u1","issuer":"https://idp","kind":"human","groups":["eng","","oncall"]"#));
        let back: Identity = serde_json::from_str(&text).unwrap();
        assert_eq!(back, id);
        assert_eq!(format!("{id:?}"), format!("{:?}", back));
    }

    #[test]
    fn inline_table_reads_as_the_packers() {
        let text = r#"{"sub":"s","iss":"i","sid":"x","groups":["g1","g2"],"amr":["pwd"],"n":1}"#;
        let at = |s: &str| {
            let start = text.find(&format!(r#""{s}""#)).unwrap() + 1;
            (start, start + s.len())
        };
        let singles = [None, Some(at("x")), None];
        let mut n = Narrow::new(at("s"), at("i"), singles, (0, text.len()));
        let mut p = Packer::over(text, 0, 3, at("s"), at("i"), singles);
        p.claims_part(0, text.len());
        for sink in [&mut n as &mut dyn SpanSink, &mut p] {
            sink.part(at("g1").0, at("g1").1);
            sink.part(at("g2").0, at("g2").1);
            sink.end_list();
            sink.end_list();
            sink.end_list();
            sink.parts(&[(at("pwd").0 as u32, at("pwd").1 as u32)]);
        }
        let inline = n
            .finish(text, IdentityKind::Human, Times::default())
            .unwrap();
        let packed = p.finish(
            IdentityKind::Human,
            Times::default(),
            None,
            ClaimsInit::Text,
        );
        assert!(matches!(inline.spans, Spans::Inline { .. }));
        assert!(matches!(packed.spans, Spans::Heap { .. }));
        assert_eq!(inline, packed);
        assert_eq!(inline.subject(), "s");
        assert_eq!(inline.issuer(), "i");
        assert_eq!(inline.session_id(), Some("x"));
        assert_eq!(inline.token_id(), None);
        assert_eq!(inline.groups(), ["g1", "g2"]);
        assert_eq!(inline.groups().get(1), Some("g2"));
        assert_eq!(
            inline.groups().iter().rev().collect::<Vec<_>>(),
            ["g2", "g1"]
        );
        assert!(inline.roles().is_empty() && inline.entitlements().is_empty());
        assert_eq!(inline.auth().methods(), ["pwd"]);
        assert_eq!(inline.claim("n"), Some(&json!(1)));
        assert_eq!(format!("{inline:?}"), format!("{packed:?}"));
        assert_eq!(inline.clone().to_builder(), packed.to_builder());
    }

    #[test]
    fn the_inline_table_is_no_larger_than_96_bytes() {
        // Its room (`INLINE`) is sized to this: an identity is moved by
        // value several times on the way out of a verification.
        assert!(std::mem::size_of::<Spans>() <= 96);
    }

    #[test]
    fn inline_table_declines_what_it_cannot_hold() {
        let text = "x".repeat(usize::from(u16::MAX) + 2);
        let room = INLINE - FIXED;
        let max = usize::from(u16::MAX);
        assert!(Narrow::fits(max, room));
        assert!(!Narrow::fits(max, room + 1));
        assert!(!Narrow::fits(max + 1, room));
        for (items, end, fits) in [
            (room, 1, true),
            (room + 1, 1, false),
            (1, usize::from(u16::MAX), true),
            (1, usize::from(u16::MAX) + 1, false),
        ] {
            let mut n = Narrow::new((0, 1), (0, 1), [None; 3], (0, 0));
            for _ in 0..items {
                n.part(0, end);
            }
            let id = n.finish(&text, IdentityKind::Service, Times::default());
            assert_eq!(id.is_some(), fits, "{items} {end}");
            if let Some(id) = id {
                assert_eq!(id.groups().len(), items);
                assert_eq!(id.groups().get(0).map(str::len), Some(end));
            }
        }
    }

    #[test]
    fn claims_from_text_parse_on_first_use() {
        let text = r#"{"sub":"s","aud":"api","iss":"i","n":[1,true],"sid":"sid","groups":["g"]}"#;
        let at = |s: &str| {
            let start = text.find(&format!(r#""{s}""#)).unwrap() + 1;
            (start, start + s.len())
        };
        let mut p = Packer::over(text, 0, 1, at("s"), at("i"), [None, Some(at("sid")), None]);
        p.claims_part(0, text.len());
        p.part(at("g").0, at("g").1);
        p.end_list();
        let id = p.finish(
            IdentityKind::Human,
            Times::default(),
            None,
            ClaimsInit::Text,
        );
        assert_eq!(id.groups(), ["g"]);
        assert!(id.roles().is_empty());
        assert_eq!(id.subject(), "s");
        assert_eq!(id.issuer(), "i");
        assert_eq!(id.session_id(), Some("sid"));
        assert_eq!(id.claim("n"), Some(&json!([1, true])));
        // The mapped claims of the text are not among the claims.
        assert_eq!(id.claims().keys().collect::<Vec<_>>(), ["aud", "n"]);
    }
}
