"""`hubsense demo` as a newcomer runs it: a real process, real servers, Ctrl-C to stop.

While it runs, the hub page it announces answers over real HTTP; SIGINT (Ctrl-C)
stops the simulator, lets ingest drain, prints the counts and the right-sizing
summary, and stops the private servers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hubsense.devstack.ports import free_port

pytestmark = [pytest.mark.service, pytest.mark.slow]

HUBSENSE = str(Path(sys.executable).parent / "hubsense")


def _read_lines(stream, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
    for line in stream:
        lines.append(line)


def _wait_for_line(lines: list[str], pattern: str, proc: subprocess.Popen[str], timeout_s: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in list(lines):
            if match := re.search(pattern, line):
                return match
        assert proc.poll() is None, "demo exited early:\n" + "".join(lines[-30:])
        time.sleep(0.2)
    raise AssertionError(f"no line matching {pattern!r}:\n" + "".join(lines[-30:]))


def test_demo_runs_the_stack_serves_the_hub_page_and_stops_cleanly_on_ctrl_c(
    service_tmp_path: Path,
) -> None:
    state_dir = service_tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSENSE_")}
    # Started as a shell starts a background job, with SIGINT ignored: Ctrl-C must still work.
    proc = subprocess.Popen(
        [
            "sh",
            "-c",
            'trap "" INT; exec "$0" "$@"',
            HUBSENSE,
            "--log-format",
            "json",
            "demo",
            "--state-dir",
            str(state_dir),
            "--backfill",
            "1d",
            "--api-port",
            str(free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    err: list[str] = []
    out: list[str] = []
    readers = [
        threading.Thread(target=_read_lines, args=(proc.stderr, err), daemon=True),
        threading.Thread(target=_read_lines, args=(proc.stdout, out), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        _wait_for_line(err, r"^ready: the demo runs until Ctrl-C", proc, 120)
        hub = _wait_for_line(err, r"hub-stugun +(http://\S+/hubs/hub-stugun)$", proc, 30).group(1)
        base = hub.removesuffix("/hubs/hub-stugun")
        for label, line in (
            ("sites", f"  sites      {base}/"),
            ("docs", f"  API docs   {base}/docs  (or {base}/redoc)"),
            ("logs", f"  logs       {state_dir / 'demo.log'}"),
        ):
            assert line in [text.rstrip("\n") for text in err], label
        assert any(
            re.match(r"  report     hubsense report --from \S+ --to \S+ --out", t) for t in err
        )
        assert any(re.match(r"  API key    \S{20,}  \(facilities", t) for t in err)
        # The day passes the simulator buys (docs/decisions.md) are named where to look.
        assert any(
            re.match(r"  decision   hubsense analytics decision --from \S+ --to \S+ --dsn", t)
            for t in err
        )
        assert any("day passes the simulated people buy" in t for t in err)
        assert any(t.startswith("  Ctrl-C stops") for t in err)
        with urllib.request.urlopen(hub, timeout=10) as response:
            assert response.status == 200
            assert "hub-stugun" in response.read().decode()
        # Live time is a simulated working day, said on screen; the hub page follows it.
        said = r"^  clock      simulated (\w+) 08:00, 60\u00d7 real time; the hub pages follow"
        clock = _wait_for_line(err, said, proc, 5)
        assert clock.group(1) in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
        with urllib.request.urlopen(hub + "/state", timeout=10) as response:
            state = json.loads(response.read())
        assert state["simulated"] is True
        at = dt.datetime.fromisoformat(state["at"])
        # At least ten hours behind the wall (a whole working day), of which two minutes of
        # the test ran at 60x: still hours behind.
        assert at < dt.datetime.now(dt.UTC) - dt.timedelta(hours=6), state["at"]
        assert at.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%A") == clock.group(1)
        _wait_for_line(
            err, r"[1-9][\d,]* events stored · 0 dead letters · 17/17 nodes online", proc, 120
        )
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(180)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                "demo still running 180 s after SIGINT:\n" + "".join(err[-40:])
            ) from None
        assert code == 0, "".join(err[-30:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for reader in readers:
        reader.join(10)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    final = out[-1]
    match = re.fullmatch(
        r"([\d,]+) events stored · 0 dead letters · 0/17 nodes online · ([\d,]+) bookings\n", final
    )
    assert match, final
    assert int(match.group(1).replace(",", "")) > 10_000  # a simulated day of 17 nodes
    assert int(match.group(2).replace(",", "")) > 0
    text = "".join(err)
    assert "ostersund-hq" in text and "organisation" in text  # the right-sizing summary
    # The console is for people: no log record on it; they are in the log file, as JSON.
    assert not [line for line in err if line.lstrip().startswith("{")], err[:5]
    records = [json.loads(line) for line in (state_dir / "demo.log").read_text().splitlines()]
    assert any(record["event"] == "api_listening" for record in records)
    status = subprocess.run(
        [HUBSENSE, "services", "status", "--state-dir", str(state_dir), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    servers = json.loads(status.stdout)
    assert servers["postgres"]["running"] is False
    assert servers["mosquitto"]["running"] is False
