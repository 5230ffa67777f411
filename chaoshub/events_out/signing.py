"""Webhook signatures: HMAC-SHA256 of ``<timestamp>.<body>`` with the sink's secret.

The timestamp travels in its own header and is part of what is signed, so a receiver that
refuses old timestamps refuses a replayed body too (README "Events out" shows a check)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Chaoshub-Signature"
TIMESTAMP_HEADER = "X-Chaoshub-Timestamp"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers that carry the signature; none without a secret."""
    if not secret:
        return {}
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(secret: str, timestamp: str, body: bytes, signed: str) -> bool:
    """What a receiver does (constant-time compare); the caller also bounds the age."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), signed)
