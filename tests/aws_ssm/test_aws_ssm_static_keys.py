"""An aws-ssm backend may carry static keys; they are the session's credentials."""

from __future__ import annotations

from chaoshub.adapters.aws_ssm.settings import Clients, Settings
from chaoshub.runtime import validate_backend_config


def test_static_keys_are_the_sessions_credentials() -> None:
    config = {
        "region": "eu-west-1",
        "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_session_token": "session-example",
    }
    validate_backend_config("aws-ssm", config)
    creds = Clients(Settings.from_config(config))._session().get_credentials()
    assert creds is not None
    frozen = creds.get_frozen_credentials()
    assert frozen.access_key == "AKIAIOSFODNN7EXAMPLE"
    assert frozen.secret_key == config["aws_secret_access_key"]
    assert frozen.token == "session-example"
