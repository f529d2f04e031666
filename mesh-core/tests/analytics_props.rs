//! Properties: bounded state under actor floods, parsers that never panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod analytics_support;

use analytics_support::*;
use mesh_core::analytics::{Correlator, CorrelatorConfig, FieldMapping, IntelSet, SigmaRuleSet};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// However many actors and sources flood in, tracked state stays within
    /// the caps, and every event is either processed, buffered or late.
    #[test]
    fn state_stays_within_cap_under_actor_floods(
        events in proptest::collection::vec((0u32..5_000, 0u8..4, -3_000i64..10_000, any::<bool>()), 1..400),
        cap in 1usize..50,
    ) {
        let config = CorrelatorConfig { max_actors: cap, max_sources: cap, max_buffered: 64, ..CorrelatorConfig::default() };
        let mut c = Correlator::new(config);
        let mut out = Vec::new();
        let mut t = T0;
        for (i, (actor, ip, dt, ok)) in events.iter().enumerate() {
            t += dt;
            let e = logon(&format!("e{i}"), t, &format!("u{actor}@example.com"), &format!("192.0.2.{ip}"), *ok);
            c.observe(&e, &mut out).unwrap();
            let s = c.stats();
            prop_assert!(s.tracked_actors <= cap && s.tracked_sources <= cap);
            prop_assert!(s.buffered <= 64);
        }
        c.flush(&mut out);
        let s = c.stats();
        prop_assert_eq!(s.events + s.late_events, events.len() as u64);
        prop_assert!(c.approx_state_bytes() <= cap * 4096 * 2);
    }

    /// Sigma loading never panics on arbitrary text.
    #[test]
    fn sigma_loader_never_panics(text in ".{0,400}") {
        let mut s = SigmaRuleSet::new(FieldMapping::new());
        let _ = s.add_yaml(&text);
    }

    /// Sigma loading never panics on rule-shaped input with arbitrary values.
    #[test]
    fn sigma_rule_shapes_never_panic(field in "[A-Za-z|]{1,30}", value in ".{0,40}", cond in "[a-z_* ()10]{0,40}") {
        let yaml = format!("title: t\nlogsource: {{category: process_creation}}\ndetection:\n  sel:\n    {field}: {value:?}\n  condition: {cond}\n");
        let mut s = SigmaRuleSet::new(FieldMapping::new());
        if s.add_yaml(&yaml).is_ok() {
            let _ = s.evaluate(&process("p", T0, "C:\\a.exe", &value, "C:\\b.exe"));
        }
    }

    /// STIX loading never panics on arbitrary patterns.
    #[test]
    fn stix_patterns_never_panic(pattern in ".{0,200}") {
        let bundle = serde_json::json!({"type": "bundle", "objects": [
            {"type": "indicator", "id": "indicator--p", "pattern": pattern, "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"}]});
        let mut i = IntelSet::new();
        if i.load_bundle(&bundle.to_string()).is_ok() {
            let _ = i.match_event(&logon("a", T0, "x@example.com", "192.0.2.1", true), mesh_core::Timestamp::from_unix_millis(T0));
        }
    }
}
