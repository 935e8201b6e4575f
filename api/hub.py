"""Routes: the hub page `/hubs/{site}`, its state as JSON and its live feed (server-sent events).

Who sees what: a facilities key or a hub manager key of the site sees every desk;
without a key the page shows what `api.hub_public` allows (`counts`, the default:
free/occupied numbers and today's co-presence; `desks`: every desk too; `off`: 401).
The key may come as a header or, because EventSource cannot set headers, `?key=`.
Must not write to the database.
"""

from __future__ import annotations

import string
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, StreamingResponse
from hubsense.api import models
from hubsense.api.auth import Conn, presented_key
from hubsense.api.feed import HubSnapshot
from hubsense.api.keys import Principal, lookup
from hubsense.api.occupancy import count

from hubsense.wire import ID_PATTERN

router = APIRouter(tags=["hub page"], responses=models.ERRORS)
KEEPALIVE_S = 15.0


def _static(name: str) -> str:
    return resources.files("hubsense.api").joinpath("static", name).read_text()


def view_for(request: Request, site: str, conn: Any, key: str | None) -> Literal["counts", "desks"]:
    public = request.app.state.settings.api.hub_public
    if key:
        who: Principal | None = lookup(conn, key)
        if who is None:
            raise HTTPException(401, "invalid or revoked API key", {"WWW-Authenticate": "Bearer"})
        if who.may_see(site):
            return "desks"
        raise HTTPException(403, f"this key may not see site {site}")
    if public == "off":
        raise HTTPException(401, "this hub page needs an API key", {"WWW-Authenticate": "Bearer"})
    return "desks" if public == "desks" else "counts"


def hub_key(
    header_key: Annotated[str | None, Depends(presented_key)],
    key: Annotated[str | None, Query(description="API key, for EventSource clients.")] = None,
) -> str | None:
    return header_key or key


def render(snapshot: HubSnapshot, view: Literal["counts", "desks"]) -> models.HubState:
    desks = [models.DeskNow.model_validate(d, from_attributes=True) for d in snapshot.desks]
    # The counts view shows no desks (and so no booking ids).
    desks_out = None if view == "counts" else desks
    return models.HubState(
        site=snapshot.site,
        name=snapshot.name,
        timezone=snapshot.timezone,
        at=snapshot.at,
        view=view,
        counts=count(snapshot.desks),
        desks=desks_out,
        today=models.TodaySummary.model_validate(snapshot.today, from_attributes=True),
    )


def _snapshot(request: Request, site: str) -> HubSnapshot:
    snapshot: HubSnapshot | None = request.app.state.snapshots(site)
    if snapshot is None:
        raise HTTPException(404, f"no site {site}")
    return snapshot


@router.get("/hubs/{site}", response_class=HTMLResponse, include_in_schema=False)
def hub_page(site: str, request: Request) -> HTMLResponse:
    import re

    from hubsense.api.pages import not_found_page

    # fullmatch: `$` in the pattern also matches before a final newline (hub-a%0A).
    if not re.fullmatch(ID_PATTERN, site):
        return not_found_page(site)
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
    summary="The hub now: counts (public view) or every desk, and today's co-presence",
)
def hub_state(
    site: models.SitePath,
    request: Request,
    conn: Conn,
    key: Annotated[str | None, Depends(hub_key)],
) -> models.HubState:
    view = view_for(request, site, conn, key)
    return render(_snapshot(request, site), view)


@router.get("/hubs/{site}/events", include_in_schema=False)
async def hub_events(
    site: models.SitePath, request: Request, key: Annotated[str | None, Depends(hub_key)]
) -> StreamingResponse:
    from starlette.concurrency import run_in_threadpool

    def check() -> Literal["counts", "desks"]:
        with request.app.state.pool.connection() as conn:
            view = view_for(request, site, conn, key)
            if conn.execute("SELECT 1 FROM sites WHERE id = %s", (site,)).fetchone() is None:
                raise HTTPException(404, f"no site {site}")
            return view

    view = await run_in_threadpool(check)
    subscription = request.app.state.feed.join(site)

    async def stream() -> Any:
        try:
            yield f"retry: 2000\n: watching {site}\n\n"
            idle_s = 0.0
            # Short waits, so a stopping server ends the stream within a second.
            while not request.app.state.stopping.is_set():
                snapshot = await subscription.next(1.0)
                if snapshot is None:
                    idle_s += 1.0
                    if idle_s >= KEEPALIVE_S:
                        idle_s = 0.0
                        yield ": keep-alive\n\n"
                    continue
                idle_s = 0.0
                yield f"event: state\ndata: {render(snapshot, view).model_dump_json()}\n\n"
        finally:
            subscription.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
