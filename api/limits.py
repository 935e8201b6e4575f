"""What an oversized or slow HTTP client may cost the API: a body limit and two timeouts.

`BodyLimit` (ASGI middleware) answers 413 with a JSON error when a request body is over
its route's limit (booking imports: `api.max_import_bytes`; everything else:
`api.max_body_bytes`), from Content-Length before reading anything, or while reading a
chunked body; and 408 when a body stalls for `api.body_timeout_s` between chunks.
Both close the connection: an abusive upload is not drained.

`header_timeout_protocol` is uvicorn's h11 protocol with a deadline on the request head:
uvicorn (0.54) arms no timer while headers arrive, and any byte cancels its keep-alive
timer, so a client trickling one header a second (slowloris) would hold its connection,
and a slot of `limit_concurrency`, forever. Must not read settings itself: `run_api`
hands the numbers in.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.exceptions import HTTPException

# Routes that take files; every other body is a small JSON document.
IMPORT_PATHS = frozenset({"/v1/bookings/import"})

ASGIApp = Any  # the ASGI callables are untyped here: scope, receive, send are plain dicts
# Do not drain what the client still sends: answer, then close.
_CLOSE = {"Connection": "close"}


# HTTPExceptions, because FastAPI turns any other error while it reads a JSON body into
# a 400 "error parsing the body"; these pass through it and become their own JSON answer.
class _TooLargeError(HTTPException):
    """The client sent more than the route allows (its fault, answered 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes", _CLOSE)


class _BodyTimeoutError(HTTPException):
    """The client stopped sending its body (its fault, answered 408)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(408, f"request body stalled for {timeout_s} s", _CLOSE)


class BodyLimit:
    """ASGI middleware: cap request body sizes and the wait between body chunks."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_import_bytes: int, body_timeout_s: float
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_import_bytes = max_import_bytes
        self.body_timeout_s = body_timeout_s

    def limit_for(self, path: str) -> int:
        return self.max_import_bytes if path in IMPORT_PATHS else self.max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope["headers"])
        if declared is not None and declared > limit:
            await _refuse(send, 413, f"request body larger than {limit} bytes")
            return
        received = 0
        body_done = False
        started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, body_done
            if body_done:  # after the body: http.disconnect waits (server-sent events) are not ours
                return dict(await receive())
            try:
                message = dict(await asyncio.wait_for(receive(), self.body_timeout_s))
            except TimeoutError:
                raise _BodyTimeoutError(self.body_timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLargeError(limit)
                body_done = not message.get("more_body", False)
            return message

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except (_TooLargeError, _BodyTimeoutError) as error:  # read outside a FastAPI route
            if not started:
                await _refuse(send, error.status_code, error.detail)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # h11 has refused a malformed one already
    return None


async def _refuse(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def header_timeout_protocol(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head takes too long."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def handle_events(self) -> None:
            super().handle_events()
            # IDLE: still waiting for (the rest of) a request head.
            if self.conn.their_state is not h11.IDLE:
                self._cancel_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm_head_timer()  # the next request's head has the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timed_out)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self.transport.close()

    return HeaderTimeoutProtocol
