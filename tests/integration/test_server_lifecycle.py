"""A job's life through the API: submit -> tick -> heartbeat -> started -> logs -> finished."""

from __future__ import annotations

from fleet_harness import Fleet


def test_a_job_runs_to_success_with_its_logs_and_exit_code(fleet: Fleet) -> None:
    node = fleet.agent("node-a", gpus=4)
    job = fleet.submit(gpus=2, name="resnet", gpu_models=["H100"], priority=3)
    assert job["state"] == "pending"
    assert job["gpu_models"] == ["H100-NVL", "H100-PCIe", "H100-SXM"]  # a family: every member

    report = fleet.tick()
    assert report.scheduled == (job["id"],)
    scheduled = fleet.job(job["id"])
    assert (scheduled["state"], scheduled["node"], scheduled["gpu_indices"]) == (
        "scheduled", "node-a", [0, 1],
    )  # fmt: skip

    answer = node.heartbeat()
    [start] = answer["start"]
    assert start["job"] == job["id"]
    assert start["command"] == ["python", "train.py"]
    assert start["gpu_indices"] == [0, 1]
    assert start["env"]["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert answer["stop"] == []
    assert answer["heartbeat_s"] == 5

    running = fleet.ok("POST", f"/agent/jobs/{job['id']}/started", node.token, json={})
    node.running.add(job["id"])
    assert running["state"] == "running"
    assert running["started_at"] is not None
    assert node.heartbeat()["start"] == []  # listed only until it runs

    lines = {"lines": ["epoch 1 loss 0.9", "epoch 2 loss 0.5"]}
    assert fleet.ok("POST", f"/agent/jobs/{job['id']}/logs", node.token, json=lines) == {}
    fleet.ok("POST", f"/agent/jobs/{job['id']}/logs", node.token, json={"lines": ["done"]})

    fleet.clock.advance(60)
    done = node.finish(job["id"], 0)
    assert (done["state"], done["exit_code"]) == ("succeeded", 0)
    assert done["finished_at"] is not None
    assert node.finish(job["id"], 0)["state"] == "succeeded"  # a repeated report changes nothing

    page = fleet.ok("GET", f"/jobs/{job['id']}/logs", fleet.admin)
    assert [(line["seq"], line["text"]) for line in page["lines"]] == [
        (1, "epoch 1 loss 0.9"), (2, "epoch 2 loss 0.5"), (3, "done"),
    ]  # fmt: skip
    assert page["next"] == 3
    later = fleet.ok("GET", f"/jobs/{job['id']}/logs", fleet.admin, params={"after": 2})
    assert [line["text"] for line in later["lines"]] == ["done"]
    assert fleet.ok("GET", f"/jobs/{job['id']}/logs", fleet.admin, params={"after": 3}) == {
        "lines": [], "next": 3,
    }  # fmt: skip

    kinds = [kind for kind, job_id, _ in fleet.events() if job_id == job["id"]]
    assert kinds == ["job.submitted", "job.scheduled", "job.started", "job.succeeded"]


def test_log_text_no_database_can_hold_is_kept_as_a_replacement_character(fleet: Fleet) -> None:
    """A job prints what it likes: NUL (PostgreSQL refuses it) and a lone surrogate (UTF-8
    cannot encode it) are stored as U+FFFD, and the lines around them are kept."""
    node = fleet.agent("node-a")
    job = fleet.submit()
    fleet.tick()
    node.start_assigned()
    body = b'{"lines": ["nul \\u0000 here", "half \\ud800 a pair", "fine"]}'
    answer = fleet.post(
        f"/agent/jobs/{job['id']}/logs", node.token,
        content=body, headers={"content-type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    page = fleet.ok("GET", f"/jobs/{job['id']}/logs", fleet.admin)
    assert [line["text"] for line in page["lines"]] == [
        "nul \ufffd here", "half \ufffd a pair", "fine",
    ]  # fmt: skip


def test_a_non_zero_exit_fails_the_job(fleet: Fleet) -> None:
    node = fleet.agent("node-a")
    job = fleet.submit()
    fleet.tick()
    node.start_assigned()
    failed = node.finish(job["id"], 3)
    assert (failed["state"], failed["exit_code"]) == ("failed", 3)


def test_a_job_that_does_not_fit_now_waits_and_runs_when_gpus_free(fleet: Fleet) -> None:
    node = fleet.agent("node-a", gpus=4)
    big = fleet.submit(gpus=3, name="big")
    waiting = fleet.submit(gpus=2, name="waits")
    assert fleet.tick().scheduled == (big["id"],)
    assert fleet.job(waiting["id"])["state"] == "pending"
    assert node.start_assigned() == [big["id"]]
    assert fleet.tick().scheduled == ()  # still only 1 GPU free
    node.finish(big["id"])
    assert fleet.tick().scheduled == (waiting["id"],)
    assert node.start_assigned() == [waiting["id"]]
    assert fleet.job(waiting["id"])["gpu_indices"] == [0, 1]


def test_higher_priority_goes_first_and_running_jobs_are_never_preempted(fleet: Fleet) -> None:
    node = fleet.agent("node-a", gpus=2)
    low = fleet.submit(gpus=2, priority=0)
    fleet.tick()
    node.start_assigned()
    urgent = fleet.submit(gpus=2, priority=10)
    other = fleet.submit(gpus=2, priority=5)
    report = fleet.tick()
    assert report.scheduled == ()
    assert fleet.job(low["id"])["state"] == "running"  # v1 never preempts
    node.finish(low["id"])
    assert fleet.tick().scheduled == (urgent["id"],)
    assert fleet.job(other["id"])["state"] == "pending"


def test_gangs_never_split_across_nodes(fleet: Fleet) -> None:
    a, b = fleet.agent("node-a", gpus=2), fleet.agent("node-b", gpus=2)
    singles = [fleet.submit(gpus=1)["id"] for _ in range(3)]
    assert set(fleet.tick().scheduled) == set(singles)
    placed = {fleet.job(j)["node"] for j in singles}
    assert placed == {"node-a", "node-b"}  # first fit by node name: a, a, b
    a.start_assigned()
    b.start_assigned()
    on_a = next(j for j in singles if fleet.job(j)["node"] == "node-a")
    a.finish(on_a)
    pair = fleet.submit(gpus=2)  # 2 GPUs free, but one on each node
    report = fleet.tick()
    assert report.scheduled == ()
    assert report.unplaced == (pair["id"],)
    assert fleet.job(pair["id"])["state"] == "pending"


def test_jobs_go_only_to_the_gpu_models_they_allow(fleet: Fleet) -> None:
    fleet.agent("node-a", gpus=2, model="H100-SXM")
    fleet.agent("node-b", gpus=2, model="NVIDIA A100-SXM4-80GB")
    a100 = fleet.submit(gpu_models=["A100-80GB"])
    h100 = fleet.submit(gpu_models=["H100 SXM"])
    fleet.tick()
    assert fleet.job(a100["id"])["node"] == "node-b"
    assert fleet.job(h100["id"])["node"] == "node-a"
    nodes = fleet.ok("GET", "/nodes", fleet.admin)
    assert [g["model"] for g in nodes[1]["gpus"]] == ["A100-80GB", "A100-80GB"]


def test_ticks_are_idempotent(fleet: Fleet) -> None:
    fleet.agent("node-a", gpus=2)
    job = fleet.submit(gpus=2)
    assert fleet.tick().scheduled == (job["id"],)
    assert fleet.tick().scheduled == ()
    assert fleet.tick().allocated_gpus == 2
    assert len(fleet.events("job.scheduled")) == 1
