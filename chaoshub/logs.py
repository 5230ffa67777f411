"""Process logging: the hub's format, periodic ticks at debug, access lines without queries.

Beat sends a reconcile every second and the worker logs each one received and done; at INFO
they buried everything else. Such lines about the periodic tasks are demoted to DEBUG
(shown with ``--log-level debug``). Uvicorn's access line carries the whole URL, whose query
string can hold a GraphQL document and its variables, so by default only the path is logged
(``CHAOSHUB_LOG_QUERIES=1`` keeps the query).
"""

from __future__ import annotations

import logging
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

#: the periodic tasks whose scheduling and running is routine
TICK_TASKS = (
    "chaoshub.reconcile",
    "chaoshub.sweep_orphans",
    "chaoshub.fire_schedules",
    "chaoshub.advance_threshold_searches",
)

#: loggers that write a line per task sent, received or finished
TASK_LOGGERS = (
    "celery.beat",
    "celery.worker.strategy",
    "celery.worker.request",
    "celery.app.trace",
)


class DemoteTicks(logging.Filter):
    """Lets a line about a periodic task through only when DEBUG is on, as DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not _about_tick(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def _about_tick(record: logging.LogRecord) -> bool:
    try:
        text = record.getMessage()
    except Exception:  # a malformed record is not ours to judge
        return False
    return any(name in text for name in TICK_TASKS)


def configure(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=FORMAT)
    for name in TASK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DemoteTicks) for f in logger.filters):
            logger.addFilter(DemoteTicks())


class PathOnly(logging.Filter):
    """Cuts the query string off uvicorn's access line (its args: client, method, path,
    http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def uvicorn_log_config(log_queries: bool) -> dict[str, Any]:
    """Uvicorn's own logging config, with :class:`PathOnly` on the access log unless
    queries are to be kept."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "loggers": {k: dict(v) for k, v in LOGGING_CONFIG["loggers"].items()},
        "handlers": {k: dict(v) for k, v in LOGGING_CONFIG["handlers"].items()},
    }
    if not log_queries:
        config["filters"] = {"path_only": {"()": PathOnly}}
        config["handlers"]["access"]["filters"] = ["path_only"]
    return config
