//! `flowc eval`: evaluate one Flow expression against a JSON document and print the
//! result as JSON; and [`Session`], the evaluation context it shares with the REPL.
//!
//! A session holds what an expression can see: the input document bound to `input`
//! (its type inferred from the document, or named with `--input-type`), the
//! variables bound with the REPL's `:let`, and the declarations of loaded `.flow`
//! files. It asks the compiler to check an expression against that environment and
//! to evaluate the result, and hands back either a value with its type or the
//! diagnostics to show. The compiler is pure: the clock and the random source that
//! `now()` and `uuid()` read are provided here, by [`SystemContext`].
//!
//! `--jit` chooses the tier: `always` compiles the expression to native code
//! (`flowc_compiler::jit`) and evaluates it there, handing the evaluation back to
//! the interpreter where native code bails or the JIT declines the expression, so
//! what is printed (a value or an error) is always the interpreter's answer;
//! `off` interprets. `--lines FILE` evaluates the expression once per line, each a
//! JSON document bound to `input`, and prints one compact result per line: the
//! path the expression benchmark measures end to end. With the JIT on, each line's
//! text is decoded straight into the compiled expression's input slots
//! (`jit::decode`), with no generic JSON value built in between; a line native
//! code cannot answer is parsed and interpreted.

use super::loader;
use super::{Exit, error, io_message};
use anyhow::Context as _;
use flowc_compiler::Diagnostic;
use flowc_compiler::ExprEnv;
use flowc_compiler::diagnostic::Renderer;
use flowc_compiler::eval::{self, Context, Frame, Limits};
use flowc_compiler::ir::{Expr, Function, Program};
use flowc_compiler::jit::{self, Mode};
use flowc_compiler::stdlib;
use flowc_compiler::ty::{Ty, TypeTable};
use flowc_compiler::value::{self, Value};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub const AFTER_HELP: &str = "\
Examples:
  flowc eval '1 + 2'                                   prints 3
  echo '{\"items\":[{\"p\":2,\"q\":3},{\"p\":1,\"q\":4}]}' |
    flowc eval 'input.items.map(i => i.p * i.q).sum()' --input -
                                                       prints 10
  flowc eval 'input.amount * 2' --input order.json --type
  flowc eval 'input.currency' --input payment.json \\
    --load examples/payment_validation.flow --input-type Payment
  flowc eval 'input.amount > 1000 && input.currency == \"BRL\"' --lines records.jsonl
                                                       one result per line of records.jsonl
  flowc eval 'input.amount * 2' --lines - --jit always compiled to native code first
  flowc eval '9223372036854775807 + 1' --jit off       interpreted only (same answer)

