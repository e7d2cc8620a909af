//! The layout engine of the formatter: a document of text, possible line breaks,
//! indentation and groups, printed to fit a width.
//!
//! This is Wadler's "prettier printer" in the imperative form Lindig and Prettier
//! use: a group is printed flat (every `Line` a space) when the rest of its line
//! fits in the width, and broken (every `Line` of the group itself a newline)
//! otherwise. The formatter builds one document per file from the syntax tree; all
//! decisions about where lines may break live there, all measuring lives here.

/// A document to print.
#[derive(Clone, Debug)]
pub enum Doc {
    Nil,
    /// Text without newlines.
    Text(String),
    /// Text that may hold newlines (a block comment), printed as it is.
    Verbatim(String),
    /// A space when the group is flat, a newline when it is broken.
    Line,
    /// Nothing when the group is flat, a newline when it is broken.
    SoftLine,
    /// Always a newline; the groups around it cannot be flat.
    HardLine,
    /// Nothing, but the groups around it cannot be flat (after a line comment).
    BreakParent,
    /// Text printed only when the group is broken (a trailing comma).
    IfBreak(&'static str),
    /// Text printed only when the group is flat (a comma between fields).
    IfFlat(&'static str),
    /// The document, with every line break in it indented one level more.
    Indent(Box<Doc>),
    /// A group: flat if it fits, else broken. `broken` forces it broken.
    Group {
        doc: Box<Doc>,
        broken: bool,
    },
    /// The document printed flat whatever its width (inside a string template).
    Flat(Box<Doc>),
    Concat(Vec<Doc>),
}

/// Builds a document from parts.
pub fn concat(parts: impl IntoIterator<Item = Doc>) -> Doc {
    Doc::Concat(parts.into_iter().collect())
}

pub fn text(text: impl Into<String>) -> Doc {
    Doc::Text(text.into())
}

pub fn indent(doc: Doc) -> Doc {
    Doc::Indent(Box::new(doc))
}

pub fn group(doc: Doc) -> Doc {
    Doc::Group {
        doc: Box::new(doc),
        broken: false,
    }
}

pub fn group_broken(doc: Doc, broken: bool) -> Doc {
    Doc::Group {
        doc: Box::new(doc),
        broken,
    }
}

/// How many columns one level of indentation takes.
const INDENT: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flat,
    Break,
}

/// Prints a document in `width` columns. Lines carry no trailing spaces.
pub fn print(doc: &Doc, width: usize) -> String {
    let mut out = String::new();
    let mut column = 0usize;
    let mut stack: Vec<(usize, Mode, &Doc)> = vec![(0, Mode::Break, doc)];
    while let Some((level, mode, doc)) = stack.pop() {
        match doc {
            Doc::Nil | Doc::BreakParent => {}
            Doc::Text(text) => {
                out.push_str(text);
                column += text.chars().count();
            }
            Doc::Verbatim(text) => {
                out.push_str(text);
                column = match text.rfind('\n') {
                    Some(at) => text[at + 1..].chars().count(),
                    None => column + text.chars().count(),
                };
            }
            Doc::Line | Doc::SoftLine | Doc::HardLine if mode == Mode::Break => {
                newline(&mut out, level);
                column = level;
            }
            Doc::Line | Doc::HardLine => {
                out.push(' ');
                column += 1;
            }
            Doc::SoftLine => {}
            Doc::IfBreak(text) => {
                if mode == Mode::Break {
                    out.push_str(text);
                    column += text.chars().count();
                }
            }
            Doc::IfFlat(text) => {
                if mode == Mode::Flat {
                    out.push_str(text);
                    column += text.chars().count();
                }
            }
            Doc::Indent(inner) => stack.push((level + INDENT, mode, inner)),
            Doc::Group { doc: inner, broken } => {
                let flat = mode == Mode::Flat
                    || (!broken && fits(width.saturating_sub(column), inner, &stack));
                let mode = if flat { Mode::Flat } else { Mode::Break };
                stack.push((level, mode, inner));
            }
            Doc::Flat(inner) => stack.push((level, Mode::Flat, inner)),
            Doc::Concat(parts) => {
                for part in parts.iter().rev() {
                    stack.push((level, mode, part));
                }
            }
        }
    }
    trim_trailing_spaces(&mut out);
    out
}

fn newline(out: &mut String, level: usize) {
    trim_trailing_spaces(out);
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', level));
}

fn trim_trailing_spaces(out: &mut String) {
    let kept = out.trim_end_matches(' ').len();
    out.truncate(kept);
}

/// Whether `doc`, printed flat, and what follows it up to the next line break fit
/// in `width` columns.
fn fits(width: usize, doc: &Doc, rest: &[(usize, Mode, &Doc)]) -> bool {
    let mut remaining = width as isize;
    let mut stack: Vec<(Mode, &Doc)> = vec![(Mode::Flat, doc)];
    let mut rest = rest.iter().rev();
    loop {
        let Some((mode, doc)) = stack
            .pop()
            .or_else(|| rest.next().map(|&(_, mode, doc)| (mode, doc)))
        else {
            return true;
        };
        match doc {
            Doc::Nil => {}
            Doc::Text(text) => remaining -= text.chars().count() as isize,
            Doc::Verbatim(text) => {
                if text.contains('\n') {
                    return mode == Mode::Break;
                }
                remaining -= text.chars().count() as isize;
            }
            Doc::Line | Doc::SoftLine if mode == Mode::Break => return true,
            Doc::Line => remaining -= 1,
            Doc::SoftLine => {}
            Doc::HardLine => return mode == Mode::Break,
            Doc::BreakParent => {
                if mode == Mode::Flat {
                    return false;
                }
            }
            Doc::IfBreak(text) => {
                if mode == Mode::Break {
                    remaining -= text.chars().count() as isize;
                }
            }
            Doc::IfFlat(text) => {
                if mode == Mode::Flat {
                    remaining -= text.chars().count() as isize;
                }
            }
            Doc::Indent(inner) => stack.push((mode, inner)),
            Doc::Group { doc: inner, broken } => {
                if *broken && mode == Mode::Flat {
                    return false;
                }
                stack.push((mode, inner));
            }
            Doc::Flat(inner) => stack.push((Mode::Flat, inner)),
            Doc::Concat(parts) => {
                for part in parts.iter().rev() {
                    stack.push((mode, part));
                }
            }
        }
        if remaining < 0 {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Doc {
        let mut parts = vec![text("[")];
        let mut inner = vec![Doc::SoftLine];
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(Doc::Line);
            }
            inner.push(text(*item));
        }
        inner.push(Doc::IfBreak(","));
        parts.push(indent(concat(inner)));
        parts.push(Doc::SoftLine);
        parts.push(text("]"));
        group(concat(parts))
    }

    #[test]
    fn a_group_that_fits_stays_flat() {
        assert_eq!(print(&list(&["a", "b"]), 10), "[a, b]");
    }

    #[test]
    fn a_group_that_does_not_fit_breaks_one_element_a_line() {
        assert_eq!(
            print(&list(&["alpha", "beta"]), 10),
            "[\n  alpha,\n  beta,\n]"
        );
    }

    #[test]
    fn a_hard_line_breaks_the_groups_around_it() {
        let doc = group(concat([
            text("a"),
            Doc::Line,
            text("// c"),
            Doc::HardLine,
            text("b"),
        ]));
        assert_eq!(print(&doc, 80), "a\n// c\nb");
    }
}
