//! The protocol's methods, each answered by a query of `compiler::ide`.
//!
//! A handler finds the document's analysis (made afresh when the text changed since
//! the last one), converts the editor's position to a byte offset, asks the compiler,
//! and converts the answer back. Analyses and queries run on blocking threads: a
//! panic there loses that one answer (logged to the client), never the server.
//! Diagnostics are pushed by a task per change: at once when a document opens or
//! closes, after a quiet moment while it is being edited, and only if no newer
//! change came in meanwhile.

use crate::position::Lines;
use crate::project::{self, Project, Uris};
use crate::to_lsp::{self, ClientFeatures, File};
use flowc_compiler::{Analysis, FileId, ide};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Mutex;
use tower_lsp_server::jsonrpc::{self, ErrorCode};
use tower_lsp_server::ls_types::{self as lsp, Uri};
use tower_lsp_server::{Client, LanguageServer};

/// How the server behaves where an editor cannot tell.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long edits must pause before diagnostics are computed again.
    pub debounce: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            debounce: Duration::from_millis(150),
        }
    }
}

/// The language server: one per connection.
#[derive(Clone)]
pub struct Backend {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    options: Options,
    project: Mutex<Project>,
    features: RwLock<ClientFeatures>,
    /// Whether the client lets the server register a file watcher.
    watch: RwLock<bool>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// A document's analysis with the names the answer needs.
struct Context {
    analysis: Arc<Analysis>,
    file: FileId,
    uris: Uris,
    features: ClientFeatures,
}

impl Context {
    fn file(&self) -> Option<File<'_>> {
        File::of(&self.analysis, self.file)
    }

    fn offset(&self, position: lsp::Position) -> Option<u32> {
        Some(self.file()?.lines.offset(position))
    }
}

/// What `RequestFailed` (LSP 3.17) says: the request was valid but cannot be done.
fn request_failed(message: String) -> jsonrpc::Error {
    jsonrpc::Error {
        code: ErrorCode::ServerError(-32803),
        message: message.into(),
        data: None,
    }
}

impl Backend {
    pub fn new(client: Client, options: Options) -> Backend {
        Backend {
            inner: Arc::new(Inner {
                client,
                options,
                project: Mutex::new(Project::default()),
                features: RwLock::new(ClientFeatures::default()),
                watch: RwLock::new(false),
            }),
        }
    }

    fn features(&self) -> ClientFeatures {
        self.inner
            .features
            .read()
            .map(|features| *features)
            .unwrap_or_default()
    }

    async fn log(&self, kind: lsp::MessageType, message: String) {
        self.inner.client.log_message(kind, message).await;
    }

