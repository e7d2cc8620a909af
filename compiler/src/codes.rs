//! The explanation page of every diagnostic code, for `flowc explain E0201`.
//!
//! A diagnostic says what is wrong in one line; its page says why Flow rejects it,
//! shows a small program that triggers it and the same program fixed. Each page is a
//! Markdown file, `compiler/diagnostics/<CODE>.md`, compiled into the crate with
//! `include_str!` so the binary needs no files at run time and the compiler stays
//! free of IO. The tests below keep the pages and the codes in step: every code the
//! compiler can emit has a page, every page belongs to a code, and every page's
//! examples really do fail, and pass once fixed.

/// One explanation page: `text` is the whole Markdown file, starting with the line
/// `# CODE: title`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// The code, such as `E0201`.
    pub code: &'static str,
    /// The short title from the page's first line, such as `unexpected token`.
    pub title: &'static str,
    /// The page as Markdown, title line included.
    pub text: &'static str,
}

/// Builds [`PAGES`] from a list of codes, reading `diagnostics/<CODE>.md` for each.
macro_rules! pages {
    ($($code:literal),* $(,)?) => {
        /// Every page, sorted by code.
        pub const PAGES: &[Page] = &[
            $(Page::new($code, include_str!(concat!("../diagnostics/", $code, ".md")))),*
        ];
    };
}

pages![
    // Lexical.
    "E0101", "E0102", "E0103", "E0104", "E0105", "E0106", "E0107", "E0108", "E0109",
    // Syntax.
    "E0201", "E0202", "E0203", "E0204", "E0205", "E0206", "E0207", "E0208", "E0209", "E0210",
    "E0211", "E0212", // Names.
    "E0301", "E0302", "E0303", "E0304", "E0305", "E0306", "E0307", "E0308", "E0309", "E0310",
    "E0311", "E0312", "E0313", "E0314", "E0315", // Types.
    "E0401", "E0402", "E0403", "E0404", "E0405", "E0406", "E0407", "E0408", "E0409", "E0410",
    "E0411", "E0412", "E0413", "E0414", "E0415", "E0416", "E0417", "E0418", "E0419", "E0420",
    "E0421", "E0422", "E0423", "E0424", "E0425", // Project rules.
    "E0501", "E0502", // Run time: expression evaluation.
    "R0001", "R0002", "R0003", "R0004", "R0005", "R0006", "R0007", "R0008", "R0009", "R0010",
    // Run time: outbound HTTP.
    "R0101", "R0102", "R0103", "R0104", "R0105", "R0106", "R0107", "R0108", "R0109", "R0110",
    "R0111", "R0112", // Run time: the engine.
    "R0201", "R0202", "R0203", "R0204", "R0205", "R0300", "R0301", "R0302", "R0303", "R0304",
    // Warnings of the checker.
    "W0401", "W0402", "W0403", "W0404",
];

/// The codes the runtime adds to the compiler's: outbound HTTP (`R01xx`) and the
/// engine (`R02xx`, `R03xx`). The compiler does not depend on the runtime, so it
/// cannot read the runtime's own lists; this copy lets the tests here accept those
/// pages, and the runtime crate's test `tests/codes.rs` keeps it equal to the
/// runtime's `outbound::error::ALL` and `engine::ALL`.
pub const RUNTIME_CODES: &[&str] = &[
    "R0101", "R0102", "R0103", "R0104", "R0105", "R0106", "R0107", "R0108", "R0109", "R0110",
    "R0111", "R0112", "R0201", "R0202", "R0203", "R0204", "R0205", "R0300", "R0301", "R0302",
    "R0303", "R0304",
];

/// The page for `code`, matched without regard to case (`e0201` finds `E0201`).
pub fn explain(code: &str) -> Option<&'static Page> {
    let code = code.trim();
    PAGES
        .iter()
        .find(|page| page.code.eq_ignore_ascii_case(code))
}

/// Every page, sorted by code.
pub fn all() -> &'static [Page] {
    PAGES
}

