//! The parser: balanced tokens → [`ast::Module`], following `grammar/flow.ebnf`.
//!
//! Built with chumsky combinators, operators with its Pratt parser. It recovers at
//! three levels so that one file reports all its mistakes: a broken declaration is
//! skipped up to the next declaration keyword, a broken statement up to the next
//! statement keyword (bracket groups are skipped whole, which is safe because
//! `balance` guaranteed they are closed), and a broken `${…}` up to its `}`. Errors
//! from chumsky become coded diagnostics in [`to_diagnostic`]; checks that need a
//! finished subtree (chained comparisons, `set` targets) run in [`validate`].

use super::ast::*;
use super::balance;
use super::diagnostics as diag;
use super::lexer::{self, Lexed};
use super::token::{HTTP_METHODS, Token};
use crate::diagnostic::{Diagnostic, Span};
use chumsky::error::{Rich, RichPattern, RichReason};
use chumsky::input::{Input as _, ValueInput};
use chumsky::label::LabelError;
use chumsky::pratt::{infix, left, postfix, prefix, right};
use chumsky::prelude::*;

type Error<'tok> = Rich<'tok, Token, SimpleSpan>;

/// What the grammar needs of its error type. The parser runs first with
/// `EmptyErr`, which costs nothing to make and merge, and only when that finds a
/// mistake again with `Rich`, whose expected-token sets become the diagnostics:
/// valid files, the common case, never pay for error bookkeeping.
trait FlowError<'tok, I: Input<'tok>>:
    chumsky::error::Error<'tok, I>
    + LabelError<'tok, I, RichPattern<'tok, Token>>
    + LabelError<'tok, I, &'static str>
    + 'tok
{
    fn custom_error(span: SimpleSpan, message: String) -> Self;
}

impl<'tok, I> FlowError<'tok, I> for Error<'tok>
where
    I: Input<'tok, Token = Token, Span = SimpleSpan>,
{
    fn custom_error(span: SimpleSpan, message: String) -> Self {
        Rich::custom(span, message)
    }
}

impl<'tok, I: Input<'tok>> FlowError<'tok, I> for EmptyErr {
    fn custom_error(_: SimpleSpan, _: String) -> Self {
        EmptyErr::default()
    }
}

pub(super) fn parse_tokens(
    source: &str,
    lexed: &Lexed,
    diagnostics: &mut Vec<Diagnostic>,
) -> Module {
    let tokens: Vec<(Token, SimpleSpan)> = balance::balance(source, lexed, diagnostics)
        .into_iter()
        .map(|(token, span)| (token, SimpleSpan::from(span.range())))
        .collect();
    let end = source.len();
    let input = tokens
        .as_slice()
        .split_token_span(SimpleSpan::from(end..end));
    // Most files are valid: parse them with the error type that costs nothing,
    // and again with `Rich` only when that pass finds a mistake.
    let fast = module_parser::<_, EmptyErr>(source).parse(input);
    let (module, errors) = if fast.has_output() && !fast.has_errors() {
        (fast.into_output(), Vec::new())
    } else {
        module_parser::<_, Error<'_>>(source)
            .parse(input)
            .into_output_errors()
    };
    // An unclosed bracket already has its E0202; the parse error it causes at the
    // same bracket says nothing more.
    let unclosed: Vec<Span> = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.code == diag::UNCLOSED_DELIMITER)
        .map(Diagnostic::span)
        .collect();
    for error in errors {
        let Some(diagnostic) = to_diagnostic(source, &error) else {
            continue;
        };
        let span = diagnostic.span();
        let in_quiet = lexed
            .quiet
            .iter()
            .any(|quiet| quiet.start <= span.start && span.start <= quiet.end);
        // Right after an error token the parser only sees the lexer's mistake again:
        // `'single'` is one E0101, not also "expected …, found `single`".
        let after_error = tokens
            .partition_point(|(_, token_span)| token_span.start < span.start as usize)
            .checked_sub(1)
            .is_some_and(|previous| tokens[previous].0 == Token::Error);
        if !unclosed.contains(&span) && !in_quiet && !after_error {
            diagnostics.push(diagnostic);
        }
    }
    let mut module = module.unwrap_or(Module {
        items: Vec::new(),
        span: Span::new(0, end),
    });
    attach_docs(&mut module, &lexed.docs);
    validate(&module, diagnostics);
    module
}

fn span_of(span: SimpleSpan) -> Span {
    Span::new(span.start, span.end)
}

/// A custom error carries its code and one argument: `"E0205:get"`.
fn custom<'tok, I, E>(code: crate::diagnostic::Code, arg: &str, span: SimpleSpan) -> E
where
    I: Input<'tok>,
    E: FlowError<'tok, I>,
{
    E::custom_error(span, format!("{}:{}", code.as_str(), arg))
}

// ------------------------------------------------------------------ grammar

fn module_parser<'tok, 'src: 'tok, I, E>(
    src: &'src str,
) -> impl Parser<'tok, I, Module, extra::Err<E>>
where
    I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
    E: FlowError<'tok, I>,
{
    let g = Grammar { src };
    let expr = g.expressions();
    let stmt = g.statement(expr.clone());
    let item = g.item(expr, stmt);
    item.repeated()
        .collect::<Vec<_>>()
        .then_ignore(end())
        .map_with(|items, e| Module {
            items,
            span: span_of(e.span()),
        })
}

#[derive(Clone, Copy)]
struct Grammar<'src> {
    src: &'src str,
}

/// The two expression parsers: `full` anywhere, `restricted` where a `{` must open
/// a block (the head of `if`, `match`, `for`, a `where` clause).
struct Expressions<
    'tok,
    I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
    E: FlowError<'tok, I>,
> {
    full: Boxed<'tok, I, E, Expr>,
    restricted: Boxed<'tok, I, E, Expr>,
}

impl<'tok, I: ValueInput<'tok, Token = Token, Span = SimpleSpan>, E: FlowError<'tok, I>> Clone
    for Expressions<'tok, I, E>
{
    fn clone(&self) -> Self {
        Expressions {
            full: self.full.clone(),
            restricted: self.restricted.clone(),
        }
    }
}

type Boxed<'tok, I, E, O> = chumsky::Boxed<'tok, 'tok, I, O, extra::Err<E>>;

enum Postfix {
    Field(Ident, bool),
    Index(Expr, Span),
    Call(Vec<Arg>, Span),
}

