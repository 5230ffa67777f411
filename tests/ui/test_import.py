"""The console's Import page: a refused document names its field; a Chaos Toolkit experiment
is mapped, its unmapped parts listed, and created as a workflow of the hub."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.stack import up_process
from tests.ui.conftest import Hub, shot, sign_in

DOCS = Path(__file__).resolve().parents[1] / "formats" / "documents"

EXPERIMENT = """title: the API survives a paused cache
description: pause the cache; the API keeps answering
steady-state-hypothesis:
  title: the API answers
  probes:
    - type: probe
      name: api-healthy
      tolerance: 200
      provider: {type: http, url: "http://127.0.0.1:9/health", timeout: 2}
    - type: probe
      name: pods-running
      tolerance: true
      provider: {type: python, module: chaosk8s.pod.probes, func: pods_in_phase}
method:
  - type: action
    name: pause-cache
    provider: {type: process, path: pause-cache.sh, arguments: [--name, cache]}
    pauses: {after: 5}
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub whose local agent may run ``pause-cache.sh`` (the experiment's process action)."""
    data = tmp_path_factory.mktemp("ui-import-hub")
    scripts = data / "scripts"
    scripts.mkdir()
    (scripts / "pause-cache.sh").write_text("#!/bin/sh\nexit 0\n")
    (scripts / "pause-cache.sh").chmod(0o755)
    env = {
        "CHAOSHUB_ADMIN_TOKEN": "ui-admin-" + uuid.uuid4().hex,
        "CHAOSHUB_INJECTOR_SCRIPTS_DIR": str(scripts),
    }
    with up_process(data, env) as up:
        hub = Hub(up.url, up.token)
        try:
            yield hub
        finally:
            hub.admin.close()


def test_an_operator_imports_a_document_sees_what_was_not_mapped_and_creates_it(
    hub: Hub, page: Any
) -> None:
    sign_in(page, hub.url, hub.admin_token)
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Import", exact=True
    ).click()
    expect(page.get_by_role("heading", name="Import")).to_be_visible()

    misspelt = (
        (DOCS / "cm-network-delay.yaml").read_text().replace("latency: 200ms", "latncy: 200ms")
    )
    page.get_by_label("Or paste it").fill(misspelt)
    page.get_by_role("button", name="Map it").click()
    refused = page.get_by_role("alert")
    expect(refused).to_contain_text("unknown field 'latncy'")
    expect(refused).to_contain_text("spec.delay.latncy")
    shot(page, "import-refused")

    page.get_by_label("Or paste it").fill(EXPERIMENT)
    page.get_by_label("Agent").fill("local")
    page.get_by_role("button", name="Map it").click()
    notes = page.get_by_role("table", name="Not mapped")
    expect(notes).to_contain_text("steady-state-hypothesis.probes[1].provider")
    expect(notes).to_contain_text("python provider")
    document = page.get_by_label("Hub document")
    expect(document).to_contain_text("faultType: native/host-script")
    expect(document).to_contain_text("script: pause-cache.sh")
    shot(page, "import-mapped")

    page.get_by_role("button", name="Create it in the hub").click()
    created = page.get_by_role("alert").filter(has_text="Created")
    expect(created).to_contain_text("Workflow")
    link = created.get_by_role("link")
    workflow_id = link.inner_text()
    saved = hub.admin("query($id: ID) { workflow(id: $id) { name } }", id=workflow_id)["workflow"]
    assert saved == {"name": "the API survives a paused cache"}
    link.click()
    expect(page).to_have_url(re.compile(f"/workflows/{workflow_id}/edit$"))
