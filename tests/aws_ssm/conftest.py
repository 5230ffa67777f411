"""A real ``moto_server`` on a loopback port, EC2 instances in it, and stand-in documents.

moto ships no AWS-owned documents, so each ``AWSFIS-Run-*`` document is created in the
mock account under its real name with the parameters the AWS FIS user guide lists for
it (names, defaults, which are required). They are single-step because moto records every
invocation as one ``aws:runShellScript`` plugin and answers any other ``PluginName`` with
InvocationDoesNotExist; reading multi-step documents step by step is tested with Stubber.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

REGION = "us-east-1"

#: the AWSFIS-Run-* documents' parameters (FIS user guide): name -> default (None: required)
FIS_DOCUMENTS: dict[str, dict[str, str | None]] = {
    "AWSFIS-Run-CPU-Stress": {"DurationSeconds": None, "CPU": "0", "LoadPercent": "100"},
    "AWSFIS-Run-Disk-Fill": {"DurationSeconds": None, "Percent": "95"},
    "AWSFIS-Run-IO-Stress": {"DurationSeconds": None, "Workers": "1", "Percent": "80"},
    "AWSFIS-Run-Kill-Process": {"ProcessName": None, "Signal": "SIGTERM"},
    "AWSFIS-Run-Memory-Stress": {"DurationSeconds": None, "Percent": None, "Workers": "1"},
    "AWSFIS-Run-Network-Blackhole-Port": {
        "Protocol": None,
        "Port": None,
        "TrafficType": "ingress",
        "DurationSeconds": None,
    },
    "AWSFIS-Run-Network-Latency": {
        "Interface": "eth0",
        "DelayMilliseconds": "200",
        "DurationSeconds": None,
    },
    "AWSFIS-Run-Network-Latency-Sources": {
        "Sources": None,
        "Interface": "DEFAULT",
        "DelayMilliseconds": "200",
        "JitterMilliseconds": "10",
        "FlowsPercent": "100",
        "TrafficType": "ingress",
        "DurationSeconds": None,
    },
    "AWSFIS-Run-Network-Packet-Loss": {
        "Interface": "eth0",
        "LossPercent": "7",
        "DurationSeconds": None,
    },
    "AWSFIS-Run-Network-Packet-Loss-Sources": {
        "Sources": None,
        "Interface": "DEFAULT",
        "LossPercent": "7",
        "FlowsPercent": "100",
        "TrafficType": "ingress",
        "DurationSeconds": None,
    },
}


@pytest.fixture(scope="session")
def fis_reference() -> dict[str, dict[str, str | None]]:
    return FIS_DOCUMENTS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _moto_server_command() -> list[str]:
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if not found:
        pytest.fail("moto_server is missing: pip install -e '.[test]' installs moto[server]")
    return [found]


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto_server process for the session, stopped even when tests fail."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen(
        [*_moto_server_command(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start (exit {proc.poll()})")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    """Credentials for the default chain; moto accepts any."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="session")
def aws(moto_url: str, aws_env: None) -> dict[str, Any]:
    """Plain boto3 clients on the moto server, for setting up and looking from outside."""
    return {
        name: boto3.client(name, region_name=REGION, endpoint_url=moto_url)
        for name in ("ec2", "ssm")
    }


@pytest.fixture(scope="session")
def fis_documents(aws: dict[str, Any]) -> list[str]:
    for name, params in FIS_DOCUMENTS.items():
        parameters: dict[str, Any] = {}
        for param, default in {**params, "InstallDependencies": "True"}.items():
            parameters[param] = {"type": "String", "description": f"{param} of {name}"}
            if default is not None:
                parameters[param]["default"] = default
        content = {
            "schemaVersion": "2.2",
            "description": f"stand-in for {name} (same parameters, no effect)",
            "parameters": parameters,
            "mainSteps": [
                {
                    "action": "aws:runShellScript",
                    "name": "FaultInjection",
                    "inputs": {"runCommand": ["echo stand-in"]},
                }
            ],
        }
        aws["ssm"].create_document(
            Name=name,
            Content=yaml.safe_dump(content),
            DocumentType="Command",
            DocumentFormat="YAML",
        )
    return list(FIS_DOCUMENTS)


@pytest.fixture
def backend_config(moto_url: str, aws_env: None, fis_documents: list[str]) -> dict[str, Any]:
    """A backend on moto. moto has no DescribeInstanceInformation, so the SSM-managed
    check is off here and tested with Stubber instead."""
    return {
        "region": REGION,
        "endpoint_url": moto_url,
        "require_ssm_online": False,
        "poll_seconds": 0.05,
        "backoff_seconds": 0.01,
        "cancel_timeout_seconds": 2,
        "invocation_wait_seconds": 2,
    }


@pytest.fixture(scope="session")
def image(aws: dict[str, Any]) -> str:
    """An AMI moto knows (listing them takes seconds, so once)."""
    return str(aws["ec2"].describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"])


@pytest.fixture
def launch(aws: dict[str, Any], image: str) -> Iterator[Callable[..., list[str]]]:
    """Launch tagged instances; they are terminated after the test."""
    launched: list[str] = []

    def _launch(count: int = 1, **tags: str) -> list[str]:
        tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
        reply = aws["ec2"].run_instances(
            ImageId=image,
            MinCount=count,
            MaxCount=count,
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list}] if tag_list else [],
        )
        ids = [i["InstanceId"] for i in reply["Instances"]]
        launched.extend(ids)
        return ids

    yield _launch
    if launched:
        aws["ec2"].terminate_instances(InstanceIds=launched)


@pytest.fixture
def team() -> str:
    """A tag value no other test uses."""
    return f"team-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sent(aws: dict[str, Any]) -> Callable[[str, str], list[dict[str, Any]]]:
    """The commands moto recorded for an instance with a comment, read without the adapter."""

    def _sent(instance_id: str, comment: str) -> list[dict[str, Any]]:
        commands = aws["ssm"].list_commands(InstanceId=instance_id)["Commands"]
        return [c for c in commands if c["Comment"] == comment]

    return _sent
