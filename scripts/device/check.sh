#!/usr/bin/env bash
# Checks that need a real NVIDIA GPU, run on a lent GPU machine (see docs/acceptance-gpu.md):
# 1. the agent's NVML source: discovery and telemetry;
# 2. the acceptance test (identity, health, burn-in through PyTorch) judged against the spec;
# 3. the control plane end to end with a delivered node on this GPU (scripts/device/e2e.sh).
# Server packages the machine lacks travel as wheels in .whl/ (installed into /tmp/site).
set -u
OUT=${OUT:-/tmp/gpufleet-device-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl > /dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl > "$OUT/pip.log" 2>&1 || echo "wheel install failed"
fi
export PYTHONPATH=$PWD/src:/tmp/site
nvidia-smi --query-gpu=name,memory.total,driver_version,power.limit,clocks.max.sm,clocks.max.mem \
    --format=csv | tee "$OUT/nvidia-smi.csv"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
echo "== 1. NVML"
timeout 60 python3 scripts/device/nvml_probe.py > "$OUT/nvml.json" 2> "$OUT/nvml.log"
echo "nvml rc=$?"
echo "== 2. acceptance test"
timeout 240 python3 -m gpufleet.agent.acceptance --burn-in-s "${BURN_IN_S:-30}" --json \
    > "$OUT/acceptance.json" 2> "$OUT/acceptance.log"
echo "acceptance rc=$?"
tail -5 "$OUT/acceptance.log"
echo "== 3. control plane end to end"
timeout 200 bash scripts/device/e2e.sh > "$OUT/e2e.log" 2>&1
echo "e2e rc=$?"
tail -25 "$OUT/e2e.log"