    /// Publishes diagnostics for the changes up to `revision` after `delay`, unless
    /// a newer change comes first (whose own task then covers these too).
    fn schedule(&self, revision: u64, delay: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            for discover in [false, true] {
                let plan = {
                    let mut project = this.inner.project.lock().await;
                    if project.revision != revision {
                        return;
                    }
                    if discover && !project.undiscovered() {
                        project.settle(revision);
                        return;
                    }
                    project.plan()
                };
                let Ok(outcomes) = tokio::task::spawn_blocking(move || plan.run(discover)).await
                else {
                    this.log(lsp::MessageType::ERROR, "analysis failed".to_string())
                        .await;
                    return;
                };
                for outcome in &outcomes {
                    if let Err(reason) = &outcome.analysis {
                        this.log(lsp::MessageType::WARNING, reason.clone()).await;
                    }
                }
                // Publishing under the lock keeps publications in revision order.
                let mut project = this.inner.project.lock().await;
                for publish in project.apply(revision, outcomes, !discover) {
                    this.inner
                        .client
                        .publish_diagnostics(publish.uri, publish.diagnostics, publish.version)
                        .await;
                }
                if discover {
                    project.settle(revision);
                }
            }
        });
    }

    /// The analyses of `roots` at the current revision, made where missing.
    async fn analyses(&self, roots: Vec<String>) -> (Vec<(String, Arc<Analysis>)>, Uris) {
        let (mut found, missing, snapshot) = {
            let project = self.inner.project.lock().await;
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for root in roots {
                match project.cached(&root) {
                    Some(analysis) => found.push((root, analysis)),
                    None => missing.push(root),
                }
            }
            (found, missing, project.snapshot())
        };
        let uris = (*snapshot.uris).clone();
        if missing.is_empty() {
            return (found, uris);
        }
        let worker = snapshot.clone();
        let made = tokio::task::spawn_blocking(move || {
            missing
                .into_iter()
                .map(|root| {
                    let analysis = worker.analyze(&root).map(Arc::new);
                    (root, analysis)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let mut failures = Vec::new();
        {
            let mut project = self.inner.project.lock().await;
            for (root, analysis) in made {
                match analysis {
                    Ok(analysis) => {
                        project.remember(&root, snapshot.revision, analysis.clone());
                        found.push((root, analysis));
                    }
                    Err(reason) => failures.push(reason),
                }
            }
        }
        for reason in failures {
            self.log(lsp::MessageType::WARNING, reason).await;
        }
        (found, uris)
    }

    /// The analysis of an open document, with it as the root; `None` for a document
    /// that is not open or cannot be analysed.
    async fn context(&self, uri: &Uri) -> Option<Context> {
        let key = project::key(uri);
        if !self.inner.project.lock().await.docs.contains_key(&key) {
            return None;
        }
        let (analyses, uris) = self.analyses(vec![key.clone()]).await;
        let (_, analysis) = analyses.into_iter().next()?;
        let file = ide::file_id(&analysis, &key)?;
        Some(Context {
            analysis,
            file,
            uris,
            features: self.features(),
        })
    }

    /// Runs a query on a blocking thread; a panic in it is logged and answers
    /// `None`.
    async fn query<T, F>(&self, uri: &Uri, what: &str, query: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(&Context) -> Option<T> + Send + 'static,
    {
        let context = self.context(uri).await?;
        match tokio::task::spawn_blocking(move || query(&context)).await {
            Ok(answer) => answer,
            Err(err) => {
                let reason = match err.try_into_panic() {
                    Ok(payload) => project::panic_text(&*payload),
                    Err(err) => err.to_string(),
                };
                self.log(
                    lsp::MessageType::ERROR,
                    format!("the compiler crashed answering {what}: {reason}"),
                )
                .await;
                None
            }
        }
    }

    /// The analyses of every root whose program includes `uri`'s file, with the
    /// file's id in each: what a project-wide rename or search goes through.
    async fn including(&self, uri: &Uri) -> (Vec<(Arc<Analysis>, FileId)>, Uris) {
        let key = project::key(uri);
        let roots = {
            let project = self.inner.project.lock().await;
            if !project.docs.contains_key(&key) {
                return (Vec::new(), Uris::default());
            }
            project.roots_including(&key)
        };
        let (analyses, uris) = self.analyses(roots).await;
        let found = analyses
            .into_iter()
            .filter_map(|(_, analysis)| {
                let file = ide::file_id(&analysis, &key)?;
                Some((analysis, file))
            })
            .collect();
        (found, uris)
    }

    /// Registers a watcher for `.flow` files, so that edits made outside the editor
    /// reach the analyses.
    async fn watch_files(&self) {
        let options = lsp::DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![lsp::FileSystemWatcher {
                glob_pattern: lsp::GlobPattern::String("**/*.flow".to_string()),
                kind: None,
            }],
        };
        let Ok(options) = serde_json::to_value(options) else {
            return;
        };
        let registration = lsp::Registration {
            id: "flowc-watch-flow-files".to_string(),
            method: "workspace/didChangeWatchedFiles".to_string(),
            register_options: Some(options),
        };
        if let Err(err) = self
            .inner
            .client
            .register_capability(vec![registration])
            .await
        {
            self.log(
                lsp::MessageType::WARNING,
                format!("cannot watch .flow files: {err}"),
            )
            .await;
        }
    }
}

/// What the client can take, read from its capabilities.
fn client_features(capabilities: &lsp::ClientCapabilities) -> ClientFeatures {
    let text = capabilities.text_document.as_ref();
    ClientFeatures {
        snippets: text
            .and_then(|text| text.completion.as_ref())
            .and_then(|completion| completion.completion_item.as_ref())
            .and_then(|item| item.snippet_support)
            .unwrap_or(false),
        hierarchical_symbols: text
            .and_then(|text| text.document_symbol.as_ref())
            .and_then(|symbols| symbols.hierarchical_document_symbol_support)
            .unwrap_or(false),
        label_offsets: text
            .and_then(|text| text.signature_help.as_ref())
            .and_then(|help| help.signature_information.as_ref())
            .and_then(|information| information.parameter_information.as_ref())
            .and_then(|parameter| parameter.label_offset_support)
            .unwrap_or(false),
        line_folding_only: text
            .and_then(|text| text.folding_range.as_ref())
            .and_then(|folding| folding.line_folding_only)
            .unwrap_or(false),
        markdown_hover: text
            .and_then(|text| text.hover.as_ref())
            .and_then(|hover| hover.content_format.as_ref())
            .is_some_and(|formats| formats.contains(&lsp::MarkupKind::Markdown)),
        markdown_completion: text
            .and_then(|text| text.completion.as_ref())
            .and_then(|completion| completion.completion_item.as_ref())
            .and_then(|item| item.documentation_format.as_ref())
            .is_some_and(|formats| formats.contains(&lsp::MarkupKind::Markdown)),
        markdown_signature: text
            .and_then(|text| text.signature_help.as_ref())
            .and_then(|help| help.signature_information.as_ref())
            .and_then(|information| information.documentation_format.as_ref())
            .is_some_and(|formats| formats.contains(&lsp::MarkupKind::Markdown)),
    }
}

/// The folders of the workspace, as paths.
#[allow(deprecated, reason = "older clients send only root_uri")]
fn workspace_folders(params: &lsp::InitializeParams) -> Vec<PathBuf> {
    let uris: Vec<&Uri> = match &params.workspace_folders {
        Some(folders) if !folders.is_empty() => folders.iter().map(|folder| &folder.uri).collect(),
        _ => params.root_uri.iter().collect(),
    };
    uris.into_iter()
        .filter(|uri| uri.scheme().as_str().eq_ignore_ascii_case("file"))
        .filter_map(|uri| uri.to_file_path().map(|path| path.into_owned()))
        .collect()
}

/// The server's capabilities: exactly the methods implemented below.
pub fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        position_encoding: Some(lsp::PositionEncodingKind::UTF16),
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(
            lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
                ..lsp::TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec![".".to_string()]),
            ..lsp::CompletionOptions::default()
        }),
        signature_help_provider: Some(lsp::SignatureHelpOptions {
            trigger_characters: Some(vec!["(".to_string(), ",".to_string()]),
            ..lsp::SignatureHelpOptions::default()
        }),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        workspace_symbol_provider: Some(lsp::OneOf::Left(true)),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
            lsp::CodeActionOptions {
                code_action_kinds: Some(vec![
                    lsp::CodeActionKind::QUICKFIX,
                    lsp::CodeActionKind::REFACTOR,
                ]),
                ..lsp::CodeActionOptions::default()
            },
        )),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: lsp::WorkDoneProgressOptions::default(),
        })),
        folding_range_provider: Some(lsp::FoldingRangeProviderCapability::Simple(true)),
        semantic_tokens_provider: Some(
            lsp::SemanticTokensServerCapabilities::SemanticTokensOptions(
                lsp::SemanticTokensOptions {
                    legend: to_lsp::token_legend(),
                    full: Some(lsp::SemanticTokensFullOptions::Bool(true)),
                    range: None,
                    ..lsp::SemanticTokensOptions::default()
                },
            ),
        ),
        inlay_hint_provider: Some(lsp::OneOf::Left(true)),
        ..lsp::ServerCapabilities::default()
    }
}

