//! Prints a syntax tree as indented S-expressions, for snapshot tests and debugging.
//!
//! `Debug` output of the tree is hundreds of lines of struct syntax and changes
//! whenever a field is renamed; a snapshot made of it reads like noise. This printer
//! shows each node as `(head @start..end children…)`, one node a line, two spaces of
//! indentation a level, and puts a node on one line when all its children are leaves
//! and it fits in [`WIDTH`] columns. The form is stable: it depends on the tree only,
//! never on addresses or hash order.
//!
//! Spans follow the head of every node that has one of its own: declarations,
//! triggers, statements, blocks, expressions, patterns and HTTP calls. Names are
//! printed bare, and types, fields, arguments and parameters without spans (theirs
//! cover exactly their parts), which keeps the type annotations short. Literals
//! print as `(int 3)`, `(float 1.0)`, `(duration 600000ms)` and `(string "a\n")`,
//! strings with Rust's escaping.

use super::ast::*;
use crate::diagnostic::Span;

/// The column past which a node whose children are all leaves is broken into lines.
pub const WIDTH: usize = 88;

/// Prints a whole module, ending with a newline.
pub fn module(module: &Module) -> String {
    let tree = Node::list(
        with_span("module".to_string(), module.span),
        module.items.iter().map(item).collect(),
    );
    let mut writer = Writer::default();
    writer.node(&tree);
    writer.out.push('\n');
    writer.out
}

// ------------------------------------------------------------------ the writer

/// A printed node: a bare atom (a name, a string) or `(head children…)`.
enum Node {
    Atom(String),
    List(String, Vec<Node>),
}

impl Node {
    fn list(head: String, children: Vec<Node>) -> Node {
        Node::List(head, children)
    }

    fn leaf(head: String) -> Node {
        Node::List(head, Vec::new())
    }

    fn is_leaf(&self) -> bool {
        match self {
            Node::Atom(_) => true,
            Node::List(_, children) => children.is_empty(),
        }
    }

    /// The node on one line.
    fn flat(&self) -> String {
        match self {
            Node::Atom(text) => text.clone(),
            Node::List(head, children) => {
                let mut text = format!("({head}");
                for child in children {
                    text.push(' ');
                    text.push_str(&child.flat());
                }
                text.push(')');
                text
            }
        }
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

    fn node(&mut self, node: &Node) {
        let Node::List(head, children) = node else {
            self.line(&node.flat());
            return;
        };
        if children.iter().all(Node::is_leaf) {
            let flat = node.flat();
            if self.indent * 2 + flat.len() <= WIDTH {
                self.line(&flat);
                return;
            }
        }
        self.line(&format!("({head}"));
        self.indent += 1;
        for child in children {
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

fn string(text: &str) -> Node {
    Node::Atom(format!("{text:?}"))
}

/// `(head children…)` where `children` follow the optional span.
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
        .map(|line| Node::list("doc".to_string(), vec![string(line)]))
        .collect();
    let head = match &item.kind {
        ItemKind::Import(import) => {
            children.push(string(&import.path.value));
            "import".to_string()
        }
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
            children.push(string(&test.name.value));
            children.push(block(&test.body));
            "test".to_string()
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
        } => {
            let mut children = vec![string(&path.value)];
            children.extend(fields(options));
            (format!("on webhook {}", name(method)), children)
        }
        TriggerKind::Schedule { cron, tz } => {
            let mut children = vec![string(&cron.value)];
            if let Some(tz) = tz {
                children.push(Node::list("tz".to_string(), vec![string(&tz.value)]));
            }
            ("on schedule".to_string(), children)
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
            let mut children = vec![string(&path.value)];
            if let Some(body) = body {
                children.push(Node::list("ty".to_string(), vec![ty(body)]));
            }
            children.push(Node::list("where".to_string(), vec![expr(filter)]));
            children.extend(options(args));
            Node::list(
                format!("await webhook {} as {}", name(method), name(binding)),
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
        ExprKind::Paren(inner) => spanned("paren", span, vec![self::expr(inner)]),
        ExprKind::Error => spanned("error", span, Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    fn check(source: &str, expect: &str) {
        let parsed = parse(source);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert_eq!(super::module(&parsed.module), expect);
    }

    #[test]
    fn prints_a_type_declaration() {
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
    fn breaks_nodes_with_inner_lists() {
        check(
            r#"fn f(x: int) -> float = 1.0 + x * 2"#,
            r#"(module @0..35
  (fn f @0..35
    (param x (name int))
    (returns (name float))
    (binary + @24..35
      (float 1.0 @24..27)
      (binary * @30..35 (name x @30..31) (int 2 @34..35)))))
"#,
        );
    }
}
