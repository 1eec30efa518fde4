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

from sqlalchemy import Connection, Row, Select, Text, bindparam, cast, func, select, update
from sqlalchemy.orm import Session

from protocol import Change, ChangeEntity, ChangeOp, ChangePage
from server.db import upsert_insert
from server.models import ChangeLog, Counter

FEED_COUNTER: Final = "changes"


def take(session: Session, name: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive numbers of counter ``name``; returns the first.

    One ``UPDATE ... RETURNING``: the counter row stays locked (PostgreSQL's row
    lock, SQLite's write lock) until the transaction ends.
    """
    bump = (
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + count)
        .returning(Counter.value)
    )
    connection = session.connection()  # Core: no ORM object of the counter to keep in step
    last: int | None = connection.execute(bump).scalar_one_or_none()
    if last is None:  # a counter's first use (or first since a concurrent creation)
        connection.execute(
            upsert_insert(session, Counter).values(name=name, value=0).on_conflict_do_nothing()
        )
        last = connection.execute(bump).scalar_one()
    return last - count + 1


#: A change's data, or how to compute it when the transaction publishes its changes.
ChangeData = dict[str, Any] | Callable[[], dict[str, Any]] | None
#: A comment or history entry of a ticket, as published: (entity, id, data).
Child = tuple[ChangeEntity, int, dict[str, Any]]


@dataclass
class PendingChange:
    entity: ChangeEntity
    entity_id: int
    op: ChangeOp
    team_id: int | None
    data: ChangeData


@dataclass
class TicketChanges:
    """What one transaction did to one ticket, published as one group.

    The group reads, in this order: a tombstone for the team whose readers saw
    the ticket before the transaction (only if it left that team), the ticket as
    it ends the transaction, then its comments and history entries.  A reader
    so always holds a ticket before anything of it arrives, and a page of the
    feed never splits the group, so a page that brings version *n* of a ticket
    brings everything version *n* added to it.  A ticket that arrives in a team
    brings everything it has (``everything``): that team's readers never saw it.
    """

    ticket_id: int
    #: the team whose readers hold the ticket as it was before this transaction
    team_before: int | None
    team_id: int | None = None
    data: ChangeData = None
    children: dict[tuple[ChangeEntity, int], dict[str, Any]] = field(default_factory=dict)
    everything: Callable[[], list[Child]] | None = None

    def add_child(self, entity: ChangeEntity, entity_id: int, data: dict[str, Any]) -> None:
        self.children[(entity, entity_id)] = data

    @property
    def moved(self) -> bool:
        return self.team_before is not None and self.team_before != self.team_id

    def rows(self) -> list[PendingChange]:
        """The group's changes, in feed order (call once the transaction's writes are done);
        none when no writer of the transaction changed the ticket."""
        rows: list[PendingChange] = []
        if self.data is None:
            return rows
        if self.moved:
            rows.append(PendingChange("ticket", self.ticket_id, "delete", self.team_before, None))
        ticket = self.data() if callable(self.data) else self.data
        rows.append(PendingChange("ticket", self.ticket_id, "upsert", self.team_id, ticket))
        if self.moved and self.everything is not None:
            children: list[Child] = self.everything()
        else:
            children = [(entity, id_, data) for (entity, id_), data in self.children.items()]
        rows.extend(
            PendingChange(entity, entity_id, "upsert", self.team_id, data)
            for entity, entity_id, data in children
        )
        return rows


@dataclass
class ChangeSet:
    """Changes made by one transaction, published at its end."""

    pending: list[PendingChange | TicketChanges] = field(default_factory=list)
    _tickets: dict[int, TicketChanges] = field(default_factory=dict)

    def add(
        self,
        entity: ChangeEntity,
        entity_id: int,
        data: ChangeData,
        *,
        team_id: int | None,
        op: ChangeOp = "upsert",
    ) -> None:
        """Queue a change of anything but a ticket; ``data`` may be a function, called
        once at :meth:`publish` (only the entity's last state is published)."""
        self.pending.append(PendingChange(entity, entity_id, op, team_id, data))

    def ticket(self, ticket_id: int, *, team_before: int | None) -> TicketChanges:
        """The group of ``ticket_id`` in this transaction; ``team_before`` counts only
        the first time (the team its readers saw it in before the transaction)."""
        group = self._tickets.get(ticket_id)
        if group is None:
            group = self._tickets[ticket_id] = TicketChanges(ticket_id, team_before)
            self.pending.append(group)
        return group

    def publish(self, session: Session, now: dt.datetime) -> None:
        """Number and store the changes: call last, just before commit."""
        if not self.pending:
            return
        # an entity changed twice in one transaction is published once, as it ends up
        seen: set[tuple[str, int, str, int | None]] = set()
        kept: list[PendingChange | TicketChanges] = []
        for item in reversed(self.pending):
            if isinstance(item, PendingChange):
                key = (item.entity, item.entity_id, item.op, item.team_id)
                if key in seen:
                    continue
                seen.add(key)
            kept.append(item)
        # computed before the counter is locked: others wait on it
        groups: list[list[PendingChange]] = []
        for item in reversed(kept):
            if isinstance(item, TicketChanges):
                groups.append(item.rows())
            else:
                if callable(item.data):
                    item.data = item.data()
                groups.append([item])
        self.pending.clear()
        self._tickets.clear()
        groups = [group for group in groups if group]
        if not groups:
            return
        session.flush()
        first = take(session, FEED_COUNTER, sum(len(group) for group in groups))
        seq = first
        records: list[ChangeLog] = []
        for group in groups:
            end = seq + len(group) - 1
            for change in group:
                records.append(
                    ChangeLog(
                        seq=seq,
                        entity=change.entity,
                        entity_id=change.entity_id,
                        op=change.op,
                        team_id=change.team_id,
                        data=change.data,
                        at=now,
                        group_end=end if len(group) > 1 else None,
                    )
                )
                seq += 1
        session.add_all(records)
        session.flush()


class CursorError(ValueError):
    """A cursor this server never handed out."""


def parse_cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit() or len(cursor) > 19:
        raise CursorError(cursor)
    return int(cursor)


#: A change as a page reads it: seq, entity, id, op, data as JSON text, group end.
_FeedRow = Row[int, str, int, str, str, int | None]


@dataclass(frozen=True)
class _Page:
    rows: list[_FeedRow]
    next_seq: int
    has_more: bool
    estimate: int


def high_water() -> Select[int]:
    """The query of the highest committed sequence number (no row: nothing published yet)."""
    return select(Counter.value).where(Counter.name == FEED_COUNTER)


def _rows_query(
    *, teams: bool, rest_of_group: bool = False
) -> Select[int, str, int, str, str, int | None]:
    # ``data`` as the JSON text it is stored as: parsed by nobody, sent as it is
    query = select(
        ChangeLog.seq,
        ChangeLog.entity,
        ChangeLog.entity_id,
        ChangeLog.op,
        cast(ChangeLog.data, Text),
        ChangeLog.group_end,
    ).where(ChangeLog.seq > bindparam("after"), ChangeLog.seq <= bindparam("high"))
    if teams:
        # an expression, not the bare column: the planner must walk the sequence range
        # (a few rows for a delta pull), not every change of the team through its index
        query = query.where(
            func.coalesce(ChangeLog.team_id, 0).in_(bindparam("teams", expanding=True))
        )
    query = query.order_by(ChangeLog.seq)
    return query if rest_of_group else query.limit(bindparam("limit"))


#: rows read past a page's limit, so that it can end with the group it ends in
_GROUP_SLACK: Final = 64

# built once: a poll only binds its parameters
_ALL_ROWS: Final = _rows_query(teams=False)
_TEAM_ROWS: Final = _rows_query(teams=True)
_ALL_REST: Final = _rows_query(teams=False, rest_of_group=True)
_TEAM_REST: Final = _rows_query(teams=True, rest_of_group=True)


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
    # a few rows past the limit: a page that would end inside a group (a ticket and what
    # came with it) ends with it, nearly always without another query
    fetched = limit + _GROUP_SLACK + 1
    parameters: dict[str, int | list[int]] = {"after": after, "high": high, "limit": fetched}
    if team_ids is not None:
        parameters["teams"] = [0, *team_ids]
    rows = list(session.execute(_ALL_ROWS if team_ids is None else _TEAM_ROWS, parameters))
    cut = min(limit, len(rows))
    end = (rows[cut - 1][5] or 0) if rows else 0
    while cut < len(rows) and rows[cut][0] <= end:
        cut += 1
    if cut == fetched and rows[-1][0] < min(end, high):  # a group longer than the slack
        parameters |= {"after": rows[-1][0], "high": min(high, end)}
        rows += session.execute(_ALL_REST if team_ids is None else _TEAM_REST, parameters)
        cut = len(rows)
    has_more = cut < len(rows) or (len(rows) >= fetched and rows[-1][0] < high)
    rows = rows[:cut]
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
            for seq, entity, entity_id, op, data, _group_end in page.rows
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
        for seq, entity, entity_id, op, data, _group_end in page.rows
    )
    more = "true" if page.has_more else "false"
    return (
        f'{{"changes":[{changes}],"next_cursor":"{page.next_seq}",'
        f'"has_more":{more},"estimate":{page.estimate}}}'
    ).encode()
