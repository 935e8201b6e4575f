"""Pure: one checklist line, shared by `hubsense edge doctor` and `hubsense provision verify`.

Both commands answer "does this node work?" from two sides (the Pi, the installer's laptop); an
installer reads their output side by side, so a check looks the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"  # not run because an earlier check it depends on failed


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""  # what to do about it; shown unless the check passed

    def line(self) -> str:
        fix = f"\n       fix: {self.fix}" if self.fix and self.status is not Status.PASS else ""
        return f"[{self.status.value}] {self.name}: {self.detail}{fix}"

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
        }


def any_failed(checks: list[Check]) -> bool:
    return any(check.status is Status.FAIL for check in checks)


def skipped(names: tuple[str, ...], why: str) -> list[Check]:
    """Checks that were not run, listed so the reader sees the checklist is not complete."""
    return [Check(name, Status.SKIP, why) for name in names]
