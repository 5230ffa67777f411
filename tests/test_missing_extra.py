"""A hub installed without an adapter's extra (``pip install chaoshub`` with no ``[aws]``):
that adapter is listed unavailable with the command that installs it, its catalog entries
are shown as not installed and refused by name, and everything else works.

Here botocore and boto3 are made unimportable in this process (a module set to ``None`` in
``sys.modules`` fails to import exactly as a missing one does); the same with a real venv
and a real wheel is ``tests/test_packaging.py``.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chaoshub import catalog, registry
from chaoshub.api.app import create_app
from chaoshub.errors import AdapterNotInstalled
from tests.support import queries as Q
from tests.support.stack import in_process_runtime
from tests.test_api_validation import ADMIN, data

HINT = "pip install 'chaoshub[aws]'"


@pytest.fixture
def without_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("botocore", "boto3"):
        monkeypatch.setitem(sys.modules, name, None)
    for name in [m for m in sys.modules if m.startswith("chaoshub.adapters.aws_ssm")]:
        monkeypatch.delitem(sys.modules, name)
    registry.names()  # entry points scanned before the caches are swapped
    monkeypatch.setattr(
        registry, "_loaded", {k: v for k, v in registry._loaded.items() if k != "aws-ssm"}
    )
    monkeypatch.setattr(registry, "_missing", {})
    monkeypatch.setattr(catalog, "_cache", {})


@pytest.fixture
def client(without_aws: None, tmp_path: Path) -> Iterator[TestClient]:
    runtime = in_process_runtime(tmp_path, admin=ADMIN)
    with TestClient(create_app(runtime, lambda *_: None)) as client:
        yield client


def test_the_adapter_is_unavailable_with_its_install_command(without_aws: None) -> None:
    reason = registry.unavailable("aws-ssm")
    assert reason is not None and HINT in reason and "botocore" in reason
    with pytest.raises(AdapterNotInstalled) as err:
        registry.get("aws-ssm")
    assert err.value.field == ["adapter"] and HINT in err.value.message
    assert registry.unavailable("native") is None


def test_its_entries_load_marked_not_installed_and_the_others_as_usual(without_aws: None) -> None:
    loaded = catalog.load()
    aws = [f for f in loaded.all() if f.adapter == "aws-ssm"]
    assert aws and all(HINT in f.unavailable for f in aws)
    assert all(not f.unavailable for f in loaded.all() if f.adapter != "aws-ssm")
    assert HINT in loaded.unavailable["aws-ssm"]
    assert not [p for p in loaded.problems if "aws-ssm" in p]


def test_the_api_shows_it_and_refuses_it_by_name(client: TestClient) -> None:
    listed = data(
        client,
        "{ adapters { name installed installHint } faultTypes { id installed installHint } }",
    )
    adapters = {a["name"]: a for a in listed["adapters"]}
    assert adapters["aws-ssm"]["installed"] is False and HINT in adapters["aws-ssm"]["installHint"]
    assert adapters["native"] == {"name": "native", "installed": True, "installHint": None}
    faults = {f["id"]: f for f in listed["faultTypes"]}
    assert faults["aws-ssm/cpu-stress"]["installed"] is False
    assert HINT in faults["aws-ssm/cpu-stress"]["installHint"]
    assert faults["native/process-pause"]["installed"] is True

    refused = data(
        client,
        Q.START_RUN,
        input={
            "faultType": "aws-ssm/cpu-stress",
            "backend": "anything",
            "params": {},
            "selector": {"instance_ids": ["i-0123456789abcdef0"]},
            "durationSeconds": 60,
        },
    )["startRun"]
    assert refused["code"] == "ADAPTER_NOT_INSTALLED" and refused["field"] == ["faultType"]
    assert HINT in refused["message"]
    assert data(client, "{ runs { totalCount } }")["runs"]["totalCount"] == 0

    backend = data(
        client,
        Q.CREATE_BACKEND,
        input={"name": "aws", "adapter": "aws-ssm", "config": {"region": "eu-west-1"}},
    )["createBackend"]
    assert backend["code"] == "ADAPTER_NOT_INSTALLED" and backend["field"] == ["adapter"]
    assert [b["name"] for b in data(client, "{ backends { name } }")["backends"]] == ["native"]


def test_every_built_in_adapter_extra_exists_in_pyproject() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    entry_points = pyproject["project"]["entry-points"]["chaoshub.adapters"]
    for adapter, extra in registry.EXTRAS.items():
        assert adapter in entry_points and extra in extras, (adapter, extra)
