"""The ``native`` adapter: the ``http`` adapter plus the registry of native injector agents.

Checked against the native injector of this repository (protocol v1). The adapter never
reads the database: the hub passes the agents in the backend config (``needs_agents``)::

    {"agents": [{"name", "url", "token", "labels": {}, "online": bool}], "timeout"?,
     "ca_file"?, "cert_file"?, "key_file"?}   # TLS files apply to every https agent

An injector that never registers can be added by hand as a backend: its config lists it
under ``static_agents`` (same shape; always taken as online), beside the hub's agents.

Selector: ``agents`` (names) or ``labels`` (all must match) choose the agents — neither
means every online agent; ``limit`` with ``random`` sampling bounds the targets in all;
every other key is the fault's own selector, forwarded to each agent's ``/v1/discover``.
An offline agent is never chosen. An agent a label match chose that cannot be reached is
skipped (and logged); one named in ``agents`` must answer, or ``discover`` raises the retry
error. Target ids are ``<agent>/<the agent's target id>``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

from chaoshub.adapters.http import (
    DEFAULT_TIMEOUT,
    TLS_CONFIG,
    ProtocolClient,
    StatusItem,
    guard_refusal,
    tls_context,
)
from chaoshub.contract import (
    Adapter,
    Capabilities,
    Execution,
    FaultAvailability,
    Handle,
    Health,
    Observation,
    Target,
)
from chaoshub.errors import BackendUnavailable, HubError, InvalidInput, NotFound
from chaoshub.patterns import PatternError, compile_pattern

#: agents asked at once when listing what they hold (the orphan sweep) or watching runs
LISTING_THREADS = 16
#: a health report this young is reused by the checks of one start (availability, guards)
REPORT_REUSE_SECONDS = 5.0

log = logging.getLogger("chaoshub.adapters.native")

_T = TypeVar("_T")
_R = TypeVar("_R")

#: threads that ask several agents at once, shared by every adapter instance of the process
#: (a pool made for each call started a thread per agent on every start: ~0.5 ms each)
_ASKERS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="native-ask")


def _each(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``fn`` of each item, in order: in this thread for one item, else on the shared
    threads (``fn`` only asks an agent; it never waits for these threads itself)."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    return list(_ASKERS.map(fn, items))


#: the faults a native injector implements (each has ``chaoshub/catalog/native/<name>.yaml``)
NATIVE_FAULTS = frozenset(
    {
        "cpu-stress",
        "memory-stress",
        "io-stress",
        "disk-fill",
        "process-kill",
        "process-pause",
        "network-loss",
        "network-partition",
        "network-bandwidth",
        "network-delay",
        "network-jitter",
        "network-duplicate",
        "network-corrupt",
        "host-script",
    }
)

#: selector keys this adapter consumes; the rest goes to the agents
AGENT_KEYS = frozenset({"agents", "labels", "limit", "random"})


_AGENT: dict[str, Any] = {
    "type": "object",
    "required": ["name", "url", "token"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "url": {"type": "string", "pattern": "^https?://"},
        "token": {"type": "string", "writeOnly": True, "description": "the injector's API token"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "online": {"type": "boolean"},
    },
}


#: faults whose agent selector is a process: exactly one of pid, name, pattern
PROCESS_FAULTS = frozenset({"process-kill", "process-pause"})


def _check_process_selector(selector: Mapping[str, Any]) -> None:
    """What the agent's process selector refuses, refused here first (no I/O)."""
    given = [k for k in ("pid", "name", "pattern") if selector.get(k) is not None]
    if len(given) != 1:
        raise InvalidInput(
            "give exactly one of pid, name, pattern", field=["selector", (given or ["pid"])[-1]]
        )
    if given == ["pattern"]:
        try:
            compile_pattern(str(selector["pattern"]))
        except PatternError as exc:
            raise InvalidInput(f"bad pattern: {exc}", field=["selector", "pattern"]) from exc


