"""Turn ``gpufleet placement-bench --compare-published --json`` output into BENCHMARKS.md tables.

Run::

    .venv/bin/gpufleet placement-bench --workload all --policy all --seeds 42-51 \
        --compare-published --json > results.json
    .venv/bin/python benchmarks/fgd_table.py results.json

Prints one Markdown table of 10-seed mean GPU allocation ratios at 130% arrived demand, ours and
published, per workload and policy, and lists every gap above 0.5 percentage points. A policy
with no published numbers (our own) is compared with FGD's published mean instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PUBLISHED = ["random", "dotprod", "gpu-clustering", "gpu-packing", "best-fit", "fgd"]


def main() -> None:
    rows = json.loads(Path(sys.argv[1]).read_text())
    by = {(r["workload"], r["policy"]): r for r in rows}
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    policies = [p for p in PUBLISHED if any(r["policy"] == p for r in rows)]
    policies += sorted({r["policy"] for r in rows} - set(policies))
    print("| workload | " + " | ".join(policies) + " |")
    print("|---|" + "---|" * len(policies))
    gaps = []
    for w in workloads:
        cells = []
        for p in policies:
            r = by.get((w, p))
            if r is None:
                cells.append("—")
                continue
            ours, ref = r["allocation_at_130_mean"], r["published_allocation_at_130_mean"]
            if ref is None:
                fgd = by.get((w, "fgd"), {}).get("published_allocation_at_130_mean")
                versus = "" if fgd is None else f" ({ours - fgd:+.2f} vs FGD {fgd:.2f})"
                cells.append(f"**{ours:.2f}**{versus}")
                continue
            cells.append(f"{ours:.2f} / {ref:.2f} ({ours - ref:+.2f})")
            if abs(ours - ref) > 0.5:
                gaps.append((w, p, ours, ref))
        print(f"| {w} | " + " | ".join(cells) + " |")
    print()
    print(f"Gaps above 0.5 pp: {len(gaps)}")
    for w, p, ours, ref in gaps:
        print(f"- {w} / {p}: ours {ours:.2f}, published {ref:.2f} ({ours - ref:+.2f})")


if __name__ == "__main__":
    main()
