"""Routes: signing in to the hub pages (`/hubs/session`) and who is looking at one.

`POST /hubs/session` takes a facilities or hub manager key in `Authorization: Bearer`,
`X-API-Key` or the hub page's sign-in form (`key=…`, urlencoded body) and sets the
session cookie (`hubsense.api.session`): HttpOnly, SameSite=Strict, Path=/hubs,
Secure when served over https, for `SESSION_S`. `POST /hubs/session/end` signs out,
`GET /hubs/session` says whether the browser is signed in. A sign-in POST from
another origin is refused (login CSRF). Must not write to the database.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from hubsense.api import session
from hubsense.api.auth import Conn, presented_key
from hubsense.api.keys import Principal, Role, lookup, split_key

from hubsense.wire import ID_PATTERN

router = APIRouter(tags=["hub page"])
_ended_lock = threading.Lock()


def ended_sessions(request: Request) -> session.Ended:
    with _ended_lock:
        ended = getattr(request.app.state, "ended_sessions", None)
        if ended is None:
            ended = request.app.state.ended_sessions = session.Ended()
        return ended


def cookie_session(request: Request, conn: Any) -> tuple[Principal, int, str] | None:
    """The valid session the request's cookie names, else None (forged, expired, revoked)."""
    token = request.cookies.get(session.COOKIE)
    if not token:
        return None
    return session.verify(conn, token, time.time(), ended_sessions(request))


def viewer(
    request: Request, conn: Conn, key: Annotated[str | None, Depends(presented_key)]
) -> Principal | None:
    """The dependency form of `viewer_of` (holds a pooled connection for the request:
    not for event streams, which would hold it as long as they run)."""
    return viewer_of(request, conn, key)


def viewer_of(request: Request, conn: Any, key: str | None) -> Principal | None:
    """Who looks at a hub page: a header key (a wrong one: 401), else a valid session
    cookie, else nobody. A cookie that is no longer valid counts as no cookie."""
    if key is not None:
        who = lookup(conn, key)
        if who is None:
            raise HTTPException(401, "invalid or revoked API key", {"WWW-Authenticate": "Bearer"})
        return who
    found = cookie_session(request, conn)
    return found[0] if found else None


def _same_origin(request: Request) -> bool:
    """Not a cross-site browser request. Browsers say where a request comes from in
    Sec-Fetch-Site; older ones in Origin (`null` under our Referrer-Policy: no-referrer,
    so it proves nothing); a script or curl sends neither and has no cookie to abuse."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host")


async def _form(request: Request) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    return {name: values[0] for name, values in fields.items()}


def _back_to(site: str | None, fragment: str = "") -> str:
    import re

    if site and re.fullmatch(ID_PATTERN, site):
        return f"/hubs/{site}{fragment}"
    return f"/{fragment}"


@router.post(
    "/hubs/session",
    summary="Sign in to the hub pages: a session cookie instead of a key in the URL",
    responses={401: {"description": "Wrong or revoked key"}, 403: {"description": "Refused"}},
)
async def sign_in(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    if not _same_origin(request):
        raise HTTPException(403, "sign in from this server's own hub page")
    form = await _form(request)
    site = form.get("site")
    header = request.headers.get("authorization", "")
    bearer = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else None
    key = form["key"] if "key" in form else bearer or request.headers.get("x-api-key")

    def check() -> tuple[Principal, str] | None:
        if not key or split_key(key) is None:
            return None
        with request.app.state.pool.connection() as conn:
            who = lookup(conn, key)
            secret_hash = session.secret_hash_of(conn, who.key_id) if who else None
        return (who, secret_hash) if who and secret_hash else None

    found = await run_in_threadpool(check)
    if found is None:
        if "key" in form:
            return RedirectResponse(_back_to(site, "#signin-failed"), status_code=303)
        raise HTTPException(401, "invalid or revoked API key", {"WWW-Authenticate": "Bearer"})
    who, secret_hash = found
    if who.role is Role.BOOKING_TOOL:
        if "key" in form:
            return RedirectResponse(_back_to(site, "#signin-refused"), status_code=303)
        raise HTTPException(403, "a booking_tool key has no hub page view; use its Bearer key")
    now = time.time()
    token = session.issue(who.key_id, secret_hash, now)
    expires = int(now) + session.SESSION_S
    if "key" in form:
        response: Response = RedirectResponse(_back_to(site), status_code=303)
    else:
        response = JSONResponse(_about(who, expires))
    response.set_cookie(
        session.COOKIE,
        token,
        max_age=session.SESSION_S,
        path="/hubs",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _about(who: Principal, expires_s: int) -> dict[str, Any]:
    import datetime as dt

    return {
        "signed_in": True,
        "key_id": who.key_id,
        "role": who.role.value,
        "sites": sorted(who.sites) if who.role is Role.HUB_MANAGER else None,
        "expires": dt.datetime.fromtimestamp(expires_s, dt.UTC).isoformat(),
    }


@router.get("/hubs/session", summary="Whether this browser is signed in to the hub pages")
def session_status(request: Request, conn: Conn) -> JSONResponse:
    found = cookie_session(request, conn)
    body = _about(found[0], found[1]) if found else {"signed_in": False}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/hubs/session/end", summary="Sign out of the hub pages")
async def sign_out(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    if not _same_origin(request):
        raise HTTPException(403, "sign out from this server's own hub page")
    form = await _form(request)
    token = request.cookies.get(session.COOKIE)
    parsed = session.parse(token) if token else None
    if parsed is not None:

        def valid() -> bool:
            with request.app.state.pool.connection() as conn:
                return cookie_session(request, conn) is not None

        # Only a valid session is remembered as ended (a forged cookie cannot fill the set).
        if await run_in_threadpool(valid):
            ended_sessions(request).add(parsed[2], parsed[1])
    site = form.get("site")
    response: Response = (
        RedirectResponse(_back_to(site), status_code=303)
        if "site" in form
        else JSONResponse({"signed_in": False})
    )
    response.delete_cookie(
        session.COOKIE,
        path="/hubs",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response
