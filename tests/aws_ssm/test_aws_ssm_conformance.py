"""The conformance kit run against the aws-ssm adapter on moto_server.

The kit's fault is ``network-latency``: on moto, as on AWS for a document that returns
while its fault is held, the command is ``Success`` at once and the adapter reports the
fault injected until its duration is up, then recovers it with its rollback command.

moto runs nothing on the instance, so :meth:`fault_is_present` cannot look at a qdisc. It
looks at what SSM recorded, through a client of its own: the fault is present while a
command of the network document exists for the execution, its duration is not up, and
no rollback command for it has succeeded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chaoshub.adapters.aws_ssm import AwsSsmAdapter
from chaoshub.adapters.aws_ssm.commands import comment_for
from chaoshub.contract import Adapter, Handle
from chaoshub.testing.conformance import AdapterConformance, FaultCase


class TestAwsSsmConformance(AdapterConformance):
    @pytest.fixture(autouse=True)
    def _outside(self, aws: dict[str, Any]) -> None:
        self.ssm = aws["ssm"]

    @pytest.fixture
    def adapter(self, backend_config: dict[str, Any]) -> AwsSsmAdapter:
        return AwsSsmAdapter(backend_config, backend="moto")

    @pytest.fixture
    def unreachable_adapter(self, aws_env: None) -> AwsSsmAdapter:
        return AwsSsmAdapter(
            {
                "region": "us-east-1",
                "endpoint_url": "http://127.0.0.1:9",
                "require_ssm_online": False,
            },
            backend="gone",
        )

    @pytest.fixture
    def case(self, launch: Any, team: str) -> FaultCase:
        launch(1, team=team, Name="conformance")
        return FaultCase(
            fault="network-latency",
            params={"DelayMilliseconds": 250},
            selector={"tags": {"team": team}},
            invalid_params={"DelayMilliseconds": -1},
            unknown_selector={"instance_ids": ["i-0000000000000dead"]},
            duration_seconds=300,
        )

    def _commands(self, handle: Handle, *, rollback: bool) -> list[dict[str, Any]]:
        comment = comment_for(handle.execution.id, rollback=rollback)
        listed = self.ssm.list_commands(InstanceId=handle.execution.target.id)["Commands"]
        return [c for c in listed if c["Comment"] == comment]

    def fault_is_present(self, adapter: Adapter, handle: Handle) -> bool:
        now = datetime.now(UTC)
        duration = timedelta(seconds=float(handle.execution.duration_seconds or 0))
        held = [
            c
            for c in self._commands(handle, rollback=False)
            if c["DocumentName"] == "AWSFIS-Run-Network-Latency"
            and c["RequestedDateTime"].astimezone(UTC) + duration > now
        ]
        rolled_back = any(c["Status"] == "Success" for c in self._commands(handle, rollback=True))
        return bool(held) and not rolled_back
