//! The language server driven in-process, as an editor would drive it: initialize,
//! open and edit documents, ask questions, and read back what it publishes.
//!
//! The server is a tower service; the test plays the client, reading everything the
//! server sends from its socket. Expected diagnostics come from the compiler itself
//! (`flowc_compiler::analyze`, what `flowc check` prints), converted here with an
//! independent UTF-16 count, so the server must say exactly what the command line
//! says, at the place the editor counts.

use flowc_compiler::{FileDiagnostic, SourceFile, resolve::normalize};
use flowc_lsp::{Backend, Options};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use tower::{Service, ServiceExt};
use tower_lsp_server::LspService;
use tower_lsp_server::jsonrpc::Request;
use tower_lsp_server::ls_types::Uri;

/// How long a test waits for a message before it calls the server stuck. Not a
/// measure of speed: a hang guard only.
const STUCK: Duration = Duration::from_secs(60);

/// The client side of one server.
struct Client {
    service: LspService<Backend>,
    /// What the server announced in its answer to `initialize`.
    capabilities: Value,
    received: mpsc::UnboundedReceiver<Request>,
    next_id: i64,
}

/// One `textDocument/publishDiagnostics`.
#[derive(Debug)]
struct Published {
    uri: String,
    version: Option<i64>,
    diagnostics: Vec<Value>,
}

impl Client {
    async fn start(options: Options, root: Option<&Path>) -> Client {
        Client::start_with(options, root, json!({})).await
    }

    async fn start_with(options: Options, root: Option<&Path>, capabilities: Value) -> Client {
        let (service, socket) = flowc_lsp::service(options);
        let (sender, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            use futures_util::StreamExt as _;
            let mut socket = socket;
            while let Some(message) = socket.next().await {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        let mut client = Client {
            service,
            capabilities: Value::Null,
            received,
            next_id: 0,
        };
        let root_uri = root.map(|root| uri(root).as_str().to_string());
        let answer = client
            .request(
                "initialize",
                json!({ "processId": null, "rootUri": root_uri, "capabilities": capabilities }),
            )
            .await
            .expect("initialize answers");
        client.capabilities = answer["capabilities"].clone();
        client.notify("initialized", json!({})).await;
        client
    }

    async fn request(&mut self, method: &'static str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let request = Request::build(method)
            .params(params)
            .id(self.next_id)
            .finish();
        let response = self.call(request).await.expect("a request is answered");
        let (_, body) = response.into_parts();
        body.map_err(|error| serde_json::to_value(error).expect("errors serialise"))
    }

    async fn notify(&mut self, method: &'static str, params: Value) {
        let request = Request::build(method).params(params).finish();
        assert!(
            self.call(request).await.is_none(),
            "{method} is a notification"
        );
    }

    async fn call(&mut self, request: Request) -> Option<tower_lsp_server::jsonrpc::Response> {
        self.service
            .ready()
            .await
            .expect("the server is ready")
            .call(request)
            .await
            .expect("the server has not exited")
    }

    async fn open(&mut self, uri: &Uri, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri.as_str(), "languageId": "flow", "version": 1, "text": text } }),
        )
        .await;
    }

    async fn replace(&mut self, uri: &Uri, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri.as_str(), "version": version },
                "contentChanges": [{ "text": text }],
            }),
        )
        .await;
    }

    /// The next diagnostics the server publishes, skipping its log messages.
    async fn published(&mut self) -> Published {
        loop {
            let message = tokio::time::timeout(STUCK, self.received.recv())
                .await
                .expect("the server publishes in time")
                .expect("the server is still running");
            if message.method() != "textDocument/publishDiagnostics" {
                continue;
            }
            let params = message.params().cloned().expect("diagnostics have params");
            return Published {
                uri: params["uri"].as_str().expect("a uri").to_string(),
                version: params["version"].as_i64(),
                diagnostics: params["diagnostics"]
                    .as_array()
                    .expect("a list of diagnostics")
                    .clone(),
            };
        }
    }

    /// The next diagnostics published for `uri`.
    async fn published_for(&mut self, uri: &Uri) -> Published {
        loop {
            let published = self.published().await;
            if published.uri == uri.as_str() {
                return published;
            }
        }
    }
}

fn uri(path: &Path) -> Uri {
    Uri::from_file_path(path).expect("an absolute path")
}

/// The name the server analyses a file under.
fn key(path: &Path) -> String {
    normalize(&path.to_string_lossy())
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("the file is written");
    path
}

/// Reads imports from disk, as `flowc check` does.
struct Disk;

impl flowc_compiler::Loader for Disk {
    fn load(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|err| err.to_string())
    }
}

