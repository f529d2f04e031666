//! OCSF 1.8.0 sample events, shaped as the normalizers emit them.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};

/// 2024-06-01T08:00:00Z.
pub const T0: i64 = 1_717_228_800_000;
pub const MIN: i64 = 60_000;

fn metadata(uid: &str, product: &str) -> Value {
    json!({"uid": uid, "version": "1.8.0", "product": {"name": product, "vendor_name": product}})
}

/// Authentication (3002) Logon; status 1 success / 2 failure.
pub fn logon(uid: &str, t: i64, user: &str, ip: &str, success: bool) -> Value {
    json!({
        "class_uid": 3002, "class_name": "Authentication", "category_uid": 3,
        "activity_id": 1, "type_uid": 300201, "severity_id": 1,
        "time": t,
        "status_id": if success { 1 } else { 2 },
        "status": if success { "Success" } else { "Failure" },
        "metadata": metadata(uid, "Okta"),
        "user": {"email_addr": user, "name": user},
        "src_endpoint": {"ip": ip},
    })
}

/// A logon with coordinates ([lon, lat] GeoJSON order) and country.
pub fn logon_at(
    uid: &str,
    t: i64,
    user: &str,
    ip: &str,
    lat: f64,
    lon: f64,
    country: &str,
) -> Value {
    let mut e = logon(uid, t, user, ip, true);
    e["src_endpoint"]["location"] = json!({"coordinates": [lon, lat], "country": country});
    e
}

/// An MFA push (auth factor type 5) accepted or denied.
pub fn push(uid: &str, t: i64, user: &str, accepted: bool) -> Value {
    let mut e = logon(uid, t, user, "198.51.100.20", accepted);
    e["is_mfa"] = json!(true);
    e["auth_factors"] = json!([{"factor_type_id": 5, "factor_type": "Push Notification"}]);
    e
}

/// API Activity (6003) by an actor, with optional session, device, ASN.
pub fn api(uid: &str, t: i64, actor: &str, operation: &str, activity_id: u32) -> Value {
    json!({
        "class_uid": 6003, "class_name": "API Activity", "category_uid": 6,
        "activity_id": activity_id, "type_uid": 600300 + activity_id, "severity_id": 1,
        "time": t, "status_id": 1,
        "metadata": metadata(uid, "CloudTrail"),
        "actor": {"user": {"uid": actor, "type": "AssumedRole"}},
        "api": {"operation": operation, "service": {"name": "s3.amazonaws.com"}},
        "src_endpoint": {"ip": "192.0.2.10"},
        "cloud": {"provider": "AWS", "region": "eu-west-1"},
    })
}

/// A session use from a device and autonomous system.
pub fn session_use(uid: &str, t: i64, user: &str, session: &str, device: &str, asn: u32) -> Value {
    json!({
        "class_uid": 6003, "activity_id": 2, "type_uid": 600302, "category_uid": 6, "severity_id": 1,
        "time": t, "status_id": 1,
        "metadata": metadata(uid, "SaaS"),
        "actor": {"user": {"email_addr": user}, "session": {"uid": session}},
        "api": {"operation": "GetDocument"},
        "device": {"uid": device, "type_id": 0},
        "src_endpoint": {"ip": "203.0.113.50", "autonomous_system": {"number": asn}},
    })
}

/// User Access Management (3005) Assign Privileges to `user` by `admin`.
pub fn grant(uid: &str, t: i64, admin: &str, user: &str) -> Value {
    json!({
        "class_uid": 3005, "activity_id": 1, "type_uid": 300501, "category_uid": 3, "severity_id": 1,
        "time": t, "status_id": 1,
        "metadata": metadata(uid, "Entra ID"),
        "actor": {"user": {"email_addr": admin}},
        "user": {"email_addr": user},
        "privileges": ["Storage Blob Data Reader"],
    })
}

/// File System Activity (1001) Read by `user`.
pub fn file_read(uid: &str, t: i64, user: &str, path: &str) -> Value {
    json!({
        "class_uid": 1001, "activity_id": 2, "type_uid": 100102, "category_uid": 1, "severity_id": 1,
        "time": t,
        "metadata": metadata(uid, "SharePoint"),
        "actor": {"user": {"email_addr": user}},
        "file": {"path": path, "name": path, "type_id": 1},
    })
}

/// Event Log Activity (1008) Clear, Windows event 1102.
pub fn log_cleared(uid: &str, t: i64, user: &str) -> Value {
    json!({
        "class_uid": 1008, "activity_id": 1, "type_uid": 100801, "category_uid": 1, "severity_id": 3,
        "time": t,
        "metadata": {"uid": uid, "version": "1.8.0", "event_code": "1102", "log_name": "Security",
                      "product": {"name": "Microsoft Windows", "vendor_name": "Microsoft"}},
        "actor": {"user": {"name": user, "uid": "S-1-5-21-1-2-3-1104"}},
        "device": {"hostname": "WS-042", "type_id": 2},
    })
}

/// Process Activity (1007) Launch.
pub fn process(uid: &str, t: i64, image: &str, cmd: &str, parent: &str) -> Value {
    json!({
        "class_uid": 1007, "activity_id": 1, "type_uid": 100701, "category_uid": 1, "severity_id": 1,
        "time": t,
        "metadata": {"uid": uid, "version": "1.8.0", "event_code": "1",
                      "product": {"name": "Sysmon", "vendor_name": "Microsoft"}},
        "process": {"file": {"path": image, "name": image.rsplit('\\').next().unwrap()}, "cmd_line": cmd, "pid": 4242},
        "actor": {"process": {"file": {"path": parent}}, "user": {"name": "CORP\\bob"}},
        "device": {"hostname": "WS-042", "uid": "dev-042", "type_id": 2},
    })
}
