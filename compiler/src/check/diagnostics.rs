//! Every type (E04xx), project (E05xx) and warning (W04xx) diagnostic of the
//! checker, built in one place so the wording stays consistent.
//!
//! Warnings have codes of their own, `W` + four digits, so that `flowc explain`
//! and CI filters can tell them from errors at a glance.

use crate::diagnostic::{Code, Diagnostic, FileId, Span};
use crate::ty::Ty;

pub const MISMATCHED_TYPES: Code = Code("E0401");
pub const UNKNOWN_FIELD: Code = Code("E0402");
pub const MISSING_FIELD: Code = Code("E0403");
pub const EXTRA_FIELD: Code = Code("E0404");
pub const NULLABLE_ACCESS: Code = Code("E0405");
pub const INVALID_OPERANDS: Code = Code("E0406");
pub const WRONG_ARGUMENTS: Code = Code("E0407");
pub const MISPLACED_LAMBDA: Code = Code("E0408");
pub const JSON_NEEDS_CONVERSION: Code = Code("E0409");
pub const SECRET_LEAK: Code = Code("E0410");
pub const RETURN_MISMATCH: Code = Code("E0411");
pub const NOT_A_HANDLE: Code = Code("E0412");
pub const AWAIT_WITHOUT_TIMEOUT: Code = Code("E0413");
pub const INVALID_RETRY: Code = Code("E0414");
pub const INVALID_CRON: Code = Code("E0415");
pub const UNKNOWN_TIME_ZONE: Code = Code("E0416");
pub const NON_EXHAUSTIVE_MATCH: Code = Code("E0417");
pub const UNKNOWN_OPTION: Code = Code("E0418");
pub const MISSING_OPTION: Code = Code("E0419");
pub const UNKNOWN_FORM: Code = Code("E0420");
pub const TRIGGER_INPUT: Code = Code("E0421");
pub const MISPLACED_STATEMENT: Code = Code("E0422");
pub const NOT_CONSTANT: Code = Code("E0423");
pub const DUPLICATE_OPTION: Code = Code("E0424");
pub const OUT_OF_RANGE: Code = Code("E0425");

pub const WEBHOOK_CLAIMED_TWICE: Code = Code("E0501");
pub const BOUND_EXCEEDS_TIMEOUT: Code = Code("E0502");

pub const UNUSED: Code = Code("W0401");
pub const UNREACHABLE_CODE: Code = Code("W0402");
pub const UNREACHABLE_ARM: Code = Code("W0403");
pub const UNINDEXED_WAIT: Code = Code("W0404");

/// Every code this module can produce, for the registry test.
pub const ALL: &[Code] = &[
    MISMATCHED_TYPES,
    UNKNOWN_FIELD,
    MISSING_FIELD,
    EXTRA_FIELD,
    NULLABLE_ACCESS,
    INVALID_OPERANDS,
    WRONG_ARGUMENTS,
    MISPLACED_LAMBDA,
    JSON_NEEDS_CONVERSION,
    SECRET_LEAK,
    RETURN_MISMATCH,
    NOT_A_HANDLE,
    AWAIT_WITHOUT_TIMEOUT,
    INVALID_RETRY,
    INVALID_CRON,
    UNKNOWN_TIME_ZONE,
    NON_EXHAUSTIVE_MATCH,
    UNKNOWN_OPTION,
    MISSING_OPTION,
    UNKNOWN_FORM,
    TRIGGER_INPUT,
    MISPLACED_STATEMENT,
    NOT_CONSTANT,
    DUPLICATE_OPTION,
    OUT_OF_RANGE,
    WEBHOOK_CLAIMED_TWICE,
    BOUND_EXCEEDS_TIMEOUT,
    UNUSED,
    UNREACHABLE_CODE,
    UNREACHABLE_ARM,
    UNINDEXED_WAIT,
];

/// Where a secret may go, for every secret diagnostic.
const SECRET_HELP: &str = "secrets may go only into `auth:` forms, header values, \
     verification keys and OAuth2 client secrets";

pub fn mismatched_types(expected: &Ty, found: &Ty, span: Span) -> Diagnostic {
    Diagnostic::error(
        MISMATCHED_TYPES,
        format!("expected `{expected}`, found `{found}`"),
        span,
    )
    .with_label(format!("this is `{found}`"))
    .with_help(format!("write a value of type `{expected}` here"))
}

