"""Split a SQL script into statements, for migrations that must run outside a transaction.

Pure: no I/O. Knows just enough SQL lexing for migration files: single-quoted
strings (with '' escapes and E'' backslash escapes), double-quoted identifiers,
dollar-quoted bodies ($$ … $$, $tag$ … $tag$), `--` line comments and nested
`/* */` comments. Semicolons inside any of those do not split.
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def split_statements(script: str) -> list[str]:
    """The non-empty statements of `script`, each without its terminating semicolon."""
    statements: list[str] = []
    start = 0
    i = 0
    n = len(script)
    while i < n:
        char = script[i]
        if char == ";":
            statements.append(script[start:i])
            start = i + 1
            i += 1
        elif script.startswith("--", i):
            end = script.find("\n", i)
            i = n if end < 0 else end + 1
        elif script.startswith("/*", i):
            i = _skip_block_comment(script, i)
        elif char == "'":
            backslashes = i > 0 and script[i - 1] in "eE" and not _is_word_char(script, i - 2)
            i = _skip_quoted(script, i, "'", backslashes)
        elif char == '"':
            i = _skip_quoted(script, i, '"', False)
        elif char == "$" and not _is_word_char(script, i - 1):
            match = _DOLLAR_TAG.match(script, i)
            if match:
                end = script.find(match.group(0), match.end())
                i = n if end < 0 else end + len(match.group(0))
            else:
                i += 1
        else:
            i += 1
    statements.append(script[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _is_word_char(script: str, index: int) -> bool:
    return index >= 0 and (script[index].isalnum() or script[index] == "_")


def _skip_quoted(script: str, i: int, quote: str, backslashes: bool) -> int:
    i += 1
    while i < len(script):
        if backslashes and script[i] == "\\":
            i += 2
            continue
        if script[i] == quote:
            if script.startswith(quote * 2, i):
                i += 2
                continue
            return i + 1
        i += 1
    return i


def _skip_block_comment(script: str, i: int) -> int:
    depth = 0
    while i < len(script):
        if script.startswith("/*", i):
            depth += 1
            i += 2
        elif script.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return i


def _has_code(statement: str) -> bool:
    """False for pieces that are only whitespace and comments."""
    without_line_comments = re.sub(r"--[^\n]*", "", statement)
    without_comments = re.sub(r"/\*.*?\*/", "", without_line_comments, flags=re.S)
    return bool(without_comments.strip())
