"""Registration with the hub and the heartbeat that keeps the agent online there.

``POST {hub}/agents/register`` (the agent's own token) announces name, URL, labels,
version, the token the hub must use to call back, and what this host can do; the answer
says how often to beat. ``POST {hub}/agents/heartbeat`` then carries the active
execution ids (and the capabilities when they changed); a 404 means the hub forgot the
agent, so it registers again. Both carry ``limits``, the guards and the host as measured
now (free memory and disk, stressors running): the hub checks a start against them
instead of asking this agent for its full health report each time. A hub that is down is
retried with backoff for as long as it takes: the injector itself keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential,
)

log = logging.getLogger("chaoshub.injector.hubclient")


class _Forgotten(Exception):
    """The hub answered 404 to a heartbeat: it does not know this agent (any more)."""


class HubRefused(httpx.HTTPError):
    """The hub refused this agent (its token, its name or its URL): retried, since only a
    person can fix it, but said plainly rather than as an unreachable hub."""


def _raise_for_status(answer: httpx.Response) -> None:
    if 400 <= answer.status_code < 500:
        try:
            title = str(answer.json().get("title") or answer.text)
        except ValueError:
            title = answer.text
        raise HubRefused(f"{answer.request.url.path} answered {answer.status_code}: {title}")
    answer.raise_for_status()


def _before_sleep(hub: str) -> Callable[[Any], None]:
    def report(rs: Any) -> None:
        error = rs.outcome.exception() if rs.outcome else None
        if isinstance(error, HubRefused):
            log.error(
                "the hub refuses this agent, retrying", extra={"hub": hub, "error": str(error)}
            )
        else:
            log.warning(
                "hub not reachable, retrying", extra={"hub": hub, "error": str(error or "")}
            )

    return report


@dataclass
class Registration:
    hub: str
    token: str
    name: str
    url: str
    api_token: str
    version: str
    labels: Mapping[str, str] = field(default_factory=dict)


class HubClient:
    def __init__(
        self,
        reg: Registration,
        capabilities: Callable[[], dict[str, dict[str, Any]]],
        active: Callable[[], list[str]],
        *,
        limits: Callable[[], dict[str, Any]] | None = None,
        timeout: float = 5.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.reg = reg
        self.capabilities = capabilities
        self.active = active
        self.limits = limits
        self.max_backoff = max_backoff
        self.heartbeat_seconds = 5.0
        self.registered = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sent_caps: dict[str, dict[str, Any]] | None = None
        self._http = httpx.Client(
            base_url=reg.hub.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": f"Bearer {reg.token}"},
        )
        self._thread = threading.Thread(target=self._run, name="hub-client", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        """Beat now rather than at the next interval (what the hub checks starts against
        changed: a stress fault or a disk fill began or ended)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._http.close()

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type((httpx.HTTPError, ValueError)),
            wait=wait_exponential(multiplier=0.5, max=self.max_backoff),
            stop=stop_when_event_set(self._stop),
            sleep=self._sleep,
            before_sleep=_before_sleep(self.reg.hub),
            reraise=False,
        )

    def register(self) -> None:
        caps = self.capabilities()
        body = {
            "name": self.reg.name,
            "url": self.reg.url,
            "labels": dict(self.reg.labels),
            "version": self.reg.version,
            "api_token": self.reg.api_token,
            "capabilities": caps,
        }
        if self.limits is not None:
            body["limits"] = self.limits()
        answer = self._http.post("/agents/register", json=body)
        _raise_for_status(answer)
        data = answer.json()
        self.heartbeat_seconds = float(data.get("heartbeat_seconds") or 5.0)
        self._sent_caps = caps
        self.registered.set()
        log.info("registered with the hub", extra={"hub": self.reg.hub, "agent": self.reg.name})

    def heartbeat(self) -> None:
        body: dict[str, Any] = {"name": self.reg.name, "active": self.active()}
        caps = self.capabilities()
        if caps != self._sent_caps:
            body["capabilities"] = caps
        if self.limits is not None:
            body["limits"] = self.limits()
        answer = self._http.post("/agents/heartbeat", json=body)
        if answer.status_code == 404:
            raise _Forgotten()
        _raise_for_status(answer)
        if "capabilities" in body:
            self._sent_caps = caps

    def _next_beat(self) -> bool:
        """Wait for the next beat (the interval, or a nudge); ``True`` once stopped."""
        self._wake.wait(self.heartbeat_seconds)
        self._wake.clear()
        return self._stop.is_set()

    def _run(self) -> None:
        with contextlib.suppress(RetryError):  # raised when stopped while waiting for the hub
            self._loop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.registered.clear()
            for attempt in self._retrying():
                with attempt:
                    self.register()
            if self._stop.is_set():
                return
            try:
                while not self._next_beat():
                    for attempt in self._retrying():
                        with attempt:
                            self.heartbeat()
            except _Forgotten:
                log.warning("the hub does not know this agent; registering again")
