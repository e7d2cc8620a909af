//! The project as the server sees it: the documents the editor has open, the `.flow`
//! files of the workspace, and what analysing each of them last found.
//!
//! Each open document is the single root of a program, exactly as `flowc check FILE`
//! would see it; its imports are read through a loader that prefers the editor's
//! unsaved text over the disk. A file's diagnostics are those of every analysis that
//! includes it: its own when it is open, and those of the open documents and
//! workspace files that import it. Every change to a text bumps a revision; an
//! analysis made at an older revision is never published nor used for an answer, so
//! the newest text always wins.

use crate::to_lsp;
use flowc_compiler::resolve::normalize;
use flowc_compiler::{Analysis, Loader, SourceFile};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use tower_lsp_server::ls_types::{self as lsp, Uri};

/// The most `.flow` files taken from the workspace folders, and the most entries
/// looked at to find them: a folder holding more is probably not a Flow project (a
/// home directory opened as the root), and walking all of it would hold up the
/// editor's start.
const MOST_WORKSPACE_FILES: usize = 2_000;
const MOST_WORKSPACE_ENTRIES: usize = 50_000;

/// A document the editor has open.
#[derive(Clone, Debug)]
pub struct Document {
    pub text: String,
    pub version: i32,
}

/// The URI of each file, as the client named it when it did, else made from the
/// path.
#[derive(Clone, Debug, Default)]
pub struct Uris {
    known: HashMap<String, Uri>,
}

impl Uris {
    pub fn uri(&self, path: &str) -> Option<Uri> {
        if let Some(uri) = self.known.get(path) {
            return Some(uri.clone());
        }
        if path.starts_with('/') {
            Uri::from_file_path(path)
        } else {
            None
        }
    }
}

/// The texts of the open documents at one revision, to analyse without holding the
/// project.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub revision: u64,
    pub texts: Arc<HashMap<String, String>>,
    pub uris: Arc<Uris>,
}

impl Loader for Snapshot {
    fn load(&self, path: &str) -> Result<String, String> {
        match self.texts.get(path) {
            Some(text) => Ok(text.clone()),
            None => read(path),
        }
    }
}

impl Snapshot {
    /// Analyses `root` as `flowc check ROOT` would, its text and its imports' texts
    /// taken from the open documents first. `Err` says why there is no analysis:
    /// the root cannot be read, or the compiler panicked.
    pub fn analyze(&self, root: &str) -> Result<Analysis, String> {
        let text = self
            .load(root)
            .map_err(|reason| format!("cannot read {root}: {reason}"))?;
        let source = SourceFile {
            path: root.to_string(),
            text,
        };
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            flowc_compiler::analyze(vec![source], self)
        }))
        .map_err(|payload| format!("the compiler crashed on {root}: {}", panic_text(&*payload)))
    }
}

/// What a panic said.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

/// A file's text from disk, or why it cannot be had, in the words `flowc check`
/// uses.
fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::InvalidData => "not valid UTF-8".to_string(),
        _ => {
            let text = err.to_string();
            match text.rfind(" (os error ") {
                Some(at) if text.ends_with(')') => text[..at].to_string(),
                _ => text,
            }
        }
    })
}

/// The name a document goes by in analyses: its normalised path for a `file:` URI,
/// else the URI itself (an unsaved buffer, whose imports cannot be found).
pub fn key(uri: &Uri) -> String {
    if uri.scheme().as_str().eq_ignore_ascii_case("file")
        && let Some(path) = uri.to_file_path()
    {
        return normalize(&path.to_string_lossy());
    }
    uri.as_str().to_string()
}

/// What the last analysis of one root found.
#[derive(Clone, Debug)]
struct Root {
    /// The paths of every file of its analysis, itself included.
    files: BTreeSet<String>,
    diagnostics: BTreeMap<String, Vec<lsp::Diagnostic>>,
    /// Whether its diagnostics are shown: always for an open document; for a
    /// workspace file, once a file it imports has changed.
    published: bool,
}

/// One root analysed for diagnostics.
#[derive(Debug)]
pub struct Outcome {
    pub root: String,
    pub analysis: Result<Arc<Analysis>, String>,
    /// Whether to show its diagnostics from now on.
    pub shown: bool,
}

/// A `textDocument/publishDiagnostics` to send.
#[derive(Clone, Debug)]
pub struct Publish {
    pub uri: Uri,
    pub diagnostics: Vec<lsp::Diagnostic>,
    pub version: Option<i32>,
}

/// The roots to consider after a change: each with the files it included last time
/// (`None` when never analysed) and whether it is open.
#[derive(Clone, Debug)]
pub struct Plan {
    pub snapshot: Snapshot,
    pub dirty: BTreeSet<String>,
    pub roots: Vec<(String, Option<BTreeSet<String>>, bool)>,
    /// Analyses already made at this revision (for a request), used as they are.
    pub made: HashMap<String, Arc<Analysis>>,
}

