"""`hubsense dashboards build|push`: regenerate the Grafana board JSON, upload it to a Grafana.

Parses options and calls hubsense.dashboards.build or .push; nothing else. The SDK and
grafana-client are imported inside the commands so `hubsense --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Grafana boards as code: regenerate the JSON (Facilities, Hub, Fleet), upload it.",
    no_args_is_help=True,
)


@app.command()
def build(
    out: Path | None = typer.Option(
        None, "--out", help="Directory for the JSON (default: dashboards/json/ of the source tree)."
    ),
) -> None:
    """Regenerate the board JSON from the Python builders and print the files written.

    Example: `hubsense dashboards build` (then commit dashboards/json/).
    """
    from hubsense.dashboards.build import JSON_DIR
    from hubsense.dashboards.build import build as build_boards

    for path in build_boards(out or JSON_DIR):
        typer.echo(str(path))


@app.command()
def push(
    url: str = typer.Option(..., "--url", help="Grafana base URL, e.g. http://localhost:3000."),
    token: str = typer.Option(
        ...,
        "--token",
        envvar="GRAFANA_TOKEN",
        help="Grafana service-account token (env GRAFANA_TOKEN).",
    ),
    json_dir: Path | None = typer.Option(
        None, "--dir", help="Directory of board JSON to upload (default: dashboards/json/)."
    ),
    timeout_s: float = typer.Option(10.0, "--timeout-s", help="HTTP timeout per request, seconds."),
) -> None:
    """Upload the boards to Grafana's folder "hubsense", replacing boards with the same uid.

    Example: `hubsense dashboards push --url http://localhost:3000 --token glsa_…`
    """
    from hubsense.dashboards.build import JSON_DIR
    from hubsense.dashboards.push import load_boards
    from hubsense.dashboards.push import push as push_boards

    for pushed in push_boards(url, token, load_boards(json_dir or JSON_DIR), timeout_s=timeout_s):
        typer.echo(f"{pushed.uid}\tversion {pushed.version}\t{pushed.url}")