Exit status: 0 the value was printed (with --lines: every line's), 1 a type or
run-time error (shown as a diagnostic; with --lines, naming the line, after the
other lines are done) or an input that does not match --input-type, 2 bad
arguments or an input that cannot be read or parsed (with --lines: the file),
3 internal error.";

#[derive(clap::Args)]
pub struct Args {
    /// The expression to evaluate; the document read with --input is `input`.
    #[arg(value_name = "EXPR")]
    expr: String,

    /// A JSON document to bind to `input`; `-` reads standard input.
    #[arg(long, value_name = "FILE", group = "document")]
    input: Option<PathBuf>,

    /// Evaluate EXPR once per line of FILE (`-` reads standard input), each line
    /// a JSON document bound to `input`, and print one compact result per line.
    /// The type of `input` is inferred from the first line unless --input-type.
    #[arg(long, value_name = "FILE", group = "document")]
    lines: Option<PathBuf>,

    /// Check the input document (each line, with --lines) against this type
    /// instead of inferring its type; a type declared in a --load'ed file, or a
    /// built-in type such as `json`.
    #[arg(long, value_name = "TYPE", requires = "document")]
    input_type: Option<String>,

    /// Also print the type of the result: `VALUE : TYPE`.
    #[arg(long = "type", conflicts_with = "lines")]
    show_type: bool,

    /// When the expression is compiled to native code: `always` before it is
    /// evaluated, `off` never, `auto` with --lines once 1,000 lines have been
    /// evaluated. What is printed is the same in every mode: where native code
    /// cannot answer, the interpreter does.
    #[arg(long, value_name = "auto|always|off", default_value_t = Mode::Auto)]
    jit: Mode,

    /// Print the JSON on one line instead of indented.
    #[arg(short, long)]
    compact: bool,

    /// A .flow file whose types, functions and connections the expression may use
    /// (repeatable; imports are followed).
    #[arg(long, value_name = "FILE.flow")]
    load: Vec<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    let mut session = Session::new();
    for path in &args.load {
        match session.load(path) {
            Ok(true) => {}
            Ok(false) => return Ok(Exit::Diagnostics),
            Err(err) => {
                error(format_args!("{err:#}"));
                return Ok(Exit::Failure);
            }
        }
    }
    if let Some(path) = &args.lines {
        return lines::run(args, &mut session, path);
    }
    if let Some(path) = &args.input {
        let json = match read_json(path) {
            Ok(json) => json,
            Err(err) => {
                error(format_args!("{err:#}"));
                return Ok(Exit::Failure);
            }
        };
        match &args.input_type {
            None => {
                session.set_input(&json);
            }
            Some(name) => {
                let Some(ty) = session.type_named(name) else {
                    error(format_args!("{}", session.unknown_type(name)));
                    return Ok(Exit::Failure);
                };
                if let Err(mismatch) = session.set_typed_input(&json, ty) {
                    error(format_args!("the input does not match `{name}` {mismatch}",));
                    return Ok(Exit::Diagnostics);
                }
            }
        }
    }

    let evaluated = match session.evaluate_with(&args.expr, args.jit) {
        Ok(evaluated) => evaluated,
        Err(diagnostics) => {
            render_diagnostics(EXPR_PATH, &args.expr, &diagnostics);
            return Ok(Exit::Diagnostics);
        }
    };
    render_diagnostics(EXPR_PATH, &args.expr, &evaluated.warnings);
    let json = evaluated.value.to_json();
    let text = if args.compact {
        serde_json::to_string(&json)
    } else {
        serde_json::to_string_pretty(&json)
    }
    .context("cannot print the value as JSON")?;
    let mut stdout = anstream::stdout().lock();
    if args.show_type {
        writeln!(stdout, "{text} : {}", evaluated.ty)
    } else {
        writeln!(stdout, "{text}")
    }
    .context("cannot write to standard output")?;
    stdout.flush().context("cannot write to standard output")?;
    Ok(Exit::Success)
}

/// The name the expression of `flowc eval` is shown under in diagnostics.
const EXPR_PATH: &str = "<expr>";

/// Reads and parses a JSON document; `-` is standard input. Errors are one line:
/// `cannot read PATH: REASON` or `cannot parse PATH as JSON: REASON`.
pub fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let (name, text) = if path.as_os_str() == "-" {
        let mut text = String::new();
        io::stdin()
            .lock()
            .read_to_string(&mut text)
            .map_err(|err| anyhow::anyhow!("cannot read <stdin>: {}", io_message(&err)))?;
        ("<stdin>".to_owned(), text)
    } else {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|err| anyhow::anyhow!("cannot read {name}: {}", io_message(&err)))?;
        (name, text)
    };
    serde_json::from_str(&text).map_err(|err| anyhow::anyhow!("cannot parse {name} as JSON: {err}"))
}

/// Prints diagnostics about one source on standard error, rendered as `flowc
/// check` renders them.
pub fn render_diagnostics(path: &str, source: &str, diagnostics: &[Diagnostic]) {
    if diagnostics.is_empty() {
        return;
    }
    let color = anstream::AutoStream::choice(&io::stderr()) != anstream::ColorChoice::Never;
    let renderer = Renderer::new(path, source, color);
    let mut stderr = io::stderr().lock();
    for diagnostic in diagnostics {
        // Nothing can be done about a standard error that cannot be written.
        let _ = stderr.write_all(renderer.render(diagnostic).as_bytes());
    }
}

