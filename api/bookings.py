"""Routes: bookings CRUD and CSV/iCalendar import, idempotent by booking id (docs/api.md).

Booking tools and facilities may write any site's bookings, hub managers only their
own sites'; a booking stored at a site the caller may not see answers 404, whichever
route or import names it (checked against the row as stored, in the write's transaction).
DELETE cancels (the row is kept with `cancelled_at`); a released booking answers 409. Imports share
`bookings/importer.py` with `hubsense bookings import`, stream the body to a spooled file,
and run at most `bookings.import_concurrency` at once (429 beyond).
Must not decide releases (that is the release watcher).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from hubsense.api import models
from hubsense.api.auth import BookingWriter, Conn, check_site, visible_sites
from hubsense.api.keys import Principal
from hubsense.bookings.ical import Window
from hubsense.bookings.importer import ImportOptions, import_file, read_inventory
from hubsense.bookings.imports import Limits, check_row
from hubsense.bookings.store import (
    BookingNotVisibleError,
    BookingRow,
    SiteNotAllowedError,
    apply_bookings,
)
from pydantic import AwareDatetime

from hubsense.errors import InputError
from hubsense.privacy import hash_booker
from hubsense.wire import ID_PATTERN

router = APIRouter(
    prefix="/v1/bookings",
    tags=["bookings"],
    responses={
        **models.ERRORS,
        409: {"model": models.Problem, "description": "A released booking is kept"},
        413: {"model": models.Problem, "description": "The file is too large"},
        415: {"model": models.Problem, "description": "Not CSV or iCalendar"},
    },
)

_COLUMNS = (
    "booking_id, site_id, desk_id, start_at, end_at, origin, booker_hash IS NOT NULL, released_at,"
    " cancelled_at"
)
# An import body beyond this much is spooled to a temporary file instead of memory.
_SPOOL_BYTES = 1024 * 1024
_SOURCE_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"


def _booking(row: tuple[Any, ...]) -> models.Booking:
    return models.Booking(
        booking_id=row[0],
        site=row[1],
        desk=row[2],
        start=row[3],
        end=row[4],
        origin=row[5],
        booker_hashed=row[6],
        released_at=row[7],
        cancelled_at=row[8],
    )


def _limits(request: Request) -> Limits:
    return Limits.from_settings(request.app.state.settings.bookings)


def _visible(who: Principal, site: str) -> bool:
    """May the caller see a stored booking of this site (booking tools see every site's)?"""
    sites = visible_sites(who)
    return sites is None or site in sites


def _find(conn: Any, booking_id: str) -> models.Booking | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM bookings WHERE booking_id = %s", (booking_id,)
    ).fetchone()
    return _booking(row) if row else None


@router.get("", response_model=list[models.Booking], summary="Bookings, newest start first")
def list_bookings(
    who: BookingWriter,
    conn: Conn,
    site: Annotated[str | None, Query(pattern=ID_PATTERN, description="Only this site.")] = None,
    desk: Annotated[str | None, Query(pattern=ID_PATTERN, description="Only this desk.")] = None,
    start_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="Ends after this.")
    ] = None,
    start_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="Starts before this.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cancelled: Annotated[
        bool, Query(description="Include bookings cancelled at their source (kept).")
    ] = False,
) -> list[models.Booking]:
    if site is not None:
        check_site(who, site)
    rows = conn.execute(
        f"""
        SELECT {_COLUMNS} FROM bookings
        WHERE (%(site)s::text IS NULL OR site_id = %(site)s)
          AND (%(only)s::text[] IS NULL OR site_id = ANY(%(only)s))
          AND (%(desk)s::text IS NULL OR desk_id = %(desk)s)
          AND (%(from)s::timestamptz IS NULL OR end_at > %(from)s)
          AND (%(to)s::timestamptz IS NULL OR start_at < %(to)s)
          AND (%(cancelled)s OR cancelled_at IS NULL)
        ORDER BY start_at DESC, booking_id LIMIT %(limit)s
        """,
        {
            "site": site,
            "only": visible_sites(who),
            "desk": desk,
            "from": start_from,
            "to": start_to,
            "limit": limit,
            "cancelled": cancelled,
        },
    ).fetchall()
    return [_booking(row) for row in rows]


@router.get("/{booking_id}", response_model=models.Booking, summary="One booking")
def get_booking(booking_id: models.BookingPath, who: BookingWriter, conn: Conn) -> models.Booking:
    found = _find(conn, booking_id)
    if found is None or not _visible(who, found.site):
        raise HTTPException(404, f"no booking {booking_id}")
    return found


def _write(
    request: Request,
    response: Response,
    conn: Any,
    who: Any,
    booking_id: str,
    body: models.BookingIn,
) -> models.Booking:
    check_site(who, body.site)
    salt = request.app.state.settings.privacy.salt()
    row = BookingRow(
        booking_id=booking_id,
        site_id=body.site,
        desk_id=body.desk,
        start_at=body.start,
        end_at=body.end,
        booker_hash=hash_booker(body.booker, salt) if body.booker and salt else None,
    )
    try:
        check_row(row, read_inventory(conn), f"booking {booking_id}", _limits(request))
    except InputError as error:
        raise HTTPException(422, str(error)) from None
    try:
        applied = apply_bookings(conn, [row], origin="api", allowed_sites=visible_sites(who))
    except BookingNotVisibleError as error:
        raise HTTPException(404, str(error)) from None
    response.status_code = 201 if applied.created else 200
    written = _find(conn, booking_id)
    assert written is not None
    return written


