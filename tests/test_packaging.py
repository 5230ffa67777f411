"""The wheel as a user gets it: built from the sources, installed into a fresh venv with no
extras, and `chaoshub up` from that venv.

- the wheel installs one import name, ``chaoshub`` (``hub``/``adapters`` are other PyPI
  distributions' names), with every data file the hub reads;
- building it prints no setuptools warning;
- without extras the hub starts, lists the adapters whose extra is missing as not
  installed with the pip command, and runs the rest.

The console is in the wheel only when it was built (``chaoshub/static``, not in git); the
build here takes whatever the source tree has, and says so when it is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.stack import free_port, wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
HINTS = {
    "aws-ssm": "pip install 'chaoshub[aws]'",
    "docker": "pip install 'chaoshub[docker]'",
    "litmus": "pip install 'chaoshub[kubernetes]'",
    "chaos-mesh": "pip install 'chaoshub[kubernetes]'",
}


@dataclass
class Built:
    wheel: Path
    log: str


def _clean_env() -> dict[str, str]:
    """The environment of a user's shell: nothing points Python at this checkout."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("CHAOSHUB_")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    # a copy of what the wheel is made of, so the checkout gets no build/ or egg-info
    src = tmp_path_factory.mktemp("src")
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(
        ROOT / "chaoshub", src / "chaoshub", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
        env=_clean_env(),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("chaoshub-*.whl")
    return Built(wheel, result.stdout + result.stderr)


def test_the_wheel_installs_one_import_name_with_its_data(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as whl:
        names = whl.namelist()
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert whl.read(top_level).decode().split() == ["chaoshub"]
    assert {n.split("/")[0] for n in names} == {"chaoshub", top_level.split("/")[0]}
    for folder in (ROOT / "chaoshub" / "catalog").iterdir():
        if folder.is_dir() and folder.name != "__pycache__":
            shipped = {n for n in names if n.startswith(f"chaoshub/catalog/{folder.name}/")}
            assert len(shipped) == len(list(folder.glob("*.yaml"))), folder.name
    for path in (
        "chaoshub/py.typed",
        "chaoshub/catalog/schema.json",
        "chaoshub/formats/schemas/chaoshub.json",
        "chaoshub/store/migrations/env.py",
        "chaoshub/store/migrations/script.py.mako",
    ):
        assert path in names
    versions = sorted((ROOT / "chaoshub/store/migrations/versions").glob("*.py"))
    assert {f"chaoshub/store/migrations/versions/{p.name}" for p in versions} <= set(names)
    if (ROOT / "chaoshub/static/index.html").exists():
        assert "chaoshub/static/index.html" in names
        assert any(n.startswith("chaoshub/static/assets/") for n in names)
    else:
        print("chaoshub/static is not built: the wheel has no console", file=sys.stderr)


def test_building_it_prints_no_setuptools_warning(built: Built) -> None:
    # "Warning:" as Python's warnings print it; pip's own "WARNING:" lines are about the
    # machine's index configuration, not this project
    warnings = [line for line in built.log.splitlines() if re.search(r"Warning\b", line)]
    assert warnings == []


@pytest.fixture(scope="module")
def plain_venv(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(home)
    result = subprocess.run(
        [str(home / "bin/python"), "-m", "pip", "install", "--quiet", str(built.wheel)],
        capture_output=True,
        text=True,
        timeout=900,
        env=_clean_env(),
        cwd=home,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home


def test_the_venv_has_no_extras_and_no_other_top_level_names(plain_venv: Path) -> None:
    probe = (
        "import importlib.util as u; "
        "print([n for n in ('hub', 'adapters', 'catalog', 'native_injector', 'boto3', "
        "'docker', 'kubernetes') if u.find_spec(n)])"
    )
    result = subprocess.run(
        [str(plain_venv / "bin/python"), "-c", probe],
        capture_output=True,
        text=True,
        env=_clean_env(),
        cwd=plain_venv,
    )
    assert result.stdout.strip() == "[]", result


@pytest.fixture
def up(plain_venv: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    port = free_port()
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(plain_venv / "bin/chaoshub"),
                "up",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**_clean_env(), "PYTHONUNBUFFERED": "1"},
            cwd=tmp_path,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: (
                proc.poll() is None and httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            ),
            90,
            what="chaoshub up from the venv",
        )
        yield url, (tmp_path / "admin-token").read_text().strip()
    except BaseException:
        print(log.read_text(errors="replace")[-5000:], file=sys.stderr)
        raise
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def test_chaoshub_up_without_extras_serves_and_shows_what_is_missing(
    up: tuple[str, str],
) -> None:
    url, token = up
    answer = httpx.post(
        f"{url}/graphql",
        json={
            "query": "{ adapters { name installed installHint } "
            "faultTypes { id adapter installed installHint } agents { name } }"
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert not body.get("errors"), body
    adapters = {a["name"]: a for a in body["data"]["adapters"]}
    for name, hint in HINTS.items():
        assert adapters[name]["installed"] is False and hint in adapters[name]["installHint"]
    for name in ("native", "http", "toxiproxy"):
        assert adapters[name]["installed"] is True, adapters[name]
    faults = body["data"]["faultTypes"]
    for name, hint in HINTS.items():
        mine = [f for f in faults if f["adapter"] == name]
        assert mine and all(not f["installed"] and hint in f["installHint"] for f in mine), name
    assert all(f["installed"] for f in faults if f["adapter"] in ("native", "toxiproxy"))
    assert {f["id"] for f in faults} >= {"native/process-pause", "toxiproxy/latency"}
