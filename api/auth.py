"""Who may call what: API key dependencies for the routers.

No key → 401 (with `WWW-Authenticate: Bearer`); a key whose role may not use the
route, or a hub manager asking about another site → 403. Keys arrive as
`Authorization: Bearer <key>` or `X-API-Key: <key>`, never in the URL (a `?key=` grants
nothing: URLs end up in browser history and proxy logs; the hub page signs in to a
session cookie instead, `hubsense.api.session`). Must not query anything but `api_keys`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from hubsense.api.keys import Principal, Role, lookup

bearer = HTTPBearer(auto_error=False, description="An API key from `hubsense api key create`.")
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The same API key, as a header."
)


def connection(request: Request) -> Iterator[Any]:
    """A pooled autocommit connection for one request."""
    with request.app.state.pool.connection() as conn:
        yield conn


Conn = Annotated[Any, Depends(connection)]


def presented_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    header: Annotated[str | None, Security(api_key_header)],
) -> str | None:
    if credentials is not None:
        return credentials.credentials
    return header or None


def optional_principal(
    conn: Conn, key: Annotated[str | None, Depends(presented_key)]
) -> Principal | None:
    """The caller when a valid key came; None without a key; 401 for a wrong key."""
    if key is None:
        return None
    principal = lookup(conn, key)
    if principal is None:
        raise HTTPException(401, "invalid or revoked API key", {"WWW-Authenticate": "Bearer"})
    return principal


def principal(found: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if found is None:
        raise HTTPException(401, "missing API key", {"WWW-Authenticate": "Bearer"})
    return found


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only the given roles (403 for the others)."""

    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in roles:
            raise HTTPException(403, f"the {who.role.value} role may not use this endpoint")
        return who

    return check


Reader = Annotated[Principal, Depends(require(Role.FACILITIES, Role.HUB_MANAGER))]
Facilities = Annotated[Principal, Depends(require(Role.FACILITIES))]
BookingWriter = Annotated[
    Principal, Depends(require(Role.FACILITIES, Role.HUB_MANAGER, Role.BOOKING_TOOL))
]


def check_site(who: Principal, site: str) -> None:
    """403 unless the caller may see the site (booking tools may see every site's bookings)."""
    if who.role is Role.BOOKING_TOOL:
        return
    if not who.may_see(site):
        raise HTTPException(403, f"this key may not see site {site}")


def visible_sites(who: Principal) -> list[str] | None:
    """The sites a caller is limited to; None means all."""
    return sorted(who.sites) if who.role is Role.HUB_MANAGER else None
