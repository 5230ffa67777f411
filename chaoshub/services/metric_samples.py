"""A run's metric history: what the tool reported for each target over time, bounded."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoshub.errors import InvalidInput
from chaoshub.store.models import RunMetricSample

#: at most one sample per target this often; tools are asked every few seconds, but a
#: short fault lease makes the watch faster than a chart needs
MIN_INTERVAL = timedelta(seconds=2)
#: at most this many samples per run
MAX_PER_RUN = 2000


def spacing(duration_seconds: float | None, targets: int) -> timedelta:
    """How far apart one target's samples are kept so that a run of this duration and this
    many targets spreads :data:`MAX_PER_RUN` samples over its whole length (never closer
    than :data:`MIN_INTERVAL`): a day-long run is charted to its end, not its first hour."""
    if not duration_seconds:
        return MIN_INTERVAL
    return max(MIN_INTERVAL, timedelta(seconds=duration_seconds * max(targets, 1) / MAX_PER_RUN))


def record(
    s: Session,
    run_id: str,
    target_index: int,
    values: Mapping[str, Any],
    at: datetime,
    every: timedelta = MIN_INTERVAL,
) -> RunMetricSample | None:
    """Add a sample to the session (the caller commits), or None when it is not kept.

    Only finite numbers are kept (a NaN would make PostgreSQL refuse the whole step).

    Kept unless the target has a sample younger than ``every`` (see :func:`spacing`), or
    the run has :data:`MAX_PER_RUN` samples already (a run paused and resumed lives longer
    than its duration): beyond that cap writes are skipped, and the chart goes on with the
    targets' latest values.
    """
    numbers = {
        name: float(value)
        for name, value in values.items()
        if isinstance(value, int | float) and math.isfinite(value)
    }
    if not numbers:
        return None
    count, last = s.execute(
        select(
            func.count(RunMetricSample.id),
            func.max(RunMetricSample.at).filter(RunMetricSample.target_index == target_index),
        ).where(RunMetricSample.run_id == run_id)
    ).one()
    if count >= MAX_PER_RUN or (last is not None and at - last < every):
        return None
    sample = RunMetricSample(run_id=run_id, target_index=target_index, at=at, values=numbers)
    s.add(sample)
    return sample


def history(
    s: Session, run_id: str, *, since: datetime | None = None, last: int = 500
) -> list[RunMetricSample]:
    """The run's latest ``last`` samples (after ``since``, if given), oldest first."""
    if not 0 < last <= MAX_PER_RUN:
        raise InvalidInput(f"last must be between 1 and {MAX_PER_RUN}", field=["last"])
    q = select(RunMetricSample).where(RunMetricSample.run_id == run_id)
    if since is not None:
        q = q.where(RunMetricSample.at > since)
    rows = s.scalars(q.order_by(RunMetricSample.at.desc(), RunMetricSample.id.desc()).limit(last))
    return list(reversed(list(rows)))
