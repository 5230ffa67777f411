"""Delivering the outbox: each sink's queue in ``id`` order, one drain at a time per sink.

A delivery that fails waits out a back-off (tenacity's exponential wait with jitter,
counted from the attempts stored on the row, so any worker carries on where another
stopped) and holds the deliveries behind it, which keeps a sink's order. When a
delivery has failed ``max_attempts`` times or is older than ``max_age_seconds`` it is
``dead``: kept for the API's dead-letter list, and the queue moves on. An admin's
``redeliverEvents`` makes dead ones pending again.

Runs in its own Celery task on its own queue (``events``): a slow or absent receiver
costs that task's time, never a run's."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session
from tenacity import RetryCallState, wait_exponential_jitter

from chaoshub import secrets
from chaoshub.errors import HubError
from chaoshub.events_out import envelope, kube_events, signing
from chaoshub.events_out.outbox import KUBERNETES_EVENTS
from chaoshub.runtime import Runtime
from chaoshub.store.models import EventDelivery, EventSink

log = logging.getLogger("chaoshub.events_out")

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
#: how long one drain holds a sink before another may take it over (renewed per delivery;
#: at least three delivery timeouts)
LEASE_SECONDS = 60.0
#: what an error message stored on a delivery is cut to
ERROR_CHARS = 500
USER_AGENT = "chaoshub-events/1"
#: how long a delivered delivery is kept (the dead ones stay until redelivered or deleted)
KEEP_DELIVERED = timedelta(days=7)
PRUNE_EVERY_SECONDS = 600.0
_pruned_at = 0.0


def now() -> datetime:
    return datetime.now(UTC)


def backoff(settings_base: float, settings_max: float, attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones."""
    wait = wait_exponential_jitter(
        initial=settings_base, max=settings_max, exp_base=2, jitter=settings_base / 2
    )
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = max(1, attempts)
    return float(wait(state))


@dataclass(frozen=True)
class Attempt:
    """One delivery as the drain sends it, read in one short transaction."""

    delivery_id: int
    sink_kind: str
    url: str
    format: str
    secret: str
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Result:
    ok: bool
    status: int | None = None
    error: str = ""


def drain(rt: Runtime, *, budget_seconds: float = 20.0) -> int:
    """Deliver what is due, for every sink; answers how many deliveries were tried."""
    global _pruned_at
    deadline = time.monotonic() + budget_seconds
    owner = uuid.uuid4().hex
    if time.monotonic() - _pruned_at > PRUNE_EVERY_SECONDS:
        _pruned_at = time.monotonic()
        prune(rt)
    with rt.session() as s:
        sink_ids = list(
            s.scalars(
                select(EventDelivery.sink_id)
                .where(EventDelivery.state == PENDING, EventDelivery.next_attempt_at <= now())
                .distinct()
            )
        )
    tried = 0
    for sink_id in sink_ids:
        if time.monotonic() >= deadline:
            break
        if not _claim(rt, sink_id, owner):
            continue  # another drain has it
        try:
            tried += _drain_sink(rt, sink_id, deadline)
        finally:
            _release(rt, sink_id, owner)
    return tried


def prune(rt: Runtime, keep: timedelta = KEEP_DELIVERED) -> int:
    """Forget deliveries made longer ago than ``keep``; answers how many."""
    with rt.session() as s:
        done = s.execute(
            delete(EventDelivery).where(
                EventDelivery.state == DELIVERED, EventDelivery.delivered_at < now() - keep
            )
        )
        return int(done.rowcount)  # type: ignore[attr-defined]


def lease_seconds(rt: Runtime) -> float:
    """Long enough that one attempt always ends inside the lease that covers it."""
    return max(LEASE_SECONDS, 3 * rt.settings.event_delivery_timeout_seconds)


def _claim(rt: Runtime, sink_id: str, owner: str) -> bool:
    at = now()
    with rt.session() as s:
        done = s.execute(
            update(EventSink)
            .where(
                EventSink.id == sink_id,
                EventSink.enabled.is_(True),
                or_(EventSink.drain_until.is_(None), EventSink.drain_until < at),
            )
            .values(drain_owner=owner, drain_until=at + timedelta(seconds=lease_seconds(rt)))
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]


def _release(rt: Runtime, sink_id: str, owner: str) -> None:
    with rt.session() as s:
        s.execute(
            update(EventSink)
            .where(EventSink.id == sink_id, EventSink.drain_owner == owner)
            .values(drain_owner=None, drain_until=None)
        )


