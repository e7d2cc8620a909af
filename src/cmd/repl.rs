//! `flowc repl`: evaluate Flow expressions one at a time, against an input document
//! and the declarations of `.flow` files, with line editing, history and completion.
//!
//! The REPL is a thin loop around [`Session`], the same evaluation context `flowc
//! eval` uses, so a result or a diagnostic reads the same in both. What is particular
//! to it is the reading of entries: on a terminal, rustyline edits lines, keeps a
//! history file and asks [`Helper`] for completions and for whether an entry is
//! finished (brackets or a string still open, seen through the compiler's lexer);
//! from a pipe or a file, lines are read plainly, without prompts or escape codes,
//! so a session can be scripted. Both feed [`Repl::entry`].

use super::eval::{Session, render_diagnostics};
use super::{Exit, error, io_message};
use flowc_compiler::Diagnostic;
use flowc_compiler::diagnostic::Span;
use flowc_compiler::syntax::{self, Token};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::{DefaultHistory, History};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{CompletionType, Config, Context, Editor};
use std::cell::RefCell;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub const AFTER_HELP: &str = "\
Examples:
  flowc repl                              an empty session
  flowc repl examples/order_events.flow   with the file's types and functions in scope
  flowc repl --input order.json           with the document bound to `input`
  printf '1 + 2\\n:quit\\n' | flowc repl    scripted: prints `3 : int`

Commands inside the REPL (`:help` lists them):
  EXPR                 evaluate and print `value : type`
  :type EXPR           the type of EXPR, without evaluating it
  :let NAME = EXPR     bind a variable for the later entries
  :vars                the variables in scope
  :load FILE.flow      bring a file's types, functions and connections into scope
  :input FILE.json     bind a JSON document to `input`
  :help, :quit         (Ctrl-D quits too)

An entry goes on over several lines while a bracket or a string is open; an empty
line ends it as it is. History is kept in $XDG_STATE_HOME/flowc/history
(~/.local/state/flowc/history when XDG_STATE_HOME is not set).";

#[derive(clap::Args)]
pub struct Args {
    /// A .flow file whose types, functions and connections come into scope.
    #[arg(value_name = "FILE.flow")]
    file: Option<PathBuf>,

    /// A JSON document to bind to `input`; its type is inferred from the document.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    let mut session = Session::new();
    if let Some(path) = &args.file {
        match session.load(path) {
            Ok(true) => {}
            Ok(false) => return Ok(Exit::Diagnostics),
            Err(err) => {
                error(format_args!("{err:#}"));
                return Ok(Exit::Failure);
            }
        }
    }
    if args
        .input
        .as_ref()
        .is_some_and(|path| path.as_os_str() == "-")
    {
        error("the REPL reads its entries from standard input; give --input a file");
        return Ok(Exit::Failure);
    }
    if let Some(path) = &args.input
        && let Err(err) = session.read_input(path)
    {
        error(format_args!("{err:#}"));
        return Ok(Exit::Failure);
    }
    let repl = Repl {
        session: Rc::new(RefCell::new(session)),
    };
    if io::stdin().is_terminal() && io::stdout().is_terminal() {
        repl.interactive()
    } else {
        repl.scripted()
    }
}

/// The commands, as `:help` lists them and completion offers them.
const COMMANDS: &[(&str, &str)] = &[
    (
        ":type",
        ":type EXPR          the type of EXPR, without evaluating it",
    ),
    (
        ":let",
        ":let NAME = EXPR    bind NAME for the entries that follow",
    ),
    (
        ":vars",
        ":vars               the variables in scope, with their types",
    ),
    (
        ":load",
        ":load FILE.flow     bring the file's types, functions and connections into scope",
    ),
    (":input", ":input FILE.json    bind the document to `input`"),
    (":help", ":help               this list"),
    (":quit", ":quit               leave (Ctrl-D does too)"),
];

const HELP: &str = "\
Type an expression to evaluate it; the result is printed as `value : type`.
An entry goes on over several lines while a bracket or a string is open; an empty
line ends it as it is. Tab completes names, fields, functions and commands.";

