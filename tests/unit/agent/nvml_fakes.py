"""A fake ``pynvml`` module: what ``NvmlSource`` uses of it, over a list of devices."""

# The fake mirrors pynvml's own (camelCase) names.
# ruff: noqa: N802, N815

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

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
