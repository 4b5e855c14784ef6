"""The supply-chain pages (plans, purchase orders, costs and budgets, suppliers, and the supply
fields of the nodes page) over the ASGI transport.

One supply chain is built once for the module through the REST API, as the integration test
does: a simulated supplier that injects one slow GPU, demand for two projects, a plan, accepted;
the procurement loop delivers two 8-GPU nodes after the lead time; their agents report
acceptance (one GPU fails); two projects run jobs on them for two hours; budget alerts are
raised. A second supplier, by hand, has an order that is overdue. The tests read pages only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dashboard_board import Board, open_board

from gpufleet.server.schemas import Role

from factories import acceptance_results, plan_body
from factories import offer_body as offer

LEAD_DAYS = 7
TIMES = "\N{MULTIPLICATION SIGN}"


class Machine:
    """A delivered node's agent, one call at a time."""

    def __init__(self, board: Board, name: str, token: str) -> None:
        self.board, self.name, self.token = board, name, token

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.board.api("POST", f"/agent/{path}", self.token, json=body)

    def register(self, gpus: int) -> None:
        listed = [
            {"index": i, "model": "NVIDIA H100 80GB HBM3", "memory_gib": 79.6, "uuid": f"G{i}"}
            for i in range(gpus)
        ]
        self.post("register", {"name": self.name, "gpus": listed, "simulated": True})

    def heartbeat(self, running: list[int]) -> dict[str, Any]:
        answer: dict[str, Any] = self.post("heartbeat", {"node": self.name, "running": running})
        return answer


def _declare(board: Board) -> None:
    for name, budget in (("vision", 35.0), ("nlp", 25.0)):
        board.api("POST", "/projects", status=201, json={"name": name, "budget_usd": budget})
    config = {"confirm_after_h": 1, "failed_gpus": 1, "fault": "slow"}
    simcloud = {"name": "simcloud", "kind": "neocloud", "adapter": "simulated"}
    board.api("POST", "/suppliers", status=201, json={**simcloud, "adapter_config": config})
    handco = {"name": "handco", "display_name": "Hand & Co <b>", "adapter": "manual"}
    board.api("POST", "/suppliers", status=201, json=handco)
    offers = [
        offer("simcloud", "reserved", 16.0, term_months=3, lead_time_days=LEAD_DAYS),
        offer("simcloud", "on_demand", 40.0),
    ]
    board.api("POST", "/offers/import", json={"offers": offers})
    start = board.clock.now.replace(hour=0) + timedelta(days=LEAD_DAYS)
    for project in ("vision", "nlp"):
        demand = {
            "project": project,
            "start": start.isoformat(),
            "end": (start + timedelta(weeks=8)).isoformat(),
            "expected_gpus": 8,
        }
        board.api("POST", "/demand", status=201, json=demand)


def _deliver_and_accept(board: Board) -> list[Machine]:
    for days in (2 / 24, LEAD_DAYS - 1, 1):
        board.clock.advance(days * 86400)
        board.procure()
    machines = []
    for delivery, token in board.provisioner.delivered:
        machine = Machine(board, delivery.name, token)
        machine.register(delivery.gpus)
        request = machine.heartbeat([])["acceptance"]
        body = {"node": machine.name, "results": acceptance_results(request, delivery.faults)}
        machine.post(f"acceptance/{request['test']}", body)
        machines.append(machine)
    return machines


def _run_jobs(board: Board, machines: list[Machine]) -> None:
    """vision runs 8 GPUs and nlp 7 for two hours on the delivered nodes."""
    for project, gpus in (("vision", 8), ("nlp", 7)):
        body = {"project": project, "command": ["python", "train.py"], "gpus": gpus}
        board.api("POST", "/jobs", status=201, json=body)
    board.app.state.loops.tick()
    running: dict[str, list[int]] = {}
    for machine in machines:
        for start in machine.heartbeat([])["start"]:
            machine.post(f"jobs/{start['job']}/started", {})
            running.setdefault(machine.name, []).append(start["job"])
    assert sum(len(jobs) for jobs in running.values()) == 2
    board.clock.advance(2 * 3600)
    for machine in machines:
        for job in running.get(machine.name, []):
            machine.post(f"jobs/{job}/finished", {"exit_code": 0})
    board.procure()  # raises the budget alerts