struct Repl {
    /// Shared with the line editor's [`Helper`], which reads it to complete names.
    session: Rc<RefCell<Session>>,
}

/// Whether the loop goes on after an entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// Where results and messages go: standard output for results, standard error for
/// diagnostics and errors, as everywhere in flowc.
impl Repl {
    /// Reads entries from a terminal through rustyline.
    fn interactive(&self) -> anyhow::Result<Exit> {
        let config = Config::builder()
            .max_history_size(1000)?
            .history_ignore_dups(true)?
            .history_ignore_space(true)
            .completion_type(CompletionType::List)
            .auto_add_history(false)
            .build();
        let mut editor: Editor<Helper, DefaultHistory> = Editor::with_config(config)?;
        editor.set_helper(Some(Helper {
            session: Rc::clone(&self.session),
            files: FilenameCompleter::new(),
        }));
        let history = history_path();
        if let Some(path) = &history {
            // A first session has no history yet; any other failure only loses
            // the recall of earlier entries.
            let _ = editor.load_history(path);
        }
        println!(
            "flowc {} — :help for commands, Ctrl-D to leave",
            env!("CARGO_PKG_VERSION")
        );
        loop {
            match editor.readline("flow> ") {
                Ok(entry) => {
                    if !entry.trim().is_empty() {
                        let _ = editor.add_history_entry(entry.as_str());
                        if let Some(path) = &history {
                            save_history(editor.history_mut(), path);
                        }
                    }
                    if self.entry(&entry) == Flow::Quit {
                        break;
                    }
                }
                // Ctrl-C abandons the entry being typed, as in a shell.
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(err) => return Err(err.into()),
            }
        }
        Ok(Exit::Success)
    }

    /// Reads entries line by line from a pipe or a file: no prompt, no editing, no
    /// history, so the output holds results and nothing else.
    fn scripted(&self) -> anyhow::Result<Exit> {
        let stdin = io::stdin();
        let mut entry = String::new();
        for line in stdin.lock().lines() {
            let line = line.map_err(|err| {
                anyhow::anyhow!("cannot read standard input: {}", io_message(&err))
            })?;
            let blank = line.trim().is_empty();
            if !entry.is_empty() {
                entry.push('\n');
            }
            entry.push_str(&line);
            // An empty line ends an unfinished entry as it is, as on a terminal.
            if needs_more(&entry) && !blank {
                continue;
            }
            let flow = self.entry(&entry);
            entry.clear();
            if flow == Flow::Quit {
                return Ok(Exit::Success);
            }
        }
        if !entry.trim().is_empty() {
            self.entry(&entry);
        }
        Ok(Exit::Success)
    }

    /// Runs one entry: a command or an expression.
    fn entry(&self, entry: &str) -> Flow {
        let trimmed = entry.trim();
        if trimmed.is_empty() {
            return Flow::Continue;
        }
        let result = match parse_command(entry) {
            Some(command) => self.command(entry, command),
            None => self.expression(entry, Span::new(0, entry.len())),
        };
        // A reader that went away (`flowc repl | head`) ends the session.
        match result {
            Ok(flow) => flow,
            Err(_) => Flow::Quit,
        }
    }

