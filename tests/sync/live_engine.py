"""The sync engine of a console of the live server, as the end-to-end tests make it."""

from __future__ import annotations

import random

from sync.client import ApiClient, RetryPolicy
from sync.credentials import Credentials
from sync.engine import SyncEngine
from sync.store import Store

from .fakes import RecordingSleep
from .live_server import PASSWORD, LiveServer
from .test_credentials import MemoryKeyring


def live_engine(live: LiveServer, store: Store, username: str, *, seed: int) -> SyncEngine:
    """``username``'s engine over ``store``, not signed in yet: its client tries twice and
    records its waits (``seed`` draws their jitter); no live notifications, so the test
    says when a pass runs."""
    client = ApiClient(
        live.url,
        retry=RetryPolicy(attempts=2),
        sleep=RecordingSleep(),
        random=random.Random(seed).random,
    )
    credentials = Credentials(live.url, backend=MemoryKeyring())
    return SyncEngine(store, client, credentials=credentials, username=username, live=False)


async def signed_in_engine(
    live: LiveServer, store: Store, username: str, *, seed: int
) -> SyncEngine:
    """:func:`live_engine`, signed in with the live server's password."""
    engine = live_engine(live, store, username, seed=seed)
    await engine.login(PASSWORD)
    return engine
