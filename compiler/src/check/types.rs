//! The type relations of the checker: turning written types into [`Ty`]s,
//! assignability (`from` may be used where `to` is expected), joins of branches,
//! and field lookup through named types.
//!
//! Named types are aliases compared by structure (SPEC §4.4); recursion through
//! names is cut off by a depth limit, which makes comparisons of recursive types
//! finite (two names that are structurally equal to that depth are equal).

use super::Checker;
use crate::resolve::diagnostics as names;
use crate::syntax::ast;
use crate::ty::{FieldTy, LitTy, Ty};

const DEPTH: u32 = 48;

impl Checker<'_> {
    /// Reports a `secret` anywhere inside a type that crosses the run history: a
    /// workflow's input or result, an event's payload, a callback's payload. Such
    /// a value is journaled, so a secret in it would be written down.
    pub(super) fn forbid_secret_in(&mut self, ty: &Ty, span: crate::diagnostic::Span, place: &str) {
        if self.contains_secret(ty, 0) {
            self.error(super::diagnostics::secret_leak(place, span));
        }
    }

    fn contains_secret(&self, ty: &Ty, depth: u32) -> bool {
        if depth > DEPTH {
            return false;
        }
        match ty {
            Ty::Secret => true,
            Ty::List { element } => self.contains_secret(element, depth + 1),
            Ty::Map { value } => self.contains_secret(value, depth + 1),
            Ty::Record { fields } => fields
                .iter()
                .any(|field| self.contains_secret(&field.ty, depth + 1)),
            Ty::Union { members } => members
                .iter()
                .any(|member| self.contains_secret(member, depth + 1)),
            Ty::Named { name } => self
                .types
                .get(name)
                .is_some_and(|definition| self.contains_secret(definition, depth + 1)),
            _ => false,
        }
    }

    /// The meaning of a written type; unknown names are reported.
    pub(super) fn lower_type(&mut self, ty: &ast::Type) -> Ty {
        match &ty.kind {
            ast::TypeKind::Name(ident) => {
                if let Some(builtin) = Ty::builtin(&ident.name) {
                    return builtin;
                }
                if ident.name == "null" {
                    return Ty::Null;
                }
                if self.decls.types.contains_key(&ident.name) {
                    self.reference(ident.span, &ident.name);
                    return Ty::named(&ident.name);
                }
                let candidates: Vec<&str> = self
                    .decls
                    .types
                    .keys()
                    .map(String::as_str)
                    .chain([
                        "bool", "int", "float", "string", "duration", "time", "json", "secret",
                    ])
                    .collect();
                let suggestion = names::suggest(&ident.name, candidates);
                self.error(names::unknown_type(&ident.name, ident.span, suggestion));
                Ty::Error
            }
            ast::TypeKind::Literal(literal) => match literal {
                ast::Literal::Int(value) => Ty::Lit {
                    value: LitTy::Int(*value),
                },
                ast::Literal::String(value) => Ty::string_lit(value.clone()),
                ast::Literal::Bool(value) => Ty::Lit {
                    value: LitTy::Bool(*value),
                },
                ast::Literal::Null => Ty::Null,
                ast::Literal::Float(_) => Ty::Float,
                ast::Literal::Duration(_) => Ty::Duration,
            },
            ast::TypeKind::List(element) => Ty::list(self.lower_type(element)),
            ast::TypeKind::Record(fields) => {
                let mut lowered: Vec<FieldTy> = Vec::new();
                for field in fields {
                    let ty = self.lower_type(&field.ty);
                    if lowered.iter().any(|known| known.name == field.name.name) {
                        continue;
                    }
                    lowered.push(FieldTy {
                        name: field.name.name.clone(),
                        ty,
                        optional: field.optional,
                    });
                }
                Ty::record(lowered)
            }
            ast::TypeKind::Optional(inner) => Ty::optional(self.lower_type(inner)),
            ast::TypeKind::Union(members) => Ty::union(
                members
                    .iter()
                    .map(|member| self.lower_type(member))
                    .collect(),
            ),
            ast::TypeKind::Error => Ty::Error,
        }
    }

    /// A named type's definition, followed through aliases; other types as they are.
    pub(super) fn resolve(&self, ty: &Ty) -> Ty {
        self.resolve_ref(ty).clone()
    }

    /// What [`resolve`](Self::resolve) returns, borrowed: for callers that only look
    /// at the shape, so a large record type is not copied for each look.
    pub(super) fn resolve_ref<'t>(&'t self, ty: &'t Ty) -> &'t Ty {
        static ERROR: Ty = Ty::Error;
        let mut current = ty;
        for _ in 0..DEPTH {
            match current {
                Ty::Named { name } => match self.types.get(name) {
                    Some(definition) => current = definition,
                    None => return &ERROR,
                },
                _ => return current,
            }
        }
        &ERROR
    }

    /// Whether a value of type `from` may be used where `to` is expected.
    pub(super) fn assignable(&self, from: &Ty, to: &Ty) -> bool {
        self.assignable_at(from, to, 0)
    }

    fn assignable_at(&self, from: &Ty, to: &Ty, depth: u32) -> bool {
        if depth > DEPTH || from == to {
            return true;
        }
        if matches!(from, Ty::Error | Ty::Never) || matches!(to, Ty::Error) {
            return true;
        }
        if let (Ty::Named { .. }, _) | (_, Ty::Named { .. }) = (from, to) {
            return self.assignable_at(self.resolve_ref(from), self.resolve_ref(to), depth + 1);
        }
        if let Ty::Union { members } = from {
            return members
                .iter()
                .all(|member| self.assignable_at(member, to, depth + 1));
        }
        match to {
            Ty::Json => return !self.mentions_secret(from) && !matches!(from, Ty::Fn { .. }),
            Ty::Union { members } => {
                return members
                    .iter()
                    .any(|member| self.assignable_at(from, member, depth + 1));
            }
            _ => {}
        }
        match (from, to) {
            (
                Ty::Lit {
                    value: LitTy::String(_),
                },
                Ty::String,
            )
            | (
                Ty::Lit {
                    value: LitTy::Int(_),
                },
                Ty::Int | Ty::Float,
            )
            | (
                Ty::Lit {
                    value: LitTy::Bool(_),
                },
                Ty::Bool,
            )
            | (Ty::Int, Ty::Float) => true,
            (Ty::List { element: a }, Ty::List { element: b }) => {
                self.assignable_at(a, b, depth + 1)
            }
            (Ty::Map { value: a }, Ty::Map { value: b }) => self.assignable_at(a, b, depth + 1),
            (Ty::Record { fields }, Ty::Map { value }) => fields
                .iter()
                .all(|field| self.assignable_at(&field.ty, value, depth + 1)),
            (
                Ty::Record {
                    fields: from_fields,
                },
                Ty::Record { fields: to_fields },
            ) => to_fields.iter().all(|field| {
                match from_fields
                    .iter()
                    .find(|candidate| candidate.name == field.name)
                {
                    Some(found) => {
                        (field.optional || !found.optional)
                            && self.assignable_at(&found.ty, &field.ty, depth + 1)
                    }
                    None => field.optional,
                }
            }),
            _ => false,
        }
    }

    /// Whether a secret can be inside a value of this type.
    pub(super) fn mentions_secret(&self, ty: &Ty) -> bool {
        self.mentions_secret_at(ty, 0)
    }

    fn mentions_secret_at(&self, ty: &Ty, depth: u32) -> bool {
        if depth > 8 {
            return false;
        }
        match ty {
            Ty::Secret => true,
            Ty::List { element } => self.mentions_secret_at(element, depth + 1),
            Ty::Map { value } => self.mentions_secret_at(value, depth + 1),
            Ty::Record { fields } => fields
                .iter()
                .any(|field| self.mentions_secret_at(&field.ty, depth + 1)),
            Ty::Union { members } => members
                .iter()
                .any(|member| self.mentions_secret_at(member, depth + 1)),
            Ty::Named { .. } => self.mentions_secret_at(self.resolve_ref(ty), depth + 1),
            _ => false,
        }
    }

    /// The type of a value that is either `a` or `b` (`if`/`match` branches, list
    /// elements), or `None` when they do not agree (SPEC §8.2, §8.6): one must fit
    /// the other, or they are numbers (`float`), literal types of one base type
    /// (their union), or agree but for `null` (optional).
    pub(super) fn join(&self, a: &Ty, b: &Ty) -> Option<Ty> {
        if matches!(a, Ty::Never) {
            return Some(b.clone());
        }
        if matches!(b, Ty::Never) || self.assignable(b, a) {
            return Some(a.clone());
        }
        if self.assignable(a, b) {
            return Some(b.clone());
        }
        if self.nullable(a) || self.nullable(b) {
            let joined = self.join(&self.non_null(a), &self.non_null(b))?;
            return Some(Ty::optional(joined));
        }
        if self.is_number(a) && self.is_number(b) {
            return Some(Ty::Float);
        }
        match (self.literal_base(a), self.literal_base(b)) {
            (Some(x), Some(y)) if x == y => Some(Ty::union(vec![a.clone(), b.clone()])),
            _ => None,
        }
    }

    /// The base type of a literal type or a union of literal types of one base.
    fn literal_base(&self, ty: &Ty) -> Option<Ty> {
        match self.resolve_ref(ty) {
            Ty::Lit { value } => Some(match value {
                LitTy::Bool(_) => Ty::Bool,
                LitTy::Int(_) => Ty::Int,
                LitTy::String(_) => Ty::String,
            }),
            Ty::Union { members } => {
                let mut bases = members.iter().map(|member| self.literal_base(member));
                let first = bases.next()??;
                bases
                    .all(|base| base.as_ref() == Some(&first))
                    .then_some(first)
            }
            _ => None,
        }
    }

    /// Whether `null` is a value of the type, through names.
    pub(super) fn nullable(&self, ty: &Ty) -> bool {
        match self.resolve_ref(ty) {
            Ty::Null => true,
            Ty::Union { members } => members.iter().any(|member| self.nullable(member)),
            _ => false,
        }
    }

    /// The type without `null`, through names.
    pub(super) fn non_null(&self, ty: &Ty) -> Ty {
        match self.resolve(ty) {
            Ty::Union { members } => Ty::union(
                members
                    .iter()
                    .filter(|member| !matches!(self.resolve_ref(member), Ty::Null))
                    .cloned()
                    .collect(),
            ),
            Ty::Null => Ty::Never,
            _ => ty.clone(),
        }
    }

    /// Whether two types can be compared with `==`.
    pub(super) fn comparable(&self, a: &Ty, b: &Ty) -> bool {
        let a = self.resolve(a);
        let b = self.resolve(b);
        if matches!(a, Ty::Json | Ty::Null | Ty::Error)
            || matches!(b, Ty::Json | Ty::Null | Ty::Error)
        {
            return true;
        }
        self.assignable(&a, &b)
            || self.assignable(&b, &a)
            || (self.assignable(&a, &Ty::optional(Ty::String))
                && self.assignable(&b, &Ty::optional(Ty::String)))
            || (self.is_number(&self.non_null(&a)) && self.is_number(&self.non_null(&b)))
    }

    pub(super) fn is_number(&self, ty: &Ty) -> bool {
        self.assignable(ty, &Ty::Float) && !matches!(ty, Ty::Never)
    }
}
