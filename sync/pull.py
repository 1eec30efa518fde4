"""What a pull brings, stored: pages of the change feed and tickets asked for whole.

A page is validated whole first (:func:`read_page`): a malformed one raises
:class:`MalformedPageError` before anything is written.  :func:`store_page`
then, in the caller's transaction, upserts its rows in bulk, keeps aside the
comments and history entries of tickets not held yet (until the ticket comes,
or the server says it is not ours to see), drops the tickets of teams the user
no longer sees, drops the commands the server state now includes, rebases the
tickets with queued work, and moves the cursor.  :class:`sync.store.Store`
runs both (:meth:`~sync.store.Store.apply_page`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Connection, delete, func, select, update

from i18n import N_, gettext
from protocol import (
    AnnouncementOut,
    ArticleOut,
    ChangePage,
    CommentOut,
    HistoryEntryOut,
    OrganisationOut,
    Role,
    TeamOut,
    TicketDetailOut,
    TicketOut,
    UserOut,
)
from sync import schema
from sync.changes import Changes
from sync.outbox import chunks, drop_acknowledged, rebase, tickets_with_work
from sync.rows import (
    announcement_row,
    article_row,
    comment_row,
    history_row,
    organisation_row,
    team_row,
    ticket_row,
    upsert,
    upsert_tickets,
    user_row,
)

__all__ = [
    "AccessWatch",
    "MalformedPageError",
    "PageResult",
    "PageRows",
    "read_page",
    "store_page",
    "store_ticket",
]

_MALFORMED = N_("The server sent data that could not be understood; nothing was changed.")

_DIRECTORY = frozenset({"user", "team", "organisation"})


class MalformedPageError(ValueError):
    """A page of the change feed failed validation: it was rejected whole."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def message(self) -> str:
        return gettext(_MALFORMED)


@dataclass(slots=True)
class PageResult:
    """What one page of the feed did to the cache."""

    upserted: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    #: comments or history entries of a ticket not held (yet): kept aside until it comes
    parked: int = 0
    #: queued commands the server state now includes, dropped from the outbox
    acknowledged: int = 0
    rebased_tickets: int = 0
    cursor: str = ""
    #: tickets dropped because the user no longer sees their team
    out_of_sight: int = 0
    #: the user now sees a team they did not: the feed must be read again from the start
    reread: bool = False
    #: what storing the page changed, as published to the store's subscribers
    changes: Changes = field(default_factory=Changes)


@dataclass(slots=True)
class PageRows:
    """A page's entities, validated, by kind (raw server rows kept beside the models)."""

    tickets: list[tuple[TicketOut, dict[str, Any]]] = field(default_factory=list)
    comments: list[CommentOut] = field(default_factory=list)
    history: list[HistoryEntryOut] = field(default_factory=list)
    users: list[tuple[UserOut, dict[str, Any]]] = field(default_factory=list)
    teams: list[tuple[TeamOut, dict[str, Any]]] = field(default_factory=list)
    organisations: list[tuple[OrganisationOut, dict[str, Any]]] = field(default_factory=list)
    announcements: list[dict[str, Any]] = field(default_factory=list)
    articles: list[dict[str, Any]] = field(default_factory=list)
    deletes: dict[str, list[int]] = field(default_factory=dict)

    def add(self, entity: str, entity_id: int, data: dict[str, Any]) -> None:
        found: int
        if entity == "ticket":
            ticket = TicketOut.model_validate(data)
            self.tickets.append((ticket, data))
            found = ticket.id
        elif entity == "comment":
            comment = CommentOut.model_validate(data)
            self.comments.append(comment)
            found = comment.id
        elif entity == "history":
            entry = HistoryEntryOut.model_validate(data)
            self.history.append(entry)
            found = entry.id
        elif entity == "user":
            user = UserOut.model_validate(data)
            self.users.append((user, data))
            found = user.id
        elif entity == "team":
            team = TeamOut.model_validate(data)
            self.teams.append((team, data))
            found = team.id
        elif entity == "organisation":
            organisation = OrganisationOut.model_validate(data)
            self.organisations.append((organisation, data))
            found = organisation.id
        elif entity == "announcement":
            found = AnnouncementOut.model_validate(data).id
            self.announcements.append(data)
        elif entity == "article":
            found = ArticleOut.model_validate(data).id
            self.articles.append(data)
        else:
            raise ValueError(f"unknown entity {entity!r}")
        if found != entity_id:
            raise ValueError(f"the {entity} change {entity_id} carries the id {found}")


@dataclass(slots=True)
class AccessWatch:
    """Whether the signed-in user's own record came with the feed since its end was
    last reached (the tickets they may see are then known again at the end)."""

    changed: bool = False