/// What `flowc check ROOT` says about `file`, as the protocol would carry it: code,
/// severity, message and range in UTF-16 units, counted here without the server's
/// code.
fn expected(root: &Path, root_text: &str, file: &Path) -> Vec<Value> {
    let analysis = flowc_compiler::analyze(
        vec![SourceFile {
            path: key(root),
            text: root_text.to_string(),
        }],
        &Disk,
    );
    let id = flowc_compiler::ide::file_id(&analysis, &key(file)).expect("the file is analysed");
    let text = &analysis.file(id).expect("the file").text;
    let position = |byte: u32| {
        let before = &text[..byte as usize];
        let line = before.matches('\n').count();
        let start = before.rfind('\n').map_or(0, |at| at + 1);
        let column: usize = text[start..byte as usize]
            .trim_end_matches('\r')
            .encode_utf16()
            .count();
        json!({ "line": line, "character": column })
    };
    analysis
        .diagnostics
        .iter()
        .filter(|entry: &&FileDiagnostic| entry.file == id)
        .map(|entry| {
            let diagnostic = &entry.diagnostic;
            let span = diagnostic.span();
            json!({
                "code": diagnostic.code.as_str(),
                "severity": if diagnostic.is_error() { 1 } else { 2 },
                "message": diagnostic.message,
                "range": { "start": position(span.start), "end": position(span.end) },
            })
        })
        .collect()
}

/// The fields of published diagnostics that must equal the compiler's.
fn essentials(diagnostics: &[Value]) -> Vec<Value> {
    diagnostics
        .iter()
        .map(|diagnostic| {
            json!({
                "code": diagnostic["code"],
                "severity": diagnostic["severity"],
                "message": diagnostic["message"],
                "range": diagnostic["range"],
            })
        })
        .collect()
}

const NON_ASCII_ERROR: &str =
    "fn f(x: int) -> string = \"é😀\" + \"x\"\r\nfn g(x: int) -> int = \"é😀\" + y\n";

#[tokio::test]
async fn diagnostics_are_checks_in_utf16_positions() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = write(dir.path(), "a.flow", NON_ASCII_ERROR);
    let mut client = Client::start(Options::default(), Some(dir.path())).await;
    client.open(&uri(&path), NON_ASCII_ERROR).await;
    let published = client.published_for(&uri(&path)).await;
    assert_eq!(published.version, Some(1));
    let expected = expected(&path, NON_ASCII_ERROR, &path);
    assert!(!expected.is_empty(), "the fixture has an error");
    assert_eq!(essentials(&published.diagnostics), expected);
    // `y` is the 30th code point of its line, after é (1 unit) and 😀 (2 units).
    let unknown = published
        .diagnostics
        .iter()
        .find(|diagnostic| diagnostic["code"] == "E0301")
        .expect("the unknown name is reported");
    assert_eq!(
        unknown["range"],
        json!({ "start": { "line": 1, "character": 30 }, "end": { "line": 1, "character": 31 } })
    );
    assert_eq!(unknown["source"], "flowc");
}

#[tokio::test]
async fn diagnostics_clear_when_the_error_is_fixed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = write(dir.path(), "a.flow", NON_ASCII_ERROR);
    let mut client = Client::start(Options::default(), Some(dir.path())).await;
    client.open(&uri(&path), NON_ASCII_ERROR).await;
    assert!(
        !client
            .published_for(&uri(&path))
            .await
            .diagnostics
            .is_empty()
    );
    client
        .replace(&uri(&path), 2, "fn g(x: int) -> int = x\n")
        .await;
    let published = client.published_for(&uri(&path)).await;
    assert_eq!(published.version, Some(2));
    assert_eq!(published.diagnostics, Vec::<Value>::new());
}

#[tokio::test]
async fn incremental_changes_are_applied_at_utf16_positions() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = "fn g(x: string) -> string = \"é😀\" + y\n";
    let path = write(dir.path(), "a.flow", text);
    let mut client = Client::start(Options::default(), Some(dir.path())).await;
    client.open(&uri(&path), text).await;
    assert!(
        !client
            .published_for(&uri(&path))
            .await
            .diagnostics
            .is_empty()
    );
    // Replace `y`, which starts at UTF-16 column 36, by `x`.
    client
        .notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri(&path).as_str(), "version": 2 },
                "contentChanges": [{
                    "range": { "start": { "line": 0, "character": 36 }, "end": { "line": 0, "character": 37 } },
                    "text": "x",
                }],
            }),
        )
        .await;
    let published = client.published_for(&uri(&path)).await;
    assert_eq!(published.version, Some(2));
    assert_eq!(published.diagnostics, Vec::<Value>::new());
}

