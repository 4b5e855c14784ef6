"""Real NVIDIA GPUs through NVML (``nvidia-ml-py``, imported as ``pynvml``).

* ``available()`` is False — never an exception — when the ``pynvml`` module, the NVML shared
  library (``libnvidia-ml.so.1``) or the driver is missing, so a machine without GPUs can ask.
* ``discover()`` reads each device's name, total memory and UUID. The name is normalised to the
  GPU table's canonical id (``NVIDIA H100 80GB HBM3`` -> ``H100-SXM``), refined by memory when the
  name is a bare family; an unknown name is kept as reported (and logged once).
* ``telemetry()`` reads utilisation, memory used, temperature and power, plus the uncorrected
  volatile ECC count and the critical XID events NVML delivered since the source opened. A
  query the device does not support gives ``None`` for that figure; it never fails the sample.

Indices are NVML's (PCI bus order); the runner sets ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so CUDA
numbers the GPUs the same way. The ``pynvml`` module can be injected (tests pass a fake one).
"""

from __future__ import annotations

import importlib
import logging
import re
from typing import Any

from gpufleet.agent.gpu_source import (
    GpuInfo,
    GpuSource,
    GpuSourceError,
    GpuTelemetry,
    SourceOptions,
    register,
)
from gpufleet.catalog.gpus import GpuTable, gpu_table

log = logging.getLogger(__name__)

_GIB = float(1 << 30)
_VENDOR_PREFIX = re.compile(r"^\s*(?:nvidia|tesla)\s+", re.IGNORECASE)


def load_pynvml() -> Any:
    """The ``pynvml`` module, or ``GpuSourceError`` when it is not installed."""
    try:
        return importlib.import_module("pynvml")
    except ImportError as exc:
        msg = f"the pynvml module is not installed ({exc}); install nvidia-ml-py"
        raise GpuSourceError(msg) from None


def available(nvml: Any = None) -> bool:
    """True when NVML can be initialised here (module, library and driver all present)."""
    try:
        module = nvml if nvml is not None else load_pynvml()
        module.nvmlInit()
    except GpuSourceError:
        return False
    except Exception:  # noqa: BLE001 - any failure to load NVML means "not available"
        return False
    try:
        module.nvmlShutdown()
    except Exception:
        log.debug("nvmlShutdown failed after a successful probe", exc_info=True)
    return True


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def canonical_model(name: str, memory_gib: float | None, table: GpuTable | None = None) -> str:
    """The GPU-table id for a device name (refined by memory for a bare family), else ``name``."""
    table = table or gpu_table()
    model = table.resolve(name)
    if model is None:
        return name
    # "NVIDIA H100" is the bare family "H100": let the memory size pick the sibling.
    bare = _VENDOR_PREFIX.sub("", name)
    return table.refine(model, name=bare, hints=name, memory_gib=memory_gib).id


