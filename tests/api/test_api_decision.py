"""GET /v1/decision and POST /v1/daypasses on a real API process and database."""

from __future__ import annotations

import psycopg
from api_helpers import HUB, SITE, ApiServer, Keys


def test_daypasses_and_decision(api: ApiServer, api_dsn: str, keys: Keys) -> None:
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (id, name, kind, timezone, commute_km, day_pass_price) "
            "VALUES ('cw', 'Cowork', 'coworking', 'Europe/Stockholm', 50, 300) "
            "ON CONFLICT (id) DO NOTHING"
        )
        conn.execute(
            "INSERT INTO organisation (name, currency, day_pass_price) VALUES ('t', 'SEK', 250) "
            "ON CONFLICT (name) DO NOTHING"
        )
    body = [
        {"pass_id": "a1", "site": "cw", "date": "2026-03-02"},
        {"pass_id": "a2", "site": "cw", "date": "2026-03-03"},
    ]
    with api.client(keys.facilities) as client:
        first = client.post("/v1/daypasses", json=body)
        assert (first.status_code, first.json()) == (200, {"added": 2, "replaced": 0})
        again = client.post("/v1/daypasses", json=body)
        assert again.json() == {"added": 0, "replaced": 2}
        wrong = client.post(
            "/v1/daypasses", json=[{"pass_id": "a3", "site": HUB, "date": "2026-03-02"}]
        )
        assert wrong.status_code == 422
        assert f"body:0: site: '{HUB}' is a hub, not a coworking site" in wrong.json()["detail"]
        named = client.post(
            "/v1/daypasses",
            json=[{"pass_id": "a4", "site": "cw", "date": "2026-03-02", "name": "Anna"}],
        )
        assert named.status_code == 422  # no other fields, so never a name
        got = client.get("/v1/decision", params={"from": "2026-03-02", "to": "2026-03-09"})
        assert got.status_code == 200, got.text
        out = got.json()
    assert (out["from"], out["to"], out["currency"], out["day_passes_bought"]) == (
        "2026-03-02", "2026-03-09", "SEK", 2,
    )  # fmt: skip
    cw = next(s for s in out["sites"] if s["site"] == "cw")
    # 2 passes x 2 x 50 km = 200 km; x 0.12 kg (the default) = 24 kg.
    assert cw["desk_days_used"] == 2 and cw["commute_km_avoided"] == 200
    assert abs(cw["co2_kg_avoided"] - 24) < 1e-9
    with api.client(keys.hub_manager) as client:
        assert (
            client.get(
                "/v1/decision", params={"from": "2026-03-02", "to": "2026-03-09"}
            ).status_code
            == 403
        )


def test_decision_gives_no_use_figures_for_a_site_without_sensor_data(
    api: ApiServer, api_dsn: str, keys: Keys
) -> None:
    # A week in June 2025 (no DST change), both sites open all day: 7 x 86,400 s x 3 desks =
    # 1,814,400 s each. The hub's desks saw 86,400 + 43,200 s of it; the office saw nothing.
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        for desk, seconds in (("h-1", 86_400), ("h-2", 43_200)):
            conn.execute(
                """INSERT INTO analytics_desk_day (site_id, desk_id, day, bucket_start,
                       observed_s, occupied_s, booked_s, booked_observed_s, booked_occupied_s,
                       unbooked_occupied_s)
                   VALUES (%s, %s, '2025-06-02',
                           ('2025-06-02'::timestamp) AT TIME ZONE 'Europe/Stockholm',
                           %s, 0, 0, 0, 0, 0)""",
                (HUB, desk, seconds),
            )
    with api.client(keys.facilities) as client:
        got = client.get("/v1/decision", params={"from": "2025-06-02", "to": "2025-06-09"})
    assert got.status_code == 200, got.text
    out = got.json()
    sites = {s["site"]: s for s in out["sites"]}
    office, hub = sites[SITE], sites[HUB]
    assert office["not_measured"] == "no sensor data in the period"
    assert office["observed_share"] == 0
    # Nothing seen is not "nobody came": no desk-days, nothing per desk-day, no commute.
    assert office["desk_days_used"] is None and office["cost_per_used_desk_day"] is None
    assert office["cost"] == 250 * 3 * 7 / 30  # what the desks cost is known all the same
    assert (hub["not_measured"], hub["desk_days_used"]) == (None, 0)
    assert hub["observed_share"] == 129_600 / 1_814_400  # 1/14
    assert out["observed_share"] == 129_600 / (2 * 1_814_400)  # 1/28
    # No main office is set here, so no freed figure either way, and no data reason for it.
    assert (out["freed_passes_per_month"], out["not_measured"]) == (None, None)
