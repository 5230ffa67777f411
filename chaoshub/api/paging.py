"""Relay paging shared by every connection field: the page size a query may ask for, and one
page's edges, page info and (only when asked) the filtered total."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import strawberry
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from chaoshub.api.types.common import Edge, PageInfo, encode_cursor
from chaoshub.errors import InvalidInput

N = TypeVar("N")


def page_size(first: int | None) -> int:
    if first is None:
        return 50
    if not 0 < first <= 500:
        raise InvalidInput("first must be between 1 and 500", field=["first"])
    return first


def asks_for(selections: Iterable[Selection], name: str) -> bool:
    """Whether ``name`` is among the selected fields, looking inside fragments."""
    for sel in selections:
        if isinstance(sel, SelectedField) and sel.name == name:
            return True
        if isinstance(sel, FragmentSpread | InlineFragment) and asks_for(sel.selections, name):
            return True
    return False


def paginate(
    s: Session,
    info: strawberry.Info,
    base: Any,
    page: Any,
    first: int | None,
    cursor: Callable[[Any], str],
    build: Callable[[Any], N],
) -> tuple[list[Edge[N]], PageInfo, int]:
    """One page of a Relay connection: its edges, page info and the filtered total.

    The total counts every matching row, so it is counted only when the query asks for
    ``totalCount`` (0 otherwise, never sent).
    """
    size = page_size(first)
    total = 0
    if asks_for(info.selected_fields[0].selections, "totalCount"):
        total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = list(s.scalars(page.limit(size + 1)))
    edges = [Edge(cursor=encode_cursor(cursor(r)), node=build(r)) for r in rows[:size]]
    page_info = PageInfo(
        has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
    )
    return edges, page_info, total


def newest_first(page: Any, model: Any, after: str | None) -> Any:
    """``page`` ordered newest first (created time, then id), after the cursor if given: the
    keyset order of every list that grows (runs, workflow runs)."""
    from chaoshub.api.types.runs import run_cursor

    page = page.order_by(model.created_at.desc(), model.id.desc())
    if after:
        at, row_id = run_cursor(after)
        page = page.where(
            (model.created_at < at) | ((model.created_at == at) & (model.id < row_id))
        )
    return page


def newest_first_cursor(row: Any) -> str:
    """The cursor of a row in :func:`newest_first` order."""
    return f"{row.created_at.isoformat()}|{row.id}"
