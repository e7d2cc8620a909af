//! Every lexical (E01xx) and syntax (E02xx) diagnostic, built in one place so the
//! wording stays consistent and each code is easy to find from its page.

use crate::diagnostic::{Code, Diagnostic, Span};

pub const UNEXPECTED_CHARACTER: Code = Code("E0101");
pub const UNTERMINATED_STRING: Code = Code("E0102");
pub const UNTERMINATED_COMMENT: Code = Code("E0103");
pub const UNKNOWN_ESCAPE: Code = Code("E0104");
pub const INVALID_NUMBER: Code = Code("E0105");
pub const INVALID_DURATION: Code = Code("E0106");
pub const UNTERMINATED_INTERPOLATION: Code = Code("E0107");
pub const INVALID_UNICODE_ESCAPE: Code = Code("E0108");
pub const EMPTY_INTERPOLATION: Code = Code("E0109");

pub const UNEXPECTED_TOKEN: Code = Code("E0201");
pub const UNCLOSED_DELIMITER: Code = Code("E0202");
pub const UNMATCHED_DELIMITER: Code = Code("E0203");
pub const NESTING_TOO_DEEP: Code = Code("E0204");
pub const UNKNOWN_HTTP_METHOD: Code = Code("E0205");
pub const UNKNOWN_TRIGGER: Code = Code("E0206");
pub const EXPECTED_DECLARATION: Code = Code("E0207");
pub const KEYWORD_AS_NAME: Code = Code("E0208");
pub const CHAINED_COMPARISON: Code = Code("E0209");
pub const INVALID_SET_TARGET: Code = Code("E0210");
pub const INTERPOLATION_NOT_ALLOWED: Code = Code("E0211");
pub const MISPLACED_TRIGGER: Code = Code("E0212");

/// Every code this module can produce, for the registry test.
#[cfg_attr(not(test), allow(dead_code))]
pub const ALL: &[Code] = &[
    UNEXPECTED_CHARACTER,
    UNTERMINATED_STRING,
    UNTERMINATED_COMMENT,
    UNKNOWN_ESCAPE,
    INVALID_NUMBER,
    INVALID_DURATION,
    UNTERMINATED_INTERPOLATION,
    INVALID_UNICODE_ESCAPE,
    EMPTY_INTERPOLATION,
    UNEXPECTED_TOKEN,
    UNCLOSED_DELIMITER,
    UNMATCHED_DELIMITER,
    NESTING_TOO_DEEP,
    UNKNOWN_HTTP_METHOD,
    UNKNOWN_TRIGGER,
    EXPECTED_DECLARATION,
    KEYWORD_AS_NAME,
    CHAINED_COMPARISON,
    INVALID_SET_TARGET,
    INTERPOLATION_NOT_ALLOWED,
    MISPLACED_TRIGGER,
];

// ------------------------------------------------------------------ lexical

pub fn unexpected_character(ch: char, span: Span) -> Diagnostic {
    let help = match ch {
        '\'' => Some("strings use double quotes: \"…\""),
        '&' => Some("logical and is `&&`"),
        ';' => Some("statements need no `;`: put the next one on its own line"),
        '#' => Some("comments start with `//`"),
        '`' => Some("strings use double quotes; interpolate with \"${…}\""),
        '$' => Some("`${…}` interpolates only inside a string"),
        _ => None,
    };
    let printable = if ch.is_control() || ch.is_whitespace() {
        format!("{:?}", ch)
    } else {
        format!("`{ch}`")
    };
    let diagnostic = Diagnostic::error(
        UNEXPECTED_CHARACTER,
        format!("unexpected character {printable}"),
        span,
    )
    .with_label("not part of any token");
    match help {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    }
}

pub fn unterminated_string(span: Span) -> Diagnostic {
    Diagnostic::error(UNTERMINATED_STRING, "unterminated string", span)
        .with_label("this string has no closing `\"` on its line")
        .with_help("close the string with `\"`; strings end on the line they start, write `\\n` for a line break")
}

pub fn unterminated_comment(span: Span) -> Diagnostic {
    Diagnostic::error(UNTERMINATED_COMMENT, "unterminated block comment", span)
        .with_label("this `/*` is never closed")
        .with_help("close it with `*/`; block comments nest, so each `/*` needs its own `*/`")
}

