//! Name resolution at the level of a project: loading imported files and
//! collecting the declarations every file can see.
//!
//! The compiler does no IO, so files are read through the caller's [`Loader`];
//! this module only joins paths (purely, as strings), parses each file once,
//! reports missing files and import cycles, and builds the project's
//! [`Declarations`]: one namespace for types and one for workflows, functions,
//! connections and events, each name declared once per project. Names inside
//! bodies (lets, steps, loop variables, handles) are resolved by the checker, which
//! needs their types anyway; their diagnostics live here too.

pub mod diagnostics;

use crate::diagnostic::{FileId, Span};
use crate::syntax::{self, ast};
use crate::{AnalyzedFile, FileDiagnostic, Loader, SourceFile};
use std::collections::BTreeMap;

/// Where a declaration is: its file, its item index in that file's module, and the
/// span of its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclRef {
    pub file: FileId,
    pub item: usize,
    pub name: Span,
}

/// The declarations of a project, by kind and name.
#[derive(Clone, Debug, Default)]
pub struct Declarations {
    pub types: BTreeMap<String, DeclRef>,
    pub events: BTreeMap<String, DeclRef>,
    pub connections: BTreeMap<String, DeclRef>,
    pub functions: BTreeMap<String, DeclRef>,
    pub workflows: BTreeMap<String, DeclRef>,
}

/// Loads the roots and everything they import, transitively. Returns the files in
/// load order (roots first, each followed by what it imports) and the diagnostics
/// of parsing and loading.
pub fn load(
    roots: Vec<SourceFile>,
    loader: &dyn Loader,
) -> (Vec<AnalyzedFile>, Vec<FileDiagnostic>) {
    let mut files: Vec<AnalyzedFile> = Vec::new();
    let mut diagnostics = Vec::new();
    let mut queue: Vec<(SourceFile, bool)> = roots.into_iter().map(|file| (file, true)).collect();
    queue.reverse();
    // Edges of the import graph: (importer, imported, span of the import).
    let mut edges: Vec<(usize, usize, Span, String)> = Vec::new();
    let mut next = 0;
    while let Some((source, root)) = queue.pop() {
        let path = normalize(&source.path);
        if files.iter().any(|file| file.path == path) {
            continue;
        }
        files.push(parse_file(
            path,
            source.text,
            root,
            &mut diagnostics,
            files.len(),
        ));
        while next < files.len() {
            let importer = next;
            next += 1;
            let imports: Vec<ast::StrLit> = files[importer]
                .module
                .items
                .iter()
                .filter_map(|item| match &item.kind {
                    ast::ItemKind::Import(import) => Some(import.path.clone()),
                    _ => None,
                })
                .collect();
            for import in imports {
                let target = join(&files[importer].path, &import.value);
                let known = files.iter().position(|file| file.path == target);
                let index = match known {
                    Some(index) => index,
                    None => match loader.load(&target) {
                        Ok(text) => {
                            let index = files.len();
                            files.push(parse_file(
                                target.clone(),
                                text,
                                false,
                                &mut diagnostics,
                                index,
                            ));
                            index
                        }
                        Err(reason) => {
                            diagnostics.push(FileDiagnostic {
                                file: file_id(importer),
                                diagnostic: diagnostics::import_not_found(
                                    &import.value,
                                    import.span,
                                    &reason,
                                ),
                            });
                            continue;
                        }
                    },
                };
                edges.push((importer, index, import.span, import.value.clone()));
            }
        }
    }
    report_cycles(&files, &edges, &mut diagnostics);
    (files, diagnostics)
}

fn parse_file(
    path: String,
    text: String,
    root: bool,
    diagnostics: &mut Vec<FileDiagnostic>,
    index: usize,
) -> AnalyzedFile {
    let parsed = syntax::parse(&text);
    diagnostics.extend(
        parsed
            .diagnostics
            .into_iter()
            .map(|diagnostic| FileDiagnostic {
                file: file_id(index),
                diagnostic,
            }),
    );
    AnalyzedFile {
        lines: crate::LineIndex::new(&text),
        path,
        text,
        module: parsed.module,
        root,
    }
}

pub(crate) fn file_id(index: usize) -> FileId {
    FileId(u32::try_from(index).unwrap_or(u32::MAX))
}

/// Reports each import that closes a cycle, once per cycle.
fn report_cycles(
    files: &[AnalyzedFile],
    edges: &[(usize, usize, Span, String)],
    diagnostics: &mut Vec<FileDiagnostic>,
) {
    // Depth-first search with colours; a back edge closes a cycle.
    let mut state = vec![0u8; files.len()];
    let mut stack: Vec<usize> = Vec::new();
    for start in 0..files.len() {
        if state[start] == 0 {
            visit(start, files, edges, &mut state, &mut stack, diagnostics);
        }
    }
}