def _drain_sink(rt: Runtime, sink_id: str, deadline: float) -> int:
    tried = 0
    while time.monotonic() < deadline:
        with rt.session() as s:
            attempt = _next(s, sink_id)
        if attempt is None:
            break
        result = _kube(rt, attempt) if attempt.sink_kind == KUBERNETES_EVENTS else post(rt, attempt)
        tried += 1
        with rt.session() as s:
            moved_on = _settle(rt, s, attempt.delivery_id, result)
        if not moved_on:
            break  # the head of the queue waits out its back-off; the rest wait behind it
    return tried


def _next(s: Session, sink_id: str) -> Attempt | None:
    """The head of the sink's queue when it is due; dead-letters it when it is too old."""
    while True:
        sink = s.get(EventSink, sink_id)
        if sink is None or not sink.enabled:
            return None
        d = s.scalars(
            select(EventDelivery)
            .where(EventDelivery.sink_id == sink_id, EventDelivery.state == PENDING)
            .order_by(EventDelivery.id)
            .limit(1)
        ).first()
        if d is None or d.next_attempt_at > now():
            return None
        if (now() - d.created_at).total_seconds() > sink.max_age_seconds:
            d.state = DEAD
            d.last_error = (d.last_error + " (older than the sink's maxAgeSeconds)").strip()
            s.flush()
            continue
        body, content_type = (
            envelope.body(sink.format, d.event, d.type)
            if sink.kind != KUBERNETES_EVENTS
            else (b"", "")  # written by kube_events from the stored rows
        )
        return Attempt(
            delivery_id=d.id,
            sink_kind=sink.kind,
            url=sink.url,
            format=sink.format,
            secret=sink.secret,
            body=body,
            content_type=content_type,
        )


def post(rt: Runtime, attempt: Attempt) -> Result:
    headers = {
        "Content-Type": attempt.content_type,
        "User-Agent": USER_AGENT,
        "X-Chaoshub-Delivery": str(attempt.delivery_id),
        **signing.headers(attempt.secret, int(time.time()), attempt.body),
    }
    try:
        answer = httpx.post(
            attempt.url,
            content=attempt.body,
            headers=headers,
            timeout=rt.settings.event_delivery_timeout_seconds,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        said = str(exc).replace(attempt.url, secrets.redact_url(attempt.url))
        return Result(False, None, f"{type(exc).__name__}: {said}"[:ERROR_CHARS])
    if 200 <= answer.status_code < 300:
        return Result(True, answer.status_code)
    return Result(
        False, answer.status_code, f"HTTP {answer.status_code}: {answer.text[:200]}"[:ERROR_CHARS]
    )


def _kube(rt: Runtime, attempt: Attempt) -> Result:
    try:
        kube_events.deliver(rt, attempt.delivery_id)
    except HubError as exc:
        return Result(False, None, str(exc)[:ERROR_CHARS])
    except Exception as exc:  # a receiver's failure is the delivery's, never the drain's
        log.exception("Kubernetes Events delivery failed")
        return Result(False, None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
    return Result(True)


def _settle(rt: Runtime, s: Session, delivery_id: int, result: Result) -> bool:
    """Store what the attempt did; answers whether the queue may move on at once."""
    d = s.get(EventDelivery, delivery_id)
    if d is None or d.state != PENDING:
        return True  # deleted with its sink, or redelivered/settled meanwhile
    sink = s.get(EventSink, d.sink_id)
    d.attempts += 1
    d.last_status = result.status
    s.execute(
        update(EventSink)
        .where(EventSink.id == d.sink_id)
        .values(drain_until=now() + timedelta(seconds=lease_seconds(rt)))
    )
    if result.ok:
        d.state, d.delivered_at, d.last_error = DELIVERED, now(), ""
        return True
    d.last_error = result.error
    too_old = sink is None or (now() - d.created_at).total_seconds() > sink.max_age_seconds
    if sink is None or d.attempts >= sink.max_attempts or too_old:
        d.state = DEAD
        log.warning(
            "event delivery dead after %d attempts: %s",
            d.attempts,
            result.error,
            extra={"sink": d.sink_id, "delivery": d.id, "event": d.event_id},
        )
        return True
    wait = backoff(rt.settings.event_retry_seconds, rt.settings.event_retry_max_seconds, d.attempts)
    d.next_attempt_at = now() + timedelta(seconds=wait)
    log.info(
        "event delivery failed (attempt %d), next in %.1fs: %s",
        d.attempts,
        wait,
        result.error,
        extra={"sink": d.sink_id, "delivery": d.id, "event": d.event_id},
    )
    return False
