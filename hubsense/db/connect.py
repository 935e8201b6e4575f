"""Find the database and connect to it.

`resolve_dsn` picks the DSN (settings, else the private server's
`services.json`); `connect` opens a psycopg connection and turns a failure into
a one-line ServiceError with the password redacted. Must not create schema or
start servers. psycopg is imported inside functions so `hubsense --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from hubsense.errors import ConfigError, ServiceError
from hubsense.services.state import read_state, state_path

if TYPE_CHECKING:
    import psycopg

    from hubsense.settings import Settings

NO_DATABASE = "no database: pass --dsn, set HUBSENSE_DB__DSN, or run `hubsense services up`"


def resolve_dsn(settings: Settings) -> str:
    """The DSN to use: settings.db.dsn, else the one `hubsense services up` saved."""
    if settings.db.dsn is not None:
        return settings.db.dsn.get_secret_value()
    state = read_state(settings.services.state_dir)
    if state and state.get("dsn"):
        return str(state["dsn"])
    where = state_path(settings.services.state_dir)
    raise ConfigError(f"{NO_DATABASE} (no DSN in {where})")


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


def connect(dsn: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """Open a psycopg connection; kwargs go to `psycopg.connect` (autocommit, prepare_threshold)."""
    import psycopg

    kwargs.setdefault("connect_timeout", 10)
    try:
        return psycopg.connect(dsn, **kwargs)
    except psycopg.OperationalError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = " ".join(lines) or type(error).__name__
        raise ServiceError(f"database {redact_dsn(dsn)}: cannot connect: {detail}") from error
    except psycopg.ProgrammingError as error:
        raise ConfigError(f"database {redact_dsn(dsn)}: invalid DSN: {error}") from error
