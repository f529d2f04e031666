//! The built-in sources: typed mappings of the telemetry mesh knows out of
//! the box, each with a detection score for records that come without a hint.
//!
//! | id | records | OCSF classes |
//! |----|---------|--------------|
//! | `aws.cloudtrail` | CloudTrail records (JSON) | 3002, 3001, 6003 |
//! | `okta.system_log` | Okta System Log events (JSON) | 3002, 3001, 3005, 6003 |
//! | `microsoft.entra_id` | Entra ID sign-in and audit logs (Graph or Azure Monitor JSON) | 3002, 3001, 3005 |
//! | `gcp.audit` | Google Cloud audit log entries (JSON) | 6003, 3001 |
//! | `microsoft.windows_security` | Windows Security events (JSON) | 3002, 3003, 3001, 3005, 1007 |
//! | `microsoft.sysmon` | Sysmon events 1, 3, 11, 22 (JSON) | 1007, 4001, 1001, 4003 |
//! | `linux.auth` | `auth.log` sshd and sudo lines (syslog) | 3002, 3003 |
//! | `zeek` | Zeek conn, dns, http logs (JSON) | 4001, 4003, 4002 |
//! | `suricata.eve` | Suricata EVE alert, flow, dns, http (JSON) | 2004, 4001, 4003, 4002 |
//! | `paloalto.panos` | PAN-OS TRAFFIC and THREAT logs (CSV in syslog) | 4001, 2004 |
//! | `fortinet.fortigate` | FortiGate traffic and UTM logs (key=value) | 4001, 2004 |
//! | `fortinet.fortigate.syslog` | the same inside a syslog header | 4001, 2004 |
//! | `cef` | any CEF record | best fit: 3002, 3001, 2004, 4002, 4001 |
//! | `leef` | any LEEF 1.0/2.0 record | best fit: 3002, 3001, 2004, 4002, 4001 |
//!
//! # Lossless
//! A mapping *takes* the source fields it maps; whatever is left (including
//! placeholders such as `-`) goes to `unmapped` in the shape documented in
//! [`crate::events::ocsf`]. JSON `null`s carry no value and are dropped.
//!
//! # Actor key
//! Mappings put the event's principal where [`Event::actor_key`] looks for
//! it — `actor.user` when someone acts on something, `user` for a logon — with
//! the raw identifiers kept as the source gives them (ARN, Okta id, object
//! id, SID in `uid`; e-mail or UPN in `email_addr`). `Event::actor_key` then
//! yields the same canonical [`crate::ActorKey`] the identity fabric gives
//! for that subject (e.g. the e-mail session name of an AWS assumed role).
//! Well-known system accounts (Local System, the null SID) are never made
//! the principal.

mod aws_cloudtrail;
mod cef;
mod cloudtrail_json;
mod common;
pub(crate) mod doc;
mod entra_id;
mod fields;
mod fortigate;
mod gcp_audit;
mod generic;
mod leef;
mod linux_auth;
mod okta;
mod panos;
mod suricata;
mod sysmon;
mod windows_security;
mod winevent;
mod zeek;

use crate::events::format::Format;
use crate::events::ocsf::{Class, Event, Product, Service};
use crate::events::source::{finish, finish_in_place};
use crate::events::write::{unwritable, write_event_spliced};
use crate::events::{Confidence, EventError, MapContext, Normalizer, Record, Source};

use doc::Doc;
use fields::{Fields, View};

