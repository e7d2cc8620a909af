//! Answers to an editor's questions about an analysed project: what is under the
//! cursor, where it is defined and used, what may be written here, how the file is
//! outlined, coloured and folded, and which edits fix a diagnostic.
//!
//! Every query is a pure function of an [`Analysis`] (plus a file and a byte offset
//! or span), so the language server, tests and benchmarks ask the same questions the
//! same way. Positions here are byte offsets into the file's text; the language
//! server converts them to and from UTF-16 at its edge, and nothing here knows LSP
//! types. Queries never fail on broken input: on a file with errors they answer from
//! whatever the parser and checker recovered, or return nothing.

mod actions;
mod completion;
mod context;
mod folding;
mod hover;
mod inlay;
mod navigate;
mod signature;
mod symbols;
mod tokens;

pub use actions::code_actions;
pub use completion::completion;
pub use folding::folding_ranges;
pub use hover::hover;
pub use inlay::inlay_hints;
pub use navigate::{definition, prepare_rename, references, rename};
pub use signature::signature_help;
pub use symbols::{document_symbols, workspace_symbols};
pub use tokens::semantic_tokens;

use crate::syntax::ast;
use crate::{Analysis, FileId, Span, check};

/// A place in a file of the analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: FileId,
    pub span: Span,
}

/// Replace `span` of `file` with `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub file: FileId,
    pub span: Span,
    pub text: String,
}

/// What hovering over `span` shows: Markdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hover {
    pub span: Span,
    pub markdown: String,
}

/// Why a rename was refused, said as a message for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenameError(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompletionKind {
    Keyword,
    Field,
    Step,
    Variable,
    Function,
    Type,
    Connection,
    Event,
    Workflow,
    Secret,
    Snippet,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletionItem {
    pub label: String,
    pub kind: CompletionKind,
    /// A one-line summary: a type or a signature.
    pub detail: Option<String>,
    /// Markdown.
    pub documentation: Option<String>,
    /// What to insert when it differs from `label`; `$1`-style placeholders when
    /// `snippet` is set.
    pub insert_text: Option<String>,
    pub snippet: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureHelp {
    /// `fn name(a: int, b: string) -> bool`
    pub label: String,
    /// Each parameter as a byte range of `label`.
    pub parameters: Vec<(u32, u32)>,
    pub active_parameter: Option<u32>,
    /// Markdown.
    pub documentation: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    Workflow,
    Trigger,
    Step,
    Let,
    Type,
    Event,
    Connection,
    Function,
    Import,
    Test,
}

/// An outline entry: workflow → triggers → steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub kind: SymbolKind,
    /// A type or a short description (`POST /orders`).
    pub detail: Option<String>,
    /// The whole declaration.
    pub span: Span,
    /// The name.
    pub selection: Span,
    pub children: Vec<Symbol>,
}

/// The kinds of semantic token, in the order the language server announces them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenKind {
    Keyword,
    Type,
    Function,
    Variable,
    Parameter,
    Property,
    String,
    Number,
    Operator,
    Comment,
    Event,
    Namespace,
    Macro,
}

impl TokenKind {
    pub const ALL: &[TokenKind] = &[
        TokenKind::Keyword,
        TokenKind::Type,
        TokenKind::Function,
        TokenKind::Variable,
        TokenKind::Parameter,
        TokenKind::Property,
        TokenKind::String,
        TokenKind::Number,
        TokenKind::Operator,
        TokenKind::Comment,
        TokenKind::Event,
        TokenKind::Namespace,
        TokenKind::Macro,
    ];
}

