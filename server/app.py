"""The HTTP API (FastAPI): ``/api/v1/...``.

Every handler runs its own transaction(s) explicitly, so a response is only sent
once what it reports is committed.  Errors always have the :class:`ErrorOut`
shape; validation errors name the offending field.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import gc
import json
import logging
import os
from typing import Annotated, Final, NamedTuple
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from i18n import _
from protocol import (
    API_PREFIX,
    MAX_FEED_LIMIT,
    MAX_ID,
    ChangePage,
    CommandBatch,
    CommandBatchResult,
    ErrorOut,
    FieldError,
    LoginRequest,
    OrganisationOut,
    Role,
    SlaConfigOut,
    Status,
    TeamOut,
    TicketCreate,
    TicketDetailOut,
    TicketPage,
    TokenOut,
    UserOut,
)
from server import DATABASE_URL_VARIABLE, openapi, presence, routers
from server import changes as feed
from server.dates import Clock, utc_now
from server.db import make_engine, make_sessionmaker, read_only, transaction
from server.directory import organisation_out, team_out, user_out
from server.errors import ServiceError
from server.events import EventHub
from server.models import (
    AuthToken,
    Organisation,
    Presence,
    SlaConfig,
    Team,
    TeamMember,
    User,
)
from server.pushes import execute_batch
from server.router_context import RouterContext
from server.security import token_digest
from server.signin import Pause, SignIn, login_pause
from server.ticket_creation import create_ticket, created_before
from server.ticket_sla import ensure_default_config, load_settings
from server.tickets import (
    TicketFilter,
    get_visible_ticket,
    list_tickets,
    ticket_detail,
    tickets_out,
)

log = logging.getLogger(__name__)

DEFAULT_TOKEN_TTL: Final = dt.timedelta(hours=12)
DEFAULT_BODY_LIMIT: Final = 4 * 1024 * 1024
#: Threads of a process reading the change feed (a poll is a few short queries).
FEED_THREADS: Final = 4


def _error(
    status: int, code: str, message: str, errors: list[FieldError] | None = None
) -> JSONResponse:
    body = ErrorOut(code=code, message=message, errors=errors or [])
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


# -- ASGI middleware ----------------------------------------------------------


class UnexpectedErrors:
    """Answers an unexpected error in the :class:`ErrorOut` shape (500), and logs it
    with its traceback.

    Once a response has started (a stream), the error is left to the server, which
    logs it and drops the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            if started:
                raise
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            response = _error(
                500,
                "internal_error",
                _("The server met an unexpected error. It is logged; please try again later."),
            )
            await response(scope, receive, send)


