//! Sigma field names and logsources mapped to OCSF 1.8.0.
//!
//! # Field mapping (default)
//!
//! | Sigma field | OCSF paths (first present wins per path; any may match) |
//! | --- | --- |
//! | `Image` | `process.file.path` |
//! | `OriginalFileName` | `process.file.internal_name` |
//! | `CommandLine` | `process.cmd_line` |
//! | `CurrentDirectory` | `process.working_directory` |
//! | `IntegrityLevel` | `process.integrity` |
//! | `ProcessId` | `process.pid` |
//! | `Product`, `Company`, `Description` | `process.file.product.name`, `process.file.company_name`, `process.file.desc` |
//! | `ParentImage` | `actor.process.file.path` |
//! | `ParentCommandLine` | `actor.process.cmd_line` |
//! | `ParentProcessId` | `actor.process.pid` |
//! | `User` | `actor.user.name`, `process.user.name` |
//! | `TargetFilename` | `file.path` |
//! | `ImageLoaded` | `module.file.path` |
//! | `TargetObject`, `Details` | `reg_key.path`, `reg_value.data` |
//! | `DestinationIp`, `DestinationPort`, `DestinationHostname` | `dst_endpoint.ip`, `dst_endpoint.port`, `dst_endpoint.hostname` |
//! | `SourceIp`, `SourcePort`, `IpAddress` | `src_endpoint.ip`, `src_endpoint.port`, `src_endpoint.ip` |
//! | `QueryName` | `query.hostname` |
//! | `ScriptBlockText` | `script.script_content` |
//! | `EventID` | `metadata.event_code` |
//! | `Provider_Name`, `Channel` | `metadata.log_provider`, `metadata.log_name` |
//! | `Computer`, `ComputerName`, `WorkstationName` | `device.hostname`, `device.hostname`, `src_endpoint.hostname` |
//! | `TargetUserName`, `SubjectUserName`, `LogonType` | `user.name`, `actor.user.name`, `logon_type_id` |
//! | `eventName`, `eventSource` (CloudTrail) | `api.operation`, `api.service.name` |
//! | `sourceIPAddress`, `userIdentity.arn`, `awsRegion`, `errorCode`, `userAgent` | `src_endpoint.ip`, `actor.user.uid`, `cloud.region`, `api.response.error`, `http_request.user_agent` |
//!
//! Any other field name containing a `.` is taken as an OCSF path as it is;
//! any other name is looked up under `unmapped.<name>`, where the
//! normalizers keep source fields they do not map. Keywords (value lists
//! without a field) match `message` and `raw_data`.
//!
//! # Logsource routing (default)
//!
//! | Sigma logsource | OCSF `class_uid` |
//! | --- | --- |
//! | category `process_creation`, `process_access`, `create_remote_thread`, `process_termination` | 1007 Process Activity |
//! | category `file_event`, `file_access`, `file_change`, `file_delete`, `file_rename` | 1001 File System Activity |
//! | category `image_load`, `driver_load` | 1005 Module Activity |
//! | category `registry_event`, `registry_add`, `registry_set`, `registry_delete` | 201001, 201002 Windows Registry Key/Value Activity |
//! | category `network_connection`, `firewall` | 4001 Network Activity |
//! | category `dns_query`, `dns` | 4003 DNS Activity |
//! | category `proxy`, `webserver` | 4002 HTTP Activity |
//! | category `ps_script`, `ps_module` | 1009 Script Activity |
//! | service `security` (Windows) | 3002, 3001, 3005, 3006, 1008, 1007 |
//! | service `system` (Windows) | 1008, 1006 |
//! | service `cloudtrail` (AWS), `activitylogs`, `gcp.audit` | 6003 API Activity |
//! | service `signinlogs`, `okta`, product `okta` | 3002 Authentication |
//!
//! A rule whose logsource has no route is rejected when loaded.

use std::collections::HashMap;

/// Sigma field names → OCSF paths, and logsources → OCSF classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMapping {
    fields: HashMap<String, Vec<String>>,
    categories: HashMap<String, Vec<u32>>,
    services: HashMap<String, Vec<u32>>,
    products: HashMap<String, Vec<u32>>,
}

const FIELDS: &[(&str, &[&str])] = &[
    ("Image", &["process.file.path"]),
    ("OriginalFileName", &["process.file.internal_name"]),
    ("CommandLine", &["process.cmd_line"]),
    ("CurrentDirectory", &["process.working_directory"]),
    ("IntegrityLevel", &["process.integrity"]),
    ("ProcessId", &["process.pid"]),
    ("Product", &["process.file.product.name"]),
    ("Company", &["process.file.company_name"]),
    ("Description", &["process.file.desc"]),
    ("ParentImage", &["actor.process.file.path"]),
    ("ParentCommandLine", &["actor.process.cmd_line"]),
    ("ParentProcessId", &["actor.process.pid"]),
    ("User", &["actor.user.name", "process.user.name"]),
    ("TargetFilename", &["file.path"]),
    ("ImageLoaded", &["module.file.path"]),
    ("TargetObject", &["reg_key.path"]),
    ("Details", &["reg_value.data"]),
    ("DestinationIp", &["dst_endpoint.ip"]),
    ("DestinationPort", &["dst_endpoint.port"]),
    ("DestinationHostname", &["dst_endpoint.hostname"]),
    ("SourceIp", &["src_endpoint.ip"]),
    ("SourcePort", &["src_endpoint.port"]),
    ("IpAddress", &["src_endpoint.ip"]),
    ("QueryName", &["query.hostname"]),
    ("ScriptBlockText", &["script.script_content"]),
    ("EventID", &["metadata.event_code"]),
    ("Provider_Name", &["metadata.log_provider"]),
    ("Channel", &["metadata.log_name"]),
    ("Computer", &["device.hostname"]),
    ("ComputerName", &["device.hostname"]),
    ("WorkstationName", &["src_endpoint.hostname"]),
    ("TargetUserName", &["user.name"]),
    ("SubjectUserName", &["actor.user.name"]),
    ("LogonType", &["logon_type_id"]),
    ("eventName", &["api.operation"]),
    ("eventSource", &["api.service.name"]),
    ("sourceIPAddress", &["src_endpoint.ip"]),
    ("userIdentity.arn", &["actor.user.uid"]),
    ("awsRegion", &["cloud.region"]),
    ("errorCode", &["api.response.error"]),
    ("userAgent", &["http_request.user_agent"]),
];

