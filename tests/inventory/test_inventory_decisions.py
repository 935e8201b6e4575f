"""The SPEC §11 inventory fields: defaults, and each bad value at its file, line and field."""

from __future__ import annotations

from test_inventory_file import BASE, HUB, edit, errors

from hubsense.inventory.file import parse_inventory
from hubsense.inventory.model import SiteKind

COWORKING = """\
  - id: cowork
    name: Cowork
    kind: coworking
    timezone: Europe/Stockholm
    commute_km: 45
    day_pass_price: 250
"""
ORG = """\
organisation: Test Region
currency: SEK
main_office: hq
day_pass_price: 200
day_pass_budget_month: 10000
"""


def text(org: str = ORG, extra: str = "") -> str:
    return edit("organisation: Test Region\n", org, BASE + HUB + COWORKING + extra)


def test_fields_and_defaults() -> None:
    inv = parse_inventory(text(), "inv.yaml")
    assert (inv.currency, inv.main_office, inv.day_pass_price, inv.day_pass_budget_month) == (
        "SEK", "hq", 200, 10000,
    )  # fmt: skip
    # Defaults are assumptions, told apart from values the file sets.
    assert (inv.co2_kg_per_km, inv.used_min_s, inv.together_min_s) == (0.12, 1800, 3600)
    assert inv.is_set("currency") and not inv.is_set("co2_kg_per_km")
    cowork = inv.site_by_id["cowork"]
    assert cowork.kind is SiteKind.COWORKING and cowork.commute_km == 45
    # A site's own price overrides the organisation's; the hub has none of its own.
    assert inv.day_pass_price_of(cowork) == 250
    assert inv.day_pass_price_of(inv.site_by_id["hub"]) == 200


def test_everything_optional() -> None:
    inv = parse_inventory(BASE, "inv.yaml")
    assert inv.currency is None and inv.main_office is None and inv.day_pass_price is None


def test_currency_not_iso_4217() -> None:
    assert errors(text(ORG.replace("SEK", "KRONOR"))) == [
        "inv.yaml:2: currency: 'KRONOR' is not an ISO 4217 currency code (e.g. SEK, EUR, NOK)"
    ]
    assert errors(text(ORG.replace("SEK", "sek")))[0].startswith("inv.yaml:2: currency: 'sek'")


def test_negative_price_and_distance() -> None:
    assert errors(text(ORG.replace("day_pass_price: 200", "day_pass_price: -1"))) == [
        "inv.yaml:4: day_pass_price: input should be greater than or equal to 0"
    ]
    bad = text().replace("    commute_km: 45\n", "    commute_km: -45\n")
    # BASE is 17 lines, HUB 10 and the organisation block 4 more: the coworking site's
    # commute_km is line 17 + 10 + 4 + 5 = 36.
    assert errors(bad) == [
        "inv.yaml:36: sites[2].commute_km: input should be greater than or equal to 0"
    ]


def test_main_office_must_be_an_office() -> None:
    assert errors(text(ORG.replace("main_office: hq", "main_office: hub"))) == [
        "inv.yaml:3: main_office: site 'hub' is a hub; main_office must be an office site"
    ]
    assert errors(text(ORG.replace("main_office: hq", "main_office: nowhere"))) == [
        "inv.yaml:3: main_office: there is no site 'nowhere'; main_office must be an office site"
    ]


def test_coworking_has_no_desks() -> None:
    bad = text(extra="    desks:\n      - {id: c1}\n")
    assert errors(bad) == [
        "inv.yaml:38: sites[2].desks: a coworking site has no desks of ours "
        "(its use is the day passes bought there)"
    ]
