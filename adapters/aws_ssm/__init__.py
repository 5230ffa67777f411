"""Chaos on EC2 fleets through AWS Systems Manager Run Command (adapter ``aws-ssm``).

See :mod:`adapters.aws_ssm.adapter` for what it was checked against and what it cannot do.
"""

from adapters.aws_ssm.adapter import AwsSsmAdapter

__all__ = ["AwsSsmAdapter"]
