"""The Celery app: one queue per adapter (``adapter.<name>``), ``hub`` for the reconciler,
the schedules and the orphan sweep (beat entries of their own, so a slow agent never holds up
a reconciler pass).

Tasks are idempotent and acknowledged late; a task whose worker is killed is rejected
back to the broker and redelivered. The database, not the broker, holds the state: a
lost message costs at most one reconciler interval.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from chaoshub import registry
from chaoshub.config import Settings

HUB_QUEUE = "hub"
#: workflow drivers: apart from ``hub``, so a long workflow never delays the reconciler
WORKFLOW_QUEUE = "workflows"
#: events out (webhooks, Kubernetes Events): apart, so a slow receiver never holds up a run
EVENTS_QUEUE = "events"

app = Celery("chaoshub", include=["chaoshub.execution.tasks"])


def adapter_queue(adapter: str) -> str:
    return f"adapter.{adapter}"


def all_queues() -> list[str]:
    return [HUB_QUEUE, WORKFLOW_QUEUE, EVENTS_QUEUE, *(adapter_queue(n) for n in registry.names())]


def broker_url(settings: Settings) -> str:
    """The broker URL Celery uses: ``memory://`` is served by the in-memory transport that
    wakes an idle worker at once (:mod:`chaoshub.execution.memory_broker`)."""
    if settings.broker_url.startswith("memory://"):
        from chaoshub.execution import memory_broker

        return memory_broker.register()
    return settings.broker_url


def configure(settings: Settings) -> Celery:
    app.conf.update(
        broker_url=broker_url(settings),
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_default_queue=HUB_QUEUE,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            # a killed worker's unacked task comes back after this long; the reconciler
            # picks the run up sooner from the stored lease
            "visibility_timeout": 300,
            "polling_interval": 0.1,
        },
        beat_schedule=beat_schedule(settings),
        timezone="UTC",
    )
    return app


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The reconciler and the schedules every ``reconcile_seconds``; the orphan sweep every
    ``orphan_sweep_seconds`` unless that is 0. A tick still queued at the next one expires."""
    schedule: dict[str, dict[str, Any]] = {
        "reconcile": {
            "task": "chaoshub.reconcile",
            "schedule": settings.reconcile_seconds,
            "options": {"queue": HUB_QUEUE, "expires": max(settings.reconcile_seconds * 5, 5)},
        },
        # due schedules: as often as the reconciler; every beat sends it, and each tick is
        # claimed once in the database whichever pass gets there first
        "fire-schedules": {
            "task": "chaoshub.fire_schedules",
            "schedule": settings.reconcile_seconds,
            "options": {"queue": HUB_QUEUE, "expires": max(settings.reconcile_seconds * 5, 5)},
        },
        # threshold searches: each pass moves every search whose trial ended to its next one
        "advance-threshold-searches": {
            "task": "chaoshub.advance_threshold_searches",
            "schedule": settings.reconcile_seconds,
            "options": {"queue": HUB_QUEUE, "expires": max(settings.reconcile_seconds * 5, 5)},
        },
        # events out: each pass delivers what is due on every sink (one pass per sink at once)
        "deliver-events": {
            "task": "chaoshub.deliver_events",
            "schedule": settings.reconcile_seconds,
            "options": {"queue": EVENTS_QUEUE, "expires": max(settings.reconcile_seconds * 5, 5)},
        },
    }
    if settings.orphan_sweep_seconds > 0:
        schedule["sweep-orphans"] = {
            "task": "chaoshub.sweep_orphans",
            "schedule": settings.orphan_sweep_seconds,
            "options": {"queue": HUB_QUEUE, "expires": settings.orphan_sweep_seconds},
        }
    return schedule
