//! The consolidated view: a bounded summary of decisions, OCSF events,
//! detection findings and compliance findings ([`Summary`]), exportable as
//! JSON, and its rendering as one self-contained HTML page ([`render_html`]).

mod html;
mod summary;

pub use html::{render_html, RenderOptions};
pub use summary::{
    ComplianceRule, DecisionCounts, DecisionRecord, Dropped, ReportError, ReportLimits, SourceSeen,
    SourceStatus, Summary, TechniqueCount,
};
