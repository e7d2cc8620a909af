#!/usr/bin/env bash
# Tests the tree-sitter grammar of Flow, from a clean clone:
#
#   1. the committed src/ is what `tree-sitter generate` makes of grammar.js;
#   2. `tree-sitter test`: the corpus (test/corpus), highlight (test/highlight) and
#      tag (test/tags) tests;
#   3. every keyword of the lexer's tables has an assertion pointing at it in
#      test/highlight/keywords.flow (step 2 checked that the assertions hold);
#   4. every example and every parse-valid compiler fixture parses with no ERROR or
#      MISSING node;
#   5. `tree-sitter fuzz`: random edits of the corpus, reparsed incrementally, give
#      the same trees as parsing from scratch;
#   6. with FLOWC=path/to/flowc in the environment, test/differential.py: 1,000
#      random edits of those files, and none that `flowc check` parses without an
#      E01xx/E02xx diagnostic has an ERROR or MISSING node here;
#   7. when `nvim` is installed, Neovim loads the parser (built for ABI 14, which
#      Neovim 0.7 reads) and compiles the queries with its own query engine.
#
# It installs the pinned tree-sitter CLI with cargo when it is missing. Exits
# non-zero on the first failure.
set -euo pipefail

TREE_SITTER_VERSION=0.27.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
# `tree-sitter generate` runs grammar.js in its built-in JavaScript runtime: no Node.
export TREE_SITTER_JS_RUNTIME=native

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

if ! tree-sitter --version 2>/dev/null | grep -qx "tree-sitter $TREE_SITTER_VERSION"; then
  step "installing tree-sitter-cli $TREE_SITTER_VERSION"
  cargo install tree-sitter-cli --locked --version "$TREE_SITTER_VERSION"
fi
tree-sitter --version

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

step "src/ is up to date with grammar.js"
mkdir -p "$scratch/grammar/src"
cp "$here/grammar.js" "$here/tree-sitter.json" "$scratch/grammar/"
cp "$here/src/scanner.c" "$scratch/grammar/src/"
(cd "$scratch/grammar" && tree-sitter generate)
if ! diff -r "$here/src" "$scratch/grammar/src"; then
  fail "src/ differs from what grammar.js generates: run \`tree-sitter generate\` in grammar/tree-sitter-flow and commit src/"
fi
echo "src/ matches"

step "tree-sitter test (corpus, highlight and tag tests)"
(cd "$here" && tree-sitter test)

step "every keyword is asserted in test/highlight/keywords.flow"
keywords_file="$here/test/highlight/keywords.flow"
token_rs="$root/compiler/src/syntax/token.rs"
# The entries of KEYWORDS (`("workflow", Token::Workflow),`) and of the one-line
# CONTEXTUAL_KEYWORDS array.
keywords="$(sed -n '/^pub const KEYWORDS/,/^];/p' "$token_rs" | grep -o '("[a-z_]*"' | tr -d '("')"
contextual="$(grep '^pub const CONTEXTUAL_KEYWORDS' "$token_rs" | grep -o '"[a-z_]*"' | tr -d '"')"
[ "$(echo "$keywords" | wc -l)" -ge 39 ] || fail "could not read KEYWORDS from $token_rs"
[ -n "$contextual" ] || fail "could not read CONTEXTUAL_KEYWORDS from $token_rs"
# The words that assertions point at: for each `// ^ capture` (or `// <- capture`)
# line, the word of the code line above at the caret's column (the comment's own
# column for `<-`). `tree-sitter test` checked that each assertion holds.
asserted="$(awk '
  /^[ \t]*\/\/ *(\^|<-)/ {
    column = index($0, "<-") ? index($0, "/") : index($0, "^")
    rest = substr(code, column)
    if (match(rest, /^[A-Za-z_]+/)) print substr(rest, 1, RLENGTH)
    next
  }
  { code = $0 }
' "$keywords_file" | sort -u)"
for keyword in $keywords $contextual; do
  echo "$asserted" | grep -qx -- "$keyword" || fail "no highlight assertion points at keyword \`$keyword\` in $keywords_file"
done
echo "$(echo $keywords $contextual | wc -w) keywords, each with a highlight assertion"

step "examples and parse-valid fixtures parse without errors"
# A fixture is parse-valid when it expects no lexer or parser diagnostic: no
# `// error[E01xx]` or `// error[E02xx]` line (compiler/tests/ui.rs explains the
# expectations). The other fixtures are meant to be broken.
list="$scratch/valid-files.txt"
(
  cd "$root"
  ls examples/*.flow
  find compiler/tests/ui -name '*.flow' | sort |
    xargs grep -L -E '(error|warning)\[E0[12][0-9][0-9]\]'
) | sed "s|^|$root/|" >"$list"
count="$(wc -l <"$list")"
[ "$count" -ge 100 ] || fail "only $count files to parse: the fixture list is wrong"
if ! tree-sitter parse --quiet --grammar-path "$here" --paths "$list"; then
  fail "some files above have ERROR or MISSING nodes"
fi
echo "$count files parse without errors"

# The check above must be able to fail: a broken file is reported.
printf 'workflow w( {\n' >"$scratch/broken.flow"
if tree-sitter parse --quiet --grammar-path "$here" "$scratch/broken.flow" >/dev/null 2>&1; then
  fail "a broken file parsed without errors: the parse check cannot fail"
fi

step "tree-sitter fuzz (random edits of the corpus, reparsed incrementally)"
# The command reports failures in its output but exits 0 either way.
(cd "$here" && tree-sitter fuzz --iterations 100 --edits 5) >"$scratch/fuzz.log" 2>&1 ||
  { cat "$scratch/fuzz.log"; fail "tree-sitter fuzz did not run"; }
if grep -E "Incorrect|Unexpected|failed fuzzing|panicked" "$scratch/fuzz.log"; then
  fail "tree-sitter fuzz found an inconsistent reparse (log above)"
fi
echo "$(grep -c ' - corpus - ' "$scratch/fuzz.log") corpus cases fuzzed, 100 edit series each"

step "differential test against flowc check"
if [ -n "${FLOWC:-}" ]; then
  python3 "$here/test/differential.py" "$FLOWC" "$here" "$list" 1000 ||
    fail "the grammar rejects programs that flowc accepts (above)"
else
  echo "FLOWC not set: skipped (FLOWC=target/release/flowc $0 runs it)"
fi

step "Neovim loads the parser and compiles the queries"
if command -v nvim >/dev/null 2>&1; then
  nvim --version | head -1
  mkdir -p "$scratch/abi14"
  cp -r "$here/grammar.js" "$here/tree-sitter.json" "$here/src" "$scratch/abi14/"
  (cd "$scratch/abi14" && tree-sitter generate --abi 14 && tree-sitter build --output "$scratch/flow.so" .)
  FLOW_PARSER="$scratch/flow.so" FLOW_QUERIES="$here/queries" \
    FLOW_SOURCE="$root/examples/payment_validation.flow" \
    timeout 60 nvim --headless -u NONE -i NONE -c "luafile $here/test/neovim/check.lua" </dev/null ||
    fail "Neovim could not use the grammar or its queries"
  echo
else
  echo "nvim not installed: skipped"
fi

step "all tree-sitter-flow tests passed"