@pytest.fixture(scope="module")
def chain(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    with open_board(template_db, tmp_path_factory.mktemp("chain")) as board:
        _declare(board)
        plan = board.api("POST", "/plans", status=201, json=plan_body())
        board.api("POST", f"/plans/{plan['id']}/accept")
        by_hand = {
            "supplier": "handco",
            "gpu": "H100-SXM",
            "gpus_per_unit": 8,
            "contract": "on_demand",
            "price_usd_per_unit_hour": 24.0,
            "lead_time_days": 1,
            "submit": True,
        }
        board.api("POST", "/purchase-orders", status=201, json=by_hand)
        _run_jobs(board, _deliver_and_accept(board))
        yield board


def _row(html: str, marker: str) -> str:
    """The table row (``<tr ...>...</tr>``) that contains ``marker``."""
    at = html.index(marker)
    return html[html.rindex("<tr", 0, at) : html.index("</tr>", at)]


# ------------------------------------------------------------------------------------- plans
def test_the_plans_list_shows_each_plans_state_cost_and_orders(chain: Board) -> None:
    (plan,) = chain.api("GET", "/plans")
    row = _row(chain.page("/plans"), 'id="plan-1"')
    assert 'data-state="accepted"' in row
    assert f">${plan['expected_cost_usd']:,.0f}<" in row
    assert f"{100 * plan['gap_to_bound']:.1f} %" in row
    assert row.count('<td class="num">1</td>') == 2  # one order planned, one purchase order


def test_a_plan_shows_its_orders_evaluations_reliability_and_report(chain: Board) -> None:
    page = chain.page("/plans/1")
    assert 'data-testid="plan-state">accepted<' in page
    order = _row(page.split('class="plan-orders"')[1], "<td>simcloud</td>")
    assert "<td>reserved</td>" in order
    assert '<td class="num">16</td>' in order  # GPUs
    assert "2026-01-05 00:00:00 UTC" in order  # ordered in period 0: accepting submits it
    evaluations = page.split('class="evaluations"')[1].split("</table>")[0]
    names = [part.split('"')[0] for part in evaluations.split('data-strategy="')[1:]]
    assert names[0] == "gpufleet-plan"
    assert names[-1] == "perfect-foresight"
    assert len(names) > 2  # the baselines in between
    assert '<tr class="eval-ours"' in evaluations
    reliability = page.split('class="narrow reliability"')[1]
    assert "<td>simcloud</td><td" in reliability
    assert f'<a href="/orders/1">Order 1</a>: 16 {TIMES} H100-SXM from simcloud' in page
    assert "Accept plan" not in page  # accepted already
    assert '<iframe class="report" src="/plans/1/report" sandbox' in page


def test_the_planners_report_is_served_sandboxed_with_its_plots(chain: Board) -> None:
    response = chain.get("/plans/1/report", chain.admin)
    assert response.status_code == 200
    assert response.text.lstrip().startswith("<!doctype html>")
    assert 'src="data:image/png;base64,' in response.text
    csp = response.headers["content-security-policy"]
    assert "sandbox" in csp
    assert "img-src data:" in csp
    assert "script-src" not in csp  # default-src 'none' covers scripts
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'self'" in csp
    page_csp = chain.get("/plans/1", chain.admin).headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page_csp  # dashboard pages themselves stay unframable


# ------------------------------------------------------------------------------------ orders
def test_orders_show_state_price_dates_and_acceptance_and_mark_late_ones(chain: Board) -> None:
    page = chain.page("/orders")
    planned = _row(page, 'id="order-1"')
    assert 'data-state="accepted"' in planned
    assert f"16 {TIMES} H100-SXM" in planned
    assert "$2.000" in planned
    # promised: submitted (on acceptance) + 7 days; delivered then (not late)
    assert planned.count("<td>2026-01-12 09:00:00 UTC</td>") == 2
    assert 'data-testid="late"' not in planned
    assert '<td class="num">15</td>' in planned
    assert '<td class="num bad">1</td>' in planned
    by_hand = _row(page, 'id="order-2"')
    assert 'data-state="submitted"' in by_hand
    assert "$3.000" in by_hand  # $24 per 8-GPU unit-hour
    assert 'data-testid="late"' in by_hand  # promised a day after START, never delivered
    assert page.index('id="order-2"') < page.index('id="order-1"')  # newest first
    poll = chain.page("/orders?state=submitted", hx=True)
    assert poll.startswith('<section id="orders-live" hx-get="/orders?state=submitted"')
    assert 'id="order-1"' not in poll
    assert "No cancelled purchase orders." in chain.page("/orders?state=cancelled")
    bad = chain.get("/orders?state=lost", chain.admin)
    assert bad.status_code == 400
    assert "unknown purchase order state" in bad.text


def test_an_order_shows_its_history_in_order_and_its_nodes(chain: Board) -> None:
    page = chain.page("/orders/1")
    states = [part.split('"')[0] for part in page.split('<tr data-to="')[1:]]
    assert states == ["draft", "submitted", "confirmed", "delivering", "delivered", "accepted"]
    history = page.split('class="history"')[1]
    assert "<td>acceptance</td>" in _row(history, 'data-to="accepted"')
    assert 'data-testid="gpus-passed">15<' in page
    assert 'data-testid="gpus-failed" class="bad">1<' in page
    assert 'data-testid="gpu-hour-price">$2.000<' in page
    nodes = {n["name"]: n for n in chain.api("GET", "/nodes")}
    for name, node in nodes.items():
        if node["purchase_order"] == 1:
            assert f'<a href="/nodes#node-{node["id"]}">{name}</a>' in page
    assert "hx-trigger" not in page  # a final order does not poll
    live = chain.page("/orders/2")
    assert 'hx-get="/orders/2" hx-trigger="every 2s"' in live
    assert "None delivered yet." in live
    missing = chain.get("/orders/99", chain.admin)
    assert (missing.status_code, "purchase order 99 not found" in missing.text) == (404, True)


# ------------------------------------------------------------------------------------- costs
def test_costs_show_each_projects_and_suppliers_dollars_idle_and_budgets(chain: Board) -> None:
    page = chain.page("/costs")
    assert 'data-testid="cost-vision">$32.00<' in page  # 8 GPUs x 2 h x $2
    assert 'data-testid="cost-nlp">$28.00<' in page  # 7 GPUs x 2 h x $2
    assert 'data-testid="supplier-cost-simcloud">$60.00<' in page
    assert 'data-testid="cost-total">$60.00<' in page
    bars = page.split('<figure class="chart bars">')[1].split("</figure>")[0]
    assert bars.count('class="bar"') == 2  # one per project, by name; the largest is full width
    assert bars.index(">nlp<") < bars.index('width="280.0"') < bars.index(">vision<")
    assert bars.index(">vision<") < bars.index('width="320.0"')
    day = _row(page.split('class="per-day"')[1], "<td>vision</td>")
    assert "<td>2026-01-12</td>" in day
    assert "<td>reserved</td>" in day
    idle = _row(page.split('class="idle"')[1], "<td>simcloud</td>")
    assert 'data-testid="idle-cost">$4.00<' in idle  # 2 idle GPU-hours (1 failed, 1 unused)
    vision = _row(page, 'id="budget-vision"')
    assert "$35.00" in vision
    assert "91 %" in vision
    assert vision.count('data-testid="alert"') == 1
    assert "80 % reached" in vision
    nlp = _row(page, 'id="budget-nlp"')
    assert "112 %" in nlp
    assert nlp.count('data-testid="alert"') == 2
    assert 'class="tag alert over"' in nlp
    assert '<a href="/costs/chargeback.csv" download>' in page
    poll = chain.page("/costs?since=2026-01-01&until=2026-01-31", hx=True)
    assert poll.startswith(
        '<section id="costs-live" hx-get="/costs?since=2026-01-01&amp;until=2026-01-31" '
        'hx-trigger="every 30s"'
    )
    assert "2026-02-01 00:00:00 UTC" in poll  # the until day is included


def test_a_window_without_use_and_a_bad_window(chain: Board) -> None:
    page = chain.page("/costs?since=2025-11-01&until=2025-11-30")
    assert "No GPU time was used in this window." in page
    assert "No contracted capacity was paid for in this window." in page
    bad = chain.get("/costs?since=yesterday", chain.admin)
    assert bad.status_code == 400
    assert "since: &#39;yesterday&#39; is not a date" in bad.text
    backwards = chain.get("/costs?since=2026-01-10&until=2026-01-01", chain.admin)
    assert backwards.status_code == 400


def test_the_chargeback_csv_is_a_download(chain: Board) -> None:
    response = chain.get("/costs/chargeback.csv?since=2026-01-01", chain.admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = response.text.splitlines()
    assert lines[0] == "day,project,supplier,contract,gpu,gpu_hours,cost_usd"
    assert "2026-01-12,vision,simcloud,reserved,H100-SXM,16.0000,32.00" in lines


def test_a_member_sees_only_its_own_projects_costs_and_budget(chain: Board) -> None:
    member = chain.token(Role.MEMBER, project="nlp", user="ana")
    page = chain.page("/costs", member)
    assert "(project nlp)" in page
    assert 'data-testid="cost-nlp">$28.00<' in page
    assert "vision" not in page
    assert "$32.00" not in page
    assert "admins only" in page
    assert 'id="budget-nlp"' in page
    csv = chain.get("/costs/chargeback.csv", member).text
    assert ",nlp," in csv
    assert ",vision," not in csv


# --------------------------------------------------------------------------------- suppliers
def test_suppliers_show_adapters_and_scorecards(chain: Board) -> None:
    page = chain.page("/suppliers")
    simcloud = page.split('id="supplier-simcloud"')[1].split("</article>")[0]
    assert "automatic (it moves orders on its own)" in simcloud
    assert "2 offers" in simcloud
    assert "cancel after shipping" in simcloud  # what the adapter does not support
    assert 'data-testid="orders">1<' in simcloud
    assert 'data-testid="on-time">100 %' in simcloud
    assert 'data-testid="gpus-tested">16<' in simcloud
    assert 'data-testid="gpus-failed" class="bad">1<' in simcloud
    (card,) = [c for c in chain.api("GET", "/scorecards") if c["supplier"] == "simcloud"]
    assert f'data-testid="reliability">{card["reliability"]:.3f}<' in simcloud
    assert card["reliability"] < 1
    handco = page.split('id="supplier-handco"')[1].split("</article>")[0]
    assert "Hand &amp; Co &lt;b&gt;" in handco
    assert "manual (a person records each step of an order)" in handco
    assert 'data-testid="on-time">0 %' in handco  # its one order is overdue


# ------------------------------------------------------------------------------------- nodes
def test_nodes_show_supplier_order_price_and_per_gpu_acceptance(chain: Board) -> None:
    page = chain.page("/nodes")
    delivered = [a for a in page.split('<article class="node')[1:] if "simcloud" in a]
    assert len(delivered) == 2
    for article in delivered:
        assert '<a href="/orders/1">purchase order 1</a>' in article
        assert "$2.000 per GPU-hour" in article
        assert 'class="acceptance acceptance-passed">passed<' in article
    failed = [a for a in delivered if 'class="gpu-failed"' in a]
    assert len(failed) == 1
    row = _row(failed[0], 'class="gpu-failed"')
    assert 'class="acceptance acceptance-failed">failed<' in row
    assert "TFLOPS" in row  # the reason


# --------------------------------------------------------------------- a fresh fleet per test
def test_the_new_pages_say_when_there_is_nothing_yet(board: Board) -> None:
    assert "No plans yet." in board.page("/plans")
    assert "No purchase orders yet." in board.page("/orders")
    assert "No suppliers yet." in board.page("/suppliers")
    costs = board.page("/costs")
    assert "No GPU time was used in this window." in costs
    assert "No projects." in costs
    missing = board.get("/plans/1", board.admin)
    assert (missing.status_code, "plan 1 not found" in missing.text) == (404, True)


def test_an_admin_accepts_a_proposed_plan_from_its_page(board: Board) -> None:
    _declare(board)
    plan = board.api("POST", "/plans", status=201, json=plan_body())
    path = f"/plans/{plan['id']}"
    member = board.token(Role.MEMBER, project="vision", user="ana")
    assert "Accept plan" in board.page(path)
    assert "Accept plan" not in board.page(path, member)
    evil = board.request("POST", f"{path}/accept", board.admin, headers={"Origin": "https://x.y"})
    assert evil.status_code == 403
    assert board.request("POST", f"{path}/accept", member).status_code == 403
    assert board.api("GET", path)["state"] == "proposed"
    same = {"Origin": "http://dash.test"}
    accepted = board.request("POST", f"{path}/accept", board.admin, headers=same)
    assert (accepted.status_code, accepted.headers["location"]) == (303, path)
    page = board.page(path)
    assert 'data-testid="plan-state">accepted<' in page
    assert '<a href="/orders/1">Order 1</a>' in page
    assert "Accept plan" not in page
    again = board.request("POST", f"{path}/accept", board.admin)
    assert again.status_code == 409