impl LanguageServer for Backend {
    async fn initialize(
        &self,
        params: lsp::InitializeParams,
    ) -> jsonrpc::Result<lsp::InitializeResult> {
        if let Ok(mut features) = self.inner.features.write() {
            *features = client_features(&params.capabilities);
        }
        let watch = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|workspace| workspace.did_change_watched_files.as_ref())
            .and_then(|watched| watched.dynamic_registration)
            .unwrap_or(false);
        if let Ok(mut flag) = self.inner.watch.write() {
            *flag = watch;
        }
        let folders = workspace_folders(&params);
        let found = tokio::task::spawn_blocking(move || project::walk(&folders))
            .await
            .unwrap_or_default();
        self.inner.project.lock().await.workspace = found;
        Ok(lsp::InitializeResult {
            capabilities: capabilities(),
            server_info: Some(lsp::ServerInfo {
                name: "flowc".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: lsp::InitializedParams) {
        let files = self.inner.project.lock().await.workspace.len();
        self.log(
            lsp::MessageType::INFO,
            format!("flowc language server ready; {files} .flow files in the workspace"),
        )
        .await;
        if self.inner.watch.read().is_ok_and(|watch| *watch) {
            // The client answers the registration while it goes on sending
            // messages; waiting here would hold them up.
            let this = self.clone();
            tokio::spawn(async move { this.watch_files().await });
        }
    }

    async fn shutdown(&self) -> jsonrpc::Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
        let mut project = self.inner.project.lock().await;
        let document = params.text_document;
        project.open(document.uri, document.text, document.version);
        self.schedule(project.revision, Duration::ZERO);
    }

    async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        let mut project = self.inner.project.lock().await;
        let document = params.text_document;
        if project
            .change(&document.uri, document.version, params.content_changes)
            .is_some()
        {
            self.schedule(project.revision, self.inner.options.debounce);
        }
    }

    async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        let mut project = self.inner.project.lock().await;
        if project.close(&params.text_document.uri).is_some() {
            self.schedule(project.revision, Duration::ZERO);
        }
    }

