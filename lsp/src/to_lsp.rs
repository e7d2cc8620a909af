//! The compiler's answers in the protocol's words.
//!
//! `compiler::ide` answers in byte spans of files of an [`Analysis`]; an editor wants
//! URIs, UTF-16 positions and the protocol's structures. Each function here turns one
//! kind of answer into the other, converting every position through
//! [`crate::position::Lines`]. Nothing here decides anything the compiler already
//! decided: messages, codes and spans are passed on as they are.

use crate::position::{Lines, utf16_len};
use crate::project::Uris;
use flowc_compiler::ide;
use flowc_compiler::{Analysis, AnalyzedFile, FileId, Severity, Span};
use std::collections::{BTreeMap, HashMap};
use tower_lsp_server::ls_types as lsp;

/// What the client said it can take, where the answer differs by client.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientFeatures {
    pub snippets: bool,
    pub hierarchical_symbols: bool,
    pub label_offsets: bool,
    pub line_folding_only: bool,
    /// Whether hovers, completion items and signatures may be Markdown; plain
    /// text otherwise.
    pub markdown_hover: bool,
    pub markdown_completion: bool,
    pub markdown_signature: bool,
}

/// Documentation as Markdown when the client takes it, else as a plain string
/// (which needs no declared format).
fn documentation(value: String, markdown: bool) -> lsp::Documentation {
    if markdown {
        lsp::Documentation::MarkupContent(lsp::MarkupContent {
            kind: lsp::MarkupKind::Markdown,
            value,
        })
    } else {
        lsp::Documentation::String(value)
    }
}

/// One file of an analysis with its line index.
pub struct File<'a> {
    pub file: &'a AnalyzedFile,
    pub lines: Lines<'a>,
}

