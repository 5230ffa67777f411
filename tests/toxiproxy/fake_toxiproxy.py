"""A FAKE Toxiproxy server for the tests. It is not Toxiproxy.

No Toxiproxy binary can be installed on the machines these tests run on (no Debian or
PyPI package ships the Go server), so this server was written from the wire reference
(``reference/backends-wire.md`` §1, itself read from Shopify/toxiproxy v2.12.0) to stand
in for it. It follows the reference, not the adapter: the adapter must work against the
real server, so nothing here bends towards what the adapter happens to send.

Faithful to the reference:

- the HTTP API: the same paths and methods, the status codes (201 for a proxy, 200 for a
  toxic, 204 for deletes and ``/reset``), the JSON shapes, errors as JSON
  ``{"error", "status"}`` sent with ``Content-Type: text/plain; charset=utf-8``, 405 for
  a known path with a wrong method, mux's ``404 page not found`` for an unknown path,
  403 for a browser User-Agent, ``X-Toxiproxy-Request-Id`` on every answer;
- toxic validation in Toxiproxy's order, names unique across both streams, defaults
  (name ``<type>_<stream>``, stream ``downstream``, toxicity 1), attribute merging on
  update, integer attributes with Toxiproxy's units;
- real TCP proxying, one connection to the upstream per client connection; toxics apply
  to connections already open; toxicity is drawn per connection and direction;
- ``latency`` (ms, ± jitter), ``bandwidth`` (KB/s, 1 KB = 1000 bytes), ``slow_close``
  (ms), ``timeout`` (ms; 0 = never; removing it closes the connection), ``reset_peer``
  (ms, RST only for connections opened while it exists), ``slicer`` (bytes, delay in
  microseconds), ``limit_data`` (bytes per connection and direction), ``noop``;
- ``enabled: false`` and ``DELETE`` close the listener and every open connection at once
  (Go's ``Close``: what is not yet written is dropped, the client sees the connection end),
  also a connection still dialling its upstream; re-enabling rebinds the stored listen
  address (500 with the bind error when it is taken);
- attributes are Go ``int64`` and toxicity a ``float32``: a value beyond their range is
  400 ``bad request body`` as the Go decoder answers it;
- the version it pretends to be (``--version``, default 2.12.0) decides what differs
  between releases: ``/version`` answers ``{"version": ...}`` as JSON from 2.7.0 on and the
  bare version as ``text/plain`` before; ``PATCH`` exists from 2.6.0 on (405 before).

Simplified: no ``-config`` file, no metrics endpoint, no 25 s handler timeout, and the
Go decoder's error texts are approximated.

Run it: ``python tests/toxiproxy/fake_toxiproxy.py --host 127.0.0.1 --port 0
[--version 2.5.0]``; it prints
``listening on HOST:PORT`` once it serves, and stops on SIGTERM or SIGINT (and, with
``--stop-on-stdin-eof``, when its standard input closes: the tests' way of never leaving
it behind).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import socket
import struct
import sys
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VERSION = "2.12.0"
CHUNK = 32 * 1024
INT64 = (-(2**63), 2**63 - 1)
FLOAT32_MAX = 3.4028234663852886e38

#: toxic type -> its integer attributes
TOXIC_TYPES: dict[str, tuple[str, ...]] = {
    "noop": (),
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
}
STREAMS = ("upstream", "downstream")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad_body(detail: str) -> ApiError:
    return ApiError(400, f"bad request body: {detail}")


def _decode_ints(names: tuple[str, ...], raw: Any, into: dict[str, int]) -> None:
    """Go's decoder into int64 fields: unknown keys ignored, anything but an integer refused."""
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise _bad_body("json: cannot unmarshal attributes into a toxic")
    for key in names:
        if key not in raw:
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_body(
                f"json: cannot unmarshal {json.dumps(value)} into Go value of type int64"
            )
        if not INT64[0] <= value <= INT64[1]:
            raise _bad_body(f"json: cannot unmarshal number {value} into Go value of type int64")
        into[key] = value


def _decode_toxicity(value: Any) -> float:
    """Go's decoder into a float32: a number within its range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad_body(f"json: cannot unmarshal {json.dumps(value)} into Go value of type float32")
    if abs(value) > FLOAT32_MAX:
        raise _bad_body(f"json: cannot unmarshal number {value} into Go value of type float32")
    return float(value)


def release(version: str) -> tuple[int, ...]:
    """``"2.5.0"`` -> ``(2, 5, 0)``; what a version's behaviour is decided by."""
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


