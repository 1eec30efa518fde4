"""The API client: retries, Retry-After, auth, validation, clock offset, TLS."""

from __future__ import annotations

import datetime as dt
import inspect
import random
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio

from sync.client import (
    ApiClient,
    AuthRequired,
    ClockOffsetEstimator,
    InsecureServerError,
    InvalidCredentials,
    MalformedResponse,
    RetryPolicy,
    ServerBusy,
    ServerError,
    Unreachable,
    parse_retry_after,
    tls_context,
)
from sync.outbox import make_command

from .conftest import T0, FakeClock
from .fakes import FakeServer, RecordingSleep, http_date
from .tls_files import make_pki

URL = "https://help.example.com"


@pytest.fixture
def server() -> FakeServer:
    server = FakeServer()
    server.add_ticket(1)
    return server


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest_asyncio.fixture
async def client(server: FakeServer, sleep: RecordingSleep) -> AsyncIterator[ApiClient]:
    async with ApiClient(
        URL,
        token=server.token,
        transport=server.transport(),
        random=random.Random(7).random,
        sleep=sleep,
        clock=FakeClock(),
    ) as made:
        yield made


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, json={"code": "x", "message": "busy"}, headers=headers)


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.asyncio
async def test_backoff_is_exponential_with_full_jitter(
    client: ApiClient, server: FakeServer, sleep: RecordingSleep
) -> None:
    server.faults = [
        lambda r: status(503),
        lambda r: status(500),
        refuse_connection,
        lambda r: status(502),
    ]
    page = await client.changes(None)
    assert [c.id for c in page.changes] == [1]
    assert len(server.requests) == 5
    draws = random.Random(7)
    policy = RetryPolicy()
    ceilings = [policy.base * 2**n for n in range(4)]
    assert sleep.delays == pytest.approx([draws.random() * c for c in ceilings])
    assert all(0 <= d < c for d, c in zip(sleep.delays, ceilings, strict=True))


def test_backoff_never_exceeds_its_cap() -> None:
    policy = RetryPolicy(base=1.0, cap=8.0)
    assert [policy.delay(n, lambda: 0.999) for n in (1, 2, 3, 4, 5, 9)] == pytest.approx(
        [0.999, 1.998, 3.996, 7.992, 7.992, 7.992]
    )
    assert policy.delay(3, lambda: 0.0) == 0.0  # full jitter: anywhere from zero


@pytest.mark.asyncio
async def test_giving_up_after_every_attempt_says_why(
    client: ApiClient, server: FakeServer, sleep: RecordingSleep
) -> None:
    server.faults = [refuse_connection] * 5
    with pytest.raises(Unreachable) as caught:
        await client.changes(None)
    assert len(server.requests) == 5
    assert len(sleep.delays) == 4
    assert "cannot be reached" in caught.value.message
    server.faults = [lambda r: status(500)] * 5
    with pytest.raises(ServerError):
        await client.changes(None)


@pytest.mark.asyncio
async def test_retry_after_in_seconds_is_honoured(
    client: ApiClient, server: FakeServer, sleep: RecordingSleep
) -> None:
    server.faults = [lambda r: status(429, **{"Retry-After": "7"}), lambda r: status(503)]
    await client.changes(None)
    assert sleep.delays[0] == 7.0
    assert sleep.delays[1] < RetryPolicy().base * 2  # no Retry-After: backoff again


@pytest.mark.asyncio
async def test_retry_after_as_a_date_is_read_on_the_servers_clock(
    client: ApiClient, server: FakeServer, sleep: RecordingSleep
) -> None:
    server_now = T0 + dt.timedelta(hours=3)  # far from our clock: only its own Date counts
    when = http_date(server_now + dt.timedelta(seconds=30))
    server.faults = [lambda r: status(503, **{"Retry-After": when, "Date": http_date(server_now)})]
    await client.changes(None)
    assert sleep.delays == [30.0]


@pytest.mark.asyncio
async def test_a_retry_after_too_long_to_wait_is_handed_back(
    client: ApiClient, server: FakeServer, sleep: RecordingSleep
) -> None:
    server.faults = [lambda r: status(429, **{"Retry-After": "3600"})]
    with pytest.raises(ServerBusy) as caught:
        await client.changes(None)
    assert caught.value.retry_after == 3600
    assert sleep.delays == []
    assert "3600 seconds" in caught.value.message


def test_retry_after_forms() -> None:
    assert parse_retry_after("120", now=T0) == 120.0
    assert parse_retry_after(http_date(T0 - dt.timedelta(seconds=5)), now=T0) == 0.0
    assert parse_retry_after("soon", now=T0) is None
    assert parse_retry_after(None, now=T0) is None


@pytest.mark.asyncio
async def test_401_is_auth_required_and_not_retried(
    client: ApiClient, server: FakeServer, sleep: RecordingSleep
) -> None:
    server.token = "another"
    with pytest.raises(AuthRequired) as caught:
        await client.changes(None)
    assert len(server.requests) == 1
    assert sleep.delays == []
    assert "sign in again" in caught.value.message


