"""Loopback TCP ports: pick a free one, wait until a server accepts on one.

Must not bind anything but 127.0.0.1.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Protocol

from hubsense.errors import ServiceError
from hubsense.logs import get_logger

log = get_logger(__name__)

# Tries when another process takes the free port we picked before our server binds it.
PORT_ATTEMPTS = 3

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port the kernel says is free now (another process may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def accepts(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.01) -> bool:
    """Poll `check` until it is true or `timeout_s` passes; return its last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


class PortServer(Protocol):
    """A private server that binds one loopback port (PostgreSQL, Mosquitto)."""

    _port: int | None
    _requested_port: int | None

    @property
    def port(self) -> int: ...

    def _start_once(self) -> None: ...


def start_retrying_taken_port(server: PortServer, name: str) -> None:
    """Start `server`; when a port we picked was taken meanwhile, pick another and retry.

    A port the user asked for is never changed: its failure is reported as it is.
    """
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            server._start_once()
            return
        except ServiceError:
            if server._requested_port is not None or port_is_free(server.port):
                raise
            if attempt == PORT_ATTEMPTS:
                raise
            log.warning(f"{name}_port_taken", port=server.port, attempt=attempt)
            server._port = free_port()