/// One semantic token; tokens come sorted by start and never overlap or span lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SemanticToken {
    pub span: Span,
    pub kind: TokenKind,
    /// Set at the name of a declaration or binding.
    pub declaration: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FoldKind {
    Region,
    Comment,
    Imports,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fold {
    pub span: Span,
    pub kind: FoldKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionKind {
    QuickFix,
    Refactor,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeAction {
    pub title: String,
    pub kind: ActionKind,
    /// The code of the diagnostic it fixes, if any.
    pub fixes: Option<crate::Code>,
    pub edits: Vec<Edit>,
    /// Whether an editor should offer it first.
    pub preferred: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InlayKind {
    Type,
    Parameter,
}

/// A hint shown at `offset`: `label` is the whole text, e.g. `: Score`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlayHint {
    pub offset: u32,
    pub label: String,
    pub kind: InlayKind,
}

/// The file with this path, if the analysis has one.
pub fn file_id(analysis: &Analysis, path: &str) -> Option<FileId> {
    analysis
        .files
        .iter()
        .position(|file| file.path == path)
        .and_then(|index| u32::try_from(index).ok())
        .map(FileId)
}

// ------------------------------------------------------------------ shared helpers

/// A name in a file and the declaration or binding it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAt {
    /// The name as written at the cursor.
    pub span: Span,
    /// The name of the declaration or binding.
    pub target: Location,
}

/// Whether a cursor at `offset` is on `span`: inside it, or just after its end (as
/// when the cursor follows the last letter of a name).
pub fn touches(span: Span, offset: u32) -> bool {
    span.start <= offset && offset <= span.end
}

/// The declared or bound name the cursor is on: a use (its target is the
/// declaration) or a declaration itself (its target is itself). A name strictly
/// around the cursor wins over one that ends at it, then the shortest.
pub fn name_at(analysis: &Analysis, file: FileId, offset: u32) -> Option<NameAt> {
    let info = &analysis.info;
    let uses = info
        .references
        .iter()
        .filter(|reference| reference.file == file && touches(reference.span, offset))
        .map(|reference| NameAt {
            span: reference.span,
            target: Location {
                file: reference.target_file,
                span: reference.target,
            },
        });
    let declarations = info
        .definitions
        .iter()
        .chain(&info.fields)
        .filter(|definition| definition.file == file && touches(definition.span, offset))
        .map(|definition| NameAt {
            span: definition.span,
            target: Location {
                file,
                span: definition.span,
            },
        });
    uses.chain(declarations)
        .filter(|name| !name.span.is_empty())
        .min_by_key(|name| (name.span.end == offset, name.span.len()))
}

/// The definition recorded at `location`: a declaration, a binding or a field of a
/// declared record type.
pub fn definition_of(analysis: &Analysis, location: Location) -> Option<&check::Definition> {
    let info = &analysis.info;
    info.definitions
        .iter()
        .chain(&info.fields)
        .find(|definition| definition.file == location.file && definition.span == location.span)
}

/// Every use of the declaration or binding at `target`, in every file, sorted and
/// without repeats.
pub fn uses_of(analysis: &Analysis, target: Location) -> Vec<Location> {
    let mut uses: Vec<Location> = analysis
        .info
        .references
        .iter()
        .filter(|reference| reference.target_file == target.file && reference.target == target.span)
        .map(|reference| Location {
            file: reference.file,
            span: reference.span,
        })
        .filter(|location| *location != target)
        .collect();
    uses.sort_by_key(|location| (location.file, location.span.start, location.span.end));
    uses.dedup();
    uses
}

/// The checked expression with the smallest span around `offset`, with its type.
pub fn type_at(analysis: &Analysis, file: FileId, offset: u32) -> Option<&check::TypedSpan> {
    analysis
        .info
        .types
        .iter()
        .filter(|typed| typed.file == file && touches(typed.span, offset))
        .min_by_key(|typed| (typed.span.end == offset, typed.span.len()))
}

/// The top-level item of a file whose span holds `offset`.
pub fn item_at(module: &ast::Module, offset: u32) -> Option<&ast::Item> {
    module.items.iter().find(|item| touches(item.span, offset))
}

/// The file an `import` names, when the cursor is on its path string, with the
/// span of that string.
pub fn import_at(analysis: &Analysis, file: FileId, offset: u32) -> Option<(Span, FileId)> {
    let source = analysis.file(file)?;
    source
        .module
        .items
        .iter()
        .find_map(|item| match &item.kind {
            ast::ItemKind::Import(import) if touches(import.path.span, offset) => {
                let path = crate::resolve::join(&source.path, &import.path.value);
                Some((import.path.span, file_id(analysis, &path)?))
            }
            _ => None,
        })
}

/// The span of the identifier-like word around `offset` (letters, digits, `_`), if
/// any. Safe at any offset, including past the end and inside a multi-byte
/// character.
pub fn word_at(text: &str, offset: u32) -> Option<Span> {
    let offset = (offset as usize).min(text.len());
    let bytes = text.as_bytes();
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let mut start = offset;
    while start > 0 && is_word(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = offset;
    while end < bytes.len() && is_word(bytes[end]) {
        end += 1;
    }
    (start < end).then(|| Span::new(start, end))
}
