"""Requester notifications by e-mail, as the service contract promises.

A public reply to a ticket and its resolution each queue a message in the
``email_outbox`` table *in the transaction of the change*: a committed change
always has its message, a rolled-back one never does.  Messages are written at
that moment, in the language of the requester's organisation (French unless it
says otherwise).

A worker (:class:`MailWorker`, run by :class:`MailerThread` in the server, or
driven with :meth:`MailWorker.run_once`) sends them later, outside any request
and outside any database transaction, through the configured SMTP server:

1. claim: in a short transaction, take up to ``batch`` due rows whose lease is
   free or expired (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
   processes never take the same row; SQLite serializes writers) and stamp them
   with a lease token and expiry, counting an attempt;
2. send, with no transaction open;
3. record, in another short transaction and only while still holding the
   lease: ``sent``; or, after a temporary failure, ``queued`` again with an
   exponential delay; or ``failed`` after ``max_attempts`` attempts or a
   permanent refusal (an SMTP 5xx answer).

A worker that dies between sending and recording leaves the lease to expire and
the message is sent again: delivery is at least once, never zero.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gettext as _gettext
import logging
import os
import smtplib
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Final, Literal, Protocol, TypeGuard, get_args

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

import i18n
from i18n import N_, _
from server.db import make_sessionmaker, transaction
from server.models import Comment, Organisation, OutboundEmail, Ticket, User

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Security = Literal["none", "starttls", "ssl"]

DEFAULT_LANGUAGE: Final = "fr"
DEFAULT_MAX_ATTEMPTS: Final = 8
DEFAULT_BASE_DELAY: Final = dt.timedelta(minutes=1)
DEFAULT_MAX_DELAY: Final = dt.timedelta(hours=6)
DEFAULT_LEASE: Final = dt.timedelta(minutes=5)

REPLY_SUBJECT: Final = N_("[{number}] New reply to your request: {subject}")
REPLY_BODY: Final = N_(
    "Hello {name},\n\n"
    "{agent} replied to your request {number} ({subject}):\n\n"
    "{reply}\n\n"
    "Please quote {number} in any message about this request.\n\n"
    "-- \nOFFIMIZER support"
)
RESOLVED_SUBJECT: Final = N_("[{number}] Your request has been resolved: {subject}")
RESOLVED_BODY: Final = N_(
    "Hello {name},\n\n"
    "Your request {number} ({subject}) has been resolved.\n\n"
    "If the problem persists, contact us quoting {number}: we will reopen it.\n\n"
    "-- \nOFFIMIZER support"
)
SUPPORT_NAME: Final = N_("the support team")


def translations(language: str) -> _gettext.NullTranslations:
    """The catalog of ``language`` (French or English), whatever the server's own."""
    code = language.split("_")[0].lower()
    return i18n._catalog(code if code in i18n.LANGUAGES else DEFAULT_LANGUAGE)


# -- queuing, in the transaction of the change ---------------------------------


def _language(session: Session, ticket: Ticket) -> str:
    organisation = session.get(Organisation, ticket.organisation_id)
    language = organisation.language if organisation is not None else DEFAULT_LANGUAGE
    return language if language in i18n.LANGUAGES else DEFAULT_LANGUAGE


def _queue(
    session: Session,
    ticket: Ticket,
    kind: str,
    subject: str,
    body: str,
    language: str,
    now: dt.datetime,
) -> OutboundEmail:
    row = OutboundEmail(
        kind=kind,
        ticket_id=ticket.id,
        recipient=ticket.requester_email,
        language=language,
        subject=subject,
        body=body,
        state="queued",
        attempts=0,
        next_attempt_at=now,
        lease_token=None,
        lease_until=None,
        last_error=None,
        created_at=now,
        sent_at=None,
    )
    session.add(row)
    session.flush()
    return row


def queue_reply(
    session: Session, ticket: Ticket, comment: Comment, author: User | None, now: dt.datetime
) -> OutboundEmail:
    """Tell the requester about a public reply (call inside the reply's transaction)."""
    language = _language(session, ticket)
    text = translations(language)
    agent = author.display_name if author is not None else text.gettext(SUPPORT_NAME)
    values = {
        "name": ticket.requester_name,
        "number": ticket.tracking_number,
        "subject": ticket.subject,
        "agent": agent,
        "reply": comment.body,
    }
    subject = text.gettext(REPLY_SUBJECT).format(**values)
    body = text.gettext(REPLY_BODY).format(**values)
    return _queue(session, ticket, "reply", subject, body, language, now)


def queue_resolution(session: Session, ticket: Ticket, now: dt.datetime) -> OutboundEmail:
    """Tell the requester their ticket is resolved (inside the change's transaction)."""
    language = _language(session, ticket)
    text = translations(language)
    values = {
        "name": ticket.requester_name,
        "number": ticket.tracking_number,
        "subject": ticket.subject,
    }
    subject = text.gettext(RESOLVED_SUBJECT).format(**values)
    body = text.gettext(RESOLVED_BODY).format(**values)
    return _queue(session, ticket, "resolved", subject, body, language, now)


