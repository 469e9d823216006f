"""Relay connections: edges with opaque cursors, `pageInfo`, and `totalCount` where it is cheap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from service.read.paging import Page

T = TypeVar("T")
N = TypeVar("N")


@strawberry.type(description="Where a page stands in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    has_previous_page: bool = strawberry.field(description="Whether items precede this page.")
    start_cursor: str | None = strawberry.field(description="The cursor of the page's first item.")
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last item: pass it as `after` for the next page."
    )


@strawberry.type(description="One item of a page, with its cursor.")
class Edge(Generic[N]):
    cursor: str = strawberry.field(description="An opaque position in the list, for `after`.")
    node: N = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list (a Relay connection).")
class Connection(Generic[N]):
    edges: list[Edge[N]] = strawberry.field(description="The page's items, in order.")
    page_info: PageInfo = strawberry.field(description="Where the page stands in its list.")
    total_count: int | None = strawberry.field(
        description="How many items the whole list holds; null where counting would cost more than the page."
    )


def connection(page: Page[T], node: Callable[[T], N]) -> Connection[N]:
    edges = [Edge(cursor=cursor, node=node(item)) for cursor, item in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total,
    )