    fn command(&self, entry: &str, command: Command) -> io::Result<Flow> {
        let mut out = io::stdout().lock();
        match command {
            Command::Quit => return Ok(Flow::Quit),
            Command::Help => {
                writeln!(out, "{HELP}")?;
                for (_, line) in COMMANDS {
                    writeln!(out, "  {line}")?;
                }
            }
            Command::Type(span) => {
                let session = self.session.borrow();
                match session.type_of(&entry[span.range()]) {
                    Ok(ty) => writeln!(out, "{ty}")?,
                    Err(diagnostics) => show(entry, span, &diagnostics),
                }
            }
            Command::Let { name, expr } => {
                drop(out);
                let name = entry[name.range()].to_owned();
                let evaluated = self.session.borrow().evaluate(&entry[expr.range()]);
                match evaluated {
                    Ok(result) => {
                        show(entry, expr, &result.warnings);
                        let mut out = io::stdout().lock();
                        writeln!(out, "{name} = {} : {}", result.value, result.ty)?;
                        self.session
                            .borrow_mut()
                            .bind(name, result.value, result.ty);
                    }
                    Err(diagnostics) => show(entry, expr, &diagnostics),
                }
            }
            Command::Vars => {
                let session = self.session.borrow();
                let mut any = false;
                if let Some(ty) = session.input_type() {
                    writeln!(out, "input : {ty}")?;
                    any = true;
                }
                for var in session.vars() {
                    writeln!(out, "{} = {} : {}", var.name, var.value, var.ty)?;
                    any = true;
                }
                if !any {
                    writeln!(out, "no variables yet: bind one with `:let NAME = EXPR`")?;
                }
            }
            Command::Load(path) => {
                drop(out);
                let loaded = self.session.borrow_mut().load(Path::new(&path));
                match loaded {
                    Ok(true) => {
                        let declared = self.session.borrow().declared();
                        writeln!(io::stdout().lock(), "loaded {path}: {declared}")?;
                    }
                    Ok(false) => {}
                    Err(err) => error(format_args!("{err:#}")),
                }
            }
            Command::Input(path) if path == "-" => {
                drop(out);
                error("`:input` needs a file: standard input holds the entries");
            }
            Command::Input(path) => {
                drop(out);
                let read = self.session.borrow_mut().read_input(Path::new(&path));
                match read {
                    Ok(ty) => writeln!(io::stdout().lock(), "input : {ty}")?,
                    Err(err) => error(format_args!("{err:#}")),
                }
            }
            Command::Invalid(message) => {
                drop(out);
                error(message);
            }
        }
        Ok(Flow::Continue)
    }

    /// Evaluates the expression at `span` of `entry` and prints `value : type`.
    fn expression(&self, entry: &str, span: Span) -> io::Result<Flow> {
        let evaluated = self.session.borrow().evaluate(&entry[span.range()]);
        match evaluated {
            Ok(result) => {
                show(entry, span, &result.warnings);
                writeln!(io::stdout().lock(), "{} : {}", result.value, result.ty)?;
            }
            Err(diagnostics) => show(entry, span, &diagnostics),
        }
        Ok(Flow::Continue)
    }
}

/// Prints diagnostics about the expression at `span` of `entry` against the whole
/// entry, so that they point into the line as it was typed (`:let x = 1 +`).
fn show(entry: &str, span: Span, diagnostics: &[Diagnostic]) {
    if diagnostics.is_empty() {
        return;
    }
    let shifted: Vec<Diagnostic> = diagnostics
        .iter()
        .cloned()
        .map(|mut diagnostic| {
            for label in &mut diagnostic.labels {
                label.span = Span {
                    start: label.span.start.saturating_add(span.start),
                    end: label.span.end.saturating_add(span.start),
                };
            }
            diagnostic
        })
        .collect();
    render_diagnostics("<repl>", entry, &shifted);
}

/// A `:command` entry, its arguments as spans into the entry.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Type(Span),
    Let {
        name: Span,
        expr: Span,
    },
    Vars,
    Load(String),
    Input(String),
    Help,
    Quit,
    /// Not a command, or a command used wrongly: the message says which.
    Invalid(String),
}