impl<'src> Grammar<'src> {
    fn text(self, span: SimpleSpan) -> &'src str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    /// An identifier.
    fn ident<'tok, I, E>(self) -> Boxed<'tok, I, E, Ident>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        just(Token::Ident)
            .map_with(move |_, e| Ident {
                name: self.text(e.span()).to_string(),
                span: span_of(e.span()),
            })
            .labelled("a name")
            .boxed()
    }

    /// A name being declared: an identifier, or a keyword reported as E0208 and
    /// taken as the name so the rest still parses.
    fn binding<'tok, I, E>(self) -> Boxed<'tok, I, E, Ident>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        let keyword =
            any()
                .filter(|token: &Token| token.is_keyword())
                .validate(move |_, e, emitter| {
                    let span: SimpleSpan = e.span();
                    emitter.emit(custom(diag::KEYWORD_AS_NAME, self.text(span), span));
                    Ident {
                        name: self.text(span).to_string(),
                        span: span_of(span),
                    }
                });
        self.ident().or(keyword).labelled("a name").boxed()
    }

    /// A field name: an identifier, a keyword, or a plain string.
    fn field_name<'tok, I, E>(self) -> Boxed<'tok, I, E, Ident>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        let word = any()
            .filter(|token: &Token| *token == Token::Ident || token.is_keyword())
            .map_with(move |_, e| Ident {
                name: self.text(e.span()).to_string(),
                span: span_of(e.span()),
            });
        let quoted = self.plain_string("a field name").map(|lit| Ident {
            name: lit.value,
            span: lit.span,
        });
        word.or(quoted).labelled("a field name").boxed()
    }

    /// A contextual keyword such as `webhook`: an identifier with that text.
    fn contextual<'tok, I, E>(self, word: &'static str) -> Boxed<'tok, I, E, Span>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        just(Token::Ident)
            .try_map(move |token, span: SimpleSpan| {
                if self.text(span) == word {
                    Ok(span_of(span))
                } else {
                    Err(
                        <E as LabelError<'tok, I, RichPattern<'tok, Token>>>::expected_found(
                            [RichPattern::Identifier(word.to_string())],
                            Some(token.into()),
                            span,
                        ),
                    )
                }
            })
            .boxed()
    }

    /// `GET`, `POST`, …: reported as E0205 when not a method, kept either way.
    fn http_method<'tok, I, E>(self) -> Boxed<'tok, I, E, Ident>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        self.ident()
            .validate(move |method: Ident, e, emitter| {
                if !HTTP_METHODS.contains(&method.name.as_str()) {
                    emitter.emit(custom(diag::UNKNOWN_HTTP_METHOD, &method.name, e.span()));
                }
                method
            })
            .labelled("an HTTP method")
            .boxed()
    }

    /// The pieces of a string literal, interpolations parsed with `expr`.
    fn string_parts<'tok, I, E>(
        self,
        expr: Boxed<'tok, I, E, Expr>,
    ) -> Boxed<'tok, I, E, (Vec<TemplatePart>, Span)>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        let text = just(Token::StrText).map_with(move |_, e| {
            let span: SimpleSpan = e.span();
            TemplatePart::Text(lexer::unescape(self.text(span)), span_of(span))
        });
        let empty = just(Token::InterpOpen)
            .then(just(Token::InterpClose))
            .map_with(|_, e| {
                TemplatePart::Expr(Expr {
                    kind: ExprKind::Error,
                    span: span_of(e.span()),
                })
            });
        let interpolation = expr
            .delimited_by(just(Token::InterpOpen), just(Token::InterpClose))
            .recover_with(via_parser(
                just(Token::InterpOpen)
                    .then(
                        any()
                            .filter(|t: &Token| *t != Token::InterpClose)
                            .repeated(),
                    )
                    .then(just(Token::InterpClose))
                    .map_with(|_, e| Expr {
                        kind: ExprKind::Error,
                        span: span_of(e.span()),
                    }),
            ))
            .map(TemplatePart::Expr);
        choice((text, empty, interpolation))
            .repeated()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::StrStart), just(Token::StrEnd))
            .map_with(|parts, e| (parts, span_of(e.span())))
            .labelled("a string")
            .boxed()
    }

    /// A string that must not interpolate (`what` names it in the error).
    fn plain_string<'tok, I, E>(self, what: &'static str) -> Boxed<'tok, I, E, StrLit>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        let text = just(Token::StrText).map_with(move |_, e| {
            let span: SimpleSpan = e.span();
            (lexer::unescape(self.text(span)), false)
        });
        let interpolation = just(Token::InterpOpen)
            .then(
                any()
                    .filter(|t: &Token| *t != Token::InterpClose)
                    .repeated(),
            )
            .then(just(Token::InterpClose))
            .map(|_| (String::new(), true));
        choice((text, interpolation))
            .repeated()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::StrStart), just(Token::StrEnd))
            .validate(move |parts, e, emitter| {
                let span = e.span();
                if parts.iter().any(|(_, interpolated)| *interpolated) {
                    emitter.emit(custom(diag::INTERPOLATION_NOT_ALLOWED, what, span));
                }
                StrLit {
                    value: parts.into_iter().map(|(text, _)| text).collect(),
                    span: span_of(span),
                }
            })
            .labelled("a string")
            .boxed()
    }

    fn literal<'tok, I, E>(self) -> Boxed<'tok, I, E, Literal>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        any()
            .try_map(move |token, span: SimpleSpan| {
                let text = self.text(span);
                Ok(match token {
                    Token::Int => Literal::Int(lexer::parse_int(text).unwrap_or(i64::MAX)),
                    Token::Float => Literal::Float(lexer::parse_float(text)),
                    Token::Duration => Literal::Duration(lexer::parse_duration(text).unwrap_or(0)),
                    Token::True => Literal::Bool(true),
                    Token::False => Literal::Bool(false),
                    Token::Null => Literal::Null,
                    _ => {
                        return Err(
                            <E as LabelError<'tok, I, RichPattern<'tok, Token>>>::expected_found(
                                [],
                                Some(token.into()),
                                span,
                            ),
                        );
                    }
                })
            })
            .labelled("a literal")
            .boxed()
    }

    /// `{ name: value, … }` with optional commas.
    fn fields<'tok, I, E>(self, expr: Boxed<'tok, I, E, Expr>) -> Boxed<'tok, I, E, Vec<Field>>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        self.field_name()
            .then_ignore(just(Token::Colon))
            .then(expr)
            .map_with(|(name, value), e| Field {
                name,
                value,
                span: span_of(e.span()),
            })
            .then_ignore(just(Token::Comma).or_not())
            .repeated()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LBrace), just(Token::RBrace))
            // A `{` whose first token cannot start a statement is a field block
            // for sure: report the mistake inside it rather than backtrack.
            .recover_with(via_parser(
                just(Token::LBrace)
                    .then(any().filter(|t: &Token| {
                        !starts_statement(*t) && *t != Token::LBrace && *t != Token::RBrace
                    }))
                    .rewind()
                    .ignore_then(skip_group(&[Token::LBrace], |_| Vec::new())),
            ))
            .boxed()
    }

    /// `name: value` or `value`, comma-separated, inside parentheses.
    fn args<'tok, I, E>(
        self,
        expr: Boxed<'tok, I, E, Expr>,
        opens: &'static [Token],
    ) -> Boxed<'tok, I, E, Vec<Arg>>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        self.ident()
            .then_ignore(just(Token::Colon))
            .or_not()
            .then(expr)
            .map_with(|(name, value), e| Arg {
                name,
                value,
                span: span_of(e.span()),
            })
            .separated_by(just(Token::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(one_of(opens), just(Token::RParen))
            .recover_with(via_parser(skip_group(opens, |_| Vec::new())))
            .boxed()
    }

    fn any_paren<'tok, I, E>(self) -> Boxed<'tok, I, E, Token>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        just(Token::LParen).or(just(Token::CallParen)).boxed()
    }

    // -------------------------------------------------------------- types

    fn ty<'tok, I, E>(self) -> Boxed<'tok, I, E, Type>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        recursive(move |ty| {
            let ty: Boxed<'tok, I, E, Type> = ty.boxed();
            let name = self.ident().map(TypeKind::Name);
            let null = just(Token::Null).to(TypeKind::Literal(Literal::Null));
            let string = self
                .plain_string("a literal type")
                .map(|lit| TypeKind::Literal(Literal::String(lit.value)));
            let number = just(Token::Int).map_with(move |_, e| {
                TypeKind::Literal(Literal::Int(
                    lexer::parse_int(self.text(e.span())).unwrap_or(i64::MAX),
                ))
            });
            let boolean = just(Token::True)
                .to(TypeKind::Literal(Literal::Bool(true)))
                .or(just(Token::False).to(TypeKind::Literal(Literal::Bool(false))));
            let list = ty
                .clone()
                .delimited_by(just(Token::LBracket), just(Token::RBracket))
                .map(|inner| TypeKind::List(Box::new(inner)));
            let field = self
                .field_name()
                .then(just(Token::Question).or_not())
                .then_ignore(just(Token::Colon))
                .then(ty.clone())
                .map_with(|((name, optional), ty), e| TypeField {
                    name,
                    optional: optional.is_some(),
                    ty,
                    span: span_of(e.span()),
                });
            let record = field
                .separated_by(just(Token::Comma).or_not())
                .allow_trailing()
                .collect::<Vec<_>>()
                .delimited_by(just(Token::LBrace), just(Token::RBrace))
                .map(TypeKind::Record);
            let group = ty
                .clone()
                .delimited_by(self.any_paren(), just(Token::RParen))
                .map(|inner| inner.kind);
            let primary = choice((name, null, string, number, boolean, list, record, group))
                .map_with(|kind, e| Type {
                    kind,
                    span: span_of(e.span()),
                })
                .labelled("a type");
            let optional =
                primary.foldl_with(just(Token::Question).repeated(), |inner, _, e| Type {
                    kind: TypeKind::Optional(Box::new(inner)),
                    span: span_of(e.span()),
                });
            optional
                .clone()
                .separated_by(just(Token::Pipe))
                .at_least(1)
                .collect::<Vec<_>>()
                .map_with(|mut members, e| {
                    if members.len() == 1 {
                        members.remove(0)
                    } else {
                        Type {
                            kind: TypeKind::Union(members),
                            span: span_of(e.span()),
                        }
                    }
                })
        })
        .boxed()
    }

    // -------------------------------------------------------------- expressions

    fn patterns<'tok, I, E>(self) -> Boxed<'tok, I, E, Pattern>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        let wildcard = self.ident().map(|ident| {
            if ident.name == "_" {
                PatternKind::Wildcard
            } else {
                PatternKind::Binding(ident)
            }
        });
        let string = self
            .plain_string("a pattern")
            .map(|lit| PatternKind::Literal(Literal::String(lit.value)));
        let negative = just(Token::Minus)
            .ignore_then(self.literal())
            .try_map(|literal, span| match literal {
                Literal::Int(value) => Ok(PatternKind::Literal(Literal::Int(-value))),
                Literal::Float(value) => Ok(PatternKind::Literal(Literal::Float(-value))),
                _ => Err(E::custom_error(
                    span,
                    "E0201:a number after `-`".to_string(),
                )),
            });
        let literal = self.literal().map(PatternKind::Literal);
        let atom = choice((wildcard, string, negative, literal))
            .map_with(|kind, e| Pattern {
                kind,
                span: span_of(e.span()),
            })
            .labelled("a pattern");
        atom.separated_by(just(Token::Pipe))
            .at_least(1)
            .collect::<Vec<_>>()
            .map_with(|mut alternatives, e| {
                if alternatives.len() == 1 {
                    alternatives.remove(0)
                } else {
                    Pattern {
                        kind: PatternKind::Or(alternatives),
                        span: span_of(e.span()),
                    }
                }
            })
            .boxed()
    }

    fn expressions<'tok, I, E>(self) -> Expressions<'tok, I, E>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        // `recursive` holds itself weakly; `Recursive::declare` would make strong
        // cycles between the two parsers and leak them on every parse. So the
        // restricted parser is built twice: once inside `full` (for the heads of
        // `match` expressions) and once outside, each referring to `full`.
        let restricted_in = move |full: Boxed<'tok, I, E, Expr>| {
            recursive(move |restricted| {
                let restricted: Boxed<'tok, I, E, Expr> = restricted.boxed();
                self.expression(full, restricted.clone(), restricted, true)
            })
        };
        let full = recursive(move |full| {
            let full: Boxed<'tok, I, E, Expr> = full.boxed();
            let head = restricted_in(full.clone()).boxed();
            self.expression(full.clone(), head, full, false)
        })
        .boxed();
        let restricted = restricted_in(full.clone()).boxed();
        Expressions { full, restricted }
    }

    /// One expression parser: `full` parses nested bracketed parts, `head` the
    /// head of a `match`, `this` the parts at the same level (so the restriction
    /// carries into `a && b`).
    fn expression<'tok, I, E>(
        self,
        full: Boxed<'tok, I, E, Expr>,
        head: Boxed<'tok, I, E, Expr>,
        this: Boxed<'tok, I, E, Expr>,
        restricted: bool,
    ) -> Boxed<'tok, I, E, Expr>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        let spanned = |kind: ExprKind, span: SimpleSpan| Expr {
            kind,
            span: span_of(span),
        };
        let literal = self.literal().map(ExprKind::Literal);
        let string = self.string_parts(full.clone()).map(|(parts, _)| {
            if parts
                .iter()
                .all(|part| matches!(part, TemplatePart::Text(..)))
            {
                let text = parts
                    .into_iter()
                    .map(|part| match part {
                        TemplatePart::Text(text, _) => text,
                        TemplatePart::Expr(_) => String::new(),
                    })
                    .collect();
                ExprKind::Literal(Literal::String(text))
            } else {
                ExprKind::Template(parts)
            }
        });
        let list = full
            .clone()
            .separated_by(just(Token::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LBracket), just(Token::RBracket))
            .map(ExprKind::List)
            .recover_with(via_parser(skip_group(&[Token::LBracket], |_| {
                ExprKind::Error
            })));
        let record = self.fields(full.clone()).map(ExprKind::Record);
        let name_or_tagged = if restricted {
            self.ident().map(ExprKind::Name).boxed()
        } else {
            self.ident()
                .then(self.fields(full.clone()).or_not())
                .map(|(tag, fields)| match fields {
                    Some(fields) => ExprKind::Tagged { tag, fields },
                    None => ExprKind::Name(tag),
                })
                .boxed()
        };
        let params = self
            .ident()
            .separated_by(just(Token::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(self.any_paren(), just(Token::RParen))
            .or(self.ident().map(|param| vec![param]));
        // Look ahead on bare tokens first, so that the common case, a name that is
        // not a lambda's parameter, is not parsed (and its text copied) twice.
        let lambda_ahead = just(Token::Ident)
            .ignored()
            .or(one_of([Token::LParen, Token::CallParen])
                .then(
                    just(Token::Ident)
                        .separated_by(just(Token::Comma))
                        .allow_trailing(),
                )
                .then(just(Token::RParen))
                .ignored())
            .then(just(Token::FatArrow))
            .rewind();
        let lambda = lambda_ahead
            .ignore_then(params)
            .then_ignore(just(Token::FatArrow))
            .then(this.clone())
            .map(|(params, body)| ExprKind::Lambda {
                params,
                body: Box::new(body),
            });
        let group = full
            .clone()
            .delimited_by(self.any_paren(), just(Token::RParen))
            .map(|inner| ExprKind::Paren(Box::new(inner)))
            .recover_with(via_parser(skip_group(
                &[Token::LParen, Token::CallParen],
                |_| ExprKind::Error,
            )));
        let if_expr = just(Token::If)
            .ignore_then(full.clone())
            .then_ignore(just(Token::Then))
            .then(full.clone())
            .then_ignore(just(Token::Else))
            .then(this.clone())
            .map(|((cond, then), otherwise)| ExprKind::If {
                cond: Box::new(cond),
                then: Box::new(then),
                otherwise: Box::new(otherwise),
            });
        let arm = self
            .patterns()
            .then_ignore(just(Token::FatArrow))
            .then(full.clone())
            .then_ignore(just(Token::Comma).or_not());
        let match_expr = just(Token::Match)
            .ignore_then(head)
            .then(
                arm.repeated()
                    .collect::<Vec<_>>()
                    .delimited_by(just(Token::LBrace), just(Token::RBrace)),
            )
            .map(|(scrutinee, arms)| ExprKind::Match {
                scrutinee: Box::new(scrutinee),
                arms,
            });
        // The lexer and `balance` already reported what became an error token.
        let error = just(Token::Error).to(ExprKind::Error);
        // `respond: wait` in a webhook trigger: `wait` is otherwise a step keyword
        // and never starts an expression, so reading it as a name is unambiguous.
        let wait_name = just(Token::Wait).map_with(|_, e| {
            ExprKind::Name(Ident {
                name: "wait".to_string(),
                span: span_of(e.span()),
            })
        });
        let mut atoms = vec![
            lambda.boxed(),
            literal.boxed(),
            string.boxed(),
            name_or_tagged,
            list.boxed(),
            group.boxed(),
            if_expr.boxed(),
            match_expr.boxed(),
            error.boxed(),
            wait_name.boxed(),
        ];
        if !restricted {
            atoms.push(record.boxed());
        }
        let atom = choice(atoms)
            .map_with(move |kind, e| spanned(kind, e.span()))
            .labelled("an expression");

        let field = just(Token::Dot)
            .to(false)
            .or(just(Token::QuestionDot).to(true))
            .then(self.field_name())
            .map(|(optional, name)| Postfix::Field(name, optional));
        let index = full
            .clone()
            .delimited_by(just(Token::LBracket), just(Token::RBracket))
            .map_with(|index, e| Postfix::Index(index, span_of(e.span())))
            .recover_with(via_parser(skip_group(&[Token::LBracket], |span| {
                Postfix::Index(
                    Expr {
                        kind: ExprKind::Error,
                        span,
                    },
                    span,
                )
            })));
        let call = self
            .args(full.clone(), &[Token::CallParen])
            .map_with(|args, e| Postfix::Call(args, span_of(e.span())));
        let binary = |token: Token, op: BinaryOp| just(token).to(op);
        let fold = |lhs: Expr, op: BinaryOp, rhs: Expr| {
            let span = lhs.span.to(rhs.span);
            Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            }
        };
        let cast = just(Token::As).ignore_then(self.ty());
        atom.pratt((
            postfix(
                11,
                choice((field, index, call)),
                move |base: Expr, op, _e: &mut _| {
                    let start = base.span;
                    let (kind, end) = match op {
                        Postfix::Field(name, optional) => {
                            let end = name.span;
                            (
                                ExprKind::Field {
                                    base: Box::new(base),
                                    name,
                                    optional,
                                },
                                end,
                            )
                        }
                        Postfix::Index(index, span) => (
                            ExprKind::Index {
                                base: Box::new(base),
                                index: Box::new(index),
                            },
                            span,
                        ),
                        Postfix::Call(args, span) => (
                            ExprKind::Call {
                                callee: Box::new(base),
                                args,
                            },
                            span,
                        ),
                    };
                    Expr {
                        kind,
                        span: start.to(end),
                    }
                },
            ),
            // `value as T` binds looser than prefix `-`/`!` and tighter than `*`:
            // `-x as int` is `(-x) as int`, `a * b as float` is `a * (b as float)`.
            postfix(9, cast, |value: Expr, ty: Type, _e: &mut _| {
                let span = value.span.to(ty.span);
                Expr {
                    kind: ExprKind::As {
                        value: Box::new(value),
                        ty,
                    },
                    span,
                }
            }),
            prefix(
                10,
                just(Token::Bang)
                    .to(UnaryOp::Not)
                    .or(just(Token::Minus).to(UnaryOp::Neg))
                    .map_with(|op, e| (op, span_of(e.span()))),
                |(op, op_span): (UnaryOp, Span), operand: Expr, _e: &mut _| {
                    let span = op_span.to(operand.span);
                    Expr {
                        kind: ExprKind::Unary {
                            op,
                            operand: Box::new(operand),
                        },
                        span,
                    }
                },
            ),
            infix(
                left(8),
                choice((
                    binary(Token::Star, BinaryOp::Mul),
                    binary(Token::Slash, BinaryOp::Div),
                    binary(Token::Percent, BinaryOp::Rem),
                )),
                move |l, op, r, _e: &mut _| fold(l, op, r),
            ),
            infix(
                left(7),
                choice((
                    binary(Token::Plus, BinaryOp::Add),
                    binary(Token::Minus, BinaryOp::Sub),
                )),
                move |l, op, r, _e: &mut _| fold(l, op, r),
            ),
            infix(
                right(6),
                binary(Token::QuestionQuestion, BinaryOp::Coalesce),
                move |l, op, r, _e: &mut _| fold(l, op, r),
            ),
            infix(
                left(5),
                choice((
                    binary(Token::Lt, BinaryOp::Lt),
                    binary(Token::LtEq, BinaryOp::LtEq),
                    binary(Token::Gt, BinaryOp::Gt),
                    binary(Token::GtEq, BinaryOp::GtEq),
                    binary(Token::In, BinaryOp::In),
                )),
                move |l, op, r, _e: &mut _| fold(l, op, r),
            ),
            infix(
                left(4),
                choice((
                    binary(Token::EqEq, BinaryOp::Eq),
                    binary(Token::NotEq, BinaryOp::NotEq),
                )),
                move |l, op, r, _e: &mut _| fold(l, op, r),
            ),
            infix(
                left(3),
                binary(Token::AndAnd, BinaryOp::And),
                move |l, op, r, _e: &mut _| fold(l, op, r),
            ),
            infix(
                left(2),
                binary(Token::OrOr, BinaryOp::Or),
                move |l, op, r, _e: &mut _| fold(l, op, r),
            ),
        ))
        .labelled("an expression")
        .boxed()
    }

    // -------------------------------------------------------------- statements

    fn http_call<'tok, I, E>(self, expr: &Expressions<'tok, I, E>) -> Boxed<'tok, I, E, HttpCall>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        let full: Boxed<'tok, I, E, Expr> = expr.full.clone().boxed();
        let string = self
            .string_parts(full.clone())
            .map(|(parts, span)| template_expr(parts, span));
        let url = string
            .clone()
            .or(full
                .clone()
                .delimited_by(self.any_paren(), just(Token::RParen))
                .map_with(|inner, e| Expr {
                    kind: ExprKind::Paren(Box::new(inner)),
                    span: span_of(e.span()),
                }))
            .map(HttpTarget::Url);
        let connection = self
            .ident()
            .then(string)
            .map(|(connection, path)| HttpTarget::Connection { connection, path });
        just(Token::Http)
            .ignore_then(self.http_method())
            .then(
                connection
                    .or(url)
                    .labelled("a URL, or a connection and a path"),
            )
            .then(self.fields(full).or_not())
            .then(just(Token::Arrow).ignore_then(self.ty()).or_not())
            .map_with(|(((method, target), options), response), e| HttpCall {
                method,
                target,
                options: options.unwrap_or_default(),
                response,
                span: span_of(e.span()),
            })
            .boxed()
    }

    fn statement<'tok, I, E>(self, expr: Expressions<'tok, I, E>) -> Boxed<'tok, I, E, Stmt>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        let full: Boxed<'tok, I, E, Expr> = expr.full.clone().boxed();
        let restricted: Boxed<'tok, I, E, Expr> = expr.restricted.clone().boxed();
        recursive(move |stmt| {
            let stmt: Boxed<'tok, I, E, Stmt> = stmt.boxed();
            let block = self.block(stmt.clone());
            let options = self.args(full.clone(), &[Token::LParen]);

            let call = just(Token::Call)
                .ignore_then(self.ident())
                .then(self.args(full.clone(), &[Token::LParen, Token::CallParen]))
                .map_with(|(workflow, args), e| StepAction::Call {
                    workflow,
                    args,
                    span: span_of(e.span()),
                });
            let wait = just(Token::Wait).ignore_then(
                just(Token::Until)
                    .ignore_then(restricted.clone())
                    .map(StepAction::WaitUntil)
                    .or(restricted.clone().map(StepAction::Wait)),
            );
            let await_event = just(Token::Event)
                .ignore_then(self.ident())
                .then_ignore(just(Token::As))
                .then(self.binding())
                .then_ignore(just(Token::Where))
                .then(restricted.clone())
                .then(options.clone().or_not())
                .map(
                    |(((event, binding), filter), options)| StepAction::AwaitEvent {
                        event,
                        binding,
                        filter,
                        options: options.unwrap_or_default(),
                    },
                );
            let await_webhook = self
                .contextual("webhook")
                .ignore_then(self.http_method())
                .then(self.plain_string("a webhook path"))
                .then_ignore(just(Token::As))
                .then(self.binding())
                .then(just(Token::Colon).ignore_then(self.ty()).or_not())
                .then_ignore(just(Token::Where))
                .then(restricted.clone())
                .then(options.clone().or_not())
                .map(|(((((method, path), binding), ty), filter), options)| {
                    StepAction::AwaitWebhook {
                        method,
                        path,
                        binding,
                        ty,
                        filter,
                        options: options.unwrap_or_default(),
                    }
                });
            let await_ = just(Token::Await).ignore_then(choice((
                await_event,
                await_webhook,
                self.ident().map(StepAction::Await),
            )));
            let action = choice((
                self.http_call(&expr).map(StepAction::Http),
                call,
                wait,
                await_,
            ))
            .labelled("a step: `http`, `call`, `wait` or `await`");
            let step = just(Token::Step)
                .ignore_then(self.binding())
                .then_ignore(just(Token::Eq))
                .then(action)
                .map(|(name, action)| StmtKind::Step { name, action });

            let for_loop = just(Token::For)
                .ignore_then(self.binding())
                .then_ignore(just(Token::In))
                .then(restricted.clone())
                .then(options.clone().or_not())
                .then(block.clone())
                .map(|(((var, iter), options), body)| ForLoop {
                    var,
                    iter,
                    options: options.unwrap_or_default(),
                    body,
                })
                .boxed();

            let callback = just(Token::Callback)
                .ignore_then(self.args(full.clone(), &[Token::LParen, Token::CallParen]))
                .then(just(Token::Arrow).ignore_then(self.ty()).or_not())
                .map_with(|(args, ty), e| LetValue::Callback {
                    args,
                    ty,
                    span: span_of(e.span()),
                });
            let approval = just(Token::Approval)
                .ignore_then(self.args(full.clone(), &[Token::LParen, Token::CallParen]))
                .map_with(|args, e| LetValue::Approval {
                    args,
                    span: span_of(e.span()),
                });
            let let_for = for_loop
                .clone()
                .map_with(|for_loop, e| LetValue::For(Box::new(for_loop), span_of(e.span())));
            let let_ = just(Token::Let)
                .ignore_then(self.binding())
                .then(just(Token::Colon).ignore_then(self.ty()).or_not())
                .then_ignore(just(Token::Eq))
                .then(choice((
                    callback,
                    approval,
                    let_for,
                    full.clone().map(LetValue::Expr),
                )))
                .map(|((name, ty), value)| StmtKind::Let { name, ty, value });

            let set = just(Token::Set)
                .ignore_then(full.clone())
                .then_ignore(just(Token::Eq))
                .then(full.clone())
                .map(|(target, value)| StmtKind::Set { target, value });

            let if_stmt = recursive(|if_stmt| {
                just(Token::If)
                    .ignore_then(restricted.clone())
                    .then(block.clone())
                    .then(
                        just(Token::Else)
                            .ignore_then(if_stmt.or(block.clone().map_with(|block, e| Stmt {
                                kind: StmtKind::Block(block),
                                span: span_of(e.span()),
                            })))
                            .or_not(),
                    )
                    .map_with(|((cond, then), otherwise), e| Stmt {
                        kind: StmtKind::If {
                            cond,
                            then,
                            otherwise: otherwise.map(Box::new),
                        },
                        span: span_of(e.span()),
                    })
            })
            .map(|stmt: Stmt| stmt.kind);

            let block_stmt = block.clone().map_with(|block, e| Stmt {
                kind: StmtKind::Block(block),
                span: span_of(e.span()),
            });
            let arm = self
                .patterns()
                .then_ignore(just(Token::FatArrow))
                .then(block_stmt.clone().or(stmt.clone()))
                .then_ignore(just(Token::Comma).or_not())
                .map_with(|(pattern, body), e| MatchArm {
                    pattern,
                    body: Box::new(body),
                    span: span_of(e.span()),
                });
            let match_stmt = just(Token::Match)
                .ignore_then(restricted.clone())
                .then(
                    arm.repeated()
                        .collect::<Vec<_>>()
                        .delimited_by(just(Token::LBrace), just(Token::RBrace)),
                )
                .map(|(scrutinee, arms)| StmtKind::Match { scrutinee, arms });

            let parallel = just(Token::Parallel)
                .ignore_then(
                    block_stmt
                        .clone()
                        .or(stmt.clone())
                        .repeated()
                        .collect::<Vec<_>>()
                        .delimited_by(just(Token::LBrace), just(Token::RBrace)),
                )
                .map(|branches| StmtKind::Parallel { branches });
            let try_stmt = just(Token::Try)
                .ignore_then(block.clone())
                .then_ignore(just(Token::Catch))
                .then(self.binding())
                .then(block.clone())
                .map(|((body, error), handler)| StmtKind::Try {
                    body,
                    error,
                    handler,
                });
            let fail = just(Token::Fail)
                .ignore_then(full.clone())
                .map(StmtKind::Fail);
            let return_ = just(Token::Return)
                .ignore_then(
                    full.clone()
                        .or_not()
                        .then_ignore(just(Token::RBrace).rewind().or_not()),
                )
                .map(StmtKind::Return);
            let emit = just(Token::Emit)
                .ignore_then(self.ident())
                .then(full.clone())
                .map(|(event, payload)| StmtKind::Emit { event, payload });
            let yield_ = just(Token::Yield)
                .ignore_then(full.clone())
                .map(StmtKind::Yield);
            let mock = just(Token::Mock)
                .ignore_then(self.http_call(&expr))
                .then_ignore(just(Token::FatArrow))
                .then(full.clone())
                .map(|(request, response)| StmtKind::Mock { request, response });
            let assert = just(Token::Assert)
                .ignore_then(full.clone())
                .then(just(Token::Comma).ignore_then(full.clone()).or_not())
                .map(|(cond, message)| StmtKind::Assert { cond, message });
            // A trigger inside a block parses, to be reported as misplaced.
            let misplaced_trigger = self.trigger(full.clone()).validate(|_, e, emitter| {
                emitter.emit(custom(diag::MISPLACED_TRIGGER, "", e.span()));
                StmtKind::Error
            });

            let kind = choice((
                step.boxed(),
                let_.boxed(),
                set.boxed(),
                if_stmt.boxed(),
                match_stmt.boxed(),
                for_loop.clone().map(StmtKind::For).boxed(),
                parallel.boxed(),
                try_stmt.boxed(),
                fail.boxed(),
                return_.boxed(),
                emit.boxed(),
                yield_.boxed(),
                mock.boxed(),
                assert.boxed(),
                misplaced_trigger.boxed(),
            ))
            .labelled("a statement");
            kind.map_with(|kind, e| Stmt {
                kind,
                span: span_of(e.span()),
            })
            .recover_with(via_parser(skip_statement()))
        })
        .boxed()
    }

    fn block<'tok, I, E>(self, stmt: Boxed<'tok, I, E, Stmt>) -> Boxed<'tok, I, E, Block>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        stmt.repeated()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LBrace), just(Token::RBrace))
            .map_with(|stmts, e| Block {
                stmts,
                span: span_of(e.span()),
            })
            .boxed()
    }

    // -------------------------------------------------------------- declarations

    fn trigger<'tok, I, E>(self, full: Boxed<'tok, I, E, Expr>) -> Boxed<'tok, I, E, Trigger>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        let webhook = self
            .contextual("webhook")
            .ignore_then(self.http_method())
            .then(self.plain_string("a webhook path"))
            .then(self.fields(full).or_not())
            .map(|((method, path), options)| TriggerKind::Webhook {
                method,
                path,
                options: options.unwrap_or_default(),
            });
        let schedule = self
            .contextual("schedule")
            .ignore_then(self.plain_string("a cron expression"))
            .then(
                self.contextual("tz")
                    .ignore_then(self.plain_string("a time zone"))
                    .or_not(),
            )
            .map(|(cron, tz)| TriggerKind::Schedule { cron, tz });
        let event = just(Token::Event)
            .ignore_then(self.ident())
            .map(|name| TriggerKind::Event { name });
        let manual = self.contextual("manual").to(TriggerKind::Manual);
        let rest = token_tree::<I, E>()
            .and_is(
                any()
                    .filter(|t: &Token| !starts_statement(*t) && !starts_item(*t))
                    .rewind(),
            )
            .repeated();
        let word = any()
            .filter(|t: &Token| *t == Token::Ident || (t.is_keyword() && *t != Token::Event))
            .map_with(move |_, e| Ident {
                name: self.text(e.span()).to_string(),
                span: span_of(e.span()),
            });
        let unknown = word.then_ignore(rest).validate(|name, e, emitter| {
            let _ = e;
            emitter.emit(custom(
                diag::UNKNOWN_TRIGGER,
                &name.name,
                SimpleSpan::from(name.span.range()),
            ));
            TriggerKind::Manual
        });
        just(Token::On)
            .ignore_then(
                choice((webhook, schedule, event, manual, unknown))
                    .labelled("a trigger: `webhook`, `schedule`, `event` or `manual`"),
            )
            .map_with(|kind, e| Trigger {
                kind,
                span: span_of(e.span()),
            })
            .boxed()
    }

    fn item<'tok, I, E>(
        self,
        expr: Expressions<'tok, I, E>,
        stmt: Boxed<'tok, I, E, Stmt>,
    ) -> Boxed<'tok, I, E, Item>
    where
        I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
        E: FlowError<'tok, I>,
        'src: 'tok,
    {
        let full: Boxed<'tok, I, E, Expr> = expr.full.clone().boxed();
        let params = self
            .binding()
            .then_ignore(just(Token::Colon))
            .then(self.ty())
            .map_with(|(name, ty), e| Param {
                name,
                ty,
                span: span_of(e.span()),
            })
            .separated_by(just(Token::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(self.any_paren(), just(Token::RParen))
            .boxed();

        let import = just(Token::Import)
            .ignore_then(self.plain_string("an import path"))
            .map(|path| ItemKind::Import(Import { path }));
        let type_decl = just(Token::Type)
            .ignore_then(self.binding())
            .then_ignore(just(Token::Eq))
            .then(self.ty())
            .map(|(name, ty)| ItemKind::Type(TypeDecl { name, ty }));
        let event_decl = just(Token::Event)
            .ignore_then(self.binding())
            .then_ignore(just(Token::Eq))
            .then(self.ty())
            .map(|(name, ty)| ItemKind::Event(EventDecl { name, ty }));
        let connection = just(Token::Connection)
            .ignore_then(self.binding())
            .then(self.fields(full.clone()))
            .map(|(name, fields)| ItemKind::Connection(Connection { name, fields }));
        let fn_decl = just(Token::Fn)
            .ignore_then(self.binding())
            .then(params.clone())
            .then_ignore(just(Token::Arrow))
            .then(self.ty())
            .then_ignore(just(Token::Eq))
            .then(full.clone())
            .map(|(((name, params), ret), body)| {
                ItemKind::Fn(FnDecl {
                    name,
                    params,
                    ret,
                    body,
                })
            });

        enum Member {
            Trigger(Trigger),
            Settings(Settings),
            Stmt(Stmt),
        }
        let settings = just(Token::Settings)
            .ignore_then(self.fields(full.clone()))
            .map_with(|fields, e| Settings {
                fields,
                span: span_of(e.span()),
            });
        let member = choice((
            self.trigger(full.clone()).map(Member::Trigger),
            settings.map(Member::Settings),
            stmt.clone().map(Member::Stmt),
        ))
        .labelled("a statement");
        let workflow = just(Token::Workflow)
            .ignore_then(self.binding())
            .then(params)
            .then(just(Token::Arrow).ignore_then(self.ty()).or_not())
            .then(
                member
                    .repeated()
                    .collect::<Vec<_>>()
                    .delimited_by(just(Token::LBrace), just(Token::RBrace)),
            )
            .map(|(((name, params), ret), members)| {
                let mut workflow = Workflow {
                    name,
                    params,
                    ret,
                    triggers: Vec::new(),
                    settings: Vec::new(),
                    body: Vec::new(),
                };
                for member in members {
                    match member {
                        Member::Trigger(trigger) => workflow.triggers.push(trigger),
                        Member::Settings(settings) => workflow.settings.push(settings),
                        Member::Stmt(stmt) => workflow.body.push(stmt),
                    }
                }
                ItemKind::Workflow(workflow)
            });
        let test = just(Token::Test)
            .ignore_then(self.plain_string("a test name"))
            .then(self.block(stmt))
            .map(|(name, body)| ItemKind::Test(TestDecl { name, body }));

        choice((
            import, type_decl, event_decl, connection, fn_decl, workflow, test,
        ))
        .labelled("a declaration")
        .map_with(|kind, e| Item {
            docs: Docs::default(),
            kind,
            span: span_of(e.span()),
        })
        .recover_with(via_parser(skip_item()))
        .boxed()
    }
}

fn template_expr(parts: Vec<TemplatePart>, span: Span) -> Expr {
    let kind = if parts
        .iter()
        .all(|part| matches!(part, TemplatePart::Text(..)))
    {
        ExprKind::Literal(Literal::String(
            parts
                .into_iter()
                .map(|part| match part {
                    TemplatePart::Text(text, _) => text,
                    TemplatePart::Expr(_) => String::new(),
                })
                .collect(),
        ))
    } else {
        ExprKind::Template(parts)
    };
    Expr { kind, span }
}

// ------------------------------------------------------------------ recovery

fn is_open(token: Token) -> bool {
    matches!(
        token,
        Token::LBrace
            | Token::LBracket
            | Token::LParen
            | Token::CallParen
            | Token::InterpOpen
            | Token::StrStart
    )
}

fn is_close(token: Token) -> bool {
    matches!(
        token,
        Token::RBrace | Token::RBracket | Token::RParen | Token::InterpClose | Token::StrEnd
    )
}

/// One token, or a whole balanced bracket group (or string).
fn token_tree<'tok, I, E>() -> Boxed<'tok, I, E, ()>
where
    I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
    E: FlowError<'tok, I>,
{
    recursive(|tree| {
        let group = any()
            .filter(|t: &Token| is_open(*t))
            .then(tree.repeated())
            .then(any().filter(|t: &Token| is_close(*t)))
            .ignored();
        group.or(any()
            .filter(|t: &Token| !is_open(*t) && !is_close(*t))
            .ignored())
    })
    .boxed()
}

fn starts_statement(token: Token) -> bool {
    matches!(
        token,
        Token::Step
            | Token::Let
            | Token::Set
            | Token::If
            | Token::Match
            | Token::For
            | Token::Parallel
            | Token::Try
            | Token::Fail
            | Token::Return
            | Token::Emit
            | Token::Yield
            | Token::Mock
            | Token::Assert
            | Token::On
            | Token::Settings
    )
}

fn starts_item(token: Token) -> bool {
    matches!(
        token,
        Token::Import
            | Token::Type
            | Token::Event
            | Token::Connection
            | Token::Fn
            | Token::Workflow
            | Token::Test
    )
}

/// Skips one bracket group opened by one of `opens` (balanced, thanks to
/// `balance`) and stands `fallback` in for it.
fn skip_group<'tok, I, E, O>(
    opens: &'static [Token],
    fallback: impl Fn(Span) -> O + Clone + 'tok,
) -> Boxed<'tok, I, E, O>
where
    I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
    E: FlowError<'tok, I>,
    O: 'tok,
{
    any()
        .filter(move |t: &Token| opens.contains(t))
        .then(token_tree::<I, E>().repeated())
        .then(any().filter(|t: &Token| is_close(*t)))
        .map_with(move |_, e| fallback(span_of(e.span())))
        .boxed()
}

