"""Scenario files (``gpufleet-scenario/v1``): every key read to the value it means, and every
mistake reported with the file, the line and the key at fault."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from gpufleet.domain.offer import ContractKind
from gpufleet.planning.scenario_file import (
    OfferSelection,
    Risk,
    load_scenario,
    parse_horizon,
    parse_risk,
    parse_scenario,
)
from gpufleet.planning.scenario_reader import ScenarioError

PATH = Path("plans/s.yaml")

FULL = """\
format: gpufleet-scenario/v1
name: full
description: Every key there is.
period: week
horizon: 26w
start: 2027-01-04
reference_gpu: H100-SXM
offers:
  catalog: none
  supplier_files: [suppliers/, extra.yaml]
  gpus: [H100, A100-80GB]
  suppliers: aws, lambda
  contracts: [on_demand, reserved]
  max_per_contract: 5
  capacity_gpus_per_offer: {default: 32, AWS: 256}
  efficiency: {A100-80GB: 0.3}
demand:
  unit: gpu-hours
  correlation: 0.5
  projects:
    - project: pretrain
      gpu: H100-SXM
      from: 2
      until: 5
      expected: {from: 10, to: 40}
      low: [5, 15, 25, 35]
      high: 50
    - project: inference
      expected: 8
existing:
  - {gpu: A100-80GB, gpus: 16, from: 0, until: 11, supplier: colo}
  - {gpus: 4}
beyond_horizon: prorate
budget_usd_per_period: 250000
max_supplier_share: 0.6
unmet_penalty_usd_per_gpu_hour: 20
spot_restart_overhead_hours: 0.5
scenarios: 30
evaluation_scenarios: 40
seed: 3
risk: cvar:0.9@0.5
mip_gap: 0.02
time_limit_s: 60
notes: free text, ignored
"""

BASE = """\
format: gpufleet-scenario/v1
period: week
horizon: 4
demand:
  projects:
    - project: train
      expected: 10
