"""Read the offline analytics inputs of SPEC §10 (events.csv, bookings.csv) into arrays.

Every row is checked against the inventory; the first malformed row stops the read
with `FILE:LINE: field: message` (an `InputError`, exit 2) before anything is
computed or written. Must not compute metrics; the columns it returns are plain numpy.
"""

from __future__ import annotations

import csv
from array import array
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from hubsense.analytics.arrays import BookingArrays, EventArrays, Layout
from hubsense.analytics.kernels.intervals import STATE_OCCUPIED, STATE_VACANT
from hubsense.analytics.kernels.order import KIND_ALIVE, KIND_DESK, KIND_STOP

from hubsense.errors import InputError
from hubsense.site_time import parse_instant_ms

EVENT_COLUMNS = ("node", "seq", "ts", "type", "desk", "source", "state")
BOOKING_COLUMNS = ("booking_id", "site", "desk", "start", "end")
_KINDS = {"desk": KIND_DESK, "alive": KIND_ALIVE, "stop": KIND_STOP}
_STATES = {"occupied": STATE_OCCUPIED, "vacant": STATE_VACANT}
_SOURCES = frozenset({"pir", "ble", "fused"})
# The wire contract's bounds (hubsense.wire.Seq, TimestampMs).
MAX_SEQ = 2**62
MAX_TS_MS = 2**53


