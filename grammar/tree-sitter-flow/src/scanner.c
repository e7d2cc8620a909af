/*
 * The external scanner of tree-sitter-flow: the tokens a regular expression
 * cannot describe.
 *
 * - String text (SPEC §3.7): everything between the quotes up to a `\`, a `${`,
 *   the closing quote or the end of the line. Inside a string, comment openers are
 *   text, and spaces belong to the text, so this runs before the lexer skips
 *   whitespace.
 * - Comments (SPEC §3.2): `//` line comments, `///` doc comments (four slashes or
 *   more make an ordinary comment) and block comments, which nest.
 * - A field name `in` or `as` directly followed by `:` (after optional spaces), so
 *   that `{ key: k  in: "query" }` reads `in` as the next field's name and not as
 *   the operator.
 *
 * The scanner keeps no state between tokens: nesting depth of block comments is
 * counted within one token, and whether the parser is inside a string is known
 * from which tokens are valid.
 */

#include "tree_sitter/parser.h"

#include <stdbool.h>
#include <stdint.h>

enum TokenType {
  STRING_CONTENT,
  LINE_COMMENT,
  DOC_COMMENT,
  BLOCK_COMMENT,
  KEYWORD_FIELD_NAME,
  ERROR_SENTINEL,
};

void *tree_sitter_flow_external_scanner_create(void) { return NULL; }

void tree_sitter_flow_external_scanner_destroy(void *payload) { (void)payload; }

unsigned tree_sitter_flow_external_scanner_serialize(void *payload, char *buffer) {
  (void)payload;
  (void)buffer;
  return 0;
}

void tree_sitter_flow_external_scanner_deserialize(void *payload, const char *buffer,
                                                   unsigned length) {
  (void)payload;
  (void)buffer;
  (void)length;
}

static void advance(TSLexer *lexer) { lexer->advance(lexer, false); }

static void skip(TSLexer *lexer) { lexer->advance(lexer, true); }

static bool is_space(int32_t c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

static bool is_word_char(int32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_';
}

/* Text inside a string, up to (not including) a quote, backslash, `${` or line end. */
static bool scan_string_content(TSLexer *lexer) {
  bool has_content = false;
  for (;;) {
    int32_t c = lexer->lookahead;
    if (c == '"' || c == '\\' || c == '\n' || lexer->eof(lexer)) {
      lexer->mark_end(lexer);
      break;
    }
    if (c == '\r' || c == '$') {
      /* A CRLF line end ends the string as a lone LF does; `${` opens an
       * interpolation. Either way the text ends before this character. */
      lexer->mark_end(lexer);
      advance(lexer);
      int32_t next = lexer->lookahead;
      if ((c == '\r' && next == '\n') || (c == '$' && next == '{')) {
        break;
      }
      has_content = true;
      continue;
    }
    advance(lexer);
    has_content = true;
  }
  if (has_content) {
    lexer->result_symbol = STRING_CONTENT;
  }
  return has_content;
}

/* A comment; the lexer is at the first `/`. */
static bool scan_comment(TSLexer *lexer, const bool *valid_symbols) {
  advance(lexer);
  if (lexer->lookahead == '/') {
    advance(lexer);
    unsigned slashes = 2;
    while (lexer->lookahead == '/') {
      advance(lexer);
      slashes++;
    }
    while (lexer->lookahead != '\n' && !lexer->eof(lexer)) {
      advance(lexer);
    }
    lexer->mark_end(lexer);
    if (slashes == 3 && valid_symbols[DOC_COMMENT]) {
      lexer->result_symbol = DOC_COMMENT;
      return true;
    }
    if (!valid_symbols[LINE_COMMENT]) {
      return false;
    }
    lexer->result_symbol = LINE_COMMENT;
    return true;
  }
  if (lexer->lookahead == '*' && valid_symbols[BLOCK_COMMENT]) {
    advance(lexer);
    unsigned depth = 1;
    while (depth > 0 && !lexer->eof(lexer)) {
      int32_t c = lexer->lookahead;
      advance(lexer);
      if (c == '/' && lexer->lookahead == '*') {
        advance(lexer);
        depth++;
      } else if (c == '*' && lexer->lookahead == '/') {
        advance(lexer);
        depth--;
      }
    }
    /* An unterminated comment runs to the end of the file, as in the compiler. */
    lexer->mark_end(lexer);
    lexer->result_symbol = BLOCK_COMMENT;
    return true;
  }
  return false;
}

/* `in` or `as` followed by `:`; the lexer is at the `i` or the `a`. */
static bool scan_keyword_field_name(TSLexer *lexer) {
  int32_t first = lexer->lookahead;
  advance(lexer);
  int32_t second = lexer->lookahead;
  bool keyword = (first == 'i' && second == 'n') || (first == 'a' && second == 's');
  if (!keyword) {
    return false;
  }
  advance(lexer);
  if (is_word_char(lexer->lookahead)) {
    return false;
  }
  lexer->mark_end(lexer);
  while (is_space(lexer->lookahead)) {
    advance(lexer);
  }
  if (lexer->lookahead != ':') {
    return false;
  }
  lexer->result_symbol = KEYWORD_FIELD_NAME;
  return true;
}

bool tree_sitter_flow_external_scanner_scan(void *payload, TSLexer *lexer,
                                            const bool *valid_symbols) {
  (void)payload;
  bool recovering = valid_symbols[ERROR_SENTINEL];
  if (valid_symbols[STRING_CONTENT] && !recovering) {
    return scan_string_content(lexer);
  }
  while (is_space(lexer->lookahead)) {
    skip(lexer);
  }
  if (lexer->lookahead == '/') {
    return scan_comment(lexer, valid_symbols);
  }
  if ((lexer->lookahead == 'i' || lexer->lookahead == 'a') &&
      valid_symbols[KEYWORD_FIELD_NAME] && !recovering) {
    return scan_keyword_field_name(lexer);
  }
  return false;
}
