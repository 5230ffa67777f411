"""A cluster backend given its kubeconfig inline (``kubeconfig_data``) instead of a file."""

from __future__ import annotations

import pytest
from kube_peers import FakeCluster

from chaoshub.adapters.litmus import LitmusAdapter
from chaoshub.errors import InvalidInput
from chaoshub.runtime import validate_backend_config


def test_an_inline_kubeconfig_reaches_the_cluster(kube: FakeCluster, ns: str) -> None:
    config = {**kube.config(ns), "kubeconfig_data": kube.kubeconfig.read_text()}
    del config["kubeconfig"]
    validate_backend_config("litmus", config)
    adapter = LitmusAdapter(config, backend="inline")
    try:
        health = adapter.health()
        assert health.ok, health.message
    finally:
        adapter.close()


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"kubeconfig_data": "just: [text"}, ["config", "kubeconfig_data"]),
        ({"kubeconfig_data": "- a list"}, ["config", "kubeconfig_data"]),
        ({"kubeconfig_data": "a: 1", "kubeconfig": "/x"}, ["config", "kubeconfig_data"]),
        ({"kubeconfig_data": "a: 1", "in_cluster": True}, ["config", "kubeconfig_data"]),
    ],
)
def test_a_bad_inline_kubeconfig_is_refused_without_quoting_it(
    config: dict[str, object], field: list[str]
) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_backend_config("litmus", config)
    assert err.value.field == field
    assert str(config["kubeconfig_data"]) not in str(err.value)