    async fn did_change_watched_files(&self, params: lsp::DidChangeWatchedFilesParams) {
        let mut project = self.inner.project.lock().await;
        for change in params.changes {
            project.changed_on_disk(&change.uri, change.typ == lsp::FileChangeType::DELETED);
        }
        self.schedule(project.revision, self.inner.options.debounce);
    }

    async fn hover(&self, params: lsp::HoverParams) -> jsonrpc::Result<Option<lsp::Hover>> {
        let at = params.text_document_position_params;
        Ok(self
            .query(&at.text_document.uri, "hover", move |context| {
                let offset = context.offset(at.position)?;
                let hover = ide::hover(&context.analysis, context.file, offset)?;
                Some(to_lsp::hover(&context.file()?, hover, context.features))
            })
            .await)
    }

    async fn goto_definition(
        &self,
        params: lsp::GotoDefinitionParams,
    ) -> jsonrpc::Result<Option<lsp::GotoDefinitionResponse>> {
        let at = params.text_document_position_params;
        Ok(self
            .query(&at.text_document.uri, "definition", move |context| {
                let offset = context.offset(at.position)?;
                let target = ide::definition(&context.analysis, context.file, offset)?;
                let location = to_lsp::location(&context.analysis, &context.uris, target)?;
                Some(lsp::GotoDefinitionResponse::Scalar(location))
            })
            .await)
    }

    async fn references(
        &self,
        params: lsp::ReferenceParams,
    ) -> jsonrpc::Result<Option<Vec<lsp::Location>>> {
        let at = params.text_document_position;
        let include_declaration = params.context.include_declaration;
        let (analyses, uris) = self.including(&at.text_document.uri).await;
        let found = tokio::task::spawn_blocking(move || {
            let mut found: Vec<lsp::Location> = Vec::new();
            for (analysis, file) in &analyses {
                let Some(source) = File::of(analysis, *file) else {
                    continue;
                };
                let offset = source.lines.offset(at.position);
                for place in ide::references(analysis, *file, offset, include_declaration) {
                    if let Some(location) = to_lsp::location(analysis, &uris, place)
                        && !found.contains(&location)
                    {
                        found.push(location);
                    }
                }
            }
            found
        })
        .await
        .unwrap_or_default();
        Ok(Some(found))
    }

    async fn prepare_rename(
        &self,
        params: lsp::TextDocumentPositionParams,
    ) -> jsonrpc::Result<Option<lsp::PrepareRenameResponse>> {
        let answer = self
            .query(&params.text_document.uri, "prepareRename", move |context| {
                let offset = context.offset(params.position)?;
                let answer = ide::prepare_rename(&context.analysis, context.file, offset)?;
                Some(answer.map(|span| context.file().map(|file| file.range(span))))
            })
            .await;
        match answer {
            Some(Ok(Some(range))) => Ok(Some(lsp::PrepareRenameResponse::Range(range))),
            Some(Err(refusal)) => Err(request_failed(refusal.0)),
            _ => Ok(None),
        }
    }

