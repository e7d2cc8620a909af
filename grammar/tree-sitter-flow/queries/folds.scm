; Folds: every bracketed body that may span lines, and block comments.

[
  (workflow_body)
  (block)
  (field_block)
  (record_type)
  (match_block)
  (match_expression)
  (parallel_statement)
  (list)
  (arguments)
  (block_comment)
] @fold
