"""Names and labels the Kubernetes adapters give the objects they create.

An object's name derives from the execution id alone, so a retried inject meets its own
object (409, adopted) and a recovery without handle data finds it by name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from chaoshub.contract import Execution, Handle

#: every object the hub creates carries these labels
MANAGED_BY = ("app.kubernetes.io/managed-by", "chaoshub")
EXECUTION_LABEL = "chaoshub.io/execution"
#: the execution id in full (a label value is too short for every id)
EXECUTION_ANNOTATION = "chaoshub.io/execution-id"
#: set on an object kept after its recovery (the ``keep_resources`` param)
RECOVERED_MARK = "chaoshub.io/recovered"
#: the param that asks to keep what the run created, for debugging
KEEP = "keep_resources"

_UNSAFE = re.compile(r"[^a-z0-9-]+")


def locate(
    item: Handle | Execution, default_namespace: str, *, name_key: str = "name"
) -> tuple[str, str]:
    """The namespace and name of the object made for an execution.

    From the handle's data when the hub stored it; otherwise from the execution alone:
    the name derives from its id and the namespace was put in the target's attributes
    (``chaos_namespace``) when the target was discovered.
    """
    execution = item.execution if isinstance(item, Handle) else item
    data = (item.data if isinstance(item, Handle) else None) or {}
    namespace = (
        data.get("namespace")
        or execution.target.attributes.get("chaos_namespace")
        or default_namespace
    )
    return str(namespace), str(data.get(name_key) or object_name(execution.id))


def object_name(execution_id: str, *, prefix: str = "chaoshub", max_length: int = 52) -> str:
    """A DNS-1123 name for ``execution_id``: lower case, ``[a-z0-9-]``, at most ``max_length``.

    Ids that had to be shortened or changed keep a hash of the original, so two ids
    never share a name. The default length leaves room for the suffixes the operators
    add (Litmus names its runner pod ``<engine>-runner`` and its result
    ``<engine>-<experiment>``).
    """
    cleaned = _UNSAFE.sub("-", execution_id.lower()).strip("-")
    name = f"{prefix}-{cleaned}" if cleaned else prefix
    if name == f"{prefix}-{execution_id}" and len(name) <= max_length:
        return name
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:10]
    return f"{name[: max_length - len(digest) - 1].rstrip('-')}-{digest}"


def execution_label(execution_id: str) -> str:
    """A label value (at most 63 characters) that names the execution."""
    return object_name(execution_id, prefix="x", max_length=63)[2:]


def selector_string(labels: Mapping[str, str] | str | None) -> str:
    """``{"app": "web"}`` or ``"app=web"`` as a label selector string."""
    if not labels:
        return ""
    if isinstance(labels, str):
        return labels.strip()
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def labels_for(execution_id: str) -> dict[str, str]:
    return {MANAGED_BY[0]: MANAGED_BY[1], EXECUTION_LABEL: execution_label(execution_id)}


def metadata_for(execution_id: str, namespace: str, name: str) -> dict[str, object]:
    """The metadata of an object made for ``execution_id``: its name, labels and annotation."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": labels_for(execution_id),
        "annotations": {EXECUTION_ANNOTATION: execution_id},
    }


def made_for(obj_metadata: Mapping[str, object], execution_id: str) -> bool:
    """Was this object made for ``execution_id`` (so a retried inject may adopt it)?"""
    labels = obj_metadata.get("labels")
    return isinstance(labels, Mapping) and labels.get(EXECUTION_LABEL) == execution_label(
        execution_id
    )
