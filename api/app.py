"""The API process: the FastAPI app factory and `run_api`, which also runs the release watcher.

`create_app(settings, dsn)` builds the app (a connection pool opened by the lifespan,
the routers, the hub page feed); `run_api(settings, host, port, stop)` serves it with
uvicorn until `stop` is set, with the release watcher in a thread beside it (for
`hubsense api run` and the demo). Must not build settings or read the environment.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from hubsense import __version__
from hubsense.clock import Clock, wall_clock
from hubsense.logs import get_logger

if TYPE_CHECKING:
    from hubsense.settings import Settings

log = get_logger(__name__)

POOL_MAX = 8
DESCRIPTION = """
True desk use against bookings, for facilities staff, hub managers and booking tools.

Authenticate with an API key from `hubsense api key create` as `Authorization: Bearer <key>`
or `X-API-Key: <key>`. Roles: **facilities** (everything), **hub_manager** (only its sites),
**booking_tool** (only `/v1/bookings`). No key: 401; a key whose role may not: 403.

The hub page lives at `/hubs/{site}` (live over server-sent events); `/` lists the sites.
"""


def create_app(settings: Settings, dsn: str, clock: Clock = wall_clock) -> FastAPI:
    """The app over `dsn`; `clock` is what the hub pages and desks-now call now."""
    from hubsense.api import bookings, decisions, hub, metrics, pages, profile, sites
    from hubsense.api.feed import HubFeed, SnapshotReader
    from hubsense.api.limits import BodyLimit
    from hubsense.api.security_headers import SecurityHeaders
    from psycopg_pool import ConnectionPool

    from hubsense.db.connect import primary_dsn

    pool = ConnectionPool(
        primary_dsn(dsn),
        # After a failover the pooled connections to the old primary are dead: check each
        # one as it is lent (one round trip) so a request gets a fresh one, not an error.
        check=ConnectionPool.check_connection,
        min_size=1,
        max_size=POOL_MAX,
        kwargs={"autocommit": True},
        open=False,
        name="hubsense-api",
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=True, timeout=30)
        try:
            yield
        finally:
            app.state.stopping.set()
            await app.state.feed.close()
            pool.close()

    # /docs and /redoc with their scripts and styles served by the API itself, not a CDN:
    # the first page a newcomer opens must work on a network without internet.
    app = FastAPIOffline(
        title="hubsense API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.clock = clock
    app.state.simulated_clock = clock is not wall_clock
    app.state.stopping = threading.Event()
    # Booking imports parse whole iCalendar files: at most this many at once, else 429.
    app.state.import_slots = threading.BoundedSemaphore(settings.bookings.import_concurrency)
    app.state.snapshots = SnapshotReader(pool, clock)
    app.state.feed = HubFeed(app.state.snapshots, settings.api.hub_poll_s)
    for module in (sites, metrics, bookings, decisions, profile, hub, pages):
        app.include_router(module.router)
    app.add_middleware(
        BodyLimit,
        max_body_bytes=settings.api.max_body_bytes,
        max_import_bytes=settings.api.max_import_bytes,
        body_timeout_s=settings.api.body_timeout_s,
    )
    # Added last, so it wraps everything: the body limit's own 413/408 answers get it too.
    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", tags=["health"], summary="The API is up and reaches its database")
    def healthz() -> dict[str, str]:
        with pool.connection() as conn:
            conn.execute("SELECT 1")
        return {"status": "ok"}

    return app


def _server_class() -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn without its signal handling: the caller owns signals and sets `stop`
        (uvicorn would re-raise SIGTERM after shutdown and the process would die by it)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


def run_api(
    settings: Settings,
    host: str,
    port: int,
    stop: threading.Event,
    *,
    dsn: str,
    mqtt_url: str | None = None,
    ready: threading.Event | None = None,
    watcher: bool | None = None,
    clock: Clock = wall_clock,
) -> None:
    """Serve the API (and, unless turned off, the release watcher; with `bookings.caldav_url`
    set, the CalDAV sync) until `stop` is set.

    `ready` is set once the server listens. Installs no signal handlers: callers (the
    CLI, the demo) set `stop` on SIGTERM/SIGINT. `watcher` overrides `api.release_watcher`.
    `dsn` and `mqtt_url` come resolved (only CLIs look for servers); the watcher needs
    `mqtt_url`. The demo's simulated `clock` drives the hub pages and the watcher alike.
    """
    import uvicorn
    from hubsense.api.limits import header_timeout_protocol
    from hubsense.bookings.watcher import run_watcher

    from hubsense.db.connect import connect
    from hubsense.errors import ConfigError, ServiceError

    server_class = _server_class()
    with_watcher = settings.api.release_watcher if watcher is None else watcher
    if with_watcher and mqtt_url is None:
        # Fail now, in one line, rather than in the watcher's thread later.
        raise ConfigError("api: the release watcher needs the broker's URL (or run --no-watcher)")
    with connect(dsn):  # fail now, in one line, when the database is unreachable
        pass
    app = create_app(settings, dsn, clock)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=3,
        lifespan="on",
        # Slow and oversized clients (hubsense.api.limits): a deadline on request heads,
        # a cap on their size, idle keep-alive connections closed, a ceiling on connections.
        http=header_timeout_protocol(settings.api.header_timeout_s),
        h11_max_incomplete_event_size=settings.api.max_head_bytes,
        timeout_keep_alive=settings.api.keep_alive_s,
        limit_concurrency=settings.api.limit_concurrency,
    )
    server = server_class(config)
    threads: list[threading.Thread] = []
    if with_watcher:
        threads.append(
            threading.Thread(
                target=run_watcher,
                args=(settings, stop),
                kwargs={"dsn": dsn, "mqtt_url": mqtt_url, "clock": clock},
                name="release-watcher",
                daemon=True,
            )
        )

    if settings.bookings.caldav_url:
        threads.append(_caldav_thread(settings, stop, dsn))

    def stop_server() -> None:
        stop.wait()
        # Live feeds end first (within a second), so shutdown need not wait for them.
        app.state.stopping.set()
        server.should_exit = True

    def announce_ready() -> None:
        while not server.started and not stop.is_set():
            stop.wait(0.05)
        if server.started:
            log.info(
                "api_listening", url=f"http://{host}:{port}", docs=f"http://{host}:{port}/docs"
            )
            if ready is not None:
                ready.set()

    threads += [
        threading.Thread(target=stop_server, name="api-stop", daemon=True),
        threading.Thread(target=announce_ready, name="api-ready", daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        server.run()
    except SystemExit:
        pass  # uvicorn exits when it cannot bind or start; said below, in one line
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
    if not server.started:
        raise ServiceError(
            f"api on {host}:{port}: did not start (port taken or database unreachable; see the log)"
        )


def _caldav_thread(settings: Settings, stop: threading.Event, dsn: str) -> threading.Thread:
    """The background CalDAV sync, every `bookings.caldav_every_s` (docs/bookings.md)."""
    from hubsense.bookings.caldav_service import credentials_of, sync_every

    url = settings.bookings.caldav_url
    assert url is not None
    return threading.Thread(
        target=sync_every,
        args=(settings, stop),
        kwargs={
            "dsn": dsn,
            "url": url,
            "credentials": credentials_of(settings),
            "every_s": settings.bookings.caldav_every_s,
        },
        name="caldav-sync",
        daemon=True,
    )


def openapi_schema(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document, without a database (for docs and clients)."""
    return create_app(settings, "postgresql://unused").openapi()
