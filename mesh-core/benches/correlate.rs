//! Correlation and Sigma throughput.
//!
//! - `correlate/mixed_100k_actors`: a mixed stream of OCSF events (logons,
//!   MFA pushes, API and file reads, session uses, grants, audit changes) from
//!   100 000 tracked actors through the correlator with every built-in
//!   detection enabled; the floor in the same run is reading the same events
//!   into signals without correlating (`correlate/floor_extract_only`).
//! - `sigma/process_creation_300_rules`: OCSF Process Activity events against
//!   300 synthetic rules in the shapes of the SigmaHQ Windows rule set (no
//!   package ships the SigmaHQ rules); the floor is routing alone (an empty
//!   rule set).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mesh_core::analytics::{Correlator, CorrelatorConfig, FieldMapping, SigmaRuleSet, Signal};
use serde_json::{json, Value};

const ACTORS: u64 = 100_000;
const STREAM: usize = 200_000;
const T0: i64 = 1_717_228_800_000;

/// Deterministic xorshift generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One event of a realistic mix: each actor has a home location, country,
/// device, network and a few sessions; anomalies are rare.
fn event(rng: &mut Rng, i: usize) -> Value {
    let a = rng.below(ACTORS);
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

/// CPU time of this thread (so contention on a shared machine does not
/// count), from `/proc/thread-self/schedstat`; wall time where unavailable.
fn cpu_now() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn timed(f: impl FnOnce()) -> Duration {
    let (c0, w0) = (cpu_now(), Instant::now());
    f();
    match (c0, cpu_now()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => w0.elapsed(),
    }
}

fn stream() -> Vec<Value> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..STREAM).map(|i| event(&mut rng, i)).collect()
}

/// Sets event times for one pass: ~1 ms apart, continuing from `base`.
fn stamp(events: &mut [Value], base: i64) -> i64 {
    for (i, e) in events.iter_mut().enumerate() {
        e["time"] = json!(base + i as i64);
    }
    base + events.len() as i64
}

fn correlate(c: &mut Criterion) {
    let mut events = stream();
    let config = CorrelatorConfig {
        max_actors: 200_000,
        ..CorrelatorConfig::default()
    };
    let mut corr = Correlator::new(config);
    let mut out = Vec::new();
    let mut base = stamp(&mut events, T0);
    // Every actor logs on once, then the stream runs three times.
    for a in 0..ACTORS {
        let e = json!({"class_uid": 3002, "activity_id": 1, "time": base, "status_id": 1,
                        "user": {"email_addr": format!("user{a}@example.com")}});
        corr.observe(&e, &mut out).unwrap();
    }
    base = stamp(&mut events, base + 1);
    for _ in 0..3 {
        for e in &events {
            corr.observe(e, &mut out).unwrap();
        }
        base = stamp(&mut events, base);
    }
    corr.flush(&mut out);
    let s = corr.stats();
    let bytes = corr.approx_state_bytes();
    eprintln!(
        "correlate: tracked actors {} sources {}; state {} bytes, {} bytes/actor incl. sources; findings so far {}",
        s.tracked_actors,
        s.tracked_sources,
        bytes,
        bytes / s.tracked_actors.max(1),
        s.findings
    );
    out.clear();

    let mut g = c.benchmark_group("correlate");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(10);
    g.bench_function("mixed_100k_actors", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                base = stamp(&mut events, base);
                total += timed(|| {
                    for e in &events {
                        black_box(corr.observe(e, &mut out).unwrap());
                    }
                });
                out.clear();
            }
            total
        })
    });
    g.bench_function("floor_extract_only", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    timed(|| {
                        for e in &events {
                            black_box(Signal::from_event(e).unwrap());
                        }
                    })
                })
                .sum()
        })
    });
    g.finish();
    let s = corr.stats();
    eprintln!(
        "correlate: after bench tracked actors {}, evicted {}, expired {}, late {}",
        s.tracked_actors, s.evicted_actors, s.expired, s.late_events
    );
}

const IMAGES: [&str; 12] = [
    "powershell.exe",
    "cmd.exe",
    "rundll32.exe",
    "regsvr32.exe",
    "mshta.exe",
    "wscript.exe",
    "cscript.exe",
    "certutil.exe",
    "bitsadmin.exe",
    "schtasks.exe",
    "wmic.exe",
    "msiexec.exe",
];
const WORDS: [&str; 16] = [
    "-enc",
    "downloadstring",
    "invoke-expression",
    "urlcache",
    "/transfer",
    "javascript:",
    "scrobj.dll",
    "-nop",
    "bypass",
    "hidden",
    "shadowcopy",
    "delete",
    "/create",
    "comsvcs",
    "minidump",
    "frombase64string",
];