pub fn mismatched_in(what: &str, expected: &Ty, found: &Ty, span: Span) -> Diagnostic {
    Diagnostic::error(
        MISMATCHED_TYPES,
        format!("{what}: expected `{expected}`, found `{found}`"),
        span,
    )
    .with_label(format!("this is `{found}`"))
    .with_help(format!("write a value of type `{expected}` here"))
}

/// Values that must have one type do not: the one at `span` is not like those
/// before it, whose join is `expected`; `first` is the first of them.
pub fn mismatched_values(
    what: &str,
    expected: &Ty,
    found: &Ty,
    span: Span,
    first: (&str, &Ty, Span),
) -> Diagnostic {
    let (first_label, first_ty, first_span) = first;
    Diagnostic::error(
        MISMATCHED_TYPES,
        format!("{what} must have one type: expected `{expected}`, found `{found}`"),
        span,
    )
    .with_label(format!("this is `{found}`"))
    .with_secondary(first_span, format!("{first_label} is `{first_ty}`"))
    .with_help(
        "make them agree: literals of one type, `int` with `float`, and a type with \
         `null` combine; for anything else, declare the type you mean (such as `json`)",
    )
}

pub fn unknown_field(name: &str, ty: &Ty, span: Span, suggestion: Option<String>) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        UNKNOWN_FIELD,
        format!("no field `{name}` on type `{ty}`"),
        span,
    )
    .with_label("unknown field");
    match suggestion {
        Some(name) => did_you_mean(diagnostic, span, &name),
        None => diagnostic.with_help(format!("the fields of this value are those of `{ty}`")),
    }
}

/// `optional` is the type to suggest after `name?:`: the field's type without
/// `null`, since an absent field already reads as `null`.
pub fn missing_field(name: &str, ty: &Ty, optional: &Ty, span: Span) -> Diagnostic {
    Diagnostic::error(
        MISSING_FIELD,
        format!("missing field `{name}` of type `{ty}`"),
        span,
    )
    .with_label(format!("this record has no `{name}`"))
    .with_help(format!(
        "add `{name}: …`, or mark the field optional in its type (`{name}?: {optional}`)"
    ))
}

pub fn extra_field(
    name: &str,
    expected: &Ty,
    span: Span,
    suggestion: Option<String>,
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        EXTRA_FIELD,
        format!("field `{name}` is not part of `{expected}`"),
        span,
    )
    .with_label("unexpected field");
    match suggestion {
        Some(name) => did_you_mean(diagnostic, span, &name),
        None => diagnostic.with_help("remove it, or add it to the record type"),
    }
}

pub fn context_as_value(span: Span) -> Diagnostic {
    Diagnostic::error(
        MISMATCHED_TYPES,
        "`context` is not a value: it is a store, read one key at a time",
        span,
    )
    .with_label("the whole store")
    .with_help("read the key you need, as `context.key` (a `json` value)")
}

pub fn nullable_access(ty: &Ty, span: Span) -> Diagnostic {
    Diagnostic::error(
        NULLABLE_ACCESS,
        format!("this value may be null (`{ty}`)"),
        span,
    )
    .with_label("may be null")
    .with_help("use `?.` to read through a null, or give a default with `??`")
}

pub fn invalid_operands(op: &str, lhs: &Ty, rhs: &Ty, span: Span) -> Diagnostic {
    Diagnostic::error(
        INVALID_OPERANDS,
        format!("`{op}` cannot be applied to `{lhs}` and `{rhs}`"),
        span,
    )
    .with_label("invalid operands")
    .with_help("see SPEC.md §8.8 for the types each operator takes")
}

pub fn invalid_operand(op: &str, operand: &Ty, span: Span) -> Diagnostic {
    Diagnostic::error(
        INVALID_OPERANDS,
        format!("`{op}` cannot be applied to `{operand}`"),
        span,
    )
    .with_label("invalid operand")
    .with_help("see SPEC.md §8.8 for the types each operator takes")
}

