//! Prints a syntax tree as indented S-expressions, for snapshot tests and debugging.
//!
//! `Debug` output of the tree runs to hundreds of lines of struct syntax and changes
//! whenever a field is renamed, so snapshots made of it read like noise. This printer
//! shows each node as `(head @start..end children…)`, one node a line, indented two
//! spaces a level. A node stays on one line when it fits in [`WIDTH`] columns and is
//! a chain: at most one of its children has children of its own, and that one is a
//! chain too (`(param xs (list (name int)))`, `(unary - @0..2 (name x @1..2))`).
//! The output depends on the tree alone, so it is the same on every run.
//!
//! The head holds the kind of node, its names and its plain strings (`(on webhook
//! POST "/orders" @…)`), then its span, for every node that has one of its own:
//! declarations, triggers, statements, blocks, HTTP calls, patterns and expressions.
//! Types, fields, arguments and parameters print without spans, which keeps type
//! annotations short. Names print bare, or quoted when they are not identifiers
//! (`(field "X-Trace" …)`); literals print as `(int 3)`, `(float 1.0)`,
//! `(duration 600000ms)` and `(string "a\n")`, strings escaped as Rust does. Where
//! the parser recovered, an `(error @…)` node stands for what it skipped.

use super::ast::*;
use crate::diagnostic::Span;

/// The column a node must end by to be printed on one line.
pub const WIDTH: usize = 88;

/// Prints a whole module, ending with a newline.
pub fn module(module: &Module) -> String {
    let tree = spanned(
        "module",
        module.span,
        module.items.iter().map(item).collect(),
    );
    let mut writer = Writer::default();
    writer.node(&tree);
    writer.out.push('\n');
    writer.out
}

// ------------------------------------------------------------------ the writer

/// A printed node: `(head children…)`, where the head holds the node's kind, its
/// names and plain strings, and its span.
struct Node {
    head: String,
    children: Vec<Node>,
}

impl Node {
    fn list(head: String, children: Vec<Node>) -> Node {
        Node { head, children }
    }

    fn leaf(head: String) -> Node {
        Node::list(head, Vec::new())
    }

    /// At most one child with children of its own, and that child a chain too.
    fn is_chain(&self) -> bool {
        let mut inner = self
            .children
            .iter()
            .filter(|child| !child.children.is_empty());
        match (inner.next(), inner.next()) {
            (None, _) => true,
            (Some(only), None) => only.is_chain(),
            (Some(_), Some(_)) => false,
        }
    }

    /// The node on one line.
    fn flat(&self) -> String {
        let mut text = format!("({}", self.head);
        for child in &self.children {
            text.push(' ');
            text.push_str(&child.flat());
        }
        text.push(')');
        text
    }
}

#[derive(Default)]
struct Writer {
    out: String,
    indent: usize,
}

impl Writer {
    /// Starts a new line at the current indentation (the first line starts as is).
    fn line(&mut self, text: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
    }

    /// Prints a chain that fits on one line, anything else one child a line.
    fn node(&mut self, node: &Node) {
        if node.is_chain() {
            let flat = node.flat();
            if self.indent * 2 + flat.len() <= WIDTH {
                self.line(&flat);
                return;
            }
        }
        self.line(&format!("({}", node.head));
        self.indent += 1;
        for child in &node.children {
            self.node(child);
        }
        self.indent -= 1;
        self.out.push(')');
    }
}

// ------------------------------------------------------------------ helpers

fn with_span(head: String, span: Span) -> String {
    format!("{head} @{}..{}", span.start, span.end)
}

/// A name as it reads in source; quoted when it is not a plain identifier (a field
/// name written as a string, `"X-Hook-Token"`).
fn name(ident: &Ident) -> String {
    let mut chars = ident.name.chars();
    let plain = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        ident.name.clone()
    } else {
        format!("{:?}", ident.name)
    }
}

/// `(head @start..end children…)`.
fn spanned(head: &str, span: Span, children: Vec<Node>) -> Node {
    Node::list(with_span(head.to_string(), span), children)
}

