"""Binary COPY encoding against a real server: integer columns and fixed-width integer arrays."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from hubsense.analytics.io.pgcopy import HEADER, TRAILER, encode, encode_rows

pytestmark = pytest.mark.service


def test_integer_columns_and_arrays_of_two_widths_in_one_stream(db_dsn: str) -> None:
    rng = np.random.default_rng(7)
    blocks = []
    for width in (23, 25):  # the hours of DST days: one block of rows per array width
        n = 5
        blocks.append(
            {
                "k": rng.integers(-(2**31), 2**31 - 1, n).astype(np.int32),
                "big": rng.integers(-(2**62), 2**62, n).astype(np.int64),
                "small": rng.integers(-(2**15), 2**15 - 1, n).astype(np.int16),
                "h4": rng.integers(0, 3601, (n, width)).astype(np.int32),
                "h8": rng.integers(-(2**40), 2**40, (n, width)).astype(np.int64),
            }
        )
    with psycopg.connect(db_dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE t (k int4, big int8, small int2, h4 int4[], h8 int8[])")
        with cur.copy("COPY t (k, big, small, h4, h8) FROM STDIN (FORMAT binary)") as copy:
            copy.write(HEADER + b"".join(encode_rows(b) for b in blocks) + TRAILER)
        got = cur.execute("SELECT k, big, small, h4, h8 FROM t").fetchall()
        want = [
            (int(b["k"][i]), int(b["big"][i]), int(b["small"][i]), b["h4"][i].tolist(),
             b["h8"][i].tolist())
            for b in blocks
            for i in range(len(b["k"]))
        ]  # fmt: skip
        assert sorted(got) == sorted(want)
        assert cur.execute(
            "SELECT array_lower(h4, 1), array_ndims(h8) FROM t LIMIT 1"
        ).fetchone() == (1, 1)
        # encode() is the same rows with the header and trailer around them.
        cur.execute("TRUNCATE t")
        with cur.copy("COPY t (k, big, small, h4, h8) FROM STDIN (FORMAT binary)") as copy:
            copy.write(encode(blocks[0]))
        assert cur.execute("SELECT count(*), sum(k::int8) FROM t").fetchone() == (
            5, int(blocks[0]["k"].astype(np.int64).sum()),
        )  # fmt: skip


def test_text_of_one_byte_length_and_wire_dates_and_instants(db_dsn: str) -> None:
    """The desk-day writer's ids and dates: text of one UTF-8 length a block (ö is 2 bytes),
    date as int4 days and timestamptz as int8 microseconds since 2000-01-01."""
    import datetime as dt

    ids = {4: ["d-01", "d-02"], 6: ["hö-01", "d-0003"]}
    instant = dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)  # Stockholm's spring change
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    blocks = [
        {
            "id": np.asarray([i.encode() for i in names], dtype=f"S{n}"),
            "day": np.full(2, (dt.date(2026, 3, 29) - dt.date(2000, 1, 1)).days, np.int32),
            "at": np.full(2, (instant - epoch) // dt.timedelta(microseconds=1), np.int64),
        }
        for n, names in ids.items()
    ]
    with psycopg.connect(db_dsn) as conn, conn.cursor() as cur:
        cur.execute("SET timezone = 'UTC'")
        cur.execute("CREATE TEMP TABLE t (id text, day date, at timestamptz)")
        with cur.copy("COPY t (id, day, at) FROM STDIN (FORMAT binary)") as copy:
            copy.write(HEADER + b"".join(encode_rows(b) for b in blocks) + TRAILER)
        got = cur.execute("SELECT id, day, at FROM t ORDER BY id").fetchall()
    assert got == sorted(
        (name, dt.date(2026, 3, 29), instant) for names in ids.values() for name in names
    )
