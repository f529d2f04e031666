//! MITRE ATT&CK references as OCSF `attack` objects.

use serde::Serialize;

/// An ATT&CK tactic (OCSF `tactic` object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tactic {
    /// Tactic id, e.g. `TA0006`.
    pub uid: String,
    /// Tactic name, e.g. `Credential Access`.
    pub name: String,
}

/// An ATT&CK technique or sub-technique (OCSF `technique` / `sub_technique`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Technique {
    /// Technique id, e.g. `T1110` or `T1110.003`.
    pub uid: String,
    /// Technique name.
    pub name: String,
}

/// One ATT&CK reference (OCSF `attack` object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attack {
    /// The parent technique.
    pub technique: Technique,
    /// The sub-technique, when the reference is to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_technique: Option<Technique>,
    /// The tactic the technique serves here.
    pub tactic: Tactic,
    /// The ATT&CK version the ids are taken from.
    pub version: &'static str,
}

/// ATT&CK version the built-in references are taken from.
pub(crate) const ATTACK_VERSION: &str = "v17";

impl Attack {
    /// An ATT&CK reference from ids and names. A technique id with a dot
    /// (`T1110.003`) is a sub-technique of the part before the dot, whose
    /// name is `parent_name`.
    pub fn new(technique_uid: &str, name: &str, parent_name: &str, tactic: (&str, &str)) -> Self {
        let tactic = Tactic {
            uid: tactic.0.to_owned(),
            name: tactic.1.to_owned(),
        };
        match technique_uid.split_once('.') {
            Some((parent, _)) => Attack {
                technique: Technique {
                    uid: parent.to_owned(),
                    name: parent_name.to_owned(),
                },
                sub_technique: Some(Technique {
                    uid: technique_uid.to_owned(),
                    name: name.to_owned(),
                }),
                tactic,
                version: ATTACK_VERSION,
            },
            None => Attack {
                technique: Technique {
                    uid: technique_uid.to_owned(),
                    name: name.to_owned(),
                },
                sub_technique: None,
                tactic,
                version: ATTACK_VERSION,
            },
        }
    }

    /// The most specific technique id (`T1110.003` rather than `T1110`).
    pub fn technique_id(&self) -> &str {
        self.sub_technique
            .as_ref()
            .map_or(self.technique.uid.as_str(), |s| s.uid.as_str())
    }

    /// An ATT&CK reference from a Sigma tag such as `attack.t1059.001`,
    /// with the tactic given by another tag of the same rule (or unknown).
    pub(crate) fn from_sigma_tag(tag: &str, tactic: Option<(&str, &str)>) -> Option<Self> {
        let id = tag.strip_prefix("attack.")?;
        let mut chars = id.chars();
        if !matches!(chars.next(), Some('t' | 'T'))
            || !chars.next().is_some_and(|c| c.is_ascii_digit())
        {
            return None;
        }
        let uid = id.to_ascii_uppercase();
        let (tuid, tname) = tactic.unwrap_or(("", "Unknown"));
        Some(Attack::new(&uid, &uid, &uid, (tuid, tname)))
    }
}

/// Tactics by id.
pub(crate) const CREDENTIAL_ACCESS: (&str, &str) = ("TA0006", "Credential Access");
pub(crate) const INITIAL_ACCESS: (&str, &str) = ("TA0001", "Initial Access");
pub(crate) const DEFENSE_EVASION: (&str, &str) = ("TA0005", "Defense Evasion");
pub(crate) const COLLECTION: (&str, &str) = ("TA0009", "Collection");
pub(crate) const PRIVILEGE_ESCALATION: (&str, &str) = ("TA0004", "Privilege Escalation");
pub(crate) const LATERAL_MOVEMENT: (&str, &str) = ("TA0008", "Lateral Movement");

/// Sigma tactic tags (`attack.credential-access`) to ATT&CK tactics.
pub(crate) fn tactic_from_sigma_tag(tag: &str) -> Option<(&'static str, &'static str)> {
    Some(match tag.strip_prefix("attack.")? {
        "reconnaissance" => ("TA0043", "Reconnaissance"),
        "resource-development" => ("TA0042", "Resource Development"),
        "initial-access" => INITIAL_ACCESS,
        "execution" => ("TA0002", "Execution"),
        "persistence" => ("TA0003", "Persistence"),
        "privilege-escalation" => PRIVILEGE_ESCALATION,
        "defense-evasion" => DEFENSE_EVASION,
        "credential-access" => CREDENTIAL_ACCESS,
        "discovery" => ("TA0007", "Discovery"),
        "lateral-movement" => LATERAL_MOVEMENT,
        "collection" => COLLECTION,
        "command-and-control" => ("TA0011", "Command and Control"),
        "exfiltration" => ("TA0010", "Exfiltration"),
        "impact" => ("TA0040", "Impact"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_technique_splits_parent() {
        let a = Attack::new(
            "T1110.003",
            "Password Spraying",
            "Brute Force",
            CREDENTIAL_ACCESS,
        );
        assert_eq!(a.technique.uid, "T1110");
        assert_eq!(a.technique_id(), "T1110.003");
        let s = Attack::from_sigma_tag(
            "attack.t1059.001",
            tactic_from_sigma_tag("attack.execution"),
        );
        assert_eq!(
            s.map(|a| a.technique_id().to_owned()).as_deref(),
            Some("T1059.001")
        );
        assert!(Attack::from_sigma_tag("attack.execution", None).is_none());
    }
}
