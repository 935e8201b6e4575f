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
