#!/usr/bin/env bash
# The intermittent ~1 s plan (issue 10): no-change plans of examples/local/stack.yaml through the
# fidelity proxy (50 ms added per call) listening with a given backlog, and the kernel's
# listen-overflow and SYN-retransmit counters over the runs.
#
# Usage: tests/support/backlog_experiment.sh BACKLOG RUNS   (e.g. 5 16, then 128 16)
# Env:   DEPLOY_BIN (default target/release/deploy). Needs .venv (make venv), build/ (make layer),
#        nstat (iproute2). Loopback only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
backlog=${1:?backlog} runs=${2:?runs}
deploy=${DEPLOY_BIN:-target/release/deploy}
py=.venv/bin/python
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
free_port() { $py -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
mp=$(free_port)
.venv/bin/moto_server -H 127.0.0.1 -p "$mp" >/dev/null 2>&1 &
until curl -sf "http://127.0.0.1:$mp/moto-api/" >/dev/null; do sleep 0.2; done
$py tests/support/fidelity_proxy.py --upstream "http://127.0.0.1:$mp" --listen-backlog "$backlog" \
    --port-file "$dir/proxy" >/dev/null 2>&1 &
$py scripts/fake-public-ip.py "$dir/ip" >/dev/null 2>&1 &
until [[ -s $dir/proxy && -s $dir/ip ]]; do sleep 0.1; done
url=$(cat "$dir/proxy")
curl -sf -X POST -d '{"latency_ms": 50}' "$url/__fidelity__" >/dev/null
export AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    DB_PASSWORD=bench-password-1234 DEPLOY_PUBLIC_IP_URL="http://127.0.0.1:$(cat "$dir/ip")/"
unset RUST_LOG
"$deploy" -f examples/local/stack.yaml plan >/dev/null </dev/null # moto's first answers are slow
nstat -n
for i in $(seq "$runs"); do
    s=$(date +%s%N)
    "$deploy" -f examples/local/stack.yaml plan >/dev/null </dev/null
    echo "backlog $backlog run $i: $((($(date +%s%N) - s) / 1000000)) ms"
done
nstat -z TcpExtListenOverflows TcpExtListenDrops TcpExtTCPSynRetrans | tail -n +2
