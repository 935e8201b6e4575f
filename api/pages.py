"""Routes: the front page `/` (every site, linked to its hub page), `/hubs` and the 404 page.

What a person opening the API in a browser meets first: the list of sites and where to
read the API's documentation (`/docs`, `/redoc`, served without internet). Site names
and kinds are not personal data, so the list needs no key. Must not write to the database.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

router = APIRouter(include_in_schema=False)

_SITES = """
SELECT s.id, s.name, s.kind, s.municipality,
       (SELECT count(*) FROM desks d WHERE d.site_id = s.id AND d.retired_at IS NULL)
FROM sites s WHERE s.retired_at IS NULL ORDER BY s.kind::text <> 'office', s.name
"""


def page(title: str, body: str) -> str:
    """A small HTML page in the hub page's style (its stylesheet, light and dark)."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{html.escape(title)} · hubsense</title>\n"
        '<link rel="stylesheet" href="/hubs/static/hub.css">\n</head>\n'
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def not_found_page(site: str) -> HTMLResponse:
    body = (
        f"<header><h1>No site {html.escape(site)}</h1></header>\n<main>\n"
        f'<p id="message">There is no site with the id <code>{html.escape(site)}</code> '
        'in the inventory. <a href="/">All sites</a></p>\n</main>'
    )
    return HTMLResponse(page("Not found", body), status_code=404)


def _site_rows(rows: list[tuple[Any, ...]]) -> str:
    items = []
    for site_id, name, kind, municipality, desks in rows:
        where = f" · {html.escape(municipality)}" if municipality else ""
        items.append(
            f'<li data-site="{html.escape(site_id)}"><a href="/hubs/{html.escape(site_id)}">'
            f'{html.escape(name)}</a> <small class="muted">{kind}{where} · {desks} desks'
            "</small></li>"
        )
    return "\n".join(items)


@router.get("/", response_class=HTMLResponse)
def front_page(request: Request) -> HTMLResponse:
    with request.app.state.pool.connection() as conn:
        rows = conn.execute(_SITES).fetchall()
    empty = "<li>No sites yet: <code>hubsense inventory apply FILE</code>.</li>"
    listing = _site_rows(rows) if rows else empty
    body = (
        "<header><h1>hubsense</h1>"
        '<p class="muted">Desks in use now, per site. API documentation: '
        '<a href="/docs">/docs</a> (try it) or <a href="/redoc">/redoc</a> (read it).</p>'
        "</header>\n<main>\n<h2>Sites</h2>\n"
        f'<ul id="sites">\n{listing}\n</ul>\n</main>'
    )
    return HTMLResponse(page("Sites", body), headers={"Cache-Control": "no-store"})


@router.get("/hubs")
def hubs_index() -> RedirectResponse:
    """The list of hub pages is the front page."""
    return RedirectResponse("/", status_code=307)
