"""The adapter contract (DESIGN.md §5.1): what every built-in and outside adapter implements.

An adapter drives one chaos tool. It is constructed with one backend's config and is
synchronous; it runs in Celery workers, except :meth:`Adapter.validate`, which is pure
and runs in the API process. It never touches the database or the lifecycle: it reports
observed facts (:class:`Observation`) and the hub decides.

Required: :meth:`Adapter.discover`, :meth:`Adapter.inject`, :meth:`Adapter.status`,
:meth:`Adapter.recover`, :meth:`Adapter.health`. Optional hooks (:meth:`validate`,
:meth:`validate_config`, :meth:`close`) are safe no-ops; :meth:`Adapter.status_many` asks
``status`` per handle unless the tool can answer many in one call. Capabilities are data
(:class:`Capabilities`), narrowed by subclasses, never guessed by the hub.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chaoshub.errors import HubError

#: status calls the default :meth:`Adapter.status_many` makes at once
STATUS_THREADS = 16


class Observed(enum.StrEnum):
    """What a tool says about one target now, mapped onto the hub's vocabulary.

    ``UNKNOWN`` is the fallback for a native state the adapter cannot map; the native
    text is kept beside it.
    """

    PENDING = "pending"  # accepted by the tool, not applied yet
    INJECTED = "injected"  # the fault is in effect
    DONE = "done"  # the tool ran to its own end (external time control)
    RECOVERED = "recovered"  # nothing of the fault remains
    ABORTED = "aborted"  # the tool stopped it early
    FAILED = "failed"  # the tool failed
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Target:
    """One concrete thing a fault hits, as the adapter's ``discover`` found it."""

    id: str
    label: str
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "attributes": dict(self.attributes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        return cls(
            id=str(data["id"]),
            label=str(data.get("label") or data["id"]),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass(frozen=True)
class Execution:
    """One fault on one target, as one run asks for it.

    ``id`` is stable for the run, the target and the injection round (a resume after a
    pause is a new round), so a retried task can be recognised by the tool: ``inject``
    with an id that is already applied must adopt it, not apply it again.
    """

    id: str
    fault: str  # the fault's name within the adapter, e.g. "latency"
    params: Mapping[str, Any]
    target: Target
    duration_seconds: float | None = None
    lease_seconds: float | None = None


@dataclass(frozen=True)
class Handle:
    """What the hub stores to recover an injection from any worker.

    ``data`` is the adapter's opaque JSON returned by ``inject``; it is ``None`` when a
    worker died between asking the tool and storing the answer, so ``recover`` and
    ``status`` must be able to find the injection from ``execution.id`` alone.
    """

    execution: Execution
    data: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Observation:
    """What the tool says now about one injection."""

    state: Observed
    native: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    messages: tuple[str, ...] = ()
    #: for external time control: the tool's own verdict, when it gives one
    verdict: str | None = None


@dataclass(frozen=True)
class FaultAvailability:
    available: bool
    reason: str = ""


@dataclass(frozen=True)
class Health:
    """Can the backend be reached, which version, which faults it can do here and why not."""

    ok: bool
    version: str = ""
    message: str = ""
    faults: Mapping[str, FaultAvailability] = field(default_factory=dict)
    #: the tool's own limits on params and what they are checked against, as it reports
    #: them (a protocol-v1 server: its ``guards`` and ``host``); empty when it reports none
    limits: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can do, declared as data."""

    faults: frozenset[str] = frozenset()
    pause: bool = False  # can revert and re-apply a reversible fault on request

    def extend(
        self, *, faults: frozenset[str] | None = None, pause: bool | None = None
    ) -> Capabilities:
        return Capabilities(
            faults=self.faults | (faults or frozenset()),
            pause=self.pause if pause is None else pause,
        )


class Adapter:
    """Base class of every adapter. Subclasses set :attr:`name` and :attr:`capabilities`."""

    #: the adapter's registry name, e.g. ``"toxiproxy"``
    name: ClassVar[str] = ""
    #: the fault names it implements and whether it can pause
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: JSON Schema of a backend's config; checked by the hub before construction
    config_schema: ClassVar[Mapping[str, Any]] = {"type": "object"}
    #: the tool's exception types mapped to the hub error that says what to do
    error_map: ClassVar[Mapping[type[BaseException], type[HubError]]] = {}

    def __init__(self, config: Mapping[str, Any], *, backend: str = "") -> None:
        self.config = dict(config)
        self.backend = backend

    # -- optional hooks: pure, no I/O ---------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        """Check a backend config beyond its JSON Schema; raise ``InvalidInput``."""

    def validate(self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]) -> None:
        """Check params and selector beyond the JSON Schema; no I/O; raise ``InvalidInput``."""

    def close(self) -> None:
        """Release clients and sockets."""

    # -- required operations -------------------------------------------------------------------

    def discover(self, fault: str, selector: Mapping[str, Any]) -> list[Target]:
        """Resolve ``selector`` into concrete targets; an empty result raises ``NotFound``."""
        raise NotImplementedError

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        """Apply the fault to one target; idempotent for the same ``execution.id``."""
        raise NotImplementedError

    def status(self, handle: Handle) -> Observation:
        """What the tool says now about this injection."""
        raise NotImplementedError

    def recover(self, handle: Handle) -> Observation:
        """Revert; idempotent: recovering what is already gone is success."""
        raise NotImplementedError

    def status_many(self, handles: Sequence[Handle]) -> dict[str, Observation | HubError]:
        """:meth:`status` of several injections, by execution id: what the tool says of each,
        or the hub error asking about it raised. One that cannot be answered never hides the
        others, so this raises no ``HubError`` itself. The hub's watch calls it once per tick
        for all of a run's targets; the default asks :meth:`status` once per handle (in
        parallel, as the watch did before, so it is never slower than that), and an adapter
        whose tool answers many in one call (protocol v1.1's ``/v1/status/batch``) overrides
        it. Each answer renews the injection's lease as ``status`` does. A tool exception
        that :meth:`translate_errors` does not map is kept as a ``HubError`` naming its type."""
        unique = list({h.execution.id: h for h in handles}.values())
        if len(unique) <= 1:
            return {h.execution.id: self._status_or_error(h) for h in unique}
        with ThreadPoolExecutor(max_workers=min(STATUS_THREADS, len(unique))) as pool:
            found = pool.map(self._status_or_error, unique)
            return {h.execution.id: a for h, a in zip(unique, found, strict=True)}

    def _status_or_error(self, handle: Handle) -> Observation | HubError:
        target = handle.execution.target.id
        try:
            with self.translate_errors(target=target):
                return self.status(handle)
        except HubError as exc:
            return exc.with_context(adapter=self.name, backend=self.backend, target=target)
        except Exception as exc:
            error = HubError(
                f"{type(exc).__name__}: {exc}",
                adapter=self.name,
                backend=self.backend,
                target=target,
            )
            error.__cause__ = exc
            return error

    def health(self) -> Health:
        raise NotImplementedError

    def availability(self, fault: str, targets: list[Target]) -> dict[str, FaultAvailability]:
        """Whether ``fault`` can be done on each target (by target id; a target left out is
        taken as available). The default asks :meth:`health` once and answers for all; an
        adapter whose targets live on different hosts (agents) answers per host."""
        found = self.health().faults.get(fault)
        return {t.id: found for t in targets} if found is not None else {}

    def check_params(self, fault: str, params: Mapping[str, Any], targets: list[Target]) -> None:
        """Ask the tool whether it would take ``params`` where ``targets`` live, for what only
        it can tell (does a directory exist on that host); called before a run is stored.
        Raises ``InvalidInput`` naming the field. The default has nothing to ask."""

    def prepare_check_params(
        self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]
    ) -> None:
        """Called before :meth:`discover` when :meth:`check_params` will follow: an adapter
        that can tell from ``selector`` alone where the targets may live starts asking the
        tool there now, so the two round trips overlap. :meth:`check_params` still decides,
        for the targets discovery found. The default does nothing."""

    def check_limits(self, fault: str, params: Mapping[str, Any], targets: list[Target]) -> None:
        """Refuse params the tool would refuse on some target because of its own limits
        (free disk to leave, memory headroom, stressors), raising ``InvalidInput`` naming the
        param, before anything is stored. The default has no limits beyond the schema."""

    def forget(self, handle: Handle, reason: str) -> bool:
        """A person released this injection without a confirmed recovery: tell the tool to
        stop recovering it on its own (drop its record). Whether the tool was told; the
        default has nothing to tell."""
        return False

    # -- error translation, once, in one place -----------------------------------------------

    def classify(self, exc: BaseException) -> type[HubError] | None:
        """Which hub error a tool exception means, when its type alone does not say
        (one ``ClientError`` for everything, an HTTP status); ``None`` defers to
        :attr:`error_map`."""
        return None

    @contextlib.contextmanager
    def translate_errors(self, target: str | None = None) -> Iterator[None]:
        """Re-raise the tool's exceptions as the hub errors :meth:`classify` or
        :attr:`error_map` name."""
        try:
            yield
        except HubError as exc:
            raise exc.with_context(
                adapter=self.name, backend=self.backend, target=target
            ) from exc.__cause__
        except Exception as exc:
            classified = self.classify(exc)
            candidates = [(Exception, classified)] if classified else list(self.error_map.items())
            for exc_type, hub_type in candidates:
                if isinstance(exc, exc_type):
                    raise hub_type(
                        str(exc) or type(exc).__name__,
                        adapter=self.name,
                        backend=self.backend,
                        target=target,
                        native_code=_native_code(exc),
                        native_message=str(exc),
                    ) from exc
            raise


def _native_code(exc: BaseException) -> str | int | None:
    """The tool's own code for an error, where its exception carries one."""
    for attr in ("native_code", "status_code", "status", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None