#[tokio::test]
async fn edits_in_quick_succession_publish_only_the_latest_version() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = write(dir.path(), "a.flow", "fn g(x: int) -> int = x\n");
    // A pause far longer than the gap between the edits below.
    let options = Options {
        debounce: Duration::from_secs(2),
    };
    let mut client = Client::start(options, Some(dir.path())).await;
    client.open(&uri(&path), "fn g(x: int) -> int = x\n").await;
    assert_eq!(client.published_for(&uri(&path)).await.version, Some(1));
    client
        .replace(&uri(&path), 2, "fn g(x: int) -> int = a\n")
        .await;
    client
        .replace(&uri(&path), 3, "fn g(x: int) -> int = b\n")
        .await;
    client
        .replace(&uri(&path), 4, "fn g(x: int) -> int = c\n")
        .await;
    let published = client.published_for(&uri(&path)).await;
    assert_eq!(
        published.version,
        Some(4),
        "versions 2 and 3 are never published"
    );
    let messages: Vec<&Value> = published
        .diagnostics
        .iter()
        .map(|diagnostic| &diagnostic["message"])
        .collect();
    assert_eq!(messages, [&json!("unknown name `c`")]);
}

#[tokio::test]
async fn editing_an_imported_file_republishes_its_importers() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let main_text = "import \"./b.flow\"\nfn g() -> int = h()\n";
    let main = write(dir.path(), "main.flow", main_text);
    let other_text = "import \"./b.flow\"\nfn k() -> int = h() + 1\n";
    let other = write(dir.path(), "other.flow", other_text);
    let b_text = "fn h() -> int = 1\n";
    let b = write(dir.path(), "b.flow", b_text);
    let mut client = Client::start(Options::default(), Some(dir.path())).await;
    client.open(&uri(&main), main_text).await;
    assert_eq!(
        client.published_for(&uri(&main)).await.diagnostics,
        Vec::<Value>::new()
    );
    client.open(&uri(&b), b_text).await;
    assert_eq!(
        client.published_for(&uri(&b)).await.diagnostics,
        Vec::<Value>::new()
    );

    // The edit is not saved: importers read the open text, not the disk.
    let broken = "fn h() -> string = 1\n";
    client.replace(&uri(&b), 2, broken).await;
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 3 {
        let published = client.published().await;
        seen.insert(published.uri.clone(), published);
    }
    std::fs::write(&b, broken).expect("the broken text is on disk for the expectation");
    for (path, root_text) in [(&main, main_text), (&other, other_text)] {
        let published = &seen[uri(path).as_str()];
        let expected = expected(path, root_text, path);
        assert!(
            !expected.is_empty(),
            "{} sees the broken import",
            path.display()
        );
        assert_eq!(essentials(&published.diagnostics), expected);
    }
    let published = &seen[uri(&b).as_str()];
    assert_eq!(published.version, Some(2));
    assert_eq!(essentials(&published.diagnostics), expected(&b, broken, &b));

    // Fixing it clears them all.
    client.replace(&uri(&b), 3, b_text).await;
    let mut cleared = std::collections::BTreeSet::new();
    while cleared.len() < 3 {
        let published = client.published().await;
        assert_eq!(
            published.diagnostics,
            Vec::<Value>::new(),
            "{}",
            published.uri
        );
        cleared.insert(published.uri);
    }
}

#[tokio::test]
async fn formatting_is_the_formatters_whole_text() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut client = Client::start(Options::default(), Some(dir.path())).await;
    for (name, text) in [
        ("messy.flow", "fn  g( x:int )->int=x\n// é😀\n"),
        ("broken.flow", "fn g( x:int ->\n"),
    ] {
        let path = write(dir.path(), name, text);
        client.open(&uri(&path), text).await;
        let edits = client
            .request(
                "textDocument/formatting",
                json!({
                    "textDocument": { "uri": uri(&path).as_str() },
                    "options": { "tabSize": 2, "insertSpaces": true },
                }),
            )
            .await
            .expect("formatting answers");
        let end = position_of(&format!("{text}@"), "@").1;
        let expected = match flowc_compiler::fmt::format(text) {
            Ok(formatted) if formatted != text => json!([{
                "range": { "start": { "line": 0, "character": 0 }, "end": end },
                "newText": formatted,
            }]),
            _ => json!([]),
        };
        assert_eq!(edits, expected, "{name}");
    }
}

