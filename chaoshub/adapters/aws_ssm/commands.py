"""SSM Run Command calls, with the retries the API needs.

- Every call backs off on throttling (exponential, jittered, bounded attempts), through
  tenacity, so the waits are the adapter's and can be seen and tested.
- GetCommandInvocation answers ``InvocationDoesNotExist`` for a moment after SendCommand
  (the API is eventually consistent); that answer is retried for a bounded time.
- A command carries a ``Comment`` derived from the execution id: SendCommand has no
  client token, so this is how an injection is found again (idempotent inject, recover
  without a stored handle). ListCommands cannot filter on it, so the adapter lists the
  instance's commands of that document and matches the comment itself.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import yaml
from botocore.exceptions import ClientError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from chaoshub.adapters.aws_ssm.errors import code_of, is_throttling
from chaoshub.adapters.aws_ssm.observe import Invocation
from chaoshub.adapters.aws_ssm.settings import DocumentRef, Settings

log = logging.getLogger("chaoshub.adapters.aws_ssm")

_COMMENT_MAX = 100
#: ListCommands pages searched for an execution's command (50 commands a page)
_MAX_PAGES = 20
_DOC_CACHE_SECONDS = 300.0


def comment_for(execution_id: str, *, rollback: bool = False) -> str:
    """The Comment that names an execution's command; deterministic, at most 100 chars."""
    prefix = "chaoshub rollback " if rollback else "chaoshub "
    text = prefix + execution_id
    if len(text) <= _COMMENT_MAX:
        return text
    return prefix + "sha256:" + hashlib.sha256(execution_id.encode()).hexdigest()[:64]


@dataclass(frozen=True)
class Document:
    name: str
    version: str | None
    #: parameter name -> default value (None: the document requires it)
    parameters: Mapping[str, str | None]
    #: the names of mainSteps, in order (empty or one: GetCommandInvocation needs no PluginName)
    steps: tuple[str, ...]
    document_version: str = ""


