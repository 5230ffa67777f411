"""The HTTP adapter protocol v1 server (DESIGN.md §5.4) over an :class:`Injector`.

Every route needs ``Authorization: Bearer <api token>`` except ``GET /livez``. Every
error is an RFC 7807 ``application/problem+json`` body.
"""

from __future__ import annotations

import hmac
import logging
import socket
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from chaoshub.native_injector import __version__, catalog, command
from chaoshub.native_injector.engine import Injector
from chaoshub.native_injector.models import (
    BatchStatusBody,
    CommandBody,
    CommandCheckBody,
    DiscoverBody,
    ExecutionBody,
    ForgetBody,
    InjectBody,
    ValidateBody,
)
from chaoshub.native_injector.problems import (
    InvalidRequest,
    Missing,
    Problem,
    Unauthorized,
    Unavailable,
    validation_message,
)

log = logging.getLogger("chaoshub.injector.server")

PROTOCOL = "v1"
#: the revision of protocol v1 this server speaks: 1.0 had the single ``/v1/status`` only;
#: 1.1 adds ``/v1/status/batch`` (the single call stays, for hubs that predate it)
PROTOCOL_VERSION = "1.1"
#: the optional calls this server has, advertised by ``describe`` so a client need not probe
FEATURES = {"batch_status": True}


def create_app(injector: Injector, api_token: str, name: str = "") -> FastAPI:
    name = name or socket.gethostname()
    app = FastAPI(
        title="Chaos Hub native injector",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def authorized(request: Request) -> None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), api_token):
            raise Unauthorized("a valid bearer token is required")

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        detail = validation_message(first.get("msg", "invalid request"))
        if first.get("type") == "extra_forbidden":
            detail = f"unknown field {loc[-1] if loc else ''!r}"
        return InvalidRequest(detail, field=loc).response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return Missing(f"no route {request.url.path}").response(request.url.path)
        return InvalidRequest(str(exc.detail)).response(request.url.path, exc.status_code)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return Unavailable(f"internal error: {exc}").response(request.url.path, 500)

    @app.get("/livez")
    def livez() -> dict[str, str]:
        return {"status": "alive"}

    guarded = [Depends(authorized)]

    def capabilities() -> dict[str, dict[str, Any]]:
        return {
            f: {"available": c.ok, "reason": c.detail} for f, c in injector.prober.faults().items()
        }

    @app.get("/v1/describe", dependencies=guarded)
    def describe() -> dict[str, Any]:
        return {
            "name": name,
            "version": __version__,
            "protocol": PROTOCOL,
            "protocol_version": PROTOCOL_VERSION,
            "features": dict(FEATURES),
            "fault_types": list(catalog.entries().values()),
            "capabilities": capabilities(),
            **injector.guard_report(),
        }

    @app.get("/v1/health", dependencies=guarded)
    def health() -> dict[str, Any]:
        checks = injector.prober.checks(fresh=True)
        faults = capabilities()
        degraded = [f for f, c in faults.items() if not c["available"]]
        return {
            "status": "degraded" if degraded else "ok",
            "name": name,
            "version": __version__,
            "faults": faults,
            "checks": {k: {"ok": c.ok, "detail": c.detail} for k, c in sorted(checks.items())},
            "active": len(injector.live()),
            "leftovers": injector.leftovers,
            **injector.guard_report(),
        }

    @app.post("/v1/discover", dependencies=guarded)
    def discover(body: DiscoverBody) -> dict[str, Any]:
        return {"targets": injector.discover(body.fault, body.selector)}

    @app.post("/v1/validate", dependencies=guarded)
    def validate(body: ValidateBody) -> dict[str, Any]:
        return {"params": injector.validate(body.fault, body.params)}

    @app.post("/v1/inject", dependencies=guarded)
    def inject(body: InjectBody) -> dict[str, Any]:
        handle, obs = injector.inject(
            body.execution_id, body.fault, body.params, body.target.model_dump(), body.lease_seconds
        )
        return {"handle": handle, "observation": obs}

    @app.post("/v1/status", dependencies=guarded)
    def status(body: ExecutionBody) -> dict[str, Any]:
        injector.metrics.status_called("single", 1)
        return {"observation": injector.status(body.execution_id)}

    @app.post("/v1/status/batch", dependencies=guarded)
    def status_batch(body: BatchStatusBody, request: Request) -> dict[str, Any]:
        ids = [item.execution_id for item in body.items]
        seen: set[str] = set()
        for index, execution_id in enumerate(ids):
            if execution_id in seen:
                raise InvalidRequest(
                    f"execution {execution_id} is asked twice",
                    field=["items", index, "execution_id"],
                )
            seen.add(execution_id)
        injector.metrics.status_called("batch", len(ids))
        items: list[dict[str, Any]] = []
        for execution_id, answer in zip(ids, injector.status_many(ids), strict=True):
            if isinstance(answer, Problem):
                items.append({"execution_id": execution_id, "error": answer.body(request.url.path)})
            else:
                items.append({"execution_id": execution_id, "observation": answer})
        return {"items": items}

    @app.post("/v1/recover", dependencies=guarded)
    def recover(body: ExecutionBody) -> dict[str, Any]:
        return {"observation": injector.recover(body.execution_id)}

    @app.post("/v1/forget", dependencies=guarded)
    def forget(body: ForgetBody) -> dict[str, Any]:
        return {"observation": injector.forget(body.execution_id, body.reason)}

    @app.post("/v1/probe/command", dependencies=guarded)
    def probe_command(body: CommandBody) -> dict[str, Any]:
        return command.run(injector.ctx, body.argv, body.timeout_seconds)

    @app.post("/v1/probe/command/validate", dependencies=guarded)
    def validate_command(body: CommandCheckBody) -> dict[str, Any]:
        return {"script": command.check(injector.ctx, body.argv).name}

    @app.get("/v1/executions", dependencies=guarded)
    def executions() -> dict[str, Any]:
        return injector.executions()

    @app.get("/metrics", dependencies=guarded)
    def metrics() -> Response:
        return Response(generate_latest(injector.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
