"""Routes: sites, desks, occupancy now and node fleet status (read-only).

Facilities see every site, hub managers their own; booking tools get 403 here.
Must not write to the database.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from hubsense.api import models
from hubsense.api.auth import Conn, Reader, check_site, visible_sites
from hubsense.api.occupancy import count, read_desks_now

router = APIRouter(prefix="/v1", tags=["sites"], responses=models.ERRORS)

_SITES = """
SELECT s.id, s.name, s.kind, s.municipality, s.timezone, s.opening_hours, s.closed_dates,
       s.area_m2,
       (SELECT count(*) FROM desks d WHERE d.site_id = s.id AND d.retired_at IS NULL),
       (SELECT coalesce(array_agg(DISTINCT d.zone ORDER BY d.zone), '{}') FROM desks d
        WHERE d.site_id = s.id AND d.retired_at IS NULL AND d.zone IS NOT NULL)
FROM sites s
WHERE s.retired_at IS NULL AND (%(only)s::text[] IS NULL OR s.id = ANY(%(only)s))
ORDER BY s.id
"""


def _site(row: tuple[Any, ...]) -> models.Site:
    return models.Site(
        id=row[0],
        name=row[1],
        kind=row[2],
        municipality=row[3],
        timezone=row[4],
        opening_hours=row[5],
        closed_dates=row[6],
        area_m2=row[7],
        capacity=row[8],
        zones=row[9],
    )


def site_exists(conn: Any, site: str) -> None:
    if conn.execute("SELECT 1 FROM sites WHERE id = %s", (site,)).fetchone() is None:
        raise HTTPException(404, f"no site {site}")


@router.get("/sites", response_model=list[models.Site], summary="Sites the key may see")
def list_sites(who: Reader, conn: Conn) -> list[models.Site]:
    rows = conn.execute(_SITES, {"only": visible_sites(who)}).fetchall()
    return [_site(row) for row in rows]


@router.get("/sites/{site}", response_model=models.Site, summary="One site")
def get_site(site: models.SitePath, who: Reader, conn: Conn) -> models.Site:
    check_site(who, site)
    rows = conn.execute(_SITES, {"only": [site]}).fetchall()
    if not rows:
        raise HTTPException(404, f"no site {site}")
    return _site(rows[0])


@router.get("/sites/{site}/desks", response_model=list[models.Desk], summary="A site's desks")
def list_desks(site: models.SitePath, who: Reader, conn: Conn) -> list[models.Desk]:
    check_site(who, site)
    site_exists(conn, site)
    rows = conn.execute(
        """
        SELECT d.id, d.site_id, d.zone,
               (SELECT node_id FROM sensors s WHERE s.desk_id = d.id AND s.retired_at IS NULL
                ORDER BY node_id LIMIT 1)
        FROM desks d WHERE d.site_id = %s AND d.retired_at IS NULL ORDER BY d.id
        """,
        (site,),
    ).fetchall()
    return [models.Desk(id=r[0], site=r[1], zone=r[2], node=r[3]) for r in rows]


@router.get(
    "/sites/{site}/occupancy",
    response_model=models.OccupancyNow,
    summary="Every desk now: free, occupied (walk-in when unbooked), booked or unknown",
)
def occupancy_now(
    site: models.SitePath, who: Reader, conn: Conn, request: Request
) -> models.OccupancyNow:
    check_site(who, site)
    site_exists(conn, site)
    now = request.app.state.clock()
    desks = read_desks_now(conn, site, now)
    return models.OccupancyNow(
        site=site,
        at=now,
        counts=count(desks),
        desks=[models.DeskNow.model_validate(desk, from_attributes=True) for desk in desks],
    )


_FLEET = """
SELECT n.id, n.site_id, ns.online,
       greatest(ns.reported_at, ns.updated_at, last.ts),
       ns.version, ns.uptime_s, ns.outbox_depth, coalesce(ns.last_reading_age_s, '{}'::jsonb),
       ns.cpu_temp_c,
       (SELECT count(DISTINCT desk_id) FROM sensors s
        WHERE s.node_id = n.id AND s.retired_at IS NULL)
FROM nodes n
LEFT JOIN node_status ns ON ns.node_id = n.id
LEFT JOIN LATERAL (SELECT ts FROM events e WHERE e.node_id = n.id ORDER BY seq DESC LIMIT 1) last
    ON true
WHERE n.retired_at IS NULL AND (%(only)s::text[] IS NULL OR n.site_id = ANY(%(only)s))
ORDER BY n.site_id, n.id
"""


def _fleet(conn: Any, only: list[str] | None) -> list[models.NodeStatus]:
    return [
        models.NodeStatus(
            node=r[0],
            site=r[1],
            online=r[2],
            last_seen=r[3],
            version=r[4],
            uptime_s=r[5],
            outbox_depth=r[6],
            last_reading_age_s=r[7],
            cpu_temp_c=r[8],
            desks=r[9],
        )
        for r in conn.execute(_FLEET, {"only": only}).fetchall()
    ]


@router.get("/fleet", response_model=list[models.NodeStatus], summary="Node fleet status")
def fleet(who: Reader, conn: Conn) -> list[models.NodeStatus]:
    return _fleet(conn, visible_sites(who))


@router.get("/sites/{site}/fleet", response_model=list[models.NodeStatus], summary="A site's nodes")
def site_fleet(site: models.SitePath, who: Reader, conn: Conn) -> list[models.NodeStatus]:
    check_site(who, site)
    site_exists(conn, site)
    return _fleet(conn, [site])
