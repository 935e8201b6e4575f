"""PostgreSQL binary COPY <-> numpy columns, for fixed-width, non-null integer columns.

Each row of such a COPY stream has the same size, so a whole stream is one numpy
structured array: no Python object per row in either direction. Only int2, int4
and int8 (big-endian on the wire), arrays of them and fixed-length text are handled;
callers cast in SQL and use COALESCE so no value is NULL. Must not open connections;
pure bytes and arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags, header extension length
TRAILER = b"\xff\xff"
_WIRE = {np.dtype(np.int16): ">i2", np.dtype(np.int32): ">i4", np.dtype(np.int64): ">i8"}
_OID = {np.dtype(np.int16): 21, np.dtype(np.int32): 23, np.dtype(np.int64): 20}


def row_dtype(columns: Sequence[tuple[str, npt.DTypeLike]]) -> np.dtype[np.void]:
    """The wire layout of one row: field count, then (length, value) per column."""
    fields: list[tuple[str, str]] = [("_count", ">i2")]
    for name, dtype in columns:
        fields += [(f"_len_{name}", ">i4"), (name, _WIRE[np.dtype(dtype)])]
    return np.dtype(fields)


def decode(
    payload: bytes | bytearray | memoryview, columns: Sequence[tuple[str, npt.DTypeLike]]
) -> dict[str, np.ndarray]:
    """Columns of a complete binary COPY TO STDOUT stream (header, rows, trailer)."""
    data = memoryview(payload)
    if bytes(data[: len(SIGNATURE)]) != SIGNATURE:
        raise ValueError("not a PostgreSQL binary COPY stream")
    extension = int.from_bytes(data[15:19], "big")
    body = data[19 + extension : len(data) - len(TRAILER)]
    dtype = row_dtype(columns)
    if len(body) % dtype.itemsize:
        raise ValueError(
            "binary COPY rows are not of the expected fixed width (a NULL or another type?)"
        )
    rows = np.frombuffer(body, dtype=dtype)
    return {name: rows[name].astype(dtype_) for name, dtype_ in columns}


def _array_dtype(dtype: np.dtype[Any], n: int) -> np.dtype[np.void]:
    """One-dimensional array of n non-null elements: ndim, flags, element type, size, lower
    bound, then (length, value) per element."""
    wire = _WIRE[dtype]
    return np.dtype(
        [("ndim", ">i4"), ("flags", ">i4"), ("oid", ">u4"), ("size", ">i4"), ("lbound", ">i4")]
        + [field for i in range(n) for field in ((f"l{i}", ">i4"), (f"v{i}", wire))]
    )


def encode_rows(columns: dict[str, np.ndarray]) -> bytes:
    """The rows (no header or trailer) of equal-length integer columns; a 2-D column
    (rows x n) is a PostgreSQL array of n elements a row (int2[] / int4[] / int8[]), and a
    bytes column (numpy `S<n>`) is text of exactly n UTF-8 bytes a row. The wire forms of
    date (int4 days) and timestamptz (int8 microseconds, both since 2000-01-01) are
    integers too."""
    fields: list[tuple[str, Any]] = [("_count", ">i2")]
    for name, values in columns.items():
        if values.ndim == 2:
            fields += [(f"_len_{name}", ">i4"), (name, _array_dtype(values.dtype, values.shape[1]))]
        elif values.dtype.kind == "S":  # text of one byte length for every row
            fields += [(f"_len_{name}", ">i4"), (name, values.dtype)]
        else:
            fields += [(f"_len_{name}", ">i4"), (name, _WIRE[values.dtype])]
    n = len(next(iter(columns.values()))) if columns else 0
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["_count"] = len(columns)
    for name, values in columns.items():
        if values.ndim == 2:
            width = values.shape[1]
            field = rows[name]
            rows[f"_len_{name}"] = 20 + width * (4 + values.dtype.itemsize)
            field["ndim"], field["flags"], field["oid"] = 1, 0, _OID[values.dtype]
            field["size"], field["lbound"] = width, 1
            for i in range(width):
                field[f"l{i}"] = values.dtype.itemsize
                field[f"v{i}"] = values[:, i]
        else:  # integers, and text whose UTF-8 bytes fill the field exactly
            rows[f"_len_{name}"] = values.dtype.itemsize
            rows[name] = values
    return rows.tobytes()


def encode(columns: dict[str, np.ndarray]) -> bytes:
    """A complete binary COPY FROM STDIN stream of the given equal-length integer columns."""
    return HEADER + encode_rows(columns) + TRAILER
