//! Typed JSON decoding: JSON text straight into a [`Layout`]'s input slots.
//!
//! End to end, parsing costs more than evaluating: building a generic
//! `serde_json::Value` and then a [`Value`](crate::value::Value) allocates a map
//! per object and a string per field, only for the compiled expression to read a
//! handful of them. A [`Decoder`] instead walks the text once with serde_json's
//! parser, guided by a trie of the layout's paths: the fields a path goes
//! through are descended into, the values a path ends at are written to their
//! slots as they are read, and everything else is skipped without being built
//! (only a list that a `list` slot holds is built, as a value).
//!
//! **Same slots as the generic route.** Afterwards the slots hold exactly what
//! [`Layout::fill`] gives for `Value::from_json` of the same text, and the text is
//! accepted or refused exactly as `serde_json::from_str::<serde_json::Value>`
//! would: numbers are classified the way `Value::from_json` does (integers in
//! `i64` range are `int`, every other number `float`), a field given twice counts
//! with its last value, a missing field reads as `null`, and `null` or a
//! non-record on the way to a field fills the slot as the interpreter would read
//! it (`null` through `?.`, *bail* otherwise).
//!
//! Skipped values are parsed, not merely scanned: serde_json's `IgnoredAny`
//! accepts some text its `Value` refuses (a lone `\ud800` escape, a number such
//! as `1e400` that overflows a float, nesting deeper than its recursion limit),
//! so a decoder that skipped with it would accept a line the interpreter's route
//! rejects. Skipping through `deserialize_any` borrows strings without copying
//! them and builds nothing, so it costs a few float parses more than a scan.

use super::layout::{Kind, Layout, Slots};
use crate::value::Value;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::RefCell;
use std::fmt;

/// Fills `slots` for `layout` from one JSON document standing for `input`
/// (slot 0). Afterwards the slots hold exactly what [`Layout::fill`] gives for
/// `Value::from_json` of the same text; the error is serde_json's when the text
/// is not one JSON document.
///
/// The decoder built for `layout` is kept for the next call on this thread; a
/// caller that decodes many documents for one layout can hold a [`Decoder`]
/// itself and save the comparison of layouts.
pub fn decode(layout: &Layout, json: &str, slots: &mut Slots) -> Result<(), serde_json::Error> {
    CACHED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut cached) => {
            if cached
                .as_ref()
                .is_none_or(|decoder| decoder.layout != *layout)
            {
                *cached = Some(Decoder::new(layout));
            }
            match cached.as_ref() {
                Some(decoder) => decoder.decode(json, slots),
                None => Decoder::new(layout).decode(json, slots),
            }
        }
        Err(_) => Decoder::new(layout).decode(json, slots),
    })
}

/// A layout's paths arranged as a trie of field names, ready to decode many
/// documents.
#[derive(Clone, Debug)]
pub struct Decoder {
    layout: Layout,
    /// Node 0 is the document itself (`input`); every other node is a field
    /// name under its parent.
    nodes: Vec<Node>,
}

impl Decoder {
    pub fn new(layout: &Layout) -> Decoder {
        let mut nodes = vec![Node::default()];
        for (slot, path) in layout.paths().iter().enumerate() {
            if path.local != 0 {
                continue;
            }
            let mut node = 0;
            for depth in 0..=path.fields.len() {
                let rest = &path.fields[depth..];
                nodes[node].under.push(Reader {
                    slot,
                    kind: path.kind,
                    ends: rest.is_empty(),
                    // When the field below this node is missing it reads as
                    // `null`, and every access after it must be `?.` to get
                    // `null` rather than an error.
                    null_below: rest.iter().skip(1).all(|(_, optional)| *optional),
                    null_here: rest.iter().all(|(_, optional)| *optional),
                });
                let Some((name, _)) = rest.first() else {
                    break;
                };
                node = match nodes[node]
                    .children
                    .iter()
                    .find(|(known, _)| **known == **name)
                {
                    Some((_, child)) => *child,
                    None => {
                        nodes.push(Node::default());
                        let child = nodes.len() - 1;
                        nodes[node].children.push((name.as_str().into(), child));
                        child
                    }
                };
            }
        }
        Decoder {
            layout: layout.clone(),
            nodes,
        }
    }

