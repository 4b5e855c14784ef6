"""The dashboard in a real headless Chromium, against a live server and a node agent with fake
GPUs: log in, watch a submitted job appear and succeed, follow a running job's log, and read a
procurement plan with the planner's report framed in it (under its own CSP), then accept it."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from live_fleet import NODE, PROJECT, LiveFleet

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (dev extras)"
)
pytestmark = pytest.mark.browser
expect = sync_api.expect
JOB_TIMEOUT_MS = 60_000
"""Scheduling, a heartbeat, a Python start-up and the next poll; generous for a busy CI box."""


def log_in(page: Any, fleet: LiveFleet, path: str) -> None:
    page.goto(f"{fleet.url}{path}")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("API token").fill(fleet.admin)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{fleet.url}{path}")


def test_a_submitted_job_appears_and_succeeds(page: Any, fleet: LiveFleet) -> None:
    log_in(page, fleet, "/nodes")
    node = page.locator("article.node", has_text=NODE)
    expect(node.locator(".node-state")).to_have_text("up", timeout=JOB_TIMEOUT_MS)
    expect(node.locator("tbody tr")).to_have_count(2)
    expect(node.locator("h2 .tag.simulated")).to_have_text("simulated")

    page.get_by_role("link", name="Jobs").click()
    expect(page.locator("#jobs-live")).to_be_visible()
    job = fleet.api(
        "POST",
        "/jobs",
        json={
            "project": PROJECT,
            "name": "hello",
            "command": [sys.executable, "-c", "print('hi')"],
        },
    )
    # No reload from here on: the row arrives and changes through the page's htmx polling.
    row = page.locator(f"#job-{job['id']}")
    expect(row).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(row).to_have_attribute("data-state", "succeeded", timeout=JOB_TIMEOUT_MS)
    expect(row).to_contain_text(NODE)

    row.get_by_role("link", name="hello").click()
    expect(page.get_by_test_id("job-state")).to_have_text("succeeded")
    expect(page.get_by_test_id("exit-code")).to_have_text("0")
    expect(page.locator("#log-lines li")).to_have_text(["hi"])

    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_test_id("gpus-total")).to_have_text("2")
    expect(page.get_by_test_id("jobs-succeeded")).to_have_text(re.compile(r"[1-9]"))


def test_a_running_jobs_log_streams_into_its_page(page: Any, fleet: LiveFleet) -> None:
    release = fleet.work_dir / "release"
    script = (
        "import pathlib, sys, time\n"
        "print('waiting for the test', flush=True)\n"
        "while not pathlib.Path(sys.argv[1]).exists(): time.sleep(0.05)\n"
        "print('released', flush=True)\n"
    )
    job = fleet.api(
        "POST",
        "/jobs",
        json={
            "project": PROJECT,
            "name": "streamer",
            "command": [sys.executable, "-c", script, str(release)],
        },
    )
    log_in(page, fleet, f"/jobs/{job['id']}")
    lines = page.locator("#log-lines li")
    expect(lines).to_have_text(["waiting for the test"], timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_test_id("job-state")).to_have_text("running")

    release.touch()  # the job prints its last line and exits
    expect(page.get_by_test_id("job-state")).to_have_text("succeeded", timeout=JOB_TIMEOUT_MS)
    expect(lines).to_have_text(["waiting for the test", "released"])
    expect(page.get_by_test_id("exit-code")).to_have_text("0")
    expect(page.locator("#job-live")).not_to_have_attribute("hx-trigger", re.compile(".*"))


def _plan(fleet: LiveFleet) -> int:
    """A manual supplier's reserved and on-demand offers, demand for 8 GPUs, a plan."""
    fleet.api("POST", "/suppliers", json={"name": "handco", "adapter": "manual"})
    unit = {"supplier": "handco", "instance_type": "hgx-h100-8", "gpu": "H100-SXM"}
    offers = [
        {**unit, "gpus_per_unit": 8, "contract": "reserved", "price_usd_per_hour": 16.0,
         "term_months": 3, "region": "us-east"},
        {**unit, "gpus_per_unit": 8, "contract": "on_demand", "price_usd_per_hour": 40.0,
         "region": "us-east"},
    ]  # fmt: skip
    fleet.api("POST", "/offers/import", json={"offers": offers})
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    demand = {
        "project": PROJECT,
        "start": start.isoformat(),
        "end": (start + timedelta(weeks=8)).isoformat(),
        "expected_gpus": 8,
    }
    fleet.api("POST", "/demand", json=demand)
    body = {"period": "week", "horizon": 8, "scenarios": 5, "evaluation_scenarios": 5}
    plan_id: int = fleet.api("POST", "/plans", json=body)["id"]
    return plan_id


def test_a_plan_page_frames_the_planners_report_and_accepts(page: Any, fleet: LiveFleet) -> None:
    plan_id = _plan(fleet)
    log_in(page, fleet, "/plans")
    page.locator(f"#plan-{plan_id}").get_by_role("link").click()
    expect(page.get_by_test_id("plan-state")).to_have_text("proposed")
    report = page.frame_locator("iframe.report")
    expect(report.get_by_role("heading", name="Capacity against demand")).to_be_visible()
    plots = report.get_by_role("img")
    expect(plots).to_have_count(2)
    for i in range(2):  # decoded from their data: URIs, which the report's CSP allows
        expect(plots.nth(i)).to_have_js_property("complete", value=True)
        assert plots.nth(i).evaluate("img => img.naturalWidth") > 0

    page.get_by_role("button", name="Accept plan").click()  # a same-origin form post
    expect(page.get_by_test_id("plan-state")).to_have_text("accepted")
    page.get_by_role("link", name=re.compile(r"^Order \d+$")).first.click()
    expect(page.get_by_test_id("order-state")).to_have_text(re.compile("draft|submitted"))
