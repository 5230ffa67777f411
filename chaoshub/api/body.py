"""Request bodies checked before anything parses them: size, then (for GraphQL) shape.

Pure ASGI so a body larger than the limit is refused from its Content-Length, or as soon as
a streamed body passes it, without buffering the rest. A GraphQL POST must be UTF-8 JSON
holding one object with a string ``query``; a document with several operations must name
the one to run. Each refusal is a 4xx JSON body saying what is wrong.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: deeper JSON (variables included) is refused before anything recursive walks it
MAX_JSON_DEPTH = 64


class BodyTooLarge(Exception):
    pass


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (iterative: no recursion limit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def graphql_body_problem(raw: bytes, max_tokens: int) -> str | None:
    """What is wrong with a GraphQL POST body, or None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not UTF-8 (byte {exc.start})"
    too_deep = f"the body's JSON is nested more than {MAX_JSON_DEPTH} deep"
    try:
        body = json.loads(text)
    except RecursionError:
        return too_deep
    except ValueError as exc:
        return f"the body is not JSON: {exc}"
    if _depth(body) > MAX_JSON_DEPTH:
        return too_deep
    if not isinstance(body, dict):
        return f"the body must be a JSON object with a query, not {type(body).__name__}"
    query = body.get("query")
    if not isinstance(query, str):
        return "the body's query must be a string"
    for key in ("variables", "extensions"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"the body's {key} must be an object"
    name = body.get("operationName")
    if name is not None and not isinstance(name, str):
        return "the body's operationName must be a string"
    if name is None:
        try:
            document = parse(query, max_tokens=max_tokens)
        except GraphQLError:
            return None  # strawberry reports the syntax error where it is
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(ops) > 1:
            return "operationName required: the document has several operations"
    return None


def graphql_params_problem(params: dict[str, str]) -> str | None:
    """What is wrong with a GraphQL GET's JSON parameters (variables, extensions), or None."""
    for key in ("variables", "extensions"):
        text = params.get(key)
        if not text:
            continue
        try:
            value = json.loads(text)
        except RecursionError:
            return f"{key} is nested more than {MAX_JSON_DEPTH} deep"
        except ValueError as exc:
            return f"{key} is not JSON: {exc}"
        if _depth(value) > MAX_JSON_DEPTH:
            return f"{key} is nested more than {MAX_JSON_DEPTH} deep"
    return None


class BodyGuard:
    def __init__(self, app: ASGIApp, max_bytes: int, max_tokens: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"").decode("latin-1")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._too_large(send)
            return
        try:
            raw = await self._read(receive)
        except BodyTooLarge:
            await self._too_large(send)
            return
        path = str(scope.get("path", "")).rstrip("/")
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if path == "/graphql" and content_type.startswith("application/json"):
            problem = graphql_body_problem(raw, self.max_tokens)
            if problem is not None:
                await _answer(send, 400, problem, "BAD_REQUEST")
                return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await _answer(
            send, 413, f"the request body is larger than {self.max_bytes} bytes", "TOO_LARGE"
        )


def problem_body(message: str, code: str = "BAD_REQUEST") -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


async def _answer(send: Send, status: int, message: str, code: str) -> None:
    body = json.dumps(problem_body(message, code)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
