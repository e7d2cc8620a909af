//! The tokens of Flow and the one keyword table.
//!
//! Tokens carry no text: a token is its kind plus the byte span it came from, and
//! the parser slices the source when it needs the text of an identifier or literal.
//! That keeps `Token` `Copy` and the token vector small. The logos attributes below
//! drive the code-mode lexer; the string-mode tokens (`StrText`, `InterpOpen`, …)
//! and the call paren are produced by the modal wrapper in `lexer.rs`.

use logos::Logos;
use std::fmt;

#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"//[^\n]*", priority = 3, allow_greedy = true))]
pub enum Token {
    // Keywords. Keep `KEYWORDS` below in step: a test checks the two agree.
    #[token("workflow")]
    Workflow,
    #[token("type")]
    Type,
    #[token("connection")]
    Connection,
    #[token("event")]
    Event,
    #[token("fn")]
    Fn,
    #[token("import")]
    Import,
    #[token("test")]
    Test,
    #[token("on")]
    On,
    #[token("settings")]
    Settings,
    #[token("step")]
    Step,
    #[token("let")]
    Let,
    #[token("set")]
    Set,
    #[token("if")]
    If,
    #[token("then")]
    Then,
    #[token("else")]
    Else,
    #[token("match")]
    Match,
    #[token("for")]
    For,
    #[token("in")]
    In,
    #[token("parallel")]
    Parallel,
    #[token("try")]
    Try,
    #[token("catch")]
    Catch,
    #[token("fail")]
    Fail,
    #[token("return")]
    Return,
    #[token("emit")]
    Emit,
    #[token("await")]
    Await,
    #[token("wait")]
    Wait,
    #[token("until")]
    Until,
    #[token("call")]
    Call,
    #[token("http")]
    Http,
    #[token("callback")]
    Callback,
    #[token("approval")]
    Approval,
    #[token("as")]
    As,
    #[token("where")]
    Where,
    #[token("yield")]
    Yield,
    #[token("mock")]
    Mock,
    #[token("assert")]
    Assert,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("null")]
    Null,

    // Names and numbers.
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    #[regex(r"[0-9][0-9_]*")]
    Int,
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9][0-9_]*)?", priority = 3)]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9][0-9_]*", priority = 3)]
    Float,
    #[regex(r"[0-9][0-9_]*(ms|s|m|h|d)", priority = 4)]
    Duration,
    /// A number run into letters that are not a duration unit (`10y`, `1.5s`): the
    /// lexer reports it and the parser sees a `Duration` or `Float` in its place.
    #[regex(r"[0-9][0-9_]*(\.[0-9][0-9_]*)?[A-Za-z][A-Za-z0-9_]*", priority = 1)]
    BadNumber,

    // Punctuation.
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    /// A `(` that does not directly follow a name, `)` or `]`: a group.
    #[token("(")]
    LParen,
    /// A `(` directly after a name, `)` or `]`: the only paren that starts a call.
    CallParen,
    #[token(")")]
    RParen,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token(".")]
    Dot,
    #[token("?.")]
    QuestionDot,
    #[token("?")]
    Question,
    #[token("??")]
    QuestionQuestion,
    #[token("=")]
    Eq,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    LtEq,
    #[token(">")]
    Gt,
    #[token(">=")]
    GtEq,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("!")]
    Bang,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("|")]
    Pipe,
    #[token("=>")]
    FatArrow,
    #[token("->")]
    Arrow,

    // Strings: `"a ${b} c"` is StrStart StrText InterpOpen Ident InterpClose StrText StrEnd.
    #[token("\"")]
    StrStart,
    /// Literal text inside a string, escapes still in it (see `lexer::unescape`).
    StrText,
    /// `${` inside a string.
    InterpOpen,
    /// The `}` that closes an interpolation.
    InterpClose,
    StrEnd,

    /// Comment starts, consumed by the wrapper in `lexer.rs`, never seen by the parser.
    #[token("/*")]
    BlockCommentStart,
    #[regex(r"///[^\n]*", priority = 5, allow_greedy = true)]
    DocComment,

    /// Input the lexer could not make sense of; already reported, so the parser
    /// stays silent about it.
    Error,
}

