//! Assigning values to OCSF attributes by a path resolved once.
//!
//! Declarative mappings name their targets as dotted OCSF paths
//! (`actor.user.name`). A path is resolved once, when the mapping is compiled,
//! into field indices; per event, assignment walks those indices with integer
//! matches and coerces the value to the attribute's type.

use serde_json::Value;

/// Why a value could not be assigned to an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AssignError {
    /// The path does not name an attribute (cannot happen for resolved paths).
    Path,
    /// The value cannot be coerced to the attribute's type (named).
    Type(&'static str),
}

impl AssignError {
    /// A short lowercase description.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            AssignError::Path => "path does not name an attribute",
            AssignError::Type(t) => t,
        }
    }
}

/// A type that OCSF attribute paths can be resolved into and assigned.
pub(crate) trait Assign: Sized {
    /// Resolves the path segments `segs` below a value of this type, pushing
    /// one field index per segment onto `out`; false if a segment is unknown
    /// or descends into a scalar.
    fn resolve(segs: &[&str], out: &mut Vec<u16>) -> bool;
    /// Assigns `value` at the resolved `path` below `self`.
    fn assign(&mut self, path: &[u16], value: Value) -> Result<(), AssignError>;
    /// Converts a whole value to this type, coercing where unambiguous.
    fn from_value(value: Value) -> Result<Self, AssignError>;
}

/// Assigns into an optional attribute, creating the object on the way down.
pub(crate) fn assign_opt<T: Assign + Default>(
    slot: &mut Option<T>,
    rest: &[u16],
    value: Value,
) -> Result<(), AssignError> {
    if rest.is_empty() {
        *slot = Some(T::from_value(value)?);
        Ok(())
    } else {
        slot.get_or_insert_with(T::default).assign(rest, value)
    }
}

macro_rules! leaf {
    ($t:ty) => {
        impl Assign for $t {
            fn resolve(segs: &[&str], _out: &mut Vec<u16>) -> bool {
                segs.is_empty()
            }
            fn assign(&mut self, path: &[u16], value: Value) -> Result<(), AssignError> {
                if !path.is_empty() {
                    return Err(AssignError::Path);
                }
                *self = Self::from_value(value)?;
                Ok(())
            }
            fn from_value(value: Value) -> Result<Self, AssignError> {
                coerce(value)
            }
        }
    };
}

trait Coerce: Sized {
    fn coerce(value: Value) -> Result<Self, AssignError>;
}

fn coerce<T: Coerce>(value: Value) -> Result<T, AssignError> {
    T::coerce(value)
}

impl Coerce for String {
    fn coerce(value: Value) -> Result<Self, AssignError> {
        match value {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(AssignError::Type("expected a string")),
        }
    }
}

impl Coerce for i64 {
    fn coerce(value: Value) -> Result<Self, AssignError> {
        const ERR: AssignError = AssignError::Type("expected an integer");
        match value {
            Value::Number(n) => n.as_i64().ok_or(ERR),
            Value::String(s) => s.trim().parse::<i64>().map_err(|_| ERR),
            Value::Bool(b) => Ok(i64::from(b)),
            _ => Err(ERR),
        }
    }
}

impl Coerce for f64 {
    fn coerce(value: Value) -> Result<Self, AssignError> {
        const ERR: AssignError = AssignError::Type("expected a number");
        match value {
            Value::Number(n) => n.as_f64().ok_or(ERR),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or(ERR),
            _ => Err(ERR),
        }
    }
}

impl Coerce for bool {
    fn coerce(value: Value) -> Result<Self, AssignError> {
        const ERR: AssignError = AssignError::Type("expected a boolean");
        match value {
            Value::Bool(b) => Ok(b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(true),
                "false" | "no" | "0" => Ok(false),
                _ => Err(ERR),
            },
            Value::Number(n) => match n.as_u64() {
                Some(0) => Ok(false),
                Some(1) => Ok(true),
                _ => Err(ERR),
            },
            _ => Err(ERR),
        }
    }
}

leaf!(String);
leaf!(i64);
leaf!(f64);
leaf!(bool);

impl Assign for Value {
    fn resolve(segs: &[&str], _out: &mut Vec<u16>) -> bool {
        segs.is_empty()
    }
    fn assign(&mut self, path: &[u16], value: Value) -> Result<(), AssignError> {
        if !path.is_empty() {
            return Err(AssignError::Path);
        }
        *self = value;
        Ok(())
    }
    fn from_value(value: Value) -> Result<Self, AssignError> {
        if value.is_null() {
            return Err(AssignError::Type("expected a value, not null"));
        }
        Ok(value)
    }
}

impl Assign for serde_json::Map<String, Value> {
    fn resolve(segs: &[&str], _out: &mut Vec<u16>) -> bool {
        segs.is_empty()
    }
    fn assign(&mut self, path: &[u16], value: Value) -> Result<(), AssignError> {
        if !path.is_empty() {
            return Err(AssignError::Path);
        }
        *self = Self::from_value(value)?;
        Ok(())
    }
    fn from_value(value: Value) -> Result<Self, AssignError> {
        match value {
            Value::Object(m) => Ok(m),
            _ => Err(AssignError::Type("expected an object")),
        }
    }
}

impl<T: Assign> Assign for Box<T> {
    fn resolve(segs: &[&str], out: &mut Vec<u16>) -> bool {
        T::resolve(segs, out)
    }
    fn assign(&mut self, path: &[u16], value: Value) -> Result<(), AssignError> {
        (**self).assign(path, value)
    }
    fn from_value(value: Value) -> Result<Self, AssignError> {
        T::from_value(value).map(Box::new)
    }
}

/// Arrays are assigned whole; a single value becomes a one-element array.
impl<T: Assign> Assign for Vec<T> {
    fn resolve(segs: &[&str], _out: &mut Vec<u16>) -> bool {
        segs.is_empty()
    }
    fn assign(&mut self, path: &[u16], value: Value) -> Result<(), AssignError> {
        if !path.is_empty() {
            return Err(AssignError::Path);
        }
        *self = Self::from_value(value)?;
        Ok(())
    }
    fn from_value(value: Value) -> Result<Self, AssignError> {
        match value {
            Value::Array(items) => items.into_iter().map(T::from_value).collect(),
            Value::Null => Err(AssignError::Type("expected a value, not null")),
            other => Ok(vec![T::from_value(other)?]),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coerces_numbers_as_strings_and_back() {
        assert_eq!(i64::from_value(json!(" 42 ")), Ok(42));
        assert_eq!(String::from_value(json!(7)), Ok("7".to_owned()));
        assert_eq!(bool::from_value(json!("TRUE")), Ok(true));
        assert!(i64::from_value(json!("4x")).is_err());
        assert!(i64::from_value(json!(1.5)).is_err());
        assert!(String::from_value(json!(null)).is_err());
    }

    #[test]
    fn vec_accepts_single_value() {
        assert_eq!(
            Vec::<String>::from_value(json!("a")),
            Ok(vec!["a".to_owned()])
        );
    }
}
