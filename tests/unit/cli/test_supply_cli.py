"""The supply-chain commands (``suppliers``, ``orders``, ``demand``, ``plan --from-server``,
``plans``, ``costs``, ``budgets``) against a real server (``test_server_cli``'s fixtures)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from live_harness import LiveServer, assert_error, run
from typer.testing import CliRunner

from gpufleet.server.clock import utc_now

CONTRACT = """\
format: gpufleet-supplier/v1
supplier: simco
display_name: Simulated Co (test)
kind: neocloud
as_of: "2026-12-01"
source: "test contract"
offers:
  - instance_type: hgx-h100-8
    gpu: H100-SXM
    gpus_per_unit: 8
    region: us-east
    contract: reserved
    price_usd_per_gpu_hour: 2.0
    term_months: 3
    lead_time_days: 2
  - instance_type: hgx-h100-8
    gpu: H100-SXM
    gpus_per_unit: 8
    region: us-east
    contract: on_demand
    price_usd_per_gpu_hour: 6.0
"""


def test_import_plan_accept_order_and_costs(
    runner: CliRunner, live: LiveServer, tmp_path: Path
) -> None:
    result = run(runner, live, "suppliers", "create", "simco", "--adapter", "simulated",
                 "--config", "failed_gpus=1")  # fmt: skip
    assert result.exit_code == 0, result.output
    contract = tmp_path / "simco.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    result = run(runner, live, "suppliers", "import-offers", "--suppliers", str(contract),
                 "--supplier", "simco")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 offers created, 0 updated" in result.output
    listed = run(runner, live, "suppliers")
    assert "simco" in listed.output
    assert "simulated" in listed.output

    start = (utc_now() + timedelta(days=3)).date().isoformat()
    until = (utc_now() + timedelta(days=60)).date().isoformat()
    result = run(runner, live, "demand", "declare", "-p", "default", "--gpus", "8",
                 "--from", start, "--until", until)  # fmt: skip
    assert result.exit_code == 0, result.output
    result = run(runner, live, "plan", "--from-server", "--horizon", "10", "--scenarios", "5",
                 "--evaluation-scenarios", "5", "--accept", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["state"] == "accepted"
    assert [(o["supplier"], o["contract"], o["gpus"]) for o in plan["orders"]] == [
        ("simco", "reserved", 8.0)
    ]
    (order_id,) = plan["purchase_orders"]
    shown = run(runner, live, "orders", "show", str(order_id))
    assert shown.exit_code == 0, shown.output
    assert "draft -> submitted by admin" in shown.output or "submitted by plan" in shown.output
    listed = run(runner, live, "orders", "--json")
    assert json.loads(listed.stdout)[0]["state"] == "submitted"

    result = run(runner, live, "orders", "step", str(order_id), "confirmed")
    assert result.exit_code == 0, result.output  # recorded by hand (admin)
    assert_error(run(runner, live, "orders", "step", str(order_id), "accepted"), "acceptance")

    assert run(runner, live, "costs").exit_code == 0
    csv = tmp_path / "chargeback.csv"
    result = run(runner, live, "costs", "--csv", str(csv))
    assert result.exit_code == 0, result.output
    assert csv.read_text().startswith("day,project,supplier,contract,gpu,gpu_hours,cost_usd")
    assert run(runner, live, "costs", "--idle").exit_code == 0
    assert "default" in run(runner, live, "budgets").output
    cards = run(runner, live, "suppliers", "scorecards", "--json")
    assert json.loads(cards.stdout)[0]["supplier"] == "simco"
    assert "accepted" in run(runner, live, "plans").output


def test_manual_delivery_prints_agent_tokens(runner: CliRunner, live: LiveServer) -> None:
    assert run(runner, live, "suppliers", "create", "colo").exit_code == 0
    body = {
        "offers": [
            {
                "supplier": "colo",
                "instance_type": "box",
                "gpu": "A100-80GB",
                "gpus_per_unit": 4,
                "contract": "owned",
                "price_usd_per_hour": 2.0,
                "upfront_usd": 60000,
                "term_months": 36,
            }
        ]
    }
    live.ok("POST", "/offers/import", json=body)
    (offer,) = live.ok("GET", "/offers")
    result = run(runner, live, "orders", "create", "--offer", str(offer["id"]), "--units", "2",
                 "--submit", "--json")  # fmt: skip
    order = json.loads(result.stdout)
    assert order["state"] == "submitted"
    assert order["usd_per_gpu_hour"] == (2.0 + 60000 / (36 * 730)) / 4
    result = run(runner, live, "orders", "deliver", str(order["id"]), "--node", "box-1",
                 "--node", "box-2")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("box-")]
    assert [line.split("\t")[0] for line in lines] == ["box-1", "box-2"]
    assert all(len(line.split("\t")[1]) > 20 for line in lines)
    nodes = {n["name"]: n for n in live.ok("GET", "/nodes")}
    assert nodes["box-1"]["acceptance"] == "pending"
    assert_error(
        run(runner, live, "orders", "deliver", str(order["id"]), "--node", "box-3"),
        "delivered",
    )
