"""The aws-ssm adapter against a real moto_server: real HTTP, real boto3.

moto runs nothing on the instances: every invocation is ``Success`` at once, with empty
output. What these tests show is the wire: which instances are selected, which document
is sent with which parameters, how invocations are read, how commands are found again.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from chaoshub.adapters.aws_ssm import AwsSsmAdapter
from chaoshub.adapters.aws_ssm.commands import comment_for
from chaoshub.adapters.aws_ssm.faults import FAULTS
from chaoshub.adapters.aws_ssm.rollback import SCRIPT
from chaoshub.contract import Execution, Handle, Observed, Target
from chaoshub.errors import InvalidInput, NotFound

#: the smallest valid params of every fault
MINIMAL_PARAMS: dict[str, dict[str, Any]] = {
    "cpu-stress": {},
    "memory-stress": {"Percent": 50},
    "io-stress": {},
    "disk-fill": {},
    "kill-process": {"ProcessName": "nginx"},
    "network-latency": {},
    "network-latency-sources": {"Sources": "DYNAMODB,10.0.0.0/16"},
    "network-packet-loss": {},
    "network-packet-loss-sources": {"Sources": "S3"},
    "network-blackhole-port": {"Protocol": "tcp", "Port": 5432},
}


def execution(
    fault: str, instance: str, params: dict[str, Any], duration: float | None = 30
) -> Execution:
    return Execution(
        id=f"run-{uuid.uuid4().hex[:8]}/{instance}/0",
        fault=fault,
        params=params,
        target=Target(instance, instance),
        duration_seconds=duration,
    )


@pytest.fixture
def adapter(backend_config: dict[str, Any]) -> AwsSsmAdapter:
    return AwsSsmAdapter(backend_config, backend="moto")


# -- targets -------------------------------------------------------------------------------------


def test_targets_are_resolved_by_tag(adapter: AwsSsmAdapter, launch: Any, team: str) -> None:
    ids = launch(3, team=team, Name="web")
    found = adapter.discover("cpu-stress", {"tags": {"team": team}})
    assert sorted(t.id for t in found) == sorted(ids)
    assert {t.label for t in found} == {"web"}
    assert found[0].attributes["tags"]["team"] == team


def test_targets_are_resolved_by_id(adapter: AwsSsmAdapter, launch: Any, team: str) -> None:
    first, _ = launch(2, team=team)
    found = adapter.discover("cpu-stress", {"instance_ids": [first]})
    assert [t.id for t in found] == [first]
    assert found[0].label == first  # no Name tag: the id is the label


def test_targets_are_resolved_by_ec2_filter(adapter: AwsSsmAdapter, launch: Any, team: str) -> None:
    ids = launch(2, team=team)
    selector = {
        "filters": [
            {"name": "tag:team", "values": [team]},
            {"name": "instance-type", "values": ["t3.micro"]},
        ]
    }
    assert sorted(t.id for t in adapter.discover("cpu-stress", selector)) == sorted(ids)


def test_stopped_instances_are_left_out_and_named(
    adapter: AwsSsmAdapter, aws: dict[str, Any], launch: Any, team: str
) -> None:
    running, stopped = launch(2, team=team)
    aws["ec2"].stop_instances(InstanceIds=[stopped])
    found = adapter.discover("cpu-stress", {"tags": {"team": team}})
    assert [t.id for t in found] == [running]
    assert found[0].attributes["left_out"] == {stopped: "state stopped, not running"}


def test_no_eligible_instance_is_not_found_naming_the_selector_field(
    adapter: AwsSsmAdapter, aws: dict[str, Any], launch: Any, team: str
) -> None:
    (only,) = launch(1, team=team)
    aws["ec2"].stop_instances(InstanceIds=[only])
    with pytest.raises(NotFound) as err:
        adapter.discover("cpu-stress", {"tags": {"team": team}})
    assert err.value.field == ["selector", "tags"]
    assert only in err.value.message and "stopped" in err.value.message


def test_an_unknown_instance_is_not_found(adapter: AwsSsmAdapter) -> None:
    with pytest.raises(NotFound) as err:
        adapter.discover("cpu-stress", {"instance_ids": ["i-00000000000dead00"]})
    assert err.value.field == ["selector", "instance_ids"]
    assert "i-00000000000dead00" in err.value.message


def test_limit_and_percent_sample_the_eligible_instances(
    adapter: AwsSsmAdapter, launch: Any, team: str
) -> None:
    ids = launch(4, team=team)
    two = adapter.discover("cpu-stress", {"tags": {"team": team}, "limit": 2, "seed": 7})
    assert len(two) == 2 and {t.id for t in two} <= set(ids)
    again = adapter.discover("cpu-stress", {"tags": {"team": team}, "limit": 2, "seed": 7})
    assert [t.id for t in again] == [t.id for t in two]
    assert len(adapter.discover("cpu-stress", {"tags": {"team": team}, "percent": 50})) == 2
    assert len(adapter.discover("cpu-stress", {"tags": {"team": team}, "percent": 1})) == 1


# -- commands ------------------------------------------------------------------------------------


def test_inject_sends_the_fis_document_with_string_list_parameters(
    adapter: AwsSsmAdapter, aws: dict[str, Any], sent: Any, launch: Any, team: str
) -> None:
    (instance,) = launch(1, team=team)
    run = execution("cpu-stress", instance, {"LoadPercent": 80}, duration=45.2)
    data, _ = adapter.inject(run)
    (command,) = sent(instance, comment_for(run.id))
    assert command["CommandId"] == data["command_id"]
    assert command["DocumentName"] == "AWSFIS-Run-CPU-Stress"
    assert command["Parameters"] == {
        "CPU": ["0"],
        "LoadPercent": ["80"],
        "InstallDependencies": ["True"],
        "DurationSeconds": ["46"],
    }
    assert instance in command["InstanceIds"]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_fault_runs_its_document_with_parameters_it_declares(
    adapter: AwsSsmAdapter, aws: dict[str, Any], sent: Any, launch: Any, team: str, fault: str
) -> None:
    (instance,) = launch(1, team=team)
    run = execution(fault, instance, MINIMAL_PARAMS[fault])
    adapter.inject(run)
    (command,) = sent(instance, comment_for(run.id))
    assert command["DocumentName"] == FAULTS[fault].document
    declared = {
        p["Name"]
        for p in aws["ssm"].describe_document(Name=command["DocumentName"])["Document"][
            "Parameters"
        ]
    }
    assert set(command["Parameters"]) <= declared
    assert all(
        isinstance(v, list) and all(isinstance(s, str) for s in v)
        for v in command["Parameters"].values()
    )
    assert ("DurationSeconds" in command["Parameters"]) is FAULTS[fault].timed


def test_invocation_is_polled_to_success_with_native_status_and_output(
    adapter: AwsSsmAdapter, launch: Any, team: str
) -> None:
    (instance,) = launch(1, team=team)
    run = execution("cpu-stress", instance, {})
    data, first = adapter.inject(run)
    observed = adapter.status(Handle(run, data))
    assert first.state is observed.state is Observed.DONE
    assert observed.native.startswith("Success")
    assert observed.metrics == {"response_code": 0.0}
    # moto's output is empty; the tail of real output is tested with Stubber
    assert observed.messages == ()


def test_inject_twice_sends_one_command(
    adapter: AwsSsmAdapter, aws: dict[str, Any], sent: Any, launch: Any, team: str
) -> None:
    (instance,) = launch(1, team=team)
    run = execution("memory-stress", instance, {"Percent": 40})
    first, _ = adapter.inject(run)
    second, observed = adapter.inject(run)
    assert first["command_id"] == second["command_id"]
    assert observed.native.startswith("adopted")
    assert len(sent(instance, comment_for(run.id))) == 1


def test_a_document_the_account_lacks_is_refused_and_nothing_is_sent(
    backend_config: dict[str, Any], aws: dict[str, Any], sent: Any, launch: Any, team: str
) -> None:
    (instance,) = launch(1, team=team)
    adapter = AwsSsmAdapter({**backend_config, "documents": {"cpu-stress": "Pinned-CPU-Stress"}})
    run = execution("cpu-stress", instance, {})
    with pytest.raises(InvalidInput) as err:
        adapter.inject(run)
    assert err.value.field == ["config", "documents", "cpu-stress"]
    assert "Pinned-CPU-Stress" in err.value.message
    assert sent(instance, comment_for(run.id)) == []


def test_a_backend_may_name_its_own_document(
    backend_config: dict[str, Any], aws: dict[str, Any], sent: Any, launch: Any, team: str
) -> None:
    content = aws["ssm"].get_document(Name="AWSFIS-Run-CPU-Stress")["Content"]
    name = f"Pinned-CPU-{team}"
    aws["ssm"].create_document(
        Name=name, Content=content, DocumentType="Command", DocumentFormat="YAML"
    )
    (instance,) = launch(1, team=team)
    adapter = AwsSsmAdapter(
        {**backend_config, "documents": {"cpu-stress": {"name": name, "version": "1"}}}
    )
    run = execution("cpu-stress", instance, {})
    adapter.inject(run)
    (command,) = sent(instance, comment_for(run.id))
    assert command["DocumentName"] == name


@pytest.mark.parametrize(
    ("fault", "params", "field"),
    [
        ("network-blackhole-port", {"Protocol": "tcp", "Port": 70000}, ["params", "Port"]),
        ("network-packet-loss", {"LossPercent": 120}, ["params", "LossPercent"]),
        ("network-latency", {"Interface": "eth0; reboot"}, ["params", "Interface"]),
        ("kill-process", {"ProcessName": "$(rm -rf /)"}, ["params", "ProcessName"]),
        ("network-latency-sources", {"Sources": "S3 ,ALL"}, ["params", "Sources"]),
    ],
)
def test_bad_params_are_refused_naming_the_field_and_nothing_is_sent(
    adapter: AwsSsmAdapter,
    aws: dict[str, Any],
    sent: Any,
    launch: Any,
    team: str,
    fault: str,
    params: dict[str, Any],
    field: list[str],
) -> None:
    (instance,) = launch(1, team=team)
    with pytest.raises(InvalidInput) as err:
        adapter.validate(fault, params, {"instance_ids": [instance]})
    assert err.value.field == field
    run = execution(fault, instance, params)
    with pytest.raises(InvalidInput):
        adapter.inject(run)
    assert sent(instance, comment_for(run.id)) == []


def test_a_selector_percent_of_120_is_refused(adapter: AwsSsmAdapter) -> None:
    with pytest.raises(InvalidInput) as err:
        adapter.validate("cpu-stress", {}, {"tags": {"team": "x"}, "percent": 120})
    assert err.value.field == ["selector", "percent"]


def test_a_run_without_duration_is_refused(adapter: AwsSsmAdapter, launch: Any, team: str) -> None:
    (instance,) = launch(1, team=team)
    with pytest.raises(InvalidInput) as err:
        adapter.inject(execution("cpu-stress", instance, {}, duration=None))
    assert err.value.field == ["duration_seconds"]


# -- abort ---------------------------------------------------------------------------------------


def test_a_network_fault_held_after_success_is_removed_by_the_rollback_command(
    adapter: AwsSsmAdapter, aws: dict[str, Any], sent: Any, launch: Any, team: str
) -> None:
    (instance,) = launch(1, team=team)
    run = execution("network-latency", instance, {"DelayMilliseconds": 300}, duration=600)
    data, injected = adapter.inject(run)
    assert injected.state is Observed.INJECTED  # Success, but held for 600 s
    assert any("held until" in m for m in injected.messages)

    recovered = adapter.recover(Handle(run, data))
    assert recovered.state is Observed.RECOVERED
    assert "network rollback Success" in recovered.native
    (rollback,) = sent(instance, comment_for(run.id, rollback=True))
    assert rollback["DocumentName"] == "AWS-RunShellScript"
    assert rollback["Parameters"]["commands"] == SCRIPT.splitlines()
    assert adapter.status(Handle(run, data)).state is Observed.RECOVERED


def test_a_network_fault_past_its_duration_needs_no_rollback(
    adapter: AwsSsmAdapter, aws: dict[str, Any], sent: Any, launch: Any, team: str
) -> None:
    (instance,) = launch(1, team=team)
    run = execution("network-packet-loss", instance, {}, duration=0.001)  # rounds up to 1 s
    data, _ = adapter.inject(run)
    time.sleep(1.1)
    assert adapter.status(Handle(run, data)).state is Observed.DONE
    assert adapter.recover(Handle(run, data)).state is Observed.RECOVERED
    assert sent(instance, comment_for(run.id, rollback=True)) == []


def test_a_role_to_assume_is_assumed(
    backend_config: dict[str, Any], launch: Any, team: str
) -> None:
    (instance,) = launch(1, team=team)
    adapter = AwsSsmAdapter({**backend_config, "role_arn": "arn:aws:iam::123456789012:role/chaos"})
    assert [t.id for t in adapter.discover("cpu-stress", {"instance_ids": [instance]})] == [
        instance
    ]


def test_health_names_each_fault_document(backend_config: dict[str, Any]) -> None:
    adapter = AwsSsmAdapter({**backend_config, "documents": {"disk-fill": "Not-There"}})
    health = adapter.health()
    assert health.ok
    assert health.faults["cpu-stress"].available
    assert "AWSFIS-Run-CPU-Stress" in health.faults["cpu-stress"].reason
    assert not health.faults["disk-fill"].available
    assert "Not-There" in health.faults["disk-fill"].reason


def test_an_unknown_profile_is_invalid_input_naming_the_config_field(
    backend_config: dict[str, Any],
) -> None:
    adapter = AwsSsmAdapter({**backend_config, "profile": "no-such-profile"})
    with pytest.raises(InvalidInput) as err:
        adapter.discover("cpu-stress", {"tags": {"team": "x"}})
    assert err.value.field == ["config", "profile"]


def test_a_log_group_sends_the_output_to_cloudwatch_and_says_where(
    backend_config: dict[str, Any], launch: Any, team: str
) -> None:
    (instance,) = launch(1, team=team)
    adapter = AwsSsmAdapter({**backend_config, "log_group": "/chaoshub/ssm"})
    requests: list[dict[str, Any]] = []
    adapter.clients.get("ssm").meta.events.register(
        "provide-client-params.ssm.SendCommand", lambda params, **_: requests.append(params)
    )
    run = execution("io-stress", instance, {})
    data, seen = adapter.inject(run)
    assert requests[0]["CloudWatchOutputConfig"] == {
        "CloudWatchLogGroupName": "/chaoshub/ssm",
        "CloudWatchOutputEnabled": True,
    }
    assert (
        f"CloudWatch Logs group /chaoshub/ssm, streams {data['command_id']}/{instance}/"
        in seen.messages[0]
    )
