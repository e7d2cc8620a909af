//! Run-time values: what expressions evaluate to and what the journal stores.
//!
//! A [`Value`] is JSON plus two kinds JSON lacks, `duration` and `time`, plus an
//! opaque `secret` that names a vault entry without holding it. Strings, lists and
//! records sit behind `Arc`, so cloning a value (reading a field of a large record,
//! binding a lambda parameter) copies a pointer, never the data: the evaluator clones
//! freely. Records and maps are one kind, ordered by key (code-point order), so a
//! value has exactly one JSON text and one hash whatever order its fields were built
//! or received in; the order of keys in a JSON document is not kept.
//!
//! Conversion to JSON is driven by the value alone (durations become Flow duration
//! text such as `"90m"`, times RFC 3339 text); conversion from JSON is driven by a
//! [`Ty`] (so the string `"90m"` becomes a duration where the type says `duration`)
//! and reports the path of the first mismatch. [`infer_type`] gives the type of a
//! JSON document, for `flowc eval`'s `input`.

use crate::ty::{FieldTy, LitTy, Ty, TypeTable};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The fields of a record or the entries of a map, ordered by key.
pub type Fields = BTreeMap<Arc<str>, Value>;

#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    /// Any IEEE 754 double, NaN and infinities included (they arise from
    /// arithmetic; in JSON they are written as `null`).
    Float(f64),
    String(Arc<str>),
    List(Arc<Vec<Value>>),
    /// A record, a map, or a JSON object.
    Record(Arc<Fields>),
    /// Milliseconds.
    Duration(i64),
    /// Milliseconds since 1970-01-01T00:00:00Z.
    Time(i64),
    /// `secrets.NAME`, or a template that interpolates one (`"Bearer ${secrets.t}"`):
    /// text with holes that only the runtime fills, at send time.
    Secret(Arc<Vec<SecretPart>>),
}

/// A piece of a secret value: plain text, or the name of a vault entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretPart {
    Text(Arc<str>),
    Secret(Arc<str>),
}

impl Value {
    pub fn string(text: impl Into<Arc<str>>) -> Value {
        Value::String(text.into())
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    pub fn record<K: Into<Arc<str>>>(fields: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Record(Arc::new(
            fields.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        ))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The name of the value's kind, as messages print it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Record(_) => "record",
            Value::Duration(_) => "duration",
            Value::Time(_) => "time",
            Value::Secret(_) => "secret",
        }
    }

