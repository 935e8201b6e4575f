"""Real ingest for tests: `hubsense.ingest.service.run` in a thread, or `hubsense ingest run`
as a child process.

Every folder that publishes events (api, ingest, edge, fuzz, simulators) needs ingest
running against its database; one runner keeps start-up, stats and shutdown the same.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from hubsense.ingest.service import IngestStats, run

from hubsense.settings import IngestSettings, Settings
from support.waiting import wait_for


def ingest_settings(prefix: str = "w", **ingest: Any) -> Settings:
    """Settings for one test: its own worker id and share group, so no old session interferes."""
    tag = uuid.uuid4().hex[:8]
    fields: dict[str, Any] = {
        "worker_id": f"{prefix}-{tag}",
        "share_group": f"{prefix}-{tag}",
        "batch_max_ms": 50,
    }
    fields |= ingest
    return Settings(ingest=IngestSettings(**fields))


class IngestThread:
    """`hubsense.ingest.service.run` in a thread, stopped like SIGTERM stops the CLI.

    `.latest` holds the last stats it reported, `.close()` returns the final ones. An
    exception in ingest is kept in `.error`, fails `wait_ready` and `close`, and is raised
    again so pytest reports it even if nobody closes the runner.
    """

    def __init__(self, settings: Settings, dsn: str, url: str) -> None:
        self.settings, self.dsn, self.url = settings, dsn, url
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.result: IngestStats | None = None
        self.latest: IngestStats | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = run(
                self.settings,
                self.stop,
                self._on_stats,
                dsn=self.dsn,
                mqtt_url=self.url,
                ready=self.ready,
            )
        except BaseException as error:
            self.error = error
            raise

    def _on_stats(self, stats: IngestStats) -> None:
        self.latest = stats

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Block until ingest has subscribed: publishes before that would go nowhere."""
        deadline = time.monotonic() + timeout_s
        while not self.ready.wait(0.1):
            assert self.error is None, f"ingest failed to start: {self.error!r}"
            assert time.monotonic() < deadline, "ingest did not subscribe"

    def acked(self) -> int:
        """Messages acked so far, by the last stats reported."""
        return self.latest.messages_acked if self.latest else 0

    def close(self) -> IngestStats:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "ingest did not stop"
        assert self.error is None, self.error
        assert self.result is not None
        return self.result


HUBSENSE = str(Path(sys.executable).parent / "hubsense")


class IngestProcess:
    """`hubsense ingest run` as its own process, so SIGTERM and SIGKILL are real.

    `start()` may be called again after `kill()`: each run logs JSON to its own file in
    `workdir` (`.runs`), so what one run said is never mixed with the next.
    """

    def __init__(
        self, dsn: str, url: str, worker_id: str, group: str, workdir: Path, **ingest: Any
    ) -> None:
        self.args = [
            HUBSENSE, "--log-format", "json", "ingest", "run",
            "--dsn", dsn, "--mqtt-url", url, "--worker-id", worker_id,
        ]  # fmt: skip
        self.env = {**os.environ, "HUBSENSE_INGEST__SHARE_GROUP": group}
        self.env |= {f"HUBSENSE_INGEST__{key.upper()}": str(value) for key, value in ingest.items()}
        self.worker_id = worker_id
        self.workdir = workdir
        self.runs: list[Path] = []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log_path = self.workdir / f"{self.worker_id}-{len(self.runs)}.log"
        self.runs.append(log_path)
        with log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=log_file, stderr=subprocess.STDOUT
            )

    def wait_subscribed(self, timeout_s: float = 60) -> None:
        wait_for(
            lambda: b"mqtt_subscribed" in self.runs[-1].read_bytes(),
            timeout_s,
            f"{self.worker_id} subscribed",
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self, timeout_s: float = 90) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def log_records(self) -> list[dict[str, Any]]:
        """Every JSON log record of every run, in order."""
        records = []
        for path in self.runs:
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    records.append(json.loads(line))
        return records

    def last_stats(self) -> list[dict[str, Any]]:
        """Per run, the last counters it logged (a killed run's are up to 10 s old)."""
        out = []
        for path in self.runs:
            last: dict[str, Any] = {}
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{") and (
                    '"ingest_stats"' in line or '"ingest_stopped"' in line
                ):
                    last = json.loads(line)
            out.append(last)
        return out
