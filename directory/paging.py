"""One page of a listing: the API's list answers share the shape `{items, total, page, per_page}`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "total": self.total, "page": self.page, "per_page": self.per_page}


def paginate(query: Any, page: int, per_page: int | None, item: Callable[[Any], dict[str, Any]]) -> Page:
    """Page `page` of an ordered peewee query, each row made an item; `per_page=None` is every row at
    once (the administrators' pages and the CLI, where the lists are short and a cut would go unseen)."""
    if per_page is None:
        items = [item(row) for row in query]
        return Page(items, len(items), 1, max(len(items), 1))
    return Page([item(row) for row in query.paginate(page, per_page)], query.count(), page, per_page)