    /// The field `name` of a record, if the value is one and has it.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Record(fields) => fields.get(name),
            _ => None,
        }
    }

    /// A rough size in bytes, used by the output-size limit: the length of strings
    /// plus a word for every other value.
    pub fn weight(&self) -> usize {
        match self {
            Value::String(text) => text.len().max(8),
            Value::Secret(parts) => parts.len() * 16,
            Value::List(items) => items.iter().map(Value::weight).sum::<usize>() + 8,
            Value::Record(fields) => {
                fields
                    .iter()
                    .map(|(key, value)| key.len() + value.weight())
                    .sum::<usize>()
                    + 8
            }
            _ => 8,
        }
    }

    /// Converts to JSON. Durations become duration text (`"90m"`), times RFC 3339
    /// text (see [`time_to_json`]), non-finite floats `null`, and secrets the text `"<secret NAME>"` (the
    /// checker keeps secrets out of every place a value is written, so this is
    /// only ever seen in debugging output).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.to_string()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Record(fields) => J::Object(
                fields
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.to_json()))
                    .collect(),
            ),
            Value::Duration(ms) => J::String(format_duration(*ms)),
            Value::Time(ms) => time_to_json(*ms),
            Value::Secret(parts) => J::String(
                parts
                    .iter()
                    .map(|part| match part {
                        SecretPart::Text(text) => text.to_string(),
                        SecretPart::Secret(name) => format!("<secret {name}>"),
                    })
                    .collect(),
            ),
        }
    }

    /// Converts JSON to a value without a type: numbers that are integers in range
    /// become `int`, other numbers `float`, strings stay strings. Object keys are
    /// shared across the document (a list of a million records holds each key
    /// once), which saves memory and keeps field lookups in cache.
    pub fn from_json(json: &serde_json::Value) -> Value {
        from_json_shared(json, &mut Keys::default())
    }

    /// Converts JSON to a value of type `ty`, or says where and why it does not fit.
    /// A missing record field is accepted where `null` would be, and fields the type
    /// does not name are dropped (SPEC §9.2). Durations are read from duration text
    /// (`"1500ms"`, `"90m"`) or an integer of milliseconds; times from RFC 3339 text
    /// or an integer of milliseconds since the epoch; `int` accepts a float with no
    /// fractional part; `float` accepts any number.
    pub fn from_json_typed(
        json: &serde_json::Value,
        ty: &Ty,
        types: &TypeTable,
    ) -> Result<Value, Mismatch> {
        let mut path = String::new();
        convert(json, ty, types, &mut path, 0)
    }

    /// Checks that an untyped value (a `json` value) has the shape of `ty` and
    /// returns it with durations and times converted; used by `as`.
    pub fn conform(&self, ty: &Ty, types: &TypeTable) -> Result<Value, Mismatch> {
        // Values inside a `json` are JSON-shaped, so going through JSON is exact;
        // already-typed values (a duration inside a record) survive as text.
        Value::from_json_typed(&self.to_json(), ty, types)
    }
}

/// Object keys seen so far in one document.
#[derive(Default)]
struct Keys(std::collections::HashMap<String, Arc<str>>);

impl Keys {
    fn get(&mut self, key: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(key) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(key);
        // Bound the table, so a document of unique keys costs no more than twice.
        if self.0.len() < 4096 {
            self.0.insert(key.to_string(), shared.clone());
        }
        shared
    }
}

fn from_json_shared(json: &serde_json::Value, keys: &mut Keys) -> Value {
    use serde_json::Value as J;
    match json {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::string(s.as_str()),
        J::Array(items) => Value::list(
            items
                .iter()
                .map(|item| from_json_shared(item, keys))
                .collect(),
        ),
        J::Object(fields) => Value::Record(Arc::new(
            fields
                .iter()
                .map(|(key, value)| (keys.get(key), from_json_shared(value, keys)))
                .collect(),
        )),
    }
}

/// Where a JSON document does not fit a type: `path` is `$` for the root, then
/// `.field` and `[index]` steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub found: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at `${}`: expected `{}`, found {}",
            self.path, self.expected, self.found
        )
    }
}

/// Named types may refer to themselves; deeper than this is a cycle.
const MAX_NAME_DEPTH: usize = 64;

fn describe(json: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match json {
        J::Null => "`null`".into(),
        J::Bool(b) => format!("`{b}`"),
        J::Number(n) => format!("the number `{n}`"),
        J::String(s) => {
            let short: String = s.chars().take(40).collect();
            format!("the string {short:?}")
        }
        J::Array(_) => "a list".into(),
        J::Object(_) => "an object".into(),
    }
}