impl<'a> File<'a> {
    pub fn of(analysis: &'a Analysis, id: FileId) -> Option<File<'a>> {
        let file = analysis.file(id)?;
        Some(File {
            file,
            lines: Lines::new(&file.text),
        })
    }

    pub fn range(&self, span: Span) -> lsp::Range {
        self.lines.range(span)
    }
}

/// The diagnostics of every file of an analysis, by the file's path; a file without
/// any is there with an empty list, so that publishing it clears what was shown.
pub fn diagnostics(analysis: &Analysis, uris: &Uris) -> BTreeMap<String, Vec<lsp::Diagnostic>> {
    let files: Vec<Option<File>> = (0..analysis.files.len())
        .map(|index| File::of(analysis, FileId(to_u32(index))))
        .collect();
    let mut by_path: BTreeMap<String, Vec<lsp::Diagnostic>> = analysis
        .files
        .iter()
        .map(|file| (file.path.clone(), Vec::new()))
        .collect();
    for entry in &analysis.diagnostics {
        let Some(Some(file)) = files.get(entry.file.0 as usize) else {
            continue;
        };
        let diagnostic = &entry.diagnostic;
        let range = file.range(diagnostic.span());
        let mut related = Vec::new();
        for label in diagnostic.labels.iter().skip(1) {
            let (uri, range) = match label.file {
                Some(other) => {
                    let Some(other) = files.get(other.0 as usize).and_then(Option::as_ref) else {
                        continue;
                    };
                    (uris.uri(&other.file.path), other.range(label.span))
                }
                None => (uris.uri(&file.file.path), file.range(label.span)),
            };
            let Some(uri) = uri else { continue };
            let message = if label.message.is_empty() {
                "related".to_string()
            } else {
                label.message.clone()
            };
            related.push(lsp::DiagnosticRelatedInformation {
                location: lsp::Location { uri, range },
                message,
            });
        }
        // Help and notes have no place of their own: they point at the problem.
        if let Some(uri) = uris.uri(&file.file.path) {
            let extra = diagnostic
                .help
                .iter()
                .map(|help| format!("help: {help}"))
                .chain(diagnostic.notes.iter().map(|note| format!("note: {note}")));
            for message in extra {
                related.push(lsp::DiagnosticRelatedInformation {
                    location: lsp::Location {
                        uri: uri.clone(),
                        range,
                    },
                    message,
                });
            }
        }
        let converted = lsp::Diagnostic {
            range,
            severity: Some(match diagnostic.severity {
                Severity::Error => lsp::DiagnosticSeverity::ERROR,
                Severity::Warning => lsp::DiagnosticSeverity::WARNING,
            }),
            code: Some(lsp::NumberOrString::String(
                diagnostic.code.as_str().to_string(),
            )),
            source: Some("flowc".to_string()),
            message: diagnostic.message.clone(),
            related_information: (!related.is_empty()).then_some(related),
            data: Some(serde_json::json!({
                "help": diagnostic.help,
                "notes": diagnostic.notes,
            })),
            ..lsp::Diagnostic::default()
        };
        by_path
            .entry(file.file.path.clone())
            .or_default()
            .push(converted);
    }
    by_path
}

pub fn location(analysis: &Analysis, uris: &Uris, at: ide::Location) -> Option<lsp::Location> {
    let file = File::of(analysis, at.file)?;
    Some(lsp::Location {
        uri: uris.uri(&file.file.path)?,
        range: file.range(at.span),
    })
}

/// Edits as a workspace edit, grouped by file; edits in files without a URI are
/// dropped.
pub fn workspace_edit(analysis: &Analysis, uris: &Uris, edits: &[ide::Edit]) -> lsp::WorkspaceEdit {
    let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for edit in edits {
        let Some(file) = File::of(analysis, edit.file) else {
            continue;
        };
        let Some(uri) = uris.uri(&file.file.path) else {
            continue;
        };
        let text_edit = lsp::TextEdit {
            range: file.range(edit.span),
            new_text: edit.text.clone(),
        };
        let list = changes.entry(uri).or_default();
        if !list.contains(&text_edit) {
            list.push(text_edit);
        }
    }
    lsp::WorkspaceEdit {
        changes: Some(changes),
        ..lsp::WorkspaceEdit::default()
    }
}

pub fn hover(file: &File, hover: ide::Hover, features: ClientFeatures) -> lsp::Hover {
    lsp::Hover {
        contents: if features.markdown_hover {
            lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: hover.markdown,
            })
        } else {
            lsp::HoverContents::Scalar(lsp::MarkedString::String(hover.markdown))
        },
        range: Some(file.range(hover.span)),
    }
}

pub fn completion_item(item: ide::CompletionItem, features: ClientFeatures) -> lsp::CompletionItem {
    use ide::CompletionKind as Kind;
    use lsp::CompletionItemKind as Lsp;
    let kind = match item.kind {
        Kind::Keyword => Lsp::KEYWORD,
        Kind::Field => Lsp::FIELD,
        Kind::Step => Lsp::VARIABLE,
        Kind::Variable => Lsp::VARIABLE,
        Kind::Function => Lsp::FUNCTION,
        Kind::Type => Lsp::STRUCT,
        Kind::Connection => Lsp::INTERFACE,
        Kind::Event => Lsp::EVENT,
        Kind::Workflow => Lsp::MODULE,
        Kind::Secret => Lsp::CONSTANT,
        Kind::Snippet => Lsp::SNIPPET,
    };
    let (insert_text, format) = match (item.insert_text, item.snippet) {
        (Some(text), true) if features.snippets => (Some(text), lsp::InsertTextFormat::SNIPPET),
        (Some(text), true) => (
            Some(strip_placeholders(&text)),
            lsp::InsertTextFormat::PLAIN_TEXT,
        ),
        (text, _) => (text, lsp::InsertTextFormat::PLAIN_TEXT),
    };
    lsp::CompletionItem {
        label: item.label,
        kind: Some(kind),
        detail: item.detail,
        documentation: item
            .documentation
            .map(|value| documentation(value, features.markdown_completion)),
        insert_text,
        insert_text_format: Some(format),
        ..lsp::CompletionItem::default()
    }
}

