"""The ``aws-ssm`` adapter class: the contract's operations, wired to SSM and EC2.

What it was checked against, how abort and idempotency work and what it cannot do are
in the package docstring (:mod:`chaoshub.adapters.aws_ssm`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import botocore
from botocore.exceptions import ClientError

from chaoshub.adapters.aws_ssm import faults, rollback, targets
from chaoshub.adapters.aws_ssm.commands import Document, Ssm, comment_for
from chaoshub.adapters.aws_ssm.errors import ERROR_MAP, code_of, translate
from chaoshub.adapters.aws_ssm.observe import Invocation, parse_time
from chaoshub.adapters.aws_ssm.settings import CONFIG_SCHEMA, Clients, DocumentRef, Settings
from chaoshub.contract import (
    Adapter,
    Capabilities,
    Execution,
    FaultAvailability,
    Handle,
    Health,
    Observation,
    Observed,
    Target,
)
from chaoshub.errors import HubError, InvalidInput, RecoveryFailed


class AwsSsmAdapter(Adapter):
    name: ClassVar[str] = "aws-ssm"
    capabilities: ClassVar[Capabilities] = Capabilities(
        faults=frozenset(faults.FAULTS), pause=False
    )
    config_schema: ClassVar[Mapping[str, Any]] = CONFIG_SCHEMA
    error_map: ClassVar[Mapping[type[BaseException], type[HubError]]] = ERROR_MAP

    def __init__(self, config: Mapping[str, Any], *, backend: str = "") -> None:
        super().__init__(config, backend=backend)
        self.settings = Settings.from_config(self.config)
        self.clients = Clients(self.settings)
        self.api = Ssm(self.clients.get, self.settings)

    # -- pure checks -----------------------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        for fault in config.get("documents") or {}:
            if fault not in faults.FAULTS:
                raise InvalidInput(
                    f"aws-ssm has no fault {fault!r}", field=["config", "documents", fault]
                )

    def validate(self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]) -> None:
        faults.spec(fault)
        entry = faults.catalog_entries()[fault]
        entry.validate_params(params)
        targets.validate_selector(selector, entry.selector)

    # -- the contract ----------------------------------------------------------------------------

    def discover(self, fault: str, selector: Mapping[str, Any]) -> list[Target]:
        faults.spec(fault)
        targets.validate_selector(selector, faults.catalog_entries()[fault].selector)
        with self._aws():
            return targets.discover(
                self.api.ec2,
                self.api.ssm,
                selector,
                region=self.settings.region,
                require_ssm_online=self.settings.require_ssm_online,
            )

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        target = execution.target.id
        prepared = faults.document_parameters(
            execution.fault, execution.params, execution.duration_seconds
        )
        comment = comment_for(execution.id)
        with self._aws(target):
            doc = self._document(execution.fault)
            command = self.api.find_command(target, comment, doc.name)
            adopted = command is not None
            if command is None:
                parameters = self._document_parameters(execution.fault, doc, prepared)
                command = self.api.send(
                    instance_id=target, document=doc, parameters=parameters, comment=comment
                )
            data = _handle_data(execution, doc, command)
            invocation = self.api.invocation(data["command_id"], target, doc.steps)
            observation = self._observe(data, invocation)
        if adopted:
            native = f"adopted command {data['command_id']}: {observation.native}"
            observation = dataclasses.replace(observation, native=native)
        return data, observation

    def status(self, handle: Handle) -> Observation:
        target = handle.execution.target.id
        with self._aws(target):
            data = self._resolve(handle)
            if data is None:
                return Observation(
                    Observed.RECOVERED, native="no command was sent for this execution"
                )
            invocation = self.api.invocation(data["command_id"], target, data["steps"], wait=0)
            return self._observe(data, invocation)

    def recover(self, handle: Handle) -> Observation:
        target = handle.execution.target.id
        with self._aws(target):
            data = self._resolve(handle)
            if data is None:
                return Observation(
                    Observed.RECOVERED, native="no command was sent for this execution"
                )
            command_id, steps = data["command_id"], data["steps"]
            invocation = self.api.invocation(command_id, target, steps)
            if invocation is None or not invocation.ended:
                invocation = self._cancel(command_id, target, steps, invocation)
            chars = self.settings.output_tail_chars
            if self._may_still_hold(data, invocation):
                done = self._rollback(data, invocation)
                return Observation(
                    Observed.RECOVERED,
                    native=f"{invocation.native()}; network rollback {done.native()}",
                    messages=(*invocation.output(chars), *done.output(chars)),
                )
            return Observation(
                Observed.RECOVERED, native=invocation.native(), messages=invocation.output(chars)
            )

    def health(self) -> Health:
        available: dict[str, FaultAvailability] = {}
        try:
            with self._aws():
                for fault in sorted(faults.FAULTS):
                    try:
                        doc = self._document(fault)
                    except InvalidInput as exc:
                        available[fault] = FaultAvailability(False, exc.message)
                        continue
                    version = f" v{doc.document_version}" if doc.document_version else ""
                    available[fault] = FaultAvailability(True, f"{doc.name}{version}")
        except HubError as exc:
            return Health(ok=False, message=str(exc))
        missing = sorted(f for f, a in available.items() if not a.available)
        return Health(
            ok=True,
            version=f"SSM 2014-11-06 via botocore {botocore.__version__}",
            message=(
                f"documents missing for: {', '.join(missing)}"
                if missing
                else "all documents present"
            ),
            faults=available,
        )

    # -- inside ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _aws(self, target: str | None = None) -> Iterator[None]:
        """Translate AWS errors once, here, into hub errors that say what to do."""
        try:
            yield
        except HubError as exc:
            exc.with_context(adapter=self.name, backend=self.backend, target=target)
            raise
        except Exception as exc:
            hub = translate(exc, adapter=self.name, backend=self.backend, target=target)
            if hub is None:
                raise
            raise hub from exc

    def _document_ref(self, fault: str) -> DocumentRef:
        return self.settings.documents.get(fault) or DocumentRef(faults.spec(fault).document)

    def _document(self, fault: str) -> Document:
        ref = self._document_ref(fault)
        try:
            return self.api.document(ref)
        except ClientError as exc:
            if code_of(exc) in ("InvalidDocument", "InvalidDocumentVersion"):
                raise InvalidInput(
                    f"document {ref.name} does not exist in this account and region "
                    f"({self.settings.region}); name one under documents.{fault}",
                    field=["config", "documents", fault],
                    native_code=code_of(exc),
                ) from exc
            raise

    def _document_parameters(
        self, fault: str, doc: Document, prepared: faults.DocumentParameters
    ) -> dict[str, list[str]]:
        """Keep to the parameters the account's document declares; refuse what it lacks."""
        out: dict[str, list[str]] = {}
        for name, value in prepared.values.items():
            if name in doc.parameters:
                out[name] = list(value)
            elif name not in prepared.defaults:
                field = ["duration_seconds"] if name == "DurationSeconds" else ["params", name]
                raise InvalidInput(f"document {doc.name} has no parameter {name}", field=field)
        missing = sorted(
            n for n, default in doc.parameters.items() if default is None and n not in out
        )
        if missing:
            raise InvalidInput(
                f"document {doc.name} requires {', '.join(missing)}, which {fault} does not set",
                field=["config", "documents", fault],
            )
        return out

    def _resolve(self, handle: Handle) -> dict[str, Any] | None:
        """The handle's data, or the command found again from the execution id alone."""
        if handle.data and handle.data.get("command_id"):
            return dict(handle.data)
        execution = handle.execution
        ref = self._document_ref(execution.fault)
        command = self.api.find_command(execution.target.id, comment_for(execution.id), ref.name)
        if command is None:
            return None
        try:
            doc = self._document(execution.fault)
        except InvalidInput:  # the document was deleted since; read the invocation whole
            doc = Document(ref.name, ref.version, {}, ())
        return _handle_data(execution, doc, command)

    def _observe(self, data: Mapping[str, Any], invocation: Invocation | None) -> Observation:
        chars = self.settings.output_tail_chars
        if invocation is None:
            return Observation(Observed.PENDING, native="sent; SSM has no invocation yet")
        held_until = self._held_until(data, invocation)
        where = self._full_output(data)
        if invocation.status != "Success" or held_until is None or held_until <= _now():
            return invocation.observation(chars, extra=where)
        # the document returned, but a network fault is held until its duration is up
        found = self.api.find_command(
            data["instance_id"],
            comment_for(data["execution_id"], rollback=True),
            self._rollback_document(),
            after=parse_time(data.get("requested_at")),
        )
        done = None
        if found is not None:
            done = self.api.invocation(found["CommandId"], data["instance_id"], (), wait=0)
        if done is not None and done.status == "Success":
            return Observation(
                Observed.RECOVERED,
                native=f"{invocation.native()}; network rollback {done.native()}",
                messages=done.output(chars),
            )
        note = f"document returned; the fault is held until {held_until.isoformat()}"
        if done is not None:
            note += f"; network rollback {done.native()}"
        return dataclasses.replace(
            invocation.observation(chars, extra=(note, *where)), state=Observed.INJECTED
        )

    def _full_output(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        """Where the whole output is, when SSM sends it to CloudWatch Logs."""
        group = self.settings.log_group
        if not group:
            return ()
        streams = f"{data['command_id']}/{data['instance_id']}/<step>/stdout|stderr"
        return (f"full output: CloudWatch Logs group {group}, streams {streams}",)

    def _held_until(self, data: Mapping[str, Any], invocation: Invocation) -> datetime | None:
        """When a network fault's duration is up, counted from its step's start."""
        if not faults.spec(data["fault"]).network or not data.get("duration_seconds"):
            return None
        started = invocation.fault_started or parse_time(data.get("requested_at"))
        if started is None:
            return None
        return started + timedelta(seconds=float(data["duration_seconds"]))

    def _may_still_hold(self, data: Mapping[str, Any], invocation: Invocation) -> bool:
        """A network fault whose document ended before the fault's duration was up."""
        held_until = self._held_until(data, invocation)
        return (
            held_until is not None and invocation.fault_started is not None and held_until > _now()
        )

    def _cancel(
        self, command_id: str, target: str, steps: list[str], seen: Invocation | None
    ) -> Invocation:
        if seen is None or seen.status != "Cancelling":
            try:
                self.api.cancel(command_id, target)
            except ClientError as exc:
                # it may have ended between the read and the cancel; the poll below decides
                if code_of(exc) not in ("InvalidCommandId", "InvalidInstanceId"):
                    raise
        timeout = self.settings.cancel_timeout_seconds
        ended = self.api.wait_until_ended(command_id, target, steps, timeout)
        if ended is None or not ended.ended:
            state = ended.native() if ended else "unknown to SSM"
            raise RecoveryFailed(
                f"cancelled command {command_id}, but its invocation is still {state} "
                f"after {timeout:g}s",
                native_code=ended.status if ended else None,
            )
        return ended

    def _rollback_document(self) -> str:
        return self.settings.rollback_document or rollback.DOCUMENT

    def _rollback(self, data: Mapping[str, Any], fault_invocation: Invocation) -> Invocation:
        target = data["instance_id"]
        name = self._rollback_document()
        comment = comment_for(data["execution_id"], rollback=True)
        found = self.api.find_command(
            target, comment, name, after=parse_time(data.get("requested_at"))
        )
        if found is None or found.get("Status") in ("Failed", "TimedOut", "Cancelled"):
            if self.settings.rollback_document:
                doc = self.api.document(DocumentRef(name))
                parameters: dict[str, list[str]] = {}
            else:
                doc = Document(name, None, {}, ())
                parameters = rollback.parameters(self.settings.rollback_timeout_seconds)
            found = self.api.send(
                instance_id=target, document=doc, parameters=parameters, comment=comment
            )
            steps: tuple[str, ...] = doc.steps
        else:
            steps = ()
        timeout = float(self.settings.rollback_timeout_seconds) + 30
        done = self.api.wait_until_ended(found["CommandId"], target, steps, timeout)
        if done is None or done.status != "Success":
            state = done.native() if done else "unknown to SSM"
            output = done.output(self.settings.output_tail_chars) if done else ()
            raise RecoveryFailed(
                f"{fault_invocation.native()} before the fault's duration was up; the network "
                f"rollback command {found['CommandId']} is {state}",
                native_code=done.status if done else None,
                native_message="\n".join(output) or None,
            )
        return done


def _now() -> datetime:
    return datetime.now(UTC)


def _duration(execution: Execution) -> int | None:
    try:
        seconds = faults.duration_parameter(execution.fault, execution.duration_seconds)
    except InvalidInput:
        return None
    return int(seconds) if seconds else None


def _handle_data(execution: Execution, doc: Document, command: Mapping[str, Any]) -> dict[str, Any]:
    requested = command.get("RequestedDateTime")
    return {
        "execution_id": execution.id,
        "fault": execution.fault,
        "instance_id": execution.target.id,
        "command_id": command["CommandId"],
        "document": doc.name,
        "document_version": doc.version,
        "steps": list(doc.steps),
        "duration_seconds": _duration(execution),
        "requested_at": requested.isoformat() if isinstance(requested, datetime) else requested,
    }