pub fn unknown_escape(sequence: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        UNKNOWN_ESCAPE,
        format!("unknown escape sequence `{sequence}`"),
        span,
    )
    .with_label("not an escape Flow knows")
    .with_help(
        "the escapes are \\n \\r \\t \\0 \\\\ \\\" \\$ and \\u{…}; write `\\\\` for a backslash",
    )
}

pub fn integer_too_large(span: Span) -> Diagnostic {
    Diagnostic::error(INVALID_NUMBER, "integer literal is too large", span)
        .with_label("does not fit in a 64-bit signed integer")
        .with_help(
            "integer literals go up to 9223372036854775807; use a float for larger magnitudes",
        )
}

pub fn invalid_number(text: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        INVALID_NUMBER,
        format!("invalid number literal `{text}`"),
        span,
    )
    .with_label("not a number")
    .with_help("write digits, optionally with `_` separators, a `.` fraction and an `e` exponent: `1_000`, `2.5`, `1e-3`")
}

pub fn invalid_duration(text: &str, span: Span) -> Diagnostic {
    let fractional = text.contains('.');
    let unit = text.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_' || c == '.');
    if ["b", "kb", "mb", "gb", "kib", "mib", "gib"].contains(&unit.to_ascii_lowercase().as_str()) {
        // `body_limit: 5MB` is the natural first try: say how sizes are written.
        return Diagnostic::error(
            INVALID_NUMBER,
            format!("invalid number literal `{text}`"),
            span,
        )
        .with_label("numbers have no size units")
        .with_help("write a size in bytes: `5_000_000` for 5 MB, `1_048_576` for 1 MiB");
    }
    let diagnostic =
        Diagnostic::error(INVALID_DURATION, format!("invalid duration `{text}`"), span);
    if fractional {
        diagnostic
            .with_label("durations are whole numbers of a unit")
            .with_help("use a smaller unit: `1500ms` rather than `1.5s`, `90m` rather than `1.5h`")
    } else {
        diagnostic
            .with_label("unknown unit")
            .with_help("the units are `ms`, `s`, `m` (minutes), `h` and `d`: `500ms`, `10s`, `5m`, `24h`, `7d`")
    }
}

pub fn duration_too_large(span: Span) -> Diagnostic {
    Diagnostic::error(INVALID_DURATION, "duration is too large", span)
        .with_label("does not fit in 64-bit milliseconds")
        .with_help(
            "durations are counted in milliseconds and must stay below about 292 million years",
        )
}

pub fn unterminated_interpolation(open: Span) -> Diagnostic {
    Diagnostic::error(
        UNTERMINATED_INTERPOLATION,
        "unterminated interpolation",
        open,
    )
    .with_label("this `${` has no closing `}` on its line")
    .with_help("close the interpolation with `}` before the string ends; to write a literal `${`, escape it as `\\${`")
}

pub fn invalid_unicode_escape(sequence: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        INVALID_UNICODE_ESCAPE,
        format!("invalid unicode escape `{sequence}`"),
        span,
    )
    .with_label("not a Unicode scalar value")
    .with_help("write 1 to 6 hex digits in braces naming a code point, for example `\\u{1F600}`")
}

pub fn empty_interpolation(span: Span) -> Diagnostic {
    Diagnostic::error(EMPTY_INTERPOLATION, "empty interpolation", span)
        .with_label("`${}` holds no expression")
        .with_help("put an expression between the braces, or write `\\${` for a literal `${`")
}

// ------------------------------------------------------------------ syntax

/// "expected `}`, found `step`"; `expected` is already in plain words.
pub fn unexpected_token(expected: &str, found: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        UNEXPECTED_TOKEN,
        format!("expected {expected}, found {found}"),
        span,
    )
    .with_label(format!("expected {expected}"))
}

pub fn unclosed_delimiter(open: char, open_span: Span, end: Span) -> Diagnostic {
    let close = closing(open);
    Diagnostic::error(UNCLOSED_DELIMITER, format!("unclosed `{open}`"), open_span)
        .with_label(format!("this `{open}` is never closed"))
        .with_secondary(end, format!("expected `{close}` by here"))
        .with_help(format!("add the missing `{close}`"))
}