/// Skips a broken statement: its first token (or group), then everything up to
/// the next statement keyword or the `}` that closes the block. Declaration
/// keywords are skipped too: one at the start of a line has already closed the
/// block in `balance`, so any other is a stray word inside the statement.
fn skip_statement<'tok, I, E>() -> Boxed<'tok, I, E, Stmt>
where
    I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
    E: FlowError<'tok, I>,
{
    let rest =
        token_tree::<I, E>().and_is(any().filter(|t: &Token| !starts_statement(*t)).rewind());
    token_tree::<I, E>()
        .then(rest.repeated())
        .map_with(|_, e| Stmt {
            kind: StmtKind::Error,
            span: span_of(e.span()),
        })
        .boxed()
}

/// Skips a broken declaration up to the next declaration keyword.
fn skip_item<'tok, I, E>() -> Boxed<'tok, I, E, Item>
where
    I: ValueInput<'tok, Token = Token, Span = SimpleSpan>,
    E: FlowError<'tok, I>,
{
    let rest = token_tree::<I, E>().and_is(any().filter(|t: &Token| !starts_item(*t)).rewind());
    token_tree::<I, E>()
        .then(rest.repeated())
        .map_with(|_, e| Item {
            docs: Docs::default(),
            kind: ItemKind::Error,
            span: span_of(e.span()),
        })
        .boxed()
}

