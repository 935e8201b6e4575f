"""Routes: the hub page `/hubs/{site}`, its state as JSON and its live feed (server-sent events).

Who sees what: a facilities key, or a hub manager key of the site, sees every desk at
any hour. Everyone else — no key, or a key that may not see this site (a weaker key
never sees less than none) — sees what `api.hub_public` allows (`counts`, the default:
free/occupied numbers and today's co-presence; `desks`: every desk too; `off`: 401),
and only while the site is open: outside its opening hours the public view is `closed`
(no counts, so a lone person at a small hub at night is not advertised). Every view also
carries `week` (`hubsense.api.hub_week`: this week per day, the next 7 days' booking counts,
the community day): day-level counts, not who is here now, so closed hours change nothing
there (docs/api.md). A key comes as a header or, for the page and its EventSource, as the
session cookie of `hubsense.api.hub_session`; never in the URL. Must not write to the
database.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import time
from importlib import resources
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from hubsense.api import hub_session, models, session
from hubsense.api.auth import presented_key
from hubsense.api.feed import HubSnapshot
from hubsense.api.hub_session import viewer, viewer_of
from hubsense.api.keys import Principal
from hubsense.api.occupancy import count
from hubsense.api.today import WEEKDAYS, opening_spans

from hubsense.wire import ID_PATTERN

router = APIRouter(tags=["hub page"], responses=models.ERRORS)
# First, so /hubs/session is not read as a site called "session".
router.include_router(hub_session.router)
KEEPALIVE_S = 15.0
# An open event stream checks its session (expired, key revoked, signed out) this often.
RECHECK_S = 10.0
View = Literal["counts", "desks", "closed"]
Viewer = Annotated[Principal | None, Depends(viewer)]


def _static(name: str) -> str:
    return resources.files("hubsense.api").joinpath("static", name).read_text()


def public_open(snapshot: HubSnapshot, now: dt.datetime) -> bool:
    """The site is inside its opening hours at `now` (by the snapshot's hours of today)."""
    zone = ZoneInfo(snapshot.timezone)
    day = snapshot.today.date
    if not snapshot.today.open or now.astimezone(zone).date() != day:
        return False
    hours = {WEEKDAYS[day.weekday()]: list(snapshot.today.opening_hours)}
    spans = opening_spans(hours, set(), day, zone)
    now_ms = now.timestamp() * 1000
    return any(start <= now_ms < end for start, end in spans)


def now(request: Request) -> dt.datetime:
    """Now on the app's clock (the wall clock, or the demo's simulated one)."""
    now: dt.datetime = request.app.state.clock()
    return now


def may_view(request: Request, site: str, who: Principal | None) -> bool:
    """Whether the caller sees the site's desks by right (else the public view), or 401."""
    if who is not None and who.may_see(site):
        return True
    if request.app.state.settings.api.hub_public == "off":
        if who is not None:
            raise HTTPException(403, f"this key may not see site {site}")
        raise HTTPException(401, "this hub page needs an API key", {"WWW-Authenticate": "Bearer"})
    return False


def view_of(request: Request, snapshot: HubSnapshot, by_right: bool) -> View:
    if by_right:
        return "desks"
    if not public_open(snapshot, now(request)):
        return "closed"
    return "desks" if request.app.state.settings.api.hub_public == "desks" else "counts"


WEEK_REFRESH_S = 60.0


def week_of(request: Request, snapshot: HubSnapshot) -> models.HubWeek:
    """`read_week` at the snapshot's instant, read at most every WEEK_REFRESH_S per site and
    local day (a stream renders every desk change; the week changes by the day, bookings by
    the minute)."""
    cache: dict[str, tuple[float, dt.date, models.HubWeek]] | None = getattr(
        request.app.state, "hub_weeks", None
    )
    if cache is None:
        cache = request.app.state.hub_weeks = {}
    local_day = snapshot.at.astimezone(ZoneInfo(snapshot.timezone)).date()
    cached = cache.get(snapshot.site)
    if (
        cached is not None
        and cached[1] == local_day
        and time.monotonic() - cached[0] < WEEK_REFRESH_S
    ):
        return cached[2]
    from hubsense.api.hub_week import read_week

    with request.app.state.pool.connection() as conn:
        week = read_week(conn, snapshot.site, snapshot.at)
    if week is None:
        raise HTTPException(404, f"no site {snapshot.site}")
    cache[snapshot.site] = (time.monotonic(), local_day, week)
    return week


def render(
    snapshot: HubSnapshot, view: View, week: models.HubWeek, simulated: bool = False
) -> models.HubState:
    desks = [models.DeskNow.model_validate(d, from_attributes=True) for d in snapshot.desks]
    # Today's time together is the live summary's, the same number as `today` shows.
    days = [
        d.model_copy(update={"copresence_s": snapshot.today.copresence_s})
        if d.source == "live" and d.date == snapshot.today.date
        else d
        for d in week.days
    ]
    # The counts view shows no desks (and so no booking ids); closed shows no numbers at all.
    return models.HubState(
        site=snapshot.site,
        name=snapshot.name,
        timezone=snapshot.timezone,
        at=snapshot.at,
        view=view,
        counts=None if view == "closed" else count(snapshot.desks),
        desks=desks if view == "desks" else None,
        today=snapshot.today,
        simulated=simulated,
        week=week.model_copy(update={"days": days}),
    )


def _snapshot(request: Request, site: str) -> HubSnapshot:
    snapshot: HubSnapshot | None = request.app.state.snapshots(site)
    if snapshot is None:
        raise HTTPException(404, f"no site {site}")
    return snapshot


@router.get("/hubs/{site}", response_class=HTMLResponse, include_in_schema=False)
def hub_page(site: str, request: Request) -> Response:
    from hubsense.api.pages import not_found_page

    # fullmatch: `$` in the pattern also matches before a final newline (hub-a%0A).
    if not re.fullmatch(ID_PATTERN, site):
        return not_found_page(site)
    if "key" in request.query_params:
        # An old `?key=` link: it grants nothing; drop it from the address bar and history.
        return RedirectResponse(f"/hubs/{site}#key-in-link", status_code=303)
    with request.app.state.pool.connection() as conn:
        if conn.execute("SELECT 1 FROM sites WHERE id = %s", (site,)).fetchone() is None:
            return not_found_page(site)
    locale = request.app.state.settings.api.locale
    page = string.Template(_static("hub.html")).substitute(site=site, locale=locale)
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/hubs/static/{name}", include_in_schema=False)
def hub_static(name: Literal["hub.js", "hub.css"]) -> PlainTextResponse:
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return PlainTextResponse(_static(name), media_type=media)


@router.get(
    "/hubs/{site}/state",
    response_model=models.HubState,
    summary="The hub now: counts (public view, opening hours only) or every desk, and today",
)
def hub_state(site: models.SitePath, request: Request, who: Viewer) -> models.HubState:
    by_right = may_view(request, site, who)
    snapshot = _snapshot(request, site)
    view = view_of(request, snapshot, by_right)
    return render(snapshot, view, week_of(request, snapshot), request.app.state.simulated_clock)


@router.get("/hubs/{site}/events", include_in_schema=False)
async def hub_events(
    site: models.SitePath, request: Request, key: Annotated[str | None, Depends(presented_key)]
) -> StreamingResponse:
    from starlette.concurrency import run_in_threadpool

    def who_may() -> bool:
        # Its own short connection: a dependency's would stay lent while the stream runs.
        with request.app.state.pool.connection() as conn:
            return may_view(request, site, viewer_of(request, conn, key))

    by_right = await run_in_threadpool(who_may)
    token = request.cookies.get(session.COOKIE)
    # A right that came with the session cookie is checked again while the stream runs.
    by_cookie = by_right and request.headers.get("authorization") is None and bool(token)
    by_cookie = by_cookie and request.headers.get("x-api-key") is None

    def check() -> None:
        with request.app.state.pool.connection() as conn:
            if conn.execute("SELECT 1 FROM sites WHERE id = %s", (site,)).fetchone() is None:
                raise HTTPException(404, f"no site {site}")

    def still_valid() -> bool:
        with request.app.state.pool.connection() as conn:
            found = hub_session.cookie_session(request, conn)
        return found is not None and found[0].may_see(site)

    await run_in_threadpool(check)
    subscription = request.app.state.feed.join(site)
    simulated = request.app.state.simulated_clock

    async def stream() -> Any:
        try:
            yield f"retry: 2000\n: watching {site}\n\n"
            idle_s, checked, latest, sent, sent_week = 0.0, time.monotonic(), None, None, None
            # Short waits, so a stopping server ends the stream within a second.
            while not request.app.state.stopping.is_set():
                if by_cookie and time.monotonic() - checked >= RECHECK_S:
                    checked = time.monotonic()
                    if not await run_in_threadpool(still_valid):
                        return  # the page reconnects, and sees what it may now
                snapshot = await subscription.next(1.0)
                latest = snapshot or latest
                # Opening and closing change the public view without a new snapshot.
                view = view_of(request, latest, by_right) if latest is not None else None
                week = sent_week
                if latest is not None and (snapshot is not None or idle_s + 1.0 >= KEEPALIVE_S):
                    # New bookings change the week without a new snapshot: looked at (cached)
                    # with each snapshot and at each keep-alive.
                    week = await run_in_threadpool(week_of, request, latest)
                if snapshot is None and (view is None or view == sent) and week == sent_week:
                    idle_s += 1.0
                    if idle_s >= KEEPALIVE_S:
                        idle_s = 0.0
                        yield ": keep-alive\n\n"
                    continue
                assert latest is not None and view is not None and week is not None
                idle_s, sent, sent_week = 0.0, view, week
                state = render(latest, view, week, simulated)
                yield f"event: state\ndata: {state.model_dump_json()}\n\n"
        finally:
            subscription.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
