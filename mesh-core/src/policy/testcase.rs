//! Policy test cases: requests with the decision they must get, so policy
//! changes are tested like code.
//!
//! # File format (JSON)
//!
//! ```json
//! {
//!   "cases": [
//!     {
//!       "name": "engineers read design docs",
//!       "principal": "User::\"alice\"",
//!       "action": "Action::\"read\"",
//!       "resource": "Document::\"design\"",
//!       "context": { "ip": "10.1.2.3", "risk": 10 },
//!       "auth": { "methods": ["pwd", "mfa"], "auth_time": 1700000000000 },
//!       "now": 1700000060000,
//!       "expect": "allow",
//!       "determining": ["engineers-read"],
//!       "reason": "permitted"
//!     },
//!     {
//!       "name": "admin needs fresh mfa",
//!       "principal": { "type": "User", "id": "bob" },
//!       "action": "Action::\"admin\"",
//!       "resource": "Document::\"design\"",
//!       "expect": "challenge",
//!       "obligation": "mfa"
//!     }
//!   ]
//! }
//! ```
//!
//! A bare array of cases is accepted too. Fields:
//!
//! | field | required | meaning |
//! |---|---|---|
//! | `name` | yes | unique name shown in results |
//! | `principal`, `action`, `resource` | yes | `Type::"id"` or `{"type", "id"}` |
//! | `context` | no | record (Cedar JSON values); with a schema, `ipaddr`/`decimal` strings are converted |
//! | `auth` | no | the principal's authentication context: `methods`, `auth_time` (ms), `acr` |
//! | `now` | no | current time in ms since the epoch (default 0), for `@max_auth_age` |
//! | `expect` | yes | `allow`, `deny` or `challenge` |
//! | `determining` | no | exact set of determining policy ids (order ignored) |
//! | `obligation` | no | for `challenge`: the obligation name |
//! | `reason` | no | `permitted`, `forbid_matched`, `forbid_errored`, `obligation_unmet`, `no_permit` |
//!
//! Unknown fields are rejected, so a typo never silently weakens a test.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value as Json};
use thiserror::Error;

use super::decision::Outcome;
use super::entities::Entities;
use super::policy_set::PolicySet;
use super::request::Request;
use super::schema::Schema;
use crate::identity::AuthContext;
use crate::Timestamp;

/// Most test cases accepted in one suite.
pub const MAX_TEST_CASES: usize = 100_000;

/// The decision a test case expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expected {
    /// Access granted.
    Allow,
    /// Access refused.
    Deny,
    /// Access granted once an obligation is met.
    Challenge,
}

impl Expected {
    /// `allow`, `deny` or `challenge`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Allow => "allow",
            Expected::Deny => "deny",
            Expected::Challenge => "challenge",
        }
    }
}

/// One test case: a request and what its decision must be.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The case's name.
    pub name: String,
    /// The request as written (JSON with principal, action, resource, context).
    request: Json,
    auth: Option<AuthContext>,
    now: Timestamp,
    /// The expected outcome.
    pub expect: Expected,
    /// The expected determining policy ids, if given.
    pub determining: Option<BTreeSet<String>>,
    /// The expected obligation name, if given.
    pub obligation: Option<String>,
    /// The expected reason (stable name), if given.
    pub reason: Option<String>,
}

/// A parsed file of test cases.
#[derive(Debug, Clone, Default)]
pub struct TestSuite {
    cases: Vec<TestCase>,
}

/// Why a test-case file was rejected: where (JSON pointer, or line:column
/// for JSON syntax errors) and what.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid test cases in `{file}` at `{location}`: {message}")]
pub struct TestCaseError {
    file: String,
    location: String,
    message: String,
}

impl TestCaseError {
    fn new(file: &str, location: impl Into<String>, message: impl Into<String>) -> Self {
        TestCaseError {
            file: file.to_owned(),
            location: location.into(),
            message: message.into(),
        }
    }