class RowError(Exception):
    """A field of the current row is wrong; the reader adds file and line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line, row by column name) after checking the header; errors name FILE:LINE."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from error
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError(
                    f"{path}:1: header: the file is empty (expected {','.join(columns)})"
                )
            names = [name.strip() for name in header]
            missing = [c for c in columns if c not in names]
            if missing:
                raise InputError(f"{path}:1: header: missing column(s) {', '.join(missing)}")
            where = [names.index(c) for c in columns]
            width = len(names)
            for row in reader:
                if not row:
                    continue  # a blank line, e.g. at the end of the file
                if len(row) != width:
                    raise InputError(
                        f"{path}:{reader.line_num}: row: "
                        f"has {len(row)} fields, the header has {width}"
                    )
                yield (
                    reader.line_num,
                    {c: row[i].strip() for c, i in zip(columns, where, strict=True)},
                )
        except csv.Error as error:
            raise InputError(f"{path}:{reader.line_num}: row: {error}") from error
        except UnicodeDecodeError as error:
            raise InputError(f"{path}:{reader.line_num + 1}: row: not UTF-8 text") from error


def _natural(row: dict[str, str], field: str, limit: int) -> int:
    text = row[field]
    if not text:
        raise RowError(field, "missing")
    if not (text.isascii() and text.isdigit()):
        raise RowError(field, f"{text!r} is not a non-negative integer")
    value = int(text)
    if value > limit:
        raise RowError(field, f"{text} is larger than {limit}")
    return value


def _known(row: dict[str, str], field: str, index: dict[str, int], what: str) -> int:
    text = row[field]
    if not text:
        raise RowError(field, "missing")
    if text not in index:
        raise RowError(field, f"unknown {what} {text!r} (not in the inventory)")
    return index[text]


def _event(row: dict[str, str], layout: Layout) -> tuple[int, int, int, int, int, int]:
    """(node, seq, ts, kind, desk, state) of one events.csv row."""
    node = _known(row, "node", layout.node_index, "node")
    seq = _natural(row, "seq", MAX_SEQ)
    ts = _natural(row, "ts", MAX_TS_MS)
    kind_text = row["type"]
    if kind_text not in _KINDS:
        raise RowError("type", f"unknown type {kind_text!r} (one of desk, alive, stop)")
    kind = _KINDS[kind_text]
    if kind != KIND_DESK:
        for field in ("desk", "source", "state"):
            if row[field]:
                raise RowError(field, f"must be empty for a {kind_text} event")
        return node, seq, ts, kind, -1, STATE_VACANT
    desk = _known(row, "desk", layout.desk_index, "desk")
    if row["source"] and row["source"] not in _SOURCES:
        raise RowError("source", f"unknown source {row['source']!r} (one of pir, ble, fused)")
    state_text = row["state"]
    if not state_text:
        raise RowError("state", "missing for a desk event")
    if state_text not in _STATES:
        raise RowError("state", f"unknown state {state_text!r} (one of occupied, vacant)")
    return node, seq, ts, kind, desk, _STATES[state_text]


def _same_width(path: Path) -> bool:
    """True when the file has no quotes and every non-blank line has the header's field count
    (pandas would pad a short row with empty fields instead of rejecting it)."""
    try:
        raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    except OSError:
        return False
    if (raw == ord('"')).any():
        return False
    line_ends = np.append(np.flatnonzero(raw == ord("\n")), raw.shape[0])
    commas = np.flatnonzero(raw == ord(","))
    per_line = np.diff(np.searchsorted(commas, line_ends), prepend=0)
    starts = np.concatenate([[0], line_ends[:-1] + 1])
    blank = (line_ends - starts) <= 1  # "" or a lone "\r"
    return bool((per_line[~blank] == per_line[0]).all())


def _fast_events(path: Path, layout: Layout) -> EventArrays | None:
    """The whole file checked column by column with pandas; None when pandas is missing or any
    row is not plainly valid (the row-by-row reader then finds and names the first error)."""
    try:
        import pandas as pd
    except ImportError:
        return None
    if not _same_width(path):
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    if any(c not in frame.columns for c in EVENT_COLUMNS) or frame.isna().to_numpy().any():
        return None
    node = frame["node"].map(layout.node_index)
    kind = frame["type"].map(_KINDS)
    if node.isna().any() or kind.isna().any():
        return None
    numbers = {}
    for column, limit in (("seq", MAX_SEQ), ("ts", MAX_TS_MS)):
        text = frame[column]
        if not (text.str.fullmatch(r"[0-9]{1,18}").all()):
            return None
        values = text.astype(np.int64).to_numpy()
        if (values > limit).any():
            return None
        numbers[column] = values
    is_desk = (kind == KIND_DESK).to_numpy()
    desk = frame["desk"].map(layout.desk_index)
    state = frame["state"].map(_STATES)
    source = frame["source"]
    desk_ok = desk.notna() & state.notna() & (source.eq("") | source.isin(_SOURCES))
    other_ok = frame["desk"].eq("") & frame["source"].eq("") & frame["state"].eq("")
    if not np.where(is_desk, desk_ok.to_numpy(), other_ok.to_numpy()).all():
        return None
    return EventArrays(
        node=node.to_numpy(dtype=np.int32),
        seq=numbers["seq"],
        ts=numbers["ts"],
        kind=kind.to_numpy(dtype=np.int8),
        desk=np.where(is_desk, desk.fillna(-1).to_numpy(), -1).astype(np.int32),
        state=np.where(is_desk, state.fillna(0).to_numpy(), STATE_VACANT).astype(np.int8),
    )


def read_events(path: Path, layout: Layout) -> EventArrays:
    """events.csv (`node,seq,ts,type,desk,source,state`) as columns, rows in file order.

    A valid file is read column-wise (pandas, when installed); otherwise, or when anything
    is wrong, row by row, which stops at the first bad row with FILE:LINE: field: message.
    """
    fast = _fast_events(path, layout)
    return fast if fast is not None else read_events_by_row(path, layout)


def read_events_by_row(path: Path, layout: Layout) -> EventArrays:
    """The row-by-row reader: every field checked, the first bad one named with its line."""
    node, seq, ts, kind, desk, state = (
        array("i"),
        array("q"),
        array("q"),
        array("b"),
        array("i"),
        array("b"),
    )
    for line, row in _rows(path, EVENT_COLUMNS):
        try:
            values = _event(row, layout)
        except RowError as error:
            raise InputError(f"{path}:{line}: {error.field}: {error.message}") from None
        for column, value in zip((node, seq, ts, kind, desk, state), values, strict=True):
            column.append(value)
    return EventArrays(
        node=np.frombuffer(node, dtype=np.int32).copy(),
        seq=np.frombuffer(seq, dtype=np.int64).copy(),
        ts=np.frombuffer(ts, dtype=np.int64).copy(),
        kind=np.frombuffer(kind, dtype=np.int8).copy(),
        desk=np.frombuffer(desk, dtype=np.int32).copy(),
        state=np.frombuffer(state, dtype=np.int8).copy(),
    )


def _instant(row: dict[str, str], field: str) -> int:
    text = row[field]
    if not text:
        raise RowError(field, "missing")
    try:
        return parse_instant_ms(text)
    except ValueError as error:
        message = str(error)
        if "instant" not in message:
            message = f"{text!r} is not an ISO-8601 instant"
        raise RowError(field, message) from None


def _booking(
    row: dict[str, str], layout: Layout, first_line: dict[str, int], line: int
) -> tuple[int, int, int]:
    """(desk, start_ms, end_ms) of one bookings.csv row."""
    booking_id = row["booking_id"]
    if not booking_id:
        raise RowError("booking_id", "missing")
    if booking_id in first_line:
        raise RowError(
            "booking_id", f"duplicate {booking_id!r} (first on line {first_line[booking_id]})"
        )
    site = _known(row, "site", layout.site_index, "site")
    desk = _known(row, "desk", layout.desk_index, "desk")
    desk_site = int(layout.desk_site[desk])
    if desk_site != site:
        raise RowError(
            "desk",
            f"desk {row['desk']!r} belongs to site {layout.sites[desk_site].id!r}, "
            f"not {row['site']!r}",
        )
    start = _instant(row, "start")
    end = _instant(row, "end")
    if end <= start:
        raise RowError("end", f"{row['end']} is at or before the start {row['start']}")
    first_line[booking_id] = line
    return desk, start, end


def read_bookings(path: Path, layout: Layout) -> BookingArrays:
    """bookings.csv (`booking_id,site,desk,start,end`) as columns, rows in file order."""
    ids: list[str] = []
    desk, start, end = array("i"), array("q"), array("q")
    first_line: dict[str, int] = {}
    for line, row in _rows(path, BOOKING_COLUMNS):
        try:
            values = _booking(row, layout, first_line, line)
        except RowError as error:
            raise InputError(f"{path}:{line}: {error.field}: {error.message}") from None
        ids.append(row["booking_id"])
        for column, value in zip((desk, start, end), values, strict=True):
            column.append(value)
    return BookingArrays(
        booking_id=ids,
        desk=np.frombuffer(desk, dtype=np.int32).copy(),
        start_ms=np.frombuffer(start, dtype=np.int64).copy(),
        end_ms=np.frombuffer(end, dtype=np.int64).copy(),
    )
