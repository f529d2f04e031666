//! Building blocks shared by the built-in source mappings.

use crate::events::ocsf::{
    Account, Class, ClassActivity, Event, Fingerprint, NetworkEndpoint, Product, User,
};
use crate::events::EventError;
use crate::Timestamp;

/// A new event of `class`/`activity_id` at `time` (epoch ms), reported by
/// `vendor`'s `product`.
pub(crate) fn event(
    class: Class,
    activity_id: i64,
    time: i64,
    vendor: &str,
    product: &str,
) -> Event {
    Event::new(
        ClassActivity { class, activity_id },
        Timestamp::from_unix_millis(time),
        Product::named(vendor, product),
    )
}

/// The time, or the error that a required `time` has no value.
pub(crate) fn need_time(t: Option<i64>) -> Result<i64, EventError> {
    t.ok_or_else(|| EventError::missing("time"))
}

/// Whether `s` is an IPv4 or IPv6 address.
pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// An endpoint from an address (an IP, or a host name when it is not one)
/// and a port; `None` when both are absent.
pub(crate) fn endpoint(addr: Option<String>, port: Option<i64>) -> Option<Box<NetworkEndpoint>> {
    if addr.is_none() && port.is_none() {
        return None;
    }
    let mut ep = NetworkEndpoint {
        port,
        ..NetworkEndpoint::default()
    };
    match addr {
        Some(a) if is_ip(&a) => ep.ip = Some(a),
        Some(a) => ep.hostname = Some(a),
        None => {}
    }
    Some(Box::new(ep))
}

/// `Some(s)` if `s` looks like an e-mail address or UPN.
pub(crate) fn email_like(s: &str) -> Option<String> {
    let (local, domain) = s.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.contains('@')
        && !s.contains(['/', '\\', ' ']);
    ok.then(|| s.to_owned())
}

/// Sets `user.type_id` and its caption from the OCSF user type enum.
pub(crate) fn set_user_type(u: &mut User, type_id: i64, source_word: &str) {
    let caption = match type_id {
        1 => "User",
        2 => "Admin",
        3 => "System",
        4 => "Service",
        _ => source_word,
    };
    u.type_id = Some(type_id);
    u.r#type = Some(caption.to_owned());
}

/// A cloud account with an id and the OCSF account type (AWS 10, GCP 5,
/// Azure AD 6, Windows 2…).
pub(crate) fn account(
    uid: Option<String>,
    name: Option<String>,
    type_id: i64,
) -> Option<Box<Account>> {
    if uid.is_none() && name.is_none() {
        return None;
    }
    let caption = match type_id {
        1 => "LDAP Account",
        2 => "Windows Account",
        3 => "AWS IAM User",
        4 => "AWS IAM Role",
        5 => "GCP Account",
        6 => "Azure AD Account",
        7 => "Mac OS Account",
        8 => "Apple Account",
        9 => "Linux Account",
        10 => "AWS Account",
        11 => "GCP Project",
        12 => "OCI Compartment",
        13 => "Azure Subscription",
        14 => "Salesforce Account",
        15 => "Google Workspace",
        16 => "Servicenow Instance",
        17 => "M365 Tenant",
        18 => "Email Account",
        _ => "Unknown",
    };
    Some(Box::new(Account {
        uid,
        name,
        type_id: Some(type_id),
        r#type: Some(caption.to_owned()),
        ..Account::default()
    }))
}

/// Fingerprints from `ALG=hex,ALG=hex` (Sysmon `Hashes`) or a bare hex
/// digest whose algorithm is told by its length.
pub(crate) fn fingerprints(s: &str) -> Vec<Fingerprint> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let (alg, value) = match part.split_once('=') {
            Some((a, v)) => (a.trim().to_ascii_uppercase(), v.trim()),
            None => {
                let v = part.trim();
                let alg = match v.len() {
                    32 => "MD5",
                    40 => "SHA1",
                    64 => "SHA256",
                    128 => "SHA512",
                    _ => continue,
                };
                (alg.to_owned(), v)
            }
        };
        if value.is_empty() {
            continue;
        }
        let (id, caption) = match alg.as_str() {
            "MD5" => (1, "MD5"),
            "SHA1" => (2, "SHA-1"),
            "SHA256" => (3, "SHA-256"),
            "SHA512" => (4, "SHA-512"),
            "IMPHASH" => (99, "IMPHASH"),
            _ => (99, alg.as_str()),
        };
        out.push(Fingerprint {
            algorithm_id: Some(id),
            algorithm: Some(caption.to_owned()),
            value: Some(value.to_owned()),
        });
    }
    out
}

/// OCSF `severity_id` from a source's severity word or number (`high`,
/// `critical`, `warning`, `informational`…); `None` when not recognized.
pub(crate) fn severity_word(s: &str) -> Option<i64> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "info" | "informational" | "information" | "notice" | "debug" | "low-info" => 1,
        "low" | "warn" | "warning" => 2,
        "medium" | "moderate" | "alert" | "error" => 3,
        "high" | "severe" | "major" => 4,
        "critical" | "emergency" | "emerg" | "crit" => 5,
        "fatal" => 6,
        _ => return None,
    })
}

/// `connection_info.direction_id` and its caption: 1 inbound, 2 outbound,
/// 3 lateral, 0 unknown.
pub(crate) fn direction(id: i64) -> (Option<i64>, Option<String>) {
    let caption = match id {
        1 => "Inbound",
        2 => "Outbound",
        3 => "Lateral",
        _ => return (Some(0), Some("Unknown".to_owned())),
    };
    (Some(id), Some(caption.to_owned()))
}

/// IANA protocol number of a protocol name.
pub(crate) fn protocol_num(name: &str) -> Option<i64> {
    Some(match name.to_ascii_lowercase().as_str() {
        "icmp" => 1,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "esp" => 50,
        "icmpv6" | "ipv6-icmp" => 58,
        "sctp" => 132,
        _ => return None,
    })
}

/// IANA protocol name of a protocol number.
pub(crate) fn protocol_name(num: i64) -> Option<&'static str> {
    Some(match num {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        47 => "gre",
        50 => "esp",
        58 => "ipv6-icmp",
        132 => "sctp",
        _ => return None,
    })
}
