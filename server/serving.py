"""Serving the API with uvicorn, as ``offimizer-server serve`` does.

Two things uvicorn does not do by itself:

* Live event streams never end on their own, so uvicorn would wait for them
  forever when told to stop ("Waiting for connections to close").  A stopping
  server ends them first (:class:`StoppingServer`; in worker processes,
  :func:`end_streams_on_stop`), so consoles reconnect elsewhere at once; whatever
  still runs after :data:`GRACEFUL_SHUTDOWN` seconds is cancelled.
* ``X-Forwarded-For`` is believed only from the proxies the operator names
  (``--forwarded-allow-ips``); by default from none, so no client can pose as
  another address (the failed sign-in limits are per address).
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Final, TypedDict

import uvicorn
from fastapi import FastAPI

from server.events import EventHub

#: Seconds a stopping server gives the requests under way before cancelling them.
GRACEFUL_SHUTDOWN: Final = 3

#: A Python-level signal handler (what :func:`signal.getsignal` gives when callable).
_Handler = Callable[[int, FrameType | None], object]


class UvicornOptions(TypedDict):
    """What :func:`uvicorn_options` sets, as uvicorn's own keyword arguments."""

    date_header: bool
    timeout_graceful_shutdown: int
    proxy_headers: bool
    forwarded_allow_ips: str | list[str]


def uvicorn_options(forwarded_allow_ips: str | None) -> UvicornOptions:
    """What every ``serve`` process is configured with, whatever the workers."""
    trusted = (forwarded_allow_ips or "").strip()
    return {
        "date_header": False,  # the application sends its own, from its clock
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN,
        "proxy_headers": bool(trusted),
        # explicit: uvicorn would otherwise trust $FORWARDED_ALLOW_IPS or 127.0.0.1
        "forwarded_allow_ips": trusted or [],
    }


class StoppingServer(uvicorn.Server):
    """A uvicorn server that ends the live event streams as soon as it stops."""

    def __init__(self, config: uvicorn.Config, hub: EventHub | None) -> None:
        super().__init__(config)
        self.hub = hub

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.hub is not None:
            self.hub.close()
        await super().shutdown(sockets)


def end_streams_on_stop(hub: EventHub) -> None:
    """End ``hub``'s streams as soon as this process is told to stop (SIGTERM, Ctrl+C),
    then let the handler in place (uvicorn's) stop the server.

    For worker processes, which uvicorn starts itself: they build their app once
    uvicorn handles the signals, so the handlers found here are uvicorn's.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers belong to the main thread
    for number in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(number)
        if not callable(previous):
            continue  # nobody stops a server on this signal here

        def handler(signum: int, frame: FrameType | None, previous: _Handler = previous) -> None:
            hub.close_threadsafe()
            previous(signum, frame)

        signal.signal(number, handler)


def run(app: FastAPI, *, host: str, port: int, forwarded_allow_ips: str | None) -> bool:
    """Serve ``app`` (made by :func:`server.app.create_app`) in this process until told
    to stop (SIGTERM, Ctrl+C); ``False`` when it could not start (uvicorn said why)."""
    config = uvicorn.Config(app, host=host, port=port, **uvicorn_options(forwarded_allow_ips))
    hub = getattr(app.state, "events", None)
    server = StoppingServer(config, hub if isinstance(hub, EventHub) else None)
    server.run()
    return server.started


def run_workers(
    factory: str, *, host: str, port: int, workers: int, forwarded_allow_ips: str | None
) -> None:
    """Serve the app made by ``factory`` (an import path) in ``workers`` processes."""
    uvicorn.run(
        factory,
        factory=True,
        workers=workers,
        host=host,
        port=port,
        **uvicorn_options(forwarded_allow_ips),
    )