#[tokio::test]
async fn unknown_documents_get_empty_answers() {
    let mut client = Client::start(Options::default(), None).await;
    let document = json!({ "uri": "file:///nowhere/never.flow" });
    let at = json!({ "line": 0, "character": 0 });
    let position = json!({ "textDocument": document, "position": at });
    let range = json!({ "start": at, "end": at });
    for (method, params, answer) in [
        ("textDocument/hover", position.clone(), json!(null)),
        ("textDocument/definition", position.clone(), json!(null)),
        ("textDocument/signatureHelp", position.clone(), json!(null)),
        ("textDocument/prepareRename", position.clone(), json!(null)),
        ("textDocument/completion", position.clone(), json!([])),
        (
            "textDocument/references",
            json!({ "textDocument": document, "position": at, "context": { "includeDeclaration": true } }),
            json!([]),
        ),
        (
            "textDocument/rename",
            json!({ "textDocument": document, "position": at, "newName": "x" }),
            json!(null),
        ),
        (
            "textDocument/documentSymbol",
            json!({ "textDocument": document }),
            json!([]),
        ),
        (
            "textDocument/foldingRange",
            json!({ "textDocument": document }),
            json!([]),
        ),
        (
            "textDocument/semanticTokens/full",
            json!({ "textDocument": document }),
            json!({ "data": [] }),
        ),
        (
            "textDocument/formatting",
            json!({ "textDocument": document, "options": { "tabSize": 2, "insertSpaces": true } }),
            json!([]),
        ),
        (
            "textDocument/codeAction",
            json!({ "textDocument": document, "range": range, "context": { "diagnostics": [] } }),
            json!([]),
        ),
        (
            "textDocument/inlayHint",
            json!({ "textDocument": document, "range": range }),
            json!([]),
        ),
        ("workspace/symbol", json!({ "query": "" }), json!([])),
    ] {
        let answer_got = client.request(method, params).await;
        assert_eq!(answer_got, Ok(answer), "{method}");
    }
}

#[tokio::test]
async fn capabilities_announce_what_is_served() {
    let client = Client::start(Options::default(), None).await;
    let capabilities = &client.capabilities;
    assert_eq!(capabilities["positionEncoding"], "utf-16");
    assert_eq!(capabilities["textDocumentSync"]["change"], 2, "incremental");
    assert_eq!(
        capabilities["completionProvider"]["triggerCharacters"],
        json!(["."])
    );
    assert_eq!(
        capabilities["signatureHelpProvider"]["triggerCharacters"],
        json!(["(", ","])
    );
    assert_eq!(capabilities["renameProvider"]["prepareProvider"], true);
    let legend = &capabilities["semanticTokensProvider"]["legend"];
    assert_eq!(
        legend["tokenTypes"],
        json!([
            "keyword",
            "type",
            "function",
            "variable",
            "parameter",
            "property",
            "string",
            "number",
            "operator",
            "comment",
            "event",
            "namespace",
            "macro"
        ]),
        "in the order of TokenKind::ALL"
    );
    assert_eq!(
        flowc_compiler::ide::TokenKind::ALL.len(),
        13,
        "a new kind of token is announced above"
    );
    assert_eq!(legend["tokenModifiers"], json!(["declaration"]));
    for method in [
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "documentSymbolProvider",
        "workspaceSymbolProvider",
        "documentFormattingProvider",
        "foldingRangeProvider",
        "inlayHintProvider",
        "codeActionProvider",
    ] {
        assert!(
            !capabilities[method].is_null() && capabilities[method] != false,
            "{method}"
        );
    }
}

/// Where `marker` is in `text`, as a protocol position (the text is ASCII before
/// it on its line).
fn position_of(text: &str, marker: &str) -> (u32, Value) {
    let byte = text.find(marker).expect("the marker is in the text");
    let before = &text[..byte];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |at| at + 1);
    let character = text[start..byte].encode_utf16().count();
    (
        u32::try_from(byte).expect("small"),
        json!({ "line": line, "character": character }),
    )
}

