#!/usr/bin/env bash
# Bootstrap the two interpreters pulsarload needs and the repo's two venvs:
#   .venv      free-threaded CPython 3.14t/3.13t  (the product runs here)
#   .venv-gil  GIL build of the same CPython      (official pulsar-client, comparisons)
#
# Opt-in, PULSARLOAD_PY=3.14 (`make setup-314`): a free-threaded CPython 3.14 in .venv-314t
# (python3.14t on PATH, uv, else built from Debian sid's python3.14 source package), and only
# with PULSARLOAD_GIL_TWIN=1 its GIL twin in .venv-314. The default (PULSARLOAD_PY unset or
# 3.13) is unchanged and never looks at or builds 3.14 sources.
#
# Order of search for the free-threaded interpreter:
#   $PYTHON_FT, python3.14t, python3.13t on PATH, `uv python find` (3.14t, 3.13t),
#   else build CPython 3.13 with --disable-gil from the upstream tarball that
#   Debian trixie's python3.13 source package carries.
# The GIL twin: $PYTHON_WITH_GIL, a sibling python3.X of the same full version, else
# built from the same tarball without --disable-gil.
#
# Builds are cached outside the work tree in ${PULSARLOAD_CACHE:-~/.cache/pulsarload}/cpython/
# and stamped, so a rerun does no network or compiler work. Safe to rerun.
# Environment: PYTHON_FT, PYTHON_WITH_GIL, PULSARLOAD_CACHE, PULSARLOAD_JOBS (make -j, default nproc),
# PULSARLOAD_PY (3.13 default, or 3.14), PULSARLOAD_GIL_TWIN (3.14 only: 1 also builds the GIL twin).
# See docs/python-setup.md.
set -euo pipefail

# CPython itself reads PYTHON_GIL (0/1 forces the GIL state; anything else is a fatal error at
# startup), so a stray value would skew every check below.
unset PYTHON_GIL

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PULSARLOAD_CACHE:-$HOME/.cache/pulsarload}
CPY=$CACHE/cpython
JOBS=${PULSARLOAD_JOBS:-$(nproc 2>/dev/null || echo 2)}
# The series to set up. 3.13 is the default (.venv, .venv-gil); 3.14 is opt-in, into its own venvs.
SERIES=${PULSARLOAD_PY:-3.13}
case $SERIES in
  3.13)
    DEB_SUITE=trixie DEB_SRCPKG=python3.13
    VENV_FT=.venv VENV_GIL=.venv-gil WANT_GIL=1 ;;
  3.14)
    # Only Debian sid (unstable) carries python3.14 (forky lags it); apt takes the newest upload.
    DEB_SUITE=sid DEB_SRCPKG=python3.14
    VENV_FT=.venv-314t VENV_GIL=.venv-314 WANT_GIL=${PULSARLOAD_GIL_TWIN:-0} ;;
  *)
    printf 'pulsarload setup: PULSARLOAD_PY=%s: only 3.13 (default) and 3.14 are supported\n' "$SERIES" >&2
    exit 1 ;;
esac
DEB_MIRROR=http://deb.debian.org/debian
# Keyring that signs trixie's (and, as of 2026, sid's) InRelease; bookworm's
# debian-archive-keyring >= 2023.3+deb12u2 has it.
DEB_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Debian 12 package names for what CPython's configure looks for.
BUILD_DEPS=(build-essential pkg-config xz-utils libssl-dev zlib1g-dev libbz2-dev libffi-dev
  libsqlite3-dev liblzma-dev libreadline-dev libncurses-dev uuid-dev libgdbm-dev)
# 3.14's compression.zstd (our zstd codec there) needs libzstd >= 1.4.5; bookworm has 1.5.4.
[[ $SERIES == 3.13 ]] || BUILD_DEPS+=(libzstd-dev)
# Both builds share these; the stamp records them so a change forces a rebuild.
COMMON_FLAGS="--without-ensurepip --disable-test-modules"