    async fn rename(
        &self,
        params: lsp::RenameParams,
    ) -> jsonrpc::Result<Option<lsp::WorkspaceEdit>> {
        let at = params.text_document_position;
        let new_name = params.new_name;
        let (analyses, uris) = self.including(&at.text_document.uri).await;
        if analyses.is_empty() {
            return Ok(None);
        }
        let answer = tokio::task::spawn_blocking(move || {
            let mut changes: HashMap<Uri, Vec<lsp::TextEdit>> = HashMap::new();
            for (analysis, file) in &analyses {
                let Some(source) = File::of(analysis, *file) else {
                    continue;
                };
                let offset = source.lines.offset(at.position);
                let edits = ide::rename(analysis, *file, offset, &new_name)?;
                let edit = to_lsp::workspace_edit(analysis, &uris, &edits);
                for (uri, edits) in edit.changes.unwrap_or_default() {
                    let list = changes.entry(uri).or_default();
                    for edit in edits {
                        if !list.contains(&edit) {
                            list.push(edit);
                        }
                    }
                }
            }
            Ok::<_, ide::RenameError>(changes)
        })
        .await;
        match answer {
            Ok(Ok(changes)) => Ok(Some(lsp::WorkspaceEdit {
                changes: Some(changes),
                ..lsp::WorkspaceEdit::default()
            })),
            Ok(Err(refusal)) => Err(request_failed(refusal.0)),
            Err(_) => Ok(None),
        }
    }

    async fn completion(
        &self,
        params: lsp::CompletionParams,
    ) -> jsonrpc::Result<Option<lsp::CompletionResponse>> {
        let at = params.text_document_position;
        Ok(self
            .query(&at.text_document.uri, "completion", move |context| {
                let offset = context.offset(at.position)?;
                let items = ide::completion(&context.analysis, context.file, offset)
                    .into_iter()
                    .map(|item| to_lsp::completion_item(item, context.features))
                    .collect();
                Some(lsp::CompletionResponse::Array(items))
            })
            .await
            .or(Some(lsp::CompletionResponse::Array(Vec::new()))))
    }

    async fn signature_help(
        &self,
        params: lsp::SignatureHelpParams,
    ) -> jsonrpc::Result<Option<lsp::SignatureHelp>> {
        let at = params.text_document_position_params;
        Ok(self
            .query(&at.text_document.uri, "signatureHelp", move |context| {
                let offset = context.offset(at.position)?;
                let help = ide::signature_help(&context.analysis, context.file, offset)?;
                Some(to_lsp::signature_help(help, context.features))
            })
            .await)
    }

    async fn document_symbol(
        &self,
        params: lsp::DocumentSymbolParams,
    ) -> jsonrpc::Result<Option<lsp::DocumentSymbolResponse>> {
        let uri = params.text_document.uri;
        let target = uri.clone();
        Ok(self
            .query(&uri, "documentSymbol", move |context| {
                let symbols = ide::document_symbols(&context.analysis, context.file);
                Some(to_lsp::document_symbols(
                    &context.file()?,
                    &target,
                    symbols,
                    context.features,
                ))
            })
            .await
            .or(Some(lsp::DocumentSymbolResponse::Nested(Vec::new()))))
    }

    async fn symbol(
        &self,
        params: lsp::WorkspaceSymbolParams,
    ) -> jsonrpc::Result<Option<lsp::WorkspaceSymbolResponse>> {
        let roots = self.inner.project.lock().await.all_roots();
        let (analyses, uris) = self.analyses(roots).await;
        let query = params.query;
        let found = tokio::task::spawn_blocking(move || {
            let mut found: Vec<lsp::SymbolInformation> = Vec::new();
            for (_, analysis) in &analyses {
                for (file, symbol) in ide::workspace_symbols(analysis, &query) {
                    let Some(information) =
                        to_lsp::workspace_symbol(analysis, &uris, file, &symbol, None)
                    else {
                        continue;
                    };
                    let seen = found.iter().any(|known| {
                        known.name == information.name && known.location == information.location
                    });
                    if !seen {
                        found.push(information);
                    }
                }
            }
            found
        })
        .await
        .unwrap_or_default();
        Ok(Some(lsp::WorkspaceSymbolResponse::Flat(found)))
    }

