//! Go to definition, find references and rename, over the checker's record of every
//! definition and use.
//!
//! The checker records each use of a declared or bound name with the span of the
//! name it stands for (`check::Info::references`), so these queries need no name
//! resolution of their own: they find the name under the cursor, its target, and
//! every use with the same target, in any file of the analysis.

use super::{Edit, Location, RenameError, definition_of, import_at, name_at, uses_of, word_at};
use crate::syntax::ast;
use crate::syntax::token::{CONTEXTUAL_KEYWORDS, KEYWORDS};
use crate::{Analysis, FileId, Span, stdlib};

pub fn definition(analysis: &Analysis, file: FileId, offset: u32) -> Option<Location> {
    if let Some((_, imported)) = import_at(analysis, file, offset) {
        return Some(Location {
            file: imported,
            span: Span::at(0),
        });
    }
    name_at(analysis, file, offset).map(|name| name.target)
}

/// Every use of the thing under the cursor, and its declaration when asked.
pub fn references(
    analysis: &Analysis,
    file: FileId,
    offset: u32,
    include_declaration: bool,
) -> Vec<Location> {
    if let Some((_, imported)) = import_at(analysis, file, offset) {
        return imports_of(analysis, imported, include_declaration);
    }
    let Some(name) = name_at(analysis, file, offset) else {
        return Vec::new();
    };
    let mut found = uses_of(analysis, name.target);
    if include_declaration {
        found.insert(0, name.target);
    }
    found
}

/// Every `import` of the file `imported` in the project (its paths), and the file
/// itself first when the declaration is asked for.
fn imports_of(analysis: &Analysis, imported: FileId, include_declaration: bool) -> Vec<Location> {
    let mut found = Vec::new();
    if include_declaration {
        found.push(Location {
            file: imported,
            span: Span::at(0),
        });
    }
    for (index, source) in analysis.files.iter().enumerate() {
        let Ok(index) = u32::try_from(index) else {
            break;
        };
        for item in &source.module.items {
            if let ast::ItemKind::Import(import) = &item.kind
                && super::file_id(
                    analysis,
                    &crate::resolve::join(&source.path, &import.path.value),
                ) == Some(imported)
            {
                found.push(Location {
                    file: FileId(index),
                    span: import.path.span,
                });
            }
        }
    }
    found
}

/// The span of the name that would be renamed, or why it cannot be.
pub fn prepare_rename(
    analysis: &Analysis,
    file: FileId,
    offset: u32,
) -> Option<Result<Span, RenameError>> {
    match name_at(analysis, file, offset) {
        Some(name) => Some(renameable(analysis, name.target).map(|()| name.span)),
        None => {
            let text = analysis.file(file)?.text.as_str();
            let word = text.get(word_at(text, offset)?.range())?;
            refusal(word).map(Err)
        }
    }
}

/// The edits that rename the thing under the cursor everywhere in the project.
pub fn rename(
    analysis: &Analysis,
    file: FileId,
    offset: u32,
    new_name: &str,
) -> Result<Vec<Edit>, RenameError> {
    let Some(name) = name_at(analysis, file, offset) else {
        let word = analysis
            .file(file)
            .and_then(|source| Some((source, word_at(&source.text, offset)?)))
            .and_then(|(source, span)| source.text.get(span.range()));
        return Err(word
            .and_then(refusal)
            .unwrap_or_else(|| RenameError("there is no name to rename here".to_string())));
    };
    renameable(analysis, name.target)?;
    valid_name(new_name)?;
    let definition = definition_of(analysis, name.target);
    if definition.is_some_and(|definition| definition.name == new_name) {
        return Ok(Vec::new());
    }
    if let Some(definition) = definition {
        no_clash(analysis, name.target, definition.kind, new_name)?;
    }
    let mut edits: Vec<Edit> = std::iter::once(name.target)
        .chain(uses_of(analysis, name.target))
        .map(|location| Edit {
            file: location.file,
            span: location.span,
            text: new_name.to_string(),
        })
        .collect();
    edits.sort_by_key(|edit| (edit.file, edit.span.start));
    edits.dedup();
    Ok(edits)
}

/// Why a word that names nothing of the project cannot be renamed, when it is a
/// keyword or a built-in.
fn refusal(word: &str) -> Option<RenameError> {
    if KEYWORDS.iter().any(|(keyword, _)| *keyword == word) {
        return Some(RenameError(format!("`{word}` is a keyword")));
    }
    if stdlib::lookup(word).is_some() {
        return Some(RenameError(format!(
            "`{word}` is a function of the standard library"
        )));
    }
    if BUILTIN_NAMES.contains(&word) || BUILTIN_TYPES.contains(&word) {
        return Some(RenameError(format!("`{word}` is built in")));
    }
    None
}

