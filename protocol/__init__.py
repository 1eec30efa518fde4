"""Wire schemas shared by the OFFIMIZER server and the console (pydantic v2).

Requests are strict (unknown fields are refused, so a typo never silently does
nothing); responses ignore unknown fields, so an older console keeps working
against a newer server.  Codes (priorities, statuses, reason codes) are stable
data; the human messages that go with them are translated by whoever shows them.

Commands form a union discriminated by ``type``; every command carries the
client's ``mutation_id`` (a retry is harmless), the ``ticket_id`` and the
``base_version`` of the ticket the agent saw.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from sla.clock import ClockStatus
from sla.events import Status
from sla.policy import Priority, Severity

__all__ = [
    "API_PREFIX",
    "MAX_BATCH",
    "MAX_FEED_LIMIT",
    "MAX_ID",
    "AcknowledgeCommand",
    "AddCommentCommand",
    "AddTagCommand",
    "AnnouncementIn",
    "AnnouncementOut",
    "AppliedResult",
    "ArticleHit",
    "ArticleIn",
    "ArticleOut",
    "ArticlePage",
    "ArticleSearchPage",
    "AssignCommand",
    "BreachCount",
    "BreachedTicket",
    "Change",
    "ChangeEntity",
    "ChangeOp",
    "ChangePage",
    "ClockOut",
    "ClockStatus",
    "Command",
    "CommandBatch",
    "CommandBatchResult",
    "CommandResult",
    "CommentOut",
    "ComplianceBucket",
    "ComplianceReport",
    "ComplianceWeek",
    "ConflictResult",
    "ErrorOut",
    "EventName",
    "FieldError",
    "HistoryEntryOut",
    "Id",
    "LoginRequest",
    "OrganisationOut",
    "Plan",
    "PresenceActivity",
    "PresenceEntry",
    "PresenceIn",
    "PresenceOut",
    "Priority",
    "RejectReason",
    "RejectedResult",
    "RemoveTagCommand",
    "Role",
    "SetPriorityCommand",
    "SetSeverityCommand",
    "SetStatusCommand",
    "SetTeamCommand",
    "Severity",
    "SlaConfigOut",
    "Status",
    "TeamOut",
    "TicketCreate",
    "TicketDetailOut",
    "TicketOut",
    "TicketPage",
    "TicketSlaOut",
    "TokenOut",
    "UserOut",
]

API_PREFIX: Final = "/api/v1"
#: Most commands accepted in one batch.
MAX_BATCH: Final = 200
#: Most changes returned by one page of the feed.
MAX_FEED_LIMIT: Final = 1000
#: Largest id or version a request may name (the database's 32-bit integers).
MAX_ID: Final = 2**31 - 1

#: An id in a request: larger ones could never name anything.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

Tag = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=40, pattern=r"^[\w.\-]+$"
    ),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Role(StrEnum):
    AGENT = "agent"
    TEAM_LEAD = "team_lead"
    ADMIN = "admin"


class Plan(StrEnum):
    ENTERPRISE = "enterprise"
    BUSINESS = "business"
    PROFESSIONAL = "professional"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """NUL characters are refused: no database text column can keep them."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# -- errors -------------------------------------------------------------------


class FieldError(_Response):
    """One invalid field: ``field`` is a dotted path into the request (``body.commands.0``)."""

    field: str
    message: str
    type: str = ""


class ErrorOut(_Response):
    """Every error body: a translated message, a stable code, per-field problems."""

    code: str
    message: str
    errors: list[FieldError] = []


# -- auth ---------------------------------------------------------------------


