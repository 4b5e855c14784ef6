"""The control-plane commands (``submit``, ``jobs``, ``logs``, ``cancel``, ``nodes``, ``projects``,
``tokens``, ``agent``) against a real server: the app on SQLite, served by uvicorn on a free
loopback port in a thread, its loops off. Tests play the agent's part through the API (an admin
token may act as any node) and drive the scheduler with ``loops.tick()``, so nothing waits on a
timer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import threading
from pathlib import Path

import httpx
import pytest
from live_harness import NODE, LiveServer, assert_error, free_socket, run, wait_until
from typer.testing import CliRunner

from gpufleet.cli.client import ApiError, FleetClient, local_admin_token
from gpufleet.cli.main import app as cli
from gpufleet.cli.server_commands import _admin_token, _listen
from gpufleet.server.clock import utc_now
from gpufleet.server.db.engine import Database
from gpufleet.server.services.auth import authenticate


def test_submit_prints_the_job_id_and_jobs_lists_it(runner: CliRunner, live: LiveServer) -> None:
    live.register()
    args = ["submit", "--gpus", "2", "--gpu-model", "H100", "--name", "train", "--priority", "3"]
    result = run(runner, live, *args, "--", "python", "-c", "print('hi')")
    assert result.exit_code == 0, result.output
    job_id = int(result.stdout)
    assert f"submitted job {job_id} to project default" in result.stderr
    job = live.ok("GET", f"/jobs/{job_id}")
    assert job["command"] == ["python", "-c", "print('hi')"]
    assert (job["gpus"], job["priority"], job["name"]) == (2, 3, "train")
    assert "H100-SXM" in job["gpu_models"]

    table = run(runner, live, "jobs")
    assert table.exit_code == 0, table.output
    header, row = table.stdout.splitlines()[:2]
    assert header.split()[:4] == ["ID", "PROJECT", "NAME", "STATE"]
    assert row.split()[:6] == [str(job_id), "default", "train", "pending", "2", "H100*"]
    assert "python -c print('hi')" in row

    listed = json.loads(run(runner, live, "jobs", "--json").stdout)
    assert [j["id"] for j in listed] == [job_id]
    assert listed[0]["state"] == "pending"


def test_submit_takes_the_command_without_a_double_dash(
    runner: CliRunner, live: LiveServer
) -> None:
    live.register()
    result = runner.invoke(
        cli, ["submit", "--server", live.url, "--token", live.admin, "python", "-c", "pass"]
    )
    assert result.exit_code == 0, result.output
    assert live.ok("GET", f"/jobs/{int(result.stdout)}")["command"] == ["python", "-c", "pass"]


def test_jobs_filters_by_project_and_state(runner: CliRunner, live: LiveServer) -> None:
    live.register()
    live.ok("POST", "/projects", 201, json={"name": "nlp"})
    first = live.submit()
    second = live.submit(project="nlp")
    live.start(first)
    only_nlp = json.loads(run(runner, live, "jobs", "--project", "nlp", "--json").stdout)
    assert [j["id"] for j in only_nlp] == [second]
    running = json.loads(run(runner, live, "jobs", "--state", "running", "--json").stdout)
    assert [j["id"] for j in running] == [first]
    nothing = run(runner, live, "jobs", "--state", "failed")
    assert nothing.exit_code == 0
    assert "no jobs matching the filters" in nothing.stderr
    bad = run(runner, live, "jobs", "--state", "sleeping")
    assert bad.exit_code == 2  # a usage error, from the option's choices


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--project", "nope"], ["project: unknown project 'nope'"]),
        (["--gpus", "9"], ["gpus:", "largest node has 4"]),
        (["--gpu-model", "Z999"], ["Z999"]),
    ],
)
def test_submit_refusals_are_one_error_line(
    runner: CliRunner, live: LiveServer, args: list[str], fragments: list[str]
) -> None:
    live.register()
    assert_error(run(runner, live, "submit", *args, "--", "true"), *fragments)


# ---------------------------------------------------------------------- logs
def test_logs_prints_every_line_in_order(runner: CliRunner, live: LiveServer) -> None:
    live.register()
    job_id = live.submit()
    lines = [f"step {i}" for i in range(2500)]  # more than one page (1000 lines)
    live.start(job_id, lines)
    result = run(runner, live, "logs", str(job_id))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == lines


def test_logs_follow_prints_new_lines_until_the_job_ends(
    runner: CliRunner, live: LiveServer
) -> None:
    live.register()
    job_id = live.submit()
    live.start(job_id, ["epoch 1"])

    def the_agent() -> None:  # the rest of the run, while `logs --follow` polls
        polled = threading.Event()
        polled.wait(0.3)
        live.ok("POST", f"/agent/jobs/{job_id}/logs", json={"lines": ["epoch 2", "[x] done"]})
        live.finish(job_id, 7)

    agent = threading.Thread(target=the_agent)
    agent.start()
    result = run(runner, live, "logs", str(job_id), "--follow", "--poll-s", "0.05")
    agent.join()
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["epoch 1", "epoch 2", "[x] done"]  # no markup eaten
    assert f"job {job_id} failed (exit code 7)" in result.stderr


def test_logs_of_an_unknown_job(runner: CliRunner, live: LiveServer) -> None:
    assert_error(run(runner, live, "logs", "99"), "job 99 not found")
    assert_error(run(runner, live, "cancel", "99"), "job 99 not found")


# ---------------------------------------------------------------------- cancel
def test_cancel_pending_running_and_finished_jobs(runner: CliRunner, live: LiveServer) -> None:
    live.register()
    running = live.submit()
    live.start(running)
    pending = live.submit(gpus=4)  # the running job holds a GPU: this one waits

    result = run(runner, live, "cancel", str(pending))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"job {pending} cancelled"

    result = run(runner, live, "cancel", str(running))
    assert result.exit_code == 0, result.output
    assert f"job {running} is running on {NODE}: cancel requested" in result.stdout
    answer = live.ok("POST", "/agent/heartbeat", json={"node": NODE, "running": [running]})
    assert answer["stop"] == [running]

    assert_error(run(runner, live, "cancel", str(pending)), f"job {pending}", "cancelled")


# ---------------------------------------------------------------------- nodes / projects
def test_nodes_show_gpus_with_telemetry_and_mark_simulated_ones(
    runner: CliRunner, live: LiveServer
) -> None:
    live.register(gpus=2)
    telemetry = [{"index": 0, "utilisation_pct": 97.0, "temperature_c": 71.0, "power_w": 612.0}]
    live.ok("POST", "/agent/heartbeat", json={"node": NODE, "telemetry": telemetry})
    result = run(runner, live, "nodes")
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    header = "NODE STATE GPU MODEL GiB UTIL % USED GiB °C WATTS"
    assert rows[0].split() == header.split()
    assert rows[1].split()[:2] == [NODE, "up"]
    assert rows[1].split()[-8:] == ["0", "H100-SXM", "sim", "80.0", "97.0", "-", "71.0", "612"]
    assert rows[2].split() == ["1", "H100-SXM", "sim", "80.0", "-", "-", "-", "-"]
    assert "sim: simulated GPUs" in result.stderr

    nodes = json.loads(run(runner, live, "nodes", "--json").stdout)
    assert nodes[0]["simulated"] is True
    assert [g["utilisation_pct"] for g in nodes[0]["gpus"]] == [97.0, None]


def test_nodes_when_there_are_none(runner: CliRunner, live: LiveServer) -> None:
    result = run(runner, live, "nodes")
    assert result.exit_code == 0
    assert "no nodes yet" in result.stderr


def test_projects_list_and_create(runner: CliRunner, live: LiveServer) -> None:
    args = ["projects", "create", "vision", "--quota", "H100=8", "--weight", "2"]
    bad = run(runner, live, *args)
    assert_error(bad, "quota: 'H100' is a GPU family")
    created = run(runner, live, "projects", "create", "vision", "--quota", "H100-SXM=8")
    assert created.exit_code == 0, created.output
    assert "H100-SXM=8" in created.stdout
    listed = run(runner, live, "projects")
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        "PROJECT",
        "default",
        "vision",
    ]
    data = json.loads(run(runner, live, "projects", "--json").stdout)
    assert data[1] == {
        "name": "vision",
        "quota": {"H100-SXM": 8},
        "budget_usd": None,
        "weight": 1.0,
        "running_gpus": 0,
        "pending_jobs": 0,
    }
    assert_error(run(runner, live, "projects", "create", "vision"), "already exists")
    usage = run(runner, live, "projects", "create", "x", "--quota", "H100-SXM")
    assert usage.exit_code == 2
    assert "expected MODEL=GPUS" in usage.stderr


def test_tokens_create_a_member_token_that_works(runner: CliRunner, live: LiveServer) -> None:
    args = ["tokens", "create", "--user", "ana", "--role", "member", "--project", "default"]
    result = run(runner, live, *args)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert "member token of project default for user ana" in result.stderr
    assert run(runner, live, "jobs", token=token).exit_code == 0
    assert_error(
        run(runner, live, "projects", "create", "mine", token=token), "role member may not"
    )


# ---------------------------------------------------------------------- connection trouble
def test_a_bad_token_is_an_error_saying_what_to_do(runner: CliRunner, live: LiveServer) -> None:
    bad = "not-a-token"
    assert_error(run(runner, live, "jobs", token=bad), "unknown token", "GPUFLEET_TOKEN")


def test_no_token_at_all(runner: CliRunner, live: LiveServer) -> None:
    result = runner.invoke(cli, ["jobs", "--server", live.url])
    assert_error(result, "missing bearer token", "gpufleet up")


def test_the_token_and_server_come_from_the_environment(
    runner: CliRunner, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUFLEET_SERVER", live.url)
    monkeypatch.setenv("GPUFLEET_TOKEN", live.admin)
    result = runner.invoke(cli, ["projects"])
    assert result.exit_code == 0, result.output
    assert "default" in result.stdout


def test_the_local_admin_token_file_is_used_for_a_local_server(
    runner: CliRunner, live: LiveServer, tmp_path: Path
) -> None:
    (tmp_path / ".gpufleet").mkdir()
    (tmp_path / ".gpufleet" / "admin-token").write_text(live.admin + "\n")
    result = runner.invoke(cli, ["projects", "--server", live.url])
    assert result.exit_code == 0, result.output
    assert local_admin_token(live.url) == live.admin
    assert local_admin_token("http://gpufleet.example.com:8080") is None  # never sent away


def test_a_server_that_is_not_running(runner: CliRunner) -> None:
    with free_socket() as sock:
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"  # nothing listens there any more
    for args in (["jobs"], ["submit", "--", "true"], ["nodes"], ["logs", "1", "--follow"]):
        result = runner.invoke(cli, [args[0], "--server", url, "--token", "t", *args[1:]])
        assert_error(result, f"no gpufleet server is running at {url}", "gpufleet up")


def test_a_server_that_is_not_gpufleet() -> None:
    def web_page(request: httpx.Request) -> httpx.Response:
        status = 404 if request.url.path.endswith("/jobs") else 200
        return httpx.Response(
            status, text="<html>hello</html>", headers={"content-type": "text/html"}
        )

    client = FleetClient("http://example.test", "t", transport=httpx.MockTransport(web_page))
    with client:
        with pytest.raises(ApiError, match=r"is http://example\.test a gpufleet server"):
            client.jobs()
        with pytest.raises(ApiError, match="not what a gpufleet server sends"):
            client.nodes()


# ---------------------------------------------------------------------- gpufleet agent
def test_agent_registers_its_fake_gpus_and_stops_on_sigint(
    runner: CliRunner, live: LiveServer
) -> None:
    token = live.ok("POST", "/tokens", 201, json={"user": "a", "role": "agent", "node": NODE})
    args = ["agent", "--server", live.url, "--token", token["token"], "--name", NODE]
    args += ["--fake-gpus", "2xA100-80GB", "--heartbeat-s", "0.1"]

    def interrupt_once_registered() -> None:
        # run_agent installs its SIGINT handler before it registers, so this signal stops it.
        wait_until(lambda: live.ok("GET", "/nodes"), what="the node to register")
        os.kill(os.getpid(), signal.SIGINT)

    stopper = threading.Thread(target=interrupt_once_registered)
    stopper.start()
    result = runner.invoke(cli, args)
    stopper.join()
    assert result.exit_code == 0, result.output
    assert f"node {NODE}, simulated GPUs 2xA100-80GB" in " ".join(result.stderr.split())
    node = live.ok("GET", "/nodes")[0]
    assert (node["name"], node["simulated"]) == (NODE, True)
    assert [g["model"] for g in node["gpus"]] == ["A100-80GB", "A100-80GB"]


def test_agent_with_a_rejected_token_exits_with_an_error(
    runner: CliRunner, live: LiveServer
) -> None:
    args = ["agent", "--server", live.url, "--token", "nope", "--fake-gpus", "1xH100"]
    assert_error(runner.invoke(cli, args), "rejected the agent token")


def test_agent_with_a_bad_fake_gpu_spec(runner: CliRunner, live: LiveServer) -> None:
    args = ["agent", "--server", live.url, "--token", "t", "--fake-gpus", "4xZ999"]
    assert_error(runner.invoke(cli, args), "unknown GPU model 'Z999'", code=2)


# ---------------------------------------------------------------------- gpufleet up
def test_up_refuses_a_port_in_use(runner: CliRunner, tmp_path: Path) -> None:
    with free_socket() as taken:
        port = str(taken.getsockname()[1])
        result = runner.invoke(cli, ["up", "--port", port, "--data-dir", str(tmp_path / "d")])
    assert_error(result, f"cannot listen on 127.0.0.1:{port}", "already running")


def test_up_refuses_a_bad_fake_gpu_spec(runner: CliRunner, tmp_path: Path) -> None:
    args = ["up", "--port", "0", "--data-dir", str(tmp_path / "d"), "--fake-gpus", "2xZ999"]
    assert_error(runner.invoke(cli, args), "unknown GPU model 'Z999'", code=2)


def test_the_admin_token_is_made_once_saved_privately_and_replaced_if_lost(
    tmp_path: Path, template: Path
) -> None:
    database = tmp_path / "gpufleet.db"
    shutil.copyfile(template, database)
    db = Database(f"sqlite+pysqlite:///{database}")
    path = tmp_path / "data" / "admin-token"
    try:
        first = _admin_token(db, path)
        assert path.read_text() == first + "\n"
        assert path.stat().st_mode & 0o777 == 0o600
        assert _admin_token(db, path) == first  # reused
        path.unlink()
        second = _admin_token(db, path)  # the file was lost: a new admin token
        assert second != first
        assert authenticate(db, second, utc_now()).admin
        path.write_text("not-a-token")
        path.chmod(0o644)
        third = _admin_token(db, path)
        assert third not in {first, second}
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        db.dispose()


def test_up_listens_on_a_tcp_socket_so_answers_are_not_held_back() -> None:
    """asyncio turns Nagle off (TCP_NODELAY) only on connections of a socket whose protocol is
    IPPROTO_TCP; with protocol 0 every answer waited for the client's delayed ACK (~40 ms)."""
    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        client = socket.create_connection(sock.getsockname())
        accepted, _ = sock.accept()
        with client, accepted:
            assert accepted.proto == socket.IPPROTO_TCP  # what asyncio checks per connection
    finally:
        sock.close()
