//! Hover: the type of the expression, path or step result under the cursor, the docs
//! of a stdlib function, the doc comment of a declaration.
//!
//! What is shown depends on what the cursor is on, tried in this order: an import's
//! path, a declared or bound name (its declaration, type and `///` docs), a call of
//! a standard-library function (its signatures and docs), and else the smallest
//! checked expression around the cursor (its type). Code is in ```` ```flow ````
//! blocks, types printed as the checker prints them in messages.

use super::{Hover, Location, definition_of, import_at, name_at, type_at, word_at};
use crate::syntax::ast;
use crate::{Analysis, FileId, stdlib};
use std::fmt::Write;

pub fn hover(analysis: &Analysis, file: FileId, offset: u32) -> Option<Hover> {
    let source = analysis.file(file)?;
    if let Some((span, imported)) = import_at(analysis, file, offset) {
        let path = &analysis.file(imported)?.path;
        return Some(Hover {
            span,
            markdown: format!("```flow\nimport \"{path}\"\n```"),
        });
    }
    if let Some(name) = name_at(analysis, file, offset)
        && let Some(markdown) = describe(analysis, name.target)
    {
        return Some(Hover {
            span: name.span,
            markdown,
        });
    }
    if let Some(span) = word_at(&source.text, offset)
        && let Some(word) = source.text.get(span.range())
        && let Some(builtin) = stdlib::lookup(word)
        && called_at(&source.text, span.end)
    {
        return Some(Hover {
            span,
            markdown: builtin_markdown(builtin),
        });
    }
    let typed = type_at(analysis, file, offset)?;
    Some(Hover {
        span: typed.span,
        markdown: code(&typed.ty.to_string()),
    })
}

/// The signatures and documentation of a standard-library function.
pub(crate) fn builtin_markdown(builtin: &stdlib::Builtin) -> String {
    let signatures: Vec<String> = builtin
        .overloads
        .iter()
        .map(|signature| format!("fn {}{signature}", builtin.name))
        .collect();
    format!("{}\n\n{}", code(&signatures.join("\n")), builtin.doc)
}

/// Whether the text after `end` (past spaces) opens a call.
fn called_at(text: &str, end: u32) -> bool {
    text.get(end as usize..)
        .is_some_and(|rest| rest.trim_start().starts_with('('))
}

fn code(text: &str) -> String {
    format!("```flow\n{text}\n```")
}

/// What to show for the declaration or binding at `target`.
fn describe(analysis: &Analysis, target: Location) -> Option<String> {
    let definition = definition_of(analysis, target)?;
    let source = analysis.file(target.file)?;
    let text = source.text.as_str();
    let slice = |start: u32, end: u32| text.get(start as usize..end as usize).unwrap_or("");
    let declaration = source.module.items.iter().find_map(|item| {
        let (name, header_end) = match &item.kind {
            ast::ItemKind::Type(decl) => (&decl.name, decl.ty.span.end),
            ast::ItemKind::Event(decl) => (&decl.name, decl.ty.span.end),
            ast::ItemKind::Connection(decl) => (&decl.name, decl.name.span.end),
            ast::ItemKind::Fn(decl) => (&decl.name, decl.ret.span.end),
            ast::ItemKind::Workflow(decl) => {
                let end = match (&decl.ret, decl.params.last()) {
                    (Some(ret), _) => ret.span.end,
                    // The closing parenthesis follows the last parameter.
                    (None, Some(param)) => text
                        .get(param.span.end as usize..)
                        .and_then(|rest| rest.find(')'))
                        .map_or(param.span.end, |at| {
                            param.span.end + u32::try_from(at + 1).unwrap_or(0)
                        }),
                    (None, None) => decl.name.span.end,
                };
                (&decl.name, end)
            }
            _ => return None,
        };
        (name.span == target.span).then_some((item, header_end))
    });
    let mut markdown = match declaration {
        Some((item, header_end)) => {
            let header = slice(item.span.start, header_end.max(item.span.start));
            let mut markdown = code(&clip(header));
            if !item.docs.0.is_empty() {
                markdown.push_str("\n\n");
                let lines: Vec<&str> = item
                    .docs
                    .0
                    .iter()
                    .map(|line| line.strip_prefix(' ').unwrap_or(line))
                    .collect();
                markdown.push_str(&lines.join("\n"));
            }
            markdown
        }
        None if definition.kind == "field" => {
            let owner = super::item_at(&source.module, target.span.start).and_then(|item| {
                match &item.kind {
                    ast::ItemKind::Type(decl) => Some(decl.name.name.as_str()),
                    _ => None,
                }
            });
            let name = match owner {
                Some(owner) => format!("{owner}.{}", definition.name),
                None => definition.name.clone(),
            };
            code(&format!("{name}: {}", definition.ty))
        }
        None => code(&format!(
            "{} {}: {}",
            definition.kind, definition.name, definition.ty
        )),
    };
    // A workflow's header may not say its result type; the checker knows it.
    if declaration.is_some() && definition.kind == "workflow" {
        let _ = write!(markdown, "\n\nresult: `{}`", definition.ty);
    }
    Some(markdown)
}

/// At most 30 lines of a declaration's header.
fn clip(header: &str) -> String {
    let mut lines: Vec<&str> = header.lines().take(31).collect();
    if lines.len() > 30 {
        lines.truncate(30);
        lines.push("…");
    }
    lines.join("\n")
}
