"""CalDAV sync, once or again and again: `hubsense bookings sync [--every]` and the API's
background task both run it from here (docs/bookings.md).

A round syncs every calendar at the URL (each its own transaction, `caldav_sync.py`). In
the loop a failed round (the server away, a bad event) is logged and tried again at the
next interval; the bookings and the sync token stay as the last good round left them.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hubsense.bookings.caldav_sync import CalendarSync, Credentials, sync_caldav
from hubsense.bookings.ical import Window
from hubsense.bookings.imports import Limits

from hubsense.db.connect import redact_dsn
from hubsense.logs import get_logger

if TYPE_CHECKING:
    from hubsense.settings import Settings

log = get_logger(__name__)


def credentials_of(
    settings: Settings, user: str | None = None, password: str | None = None
) -> Credentials:
    """The given user and password, else settings `bookings.caldav_user`/`caldav_password`."""
    config = settings.bookings
    if password is None and config.caldav_password is not None:
        password = config.caldav_password.get_secret_value()
    return Credentials(user or config.caldav_user, password)


def default_window(settings: Settings) -> Window:
    """The window around now that recurring events are expanded over and replaced in."""
    config = settings.bookings
    return Window.around(dt.datetime.now(dt.UTC), config.window_back_days, config.window_ahead_days)


def sync_once(
    settings: Settings,
    dsn: str,
    url: str,
    credentials: Credentials,
    window: Window | None = None,
    dry_run: bool = False,
) -> list[CalendarSync]:
    """One round: every calendar at `url` synced (or rolled back for `dry_run`)."""
    from hubsense.bookings.importer import read_inventory

    from hubsense.db.connect import connect

    with connect(dsn, autocommit=True) as conn:
        return sync_caldav(
            conn,
            url,
            credentials,
            read_inventory(conn),
            settings.privacy.salt(),
            window or default_window(settings),
            Limits.from_settings(settings.bookings),
            settings.bookings.max_sync_objects,
            dry_run,
        )


def sync_every(
    settings: Settings,
    stop: threading.Event,
    *,
    dsn: str,
    url: str,
    credentials: Credentials,
    every_s: float,
    window: Callable[[], Window] | None = None,
    dry_run: bool = False,
    on_round: Callable[[list[CalendarSync]], Any] | None = None,
) -> None:
    """Sync every `every_s` until `stop` is set; a failed round is logged, not fatal."""
    where = redact_dsn(url)
    log.info("caldav_sync_started", url=where, every_s=every_s)
    while not stop.is_set():
        started = time.monotonic()
        try:
            results = sync_once(
                settings, dsn, url, credentials, window() if window else None, dry_run
            )
        except Exception as error:  # the next round tries again; the last good state stays
            log.warning("caldav_sync_failed", url=where, error=str(error).splitlines()[0][:300])
        else:
            for result in results:
                log.info(
                    "caldav_synced",
                    source=redact_dsn(result.source.removeprefix("caldav:")),
                    full=result.full,
                    fetched=result.fetched,
                    deleted=result.deleted,
                    created=len(result.applied.created),
                    updated=len(result.applied.updated),
                    cancelled=len(result.applied.cancelled),
                )
            if on_round is not None:
                on_round(results)
        stop.wait(max(0.0, every_s - (time.monotonic() - started)))
    log.info("caldav_sync_stopped", url=where)