pub fn cannot_index(ty: &Ty, span: Span) -> Diagnostic {
    Diagnostic::error(
        INVALID_OPERANDS,
        format!("a value of type `{ty}` cannot be indexed"),
        span,
    )
    .with_label("not a list, map or json value")
    .with_help("index lists with an `int`, maps and `json` with a `string`")
}

pub fn wrong_arguments(what: &str, message: &str, span: Span, signature: &str) -> Diagnostic {
    Diagnostic::error(WRONG_ARGUMENTS, format!("{what}: {message}"), span)
        .with_label("in this call")
        .with_help(format!("the signature is `{signature}`"))
}

pub fn misplaced_lambda(span: Span) -> Diagnostic {
    Diagnostic::error(
        MISPLACED_LAMBDA,
        "a lambda can only be passed to a function that takes one",
        span,
    )
    .with_label("not an argument of `map`, `filter`, `any`, `all` or `sort_by`")
    .with_help("pass it to a function, as in `xs.map(x => x.price)`")
}

pub fn lambda_arity(expected: usize, found: usize, span: Span) -> Diagnostic {
    Diagnostic::error(
        MISPLACED_LAMBDA,
        format!("this lambda takes {found} parameters, but {expected} are given to it"),
        span,
    )
    .with_label("wrong number of parameters")
    .with_help(format!(
        "write a lambda of {expected} parameter(s), as in `x => …`"
    ))
}

pub fn json_needs_conversion(expected: &Ty, span: Span) -> Diagnostic {
    Diagnostic::error(
        JSON_NEEDS_CONVERSION,
        format!("expected `{expected}`, found `json`"),
        span,
    )
    .with_label("a `json` value has no static type")
    .with_help(format!(
        "convert it explicitly: `(…) as {expected}`, checked at run time"
    ))
}

pub fn secret_leak(place: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        SECRET_LEAK,
        format!("a secret cannot be used {place}"),
        span,
    )
    .with_label("this holds a secret")
    .with_note("secrets must never reach the run history, which records every value")
    .with_help(SECRET_HELP)
}

pub fn return_without_result(span: Span) -> Diagnostic {
    Diagnostic::error(
        RETURN_MISMATCH,
        "`return` with a value in a workflow without a result type",
        span,
    )
    .with_label("this value has nowhere to go")
    .with_help("declare the result type: `workflow name(…) -> T { … }`")
}

pub fn return_without_value(expected: &Ty, span: Span) -> Diagnostic {
    Diagnostic::error(
        RETURN_MISMATCH,
        format!("`return` without a value in a workflow that returns `{expected}`"),
        span,
    )
    .with_label("a value is needed")
    .with_help(format!("return a value of type `{expected}`"))
}

pub fn not_a_handle(name: &str, ty: &Ty, span: Span) -> Diagnostic {
    Diagnostic::error(
        NOT_A_HANDLE,
        format!("`{name}` is not a callback or approval handle (it is `{ty}`)"),
        span,
    )
    .with_label("cannot be awaited")
    .with_help("make a handle first: `let h = callback(timeout: 1h)` or `approval(…)`")
}

pub fn await_without_timeout(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        AWAIT_WITHOUT_TIMEOUT,
        format!("{} {what} needs a `timeout`", article(what)),
        span,
    )
    .with_label("no timeout")
    .with_help(format!(
        "add one, as in `{what}(timeout: 24h)`: nobody may ever answer"
    ))
}

pub fn invalid_retry(message: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        INVALID_RETRY,
        format!("invalid retry policy: {message}"),
        span,
    )
    .with_label("here")
    .with_help(
        "write `exponential(attempts: 3, initial: 1s, max: 10s)`: attempts ≥ 1, initial ≤ max",
    )
}

pub fn invalid_cron(message: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        INVALID_CRON,
        format!("invalid cron expression: {message}"),
        span,
    )
    .with_label("this schedule")
    .with_help("five fields: minute hour day-of-month month day-of-week, as in \"0 9 * * MON-FRI\"")
}

pub fn unknown_time_zone(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        UNKNOWN_TIME_ZONE,
        format!("unknown time zone `{name}`"),
        span,
    )
    .with_label("not an IANA time zone")
    .with_help("write an IANA name such as \"Europe/Lisbon\" or \"America/Sao_Paulo\"")
}

