#!/usr/bin/env bash
# Create (or refresh) the project's Python virtualenv, .venv/, with the pinned
# tools the tests and the demo use: moto's server (requirements-dev.txt) and the
# Python test tooling (requirements-test.txt, when present).
#
# Usage: scripts/setup-venv.sh
# Env:   VENV_DIR (default .venv), PYTHON (default python3),
#        SETUP_VENV_FORCE=1 to reinstall even when up to date.
#
# The work is skipped when .venv/.req-hash matches a hash of the requirement
# files (and the interpreter's version). Progress goes to stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV_DIR=${VENV_DIR:-.venv}
PYTHON=${PYTHON:-python3}
HASH_FILE="$VENV_DIR/.req-hash"

log() { printf 'setup-venv: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3 (e.g. apt-get install python3)"

REQ_FILES=()
for f in requirements-dev.txt requirements-test.txt; do
    [[ -f $f ]] && REQ_FILES+=("$f")
done
((${#REQ_FILES[@]} > 0)) || die "no requirements-dev.txt / requirements-test.txt in $(pwd)"

# Serialise concurrent runs (make test and make demo in two shells, say).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV_DIR.lock"
    if ! flock -n 9; then
        log "waiting for another setup-venv run to finish ..."
        flock 9
    fi
fi

py_version=$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')

want_hash() {
    {
        printf 'python %s\n' "$py_version"
        for f in "${REQ_FILES[@]}"; do
            printf '== %s\n' "$f"
            cat "$f"
        done
    } | sha256sum | cut -d' ' -f1
}
want=$(want_hash)

venv_works() {
    [[ -x $VENV_DIR/bin/python ]] && "$VENV_DIR/bin/python" -c 'import sys' >/dev/null 2>&1
}

if [[ ${SETUP_VENV_FORCE:-0} != 1 ]] && venv_works && [[ -f $HASH_FILE ]] && [[ $(cat "$HASH_FILE") == "$want" ]]; then
    log "$VENV_DIR is up to date (${REQ_FILES[*]})"
    exit 0
fi

# A venv made by another interpreter version (or a broken one) is rebuilt from scratch.
if [[ -d $VENV_DIR ]]; then
    have_version=$("$VENV_DIR/bin/python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || true)
    if [[ $have_version != "$py_version" ]]; then
        log "removing $VENV_DIR (Python ${have_version:-broken}, want $py_version)"
        rm -rf "$VENV_DIR"
    fi
fi

ensure_venv_module() {
    if "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        return 0
    fi
    log "$PYTHON lacks the venv/ensurepip modules (Debian ships them in python3-venv)"
    command -v apt-get >/dev/null 2>&1 || die "no apt-get: install the venv module for $PYTHON by hand"
    local sudo=()
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install python3-venv"
        sudo=(sudo)
    fi
    local mm pkgs=(python3-venv)
    mm=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    log "apt-get update && apt-get install python3-venv python$mm-venv"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    # python3.X-venv matches the interpreter exactly; fall back to python3-venv alone.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${pkgs[@]}" "python$mm-venv" >&2 ||
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${pkgs[@]}" >&2
    "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || die "venv module still missing after apt-get install"
}

if ! venv_works; then
    ensure_venv_module
    rm -rf "$VENV_DIR"
    log "creating $VENV_DIR with $PYTHON ($py_version)"
    "$PYTHON" -m venv "$VENV_DIR" >&2
fi

# Not up to date until the install below succeeds.
rm -f "$HASH_FILE"

pip_args=()
for f in "${REQ_FILES[@]}"; do pip_args+=(-r "$f"); done
log "pip install ${pip_args[*]}"
"$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --no-input -q "${pip_args[@]}" >&2

[[ -x $VENV_DIR/bin/moto_server ]] || die "$VENV_DIR/bin/moto_server missing after install (is moto[server] in requirements-dev.txt?)"

printf '%s\n' "$want" >"$HASH_FILE.tmp"
mv -f "$HASH_FILE.tmp" "$HASH_FILE"
log "$VENV_DIR ready"
