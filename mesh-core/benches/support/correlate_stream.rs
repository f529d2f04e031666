//! The mixed OCSF event stream of the correlation benchmark, shared by
//! `benches/correlate.rs` and `examples/correlate_profile.rs`.
#![allow(dead_code)]

use serde_json::{json, Value};

/// Start of the stream's event time.
pub const T0: i64 = 1_717_228_800_000;

/// Deterministic xorshift generator.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One event of a realistic mix over `actors` actors: each actor has a home
/// location, country, device, network and a few sessions; anomalies are rare.
pub fn event(rng: &mut Rng, i: usize, actors: u64) -> Value {
    let a = rng.below(actors);
    let actor = format!("user{a}@example.com");
    let ip = format!("10.{}.{}.{}", a % 4, (a >> 2) % 256, (a >> 10) % 256);
    let (lat, lon) = ((a % 120) as f64 - 60.0, (a % 300) as f64 - 150.0);
    let country = ["FR", "US", "DE", "JP"][(a % 4) as usize];
    let uid = format!("evt-{i}");
    let meta = json!({"uid": uid, "version": "1.8.0", "product": {"name": "bench"}});
    match rng.below(1000) {
        0..=399 => json!({
            "class_uid": 3002, "activity_id": 1, "type_uid": 300201, "time": 0, "metadata": meta,
            "status_id": if rng.below(10) == 0 { 2 } else { 1 },
            "user": {"email_addr": actor},
            "src_endpoint": {"ip": ip, "location": {"coordinates": [lon, lat], "country": country}},
        }),
        400..=449 => json!({
            "class_uid": 3002, "activity_id": 1, "type_uid": 300201, "time": 0, "metadata": meta,
            "status_id": if rng.below(10) == 0 { 2 } else { 1 },
            "user": {"email_addr": actor}, "auth_factors": [{"factor_type_id": 5}],
            "src_endpoint": {"ip": ip},
        }),
        450..=699 => json!({
            "class_uid": 6003, "activity_id": 2, "type_uid": 600302, "time": 0, "metadata": meta, "status_id": 1,
            "actor": {"user": {"uid": actor}, "session": {"uid": format!("s-{a}-{}", rng.below(3))}},
            "api": {"operation": "GetObject"},
            "device": {"uid": format!("d-{a}")},
            "src_endpoint": {"ip": ip, "autonomous_system": {"number": 64500 + a % 8}},
        }),
        700..=994 => json!({
            "class_uid": 1001, "activity_id": 2, "type_uid": 100102, "time": 0, "metadata": meta,
            "actor": {"user": {"email_addr": actor}},
            "file": {"path": format!("/share/{}.docx", rng.below(1000)), "type_id": 1},
        }),
        995..=998 => json!({
            "class_uid": 3005, "activity_id": 1, "type_uid": 300501, "time": 0, "metadata": meta, "status_id": 1,
            "actor": {"user": {"email_addr": "admin@example.com"}}, "user": {"email_addr": actor},
        }),
        _ => json!({
            "class_uid": 6003, "activity_id": 3, "type_uid": 600303, "time": 0, "metadata": meta, "status_id": 1,
            "actor": {"user": {"uid": actor}}, "api": {"operation": if rng.below(2) == 0 { "StopLogging" } else { "PutBucketPolicy" }},
        }),
    }
}

/// `len` events over `actors` actors, all with time 0 (see [`stamp`]).
pub fn stream(len: usize, actors: u64) -> Vec<Value> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..len).map(|i| event(&mut rng, i, actors)).collect()
}

/// Sets event times for one pass, ~1 ms apart from `base`; returns the next
/// base.
pub fn stamp(events: &mut [Value], base: i64) -> i64 {
    for (i, e) in events.iter_mut().enumerate() {
        e["time"] = json!(base + i as i64);
    }
    base + events.len() as i64
}

/// The same as NDJSON lines (one per event), as a host reads them.
pub fn to_lines(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap_or_default())
        .collect()
}

/// A successful logon of actor `a` at `time`, to make every actor tracked.
pub fn warm_logon(a: u64, time: i64) -> Value {
    json!({"class_uid": 3002, "activity_id": 1, "time": time, "status_id": 1,
           "user": {"email_addr": format!("user{a}@example.com")}})
}