#[tokio::test]
async fn queries_answer_what_the_compiler_answers() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = "type Score = { value: int }\n\n/// Doubles.\nfn double(x: int) -> int = x * 2\n\nfn use_it(s: Score) -> int = double(s.value)\n";
    let path = write(dir.path(), "a.flow", text);
    let mut client = Client::start_with(
        Options::default(),
        Some(dir.path()),
        json!({ "textDocument": {
            "documentSymbol": { "hierarchicalDocumentSymbolSupport": true },
            "hover": { "contentFormat": ["markdown", "plaintext"] },
        } }),
    )
    .await;
    client.open(&uri(&path), text).await;
    let analysis = flowc_compiler::analyze(
        vec![SourceFile {
            path: key(&path),
            text: text.to_string(),
        }],
        &Disk,
    );
    let file = flowc_compiler::ide::file_id(&analysis, &key(&path)).expect("the root");

    let (offset, at) = position_of(text, "double(s.value)");
    let hover = client
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri(&path).as_str() }, "position": at }),
        )
        .await
        .expect("hover answers");
    match flowc_compiler::ide::hover(&analysis, file, offset) {
        Some(expected) => {
            assert_eq!(hover["contents"]["kind"], "markdown");
            assert_eq!(hover["contents"]["value"], expected.markdown);
        }
        None => assert_eq!(hover, Value::Null),
    }

    let definition = client
        .request(
            "textDocument/definition",
            json!({ "textDocument": { "uri": uri(&path).as_str() }, "position": at }),
        )
        .await
        .expect("definition answers");
    match flowc_compiler::ide::definition(&analysis, file, offset) {
        Some(target) => {
            let (_, declared) = position_of(text, &text[target.span.range()]);
            assert_eq!(definition["uri"], uri(&path).as_str());
            assert_eq!(definition["range"]["start"], declared);
        }
        None => assert_eq!(definition, Value::Null),
    }

    let (offset, at) = position_of(text, "value)");
    let completion = client
        .request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri(&path).as_str() }, "position": at }),
        )
        .await
        .expect("completion answers");
    let labels: Vec<String> = completion
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["label"].as_str().expect("a label").to_string())
        .collect();
    let expected: Vec<String> = flowc_compiler::ide::completion(&analysis, file, offset)
        .into_iter()
        .map(|item| item.label)
        .collect();
    assert_eq!(labels, expected);

    let symbols = client
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri(&path).as_str() } }),
        )
        .await
        .expect("symbols answer");
    let names: Vec<&str> = symbols
        .as_array()
        .expect("a list")
        .iter()
        .map(|symbol| symbol["name"].as_str().expect("a name"))
        .collect();
    let expected: Vec<String> = flowc_compiler::ide::document_symbols(&analysis, file)
        .into_iter()
        .map(|symbol| symbol.name)
        .collect();
    assert_eq!(names, expected);
}

/// A workspace where `b.flow` declares `h`, used by the open `main.flow` and by
/// `other.flow`, which stays closed.
async fn importing_workspace() -> (tempfile::TempDir, Client, [std::path::PathBuf; 3]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let main_text = "import \"./b.flow\"\nfn g() -> int = h()\n";
    let main = write(dir.path(), "main.flow", main_text);
    let other = write(
        dir.path(),
        "other.flow",
        "import \"./b.flow\"\nfn k() -> int = h() + 1\n",
    );
    let b_text = "fn h() -> int = 1\n";
    let b = write(dir.path(), "b.flow", b_text);
    let mut client = Client::start(Options::default(), Some(dir.path())).await;
    client.open(&uri(&main), main_text).await;
    client.published_for(&uri(&main)).await;
    client.open(&uri(&b), b_text).await;
    client.published_for(&uri(&b)).await;
    (dir, client, [main, other, b])
}

/// The start of each range of a list of locations or text edits, by URI.
fn starts(items: &[Value]) -> std::collections::BTreeSet<(String, u64, u64)> {
    items
        .iter()
        .map(|item| {
            let start = &item["range"]["start"];
            (
                item["uri"].as_str().unwrap_or("").to_string(),
                start["line"].as_u64().expect("a line"),
                start["character"].as_u64().expect("a character"),
            )
        })
        .collect()
}

#[tokio::test]
async fn references_and_rename_reach_every_importer() {
    let (_dir, mut client, [main, other, b]) = importing_workspace().await;
    let at = json!({ "line": 0, "character": 3 });
    let references = client
        .request(
            "textDocument/references",
            json!({
                "textDocument": { "uri": uri(&b).as_str() },
                "position": at,
                "context": { "includeDeclaration": true },
            }),
        )
        .await
        .expect("references answer");
    let expected = std::collections::BTreeSet::from([
        (uri(&b).as_str().to_string(), 0, 3),
        (uri(&main).as_str().to_string(), 1, 16),
        (uri(&other).as_str().to_string(), 1, 16),
    ]);
    assert_eq!(
        starts(references.as_array().expect("a list")),
        expected,
        "the declaration and the uses in the open importer and the closed one"
    );

    let edit = client
        .request(
            "textDocument/rename",
            json!({ "textDocument": { "uri": uri(&b).as_str() }, "position": at, "newName": "height" }),
        )
        .await
        .expect("the rename is done");
    let changes = edit["changes"].as_object().expect("edits by file");
    let mut renamed = std::collections::BTreeSet::new();
    for (file, edits) in changes {
        for edit in edits.as_array().expect("a list of edits") {
            assert_eq!(edit["newText"], "height");
            let start = &edit["range"]["start"];
            renamed.insert((
                file.clone(),
                start["line"].as_u64().expect("a line"),
                start["character"].as_u64().expect("a character"),
            ));
        }
    }
    assert_eq!(renamed, expected);

    let refused = client
        .request(
            "textDocument/rename",
            json!({ "textDocument": { "uri": uri(&b).as_str() }, "position": at, "newName": "1h" }),
        )
        .await
        .expect_err("an invalid name is refused");
    assert_eq!(refused["code"], -32803, "RequestFailed");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "{refused}"
    );
}