fn literal(literal: &Literal) -> String {
    match literal {
        Literal::Int(value) => format!("int {value}"),
        Literal::Float(value) => format!("float {value:?}"),
        Literal::Duration(millis) => format!("duration {millis}ms"),
        Literal::String(text) => format!("string {text:?}"),
        Literal::Bool(value) => format!("bool {value}"),
        Literal::Null => "null".to_string(),
    }
}

// ------------------------------------------------------------------ declarations

fn item(item: &Item) -> Node {
    let mut children: Vec<Node> = item
        .docs
        .0
        .iter()
        .map(|line| Node::leaf(format!("doc {line:?}")))
        .collect();
    let head = match &item.kind {
        ItemKind::Import(import) => format!("import {:?}", import.path.value),
        ItemKind::Type(decl) => {
            children.push(ty(&decl.ty));
            format!("type {}", name(&decl.name))
        }
        ItemKind::Event(decl) => {
            children.push(ty(&decl.ty));
            format!("event {}", name(&decl.name))
        }
        ItemKind::Connection(connection) => {
            children.extend(connection.fields.iter().map(field));
            format!("connection {}", name(&connection.name))
        }
        ItemKind::Fn(decl) => {
            children.extend(decl.params.iter().map(param));
            children.push(Node::list("returns".to_string(), vec![ty(&decl.ret)]));
            children.push(expr(&decl.body));
            format!("fn {}", name(&decl.name))
        }
        ItemKind::Workflow(workflow) => {
            children.extend(workflow.params.iter().map(param));
            if let Some(ret) = &workflow.ret {
                children.push(Node::list("returns".to_string(), vec![ty(ret)]));
            }
            children.extend(workflow.triggers.iter().map(trigger));
            children.extend(workflow.settings.iter().map(|settings| {
                spanned(
                    "settings",
                    settings.span,
                    settings.fields.iter().map(field).collect(),
                )
            }));
            children.extend(workflow.body.iter().map(stmt));
            format!("workflow {}", name(&workflow.name))
        }
        ItemKind::Test(test) => {
            children.push(block(&test.body));
            format!("test {:?}", test.name.value)
        }
        ItemKind::Error => "error".to_string(),
    };
    Node::list(with_span(head, item.span), children)
}

fn param(param: &Param) -> Node {
    Node::list(format!("param {}", name(&param.name)), vec![ty(&param.ty)])
}

fn field(field: &Field) -> Node {
    Node::list(
        format!("field {}", name(&field.name)),
        vec![expr(&field.value)],
    )
}

fn fields(fields: &[Field]) -> impl Iterator<Item = Node> + '_ {
    fields.iter().map(field)
}

fn arg(arg: &Arg) -> Node {
    match &arg.name {
        Some(arg_name) => Node::list(format!("arg {}", name(arg_name)), vec![expr(&arg.value)]),
        None => expr(&arg.value),
    }
}

/// `(options …)` for the `(concurrency: 5)` after a loop head or a `where` clause.
fn options(args: &[Arg]) -> Option<Node> {
    if args.is_empty() {
        None
    } else {
        Some(Node::list(
            "options".to_string(),
            args.iter().map(arg).collect(),
        ))
    }
}

fn trigger(trigger: &Trigger) -> Node {
    let (head, children) = match &trigger.kind {
        TriggerKind::Webhook {
            method,
            path,
            options,
        } => (
            format!("on webhook {} {:?}", name(method), path.value),
            fields(options).collect(),
        ),
        TriggerKind::Schedule { cron, tz } => {
            let head = match tz {
                Some(tz) => format!("on schedule {:?} tz {:?}", cron.value, tz.value),
                None => format!("on schedule {:?}", cron.value),
            };
            (head, Vec::new())
        }
        TriggerKind::Event { name: event } => (format!("on event {}", name(event)), Vec::new()),
        TriggerKind::Manual => ("on manual".to_string(), Vec::new()),
    };
    Node::list(with_span(head, trigger.span), children)
}

// ------------------------------------------------------------------ types

