"""From a scenario and offers to the planning problems: which offers are allowed and in what
form, the scenario's capacity caps and pruning, demand in H100-equivalents, and fresh
out-of-sample scenarios under the same options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpufleet.catalog.gpus import GpuTable
from gpufleet.catalog.sources import CatalogSources, load_offers
from gpufleet.domain.offer import ContractKind, Offer
from gpufleet.planning.assemble import (
    EVALUATION_SEED_OFFSET,
    AssemblyError,
    assemble,
    select_offers,
)
from gpufleet.planning.demand import declared_scenarios
from gpufleet.planning.scenario_file import Scenario, parse_scenario

from factories import make_offer

WEEK = 168.0
DEMAND = """\
demand:
  projects:
    - project: train
      low: 6
      expected: 10
      high: 20
"""


def scenario(offers: str = "", *, demand: str = DEMAND, extra: str = "") -> Scenario:
    """A 4-week scenario; ``offers`` is the body of its offers section (indented two spaces)."""
    text = (
        "format: gpufleet-scenario/v1\nperiod: week\nhorizon: 4\n"
        "scenarios: 5\nevaluation_scenarios: 7\nseed: 11\n"
        + (f"offers:\n{offers}" if offers else "")
        + demand
        + extra
    )
    return parse_scenario(text, Path("s.yaml"))


def kinds(offer: Offer) -> tuple[ContractKind, float | None, float | None]:
    return offer.contract, offer.price_usd_per_hour, offer.spot_price_usd_per_hour


# ---------------------------------------------------------------------------- selection


def test_offers_are_chosen_by_gpu_family_and_supplier(table: GpuTable) -> None:
    offers = [
        make_offer(supplier="acme", gpu="H100-SXM"),
        make_offer(supplier="acme", gpu="H100-PCIe"),
        make_offer(supplier="acme", gpu="A100-80GB"),
        make_offer(supplier="Lambda", gpu="H100-SXM"),
        make_offer(supplier="aws", gpu="H100-SXM"),
    ]
    chosen = select_offers(scenario("  gpus: [H100]\n  suppliers: [ACME, lambda]\n"), offers, table)
    assert [(o.supplier, o.gpu) for o in chosen] == [
        ("acme", "H100-SXM"),
        ("acme", "H100-PCIe"),  # H100 is a family: every H100 model
        ("Lambda", "H100-SXM"),  # supplier names match in any case
    ]
    assert select_offers(scenario(), offers, table) == offers  # no filter: all, unchanged


def test_contract_kinds_filter_offers(table: GpuTable) -> None:
    offers = [
        make_offer(supplier="cloud"),
        make_offer(supplier="colo", contract=ContractKind.RESERVED, term_months=3),
        make_offer(
            supplier="market", contract=ContractKind.SPOT, price_usd_per_hour=None,
            spot_price_usd_per_hour=5.0,
        ),
    ]  # fmt: skip
    chosen = select_offers(scenario("  contracts: [reserved, owned]\n"), offers, table)
    assert [o.supplier for o in chosen] == ["colo"]
    chosen = select_offers(scenario("  contracts: [on_demand, spot]\n"), offers, table)
    assert [o.supplier for o in chosen] == ["cloud", "market"]


def test_an_on_demand_offer_with_a_spot_price_becomes_spot_only_when_only_spot_is_allowed(
    table: GpuTable,
) -> None:
    both = make_offer(price_usd_per_hour=16.0, spot_price_usd_per_hour=6.0)
    no_spot = make_offer(supplier="other", price_usd_per_hour=15.0)
    chosen = select_offers(scenario("  contracts: [spot]\n"), [both, no_spot], table)
    assert [kinds(o) for o in chosen] == [(ContractKind.SPOT, None, 6.0)]
    assembled = assemble(scenario("  contracts: [spot]\n"), [both, no_spot], table)
    (option,) = assembled.in_sample.options
    assert (option.contract, option.price_usd_per_unit_hour) == (ContractKind.SPOT, 6.0)
    assert option.availability == 0.8  # the default spot availability


def test_an_offer_loses_its_spot_side_when_spot_is_not_allowed(table: GpuTable) -> None:
    both = make_offer(price_usd_per_hour=16.0, spot_price_usd_per_hour=6.0)
    chosen = select_offers(scenario("  contracts: [on_demand, reserved]\n"), [both], table)
    assert [kinds(o) for o in chosen] == [(ContractKind.ON_DEMAND, 16.0, None)]
    options = assemble(scenario("  contracts: [on_demand]\n"), [both], table).in_sample.options
    assert [o.contract for o in options] == [ContractKind.ON_DEMAND]
    # With both kinds allowed the offer gives both options.
    options = assemble(
        scenario("  contracts: [on_demand, spot]\n"), [both], table
    ).in_sample.options
    assert sorted(o.contract for o in options) == [ContractKind.ON_DEMAND, ContractKind.SPOT]


def test_a_contract_with_a_spot_price_from_a_supplier_file_keeps_only_its_spot_side(
    table: GpuTable, tmp_path: Path
) -> None:
    (tmp_path / "colo.yaml").write_text(
        """\