#[tokio::test]
async fn semantic_tokens_are_the_compilers_in_relative_utf16_form() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text =
        "// é😀 comment\nfn f(x: int) -> string = \"é😀\" + \"x\"\r\nfn g(x: int) -> int = x * 2\n";
    let path = write(dir.path(), "a.flow", text);
    let mut client = Client::start(Options::default(), Some(dir.path())).await;
    client.open(&uri(&path), text).await;
    let answer = client
        .request(
            "textDocument/semanticTokens/full",
            json!({ "textDocument": { "uri": uri(&path).as_str() } }),
        )
        .await
        .expect("tokens answer");
    let data: Vec<u64> = answer["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|number| number.as_u64().expect("a number"))
        .collect();
    let legend = client.capabilities["semanticTokensProvider"]["legend"]["tokenTypes"].clone();
    let mut decoded = Vec::new();
    let (mut line, mut character) = (0, 0);
    for token in data.chunks(5) {
        let [delta_line, delta_start, length, kind, modifiers] = token else {
            panic!("tokens come in fives");
        };
        line += delta_line;
        character = if *delta_line == 0 {
            character + delta_start
        } else {
            *delta_start
        };
        decoded.push((
            line,
            character,
            *length,
            legend[*kind as usize].clone(),
            *modifiers,
        ));
    }

    let analysis = flowc_compiler::analyze(
        vec![SourceFile {
            path: key(&path),
            text: text.to_string(),
        }],
        &Disk,
    );
    let file = flowc_compiler::ide::file_id(&analysis, &key(&path)).expect("the root");
    let expected: Vec<_> = flowc_compiler::ide::semantic_tokens(&analysis, file)
        .into_iter()
        .map(|token| {
            let before = &text[..token.span.start as usize];
            let line = before.matches('\n').count() as u64;
            let start = before.rfind('\n').map_or(0, |at| at + 1);
            let character = text[start..token.span.start as usize]
                .encode_utf16()
                .count() as u64;
            let length = text[token.span.range()].encode_utf16().count() as u64;
            let kind = format!("{:?}", token.kind).to_lowercase();
            (
                line,
                character,
                length,
                json!(kind),
                u64::from(token.declaration),
            )
        })
        .collect();
    assert!(!expected.is_empty(), "the compiler colours the file");
    assert_eq!(decoded, expected);
    assert!(
        decoded.iter().any(|token| token.0 == 2),
        "the line after the CRLF has tokens"
    );
}

#[tokio::test]
async fn code_actions_carry_the_compilers_fixes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = "fn g(value: int) -> int = valeu\n";
    let path = write(dir.path(), "a.flow", text);
    let mut client = Client::start(Options::default(), Some(dir.path())).await;
    client.open(&uri(&path), text).await;
    let published = client.published_for(&uri(&path)).await;
    let diagnostic = published
        .diagnostics
        .first()
        .cloned()
        .expect("the misspelling is reported");
    let actions = client
        .request(
            "textDocument/codeAction",
            json!({
                "textDocument": { "uri": uri(&path).as_str() },
                "range": diagnostic["range"],
                "context": { "diagnostics": [diagnostic] },
            }),
        )
        .await
        .expect("code actions answer");
    let analysis = flowc_compiler::analyze(
        vec![SourceFile {
            path: key(&path),
            text: text.to_string(),
        }],
        &Disk,
    );
    let file = flowc_compiler::ide::file_id(&analysis, &key(&path)).expect("the root");
    let span = analysis
        .diagnostics_of(file)
        .next()
        .expect("an error")
        .span();
    let expected = flowc_compiler::ide::code_actions(&analysis, file, span);
    assert!(!expected.is_empty(), "the compiler offers a fix");
    let actions = actions.as_array().expect("a list");
    assert_eq!(actions.len(), expected.len());
    for (action, wanted) in actions.iter().zip(&expected) {
        assert_eq!(action["title"], wanted.title.as_str());
        let edits = &action["edit"]["changes"][uri(&path).as_str()];
        let texts: Vec<&str> = edits
            .as_array()
            .expect("edits of the file")
            .iter()
            .map(|edit| edit["newText"].as_str().expect("a text"))
            .collect();
        let wanted_texts: Vec<&str> = wanted.edits.iter().map(|edit| edit.text.as_str()).collect();
        assert_eq!(texts, wanted_texts);
        if wanted.fixes.is_some() {
            assert_eq!(action["diagnostics"][0]["code"], diagnostic["code"]);
        }
    }
}