    /// The JSON pointer (or `line:column`) of the offending value.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

const FIELDS: &[&str] = &[
    "name",
    "principal",
    "action",
    "resource",
    "context",
    "auth",
    "now",
    "expect",
    "determining",
    "obligation",
    "reason",
];

const REASONS: &[&str] = &[
    "permitted",
    "forbid_matched",
    "forbid_errored",
    "obligation_unmet",
    "no_permit",
];

impl TestSuite {
    /// Parses a test-case file (the format is described in the `policy::testcase` module docs);
    /// `file` names it in errors.
    ///
    /// # Errors
    /// A [`TestCaseError`] locating the first invalid value.
    pub fn from_json_str(src: &str, file: &str) -> Result<TestSuite, TestCaseError> {
        let json: Json = serde_json::from_str(src).map_err(|e| {
            TestCaseError::new(file, format!("{}:{}", e.line(), e.column()), e.to_string())
        })?;
        let (cases, base) = match &json {
            Json::Array(a) => (a, String::new()),
            Json::Object(o) => {
                if let Some(k) = o.keys().filter(|k| *k != "cases").min() {
                    return Err(TestCaseError::new(
                        file,
                        format!("/{k}"),
                        format!("unknown field `{k}`; the file has one field, `cases`"),
                    ));
                }
                match o.get("cases") {
                    Some(Json::Array(a)) => (a, "/cases".to_owned()),
                    _ => {
                        return Err(TestCaseError::new(
                            file,
                            "/cases",
                            "expected an array of test cases",
                        ))
                    }
                }
            }
            _ => {
                return Err(TestCaseError::new(
                    file,
                    "",
                    "expected an object with `cases`, or an array of cases",
                ))
            }
        };
        if cases.len() > MAX_TEST_CASES {
            return Err(TestCaseError::new(
                file,
                base,
                format!("more than {MAX_TEST_CASES} test cases"),
            ));
        }
        let mut names = BTreeSet::new();
        let mut out = Vec::with_capacity(cases.len());
        for (i, c) in cases.iter().enumerate() {
            let at = format!("{base}/{i}");
            let case = parse_case(c, &at, file)?;
            if !names.insert(case.name.clone()) {
                return Err(TestCaseError::new(
                    file,
                    format!("{at}/name"),
                    format!("duplicate test case name `{}`", case.name),
                ));
            }
            out.push(case);
        }
        Ok(TestSuite { cases: out })
    }

    /// The cases, in file order.
    pub fn cases(&self) -> &[TestCase] {
        &self.cases
    }

