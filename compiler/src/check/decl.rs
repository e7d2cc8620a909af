//! Declarations: signatures first (so bodies may refer to anything in the
//! project), then connections, functions, workflows with their triggers and
//! settings, and tests; plus the typed schemas of the built-in forms (auth, retry,
//! verification) and of option blocks.

use super::builtins::error_expr;
use super::diagnostics as diag;
use super::{BindingKind, Checker, FnSig, WorkflowCtx, WorkflowSig};
use crate::AnalyzedFile;
use crate::diagnostic::Span;
use crate::ir;
use crate::resolve::{self, diagnostics as names};
use crate::syntax::ast;
use crate::ty::{FieldTy, Ty};

pub(crate) const AUTH_FORMS: [&str; 6] = [
    "none",
    "api_key",
    "bearer",
    "basic",
    "oauth2_client_credentials",
    "oauth2_password",
];
pub(crate) const VERIFY_FORMS: [&str; 7] = [
    "header_token",
    "hmac_sha256",
    "github",
    "stripe",
    "slack",
    "standard_webhooks",
    "shopify",
];
pub(crate) const CONNECTION_FIELDS: [&str; 6] = [
    "base_url",
    "auth",
    "headers",
    "timeout",
    "retry",
    "circuit_breaker",
];
pub(crate) const HTTP_OPTIONS: [&str; 8] = [
    "headers", "query", "json", "body", "auth", "timeout", "retry", "expect",
];
pub(crate) const WEBHOOK_OPTIONS: [&str; 5] = [
    "verify",
    "idempotency_key",
    "respond",
    "body_limit",
    "rate_limit",
];
pub(crate) const SETTINGS: [&str; 4] = ["max_concurrency", "timeout", "on_success", "on_failure"];

/// A header value: text, or a secret.
pub(crate) fn header_value() -> Ty {
    Ty::union(vec![Ty::String, Ty::Secret])
}