    async fn semantic_tokens_full(
        &self,
        params: lsp::SemanticTokensParams,
    ) -> jsonrpc::Result<Option<lsp::SemanticTokensResult>> {
        let data = self
            .query(
                &params.text_document.uri,
                "semanticTokens",
                move |context| {
                    let tokens = ide::semantic_tokens(&context.analysis, context.file);
                    Some(to_lsp::semantic_tokens(&context.file()?, &tokens))
                },
            )
            .await
            .unwrap_or_default();
        Ok(Some(lsp::SemanticTokensResult::Tokens(
            lsp::SemanticTokens {
                result_id: None,
                data,
            },
        )))
    }

    async fn folding_range(
        &self,
        params: lsp::FoldingRangeParams,
    ) -> jsonrpc::Result<Option<Vec<lsp::FoldingRange>>> {
        Ok(Some(
            self.query(&params.text_document.uri, "foldingRange", move |context| {
                let folds = ide::folding_ranges(&context.analysis, context.file);
                Some(to_lsp::folding_ranges(
                    &context.file()?,
                    &folds,
                    context.features,
                ))
            })
            .await
            .unwrap_or_default(),
        ))
    }

    async fn formatting(
        &self,
        params: lsp::DocumentFormattingParams,
    ) -> jsonrpc::Result<Option<Vec<lsp::TextEdit>>> {
        let key = project::key(&params.text_document.uri);
        let Some(text) = self
            .inner
            .project
            .lock()
            .await
            .docs
            .get(&key)
            .map(|document| document.text.clone())
        else {
            return Ok(Some(Vec::new()));
        };
        let formatted = tokio::task::spawn_blocking(move || {
            let formatted = flowc_compiler::fmt::format(&text);
            (text, formatted)
        })
        .await;
        match formatted {
            Ok((text, Ok(formatted))) if formatted != text => {
                let end = Lines::new(&text).end();
                Ok(Some(vec![lsp::TextEdit {
                    range: lsp::Range {
                        start: lsp::Position::new(0, 0),
                        end,
                    },
                    new_text: formatted,
                }]))
            }
            Ok((_, Err(diagnostics))) => {
                self.log(
                    lsp::MessageType::INFO,
                    format!(
                        "not formatting {key}: it has {} syntax errors",
                        diagnostics.len()
                    ),
                )
                .await;
                Ok(Some(Vec::new()))
            }
            Ok(_) => Ok(Some(Vec::new())),
            Err(_) => {
                self.log(
                    lsp::MessageType::ERROR,
                    format!("the formatter crashed on {key}"),
                )
                .await;
                Ok(Some(Vec::new()))
            }
        }
    }

    async fn code_action(
        &self,
        params: lsp::CodeActionParams,
    ) -> jsonrpc::Result<Option<lsp::CodeActionResponse>> {
        let only = params.context.only.clone();
        let context_diagnostics = params.context.diagnostics;
        let range = params.range;
        let actions = self
            .query(&params.text_document.uri, "codeAction", move |context| {
                let span = context.file()?.lines.span(range);
                let actions = ide::code_actions(&context.analysis, context.file, span)
                    .into_iter()
                    .filter(|action| {
                        let kind = to_lsp::action_kind(action.kind);
                        only.as_ref().is_none_or(|only| {
                            only.iter().any(|wanted| {
                                kind.as_str() == wanted.as_str()
                                    || kind.as_str().starts_with(&format!("{}.", wanted.as_str()))
                            })
                        })
                    })
                    .map(|action| {
                        lsp::CodeActionOrCommand::CodeAction(to_lsp::code_action(
                            &context.analysis,
                            &context.uris,
                            action,
                            &context_diagnostics,
                        ))
                    })
                    .collect();
                Some(actions)
            })
            .await
            .unwrap_or_default();
        Ok(Some(actions))
    }

    async fn inlay_hint(
        &self,
        params: lsp::InlayHintParams,
    ) -> jsonrpc::Result<Option<Vec<lsp::InlayHint>>> {
        let range = params.range;
        Ok(Some(
            self.query(&params.text_document.uri, "inlayHint", move |context| {
                let file = context.file()?;
                let span = file.lines.span(range);
                Some(
                    ide::inlay_hints(&context.analysis, context.file, span)
                        .into_iter()
                        .map(|hint| to_lsp::inlay_hint(&file, hint))
                        .collect(),
                )
            })
            .await
            .unwrap_or_default(),
        ))
    }
}
