#!/usr/bin/env bash
# The VS Code end-to-end suite: code-server 4.100.3 (installed once, cached), the packaged
# extension, headless Chromium, a real daemon and `companion lsp`. Prints what the install and
# the run took. Needs COMPANION_PYTHON: a Python with companion installed (CI: .venv/bin/python).
#
#   COMPANION_PYTHON=../.venv/bin/python e2e/run.sh [e2e/terminal.test.js ...]
set -euo pipefail
cd "$(dirname "$0")/.."
: "${COMPANION_PYTHON:?set COMPANION_PYTHON to a Python that has companion installed}"
started=$(date +%s)
e2e/install-code-server.sh >/dev/null
installed=$(date +%s)
# .ci/run packages the extension just before; a local run packages it when it is missing or older.
if [ ! -f companion.vsix ] || [ -n "$(find src package.json -newer companion.vsix -print -quit)" ]; then
  npx --no-install vsce package --out companion.vsix >/dev/null
fi
tests=("$@")
[ "${#tests[@]}" -gt 0 ] || tests=(e2e/*.test.js)
status=0
node --test --test-concurrency=1 "${tests[@]}" || status=$?
finished=$(date +%s)
echo "vscode e2e: install $((installed - started)) s, package and run $((finished - installed)) s; artefacts in ${E2E_ARTIFACTS:-e2e/artifacts}" >&2
exit $status
