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
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.models import ChangeLog, Counter
from sync.protocol import Change, ChangeEntity, ChangeOp, ChangePage

FEED_COUNTER: Final = "changes"


def _ensure_counter(session: Session, name: str) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            postgresql.insert(Counter).values(name=name, value=0).on_conflict_do_nothing()
        )
    elif dialect == "sqlite":
        session.execute(sqlite.insert(Counter).values(name=name, value=0).on_conflict_do_nothing())
    elif session.get(Counter, name) is None:  # pragma: no cover - other databases
        session.add(Counter(name=name, value=0))
        session.flush()


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


@dataclass
class PendingChange:
    entity: ChangeEntity
    entity_id: int
    op: ChangeOp
    team_id: int | None
    data: dict[str, Any] | None


@dataclass
class ChangeSet:
    """Changes made by one transaction, published at its end."""

    pending: list[PendingChange] = field(default_factory=list)

    def add(
        self,
        entity: ChangeEntity,
        entity_id: int,
        data: dict[str, Any] | None,
        *,
        team_id: int | None,
        op: ChangeOp = "upsert",
    ) -> None:
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


def read_page(session: Session, after: int, limit: int, team_ids: list[int] | None) -> ChangePage:
    """Changes after sequence ``after`` visible to ``team_ids`` (``None``: all)."""
    high = session.scalar(select(Counter.value).where(Counter.name == FEED_COUNTER)) or 0
    if after > high:
        raise CursorError(str(after))
    query = select(ChangeLog).where(ChangeLog.seq > after, ChangeLog.seq <= high)
    if team_ids is not None:
        query = query.where(or_(ChangeLog.team_id.is_(None), ChangeLog.team_id.in_(team_ids)))
    rows = list(session.scalars(query.order_by(ChangeLog.seq).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_seq = rows[-1].seq if has_more else high
    return ChangePage(
        changes=[
            Change(
                seq=row.seq,
                cursor=str(row.seq),
                entity=row.entity,
                id=row.entity_id,
                op=row.op,
                data=row.data,
            )
            for row in rows
        ],
        next_cursor=str(next_seq),
        has_more=has_more,
        estimate=max(0, high - next_seq),
    )