// ------------------------------------------------------------------ the session

/// What expressions can see, and the evaluation of them.
pub struct Session {
    input: Option<Input>,
    vars: Vec<Var>,
    /// The files loaded so far; each load analyses all of them together, so their
    /// declarations see each other.
    roots: Vec<PathBuf>,
    /// The program the loaded files make; empty before the first load.
    program: Program,
    /// The declarations of `program`, as the checker of expressions wants them.
    declarations: ExprEnv,
}

struct Input {
    value: Value,
    ty: Ty,
}

/// An expression that checked, ready to evaluate.
struct Checked {
    expr: Expr,
    ty: Ty,
    frame_size: usize,
    warnings: Vec<Diagnostic>,
}

/// A variable bound with `:let`.
pub struct Var {
    pub name: String,
    pub value: Value,
    pub ty: Ty,
}

/// A value and its type, and the warnings the checker had about the expression.
pub struct Evaluated {
    pub value: Value,
    pub ty: Ty,
    pub warnings: Vec<Diagnostic>,
}

impl Session {
    pub fn new() -> Session {
        Session {
            input: None,
            vars: Vec::new(),
            roots: Vec::new(),
            program: Program::default(),
            declarations: ExprEnv::default(),
        }
    }

    /// Binds `json` to `input`, with the type inferred from the document; returns
    /// that type.
    pub fn set_input(&mut self, json: &serde_json::Value) -> Ty {
        let ty = value::infer_type(json);
        self.input = Some(Input {
            value: Value::from_json(json),
            ty: ty.clone(),
        });
        ty
    }

    /// Binds `json` to `input` as a value of `ty`, or says where it does not fit.
    pub fn set_typed_input(
        &mut self,
        json: &serde_json::Value,
        ty: Ty,
    ) -> Result<(), value::Mismatch> {
        let value = Value::from_json_typed(json, &ty, &self.program.types)?;
        self.input = Some(Input { value, ty });
        Ok(())
    }

    /// Reads a JSON document from a file and binds it to `input`.
    pub fn read_input(&mut self, path: &Path) -> anyhow::Result<Ty> {
        let json = read_json(path)?;
        Ok(self.set_input(&json))
    }

    pub fn input_type(&self) -> Option<&Ty> {
        self.input.as_ref().map(|input| &input.ty)
    }

    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// Binds `name`, replacing an earlier variable of that name.
    pub fn bind(&mut self, name: String, value: Value, ty: Ty) {
        self.vars.retain(|var| var.name != name);
        self.vars.push(Var { name, value, ty });
    }

    /// A type by name: declared in a loaded file, or built in.
    pub fn type_named(&self, name: &str) -> Option<Ty> {
        if self.program.types.contains_key(name) {
            return Some(Ty::named(name));
        }
        Ty::builtin(name)
    }

    /// Why `name` is not a type, with the names that are.
    pub fn unknown_type(&self, name: &str) -> String {
        if self.program.types.is_empty() {
            format!(
                "unknown type `{name}` in --input-type: no file declares it; \
                 load the file that does with --load FILE.flow"
            )
        } else {
            let known: Vec<String> = self
                .program
                .types
                .keys()
                .map(|name| format!("`{name}`"))
                .collect();
            format!(
                "unknown type `{name}` in --input-type; the loaded files declare {}",
                known.join(", ")
            )
        }
    }

    /// Loads a `.flow` file (and what it imports) into scope, with the files
    /// loaded before. With errors, the diagnostics are printed and the scope stays
    /// as it was; `Ok(false)` says so. `Err` is for a file that cannot be read.
    pub fn load(&mut self, path: &Path) -> anyhow::Result<bool> {
        let mut roots = self.roots.clone();
        if !roots.iter().any(|root| root == path) {
            roots.push(path.to_path_buf());
        }
        let analysis = loader::analyze(&roots)?;
        loader::render(&analysis);
        if analysis.has_errors() {
            return Ok(false);
        }
        self.declarations = analysis.expr_env();
        self.program = analysis.program;
        self.roots = roots;
        Ok(true)
    }

