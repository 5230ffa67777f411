"""``chaoshub import FILE``: another tool's document (Chaos Mesh, Litmus, Chaos Toolkit) as a
hub document, with what could not be mapped and why; ``--create`` stores it through the API.

Without ``--create`` the mapping and the checks that need no hub run here
(:mod:`chaoshub.formats`): stdout is the hub document, so ``chaoshub import x.yaml > hub.yaml``
gives a file ``chaoshub run`` takes, and the notes are YAML comments above it (or, with
``--output json``, a ``notes`` list beside it). With ``--create`` the hub's
``importDocument`` does the same and also checks the backends and agents it names.

Exit status 0: imported; 2: refused (one line on stderr, ``FILE: field.path: message``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from chaoshub import formats
from chaoshub.cli_documents import UsageProblem, field_path
from chaoshub.cli_hub import Hub
from chaoshub.errors import InvalidInput

IMPORT = """mutation($document: String!, $format: String!, $backend: String, $agent: String) {
  importDocument(document: $document, format: $format, backend: $backend, agent: $agent,
                 create: true) {
    __typename ... on ImportedDocument { kind source document notes { path why } created }
    ... on Error { code message field } } }"""


def render(result: dict[str, Any], output: str) -> str:
    """The document with its notes: YAML with the notes as comments, or one JSON object."""
    if output == "json":
        return json.dumps(result, indent=2) + "\n"
    head = [f"# imported from {result['source']} as a hub {result['kind']}"]
    head += [
        f"# not mapped: {n['path'] + ': ' if n['path'] else ''}{n['why']}" for n in result["notes"]
    ]
    created = result.get("created") or {}
    head += [f"# created {kind} {ident}" for kind, ident in created.items()]
    return "\n".join(head) + "\n" + formats.dump(result["document"])


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", *formats.FORMATS]),
    default="auto",
    show_default=True,
    help="the document's format (auto: told by its apiVersion/kind or its method)",
)
@click.option(
    "--backend", help="the backend the tool's faults run on (default: the adapter's name)"
)
@click.option("--agent", help="the agent that runs host faults and command probes (default: local)")
@click.option("--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--create", is_flag=True, help="store it in the hub (checked against its backends)")
@click.option("--url", envvar="CHAOSHUB_URL", default="http://127.0.0.1:8080", show_default=True)
@click.option("--token", envvar="CHAOSHUB_TOKEN", help="API token (with --create)")
def import_(
    file: Path,
    fmt: str,
    backend: str | None,
    agent: str | None,
    output: str,
    create: bool,
    url: str,
    token: str | None,
) -> None:
    """Turn a Chaos Mesh, Litmus or Chaos Toolkit document into a hub document: print it with
    what was not mapped and why; --create stores it."""
    text = file.read_text(encoding="utf-8")
    if create:
        if not token:
            raise UsageProblem("--create needs --token (or CHAOSHUB_TOKEN)")
        with Hub(url, token) as hub:
            variables = {"document": text, "format": fmt, "backend": backend, "agent": agent}
            result = hub.call(IMPORT, variables)["importDocument"]
        if result.get("__typename") != "ImportedDocument":
            where = field_path(result.get("field"))
            raise UsageProblem(f"{file}: {where + ': ' if where else ''}{result.get('message')}")
    else:
        try:
            imported = formats.import_text(text, fmt, formats.Options(backend, agent))
        except InvalidInput as exc:
            where = field_path(exc.field)
            raise UsageProblem(f"{file}: {where + ': ' if where else ''}{exc.message}") from None
        result = imported.to_dict()
    click.echo(render(result, output), nl=False)


SAVED = """query($id: ID!) {
  experiment(id: $id) { name description faultType backend params selector durationSeconds }
  workflow(id: $id) { document } }"""


def hub_document(value: Any, where: str) -> tuple[str, dict[str, Any]]:
    """(kind, document) of a hub document read from a file: Experiment, Workflow, Schedule,
    or a single fault (no kind, or kind: Run) as an Experiment."""
    if not isinstance(value, dict):
        raise UsageProblem(f"{where}: expected a hub document (a mapping)")
    kind = value.get("kind", "Run")
    if kind == "Run":
        name = Path(where).stem
        return "Experiment", {
            "kind": "Experiment",
            "name": name,
            **{k: v for k, v in value.items() if k != "kind"},
        }
    if kind not in ("Experiment", "Workflow", "Schedule"):
        raise UsageProblem(
            f"{where}: kind: {kind!r} is not a hub document (Experiment, Workflow, Schedule)"
        )
    return str(kind), value


@click.command("export")
@click.argument("source")
@click.option(
    "--to",
    "target",
    type=click.Choice(["hub", "chaos-mesh", "litmus"]),
    required=True,
    help="the format to write",
)
@click.option("--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--url", envvar="CHAOSHUB_URL", default="http://127.0.0.1:8080", show_default=True)
@click.option(
    "--token", envvar="CHAOSHUB_TOKEN", help="API token (for a saved experiment or workflow)"
)
def export_(source: str, target: str, output: str, url: str, token: str | None) -> None:
    """Write a hub experiment or workflow (a saved one's ID, or a hub document FILE) as a Chaos
    Mesh or Litmus document where the tool has an equivalent (else say why not), or as the
    hub's own YAML."""
    from chaoshub.cli_documents import load_yaml
    from chaoshub.formats.export import export

    file = Path(source)
    if file.is_file():
        kind, document = hub_document(load_yaml(file), source)
    else:
        if not token:
            raise UsageProblem(f"{source}: no such file; to export a saved one, give --token")
        with Hub(url, token) as hub:
            found = hub.call(SAVED, {"id": source})
        if found.get("experiment"):
            kind, document = (
                "Experiment",
                {
                    "kind": "Experiment",
                    **{k: v for k, v in found["experiment"].items() if v is not None},
                },
            )
        elif found.get("workflow"):
            kind, document = "Workflow", found["workflow"]["document"]
        else:
            raise UsageProblem(f"{source}: no such file, experiment or workflow")
    try:
        written = export(kind, document, target)
    except InvalidInput as exc:
        where = field_path(exc.field)
        raise UsageProblem(
            f"{source}: cannot write it for {target}: {where + ': ' if where else ''}{exc.message}"
        ) from None
    click.echo(
        json.dumps(written, indent=2) if output == "json" else formats.dump(written),
        nl=output == "json",
    )
