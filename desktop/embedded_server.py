"""The reference server inside the console process, for ``offimizer-console --demo``.

A temporary SQLite database seeded with :mod:`server.demo`, served by uvicorn in
a thread on a free 127.0.0.1 port.  Stopped (and its files removed) on exit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

from server.threaded import ServerThread

__all__ = ["EmbeddedServer"]


@dataclass
class EmbeddedServer:
    folder: Path
    thread: ServerThread
    username: str = "agent"
    password: str = ""

    @property
    def url(self) -> str:
        return self.thread.url

    @property
    def port(self) -> int:
        return self.thread.port

    @classmethod
    def start_demo(
        cls, stack: contextlib.ExitStack, *, tickets: int | None = None
    ) -> EmbeddedServer:
        """A seeded demo server, running until ``stack`` closes."""
        from server.app import create_app
        from server.db import make_engine, make_sessionmaker, transaction
        from server.demo.seed import DEMO_PASSWORD, seed_demo
        from server.migrate import upgrade

        shm = Path("/dev/shm")  # a RAM disk where there is one: seeding is write-bound
        base = str(shm) if shm.is_dir() else None
        folder = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="offimizer-server-", dir=base))
        )
        engine = make_engine(f"sqlite:///{folder / 'server.db'}")
        stack.callback(engine.dispose)
        upgrade(engine)
        now = dt.datetime.now(dt.UTC)
        with transaction(make_sessionmaker(engine)) as session:
            if tickets is None:
                seed_demo(session, now)
            else:
                seed_demo(session, now, tickets=tickets)
        thread = ServerThread(lambda: create_app(engine), name="embedded-server")
        thread.start()
        stack.callback(thread.stop)
        return cls(folder, thread, password=DEMO_PASSWORD)

    def stop(self) -> None:
        self.thread.stop()