    /// Runs every case against `policies` and `entities`; with a schema,
    /// request contexts are conformed first (`ipaddr`/`decimal` strings
    /// become extension values).
    pub fn run(
        &self,
        policies: &PolicySet,
        entities: &Entities,
        schema: Option<&Schema>,
    ) -> TestReport {
        TestReport {
            results: self
                .cases
                .iter()
                .map(|c| c.run(policies, entities, schema))
                .collect(),
        }
    }
}

fn parse_case(c: &Json, at: &str, file: &str) -> Result<TestCase, TestCaseError> {
    let err = |field: &str, msg: String| TestCaseError::new(file, format!("{at}{field}"), msg);
    let Json::Object(o) = c else {
        return Err(err("", "expected a test case object".to_owned()));
    };
    if let Some(k) = o.keys().filter(|k| !FIELDS.contains(&k.as_str())).min() {
        return Err(err(
            &format!("/{k}"),
            format!("unknown field `{k}`; fields are {}", FIELDS.join(", ")),
        ));
    }
    let string = |k: &str| -> Result<Option<String>, TestCaseError> {
        match o.get(k) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(err(&format!("/{k}"), "expected a string".to_owned())),
        }
    };
    let name = string("name")?.ok_or_else(|| err("/name", "missing".to_owned()))?;
    let mut request = Map::new();
    for k in ["principal", "action", "resource"] {
        let v = o
            .get(k)
            .ok_or_else(|| err(&format!("/{k}"), "missing".to_owned()))?;
        request.insert(k.to_owned(), v.clone());
    }
    if let Some(ctx) = o.get("context") {
        request.insert("context".to_owned(), ctx.clone());
    }
    let request = Json::Object(request);
    // Validate the request shape now, so errors point into the file.
    Request::from_json(&request).map_err(|e| err("", e.to_string()))?;
    let auth = match o.get("auth") {
        None => None,
        Some(a) => Some(
            serde_json::from_value::<AuthContext>(a.clone())
                .map_err(|e| err("/auth", e.to_string()))?,
        ),
    };
    let now = match o.get("now") {
        None => Timestamp::EPOCH,
        Some(n) => Timestamp::from_unix_millis(
            n.as_i64()
                .ok_or_else(|| err("/now", "expected milliseconds since the epoch".to_owned()))?,
        ),
    };
    let expect = match string("expect")?.as_deref() {
        Some("allow") => Expected::Allow,
        Some("deny") => Expected::Deny,
        Some("challenge") => Expected::Challenge,
        Some(other) => {
            return Err(err(
                "/expect",
                format!("unknown decision `{other}`; expected `allow`, `deny` or `challenge`"),
            ))
        }
        None => return Err(err("/expect", "missing".to_owned())),
    };
    let determining = match o.get("determining") {
        None => None,
        Some(Json::Array(ids)) => {
            let mut set = BTreeSet::new();
            for (j, id) in ids.iter().enumerate() {
                let Json::String(s) = id else {
                    return Err(err(
                        &format!("/determining/{j}"),
                        "expected a policy id".to_owned(),
                    ));
                };
                set.insert(s.clone());
            }
            Some(set)
        }
        Some(_) => {
            return Err(err(
                "/determining",
                "expected an array of policy ids".to_owned(),
            ))
        }
    };
    let obligation = string("obligation")?;
    if obligation.is_some() && expect != Expected::Challenge {
        return Err(err(
            "/obligation",
            "an obligation is only expected with `\"expect\": \"challenge\"`".to_owned(),
        ));
    }
    let reason = string("reason")?;
    if let Some(r) = &reason {
        if !REASONS.contains(&r.as_str()) {
            return Err(err(
                "/reason",
                format!(
                    "unknown reason `{r}`; expected one of {}",
                    REASONS.join(", ")
                ),
            ));
        }
    }
    Ok(TestCase {
        name,
        request,
        auth,
        now,
        expect,
        determining,
        obligation,
        reason,
    })
}

