//! Runs one normalization workload in a loop, for instruction counting under
//! callgrind (per-iteration cost = (count at N − count at 0) / N):
//! `events_profile floor|builtin|builtin_event|decl|validate|cef|cef_line|leef|leef_line|s5424|s3164 [N]`
//! (`cef_line`, `leef_line`: the borrowed parse only, no record).
//!
//! `floor` is `serde_json` parse + serialize of the ~1 KB CloudTrail
//! ConsoleLogin record; `builtin` and `decl` normalize it to JSON
//! (`Normalizer::normalize_json`) with the built-in `aws.cloudtrail` source
//! and the example declarative mapping; `builtin_event` goes through the
//! event API (`Normalizer::normalize`, then `serde_json::to_vec`).
#![allow(clippy::unwrap_used, clippy::panic)]
use mesh_core::events::format::{parse_cef, parse_leef, parse_syslog, CefLine, LeefLine};
use mesh_core::events::mapping::Mapping;
use mesh_core::events::{sources, validate, NormalizeOptions, Normalizer};
use mesh_core::Timestamp;
use std::hint::black_box;

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_640_800_000);
const LOGIN: &str =
    include_str!("../tests/data/sources/aws_cloudtrail/console_login_success_mfa.json");
const MAPPING: &str = include_str!("../tests/data/events/cloudtrail_mapping.json");
const CEF: &[u8] = b"CEF:0|Palo Alto Networks|PAN-OS|10.2.3|TRAFFIC|end|3|rt=Jun 01 2024 12:34:56 GMT deviceExternalId=012801012345 src=10.0.0.5 dst=203.0.113.10 sourceTranslatedAddress=198.51.100.2 destinationTranslatedAddress=203.0.113.10 cs1Label=Rule cs1=allow-web suser=corp\\\\alice duser= app=ssl cs3Label=Virtual System cs3=vsys1 cs4Label=Source Zone cs4=trust cs5Label=Destination Zone cs5=untrust deviceInboundInterface=ethernet1/2 deviceOutboundInterface=ethernet1/1 cnt=1 spt=51234 dpt=443 sourceTranslatedPort=40001 proto=TCP act=allow in=5234 out=1880 cat=computer-and-internet-info";
const LEEF: &[u8] = b"LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^msg=a=b^usrName=joe user^proto=TCP^srcPort=51234^dstPort=443^devTime=Jun 01 2024 12:34:56";
const S5424: &[u8] = b"<165>1 2024-06-01T12:34:56.003Z web01.example.com sshd 4242 AUTH [origin ip=\"10.0.0.5\" software=\"openssh\"][meta sequenceId=\"29\"] \xEF\xBB\xBFAccepted publickey for alice from 198.51.100.7 port 51234 ssh2: ED25519 SHA256:abc";
const S3164: &[u8] = b"<38>Jun  1 12:34:56 web01 sshd[4242]: Failed password for invalid user admin from 203.0.113.77 port 40022 ssh2";

fn main() {
    let what = std::env::args().nth(1).unwrap();
    let n_iter: usize = std::env::args()
        .nth(2)
        .map_or(10000, |s| s.parse().unwrap());
    let raw = LOGIN.trim().as_bytes();
    let mut n = Normalizer::new(NormalizeOptions::default());
    sources::register_builtin(&mut n).unwrap();
    n.register(Box::new(Mapping::from_json(MAPPING).unwrap()))
        .unwrap();
    let ev = n.normalize(raw, Some("aws.cloudtrail"), NOW).unwrap();
    for _ in 0..n_iter {
        match what.as_str() {
            "floor" => {
                let v: serde_json::Value = serde_json::from_slice(black_box(raw)).unwrap();
                black_box(serde_json::to_vec(&v).unwrap());
            }
            "builtin" => {
                let mut out = Vec::with_capacity(2 * raw.len() + 512);
                n.normalize_json(black_box(raw), Some("aws.cloudtrail"), NOW, &mut out)
                    .unwrap();
                black_box(out);
            }
            "builtin_event" => {
                let e = n
                    .normalize(black_box(raw), Some("aws.cloudtrail"), NOW)
                    .unwrap();
                black_box(serde_json::to_vec(&e).unwrap());
            }
            "decl" => {
                let mut out = Vec::with_capacity(2 * raw.len() + 512);
                n.normalize_json(
                    black_box(raw),
                    Some("example.aws.cloudtrail"),
                    NOW,
                    &mut out,
                )
                .unwrap();
                black_box(out);
            }
            "validate" => {
                black_box(validate(black_box(&ev)));
            }
            "cef" => {
                black_box(parse_cef(black_box(CEF), NOW).unwrap());
            }
            "cef_line" => {
                black_box(CefLine::parse(black_box(CEF), NOW).unwrap());
            }
            "leef_line" => {
                black_box(LeefLine::parse(black_box(LEEF), NOW).unwrap());
            }
            "leef" => {
                black_box(parse_leef(black_box(LEEF), NOW).unwrap());
            }
            "s5424" => {
                black_box(parse_syslog(black_box(S5424), NOW).unwrap().into_record());
            }
            "s3164" => {
                black_box(parse_syslog(black_box(S3164), NOW).unwrap().into_record());
            }
            other => panic!("unknown workload `{other}`"),
        }
    }
}
