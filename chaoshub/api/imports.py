"""Importing other tools' documents: ``importDocument`` maps a Chaos Mesh, Litmus or Chaos
Toolkit document onto a hub document, says what was not mapped, and with ``create`` stores it."""

from __future__ import annotations

from typing import Annotated, Union

import strawberry
from sqlalchemy.orm import Session

from chaoshub import formats
from chaoshub.api.resolvers import Outcome, ctx, mutate
from chaoshub.api.types.common import ERRORS, JSONValue
from chaoshub.services import imports
from chaoshub.services.auth import Actor


@strawberry.type(description="Something in the imported document the hub document does not say")
class ImportNote:
    path: str = strawberry.field(
        description="where in the imported document, e.g. spec.delay.reorder"
    )
    why: str


@strawberry.type(description="A hub document made from another tool's document")
class ImportedDocument:
    kind: str = strawberry.field(description="Experiment, Workflow or Schedule")
    source: str = strawberry.field(
        description="the format and kind read, e.g. chaos-mesh NetworkChaos"
    )
    document: JSONValue
    yaml: str = strawberry.field(description="the document as YAML")
    notes: list[ImportNote]
    created: JSONValue = strawberry.field(
        description="with create: the id of each object stored, by kind ({} otherwise)"
    )


ImportResult = Annotated[
    Union[ImportedDocument, ERRORS],  # noqa: UP007
    strawberry.union("ImportResult"),
]


@strawberry.type
class ImportMutation:
    @strawberry.mutation(
        description="Map a Chaos Mesh, Litmus or Chaos Toolkit document (YAML or JSON) onto a "
        "hub document, checked as startRun/createWorkflow would; with create, store it"
    )
    async def import_document(
        self,
        info: strawberry.Info,
        document: str,
        format: Annotated[
            str, strawberry.argument(description="auto, " + ", ".join(formats.FORMATS))
        ] = "auto",
        backend: Annotated[
            str | None, strawberry.argument(description="the backend the tool's faults run on")
        ] = None,
        agent: Annotated[
            str | None,
            strawberry.argument(description="the agent for host faults and command probes"),
        ] = None,
        create: bool = False,
    ) -> ImportResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            done = imports.run(
                rt, s, a, document, format, formats.Options(backend, agent), store=create
            )
            result = done.imported
            return Outcome(
                ImportedDocument(
                    kind=result.kind,
                    source=result.source,
                    document=result.document,
                    yaml=formats.dump(result.document),
                    notes=[ImportNote(path=n.path, why=n.why) for n in result.notes],
                    created=done.created,
                ),
                subject=str(result.document.get("name") or result.kind),
            )

        audited = {"format": format, "backend": backend, "agent": agent, "create": create}
        return await mutate(info, "importDocument", "operator", audited, fn)