class DateHeader:
    """Adds the ``Date`` header from the server clock (the console corrects for offsets)."""

    def __init__(self, app: ASGIApp, clock: Clock) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"date" for name, _value in headers):
                    stamp = email.utils.format_datetime(self.clock().astimezone(dt.UTC), True)
                    headers.append((b"date", stamp.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_date)


class QueryGuard:
    """Refuses query parameters holding NUL characters (422), which no database stores."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and b"%00" in scope.get("query_string", b""):
            query = scope["query_string"].decode("latin-1")
            names = sorted({name for name, value in parse_qsl(query) if "\x00" in value})
            if names:
                problem = _("must not contain NUL characters")
                errors = [FieldError(field=name, message=problem) for name in names]
                summary = "; ".join(f"{name}: {problem}" for name in names)
                message = _("Invalid request: {problems}").format(problems=summary)
                response = _error(422, "invalid_request", message, errors)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, whether declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _too_large(self, send: Send) -> None:
        body = ErrorOut(
            code="body_too_large",
            message=_("The request body is larger than {limit} bytes.").format(limit=self.limit),
        ).model_dump_json()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._too_large(send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# -- the application ----------------------------------------------------------


_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An opaque token from POST /api/v1/auth/token.",
)


def _bearer(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> str:
    token = "" if credentials is None else credentials.credentials.strip()
    if not token:
        raise ServiceError(401, "not_authenticated", _("Sign in first."))
    return token


Token = Annotated[str, Depends(_bearer)]


def _field_name(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


class _Reader(NamedTuple):
    """Who polls the change feed, as :meth:`_Authenticator.reader` finds them."""

    user_id: int
    team_ids: list[int] | None  # None: every team (an administrator)
    last_seen_at: dt.datetime | None
    high: int  # the feed's highest committed sequence number


#: :meth:`_Authenticator.reader`'s query, built once (it runs on every poll)
_READER_QUERY: Final = (
    select(
        AuthToken.revoked_at,
        AuthToken.expires_at,
        AuthToken.user_id,
        User.role,
        User.active,
        TeamMember.team_id,
        Presence.last_seen_at,
        feed.high_water().scalar_subquery().label("high"),
    )
    .join(User, User.id == AuthToken.user_id)
    .outerjoin(TeamMember, TeamMember.user_id == User.id)
    .outerjoin(Presence, Presence.user_id == User.id)
    .where(AuthToken.token_hash == bindparam("digest"))
)


def app_from_environment() -> FastAPI:
    """The API over the database named by ``$OFFIMIZER_DATABASE_URL`` (already migrated):
    what each process of ``offimizer-server serve --workers N`` runs."""
    url = os.environ.get(DATABASE_URL_VARIABLE)
    if not url:
        raise RuntimeError(f"{DATABASE_URL_VARIABLE} names no database")
    app = create_app(make_engine(url))
    settle_heap(app)
    from server.serving import end_streams_on_stop

    end_streams_on_stop(app.state.events)
    return app


def settle_heap(app: FastAPI) -> None:
    """Ready a serving process's long-lived objects, then put them out of the
    garbage collector's way.

    Modules, the app and the SLA calendar's index (decades of business hours)
    live as long as the process; each full collection would walk them again,
    stalling every request for a tenth of a second or more (measured with 200
    consoles polling). They are built now (not on the first request) and frozen:
    collections then walk only what requests create.
    """
    with transaction(app.state.factory) as session:
        load_settings(session).calendar.index()
    gc.collect()
    gc.freeze()


class _Authenticator:
    """How a request's bearer token becomes its caller, by the server's clock (401
    for a token expired, closed or of a disabled account)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def user(self, session: Session, token: str) -> User:
        """The token's user, for a request that works in an ORM session."""
        now = self.clock()
        row = session.scalar(select(AuthToken).where(AuthToken.token_hash == token_digest(token)))
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise ServiceError(
                401, "invalid_token", _("Your session has expired or was closed: sign in again.")
            )
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            raise ServiceError(401, "invalid_token", _("This account is disabled."))
        return user

    def reader(self, connection: Connection, token: str) -> _Reader:
        """:meth:`user` for the change feed, in one light query (it is polled).

        A plain connection (no ORM) and one statement: the token, the user, their
        teams, their presence and the feed's high-water mark together.
        """
        rows = connection.execute(_READER_QUERY, {"digest": token_digest(token)}).all()
        if not rows or rows[0].revoked_at is not None or rows[0].expires_at <= self.clock():
            raise ServiceError(
                401, "invalid_token", _("Your session has expired or was closed: sign in again.")
            )
        first = rows[0]
        if not first.active:
            raise ServiceError(401, "invalid_token", _("This account is disabled."))
        teams = (
            None
            if first.role == Role.ADMIN
            else sorted({row.team_id for row in rows if row.team_id is not None})
        )
        return _Reader(int(first.user_id), teams, first.last_seen_at, first.high or 0)


def create_app(
    engine: Engine,
    *,
    clock: Clock = utc_now,
    token_ttl: dt.timedelta = DEFAULT_TOKEN_TTL,
    body_limit: int = DEFAULT_BODY_LIMIT,
    pause: Pause = asyncio.sleep,
) -> FastAPI:
    """The API over an already migrated database (see :mod:`server.migrate`).

    ``pause`` is how a sign-in to an account under attack waits
    (:func:`server.signin.login_pause`).
    """
    factory: sessionmaker[Session] = make_sessionmaker(engine)
    read_engine = read_only(engine)  # the feed's polls, and who sends commands
    with transaction(factory) as session:
        ensure_default_config(session, clock())

    app = FastAPI(title="OFFIMIZER ticket server", version="1")
    openapi.install(app)  # the published document (error shapes, sign-in body)
    app.add_middleware(BodyLimit, limit=body_limit)
    app.add_middleware(QueryGuard)
    app.add_middleware(DateHeader, clock=clock)
    app.add_middleware(UnexpectedErrors)
    app.state.factory = factory
    app.state.clock = clock
    _answer_errors(app)

    auth = _Authenticator(clock)
    _add_auth_routes(app, factory, auth, SignIn(factory, clock, token_ttl), pause)
    _add_directory_routes(app, factory, auth)
    _add_ticket_routes(app, factory, auth)
    _add_sync_routes(app, factory, read_engine, auth)

    hub = EventHub(engine, clock=clock)
    app.state.events = hub  # a stopping server ends its streams (server.serving)
    routers.install(app, RouterContext(factory, clock, _bearer, auth.user, hub))
    return app


def _answer_errors(app: FastAPI) -> None:
    """Answer every error the application meets in the :class:`ErrorOut` shape."""

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> Response:
        errors = [FieldError(field=exc.field, message=exc.message)] if exc.field else []
        response = _error(exc.status, exc.code, exc.message, errors)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        errors = [
            FieldError(
                field=_field_name(tuple(error.get("loc", ()))),
                message=str(error.get("msg", "")),
                type=str(error.get("type", "")),
            )
            for error in exc.errors()
        ]
        summary = "; ".join(f"{error.field}: {error.message}" for error in errors)
        message = _("Invalid request: {problems}").format(problems=summary)
        return _error(422, "invalid_request", message, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: _("Not found."), 405: _("Method not allowed.")}
        return _error(
            exc.status_code, f"http_{exc.status_code}", messages.get(exc.status_code, exc.detail)
        )


async def _credentials(request: Request) -> LoginRequest:
    """The sign-in body, JSON or an OAuth 2.0 style form: a FastAPI parameter takes
    one or the other, so the body is read here."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            fields = dict(parse_qsl(raw.decode("utf-8", errors="replace")))
            return LoginRequest(
                username=fields.get("username", ""), password=fields.get("password", "")
            )
        return LoginRequest.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from exc


def _add_auth_routes(
    app: FastAPI, factory: sessionmaker[Session], auth: _Authenticator, signin: SignIn, pause: Pause
) -> None:
    @app.post(f"{API_PREFIX}/auth/token", response_model=TokenOut, tags=["auth"])
    async def login(request: Request) -> TokenOut:
        credentials = await _credentials(request)
        address = request.client.host if request.client else "unknown"
        attempt = await run_in_threadpool(signin.reserve, credentials.username, address)
        seconds = login_pause(attempt.account_failures)
        if seconds > 0:
            await pause(seconds)
        return await run_in_threadpool(signin.check, credentials.password, attempt)

    @app.post(f"{API_PREFIX}/auth/logout", status_code=204, tags=["auth"])
    def logout(token: Token) -> Response:
        with transaction(factory) as session:
            auth.user(session, token)
            row = session.scalar(
                select(AuthToken).where(AuthToken.token_hash == token_digest(token))
            )
            assert row is not None
            row.revoked_at = auth.clock()
        return Response(status_code=204)


def _add_directory_routes(
    app: FastAPI, factory: sessionmaker[Session], auth: _Authenticator
) -> None:
    @app.get(f"{API_PREFIX}/me", response_model=UserOut, tags=["directory"])
    def me(token: Token) -> UserOut:
        with transaction(factory) as session:
            return user_out(auth.user(session, token))

    @app.get(f"{API_PREFIX}/users", response_model=list[UserOut], tags=["directory"])
    def users(token: Token) -> list[UserOut]:
        with transaction(factory) as session:
            auth.user(session, token)
            return [user_out(user) for user in session.scalars(select(User).order_by(User.id))]

    @app.get(f"{API_PREFIX}/teams", response_model=list[TeamOut], tags=["directory"])
    def teams(token: Token) -> list[TeamOut]:
        with transaction(factory) as session:
            auth.user(session, token)
            return [team_out(team) for team in session.scalars(select(Team).order_by(Team.id))]

    @app.get(
        f"{API_PREFIX}/organisations", response_model=list[OrganisationOut], tags=["directory"]
    )
    def organisations(token: Token) -> list[OrganisationOut]:
        with transaction(factory) as session:
            auth.user(session, token)
            rows = session.scalars(select(Organisation).order_by(Organisation.id))
            return [organisation_out(row) for row in rows]

    @app.get(f"{API_PREFIX}/sla/policy", response_model=SlaConfigOut, tags=["sla"])
    def sla_policy(token: Token) -> SlaConfigOut:
        with transaction(factory) as session:
            auth.user(session, token)
            config = session.get(SlaConfig, 1)
            assert config is not None
            return SlaConfigOut(
                policy=json.loads(config.policy_json),
                calendar=json.loads(config.calendar_json),
                updated_at=config.updated_at,
            )


def _add_ticket_routes(app: FastAPI, factory: sessionmaker[Session], auth: _Authenticator) -> None:
    clock = auth.clock

    @app.get(f"{API_PREFIX}/tickets", response_model=TicketPage, tags=["tickets"])
    def tickets(
        token: Token,
        status: Annotated[list[Status] | None, Query()] = None,
        team_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        assignee_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        unassigned: bool = False,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> TicketPage:
        with transaction(factory) as session:
            user = auth.user(session, token)
            where = TicketFilter(status, team_id, assignee_id, unassigned)
            rows, total = list_tickets(session, user, where, offset, limit)
            items = tickets_out(session, rows, clock(), load_settings(session))
            return TicketPage(items=items, total=total, offset=offset, limit=limit)

    @app.get(
        f"{API_PREFIX}/tickets/{{ticket_id}}", response_model=TicketDetailOut, tags=["tickets"]
    )
    def ticket(token: Token, ticket_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> TicketDetailOut:
        with transaction(factory) as session:
            user = auth.user(session, token)
            return ticket_detail(session, get_visible_ticket(session, user, ticket_id), clock())

    @app.post(
        f"{API_PREFIX}/tickets",
        response_model=TicketDetailOut,
        status_code=201,
        tags=["tickets"],
    )
    def new_ticket(token: Token, body: TicketCreate, response: Response) -> TicketDetailOut:
        for _attempt in range(5):
            now = clock()
            try:
                with transaction(factory) as session:
                    user = auth.user(session, token)
                    if body.mutation_id is not None:
                        earlier = created_before(session, user, body.mutation_id, now)
                        if earlier is not None:
                            response.status_code = 200
                            return earlier
                    changes = feed.ChangeSet()
                    created = create_ticket(session, changes, user, body, now)
                    detail = ticket_detail(session, created, now)
                    changes.publish(session, now)
                return detail
            except IntegrityError:
                if body.mutation_id is None:
                    raise
                continue  # the same creation committed concurrently: answer with it
        raise RuntimeError("ticket creation could not be recorded")  # pragma: no cover


def _add_sync_routes(
    app: FastAPI, factory: sessionmaker[Session], read_engine: Engine, auth: _Authenticator
) -> None:
    clock = auth.clock
    # The feed's polls run on threads of their own: however many pushes wait for the
    # database's write lock on the shared pool, a poll never queues behind them.
    feed_threads = anyio.CapacityLimiter(FEED_THREADS)

    def read_feed(token: str, cursor: str | None, limit: int) -> tuple[bytes, _Reader]:
        with read_engine.connect() as connection, connection.begin():
            caller = auth.reader(connection, token)
            try:
                body = feed.read_page_json(
                    connection, feed.parse_cursor(cursor), limit, caller.team_ids, high=caller.high
                )
            except feed.CursorError:
                raise ServiceError(
                    410,
                    "invalid_cursor",
                    _("This cursor is unknown to the server: synchronize from the start."),
                    "cursor",
                ) from None
        return body, caller

    @app.get(f"{API_PREFIX}/changes", response_model=ChangePage, tags=["sync"])
    async def changes(
        token: Token,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_FEED_LIMIT)] = 500,
    ) -> Response:
        body, caller = await anyio.to_thread.run_sync(
            read_feed, token, cursor, limit, limiter=feed_threads
        )
        # already the JSON of a ChangePage: not parsed and dumped again
        response = Response(content=body, media_type="application/json")
        now = clock()
        if presence.pull_marks_seen(caller.last_seen_at, now):
            # written once the answer is sent: the write may wait for the database's lock
            response.background = BackgroundTask(presence.pull_seen, factory, caller.user_id, now)
        return response

    @app.post(f"{API_PREFIX}/commands", response_model=CommandBatchResult, tags=["sync"])
    def commands(token: Token, batch: CommandBatch) -> CommandBatchResult:
        with read_engine.connect() as connection, connection.begin():
            user_id = auth.reader(connection, token).user_id  # one light query
        results = execute_batch(factory, user_id, batch.commands, clock)
        return CommandBatchResult(results=results)
