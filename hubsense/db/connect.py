"""Connect to the database.

`connect` opens a psycopg connection and turns a failure into a one-line ServiceError with
the password redacted. Must not create schema or start servers. psycopg is imported inside
functions so `hubsense --help` stays fast.

Every hubsense process writes (ingest events, API bookings, analytics rollups, the release
watcher's marks), so a DSN naming several servers (a Patroni cluster: `host=a,b` or
`postgresql://a:5432,b:5432/db`) must land on the primary: `primary_dsn` adds
`target_session_attrs=read-write` when it is missing and refuses an attribute that could
pick a read-only server. libpq then tries the hosts in order and skips standbys, so after
a failover a reconnect finds the new primary (see docs/operations.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from hubsense.errors import ConfigError, ServiceError

if TYPE_CHECKING:
    import psycopg


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced by `***` (URL or key=value form)."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        if parts.password is None:
            return dsn
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    words = [
        "password=***" if word.lower().startswith("password=") else word for word in dsn.split()
    ]
    return " ".join(words)


SESSION_ATTRS = "target_session_attrs"
# What a writer may ask libpq for: both skip a standby (`primary` also skips a server in
# default_transaction_read_only; read-write checks transaction_read_only).
WRITABLE_ATTRS = ("read-write", "primary")


def primary_dsn(dsn: str) -> str:
    """The DSN with `target_session_attrs=read-write` when it names several servers.

    A single-server DSN comes back unchanged. Raises ConfigError for a multi-host DSN whose
    target_session_attrs could connect to a standby (any, read-only, standby, prefer-standby).
    """
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except Exception as error:  # psycopg.ProgrammingError: unparseable
        raise ConfigError(f"database {redact_dsn(dsn)}: invalid DSN: {error}") from error
    hosts = str(params.get("host") or params.get("hostaddr") or "").split(",")
    if len(hosts) < 2:
        return dsn
    attrs = params.get(SESSION_ATTRS)
    if attrs is not None:
        if str(attrs) not in WRITABLE_ATTRS:
            raise ConfigError(
                f"database {redact_dsn(dsn)}: {SESSION_ATTRS}={attrs} may connect to a standby "
                f"that cannot write; use {SESSION_ATTRS}=read-write with several hosts"
            )
        return dsn
    if "://" in dsn:
        parts = urlsplit(dsn)
        query = urlencode([*parse_qsl(parts.query), (SESSION_ATTRS, "read-write")])
        return urlunsplit(parts._replace(query=query))
    return f"{dsn} {SESSION_ATTRS}=read-write"


def connect(dsn: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """Open a psycopg connection to the primary (`primary_dsn`); kwargs go to `psycopg.connect`
    (autocommit, prepare_threshold). connect_timeout (10 s) applies to each host in turn."""
    import psycopg

    kwargs.setdefault("connect_timeout", 10)
    dsn = primary_dsn(dsn)
    try:
        return psycopg.connect(dsn, **kwargs)
    except psycopg.OperationalError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = " ".join(lines) or type(error).__name__
        raise ServiceError(f"database {redact_dsn(dsn)}: cannot connect: {detail}") from error
    except psycopg.ProgrammingError as error:
        raise ConfigError(f"database {redact_dsn(dsn)}: invalid DSN: {error}") from error
