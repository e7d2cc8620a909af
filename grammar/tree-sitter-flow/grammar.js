/**
 * @file Tree-sitter grammar for Flow, the language of flowc.
 *
 * This grammar follows grammar/flow.ebnf and the parser in
 * compiler/src/syntax/parser.rs, which is the ground truth; grammar/SPEC.md
 * explains each rule. It is for editors (highlighting, folding, navigation), so
 * it is a little more lenient than the compiler where leniency costs nothing:
 * any string is accepted where the compiler wants a plain one, and any name
 * where it wants an HTTP method. What the compiler rejects for a reason that is
 * not syntax (an unknown name, a misplaced `yield`) is not this grammar's business.
 *
 * Four lexical rules need care:
 * - the two kinds of `(` (SPEC §3.10): a `(` written directly after the previous
 *   token (`len(x)`) is the only one that starts a call; after a space it is a
 *   group or a statement's options (`for x in xs (concurrency: 5)`). The call
 *   paren is `token.immediate`.
 * - strings with `${…}` interpolations (SPEC §3.7): the text between quotes is
 *   scanned by src/scanner.c, which stops at `\`, `${`, the closing quote and the
 *   end of the line; the interpolation is ordinary grammar.
 * - block comments nest (each opener needs its own closer), which a regular
 *   expression cannot say: src/scanner.c scans them, and the line and doc
 *   comments beside them.
 * - a keyword may be a field name, and `in` and `as` are operators too: in
 *   `{ key: k  in: "query" }` (no comma) only the `:` after `in` says it starts
 *   the next field, so src/scanner.c looks past the word for the colon.
 *
 * A record literal is not allowed at the top level of the head of `if`, `match`,
 * `for`, `wait` and a `where` clause (SPEC §8.9: there `{` opens the block). The
 * grammar says so as the EBNF does, with a second, restricted copy of the
 * expression rules (suffix `_nr`, "no record"), each aliased to the node of the
 * full rule, so that trees look the same in both places.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

/** Operator precedence, loosest first (SPEC §8.1). */
const PREC = {
  lambda: 1,
  if: 2,
  or: 3,
  and: 4,
  equality: 5,
  comparison: 6,
  coalesce: 7,
  additive: 8,
  multiplicative: 9,
  cast: 10,
  unary: 11,
  postfix: 12,
};

/**
 * The reserved words: the `KEYWORDS` table of compiler/src/syntax/token.rs, in its
 * order. Any of them may be a field name after `.` or before `:`.
 */
const KEYWORDS = [
  'workflow', 'type', 'connection', 'event', 'fn', 'import', 'test',
  'on', 'settings', 'step', 'let', 'set', 'if', 'then', 'else',
  'match', 'for', 'in', 'parallel', 'try', 'catch', 'fail',
  'return', 'emit', 'await', 'wait', 'until', 'call', 'http',
  'callback', 'approval', 'as', 'where', 'yield', 'mock', 'assert',
  'true', 'false', 'null',
];

/**
 * Zero or more `rule`s separated by `separator`, which may also trail.
 *
 * @param {RuleOrLiteral} rule
 * @param {RuleOrLiteral} separator
 */
function sepTrailing(rule, separator) {
  return optional(seq(rule, repeat(seq(separator, rule)), optional(separator)));
}

/**
 * The expression rules, once in full (`suffix` empty) and once restricted
 * (`suffix` `_nr`): no record literal and no tagged record at the top level.
 * Inside brackets, and in the parts of `if … then … else` before the `else`, the
 * full rules apply again, as in the parser.
 *
 * @param {string} suffix
 */
