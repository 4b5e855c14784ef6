from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpufleet.catalog.gpus import GpuTable, UnknownGpuError, name_key, parse_gpu_table

from factories import make_model


@pytest.fixture
def small() -> GpuTable:
    return GpuTable(
        [
            make_model(
                id="H100-SXM", family="H100", form_factor="SXM5", aliases=("H100", "H100 SXM")
            ),
            make_model(id="H100-PCIe", family="H100", form_factor="PCIe", aliases=("H100 PCIe",)),
            make_model(
                id="H100-NVL",
                family="H100",
                form_factor="PCIe",
                memory_gib=94.0,
                aliases=("H100 NVL",),
            ),
            make_model(id="A100-40GB", family="A100", memory_gib=40.0, aliases=("A100",)),
            make_model(id="A100-80GB", family="A100", memory_gib=80.0, aliases=("A100 80GB",)),
        ]
    )


def test_name_key_ignores_case_and_punctuation() -> None:
    assert name_key("NVIDIA A100-SXM4-80GB") == name_key("nvidia_a100 sxm4 80gb")


def test_resolve_by_id_alias_and_spelling(small: GpuTable) -> None:
    assert small.require("h100_sxm").id == "H100-SXM"
    assert small.require("A100 80GB").id == "A100-80GB"
    assert small.require("NVIDIA H100 PCIe").id == "H100-PCIe"  # vendor words are optional


def test_unknown_name_suggests_close_matches(small: GpuTable) -> None:
    with pytest.raises(UnknownGpuError, match=r"unknown GPU model 'H10'.*Did you mean"):
        small.require("H10")
    assert small.resolve("WARP-9000") is None


def test_a_family_filter_expands_to_every_member(small: GpuTable) -> None:
    assert small.matching("H100") == {"H100-SXM", "H100-PCIe", "H100-NVL"}
    assert small.matching("a100") == {"A100-40GB", "A100-80GB"}
    assert small.matching("H100 NVL") == {"H100-NVL"}


def test_an_alias_claimed_twice_is_rejected() -> None:
    with pytest.raises(ValueError, match="claimed by both"):
        GpuTable([make_model(id="A", aliases=("X1",)), make_model(id="B", aliases=("x-1",))])


@pytest.mark.parametrize(
    ("name", "hints", "memory", "expected"),
    [
        ("H100", "", None, "H100-SXM"),  # the family default
        ("H100", "gpu_1x_h100_pcie", 80.0, "H100-PCIe"),
        ("H100", "1x-H100_NVL-32-65536", None, "H100-NVL"),
        ("H100", "", 93.6, "H100-NVL"),  # the memory tells
        ("H100", "n3-H100x8-NVLink", 80.0, "H100-SXM"),  # 'NVLink' is not the NVL form factor
        ("A100", "", 80.0, "A100-80GB"),
        ("A100", "", 40.0, "A100-40GB"),
        ("A100 80GB", "pcie", 40.0, "A100-80GB"),  # a specific name is taken as given
    ],
)
def test_refine_picks_the_sibling_the_evidence_points_to(
    small: GpuTable, name: str, hints: str, memory: float | None, expected: str
) -> None:
    model = small.require(name)
    assert small.refine(model, name=name, hints=hints, memory_gib=memory).id == expected


def test_parse_rejects_non_numeric_specs() -> None:
    entry = {"id": "X", "vendor": "V", "family": "X", "name": "X", "sources": [], "aliases": []}
    with pytest.raises(ValueError, match="memory_gib must be a number"):
        parse_gpu_table([{**entry, "memory_gib": "lots"}])
    with pytest.raises(ValueError, match="missing sources"):
        parse_gpu_table([{k: v for k, v in entry.items() if k != "sources"}])


def _respell(name: str, data: st.DataObject) -> str:
    out = []
    for char in name:
        if char in "-_ ":
            out.append(data.draw(st.sampled_from(["-", "_", " ", ""])))
        else:
            out.append(char.upper() if data.draw(st.booleans()) else char.lower())
    return "".join(out)


@given(data=st.data())
def test_any_spelling_of_any_alias_resolves_to_its_model(data: st.DataObject) -> None:
    from gpufleet.catalog.gpus import gpu_table

    table = gpu_table()
    model = data.draw(st.sampled_from(table.models))
    name = data.draw(st.sampled_from([model.id, *model.aliases]))
    assert table.require(_respell(name, data)).id == model.id
