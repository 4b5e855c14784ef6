"""The NVML source, against a fake ``pynvml`` module: unavailable without the library, names
normalised through the GPU table, unsupported counters as ``None``, XID events counted."""

# The fake mirrors pynvml's own (camelCase) names.
# ruff: noqa: N802, N815

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from gpufleet.agent import nvml
from gpufleet.agent.gpu_source import GpuSourceError
from gpufleet.agent.nvml import NvmlSource, available, canonical_model

MIB = 1 << 20


class NVMLError(Exception):
    pass


class NotSupportedError(NVMLError):
    pass


@dataclass
class Device:
    name: bytes | str
    memory_mib: int
    uuid: str
    ecc: int | None = 0
    xid_events: bool = True


class FakeNvml:
    """What ``NvmlSource`` uses of pynvml, over a list of devices."""

    NVMLError = NVMLError
    NVML_TEMPERATURE_GPU = 0
    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
    NVML_VOLATILE_ECC = 0
    nvmlEventTypeXidCriticalError = 8

    def __init__(self, devices: list[Device], *, library: bool = True) -> None:
        self.devices = devices
        self.library = library
        self.inits = 0
        self.events: list[tuple[int, int]] = []

    def nvmlInit(self) -> None:
        if not self.library:
            raise NVMLError("NVML Shared Library Not Found")
        self.inits += 1

    def nvmlShutdown(self) -> None:
        self.inits -= 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetIndex(self, handle: int) -> int:
        return handle

    def nvmlDeviceGetName(self, h: int) -> bytes | str:
        return self.devices[h].name

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return self.devices[h].uuid

    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any:
        return SimpleNamespace(total=self.devices[h].memory_mib * MIB, used=(h + 1) * 1024 * MIB)

    def nvmlDeviceGetUtilizationRates(self, h: int) -> Any:
        return SimpleNamespace(gpu=10 * (h + 1), memory=5)

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        return 40 + h

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        return 123_456  # mW

    def nvmlDeviceGetTotalEccErrors(self, h: int, kind: int, counter: int) -> int:
        ecc = self.devices[h].ecc
        if ecc is None:
            raise NotSupportedError("Not Supported")
        return ecc

    def nvmlEventSetCreate(self) -> str:
        return "event-set"

    def nvmlDeviceRegisterEvents(self, h: int, kinds: int, events: str) -> None:
        if not self.devices[h].xid_events:
            raise NotSupportedError("Not Supported")

    def nvmlEventSetWait_v2(self, events: str, timeout_ms: int) -> Any:
        if not self.events:
            raise NVMLError("Timeout")
        device, xid = self.events.pop(0)
        return SimpleNamespace(device=device, eventData=xid)

    def nvmlEventSetFree(self, events: str) -> None:
        pass


def h100_node() -> FakeNvml:
    return FakeNvml(
        [
            Device(b"NVIDIA H100 80GB HBM3", 81_559, "GPU-aaaa"),
            Device("NVIDIA H100 PCIe", 81_559, "GPU-bbbb", ecc=None, xid_events=False),
            Device("NVIDIA Mystery X9", 1024, "GPU-cccc"),
        ]
    )


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
