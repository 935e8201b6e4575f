"""Security headers on every response of the real API (uvicorn, real HTTP), and the hub path."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import HUB, ApiServer, Keys
from hubsense.api.security_headers import DOCS_CSP, STRICT_CSP

pytestmark = pytest.mark.service

EXPECTED = {
    "content-security-policy": STRICT_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.mark.parametrize(
    ("method", "path", "status", "media"),
    [
        ("GET", "/healthz", 200, "application/json"),
        ("GET", f"/hubs/{HUB}", 200, "text/html"),
        ("GET", "/hubs/static/hub.js", 200, "text/javascript"),
        ("GET", "/openapi.json", 200, "application/json"),
        ("GET", "/v1/sites", 401, "application/json"),  # no key: an error answer has them too
        ("GET", "/no-such-page", 404, "application/json"),
        ("POST", "/healthz", 405, "application/json"),
    ],
)
def test_every_response_carries_the_security_headers(
    api: ApiServer, method: str, path: str, status: int, media: str
) -> None:
    response = httpx.request(method, api.url + path, timeout=10)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(media)
    for name, value in EXPECTED.items():
        assert response.headers[name] == value, name
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]


def test_the_hub_page_has_no_inline_script(api: ApiServer) -> None:
    page = httpx.get(f"{api.url}/hubs/{HUB}", timeout=10).text
    assert "<script src=" in page
    assert "<script>" not in page and " on" + "load=" not in page


def test_the_docs_page_gets_the_policy_its_cdn_needs_and_nothing_else_does(
    api: ApiServer,
) -> None:
    response = httpx.get(f"{api.url}/docs", timeout=10)
    assert response.headers["content-security-policy"] == DOCS_CSP
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", [f"/hubs/{HUB}%0A", f"/hubs/{HUB}%0a", "/hubs/HUB-NORTH"])
def test_a_hub_path_must_match_the_id_pattern_whole(api: ApiServer, keys: Keys, path: str) -> None:
    response = httpx.get(api.url + path, timeout=10)
    assert response.status_code == 404
    assert response.headers["content-security-policy"] == STRICT_CSP
