"""The shipped GPU model table: complete, cited, and covering every name the data uses."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from gpufleet.catalog.gpus import GpuTable

REQUIRED_IDS = [
    "B200", "B300", "GH200", "H200", "H100-SXM", "H100-PCIe", "H100-NVL", "A100-80GB",
    "A100-40GB", "L40S", "L40", "L4", "A10G", "A10", "A40", "RTX-A6000", "RTX-6000-Ada",
    "RTX-4090", "RTX-3090", "V100-32GB", "V100-16GB", "T4", "P100", "K80", "MI300X", "MI250X",
    "Gaudi2", "G2", "G3",
]  # fmt: skip

# Every accelerator name in ../shared/data/catalog (AcceleratorName and GpuInfo names) and in the
# traces (openb node models and gpu_spec, Gavel GPU types), written out so the test also runs
# without the shared data. `test_every_name_in_the_shared_data_resolves` re-reads them live.
NAMES_IN_DATA = [
    # price catalogs
    "A10", "A100", "A100-80GB", "A10G", "A16", "A16_PCIE", "A30", "A40", "A4000", "A4000_PCIE",
    "A5000", "A5000_PCIE", "A6000", "A6000_PCIE_HIGH_PERF", "A6000_PCIE_LOW_RAM", "A800",
    "A100-80G-PCIe", "A100-80G-PCIe-NVLink", "A100_80G_PCIE", "A100_80G_SXM4", "B200", "B300",
    "GAUDI2", "GB200", "GB300", "GH200", "H100", "H100-MEGA", "H100-NVL", "H100-SXM",
    "H100-80G-PCIe", "H100-80G-PCIe-NVLink", "H100-80G-SXM5", "H100_NVL", "H100_PCIE",
    "H100_PCIE_BAREMETAL", "H100_SXM5", "H200", "K80", "L4", "L4_PCIE", "L40", "L40S",
    "L40S_PCIE", "L40S_PCIE_BAREMETAL", "L40_PCIE", "M60", "MI300X", "MI355X", "P100",
    "Radeon MI25", "RTX PRO 6000 96GB", "RTX-6000-Ada", "RTX-A4000", "RTX-A6000", "RTX-PRO-6000",
    "RTX3060", "RTX3070", "RTX3080", "RTX3090", "RTX4060", "RTX4070", "RTX4090", "RTX5090",
    "RTX5090_PCIE", "RTX5090_PCIE_BAREMETAL", "RTX6000", "RTX6000-Ada", "RTX6000ADA_PCIE",
    "RTX6000Ada", "RTXA2000", "RTXA5000", "RTXA6000", "RTXPRO6000", "RTXPRO6000-WK",
    "RTXPRO6000S", "RTXPRO6000_PCIE", "RTXPRO6000_PCIE_BAREMETAL", "RTXPro6000", "T4", "T4g",
    "V100", "V100-32GB", "V100_32G_PCIE",
    # GpuInfo names that differ from AcceleratorName
    "A100 PCIe", "H100 PCIe", "H100 NVL", "H100 SXM", "NVIDIA-H100-80GB-HBM3",
    # traces: openb node models and gpu_spec, Gavel GPU types
    "V100M16", "V100M32", "G2", "G3", "k80", "p100", "v100",
]  # fmt: skip

NOT_GPUS = ("tpu-",)


def test_every_required_model_is_present(table: GpuTable) -> None:
    ids = {m.id for m in table.models}
    assert [i for i in REQUIRED_IDS if i not in ids] == []


@pytest.mark.parametrize("name", NAMES_IN_DATA)
def test_every_name_in_the_data_resolves(table: GpuTable, name: str) -> None:
    assert table.resolve(name) is not None, f"{name!r} is not in the GPU model table"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NVIDIA A100-SXM4-80GB", "A100-80GB"),
        ("A100-80GB", "A100-80GB"),
        ("A100 80GB", "A100-80GB"),
        ("V100M16", "V100-16GB"),
        ("V100-16GB", "V100-16GB"),
        ("V100M32", "V100-32GB"),
        ("H100-MEGA", "H100-SXM"),
        ("T4g", "T4"),
        ("RTX6000", "Quadro-RTX-6000"),
        ("A6000", "RTX-A6000"),
        ("Radeon MI25", "MI25"),
    ],
)
def test_known_aliases(table: GpuTable, name: str, expected: str) -> None:
    model = table.resolve(name)
    assert model is not None
    assert model.id == expected


def test_every_model_cites_a_source_and_states_specs_or_says_they_are_undisclosed(
    table: GpuTable,
) -> None:
    for model in table.models:
        assert model.sources, model.id
        assert all(s.startswith("http") for s in model.sources), model.id
        if not model.specs_disclosed:
            assert "undisclosed" in model.notes.lower(), model.id


def test_openb_anonymised_models_have_no_invented_specs(table: GpuTable) -> None:
    for model_id in ("G2", "G3"):
        model = table.require(model_id)
        assert model.memory_gib is None
        assert model.dense_tflops is None


def test_dense_figures_are_plausible(table: GpuTable) -> None:
    h100 = table.require("H100-SXM")
    assert h100.bf16_tflops == pytest.approx(989, rel=0.01)  # dense, not the 1,979 sparse figure
    assert table.require("A100-80GB").bf16_tflops == pytest.approx(312, rel=0.01)
    assert table.require("V100-16GB").bf16_tflops is None  # Volta has no BF16
    assert table.require("V100-16GB").dense_tflops == pytest.approx(125, rel=0.01)


def _names_in_catalog(catalog: Path) -> set[str]:
    from gpufleet.catalog.gpuinfo import parse_gpu_info

    names: set[str] = set()
    for path in catalog.glob("*vms*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["AcceleratorName"]:
                    names.add(row["AcceleratorName"])
                info = parse_gpu_info(row.get("GpuInfo") or "")
                if info is not None and info.name:
                    names.add(info.name)
    return {n for n in names if not n.lower().startswith(NOT_GPUS)}


def _names_in_traces(traces: Path) -> set[str]:
    names: set[str] = set()
    with (traces / "openb" / "openb_node_list_gpu_node.csv").open(newline="") as handle:
        names |= {row["model"] for row in csv.DictReader(handle) if row["model"]}
    for path in (traces / "openb").glob("openb_pod_list_*.csv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                names |= {s for s in (row.get("gpu_spec") or "").split("|") if s}
    throughputs = json.loads((traces / "gavel" / "simulation_throughputs.json").read_text())
    names |= {k for k in throughputs if "_" not in k}  # k80, p100, v100 (not *_unconsolidated)
    return names


@pytest.mark.shared_data
def test_every_name_in_the_shared_data_resolves(table: GpuTable, shared_data: Path) -> None:
    names = _names_in_catalog(shared_data / "catalog") | _names_in_traces(shared_data / "traces")
    unknown = sorted(n for n in names if table.resolve(n) is None)
    assert unknown == [], f"GPU names missing from gpu_models.yaml: {unknown}"
    assert len(names) > 80