class LoginRequest(_Request):
    username: Annotated[str, StringConstraints(min_length=1, max_length=150)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class TokenOut(_Response):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: AwareDatetime


# -- directory ----------------------------------------------------------------


class UserOut(_Response):
    id: int
    username: str
    display_name: str
    email: str
    role: Role
    active: bool
    team_ids: list[int]


class TeamOut(_Response):
    id: int
    name: str
    member_ids: list[int]


class OrganisationOut(_Response):
    id: int
    name: str
    plan: Plan


class SlaConfigOut(_Response):
    """The policy and calendar in force, as ``sla.policy`` JSON documents."""

    policy: dict[str, Any]
    calendar: dict[str, Any]
    updated_at: AwareDatetime


# -- tickets ------------------------------------------------------------------


class ClockOut(_Response):
    """One SLA clock as of ``TicketSlaOut.as_of``; durations in business seconds."""

    state: ClockStatus
    target_seconds: int
    elapsed_seconds: int
    remaining_seconds: int
    due: AwareDatetime | None


class TicketSlaOut(_Response):
    as_of: AwareDatetime
    plan: str
    response: ClockOut
    resolution: ClockOut


class CommentOut(_Response):
    id: int
    ticket_id: int
    author_id: int | None
    body: str
    public: bool
    created_at: AwareDatetime


class HistoryEntryOut(_Response):
    """One change of a ticket; ``before``/``after`` are the values as text (or null).

    ``field`` is one of: ``created`` (``after``: JSON of the initial status,
    priority, severity, plan, team_id, assignee_id and tags), ``status``,
    ``priority``, ``severity``, ``assignee`` (user ids), ``team`` (team ids),
    ``tag_added``,
    ``tag_removed``, ``reply`` / ``note`` (``after``: the comment id) and
    ``responded`` (``after``: ``reply`` or ``acknowledge``; the first response,
    which stops the first-response clock).  ``version`` is the ticket version
    the change produced.
    """

    id: int
    ticket_id: int
    version: int
    actor_id: int | None
    at: AwareDatetime
    field: str
    before: str | None
    after: str | None


class TicketOut(_Response):
    id: int
    tracking_number: str
    subject: str
    description: str
    requester_name: str
    requester_email: str
    organisation_id: int
    priority: Priority
    severity: Severity
    status: Status
    team_id: int
    assignee_id: int | None
    tags: list[str]
    version: int
    created_at: AwareDatetime
    updated_at: AwareDatetime
    sla: TicketSlaOut


class TicketDetailOut(TicketOut):
    comments: list[CommentOut]
    history: list[HistoryEntryOut]


class TicketPage(_Response):
    items: list[TicketOut]
    total: int
    offset: int
    limit: int


class TicketCreate(_Request):
    """A ticket opened by an agent on behalf of a customer of an organisation.

    With a ``mutation_id``, sending the same creation again returns the ticket
    created the first time instead of opening a second one.
    """

    mutation_id: UUID | None = None
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=100_000)] = ""
    requester_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    requester_email: EmailStr
    organisation_id: Id
    priority: Priority = Priority.P3
    severity: Severity = Severity.MINOR
    team_id: Id
    assignee_id: Id | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] = []


# -- change feed --------------------------------------------------------------


ChangeEntity = Literal[
    "ticket", "comment", "history", "user", "team", "organisation", "announcement", "article"
]
ChangeOp = Literal["upsert", "delete"]


class Change(_Response):
    """One committed change; ``data`` is the entity's wire form (null for a delete)."""

    seq: int
    cursor: str
    entity: ChangeEntity
    id: int
    op: ChangeOp
    data: dict[str, Any] | None


class ChangePage(_Response):
    """Changes after a cursor, in commit order.

    ``next_cursor`` is where to resume; ``has_more`` says whether another page is
    ready now; ``estimate`` is an upper bound of the changes still to read.
    """

    changes: list[Change]
    next_cursor: str
    has_more: bool
    estimate: int


# -- announcements and knowledge base ------------------------------------------


