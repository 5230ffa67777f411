"""What the Kubernetes chaos adapters (``litmus``, ``chaos-mesh``) share: one cluster's API."""

from chaoshub.adapters.kube.adapter import KubeAdapter, cluster_config_schema
from chaoshub.adapters.kube.cluster import CONFIG_PROPERTIES, DNS_LABEL, Cluster, Resource, meta
from chaoshub.adapters.kube.naming import labels_for, object_name, selector_string

__all__ = [
    "CONFIG_PROPERTIES",
    "DNS_LABEL",
    "Cluster",
    "KubeAdapter",
    "Resource",
    "cluster_config_schema",
    "labels_for",
    "meta",
    "object_name",
    "selector_string",
]
