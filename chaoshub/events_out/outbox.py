"""The outbox: at the moment an event is recorded, one delivery row for each sink that wants
it, in the same transaction. Nothing here talks to a receiver (see :mod:`.drain`)."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub.events_out import envelope
from chaoshub.store.models import Event, EventDelivery, EventSink, Run

WEBHOOK = "webhook"
KUBERNETES_EVENTS = "kubernetes-events"
#: the adapters whose runs have a cluster to write Kubernetes Events on
KUBE_ADAPTERS = frozenset({"litmus", "chaos-mesh"})

_CACHE = "chaoshub.event_sinks"


@dataclass(frozen=True)
class SinkRule:
    id: str
    kind: str
    event_types: tuple[str, ...]

    def wants(self, ce_type: str) -> bool:
        return not self.event_types or any(fnmatchcase(ce_type, p) for p in self.event_types)


def _rules(session: Session) -> list[SinkRule]:
    """The enabled sinks, read once per session (a sink saved later counts from the next)."""
    rules: list[SinkRule] | None = session.info.get(_CACHE)
    if rules is None:
        with session.no_autoflush:
            rows = session.execute(
                select(EventSink.id, EventSink.kind, EventSink.event_types).where(
                    EventSink.enabled.is_(True)
                )
            ).all()
        rules = [SinkRule(r.id, r.kind, tuple(r.event_types or ())) for r in rows]
        session.info[_CACHE] = rules
    return rules


def forget_sinks(session: Session) -> None:
    """After a sink is saved in this session: read them again for the next event."""
    session.info.pop(_CACHE, None)


def enqueue(session: Session, event: Event) -> None:
    rules = _rules(session)
    if not rules:
        return
    with session.no_autoflush:
        ce_type = envelope.event_type(session, event)
        on_cluster: bool | None = None
        for rule in rules:
            if not rule.wants(ce_type):
                continue
            if rule.kind == KUBERNETES_EVENTS:
                if on_cluster is None:
                    run = envelope.find(session, Run, event.run_id) if event.run_id else None
                    on_cluster = run is not None and run.adapter in KUBE_ADAPTERS
                if not on_cluster:
                    continue
            session.add(EventDelivery(sink_id=rule.id, event=event, type=ce_type))