// ------------------------------------------------------------------ errors

/// Turns a chumsky error into a coded diagnostic; `None` for errors at tokens the
/// lexer or `balance` already reported.
fn to_diagnostic(source: &str, error: &Error<'_>) -> Option<Diagnostic> {
    let span = span_of(*error.span());
    let text = source.get(span.range()).unwrap_or("");
    match error.reason() {
        RichReason::Custom(message) => {
            let (code, arg) = message.split_once(':').unwrap_or((message.as_str(), ""));
            Some(match code {
                "E0205" => diag::unknown_http_method(arg, span),
                "E0206" => diag::unknown_trigger(arg, span),
                "E0208" => diag::keyword_as_name(arg, span),
                "E0211" => diag::interpolation_not_allowed(arg, span),
                "E0212" => diag::misplaced_trigger(span),
                _ => diag::unexpected_token(arg, &found_text(error.found(), text), span),
            })
        }
        RichReason::ExpectedFound { expected, found } => {
            let expected_list = expected;
            let found_token = found.as_deref().copied();
            if found_token == Some(Token::Error) {
                return None;
            }
            let expected = describe_expected(expected);
            let found_desc = found_text(found_token.as_ref(), text);
            let wants_declaration = expected_words(expected_list)
                .iter()
                .any(|word| word == "a declaration");
            if wants_declaration {
                return Some(diag::expected_declaration(&found_desc, span));
            }
            if found_token.is_some_and(Token::is_keyword) && expected.contains("a name") {
                return Some(diag::keyword_as_name(text, span));
            }
            // A zero-width closer was inserted by `balance`, which reported it.
            if span.is_empty() && found_token.is_some_and(is_close) {
                return None;
            }
            let mut diagnostic = diag::unexpected_token(&expected, &found_desc, span);
            if found_token == Some(Token::LParen) {
                diagnostic = diagnostic.with_help(
                    "a call's `(` follows the function name directly: write `f(x)`, not `f (x)`",
                );
            } else if found_token.is_some_and(starts_item) && expected.contains('}') {
                diagnostic = diagnostic.with_help("a `}` may be missing before this declaration");
            } else if found_token.is_none() {
                diagnostic = diagnostic.with_help("the file ended early: something is unfinished");
            }
            Some(diagnostic)
        }
    }
}

