"""A real ``chaoshub up`` (its local native agent included) and Debian's ``prometheus``
scraping both every second: what an operator's monitoring sees, for the metrics and
dashboard tests."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.probes.peers import PROMETHEUS, _process
from tests.support.stack import MEMORY_ADAPTER, GraphQL, free_port, up_process, wait_for


@dataclass
class Prometheus:
    url: str

    def instant(self, expr: str) -> dict[str, Any]:
        """An instant query's answer as Prometheus gives it (status, data or error)."""
        return httpx.get(  # type: ignore[no-any-return]
            f"{self.url}/api/v1/query", params={"query": expr}, timeout=10
        ).json()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's series now; a query Prometheus refuses fails the test."""
        answer = self.instant(expr)
        assert answer["status"] == "success", f"{expr}: {answer}"
        return answer["data"]["result"]  # type: ignore[no-any-return]

    def query_range(self, expr: str, start: float, end: float, step: float = 1) -> dict[str, Any]:
        """A range query's answer as Prometheus gives it (status, data or error)."""
        return httpx.get(  # type: ignore[no-any-return]
            f"{self.url}/api/v1/query_range",
            params={"query": expr, "start": start, "end": end, "step": step},
            timeout=30,
        ).json()

    def label_values(self, label: str, match: str, start: float) -> list[str]:
        answer = httpx.get(
            f"{self.url}/api/v1/label/{label}/values",
            params={"match[]": match, "start": start, "end": time.time()},
            timeout=10,
        ).json()
        assert answer["status"] == "success", answer
        return answer["data"]  # type: ignore[no-any-return]


@dataclass
class ObservedHub:
    url: str
    token: str
    data_dir: Path
    gql: GraphQL
    agent_url: str
    agent_token: str
    prometheus: Prometheus

    def agent_metrics(self) -> str:
        answer = httpx.get(
            f"{self.agent_url}/metrics",
            headers={"Authorization": f"Bearer {self.agent_token}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.text

    def hub_metrics(self) -> str:
        answer = httpx.get(f"{self.url}/metrics", timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.text


def _scrape_config(hub: str, agent: str, token_file: Path) -> str:
    return (
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: chaoshub-api\n    static_configs: [{{targets: ['{hub}']}}]\n"
        "  - job_name: chaoshub-injector\n"
        f"    authorization: {{credentials_file: '{token_file}'}}\n"
        f"    static_configs: [{{targets: ['{agent}']}}]\n"
    )


@contextmanager
def observed_hub(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[ObservedHub]:
    """``chaoshub up`` in ``data_dir`` with the in-memory test adapter too, its local agent
    online, and a Prometheus that has scraped both at least once."""
    env = {"CHAOSHUB_EXTRA_ADAPTERS": MEMORY_ADAPTER, **(extra_env or {})}
    with up_process(data_dir, env) as up:
        gql = GraphQL(up.url, up.token)
        try:
            agent = wait_for(
                lambda: next(
                    a
                    for a in gql("{ agents { name online url } }")["agents"]
                    if a["name"] == "local" and a["online"]
                ),
                30,
                what="the local agent online",
            )
            token_file = data_dir / "injector" / "api-token"
            with tempfile.TemporaryDirectory(prefix="chaoshub-prom-") as tmp:
                config = Path(tmp) / "prometheus.yml"
                config.write_text(
                    _scrape_config(
                        up.url.removeprefix("http://"),
                        agent["url"].removeprefix("http://").rstrip("/"),
                        token_file,
                    )
                )
                port = free_port()
                with _process(
                    [
                        PROMETHEUS,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={tmp}/data",
                        f"--web.listen-address=127.0.0.1:{port}",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ):
                    prom = Prometheus(f"http://127.0.0.1:{port}")
                    wait_for(
                        lambda: len(prom.query("up == 1")) == 2,
                        60,
                        interval=0.5,
                        what="Prometheus scraping the hub and the agent",
                    )
                    yield ObservedHub(
                        up.url,
                        up.token,
                        data_dir,
                        gql,
                        agent["url"].rstrip("/"),
                        token_file.read_text().strip(),
                        prom,
                    )
        finally:
            gql.close()