    /// What the loaded files declare, in words: `2 types, 1 function`.
    pub fn declared(&self) -> String {
        let counts = [
            (self.program.types.len(), "type"),
            (self.program.functions.len(), "function"),
            (self.program.connections.len(), "connection"),
            (self.program.events.len(), "event"),
            (self.program.workflows.len(), "workflow"),
        ];
        let parts: Vec<String> = counts
            .iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, noun)| {
                if *count == 1 {
                    format!("1 {noun}")
                } else {
                    format!("{count} {noun}s")
                }
            })
            .collect();
        if parts.is_empty() {
            "no declarations".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// The environment of an expression: the declarations, then the variables in
    /// slot order (`input` first, then the `:let`s).
    fn env(&self) -> ExprEnv {
        let mut env = self.declarations.clone();
        if let Some(input) = &self.input {
            env.variables.push(("input".to_owned(), input.ty.clone()));
        }
        for var in &self.vars {
            env.variables.push((var.name.clone(), var.ty.clone()));
        }
        env
    }

    /// Checks `source` and returns its type without evaluating it.
    pub fn type_of(&self, source: &str) -> Result<Ty, Vec<Diagnostic>> {
        let checked = flowc_compiler::check_expression(source, &self.env());
        if checked.expr.is_none() || checked.diagnostics.iter().any(Diagnostic::is_error) {
            return Err(checked.diagnostics);
        }
        Ok(checked.ty)
    }

    /// Checks and evaluates `source`, interpreted.
    pub fn evaluate(&self, source: &str) -> Result<Evaluated, Vec<Diagnostic>> {
        self.evaluate_with(source, Mode::Off)
    }

    /// Checks and evaluates `source`; under [`Mode::Always`] compiled to native
    /// code first (the interpreter answers where native code cannot). One
    /// evaluation is never hot, so [`Mode::Auto`] interprets.
    pub fn evaluate_with(&self, source: &str, mode: Mode) -> Result<Evaluated, Vec<Diagnostic>> {
        let checked = self.check(source)?;
        let values = self
            .input
            .iter()
            .map(|input| &input.value)
            .chain(self.vars.iter().map(|var| &var.value));
        let mut frame = Frame::new(checked.frame_size);
        for (slot, value) in (0..).zip(values) {
            frame.set(slot, value.clone());
        }
        let limits = Limits::default();
        let native = match mode {
            Mode::Always => jit::compile(&checked.expr, &self.program.types)
                .ok()
                .and_then(|code| code.eval(&frame, &limits)),
            Mode::Auto | Mode::Off => None,
        };
        let result = match native {
            Some(value) => Ok(value),
            None => eval::eval(&checked.expr, &mut frame, &self.context(), &limits),
        };
        match result {
            Ok(value) => Ok(Evaluated {
                value,
                ty: checked.ty,
                warnings: checked.warnings,
            }),
            Err(error) => Err(vec![error.to_diagnostic()]),
        }
    }

    /// Checks `source` against the environment: the typed expression, or the
    /// diagnostics when it has errors.
    fn check(&self, source: &str) -> Result<Checked, Vec<Diagnostic>> {
        let checked = flowc_compiler::check_expression(source, &self.env());
        match checked.expr {
            Some(expr) if !checked.diagnostics.iter().any(Diagnostic::is_error) => Ok(Checked {
                expr,
                ty: checked.ty,
                frame_size: usize::try_from(checked.frame_size).unwrap_or(0),
                warnings: checked.diagnostics,
            }),
            _ => Err(checked.diagnostics),
        }
    }

    /// What expressions evaluated in this session call into.
    fn context(&self) -> SystemContext<'_> {
        SystemContext {
            functions: &self.program.functions,
            types: &self.program.types,
        }
    }

    /// Every name an expression can use, for completion: variables, `input`,
    /// loaded declarations and stdlib functions.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.vars.iter().map(|var| var.name.as_str()).collect();
        if self.input.is_some() {
            names.push("input");
        }
        names.extend(self.program.types.keys().map(String::as_str));
        names.extend(self.functions());
        names.extend(["true", "false", "null", "if", "then", "else", "match"]);
        names
    }

    /// The stdlib functions, by name.
    pub fn functions(&self) -> Vec<&'static str> {
        stdlib::all().iter().map(|builtin| builtin.name).collect()
    }

    /// The stdlib functions that method syntax can call (`s.trim()`), by name.
    pub fn methods(&self) -> Vec<&'static str> {
        stdlib::all()
            .iter()
            .filter(|builtin| builtin.method)
            .map(|builtin| builtin.name)
            .collect()
    }

    /// The field names of the value of `receiver` (`input.items[0]`), for
    /// completion; none when it is not a record or does not check.
    pub fn fields_of(&self, receiver: &str) -> Vec<String> {
        let ty = match self.type_of(receiver) {
            Ok(ty) => ty,
            Err(_) => match self.walk(receiver) {
                Some(ty) => ty,
                None => return Vec::new(),
            },
        };
        field_names(&ty, &self.program.types)
    }

    /// The type of a plain path (`input.items[0].p`) by walking the types of the
    /// variables, without the checker: names, `.field`, `?.field` and `[N]`.
    fn walk(&self, path: &str) -> Option<Ty> {
        let head_len = path
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(path.len());
        let head = &path[..head_len];
        let mut ty = if head == "input" {
            self.input.as_ref()?.ty.clone()
        } else {
            self.vars.iter().find(|var| var.name == head)?.ty.clone()
        };
        let mut rest = &path[head_len..];
        while !rest.is_empty() {
            ty = resolve(&ty, &self.program.types)?;
            if let Some(after) = rest.strip_prefix("?.").or_else(|| rest.strip_prefix('.')) {
                let len = after
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .unwrap_or(after.len());
                let Ty::Record { fields } = ty else {
                    return None;
                };
                ty = fields
                    .into_iter()
                    .find(|field| field.name == after[..len])?
                    .ty;
                rest = &after[len..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let close = after.find(']')?;
                let Ty::List { element } = ty else {
                    return None;
                };
                ty = *element;
                rest = &after[close + 1..];
            } else {
                return None;
            }
        }
        Some(ty)
    }
}

