"""The release watcher: every `watch_interval_s`, release the bookings that are due (docs/api.md).

One tick: (1) read the running, unreleased bookings whose start is at least
`release_after_min` ago, with their desk's events and node's alive/stop stream from the
database; (2) ask the pure rule (`release.decide`); (3) mark `released_at` in one
guarded UPDATE (a booking moved or released meanwhile is left alone, so several
watchers may run); (4) announce every released booking not yet announced: MQTT (QoS 1,
not retained) and the webhook, each retried on later ticks until acknowledged, for up to
`DELIVERY_WINDOW`; (5) with `bookings.caldav_write_back`, write each released booking
synced from CalDAV back to its calendar as STATUS:CANCELLED, retried likewise. Released
bookings are never deleted. Must not compute metrics.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hubsense.bookings.caldav_write import WriteBack, Written
from hubsense.bookings.release import DeskChange, NodeBeat, Verdict, decide

from hubsense.clock import Clock, wall_clock
from hubsense.logs import get_logger
from hubsense.wire import BookingReleaseMessage

if TYPE_CHECKING:
    from hubsense.settings import BookingSettings

log = get_logger(__name__)

DELIVERY_WINDOW = dt.timedelta(days=1)
# Decide as of this long ago: an arrival just before the decision has had time to come
# through MQTT and ingest (docs/scaling.md: p99 event-to-row latency under 1 s).
SETTLE_MS = 2000
# Bookings that started longer ago than this are not watched (nor released late).
LOOKBACK = dt.timedelta(days=2)


class Announcer(Protocol):
    def publish(self, message: BookingReleaseMessage) -> bool: ...


class Hook(Protocol):
    def send(self, message: BookingReleaseMessage) -> bool: ...


class CalendarWriter(Protocol):
    def cancel(self, item: WriteBack) -> Written: ...


@dataclass
class TickResult:
    candidates: int = 0
    released: list[str] = field(default_factory=list)
    published: int = 0
    webhooks: int = 0
    written_back: int = 0


_CANDIDATES = """
SELECT b.booking_id, b.site_id, b.desk_id, b.start_at, b.end_at, s.node_id, n.heartbeat_s
FROM bookings b
JOIN LATERAL (
    SELECT node_id FROM sensors WHERE desk_id = b.desk_id AND retired_at IS NULL
    ORDER BY node_id LIMIT 1
) s ON true
JOIN nodes n ON n.id = s.node_id
WHERE b.released_at IS NULL AND b.cancelled_at IS NULL AND b.end_at > %(now)s
  AND b.start_at <= %(now)s - %(after)s AND b.start_at > %(now)s - %(lookback)s
ORDER BY b.start_at, b.booking_id
"""
_MS = "(extract(epoch FROM ts) * 1000)::bigint"
_DESK_EVENTS = f"""
(SELECT {_MS}, seq, state = 'occupied', state = 'unknown' FROM events
 WHERE site_id = %(site)s AND node_id = %(node)s AND desk_id = %(desk)s AND type = 'desk'
   AND ts < %(start)s ORDER BY ts DESC, seq DESC LIMIT 1)
UNION ALL
(SELECT {_MS}, seq, state = 'occupied', state = 'unknown' FROM events
 WHERE site_id = %(site)s AND node_id = %(node)s AND desk_id = %(desk)s AND type = 'desk'
   AND ts >= %(start)s AND ts <= %(now)s)
"""
_BEATS = f"""
(SELECT {_MS}, seq, type = 'alive' FROM events
 WHERE site_id = %(site)s AND node_id = %(node)s AND type IN ('alive', 'stop')
   AND ts < %(start)s ORDER BY ts DESC, seq DESC LIMIT 1)
UNION ALL
(SELECT {_MS}, seq, type = 'alive' FROM events
 WHERE site_id = %(site)s AND node_id = %(node)s AND type IN ('alive', 'stop')
   AND ts >= %(start)s AND ts <= %(now)s)
"""
_MARK = """
UPDATE bookings SET released_at = %(now)s, updated_at = now()
WHERE booking_id = %(id)s AND released_at IS NULL
  AND desk_id = %(desk)s AND start_at = %(start)s AND end_at = %(end)s