impl Checker<'_> {
    fn items(files: &[AnalyzedFile]) -> impl Iterator<Item = (usize, &ast::Item)> {
        files
            .iter()
            .enumerate()
            .flat_map(|(index, file)| file.module.items.iter().map(move |item| (index, item)))
    }

    /// Whether this item is the one the declarations table kept for its name.
    fn is_declared(
        table: &std::collections::BTreeMap<String, resolve::DeclRef>,
        name: &ast::Ident,
        file: usize,
    ) -> bool {
        table
            .get(&name.name)
            .is_some_and(|decl| decl.file == resolve::file_id(file) && decl.name == name.span)
    }

    pub(super) fn collect_signatures(&mut self, files: &[AnalyzedFile]) {
        for (file, item) in Self::items(files) {
            self.file = resolve::file_id(file);
            if let ast::ItemKind::Type(decl) = &item.kind
                && Self::is_declared(&self.decls.types, &decl.name, file)
            {
                let ty = self.lower_type(&decl.ty);
                self.define(decl.name.span, &decl.name.name, "type", &ty);
                self.define_fields(&decl.ty, &ty);
                self.types.insert(decl.name.name.clone(), ty);
            }
        }
        let mut index = 0;
        for (file, item) in Self::items(files) {
            self.file = resolve::file_id(file);
            match &item.kind {
                ast::ItemKind::Event(decl)
                    if Self::is_declared(&self.decls.events, &decl.name, file) =>
                {
                    let ty = self.lower_type(&decl.ty);
                    self.forbid_secret_in(&ty, decl.ty.span, "in an event's payload");
                    self.define(decl.name.span, &decl.name.name, "event", &ty);
                    self.events.insert(decl.name.name.clone(), ty);
                }
                ast::ItemKind::Fn(decl)
                    if Self::is_declared(&self.decls.functions, &decl.name, file) =>
                {
                    let params = decl
                        .params
                        .iter()
                        .map(|param| (param.name.name.clone(), self.lower_type(&param.ty)))
                        .collect();
                    let ret = self.lower_type(&decl.ret);
                    self.functions
                        .insert(decl.name.name.clone(), FnSig { index, params, ret });
                    index += 1;
                }
                ast::ItemKind::Workflow(decl)
                    if Self::is_declared(&self.decls.workflows, &decl.name, file) =>
                {
                    let mut params = Vec::new();
                    for param in &decl.params {
                        let ty = self.lower_type(&param.ty);
                        self.forbid_secret_in(&ty, param.ty.span, "in a workflow's input");
                        params.push((param.name.name.clone(), ty));
                    }
                    let result = match &decl.ret {
                        Some(written) => {
                            let ty = self.lower_type(written);
                            self.forbid_secret_in(&ty, written.span, "in a workflow's result");
                            ty
                        }
                        None => Ty::Null,
                    };
                    self.workflows
                        .insert(decl.name.name.clone(), WorkflowSig { params, result });
                }
                _ => {}
            }
        }
    }

    pub(super) fn check_connections(&mut self, files: &[AnalyzedFile]) -> Vec<ir::Connection> {
        let mut out = Vec::new();
        for (file, item) in Self::items(files) {
            self.file = resolve::file_id(file);
            let ast::ItemKind::Connection(decl) = &item.kind else {
                continue;
            };
            if !Self::is_declared(&self.decls.connections, &decl.name, file) {
                continue;
            }
            let saved = self.enter_body();
            let fields = self.fields_by_name(&decl.fields, "connection field", &CONNECTION_FIELDS);
            let base_url = match fields.get("base_url") {
                Some(field) => self.check(&field.value, &Ty::String, "in a URL"),
                None => {
                    self.error(diag::missing_option(
                        "a connection",
                        "base_url",
                        decl.name.span,
                    ));
                    error_expr(decl.name.span)
                }
            };
            let auth = fields.get("auth").map(|field| self.auth_form(&field.value));
            let headers = fields
                .get("headers")
                .map(|field| self.header_fields(&field.value))
                .unwrap_or_default();
            let timeout_ms = fields
                .get("timeout")
                .and_then(|field| self.const_duration(&field.value, "a timeout"));
            let retry = fields
                .get("retry")
                .and_then(|field| self.retry_policy(&field.value));
            let circuit_breaker = fields
                .get("circuit_breaker")
                .and_then(|field| self.circuit_breaker(&field.value));
            self.leave_body(saved);
            self.define(decl.name.span, &decl.name.name, "connection", &Ty::Null);
            out.push(ir::Connection {
                name: decl.name.name.clone(),
                base_url,
                auth,
                headers,
                timeout_ms,
                retry,
                circuit_breaker,
                span: item.span,
            });
        }
        out
    }

    pub(super) fn check_functions(&mut self, files: &[AnalyzedFile]) -> Vec<ir::Function> {
        let mut out: Vec<(u32, ir::Function)> = Vec::new();
        for (file, item) in Self::items(files) {
            self.file = resolve::file_id(file);
            let ast::ItemKind::Fn(decl) = &item.kind else {
                continue;
            };
            let Some(signature) = self.functions.get(&decl.name.name).cloned() else {
                continue;
            };
            if !Self::is_declared(&self.decls.functions, &decl.name, file) {
                continue;
            }
            let fn_ty = Ty::Fn {
                params: signature.params.iter().map(|(_, ty)| ty.clone()).collect(),
                ret: Box::new(signature.ret.clone()),
            };
            self.define(decl.name.span, &decl.name.name, "fn", &fn_ty);
            let saved = self.enter_body();
            self.current_fn = Some(signature.index);
            self.push_scope();
            for (param, (_, ty)) in decl.params.iter().zip(&signature.params) {
                self.bind(
                    &param.name.name,
                    param.name.span,
                    ty.clone(),
                    BindingKind::Param,
                );
            }
            let body = self.check(&decl.body, &signature.ret, "in a function's result");
            self.current_fn = None;
            let frame_size = self.leave_body(saved);
            out.push((
                signature.index,
                ir::Function {
                    name: decl.name.name.clone(),
                    params: signature.params.iter().map(|(_, ty)| ty.clone()).collect(),
                    ret: signature.ret.clone(),
                    frame_size,
                    body,
                },
            ));
        }
        out.sort_by_key(|(index, _)| *index);
        out.into_iter().map(|(_, function)| function).collect()
    }

    pub(super) fn check_workflows(
        &mut self,
        files: &[AnalyzedFile],
    ) -> Vec<(ir::Workflow, crate::diagnostic::FileId)> {
        let mut out = Vec::new();
        for (file, item) in Self::items(files) {
            self.file = resolve::file_id(file);
            let ast::ItemKind::Workflow(decl) = &item.kind else {
                continue;
            };
            if !Self::is_declared(&self.decls.workflows, &decl.name, file) {
                continue;
            }
            let Some(signature) = self.workflows.get(&decl.name.name).cloned() else {
                continue;
            };
            let workflow = self.check_workflow(decl, &signature, item.span);
            out.push((workflow, self.file));
        }
        out
    }

    fn check_workflow(
        &mut self,
        decl: &ast::Workflow,
        signature: &WorkflowSig,
        span: Span,
    ) -> ir::Workflow {
        self.define(
            decl.name.span,
            &decl.name.name,
            "workflow",
            &signature.result,
        );
        let saved = self.enter_body();
        self.push_scope();
        let mut params = Vec::new();
        for (param, (name, ty)) in decl.params.iter().zip(&signature.params) {
            let slot = self.bind(
                &param.name.name,
                param.name.span,
                ty.clone(),
                BindingKind::Param,
            );
            params.push(ir::Param {
                name: name.clone(),
                ty: ty.clone(),
                slot,
            });
        }
        let webhook_triggers = decl
            .triggers
            .iter()
            .filter(|trigger| matches!(trigger.kind, ast::TriggerKind::Webhook { .. }))
            .count();
        let webhook = (webhook_triggers > 0).then(|| {
            let record = webhook_type();
            if webhook_triggers == decl.triggers.len() {
                record
            } else {
                Ty::optional(record)
            }
        });
        let mut ctx = WorkflowCtx {
            result: decl.ret.as_ref().map(|_| signature.result.clone()),
            webhook,
            ..WorkflowCtx::default()
        };
        self.collect_step_names(&decl.body, &mut ctx.steps);
        self.wf = Some(ctx);
        let triggers = decl
            .triggers
            .iter()
            .map(|trigger| self.check_trigger(decl, trigger, signature))
            .collect();
        let settings = self.check_settings(&decl.settings);
        let body = self.check_block_stmts(&decl.body);
        self.wf = None;
        let frame_size = self.leave_body(saved);
        ir::Workflow {
            name: decl.name.name.clone(),
            params,
            result: signature.result.clone(),
            triggers,
            settings,
            frame_size,
            body,
            bound_ms: None,
            span,
        }
    }

    fn check_trigger(
        &mut self,
        decl: &ast::Workflow,
        trigger: &ast::Trigger,
        signature: &WorkflowSig,
    ) -> ir::Trigger {
        let one_param = |checker: &mut Self, what: &str| {
            if signature.params.len() != 1 {
                checker.error(diag::trigger_input(
                    &format!(
                        "a workflow started by {what} takes exactly one parameter, `{}` takes {}",
                        decl.name.name,
                        signature.params.len()
                    ),
                    trigger.span,
                    "declare one parameter: the value each start delivers",
                ));
            }
        };
        match &trigger.kind {
            ast::TriggerKind::Webhook {
                method,
                path,
                options,
            } => {
                one_param(self, "a webhook");
                let fields = self.fields_by_name(options, "webhook option", &WEBHOOK_OPTIONS);
                let verify = fields
                    .get("verify")
                    .map(|field| self.verify_form(&field.value));
                let idempotency_key = fields.get("idempotency_key").map(|field| {
                    let wanted = Ty::union(vec![Ty::String, Ty::Int, Ty::Json, Ty::Null]);
                    self.check(&field.value, &wanted, "in an idempotency key")
                });
                let respond = match fields.get("respond").map(|field| &field.value.kind) {
                    None => ir::Respond::Accepted,
                    Some(ast::ExprKind::Name(ident)) if ident.name == "accepted" => {
                        ir::Respond::Accepted
                    }
                    Some(ast::ExprKind::Name(ident)) if ident.name == "wait" => ir::Respond::Wait,
                    Some(_) => {
                        let span = fields
                            .get("respond")
                            .map_or(trigger.span, |field| field.value.span);
                        let name = self.quote(span);
                        let suggestion = name
                            .as_deref()
                            .and_then(|name| names::suggest(name, ["accepted", "wait"]));
                        self.error(diag::unknown_form(
                            "a way to respond",
                            name.as_deref(),
                            span,
                            &["accepted", "wait"],
                            suggestion,
                        ));
                        ir::Respond::Accepted
                    }
                };
                let body_limit = fields
                    .get("body_limit")
                    .and_then(|field| self.const_at_least(&field.value, "`body_limit`", 1))
                    .and_then(|bytes| u64::try_from(bytes).ok());
                let rate_limit = fields
                    .get("rate_limit")
                    .and_then(|field| self.rate_limit(&field.value));
                ir::Trigger::Webhook {
                    method: method.name.clone(),
                    path: path.value.clone(),
                    verify,
                    idempotency_key,
                    respond,
                    body_limit,
                    rate_limit,
                }
            }
            ast::TriggerKind::Schedule { cron, tz } => {
                if !signature.params.is_empty() {
                    self.error(diag::trigger_input(
                        &format!(
                            "a scheduled workflow takes no parameters, `{}` takes {}",
                            decl.name.name,
                            signature.params.len()
                        ),
                        trigger.span,
                        "remove the parameters, or start the workflow another way",
                    ));
                }
                self.check_cron(cron);
                let zone = match tz {
                    Some(tz) => {
                        self.check_time_zone(tz);
                        tz.value.clone()
                    }
                    None => "UTC".to_string(),
                };
                if self.record {
                    self.info.schedules.push(super::Schedule {
                        workflow: decl.name.name.clone(),
                        cron: cron.value.clone(),
                        tz: zone.clone(),
                        file: self.file,
                        span: trigger.span,
                    });
                }
                ir::Trigger::Schedule {
                    cron: cron.value.clone(),
                    tz: zone,
                }
            }
            ast::TriggerKind::Event { name } => {
                one_param(self, "an event");
                match self.events.get(&name.name).cloned() {
                    Some(event_ty) => {
                        self.reference(name.span, &name.name);
                        if let Some((_, param)) = signature.params.first()
                            && !self.assignable(&event_ty, param)
                        {
                            self.error(diag::trigger_input(
                                &format!("the event `{}` carries `{event_ty}`, but the workflow takes `{param}`", name.name),
                                trigger.span,
                                "make the parameter's type the event's type",
                            ));
                        }
                    }
                    None => {
                        let suggestion =
                            names::suggest(&name.name, self.events.keys().map(String::as_str));
                        self.error(names::unknown_event(&name.name, name.span, suggestion));
                    }
                }
                ir::Trigger::Event {
                    event: name.name.clone(),
                }
            }
            ast::TriggerKind::Manual => ir::Trigger::Manual,
        }
    }

    fn check_settings(&mut self, blocks: &[ast::Settings]) -> ir::Settings {
        let mut settings = ir::Settings::default();
        let Some(block) = blocks.first() else {
            return settings;
        };
        for extra in blocks.iter().skip(1) {
            self.error(diag::duplicate_option("settings", extra.span, block.span));
        }
        let fields = self.fields_by_name(&block.fields, "setting", &SETTINGS);
        if let Some(field) = fields.get("max_concurrency") {
            settings.max_concurrency = self
                .const_at_least(&field.value, "`max_concurrency`", 1)
                .map(|value| u32::try_from(value).unwrap_or(u32::MAX));
        }
        if let Some(field) = fields.get("timeout") {
            settings.timeout_ms = self.const_duration(&field.value, "a timeout");
        }
        settings.on_success = fields
            .get("on_success")
            .map(|field| self.hook(&field.value));
        settings.on_failure = fields
            .get("on_failure")
            .map(|field| self.hook(&field.value));
        settings
    }

    fn hook(&mut self, value: &ast::Expr) -> ir::Hook {
        match &value.kind {
            ast::ExprKind::Name(ident) => {
                if self.workflows.contains_key(&ident.name) {
                    self.reference(ident.span, &ident.name);
                } else {
                    let suggestion =
                        names::suggest(&ident.name, self.workflows.keys().map(String::as_str));
                    self.error(names::unknown_workflow(&ident.name, ident.span, suggestion));
                }
                ir::Hook::Workflow {
                    name: ident.name.clone(),
                }
            }
            ast::ExprKind::Literal(ast::Literal::String(url)) => ir::Hook::Url { url: url.clone() },
            _ => {
                let found = self.infer(value);
                self.error(diag::mismatched_in(
                    "`on_success`/`on_failure` name a workflow or a URL",
                    &Ty::String,
                    &found.ty,
                    value.span,
                ));
                ir::Hook::Url { url: String::new() }
            }
        }
    }

    pub(super) fn check_tests(&mut self, files: &[AnalyzedFile]) {
        for (file, item) in Self::items(files) {
            self.file = resolve::file_id(file);
            let ast::ItemKind::Test(decl) = &item.kind else {
                continue;
            };
            let saved = self.enter_body();
            self.push_scope();
            let mut ctx = WorkflowCtx {
                in_test: true,
                ..WorkflowCtx::default()
            };
            self.collect_step_names(&decl.body.stmts, &mut ctx.steps);
            self.wf = Some(ctx);
            let _ = self.check_block_stmts(&decl.body.stmts);
            self.wf = None;
            self.leave_body(saved);
        }
    }

    // -------------------------------------------------------------- schemas

    /// The fields of a block by name; unknown and repeated names are reported.
    pub(super) fn fields_by_name<'f>(
        &mut self,
        fields: &'f [ast::Field],
        what: &str,
        known: &[&str],
    ) -> std::collections::BTreeMap<&'f str, &'f ast::Field> {
        self.fields_by_name_of(fields, what, None, known)
    }

    /// The fields of a block by name, the block being a form such as `bearer`.
    pub(super) fn fields_by_name_of<'f>(
        &mut self,
        fields: &'f [ast::Field],
        what: &str,
        owner: Option<&str>,
        known: &[&str],
    ) -> std::collections::BTreeMap<&'f str, &'f ast::Field> {
        let mut out: std::collections::BTreeMap<&str, &ast::Field> =
            std::collections::BTreeMap::new();
        for field in fields {
            let name = field.name.name.as_str();
            if !known.contains(&name) {
                let suggestion = names::suggest(name, known.iter().copied());
                self.error(diag::unknown_option_of(
                    what,
                    owner,
                    name,
                    field.name.span,
                    known,
                    suggestion,
                ));
                continue;
            }
            if let Some(first) = out.get(name) {
                self.error(diag::duplicate_option(
                    name,
                    field.name.span,
                    first.name.span,
                ));
                continue;
            }
            out.insert(name, field);
        }
        out
    }

    /// `headers: { "X-Key": value }`: string or secret values.
    pub(super) fn header_fields(&mut self, value: &ast::Expr) -> Vec<(String, ir::Expr)> {
        match &value.kind {
            ast::ExprKind::Record(fields) => fields
                .iter()
                .map(|field| {
                    (
                        field.name.name.clone(),
                        self.check(&field.value, &header_value(), "in a header"),
                    )
                })
                .collect(),
            _ => {
                let found = self.infer(value);
                self.error(diag::mismatched_in(
                    "headers are written as a record literal",
                    &Ty::map(Ty::String),
                    &found.ty,
                    value.span,
                ));
                Vec::new()
            }
        }
    }

    pub(super) fn auth_form(&mut self, value: &ast::Expr) -> ir::Expr {
        let secretish = header_value();
        let scopes = Ty::list(Ty::String);
        let (tag, fields): (&ast::Ident, &[ast::Field]) = match &value.kind {
            ast::ExprKind::Name(ident) if ident.name == "none" => {
                return ir::Expr {
                    kind: ir::ExprKind::Tagged {
                        tag: "none".into(),
                        fields: Vec::new(),
                    },
                    ty: Ty::Secret,
                    span: value.span,
                };
            }
            ast::ExprKind::Tagged { tag, fields } => (tag, fields),
            _ => {
                let name = self.quote(value.span);
                let suggestion = match &value.kind {
                    ast::ExprKind::Name(ident) => names::suggest(&ident.name, AUTH_FORMS),
                    _ => None,
                };
                self.error(diag::unknown_form(
                    "an auth form",
                    name.as_deref(),
                    value.span,
                    &AUTH_FORMS,
                    suggestion,
                ));
                return error_expr(value.span);
            }
        };
        let schema: Vec<(&str, Ty, bool)> = match tag.name.as_str() {
            "api_key" => vec![
                ("header", Ty::String, false),
                ("query", Ty::String, false),
                ("value", secretish.clone(), true),
            ],
            "bearer" => vec![("token", secretish.clone(), true)],
            "basic" => vec![
                ("username", secretish.clone(), true),
                ("password", secretish.clone(), true),
            ],
            "oauth2_client_credentials" => vec![
                ("token_url", Ty::String, true),
                ("client_id", secretish.clone(), true),
                ("client_secret", secretish.clone(), true),
                ("scopes", scopes.clone(), false),
            ],
            "oauth2_password" => vec![
                ("token_url", Ty::String, true),
                ("client_id", secretish.clone(), true),
                ("client_secret", secretish.clone(), true),
                ("username", secretish.clone(), true),
                ("password", secretish.clone(), true),
                ("scopes", scopes, false),
            ],
            other => {
                let suggestion = names::suggest(other, AUTH_FORMS);
                self.error(diag::unknown_form(
                    "an auth form",
                    Some(other),
                    tag.span,
                    &AUTH_FORMS,
                    suggestion,
                ));
                return error_expr(value.span);
            }
        };
        let lowered = self.form_fields(&tag.name, tag.span, fields, &schema);
        if tag.name == "api_key"
            && !fields
                .iter()
                .any(|field| field.name.name == "header" || field.name.name == "query")
        {
            self.error(diag::missing_one_of(
                "`api_key`",
                &["header", "query"],
                tag.span,
            ));
        }
        ir::Expr {
            kind: ir::ExprKind::Tagged {
                tag: tag.name.clone(),
                fields: lowered,
            },
            ty: Ty::Secret,
            span: value.span,
        }
    }

    fn form_fields(
        &mut self,
        form: &str,
        span: Span,
        fields: &[ast::Field],
        schema: &[(&str, Ty, bool)],
    ) -> Vec<(String, ir::Expr)> {
        let known: Vec<&str> = schema.iter().map(|(name, _, _)| *name).collect();
        let owner = format!("`{form}`");
        let by_name = self.fields_by_name_of(fields, "field", Some(&owner), &known);
        let mut out = Vec::new();
        for (name, ty, required) in schema {
            match by_name.get(name) {
                Some(field) => out.push((
                    name.to_string(),
                    self.check(&field.value, ty, "in this field"),
                )),
                None if *required => {
                    self.error(diag::missing_option(&format!("`{form}`"), name, span))
                }
                None => {}
            }
        }
        out
    }

    /// `header_token(…)`, `hmac_sha256(…)` and the provider presets.
    pub(super) fn verify_form(&mut self, value: &ast::Expr) -> ir::Expr {
        let ast::ExprKind::Call { callee, args } = &value.kind else {
            self.error(diag::unknown_form(
                "a verification form",
                self.quote(value.span).as_deref(),
                value.span,
                &VERIFY_FORMS,
                None,
            ));
            return error_expr(value.span);
        };
        let ast::ExprKind::Name(tag) = &callee.kind else {
            self.error(diag::unknown_form(
                "a verification form",
                self.quote(value.span).as_deref(),
                value.span,
                &VERIFY_FORMS,
                None,
            ));
            return error_expr(value.span);
        };
        let key = header_value();
        let schema: Vec<(&str, Ty)> = match tag.name.as_str() {
            "header_token" => vec![("header", Ty::String), ("secret", key)],
            "hmac_sha256" => vec![
                ("header", Ty::String),
                ("secret", key),
                (
                    "encoding",
                    Ty::union(vec![Ty::string_lit("hex"), Ty::string_lit("base64")]),
                ),
            ],
            "github" | "stripe" | "slack" | "standard_webhooks" | "shopify" => {
                vec![("secret", key)]
            }
            other => {
                let suggestion = names::suggest(other, VERIFY_FORMS);
                self.error(diag::unknown_form(
                    "a verification form",
                    Some(other),
                    tag.span,
                    &VERIFY_FORMS,
                    suggestion,
                ));
                return error_expr(value.span);
            }
        };
        let fields = self
            .form_args(&tag.name, value.span, args, &schema)
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name, value)))
            .collect();
        ir::Expr {
            kind: ir::ExprKind::Tagged {
                tag: tag.name.clone(),
                fields,
            },
            ty: Ty::Secret,
            span: value.span,
        }
    }

    /// Arguments of a form written as a call: positional first, then named.
    fn form_args(
        &mut self,
        form: &str,
        span: Span,
        args: &[ast::Arg],
        schema: &[(&str, Ty)],
    ) -> Vec<(String, Option<ir::Expr>)>
