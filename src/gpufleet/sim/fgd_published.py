"""FGD's published per-seed results on openb (``results/fgd/analysis_*_discrete.csv``)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

POLICY_NAMES = {
    "01-Random": "random",
    "02-DotProd": "dotprod",
    "03-GpuClustering": "gpu-clustering",
    "04-GpuPacking": "gpu-packing",
    "05-BestFit": "best-fit",
    "06-FGD": "fgd",
}
"""The authors' policy names -> gpufleet's strategy names."""


@dataclass(frozen=True, slots=True)
class Published:
    allocation_at_130: dict[tuple[str, str], dict[int, float]]
    """(workload, policy) -> seed -> allocation ratio (%) at 130 % arrived demand."""
    fragmentation_at_130: dict[tuple[str, str], dict[int, float]]

    def allocation_mean(self, workload: str, policy: str) -> float | None:
        seeds = self.allocation_at_130.get((workload, policy))
        return sum(seeds.values()) / len(seeds) if seeds else None

    def fragmentation_mean(self, workload: str, policy: str) -> float | None:
        seeds = self.fragmentation_at_130.get((workload, policy))
        return sum(seeds.values()) / len(seeds) if seeds else None


def _read(path: Path) -> dict[tuple[str, str], dict[int, float]]:
    out: dict[tuple[str, str], dict[int, float]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            policy = POLICY_NAMES.get(row["sc_policy"])
            if policy is None or not row.get("130"):
                continue
            workload = row["workload"].removeprefix("openb_pod_list_")
            out.setdefault((workload, policy), {})[int(row["seed"])] = float(row["130"])
    return out


def load_published(results_dir: Path) -> Published:
    return Published(
        allocation_at_130=_read(results_dir / "analysis_allo_discrete.csv"),
        fragmentation_at_130=_read(results_dir / "analysis_frag_discrete.csv"),
    )
