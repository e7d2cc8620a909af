//! The runtime's error codes and their `flowc explain` pages, kept in step.
//!
//! The runtime lists its codes in `outbound::error::ALL` (R01xx) and `engine::ALL`
//! (R02xx, R03xx). The pages live in the compiler crate, which cannot depend on the
//! runtime, so it keeps a copy of the list, `codes::RUNTIME_CODES`. These tests
//! check that every listed code has a page, that the copy is the list, and that no
//! code literal in the runtime's sources is missing from the lists, so a new code
//! without a page fails here.

use flowc_compiler::codes;
use flowc_runtime::{engine, outbound};
use std::collections::BTreeSet;
use std::path::Path;

/// Every code the runtime lists, from both modules.
fn listed() -> BTreeSet<&'static str> {
    outbound::error::ALL
        .iter()
        .chain(engine::ALL)
        .copied()
        .collect()
}

#[test]
fn every_runtime_code_has_a_page() {
    let missing: Vec<&str> = listed()
        .into_iter()
        .filter(|code| codes::explain(code).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "no page in compiler/diagnostics for {missing:?}"
    );
}

#[test]
fn the_compilers_copy_is_the_runtimes_list() {
    let both = outbound::error::ALL.len() + engine::ALL.len();
    assert_eq!(listed().len(), both, "a code is listed twice");
    let copy: BTreeSet<&str> = codes::RUNTIME_CODES.iter().copied().collect();
    assert_eq!(
        copy.len(),
        codes::RUNTIME_CODES.len(),
        "a code is in `codes::RUNTIME_CODES` twice"
    );
    assert_eq!(
        copy,
        listed(),
        "`codes::RUNTIME_CODES` in compiler/src/codes.rs must list exactly the runtime's codes"
    );
}

#[test]
fn every_code_in_the_sources_is_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut files = 0;
    scan(&root, &mut found, &mut files);
    assert!(files > 0, "no Rust sources under {}", root.display());
    let listed: BTreeSet<String> = listed().into_iter().map(str::to_string).collect();
    let unlisted: Vec<&String> = found.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "{unlisted:?} appear in runtime/src but not in `outbound::error::ALL` or \
         `engine::ALL` (add each there and give it a page)"
    );
    let unused: Vec<&String> = listed.difference(&found).collect();
    assert!(
        unused.is_empty(),
        "{unused:?} are listed but appear nowhere in runtime/src"
    );
}

#[test]
fn the_scan_finds_exactly_the_code_literals() {
    let mut found = BTreeSet::new();
    literals(
        br#"code: "R0105", "R0001", "R01050", "R0a12", R0106, "R0300""#,
        &mut found,
    );
    let expected: BTreeSet<String> = ["R0105", "R0300"].map(String::from).into();
    assert_eq!(found, expected);
}

/// Collects the code literals of every `.rs` file under `dir`.
fn scan(dir: &Path, found: &mut BTreeSet<String>, files: &mut usize) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
            .path();
        if path.is_dir() {
            scan(&path, found, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            let text = std::fs::read(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
            literals(&text, found);
            *files += 1;
        }
    }
}

/// Every string literal `"R0NNN"` in `text` whose first digit after `R0` is not 0
/// (the evaluator's `R00xx` belong to the compiler).
fn literals(text: &[u8], found: &mut BTreeSet<String>) {
    for window in text.windows(7) {
        let [b'"', b'R', b'0', first, second, third, b'"'] = *window else {
            continue;
        };
        if (b'1'..=b'9').contains(&first) && second.is_ascii_digit() && third.is_ascii_digit() {
            found.insert(String::from_utf8_lossy(&window[1..6]).into_owned());
        }
    }
}
