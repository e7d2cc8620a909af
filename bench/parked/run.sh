#!/usr/bin/env bash
# The parked-runs benchmark (issue 6) in one go: the release `flowc serve` with
# 100,000 runs parked on one `wait until` instant (resident memory, wake rate),
# then 100,000 runs awaiting one event each (resident memory, events posted and
# matched per second). Extra arguments go to `flowc-bench parked` (see --help),
# for example `--runs 5000` or `--only events`.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p flowc -p flowc-bench
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- runtime src || echo ' (+ uncommitted changes in runtime/ or src/)'), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
exec target/release/flowc-bench parked --json target/bench-parked.json "$@"
