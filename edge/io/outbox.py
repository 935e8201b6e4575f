"""The node's durable outbox: every event is stored here before it is sent.

SQLite in WAL mode with `synchronous=FULL`, so a committed event survives a
power cut and a SIGKILL; each append is one transaction that also advances the
node's `seq` counter, so a seq is never handed out twice, across reboots too.
Events are deleted only after their PUBACK (`delete_range`). When the disk
(or the configured size cap) is full, the oldest events are evicted so the
newest ones, `alive` included, keep flowing; the eviction is counted.

Owns only storage. What to send when is `hubsense.edge.core.outbox_rules`;
it must not talk MQTT.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubsense.errors import ConfigError, ServiceError
from hubsense.logs import get_logger

log = get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq   INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    body  TEXT NOT NULL
);
"""
# A fresh outbox (first boot, replaced SD card) starts its seq from the clock so it
# never reuses a seq an earlier outbox of the same node sent: ingest would drop the
# new events as duplicates of (node, seq). 1,000 seqs per millisecond cannot be outrun.
SEQS_PER_MS = 1_000
# Before this instant (2024-01-01) the clock has not been set (a Pi has no RTC).
PLAUSIBLE_AFTER_MS = 1_704_067_200_000
_SQLITE_FULL = 13


@dataclass(frozen=True, slots=True)
class OutboxHealth:
    depth: int
    oldest_ts_ms: int | None
    last_ts_ms: int
    next_seq: int
    evicted_total: int
    integrity: str


class OutboxFullError(ServiceError):
    """The disk is full and not even one old event could be evicted."""


class Outbox:
    """Append events with the next seq; read the oldest pending; delete after PUBACK."""

    def __init__(self, path: Path, node: str, now_ms: int, max_bytes: int | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.node = node
        self.disk_full = False
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we publish it, so a power cut can never
        # roll a seq back and hand it out again.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        if max_bytes is not None:
            page = self._db.execute("PRAGMA page_size").fetchone()[0]
            self._db.execute(f"PRAGMA max_page_count={max(16, max_bytes // page)}")
        self._init_meta(now_ms)
        self._depth = int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def _init_meta(self, now_ms: int) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if "node" in meta and meta["node"] != self.node:
            raise ConfigError(
                f"outbox {self.path}: belongs to node {meta['node']!r}, not {self.node!r}; "
                "use another state_dir or move the old outbox away"
            )
        if "next_seq" not in meta:
            seed = now_ms * SEQS_PER_MS if now_ms >= PLAUSIBLE_AFTER_MS else 0
            with self._tx():
                self._db.executemany(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [
                        ("node", self.node),
                        ("next_seq", str(seed)),
                        ("last_ts_ms", "0"),
                        ("evicted_total", "0"),
                    ],
                )
            log.info("outbox_created", path=str(self.path), first_seq=seed)
        self._next_seq = int(self._meta("next_seq"))
        self._last_ts_ms = int(self._meta("last_ts_ms"))
        self._evicted = int(self._meta("evicted_total"))

    def _meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def last_ts_ms(self) -> int:
        """The timestamp of the newest event ever appended (the clock must not go below it)."""
        return self._last_ts_ms

    @property
    def evicted_total(self) -> int:
        return self._evicted

    def append(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Give each event (`ts` and `type` set, no `seq`) the next seq and store them at once."""
        try:
            return self._append(events)
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorcode", None) != _SQLITE_FULL:
                raise
        self._note_full()
        while True:
            if not self._evict_oldest():
                raise OutboxFullError(f"outbox {self.path}: disk full and nothing left to evict")
            try:
                return self._append(events)
            except sqlite3.OperationalError as error:
                if getattr(error, "sqlite_errorcode", None) != _SQLITE_FULL:
                    raise

    def _append(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seq = self._next_seq
        out, rows = [], []
        for event in events:
            full = {"seq": seq, **event}
            rows.append((seq, full["ts"], json.dumps(full, separators=(",", ":"))))
            out.append(full)
            seq += 1
        last_ts = max([self._last_ts_ms, *(r[1] for r in rows)])
        with self._tx():
            self._db.executemany("INSERT INTO events VALUES (?, ?, ?)", rows)
            self._db.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [(str(seq), "next_seq"), (str(last_ts), "last_ts_ms")],
            )
        self._next_seq, self._last_ts_ms = seq, last_ts
        self._depth += len(rows)
        return out

    def _note_full(self) -> None:
        if not self.disk_full:
            log.warning("outbox_disk_full", path=str(self.path), depth=self._depth)
        self.disk_full = True

    def _evict_oldest(self) -> bool:
        """Drop the oldest 1% (at least 100) pending events to make room for new ones."""
        n = max(100, self._depth // 100)
        rows = self._db.execute("SELECT seq FROM events ORDER BY seq LIMIT ?", (n,)).fetchall()
        if not rows:
            return False
        hi = rows[-1][0]
        with self._tx():
            deleted = self._db.execute("DELETE FROM events WHERE seq <= ?", (hi,)).rowcount
            self._db.execute(
                "UPDATE meta SET value = ? WHERE key = 'evicted_total'",
                (str(self._evicted + deleted),),
            )
        self._evicted += deleted
        self._depth -= deleted
        log.warning("outbox_evicted", events=deleted, up_to_seq=hi, evicted_total=self._evicted)
        return True

    def pending(self, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """The oldest stored events with seq > after_seq: (seq, JSON body)."""
        return self._db.execute(
            "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        ).fetchall()

    def delete_range(self, lo: int, hi: int) -> int:
        """Delete acknowledged events lo..hi; deleting twice is harmless."""
        with self._tx():
            deleted = self._db.execute(
                "DELETE FROM events WHERE seq BETWEEN ? AND ?", (lo, hi)
            ).rowcount
        self._depth -= deleted
        if deleted and self.disk_full:
            self.disk_full = False
            log.info("outbox_disk_space_back", depth=self._depth)
        return int(deleted)

    def oldest_ts_ms(self) -> int | None:
        row = self._db.execute("SELECT ts_ms FROM events ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def health(self) -> OutboxHealth:
        integrity = self._db.execute("PRAGMA quick_check").fetchone()[0]
        return OutboxHealth(
            depth=self._depth,
            oldest_ts_ms=self.oldest_ts_ms(),
            last_ts_ms=self._last_ts_ms,
            next_seq=self._next_seq,
            evicted_total=self._evicted,
            integrity=str(integrity),
        )

    def close(self) -> None:
        self._db.close()


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
            self._db.execute("ROLLBACK")


def outbox_exists(state_dir: Path) -> bool:
    """Whether `state_dir` holds an outbox that has handed out its first seq already."""
    path = state_dir / "outbox.sqlite3"
    if not path.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT 1 FROM meta WHERE key = 'next_seq'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return True  # not ours to judge here: open_outbox reports what is wrong with it
    return row is not None


def open_outbox(state_dir: Path, node: str, now_ms: int, max_bytes: int | None = None) -> Outbox:
    """Open (or create) `state_dir/outbox.sqlite3`; a ServiceError says why it cannot."""
    try:
        return Outbox(state_dir / "outbox.sqlite3", node, now_ms, max_bytes)
    except sqlite3.DatabaseError as error:
        raise ServiceError(f"outbox {state_dir / 'outbox.sqlite3'}: {error}") from error
