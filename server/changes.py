"""The change feed: committed changes in commit order, never skipping one.

A writing transaction collects its changes in a :class:`ChangeSet` and, as the
very last statement before COMMIT, :meth:`ChangeSet.publish` locks the single
``changes`` counter row (``SELECT ... FOR UPDATE``), takes the next sequence
numbers and inserts its ``change_log`` rows.  The lock is held until commit, so
no later transaction can take a sequence number before this one is committed:
sequence order is commit order, and a reader that has seen sequence ``n`` has
seen every change numbered below ``n``.  (SQLite serializes writers anyway.)

Readers first read the counter (the highest committed number), then the rows up
to it, so a page never ends past a number still being written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, Select, Text, cast, func, select
from sqlalchemy.orm import Session

from server.db import upsert_insert
from server.models import ChangeLog, Counter
from sync.protocol import Change, ChangeEntity, ChangeOp, ChangePage

FEED_COUNTER: Final = "changes"


def _ensure_counter(session: Session, name: str) -> None:
    session.execute(
        upsert_insert(session, Counter).values(name=name, value=0).on_conflict_do_nothing()
    )


def take(session: Session, name: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive numbers of counter ``name``; returns the first.

    The counter row stays locked until the transaction ends.
    """
    _ensure_counter(session, name)
    counter = session.scalars(
        select(Counter)
        .where(Counter.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)  # the value the last holder committed
    ).one()
    first = counter.value + 1
    counter.value += count
    session.flush()
    return first


#: A change's data, or how to compute it when the transaction publishes its changes.
ChangeData = dict[str, Any] | Callable[[], dict[str, Any]] | None


@dataclass
class PendingChange:
    entity: ChangeEntity
    entity_id: int
    op: ChangeOp
    team_id: int | None
    data: ChangeData


@dataclass
class ChangeSet:
    """Changes made by one transaction, published at its end."""

    pending: list[PendingChange] = field(default_factory=list)

    def add(
        self,
        entity: ChangeEntity,
        entity_id: int,
        data: ChangeData,
        *,
        team_id: int | None,
        op: ChangeOp = "upsert",
    ) -> None:
        """Queue a change; ``data`` may be a function, called once at :meth:`publish`.

        A function suits an entity that later writes of the same transaction may
        change again (a ticket several commands of one push touch): only its last
        state is published, so only that one is computed.
        """
        self.pending.append(PendingChange(entity, entity_id, op, team_id, data))

    def publish(self, session: Session, now: dt.datetime) -> None:
        """Number and store the changes: call last, just before commit."""
        if not self.pending:
            return
        # an entity changed twice in one transaction is published once, as it ends up
        seen: set[tuple[str, int, str, int | None]] = set()
        kept: list[PendingChange] = []
        for change in reversed(self.pending):
            key = (change.entity, change.entity_id, change.op, change.team_id)
            if key not in seen:
                seen.add(key)
                kept.append(change)
        self.pending = kept[::-1]
        for change in self.pending:  # before the counter is locked: others wait on it
            if callable(change.data):
                change.data = change.data()
        session.flush()
        first = take(session, FEED_COUNTER, len(self.pending))
        session.add_all(
            ChangeLog(
                seq=first + offset,
                entity=change.entity,
                entity_id=change.entity_id,
                op=change.op,
                team_id=change.team_id,
                data=change.data,
                at=now,
            )
            for offset, change in enumerate(self.pending)
        )
        session.flush()
        self.pending.clear()


class CursorError(ValueError):
    """A cursor this server never handed out."""


def parse_cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit() or len(cursor) > 19:
        raise CursorError(cursor)
    return int(cursor)


@dataclass(frozen=True)
class _Page:
    rows: list[Any]  # (seq, entity, id, op, data as JSON text) rows
    next_seq: int
    has_more: bool
    estimate: int


def high_water() -> Select[int]:
    """The query of the highest committed sequence number (no row: nothing published yet)."""
    return select(Counter.value).where(Counter.name == FEED_COUNTER)


def _read_rows(
    session: Session | Connection,
    after: int,
    limit: int,
    team_ids: list[int] | None,
    high: int | None = None,
) -> _Page:
    if high is None:
        high = session.scalar(high_water()) or 0
    if after > high:
        raise CursorError(str(after))
    if after == high:  # nothing new (most polls): no query at all
        return _Page([], high, False, 0)
    # ``data`` as the JSON text it is stored as: parsed by nobody, sent as it is
    query = select(
        ChangeLog.seq,
        ChangeLog.entity,
        ChangeLog.entity_id,
        ChangeLog.op,
        cast(ChangeLog.data, Text),
    ).where(ChangeLog.seq > after, ChangeLog.seq <= high)
    if team_ids is not None:
        # an expression, not the bare column: the planner must walk the sequence range
        # (a few rows for a delta pull), not every change of the team through its index
        query = query.where(func.coalesce(ChangeLog.team_id, 0).in_([0, *team_ids]))
    rows: list[Any] = list(session.execute(query.order_by(ChangeLog.seq).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_seq = rows[-1][0] if has_more else high
    return _Page(rows, next_seq, has_more, max(0, high - next_seq))


def read_page(session: Session, after: int, limit: int, team_ids: list[int] | None) -> ChangePage:
    """Changes after sequence ``after`` visible to ``team_ids`` (``None``: all)."""
    page = _read_rows(session, after, limit, team_ids)
    return ChangePage(
        changes=[
            Change(
                seq=seq,
                cursor=str(seq),
                entity=entity,
                id=entity_id,
                op=op,
                data=None if data is None else json.loads(data),
            )
            for seq, entity, entity_id, op, data in page.rows
        ],
        next_cursor=str(page.next_seq),
        has_more=page.has_more,
        estimate=page.estimate,
    )


def read_page_json(
    session: Session | Connection,
    after: int,
    limit: int,
    team_ids: list[int] | None,
    *,
    high: int | None = None,
) -> bytes:
    """:func:`read_page` as the JSON of a :class:`ChangePage`, built without parsing ``data``.

    The initial sync of a large queue is mostly this: the stored JSON of each
    change goes out as it is, instead of being parsed, validated and dumped again.
    A plain :class:`~sqlalchemy.engine.Connection` spares the ORM's work a poll;
    ``high``, when the caller already read it (:func:`high_water`), spares a query.
    """
    page = _read_rows(session, after, limit, team_ids, high)
    dumps = json.dumps
    changes = ",".join(
        f'{{"seq":{seq},"cursor":"{seq}","entity":{dumps(entity)},"id":{entity_id},'
        f'"op":{dumps(op)},"data":{"null" if data is None else data}}}'
        for seq, entity, entity_id, op, data in page.rows
    )
    more = "true" if page.has_more else "false"
    return (
        f'{{"changes":[{changes}],"next_cursor":"{page.next_seq}",'
        f'"has_more":{more},"estimate":{page.estimate}}}'
    ).encode()