fn ty(ty: &Type) -> Node {
    match &ty.kind {
        TypeKind::Name(type_name) => Node::leaf(format!("name {}", name(type_name))),
        TypeKind::Literal(value) => Node::leaf(literal(value)),
        TypeKind::List(element) => Node::list("list".to_string(), vec![self::ty(element)]),
        TypeKind::Record(type_fields) => Node::list(
            "record".to_string(),
            type_fields
                .iter()
                .map(|type_field| {
                    let mark = if type_field.optional { "?" } else { "" };
                    Node::list(
                        format!("field {}{mark}", name(&type_field.name)),
                        vec![self::ty(&type_field.ty)],
                    )
                })
                .collect(),
        ),
        TypeKind::Optional(inner) => Node::list("optional".to_string(), vec![self::ty(inner)]),
        TypeKind::Union(members) => {
            Node::list("union".to_string(), members.iter().map(self::ty).collect())
        }
        TypeKind::Error => Node::leaf(with_span("error".to_string(), ty.span)),
    }
}

// ------------------------------------------------------------------ statements

fn block(block: &Block) -> Node {
    spanned("block", block.span, block.stmts.iter().map(stmt).collect())
}

fn stmt(stmt: &Stmt) -> Node {
    let span = stmt.span;
    match &stmt.kind {
        StmtKind::Step {
            name: step_name,
            action,
        } => spanned(
            &format!("step {}", name(step_name)),
            span,
            vec![step_action(action)],
        ),
        StmtKind::Let {
            name: let_name,
            ty: annotation,
            value,
        } => {
            let mut children = Vec::new();
            if let Some(annotation) = annotation {
                children.push(Node::list("ty".to_string(), vec![ty(annotation)]));
            }
            children.push(let_value(value));
            spanned(&format!("let {}", name(let_name)), span, children)
        }
        StmtKind::Set { target, value } => spanned("set", span, vec![expr(target), expr(value)]),
        StmtKind::If {
            cond,
            then,
            otherwise,
        } => {
            let mut children = vec![expr(cond), block(then)];
            if let Some(otherwise) = otherwise {
                children.push(Node::list("else".to_string(), vec![self::stmt(otherwise)]));
            }
            spanned("if", span, children)
        }
        StmtKind::Block(inner) => block(inner),
        StmtKind::Match { scrutinee, arms } => {
            let mut children = vec![expr(scrutinee)];
            children.extend(arms.iter().map(|arm| {
                spanned(
                    "arm",
                    arm.span,
                    vec![pattern(&arm.pattern), self::stmt(&arm.body)],
                )
            }));
            spanned("match", span, children)
        }
        StmtKind::For(for_loop) => for_node(for_loop, span),
        StmtKind::Parallel { branches } => {
            spanned("parallel", span, branches.iter().map(self::stmt).collect())
        }
        StmtKind::Try {
            body,
            error,
            handler,
        } => spanned(
            "try",
            span,
            vec![
                block(body),
                Node::list(format!("catch {}", name(error)), vec![block(handler)]),
            ],
        ),
        StmtKind::Fail(value) => spanned("fail", span, vec![expr(value)]),
        StmtKind::Return(value) => spanned("return", span, value.iter().map(expr).collect()),
        StmtKind::Emit { event, payload } => {
            spanned(&format!("emit {}", name(event)), span, vec![expr(payload)])
        }
        StmtKind::Yield(value) => spanned("yield", span, vec![expr(value)]),
        StmtKind::Mock { request, response } => {
            spanned("mock", span, vec![http(request), expr(response)])
        }
        StmtKind::Assert { cond, message } => {
            let mut children = vec![expr(cond)];
            children.extend(message.iter().map(expr));
            spanned("assert", span, children)
        }
        StmtKind::Error => spanned("error", span, Vec::new()),
    }
}

fn for_node(for_loop: &ForLoop, span: Span) -> Node {
    let mut children = vec![expr(&for_loop.iter)];
    children.extend(options(&for_loop.options));
    children.push(block(&for_loop.body));
    spanned(&format!("for {}", name(&for_loop.var)), span, children)
}

