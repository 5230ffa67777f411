"""What a file given to ``chaoshub run`` or ``chaoshub validate`` asks for: one fault (no
``kind``, or ``kind: Run``) or a workflow (``kind: Workflow``). The document says which, so
a pipeline passes either file to the same command.

Everything that can be said without the hub is said here, as one line naming the place:
``file:line:col`` for YAML that does not parse, the key for the rest. A workflow's own
checks (steps, probes, faults) are the hub's: it is the one that knows the catalog and the
backends, so the CLI never keeps a second copy of them that could disagree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

RUN = "Run"
WORKFLOW = "Workflow"
THRESHOLD_SEARCH = "ThresholdSearch"
KINDS = (RUN, WORKFLOW, THRESHOLD_SEARCH)
#: the keys of a single-fault file (``startRun``'s input)
RUN_KEYS = {"experimentId", "faultType", "backend", "params", "selector", "durationSeconds"}


class UsageProblem(click.ClickException):
    """Something the person must fix before the command can do anything: one line, exit 2."""

    exit_code = 2


@dataclass(frozen=True)
class Document:
    """A file's request: ``kind`` is :data:`RUN` or :data:`WORKFLOW`; ``body`` is what is
    sent (a run's ``startRun`` input without ``kind``; a workflow document whole)."""

    kind: str
    body: dict[str, Any]

    @property
    def is_workflow(self) -> bool:
        return self.kind == WORKFLOW

    @property
    def is_search(self) -> bool:
        return self.kind == THRESHOLD_SEARCH


def load_yaml(file: Path) -> Any:
    """The YAML (or JSON) value in ``file``; a file that does not parse is a
    :class:`UsageProblem` that says ``file:line:col``."""
    try:
        return yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        what = exc.problem or exc.context or "malformed"
        raise UsageProblem(f"{where}: not valid YAML: {what}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageProblem(f"{file}: not valid YAML: {exc}") from None


def parse_document(file: Path, value: Any) -> Document:
    """Decide what ``value`` (read from ``file``) asks for, or say why it asks for nothing."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise UsageProblem(
            f"{file}: expected a mapping: a workflow (kind: Workflow) or one fault "
            f"({', '.join(sorted(RUN_KEYS))})"
        )
    kind = value.get("kind", RUN)
    if kind not in KINDS:
        raise UsageProblem(
            f"{file}: kind: unknown kind {kind!r} (expected Workflow, ThresholdSearch or Run)"
        )
    if kind in (WORKFLOW, THRESHOLD_SEARCH):
        return Document(kind, value)
    body = {k: v for k, v in value.items() if k != "kind"}
    unknown = sorted(set(body) - RUN_KEYS, key=str)
    if unknown:
        raise UsageProblem(
            f"{file}: unknown key {unknown[0]!r} (expected {', '.join(sorted(RUN_KEYS))}, "
            "or kind: Workflow for a workflow)"
        )
    return Document(RUN, body)


def read_document(file: Path) -> Document:
    """The request in ``file`` (see :func:`parse_document`)."""
    return parse_document(file, load_yaml(file))


def field_path(parts: Sequence[str | int] | None) -> str:
    """A field path as people write it: ``["steps", "2", "fault"]`` is ``steps[2].fault``."""
    out = ""
    for part in parts or []:
        text = str(part)
        if text.isdigit():
            out += f"[{text}]"
        else:
            out += f".{text}" if out else text
    return out