impl Page {
    const fn new(code: &'static str, text: &'static str) -> Page {
        Page {
            code,
            title: title_of(code, text),
            text,
        }
    }
}

/// The title in a page's first line, `# CODE: title`. This runs at compile time, so
/// a page whose first line does not name its own code stops the build.
const fn title_of(code: &str, text: &'static str) -> &'static str {
    let bytes = text.as_bytes();
    let mut end = 0;
    while end < bytes.len() && bytes[end] != b'\n' {
        end += 1;
    }
    let (line, _) = bytes.split_at(end);
    let line = line.trim_ascii_end();

    let code = code.as_bytes();
    let prefix = code.len() + 4;
    if line.len() <= prefix {
        panic!("a diagnostic page must start with `# CODE: title`");
    }
    let (head, title) = line.split_at(prefix);
    let mut at = 0;
    while at < head.len() {
        let expected = if at < 2 {
            b"# "[at]
        } else if at < 2 + code.len() {
            code[at - 2]
        } else {
            b": "[at - 2 - code.len()]
        };
        if head[at] != expected {
            panic!("a diagnostic page must start with `# CODE: title`, with its own code");
        }
        at += 1;
    }
    match core::str::from_utf8(title) {
        Ok(title) => title,
        Err(_) => panic!("a diagnostic page's title must be UTF-8"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every code the compiler can emit, each phase's `ALL`, and the codes the
    /// runtime adds ([`RUNTIME_CODES`]).
    fn known_codes() -> BTreeSet<&'static str> {
        crate::syntax::diagnostics::ALL
            .iter()
            .chain(crate::resolve::diagnostics::ALL)
            .chain(crate::check::diagnostics::ALL)
            .chain(crate::eval::error::ALL)
            .map(|code| code.as_str())
            .chain(RUNTIME_CODES.iter().copied())
            .collect()
    }

    /// A page split into its `## ` sections, in order, as (heading, body) pairs.
    fn sections(page: &Page) -> Vec<(&'static str, &'static str)> {
        let mut sections = Vec::new();
        let mut rest = page.text;
        while let Some(start) = rest.find("\n## ") {
            let after = &rest[start + 4..];
            let heading_end = after.find('\n').unwrap_or(after.len());
            let body = &after[heading_end..];
            let body_end = body.find("\n## ").unwrap_or(body.len());
            sections.push((after[..heading_end].trim(), &body[..body_end]));
            rest = &body[body_end..];
        }
        sections
    }

    /// The fenced blocks of `markdown` as (info string, contents) pairs.
    fn code_blocks(markdown: &str) -> Vec<(&str, String)> {
        let mut blocks = Vec::new();
        let mut open: Option<(&str, String)> = None;
        for line in markdown.lines() {
            match (line.strip_prefix("```"), open.take()) {
                (Some(_), Some(block)) => blocks.push(block),
                (Some(info), None) => open = Some((info.trim(), String::new())),
                (None, Some((info, mut contents))) => {
                    contents.push_str(line);
                    contents.push('\n');
                    open = Some((info, contents));
                }
                (None, None) => {}
            }
        }
        assert!(open.is_none(), "an unclosed code block in:\n{markdown}");
        blocks
    }

    /// Flow blocks are fenced as `flow`; `flow,ignore` marks one that only shows a
    /// shape, such as a program too large to print.
    fn flow_blocks(markdown: &str) -> Vec<(bool, String)> {
        code_blocks(markdown)
            .into_iter()
            .filter(|(info, _)| *info == "flow" || info.starts_with("flow,"))
            .map(|(info, contents)| (info.split(',').any(|word| word == "ignore"), contents))
            .collect()
    }

    fn section(page: &Page, heading: &str) -> &'static str {
        sections(page)
            .into_iter()
            .find(|(name, _)| *name == heading)
            .map(|(_, body)| body)
            .unwrap_or_else(|| panic!("{}: no `## {heading}` section", page.code))
    }

    #[test]
    fn every_code_has_a_page() {
        for code in known_codes() {
            assert!(
                explain(code).is_some(),
                "{code} has no page in `codes::PAGES`"
            );
        }
    }

    #[test]
    fn every_page_starts_with_its_code_and_a_lower_case_title() {
        for page in all() {
            let first_line = page.text.lines().next().unwrap_or("");
            assert_eq!(first_line, format!("# {}: {}", page.code, page.title));
            assert!(
                !page.title.trim().is_empty() && page.title == page.title.trim(),
                "{}: the title must be words without surrounding space",
                page.code
            );
            assert_eq!(
                page.title,
                page.title.to_lowercase(),
                "{}: titles are lower case",
                page.code
            );
            assert!(
                !page.title.ends_with('.'),
                "{}: no period after a title",
                page.code
            );
        }
    }

    #[test]
    fn every_page_has_the_three_sections_with_flow_examples() {
        for page in all() {
            let headings: Vec<&str> = sections(page).into_iter().map(|(name, _)| name).collect();
            assert_eq!(
                headings,
                ["What happened", "Example", "How to fix"],
                "{}: the sections, in order",
                page.code
            );
            for heading in ["Example", "How to fix"] {
                assert!(
                    !flow_blocks(section(page, heading)).is_empty(),
                    "{}: `## {heading}` needs a ```flow block",
                    page.code
                );
            }
            let lines = page.text.lines().count();
            assert!(
                (20..=50).contains(&lines),
                "{}: {lines} lines; keep a page between 20 and 50",
                page.code
            );
        }
    }

    #[test]
    fn every_page_belongs_to_a_known_code() {
        let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/diagnostics");
        let known = known_codes();
        let registered: BTreeSet<&str> = all().iter().map(|page| page.code).collect();
        let entries = std::fs::read_dir(directory).expect("the diagnostics directory is readable");
        let mut files = 0;
        for entry in entries {
            let name = entry.expect("a readable directory entry").file_name();
            let name = name.to_string_lossy();
            let code = name
                .strip_suffix(".md")
                .unwrap_or_else(|| panic!("{directory}/{name}: only `<CODE>.md` pages live here"));
            assert!(
                known.contains(code),
                "{name}: no diagnostic has the code {code}"
            );
            assert!(
                registered.contains(code),
                "{name}: missing from `pages![…]` in codes.rs"
            );
            files += 1;
        }
        assert_eq!(
            files,
            all().len(),
            "every page in `pages![…]` has its own file"
        );
        for page in all() {
            assert!(
                known.contains(page.code),
                "{}: no diagnostic has this code",
                page.code
            );
        }
    }

    #[test]
    fn codes_are_unique_and_sorted() {
        for pair in all().windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "`{}` must come before `{}` in `pages![…]`, once each",
                pair[1].code,
                pair[0].code
            );
        }
    }

    /// Whether a page's examples go through the whole compiler, [`crate::analyze`]:
    /// those of names, types, project rules and the checker's warnings, and those of
    /// every run-time code, the evaluator's (`R00xx`) and the runtime's. The examples
    /// of lexical and syntax pages go through the parser.
    fn analyzed(code: &str) -> bool {
        ["E03", "E04", "E05", "W04", "R"]
            .iter()
            .any(|phase| code.starts_with(phase))
    }

    /// The files of an example: a block may hold several, each starting with a line
    /// `// file: NAME`; the first is the project's root and the others are what its
    /// imports can load. A block without such a line is one file, `main.flow`.
    fn example_files(source: &str) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = Vec::new();
        for line in source.lines() {
            if let Some(name) = line.strip_prefix("// file: ") {
                files.push((name.trim().to_string(), String::new()));
                continue;
            }
            if files.is_empty() {
                files.push(("main.flow".to_string(), String::new()));
            }
            if let Some((_, text)) = files.last_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        files
    }

    /// Serves the other files of a multi-file example to `analyze`.
    struct ExampleFiles(Vec<(String, String)>);

    impl crate::Loader for ExampleFiles {
        fn load(&self, path: &str) -> Result<String, String> {
            self.0
                .iter()
                .find(|(name, _)| name == path)
                .map(|(_, text)| text.clone())
                .ok_or_else(|| "no such file".to_string())
        }
    }

    /// Every diagnostic of an example as `CODE message`, in the order reported.
    fn diagnose(code: &str, source: &str) -> Vec<(String, String)> {
        if !analyzed(code) {
            return crate::syntax::parse(source)
                .diagnostics
                .iter()
                .map(|diagnostic| {
                    let code = diagnostic.code.as_str().to_string();
                    (code, diagnostic.message.clone())
                })
                .collect();
        }
        let mut files = example_files(source);
        let (path, text) = files.remove(0);
        let root = crate::SourceFile { path, text };
        crate::analyze(vec![root], &ExampleFiles(files))
            .diagnostics
            .iter()
            .map(|entry| {
                let diagnostic = &entry.diagnostic;
                let code = diagnostic.code.as_str().to_string();
                (code, diagnostic.message.clone())
            })
            .collect()
    }

    /// Like rustc's error-code docs: each example must give its page's code and each
    /// fixed program must be clean, warnings included (so a warning's fix shows the
    /// warning gone). Lexical and syntax pages are checked with the parser, the others
    /// with the whole compiler. All failures are listed at once.
    #[test]
    fn examples_give_their_code_and_fixes_give_none() {
        let mut failures = Vec::new();
        for page in all() {
            for (ignored, source) in flow_blocks(section(page, "Example")) {
                let found = diagnose(page.code, &source);
                let codes: Vec<&str> = found.iter().map(|(code, _)| code.as_str()).collect();
                if !ignored && !codes.contains(&page.code) {
                    failures.push(format!(
                        "{}: the example gives {codes:?}, not {}:\n{source}",
                        page.code, page.code
                    ));
                }
            }
            for (ignored, source) in flow_blocks(section(page, "How to fix")) {
                let found = diagnose(page.code, &source);
                if !ignored && !found.is_empty() {
                    let messages: Vec<String> = found
                        .iter()
                        .map(|(code, message)| format!("{code} {message}"))
                        .collect();
                    failures.push(format!(
                        "{}: the fixed example still gives {messages:?}:\n{source}",
                        page.code
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// A run-time failure comes from a program the compiler accepts, so on the page
    /// of every `R` code, the evaluator's and those of [`RUNTIME_CODES`], the example
    /// too (marked `ignore`, since the compiler cannot give its code) must compile
    /// without a diagnostic, warnings included.
    #[test]
    fn runtime_pages_show_programs_that_compile() {
        let mut failures = Vec::new();
        let mut checked = 0;
        let runtime_pages: Vec<&Page> = all()
            .iter()
            .filter(|page| page.code.starts_with('R'))
            .collect();
        for page in &runtime_pages {
            for heading in ["Example", "How to fix"] {
                for (_, source) in flow_blocks(section(page, heading)) {
                    checked += 1;
                    let found = diagnose(page.code, &source);
                    if !found.is_empty() {
                        failures.push(format!(
                            "{}: the `## {heading}` program gives {found:?}:\n{source}",
                            page.code
                        ));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(
            runtime_pages.len()
                == known_codes()
                    .iter()
                    .filter(|code| code.starts_with('R'))
                    .count(),
            "every run-time code has its page here"
        );
        assert!(
            checked >= 2 * runtime_pages.len(),
            "every runtime page has an example and a fix"
        );
    }

    #[test]
    fn explain_ignores_case_and_rejects_unknown_codes() {
        let page = explain("e0201").expect("lower case finds the page");
        assert_eq!(page.code, "E0201");
        assert_eq!(page.title, "unexpected token");
        assert_eq!(explain(" E0101 ").map(|page| page.code), Some("E0101"));
        assert_eq!(explain("E9999"), None);
        assert_eq!(explain("0201"), None);
        assert_eq!(explain(""), None);
    }
}
