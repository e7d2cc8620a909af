//! Every name-resolution diagnostic (E03xx), built in one place so the wording
//! stays consistent and each code is easy to find from its page.

use crate::diagnostic::{Code, Diagnostic, FileId, Span};

pub const UNKNOWN_NAME: Code = Code("E0301");
pub const UNKNOWN_TYPE: Code = Code("E0302");
pub const DUPLICATE_DEFINITION: Code = Code("E0303");
pub const IMPORT_NOT_FOUND: Code = Code("E0304");
pub const IMPORT_CYCLE: Code = Code("E0305");
pub const STEP_USED_BEFORE_IT_RUNS: Code = Code("E0306");
pub const STEP_NAME_REUSED: Code = Code("E0307");
pub const NAME_ALREADY_BOUND: Code = Code("E0308");
pub const UNKNOWN_CONNECTION: Code = Code("E0309");
pub const UNKNOWN_EVENT: Code = Code("E0310");
pub const UNKNOWN_WORKFLOW: Code = Code("E0311");
pub const RECURSIVE_FUNCTION: Code = Code("E0312");
pub const WEBHOOK_NOT_AVAILABLE: Code = Code("E0313");
pub const HANDLE_AWAITED_TWICE: Code = Code("E0314");
pub const BINDING_NOT_IN_EVERY_ALTERNATIVE: Code = Code("E0315");

/// Every code this module can produce, for the registry test.
pub const ALL: &[Code] = &[
    UNKNOWN_NAME,
    UNKNOWN_TYPE,
    DUPLICATE_DEFINITION,
    IMPORT_NOT_FOUND,
    IMPORT_CYCLE,
    STEP_USED_BEFORE_IT_RUNS,
    STEP_NAME_REUSED,
    NAME_ALREADY_BOUND,
    UNKNOWN_CONNECTION,
    UNKNOWN_EVENT,
    UNKNOWN_WORKFLOW,
    RECURSIVE_FUNCTION,
    WEBHOOK_NOT_AVAILABLE,
    HANDLE_AWAITED_TWICE,
    BINDING_NOT_IN_EVERY_ALTERNATIVE,
];

/// "did you mean `x`?" for the closest of `candidates`, when one is close enough:
/// within a third of the longer name's length in edits (a transposition counts
/// as one), at least one; failing that, a candidate of three or more characters
/// that the name starts with (`lenght` → `len`).
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    let mut prefix: Option<&str> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let distance = edit_distance(name, candidate);
        let limit = (name.chars().count().max(candidate.chars().count()) / 3).max(1);
        if distance <= limit && best.is_none_or(|(known, _)| distance < known) {
            best = Some((distance, candidate));
        }
        if candidate.chars().count() >= 3
            && name.starts_with(candidate)
            && prefix.is_none_or(|known| candidate.len() > known.len())
        {
            prefix = Some(candidate);
        }
    }
    best.map(|(_, candidate)| candidate)
        .or(prefix)
        .map(str::to_string)
}

/// The edit distance between two strings, by characters: insertions, deletions,
/// substitutions and transpositions of neighbours (optimal string alignment).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: the distance between the first i of `a` and the first j of `b`.
    let mut rows: Vec<Vec<usize>> = (0..=a.len())
        .map(|i| (0..=b.len()).map(|j| if i == 0 { j } else { i }).collect())
        .collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut value = (rows[i - 1][j - 1] + cost)
                .min(rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                value = value.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = value;
        }
    }
    rows[a.len()][b.len()]
}

fn with_suggestion(
    diagnostic: Diagnostic,
    suggestion: Option<String>,
    fallback: &str,
) -> Diagnostic {
    match suggestion {
        // Every caller's primary span is the unknown name itself.
        Some(name) => {
            let span = diagnostic.span();
            diagnostic
                .with_help(format!("did you mean `{name}`?"))
                .with_suggestion(span, name.clone(), format!("replace with `{name}`"))
        }
        None => diagnostic.with_help(fallback.to_string()),
    }
}

pub fn unknown_name(name: &str, span: Span, suggestion: Option<String>) -> Diagnostic {
    with_suggestion(
        Diagnostic::error(UNKNOWN_NAME, format!("unknown name `{name}`"), span)
            .with_label("not defined here"),
        suggestion,
        "declare it with `let`, bind it with `step`, or pass it as a parameter",
    )
}

pub fn unknown_function(name: &str, span: Span, suggestion: Option<String>) -> Diagnostic {
    with_suggestion(
        Diagnostic::error(UNKNOWN_NAME, format!("unknown function `{name}`"), span)
            .with_label("no `fn` or standard library function has this name"),
        suggestion,
        "declare it with `fn`, or see the standard library in SPEC.md §11",
    )
}

pub fn unknown_type(name: &str, span: Span, suggestion: Option<String>) -> Diagnostic {
    with_suggestion(
        Diagnostic::error(UNKNOWN_TYPE, format!("unknown type `{name}`"), span)
            .with_label("no type has this name"),
        suggestion,
        "declare it with `type Name = …`, or import the file that does",
    )
}

pub fn duplicate_definition(
    kind: &str,
    name: &str,
    span: Span,
    first: (Option<FileId>, Span),
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        DUPLICATE_DEFINITION,
        format!("the {kind} `{name}` is defined twice"),
        span,
    )
    .with_label("defined again here")
    .with_help("rename one of them; names are declared once per project");
    match first {
        (Some(file), first) => diagnostic.with_secondary_in(file, first, "first defined here"),
        (None, first) => diagnostic.with_secondary(first, "first defined here"),
    }
}

