"""The console's HTTP client for the OFFIMIZER API (httpx, asyncio).

- One :class:`httpx.AsyncClient` per server: base URL, timeouts, keep-alive,
  TLS verification always on (a custom CA bundle can be given; there is no way
  to turn verification off, and plain ``http://`` is refused except on loopback).
- Every request is retried on network failures, timeouts, 500/502/503/504 and
  429, with exponential backoff and *full* jitter (``random() * min(cap, base *
  2**n)``); a ``Retry-After`` (seconds or an HTTP date) on 429/503 is honoured
  instead.  Random and sleep are injected, so tests never wait.  Retrying is
  always safe: reads are idempotent and every command carries a mutation id.
- A 401 raises :class:`AuthRequired`; a payload that fails validation against
  :mod:`protocol` raises :class:`MalformedResponse` before anything is
  handed on, so nothing is changed by it.
- The server clock offset is measured from every response's ``Date`` header
  (:class:`ClockOffsetEstimator`), so the console can correct its SLA "now".
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import ipaddress
import json
import random as _random
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, RootModel, ValidationError

from i18n import N_, gettext
from protocol import (
    API_PREFIX,
    MAX_FEED_LIMIT,
    AnnouncementIn,
    AnnouncementOut,
    ChangePage,
    Command,
    CommandBatch,
    CommandBatchResult,
    ComplianceReport,
    ErrorOut,
    LoginRequest,
    PresenceActivity,
    PresenceIn,
    PresenceOut,
    TicketDetailOut,
    TokenOut,
    UserOut,
    utc,
)
from sync.cache import Clock, normalize_server_url, utc_now

__all__ = [
    "PROBE_TIMEOUT",
    "RETRYABLE_STATUSES",
    "ApiClient",
    "ApiError",
    "AuthRequired",
    "ClockOffsetEstimator",
    "EventsUnavailable",
    "InsecureServerError",
    "InvalidCredentials",
    "MalformedResponse",
    "RequestRefused",
    "RequestTooLarge",
    "RetryPolicy",
    "ServerBusy",
    "ServerError",
    "ServerEvent",
    "Sleep",
    "TlsError",
    "Unreachable",
    "parse_retry_after",
    "tls_context",
]

#: An awaitable pause of so many seconds (``asyncio.sleep``; a fake in tests).
Sleep = Callable[[float], Awaitable[None]]

RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: Seconds a reachability probe waits for an answer (a server that is up answers at once).
PROBE_TIMEOUT: Final = 2.5
USER_AGENT: Final = "offimizer-console/0.1"

_MALFORMED = N_("The server sent data that could not be understood; nothing was changed.")
_UNREACHABLE = N_("The server cannot be reached. Your changes are kept and will be sent later.")
_AUTH_REQUIRED = N_("Your session has expired or was closed: sign in again.")
_BAD_LOGIN = N_("Wrong user name or password.")
_BUSY = N_("The server is busy. Synchronization will resume in {seconds} seconds.")
_SERVER_ERROR = N_("The server had a problem (HTTP {status}). Synchronization will be retried.")
_REFUSED = N_("The server refused the request (HTTP {status}): {reason}")
_TOO_LARGE = N_("A change is too large for the server to accept.")
_INSECURE = N_(
    "The server address {url} is not encrypted (http). Use an https address: "
    "your password and tickets must not cross the network in clear."
)
_TLS = N_("The server's identity could not be verified (TLS): {reason}")
_NO_EVENTS = N_("This server does not offer live notifications.")

_M = TypeVar("_M", bound=BaseModel)


class _Announcements(RootModel[list[AnnouncementOut]]):
    """``GET /announcements``: a bare JSON list (read through :meth:`ApiClient._parse`)."""


# -- errors ----------------------------------------------------------------------------


class ApiError(Exception):
    """Something the server or the network did; :attr:`message` is for the user."""

    msgid: str = _SERVER_ERROR

    def __init__(self, detail: str, *, status: int | None = None, **params: Any) -> None:
        super().__init__(detail)
        self.detail = detail  # technical, for logs (never holds a secret)
        self.status = status
        self.params = params

    @property
    def message(self) -> str:
        return gettext(self.msgid).format(status=self.status, **self.params)


class Unreachable(ApiError):
    """The network failed (refused, reset, timed out) on every attempt."""

    msgid = _UNREACHABLE


class TlsError(Unreachable):
    """The server's certificate could not be verified: never retried, never bypassed."""

    msgid = _TLS


