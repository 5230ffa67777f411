"""``tcp`` probe: can a connection be opened within the timeout?

```yaml
tcp: {host: 127.0.0.1, port: 5432, timeoutSeconds: 1, expect: {latencyMs: {"<": 50}}}
```

The sample's value is the connect time in milliseconds; a refusal or a timeout is a failing
sample with the reason. Nothing is sent: the connection is closed as soon as it is open.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from pydantic import Field

from chaoshub.errors import InvalidInput
from chaoshub.probes.base import Probe, Sample, Spec, clip
from chaoshub.probes.comparators import parse_expectation


class TcpSpec(Spec):
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]_-]+$")
    port: int = Field(ge=1, le=65535)
    timeoutSeconds: float | None = Field(default=None, gt=0, le=300)
    expect: dict[str, Any] = Field(default_factory=dict)


class TcpProbe(Probe):
    kind = "tcp"
    spec_model = TcpSpec
    default_timeout = 2.0

    def __init__(self, spec: Spec, timeout: float) -> None:
        super().__init__(spec, timeout)
        assert isinstance(spec, TcpSpec)
        self.tcp = spec
        unknown = set(spec.expect) - {"latencyMs"}
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidInput(f"unknown field {name!r}", field=["tcp", "expect", name])
        latency = spec.expect.get("latencyMs")
        self.latency = (
            parse_expectation(latency, ["tcp", "expect", "latencyMs"])
            if latency is not None
            else None
        )

    def check(self) -> Sample:
        at = self.now()
        started = time.perf_counter()
        try:
            with socket.create_connection(
                (self.tcp.host.strip("[]"), self.tcp.port), timeout=self.timeout
            ):
                pass
        except TimeoutError:
            return Sample(at, False, error=f"no connection within {self.timeout:g} s")
        except OSError as exc:
            return Sample(at, False, error=clip(exc.strerror or str(exc)))
        latency = round((time.perf_counter() - started) * 1000, 3)
        if self.latency is not None and not self.latency.holds(latency):
            return Sample(
                at,
                False,
                value=latency,
                latency_ms=latency,
                error=f"connect took {latency:.0f} ms, not {self.latency.describe()}",
            )
        return Sample(at, True, value=latency, latency_ms=latency)
