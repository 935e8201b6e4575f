"""Errors that say whose fault they are.

Domain code raises a `HubsenseError` subclass; the CLI entry point prints
`hubsense: error: <what>: <why>` and exits with the error's `exit_code`
(1: an operation failed, 2: usage or configuration is wrong).
"""

from __future__ import annotations


class HubsenseError(Exception):
    """Base of every error hubsense reports to a user as one line."""

    exit_code = 1


class ConfigError(HubsenseError):
    """A configuration or inventory file, option or environment variable is wrong (user's fault)."""

    exit_code = 2


class InputError(HubsenseError):
    """An input file (CSV, YAML, iCalendar) is malformed (the file author's fault)."""

    exit_code = 2


class ServiceError(HubsenseError):
    """A server we need (PostgreSQL, Mosquitto) is missing, down or refused us."""


class MessageError(HubsenseError):
    """A message from the network is invalid (the sender's fault, never ours).

    `reason` is a short stable code stored in the dead-letter table; the
    message text says what exactly was wrong.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
