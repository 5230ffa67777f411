"""A real ``chaoshub up`` (SQLite, in-process worker and beat, the local native agent) for
the workflow tests, and the GraphQL those tests speak to it.

One hub serves a whole test module (starting one takes seconds); each test gets it through
a fixture that, on the way out, halts whatever the test left running and waits until
nothing is active, so the next test starts from a quiet hub whatever happened before.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import websockets

from tests.support.stack import MEMORY_ADAPTER, GraphQL, up_process, wait_for

TERMINAL = ("completed", "aborted", "failed")

RUN_FIELDS = """id workflowId workflowName phase desiredState verdict reasons score error
  createdAt startedAt endedAt deadline
  steps { stepId kind role state reason startedAt endedAt deadline runId decidedBy
    probe { name kind outcome checks passed score samples { at ok value error latencyMs } }
    run { id phase workflowRunId workflowStepId targets { label phase } } }"""

ERROR = "... on Error { code message field }"

START = f"""mutation($in: StartWorkflowInput!) {{ startWorkflow(input: $in) {{
  __typename ... on WorkflowRun {{ {RUN_FIELDS} }} {ERROR} }} }}"""
CREATE = f"""mutation($in: CreateWorkflowInput!) {{ createWorkflow(input: $in) {{
  __typename ... on Workflow {{ id name version }} {ERROR} }} }}"""
VALIDATE = """query($doc: JSON!) { validateWorkflow(document: $doc) { field message code } }"""
WORKFLOW_RUN = f"""query($id: ID!) {{ workflowRun(id: $id) {{ {RUN_FIELDS} }} }}"""
COUNTS = """{ workflows { id } workflowRuns { totalCount }
  runs(filter: {includeArchived: true}) { totalCount } }"""
ACTIVE = """{ workflowRuns(filter: {phase: ["pending", "injecting", "running", "paused",
  "recovering"]}) { totalCount }
  runs(filter: {phase: ["pending", "injecting", "running", "paused", "recovering"]}) {
  totalCount } }"""
RUN = """query($id: ID!) { run(id: $id) { id phase desiredState workflowRunId workflowStepId
  targets { label phase } } }"""
HALT_ALL = """mutation { haltAll(reason: "test cleanup") {
  __typename ... on HaltAllResult { count workflowRunCount scheduleCount } ... on Error { code message } } }"""


def _steer(name: str, args: str, call: str) -> str:
    return f"""mutation({args}) {{ {name}({call}) {{
  __typename ... on WorkflowRun {{ {RUN_FIELDS} }} {ERROR} }} }}"""


ABORT = _steer("abortWorkflowRun", "$id: ID!", 'id: $id, reason: "test"')
PAUSE = _steer("pauseWorkflowRun", "$id: ID!", "id: $id")
RESUME = _steer("resumeWorkflowRun", "$id: ID!", "id: $id")
APPROVE = _steer(
    "approveStep",
    "$run: ID!, $step: String!, $comment: String",
    "runId: $run, stepId: $step, comment: $comment",
)
REJECT = _steer(
    "rejectStep",
    "$run: ID!, $step: String!, $comment: String",
    "runId: $run, stepId: $step, comment: $comment",
)


def unique(prefix: str) -> str:
    """A process or workflow name no other test uses (a process name stays short)."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def step(run: dict[str, Any], step_id: str, role: str = "step") -> dict[str, Any]:
    """One step record of a workflow run, by id and role."""
    return next(s for s in run["steps"] if s["stepId"] == step_id and s["role"] == role)


