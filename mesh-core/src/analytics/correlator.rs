//! The correlation engine and its built-in detections.
//!
//! # Time and order
//!
//! Time comes only from events. The correlator keeps a watermark: the latest
//! event time seen minus the allowed lateness. An event older than the
//! watermark is *late*: it is counted ([`CorrelatorStats::late_events`]) and
//! reported ([`Admission::Late`]), not processed. Other events wait in a
//! bounded reorder buffer and are processed in event-time order once the
//! watermark passes them, so sequences ("A then B within T") hold even when
//! sources deliver slightly out of order. [`Correlator::flush`] drains the
//! buffer at the end of a stream.
//!
//! # Bounded state
//!
//! State lives in two capped maps: per actor ([`crate::ActorKey`]) and per
//! source IP. Each is limited to a configured number of entries; a new key
//! in a full map evicts one by the CLOCK policy (an approximation of least
//! recently used), and entries idle longer than the TTL expire through an
//! incremental sweep. Evictions and expiries are counted in
//! [`CorrelatorStats`]. Every per-key ring is capped by its detection's
//! threshold, so a key's state is bounded too.
//!
//! Memory per tracked actor: a fixed part (the slot: the key, inline when
//! at most 30 bytes so that a lookup follows no pointer, else on the heap,
//! its hash and the actor's state, including the last located logon and up
//! to 8 countries; and a 4-byte index entry holding the slot number, found
//! by the hash, which is computed once per event for every detection's
//! lookup), plus
//! rings bounded by the thresholds: at most `max(brute_force_failures,
//! brute_success_failures)` failed logons and `mfa_denials` denied pushes
//! (one time and one event uid each), [`MAX_SESSIONS`] sessions, the last
//! located logon's event uid and the last privilege grant. Event
//! uids longer than 256 bytes are not kept and keys are at most 512 bytes,
//! so with the default thresholds one actor can never hold more than about
//! 7.5 KiB, and the whole actor map at most `max_actors` times that.
//! Measured with a counting allocator (`tests/analytics_memory.rs`, 2 000
//! actors, allocator slack of the maps included): about 650 bytes per actor
//! for the benchmark's traffic (logons with location, failures, pushes,
//! session uses; per-source state included), and under 2 KiB in the worst
//! case of every ring full with 36-byte event uids.
//! [`Correlator::approx_state_bytes`] measures the live total.

use std::collections::VecDeque;
use std::net::IpAddr;

use serde_json::Value;

use super::attack::{
    Attack, COLLECTION, CREDENTIAL_ACCESS, DEFENSE_EVASION, INITIAL_ACCESS, LATERAL_MOVEMENT,
    PRIVILEGE_ESCALATION,
};
use super::event::{Event, Text};
use super::finding::{Evidence, Finding, Severity};
use super::ocsf::{class, Fields, Signal, STATUS_FAILURE, STATUS_SUCCESS};
use super::state::{fnv64, BoundedMap, CompactKey, DistinctWindow, Mark, SlidingCount};
use super::AnalyticsError;
use crate::Timestamp;

/// Most sessions remembered per actor for session-reuse detection.
pub const MAX_SESSIONS: usize = 4;
/// Most countries remembered per actor for new-country detection.
const MAX_COUNTRIES: usize = 8;

/// The built-in detections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DetectionId {
    /// One source IP fails logons for many distinct users (T1110.003).
    PasswordSpray,
    /// Many failed logons for one actor (T1110.001).
    BruteForce,
    /// Many failed logons, then a successful one (T1110.001, T1078).
    BruteForceSuccess,
    /// Many denied MFA pushes, then an accepted one (T1621).
    MfaFatigue,
    /// Two successful logons too far apart for the time between them (T1078).
    ImpossibleTravel,
    /// A successful logon from a country the actor was not seen in (T1078).
    NewCountryLogin,
    /// A session seen from a second device (T1550.004).
    SessionReuseDevice,
    /// A session seen from a second autonomous system (T1550.004).
    SessionReuseAsn,
    /// A privilege grant followed by mass data access (T1098, T1530, T1078.004).
    PrivilegeMassAccess,
    /// Cloud audit logging stopped or deleted (T1562.008).
    AuditLoggingDisabled,
    /// An event log cleared, e.g. Windows event 1102 (T1070.001).
    EventLogCleared,
    /// An observable matched a threat-intelligence indicator.
    ThreatIntelMatch,
}

impl DetectionId {
    /// Every built-in detection.
    pub const ALL: [DetectionId; 12] = [
        DetectionId::PasswordSpray,
        DetectionId::BruteForce,
        DetectionId::BruteForceSuccess,
        DetectionId::MfaFatigue,
        DetectionId::ImpossibleTravel,
        DetectionId::NewCountryLogin,
        DetectionId::SessionReuseDevice,
        DetectionId::SessionReuseAsn,
        DetectionId::PrivilegeMassAccess,
        DetectionId::AuditLoggingDisabled,
        DetectionId::EventLogCleared,
        DetectionId::ThreatIntelMatch,
    ];

