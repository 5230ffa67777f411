"""How the CLI talks to a hub: GraphQL over HTTP for questions and commands, and a
subscription over a websocket (graphql-transport-ws, the token in ``connection_init``) to
follow a run as it moves.

A websocket that is refused on the way (a proxy that does not upgrade, an ingress without
websockets) or lost midway is not the end of a pipeline: following goes on by asking again
every :data:`POLL_SECONDS`. Anything that keeps the CLI from talking to the hub at all is a
one-line :class:`~chaoshub.cli_documents.UsageProblem` (exit 2)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from chaoshub.cli_documents import UsageProblem

POLL_SECONDS = 0.5
PROTOCOL = Subprotocol("graphql-transport-ws")
#: the close code of a websocket whose token the hub refuses (chaoshub.api.ws)
CLOSE_FORBIDDEN = 4403


class FollowTimeout(Exception):
    """The caller's deadline passed before the followed object ended."""


class _SubscriptionUnavailable(Exception):
    """The websocket could not be used: follow by polling instead."""


class Hub:
    """One hub at ``url``, as the holder of ``token``."""

    def __init__(self, url: str, token: str, *, timeout: float = 60) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def call(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GraphQL call's data; anything but an answer is a one-line UsageProblem."""
        where = f"{self.url}/graphql"
        try:
            response = self.client.post(
                "/graphql", json={"query": query, "variables": variables or {}}
            )
        except httpx.TransportError as exc:
            raise UsageProblem(
                f"cannot reach the hub at {self.url}: {str(exc) or type(exc).__name__}"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise UsageProblem(
                f"{where} answered HTTP {response.status_code} without a GraphQL body: is it a hub?"
            )
        if body.get("errors"):
            raise UsageProblem(_messages(body["errors"]))
        if response.status_code != 200 or not isinstance(body.get("data"), dict):
            raise UsageProblem(f"{where} answered HTTP {response.status_code}")
        return body["data"]

    def follow(
        self,
        subscription: str,
        poll: str,
        variables: dict[str, Any],
        *,
        ended: Callable[[dict[str, Any]], bool],
        deadline: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Each state of one object until it has ``ended``: from ``subscription`` (a query
        with one root field), or by asking ``poll`` (the same object by id) when the
        websocket cannot be used. A state may repeat; the last one yielded has ended.
        Raises :class:`FollowTimeout` once ``deadline`` (``time.monotonic()``) passes."""
        try:
            for state in self._subscribe(subscription, variables, deadline):
                yield state
                if ended(state):
                    return
        except _SubscriptionUnavailable:
            pass
        while True:
            data = self.call(poll, variables)
            state = _only(data)
            yield state
            if ended(state):
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise FollowTimeout
            time.sleep(POLL_SECONDS)

    # -- the websocket ---------------------------------------------------------------------

    def _ws_url(self) -> str:
        if self.url.startswith("https://"):
            return "wss://" + self.url[len("https://") :] + "/graphql"
        if self.url.startswith("http://"):
            return "ws://" + self.url[len("http://") :] + "/graphql"
        raise UsageProblem(f"the hub's URL must start with http:// or https://: {self.url}")

    def _subscribe(
        self, query: str, variables: dict[str, Any], deadline: float | None
    ) -> Iterator[dict[str, Any]]:
        try:
            ws = connect(self._ws_url(), subprotocols=[PROTOCOL], open_timeout=10, max_size=None)
        except (InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise _SubscriptionUnavailable(str(exc)) from None
        except OSError as exc:
            raise UsageProblem(
                f"cannot reach the hub at {self.url}: {exc.strerror or exc}"
            ) from None
        with ws:
            _send(ws, {"type": "connection_init", "payload": {"Authorization": self._bearer()}})
            first = _receive(ws, deadline)
            if first.get("type") != "connection_ack":
                raise _SubscriptionUnavailable(f"no connection_ack: {first}")
            _send(
                ws,
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                },
            )
            while True:
                message = _receive(ws, deadline)
                kind = message.get("type")
                if kind == "ping":
                    _send(ws, {"type": "pong"})
                elif kind == "next":
                    payload = message.get("payload") or {}
                    if payload.get("errors"):
                        raise UsageProblem(_messages(payload["errors"]))
                    yield _only(payload.get("data"))
                elif kind == "error":
                    raise UsageProblem(_messages(message.get("payload") or []))
                elif kind == "complete":
                    # ended without a last state we saw: ask once more, by polling
                    raise _SubscriptionUnavailable("completed")

    def _bearer(self) -> str:
        return f"Bearer {self.token}"


def _send(ws: ClientConnection, message: dict[str, Any]) -> None:
    try:
        ws.send(json.dumps(message))
    except ConnectionClosed as exc:
        _closed(exc)


def _receive(ws: ClientConnection, deadline: float | None) -> dict[str, Any]:
    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        raw = ws.recv(timeout=timeout)
    except TimeoutError:
        raise FollowTimeout from None
    except ConnectionClosed as exc:
        _closed(exc)
    try:
        message = json.loads(raw)
    except ValueError:
        raise _SubscriptionUnavailable("not JSON") from None
    if not isinstance(message, dict):
        raise _SubscriptionUnavailable("not a message")
    return message


def _closed(exc: ConnectionClosed) -> Any:
    """A closed websocket: a refused token is the person's to fix; anything else, poll."""
    if exc.rcvd is not None and exc.rcvd.code == CLOSE_FORBIDDEN:
        raise UsageProblem(f"the hub refused the token: {exc.rcvd.reason or 'forbidden'}")
    raise _SubscriptionUnavailable(str(exc))


def _only(data: Any) -> dict[str, Any]:
    """The value of the one root field of an answer; ``null`` means it does not exist."""
    if not isinstance(data, dict) or len(data) != 1:
        raise UsageProblem(f"unexpected answer from the hub: {data!r}")
    (value,) = data.values()
    if not isinstance(value, dict):
        raise UsageProblem("the hub has no such run (was it deleted?)")
    return value


def _messages(errors: Any) -> str:
    if not isinstance(errors, list):
        errors = [errors]
    return "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errors)
