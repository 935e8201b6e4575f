"""Every inventory rule, read from YAML: the exact line and field path of each error."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubsense.errors import ConfigError
from hubsense.inventory.file import InventoryError, load_inventory, parse_inventory
from hubsense.inventory.hours import Weekday
from hubsense.inventory.model import BthomeSensor

# Line numbers below refer to this file; keep it stable.
BASE = """\
organisation: Test Region
sites:
  - id: hq
    name: HQ
    kind: office
    timezone: Europe/Stockholm
    opening_hours:
      mon: ["07:00-18:00"]
    closed_dates: [2026-12-24]
    desks:
      - {id: d1, zone: floor-1}
      - {id: d2}
    nodes:
      - id: n1
        sensors:
          - {type: gpio_pir, pin: 17, desk: d1}
          - {type: bthome, address: "A4:C1:38:00:00:01", desk: d2}
"""

# A second site, starting at line 18 when appended to BASE.
HUB = """\
  - id: hub
    name: Hub
    kind: hub
    timezone: Europe/Stockholm
    desks:
      - {id: h1}
    nodes:
      - id: n9
        sensors:
          - {type: gpio_pir, pin: 4, desk: h1}
"""


def errors(text: str) -> list[str]:
    """The error lines of an inventory text (empty when valid)."""
    try:
        parse_inventory(text, "inv.yaml")
    except InventoryError as error:
        return [str(issue) for issue in error.issues]
    return []


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_base_is_valid() -> None:
    inventory = parse_inventory(BASE + HUB, "inv.yaml")
    assert inventory.counts() == {"sites": 2, "desks": 3, "nodes": 2, "sensors": 3}
    assert inventory.node_of_desk == {"d1": "n1", "d2": "n1", "h1": "n9"}


def test_unknown_field() -> None:
    text = edit("    kind: office\n", "    kind: office\n    colour: red\n")
    assert errors(text) == ["inv.yaml:6: sites[0].colour: unknown field"]


def test_unknown_field_in_sensor() -> None:
    text = edit("pin: 17, desk: d1}", "pin: 17, desk: d1, colour: red}")
    assert errors(text) == ["inv.yaml:16: sites[0].nodes[0].sensors[0].colour: unknown field"]


def test_missing_field_is_reported_at_its_parent_mapping() -> None:
    text = edit("    name: HQ\n", "")
    assert errors(text) == ["inv.yaml:3: sites[0].name: required field is missing"]


def test_duplicate_site_id() -> None:
    text = BASE + edit("  - id: hub\n", "  - id: hq\n", HUB)
    assert errors(text) == [
        "inv.yaml:18: sites[1].id: duplicate site id 'hq' (first at sites[0]); "
        "site ids must be unique across the organisation"
    ]


def test_duplicate_desk_id_across_sites() -> None:
    text = BASE + edit("      - {id: h1}\n", "      - {id: h1}\n      - {id: d2}\n", HUB)
    assert errors(text) == [
        "inv.yaml:24: sites[1].desks[1].id: duplicate desk id 'd2' (first at sites[0].desks[1]); "
        "desk ids must be unique across the organisation"
    ]


def test_duplicate_node_id_across_sites() -> None:
    text = BASE + edit("      - id: n9\n", "      - id: n1\n", HUB)
    assert errors(text) == [
        "inv.yaml:25: sites[1].nodes[0].id: duplicate node id 'n1' (first at sites[0].nodes[0]); "
        "node ids must be unique across the organisation"
    ]


def test_sensor_names_a_missing_desk() -> None:
    text = edit("desk: d2}", "desk: d9}")
    assert errors(text) == [
        "inv.yaml:17: sites[0].nodes[0].sensors[1].desk: desk 'd9' is not a desk of site 'hq'"
    ]


def test_sensor_names_a_desk_of_another_site() -> None:
    text = BASE + edit("desk: h1}", "desk: d1}", HUB)
    assert errors(text) == [
        "inv.yaml:27: sites[1].nodes[0].sensors[0].desk: desk 'd1' is not a desk of site 'hub'; "
        "it is a desk of site 'hq'"
    ]


def test_desk_named_by_sensors_of_two_nodes() -> None:
    second_node = (
        "      - id: n2\n        sensors:\n          - {type: gpio_pir, pin: 5, desk: d1}\n"
    )
    assert errors(BASE + second_node) == [
        "inv.yaml:20: sites[0].nodes[1].sensors[0].desk: desk 'd1' is already observed by "
        "node 'n1' (sites[0].nodes[0]); a desk is observed through one node"
    ]


def test_two_sensors_of_one_node_may_name_one_desk() -> None:
    # PIR and BLE on the same desk: the edge fuses them (SPEC §4 source "fused").
    text = BASE + '          - {type: bthome, address: "A4:C1:38:00:00:02", desk: d1}\n'
    assert errors(text) == []


def test_gpio_pin_used_twice_on_a_node() -> None:
    text = BASE + "          - {type: gpio_pir, pin: 17, desk: d2}\n"
    assert errors(text) == [
        "inv.yaml:18: sites[0].nodes[0].sensors[2].pin: pin 17 is already used by "
        "sites[0].nodes[0].sensors[0] of node 'n1'"
    ]


def test_same_pin_on_two_nodes_is_fine() -> None:
    assert errors(BASE + edit("pin: 4,", "pin: 17,", HUB)) == []


@pytest.mark.parametrize("pin", [28, 31, -1])
def test_gpio_pin_out_of_range(pin: int) -> None:
    text = edit("pin: 17,", f"pin: {pin},")
    assert errors(text) == [
        f"inv.yaml:16: sites[0].nodes[0].sensors[0].pin: pin {pin} is out of range 0..27"
    ]


def test_gpio_pin_must_be_an_integer_not_a_boolean() -> None:
    text = edit("pin: 17,", "pin: true,")
    assert errors(text) == [
        "inv.yaml:16: sites[0].nodes[0].sensors[0].pin: input should be a valid integer"
    ]


def test_bad_timezone() -> None:
    text = edit("Europe/Stockholm\n    opening", "Europe/Stokholm\n    opening")
    assert errors(text) == [
        "inv.yaml:6: sites[0].timezone: 'Europe/Stokholm' is not an IANA time zone "
        "(e.g. Europe/Stockholm)"
    ]


def test_opening_hours_reversed() -> None:
    text = edit('mon: ["07:00-18:00"]', 'mon: ["18:00-07:00"]')
    assert errors(text) == [
        "inv.yaml:8: sites[0].opening_hours.mon[0]: span '18:00-07:00' ends before it starts "
        "(no overnight spans)"
    ]


def test_opening_hours_empty_span() -> None:
    text = edit('mon: ["07:00-18:00"]', 'mon: ["07:00-07:00"]')
    assert errors(text) == [
        "inv.yaml:8: sites[0].opening_hours.mon[0]: span '07:00-07:00' ends before it starts "
        "(no overnight spans)"
    ]


def test_opening_hours_overlap_within_a_day() -> None:
    text = edit(
        'mon: ["07:00-18:00"]\n',
        'mon: ["07:00-18:00"]\n      tue:\n        - "07:00-12:00"\n        - "11:30-18:00"\n',
    )
    assert errors(text) == [
        "inv.yaml:9: sites[0].opening_hours.tue: spans 07:00-12:00 and 11:30-18:00 overlap"
    ]


def test_opening_hours_touching_spans_are_fine() -> None:
    text = edit('mon: ["07:00-18:00"]', 'mon: ["13:00-24:00", "07:00-13:00"]')
    site = parse_inventory(text).sites[0]
    # Sorted by start; 24:00 is the next midnight (1440 minutes).
    assert [(s.start_min, s.end_min) for s in site.opening_hours[Weekday.MON]] == [
        (420, 780),
        (780, 1440),
    ]


def test_opening_hours_unknown_weekday() -> None:
    text = edit('mon: ["07:00-18:00"]', 'monday: ["07:00-18:00"]')
    assert errors(text) == [
        "inv.yaml:8: sites[0].opening_hours.monday: unknown weekday 'monday'; "
        "use mon, tue, wed, thu, fri, sat or sun"
    ]


@pytest.mark.parametrize(
    ("span", "message"),
    [
        ("7:00-18:00", "'7:00-18:00' is not a span of the form HH:MM-HH:MM"),
        ("07:00 to 18:00", "'07:00 to 18:00' is not a span of the form HH:MM-HH:MM"),
        ("24:00-24:00", "'24:00-24:00': start must be 00:00..23:59"),
        ("07:60-18:00", "'07:60-18:00': start must be 00:00..23:59"),
        ("07:00-24:30", "'07:00-24:30': end must be 00:01..24:00"),
        ("07:00-25:00", "'07:00-25:00': end must be 00:01..24:00"),
    ],
)
def test_opening_hours_malformed_span(span: str, message: str) -> None:
    text = edit('mon: ["07:00-18:00"]', f'mon: ["07:00-08:00", "{span}"]')
    assert errors(text) == [f"inv.yaml:8: sites[0].opening_hours.mon[1]: {message}"]


def test_bad_closed_date() -> None:
    text = edit("closed_dates: [2026-12-24]", "closed_dates: [2026-12-24, 2026-02-30]")
    assert errors(text) == [
        "inv.yaml:9: sites[0].closed_dates[1]: '2026-02-30' is not a date: "
        "day is out of range for month"
    ]


@pytest.mark.parametrize("value", ["2026-12-24T10:00:00", "20261224", "2026-1-5", "'24.12.2026'"])
def test_closed_date_must_be_a_plain_date(value: str) -> None:
    text = edit("closed_dates: [2026-12-24]", f"closed_dates: [{value}]")
    shown = value.strip("'")
    expected = repr(int(shown)) if shown.isdigit() else repr(shown)
    assert errors(text) == [
        f"inv.yaml:9: sites[0].closed_dates[0]: {expected} is not a date (YYYY-MM-DD)"
    ]


def test_empty_names_are_rejected() -> None:
    text = edit("organisation: Test Region", 'organisation: ""')
    text = edit("name: HQ", 'name: ""', text)
    assert errors(text) == [
        "inv.yaml:1: organisation: string should have at least 1 character",
        "inv.yaml:4: sites[0].name: string should have at least 1 character",
    ]


def test_closed_dates_block_list_points_at_the_item() -> None:
    text = edit(
        "closed_dates: [2026-12-24]", "closed_dates:\n      - 2026-12-24\n      - 2026-13-01"
    )
    assert len(errors(text)) == 1
    assert errors(text)[0].startswith("inv.yaml:11: sites[0].closed_dates[1]: ")


@pytest.mark.parametrize("address", ["A4:C1:38:00:00", "A4-C1-38-00-00-01", "G4:C1:38:00:00:01"])
def test_bad_ble_address(address: str) -> None:
    text = edit('address: "A4:C1:38:00:00:01"', f'address: "{address}"')
    assert errors(text) == [
        f"inv.yaml:17: sites[0].nodes[0].sensors[1].address: {address!r} is not a BLE address "
        "(6 hex octets with colons, e.g. A4:C1:38:00:00:01)"
    ]


def test_bindkey_must_be_32_hex_digits() -> None:
    text = edit("desk: d2}", 'desk: d2, bindkey: "0123456789abcdef0123456789abcdeZ"}')
    assert errors(text) == [
        "inv.yaml:17: sites[0].nodes[0].sensors[1].bindkey: bindkey must be 32 hex digits "
        "(got 32 characters)"
    ]
    good = edit("desk: d2}", 'desk: d2, bindkey: "0123456789abcdef0123456789ABCDEF"}')
    sensor = parse_inventory(good).sites[0].nodes[0].sensors[1]
    assert sensor.bindkey == "0123456789abcdef0123456789ABCDEF"


def test_unknown_sensor_type() -> None:
    text = edit("{type: gpio_pir, pin: 17", "{type: laser, pin: 17")
    assert errors(text) == [
        "inv.yaml:16: sites[0].nodes[0].sensors[0].type: unknown sensor type 'laser'; "
        "one of gpio_pir, bthome"
    ]


def test_missing_sensor_type() -> None:
    text = edit("{type: gpio_pir, pin: 17", "{pin: 17")
    assert errors(text) == [
        "inv.yaml:16: sites[0].nodes[0].sensors[0].type: required field is missing "
        "(one of gpio_pir, bthome)"
    ]


@pytest.mark.parametrize("value", [0, -60])
def test_non_positive_heartbeat(value: int) -> None:
    text = edit("      - id: n1\n", f"      - id: n1\n        heartbeat_s: {value}\n")
    assert errors(text) == [
        "inv.yaml:15: sites[0].nodes[0].heartbeat_s: input should be greater than 0"
    ]


def test_non_positive_hold() -> None:
    text = edit("desk: d1}", "desk: d1, hold_s: 0}")
    assert errors(text) == [
        "inv.yaml:16: sites[0].nodes[0].sensors[0].hold_s: input should be greater than 0"
    ]


@pytest.mark.parametrize("site_id", ["HQ", "hq_1", "-hq", "hq/1", "hq+"])
def test_site_id_outside_the_allowed_characters(site_id: str) -> None:
    text = edit("  - id: hq\n", f'  - id: "{site_id}"\n')
    assert errors(text) == [
        f"inv.yaml:3: sites[0].id: {site_id!r} is not an id: use a-z, 0-9 and '-', "
        "start with a letter or digit, at most 63 characters"
    ]


def test_all_errors_are_reported_at_once_sorted_by_line() -> None:
    text = edit("pin: 17,", "pin: 31,")
    text = edit("desk: d2}", "desk: d9}", text)
    text = edit("kind: office", "kind: pub", text)
    assert errors(text) == [
        "inv.yaml:5: sites[0].kind: input should be 'office', 'hub' or 'coworking'",
        "inv.yaml:16: sites[0].nodes[0].sensors[0].pin: pin 31 is out of range 0..27",
        "inv.yaml:17: sites[0].nodes[0].sensors[1].desk: desk 'd9' is not a desk of site 'hq'",
    ]


def test_yaml_syntax_error_names_the_line() -> None:
    text = edit("      - {id: d2}\n", "      - {id: d2\n")
    lines = errors(text)
    assert len(lines) == 1
    assert lines[0].startswith("inv.yaml:13: YAML syntax: ")


def test_duplicate_yaml_key_names_the_line() -> None:
    text = edit("    name: HQ\n", "    name: HQ\n    name: Head office\n")
    lines = errors(text)
    assert len(lines) == 1
    assert lines[0].startswith("inv.yaml:5: YAML syntax: ")


def test_top_level_must_be_a_mapping() -> None:
    assert errors("- a\n- b\n") == [
        "inv.yaml:1: the inventory must be a mapping with organisation and sites"
    ]


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InventoryError) as caught:
        load_inventory(missing)
    assert str(caught.value) == f"{missing}: no such file"
    assert isinstance(caught.value, ConfigError)
    assert caught.value.exit_code == 2


def test_load_from_file_uses_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(edit("pin: 17,", "pin: 99,"), encoding="utf-8")
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert str(caught.value) == (
        f"{path}:16: sites[0].nodes[0].sensors[0].pin: pin 99 is out of range 0..27"
    )


def test_ble_stale_s_defaults_to_three_adverts_and_at_least_ten_minutes() -> None:
    def stale_after(fields: str) -> int:
        text = edit("desk: d2}", f"desk: d2{fields}}}")
        sensor = parse_inventory(text, "inv.yaml").sites[0].nodes[0].sensors[1]
        assert isinstance(sensor, BthomeSensor)
        return sensor.stale_after_s

    assert stale_after("") == 600  # 3 x 60 s < 10 min
    assert stale_after(", advert_interval_s: 300") == 900
    assert stale_after(", stale_s: 120") == 120  # set explicitly, any length above an interval


def test_ble_stale_s_not_above_the_advert_interval_names_its_line() -> None:
    text = edit("desk: d2}", "desk: d2, advert_interval_s: 120, stale_s: 120}")
    assert errors(text) == [
        "inv.yaml:17: sites[0].nodes[0].sensors[1].stale_s: stale_s 120 must be longer than "
        "advert_interval_s 120 (else every pause between two adverts would make the desk unknown)"
    ]