class Ssm:
    """The SSM and EC2 calls the adapter makes, for one backend."""

    def __init__(
        self,
        client: Callable[[str], Any],
        settings: Settings,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._settings = settings
        self.sleep = sleep
        self._documents: dict[tuple[str, str | None], tuple[float, Document]] = {}

    # -- calling with back-off -------------------------------------------------------------------

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.info(
            "aws call retried",
            extra={"attempt": state.attempt_number, "code": code_of(exc) if exc else None},
        )

    def call(self, service: str, op: str, **kwargs: Any) -> dict[str, Any]:
        s = self._settings
        retrying = Retrying(
            retry=retry_if_exception(is_throttling),
            stop=stop_after_attempt(s.throttle_attempts),
            wait=wait_exponential_jitter(
                multiplier=s.backoff_seconds, max=s.backoff_max_seconds, jitter=s.backoff_seconds
            ),
            sleep=self.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        result: dict[str, Any] = retrying(lambda: getattr(self._client(service), op)(**kwargs))
        return result

    def ec2(self, op: str, **kwargs: Any) -> dict[str, Any]:
        return self.call("ec2", op, **kwargs)

    def ssm(self, op: str, **kwargs: Any) -> dict[str, Any]:
        return self.call("ssm", op, **kwargs)

    # -- documents -------------------------------------------------------------------------------

    def document(self, ref: DocumentRef) -> Document:
        """The document's declared parameters and step names (cached for a few minutes)."""
        key = (ref.name, ref.version)
        cached = self._documents.get(key)
        if cached and time.monotonic() - cached[0] < _DOC_CACHE_SECONDS:
            return cached[1]
        version = {"DocumentVersion": ref.version} if ref.version else {}
        described = self.ssm("describe_document", Name=ref.name, **version)["Document"]
        content = self.ssm("get_document", Name=ref.name, **version).get("Content") or "{}"
        body = yaml.safe_load(content) or {}
        steps = tuple(str(step.get("name")) for step in body.get("mainSteps") or [])
        doc = Document(
            name=ref.name,
            version=ref.version,
            parameters={
                p["Name"]: p.get("DefaultValue") for p in described.get("Parameters") or []
            },
            steps=steps,
            document_version=str(described.get("DocumentVersion") or ""),
        )
        self._documents[key] = (time.monotonic(), doc)
        return doc

    # -- commands --------------------------------------------------------------------------------

    def find_command(
        self, instance_id: str, comment: str, document: str, after: datetime | None = None
    ) -> dict[str, Any] | None:
        """The newest command for ``instance_id`` that carries ``comment``."""
        filters = [{"key": "DocumentName", "value": document}]
        if after is not None:
            since = after - timedelta(minutes=5)
            filters.append({"key": "InvokedAfter", "value": since.strftime("%Y-%m-%dT%H:%M:%SZ")})
        token: str | None = None
        best: dict[str, Any] | None = None
        for _ in range(_MAX_PAGES):
            page = self.ssm(
                "list_commands",
                InstanceId=instance_id,
                Filters=filters,
                MaxResults=50,
                **({"NextToken": token} if token else {}),
            )
            for command in page.get("Commands") or []:
                if command.get("Comment") != comment:
                    continue
                if best is None or command.get("RequestedDateTime") > best.get("RequestedDateTime"):
                    best = command
            token = page.get("NextToken")
            if not token:
                break
        return best

    def send(
        self,
        *,
        instance_id: str,
        document: Document,
        parameters: Mapping[str, Sequence[str]],
        comment: str,
    ) -> dict[str, Any]:
        s = self._settings
        kwargs: dict[str, Any] = {
            "DocumentName": document.name,
            "InstanceIds": [instance_id],
            "Parameters": {k: list(v) for k, v in parameters.items()},
            "Comment": comment,
            "TimeoutSeconds": s.delivery_timeout_seconds,
            "MaxConcurrency": "1",
            "MaxErrors": "0",
        }
        if document.version:
            kwargs["DocumentVersion"] = document.version
        if s.log_group:
            kwargs["CloudWatchOutputConfig"] = {
                "CloudWatchLogGroupName": s.log_group,
                "CloudWatchOutputEnabled": True,
            }
        command: dict[str, Any] = self.ssm("send_command", **kwargs)["Command"]
        return command

    def invocation(
        self, command_id: str, instance_id: str, steps: Sequence[str], *, wait: float | None = None
    ) -> Invocation | None:
        """The invocation's state, or ``None`` while SSM does not know it yet.

        ``InvocationDoesNotExist`` is retried for ``wait`` seconds (default: the backend's
        ``invocation_wait_seconds``).
        """
        s = self._settings
        wait = s.invocation_wait_seconds if wait is None else wait
        step = max(s.poll_seconds / 4, 0.05)
        retrying = Retrying(
            retry=retry_if_exception(lambda e: code_of(e) == "InvocationDoesNotExist"),
            # bounded by count as well, so a test's instant sleep cannot spin
            stop=stop_after_delay(wait) | stop_after_attempt(int(wait / step) + 1),
            wait=wait_exponential_jitter(multiplier=step, max=max(s.poll_seconds, step)),
            sleep=self.sleep,
            reraise=True,
        )
        names: Sequence[str | None] = steps if len(steps) > 1 else [None]

        def read() -> Invocation:
            found: list[Mapping[str, Any]] = []
            for name in names:
                extra = {"PluginName": name} if name else {}
                try:
                    found.append(
                        self.ssm(
                            "get_command_invocation",
                            CommandId=command_id,
                            InstanceId=instance_id,
                            **extra,
                        )
                    )
                except ClientError as exc:
                    # a later step SSM has not reached yet (or never will, once cancelled)
                    if not found or code_of(exc) != "InvocationDoesNotExist":
                        raise
                    found.append({"PluginName": name, "Status": "Pending"})
            return Invocation.fold(found)

        try:
            result: Invocation = retrying(read)
            return result
        except ClientError as exc:
            if code_of(exc) == "InvocationDoesNotExist":
                return None
            raise

    def cancel(self, command_id: str, instance_id: str) -> None:
        self.ssm("cancel_command", CommandId=command_id, InstanceIds=[instance_id])

    def wait_until_ended(
        self, command_id: str, instance_id: str, steps: Sequence[str], timeout: float
    ) -> Invocation | None:
        """Poll until the invocation ends or ``timeout`` passes; the last state seen."""
        poll = self._settings.poll_seconds
        deadline = time.monotonic() + timeout
        # bounded by count as well, so a test's instant sleep cannot spin forever
        current: Invocation | None = None
        for _ in range(int(timeout / max(poll, 0.01)) + 1):
            current = self.invocation(command_id, instance_id, steps, wait=0)
            if (current is not None and current.ended) or time.monotonic() >= deadline:
                return current
            self.sleep(poll)
        return current