/// A type with its names resolved and `null` removed, as field access sees it.
fn resolve(ty: &Ty, types: &TypeTable) -> Option<Ty> {
    let mut ty = ty.clone();
    // Named types may name named types; a cycle of names stops here.
    for _ in 0..64 {
        match ty {
            Ty::Named { ref name } => ty = types.get(name)?.clone(),
            Ty::Union { .. } if ty.is_nullable() => ty = ty.without_null(),
            other => return Some(other),
        }
    }
    None
}

/// The fields of a record type (through names and `?`), by name.
fn field_names(ty: &Ty, types: &TypeTable) -> Vec<String> {
    match resolve(ty, types) {
        Some(Ty::Record { fields }) => fields.into_iter().map(|field| field.name).collect(),
        _ => Vec::new(),
    }
}

// ------------------------------------------------------------------ --lines

/// `flowc eval EXPR --lines FILE`: one evaluation per line, kept lean because it
/// is the end-to-end path the expression benchmark measures (one reused line
/// buffer, slots and frame; buffered output; a native answer written as JSON
/// straight from its output slots, without building a value).
mod lines {
    use super::{Args, Checked, EXPR_PATH, Exit, Session, error, io_message, render_diagnostics};
    use flowc_compiler::eval::{self, Frame, Limits};
    use flowc_compiler::jit::decode::Decoder;
    use flowc_compiler::jit::{self, Compiled, Mode, Slots};
    use flowc_compiler::ty::{Ty, TypeTable};
    use flowc_compiler::value::Value;
    use std::io::{self, BufRead, Write};
    use std::path::Path;