impl Plan {
    /// Analyses the roots a change touches: an open document that changed or
    /// imports a changed file (or was never analysed), and a workspace file that
    /// imports a changed file. With `discover`, it analyses instead only the
    /// workspace files never analysed, to learn what they import: their
    /// diagnostics are kept but not shown unless they import a changed file. The
    /// server publishes the first kind before it discovers, so that a large
    /// workspace does not delay what the edited file shows.
    pub fn run(&self, discover: bool) -> Vec<Outcome> {
        let touches = |files: &BTreeSet<String>, root: &str| {
            files
                .iter()
                .any(|file| file != root && self.dirty.contains(file))
        };
        let mut outcomes = Vec::new();
        for (root, files, open) in &self.roots {
            let wanted = match (files, open) {
                (None, false) => discover,
                _ if discover => false,
                (None, true) => true,
                (Some(_), true) if self.dirty.contains(root) => true,
                (Some(files), _) => touches(files, root),
            };
            if !wanted {
                continue;
            }
            let analysis = match self.made.get(root) {
                Some(analysis) => Ok(analysis.clone()),
                None => self.snapshot.analyze(root).map(Arc::new),
            };
            let shown = *open
                || analysis.as_ref().is_ok_and(|analysis| {
                    let files = analysis
                        .files
                        .iter()
                        .map(|file| file.path.clone())
                        .collect();
                    touches(&files, root)
                });
            outcomes.push(Outcome {
                root: root.clone(),
                analysis,
                shown,
            });
        }
        outcomes
    }
}

/// Everything the server knows about the editor's files.
#[derive(Debug, Default)]
pub struct Project {
    pub docs: HashMap<String, Document>,
    /// The `.flow` files under the workspace folders, found once at start.
    pub workspace: BTreeSet<String>,
    /// Bumped by every change to a text.
    pub revision: u64,
    /// Files changed since diagnostics were last published.
    pub dirty: BTreeSet<String>,
    uris: Uris,
    roots: HashMap<String, Root>,
    published: HashMap<String, Vec<lsp::Diagnostic>>,
    cache: HashMap<String, (u64, Arc<Analysis>)>,
}

impl Project {
    pub fn open(&mut self, uri: Uri, text: String, version: i32) -> String {
        let key = key(&uri);
        self.uris.known.insert(key.clone(), uri);
        self.docs.insert(key.clone(), Document { text, version });
        self.touch(&key);
        key
    }

    /// Applies an editor's changes, in order; `None` for a document that is not
    /// open.
    pub fn change(
        &mut self,
        uri: &Uri,
        version: i32,
        changes: Vec<lsp::TextDocumentContentChangeEvent>,
    ) -> Option<String> {
        let key = key(uri);
        let document = self.docs.get_mut(&key)?;
        for change in changes {
            crate::position::apply_change(&mut document.text, change);
        }
        document.version = version;
        self.touch(&key);
        Some(key)
    }

    pub fn close(&mut self, uri: &Uri) -> Option<String> {
        let key = key(uri);
        self.docs.remove(&key)?;
        if self.workspace.contains(&key) {
            if let Some(root) = self.roots.get_mut(&key) {
                root.published = false;
            }
        } else {
            self.roots.remove(&key);
        }
        self.cache.remove(&key);
        self.touch(&key);
        Some(key)
    }

    /// A file changed on disk (a watched file): created, changed or deleted.
    pub fn changed_on_disk(&mut self, uri: &Uri, deleted: bool) {
        let key = key(uri);
        if key.ends_with(".flow") && key.starts_with('/') {
            if deleted {
                self.workspace.remove(&key);
                if !self.docs.contains_key(&key) {
                    self.roots.remove(&key);
                }
            } else {
                self.workspace.insert(key.clone());
            }
        }
        self.touch(&key);
    }

