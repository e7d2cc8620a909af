; Tags: the declarations of a file and the places that use them, for code
; navigation (`tree-sitter tags`, GitHub, editors' symbol outlines).

(workflow_declaration
  name: (identifier) @name) @definition.function

(function_declaration
  name: (identifier) @name) @definition.function

(type_declaration
  name: (type_identifier) @name) @definition.type

(connection_declaration
  name: (identifier) @name) @definition.module

(event_declaration
  name: (identifier) @name) @definition.constant

(call_action
  workflow: (identifier) @name) @reference.call

(call_expression
  function: (identifier) @name) @reference.call

(call_expression
  function: (field_expression
    field: (field_identifier) @name)) @reference.call

(type_identifier) @name @reference.type

(http_request
  connection: (identifier) @name) @reference.module

(emit_statement
  event: (identifier) @name) @reference.constant
