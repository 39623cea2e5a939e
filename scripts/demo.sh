#!/usr/bin/env bash
# `make demo`: the whole life of examples/local/stack.yaml against a throwaway
# local AWS (moto's server on loopback), with no internet and no real account:
#   plan -> apply -> plan --detailed-exitcode (must be "no changes") -> output -> destroy
#
# Usage: scripts/demo.sh
# Env:   DEMO_STACK   stack file (default examples/local/stack.yaml)
#        DEPLOY_BIN   use this deploy binary instead of building target/debug/deploy
#                     (for trying the script out with a stand-in)
#        FAKE_PUBLIC_IP  the address ${public_ip} resolves to (default 203.0.113.10)
#
# The binary is a debug build (`cargo build`), not --release: `cargo test` and
# the developers already keep target/debug warm, whereas a release build (thin
# LTO) would compile every AWS SDK crate a second time, minutes of CPU and GBs
# of memory on a 2-core machine, for a run whose time is all spent talking to moto.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

STACK=${DEMO_STACK:-examples/local/stack.yaml}

say() { printf 'demo: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

banner() {
    local line
    line=$(printf '%*s' 72 '' | tr ' ' '=')
    printf '\n%s\n== %s\n%s\n' "$line" "$*" "$line"
}

[[ -f $STACK ]] || die "$STACK not found"

# ---------------------------------------------------------------- prerequisites
banner "setup: Python venv, Lambda layer, deploy binary"
scripts/setup-venv.sh
scripts/build-layer.sh
if [[ -n ${DEPLOY_BIN:-} ]]; then
    say "using DEPLOY_BIN=$DEPLOY_BIN (not building)"
    DEPLOY=$DEPLOY_BIN
else
    say "cargo build --bin deploy"
    cargo build --bin deploy
    DEPLOY=$ROOT/target/debug/deploy
fi
[[ -x $DEPLOY ]] || die "deploy binary $DEPLOY missing or not executable"

# ----------------------------------------------------------- background servers
WORK=$(mktemp -d "${TMPDIR:-/tmp}/deploy-demo.XXXXXX")
PIDS=()
STEP_PID=

stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    # The deploy step still running, if any (signal received mid-step), then the servers.
    [[ -n ${STEP_PID:-} ]] && stop_pid "$STEP_PID"
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if ((rc != 0)) && [[ -s $WORK/moto.log ]]; then
        say "last lines of the moto server's log:"
        tail -n 20 "$WORK/moto.log" >&2 || true
    fi
    rm -rf "$WORK"
    if ((rc == 0)); then
        say "demo finished: all steps passed"
    else
        say "demo FAILED (exit $rc)"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Poll URL until it answers 200 with a body containing MARKER, PID dies, or
# TIMEOUT seconds pass. Exit codes: 0 up, 3 PID died, 4 timed out.
wait_http() {
    local url=$1 pid=$2 timeout=$3 marker=$4
    .venv/bin/python - "$url" "$pid" "$timeout" "$marker" <<'PY'
import os, sys, time, urllib.request
url, pid, timeout, marker = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(3)
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            # Someone else's server on a clashing port must not pass for ours.
            if r.status == 200 and marker.lower() in r.read().decode("utf-8", "replace").lower():
                os.kill(pid, 0)
                sys.exit(0)
    except ProcessLookupError:
        sys.exit(3)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(4)
PY
}

start_moto() {
    local attempt port pid rc
    for attempt in 1 2 3; do
        port=$(.venv/bin/python scripts/free-port.py)
        say "starting moto server on 127.0.0.1:$port (attempt $attempt)"
        MOTO_IAM_LOAD_MANAGED_POLICIES=true .venv/bin/moto_server -H 127.0.0.1 -p "$port" \
            >"$WORK/moto.log" 2>&1 </dev/null &
        pid=$!
        PIDS+=("$pid")
        rc=0
        wait_http "http://127.0.0.1:$port/moto-api/" "$pid" 60 moto || rc=$?
        if ((rc == 0)); then
            MOTO_PORT=$port
            say "moto server is up (pid $pid)"
            return 0
        fi
        stop_pid "$pid"
        if ((rc == 4)); then
            die "moto server did not answer on port $port within 60 s"
        fi
        say "moto server exited early (port taken?):"
        tail -n 5 "$WORK/moto.log" >&2 || true
    done
    die "could not start the moto server"
}

start_fake_ip() {
    local pid i
    .venv/bin/python scripts/fake-public-ip.py "$WORK/ip.port" >"$WORK/ip.log" 2>&1 </dev/null &
    pid=$!
    PIDS+=("$pid")
    for ((i = 0; i < 100; i++)); do
        [[ -s $WORK/ip.port ]] && break
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/ip.log" >&2; die "fake public-IP server exited"; }
        sleep 0.1
    done
    [[ -s $WORK/ip.port ]] || die "fake public-IP server did not start"
    IP_PORT=$(cat "$WORK/ip.port")
    say "fake public-IP server on 127.0.0.1:$IP_PORT answers ${FAKE_PUBLIC_IP:-203.0.113.10}"
}

# moto has a few bugs of its own that AWS does not (UpdateUserPool forgets UsernameAttributes); the
# test support's proxy corrects them in front of it, so deploy itself carries no workaround. It
# also plays RDS's version rules (only the versions RDS still creates, a major alone resolved to
# its current minor), which the shipped stack must pass, and refuses any request the AWS API
# models forbid (tests/support/conformance.py), as AWS would.
start_proxy() {
    local pid i
    .venv/bin/python tests/support/fidelity_proxy.py --upstream "http://127.0.0.1:$MOTO_PORT" \
        --cognito --rds-versions --conformance --port-file "$WORK/proxy.url" >"$WORK/proxy.log" 2>&1 </dev/null &
    pid=$!
    PIDS+=("$pid")
    for ((i = 0; i < 100; i++)); do
        [[ -s $WORK/proxy.url ]] && break
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/proxy.log" >&2; die "the emulator's proxy exited"; }
        sleep 0.1
    done
    [[ -s $WORK/proxy.url ]] || die "the emulator's proxy did not start"
    PROXY_URL=$(head -n 1 "$WORK/proxy.url")
    say "moto's quirks corrected by tests/support/fidelity_proxy.py at $PROXY_URL"
}

banner "setup: local AWS emulator (moto) and fake public-IP service"
start_moto
start_proxy
start_fake_ip

# Everything below talks to loopback only. Drop anything that could point the
# SDK at a real account.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ROLE_ARN \
    AWS_ROLE_SESSION_NAME AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
    AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CA_BUNDLE
export AWS_ENDPOINT_URL="$PROXY_URL"
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
export DEPLOY_PUBLIC_IP_URL="http://127.0.0.1:$IP_PORT/"
# A fresh demo password each run (RDS accepts 8-41 printable ASCII chars except / @ " and space).
DB_PASSWORD=$(.venv/bin/python -c 'import secrets; print("demo-" + secrets.token_hex(12))')
export DB_PASSWORD

say "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL DEPLOY_PUBLIC_IP_URL=$DEPLOY_PUBLIC_IP_URL DB_PASSWORD=(random, not shown)"

# Show the command as a user would type it.
shown() { printf 'deploy'; printf ' %q' "$@"; }

# Run deploy with the given arguments; its exit code goes to STEP_RC. It runs in
# the background with `wait`, so that a TERM or INT sent to this script is acted
# on at once (bash defers traps while a foreground child runs).
run_deploy() {
    STEP_RC=0
    "$DEPLOY" "$@" <&0 &
    STEP_PID=$!
    wait "$STEP_PID" || STEP_RC=$?
    STEP_PID=
}

step() {
    banner "$(shown "$@")"
    run_deploy "$@"
    ((STEP_RC == 0)) || { say "step failed (exit $STEP_RC): $(shown "$@")"; exit "$STEP_RC"; }
}

step -f "$STACK" plan
step -f "$STACK" apply --auto-approve

banner "$(shown -f "$STACK" plan --detailed-exitcode)"
run_deploy -f "$STACK" plan --detailed-exitcode
case $STEP_RC in
    0) say "plan after apply: no changes, as expected" ;;
    2) say "plan after apply still shows changes (exit 2): apply did not converge"; exit 2 ;;
    *) say "step failed (exit $STEP_RC): $(shown -f "$STACK" plan --detailed-exitcode)"; exit "$STEP_RC" ;;
esac

step -f "$STACK" output
step -f "$STACK" destroy --auto-approve
