"""What one request may cost: depth, aliases, tokens, and the fields that call a tool.

Depth, aliases and tokens use strawberry's own limiters. The fields in :data:`EXPENSIVE`
each make at least one call to a tool (an agent, a cloud API), so a document may name only
a few of them, and each token may spend only so many per minute. The per-minute budget is a
token bucket held in the API process: with several API replicas each keeps its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, ValidationRule
from graphql.language import DocumentNode, visit
from graphql.language.visitor import Visitor
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from chaoshub.config import Settings
from chaoshub.errors import HubError

#: Query fields that reach a tool for every occurrence: capped per request and per token
EXPENSIVE = frozenset({"backendHealth", "discoverTargets"})

#: mutations that ask a tool before storing (validate, describe, forget): capped per request
#: only, as an operator's runs must not wait on a budget
TOOL_MUTATIONS = frozenset(
    {
        "startRun",
        "createExperiment",
        "updateExperiment",
        "createBackend",
        "updateBackend",
        "forceReleaseRun",
        "importDocument",
    }
)


class RateLimited(HubError):
    code = "RATE_LIMITED"


def expensive_fields(document: DocumentNode, names: frozenset[str] = EXPENSIVE) -> int:
    """How many of the fields ``names`` the document names (fragments counted where defined:
    a fragment spread twice merges into the same response keys, so it costs once)."""
    count = 0

    class Counter(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            nonlocal count
            if node.name.value in names:
                count += 1

    visit(document, Counter())
    return count


_costs: dict[str, int] = {}


def _cost(query: str | None, document: DocumentNode) -> int:
    """:func:`expensive_fields` of the document parsed from ``query``, counted once per
    distinct query text (at most ``CACHED_DOCUMENTS`` kept)."""
    if not query:
        return expensive_fields(document)
    cost = _costs.get(query)
    if cost is None:
        cost = expensive_fields(document)
        if len(_costs) >= CACHED_DOCUMENTS:
            _costs.pop(next(iter(_costs)), None)
        _costs[query] = cost
    return cost


def cost_rule(limit: int) -> type[ValidationRule]:
    class ExpensiveFieldLimit(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            n = expensive_fields(node, EXPENSIVE | TOOL_MUTATIONS)
            if n > limit:
                names = ", ".join(sorted(EXPENSIVE | TOOL_MUTATIONS))
                self.report_error(
                    GraphQLError(
                        f"this request asks for {n} fields that call a tool ({names}); "
                        f"at most {limit} per request",
                        extensions={"code": "LIMIT_EXCEEDED"},
                    )
                )

    return ExpensiveFieldLimit


class TokenBucket:
    """``per_minute`` spends per key, refilled continuously; thread-safe."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def spend(self, key: str, n: int) -> float:
        """Take ``n``; returns 0 when granted, else the seconds until it would be."""
        with self._lock:
            now = self.clock()
            level, at = self._buckets.get(key, (self.capacity, now))
            level = min(self.capacity, level + (now - at) * self.rate)
            if level >= n:
                self._buckets[key] = (level - n, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (n - level) / self.rate if self.rate > 0 else float("inf")


class OperationNameRequired(ValidationRule):
    def enter_document(self, node: DocumentNode, *_: Any) -> None:
        self.report_error(
            GraphQLError(
                "operationName required: the document has several operations",
                extensions={"code": "BAD_REQUEST"},
            )
        )


def _refuse(ext: SchemaExtension, message: str, code: str) -> None:
    ext.execution_context.result = GraphQLExecutionResult(
        data=None, errors=[GraphQLError(message, extensions={"code": code})]
    )


def guard(settings: Settings, bucket: TokenBucket) -> Callable[[], SchemaExtension]:
    """An extension refusing, before anything runs: a document with several operations and
    no operationName (over the websocket too), and expensive fields past the token's budget."""

    class Guard(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            ec = self.execution_context
            document = ec.graphql_document
            if document is not None and getattr(ec, "_provided_operation_name", None) is None:
                ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
                if len(ops) > 1:  # strawberry would run the first; graphql-core would refuse
                    ec.validation_rules = (*ec.validation_rules, OperationNameRequired)
            yield

        async def on_execute(self) -> AsyncIterator[None]:
            ec = self.execution_context
            cost = _cost(ec.query, ec.graphql_document) if ec.graphql_document is not None else 0
            if cost and (wait := await self._spend(cost)):
                _refuse(
                    self,
                    f"too many tool calls from this token: at most "
                    f"{settings.expensive_per_minute} a minute; try again in {wait:.0f} s",
                    RateLimited.code,
                )
            yield

        async def _spend(self, cost: int) -> float:
            try:
                actor = await self.execution_context.context.actor()
            except HubError:
                return 0.0  # the resolver refuses the stranger itself
            return bucket.spend(actor.name, cost)

    return Guard


#: distinct documents whose parse and validation are kept (a bound: a caller sending a new
#: document each time only evicts older ones)
CACHED_DOCUMENTS = 256


class DocumentCache(ParserCache):
    """Strawberry's :class:`ParserCache`, except that a document that fails to parse is left
    to strawberry's own parse, which answers the error (over a websocket too) as it would
    without the cache."""

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        try:
            ec.graphql_document = self.cached_parse_document(ec.query, **ec.parse_options)
        except Exception:
            ec.graphql_document = None
        yield


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """The limits, and the parse and validation of a document done once per distinct
    document (strawberry's :class:`ParserCache`, see :class:`DocumentCache`, and
    :class:`ValidationCache`: a client sends
    the same few documents with different variables). The rules are made once, so that a
    document validated with them is known again: the same rules, the same answer."""
    bucket = TokenBucket(settings.expensive_per_minute)
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        cost_rule(settings.max_expensive_fields),
    ]
    return [
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: AddValidationRules(rules),
        lambda: DocumentCache(maxsize=CACHED_DOCUMENTS),
        guard(settings, bucket),
        # last: it validates with every rule the others added
        lambda: ValidationCache(maxsize=CACHED_DOCUMENTS),
    ]