pub fn non_exhaustive_match(missing: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        NON_EXHAUSTIVE_MATCH,
        format!("this `match` does not cover {missing}"),
        span,
    )
    .with_label("not every value has an arm")
    .with_help("add an arm for each missing value, or a last arm `_ => …`")
}

/// "a" or "an", by the sound of the word's first letter.
fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

pub fn unknown_option(
    what: &str,
    name: &str,
    span: Span,
    known: &[&str],
    suggestion: Option<String>,
) -> Diagnostic {
    unknown_option_of(what, None, name, span, known, suggestion)
}

/// An unknown option `name` of `owner`, as in "unknown field `scheme` of `bearer`".
pub fn unknown_option_of(
    what: &str,
    owner: Option<&str>,
    name: &str,
    span: Span,
    known: &[&str],
    suggestion: Option<String>,
) -> Diagnostic {
    let of = owner
        .map(|owner| format!(" of {owner}"))
        .unwrap_or_default();
    let diagnostic =
        Diagnostic::error(UNKNOWN_OPTION, format!("unknown {what} `{name}`{of}"), span)
            .with_label("not recognised here");
    match suggestion {
        // The span covers `name: value`; only the name is replaced.
        Some(suggestion) if name_starts(span, name) => {
            let name_span = Span {
                start: span.start,
                end: span
                    .start
                    .saturating_add(u32::try_from(name.len()).unwrap_or(0)),
            };
            did_you_mean(diagnostic, name_span, &suggestion)
        }
        Some(name) => diagnostic.with_help(format!("did you mean `{name}`?")),
        None => diagnostic.with_help(format!("the options here are: {}", known.join(", "))),
    }
}