    /// The layout this decoder fills slots for.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Fills `slots` from one JSON document standing for `input`; see [`decode`].
    pub fn decode(&self, json: &str, slots: &mut Slots) -> Result<(), serde_json::Error> {
        let paths = self.layout.paths();
        slots.reset(paths.len());
        for (slot, path) in paths.iter().enumerate() {
            // Only `input` comes from the document; any other local cannot be
            // read from it.
            if path.local != 0 {
                slots.set_bail(slot);
            }
        }
        let mut parser = serde_json::Deserializer::from_str(json);
        NodeSeed {
            nodes: &self.nodes,
            node: 0,
            slots,
        }
        .deserialize(&mut parser)?;
        parser.end()
    }
}

thread_local! {
    static CACHED: RefCell<Option<Decoder>> = const { RefCell::new(None) };
}

/// A place in the document some path goes through or ends at.
#[derive(Clone, Debug, Default)]
struct Node {
    /// The fields under this node that some path reads, with their nodes.
    children: Vec<(Box<str>, usize)>,
    /// Every path that ends at this node or goes through it.
    under: Vec<Reader>,
}

/// One path as seen from a node on its way.
#[derive(Clone, Copy, Debug)]
struct Reader {
    slot: usize,
    kind: Kind,
    /// The path ends at this node: its slot holds this node's value.
    ends: bool,
    /// The slot is `null` (not *bail*) when the field under this node is
    /// missing or `null`.
    null_below: bool,
    /// The slot is `null` (not *bail*) when this node's value is `null`.
    null_here: bool,
}

/// A scalar read from the document, as `Value::from_json` would make it.
enum Scalar<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(&'a str),
}

/// Decodes the value at `node`, writing the slots of every path under it.
struct NodeSeed<'a> {
    nodes: &'a [Node],
    node: usize,
    slots: &'a mut Slots,
}

impl NodeSeed<'_> {
    fn scalar(self, value: Scalar<'_>) {
        for reader in &self.nodes[self.node].under {
            // A path that goes on through a scalar reads a field of a
            // non-record: the interpreter raises an error.
            if !reader.ends {
                self.slots.set_bail(reader.slot);
                continue;
            }
            match (reader.kind, &value) {
                (Kind::Bool, Scalar::Bool(b)) => self.slots.set_bool(reader.slot, *b),
                (Kind::Int, Scalar::Int(i)) => self.slots.set_int(reader.slot, *i),
                (Kind::Float, Scalar::Float(x)) => self.slots.set_float(reader.slot, *x),
                (Kind::String, Scalar::Text(text)) => self.slots.set_text(reader.slot, text),
                _ => self.slots.set_bail(reader.slot),
            }
        }
    }

    fn null(self) {
        for reader in &self.nodes[self.node].under {
            if reader.null_here {
                self.slots.set_null(reader.slot);
            } else {
                self.slots.set_bail(reader.slot);
            }
        }
    }

    /// A list: a path of kind `list` that ends here holds it, every other path
    /// bails (no field can be read from a list).
    fn list(self, list: Option<&Value>) {
        for reader in &self.nodes[self.node].under {
            match list {
                Some(list) if reader.ends && reader.kind == Kind::List => {
                    self.slots.set_value(reader.slot, list.clone());
                }
                _ => self.slots.set_bail(reader.slot),
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.scalar(Scalar::Bool(value));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.scalar(Scalar::Int(value));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        // `Value::from_json` keeps integers that fit `i64` and makes every
        // other number a float.
        match i64::try_from(value) {
            Ok(int) => self.scalar(Scalar::Int(int)),
            Err(_) => self.scalar(Scalar::Float(value as f64)),
        }
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        self.scalar(Scalar::Float(value));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.scalar(Scalar::Text(value));
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.null();
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.null();
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let wanted = self.nodes[self.node]
            .under
            .iter()
            .any(|reader| reader.ends && reader.kind == Kind::List);
        if !wanted {
            while items.next_element_seed(Skip)?.is_some() {}
            self.list(None);
            return Ok(());
        }
        // A list slot holds the list as a value, built as `Value::from_json`
        // builds it.
        let mut elements = Vec::new();
        while let Some(element) = items.next_element::<serde_json::Value>()? {
            elements.push(element);
        }
        let list = Value::from_json(&serde_json::Value::Array(elements));
        self.list(Some(&list));
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<(), A::Error> {
        let node = &self.nodes[self.node];
        // Until a field shows up it is missing, which reads as `null`; a path
        // that ends here reads a record, which no slot kind holds.
        for reader in &node.under {
            if reader.ends || !reader.null_below {
                self.slots.set_bail(reader.slot);
            } else {
                self.slots.set_null(reader.slot);
            }
        }
        while let Some(child) = fields.next_key_seed(KeySeed {
            children: &node.children,
        })? {
            match child {
                // A field given twice is decoded twice: the last one writes
                // the slots last, as the last one wins in a JSON map.
                Some(child) => fields.next_value_seed(NodeSeed {
                    nodes: self.nodes,
                    node: child,
                    slots: &mut *self.slots,
                })?,
                None => fields.next_value_seed(Skip)?,
            }
        }
        Ok(())
    }
}

/// Reads a field name and finds the child node it names, if any.
struct KeySeed<'a> {
    children: &'a [(Box<str>, usize)],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self
            .children
            .iter()
            .find(|(known, _)| **known == *name)
            .map(|(_, child)| *child))
    }
}

