"""Named commands, their optimistic effect on the cache, and the rebase.

A command is a :mod:`protocol` command (the wire form itself, so client and
server cannot drift).  Queuing one (:func:`enqueue`) and applying it to the
cached ticket (:func:`apply_optimistically`) always happen in the same
transaction, on the connection given; :class:`sync.store.Store` does that.

:func:`rebase` rebuilds what the agent sees for some tickets: server state (the
raw server row kept on every ticket) with every command still in the outbox
re-applied on top, in outbox order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any, Final, TypeVar
from uuid import UUID, uuid4

from pydantic import TypeAdapter
from sqlalchemy import Connection, delete, insert, select, update

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
from sync.cache import ticket_row, upsert

__all__ = [
    "COMMAND_TYPES",
    "NON_CLASHING",
    "apply_optimistically",
    "chunks",
    "enqueue",
    "make_command",
    "parse_command",
    "rebase",
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


def enqueue(connection: Connection, command: Command, created_at: dt.datetime) -> int:
    """Append ``command`` to the outbox; its sequence number."""
    result = connection.execute(
        insert(schema.outbox).values(
            mutation_id=str(command.mutation_id),
            ticket_id=command.ticket_id,
            type=command.type,
            base_version=command.base_version,
            payload=command.model_dump(mode="json"),
            created_at=created_at,
            state="pending",
        )
    )
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
    changes: dict[str, Any] = {}
    history: list[tuple[str, str | None, str | None]] = []

    match command:
        case AssignCommand() | SetTeamCommand():
            if isinstance(command, SetTeamCommand) and row.team_id != command.team_id:
                changes["team_id"] = command.team_id
                history.append(("team_id", _text(row.team_id), _text(command.team_id)))
            if row.assignee_id != command.assignee_id:
                changes["assignee_id"] = command.assignee_id
                history.append(("assignee_id", _text(row.assignee_id), _text(command.assignee_id)))
        case SetStatusCommand():
            if row.status != command.status.value:
                changes["status"] = command.status.value
                history.append(("status", row.status, command.status.value))
        case SetPriorityCommand():
            if row.priority != command.priority.value:
                changes["priority"] = command.priority.value
                history.append(("priority", row.priority, command.priority.value))
        case SetSeverityCommand():
            if row.severity != command.severity.value:
                changes["severity"] = command.severity.value
                history.append(("severity", row.severity, command.severity.value))
        case AddCommentCommand():
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
            if command.public:
                history.append(("responded", None, None))
        case AcknowledgeCommand():
            history.append(("responded", None, None))
        case AddTagCommand():
            if command.tag not in row.tags:
                changes["tags"] = [*row.tags, command.tag]
                history.append(("tags", None, command.tag))
        case RemoveTagCommand():
            if command.tag in row.tags:
                changes["tags"] = [tag for tag in row.tags if tag != command.tag]
                history.append(("tags", command.tag, None))

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
