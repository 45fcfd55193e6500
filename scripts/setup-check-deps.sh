#!/usr/bin/env bash
# Check that the third-party packages pulsarload relies on install into .venv (free-threaded)
# and leave the GIL off after import, and that the official client installs into .venv-gil.
# An extension not marked free-threading-safe silently re-enables the GIL on import, so each
# module is imported in its own process and sys._is_gil_enabled() read afterwards.
# Run after scripts/setup-python.sh. Exit status is non-zero if any check fails.
set -euo pipefail
unset PYTHON_GIL # CPython reads it (forces the GIL state); the checks must see the default

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FT_PY=$REPO/.venv/bin/python
GIL_PY=$REPO/.venv-gil/bin/python
[[ -x $FT_PY && -x $GIL_PY ]] || { echo "pulsarload setup: .venv or .venv-gil missing; run scripts/setup-python.sh first" >&2; exit 1; }

# requirement  import-name
FT_DEPS=(
  "textual textual"
  "rich rich"
  "psutil psutil"
  "lz4 lz4.frame"
  "backports.zstd backports.zstd"
  "crc32c crc32c"
  "httpx httpx"
  "prometheus_client prometheus_client"
  "tomli-w tomli_w"
  "click click"
  "pycryptodome<4 Crypto.Cipher.AES"
  "pytest pytest"
  "pytest-timeout pytest_timeout"
  "hypothesis<6.150 hypothesis"
  "pytest-textual-snapshot pytest_textual_snapshot"
  "numpy numpy"
)
GIL_DEPS=("pulsar-client==3.13.0 pulsar")

fail=0
check() {
  local py=$1 expect_gil=$2; shift 2
  local -a reqs=() ; local line
  for line in "$@"; do reqs+=("${line% *}"); done
  "$py" -m pip install -q --only-binary=:all: "${reqs[@]}" || {
    # Retry one by one so the report names the package that has no usable wheel.
    for line in "$@"; do
      "$py" -m pip install -q --only-binary=:all: "${line% *}" >/dev/null 2>&1 ||
        { printf 'FAIL  %-28s no wheel for %s\n' "${line% *}" "$("$py" -c 'import sys; print(sys.implementation.cache_tag)')"; fail=1; }
    done
  }
  for line in "$@"; do
    local req=${line% *} mod=${line##* } out
    out=$("$py" -c "
import importlib, importlib.metadata as md, sys
importlib.import_module('$mod')
name = '$req'.split('<')[0].split('=')[0]
print(md.version(name), sys._is_gil_enabled())" 2>&1 | tail -n1) || { printf 'FAIL  %-28s import %s: %s\n' "$req" "$mod" "$out"; fail=1; continue; }
    local ver=${out% *} gil=${out##* }
    if [[ $gil == "$expect_gil" ]]; then
      printf 'ok    %-28s %-12s GIL enabled after import: %s\n' "$req" "$ver" "$gil"
    else
      printf 'FAIL  %-28s %-12s GIL enabled after import: %s (expected %s)\n' "$req" "$ver" "$gil" "$expect_gil"; fail=1
    fi
  done
}

echo "== .venv ($("$FT_PY" -VV | head -n1))"
check "$FT_PY" False "${FT_DEPS[@]}"
echo "== .venv-gil ($("$GIL_PY" -VV | head -n1))"
check "$GIL_PY" True "${GIL_DEPS[@]}"
exit $fail