fn visit(
    node: usize,
    files: &[AnalyzedFile],
    edges: &[(usize, usize, Span, String)],
    state: &mut [u8],
    stack: &mut Vec<usize>,
    diagnostics: &mut Vec<FileDiagnostic>,
) {
    state[node] = 1;
    stack.push(node);
    for (from, to, span, written) in edges.iter().filter(|edge| edge.0 == node) {
        match state[*to] {
            0 => visit(*to, files, edges, state, stack, diagnostics),
            1 => {
                let start = stack.iter().position(|entry| entry == to).unwrap_or(0);
                let mut chain: Vec<String> = stack[start..]
                    .iter()
                    .map(|index| files[*index].path.clone())
                    .collect();
                chain.push(files[*to].path.clone());
                diagnostics.push(FileDiagnostic {
                    file: file_id(*from),
                    diagnostic: diagnostics::import_cycle(written, *span, &chain),
                });
            }
            _ => {}
        }
    }
    stack.pop();
    state[node] = 2;
}

/// `dir(importer)/path`, normalised; absolute import paths stay as written.
pub fn join(importer: &str, path: &str) -> String {
    if path.starts_with('/') {
        return normalize(path);
    }
    let directory = match importer.rfind('/') {
        Some(index) => &importer[..index],
        None => "",
    };
    if directory.is_empty() {
        normalize(path)
    } else {
        normalize(&format!("{directory}/{path}"))
    }
}

/// Removes `.` segments and resolves `..` against earlier segments, purely.
pub fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Collects the declarations of every file; a name declared twice is reported at
/// its second declaration.
pub fn declarations(files: &[AnalyzedFile], out: &mut Vec<FileDiagnostic>) -> Declarations {
    let mut declarations = Declarations::default();
    // Workflows, functions, connections and events share one namespace.
    let mut values: BTreeMap<String, (DeclRef, &'static str)> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        let file_id = file_id(index);
        for (item_index, item) in file.module.items.iter().enumerate() {
            let (name, kind): (&ast::Ident, &'static str) = match &item.kind {
                ast::ItemKind::Type(decl) => (&decl.name, "type"),
                ast::ItemKind::Event(decl) => (&decl.name, "event"),
                ast::ItemKind::Connection(decl) => (&decl.name, "connection"),
                ast::ItemKind::Fn(decl) => (&decl.name, "function"),
                ast::ItemKind::Workflow(decl) => (&decl.name, "workflow"),
                _ => continue,
            };
            let reference = DeclRef {
                file: file_id,
                item: item_index,
                name: name.span,
            };
            let first = if kind == "type" {
                declarations
                    .types
                    .get(&name.name)
                    .map(|first| (*first, "type"))
            } else {
                values.get(&name.name).copied()
            };
            if let Some((first, first_kind)) = first {
                let other_file = (first.file != file_id).then_some(first.file);
                let label = if first_kind == kind { kind } else { "name" };
                out.push(FileDiagnostic {
                    file: file_id,
                    diagnostic: diagnostics::duplicate_definition(
                        label,
                        &name.name,
                        name.span,
                        (other_file, first.name),
                    ),
                });
                continue;
            }
            if kind != "type" {
                values.insert(name.name.clone(), (reference, kind));
            }
            let table = match kind {
                "type" => &mut declarations.types,
                "event" => &mut declarations.events,
                "connection" => &mut declarations.connections,
                "function" => &mut declarations.functions,
                _ => &mut declarations.workflows,
            };
            table.insert(name.name.clone(), reference);
        }
    }
    declarations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_relative_to_the_importer() {
        assert_eq!(join("flows/main.flow", "./types.flow"), "flows/types.flow");
        assert_eq!(join("flows/main.flow", "../shared/a.flow"), "shared/a.flow");
        assert_eq!(join("main.flow", "./a.flow"), "a.flow");
        assert_eq!(join("/p/x/main.flow", "../a.flow"), "/p/a.flow");
        assert_eq!(join("a.flow", "../up.flow"), "../up.flow");
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(diagnostics::edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            diagnostics::suggest("paymnet", ["payment", "other"]),
            Some("payment".to_string())
        );
        assert_eq!(diagnostics::suggest("x", ["completely"]), None);
        assert_eq!(diagnostics::edit_distance("lenght", "length"), 1);
        assert_eq!(
            diagnostics::suggest("lenght", ["len", "last"]),
            Some("len".to_string())
        );
        assert_eq!(diagnostics::suggest("le", ["len"]), Some("len".to_string()));
        assert_eq!(diagnostics::suggest("total", ["to", "tags"]), None);
    }
}
