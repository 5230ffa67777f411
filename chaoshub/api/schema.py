"""The GraphQL schema: the public names of DESIGN.md §7 and issue #2, composed from one root
per domain.

Each domain module (``catalog``, ``fleet``, ``experiments``, ``runs``, ``events``, ``auth``)
defines its own ``…Query``, ``…Mutation`` and ``…Subscription`` roots; a new domain is one
entry in each of the tuples below. tests/data/schema.graphql holds the printed result, so a
change to the public API is made knowingly."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext
from strawberry.types.base import get_object_definition

from chaoshub import secrets
from chaoshub.api import limits
from chaoshub.api.auth import AuthMutation, AuthQuery
from chaoshub.api.catalog import CatalogQuery
from chaoshub.api.error_log import HubSchema
from chaoshub.api.event_sinks import EventSinkMutation, EventSinkQuery
from chaoshub.api.events import EventQuery, EventSubscription
from chaoshub.api.experiments import ExperimentMutation, ExperimentQuery
from chaoshub.api.fleet import FleetMutation, FleetQuery
from chaoshub.api.imports import ImportMutation
from chaoshub.api.runs import RunMutation, RunQuery, RunSubscription
from chaoshub.api.schedules import ScheduleMutation, ScheduleQuery
from chaoshub.api.thresholds import ThresholdMutation, ThresholdQuery
from chaoshub.api.workflows import WorkflowMutation, WorkflowQuery, WorkflowSubscription
from chaoshub.config import Settings

QUERIES: tuple[type, ...] = (
    AuthQuery,
    CatalogQuery,
    FleetQuery,
    ExperimentQuery,
    RunQuery,
    EventQuery,
    EventSinkQuery,
    WorkflowQuery,
    ScheduleQuery,
    ThresholdQuery,
)
MUTATIONS: tuple[type, ...] = (
    FleetMutation,
    ExperimentMutation,
    RunMutation,
    AuthMutation,
    WorkflowMutation,
    ScheduleMutation,
    ThresholdMutation,
    EventSinkMutation,
    ImportMutation,
)
SUBSCRIPTIONS: tuple[type, ...] = (
    RunSubscription,
    EventSubscription,
    WorkflowSubscription,
)


def compose(name: str, roots: tuple[type, ...]) -> type:
    """One root type with every field of ``roots``; two domains may not define the same field
    (one would silently hide the other)."""
    seen: dict[str, str] = {}
    for root in roots:
        definition = get_object_definition(root, strict=True)
        for f in definition.fields:
            if f.name in seen:
                raise ValueError(
                    f"{name}.{f.name} is defined by both {seen[f.name]} and {root.__name__}"
                )
            seen[f.name] = root.__name__
    return strawberry.type(type(name, roots, {}))


class _Schema(HubSchema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # graphql-core quotes a refused variable whole ("found: {'config': {'token': ...}}"):
        # a secret in it must reach neither the log nor the answer
        hidden = secrets.values(execution_context.variables if execution_context else None)
        for error in errors:
            scrubbed = secrets.scrub(
                error.message,
                hidden,
                "a variable has an invalid value (not shown: it holds a secret)",
            )
            if scrubbed != error.message:
                error.message = scrubbed
                error.original_error = None  # its traceback quotes the value too
        super().process_errors(errors, execution_context)


def build_schema(settings: Settings) -> strawberry.Schema:
    return _Schema(
        query=compose("Query", QUERIES),
        mutation=compose("Mutation", MUTATIONS),
        subscription=compose("Subscription", SUBSCRIPTIONS),
        extensions=limits.extensions(settings),
    )