#[tokio::test]
async fn outline_folding_hints_and_signatures_are_the_compilers() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/quickstart.flow"
    ))
    .expect("the quickstart example");
    let path = write(dir.path(), "quickstart.flow", &text);
    let mut client = Client::start_with(
        Options::default(),
        Some(dir.path()),
        json!({ "textDocument": {
            "documentSymbol": { "hierarchicalDocumentSymbolSupport": true },
            "signatureHelp": { "signatureInformation": { "parameterInformation": { "labelOffsetSupport": true } } },
        } }),
    )
    .await;
    client.open(&uri(&path), &text).await;
    let analysis = flowc_compiler::analyze(
        vec![SourceFile {
            path: key(&path),
            text: text.clone(),
        }],
        &Disk,
    );
    let file = flowc_compiler::ide::file_id(&analysis, &key(&path)).expect("the root");
    let document = json!({ "uri": uri(&path).as_str() });

    fn names(symbols: &Value) -> Vec<Value> {
        symbols
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|symbol| json!([symbol["name"], names(&symbol["children"])]))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn expected_names(symbols: &[flowc_compiler::ide::Symbol]) -> Vec<Value> {
        symbols
            .iter()
            .map(|symbol| json!([symbol.name, expected_names(&symbol.children)]))
            .collect()
    }
    let symbols = client
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": document }),
        )
        .await
        .expect("symbols answer");
    assert_eq!(
        names(&symbols),
        expected_names(&flowc_compiler::ide::document_symbols(&analysis, file))
    );

    let whole = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 10_000, "character": 0 } });
    let hints = client
        .request(
            "textDocument/inlayHint",
            json!({ "textDocument": document, "range": whole }),
        )
        .await
        .expect("hints answer");
    let labels: Vec<&str> = hints
        .as_array()
        .expect("a list")
        .iter()
        .map(|hint| hint["label"].as_str().expect("a label"))
        .collect();
    let everything = flowc_compiler::Span::new(0, text.len());
    let expected: Vec<String> = flowc_compiler::ide::inlay_hints(&analysis, file, everything)
        .into_iter()
        .map(|hint| hint.label)
        .collect();
    assert!(!expected.is_empty(), "the lets have hints");
    assert_eq!(labels, expected);

    let folds = client
        .request(
            "textDocument/foldingRange",
            json!({ "textDocument": document }),
        )
        .await
        .expect("folds answer");
    let multi_line = flowc_compiler::ide::folding_ranges(&analysis, file)
        .into_iter()
        .filter(|fold| text[fold.span.range()].trim_end().contains('\n'))
        .count();
    assert!(multi_line > 0, "the workflows fold");
    assert_eq!(folds.as_array().map(Vec::len), Some(multi_line));

    let (offset, at) = position_of(&text, "shipping(subtotal)");
    let inside = offset + u32::try_from("shipping(".len()).expect("small");
    let help = client
        .request(
            "textDocument/signatureHelp",
            json!({ "textDocument": document, "position": { "line": at["line"], "character": at["character"].as_u64().expect("a column") + 9 } }),
        )
        .await
        .expect("signature help answers");
    match flowc_compiler::ide::signature_help(&analysis, file, inside) {
        Some(expected) => {
            assert_eq!(help["signatures"][0]["label"], expected.label.as_str());
            assert_eq!(
                help["signatures"][0]["parameters"].as_array().map(Vec::len),
                Some(expected.parameters.len())
            );
        }
        None => assert_eq!(help, Value::Null),
    }
}

#[tokio::test]
async fn workspace_symbols_include_closed_workspace_files() {
    let (_dir, mut client, [main, other, b]) = importing_workspace().await;
    let answer = client
        .request("workspace/symbol", json!({ "query": "" }))
        .await
        .expect("symbols answer");
    let found: std::collections::BTreeSet<(String, String)> = answer
        .as_array()
        .expect("a list")
        .iter()
        .map(|symbol| {
            (
                symbol["name"].as_str().expect("a name").to_string(),
                symbol["location"]["uri"]
                    .as_str()
                    .expect("a uri")
                    .to_string(),
            )
        })
        .collect();
    for (name, path) in [("g", &main), ("k", &other), ("h", &b)] {
        assert!(
            found.contains(&(name.to_string(), uri(path).as_str().to_string())),
            "{name} in {}: {found:?}",
            path.display()
        );
    }
}

#[tokio::test]
async fn a_watched_file_changed_on_disk_republishes_its_importers() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let main_text = "import \"./b.flow\"\nfn g() -> int = h()\n";
    let main = write(dir.path(), "main.flow", main_text);
    let b = write(dir.path(), "b.flow", "fn h() -> int = 1\n");
    let mut client = Client::start(Options::default(), Some(dir.path())).await;
    client.open(&uri(&main), main_text).await;
    assert_eq!(
        client.published_for(&uri(&main)).await.diagnostics,
        Vec::<Value>::new()
    );
    std::fs::write(&b, "fn h() -> string = 1\n").expect("b.flow is edited elsewhere");
    client
        .notify(
            "workspace/didChangeWatchedFiles",
            json!({ "changes": [{ "uri": uri(&b).as_str(), "type": 2 }] }),
        )
        .await;
    let published = client.published_for(&uri(&main)).await;
    assert_eq!(
        essentials(&published.diagnostics),
        expected(&main, main_text, &main)
    );
    assert!(!published.diagnostics.is_empty());
}