fn convert(
    json: &serde_json::Value,
    ty: &Ty,
    types: &TypeTable,
    path: &mut String,
    names: usize,
) -> Result<Value, Mismatch> {
    use serde_json::Value as J;
    let mismatch = |path: &String| Mismatch {
        path: path.clone(),
        expected: ty.to_string(),
        found: describe(json),
    };
    match (ty, json) {
        (Ty::Json | Ty::Error, _) => Ok(Value::from_json(json)),
        (Ty::Null, J::Null) => Ok(Value::Null),
        (Ty::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
        (Ty::Int, J::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Value::Int(i)),
            None => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 =>
                {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(Value::Int(f as i64))
                }
                _ => Err(mismatch(path)),
            },
        },
        (Ty::Float, J::Number(n)) => n.as_f64().map(Value::Float).ok_or_else(|| mismatch(path)),
        (Ty::String, J::String(s)) => Ok(Value::string(s.as_str())),
        (Ty::Duration, J::String(s)) => parse_duration(s)
            .map(Value::Duration)
            .ok_or_else(|| mismatch(path)),
        (Ty::Duration, J::Number(n)) => n
            .as_i64()
            .map(Value::Duration)
            .ok_or_else(|| mismatch(path)),
        (Ty::Time, J::String(s)) => parse_time_rfc3339(s)
            .map(Value::Time)
            .ok_or_else(|| mismatch(path)),
        (Ty::Time, J::Number(n)) => n.as_i64().map(Value::Time).ok_or_else(|| mismatch(path)),
        (Ty::Lit { value }, _) => {
            let fits = match (value, json) {
                (LitTy::Bool(a), J::Bool(b)) => a == b,
                (LitTy::Int(a), J::Number(n)) => n.as_i64() == Some(*a),
                (LitTy::String(a), J::String(b)) => a == b,
                _ => false,
            };
            if fits {
                Ok(Value::from_json(json))
            } else {
                Err(mismatch(path))
            }
        }
        (Ty::List { element }, J::Array(items)) => {
            let mut values = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                values.push(convert(item, element, types, path, names)?);
                path.truncate(len);
            }
            Ok(Value::list(values))
        }
        (Ty::Map { value }, J::Object(fields)) => {
            let mut out = Fields::new();
            for (key, item) in fields {
                let len = path.len();
                push_field(path, key);
                out.insert(
                    Arc::from(key.as_str()),
                    convert(item, value, types, path, names)?,
                );
                path.truncate(len);
            }
            Ok(Value::Record(Arc::new(out)))
        }
        (Ty::Record { fields }, J::Object(object)) => {
            let mut out = Fields::new();
            for field in fields {
                let len = path.len();
                push_field(path, &field.name);
                let item = object.get(&field.name).unwrap_or(&J::Null);
                let missing_ok = object.get(&field.name).is_none() && field.optional;
                if !missing_ok {
                    out.insert(
                        Arc::from(field.name.as_str()),
                        convert(item, &field.ty, types, path, names)?,
                    );
                }
                path.truncate(len);
            }
            Ok(Value::Record(Arc::new(out)))
        }
        (Ty::Union { members }, _) => {
            let mut first = None;
            for member in members {
                match convert(json, member, types, path, names) {
                    Ok(value) => return Ok(value),
                    // The deepest mismatch is the most useful to report.
                    Err(error) => {
                        let better = first
                            .as_ref()
                            .is_none_or(|f: &Mismatch| error.path.len() > f.path.len());
                        if better {
                            first = Some(error);
                        }
                    }
                }
            }
            match first {
                Some(error) if error.path.len() > path.len() => Err(error),
                _ => Err(mismatch(path)),
            }
        }
        (Ty::Named { name }, _) => match types.get(name) {
            Some(definition) if names < MAX_NAME_DEPTH => {
                convert(json, definition, types, path, names + 1).map_err(|mut error| {
                    if error.path == *path && error.expected == definition.to_string() {
                        error.expected = name.clone();
                    }
                    error
                })
            }
            _ => Err(mismatch(path)),
        },
        _ => Err(mismatch(path)),
    }
}

fn push_field(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(&format!("[{key:?}]"));
    }
}

