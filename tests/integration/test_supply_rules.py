"""The supply chain's rules and refusals, on SQLite and PostgreSQL: bad input is a 4xx naming
what is wrong and stores nothing; the order state machine holds; manual deliveries, acceptance
reports, plans, budgets and allocations behave at their edges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fleet_harness import Agent, Fleet

from factories import acceptance_results, offer_body, plan_body


def _supplier(fleet: Fleet, name: str = "colo", adapter: str = "manual", **config: Any) -> None:
    body = {"name": name, "adapter": adapter, "adapter_config": config}
    fleet.ok("POST", "/suppliers", fleet.admin, 201, json=body)


def _offer(fleet: Fleet, supplier: str = "colo", **fields: Any) -> int:
    body = offer_body(supplier, "reserved", 16.0, term_months=3, **fields)
    fleet.ok("POST", "/offers/import", fleet.admin, json={"offers": [body]})
    offers = fleet.ok("GET", "/offers", fleet.admin, params={"supplier": supplier})
    return int(offers[-1]["id"])


def _order(fleet: Fleet, offer: int, *, submit: bool = True, units: int = 1) -> dict[str, Any]:
    body = {"offer": offer, "units": units, "submit": submit}
    order: dict[str, Any] = fleet.ok("POST", "/purchase-orders", fleet.admin, 201, json=body)
    return order


def test_suppliers_and_offers_refuse_bad_input_and_keep_nothing_of_it(fleet: Fleet) -> None:
    bad = {"name": "x", "adapter": "simulated", "adapter_config": {"lead": 1}}
    response = fleet.post("/suppliers", fleet.admin, json=bad)
    assert response.status_code == 400
    assert "unknown key(s) ['lead']" in response.json()["detail"]
    _supplier(fleet)
    assert fleet.post("/suppliers", fleet.admin, json={"name": "colo"}).status_code == 409
    member = fleet.token("member", project="vision")
    assert fleet.post("/suppliers", member, json={"name": "other"}).status_code == 403

    good = offer_body("colo", "on_demand", 10.0)
    unknown = offer_body("colo", "on_demand", 10.0, gpu="Z9000", instance_type="z")
    response = fleet.post("/offers/import", fleet.admin, json={"offers": [good, unknown]})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("offers[1].gpu: unknown GPU model 'Z9000'")
    family = offer_body("colo", "on_demand", 10.0, gpu="A100")
    response = fleet.post("/offers/import", fleet.admin, json={"offers": [family]})
    assert "is a family" in response.json()["detail"]
    no_term = offer_body("colo", "reserved", 10.0)
    response = fleet.post("/offers/import", fleet.admin, json={"offers": [no_term]})
    assert "needs term_months > 0" in response.json()["detail"]
    assert fleet.ok("GET", "/offers", fleet.admin) == []  # all or nothing

    result = fleet.ok("POST", "/offers/import", fleet.admin, json={"offers": [good, good]})
    assert (result["created"], result["updated"]) == (1, 1)  # the same offer, updated


def test_purchase_orders_refuse_what_the_state_machine_does_not_allow(fleet: Fleet) -> None:
    _supplier(fleet)
    offer = _offer(fleet, lead_time_days=14)
    response = fleet.post("/purchase-orders", fleet.admin, json={"supplier": "colo", "units": 1})
    assert response.status_code == 400
    assert response.json()["detail"].startswith(
        "gpu, gpus_per_unit, contract, price_usd_per_unit_hour"
    )
    slices = offer_body("colo", "on_demand", 1.0, gpus_per_unit=0.5, instance_type="slice")
    fleet.ok("POST", "/offers/import", fleet.admin, json={"offers": [slices]})
    sliced = fleet.ok("GET", "/offers", fleet.admin)[-1]["id"]
    response = fleet.post("/purchase-orders", fleet.admin, json={"offer": sliced})
    assert "whole GPUs per machine" in response.json()["detail"]

    draft = _order(fleet, offer, submit=False)
    assert draft["state"] == "draft"
    cancelled = fleet.ok("POST", f"/purchase-orders/{draft['id']}/transition", fleet.admin,
                         json={"to": "cancelled", "note": "changed our mind"})  # fmt: skip
    assert cancelled["state"] == "cancelled"
    assert cancelled["history"][-1]["note"] == "changed our mind"

    order = _order(fleet, offer)
    assert order["promised_at"] is not None
    path = f"/purchase-orders/{order['id']}/transition"
    for target, detail in (
        ("accepted", "set by the acceptance tests"),
        ("delivered", "POST .../deliver"),
        ("draft", "never goes back to draft"),
    ):
        response = fleet.post(path, fleet.admin, json={"to": target})
        assert response.status_code == 400
        assert detail in response.json()["detail"]
    fleet.ok("POST", path, fleet.admin, json={"to": "confirmed"})
    response = fleet.post(path, fleet.admin, json={"to": "confirmed"})
    assert response.status_code == 409
    assert "confirmed already" in response.json()["detail"]
    fleet.ok("POST", path, fleet.admin, json={"to": "delivering"})
    member = fleet.token("member", project="vision")
    assert fleet.post(path, member, json={"to": "cancelled"}).status_code == 403


def test_a_manual_delivery_makes_quarantined_nodes_with_tokens_once(fleet: Fleet) -> None:
    _supplier(fleet)
    offer = _offer(fleet)
    order = _order(fleet, offer, units=2)
    fleet.agent("taken")  # a node already in the fleet
    deliver = f"/purchase-orders/{order['id']}/deliver"
    response = fleet.post(deliver, fleet.admin, json={"nodes": ["box-1", "taken"]})
    assert response.status_code == 400
    assert "['taken'] already exist" in response.json()["detail"]
    assert fleet.ok("GET", f"/purchase-orders/{order['id']}", fleet.admin)["state"] == "submitted"
    response = fleet.post(deliver, fleet.admin, json={"nodes": ["a", "b", "c"]})
    assert "is for 2 machine(s), got 3" in response.json()["detail"]

    delivered = fleet.ok("POST", deliver, fleet.admin, json={"nodes": ["box-1", "box-2"]})
    assert delivered["order"]["state"] == "delivered"
    assert delivered["order"]["nodes"] == ["box-1", "box-2"]
    assert fleet.post(deliver, fleet.admin, json={"nodes": ["box-3"]}).status_code == 409
    tokens = {n["name"]: n["token"] for n in delivered["nodes"]}
    box = Agent(fleet, "box-1", tokens["box-1"])
    assert box.heartbeat.__self__ is box  # the token works for its node only:
    other = fleet.post("/agent/register", tokens["box-1"], json={"name": "box-2"})
    assert other.status_code == 403
    box.register(8, "H100-SXM")
    request = box.heartbeat()["acceptance"]
    assert [g["index"] for g in request["gpus"]] == list(range(8))

    short = {"node": "box-1", "results": acceptance_results(request, {})[:7]}
    response = fleet.post(f"/agent/acceptance/{request['test']}", box.token, json=short)
    assert response.status_code == 422
    assert "no result for requested GPU(s) [7]" in response.json()["detail"]
    response = fleet.post("/agent/acceptance/999", box.token, json=short)
    assert response.status_code == 404
    box2 = Agent(fleet, "box-2", tokens["box-2"])
    box2.register(8, "H100-SXM")
    foreign = {"node": "box-2", "results": acceptance_results(request, {})}
    response = fleet.post(f"/agent/acceptance/{request['test']}", box2.token, json=foreign)
    assert response.status_code == 409

    # Every GPU failing: the node is rejected, none of it is scheduled.
    broken = {
        "node": "box-1",
        "results": acceptance_results(request, dict.fromkeys(range(8), "slow")),
    }
    verdict = fleet.ok("POST", f"/agent/acceptance/{request['test']}", box.token, json=broken)
    assert verdict["node_state"] == "rejected"
    nodes = {n["name"]: n for n in fleet.ok("GET", "/nodes", fleet.admin)}
    assert nodes["box-1"]["state"] == "rejected"
    assert nodes["box-2"]["state"] == "quarantined"


def test_plans_need_offers_and_demand_and_are_accepted_once(fleet: Fleet) -> None:
    response = fleet.post("/plans", fleet.admin, json=plan_body())
    assert response.status_code == 400
    assert "no offers to plan with" in response.json()["detail"]
    _supplier(fleet)
    _offer(fleet, lead_time_days=1)
    response = fleet.post("/plans", fleet.admin, json=plan_body())
    assert "no demand to plan for" in response.json()["detail"]
    start = fleet.clock.now + timedelta(days=7)
    demand = {
        "project": "vision", "gpu": "H100-SXM", "start": start.isoformat(),
        "end": (start - timedelta(days=1)).isoformat(), "expected_gpus": 8,
    }  # fmt: skip
    response = fleet.post("/demand", fleet.admin, json=demand)
    assert "is not after start" in response.json()["detail"]
    demand["end"] = (start + timedelta(weeks=4)).isoformat()
    response = fleet.post("/demand", fleet.admin, json={**demand, "low_gpus": 9})
    assert "low_gpus <= expected_gpus <= high_gpus" in response.json()["detail"]
    member = fleet.token("member", project="vision")
    fleet.project("nlp")
    assert fleet.post("/demand", member, json={**demand, "project": "nlp"}).status_code == 403
    fleet.ok("POST", "/demand", member, 201, json=demand)

    plan = fleet.ok("POST", "/plans", fleet.admin, 201, json=plan_body(horizon=6))
    assert plan["orders"]
    fleet.ok("POST", f"/plans/{plan['id']}/accept", fleet.admin)
    assert fleet.post(f"/plans/{plan['id']}/accept", fleet.admin).status_code == 409
    newer = fleet.ok("POST", "/plans", fleet.admin, 201, json=plan_body(horizon=6))
    # the first plan's order is open now: the fleet-to-be covers the demand
    assert newer["orders"] == []
    assert any("open orders" in note for note in newer["notes"])


def test_budget_alerts_once_per_month_and_allocations_close_when_gpus_are_freed(
    fleet: Fleet,
) -> None:
    fleet.project("lab", budget_usd=10.0)
    _supplier(fleet)
    offer = _offer(fleet)
    order = _order(fleet, offer)
    delivered = fleet.ok(
        "POST", f"/purchase-orders/{order['id']}/deliver", fleet.admin, json={"nodes": ["box"]}
    )
    box = Agent(fleet, "box", delivered["nodes"][0]["token"])
    box.register(8, "H100-SXM")
    request = box.heartbeat()["acceptance"]
    body = {"node": "box", "results": acceptance_results(request, {})}
    fleet.ok("POST", f"/agent/acceptance/{request['test']}", box.token, json=body)

    job = fleet.submit(project="lab", gpus=4)  # 4 GPUs at $2/h: $8 an hour
    fleet.tick()
    box.start_assigned()
    fleet.clock.advance(3600)  # $8: 80%
    fleet.procure()
    assert [e[2] for e in fleet.events("budget.alert")] == [
        "project lab: $8.00 spent in 2026-01, 80% of its $10.00 budget"
    ]
    fleet.clock.advance(900)  # $10: 100%
    fleet.procure()
    fleet.procure()
    assert len(fleet.events("budget.alert")) == 2
    (budget,) = [b for b in fleet.ok("GET", "/budgets", fleet.admin) if b["project"] == "lab"]
    assert budget["alerts"] == [0.8, 1.0]

    # The node is lost: the job goes back to pending, its allocation closes, cost stops.
    fleet.clock.advance(fleet.settings.lost_after_s + 1)
    assert fleet.check_lost() == ["box"]
    assert fleet.job(job["id"])["state"] == "pending"
    spent = fleet.ok("GET", "/costs", fleet.admin)["by_project"]["lab"]["cost_usd"]
    fleet.clock.advance(7200)
    assert fleet.ok("GET", "/costs", fleet.admin)["by_project"]["lab"]["cost_usd"] == spent
    assert spent == 8.0 * (1 + 900 / 3600 + (fleet.settings.lost_after_s + 1) / 3600)


def test_events_and_allocations_are_listed_per_role(fleet: Fleet) -> None:
    fleet.project("nlp")
    agent = fleet.agent("n1", gpus=4)
    mine = fleet.submit(project="vision", gpus=2)
    theirs = fleet.submit(project="nlp", gpus=1)
    fleet.tick()
    agent.start_assigned()
    fleet.clock.advance(60)
    agent.finish(mine["id"])
    member = fleet.token("member", project="vision")
    kinds = [e["kind"] for e in fleet.ok("GET", "/events", member, params={"job": mine["id"]})]
    assert kinds == ["job.succeeded", "job.started", "job.scheduled", "job.submitted"]
    assert {e["job"] for e in fleet.ok("GET", "/events", member)} == {mine["id"]}
    node_events = fleet.ok("GET", "/events", fleet.admin, params={"kind": "node."})
    assert [e["kind"] for e in node_events] == ["node.registered"]
    (allocation,) = fleet.ok("GET", "/allocations", member)
    assert (allocation["job"], allocation["node"], allocation["gpu_indices"]) == (
        mine["id"], "n1", [0, 1],
    )  # fmt: skip
    assert allocation["ended_at"] is not None
    everyone = fleet.ok("GET", "/allocations", fleet.admin)
    assert {a["job"] for a in everyone} == {mine["id"], theirs["id"]}
    assert fleet.get("/events", fleet.token("agent", node="n1")).status_code == 403
