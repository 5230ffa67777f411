"""The aws-ssm catalog entries: one per fault, parameters named as the documents name them."""

from __future__ import annotations

import pytest

from chaoshub import catalog
from chaoshub.adapters.aws_ssm.faults import FAULTS, catalog_entries


def test_every_fault_has_an_external_catalog_entry_on_ec2_instances() -> None:
    loaded = {f.id: f for f in catalog.load().all()}
    for fault in FAULTS:
        entry = loaded[f"aws-ssm/{fault}"]
        assert entry.time_control.value == "external"
        assert entry.target_kind == "ec2-instance"


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_params_mirror_the_documents_parameters(
    fault: str, fis_reference: dict[str, dict[str, str | None]]
) -> None:
    document = fis_reference[FAULTS[fault].document]
    schema = catalog_entries()[fault].params
    names = set(schema["properties"]) - {"InstallDependencies"}
    assert names == set(document) - {"DurationSeconds"}  # the run's duration gives that one
    for name in names:
        default = document[name]
        if default is None:
            assert name in schema.get("required", []), f"{name} is required by the document"
        else:
            assert str(schema["properties"][name]["default"]) == default


def test_every_entry_takes_the_same_selector() -> None:
    selectors = {fault: entry.selector for fault, entry in catalog_entries().items()}
    first = next(iter(selectors.values()))
    assert first["anyOf"] and all(s == first for s in selectors.values())