format: gpufleet-supplier/v1
supplier: colo
offers:
  - gpu: H100-SXM
    gpus_per_unit: 8
    contract: reserved
    price_usd_per_gpu_hour: 2.0
    term_months: 3
    upfront_usd: 1000
    spot_price_usd_per_hour: 6.0
  - gpu: H100-SXM
    gpus_per_unit: 8
    contract: on_demand
    price_usd_per_hour: 24.0
    spot_price_usd_per_hour: 9.6
""",
        encoding="utf-8",
    )
    loaded = load_offers(CatalogSources((), (tmp_path,), builtin=False), table)
    assert not loaded.report.problems
    spot_only = select_offers(scenario("  contracts: [spot]\n"), loaded.offers, table)
    assert [kinds(o) for o in spot_only] == [
        (ContractKind.SPOT, None, 6.0),
        (ContractKind.SPOT, None, 9.6),
    ]
    assert all(o.term_months is None and o.upfront_usd == 0 for o in spot_only)
    reserved = select_offers(scenario("  contracts: [reserved]\n"), loaded.offers, table)
    assert [kinds(o) for o in reserved] == [(ContractKind.RESERVED, 16.0, None)]
    assert reserved[0].upfront_usd == 1000


# ---------------------------------------------------------------------------- capacity caps


def test_one_capacity_cap_applies_only_to_offers_that_state_none(table: GpuTable) -> None:
    offers = [
        make_offer(instance_type="8x"),
        make_offer(instance_type="stated", capacity_units=100),
        make_offer(instance_type="1x", gpus_per_unit=1, price_usd_per_hour=2.0),
        make_offer(instance_type="3x", gpus_per_unit=3, price_usd_per_hour=6.0),
    ]
    chosen = select_offers(scenario("  capacity_gpus_per_offer: 16\n"), offers, table)
    assert {o.instance_type: o.capacity_units for o in chosen} == {
        "8x": 2,  # 16 GPUs / 8 per unit
        "stated": 100,  # the supplier's own figure wins
        "1x": 16,
        "3x": 5,  # whole units only: 5 x 3 = 15 GPUs
    }
    uncapped = select_offers(scenario(), offers, table)
    assert [o.capacity_units for o in uncapped] == [None, 100, None, None]


def test_capacity_caps_per_supplier_with_a_default(table: GpuTable) -> None:
    offers = [make_offer(supplier="acme"), make_offer(supplier="AWS"), make_offer(supplier="gcp")]
    capped = select_offers(
        scenario("  capacity_gpus_per_offer: {default: 16, aws: 128, GCP: 64}\n"), offers, table
    )
    assert [(o.supplier, o.capacity_units) for o in capped] == [
        ("acme", 2),
        ("AWS", 16),
        ("gcp", 8),
    ]
    no_default = select_offers(scenario("  capacity_gpus_per_offer: {aws: 128}\n"), offers, table)
    assert [o.capacity_units for o in no_default] == [None, 16, None]


def test_a_cap_smaller_than_one_unit_still_allows_one_unit(table: GpuTable) -> None:
    (offer,) = select_offers(scenario("  capacity_gpus_per_offer: 4\n"), [make_offer()], table)
    assert offer.capacity_units == 1


def test_a_cap_below_an_offers_minimum_order_allows_the_minimum(table: GpuTable) -> None:
    # 16 GPUs is 2 units of 8, below the 4-unit minimum order: the offer stays buyable at its
    # minimum rather than failing the whole plan.
    big_order = make_offer(contract=ContractKind.RESERVED, term_months=1, min_units=4)
    (offer,) = select_offers(scenario("  capacity_gpus_per_offer: 16\n"), [big_order], table)
    assert (offer.min_units, offer.capacity_units) == (4, 4)


def test_capacity_caps_become_the_options_max_units(table: GpuTable) -> None:
    offers = [make_offer(supplier="acme"), make_offer(supplier="aws", price_usd_per_hour=20.0)]
    assembled = assemble(
        scenario("  capacity_gpus_per_offer: {default: 32, aws: 128}\n"), offers, table
    )
    assert {o.supplier: o.max_units for o in assembled.in_sample.options} == {
        "acme": 4.0,
        "aws": 16.0,
    }


# ---------------------------------------------------------------------------- pruning


def test_pruning_keeps_the_cheapest_options_of_each_contract_kind(table: GpuTable) -> None:
    rentals = [make_offer(supplier=f"cloud{i}", price_usd_per_hour=20.0 - i) for i in range(5)]
    contracts = [
        make_offer(supplier=f"colo{i}", contract=ContractKind.RESERVED, term_months=1,
                   price_usd_per_hour=10.0 + i)
        for i in range(3)
    ]  # fmt: skip
    assembled = assemble(scenario("  max_per_contract: 2\n"), rentals + contracts, table)
    assert [(o.supplier, o.contract) for o in assembled.in_sample.options] == [
        ("colo0", ContractKind.RESERVED),
        ("colo1", ContractKind.RESERVED),
        ("cloud4", ContractKind.ON_DEMAND),  # $16/h, the cheapest rental
        ("cloud3", ContractKind.ON_DEMAND),
    ]
    assert "kept the 2 cheapest options per contract kind: 4 of 8" in assembled.notes
    unpruned = assemble(scenario(), rentals + contracts, table)
    assert len(unpruned.in_sample.options) == 8
    assert not any(n.startswith("kept the") for n in unpruned.notes)


# ---------------------------------------------------------------------------- demand


def test_out_of_sample_draws_fresh_demand_under_the_same_options(table: GpuTable) -> None:
    s = scenario(
        extra="risk: cvar:0.9@0.5\nbudget_usd_per_period: 1000000\nmax_supplier_share: 0.7\n"
    )
    assembled = assemble(s, [make_offer()], table)
    inside, outside = assembled.in_sample, assembled.out_of_sample
    assert inside.demand.shape == (5, 4)
    assert outside.demand.shape == (7, 4)
    np.testing.assert_allclose(outside.probabilities, np.full(7, 1 / 7))

    def declared(count: int, seed: int) -> np.ndarray:
        return declared_scenarios(
            s.demand, scenarios=count, seed=seed, correlation=s.correlation,
            period_hours=WEEK, unit="gpus", efficiency=lambda gpu: 1.0,
        )  # fmt: skip

    np.testing.assert_allclose(inside.demand, declared(5, 11))
    np.testing.assert_allclose(outside.demand, declared(7, 11 + EVALUATION_SEED_OFFSET))
    assert not np.allclose(outside.demand[:5], inside.demand)  # not the planning draws
    for name in (
        "options", "unmet_penalty_usd_per_gpu_hour", "cvar_alpha", "cvar_weight",
        "max_supplier_share", "prorate_beyond_horizon",
    ):  # fmt: skip
        assert getattr(outside, name) == getattr(inside, name), name
    np.testing.assert_array_equal(outside.period_hours, inside.period_hours)
    np.testing.assert_array_equal(outside.budget_usd, inside.budget_usd)
    assert (inside.cvar_alpha, inside.cvar_weight) == (0.9, 0.5)


def test_demand_existing_fleet_and_options_count_in_h100_equivalents(table: GpuTable) -> None:
    demand = """\