# -- SMTP -------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send; ``host`` empty means e-mail is off."""

    host: str = ""
    port: int = 0
    security: Security = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    sender: str = "OFFIMIZER <support@localhost>"
    timeout: float = 30.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return {"ssl": 465, "starttls": 587}.get(self.security, 25)


ENV_PREFIX: Final = "OFFIMIZER_SMTP_"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--smtp-*`` options (each defaults to its ``OFFIMIZER_SMTP_*`` variable)."""
    group = parser.add_argument_group(_("e-mail to requesters (SMTP)"))
    group.add_argument(
        "--smtp-host", help=_("SMTP server; none: no e-mail is sent (env OFFIMIZER_SMTP_HOST)")
    )
    group.add_argument("--smtp-port", type=int, help=_("SMTP port (env OFFIMIZER_SMTP_PORT)"))
    group.add_argument(
        "--smtp-security",
        choices=["none", "starttls", "ssl"],
        help=_("connection security, default starttls (env OFFIMIZER_SMTP_SECURITY)"),
    )
    group.add_argument("--smtp-user", help=_("SMTP user name (env OFFIMIZER_SMTP_USER)"))
    group.add_argument(
        "--smtp-sender", help=_("From address of the messages (env OFFIMIZER_SMTP_SENDER)")
    )
    # the password only from the environment: a command line is visible to every user


def _is_security(value: str) -> TypeGuard[Security]:
    return value in get_args(Security)


def settings_from(
    arguments: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None
) -> SmtpSettings:
    env = os.environ if environ is None else environ

    def pick(option: str, name: str) -> str:
        value = getattr(arguments, option, None) if arguments is not None else None
        return str(value) if value is not None else env.get(ENV_PREFIX + name, "")

    security = pick("smtp_security", "SECURITY") or "starttls"
    if not _is_security(security):
        raise ValueError(
            _("Unknown SMTP security {value}: use none, starttls or ssl.").format(value=security)
        )
    port = pick("smtp_port", "PORT")
    timeout = env.get(ENV_PREFIX + "TIMEOUT", "")
    try:
        return SmtpSettings(
            host=pick("smtp_host", "HOST"),
            port=int(port) if port else 0,
            security=security,
            username=pick("smtp_user", "USER"),
            password=env.get(ENV_PREFIX + "PASSWORD", ""),
            sender=pick("smtp_sender", "SENDER") or SmtpSettings.sender,
            timeout=float(timeout) if timeout else SmtpSettings.timeout,
        )
    except ValueError:
        raise ValueError(_("The SMTP port and timeout must be numbers.")) from None


class Sender(Protocol):
    def __call__(self, message: EmailMessage) -> None: ...


class PermanentFailure(Exception):
    """The server refused the message for good: do not try again."""


def smtp_sender(settings: SmtpSettings) -> Sender:
    """Sends one message per connection through ``settings``."""

    def send(message: EmailMessage) -> None:
        port = settings.effective_port
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(
                settings.host, port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, port, timeout=settings.timeout)
        try:
            with client:
                if settings.security == "starttls":
                    client.starttls(context=context)
                if settings.username:
                    client.login(settings.username, settings.password)
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentFailure(str(error.recipients)) from error
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600 and not isinstance(
                error, smtplib.SMTPAuthenticationError
            ):
                raise PermanentFailure(f"{error.smtp_code} {error.smtp_error!r}") from error
            raise

    return send


# -- the worker -------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    ticket_number: str | None
    recipient: str
    language: str
    subject: str
    body: str
    attempts: int
    created_at: dt.datetime


@dataclass
class RunReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


class MailWorker:
    """Sends the queued messages; safe to run in several processes at once."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        send: Sender,
        clock: Clock,
        *,
        sender_address: str = SmtpSettings.sender,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        base_delay: dt.timedelta = DEFAULT_BASE_DELAY,
        max_delay: dt.timedelta = DEFAULT_MAX_DELAY,
        lease: dt.timedelta = DEFAULT_LEASE,
        batch: int = 20,
    ) -> None:
        self.factory = factory
        self.send = send
        self.clock = clock
        self.sender_address = sender_address
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.batch = batch

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after the ``attempts``-th failed attempt: doubling, capped."""
        delay: dt.timedelta = self.base_delay * (2 ** max(0, attempts - 1))
        return min(delay, self.max_delay)

    def claim(self, token: str) -> list[Claimed]:
        now = self.clock()
        with transaction(self.factory) as session:
            ids = list(
                session.scalars(
                    select(OutboundEmail.id)
                    .where(
                        OutboundEmail.state == "queued",
                        OutboundEmail.next_attempt_at <= now,
                        or_(OutboundEmail.lease_until.is_(None), OutboundEmail.lease_until <= now),
                    )
                    .order_by(OutboundEmail.next_attempt_at, OutboundEmail.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            session.execute(
                update(OutboundEmail)
                .where(OutboundEmail.id.in_(ids))
                .values(
                    lease_token=token,
                    lease_until=now + self.lease,
                    attempts=OutboundEmail.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            rows = session.execute(
                select(OutboundEmail, Ticket.tracking_number)
                .outerjoin(Ticket, Ticket.id == OutboundEmail.ticket_id)
                .where(OutboundEmail.id.in_(ids), OutboundEmail.lease_token == token)
                .order_by(OutboundEmail.id)
                .execution_options(populate_existing=True)
            ).all()
            return [
                Claimed(
                    row.id,
                    number,
                    row.recipient,
                    row.language,
                    row.subject,
                    row.body,
                    row.attempts,
                    row.created_at,
                )
                for row, number in rows
            ]

    def message(self, claimed: Claimed) -> EmailMessage:
        message = EmailMessage()
        domain = self.sender_address.rpartition("@")[2].strip("> ") or "offimizer.invalid"
        message["From"] = self.sender_address
        message["To"] = claimed.recipient
        message["Subject"] = claimed.subject
        message["Date"] = format_datetime(claimed.created_at)
        message["Message-ID"] = make_msgid(f"outbox-{claimed.id}", domain=domain)
        if claimed.ticket_number:
            thread = f"<{claimed.ticket_number}@{domain}>"
            message["In-Reply-To"] = thread
            message["References"] = thread
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(claimed.body)
        message["Content-Language"] = claimed.language  # after set_content, which resets it
        return message

    def record(
        self, claimed: Claimed, token: str, error: BaseException | None, permanent: bool
    ) -> str | None:
        """Store the outcome while holding the lease; returns the new state."""
        now = self.clock()
        with transaction(self.factory) as session:
            row = session.scalars(
                select(OutboundEmail)
                .where(OutboundEmail.id == claimed.id, OutboundEmail.lease_token == token)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one_or_none()
            if row is None:
                log.warning("e-mail %s: lease lost before its outcome was stored", claimed.id)
                return None
            row.lease_token = None
            row.lease_until = None
            if error is None:
                row.state = "sent"
                row.sent_at = now
                row.last_error = None
            else:
                row.last_error = f"{type(error).__name__}: {error}"[:2000]
                if permanent or row.attempts >= self.max_attempts:
                    row.state = "failed"
                else:
                    row.next_attempt_at = now + self.delay(row.attempts)
            return row.state

    def run_once(self) -> RunReport:
        """Claim the due messages, send them, store the outcomes (one round)."""
        report = RunReport()
        token = str(uuid.uuid4())
        for claimed in self.claim(token):
            error: BaseException | None = None
            permanent = False
            try:
                self.send(self.message(claimed))
            except PermanentFailure as exc:
                error, permanent = exc, True
            except (OSError, smtplib.SMTPException) as exc:
                error = exc
            if error is not None:
                log.warning("e-mail %s to %s: %s", claimed.id, claimed.recipient, error)
            state = self.record(claimed, token, error, permanent)
            if state == "sent":
                report.sent += 1
            elif state == "failed":
                report.failed += 1
            elif state == "queued":
                report.retried += 1
        return report

    def drain(self) -> RunReport:
        """Rounds until nothing more is due now."""
        total = RunReport()
        while True:
            report = self.run_once()
            total.sent += report.sent
            total.retried += report.retried
            total.failed += report.failed
            if report.handled == 0:
                return total


class MailerThread(threading.Thread):
    """Runs a :class:`MailWorker` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, worker: MailWorker, interval: float = 5.0) -> None:
        super().__init__(name="offimizer-mailer", daemon=True)
        self.worker = worker
        self.interval = interval
        self._stop_requested = threading.Event()

    def run(self) -> None:
        while not self._stop_requested.is_set():
            try:
                self.worker.drain()
            except Exception:  # the database may be briefly away: try again later
                log.exception("e-mail worker round failed")
            self._stop_requested.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_requested.set()
        self.join(timeout)


def start_mailer(
    factory: sessionmaker[Session], settings: SmtpSettings, clock: Clock
) -> MailerThread | None:
    """The background sender for ``settings`` (``None`` when e-mail is off)."""
    if not settings.enabled:
        return None
    worker = MailWorker(factory, smtp_sender(settings), clock, sender_address=settings.sender)
    thread = MailerThread(worker)
    thread.start()
    return thread


@contextlib.contextmanager
def mailer_running(
    engine: Engine, arguments: argparse.Namespace | None, clock: Clock | None = None
) -> Iterator[MailerThread | None]:
    """The background sender configured by ``--smtp-*``/``OFFIMIZER_SMTP_*``, while inside."""
    settings = settings_from(arguments)
    if not settings.enabled:
        log.warning("no SMTP server configured: requester e-mails stay queued")
    now = clock or (lambda: dt.datetime.now(dt.UTC))
    mailer = start_mailer(make_sessionmaker(engine), settings, now)
    try:
        yield mailer
    finally:
        if mailer is not None:
            mailer.stop()
