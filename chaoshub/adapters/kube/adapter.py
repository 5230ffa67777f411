"""The base class of the Kubernetes adapters: one cluster per backend, set up from its config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from chaoshub.adapters.kube.cluster import (
    CONFIG_PROPERTIES,
    TRANSPORT_ERRORS,
    Cluster,
    check_config,
)
from chaoshub.contract import Adapter, Execution, Handle
from chaoshub.errors import BackendUnavailable, HubError


def cluster_config_schema(**own: Any) -> dict[str, Any]:
    """JSON Schema of a backend config: the cluster's properties plus an adapter's ``own``."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {**CONFIG_PROPERTIES, **own},
    }


class KubeAdapter(Adapter):
    """An adapter whose tool runs in one Kubernetes cluster; subclasses add the faults."""

    #: an unreachable cluster is the backend being unavailable; API errors are mapped by
    #: :class:`~chaoshub.adapters.kube.cluster.Cluster` itself
    error_map: ClassVar[Mapping[type[BaseException], type[HubError]]] = {
        exc: BackendUnavailable for exc in TRANSPORT_ERRORS
    }
    #: the cluster (kubeconfig and context, or in-cluster) and the default namespace
    config_schema: ClassVar[Mapping[str, Any]] = cluster_config_schema()

    def __init__(self, config: Mapping[str, Any], *, backend: str = "") -> None:
        super().__init__(config, backend=backend)
        self.cluster = Cluster(self.config)

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        check_config(config)

    def chaos_object(self, item: Handle | Execution) -> dict[str, str]:
        """The object this adapter made (or makes) for an injection, as a Kubernetes object
        reference (``apiVersion``, ``kind``, ``namespace``, ``name``): what the hub's
        Kubernetes Events are about."""
        raise NotImplementedError

    def close(self) -> None:
        self.cluster.close()
