"""`chaoshub run search.yaml --wait` and `chaoshub validate` on threshold searches, the
command in its own process against a whole hub (`chaoshub up`), as a pipeline runs it.

The example of the documentation, examples/checkout-latency-tolerance.yaml, runs as written
against a checkout service whose tolerance the test built: it calls ``payments`` (a proxy
of the fake Toxiproxy named so) with a 500 ms client timeout, and is served on
127.0.0.1:8081 as the file says (when another process holds that port, on a free one, the
file's URL changed to it and nothing else).

Run with ``python -m pytest`` so that ``tests.support`` imports.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import chaoshub, following
from tests.support.stack import GraphQL, wait_for
from tests.thresholds.services import (
    CLIENT_TIMEOUT,
    Checkout,
    FakeToxiproxy,
    checkout,
    proxy,
    toxics,
)

pytestmark = pytest.mark.slow

ABORT = """mutation($id: ID!) { abortThresholdSearch(id: $id) { __typename } }"""
PHASE = "query($id: ID!) { thresholdSearch(id: $id) { phase } }"
EXAMPLE = Path(__file__).parents[2] / "examples" / "checkout-latency-tolerance.yaml"
BAND = re.compile(
    r"^highest held (\S+), lowest broke (\S+): threshold latency in \((\S+), (\S+)\], "
    r"within resolution (\S+); (\d+) trials, wall time (\S+) s$"
)


@pytest.fixture(scope="module")
def payments(toxiproxy: FakeToxiproxy) -> Iterator[tuple[str, int]]:
    """The example's ``payments``, by that name (this module's fake Toxiproxy is its own)."""
    with proxy(toxiproxy, "payments") as made:
        yield made


@pytest.fixture(scope="module")
def service(payments: tuple[str, int]) -> Iterator[Checkout]:
    try:
        served = checkout(payments[1], port=8081)
        svc = served.__enter__()
    except OSError:  # another process serves 8081
        served = checkout(payments[1])
        svc = served.__enter__()
    try:
        yield svc
    finally:
        served.__exit__(None, None, None)


def example(service: Checkout) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc["slo"][0]["http"]["url"] = service.url
    return doc


def written(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def small(service: Checkout, **vary: Any) -> dict[str, Any]:
    """The example made quick: 2 s trials, a short range."""
    doc = example(service)
    doc.update(name=f"quick-{uuid.uuid4().hex[:6]}", trialSeconds=2, coolDownSeconds=0.5)
    doc["slo"][0]["intervalSeconds"] = 0.2
    doc["vary"] = {**doc["vary"], **vary}
    return doc


def test_the_example_lands_on_the_services_client_timeout_through_the_cli(
    hub_access: tuple[str, str],
    toxiproxy: FakeToxiproxy,
    payments: tuple[str, int],
    service: Checkout,
    tmp_path: Path,
) -> None:
    doc = example(service)
    assert doc == {**yaml.safe_load(EXAMPLE.read_text()), "slo": doc["slo"]}
    checked = chaoshub(hub_access, "validate", str(written(tmp_path, doc)))
    assert checked.returncode == 0, checked
    assert "a valid threshold search" in checked.stdout

    began = time.monotonic()
    ran = chaoshub(hub_access, "run", str(written(tmp_path, doc)), "--wait")
    took = time.monotonic() - began
    print(f"\nexample search through the CLI ({took:.1f} s):\n{ran.stdout}{ran.stderr}")
    assert ran.returncode == 0, ran
    lines = ran.stdout.strip().splitlines()
    assert lines[0].startswith("threshold search ") and "at most 9 trials" in lines[0]
    ended = [line for line in lines if re.match(r"^trial \d+: latency=\d+: (held|broke):", line)]
    magnitudes = [int(line.split("latency=")[1].split(":")[0]) for line in ended]
    assert magnitudes[:3] == [0, 2000, 1000], ended
    band = BAND.match(lines[-1])
    assert band, lines[-1]
    held, broke, _, _, resolution, trials, _wall = band.groups()
    timeout_ms = CLIENT_TIMEOUT * 1000
    # at the timeout, less what the proxy and the service add to each answer (a few ms;
    # tens on a loaded machine, as the first trial's p95 at latency 0 shows): one
    # resolution step below that at most
    overhead = float(ended[0].split("latencyMsP95=")[1].split()[0])
    assert timeout_ms - max(overhead, 25) - 25 <= float(held) < timeout_ms, (lines[-1], overhead)
    assert float(held) < float(broke) <= timeout_ms and float(broke) - float(held) <= 25
    assert (resolution, int(trials)) == ("25", len(ended)) and len(ended) <= 9
    for line in ended:
        assert "checkout-p95 latencyMsP95=" in line and "checkout-p95 successRatio=" in line
    assert toxics(toxiproxy, "payments") == []


def test_exit_1_says_whether_even_the_lowest_broke_or_even_the_highest_held(
    hub_access: tuple[str, str], service: Checkout, tmp_path: Path, toxiproxy: FakeToxiproxy
) -> None:
    lowest = chaoshub(
        hub_access,
        "run",
        str(written(tmp_path, small(service, **{"from": 700, "to": 1000, "resolution": 100}))),
        "--wait",
        "--output",
        "json",
    )
    assert lowest.returncode == 1, lowest
    final = json.loads(lowest.stdout)
    assert final["phase"] == "completed" and not final["result"]["found"]
    assert [t["magnitude"] for t in final["trials"]] == [700]
    assert "even the lowest magnitude, latency=700, broke" in lowest.stderr.splitlines()[-1]
    assert "trial 1: latency=700: broke" in lowest.stderr

    highest = chaoshub(
        hub_access,
        "run",
        str(written(tmp_path, small(service, **{"from": 0, "to": 200, "resolution": 50}))),
        "--wait",
    )
    assert highest.returncode == 1, highest
    last = highest.stdout.strip().splitlines()[-1]
    assert "even the highest magnitude tried, latency=200, held" in last, highest.stdout
    assert "2 trials, wall time" in last
    assert toxics(toxiproxy, "payments") == []


def test_a_refused_search_names_the_field_exits_2_and_starts_nothing(
    hub_access: tuple[str, str], service: Checkout, tmp_path: Path
) -> None:
    doc = small(service, param="stream")
    path = written(tmp_path, doc)
    checked = chaoshub(hub_access, "validate", str(path))
    assert checked.returncode == 1, checked
    assert checked.stdout.startswith("vary.param: 'stream' is not a numeric parameter")
    ran = chaoshub(hub_access, "run", str(path), "--wait")
    assert ran.returncode == 2, ran
    assert "vary.param" in ran.stderr and "Traceback" not in ran.stderr
    junit = chaoshub(
        hub_access, "run", str(written(tmp_path, small(service))), "--wait", "--junit", "x"
    )
    assert junit.returncode == 2 and "--junit" in junit.stderr, junit
    unreachable = chaoshub(
        None, "run", str(path), "--url", "http://127.0.0.1:9", "--token", "t", timeout=60
    )
    assert unreachable.returncode == 2 and "Traceback" not in unreachable.stderr, unreachable


def test_without_wait_it_starts_and_ctrl_c_while_waiting_aborts_the_search(
    hub_access: tuple[str, str], service: Checkout, tmp_path: Path, toxiproxy: FakeToxiproxy
) -> None:
    doc = small(service)
    doc["trialSeconds"] = 120
    path = written(tmp_path, doc)
    gql = GraphQL(*hub_access)
    try:
        started = chaoshub(hub_access, "run", str(path), "--output", "json")
        assert started.returncode == 0, started
        first = json.loads(started.stdout)
        assert first["phase"] in ("pending", "running") and first["expectedTrials"] == 9
        assert gql(ABORT, id=first["id"])["abortThresholdSearch"]["__typename"] == (
            "ThresholdSearch"
        )

        with following(
            hub_access, "run", str(path), "--wait",
            until=lambda line: line.startswith("trial 1: latency=0 started"),
        ) as cmd:  # fmt: skip
            search_id = cmd.seen[0].split()[2]
            wait_for(lambda: toxics(toxiproxy, "payments"), 60, interval=0.2, what="the fault")
            status = cmd.interrupt()
        assert status == 130, (cmd.seen, cmd.out, cmd.err)
        assert cmd.err.strip() == f"threshold search {search_id}: abort requested"
        wait_for(
            lambda: gql(PHASE, id=search_id)["thresholdSearch"]["phase"] == "aborted",
            60,
            interval=0.3,
            what="the search aborted",
        )
        wait_for(
            lambda: gql(PHASE, id=first["id"])["thresholdSearch"]["phase"] == "aborted",
            60,
            interval=0.3,
            what="the first search aborted",
        )
        assert toxics(toxiproxy, "payments") == []
    finally:
        gql.close()
