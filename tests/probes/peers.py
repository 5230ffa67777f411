"""Real peers the probe tests check: an HTTP service whose answers a file controls, a TCP
listener, a Prometheus exporter, and a Prometheus server scraping it (Debian's package)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.stack import free_port, wait_for

#: the service answers GET /health with the status in STATE (default 200) after DELAY seconds;
#: several statuses, comma-separated, are answered in turn (a flapping service)
SERVICE = textwrap.dedent(
    """
    import http.server, json, os, sys, time
    state = sys.argv[2]
    count = [0]
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                status, delay, body = open(state).read().split("|", 2)
            except (OSError, ValueError):
                status, delay, body = "200", "0", '{"status": "up"}'
            choices = status.split(",")
            status = choices[count[0] % len(choices)]
            count[0] += 1
            time.sleep(float(delay))
            data = body.encode()
            self.send_response(int(status))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def log_message(self, *args):
            pass
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)

#: gauges the Prometheus scrapes: test_probe_value{series="a"|"b"} read from a file
EXPORTER = textwrap.dedent(
    """
    import sys, time
    from prometheus_client import Gauge, start_http_server
    g = Gauge("test_probe_value", "a value the test sets", ["series"])
    start_http_server(int(sys.argv[1]), addr="127.0.0.1")
    while True:
        for line in open(sys.argv[2]).read().split():
            name, value = line.split("=")
            g.labels(series=name).set(float(value))
        time.sleep(0.2)
    """
)


@contextmanager
def _process(args: list[str], **kw: object) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, start_new_session=True, **kw)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@dataclass
class Service:
    url: str
    state: Path
    proc: subprocess.Popen[bytes]

    def answer(
        self, status: int | str = 200, delay: float = 0.0, body: str = '{"status": "up"}'
    ) -> None:
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(f"{status}|{delay}|{body}")
        tmp.replace(self.state)


@contextmanager
def http_service() -> Iterator[Service]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        state = Path(tmp) / "state"
        with _process([sys.executable, "-c", SERVICE, str(port), str(state)]) as proc:
            url = f"http://127.0.0.1:{port}"
            assert wait_for(lambda: _answers(url + "/health"), timeout=15)
            yield Service(url, state, proc)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


@dataclass
class PrometheusServer:
    url: str
    values: Path

    def set(self, **series: float) -> None:
        tmp = self.values.with_suffix(".tmp")
        tmp.write_text("\n".join(f"{k}={v}" for k, v in series.items()))
        tmp.replace(self.values)

    def sees(self, query: str, value: float) -> bool:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=5).json()
        result = answer["data"]["result"]
        return bool(result) and all(float(s["value"][1]) == value for s in result)


PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


@contextmanager
def prometheus_server() -> Iterator[PrometheusServer]:
    with tempfile.TemporaryDirectory() as tmp:
        values = Path(tmp) / "values"
        values.write_text("a=1\nb=1")
        exporter_port, prom_port = free_port(), free_port()
        config = Path(tmp) / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: probe-test\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
        )
        with (
            _process([sys.executable, "-c", EXPORTER, str(exporter_port), str(values)]),
            _process(
                [
                    PROMETHEUS,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp}/data",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ):
            server = PrometheusServer(f"http://127.0.0.1:{prom_port}", values)
            assert wait_for(lambda: _ready(server), timeout=60), (
                "Prometheus did not scrape the exporter"
            )
            yield server


def _ready(server: PrometheusServer) -> bool:
    try:
        return server.sees('test_probe_value{series="a"}', 1.0)
    except (httpx.HTTPError, KeyError, ValueError):
        time.sleep(0.2)
        return False
