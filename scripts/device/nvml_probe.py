"""Print what the agent's NVML source reads on this machine: every GPU it discovers and three
telemetry samples a second apart (JSON on stdout). Part of ``scripts/device/check.sh``."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading

from gpufleet.agent.gpu_source import SourceOptions, open_source


def main() -> int:
    source = open_source("nvml", "", SourceOptions(node_name="probe"))
    try:
        gpus = [dataclasses.asdict(g) for g in source.discover()]
        samples = []
        pause = threading.Event()
        for _ in range(3):
            samples.append([dataclasses.asdict(t) for t in source.telemetry()])
            pause.wait(1.0)
    finally:
        source.close()
    json.dump({"gpus": gpus, "telemetry": samples}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