fn let_value(value: &LetValue) -> Node {
    match value {
        LetValue::Expr(value) => expr(value),
        LetValue::Callback {
            args,
            ty: response,
            span,
        } => {
            let mut children: Vec<Node> = args.iter().map(arg).collect();
            if let Some(response) = response {
                children.push(Node::list("->".to_string(), vec![ty(response)]));
            }
            spanned("callback", *span, children)
        }
        LetValue::Approval { args, span } => {
            spanned("approval", *span, args.iter().map(arg).collect())
        }
        LetValue::For(for_loop, span) => for_node(for_loop, *span),
    }
}

fn step_action(action: &StepAction) -> Node {
    match action {
        StepAction::Http(call) => http(call),
        StepAction::Call {
            workflow,
            args,
            span,
        } => spanned(
            &format!("call {}", name(workflow)),
            *span,
            args.iter().map(arg).collect(),
        ),
        StepAction::Wait(duration) => Node::list("wait".to_string(), vec![expr(duration)]),
        StepAction::WaitUntil(time) => Node::list("wait until".to_string(), vec![expr(time)]),
        StepAction::Await(handle) => Node::leaf(format!("await {}", name(handle))),
        StepAction::AwaitEvent {
            event,
            binding,
            filter,
            options: args,
        } => {
            let mut children = vec![Node::list("where".to_string(), vec![expr(filter)])];
            children.extend(options(args));
            Node::list(
                format!("await event {} as {}", name(event), name(binding)),
                children,
            )
        }
        StepAction::AwaitWebhook {
            method,
            path,
            binding,
            ty: body,
            filter,
            options: args,
        } => {
            let mut children = Vec::new();
            if let Some(body) = body {
                children.push(Node::list("ty".to_string(), vec![ty(body)]));
            }
            children.push(Node::list("where".to_string(), vec![expr(filter)]));
            children.extend(options(args));
            Node::list(
                format!(
                    "await webhook {} {:?} as {}",
                    name(method),
                    path.value,
                    name(binding)
                ),
                children,
            )
        }
        StepAction::Error => Node::leaf("error".to_string()),
    }
}

fn http(call: &HttpCall) -> Node {
    let mut children = vec![match &call.target {
        HttpTarget::Url(url) => Node::list("url".to_string(), vec![expr(url)]),
        HttpTarget::Connection { connection, path } => {
            Node::list(format!("connection {}", name(connection)), vec![expr(path)])
        }
    }];
    children.extend(fields(&call.options));
    if let Some(response) = &call.response {
        children.push(Node::list("->".to_string(), vec![ty(response)]));
    }
    spanned(&format!("http {}", name(&call.method)), call.span, children)
}

// ------------------------------------------------------------------ patterns

fn pattern(pattern: &Pattern) -> Node {
    let span = pattern.span;
    match &pattern.kind {
        PatternKind::Wildcard => spanned("_", span, Vec::new()),
        PatternKind::Binding(binding) => {
            spanned(&format!("bind {}", name(binding)), span, Vec::new())
        }
        PatternKind::Literal(value) => spanned(&literal(value), span, Vec::new()),
        PatternKind::Or(alternatives) => {
            spanned("or", span, alternatives.iter().map(self::pattern).collect())
        }
        PatternKind::Error => spanned("error", span, Vec::new()),
    }
}

// ------------------------------------------------------------------ expressions

