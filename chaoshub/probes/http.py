"""``http`` probe: one request, judged on its status, its body and its latency.

```yaml
http:
  url: http://127.0.0.1:8081/health
  method: GET                      # GET HEAD POST PUT PATCH DELETE OPTIONS
  headers: {Accept: application/json}
  body: '{"ping": 1}'
  timeoutSeconds: 2
  expect:
    status: [200, 204]             # or {between: [200, 299]}; default: any 2xx
    body: {matches: ".*ok.*"}      # or {jsonPath: "$.status", "==": "up"}
    latencyMs: {"<": 1000}
```

A connection error, a timeout or a body that is not JSON when a ``jsonPath`` is asked is a
failing sample with the reason, never an exception. Redirects are not followed (a 302 is
what the service answered). The sample's value is the status code.
"""

from __future__ import annotations

import functools
import ssl
import time
from typing import Any, Literal
from urllib.parse import urlsplit

import certifi
import httpx
from jsonpath_ng import parse as parse_jsonpath
from jsonpath_ng.exceptions import JsonPathParserError
from pydantic import Field, field_validator

from chaoshub.errors import InvalidInput
from chaoshub.probes.base import Probe, Sample, Spec, clip
from chaoshub.probes.comparators import Expectation, parse_expectation

MAX_BODY_READ = 1 << 20


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every check: building one loads the certificate store, tens of
    milliseconds of CPU that a check at a short interval should not pay each time."""
    return ssl.create_default_context(cafile=certifi.where())


class HttpSpec(Spec):
    url: str = Field(max_length=2048)
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(default=None, max_length=65536)
    timeoutSeconds: float | None = Field(default=None, gt=0, le=300)
    expect: dict[str, Any] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http:// or https:// URL with a host")
        return value


class HttpProbe(Probe):
    kind = "http"
    spec_model = HttpSpec

    def __init__(self, spec: Spec, timeout: float) -> None:
        super().__init__(spec, timeout)
        assert isinstance(spec, HttpSpec)
        self.http = spec
        self.status, self.body_path, self.body_check, self.latency = _expectations(spec.expect)

    def check(self) -> Sample:
        at = self.now()
        try:
            with httpx.Client(
                timeout=self.timeout, follow_redirects=False, verify=_tls()
            ) as client:
                started = time.perf_counter()  # the answer's latency, not the client's set-up
                answer = client.request(
                    self.http.method,
                    self.http.url,
                    headers=self.http.headers,
                    content=self.http.body,
                )
        except httpx.TimeoutException:
            return Sample(at, False, error=f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return Sample(at, False, error=clip(f"{type(exc).__name__}: {exc}"))
        latency = (time.perf_counter() - started) * 1000
        failures: list[str] = []
        if self.status is None:
            if not 200 <= answer.status_code <= 299:
                failures.append(f"status {answer.status_code} is not 2xx")
        elif not self.status.holds(answer.status_code):
            failures.append(f"status {answer.status_code} is not {self.status.describe()}")
        if self.body_check is not None:
            failures.extend(self._body(answer.content[:MAX_BODY_READ]))
        if self.latency is not None and not self.latency.holds(latency):
            failures.append(f"latency {latency:.0f} ms is not {self.latency.describe()}")
        return Sample(
            at,
            not failures,
            value=answer.status_code,
            error="; ".join(failures) or None,
            latency_ms=round(latency, 3),
        )

    def _body(self, raw: bytes) -> list[str]:
        assert self.body_check is not None
        text = raw.decode("utf-8", "replace")
        if self.body_path is None:
            return (
                [] if self.body_check.holds(text) else [f"body is not {self.body_check.describe()}"]
            )
        try:
            document = httpx.Response(200, content=raw).json()
        except ValueError:
            return [f"body is not JSON (asked {self.body_path})"]
        found = [m.value for m in parse_jsonpath(self.body_path).find(document)]
        if not found:
            return [f"{self.body_path} matched nothing"]
        if all(self.body_check.holds(v) for v in found):
            return []
        return [clip(f"{self.body_path} = {found[0]!r} is not {self.body_check.describe()}")]


def _expectations(
    expect: dict[str, Any],
) -> tuple[Expectation | None, str | None, Expectation | None, Expectation | None]:
    field: list[str | int] = ["http", "expect"]
    unknown = set(expect) - {"status", "body", "latencyMs"}
    if unknown:
        raise InvalidInput(
            f"unknown field {sorted(unknown)[0]!r}", field=[*field, sorted(unknown)[0]]
        )
    status = expect.get("status")
    status_check = None
    if isinstance(status, list):
        if not status or not all(isinstance(s, int) and 100 <= s <= 599 for s in status):
            raise InvalidInput("a list of HTTP status codes (100-599)", field=[*field, "status"])
        status_check = Expectation("oneOf", tuple(status))
    elif status is not None:
        status_check = parse_expectation(status, [*field, "status"])
    body_path = None
    body_check = None
    if "body" in expect:
        body = dict(expect["body"]) if isinstance(expect["body"], dict) else expect["body"]
        if isinstance(body, dict) and "jsonPath" in body:
            body_path = body.pop("jsonPath")
            if not isinstance(body_path, str) or not body_path:
                raise InvalidInput(
                    "a JSONPath such as $.status", field=[*field, "body", "jsonPath"]
                )
            try:
                parse_jsonpath(body_path)
            except (JsonPathParserError, Exception) as exc:
                raise InvalidInput(
                    f"not a JSONPath: {exc}", field=[*field, "body", "jsonPath"]
                ) from None
        body_check = parse_expectation(body, [*field, "body"])
    latency = expect.get("latencyMs")
    latency_check = (
        parse_expectation(latency, [*field, "latencyMs"]) if latency is not None else None
    )
    return status_check, body_path, body_check, latency_check
