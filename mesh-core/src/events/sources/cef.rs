//! Generic CEF records (ArcSight Common Event Format), mapped to the
//! best-fitting class (see the generic mapping's rules). The product in
//! `metadata.product` is the record's own (`deviceVendor`, `deviceProduct`).

use crate::events::ocsf::Event;
use crate::events::{EventError, MapContext};

use super::fields::{Fields, View};
use super::generic::{self, Dialect};

const DIALECT: Dialect = Dialect {
    format: "CEF",
    format_version: "cefVersion",
    vendor: "deviceVendor",
    product: "deviceProduct",
    version: "deviceVersion",
    event_id: "deviceEventClassId",
    name: Some("name"),
    severity: "severity",
    time: &["rt", "start", "end"],
    src: "src",
    dst: "dst",
    sport: "spt",
    dport: "dpt",
    shost: "shost",
    dhost: "dhost",
    user: "suser",
    target_user: "duser",
    action: "act",
    outcome: "outcome",
    category: "cat",
    message: "msg",
    url: "request",
    method: "requestMethod",
    user_agent: "requestClientApplication",
    http_status: "outcome",
    // CEF `in` flows from source to destination: OCSF `bytes_out`.
    bytes_in: "out",
    bytes_out: "in",
    file_name: "fname",
    device_host: "dvchost",
};

/// Every CEF record is a candidate; the vendor-specific sources score higher.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    (f.has(&["cefVersion"]) && f.has(&["deviceVendor"]) && f.has(&["name"])).then_some(60)
}

/// Maps one CEF record.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    generic::map(f, &DIALECT)
}