    /// The stable snake_case id, used as the finding's analytic uid.
    pub const fn as_str(self) -> &'static str {
        match self {
            DetectionId::PasswordSpray => "password_spray",
            DetectionId::BruteForce => "brute_force",
            DetectionId::BruteForceSuccess => "brute_force_success",
            DetectionId::MfaFatigue => "mfa_fatigue",
            DetectionId::ImpossibleTravel => "impossible_travel",
            DetectionId::NewCountryLogin => "new_country_login",
            DetectionId::SessionReuseDevice => "session_reuse_device",
            DetectionId::SessionReuseAsn => "session_reuse_asn",
            DetectionId::PrivilegeMassAccess => "privilege_mass_access",
            DetectionId::AuditLoggingDisabled => "audit_logging_disabled",
            DetectionId::EventLogCleared => "event_log_cleared",
            DetectionId::ThreatIntelMatch => "ti_match",
        }
    }

    /// The detection with this id.
    pub fn from_name(s: &str) -> Option<DetectionId> {
        DetectionId::ALL.into_iter().find(|d| d.as_str() == s)
    }

    const fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Default severity of the detection's findings.
    pub const fn severity(self) -> Severity {
        match self {
            DetectionId::NewCountryLogin => Severity::Low,
            DetectionId::PasswordSpray
            | DetectionId::BruteForce
            | DetectionId::ImpossibleTravel
            | DetectionId::SessionReuseAsn => Severity::Medium,
            DetectionId::BruteForceSuccess
            | DetectionId::MfaFatigue
            | DetectionId::SessionReuseDevice
            | DetectionId::PrivilegeMassAccess
            | DetectionId::AuditLoggingDisabled
            | DetectionId::EventLogCleared
            | DetectionId::ThreatIntelMatch => Severity::High,
        }
    }

    /// Finding title.
    pub const fn title(self) -> &'static str {
        match self {
            DetectionId::PasswordSpray => "Password spraying from one source",
            DetectionId::BruteForce => "Brute-force logon attempts",
            DetectionId::BruteForceSuccess => "Successful logon after brute force",
            DetectionId::MfaFatigue => "MFA fatigue: push accepted after repeated denials",
            DetectionId::ImpossibleTravel => "Impossible travel between logons",
            DetectionId::NewCountryLogin => "Logon from a new country",
            DetectionId::SessionReuseDevice => "Session reused from another device",
            DetectionId::SessionReuseAsn => "Session reused from another network",
            DetectionId::PrivilegeMassAccess => "Privilege grant followed by mass data access",
            DetectionId::AuditLoggingDisabled => "Cloud audit logging disabled",
            DetectionId::EventLogCleared => "Event log cleared",
            DetectionId::ThreatIntelMatch => "Threat intelligence indicator matched",
        }
    }

    /// The ATT&CK references of the detection.
    pub fn attacks(self) -> Vec<Attack> {
        let valid = || Attack::new("T1078", "Valid Accounts", "Valid Accounts", INITIAL_ACCESS);
        match self {
            DetectionId::PasswordSpray => vec![Attack::new(
                "T1110.003",
                "Password Spraying",
                "Brute Force",
                CREDENTIAL_ACCESS,
            )],
            DetectionId::BruteForce => vec![Attack::new(
                "T1110.001",
                "Password Guessing",
                "Brute Force",
                CREDENTIAL_ACCESS,
            )],
            DetectionId::BruteForceSuccess => vec![
                Attack::new(
                    "T1110.001",
                    "Password Guessing",
                    "Brute Force",
                    CREDENTIAL_ACCESS,
                ),
                valid(),
            ],
            DetectionId::MfaFatigue => vec![Attack::new(
                "T1621",
                "Multi-Factor Authentication Request Generation",
                "Multi-Factor Authentication Request Generation",
                CREDENTIAL_ACCESS,
            )],
            DetectionId::ImpossibleTravel | DetectionId::NewCountryLogin => vec![valid()],
            DetectionId::SessionReuseDevice | DetectionId::SessionReuseAsn => vec![
                Attack::new(
                    "T1550.004",
                    "Web Session Cookie",
                    "Use Alternate Authentication Material",
                    DEFENSE_EVASION,
                ),
                Attack::new(
                    "T1550.004",
                    "Web Session Cookie",
                    "Use Alternate Authentication Material",
                    LATERAL_MOVEMENT,
                ),
            ],
            DetectionId::PrivilegeMassAccess => vec![
                Attack::new(
                    "T1098",
                    "Account Manipulation",
                    "Account Manipulation",
                    PRIVILEGE_ESCALATION,
                ),
                Attack::new(
                    "T1078.004",
                    "Cloud Accounts",
                    "Valid Accounts",
                    PRIVILEGE_ESCALATION,
                ),
                Attack::new(
                    "T1530",
                    "Data from Cloud Storage",
                    "Data from Cloud Storage",
                    COLLECTION,
                ),
            ],
            DetectionId::AuditLoggingDisabled => vec![Attack::new(
                "T1562.008",
                "Disable or Modify Cloud Logs",
                "Impair Defenses",
                DEFENSE_EVASION,
            )],
            DetectionId::EventLogCleared => vec![Attack::new(
                "T1070.001",
                "Clear Windows Event Logs",
                "Indicator Removal",
                DEFENSE_EVASION,
            )],
            DetectionId::ThreatIntelMatch => Vec::new(),
        }
    }
}