impl TestCase {
    /// Runs this case (see [`TestSuite::run`]).
    pub fn run(
        &self,
        policies: &PolicySet,
        entities: &Entities,
        schema: Option<&Schema>,
    ) -> CaseResult {
        let fail = |m: String| CaseResult {
            name: self.name.clone(),
            mismatches: vec![m],
        };
        let mut req = match Request::from_json(&self.request) {
            Ok(r) => r,
            Err(e) => return fail(format!("invalid request: {e}")),
        };
        if let Some(schema) = schema {
            match schema.conform_context(req.action(), req.context()) {
                Ok(ctx) => req.set_context(ctx),
                Err(e) => return fail(format!("request does not conform to the schema: {e}")),
            }
        }
        if let Some(auth) = &self.auth {
            req = req.with_auth(auth.clone(), self.now);
        }
        let d = policies.decide(&req, entities);
        let (got, got_obligation) = match d.outcome() {
            Outcome::Allow => (Expected::Allow, None),
            Outcome::Deny => (Expected::Deny, None),
            Outcome::Challenge { obligation } => (Expected::Challenge, Some(obligation.name())),
        };
        let determining: BTreeSet<String> =
            d.determining().map(|p| p.as_str().to_owned()).collect();
        let mut mismatches = Vec::new();
        if got != self.expect {
            let why = if determining.is_empty() {
                format!("no policy applied ({})", d.reason().as_str())
            } else {
                format!(
                    "{} by {}",
                    d.reason().as_str(),
                    determining
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            mismatches.push(format!(
                "expected `{}`, got `{}` ({why})",
                self.expect.as_str(),
                got.as_str()
            ));
        }
        if let Some(want) = &self.determining {
            if *want != determining {
                let missing: Vec<&String> = want.difference(&determining).collect();
                let extra: Vec<&String> = determining.difference(want).collect();
                mismatches.push(format!(
                    "determining policies differ: missing {missing:?}, unexpected {extra:?}"
                ));
            }
        }
        if let Some(want) = &self.obligation {
            if got_obligation != Some(want.as_str()) {
                mismatches.push(format!(
                    "expected obligation `{want}`, got {}",
                    got_obligation.map_or("none".to_owned(), |o| format!("`{o}`"))
                ));
            }
        }
        if let Some(want) = &self.reason {
            if d.reason().as_str() != want {
                mismatches.push(format!(
                    "expected reason `{want}`, got `{}`",
                    d.reason().as_str()
                ));
            }
        }
        let errors: Vec<String> = d.errors().map(|e| e.to_string()).collect();
        if !mismatches.is_empty() && !errors.is_empty() {
            mismatches.push(format!("evaluation errors: {}", errors.join("; ")));
        }
        CaseResult {
            name: self.name.clone(),
            mismatches,
        }
    }
}

/// The result of one test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// What differed from the expectation (empty when the case passed).
    pub mismatches: Vec<String>,
}

impl CaseResult {
    /// Whether the decision matched every expectation.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// The results of a test suite, in case order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    /// One result per case.
    pub results: Vec<CaseResult>,
}

impl TestReport {
    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(CaseResult::passed)
    }

