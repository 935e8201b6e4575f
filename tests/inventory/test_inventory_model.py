"""The inventory model used from Python: serialisation, helpers, errors with item paths."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from hubsense.inventory.hours import OpeningSpan, Weekday, format_span, parse_span
from hubsense.inventory.model import BthomeSensor, Inventory
from hubsense.inventory.rules import find_issues, format_loc


def site(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "hq",
        "name": "HQ",
        "kind": "office",
        "timezone": "Europe/Stockholm",
        "opening_hours": {"mon": ["07:00-12:00", "13:00-18:00"], "sat": ["10:00-14:00"]},
        "closed_dates": ["2026-12-24"],
        "desks": [{"id": "d1"}, {"id": "d2"}, {"id": "d3"}],
        "nodes": [
            {
                "id": "n1",
                "sensors": [
                    {"type": "gpio_pir", "pin": 17, "desk": "d1"},
                    {"type": "bthome", "address": "a4:c1:38:00:00:01", "desk": "d2"},
                ],
            }
        ],
    }
    return base | overrides


def test_opening_hours_serialise_as_strings_for_the_database() -> None:
    inventory = Inventory.model_validate({"organisation": "R", "sites": [site()]})
    dumped = inventory.model_dump(mode="json")["sites"][0]
    assert dumped["opening_hours"] == {
        "mon": ["07:00-12:00", "13:00-18:00"],
        "sat": ["10:00-14:00"],
    }
    assert dumped["closed_dates"] == ["2026-12-24"]
    # Python code gets spans in minutes.
    spans = inventory.sites[0].opening_hours[Weekday.MON]
    assert spans == [
        OpeningSpan(start_min=420, end_min=720),
        OpeningSpan(start_min=780, end_min=1080),
    ]


def test_model_dump_round_trips() -> None:
    inventory = Inventory.model_validate({"organisation": "R", "sites": [site()]})
    assert Inventory.model_validate(inventory.model_dump()) == inventory
    assert Inventory.model_validate_json(inventory.model_dump_json()) == inventory


def test_json_schema_describes_the_yaml_form() -> None:
    schema = Inventory.model_json_schema()
    hours = schema["$defs"]["Site"]["properties"]["opening_hours"]
    assert hours["additionalProperties"]["items"]["type"] == "string"
    assert hours["additionalProperties"]["items"]["examples"] == ["07:00-18:00"]


def test_span_text_conversions() -> None:
    assert parse_span("07:05-24:00") == OpeningSpan(start_min=425, end_min=1440)
    assert format_span(OpeningSpan(start_min=0, end_min=1440)) == "00:00-24:00"
    assert str(OpeningSpan(start_min=545, end_min=600)) == "09:05-10:00"


def test_opening_span_built_directly_is_checked() -> None:
    with pytest.raises(ValidationError, match="ends before it starts"):
        OpeningSpan(start_min=600, end_min=600)
    with pytest.raises(ValidationError, match="start between 00:00 and 23:59"):
        OpeningSpan(start_min=1440, end_min=1500)
    with pytest.raises(ValidationError, match="end by 24:00"):
        OpeningSpan(start_min=600, end_min=1441)


def test_site_helpers() -> None:
    inventory = Inventory.model_validate({"organisation": "R", "sites": [site()]})
    hq = inventory.sites[0]
    assert hq.capacity == 3
    monday, christmas_eve = dt.date(2026, 3, 2), dt.date(2026, 12, 24)
    assert [str(s) for s in hq.spans_on(monday)] == ["07:00-12:00", "13:00-18:00"]
    assert christmas_eve.weekday() == 3 and hq.spans_on(christmas_eve) == []
    assert hq.is_open_on(dt.date(2026, 3, 7)) is True  # a Saturday
    assert hq.is_open_on(dt.date(2026, 3, 8)) is False  # a Sunday
    assert hq.opening_hours_summary() == "mon 07:00-12:00, 13:00-18:00; sat 10:00-14:00"
    assert inventory.counts() == {"sites": 1, "desks": 3, "nodes": 1, "sensors": 2}


def test_opening_hours_summary_groups_equal_days() -> None:
    week = {d: ["08:00-16:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    inventory = Inventory.model_validate(
        {"organisation": "R", "sites": [site(opening_hours={**week, "sun": ["10:00-12:00"]})]}
    )
    assert inventory.sites[0].opening_hours_summary() == "mon-fri 08:00-16:00; sun 10:00-12:00"
    closed = Inventory.model_validate({"organisation": "R", "sites": [site(opening_hours={})]})
    assert closed.sites[0].opening_hours_summary() == "closed"


def test_ble_address_is_normalised_to_upper_case() -> None:
    sensor = BthomeSensor(type="bthome", address="a4:c1:38:0a:0b:0c", desk="d1")
    assert sensor.address == "A4:C1:38:0A:0B:0C"
    assert sensor.key == "ble:A4:C1:38:0A:0B:0C"


def test_same_ble_address_twice_is_rejected_case_insensitively() -> None:
    data = site()
    data["nodes"][0]["sensors"].append(
        {"type": "bthome", "address": "A4:C1:38:00:00:01", "desk": "d3"}
    )
    with pytest.raises(ValidationError) as caught:
        Inventory.model_validate({"organisation": "R", "sites": [data]})
    [error] = caught.value.errors()
    assert error["loc"] == ("sites", 0, "nodes", 0, "sensors", 2, "address")
    assert error["type"] == "address_in_use"
    assert error["msg"] == (
        "BLE address A4:C1:38:00:00:01 is already used by sites[0].nodes[0].sensors[1]"
    )


def test_cross_reference_and_field_errors_come_together_with_item_paths() -> None:
    data = site()
    data["nodes"][0]["sensors"][0]["pin"] = 40  # a field error
    data["nodes"][0]["sensors"][1]["desk"] = "d9"  # a cross-reference error
    with pytest.raises(ValidationError) as caught:
        Inventory.model_validate({"organisation": "R", "sites": [data]})
    found = {(error["loc"], error["type"]) for error in caught.value.errors()}
    assert found == {
        (("sites", 0, "nodes", 0, "sensors", 0, "gpio_pir", "pin"), "gpio_pin"),
        (("sites", 0, "nodes", 0, "sensors", 1, "desk"), "unknown_desk"),
    }


def test_find_issues_tolerates_malformed_input() -> None:
    raw = {"sites": [{"id": 3, "desks": "x", "nodes": [None, {"sensors": [{"desk": 5}]}]}]}
    assert find_issues(raw) == []
    assert find_issues(None) == []


def test_lookups() -> None:
    second = site(
        id="hub",
        kind="hub",
        desks=[{"id": "h1"}],
        nodes=[{"id": "n2", "sensors": [{"type": "gpio_pir", "pin": 4, "desk": "h1"}]}],
    )
    inventory = Inventory.model_validate({"organisation": "R", "sites": [site(), second]})
    assert inventory.site_of_desk == {"d1": "hq", "d2": "hq", "d3": "hq", "h1": "hub"}
    assert inventory.site_of_node == {"n1": "hq", "n2": "hub"}
    assert inventory.node_of_desk == {"d1": "n1", "d2": "n1", "h1": "n2"}
    assert inventory.node_by_id["n1"].desk_ids == ["d1", "d2"]
    assert inventory.site_by_id["hub"].capacity == 1


def test_format_loc() -> None:
    assert format_loc(("sites", 0, "nodes", 1, "sensors", 0, "pin")) == (
        "sites[0].nodes[1].sensors[0].pin"
    )
    assert format_loc(("sites", 2, "opening_hours", "mon", 1)) == "sites[2].opening_hours.mon[1]"