pub fn import_not_found(path: &str, span: Span, reason: &str) -> Diagnostic {
    Diagnostic::error(
        IMPORT_NOT_FOUND,
        format!("cannot import `{path}`: {reason}"),
        span,
    )
    .with_label("imported here")
    .with_help("import paths are relative to the importing file, such as \"./types.flow\"")
}

pub fn import_cycle(path: &str, span: Span, chain: &[String]) -> Diagnostic {
    Diagnostic::error(
        IMPORT_CYCLE,
        format!("importing `{path}` makes an import cycle"),
        span,
    )
    .with_label("this import leads back to this file")
    .with_note(format!("the cycle: {}", chain.join(" → ")))
    .with_help("move the shared declarations into a file that both import")
}

pub fn step_used_before_it_runs(name: &str, span: Span, step: Span) -> Diagnostic {
    Diagnostic::error(
        STEP_USED_BEFORE_IT_RUNS,
        format!("`{name}` is used before it runs"),
        span,
    )
    .with_label("used here")
    .with_secondary(step, "bound here, later or in another branch")
    .with_help("move this use after the statement that binds it, outside its block")
}

pub fn step_name_reused(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        STEP_NAME_REUSED,
        format!("the step name `{name}` is used twice in this workflow"),
        span,
    )
    .with_label("used again here")
    .with_secondary(first, "first used here")
    .with_help("give each step its own name: step names are the keys of the run's journal")
}

pub fn name_already_bound(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        NAME_ALREADY_BOUND,
        format!("`{name}` is already bound"),
        span,
    )
    .with_label("bound again here")
    .with_secondary(first, "first bound here")
    .with_help("names are bound once; choose another name")
}

pub fn unknown_connection(name: &str, span: Span, suggestion: Option<String>) -> Diagnostic {
    with_suggestion(
        Diagnostic::error(
            UNKNOWN_CONNECTION,
            format!("unknown connection `{name}`"),
            span,
        )
        .with_label("no connection has this name"),
        suggestion,
        "declare it with `connection NAME { base_url: … }`, or write a whole URL",
    )
}

pub fn unknown_event(name: &str, span: Span, suggestion: Option<String>) -> Diagnostic {
    with_suggestion(
        Diagnostic::error(UNKNOWN_EVENT, format!("unknown event `{name}`"), span)
            .with_label("no event has this name"),
        suggestion,
        "declare it with `event NAME = Type`",
    )
}

pub fn unknown_workflow(name: &str, span: Span, suggestion: Option<String>) -> Diagnostic {
    with_suggestion(
        Diagnostic::error(UNKNOWN_WORKFLOW, format!("unknown workflow `{name}`"), span)
            .with_label("no workflow has this name"),
        suggestion,
        "declare it with `workflow NAME(…) { … }`, or import the file that does",
    )
}

/// `chain` is the cycle of calls from `name` back to it.
pub fn recursive_function(name: &str, span: Span, chain: &[String]) -> Diagnostic {
    let through: Vec<String> = chain
        .get(1..chain.len().saturating_sub(1))
        .unwrap_or_default()
        .iter()
        .map(|name| format!("`{name}`"))
        .collect();
    let message = match through.as_slice() {
        [] => format!("the function `{name}` calls itself"),
        _ => format!(
            "the function `{name}` calls itself through {}",
            through.join(", ")
        ),
    };
    Diagnostic::error(RECURSIVE_FUNCTION, message, span)
        .with_label("recursive call here")
        .with_note(format!("the calls: {}", chain.join(" → ")))
        .with_help("expressions must terminate: write the loop with `map`, `filter` or `sum`")
}

pub fn webhook_not_available(span: Span) -> Diagnostic {
    Diagnostic::error(
        WEBHOOK_NOT_AVAILABLE,
        "`webhook` is used in a workflow without a webhook trigger",
        span,
    )
    .with_label("no request started this run")
    .with_help("add `on webhook METHOD \"/path\"`, or read the value from the input")
}

pub fn webhook_outside_workflow(span: Span) -> Diagnostic {
    Diagnostic::error(
        WEBHOOK_NOT_AVAILABLE,
        "`webhook` is only available in workflows",
        span,
    )
    .with_label("no request is visible here")
    .with_help("pass what you need from the request as a parameter")
}

pub fn handle_awaited_twice(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        HANDLE_AWAITED_TWICE,
        format!("the handle `{name}` is awaited twice"),
        span,
    )
    .with_label("awaited again here")
    .with_secondary(first, "first awaited here")
    .with_help("a callback or approval resumes a run once: use the first await's result")
}

pub fn handle_awaited_in_loop(name: &str, span: Span, handle: Span) -> Diagnostic {
    Diagnostic::error(
        HANDLE_AWAITED_TWICE,
        format!("the handle `{name}` is awaited in a loop, once per element"),
        span,
    )
    .with_label("awaited on every iteration")
    .with_secondary(handle, "made once, outside the loop")
    .with_help(
        "a callback or approval resumes a run once: await it before the loop, or make \
         one handle per element inside the loop",
    )
}

pub fn binding_not_in_every_alternative(name: &str, span: Span, alternative: Span) -> Diagnostic {
    Diagnostic::error(
        BINDING_NOT_IN_EVERY_ALTERNATIVE,
        format!("`{name}` is not bound in every alternative of this pattern"),
        span,
    )
    .with_label("bound here")
    .with_secondary(
        alternative,
        format!("this alternative does not bind `{name}`"),
    )
    .with_help(
        "bind the same names in every alternative, or give the alternatives arms of \
         their own",
    )
}
