; Highlighting for Flow.
;
; Capture names are the standard ones of nvim-treesitter, which Helix and Zed
; resolve too (a theme without `keyword.conditional` falls back to `keyword`).
; Where two patterns match one node, the later one wins, as in Neovim and in
; tree-sitter-highlight (the `tree-sitter highlight` and `test` commands): so the
; general patterns come first and the specific ones after them.

; ------------------------------------------------------------------ names

; Every name, unless a pattern below says more. A name that refers to a local
; binding takes the highlight of its definition (queries/locals.scm).
(identifier) @variable

(type_identifier) @type

(field_identifier) @property

; ------------------------------------------------------------------ punctuation

[
  "=="
  "!="
  "<"
  "<="
  ">"
  ">="
  "+"
  "-"
  "*"
  "/"
  "%"
  "!"
  "&&"
  "||"
  "??"
  "="
  "=>"
  "->"
  "|"
  "?"
] @operator

[
  "."
  "?."
  ","
  ":"
] @punctuation.delimiter

[
  "("
  ")"
  "["
  "]"
  "{"
  "}"
] @punctuation.bracket

; ------------------------------------------------------------------ comments

(line_comment) @comment

(block_comment) @comment

(doc_comment) @comment.documentation

; ------------------------------------------------------------------ literals

; The parts of a string, not the string: an interpolation holds code.
(string
  "\"" @string)

(string_content) @string

(escape_sequence) @string.escape

(interpolation
  "${" @punctuation.special
  "}" @punctuation.special)

(integer) @constant.numeric.integer

(float) @constant.numeric.float

(duration) @constant.numeric.integer

(negative_number) @constant.numeric.integer

(negative_number
  "-" @constant.numeric.integer)

(true) @constant.builtin.boolean

(false) @constant.builtin.boolean

(null) @constant.builtin

(wildcard) @variable.builtin

; ------------------------------------------------------------------ keywords

[
  "workflow"
  "connection"
  "event"
  "test"
  "on"
  "settings"
  "step"
  "let"
  "set"
  "emit"
  "http"
  "call"
  "callback"
  "approval"
  "where"
  "mock"
  "assert"
] @keyword

; Contextual keywords: names everywhere but in their one position.
[
  "webhook"
  "schedule"
  "tz"
  "manual"
] @keyword

"fn" @keyword.function

"type" @keyword.type

"import" @keyword.import

[
  "if"
  "then"
  "else"
  "match"
] @keyword.conditional

[
  "for"
  "parallel"
] @keyword.repeat

(for_statement
  "in" @keyword.repeat)

[
  "return"
  "yield"
] @keyword.return

[
  "try"
  "catch"
  "fail"
] @keyword.exception

[
  "await"
  "wait"
  "until"
] @keyword.coroutine

(binary_expression
  "in" @keyword.operator)

(cast_expression
  "as" @keyword.operator)

(await_event_action
  "as" @keyword)

(await_webhook_action
  "as" @keyword)

; ------------------------------------------------------------------ types

((type_identifier) @type.builtin
  (#match? @type.builtin "^(bool|int|float|string|duration|time|json|secret)$"))

(type_declaration
  name: (type_identifier) @type.definition)

; ------------------------------------------------------------------ declarations and bindings

(workflow_declaration
  name: (identifier) @function)

(function_declaration
  name: (identifier) @function)

(connection_declaration
  name: (identifier) @module)

(event_declaration
  name: (identifier) @constant)

(parameter
  name: (identifier) @variable.parameter)

(lambda
  parameters: (identifier) @variable.parameter)

(lambda_parameters
  (identifier) @variable.parameter)

(step_statement
  name: (identifier) @label)

; ------------------------------------------------------------------ names in use

(http_method) @constant

(event_trigger
  event: (identifier) @constant)

(await_event_action
  event: (identifier) @constant)

(emit_statement
  event: (identifier) @constant)

(call_action
  workflow: (identifier) @function.call)

(http_request
  connection: (identifier) @module)

(tagged_record
  tag: (identifier) @constructor)

(call_expression
  function: (identifier) @function.call)

(call_expression
  function: (field_expression
    field: (field_identifier) @function.method.call))

(argument
  name: (identifier) @variable.parameter)

; The predeclared names (SPEC §3.4): not keywords, so a binding may hide them.
((identifier) @variable.builtin
  (#match? @variable.builtin "^(secrets|context|webhook)$"))
