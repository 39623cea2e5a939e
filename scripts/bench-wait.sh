#!/usr/bin/env bash
# How long an apply waits on a function update that Lambda takes 4 s to finish, with the default
# poll interval (10 s), against moto behind the fidelity proxy (lambda_updating_s = 4).
#
# Usage: scripts/bench-wait.sh [DEPLOY_BIN]     (default target/debug/deploy; needs make venv)
# Prints the update apply's wall time. Before pauses backed off (1 s, x1.5 up to the interval)
# it was ~10.4 s; since, ~5.2 s.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(realpath "${1:-$ROOT/target/debug/deploy}")
PY=$ROOT/.venv/bin/python
WORK=$(mktemp -d)
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO=$!
PROXY=
trap 'kill $MOTO $PROXY 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -s "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 0.2; done
echo '{"lambda": true, "lambda_pending_s": 0.5, "lambda_updating_s": 4.0}' >"$WORK/fidelity.json"
"$PY" "$ROOT/tests/support/fidelity_proxy.py" --upstream "http://127.0.0.1:$PORT" --config "$WORK/fidelity.json" >"$WORK/url" 2>"$WORK/proxy.log" &
PROXY=$!
for _ in $(seq 50); do [[ -s $WORK/url ]] && break; sleep 0.1; done
export AWS_ENDPOINT_URL
AWS_ENDPOINT_URL=$(head -1 "$WORK/url")
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null DEPLOY_PUBLIC_IP_URL=http://127.0.0.1:9/
unset DEPLOY_POLL_INTERVAL
mkdir -p "$WORK/p/fn" && cd "$WORK/p"
echo 'def lambda_handler(e, c): return e' >fn/lambda_function.py
printf 'stack: waits\nfunctions:\n  w-fn:\n    source: fn\n    runtime: python3.12\n    handler: lambda_function.lambda_handler\n    role: auto\n' >stack.yaml
"$BIN" apply --auto-approve >"$WORK/first.log" 2>&1 || { tail -5 "$WORK/first.log"; exit 1; }
sed -i 's/role: auto/role: auto\n    memory: 256/' stack.yaml
start=$(date +%s.%N)
"$BIN" apply --auto-approve >"$WORK/update.log" 2>&1 || { tail -5 "$WORK/update.log"; exit 1; }
end=$(date +%s.%N)
"$PY" -c "print(f'update apply (Lambda busy 4 s, poll interval 10 s): {$end - $start:.2f} s')"
