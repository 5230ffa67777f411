"""The FastAPI application: GraphQL, agents' endpoints, metrics, health, the built UI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from chaoshub import __version__, metrics
from chaoshub.api import beat_path, beats, exposure, ws
from chaoshub.api.commits import GroupCommit
from chaoshub.api.resolvers import Context, in_db, unauthenticated_error
from chaoshub.api.schema import build_schema
from chaoshub.api.tokens import TokenCache
from chaoshub.errors import Forbidden, HubError, InvalidInput, Unauthenticated
from chaoshub.runtime import Runtime
from chaoshub.services import agents as agents_svc
from chaoshub.services import audit, auth
from chaoshub.store import models

log = logging.getLogger("chaoshub.api")

Dispatch = Callable[[str, str, str], None]


def bootstrap(runtime: Runtime) -> str | None:
    """Migrate, make sure an admin token exists, record the catalog. Returns a new admin token
    when one had to be created (the caller prints it once and writes it to the data dir)."""
    runtime.migrate()
    created: str | None = None
    with runtime.session() as s:
        if runtime.settings.admin_token:
            auth.ensure_token(s, "bootstrap-admin", "admin", runtime.settings.admin_token)
        else:
            token_file = runtime.settings.data_dir / "admin-token"
            existing = token_file.read_text().strip() if token_file.exists() else ""
            if existing:
                auth.ensure_token(s, "bootstrap-admin", "admin", existing)
            else:
                _, created = auth.create_token(s, "bootstrap-admin", "admin")
                token_file.parent.mkdir(parents=True, exist_ok=True)
                token_file.touch(mode=0o600)
                token_file.chmod(0o600)
                token_file.write_text(created + "\n")
        agents_svc.ensure_fleet_backend(s)
        for entry in runtime.catalog.all():
            row = s.get(models.FaultTypeRow, entry.id)
            spec = {
                "title": entry.title,
                "category": entry.category,
                "time_control": entry.time_control.value,
            }
            if row is None:
                s.add(models.FaultTypeRow(id=entry.id, adapter=entry.adapter, spec=spec))
            elif row.spec != spec:
                row.spec = spec
    return created


AGENT_ONLY = (
    "agent tokens may only register and heartbeat (POST /agents/register, /agents/heartbeat)"
)


def _client(conn: Request | WebSocket) -> str:
    return conn.client.host if conn.client else ""


async def _audit_refusal(
    runtime: Runtime,
    actor: auth.Actor | None,
    action: str,
    exc: HubError,
    **detail: Any,
) -> None:
    await in_db(
        runtime,
        lambda s: audit.refusal(
            s,
            actor,
            action,
            exc.code,
            exc.message,
            subject=detail.pop("subject", None),
            input=detail,
        ),
    )


class HubGraphQLRouter(GraphQLRouter[Context, None]):
    graphql_transport_ws_handler_class = ws.TransportWSHandler
    graphql_ws_handler_class = ws.LegacyWSHandler

    def __init__(self, *args: Any, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runtime = runtime
        self.watch = ws.TokenWatch(runtime)

    async def admit(self, context: Context) -> auth.Actor:
        """The connection's token, or a refusal (audited): none, unknown, or an agent's."""
        if context.connection_actor is not None:
            return context.connection_actor
        where = {"path": "/graphql", "transport": "websocket"}
        if context.request is not None:
            where["client"] = _client(context.request)
        actor: auth.Actor | None = None
        try:
            actor = await context.actor()
            if actor.role == "agent":
                raise Forbidden(AGENT_ONLY)
        except (Unauthenticated, Forbidden) as exc:
            await _audit_refusal(self.runtime, actor, "graphql", exc, **where)
            raise ConnectionRejectionError({"message": exc.message, "code": exc.code}) from exc
        context.connection_actor = actor
        return actor

    async def on_ws_connect(self, context: Context) -> Any:
        """Refuse a websocket whose connection_init carries no valid token, or an agent's."""
        await self.admit(context)
        return await super().on_ws_connect(context)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """GraphiQL bundled with the console (no CDN: hubs often run air-gapped)."""
        static = _static_dir()
        page = static / "graphiql.html" if static is not None else None
        if page is not None and page.is_file():
            return HTMLResponse(page.read_text())
        return await super().render_graphql_ide(request)


