"""``prometheus`` probe: one PromQL instant query, reduced to numbers and compared.

```yaml
prometheus:
  url: http://127.0.0.1:9090          # the server's base URL (``/api/v1/query`` is added)
  query: sum(rate(http_requests_total{code=~"5.."}[1m]))
  expect: {"<": 0.5}
  onEmpty: fail                       # an empty vector: fail (default) or pass
  series: all                         # several series: all must hold (default) or any
  timeoutSeconds: 5
```

How results count, exactly:

- a ``scalar`` result is its value; a ``vector`` is one value per series;
- an empty vector (the query matched nothing) fails unless ``onEmpty: pass`` — a metric that
  disappeared is not a healthy one;
- several series: with ``series: all`` every one must hold the expectation, with ``any`` one
  is enough; the sample's value is the first series that decided (the first failing one
  under ``all``, the first holding one under ``any``), the reason names its labels;
- ``NaN`` and ``±Inf`` never hold a numeric comparison; a ``matrix`` or ``string`` result is
  a failing sample (write an instant vector expression);
- a query Prometheus refuses (``status: error``) or an unreachable server is a failing sample
  with Prometheus's own ``errorType``/``error`` text.
"""

from __future__ import annotations

import math
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator

from chaoshub.probes.base import Probe, Sample, Spec, clip
from chaoshub.probes.comparators import parse_expectation


class PrometheusSpec(Spec):
    url: str = Field(max_length=2048)
    query: str = Field(min_length=1, max_length=8192)
    expect: dict[str, Any]
    onEmpty: Literal["fail", "pass"] = "fail"
    series: Literal["all", "any"] = "all"
    timeoutSeconds: float | None = Field(default=None, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError("the server's base URL, http:// or https://, with no query")
        return value.rstrip("/")


def _labels(metric: dict[str, str]) -> str:
    name = metric.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


class PrometheusProbe(Probe):
    kind = "prometheus"
    spec_model = PrometheusSpec

    def __init__(self, spec: Spec, timeout: float) -> None:
        super().__init__(spec, timeout)
        assert isinstance(spec, PrometheusSpec)
        self.prom = spec
        self.expect = parse_expectation(spec.expect, ["prometheus", "expect"])

    def check(self) -> Sample:
        at = self.now()
        try:
            answer = httpx.get(
                f"{self.prom.url}/api/v1/query",
                params={"query": self.prom.query, "timeout": f"{self.timeout:g}s"},
                timeout=self.timeout,
            )
            data = answer.json()
        except httpx.TimeoutException:
            return Sample(at, False, error=f"no answer within {self.timeout:g} s")
        except (httpx.HTTPError, ValueError) as exc:
            return Sample(at, False, error=clip(f"{type(exc).__name__}: {exc}"))
        if not isinstance(data, dict) or data.get("status") != "success":
            reason = data.get("error") if isinstance(data, dict) else None
            kind = data.get("errorType") if isinstance(data, dict) else None
            return Sample(
                at,
                False,
                error=clip(f"Prometheus: {kind or answer.status_code}: {reason or answer.text}"),
            )
        result = data.get("data", {})
        kind = result.get("resultType")
        if kind == "scalar":
            points = [("scalar", result["result"][1])]
        elif kind == "vector":
            points = [(_labels(s.get("metric", {})), s["value"][1]) for s in result["result"]]
        else:
            return Sample(
                at, False, error=f"the query returned a {kind}; write an instant vector or scalar"
            )
        if not points:
            ok = self.prom.onEmpty == "pass"
            return Sample(
                at, ok, error=None if ok else "the query returned no series (onEmpty: fail)"
            )
        decided: tuple[str, float] | None = None
        for labels, raw in points:
            value = float(raw)
            held = not math.isnan(value) and self.expect.holds(value)
            if held != (self.prom.series == "all"):
                decided = (labels, value)
                break
        if self.prom.series == "all":
            if decided is None:
                return Sample(at, True, value=float(points[0][1]))
            labels, value = decided
            return Sample(
                at,
                False,
                value=value,
                error=clip(f"{labels} = {value:g} is not {self.expect.describe()}"),
            )
        if decided is not None:
            return Sample(at, True, value=decided[1])
        return Sample(
            at,
            False,
            value=float(points[0][1]),
            error=clip(f"none of {len(points)} series is {self.expect.describe()}"),
        )