def read_page(page: ChangePage) -> PageRows:
    """The page's latest change of each entity, validated (:class:`MalformedPageError`)."""
    latest: dict[tuple[str, int], dict[str, Any] | None] = {}
    for change in page.changes:  # the feed is in commit order: the last change wins
        latest.pop((change.entity, change.id), None)
        latest[(change.entity, change.id)] = change.data if change.op == "upsert" else None
    rows = PageRows()
    try:
        for (entity, entity_id), data in latest.items():
            if data is None:
                rows.deletes.setdefault(entity, []).append(entity_id)
            else:
                rows.add(entity, entity_id, data)
    except (ValidationError, ValueError) as error:
        raise MalformedPageError(str(error)) from error
    return rows


def _teams_seen(role: str, team_ids: Iterable[int]) -> set[int] | None:
    """The teams whose tickets a user sees (None: every team, an admin)."""
    return None if role == Role.ADMIN else set(team_ids)


def store_page(
    connection: Connection,
    page: ChangePage,
    rows: PageRows,
    *,
    user_id: int | None,
    access: AccessWatch,
) -> PageResult:
    """Store ``rows`` (read from ``page``) and the page's cursor, on ``connection``."""
    result = PageResult(cursor=page.next_cursor)
    touched = set(rows.deletes.get("ticket", []))
    touched.update(ticket.id for ticket, _raw in rows.tickets)
    touched.update(comment.ticket_id for comment in rows.comments)
    touched.update(entry.ticket_id for entry in rows.history)

    with_work = tickets_with_work(connection, touched)
    me = next((m for m, _raw in rows.users if m.id == user_id), None)
    before = None if me is None else _cached_user(connection, user_id)
    upsert_tickets(connection, [ticket_row(m, raw) for m, raw in rows.tickets])
    upsert(connection, schema.users, [user_row(m, raw) for m, raw in rows.users])
    upsert(connection, schema.teams, [team_row(m, raw) for m, raw in rows.teams])
    upsert(
        connection,
        schema.organisations,
        [organisation_row(m, raw) for m, raw in rows.organisations],
    )
    upsert(connection, schema.announcements, [announcement_row(a) for a in rows.announcements])
    upsert(connection, schema.articles, [article_row(a) for a in rows.articles])
    stored = {ticket.id for ticket, _raw in rows.tickets}  # no need to look them up
    parents = {m.ticket_id for m in rows.comments} | {m.ticket_id for m in rows.history}
    cached = stored | _existing_tickets(connection, parents - stored)
    # rows kept aside by an earlier page go first: this page's are newer
    early_comments, early_history = _unpark(connection, stored)
    comments = [comment_row(m) for m in (*early_comments, *rows.comments)]
    history = [history_row(m) for m in (*early_history, *rows.history)]
    kept_comments = [row for row in comments if row["ticket_id"] in cached]
    kept_history = [row for row in history if row["ticket_id"] in cached]
    parked = [
        {
            "entity": entity,
            "server_id": m.id,
            "ticket_id": m.ticket_id,
            "data": m.model_dump(mode="json"),
        }
        for entity, models in (
            ("comment", rows.comments),
            ("history", rows.history),
        )
        for m in cast(list[CommentOut | HistoryEntryOut], models)
        if m.ticket_id not in cached
    ]
    upsert(connection, schema.parked, parked, key=("entity", "server_id"))
    result.parked = len(parked)
    upsert(connection, schema.comments, kept_comments, key="server_id")
    upsert(connection, schema.ticket_history, kept_history, key="server_id")
    changed = stored | (parents & cached) | set(rows.deletes.get("ticket", ()))
    changed.update(_parents_of_deleted(connection, rows.deletes))
    for entity, table, key in (
        ("ticket", schema.tickets, "id"),
        ("comment", schema.comments, "server_id"),
        ("history", schema.ticket_history, "server_id"),
        ("user", schema.users, "id"),
        ("team", schema.teams, "id"),
        ("organisation", schema.organisations, "id"),
        ("announcement", schema.announcements, "id"),
        ("article", schema.articles, "id"),
    ):
        gone = rows.deletes.get(entity, [])
        if gone:
            connection.execute(delete(table).where(table.c[key].in_(gone)))
            result.deleted[entity] = len(gone)
            if entity == "ticket":  # what was kept for it: it comes back whole
                p = schema.parked.c
                connection.execute(delete(schema.parked).where(p.ticket_id.in_(gone)))
    result.upserted = {
        "ticket": len(rows.tickets),
        "comment": len(kept_comments),
        "history": len(kept_history),
        "user": len(rows.users),
        "team": len(rows.teams),
        "organisation": len(rows.organisations),
        "announcement": len(rows.announcements),
        "article": len(rows.articles),
    }
    if me is not None:
        access.changed = True
        seen_before = None if before is None else _teams_seen(*before)
        if seen_before is not None:  # a team gained: its past is not in our feed
            seen = _teams_seen(me.role, me.team_ids)
            result.reread = seen is None or bool(seen - seen_before)
    if access.changed and not page.has_more:
        # at the end of the feed only: the cached record of the user is the latest
        # then (a page in the middle may hold an old one, and dropping by it would
        # lose tickets a later record shows again)
        access.changed = False
        # (this page's record of the user is the one just cached: not read back)
        user = (me.role, me.team_ids) if me is not None else _cached_user(connection, user_id)
        if user is not None:
            gone_ids = _drop_out_of_sight(connection, _teams_seen(*user))
            result.out_of_sight = len(gone_ids)
            changed |= gone_ids
            with_work |= tickets_with_work(connection, gone_ids)
    result.acknowledged = len(drop_acknowledged(connection, with_work))
    rebase(connection, with_work, user_id)
    result.rebased_tickets = len(with_work)
    connection.execute(update(schema.sync_state).values(cursor=page.next_cursor))
    result.changes = Changes(
        tickets=frozenset(changed | with_work),
        outbox=result.acknowledged > 0,
        directory=any(result.upserted[kind] or result.deleted.get(kind) for kind in _DIRECTORY),
        announcements=bool(result.upserted["announcement"] or result.deleted.get("announcement")),
        articles=bool(result.upserted["article"] or result.deleted.get("article")),
    )
    return result


