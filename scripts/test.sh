#!/usr/bin/env bash
# `make test`: the whole test suite.
#   1. .venv (moto server, pytest, psycopg2)      scripts/setup-venv.sh
#   2. the psycopg2 Lambda layer                   scripts/build-layer.sh
#      and graphviz's dot                          scripts/ensure-graphviz.sh
#   3. a throwaway PostgreSQL in target/pg         scripts/pg-start.sh / pg-stop.sh
#   4. cargo test   (the Rust integration tests start their own moto servers
#                    from $MOTO_SERVER_BIN and use $DEPLOY_TEST_PG_URL)
#   5. pytest tests/python                         (with $DEPLOY_TEST_PG_URL)
# PostgreSQL is stopped at the end whatever happens. Both suites run even when
# the first fails; the exit code is the first failure's.
#
# Usage: scripts/test.sh
# Env:   CARGO_TEST_ARGS  extra arguments for cargo test (word-split), e.g. "--locked"
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$(pwd)
PG_DIR=target/pg

say() { printf 'test.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
banner() { printf '\n== %s\n' "$*" >&2; }

banner "Python venv"
scripts/setup-venv.sh || die "scripts/setup-venv.sh failed"
banner "Lambda layer"
scripts/build-layer.sh || die "scripts/build-layer.sh failed"
banner "Graphviz (the graph test parses deploy graph with dot)"
scripts/ensure-graphviz.sh >/dev/null || die "scripts/ensure-graphviz.sh failed"
export DEPLOY_TEST_REQUIRE_DOT=1

MOTO_SERVER_BIN=$ROOT/.venv/bin/moto_server
[[ -x $MOTO_SERVER_BIN ]] || die "$MOTO_SERVER_BIN missing after setup-venv"
[[ -d tests/python ]] || die "tests/python/ is missing: nothing for pytest to run"
.venv/bin/python -c 'import pytest' 2>/dev/null ||
    die "pytest is not in .venv: requirements-test.txt (pytest, psycopg2-binary pins) is missing or lacks it"
for s in scripts/pg-start.sh scripts/pg-stop.sh; do
    [[ -f $s ]] || die "$s is missing: make test needs it to run a throwaway PostgreSQL (nothing was skipped; the suite did not run)"
done

PG_STARTED=0
# shellcheck disable=SC2317 # called from the EXIT trap
finish() {
    local rc=$?
    trap - EXIT INT TERM
    if ((PG_STARTED)); then
        banner "stopping PostgreSQL"
        bash scripts/pg-stop.sh "$PG_DIR" || say "warning: scripts/pg-stop.sh $PG_DIR failed"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

banner "starting PostgreSQL ($PG_DIR)"
mkdir -p target
PG_STARTED=1 # stop it even if pg-start.sh fails half way
pg_out=$(bash scripts/pg-start.sh "$PG_DIR") || die "scripts/pg-start.sh $PG_DIR failed"
DEPLOY_TEST_PG_URL=$(printf '%s\n' "$pg_out" | sed '/^[[:space:]]*$/d' | tail -n 1)
[[ $DEPLOY_TEST_PG_URL =~ ^postgres(ql)?:// ]] ||
    die "scripts/pg-start.sh printed no postgresql:// URL (got: $pg_out)"
say "DEPLOY_TEST_PG_URL=$DEPLOY_TEST_PG_URL"
export MOTO_SERVER_BIN DEPLOY_TEST_PG_URL

rc=0
results=()

banner "cargo test"
cargo_rc=0
# shellcheck disable=SC2086 # CARGO_TEST_ARGS is meant to be word-split
cargo test ${CARGO_TEST_ARGS:-} || cargo_rc=$?
if ((cargo_rc == 0)); then results+=("cargo test: ok"); else
    results+=("cargo test: FAILED (exit $cargo_rc)")
    ((rc == 0)) && rc=$cargo_rc
fi

banner "pytest tests/python"
py_rc=0
.venv/bin/python -m pytest tests/python -q || py_rc=$?
case $py_rc in
    0) results+=("pytest: ok") ;;
    5) results+=("pytest: FAILED (no tests collected in tests/python)") ;;
    *) results+=("pytest: FAILED (exit $py_rc)") ;;
esac
((py_rc != 0 && rc == 0)) && rc=$py_rc

banner "summary"
for r in "${results[@]}"; do say "$r"; done
exit "$rc"