type DetectFn = fn(&View<'_>) -> Option<u8>;
type MapFn = fn(&mut Fields, &MapContext) -> Result<Event, EventError>;
type ParseFn = fn(&[u8], &MapContext) -> Result<Record, EventError>;
type DocMapFn = fn(&mut Doc<'_>, &MapContext) -> Result<Event, EventError>;
type DocWriteFn = fn(&mut Doc<'_>, Option<&str>, &mut Vec<u8>) -> Option<()>;

/// A built-in source: plain functions behind the [`Source`] trait.
struct Builtin {
    id: &'static str,
    format: Format,
    vendor: &'static str,
    product: &'static str,
    detect: DetectFn,
    map: MapFn,
    parse: Option<ParseFn>,
    /// The same mapping as `map`, on a JSON record parsed with borrowed
    /// strings (see [`Source::normalize_raw`]).
    map_doc: Option<DocMapFn>,
    /// The same mapping again, written straight to JSON from the record
    /// parsed with borrowed strings, with `raw_data` when given (see
    /// [`Source::normalize_raw_json`]); `None` from it leaves the record to
    /// the general path.
    write_doc: Option<DocWriteFn>,
}

impl Source for Builtin {
    fn id(&self) -> &str {
        self.id
    }

    fn format(&self) -> Format {
        self.format
    }

    fn product(&self) -> Product {
        Product::named(self.vendor, self.product)
    }

    fn parse(&self, raw: &[u8], ctx: &MapContext) -> Result<Record, EventError> {
        match self.parse {
            Some(parse) => parse(raw, ctx),
            None => self
                .format
                .parse(raw, ctx.now, &ctx.limits)
                .map_err(|e| e.into_event_error(raw)),
        }
    }

    fn detect(&self, record: &Record) -> Confidence {
        (self.detect)(&View(record.fields())).unwrap_or(0)
    }

    fn map(&self, record: &mut Record, ctx: &MapContext) -> Result<Event, EventError> {
        let mut fields = Fields::new(std::mem::take(record));
        let out = (self.map)(&mut fields, ctx);
        *record = fields.into_record();
        self.complete(out?)
    }

    fn normalize_raw(&self, raw: &[u8], ctx: &MapContext) -> Option<Result<Event, EventError>> {
        let (event, doc) = self.map_raw(raw, ctx)?;
        Some(Ok(finish(self, event, doc.into_unmapped())))
    }

    fn normalize_raw_json(
        &self,
        raw: &[u8],
        ctx: &MapContext,
        keep_raw_data: bool,
        out: &mut Vec<u8>,
    ) -> Option<Result<(), EventError>> {
        if let Some(write) = self.write_doc {
            if self.format != Format::Json || raw.len() > ctx.limits.max_record_bytes {
                return None;
            }
            let mut doc = Doc::parse(raw)?;
            // The parse checked that the bytes are UTF-8: borrowed.
            let raw_data = keep_raw_data.then(|| String::from_utf8_lossy(raw));
            // The event holds about the record (most of it under
            // `unmapped`) plus its own attributes.
            let raw_data_len = raw_data.as_ref().map_or(0, |r| r.len());
            out.reserve(raw.len() + raw_data_len + 768);
            let start = out.len();
            if write(&mut doc, raw_data.as_deref(), out).is_some() {
                return Some(Ok(()));
            }
            out.truncate(start);
            return None;
        }
        let (mut event, doc) = self.map_raw(raw, ctx)?;
        if keep_raw_data {
            event.raw_data = Some(String::from_utf8_lossy(raw).into_owned());
        }
        if event.unmapped.is_none() {
            // `unmapped` is written from the record's remains, in place.
            finish_in_place(self, &mut event, serde_json::Map::new());
            let mut ambiguous = false;
            let mut splice = |o: &mut Vec<u8>| {
                doc.write_unmapped(o).unwrap_or_else(|| {
                    ambiguous = true;
                    0
                })
            };
            let start = out.len();
            let written = write_event_spliced(&event, out, &mut splice).is_ok();
            if written && !ambiguous {
                return Some(Ok(()));
            }
            out.truncate(start);
        }
        finish_in_place(self, &mut event, doc.into_unmapped());
        Some(event.write_json(out).map_err(unwritable))
    }
}

impl Builtin {
    /// The one-pass mapping: the event as mapped and completed, not yet
    /// finished, and what is left of the record; `None` leaves the record to
    /// the general path (no one-pass mapping, not a JSON object the parser
    /// takes, or a mapping error, which the general path reports).
    fn map_raw<'r>(&self, raw: &'r [u8], ctx: &MapContext) -> Option<(Event, Doc<'r>)> {
        let map_doc = self.map_doc?;
        if self.format != Format::Json || raw.len() > ctx.limits.max_record_bytes {
            return None;
        }
        let mut doc = Doc::parse(raw)?;
        // Errors are rare: the general path reports them.
        let mut event = map_doc(&mut doc, ctx).ok()?;
        self.check(&mut event).ok()?;
        Some((event, doc))
    }

    /// Checks a mapped event against its class's "at least one of"
    /// constraints (see [`Source::map`]).
    fn complete(&self, mut event: Event) -> Result<Event, EventError> {
        self.check(&mut event)?;
        Ok(event)
    }

    /// [`Builtin::complete`] in place.
    fn check(&self, event: &mut Event) -> Result<(), EventError> {
        // The classes' "at least one of" constraints, with one fallback: a
        // logon with no known destination was to the source's own service.
        let missing = match event.class() {
            Some(Class::Authentication) => {
                if event.service.is_none() && event.dst_endpoint.is_none() {
                    event.service = Some(Box::new(Service {
                        name: Some(self.product.to_owned()),
                        ..Service::default()
                    }));
                }
                None
            }
            Some(Class::NetworkActivity | Class::DnsActivity)
                if event.src_endpoint.is_none() && event.dst_endpoint.is_none() =>
            {
                Some("src_endpoint")
            }
            Some(Class::HttpActivity)
                if event.http_request.is_none() && event.http_response.is_none() =>
            {
                Some("http_request")
            }
            Some(Class::AuthorizeSession)
                if event.privileges.is_none() && event.group.is_none() =>
            {
                Some("privileges")
            }
            _ => None,
        };
        match missing {
            Some(attribute) => Err(EventError::missing(attribute)),
            None => Ok(()),
        }
    }
}

const fn json(
    id: &'static str,
    vendor: &'static str,
    product: &'static str,
    detect: DetectFn,
    map: MapFn,
) -> Builtin {
    Builtin {
        id,
        format: Format::Json,
        vendor,
        product,
        detect,
        map,
        parse: None,
        map_doc: None,
        write_doc: None,
    }
}

fn all() -> Vec<Builtin> {
    vec![
        Builtin {
            map_doc: Some(aws_cloudtrail::map_doc),
            write_doc: Some(cloudtrail_json::write),
            ..json(
                "aws.cloudtrail",
                "AWS",
                "CloudTrail",
                aws_cloudtrail::detect,
                aws_cloudtrail::map,
            )
        },
        json(
            "okta.system_log",
            "Okta",
            "System Log",
            okta::detect,
            okta::map,
        ),
        json(
            "microsoft.entra_id",
            "Microsoft",
            "Entra ID",
            entra_id::detect,
            entra_id::map,
        ),
        json(
            "gcp.audit",
            "Google",
            "Cloud Audit Logs",
            gcp_audit::detect,
            gcp_audit::map,
        ),
        json(
            "microsoft.windows_security",
            "Microsoft",
            "Windows Security Auditing",
            windows_security::detect,
            windows_security::map,
        ),
        json(
            "microsoft.sysmon",
            "Microsoft",
            "Sysmon",
            sysmon::detect,
            sysmon::map,
        ),
        json("zeek", "Zeek", "Zeek", zeek::detect, zeek::map),
        json(
            "suricata.eve",
            "OISF",
            "Suricata",
            suricata::detect,
            suricata::map,
        ),
        Builtin {
            format: Format::Syslog,
            ..json(
                "linux.auth",
                "Linux",
                "auth.log",
                linux_auth::detect,
                linux_auth::map,
            )
        },
        Builtin {
            format: Format::Syslog,
            parse: Some(panos::parse),
            ..json(
                "paloalto.panos",
                "Palo Alto Networks",
                "PAN-OS",
                panos::detect,
                panos::map,
            )
        },
        Builtin {
            format: Format::KeyValue,
            ..json(
                "fortinet.fortigate",
                "Fortinet",
                "FortiGate",
                fortigate::detect,
                fortigate::map,
            )
        },
        Builtin {
            format: Format::Syslog,
            ..json(
                "fortinet.fortigate.syslog",
                "Fortinet",
                "FortiGate",
                fortigate::detect_syslog,
                fortigate::map,
            )
        },
        Builtin {
            format: Format::Cef,
            ..json("cef", "", "CEF", cef::detect, cef::map)
        },
        Builtin {
            format: Format::Leef,
            ..json("leef", "", "LEEF", leef::detect, leef::map)
        },
    ]
}

/// The ids of the built-in sources, in registration order.
pub fn builtin_source_ids() -> Vec<&'static str> {
    all().iter().map(|b| b.id).collect()
}

/// The built-in sources, ready to register.
pub fn builtin_sources() -> Vec<Box<dyn Source>> {
    all()
        .into_iter()
        .map(|b| Box::new(b) as Box<dyn Source>)
        .collect()
}

/// Registers every built-in source with a normalizer.
pub fn register_builtin(normalizer: &mut Normalizer) -> Result<(), EventError> {
    for s in builtin_sources() {
        normalizer.register(s)?;
    }
    Ok(())
}
