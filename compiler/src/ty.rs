//! The types of Flow as the checker and the runtime see them.
//!
//! `ast::Type` is what the user wrote; [`Ty`] is what it means once names are
//! resolved: a closed, serde-serialisable description that the checker compares,
//! the IR carries (so the runtime can validate webhook bodies, HTTP responses and
//! `as` conversions against it), and diagnostics print. Named types stay named
//! (`Ty::Named("Payment")`) so messages say `Payment` and recursive types are
//! finite; [`TypeTable`] holds their definitions.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ty {
    Bool,
    Int,
    Float,
    String,
    /// A span of time, in milliseconds.
    Duration,
    /// An instant, UTC, millisecond precision.
    Time,
    /// Any JSON value; field access on it yields `json`. Turning it into a concrete
    /// type is explicit: `value as T`, checked at run time.
    Json,
    Null,
    /// An opaque credential from the vault: flows only into auth, header values and
    /// signature keys.
    Secret,
    /// A literal type: `"BRL"`, `3`, `true`.
    Lit {
        value: LitTy,
    },
    List {
        element: Box<Ty>,
    },
    /// A string-keyed map with values of one type (`webhook.headers`, an HTTP
    /// step's `headers:` option).
    Map {
        value: Box<Ty>,
    },
    /// Fields sorted by name.
    Record {
        fields: Vec<FieldTy>,
    },
    /// Two or more members, flattened, deduplicated and sorted (see [`Ty::union`]);
    /// `T?` is `T | null`.
    Union {
        members: Vec<Ty>,
    },
    /// A declared type, by name; its definition is in the [`TypeTable`].
    Named {
        name: String,
    },
    /// Functions and lambdas: `fn` declarations, stdlib functions, `x => …`.
    Fn {
        params: Vec<Ty>,
        ret: Box<Ty>,
    },
    /// The type of an expression that never produces a value (`fail`), and of the
    /// elements of `[]`: assignable to every type.
    Never,
    /// The type of an expression already reported as wrong: compatible with every
    /// type, so one mistake gives one diagnostic.
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LitTy {
    Bool(bool),
    Int(i64),
    String(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FieldTy {
    pub name: String,
    pub ty: Ty,
    /// `name?: T`: the field may be absent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// The definitions of named types, by name.
pub type TypeTable = BTreeMap<String, Ty>;

impl Ty {
    pub fn list(element: Ty) -> Ty {
        Ty::List {
            element: Box::new(element),
        }
    }

    pub fn map(value: Ty) -> Ty {
        Ty::Map {
            value: Box::new(value),
        }
    }

    pub fn named(name: impl Into<String>) -> Ty {
        Ty::Named { name: name.into() }
    }

    pub fn string_lit(value: impl Into<String>) -> Ty {
        Ty::Lit {
            value: LitTy::String(value.into()),
        }
    }

    /// A record from fields in any order.
    pub fn record(mut fields: Vec<FieldTy>) -> Ty {
        fields.sort_by(|a, b| a.name.cmp(&b.name));
        Ty::Record { fields }
    }

    pub fn optional(inner: Ty) -> Ty {
        Ty::union(vec![inner, Ty::Null])
    }

    /// The normalised union of `members`: nested unions flattened, duplicates and
    /// `never` removed, sorted; one member is returned as itself.
    pub fn union(members: Vec<Ty>) -> Ty {
        let mut flat = Vec::with_capacity(members.len());
        for member in members {
            match member {
                Ty::Union { members } => flat.extend(members),
                Ty::Never => {}
                other => flat.push(other),
            }
        }
        if flat.contains(&Ty::Error) {
            return Ty::Error;
        }
        flat.sort();
        flat.dedup();
        match flat.len() {
            0 => Ty::Never,
            1 => flat.remove(0),
            _ => Ty::Union { members: flat },
        }
    }

    /// Whether `null` is one of the values of this type (before resolving names).
    pub fn is_nullable(&self) -> bool {
        match self {
            Ty::Null | Ty::Json | Ty::Error => true,
            Ty::Union { members } => members.iter().any(Ty::is_nullable),
            _ => false,
        }
    }

    /// This type without `null`: `T?` → `T`.
    pub fn without_null(&self) -> Ty {
        match self {
            Ty::Union { members } => Ty::union(
                members
                    .iter()
                    .filter(|member| **member != Ty::Null)
                    .cloned()
                    .collect(),
            ),
            Ty::Null => Ty::Never,
            other => other.clone(),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Ty::Error)
    }

    /// The built-in type a name denotes in type position, if it is one.
    pub fn builtin(name: &str) -> Option<Ty> {
        Some(match name {
            "bool" => Ty::Bool,
            "int" => Ty::Int,
            "float" => Ty::Float,
            "string" => Ty::String,
            "duration" => Ty::Duration,
            "time" => Ty::Time,
            "json" => Ty::Json,
            "secret" => Ty::Secret,
            _ => return None,
        })
    }
}

/// Types print as they are written in Flow: `{ a: int, b?: [string] }`,
/// `"BRL" | "USD"`, `string?`.
impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Float => f.write_str("float"),
            Ty::String => f.write_str("string"),
            Ty::Duration => f.write_str("duration"),
            Ty::Time => f.write_str("time"),
            Ty::Json => f.write_str("json"),
            Ty::Null => f.write_str("null"),
            Ty::Secret => f.write_str("secret"),
            Ty::Lit { value } => match value {
                LitTy::Bool(value) => write!(f, "{value}"),
                LitTy::Int(value) => write!(f, "{value}"),
                LitTy::String(value) => write!(f, "{value:?}"),
            },
            Ty::List { element } => write!(f, "[{element}]"),
            Ty::Map { value } => write!(f, "{{ [string]: {value} }}"),
            Ty::Record { fields } => {
                if fields.is_empty() {
                    return f.write_str("{}");
                }
                f.write_str("{ ")?;
                for (index, field) in fields.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    let optional = if field.optional { "?" } else { "" };
                    write!(f, "{}{}: {}", field.name, optional, field.ty)?;
                }
                f.write_str(" }")
            }
            Ty::Union { members } => {
                // `T | null` prints as `T?` when T is a single simple member.
                if members.len() == 2 && members.contains(&Ty::Null) {
                    let inner = members.iter().find(|member| **member != Ty::Null);
                    if let Some(inner) = inner {
                        return match inner {
                            Ty::Union { .. } | Ty::Fn { .. } => write!(f, "({inner})?"),
                            _ => write!(f, "{inner}?"),
                        };
                    }
                }
                for (index, member) in members.iter().enumerate() {
                    if index > 0 {
                        f.write_str(" | ")?;
                    }
                    match member {
                        Ty::Fn { .. } => write!(f, "({member})")?,
                        _ => write!(f, "{member}")?,
                    }
                }
                Ok(())
            }
            Ty::Named { name } => f.write_str(name),
            Ty::Fn { params, ret } => {
                f.write_str("(")?;
                for (index, param) in params.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{param}")?;
                }
                write!(f, ") -> {ret}")
            }
            Ty::Never => f.write_str("never"),
            Ty::Error => f.write_str("{unknown}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_normalise() {
        let a = Ty::union(vec![Ty::Int, Ty::union(vec![Ty::Null, Ty::Int]), Ty::Never]);
        assert_eq!(a, Ty::union(vec![Ty::Null, Ty::Int]));
        assert_eq!(a.to_string(), "int?");
        assert_eq!(Ty::union(vec![Ty::String]), Ty::String);
        assert_eq!(Ty::union(vec![]), Ty::Never);
        assert_eq!(a.without_null(), Ty::Int);
    }

    #[test]
    fn types_print_as_written() {
        let ty = Ty::record(vec![
            FieldTy {
                name: "b".into(),
                ty: Ty::list(Ty::String),
                optional: true,
            },
            FieldTy {
                name: "a".into(),
                ty: Ty::union(vec![Ty::string_lit("BRL"), Ty::string_lit("USD")]),
                optional: false,
            },
        ]);
        assert_eq!(ty.to_string(), r#"{ a: "BRL" | "USD", b?: [string] }"#);
    }
}
