//! Positions as the Language Server Protocol counts them, and nowhere else.
//!
//! The compiler speaks in byte offsets into a file's UTF-8 text; an editor speaks in
//! zero-based lines and columns counted in UTF-16 code units (the protocol's default
//! encoding, and the one this server announces). Lines end at `\n`, `\r\n` or a lone
//! `\r`, as the protocol says. Every conversion between the two goes through
//! [`Lines`], so a column counted the wrong way can only be wrong here. Conversions
//! never fail: an offset past the end or inside a multi-byte character snaps to the
//! nearest character start before it, a line past the last one means the end of the
//! text, and a column past the end of its line means the end of that line.

use flowc_compiler::Span;
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};

/// The line starts of one text, for converting between byte offsets and positions.
#[derive(Clone, Debug)]
pub struct Lines<'a> {
    text: &'a str,
    /// The byte offset at which each line starts; the first is 0.
    starts: Vec<u32>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (offset, byte) in bytes.iter().enumerate() {
            let ends_line = match byte {
                b'\n' => true,
                // A `\r` ends a line unless a `\n` follows, which ends it instead.
                b'\r' => bytes.get(offset + 1) != Some(&b'\n'),
                _ => false,
            };
            if ends_line {
                starts.push(to_u32(offset + 1));
            }
        }
        Lines { text, starts }
    }

    /// The position of a byte offset.
    pub fn position(&self, offset: u32) -> Position {
        let offset = self.snap(offset);
        let line = self
            .starts
            .partition_point(|start| *start <= offset)
            .saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        // An offset between a `\r` and its `\n` is the end of the line.
        let end = offset.min(self.content_end(line));
        let character = self
            .text
            .get(start as usize..end as usize)
            .map_or(0, utf16_len);
        Position {
            line: to_u32(line),
            character,
        }
    }

    /// The byte offset of a position.
    pub fn offset(&self, position: Position) -> u32 {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return to_u32(self.text.len());
        };
        let end = self.content_end(position.line as usize);
        let line = self.text.get(start as usize..end as usize).unwrap_or("");
        let mut units = 0;
        for (index, character) in line.char_indices() {
            let next = units + character.len_utf16() as u32;
            // A column inside a surrogate pair counts as the character's start.
            if next > position.character {
                return start + to_u32(index);
            }
            units = next;
        }
        end
    }

    pub fn range(&self, span: Span) -> Range {
        Range {
            start: self.position(span.start),
            end: self.position(span.end.max(span.start)),
        }
    }

    /// The span of a range; a range whose end comes before its start is empty.
    pub fn span(&self, range: Range) -> Span {
        let start = self.offset(range.start);
        let end = self.offset(range.end).max(start);
        Span { start, end }
    }

    /// The position just past the last character.
    pub fn end(&self) -> Position {
        self.position(to_u32(self.text.len()))
    }

    /// `offset` clamped to the text and moved back to the start of its character.
    fn snap(&self, offset: u32) -> u32 {
        let mut offset = (offset as usize).min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        to_u32(offset)
    }

    /// Where the text of a line ends, before its line terminator.
    fn content_end(&self, line: usize) -> u32 {
        let next = self
            .starts
            .get(line + 1)
            .copied()
            .unwrap_or(to_u32(self.text.len()));
        let bytes = self.text.as_bytes();
        let mut end = next as usize;
        if line + 1 < self.starts.len() {
            // Step back over `\n`, `\r\n` or `\r`.
            if end > 0 && bytes.get(end - 1) == Some(&b'\n') {
                end -= 1;
            }
            if end > 0 && bytes.get(end - 1) == Some(&b'\r') {
                end -= 1;
            }
        }
        to_u32(end)
    }
}

/// Applies one change an editor sent: a range replaced, or the whole text when the
/// change has no range.
pub fn apply_change(text: &mut String, change: TextDocumentContentChangeEvent) {
    match change.range {
        Some(range) => {
            let span = Lines::new(text).span(range);
            text.replace_range(span.range(), &change.text);
        }
        None => *text = change.text,
    }
}

