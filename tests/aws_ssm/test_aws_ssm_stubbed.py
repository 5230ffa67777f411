"""What moto cannot answer, with ``botocore.stub.Stubber`` and the API's real shapes.

moto makes every invocation ``Success`` at once and implements neither CancelCommand nor
DescribeInstanceInformation; these tests give the adapter the answers AWS gives
(shapes as in botocore's SSM 2014-11-06 model, which Stubber checks) and look at what it
asks and what it reports. Sleeps are recorded instead of slept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from chaoshub.adapters.aws_ssm import AwsSsmAdapter
from chaoshub.adapters.aws_ssm.rollback import SCRIPT
from chaoshub.contract import Execution, Handle, Observed, Target
from chaoshub.errors import BackendUnavailable, RecoveryFailed

INSTANCE = "i-0123456789abcdef0"
COMMAND = "11111111-2222-3333-4444-555555555555"
ROLLBACK = "99999999-2222-3333-4444-555555555555"
#: one session for every test: botocore loads each service model once
SESSION = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def invocation(
    status: str, *, plugin: str = "FaultInjection", command: str = COMMAND, **extra: Any
) -> dict[str, Any]:
    started = extra.pop("started", datetime.now(UTC) - timedelta(seconds=5))
    return {
        "CommandId": command,
        "InstanceId": INSTANCE,
        "Comment": "chaoshub run-1",
        "DocumentName": "AWSFIS-Run-CPU-Stress",
        "DocumentVersion": "$DEFAULT",
        "PluginName": plugin,
        "ResponseCode": 0 if status == "Success" else -1,
        "ExecutionStartDateTime": _iso(started) if started else "",
        "ExecutionElapsedTime": "PT5S",
        "ExecutionEndDateTime": "",
        "Status": status,
        "StatusDetails": extra.pop("details", status),
        "StandardOutputContent": extra.pop("stdout", ""),
        "StandardOutputUrl": "",
        "StandardErrorContent": extra.pop("stderr", ""),
        "StandardErrorUrl": "",
        **extra,
    }


def client_error(code: str, status: int = 400) -> dict[str, Any]:
    return {
        "service_error_code": code,
        "service_message": f"{code} (stubbed)",
        "http_status_code": status,
    }


class Stubbed:
    def __init__(self, **config: Any) -> None:
        self.adapter = AwsSsmAdapter(
            {
                "region": "us-east-1",
                "poll_seconds": 1,
                "backoff_seconds": 0.5,
                "backoff_max_seconds": 8,
                "cancel_timeout_seconds": 5,
                "invocation_wait_seconds": 10,
                **config,
            },
            backend="stubbed",
        )
        self.stubs = {}
        for service in ("ssm", "ec2"):
            client = SESSION.client(service)
            self.stubs[service] = Stubber(client)
            self.stubs[service].activate()
            self.adapter.clients.set(service, client)
        self.sleeps: list[float] = []
        self.adapter.api.sleep = self.sleeps.append

    @property
    def ssm(self) -> Stubber:
        return self.stubs["ssm"]

    def get(
        self, response: dict[str, Any], plugin: str | None = None, command: str = COMMAND
    ) -> None:
        expected = {"CommandId": command, "InstanceId": INSTANCE}
        if plugin:
            expected["PluginName"] = plugin
        self.ssm.add_response("get_command_invocation", response, expected)

    def done(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


@pytest.fixture
def stubbed() -> Iterator[Stubbed]:
    s = Stubbed()
    yield s
    s.done()


def run(
    fault: str = "cpu-stress", params: dict[str, Any] | None = None, duration: float = 60
) -> Execution:
    return Execution(
        id="run-1",
        fault=fault,
        params=params or {},
        target=Target(INSTANCE, INSTANCE),
        duration_seconds=duration,
    )


def handle(fault: str = "cpu-stress", steps: list[str] | None = None, duration: int = 60) -> Handle:
    execution = run(fault, duration=duration)
    return Handle(
        execution,
        {
            "execution_id": execution.id,
            "fault": fault,
            "instance_id": INSTANCE,
            "command_id": COMMAND,
            "document": "AWSFIS-Run-CPU-Stress",
            "document_version": None,
            "steps": steps or [],
            "duration_seconds": duration,
            "requested_at": _iso(datetime.now(UTC) - timedelta(seconds=10)),
        },
    )


# -- status ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "observed"),
    [
        ("Pending", Observed.PENDING),
        ("Delayed", Observed.PENDING),
        ("InProgress", Observed.INJECTED),
        ("Cancelling", Observed.INJECTED),
        ("Success", Observed.DONE),
        ("Cancelled", Observed.ABORTED),
        ("Failed", Observed.FAILED),
        ("TimedOut", Observed.FAILED),
    ],
)
def test_every_invocation_status_is_mapped_with_its_native_text(
    stubbed: Stubbed, status: str, observed: Observed
) -> None:
    details = {"TimedOut": "Execution Timed Out", "Failed": "Failed"}.get(status, status)
    stubbed.get(invocation(status, details=details, stdout="stress-ng: info: dispatching hogs"))
    seen = stubbed.adapter.status(handle())
    assert seen.state is observed
    assert seen.native.startswith(status)
    if details != status:
        assert details in seen.native
    assert seen.messages == ("FaultInjection stdout: stress-ng: info: dispatching hogs",)


def test_the_output_tail_is_kept() -> None:
    s = Stubbed(output_tail_chars=20)
    s.get(
        invocation(
            "Failed", stdout="x" * 5000 + "the last words here!", stderr="killall: no process"
        )
    )
    seen = s.adapter.status(handle())
    assert seen.messages == (
        "FaultInjection stdout: …the last words here!",
        "FaultInjection stderr: killall: no process",
    )
    # the record keeps native: the last line of output is in it
    assert seen.native == "Failed — stderr: killall: no process"
    s.done()


def test_a_multi_step_document_is_read_step_by_step(stubbed: Stubbed) -> None:
    steps = ["InstallDependencies", "FaultInjection"]
    stubbed.get(invocation("Success", plugin="InstallDependencies"), plugin="InstallDependencies")
    stubbed.get(invocation("InProgress", plugin="FaultInjection"), plugin="FaultInjection")
    seen = stubbed.adapter.status(handle(steps=steps))
    assert seen.state is Observed.INJECTED
    assert "InstallDependencies: Success, FaultInjection: InProgress" in seen.native


def test_installing_dependencies_is_still_pending(stubbed: Stubbed) -> None:
    steps = ["InstallDependencies", "FaultInjection"]
    stubbed.get(
        invocation("InProgress", plugin="InstallDependencies"), plugin="InstallDependencies"
    )
    stubbed.get(
        invocation("Pending", plugin="FaultInjection", started=None), plugin="FaultInjection"
    )
    assert stubbed.adapter.status(handle(steps=steps)).state is Observed.PENDING


def test_a_step_ssm_has_not_reached_counts_as_pending(stubbed: Stubbed) -> None:
    steps = ["InstallDependencies", "FaultInjection"]
    stubbed.get(
        invocation("InProgress", plugin="InstallDependencies"), plugin="InstallDependencies"
    )
    stubbed.ssm.add_client_error("get_command_invocation", **client_error("InvocationDoesNotExist"))
    seen = stubbed.adapter.status(handle(steps=steps))
    assert seen.state is Observed.PENDING
    assert "FaultInjection: Pending" in seen.native


def test_a_failed_step_fails_the_invocation(stubbed: Stubbed) -> None:
    steps = ["InstallDependencies", "FaultInjection"]
    stubbed.get(
        invocation(
            "Failed",
            plugin="InstallDependencies",
            stdout="There was a problem installing dependencies.",
        ),
        plugin="InstallDependencies",
    )
    stubbed.get(
        invocation("Cancelled", plugin="FaultInjection", started=None), plugin="FaultInjection"
    )
    seen = stubbed.adapter.status(handle(steps=steps))
    assert seen.state is Observed.FAILED
    assert any("problem installing dependencies" in m for m in seen.messages)


# -- retries ---------------------------------------------------------------------------------------


def test_throttling_is_retried_with_growing_back_off(stubbed: Stubbed) -> None:
    for _ in range(2):
        stubbed.ssm.add_client_error(
            "get_command_invocation", **client_error("ThrottlingException")
        )
    stubbed.get(invocation("InProgress"))
    assert stubbed.adapter.status(handle()).state is Observed.INJECTED
    # exponential with jitter: 0.5 s + up to 0.5 s, then 1 s + up to 0.5 s
    assert len(stubbed.sleeps) == 2
    assert 0.5 <= stubbed.sleeps[0] <= 1.0 <= stubbed.sleeps[1] <= 1.5


def test_throttling_that_does_not_stop_is_the_retry_error() -> None:
    s = Stubbed(throttle_attempts=3)
    for _ in range(3):
        s.ssm.add_client_error("get_command_invocation", **client_error("ThrottlingException"))
    with pytest.raises(BackendUnavailable) as err:
        s.adapter.status(handle())
    assert err.value.native_code == "ThrottlingException"
    assert err.value.adapter == "aws-ssm" and err.value.target == INSTANCE
    assert len(s.sleeps) == 2
    s.done()


def test_inject_retries_invocation_does_not_exist_right_after_sending(stubbed: Stubbed) -> None:
    ssm = stubbed.ssm
    ssm.add_response(
        "describe_document",
        {
            "Document": {
                "Name": "AWSFIS-Run-CPU-Stress",
                "DocumentVersion": "4",
                "Parameters": [
                    {"Name": "DurationSeconds", "Type": "String"},
                    {"Name": "CPU", "Type": "String", "DefaultValue": "0"},
                    {"Name": "LoadPercent", "Type": "String", "DefaultValue": "100"},
                    {"Name": "InstallDependencies", "Type": "String", "DefaultValue": "True"},
                ],
            }
        },
        {"Name": "AWSFIS-Run-CPU-Stress"},
    )
    content = (
        "schemaVersion: '2.2'\nmainSteps:\n- name: InstallDependencies\n- name: FaultInjection\n"
    )
    ssm.add_response(
        "get_document",
        {"Name": "AWSFIS-Run-CPU-Stress", "Content": content},
        {"Name": "AWSFIS-Run-CPU-Stress"},
    )
    ssm.add_response(
        "list_commands",
        {"Commands": []},
        {
            "InstanceId": INSTANCE,
            "Filters": [{"key": "DocumentName", "value": "AWSFIS-Run-CPU-Stress"}],
            "MaxResults": 50,
        },
    )
    ssm.add_response(
        "send_command",
        {
            "Command": {
                "CommandId": COMMAND,
                "Status": "Pending",
                "RequestedDateTime": datetime.now(UTC),
            }
        },
        {
            "DocumentName": "AWSFIS-Run-CPU-Stress",
            "InstanceIds": [INSTANCE],
            "Parameters": {
                "CPU": ["2"],
                "LoadPercent": ["100"],
                "InstallDependencies": ["False"],
                "DurationSeconds": ["60"],
            },
            "Comment": "chaoshub run-1",
            "TimeoutSeconds": 600,
            "MaxConcurrency": "1",
            "MaxErrors": "0",
        },
    )
    for _ in range(2):
        ssm.add_client_error("get_command_invocation", **client_error("InvocationDoesNotExist"))
    stubbed.get(
        invocation("InProgress", plugin="InstallDependencies"), plugin="InstallDependencies"
    )
    stubbed.get(
        invocation("Pending", plugin="FaultInjection", started=None), plugin="FaultInjection"
    )
    data, seen = stubbed.adapter.inject(
        run(params={"CPU": 2, "LoadPercent": 100, "InstallDependencies": False})
    )
    assert data["command_id"] == COMMAND and data["steps"] == [
        "InstallDependencies",
        "FaultInjection",
    ]
    assert seen.state is Observed.PENDING
    assert len(stubbed.sleeps) == 2


def test_an_invocation_ssm_does_not_know_yet_is_pending(stubbed: Stubbed) -> None:
    stubbed.ssm.add_client_error("get_command_invocation", **client_error("InvocationDoesNotExist"))
    seen = stubbed.adapter.status(handle())
    assert seen.state is Observed.PENDING
    assert "no invocation yet" in seen.native
    assert stubbed.sleeps == []  # only right after sending is it waited for


# -- abort -----------------------------------------------------------------------------------------


def test_recover_cancels_then_confirms(stubbed: Stubbed) -> None:
    stubbed.get(invocation("InProgress"))
    stubbed.ssm.add_response(
        "cancel_command", {}, {"CommandId": COMMAND, "InstanceIds": [INSTANCE]}
    )
    stubbed.get(invocation("Cancelling"))
    stubbed.get(invocation("Cancelled", stdout="Rolling back..."))
    seen = stubbed.adapter.recover(handle())
    assert seen.state is Observed.RECOVERED
    assert seen.native.startswith("Cancelled")
    assert stubbed.sleeps == [1]  # one poll interval between Cancelling and Cancelled


def test_recover_of_an_ended_command_sends_no_cancel(stubbed: Stubbed) -> None:
    stubbed.get(invocation("Success"))
    assert stubbed.adapter.recover(handle()).state is Observed.RECOVERED


def test_recover_waits_for_a_cancelling_invocation_without_cancelling_twice(
    stubbed: Stubbed,
) -> None:
    stubbed.get(invocation("Cancelling"))
    stubbed.get(invocation("Cancelled"))
    assert stubbed.adapter.recover(handle()).state is Observed.RECOVERED


def test_a_cancel_that_is_not_confirmed_is_recovery_failed() -> None:
    s = Stubbed(cancel_timeout_seconds=2)
    s.get(invocation("InProgress"))
    s.ssm.add_response("cancel_command", {}, {"CommandId": COMMAND, "InstanceIds": [INSTANCE]})
    for _ in range(3):
        s.get(invocation("InProgress"))
    with pytest.raises(RecoveryFailed) as err:
        s.adapter.recover(handle())
    assert err.value.native_code == "InProgress"
    assert COMMAND in err.value.message
    s.done()


def test_cancel_answered_invalid_command_then_ended_is_fine(stubbed: Stubbed) -> None:
    stubbed.get(invocation("InProgress"))
    stubbed.ssm.add_client_error("cancel_command", **client_error("InvalidCommandId"))
    stubbed.get(invocation("Success"))
    assert stubbed.adapter.recover(handle()).state is Observed.RECOVERED


def _expect_rollback(s: Stubbed, final: dict[str, Any]) -> None:
    s.ssm.add_response(
        "list_commands",
        {"Commands": []},
        {"InstanceId": INSTANCE, "Filters": ANY, "MaxResults": 50},
    )
    s.ssm.add_response(
        "send_command",
        {"Command": {"CommandId": ROLLBACK, "Status": "Pending"}},
        {
            "DocumentName": "AWS-RunShellScript",
            "InstanceIds": [INSTANCE],
            "Parameters": {"commands": SCRIPT.splitlines(), "executionTimeout": ["180"]},
            "Comment": "chaoshub rollback run-1",
            "TimeoutSeconds": 600,
            "MaxConcurrency": "1",
            "MaxErrors": "0",
        },
    )
    s.get(invocation("InProgress", command=ROLLBACK, plugin="aws:runShellScript"), command=ROLLBACK)
    s.get(final, command=ROLLBACK)


def test_a_network_fault_cancelled_early_is_rolled_back_for_real(stubbed: Stubbed) -> None:
    stubbed.get(invocation("InProgress"))
    stubbed.ssm.add_response(
        "cancel_command", {}, {"CommandId": COMMAND, "InstanceIds": [INSTANCE]}
    )
    stubbed.get(invocation("Cancelled"))
    _expect_rollback(
        stubbed,
        invocation(
            "Success", command=ROLLBACK, plugin="aws:runShellScript", stdout="no network fault left"
        ),
    )
    seen = stubbed.adapter.recover(handle("network-latency", duration=600))
    assert seen.state is Observed.RECOVERED
    assert "network rollback Success" in seen.native
    assert any("no network fault left" in m for m in seen.messages)


def test_a_failed_network_rollback_is_recovery_failed_with_its_output(stubbed: Stubbed) -> None:
    stubbed.get(invocation("Success"))
    _expect_rollback(
        stubbed,
        invocation(
            "Failed",
            command=ROLLBACK,
            plugin="aws:runShellScript",
            stdout="still present: netem@eth0",
        ),
    )
    with pytest.raises(RecoveryFailed) as err:
        stubbed.adapter.recover(handle("network-blackhole-port", duration=600))
    assert err.value.native_code == "Failed"
    assert "netem@eth0" in (err.value.native_message or "")


def test_a_network_fault_cancelled_before_its_step_started_needs_no_rollback(
    stubbed: Stubbed,
) -> None:
    steps = ["InstallDependencies", "FaultInjection"]
    stubbed.get(
        invocation("InProgress", plugin="InstallDependencies"), plugin="InstallDependencies"
    )
    stubbed.get(
        invocation("Pending", plugin="FaultInjection", started=None), plugin="FaultInjection"
    )
    stubbed.ssm.add_response(
        "cancel_command", {}, {"CommandId": COMMAND, "InstanceIds": [INSTANCE]}
    )
    stubbed.get(invocation("Cancelled", plugin="InstallDependencies"), plugin="InstallDependencies")
    stubbed.get(
        invocation("Cancelled", plugin="FaultInjection", started=None), plugin="FaultInjection"
    )
    assert (
        stubbed.adapter.recover(handle("network-latency", steps=steps, duration=600)).state
        is Observed.RECOVERED
    )


# -- eligibility -----------------------------------------------------------------------------------


def _instance(iid: str, state: str = "running", name: str | None = None) -> dict[str, Any]:
    tags = [{"Key": "team", "Value": "blue"}] + ([{"Key": "Name", "Value": name}] if name else [])
    return {
        "InstanceId": iid,
        "State": {"Code": 16, "Name": state},
        "Tags": tags,
        "InstanceType": "t3.micro",
    }


def test_only_running_instances_online_in_ssm_on_linux_are_eligible() -> None:
    s = Stubbed(require_ssm_online=True)
    ids = [f"i-000000000000000{n}" for n in range(5)]
    s.stubs["ec2"].add_response(
        "describe_instances",
        {
            "Reservations": [
                {
                    "Instances": [
                        _instance(ids[0], name="web-0"),
                        _instance(ids[1]),
                        _instance(ids[2]),
                        _instance(ids[3]),
                        _instance(ids[4], state="stopped"),
                    ]
                }
            ]
        },
        {"Filters": [{"Name": "tag:team", "Values": ["blue"]}]},
    )
    s.ssm.add_response(
        "describe_instance_information",
        {
            "InstanceInformationList": [
                {
                    "InstanceId": ids[0],
                    "PingStatus": "Online",
                    "PlatformType": "Linux",
                    "PlatformName": "Amazon Linux",
                },
                {"InstanceId": ids[1], "PingStatus": "ConnectionLost", "PlatformType": "Linux"},
                {"InstanceId": ids[2], "PingStatus": "Online", "PlatformType": "Windows"},
            ]
        },
        {"Filters": [{"Key": "InstanceIds", "Values": ids[:4]}]},
    )
    (target,) = s.adapter.discover("cpu-stress", {"tags": {"team": "blue"}})
    assert (target.id, target.label) == (ids[0], "web-0")
    assert target.attributes["left_out"] == {
        ids[1]: "SSM agent ConnectionLost, not Online",
        ids[2]: "platform Windows: the AWSFIS-Run-* documents are Linux-only",
        ids[3]: "not managed by SSM (no agent registration)",
        ids[4]: "state stopped, not running",
    }
    s.done()