/// Detection thresholds and windows (milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Distinct users failing from one IP to call it spraying (default 10).
    pub spray_distinct_users: usize,
    /// Window for spraying (default 10 min).
    pub spray_window_ms: i64,
    /// Failed logons for brute force (default 10).
    pub brute_force_failures: usize,
    /// Failed logons before a success for brute-force-then-success (default 5).
    pub brute_success_failures: usize,
    /// Window for both brute-force detections (default 5 min).
    pub brute_force_window_ms: i64,
    /// Denied pushes before an accepted one (default 5).
    pub mfa_denials: usize,
    /// Window for MFA fatigue (default 10 min).
    pub mfa_window_ms: i64,
    /// Speed above which travel is impossible, km/h (default 1000).
    pub travel_max_kmh: f64,
    /// Distance below which travel is never flagged, km (default 500).
    pub travel_min_km: f64,
    /// Reads after a privilege grant that count as mass access (default 100).
    pub mass_access_reads: u32,
    /// Window after a grant for mass access (default 1 h).
    pub mass_access_window_ms: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            spray_distinct_users: 10,
            spray_window_ms: 600_000,
            brute_force_failures: 10,
            brute_success_failures: 5,
            brute_force_window_ms: 300_000,
            mfa_denials: 5,
            mfa_window_ms: 600_000,
            travel_max_kmh: 1000.0,
            travel_min_km: 500.0,
            mass_access_reads: 100,
            mass_access_window_ms: 3_600_000,
        }
    }
}

/// Configuration of a [`Correlator`].
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelatorConfig {
    /// How far behind the latest event time an event may be and still be
    /// processed, in ms (default 5 s). Zero processes events as they come
    /// and counts every out-of-order one as late.
    pub allowed_lateness_ms: i64,
    /// Most events held in the reorder buffer (default 65 536); beyond it the
    /// oldest is processed early (counted as a forced release).
    pub max_buffered: usize,
    /// Most actors tracked at once (default 1 000 000).
    pub max_actors: usize,
    /// Most source IPs tracked at once (default 1 000 000).
    pub max_sources: usize,
    /// Idle time after which a key's state expires, in ms (default 24 h).
    pub ttl_ms: i64,
    /// Detections to run (default: all).
    pub enabled: Vec<DetectionId>,
    /// Thresholds and windows.
    pub thresholds: Thresholds,
}

impl Default for CorrelatorConfig {
    fn default() -> Self {
        CorrelatorConfig {
            allowed_lateness_ms: 5_000,
            max_buffered: 65_536,
            max_actors: 1_000_000,
            max_sources: 1_000_000,
            ttl_ms: 86_400_000,
            enabled: DetectionId::ALL.to_vec(),
            thresholds: Thresholds::default(),
        }
    }
}

/// What happened to an observed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Accepted; processed now or once the watermark passes it.
    Accepted,
    /// Older than the watermark by `behind_ms`: counted, not processed.
    Late {
        /// How far behind the watermark the event was.
        behind_ms: i64,
    },
}

/// Counters of a [`Correlator`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CorrelatorStats {
    /// Events processed by the detections.
    pub events: u64,
    /// Events rejected for arriving after the watermark.
    pub late_events: u64,
    /// Events processed before the watermark passed them because the
    /// reorder buffer was full.
    pub forced_releases: u64,
    /// Events waiting in the reorder buffer.
    pub buffered: usize,
    /// Actors tracked now.
    pub tracked_actors: usize,
    /// Source IPs tracked now.
    pub tracked_sources: usize,
    /// Actors evicted because the actor map was full.
    pub evicted_actors: u64,
    /// Sources evicted because the source map was full.
    pub evicted_sources: u64,
    /// Actor and source entries expired by the TTL.
    pub expired: u64,
    /// Findings emitted.
    pub findings: u64,
}

#[derive(Debug, Clone)]
struct Login {
    time: i64,
    lat: f64,
    lon: f64,
    uid: Option<Box<str>>,
    ip: Option<IpAddr>,
}

#[derive(Debug, Clone)]
struct SessionMark {
    session: u64,
    device: Option<u64>,
    asn: Option<u32>,
    time: i64,
    uid: Option<Box<str>>,
    alerted: bool,
}

