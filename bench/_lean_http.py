"""A lean HTTP/1.1 client for load generators: keep-alive connections, one request at a time
on each, ``Content-Length`` bodies.

A general-purpose client spends most of a millisecond of CPU on each request (header models,
connection pool bookkeeping, stream wrappers); a bench driving a few hundred calls a second from
one Python process then measures its own saturation instead of the server it aims at. This one
writes prebuilt request bytes and parses only the status line and ``Content-Length`` of each
answer, in an :class:`asyncio.Protocol`, which costs a few tens of microseconds per call.

It speaks only what the benchmarks need: ``POST`` with a body, answers with a
``Content-Length`` (what Corral and the fake provider send for JSON), keep-alive. Anything else
(a chunked answer, a closed connection) fails the request loudly rather than measuring it wrong.
"""

from __future__ import annotations

import asyncio
from typing import cast
from urllib.parse import urlsplit


class ProtocolError(Exception):
    """The server answered something this client does not read."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request in flight."""

    timeout = 120.0
    """Seconds to wait for an answer before failing the request (and the connection)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._needed = -1  # bytes of the whole answer, once its head is read
        self._status = 0
        self._head = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if self._needed < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                self._parse_head(bytes(buffer[:end]), end + 4)
            except ProtocolError as exc:
                self._fail(exc)
                return
        if len(buffer) >= self._needed:
            body = bytes(buffer[self._head : self._needed])
            del buffer[: self._needed]
            self._needed = -1
            waiter, self._waiter = self._waiter, None
            if self._timer is not None:
                self._timer.cancel()
            if waiter is not None and not waiter.done():
                waiter.set_result((self._status, body))

    def _parse_head(self, head: bytes, body_start: int) -> None:
        lines = head.split(b"\r\n")
        self._status = int(lines[0].split(b" ", 2)[1])
        length = -1
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding":
                raise ProtocolError(f"unsupported transfer-encoding {value.strip()!r}")
        if length < 0:
            raise ProtocolError("the answer has no Content-Length")
        self._head = body_start
        self._needed = body_start + length

    def _fail(self, exc: Exception) -> None:
        if self._timer is not None:
            self._timer.cancel()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def request(self, payload: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        assert self._waiter is None
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        self._timer = loop.call_later(self.timeout, self._time_out)
        self.transport.write(payload)
        return self._waiter

    def _time_out(self) -> None:
        self._fail(TimeoutError(f"no answer within {self.timeout:g} s"))


class LeanClient:
    """Keep-alive connections to one server, one per concurrent caller.

    Args:
        url: The URL every request posts to (``http://host:port/path``).
        headers: Headers sent with every request.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only http:// URLs are supported, not {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._prefix = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            f"content-type: application/json\r\n{fixed}"
        ).encode("latin-1")
        self._idle: list[_Connection] = []

    async def _connection(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, self.host, self.port)
        return connection

    async def open(self, count: int) -> None:
        """Open connections until ``count`` are idle (before timing anything)."""
        loop = asyncio.get_running_loop()
        while len(self._idle) < count:
            _, connection = await loop.create_connection(_Connection, self.host, self.port)
            self._idle.append(connection)

    async def post(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Post ``body`` (JSON) with ``headers`` besides the client's own; the answer's status
        and body."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()).encode("latin-1")
        payload = b"%s%scontent-length: %d\r\n\r\n%s" % (self._prefix, extra, len(body), body)
        connection = await self._connection()
        try:
            answer = await connection.request(payload)
        except BaseException:
            if connection.transport is not None:
                connection.transport.close()
            raise
        self._idle.append(connection)
        return answer

    def close(self) -> None:
        """Close every idle connection."""
        for connection in self._idle:
            if connection.transport is not None:
                connection.transport.close()
        self._idle.clear()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when it is installed (it comes with ``uvicorn[standard]``), for less
    CPU per call; asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