/// Reads an entry that starts with `:` (after blanks) as a command; `None` for an
/// expression.
fn parse_command(entry: &str) -> Option<Command> {
    let start = entry.len() - entry.trim_start().len();
    let rest = entry[start..].strip_prefix(':')?;
    let word_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(rest.len());
    let word = &rest[..word_len];
    // The argument: everything after the word, as a span of the entry.
    let arg_start = start + 1 + word_len;
    let arg = &entry[arg_start..];
    let arg_trimmed_start = arg_start + (arg.len() - arg.trim_start().len());
    let arg_end = arg_start + arg.trim_end().len();
    let arg_span = Span::new(arg_trimmed_start, arg_end.max(arg_trimmed_start));
    let arg_text = entry[arg_span.range()].to_owned();
    let no_argument = |name: &str, command: Command| {
        if arg_text.is_empty() {
            command
        } else {
            Command::Invalid(format!("`:{name}` takes no argument"))
        }
    };
    Some(match word {
        "type" | "t" => {
            if arg_text.is_empty() {
                Command::Invalid("`:type` needs an expression: `:type EXPR`".into())
            } else {
                Command::Type(arg_span)
            }
        }
        "let" => parse_let(entry, arg_span),
        "vars" => no_argument(word, Command::Vars),
        "load" | "l" => {
            if arg_text.is_empty() {
                Command::Invalid("`:load` needs a file: `:load FILE.flow`".into())
            } else {
                Command::Load(arg_text)
            }
        }
        "input" => {
            if arg_text.is_empty() {
                Command::Invalid("`:input` needs a file: `:input FILE.json`".into())
            } else {
                Command::Input(arg_text)
            }
        }
        "help" | "h" | "?" => no_argument(word, Command::Help),
        "quit" | "q" | "exit" => no_argument(word, Command::Quit),
        "" => Command::Invalid("expected a command after `:`; `:help` lists them".into()),
        other => {
            let known = COMMANDS.iter().map(|(name, _)| &name[1..]);
            let suggestion = known
                .filter(|name| name.starts_with(&other[..1]))
                .map(|name| format!("; did you mean `:{name}`?"))
                .next()
                .unwrap_or_else(|| "; `:help` lists the commands".into());
            Command::Invalid(format!("unknown command `:{other}`{suggestion}"))
        }
    })
}

/// `:let NAME = EXPR`, with `arg` the span of `NAME = EXPR`.
fn parse_let(entry: &str, arg: Span) -> Command {
    const USAGE: &str = "expected `:let NAME = EXPR`";
    let text = &entry[arg.range()];
    let Some(eq) = text.find('=') else {
        return Command::Invalid(USAGE.into());
    };
    let name = text[..eq].trim();
    let is_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_name {
        return Command::Invalid(format!("{USAGE}: `{name}` is not a name"));
    }
    if name == "input"
        || syntax::token::KEYWORDS
            .iter()
            .any(|(word, _)| *word == name)
    {
        return Command::Invalid(format!("`{name}` is reserved; choose another name"));
    }
    let name_start = arg.start as usize + (text.len() - text.trim_start().len());
    let expr_text = &text[eq + 1..];
    let expr_start = arg.start as usize + eq + 1 + (expr_text.len() - expr_text.trim_start().len());
    let expr_end = arg.end as usize;
    if expr_start >= expr_end {
        return Command::Invalid(format!("{USAGE}: the expression is missing"));
    }
    Command::Let {
        name: Span::new(name_start, name_start + name.len()),
        expr: Span::new(expr_start, expr_end),
    }
}

/// Whether an entry is unfinished: a bracket, a string or an interpolation is still
/// open at its end. Read from the compiler's lexer, so `"(" ` inside a string does
/// not count. An unterminated string only counts on the last line: strings end on
/// their line, so an earlier one will not be closed by more input.
fn needs_more(entry: &str) -> bool {
    // Of the commands, only those that take an expression go on: the rest of the
    // entry is lexed with the command, which only adds names and a `=`.
    let command = entry.trim_start().strip_prefix(':').map(|rest| {
        rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .next()
            .unwrap_or_default()
    });
    if command.is_some_and(|word| !matches!(word, "let" | "type" | "t")) {
        return false;
    }
    let lexed = syntax::lex(entry);
    let mut depth: i64 = 0;
    for token in &lexed.tokens {
        match token {
            Token::LBrace | Token::LBracket | Token::LParen | Token::CallParen => depth += 1,
            Token::RBrace | Token::RBracket | Token::RParen => depth -= 1,
            _ => {}
        }
    }
    if depth > 0 {
        return true;
    }
    let last_line = entry.rfind('\n').map_or(0, |at| at + 1);
    lexed.diagnostics.iter().any(|diagnostic| {
        let code = diagnostic.code.as_str();
        (code == "E0102" || code == "E0107") && diagnostic.span().start as usize >= last_line
    })
}

