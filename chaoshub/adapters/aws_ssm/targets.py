"""Selecting EC2 instances: by ids, tags or EC2 filters, then eligibility, then sampling.

The selector's JSON Schema is part of each catalog entry (``selector``), so the API and
the UI see it; :func:`validate_selector` checks against it and adds what a schema
cannot say well.

Only instances that are ``running`` and, when the backend asks for it (the default),
registered with SSM, ``Online`` and on Linux (the ``AWSFIS-Run-*`` documents are
Linux-only) are eligible. Every instance the selector matched but that is not eligible is
named with its reason: in each target's ``left_out`` attribute and in the ``NotFound``
error when nothing is left.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from chaoshub.contract import Target
from chaoshub.errors import InvalidInput, NotFound
from chaoshub.schemas import validator

#: how DescribeInstanceInformation accepts instance ids at most per call
_SSM_BATCH = 50

Call = Callable[..., dict[str, Any]]


def validate_selector(selector: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Check the selector against the catalog entry's selector schema; no I/O."""
    errors = sorted(validator(schema).iter_errors(dict(selector)), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        path = ["selector", *[str(p) for p in first.absolute_path]]
        if first.validator == "anyOf":
            raise InvalidInput(
                "give instance_ids, tags or filters", field=["selector", "instance_ids"]
            )
        if first.validator == "additionalProperties" and not first.absolute_path:
            extra = sorted(set(selector) - set(schema["properties"]))
            path.append(extra[0])
        raise InvalidInput(first.message, field=path)
    if "limit" in selector and "percent" in selector:
        raise InvalidInput("give limit or percent, not both", field=["selector", "percent"])


def _primary_field(selector: Mapping[str, Any]) -> str:
    return next(k for k in ("instance_ids", "tags", "filters") if k in selector)


def _ec2_filters(selector: Mapping[str, Any]) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    if "instance_ids" in selector:
        filters.append({"Name": "instance-id", "Values": list(selector["instance_ids"])})
    for key, value in (selector.get("tags") or {}).items():
        filters.append(
            {"Name": f"tag:{key}", "Values": [value] if isinstance(value, str) else list(value)}
        )
    for item in selector.get("filters") or []:
        filters.append({"Name": item["name"], "Values": list(item["values"])})
    return filters


def _pages(call: Call, op: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = call(op, **kwargs, **({"NextToken": token} if token else {}))
        yield from page.get(key) or []
        token = page.get("NextToken")
        if not token:
            return


def _instances(ec2: Call, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for reservation in _pages(
        ec2, "describe_instances", "Reservations", Filters=_ec2_filters(selector)
    ):
        out.extend(reservation.get("Instances") or [])
    return out


def _ssm_info(ssm: Call, ids: list[str]) -> dict[str, dict[str, Any]]:
    info: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), _SSM_BATCH):
        batch = ids[start : start + _SSM_BATCH]
        filters = [{"Key": "InstanceIds", "Values": batch}]
        for item in _pages(
            ssm, "describe_instance_information", "InstanceInformationList", Filters=filters
        ):
            info[item["InstanceId"]] = item
    return info


def _tags(instance: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags") or []}


def _sample(ids: list[str], selector: Mapping[str, Any]) -> list[str]:
    count = len(ids)
    if "limit" in selector:
        count = min(count, int(selector["limit"]))
    elif "percent" in selector:
        count = max(1, math.ceil(len(ids) * float(selector["percent"]) / 100))
    if count >= len(ids):
        return ids
    return sorted(random.Random(selector.get("seed")).sample(ids, count))


def discover(
    ec2: Call, ssm: Call, selector: Mapping[str, Any], *, region: str, require_ssm_online: bool
) -> list[Target]:
    instances = _instances(ec2, selector)
    field = ["selector", _primary_field(selector)]
    wanted = list(selector.get("instance_ids") or [])
    found_ids = {i["InstanceId"] for i in instances}
    unknown = [i for i in wanted if i not in found_ids]
    if unknown:
        raise NotFound(
            f"no EC2 instance {', '.join(unknown)} in {region} "
            "(or it does not match the other selector fields)",
            field=["selector", "instance_ids"],
        )
    left_out: dict[str, str] = {}
    running = []
    for inst in sorted(instances, key=lambda i: i["InstanceId"]):
        state = inst.get("State", {}).get("Name", "unknown")
        if state == "running":
            running.append(inst)
        else:
            left_out[inst["InstanceId"]] = f"state {state}, not running"
    info: dict[str, dict[str, Any]] = {}
    if require_ssm_online and running:
        info = _ssm_info(ssm, [i["InstanceId"] for i in running])
    eligible = []
    for inst in running:
        iid = inst["InstanceId"]
        if require_ssm_online:
            item = info.get(iid)
            if item is None:
                left_out[iid] = "not managed by SSM (no agent registration)"
                continue
            if item.get("PingStatus") != "Online":
                left_out[iid] = f"SSM agent {item.get('PingStatus')}, not Online"
                continue
            if item.get("PlatformType") != "Linux":
                left_out[iid] = (
                    f"platform {item.get('PlatformType')}: "
                    "the AWSFIS-Run-* documents are Linux-only"
                )
                continue
        eligible.append(inst)
    if not eligible:
        reasons = "; ".join(f"{k}: {v}" for k, v in sorted(left_out.items()))
        raise NotFound(
            "the selector matches no eligible EC2 instance in "
            + region
            + (f" (left out: {reasons})" if reasons else ""),
            field=field,
        )
    by_id = {i["InstanceId"]: i for i in eligible}
    chosen = _sample(sorted(by_id), selector)
    targets = []
    for iid in chosen:
        inst = by_id[iid]
        tags = _tags(inst)
        ssm_item = info.get(iid, {})
        targets.append(
            Target(
                id=iid,
                label=tags.get("Name") or iid,
                attributes={
                    "kind": "ec2-instance",
                    "region": region,
                    "availability_zone": inst.get("Placement", {}).get("AvailabilityZone"),
                    "instance_type": inst.get("InstanceType"),
                    "private_ip": inst.get("PrivateIpAddress"),
                    "tags": tags,
                    "ssm_ping_status": ssm_item.get("PingStatus"),
                    "platform": ssm_item.get("PlatformName") or inst.get("PlatformDetails"),
                    "matched": len(instances),
                    "eligible": len(eligible),
                    "left_out": dict(left_out),
                },
            )
        )
    return targets
