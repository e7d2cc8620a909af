#!/usr/bin/env bash
# Tests and packages the VS Code extension: installs the locked npm dependencies,
# runs the TextMate grammar tests (test/*.flow) and the client's tests
# (test/*.test.js, against fakes of the VS Code API), packages the .vsix with vsce and
# checks what went into it. Exits non-zero on any failure; needs only Node 20 and
# the npm registry. Run from anywhere: it works in its own directory.
set -euo pipefail

cd "$(dirname "$0")"

# npm ci installs exactly package-lock.json; no audit or funding chatter.
npm ci --no-audit --no-fund

echo "== grammar tests"
npx --no-install vscode-tmgrammar-test --compact "test/*.flow"

echo "== client tests"
node --test test/

version=$(node -p 'require("./package.json").version')
vsix="flowc-${version}.vsix"
rm -f "$vsix"

echo "== vsce package"
# No repository URL is published, so say so rather than let vsce ask.
npx --no-install vsce package --allow-missing-repository --out "$vsix" </dev/null

test -f "$vsix" || { echo "test.sh: $vsix was not written" >&2; exit 1; }

echo "== contents of $vsix"
listing=$(unzip -l "$vsix")
echo "$listing"
for entry in \
  extension/package.json \
  extension/extension.js \
  extension/language-configuration.json \
  extension/syntaxes/flow.tmLanguage.json \
  extension/LICENSE.txt \
  extension/node_modules/vscode-languageclient/package.json; do
  if ! grep -q " ${entry}\$" <<<"$listing"; then
    echo "test.sh: $vsix lacks $entry" >&2
    exit 1
  fi
done
for unwanted in extension/test/ extension/node_modules/@vscode/vsce/ extension/node_modules/vscode-tmgrammar-test/; do
  if grep -q " ${unwanted}" <<<"$listing"; then
    echo "test.sh: $vsix should not contain $unwanted" >&2
    exit 1
  fi
done
echo "test.sh: $vsix is complete"