@pytest.mark.asyncio
async def test_login_sends_credentials_and_keeps_the_bearer_token(
    server: FakeServer, sleep: RecordingSleep
) -> None:
    async with ApiClient(URL, transport=server.transport(), sleep=sleep) as client:
        with pytest.raises(InvalidCredentials):
            await client.login("alice", "wrong")
        assert client.token is None
        token = await client.login("alice", "right")
        assert client.token == token.access_token == server.token
        await client.changes(None)
        assert server.requests[-1].headers["Authorization"] == f"Bearer {token.access_token}"
        await client.logout()
        assert client.token is None
        assert server.revoked == [token.access_token]
        assert server.paths()[-1] == "POST /api/v1/auth/logout"
        with pytest.raises(AuthRequired):
            await client.changes(None)


@pytest.mark.asyncio
async def test_a_malformed_page_is_refused_whole(client: ApiClient, server: FakeServer) -> None:
    server.faults = [lambda r: httpx.Response(200, json={"changes": "nope"})]
    with pytest.raises(MalformedResponse) as caught:
        await client.changes(None)
    assert "could not be understood" in caught.value.message
    server.faults = [lambda r: httpx.Response(200, content=b"<html>proxy login</html>")]
    with pytest.raises(MalformedResponse):
        await client.changes(None)
    stuck = {"changes": [], "next_cursor": "3", "has_more": True, "estimate": 9}
    server.faults = [lambda r: httpx.Response(200, json=stuck)]
    with pytest.raises(MalformedResponse):
        await client.changes("3")


@pytest.mark.asyncio
async def test_push_answers_must_match_what_was_sent(client: ApiClient, server: FakeServer) -> None:
    command = make_command("set_status", 1, 1, status="pending")
    answers = await client.push([command])
    assert [a.status for a in answers.results] == ["applied"]
    stranger = {
        "results": [
            {"status": "applied", "mutation_id": str(uuid4()), "ticket_id": 1, "version": 9}
        ]
    }
    server.faults = [lambda r: httpx.Response(200, json=stranger)]
    with pytest.raises(MalformedResponse):
        await client.push([make_command("acknowledge", 1, 2)])


@pytest.mark.asyncio
async def test_clock_offset_from_the_date_header(server: FakeServer) -> None:
    clock = FakeClock()
    stamps = iter([T0, T0 + dt.timedelta(seconds=0.2)])

    def ticking() -> dt.datetime:
        clock.now = next(stamps, clock.now)
        return clock.now

    server.now = T0 + dt.timedelta(seconds=42, milliseconds=500)  # Date says ...:42
    async with ApiClient(
        URL, token=server.token, transport=server.transport(), clock=ticking
    ) as client:
        assert client.clock_offset is None
        await client.changes(None)
        # Date (truncated to :42) fell somewhere in [sent, received]: offset in [41.8, 43]
        offset = client.clock_offset
        assert offset is not None
        assert offset.total_seconds() == pytest.approx((41.8 + 43.0) / 2)
        assert client.server_now() == T0 + dt.timedelta(seconds=0.2) + offset


def test_clock_offset_samples_narrow_the_estimate_and_a_jump_restarts_it() -> None:
    estimator = ClockOffsetEstimator()
    second = dt.timedelta(seconds=1)
    # true offset 10.3 s; each request takes 100 ms; Date truncated to the second
    for start in (0.0, 0.25, 0.5, 0.75, 1.1):
        sent = T0 + dt.timedelta(seconds=start)
        received = sent + dt.timedelta(milliseconds=100)
        true_server = sent + dt.timedelta(milliseconds=50, seconds=10.3)
        date = true_server.replace(microsecond=0)
        estimator.observe(sent, received, date)
    assert estimator.offset is not None
    assert abs(estimator.offset.total_seconds() - 10.3) < 0.2
    # our clock is set back an hour: the old samples disagree and are dropped
    sent = T0 + dt.timedelta(hours=-1)
    estimator.observe(sent, sent + 0.1 * second, (T0 + 10 * second).replace(microsecond=0))
    assert estimator.offset is not None
    assert estimator.offset > dt.timedelta(minutes=59)


def test_tls_verification_cannot_be_turned_off() -> None:
    assert "verify" not in inspect.signature(ApiClient).parameters
    with pytest.raises(TypeError):
        ApiClient(URL, verify=False)  # type: ignore[call-arg]  # the call this test refuses
    client = ApiClient(URL)
    assert client.ssl_context.verify_mode is ssl.CERT_REQUIRED
    assert client.ssl_context.check_hostname is True
    with pytest.raises(InsecureServerError) as caught:
        ApiClient("http://help.example.com")
    assert "https" in caught.value.message
    ApiClient("http://127.0.0.1:8000")  # loopback (the embedded demo server) is fine


@pytest.fixture
def ca_bundle(tmp_path: Path) -> Path:
    return make_pki(tmp_path)[0]


def test_a_custom_ca_bundle_is_the_trust_store(ca_bundle: Path) -> None:
    context = tls_context(ca_bundle)
    subjects = [c["subject"] for c in context.get_ca_certs()]
    assert subjects == [((("commonName", "Offimizer Test CA"),),)]
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    client = ApiClient(URL, ca_bundle=ca_bundle)
    assert client.ssl_context.get_ca_certs() == context.get_ca_certs()
