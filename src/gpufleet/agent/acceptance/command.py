"""``python -m gpufleet.agent.acceptance`` (also ``gpufleet acceptance``): run the acceptance
test on this machine's GPUs and judge each against the GPU table, as the server would.

    python -m gpufleet.agent.acceptance --burn-in-s 20 --json
    python -m gpufleet.agent.acceptance --gpus 0,1 --expect H100-SXM
    python -m gpufleet.agent.acceptance --fake-gpus 4xH100-SXM --fake-faults 1=slow,2=ecc

Real GPUs are read through NVML and burnt in through PyTorch (one subprocess per GPU, all at
once); ``--fake-gpus`` simulates them, with ``--fake-faults`` as a bad delivery. Each GPU is
judged against ``--expect`` (the model the supplier promised) or, by default, the model it
reports. It prints every ``GpuCheck`` and ``Verdict`` (``--json``: one JSON document on stdout;
progress goes to stderr) and exits 0 when every GPU passed, 1 when one failed, 2 on bad usage
or when the GPUs cannot be read.

Imports only what the agent needs (Typer and Rich for the command line, NVML, PyYAML for the
GPU table): no server, database or solver packages, so it runs on any GPU machine.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gpufleet.agent.acceptance.run import AcceptanceTiming, launcher_for, run_acceptance
from gpufleet.agent.fake import FakeGpuSource, parse_fake_faults, parse_fake_gpus
from gpufleet.agent.gpu_source import GpuInfo, GpuSource, GpuSourceError, SourceOptions
from gpufleet.agent.nvml import NvmlSource
from gpufleet.catalog.gpus import GpuTable, UnknownGpuError, gpu_table
from gpufleet.domain.acceptance import (
    GpuCheck,
    Limits,
    Verdict,
    check_to_json,
    judge,
    verdict_to_json,
)
from gpufleet.domain.gpu import GpuModel

EXIT_FAILED = 1
EXIT_USAGE = 2
_DEFAULTS = Limits()


def acceptance(
    gpus: Annotated[
        str | None,
        typer.Option(help="GPU indices to test, e.g. 0,1. Default: all.", show_default=False),
    ] = None,
    burn_in_s: Annotated[
        float, typer.Option(min=0.0, help="Seconds of burn-in per GPU (0: counters only).")
    ] = 20.0,
    expect: Annotated[
        str | None,
        typer.Option(
            help="The model the supplier promised (any alias). Default: what each GPU reports.",
            show_default=False,
        ),
    ] = None,
    fake_gpus: Annotated[
        str | None,
        typer.Option(help="Simulate GPUs, e.g. 4xH100-SXM, instead of NVML.", show_default=False),
    ] = None,
    fake_faults: Annotated[
        str | None,
        typer.Option(
            help="Faults of the simulated GPUs, e.g. 1=slow,2=ecc+hot (slow, ecc, xid, hot, "
            "wrong-model, small-memory).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated GPUs.")] = 0,
    min_tflops_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="BF16 TFLOPS needed, as a fraction of spec.")
    ] = _DEFAULTS.min_tflops_fraction_of_spec,
    min_bandwidth_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Bandwidth needed, as a fraction of spec.")
    ] = _DEFAULTS.min_fraction_of_spec,
    sample_s: Annotated[
        float, typer.Option(min=0.05, help="Seconds between temperature and power samples.")
    ] = 1.0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document instead of a table.")
    ] = False,
) -> None:
    """Burn in this machine's GPUs and judge each against its spec (exit 1 if one fails)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    table = gpu_table()
    try:
        limits = dataclasses.replace(
            _DEFAULTS,
            min_fraction_of_spec=min_bandwidth_fraction,
            min_tflops_fraction_of_spec=min_tflops_fraction,
        )
        promised = table.require(expect) if expect else None
        source, ordered = _open_source(fake_gpus, fake_faults, seed, table)
    except (ValueError, GpuSourceError, UnknownGpuError) as exc:
        _fail(str(exc))
    try:
        discovered = source.discover()
        indices = _indices(gpus, discovered)
        names = ", ".join(sorted({g.name for g in discovered if g.index in indices}))
        kind = "simulated" if source.simulated else "burn-in through PyTorch"
        _progress(f"testing GPUs {_listed(indices)} ({names}) for {burn_in_s:g} s ({kind})")
        checks = run_acceptance(
            discovered,
            source.telemetry,
            launcher_for(source),
            indices,
            burn_in_s,
            timing=AcceptanceTiming(sample_s=sample_s),
        )
    except (ValueError, GpuSourceError) as exc:
        _fail(str(exc))
    finally:
        source.close()
    results = [
        (check, *_judged(check, promised or ordered.get(check.index), table, limits))
        for check in checks
    ]
    passed = all(verdict.passed for _, _, verdict in results)
    if json_output:
        document = {
            "simulated": source.simulated,
            "burn_in_s": burn_in_s,
            "limits": dataclasses.asdict(limits),
            "passed": passed,
            "gpus": [
                {"check": check_to_json(c), "expected": e, "verdict": verdict_to_json(v)}
                for c, e, v in results
            ],
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        _render(results, limits)
    raise typer.Exit(0 if passed else EXIT_FAILED)


def main() -> None:
    """The module entry (``python -m gpufleet.agent.acceptance``)."""
    app = typer.Typer(add_completion=False, rich_markup_mode=None)
    app.command()(acceptance)
    app(prog_name="python -m gpufleet.agent.acceptance")


def _open_source(
    fake_gpus: str | None, fake_faults: str | None, seed: int, table: GpuTable
) -> tuple[GpuSource, dict[int, GpuModel]]:
    """The GPUs, and the model each was ordered as where that is known (simulated GPUs: the
    ``--fake-gpus`` spec, so a ``wrong-model`` fault shows without ``--expect``)."""
    if fake_gpus is None:
        if fake_faults:
            raise ValueError("--fake-faults needs --fake-gpus: only simulated GPUs have faults")
        try:
            return NvmlSource(), {}
        except GpuSourceError as exc:
            msg = f"{exc}. Without NVIDIA GPUs, try --fake-gpus 4xH100-SXM (simulated)"
            raise GpuSourceError(msg) from None
    groups = parse_fake_gpus(fake_gpus)
    parse_fake_faults(fake_faults or "", sum(g.count for g in groups))
    options = SourceOptions(node_name="acceptance", seed=seed, fake_faults=fake_faults or "")
    ordered = [table.get(g.model) for g in groups for _ in range(g.count)]
    return FakeGpuSource(fake_gpus, options), dict(enumerate(ordered))


def _indices(spec: str | None, gpus: list[GpuInfo]) -> list[int]:
    have = [g.index for g in gpus]
    if spec is None:
        if not have:
            raise ValueError("this machine has no GPUs to test")
        return have
    try:
        indices = [int(part) for part in spec.split(",")]
    except ValueError:
        raise ValueError(f"--gpus {spec!r}: expected GPU indices such as 0,1") from None
    missing = [i for i in indices if i not in have]
    if missing:
        raise ValueError(f"--gpus {spec!r}: no GPU {_listed(missing)} here (have {_listed(have)})")
    return list(dict.fromkeys(indices))


def _judged(
    check: GpuCheck, promised: GpuModel | None, table: GpuTable, limits: Limits
) -> tuple[str | None, Verdict]:
    expected = promised or table.resolve(check.model)
    if expected is None:
        reason = f"{check.model!r} is not in the GPU table: name the promised model with --expect"
        return None, Verdict(index=check.index, passed=False, reasons=(reason,))
    return expected.id, judge(check, expected, limits)


def _render(results: list[tuple[GpuCheck, str | None, Verdict]], limits: Limits) -> None:
    console = Console(highlight=False)
    kinds = ", ".join(sorted({c.burn_in.value for c, _, _ in results}))
    table = Table(title=f"Acceptance test (burn-in: {kinds})")
    table.add_column("GPU", justify="right")
    table.add_column("model", no_wrap=True)
    for column in ("GiB", "BF16 TFLOPS", "GB/s", "°C", "W", "ECC/XID"):
        table.add_column(column, justify="right")
    table.add_column("verdict", no_wrap=True)
    for check, expected, verdict in results:
        table.add_row(
            str(check.index),
            escape(check.model + ("" if expected in {None, check.model} else f" ≠ {expected}")),
            f"{check.memory_gib:.1f}",
            _figure(check.bf16_tflops, verdict.tflops_fraction),
            _figure(check.memory_bandwidth_gbps, verdict.bandwidth_fraction),
            _figure(check.max_temperature_c, None),
            _figure(check.max_power_w, None),
            f"{_count(check.ecc_errors)}/{_count(check.xid_errors)}",
            "[green]pass[/]" if verdict.passed else "[red]FAIL[/]",
        )
    console.print(table)
    everyone = set.intersection(*(set(v.notes) for _, _, v in results)) if results else set()
    for note in sorted(everyone):
        console.print(f"all GPUs: note: {escape(note)}")
    for check, _, verdict in results:
        for reason in verdict.reasons:
            console.print(f"GPU {check.index}: [red]{escape(reason)}[/]")
        for note in verdict.notes:
            if note not in everyone:
                console.print(f"GPU {check.index}: note: {escape(note)}")
        if check.detail:
            console.print(f"GPU {check.index}: detail: {escape(check.detail)}")
    console.print(
        f"thresholds: BF16 >= {limits.min_tflops_fraction_of_spec:.0%} of spec, bandwidth >= "
        f"{limits.min_fraction_of_spec:.0%}, <= {limits.max_temperature_c:g} °C, <= "
        f"{limits.max_power_fraction_of_tdp:.0%} of TDP, memory within "
        f"{limits.memory_tolerance:.0%}, no ECC or XID errors"
    )


def _figure(value: float | None, fraction: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if fraction is None else f"{value:.1f} ({fraction:.0%})"


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _listed(indices: list[int]) -> str:
    return ",".join(str(i) for i in indices)


def _progress(message: str) -> None:
    typer.echo(f"acceptance: {message}", err=True)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)
