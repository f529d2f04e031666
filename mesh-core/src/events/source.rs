//! Sources: a wire format plus a mapping to OCSF plus a detection score.

use super::format::{Format, Limits};
use super::ocsf::{Event, Product};
use super::{EventError, Record};
use crate::Timestamp;

/// What a mapping may know besides the record itself.
#[derive(Clone, Copy, Debug)]
pub struct MapContext {
    /// The host's current time (RFC 3164 year inference; never a substitute
    /// for a missing event time).
    pub now: Timestamp,
    /// Size bounds for parsing.
    pub limits: Limits,
}

impl MapContext {
    /// A context at `now` with default limits.
    pub fn new(now: Timestamp) -> MapContext {
        MapContext {
            now,
            limits: Limits::default(),
        }
    }
}

/// How sure a source is that a record is one of its own: 0 (not mine) to
/// 100 (certain, e.g. a vendor/product header that names it).
pub type Confidence = u8;

/// A telemetry source: how to parse its records, how sure it is that a record
/// is its own, and how to map a record to OCSF.
///
/// Contract for [`Source::map`]:
/// * take (remove) the fields it maps from the record, with
///   [`Record::take`] and friends; [`map_and_finish`] then puts every field
///   left over under `unmapped`, so output is lossless by construction;
/// * set `class_uid`, `activity_id`, `time`, `severity_id`, `metadata.product`
///   and the class's required objects, or return
///   [`EventError::missing`] naming the attribute: never emit a required
///   attribute empty;
/// * leave derived attributes (`type_uid`, captions, `category_uid`,
///   profiles, `metadata.version`) to [`Event::finalize`].
///
/// ```
/// use mesh_core::events::format::Format;
/// use mesh_core::events::ocsf::{AuthenticationActivity, Event, Product, Service, User};
/// use mesh_core::events::{Confidence, EventError, MapContext, Normalizer, Record, Source};
/// use mesh_core::Timestamp;
///
/// struct Sshd;
///
/// impl Source for Sshd {
///     fn id(&self) -> &str { "example.sshd" }
///     fn format(&self) -> Format { Format::KeyValue }
///     fn product(&self) -> Product { Product::named("OpenBSD", "OpenSSH") }
///     fn detect(&self, r: &Record) -> Confidence {
///         if r.get_str("prog") == Some("sshd") { 80 } else { 0 }
///     }
///     fn map(&self, r: &mut Record, _ctx: &MapContext) -> Result<Event, EventError> {
///         let ts = r.take_i64("ts").ok_or_else(|| EventError::missing("time"))?;
///         let user = r.take_str("user").ok_or_else(|| EventError::missing("user"))?;
///         let mut e = Event::new(
///             AuthenticationActivity::Logon,
///             Timestamp::from_unix_seconds(ts),
///             self.product(),
///         );
///         e.user = Some(Box::new(User { name: Some(user), ..User::default() }));
///         e.service = r.take_str("prog").map(|p| Box::new(Service { name: Some(p), ..Service::default() }));
///         Ok(e)
///     }
/// }
///
/// let mut n = Normalizer::default();
/// n.register(Box::new(Sshd))?;
/// let e = n.normalize(b"ts=1700000000 prog=sshd user=alice port=22", None, Timestamp::EPOCH)?;
/// assert_eq!(e.type_uid, Some(300201));
/// assert_eq!(e.unmapped.unwrap()["port"], "22");
/// # Ok::<(), mesh_core::events::EventError>(())
/// ```
pub trait Source: Send + Sync {
    /// Stable id, lowercase with dots (`aws.cloudtrail`, `okta.system_log`).
    fn id(&self) -> &str;

    /// The wire format of the source's records.
    fn format(&self) -> Format;

    /// The product reported in `metadata.product`.
    fn product(&self) -> Product;

    /// Parses raw bytes into a record; by default with [`Source::format`].
    /// Override for sources that nest one format in another (CSV in syslog).
    fn parse(&self, raw: &[u8], ctx: &MapContext) -> Result<Record, EventError> {
        self.format()
            .parse(raw, ctx.now, &ctx.limits)
            .map_err(|e| e.into_event_error(raw))
    }

    /// How sure the source is that `record` (parsed in [`Source::format`])
    /// is its own. Must be cheap: it runs for every source when no hint is given.
    fn detect(&self, record: &Record) -> Confidence;

    /// Maps a record to an OCSF event (see the trait docs for the contract).
    fn map(&self, record: &mut Record, ctx: &MapContext) -> Result<Event, EventError>;

    /// Parses and maps raw bytes in one pass, for a source that can do so
    /// without building a [`Record`]: the finished event (as
    /// [`map_and_finish`] gives it, `raw_data` left to the caller), or
    /// `None` when the source has no such path or leaves this record to the
    /// general one ([`Source::parse`], then [`map_and_finish`]). An event
    /// returned here must equal the general path's. Default: `None`.
    fn normalize_raw(&self, raw: &[u8], ctx: &MapContext) -> Option<Result<Event, EventError>> {
        let _ = (raw, ctx);
        None
    }

    /// [`Source::normalize_raw`] written straight as JSON: appends to `out`
    /// the bytes `serde_json::to_vec` gives for that event (with `raw_data`
    /// set to `raw` when `keep_raw_data`), or returns `None`, with nothing
    /// written, when the source has no such path or leaves this record to
    /// the general one. Default: `None`.
    fn normalize_raw_json(
        &self,
        raw: &[u8],
        ctx: &MapContext,
        keep_raw_data: bool,
        out: &mut Vec<u8>,
    ) -> Option<Result<(), EventError>> {
        let _ = (raw, ctx, keep_raw_data, out);
        None
    }
}

/// Runs a source's mapping, then puts the record's remaining fields under
/// `unmapped` and finalizes the event. `raw_data` is left to the caller.
pub fn map_and_finish(
    source: &dyn Source,
    mut record: Record,
    ctx: &MapContext,
) -> Result<Event, EventError> {
    let event = source.map(&mut record, ctx)?;
    Ok(finish(source, event, record.into_unmapped()))
}

/// The end of [`map_and_finish`]: the default product, the fields no
/// mapping took under `unmapped` (`rest`, already in that shape), and
/// [`Event::finalize`].
pub(crate) fn finish(
    source: &(impl Source + ?Sized),
    mut event: Event,
    rest: serde_json::Map<String, serde_json::Value>,
) -> Event {
    finish_in_place(source, &mut event, rest);
    event
}

/// [`finish`] in place.
pub(crate) fn finish_in_place(
    source: &(impl Source + ?Sized),
    event: &mut Event,
    rest: serde_json::Map<String, serde_json::Value>,
) {
    if event
        .metadata
        .as_ref()
        .and_then(|m| m.product.as_ref())
        .is_none()
    {
        event.metadata_mut().product = Some(Box::new(source.product()));
    }
    if !rest.is_empty() {
        match &mut event.unmapped {
            Some(existing) => existing.extend(rest),
            None => event.unmapped = Some(rest),
        }
    }
    event.finalize();
}
