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
  name: (identifier) @local.definition)

(lambda
  parameters: (identifier) @local.definition)

(lambda_parameters
  (identifier) @local.definition)

(let_statement
  name: (identifier) @local.definition)

(step_statement
  name: (identifier) @local.definition)

(for_statement
  variable: (identifier) @local.definition)

(try_statement
  error: (identifier) @local.definition)

(await_event_action
  binding: (identifier) @local.definition)

(await_webhook_action
  binding: (identifier) @local.definition)

(match_arm
  pattern: (identifier) @local.definition)

(match_expression_arm
  pattern: (identifier) @local.definition)

(or_pattern
  (identifier) @local.definition)

; ------------------------------------------------------------------ references

(identifier) @local.reference
