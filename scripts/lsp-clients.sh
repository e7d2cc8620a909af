#!/usr/bin/env bash
# `flowc lsp` with real editor clients: the pytest-lsp suite (lsp/tests/clients/,
# run with the recorded capabilities of VS Code, Neovim and Emacs), then a headless
# Neovim (built-in client) and a batch Emacs (Eglot + Flymake) each opening every
# example with an error injected and reading the diagnostics back, compared with
# `flowc check --format json`.
#
# Usage: scripts/lsp-clients.sh [PYTEST ARGS...]
#   FLOWC_BIN=path/to/flowc   the binary under test (default: build target/debug/flowc)
# Installs what is missing: the suite's pinned Python packages, and neovim,
# emacs-nox and elpa-eglot from apt when their commands are not there.
# Runs every part even after one fails; exits 1 when any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
clients=$root/lsp/tests/clients

apt_wanted=()
command -v nvim >/dev/null || apt_wanted+=(neovim)
command -v emacs >/dev/null || apt_wanted+=(emacs-nox)
compgen -G "/usr/share/emacs/site-lisp/elpa/eglot-*" >/dev/null || apt_wanted+=(elpa-eglot)
if [ ${#apt_wanted[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_wanted[@]}"
fi
# The pinned packages: already installed, else pip, else (a Python that refuses
# system-wide installs) a virtual environment under target/.
python=python3
pinned() {
  "$1" - "$clients/requirements.txt" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, pin = line.split("==")
        try:
            if version(name) != pin:
                sys.exit(1)
        except PackageNotFoundError:
            sys.exit(1)
PY
}
if ! pinned "$python"; then
  if ! "$python" -m pip install --quiet --disable-pip-version-check -r "$clients/requirements.txt"; then
    venv=${CARGO_TARGET_DIR:-$root/target}/lsp-clients-venv
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$clients/requirements.txt"
    python=$venv/bin/python
  fi
fi

if [ -z "${FLOWC_BIN:-}" ]; then
  cargo build --quiet -p flowc
  FLOWC_BIN=${CARGO_TARGET_DIR:-$root/target}/debug/flowc
fi
FLOWC_BIN=$(realpath "$FLOWC_BIN")
export FLOWC_BIN
# Nothing written into the source tree.
export PYTHONDONTWRITEBYTECODE=1
echo "flowc under test: $FLOWC_BIN"

failed=()

echo "== pytest-lsp (VS Code, Neovim, Emacs capabilities)"
(cd "$clients" && "$python" -m pytest -q "$@") || failed+=(pytest-lsp)

echo "== headless Neovim $(nvim --version | head -1)"
for example in "$root"/examples/*.flow; do
  if ! EXAMPLE=$example timeout 120 nvim --headless -u NONE -i NONE \
    -c "luafile $clients/neovim/smoke.lua" </dev/null; then
    failed+=("neovim $(basename "$example")")
  fi
done

echo "== batch Emacs $(emacs --version | head -1)"
for example in "$root"/examples/*.flow; do
  if ! EXAMPLE=$example timeout 120 emacs --batch -Q -l "$clients/emacs/smoke.el" </dev/null; then
    failed+=("emacs $(basename "$example")")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  printf 'lsp clients: FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "lsp clients: all passed"