class NativeAdapter(Adapter):
    """Runs native faults on the agents (native injectors) the hub knows."""

    name: ClassVar[str] = "native"
    capabilities: ClassVar[Capabilities] = Capabilities(faults=NATIVE_FAULTS, pause=True)
    #: the hub fills ``config["agents"]`` from its agent registry
    needs_agents: ClassVar[bool] = True
    config_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {
            "agents": {"type": "array", "items": _AGENT, "description": "filled in by the hub"},
            "static_agents": {
                "type": "array",
                "items": _AGENT,
                "description": "injectors added by hand (not registered); always online",
            },
            "timeout": {"type": "number", "exclusiveMinimum": 0},
            **TLS_CONFIG,
        },
    }

    #: what registered agents last reported of their hosts, by name (``{"at", "limits"}``;
    #: the hub sets it from :mod:`chaoshub.services.presence`): a start checks availability
    #: and guards against a report at most ``report_max_age`` seconds old instead of asking
    stored_reports: Callable[[Iterable[str]], dict[str, dict[str, Any]]] | None = None
    report_max_age: float = 0.0

    def __init__(self, config: Mapping[str, Any], *, backend: str = "") -> None:
        super().__init__(config, backend=backend)
        # registered agents first, so a name taken by a registered agent keeps meaning it
        listed = [*(config.get("agents") or []), *(config.get("static_agents") or [])]
        self.agents: dict[str, dict[str, Any]] = {}
        for agent in listed:
            self.agents.setdefault(str(agent["name"]), dict(agent))
        self._timeout = float(config.get("timeout") or DEFAULT_TIMEOUT)
        self._tls = tls_context(config)
        self._clients: dict[str, ProtocolClient] = {}
        # health reports by agent, kept for one start: availability and check_params ask both
        self._asked: dict[str, tuple[float, Health]] = {}
        # agents' checks of params started before discovery: (fault, params) and by agent
        self._checking: tuple[str, Mapping[str, Any], dict[str, Future[HubError | None]]] | None
        self._checking = None

    def close(self) -> None:
        if self._checking is not None:
            # a check discovery made moot (no target there, or discovery refused) is not
            # waited for: its answer is dropped
            for future in self._checking[2].values():
                future.cancel()
        self._checking = None
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    # -- agents ------------------------------------------------------------------------------

    def _client(self, agent: str, target: str | None = None) -> ProtocolClient:
        info = self.agents.get(agent)
        if info is None:
            raise NotFound(
                f"no agent named {agent!r}",
                field=["target", "id"],
                adapter=self.name,
                backend=self.backend,
                target=target,
            )
        if not info.get("online", True):
            raise BackendUnavailable(
                f"agent {agent!r} is offline",
                adapter=self.name,
                backend=self.backend,
                target=target,
            )
        if agent not in self._clients:
            self._clients[agent] = ProtocolClient(
                str(info["url"]),
                str(info.get("token") or ""),
                timeout=self._timeout,
                adapter=self.name,
                backend=self.backend or agent,
                tls=self._tls,
            )
        return self._clients[agent]

    def _chosen(self, selector: Mapping[str, Any]) -> list[str]:
        names = selector.get("agents")
        labels = selector.get("labels") or {}
        if names:
            unknown = [n for n in names if n not in self.agents]
            if unknown:
                raise NotFound(f"no agent named {unknown[0]!r}", field=["selector", "agents"])
            chosen = [n for n in self.agents if n in names]
        else:
            chosen = list(self.agents)
        chosen = [
            n
            for n in chosen
            if all(
                str((self.agents[n].get("labels") or {}).get(k)) == str(v)
                for k, v in labels.items()
            )
        ]
        return [n for n in chosen if self.agents[n].get("online", True)]

    @staticmethod
    def _split(target_id: str) -> tuple[str, str]:
        agent, sep, inner = target_id.partition("/")
        if not sep or not agent or not inner:
            raise InvalidInput(
                f"a native target id is <agent>/<target>, not {target_id!r}", field=["target", "id"]
            )
        return agent, inner

    # -- the contract -------------------------------------------------------------------------

    def validate(self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]) -> None:
        if fault not in NATIVE_FAULTS:
            raise InvalidInput(f"no native fault {fault!r}", field=["fault"])
        names = selector.get("agents")
        if names is not None and (
            not isinstance(names, list) or not all(isinstance(n, str) for n in names)
        ):
            raise InvalidInput("agents is a list of agent names", field=["selector", "agents"])
        labels = selector.get("labels")
        if labels is not None and not isinstance(labels, Mapping):
            raise InvalidInput("labels is an object of k: v", field=["selector", "labels"])
        limit = selector.get("limit")
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 1
        ):
            raise InvalidInput("limit is a positive integer", field=["selector", "limit"])
        if fault in PROCESS_FAULTS:
            _check_process_selector(selector)

    def discover(self, fault: str, selector: Mapping[str, Any]) -> list[Target]:
        chosen = self._chosen(selector)
        if not chosen:
            raise NotFound(
                "no online agent matches the selector",
                field=["selector"],
                adapter=self.name,
                backend=self.backend,
            )
        forwarded = {k: v for k, v in selector.items() if k not in AGENT_KEYS}

        def ask(agent: str) -> list[Target] | HubError:
            try:
                found = self._client(agent).discover(fault, forwarded)
            except HubError as exc:
                return exc.with_context(target=agent)
            return [
                replace(
                    t,
                    id=f"{agent}/{t.id}",
                    label=f"{t.label} on {agent}",
                    attributes={**t.attributes, "agent": agent},
                )
                for t in found
            ]

        answers = _each(ask, chosen)
        targets = [t for a in answers if not isinstance(a, HubError) for t in a]
        errors = [a for a in answers if isinstance(a, HubError)]
        refused = [e for e in errors if not isinstance(e, BackendUnavailable)]
        if refused:
            raise refused[0]
        if errors and (not targets or selector.get("agents")):
            raise errors[0]  # an agent named on purpose must answer; a label match may not
        for err in errors:
            log.warning("agent unreachable during discover", extra={"error": str(err)})
        limit = selector.get("limit")
        if limit and len(targets) > int(limit):
            targets = (
                random.sample(targets, int(limit))
                if selector.get("random")
                else targets[: int(limit)]
            )
        if not targets:
            raise NotFound(
                "the selector matches no target",
                field=["selector"],
                adapter=self.name,
                backend=self.backend,
            )
        return targets

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        agent, inner = self._split(execution.target.id)
        local = replace(execution.target, id=inner)
        handle, obs = self._client(agent, execution.target.id).inject(execution, local)
        return {"agent": agent, "handle": handle}, obs

    def _agent_handle(self, handle: Handle) -> tuple[str, Mapping[str, Any] | None]:
        data = handle.data or {}
        agent = data.get("agent") or self._split(handle.execution.target.id)[0]
        return str(agent), data.get("handle")

    def status(self, handle: Handle) -> Observation:
        agent, inner = self._agent_handle(handle)
        return self._client(agent, handle.execution.target.id).status(
            handle.execution.id, inner, handle.execution.target.id
        )

    def status_many(self, handles: Sequence[Handle]) -> dict[str, Observation | HubError]:
        """Each agent is asked once for all its executions (its batch status call, or one
        call per execution from an agent that predates it), the agents in parallel. An
        execution on an unknown or offline agent, or one that cannot be reached, is that
        error; the other agents' answers stand."""
        answers: dict[str, Observation | HubError] = {}
        by_agent: dict[str, list[StatusItem]] = {}
        clients: dict[str, ProtocolClient] = {}
        for handle in handles:
            target = handle.execution.target.id
            try:
                agent, inner = self._agent_handle(handle)
                clients[agent] = clients.get(agent) or self._client(agent, target)
            except HubError as exc:
                answers[handle.execution.id] = exc.with_context(
                    adapter=self.name, backend=self.backend, target=target
                )
                continue
            by_agent.setdefault(agent, []).append(StatusItem(handle.execution.id, inner, target))
        if not by_agent:
            return answers

        def ask(agent: str) -> dict[str, Observation | HubError]:
            try:
                return clients[agent].status_many(by_agent[agent])
            except Exception as exc:  # an answer the client could not read: this agent's
                log.exception("status of agent %s failed", agent)
                return {
                    i.execution_id: BackendUnavailable(
                        f"agent {agent}: {type(exc).__name__}: {exc}",
                        adapter=self.name,
                        backend=self.backend,
                        target=i.target,
                    )
                    for i in by_agent[agent]
                }

        with ThreadPoolExecutor(max_workers=min(LISTING_THREADS, len(by_agent))) as pool:
            for found in pool.map(ask, by_agent):
                answers.update(found)
        return answers

    def recover(self, handle: Handle) -> Observation:
        agent, inner = self._agent_handle(handle)
        return self._client(agent, handle.execution.target.id).recover(
            handle.execution.id, inner, handle.execution.target.id
        )

    def _ask_check(self, agent: str, fault: str, params: Mapping[str, Any]) -> HubError | None:
        try:
            self._client(agent).validate(fault, params, target=agent)
        except HubError as exc:
            return exc.with_context(target=agent)
        return None

    def prepare_check_params(
        self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]
    ) -> None:
        """The agents a selector names (``agents``) are the only ones its targets can live
        on: each starts checking ``params`` now, beside discovery. A selector that names
        none (labels, or every agent) starts nothing: :meth:`check_params` asks the agents
        discovery found, and no agent without a target is asked."""
        if fault not in NATIVE_FAULTS or not selector.get("agents"):
            return
        try:
            chosen = self._chosen(selector)
            for name in chosen:
                self._client(name)  # made here: the pool's threads then only read the dict
        except HubError:
            return  # discovery says why, with its own field
        if not chosen:
            return
        frozen = dict(params)
        self._checking = (
            fault,
            frozen,
            {n: _ASKERS.submit(self._ask_check, n, fault, frozen) for n in chosen},
        )

    def check_params(self, fault: str, params: Mapping[str, Any], targets: list[Target]) -> None:
        """Each agent the targets live on checks ``params`` against its own host, in parallel
        (an answer :meth:`prepare_check_params` asked for the same fault and params is
        used); the first refusal, in the agents' order, is raised, naming the agent."""
        agents = sorted({self._split(t.id)[0] for t in targets})
        started: dict[str, Future[HubError | None]] = {}
        if self._checking is not None and self._checking[:2] == (fault, dict(params)):
            started = self._checking[2]
        ask = [a for a in agents if a not in started]
        asked: dict[str, HubError | None] = {}
        if ask:
            found = _each(lambda a: self._ask_check(a, fault, params), ask)
            asked = dict(zip(ask, found, strict=True))
        answers = {a: asked[a] if a in asked else started[a].result() for a in agents}
        refusals = [e for e in answers.values() if e is not None]
        if refusals:
            first = refusals[0]
            first.message = f"agent {first.target}: {first.message}"
            raise first

    def forget(self, handle: Handle, reason: str) -> bool:
        agent, inner = self._agent_handle(handle)
        told = self._client(agent, handle.execution.target.id).forget(
            handle.execution.id, inner, reason, handle.execution.target.id
        )
        return told is not None

    def active_executions(self) -> list[dict[str, Any]]:
        """What every online agent has injected now, each entry naming its ``agent``; for the
        hub's reconciliation after a restart. Agents are asked in parallel; unreachable ones
        are left out (logged)."""

        def listing(name: str) -> list[dict[str, Any]]:
            try:
                return [{**e, "agent": name} for e in self._client(name).executions()]
            except HubError as exc:
                log.warning(
                    "agent unreachable for executions", extra={"agent": name, "error": str(exc)}
                )
                return []

        online = [n for n, a in self.agents.items() if a.get("online", True)]
        for name in online:
            self._client(name)  # made here: the pool's threads then only read the dict
        with ThreadPoolExecutor(max_workers=min(LISTING_THREADS, len(online) or 1)) as pool:
            return [entry for found in pool.map(listing, online) for entry in found]

    def availability(self, fault: str, targets: list[Target]) -> dict[str, FaultAvailability]:
        """Asked of each agent the targets live on: with several agents, one without
        ``sch_netem`` must refuse the run even when another could do it."""
        by_agent: dict[str, list[str]] = {}
        for t in targets:
            by_agent.setdefault(self._split(t.id)[0], []).append(t.id)
        answers: dict[str, FaultAvailability] = {}
        for agent, report in self._reports(sorted(by_agent), REPORT_REUSE_SECONDS).items():
            found = report.faults.get(fault)
            if found is None and not report.ok:
                found = FaultAvailability(False, f"agent {agent}: {report.message}")
            elif found is not None and not found.available:
                found = FaultAvailability(False, f"agent {agent}: {found.reason}")
            if found is not None:
                answers.update(dict.fromkeys(by_agent[agent], found))
        return answers

    def check_limits(self, fault: str, params: Mapping[str, Any], targets: list[Target]) -> None:
        """Each agent the targets live on checks ``params`` against the guards it reports
        (free disk, memory headroom, stressors): the first refusal names the agent."""
        agents = sorted({self._split(t.id)[0] for t in targets})
        for agent, report in self._reports(agents, max_age=REPORT_REUSE_SECONDS).items():
            refused = guard_refusal(report, fault, params, f"agent {agent}")
            if refused is not None:
                raise refused

    def _stored(self, agents: list[str]) -> dict[str, Health]:
        """The reports of ``agents`` the hub holds that are young enough to rely on: the
        capabilities on the agent's row (sent again by the agent whenever they change) and
        the guards and host measured at its last beat. Static agents have none."""
        if self.stored_reports is None or self.report_max_age <= 0:
            return {}
        registered = [n for n in agents if "capabilities" in self.agents.get(n, {})]
        now = time.time()
        out: dict[str, Health] = {}
        for name, report in self.stored_reports(registered).items():
            age = now - float(report.get("at") or 0.0)
            if not (-1.0 <= age <= self.report_max_age):
                continue
            caps = self.agents[name].get("capabilities") or {}
            out[name] = Health(
                ok=True,
                message=f"as reported {age:.1f}s ago",
                faults={
                    str(f): FaultAvailability(bool(c.get("available")), str(c.get("reason") or ""))
                    for f, c in caps.items()
                    if isinstance(c, Mapping)
                },
                limits=dict(report.get("limits") or {}),
            )
        return out

    def _reports(self, agents: list[str], max_age: float = 0.0) -> dict[str, Health]:
        """Each agent's health report, asked in parallel (one asked less than ``max_age``
        seconds ago is reused); with ``max_age``, a report the hub stores from the agent's
        last beat stands in for asking (see :meth:`_stored`)."""
        now = time.monotonic()
        if max_age > 0:
            for name, stored in self._stored(
                [n for n in agents if n not in self._asked or now - self._asked[n][0] > max_age]
            ).items():
                self._asked[name] = (now, stored)
        ask = [n for n in agents if n not in self._asked or now - self._asked[n][0] > max_age]
        for name, report in zip(
            ask, _each(lambda n: self._client(n).health_report(), ask), strict=True
        ):
            self._asked[name] = (now, report)
        return {n: self._asked[n][1] for n in agents}

    def health(self) -> Health:
        online = [n for n, a in self.agents.items() if a.get("online", True)]
        if not online:
            return Health(ok=False, message="no agent is online")
        reports = self._reports(online)
        faults: dict[str, FaultAvailability] = {}
        for fault in sorted(NATIVE_FAULTS):
            why = []
            for agent, report in reports.items():
                avail = report.faults.get(fault)
                if avail is not None and avail.available:
                    faults[fault] = FaultAvailability(True)
                    break
                why.append(f"{agent}: {avail.reason if avail else report.message}")
            else:
                faults[fault] = FaultAvailability(False, "; ".join(why))
        healthy = [n for n, r in reports.items() if r.ok]
        sick = {n: r.message for n, r in reports.items() if not r.ok}
        message = f"{len(healthy)}/{len(reports)} online agents reachable"
        if sick:
            message += "; " + "; ".join(f"{n}: {m}" for n, m in sorted(sick.items()))
        versions = sorted({r.version for r in reports.values() if r.version})
        return Health(ok=bool(healthy), version=",".join(versions), message=message, faults=faults)