pub fn mismatched_delimiter(open: char, open_span: Span, found: char, span: Span) -> Diagnostic {
    let close = closing(open);
    Diagnostic::error(
        UNMATCHED_DELIMITER,
        format!("mismatched closing delimiter `{found}`"),
        span,
    )
    .with_label(format!("expected `{close}` here"))
    .with_secondary(open_span, format!("to close this `{open}`"))
    .with_help(format!("write `{close}`, or remove the stray `{found}`"))
}

pub fn unmatched_delimiter(found: char, span: Span) -> Diagnostic {
    Diagnostic::error(
        UNMATCHED_DELIMITER,
        format!("unexpected closing delimiter `{found}`"),
        span,
    )
    .with_label("nothing open to close here")
    .with_help(format!(
        "remove this `{found}`, or add the opening bracket it closes"
    ))
}

pub fn nesting_too_deep(limit: usize, span: Span) -> Diagnostic {
    Diagnostic::error(NESTING_TOO_DEEP, "nesting is too deep", span)
        .with_label(format!(
            "more than {limit} levels of brackets, blocks or operators"
        ))
        .with_help("split the expression with `let`, or the logic into a `fn`")
}

pub fn unknown_http_method(method: &str, span: Span) -> Diagnostic {
    let upper = method.to_ascii_uppercase();
    let help = if super::token::HTTP_METHODS.contains(&upper.as_str()) {
        format!("methods are written in upper case: `{upper}`")
    } else {
        "the methods are GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS".to_string()
    };
    Diagnostic::error(
        UNKNOWN_HTTP_METHOD,
        format!("unknown HTTP method `{method}`"),
        span,
    )
    .with_label("not an HTTP method")
    .with_help(help)
}

pub fn unknown_trigger(found: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        UNKNOWN_TRIGGER,
        format!("unknown trigger `{found}`"),
        span,
    )
    .with_label("expected `webhook`, `schedule`, `event` or `manual`")
    .with_help("write `on webhook POST \"/path\"`, `on schedule \"0 * * * *\"`, `on event name` or `on manual`")
}

pub fn expected_declaration(found: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        EXPECTED_DECLARATION,
        format!("expected a declaration, found {found}"),
        span,
    )
    .with_label("not allowed at the top level of a file")
    .with_help("a file holds `import`, `type`, `event`, `connection`, `fn`, `workflow` and `test` declarations; statements go inside a workflow")
}

pub fn keyword_as_name(keyword: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        KEYWORD_AS_NAME,
        format!("`{keyword}` is a keyword and cannot be used as a name"),
        span,
    )
    .with_label("reserved word")
    .with_help(format!(
        "choose another name, such as `{keyword}_` or `my_{keyword}`; keywords are allowed as field names after `.`"
    ))
}

pub fn chained_comparison(span: Span) -> Diagnostic {
    Diagnostic::error(
        CHAINED_COMPARISON,
        "comparison operators cannot be chained",
        span,
    )
    .with_label("two comparisons in a row")
    .with_help("join the comparisons with `&&`: `a < b && b < c`")
}

pub fn invalid_set_target(span: Span) -> Diagnostic {
    Diagnostic::error(
        INVALID_SET_TARGET,
        "`set` can only assign to a top-level key of `context`",
        span,
    )
    .with_label("not a `context` path")
    .with_help("write `set context.key = value` (keys are flat: store a record under one key); other values are named once with `let`")
}

pub fn interpolation_not_allowed(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        INTERPOLATION_NOT_ALLOWED,
        format!("{what} must be a plain string"),
        span,
    )
    .with_label("`${…}` is not allowed here")
    .with_help(format!(
        "{what} is fixed when the file is checked: write it out in full, without interpolation"
    ))
}

pub fn misplaced_trigger(span: Span) -> Diagnostic {
    Diagnostic::error(
        MISPLACED_TRIGGER,
        "a trigger must be at the top level of a workflow body",
        span,
    )
    .with_label("`on` is not allowed here")
    .with_help("move the `on …` line into the workflow's body, outside any block, before its steps")
}

fn closing(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}
