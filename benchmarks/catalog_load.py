"""Benchmark: read the whole shared price catalog and answer an offer query.

Run: ``.venv/bin/python benchmarks/catalog_load.py [--repeat 5]``. Prints the median wall time of
each step; figures are recorded in BENCHMARKS.md with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from gpufleet.catalog.gpus import gpu_table
from gpufleet.catalog.query import OfferQuery, SortKey, gpu_filter, select_offers
from gpufleet.catalog.sources import CatalogSources, find_shared_data, load_offers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    shared = find_shared_data(os.environ, Path.cwd())
    if shared is None:
        raise SystemExit("shared data not found: set GPUFLEET_DATA")
    table = gpu_table()
    sources = CatalogSources(catalogs=(shared / "catalog",))
    load_s, query_s = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        catalog = load_offers(sources, table)
        load_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        query = OfferQuery(gpus=gpu_filter(table, ["H100"]), sort=SortKey.PRICE_PER_GPU)
        rows = select_offers(catalog.offers, table, query)
        query_s.append(time.perf_counter() - start)
    rows_read = catalog.report.offers + sum(catalog.report.skipped.values())
    print(
        f"offers: {len(catalog.offers):,} from {len(catalog.report.files)} files "
        f"({rows_read:,} rows incl. skipped); H100 rows shown: {len(rows)}"
    )
    print(f"load catalog: median {statistics.median(load_s) * 1000:.0f} ms over {args.repeat} runs")
    print(f"query (H100, sort, collapse): median {statistics.median(query_s) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