function expressionRules(suffix) {
  const restricted = suffix !== '';
  /** @param {string} name */
  const named = (name) => name + suffix;
  /**
   * A reference to one of this copy's rules, under the full rule's node name.
   *
   * @param {GrammarSymbols<string>} $
   * @param {string} name
   */
  const ref = ($, name) => (restricted ? alias($[named(name)], $[name]) : $[name]);
  /** @param {GrammarSymbols<string>} $ */
  const expr = ($) => $[named('_expression')];

  const binary = [
    [PREC.or, '||', prec.left],
    [PREC.and, '&&', prec.left],
    [PREC.equality, choice('==', '!='), prec.left],
    [PREC.comparison, choice('<', '<=', '>', '>=', 'in'), prec.left],
    [PREC.coalesce, '??', prec.right],
    [PREC.additive, choice('+', '-'), prec.left],
    [PREC.multiplicative, choice('*', '/', '%'), prec.left],
  ];

  /** @type {Record<string, ($: GrammarSymbols<string>) => RuleOrLiteral>} */
  const rules = {
    [named('_expression')]: ($) => choice(
      ref($, 'lambda'),
      ref($, 'if_expression'),
      $.match_expression,
      ref($, 'binary_expression'),
      ref($, 'unary_expression'),
      ref($, 'cast_expression'),
      ref($, 'field_expression'),
      ref($, 'index_expression'),
      ref($, 'call_expression'),
      $._primary_expression,
      ...(restricted ? [] : [$.tagged_record, alias($.field_block, $.record)]),
    ),

    [named('lambda')]: ($) => prec.right(PREC.lambda, seq(
      field('parameters', choice($.identifier, $.lambda_parameters)),
      '=>',
      field('body', expr($)),
    )),

    [named('if_expression')]: ($) => prec.right(PREC.if, seq(
      'if',
      field('condition', $._expression),
      'then',
      field('consequence', $._expression),
      'else',
      field('alternative', expr($)),
    )),

    [named('binary_expression')]: ($) => choice(...binary.map(([precedence, operator, assoc]) =>
      // @ts-ignore: the table's entries are well typed, the tuple is not.
      assoc(precedence, seq(
        field('left', expr($)),
        // @ts-ignore
        field('operator', operator),
        field('right', expr($)),
      )))),

    [named('unary_expression')]: ($) => prec(PREC.unary, seq(
      field('operator', choice('!', '-')),
      field('operand', expr($)),
    )),

    [named('cast_expression')]: ($) => prec.left(PREC.cast, seq(
      field('value', expr($)),
      'as',
      field('type', $._type),
    )),

    [named('field_expression')]: ($) => prec.left(PREC.postfix, seq(
      field('value', expr($)),
      field('operator', choice('.', '?.')),
      field('field', $._field_name),
    )),

    [named('index_expression')]: ($) => prec.left(PREC.postfix, seq(
      field('value', expr($)),
      '[',
      field('index', $._expression),
      ']',
    )),

    [named('call_expression')]: ($) => prec.left(PREC.postfix, seq(
      field('function', expr($)),
      field('arguments', alias($.call_arguments, $.arguments)),
    )),
  };
  return rules;
}

