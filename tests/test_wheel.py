"""The built wheel, installed without the source tree, runs what a newcomer runs first.

Builds the wheel offline from a copy of the checkout, installs it with `--no-deps` into a
fresh virtualenv (the dependencies come from this venv through a `.pth`, so nothing is
downloaded), and from a folder outside the checkout runs `hubsense services up`, `db migrate`,
`inventory apply` of the shipped example, the API's hub page with its static files, and
`provision node`: the files these need (migrations, hub page, bundle templates, the edge's
systemd unit, the example inventory) must be in the wheel, and the build must not warn.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest
from hubsense.devstack.ports import free_port

pytestmark = [pytest.mark.service, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
_NOT_SHIPPED = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__", "tests", "bench"
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv holding only the wheel (deps via a .pth)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=_NOT_SHIPPED)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
         str(base / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    # setuptools prints its packaging warnings (absent packages, deprecated license table).
    assert "Warning" not in built.stdout + built.stderr, built.stdout + built.stderr
    (wheel,) = (base / "dist").glob("hubsense-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "_hubsense_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    return venv / "bin"


def _env(state: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSENSE_", "PYTHON"))}
    return env | ({"HUBSENSE_SERVICES__STATE_DIR": str(state)} if state else {})


def _run(bin_dir: Path, cwd: Path, *args: str, state: Path | None = None) -> str:
    done = subprocess.run(
        [str(bin_dir / "hubsense"), *args],
        cwd=cwd, env=_env(state), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, f"hubsense {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def test_the_wheel_is_what_runs(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "python"), "-c",
         "import hubsense.api, hubsense.firmware_config as f; print(hubsense.api.__file__);"
         "print(f.__path__[0])"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    venv = installed.parent
    assert all(Path(path).is_relative_to(venv) for path in where), where
    assert not any(Path(path).is_relative_to(ROOT) for path in where)


def test_services_migrate_hub_page_and_provision_from_the_wheel(
    installed: Path, service_tmp_path: Path, tmp_path: Path
) -> None:
    work = tmp_path / "elsewhere"  # no checkout here: nothing may be found by a source path
    work.mkdir()
    state = service_tmp_path / "state"
    example = subprocess.run(
        [str(installed / "python"), "-c",
         "from hubsense.devstack.demo import EXAMPLE_INVENTORY as e; print(e)"],
        cwd=work, env=_env(), capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(example).is_relative_to(installed.parent)
    up = json.loads(
        _run(installed, work, "services", "up", "--state-dir", str(state),
             "--inventory", example, "--json")
    )  # fmt: skip
    try:
        assert up["postgres"]["running"] and up["migrated"][0] == "0001_core.sql"
        assert _run(installed, work, "db", "migrate", state=state) == "up to date\n"
        _run(installed, work, "inventory", "apply", example, state=state)

        port = free_port()
        log = (tmp_path / "api.log").open("w")
        api = subprocess.Popen(
            [str(installed / "hubsense"), "api", "run", "--port", str(port), "--no-watcher"],
            cwd=work, env=_env(state), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    status, page = _get(f"{base}/hubs/hub-stugun")
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                pytest.fail(f"the API did not answer: {(tmp_path / 'api.log').read_text()}")
            assert status == 200 and "/hubs/static/hub.js" in page
            for name in ("hub.js", "hub.css"):
                status, text = _get(f"{base}/hubs/static/{name}")
                assert status == 200 and text == (ROOT / "api" / "static" / name).read_text()
        finally:
            api.terminate()
            api.wait(timeout=30)
            log.close()

        bundles = tmp_path / "bundles"
        made = _run(installed, work, "provision", "node", "pi-hq-2a", "--state-dir", str(state),
                    "--out", str(bundles))  # fmt: skip
        assert made.splitlines()[0] == "pi-hq-2a: provisioned, credentials generation 1"
        unit = (ROOT / "firmware-config" / "node" / "hubsense-edge.service").read_text()
        shipped = list(bundles.joinpath("pi-hq-2a").rglob("hubsense-edge.service"))
        assert shipped and shipped[0].read_text() == unit
        assert (bundles / "pi-hq-2a" / "INSTALL.md").exists()
    finally:
        _run(installed, work, "services", "down", "--state-dir", str(state))