/// A snippet as plain text: `${1:name}` becomes `name`, `$1` and `$0` disappear,
/// `\$` becomes `$`.
pub fn strip_placeholders(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len());
    let mut chars = snippet.chars().peekable();
    while let Some(character) = chars.next() {
        match character {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '$' => match chars.peek() {
                Some('{') => {
                    chars.next();
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    if chars.peek() == Some(&':') {
                        chars.next();
                    }
                    for inner in chars.by_ref() {
                        if inner == '}' {
                            break;
                        }
                        out.push(inner);
                    }
                }
                Some(digit) if digit.is_ascii_digit() => {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                }
                _ => out.push('$'),
            },
            other => out.push(other),
        }
    }
    out
}

pub fn signature_help(help: ide::SignatureHelp, features: ClientFeatures) -> lsp::SignatureHelp {
    let parameters = help
        .parameters
        .iter()
        .map(|&(start, end)| {
            let start = floor_boundary(&help.label, start);
            let end = floor_boundary(&help.label, end).max(start);
            let label = if features.label_offsets {
                let before = utf16_len(&help.label[..start]);
                let inside = utf16_len(&help.label[start..end]);
                lsp::ParameterLabel::LabelOffsets([before, before + inside])
            } else {
                lsp::ParameterLabel::Simple(help.label[start..end].to_string())
            };
            lsp::ParameterInformation {
                label,
                documentation: None,
            }
        })
        .collect();
    lsp::SignatureHelp {
        signatures: vec![lsp::SignatureInformation {
            label: help.label,
            documentation: help
                .documentation
                .map(|value| documentation(value, features.markdown_signature)),
            parameters: Some(parameters),
            active_parameter: help.active_parameter,
        }],
        active_signature: Some(0),
        active_parameter: help.active_parameter,
    }
}

