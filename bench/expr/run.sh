#!/usr/bin/env bash
# The expression benchmark of issue 8 in one go: installs what is missing into
# /tmp/peers (jq and hyperfine from apt, jaq with cargo, jsonata with npm, the
# peers' Rust harness with the `cel` crate), generates the 1,000,000 records,
# runs the peers' script (../shared/peers/expr/run_expr.py) and then
# `flowc-bench expr` over the same records in the same session, which prints
# one side-by-side table with ratios and the goals.
#
# Environment: K (runs per figure, default 5), N (records, default 1000000),
# PEERS (install root, default /tmp/peers), SCRIPTS (the peers' scripts,
# default ../shared/peers next to the checkout), SKIP_PEERS=1 (reuse the peers'
# figures of the last run), WEBHOOK_SECONDS (each wrk pass of the webhook
# figure, default 10). Extra arguments go to `flowc-bench expr`.
set -euo pipefail
cd "$(dirname "$0")/../.."
K=${K:-5}
N=${N:-1000000}
PEERS=${PEERS:-/tmp/peers}
SCRIPTS=${SCRIPTS:-$(cd .. && pwd)/shared/peers}
mkdir -p "$PEERS"

# Installs, each only when missing.
if ! command -v jq >/dev/null || ! command -v hyperfine >/dev/null || ! command -v wrk >/dev/null; then
    apt-get install -y jq hyperfine wrk || { apt-get update && apt-get install -y jq hyperfine wrk; }
fi
if [ ! -x "$PEERS/cargo/bin/jaq" ]; then
    cargo install --root "$PEERS/cargo" jaq
fi
if [ ! -d "$PEERS/npm-jsonata/node_modules/jsonata" ]; then
    npm install --prefix "$PEERS/npm-jsonata" jsonata
fi
if [ ! -x "$PEERS/target/release/exprbench" ]; then
    (cd "$SCRIPTS/rust-harness" && CARGO_TARGET_DIR="$PEERS/target" cargo build --release)
fi
RECORDS="$PEERS/records-$N.jsonl"
if [ ! -s "$RECORDS" ]; then
    python3 "$SCRIPTS/expr/gen_records.py" "$N" "$RECORDS"
fi

cargo build --release -p flowc -p flowc-bench
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- compiler src bench || echo ' (+ uncommitted changes)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $(jq --version), $("$PEERS/cargo/bin/jaq" --version), node $(node --version), jsonata $(node -p "require('$PEERS/npm-jsonata/node_modules/jsonata/package.json').version")"

PEER_FIGURES="$PEERS/expr_results.jsonl"
if [ "${SKIP_PEERS:-0}" != 1 ]; then
    rm -f "$PEER_FIGURES"
    # jmespath needs the Python venv of the README; left out when it is missing.
    ONLY_DEFAULT="jq,jaq,native-typed,native-value,cel,jsonata"
    [ -x "$PEERS/venv/bin/python" ] && ONLY_DEFAULT="$ONLY_DEFAULT,jmespath"
    ONLY=${ONLY:-$ONLY_DEFAULT} JAQ="$PEERS/cargo/bin/jaq" EXPRBENCH="$PEERS/target/release/exprbench" \
        JSONATA_NODE_PATH="$PEERS/npm-jsonata/node_modules" \
        python3 "$SCRIPTS/expr/run_expr.py" "$RECORDS" "$K" "$PEER_FIGURES"
fi
echo "load between: $(cut -d' ' -f1-3 /proc/loadavg)"

OURS=target/bench-expr.jsonl
rm -f "$OURS"
target/release/flowc-bench expr --records "$RECORDS" --runs "$K" \
    --peers "$PEER_FIGURES" --flowc target/release/flowc --webhook-seconds "${WEBHOOK_SECONDS:-10}" \
    --json "$OURS" "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