class AuthRequired(ApiError):
    """401: the token is missing, expired or revoked."""

    msgid = _AUTH_REQUIRED


class InvalidCredentials(ApiError):
    """A login refused (wrong user name or password)."""

    msgid = _BAD_LOGIN


class ServerBusy(ApiError):
    """429/503 still after every attempt (or asking to wait longer than we may)."""

    msgid = _BUSY

    def __init__(self, detail: str, *, status: int | None, retry_after: float | None) -> None:
        super().__init__(detail, status=status, seconds=round(retry_after or 0))
        self.retry_after = retry_after


class ServerError(ApiError):
    """500/502/504 still after every attempt."""

    msgid = _SERVER_ERROR


class RequestRefused(ApiError):
    """Another 4xx: the server said no; ``code``/``reason`` from its :class:`ErrorOut`."""

    msgid = _REFUSED

    def __init__(self, detail: str, *, status: int, code: str, reason: str) -> None:
        super().__init__(detail, status=status, reason=reason)
        self.code = code
        self.reason = reason


class RequestTooLarge(RequestRefused):
    msgid = _TOO_LARGE


class MalformedResponse(ApiError):
    """A response that is not what the protocol says: rejected whole."""

    msgid = _MALFORMED


class InsecureServerError(ValueError):
    """A server URL that would send secrets in clear."""

    def __init__(self, url: str) -> None:
        super().__init__(f"refusing plain http to a non-loopback host: {url}")
        self.url = url

    @property
    def message(self) -> str:
        return gettext(_INSECURE).format(url=self.url)


class EventsUnavailable(ApiError):
    """The server has no live-notification stream (``/api/v1/events``)."""

    msgid = _NO_EVENTS


# -- TLS ---------------------------------------------------------------------------------


def tls_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """A verifying TLS context: the system's trust store, or only ``ca_bundle`` if given."""
    if ca_bundle is not None:
        context = ssl.create_default_context(cafile=str(ca_bundle))
    else:
        context = ssl.create_default_context()
    # create_default_context already does both; stated so nobody weakens it by accident
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    return context


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this computer (where plain http cannot be overheard)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- retries ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter (AWS "Exponential Backoff and Jitter")."""

    attempts: int = 5  # tries in all, the first included
    base: float = 0.5  # seconds
    cap: float = 30.0  # seconds: no single wait is longer
    #: the longest Retry-After honoured within a call; longer ones raise ServerBusy
    max_retry_after: float = 120.0

    def delay(self, failures: int, random: Callable[[], float]) -> float:
        """The wait after ``failures`` consecutive failures (1, 2, …): uniform in [0, ceiling)."""
        ceiling = min(self.cap, self.base * 2.0 ** max(0, failures - 1))
        return random() * ceiling


def _http_date(value: str) -> dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def parse_retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    ``now`` is the server's time (its ``Date`` header) when known, so a date is
    read on the server's clock.  None when absent or unreadable.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    when = _http_date(value)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


# -- clock offset ------------------------------------------------------------------------


class ClockOffsetEstimator:
    """Server clock minus ours, from ``Date`` headers.

    A ``Date`` header is truncated to the second and was stamped somewhere between
    sending the request and receiving the response, so one sample says the offset
    lies in ``[date - received, date + 1s - sent]``; its midpoint is the estimate
    (the round trip's midpoint, corrected for the truncation).  Samples are
    intersected — the newest first, back while they agree — so a few requests
    pin the offset well below a second; a clock jump simply restarts it.
    """

    def __init__(self, window: int = 16) -> None:
        self._samples: deque[tuple[float, float]] = deque(maxlen=window)
        self._offset: dt.timedelta | None = None

    @property
    def offset(self) -> dt.timedelta | None:
        return self._offset

    def observe(self, sent: dt.datetime, received: dt.datetime, date: dt.datetime) -> None:
        if received < sent:  # our clock stepped back during the request: no information
            return
        low = (date - received).total_seconds()
        high = (date + dt.timedelta(seconds=1) - sent).total_seconds()
        self._samples.append((low, high))
        lo, hi = low, high
        for old_lo, old_hi in reversed(list(self._samples)[:-1]):
            new_lo, new_hi = max(lo, old_lo), min(hi, old_hi)
            if new_lo > new_hi:  # disagrees with what came after it: the clock moved
                break
            lo, hi = new_lo, new_hi
        self._offset = dt.timedelta(seconds=(lo + hi) / 2)


# -- server-sent events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One Server-Sent Event (``event`` defaults to ``message``)."""

    event: str
    data: str
    id: str | None = None
    retry: int | None = None  # milliseconds, the server's reconnection advice

    def json(self) -> Any:
        return json.loads(self.data) if self.data else None


async def _parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[ServerEvent]:
    event: str = ""
    data_lines: list[str] = []
    event_id: str | None = None
    retry: int | None = None
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data_lines or event:
                yield ServerEvent(event or "message", "\n".join(data_lines), event_id, retry)
            event, data_lines, retry = "", [], None
            continue
        if line.startswith(":"):
            continue  # a comment: keep-alive
        name, _sep, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data_lines.append(value)
        elif name == "id" and "\0" not in value:
            event_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)