class GraphQLAuth:
    """Refuse GraphQL over HTTP before any resolver runs: 401 without a valid token, 403 for
    an agent token. Each refusal is one audit row.

    A plain ASGI middleware: it reads only the request's line and headers, so the body
    passes through untouched (no task group or stream per request, as a
    ``BaseHTTPMiddleware`` costs)."""

    def __init__(self, app: ASGIApp, runtime: Runtime, tokens: TokenCache) -> None:
        self.app = app
        self.runtime = runtime
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).rstrip("/") == "/graphql":
            refused = await self.refusal(Request(scope))
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def refusal(self, request: Request) -> Response | None:
        is_operation = request.method == "POST" or (
            request.method == "GET" and "query" in request.query_params
        )
        if not is_operation:
            return None
        header = request.headers.get("authorization")
        where = {"path": "/graphql", "client": _client(request)}
        try:
            actor = await self.tokens.authenticate(header)
        except Unauthenticated as exc:
            await _audit_refusal(self.runtime, None, "graphql", exc, **where)
            return JSONResponse(
                unauthenticated_error(exc.message),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if actor.role == "agent":
            forbidden = Forbidden(AGENT_ONLY)
            await _audit_refusal(self.runtime, actor, "graphql", forbidden, **where)
            return JSONResponse(
                {
                    "errors": [
                        {"message": forbidden.message, "extensions": {"code": forbidden.code}}
                    ]
                },
                status_code=403,
            )
        return None


def _static_dir() -> Path | None:
    path = Path(str(resources.files("chaoshub"))) / "static"
    return path if (path / "index.html").exists() else None


FALLBACK_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Chaos Hub</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Chaos Hub {version}</h1>
<p>The API is at <a href="/graphql">/graphql</a> (GraphiQL in the browser; send
<code>Authorization: Bearer &lt;token&gt;</code>).</p>
<p>The web console has not been built into this installation.</p></body></html>"""


def create_app(
    runtime: Runtime, dispatch: Dispatch, *, on_shutdown: Callable[[], None] | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        watching = asyncio.create_task(graphql.watch.run())
        refreshing = asyncio.create_task(beats.refresh_forever(beat_cache, runtime))
        try:
            yield
        finally:
            for task in (watching, refreshing):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await writer.close()
        if on_shutdown:  # runs before the server exits, whichever signal stopped it
            from anyio import to_thread

            await to_thread.run_sync(on_shutdown)

    app = FastAPI(
        title="Chaos Hub",
        version=__version__,
        lifespan=lifespan,
        **exposure.docs_urls(runtime.settings),
    )
    metrics.install_store_collector(runtime.session)
    beat_cache = beats.BeatCache(runtime.settings.agent_timeout_seconds)
    writer = beat_path.PresenceWriter(runtime.presence)
    token_cache = TokenCache(runtime)
    commits = GroupCommit(runtime, dispatch)

    async def get_context() -> Context:
        return Context(runtime, dispatch, token_cache, commits)

    graphql = HubGraphQLRouter(
        build_schema(runtime.settings),
        runtime=runtime,
        context_getter=get_context,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL],
        graphql_ide="graphiql",
    )
    app.include_router(graphql, prefix="/graphql")
    app.add_middleware(GraphQLAuth, runtime=runtime, tokens=token_cache)
    exposure.install(app, runtime)
    every = agents_svc.heartbeat_seconds(runtime.settings.agent_timeout_seconds)
    # outside every other middleware: an ordinary beat is answered before any of them
    app.add_middleware(
        beat_path.HeartbeatFastPath,
        cache=beat_cache,
        writer=writer,
        every=every,
        max_bytes=runtime.settings.max_body_bytes,
    )

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        def check(s: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(models.Agent)) or 0)

        try:
            await in_db(runtime, check)
        except Exception as exc:
            return JSONResponse({"status": "error", "database": str(exc)}, status_code=503)  # type: ignore[return-value]
        return {"status": "ok", "version": __version__}

    @app.get("/metrics")
    async def prometheus() -> Response:
        from anyio import to_thread

        body = await to_thread.run_sync(generate_latest)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/schemas/{name}")
    async def document_schema(name: str) -> Response:
        """The JSON Schema of the hub's documents (chaoshub.json) or of one kind
        (Workflow.json...), for editors; public, like the catalog it is made from."""
        from chaoshub.formats.schema import DOCUMENT_KINDS, published

        kind = name.removesuffix(".json")
        if not name.endswith(".json") or kind not in ("chaoshub", *DOCUMENT_KINDS):
            known = ", ".join(f"{k}.json" for k in ("chaoshub", *DOCUMENT_KINDS))
            return JSONResponse({"error": f"no schema {name!r} (known: {known})"}, status_code=404)
        schema = published(None if kind == "chaoshub" else kind)
        return JSONResponse(schema, media_type="application/schema+json")

    async def _agent_call(request: Request, action: str, fn: Callable[..., Any]) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        header = request.headers.get("authorization")
        who: list[auth.Actor] = []
        generation = beat_cache.generation

        def work(s: Any) -> Any:
            actor = auth.authenticate(s, header)
            who.append(actor)
            actor.require("agent")
            if not isinstance(body, dict):
                raise InvalidInput("the body must be a JSON object", field=[])
            if action == "registerAgent":
                return fn(s, actor, body, runtime.settings.agent_networks, runtime.presence)
            return fn(s, actor, body, runtime.presence)

        try:
            agent = await in_db(runtime, work)
        except HubError as exc:
            subject = body.get("name") if isinstance(body, dict) else None
            await _audit_refusal(
                runtime,
                who[0] if who else None,
                action,
                exc,
                subject=str(subject)[:200] if subject is not None else None,
                path=request.url.path,
                client=_client(request),
            )
            status = {
                "UNAUTHENTICATED": 401,
                "FORBIDDEN": 403,
                "NOT_FOUND": 404,
                "INVALID_INPUT": 400,
            }.get(exc.code, 500)
            return JSONResponse(
                {"type": exc.code.lower(), "title": exc.message, "field": exc.field},
                status_code=status,
                media_type="application/problem+json",
                headers={"WWW-Authenticate": "Bearer"} if status == 401 else None,
            )
        token_hash = beats.bearer_hash(header)
        if token_hash is not None and who:
            beat_cache.keep(generation, token_hash, who[0], agent.name, agent)
        return JSONResponse({"agent": agent.name, "heartbeat_seconds": every})

    @app.post("/agents/register")
    async def register(request: Request) -> Response:
        return await _agent_call(request, "registerAgent", agents_svc.register)

    @app.post("/agents/heartbeat")
    async def heartbeat(request: Request) -> Response:
        # an ordinary beat was answered by beat_path.HeartbeatFastPath: this one was not
        return await _agent_call(request, "agentHeartbeat", agents_svc.heartbeat)

    static = _static_dir()
    if static is not None:
        app.mount(
            "/assets", StaticFiles(directory=static / "assets", check_dir=False), name="assets"
        )

        @app.get("/{path:path}", include_in_schema=False)
        async def spa(path: str) -> Response:
            if "\x00" in path:  # a path the filesystem cannot name
                return JSONResponse({"detail": "no such page"}, status_code=404)
            candidate = (static / path).resolve()
            if path and candidate.is_file() and static.resolve() in candidate.parents:
                return Response(candidate.read_bytes(), media_type=_media_type(candidate))
            return HTMLResponse((static / "index.html").read_text())
    else:

        @app.get("/", include_in_schema=False)
        async def index() -> HTMLResponse:
            return HTMLResponse(FALLBACK_PAGE.format(version=__version__))

    return app


def _media_type(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
