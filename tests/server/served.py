"""``offimizer-server serve`` in a real process of its own, as operators run it: started on
a free loopback port, its log drained by a thread, stopped or killed at the end."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
#: How long a server may take to start (a hang guard, not a timing).
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    """A running ``serve`` process; its log is drained by a thread."""

    process: subprocess.Popen[str]
    url: str
    log: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    #: uvicorn said it runs (``ready`` is also set when the process ends first)
    running: bool = False
    drainer: threading.Thread | None = None

    @classmethod
    def start(cls, database_url: str, *options: str) -> Served:
        """``serve`` on ``database_url`` with ``options``, on a free port; not waited for."""
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "--database-url", database_url, "serve"]
            + ["--host", "127.0.0.1", "--port", str(port), *options],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its worker processes too can be stopped at the end
        )
        served = cls(process, f"http://127.0.0.1:{port}")
        served.drainer = threading.Thread(target=served.drain, daemon=True)
        served.drainer.start()
        return served

    def drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            if "Uvicorn running on" in line:
                self.running = True
                self.ready.set()
        self.ready.set()  # exited: wait no longer

    def wait_started(self) -> None:
        """Until uvicorn says it runs and the server answers."""
        self.ready.wait(timeout=STARTUP_TIMEOUT)
        assert self.running, "the server did not start:\n" + "".join(self.log)
        self.wait_answering()

    def wait_answering(self) -> None:
        """Until the server answers: with ``--workers``, uvicorn says it runs before its
        processes listen."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert self.process.poll() is None, "".join(self.log)
            try:
                httpx.get(f"{self.url}/api/v1/me", timeout=STARTUP_TIMEOUT)
                return
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "".join(self.log)
                time.sleep(0.1)  # polling for the start, not timing anything

    def stop(self) -> None:
        """Ask the server to stop as an operator would (SIGTERM), then end whatever of it
        is left."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        self.kill()

    def kill(self) -> None:
        """End whatever of the server is left, its worker processes too, and its log."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        if self.drainer is not None:
            self.drainer.join(timeout=30)
        assert self.process.stderr is not None
        self.process.stderr.close()