    /// The failed cases.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.results.iter().filter(|r| !r.passed())
    }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.results {
            if r.passed() {
                writeln!(f, "ok     {}", r.name)?;
            } else {
                writeln!(f, "FAILED {}", r.name)?;
                for m in &r.mismatches {
                    writeln!(f, "         {m}")?;
                }
            }
        }
        let failed = self.failures().count();
        write!(
            f,
            "{} passed, {failed} failed",
            self.results.len().saturating_sub(failed)
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const POLICIES: &str = r#"
@id("read-docs")
permit(principal in Group::"eng", action == Action::"read", resource is Document)
when { context.ip.isInRange(ip("10.0.0.0/8")) };

@id("admin")
@obligation("mfa")
@max_auth_age("15m")
permit(principal in Group::"eng", action == Action::"admin", resource);

@id("no-secret")
forbid(principal, action, resource) when { resource.secret };
"#;

    const SCHEMA: &str = r#"
entity Group;
entity User in [Group];
entity Document { secret: Bool };
action read, admin appliesTo { principal: User, resource: Document, context: { ip?: ipaddr } };
"#;

    const ENTITIES: &str = r#"[
        {"uid": {"type": "Group", "id": "eng"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": [{"type": "Group", "id": "eng"}]},
        {"uid": {"type": "Document", "id": "design"}, "attrs": {"secret": false}, "parents": []},
        {"uid": {"type": "Document", "id": "keys"}, "attrs": {"secret": true}, "parents": []}
    ]"#;

    fn run(cases: &str) -> TestReport {
        let suite = TestSuite::from_json_str(cases, "t.json").unwrap();
        let set = PolicySet::parse(POLICIES, "p.cedar").unwrap();
        let ents = Entities::from_json_str(ENTITIES).unwrap();
        let schema = Schema::from_cedarschema(SCHEMA, "s").unwrap();
        suite.run(&set, &ents, Some(&schema))
    }

    #[test]
    fn passing_cases_pass() {
        let report = run(r#"{"cases": [
            {"name": "alice reads", "principal": "User::\"alice\"", "action": "Action::\"read\"",
             "resource": "Document::\"design\"", "context": {"ip": "10.1.2.3"},
             "expect": "allow", "determining": ["read-docs"], "reason": "permitted"},
            {"name": "outside network", "principal": "User::\"alice\"", "action": "Action::\"read\"",
             "resource": "Document::\"design\"", "context": {"ip": "192.168.0.1"}, "expect": "deny",
             "reason": "no_permit", "determining": []},
            {"name": "secret", "principal": "User::\"alice\"", "action": "Action::\"read\"",
             "resource": "Document::\"keys\"", "context": {"ip": "10.1.2.3"}, "expect": "deny",
             "determining": ["no-secret"]},
            {"name": "admin without mfa", "principal": "User::\"alice\"", "action": "Action::\"admin\"",
             "resource": "Document::\"design\"", "auth": {"methods": ["pwd"], "auth_time": 0},
             "now": 60000, "expect": "challenge", "obligation": "mfa"},
            {"name": "admin with fresh mfa", "principal": {"type": "User", "id": "alice"},
             "action": "Action::\"admin\"", "resource": "Document::\"design\"",
             "auth": {"methods": ["pwd", "mfa"], "auth_time": 0}, "now": 60000, "expect": "allow"}
        ]}"#);
        assert!(report.passed(), "{report}");
        assert!(
            report.to_string().ends_with("5 passed, 0 failed"),
            "{report}"
        );
    }

    #[test]
    fn mismatches_are_explained() {
        let report = run(r#"[
            {"name": "wrong", "principal": "User::\"alice\"", "action": "Action::\"read\"",
             "resource": "Document::\"keys\"", "context": {"ip": "10.1.2.3"}, "expect": "allow",
             "determining": ["read-docs"]},
            {"name": "bad ctx", "principal": "User::\"alice\"", "action": "Action::\"read\"",
             "resource": "Document::\"keys\"", "context": {"ip": "not-an-ip"}, "expect": "deny"}
        ]"#);
        assert!(!report.passed());
        let f: Vec<_> = report.failures().collect();
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0].mismatches[0],
            "expected `allow`, got `deny` (forbid_matched by `no-secret`)"
        );
        assert_eq!(
            f[0].mismatches[1],
            "determining policies differ: missing [\"read-docs\"], unexpected [\"no-secret\"]"
        );
        assert!(f[1].mismatches[0].contains("/context/ip"), "{:?}", f[1]);
        assert!(report.to_string().contains("FAILED wrong"));
    }

    #[test]
    fn rejects_malformed_files_with_locations() {
        let e = |s: &str| TestSuite::from_json_str(s, "t.json").unwrap_err();
        let case = r#"{"name": "a", "principal": "User::\"a\"", "action": "Action::\"read\"", "resource": "Document::\"d\"", "expect": "allow"}"#;
        assert!(TestSuite::from_json_str(&format!("[{case}]"), "t").is_ok());
        assert_eq!(e(&format!("[{case}, {case}]")).location(), "/1/name");
        assert_eq!(
            e(&case.replace("\"allow\"", "\"permit\"")).location(),
            "/action"
        );
        let bad = format!(
            "{{\"cases\": [{}]}}",
            case.replace("\"allow\"", "\"permit\"")
        );
        assert_eq!(e(&bad).location(), "/cases/0/expect");
        let typo = format!("[{}]", case.replace("\"expect\"", "\"expected\""));
        assert_eq!(e(&typo).location(), "/0/expected");
        assert_eq!(e("[1, ").location(), "1:4");
        let obl = format!("[{}]", case.replace("}", ", \"obligation\": \"mfa\"}"));
        assert_eq!(e(&obl).location(), "/0/obligation");
        let noprin = format!("[{}]", case.replace("\"principal\"", "\"principle\""));
        assert_eq!(e(&noprin).location(), "/0/principle");
    }
}