#[derive(Debug, Clone)]
struct Grant {
    time: i64,
    uid: Option<Box<str>>,
    reads: u32,
    alerted: bool,
}

#[derive(Debug, Default, Clone)]
struct ActorState {
    failures: SlidingCount,
    brute_alerted: bool,
    push_denials: SlidingCount,
    /// Inline, like the countries: read on every located logon, so no
    /// pointer to follow.
    last_login: Option<Login>,
    countries: Countries,
    sessions: Vec<SessionMark>,
    grant: Option<Box<Grant>>,
}

impl ActorState {
    fn heap_bytes(&self) -> usize {
        self.failures.heap_bytes()
            + self.push_denials.heap_bytes()
            + self
                .last_login
                .as_ref()
                .map_or(0, |l| l.uid.as_ref().map_or(0, |u| u.len()))
            + self.sessions.capacity() * std::mem::size_of::<SessionMark>()
            + self
                .grant
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<Grant>())
    }
}

/// The hashes of the last [`MAX_COUNTRIES`] countries, oldest first.
#[derive(Debug, Default, Clone)]
struct Countries {
    hashes: [u64; MAX_COUNTRIES],
    len: usize,
}

impl Countries {
    fn contains(&self, h: u64) -> bool {
        self.hashes.iter().take(self.len).any(|&x| x == h)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `h`, forgetting the oldest when full.
    fn push(&mut self, h: u64) {
        if self.len >= MAX_COUNTRIES {
            self.hashes.copy_within(1.., 0);
            self.len = MAX_COUNTRIES - 1;
        }
        if let Some(slot) = self.hashes.get_mut(self.len) {
            *slot = h;
            self.len += 1;
        }
    }
}

#[derive(Debug, Default, Clone)]
struct SourceState {
    failed_users: DistinctWindow,
}

struct Pending {
    time: i64,
    event: Event,
}

/// An event's actor as the actor map looks it up: its key and the key's
/// hash.
struct ActorRef<'a> {
    key: &'a CompactKey,
    hash: u64,
}

/// Stateful, actor-keyed correlation over OCSF events (see the module docs).
pub struct Correlator {
    config: CorrelatorConfig,
    enabled: u32,
    /// Keyed by the actor key's text, held inline when short.
    actors: BoundedMap<CompactKey, ActorState>,
    sources: BoundedMap<IpAddr, SourceState>,
    /// Reorder buffer, sorted by time (stable for equal times).
    buffer: VecDeque<Pending>,
    max_time: Option<i64>,
    stats: CorrelatorStats,
}

/// Sweep steps per processed event (amortized TTL expiry).
const SWEEP_STEPS: usize = 2;

/// Cloud API operations that stop or delete audit logging (T1562.008).
const AUDIT_DISABLING_OPERATIONS: [&str; 6] = [
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "Microsoft.Insights/DiagnosticSettings/Delete",
    "google.logging.v2.ConfigServiceV2.DeleteSink",
];