class NvmlSource:
    """The GPUs NVML sees on this machine (see the module docstring)."""

    simulated = False

    def __init__(self, nvml: Any = None, *, table: GpuTable | None = None) -> None:
        self._nvml = nvml if nvml is not None else load_pynvml()
        self._table = table or gpu_table()
        try:
            self._nvml.nvmlInit()
        except Exception as exc:  # noqa: BLE001 - every NVML failure is reported the same way
            msg = f"NVML is not available on this machine: {exc}"
            raise GpuSourceError(msg) from None
        self._open = True
        try:
            count = int(self._nvml.nvmlDeviceGetCount())
            self._handles: list[Any] = [
                self._nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)
            ]
        except self._nvml.NVMLError as exc:
            self.close()
            msg = f"NVML started but cannot list the GPUs: {exc}"
            raise GpuSourceError(msg) from None
        self._xid_counts = [0] * len(self._handles)
        self._last_xid: list[int | None] = [None] * len(self._handles)
        self._xid_watched = [False] * len(self._handles)
        self._events: Any = self._watch_xid()

    def discover(self) -> list[GpuInfo]:
        gpus = []
        for index, handle in enumerate(self._handles):
            try:
                name = _text(self._nvml.nvmlDeviceGetName(handle))
                memory_gib = float(self._nvml.nvmlDeviceGetMemoryInfo(handle).total) / _GIB
                uuid = _text(self._nvml.nvmlDeviceGetUUID(handle))
            except self._nvml.NVMLError as exc:
                msg = f"cannot read GPU {index} through NVML: {exc}"
                raise GpuSourceError(msg) from None
            model = canonical_model(name, memory_gib, self._table)
            if model == name:
                log.warning("GPU %d: %r is not in the GPU table; reporting it as is", index, name)
            gpus.append(
                GpuInfo(
                    index=index,
                    model=model,
                    name=name,
                    memory_gib=round(memory_gib, 2),
                    uuid=uuid,
                    simulated=False,
                )
            )
        return gpus

    def telemetry(self) -> list[GpuTelemetry]:
        self._drain_xid_events()
        samples = []
        for index, handle in enumerate(self._handles):
            utilisation = self._query(self._nvml.nvmlDeviceGetUtilizationRates, handle)
            memory = self._query(self._nvml.nvmlDeviceGetMemoryInfo, handle)
            temperature = self._query(
                self._nvml.nvmlDeviceGetTemperature, handle, self._nvml.NVML_TEMPERATURE_GPU
            )
            power_mw = self._query(self._nvml.nvmlDeviceGetPowerUsage, handle)
            ecc = self._query(
                self._nvml.nvmlDeviceGetTotalEccErrors,
                handle,
                self._nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
                self._nvml.NVML_VOLATILE_ECC,
            )
            samples.append(
                GpuTelemetry(
                    index=index,
                    utilisation_pct=0.0 if utilisation is None else float(utilisation.gpu),
                    memory_used_gib=0.0 if memory is None else round(memory.used / _GIB, 3),
                    temperature_c=None if temperature is None else float(temperature),
                    power_w=None if power_mw is None else round(float(power_mw) / 1000.0, 1),
                    ecc_errors=None if ecc is None else int(ecc),
                    xid_errors=self._xid_counts[index] if self._xid_watched[index] else None,
                    last_xid=self._last_xid[index],
                    simulated=False,
                )
            )
        return samples

    def close(self) -> None:
        """Free the event set and shut NVML down (safe to call twice)."""
        if not self._open:
            return
        self._open = False
        if getattr(self, "_events", None) is not None:
            self._query(self._nvml.nvmlEventSetFree, self._events)
            self._events = None
        self._query(self._nvml.nvmlShutdown)

    def _query(self, function: Any, *args: Any) -> Any:
        """``function(*args)``, or ``None`` when NVML says it is unsupported or fails."""
        try:
            return function(*args)
        except self._nvml.NVMLError as exc:
            log.debug("%s%r: %s", getattr(function, "__name__", function), args, exc)
            return None

    def _watch_xid(self) -> Any:
        """An event set receiving critical XID events from every GPU that supports them."""
        events = self._query(self._nvml.nvmlEventSetCreate)
        if events is None:
            return None
        for index, handle in enumerate(self._handles):
            try:
                self._nvml.nvmlDeviceRegisterEvents(
                    handle, self._nvml.nvmlEventTypeXidCriticalError, events
                )
            except self._nvml.NVMLError as exc:
                log.debug("XID events not available for a GPU: %s", exc)
            else:
                self._xid_watched[index] = True
        if any(self._xid_watched):
            return events
        self._query(self._nvml.nvmlEventSetFree, events)
        return None

    def _drain_xid_events(self) -> None:
        if self._events is None:
            return
        for _ in range(1000):  # bounded: a storm of events cannot stall a heartbeat
            try:
                data = self._nvml.nvmlEventSetWait_v2(self._events, 0)
            except self._nvml.NVMLError:
                return  # NVML_ERROR_TIMEOUT: no event waiting
            index = self._query(self._nvml.nvmlDeviceGetIndex, data.device)
            if index is not None and 0 <= int(index) < len(self._handles):
                self._xid_counts[int(index)] += 1
                self._last_xid[int(index)] = int(data.eventData)
                log.warning("GPU %d: XID %d", int(index), int(data.eventData))


@register("nvml")
def open_nvml(spec: str, options: SourceOptions) -> GpuSource:
    """Real GPUs; ``spec`` and ``options`` are unused (the hardware reports what it does)."""
    del spec, options
    return NvmlSource()