def seconds_between(start: str, end: str) -> float:
    """Seconds from one ISO time the API gave to another."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


@dataclass
class Hub:
    url: str
    token: str
    data_dir: Path
    gql: GraphQL

    # -- starting ------------------------------------------------------------------------------

    def start_result(self, document: dict[str, Any]) -> dict[str, Any]:
        """startWorkflow's answer as it is: a WorkflowRun or a typed error."""
        return self.gql(START, **{"in": {"document": document}})["startWorkflow"]

    def start(self, document: dict[str, Any]) -> dict[str, Any]:
        result = self.start_result(document)
        assert result["__typename"] == "WorkflowRun", result
        return result

    def steer(self, mutation: str, **variables: Any) -> dict[str, Any]:
        data = self.gql(mutation, **variables)
        return next(iter(data.values()))  # type: ignore[no-any-return]

    # -- following -----------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any]:
        return self.gql(WORKFLOW_RUN, id=run_id)["workflowRun"]  # type: ignore[no-any-return]

    def wait(
        self,
        run_id: str,
        until: Callable[[dict[str, Any]], bool],
        timeout: float = 20,
        what: str = "",
    ) -> dict[str, Any]:
        return wait_for(
            lambda: r if until(r := self.run(run_id)) else None,
            timeout,
            interval=0.05,
            what=what or f"workflow run {run_id}",
        )

    def wait_step(
        self, run_id: str, step_id: str, state: str, timeout: float = 20, role: str = "step"
    ) -> dict[str, Any]:
        return self.wait(
            run_id,
            lambda r: step(r, step_id, role)["state"] == state,
            timeout,
            what=f"{role} {step_id} {state}",
        )

    def wait_ended(self, run_id: str, timeout: float = 30) -> dict[str, Any]:
        return self.wait(run_id, lambda r: r["phase"] in TERMINAL, timeout, what="its end")

    def child_run(self, run_id: str) -> dict[str, Any]:
        return self.gql(RUN, id=run_id)["run"]  # type: ignore[no-any-return]

    def counts(self) -> tuple[int, int, int]:
        """(saved workflows, workflow runs, runs)."""
        data = self.gql(COUNTS)
        return (
            len(data["workflows"]),
            data["workflowRuns"]["totalCount"],
            data["runs"]["totalCount"],
        )

    def subscribe(
        self, query: str, variables: dict[str, Any], timeout: float = 30
    ) -> tuple[list[dict[str, Any]], bool]:
        """Every payload a subscription delivers, and whether the server completed it."""
        # in a thread of its own: a test session may already run an event loop in this one
        # (Playwright's sync API does)
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self._subscribe(query, variables, timeout)).result()

    async def _subscribe(
        self, query: str, variables: dict[str, Any], timeout: float
    ) -> tuple[list[dict[str, Any]], bool]:
        seen: list[dict[str, Any]] = []
        ws_url = self.url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {self.token}"},
                    }
                )
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": query, "variables": variables},
                    }
                )
            )
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=max(left, 0.1)))
                assert message["type"] in ("next", "complete"), message
                if message["type"] == "complete":
                    return seen, True
                assert not message["payload"].get("errors"), message
                seen.append(message["payload"]["data"])

    # -- cleaning up ---------------------------------------------------------------------------

    def quiet(self, timeout: float = 30) -> None:
        """Halt whatever is still active and wait until nothing is."""
        active = self.gql(ACTIVE)
        if active["workflowRuns"]["totalCount"] or active["runs"]["totalCount"]:
            self.gql(HALT_ALL)
        wait_for(
            lambda: not any(v["totalCount"] for v in self.gql(ACTIVE).values()),
            timeout,
            interval=0.1,
            what="every run and workflow run ended",
        )


#: the one script the local agent's scripts directory holds (command probes may run it)
ALLOWED_SCRIPT = "healthy.sh"


@contextmanager
def running_hub(data_dir: Path) -> Iterator[Hub]:
    """``chaoshub up`` in ``data_dir`` with its local agent online, allowed to run
    :data:`ALLOWED_SCRIPT` and nothing else; the in-memory test adapter is offered too (for
    faults a real process cannot give: a slow injection, an external job)."""
    scripts = data_dir / "scripts"
    scripts.mkdir()
    script = scripts / ALLOWED_SCRIPT
    script.write_text("#!/bin/sh\necho ok\n")
    script.chmod(0o755)
    env = {"CHAOSHUB_EXTRA_ADAPTERS": MEMORY_ADAPTER, "CHAOSHUB_INJECTOR_SCRIPTS_DIR": str(scripts)}
    with up_process(data_dir, env) as up:
        gql = GraphQL(up.url, up.token)
        try:
            wait_for(
                lambda: any(
                    a["name"] == "local" and a["online"]
                    for a in gql("{ agents { name online } }")["agents"]
                ),
                30,
                what="the local agent online",
            )
            yield Hub(up.url, up.token, data_dir, gql)
        finally:
            gql.close()