demand:
  unit: gpus
  projects:
    - {project: vision, gpu: A100-80GB, expected: 10}
    - {project: llm, expected: 3, until: 1}
"""
    s = scenario(
        "  efficiency: {A100-80GB: 0.5}\n",
        demand=demand,
        extra="existing:\n  - {gpu: A100-80GB, gpus: 8, until: 1}\n  - {gpus: 1, from: 3}\n"
        "beyond_horizon: prorate\n",
    )
    offers = [make_offer(gpu="A100-80GB", gpus_per_unit=1, price_usd_per_hour=1.5)]
    assembled = assemble(s, offers, table)
    problem = assembled.in_sample
    # 10 A100s at 0.5 = 5 H100-equivalents, plus 3 H100s in the first two weeks.
    np.testing.assert_allclose(problem.demand, np.tile([8, 8, 5, 5], (5, 1)) * WEEK)
    assert problem.existing_h100 is not None
    np.testing.assert_allclose(problem.existing_h100, [4, 4, 0, 1])
    assert problem.options[0].efficiency == 0.5
    assert problem.prorate_beyond_horizon is True
    np.testing.assert_allclose(assembled.declared["expected"], [8, 8, 5, 5])  # GPUs, not hours


def test_the_efficiency_of_a_model_defaults_to_its_tflops(table: GpuTable) -> None:
    demand = "demand:\n  projects:\n    - {project: vision, gpu: A100-80GB, expected: 100}\n"
    assembled = assemble(scenario(demand=demand), [make_offer()], table)
    np.testing.assert_allclose(assembled.in_sample.demand, 100 * 312 / 989.4 * WEEK)


def test_a_history_forecast_adds_to_the_declared_demand(table: GpuTable) -> None:
    s = scenario(demand=DEMAND.replace("low: 6", "low: 10").replace("high: 20", "high: 10"))
    inside, outside = np.full((9, 6), 100.0), np.full((9, 6), 200.0)  # longer than needed
    assembled = assemble(s, [make_offer()], table, history_forecast=(inside, outside))
    np.testing.assert_allclose(assembled.in_sample.demand, 10 * WEEK + 100)
    np.testing.assert_allclose(assembled.out_of_sample.demand, 10 * WEEK + 200)


# ---------------------------------------------------------------------------- errors


def test_an_unknown_gpu_in_demand_names_it(table: GpuTable) -> None:
    demand = "demand:\n  projects:\n    - {project: p, gpu: H1000, expected: 1}\n"
    with pytest.raises(AssemblyError, match=r"s\.yaml: demand or existing capacity: .*'H1000'"):
        assemble(scenario(demand=demand), [make_offer()], table)


def test_an_unknown_gpu_in_the_existing_fleet_names_it(table: GpuTable) -> None:
    with pytest.raises(AssemblyError, match="'B300X'"):
        assemble(scenario(extra="existing:\n  - {gpu: B300X, gpus: 8}\n"), [make_offer()], table)


def test_an_unknown_reference_gpu_is_an_assembly_error(table: GpuTable) -> None:
    with pytest.raises(AssemblyError, match=r"s\.yaml: reference_gpu: unknown GPU model 'H-100'"):
        assemble(scenario(extra="reference_gpu: H-100\n"), [make_offer()], table)


def test_an_efficiency_for_an_unknown_model_is_an_error_not_ignored(table: GpuTable) -> None:
    offers = [make_offer(gpu="A100-80GB", gpus_per_unit=1, price_usd_per_hour=1.5)]
    with pytest.raises(AssemblyError, match=r"offers\.efficiency: unknown GPU model 'A100-80G'"):
        assemble(scenario("  efficiency: {A100-80G: 0.5}\n"), offers, table)


def test_a_model_without_a_throughput_figure_asks_for_an_efficiency(table: GpuTable) -> None:
    demand = "demand:\n  projects:\n    - {project: p, gpu: A10G, expected: 1}\n"
    with pytest.raises(AssemblyError, match="no throughput figure for A10G; give one under"):
        assemble(scenario(demand=demand), [make_offer()], table)
    given = assemble(scenario("  efficiency: {A10G: 0.1}\n", demand=demand), [make_offer()], table)
    np.testing.assert_allclose(given.in_sample.demand, 0.1 * WEEK)


def test_an_unknown_gpu_in_the_offers_section_names_it(table: GpuTable) -> None:
    with pytest.raises(AssemblyError, match=r"offers\.gpus: unknown GPU model 'H1000'"):
        assemble(scenario("  gpus: [H1000]\n"), [make_offer()], table)


def test_an_empty_selection_says_what_was_read_and_selected(table: GpuTable) -> None:
    offers = [make_offer(), make_offer(supplier="aws"), make_offer(gpu="A100-80GB")]
    message = (
        r"s\.yaml: no offer matches the scenario's offers section \(3 offers read, 0 selected\)"
    )
    with pytest.raises(AssemblyError, match=message):
        assemble(scenario("  suppliers: [lambda]\n"), offers, table)
    with pytest.raises(AssemblyError, match=r"\(0 offers read, 0 selected\)"):
        assemble(scenario(), [], table)


def test_offers_without_a_throughput_figure_are_left_out_and_noted(table: GpuTable) -> None:
    offers = [make_offer(), make_offer(supplier="aws", gpu="A10G", gpus_per_unit=1)]
    assembled = assemble(scenario(), offers, table)
    assert [o.supplier for o in assembled.in_sample.options] == ["acme"]
    assert "left out 1 offer(s): no throughput figure for A10G" in assembled.notes
    with pytest.raises(AssemblyError, match=r"\(1 offers read, 1 selected\)"):
        assemble(scenario(), offers[1:], table)


# ---------------------------------------------------------------------------- demand classes


def test_classes_give_each_option_its_substitution_row_and_split_demand(
    table: GpuTable,
) -> None:
    classes = (
        "classes:\n  training: {H100-SXM: 1.0}\n"
        "  inference: {H100-SXM: 1.0, L4: tflops, A100-80GB: 0.5}\n"
    )
    demand = (
        "demand:\n  projects:\n"
        "    - {project: train, class: training, expected: 8}\n"
        "    - {project: serve, class: inference, expected: 2}\n"
    )
    offers = [
        make_offer(supplier="a", gpu="H100-SXM", price_usd_per_hour=2.0),
        make_offer(supplier="b", gpu="L4", price_usd_per_hour=0.5),
        make_offer(supplier="c", gpu="A100-80GB", price_usd_per_hour=1.0),
        make_offer(supplier="d", gpu="T4", price_usd_per_hour=0.1),
    ]
    built = assemble(scenario(demand=demand, extra=classes), offers, table)
    problem = built.in_sample
    serves = {o.gpu: o.serves for o in problem.options}
    l4 = table.get("L4").dense_tflops / table.get("H100-SXM").dense_tflops  # type: ignore[operator]
    assert serves["H100-SXM"] == {"training": 1.0, "inference": 1.0}
    assert serves["L4"] == {"inference": pytest.approx(l4)}
    assert serves["A100-80GB"] == {"inference": 0.5}
    assert "T4" not in serves  # serves no class: dropped, and said so
    assert any("serves no demand class" in n for n in built.notes)
    assert problem.classes == ("training", "inference")
    assert problem.class_demand is not None
    assert problem.class_demand[:, 0, :] == pytest.approx(8 * WEEK)
    assert problem.class_demand[:, 1, :] == pytest.approx(2 * WEEK)
    assert problem.demand == pytest.approx(10 * WEEK)
    assert built.out_of_sample.class_demand is not None
