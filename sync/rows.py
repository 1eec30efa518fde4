"""Server rows into cache rows, and the bulk upserts that store them.

The ``*_row`` functions map the wire schemas (:mod:`protocol`) onto the cache's
tables (:mod:`sync.schema`); pulls, conflicts and rebases all store rows made
here.  :func:`upsert` writes many rows in one ``INSERT … ON CONFLICT DO
UPDATE`` through the driver's ``executemany``: an initial sync stores some
55,000 rows a second this way, so nothing here may add work a row.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic_core import to_json
from sqlalchemy import JSON, Connection, Dialect

from protocol import CommentOut, HistoryEntryOut, OrganisationOut, TeamOut, TicketOut, UserOut
from sync import schema

__all__ = [
    "announcement_row",
    "article_row",
    "comment_row",
    "compact_json",
    "history_row",
    "instant",
    "organisation_row",
    "team_row",
    "ticket_row",
    "upsert",
    "upsert_tickets",
    "user_row",
]


def compact_json(value: Any) -> str:
    """JSON without spaces, accents as they are (pydantic-core's encoder: a quarter of the
    standard library's time, which counts when a sync stores 100,000 server rows)."""
    return to_json(value).decode()


def instant(value: Any) -> dt.datetime | None:
    """``value`` (an aware datetime, ISO 8601 text or None) as an aware datetime;
    text without an offset is read as UTC."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


# -- server rows -> table rows (shared by pulls, conflicts and rebases) ------------------


def ticket_row(ticket: TicketOut, raw: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "tracking_number": ticket.tracking_number,
        "subject": ticket.subject,
        "description": ticket.description,
        "requester_name": ticket.requester_name,
        "requester_email": ticket.requester_email,
        "organisation_id": ticket.organisation_id,
        "priority": ticket.priority.value,
        "severity": ticket.severity.value,
        "status": ticket.status.value,
        "team_id": ticket.team_id,
        "assignee_id": ticket.assignee_id,
        "tags": list(ticket.tags),
        "version": ticket.version,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "server_row": raw if raw is not None else ticket.model_dump(mode="json"),
    }


def comment_row(comment: CommentOut) -> dict[str, Any]:
    return {
        "server_id": comment.id,
        "ticket_id": comment.ticket_id,
        "author_id": comment.author_id,
        "body": comment.body,
        "public": comment.public,
        "created_at": comment.created_at,
        "mutation_id": None,
    }


def history_row(entry: HistoryEntryOut) -> dict[str, Any]:
    return {
        "server_id": entry.id,
        "ticket_id": entry.ticket_id,
        "version": entry.version,
        "actor_id": entry.actor_id,
        "at": entry.at,
        "field": entry.field,
        "before": entry.before,
        "after": entry.after,
        "mutation_id": None,
    }


def user_row(user: UserOut, raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role.value,
        "active": user.active,
        "team_ids": list(user.team_ids),
        "server_row": raw,
    }


def team_row(team: TeamOut, raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": team.id,
        "name": team.name,
        "member_ids": list(team.member_ids),
        "server_row": raw,
    }


def organisation_row(organisation: OrganisationOut, raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": organisation.id,
        "name": organisation.name,
        "plan": organisation.plan.value,
        "server_row": raw,
    }


def announcement_row(item: dict[str, Any]) -> dict[str, Any]:
    """A cache row for an announcement; one ended early stops at ``ended_at``."""
    ends_at = instant(item.get("ends_at"))
    ended_at = instant(item.get("ended_at"))
    if ended_at is not None and (ends_at is None or ended_at < ends_at):
        ends_at = ended_at
    return {
        "id": int(item["id"]),
        "title": str(item["title"]),
        "body": str(item.get("body", "")),
        "starts_at": instant(item.get("starts_at")),
        "ends_at": ends_at,
        "server_row": item,
    }


def article_row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(item["id"]),
        "title": str(item["title"]),
        "body": str(item.get("body", "")),
        "tags": [str(tag) for tag in item.get("tags", [])],
        "updated_at": instant(item.get("updated_at")),
        "server_row": item,
    }


@dataclass(frozen=True, slots=True)
class _UpsertPlan:
    """``INSERT … ON CONFLICT DO UPDATE`` of some columns, and how to bind their values."""

    sql: str
    #: a row's values, in the statement's order
    values: Callable[[dict[str, Any]], Sequence[Any]]
    #: (position, bind processor) of the values that need one (JSON text, UTC instants…)
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        values, processed = self.values, self.processed
        parameters: list[tuple[Any, ...]] = []
        for row in rows:
            bound = list(values(row))
            for position, process in processed:
                bound[position] = process(bound[position])
            parameters.append(tuple(bound))
        return parameters


@functools.lru_cache(maxsize=64)
def _upsert_plan(
    dialect: Dialect, table_name: str, columns: tuple[str, ...], key: tuple[str, ...]
) -> _UpsertPlan:
    table = schema.metadata.tables[table_name]
    quote = dialect.identifier_preparer.quote
    updated = [name for name in columns if name not in key]
    action = (
        "DO UPDATE SET " + ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in updated)
        if updated
        else "DO NOTHING"
    )
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in columns)})"
        f" VALUES ({', '.join('?' for _ in columns)})"
        f" ON CONFLICT ({', '.join(quote(n) for n in key)}) {action}"
    )
    getter = operator.itemgetter(*columns)
    values = getter if len(columns) > 1 else (lambda row: (getter(row),))
    processed = tuple(
        (position, process)
        for position, name in enumerate(columns)
        if (process := _bind_processor(table.c[name].type, dialect)) is not None
    )
    return _UpsertPlan(sql, values, processed)


def _json_text(value: Any) -> str | None:
    return None if value is None else compact_json(value)


def _bind_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's own conversion; for our instants and JSON, the very function
    (not wrapped in SQLAlchemy's layers: it runs for every value of a page)."""
    if isinstance(type_, schema.UTCDateTime):
        return schema.utc_text
    if isinstance(type_, JSON) and type_.none_as_null and dialect.name == "sqlite":
        return _json_text
    processor: Callable[[Any], Any] | None = type_.bind_processor(dialect)
    return processor


def upsert(
    connection: Connection,
    table: Any,
    rows: Sequence[dict[str, Any]],
    key: str | tuple[str, ...] = "id",
) -> None:
    """Insert ``rows`` into ``table``, replacing the ones whose ``key`` exists: one statement.

    ``INSERT … ON CONFLICT (key) DO UPDATE``, written once per table and columns; the
    values go through the column types' own bind processors (the ones Core would use)
    straight to the driver's ``executemany``: Core's per-row parameter handling cost
    more than SQLite's own work on a page of the feed.
    """
    if not rows:
        return
    keys = (key,) if isinstance(key, str) else key
    plan = _upsert_plan(connection.dialect, table.name, tuple(rows[0]), keys)
    connection.exec_driver_sql(plan.sql, plan.parameters(rows))


_EXISTING_TICKETS: Final = "SELECT id FROM tickets WHERE id IN (SELECT value FROM json_each(?))"
_INDEX_TICKETS: Final = (
    f"INSERT INTO {schema.FTS_TABLE} (rowid, subject, description, comments)"
    " SELECT t.id, t.subject, t.description,"
    " coalesce((SELECT group_concat(body, ' ') FROM comments WHERE ticket_id = t.id), '')"
    " FROM tickets AS t WHERE t.id IN (SELECT value FROM json_each(?))"
)


def upsert_tickets(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """:func:`upsert` of ticket rows, the full-text rows of the new ones written in one
    statement rather than by the insert trigger a row (half the cost: migration 0003).

    The trigger is deferred only between two writes of this transaction, so whatever
    happens, a commit never leaves it deferred.
    """
    if not rows:
        return
    ids = [row["id"] for row in rows]
    existing = set(connection.exec_driver_sql(_EXISTING_TICKETS, (compact_json(ids),)).scalars())
    new = [ticket_id for ticket_id in ids if ticket_id not in existing]
    deferred = bool(new) and (
        connection.exec_driver_sql("UPDATE sync_state SET search_deferred = 1").rowcount == 1
    )
    try:
        upsert(connection, schema.tickets, rows)
    finally:
        if deferred:
            connection.exec_driver_sql("UPDATE sync_state SET search_deferred = 0")
    if deferred:
        connection.exec_driver_sql(_INDEX_TICKETS, (compact_json(new),))
