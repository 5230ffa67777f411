"""A backend's config for the ``aws-ssm`` adapter, and the boto3 clients made from it.

Credentials come from, in this order of preference: a role to assume (``role_arn``, with
the profile or the default chain as the caller), a named ``profile``, or boto3's default
chain (environment, shared files, instance or container role). Assumed-role credentials
are renewed five minutes before they expire.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

#: JSON Schema of a backend's config (checked by the hub before the adapter is built)
CONFIG_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["region"],
    "properties": {
        "region": {"type": "string", "pattern": "^[a-z]{2}(-[a-z]+)+-[0-9]+$"},
        "profile": {"type": "string", "minLength": 1},
        "role_arn": {"type": "string", "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"},
        "role_session_name": {"type": "string", "pattern": "^[A-Za-z0-9+=,.@-]{2,64}$"},
        "external_id": {"type": "string", "minLength": 2, "maxLength": 1224, "writeOnly": True},
        "aws_access_key_id": {
            "type": "string",
            "minLength": 16,
            "maxLength": 128,
            "writeOnly": True,
            "description": "static credentials (default: the profile's or the environment's)",
        },
        "aws_secret_access_key": {"type": "string", "minLength": 1, "writeOnly": True},
        "aws_session_token": {"type": "string", "minLength": 1, "writeOnly": True},
        "endpoint_url": {"type": "string", "pattern": "^https?://"},
        "log_group": {
            "type": "string",
            "pattern": "^[.\\-_/#A-Za-z0-9]{1,512}$",
            "description": "CloudWatch Logs group that receives the commands' full output",
        },
        "documents": {
            "type": "object",
            "description": "per fault, the document to run instead of the AWSFIS-Run-* one",
            "additionalProperties": {
                "oneOf": [
                    {"type": "string", "pattern": "^[A-Za-z0-9_.:/-]{3,128}$"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "pattern": "^[A-Za-z0-9_.:/-]{3,128}$"},
                            "version": {
                                "type": "string",
                                "pattern": "^([$]LATEST|[$]DEFAULT|[0-9]+)$",
                            },
                        },
                    },
                ]
            },
        },
        "rollback_document": {
            "type": "string",
            "description": "a parameterless document that removes network faults "
            "(default: AWS-RunShellScript with the adapter's fixed rollback script)",
        },
        "require_ssm_online": {
            "type": "boolean",
            "default": True,
            "description": "only instances whose SSM agent is Online on Linux are eligible",
        },
        "delivery_timeout_seconds": {"type": "integer", "minimum": 30, "maximum": 2592000},
        "poll_seconds": {"type": "number", "minimum": 0},
        "cancel_timeout_seconds": {"type": "number", "minimum": 0},
        "rollback_timeout_seconds": {"type": "integer", "minimum": 30, "maximum": 3600},
        "invocation_wait_seconds": {"type": "number", "minimum": 0},
        "throttle_attempts": {"type": "integer", "minimum": 1, "maximum": 20},
        "backoff_seconds": {"type": "number", "minimum": 0},
        "backoff_max_seconds": {"type": "number", "minimum": 0},
        "connect_timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
        "read_timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
        "output_tail_chars": {"type": "integer", "minimum": 0, "maximum": 24000},
    },
}


@dataclass(frozen=True)
class DocumentRef:
    name: str
    version: str | None = None


@dataclass(frozen=True)
class Settings:
    """One backend's config with its defaults filled in."""

    region: str
    profile: str | None = None
    role_arn: str | None = None
    role_session_name: str = "chaoshub"
    external_id: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    endpoint_url: str | None = None
    log_group: str | None = None
    documents: Mapping[str, DocumentRef] = field(default_factory=dict)
    rollback_document: str | None = None
    require_ssm_online: bool = True
    #: SendCommand TimeoutSeconds: a command not started by then is not run
    delivery_timeout_seconds: int = 600
    poll_seconds: float = 2.0
    #: how long recover waits for a cancelled invocation to end
    cancel_timeout_seconds: float = 60.0
    #: the rollback command's executionTimeout, and how long recover waits for it
    rollback_timeout_seconds: int = 180
    #: how long InvocationDoesNotExist is retried right after SendCommand
    invocation_wait_seconds: float = 20.0
    throttle_attempts: int = 6
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 20.0
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    output_tail_chars: int = 2000

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        docs: dict[str, DocumentRef] = {}
        for fault, ref in (config.get("documents") or {}).items():
            if isinstance(ref, str):
                docs[fault] = DocumentRef(ref)
            else:
                docs[fault] = DocumentRef(ref["name"], ref.get("version"))
        known = set(cls.__dataclass_fields__) - {"documents"}
        plain = {k: v for k, v in config.items() if k in known}
        return cls(documents=docs, **plain)


class Clients:
    """boto3 clients for one backend, with assumed-role credentials renewed on time."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._expires: datetime | None = None
        self._config = Config(
            region_name=settings.region,
            connect_timeout=settings.connect_timeout_seconds,
            read_timeout=settings.read_timeout_seconds,
            # the adapter retries throttling itself (tenacity), so that back-off is visible
            retries={"total_max_attempts": 1, "mode": "standard"},
        )

    def get(self, service: str) -> Any:
        with self._lock:
            if self._expires is not None and datetime.now(UTC) >= self._expires:
                self._clients.clear()
                self._expires = None
            if service not in self._clients:
                session = self._session()
                self._clients[service] = session.client(
                    service, endpoint_url=self._settings.endpoint_url, config=self._config
                )
            return self._clients[service]

    def set(self, service: str, client: Any) -> None:
        """Use ``client`` for ``service`` (tests wrap clients in ``botocore.stub.Stubber``)."""
        with self._lock:
            self._clients[service] = client

    def _session(self) -> boto3.Session:
        s = self._settings
        base = boto3.Session(
            profile_name=s.profile,
            region_name=s.region,
            aws_access_key_id=s.aws_access_key_id,
            aws_secret_access_key=s.aws_secret_access_key,
            aws_session_token=s.aws_session_token,
        )
        if not s.role_arn:
            return base
        sts = base.client("sts", endpoint_url=s.endpoint_url, config=self._config)
        kwargs: dict[str, Any] = {"RoleArn": s.role_arn, "RoleSessionName": s.role_session_name}
        if s.external_id:
            kwargs["ExternalId"] = s.external_id
        creds = sts.assume_role(**kwargs)["Credentials"]
        expiration = creds["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        self._expires = expiration - timedelta(minutes=5)
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=s.region,
        )