    /// How many lines `--jit auto` interprets before compiling the expression:
    /// the runtime's default threshold.
    const AUTO_THRESHOLD: u64 = jit::Options::DEFAULT_THRESHOLD;

    pub fn run(args: &Args, session: &mut Session, path: &Path) -> anyhow::Result<Exit> {
        let stdin = path.as_os_str() == "-";
        let name = if stdin {
            "<stdin>".to_owned()
        } else {
            path.display().to_string()
        };
        let mut reader: Box<dyn BufRead> = if stdin {
            Box::new(io::stdin().lock())
        } else {
            match std::fs::File::open(path) {
                Ok(file) => Box::new(io::BufReader::with_capacity(1 << 16, file)),
                Err(err) => {
                    error(format_args!("cannot read {name}: {}", io_message(&err)));
                    return Ok(Exit::Failure);
                }
            }
        };
        let typed = match &args.input_type {
            None => None,
            Some(type_name) => match session.type_named(type_name) {
                Some(ty) => Some((type_name.as_str(), ty)),
                None => {
                    error(format_args!("{}", session.unknown_type(type_name)));
                    return Ok(Exit::Failure);
                }
            },
        };
        let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
        let mut text = String::new();
        let mut number: u64 = 0;
        let mut failed = false;
        let mut evaluator: Option<Evaluator> = None;
        loop {
            text.clear();
            let read = reader
                .read_line(&mut text)
                .map_err(|err| anyhow::anyhow!("cannot read {name}: {}", io_message(&err)))?;
            if read == 0 {
                break;
            }
            number += 1;
            let line = text.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() {
                continue;
            }
            let line = Line {
                text: line,
                number,
                file: &name,
            };
            let evaluator = match &mut evaluator {
                Some(evaluator) => evaluator,
                None => {
                    // The first document gives `input` its type (unless
                    // --input-type does), and the expression is checked once.
                    let json: serde_json::Value = match serde_json::from_str(line.text) {
                        Ok(json) => json,
                        Err(err) => {
                            line.not_json(&err);
                            failed = true;
                            continue;
                        }
                    };
                    match &typed {
                        None => {
                            session.set_input(&json);
                        }
                        Some((type_name, ty)) => {
                            if let Err(mismatch) = session.set_typed_input(&json, ty.clone()) {
                                line.mismatch(type_name, &mismatch);
                                failed = true;
                                continue;
                            }
                        }
                    }
                    let checked = match session.check(&args.expr) {
                        Ok(checked) => checked,
                        Err(diagnostics) => {
                            render_diagnostics(EXPR_PATH, &args.expr, &diagnostics);
                            out.flush()?;
                            return Ok(Exit::Diagnostics);
                        }
                    };
                    render_diagnostics(EXPR_PATH, &args.expr, &checked.warnings);
                    evaluator.insert(Evaluator::new(checked, args.jit, typed.clone()))
                }
            };
            if !evaluator.line(session, &args.expr, &line, &mut out)? {
                failed = true;
            }
        }
        out.flush()?;
        Ok(if failed {
            Exit::Diagnostics
        } else {
            Exit::Success
        })
    }

