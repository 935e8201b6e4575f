"""A small organisation built in code: one office with a PIR node and a BLE node, one hub."""

from __future__ import annotations

import datetime as dt

from hubsense.inventory.model import Inventory


def _hours(*spans: str) -> list[dict[str, int]]:
    out = []
    for span in spans:
        start, end = span.split("-")
        out.append({"start_min": _minutes(start), "end_min": _minutes(end)})
    return out


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


CLOSED = dt.date(2026, 3, 4)  # a Wednesday the office is closed


def build_inventory(heartbeat_s: int = 60) -> Inventory:
    office_days = {day: _hours("07:00-18:00") for day in ("mon", "wed", "thu", "fri")}
    office_days["tue"] = _hours("07:00-12:00", "13:00-18:00")
    pir = [
        {"type": "gpio_pir", "pin": 17 + i, "desk": f"hq-1-{i:02d}", "hold_s": 600}
        for i in range(6)
    ]
    ble = [
        {"type": "bthome", "address": f"A4:C1:38:00:00:{i:02X}", "desk": f"hq-2-{i:02d}"}
        for i in range(6)
    ]
    hub_sensors = [
        {"type": "gpio_pir", "pin": 5, "desk": "hub-01", "hold_s": 300},
        {"type": "bthome", "address": "A4:C1:38:00:01:01", "desk": "hub-02"},
        {"type": "gpio_pir", "pin": 6, "desk": "hub-03", "hold_s": 300},
    ]
    return Inventory.model_validate(
        {
            "organisation": "Test Region",
            "sites": [
                {
                    "id": "hq",
                    "name": "Main office",
                    "kind": "office",
                    "timezone": "Europe/Stockholm",
                    "opening_hours": office_days,
                    "closed_dates": [CLOSED],
                    "desks": [{"id": s["desk"]} for s in pir + ble],
                    "nodes": [
                        {"id": "pi-hq-1", "heartbeat_s": heartbeat_s, "sensors": pir},
                        {"id": "pi-hq-2", "heartbeat_s": heartbeat_s, "sensors": ble},
                    ],
                },
                {
                    "id": "hub-a",
                    "name": "Hub A",
                    "kind": "hub",
                    "timezone": "Europe/Stockholm",
                    "opening_hours": {
                        d: _hours("08:00-17:00") for d in ("mon", "tue", "wed", "thu", "fri")
                    },
                    "desks": [{"id": s["desk"]} for s in hub_sensors],
                    "nodes": [
                        {"id": "pi-hub-a", "heartbeat_s": heartbeat_s, "sensors": hub_sensors}
                    ],
                },
            ],
        }
    )