class AnnouncementIn(_Request):
    """A blocking-incident notice: from ``starts_at`` (default: now) until ended.

    ``ends_at`` is the expected end shown to users; it must follow ``starts_at``.
    With a ``mutation_id``, publishing the same announcement again returns the one
    published the first time instead of a second one (a console that published it
    offline sends it when the server is back, and again if the answer was lost);
    an edit ignores it.
    """

    mutation_id: UUID | None = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)] = ""
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


class AnnouncementOut(_Response):
    """``ended_at`` is null while the announcement runs; it is active once ``starts_at`` is past."""

    id: int
    title: str
    body: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None
    ended_at: AwareDatetime | None
    created_by_id: int | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    version: int


class ArticleIn(_Request):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(max_length=200_000)] = ""
    tags: Annotated[list[Tag], Field(max_length=20)] = []


class ArticleOut(_Response):
    id: int
    title: str
    body: str
    tags: list[str]
    created_by_id: int | None
    updated_by_id: int | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    version: int


class ArticlePage(_Response):
    items: list[ArticleOut]
    total: int
    offset: int
    limit: int


class ArticleHit(_Response):
    """A search result: higher ``score`` first; ``snippet`` is text around the first match."""

    article: ArticleOut
    score: float
    snippet: str


class ArticleSearchPage(_Response):
    query: str
    items: list[ArticleHit]
    total: int
    offset: int
    limit: int


# -- presence -----------------------------------------------------------------

PresenceActivity = Literal["viewing", "replying"]


class PresenceIn(_Request):
    """ "I am here": optionally on ``ticket_id``, doing ``activity``."""

    ticket_id: Id | None = None
    activity: PresenceActivity | None = None


class PresenceEntry(_Response):
    """One user; ``online`` when seen within the last two minutes."""

    user_id: int
    display_name: str
    last_seen_at: AwareDatetime
    online: bool
    ticket_id: int | None
    activity: PresenceActivity | None


class PresenceOut(_Response):
    """The users of the caller's teams (admins: everyone) who were ever seen."""

    users: list[PresenceEntry]


# -- reports --------------------------------------------------------------------


class ComplianceBucket(_Response):
    """SLA compliance of a group of tickets; durations in business seconds.

    ``key`` is ``P1`` / ``blocking`` / a plan code / a team or user id as text,
    ``all`` for the total; ``label`` is a display name (team name, agent name,
    plan name), codes of priorities and severities are labelled by the console.
    ``*_open``: the clock is still running and its target was not passed at the
    report's end.  Rates are met / (met + missed), null when both are 0.
    """

    key: str
    label: str
    response_met: int
    response_missed: int
    response_open: int
    resolution_met: int
    resolution_missed: int
    resolution_open: int
    response_rate: float | None
    resolution_rate: float | None
    response_mean_seconds: float | None
    response_p90_seconds: float | None
    resolution_mean_seconds: float | None
    resolution_p90_seconds: float | None


class ComplianceWeek(_Response):
    """Tickets created in the week starting on Monday ``week_start``."""

    week_start: dt.date
    tickets: int
    response_rate: float | None
    resolution_rate: float | None


class BreachCount(_Response):
    """Tickets with at least one missed clock, per priority and severity."""

    priority: Priority
    severity: Severity
    count: int


class BreachedTicket(_Response):
    """One missed clock; ``overdue_seconds``: business time past due (at its stop or at the end)."""

    id: int
    number: str
    subject: str
    priority: Priority
    severity: Severity
    team_id: int | None
    assignee_id: int | None
    clock: Literal["response", "resolution"]
    due_at: AwareDatetime
    overdue_seconds: float


class ComplianceReport(_Response):
    """SLA compliance of the tickets created in [``start``, ``end``)."""

    start: AwareDatetime
    end: AwareDatetime
    generated_at: AwareDatetime
    team_id: int | None
    total: ComplianceBucket
    by_priority: list[ComplianceBucket]
    by_severity: list[ComplianceBucket]
    by_plan: list[ComplianceBucket]
    by_team: list[ComplianceBucket]
    by_agent: list[ComplianceBucket]
    weeks: list[ComplianceWeek]
    breaches: list[BreachCount]
    breached: list[BreachedTicket]