/// Parses a value no path reads and keeps nothing of it (see the module's
/// comment for why not `IgnoredAny`).
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<(), A::Error> {
        while fields.next_key_seed(Skip)?.is_some() {
            fields.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::Path;
    use super::super::native::{Slot, TAG_VALUE};
    use super::*;
    use proptest::prelude::*;

    /// What a slot holds, comparable across two `Slots` (string slots point into
    /// different storage).
    #[derive(Debug, PartialEq)]
    enum Held {
        Tag(u32),
        Bits(u64),
        Text(String),
        /// A list's `Debug` text, which tells `1` from `1.0` and `-0.0` from `0.0`.
        List(String),
    }

    fn held(kind: Kind, slot: &Slot) -> Held {
        match (slot.tag(), kind) {
            (TAG_VALUE, Kind::String) => Held::Text(slot.text().unwrap_or("<bad>").to_string()),
            (TAG_VALUE, Kind::List) => Held::List(format!("{:?}", slot.value())),
            (TAG_VALUE, _) => Held::Bits(slot.bits()),
            (tag, _) => Held::Tag(tag),
        }
    }

    fn contents(layout: &Layout, slots: &Slots) -> Vec<Held> {
        layout
            .paths()
            .iter()
            .enumerate()
            .map(|(index, path)| held(path.kind, &slots.cell(index)))
            .collect()
    }

    /// A path written as (local, fields with whether each is read with `?.`, kind).
    type Written<'a> = (usize, &'a [(&'a str, bool)], Kind);

    fn layout_of(paths: &[Written<'_>]) -> Layout {
        let mut layout = Layout::default();
        for (local, fields, kind) in paths {
            layout.slot(Path {
                local: u32::try_from(*local).expect("small local"),
                fields: fields
                    .iter()
                    .map(|(name, optional)| ((*name).to_string(), *optional))
                    .collect(),
                kind: *kind,
            });
        }
        layout
    }

    /// What the generic route gives: `None` when serde_json refuses the text.
    fn reference(layout: &Layout, json: &str) -> Option<Vec<Held>> {
        let parsed: serde_json::Value = serde_json::from_str(json).ok()?;
        let mut slots = Slots::new();
        layout.fill(&Value::from_json(&parsed), &mut slots);
        Some(contents(layout, &slots))
    }

    fn decoded(layout: &Layout, json: &str) -> Option<Vec<Held>> {
        let mut slots = Slots::new();
        // Garbage from an earlier document must not survive.
        slots.set_int(0, 7);
        slots.set_text(1, "stale");
        decode(layout, json, &mut slots).ok()?;
        Some(contents(layout, &slots))
    }

    /// Decodes `json` both ways and checks they agree; returns the slots.
    #[track_caller]
    fn same(layout: &Layout, json: &str) -> Option<Vec<Held>> {
        let expected = reference(layout, json);
        assert_eq!(decoded(layout, json), expected, "document {json}");
        expected
    }

    #[test]
    fn reads_the_fields_a_layout_names() {
        let layout = layout_of(&[
            (0, &[("amount", false)], Kind::Float),
            (0, &[("currency", false)], Kind::String),
            (
                0,
                &[("customer", false), ("address", false), ("city", false)],
                Kind::String,
            ),
            (0, &[("score", false)], Kind::Int),
            (0, &[("vip", false)], Kind::Bool),
        ]);
        let json = r#"{"id":1,"amount":1500.5,"currency":"BRL","score":42,"vip":true,
            "customer":{"first":"Ana","address":{"city":"Recife","country":"BR"}},"tags":["a"]}"#;
        assert_eq!(
            same(&layout, json),
            Some(vec![
                Held::Bits(1500.5f64.to_bits()),
                Held::Text("BRL".into()),
                Held::Text("Recife".into()),
                Held::Bits(42),
                Held::Bits(1),
            ])
        );
    }

    #[test]
    fn numbers_are_classified_as_value_from_json_does() {
        let int = layout_of(&[(0, &[("n", false)], Kind::Int)]);
        let float = layout_of(&[(0, &[("n", false)], Kind::Float)]);
        let bail = Some(vec![Held::Tag(super::super::native::TAG_BAIL)]);
        // An integer where a float is expected is not a float.
        assert_eq!(same(&float, r#"{"n": 3}"#), bail);
        assert_eq!(same(&int, r#"{"n": 3.0}"#), bail);
        assert_eq!(
            same(&int, r#"{"n": -9223372036854775808}"#),
            Some(vec![Held::Bits(i64::MIN.cast_unsigned())])
        );
        // Past `i64`, integers are floats.
        assert_eq!(same(&int, r#"{"n": 9223372036854775808}"#), bail);
        assert_eq!(
            same(&float, r#"{"n": 9223372036854775808}"#),
            Some(vec![Held::Bits(9_223_372_036_854_775_808f64.to_bits())])
        );
        assert_eq!(
            same(&float, r#"{"n": -0}"#),
            Some(vec![Held::Bits((-0.0f64).to_bits())])
        );
        assert_eq!(same(&float, r#"{"n": 1e400}"#), None);
    }

    #[test]
    fn the_last_of_duplicate_fields_wins() {
        let layout = layout_of(&[
            (0, &[("a", false), ("b", false)], Kind::Int),
            (0, &[("c", false)], Kind::Int),
        ]);
        assert_eq!(
            same(&layout, r#"{"a":{"b":1},"c":1,"a":{"x":2},"c":2}"#),
            Some(vec![Held::Tag(0), Held::Bits(2)])
        );
        assert_eq!(
            same(&layout, r#"{"a":{"b":1},"a":5}"#),
            Some(vec![
                Held::Tag(super::super::native::TAG_BAIL),
                Held::Tag(0)
            ])
        );
    }

    #[test]
    fn null_on_the_way_needs_optional_access() {
        let strict = layout_of(&[(0, &[("a", false), ("b", false)], Kind::Int)]);
        let optional = layout_of(&[(0, &[("a", false), ("b", true)], Kind::Int)]);
        let bail = Some(vec![Held::Tag(super::super::native::TAG_BAIL)]);
        assert_eq!(same(&strict, r#"{"a":null}"#), bail);
        assert_eq!(same(&strict, r#"{}"#), bail);
        assert_eq!(same(&optional, r#"{"a":null}"#), Some(vec![Held::Tag(0)]));
        assert_eq!(same(&optional, r#"{}"#), Some(vec![Held::Tag(0)]));
        assert_eq!(same(&optional, r#"{"a":{}}"#), Some(vec![Held::Tag(0)]));
        assert_eq!(same(&optional, r#"{"a":[1]}"#), bail);
    }

    #[test]
    fn a_list_slot_holds_the_list() {
        let layout = layout_of(&[
            (0, &[("tags", false)], Kind::List),
            (0, &[("tags", false), ("x", true)], Kind::Int),
        ]);
        let list = Value::from_json(&serde_json::json!(["a", 1, 2.5, {"k": null}]));
        assert_eq!(
            same(&layout, r#"{"tags":["a",1,2.5,{"k":null}]}"#),
            Some(vec![
                Held::List(format!("{:?}", Some(&list))),
                Held::Tag(super::super::native::TAG_BAIL)
            ])
        );
    }

    #[test]
    fn escapes_in_names_and_values_are_read() {
        let layout = layout_of(&[(0, &[("ab", false)], Kind::String)]);
        assert_eq!(
            same(&layout, r#"{"a\u0062":"x\n\"\u00e9\ud83d\ude00"}"#),
            Some(vec![Held::Text("x\n\"é😀".into())])
        );
    }

    #[test]
    fn what_the_generic_route_refuses_is_refused_even_when_skipped() {
        let layout = layout_of(&[(0, &[("a", false)], Kind::Int)]);
        let deep = format!("{{\"a\":1,\"z\":{}{}}}", "[".repeat(200), "]".repeat(200));
        for json in [
            r#"{"a":1,"z":"\ud800"}"#,
            r#"{"a":1,"z":1e400}"#,
            r#"{"a":1,"z":"\q"}"#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            deep.as_str(),
        ] {
            assert_eq!(same(&layout, json), None, "{json}");
        }
    }

    #[test]
    fn other_locals_and_the_whole_document() {
        let layout = layout_of(&[(1, &[("a", false)], Kind::Int), (0, &[], Kind::Int)]);
        let bail = super::super::native::TAG_BAIL;
        assert_eq!(
            same(&layout, "5"),
            Some(vec![Held::Tag(bail), Held::Bits(5)])
        );
        assert_eq!(
            same(&layout, "null"),
            Some(vec![Held::Tag(bail), Held::Tag(0)])
        );
        assert_eq!(
            same(&layout, r#"{"a":1}"#),
            Some(vec![Held::Tag(bail), Held::Tag(bail)])
        );
    }

    /// A JSON document written as text, so that duplicate keys, escapes and
    /// odd number spellings survive.
    #[derive(Clone, Debug)]
    enum Doc {
        Atom(String),
        List(Vec<Doc>),
        Object(Vec<(String, Doc)>),
    }

    impl Doc {
        fn write(&self, out: &mut String) {
            match self {
                Doc::Atom(text) => out.push_str(text),
                Doc::List(items) => {
                    out.push('[');
                    for (index, item) in items.iter().enumerate() {
                        if index > 0 {
                            out.push(',');
                        }
                        item.write(out);
                    }
                    out.push(']');
                }
                Doc::Object(fields) => {
                    out.push_str("{ ");
                    for (index, (key, value)) in fields.iter().enumerate() {
                        if index > 0 {
                            out.push_str(", ");
                        }
                        out.push_str(key);
                        out.push(':');
                        value.write(out);
                    }
                    out.push('}');
                }
            }
        }
    }

    /// Field names: few, so that paths meet the document's fields often; some
    /// spelled with escapes.
    const NAMES: [&str; 4] = ["a", "b", "c", "é"];
    const KEYS: [&str; 7] = [
        r#""a""#,
        r#""b""#,
        r#""c""#,
        r#""\u0061""#,
        r#""é""#,
        r#""\u00e9""#,
        r#""d""#,
    ];

    fn atom() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|u| u.to_string()),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(|x| format!("{x:?}")),
            prop::sample::select(vec![
                "-0",
                "0",
                "1.0",
                "1e2",
                "-1E-2",
                "1e400",
                "-1e400",
                "1e-400",
                "18446744073709551616",
                "9223372036854775807",
                "9223372036854775808",
                "-9223372036854775809",
                "123456789012345678901234567890",
                "0.1",
            ])
            .prop_map(str::to_string),
            prop::sample::select(vec![
                r#""BRL""#,
                r#""""#,
                r#""a\"b""#,
                r#""\u00e9t\u00e9""#,
                r#""\ud83d\ude00""#,
                r#""\ud800""#,
                r#""tab\tnew\nline""#,
                r#""çà😀""#,
                r#""\/\\""#,
            ])
            .prop_map(str::to_string),
            "[a-z]{0,6}".prop_map(|s| format!("\"{s}\"")),
        ]
    }

    fn doc() -> impl Strategy<Value = Doc> {
        atom()
            .prop_map(Doc::Atom)
            .prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Doc::List),
                    prop::collection::vec(
                        (
                            prop::sample::select(KEYS.to_vec()).prop_map(str::to_string),
                            inner
                        ),
                        0..6
                    )
                    .prop_map(Doc::Object),
                ]
            })
    }

    fn path() -> impl Strategy<Value = (usize, Vec<(String, bool)>, Kind)> {
        (
            prop::sample::select(vec![0usize, 0, 0, 0, 1]),
            prop::collection::vec(
                (
                    prop::sample::select(NAMES.to_vec()).prop_map(str::to_string),
                    any::<bool>(),
                ),
                0..4,
            ),
            prop::sample::select(vec![
                Kind::Null,
                Kind::Bool,
                Kind::Int,
                Kind::Float,
                Kind::String,
                Kind::Duration,
                Kind::Time,
                Kind::List,
            ]),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn decoding_matches_the_generic_route(
            document in doc(),
            paths in prop::collection::vec(path(), 0..8),
        ) {
            let mut layout = Layout::default();
            for (local, fields, kind) in paths {
                layout.slot(Path { local: u32::try_from(local).expect("small"), fields, kind });
            }
            let mut json = String::new();
            document.write(&mut json);
            let expected = reference(&layout, &json);
            prop_assert_eq!(decoded(&layout, &json), expected);
            // And through a decoder kept across documents.
            let decoder = Decoder::new(&layout);
            let mut slots = Slots::new();
            let kept = decoder.decode(&json, &mut slots).ok().map(|()| contents(&layout, &slots));
            prop_assert_eq!(kept, reference(&layout, &json));
        }
    }
}
