"""The `hubsense` root: version, help that names every component, one-line errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from hubsense import __version__

HUBSENSE = str(Path(sys.executable).parent / "hubsense")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUBSENSE, *args], capture_output=True, text=True, timeout=60)


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"hubsense {__version__}"


def test_help_names_every_component() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in (
        "demo",
        "services",
        "db",
        "inventory",
        "ingest",
        "simulate",
        "edge",
        "analytics",
        "api",
        "bookings",
        "dashboards",
        "report",
        "provision",
        "schema",
    ):
        assert f" {command} " in result.stdout, command


def test_a_user_error_is_one_line_with_exit_2() -> None:
    result = run("inventory", "check", "/no/such/inventory.yaml")
    assert result.returncode == 2
    assert result.stderr == "hubsense: error: /no/such/inventory.yaml: no such file\n"


def _crash(*flags: str) -> subprocess.CompletedProcess[str]:
    """A command that fails with an unexpected exception (a bug, not the user's fault)."""
    code = textwrap.dedent(
        f"""
        import sys
        from hubsense import cli

        @cli.app.command("boom")
        def boom() -> None:
            raise RuntimeError("kaput")

        sys.argv = ["hubsense", *{list(flags)!r}, "boom"]
        cli.main()
        """
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_an_internal_error_is_one_line_without_a_traceback() -> None:
    result = _crash()
    assert result.returncode == 1
    assert result.stderr == (
        "hubsense: error: internal: RuntimeError: kaput (run with --debug for the traceback)\n"
    )


def test_debug_shows_the_traceback() -> None:
    result = _crash("--debug")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: kaput" in result.stderr


def test_schema_prints_valid_json_schemas() -> None:
    import json

    result = run("schema", "events")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "EventsMessage"
    assert set(schema["properties"]) == {"node", "events"}
    bad = run("schema", "nonsense")
    assert bad.returncode == 2


def test_a_component_command_imports_only_that_component() -> None:
    code = textwrap.dedent(
        """
        import sys
        from hubsense import cli
        sys.argv = ["hubsense", "--log-format", "json", "edge", "--help"]
        try:
            cli.main()
        except SystemExit as done:
            assert done.code == 0, done.code
        loaded = sorted(m for m in sys.modules if m.startswith("hubsense."))
        print(" ".join(loaded))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split()[-1000:])
    assert "hubsense.edge.cli" in loaded
    for other in (
        "hubsense.api.cli",
        "hubsense.ingest.cli",
        "hubsense.analytics.cli",
        "hubsense.devstack.demo",
    ):
        assert other not in loaded, other


def test_invoked_command_skips_root_options() -> None:
    from hubsense.cli_registry import invoked_command

    assert invoked_command(["--debug", "--log-format", "json", "edge", "run"]) == "edge"
    assert invoked_command(["--log-format=json", "ingest"]) == "ingest"
    assert invoked_command(["--help"]) is None
    assert invoked_command([]) is None
