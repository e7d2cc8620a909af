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

use super::loader;
use super::{Exit, error, io_message};
use anyhow::Context as _;
use flowc_compiler::Diagnostic;
use flowc_compiler::ExprEnv;
use flowc_compiler::diagnostic::Renderer;
use flowc_compiler::eval::{self, Context, Frame, Limits};
use flowc_compiler::ir::{Function, Program};
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

Exit status: 0 the value was printed, 1 a type or run-time error (shown as a
diagnostic) or an input that does not match --input-type, 2 bad arguments or an
input that cannot be read or parsed, 3 internal error.";

#[derive(clap::Args)]
pub struct Args {
    /// The expression to evaluate; the document read with --input is `input`.
    #[arg(value_name = "EXPR")]
    expr: String,

    /// A JSON document to bind to `input`; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,

    /// Check the input document against this type instead of inferring its type;
    /// a type declared in a --load'ed file, or a built-in type such as `json`.
    #[arg(long, value_name = "TYPE", requires = "input")]
    input_type: Option<String>,

    /// Also print the type of the result: `VALUE : TYPE`.
    #[arg(long = "type")]
    show_type: bool,

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

    let evaluated = match session.evaluate(&args.expr) {
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

    /// Checks and evaluates `source`.
    pub fn evaluate(&self, source: &str) -> Result<Evaluated, Vec<Diagnostic>> {
        let checked = flowc_compiler::check_expression(source, &self.env());
        let expr = match checked.expr {
            Some(expr) if !checked.diagnostics.iter().any(Diagnostic::is_error) => expr,
            _ => return Err(checked.diagnostics),
        };
        let values = self
            .input
            .iter()
            .map(|input| &input.value)
            .chain(self.vars.iter().map(|var| &var.value));
        let mut frame = Frame::new(usize::try_from(checked.frame_size).unwrap_or(0));
        for (slot, value) in (0..).zip(values) {
            frame.set(slot, value.clone());
        }
        let context = SystemContext {
            functions: &self.program.functions,
            types: &self.program.types,
        };
        match eval::eval(&expr, &mut frame, &context, &Limits::default()) {
            Ok(value) => Ok(Evaluated {
                value,
                ty: checked.ty,
                warnings: checked.diagnostics,
            }),
            Err(error) => Err(vec![error.to_diagnostic()]),
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
