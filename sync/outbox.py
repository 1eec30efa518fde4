"""Named commands, their optimistic effect on the cache, the rebase, and their end.

A command is a :mod:`protocol` command (the wire form itself, so client and
server cannot drift).  Queuing one (:func:`enqueue`) and applying it to the
cached ticket (:func:`apply_optimistically`) always happen in the same
transaction, on the connection given; :class:`sync.store.Store` does that.

:func:`rebase` rebuilds what the agent sees for some tickets: server state (the
raw server row kept on every ticket) with every command still in the outbox
re-applied on top, in outbox order.  A command the server applied leaves the
outbox once the cached server state shows its effect (:func:`drop_acknowledged`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any, Final, TypeVar
from uuid import UUID, uuid4

from pydantic import TypeAdapter
from sqlalchemy import Connection, Row, delete, insert, select, update

from protocol import (
    AcknowledgeCommand,
    AddCommentCommand,
    AddTagCommand,
    AssignCommand,
    Command,
    RemoveTagCommand,
    SetPriorityCommand,
    SetSeverityCommand,
    SetStatusCommand,
    SetTeamCommand,
    TicketOut,
)
from sync import schema
from sync.rows import ticket_row, upsert

__all__ = [
    "COMMAND_TYPES",
    "NON_CLASHING",
    "apply_optimistically",
    "chunks",
    "drop_acknowledged",
    "enqueue",
    "make_command",
    "parse_command",
    "rebase",
    "tickets_with_work",
    "with_new_base",
]

COMMAND: Final[TypeAdapter[Command]] = TypeAdapter(Command)

COMMAND_TYPES: Final = frozenset(
    {
        "assign",
        "set_team",
        "set_status",
        "set_priority",
        "set_severity",
        "add_comment",
        "acknowledge",
        "add_tag",
        "remove_tag",
    }
)
#: Commands that never clash with someone else's change: the server answers them
#: "applied" (comments append, tags merge, priority/severity last-writer-wins);
#: should one still come back as a conflict, it is re-applied on the new version
#: automatically (and the conflict recorded as such).
NON_CLASHING: Final = frozenset(
    {"add_comment", "acknowledge", "add_tag", "remove_tag", "set_priority", "set_severity"}
)

_CHUNK: Final = 500
_Key = TypeVar("_Key", int, str)


def make_command(
    kind: str, ticket_id: int, base_version: int, *, mutation_id: UUID | None = None, **fields: Any
) -> Command:
    """A validated command (``pydantic.ValidationError`` names a bad field)."""
    return COMMAND.validate_python(
        {
            "type": kind,
            "mutation_id": mutation_id or uuid4(),
            "ticket_id": ticket_id,
            "base_version": base_version,
            **fields,
        }
    )


def parse_command(payload: Any) -> Command:
    return COMMAND.validate_python(payload)


def with_new_base(command: Command, base_version: int, mutation_id: UUID | None = None) -> Command:
    """The same change, to be sent again against ``base_version`` under a new mutation id.

    A new id is required: the server answers a known id with its first answer.
    """
    return command.model_copy(
        update={"mutation_id": mutation_id or uuid4(), "base_version": base_version}
    )


def outbox_row(command: Command, created_at: dt.datetime) -> dict[str, Any]:
    """The outbox row of ``command``, waiting to be sent."""
    return {
        "mutation_id": str(command.mutation_id),
        "ticket_id": command.ticket_id,
        "type": command.type,
        "base_version": command.base_version,
        "payload": command.model_dump(mode="json"),
        "created_at": created_at,
        "state": "pending",
    }


def enqueue(connection: Connection, command: Command, created_at: dt.datetime) -> int:
    """Append ``command`` to the outbox; its sequence number."""
    result = connection.execute(insert(schema.outbox).values(outbox_row(command, created_at)))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def apply_optimistically(
    connection: Connection, command: Command, at: dt.datetime, author_id: int | None
) -> bool:
    """Show ``command`` in the cached ticket now; False when the ticket is not cached."""
    t = schema.tickets
    row = connection.execute(
        select(
            t.c.status, t.c.team_id, t.c.assignee_id, t.c.priority, t.c.severity, t.c.tags
        ).where(t.c.id == command.ticket_id)
    ).first()
    if row is None:
        return False
    mutation_id = str(command.mutation_id)
    if isinstance(command, AddCommentCommand):
        connection.execute(
            insert(schema.comments).values(
                server_id=None,
                ticket_id=command.ticket_id,
                author_id=author_id,
                body=command.body,
                public=command.public,
                created_at=at,
                mutation_id=mutation_id,
            )
        )
    changes, history = _effect(row, command)
    if changes or history:
        changes["updated_at"] = at
        connection.execute(update(t).where(t.c.id == command.ticket_id).values(**changes))
    for field, before, after in history:
        connection.execute(
            insert(schema.ticket_history).values(
                server_id=None,
                ticket_id=command.ticket_id,
                version=None,
                actor_id=author_id,
                at=at,
                field=field,
                before=before,
                after=after,
                mutation_id=mutation_id,
            )
        )
    return True


def _effect(
    row: Row[*tuple[Any, ...]], command: Command
) -> tuple[dict[str, Any], list[tuple[str, str | None, str | None]]]:
    """What ``command`` changes in the cached ticket ``row``: the columns to update,
    and the history entries (field, before, after) that show the change."""
    changes: dict[str, Any] = {}
    history: list[tuple[str, str | None, str | None]] = []
    for name, value in _fields_set(command).items():
        before = getattr(row, name)
        if before != value:
            changes[name] = value
            history.append((name, _text(before), _text(value)))
    match command:
        case AddCommentCommand(public=True) | AcknowledgeCommand():
            history.append(("responded", None, None))
        case AddTagCommand() if command.tag not in row.tags:
            changes["tags"] = [*row.tags, command.tag]
            history.append(("tags", None, command.tag))
        case RemoveTagCommand() if command.tag in row.tags:
            changes["tags"] = [tag for tag in row.tags if tag != command.tag]
            history.append(("tags", command.tag, None))
    return changes, history


def _fields_set(command: Command) -> dict[str, Any]:
    """The ticket columns ``command`` sets outright, with their new values, in the
    order their history entries are written."""
    match command:
        case SetTeamCommand():
            return {"team_id": command.team_id, "assignee_id": command.assignee_id}
        case AssignCommand():
            return {"assignee_id": command.assignee_id}
        case SetStatusCommand():
            return {"status": command.status.value}
        case SetPriorityCommand():
            return {"priority": command.priority.value}
        case SetSeverityCommand():
            return {"severity": command.severity.value}
    return {}


def chunks(ids: Iterable[_Key]) -> Iterator[list[_Key]]:
    """``ids`` without repeats, sorted, in lists short enough for one ``IN (...)``."""
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def rebase(connection: Connection, ticket_ids: Iterable[int], author_id: int | None) -> None:
    """Server state of these tickets, with every command still in the outbox re-applied."""
    for chunk in chunks(ticket_ids):
        for table in (schema.comments, schema.ticket_history):
            connection.execute(
                delete(table).where(table.c.ticket_id.in_(chunk), table.c.server_id.is_(None))
            )
        raws = connection.execute(
            select(schema.tickets.c.server_row).where(schema.tickets.c.id.in_(chunk))
        ).scalars()
        upsert(
            connection,
            schema.tickets,
            [ticket_row(TicketOut.model_validate(raw), raw) for raw in raws],
        )
        queued = connection.execute(
            select(schema.outbox.c.payload, schema.outbox.c.created_at)
            .where(schema.outbox.c.ticket_id.in_(chunk))
            .order_by(schema.outbox.c.seq)
        ).all()
        for payload, created_at in queued:
            apply_optimistically(connection, parse_command(payload), created_at, author_id)


def tickets_with_work(connection: Connection, ticket_ids: set[int]) -> set[int]:
    """Those of ``ticket_ids`` with queued commands (and so with local rows to rebuild)."""
    if not ticket_ids:
        return set()
    queued = set(connection.execute(select(schema.outbox.c.ticket_id).distinct()).scalars())
    return queued & ticket_ids


def drop_acknowledged(connection: Connection, ticket_ids: Iterable[int]) -> list[int]:
    """Drop applied commands whose effect the cached server state now shows; the
    ticket of each command dropped.

    The effect is shown once the cache holds the server's history entry of the
    command's version (every version has one), not merely the ticket at that
    version: a ticket that came alone (with a conflict answer) lacks the comments
    and entries of its versions, and the command's own rows must stay on screen
    until the feed brings them (a page brings a version whole).
    """
    o, t, h = schema.outbox.c, schema.tickets.c, schema.ticket_history.c
    cached = select(t.id).where(t.id == o.ticket_id).correlate(schema.outbox).exists()
    shown = (
        select(h.local_id)
        .where(
            h.ticket_id == o.ticket_id,
            h.server_id.is_not(None),
            h.version >= o.applied_version,
        )
        .correlate(schema.outbox)
        .exists()
    )
    dropped: list[int] = []
    for chunk in chunks(ticket_ids):  # a chunk at a time, not a ticket at a time
        acknowledged = connection.execute(
            select(o.seq, o.ticket_id).where(
                o.ticket_id.in_(chunk),
                o.state == "applied",
                # a ticket no longer visible (not cached): the server has them all
                ~cached | shown,
            )
        ).all()
        if acknowledged:
            seqs = [seq for seq, _ticket_id in acknowledged]
            connection.execute(delete(schema.outbox).where(o.seq.in_(seqs)))
            dropped.extend(ticket_id for _seq, ticket_id in acknowledged)
    return dropped
