"""Oversized and slow HTTP clients against the real API (uvicorn on a free port, real DB).

Request bodies over their route's limit are answered 413 with a JSON error and nothing is
stored; 50 connections trickling headers (slowloris) neither slow a normal request down
nor live past the head deadline; a body that stalls halfway is answered 408 and dropped.
Misbehaving clients are raw sockets, so no HTTP library tidies what they send.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from api_helpers import ApiServer, Keys, api_settings
from support.database import query

from hubsense.settings import ApiSettings

pytestmark = pytest.mark.service

MAX_IMPORT_BYTES = 64 * 1024
MAX_BODY_BYTES = 8 * 1024
HEADER_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 1.5
KEEP_ALIVE_S = 1
CSV_HEAD = b"booking_id,site,desk,start,end\n"


def _csv_row(n: int) -> bytes:
    return b"lim-%06d,hq,d-1,2026-12-01T09:00:00Z,2026-12-01T10:00:00Z\n" % n


@pytest.fixture(scope="module")
def server(api_dsn: str, keys: Keys) -> Iterator[ApiServer]:
    limits = ApiSettings(
        hub_poll_s=0.2,
        max_import_bytes=MAX_IMPORT_BYTES,
        max_body_bytes=MAX_BODY_BYTES,
        header_timeout_s=HEADER_TIMEOUT_S,
        body_timeout_s=BODY_TIMEOUT_S,
        keep_alive_s=KEEP_ALIVE_S,
    )
    api = ApiServer(api_settings(api=limits), api_dsn, None, watcher=False)
    yield api
    api.close()


def _bookings(dsn: str) -> int:
    return int(query(dsn, "SELECT count(*) FROM bookings WHERE booking_id LIKE 'lim-%%'")[0][0])


def _connect(api: ApiServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", api.port), timeout=10)


def _head(method: str, path: str, key: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {key}"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one response (the API closes after a refusal, so read to EOF)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


def test_import_declared_over_the_limit_is_413_before_a_byte_of_body(
    server: ApiServer, keys: Keys, api_dsn: str
) -> None:
    before = _bookings(api_dsn)
    with _connect(server) as sock:
        sock.sendall(
            _head(
                "POST",
                "/v1/bookings/import",
                keys.booking_tool,
                "Content-Type: text/csv",
                f"Content-Length: {20 * 1024 * 1024}",
            )
        )
        status, headers, body = _response(sock)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(body) == {"detail": f"request body larger than {MAX_IMPORT_BYTES} bytes"}
    assert _bookings(api_dsn) == before


def test_chunked_import_over_the_limit_is_413_and_nothing_stored(
    server: ApiServer, keys: Keys, api_dsn: str
) -> None:
    before = _bookings(api_dsn)
    rows = CSV_HEAD + b"".join(_csv_row(n) for n in range(2_000))  # valid, ~120 KiB
    assert len(rows) > MAX_IMPORT_BYTES
    with _connect(server) as sock:
        sock.sendall(
            _head(
                "POST",
                "/v1/bookings/import",
                keys.booking_tool,
                "Content-Type: text/csv",
                "Transfer-Encoding: chunked",
            )
        )
        for start in range(0, MAX_IMPORT_BYTES + 8192, 8192):  # just past the limit, then wait
            chunk = rows[start : start + 8192]
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        status, _, body = _response(sock)
    assert status == 413
    assert json.loads(body)["detail"] == f"request body larger than {MAX_IMPORT_BYTES} bytes"
    assert _bookings(api_dsn) == before


def test_import_under_the_limit_is_stored(server: ApiServer, keys: Keys, api_dsn: str) -> None:
    rows = CSV_HEAD + b"".join(_csv_row(n) for n in range(900_000, 900_100))
    assert len(rows) < MAX_IMPORT_BYTES
    with server.client(keys.booking_tool) as client:
        reply = client.post(
            "/v1/bookings/import", content=rows, headers={"Content-Type": "text/csv"}
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["rows"] == 100
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM bookings WHERE booking_id LIKE 'lim-9%%'")


def test_json_body_over_the_small_limit_is_413_not_a_parse_error(
    server: ApiServer, keys: Keys, api_dsn: str
) -> None:
    before = _bookings(api_dsn)
    big = {
        "booking_id": "lim-json",
        "site": "hq",
        "desk": "d-1",
        "booker": "x" * 10_000,
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T10:00:00Z",
    }
    with server.client(keys.booking_tool) as client:
        reply = client.post("/v1/bookings", json=big)
    assert reply.status_code == 413
    assert reply.json() == {"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}
    # Chunked (no Content-Length): counted while FastAPI reads it, still 413, not 400.
    payload = json.dumps(big).encode()
    with _connect(server) as sock:
        sock.sendall(
            _head(
                "POST",
                "/v1/bookings",
                keys.booking_tool,
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            )
            + b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
        )
        status, _, body = _response(sock)
    assert status == 413, body
    assert _bookings(api_dsn) == before


def test_fifty_slowloris_connections_neither_starve_others_nor_outlive_the_head_deadline(
    server: ApiServer,
) -> None:
    slow = [_connect(server) for _ in range(50)]
    for sock in slow:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    closed_at: dict[int, float] = {}
    stop = threading.Event()
    opened = time.monotonic()

    def trickle() -> None:  # one more header line per connection every 0.2 s
        n = 0
        while not stop.is_set():
            for i, sock in enumerate(slow):
                if i in closed_at:
                    continue
                try:
                    sock.sendall(b"X-Slow-%d: y\r\n" % n)
                except OSError:
                    closed_at[i] = time.monotonic() - opened
            n += 1
            stop.wait(0.2)

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for _ in range(5):
                started = time.monotonic()
                assert client.get("/healthz").status_code == 200
                assert time.monotonic() - started < 2.0
                time.sleep(0.2)
        # The deadline is on the whole head: trickling does not extend it.
        deadline = time.monotonic() + HEADER_TIMEOUT_S + 5
        while len(closed_at) < len(slow) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        trickler.join(5)
        for sock in slow:
            sock.close()
    assert len(closed_at) == 50, f"{50 - len(closed_at)} slow connections still open"
    assert min(closed_at.values()) >= HEADER_TIMEOUT_S - 0.5
    assert max(closed_at.values()) <= HEADER_TIMEOUT_S + 2.5


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/v1/bookings/import", "text/csv"), ("/v1/bookings", "application/json")],
    ids=["import", "json"],
)
def test_half_a_body_then_silence_is_408_and_dropped_after_the_timeout(
    server: ApiServer, keys: Keys, api_dsn: str, path: str, content_type: str
) -> None:
    before = _bookings(api_dsn)
    body = CSV_HEAD + _csv_row(1) if content_type == "text/csv" else b'{"booking_id":"lim-2",'
    with _connect(server) as sock:
        sock.sendall(
            _head(
                "POST",
                path,
                keys.booking_tool,
                f"Content-Type: {content_type}",
                f"Content-Length: {2 * len(body)}",
            )
            + body
        )
        started = time.monotonic()
        status, headers, reply = _response(sock)  # to EOF: the API closes the connection
        waited = time.monotonic() - started
    assert status == 408
    assert json.loads(reply) == {"detail": f"request body stalled for {BODY_TIMEOUT_S} s"}
    assert headers["connection"] == "close"
    assert BODY_TIMEOUT_S - 0.2 <= waited <= BODY_TIMEOUT_S + 2
    assert _bookings(api_dsn) == before


def test_idle_keep_alive_connection_is_closed(server: ApiServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while not first.endswith(b'{"status":"ok"}'):  # head and body may come apart
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert sock.recv(65536) == b""  # EOF: the server closed the idle connection
        assert time.monotonic() - started <= KEEP_ALIVE_S + 2
