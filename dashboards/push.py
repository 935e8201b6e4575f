"""Upload the generated boards to a running Grafana through its HTTP API (grafana-client).

For Grafanas that are not provisioned from files (docker-compose mounts the files and
needs no push). Puts every board in one folder, overwriting the board with the same
uid. The only grafana-client user: its types and errors do not leave this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubsense.errors import InputError, ServiceError
from hubsense.logs import get_logger

log = get_logger(__name__)
FOLDER_UID = "hubsense"
FOLDER_TITLE = "hubsense"


@dataclass(frozen=True)
class Pushed:
    uid: str
    title: str
    url: str  # where Grafana says the board lives
    version: int


def load_boards(json_dir: Path) -> list[dict[str, Any]]:
    """The board JSON files of a directory, in name order."""
    paths = sorted(json_dir.glob("*.json"))
    if not paths:
        raise InputError(f"{json_dir}: no board JSON files (run `hubsense dashboards build`)")
    boards = []
    for path in paths:
        try:
            model = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: not a readable board: {error}") from error
        if not isinstance(model, dict) or not model.get("uid"):
            raise InputError(f"{path}: uid: a board needs a uid")
        boards.append(model)
    return boards


def push(
    url: str, token: str, boards: list[dict[str, Any]], timeout_s: float = 10.0
) -> list[Pushed]:
    """Create the folder when missing and upload every board into it, overwriting."""
    from grafana_client.api import GrafanaApi
    from grafana_client.client import GrafanaClientError, GrafanaException

    api = GrafanaApi.from_url(url=url, credential=token, timeout=timeout_s)
    try:
        _ensure_folder(api, GrafanaClientError)
        done = []
        for model in boards:
            body = {
                "dashboard": {**model, "id": None},
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "hubsense dashboards push",
            }
            answer = api.dashboard.update_dashboard(body)
            done.append(
                Pushed(
                    uid=str(answer.get("uid", model["uid"])),
                    title=str(model.get("title", "")),
                    url=str(answer.get("url", "")),
                    version=int(answer.get("version", 0)),
                )
            )
            log.info("dashboard_pushed", uid=model["uid"], version=done[-1].version)
    except GrafanaException as error:
        raise ServiceError(f"grafana at {_safe(url)}: {error}") from error
    except OSError as error:
        raise ServiceError(f"grafana at {_safe(url)}: cannot connect: {error}") from error
    return done


def _ensure_folder(api: Any, client_error: type[Exception]) -> None:
    try:
        api.folder.get_folder(FOLDER_UID)
    except client_error as error:
        if getattr(error, "status_code", None) != 404:
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        log.info("grafana_folder_created", uid=FOLDER_UID)


def _safe(url: str) -> str:
    """The URL without credentials, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
