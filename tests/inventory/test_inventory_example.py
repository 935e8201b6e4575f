"""The example organisation in firmware-config/ is valid and has the shape the docs promise."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dateutil.easter import easter

from hubsense.inventory.file import load_inventory
from hubsense.inventory.model import Inventory, SiteKind

EXAMPLE = Path(__file__).parents[2] / "firmware-config" / "examples" / "inventory.yaml"
HUB_PLACES = {
    "Stugun", "Gällö", "Brunflo", "Funäsdalen", "Åre", "Mattmar", "Gåxsjö", "Kluksgården", "Ås",
}  # fmt: skip


@pytest.fixture(scope="module")
def example() -> Inventory:
    return load_inventory(EXAMPLE)


def test_example_counts(example: Inventory) -> None:
    assert example.organisation == "Region Jämtland Härjedalen"
    assert example.counts() == {"sites": 12, "desks": 174, "nodes": 17, "sensors": 178}


def test_main_office(example: Inventory) -> None:
    [office] = [site for site in example.sites if site.kind is SiteKind.OFFICE]
    assert office.id == "ostersund-hq"
    assert office.municipality == "Östersund"
    assert office.capacity == 120
    assert {desk.zone for desk in office.desks} == {"floor-2", "floor-3", "floor-4", "floor-5"}
    assert office.area_m2 == 2400 and office.cost_per_desk_month == 3100
    assert office.opening_hours_summary() == "mon-fri 07:00-18:00"
    for node in office.nodes:
        assert len(node.desk_ids) <= 30
        assert {sensor.type for sensor in node.sensors} == {"gpio_pir", "bthome"}


def test_hubs(example: Inventory) -> None:
    hubs = [site for site in example.sites if site.kind is SiteKind.HUB]
    assert {hub.name.removeprefix("Hubben ") for hub in hubs} == HUB_PLACES
    for hub in hubs:
        assert 2 <= hub.capacity <= 12, hub.id
        assert len(hub.nodes) == 1, hub.id
        assert set(hub.nodes[0].desk_ids) == {desk.id for desk in hub.desks}
    summaries = {hub.id: hub.opening_hours_summary() for hub in hubs}
    assert summaries["hub-funasdalen"] == "mon-fri 08:00-12:00, 13:00-17:00; sat 10:00-14:00"
    assert summaries["hub-mattmar"] == "tue-thu 08:00-16:00"
    assert sum(", " in text for text in summaries.values()) >= 2  # lunch breaks
    assert sum("sat" in text for text in summaries.values()) >= 2


def test_every_site_is_in_stockholm_time(example: Inventory) -> None:
    assert {site.timezone for site in example.sites} == {"Europe/Stockholm"}


def _midsummer_eve(year: int) -> dt.date:
    day = dt.date(year, 6, 19)
    return day + dt.timedelta(days=(4 - day.weekday()) % 7)


@pytest.mark.parametrize("year", [2026, 2027])
def test_swedish_holidays_are_closed(example: Inventory, year: int) -> None:
    sunday = easter(year)
    expected = {
        dt.date(year, 1, 1),
        dt.date(year, 1, 6),
        sunday - dt.timedelta(days=2),  # Good Friday
        sunday + dt.timedelta(days=1),  # Easter Monday
        dt.date(year, 5, 1),
        sunday + dt.timedelta(days=39),  # Ascension
        dt.date(year, 6, 6),
        _midsummer_eve(year),
        dt.date(year, 12, 24),
        dt.date(year, 12, 25),
        dt.date(year, 12, 26),
        dt.date(year, 12, 31),
    }
    for site in example.sites:
        assert expected <= site.closed_date_set, site.id
        assert all(not site.is_open_on(day) for day in expected)


def test_holiday_dates_by_hand(example: Inventory) -> None:
    # The brief's own list for 2026, checked independently of the computation above.
    hand = ["2026-04-03", "2026-04-06", "2026-05-14", "2026-06-19", "2027-03-26", "2027-05-06"]
    closed = example.sites[0].closed_date_set
    assert {dt.date.fromisoformat(day) for day in hand} <= closed
    assert dt.date(2026, 6, 18) not in closed and dt.date(2026, 4, 2) not in closed


def test_decision_fields(example: Inventory) -> None:
    assert (example.currency, example.main_office) == ("SEK", "ostersund-hq")
    km = {s.id: s.commute_km for s in example.sites if s.kind is SiteKind.HUB}
    # The rough one-way road distances to Östersund, marked approximate in the file.
    assert km == {
        "hub-brunflo": 15, "hub-as": 10, "hub-mattmar": 45, "hub-gallo": 60, "hub-stugun": 75,
        "hub-kluksgarden": 80, "hub-are": 100, "hub-gaxsjo": 110, "hub-funasdalen": 250,
    }  # fmt: skip
    coworking = [s for s in example.sites if s.kind is SiteKind.COWORKING]
    assert len(coworking) == 2 and all(s.day_pass_price and not s.desks for s in coworking)