"""
_PENDING = """
SELECT booking_id, site_id, desk_id, start_at, end_at, released_at,
       release_published_at IS NULL, release_webhook_at IS NULL
FROM bookings
WHERE released_at IS NOT NULL AND released_at > %(now)s - %(window)s
  AND (release_published_at IS NULL OR (%(hook)s AND release_webhook_at IS NULL))
ORDER BY released_at
LIMIT 100
FOR UPDATE SKIP LOCKED
"""

# Released bookings synced from a calendar, not yet written back to it (bookings.caldav_write_back).
_TO_WRITE_BACK = """
SELECT b.booking_id, b.source, b.source_uid, o.href, s.timezone
FROM bookings b
JOIN sites s ON s.id = b.site_id
LEFT JOIN LATERAL (
    SELECT href FROM booking_source_objects
    WHERE source = b.source AND uid = b.source_uid ORDER BY href LIMIT 1
) o ON true
WHERE b.released_at IS NOT NULL AND b.released_at > %(now)s - %(window)s
  AND b.source LIKE 'caldav:%%' AND b.source_uid IS NOT NULL
  AND b.release_written_back_at IS NULL
ORDER BY b.released_at
LIMIT 20
FOR UPDATE OF b SKIP LOCKED
"""


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class ReleaseWatcher:
    def __init__(
        self,
        dsn: str,
        config: BookingSettings,
        announcer: Announcer,
        hook: Hook | None = None,
        calendar: CalendarWriter | None = None,
        clock: Clock = wall_clock,
    ) -> None:
        self.dsn = dsn
        self.clock = clock
        self.config = config
        self.announcer = announcer
        self.hook = hook
        self.calendar = calendar
        self.release_after = dt.timedelta(minutes=config.release_after_min)
        self._conn: Any = None
        # Bookings seen checked in: final for that booking's desk and times.
        self._settled: set[tuple[Any, ...]] = set()

    def run(self, stop: threading.Event) -> None:
        log.info(
            "release_watcher_started",
            release_after_min=self.config.release_after_min,
            interval_s=self.config.watch_interval_s,
            webhook=self.hook is not None,
            write_back=self.calendar is not None,
        )
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.tick(self.clock())
            except Exception as error:
                log.warning("release_tick_failed", error=str(error))
                self._close()
            stop.wait(max(0.0, self.config.watch_interval_s - (time.monotonic() - started)))
        self._close()
        log.info("release_watcher_stopped")

    def _connection(self) -> Any:
        from hubsense.db.connect import connect

        if self._conn is None or self._conn.closed:
            self._conn = connect(self.dsn, autocommit=True)
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def tick(self, now: dt.datetime) -> TickResult:
        conn = self._connection()
        result = TickResult()
        # A settled booking that has ended can be forgotten.
        self._settled = {key for key in self._settled if key[3] > now}
        params = {"now": now, "after": self.release_after, "lookback": LOOKBACK}
        for row in conn.execute(_CANDIDATES, params).fetchall():
            booking_id, site, desk, start, end, node, heartbeat_s = row
            key = (booking_id, desk, start, end)
            if key in self._settled:
                continue
            result.candidates += 1
            verdict = self._decide(conn, site, desk, start, end, node, heartbeat_s, now)
            if verdict is Verdict.CHECKED_IN:
                self._settled.add(key)
            elif verdict is Verdict.RELEASE:
                marked = conn.execute(
                    _MARK, {"now": now, "id": booking_id, "desk": desk, "start": start, "end": end}
                )
                if marked.rowcount == 1:
                    result.released.append(booking_id)
                    log.info("booking_released", booking_id=booking_id, site=site, desk=desk)
        self._deliver(conn, now, result)
        if self.calendar is not None:
            self._write_back(conn, now, result, self.calendar)
        return result

    def _write_back(
        self, conn: Any, now: dt.datetime, result: TickResult, calendar: CalendarWriter
    ) -> None:
        params = {"now": now, "window": DELIVERY_WINDOW}
        with conn.transaction():
            for row in conn.execute(_TO_WRITE_BACK, params).fetchall():
                outcome = calendar.cancel(WriteBack(*row))
                if outcome is Written.RETRY:
                    continue  # the server away or the event edited meanwhile: a later tick
                conn.execute(
                    "UPDATE bookings SET release_written_back_at = now() WHERE booking_id = %s",
                    (row[0],),
                )
                result.written_back += outcome is Written.DONE

    def _decide(
        self,
        conn: Any,
        site: str,
        desk: str,
        start: dt.datetime,
        end: dt.datetime,
        node: str,
        heartbeat_s: int,
        now: dt.datetime,
    ) -> Verdict:
        where = {"site": site, "node": node, "desk": desk, "start": start, "now": now}
        changes = [DeskChange(*r) for r in conn.execute(_DESK_EVENTS, where).fetchall()]
        beats = [NodeBeat(*r) for r in conn.execute(_BEATS, where).fetchall()]
        after_ms = round(self.release_after.total_seconds() * 1000)
        decision = decide(
            _ms(start), _ms(end), after_ms, changes, beats, heartbeat_s * 1000, _ms(now) - SETTLE_MS
        )
        return decision.verdict

    def _deliver(self, conn: Any, now: dt.datetime, result: TickResult) -> None:
        params = {"now": now, "window": DELIVERY_WINDOW, "hook": self.hook is not None}
        mqtt_up = hook_up = True  # after one failure, wait for the next tick
        with conn.transaction():
            for row in conn.execute(_PENDING, params).fetchall():
                booking_id, site, desk, start, end, released_at, unpublished, unhooked = row
                message = BookingReleaseMessage(
                    booking_id=booking_id,
                    site=site,
                    desk=desk,
                    start_ms=_ms(start),
                    end_ms=_ms(end),
                    released_at_ms=_ms(released_at),
                )
                if unpublished and mqtt_up:
                    mqtt_up = self.announcer.publish(message)
                if unpublished and mqtt_up:
                    conn.execute(
                        "UPDATE bookings SET release_published_at = now() WHERE booking_id = %s",
                        (booking_id,),
                    )
                    result.published += 1
                if unhooked and self.hook is not None and hook_up:
                    hook_up = self.hook.send(message)
                if unhooked and self.hook is not None and hook_up:
                    conn.execute(
                        "UPDATE bookings SET release_webhook_at = now() WHERE booking_id = %s",
                        (booking_id,),
                    )
                    result.webhooks += 1


def run_watcher(
    settings: Any,
    stop: threading.Event,
    *,
    dsn: str,
    mqtt_url: str,
    clock: Clock = wall_clock,
) -> None:
    """Run the release watcher until `stop` is set (own MQTT connection and webhook client).

    `dsn` and `mqtt_url` come resolved (only CLIs look for servers).
    """
    from hubsense.bookings.announce import ReleasePublisher, WebhookSender

    from hubsense.mqtt_url import parse_mqtt_url

    url = parse_mqtt_url(mqtt_url)
    if url.username is None and settings.mqtt.username:
        password = settings.mqtt.password.get_secret_value() if settings.mqtt.password else None
        url = dataclasses.replace(url, username=settings.mqtt.username, password=password)
    publisher = ReleasePublisher(url, str(settings.mqtt.ca_file) if settings.mqtt.ca_file else None)
    config = settings.bookings
    secret = config.webhook_secret.get_secret_value() if config.webhook_secret else None
    previous = (
        config.webhook_previous_secret.get_secret_value()
        if config.webhook_previous_secret
        else None
    )
    hook = WebhookSender(config.webhook_url, secret, previous) if config.webhook_url else None
    calendar = None
    if config.caldav_write_back:
        from hubsense.bookings.caldav_service import credentials_of
        from hubsense.bookings.caldav_write import CalendarWriteBack

        calendar = CalendarWriteBack(credentials_of(settings), config.caldav_write_back_note)
    publisher.start()
    try:
        watcher = ReleaseWatcher(dsn, config, publisher, hook, calendar, clock)
        watcher.run(stop)
    finally:
        publisher.close()
        if hook is not None:
            hook.close()
        if calendar is not None:
            calendar.close()
