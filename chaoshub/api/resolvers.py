"""Plumbing shared by resolvers: the request context, auth, database work off the event
loop, the one wrapper every mutation goes through (role check, typed errors, audit), and the
one follower every "until it ends" subscription goes through."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

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

if TYPE_CHECKING:
    from chaoshub.api.commits import GroupCommit
    from chaoshub.api.tokens import TokenCache

log = logging.getLogger("chaoshub.api")

R = TypeVar("R")


class Phased(Protocol):
    @property
    def phase(self) -> str: ...


P = TypeVar("P", bound=Phased)


class Context(BaseContext):
    def __init__(
        self,
        runtime: Runtime,
        dispatch: Callable[[str, str, str], None],
        tokens: TokenCache | None = None,
        commits: GroupCommit | None = None,
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.dispatch = dispatch
        #: this process's token → actor cache (none: every request reads the token's row)
        self.tokens = tokens
        #: where concurrent mutations' writes are committed together (none: one by one)
        self.commits = commits
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
            if self.tokens is not None:
                self._actor = await self.tokens.authenticate(header)
            else:
                self._actor = await in_db(self.runtime, lambda s: auth.authenticate(s, header))
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
    #: runs to hand to a worker right after the commit: (run id, adapter, reason)
    dispatches: list[tuple[str, str, str]] = field(default_factory=list)
    #: bus messages to publish right after the commit (and the dispatches)
    notices: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Staged:
    """A mutation checked whole, with only rows left to write: ``store`` adds them to a
    session (without flushing) and returns what builds the outcome once they are flushed.
    Such writes are committed together with the others waiting (:mod:`.commits`)."""

    store: Callable[[Session], Callable[[], Outcome]]


async def mutate(
    info: strawberry.Info,
    action: str,
    role: str,
    input: dict[str, Any],
    fn: Callable[[Session, Actor], Outcome | Staged],
) -> Any:
    """A mutation: role checked, ``fn`` run in a transaction and audited with it, its
    refusal audited. A ``fn`` that returns :class:`Staged` has checked in its own
    transaction (reads only) and its rows are written with the audit entry by this
    process's group commit (:mod:`chaoshub.api.commits`)."""
    c = ctx(info)
    actor = await c.actor()
    try:
        actor.require(role)
    except Forbidden as exc:
        await _audit_refusal(c, actor, action, input, exc)
        return error_from(exc)

    def audited(s: Session, outcome: Outcome) -> Outcome:
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

    def stored(staged: Staged) -> Callable[[Session], Callable[[], Outcome]]:
        def write(s: Session) -> Callable[[], Outcome]:
            finish = staged.store(s)
            return lambda: audited(s, finish())

        return write

    def work(s: Session) -> Outcome | Staged:
        done = fn(s, actor)
        if isinstance(done, Staged):
            if c.commits is not None:
                return done  # checked; written by the group commit
            finish = stored(done)(s)
            s.flush()
            return finish()
        return audited(s, done)

    try:
        done = await in_db(c.runtime, work)
        if isinstance(done, Staged):
            assert c.commits is not None
            outcome = await c.commits.run(stored(done))
        else:
            outcome = done
            await _send(c, outcome)
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


async def _send(c: Context, outcome: Outcome) -> None:
    """What a committed mutation hands on: runs to their workers, notices to the bus (the
    group commit does this itself, for its whole batch)."""
    if not outcome.dispatches and not outcome.notices:
        return

    def send() -> None:
        for run_id, adapter, reason in outcome.dispatches:
            try:
                c.dispatch(run_id, adapter, reason)
            except Exception as exc:  # the run is stored; the reconciler will send it
                log.warning("sending run %s to a worker failed: %s", run_id, exc)
        c.runtime.bus.publish_many(outcome.notices)

    await to_thread.run_sync(send)


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
