"""Routes: bookings CRUD and CSV/iCalendar import, idempotent by booking id (SPEC §7).

Booking tools and facilities may write any site's bookings, hub managers only their
own sites'. A released booking is kept (never deleted): DELETE answers 409 for it.
Must not decide releases (that is the release watcher).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from hubsense.api import models
from hubsense.api.auth import BookingWriter, Conn, check_site, visible_sites
from hubsense.bookings.imports import Inventory, check_row, parse_csv, parse_ical
from hubsense.bookings.store import BookingRow, upsert_bookings_counted
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
    "booking_id, site_id, desk_id, start_at, end_at, origin, booker_hash IS NOT NULL, released_at"
)
MAX_IMPORT_BYTES = 20 * 1024 * 1024


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
    )


def read_inventory(conn: Any) -> Inventory:
    desks = conn.execute("SELECT id, site_id FROM desks WHERE retired_at IS NULL").fetchall()
    sites = conn.execute("SELECT id, timezone FROM sites WHERE retired_at IS NULL").fetchall()
    return Inventory(dict(desks), dict(sites))


def _salt(request: Request) -> str | None:
    salt = request.app.state.settings.privacy.booker_salt
    return salt.get_secret_value() if salt is not None else None


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
        ORDER BY start_at DESC, booking_id LIMIT %(limit)s
        """,
        {
            "site": site,
            "only": visible_sites(who),
            "desk": desk,
            "from": start_from,
            "to": start_to,
            "limit": limit,
        },
    ).fetchall()
    return [_booking(row) for row in rows]


@router.get("/{booking_id}", response_model=models.Booking, summary="One booking")
def get_booking(booking_id: models.BookingPath, who: BookingWriter, conn: Conn) -> models.Booking:
    found = _find(conn, booking_id)
    if found is None:
        raise HTTPException(404, f"no booking {booking_id}")
    check_site(who, found.site)
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
    existing = _find(conn, booking_id)
    if existing is not None:
        check_site(who, existing.site)
    salt = _salt(request)
    row = BookingRow(
        booking_id=booking_id,
        site_id=body.site,
        desk_id=body.desk,
        start_at=body.start,
        end_at=body.end,
        booker_hash=hash_booker(body.booker, salt) if body.booker and salt else None,
    )
    try:
        check_row(row, read_inventory(conn), f"booking {booking_id}")
    except InputError as error:
        raise HTTPException(422, str(error)) from None
    counts = upsert_bookings_counted(conn, [row], origin="api")
    response.status_code = 201 if counts.created else 200
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
    summary="Cancel a booking that was not released",
)
def delete_booking(booking_id: models.BookingPath, who: BookingWriter, conn: Conn) -> Response:
    found = _find(conn, booking_id)
    if found is None:
        raise HTTPException(404, f"no booking {booking_id}")
    check_site(who, found.site)
    if found.released_at is not None:
        raise HTTPException(409, f"booking {booking_id} was released for no-show and is kept")
    conn.execute(
        "DELETE FROM bookings WHERE booking_id = %s AND released_at IS NULL", (booking_id,)
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
) -> models.ImportResult:
    from starlette.concurrency import run_in_threadpool

    data = await request.body()
    if len(data) > MAX_IMPORT_BYTES:
        raise HTTPException(413, f"import larger than {MAX_IMPORT_BYTES} bytes")
    kind = format or _format_of(request.headers.get("content-type", ""))
    return await run_in_threadpool(_import, request, who, kind, data)


def _format_of(content_type: str) -> str:
    media = content_type.split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        return "csv"
    if media in ("text/calendar", "application/ics"):
        return "ical"
    raise HTTPException(415, "send text/csv or text/calendar (or ?format=csv|ical)")


def _import(request: Request, who: Any, kind: str, data: bytes) -> models.ImportResult:
    with request.app.state.pool.connection() as conn:
        inventory = read_inventory(conn)
        parse = parse_csv if kind == "csv" else parse_ical
        try:
            parsed = parse(data, inventory, _salt(request))
        except InputError as error:
            raise HTTPException(422, str(error)) from None
        for site in sorted({row.site_id for row in parsed.rows}):
            check_site(who, site)
        # The last row of an id wins, as if the file were applied row by row.
        last = {row.booking_id: row for row in parsed.rows}
        counts = upsert_bookings_counted(conn, last.values(), origin=kind)
    return models.ImportResult(
        rows=len(parsed.rows),
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged + len(parsed.rows) - len(last),
    )
