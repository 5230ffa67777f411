"""The public GraphQL API is exactly tests/data/schema.graphql: every type, field, argument,
default and description. The file is the schema printed in sorted order, so the domain
modules may be arranged freely; a change to the API itself fails here until the file is
updated on purpose, with

    PYTHONPATH=. python tests/test_api_schema_shape.py

and the diff of tests/data/schema.graphql shows the change in review."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import strawberry
from graphql import build_schema as parse_sdl
from graphql import lexicographic_sort_schema, print_schema

from chaoshub.api.schema import build_schema, compose
from chaoshub.config import Settings

SCHEMA_FILE = Path(__file__).parent / "data" / "schema.graphql"


def sorted_sdl(data_dir: Path) -> str:
    settings = Settings(
        data_dir=data_dir, database_url="sqlite://", broker_url="memory://", bus_url="local"
    )
    printed = str(build_schema(settings))
    return print_schema(lexicographic_sort_schema(parse_sdl(printed))) + "\n"


def test_the_schema_is_the_committed_one(tmp_path: Path) -> None:
    assert sorted_sdl(tmp_path) == SCHEMA_FILE.read_text(), (
        "the GraphQL API changed: if on purpose, run "
        "`PYTHONPATH=. python tests/test_api_schema_shape.py` and commit the file"
    )


def test_two_domains_may_not_define_the_same_root_field() -> None:
    @strawberry.type
    class FirstQuery:
        shared: int = 1

    @strawberry.type
    class SecondQuery:
        shared: int = 2

    with pytest.raises(ValueError, match=r"Query\.shared .* FirstQuery and SecondQuery"):
        compose("Query", (FirstQuery, SecondQuery))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as data_dir:
        SCHEMA_FILE.write_text(sorted_sdl(Path(data_dir)))
    print(f"wrote {SCHEMA_FILE}", file=sys.stderr)
