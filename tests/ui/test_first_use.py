"""First use of the console and the API's IDE: GraphiQL offline, the duration field's bounds,
the run timeline after pause/resume, a phone-sized screen, target suggestions, the catalog's
order and wording, and selector JSON errors on the field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Hub, goto, sign_in

pytestmark = pytest.mark.slow

SHOTS = Path("/tmp/h7-shots")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def snap(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def offline(page: Any) -> list[str]:
    """Abort every request that leaves the loopback, as on an air-gapped network."""
    blocked: list[str] = []

    def route(r: Any) -> None:
        host = urlparse(r.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1") or r.request.url.startswith("data:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return blocked


def test_graphiql_loads_and_runs_a_query_without_internet(hub: Hub, page: Any) -> None:
    blocked = offline(page)
    sign_in(page, hub.url, hub.admin_token)  # the IDE picks up the console's token
    goto(page, hub.url + "/graphql")
    expect(page.locator(".graphiql-container")).to_be_visible()
    page.locator(".graphiql-execute-button").click()
    expect(page.locator(".result-window")).to_contain_text('"role": "admin"')
    snap(page, "graphiql-1440")
    assert blocked == [], blocked


def test_graphiql_takes_a_token_typed_into_its_headers(hub: Hub, page: Any) -> None:
    blocked = offline(page)
    goto(page, hub.url + "/graphql")
    expect(page.locator(".graphiql-container")).to_be_visible()
    # Not signed in: the headers editor is open with a placeholder to replace.
    headers = page.locator(".graphiql-editor-tool .graphiql-editor").last
    expect(headers).to_contain_text("paste an API token")
    page.evaluate(
        """t => document.querySelectorAll('.graphiql-editor-tool .CodeMirror')[1]
        .CodeMirror.setValue(JSON.stringify({Authorization: 'Bearer ' + t}))""",
        hub.admin_token,
    )
    page.locator(".graphiql-execute-button").click()
    expect(page.locator(".result-window")).to_contain_text('"name": "bootstrap-admin"')
    assert blocked == [], blocked
