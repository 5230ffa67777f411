"""The web console against a real `chaoshub up` (SQLite, in-process worker, the in-memory
adapter), driven by Playwright through Debian's Chromium. Never downloads a browser.

Screenshots of each page go to ``artifacts/screenshots/`` at the repository's root.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from tests.support.stack import MEMORY_ADAPTER, GraphQL, up_process, wait_for

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "chaoshub" / "static" / "index.html"
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 820}

expect.set_options(timeout=10_000)


def _missing(reason: str) -> None:
    """Fail in CI (it must have everything), skip with the fix elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not STATIC.exists():
        _missing(
            "the console is not built: run scripts/setup.d/frontend.sh (npm ci && npm run build in frontend/)"
        )
    if not shutil.which(CHROMIUM):
        _missing("Chromium is missing: apt-get install -y chromium (scripts/apt-packages.txt)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Hub:
    def __init__(self, url: str, admin_token: str) -> None:
        self.url = url
        self.admin_token = admin_token
        self.admin = GraphQL(url, admin_token)

    def backend(self, name: str, **config: Any) -> None:
        answer = self.admin(
            "mutation($i: CreateBackendInput!) { createBackend(input: $i) { __typename ... on Error { message } } }",
            i={"name": name, "adapter": "memory", "config": config},
        )["createBackend"]
        assert answer["__typename"] == "Backend", answer

    def start(self, backend: str, targets: list[str], seconds: float = 300) -> str:
        answer = self.admin(
            "mutation($i: StartRunInput!) { startRun(input: $i) {"
            " __typename ... on Run { id } ... on Error { message } } }",
            i={
                "faultType": "memory/latency",
                "backend": backend,
                "selector": {"names": targets},
                "params": {"latency_ms": 120},
                "durationSeconds": seconds,
            },
        )["startRun"]
        assert answer["__typename"] == "Run", answer
        return str(answer["id"])

    def run(self, run_id: str) -> dict[str, Any]:
        return self.admin(
            "query($id: ID!) { run(id: $id) { phase recoverAttempts targets { label phase } } }",
            id=run_id,
        )["run"]

    def wait_phase(self, run_id: str, phase: str, timeout: float = 30) -> dict[str, Any]:
        return wait_for(
            lambda: (r := self.run(run_id))["phase"] == phase and r,
            timeout,
            0.2,
            what=f"run {run_id} {phase}",
        )


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    env = {
        "CHAOSHUB_EXTRA_ADAPTERS": MEMORY_ADAPTER,
        "CHAOSHUB_ADMIN_TOKEN": "ui-admin-" + uuid.uuid4().hex,
        "CHAOSHUB_RECONCILE_SECONDS": "0.5",
        "CHAOSHUB_RECOVER_BACKOFF_MAX_SECONDS": "2",
    }
    with up_process(tmp_path_factory.mktemp("ui-hub"), env) as up:
        hub = Hub(up.url, up.token)
        try:
            yield hub
        finally:
            hub.admin.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # fixed header and navbar drawn at the top
    page.wait_for_timeout(300)  # let transitions settle
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def goto(page: Any, url: str) -> None:
    """Navigate; again when Chromium drops the navigation because the machine's network changed
    (other tests create and remove interfaces and namespaces on this host)."""
    for attempt in range(3):
        try:
            page.goto(url)
            return
        except PlaywrightError as exc:
            if "ERR_NETWORK_CHANGED" not in str(exc) or attempt == 2:
                raise
            page.wait_for_timeout(500)


def sign_in(page: Any, url: str, token: str) -> None:
    goto(page, url + "/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