/// `$XDG_STATE_HOME/flowc/history`, else `~/.local/state/flowc/history`; the
/// directory is created. `None` when neither can be had: history is then kept for
/// the session only.
fn history_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|home| !home.is_empty())
                .map(|home| PathBuf::from(home).join(".local").join("state"))
        })?;
    let dir = state.join("flowc");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

/// Appends the entries added since the last save; failures are silent, as a
/// history that cannot be written must not get in the way of the session.
fn save_history(history: &mut DefaultHistory, path: &Path) {
    let _ = history.append(path);
}

// ------------------------------------------------------------------ the line editor

/// What rustyline asks about the line being edited: completions, and whether
/// Enter ends the entry.
struct Helper {
    session: Rc<RefCell<Session>>,
    files: FilenameCompleter,
}

impl rustyline::Helper for Helper {}

impl Hinter for Helper {
    type Hint = String;
}

impl Highlighter for Helper {}

impl Validator for Helper {
    fn validate(&self, context: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = context.input();
        // Enter on an empty continuation line ends the entry as it is.
        if input.ends_with('\n') || !needs_more(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Completer for Helper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        context: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let session = self.session.borrow();
        match target(line, pos) {
            Target::Command { start } => {
                let prefix = &line[start..pos];
                Ok((start, pairs(COMMANDS.iter().map(|(name, _)| *name), prefix)))
            }
            Target::File => self.files.complete(line, pos, context),
            Target::Name { start } => {
                let prefix = &line[start..pos];
                Ok((start, pairs(session.names(), prefix)))
            }
            Target::Field { start, receiver } => {
                let prefix = &line[start..pos];
                let fields = session.fields_of(&line[receiver.range()]);
                let mut candidates = pairs(fields.iter().map(String::as_str), prefix);
                // Method syntax: `s.trim()` calls a stdlib function.
                if candidates.is_empty() {
                    candidates = pairs(session.methods(), prefix);
                }
                Ok((start, candidates))
            }
        }
    }
}

/// The candidates that start with `prefix`, sorted, without repeats.
fn pairs<'a>(names: impl IntoIterator<Item = &'a str>, prefix: &str) -> Vec<Pair> {
    let mut names: Vec<&str> = names
        .into_iter()
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| Pair {
            display: name.to_owned(),
            replacement: name.to_owned(),
        })
        .collect()
}

/// What the word before the cursor is.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// `:ty|`: a command name starting at `start`.
    Command { start: usize },
    /// `:load ex|`: a file name.
    File,
    /// `inp|`: a name starting at `start`.
    Name { start: usize },
    /// `input.items[0].p|`: a field of the expression at `receiver`.
    Field { start: usize, receiver: Span },
}

fn target(line: &str, pos: usize) -> Target {
    let before = &line[..pos];
    let trimmed = before.trim_start();
    if let Some(command) = trimmed.strip_prefix(':') {
        if !command.contains(char::is_whitespace) {
            return Target::Command {
                start: pos - trimmed.len(),
            };
        }
        if command.starts_with("load") || command.starts_with("input") || command.starts_with('l') {
            return Target::File;
        }
    }
    let word_len = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .count();
    let start = pos - word_len;
    let ahead = &before[..start];
    let dot = if ahead.ends_with("?.") {
        Some(ahead.len() - 2)
    } else if ahead.ends_with('.') {
        Some(ahead.len() - 1)
    } else {
        None
    };
    match dot {
        Some(dot) => {
            let receiver_start = receiver_start(&before[..dot]);
            if receiver_start == dot {
                Target::Name { start }
            } else {
                Target::Field {
                    start,
                    receiver: Span::new(receiver_start, dot),
                }
            }
        }
        None => Target::Name { start },
    }
}