/// Names the language gives a meaning without a declaration.
const BUILTIN_NAMES: &[&str] = &["webhook", "secrets", "context"];

/// The built-in types, which share the namespace of declared types.
const BUILTIN_TYPES: &[&str] = &[
    "bool", "int", "float", "string", "duration", "time", "json", "null", "secret",
];

/// Whether the declaration at `target` belongs to the project (so every use of it
/// is in the analysis).
fn renameable(analysis: &Analysis, target: Location) -> Result<(), RenameError> {
    match definition_of(analysis, target) {
        Some(definition) if definition.span.is_empty() => Err(RenameError(format!(
            "`{}` is built in and cannot be renamed",
            definition.name
        ))),
        Some(_) => Ok(()),
        None => Err(RenameError(
            "this name is not declared in the project".to_string(),
        )),
    }
}

/// Whether `name` may be written as a name: an identifier that is not a keyword
/// nor a name the language reserves.
fn valid_name(name: &str) -> Result<(), RenameError> {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_');
    if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(RenameError(format!("`{name}` is not a valid name")));
    }
    if KEYWORDS.iter().any(|(keyword, _)| *keyword == name) {
        return Err(RenameError(format!("`{name}` is a keyword")));
    }
    if CONTEXTUAL_KEYWORDS.contains(&name) || BUILTIN_NAMES.contains(&name) {
        return Err(RenameError(format!("`{name}` is reserved")));
    }
    Ok(())
}

/// Refuses a new name that another declaration of the same namespace, or another
/// binding of the same body, already has.
fn no_clash(
    analysis: &Analysis,
    target: Location,
    kind: &str,
    new_name: &str,
) -> Result<(), RenameError> {
    let clash = |what: &str| {
        Err(RenameError(format!(
            "`{new_name}` is already the name of {what}"
        )))
    };
    let decls = &analysis.program;
    let declared = |kinds: &[&str]| {
        analysis
            .info
            .definitions
            .iter()
            .any(|definition| definition.name == new_name && kinds.contains(&definition.kind))
    };
    match kind {
        "type" => {
            if BUILTIN_TYPES.contains(&new_name) {
                return clash("a built-in type");
            }
            if declared(&["type"]) || decls.types.contains_key(new_name) {
                return clash("a type");
            }
        }
        "workflow" | "fn" | "connection" | "event" => {
            if declared(&["workflow", "fn", "connection", "event"]) {
                return clash("another declaration");
            }
            if kind == "fn" && stdlib::lookup(new_name).is_some() {
                return clash("a function of the standard library");
            }
        }
        "field" => {
            if sibling_fields(analysis, target).contains(&new_name) {
                return clash("another field of this type");
            }
        }
        _ => {
            // A binding: refused when any binding of the same top-level item has the
            // name, which is stricter than scoping needs but never wrong.
            let Some(source) = analysis.file(target.file) else {
                return Ok(());
            };
            let Some(item) = super::item_at(&source.module, target.span.start) else {
                return Ok(());
            };
            let taken = analysis.info.definitions.iter().any(|definition| {
                definition.file == target.file
                    && definition.name == new_name
                    && item.span.start <= definition.span.start
                    && definition.span.end <= item.span.end
            });
            if taken {
                return clash("another binding in this declaration");
            }
        }
    }
    Ok(())
}

/// The names of the fields declared next to the field at `target`.
fn sibling_fields(analysis: &Analysis, target: Location) -> Vec<&str> {
    let Some(source) = analysis.file(target.file) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for item in &source.module.items {
        if let ast::ItemKind::Type(decl) = &item.kind {
            collect_siblings(&decl.ty, target.span, &mut names);
        }
    }
    names
}

fn collect_siblings<'a>(ty: &'a ast::Type, target: Span, names: &mut Vec<&'a str>) {
    match &ty.kind {
        ast::TypeKind::Record(fields) => {
            if fields.iter().any(|field| field.name.span == target) {
                names.extend(fields.iter().map(|field| field.name.name.as_str()));
            }
            for field in fields {
                collect_siblings(&field.ty, target, names);
            }
        }
        ast::TypeKind::List(inner) | ast::TypeKind::Optional(inner) => {
            collect_siblings(inner, target, names);
        }
        ast::TypeKind::Union(members) => {
            for member in members {
                collect_siblings(member, target, names);
            }
        }
        _ => {}
    }
}
