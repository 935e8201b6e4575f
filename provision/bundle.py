"""The installer's bundle for one node: node.yaml, CA, secret, systemd units, first-boot files.

Layout of `OUT/NODE_ID/` (copy it to the SD card's boot partition as `hubsense/`):
`node.yaml` (validated with the edge agent's own model), `ca.pem`,
`mqtt-password` (the secret, mode 0600; the only copy that exists),
`hubsense-edge.service` (from firmware-config/node), `hubsense-install.service`
and `hubsense-edge-after-install.conf` (install the agent once the network is
up), `firstrun.sh` (Raspberry Pi OS runs it once via cmdline.txt, as Raspberry
Pi Imager's own first-boot script does), `INSTALL.md` (one page) and
`manifest.json` (files and SHA-256 sums, the CA fingerprint; no secret).
Must not write the secret anywhere else, log it, or put it in node.yaml.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from hubsense.provision import pki
from hubsense.provision.broker import write_private

from hubsense import __version__
from hubsense.errors import ConfigError
from hubsense.inventory.model import Inventory, Node

# The edge's unit ships in the wheel with the other sample files (firmware-config/node).
UNIT_SOURCE = Path(str(files("hubsense.firmware_config") / "node" / "hubsense-edge.service"))
TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_ETC_DIR = Path("/etc/hubsense")
DEFAULT_NODE_STATE_DIR = Path("/var/lib/hubsense")
PASSWORD_FILE = "mqtt-password"


@dataclass(frozen=True, slots=True)
class BundleRequest:
    node_id: str
    broker_url: str
    secret: str
    generation: int
    ca_pem: bytes
    out_dir: Path
    etc_dir: Path = DEFAULT_ETC_DIR
    node_state_dir: Path = DEFAULT_NODE_STATE_DIR
    pip_spec: str = f"hubsense[edge]=={__version__}"


def node_yaml_data(inventory: Inventory, request: BundleRequest) -> dict[str, Any]:
    """The node.yaml content: identity, broker (secret by file, never inline), sensors."""
    node: Node = inventory.node_by_id[request.node_id]
    return {
        "node": node.id,
        "site": inventory.site_of_node[node.id],
        "broker": {
            "url": request.broker_url,
            "username": node.id,
            "password_file": str(request.etc_dir / PASSWORD_FILE),
            "ca_file": str(request.etc_dir / "ca.pem"),
            "keepalive_s": 30,
        },
        "heartbeat_s": node.heartbeat_s,
        "state_dir": str(request.node_state_dir),
        "live_file": "/run/hubsense/live.json",
        "sensors": [sensor.model_dump(mode="json") for sensor in node.sensors],
    }


def node_yaml_text(data: dict[str, Any], generation: int, now: dt.datetime) -> str:
    from ruamel.yaml import YAML

    from hubsense.node_config import NodeConfig

    try:
        NodeConfig.model_validate(data)
    except ValueError as error:
        raise ConfigError(
            f"node {data['node']}: its node.yaml would be invalid: {error}"
        ) from error
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 200
    out = io.StringIO()
    yaml.dump(data, out)
    target = Path(data["broker"]["ca_file"]).parent / "node.yaml"
    header = (
        f"# hubsense node {data['node']} (site {data['site']}), "
        f"credentials generation {generation},\n"
        f"# generated {now:%Y-%m-%d %H:%M}Z by `hubsense provision`. Install as {target};\n"
        f"# check it with `hubsense edge doctor --config {target}`.\n"
    )
    return header + out.getvalue()


def _render(name: str, values: dict[str, str]) -> str:
    text = (TEMPLATES / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _unit_text() -> str:
    try:
        return UNIT_SOURCE.read_text()
    except OSError as error:
        raise ConfigError(
            f"{UNIT_SOURCE}: {error.strerror}; the bundle needs the edge's systemd unit, "
            "installed with hubsense (reinstall the package)"
        ) from error


def write_bundle(inventory: Inventory, request: BundleRequest, now: dt.datetime) -> Path:
    """Write the bundle directory (mode 0700) and return it."""
    if request.node_id not in inventory.node_by_id:
        raise ConfigError(f"node {request.node_id}: not in the inventory")
    directory = request.out_dir / request.node_id
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    data = node_yaml_data(inventory, request)
    values = {
        "NODE": request.node_id,
        "SITE": data["site"],
        "ORGANISATION": inventory.organisation,
        "BROKER_URL": request.broker_url,
        "ETC_DIR": str(request.etc_dir),
        "STATE_DIR": str(request.node_state_dir),
        "PIP_SPEC": request.pip_spec,
        "GENERATION": str(request.generation),
        "CA_FINGERPRINT": pki.fingerprint(request.ca_pem),
        "DATE": f"{now:%Y-%m-%d %H:%M}Z",
    }
    files: dict[str, tuple[str | bytes, int]] = {
        "node.yaml": (node_yaml_text(data, request.generation, now), 0o644),
        "ca.pem": (request.ca_pem, 0o644),
        PASSWORD_FILE: (request.secret + "\n", 0o600),
        "hubsense-edge.service": (_unit_text(), 0o644),
        "hubsense-install.service": (_render("hubsense-install.service", values), 0o644),
        "hubsense-edge-after-install.conf": (
            _render("hubsense-edge-after-install.conf", values),
            0o644,
        ),
        "firstrun.sh": (_render("firstrun.sh", values), 0o755),
        "INSTALL.md": (_render("INSTALL.md", values), 0o644),
    }
    for name, (content, mode) in files.items():
        write_private(directory / name, content, mode)
    manifest = {
        "node": request.node_id,
        "site": data["site"],
        "generation": request.generation,
        "created_at": now.isoformat(),
        "broker_url": request.broker_url,
        "ca_fingerprint_sha256": values["CA_FINGERPRINT"],
        "files": {
            name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
            for name in sorted(files)
            if name != PASSWORD_FILE
        },
    }
    write_private(directory / "manifest.json", json.dumps(manifest, indent=2) + "\n", 0o644)
    return directory