fn expr(expr: &Expr) -> Node {
    let span = expr.span;
    match &expr.kind {
        ExprKind::Literal(value) => spanned(&literal(value), span, Vec::new()),
        ExprKind::Template(parts) => spanned(
            "template",
            span,
            parts
                .iter()
                .map(|part| match part {
                    TemplatePart::Text(text, text_span) => {
                        spanned(&format!("text {text:?}"), *text_span, Vec::new())
                    }
                    TemplatePart::Expr(inner) => self::expr(inner),
                })
                .collect(),
        ),
        ExprKind::Name(ident) => spanned(&format!("name {}", name(ident)), span, Vec::new()),
        ExprKind::List(items) => spanned("list", span, items.iter().map(self::expr).collect()),
        ExprKind::Record(record) => spanned("record", span, fields(record).collect()),
        ExprKind::Tagged {
            tag,
            fields: record,
        } => spanned(
            &format!("tagged {}", name(tag)),
            span,
            fields(record).collect(),
        ),
        ExprKind::Field {
            base,
            name: field_name,
            optional,
        } => {
            let head = if *optional { "get?" } else { "get" };
            spanned(
                &format!("{head} {}", name(field_name)),
                span,
                vec![self::expr(base)],
            )
        }
        ExprKind::Index { base, index } => {
            spanned("index", span, vec![self::expr(base), self::expr(index)])
        }
        ExprKind::Call { callee, args } => {
            let mut children = vec![self::expr(callee)];
            children.extend(args.iter().map(arg));
            spanned("call", span, children)
        }
        ExprKind::Unary { op, operand } => spanned(
            &format!("unary {}", op.symbol()),
            span,
            vec![self::expr(operand)],
        ),
        ExprKind::Binary { op, lhs, rhs } => spanned(
            &format!("binary {}", op.symbol()),
            span,
            vec![self::expr(lhs), self::expr(rhs)],
        ),
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => spanned(
            "if",
            span,
            vec![self::expr(cond), self::expr(then), self::expr(otherwise)],
        ),
        ExprKind::Match { scrutinee, arms } => {
            let mut children = vec![self::expr(scrutinee)];
            children.extend(arms.iter().map(|(arm_pattern, body)| {
                Node::list(
                    "arm".to_string(),
                    vec![pattern(arm_pattern), self::expr(body)],
                )
            }));
            spanned("match", span, children)
        }
        ExprKind::Lambda { params, body } => {
            let names: Vec<String> = params.iter().map(name).collect();
            let params = Node::leaf(format!("params {}", names.join(" ")).trim_end().to_string());
            spanned("lambda", span, vec![params, self::expr(body)])
        }
        ExprKind::As { value, ty } => spanned("as", span, vec![self::expr(value), self::ty(ty)]),
        ExprKind::Paren(inner) => spanned("paren", span, vec![self::expr(inner)]),
        ExprKind::Error => spanned("error", span, Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    /// Prints the tree of `source`, whatever its diagnostics, and compares.
    fn check(source: &str, expect: &str) {
        assert_eq!(super::module(&parse(source).module), expect);
    }

    #[test]
    fn records_break_one_field_a_line() {
        check(
            r#"type Payment = { transactionId: string, amount?: float }"#,
            r#"(module @0..56
  (type Payment @0..56
    (record
      (field transactionId (name string))
      (field amount? (name float)))))
"#,
        );
    }

    #[test]
    fn chains_that_fit_stay_on_one_line() {
        check(
            r#"fn f(xs: [int]) -> int = -xs[0] + a * b"#,
            r#"(module @0..39
  (fn f @0..39
    (param xs (list (name int)))
    (returns (name int))
    (binary + @25..39
      (unary - @25..31 (index @26..31 (name xs @26..28) (int 0 @29..30)))
      (binary * @34..39 (name a @34..35) (name b @38..39)))))
"#,
        );
    }

    #[test]
    fn literals_docs_and_plain_strings() {
        check(
            r#"/// Doc "quoted".
fn f() -> json = [1.0, 2.5e3, 90m, "a\n\"b\"", true, null]
test "t" { assert f() == [] }"#,
            r#"(module @18..106
  (fn f @18..76
    (doc "Doc \"quoted\".")
    (returns (name json))
    (list @35..76
      (float 1.0 @36..39)
      (float 2500.0 @41..46)
      (duration 5400000ms @48..51)
      (string "a\n\"b\"" @53..63)
      (bool true @65..69)
      (null @71..75)))
  (test "t" @77..106
    (block @86..106
      (assert @88..104
        (binary == @95..104 (call @95..98 (name f @95..96)) (list @102..104))))))
"#,
        );
    }

    #[test]
    fn recovered_errors_print_as_error_nodes() {
        check(
            r#"42
workflow w() {
  let = 1
  let x = "${}" + #
}"#,
            r#"(module @0..49
  (error @0..2)
  (workflow w @3..49
    (error @20..27)
    (let x @30..47
      (binary + @38..47 (template @38..43 (error @39..42)) (error @46..47)))))
"#,
        );
    }
}
