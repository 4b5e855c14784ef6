"""Every operation of ``/openapi.json``, fuzzed by schemathesis, never answers 5xx.

The app runs on a migrated database (SQLite and PostgreSQL) seeded so that requests get past
the 404s: project ``vision``, node ``node-a`` (8 H100s) holding one scheduled job, one pending
job. Each role's token (admin, member of ``vision``, agent of ``node-a``) is sent with every
request; schemathesis calls the app in process over ASGI (no network). Each operation gets
``MAX_EXAMPLES`` cases that fit its schema and as many that break it; generation is
derandomized, so a run is deterministic.

schemathesis' pytest integration (``schemathesis.pytest.from_fixture``) cannot be used: it
renames pytest items through ``Node._nodeid``, which pytest 9.2 no longer has. The public
per-operation strategies (``APIOperation.as_strategy``) under Hypothesis' own ``@given`` do the
same job.
"""

from __future__ import annotations

from collections.abc import Callable

import hypothesis
import pytest
import schemathesis
from fleet_harness import Fleet
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

MAX_EXAMPLES = 25


def seed(fleet: Fleet) -> dict[str, str]:
    """A node holding one scheduled job and one pending job; a token per role."""
    fleet.agent("node-a", gpus=8)
    fleet.submit(gpus=8, name="holds-the-node")
    fleet.tick()
    fleet.submit(gpus=2, name="waits")
    return {
        "admin": fleet.admin,
        "member": fleet.token("member", project="vision"),
        "agent": fleet.token("agent", node="node-a", user="agent-node-a-2"),
    }


def fuzz(
    operation: schemathesis.APIOperation, headers: dict[str, str], examples: int
) -> Callable[[], None]:
    """A Hypothesis test that sends ``operation`` about ``examples`` cases that fit its schema
    and as many that do not."""
    strategy = st.one_of(
        operation.as_strategy(generation_mode=mode) for mode in schemathesis.GenerationMode
    )

    @hypothesis.settings(
        max_examples=2 * examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    return run


def check_every_operation(fleet: Fleet, token: str, examples: int) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fleet.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16, [op.label for op in operations]
    failures: list[str] = []
    for operation in operations:
        try:
            fuzz(operation, {"Authorization": f"Bearer {token}"}, examples)()
        except Exception as error:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.label}: {type(error).__name__}: {error}")
    assert not failures, "\n\n".join(failures)


def test_no_operation_answers_5xx_to_an_admin(fleet: Fleet) -> None:
    check_every_operation(fleet, seed(fleet)["admin"], MAX_EXAMPLES)


@pytest.mark.parametrize("backend", ["sqlite"])  # the roles' paths do not depend on the database
@pytest.mark.parametrize("role", ["member", "agent"])
def test_no_operation_answers_5xx_to_a_member_or_an_agent(fleet: Fleet, role: str) -> None:
    check_every_operation(fleet, seed(fleet)[role], MAX_EXAMPLES // 2)
