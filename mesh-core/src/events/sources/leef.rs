//! Generic LEEF 1.0/2.0 records (IBM QRadar Log Event Extended Format),
//! mapped to the best-fitting class (see the generic mapping's rules).

use crate::events::ocsf::Event;
use crate::events::{EventError, MapContext};

use super::fields::{Fields, View};
use super::generic::{self, Dialect};

const DIALECT: Dialect = Dialect {
    format: "LEEF",
    format_version: "leefVersion",
    vendor: "vendor",
    product: "product",
    version: "version",
    event_id: "eventId",
    name: Some("name"),
    severity: "sev",
    time: &["devTime"],
    src: "src",
    dst: "dst",
    sport: "srcPort",
    dport: "dstPort",
    shost: "srcHost",
    dhost: "dstHost",
    user: "usrName",
    target_user: "targetUser",
    action: "action",
    outcome: "outcome",
    category: "cat",
    message: "msg",
    url: "url",
    method: "method",
    user_agent: "userAgent",
    http_status: "status",
    bytes_in: "dstBytes",
    bytes_out: "srcBytes",
    file_name: "fileName",
    device_host: "identHostName",
};

/// Every LEEF record is a candidate; vendor-specific sources score higher.
pub(crate) fn detect(f: &View<'_>) -> Option<u8> {
    (f.has(&["leefVersion"]) && f.has(&["vendor"]) && f.has(&["eventId"])).then_some(60)
}

/// Maps one LEEF record.
pub(crate) fn map(f: &mut Fields, _ctx: &MapContext) -> Result<Event, EventError> {
    generic::map(f, &DIALECT)
}
