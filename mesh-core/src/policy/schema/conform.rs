//! Conforming request and entity values to a schema: values declared
//! `ipaddr` or `decimal` that arrive as plain strings become extension
//! values, and values of the wrong shape are rejected with their path.

use std::sync::Arc;

use super::{ExtensionType, RecordType, Schema, SchemaType};
use crate::policy::ext::{Decimal, IpNet};
use crate::policy::value::{EntityUid, Record, Set, Value};
use crate::policy::PolicyError;

impl Schema {
    /// Conforms a request context to the context type of `action`:
    /// strings declared `ipaddr` or `decimal` are converted, and every
    /// value is checked against its declared type (required attributes
    /// present, no undeclared ones).
    ///
    /// # Errors
    /// [`PolicyError::Request`] naming the offending field (`/context/...`),
    /// or the action when the schema does not declare it.
    pub fn conform_context(
        &self,
        action: &EntityUid,
        context: &Record,
    ) -> Result<Record, PolicyError> {
        let decl = self
            .action(action.entity_type().as_str(), action.id())
            .ok_or_else(|| PolicyError::Request {
                field: "/action".to_owned(),
                message: format!("action `{action}` is not declared in the schema"),
            })?;
        conform_record(&decl.context, context, "/context")
            .map_err(|(field, message)| PolicyError::Request { field, message })
    }

    /// Conforms the attributes of an entity of type `entity_type` to its
    /// declaration, converting `ipaddr` and `decimal` strings.
    ///
    /// # Errors
    /// [`PolicyError::Entities`] with the JSON pointer of the offending attribute.
    pub fn conform_attributes(
        &self,
        entity_type: &str,
        attrs: &Record,
    ) -> Result<Record, PolicyError> {
        let decl = self
            .entity_type(entity_type)
            .ok_or_else(|| PolicyError::Entities {
                pointer: "/uid/type".to_owned(),
                message: format!("entity type `{entity_type}` is not declared in the schema"),
            })?;
        conform_record(&decl.attributes, attrs, "/attrs")
            .map_err(|(pointer, message)| PolicyError::Entities { pointer, message })
    }
}

impl SchemaType {
    /// Conforms one value to this type (see [`Schema::conform_context`]);
    /// `path` is the JSON pointer used in errors.
    ///
    /// # Errors
    /// The pointer of the offending value and what is wrong with it.
    pub fn conform(&self, value: &Value, path: &str) -> Result<Value, (String, String)> {
        let mismatch = || {
            (
                path.to_owned(),
                format!("expected `{self}`, found {}", value.type_name()),
            )
        };
        match (self, value) {
            (SchemaType::Long, Value::Long(_))
            | (SchemaType::String, Value::String(_))
            | (SchemaType::Bool, Value::Bool(_)) => Ok(value.clone()),
            (SchemaType::Entity(ty), Value::Entity(uid)) => {
                if uid.entity_type().as_str() == ty {
                    Ok(value.clone())
                } else {
                    Err((
                        path.to_owned(),
                        format!("expected an entity of type `{ty}`, found `{uid}`"),
                    ))
                }
            }
            (SchemaType::Extension(ExtensionType::IpAddr), Value::Ip(_))
            | (SchemaType::Extension(ExtensionType::Decimal), Value::Decimal(_)) => {
                Ok(value.clone())
            }
            (SchemaType::Extension(ExtensionType::IpAddr), Value::String(s)) => {
                IpNet::parse(s).map(Value::Ip).ok_or_else(|| {
                    (
                        path.to_owned(),
                        format!("`{s}` is not an IP address or range"),
                    )
                })
            }
            (SchemaType::Extension(ExtensionType::Decimal), Value::String(s)) => Decimal::parse(s)
                .map(Value::Decimal)
                .ok_or_else(|| (path.to_owned(), format!("`{s}` is not a decimal"))),
            (SchemaType::Set(elem), Value::Set(set)) => {
                let mut out = Vec::with_capacity(set.len());
                for (i, v) in set.iter().enumerate() {
                    out.push(elem.conform(v, &format!("{path}/{i}"))?);
                }
                Ok(Value::Set(Set::new(out)))
            }
            (SchemaType::Record(rt), Value::Record(r)) => {
                conform_record(rt, r, path).map(Value::Record)
            }
            _ => Err(mismatch()),
        }
    }
}

fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn conform_record(rt: &RecordType, r: &Record, path: &str) -> Result<Record, (String, String)> {
    let mut out: Vec<(Arc<str>, Value)> = Vec::with_capacity(r.len());
    for (name, v) in r.iter() {
        let at = format!("{path}/{}", escape_pointer(name));
        let Some(attr) = rt.get(name) else {
            return Err((
                at,
                format!("attribute `{name}` is not declared in the schema"),
            ));
        };
        out.push((Arc::from(name), attr.ty.conform(v, &at)?));
    }
    for (name, attr) in &rt.attributes {
        if attr.required && r.get(name).is_none() {
            return Err((
                path.to_owned(),
                format!("required attribute `{name}` is missing"),
            ));
        }
    }
    Record::new(out).map_err(|dup| (path.to_owned(), format!("attribute `{dup}` appears twice")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn rec(attrs: Vec<(&str, Value)>) -> Record {
        Record::new(attrs.into_iter().map(|(k, v)| (Arc::from(k), v)).collect()).unwrap()
    }

    fn schema() -> Schema {
        Schema::from_cedarschema(
            "entity User { budget?: decimal, home: ipaddr };
             action read appliesTo { principal: User, resource: User,
               context: { ip: ipaddr, risk: Long, dev: { ips: Set<ipaddr> }, limit?: decimal } };",
            "t",
        )
        .unwrap()
    }

    #[test]
    fn converts_extension_strings_in_context() {
        let s = schema();
        let read = EntityUid::from_parts("Action", "read");
        let ctx = rec(vec![
            ("ip", Value::string("10.1.2.3")),
            ("risk", Value::Long(3)),
            (
                "dev",
                Value::Record(rec(vec![(
                    "ips",
                    Value::Set(Set::new(vec![
                        Value::string("::1"),
                        Value::string("10.0.0.0/8"),
                    ])),
                )])),
            ),
            ("limit", Value::string("1.25")),
        ]);
        let out = s.conform_context(&read, &ctx).unwrap();
        assert_eq!(
            out.get("ip"),
            Some(&Value::Ip(IpNet::parse("10.1.2.3").unwrap()))
        );
        assert_eq!(
            out.get("limit"),
            Some(&Value::Decimal(Decimal::parse("1.25").unwrap()))
        );
        let Some(Value::Record(dev)) = out.get("dev") else {
            unreachable!()
        };
        let Some(Value::Set(ips)) = dev.get("ips") else {
            unreachable!()
        };
        assert!(ips.iter().all(|v| matches!(v, Value::Ip(_))));
    }

    #[test]
    fn rejects_nonconforming_values_with_their_path() {
        let s = schema();
        let read = EntityUid::from_parts("Action", "read");
        let bad_ip = rec(vec![
            ("ip", Value::string("10.1.2")),
            ("risk", Value::Long(1)),
            (
                "dev",
                Value::Record(rec(vec![("ips", Value::Set(Set::new(vec![])))])),
            ),
        ]);
        let e = s.conform_context(&read, &bad_ip).unwrap_err();
        assert!(
            matches!(&e, PolicyError::Request { field, .. } if field == "/context/ip"),
            "{e}"
        );
        let missing = rec(vec![("ip", Value::string("10.1.2.3"))]);
        let e = s.conform_context(&read, &missing).unwrap_err();
        assert!(e.to_string().contains("required attribute `dev`"), "{e}");
        let extra = rec(vec![("zzz", Value::Long(1))]);
        assert!(s
            .conform_context(&read, &extra)
            .unwrap_err()
            .to_string()
            .contains("`zzz`"));
        let wrong = rec(vec![
            ("ip", Value::string("10.1.2.3")),
            ("risk", Value::string("x")),
        ]);
        let e = s.conform_context(&read, &wrong).unwrap_err();
        assert!(e.to_string().contains("expected `Long`"), "{e}");
        let e = s
            .conform_context(&EntityUid::from_parts("Action", "nope"), &missing)
            .unwrap_err();
        assert!(e.to_string().contains("not declared"), "{e}");
    }

    #[test]
    fn converts_entity_attributes() {
        let s = schema();
        let attrs = rec(vec![("home", Value::string("192.168.0.1"))]);
        let out = s.conform_attributes("User", &attrs).unwrap();
        assert!(matches!(out.get("home"), Some(Value::Ip(_))));
        let e = s.conform_attributes("User", &rec(vec![])).unwrap_err();
        assert!(matches!(e, PolicyError::Entities { .. }));
    }
}
