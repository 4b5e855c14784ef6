#!/usr/bin/env bash
# The control plane with a delivered node on this machine's real GPUs (or, with FAKE_GPUS set,
# simulated ones for a dry run): a manual supplier, an order, its delivery, the node's agent
# (NVML), the acceptance test it is asked for (real burn-in through PyTorch), the verdict, then a
# job scheduled on the accepted GPU that uses it through CUDA_VISIBLE_DEVICES.
# Writes what it sees under $OUT (e2e-*.json). Part of scripts/device/check.sh.
set -u
OUT=${OUT:-/tmp/gpufleet-device-out}
mkdir -p "$OUT"
GF="python3 -m gpufleet.cli.main"
PORT=${PORT:-8099}
URL=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
export GPUFLEET_HEARTBEAT_S=1 GPUFLEET_TICK_S=0.5 GPUFLEET_ACCEPTANCE_BURN_IN_S=${BURN_IN_S:-20}
cd "$WORK"
$GF up --port "$PORT" --data-dir "$WORK/.gpufleet" --no-agent > "$OUT/e2e-server.log" 2>&1 &
SERVER=$!
trap 'kill $AGENT $SERVER 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 60); do
    python3 -c "import httpx,sys; sys.exit(httpx.get('$URL/api/v1/health').status_code != 200)" \
        > /dev/null 2>&1 && break
    sleep 0.5
done
export GPUFLEET_SERVER=$URL GPUFLEET_TOKEN=$(cat "$WORK/.gpufleet/admin-token")
MODEL=$(python3 - <<'PY'
import os
from gpufleet.agent.gpu_source import SourceOptions, open_source
fake = os.environ.get("FAKE_GPUS")
source = open_source("fake" if fake else "nvml", fake or "", SourceOptions())
print(source.discover()[0].model)
PY
)
GPUS=$(python3 -c "
import os
from gpufleet.agent.gpu_source import SourceOptions, open_source
fake = os.environ.get('FAKE_GPUS')
print(len(open_source('fake' if fake else 'nvml', fake or '', SourceOptions()).discover()))")
echo "this machine: $GPUS x $MODEL"
$GF suppliers create lab --kind owned
OFFER=$(python3 - "$MODEL" "$GPUS" <<'PY'
import os, sys, httpx
model, gpus = sys.argv[1], int(sys.argv[2])
api = os.environ["GPUFLEET_SERVER"] + "/api/v1"
auth = {"Authorization": "Bearer " + os.environ["GPUFLEET_TOKEN"]}
offer = {"supplier": "lab", "instance_type": "this-machine", "gpu": model, "gpus_per_unit": gpus,
         "contract": "on_demand", "price_usd_per_hour": 3.0 * gpus}
httpx.post(api + "/offers/import", json={"offers": [offer]}, headers=auth).raise_for_status()
print(httpx.get(api + "/offers", headers=auth).json()[0]["id"])
PY
)
$GF orders create --offer "$OFFER" --units 1 --submit
NODE_TOKEN=$($GF orders deliver 1 --node gpu-box 2>/dev/null | awk -F'\t' '$1=="gpu-box"{print $2}')
AGENT_ARGS=(--server "$URL" --token "$NODE_TOKEN" --name gpu-box --heartbeat-s 1)
if [ -n "${FAKE_GPUS:-}" ]; then AGENT_ARGS+=(--fake-gpus "$FAKE_GPUS"); fi
$GF agent "${AGENT_ARGS[@]}" > "$OUT/e2e-agent.log" 2>&1 &
AGENT=$!
for _ in $(seq 240); do
    STATE=$($GF nodes --json | python3 -c "import json,sys; n=[x for x in json.load(sys.stdin) if x['name']=='gpu-box']; print(n[0]['state'] if n else 'none')")
    [ "$STATE" = up ] || [ "$STATE" = rejected ] && break
    sleep 0.5
done
echo "node after acceptance: $STATE"
$GF nodes --json > "$OUT/e2e-nodes-accepted.json"
$GF orders show 1 --json > "$OUT/e2e-order.json"
$GF submit --gpus 1 -- python3 -c "
import os
print('CUDA_VISIBLE_DEVICES', os.environ.get('CUDA_VISIBLE_DEVICES'))
try:
    import torch
except ImportError:
    torch = None
if torch is not None and torch.cuda.is_available():
    x = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)
    for _ in range(200): y = x @ x
    torch.cuda.synchronize()
    print('device', torch.cuda.get_device_name(0), 'checksum', float(y.float().abs().mean()))
else:
    print('no CUDA device visible')
"
for _ in $(seq 120); do
    JOB=$($GF jobs --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['state'])")
    case $JOB in succeeded|failed|cancelled) break ;; esac
    sleep 0.5
done
echo "job: $JOB"
$GF logs 1 | tee "$OUT/e2e-job.log"
$GF jobs --json > "$OUT/e2e-jobs.json"
$GF nodes --json > "$OUT/e2e-nodes-after.json"
$GF costs --json > "$OUT/e2e-costs.json"
$GF suppliers scorecards --json > "$OUT/e2e-scorecards.json"
