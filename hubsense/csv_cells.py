"""Cells of CSV files people open in spreadsheets, made inert (CSV/formula injection).

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (`=HYPERLINK(...)`, `@SUM(...)`, DDE), so a
booking id chosen by whoever writes the booking tool's export could run in the facilities
team's spreadsheet. Such text cells get a leading apostrophe, which spreadsheets show
as text and do not display (OWASP's advice). Numbers are left alone: -3 is a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(value: object) -> object:
    """The value, with an apostrophe in front when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def inert_rows(rows: Iterable[Iterable[object]]) -> Iterator[list[object]]:
    for row in rows:
        yield [inert_cell(value) for value in row]