# -- the client ------------------------------------------------------------------------------


def _error_body(response: httpx.Response) -> ErrorOut | None:
    try:
        return ErrorOut.model_validate_json(response.content)
    except ValidationError:
        return None


class ApiClient:
    """The API of one server, over one pooled keep-alive connection set.

    ``transport`` is for tests (``httpx.MockTransport``, ``httpx.ASGITransport``);
    ``random`` and ``sleep`` drive the backoff; ``clock`` is the wall clock the
    offset is measured against (the same clock the cache's SLA "now" uses).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        ca_bundle: Path | None = None,
        timeout: httpx.Timeout | None = None,
        limits: httpx.Limits | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        random: Callable[[], float] = _random.random,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = utc_now,
    ) -> None:
        url = normalize_server_url(base_url)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            raise InsecureServerError(url)
        self.base_url = url
        self.token = token
        self.retry = retry or RetryPolicy()
        self.ssl_context = tls_context(ca_bundle)
        self._random = random
        self._sleep = sleep
        self._clock = clock
        self._offset = ClockOffsetEstimator()
        self._http = httpx.AsyncClient(
            base_url=url,
            verify=self.ssl_context,
            timeout=timeout or httpx.Timeout(30.0, connect=10.0),
            limits=limits or httpx.Limits(max_connections=4, keepalive_expiry=60.0),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- clock ---------------------------------------------------------------------------

    @property
    def clock_offset(self) -> dt.timedelta | None:
        """Server clock minus ours (None until a response carried a ``Date``)."""
        return self._offset.offset

    def server_now(self) -> dt.datetime:
        return self._clock() + (self._offset.offset or dt.timedelta())

    # -- endpoints -----------------------------------------------------------------------

    async def login(self, username: str, password: str) -> TokenOut:
        """Exchange a user name and password for a bearer token (also kept on this client).

        :class:`InvalidCredentials` when refused; a 429 (too many failed sign-ins)
        is not waited out but raised as :class:`ServerBusy` with the server's delay.
        """
        body = LoginRequest(username=username, password=password).model_dump()
        try:
            response = await self._send(
                "POST", "/auth/token", json=body, authorized=False, wait_on_busy=False
            )
        except AuthRequired as error:
            raise InvalidCredentials(error.detail, status=401) from None
        token = self._parse(TokenOut, response)
        self.token = token.access_token
        return token

    async def logout(self) -> None:
        """Revoke the token on the server and forget it here (already invalid: fine)."""
        if self.token is None:
            return
        try:
            await self._send("POST", "/auth/logout")
        except AuthRequired:
            pass  # expired or revoked already: that is what we wanted
        finally:
            self.token = None

    async def me(self) -> UserOut:
        return self._parse(UserOut, await self._send("GET", "/me"))

    async def probe(self, timeout: float = PROBE_TIMEOUT) -> None:
        """Check that the server answers at all: one small request, never retried, given
        up after ``timeout`` seconds.  :class:`Unreachable` when it does not answer (or
        only a proxy does, with 502/504); any other answer, even an error, means it is
        there."""
        try:
            response = await self._http.get(
                f"{API_PREFIX}/me", headers=self._auth_headers(), timeout=timeout
            )
        except httpx.TransportError as error:
            if isinstance(error, httpx.ConnectError) and _is_tls_failure(error):
                raise TlsError(str(error), reason=_tls_reason(error)) from error
            raise Unreachable(f"{type(error).__name__}: {error}") from error
        if response.status_code in (502, 504):  # a proxy whose server is gone
            raise Unreachable(f"HTTP {response.status_code} from a gateway")

    async def ticket(self, ticket_id: int) -> TicketDetailOut:
        """One ticket with its comments and history, as the caller may see it now."""
        return self._parse(TicketDetailOut, await self._send("GET", f"/tickets/{ticket_id}"))

    async def changes(self, cursor: str | None, limit: int = 500) -> ChangePage:
        """One page of the change feed after ``cursor`` (None: from the start)."""
        return self.read_changes(await self.fetch_changes(cursor, limit))

    async def fetch_changes(self, cursor: str | None, limit: int = 500) -> httpx.Response:
        """The answer carrying one page of the change feed, received but not yet read.

        :meth:`read_changes` reads it: a page of 1,000 changes is CPU work, which the
        sync loop does in its worker thread, beside the page's writes, rather than on
        the event loop (where the two threads would take turns at every row).
        """
        params: dict[str, str | int] = {"limit": max(1, min(limit, MAX_FEED_LIMIT))}
        if cursor:
            params["cursor"] = cursor
        return await self._send("GET", "/changes", params=params)

    def read_changes(self, response: httpx.Response) -> ChangePage:
        """The page of the change feed in ``response`` (from :meth:`fetch_changes`), checked.

        Any thread may call it; raises :class:`MalformedResponse` for a page that is not one.
        """
        page = self._parse(ChangePage, response)
        if page.has_more and not page.changes:
            raise MalformedResponse("a feed page with more to come but no change in it")
        return page

    async def push(self, commands: Sequence[Command]) -> CommandBatchResult:
        """Send a batch of commands; their answers (only for commands that were sent)."""
        batch = CommandBatch(commands=list(commands))
        response = await self._send("POST", "/commands", content=batch.model_dump_json())
        result = self._parse(CommandBatchResult, response)
        sent = {command.mutation_id for command in commands}
        strangers = [r.mutation_id for r in result.results if r.mutation_id not in sent]
        if strangers:
            raise MalformedResponse(f"answers to commands not sent: {strangers[:5]}")
        if not result.results:
            raise MalformedResponse("no answer to any command of the batch")
        return result

    # -- presence, reports, announcements ---------------------------------------------

    async def report_presence(
        self, ticket_id: int | None, activity: PresenceActivity | None
    ) -> PresenceOut:
        """Say "I am here" (on ``ticket_id``, ``viewing`` or ``replying``); who else is."""
        body = PresenceIn(ticket_id=ticket_id, activity=activity)
        response = await self._send("POST", "/presence", content=body.model_dump_json())
        return self._parse(PresenceOut, response)

    async def presence(self, ticket_id: int | None = None) -> PresenceOut:
        """The users of the caller's teams (admins: everyone); those on ``ticket_id`` if given."""
        params: dict[str, str | int] = {} if ticket_id is None else {"ticket_id": ticket_id}
        return self._parse(PresenceOut, await self._send("GET", "/presence", params=params))

    async def compliance_report(
        self, start: dt.datetime, end: dt.datetime, team_id: int | None = None
    ) -> ComplianceReport:
        """SLA compliance of the tickets created in [``start``, ``end``) (team leads and admins)."""
        params: dict[str, str | int] = {
            "start": utc(start).isoformat(),
            "end": utc(end).isoformat(),
        }
        if team_id is not None:
            params["team_id"] = team_id
        response = await self._send("GET", "/reports/compliance", params=params)
        return self._parse(ComplianceReport, response)

    async def announcements(self, *, upcoming: bool = False) -> list[AnnouncementOut]:
        """The running announcements (and the scheduled ones with ``upcoming``)."""
        params: dict[str, str | int] = {"upcoming": "true"} if upcoming else {}
        response = await self._send("GET", "/announcements", params=params)
        return self._parse(_Announcements, response).root

    async def create_announcement(self, body: AnnouncementIn) -> AnnouncementOut:
        response = await self._send("POST", "/announcements", content=body.model_dump_json())
        return self._parse(AnnouncementOut, response)

    async def update_announcement(
        self, announcement_id: int, body: AnnouncementIn
    ) -> AnnouncementOut:
        response = await self._send(
            "PUT", f"/announcements/{announcement_id}", content=body.model_dump_json()
        )
        return self._parse(AnnouncementOut, response)

    async def end_announcement(self, announcement_id: int) -> AnnouncementOut:
        """End a running announcement now."""
        response = await self._send("POST", f"/announcements/{announcement_id}/end")
        return self._parse(AnnouncementOut, response)

    async def events(self, *, last_event_id: str | None = None) -> AsyncIterator[ServerEvent]:
        """The server's live notifications (SSE), until the stream ends or fails.

        :class:`EventsUnavailable` when the server has no such stream (404/405).
        """
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        headers |= self._auth_headers()
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(10.0, read=None)  # a quiet stream is not a dead one
        try:
            async with self._http.stream(
                "GET", f"{API_PREFIX}/events", headers=headers, timeout=timeout
            ) as response:
                if response.status_code in (404, 405):
                    raise EventsUnavailable("no /events", status=response.status_code)
                if response.status_code != 200:
                    await response.aread()
                    self._raise_for(response)
                async for event in _parse_sse(response.aiter_lines()):
                    yield event
        except httpx.TransportError as error:
            raise Unreachable(f"{type(error).__name__}: {error}") from error

    # -- plumbing ------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def _parse(self, model: type[_M], response: httpx.Response) -> _M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            raise MalformedResponse(
                f"{response.request.method} {response.request.url.path}: {error}",
                status=response.status_code,
            ) from error

    def _observe_date(self, response: httpx.Response, sent: dt.datetime) -> dt.datetime | None:
        received = self._clock()
        date = _http_date(response.headers.get("Date", ""))
        if date is not None:
            self._offset.observe(sent, received, date)
        return date

    async def _send(
        self,
        method: str,
        path: str,
        *,
        authorized: bool = True,
        wait_on_busy: bool = True,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        content: str | None = None,
    ) -> httpx.Response:
        """One API call, retried as the policy says; a 2xx response or an :class:`ApiError`."""
        headers = self._auth_headers() if authorized else {}
        if content is not None:
            headers["Content-Type"] = "application/json"
        failures = 0
        while True:
            sent = self._clock()
            wait: float | None = None
            try:
                response = await self._http.request(
                    method,
                    f"{API_PREFIX}{path}",
                    params=params,
                    json=json,
                    content=content,
                    headers=headers,
                )
            except httpx.ConnectError as error:
                if _is_tls_failure(error):
                    raise TlsError(str(error), reason=_tls_reason(error)) from error
                failure: ApiError = Unreachable(f"{type(error).__name__}: {error}")
            except httpx.TransportError as error:  # timeouts, resets, protocol errors
                failure = Unreachable(f"{type(error).__name__}: {error}")
            else:
                server_date = self._observe_date(response, sent)
                status = response.status_code
                if status < 300:
                    return response
                if status not in RETRYABLE_STATUSES:
                    self._raise_for(response)
                if status in (429, 503):
                    wait = parse_retry_after(
                        response.headers.get("Retry-After"), now=server_date or self.server_now()
                    )
                    failure = ServerBusy(
                        f"HTTP {status}: {response.text[:200]}", status=status, retry_after=wait
                    )
                    if not wait_on_busy or (wait is not None and wait > self.retry.max_retry_after):
                        raise failure
                else:
                    failure = ServerError(f"HTTP {status}: {response.text[:200]}", status=status)
            failures += 1
            if failures >= self.retry.attempts:
                raise failure
            if wait is None:
                wait = self.retry.delay(failures, self._random)
            await self._sleep(wait)

    def _raise_for(self, response: httpx.Response) -> None:
        status = response.status_code
        body = _error_body(response)
        code = body.code if body else f"http_{status}"
        reason = body.message if body else response.reason_phrase
        detail = f"HTTP {status} {code}"
        if status == 401:
            raise AuthRequired(detail, status=status)
        if status == 413:
            raise RequestTooLarge(detail, status=status, code=code, reason=reason)
        if 400 <= status < 500:
            raise RequestRefused(detail, status=status, code=code, reason=reason)
        raise ServerError(detail, status=status)


def _is_tls_failure(error: httpx.ConnectError) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLError | ssl.CertificateError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error)


def _tls_reason(error: httpx.ConnectError) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause)
        cause = cause.__cause__ or cause.__context__
    return str(error)
