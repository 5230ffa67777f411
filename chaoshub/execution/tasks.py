"""Celery tasks: inject, poll and recover a run, reconcile everything, fire due schedules,
sweep orphans.

``inject``, ``poll`` and ``recover`` all call the same driver, which does whatever the
run's stored phase and desired state call for; their names say why the task was sent,
and any of them run twice is harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_shutdown

from chaoshub.execution import driver, reconciler, sweeper, watch
from chaoshub.execution.celery_app import WORKFLOW_QUEUE, adapter_queue, app
from chaoshub.runtime import get_runtime
from chaoshub.workflows import engine

log = logging.getLogger("chaoshub.execution")

#: what :func:`dispatch` is given as the adapter of a workflow run
WORKFLOW = reconciler.WORKFLOW

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@app.task(name="chaoshub.inject", **TASK_OPTIONS)
def inject(run_id: str) -> None:
    driver.advance(get_runtime(), run_id)


@app.task(name="chaoshub.poll", **TASK_OPTIONS)
def poll(run_id: str) -> None:
    driver.advance(get_runtime(), run_id)


@app.task(name="chaoshub.recover", **TASK_OPTIONS)
def recover(run_id: str) -> None:
    driver.advance(get_runtime(), run_id)


@app.task(name="chaoshub.workflow", **TASK_OPTIONS)
def advance_workflow(workflow_run_id: str) -> None:
    engine.advance(get_runtime(), workflow_run_id, dispatch, requeue=requeue_workflow)


def requeue_workflow(workflow_run_id: str) -> None:
    advance_workflow.apply_async(args=[workflow_run_id], queue=WORKFLOW_QUEUE)


@app.task(name="chaoshub.reconcile", ignore_result=True)
def reconcile() -> None:
    reconciler.reconcile(get_runtime(), dispatch)


@app.task(name="chaoshub.fire_schedules", ignore_result=True)
def fire_schedules() -> None:
    from chaoshub.schedules import firing

    firing.fire_due(get_runtime(), dispatch)


@app.task(name="chaoshub.advance_threshold_searches", ignore_result=True)
def advance_threshold_searches() -> None:
    from chaoshub.thresholds import driver as thresholds

    thresholds.advance_all(get_runtime(), dispatch)


@app.task(name="chaoshub.deliver_events", ignore_result=True)
def deliver_events() -> None:
    from chaoshub.events_out import drain

    drain.drain(get_runtime())


@app.task(name="chaoshub.sweep_orphans", ignore_result=True)
def sweep_orphans() -> None:
    sweeper.sweep_orphans(get_runtime())


@worker_shutdown.connect
def _let_watched_runs_go(**_: Any) -> None:
    """A worker shutting down lets go of the runs its watch holds, so another worker takes
    them at the reconciler's next pass instead of after their leases lapse."""
    watch.stop_all()


def dispatch(run_id: str, adapter: str, reason: str) -> None:
    """Send the task that fits ``reason`` to the adapter's queue (a workflow run, whose
    "adapter" is :data:`WORKFLOW`, to the workflows queue)."""
    if adapter == WORKFLOW:
        requeue_workflow(run_id)
        return
    task = {"inject": inject, "poll": poll, "recover": recover}.get(reason, poll)
    if reason == "recover":
        # a run in effect is held by one worker process's watch, and the task may reach
        # another: the holder hears of the wish at once instead of at its next look
        get_runtime().bus.tell_wish(run_id)
    task.apply_async(args=[run_id], queue=adapter_queue(adapter))
