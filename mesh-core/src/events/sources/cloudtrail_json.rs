//! CloudTrail records written straight to OCSF JSON, without building an
//! [`Event`](crate::events::ocsf::Event).
//!
//! The mapping of [`super::aws_cloudtrail`] runs on the record parsed with
//! borrowed strings ([`Doc`]), taking the same fields in the same order (so
//! the same fields are left for `unmapped`, in the same order), into a view
//! whose texts borrow from the input (only escaped strings and numbers
//! taken as text are owned). The view is then written field by field with
//! pre-escaped keys, in the order `serde_json` writes the event's struct
//! fields (every object of the model declares its attributes in name order),
//! followed by the record's remains as `unmapped`.
//!
//! The bytes are those `serde_json::to_vec` gives of the event the other
//! paths build: `tests/sources.rs`, the property
//! `one_pass_mapping_equals_the_general_path` in `tests/sources_lossless.rs`
//! and the `sources` fuzz target compare them.

use std::borrow::Cow;

use serde_json::Value;

use super::aws_cloudtrail::{class_and_activity, session_name};
use super::common::is_ip;
use super::doc::{Doc, Node};
use super::fields::Take;
use crate::events::ocsf::{lookup, Class};
use crate::events::timefmt::parse_iso;
use crate::events::write::{key, write_str, ObjectWriter};

/// A text of the view: borrowed from the record when it had no escape.
type Text<'a> = Cow<'a, str>;

/// The part of `text` that `part` picks, borrowed when `text` is.
fn sub<'a>(text: &Text<'a>, part: fn(&str) -> Option<&str>) -> Option<Text<'a>> {
    match text {
        Cow::Borrowed(s) => part(s).map(Cow::Borrowed),
        Cow::Owned(s) => part(s).map(|p| Cow::Owned(p.to_owned())),
    }
}

/// An OCSF `user`.
#[derive(Clone, Default)]
struct UserView<'a> {
    /// `account.uid` (an AWS account).
    account: Option<Text<'a>>,
    credential_uid: Option<Text<'a>>,
    name: Option<Text<'a>>,
    /// `type_id` and `type`.
    kind: Option<(i64, Text<'a>)>,
    uid: Option<Text<'a>>,
    uid_alt: Option<Text<'a>>,
}

/// An OCSF `session`.
struct SessionView<'a> {
    created_time: Option<i64>,
    is_mfa: Option<bool>,
    issuer: Option<Text<'a>>,
}

/// The caller, from `userIdentity`.
struct Caller<'a> {
    user: UserView<'a>,
    session: Option<SessionView<'a>>,
    invoked_by: Option<Text<'a>>,
}

/// What the class adds to the base attributes.
// One per record, on the stack: boxing the larger variant would cost an
// allocation per API call for nothing.
#[allow(clippy::large_enum_variant)]
enum Body<'a> {
    /// Authentication (`ConsoleLogin`).
    Logon {
        is_mfa: Option<bool>,
        /// `service.name`.
        service: Text<'a>,
    },
    /// Account Change and API Activity.
    Api {
        status_code: Option<Text<'a>>,
        /// The target user of an account change.
        user: Option<UserView<'a>>,
        /// `policy.name` and `policy.uid`.
        policy: Option<(Option<Text<'a>>, Option<Text<'a>>)>,
        /// `api.service.name`.
        service: Option<Text<'a>>,
        /// `api.request`: `uid` and `data`.
        request: Option<(Text<'a>, Option<Node<'a>>)>,
        /// `api.response`: `data`, `error`, `error_message`.
        response: Option<(Option<Node<'a>>, Option<Text<'a>>, Option<Text<'a>>)>,
        /// The `resources` array, when each item maps.
        resources: Option<Node<'a>>,
    },
}

