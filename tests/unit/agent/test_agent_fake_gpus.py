"""Fake GPUs: the ``NxMODEL`` spec, seeded telemetry that follows the jobs, injected faults."""

from __future__ import annotations

import pytest

from gpufleet.agent.fake import FakeGpuGroup, FakeGpuSource, FakeGpuSpecError, parse_fake_gpus
from gpufleet.agent.gpu_source import GpuSourceError, SourceOptions, open_source, source_names


@pytest.mark.parametrize(
    ("spec", "groups"),
    [
        ("4xH100-SXM", [FakeGpuGroup(4, "H100-SXM")]),
        ("2xA100-80GB, 2XH100", [FakeGpuGroup(2, "A100-80GB"), FakeGpuGroup(2, "H100-SXM")]),
        ("8 x nvidia h100 80gb hbm3", [FakeGpuGroup(8, "H100-SXM")]),
        ("H100-PCIe", [FakeGpuGroup(1, "H100-PCIe")]),
        ("3*A100-40GB", [FakeGpuGroup(3, "A100-40GB")]),
    ],
)
def test_spec_parsing(spec: str, groups: list[FakeGpuGroup]) -> None:
    assert list(parse_fake_gpus(spec)) == groups


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "expected NxMODEL"),
        ("4xH100-SXM,", "expected NxMODEL"),
        ("0xH100-SXM", "need at least 1"),
        ("4xH10-SXM", "unknown GPU model 'H10-SXM'.*Did you mean"),
        ("4xNOPE", "unknown GPU model 'NOPE'"),
        ("2000xH100-SXM", "more than 1024"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(FakeGpuSpecError, match=message):
        parse_fake_gpus(spec)


def test_a_bad_spec_is_a_gpu_source_error_and_a_value_error() -> None:
    with pytest.raises(GpuSourceError):
        open_source("fake", "4xNOPE")
    with pytest.raises(ValueError, match="NOPE"):
        FakeGpuSource("4xNOPE")


def test_discovery_lists_every_gpu_in_spec_order_marked_simulated() -> None:
    source = FakeGpuSource("2xA100-80GB,1xH100", SourceOptions(node_name="n1"))
    gpus = source.discover()
    assert [(g.index, g.model) for g in gpus] == [
        (0, "A100-80GB"),
        (1, "A100-80GB"),
        (2, "H100-SXM"),
    ]
    assert all(g.simulated for g in gpus)
    assert source.simulated
    assert gpus[2].memory_gib == 80.0
    assert len({g.uuid for g in gpus}) == 3
    assert all(g.uuid.startswith("GPU-") for g in gpus)
    other_node = FakeGpuSource("2xA100-80GB,1xH100", SourceOptions(node_name="n2")).discover()
    assert {g.uuid for g in gpus}.isdisjoint(g.uuid for g in other_node)


def test_telemetry_is_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[object]:
        source = FakeGpuSource("4xH100-SXM", SourceOptions(seed=seed))
        return [source.telemetry() for _ in range(3)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    first, second, _ = run(7)
    assert first != second  # samples move over time


def test_utilisation_follows_the_gpus_that_run_jobs() -> None:
    busy: set[int] = {1, 2}
    source = FakeGpuSource("4xH100-SXM", SourceOptions(busy=lambda: busy))
    for _ in range(20):
        samples = source.telemetry()
        assert [s.index for s in samples] == [0, 1, 2, 3]
        assert all(s.simulated for s in samples)
        for s in samples:
            if s.index in busy:
                assert 85.0 <= s.utilisation_pct <= 100.0
                assert s.memory_used_gib > 40.0
                assert s.power_w is not None
                assert s.power_w > 400.0
            else:
                assert s.utilisation_pct <= 3.0
                assert s.memory_used_gib <= 0.5
                assert s.temperature_c is not None
                assert s.temperature_c < 40.0
    busy.clear()
    assert max(s.utilisation_pct for s in source.telemetry()) <= 3.0


def test_fault_injection_shows_in_the_next_samples_of_that_gpu_only() -> None:
    source = FakeGpuSource("3xH100-SXM")
    healthy = source.telemetry()
    assert [(s.ecc_errors, s.xid_errors, s.last_xid) for s in healthy] == [(0, 0, None)] * 3
    source.inject_ecc(1, count=2)
    source.inject_xid(2, xid=48)
    source.inject_overheat(0, temperature_c=97.5)
    for _ in range(2):  # faults persist until cleared
        gpu0, gpu1, gpu2 = source.telemetry()
        assert gpu0.temperature_c == 97.5
        assert (gpu1.ecc_errors, gpu1.temperature_c is not None and gpu1.temperature_c < 90) == (
            2,
            True,
        )
        assert (gpu2.xid_errors, gpu2.last_xid) == (1, 48)
    source.clear_faults(0)
    assert source.telemetry()[0].temperature_c != 97.5
    source.clear_faults()
    assert all(s.ecc_errors == 0 and s.xid_errors == 0 for s in source.telemetry())
    with pytest.raises(IndexError, match="no fake GPU 3"):
        source.inject_ecc(3)


def test_the_registry_knows_both_sources() -> None:
    assert {"fake", "nvml"} <= set(source_names())
    assert open_source("fake", "2xH100").simulated
    with pytest.raises(GpuSourceError, match="unknown GPU source 'rocm'"):
        open_source("rocm")