    /// One line of the file, for messages.
    struct Line<'a> {
        text: &'a str,
        number: u64,
        file: &'a str,
    }

    impl Line<'_> {
        fn not_json(&self, err: &serde_json::Error) {
            error(format_args!(
                "line {} of {} is not JSON: {err}",
                self.number, self.file
            ));
        }

        fn mismatch(&self, type_name: &str, mismatch: &flowc_compiler::value::Mismatch) {
            error(format_args!(
                "line {} of {} does not match `{type_name}` {mismatch}",
                self.number, self.file
            ));
        }
    }

    /// The compiled expression and the decoder of its input slots.
    struct Native {
        code: Compiled,
        decoder: Decoder,
    }

    impl Native {
        /// Evaluates over `slots` and puts the answer's JSON text and a newline
        /// in `json`, read straight from the output slots (the text
        /// [`write_value`] gives, without building the value); false when the
        /// native code bailed out.
        fn write_json(&self, slots: &Slots, limits: &Limits, json: &mut Vec<u8>) -> bool {
            json.clear();
            let written = self
                .code
                .eval_answer(slots, limits, |answer| answer.write_json(json));
            if written == Some(true) {
                json.push(b'\n');
                return true;
            }
            false
        }
    }

    /// Evaluates the checked expression line after line.
    struct Evaluator<'t> {
        checked: Checked,
        mode: Mode,
        /// `--input-type`: each line is converted to this type (and refused when
        /// it does not fit) before it is evaluated.
        typed: Option<(&'t str, Ty)>,
        /// Whether the result is a `bool`, written without building a value.
        boolean: bool,
        /// Set once compiled; `None` before, and for good when the JIT declines.
        native: Option<Native>,
        compiled: bool,
        evaluated: u64,
        slots: Slots,
        /// The native answer's JSON text, reused from line to line.
        json: Vec<u8>,
        frame: Frame,
        limits: Limits,
    }

    impl<'t> Evaluator<'t> {
        fn new(checked: Checked, mode: Mode, typed: Option<(&'t str, Ty)>) -> Evaluator<'t> {
            Evaluator {
                boolean: checked.ty == Ty::Bool,
                frame: Frame::new(checked.frame_size.max(1)),
                checked,
                mode,
                typed,
                native: None,
                compiled: false,
                evaluated: 0,
                slots: Slots::new(),
                json: Vec::new(),
                limits: Limits::default(),
            }
        }

        /// Compiles the expression when the mode says it is time.
        fn tier_up(&mut self, types: &TypeTable) {
            if self.compiled {
                return;
            }
            let due = match self.mode {
                Mode::Always => true,
                Mode::Auto => self.evaluated > AUTO_THRESHOLD,
                Mode::Off => false,
            };
            if due {
                self.compiled = true;
                self.native = jit::compile(&self.checked.expr, types)
                    .ok()
                    .map(|code| Native {
                        decoder: Decoder::new(code.layout()),
                        code,
                    });
            }
        }

        /// Evaluates one line and prints its result; false when the line is in
        /// error (reported on standard error).
        fn line(
            &mut self,
            session: &Session,
            source: &str,
            line: &Line<'_>,
            out: &mut impl Write,
        ) -> io::Result<bool> {
            self.evaluated += 1;
            self.tier_up(&session.program.types);
            // Native code, its slots filled straight from the text.
            if let (Some(native), None) = (&self.native, &self.typed) {
                if let Err(err) = native.decoder.decode(line.text, &mut self.slots) {
                    line.not_json(&err);
                    return Ok(false);
                }
                if self.boolean {
                    if let Some(answer) = native.code.eval_bool_slots(&self.slots, &self.limits) {
                        out.write_all(if answer { b"true\n" } else { b"false\n" })?;
                        return Ok(true);
                    }
                } else if native.write_json(&self.slots, &self.limits, &mut self.json) {
                    out.write_all(&self.json)?;
                    return Ok(true);
                }
            }
            // The interpreter's route: a value built from the text.
            let json: serde_json::Value = match serde_json::from_str(line.text) {
                Ok(json) => json,
                Err(err) => {
                    line.not_json(&err);
                    return Ok(false);
                }
            };
            let value = match &self.typed {
                None => Value::from_json(&json),
                Some((type_name, ty)) => {
                    match Value::from_json_typed(&json, ty, &session.program.types) {
                        Ok(value) => value,
                        Err(mismatch) => {
                            line.mismatch(type_name, &mismatch);
                            return Ok(false);
                        }
                    }
                }
            };
            if let (Some(native), Some(_)) = (&self.native, &self.typed) {
                native.code.layout().fill(&value, &mut self.slots);
                if native.write_json(&self.slots, &self.limits, &mut self.json) {
                    out.write_all(&self.json)?;
                    return Ok(true);
                }
            }
            self.frame.set(0, value);
            match eval::eval(
                &self.checked.expr,
                &mut self.frame,
                &session.context(),
                &self.limits,
            ) {
                Ok(value) => {
                    write_value(out, &value)?;
                    Ok(true)
                }
                Err(err) => {
                    let mut diagnostic = err.to_diagnostic();
                    diagnostic
                        .notes
                        .push(format!("on line {} of {}", line.number, line.file));
                    render_diagnostics(EXPR_PATH, source, &[diagnostic]);
                    Ok(false)
                }
            }
        }
    }

    /// One compact JSON result and a newline.
    fn write_value(out: &mut impl Write, value: &Value) -> io::Result<()> {
        serde_json::to_writer(&mut *out, &value.to_json())?;
        out.write_all(b"\n")
    }
}

// ------------------------------------------------------------------ the world

/// The real clock and random source, for `now()` and `uuid()` on the command line,
/// plus the loaded program's functions and types. The runtime has its own context,
/// which journals what these return; here nothing is recorded.
pub struct SystemContext<'a> {
    functions: &'a [Function],
    types: &'a TypeTable,
}

