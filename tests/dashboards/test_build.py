"""The committed board JSON is what the builders make, and its structure is what Grafana needs."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hubsense.dashboards.build import BOARDS, JSON_DIR, build
from hubsense.dashboards.macros import QueryContext, expand, interval_s
from ruamel.yaml import YAML

from hubsense.errors import InputError

PROVISIONING = Path(__file__).parents[2] / "dashboards" / "provisioning"
HUBSENSE = Path(sys.executable).parent / "hubsense"
T0 = dt.datetime(2026, 3, 1, 23, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 3, 3, 23, 30, 15, tzinfo=dt.UTC)


def test_committed_json_is_up_to_date(tmp_path: Path) -> None:
    written = build(tmp_path)
    assert sorted(p.name for p in written) == ["facilities.json", "fleet.json", "hub.json"]
    for path in written:
        committed = JSON_DIR / path.name
        assert committed.read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), (
            f"{committed} is stale: run `hubsense dashboards build` and commit it"
        )


def test_cli_build_writes_the_same_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(HUBSENSE), "dashboards", "build", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / f"{name}.json") for name in BOARDS]
    for name in BOARDS:
        assert (tmp_path / f"{name}.json").read_bytes() == (JSON_DIR / f"{name}.json").read_bytes()


def _datasource_uid() -> str:
    data = YAML(typ="safe").load((PROVISIONING / "datasources" / "hubsense.yaml").read_text())
    (source,) = data["datasources"]
    assert source["type"] == "grafana-postgresql-datasource"
    return str(source["uid"])


def test_structure(boards: dict[str, dict[str, Any]]) -> None:
    uid = _datasource_uid()
    assert {b["uid"] for b in boards.values()} == {
        "hubsense-facilities", "hubsense-hub", "hubsense-fleet",
    }  # fmt: skip
    for name, board in boards.items():
        assert board["title"].startswith("hubsense — ")
        panels = board["panels"]
        assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
        for panel in panels:
            assert panel["datasource"] == {"type": "grafana-postgresql-datasource", "uid": uid}
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, (name, panel["title"])
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid
                assert target["rawQuery"] is True and target["editorMode"] == "code"
                assert target["format"] in ("table", "time_series")
                if target["format"] == "time_series":
                    time_column = r'AS "time"|\$__timeGroupAlias\('
                    assert re.search(time_column, target["rawSql"]), panel["title"]
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                assert variable["datasource"]["uid"] == uid
                assert variable["refresh"] == 1  # on dashboard load
    names = {n: [v["name"] for v in b["templating"]["list"]] for n, b in boards.items()}
    assert names == {
        "facilities": ["site", "zone", "percentile"],
        "hub": ["hub", "low_use_pct"],
        "fleet": ["site"],
    }
    site = boards["facilities"]["templating"]["list"][0]
    assert (site["multi"], site["includeAll"]) == (True, True)
    assert boards["hub"]["templating"]["list"][0]["multi"] is False


def test_every_variable_used_is_defined(boards: dict[str, dict[str, Any]]) -> None:
    for board in boards.values():
        defined = {v["name"] for v in board["templating"]["list"]}
        for panel in board["panels"]:
            for target in panel["targets"]:
                used = set(re.findall(r"\$(?!__)(\w+)", target["rawSql"]))
                assert used <= defined, (panel["title"], used - defined)


def test_provider_points_where_compose_mounts_the_json() -> None:
    provider = YAML(typ="safe").load((PROVISIONING / "dashboards" / "hubsense.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/hubsense"
    compose = (Path(__file__).parents[2] / "docker-compose.yml").read_text()
    assert "./dashboards/json:/var/lib/grafana/dashboards/hubsense" in compose


# --- macro expansion, as Grafana's PostgreSQL datasource does it ---


def _ctx(**variables: list[str]) -> QueryContext:
    return QueryContext(T0, T1, interval="5m", variables=variables, multi=frozenset({"site"}))


def test_time_macros() -> None:
    assert expand("WHERE $__timeFilter(ts)", _ctx()) == (
        "WHERE ts BETWEEN '2026-03-01T23:00:00.000000Z' AND '2026-03-03T23:30:15.000000Z'"
    )
    assert expand("$__timeFrom() $__timeTo()", _ctx()) == (
        "'2026-03-01T23:00:00.000000Z' '2026-03-03T23:30:15.000000Z'"
    )
    assert expand("SELECT $__timeGroupAlias(ts, $__interval)", _ctx()) == (
        'SELECT floor(extract(epoch from ts)/300)*300 AS "time"'
    )
    assert expand("$__timeGroup(ts, '1h')", _ctx()) == "floor(extract(epoch from ts)/3600)*3600"
    assert expand("$__unixEpochFilter(t)", _ctx()) == "t >= 1772406000 AND t <= 1772580615"
    assert expand("$__interval_ms", _ctx()) == "300000"


def test_variables() -> None:
    ctx = _ctx(site=["a", "o'b"], hub=["hub-1"])
    assert expand("site IN ($site)", ctx) == "site IN ('a','o''b')"
    assert expand("'$hub' ${hub} [[hub]]", ctx) == "'hub-1' hub-1 hub-1"
    assert expand("${site:csv}|${hub:sqlstring}|${site:raw}", ctx) == "a,o'b|'hub-1'|a,o'b"
    with pytest.raises(InputError, match=r"variable \$zone: not defined"):
        expand("$zone", ctx)
    with pytest.raises(InputError, match=r"macro \$__nope: not a Grafana"):
        expand("$__nope(x)", ctx)


def test_interval_units() -> None:
    assert [interval_s(t) for t in ("100ms", "30s", "'5m'", "1h", "1d", "1w")] == [
        0.1, 30, 300, 3600, 86400, 604800,
    ]  # fmt: skip
    with pytest.raises(InputError):
        interval_s("5 minutes")
