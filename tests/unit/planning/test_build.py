from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpufleet.catalog.gpus import GpuTable
from gpufleet.domain.offer import ContractKind
from gpufleet.planning.build import options_from_offers
from gpufleet.planning.milp import plan
from gpufleet.planning.problem import PlanningProblem

from factories import make_offer

WEEK = 168.0


def test_efficiency_terms_and_lead_times(table: GpuTable) -> None:
    offers = [
        make_offer(supplier="colo", gpu="H100-SXM", contract=ContractKind.RESERVED, term_months=12,
                   lead_time_days=42, min_units=1, capacity_units=8, price_usd_per_hour=14.8),
        make_offer(supplier="cloud", gpu="A100-80GB", gpus_per_unit=1, price_usd_per_hour=1.2),
    ]  # fmt: skip
    built = options_from_offers(offers, table, period_hours=WEEK)
    by = {o.supplier: o for o in built.options}
    assert by["colo"].term_periods == 53  # 12 x 730 h = 52.1 weeks, rounded up
    assert by["colo"].lead_periods == 6
    assert by["colo"].max_units == 8
    assert by["cloud"].efficiency == pytest.approx(312 / 989.4, rel=0.01)
    assert by["cloud"].contract is ContractKind.ON_DEMAND


def test_spot_prices_become_spot_options_and_unknown_throughput_is_reported(
    table: GpuTable,
) -> None:
    offers = [
        make_offer(gpu="H100-SXM", price_usd_per_hour=20.0, spot_price_usd_per_hour=8.0),
        make_offer(supplier="aws", gpu="A10G", gpus_per_unit=1, price_usd_per_hour=1.0),
    ]
    built = options_from_offers(offers, table, period_hours=WEEK, spot_availability=0.7)
    kinds = {o.contract: o for o in built.options}
    assert set(kinds) == {ContractKind.ON_DEMAND, ContractKind.SPOT}
    assert kinds[ContractKind.SPOT].availability == 0.7
    assert built.skipped == {"no throughput figure for A10G": 1}
    with_override = options_from_offers(offers, table, period_hours=WEEK, efficiency={"A10G": 0.12})
    assert len(with_override.options) == 3


def test_only_the_cheapest_offer_per_supplier_model_size_and_contract_is_kept(
    table: GpuTable,
) -> None:
    offers = [
        make_offer(region="us-east-1", price_usd_per_hour=55.0),
        make_offer(region="eu-west-1", price_usd_per_hour=60.0),
        make_offer(region="eu-west-1", gpus_per_unit=1, price_usd_per_hour=7.0),
    ]
    built = options_from_offers(offers, table, period_hours=WEEK)
    assert sorted(o.price_usd_per_unit_hour for o in built.options) == [7.0, 55.0]


@pytest.mark.shared_data
def test_a_small_plan_over_the_real_catalog(table: GpuTable, shared_data: Path) -> None:
    from gpufleet.catalog.query import gpu_filter
    from gpufleet.catalog.sources import CatalogSources, load_offers

    catalog = load_offers(CatalogSources(catalogs=(shared_data / "catalog",)), table)
    h100 = gpu_filter(table, ["H100"]) or frozenset()
    offers = [o for o in catalog.offers if o.gpu in h100]
    built = options_from_offers(offers, table, period_hours=WEEK)
    assert len({o.supplier for o in built.options}) >= 15
    problem = PlanningProblem(
        period_hours=np.full(4, WEEK), options=built.options, demand=np.full((1, 4), 64 * WEEK)
    )
    result = plan(problem)
    assert result.status == "optimal"
    assert result.unmet_gpu_hours.sum() == pytest.approx(0.0, abs=1e-6)
    rentals = [o for o in built.options if o.contract is ContractKind.ON_DEMAND]
    cheapest = min(o.price_usd_per_unit_hour / o.h100_per_unit for o in rentals)
    # Catalog offers state no capacity, so renting everything at the cheapest rate is feasible:
    # the plan can only be cheaper.
    assert result.expected_cost_usd <= cheapest * 64 * WEEK * 4 + 1e-6
