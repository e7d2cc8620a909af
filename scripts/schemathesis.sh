#!/usr/bin/env bash
# The admin API against its own OpenAPI document: Schemathesis (PyPI) reads
# /api/v1/openapi.json from a running `flowc serve` and sends it generated
# requests, valid and invalid, through every operation. It fails on any 5xx, any
# answer whose status, content type, headers or body the document does not
# declare, any invalid request that is accepted, and any operation that answers
# without the token.
#
# Usage: scripts/schemathesis.sh [FLOWC_BINARY]   (default target/release/flowc)
# Bounded for CI: a few examples per operation, one worker, a hard time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

flowc=$(realpath "${1:-$root/target/release/flowc}")
version=4.32.5
venv=${SCHEMATHESIS_VENV:-$root/target/schemathesis-venv}
examples=${SCHEMATHESIS_EXAMPLES:-50}
limit=${SCHEMATHESIS_SECONDS:-240}

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

work=$(mktemp -d)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A program whose runs need nothing outside: manual workflows that compute, one
# that fails (so that retry finds failed runs), one that parks on a wait (so that
# pause, resume and cancel find a waiting run), a webhook, a schedule, and an
# event with a listener (so that emitting reaches payload checking and delivery).
cat >"$work/app.flow" <<'FLOW'
event ping = { n: int }

workflow on_ping(p: { n: int }) {
  on event ping
  set context.last = p.n
}

workflow broken(input: { n: int }) {
  on manual
  fail "broken ${input.n}"
}

workflow greet(person: { name: string }) -> { greeting: string } {
  on manual
  return { greeting: "hi ${person.name}" }
}

workflow count(input: { n: int }) -> { doubled: int } {
  on manual
  return { doubled: input.n * 2 }
}

workflow pause(input: { seconds: int }) {
  on manual
  step cool_down = wait 10m
}

workflow hook(delivery: { id: string }) -> { id: string } {
  on webhook POST "/hook"
  return { id: delivery.id }
}

workflow nightly() -> { ok: bool } {
  on schedule "0 3 * * *"
  return { ok: true }
}
FLOW

FLOWC_ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export FLOWC_ADMIN_TOKEN
( cd "$work" && exec "$flowc" serve app.flow --db flowc.db --addr 127.0.0.1:0 >serve.log 2>&1 ) &
serve_pid=$!
base=
for _ in $(seq 200); do
  base=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/serve.log" 2>/dev/null | head -1)
  [ -n "$base" ] && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "flowc serve did not start:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi

# Seed one run of each ending so that ids in the document's examples exist.
curl -sS -X POST "$base/api/v1/workflows/greet/runs" -H "Authorization: Bearer $FLOWC_ADMIN_TOKEN" \
  -H 'content-type: application/json' -d '{"name":"Ada"}' >/dev/null
curl -sS -X POST "$base/api/v1/workflows/broken/runs" -H "Authorization: Bearer $FLOWC_ADMIN_TOKEN" \
  -H 'content-type: application/json' -d '{"n":1}' >/dev/null
curl -sS -X POST "$base/api/v1/workflows/pause/runs" -H "Authorization: Bearer $FLOWC_ADMIN_TOKEN" \
  -H 'content-type: application/json' -d '{"seconds":1}' >/dev/null
curl -sS -X POST "$base/api/v1/events/ping" -H "Authorization: Bearer $FLOWC_ADMIN_TOKEN" \
  -H 'content-type: application/json' -d '{"n":1}' >/dev/null

# positive_data_acceptance: a request the document calls valid may still name
# something that does not exist (404), conflict with the state (409) or not be
# a program or an input of the workflow's type (422); only 400 is a bug there.
# Workflow names are drawn from the program most of the time, so that starting
# runs reaches input checking and the store, not only the 404 of an unknown name.
cat >"$work/schemathesis.toml" <<'TOML'
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "404", "409", "413", "422"]

[dictionaries.workflows]
values = ["greet", "count", "pause", "hook", "nightly", "broken", "on_ping", "ping"]

[parameters]
"path.name" = { dictionary = "workflows", probability = 0.7 }
TOML

status=0
(
  cd "$work"
  timeout --signal=INT "$limit" "$venv/bin/schemathesis" --config-file schemathesis.toml run \
    "$base/api/v1/openapi.json" \
    --header "Authorization: Bearer $FLOWC_ADMIN_TOKEN" \
    --checks all \
    --max-examples "$examples" \
    --workers 1 \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --request-timeout 10 \
    --no-color
) || status=$?

if [ "$status" -ne 0 ]; then
  echo "schemathesis failed (exit $status); the server's log:" >&2
  tail -50 "$work/serve.log" >&2
  exit 1
fi
echo "schemathesis: no 5xx, every answer as the document declares" \
  "($(grep -c 'run started' "$work/serve.log" || true) runs started," \
  "$(grep -c 'deployed deployment' "$work/serve.log" || true) deploys)"