/// The caller, as [`super::aws_cloudtrail`]'s `identity` takes it.
fn identity<'a>(f: &mut Doc<'a>) -> Caller<'a> {
    const ID: &str = "userIdentity";
    let arn = f.take_text(&[ID, "arn"]);
    let kind = f.take_text(&[ID, "type"]);
    let session = arn.as_ref().and_then(|a| sub(a, session_name));
    let principal_id = f.take_text(&[ID, "principalId"]);
    let (uid, uid_alt) = match arn {
        Some(arn) => (Some(arn), principal_id),
        None => (principal_id, None),
    };
    let name = f
        .take_text(&[ID, "userName"])
        .or(session)
        .or_else(|| f.take_text(&[ID, "sessionContext", "sessionIssuer", "userName"]));
    let mut u = UserView {
        uid,
        uid_alt,
        name,
        credential_uid: f.take_text(&[ID, "accessKeyId"]),
        account: f.take_text(&[ID, "accountId"]),
        kind: None,
    };
    if u.uid.is_none() && u.uid_alt.is_none() && u.name.is_none() {
        u.name = f.take_text(&[ID, "invokedBy"]);
    }
    if let Some(kind) = kind {
        u.kind = Some(match kind.as_ref() {
            "IAMUser" | "IdentityCenterUser" => (1, Cow::Borrowed("User")),
            "Root" => (2, Cow::Borrowed("Admin")),
            "AWSService" => (3, Cow::Borrowed("System")),
            _ => (99, kind),
        });
    }
    let mfa = f.bool(&[ID, "sessionContext", "attributes", "mfaAuthenticated"]);
    let created_path = [ID, "sessionContext", "attributes", "creationDate"];
    let created = f.peek_str(&created_path).and_then(parse_iso);
    if created.is_some() {
        f.take_text(&created_path);
    }
    let issuer = f.take_text(&[ID, "sessionContext", "sessionIssuer", "arn"]);
    let session = (mfa.is_some() || created.is_some() || issuer.is_some()).then_some(SessionView {
        created_time: created,
        is_mfa: mfa,
        issuer,
    });
    let invoked_by = f.take_text(&[ID, "invokedBy"]);
    Caller {
        user: u,
        session,
        invoked_by,
    }
}

/// Whether a `resources[]` item maps (an object of `ARN`, `type` and
/// `accountId` only).
fn maps_as_resource(item: &Value) -> bool {
    item.as_object().is_some_and(|obj| {
        obj.keys()
            .all(|k| matches!(k.as_str(), "ARN" | "type" | "accountId"))
    })
}

