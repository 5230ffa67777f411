"""Which containers a selector picks: never all of them by default, never a skipped one."""

from __future__ import annotations

from typing import Any

import pytest

from chaoshub.adapters.docker_engine import DockerAdapter
from chaoshub.contract import Execution, Target
from chaoshub.errors import InvalidInput, NotFound, RejectedByTool


@pytest.mark.parametrize(
    "selector", [{}, {"names": []}, {"labels": {}}, {"limit": 3}, {"random": True}]
)
def test_a_selector_that_names_nothing_is_refused_before_any_io(selector: dict[str, Any]) -> None:
    unreachable = DockerAdapter({"base_url": "unix:///nonexistent/docker.sock"})
    with pytest.raises(InvalidInput) as err:
        unreachable.validate("container-kill", {}, selector)
    assert err.value.field == ["selector", "names"]
    with pytest.raises(InvalidInput):
        unreachable.discover("container-kill", selector)


@pytest.mark.parametrize(
    ("selector", "field"),
    [
        ({"names": ["re2:("]}, ["selector", "names", "0"]),
        ({"names": ["re2:(?<=x)web"]}, ["selector", "names", "0"]),  # RE2: no look-behind
        ({"names": "web"}, ["selector", "names"]),
        ({"names": ["web"], "limit": 0}, ["selector", "limit"]),
        ({"names": ["web"], "everything": True}, ["selector", "everything"]),
    ],
)
def test_a_malformed_selector_is_refused_with_its_field(
    selector: dict[str, Any], field: list[str]
) -> None:
    with pytest.raises(InvalidInput) as err:
        DockerAdapter({}).validate("container-pause", {}, selector)
    assert err.value.field == field


def test_names_regex_and_labels_select_running_containers(
    adapter: DockerAdapter, make_container: Any, prefix: str
) -> None:
    web1 = make_container("web-1", labels={"tier": f"{prefix}-web"})
    web2 = make_container("web-2", labels={"tier": f"{prefix}-web"})
    db = make_container("db", labels={"tier": f"{prefix}-db"})

    by_name = adapter.discover("container-pause", {"names": [db.name]})
    assert [t.id for t in by_name] == [db.id]
    by_short_id = adapter.discover("container-pause", {"names": [db.id[:12]]})
    assert [t.id for t in by_short_id] == [db.id]
    by_regex = adapter.discover("container-pause", {"names": [f"re2:^{prefix}-web-"]})
    assert {t.id for t in by_regex} == {web1.id, web2.id}
    by_label = adapter.discover("container-pause", {"labels": {"tier": f"{prefix}-web"}})
    assert {t.label for t in by_label} == {web1.name, web2.name}
    both = adapter.discover(
        "container-pause", {"names": [f"re2:^{prefix}-"], "labels": {"tier": f"{prefix}-db"}}
    )
    assert [t.id for t in both] == [db.id]


def test_limit_and_random_sample_the_matches(
    adapter: DockerAdapter, make_container: Any, prefix: str
) -> None:
    made = {make_container(f"sample-{i}").id for i in range(3)}
    selector = {"names": [f"re2:^{prefix}-sample-"]}
    limited = adapter.discover("container-kill", {**selector, "limit": 2})
    assert len(limited) == 2 and {t.id for t in limited} <= made
    one = adapter.discover("container-kill", {**selector, "random": True})
    assert len(one) == 1 and one[0].id in made


def test_a_container_labelled_skip_is_never_selected(
    adapter: DockerAdapter, make_container: Any, prefix: str
) -> None:
    kept = make_container("keep", labels={"app": f"{prefix}-shop"})
    skipped = make_container("skip", labels={"app": f"{prefix}-shop", "chaoshub.skip": "true"})

    by_label = adapter.discover("container-kill", {"labels": {"app": f"{prefix}-shop"}})
    assert [t.id for t in by_label] == [kept.id]
    with pytest.raises(NotFound, match="skipped by label") as err:
        adapter.discover("container-kill", {"names": [skipped.name]})
    assert err.value.field == ["selector", "names"]


def test_an_unknown_name_is_not_found(adapter: DockerAdapter, prefix: str) -> None:
    with pytest.raises(NotFound) as err:
        adapter.discover("container-kill", {"names": [f"{prefix}-nobody"]})
    assert err.value.field == ["selector", "names"]


def test_a_container_labelled_skip_is_refused_even_when_named_directly(
    adapter: DockerAdapter, make_container: Any, client: Any
) -> None:
    skipped = make_container("skip-direct", labels={"chaoshub.skip": "true"})
    execution = Execution(
        id="test-skip",
        fault="container-pause",
        params={},
        target=Target(id=skipped.id, label=skipped.name),
    )
    with pytest.raises(RejectedByTool, match="skipped"):
        adapter.inject(execution)
    assert client.api.inspect_container(skipped.id)["State"]["Paused"] is False
