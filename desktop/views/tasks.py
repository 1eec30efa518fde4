"""The network jobs a view starts on the asyncio loop (qasync), kept until they are done."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

__all__ = ["BackgroundTasks"]


class BackgroundTasks:
    """Tasks started on the running loop, each referenced until it is done (the loop
    keeps only weak references), to wait for or cancel together."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def __bool__(self) -> bool:
        return bool(self._running)

    def start(self, job: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``job`` in a task; None when no loop is running (``job`` is closed, unrun)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            job.close()
            return None
        task = loop.create_task(job)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def settle(self) -> None:
        """Until no task is under way, those started meanwhile included (a cancelled one
        is over; an error raised by one is raised here)."""
        while self._running:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*self._running)

    def cancel(self) -> None:
        for task in list(self._running):
            task.cancel()