/// Where the expression that ends at the end of `text` starts: back over names,
/// field accesses and bracket groups (`input.items[0]`, `f(x).y`), stopping at an
/// operator, a blank or an unmatched opening bracket.
fn receiver_start(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut at = bytes.len();
    let mut depth = 0usize;
    while at > 0 {
        let byte = bytes[at - 1];
        match byte {
            b')' | b']' | b'}' => depth += 1,
            b'(' | b'[' | b'{' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            _ if depth > 0 => {}
            b'.' | b'?' | b'_' => {}
            _ if byte.is_ascii_alphanumeric() => {}
            _ => break,
        }
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_go_on_while_brackets_or_strings_are_open() {
        assert!(needs_more("[1, 2,"));
        assert!(needs_more("input.items.map(i =>"));
        assert!(needs_more("{ a: 1,\n  b: [2,"));
        assert!(needs_more("\"total ${1 +"));
        assert!(needs_more("\"open"));
        assert!(!needs_more("[1, 2]"));
        assert!(!needs_more("\"(\""));
        assert!(!needs_more("1 + 2"));
        assert!(!needs_more(")"));
        assert!(needs_more(":type ["));
        assert!(needs_more(":let xs = [1,"));
        assert!(!needs_more(":load (a.flow"));
        assert!(!needs_more(":help ["));
        // A string left open on an earlier line is not closed by more lines.
        assert!(!needs_more("\"open\n1"));
    }

    #[test]
    fn commands_parse_with_spans_into_the_entry() {
        let entry = ":let total = 1 + 2";
        let Some(Command::Let { name, expr }) = parse_command(entry) else {
            panic!("not a let");
        };
        assert_eq!(&entry[name.range()], "total");
        assert_eq!(&entry[expr.range()], "1 + 2");
        let entry = "  :type  [1]  ";
        let Some(Command::Type(span)) = parse_command(entry) else {
            panic!("not a type");
        };
        assert_eq!(&entry[span.range()], "[1]");
        assert_eq!(parse_command(":quit"), Some(Command::Quit));
        assert_eq!(parse_command(":q"), Some(Command::Quit));
        assert_eq!(parse_command("1 + 2"), None);
        assert_eq!(
            parse_command(":load a.flow"),
            Some(Command::Load("a.flow".into()))
        );
        assert!(matches!(
            parse_command(":let = 1"),
            Some(Command::Invalid(_))
        ));
        assert!(matches!(
            parse_command(":let x ="),
            Some(Command::Invalid(_))
        ));
        assert!(matches!(
            parse_command(":vars x"),
            Some(Command::Invalid(_))
        ));
        let Some(Command::Invalid(message)) = parse_command(":typo") else {
            panic!("not invalid");
        };
        assert_eq!(message, "unknown command `:typo`; did you mean `:type`?");
    }

    #[test]
    fn completion_targets() {
        assert_eq!(target(":ty", 3), Target::Command { start: 0 });
        assert_eq!(target(":load exa", 9), Target::File);
        assert_eq!(target("inp", 3), Target::Name { start: 0 });
        assert_eq!(target("1 + su", 6), Target::Name { start: 4 });
        let line = "input.items[0].";
        let Target::Field { start, receiver } = target(line, line.len()) else {
            panic!("not a field");
        };
        assert_eq!(start, line.len());
        assert_eq!(&line[receiver.range()], "input.items[0]");
        let line = "[a?.b.c";
        let Target::Field { start, receiver } = target(line, line.len()) else {
            panic!("not a field");
        };
        assert_eq!(&line[start..], "c");
        assert_eq!(&line[receiver.range()], "a?.b");
        let line = "f(x, y).na";
        let Target::Field { receiver, .. } = target(line, line.len()) else {
            panic!("not a field");
        };
        assert_eq!(&line[receiver.range()], "f(x, y)");
    }
}
