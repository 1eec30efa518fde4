"""Writing planned demo tickets: bulk inserts, and their change-feed rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, TypedDict

from sqlalchemy import insert
from sqlalchemy.orm import Session

from protocol import ChangeEntity, CommentOut, HistoryEntryOut, TicketOut
from server import changes as feed
from server.demo.planner import TicketPlan
from server.models import ChangeLog, Comment, Ticket, TicketHistory
from server.ticket_sla import SlaSettings, ticket_sla

_CHUNK: Final = 1000


class _TicketRow(TypedDict):
    tracking_number: str
    subject: str
    description: str
    requester_name: str
    requester_email: str
    organisation_id: int
    priority: str
    severity: str
    status: str
    team_id: int
    assignee_id: int | None
    tags: list[str]
    version: int
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class _CommentRow(TypedDict):
    ticket_id: int
    author_id: int | None
    body: str
    public: bool
    created_at: dt.datetime


class _HistoryRow(TypedDict):
    ticket_id: int
    version: int
    actor_id: int | None
    at: dt.datetime
    field: str
    before: str | None
    after: str | None


#: One change-feed row to be: its entity, id, team and data.
_Change = tuple[ChangeEntity, int, int, dict[str, Any]]


def _insert_returning_ids(
    session: Session,
    model: type[Ticket] | type[Comment] | type[TicketHistory],
    rows: Sequence[Mapping[str, object]],
) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        statement = insert(model).returning(model.id, sort_by_parameter_order=True)
        ids.extend(session.scalars(statement, chunk).all())
    return ids


def _ticket_rows(session: Session, plans: Sequence[TicketPlan]) -> list[_TicketRow]:
    """The tickets' rows, numbered per year of creation in the order of ``plans``."""
    per_year: dict[int, int] = {}
    for plan in plans:
        year = plan.created_at.astimezone(dt.UTC).year
        per_year[year] = per_year.get(year, 0) + 1
    next_number = {
        year: feed.take(session, f"tracking:{year}", count) for year, count in per_year.items()
    }
    rows: list[_TicketRow] = []
    for plan in plans:
        year = plan.created_at.astimezone(dt.UTC).year
        number = next_number[year]
        next_number[year] += 1
        rows.append(
            {
                "tracking_number": f"INC-{year}-{number:06d}",
                "subject": plan.subject,
                "description": plan.description,
                "requester_name": plan.requester_name,
                "requester_email": plan.requester_email,
                "organisation_id": plan.organisation_id,
                "priority": plan.priority,
                "severity": plan.severity,
                "status": plan.status,
                "team_id": plan.team_id,
                "assignee_id": plan.assignee_id,
                "tags": list(plan.tags),
                "version": len(plan.steps),
                "created_by_id": plan.created_by_id,
                "created_at": plan.created_at,
                "updated_at": plan.steps[-1].at,
            }
        )
    return rows


def _comment_rows(ticket_ids: list[int], plans: Sequence[TicketPlan]) -> list[_CommentRow]:
    return [
        {
            "ticket_id": ticket_id,
            "author_id": step.actor_id,
            "body": step.comment[0],
            "public": step.comment[1],
            "created_at": step.at,
        }
        for ticket_id, plan in zip(ticket_ids, plans, strict=True)
        for step in plan.steps
        if step.comment is not None
    ]


def _history_rows(
    ticket_ids: list[int], plans: Sequence[TicketPlan], comment_ids: Iterator[int]
) -> list[_HistoryRow]:
    """Every step's history entries; a step with a comment first records it (its
    id taken from ``comment_ids``, in the order of :func:`_comment_rows`)."""
    rows: list[_HistoryRow] = []
    for ticket_id, plan in zip(ticket_ids, plans, strict=True):
        for version, step in enumerate(plan.steps, start=1):
            entries = list(step.fields)
            if step.comment is not None:
                kind = "reply" if step.comment[1] else "note"
                entries.insert(0, (kind, None, str(next(comment_ids))))
            rows.extend(
                {
                    "ticket_id": ticket_id,
                    "version": version,
                    "actor_id": step.actor_id,
                    "at": step.at,
                    "field": name,
                    "before": before,
                    "after": after,
                }
                for name, before, after in entries
            )
    return rows


def _feed_groups(
    ticket_rows: list[_TicketRow],
    ticket_ids: list[int],
    comments: dict[int, list[tuple[int, _CommentRow]]],
    history: dict[int, list[TicketHistory]],
    settings: SlaSettings,
    now: dt.datetime,
) -> list[list[_Change]]:
    """Per ticket, one group of the feed: the ticket, then its comments, then its history."""
    groups: list[list[_Change]] = []
    for ticket_id, row in zip(ticket_ids, ticket_rows, strict=True):
        entries = history[ticket_id]
        team_id = row["team_id"]
        ticket = TicketOut(id=ticket_id, **row, sla=ticket_sla(entries, settings, now))
        group: list[_Change] = [("ticket", ticket_id, team_id, ticket.model_dump(mode="json"))]
        for comment_id, comment in comments.get(ticket_id, []):
            data = CommentOut.model_validate({"id": comment_id, **comment}).model_dump(mode="json")
            group.append(("comment", comment_id, team_id, data))
        for entry in entries:
            data = HistoryEntryOut.model_validate(entry, from_attributes=True).model_dump(
                mode="json"
            )
            group.append(("history", entry.id, team_id, data))
        groups.append(group)
    return groups


def _write_feed(session: Session, groups: list[list[_Change]], now: dt.datetime) -> int:
    """Number the groups' rows in one take of the feed counter and insert them."""
    count = sum(len(group) for group in groups)
    seq = feed.take(session, feed.FEED_COUNTER, count)
    rows: list[dict[str, object]] = []
    for group in groups:
        end = seq + len(group) - 1 if len(group) > 1 else None
        for entity, entity_id, team_id, data in group:
            rows.append(
                {
                    "entity": entity,
                    "entity_id": entity_id,
                    "op": "upsert",
                    "team_id": team_id,
                    "data": data,
                    "at": now,
                    "seq": seq,
                    "group_end": end,
                }
            )
            seq += 1
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(ChangeLog), rows[start : start + _CHUNK])
    return count


def write_tickets(
    session: Session, plans: Sequence[TicketPlan], settings: SlaSettings, now: dt.datetime
) -> tuple[int, int, int]:
    """Insert the tickets, their comments and history, and their change-feed rows.

    ``plans`` must be oldest first (tracking numbers follow creation order).
    Returns the number of comments, history entries and change-feed rows written.
    """
    if not plans:
        return 0, 0, 0
    ticket_rows = _ticket_rows(session, plans)
    ticket_ids = _insert_returning_ids(session, Ticket, ticket_rows)
    comment_rows = _comment_rows(ticket_ids, plans)
    comment_ids = _insert_returning_ids(session, Comment, comment_rows)
    history_rows = _history_rows(ticket_ids, plans, iter(comment_ids))
    history_ids = _insert_returning_ids(session, TicketHistory, history_rows)

    comments: dict[int, list[tuple[int, _CommentRow]]] = {}
    for comment_id, comment in zip(comment_ids, comment_rows, strict=True):
        comments.setdefault(comment["ticket_id"], []).append((comment_id, comment))
    history: dict[int, list[TicketHistory]] = {}
    for history_id, entry in zip(history_ids, history_rows, strict=True):
        history.setdefault(entry["ticket_id"], []).append(TicketHistory(id=history_id, **entry))
    groups = _feed_groups(ticket_rows, ticket_ids, comments, history, settings, now)
    changes = _write_feed(session, groups, now)
    return len(comment_rows), len(history_rows), changes
