//! Signature help inside the parentheses of a call.
//!
//! The call is found from the tokens before the cursor (the innermost `(` still
//! open that directly follows a name), so it works while the arguments are half
//! written. The callee is a `fn` of the project, a workflow after `call`, or a
//! standard library function (called plainly or as a method, whose receiver is
//! then the first parameter and not counted among the written arguments).

use super::SignatureHelp;
use super::context::Cursor;
use crate::syntax::ast;
use crate::syntax::token::Token;
use crate::{Analysis, FileId, stdlib};

/// The signature of the call whose parentheses hold `offset`, with the parameter
/// being written; `None` outside a call.
pub fn signature_help(analysis: &Analysis, file: FileId, offset: u32) -> Option<SignatureHelp> {
    let source = analysis.file(file)?;
    let cursor = Cursor::new(&source.text, offset);
    if cursor.quiet {
        return None;
    }
    // The prefix (a name being typed as an argument) is not a token of `before`,
    // which is what the argument count needs.
    let open = cursor.open_brackets();
    let paren = *open
        .iter()
        .rev()
        .find(|&&index| cursor.before[index].0 == Token::CallParen)?;
    // Only the innermost bracket counts: inside `f([a, |])` the list is being
    // written, not the call's arguments.
    if open.last() != Some(&paren) {
        return None;
    }
    let callee_index = paren.checked_sub(1)?;
    let (callee_token, callee_span) = cursor.before[callee_index];
    if callee_token != Token::Ident {
        return None;
    }
    let callee = cursor.slice(callee_span);
    let before_callee = callee_index
        .checked_sub(1)
        .map(|index| cursor.before[index].0);
    let method = matches!(before_callee, Some(Token::Dot | Token::QuestionDot));
    let (written, named) = arguments(&cursor, paren);
    let signature = if before_callee == Some(Token::Call) {
        workflow_signature(analysis, callee)?
    } else if let Some(signature) = (!method).then(|| fn_signature(analysis, callee)).flatten() {
        signature
    } else {
        builtin_signature(callee, method, written)?
    };
    let active = match named {
        Some(name) => signature
            .names
            .iter()
            .position(|param| *param == name)
            .or(Some(written)),
        None => Some(written),
    };
    let skip = usize::from(signature.receiver);
    let active = active.map(|index| index + skip);
    Some(SignatureHelp {
        active_parameter: active
            .filter(|index| *index < signature.parameters.len())
            .and_then(|index| u32::try_from(index).ok()),
        label: signature.label,
        parameters: signature.parameters,
        documentation: signature.documentation,
    })
}

struct Built {
    label: String,
    parameters: Vec<(u32, u32)>,
    names: Vec<String>,
    documentation: Option<String>,
    /// Whether the first parameter is the receiver of a method call.
    receiver: bool,
}

/// How many arguments precede the cursor's, and the name of the cursor's argument
/// when it is written `name: …`.
fn arguments<'a>(cursor: &Cursor<'a>, paren: usize) -> (usize, Option<&'a str>) {
    let mut depth = 0usize;
    let mut commas = 0;
    let mut start = paren + 1;
    for (index, (token, _)) in cursor.before.iter().enumerate().skip(paren + 1) {
        match token {
            Token::LBrace
            | Token::LParen
            | Token::CallParen
            | Token::LBracket
            | Token::InterpOpen => depth += 1,
            Token::RBrace | Token::RParen | Token::RBracket | Token::InterpClose => {
                depth = depth.saturating_sub(1);
            }
            Token::Comma if depth == 0 => {
                commas += 1;
                start = index + 1;
            }
            _ => {}
        }
    }
    let named = match (cursor.before.get(start), cursor.before.get(start + 1)) {
        (Some((Token::Ident, name)), Some((Token::Colon, _))) => Some(cursor.slice(*name)),
        _ => None,
    };
    (commas, named)
}

/// `name(a: T, b: U) -> R` from `(name, type)` pairs, with each parameter's range.
fn build(
    prefix: &str,
    params: &[(String, String)],
    ret: Option<String>,
    documentation: Option<String>,
) -> Built {
    let mut label = format!("{prefix}(");
    let mut parameters = Vec::new();
    for (index, (name, ty)) in params.iter().enumerate() {
        if index > 0 {
            label.push_str(", ");
        }
        let start = u32::try_from(label.len()).unwrap_or(u32::MAX);
        label.push_str(name);
        if !ty.is_empty() {
            label.push_str(": ");
            label.push_str(ty);
        }
        parameters.push((start, u32::try_from(label.len()).unwrap_or(u32::MAX)));
    }
    label.push(')');
    if let Some(ret) = ret {
        label.push_str(" -> ");
        label.push_str(&ret);
    }
    Built {
        label,
        parameters,
        names: params.iter().map(|(name, _)| name.clone()).collect(),
        documentation,
        receiver: false,
    }
}

fn text_of(text: &str, span: crate::Span) -> &str {
    text.get(span.range()).unwrap_or("")
}

fn docs(item: &ast::Item) -> Option<String> {
    (!item.docs.0.is_empty()).then(|| item.docs.0.join("\n"))
}

/// Each parameter's name and its type as written.
fn params_of(text: &str, params: &[ast::Param]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|param| {
            (
                param.name.name.clone(),
                text_of(text, param.ty.span).to_string(),
            )
        })
        .collect()
}

fn fn_signature(analysis: &Analysis, name: &str) -> Option<Built> {
    analysis.files.iter().find_map(|file| {
        file.module.items.iter().find_map(|item| match &item.kind {
            ast::ItemKind::Fn(decl) if decl.name.name == name => {
                let params = params_of(&file.text, &decl.params);
                Some(build(
                    &format!("fn {name}"),
                    &params,
                    Some(text_of(&file.text, decl.ret.span).to_string()),
                    docs(item),
                ))
            }
            _ => None,
        })
    })
}

fn workflow_signature(analysis: &Analysis, name: &str) -> Option<Built> {
    analysis.files.iter().find_map(|file| {
        file.module.items.iter().find_map(|item| match &item.kind {
            ast::ItemKind::Workflow(decl) if decl.name.name == name => {
                let params = params_of(&file.text, &decl.params);
                let ret = decl
                    .ret
                    .as_ref()
                    .map(|ret| text_of(&file.text, ret.span).to_string());
                Some(build(&format!("workflow {name}"), &params, ret, docs(item)))
            }
            _ => None,
        })
    })
}

/// A standard library function's signature: the first overload with room for the
/// arguments written so far.
fn builtin_signature(name: &str, method: bool, written: usize) -> Option<Built> {
    let builtin = stdlib::lookup(name)?;
    if method && !builtin.method {
        return None;
    }
    let needed = written + 1 + usize::from(method);
    let signature = builtin
        .overloads
        .iter()
        .find(|signature| signature.params.len() >= needed)
        .or_else(|| builtin.overloads.first())?;
    let params: Vec<(String, String)> = signature
        .params
        .iter()
        .map(|param| {
            let ty = match param.default {
                Some(default) => format!("{} = {default}", param.ty),
                None => param.ty.to_string(),
            };
            (param.name.to_string(), ty)
        })
        .collect();
    let mut built = build(
        name,
        &params,
        Some(signature.ret.to_string()),
        Some(builtin.doc.to_string()),
    );
    built.receiver = method;
    Some(built)
}
