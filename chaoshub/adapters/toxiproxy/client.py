"""The Toxiproxy HTTP API as the adapter sees it: a thin client and the tool's errors.

Error bodies are JSON ``{"error", "status"}`` sent as ``text/plain``; each status the
adapter tells apart has its own :class:`ToxiproxyError` subclass, which the adapter's
``error_map`` turns into hub errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from chaoshub.errors import InvalidInput

DEFAULT_URL = "http://127.0.0.1:8474"
DEFAULT_PORT = 8474
#: Toxiproxy answers 403 to any User-Agent starting with ``Mozilla/``
USER_AGENT = "chaoshub-toxiproxy"

# -- the tool's errors --------------------------------------------------------------------------


class ToxiproxyError(Exception):
    """An error answer of the Toxiproxy API: its status and its own message."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        super().__init__(f"{method} {path}: HTTP {status}: {message}".strip(": "))


class ToxiproxyBadRequest(ToxiproxyError):
    """400: the request body was wrong."""


class ToxiproxyNotFound(ToxiproxyError):
    """404: no such proxy or toxic."""


class ToxiproxyConflict(ToxiproxyError):
    """409: a proxy or toxic of that name exists."""


class ToxiproxyUnavailable(ToxiproxyError):
    """502/503/504: the server (or a gateway before it) could not answer in time."""


_BY_STATUS: dict[int, type[ToxiproxyError]] = {
    400: ToxiproxyBadRequest,
    404: ToxiproxyNotFound,
    409: ToxiproxyConflict,
    502: ToxiproxyUnavailable,
    503: ToxiproxyUnavailable,
    504: ToxiproxyUnavailable,
}


def _error_from(response: httpx.Response, method: str, path: str) -> ToxiproxyError:
    # the body is JSON {"error", "status"} even though the header says text/plain
    text = response.text.strip()
    message = text or response.reason_phrase
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    cls = _BY_STATUS.get(response.status_code, ToxiproxyError)
    if cls is ToxiproxyBadRequest and message == "invalid toxic type":
        cls = ToxiproxyError  # this server lacks the toxic: a refusal, not a bad request
    return cls(response.status_code, message, method=method, path=path)


# -- the HTTP API -----------------------------------------------------------------------------


def proxy_path(proxy: str, *rest: str) -> str:
    return "/".join(["/proxies", *(quote(p, safe="") for p in (proxy, *rest))])


class ToxiproxyApi:
    """A thin client of the Toxiproxy HTTP API; raises :class:`ToxiproxyError` subclasses."""

    def __init__(
        self, base_url: str, timeout: float, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise _error_from(response, method, path)
        return response

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One API call; the decoded JSON answer, or ``None`` for an empty one (204)."""
        response = self._send(method, path, body)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ToxiproxyError(
                response.status_code,
                f"answer is not JSON: {response.text[:200]!r}",
                method=method,
                path=path,
            ) from None

    def update(self, path: str, body: Any) -> Any:
        """PATCH, or POST for servers before 2.6.0, which answer PATCH with 405."""
        try:
            return self.call("PATCH", path, body)
        except ToxiproxyError as exc:
            if exc.status != 405:
                raise
            return self.call("POST", path, body)

    def version(self) -> str:
        text = self._send("GET", "/version").text.strip()
        try:
            body = json.loads(text)
        except ValueError:
            return text  # servers before 2.7.0 answer the bare version
        return str(body.get("version", text)) if isinstance(body, dict) else text

    def proxies(self) -> dict[str, Any]:
        return dict(self.call("GET", "/proxies") or {})

    def proxy(self, name: str) -> dict[str, Any]:
        return dict(self.call("GET", proxy_path(name)))

    def set_enabled(self, proxy: str, enabled: bool) -> dict[str, Any]:
        return dict(self.update(proxy_path(proxy), {"enabled": enabled}))

    def add_toxic(self, proxy: str, toxic: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", proxy_path(proxy, "toxics"), dict(toxic)))

    def toxic(self, proxy: str, name: str) -> dict[str, Any]:
        return dict(self.call("GET", proxy_path(proxy, "toxics", name)))

    def delete_toxic(self, proxy: str, name: str) -> bool:
        """Delete a toxic; ``False`` when it (or its proxy) was already gone."""
        try:
            self.call("DELETE", proxy_path(proxy, "toxics", name))
        except ToxiproxyNotFound:
            return False
        return True


# -- the configured URL ------------------------------------------------------------------------


def api_url(url: str | None) -> str:
    """Normalise the configured API URL: scheme ``http`` and port 8474 unless given."""
    raw = (url or DEFAULT_URL).strip()
    if "://" not in raw:
        raw = f"http://{raw}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"not an http(s) URL: {url!r}", field=["url"])
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"bad port in {url!r}", field=["url"]) from exc
    netloc = parts.netloc if port is not None else f"{parts.netloc}:{DEFAULT_PORT}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