export default grammar({
  name: 'flow',

  word: $ => $.identifier,

  // The 39 keywords are reserved everywhere (a keyword cannot name anything, E0208);
  // the contextual keywords (`webhook`, `schedule`, `tz`, `manual`) and `_` are
  // not, so they stay names outside their one position. Field names list the
  // keywords explicitly (`_field_name`), which is how `order.type` still parses.
  reserved: {
    global: _ => KEYWORDS,
  },

  externals: $ => [
    $.string_content,
    $.line_comment,
    $.doc_comment,
    $.block_comment,
    // `in` or `as` followed by `:`: a field name, not an operator. After a field's
    // value with the comma left out (`{ key: k  in: "query" }`), the parser could
    // not tell them apart by the next token alone.
    $._keyword_field_name,
    // Never used by the grammar: valid only while the parser recovers from an
    // error, which tells the scanner not to read code as string text.
    $._error_sentinel,
  ],

  extras: $ => [
    /\s/,
    $.line_comment,
    $.doc_comment,
    $.block_comment,
  ],

  supertypes: $ => [
    $._item,
    $._statement,
    $._expression,
    $._type,
    $._pattern,
  ],

  conflicts: $ => [
    // `(a)` is a group until a `=>` makes it a lambda's parameters.
    [$._primary_expression, $.lambda_parameters],
    // `x {` is a tagged record, or the name `x` before a block branch of a
    // `parallel` (`parallel { fail x  { step … } }`).
    [$._primary_expression, $.tagged_record],
    [$.http_request],
    // `return` takes a value if one can follow; `return` before an `if` or `match`
    // statement is tried both ways, as the parser does.
    [$.return_statement],
  ],

  rules: {
    source_file: $ => repeat($._item),

    // ------------------------------------------------------------ declarations

    _item: $ => choice(
      $.import_declaration,
      $.type_declaration,
      $.event_declaration,
      $.connection_declaration,
      $.function_declaration,
      $.workflow_declaration,
      $.test_declaration,
    ),

    import_declaration: $ => seq('import', field('path', $.string)),

    type_declaration: $ => seq(
      'type',
      field('name', alias($.identifier, $.type_identifier)),
      '=',
      field('type', $._type),
    ),

    event_declaration: $ => seq(
      'event',
      field('name', $.identifier),
      '=',
      field('type', $._type),
    ),

    connection_declaration: $ => seq(
      'connection',
      field('name', $.identifier),
      field('body', $.field_block),
    ),

    function_declaration: $ => seq(
      'fn',
      field('name', $.identifier),
      field('parameters', $.parameters),
      '->',
      field('return_type', $._type),
      '=',
      field('body', $._expression),
    ),

    workflow_declaration: $ => seq(
      'workflow',
      field('name', $.identifier),
      field('parameters', $.parameters),
      optional(seq('->', field('return_type', $._type))),
      field('body', $.workflow_body),
    ),

    parameters: $ => seq('(', sepTrailing($.parameter, ','), ')'),

    parameter: $ => seq(
      field('name', $.identifier),
      ':',
      field('type', $._type),
    ),

    workflow_body: $ => seq(
      '{',
      repeat(choice($._trigger, $.settings, $._statement)),
      '}',
    ),

    settings: $ => seq('settings', field('body', $.field_block)),

    test_declaration: $ => seq(
      'test',
      field('name', $.string),
      field('body', $.block),
    ),

    // ------------------------------------------------------------ triggers

    _trigger: $ => choice(
      $.webhook_trigger,
      $.schedule_trigger,
      $.event_trigger,
      $.manual_trigger,
    ),

    webhook_trigger: $ => seq(
      'on',
      'webhook',
      field('method', alias($.identifier, $.http_method)),
      field('path', $.string),
      optional(field('options', $.field_block)),
    ),

    schedule_trigger: $ => seq(
      'on',
      'schedule',
      field('cron', $.string),
      optional(seq('tz', field('time_zone', $.string))),
    ),

    event_trigger: $ => seq('on', 'event', field('event', $.identifier)),

    manual_trigger: _ => seq('on', 'manual'),

    // ------------------------------------------------------------ field blocks

    field_block: $ => seq('{', repeat(seq($.field, optional(','))), '}'),

    field: $ => seq(
      field('name', $._field_name),
      ':',
      field('value', $._expression),
    ),

    _field_name: $ => choice(
      alias($.identifier, $.field_identifier),
      alias(choice(...KEYWORDS), $.field_identifier),
      alias($._keyword_field_name, $.field_identifier),
      $.string,
    ),

    // ------------------------------------------------------------ types

    _type: $ => choice(
      $.union_type,
      $.optional_type,
      $._type_primary,
    ),

    _type_primary: $ => choice(
      alias($.identifier, $.type_identifier),
      $.null,
      $.string,
      $.integer,
      $.true,
      $.false,
      $.list_type,
      $.record_type,
      $.parenthesized_type,
    ),

    union_type: $ => prec.left(seq(
      field('left', $._type),
      '|',
      field('right', choice($.optional_type, $._type_primary)),
    )),

    optional_type: $ => seq(
      field('type', choice($.optional_type, $._type_primary)),
      '?',
    ),

    list_type: $ => seq('[', field('element', $._type), ']'),

    record_type: $ => seq('{', repeat(seq($.type_field, optional(','))), '}'),

    type_field: $ => seq(
      field('name', $._field_name),
      optional(field('optional', '?')),
      ':',
      field('type', $._type),
    ),

    parenthesized_type: $ => seq('(', $._type, ')'),

    // ------------------------------------------------------------ statements

    block: $ => seq('{', repeat($._statement), '}'),

    _statement: $ => choice(
      $.step_statement,
      $.let_statement,
      $.set_statement,
      $.if_statement,
      $.match_statement,
      $.for_statement,
      $.parallel_statement,
      $.try_statement,
      $.fail_statement,
      $.return_statement,
      $.emit_statement,
      $.yield_statement,
      $.mock_statement,
      $.assert_statement,
    ),

    step_statement: $ => seq(
      'step',
      field('name', $.identifier),
      '=',
      field('action', choice(
        $.http_request,
        $.call_action,
        $.wait_action,
        $.await_action,
        $.await_event_action,
        $.await_webhook_action,
      )),
    ),

    // In a `parallel`, the `{` after the target may open the request's options or
    // the next block branch; both are tried (see `conflicts`), and the options win
    // when both parse, as in the parser.
    http_request: $ => seq(
      'http',
      field('method', alias($.identifier, $.http_method)),
      choice(
        field('url', choice($.string, $.parenthesized_expression)),
        seq(field('connection', $.identifier), field('path', $.string)),
      ),
      optional(field('options', prec.dynamic(1, $.field_block))),
      optional(seq('->', field('response_type', $._type))),
    ),

    call_action: $ => seq(
      'call',
      field('workflow', $.identifier),
      field('arguments', $.arguments),
    ),

    wait_action: $ => seq(
      'wait',
      optional(field('until', 'until')),
      field('value', $._expression_nr),
    ),

    await_action: $ => seq('await', field('handle', $.identifier)),

    await_event_action: $ => seq(
      'await',
      'event',
      field('event', $.identifier),
      'as',
      field('binding', $.identifier),
      'where',
      field('filter', $._expression_nr),
      optional(field('options', $.arguments)),
    ),

    await_webhook_action: $ => seq(
      'await',
      'webhook',
      field('method', alias($.identifier, $.http_method)),
      field('path', $.string),
      'as',
      field('binding', $.identifier),
      optional(seq(':', field('type', $._type))),
      'where',
      field('filter', $._expression_nr),
      optional(field('options', $.arguments)),
    ),

    let_statement: $ => seq(
      'let',
      field('name', $.identifier),
      optional(seq(':', field('type', $._type))),
      '=',
      field('value', choice(
        $.callback_expression,
        $.approval_expression,
        $.for_statement,
        $._expression,
      )),
    ),

    callback_expression: $ => prec.right(seq(
      'callback',
      field('arguments', $.arguments),
      optional(seq('->', field('type', $._type))),
    )),

    approval_expression: $ => seq('approval', field('arguments', $.arguments)),

    set_statement: $ => seq(
      'set',
      field('target', $._expression),
      '=',
      field('value', $._expression),
    ),

    if_statement: $ => seq(
      'if',
      field('condition', $._expression_nr),
      field('consequence', $.block),
      optional(seq('else', field('alternative', choice($.if_statement, $.block)))),
    ),

    match_statement: $ => seq(
      'match',
      field('value', $._expression_nr),
      field('body', $.match_block),
    ),

    match_block: $ => seq('{', repeat($.match_arm), '}'),

    match_arm: $ => seq(
      field('pattern', $._pattern),
      '=>',
      field('body', choice($.block, $._statement)),
      optional(','),
    ),

    for_statement: $ => seq(
      'for',
      field('variable', $.identifier),
      'in',
      field('iterable', $._expression_nr),
      optional(field('options', $.arguments)),
      field('body', $.block),
    ),

    parallel_statement: $ => seq(
      'parallel',
      '{',
      repeat(field('branch', choice($.block, $._statement))),
      '}',
    ),

    try_statement: $ => seq(
      'try',
      field('body', $.block),
      'catch',
      field('error', $.identifier),
      field('handler', $.block),
    ),

    fail_statement: $ => seq('fail', field('message', $._expression)),

    return_statement: $ => seq(
      'return',
      optional(field('value', $._expression)),
    ),

    emit_statement: $ => seq(
      'emit',
      field('event', $.identifier),
      field('value', $._expression),
    ),

    yield_statement: $ => seq('yield', field('value', $._expression)),

    mock_statement: $ => seq(
      'mock',
      field('request', $.http_request),
      '=>',
      field('response', $._expression),
    ),

    assert_statement: $ => prec.right(seq(
      'assert',
      field('condition', $._expression),
      optional(seq(',', field('message', $._expression))),
    )),

    // ------------------------------------------------------------ patterns

    _pattern: $ => choice(
      $.or_pattern,
      $._pattern_atom,
    ),

    or_pattern: $ => prec.left(seq(
      field('left', $._pattern),
      '|',
      field('right', $._pattern_atom),
    )),

    _pattern_atom: $ => choice(
      $.wildcard,
      $.identifier,
      $.string,
      $.integer,
      $.float,
      $.negative_number,
      $.true,
      $.false,
      $.null,
    ),

    wildcard: _ => '_',

    negative_number: $ => seq('-', choice($.integer, $.float)),

    // ------------------------------------------------------------ expressions

    ...expressionRules(''),
    ...expressionRules('_nr'),

    match_expression: $ => seq(
      'match',
      field('value', $._expression_nr),
      '{',
      repeat($.match_expression_arm),
      '}',
    ),

    match_expression_arm: $ => prec.right(seq(
      field('pattern', $._pattern),
      '=>',
      field('value', $._expression),
      optional(','),
    )),

    _primary_expression: $ => choice(
      $.identifier,
      $.integer,
      $.float,
      $.duration,
      $.string,
      $.true,
      $.false,
      $.null,
      // `respond: wait` in a webhook trigger: `wait` read as a name (SPEC §5.1).
      alias('wait', $.identifier),
      $.list,
      $.parenthesized_expression,
    ),

    lambda_parameters: $ => seq('(', sepTrailing($.identifier, ','), ')'),

    // In a `parallel`, `fail x { … }` may end at `x` before a block branch; both
    // readings are tried (see `conflicts`), and when both parse, the tagged record
    // wins, as in the parser, which tries the field block first.
    tagged_record: $ => prec.dynamic(1, seq(
      field('tag', $.identifier),
      field('body', $.field_block),
    )),

    list: $ => seq('[', sepTrailing($._expression, ','), ']'),

    parenthesized_expression: $ => seq('(', $._expression, ')'),

    // Arguments in a group paren: `call w(…)`, `callback(…)`, a statement's options.
    arguments: $ => seq('(', sepTrailing($.argument, ','), ')'),

    // Arguments of a call: the paren must follow the callee directly.
    call_arguments: $ => seq(
      token.immediate(prec(1, '(')),
      sepTrailing($.argument, ','),
      ')',
    ),

    argument: $ => seq(
      optional(seq(field('name', $.identifier), ':')),
      field('value', $._expression),
    ),

    // ------------------------------------------------------------ literals

    string: $ => seq(
      '"',
      repeat(choice(
        $.string_content,
        $.escape_sequence,
        $.interpolation,
      )),
      token.immediate('"'),
    ),

    escape_sequence: _ => token.immediate(/\\(u\{[0-9a-fA-F]*\}|[^\n])/),

    interpolation: $ => seq(
      token.immediate('${'),
      field('value', $._expression),
      '}',
    ),

    integer: _ => /[0-9][0-9_]*/,

    float: _ => token(choice(
      /[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9][0-9_]*)?/,
      /[0-9][0-9_]*[eE][+-]?[0-9][0-9_]*/,
    )),

    duration: _ => /[0-9][0-9_]*(ms|s|m|h|d)/,

    true: _ => 'true',
    false: _ => 'false',
    null: _ => 'null',

    identifier: _ => /[A-Za-z_][A-Za-z0-9_]*/,
  },
});