@router.put(
    "/{booking_id}",
    response_model=models.Booking,
    responses={201: {"model": models.Booking, "description": "Created"}},
    summary="Create or update a booking by id (idempotent)",
)
def put_booking(
    booking_id: models.BookingPath,
    body: models.BookingIn,
    request: Request,
    response: Response,
    who: BookingWriter,
    conn: Conn,
) -> models.Booking:
    return _write(request, response, conn, who, booking_id, body)


@router.post(
    "",
    response_model=models.Booking,
    responses={201: {"model": models.Booking, "description": "Created"}},
    summary="Create or update a booking; the id in the body makes it idempotent",
)
def post_booking(
    body: models.BookingNew, request: Request, response: Response, who: BookingWriter, conn: Conn
) -> models.Booking:
    data = body.model_dump(exclude={"booking_id"})
    return _write(request, response, conn, who, body.booking_id, models.BookingIn(**data))


@router.delete(
    "/{booking_id}",
    status_code=204,
    responses={409: {"description": "Released bookings are kept"}},
    summary="Cancel a booking that was not released (kept with cancelled_at)",
)
def delete_booking(booking_id: models.BookingPath, who: BookingWriter, conn: Conn) -> Response:
    """Cancel, never delete: the row stays with `cancelled_at` (not counted as booked), as a
    booking gone from its calendar does; cancelling again changes nothing; a PUT revives it."""
    found = _find(conn, booking_id)
    if found is None or not _visible(who, found.site):
        raise HTTPException(404, f"no booking {booking_id}")
    if found.released_at is not None:
        raise HTTPException(409, f"booking {booking_id} was released for no-show and is kept")
    conn.execute(
        "UPDATE bookings SET cancelled_at = now(), updated_at = now()"
        " WHERE booking_id = %s AND released_at IS NULL AND cancelled_at IS NULL",
        (booking_id,),
    )
    return Response(status_code=204)


@router.post(
    "/import",
    response_model=models.ImportResult,
    summary="Import a CSV or iCalendar file from a booking tool (idempotent by booking id)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "text/calendar": {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_bookings(
    request: Request,
    who: BookingWriter,
    format: Annotated[
        Literal["csv", "ical"] | None,
        Query(description="csv or ical; default from the Content-Type."),
    ] = None,
    source: Annotated[
        str | None,
        Query(
            pattern=_SOURCE_PATTERN,
            description="Name of the calendar or export this file is; a re-import of the same"
            " source replaces its bookings in the window (what is gone is cancelled).",
        ),
    ] = None,
    window_from: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="Window start; default one year back."),
    ] = None,
    window_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="Window end; default 90 days ahead.")
    ] = None,
    dry_run: Annotated[bool, Query(description="Check and count, write nothing.")] = False,
) -> models.ImportResult:
    from starlette.concurrency import run_in_threadpool

    kind = format or _format_of(request.headers.get("content-type", ""))
    slots = request.app.state.import_slots
    got = slots.acquire(blocking=False)
    if not got:
        raise HTTPException(
            429,
            "another booking import is running; retry in a moment",
            headers={"Retry-After": "5"},
        )
    try:
        limit = request.app.state.settings.api.max_import_bytes
        # Spooled: a large body goes to a temporary file, not into the process's memory.
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as body:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"import larger than {limit} bytes")
                body.write(chunk)
            body.seek(0)
            settings = request.app.state.settings.bookings
            now = dt.datetime.now(dt.UTC)
            window = Window(
                window_from or now - dt.timedelta(days=settings.window_back_days),
                window_to or now + dt.timedelta(days=settings.window_ahead_days),
            )
            if window.end <= window.start:
                raise HTTPException(422, "to: must be after from")
            options = ImportOptions(
                name="bookings.csv" if kind == "csv" else "bookings.ics",
                window=window,
                limits=_limits(request),
                source=source,
                allowed_sites=visible_sites(who),
                dry_run=dry_run,
            )
            return await run_in_threadpool(_import, request, kind, body, options)
    finally:
        slots.release()


def _format_of(content_type: str) -> str:
    media = content_type.split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        return "csv"
    if media in ("text/calendar", "application/ics"):
        return "ical"
    raise HTTPException(415, "send text/csv or text/calendar (or ?format=csv|ical)")


def _import(request: Request, kind: Any, body: Any, options: ImportOptions) -> models.ImportResult:
    with request.app.state.pool.connection() as conn:
        try:
            applied = import_file(
                conn,
                body,
                kind,
                read_inventory(conn),
                request.app.state.settings.privacy.salt(),
                options,
            )
        except InputError as error:
            raise HTTPException(422, str(error)) from None
        except SiteNotAllowedError as error:
            raise HTTPException(403, str(error)) from None
        except BookingNotVisibleError as error:
            raise HTTPException(404, str(error)) from None
    return models.ImportResult(
        rows=applied.rows,
        created=len(applied.created),
        updated=len(applied.updated),
        unchanged=applied.unchanged,
        cancelled=len(applied.cancelled),
        dry_run=options.dry_run,
    )