where {
        let signature = format!(
            "{form}({})",
            schema
                .iter()
                .map(|(name, ty)| format!("{name}: {ty}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut slots: Vec<Option<ir::Expr>> = vec![None; schema.len()];
        let mut next = 0;
        for arg in args {
            let position = match &arg.name {
                Some(name) => schema.iter().position(|(known, _)| *known == name.name),
                None => {
                    next += 1;
                    (next - 1 < schema.len()).then_some(next - 1)
                }
            };
            match position {
                Some(position) if slots[position].is_none() => {
                    let ty = schema[position].1.clone();
                    slots[position] = Some(self.check(&arg.value, &ty, "in this argument"));
                }
                _ => self.error(diag::wrong_arguments(
                    &format!("`{form}`"),
                    "an argument matches no parameter",
                    arg.span,
                    &signature,
                )),
            }
        }
        for ((name, _), slot) in schema.iter().zip(&slots) {
            if slot.is_none() {
                self.error(diag::wrong_arguments(
                    &format!("`{form}`"),
                    &format!("missing the argument `{name}`"),
                    span,
                    &signature,
                ));
            }
        }
        schema
            .iter()
            .zip(slots)
            .map(|((name, _), slot)| (name.to_string(), slot))
            .collect()
    }

    /// `exponential(attempts: 5, initial: 1s, max: 8s)`, with constant values.
    pub(super) fn retry_policy(&mut self, value: &ast::Expr) -> Option<ir::RetryPolicy> {
        let ast::ExprKind::Call { callee, args } = &value.kind else {
            self.error(diag::unknown_form(
                "a retry policy",
                self.quote(value.span).as_deref(),
                value.span,
                &["exponential"],
                None,
            ));
            return None;
        };
        let ast::ExprKind::Name(tag) = &callee.kind else {
            self.error(diag::unknown_form(
                "a retry policy",
                self.quote(value.span).as_deref(),
                value.span,
                &["exponential"],
                None,
            ));
            return None;
        };
        if tag.name != "exponential" {
            let suggestion = names::suggest(&tag.name, ["exponential"]);
            self.error(diag::unknown_form(
                "a retry policy",
                Some(&tag.name),
                tag.span,
                &["exponential"],
                suggestion,
            ));
            return None;
        }
        let schema = [
            ("attempts", Ty::Int),
            ("initial", Ty::Duration),
            ("max", Ty::Duration),
        ];
        const SIGNATURE: &str = "exponential(attempts: int, initial: duration, max: duration)";
        let mut values = [None, None, None];
        let mut next = 0;
        let mut spans = [value.span; 3];
        // Where each parameter was first given: a second one is reported, dropped.
        let mut given: [Option<Span>; 3] = [None; 3];
        for arg in args {
            let position = match &arg.name {
                Some(name) => schema.iter().position(|(known, _)| *known == name.name),
                None => {
                    next += 1;
                    (next - 1 < 3).then_some(next - 1)
                }
            };
            let Some(position) = position else {
                self.error(diag::wrong_arguments(
                    "`exponential`",
                    "an argument matches no parameter",
                    arg.span,
                    SIGNATURE,
                ));
                continue;
            };
            let at = arg.name.as_ref().map_or(arg.span, |name| name.span);
            if let Some(first) = given[position] {
                self.error(diag::duplicate_option(schema[position].0, at, first));
                continue;
            }
            given[position] = Some(at);
            spans[position] = arg.value.span;
            values[position] = if position == 0 {
                self.const_int(&arg.value, "`attempts`")
            } else {
                self.const_duration(&arg.value, "a retry delay")
            };
        }
        for ((name, _), given) in schema.iter().zip(given) {
            if given.is_none() {
                self.error(diag::wrong_arguments(
                    "`exponential`",
                    &format!("missing the argument `{name}`"),
                    value.span,
                    SIGNATURE,
                ));
            }
        }
        let [Some(attempts), Some(initial_ms), Some(max_ms)] = values else {
            return None;
        };
        if attempts < 1 {
            self.error(diag::invalid_retry(
                &format!("`attempts` is {attempts}; at least 1 try is made"),
                spans[0],
            ));
            return None;
        }
        if initial_ms > max_ms {
            self.error(diag::invalid_retry(
                "`initial` is longer than `max`",
                spans[1].to(spans[2]),
            ));
            return None;
        }
        Some(ir::RetryPolicy {
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            initial_ms,
            max_ms,
        })
    }

    fn circuit_breaker(&mut self, value: &ast::Expr) -> Option<ir::CircuitBreaker> {
        let ast::ExprKind::Record(fields) = &value.kind else {
            let found = self.infer(value);
            let wanted = Ty::record(vec![
                FieldTy {
                    name: "failures".into(),
                    ty: Ty::Int,
                    optional: false,
                },
                FieldTy {
                    name: "reset_after".into(),
                    ty: Ty::Duration,
                    optional: false,
                },
            ]);
            self.error(diag::mismatched_types(&wanted, &found.ty, value.span));
            return None;
        };
        let by_name = self.fields_by_name(
            fields,
            "circuit breaker field",
            &["failures", "reset_after"],
        );
        let failures = match by_name.get("failures") {
            Some(field) => self.const_at_least(&field.value, "`failures`", 1),
            None => {
                self.error(diag::missing_option(
                    "a circuit breaker",
                    "failures",
                    value.span,
                ));
                None
            }
        };
        let reset = match by_name.get("reset_after") {
            Some(field) => self.const_duration(&field.value, "`reset_after`"),
            None => {
                self.error(diag::missing_option(
                    "a circuit breaker",
                    "reset_after",
                    value.span,
                ));
                None
            }
        };
        Some(ir::CircuitBreaker {
            failures: u32::try_from(failures?).unwrap_or(u32::MAX),
            reset_after_ms: reset?,
        })
    }

    /// `rate_limit: { requests: 100, per: 1s }`, both constant and positive.
    fn rate_limit(&mut self, value: &ast::Expr) -> Option<ir::RateLimit> {
        let ast::ExprKind::Record(fields) = &value.kind else {
            let found = self.infer(value);
            let wanted = Ty::record(vec![
                FieldTy {
                    name: "requests".into(),
                    ty: Ty::Int,
                    optional: false,
                },
                FieldTy {
                    name: "per".into(),
                    ty: Ty::Duration,
                    optional: false,
                },
            ]);
            self.error(diag::mismatched_types(&wanted, &found.ty, value.span));
            return None;
        };
        let by_name = self.fields_by_name(fields, "rate limit field", &["requests", "per"]);
        let requests = match by_name.get("requests") {
            Some(field) => self.const_at_least(&field.value, "`requests`", 1),
            None => {
                self.error(diag::missing_option("a rate limit", "requests", value.span));
                None
            }
        };
        let per = match by_name.get("per") {
            Some(field) => self.const_positive_duration(&field.value, "`per`"),
            None => {
                self.error(diag::missing_option("a rate limit", "per", value.span));
                None
            }
        };
        Some(ir::RateLimit {
            requests: u32::try_from(requests?).unwrap_or(u32::MAX),
            per_ms: per?,
        })
    }

    /// A constant duration longer than zero. `-1s` is a negated literal, not a
    /// computed value, so it is reported as out of range (E0425) like `0s`.
    fn const_positive_duration(&mut self, value: &ast::Expr, what: &str) -> Option<i64> {
        let millis = match &value.kind {
            ast::ExprKind::Unary {
                op: ast::UnaryOp::Neg,
                operand,
            } if matches!(
                operand.kind,
                ast::ExprKind::Literal(ast::Literal::Duration(_))
            ) =>
            {
                self.const_duration(operand, what)
                    .map(i64::saturating_neg)?
            }
            _ => self.const_duration(value, what)?,
        };
        if millis < 1 {
            self.error(diag::duration_out_of_range(what, millis, value.span));
            return None;
        }
        Some(millis)
    }

    /// A constant `int` of at least `min`; a smaller one is reported (E0425).
    pub(super) fn const_at_least(
        &mut self,
        value: &ast::Expr,
        what: &str,
        min: i64,
    ) -> Option<i64> {
        let found = self.const_int(value, what)?;
        if found < min {
            self.error(diag::out_of_range(what, min, found, value.span));
            return None;
        }
        Some(found)
    }

    /// A constant `int`: a literal, maybe negated (`-1` is a prefix minus applied
    /// to a literal, SPEC §3.5) or parenthesised.
    pub(super) fn const_int(&mut self, value: &ast::Expr, what: &str) -> Option<i64> {
        match &value.kind {
            ast::ExprKind::Literal(ast::Literal::Int(value)) => Some(*value),
            ast::ExprKind::Paren(inner) => self.const_int(inner, what),
            ast::ExprKind::Unary {
                op: ast::UnaryOp::Neg,
                operand,
            } if matches!(operand.kind, ast::ExprKind::Literal(ast::Literal::Int(_))) => {
                self.const_int(operand, what).and_then(i64::checked_neg)
            }
            _ => {
                let found = self.infer(value);
                if self.assignable(&found.ty, &Ty::Int) {
                    self.error(diag::not_constant(what, value.span));
                } else {
                    self.error(diag::mismatched_in(what, &Ty::Int, &found.ty, value.span));
                }
                None
            }
        }
    }

    pub(super) fn const_duration(&mut self, value: &ast::Expr, what: &str) -> Option<i64> {
        match &value.kind {
            ast::ExprKind::Literal(ast::Literal::Duration(millis)) => Some(*millis),
            ast::ExprKind::Paren(inner) => self.const_duration(inner, what),
            _ => {
                let found = self.infer(value);
                if matches!(self.resolve_ref(&found.ty), Ty::Duration | Ty::Error) {
                    self.error(diag::not_constant(what, value.span));
                } else {
                    self.error(diag::mismatched_in(
                        what,
                        &Ty::Duration,
                        &found.ty,
                        value.span,
                    ));
                }
                None
            }
        }
    }
}

/// The request metadata of `webhook`.
pub(crate) fn webhook_type() -> Ty {
    let string_map = Ty::map(Ty::String);
    Ty::record(vec![
        FieldTy {
            name: "headers".into(),
            ty: string_map.clone(),
            optional: false,
        },
        FieldTy {
            name: "query".into(),
            ty: string_map,
            optional: false,
        },
        FieldTy {
            name: "method".into(),
            ty: Ty::String,
            optional: false,
        },
        FieldTy {
            name: "path".into(),
            ty: Ty::String,
            optional: false,
        },
        FieldTy {
            name: "remote_ip".into(),
            ty: Ty::String,
            optional: false,
        },
    ])
}
