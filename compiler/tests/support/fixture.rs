//! Multi-file fixtures with a cursor, for the editor queries' tests.
//!
//! A fixture is one raw string. Lines `//- path.flow` start a file (without one, the
//! whole text is `main.flow`); the first file is the root and the others are reached
//! through its imports. `$0` marks the cursor and `$0…$0` (two markers) a range; the
//! markers are removed before analysis and their byte offsets kept.

#![allow(dead_code)]

use flowc_compiler::{Analysis, FileId, Loader, SourceFile, Span, analyze};
use std::collections::BTreeMap;

pub struct Fixture {
    pub analysis: Analysis,
    /// The file holding the cursor.
    pub file: FileId,
    /// The cursor, or the start of the marked range.
    pub offset: u32,
    /// The marked range; empty at the cursor when only one marker was written.
    pub range: Span,
}

impl Fixture {
    /// The text of a file.
    pub fn text(&self, file: FileId) -> &str {
        self.analysis
            .file(file)
            .map_or("", |file| file.text.as_str())
    }

    /// The text a span covers in a file.
    pub fn slice(&self, file: FileId, span: Span) -> &str {
        self.text(file).get(span.range()).unwrap_or("")
    }

    pub fn path(&self, file: FileId) -> &str {
        self.analysis
            .file(file)
            .map_or("", |file| file.path.as_str())
    }

    /// The id of the file at `path`.
    pub fn id(&self, path: &str) -> FileId {
        flowc_compiler::ide::file_id(&self.analysis, path)
            .unwrap_or_else(|| panic!("no file {path} in the fixture"))
    }

    /// The byte offset of the first occurrence of `needle` in `path`, panicking when
    /// there is none.
    pub fn find(&self, path: &str, needle: &str) -> u32 {
        let text = self.text(self.id(path));
        let at = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} is not in {path}"));
        u32::try_from(at).unwrap_or(u32::MAX)
    }
}

struct Files(BTreeMap<String, String>);

impl Loader for Files {
    fn load(&self, path: &str) -> Result<String, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| format!("no file {path}"))
    }
}

/// Analyses a fixture; panics when it has no `$0` marker.
pub fn fixture(text: &str) -> Fixture {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix("//- ") {
            files.push((path.trim().to_string(), String::new()));
        } else {
            if files.is_empty() {
                files.push(("main.flow".to_string(), String::new()));
            }
            if let Some((_, body)) = files.last_mut() {
                body.push_str(line);
            }
        }
    }
    let mut cursor = None;
    let mut marks = Vec::new();
    for (index, (path, body)) in files.iter_mut().enumerate() {
        while let Some(at) = body.find("$0") {
            body.replace_range(at..at + 2, "");
            marks.push(u32::try_from(at).unwrap_or(u32::MAX));
            cursor.get_or_insert((index, path.clone()));
        }
    }
    let (_, cursor_path) = cursor.expect("the fixture has no $0 marker");
    let range = match marks.as_slice() {
        [at] => Span::new(*at as usize, *at as usize),
        [start, end] => Span::new(*start as usize, *end as usize),
        _ => panic!("a fixture has one or two $0 markers"),
    };
    let root = files.remove(0);
    let loader = Files(files.into_iter().collect());
    let analysis = analyze(
        vec![SourceFile {
            path: root.0,
            text: root.1,
        }],
        &loader,
    );
    let file = flowc_compiler::ide::file_id(&analysis, &cursor_path)
        .expect("the cursor's file was not reached from the root");
    Fixture {
        analysis,
        file,
        offset: range.start,
        range,
    }
}
