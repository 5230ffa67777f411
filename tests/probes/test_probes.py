"""Probes against real peers: an HTTP service, a TCP listener, a Prometheus server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from chaoshub.errors import InvalidInput
from chaoshub.probes import Outcome, parse_probe, run_check
from tests.probes.peers import PrometheusServer, Service, http_service, prometheus_server
from tests.support.stack import free_port, wait_for


@pytest.fixture
def service() -> Iterator[Service]:
    with http_service() as svc:
        yield svc


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    with prometheus_server() as server:
        yield server


def http(url: str, **expect: object) -> dict[str, object]:
    return {"http": {"url": url, "expect": expect, "timeoutSeconds": 2}}


# -- http -------------------------------------------------------------------------------------


def test_http_probe_holds_on_the_expected_status(service: Service) -> None:
    sample = parse_probe(http(service.url + "/health", status=[200])).probe.check()
    assert sample.ok and sample.value == 200 and sample.latency_ms is not None


def test_http_probe_fails_on_another_status_saying_which(service: Service) -> None:
    service.answer(503)
    sample = parse_probe(http(service.url + "/health", status=[200])).probe.check()
    assert not sample.ok and sample.value == 503 and "503" in (sample.error or "")


def test_http_probe_without_status_expects_any_2xx(service: Service) -> None:
    service.answer(204, body="")
    assert parse_probe(http(service.url + "/health")).probe.check().ok
    service.answer(302, body="")
    assert not parse_probe(http(service.url + "/health")).probe.check().ok


def test_http_probe_judges_latency(service: Service) -> None:
    service.answer(200, delay=0.4)
    sample = parse_probe(http(service.url + "/health", latencyMs={"<": 200})).probe.check()
    assert not sample.ok and "latency" in (sample.error or "") and (sample.latency_ms or 0) >= 400


def test_http_probe_times_out_as_a_failing_sample(service: Service) -> None:
    service.answer(200, delay=3)
    doc = {"http": {"url": service.url + "/health", "timeoutSeconds": 0.5}}
    sample = parse_probe(doc).probe.check()
    assert not sample.ok and "within 0.5 s" in (sample.error or "")


def test_http_probe_matches_the_body_with_full_match(service: Service) -> None:
    service.answer(200, body="up")
    assert parse_probe(http(service.url + "/health", body={"matches": "up"})).probe.check().ok
    service.answer(200, body="up\n")
    assert not parse_probe(http(service.url + "/health", body={"matches": "up"})).probe.check().ok


def test_http_probe_compares_a_json_path_value(service: Service) -> None:
    service.answer(200, body='{"status": "up", "queue": {"depth": 7}}')
    ok = http(service.url + "/health", body={"jsonPath": "$.queue.depth", "<=": 10})
    bad = http(service.url + "/health", body={"jsonPath": "$.status", "==": "down"})
    assert parse_probe(ok).probe.check().ok
    sample = parse_probe(bad).probe.check()
    assert not sample.ok and "$.status" in (sample.error or "")


def test_http_probe_on_a_closed_port_is_a_failing_sample() -> None:
    sample = parse_probe(http(f"http://127.0.0.1:{free_port()}/")).probe.check()
    assert not sample.ok and "Connect" in (sample.error or "")


# -- tcp --------------------------------------------------------------------------------------


def test_tcp_probe_connects_to_a_listener_and_fails_on_a_closed_port() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        sample = parse_probe({"tcp": {"host": "127.0.0.1", "port": port}}).probe.check()
        assert sample.ok and isinstance(sample.value, float)
    sample = parse_probe({"tcp": {"host": "127.0.0.1", "port": port}}).probe.check()
    assert not sample.ok and sample.error


# -- prometheus -------------------------------------------------------------------------------


def prom(
    server: PrometheusServer, query: str, expect: dict[str, object], **extra: object
) -> dict[str, object]:
    return {"prometheus": {"url": server.url, "query": query, "expect": expect, **extra}}


def test_prometheus_probe_compares_a_single_series(prometheus: PrometheusServer) -> None:
    prometheus.set(a=3, b=1)
    wait_for(lambda: prometheus.sees('test_probe_value{series="a"}', 3.0), timeout=20)
    assert parse_probe(prom(prometheus, 'test_probe_value{series="a"}', {"==": 3})).probe.check().ok
    sample = parse_probe(prom(prometheus, 'test_probe_value{series="a"}', {"<": 2})).probe.check()
    assert not sample.ok and sample.value == 3.0


def test_prometheus_probe_with_several_series_needs_all_or_any(
    prometheus: PrometheusServer,
) -> None:
    prometheus.set(a=5, b=1)
    wait_for(lambda: prometheus.sees('test_probe_value{series="a"}', 5.0), timeout=20)
    query = "test_probe_value"
    every = parse_probe(prom(prometheus, query, {"<": 3})).probe.check()
    assert not every.ok and 'series="a"' in (every.error or "")
    assert parse_probe(prom(prometheus, query, {"<": 3}, series="any")).probe.check().ok


def test_prometheus_probe_counts_an_empty_vector_as_failed_unless_told(
    prometheus: PrometheusServer,
) -> None:
    query = 'test_probe_value{series="none"}'
    sample = parse_probe(prom(prometheus, query, {">": 0})).probe.check()
    assert not sample.ok and "no series" in (sample.error or "")
    assert parse_probe(prom(prometheus, query, {">": 0}, onEmpty="pass")).probe.check().ok


def test_prometheus_probe_reduces_a_scalar_and_reports_a_bad_query(
    prometheus: PrometheusServer,
) -> None:
    assert parse_probe(prom(prometheus, "scalar(vector(2))", {"between": [1, 3]})).probe.check().ok
    sample = parse_probe(prom(prometheus, "sum(", {">": 0})).probe.check()
    assert not sample.ok and "bad_data" in (sample.error or "")


# -- thresholds and duration -------------------------------------------------------------------


def test_a_check_passes_once_its_success_threshold_is_reached(service: Service) -> None:
    definition = parse_probe(
        {**http(service.url + "/health"), "successThreshold": 2, "intervalSeconds": 0.1}
    )
    result = run_check(definition.probe, definition.timing)
    assert result.outcome is Outcome.PASSED and result.tracker.checks == 2


def test_a_check_breaches_only_on_consecutive_failures(service: Service) -> None:
    service.answer(500)
    definition = parse_probe(
        {**http(service.url + "/health"), "failureThreshold": 3, "intervalSeconds": 0.1}
    )
    result = run_check(definition.probe, definition.timing)
    assert result.outcome is Outcome.FAILED and result.tracker.checks == 3
    assert "3 consecutive" in result.reason and "500" in result.reason


def test_a_check_for_a_duration_samples_all_of_it_and_fails_on_a_breach(service: Service) -> None:
    definition = parse_probe(
        {
            **http(service.url + "/health"),
            "forSeconds": 2,
            "intervalSeconds": 0.2,
            "failureThreshold": 2,
        }
    )
    held = run_check(definition.probe, definition.timing)
    assert held.outcome is Outcome.PASSED and held.tracker.checks >= 5

    threading.Timer(0.5, service.answer, args=(503,)).start()
    started = time.monotonic()
    broke = run_check(definition.probe, definition.timing)
    assert broke.outcome is Outcome.FAILED and time.monotonic() - started < 2
    assert [s.ok for s in broke.tracker.samples][-2:] == [False, False]


def test_a_flapping_check_that_cannot_decide_fails_saying_so(service: Service) -> None:
    service.answer("200,500")
    definition = parse_probe(
        {
            **http(service.url + "/health"),
            "successThreshold": 3,
            "failureThreshold": 3,
            "intervalSeconds": 0.1,
        }
    )
    result = run_check(definition.probe, definition.timing)
    assert result.outcome is Outcome.FAILED and "undecided" in result.reason


def test_a_stopped_check_ends_aborted_between_samples(service: Service) -> None:
    definition = parse_probe(
        {**http(service.url + "/health"), "forSeconds": 30, "intervalSeconds": 5}
    )
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    result = run_check(definition.probe, definition.timing, stop=stop.is_set)
    assert result.outcome is Outcome.ABORTED and time.monotonic() - started < 3


# -- validation: no I/O, the field named --------------------------------------------------------


U = "http://x/"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"http": {"url": "ftp://x/"}}, ["probe", "http", "url"]),
        ({"http": {"url": U, "verb": "GET"}}, ["probe", "http", "verb"]),
        (
            {"http": {"url": U, "expect": {"status": [700]}}},
            ["probe", "http", "expect", "status"],
        ),
        (
            {"http": {"url": U, "expect": {"latencyMs": {"<": "fast"}}}},
            ["probe", "http", "expect", "latencyMs", "<"],
        ),
        (
            {"http": {"url": U, "expect": {"body": {"matches": "(?=a)"}}}},
            ["probe", "http", "expect", "body", "matches"],
        ),
        (
            {"http": {"url": U, "expect": {"body": {"jsonPath": "$[", "==": 1}}}},
            ["probe", "http", "expect", "body", "jsonPath"],
        ),
        ({"http": {"url": U}, "intervalSeconds": 0}, ["probe", "intervalSeconds"]),
        ({"http": {"url": U}, "failureTreshold": 3}, ["probe", "failureTreshold"]),
        ({"tcp": {"host": "a;b", "port": 80}}, ["probe", "tcp", "host"]),
        ({"tcp": {"host": "a", "port": 70000}}, ["probe", "tcp", "port"]),
        (
            {"prometheus": {"url": U, "query": "up", "expect": {"between": [3, 1]}}},
            ["probe", "prometheus", "expect", "between"],
        ),
        (
            {"prometheus": {"url": U, "query": "up"}},
            ["probe", "prometheus", "expect"],
        ),
        ({"http": {"url": U}, "tcp": {"host": "a", "port": 1}}, ["probe"]),
        ({"shell": "id"}, ["probe"]),
    ],
)
def test_a_bad_probe_is_refused_naming_the_field(
    document: dict[str, object], field: list[str]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_probe(document, ["probe"])
    assert refused.value.field == field, refused.value