fn found_text(found: Option<&Token>, text: &str) -> String {
    match found {
        None => "the end of the file".to_string(),
        Some(Token::Ident) => format!("`{text}`"),
        Some(token) if token.is_keyword() => format!("`{text}`"),
        Some(Token::Int | Token::Float | Token::Duration) => format!("`{text}`"),
        Some(token) => token.describe().to_string(),
    }
}

fn describe_expected(expected: &[RichPattern<'_, Token>]) -> String {
    describe_expected_words(expected_words(expected))
}

fn expected_words(expected: &[RichPattern<'_, Token>]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for pattern in expected {
        let word = match pattern {
            RichPattern::Token(token) => match token.keyword_text() {
                Some(keyword) => format!("`{keyword}`"),
                None => token.describe().to_string(),
            },
            RichPattern::Label(label) => label.to_string(),
            RichPattern::Identifier(word) => format!("`{word}`"),
            RichPattern::Any => "something".to_string(),
            RichPattern::SomethingElse => "something else".to_string(),
            RichPattern::EndOfInput => "the end of the file".to_string(),
            _ => "something else".to_string(),
        };
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

fn describe_expected_words(mut words: Vec<String>) -> String {
    // A declaration keyword or the end of the file is expected almost everywhere;
    // naming them adds noise once something more specific is on the list.
    if words.len() > 1 {
        words.retain(|word| word != "the end of the file" && word != "a declaration");
    }
    // Triggers and settings are statements of a workflow body to the reader.
    if words.iter().any(|word| word == "a statement") {
        words.retain(|word| word != "`on`" && word != "`settings`");
    }
    if words.len() > 1 {
        words.retain(|word| word != "something else");
    }
    // `!` and `-` start expressions: "an expression" already says them.
    if words.iter().any(|word| word == "an expression") {
        words.retain(|word| word != "`!`" && word != "`-`");
    }
    // Labels ("an expression") first, then keywords, then separators and closers,
    // then operators: the words most likely to name what is missing come before
    // the cut.
    words.sort_by_key(|word| {
        let keyword = word.starts_with('`')
            && word[1..].starts_with(|c: char| c.is_ascii_alphabetic())
            && !matches!(word.as_str(), "`as`" | "`in`");
        let separator = matches!(word.as_str(), "`,`" | "`)`" | "`]`" | "`}`" | "`:`" | "`=`");
        let rank = if !word.starts_with('`') {
            0
        } else if keyword {
            1
        } else if separator {
            2
        } else {
            3
        };
        (rank, word.clone())
    });
    match words.len() {
        0 => "something else".to_string(),
        1 => words.remove(0),
        n if n > 7 => {
            let shown = words[..6].join(", ");
            format!("{shown} or another")
        }
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} or {}", words.join(", "), last)
        }
    }
}

// ------------------------------------------------------------------ after parsing

/// Gives each declaration the `///` lines that stand right above it.
fn attach_docs(module: &mut Module, docs: &[(Span, String)]) {
    let mut previous_end = 0u32;
    let mut next = 0usize;
    for item in &mut module.items {
        while next < docs.len() && docs[next].0.start < previous_end {
            next += 1;
        }
        let mut lines = Vec::new();
        while next < docs.len() && docs[next].0.end <= item.span.start {
            lines.push(docs[next].1.clone());
            next += 1;
        }
        item.docs = Docs(lines);
        previous_end = item.span.end;
    }
}

/// Checks that need a finished subtree: chained comparisons and `set` targets.
fn validate(module: &Module, diagnostics: &mut Vec<Diagnostic>) {
    let mut walker = Validator { diagnostics };
    for item in &module.items {
        match &item.kind {
            ItemKind::Fn(decl) => walker.expr(&decl.body),
            ItemKind::Connection(connection) => walker.fields(&connection.fields),
            ItemKind::Workflow(workflow) => {
                for trigger in &workflow.triggers {
                    if let TriggerKind::Webhook { options, .. } = &trigger.kind {
                        walker.fields(options);
                    }
                }
                for settings in &workflow.settings {
                    walker.fields(&settings.fields);
                }
                walker.stmts(&workflow.body);
            }
            ItemKind::Test(test) => walker.stmts(&test.body.stmts),
            _ => {}
        }
    }
}

struct Validator<'a> {
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Validator<'_> {
    fn stmts(&mut self, stmts: &[Stmt]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Step { action, .. } => match action {
                StepAction::Http(call) => self.http(call),
                StepAction::Call { args, .. } => self.args(args),
                StepAction::Wait(expr) | StepAction::WaitUntil(expr) => self.expr(expr),
                StepAction::AwaitEvent {
                    filter, options, ..
                }
                | StepAction::AwaitWebhook {
                    filter, options, ..
                } => {
                    self.expr(filter);
                    self.args(options);
                }
                StepAction::Await(_) | StepAction::Error => {}
            },
            StmtKind::Let { value, .. } => match value {
                LetValue::Expr(expr) => self.expr(expr),
                LetValue::Callback { args, .. } | LetValue::Approval { args, .. } => {
                    self.args(args)
                }
                LetValue::For(for_loop, _) => self.for_loop(for_loop),
            },
            StmtKind::Set { target, value } => {
                if !is_context_path(target) {
                    self.diagnostics.push(diag::invalid_set_target(target.span));
                }
                self.expr(value);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                self.stmts(&then.stmts);
                if let Some(otherwise) = otherwise {
                    self.stmt(otherwise);
                }
            }
            StmtKind::Block(block) => self.stmts(&block.stmts),
            StmtKind::Match { scrutinee, arms } => {
                self.expr(scrutinee);
                for arm in arms {
                    self.stmt(&arm.body);
                }
            }
            StmtKind::For(for_loop) => self.for_loop(for_loop),
            StmtKind::Parallel { branches } => self.stmts(branches),
            StmtKind::Try { body, handler, .. } => {
                self.stmts(&body.stmts);
                self.stmts(&handler.stmts);
            }
            StmtKind::Fail(expr) | StmtKind::Yield(expr) => self.expr(expr),
            StmtKind::Return(expr) => {
                if let Some(expr) = expr {
                    self.expr(expr);
                }
            }
            StmtKind::Emit { payload, .. } => self.expr(payload),
            StmtKind::Mock { request, response } => {
                self.http(request);
                self.expr(response);
            }
            StmtKind::Assert { cond, message } => {
                self.expr(cond);
                if let Some(message) = message {
                    self.expr(message);
                }
            }
            StmtKind::Error => {}
        }
    }

    fn for_loop(&mut self, for_loop: &ForLoop) {
        self.expr(&for_loop.iter);
        self.args(&for_loop.options);
        self.stmts(&for_loop.body.stmts);
    }

    fn http(&mut self, call: &HttpCall) {
        match &call.target {
            HttpTarget::Url(url) => self.expr(url),
            HttpTarget::Connection { path, .. } => self.expr(path),
        }
        self.fields(&call.options);
    }

    fn fields(&mut self, fields: &[Field]) {
        for field in fields {
            self.expr(&field.value);
        }
    }

    fn args(&mut self, args: &[Arg]) {
        for arg in args {
            self.expr(&arg.value);
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Binary { op, lhs, rhs } => {
                if let ExprKind::Binary { op: inner, .. } = &lhs.kind
                    && comparison_level(*op).is_some()
                    && comparison_level(*op) == comparison_level(*inner)
                {
                    self.diagnostics.push(diag::chained_comparison(expr.span));
                }
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Template(parts) => {
                for part in parts {
                    if let TemplatePart::Expr(expr) = part {
                        self.expr(expr);
                    }
                }
            }
            ExprKind::List(items) => {
                for item in items {
                    self.expr(item);
                }
            }
            ExprKind::Record(fields) | ExprKind::Tagged { fields, .. } => self.fields(fields),
            ExprKind::Field { base, .. } => self.expr(base),
            ExprKind::Index { base, index } => {
                self.expr(base);
                self.expr(index);
            }
            ExprKind::Call { callee, args } => {
                self.expr(callee);
                self.args(args);
            }
            ExprKind::Unary { operand, .. } => self.expr(operand),
            ExprKind::As { value, .. } => self.expr(value),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                self.expr(then);
                self.expr(otherwise);
            }
            ExprKind::Match { scrutinee, arms } => {
                self.expr(scrutinee);
                for (_, arm) in arms {
                    self.expr(arm);
                }
            }
            ExprKind::Lambda { body, .. } => self.expr(body),
            ExprKind::Paren(inner) => self.expr(inner),
            ExprKind::Literal(_) | ExprKind::Name(_) | ExprKind::Error => {}
        }
    }
}

/// Equality operators and ordering operators are two separate non-chaining levels.
fn comparison_level(op: BinaryOp) -> Option<u8> {
    match op {
        BinaryOp::Eq | BinaryOp::NotEq => Some(0),
        BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq | BinaryOp::In => Some(1),
        _ => None,
    }
}

fn is_context_path(target: &Expr) -> bool {
    let mut current = target;
    let mut depth = 0;
    loop {
        match &current.kind {
            ExprKind::Field {
                base,
                optional: false,
                ..
            } => {
                depth += 1;
                current = base;
            }
            ExprKind::Index { base, .. } => {
                depth += 1;
                current = base;
            }
            ExprKind::Name(name) => return name.name == "context" && depth == 1,
            _ => return false,
        }
    }
}