/// Every reserved word with its token: the single source of truth for the keyword
/// list that SPEC.md, the editor grammars and tests read.
pub const KEYWORDS: &[(&str, Token)] = &[
    ("workflow", Token::Workflow),
    ("type", Token::Type),
    ("connection", Token::Connection),
    ("event", Token::Event),
    ("fn", Token::Fn),
    ("import", Token::Import),
    ("test", Token::Test),
    ("on", Token::On),
    ("settings", Token::Settings),
    ("step", Token::Step),
    ("let", Token::Let),
    ("set", Token::Set),
    ("if", Token::If),
    ("then", Token::Then),
    ("else", Token::Else),
    ("match", Token::Match),
    ("for", Token::For),
    ("in", Token::In),
    ("parallel", Token::Parallel),
    ("try", Token::Try),
    ("catch", Token::Catch),
    ("fail", Token::Fail),
    ("return", Token::Return),
    ("emit", Token::Emit),
    ("await", Token::Await),
    ("wait", Token::Wait),
    ("until", Token::Until),
    ("call", Token::Call),
    ("http", Token::Http),
    ("callback", Token::Callback),
    ("approval", Token::Approval),
    ("as", Token::As),
    ("where", Token::Where),
    ("yield", Token::Yield),
    ("mock", Token::Mock),
    ("assert", Token::Assert),
    ("true", Token::True),
    ("false", Token::False),
    ("null", Token::Null),
];

/// Names that are not reserved but mean something in one position: after `on`, in
/// `await webhook`, in `schedule "…" tz "…"`, and the HTTP methods.
pub const CONTEXTUAL_KEYWORDS: &[&str] = &["webhook", "schedule", "tz", "manual"];

/// The HTTP methods a trigger or step may name.
pub const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

impl Token {
    /// Whether this is a reserved word. Keywords are the first variants, up to
    /// `Null`; a test checks that `KEYWORDS` lists exactly them.
    pub fn is_keyword(self) -> bool {
        (self as u8) <= (Token::Null as u8)
    }

    pub fn keyword_text(self) -> Option<&'static str> {
        if !self.is_keyword() {
            return None;
        }
        KEYWORDS
            .iter()
            .find(|(_, token)| *token == self)
            .map(|(text, _)| *text)
    }

    /// How the token reads in "expected …, found …" messages.
    pub fn describe(self) -> &'static str {
        if let Some(text) = self.keyword_text() {
            return text;
        }
        match self {
            Token::Ident => "a name",
            Token::Int => "an integer",
            Token::Float => "a float",
            Token::Duration => "a duration",
            Token::BadNumber => "a number",
            Token::LBrace => "`{`",
            Token::RBrace => "`}`",
            Token::LBracket => "`[`",
            Token::RBracket => "`]`",
            Token::LParen | Token::CallParen => "`(`",
            Token::RParen => "`)`",
            Token::Comma => "`,`",
            Token::Colon => "`:`",
            Token::Dot => "`.`",
            Token::QuestionDot => "`?.`",
            Token::Question => "`?`",
            Token::QuestionQuestion => "`??`",
            Token::Eq => "`=`",
            Token::EqEq => "`==`",
            Token::NotEq => "`!=`",
            Token::Lt => "`<`",
            Token::LtEq => "`<=`",
            Token::Gt => "`>`",
            Token::GtEq => "`>=`",
            Token::Plus => "`+`",
            Token::Minus => "`-`",
            Token::Star => "`*`",
            Token::Slash => "`/`",
            Token::Percent => "`%`",
            Token::Bang => "`!`",
            Token::AndAnd => "`&&`",
            Token::OrOr => "`||`",
            Token::Pipe => "`|`",
            Token::FatArrow => "`=>`",
            Token::Arrow => "`->`",
            Token::StrStart => "a string",
            Token::StrText => "string text",
            Token::InterpOpen => "`${`",
            Token::InterpClose => "`}`",
            Token::StrEnd => "the end of the string",
            Token::BlockCommentStart | Token::DocComment => "a comment",
            Token::Error => "invalid input",
            _ => "a keyword",
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_table_lists_exactly_the_keyword_variants() {
        for (text, token) in KEYWORDS {
            assert!(
                token.is_keyword(),
                "{text} is in KEYWORDS but not a keyword variant"
            );
            let lexed: Vec<_> = Token::lexer(text).collect();
            assert_eq!(
                lexed,
                vec![Ok(*token)],
                "`{text}` does not lex as its keyword"
            );
        }
        let variants = (Token::Null as u8) + 1;
        assert_eq!(KEYWORDS.len(), usize::from(variants));
        assert!(!Token::Ident.is_keyword());
    }
}
