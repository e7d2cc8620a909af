//! Every example under `examples/` type-checks with no errors, its IR round-trips
//! through JSON and the binary form with an unchanged hash, and its IR is
//! snapshotted.

use flowc_compiler::diagnostic::render;
use flowc_compiler::{Loader, SourceFile, analyze, ir::Program};
use std::path::{Path, PathBuf};

struct Disk(PathBuf);

impl Loader for Disk {
    fn load(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(self.0.join(path)).map_err(|error| error.to_string())
    }
}

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("examples/ is readable")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "flow"))
        .collect();
    found.sort();
    found
}

#[test]
fn every_example_type_checks_and_round_trips() {
    let mut failures = Vec::new();
    for path in examples() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path).expect("readable example");
        let directory = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let analysis = analyze(
            vec![SourceFile {
                path: name.clone(),
                text: text.clone(),
            }],
            &Disk(directory),
        );
        for entry in &analysis.diagnostics {
            if entry.diagnostic.is_error() {
                failures.push(render(&entry.diagnostic, &name, &text, false));
            }
        }
        let program = &analysis.program;
        let json = program.to_json();
        let back = Program::from_json(&json).expect("IR JSON reads back");
        assert_eq!(&back, program, "{name}: JSON round trip");
        assert_eq!(back.hash(), program.hash(), "{name}: hash after JSON");
        let binary = program.to_binary();
        let back = Program::from_binary(&binary).expect("binary IR reads back");
        assert_eq!(&back, program, "{name}: binary round trip");
        assert_eq!(back.hash(), program.hash(), "{name}: hash after binary");
        insta::with_settings!({ snapshot_path => "examples", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name.trim_end_matches(".flow").to_string(), json);
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
