"""How AWS errors become hub errors, decided in one place.

botocore raises one :class:`~botocore.exceptions.ClientError` type for every service
answer, so the hub's type-based ``error_map`` cannot tell a throttled call from a refused
one; :func:`classify` reads the error code instead. Transport and credential problems are
distinct types and are listed in :data:`ERROR_MAP`.
"""

from __future__ import annotations

from collections.abc import Mapping

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from chaoshub.errors import BackendUnavailable, HubError, InvalidInput, RejectedByTool

#: error codes AWS uses for "slow down"
THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
    }
)
#: error codes of a service that failed on its side; worth retrying later
TRANSIENT = frozenset(
    {"InternalServerError", "InternalError", "InternalFailure", "ServiceUnavailable"}
)

ERROR_MAP: Mapping[type[BaseException], type[HubError]] = {
    EndpointConnectionError: BackendUnavailable,
    ConnectTimeoutError: BackendUnavailable,
    ReadTimeoutError: BackendUnavailable,
    ConnectionClosedError: BackendUnavailable,
    NoCredentialsError: InvalidInput,
    PartialCredentialsError: InvalidInput,
    ProfileNotFound: InvalidInput,
    NoRegionError: InvalidInput,
    # a request botocore refuses to send: the adapter's bug or a value no schema caught
    ParamValidationError: RejectedByTool,
    BotoCoreError: BackendUnavailable,
}
#: the config field an InvalidInput of these types points at
_CONFIG_FIELD: Mapping[type[BaseException], list[str]] = {
    NoCredentialsError: ["config", "profile"],
    PartialCredentialsError: ["config", "profile"],
    ProfileNotFound: ["config", "profile"],
    NoRegionError: ["config", "region"],
}


def code_of(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "")
    return ""


def is_throttling(exc: BaseException) -> bool:
    return code_of(exc) in THROTTLING


def classify(exc: ClientError) -> type[HubError]:
    """The hub error a service's answer means."""
    code = code_of(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in THROTTLING or code in TRANSIENT or status >= 500:
        return BackendUnavailable
    return RejectedByTool


def translate(
    exc: BaseException, *, adapter: str, backend: str, target: str | None
) -> HubError | None:
    """The hub error for ``exc``, or ``None`` when it is not an AWS error."""
    context = {"adapter": adapter, "backend": backend, "target": target}
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        message = str(error.get("Message") or exc)
        op = exc.operation_name
        return classify(exc)(
            f"{op}: {message}", native_code=code_of(exc), native_message=message, **context
        )
    for exc_type, hub_type in ERROR_MAP.items():
        if isinstance(exc, exc_type):
            field = _CONFIG_FIELD.get(exc_type)
            return hub_type(str(exc), field=field, native_message=str(exc), **context)
    return None
