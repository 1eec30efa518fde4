"""Losing and finding the server: a dropped event stream is news at once, and while
offline the engine probes cheaply, with jitter, until the server answers again."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from sync.client import ApiClient, RetryPolicy, Unreachable
from sync.credentials import Credentials
from sync.engine import SyncEngine, SyncState
from sync.store import Store

from .conftest import FakeClock
from .fakes import FakeServer, ManualTimer, RecordingSleep, retry_moved_from, state_is, until
from .test_credentials import MemoryKeyring

URL = "https://help.example.com"
#: What the issue asks: news of a lost server, and of its return, within 5 seconds.
NEWS = dt.timedelta(seconds=5)


class LiveStream(httpx.AsyncByteStream):
    """An open ``/events`` stream: a first notice, then quiet until the server goes."""

    def __init__(self) -> None:
        self._dropped = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'event: changes\ndata: {"seq": 0}\nid: 0\n\n'
        await self._dropped.wait()
        raise httpx.ReadError("connection reset by peer")

    def drop(self) -> None:
        self._dropped.set()

    async def aclose(self) -> None:
        self._dropped.set()


class Network:
    """The scripted server behind a switch: up, or refusing every connection."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.up = True
        self.streams: list[LiveStream] = []
        self.refused = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path.endswith("/events"):
            self.server.requests.append(request)
            stream = LiveStream()
            self.streams.append(stream)
            return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=stream)
        return self.server.handle(request)

    def stop(self) -> None:
        """The server process ends: its streams reset, new connections refused."""
        self.up = False
        for stream in self.streams:
            stream.drop()


@pytest.fixture
def network() -> Network:
    server = FakeServer()
    server.add_ticket(1)
    return Network(server)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def timer() -> ManualTimer:
    return ManualTimer()


@pytest_asyncio.fixture
async def engine(
    store: Store, network: Network, clock: FakeClock, sleep: RecordingSleep, timer: ManualTimer
) -> AsyncIterator[SyncEngine]:
    credentials = Credentials(URL, backend=MemoryKeyring())
    assert network.server.token is not None
    credentials.save("alice", network.server.token)
    client = ApiClient(
        URL,
        transport=network.transport(),
        random=random.Random(1).random,
        sleep=sleep,
        clock=clock,
        retry=RetryPolicy(attempts=5),  # the client's retries of an ordinary request
    )
    made = SyncEngine(
        store,
        client,
        credentials=credentials,
        username="alice",
        interval=60.0,
        random=random.Random(2).random,
        timer=timer,
        offload=False,
    )
    yield made
    await made.stop()
    await client.aclose()


async def _online_and_listening(engine: SyncEngine, network: Network) -> None:
    statuses = engine.statuses()
    await engine.start()
    await until(statuses, lambda s: s.state is SyncState.ONLINE and bool(network.streams))
    await engine.wait_idle()


@pytest.mark.asyncio
async def test_a_dropped_event_stream_says_offline_at_once_without_waiting_for_retries(
    engine: SyncEngine,
    network: Network,
    clock: FakeClock,
    sleep: RecordingSleep,
    timer: ManualTimer,
) -> None:
    await _online_and_listening(engine, network)
    statuses = engine.statuses()
    network.stop()  # the timer of the next pass (a minute) is never fired here
    status = await until(statuses, state_is(SyncState.OFFLINE))
    # found out by one probe, with no retry of the client's
    assert sleep.delays == []
    assert network.refused == 1
    assert status.error is not None
    assert status.retry_at is not None
    assert dt.timedelta(0) < status.retry_at - clock() < NEWS
    await engine.wait_idle()
    assert timer.delays[-1] == pytest.approx((status.retry_at - clock()).total_seconds(), abs=1e-5)


@pytest.mark.asyncio
async def test_offline_probes_cheaply_with_jitter_and_finds_the_server_within_seconds(
    engine: SyncEngine,
    network: Network,
    clock: FakeClock,
    sleep: RecordingSleep,
    timer: ManualTimer,
) -> None:
    await _online_and_listening(engine, network)
    statuses = engine.statuses()
    network.stop()
    await until(statuses, state_is(SyncState.OFFLINE))
    await engine.wait_idle()
    probes: list[float] = []
    for turn in range(1, 21):  # a long outage: twenty tries, one request each
        probes.append(timer.delays[-1])
        before = engine.status.retry_at
        timer.fire()
        status = await until(statuses, retry_moved_from(before))
        await engine.wait_idle()
        assert status.state is SyncState.OFFLINE
        assert network.refused == 1 + turn
    assert sleep.delays == []  # no retries within a probe
    # never the growing backoff of failed pushes: every try within seconds, jittered so
    # that a thousand consoles do not come back in step
    assert max(probes) < NEWS.total_seconds()
    assert min(probes) >= 1.0
    assert len(set(probes)) > 10
    assert engine.status.retry_at is not None
    assert engine.status.retry_at - clock() < NEWS

    network.up = True  # the server is back: the next probe finds it
    timer.fire()
    await until(statuses, state_is(SyncState.ONLINE))
    for _turn in range(50):  # the listener connects again once the server answered
        if len(network.streams) == 2:
            break
        await asyncio.sleep(0)
    assert len(network.streams) == 2  # listening again
    await engine.wait_idle()
    assert timer.delays[-1] == 60.0  # and back to the usual interval


@pytest.mark.asyncio
async def test_a_server_that_answers_with_errors_still_backs_off(
    engine: SyncEngine, network: Network, timer: ManualTimer
) -> None:
    """Probing is for a server that cannot be reached; one that answers 500 is not
    hammered every few seconds."""
    await engine.start()
    await engine.wait_idle()
    failing = httpx.Response(500, json={"code": "boom", "message": "Boom."})
    network.server.faults = [lambda request: failing] * 200
    delays: list[float] = []
    for _turn in range(6):
        engine.sync_now()
        await engine.wait_idle()
        assert engine.status.state is SyncState.ERROR
        delays.append(timer.delays[-1])
    assert max(delays) > NEWS.total_seconds()  # the backoff grew past probing's pace


@pytest.mark.asyncio
async def test_a_probe_is_one_request_and_only_silence_or_a_gateway_means_gone() -> None:
    answers: list[httpx.Response | None] = [
        None,  # refused
        httpx.Response(502),  # a proxy whose server is gone
        httpx.Response(401),  # there, and it says so
        httpx.Response(500),
        httpx.Response(503, headers={"Retry-After": "30"}),  # there, busy: the pass waits
    ]
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[len(seen) - 1]
        if answer is None:
            raise httpx.ConnectError("connection refused", request=request)
        return answer

    sleep = RecordingSleep()
    async with ApiClient(URL, transport=httpx.MockTransport(handle), sleep=sleep) as client:
        outcomes = []
        for _answer in answers:
            try:
                await client.probe()
            except Unreachable:
                outcomes.append("gone")
            else:
                outcomes.append("there")
    assert outcomes == ["gone", "gone", "there", "there", "there"]
    assert len(seen) == len(answers)
    assert sleep.delays == []  # never retried
