"""Plumbing shared by resolvers: the request context, auth, database work off the event
loop, the one wrapper every mutation goes through (role check, typed errors, audit), and the
one follower every "until it ends" subscription goes through."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import strawberry
from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session
from strawberry.fastapi import BaseContext

from chaoshub.api.types.common import error_from
from chaoshub.api.types.events import Event as EventType
from chaoshub.api.types.runs import MetricSample
from chaoshub.errors import Forbidden, HubError, Unauthenticated
from chaoshub.lifecycle import Phase
from chaoshub.runtime import Runtime
from chaoshub.services import audit, auth, metric_samples
from chaoshub.services.auth import Actor
from chaoshub.store.models import Event

log = logging.getLogger("chaoshub.api")

R = TypeVar("R")


class Phased(Protocol):
    @property
    def phase(self) -> str: ...


P = TypeVar("P", bound=Phased)


class Context(BaseContext):
    def __init__(self, runtime: Runtime, dispatch: Callable[[str, str, str], None]) -> None:
        super().__init__()
        self.runtime = runtime
        self.dispatch = dispatch
        self._actor: Actor | None = None
        #: on a websocket: who connection_init authenticated (checked again per operation)
        self.connection_actor: Actor | None = None

    def authorization(self) -> str | None:
        """The bearer token: the HTTP header, or on a websocket the connection_init payload."""
        params = self.connection_params or {}
        value = params.get("Authorization") or params.get("authorization")
        if not value and params.get("token"):
            value = f"Bearer {params['token']}"
        if value:
            return str(value)
        if self.request is not None:
            return self.request.headers.get("authorization")
        return None

    async def actor(self) -> Actor:
        if self._actor is None:
            header = self.authorization()

            def check(s: Session) -> Actor:
                return auth.authenticate(s, header)

            self._actor = await in_db(self.runtime, check)
        return self._actor


async def in_db(runtime: Runtime, fn: Callable[[Session], R]) -> R:
    """Run ``fn`` with a session in a worker thread; commit on success."""

    def work() -> R:
        with runtime.session() as s:
            return fn(s)

    return await to_thread.run_sync(work)


def ctx(info: strawberry.Info) -> Context:
    return info.context


async def read(info: strawberry.Info, fn: Callable[[Session, Actor], R], role: str = "viewer") -> R:
    """A query: authenticated, at least ``role``; errors surface as GraphQL errors."""
    c = ctx(info)
    actor = await c.actor()
    actor.require(role)
    return await in_db(c.runtime, lambda s: fn(s, actor))


async def by_name(info: strawberry.Info, model: Any, build: Callable[[Any], R]) -> list[R]:
    """Every row of ``model``, by name, each made a GraphQL object by ``build``."""
    return await read(
        info, lambda s, _a: [build(r) for r in s.scalars(select(model).order_by(model.name))]
    )


def plain(value: Any) -> Any:
    """An input object as plain data for the audit log."""
    if hasattr(value, "__dataclass_fields__") or hasattr(value, "__strawberry_definition__"):
        return {k: plain(v) for k, v in vars(value).items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass
class Outcome:
    """What a mutation did: its GraphQL result, what to audit, and what to do after commit."""

    result: Any
    subject: str | None = None
    #: said in the audit entry beside the ok (e.g. an admin override was used)
    audit_message: str = ""
    after_commit: list[Callable[[], None]] = field(default_factory=list)


async def mutate(
    info: strawberry.Info,
    action: str,
    role: str,
    input: dict[str, Any],
    fn: Callable[[Session, Actor], Outcome],
) -> Any:
    c = ctx(info)
    actor = await c.actor()
    try:
        actor.require(role)
    except Forbidden as exc:
        await _audit_refusal(c, actor, action, input, exc)
        return error_from(exc)

    def work(s: Session) -> Outcome:
        outcome = fn(s, actor)
        audit.write(
            s,
            actor,
            action,
            subject=outcome.subject,
            input=input,
            result="ok",
            message=outcome.audit_message,
        )
        return outcome

    try:
        outcome = await in_db(c.runtime, work)
    except HubError as exc:
        log.info(
            "%s refused: %s",
            action,
            exc,
            extra={"action": action, "actor": actor.name, "code": exc.code},
        )
        await _audit_refusal(c, actor, action, input, exc)
        return error_from(exc)
    for hook in outcome.after_commit:
        try:
            hook()
        except Exception as exc:  # the run is stored; the reconciler will send it
            log.warning("after-commit step of %s failed: %s", action, exc)
    return outcome.result


async def follow(
    info: strawberry.Info,
    load: Callable[[Session], P],
    watched: Callable[[P], Container[Any]],
) -> AsyncGenerator[P, None]:
    """An object now (``load``), then again each time the bus says a run in ``watched`` (of
    the object as last read) changed, until its phase is terminal."""
    c = ctx(info)
    await c.actor()
    stream = c.runtime.bus.subscribe()
    # listening starts before the first read, so no change between the two is missed
    pending: asyncio.Future[Any] = asyncio.ensure_future(stream.__anext__())
    try:
        current = await in_db(c.runtime, load)
        yield current
        while not Phase(current.phase).terminal:
            message = await pending
            pending = asyncio.ensure_future(stream.__anext__())
            if message.get("run_id") not in watched(current):
                continue
            current = await in_db(c.runtime, load)
            yield current
    finally:
        await _close_stream(stream, pending)


async def _close_stream(stream: Any, pending: asyncio.Future[Any]) -> None:
    """Stop a bus subscription whose next message may still be awaited by ``pending``.

    The generator cannot be closed while that task is inside it, so the task is cancelled
    and awaited first; closing then finds it finished."""
    if not pending.done():
        pending.cancel()
    await asyncio.gather(pending, return_exceptions=True)
    await stream.aclose()


async def _audit_refusal(
    c: Context, actor: Actor, action: str, input: dict[str, Any], exc: HubError
) -> None:
    code, message = exc.code, str(exc)
    await in_db(
        c.runtime,
        lambda s: audit.write(
            s, actor, action, subject=None, input=input, result=code, message=message
        ),
    )


async def run_events(info: strawberry.Info, run_id: str, last: int) -> list[EventType]:
    def q(s: Session, _actor: Actor) -> list[EventType]:
        rows = s.scalars(
            select(Event)
            .where(Event.run_id == run_id)
            .order_by(Event.id.desc())
            .limit(min(last, 1000))
        )
        return [EventType.build(r) for r in reversed(list(rows))]

    return await read(info, q)


async def run_metric_samples(
    info: strawberry.Info,
    run_id: str,
    labels: dict[int, str],
    since: datetime | None,
    last: int,
) -> list[MetricSample]:
    def q(s: Session, _actor: Actor) -> list[MetricSample]:
        rows = metric_samples.history(s, run_id, since=since, last=last)
        return [MetricSample.build(r, labels.get(r.target_index, "")) for r in rows]

    return await read(info, q)


def unauthenticated_error(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": Unauthenticated.code}}]}
