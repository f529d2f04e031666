//! The Sigma benchmark's rules and events, shared by `benches/correlate.rs`
//! and `examples/correlate_profile.rs`.
#![allow(dead_code)]

use serde_json::{json, Value};

use super::correlate_stream::{Rng, T0};

const IMAGES: [&str; 12] = [
    "powershell.exe",
    "cmd.exe",
    "rundll32.exe",
    "regsvr32.exe",
    "mshta.exe",
    "wscript.exe",
    "cscript.exe",
    "certutil.exe",
    "bitsadmin.exe",
    "schtasks.exe",
    "wmic.exe",
    "msiexec.exe",
];
const WORDS: [&str; 16] = [
    "-enc",
    "downloadstring",
    "invoke-expression",
    "urlcache",
    "/transfer",
    "javascript:",
    "scrobj.dll",
    "-nop",
    "bypass",
    "hidden",
    "shadowcopy",
    "delete",
    "/create",
    "comsvcs",
    "minidump",
    "frombase64string",
];

/// 300 rules in SigmaHQ's common shapes.
pub fn synthetic_rules() -> String {
    let mut rng = Rng(42);
    let mut out = String::new();
    for i in 0..300 {
        let img = IMAGES[rng.below(12) as usize];
        let w1 = WORDS[rng.below(16) as usize];
        let w2 = WORDS[rng.below(16) as usize];
        let w3 = WORDS[rng.below(16) as usize];
        let body = match i % 5 {
            0 => format!(
                "logsource: {{product: windows, category: process_creation}}\ndetection:\n  selection_img:\n    - Image|endswith: '\\{img}'\n    - OriginalFileName: '{img}'\n  selection_cli:\n    CommandLine|contains:\n      - '{w1}'\n      - '{w2}'\n  filter_main:\n    ParentImage|startswith: 'C:\\Program Files\\'\n  condition: all of selection_* and not 1 of filter_*\n"
            ),
            1 => format!(
                "logsource: {{product: windows, category: process_creation}}\ndetection:\n  selection:\n    Image|endswith:\n      - '\\{img}'\n      - '\\{}'\n    CommandLine|contains|all:\n      - '{w1}'\n      - '{w3}'\n  condition: selection\n",
                IMAGES[rng.below(12) as usize]
            ),
            2 => format!(
                "logsource: {{product: windows, category: process_creation}}\ndetection:\n  selection_parent:\n    ParentImage|endswith: '\\{img}'\n  selection_child:\n    CommandLine|windash|contains: ' {w2} '\n  condition: all of selection_*\n"
            ),
            3 => format!(
                "logsource: {{product: windows, category: process_creation}}\ndetection:\n  selection:\n    CommandLine|re: '(?i){}.*{}'\n  filter:\n    User|contains: 'SYSTEM'\n  condition: selection and not filter\n",
                regex_escape(w1),
                regex_escape(w3)
            ),
            _ => format!(
                "logsource: {{product: windows, category: network_connection}}\ndetection:\n  selection:\n    Image|endswith: '\\{img}'\n    DestinationPort:\n      - 4444\n      - 8080\n  filter:\n    DestinationIp|cidr: '10.0.0.0/8'\n  condition: selection and not filter\n"
            ),
        };
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&format!(
            "title: synthetic {i}\nid: 00000000-0000-0000-0000-{i:012}\nlevel: medium\ntags: [attack.execution, attack.t1059]\n{body}"
        ));
    }
    out
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

pub fn process_events() -> Vec<Value> {
    let mut rng = Rng(7);
    (0..10_000)
        .map(|i| {
            let img = IMAGES[rng.below(12) as usize];
            let cmd = format!(
                "{img} {} {} C:\\Users\\u{}\\AppData\\Local\\Temp\\f{}.tmp",
                if rng.below(20) == 0 { WORDS[rng.below(16) as usize] } else { "/q" },
                WORDS[rng.below(16) as usize].len(),
                rng.below(1000),
                rng.below(1000)
            );
            json!({
                "class_uid": 1007, "activity_id": 1, "type_uid": 100701, "time": T0 + i,
                "metadata": {"uid": format!("p{i}"), "version": "1.8.0", "product": {"name": "Sysmon"}},
                "process": {"file": {"path": format!("C:\\Windows\\System32\\{img}")}, "cmd_line": cmd, "pid": i},
                "actor": {"process": {"file": {"path": "C:\\Windows\\explorer.exe"}}, "user": {"name": "CORP\\user"}},
                "device": {"hostname": "WS-1"},
            })
        })
        .collect()
}
