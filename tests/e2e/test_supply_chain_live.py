"""The supply chain live, as a platform team runs it: ``gpufleet up`` (a real process), a
simulated supplier whose machines ``up`` provisions as agents with simulated GPUs, and the CLI.
Declared demand -> ``plan --from-server --accept`` -> the order is submitted, delivered after
its lead time -> the delivered machine's agent runs the acceptance test it is asked for (one
GPU injected slow, rejected) -> a job runs on the accepted GPUs as a real process -> costs and
the scorecard show it -> Ctrl-C stops everything."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from e2e_harness import Cli, ServerProcess, free_port, script, wait_for
from typer.testing import CliRunner

pytestmark = pytest.mark.e2e

LEAD_DAYS = 8 / 86400  # eight seconds


def test_plan_order_delivery_acceptance_job_costs(
    tmp_path: Path, runner: CliRunner, servers: list[ServerProcess]
) -> None:
    env = {"GPUFLEET_PROCUREMENT_S": "0.3", "GPUFLEET_ACCEPTANCE_BURN_IN_S": "0.5"}
    server = ServerProcess(tmp_path / "data", free_port(), tmp_path, env=env)
    servers.append(server)
    server.start()
    gf = Cli(runner, server.url, server.admin_token())
    gf.ok("suppliers", "create", "simco", "--adapter", "simulated", "--config", "failed_gpus=1",
          "--config", "confirm_after_h=0")  # fmt: skip
    offer = {
        "supplier": "simco",
        "instance_type": "hgx-h100-8",
        "gpu": "H100-SXM",
        "gpus_per_unit": 8,
        "contract": "reserved",
        "price_usd_per_hour": 16.0,
        "term_months": 3,
        "lead_time_days": LEAD_DAYS,
    }
    headers = {"Authorization": f"Bearer {gf.token}"}
    imported = httpx.post(
        f"{server.url}/api/v1/offers/import", json={"offers": [offer]}, headers=headers
    )
    assert imported.status_code == 200, imported.text
    start = datetime.now(UTC).date() + timedelta(days=7)
    gf.ok("demand", "declare", "-p", "default", "--gpus", "7", "--from", start.isoformat(),
          "--until", (start + timedelta(days=21)).isoformat())  # fmt: skip
    planned = gf.ok("plan", "--from-server", "--accept", "--horizon", "4", "--scenarios", "3",
                    "--evaluation-scenarios", "3", "--json")  # fmt: skip
    plan = json.loads(planned.stdout)
    assert [(o["supplier"], o["gpus"]) for o in plan["orders"]] == [("simco", 8.0)]
    (order_id,) = plan["purchase_orders"]

    def node_up() -> dict[str, object] | None:
        found = json.loads(gf.ok("nodes", "--json").stdout)
        return next((n for n in found if n["state"] == "up"), None)

    node = wait_for(node_up, 60, "the delivered node to pass acceptance", server.output)
    verdicts = [g["acceptance"] for g in node["gpus"]]  # type: ignore[union-attr]
    assert sorted(verdicts) == ["failed"] + ["passed"] * 7
    bad = verdicts.index("failed")
    order = json.loads(gf.ok("orders", "show", str(order_id), "--json").stdout)
    assert (order["state"], order["gpus_passed"], order["gpus_failed"]) == ("accepted", 7, 1)

    command = script("import os; print('gpus', os.environ['CUDA_VISIBLE_DEVICES'])")
    job = gf.ok("submit", "--gpus", "7", "--", *command)
    job_id = job.stdout.strip()

    def finished() -> dict[str, object] | None:
        jobs = json.loads(gf.ok("jobs", "--json").stdout)
        done = [j for j in jobs if str(j["id"]) == job_id and j["state"] == "succeeded"]
        return done[0] if done else None

    ran = wait_for(finished, 60, "the job to succeed on the new node", server.output)
    assert ran["node"] == node["name"]  # type: ignore[index]
    assert bad not in ran["gpu_indices"]  # type: ignore[operator]
    indices = ",".join(str(i) for i in ran["gpu_indices"])  # type: ignore[attr-defined]
    assert f"gpus {indices}" in gf.ok("logs", job_id).stdout

    costs = json.loads(gf.ok("costs", "--json").stdout)
    assert costs["by_supplier"]["simco"]["gpu_hours"] > 0
    assert costs["by_project"]["default"]["cost_usd"] > 0
    (card,) = json.loads(gf.ok("suppliers", "scorecards", "--json").stdout)
    assert (card["gpus_tested"], card["gpus_failed"]) == (8, 1)
    assert server.signal(signal.SIGINT) == 0
