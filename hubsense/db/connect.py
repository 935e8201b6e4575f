"""Connect to the database.

`connect` opens a psycopg connection and turns a failure into a one-line ServiceError with
the password redacted. Must not create schema or start servers. psycopg is imported inside
functions so `hubsense --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

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