/// A byte offset of `text`, clamped and moved back to a character start.
fn floor_boundary(text: &str, offset: u32) -> usize {
    let mut offset = (offset as usize).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

pub fn symbol_kind(kind: ide::SymbolKind) -> lsp::SymbolKind {
    use ide::SymbolKind as Kind;
    match kind {
        Kind::Workflow => lsp::SymbolKind::CLASS,
        Kind::Trigger => lsp::SymbolKind::EVENT,
        Kind::Step => lsp::SymbolKind::METHOD,
        Kind::Let => lsp::SymbolKind::VARIABLE,
        Kind::Type => lsp::SymbolKind::STRUCT,
        Kind::Event => lsp::SymbolKind::EVENT,
        Kind::Connection => lsp::SymbolKind::INTERFACE,
        Kind::Function => lsp::SymbolKind::FUNCTION,
        Kind::Import => lsp::SymbolKind::FILE,
        Kind::Test => lsp::SymbolKind::FUNCTION,
    }
}

/// The outline of a file: nested when the client can show nesting, else flat with
/// each entry naming its container.
pub fn document_symbols(
    file: &File,
    uri: &lsp::Uri,
    symbols: Vec<ide::Symbol>,
    features: ClientFeatures,
) -> lsp::DocumentSymbolResponse {
    if features.hierarchical_symbols {
        lsp::DocumentSymbolResponse::Nested(
            symbols
                .into_iter()
                .map(|symbol| nested_symbol(file, symbol))
                .collect(),
        )
    } else {
        let mut flat = Vec::new();
        for symbol in symbols {
            flatten(file, uri, symbol, None, &mut flat);
        }
        lsp::DocumentSymbolResponse::Flat(flat)
    }
}

#[allow(deprecated, reason = "the protocol's structure still has the field")]
fn nested_symbol(file: &File, symbol: ide::Symbol) -> lsp::DocumentSymbol {
    let range = file.range(symbol.span);
    let mut selection_range = file.range(symbol.selection);
    // The protocol wants the name inside the whole declaration.
    if !contains(range, selection_range) {
        selection_range = range;
    }
    lsp::DocumentSymbol {
        name: non_empty(symbol.name),
        detail: symbol.detail,
        kind: symbol_kind(symbol.kind),
        tags: None,
        deprecated: None,
        range,
        selection_range,
        children: Some(
            symbol
                .children
                .into_iter()
                .map(|child| nested_symbol(file, child))
                .collect(),
        ),
    }
}

#[allow(deprecated, reason = "the protocol's structure still has the field")]
fn flatten(
    file: &File,
    uri: &lsp::Uri,
    symbol: ide::Symbol,
    container: Option<String>,
    out: &mut Vec<lsp::SymbolInformation>,
) {
    let name = non_empty(symbol.name);
    out.push(lsp::SymbolInformation {
        name: name.clone(),
        kind: symbol_kind(symbol.kind),
        tags: None,
        deprecated: None,
        location: lsp::Location {
            uri: uri.clone(),
            range: file.range(symbol.span),
        },
        container_name: container,
    });
    for child in symbol.children {
        flatten(file, uri, child, Some(name.clone()), out);
    }
}

/// A workspace symbol: where the name is.
#[allow(deprecated, reason = "the protocol's structure still has the field")]
pub fn workspace_symbol(
    analysis: &Analysis,
    uris: &Uris,
    file: FileId,
    symbol: &ide::Symbol,
    container: Option<String>,
) -> Option<lsp::SymbolInformation> {
    let location = location(
        analysis,
        uris,
        ide::Location {
            file,
            span: symbol.selection,
        },
    )?;
    Some(lsp::SymbolInformation {
        name: non_empty(symbol.name.clone()),
        kind: symbol_kind(symbol.kind),
        tags: None,
        deprecated: None,
        location,
        container_name: container,
    })
}

fn contains(outer: lsp::Range, inner: lsp::Range) -> bool {
    let key = |position: lsp::Position| (position.line, position.character);
    key(outer.start) <= key(inner.start) && key(inner.end) <= key(outer.end)
}

/// Editors reject symbols with an empty name.
fn non_empty(name: String) -> String {
    if name.is_empty() {
        "_".to_string()
    } else {
        name
    }
}

/// The token types announced in the legend, in the order of [`ide::TokenKind::ALL`].
pub fn token_legend() -> lsp::SemanticTokensLegend {
    lsp::SemanticTokensLegend {
        token_types: ide::TokenKind::ALL
            .iter()
            .map(|kind| token_type(*kind))
            .collect(),
        token_modifiers: vec![lsp::SemanticTokenModifier::DECLARATION],
    }
}

fn token_type(kind: ide::TokenKind) -> lsp::SemanticTokenType {
    use ide::TokenKind as Kind;
    use lsp::SemanticTokenType as Lsp;
    match kind {
        Kind::Keyword => Lsp::KEYWORD,
        Kind::Type => Lsp::TYPE,
        Kind::Function => Lsp::FUNCTION,
        Kind::Variable => Lsp::VARIABLE,
        Kind::Parameter => Lsp::PARAMETER,
        Kind::Property => Lsp::PROPERTY,
        Kind::String => Lsp::STRING,
        Kind::Number => Lsp::NUMBER,
        Kind::Operator => Lsp::OPERATOR,
        Kind::Comment => Lsp::COMMENT,
        Kind::Event => Lsp::EVENT,
        Kind::Namespace => Lsp::NAMESPACE,
        Kind::Macro => Lsp::MACRO,
    }
}

/// Tokens in the protocol's relative encoding: each token's line and start are
/// counted from the one before. Tokens that would go backwards are dropped.
pub fn semantic_tokens(file: &File, tokens: &[ide::SemanticToken]) -> Vec<lsp::SemanticToken> {
    let mut out = Vec::with_capacity(tokens.len());
    let (mut line, mut start) = (0u32, 0u32);
    for token in tokens {
        let Some(index) = ide::TokenKind::ALL
            .iter()
            .position(|kind| *kind == token.kind)
        else {
            continue;
        };
        let range = file.range(token.span);
        if range.start.line != range.end.line
            || (range.start.line, range.start.character) < (line, start)
        {
            continue;
        }
        let length = range.end.character.saturating_sub(range.start.character);
        if length == 0 {
            continue;
        }
        let delta_line = range.start.line - line;
        let delta_start = if delta_line == 0 {
            range.start.character - start
        } else {
            range.start.character
        };
        out.push(lsp::SemanticToken {
            delta_line,
            delta_start,
            length,
            token_type: to_u32(index),
            token_modifiers_bitset: u32::from(token.declaration),
        });
        line = range.start.line;
        start = range.start.character;
    }
    out
}

pub fn folding_ranges(
    file: &File,
    folds: &[ide::Fold],
    features: ClientFeatures,
) -> Vec<lsp::FoldingRange> {
    folds
        .iter()
        .filter_map(|fold| {
            let range = file.range(fold.span);
            let mut end_line = range.end.line;
            // A line-folding client hides whole lines: keep a block's closing
            // brace in view.
            if features.line_folding_only && fold.kind == ide::FoldKind::Region {
                end_line = end_line.saturating_sub(1);
            }
            if end_line <= range.start.line {
                return None;
            }
            Some(lsp::FoldingRange {
                start_line: range.start.line,
                start_character: (!features.line_folding_only).then_some(range.start.character),
                end_line,
                end_character: (!features.line_folding_only && fold.kind != ide::FoldKind::Region)
                    .then_some(range.end.character),
                kind: match fold.kind {
                    ide::FoldKind::Region => None,
                    ide::FoldKind::Comment => Some(lsp::FoldingRangeKind::Comment),
                    ide::FoldKind::Imports => Some(lsp::FoldingRangeKind::Imports),
                },
                collapsed_text: None,
            })
        })
        .collect()
}

pub fn inlay_hint(file: &File, hint: ide::InlayHint) -> lsp::InlayHint {
    lsp::InlayHint {
        position: file.lines.position(hint.offset),
        label: lsp::InlayHintLabel::String(hint.label),
        kind: Some(match hint.kind {
            ide::InlayKind::Type => lsp::InlayHintKind::TYPE,
            ide::InlayKind::Parameter => lsp::InlayHintKind::PARAMETER,
        }),
        text_edits: None,
        tooltip: None,
        padding_left: None,
        padding_right: None,
        data: None,
    }
}

pub fn action_kind(kind: ide::ActionKind) -> lsp::CodeActionKind {
    match kind {
        ide::ActionKind::QuickFix => lsp::CodeActionKind::QUICKFIX,
        ide::ActionKind::Refactor => lsp::CodeActionKind::REFACTOR,
    }
}

/// A code action with its edit; `context` is the diagnostics the editor sent, of
/// which those with the code it fixes are attached.
pub fn code_action(
    analysis: &Analysis,
    uris: &Uris,
    action: ide::CodeAction,
    context: &[lsp::Diagnostic],
) -> lsp::CodeAction {
    let diagnostics: Vec<lsp::Diagnostic> = action
        .fixes
        .map(|code| {
            context
                .iter()
                .filter(|diagnostic| {
                    diagnostic.code == Some(lsp::NumberOrString::String(code.as_str().to_string()))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    lsp::CodeAction {
        title: action.title,
        kind: Some(action_kind(action.kind)),
        diagnostics: (!diagnostics.is_empty()).then_some(diagnostics),
        edit: Some(workspace_edit(analysis, uris, &action.edits)),
        is_preferred: action.preferred.then_some(true),
        ..lsp::CodeAction::default()
    }
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_strip_to_their_defaults() {
        assert_eq!(
            strip_placeholders("await ${1:event}($2)$0"),
            "await event()"
        );
        assert_eq!(strip_placeholders("cost \\$5"), "cost $5");
        assert_eq!(strip_placeholders("a $ b"), "a $ b");
        assert_eq!(strip_placeholders("${unclosed"), "unclosed");
    }
}
