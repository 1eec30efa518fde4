"""Pages of the change feed built by hand, change by change, as the server would send them.

The demo fills a cache through the same path as a sync (a page handed to the
store), and tests build the pages their servers would send; both build them
here, so a change to :class:`~protocol.Change` or :class:`~protocol.ChangePage`
has one place to follow.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from protocol import Change, ChangePage

__all__ = ["PageBuilder"]


class PageBuilder:
    """Collects changes in commit order and makes a :class:`~protocol.ChangePage` of them.

    Each change takes the next number of ``numbers`` as its sequence number and
    ``f"{cursor_prefix}{number}"`` as its cursor.  Builders that share ``numbers``
    (an :func:`itertools.count`) make pages whose cursors follow each other.
    """

    def __init__(self, *, cursor_prefix: str = "c", numbers: Iterator[int] | None = None) -> None:
        self.cursor_prefix = cursor_prefix
        self._numbers = numbers if numbers is not None else itertools.count(1)
        self.changes: list[Change] = []

    def add(self, entity: str, entity_id: int, data: dict[str, Any] | None) -> Change:
        """The upsert of ``entity_id`` as ``data``, or its deletion when ``data`` is None
        (``pydantic.ValidationError`` for an entity the feed does not know)."""
        seq = next(self._numbers)
        change = Change.model_validate(
            {
                "seq": seq,
                "cursor": f"{self.cursor_prefix}{seq}",
                "entity": entity,
                "id": entity_id,
                "op": "upsert" if data is not None else "delete",
                "data": data,
            }
        )
        self.changes.append(change)
        return change

    def page(self, *, has_more: bool = False, estimate: int = 0) -> ChangePage:
        """The changes so far, as one page (its cursor is the last change's)."""
        cursor = self.changes[-1].cursor if self.changes else f"{self.cursor_prefix}0"
        return ChangePage(
            changes=list(self.changes), next_cursor=cursor, has_more=has_more, estimate=estimate
        )