/// 300 rules in SigmaHQ's common shapes.
fn synthetic_rules() -> String {
    let mut rng = Rng(42);
    let mut out = String::new();
    for i in 0..300 {
        let img = IMAGES[rng.below(12) as usize];
        let w1 = WORDS[rng.below(16) as usize];
        let w2 = WORDS[rng.below(16) as usize];
        let w3 = WORDS[rng.below(16) as usize];
        let body = match i % 5 {
            0 => format!(
                "logsource: {{product: windows, category: process_creation}}\ndetection:\n  selection_img:\n    - Image|endswith: '\\{img}'\n    - OriginalFileName: '{img}'\n  selection_cli:\n    CommandLine|contains:\n      - '{w1}'\n      - '{w2}'\n  filter_main:\n    ParentImage|startswith: 'C:\\Program Files\\'\n  condition: all of selection_* and not 1 of filter_*\n"
            ),
            1 => format!(
                "logsource: {{product: windows, category: process_creation}}\ndetection:\n  selection:\n    Image|endswith:\n      - '\\{img}'\n      - '\\{}'\n    CommandLine|contains|all:\n      - '{w1}'\n      - '{w3}'\n  condition: selection\n",
                IMAGES[rng.below(12) as usize]
            ),
            2 => format!(
                "logsource: {{product: windows, category: process_creation}}\ndetection:\n  selection_parent:\n    ParentImage|endswith: '\\{img}'\n  selection_child:\n    CommandLine|windash|contains: ' {w2} '\n  condition: all of selection_*\n"
            ),
            3 => format!(
                "logsource: {{product: windows, category: process_creation}}\ndetection:\n  selection:\n    CommandLine|re: '(?i){}.*{}'\n  filter:\n    User|contains: 'SYSTEM'\n  condition: selection and not filter\n",
                regex_escape(w1),
                regex_escape(w3)
            ),
            _ => format!(
                "logsource: {{product: windows, category: network_connection}}\ndetection:\n  selection:\n    Image|endswith: '\\{img}'\n    DestinationPort:\n      - 4444\n      - 8080\n  filter:\n    DestinationIp|cidr: '10.0.0.0/8'\n  condition: selection and not filter\n"
            ),
        };
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&format!(
            "title: synthetic {i}\nid: 00000000-0000-0000-0000-{i:012}\nlevel: medium\ntags: [attack.execution, attack.t1059]\n{body}"
        ));
    }
    out
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

fn process_events() -> Vec<Value> {
    let mut rng = Rng(7);
    (0..10_000)
        .map(|i| {
            let img = IMAGES[rng.below(12) as usize];
            let cmd = format!(
                "{img} {} {} C:\\Users\\u{}\\AppData\\Local\\Temp\\f{}.tmp",
                if rng.below(20) == 0 { WORDS[rng.below(16) as usize] } else { "/q" },
                WORDS[rng.below(16) as usize].len(),
                rng.below(1000),
                rng.below(1000)
            );
            json!({
                "class_uid": 1007, "activity_id": 1, "type_uid": 100701, "time": T0 + i,
                "metadata": {"uid": format!("p{i}"), "version": "1.8.0", "product": {"name": "Sysmon"}},
                "process": {"file": {"path": format!("C:\\Windows\\System32\\{img}")}, "cmd_line": cmd, "pid": i},
                "actor": {"process": {"file": {"path": "C:\\Windows\\explorer.exe"}}, "user": {"name": "CORP\\user"}},
                "device": {"hostname": "WS-1"},
            })
        })
        .collect()
}

fn sigma(c: &mut Criterion) {
    let mut rules = SigmaRuleSet::new(FieldMapping::new());
    let n = rules.add_yaml(&synthetic_rules()).unwrap();
    let events = process_events();
    let matched: usize = events.iter().map(|e| rules.evaluate(e).len()).sum();
    eprintln!(
        "sigma: {n} rules loaded, {matched} matches over {} events",
        events.len()
    );
    let empty = SigmaRuleSet::new(FieldMapping::new());
    let mut g = c.benchmark_group("sigma");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(10);
    let mut out = Vec::new();
    for (name, set) in [
        ("process_creation_300_rules", &rules),
        ("floor_routing_only", &empty),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        timed(|| {
                            for e in &events {
                                out.clear();
                                black_box(set.evaluate_into(e, &mut out));
                            }
                        })
                    })
                    .sum()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, correlate, sigma);
criterion_main!(benches);