impl Context for SystemContext<'_> {
    fn now(&self) -> i64 {
        use flowc_runtime::clock::Clock as _;
        flowc_runtime::clock::SystemClock.now_ms()
    }

    fn uuid(&self) -> String {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No system randomness (a sandbox without /dev/urandom): fall back on
            // the random keys the standard library's hash maps are seeded with.
            use std::hash::{BuildHasher, Hasher};
            let state = std::collections::hash_map::RandomState::new();
            for (index, chunk) in bytes.chunks_mut(8).enumerate() {
                let mut hasher = state.build_hasher();
                hasher.write_usize(index);
                hasher.write_i64(self.now());
                chunk.copy_from_slice(&hasher.finish().to_le_bytes());
            }
        }
        let [high, low] = [&bytes[..8], &bytes[8..]].map(|half| {
            half.iter()
                .fold(0u64, |word, byte| (word << 8) | u64::from(*byte))
        });
        flowc_compiler::eval::uuid_v4(high, low)
    }

    fn function(&self, index: u32) -> Option<&Function> {
        self.functions.get(usize::try_from(index).ok()?)
    }

    fn types(&self) -> &TypeTable {
        self.types
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn session(input: &str) -> Session {
        let mut session = Session::new();
        session.set_input(&serde_json::from_str(input).unwrap());
        session
    }

    #[test]
    fn fields_complete_from_the_input_document() {
        let session = session(r#"{"items":[{"p":2,"q":3},{"p":1}],"customer":null}"#);
        assert_eq!(session.fields_of("input"), ["customer", "items"]);
        assert_eq!(session.fields_of("input.items[0]"), ["p", "q"]);
        assert!(session.fields_of("input.items").is_empty());
        assert!(session.fields_of("input.nothing").is_empty());
        // The path walk alone, as completion uses it when the receiver does not check.
        assert_eq!(
            field_names(&session.walk("input.items[1]").unwrap(), &TypeTable::new()),
            ["p", "q"]
        );
    }

    #[test]
    fn variables_are_bound_after_input_in_slot_order() {
        let mut session = session(r#"{"n": 4}"#);
        let evaluated = session.evaluate("input.n * 2").ok().unwrap();
        session.bind("twice".into(), evaluated.value, evaluated.ty);
        let evaluated = session.evaluate("twice + input.n").ok().unwrap();
        assert_eq!(evaluated.value, Value::Int(12));
        assert_eq!(evaluated.ty, Ty::Int);
        // Binding a name again replaces it.
        session.bind("twice".into(), Value::Int(0), Ty::Int);
        assert_eq!(session.vars().len(), 1);
    }
}
