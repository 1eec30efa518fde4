"""A transport that makes the network misbehave on purpose, around a real one."""

from __future__ import annotations

from enum import StrEnum

import httpx


class Fault(StrEnum):
    DROP_REQUEST = "drop_request"  # never reaches the server
    DROP_RESPONSE = "drop_response"  # the server did the work; the answer is lost
    SERVER_ERROR = "server_error"  # 500 without reaching the application
    TOO_MANY = "too_many"  # 429 with Retry-After
    TIMEOUT = "timeout"  # a read timeout after the server did the work
    DUPLICATE = "duplicate"  # delivered twice; the client sees the second answer


class FaultyTransport(httpx.AsyncBaseTransport):
    """Wraps ``inner``; ``plan`` holds the faults of the next requests, in order.

    ``offline`` refuses every connection.  ``delivered`` counts requests that
    reached the inner transport (the server), duplicates included.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.plan: list[Fault | None] = []
        self.offline = False
        self.delivered = 0
        self.faults_played: list[Fault] = []

    async def _deliver(self, request: httpx.Request) -> httpx.Response:
        self.delivered += 1
        copy = httpx.Request(
            request.method, request.url, headers=request.headers, content=request.content
        )
        response = await self.inner.handle_async_request(copy)
        content = await response.aread()
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        if self.offline:
            raise httpx.ConnectError("network is unreachable", request=request)
        fault = self.plan.pop(0) if self.plan else None
        if fault is not None:
            self.faults_played.append(fault)
        match fault:
            case Fault.DROP_REQUEST:
                raise httpx.ConnectError("connection reset before sending", request=request)
            case Fault.DROP_RESPONSE:
                await self._deliver(request)
                raise httpx.RemoteProtocolError("server disconnected", request=request)
            case Fault.SERVER_ERROR:
                return httpx.Response(500, json={"code": "boom", "message": "Boom."})
            case Fault.TOO_MANY:
                return httpx.Response(
                    429, headers={"Retry-After": "2"}, json={"code": "slow", "message": "Slow."}
                )
            case Fault.TIMEOUT:
                await self._deliver(request)
                raise httpx.ReadTimeout("timed out", request=request)
            case Fault.DUPLICATE:
                await self._deliver(request)
                return await self._deliver(request)
        return await self._deliver(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
