"""The dashboard's pages over the ASGI transport: login and the session cookie, every page's
content and empty state, the live fragments htmx polls, member visibility, and escaping.

The fleet is set up through the services (as the API would), on a SQLite file per test, with a
fake clock; the dashboard is only ever read through HTTP.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
import pytest
from dashboard_board import ADMIN, Board

from gpufleet.server.dashboard.session import COOKIE
from gpufleet.server.schemas import JobFinished, Role
from gpufleet.server.services import agent

PAGES = [
    "/", "/nodes", "/jobs", "/jobs/1", "/projects", "/plans", "/plans/1", "/plans/1/report",
    "/orders", "/orders/1", "/costs", "/costs/chargeback.csv", "/suppliers",
]  # fmt: skip


def _cookie(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


# ------------------------------------------------------------------------------- the session
@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_login(board: Board, path: str) -> None:
    response = board.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/login" if path == "/" else f"/login?next={path.replace('/', '%2F')}"
    )
    poll = board.get(path, hx=True)  # an htmx poll is sent to the login page by htmx itself
    assert poll.status_code == 401
    assert poll.headers["HX-Redirect"].startswith("/login")


def test_the_login_page_and_static_files_are_open(board: Board) -> None:
    login = board.get("/login?next=/nodes")
    assert login.status_code == 200
    assert 'name="next" value="/nodes"' in login.text
    assert "default-src 'self'" in login.headers["content-security-policy"]
    htmx = board.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert 'version:"2.0.11"' in htmx.text


def test_logging_in_sets_an_httponly_strict_cookie_and_returns_to_the_page(board: Board) -> None:
    response = board.login(board.admin)
    assert (response.status_code, response.headers["location"]) == (303, "/jobs")
    morsel = _cookie(response)[COOKIE]
    assert morsel.value == board.admin
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/"
    assert not morsel["secure"]  # plain http here; https sets Secure
    assert "admin · admin" in board.page("/jobs", morsel.value)


@pytest.mark.parametrize(
    ("token", "status", "says"),
    [
        ("not-a-token", 401, "That token is not valid."),
        ("", 401, "That token is not valid."),
    ],
)
def test_a_bad_token_is_refused_without_a_cookie(
    board: Board, token: str, status: int, says: str
) -> None:
    response = board.login(token)
    assert response.status_code == status
    assert says in response.text
    assert "set-cookie" not in response.headers


def test_agent_tokens_cannot_log_in(board: Board) -> None:
    response = board.login(board.token(Role.AGENT, node="node-a"))
    assert response.status_code == 403
    assert "agent tokens are for node agents" in response.text
    assert "set-cookie" not in response.headers


def test_an_expired_token_ends_the_session(board: Board) -> None:
    token = board.token(Role.ADMIN, user="temp", ttl_s=60)
    assert board.get("/", token).status_code == 200
    board.clock.advance(61)
    response = board.get("/jobs?state=running", token)
    assert response.status_code == 401
    assert "Your session ended (token expired at" in response.text
    assert 'name="next" value="/jobs?state=running"' in response.text
    assert _cookie(response)[COOKIE].value == ""  # deleted
    poll = board.get("/jobs?state=running", token, hx=True)
    assert (poll.status_code, poll.headers["HX-Redirect"]) == (
        401, "/login?next=%2Fjobs%3Fstate%3Drunning",
    )  # fmt: skip
    assert _cookie(poll)[COOKIE].value == ""


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/login", "jobs"]
)
def test_login_never_redirects_off_site(board: Board, target: str) -> None:
    body = {"token": board.admin, "next": target}
    response = board.request("POST", "/login", data=body)
    assert response.headers["location"] == "/"


def test_a_cross_site_form_post_is_refused(board: Board) -> None:
    evil = {"Origin": "https://evil.example"}
    assert board.login(board.admin, headers=evil).status_code == 403
    assert board.request("POST", "/logout", headers=evil).status_code == 403
    same = {"Origin": "http://dash.test"}
    assert board.login(board.admin, headers=same).status_code == 303


def test_logging_out_deletes_the_cookie(board: Board) -> None:
    response = board.request("POST", "/logout", board.admin)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert _cookie(response)[COOKIE].value == ""


def test_the_cookie_does_not_open_the_api(board: Board) -> None:
    assert board.get("/api/v1/jobs", board.admin).status_code == 401


# ------------------------------------------------------------------------------- empty states
def test_an_empty_fleet_says_so_on_every_page(board: Board) -> None:
    assert "No GPUs registered yet" in board.page("/")
    assert "No utilisation history yet" in board.page("/")
    assert "No nodes registered yet" in board.page("/nodes")
    assert "No jobs yet" in board.page("/jobs")
    assert "No projects yet" in board.page("/projects")
    response = board.get("/jobs/1", board.admin)
    assert (response.status_code, "job 1 not found" in response.text) == (404, True)


# ------------------------------------------------------------------------------- the pages
def test_the_overview_counts_gpus_queue_and_jobs_and_draws_utilisation(board: Board) -> None:
    board.project("vision", {"H100-SXM": 2})
    board.node("node-a", gpus=4)
    running = board.submit("vision", gpus=3)
    board.submit("vision", gpus=2)  # waits: 1 GPU left
    board.run(running.id, "node-a", ["hi"])
    board.heartbeat("node-a", [running.id], [90.0, 90.0, 90.0, 10.0])
    page = board.page("/")
    assert '<span class="figure" data-testid="gpus-total">4</span>' in page
    assert 'data-testid="gpus-allocated">3<' in page
    assert 'data-testid="gpus-free">1<' in page
    assert 'data-testid="utilisation">70 %<' in page
    assert 'data-testid="queue">1<' in page
    assert 'data-testid="jobs-running">1<' in page
    assert 'data-testid="jobs-pending">1<' in page
    assert "4 GPUs in this fleet are simulated" in page
    assert "No utilisation history yet" in page  # one sample is no line
    board.clock.advance(10)
    board.heartbeat("node-a", [running.id], [50.0, 50.0, 50.0, 50.0])
    fragment = board.page("/", hx=True)
    assert fragment.startswith('<section id="overview-live" hx-get="/" hx-trigger="every 2s"')
    assert "<polyline points=" in fragment
    assert "<html" not in fragment


def test_the_overview_marks_gpus_of_lost_nodes_unavailable(board: Board) -> None:
    board.node("node-a", gpus=2)
    board.node("node-b", gpus=2)
    board.clock.advance(16)
    board.heartbeat("node-b", [], [])
    board.app.state.loops.check_lost()
    page = board.page("/")
    assert 'data-testid="gpus-total">2<' in page
    assert "2 GPUs on lost or draining nodes" in page


def test_nodes_show_telemetry_lost_nodes_and_simulated_gpus(board: Board) -> None:
    board.node("real-1", gpus=1, simulated=False)
    board.node("fake-1", gpus=2)
    board.heartbeat("fake-1", [], [12.0, 87.0])
    board.clock.advance(16)
    board.heartbeat("fake-1", [], [12.0, 87.0])
    board.app.state.loops.check_lost()
    page = board.page("/nodes")
    fake, real = page.split('<article class="node')[1:]  # by name: fake-1, real-1
    assert 'data-state="lost"' in real
    assert "no heartbeat since 2026-01-05 09:00:00 UTC (16 s ago)" in real
    assert "simulated" not in real
    assert 'data-state="up"' in fake
    assert fake.count('<span class="tag simulated">simulated</span>') == 2  # each GPU
    assert "87 %" in fake
    assert "61 °C" in fake
    assert "350 W" in fake
    assert board.page("/nodes", hx=True).startswith('<section id="nodes-live"')


def test_jobs_list_filters_by_project_and_state(board: Board) -> None:
    board.project("vision")
    board.project("speech")
    board.node("node-a", gpus=2)
    done = board.submit("vision", name="resnet")
    board.run(done.id, "node-a", [], exit_code=0)
    board.submit("speech", name="whisper")
    page = board.page("/jobs")
    assert 'id="job-1" data-state="succeeded"' in page
    assert 'id="job-2" data-state="pending"' in page
    assert page.index('id="job-2"') < page.index('id="job-1"')  # newest first
    only = board.page("/jobs?project=speech&state=")
    assert "whisper" in only
    assert "resnet" not in only
    assert '<option value="speech" selected>' in only
    assert "No jobs match these filters." in board.page("/jobs?state=failed")
    poll = board.page("/jobs?state=pending", hx=True)
    assert poll.startswith('<section id="jobs-live" hx-get="/jobs?state=pending"')
    bad = board.get("/jobs?state=lost", board.admin)
    assert bad.status_code == 400
    assert "state: unknown job state &#39;lost&#39;" in bad.text


def test_a_member_sees_only_its_own_projects_jobs(board: Board) -> None:
    board.project("vision", {"H100-SXM": 1})
    board.project("speech")
    board.node("node-a", gpus=2)
    mine = board.submit("vision", name="mine")
    theirs = board.submit("speech", name="theirs")
    member = board.token(Role.MEMBER, project="vision", user="ana")
    page = board.page("/jobs", member)
    assert "mine" in page
    assert "theirs" not in page
    assert 'data-testid="viewer">ana · member of vision<' in page
    assert '<option value="speech"' not in page
    assert board.page(f"/jobs/{mine.id}", member)
    hidden = board.get(f"/jobs/{theirs.id}", member)
    assert hidden.status_code == 404  # not 403: ids do not leak across projects
    assert "theirs" not in hidden.text
    forbidden = board.get("/jobs?project=speech", member)
    assert forbidden.status_code == 403
    overview = board.page("/", member)
    assert "(project vision)" in overview
    assert 'data-testid="jobs-pending">1<' in overview  # its own job only
    assert 'data-testid="queue">2<' in overview  # the fleet's queue, as /metrics says
    assert "your project" in board.page("/projects", member)


def test_a_job_page_shows_its_log_live_then_its_exit_code(board: Board) -> None:
    board.project("vision")
    board.node("node-a")
    job = board.submit("vision", name="train")
    waiting = board.page(f"/jobs/{job.id}")
    assert "No output yet." in waiting
    assert f'hx-get="/jobs/{job.id}?after=0" hx-trigger="every 2s"' in waiting
    board.run(job.id, "node-a", ["epoch 1", "epoch 2"])
    running = board.page(f"/jobs/{job.id}")
    assert '<li value="1">epoch 1</li><li value="2">epoch 2</li>' in running
    assert f'hx-get="/jobs/{job.id}?after=2"' in running
    assert "python -c &#39;print(1)&#39;" in running
    agent.append_logs(board.db, ADMIN, job.id, ["epoch 3"])
    poll = board.page(f"/jobs/{job.id}?after=2", hx=True)
    assert poll.startswith('<section id="job-live" data-state="running"')
    assert '<ol id="log-lines" hx-swap-oob="beforeend"><li value="3">epoch 3</li></ol>' in poll
    assert "epoch 1" not in poll
    board.clock.advance(65)
    agent.finished(board.db, ADMIN, job.id, JobFinished(exit_code=3), board.clock())
    final = board.page(f"/jobs/{job.id}?after=3", hx=True)
    assert 'data-testid="job-state">failed<' in final
    assert 'data-testid="exit-code">3<' in final
    assert "hx-trigger" not in final  # final: polling stops
    assert "hx-swap-oob" not in final  # no new lines
    assert "1 min 5 s" in final
    assert "3 lines." in final


def test_projects_show_quota_use_per_model_and_borrowing(board: Board) -> None:
    board.project("vision", {"H100-SXM": 2, "A100-SXM4-80GB": 4})  # an alias
    board.project("idle")
    board.node("node-a", gpus=4)
    job = board.submit("vision", gpus=3)
    board.run(job.id, "node-a", [])
    page = board.page("/projects")
    vision = page.split('id="project-vision"')[1]
    assert "3 GPUs in use · 0 jobs queued" in vision
    h100 = vision.split("<td>H100-SXM</td>")[1].split("</tr>")[0]
    assert '<td class="num">3</td>' in h100  # in use
    assert '<meter min="0" max="2" high="2" value="2"></meter> 150 %' in h100
    assert h100.rstrip().endswith('<td class="num">1</td>')  # borrowed
    a100 = vision.split("<td>A100-80GB</td>")[1].split("</tr>")[0]
    assert "0 %" in a100
    idle = page.split('id="project-idle"')[1]
    assert "No quota and no GPUs in use." in idle


def test_everything_user_supplied_is_escaped(board: Board) -> None:
    board.project("vision")
    board.node("<b>node</b>", gpus=1, model="<img src=x onerror=alert(1)>")
    job = board.submit("vision", name="<script>alert('name')</script>")
    board.run(job.id, "<b>node</b>", ["<script>alert('log')</script>", "a & b"])
    pages = {path: board.page(path) for path in ["/", "/nodes", "/jobs", f"/jobs/{job.id}"]}
    for path, html in pages.items():
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "<b>node" not in html, path
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in pages["/jobs"]
    assert "&lt;script&gt;alert(&#39;log&#39;)&lt;/script&gt;" in pages[f"/jobs/{job.id}"]
    assert "a &amp; b" in pages[f"/jobs/{job.id}"]
    assert "&lt;b&gt;node&lt;/b&gt;" in pages["/nodes"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages["/"]


def test_pages_carry_security_headers_and_vary_on_htmx(board: Board) -> None:
    response = board.get("/", board.admin)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "HX-Request" in response.headers["vary"]
    assert response.headers["cache-control"] == "no-store"


def test_a_job_id_that_is_not_a_number_is_not_found(board: Board) -> None:
    response = board.get("/jobs/abc", board.admin)
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text


def test_a_job_id_no_row_can_have_is_not_found(board: Board) -> None:
    """Past SQLite's 64-bit integers the database cannot even compare it (was a 500)."""
    for job_id in (2**31, 2**63):
        response = board.get(f"/jobs/{job_id}", board.admin)
        assert (response.status_code, f"job {job_id} not found" in response.text) == (404, True)
