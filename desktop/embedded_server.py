"""The reference server inside the console process, for ``offimizer-console --demo``.

A temporary SQLite database seeded with :mod:`server.demo`, served by uvicorn in
a thread on a free 127.0.0.1 port.  Stopped (and its files removed) on exit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

__all__ = ["EmbeddedServer", "demo_available"]


def demo_available() -> bool:
    """Whether the server ships demo seeding (:func:`server.demo.seed_demo`)."""
    try:
        from server import demo
    except ImportError:
        return False
    return callable(getattr(demo, "seed_demo", None)) and hasattr(demo, "DEMO_PASSWORD")


@dataclass
class EmbeddedServer:
    folder: Path
    port: int = 0
    username: str = "agent"
    password: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _disposers: list[object] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start_demo(
        cls, stack: contextlib.ExitStack, *, tickets: int | None = None
    ) -> EmbeddedServer:
        """A seeded demo server, running until ``stack`` closes."""
        from server.app import create_app
        from server.db import make_engine, make_sessionmaker, transaction
        from server.demo import DEMO_PASSWORD, seed_demo
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
        server = cls(folder, password=DEMO_PASSWORD)
        server.serve(create_app(engine))
        stack.callback(server.stop)
        return server

    def serve(self, app: object) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            log_level="warning",
            lifespan="off",
            ws="none",
            access_log=False,
        )
        server = uvicorn.Server(config)
        self._server = server
        done = threading.Event()

        def run() -> None:
            try:
                server.run(sockets=[sock])
            finally:
                sock.close()
                done.set()

        self._thread = threading.Thread(target=run, name="embedded-server", daemon=True)
        self._thread.start()
        while not server.started and self._thread.is_alive():
            done.wait(0.01)
        if not server.started:
            raise OSError("the embedded server did not start")

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(10)
        self._server, self._thread = None, None
