; Scopes, definitions and references, for highlighting a name like its binding
; and for editors that navigate by them (SPEC §6.2 says what each binding sees).

; ------------------------------------------------------------------ scopes

[
  (workflow_declaration)
  (function_declaration)
  (test_declaration)
  (connection_declaration)
  (block)
  (for_statement)
  (match_arm)
  (match_expression_arm)
  (lambda)
  (await_event_action)
  (await_webhook_action)
] @local.scope

; ------------------------------------------------------------------ definitions

(parameter
  name: (identifier) @local.definition.parameter)

(lambda
  parameters: (identifier) @local.definition.parameter)

(lambda_parameters
  (identifier) @local.definition.parameter)

(let_statement
  name: (identifier) @local.definition.var)

(step_statement
  name: (identifier) @local.definition.var)

(for_statement
  variable: (identifier) @local.definition.var)

(try_statement
  error: (identifier) @local.definition.var)

(await_event_action
  binding: (identifier) @local.definition.var)

(await_webhook_action
  binding: (identifier) @local.definition.var)

(match_arm
  pattern: (identifier) @local.definition.var)

(match_expression_arm
  pattern: (identifier) @local.definition.var)

(or_pattern
  (identifier) @local.definition.var)

; ------------------------------------------------------------------ references

(identifier) @local.reference
