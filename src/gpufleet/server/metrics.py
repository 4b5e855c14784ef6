"""Prometheus metrics, one registry per app (so several apps in one process do not clash)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

from gpufleet.server.services.stats import FleetStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_GPU = ("node", "index", "model")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue_length = Gauge("gpufleet_queue_length", "Pending jobs", registry=r)
        self.allocated = Gauge(
            "gpufleet_allocated_gpus", "GPUs held by scheduled and running jobs", ["model"],
            registry=r,
        )  # fmt: skip
        self.gpus = Gauge(
            "gpufleet_gpus", "GPUs known, by node state", ["model", "state"], registry=r
        )
        self.utilisation = Gauge(
            "gpufleet_gpu_utilisation_pct", "GPU utilisation, last heartbeat", _GPU, registry=r
        )
        self.memory_used = Gauge(
            "gpufleet_gpu_memory_used_gib", "GPU memory used, last heartbeat", _GPU, registry=r
        )
        self.temperature = Gauge(
            "gpufleet_gpu_temperature_c", "GPU temperature, last heartbeat", _GPU, registry=r
        )
        self.power = Gauge("gpufleet_gpu_power_w", "GPU power, last heartbeat", _GPU, registry=r)
        self.tick_seconds = Histogram(
            "gpufleet_scheduler_tick_seconds", "Scheduler tick duration", registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )  # fmt: skip

    def observe_tick(self, seconds: float) -> None:
        self.tick_seconds.observe(seconds)

    def update(self, stats: FleetStats) -> None:
        """Replace the fleet gauges with ``stats`` (GPUs that left disappear)."""
        self.queue_length.set(stats.queue_length)
        self.allocated.clear()
        for model, gpus in stats.allocated_gpus.items():
            self.allocated.labels(model=model).set(gpus)
        per_gauge = (
            (self.utilisation, "utilisation_pct"),
            (self.memory_used, "memory_used_gib"),
            (self.temperature, "temperature_c"),
            (self.power, "power_w"),
        )
        self.gpus.clear()
        for gauge, _ in per_gauge:
            gauge.clear()
        for sample in stats.gpus:
            self.gpus.labels(model=sample.model, state=sample.node_state).inc()
            labels = {"node": sample.node, "index": str(sample.index), "model": sample.model}
            for gauge, field in per_gauge:
                value = getattr(sample, field)
                if value is not None:
                    gauge.labels(**labels).set(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
