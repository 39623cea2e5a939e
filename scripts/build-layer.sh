#!/usr/bin/env bash
# Build the psycopg2 Lambda layer folder used by the stack's functions
# (python3.12, x86_64): OUT_DIR/python/{psycopg2,psycopg2_binary.libs,...}, and
# OUT_DIR/rds-ca-bundle.pem (certs/rds-ca-bundle.pem: Lambda mounts it as
# /opt/rds-ca-bundle.pem, the sslrootcert of the stack's CONNECTION_URL).
#
# Usage: scripts/build-layer.sh [OUT_DIR]        (default build/layers/psycopg2)
# Env:   PSYCOPG2_VERSION  psycopg2-binary version (default below; the wheel's
#                          sha256 is checked only for the default version,
#                          or when PSYCOPG2_SHA256 is given too)
#        LAYER_FORCE=1     rebuild even when up to date
#
# The folder is made from the manylinux wheel alone, so the same wheel gives the
# same files, byte for byte, with fixed modes and mtimes. A stamp file beside the
# folder (OUT_DIR.built) records the wheel and a digest of the built tree; the
# build is skipped while both still match. Progress goes to stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEFAULT_VERSION=2.9.13
# sha256 of psycopg2_binary-2.9.13-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
DEFAULT_SHA256=e3861eba31f8ea8663fd876166b032fd89179e42aa63764d6feb281f13f9eb60

PY_VERSION=3.12
PLATFORM=manylinux2014_x86_64

OUT_DIR=${1:-build/layers/psycopg2}
OUT_DIR=${OUT_DIR%/}
VERSION=${PSYCOPG2_VERSION:-$DEFAULT_VERSION}
if [[ -n ${PSYCOPG2_SHA256:-} ]]; then
    SHA256=$PSYCOPG2_SHA256
elif [[ $VERSION == "$DEFAULT_VERSION" ]]; then
    SHA256=$DEFAULT_SHA256
else
    SHA256=
fi
STAMP="$OUT_DIR.built"

log() { printf 'build-layer: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Any Python 3 with pip can download; prefer the project's venv.
if [[ -x .venv/bin/python ]] && .venv/bin/python -m pip --version >/dev/null 2>&1; then
    PY=.venv/bin/python
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    PY=python3
else
    die "no Python with pip found: run scripts/setup-venv.sh first"
fi

# Deterministic digest of a layer tree: relative path, type, mode and content of
# every entry, in sorted order.
tree_digest() {
    "$PY" - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
h = hashlib.sha256()
for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    for name in sorted(dirnames + filenames):
        p = os.path.join(dirpath, name)
        st = os.lstat(p)
        rel = os.path.relpath(p, root)
        h.update(f"{rel}\0{stat.filemode(st.st_mode)}\0{int(st.st_mtime)}\0".encode())
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
print(h.hexdigest())
PY
}

CA_BUNDLE=certs/rds-ca-bundle.pem
[[ -f $CA_BUNDLE ]] || die "$CA_BUNDLE is missing"
want_id="psycopg2-binary==$VERSION cp${PY_VERSION/./} $PLATFORM ca-$(sha256sum "$CA_BUNDLE" | cut -c1-16)"

if [[ ${LAYER_FORCE:-0} != 1 && -f $STAMP && -d $OUT_DIR/python/psycopg2 ]]; then
    stamp_id=$(sed -n 's/^layer: //p' "$STAMP")
    stamp_tree=$(sed -n 's/^tree-sha256: //p' "$STAMP")
    if [[ $stamp_id == "$want_id" && $stamp_tree == "$(tree_digest "$OUT_DIR")" ]]; then
        log "$OUT_DIR is up to date ($want_id)"
        exit 0
    fi
    log "$OUT_DIR is stale or was modified; rebuilding"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/build-layer.XXXXXX")
stage="$OUT_DIR.tmp.$$"
trap 'rm -rf "$tmp" "$stage"' EXIT

req="psycopg2-binary==$VERSION"
dl_args=(--only-binary=:all: --platform "$PLATFORM" --python-version "$PY_VERSION"
    --implementation cp --no-deps -d "$tmp/wheel")
if [[ -n $SHA256 ]]; then
    printf '%s --hash=sha256:%s\n' "$req" "$SHA256" >"$tmp/req.txt"
    dl_args+=(--require-hashes -r "$tmp/req.txt")
else
    log "warning: no pinned sha256 for psycopg2-binary $VERSION; not checking the wheel's hash"
    dl_args+=("$req")
fi

log "downloading $req wheel for cp${PY_VERSION/./} $PLATFORM"
"$PY" -m pip download --disable-pip-version-check --no-input -q "${dl_args[@]}" >&2

shopt -s nullglob
wheels=("$tmp"/wheel/psycopg2_binary-"$VERSION"-cp"${PY_VERSION/./}"-*.whl)
shopt -u nullglob
((${#wheels[@]} == 1)) || die "expected one wheel in $tmp/wheel, found: $(ls "$tmp/wheel")"
wheel=${wheels[0]}
wheel_sha=$(sha256sum "$wheel" | cut -d' ' -f1)

mkdir -p "$(dirname "$OUT_DIR")"
rm -rf "$stage"
mkdir -p "$stage/python"

log "unpacking $(basename "$wheel") into $OUT_DIR/python/"
"$PY" - "$wheel" "$stage/python" <<'PY'
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
# Fixed mtime (2000-01-01T00:00:00Z) for every entry: content alone decides the output.
MTIME = 946684800
dest_real = os.path.realpath(dest)
dirs = set()
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        target = os.path.realpath(os.path.join(dest, name))
        if not (target == dest_real or target.startswith(dest_real + os.sep)):
            sys.exit(f"refusing unsafe path in wheel: {name}")
        if name.endswith("/"):
            os.makedirs(target, exist_ok=True)
            dirs.add(target)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            out.write(src.read())
        mode = (info.external_attr >> 16) & 0o777
        os.chmod(target, 0o755 if mode & 0o111 else 0o644)
        os.utime(target, (MTIME, MTIME))
for dirpath, dirnames, _ in os.walk(dest):
    for d in dirnames:
        dirs.add(os.path.join(dirpath, d))
for d in sorted(dirs, key=len, reverse=True) + [dest]:
    os.chmod(d, 0o755)
    os.utime(d, (MTIME, MTIME))
PY
install -m 644 "$CA_BUNDLE" "$stage/rds-ca-bundle.pem"
touch -d @946684800 "$stage/rds-ca-bundle.pem"
chmod 755 "$stage"
touch -d @946684800 "$stage"

[[ -n $(find "$stage/python/psycopg2" -maxdepth 1 -name '_psycopg.cpython-312-x86_64-linux-gnu.so') ]] ||
    die "wheel has no psycopg2/_psycopg.cpython-312-x86_64-linux-gnu.so"

rm -rf "$OUT_DIR" "$STAMP"
mv "$stage" "$OUT_DIR"
{
    printf 'layer: %s\n' "$want_id"
    printf 'wheel: %s\n' "$(basename "$wheel")"
    printf 'wheel-sha256: %s\n' "$wheel_sha"
    printf 'tree-sha256: %s\n' "$(tree_digest "$OUT_DIR")"
} >"$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"
log "built $OUT_DIR ($(find "$OUT_DIR" -type f | wc -l) files, $(du -sh "$OUT_DIR" | cut -f1))"
