"""Read an inventory YAML file into an `Inventory`, with errors that name file, line and field.

The YAML is read with ruamel's round-trip loader, which keeps the line of every
key and list item; the tree is then copied into plain Python values (so a
YAML boolean can never pass as an int) together with a map from each path to
its line. Every pydantic error is reported at the line of its field (a missing
field: the line of its parent mapping), all of them at once, as
`FILE:LINE: sites[0].nodes[1].sensors[0].pin: pin 31 is out of range 0..27`.
Must not validate anything itself: the rules live in `hubsense.inventory.model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from hubsense.errors import ConfigError
from hubsense.inventory.model import SENSOR_TYPES, Inventory
from hubsense.inventory.rules import Loc, format_loc
from hubsense.wire import ID_PATTERN

Lines = dict[Loc, int]

# pydantic's wording for the common cases, in the voice of the other messages.
_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
    "union_tag_not_found": f"required field is missing (one of {', '.join(SENSOR_TYPES)})",
}


@dataclass(frozen=True, slots=True)
class FileIssue:
    """One error of an inventory file, at a line."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        # line 0: the file as a whole (missing, unreadable).
        where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class InventoryError(ConfigError):
    """An inventory file is unreadable or invalid; the message has one line per error."""

    def __init__(self, issues: list[FileIssue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues


class _Constructor(RoundTripConstructor):
    """Keeps timestamps as text, so a bad date is a field error instead of a crash."""


def _timestamp_as_text(constructor: RoundTripConstructor, node: Any) -> str:
    return str(constructor.construct_scalar(node))


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _plain(node: Any, loc: Loc, lines: Lines) -> Any:
    """Copy a ruamel tree into plain dict/list/str/int/float/bool, recording lines by path."""
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            line = node.lc.key(key)[0] + 1
            lines.setdefault((*loc, key), line)
            out[_scalar(key)] = _plain(value, (*loc, key), lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            lines.setdefault((*loc, index), node.lc.item(index)[0] + 1)
            items.append(_plain(value, (*loc, index), lines))
        return items
    return _scalar(node)


def _scalar(value: Any) -> Any:
    # ruamel wraps scalars (ScalarFloat, HexInt, ScalarString…) to keep formatting.
    for plain in (bool, int, float, str):
        if isinstance(value, plain):
            return plain(value)
    return value


def read_yaml(text: str, path: str) -> tuple[Any, Lines]:
    """Parse YAML text into plain values and a map path -> line; syntax errors name the line."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = error.problem or error.context or "invalid YAML"
        raise InventoryError([FileIssue(path, line, "", f"YAML syntax: {problem}")]) from None
    except YAMLError as error:
        raise InventoryError([FileIssue(path, 1, "", f"YAML syntax: {error}")]) from None
    lines: Lines = {(): 1}
    return _plain(tree, (), lines), lines


def _line_of(loc: Loc, lines: Lines) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def _field_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """The loc as a path through the file: drops pydantic's union tags and `[key]` markers."""
    out: list[Any] = []
    node = data
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(node, dict) and part not in node and node.get("type") == part:
            continue  # the tag pydantic adds inside a discriminated union
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _message(detail: Any) -> str:
    kind = detail["type"]
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "union_tag_invalid":
        tag = (detail.get("ctx") or {}).get("tag")
        return f"unknown sensor type {tag!r}; one of {', '.join(SENSOR_TYPES)}"
    if kind == "string_pattern_mismatch" and ID_PATTERN in str(detail["msg"]):
        return (
            f"{detail['input']!r} is not an id: use a-z, 0-9 and '-', "
            "start with a letter or digit, at most 63 characters"
        )
    msg = str(detail["msg"])
    return msg[:1].lower() + msg[1:] if msg[1:2].islower() else msg


def issues_of(error: ValidationError, data: Any, lines: Lines, path: str) -> list[FileIssue]:
    """Turn every pydantic error into a FileIssue at the line of its field, sorted by line."""
    issues = []
    for detail in error.errors():
        loc = _field_loc(detail["loc"], data)
        if detail["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "type")
        issues.append(FileIssue(path, _line_of(loc, lines), format_loc(loc), _message(detail)))
    return sorted(issues, key=lambda issue: issue.line)


def parse_inventory(text: str, path: str = "<inventory>") -> Inventory:
    """Validate inventory YAML text; InventoryError lists every error with its line."""
    data, lines = read_yaml(text, path)
    if not isinstance(data, dict):
        raise InventoryError(
            [FileIssue(path, 1, "", "the inventory must be a mapping with organisation and sites")]
        )
    try:
        return Inventory.model_validate(data)
    except ValidationError as error:
        raise InventoryError(issues_of(error, data, lines, path)) from None


def load_inventory(path: Path | str) -> Inventory:
    """Read and validate an inventory file; a missing or unreadable file is one error line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError([FileIssue(name, 0, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InventoryError([FileIssue(name, 0, "", f"cannot read: {reason}")]) from None
    return parse_inventory(text, name)
