#!/usr/bin/env bash
# A throttled apply (issue 18): SG_GROUPS security groups with SG_RULES ingress rules each (30 x 6: 210
# resources) against an EC2 request bucket of BUCKET (CAPACITY/REFILL per second; 20/5 by
# default: all mutating EC2 actions share one bucket, EC2 API reference "Request throttling"),
# emulated by the fidelity proxy (bucket_ec2_mutating), in front of moto.
#
# Usage: scripts/bench-throttle.sh [DEPLOY_BIN]   (default target/debug/deploy; needs make venv,
#        or MOTO_SERVER_BIN pointing into a venv with moto)
# Prints: the apply's exit code and wall time, the EC2 writes AWS accepted and those it throttled,
# the bucket's floor ((writes - capacity) / refill: the least time those writes can take), the
# goal (1.25 x floor + 3 s) and whether a second plan is empty.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(realpath "${1:-$ROOT/target/debug/deploy}")
GROUPS_N=${SG_GROUPS:-30}
RULES_N=${SG_RULES:-6}
BUCKET=${BUCKET:-20/5}
MOTO_BIN=${MOTO_SERVER_BIN:-$ROOT/.venv/bin/moto_server}
PY=$(dirname "$MOTO_BIN")/python
[[ -x $PY ]] || PY=python3
WORK=$(mktemp -d)
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$MOTO_BIN" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO=$!
PROXY=
trap 'kill $MOTO $PROXY 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 0.2; done
"$PY" "$ROOT/tests/support/fidelity_proxy.py" --upstream "http://127.0.0.1:$PORT" \
    --bucket-ec2-mutating "$BUCKET" --log "$WORK/requests.jsonl" >"$WORK/url" 2>"$WORK/proxy.log" &
PROXY=$!
for _ in $(seq 100); do [[ -s $WORK/url ]] && break; sleep 0.1; done
export AWS_ENDPOINT_URL
AWS_ENDPOINT_URL=$(head -1 "$WORK/url")
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null DEPLOY_PUBLIC_IP_URL=http://127.0.0.1:9/
mkdir -p "$WORK/p" && cd "$WORK/p"
"$PY" - "$GROUPS_N" "$RULES_N" >stack.yaml <<'PY'
import sys
groups, rules = int(sys.argv[1]), int(sys.argv[2])
print("stack: scale\nsecurity_groups:")
for g in range(groups):
    print(f"  g{g:02}:\n    description: group {g}\n    ingress:")
    for r in range(rules):
        if r == 0 and g > 0:
            print(f"      - description: from-g{g - 1:02}\n        port: 5432\n        source_group: g{g - 1:02}")
        else:
            print(f"      - description: r{r}\n        port: {8000 + r}\n        cidr: 10.{g}.{r}.0/24")
PY
# A plan first: moto loads its EC2 backend on the first call (seconds), which is not deploy's time.
"$BIN" plan >"$WORK/warm.log" 2>&1 || { tail -5 "$WORK/warm.log"; exit 1; }
start=$(date +%s.%N)
set +e
"$BIN" apply --auto-approve ${BENCH_APPLY_ARGS:-} >"$WORK/apply.log" 2>&1
code=$?
end=$(date +%s.%N)
"$BIN" plan --detailed-exitcode >"$WORK/plan.log" 2>&1
plan=$?
set -e
[[ $code == 0 ]] || tail -5 "$WORK/apply.log"
# BENCH_LOG=FILE keeps the proxy's request log (one JSON line per request).
[[ -z ${BENCH_LOG:-} ]] || { cp "$WORK/requests.jsonl" "$BENCH_LOG"; cp "$WORK/apply.log" "$BENCH_LOG.apply"; }
"$PY" - "$WORK/requests.jsonl" "$BUCKET" "$code" "$start" "$end" "$plan" "$GROUPS_N" "$RULES_N" <<'PY'
import json, re, sys
log, bucket, code, start, end, plan, groups, rules = sys.argv[1:]
cap, refill = (float(x) for x in bucket.split("/"))
lines = [json.loads(l) for l in open(log)]
start, end = float(start), float(end)
apply = [r for r in lines if start <= r["start"] <= end]
writes = [r for r in apply if r["service"] == "ec2" and not re.match(r"(Describe|List|Get)", r["operation"])]
ok = [r for r in writes if r["status"] == 200]
throttled = [r for r in writes if r["fault"] == "throttle"]
floor = max(0.0, len(ok) - cap) / refill
took = end - start
ops = {}
for r in ok:
    ops[r["operation"]] = ops.get(r["operation"], 0) + 1
print(f"stack: {groups} groups x {rules} rules ({int(groups) * (1 + int(rules))} resources), EC2 bucket {bucket}")
print(f"apply: exit {code}, {took:.2f} s")
print(f"EC2 writes accepted: {len(ok)} {ops}; throttled: {len(throttled)}")
print(f"floor: ({len(ok)} - {cap:g}) / {refill:g}/s = {floor:.2f} s; goal <= 1.25 x floor + 3 s = {1.25 * floor + 3:.2f} s: {'met' if took <= 1.25 * floor + 3 and code == '0' else 'NOT met'}")
print(f"second plan: {'empty' if plan == '0' else 'exit ' + plan}")
PY