    fn touch(&mut self, key: &str) {
        self.revision += 1;
        self.dirty.insert(key.to_string());
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            revision: self.revision,
            texts: Arc::new(
                self.docs
                    .iter()
                    .map(|(key, document)| (key.clone(), document.text.clone()))
                    .collect(),
            ),
            uris: Arc::new(self.uris.clone()),
        }
    }

    /// The analysis of `root` at the current revision, if one was made.
    pub fn cached(&self, root: &str) -> Option<Arc<Analysis>> {
        self.cache
            .get(root)
            .filter(|(revision, _)| *revision == self.revision)
            .map(|(_, analysis)| analysis.clone())
    }

    /// Keeps an analysis made at `revision`, if that is still the current one.
    /// The analysis it replaces is freed on a thread of its own: freeing a large
    /// project's analysis takes milliseconds the next answer should not wait for.
    pub fn remember(&mut self, root: &str, revision: u64, analysis: Arc<Analysis>) {
        if revision == self.revision
            && let Some((_, old)) = self.cache.insert(root.to_string(), (revision, analysis))
        {
            std::thread::spawn(move || drop(old));
        }
    }

    /// Every root: the open documents, then the workspace files that are not open.
    pub fn all_roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = self.docs.keys().cloned().collect();
        roots.sort();
        roots.extend(
            self.workspace
                .iter()
                .filter(|path| !self.docs.contains_key(*path))
                .cloned(),
        );
        roots
    }

    /// The roots whose last analysis included `path` (or that were never analysed,
    /// so might), open documents first.
    pub fn roots_including(&self, path: &str) -> Vec<String> {
        self.all_roots()
            .into_iter()
            .filter(|root| {
                root == path
                    || self
                        .roots
                        .get(root)
                        .is_none_or(|known| known.files.contains(path))
            })
            .collect()
    }

    pub fn plan(&self) -> Plan {
        Plan {
            snapshot: self.snapshot(),
            dirty: self.dirty.clone(),
            roots: self
                .all_roots()
                .into_iter()
                .map(|root| {
                    let files = self.roots.get(&root).map(|known| known.files.clone());
                    let open = self.docs.contains_key(&root);
                    (root, files, open)
                })
                .collect(),
            made: self
                .cache
                .iter()
                .filter(|(_, (revision, _))| *revision == self.revision)
                .map(|(root, (_, analysis))| (root.clone(), analysis.clone()))
                .collect(),
        }
    }

    /// Whether some workspace file was never analysed.
    pub fn undiscovered(&self) -> bool {
        self.workspace
            .iter()
            .any(|path| !self.docs.contains_key(path) && !self.roots.contains_key(path))
    }

    /// Takes in the outcomes of a plan made at `revision` and says what to publish:
    /// what changed, and with `first`, every edited open document even when what
    /// it shows did not change (its version moved). A plan overtaken by a newer
    /// change publishes nothing: the newer one will.
    pub fn apply(&mut self, revision: u64, outcomes: Vec<Outcome>, first: bool) -> Vec<Publish> {
        if revision != self.revision {
            return Vec::new();
        }
        let uris = self.uris.clone();
        for outcome in outcomes {
            let published = self
                .roots
                .get(&outcome.root)
                .is_some_and(|root| root.published);
            let root = match &outcome.analysis {
                Ok(analysis) => {
                    self.cache
                        .insert(outcome.root.clone(), (revision, analysis.clone()));
                    Root {
                        files: analysis
                            .files
                            .iter()
                            .map(|file| file.path.clone())
                            .collect(),
                        diagnostics: to_lsp::diagnostics(analysis, &uris),
                        published: outcome.shown || published,
                    }
                }
                // Without an analysis the root shows nothing, and is tried again
                // after the next change.
                Err(_) => Root {
                    files: BTreeSet::from([outcome.root.clone()]),
                    diagnostics: BTreeMap::new(),
                    published: false,
                },
            };
            self.roots.insert(outcome.root, root);
        }
        let mut shown: BTreeMap<String, Vec<lsp::Diagnostic>> = BTreeMap::new();
        for root in self.roots.values().filter(|root| root.published) {
            for (path, diagnostics) in &root.diagnostics {
                let list = shown.entry(path.clone()).or_default();
                for diagnostic in diagnostics {
                    if !list.contains(diagnostic) {
                        list.push(diagnostic.clone());
                    }
                }
            }
        }
        let paths: BTreeSet<String> = shown.keys().chain(self.published.keys()).cloned().collect();
        let mut publish = Vec::new();
        for path in paths {
            let mut diagnostics = shown.remove(&path).unwrap_or_default();
            diagnostics.sort_by_key(|diagnostic| {
                let range = diagnostic.range;
                (
                    range.start.line,
                    range.start.character,
                    range.end.line,
                    range.end.character,
                )
            });
            let document = self.docs.get(&path);
            let changed =
                self.published.get(&path).map_or(&[][..], Vec::as_slice) != diagnostics.as_slice();
            // An edited open document hears back even when what it shows is the
            // same: its version moved.
            let edited = first && document.is_some() && self.dirty.contains(&path);
            if !changed && !edited {
                continue;
            }
            let Some(uri) = uris.uri(&path) else { continue };
            if diagnostics.is_empty() {
                self.published.remove(&path);
            } else {
                self.published.insert(path.clone(), diagnostics.clone());
            }
            publish.push(Publish {
                uri,
                diagnostics,
                version: document.map(|document| document.version),
            });
        }
        publish
    }

    /// Forgets the changes a plan made at `revision` covered, if no change came
    /// since.
    pub fn settle(&mut self, revision: u64) {
        if revision == self.revision {
            self.dirty.clear();
        }
    }
}

/// The `.flow` files under the workspace folders, skipping hidden entries and
/// `target` directories as `flowc check DIR` does, and `node_modules`.
pub fn walk(folders: &[std::path::PathBuf]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for folder in folders {
        let entries = walkdir::WalkDir::new(folder)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| entry.depth() == 0 || !is_skipped(entry));
        for entry in entries.flatten().take(MOST_WORKSPACE_ENTRIES) {
            if found.len() >= MOST_WORKSPACE_FILES {
                return found;
            }
            let path = entry.path();
            if entry.file_type().is_file() && path.extension().is_some_and(|ext| ext == "flow") {
                found.insert(normalize(&absolute(path)));
            }
        }
    }
    found
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

fn is_skipped(entry: &walkdir::DirEntry) -> bool {
    let name = entry.file_name().to_string_lossy();
    name.starts_with('.')
        || (entry.file_type().is_dir() && (name == "target" || name == "node_modules"))
}
