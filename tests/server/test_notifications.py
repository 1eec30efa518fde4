"""Requester e-mails: queued in the transaction of the change, sent afterwards by a
worker through a real SMTP server on loopback (aiosmtpd), with retries."""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, TypedDict, Unpack

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthenticatorType, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy import func, select, update

from protocol import AddCommentCommand
from server import changes as feed
from server.commands import apply_command
from server.db import make_sessionmaker, transaction
from server.models import Organisation, OutboundEmail, User
from server.notifications import (
    REPLY_SUBJECT,
    MailWorker,
    SmtpSettings,
    add_arguments,
    mailer_running,
    settings_from,
    smtp_sender,
    translations,
)
from tests.server.conftest import World, command, open_ticket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """What the SMTP server received; ``refuse``: answer RCPT with 550."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)  # aiosmtpd decodes nothing by default
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        self.arrived.set()
        return "250 Message accepted"


@dataclass
class Smtp:
    mailbox: Mailbox
    port: int
    logins: list[str]


def _authenticator(logins: list[str]) -> AuthenticatorType:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and data.password == b"s3cret":
            logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return check


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    mailbox = Mailbox()
    logins: list[str] = []
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=_authenticator(logins),
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield Smtp(mailbox, controller.port, logins)
    finally:
        controller.stop()


class WorkerOptions(TypedDict, total=False):
    max_attempts: int
    base_delay: dt.timedelta
    lease: dt.timedelta
    batch: int


def worker_for(
    world: World,
    port: int,
    *,
    username: str = "",
    password: str = "",
    **options: Unpack[WorkerOptions],
) -> MailWorker:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        sender="Support <support@offimizer.test>",
        username=username,
        password=password,
        timeout=5,
    )
    return MailWorker(
        make_sessionmaker(world.engine),
        smtp_sender(settings),
        world.clock,
        sender_address=settings.sender,
        **options,
    )


def set_language(world: World, organisation: str, language: str) -> None:
    with transaction(make_sessionmaker(world.engine)) as session:
        session.execute(
            update(Organisation)
            .where(Organisation.id == world.ids[organisation])
            .values(language=language)
        )


def outbox(world: World) -> list[OutboundEmail]:
    with transaction(make_sessionmaker(world.engine)) as session:
        return list(session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)))


def send(world: World, *commands: dict[str, object], by: str = "lead") -> list[dict[str, Any]]:
    response = world.client.post(
        "/api/v1/commands", json={"commands": list(commands)}, headers=world.headers(by)
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def test_a_public_reply_reaches_the_requester(world: World, smtp: Smtp) -> None:
    set_language(world, "acme", "en")
    ticket = open_ticket(world)
    send(world, command("add_comment", ticket, body="We replaced the toner.", public=True))
    assert [row.state for row in outbox(world)] == ["queued"]  # not sent in the request
    assert smtp.mailbox.messages == []
    report = worker_for(world, smtp.port).run_once()
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [(recipients, message)] = smtp.mailbox.messages
    assert recipients == ["carla@example.com"]
    number = ticket["tracking_number"]
    assert message["Subject"] == f"[{number}] New reply to your request: Printer on fire"
    assert message["To"] == "carla@example.com"
    assert message["From"] == "Support <support@offimizer.test>"
    assert message["Content-Language"] == "en"
    assert message["References"] == f"<{number}@offimizer.test>"
    text = message.get_content()
    assert "Hello Carla Customer," in text
    assert "We replaced the toner." in text
    assert "lead replied to your request" in text
    [row] = outbox(world)
    assert (row.state, row.attempts, row.sent_at) == ("sent", 1, world.clock())
    assert worker_for(world, smtp.port).run_once().handled == 0  # sent once only


def test_resolution_is_announced_in_the_organisation_language(world: World, smtp: Smtp) -> None:
    ticket = open_ticket(world, organisation_id=world.ids["bolt"])  # language: fr (default)
    send(world, command("set_status", ticket, status="resolved"))
    worker_for(world, smtp.port).run_once()
    [(recipients, message)] = smtp.mailbox.messages
    assert recipients == ["carla@example.com"]
    assert message["Content-Language"] == "fr"
    number = str(ticket["tracking_number"])
    french = translations("fr").gettext("[{number}] Your request has been resolved: {subject}")
    assert message["Subject"] == french.format(number=number, subject="Printer on fire")
    assert number in message.get_content()


def test_notes_and_other_changes_send_nothing(world: World) -> None:
    ticket = open_ticket(world)
    results = send(
        world,
        command("add_comment", ticket, body="internal only", public=False),
        command("set_priority", ticket, priority="P1"),
    )
    assert [result["status"] for result in results] == ["applied", "applied"]
    ticket = world.client.get(
        f"/api/v1/tickets/{ticket['id']}", headers=world.headers("lead")
    ).json()
    send(world, command("set_status", ticket, status="pending"))
    assert outbox(world) == []


def test_a_refused_or_rolled_back_change_queues_nothing(world: World) -> None:
    ticket = open_ticket(world)
    # nina (another team) cannot reply: the command is rejected, nothing queued
    [result] = send(world, command("add_comment", ticket, body="hi", public=True), by="nina")
    assert result["status"] == "rejected"
    assert outbox(world) == []
    factory = make_sessionmaker(world.engine)
    reply = AddCommentCommand(
        type="add_comment",
        mutation_id=uuid.uuid4(),
        ticket_id=ticket["id"],
        base_version=ticket["version"],
        body="never sent",
        public=True,
    )

    def reply_then_fail() -> None:
        with transaction(factory) as session:
            lead = session.get(User, world.ids["lead"])
            assert lead is not None
            applied = apply_command(session, feed.ChangeSet(), lead, reply, world.clock())
            assert applied.status == "applied"
            assert session.scalar(select(func.count()).select_from(OutboundEmail)) == 1
            raise RuntimeError("the transaction fails after the change")

    with pytest.raises(RuntimeError, match="fails after the change"):
        reply_then_fail()
    assert outbox(world) == []


def test_an_unreachable_server_is_retried_with_backoff_then_failed(world: World) -> None:
    ticket = open_ticket(world)
    send(world, command("add_comment", ticket, body="hello", public=True))
    worker = worker_for(
        world, free_port(), max_attempts=3, base_delay=dt.timedelta(minutes=1)
    )  # nothing listens on that port
    assert worker.run_once().retried == 1
    [row] = outbox(world)
    assert (row.state, row.attempts) == ("queued", 1)
    assert row.next_attempt_at == world.clock() + dt.timedelta(minutes=1)
    assert row.last_error
    assert worker.run_once().handled == 0  # not due yet
    world.clock.advance(minutes=1)
    assert worker.run_once().retried == 1
    [row] = outbox(world)
    assert row.next_attempt_at == world.clock() + dt.timedelta(minutes=2)  # doubled
    world.clock.advance(minutes=2)
    assert worker.run_once().failed == 1
    [row] = outbox(world)
    assert (row.state, row.attempts, row.sent_at) == ("failed", 3, None)
    world.clock.advance(days=1)
    assert worker.run_once().handled == 0  # failed is final


def test_a_permanent_refusal_fails_at_once(world: World, smtp: Smtp) -> None:
    smtp.mailbox.refuse = True
    ticket = open_ticket(world)
    send(world, command("set_status", ticket, status="resolved"))
    assert worker_for(world, smtp.port).run_once().failed == 1
    [row] = outbox(world)
    assert (row.state, row.attempts) == ("failed", 1)
    assert "550" in (row.last_error or "") or "carla" in (row.last_error or "")


def test_credentials_are_used(world: World, smtp: Smtp) -> None:
    ticket = open_ticket(world)
    send(world, command("set_status", ticket, status="resolved"))
    worker = worker_for(world, smtp.port, username="mailer", password="s3cret")
    assert worker.run_once().sent == 1
    assert smtp.logins == ["mailer"]
    assert len(smtp.mailbox.messages) == 1


def test_a_claimed_message_is_not_taken_twice_until_its_lease_expires(
    world: World, smtp: Smtp
) -> None:
    ticket = open_ticket(world)
    send(world, command("set_status", ticket, status="resolved"))
    first = worker_for(world, smtp.port, lease=dt.timedelta(minutes=5))
    second = worker_for(world, smtp.port)
    claimed = first.claim("worker-that-dies")
    assert len(claimed) == 1
    assert second.run_once().handled == 0
    world.clock.advance(minutes=5)
    assert second.run_once().sent == 1  # the lease expired: sent by the survivor
    assert first.record(claimed[0], "worker-that-dies", None, False) is None  # lease lost
    [row] = outbox(world)
    assert (row.state, row.attempts) == ("sent", 2)


def test_concurrent_workers_send_each_message_once(world: World, smtp: Smtp) -> None:
    count = 40
    with transaction(make_sessionmaker(world.engine)) as session:
        for index in range(count):
            session.add(
                OutboundEmail(
                    kind="reply",
                    ticket_id=None,
                    recipient=f"r{index}@example.com",
                    language="en",
                    subject=f"message {index}",
                    body="body",
                    state="queued",
                    attempts=0,
                    next_attempt_at=world.clock(),
                    created_at=world.clock(),
                )
            )
    workers = [worker_for(world, smtp.port, batch=3) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def run(worker: MailWorker) -> None:
        try:
            barrier.wait()
            worker.drain()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    subjects = sorted(message["Subject"] for _rcpt, message in smtp.mailbox.messages)
    assert subjects == sorted(f"message {index}" for index in range(count))
    assert {row.state for row in outbox(world)} == {"sent"}
    assert {row.attempts for row in outbox(world)} == {1}


def test_settings_come_from_options_then_environment() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    environ = {
        "OFFIMIZER_SMTP_HOST": "mail.example.com",
        "OFFIMIZER_SMTP_SECURITY": "ssl",
        "OFFIMIZER_SMTP_USER": "robot",
        "OFFIMIZER_SMTP_PASSWORD": "pw",
    }
    settings = settings_from(parser.parse_args(["--smtp-port", "2465"]), environ)
    assert settings == SmtpSettings(
        host="mail.example.com", port=2465, security="ssl", username="robot", password="pw"
    )
    assert "pw" not in repr(settings)
    overridden = settings_from(
        parser.parse_args(["--smtp-host", "other", "--smtp-security", "starttls"]), environ
    )
    assert (overridden.host, overridden.effective_port) == ("other", 587)
    assert not settings_from(parser.parse_args([]), {}).enabled
    with pytest.raises(ValueError, match="tls"):
        settings_from(None, {"OFFIMIZER_SMTP_SECURITY": "tls"})


def test_the_french_subject_is_a_translation_of_the_english_one() -> None:
    english = translations("en").gettext(REPLY_SUBJECT)
    assert english == REPLY_SUBJECT
    assert "{number}" in translations("fr").gettext(REPLY_SUBJECT)


def test_the_server_background_sender_delivers_what_is_queued(world: World, smtp: Smtp) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = ["--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port), "--smtp-security", "none"]
    arguments = parser.parse_args(options)
    ticket = open_ticket(world)
    send(world, command("set_status", ticket, status="resolved"))
    with mailer_running(world.engine, arguments, clock=world.clock) as mailer:
        assert mailer is not None
        assert smtp.mailbox.arrived.wait(30)  # its first round starts at once
    assert not mailer.is_alive()
    [(recipients, _message)] = smtp.mailbox.messages
    assert recipients == ["carla@example.com"]