# -- live events (``GET /api/v1/events``, Server-Sent Events) ------------------


class EventName(StrEnum):
    """The ``event:`` names of the live stream.

    ``changes``: data ``{"seq": n}``, the feed holds changes up to ``n`` (pull
    the feed); ``announcement``: data is an :class:`AnnouncementOut`.
    """

    CHANGES = "changes"
    ANNOUNCEMENT = "announcement"


# -- commands -----------------------------------------------------------------


class _Command(_Request):
    mutation_id: UUID
    ticket_id: Id
    base_version: Annotated[int, Field(ge=0, le=MAX_ID)]


class AssignCommand(_Command):
    """Give the ticket to an agent (``null``: nobody); compare-and-set."""

    type: Literal["assign"]
    assignee_id: Id | None


class SetTeamCommand(_Command):
    """Move the ticket to another team (team leads and admins).

    The assignee becomes ``assignee_id`` (a member of that team) or nobody.
    Compare-and-set on ``team_id`` and ``assignee_id``.
    """

    type: Literal["set_team"]
    team_id: Id
    assignee_id: Id | None = None


class SetStatusCommand(_Command):
    """Compare-and-set."""

    type: Literal["set_status"]
    status: Status


class SetPriorityCommand(_Command):
    """Last writer wins."""

    type: Literal["set_priority"]
    priority: Priority


class SetSeverityCommand(_Command):
    """Last writer wins."""

    type: Literal["set_severity"]
    severity: Severity


class AddCommentCommand(_Command):
    """A public reply to the requester or an internal note; never conflicts."""

    type: Literal["add_comment"]
    body: Annotated[Text, StringConstraints(max_length=100_000)]
    public: bool


class AcknowledgeCommand(_Command):
    """Explicit acknowledgement ("prise en compte"): stops the first-response clock."""

    type: Literal["acknowledge"]


class AddTagCommand(_Command):
    type: Literal["add_tag"]
    tag: Tag


class RemoveTagCommand(_Command):
    type: Literal["remove_tag"]
    tag: Tag


Command = Annotated[
    AssignCommand
    | SetTeamCommand
    | SetStatusCommand
    | SetPriorityCommand
    | SetSeverityCommand
    | AddCommentCommand
    | AcknowledgeCommand
    | AddTagCommand
    | RemoveTagCommand,
    Field(discriminator="type"),
]


class CommandBatch(_Request):
    commands: Annotated[list[Command], Field(min_length=1, max_length=MAX_BATCH)]


class RejectReason(StrEnum):
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    INVALID_ASSIGNEE = "invalid_assignee"
    INVALID_BASE_VERSION = "invalid_base_version"
    TICKET_CLOSED = "ticket_closed"
    MUTATION_REUSED = "mutation_reused"
    INVALID_TEAM = "invalid_team"


class AppliedResult(_Response):
    status: Literal["applied"] = "applied"
    mutation_id: UUID
    ticket_id: int
    version: int


class ConflictResult(_Response):
    """The fields the command would set were changed by someone else since ``base_version``."""

    status: Literal["conflict"] = "conflict"
    mutation_id: UUID
    ticket_id: int
    fields: list[str]
    ticket: TicketOut


class RejectedResult(_Response):
    status: Literal["rejected"] = "rejected"
    mutation_id: UUID
    ticket_id: int
    reason: RejectReason
    message: str


CommandResult = Annotated[
    AppliedResult | ConflictResult | RejectedResult, Field(discriminator="status")
]


class CommandBatchResult(_Response):
    results: list[CommandResult]


def utc(when: dt.datetime) -> dt.datetime:
    """``when`` in UTC (aware datetimes only)."""
    if when.tzinfo is None:
        raise ValueError("a naive datetime has no place on the wire")
    return when.astimezone(dt.UTC)