/// The type of a JSON document, as `flowc eval` gives its `input`: integers are
/// `int`, other numbers `float`; the elements of a list are unified (records by
/// field: a field missing from some elements becomes optional; `int` and `float`
/// make `float`; `null` and `T` make `T?`; anything else that disagrees makes
/// `json`); an empty list is `[json]`.
pub fn infer_type(json: &serde_json::Value) -> Ty {
    use serde_json::Value as J;
    match json {
        J::Null => Ty::Null,
        J::Bool(_) => Ty::Bool,
        J::Number(n) => {
            if n.is_i64() {
                Ty::Int
            } else {
                Ty::Float
            }
        }
        J::String(_) => Ty::String,
        J::Array(items) => {
            let mut iter = items.iter().map(infer_type);
            let element = match iter.next() {
                None => Ty::Json,
                Some(first) => iter.fold(first, |a, b| unify(&a, &b)),
            };
            Ty::list(element)
        }
        J::Object(fields) => Ty::record(
            fields
                .iter()
                .map(|(name, value)| FieldTy {
                    name: name.clone(),
                    ty: infer_type(value),
                    optional: false,
                })
                .collect(),
        ),
    }
}

/// The least type that holds values of both `a` and `b`, as [`infer_type`] uses it.
pub fn unify(a: &Ty, b: &Ty) -> Ty {
    if a == b {
        return a.clone();
    }
    match (a, b) {
        (Ty::Json, _) | (_, Ty::Json) => Ty::Json,
        (Ty::Never, other) | (other, Ty::Never) => other.clone(),
        (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Ty::Float,
        (Ty::Null, other) | (other, Ty::Null) => {
            if other.is_nullable() {
                other.clone()
            } else {
                Ty::optional(other.clone())
            }
        }
        (Ty::Union { .. }, _) | (_, Ty::Union { .. }) => {
            let nullable = a.is_nullable() || b.is_nullable();
            let inner = unify(&a.without_null(), &b.without_null());
            if nullable && inner != Ty::Json {
                Ty::optional(inner)
            } else {
                inner
            }
        }
        (Ty::List { element: x }, Ty::List { element: y }) => Ty::list(unify(x, y)),
        (Ty::Record { fields: x }, Ty::Record { fields: y }) => {
            let mut merged: BTreeMap<&str, FieldTy> = BTreeMap::new();
            for field in x {
                let other = y.iter().find(|f| f.name == field.name);
                merged.insert(
                    &field.name,
                    match other {
                        Some(other) => FieldTy {
                            name: field.name.clone(),
                            ty: unify(&field.ty, &other.ty),
                            optional: field.optional || other.optional,
                        },
                        None => FieldTy {
                            optional: true,
                            ..field.clone()
                        },
                    },
                );
            }
            for field in y {
                merged.entry(&field.name).or_insert_with(|| FieldTy {
                    optional: true,
                    ..field.clone()
                });
            }
            Ty::record(merged.into_values().collect())
        }
        _ => Ty::Json,
    }
}

const UNITS: [(&str, i64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// A duration in the largest unit that states it exactly: `90m`, `1500ms`, `-2h`,
/// `0s`. This is what `to_string` and JSON output give, and what
/// [`parse_duration`] reads back.
pub fn format_duration(millis: i64) -> String {
    if millis == 0 {
        return "0s".into();
    }
    for (unit, size) in UNITS {
        if millis % size == 0 {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

/// Reads duration text: an optional `-`, then one or more `<digits><unit>` parts
/// with units `d h m s ms` (`1h30m`, `1500ms`, `90m`). `None` for anything else or
/// on overflow.
pub fn parse_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if rest.is_empty() {
        return None;
    }
    // Summed in 128 bits, so the most negative duration's own text
    // (`-9223372036854775808ms`, whose magnitude is not an i64) reads back.
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: i128 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let size = UNITS
            .iter()
            .find(|(unit, _)| *unit == &rest[..unit_len])
            .map(|(_, size)| *size)?;
        rest = &rest[unit_len..];
        total = total.checked_add(number.checked_mul(i128::from(size))?)?;
    }
    i64::try_from(if negative { -total } else { total }).ok()
}

/// An instant as RFC 3339 text in UTC with millisecond precision when needed:
/// `2024-05-01T12:00:00Z`, `2024-05-01T12:00:00.250Z`.
pub fn format_time_rfc3339(millis: i64) -> String {
    match jiff::Timestamp::from_millisecond(millis) {
        Ok(timestamp) => {
            if millis.rem_euclid(1000) == 0 {
                format!("{timestamp:.0}")
            } else {
                format!("{timestamp:.3}")
            }
        }
        Err(_) => format!("{millis}ms"),
    }
}

/// A time in JSON: RFC 3339 text ([`format_time_rfc3339`]), or, for an instant
/// outside RFC 3339's years (−9999 to 9999, which time arithmetic can leave), the
/// integer of milliseconds since the epoch. Both read back as the same time
/// where a type says `time`.
pub fn time_to_json(millis: i64) -> serde_json::Value {
    if jiff::Timestamp::from_millisecond(millis).is_ok() {
        serde_json::Value::String(format_time_rfc3339(millis))
    } else {
        serde_json::Value::from(millis)
    }
}

/// Reads RFC 3339 text (any offset) as milliseconds since the epoch, dropping
/// precision below a millisecond.
pub fn parse_time_rfc3339(text: &str) -> Option<i64> {
    let timestamp: jiff::Timestamp = text.parse().ok()?;
    Some(timestamp.as_millisecond())
}

/// Structural equality: lists element by element, records field by field, `int`
/// and `float` by numeric value (`1 == 1.0`), floats as IEEE 754 (`NaN != NaN`).
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            #[allow(clippy::cast_precision_loss)]
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                int_float_cmp(*a, *b) == Some(std::cmp::Ordering::Equal)
            }
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) => Arc::ptr_eq(a, b) || a == b,
            (Value::Record(a), Value::Record(b)) => Arc::ptr_eq(a, b) || a == b,
            (Value::Duration(a), Value::Duration(b)) => a == b,
            (Value::Time(a), Value::Time(b)) => a == b,
            (Value::Secret(a), Value::Secret(b)) => a == b,
            _ => false,
        }
    }
}

