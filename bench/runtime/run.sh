#!/usr/bin/env bash
# The runtime benchmark (issue 4) in one go: flowc through its library and the
# release `flowc serve`, then every installed peer, one after the other on the
# same machine, then one table with medians and ratios. The peers are installed
# beforehand into /tmp/peers by ../shared/peers/README.md; a missing one is shown
# as "not installed". Extra arguments go to `flowc-bench runtime` (see --help),
# for example `--only steps,latency` or `--skip n8n`.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p flowc -p flowc-bench
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- runtime src || echo ' (+ uncommitted changes in runtime/ or src/)'), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
exec target/release/flowc-bench runtime --json target/bench-runtime.json "$@"