/// Maps a CloudTrail record and appends its OCSF event as JSON to `out`
/// (with `raw_data` when given), then what is left of the record as
/// `unmapped`. `None` when the record is left to the general path (a
/// mapping error, which that path reports, or an `unmapped` it alone
/// writes); `out` may then hold a partial event, which the caller drops.
pub(crate) fn write<'a>(f: &mut Doc<'a>, raw_data: Option<&str>, out: &mut Vec<u8>) -> Option<()> {
    let time = f.peek_str(&["eventTime"]).and_then(parse_iso)?;
    f.take_text(&["eventTime"]);
    let name = f.take_text(&["eventName"])?;
    let source = f.take_text(&["eventSource"]);
    let (class, activity) = class_and_activity(&name, source.as_deref());
    let meta_uid = f.take_text(&["eventID"]);
    let log_version = f.take_text(&["eventVersion"]);
    let correlation_uid = f.take_text(&["requestID"]);
    let log_name = f.take_text(&["eventCategory"]);
    let region = f.take_text(&["awsRegion"]);
    let cloud_account = f.take_text(&["recipientAccountId"]);
    let src = f.take_text(&["sourceIPAddress"]);
    let user_agent = f.take_text(&["userAgent"]);
    let error_code = f.take_text(&["errorCode"]);
    let error_message = f.take_text(&["errorMessage"]);
    let caller = identity(f);
    // Calls made by an AWS service on the caller's behalf name it.
    let src = src.or_else(|| caller.invoked_by.clone());
    if src.is_none() && class == Class::ApiActivity {
        return None;
    }

    let (failed, status_detail, body) = match class {
        Class::Authentication => {
            let outcome = f.take_text(&["responseElements", "ConsoleLogin"]);
            let failed = error_message.is_some() || outcome.as_deref() == Some("Failure");
            let detail = error_message.or(outcome.filter(|o| o != "Success" && o != "Failure"));
            let is_mfa = f
                .take_text(&["additionalEventData", "MFAUsed"])
                .map(|v| v.eq_ignore_ascii_case("yes"));
            f.drop_null(&["requestParameters"]);
            f.drop_null(&["responseElements"]);
            let service = source.unwrap_or(Cow::Borrowed("CloudTrail"));
            (failed, detail, Body::Logon { is_mfa, service })
        }
        _ => {
            let failed = error_code.is_some();
            let mut user = None;
            let mut policy = None;
            if class == Class::AccountChange {
                let target = f
                    .take_text(&["requestParameters", "userName"])
                    .or_else(|| f.take_text(&["requestParameters", "roleName"]));
                let target_arn = f
                    .take_text(&["responseElements", "user", "arn"])
                    .or_else(|| f.take_text(&["responseElements", "role", "arn"]));
                let target_id = f.take_text(&["responseElements", "user", "userId"]);
                user = Some(match (target, target_arn, target_id) {
                    (None, None, None) => caller.user.clone(),
                    (name, uid, uid_alt) => UserView {
                        name,
                        uid,
                        uid_alt,
                        ..UserView::default()
                    },
                });
                if let Some(arn) = f.take_text(&["requestParameters", "policyArn"]) {
                    policy = Some((sub(&arn, |a| a.rsplit('/').next()), Some(arn)));
                } else if let Some(pname) = f.take_text(&["requestParameters", "policyName"]) {
                    policy = Some((Some(pname), None));
                }
            }
            let request = correlation_uid
                .clone()
                .map(|uid| (uid, f.take_raw(&["requestParameters"])));
            let data = f.take_raw(&["responseElements"]);
            let response = (data.is_some() || failed)
                .then(|| (data, error_code.clone(), error_message.clone()));
            f.drop_null(&["requestParameters"]);
            f.drop_null(&["responseElements"]);
            let resources = match f.peek_array(&["resources"]) {
                Some(items) if !items.is_empty() && items.iter().all(maps_as_resource) => {
                    f.take_raw(&["resources"])
                }
                _ => None,
            };
            let body = Body::Api {
                status_code: error_code,
                user,
                policy,
                service: source,
                request,
                response,
                resources,
            };
            (failed, error_message, body)
        }
    };

    let info = class.info();
    let own_name = (activity == 99).then_some(name.as_ref());
    let (activity_name, type_activity) = match lookup(info.activities, activity) {
        Some(c) if activity != 99 || own_name.is_none() => (Some(c), Some(c)),
        Some(_) => (own_name, Some("Other")),
        None => (own_name, None),
    };

    let mut w = ObjectWriter::open(out);
    w.int(key!("activity_id"), activity);
    w.opt_str(key!("activity_name"), activity_name);
    match &body {
        Body::Logon { .. } => {
            if let Some(by) = &caller.invoked_by {
                let mut a = ObjectWriter::open(w.key(key!("actor")));
                a.str(key!("invoked_by"), by);
                a.close();
            }
        }
        Body::Api {
            service,
            request,
            response,
            ..
        } => {
            let mut a = ObjectWriter::open(w.key(key!("actor")));
            a.opt_str(key!("invoked_by"), caller.invoked_by.as_deref());
            if let Some(s) = &caller.session {
                write_session(a.key(key!("session")), s);
            }
            write_user(a.key(key!("user")), &caller.user);
            a.close();

            let mut api = ObjectWriter::open(w.key(key!("api")));
            api.str(key!("operation"), &name);
            if let Some((uid, data)) = request {
                let mut r = ObjectWriter::open(api.key(key!("request")));
                if let Some(d) = data {
                    d.write(r.key(key!("data")));
                }
                r.str(key!("uid"), uid);
                r.close();
            }
            if let Some((data, error, message)) = response {
                let mut r = ObjectWriter::open(api.key(key!("response")));
                if let Some(d) = data {
                    d.write(r.key(key!("data")));
                }
                r.opt_str(key!("error"), error.as_deref());
                r.opt_str(key!("error_message"), message.as_deref());
                r.close();
            }
            if let Some(s) = service {
                write_service(api.key(key!("service")), s);
            }
            api.close();
        }
    }
    w.str(key!("category_name"), info.category_name);
    w.int(key!("category_uid"), info.category_uid);
    w.str(key!("class_name"), info.caption);
    w.int(key!("class_uid"), class.uid());
    {
        let mut c = ObjectWriter::open(w.key(key!("cloud")));
        if let Some(a) = &cloud_account {
            write_account(c.key(key!("account")), a);
        }
        c.str(key!("provider"), "AWS");
        c.opt_str(key!("region"), region.as_deref());
        c.close();
    }
    if let Some(ua) = &user_agent {
        let mut h = ObjectWriter::open(w.key(key!("http_request")));
        h.str(key!("user_agent"), ua);
        h.close();
    }
    if let Body::Logon {
        is_mfa: Some(mfa), ..
    } = &body
    {
        w.bool(key!("is_mfa"), *mfa);
    }
    {
        let mut m = ObjectWriter::open(w.key(key!("metadata")));
        m.opt_str(key!("correlation_uid"), correlation_uid.as_deref());
        m.str(key!("event_code"), &name);
        m.opt_str(key!("log_name"), log_name.as_deref());
        m.opt_str(key!("log_version"), log_version.as_deref());
        m.key(key!("product"))
            .extend_from_slice(br#"{"name":"CloudTrail","vendor_name":"AWS"}"#);
        // `cloud` is always set, and no other profile's attribute is
        // (test `only_the_cloud_profile_applies`).
        m.key(key!("profiles")).extend_from_slice(br#"["cloud"]"#);
        m.opt_str(key!("uid"), meta_uid.as_deref());
        m.str(key!("version"), crate::events::ocsf::OCSF_VERSION);
        m.close();
    }
    if let Body::Api {
        policy: Some((pname, uid)),
        ..
    } = &body
    {
        let mut p = ObjectWriter::open(w.key(key!("policy")));
        p.opt_str(key!("name"), pname.as_deref());
        p.opt_str(key!("uid"), uid.as_deref());
        p.close();
    }
    w.opt_str(key!("raw_data"), raw_data);
    if let Body::Api {
        resources: Some(Node::Val(Value::Array(items))),
        ..
    } = &body
    {
        write_resources(w.key(key!("resources")), items);
    }
    if let Body::Logon { service, .. } = &body {
        write_service(w.key(key!("service")), service);
        if let Some(s) = &caller.session {
            write_session(w.key(key!("session")), s);
        }
    }
    w.str(key!("severity"), "Informational");
    w.int(key!("severity_id"), 1);
    if let Some(addr) = &src {
        let mut e = ObjectWriter::open(w.key(key!("src_endpoint")));
        if is_ip(addr) {
            e.str(key!("ip"), addr);
        } else {
            e.str(key!("hostname"), addr);
        }
        e.close();
    }
    w.str(key!("status"), if failed { "Failure" } else { "Success" });
    if let Body::Api { status_code, .. } = &body {
        w.opt_str(key!("status_code"), status_code.as_deref());
    }
    w.opt_str(key!("status_detail"), status_detail.as_deref());
    w.int(key!("status_id"), if failed { 2 } else { 1 });
    w.int(key!("time"), time);
    if let Some(act) = type_activity {
        let o = w.key(key!("type_name"));
        o.push(b'"');
        // Captions of the schema tables: nothing to escape.
        o.extend_from_slice(info.caption.as_bytes());
        o.extend_from_slice(b": ");
        o.extend_from_slice(act.as_bytes());
        o.push(b'"');
    }
    w.int(key!("type_uid"), class.uid() * 100 + activity);
    w.optional(key!("unmapped"), |o| {
        o.push(b'{');
        let n = f.write_unmapped(o)?;
        o.push(b'}');
        Some(n > 0)
    })?;
    match &body {
        Body::Logon { .. } => write_user(w.key(key!("user")), &caller.user),
        Body::Api {
            user: Some(user), ..
        } => write_user(w.key(key!("user")), user),
        Body::Api { .. } => {}
    }
    w.close();
    Some(())
}

/// An AWS account (`account(uid, None, 10)`).
fn write_account(out: &mut Vec<u8>, uid: &str) {
    out.extend_from_slice(br#"{"type":"AWS Account","type_id":10,"uid":"#);
    write_str(out, uid);
    out.push(b'}');
}

fn write_service(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(br#"{"name":"#);
    write_str(out, name);
    out.push(b'}');
}

fn write_user(out: &mut Vec<u8>, u: &UserView<'_>) {
    let mut w = ObjectWriter::open(out);
    if let Some(a) = &u.account {
        write_account(w.key(key!("account")), a);
    }
    w.opt_str(key!("credential_uid"), u.credential_uid.as_deref());
    w.opt_str(key!("name"), u.name.as_deref());
    if let Some((id, caption)) = &u.kind {
        w.str(key!("type"), caption);
        w.int(key!("type_id"), *id);
    }
    w.opt_str(key!("uid"), u.uid.as_deref());
    w.opt_str(key!("uid_alt"), u.uid_alt.as_deref());
    w.close();
}

fn write_session(out: &mut Vec<u8>, s: &SessionView<'_>) {
    let mut w = ObjectWriter::open(out);
    if let Some(t) = s.created_time {
        w.int(key!("created_time"), t);
    }
    if let Some(mfa) = s.is_mfa {
        w.bool(key!("is_mfa"), mfa);
    }
    w.opt_str(key!("issuer"), s.issuer.as_deref());
    w.close();
}

/// The `resources` items (each checked by [`maps_as_resource`]): `ARN` as
/// `uid`, `type`, `accountId` as the owner's account; texts only.
fn write_resources(out: &mut Vec<u8>, items: &[Value]) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let text = |k: &str| item.get(k).and_then(Value::as_str);
        let mut w = ObjectWriter::open(out);
        if let Some(a) = text("accountId") {
            let mut owner = ObjectWriter::open(w.key(key!("owner")));
            write_account(owner.key(key!("account")), a);
            owner.close();
        }
        w.opt_str(key!("type"), text("type"));
        w.opt_str(key!("uid"), text("ARN"));
        w.close();
    }
    out.push(b']');
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::super::doc::Doc;
    use crate::events::ocsf::{AttrSet, Class};
    use crate::events::sources::register_builtin;
    use crate::events::{NormalizeOptions, Normalizer};
    use crate::Timestamp;
    use serde_json::{json, Map, Value};

    const NOW: Timestamp = Timestamp::from_unix_millis(1_795_640_800_000);

    fn samples() -> Vec<(String, Map<String, Value>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/sources/aws_cloudtrail");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".json") && !name.ends_with(".ocsf.json") {
                let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                out.push((name, v.as_object().cloned().unwrap()));
            }
        }
        assert!(out.len() >= 8);
        out
    }

    /// Variants of a record: as is, with escaped strings, with numbers and
    /// booleans where texts are expected, with odd resources.
    fn variants(rec: &Map<String, Value>) -> Vec<Map<String, Value>> {
        let mut escaped = rec.clone();
        for v in escaped.values_mut() {
            if let Value::String(s) = v {
                s.push_str("\"q\u{1}/é");
            }
        }
        if let Some(Value::Object(id)) = escaped.get_mut("userIdentity") {
            for v in id.values_mut() {
                if let Value::String(s) = v {
                    s.insert(0, '\t');
                }
            }
        }
        let mut numbers = rec.clone();
        numbers.insert("recipientAccountId".into(), json!(123456789012u64));
        numbers.insert("awsRegion".into(), json!(true));
        numbers.insert("requestID".into(), json!(1.5));
        numbers.insert("sourceIPAddress".into(), json!("-"));
        let mut resources = rec.clone();
        resources.insert(
            "resources".into(),
            json!([{"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket", "accountId": 7}, {}]),
        );
        let mut not_resources = rec.clone();
        not_resources.insert("resources".into(), json!([{"ARN": "a", "other": 1}]));
        vec![rec.clone(), escaped, numbers, resources, not_resources]
    }

    /// The written bytes are `serde_json`'s of the event the other paths
    /// build, and the records take this path (not the general one).
    #[test]
    fn writes_the_event_of_the_other_paths() {
        for keep_raw_data in [false, true] {
            let mut n = Normalizer::new(NormalizeOptions {
                keep_raw_data,
                ..NormalizeOptions::default()
            });
            register_builtin(&mut n).unwrap();
            let mut direct = 0;
            for (name, rec) in samples() {
                for v in variants(&rec) {
                    let raw = serde_json::to_vec(&v).unwrap();
                    let Ok(event) = n.normalize(&raw, Some("aws.cloudtrail"), NOW) else {
                        continue;
                    };
                    let want = serde_json::to_string(&event).unwrap();
                    let mut doc = Doc::parse(&raw).unwrap();
                    let text = std::str::from_utf8(&raw).unwrap();
                    let mut out = b"x".to_vec();
                    super::write(&mut doc, keep_raw_data.then_some(text), &mut out)
                        .unwrap_or_else(|| panic!("{name}: left to the general path"));
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        format!("x{want}"),
                        "{name}"
                    );
                    direct += 1;
                }
            }
            assert!(direct >= 30, "{direct}");
        }
    }

    /// Records the mapping refuses are left to the general path, which
    /// reports them.
    #[test]
    fn refusals_are_left_to_the_general_path() {
        for raw in [
            &br#"{"eventVersion":"1.0"}"#[..],
            br#"{"eventTime":"2024-06-01T12:34:56Z"}"#,
            br#"{"eventTime":"2024-06-01T12:34:56Z","eventName":"GetObject"}"#,
        ] {
            let mut doc = Doc::parse(raw).unwrap();
            assert!(super::write(&mut doc, None, &mut Vec::new()).is_none());
        }
    }

    /// The written events declare `cloud` and only it: no other profile of
    /// the three classes adds an attribute the mapping sets for it.
    #[test]
    fn only_the_cloud_profile_applies() {
        let base = [
            "activity_id",
            "activity_name",
            "actor",
            "category_name",
            "category_uid",
            "class_name",
            "class_uid",
            "cloud",
            "http_request",
            "metadata",
            "raw_data",
            "severity",
            "severity_id",
            "src_endpoint",
            "status",
            "status_detail",
            "status_id",
            "time",
            "type_name",
            "type_uid",
            "unmapped",
            "user",
        ];
        let logon = ["is_mfa", "service", "session"];
        let change = ["api", "policy", "resources", "status_code"];
        let api = ["api", "resources", "status_code"];
        for (class, own) in [
            (Class::Authentication, &logon[..]),
            (Class::AccountChange, &change[..]),
            (Class::ApiActivity, &api[..]),
        ] {
            let mut applied = Vec::new();
            for (profile, attrs) in class.info().profiles {
                if base
                    .iter()
                    .chain(own)
                    .any(|a| attrs.contains(AttrSet::index_of(a).unwrap()))
                {
                    applied.push(*profile);
                }
            }
            assert_eq!(applied, ["cloud"], "{class:?}");
        }
    }
}
