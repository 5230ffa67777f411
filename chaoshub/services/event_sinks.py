"""Saving event sinks and reading their deliveries. Everything a sink says is checked before
it is stored (refused naming its field, nothing changed); its secret is never read back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from chaoshub import secrets
from chaoshub.errors import Conflict, InvalidInput, NotFound
from chaoshub.events_out.outbox import KUBERNETES_EVENTS, WEBHOOK, forget_sinks
from chaoshub.services.auth import Actor
from chaoshub.store.models import EventDelivery, EventSink

KINDS = (WEBHOOK, KUBERNETES_EVENTS)
FORMATS = ("cloudevents", "slack")
STATES = ("pending", "delivered", "dead")
MAX_URL = 2000
MAX_SECRET = 500
MAX_TYPES = 50
_TYPE = re.compile(r"^[a-z0-9*][a-z0-9.*-]{0,199}$")
#: a keep-everything marker: the API's ``UNSET`` (field left out) reaches here as this
KEEP: Any = object()


@dataclass
class SinkInput:
    """What createEventSink and updateEventSink carry; in an update, None leaves a field be
    (``secret``: :data:`KEEP` or ``<set>`` keeps it, ``None`` removes it)."""

    name: str | None = None
    kind: str | None = None
    url: str | None = None
    format: str | None = None
    secret: Any = KEEP
    event_types: list[str] | None = None
    enabled: bool | None = None
    max_attempts: int | None = None
    max_age_seconds: float | None = None


def get(s: Session, sink_id: str) -> EventSink:
    row = s.get(EventSink, sink_id)
    if row is None:
        raise NotFound(f"no event sink with id {sink_id!r}", field=["id"])
    return row


def check_url(url: Any) -> str:
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise InvalidInput(f"a webhook needs a url of 1 to {MAX_URL} characters", field=["url"])
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise InvalidInput(f"url is not a URL: {exc}", field=["url"]) from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url must be http:// or https://", field=["url"])
    if not parts.hostname:
        raise InvalidInput("url has no host", field=["url"])
    if parts.username is not None or parts.password is not None:
        # credentials in a URL end up in logs and answers: use the secret (HMAC) instead
        raise InvalidInput("url may not carry a user or password", field=["url"])
    if parts.fragment:
        raise InvalidInput("url may not carry a #fragment", field=["url"])
    if any(c.isspace() for c in url):
        raise InvalidInput("url may not contain spaces", field=["url"])
    return url


def _check_types(types: Any) -> list[str]:
    if not isinstance(types, list) or len(types) > MAX_TYPES:
        raise InvalidInput(f"eventTypes is a list of at most {MAX_TYPES}", field=["eventTypes"])
    for i, t in enumerate(types):
        if not isinstance(t, str) or not _TYPE.match(t):
            raise InvalidInput(
                "an event type is lower-case letters, digits, '.', '-' and '*' (any run of "
                "characters), e.g. io.chaoshub.run.*",
                field=["eventTypes", str(i)],
            )
    return list(dict.fromkeys(types))


def _apply(s: Session, row: EventSink, data: SinkInput, creating: bool) -> EventSink:
    if data.name is not None or creating:
        name = data.name
        if not isinstance(name, str) or not (1 <= len(name.strip()) <= 200):
            raise InvalidInput("a sink needs a name of 1 to 200 characters", field=["name"])
        other = s.scalars(select(EventSink.id).where(EventSink.name == name.strip())).first()
        if other is not None and other != row.id:
            raise Conflict(f"an event sink named {name.strip()!r} exists", field=["name"])
        row.name = name.strip()
    if data.kind is not None or creating:
        if data.kind not in KINDS:
            raise InvalidInput(f"kind is one of {', '.join(KINDS)}", field=["kind"])
        row.kind = data.kind
    if data.format is not None:
        if data.format not in FORMATS:
            raise InvalidInput(f"format is one of {', '.join(FORMATS)}", field=["format"])
        row.format = data.format
    if data.url is not None and (creating or data.url != secrets.redact_url(row.url)):
        row.url = check_url(data.url)
    if data.secret is not KEEP and data.secret != secrets.SET:
        if data.secret is None:
            row.secret = ""
        elif not isinstance(data.secret, str) or not (1 <= len(data.secret) <= MAX_SECRET):
            raise InvalidInput(f"secret is 1 to {MAX_SECRET} characters", field=["secret"])
        else:
            row.secret = data.secret
    if data.event_types is not None:
        row.event_types = _check_types(data.event_types)
    if data.enabled is not None:
        row.enabled = data.enabled
    if data.max_attempts is not None:
        if not 1 <= data.max_attempts <= 50:
            raise InvalidInput("maxAttempts is 1 to 50", field=["maxAttempts"])
        row.max_attempts = data.max_attempts
    if data.max_age_seconds is not None:
        if not 1 <= data.max_age_seconds <= 7 * 86400:
            raise InvalidInput("maxAgeSeconds is 1 to 604800 (a week)", field=["maxAgeSeconds"])
        row.max_age_seconds = data.max_age_seconds
    if row.kind == WEBHOOK:
        if not row.url:
            raise InvalidInput("a webhook needs a url", field=["url"])
        row.format = row.format or "cloudevents"
    elif row.url or row.secret:
        field = "url" if row.url else "secret"
        raise InvalidInput(f"a {row.kind} sink takes no {field}", field=[field])
    forget_sinks(s)
    return row


def create(s: Session, actor: Actor, data: SinkInput) -> EventSink:
    row = EventSink(
        url="", secret="", format="cloudevents", event_types=[], enabled=True, created_by=actor.name
    )
    row.max_attempts, row.max_age_seconds = 10, 86400.0
    _apply(s, row, data, creating=True)
    s.add(row)
    s.flush()
    return row


def update(s: Session, sink_id: str, data: SinkInput) -> EventSink:
    row = get(s, sink_id)
    if data.kind is not None and data.kind != row.kind:
        raise InvalidInput("a sink's kind cannot change: make a new sink", field=["kind"])
    _apply(s, row, data, creating=False)
    row.updated_at = datetime.now(UTC)
    s.flush()
    return row


def delete(s: Session, sink_id: str) -> EventSink:
    row = get(s, sink_id)
    s.execute(sql_delete(EventDelivery).where(EventDelivery.sink_id == row.id))
    s.delete(row)
    forget_sinks(s)
    return row


def deliveries(
    s: Session, sink_id: str, state: str | None, first: int, before: int | None
) -> list[EventDelivery]:
    """A sink's deliveries, newest first."""
    get(s, sink_id)
    if state is not None and state not in STATES:
        raise InvalidInput(f"state is one of {', '.join(STATES)}", field=["state"])
    if not 1 <= first <= 500:
        raise InvalidInput("first is 1 to 500", field=["first"])
    q = select(EventDelivery).where(EventDelivery.sink_id == sink_id)
    if state:
        q = q.where(EventDelivery.state == state)
    if before is not None:
        q = q.where(EventDelivery.id < before)
    return list(s.scalars(q.order_by(EventDelivery.id.desc()).limit(first)))


def redeliver(s: Session, sink_id: str, ids: list[int] | None) -> int:
    """Make dead deliveries pending again (all of the sink's when ``ids`` is None)."""
    get(s, sink_id)
    q = sql_update(EventDelivery).where(
        EventDelivery.sink_id == sink_id, EventDelivery.state == "dead"
    )
    if ids is not None:
        if not ids or len(ids) > 1000:
            raise InvalidInput("ids is a list of 1 to 1000 delivery ids", field=["ids"])
        q = q.where(EventDelivery.id.in_(ids))
    now = datetime.now(UTC)
    done = s.execute(
        q.values(state="pending", attempts=0, next_attempt_at=now, created_at=now, last_error="")
    )
    return int(done.rowcount)  # type: ignore[attr-defined]
