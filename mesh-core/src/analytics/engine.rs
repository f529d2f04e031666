//! [`Analytics`]: correlation, Sigma and threat intelligence in one call per
//! event, with the response policy applied to what they find.

use serde_json::Value;

use super::correlator::{Admission, Correlator, CorrelatorConfig, DetectionId};
use super::finding::{Evidence, Finding, Severity};
use super::ocsf::Signal;
use super::response::{ResponseLog, ResponsePolicy, ResponseRecord};
use super::sigma::{SigmaMatch, SigmaRuleSet};
use super::stix::IntelSet;
use super::AnalyticsError;

/// The analytics pipeline of one process: a [`Correlator`], optional Sigma
/// rules and threat intelligence, an optional [`ResponsePolicy`] and its
/// [`ResponseLog`].
///
/// Sigma rules and indicators are stateless per event: they are evaluated
/// when the event is observed (late events included). Correlation follows
/// the correlator's event-time rules.
#[derive(Debug)]
pub struct Analytics {
    correlator: Correlator,
    sigma: SigmaRuleSet,
    intel: IntelSet,
    policy: Option<ResponsePolicy>,
    log: ResponseLog,
    sigma_scratch: Vec<SigmaMatch>,
}

impl Analytics {
    /// A pipeline with this correlator configuration, no rules, no
    /// intelligence and no response policy.
    pub fn new(config: CorrelatorConfig) -> Analytics {
        Analytics {
            correlator: Correlator::new(config),
            sigma: SigmaRuleSet::default(),
            intel: IntelSet::new(),
            policy: None,
            log: ResponseLog::default(),
            sigma_scratch: Vec::new(),
        }
    }

    /// Replaces the Sigma rules.
    pub fn set_sigma(&mut self, rules: SigmaRuleSet) {
        self.sigma = rules;
    }

    /// Replaces the threat intelligence.
    pub fn set_intel(&mut self, intel: IntelSet) {
        self.intel = intel;
    }

    /// Replaces the response policy.
    pub fn set_policy(&mut self, policy: ResponsePolicy) {
        self.policy = Some(policy);
    }

    /// The correlator (stats, watermark).
    pub fn correlator(&self) -> &Correlator {
        &self.correlator
    }

    /// The response log.
    pub fn log(&self) -> &ResponseLog {
        &self.log
    }

    /// The response log, to drain it.
    pub fn log_mut(&mut self) -> &mut ResponseLog {
        &mut self.log
    }

    /// Observes one OCSF event; appends the findings it completes to `out`.
    pub fn observe(
        &mut self,
        event: &Value,
        out: &mut Vec<Finding>,
    ) -> Result<Admission, AnalyticsError> {
        let signal = Signal::from_event(event)?;
        if !self.intel.is_empty() {
            let matches = self.intel.match_event(event, signal.time);
            if !matches.is_empty() {
                let max_conf = matches.iter().filter_map(|m| m.confidence).max();
                let severity = match max_conf {
                    Some(c) if c < 50 => Severity::Low,
                    Some(c) if c < 80 => Severity::Medium,
                    _ => Severity::High,
                };
                let id = DetectionId::ThreatIntelMatch;
                let desc = format!(
                    "{} observable(s) matched STIX indicator(s) {}",
                    matches.len(),
                    matches
                        .iter()
                        .map(|m| format!("`{}`", m.indicator_id))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                out.push(
                    Finding {
                        uid: String::new(),
                        detection: id.as_str().to_owned(),
                        title: id.title().to_owned(),
                        desc,
                        severity,
                        attacks: Vec::new(),
                        time: signal.time,
                        first_seen: signal.time,
                        actor: signal.actor.clone(),
                        src_ip: signal.src_ip,
                        device: signal.device.clone(),
                        session: signal.session.clone(),
                        evidence: vec![Evidence {
                            event_uid: signal.uid.clone(),
                            class_uid: signal.class_uid,
                            activity_id: signal.activity_id,
                            time: signal.time,
                            src_ip: signal.src_ip,
                            device: signal.device.clone(),
                        }],
                        intel: matches,
                    }
                    .seal(),
                );
            }
        }
        if !self.sigma.is_empty() {
            self.sigma_scratch.clear();
            if self.sigma.evaluate_into(event, &mut self.sigma_scratch) > 0 {
                out.extend(self.sigma_scratch.iter().map(|m| m.to_finding(event)));
            }
        }
        Ok(self.correlator.observe_signal(signal, out))
    }

    /// Observes one OCSF event given as JSON text (an NDJSON line). Without
    /// Sigma rules or intelligence loaded, only the fields correlation needs
    /// are read (see [`Signal::from_json`]); otherwise the event is parsed
    /// once and handled as [`Analytics::observe`]. Same findings and errors
    /// either way; malformed JSON is an [`AnalyticsError::InvalidEvent`].
    pub fn observe_json(
        &mut self,
        text: &str,
        out: &mut Vec<Finding>,
    ) -> Result<Admission, AnalyticsError> {
        if self.sigma.is_empty() && self.intel.is_empty() {
            return self.correlator.observe_json(text, out);
        }
        let event: Value =
            serde_json::from_str(text).map_err(|e| AnalyticsError::InvalidEvent {
                pointer: String::new(),
                reason: format!("invalid JSON: {e}"),
            })?;
        self.observe(&event, out)
    }

    /// Processes every event still buffered (end of stream).
    pub fn flush(&mut self, out: &mut Vec<Finding>) {
        self.correlator.flush(out);
    }

    /// Applies the response policy to findings: returns the responses and
    /// records them in the log. Without a policy, nothing is done.
    pub fn respond(&mut self, findings: &[Finding]) -> Vec<ResponseRecord> {
        let Some(policy) = &self.policy else {
            return Vec::new();
        };
        let records: Vec<ResponseRecord> =
            findings.iter().flat_map(|f| policy.respond(f)).collect();
        self.log.record(&records);
        records
    }
}
