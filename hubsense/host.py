"""Run server binaries as an unprivileged account when we are root.

PostgreSQL's `initdb` and `postgres` refuse to run as root, and Mosquitto drops
to user `mosquitto` by itself; so when the caller is root, the server's own
directory is handed to that account (chown) and its commands are prefixed with
`runuser -u ACCOUNT --`. As a normal user nothing changes hands: the servers run
as the caller. Must not touch anything outside the server's directory except
adding the traverse bit (`o+x`, not read) to ancestors we own, so the account
can reach its directory (pytest's `/tmp/pytest-of-root` is mode 0700).
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from hubsense.errors import ServiceError
from hubsense.logs import get_logger

log = get_logger(__name__)


def is_root() -> bool:
    return os.geteuid() == 0


def service_account(name: str) -> pwd.struct_passwd | None:
    """The account a server runs as: `name` when we are root, None (ourselves) otherwise."""
    if not is_root():
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError as error:
        raise ServiceError(
            f"user {name!r}: it does not exist; install the Debian package that creates it"
        ) from error


def command_as(account: pwd.struct_passwd | None, args: list[str]) -> list[str]:
    """Prefix `args` with `runuser` when they must run as `account`."""
    if account is None:
        return args
    return ["runuser", "-u", account.pw_name, "--", *args]


def hand_over(directory: Path, account: pwd.struct_passwd | None) -> None:
    """Give `directory` (recursively) to `account` and make sure it can reach it."""
    if account is None:
        return
    for root, dirs, files in os.walk(directory):
        os.chown(root, account.pw_uid, account.pw_gid)
        for name in dirs + files:
            os.chown(
                os.path.join(root, name), account.pw_uid, account.pw_gid, follow_symlinks=False
            )
    grant_traverse(directory.parent, account)


def _can_traverse(mode: os.stat_result, account: pwd.struct_passwd) -> bool:
    if mode.st_uid == account.pw_uid:
        return bool(mode.st_mode & stat.S_IXUSR)
    if mode.st_gid == account.pw_gid:
        return bool(mode.st_mode & stat.S_IXGRP)
    return bool(mode.st_mode & stat.S_IXOTH)


def grant_traverse(directory: Path, account: pwd.struct_passwd) -> None:
    """Add `o+x` to each ancestor of `directory` (ours) that `account` cannot pass through."""
    for ancestor in [directory.resolve(), *directory.resolve().parents]:
        info = ancestor.stat()
        if _can_traverse(info, account):
            continue
        if info.st_uid != os.geteuid():
            raise ServiceError(
                f"{ancestor}: user {account.pw_name!r} cannot enter it and it is not ours to "
                "change; choose a state directory it can reach"
            )
        ancestor.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
        log.info("dir_made_traversable", path=str(ancestor), account=account.pw_name)
