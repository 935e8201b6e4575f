"""Turn the board builders into the committed Grafana JSON (`dashboards/json/*.json`).

The JSON is deterministic (sorted keys, panel ids in order) so a rebuild that changes
nothing changes no file, and the tests can compare a fresh build with what is committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from hubsense.dashboards import facilities, fleet, hub

JSON_DIR = Path(__file__).parent / "json"
BOARDS: dict[str, Callable[[], Any]] = {
    "facilities": facilities.board,
    "hub": hub.board,
    "fleet": fleet.board,
}


def board_json(name: str) -> dict[str, Any]:
    """One board as Grafana's dashboard JSON model."""
    model: dict[str, Any] = json.loads(json.dumps(BOARDS[name]().build(), cls=JSONEncoder))
    # Grafana links to panels by id; the SDK leaves ids to Grafana, which would renumber.
    for number, panel in enumerate(model.get("panels", []), start=1):
        panel["id"] = number
    return model


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build(out_dir: Path = JSON_DIR) -> list[Path]:
    """Write every board to `out_dir/<name>.json`; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in BOARDS:
        path = out_dir / f"{name}.json"
        text = render(board_json(name))
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written
