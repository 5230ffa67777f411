"""What answers without a token: nothing about the schema unless the operator opens it.

GraphQL over GET (which strawberry serves for queries, introspection included) needs a
token as POST does; the GraphiQL page itself (a GET with no query) still loads. FastAPI's
``/docs``, ``/redoc`` and ``/openapi.json`` are served only with ``CHAOSHUB_PUBLIC_SCHEMA``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.types import Receive, Scope, Send

from chaoshub.api.body import BodyGuard, graphql_params_problem, problem_body
from chaoshub.api.resolvers import in_db, unauthenticated_error
from chaoshub.config import Settings
from chaoshub.errors import Unauthenticated
from chaoshub.runtime import Runtime
from chaoshub.services import auth


def docs_urls(settings: Settings) -> dict[str, Any]:
    if settings.public_schema:
        return {}
    return {"docs_url": None, "redoc_url": None, "openapi_url": None}


class GraphQLMiddleware(BaseHTTPMiddleware):
    """A ``BaseHTTPMiddleware`` that acts on ``/graphql`` only: every other request,
    heartbeats first of all, skips it and the task group and streams it costs per request."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).rstrip("/") == "/graphql":
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class GraphQLGetAuth(GraphQLMiddleware):
    """A token for GraphQL over GET, and its JSON parameters checked as a POST body is."""

    def __init__(self, app: Any, runtime: Runtime) -> None:
        super().__init__(app)
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "GET":
            await super().__call__(scope, receive, send)
        else:  # a POST's token is checked by the app's GraphQLAuth
            await self.app(scope, receive, send)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if (
            request.url.path.rstrip("/") == "/graphql"
            and request.method == "GET"
            and "query" in request.query_params
        ):
            header = request.headers.get("authorization")
            try:
                await in_db(self.runtime, lambda s: auth.authenticate(s, header))
            except Unauthenticated as exc:
                return JSONResponse(
                    unauthenticated_error(exc.message),
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            problem = graphql_params_problem(dict(request.query_params))
            if problem is not None:
                return JSONResponse(problem_body(problem), status_code=400)
        return await call_next(request)


def install(app: FastAPI, runtime: Runtime) -> None:
    """Add the token check on GET and, outermost, the body limits."""
    settings = runtime.settings
    app.add_middleware(GraphQLGetAuth, runtime=runtime)
    app.add_middleware(
        BodyGuard, max_bytes=settings.max_body_bytes, max_tokens=settings.max_query_tokens
    )