/// Options written without a name where only named ones are taken.
pub fn positional_option(owner: &str, what: &str, span: Span, known: &[&str]) -> Diagnostic {
    Diagnostic::error(
        UNKNOWN_OPTION,
        format!("{owner} takes no positional {what}"),
        span,
    )
    .with_label("not named")
    .with_help(format!(
        "name it: the {what} here are {}",
        known
            .iter()
            .map(|name| format!("`{name}: …`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// One of several options is needed, as `header` or `query` of `api_key`.
pub fn missing_one_of(what: &str, names: &[&str], span: Span) -> Diagnostic {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    let either = quoted.join(" or ");
    let written: Vec<String> = names.iter().map(|name| format!("`{name}: …`")).collect();
    Diagnostic::error(MISSING_OPTION, format!("{what} needs {either}"), span)
        .with_label(format!("no {either} here"))
        .with_help(format!("add {}", written.join(" or ")))
}

pub fn missing_option(what: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(MISSING_OPTION, format!("{what} needs `{name}`"), span)
        .with_label(format!("no `{name}` here"))
        .with_help(format!("add `{name}: …`"))
}

/// `name` is the text written, when it is short enough to quote.
pub fn unknown_form(
    kind: &str,
    name: Option<&str>,
    span: Span,
    known: &[&str],
    suggestion: Option<String>,
) -> Diagnostic {
    let message = match name {
        Some(name) => format!("`{name}` is not {kind}"),
        None => format!("this value is not {kind}"),
    };
    let diagnostic = Diagnostic::error(UNKNOWN_FORM, message, span).with_label("unknown form");
    let written = name.map_or(0, str::len);
    match suggestion {
        // Only a span that is exactly the written name can be replaced by another.
        Some(suggestion) if written > 0 && span.len() == written => {
            did_you_mean(diagnostic, span, &suggestion)
        }
        Some(name) => diagnostic.with_help(format!("did you mean `{name}`?")),
        None => diagnostic.with_help(format!("write one of: {}", known.join(", "))),
    }
}

pub fn trigger_input(message: &str, span: Span, help: &str) -> Diagnostic {
    Diagnostic::error(TRIGGER_INPUT, message.to_string(), span)
        .with_label("this trigger")
        .with_help(help.to_string())
}

pub fn misplaced_statement(what: &str, place: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        MISPLACED_STATEMENT,
        format!("`{what}` is only allowed {place}"),
        span,
    )
    .with_label("not allowed here")
    .with_help(format!("move it {place}, or remove it"))
}

pub fn not_constant(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(NOT_CONSTANT, format!("{what} must be a constant"), span)
        .with_label("computed value")
        .with_help("write a literal, such as `30s` or `5`: it is known when the program is checked")
}

pub fn out_of_range(what: &str, min: i64, found: i64, span: Span) -> Diagnostic {
    Diagnostic::error(
        OUT_OF_RANGE,
        format!("{what} must be at least {min}, found {found}"),
        span,
    )
    .with_label("out of range")
    .with_help(format!("write a value of {min} or more"))
}

/// A duration that must be longer than zero; `found` in milliseconds.
pub fn duration_out_of_range(what: &str, found: i64, span: Span) -> Diagnostic {
    let found = crate::value::format_duration(found);
    Diagnostic::error(
        OUT_OF_RANGE,
        format!("{what} must be longer than zero, found {found}"),
        span,
    )
    .with_label("out of range")
    .with_help("write a duration of 1ms or more")
}

pub fn duplicate_option(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(DUPLICATE_OPTION, format!("`{name}` is given twice"), span)
        .with_label("given again here")
        .with_secondary(first, "first given here")
        .with_help("keep one of them")
}

pub fn conflicting_options(first: &str, second: &str, span: Span, other: Span) -> Diagnostic {
    Diagnostic::error(
        DUPLICATE_OPTION,
        format!("`{second}` cannot be given with `{first}`"),
        span,
    )
    .with_label("conflicts")
    .with_secondary(other, format!("`{first}` is here"))
    .with_help("a request has one body: keep `json` or `body`")
}

pub fn webhook_claimed_twice(
    method: &str,
    path: &str,
    span: Span,
    first: (Option<FileId>, Span),
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        WEBHOOK_CLAIMED_TWICE,
        format!("`{method} {path}` is claimed twice"),
        span,
    )
    .with_label("claimed again here")
    .with_help("give each webhook its own path; one request starts one workflow");
    match first {
        (Some(file), first) => diagnostic.with_secondary_in(file, first, "first claimed here"),
        (None, first) => diagnostic.with_secondary(first, "first claimed here"),
    }
}

pub fn bound_exceeds_timeout(
    workflow: &str,
    bound: &str,
    timeout: &str,
    span: Span,
    setting: Span,
) -> Diagnostic {
    Diagnostic::error(
        BOUND_EXCEEDS_TIMEOUT,
        format!(
            "a run of `{workflow}` can take up to {bound}, longer than its timeout of {timeout}"
        ),
        span,
    )
    .with_label("this workflow")
    .with_secondary(setting, "the timeout")
    .with_help("raise `settings.timeout`, or shorten the waits, timeouts and retries")
}

pub fn unused(what: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(UNUSED, format!("unused {what} `{name}`"), span)
        .with_label("never read")
        .with_help("use it, or remove it (a name starting with `_` is not reported)")
}

pub fn unreachable_code(span: Span, end: Span) -> Diagnostic {
    Diagnostic::warning(UNREACHABLE_CODE, "unreachable code", span)
        .with_label("never runs")
        .with_secondary(end, "the run ends here")
        .with_help("remove it, or move it before the `return` or `fail`")
}

pub fn unreachable_arm(span: Span) -> Diagnostic {
    Diagnostic::warning(UNREACHABLE_ARM, "unreachable match arm", span)
        .with_label("earlier arms already match every value this one would")
        .with_help("remove this arm, or move it before the arm that covers it")
}

/// An `await event` or `await webhook` predicate without a correlation key (see
/// `crate::correlate`); `name` is the message's name.
pub fn unindexed_wait(name: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        UNINDEXED_WAIT,
        format!("this predicate has no equality on a field of `{name}`"),
        span,
    )
    .with_label("every message is tested against every waiting run")
    .with_help(format!(
        "compare a field of `{name}` with `==` to index the wait, as in \
         `{name}.id == order.id && …`"
    ))
}

/// "did you mean `name`?" as help, with the fix that writes `name` over `span`.
fn did_you_mean(diagnostic: Diagnostic, span: Span, name: &str) -> Diagnostic {
    diagnostic
        .with_help(format!("did you mean `{name}`?"))
        .with_suggestion(span, name, format!("replace with `{name}`"))
}

/// Whether `span` is long enough to start with `name` (an option's `name: value`).
fn name_starts(span: Span, name: &str) -> bool {
    !name.is_empty() && span.len() >= name.len()
}
