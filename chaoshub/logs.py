"""Process logging: the hub's format, periodic ticks at debug, access lines without queries.

Two formats: ``text`` (one line, ``time level logger message``) and ``json`` (chosen with
``--log-format json`` or ``CHAOSHUB_LOG_FORMAT=json``): one JSON object per line with
``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``message``, every
structured field the call gave (``extra=``: a phase move carries ``run_id``, ``from``,
``to``, ``phase`` and ``reason``), ``exception`` with the traceback when there is one, and,
for uvicorn's access lines, ``client``, ``method``, ``path``, ``http_version`` and
``status``. Celery's and uvicorn's own lines take the same format.

Beat sends a reconcile every second and the worker logs each one received and done; at INFO
they buried everything else. Such lines about the periodic tasks are demoted to DEBUG
(shown with ``--log-level debug``). Uvicorn's access line carries the whole URL, whose query
string can hold a GraphQL document and its variables, so by default only the path is logged
(``CHAOSHUB_LOG_QUERIES=1`` keeps the query).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
FORMATS = ("text", "json")
ENV_FORMAT = "CHAOSHUB_LOG_FORMAT"

#: the attributes every LogRecord has: anything else on a record came from ``extra=``
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}  # uvicorn's coloured copy of the message
)

#: the periodic tasks whose scheduling and running is routine
TICK_TASKS = (
    "chaoshub.reconcile",
    "chaoshub.sweep_orphans",
    "chaoshub.fire_schedules",
    "chaoshub.advance_threshold_searches",
    "chaoshub.deliver_events",
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


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            line.update(
                zip(("client", "method", "path", "http_version", "status"), args, strict=True)
            )
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(FORMAT)


def configure(level: str, fmt: str = "text") -> None:
    """The root logger at ``level`` in format ``fmt``; periodic ticks demoted to DEBUG."""
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter(fmt))
    if fmt == "json":
        logging.captureWarnings(True)  # a warning is a log line too, not bare text
        _celery_logs_as_json()
    for name in TASK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DemoteTicks) for f in logger.filters):
            logger.addFilter(DemoteTicks())


def _celery_logs_as_json() -> None:
    """Celery's worker and beat set up logging of their own (a task logger with its own
    format, print statements redirected): a receiver of its ``setup_logging`` signal tells
    it the process is configured already, so every line goes through the root's handler."""
    from celery import signals
    from celery.apps import worker

    signals.setup_logging.connect(_configured, weak=False)
    # the worker says "Warm shutdown" and the like with a bare write from its signal
    # handlers; there a JSON line is written as directly, without logging's locks
    worker.safe_say = _say_json


def _configured(**_: Any) -> None:
    """Logging is already set up (by :func:`configure`)."""


def _say_json(msg: str, f: Any = None) -> None:
    line = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": "warning",
        "logger": "celery.apps.worker",
        "message": msg.strip(),
    }
    out = f or sys.__stderr__
    if out is not None:
        out.write(json.dumps(line) + "\n")
        out.flush()


class PathOnly(logging.Filter):
    """Cuts the query string off uvicorn's access line (its args: client, method, path,
    http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def uvicorn_log_config(log_queries: bool, fmt: str = "text") -> dict[str, Any]:
    """Uvicorn's own logging config, with :class:`PathOnly` on the access log unless
    queries are to be kept, and its lines as JSON when ``fmt`` is ``json``."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "loggers": {k: dict(v) for k, v in LOGGING_CONFIG["loggers"].items()},
        "handlers": {k: dict(v) for k, v in LOGGING_CONFIG["handlers"].items()},
    }
    if fmt == "json":
        config["formatters"] = {
            "default": {"()": JsonFormatter},
            "access": {"()": JsonFormatter},
        }
    if not log_queries:
        config["filters"] = {"path_only": {"()": PathOnly}}
        config["handlers"]["access"]["filters"] = ["path_only"]
    return config
