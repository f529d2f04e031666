//! Options objects passed as JSON: strict (unknown fields are rejected),
//! every error naming the argument and the field.

use serde_json::{Map, Value as Json};

use crate::error::{fail, mesh_result};
use crate::mesh::json_error;

/// A parsed options object; NULL or blank text is an empty one.
pub(crate) struct Options {
    name: &'static str,
    map: Map<String, Json>,
}

impl Options {
    /// Parses `text` (argument `name`) as a JSON object whose fields are
    /// all in `allowed`.
    pub(crate) fn parse(
        text: Option<&str>,
        name: &'static str,
        allowed: &[&str],
    ) -> Result<Options, mesh_result> {
        let map = match text.filter(|t| !t.trim().is_empty()) {
            None => Map::new(),
            Some(t) => match serde_json::from_str::<Json>(t) {
                Ok(Json::Object(m)) => m,
                Ok(_) => {
                    return Err(fail(
                        mesh_result::MESH_ERR_INVALID_JSON,
                        format!("argument `{name}` must be a JSON object"),
                    ))
                }
                Err(e) => return Err(json_error(name, &e)),
            },
        };
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(fail(
                mesh_result::MESH_ERR_INVALID_ARGUMENT,
                format!(
                    "argument `{name}`: unknown field `{k}` (expected one of {})",
                    allowed
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(Options { name, map })
    }

    fn shape(&self, key: &str, what: &str) -> mesh_result {
        fail(
            mesh_result::MESH_ERR_INVALID_JSON,
            format!("argument `{}` at `/{key}`: expected {what}", self.name),
        )
    }

    /// The raw value of `key`, if present and not null.
    pub(crate) fn value(&self, key: &str) -> Option<&Json> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A non-negative integer field, at least `min`.
    pub(crate) fn uint(&self, key: &str, min: u64) -> Result<Option<u64>, mesh_result> {
        let Some(v) = self.value(key) else {
            return Ok(None);
        };
        let n = v
            .as_u64()
            .ok_or_else(|| self.shape(key, "a non-negative integer"))?;
        if n < min {
            return Err(fail(
                mesh_result::MESH_ERR_INVALID_ARGUMENT,
                format!(
                    "argument `{}` at `/{key}`: {n} is less than the minimum {min}",
                    self.name
                ),
            ));
        }
        Ok(Some(n))
    }

    /// A `usize` field, at least `min`.
    pub(crate) fn size(&self, key: &str, min: u64) -> Result<Option<usize>, mesh_result> {
        self.uint(key, min)?
            .map(|n| usize::try_from(n).map_err(|_| self.shape(key, "a smaller integer")))
            .transpose()
    }

    /// An `i64` field (milliseconds), at least `min`.
    pub(crate) fn millis(&self, key: &str, min: u64) -> Result<Option<i64>, mesh_result> {
        self.uint(key, min)?
            .map(|n| i64::try_from(n).map_err(|_| self.shape(key, "a smaller integer")))
            .transpose()
    }

    /// A string field.
    pub(crate) fn string(&self, key: &str) -> Result<Option<&str>, mesh_result> {
        self.value(key)
            .map(|v| v.as_str().ok_or_else(|| self.shape(key, "a string")))
            .transpose()
    }

    /// An array-of-strings field.
    pub(crate) fn strings(&self, key: &str) -> Result<Option<Vec<&str>>, mesh_result> {
        self.value(key)
            .map(|v| {
                v.as_array()
                    .and_then(|a| a.iter().map(Json::as_str).collect::<Option<Vec<_>>>())
                    .ok_or_else(|| self.shape(key, "an array of strings"))
            })
            .transpose()
    }

    /// An error for an unacceptable value of `key`.
    pub(crate) fn invalid(&self, key: &str, message: impl std::fmt::Display) -> mesh_result {
        fail(
            mesh_result::MESH_ERR_INVALID_ARGUMENT,
            format!("argument `{}` at `/{key}`: {message}", self.name),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_wrong_shapes_are_rejected_with_their_field() {
        let r = Options::parse(Some(r#"{"ttl": 5}"#), "options_json", &["ttl_ms"]);
        assert_eq!(r.err(), Some(mesh_result::MESH_ERR_INVALID_ARGUMENT));
        let o = Options::parse(
            Some(r#"{"ttl_ms": -1, "n": 0, "names": [1]}"#),
            "o",
            &["ttl_ms", "n", "names"],
        )
        .unwrap();
        assert_eq!(
            o.millis("ttl_ms", 1).err(),
            Some(mesh_result::MESH_ERR_INVALID_JSON)
        );
        assert_eq!(
            o.size("n", 1).err(),
            Some(mesh_result::MESH_ERR_INVALID_ARGUMENT)
        );
        assert_eq!(o.size("n", 0).ok(), Some(Some(0)));
        assert_eq!(
            o.strings("names").err(),
            Some(mesh_result::MESH_ERR_INVALID_JSON)
        );
        assert_eq!(o.string("absent").ok(), Some(None));
    }

    #[test]
    fn null_blank_and_non_object_text() {
        assert!(Options::parse(None, "o", &[]).is_ok());
        assert!(Options::parse(Some("  "), "o", &[]).is_ok());
        assert_eq!(
            Options::parse(Some("[]"), "o", &[]).err(),
            Some(mesh_result::MESH_ERR_INVALID_JSON)
        );
        assert_eq!(
            Options::parse(Some("{"), "o", &[]).err(),
            Some(mesh_result::MESH_ERR_INVALID_JSON)
        );
    }
}