"""


def edit(old: str, new: str) -> str:
    """``BASE`` with one fragment replaced (the fragment must be there)."""
    assert old in BASE
    return BASE.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of ``text`` holding ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def parse_error(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, PATH)
    return caught.value


# ---------------------------------------------------------------------------- valid files


def test_a_full_scenario_reads_to_the_values_it_states() -> None:
    s = parse_scenario(FULL, PATH)
    assert (s.name, s.description) == ("full", "Every key there is.")
    assert (s.period, s.horizon) == ("week", 26)
    assert s.start == dt.date(2027, 1, 4)
    assert s.reference_gpu == "H100-SXM"
    assert s.period_hours == 168.0
    assert s.offers == OfferSelection(
        catalog="none",
        supplier_files=(Path("plans/suppliers"), Path("plans/extra.yaml")),  # beside the file
        gpus=("H100", "A100-80GB"),
        suppliers=("aws", "lambda"),  # a comma-separated string is a list too
        contracts=frozenset({ContractKind.ON_DEMAND, ContractKind.RESERVED}),
        max_per_contract=5,
        efficiency={"A100-80GB": 0.3},
        capacity_gpus_per_offer={"default": 32.0, "aws": 256.0},  # supplier ids lower-cased
    )
    assert (s.demand_unit, s.correlation) == ("gpu-hours", 0.5)

    pretrain, inference = s.demand
    assert (pretrain.project, pretrain.gpu) == ("pretrain", "H100-SXM")
    zeros = np.zeros(26)
    # Periods 2..5: a ramp 10 -> 40 in four steps, a list, and a flat number; zero elsewhere.
    np.testing.assert_array_equal(pretrain.expected[2:6], [10, 20, 30, 40])
    np.testing.assert_array_equal(pretrain.low[2:6], [5, 15, 25, 35])
    np.testing.assert_array_equal(pretrain.high[2:6], [50, 50, 50, 50])
    for series in (pretrain.low, pretrain.expected, pretrain.high):
        np.testing.assert_array_equal(np.delete(series, range(2, 6)), np.zeros(22))
    # No span: the whole horizon. No low/high: both equal to expected (no uncertainty).
    assert inference.gpu is None
    for series in (inference.low, inference.expected, inference.high):
        np.testing.assert_array_equal(series, zeros + 8)

    first, second = s.existing
    assert (first.gpu, first.gpus, first.first, first.last, first.supplier) == (
        "A100-80GB", 16.0, 0, 11, "colo"
    )  # fmt: skip
    assert (second.gpu, second.gpus, second.first, second.last) == (None, 4.0, 0, 25)

    assert s.prorate_beyond_horizon is True
    assert s.budget_usd is not None
    np.testing.assert_array_equal(s.budget_usd, np.full(26, 250_000.0))
    assert s.max_supplier_share == 0.6
    assert s.unmet_penalty_usd_per_gpu_hour == 20.0
    assert s.spot_restart_overhead_hours == 0.5
    assert (s.scenarios, s.evaluation_scenarios, s.seed) == (30, 40, 3)
    assert s.risk == Risk(0.9, 0.5)
    assert (s.mip_gap, s.time_limit_s) == (0.02, 60.0)
    assert s.history is None


def test_defaults_of_a_minimal_scenario() -> None:
    s = parse_scenario(BASE, PATH)
    assert s.name == "s"  # the file's stem
    assert (s.period, s.horizon, s.start, s.reference_gpu) == ("week", 4, None, "H100-SXM")
    assert s.offers == OfferSelection()
    assert s.offers.contracts == frozenset(ContractKind)
    assert s.offers.max_per_contract == 12
    assert (s.demand_unit, s.correlation) == ("gpus", 0.8)
    assert (s.existing, s.history, s.budget_usd, s.max_supplier_share) == ((), None, None, None)
    assert (s.unmet_penalty_usd_per_gpu_hour, s.spot_restart_overhead_hours) == (50.0, 0.25)
    assert (s.scenarios, s.evaluation_scenarios, s.seed, s.risk) == (200, 200, 0, None)
    assert (s.mip_gap, s.time_limit_s, s.prorate_beyond_horizon) == (0.01, 120.0, False)


def test_a_budget_per_period_and_a_beyond_horizon_charge() -> None:
    s = parse_scenario(BASE + "budget_usd_per_period: [1, 2, 3, 4]\nbeyond_horizon: charge\n", PATH)
    assert s.budget_usd is not None
    np.testing.assert_array_equal(s.budget_usd, [1, 2, 3, 4])
    assert s.prorate_beyond_horizon is False


def test_capacity_caps_as_one_number_or_per_supplier() -> None:
    one = parse_scenario(BASE + "offers:\n  capacity_gpus_per_offer: 64\n", PATH).offers
    assert one.capacity_gpus_per_offer == {"default": 64.0}
    assert one.capacity_for("anyone") == 64.0
    mapped = parse_scenario(
        BASE + "offers:\n  capacity_gpus_per_offer: {default: 32, AWS: 128}\n", PATH
    ).offers
    assert mapped.capacity_for("aws") == 128.0
    assert mapped.capacity_for("AWS") == 128.0
    assert mapped.capacity_for("lambda") == 32.0
    no_default = parse_scenario(
        BASE + "offers:\n  capacity_gpus_per_offer: {aws: 128}\n", PATH
    ).offers
    assert no_default.capacity_for("lambda") is None
    assert OfferSelection().capacity_for("aws") is None


def test_a_history_section_and_its_defaults(tmp_path: Path) -> None:
    text = BASE + "  history:\n    usage_csv: usage.csv\n"
    s = parse_scenario(text, tmp_path / "s.yaml")
    assert s.history is not None
    assert s.history.usage_csv == tmp_path / "usage.csv"
    assert (s.history.trace, s.history.model, s.history.season) == (None, "auto", None)
    assert (s.history.skip, s.history.scale) == (0, 1.0)
    only_history = parse_scenario(
        edit("  projects:\n    - project: train\n      expected: 10\n", "")
        + "  history: {trace: 'openb:default', model: ets, season: 7, skip: 2, scale: 0.5}\n",
        PATH,
    )
    assert only_history.demand == ()
    assert only_history.history is not None
    assert only_history.history.trace == "openb:default"
    assert (only_history.history.model, only_history.history.season) == ("ets", 7)
    assert (only_history.history.skip, only_history.history.scale) == (2, 0.5)


def test_a_ramp_past_the_horizon_is_cut_not_compressed() -> None:
    # until: 7 with a 4-week horizon: the ramp 0 -> 70 runs over periods 0..7 (10 a week) and
    # the horizon sees its first four values, not the whole ramp squeezed into four weeks.
    text = edit("      expected: 10\n", "      until: 7\n      expected: {from: 0, to: 70}\n")
    s = parse_scenario(text, PATH)
    np.testing.assert_allclose(s.demand[0].expected, [0, 10, 20, 30])
    # A list states the declared span too; the horizon keeps its head.
    listed = edit("      expected: 10\n", "      until: 5\n      expected: [1, 2, 3, 4, 5, 6]\n")
    np.testing.assert_array_equal(parse_scenario(listed, PATH).demand[0].expected, [1, 2, 3, 4])
    # A shorter --horizon reads the same numbers as the longer file, only fewer of them.
    long = parse_scenario(text.replace("horizon: 4", "horizon: 8"), PATH)
    short = parse_scenario(text.replace("horizon: 4", "horizon: 8"), PATH, horizon=4)
    np.testing.assert_allclose(short.demand[0].expected, long.demand[0].expected[:4])


def test_a_horizon_override_replaces_the_files() -> None:
    s = parse_scenario(BASE, PATH, horizon="6m")
    assert s.horizon == 27  # 6 x 730 h = 26.07 weeks, rounded up
    assert s.demand[0].expected.shape == (27,)
    assert parse_scenario(edit("horizon: 4\n", ""), PATH, horizon=3).horizon == 3


def test_period_labels_with_and_without_a_start_date() -> None:
    weekly = parse_scenario(BASE + "start: 2027-01-04\n", PATH)
    assert weekly.period_label(2) == "2027-01-18"
    monthly = parse_scenario(
        BASE.replace("period: week", "period: month") + "start: 2027-11-15\n", PATH
    )
    assert [monthly.period_label(t) for t in (0, 1, 2)] == ["2027-11", "2027-12", "2028-01"]
    assert parse_scenario(BASE, PATH).period_label(3) == "week 3"


def test_load_scenario_reads_a_file_and_anchors_paths_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "team" / "growth.yaml"
    path.parent.mkdir()
    path.write_text(BASE + "offers:\n  supplier_files: [quotes/]\n", encoding="utf-8")
    s = load_scenario(path, horizon="2w")
    assert (s.name, s.horizon, s.path) == ("growth", 2, path)
    assert s.offers.supplier_files == (tmp_path / "team" / "quotes",)


def test_load_scenario_of_a_missing_file_says_it_cannot_read_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError, match="cannot read: No such file") as caught:
        load_scenario(missing)
    assert str(caught.value).startswith(str(missing))


# ---------------------------------------------------------------------------- horizon, risk


@pytest.mark.parametrize(
    ("value", "period", "periods"),
    [
        # week = 168 h, month = 730 h (8,760 / 12), day = 24 h; lengths round up.
        ("26w", "week", 26),
        ("6m", "week", 27),  # 4,380 h / 168 = 26.07
        ("180d", "week", 26),  # 4,320 h / 168 = 25.71
        ("1y", "week", 53),  # 8,760 h / 168 = 52.14
        (26, "week", 26),
        ("26", "week", 26),  # a bare number is periods, whatever the period
        ("26w", "month", 6),  # 4,368 h / 730 = 5.98
        ("6m", "month", 6),
        ("180d", "month", 6),  # 4,320 h / 730 = 5.92
        ("1y", "month", 12),
        ("1.5m", "month", 2),
        (6, "month", 6),
        ("26w", "day", 182),
        ("6m", "day", 183),  # 4,380 h / 24 = 182.5
        ("180d", "day", 180),
        (" 2 w ", "day", 14),
        (30, "day", 30),
        ("1d", "week", 1),  # less than a period still needs one
    ],
)
def test_parse_horizon(value: str | int, period: str, periods: int) -> None:
    assert parse_horizon(value, period) == periods


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "at least 1 period"),
        ("0w", "shorter than one week"),
        ("12h", "26w, 6m, 180d"),
        ("two weeks", "26w, 6m, 180d"),
        ("-3", "26w, 6m, 180d"),
    ],
)
def test_parse_horizon_rejects(value: str | int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_horizon(value, "week")


@pytest.mark.parametrize(
    ("text", "risk"),
    [
        ("cvar:0.95", Risk(0.95, 1.0)),
        ("cvar:0.95@0.5", Risk(0.95, 0.5)),
        (" cvar : 0.9 @ 2 ", Risk(0.9, 2.0)),
        ("cvar:.99", Risk(0.99, 1.0)),
    ],
)
def test_parse_risk(text: str, risk: Risk) -> None:
    assert parse_risk(text) == risk
    assert parse_risk(str(risk)) == risk  # str() writes it back the way it is read


def test_risk_prints_its_weight_only_when_not_one() -> None:
    assert str(Risk(0.95)) == "cvar:0.95"
    assert str(Risk(0.95, 0.5)) == "cvar:0.95@0.5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cvar:1", "level must be in"),
        ("cvar:0", "level must be in"),
        ("cvar:0.9@0", "weight > 0"),
        ("var:0.9", "must look like cvar:0.95"),
        ("cvar:", "must look like cvar:0.95"),
        ("cvar:0.9@", "must look like cvar:0.95"),
        ("cvar:0.9.5", "must look like cvar:0.95"),
        ("cvar:.", "must look like cvar:0.95"),
        ("0.95", "must look like cvar:0.95"),
    ],
)
def test_parse_risk_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_risk(text)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "needle", "field", "message"),
    [
        pytest.param(
            BASE + "horizon_weeks: 4\n", "horizon_weeks", "horizon_weeks",
            "unknown key(s) horizon_weeks", id="unknown-top-level-key",
        ),
        pytest.param(
            edit("      expected: 10\n", "      expected: 10\n      xyz: 1\n"), "xyz",
            "demand.projects[0].xyz", "unknown key(s) xyz", id="unknown-project-key",
        ),
        pytest.param(
            BASE + "offers:\n  gpu: [H100]\n", "gpu:", "offers.gpu", "unknown key(s) gpu",
            id="unknown-offers-key",
        ),
        pytest.param(
            BASE + "existing:\n  - {gpus: 4, util: 11}\n", "util", "existing[0].util",
            "unknown key(s) util", id="unknown-existing-key",
        ),
        pytest.param(
            edit("gpufleet-scenario/v1", "gpufleet-scenario/v2"), "format", "format",
            "format must be 'gpufleet-scenario/v1', got 'gpufleet-scenario/v2'",
            id="wrong-format",
        ),
        pytest.param(
            edit("      expected: 10", "      expected: [1, 2, 3]"), "expected",
            "demand.projects[0].expected", "has 3 values for 4 periods", id="list-too-short",
        ),
        pytest.param(
            edit("      expected: 10", "      from: 1\n      expected: [1, 2, 3, 4]"),
            "expected", "demand.projects[0].expected", "has 4 values for 3 periods",
            id="list-longer-than-its-span",
        ),
        pytest.param(
            edit("      expected: 10", "      expected: 10\n      low: 12"), "low:",
            "demand.projects[0].low", "low must not exceed expected", id="low-above-expected",
        ),
        pytest.param(
            edit("      expected: 10", "      expected: 10\n      high: [11, 11, 9, 11]"),
            "high:", "demand.projects[0].high", "high must not be below expected",
            id="high-below-expected",
        ),
        pytest.param(
            edit("      expected: 10", "      from: 3\n      until: 1\n      expected: 10"),
            "until:", "demand.projects[0].until", "until (1) is before from (3)",
            id="until-before-from",
        ),
        pytest.param(
            edit("      expected: 10", "      from: 4\n      expected: 10"), "from:",
            "demand.projects[0].from", "starts at period 4, beyond the horizon of 4",
            id="start-beyond-horizon",
        ),
        pytest.param(
            BASE + "existing:\n  - {gpus: 4, from: 9}\n", "from: 9", "existing[0].from",
            "beyond the horizon of 4", id="existing-beyond-horizon",
        ),
        pytest.param(
            edit("period: week", "period: fortnight"), "period", "period",
            "must be day, week or month, got 'fortnight'", id="bad-period",
        ),
        pytest.param(
            BASE + "risk: var:0.95\n", "risk", "risk", "risk must look like cvar:0.95",
            id="bad-risk",
        ),
        pytest.param(
            BASE + "risk: cvar:1.5\n", "risk", "risk", "the level must be in (0, 1)",
            id="risk-level-out-of-range",
        ),
        pytest.param(
            BASE + "offers:\n  contracts: [on_demand, on-demand]\n", "contracts",
            "offers.contracts", "'on-demand' is not a valid ContractKind; choose from "
            "on_demand, spot, reserved, owned", id="bad-contracts",
        ),
        pytest.param(
            BASE + "offers:\n  catalog: shared\n", "catalog", "offers.catalog",
            "must be auto, builtin or none, got 'shared'", id="bad-catalog",
        ),
        pytest.param(
            BASE + "offers:\n  capacity_gpus_per_offer: {default: 32, aws: 0}\n",
            "capacity_gpus_per_offer", "offers.capacity_gpus_per_offer.aws",
            "must be >= 1, got 0", id="capacity-cap-below-one",
        ),
        pytest.param(
            BASE + "offers:\n  efficiency: {A100-80GB: fast}\n", "efficiency",
            "offers.efficiency.A100-80GB", "must be a number, got 'fast'", id="bad-efficiency",
        ),
        pytest.param(
            edit("horizon: 4", "horizon: two weeks"), "horizon", "horizon",
            "a length such as 26w", id="bad-horizon",
        ),
        pytest.param(
            edit("horizon: 4\n", ""), "format", "horizon", "horizon is required",
            id="no-horizon",
        ),
        pytest.param(
            BASE + "start: next monday\n", "start", "start", "must be a date", id="bad-start",
        ),
        pytest.param(
            edit("  projects:", "  unit: gpu-days\n  projects:"), "unit", "demand.unit",
            "must be gpus or gpu-hours, got 'gpu-days'", id="bad-unit",
        ),
        pytest.param(
            edit("  projects:", "  correlation: 1.2\n  projects:"), "correlation",
            "demand.correlation", "must be between 0 and 1, got 1.2", id="correlation-above-1",
        ),
        pytest.param(
            "format: gpufleet-scenario/v1\nhorizon: 4\ndemand:\n  unit: gpus\n", "unit: gpus",
            "demand.projects", "declare projects, a history to forecast, or both",
            id="no-demand-at-all",
        ),
        pytest.param(
            "format: gpufleet-scenario/v1\nhorizon: 4\n", "format", "demand",
            "demand is required", id="no-demand-section",
        ),
        pytest.param(
            edit("      expected: 10", "      expected: {from: 10}"), "from: 10",
            "demand.projects[0].expected", "a ramp needs both from and to", id="half-a-ramp",
        ),
        pytest.param(
            edit("      expected: 10", "      expected: {from: 10, too: 20}"), "too",
            "demand.projects[0].expected.too", "unknown key(s) too", id="ramp-typo",
        ),
        pytest.param(
            edit("      expected: 10", "      expected: [1, -2, 3, 4]"), "expected",
            "demand.projects[0].expected", "must be >= 0", id="negative-demand",
        ),
        pytest.param(
            edit("      expected: 10", "      expected: [1, two, 3, 4]"), "expected",
            "demand.projects[0].expected", "must hold numbers only", id="text-in-a-list",
        ),
        pytest.param(
            edit("      expected: 10", "      expected: yes"), "expected",
            "demand.projects[0].expected", "must be a number, a list or", id="boolean-demand",
        ),
        pytest.param(
            edit("      expected: 10", "      low: 5"), "project: train",
            "demand.projects[0].expected", "expected is required", id="no-expected",
        ),
        pytest.param(
            edit("    - project: train\n", "    - gpu: H100-SXM\n"), "gpu: H100-SXM",
            "demand.projects[0].project", "project is required", id="no-project-name",
        ),
        pytest.param(
            BASE + "  history: {usage_csv: u.csv, trace: 'openb:default'}\n", "history",
            "demand.history.usage_csv", "give exactly one of usage_csv, trace",
            id="history-with-two-sources",
        ),
        pytest.param(
            BASE + "  history: {usage_csv: u.csv, model: arima}\n", "history",
            "demand.history.model", "must be auto, seasonal-naive or ets", id="bad-history-model",
        ),
        pytest.param(
            BASE + "existing:\n  - {gpu: H100-SXM}\n", "gpu: H100-SXM", "existing[0].gpus",
            "gpus is required", id="existing-without-gpus",
        ),
        pytest.param(
            BASE + "budget_usd_per_period: [1, 2]\n", "budget_usd_per_period",
            "budget_usd_per_period", "has 2 values for 4 periods", id="budget-length",
        ),
        pytest.param(
            BASE + "max_supplier_share: 0\n", "max_supplier_share", "max_supplier_share",
            "must be between", id="zero-supplier-share",
        ),
        pytest.param(
            BASE + "scenarios: 0\n", "scenarios", "scenarios", "must be >= 1, got 0",
            id="no-scenarios",
        ),
        pytest.param(
            BASE + "seed: 1.5\n", "seed", "seed", "must be a whole number, got 1.5",
            id="fractional-seed",
        ),
        pytest.param(
            BASE + "beyond_horizon: ignore\n", "beyond_horizon", "beyond_horizon",
            "must be charge or prorate, got 'ignore'", id="bad-beyond-horizon",
        ),
    ],
)  # fmt: skip
def test_a_mistake_names_the_line_the_key_and_what_is_wrong(
    text: str, needle: str, field: str, message: str
) -> None:
    problem = parse_error(text).problem
    line = line_of(text, needle)
    assert (problem.path, problem.line, problem.field) == (str(PATH), line, field)
    assert message in problem.message
    assert str(problem).startswith(f"{PATH}:{line}: [{field}] ")


def test_malformed_yaml_names_the_line() -> None:
    text = edit("      expected: 10", "     expected: 10")  # one space short
    error = parse_error(text)
    line = line_of(text, "     expected: 10")
    assert error.problem.line == line == 7
    assert "not valid YAML" in str(error)
    assert str(error).startswith(f"{PATH}:7: ")


def test_an_unclosed_list_is_malformed_yaml() -> None:
    error = parse_error(edit("      expected: 10", "      expected: [1, 2"))
    assert "not valid YAML" in error.problem.message
    assert "expected ',' or ']'" in error.problem.message
    assert error.problem.line is not None


def test_a_document_that_is_not_a_mapping() -> None:
    error = parse_error("- format: gpufleet-scenario/v1\n")
    assert error.problem.line == 1
    assert error.problem.message == "a scenario file must be a YAML mapping"


def test_a_project_that_is_not_a_mapping() -> None:
    error = parse_error(edit("    - project: train\n      expected: 10\n", "    - train\n"))
    assert (error.problem.field, error.problem.message) == ("demand.projects[0]", "not a mapping")


def test_a_duplicate_key_is_an_error_that_names_the_key() -> None:
    text = BASE + "seed: 1\nseed: 2\n"
    error = parse_error(text)
    assert "duplicate key(s) seed" in error.problem.message
    assert str(error).startswith(f"{PATH}:")


def test_a_duplicate_key_names_the_line_of_the_duplicate() -> None:
    text = BASE + "seed: 1\nseed: 2\n"
    assert parse_error(text).problem.line == line_of(text, "seed: 2")


# ---------------------------------------------------------------------------- demand classes

CLASSES = """\
classes:
  training: {H100-SXM: 1.0, H200: 1.0}
  inference: {H100-SXM: 1.0, L4: tflops}
"""


def test_classes_read_as_substitution_rows() -> None:
    text = CLASSES + edit("      expected: 10\n", "      class: training\n      expected: 10\n")
    scenario = parse_scenario(text, PATH)
    assert scenario.classes == {
        "training": {"H100-SXM": 1.0, "H200": 1.0},
        "inference": {"H100-SXM": 1.0, "L4": "tflops"},
    }
    assert scenario.demand[0].demand_class == "training"


def test_with_classes_every_project_names_a_known_class() -> None:
    text = CLASSES + edit("      expected: 10\n", "      class: serving\n      expected: 10\n")
    error = parse_error(text)
    assert error.problem.line == line_of(text, "class: serving")
    assert "must be one of the classes (training, inference), got 'serving'" in str(error)
    assert "must be one of the classes" in str(parse_error(CLASSES + BASE))


def test_a_class_without_classes_is_an_error() -> None:
    text = edit("      expected: 10\n", "      class: training\n      expected: 10\n")
    assert "no classes are defined" in str(parse_error(text))


def test_a_class_row_holds_numbers_or_tflops() -> None:
    text = CLASSES.replace("L4: tflops", "L4: fast") + BASE
    assert "[classes.inference.L4] must be a number" in str(parse_error(text))
