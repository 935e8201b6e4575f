"""`hubsense dashboards push` through grafana-client, against a recording stand-in server.

No Grafana server can run on these machines, so a small local HTTP server plays
Grafana's folder and dashboard endpoints and records every request; the test checks
what a real Grafana would have received. It is a stand-in: it proves the requests,
not that Grafana accepts the boards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hubsense.dashboards.build import JSON_DIR
from hubsense.dashboards.push import load_boards, push

from hubsense.errors import InputError, ServiceError

HUBSENSE = Path(sys.executable).parent / "hubsense"


class FakeGrafana(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.folders: set[str] = set()
        self.versions: dict[str, int] = {}
        self.refuse_token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeGrafana

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        return body

    def do_GET(self) -> None:
        self._record()
        if self.headers.get("Authorization") == f"Bearer {self.server.refuse_token}":
            self._answer(401, {"message": "invalid API key"})
        elif self.path.startswith("/api/folders/"):
            uid = self.path.rsplit("/", 1)[1]
            if uid in self.server.folders:
                self._answer(200, {"uid": uid, "title": uid})
            else:
                self._answer(404, {"message": "folder not found"})
        else:
            self._answer(404, {"message": "not found"})

    def do_POST(self) -> None:
        body = self._record()
        if self.path == "/api/folders":
            self.server.folders.add(body["uid"])
            self._answer(200, {"uid": body["uid"], "title": body["title"]})
        elif self.path == "/api/dashboards/db":
            uid = body["dashboard"]["uid"]
            self.server.versions[uid] = self.server.versions.get(uid, 0) + 1
            self._answer(200, {
                "status": "success", "uid": uid, "url": f"/d/{uid}/x",
                "version": self.server.versions[uid],
            })  # fmt: skip
        else:
            self._answer(404, {"message": "not found"})


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    server = FakeGrafana()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_cli_push_creates_the_folder_and_uploads_every_board(grafana: FakeGrafana) -> None:
    result = subprocess.run(
        [str(HUBSENSE), "dashboards", "push", "--url", grafana.url, "--token", "glsa_secret"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{uid}\tversion 1\t/d/{uid}/x"
        for uid in ("hubsense-facilities", "hubsense-fleet", "hubsense-hub")
    ]
    calls = [(method, path) for method, path, _, _ in grafana.requests]
    assert calls == [
        ("GET", "/api/folders/hubsense"),
        ("POST", "/api/folders"),
        ("POST", "/api/dashboards/db"),
        ("POST", "/api/dashboards/db"),
        ("POST", "/api/dashboards/db"),
    ]
    assert all(h.get("Authorization") == "Bearer glsa_secret" for _, _, h, _ in grafana.requests)
    assert grafana.requests[1][3] == {"title": "hubsense", "uid": "hubsense"}
    uploads = [body for _, path, _, body in grafana.requests if path == "/api/dashboards/db"]
    committed = {b["uid"]: b for b in load_boards(JSON_DIR)}
    for body in uploads:
        assert (body["folderUid"], body["overwrite"]) == ("hubsense", True)
        board = body["dashboard"]
        assert board.pop("id") is None  # Grafana matches by uid
        assert board == committed[board["uid"]]


def test_second_push_reuses_the_folder(grafana: FakeGrafana) -> None:
    boards = load_boards(JSON_DIR)
    push(grafana.url, "t", boards)
    grafana.requests.clear()
    pushed = push(grafana.url, "t", boards)
    assert [p.version for p in pushed] == [2, 2, 2]
    assert [r[:2] for r in grafana.requests][:2] == [
        ("GET", "/api/folders/hubsense"),
        ("POST", "/api/dashboards/db"),
    ]


def test_refused_token_is_one_error_line(grafana: FakeGrafana) -> None:
    grafana.refuse_token = "bad"
    result = subprocess.run(
        [str(HUBSENSE), "dashboards", "push", "--url", grafana.url, "--token", "bad"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"hubsense: error: grafana at {grafana.url}: ")
    assert "bad" not in line.split(": ", 2)[2].replace("invalid API key", "")


def test_unreachable_grafana() -> None:
    with pytest.raises(ServiceError, match=r"grafana at http://127\.0\.0\.1:9: "):
        push("http://user:pw@127.0.0.1:9", "t", load_boards(JSON_DIR), timeout_s=2)


def test_no_boards(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no board JSON files"):
        load_boards(tmp_path)