# -- toxics -----------------------------------------------------------------------------------


@dataclass
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]
    generation: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            # Go prints a whole float32 without a fraction
            "toxicity": int(self.toxicity) if self.toxicity.is_integer() else self.toxicity,
        }


# -- proxies and their connections --------------------------------------------------------------


@dataclass(eq=False)
class Link:
    """One client connection and its upstream connection."""

    proxy: Proxy
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    #: toxic names that existed when the connection opened (reset_peer's RST needs it)
    born_with: frozenset[str]
    decisions: dict[tuple[str, int], bool] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    #: running timeout toxics -> the timer that closes the link (None: timeout 0, never)
    timers: dict[str, asyncio.TimerHandle | None] = field(default_factory=dict)
    closed: bool = False

    def runs(self, toxic: Toxic) -> bool:
        """Toxicity: drawn once per link each time the toxic (re)starts on it."""
        key = (f"{toxic.stream}/{toxic.name}", toxic.generation)
        if key not in self.decisions:
            self.decisions[key] = random.random() < toxic.toxicity
        return self.decisions[key]

    def close(self, *, reset: bool = False, drop: bool = False) -> None:
        """End both connections; ``drop`` discards what is not yet written (the proxy is
        stopping: Toxiproxy closes its connections, it does not wait for slow readers)."""
        if self.closed:
            return
        self.closed = True
        for timer in self.timers.values():
            if timer:
                timer.cancel()
        if reset:
            sock = self.client.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for writer in (self.client, self.upstream):
            if drop or (reset and writer is self.client):
                writer.transport.abort()
            else:
                writer.close()
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self.proxy.links.discard(self)

    # -- the timeout toxic runs on the link, not on data ----------------------------------------

    def arm_timeouts(self) -> None:
        """Start, restart or stop the timeout toxics' timers after a change of toxics."""
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        live = set()
        for toxic in self.proxy.chain():
            if toxic.type != "timeout" or not self.runs(toxic):
                continue
            live.add(toxic.name)
            old = self.timers.pop(toxic.name, None)
            if old:
                old.cancel()
            delay = toxic.attributes.get("timeout", 0) / 1000
            self.timers[toxic.name] = loop.call_later(delay, self.close) if delay > 0 else None
        for name in set(self.timers) - live:
            # a timeout toxic that went away closes its connection
            timer = self.timers.pop(name)
            if timer:
                timer.cancel()
            self.close()

    # -- data ------------------------------------------------------------------------------

    async def pump(
        self, stream: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        queue: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue(maxsize=16)
        loop = asyncio.get_running_loop()

        async def read() -> None:
            try:
                while data := await reader.read(CHUNK):
                    await queue.put((data, loop.time()))
            except (ConnectionError, OSError):
                pass
            await queue.put(None)

        reading = asyncio.create_task(read())
        self.tasks.append(reading)
        try:
            while (item := await queue.get()) is not None:
                data, arrived = item
                if not await self._through(self.proxy.chain(stream), data, arrived, writer):
                    return
            for toxic in self.proxy.chain(stream):
                if toxic.type == "slow_close" and self.runs(toxic):
                    await asyncio.sleep(toxic.attributes.get("delay", 0) / 1000)
        except (ConnectionError, OSError):
            pass
        finally:
            # Toxiproxy closes the whole pair when one direction ends
            self.close()

    async def _through(
        self,
        chain: list[Toxic],
        data: bytes,
        arrived: float,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Pass one chunk through the toxics; False when the connection must end."""
        loop = asyncio.get_running_loop()
        for i, toxic in enumerate(chain):
            if not self.runs(toxic):
                continue
            a = toxic.attributes
            if toxic.type == "latency":
                jitter = a.get("jitter", 0)
                delay = a.get("latency", 0) + (random.uniform(-jitter, jitter) if jitter else 0)
                await asyncio.sleep(max(0.0, arrived + delay / 1000 - loop.time()))
            elif toxic.type == "bandwidth" and a.get("rate", 0) > 0:
                await asyncio.sleep(len(data) / (a["rate"] * 1000))
            elif toxic.type == "timeout":
                return True  # dropped; the link's timer closes the connection
            elif toxic.type == "reset_peer":
                await asyncio.sleep(a.get("timeout", 0) / 1000)
                self.close(reset=toxic.name in self.born_with)
                return False
            elif toxic.type == "limit_data":
                left = a.get("bytes", 0) - self.sent.get(toxic.name, 0)
                data = data[: max(0, left)]
                self.sent[toxic.name] = self.sent.get(toxic.name, 0) + len(data)
                if data:
                    rest_ok = await self._through(chain[i + 1 :], data, arrived, writer)
                    if not rest_ok:
                        return False
                return self.sent[toxic.name] < a.get("bytes", 0)
            elif toxic.type == "slicer":
                return await self._slices(chain[i + 1 :], data, arrived, writer, a)
        writer.write(data)
        await writer.drain()
        return True

    async def _slices(
        self,
        chain: list[Toxic],
        data: bytes,
        arrived: float,
        writer: asyncio.StreamWriter,
        a: dict[str, int],
    ) -> bool:
        average, variation = max(1, a.get("average_size", 0)), a.get("size_variation", 0)
        while data:
            size = max(1, average + (random.randint(-variation, variation) if variation else 0))
            piece, data = data[:size], data[size:]
            if not await self._through(chain, piece, arrived, writer):
                return False
            await asyncio.sleep(a.get("delay", 0) / 1_000_000)
        return True


@dataclass(eq=False)
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool = False
    toxics: dict[str, Toxic] = field(default_factory=dict)
    links: set[Link] = field(default_factory=set)
    server: asyncio.Server | None = None

    def chain(self, stream: str | None = None) -> list[Toxic]:
        """Toxics in Toxiproxy's order: upstream ones first, then downstream."""
        ordered = sorted(self.toxics.values(), key=lambda t: STREAMS.index(t.stream))
        return [t for t in ordered if stream is None or t.stream == stream]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.chain()],
        }

    async def start(self) -> None:
        host, _, port = self.listen.rpartition(":")
        bind_host = host.strip("[]") or None
        try:
            self.server = await asyncio.start_server(
                self._accept, bind_host, int(port or 0), reuse_address=True
            )
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            if exc.errno == 98:
                reason = "address already in use"
            raise ApiError(500, f"listen tcp {self.listen}: bind: {reason}") from None
        sockname = self.server.sockets[0].getsockname()
        shown = "[::]" if bind_host is None else sockname[0]
        self.listen = f"{shown}:{sockname[1]}"
        self.enabled = True

    async def stop(self) -> None:
        self.enabled = False
        if self.server is not None:
            self.server.close()
            self.server = None
        for link in list(self.links):
            link.close(drop=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port = self.upstream.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except (OSError, ValueError):
            writer.close()  # accepted, then closed at once, as Toxiproxy does
            return
        if self.server is None:
            # stopped (disabled or deleted) while dialling: its connections are closed
            up_writer.transport.abort()
            writer.transport.abort()
            return
        link = Link(self, writer, up_writer, born_with=frozenset(self.toxics))
        self.links.add(link)
        link.arm_timeouts()
        link.tasks = [
            asyncio.create_task(link.pump("upstream", reader, up_writer)),
            asyncio.create_task(link.pump("downstream", up_reader, writer)),
        ]

    def toxics_changed(self) -> None:
        for link in list(self.links):
            link.arm_timeouts()


# -- the HTTP API --------------------------------------------------------------------------------


class Toxiproxy:
    def __init__(self, version: str = VERSION) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()
        self.version = version

    def get(self, name: str) -> Proxy:
        if name not in self.proxies:
            raise ApiError(404, "proxy not found")
        return self.proxies[name]

    async def create(self, body: dict[str, Any]) -> Proxy:
        for key in ("name", "upstream"):
            if not body.get(key):
                raise ApiError(400, f"missing required field: {key}")
        if body["name"] in self.proxies:
            raise ApiError(409, "proxy already exists")
        proxy = Proxy(name=body["name"], listen=body.get("listen") or "", upstream=body["upstream"])
        if body.get("enabled", True):
            await proxy.start()
        self.proxies[proxy.name] = proxy
        return proxy

    async def update(self, proxy: Proxy, body: dict[str, Any]) -> Proxy:
        _check_proxy_fields(body)
        listen = body.get("listen", proxy.listen)
        upstream = body.get("upstream", proxy.upstream)
        enabled = body.get("enabled", proxy.enabled)
        if (listen, upstream) != (proxy.listen, proxy.upstream):
            await proxy.stop()
            proxy.listen, proxy.upstream = listen, upstream
        if enabled and not proxy.enabled:
            await proxy.start()
        elif not enabled and proxy.enabled:
            await proxy.stop()
        return proxy

    def add_toxic(self, proxy: Proxy, body: dict[str, Any]) -> Toxic:
        stream = str(body.get("stream") or "downstream").lower()
        if stream not in STREAMS:
            raise ApiError(400, "stream was invalid, can be either upstream or downstream")
        kind = body.get("type")
        name = body.get("name") or f"{kind}_{stream}"
        if kind not in TOXIC_TYPES:
            raise ApiError(400, "invalid toxic type")
        if name in proxy.toxics:
            raise ApiError(409, "toxic already exists")
        toxicity = _decode_toxicity(body.get("toxicity", 1.0))
        attributes = dict.fromkeys(TOXIC_TYPES[kind], 0)
        _decode_ints(TOXIC_TYPES[kind], body.get("attributes"), attributes)
        toxic = Toxic(name, kind, stream, toxicity, attributes)
        proxy.toxics[name] = toxic
        proxy.toxics_changed()
        return toxic

    def update_toxic(self, proxy: Proxy, name: str, body: dict[str, Any]) -> Toxic:
        toxic = self.toxic(proxy, name)
        attributes = dict(toxic.attributes)
        _decode_ints(TOXIC_TYPES[toxic.type], body.get("attributes"), attributes)
        toxicity = _decode_toxicity(body.get("toxicity", toxic.toxicity))
        toxic.attributes, toxic.toxicity = attributes, toxicity
        toxic.generation += 1
        proxy.toxics_changed()
        return toxic

    def toxic(self, proxy: Proxy, name: str) -> Toxic:
        if name not in proxy.toxics:
            raise ApiError(404, "toxic not found")
        return proxy.toxics[name]

    def remove_toxic(self, proxy: Proxy, name: str) -> None:
        self.toxic(proxy, name)
        del proxy.toxics[name]
        proxy.toxics_changed()

    async def reset(self) -> None:
        for proxy in self.proxies.values():
            proxy.toxics.clear()
            proxy.toxics_changed()
            if not proxy.enabled:
                await proxy.start()

    async def shutdown(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()


def _check_proxy_fields(body: dict[str, Any]) -> None:
    for key, kind in (("name", str), ("listen", str), ("upstream", str), ("enabled", bool)):
        if key in body and not isinstance(body[key], kind):
            raise _bad_body(f"json: cannot unmarshal into Go struct field Proxy.{key}")


def _error(status: int, message: str) -> Response:
    # Go's http.Error: the JSON body goes out as text/plain
    body = json.dumps({"error": message, "status": status}, separators=(",", ":")) + "\n"
    return Response(body, status_code=status, media_type="text/plain; charset=utf-8")


def _json(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise _bad_body("EOF" if not raw.strip() else f"invalid character: {exc}") from None


async def _object(request: Request) -> dict[str, Any]:
    body = await _body(request)
    if not isinstance(body, dict):
        raise _bad_body("json: cannot unmarshal into an object")
    return body


def build_app(state: Toxiproxy) -> Starlette:
    async def proxies(request: Request) -> Response:
        async with state.lock:
            if request.method == "GET":
                return _json({n: p.to_json() for n, p in state.proxies.items()})
            body = await _object(request)
            _check_proxy_fields(body)
            return _json((await state.create(body)).to_json(), 201)

    async def populate(request: Request) -> Response:
        async with state.lock:
            body = await _body(request)
            if not isinstance(body, list):
                raise _bad_body("json: cannot unmarshal object into Go value of type []proxy")
            for i, item in enumerate(body):
                for key in ("name", "upstream"):
                    if not isinstance(item, dict) or not item.get(key):
                        raise ApiError(400, f"missing required field: {key} at proxy {i + 1}")
            done: list[dict[str, Any]] = []
            for item in body:
                old = state.proxies.get(item["name"])
                if old and (old.listen, old.upstream) == (item.get("listen", ""), item["upstream"]):
                    done.append(old.to_json())
                    continue
                if old:
                    await old.stop()
                    del state.proxies[old.name]
                try:
                    done.append((await state.create(item)).to_json())
                except ApiError as exc:
                    body = {"error": exc.message, "status": exc.status, "proxies": done}
                    return Response(
                        json.dumps(body, separators=(",", ":")) + "\n",
                        status_code=exc.status,
                        media_type="text/plain; charset=utf-8",
                    )
            return _json({"proxies": done}, 201)

    def patch_unknown(request: Request) -> bool:
        # PATCH came with 2.6.0; before, mux knows the path but not the method
        return request.method == "PATCH" and release(state.version) < (2, 6)

    async def one_proxy(request: Request) -> Response:
        if patch_unknown(request):
            return Response(b"", 405)
        async with state.lock:
            proxy = state.get(request.path_params["proxy"])
            if request.method == "GET":
                return _json(proxy.to_json())
            if request.method == "DELETE":
                await proxy.stop()
                del state.proxies[proxy.name]
                return Response(status_code=204)
            return _json((await state.update(proxy, await _object(request))).to_json())

    async def toxics(request: Request) -> Response:
        async with state.lock:
            proxy = state.get(request.path_params["proxy"])
            if request.method == "GET":
                return _json([t.to_json() for t in proxy.chain()])
            return _json(state.add_toxic(proxy, await _object(request)).to_json())

    async def one_toxic(request: Request) -> Response:
        if patch_unknown(request):
            return Response(b"", 405)
        async with state.lock:
            proxy = state.get(request.path_params["proxy"])
            name = request.path_params["toxic"]
            if request.method == "GET":
                return _json(state.toxic(proxy, name).to_json())
            if request.method == "DELETE":
                state.remove_toxic(proxy, name)
                return Response(status_code=204)
            return _json(state.update_toxic(proxy, name, await _object(request)).to_json())

    async def reset(request: Request) -> Response:
        async with state.lock:
            await state.reset()
        return Response(status_code=204)

    async def version(request: Request) -> Response:
        if release(state.version) < (2, 7):
            # the bare version, its type sniffed by Go's net/http
            return Response(state.version, media_type="text/plain; charset=utf-8")
        return Response(
            json.dumps({"version": state.version}, separators=(",", ":")) + "\n",
            media_type="application/json;charset=utf-8",
        )

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error(exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return Response("404 page not found\n", 404, media_type="text/plain; charset=utf-8")
        return Response(b"", exc.status_code)  # mux's 405 has no body

    request_ids = itertools.count(1)

    async def toxiproxy_headers(request: Request, call_next: Any) -> Response:
        if request.headers.get("user-agent", "").startswith("Mozilla/"):
            response: Response = Response(
                "User agent not allowed\n", 403, media_type="text/plain; charset=utf-8"
            )
        else:
            response = await call_next(request)
        response.headers["X-Toxiproxy-Request-Id"] = f"fake-{next(request_ids)}"
        return response

    return Starlette(
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=toxiproxy_headers)],
        routes=[
            Route("/proxies", proxies, methods=["GET", "POST"]),
            Route("/populate", populate, methods=["POST"]),
            Route("/proxies/{proxy}", one_proxy, methods=["GET", "POST", "PATCH", "DELETE"]),
            Route("/proxies/{proxy}/toxics", toxics, methods=["GET", "POST"]),
            Route(
                "/proxies/{proxy}/toxics/{toxic}",
                one_toxic,
                methods=["GET", "POST", "PATCH", "DELETE"],
            ),
            Route("/reset", reset, methods=["POST"]),
            Route("/version", version, methods=["GET"]),
        ],
        exception_handlers={ApiError: api_error, HTTPException: http_error},
    )


async def serve(
    host: str, port: int, *, stop_on_stdin_eof: bool = False, version: str = VERSION
) -> None:
    state = Toxiproxy(version)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(build_app(state), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    bound = sock.getsockname()

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        print(f"listening on {bound[0]}:{bound[1]}", flush=True)

    announcing = asyncio.create_task(announce())
    if stop_on_stdin_eof:
        # the test process holds our stdin: when it dies, however it dies, we stop too
        stdin = sys.stdin.fileno()

        def parent_gone() -> None:
            if not os.read(stdin, 4096):
                asyncio.get_running_loop().remove_reader(stdin)
                server.should_exit = True

        asyncio.get_running_loop().add_reader(stdin, parent_gone)
    try:
        await server.serve(sockets=[sock])
    finally:
        announcing.cancel()
        await state.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Toxiproxy server for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8474)
    parser.add_argument(
        "--stop-on-stdin-eof", action="store_true", help="stop when standard input closes"
    )
    parser.add_argument(
        "--version", default=VERSION, help="the Toxiproxy release to answer as (e.g. 2.5.0)"
    )
    args = parser.parse_args(argv)
    asyncio.run(
        serve(args.host, args.port, stop_on_stdin_eof=args.stop_on_stdin_eof, version=args.version)
    )


if __name__ == "__main__":
    main()
