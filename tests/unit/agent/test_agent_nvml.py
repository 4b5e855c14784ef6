"""The NVML source, against a fake ``pynvml`` module: unavailable without the library, names
normalised through the GPU table, unsupported counters as ``None``, XID events counted."""

from __future__ import annotations

from typing import Any

import pytest
from nvml_fakes import FakeNvml, h100_node

from gpufleet.agent import nvml
from gpufleet.agent.gpu_source import GpuSourceError
from gpufleet.agent.nvml import NvmlSource, available, canonical_model


def test_not_available_without_the_nvml_library() -> None:
    assert available(FakeNvml([], library=False)) is False
    with pytest.raises(GpuSourceError, match="NVML is not available"):
        NvmlSource(FakeNvml([], library=False))


def test_not_available_without_the_pynvml_module(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_module(name: str) -> Any:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(nvml.importlib, "import_module", no_module)
    assert available() is False
    with pytest.raises(GpuSourceError, match="install nvidia-ml-py"):
        NvmlSource()


def test_available_probes_and_releases_nvml() -> None:
    fake = h100_node()
    assert available(fake) is True
    assert fake.inits == 0


def test_this_machine_answers_without_crashing() -> None:
    assert available() in {True, False}


def test_discovery_normalises_model_names_through_the_gpu_table() -> None:
    source = NvmlSource(h100_node())
    gpus = source.discover()
    assert [(g.index, g.model, g.uuid) for g in gpus] == [
        (0, "H100-SXM", "GPU-aaaa"),
        (1, "H100-PCIe", "GPU-bbbb"),
        (2, "NVIDIA Mystery X9", "GPU-cccc"),  # unknown names are kept as reported
    ]
    assert gpus[0].name == "NVIDIA H100 80GB HBM3"
    assert gpus[0].memory_gib == pytest.approx(79.65, abs=0.01)
    assert not any(g.simulated for g in gpus)
    assert not source.simulated


def test_a_bare_family_name_is_refined_by_memory() -> None:
    assert canonical_model("NVIDIA H100", 93.0) == "H100-NVL"
    assert canonical_model("NVIDIA H100", 79.6) == "H100-SXM"


def test_telemetry_reads_every_figure_and_none_for_unsupported_counters() -> None:
    fake = h100_node()
    source = NvmlSource(fake)
    first, second, _ = source.telemetry()
    assert (first.utilisation_pct, first.memory_used_gib) == (10.0, 1.0)
    assert (first.temperature_c, first.power_w) == (40.0, 123.5)
    assert (first.ecc_errors, first.xid_errors, first.last_xid) == (0, 0, None)
    assert (second.ecc_errors, second.xid_errors) == (None, None)  # not supported there
    fake.events += [(0, 79), (0, 48), (2, 13)]
    first, _, third = source.telemetry()
    assert (first.xid_errors, first.last_xid) == (2, 48)
    assert (third.xid_errors, third.last_xid) == (1, 13)


def test_close_shuts_nvml_down_once() -> None:
    fake = h100_node()
    source = NvmlSource(fake)
    assert fake.inits == 1
    source.close()
    source.close()
    assert fake.inits == 0