def store_ticket(
    connection: Connection, ticket: TicketDetailOut, *, user_id: int | None
) -> Changes:
    """Keep a ticket the server sent whole (with its comments and history), as the
    feed would have brought it, unless the cache already holds a newer version."""
    raw = ticket.model_dump(mode="json", exclude={"comments", "history"})
    cached = connection.execute(
        select(schema.tickets.c.version).where(schema.tickets.c.id == ticket.id)
    ).scalar_one_or_none()
    if cached is None or cached <= ticket.version:
        upsert_tickets(connection, [ticket_row(ticket, raw)])
    _unpark(connection, {ticket.id})
    upsert(connection, schema.comments, [comment_row(m) for m in ticket.comments], "server_id")
    upsert(
        connection,
        schema.ticket_history,
        [history_row(m) for m in ticket.history],
        "server_id",
    )
    with_work = tickets_with_work(connection, {ticket.id})
    dropped = drop_acknowledged(connection, with_work)
    rebase(connection, with_work, user_id)
    return Changes.of_tickets({ticket.id}, outbox=bool(dropped))


def _unpark(
    connection: Connection, ticket_ids: set[int]
) -> tuple[list[CommentOut], list[HistoryEntryOut]]:
    """Take out the parked rows of ``ticket_ids`` (tickets that have just come)."""
    p = schema.parked.c
    comments: list[CommentOut] = []
    history: list[HistoryEntryOut] = []
    if not ticket_ids or connection.execute(select(p.ticket_id).limit(1)).first() is None:
        return comments, history  # nearly always: nothing is parked
    for chunk in chunks(ticket_ids):
        for entity, data in connection.execute(
            select(p.entity, p.data).where(p.ticket_id.in_(chunk))
        ):
            if entity == "comment":
                comments.append(CommentOut.model_validate(data))
            else:
                history.append(HistoryEntryOut.model_validate(data))
        connection.execute(delete(schema.parked).where(p.ticket_id.in_(chunk)))
    return comments, history


def _parents_of_deleted(connection: Connection, deletes: dict[str, list[int]]) -> set[int]:
    """The tickets of the comments and history entries about to be deleted."""
    found: set[int] = set()
    for entity, table in (("comment", schema.comments), ("history", schema.ticket_history)):
        for chunk in chunks(deletes.get(entity, ())):
            found.update(
                connection.execute(
                    select(table.c.ticket_id).where(table.c.server_id.in_(chunk)).distinct()
                ).scalars()
            )
    return found


def _cached_user(connection: Connection, user_id: int | None) -> tuple[str, list[int]] | None:
    """The role and teams of the cached record of user ``user_id``, if any."""
    u = schema.users.c
    row = connection.execute(select(u.role, u.team_ids).where(u.id == user_id)).first()
    return None if row is None else (row.role, row.team_ids)


def _drop_out_of_sight(connection: Connection, seen: set[int] | None) -> set[int]:
    """Drop the tickets of teams the user no longer sees (``None``: sees every team).

    The server stops sending their changes when the user leaves a team (or a
    ticket leaves it), so without this they would stay in the cache, stale,
    forever.  The team is the server's (a move still queued here is no reason).
    """
    if seen is None:
        return set()
    t = schema.tickets.c
    server_team = func.json_extract(t.server_row, "$.team_id")
    gone = set(connection.execute(select(t.id).where(server_team.not_in(sorted(seen)))).scalars())
    for chunk in chunks(gone):
        connection.execute(delete(schema.tickets).where(t.id.in_(chunk)))
    return gone


def _existing_tickets(connection: Connection, ticket_ids: set[int]) -> set[int]:
    found: set[int] = set()
    for chunk in chunks(ticket_ids):
        found.update(
            connection.execute(
                select(schema.tickets.c.id).where(schema.tickets.c.id.in_(chunk))
            ).scalars()
        )
    return found