say() { printf 'pulsarload setup: %s\n' "$*" >&2; }
die() { printf 'pulsarload setup: %s\n' "$*" >&2; exit 1; }

# Print "OK <version>" if $1 is a working CPython 3.13/3.14 whose Py_GIL_DISABLED equals $2 (1 or 0).
probe() {
  "$1" - "$2" 2>/dev/null <<'EOF' || true
import sys, sysconfig
want = int(sys.argv[1])
gil_disabled = 1 if sysconfig.get_config_var("Py_GIL_DISABLED") == 1 else 0
if sys.implementation.name == "cpython" and sys.version_info[:2] in ((3, 13), (3, 14)) and gil_disabled == want:
    print("OK", ".".join(map(str, sys.version_info[:3])))
EOF
}

# Echo the absolute path of the first argument that passes probe with GIL state $1.
first_good() {
  local want=$1 cand path out; shift
  for cand in "$@"; do
    [[ -n $cand ]] || continue
    path=$(command -v "$cand" 2>/dev/null) || continue
    out=$(probe "$path" "$want")
    if [[ $out == OK* ]]; then echo "$path"; return 0; fi
  done
  return 1
}

pyversion() { "$1" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))'; }

# Serialise concurrent runs (two `make setup`s would otherwise build into the same prefix).
mkdir -p "$CPY"
if command -v flock >/dev/null; then
  exec 9>"$CPY/.lock"
  flock -w 1800 9 || die "another setup holds $CPY/.lock for 30 min; check for a stuck build"
fi

# ---------------------------------------------------------------------------------------------
# Source tarball: Debian's orig tarball is the pristine upstream Python-3.13.x release.

SRC_DIR=$CPY/src
TARBALL=""

# Reuse a cached tarball (newest) if there is one: no network on reruns.
cached_tarball() {
  local t
  t=$(ls -1 "$SRC_DIR"/${DEB_SRCPKG}_*.orig.tar.xz 2>/dev/null | sort -V | tail -n1) || true
  [[ -n $t ]] && echo "$t"
}

# Make sure apt will check trixie's signatures with a key we already trust (no disabling checks).
ensure_trixie_key() {
  if [[ -r $DEB_KEYRING ]] && command -v gpg >/dev/null &&
     gpg --show-keys "$DEB_KEYRING" 2>/dev/null | grep -q '(13/trixie)'; then
    return 0
  fi
  if ! command -v gpg >/dev/null && [[ -r $DEB_KEYRING ]]; then
    return 0 # cannot inspect; let apt's own verification decide
  fi
  # bookworm-updates ships a debian-archive-keyring that carries trixie's keys; it is signed by
  # bookworm's key, so upgrading it through the system's own apt is the trust path.
  say "the keyring lacks Debian 13 (trixie) keys; upgrading debian-archive-keyring from the system's apt"
  sys_apt update -qq && sys_apt install -y -qq debian-archive-keyring ||
    die "upgrading debian-archive-keyring failed; install debian-archive-keyring >= 2023.3+deb12u2 and rerun"
}