const CATEGORIES: &[(&str, &[u32])] = &[
    ("process_creation", &[1007]),
    ("process_access", &[1007]),
    ("create_remote_thread", &[1007]),
    ("process_termination", &[1007]),
    ("file_event", &[1001]),
    ("file_access", &[1001]),
    ("file_change", &[1001]),
    ("file_delete", &[1001]),
    ("file_rename", &[1001]),
    ("image_load", &[1005]),
    ("driver_load", &[1005]),
    ("registry_event", &[201001, 201002]),
    ("registry_add", &[201001]),
    ("registry_set", &[201002]),
    ("registry_delete", &[201001, 201002]),
    ("network_connection", &[4001]),
    ("firewall", &[4001]),
    ("dns_query", &[4003]),
    ("dns", &[4003]),
    ("proxy", &[4002]),
    ("webserver", &[4002]),
    ("ps_script", &[1009]),
    ("ps_module", &[1009]),
];

const SERVICES: &[(&str, &[u32])] = &[
    ("security", &[3002, 3001, 3005, 3006, 1008, 1007]),
    ("system", &[1008, 1006]),
    ("cloudtrail", &[6003]),
    ("activitylogs", &[6003]),
    ("gcp.audit", &[6003]),
    ("signinlogs", &[3002]),
    ("okta", &[3002]),
];

const PRODUCTS: &[(&str, &[u32])] = &[("okta", &[3002])];

impl Default for FieldMapping {
    fn default() -> Self {
        let own = |t: &[(&str, &[u32])]| -> HashMap<String, Vec<u32>> {
            t.iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
                .collect()
        };
        FieldMapping {
            fields: FIELDS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
            categories: own(CATEGORIES),
            services: own(SERVICES),
            products: own(PRODUCTS),
        }
    }
}

impl FieldMapping {
    /// The default mapping (see the module docs).
    pub fn new() -> FieldMapping {
        FieldMapping::default()
    }

    /// Maps a Sigma field to OCSF paths, replacing any earlier mapping.
    pub fn map_field(&mut self, sigma: &str, ocsf_paths: &[&str]) -> &mut Self {
        self.fields.insert(
            sigma.to_owned(),
            ocsf_paths.iter().map(|s| (*s).to_owned()).collect(),
        );
        self
    }

    /// Routes a Sigma logsource `category` to OCSF classes.
    pub fn route_category(&mut self, category: &str, classes: &[u32]) -> &mut Self {
        self.categories
            .insert(category.to_owned(), classes.to_vec());
        self
    }

    /// Routes a Sigma logsource `service` to OCSF classes.
    pub fn route_service(&mut self, service: &str, classes: &[u32]) -> &mut Self {
        self.services.insert(service.to_owned(), classes.to_vec());
        self
    }

    /// The OCSF paths for a Sigma field.
    pub fn paths(&self, field: &str) -> Vec<String> {
        if let Some(p) = self.fields.get(field) {
            return p.clone();
        }
        if field.contains('.') {
            return vec![field.to_owned()];
        }
        vec![format!("unmapped.{field}")]
    }

    /// The OCSF classes a logsource routes to: the category's route, else
    /// the service's, else the product's; `None` when none applies.
    pub fn classes(
        &self,
        product: Option<&str>,
        category: Option<&str>,
        service: Option<&str>,
    ) -> Option<Vec<u32>> {
        category
            .and_then(|c| self.categories.get(c))
            .or_else(|| service.and_then(|s| self.services.get(s)))
            .or_else(|| product.and_then(|p| self.products.get(p)))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_fields_and_routes() {
        let m = FieldMapping::new();
        assert_eq!(m.paths("CommandLine"), vec!["process.cmd_line"]);
        assert_eq!(m.paths("process.name"), vec!["process.name"]);
        assert_eq!(m.paths("Foo"), vec!["unmapped.Foo"]);
        assert_eq!(
            m.classes(Some("windows"), Some("process_creation"), None),
            Some(vec![1007])
        );
        assert_eq!(
            m.classes(Some("aws"), None, Some("cloudtrail")),
            Some(vec![6003])
        );
        assert_eq!(m.classes(Some("windows"), Some("nope"), None), None);
    }
}