impl Value {
    /// The order `<` uses: numbers by value (`int` and `float` mixed exactly),
    /// strings by code point, `false < true`, durations, times; lists
    /// lexicographically. `None` for NaN and for values of different kinds.
    pub fn compare(&self, other: &Value) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
            (Value::Int(a), Value::Float(b)) => int_float_cmp(*a, *b),
            (Value::Float(a), Value::Int(b)) => {
                int_float_cmp(*b, *a).map(std::cmp::Ordering::reverse)
            }
            // UTF-8 byte order is code-point order.
            (Value::String(a), Value::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Duration(a), Value::Duration(b)) | (Value::Time(a), Value::Time(b)) => {
                Some(a.cmp(b))
            }
            (Value::List(a), Value::List(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    match x.compare(y)? {
                        std::cmp::Ordering::Equal => {}
                        other => return Some(other),
                    }
                }
                Some(a.len().cmp(&b.len()))
            }
            _ => None,
        }
    }
}

/// 2^63 as a float: every float in `[-2^63, 2^63)` has an `int` part that fits.
#[allow(clippy::cast_precision_loss)]
pub const TWO_POW_63: f64 = (1u64 << 63) as f64;

/// Compares an `int` with a `float` exactly (no rounding of large integers);
/// `None` when the float is NaN.
pub fn int_float_cmp(int: i64, float: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    if float.is_nan() {
        return None;
    }
    // Every i64 lies in [-2^63, 2^63); floats outside that range compare by sign.
    if float >= TWO_POW_63 {
        return Some(Ordering::Less);
    }
    if float < -TWO_POW_63 {
        return Some(Ordering::Greater);
    }
    let truncated = float.trunc();
    #[allow(clippy::cast_possible_truncation)]
    let whole = truncated as i64;
    match int.cmp(&whole) {
        Ordering::Equal => {
            let fraction = float - truncated;
            Some(if fraction > 0.0 {
                Ordering::Less
            } else if fraction < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            })
        }
        other => Some(other),
    }
}

/// Values print as JSON, with durations and times as their text.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}