#[tokio::test]
async fn an_unsaved_buffer_is_checked_under_its_own_uri() {
    let mut client = Client::start(Options::default(), None).await;
    let untitled: Uri = "untitled:Untitled-1".parse().expect("a URI");
    client.open(&untitled, "fn g(x: int) -> int = y\n").await;
    let published = client.published_for(&untitled).await;
    let messages: Vec<&Value> = published
        .diagnostics
        .iter()
        .map(|diagnostic| &diagnostic["message"])
        .collect();
    assert_eq!(messages, [&json!("unknown name `y`")]);
    let hover = client
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": "untitled:Untitled-1" }, "position": { "line": 0, "character": 22 } }),
        )
        .await;
    assert!(hover.is_ok(), "{hover:?}");
}

/// A small deterministic generator, so that a failing sequence of edits repeats.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(self.0 >> 33).expect("small") % bound.max(1)
    }
}

/// The protocol position of a char boundary, counted independently of the server.
fn utf16_position(text: &str, byte: usize) -> Value {
    let before = &text[..byte];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |at| at + 1);
    json!({ "line": line, "character": text[start..byte].encode_utf16().count() })
}

#[tokio::test]
async fn random_edits_and_questions_keep_the_text_and_never_fail() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut text =
        "fn f(x: int) -> string = \"é😀\" + \"x\"\r\nfn g(x: int) -> int = x\n".to_string();
    let path = write(dir.path(), "a.flow", &text);
    let mut client = Client::start(Options::default(), Some(dir.path())).await;
    client.open(&uri(&path), &text).await;
    client.published_for(&uri(&path)).await;
    let pieces = [
        "é", "😀", "x", " + 1", "\r\n", "\n", "\"", "{", "}", "(", ".", "fn ", "",
    ];
    let mut rng = Rng(7);
    let mut version = 1;
    for _ in 0..150 {
        let boundaries: Vec<usize> = text
            .char_indices()
            .map(|(at, _)| at)
            .chain([text.len()])
            // Never between the `\r` and `\n` of a line break: no editor puts a
            // position there.
            .filter(|at| !(text[..*at].ends_with('\r') && text[*at..].starts_with('\n')))
            .collect();
        let mut start = boundaries[rng.below(boundaries.len())];
        let mut end = boundaries[rng.below(boundaries.len())];
        if start > end {
            std::mem::swap(&mut start, &mut end);
        }
        let piece = pieces[rng.below(pieces.len())];
        version += 1;
        client
            .notify(
                "textDocument/didChange",
                json!({
                    "textDocument": { "uri": uri(&path).as_str(), "version": version },
                    "contentChanges": [{
                        "range": { "start": utf16_position(&text, start), "end": utf16_position(&text, end) },
                        "text": piece,
                    }],
                }),
            )
            .await;
        text.replace_range(start..end, piece);

        // A question at any position, in range or not, is answered, never failed.
        let at = json!({ "line": rng.below(6), "character": rng.below(50) });
        let document = json!({ "uri": uri(&path).as_str() });
        for (method, params) in [
            (
                "textDocument/hover",
                json!({ "textDocument": document, "position": at }),
            ),
            (
                "textDocument/completion",
                json!({ "textDocument": document, "position": at }),
            ),
            (
                "textDocument/signatureHelp",
                json!({ "textDocument": document, "position": at }),
            ),
            (
                "textDocument/definition",
                json!({ "textDocument": document, "position": at }),
            ),
            (
                "textDocument/inlayHint",
                json!({ "textDocument": document, "range": { "start": { "line": 0, "character": 0 }, "end": at } }),
            ),
            (
                "textDocument/semanticTokens/full",
                json!({ "textDocument": document }),
            ),
            (
                "textDocument/foldingRange",
                json!({ "textDocument": document }),
            ),
        ] {
            let answer = client.request(method, params).await;
            assert!(
                answer.is_ok(),
                "{method} at {at} failed on {text:?}: {answer:?}"
            );
        }
    }
    // The server's text is the model's: its final diagnostics are the compiler's
    // for the model's text.
    let published = loop {
        let published = client.published_for(&uri(&path)).await;
        if published.version == Some(version) {
            break published;
        }
    };
    assert_eq!(
        essentials(&published.diagnostics),
        expected(&path, &text, &path),
        "{text:?}"
    );
}