impl std::fmt::Debug for Correlator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Correlator")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Correlator {
    /// A correlator with this configuration.
    pub fn new(config: CorrelatorConfig) -> Correlator {
        let enabled = config.enabled.iter().fold(0, |m, d| m | d.bit());
        Correlator {
            actors: BoundedMap::new(config.max_actors),
            sources: BoundedMap::new(config.max_sources),
            enabled,
            config,
            buffer: VecDeque::new(),
            max_time: None,
            stats: CorrelatorStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CorrelatorConfig {
        &self.config
    }

    /// Counters, including tracked and evicted state.
    pub fn stats(&self) -> CorrelatorStats {
        CorrelatorStats {
            buffered: self.buffer.len(),
            tracked_actors: self.actors.len(),
            tracked_sources: self.sources.len(),
            evicted_actors: self.actors.evicted_capacity,
            evicted_sources: self.sources.evicted_capacity,
            expired: self.actors.expired + self.sources.expired,
            ..self.stats
        }
    }

    /// The watermark: events older than this are late. `None` before the
    /// first event.
    pub fn watermark(&self) -> Option<Timestamp> {
        self.max_time
            .map(|t| Timestamp::from_unix_millis(t.saturating_sub(self.config.allowed_lateness_ms)))
    }

    /// Approximate bytes of correlation state held now (maps, keys, rings,
    /// reorder buffer).
    pub fn approx_state_bytes(&self) -> usize {
        // An index entry (slot number and control byte), the slot (key,
        // hash, state, last use, reference bit) and a free-list entry.
        let per_actor_fixed = std::mem::size_of::<u32>()
            + 1
            + std::mem::size_of::<Option<(CompactKey, u64, ActorState, i64, bool)>>()
            + 4;
        let actors: usize = self
            .actors
            .entries()
            .map(|(k, st)| k.heap_bytes() + st.heap_bytes())
            .sum::<usize>()
            + self.actors.len() * per_actor_fixed;
        let sources: usize = self
            .sources
            .values()
            .map(|s| s.failed_users.heap_bytes())
            .sum::<usize>()
            + self.sources.len()
                * (std::mem::size_of::<u32>()
                    + 1
                    + std::mem::size_of::<Option<(IpAddr, u64, SourceState, i64, bool)>>()
                    + 4);
        let buffer: usize = self
            .buffer
            .iter()
            .map(|p| std::mem::size_of::<Pending>() + p.event.heap_bytes())
            .sum();
        actors + sources + buffer
    }

    /// Observes one OCSF event. Findings completed by events released from
    /// the reorder buffer are appended to `out`.
    ///
    /// Errors only when the event is not an object with an integer `time`.
    pub fn observe(
        &mut self,
        event: &Value,
        out: &mut Vec<Finding>,
    ) -> Result<Admission, AnalyticsError> {
        let event = Event::from_fields(&Fields::from_value(event))?;
        Ok(self.observe_event(event, out))
    }

    /// Observes one OCSF event given as JSON text (an NDJSON line), read
    /// straight into a [`Signal`] without building a [`Value`] (see
    /// [`Signal::from_json`]). Same findings and errors as parsing the text
    /// and calling [`Correlator::observe`], faster.
    pub fn observe_json(
        &mut self,
        text: &str,
        out: &mut Vec<Finding>,
    ) -> Result<Admission, AnalyticsError> {
        let mut fields = Fields::default();
        super::ocsf_text::fields_into(text, &mut fields)?;
        let event = Event::from_fields(&fields)?;
        Ok(self.observe_event(event, out))
    }

    /// Observes an already-read [`Signal`].
    pub fn observe_signal(&mut self, signal: Signal, out: &mut Vec<Finding>) -> Admission {
        self.observe_event(Event::from_signal(&signal), out)
    }

    fn observe_event(&mut self, event: Event, out: &mut Vec<Finding>) -> Admission {
        let t = event.time.unix_millis();
        let lateness = self.config.allowed_lateness_ms.max(0);
        if let Some(max) = self.max_time {
            let watermark = max.saturating_sub(lateness);
            if t < watermark {
                self.stats.late_events += 1;
                return Admission::Late {
                    behind_ms: watermark.saturating_sub(t),
                };
            }
        }
        let max = self.max_time.map_or(t, |m| m.max(t));
        self.max_time = Some(max);
        if lateness == 0 && self.buffer.is_empty() {
            self.process(&event, out);
            return Admission::Accepted;
        }
        // Sorted insert: in-order events (the common case) go to the back.
        let pending = Pending { time: t, event };
        if self.buffer.back().is_none_or(|b| b.time <= t) {
            self.buffer.push_back(pending);
        } else {
            let pos = self.buffer.partition_point(|p| p.time <= t);
            self.buffer.insert(pos, pending);
        }
        if self.buffer.len() > self.config.max_buffered.max(1) {
            if let Some(p) = self.buffer.pop_front() {
                self.stats.forced_releases += 1;
                self.process(&p.event, out);
            }
        }
        let watermark = max.saturating_sub(lateness);
        while self.buffer.front().is_some_and(|p| p.time <= watermark) {
            if let Some(p) = self.buffer.pop_front() {
                self.process(&p.event, out);
            }
        }
        Admission::Accepted
    }

    /// Processes every buffered event (end of stream).
    pub fn flush(&mut self, out: &mut Vec<Finding>) {
        while let Some(p) = self.buffer.pop_front() {
            self.process(&p.event, out);
        }
    }

    fn on(&self, d: DetectionId) -> bool {
        self.enabled & d.bit() != 0
    }

    fn process(&mut self, s: &Event, out: &mut Vec<Finding>) {
        self.stats.events += 1;
        let now = s.time.unix_millis();
        let cutoff = now.saturating_sub(self.config.ttl_ms.max(0));
        self.actors.sweep(cutoff, SWEEP_STEPS);
        self.sources.sweep(cutoff, SWEEP_STEPS);
        let before = out.len();

        self.stateless(s, out);
        // The actor's key and its hash, made once for every detection's
        // lookup of the actor's state.
        let key = s.actor.as_ref().map(|k| ActorRef {
            hash: self.actors.hash(k),
            key: k,
        });
        let key = key.as_ref();
        match s.class_uid {
            class::AUTHENTICATION if s.is_logon() => self.logon(s, key, out),
            class::ACCOUNT_CHANGE if s.activity_id == 7 => self.grant(s, key),
            class::USER_ACCESS | class::AUTHORIZE_SESSION if s.activity_id == 1 => {
                self.grant(s, key)
            }
            class::GROUP_MANAGEMENT if matches!(s.activity_id, 1 | 3) => self.grant(s, key),
            class::API_ACTIVITY if s.activity_id == 2 => self.read(s, key, out),
            class::FILE_ACTIVITY if matches!(s.activity_id, 2 | 14) => self.read(s, key, out),
            class::DATASTORE_ACTIVITY if matches!(s.activity_id, 1 | 4 | 8) => {
                self.read(s, key, out)
            }
            _ => {}
        }
        if s.text_bytes(Text::Session).is_some() {
            self.session(s, key, out);
        }
        self.stats.findings += (out.len() - before) as u64;
    }

    fn stateless(&mut self, s: &Event, out: &mut Vec<Finding>) {
        if self.on(DetectionId::AuditLoggingDisabled)
            && s.class_uid == class::API_ACTIVITY
            && s.status_id != STATUS_FAILURE
            && s.text_bytes(Text::Operation).is_some_and(|op| {
                AUDIT_DISABLING_OPERATIONS
                    .iter()
                    .any(|o| o.as_bytes().eq_ignore_ascii_case(op))
            })
        {
            let desc = format!(
                "audit logging operation `{}` succeeded",
                s.text(Text::Operation).unwrap_or("")
            );
            out.push(finding(
                DetectionId::AuditLoggingDisabled,
                s,
                desc,
                vec![evidence(s)],
            ));
        }
        let cleared = (s.class_uid == class::EVENT_LOG_ACTIVITY && s.activity_id == 1)
            || matches!(s.text_bytes(Text::EventCode), Some(b"1102" | b"104"));
        if self.on(DetectionId::EventLogCleared) && cleared {
            let desc = format!(
                "event log cleared (event code `{}`)",
                s.text(Text::EventCode).unwrap_or("-")
            );
            out.push(finding(
                DetectionId::EventLogCleared,
                s,
                desc,
                vec![evidence(s)],
            ));
        }
    }

    fn logon(&mut self, s: &Event, key: Option<&ActorRef<'_>>, out: &mut Vec<Finding>) {
        let th = self.config.thresholds.clone();
        let now = s.time.unix_millis();
        let mark = || Mark {
            time: now,
            uid: s.uid(),
        };
        if s.status_id == STATUS_FAILURE && !s.push_factor {
            if let (Some(ip), Some(actor)) = (s.src_ip, &s.actor) {
                if self.on(DetectionId::PasswordSpray) {
                    self.spray(s, ip, actor, &th, out);
                }
            }
        }
        let Some(key) = key else {
            return;
        };
        let on_brute = self.on(DetectionId::BruteForce);
        let on_brute_ok = self.on(DetectionId::BruteForceSuccess);
        let on_mfa = self.on(DetectionId::MfaFatigue);
        let on_travel = self.on(DetectionId::ImpossibleTravel);
        let on_country = self.on(DetectionId::NewCountryLogin);
        let Some(st) = self
            .actors
            .entry_hashed(key.hash, key.key, now, ActorState::default)
        else {
            return;
        };
        let ring_cap = th.brute_force_failures.max(th.brute_success_failures);
        if s.status_id == STATUS_FAILURE {
            if s.push_factor {
                st.push_denials.push(mark(), th.mfa_denials);
                return;
            }
            st.failures.push(mark(), ring_cap);
            let n = st.failures.count(now, th.brute_force_window_ms);
            if on_brute && !st.brute_alerted && n >= th.brute_force_failures {
                st.brute_alerted = true;
                let ev = marks_evidence(st.failures.marks(), s, class::AUTHENTICATION, 1);
                let desc = format!(
                    "{n} failed logons for `{}` within {} s",
                    s.actor_str().unwrap_or_default(),
                    th.brute_force_window_ms / 1000
                );
                out.push(finding(DetectionId::BruteForce, s, desc, ev));
            }
            return;
        }
        if s.status_id != STATUS_SUCCESS {
            return;
        }
        // Successful logon.
        if s.push_factor && on_mfa {
            let n = st.push_denials.count(now, th.mfa_window_ms);
            if n >= th.mfa_denials {
                let mut ev = marks_evidence(st.push_denials.marks(), s, class::AUTHENTICATION, 1);
                ev.push(evidence(s));
                let desc = format!(
                    "push accepted after {n} denied pushes within {} s",
                    th.mfa_window_ms / 1000
                );
                out.push(finding(DetectionId::MfaFatigue, s, desc, ev));
            }
        }
        st.push_denials.clear();
        if on_brute_ok {
            let n = st.failures.count(now, th.brute_force_window_ms);
            if n >= th.brute_success_failures {
                let mut ev = marks_evidence(st.failures.marks(), s, class::AUTHENTICATION, 1);
                ev.push(evidence(s));
                let desc = format!(
                    "successful logon after {n} failures within {} s",
                    th.brute_force_window_ms / 1000
                );
                out.push(finding(DetectionId::BruteForceSuccess, s, desc, ev));
            }
        }
        st.failures.clear();
        st.brute_alerted = false;
        if let Some((lat, lon)) = s.geo {
            if let (true, Some(prev)) = (on_travel, st.last_login.as_ref()) {
                let km = haversine_km(prev.lat, prev.lon, lat, lon);
                let hours = (now.saturating_sub(prev.time)) as f64 / 3_600_000.0;
                let speed = if hours > 0.0 {
                    km / hours
                } else {
                    f64::INFINITY
                };
                if km >= th.travel_min_km && speed > th.travel_max_kmh {
                    let ev = vec![
                        Evidence {
                            event_uid: prev.uid.clone(),
                            class_uid: class::AUTHENTICATION,
                            activity_id: 1,
                            time: Timestamp::from_unix_millis(prev.time),
                            src_ip: prev.ip,
                            device: None,
                        },
                        evidence(s),
                    ];
                    let desc = format!(
                        "{km:.0} km in {:.0} min ({} km/h) between successful logons",
                        hours * 60.0,
                        if speed.is_finite() {
                            format!("{speed:.0}")
                        } else {
                            "∞".into()
                        }
                    );
                    out.push(finding(DetectionId::ImpossibleTravel, s, desc, ev));
                }
            }
            let login = Login {
                time: now,
                lat,
                lon,
                uid: s.uid(),
                ip: s.src_ip,
            };
            st.last_login = Some(login);
        }
        if let Some(country) = s.text_bytes(Text::Country) {
            let h = fnv64(country);
            if !st.countries.contains(h) {
                if on_country && !st.countries.is_empty() {
                    let desc = format!(
                        "first successful logon from `{}` after {} known countries",
                        s.text(Text::Country).unwrap_or_default(),
                        st.countries.len()
                    );
                    out.push(finding(
                        DetectionId::NewCountryLogin,
                        s,
                        desc,
                        vec![evidence(s)],
                    ));
                }
                st.countries.push(h);
            }
        }
    }

    fn spray(
        &mut self,
        s: &Event,
        ip: IpAddr,
        actor: &CompactKey,
        th: &Thresholds,
        out: &mut Vec<Finding>,
    ) {
        let now = s.time.unix_millis();
        let Some(src) = self.sources.entry(&ip, now, SourceState::default) else {
            return;
        };
        let n = src.failed_users.observe(
            fnv64(actor.as_bytes()),
            Mark {
                time: now,
                uid: s.uid(),
            },
            th.spray_window_ms,
            th.spray_distinct_users,
        );
        if n >= th.spray_distinct_users {
            let ev = src
                .failed_users
                .marks()
                .into_iter()
                .map(|m| Evidence {
                    event_uid: m.uid.clone(),
                    class_uid: class::AUTHENTICATION,
                    activity_id: 1,
                    time: Timestamp::from_unix_millis(m.time),
                    src_ip: Some(ip),
                    device: None,
                })
                .collect();
            src.failed_users.clear();
            let desc = format!(
                "{n} distinct users failed to log on from `{ip}` within {} s",
                th.spray_window_ms / 1000
            );
            let mut f = finding(DetectionId::PasswordSpray, s, desc, ev);
            // A spray is about the source, not one of the sprayed accounts.
            f.actor = None;
            out.push(f.seal());
        }
    }

    fn grant(&mut self, s: &Event, key: Option<&ActorRef<'_>>) {
        let (Some(key), true) = (key, self.on(DetectionId::PrivilegeMassAccess)) else {
            return;
        };
        if s.status_id == STATUS_FAILURE {
            return;
        }
        let now = s.time.unix_millis();
        if let Some(st) = self
            .actors
            .entry_hashed(key.hash, key.key, now, ActorState::default)
        {
            st.grant = Some(Box::new(Grant {
                time: now,
                uid: s.uid(),
                reads: 0,
                alerted: false,
            }));
        }
    }

    fn read(&mut self, s: &Event, key: Option<&ActorRef<'_>>, out: &mut Vec<Finding>) {
        let Some(key) = key else {
            return;
        };
        let now = s.time.unix_millis();
        let th = &self.config.thresholds;
        let (window, need) = (th.mass_access_window_ms, th.mass_access_reads);
        // Reads only matter for actors with a recent grant: no state is
        // created for plain reads.
        let Some(st) = self.actors.get_mut_hashed(key.hash, key.key, now) else {
            return;
        };
        let Some(g) = st.grant.as_deref_mut() else {
            return;
        };
        if now.saturating_sub(g.time) > window {
            st.grant = None;
            return;
        }
        g.reads = g.reads.saturating_add(1);
        if g.reads >= need && !g.alerted {
            g.alerted = true;
            let ev = vec![
                Evidence {
                    event_uid: g.uid.clone(),
                    class_uid: 0,
                    activity_id: 0,
                    time: Timestamp::from_unix_millis(g.time),
                    src_ip: None,
                    device: None,
                },
                evidence(s),
            ];
            let desc = format!(
                "{} reads within {} s after a privilege grant",
                g.reads,
                now.saturating_sub(g.time) / 1000
            );
            let mut f = finding(DetectionId::PrivilegeMassAccess, s, desc, ev);
            f.first_seen = Timestamp::from_unix_millis(g.time);
            out.push(f.seal());
        }
    }

    fn session(&mut self, s: &Event, key: Option<&ActorRef<'_>>, out: &mut Vec<Finding>) {
        let on_dev = self.on(DetectionId::SessionReuseDevice);
        let on_asn = self.on(DetectionId::SessionReuseAsn);
        let (Some(key), Some(session)) = (key, s.text_bytes(Text::Session)) else {
            return;
        };
        if !(on_dev || on_asn) || (s.text_bytes(Text::Device).is_none() && s.asn.is_none()) {
            return;
        }
        let now = s.time.unix_millis();
        let Some(st) = self
            .actors
            .entry_hashed(key.hash, key.key, now, ActorState::default)
        else {
            return;
        };
        let h = fnv64(session);
        let device = s.text_bytes(Text::Device).map(fnv64);
        let Some(known) = st.sessions.iter_mut().find(|m| m.session == h) else {
            if st.sessions.len() >= MAX_SESSIONS {
                st.sessions.remove(0);
            }
            st.sessions.push(SessionMark {
                session: h,
                device,
                asn: s.asn,
                time: now,
                uid: s.uid(),
                alerted: false,
            });
            return;
        };
        if known.alerted {
            return;
        }
        let new_device = matches!((known.device, device), (Some(a), Some(b)) if a != b);
        let new_asn = matches!((known.asn, s.asn), (Some(a), Some(b)) if a != b);
        let id = if new_device && on_dev {
            DetectionId::SessionReuseDevice
        } else if new_asn && on_asn {
            DetectionId::SessionReuseAsn
        } else {
            known.device = known.device.or(device);
            known.asn = known.asn.or(s.asn);
            return;
        };
        known.alerted = true;
        let ev = vec![
            Evidence {
                event_uid: known.uid.clone(),
                class_uid: 0,
                activity_id: 0,
                time: Timestamp::from_unix_millis(known.time),
                src_ip: None,
                device: None,
            },
            evidence(s),
        ];
        let desc = match id {
            DetectionId::SessionReuseDevice => format!(
                "session first seen on another device is now used from `{}`",
                s.text(Text::Device).unwrap_or("-")
            ),
            _ => format!(
                "session first seen from AS{} is now used from AS{}",
                known.asn.unwrap_or(0),
                s.asn.unwrap_or(0)
            ),
        };
        let mut f = finding(id, s, desc, ev);
        f.first_seen = Timestamp::from_unix_millis(known.time);
        out.push(f.seal());
    }
}

fn evidence(s: &Event) -> Evidence {
    Evidence {
        event_uid: s.uid(),
        class_uid: s.class_uid,
        activity_id: s.activity_id,
        time: s.time,
        src_ip: s.src_ip,
        device: s.boxed(Text::Device),
    }
}

fn marks_evidence<'a>(
    marks: impl Iterator<Item = &'a Mark>,
    s: &Event,
    class_uid: u32,
    activity_id: u32,
) -> Vec<Evidence> {
    marks
        .map(|m| Evidence {
            event_uid: m.uid.clone(),
            class_uid,
            activity_id,
            time: Timestamp::from_unix_millis(m.time),
            src_ip: None,
            device: None,
        })
        .filter(|e| e.event_uid.is_some() || e.time != s.time)
        .collect()
}

/// A sealed finding of a built-in detection completed by `s`.
fn finding(id: DetectionId, s: &Event, desc: String, evidence: Vec<Evidence>) -> Finding {
    let first_seen = evidence.iter().map(|e| e.time).min().unwrap_or(s.time);
    Finding {
        uid: String::new(),
        detection: id.as_str().to_owned(),
        title: id.title().to_owned(),
        desc,
        severity: id.severity(),
        attacks: id.attacks(),
        time: s.time,
        first_seen,
        actor: s.actor_key(),
        src_ip: s.src_ip,
        device: s.boxed(Text::Device),
        session: s.boxed(Text::Session),
        evidence,
        intel: Vec::new(),
    }
    .seal()
}

/// Great-circle distance in km (haversine, mean Earth radius).
pub(crate) fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const R: f64 = 6371.0088;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn haversine_paris_new_york() {
        let d = haversine_km(48.8566, 2.3522, 40.7128, -74.0060);
        assert!((d - 5837.0).abs() < 10.0, "{d}");
    }

    #[test]
    fn ids_round_trip() {
        for d in DetectionId::ALL {
            assert_eq!(DetectionId::from_name(d.as_str()), Some(d));
        }
        assert!(DetectionId::ALL.len() >= 10);
    }
}