/// The length of a text in UTF-16 code units.
pub fn utf16_len(text: &str) -> u32 {
    to_u32(text.chars().map(char::len_utf16).sum())
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    /// Every character start of `text` converts to a position and back to itself.
    fn round_trips(text: &str) {
        let lines = Lines::new(text);
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let offset = to_u32(offset);
            let at = lines.position(offset);
            let back = lines.offset(at);
            let on_terminator = matches!(text.as_bytes().get(offset as usize), Some(b'\n'))
                && offset > 0
                && text.as_bytes().get(offset as usize - 1) == Some(&b'\r');
            if !on_terminator {
                assert_eq!(back, offset, "{text:?} at {offset} ({at:?})");
            }
        }
    }

    #[test]
    fn ascii_columns_are_bytes() {
        let lines = Lines::new("ab\ncd\n");
        assert_eq!(lines.position(0), position(0, 0));
        assert_eq!(lines.position(4), position(1, 1));
        assert_eq!(lines.position(6), position(2, 0));
        assert_eq!(lines.offset(position(1, 1)), 4);
        round_trips("ab\ncd\n");
    }

    #[test]
    fn non_ascii_counts_utf16_units() {
        // é is 2 bytes and 1 unit; 😀 is 4 bytes and 2 units (a surrogate pair).
        let text = "é😀x\n";
        let lines = Lines::new(text);
        assert_eq!(lines.position(2), position(0, 1));
        assert_eq!(lines.position(6), position(0, 3));
        assert_eq!(lines.offset(position(0, 3)), 6);
        assert_eq!(lines.offset(position(0, 1)), 2);
        round_trips(text);
    }

    #[test]
    fn a_column_inside_a_surrogate_pair_is_the_characters_start() {
        let lines = Lines::new("a😀b");
        assert_eq!(lines.offset(position(0, 2)), 1);
        assert_eq!(lines.offset(position(0, 3)), 5);
    }

    #[test]
    fn an_offset_inside_a_character_snaps_back() {
        let lines = Lines::new("é😀");
        assert_eq!(lines.position(1), position(0, 0));
        assert_eq!(lines.position(4), position(0, 1));
    }

    #[test]
    fn crlf_and_lone_cr_end_lines() {
        let text = "a\r\nb\rc\n";
        let lines = Lines::new(text);
        assert_eq!(lines.position(3), position(1, 0));
        assert_eq!(lines.position(5), position(2, 0));
        // Between `\r` and `\n` is still the end of the first line.
        assert_eq!(lines.position(2), position(0, 1));
        assert_eq!(lines.offset(position(0, 9)), 1);
        assert_eq!(lines.offset(position(1, 9)), 4);
        round_trips(text);
    }

    #[test]
    fn positions_past_the_end_clamp() {
        let text = "ab\ncd";
        let lines = Lines::new(text);
        assert_eq!(lines.offset(position(0, 99)), 2);
        assert_eq!(lines.offset(position(7, 0)), 5);
        assert_eq!(lines.position(99), position(1, 2));
        assert_eq!(lines.end(), position(1, 2));
    }

    #[test]
    fn the_empty_text_has_one_line() {
        let lines = Lines::new("");
        assert_eq!(lines.position(0), position(0, 0));
        assert_eq!(lines.offset(position(3, 3)), 0);
        assert_eq!(lines.end(), position(0, 0));
    }

    #[test]
    fn an_inverted_range_is_empty() {
        let lines = Lines::new("abcdef");
        let range = Range {
            start: position(0, 4),
            end: position(0, 2),
        };
        assert_eq!(lines.span(range), Span { start: 4, end: 4 });
    }

    #[test]
    fn changes_apply_in_utf16_ranges() {
        let mut text = "let é😀 = 1\n".to_string();
        apply_change(
            &mut text,
            TextDocumentContentChangeEvent {
                range: Some(Range {
                    start: position(0, 5),
                    end: position(0, 7),
                }),
                range_length: None,
                text: "x".to_string(),
            },
        );
        assert_eq!(text, "let éx = 1\n");
        apply_change(
            &mut text,
            TextDocumentContentChangeEvent {
                range: None,
                range_length: None,
                text: "new".to_string(),
            },
        );
        assert_eq!(text, "new");
    }
}
