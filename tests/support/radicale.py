"""A real CalDAV server for tests: Radicale started on a free port with a temporary storage
folder, no authentication; calendars are made and objects put over HTTP."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
from hubsense.devstack.ports import free_port

MKCALENDAR = """<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>{name}</D:displayname></D:prop></D:set>
</C:mkcalendar>"""


class Radicale:
    def __init__(self, storage: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (storage / "radicale.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--server-hosts", f"127.0.0.1:{self.port}",
             "--auth-type", "none", "--rights-type", "authenticated",
             "--storage-filesystem-folder", str(storage / "collections")],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.http = httpx.Client(base_url=self.url, timeout=30)
        for _ in range(300):
            try:
                self.http.options("/")
                return
            except httpx.TransportError:
                assert self.process.poll() is None, "radicale exited"
                threading.Event().wait(0.1)
        raise AssertionError("radicale did not start")

    def make_calendar(self, path: str, name: str) -> str:
        home = path.rstrip("/").rsplit("/", 1)[0] + "/"
        if self.http.request("PROPFIND", home, headers={"Depth": "0"}).status_code == 404:
            assert self.http.request("MKCOL", home).status_code == 201
        response = self.http.request(
            "MKCALENDAR", path, content=MKCALENDAR.format(name=name).encode()
        )
        assert response.status_code == 201, response.text
        return f"{self.url}{path}"

    def put(self, path: str, body: bytes) -> None:
        response = self.http.put(path, content=body, headers={"Content-Type": "text/calendar"})
        assert response.status_code in (201, 204), response.text

    def get(self, path: str) -> bytes:
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        return response.content

    def delete(self, path: str) -> None:
        assert self.http.delete(path).status_code in (200, 204)

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(30)
        self.log.close()
