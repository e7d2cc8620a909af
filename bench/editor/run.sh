#!/usr/bin/env bash
# The editor benchmark (issue 7): a release build of `flowc-bench`, then p50/p99 of
# re-analysis after a one-character edit and of completion, hover and references
# on one generated 5,000-line file. Extra arguments go to `flowc-bench editor` (see
# --help), for example `--iterations 1000` or `--write /tmp/editor.flow`.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p flowc-bench
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- compiler || echo ' (+ uncommitted changes in compiler/)'), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
exec target/release/flowc-bench editor "$@"
