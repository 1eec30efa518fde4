"""The server on a loopback port in a background thread.

For the console's ``--demo``, the end-to-end tests and the benchmarks: one
uvicorn server, bound to ``127.0.0.1``, that can be stopped and started again
on the same port (how tests make a console go offline and come back).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

__all__ = ["ServerThread"]


class ServerThread:
    """Serve the ASGI application made by ``make_app`` in a daemon thread."""

    def __init__(
        self,
        make_app: Callable[[], ASGIApp],
        *,
        port: int = 0,
        tls: tuple[Path, Path] | None = None,
        name: str = "offimizer-server",
    ) -> None:
        self.make_app = make_app
        #: the bound port (a free one is chosen on the first start when 0)
        self.port = port
        #: (certificate, key) PEM files: serve https instead of http
        self.tls = tls
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Bind (the same port again after a stop), serve, and return once it accepts."""
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.make_app(),
            log_level="warning",
            lifespan="off",
            ws="none",
            access_log=False,
            ssl_certfile=str(self.tls[0]) if self.tls else None,
            ssl_keyfile=str(self.tls[1]) if self.tls else None,
        )
        server = uvicorn.Server(config)
        finished = threading.Event()

        def run() -> None:
            try:
                server.run(sockets=[sock])
            finally:
                sock.close()
                finished.set()

        thread = threading.Thread(target=run, name=self.name, daemon=True)
        thread.start()
        while not server.started and thread.is_alive():
            finished.wait(0.01)
        if not server.started:
            thread.join(10)
            raise OSError(f"the server {self.name} did not start on port {self.port}")
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop serving (a no-op when stopped); open connections are closed."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(10)
        if self._thread.is_alive():
            raise RuntimeError(f"the server {self.name} did not stop")
        self._server, self._thread = None, None