fetch_tarball() {
  command -v apt-get >/dev/null ||
    die "no apt-get to fetch the CPython source; install python${SERIES}t (or set PYTHON_FT) and rerun"
  ensure_trixie_key
  # A private apt setup: its own sources.list with only a deb-src line, its own lists and cache,
  # an empty sources.list.d. The machine's /etc/apt stays untouched and its lists unchanged.
  # It lives in a scratch dir that apt's unprivileged _apt user can reach (root's $HOME is not),
  # so apt keeps its download sandbox; only the verified files move into the cache, so a
  # half-finished download never lands there.
  local apt logs=$CPY/logs
  apt=$(mktemp -d "${TMPDIR:-/tmp}/pulsarload-apt.XXXXXX")
  chmod 755 "$apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/sources.list.d" "$apt/dl" "$logs"
  if [[ $(id -u) == 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$apt/dl"; fi
  echo "deb-src [signed-by=$DEB_KEYRING] $DEB_MIRROR $DEB_SUITE main" >"$apt/sources.list"
  local -a opts=(
    -o "Dir::Etc::SourceList=$apt/sources.list"
    -o "Dir::Etc::SourceParts=$apt/sources.list.d"
    -o "Dir::State::Lists=$apt/lists"
    -o "Dir::Cache=$apt/cache"
    -o "Acquire::Languages=none"
  )
  say "fetching the $DEB_SRCPKG source package from Debian $DEB_SUITE (private apt config)"
  apt-get "${opts[@]}" -q update >"$logs/apt-update.log" 2>&1 || {
    rm -rf "$apt"
    die "apt-get update for Debian $DEB_SUITE sources failed (log: $logs/apt-update.log); check access to $DEB_MIRROR"
  }
  (cd "$apt/dl" && apt-get "${opts[@]}" -q source --download-only "$DEB_SRCPKG") >"$logs/apt-source.log" 2>&1 || {
    rm -rf "$apt"
    grep -q '404 *Not Found' "$logs/apt-source.log" &&
      die "Debian $DEB_SUITE's signed index lists $DEB_SRCPKG, but $DEB_MIRROR answered 404 for its files (log: $logs/apt-source.log); a mirror that serves them, or python${SERIES}t on PATH / PYTHON_FT, is needed"
    die "apt-get source --download-only $DEB_SRCPKG failed (log: $logs/apt-source.log); check access to $DEB_MIRROR"
  }
  mkdir -p "$SRC_DIR"
  # Keep the .dsc: it lists the tarball's SHA-256, checked again before each build.
  mv "$apt"/dl/*.orig.tar.xz "$apt"/dl/*.dsc "$SRC_DIR"/
  rm -rf "$apt"
}

# Check the cached tarball against the SHA-256 in the .dsc apt verified it with.
verify_tarball() {
  local t=$1 name sum dsc
  name=$(basename "$t")
  sum=$(sha256sum "$t" | cut -d' ' -f1)
  for dsc in "$SRC_DIR"/"$DEB_SRCPKG"_*.dsc; do
    [[ -e $dsc ]] || continue
    if grep -q " $sum [0-9]* $name\$" "$dsc"; then echo "$sum"; return 0; fi
  done
  return 1
}

get_tarball() {
  [[ -n $TARBALL ]] && return 0
  TARBALL=$(cached_tarball) || true
  [[ -n $TARBALL ]] || { fetch_tarball; TARBALL=$(cached_tarball) ||
    die "no ${DEB_SRCPKG}_*.orig.tar.xz after download; see $CPY/logs/apt-source.log"; }
  TARBALL_SHA=$(verify_tarball "$TARBALL") || {
    rm -f "$TARBALL"
    die "cached $(basename "$TARBALL") does not match its .dsc checksum and was removed; rerun to fetch it again"
  }
  # python3.13_3.13.5.orig.tar.xz -> 3.13.5
  TARBALL_VERSION=$(basename "$TARBALL" .orig.tar.xz); TARBALL_VERSION=${TARBALL_VERSION#*_}
}

# ---------------------------------------------------------------------------------------------
# Building

sys_apt() {
  local -a sudo=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || die "installing $* needs root; run as root or install sudo"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"
}

ensure_build_deps() {
  local -a missing=()
  local p
  for p in "${BUILD_DEPS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || die "missing build tools: ${missing[*]}; install them and rerun"
  say "installing build packages: ${missing[*]}"
  local log=$CPY/logs/apt-install.log
  # Try with the current lists first; refresh them only if that fails (stale lists).
  { sys_apt install -y --no-install-recommends "${missing[@]}" ||
    { sys_apt update && sys_apt install -y --no-install-recommends "${missing[@]}"; }; } >"$log" 2>&1 ||
    die "apt-get install ${missing[*]} failed (log: $log); install them by hand and rerun"
}

# Newest cached build of kind $1 (ft|gil) whose stamp matches the current flags; echoes its python.
cached_build() {
  local kind=$1 want=$2 d py
  # Only this series' prefixes: the default never picks up an opt-in 3.14 build.
  for d in $(ls -1d "$CPY"/"$SERIES".*-"$kind" 2>/dev/null | sort -Vr); do
    [[ -f $d/.pulsarload-build ]] || continue
    grep -qxF "flags=$(flags_for "$kind")" "$d/.pulsarload-build" || continue
    py=$(interp_in "$d" "$kind")
    [[ $(probe "$py" "$want") == OK* ]] && { echo "$py"; return 0; }
  done
  return 1
}

flags_for() { if [[ $1 == ft ]]; then echo "--disable-gil $COMMON_FLAGS"; else echo "$COMMON_FLAGS"; fi; }

# bin/python3.13t for the free-threaded install, bin/python3.13 for the GIL one.
interp_in() {
  local d=$1 kind=$2 v
  v=$(basename "$d"); v=${v%-*}; v=${v%.*}
  if [[ $kind == ft ]]; then echo "$d/bin/python${v}t"; else echo "$d/bin/python${v}"; fi
}

# Build (or reuse) CPython $TARBALL_VERSION of kind ft|gil; echoes the interpreter path.
build_cpython() {
  local kind=$1 want=$2 flags prefix stamp key log bdir py
  get_tarball
  flags=$(flags_for "$kind")
  prefix=$CPY/$TARBALL_VERSION-$kind
  stamp=$prefix/.pulsarload-build
  key=$(printf 'version=%s\nflags=%s\nsha256=%s' "$TARBALL_VERSION" "$flags" "$TARBALL_SHA")
  py=$(interp_in "$prefix" "$kind")
  if [[ -f $stamp && $(cat "$stamp") == "$key" && $(probe "$py" "$want") == OK* ]]; then
    echo "$py"; return 0
  fi
  mkdir -p "$CPY/logs"
  ensure_build_deps
  log=$CPY/logs/$TARBALL_VERSION-$kind.build.log
  bdir=$CPY/build/$TARBALL_VERSION-$kind
  say "building CPython $TARBALL_VERSION ($kind: ${flags}) with make -j$JOBS; log: $log"
  local t0=$SECONDS
  rm -rf "$prefix" "$bdir"
  mkdir -p "$bdir"
  (
    tar -xJf "$TARBALL" -C "$bdir" --strip-components=1 &&
    cd "$bdir" &&
    # shellcheck disable=SC2086 # flags are a word list on purpose
    ./configure --prefix="$prefix" $flags &&
    make -j"$JOBS" &&
    make install
  ) >"$log" 2>&1 || die "building CPython $TARBALL_VERSION ($kind) failed; see $log (build tree kept in $bdir)"
  [[ $(probe "$py" "$want") == OK* ]] ||
    die "the CPython $TARBALL_VERSION ($kind) build at $prefix does not run as expected; see $log"
  echo "$key" >"$stamp"
  rm -rf "$bdir"
  say "built CPython $TARBALL_VERSION ($kind) in $((SECONDS - t0)) s -> $py"
  echo "$py"
}

# ---------------------------------------------------------------------------------------------
# Venvs

# Identity of an interpreter: real base prefix, full version, GIL flag. A venv matches its base.
ident() {
  "$1" -c 'import os, sys, sysconfig; print(os.path.realpath(sys.base_prefix), sys.version, sysconfig.get_config_var("Py_GIL_DISABLED"))' 2>/dev/null
}

ensure_venv() {
  local dir=$1 base=$2 want have
  want=$(ident "$base")
  if [[ -x $dir/bin/python ]]; then
    have=$(ident "$dir/bin/python") || true
    if [[ $have == "$want" ]] && "$dir/bin/python" -c 'import pip' 2>/dev/null; then
      return 0
    fi
    say "$dir was made with another interpreter (or is broken); recreating it"
    rm -rf "$dir"
  fi
  say "creating $dir from $base"
  "$base" -m venv "$dir" || die "creating $dir with $base failed; remove $dir and rerun"
  # Upgrade pip once at creation (a rerun stays offline); the bundled pip still works if this fails.
  "$dir/bin/python" -m pip install -q --upgrade pip ||
    say "warning: could not upgrade pip in $dir (no access to PyPI?); the bundled pip is kept"
}

# ---------------------------------------------------------------------------------------------
# Main

T_START=$SECONDS

# 1. Free-threaded interpreter.
FT=""
if [[ $SERIES == 3.13 ]]; then
  FT_NAMES=(python3.14t python3.13t)
else
  FT_NAMES=(python3.14t)
fi
if [[ -n ${PYTHON_FT:-} ]]; then
  FT=$(first_good 1 "$PYTHON_FT") || die "PYTHON_FT=$PYTHON_FT is not a free-threaded CPython 3.13/3.14; unset it or point it at python${SERIES}t"
else
  FT=$(first_good 1 "${FT_NAMES[@]}") || true
  if [[ -z $FT ]] && command -v uv >/dev/null; then
    UV_FOUND=()
    for n in "${FT_NAMES[@]}"; do UV_FOUND+=("$(uv python find "${n#python}" 2>/dev/null)"); done
    FT=$(first_good 1 "${UV_FOUND[@]}") || true
  fi
  [[ -n $FT ]] || FT=$(cached_build ft 1) || true
  [[ -n $FT ]] || FT=$(build_cpython ft 1)
fi
FT_VERSION=$(pyversion "$FT")
if [[ $SERIES == 3.14 && $FT_VERSION != 3.14.* ]]; then
  die "PULSARLOAD_PY=3.14 but $FT is CPython $FT_VERSION; unset PYTHON_FT or point it at python3.14t"
fi

# The free-threaded venv first: the team can start while the GIL build runs.
ensure_venv "$REPO/$VENV_FT" "$FT"

# 2. GIL interpreter of the same full version.
GIL=""
if [[ $WANT_GIL != 1 ]]; then
  say "no GIL twin for $SERIES (PULSARLOAD_GIL_TWIN=1 builds one into $VENV_GIL)"
elif [[ -n ${PYTHON_WITH_GIL:-} ]]; then
  GIL=$(first_good 0 "$PYTHON_WITH_GIL") || die "PYTHON_WITH_GIL=$PYTHON_WITH_GIL is not a GIL CPython 3.13/3.14; unset it"
else
  mm=${FT_VERSION%.*}
  # Same prefix first (python3.13t's sibling python3.13), then PATH, then uv, then our cache.
  for cand in "$(dirname "$FT")/python$mm" "python$mm" \
              "$(command -v uv >/dev/null && uv python find "$FT_VERSION" 2>/dev/null)"; do
    c=$(first_good 0 "$cand") || continue
    if [[ $(pyversion "$c") == "$FT_VERSION" ]]; then GIL=$c; break; fi
  done
  if [[ -z $GIL ]]; then
    c=$(cached_build gil 0) && [[ $(pyversion "$c") == "$FT_VERSION" ]] && GIL=$c
  fi
  if [[ -z $GIL ]]; then
    GIL=$(build_cpython gil 0)
    [[ $(pyversion "$GIL") == "$FT_VERSION" ]] ||
      say "warning: GIL build is $(pyversion "$GIL") but the free-threaded one is $FT_VERSION; set PYTHON_WITH_GIL to a $FT_VERSION GIL build for exact comparisons"
  fi
fi

[[ -z $GIL ]] || ensure_venv "$REPO/$VENV_GIL" "$GIL"

say "done in $((SECONDS - T_START)) s"
# Machine-readable summary on stdout (the Makefile or a user can eval/grep it).
echo "PYTHON_FT=$FT"
echo "PYTHON_WITH_GIL=$GIL"
